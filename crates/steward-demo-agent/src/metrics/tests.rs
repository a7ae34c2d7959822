//! Unit tests for metric registration and exposition.

use super::*;

#[test]
fn every_family_has_help_and_type() {
    let m = Metrics::new("1.2.3").unwrap();
    m.observe_http("/healthz", "GET", 200, 0.001);
    m.task_finished("error", Some("tool_failed"), 0.5);
    m.llm_call("demo-mini", 100, 20, 0.001, 0.2);
    m.tool_call("web_search", 0.05);
    let text = m.render().unwrap();
    for name in [
        "demo_agent_http_request_duration_seconds",
        "demo_agent_http_requests_in_flight",
        "demo_agent_tasks_total",
        "demo_agent_tasks_in_flight",
        "demo_agent_task_errors_total",
        "demo_agent_task_duration_seconds",
        "demo_agent_llm_tokens_total",
        "demo_agent_llm_cost_usd_total",
        "demo_agent_llm_call_duration_seconds",
        "demo_agent_tool_call_duration_seconds",
        "demo_agent_build_info",
        "demo_agent_memory_bytes",
        "demo_agent_retained_memory_bytes",
        "demo_agent_ready",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "no TYPE for {name}"
        );
    }
    assert!(text.contains("demo_agent_build_info{version=\"1.2.3\"} 1\n"));
    assert!(
        text.contains(
            "demo_agent_llm_tokens_total{direction=\"prompt\",model=\"demo-mini\"} 100\n"
        )
    );
    assert!(text.contains(
        "demo_agent_llm_tokens_total{direction=\"completion\",model=\"demo-mini\"} 20\n"
    ));
    assert!(text.contains("demo_agent_task_errors_total{reason=\"tool_failed\"} 1\n"));
}

#[test]
fn task_outcomes_exist_before_the_first_task() {
    let text = Metrics::new("0").unwrap().render().unwrap();
    for outcome in TASK_OUTCOMES {
        assert!(text.contains(&format!(
            "demo_agent_tasks_total{{outcome=\"{outcome}\"}} 0\n"
        )));
    }
}

#[test]
fn in_flight_guards_decrement_on_drop() {
    let m = Metrics::new("0").unwrap();
    let a = m.task_in_flight();
    let b = m.task_in_flight();
    assert!(
        m.render()
            .unwrap()
            .contains("demo_agent_tasks_in_flight 2\n")
    );
    drop(a);
    drop(b);
    assert!(
        m.render()
            .unwrap()
            .contains("demo_agent_tasks_in_flight 0\n")
    );
}

#[test]
fn content_type_is_text_format_0_0_4() {
    assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4");
}

#[test]
fn vm_rss_is_read_in_bytes() {
    let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
    assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
    assert_eq!(parse_vm_rss("Name:\tx\n"), None);
}
