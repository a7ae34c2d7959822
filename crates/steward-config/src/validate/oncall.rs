//! Checks of `[oncall]`: unique schedule and policy names, and each
//! schedule and escalation policy as the IncidentManager takes it (a
//! known time zone, users, turns, restrictions, overrides; levels that
//! page someone after a delay, schedules that exist), reported at the
//! field at fault.

use std::collections::{BTreeMap, HashSet};

use steward_incident::oncall::{EscalationPolicy, Schedule};

use super::Checker;
use crate::node::Segment;

impl Checker<'_, '_, '_> {
    pub(super) fn oncall(&mut self, oncall: &crate::OncallConfig) {
        let mut seen = HashSet::new();
        let mut schedules = BTreeMap::new();
        // schedules reported as invalid: a policy naming one is not
        // reported again for it
        let mut invalid = HashSet::new();
        for (i, spec) in oncall.schedules.iter().enumerate() {
            if !seen.insert(spec.name.as_str()) {
                self.error(
                    &path!["oncall", "schedules", i, "name"],
                    format!("duplicate schedule name `{}`", spec.name),
                    Some("each schedule needs its own name".into()),
                );
            }
            match Schedule::new(spec) {
                Ok(schedule) => {
                    schedules.insert(spec.name.clone(), schedule);
                }
                Err(err) => {
                    invalid.insert(spec.name.as_str());
                    self.incident_error(&path!["oncall", "schedules", i], err);
                }
            }
        }
        let mut seen = HashSet::new();
        for (i, spec) in oncall.escalation_policies.iter().enumerate() {
            if !seen.insert(spec.name.as_str()) {
                self.error(
                    &path!["oncall", "escalation_policies", i, "name"],
                    format!("duplicate escalation policy name `{}`", spec.name),
                    Some("each escalation policy needs its own name".into()),
                );
            }
            let names_invalid = spec
                .levels
                .iter()
                .flat_map(|l| &l.schedules)
                .any(|name| invalid.contains(name.as_str()));
            if let Err(err) = EscalationPolicy::new(spec, &schedules)
                && !names_invalid
            {
                self.incident_error(&path!["oncall", "escalation_policies", i], err);
            }
        }
    }

    /// The IncidentManager's refusal of what is at `base`, at the field
    /// it names (`levels[0].delay`).
    fn incident_error(&mut self, base: &[Segment], err: steward_incident::Error) {
        let mut at = base.to_vec();
        let reason = match err {
            steward_incident::Error::InvalidSchedule { field, reason, .. }
            | steward_incident::Error::InvalidPolicy { field, reason, .. } => {
                at.extend(field_path(&field));
                reason
            }
            other => other.to_string(),
        };
        self.error(&at, reason, None);
    }
}

/// `layers[0].restrictions[1].duration` as path segments.
fn field_path(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Segment::from(key));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse::<usize>() {
                out.push(Segment::from(i));
            }
        }
    }
    out
}

impl Checker<'_, '_, '_> {
    /// `[[oncall.users]]`: unique names, a way to reach each; the users
    /// escalation levels name exist when users are configured.
    pub(super) fn oncall_users(&mut self, oncall: &crate::OncallConfig) {
        let mut seen = HashSet::new();
        for (i, user) in oncall.users.iter().enumerate() {
            if user.name.trim().is_empty() {
                self.error(
                    &path!["oncall", "users", i, "name"],
                    "a user needs a name".to_owned(),
                    None,
                );
            } else if !seen.insert(user.name.as_str()) {
                self.error(
                    &path!["oncall", "users", i, "name"],
                    format!("duplicate user name `{}`", user.name),
                    Some("each user needs their own name".into()),
                );
            }
            if user.receivers.is_empty() {
                self.error(
                    &path!["oncall", "users", i, "receivers"],
                    format!("user `{}` has no receiver to be paged through", user.name),
                    Some("name receivers of the Alertmanager configuration in [alerts]".into()),
                );
            }
        }
        if oncall.users.is_empty() {
            return;
        }
        for (i, policy) in oncall.escalation_policies.iter().enumerate() {
            for (j, level) in policy.levels.iter().enumerate() {
                for (k, user) in level.users.iter().enumerate() {
                    if !seen.contains(user.as_str()) {
                        self.error(
                            &path!["oncall", "escalation_policies", i, "levels", j, "users", k],
                            format!("no user named `{user}` in [[oncall.users]]"),
                            None,
                        );
                    }
                }
            }
        }
    }

    /// `[incidents]`: a severity, a policy that exists, plans whose steps
    /// name configured services and make sense.
    pub(super) fn incidents(&mut self, config: &crate::Config) {
        use steward_incident::plan::StepAction;
        let incidents = &config.incidents;
        if incidents
            .open_at
            .parse::<steward_incident::incident::Severity>()
            .is_err()
        {
            self.error(
                &path!["incidents", "open_at"],
                format!(
                    "`{}` is not a severity: expected SEV1, SEV2, SEV3 or SEV4",
                    incidents.open_at
                ),
                None,
            );
        }
        if let Some(name) = &incidents.escalation_policy
            && !config
                .oncall
                .escalation_policies
                .iter()
                .any(|p| &p.name == name)
        {
            self.error(
                &path!["incidents", "escalation_policy"],
                format!("no escalation policy named `{name}` in [[oncall.escalation_policies]]"),
                None,
            );
        }
        if let Some(timeout) = &incidents.ack_timeout
            && timeout.get() < std::time::Duration::from_secs(1)
        {
            self.error(
                &path!["incidents", "ack_timeout"],
                format!("{timeout} is shorter than a second"),
                None,
            );
        }
        for (field, value) in [
            ("rca_window", &incidents.rca_window),
            ("rca_half_life", &incidents.rca_half_life),
        ] {
            if value.get() < std::time::Duration::from_secs(1)
                || value.get() > std::time::Duration::from_secs(30 * 86_400)
            {
                self.error(
                    &path!["incidents", field],
                    format!("{value} is not between a second and 30 days"),
                    None,
                );
            }
        }
        for (i, slo) in incidents.slos.iter().enumerate() {
            if config.service(&slo.service).is_none() {
                self.error(
                    &path!["incidents", "slos", i, "service"],
                    format!("no service named `{}`", slo.service),
                    None,
                );
            }
            if !(slo.objective > 0.0 && slo.objective < 1.0) {
                self.error(
                    &path!["incidents", "slos", i, "objective"],
                    format!(
                        "{} is not a share between 0 and 1 (0.99: 99% succeed)",
                        slo.objective
                    ),
                    None,
                );
            }
            let exprs = [
                ("error_ratio", Some(&slo.error_ratio)),
                ("failed", slo.failed.as_ref()),
            ];
            for (field, expr) in exprs {
                let Some(expr) = expr else { continue };
                if let Err(err) = promql_parser::parser::parse(&expr.replace("$window", "5m")) {
                    self.error(
                        &path!["incidents", "slos", i, field],
                        format!("not PromQL: {}", err.trim().replace('\n', " ")),
                        None,
                    );
                }
            }
        }
        let mut seen = HashSet::new();
        for (i, plan) in incidents.response_plans.iter().enumerate() {
            let at = |rest: &[Segment]| {
                let mut p = path!["incidents", "response_plans", i].to_vec();
                p.extend_from_slice(rest);
                p
            };
            if !seen.insert(plan.name.as_str()) {
                self.error(
                    &at(&path!["name"]),
                    format!("duplicate response plan name `{}`", plan.name),
                    None,
                );
            }
            if plan.steps.is_empty() {
                self.error(
                    &at(&path!["steps"]),
                    format!("response plan `{}` has no steps", plan.name),
                    None,
                );
            }
            if plan.services.is_empty() && plan.alerts.is_empty() {
                self.error(
                    &at(&path!["name"]),
                    format!(
                        "response plan `{}` applies to nothing: give it `services` or `alerts`",
                        plan.name
                    ),
                    None,
                );
            }
            for (k, service) in plan.services.iter().enumerate() {
                if config.service(service).is_none() {
                    self.error(
                        &at(&path!["services", k]),
                        format!("no service named `{service}`"),
                        None,
                    );
                }
            }
            for (j, step) in plan.steps.iter().enumerate() {
                let step_at = at(&path!["steps", j]);
                let problem = match &step.action {
                    StepAction::Rollback { service }
                    | StepAction::Restart { service }
                    | StepAction::ScaleOut { service, .. }
                        if config.service(service).is_none() =>
                    {
                        Some(format!("no service named `{service}`"))
                    }
                    StepAction::ScaleOut { add, .. } if !(1..=100).contains(add) => {
                        Some(format!("`add` is {add}: add 1 to 100 replicas"))
                    }
                    StepAction::Silence { duration } => {
                        match steward_core::parse_duration(duration) {
                            Ok(d) if d >= std::time::Duration::from_secs(60) => None,
                            Ok(_) => Some(format!("a silence of {duration} is under a minute")),
                            Err(err) => Some(format!("`duration`: {err}")),
                        }
                    }
                    StepAction::Command { argv } if argv.is_empty() || argv[0].is_empty() => {
                        Some("`argv` needs at least the program".to_owned())
                    }
                    StepAction::Webhook { url }
                        if !(url.starts_with("http://") || url.starts_with("https://"))
                            || url::Url::parse(url).is_err() =>
                    {
                        Some(format!("`{url}` is not an http(s) URL"))
                    }
                    StepAction::Manual { text } if text.trim().is_empty() => {
                        Some("a checklist item needs text".to_owned())
                    }
                    _ => None,
                };
                if let Some(problem) = problem {
                    self.error(&step_at, problem, None);
                }
                if step.requires_approval && step.action.is_manual() {
                    self.error(
                        &step_at,
                        "a checklist item needs no approval: a person does it".to_owned(),
                        None,
                    );
                }
            }
        }
    }
}
