//! Tests of the configuration: defaults, Alertmanager's checks and
//! messages, and where errors say they are.

use std::time::Duration;

use super::*;

const RECEIVERS: &str = "receivers: [{name: d}, {name: other}]\n";

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::load(text)
}

/// The error of loading `text`, as `path: message`.
fn error(text: &str) -> String {
    let err = load(text).expect_err("the configuration should be refused");
    match err.path.is_empty() {
        true => err.message,
        false => format!("{}: {}", err.path, err.message),
    }
}

#[test]
fn a_full_configuration_loads_with_alertmanagers_defaults() {
    let config = load(
        r#"
global:
  smtp_smarthost: 'mail.example.org:587'
  smtp_from: alertmanager@example.org
  slack_api_url: https://hooks.slack.com/services/x
route:
  receiver: team-mails
  group_by: [alertname, cluster]
  routes:
    - matchers: ['service=~"db|cache"', 'severity!="info"']
      receiver: team-pager
      continue: true
      group_wait: 10s
      mute_time_intervals: [weekends]
    - match: {code: 500, env: prod}
      match_re: {service: "api.*"}
      receiver: team-slack
      active_time_intervals: [offhours]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_match: {severity: warning}
    equal: [alertname, cluster]
receivers:
  - name: team-mails
    email_configs:
      - to: team@example.org
        headers: {subject: 'hi', x-mailer-name: steward}
  - name: team-pager
    pagerduty_configs: [{routing_key: 0123456789}]
    webhook_configs: [{url: 'http://127.0.0.1:5001/hook'}]
  - name: team-slack
    slack_configs: [{channel: '#ops'}]
    victorops_configs: [{routing_key: x}]
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: '18:00', end_time: '24:00'}]
mute_time_intervals:
  - name: weekends
    time_intervals: [{weekdays: [saturday, sunday]}]
"#,
    )
    .unwrap();
    assert_eq!(config.global.resolve_timeout, Duration::from_secs(300));
    assert_eq!(config.global.smtp_hello, "localhost");
    assert!(config.global.smtp_require_tls);
    let route = config.root_route();
    assert_eq!(route.group_by.labels, ["alertname", "cluster"]);
    assert_eq!(route.routes[0].group_wait, Some(Duration::from_secs(10)));
    assert_eq!(route.routes[0].matchers.0.len(), 2);
    // Numbers are label values as written, as Go reads them.
    assert_eq!(route.routes[1].match_eq["code"], "500");

    let mails = config.receiver("team-mails").unwrap();
    let email = &mails.email_configs[0];
    assert_eq!(email.from, "alertmanager@example.org");
    assert_eq!(
        email.smarthost.as_ref().unwrap().to_string(),
        "mail.example.org:587"
    );
    assert_eq!(email.hello, "localhost");
    assert_eq!(email.require_tls, Some(true));
    assert!(!email.send_resolved);
    // Header names in Go's title case; Subject as written.
    assert_eq!(email.headers["Subject"], "hi");
    assert_eq!(email.headers["X-Mailer-Name"], "steward");

    let pager = config.receiver("team-pager").unwrap();
    let pd = &pager.pagerduty_configs[0];
    assert_eq!(pd.routing_key.expose(), "0123456789");
    assert!(pd.send_resolved);
    assert_eq!(pd.severity, "error");
    assert_eq!(
        pd.url.as_ref().unwrap().as_str(),
        "https://events.pagerduty.com/v2/enqueue"
    );
    assert_eq!(pd.details.len(), 4);
    let webhook = &pager.webhook_configs[0];
    assert!(webhook.send_resolved);
    assert_eq!(webhook.max_alerts, 0);
    assert_eq!(
        webhook.url.as_ref().unwrap().expose(),
        "http://127.0.0.1:5001/hook"
    );
    // The global HTTP client is filled in.
    assert!(webhook.http_config.as_ref().unwrap().follow_redirects);

    let slack = &config.receiver("team-slack").unwrap().slack_configs[0];
    assert_eq!(
        slack.api_url.as_ref().unwrap().expose(),
        "https://hooks.slack.com/services/x"
    );
    assert!(slack.title.contains("slack.default.title"));
    // A secret URL never shows in debug output.
    assert!(!format!("{slack:?}").contains("hooks.slack.com"));

    assert_eq!(
        config.warnings(),
        ["receiver \"team-slack\": victorops_configs are accepted but steward does not send them"]
    );
    let intervals = config.time_intervals();
    assert!(intervals.0.contains_key("offhours") && intervals.0.contains_key("weekends"));

    let rule = &config.inhibit_rules[0];
    assert_eq!(rule.source().to_string(), r#"{severity="critical"}"#);
    assert_eq!(rule.target().to_string(), r#"{severity="warning"}"#);
    assert_eq!(rule.equal, ["alertname", "cluster"]);
}

#[test]
fn the_root_route_is_checked_as_alertmanager_checks_it() {
    assert_eq!(error(""), "no route provided in config");
    assert_eq!(error("# only a comment\n"), "no route provided in config");
    assert_eq!(error(RECEIVERS), "no routes provided");
    assert_eq!(
        error(&format!("route: {{group_by: [a]}}\n{RECEIVERS}")),
        "route.receiver: root route must specify a default receiver"
    );
    assert_eq!(
        error(&format!(
            "route: {{receiver: d, match: {{a: b}}}}\n{RECEIVERS}"
        )),
        "route: root route must not have any matchers"
    );
    assert_eq!(
        error(&format!(
            "route: {{receiver: d, matchers: ['a=b']}}\n{RECEIVERS}"
        )),
        "route: root route must not have any matchers"
    );
    assert_eq!(
        error(&format!(
            "route: {{receiver: d, continue: true}}\n{RECEIVERS}"
        )),
        "route.continue: cannot have continue in root route"
    );
    assert_eq!(
        error(&format!(
            "route: {{receiver: d, mute_time_intervals: [x]}}\n{RECEIVERS}"
        )),
        "route.mute_time_intervals: root route must not have any mute time intervals"
    );
    assert_eq!(
        error(&format!(
            "route: {{receiver: d, active_time_intervals: [x]}}\n{RECEIVERS}"
        )),
        "route.active_time_intervals: root route must not have any active time intervals"
    );
}

#[test]
fn references_to_receivers_and_time_intervals_must_resolve() {
    let text = format!(
        "route:\n  receiver: d\n  routes:\n    - receiver: other\n    - receiver: nope\n{RECEIVERS}"
    );
    assert_eq!(
        error(&text),
        r#"route.routes[1].receiver: undefined receiver "nope" used in route"#
    );
    let text = format!(
        "route:\n  receiver: d\n  routes:\n    - routes:\n        - mute_time_intervals: [x]\n{RECEIVERS}"
    );
    assert_eq!(
        error(&text),
        r#"route.routes[0].routes[0].mute_time_intervals[0]: undefined time interval "x" used in route"#
    );
    assert_eq!(
        error("route: {receiver: d}\nreceivers: [{name: d}, {name: d}]"),
        r#"receivers[1].name: notification config name "d" is not unique"#
    );
    assert_eq!(
        error("route: {receiver: d}\nreceivers: [{name: ''}]"),
        "receivers[0]: missing name in receiver"
    );
    let text = format!(
        "route: {{receiver: d}}\n{RECEIVERS}mute_time_intervals: [{{name: a}}]\ntime_intervals: [{{name: a}}]\n"
    );
    assert_eq!(
        error(&text),
        r#"time_intervals[0].name: time interval "a" is not unique"#
    );
    let text =
        format!("route: {{receiver: d}}\n{RECEIVERS}time_intervals: [{{time_intervals: []}}]\n");
    assert_eq!(
        error(&text),
        "time_intervals[0]: missing name in time interval"
    );
}

#[test]
fn route_fields_are_checked_where_they_are() {
    let route = |fields: &str| {
        error(&format!(
            "route:\n  receiver: d\n  routes:\n    - {fields}\n{RECEIVERS}"
        ))
    };
    assert!(
        route("{group_by: ['...', a]}").starts_with(
            "route.routes[0].group_by: cannot have wildcard group_by (`...`) and other labels"
        ),
        "{}",
        route("{group_by: ['...', a]}")
    );
    assert_eq!(
        route("{group_by: [a, a]}"),
        r#"route.routes[0].group_by: duplicated label "a" in group_by"#
    );
    assert_eq!(
        route("{group_by: [a-b]}"),
        r#"route.routes[0].group_by: invalid label name "a-b" in group_by list"#
    );
    assert_eq!(
        route("{repeat_interval: 0s}"),
        "route.routes[0].repeat_interval: repeat_interval cannot be zero"
    );
    assert_eq!(
        route("{group_interval: 0}"),
        "route.routes[0].group_interval: group_interval cannot be zero"
    );
    assert_eq!(
        route("{group_wait: 5x}"),
        r#"route.routes[0].group_wait: not a valid duration string: "5x""#
    );
    assert_eq!(
        route("{match: {a-b: x}}"),
        r#"route.routes[0].match: invalid label name "a-b""#
    );
    assert_eq!(
        route("{matchers: [a]}"),
        "route.routes[0].matchers: bad matcher format: a"
    );
    assert!(route("{match_re: {a: '('}}").starts_with("route.routes[0].match_re: "));
    assert!(route("{foo: 1}").starts_with("route.routes[0].foo: unknown field `foo`"));
    // A zero group wait is allowed, as in Alertmanager.
    let ok = format!("route: {{receiver: d, group_wait: 0}}\n{RECEIVERS}");
    assert_eq!(
        load(&ok).unwrap().root_route().group_wait,
        Some(Duration::ZERO)
    );
}

#[test]
fn errors_carry_the_line_of_the_yaml() {
    let err = load(&format!(
        "route:\n  receiver: d\n  routes:\n    - group_wait: soon\n{RECEIVERS}"
    ))
    .unwrap_err();
    assert_eq!(err.line, Some(4));
    assert_eq!(
        err.to_string(),
        r#"route.routes[0].group_wait: not a valid duration string: "soon" (line 4)"#
    );
}

#[test]
fn matchers_lines_may_hold_several_and_are_sorted() {
    let config = load(&format!(
        "route:\n  receiver: d\n  routes:\n    - matchers: ['{{z=\"1\", a=~\"x,y\"}}', 'm!=2']\n{RECEIVERS}"
    ))
    .unwrap();
    let matchers = &config.root_route().routes[0].matchers;
    assert_eq!(matchers.to_string(), r#"{a=~"x,y", m!="2", z="1"}"#);
}

#[test]
fn null_lists_and_maps_are_empty_as_in_go() {
    let config = load(
        "global:\nroute:\n  receiver: d\n  routes:\n  group_by:\ninhibit_rules:\nreceivers:\n  - name: d\n    webhook_configs:\ntemplates:\n",
    )
    .unwrap();
    assert!(config.root_route().routes.is_empty());
    assert_eq!(config.global.resolve_timeout, Duration::from_secs(300));
    assert!(config.receivers[0].webhook_configs.is_empty());
}

#[test]
fn receivers_are_checked_with_alertmanagers_messages() {
    let receiver = |body: &str| {
        error(&format!(
            "route: {{receiver: d}}\nreceivers: [{{name: d, {body}}}]"
        ))
    };
    assert_eq!(
        receiver("webhook_configs: [{}]"),
        "receivers[0].webhook_configs[0]: missing URL in webhook config"
    );
    assert_eq!(
        receiver("webhook_configs: [{url: 'ftp://x'}]"),
        r#"receivers[0].webhook_configs[0].url: unsupported scheme "ftp" for URL"#
    );
    assert_eq!(
        receiver("webhook_configs: [{url: 'http://'}]"),
        "receivers[0].webhook_configs[0].url: missing host for URL"
    );
    assert_eq!(
        receiver("email_configs: [{}]"),
        "receivers[0].email_configs[0]: missing to address in email config"
    );
    assert_eq!(
        receiver("email_configs: [{to: a@b}]"),
        "receivers[0].email_configs[0]: no global SMTP smarthost set"
    );
    assert_eq!(
        receiver("email_configs: [{to: a@b, smarthost: 'x:25'}]"),
        "receivers[0].email_configs[0]: no global SMTP from set"
    );
    assert_eq!(
        receiver("email_configs: [{to: a@b, smarthost: x, from: f}]"),
        "receivers[0].email_configs[0].smarthost: address x: missing port in address"
    );
    assert_eq!(
        receiver(
            "email_configs: [{to: a@b, smarthost: 'x:25', from: f, headers: {subject: a, Subject: b}}]"
        ),
        r#"receivers[0].email_configs[0]: duplicate header "Subject" in email config"#
    );
    assert_eq!(
        receiver("slack_configs: [{}]"),
        "receivers[0].slack_configs[0]: no global Slack API URL set either inline or in a file"
    );
    assert_eq!(
        receiver("pagerduty_configs: [{}]"),
        "receivers[0].pagerduty_configs[0]: missing service or routing key in PagerDuty config"
    );
    assert_eq!(
        receiver("opsgenie_configs: [{}]"),
        "receivers[0].opsgenie_configs[0]: no global OpsGenie API Key set either inline or in a file"
    );
    assert_eq!(
        receiver("opsgenie_configs: [{api_key: x, responders: [{type: team}]}]"),
        "receivers[0].opsgenie_configs[0]: opsGenieConfig responder {   team} has to have at least one of id, username or name specified"
    );
    assert_eq!(
        receiver("opsgenie_configs: [{api_key: x, responders: [{type: foo, name: x}]}]"),
        "receivers[0].opsgenie_configs[0]: opsGenieConfig responder { x  foo} type does not match valid options ^(team|teams|user|escalation|schedule)$"
    );
    assert_eq!(
        receiver("msteams_configs: [{}]"),
        "receivers[0].msteams_configs[0]: one of webhook_url or webhook_url_file must be configured"
    );
    assert!(
        receiver("webhook_configs: [{url: 'http://x', max_alerts: -1}]").starts_with(
            "receivers[0].webhook_configs[0].max_alerts: invalid type: integer `-1`, expected u64"
        )
    );
    assert!(
        receiver("jira_configs: [{}]")
            .starts_with("receivers[0].jira_configs: unknown field `jira_configs`")
    );
}

#[test]
fn global_secrets_take_a_value_or_a_file() {
    assert_eq!(
        error(
            "global: {slack_api_url: 'http://x', slack_api_url_file: /y}\nroute: {receiver: d}\nreceivers: [{name: d}]"
        ),
        "global: at most one of slack_api_url & slack_api_url_file must be configured"
    );
}

#[test]
fn opsgenie_and_teams_take_their_defaults() {
    let config = load(
        "global: {opsgenie_api_key: k, opsgenie_api_url: 'https://og.example/api'}\nroute: {receiver: d}\nreceivers:\n  - name: d\n    opsgenie_configs: [{responders: [{name: n, type: Team}]}]\n    msteams_configs: [{webhook_url: 'https://teams.example/hook'}]\n",
    )
    .unwrap();
    let og = &config.receivers[0].opsgenie_configs[0];
    assert_eq!(og.api_key.expose(), "k");
    assert_eq!(
        og.api_url.as_ref().unwrap().as_str(),
        "https://og.example/api/"
    );
    assert_eq!(og.responders[0].kind, "team");
    assert!(og.send_resolved);
    let teams = &config.receivers[0].msteams_configs[0];
    assert!(teams.send_resolved);
    assert!(teams.title.contains("msteams.default.title"));
}

#[test]
fn load_file_resolves_relative_paths_and_names_the_file() {
    let dir = std::env::temp_dir().join(format!("steward-alert-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alertmanager.yml");
    std::fs::write(
        &path,
        "templates: ['t/*.tmpl', /abs.tmpl]\nroute: {receiver: d}\nreceivers: [{name: d, webhook_configs: [{url: 'http://x', http_config: {bearer_token_file: token}}]}]\n",
    )
    .unwrap();
    let config = Config::load_file(&path).unwrap();
    assert_eq!(config.templates[0], dir.join("t/*.tmpl").to_string_lossy());
    assert_eq!(config.templates[1], "/abs.tmpl");
    let http = config.receivers[0].webhook_configs[0]
        .http_config
        .as_ref()
        .unwrap();
    assert_eq!(http.bearer_token_file, dir.join("token").to_string_lossy());

    std::fs::write(&path, "route: {receiver: x}\nreceivers: [{name: d}]\n").unwrap();
    let err = Config::load_file(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: route.receiver: undefined receiver \"x\" used in route",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn time_interval_errors_are_alertmanagers() {
    let interval = |body: &str| {
        error(&format!(
            "route: {{receiver: d}}\n{RECEIVERS}time_intervals:\n  - name: t\n    time_intervals: [{body}]\n"
        ))
    };
    assert_eq!(
        interval("{months: [jan]}"),
        "time_intervals[0].time_intervals[0].months[0]: jan is not a valid month"
    );
    assert_eq!(
        interval("{location: Mars/Base}"),
        "time_intervals[0].time_intervals[0].location: unknown time zone Mars/Base"
    );
    assert_eq!(
        interval("{time_zone: UTC}").split(',').next().unwrap(),
        "time_intervals[0].time_intervals[0].time_zone: unknown field `time_zone`"
    );
}

#[test]
fn scalars_are_read_as_written_as_go_reads_them() {
    let config = load(&format!(
        "route:\n  receiver: d\n  routes:\n    - match: {{version: 1.10, mask: 0x1F, mode: 010, on: yes, none: ~}}\n{RECEIVERS}"
    ))
    .unwrap();
    let matched = &config.root_route().routes[0].match_eq;
    assert_eq!(matched["version"], "1.10");
    assert_eq!(matched["mask"], "0x1F");
    assert_eq!(matched["mode"], "010");
    assert_eq!(matched["on"], "yes");
    assert_eq!(matched["none"], "");
}

#[test]
fn merge_keys_apply_as_in_alertmanager() {
    let config = load(
        r#"
route:
  receiver: d
  routes:
    - &base
      receiver: other
      group_wait: 10s
      match: {team: db}
      matchers: [a="1"]
    - <<: *base
      group_wait: 20s
      match: {env: prod}
      matchers: [b="1"]
receivers:
  - &r {name: d}
  - <<: *r
    name: other
"#,
    )
    .unwrap();
    let second = &config.root_route().routes[1];
    assert_eq!(second.receiver, "other");
    assert_eq!(second.group_wait, Some(Duration::from_secs(20)));
    // Maps are merged key by key, and matchers appended, as Go decodes them.
    assert_eq!(second.match_eq.len(), 2);
    assert_eq!(second.matchers.to_string(), r#"{a="1", b="1"}"#);
    assert_eq!(config.receivers[1].name, "other");
}

/// `http_config` blocks refused as Prometheus' `HTTPClientConfig.Validate`
/// (and `TLSConfig.Validate`, `ProxyConfig.Validate`) refuses them, with
/// its messages; each is a webhook's `http_config` (flow YAML) and the
/// message expected at `receivers[0].webhook_configs[0].http_config`
/// (with the key below it, when the error is a key's own).
const HTTP_CONFIG_ERRORS: &[(&str, &str, &str)] = &[
    (
        "{bearer_token: a, bearer_token_file: b}",
        "",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    (
        "{basic_auth: {username: u}, bearer_token: a}",
        "",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    (
        "{basic_auth: {username: u, password: p, password_file: /p}}",
        "",
        "at most one of basic_auth password & password_file must be configured",
    ),
    (
        "{basic_auth: {username: u, username_file: /u}}",
        "",
        "at most one of basic_auth username & username_file must be configured",
    ),
    (
        "{authorization: {credentials: c}, bearer_token_file: /t}",
        "",
        "authorization is not compatible with bearer_token & bearer_token_file",
    ),
    (
        "{authorization: {credentials: c, credentials_file: /c}}",
        "",
        "at most one of authorization credentials & credentials_file must be configured",
    ),
    (
        "{authorization: {type: ' Basic ', credentials: c}}",
        "",
        r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
    ),
    (
        "{authorization: {credentials: c}, basic_auth: {username: u}}",
        "",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    ),
    (
        "{oauth2: {client_id: a, client_secret: b, token_url: 'http://t'}}",
        ".oauth2",
        "oauth2 is not supported by steward; use basic_auth, authorization or bearer_token",
    ),
    (
        "{tls_config: {ca: x, ca_file: /ca.pem}}",
        ".tls_config",
        "at most one of ca and ca_file must be configured",
    ),
    (
        "{tls_config: {cert_file: /c.pem}}",
        ".tls_config",
        "exactly one of key or key_file must be configured when a client certificate is configured",
    ),
    (
        "{tls_config: {key_file: /k.pem}}",
        ".tls_config",
        "exactly one of cert or cert_file must be configured when a client key is configured",
    ),
    (
        "{tls_config: {key: k, key_file: /k.pem, cert_file: /c.pem}}",
        ".tls_config",
        "at most one of key and key_file must be configured",
    ),
    (
        "{tls_config: {min_version: TLS14}}",
        ".tls_config",
        "unknown TLS version: TLS14",
    ),
    (
        "{tls_config: {min_version: TLS13, max_version: TLS12}}",
        ".tls_config",
        "tls_config.max_version must be greater than or equal to tls_config.min_version, if tls_config.max_version is specified",
    ),
    (
        "{no_proxy: example.com}",
        "",
        "if no_proxy is configured, proxy_url must also be configured",
    ),
    (
        "{proxy_from_environment: true, proxy_url: 'http://proxy:3128'}",
        "",
        "if proxy_from_environment is configured, proxy_url must not be configured",
    ),
    (
        "{proxy_connect_header: {X-Auth: [a]}}",
        "",
        "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
    ),
    (
        "{proxy_url: 'socks5://user:pw@proxy:1080'}",
        "",
        r#"unsupported proxy_url scheme "socks5": steward reaches http and https proxies only"#,
    ),
    (
        "{follow_redirects: maybe}",
        ".follow_redirects",
        "invalid type: string \"maybe\", expected a boolean",
    ),
];

#[test]
fn http_configs_are_checked_as_prometheus_checks_them() {
    for (http, key, message) in HTTP_CONFIG_ERRORS {
        let text = format!(
            "route: {{receiver: d}}\nreceivers: [{{name: d, webhook_configs: [{{url: 'http://x', http_config: {http}}}]}}]"
        );
        assert_eq!(
            error(&text),
            format!("receivers[0].webhook_configs[0].http_config{key}: {message}"),
            "{http}"
        );
        // the same block as the global default is refused the same way
        let text = format!("global: {{http_config: {http}}}\nroute: {{receiver: d}}\n{RECEIVERS}");
        assert_eq!(
            error(&text),
            format!("global.http_config{key}: {message}"),
            "{http}"
        );
    }
    // unknown keys, as everywhere
    assert!(
        error("route: {receiver: d}\nreceivers: [{name: d, slack_configs: [{api_url: 'http://x', http_config: {proxy: x}}]}]")
            .starts_with("receivers[0].slack_configs[0].http_config.proxy: unknown field `proxy`")
    );
    // the email notifier's TLS settings are Prometheus' TLSConfig too
    assert_eq!(
        error("global: {smtp_tls_config: {cert: x}}\nroute: {receiver: d}\nreceivers: [{name: d}]"),
        "global.smtp_tls_config: exactly one of key or key_file must be configured when a client certificate is configured"
    );
    assert_eq!(
        error(
            "route: {receiver: d}\nreceivers: [{name: d, email_configs: [{to: a@b, smarthost: 'x:25', from: f, tls_config: {min_version: SSL3}}]}]"
        ),
        "receivers[0].email_configs[0].tls_config: unknown TLS version: SSL3"
    );
}

#[test]
fn an_http_config_error_carries_its_line() {
    let err = load(
        "route: {receiver: d}\nreceivers:\n  - name: d\n    webhook_configs:\n      - url: http://x\n        http_config:\n          oauth2:\n            client_id: a\n",
    )
    .unwrap_err();
    assert_eq!(
        err.path,
        "receivers[0].webhook_configs[0].http_config.oauth2"
    );
    // the line of the refused key
    assert_eq!(err.line, Some(7), "{err}");
}

#[test]
fn http_configs_load_with_prometheus_defaults_and_global_inheritance() {
    let config = load(
        r#"
global:
  slack_api_url: https://hooks.slack.com/services/x
  opsgenie_api_key: k
  http_config:
    basic_auth: {username: alerts, password: hunter2}
    proxy_url: http://user:proxypass@proxy.example:3128
    no_proxy: localhost,127.0.0.1
route: {receiver: d}
receivers:
  - name: d
    webhook_configs:
      - url: http://x/inherits
      - url: http://x/own
        http_config:
          authorization: {type: ' Token ', credentials: tok3n}
          follow_redirects: false
          tls_config: {insecure_skip_verify: true, server_name: hooks.internal, min_version: TLS13}
      - url: http://x/empty
        http_config:
    slack_configs: [{}]
    pagerduty_configs: [{routing_key: r}]
    opsgenie_configs: [{}]
    msteams_configs: [{webhook_url: 'https://teams.example/hook'}]
    email_configs: [{to: a@b, smarthost: 'x:25', from: f}]
"#,
    )
    .unwrap();
    let r = &config.receivers[0];
    let global = &config.global.http_config;
    assert_eq!(global.basic_auth.as_ref().unwrap().username, "alerts");
    // Every HTTP notifier without an http_config takes the global one
    // whole, as Alertmanager's config.go does; email has none.
    let inherited = [
        r.webhook_configs[0].http_config.as_ref(),
        r.webhook_configs[2].http_config.as_ref(),
        r.slack_configs[0].http_config.as_ref(),
        r.pagerduty_configs[0].http_config.as_ref(),
        r.opsgenie_configs[0].http_config.as_ref(),
        r.msteams_configs[0].http_config.as_ref(),
    ];
    for http in inherited {
        assert_eq!(http, Some(global));
    }
    // An own http_config replaces the global one (no merging), with
    // Prometheus' defaults for what it leaves out.
    let own = r.webhook_configs[1].http_config.as_ref().unwrap();
    assert_eq!(own.basic_auth, None);
    assert_eq!(own.proxy_url.expose(), "");
    let auth = own.authorization.as_ref().unwrap();
    assert_eq!(auth.kind, "Token");
    assert_eq!(auth.credentials.expose(), "tok3n");
    assert!(!own.follow_redirects);
    assert!(own.enable_http2);
    assert!(own.tls_config.insecure_skip_verify);
    assert_eq!(own.tls_config.server_name, "hooks.internal");
    // `authorization` without a type is Bearer.
    let bearer = load(
        "route: {receiver: d}\nreceivers: [{name: d, webhook_configs: [{url: 'http://x', http_config: {authorization: {credentials: c}}}]}]",
    )
    .unwrap();
    let http = bearer.receivers[0].webhook_configs[0].http_config.as_ref();
    assert_eq!(http.unwrap().authorization.as_ref().unwrap().kind, "Bearer");
    // No secret shows in debug output.
    let shown = format!("{config:?}");
    for secret in ["hunter2", "proxypass", "tok3n"] {
        assert!(!shown.contains(secret), "{secret} shows in {shown}");
    }
}
