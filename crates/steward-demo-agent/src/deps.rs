//! What a task depends on besides its simulated steps: an upstream agent
//! it calls first (a gateway in front of workers), and a database it
//! records the task in. Both are real, so that a failing worker fails
//! the gateway's tasks and a migration that slows writes slows tasks,
//! as steward's root-cause benchmark needs.

use std::{path::Path, str::FromStr, time::Duration};

use axum::body::Bytes;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::error::{Error, Result};

/// How long the upstream has to answer a task.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The upstream and the database, when configured.
#[derive(Debug, Clone, Default)]
pub struct Dependencies {
    upstream: Option<(reqwest::Client, String)>,
    database: Option<SqlitePool>,
}

impl Dependencies {
    /// Dependencies on `upstream` (a base URL) and `database` (a SQLite
    /// file); the database is opened at its first task.
    pub fn new(upstream: Option<&str>, database: Option<&Path>) -> Result<Self> {
        let upstream = upstream
            .map(|url| {
                reqwest::Client::builder()
                    .timeout(UPSTREAM_TIMEOUT)
                    .build()
                    .map(|client| (client, format!("{url}/v1/tasks")))
                    .map_err(|e| Error::InvalidConfig {
                        field: "--upstream",
                        reason: e.to_string(),
                    })
            })
            .transpose()?;
        let database = database
            .map(|path| {
                SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                    .map(|options| {
                        SqlitePoolOptions::new()
                            .max_connections(4)
                            .connect_lazy_with(options.busy_timeout(Duration::from_secs(5)))
                    })
                    .map_err(|e| Error::InvalidConfig {
                        field: "--database",
                        reason: e.to_string(),
                    })
            })
            .transpose()?;
        Ok(Dependencies { upstream, database })
    }

    /// Passes the task to the upstream: why it failed there, if it did.
    pub async fn call_upstream(&self, body: &Bytes) -> std::result::Result<(), String> {
        let Some((client, url)) = &self.upstream else {
            return Ok(());
        };
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| format!("upstream {url}: {e}"))?;
        match response.status().is_success() {
            true => Ok(()),
            false => Err(format!("upstream {url} answered {}", response.status())),
        }
    }

    /// Records a finished task: why it could not be, if it could not.
    pub async fn record(
        &self,
        id: &str,
        model: &str,
        succeeded: bool,
    ) -> std::result::Result<(), String> {
        let Some(pool) = &self.database else {
            return Ok(());
        };
        let now = chrono::Utc::now().to_rfc3339();
        sqlx::query(
            "INSERT INTO tasks (id, prompt, model, status, created_at, finished_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind("(demo)")
        .bind(model)
        .bind(if succeeded { "success" } else { "error" })
        .bind(&now)
        .bind(&now)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("recording the task: {e}"))
    }
}
