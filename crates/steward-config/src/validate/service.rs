//! The checks of one `[[services]]` entry, by concern: how it runs
//! (process command and working directory, Docker image, their
//! placeholders), its health check, its rollout, its metrics path, its
//! environment variable names and its resource limits. Checks that compare
//! services with each other (names, ports, dependencies) are in the parent.

use std::path::Path;

use super::Checker;
use crate::{
    DockerRun, HealthCheck, IMAGE_PLACEHOLDERS, PROCESS_PLACEHOLDERS, ProcessRun, Resources,
    ServiceConfig,
};

impl Checker<'_, '_, '_> {
    /// Every check of the service at `index`, in the order they report.
    pub(super) fn service(&mut self, index: usize, service: &ServiceConfig, base_dir: &Path) {
        if service.process.is_none() && service.docker.is_none() {
            self.error(
                &path!["services", index, "name"],
                format!("service `{}` has no way to run", service.name),
                Some("add a [services.process] table with a `command`, or [services.docker] with an `image`".into()),
            );
        }
        if let Some(process) = &service.process {
            self.process(index, process, base_dir);
        }
        if let Some(docker) = &service.docker {
            self.docker(index, docker);
        }
        match &service.health {
            None => self.warning(
                &path!["services", index, "name"],
                format!("service `{}` has no health check", service.name),
                Some("steward will treat a running replica as healthy; add [services.health] with `http`, `tcp` or `command`".into()),
            ),
            Some(health) => self.health(index, health),
        }
        self.rollout(index, service);
        if let Some(path) = &service.metrics_path
            && !path.starts_with('/')
        {
            self.error(
                &path!["services", index, "metrics_path"],
                format!("metrics path `{path}` must start with `/`"),
                None,
            );
        }
        self.env_names(index, service);
        if let Some(resources) = &service.resources {
            self.resources(index, resources);
        }
    }

    /// `[services.process]`: a command, its placeholders, its working
    /// directory.
    fn process(&mut self, index: usize, process: &ProcessRun, base_dir: &Path) {
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

    /// `[services.docker]`: an image reference and its placeholders.
    fn docker(&mut self, index: usize, docker: &DockerRun) {
        let path = path!["services", index, "docker", "image"];
        if docker.image.trim().is_empty() {
            self.error(&path, "image reference is empty", None);
        }
        self.placeholders(&path, &docker.image, &IMAGE_PLACEHOLDERS);
    }

    /// `[services.health]`: exactly one probe, and timings and thresholds
    /// that can be met.
    fn health(&mut self, index: usize, health: &HealthCheck) {
        let health_at = |field: &str| path!["services", index, "health", field];
        let probes = [
            health.http.is_some(),
            health.tcp.is_some(),
            health.command.is_some(),
        ];
        match probes.iter().filter(|set| **set).count() {
            0 => self.error(
                &path!["services", index, "health"],
                "health check has no probe",
                Some(
                    "set exactly one of `http = \"/healthz\"`, `tcp = true` or `command = [...]`"
                        .into(),
                ),
            ),
            1 => {}
            _ => self.error(
                &path!["services", index, "health"],
                "health check has more than one probe",
                Some("set exactly one of `http`, `tcp` or `command`".into()),
            ),
        }
        if let Some(path) = &health.http
            && !path.starts_with('/')
        {
            self.error(
                &health_at("http"),
                format!("health path `{path}` must start with `/`"),
                None,
            );
        }
        if health.tcp == Some(false) {
            self.error(
                &health_at("tcp"),
                "`tcp = false` is not a probe",
                Some("write `tcp = true`, or remove the key".into()),
            );
        }
        if health.command.as_ref().is_some_and(|argv| argv.is_empty()) {
            self.error(&health_at("command"), "health command is empty", None);
        }
        if health.interval.get().is_zero() {
            self.error(
                &health_at("interval"),
                "health check interval must be greater than 0",
                None,
            );
        }
        if health.timeout.get().is_zero() {
            self.error(
                &health_at("timeout"),
                "health check timeout must be greater than 0",
                None,
            );
        } else if health.timeout > health.interval {
            self.error(
                &health_at("timeout"),
                format!(
                    "health check timeout {} is longer than its interval {}",
                    health.timeout, health.interval
                ),
                Some("a check must finish before the next one starts".into()),
            );
        }
        for (field, value) in [
            ("healthy_threshold", health.healthy_threshold),
            ("unhealthy_threshold", health.unhealthy_threshold),
        ] {
            if value == 0 {
                self.error(
                    &health_at(field),
                    format!("`{field}` must be at least 1"),
                    None,
                );
            }
        }
    }

    /// `[services.rollout]`: a rolling update that can make progress, and
    /// well-formed smoke checks.
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

    /// `[services.env]`: names a process environment accepts.
    fn env_names(&mut self, index: usize, service: &ServiceConfig) {
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
    }

    /// `[services.resources]`: limits a backend can apply.
    fn resources(&mut self, index: usize, resources: &Resources) {
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
