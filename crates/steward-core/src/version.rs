//! Release versions: the string that names a build of the operated system.

use crate::{Error, Result, name::validated_string};

validated_string! {
    /// A release version such as `1.4.2`, `2024.06.1-rc1` or a git SHA.
    /// It is substituted into argv vectors and image references, so it is
    /// restricted to `A-Z a-z 0-9 . _ + -`, starts with a letter or digit and
    /// is at most 128 characters.
    Version, validate = validate_version, schema = "Version", pattern = "^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$",
    description = "A release version: letters, digits, `.`, `_`, `+` and `-`, starting with a letter or digit"
}

fn validate_version(value: &str) -> Result<()> {
    let err = |reason| {
        Err(Error::InvalidVersion {
            value: value.to_owned(),
            reason,
        })
    };
    if value.is_empty() {
        return err("must not be empty");
    }
    if value.len() > 128 {
        return err("must be at most 128 characters");
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return err("must start with a letter or digit");
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    {
        return err("may only contain letters, digits, `.`, `_`, `+` and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
