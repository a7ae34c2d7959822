//! API tokens: created with a role, stored only as a SHA-256 hash, listed,
//! revoked, and looked up when a request presents one.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{Row, any::AnyRow};
use steward_core::{Actor, Name, Role, Secret};

use crate::{Backend, Error, Result, Store, Tx};

/// Prefix of every token, so that a leaked one is recognisable (secret
/// scanners) and a token is never confused with its id.
pub const TOKEN_PREFIX: &str = "stw_";

/// Key of the PostgreSQL advisory lock that serializes the changes whose
/// check and write must not interleave across steward replicas: creating
/// the bootstrap admin token only when none exists, and revoking a token
/// only when an admin remains. Held until the transaction ends.
const ADMIN_TOKENS_LOCK: i64 = 0x0053_5445_5741_444d; // "STEWADM"

/// Names tried, in order, for the bootstrap admin token.
const BOOTSTRAP_NAMES: [&str; 2] = ["admin", "admin-bootstrap"];

/// How stale `last_used_at` may get before a request refreshes it; keeps
/// authentication from writing on every request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// How long a token found live is taken as live without asking the
/// database again.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The most tokens remembered; past it the cache starts over.
const TOKEN_CACHE_MAX: usize = 1024;

/// Tokens found live recently, by secret hash.
#[derive(Default)]
pub(crate) struct TokenCache(
    parking_lot::Mutex<std::collections::HashMap<String, (TokenInfo, std::time::Instant)>>,
);

impl TokenCache {
    fn get(&self, hashed: &str) -> Option<TokenInfo> {
        let cache = self.0.lock();
        let (info, at) = cache.get(hashed)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| info.clone())
    }

    fn put(&self, hashed: String, info: TokenInfo) {
        let mut cache = self.0.lock();
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hashed, (info, std::time::Instant::now()));
    }

    fn clear(&self) {
        self.0.lock().clear();
    }
}

/// What is known about a token (never its secret).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Public identifier, e.g. `tok_3f9a1c20`.
    pub id: String,
    /// Human name, unique among live tokens.
    pub name: Name,
    /// What the token may do.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: Actor,
    /// When it was last used (to within a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly created token: its secret is shown once and never stored.
#[derive(Debug)]
pub struct NewToken {
    /// The token's record.
    pub info: TokenInfo,
    /// The token itself, to hand to its user.
    pub secret: Secret<String>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

impl Tx {
    /// Creates a token. Fails with a conflict when a live token already has
    /// this name.
    pub async fn create_token(
        &mut self,
        name: &Name,
        role: Role,
        created_by: &Actor,
    ) -> Result<NewToken> {
        let secret = format!("{TOKEN_PREFIX}{}", random_hex(24));
        let id = format!("tok_{}", random_hex(4));
        let now = Utc::now();
        let store = self.store().clone();
        let inserted = store
            .timed(
                "token_create",
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, hash, created_at_ms, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&id)
                .bind(name.as_str())
                .bind(role.as_str())
                .bind(hash(&secret))
                .bind(now.timestamp_millis())
                .bind(created_by.as_str())
                .execute(self.conn()),
            )
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                return Err(Error::Conflict(format!(
                    "a live token named `{name}` already exists; revoke it or choose another name"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        let created_at = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        Ok(NewToken {
            info: TokenInfo {
                id,
                name: name.clone(),
                role,
                created_at,
                created_by: created_by.clone(),
                last_used_at: None,
                revoked_at: None,
            },
            secret: Secret::new(secret),
        })
    }

    /// Revokes the live token with this id or name.
    ///
    /// On PostgreSQL this takes the admin-token lock until the transaction
    /// ends, so that a caller who then checks [`Tx::live_admin_tokens`]
    /// sees every other revocation committed before: two concurrent
    /// revocations of the last two admin tokens cannot both pass that
    /// check.
    pub async fn revoke_token(&mut self, id_or_name: &str) -> Result<TokenInfo> {
        self.lock_admin_tokens().await?;
        self.store().inner_token_cache().clear();
        let now = Utc::now().timestamp_millis();
        let store = self.store().clone();
        let row = store
            .timed(
                "token_revoke",
                sqlx::query(&format!(
                    "UPDATE api_tokens SET revoked_at_ms = $1 \
                     WHERE (id = $2 OR name = $2) AND revoked_at_ms IS NULL RETURNING {COLUMNS}"
                ))
                .bind(now)
                .bind(id_or_name)
                .fetch_optional(self.conn()),
            )
            .await?;
        match row {
            Some(row) => token_from_row(&row),
            None => Err(Error::NotFound {
                what: format!("live token `{id_or_name}`"),
            }),
        }
    }
}

impl Tx {
    /// Creates the first admin token when no live admin token exists,
    /// named `admin` (or `admin-bootstrap` when a live non-admin token has
    /// that name); returns `None` when an admin token exists.
    ///
    /// Atomic across steward replicas sharing a PostgreSQL database: the
    /// check and the insert happen under the admin-token lock, held until
    /// this transaction ends, so of several instances starting at once
    /// exactly one creates a token. The caller hands the secret over
    /// before committing.
    pub async fn bootstrap_admin_token(&mut self) -> Result<Option<NewToken>> {
        self.lock_admin_tokens().await?;
        if self.live_admin_tokens().await? > 0 {
            return Ok(None);
        }
        let store = self.store().clone();
        let taken: Vec<String> = store
            .timed(
                "token_list",
                sqlx::query_scalar(
                    "SELECT name FROM api_tokens WHERE revoked_at_ms IS NULL AND name IN ($1, $2)",
                )
                .bind(BOOTSTRAP_NAMES[0])
                .bind(BOOTSTRAP_NAMES[1])
                .fetch_all(self.conn()),
            )
            .await?;
        let Some(name) = BOOTSTRAP_NAMES
            .into_iter()
            .find(|name| !taken.iter().any(|taken| taken == name))
        else {
            return Err(Error::Conflict(
                "tokens named `admin` and `admin-bootstrap` exist but neither is an admin; revoke one"
                    .into(),
            ));
        };
        let name = Name::new(name).expect("bootstrap names are valid");
        self.create_token(&name, Role::Admin, &Actor::system())
            .await
            .map(Some)
    }

    /// Takes the admin-token lock until the transaction ends: an advisory
    /// lock on PostgreSQL; on SQLite the database's write lock, taken by a
    /// write that changes nothing, so that a transaction which reads before
    /// it writes waits for the other writer instead of failing on a stale
    /// snapshot.
    async fn lock_admin_tokens(&mut self) -> Result<()> {
        let statement = match self.store().backend() {
            Backend::Postgres => sqlx::query(
                "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS admin_tokens_lock",
            )
            .bind(ADMIN_TOKENS_LOCK),
            Backend::Sqlite => sqlx::query("UPDATE api_tokens SET role = role WHERE 1 = 0"),
        };
        let store = self.store().clone();
        store
            .timed("token_lock", statement.execute(self.conn()))
            .await?;
        Ok(())
    }

    /// Number of live admin tokens as this transaction sees them.
    pub async fn live_admin_tokens(&mut self) -> Result<i64> {
        let store = self.store().clone();
        count_live_admins(&store, self.conn()).await
    }
}

async fn count_live_admins(store: &Store, conn: &mut sqlx::AnyConnection) -> Result<i64> {
    let count: i64 = store
        .timed(
            "token_count",
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM api_tokens WHERE role = $1 AND revoked_at_ms IS NULL",
            )
            .bind(Role::Admin.as_str())
            .fetch_one(conn),
        )
        .await?;
    Ok(count)
}

impl Store {
    /// All tokens, newest first; revoked ones only when asked.
    pub async fn tokens(&self, include_revoked: bool) -> Result<Vec<TokenInfo>> {
        let filter = if include_revoked {
            ""
        } else {
            "WHERE revoked_at_ms IS NULL"
        };
        let rows = self
            .timed(
                "token_list",
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_tokens {filter} ORDER BY created_at_ms DESC, id"
                ))
                .fetch_all(self.pool()),
            )
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// The live token whose secret this is, if any; refreshes its
    /// `last_used_at` when stale.
    ///
    /// A token found live is remembered for [`TOKEN_CACHE_TTL`]: a
    /// revocation in this process forgets every remembered token at once;
    /// one made by another process sharing the database (or racing this
    /// lookup) takes effect within that time.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<TokenInfo>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hashed = hash(secret);
        if let Some(info) = self.inner_token_cache().get(&hashed) {
            return Ok(Some(info));
        }
        let found = self.authenticate_uncached(&hashed).await?;
        if let Some(info) = &found {
            self.inner_token_cache().put(hashed, info.clone());
        }
        Ok(found)
    }

    async fn authenticate_uncached(&self, hashed: &str) -> Result<Option<TokenInfo>> {
        let row = self
            .timed(
                "token_authenticate",
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_tokens WHERE hash = $1 AND revoked_at_ms IS NULL"
                ))
                .bind(hashed)
                .fetch_optional(self.pool()),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut info = token_from_row(&row)?;
        let now = Utc::now();
        let stale = info.last_used_at.is_none_or(|used| {
            now.timestamp_millis() - used.timestamp_millis() >= LAST_USED_RESOLUTION_MS
        });
        if stale {
            self.timed(
                "token_touch",
                sqlx::query("UPDATE api_tokens SET last_used_at_ms = $1 WHERE id = $2")
                    .bind(now.timestamp_millis())
                    .bind(&info.id)
                    .execute(self.pool()),
            )
            .await?;
            info.last_used_at = DateTime::from_timestamp_millis(now.timestamp_millis());
        }
        Ok(Some(info))
    }

    /// Number of live admin tokens.
    pub async fn live_admin_tokens(&self) -> Result<i64> {
        let count: i64 = self
            .timed(
                "token_count",
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM api_tokens WHERE role = $1 AND revoked_at_ms IS NULL",
                )
                .bind(Role::Admin.as_str())
                .fetch_one(self.pool()),
            )
            .await?;
        Ok(count)
    }
}

const COLUMNS: &str = "id, name, role, created_at_ms, created_by, last_used_at_ms, revoked_at_ms";

fn token_from_row(row: &AnyRow) -> Result<TokenInfo> {
    let id: String = row.try_get("id")?;
    let corrupt = |detail: String| Error::Corrupt {
        table: "api_tokens",
        id: id.clone(),
        detail,
    };
    let time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        let millis: Option<i64> = row.try_get(column)?;
        millis
            .map(|ms| {
                DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("{column} {ms}")))
            })
            .transpose()
    };
    let name: String = row.try_get("name")?;
    let role: String = row.try_get("role")?;
    let created_by: String = row.try_get("created_by")?;
    Ok(TokenInfo {
        name: Name::new(name).map_err(|e| corrupt(e.to_string()))?,
        role: role
            .parse()
            .map_err(|e: steward_core::Error| corrupt(e.to_string()))?,
        created_at: time("created_at_ms")?
            .ok_or_else(|| corrupt("created_at_ms is null".into()))?,
        created_by: Actor::new(created_by).map_err(|e| corrupt(e.to_string()))?,
        last_used_at: time("last_used_at_ms")?,
        revoked_at: time("revoked_at_ms")?,
        id,
    })
}
