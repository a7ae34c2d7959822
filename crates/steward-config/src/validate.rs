//! Semantic checks that need the whole configuration: unique names and
//! ports, known and acyclic dependencies, placeholders, probes, and the
//! files and directories the configuration refers to. This file has the
//! checker and the checks across sections (names, ports, dependencies,
//! databases, server, deploy, placeholders); `service.rs` those of one
//! service, by concern.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use crate::{
    Config, DATABASE_SCHEMES,
    diagnostic::{Origin, Sink, nearest},
    node::{Node, Segment},
};

/// Runs every semantic check, reporting into `sink`. Relative paths are
/// checked against `base_dir`.
pub(crate) fn validate(config: &Config, tree: &Node, base_dir: &Path, sink: &mut Sink<'_>) {
    let mut checker = Checker { tree, sink };
    checker.unique_names(config);
    checker.ports(config);
    checker.dependencies(config);
    for (index, service) in config.services.iter().enumerate() {
        checker.service(index, service, base_dir);
        checker.rollout_metrics(index, service, config);
    }
    checker.databases(config, base_dir);
    checker.server(config, base_dir);
    checker.deploy(config);
    checker.metrics(&config.metrics);
    checker.rules(&config.rules, base_dir);
    checker.log_rules(config);
    checker.alerts(&config.alerts, base_dir);
    checker.logs(&config.logs);
    checker.oncall(&config.oncall);
    checker.oncall_users(&config.oncall);
    checker.incidents(config);
}

struct Checker<'t, 's, 'a> {
    tree: &'t Node,
    sink: &'s mut Sink<'a>,
}

/// Builds a path from string keys and indices.
macro_rules! path {
    ($($segment:expr),* $(,)?) => {
        [$($crate::node::Segment::from($segment)),*]
    };
}

// Declared after `path!`, which it uses.
mod log_forward;
mod metrics;
mod oncall;
mod remote_write;
mod rollout;
mod rules;
mod service;

impl From<&str> for Segment {
    fn from(key: &str) -> Self {
        Segment::Key(key.to_owned())
    }
}

impl From<usize> for Segment {
    fn from(index: usize) -> Self {
        Segment::Index(index)
    }
}

impl Checker<'_, '_, '_> {
    fn at(&self, path: &[Segment]) -> Origin {
        self.tree.locate(path).clone()
    }

    fn line_of(&self, path: &[Segment]) -> String {
        match self.sink.location(&self.at(path)) {
            crate::Location::File { line, .. } => format!("line {line}"),
            other => other.to_string(),
        }
    }

    fn error(&mut self, path: &[Segment], message: impl Into<String>, hint: Option<String>) {
        let origin = self.at(path);
        self.sink.error(&origin, message, hint);
    }

    fn warning(&mut self, path: &[Segment], message: impl Into<String>, hint: Option<String>) {
        let origin = self.at(path);
        self.sink.warning(&origin, message, hint);
    }

    /// `[logs]`: the multiline start pattern compiles; sizes are usable.
    fn logs(&mut self, logs: &crate::LogsConfig) {
        if let Some(pattern) = &logs.multiline.start_pattern
            && let Err(err) = regex::Regex::new(pattern)
        {
            // the regex crate's message spans lines (pattern, caret, reason): keep the reason
            let full = err.to_string();
            let reason = full.lines().last().unwrap_or_default().trim();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            self.error(
                &path!["logs", "multiline", "start_pattern"],
                format!("invalid regex `{pattern}`: {reason}"),
                None,
            );
        }
        if logs.flush_size.0 > logs.max_memory.0 {
            self.error(
                &path!["logs", "flush_size"],
                format!(
                    "`logs.flush_size` ({}) is larger than `logs.max_memory` ({})",
                    logs.flush_size, logs.max_memory
                ),
                Some(
                    "lines in memory are flushed at flush_size; max_memory must hold at least that"
                        .into(),
                ),
            );
        }
        self.log_forward(&logs.forward);
    }

    fn unique_names(&mut self, config: &Config) {
        let services = config.services.iter().map(|s| s.name.as_str());
        self.unique("services", "service", services);
        let databases = config.databases.iter().map(|d| d.name.as_str());
        self.unique("databases", "database", databases);
    }

    fn unique<'n>(&mut self, section: &str, what: &str, names: impl Iterator<Item = &'n str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, name) in names.enumerate() {
            if let Some(first) = seen.get(name) {
                let first_line = self.line_of(&path![section, *first, "name"]);
                self.error(
                    &path![section, index, "name"],
                    format!("{what} `{name}` is defined twice"),
                    Some(format!(
                        "the first definition is at {first_line}; rename one of them"
                    )),
                );
            } else {
                seen.insert(name, index);
            }
        }
    }

    fn ports(&mut self, config: &Config) {
        let mut used: BTreeMap<u16, (String, Vec<Segment>)> = BTreeMap::new();
        used.insert(
            config.server.listen.port(),
            (
                "steward's API (`server.listen`)".to_owned(),
                path!["server", "listen"].to_vec(),
            ),
        );
        for (index, service) in config.services.iter().enumerate() {
            let Some(port) = service.port else { continue };
            let path = path!["services", index, "port"];
            if port == 0 {
                self.error(
                    &path,
                    "a public port cannot be 0",
                    Some("choose a fixed port between 1 and 65535".into()),
                );
                continue;
            }
            match used.get(&port) {
                Some((owner, owner_path)) => {
                    let owner_line = self.line_of(owner_path);
                    self.error(
                        &path,
                        format!(
                            "port {port} of service `{}` is already used by {owner}",
                            service.name
                        ),
                        Some(format!(
                            "{owner} takes it at {owner_line}; give each service its own port"
                        )),
                    );
                }
                None => {
                    used.insert(port, (format!("service `{}`", service.name), path.to_vec()));
                }
            }
        }
    }

    fn dependencies(&mut self, config: &Config) {
        let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
        for (index, service) in config.services.iter().enumerate() {
            for (dep_index, dependency) in service.depends_on.iter().enumerate() {
                let path = path!["services", index, "depends_on", dep_index];
                if dependency == &service.name {
                    self.error(
                        &path,
                        format!("service `{}` depends on itself", service.name),
                        None,
                    );
                } else if !names.contains(&dependency.as_str()) {
                    let hint = match nearest(dependency, names.iter().copied()) {
                        Some(candidate) => format!("did you mean `{candidate}`?"),
                        None if names.is_empty() => "no services are defined".to_owned(),
                        None => format!("defined services: {}", names.join(", ")),
                    };
                    self.error(
                        &path,
                        format!(
                            "service `{}` depends on unknown service `{dependency}`",
                            service.name
                        ),
                        Some(hint),
                    );
                }
            }
        }
        if let Some(cycle) = find_cycle(config) {
            let first = cycle[0];
            let next = cycle[1];
            let dep_index = config.services[first]
                .depends_on
                .iter()
                .position(|d| d == &config.services[next].name)
                .unwrap_or(0);
            let names: Vec<&str> = cycle
                .iter()
                .map(|&i| config.services[i].name.as_str())
                .collect();
            self.error(
                &path!["services", first, "depends_on", dep_index],
                format!("dependency cycle: {}", names.join(" -> ")),
                Some("services cannot start in any order; remove one of these dependencies".into()),
            );
        }
    }

    fn deploy(&mut self, config: &Config) {
        let hooks = &config.deploy.hooks;
        for (name, hook) in [
            ("pre_deploy", &hooks.pre_deploy),
            ("post_deploy", &hooks.post_deploy),
            ("on_rollback", &hooks.on_rollback),
        ] {
            if hook
                .as_ref()
                .is_some_and(|argv| argv.is_empty() || argv[0].trim().is_empty())
            {
                self.error(
                    &path!["deploy", "hooks", name],
                    format!("hook `{name}` is empty"),
                    Some("give the program and its arguments as an argv array".into()),
                );
            }
        }
        for (index, window) in config.deploy.freeze.iter().enumerate() {
            if window.end <= window.start {
                self.error(
                    &path!["deploy", "freeze", index, "end"],
                    format!(
                        "freeze window ends ({}) before it starts ({})",
                        window.end, window.start
                    ),
                    None,
                );
            }
        }
    }

    /// Reports `{name}` placeholders that are not in `allowed`.
    fn placeholders(&mut self, path: &[Segment], text: &str, allowed: &[&str]) {
        match placeholder_names(text) {
            Ok(names) => {
                for name in names {
                    if !allowed.contains(&name) {
                        let hint = match nearest(name, allowed.iter().copied()) {
                            Some(candidate) => format!("did you mean `{{{candidate}}}`?"),
                            None => format!(
                                "placeholders here: {}",
                                allowed
                                    .iter()
                                    .map(|a| format!("`{{{a}}}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        self.error(
                            path,
                            format!("unknown placeholder `{{{name}}}`"),
                            Some(hint),
                        );
                    }
                }
            }
            Err(message) => self.error(
                path,
                message,
                Some("write `{{` and `}}` for literal braces".into()),
            ),
        }
    }

    fn databases(&mut self, config: &Config, base_dir: &Path) {
        for (index, database) in config.databases.iter().enumerate() {
            if steward_core::DatabaseUrl::parse(database.url.expose()).is_err() {
                self.error(
                    &path!["databases", index, "url"],
                    format!("database `{}` has an unsupported URL", database.name),
                    Some(format!("the URL must start with one of {}", schemes_list())),
                );
            }
            if let Some(migrations) = &database.migrations
                && !base_dir.join(migrations).is_dir()
            {
                self.error(
                    &path!["databases", index, "migrations"],
                    format!(
                        "migrations directory {} does not exist",
                        base_dir.join(migrations).display()
                    ),
                    Some("paths are relative to the configuration file".into()),
                );
            }
        }
    }

    fn server(&mut self, config: &Config, base_dir: &Path) {
        if let Some(url) = &config.server.state_url {
            let url = url.expose();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                self.error(
                    &path!["server", "state_url"],
                    "the state database must be SQLite or PostgreSQL",
                    Some("write `sqlite://<path>` or `postgres://user:password@host/db`".into()),
                );
            }
        }
        if let Some(tls) = &config.server.tls {
            for (field, file) in [("cert", &tls.cert), ("key", &tls.key)] {
                if !base_dir.join(file).is_file() {
                    self.error(
                        &path!["server", "tls", field],
                        format!(
                            "TLS {field} file {} does not exist",
                            base_dir.join(file).display()
                        ),
                        Some("paths are relative to the configuration file".into()),
                    );
                }
            }
        }
    }
}

fn schemes_list() -> String {
    DATABASE_SCHEMES
        .iter()
        .map(|s| format!("`{s}://`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names of `{name}` placeholders in `text`; `{{` and `}}` are literal
/// braces. Errors on an unclosed or stray brace.
pub fn placeholder_names(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        let after = &rest[at..];
        if after.starts_with("{{") || after.starts_with("}}") {
            rest = &after[2..];
        } else if after.starts_with('}') {
            return Err(format!("stray `}}` in `{text}`"));
        } else {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
            names.push(&after[1..end]);
            rest = &after[end + 1..];
        }
    }
    Ok(names)
}

/// Replaces each `{name}` placeholder of `text` with `value(name)` and
/// `{{`/`}}` with literal braces. Unknown names (which validation rejects)
/// are kept as written.
pub fn render_placeholders(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if after.starts_with("{{") || after.starts_with("}}") {
            out.push_str(&after[..1]);
            rest = &after[2..];
        } else if let (true, Some(end)) = (after.starts_with('{'), after.find('}')) {
            let name = &after[1..end];
            match value(name) {
                Some(replacement) => out.push_str(&replacement),
                None => out.push_str(&after[..=end]),
            }
            rest = &after[end + 1..];
        } else {
            out.push_str(&after[..1]);
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Finds one dependency cycle as service indices, first repeated at the end.
fn find_cycle(config: &Config) -> Option<Vec<usize>> {
    let index_of: HashMap<&str, usize> = config
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        node: usize,
        config: &Config,
        index_of: &HashMap<&str, usize>,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[node] = Mark::Active;
        stack.push(node);
        for dependency in &config.services[node].depends_on {
            let Some(&next) = index_of.get(dependency.as_str()) else {
                continue;
            };
            if next == node {
                continue; // reported as a self-dependency
            }
            match marks[next] {
                Mark::Active => {
                    let start = stack.iter().position(|&n| n == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, config, index_of, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[node] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; config.services.len()];
    for start in 0..config.services.len() {
        if marks[start] == Mark::New {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(start, config, &index_of, &mut marks, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
