//! Validated string newtypes: names of services, databases and tokens.

use crate::{Error, Result};

/// Declares a string newtype whose constructor runs a validation function,
/// with the conversions, serde, schemars and utoipa impls every such type
/// needs; one definition so all validated strings behave the same.
macro_rules! validated_string {
    (
        $(#[$meta:meta])*
        $name:ident, validate = $validate:path, schema = $schema_name:literal, pattern = $pattern:literal, description = $description:literal
        $(, max_length = $max_length:literal)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        // By hand: utoipa's derive takes no maximum length for a newtype.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                #[allow(unused_mut, reason = "only types with a maximum length change it")]
                let mut schema = utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description));
                $(schema = schema.max_length(Some($max_length));)?
                schema.build().into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                $schema_name.into()
            }
        }

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> $crate::Result<Self> {
                let value = value.into();
                $validate(&value)?;
                Ok(Self(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the inner string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(s: &str) -> $crate::Result<Self> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::Error;

            fn try_from(value: String) -> $crate::Result<Self> {
                Self::new(value)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $schema_name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                #[allow(unused_mut, reason = "only types with a maximum length change it")]
                let mut schema = schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                });
                $(schema.insert("maxLength".to_owned(), $max_length.into());)?
                schema
            }
        }
    };
}

pub(crate) use validated_string;

validated_string! {
    /// A name of a service, database or token: a lowercase DNS label
    /// (`a-z`, `0-9` and `-`, starting with a letter, at most 63 characters),
    /// so that it can name a process, a container and a Kubernetes object.
    Name, validate = validate_name, schema = "Name", pattern = "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
    description = "A lowercase DNS label: letters, digits and `-`, starting with a letter, at most 63 characters"
}

fn validate_name(value: &str) -> Result<()> {
    let err = |reason| {
        Err(Error::InvalidName {
            value: value.to_owned(),
            reason,
        })
    };
    if value.is_empty() {
        return err("must not be empty");
    }
    if value.len() > 63 {
        return err("must be at most 63 characters");
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return err("must start with a lowercase letter");
    }
    if value.ends_with('-') {
        return err("must not end with `-`");
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return err("may only contain lowercase letters, digits and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
