//! The incident path end to end with real processes: `steward up` runs
//! the demo agent under load; version 1.1.0, whose tasks all fail but
//! whose health check passes, is deployed without a metric gate; the
//! error-ratio rule fires; steward's AlertManager hands the group to the
//! IncidentManager, which opens an SEV1 incident and pages the on-call
//! user's webhook, then level 2's after level 1's delay passes without
//! an acknowledgement; the response plan's rollback (approved with
//! `steward incident approve`) redeploys 1.0.0; the alert resolves and
//! the incident with it; the postmortem names the 1.1.0 deployment as
//! the likeliest cause, at its time.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::Receiver,
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use steward_test_support::free_port;

use crate::support::{Server, receiver, stderr, stdout};

/// The agent (one replica, no smoke check: the bad version would fail
/// it, and this test is about what the alert path catches), an
/// error-ratio alert over its metrics, the AlertManager with a team
/// route and each on-call user's pager, two escalation levels, and a
/// response plan that rolls the agent back once approved.
fn config(api: u16, port: u16, rules: &std::path::Path, hooks: [&str; 3]) -> String {
    let agent = steward_test_support::demo_agent();
    let [team, ana, bo] = hooks;
    format!(
        r#"
[server]
listen = "127.0.0.1:{api}"

[deploy]
initial_version = "1.0.0"

[metrics]
scrape_interval = "300ms"
scrape_timeout = "250ms"

[[services]]
name = "agent"
replicas = 1
port = {port}
metrics_path = "/metrics"
env = {{ DEMO_AGENT_LLM_LATENCY_MS = "5ms", DEMO_AGENT_TOOL_LATENCY_MS = "1ms", DEMO_AGENT_ERROR_RATE = "0.0" }}
process.command = ["{agent}", "--port", "{{port}}", "--agent-version", "{{version}}"]
health = {{ http = "/healthz", interval = "300ms", timeout = "250ms", unhealthy_threshold = 2 }}
rollout = {{ verify_window = "500ms", drain_timeout = "5s", stop_grace = "5s" }}

[rules]
files = ["{rules}"]
evaluation_interval = "1s"

[alerts]
incident_severity = "error"
config_yaml = '''
route:
  receiver: team
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: team
    webhook_configs:
      - url: {team}
        send_resolved: true
  - name: ana-pager
    webhook_configs:
      - url: {ana}
  - name: bo-pager
    webhook_configs:
      - url: {bo}
'''

[[oncall.users]]
name = "ana"
receivers = ["ana-pager"]

[[oncall.users]]
name = "bo"
receivers = ["bo-pager"]

[[oncall.escalation_policies]]
name = "agent"
[[oncall.escalation_policies.levels]]
users = ["ana"]
delay = "4s"
[[oncall.escalation_policies.levels]]
users = ["bo"]
delay = "1h"

[incidents]
escalation_policy = "agent"

[[incidents.slos]]
service = "agent"
objective = 0.99
error_ratio = 'sum(rate(demo_agent_tasks_total{{service="agent", outcome="error"}}[3s])) / sum(rate(demo_agent_tasks_total{{service="agent"}}[3s]))'
failed = 'sum(increase(demo_agent_tasks_total{{service="agent", outcome="error"}}[$window]))'

[[incidents.response_plans]]
name = "agent"
services = ["agent"]
steps = [
  {{ action = "rollback", service = "agent", requires_approval = true }},
  {{ action = "manual", text = "check the agent's dashboards" }},
]
"#,
        agent = agent.display(),
        rules = rules.display()
    )
}

const RULES: &str = r#"groups:
  - name: agent
    interval: 1s
    rules:
      - alert: AgentErrorRatioHigh
        expr: sum by (service) (rate(demo_agent_tasks_total{outcome="error"}[3s])) / sum by (service) (rate(demo_agent_tasks_total[3s])) > 0.5
        labels: {severity: critical}
        annotations: {summary: 'tasks of {{ $labels.service }} fail'}
"#;

/// Tasks posted to the agent back to back until dropped.
struct Load(Arc<AtomicBool>);

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                crate::logs::post_task(port);
                thread::sleep(Duration::from_millis(50));
            }
        });
        Load(stop)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The next body on `hook` within `secs` whose first alert is named `name`.
fn page(hook: &Receiver<Value>, name: &str, secs: u64) -> (Value, Instant) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let body = hook
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {name} notification within {secs}s"));
        if body["alerts"][0]["labels"]["alertname"] == name {
            return (body, Instant::now());
        }
    }
}

fn json(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(output),
        stderr(output)
    );
    serde_json::from_str(&stdout(output))
        .unwrap_or_else(|err| panic!("not JSON ({err}): {}", stdout(output)))
}

/// Polls `steward incident show` until `check` holds, within `secs`.
fn incident_until(server: &Server, id: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let view = json(&server.cli(&["incident", "show", id, "-o", "json"]));
        if check(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "{view}");
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_bad_deployment_opens_an_incident_that_pages_escalates_rolls_back_and_explains_itself() {
    let (team, _team_hook) = receiver();
    let (ana, ana_hook) = receiver();
    let (bo, bo_hook) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let port = free_port();
    let path = dir.path().join("steward.toml");
    let good = config(free_port(), port, &rules, [&team, &ana, &bo]);
    std::fs::write(&path, &good).unwrap();
    let server = Server::spawn(dir, path.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::deploy::http_status(port, "/healthz") != Some(200) {
        assert!(Instant::now() < deadline, "the agent never became healthy");
        thread::sleep(Duration::from_millis(200));
    }
    let _load = Load::start(port);

    // 1.1.0 fails every task; its health check passes
    std::fs::write(
        &path,
        good.replace(
            "DEMO_AGENT_ERROR_RATE = \"0.0\"",
            "DEMO_AGENT_ERROR_RATE = \"1.0\"",
        ),
    )
    .unwrap();
    let deployed = server.cli(&["deploy", "1.1.0", "--wait"]);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    let deployments = json(&server.cli(&["deployments", "list", "-o", "json"]));
    let bad = deployments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["version"] == "1.1.0")
        .cloned()
        .expect("the 1.1.0 deployment");

    // the alert opens an incident, and ana is paged
    let (first, paged_ana) = page(&ana_hook, "IncidentPage", 60);
    let labels = &first["alerts"][0]["labels"];
    let id = labels["incident"].as_str().unwrap().to_owned();
    assert_eq!(labels["oncall_user"], "ana");
    assert_eq!(labels["escalation_level"], "1");
    assert_eq!(labels["severity"], "SEV1", "critical alerts are SEV1");
    let view = json(&server.cli(&["incident", "show", &id, "-o", "json"]));
    assert_eq!(view["incident"]["severity"], "SEV1");
    assert_eq!(view["incident"]["title"], "AgentErrorRatioHigh on agent");
    assert_eq!(
        view["incident"]["plan"]["steps"][0]["state"]["state"], "awaiting_approval",
        "{view}"
    );

    // nobody acknowledges: bo is paged after level 1's 4 seconds
    let (second, paged_bo) = page(&bo_hook, "IncidentPage", 30);
    assert_eq!(second["alerts"][0]["labels"]["escalation_level"], "2");
    assert!(
        paged_bo - paged_ana >= Duration::from_millis(3500),
        "level 2 after the delay: {:?}",
        paged_bo - paged_ana
    );

    // the plan's rollback, approved, redeploys 1.0.0
    let approved = server.cli(&["incident", "approve", &id, "1"]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    let view = incident_until(&server, &id, 90, |v| {
        v["incident"]["plan"]["steps"][0]["state"]["state"] == "succeeded"
    });
    let detail = view["incident"]["plan"]["steps"][0]["state"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("rolled agent back to 1.0.0"), "{detail}");

    // the alert resolves, and the incident with it
    let view = incident_until(&server, &id, 90, |v| v["incident"]["status"] == "resolved");
    assert!(view["durations"]["resolve_seconds"].is_i64(), "{view}");

    // the likeliest cause is the 1.1.0 deployment, at its time
    let candidates = json(&server.cli(&["incident", "candidates", &id, "-o", "json"]));
    let top = &candidates[0];
    assert_eq!(top["id"], bad["id"], "{candidates}");
    assert_eq!(top["kind"], "deployment");
    assert_eq!(top["service"], "agent");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(top["at"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(bad["created_at"].as_str().unwrap()).unwrap(),
    );
    assert!(
        candidates
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["summary"].as_str().is_some_and(|s| !s.contains(&id))),
        "the incident's own rollback is no candidate: {candidates}"
    );
    let postmortem = server.cli(&["incident", "postmortem", &id]);
    let markdown = stdout(&postmortem);
    assert!(postmortem.status.success(), "{}", stderr(&postmortem));
    let bad_id = bad["id"].as_str().unwrap();
    assert!(
        markdown.contains(&format!("The likeliest cause is the deployment {bad_id}")),
        "{markdown}"
    );
    assert!(markdown.contains("agent 1.0.0 -> 1.1.0"), "{markdown}");
    // the impact from the objective: its budget burnt, tasks failed
    assert!(
        markdown.contains("agent: error budget burning at"),
        "{markdown}"
    );
    assert!(markdown.contains("tasks failed"), "{markdown}");

    // an unknown incident is refused with the reason, and a bad exit code
    let unknown = server.cli(&["incident", "ack", "inc-nope"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no incident inc-nope"),
        "{}",
        stderr(&unknown)
    );

    // the timeline has the page, the escalation, the rollback and the change
    let timeline = json(&server.cli(&["incident", "timeline", &id, "-o", "json"]));
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "change",
        "alert",
        "notification",
        "escalation",
        "action",
        "status",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {timeline}");
    }
    assert!(
        timeline
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "change" && e["text"].as_str().unwrap().contains(bad_id)),
        "the bad deployment is on the timeline: {timeline}"
    );
}
