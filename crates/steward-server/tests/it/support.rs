//! Test fixtures: an application over a fresh store with a token of each
//! role, and a small client for `oneshot` requests.

use std::path::Path;

use axum::{
    Router,
    body::Body,
    body::Bytes,
    extract::State,
    http::{Method, Request, Response, StatusCode, header},
    routing::post,
};
use http_body_util::BodyExt;
use serde_json::Value;
use steward_config::{Environment, LoadedConfig, load_str};
use steward_core::{Actor, Name, Role};
use steward_server::{AppState, router};
use steward_store::{Store, testing::TestStore};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A configuration with two services, for status and validation.
pub(crate) const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[[services]]
name = "agent-worker"
replicas = 2
port = 18081
process.command = ["agent", "--port", "{port}"]
health = { http = "/healthz", interval = "5s" }

[[services]]
name = "gateway"
port = 18080
depends_on = ["agent-worker"]
process.command = ["gateway", "--port", "{port}"]
health = { tcp = true }

[[databases]]
name = "agents"
url = "sqlite://agents.db"
migrations = "migrations"
"#;

/// Migrations of the test database `agents`.
pub(crate) const MIGRATIONS: [(&str, &str); 4] = [
    (
        "V1__tasks.sql",
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY, prompt TEXT NOT NULL);",
    ),
    ("V1__tasks.down.sql", "DROP TABLE tasks;"),
    (
        "V2__runs.sql",
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, task_id INTEGER REFERENCES tasks (id));\nCREATE INDEX runs_task ON runs (task_id);",
    ),
    ("V2__runs.down.sql", "DROP TABLE runs;"),
];

/// Writes the migrations and loads [`CONFIG`] with `dir` as its base
/// directory.
pub(crate) fn config(dir: &Path) -> LoadedConfig {
    config_with(dir, "")
}

/// Like [`config`], with `server` (TOML lines) added to `[server]`.
pub(crate) fn config_with(dir: &Path, server: &str) -> LoadedConfig {
    let text = CONFIG.replacen(
        "listen = \"127.0.0.1:0\"\n",
        &format!("listen = \"127.0.0.1:0\"\n{server}\n"),
        1,
    );
    config_text(dir, &text)
}

/// Writes the migrations and loads `text` with `dir` as its base
/// directory.
pub(crate) fn config_text(dir: &Path, text: &str) -> LoadedConfig {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    for (name, sql) in MIGRATIONS {
        std::fs::write(dir.join("migrations").join(name), sql).unwrap();
    }
    load_str("test.toml", text, dir, &Environment::default()).expect("test config is valid")
}

/// An application over a fresh SQLite store, with tokens of every role.
pub(crate) struct App {
    pub(crate) router: Router,
    pub(crate) state: AppState,
    pub(crate) store: Store,
    pub(crate) admin: String,
    pub(crate) operator: String,
    pub(crate) viewer: String,
    _test: TestStore,
    pub(crate) dir: tempfile::TempDir,
    _shutdown: tokio_util::sync::DropGuard,
}

impl App {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let loaded = config(dir.path());
        Self::build(dir, loaded, true).await
    }

    /// An application over [`CONFIG`] with `server` (TOML lines) added to
    /// its `[server]` section, without a deployment manager.
    pub(crate) async fn with_server(server: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let loaded = config_with(dir.path(), server);
        Self::build(dir, loaded, false).await
    }

    /// An application over the configuration `toml` (with [`MIGRATIONS`]
    /// in `migrations/`), without a deployment manager.
    pub(crate) async fn from_toml(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let loaded = config_text(dir.path(), toml);
        Self::build(dir, loaded, false).await
    }

    /// An application over the configuration file `file` (so that
    /// reloads read it again), without a deployment manager.
    pub(crate) async fn from_file(dir: tempfile::TempDir, file: &Path) -> Self {
        let loaded =
            steward_config::load(file, &Environment::default()).expect("test config is valid");
        Self::build(dir, loaded, false).await
    }

    /// An application that serves the API only (no deployment manager).
    pub(crate) async fn without_deployments() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let loaded = config(dir.path());
        Self::build(dir, loaded, false).await
    }

    /// An application that runs deployments of `toml` on the process
    /// backend (replicas and their records in the test directory).
    pub(crate) async fn with_deployments(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load_str("test.toml", toml, dir.path(), &Environment::default())
            .expect("test config is valid");
        Self::build(dir, loaded, true).await
    }

    async fn build(dir: tempfile::TempDir, loaded: LoadedConfig, deployments: bool) -> Self {
        let test = steward_store::testing::sqlite().await;
        let store = test.store.clone();
        let mut tx = store.begin().await.unwrap();
        let mut tokens = Vec::new();
        for (name, role) in [
            ("root", Role::Admin),
            ("deployer", Role::Operator),
            ("watcher", Role::Viewer),
        ] {
            let name = Name::new(name).unwrap();
            tokens.push(
                tx.create_token(&name, role, &Actor::system())
                    .await
                    .unwrap()
                    .secret
                    .into_exposed(),
            );
        }
        tx.commit().await.unwrap();
        // The application's background work stops with the App.
        let shutdown = CancellationToken::new();
        let registry = prometheus::Registry::new();
        store.register_metrics(&registry).expect("store metrics");
        let mut state = AppState::new(store.clone(), loaded, registry, shutdown.clone());
        // a metrics store for the rules of the full application, and for
        // the AlertManager's enrichment (the current values of alerts'
        // expressions)
        let collector = (deployments || state.config().config.alerts.enabled()).then(|| {
            steward_metrics::MetricsCollector::start(
                &state.config().config.metrics,
                dir.path(),
                None,
            )
            .expect("metrics collector")
        });
        // steward's own AlertManager, when `[alerts]` configures one
        let alerts = steward_server::alerts::Alerts::start(
            state.config(),
            &store,
            "http://127.0.0.1:7400",
            collector.as_ref(),
            None,
        )
        .await
        .expect("alerts");
        if let Some(alerts) = &alerts {
            state = state.with_alerts(alerts.clone());
        }
        if deployments {
            let backend = steward_deploy::ProcessBackend::open(
                dir.path().join("replicas"),
                dir.path().join("logs"),
            )
            .await
            .expect("process backend");
            let metrics = steward_proxy::ProxyMetrics::register(state.registry()).expect("metrics");
            let proxies = steward_deploy::ProxySet::new(
                "127.0.0.1".parse().unwrap(),
                metrics,
                shutdown.clone(),
            );
            let (manager, background) = steward_deploy::DeploymentManager::new(
                std::sync::Arc::new(store.clone()),
                std::sync::Arc::new(backend),
                proxies,
                steward_deploy::ManagerOptions::new(dir.path(), "test"),
            );
            tokio::spawn(background.run(shutdown.clone()));
            state = state.with_deployments(manager);
            // the full application also evaluates rules over a metrics store
            let collector = collector.clone().expect("a metrics store with deployments");
            // a log store when LogQL rules read one (its API with it)
            let logs = (!state.config().config.rules.log_files.is_empty())
                .then(|| steward_server::logs::Logs::build(state.config()).expect("log store"))
                .flatten();
            if let Some(logs) = &logs {
                state = state.with_logs(logs.clone());
            }
            let rules = steward_server::rules::Rules::start(
                state.config(),
                &store,
                &collector,
                logs.as_ref(),
                "http://127.0.0.1:7400",
                alerts.as_ref().map(|a| {
                    a.sink(steward_server::rules::external_labels(
                        &state.config().config.rules,
                    ))
                }),
            )
            .await
            .expect("rules");
            state = state.with_rules(rules);
        }
        if let Some(collector) = collector {
            state = state.with_metrics_collector(collector);
        }
        let incidents = steward_server::incidents::Incidents::start(
            state.config(),
            &store,
            alerts.as_ref(),
            state.deployments(),
            state.metrics_collector(),
            "http://127.0.0.1:7400",
        )
        .await
        .expect("incidents");
        state = state.with_incidents(incidents);
        let (router, summaries) = router(state.clone());
        tokio::spawn(summaries.run(shutdown.clone()));
        App {
            router,
            state,
            store,
            viewer: tokens.pop().unwrap(),
            operator: tokens.pop().unwrap(),
            admin: tokens.pop().unwrap(),
            _test: test,
            dir,
            _shutdown: shutdown.drop_guard(),
        }
    }

    /// The deployment manager, when the app runs deployments.
    pub(crate) fn deployments(&self) -> Option<&steward_deploy::DeploymentManager> {
        self.state.deployments()
    }

    /// The journal's events of `kind` (a kind or a prefix), newest
    /// first, as a viewer reads them through the API.
    pub(crate) async fn events_of(&self, kind: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/events?kind={kind}"),
                Some(&self.viewer),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["events"].as_array().unwrap().clone()
    }

    /// [`events_of`](Self::events_of) once there is at least one, within
    /// 10 seconds (for what is journaled beside the work, not before the
    /// answer).
    pub(crate) async fn journaled(&self, kind: &str) -> Vec<Value> {
        for _ in 0..100 {
            let events = self.events_of(kind).await;
            if !events.is_empty() {
                return events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no {kind} event journaled");
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub(crate) async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, bytes) = self
            .call_raw(method, uri, token, body.map(|b| b.to_string()))
            .await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// Sends a request with a raw JSON body and returns the raw response body.
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Vec<u8>) {
        let response = self.send(request(method, uri, token, body)).await;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, bytes)
    }

    /// Sends a request and returns the response, its body unread.
    pub(crate) async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }
}

/// A request with a token and a raw JSON body when given.
pub(crate) fn request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body)),
        None => request.body(Body::empty()),
    }
    .unwrap()
}

/// `request` as if it came from `addr` (what the listener records).
pub(crate) fn from_addr(mut request: Request<Body>, addr: &str) -> Request<Body> {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    request
}

/// Asserts the standard error shape and returns its code.
pub(crate) fn error_code(body: &Value) -> &str {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    code
}

pub(crate) type Bodies = mpsc::UnboundedSender<Value>;

/// A webhook receiver on loopback; what it gets comes out of the channel.
pub(crate) async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|State(tx): State<Bodies>, body: Bytes| async move {
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or_default());
            }),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}
