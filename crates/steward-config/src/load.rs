//! The loading pipeline: read, parse, override, interpolate, check against
//! the schema, deserialize, validate, and resolve relative paths.

use std::path::{Path, PathBuf};

use steward_core::{DatabaseUrl, Secret, normalize_path};

use crate::{
    Config, Error, Report, Result,
    diagnostic::Sink,
    env::{apply_overrides, check_references, interpolate},
    node::{self, Segment},
    schema::Schema,
    validate::validate,
};

pub use crate::env::Environment;

/// Where a configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// Text given directly (e.g. the embedded example), under a display name.
    Text(String),
}

/// A valid configuration with the context needed to use it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration, with relative paths resolved against `base_dir`.
    pub config: Config,
    /// Where it came from.
    pub source: Source,
    /// Directory that relative paths are resolved against: the file's
    /// directory, or the one given with text.
    pub base_dir: PathBuf,
    /// Warnings (a valid configuration has no errors).
    pub report: Report,
}

impl LoadedConfig {
    /// Steward's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.server.data_dir
    }

    /// The state database URL: the configured one, or SQLite in the data
    /// directory.
    pub fn state_url(&self) -> Secret<String> {
        match &self.config.server.state_url {
            Some(url) => url.clone(),
            None => Secret::new(format!(
                "sqlite://{}",
                self.data_dir().join("steward.db").display()
            )),
        }
    }

    /// The name to show for the configuration's source.
    pub fn display_name(&self) -> String {
        match &self.source {
            Source::File(path) => path.display().to_string(),
            Source::Text(name) => name.clone(),
        }
    }
}

/// The JSON Schema of `steward.toml`, for editors and documentation.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).expect("a schema is always valid JSON")
}

/// Loads and validates a configuration file; relative paths in it are
/// relative to the file's directory.
pub fn load(path: &Path, env: &Environment) -> Result<LoadedConfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let base_dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.display().to_string();
    let mut loaded = load_str(&name, &text, &base_dir, env)?;
    loaded.source = Source::File(path.to_owned());
    Ok(loaded)
}

/// Loads and validates configuration text; `name` is shown in diagnostics
/// and relative paths are resolved against `base_dir`.
pub fn load_str(
    name: &str,
    text: &str,
    base_dir: &Path,
    env: &Environment,
) -> Result<LoadedConfig> {
    let invalid = |sink: Sink<'_>| {
        Error::Invalid(Box::new(Report::new(
            name.to_owned(),
            text.to_owned(),
            sink.diagnostics,
        )))
    };
    let mut sink = Sink::new(name, text);
    let mut tree = match node::parse(name, text) {
        Ok(tree) => tree,
        Err(diagnostic) => {
            sink.diagnostics.push(diagnostic);
            return Err(invalid(sink));
        }
    };
    let schema = Schema::new(json_schema());
    let references = interpolate(&mut tree, env, &mut sink);
    apply_overrides(&mut tree, env, &schema, &mut sink);
    // The check prunes what it rejects, so that the semantic checks below
    // still run over the rest and every problem is reported in one go.
    schema.check(&mut tree, schema.root(), &mut Vec::new(), &mut sink);
    let mut config: Config = match serde_path_to_error::deserialize(tree.to_json()) {
        Ok(config) => config,
        Err(_) if sink.has_errors() => return Err(invalid(sink)),
        Err(err) => {
            // The schema check catches nearly everything; what remains are
            // value rules only the types know (e.g. a malformed address).
            let path: Vec<Segment> = err
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                    _ => None,
                })
                .collect();
            let origin = tree.locate(&path).clone();
            sink.error(
                &origin,
                format!("`{}`: {}", crate::schema::display_path(&path), err.inner()),
                None,
            );
            return Err(invalid(sink));
        }
    };
    // Serializing shows which fields steward keeps secret (they come out
    // redacted); a reference anywhere else would publish its value.
    let shown = serde_json::to_value(&config).expect("a configuration serializes to JSON");
    check_references(&tree, &shown, &references, text, &mut sink);
    validate(&config, &tree, base_dir, &mut sink);
    if sink.has_errors() {
        return Err(invalid(sink));
    }
    resolve_paths(&mut config, base_dir);
    Ok(LoadedConfig {
        config,
        source: Source::Text(name.to_owned()),
        base_dir: base_dir.to_owned(),
        report: Report::new(name.to_owned(), text.to_owned(), sink.diagnostics),
    })
}

/// Makes every path in the configuration relative to `base_dir` instead of
/// the working directory, so that the configuration means the same thing
/// wherever steward is started from.
fn resolve_paths(config: &mut Config, base_dir: &Path) {
    let resolve = |path: &mut PathBuf| {
        *path = normalize_path(&base_dir.join(&*path));
    };
    resolve(&mut config.server.data_dir);
    if let Some(tls) = &mut config.server.tls {
        resolve(&mut tls.cert);
        resolve(&mut tls.key);
    }
    for service in &mut config.services {
        if let Some(workdir) = service.process.as_mut().and_then(|p| p.workdir.as_mut()) {
            resolve(workdir);
        }
    }
    for database in &mut config.databases {
        if let Some(migrations) = &mut database.migrations {
            resolve(migrations);
        }
        database.url = Secret::new(resolve_sqlite_url(database.url.expose(), base_dir));
    }
    if let Some(file) = &mut config.alerts.config {
        resolve(file);
    }
    for pattern in config
        .rules
        .files
        .iter_mut()
        .chain(config.rules.log_files.iter_mut())
    {
        *pattern = base_dir.join(&*pattern).display().to_string();
    }
    if let Some(url) = &config.server.state_url {
        config.server.state_url = Some(Secret::new(resolve_sqlite_url(url.expose(), base_dir)));
    }
}

/// Resolves the file of a relative SQLite URL against `base_dir`; other
/// URLs, and URLs validation will refuse, are returned unchanged.
fn resolve_sqlite_url(url: &str, base_dir: &Path) -> String {
    match DatabaseUrl::parse(url) {
        Ok(parsed) => parsed.resolved_against(base_dir).expose().to_owned(),
        Err(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
