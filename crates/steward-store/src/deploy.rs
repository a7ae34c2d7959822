//! Deployment state for steward-deploy: deployments (stored whole as
//! JSON beside the columns listings need), the deploy lock, and the spec
//! each service settled on. Implements [`steward_deploy::DeployStore`].

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Row, any::AnyRow};
use steward_core::{Name, NewEvent};
use steward_deploy::{DeployStore, Deployment, DeploymentSummary, LockHolder, ServiceSpec};

use crate::{Error, Result, Store};

const LOCK_NAME: &str = "deploy";

#[allow(clippy::needless_pass_by_value)] // used as `map_err(to_deploy)`
fn to_deploy(err: Error) -> steward_deploy::Error {
    steward_deploy::Error::Store(err.to_string())
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(table: &'static str, id: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| Error::Corrupt {
        table,
        id: id.to_owned(),
        detail: err.to_string(),
    })
}

fn holder(row: &AnyRow) -> Result<LockHolder> {
    Ok(LockHolder {
        deployment_id: row.try_get("deployment_id")?,
        host: row.try_get("host")?,
        pid: u32::try_from(row.try_get::<i64, _>("pid")?).unwrap_or_default(),
        pid_start: u64::try_from(row.try_get::<i64, _>("pid_start")?).unwrap_or_default(),
        since: from_millis(row.try_get("since_ms")?),
    })
}

impl Store {
    async fn lock_row(&self) -> Result<Option<LockHolder>> {
        let row = sqlx::query(
            "SELECT deployment_id, host, pid, pid_start, since_ms FROM deploy_lock WHERE name = $1",
        )
        .bind(LOCK_NAME)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(holder).transpose()
    }

    async fn save_deployment(&self, deployment: &Deployment, events: Vec<NewEvent>) -> Result<()> {
        let record = serde_json::to_string(deployment).expect("deployments serialize");
        let services = format!(
            ",{},",
            deployment
                .services
                .iter()
                .map(Name::as_str)
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO deployments (id, version, status, services, actor, created_at_ms, finished_at_ms, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at_ms = excluded.finished_at_ms, \
             services = excluded.services, record = excluded.record",
        )
        .bind(&deployment.id)
        .bind(deployment.release.version.as_str())
        .bind(deployment.status.as_str())
        .bind(&services)
        .bind(deployment.actor.as_str())
        .bind(millis(deployment.created_at))
        .bind(deployment.finished_at.map(millis))
        .bind(&record)
        .execute(tx.conn())
        .await?;
        if deployment.status.is_final() {
            let now = millis(Utc::now());
            for (service, spec) in deployment.outcome() {
                match spec {
                    Some(spec) => {
                        sqlx::query(
                            "INSERT INTO service_releases (service, version, deployment_id, updated_at_ms, spec) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service) DO UPDATE SET \
                             version = excluded.version, deployment_id = excluded.deployment_id, \
                             updated_at_ms = excluded.updated_at_ms, spec = excluded.spec",
                        )
                        .bind(service.as_str())
                        .bind(spec.version.as_str())
                        .bind(&deployment.id)
                        .bind(now)
                        .bind(serde_json::to_string(&spec).expect("specs serialize"))
                        .execute(tx.conn())
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM service_releases WHERE service = $1")
                            .bind(service.as_str())
                            .execute(tx.conn())
                            .await?;
                    }
                }
            }
        }
        for event in events {
            tx.append(event).await?;
        }
        tx.commit().await
    }

    async fn deployments_where(
        &self,
        filter: &str,
        bind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Deployment>> {
        let sql = format!(
            "SELECT id, record FROM deployments {filter} ORDER BY created_at_ms DESC, id DESC LIMIT {limit}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(value) = bind {
            query = query.bind(value.to_owned());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let record: String = row.try_get("record")?;
                decode("deployments", &id, &record)
            })
            .collect()
    }
}

#[async_trait]
impl DeployStore for Store {
    async fn try_lock(&self, holder: &LockHolder) -> steward_deploy::Result<Option<LockHolder>> {
        async {
            sqlx::query(
                "INSERT INTO deploy_lock (name, deployment_id, host, pid, pid_start, since_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
            )
            .bind(LOCK_NAME)
            .bind(&holder.deployment_id)
            .bind(&holder.host)
            .bind(i64::from(holder.pid))
            .bind(holder.pid_start as i64)
            .bind(millis(holder.since))
            .execute(self.pool())
            .await?;
            let current = self.lock_row().await?;
            Ok(current.filter(|current| {
                !(current.deployment_id == holder.deployment_id
                    && current.pid == holder.pid
                    && current.host == holder.host)
            }))
        }
        .await
        .map_err(to_deploy)
    }

    async fn take_over_lock(
        &self,
        stale: &LockHolder,
        holder: &LockHolder,
    ) -> steward_deploy::Result<bool> {
        let done = sqlx::query(
            "UPDATE deploy_lock SET deployment_id = $1, host = $2, pid = $3, pid_start = $4, since_ms = $5 \
             WHERE name = $6 AND deployment_id = $7 AND host = $8 AND pid = $9 AND pid_start = $10",
        )
        .bind(&holder.deployment_id)
        .bind(&holder.host)
        .bind(i64::from(holder.pid))
        .bind(holder.pid_start as i64)
        .bind(millis(holder.since))
        .bind(LOCK_NAME)
        .bind(&stale.deployment_id)
        .bind(&stale.host)
        .bind(i64::from(stale.pid))
        .bind(stale.pid_start as i64)
        .execute(self.pool())
        .await
        .map_err(|err| to_deploy(err.into()))?;
        Ok(done.rows_affected() == 1)
    }

    async fn unlock(&self, deployment_id: &str) -> steward_deploy::Result<()> {
        sqlx::query("DELETE FROM deploy_lock WHERE name = $1 AND deployment_id = $2")
            .bind(LOCK_NAME)
            .bind(deployment_id)
            .execute(self.pool())
            .await
            .map_err(|err| to_deploy(err.into()))?;
        Ok(())
    }

    async fn lock_holder(&self) -> steward_deploy::Result<Option<LockHolder>> {
        self.lock_row().await.map_err(to_deploy)
    }

    async fn save(
        &self,
        deployment: &Deployment,
        events: Vec<NewEvent>,
    ) -> steward_deploy::Result<()> {
        self.save_deployment(deployment, events)
            .await
            .map_err(to_deploy)
    }

    async fn get(&self, id: &str) -> steward_deploy::Result<Option<Deployment>> {
        let found = self
            .deployments_where("WHERE id = $1", Some(id), 1)
            .await
            .map_err(to_deploy)?;
        Ok(found.into_iter().next())
    }

    async fn list(
        &self,
        service: Option<&str>,
        limit: u32,
    ) -> steward_deploy::Result<Vec<DeploymentSummary>> {
        let found = match service {
            Some(service) => {
                self.deployments_where(
                    "WHERE services LIKE $1",
                    Some(&format!("%,{service},%")),
                    limit,
                )
                .await
            }
            None => self.deployments_where("", None, limit).await,
        }
        .map_err(to_deploy)?;
        Ok(found.iter().map(DeploymentSummary::from).collect())
    }

    async fn unfinished(&self) -> steward_deploy::Result<Vec<Deployment>> {
        self.deployments_where("WHERE status IN ('running', 'rolling_back')", None, 1000)
            .await
            .map_err(to_deploy)
    }

    async fn current(&self) -> steward_deploy::Result<Vec<ServiceSpec>> {
        async {
            let rows = sqlx::query("SELECT service, spec FROM service_releases ORDER BY service")
                .fetch_all(self.pool())
                .await?;
            rows.iter()
                .map(|row| {
                    let service: String = row.try_get("service")?;
                    let spec: String = row.try_get("spec")?;
                    decode("service_releases", &service, &spec)
                })
                .collect::<Result<Vec<ServiceSpec>>>()
        }
        .await
        .map_err(to_deploy)
    }

    async fn succeeded(
        &self,
        service: Option<&Name>,
        limit: u32,
    ) -> steward_deploy::Result<Vec<Deployment>> {
        match service {
            Some(service) => {
                self.deployments_where(
                    "WHERE status = 'succeeded' AND services LIKE $1",
                    Some(&format!("%,{service},%")),
                    limit,
                )
                .await
            }
            None => {
                self.deployments_where("WHERE status = 'succeeded'", None, limit)
                    .await
            }
        }
        .map_err(to_deploy)
    }

    async fn journal(&self, events: Vec<NewEvent>) -> steward_deploy::Result<()> {
        async {
            let mut tx = self.begin().await?;
            for event in events {
                tx.append(event).await?;
            }
            tx.commit().await
        }
        .await
        .map_err(to_deploy)
    }
}
