//! Semantic checks that need the whole configuration: unique names and
//! ports, known and acyclic dependencies, placeholders, probes, and the
//! files and directories the configuration refers to.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use crate::{
    Config, DATABASE_SCHEMES, IMAGE_PLACEHOLDERS, PROCESS_PLACEHOLDERS, ServiceConfig,
    diagnostic::{Sink, nearest},
    node::{Node, Origin, Segment},
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
    }
    checker.databases(config, base_dir);
    checker.server(config, base_dir);
    checker.deploy(config);
}

struct Checker<'t, 's, 'a> {
    tree: &'t Node,
    sink: &'s mut Sink<'a>,
}

/// Builds a path from string keys and indices.
macro_rules! path {
    ($($segment:expr),* $(,)?) => {
        [$(Segment::from($segment)),*]
    };
}

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

    fn service(&mut self, index: usize, service: &ServiceConfig, base_dir: &Path) {
        let at = |field: &str| path!["services", index, field];
        if service.process.is_none() && service.docker.is_none() {
            self.error(
                &path!["services", index, "name"],
                format!("service `{}` has no way to run", service.name),
                Some("add a [services.process] table with a `command`, or [services.docker] with an `image`".into()),
            );
        }
        if let Some(process) = &service.process {
            if process.command.is_empty() || process.command[0].trim().is_empty() {
                self.error(
                    &path!["services", index, "process", "command"],
                    "process command is empty",
                    Some("give the program and its arguments, e.g. [\"my-agent\", \"--port\", \"{port}\"]".into()),
                );
            }
            for (arg_index, arg) in process.command.iter().enumerate() {
                self.placeholders(
                    &path!["services", index, "process", "command", arg_index],
                    arg,
                    &PROCESS_PLACEHOLDERS,
                );
            }
            if let Some(workdir) = &process.workdir
                && !base_dir.join(workdir).is_dir()
            {
                self.error(
                    &path!["services", index, "process", "workdir"],
                    format!(
                        "working directory {} does not exist",
                        base_dir.join(workdir).display()
                    ),
                    Some("paths are relative to the configuration file".into()),
                );
            }
        }
        if let Some(docker) = &service.docker {
            let path = path!["services", index, "docker", "image"];
            if docker.image.trim().is_empty() {
                self.error(&path, "image reference is empty", None);
            }
            self.placeholders(&path, &docker.image, &IMAGE_PLACEHOLDERS);
        }
        match &service.health {
            None => self.warning(
                &path!["services", index, "name"],
                format!("service `{}` has no health check", service.name),
                Some("steward will treat a running replica as healthy; add [services.health] with `http`, `tcp` or `command`".into()),
            ),
            Some(health) => {
                let health_at = |field: &str| path!["services", index, "health", field];
                let probes = [health.http.is_some(), health.tcp.is_some(), health.command.is_some()];
                match probes.iter().filter(|set| **set).count() {
                    0 => self.error(
                        &at("health"),
                        "health check has no probe",
                        Some("set exactly one of `http = \"/healthz\"`, `tcp = true` or `command = [...]`".into()),
                    ),
                    1 => {}
                    _ => self.error(
                        &at("health"),
                        "health check has more than one probe",
                        Some("set exactly one of `http`, `tcp` or `command`".into()),
                    ),
                }
                if let Some(path) = &health.http
                    && !path.starts_with('/')
                {
                    self.error(&health_at("http"), format!("health path `{path}` must start with `/`"), None);
                }
                if health.tcp == Some(false) {
                    self.error(&health_at("tcp"), "`tcp = false` is not a probe", Some("write `tcp = true`, or remove the key".into()));
                }
                if health.command.as_ref().is_some_and(|argv| argv.is_empty()) {
                    self.error(&health_at("command"), "health command is empty", None);
                }
                if health.interval.get().is_zero() {
                    self.error(&health_at("interval"), "health check interval must be greater than 0", None);
                }
                if health.timeout.get().is_zero() {
                    self.error(&health_at("timeout"), "health check timeout must be greater than 0", None);
                } else if health.timeout > health.interval {
                    self.error(
                        &health_at("timeout"),
                        format!("health check timeout {} is longer than its interval {}", health.timeout, health.interval),
                        Some("a check must finish before the next one starts".into()),
                    );
                }
                for (field, value) in [
                    ("healthy_threshold", health.healthy_threshold),
                    ("unhealthy_threshold", health.unhealthy_threshold),
                ] {
                    if value == 0 {
                        self.error(&health_at(field), format!("`{field}` must be at least 1"), None);
                    }
                }
            }
        }
        self.rollout(index, service);
        if let Some(path) = &service.metrics_path
            && !path.starts_with('/')
        {
            self.error(
                &at("metrics_path"),
                format!("metrics path `{path}` must start with `/`"),
                None,
            );
        }
        for key in service.env.keys() {
            let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                let origin = self
                    .tree
                    .locate_key(&path!["services", index, "env", key.as_str()])
                    .clone();
                self.sink.error(
                    &origin,
                    format!("`{key}` is not a valid environment variable name"),
                    Some("use letters, digits and `_`, not starting with a digit".into()),
                );
            }
        }
        if let Some(resources) = &service.resources {
            if let Some(cpus) = resources.cpus
                && !(cpus > 0.0 && cpus.is_finite())
            {
                self.error(
                    &path!["services", index, "resources", "cpus"],
                    "cpus must be greater than 0",
                    None,
                );
            }
            if let Some(memory) = resources.memory
                && memory.bytes() < 6 << 20
            {
                self.error(
                    &path!["services", index, "resources", "memory"],
                    format!("memory limit {memory} is below the minimum of 6MiB"),
                    None,
                );
            }
        }
    }

    fn rollout(&mut self, index: usize, service: &ServiceConfig) {
        let rollout = &service.rollout;
        let at = |field: &str| path!["services", index, "rollout", field];
        if rollout.max_surge == 0 && rollout.max_unavailable == 0 {
            self.error(
                &at("max_surge"),
                "`max_surge` and `max_unavailable` cannot both be 0",
                Some("a rolling update must either start a replica above the desired count or take one out of service; the usual choice is `max_surge = 1`".into()),
            );
        }
        for (smoke_index, smoke) in rollout.smoke.iter().enumerate() {
            let path = path!["services", index, "rollout", "smoke", smoke_index];
            match (&smoke.http, &smoke.command) {
                (Some(_), Some(_)) | (None, None) => self.error(
                    &path,
                    "a smoke check needs exactly one of `http` or `command`",
                    Some("e.g. `{ http = \"/healthz\", expect_status = 200 }`".into()),
                ),
                (Some(http), None) if !http.starts_with('/') => self.error(
                    &path,
                    format!("smoke check path `{http}` must start with `/`"),
                    None,
                ),
                (None, Some(argv)) if argv.is_empty() => {
                    self.error(&path, "smoke check command is empty", None);
                }
                _ => {}
            }
            if !(100..=599).contains(&smoke.expect_status) {
                self.error(
                    &path,
                    format!(
                        "`expect_status` {} is not an HTTP status",
                        smoke.expect_status
                    ),
                    None,
                );
            }
        }
        if rollout.progress_deadline.get().is_zero() {
            self.error(
                &at("progress_deadline"),
                "`progress_deadline` must be greater than 0",
                None,
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
            let url = database.url.expose();
            let scheme = url.split_once("://").map(|(scheme, _)| scheme);
            if !scheme.is_some_and(|scheme| DATABASE_SCHEMES.contains(&scheme)) {
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
