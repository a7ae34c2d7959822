//! Silences as Alertmanager 0.25's `silence` package: matchers (regular
//! expressions too) and a time window; pending before it, active in it,
//! expired after it; edited in place only when that does not rewrite
//! history (`Silences.Set` and `canUpdate`), otherwise replaced by a new
//! silence while the old one expires; expired rather than deleted, and
//! garbage-collected a retention after their end. The [`Silencer`] tells
//! the notification pipeline which alerts the active silences mute.
//!
//! [`Silences`] holds every silence in memory (queries and the silencer
//! read it without waiting) and writes each change through a
//! [`SilenceStore`] before applying it, so a durable store never loses an
//! acknowledged silence. Time comes from an injected [`crate::clock::Clock`].
//!
//! One deliberate difference: a silence is expired from the instant of
//! its end on (Alertmanager: strictly after it), so that an expired
//! silence stops muting at once, also under a clock that does not move.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::alert::{Fingerprint, Marker, go_quote, is_valid_label_name};
use crate::clock::{SharedClock, chrono_duration};
use crate::dispatch::Muter;
use crate::{Error, LabelSet, MatchType, Matchers, Result};

/// A silence's state at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SilenceState {
    /// Its window has ended.
    Expired,
    /// In its window: it mutes matching alerts.
    Active,
    /// Its window has not started.
    Pending,
}

impl SilenceState {
    /// `expired`, `active` or `pending`, as API v2 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Expired => "expired",
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
        }
    }

    /// API v2's listing order: active, then pending, then expired.
    fn rank(self) -> u8 {
        match self {
            SilenceState::Active => 0,
            SilenceState::Pending => 1,
            SilenceState::Expired => 2,
        }
    }
}

impl fmt::Display for SilenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// Its id (a UUID); empty for a silence not created yet.
    pub id: String,
    /// The matchers an alert's labels must all match.
    pub matchers: Matchers,
    /// When it starts muting.
    pub starts_at: DateTime<Utc>,
    /// When it stops muting.
    pub ends_at: DateTime<Utc>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// A silence to create (no id yet; `updated_at` is set when stored).
    pub fn new(
        matchers: Matchers,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        created_by: impl Into<String>,
        comment: impl Into<String>,
    ) -> Self {
        Self {
            id: String::new(),
            matchers,
            starts_at,
            ends_at,
            updated_at: starts_at,
            created_by: created_by.into(),
            comment: comment.into(),
        }
    }

    /// Its state at `now`: pending before its start, expired from its
    /// end on, active between.
    pub fn state_at(&self, now: DateTime<Utc>) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now >= self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether its matchers all match `labels` (whatever its state).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers.matches(labels)
    }
}

/// Alertmanager's `validateSilence`, with its messages.
fn validate(silence: &Silence) -> Result<()> {
    let invalid = |msg: String| Err(Error::InvalidSilence(msg));
    if silence.matchers.0.is_empty() {
        return invalid("at least one matcher required".to_owned());
    }
    for (i, m) in silence.matchers.0.iter().enumerate() {
        if !is_valid_label_name(&m.name) {
            return invalid(format!(
                "invalid label matcher {i}: invalid label name {}",
                go_quote(&m.name)
            ));
        }
    }
    // Only `=` and `=~` count as matching the empty string here, as in
    // Alertmanager (`!=` and `!~` never do, even when they would).
    let matches_empty = |m: &crate::Matcher| match m.kind {
        MatchType::Equal | MatchType::Regexp => m.matches(""),
        MatchType::NotEqual | MatchType::NotRegexp => false,
    };
    if silence.matchers.0.iter().all(matches_empty) {
        return invalid("at least one matcher must not match the empty string".to_owned());
    }
    if silence.ends_at < silence.starts_at {
        return invalid("end time must not be before start time".to_owned());
    }
    Ok(())
}

/// Whether `old` can be changed into `new` in place without rewriting
/// what it silenced (Alertmanager's `canUpdate`): same matchers; if
/// active, the same start to the second (API v2 rounds times to the
/// millisecond, so a client sending back what it read must still match;
/// Alertmanager 0.25 compares Unix seconds) and an end not in the past;
/// if pending, a start not in the past; never once expired.
fn can_update(old: &Silence, new: &Silence, now: DateTime<Utc>) -> bool {
    if old.matchers != new.matchers {
        return false;
    }
    match old.state_at(now) {
        SilenceState::Active => {
            new.starts_at.timestamp() == old.starts_at.timestamp() && new.ends_at >= now
        }
        SilenceState::Pending => new.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A random version-4 UUID, as Alertmanager's silence ids.
fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Which silences a query selects; empty criteria select everything.
#[derive(Debug, Clone, Default)]
pub struct SilenceQuery {
    /// Only these ids.
    pub ids: Vec<String>,
    /// Only silences in one of these states (at the query's time).
    pub states: Vec<SilenceState>,
    /// Only silences whose matchers match this label set.
    pub matches: Option<LabelSet>,
}

impl SilenceQuery {
    fn selects(&self, s: &Silence, now: DateTime<Utc>) -> bool {
        (self.ids.is_empty() || self.ids.contains(&s.id))
            && (self.states.is_empty() || self.states.contains(&s.state_at(now)))
            && self.matches.as_ref().is_none_or(|l| s.matches(l))
    }
}

/// Where silences persist (steward-store implements it durably).
#[async_trait::async_trait]
pub trait SilenceStore: Send + Sync + 'static {
    /// Every stored silence (at start).
    async fn load(&self) -> Result<Vec<Silence>>;
    /// Creates or replaces the silence with this id.
    async fn save(&self, silence: &Silence) -> Result<()>;
    /// Deletes these silences (garbage collection).
    async fn remove(&self, ids: &[String]) -> Result<()>;
}

/// Silences kept only in memory.
#[derive(Debug, Default)]
pub struct MemSilenceStore(RwLock<HashMap<String, Silence>>);

impl MemSilenceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl SilenceStore for MemSilenceStore {
    async fn load(&self) -> Result<Vec<Silence>> {
        Ok(self.0.read().values().cloned().collect())
    }

    async fn save(&self, silence: &Silence) -> Result<()> {
        self.0.write().insert(silence.id.clone(), silence.clone());
        Ok(())
    }

    async fn remove(&self, ids: &[String]) -> Result<()> {
        let mut map = self.0.write();
        for id in ids {
            map.remove(id);
        }
        Ok(())
    }
}

/// All silences; cheap to clone (shared).
#[derive(Clone)]
pub struct Silences {
    inner: Arc<Inner>,
}

struct Inner {
    clock: SharedClock,
    retention: Duration,
    store: Arc<dyn SilenceStore>,
    silences: RwLock<HashMap<String, Silence>>,
    /// Serializes writers across the store's await, so that a `set`
    /// decides on the state it then changes.
    writes: tokio::sync::Mutex<()>,
    /// Bumped on every change (caches may key on it).
    version: AtomicU64,
}

impl fmt::Debug for Silences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Silences")
            .field("count", &self.inner.silences.read().len())
            .field("retention", &self.inner.retention)
            .finish_non_exhaustive()
    }
}

impl Silences {
    /// The silences of `store`, kept `retention` after their end.
    pub async fn new(
        store: Arc<dyn SilenceStore>,
        clock: SharedClock,
        retention: Duration,
    ) -> Result<Self> {
        let loaded = store.load().await?;
        let silences = loaded.into_iter().map(|s| (s.id.clone(), s)).collect();
        Ok(Self {
            inner: Arc::new(Inner {
                clock,
                retention,
                store,
                silences: RwLock::new(silences),
                writes: tokio::sync::Mutex::new(()),
                version: AtomicU64::new(0),
            }),
        })
    }

    /// Silences kept only in memory (tests, tools).
    pub async fn in_memory(clock: SharedClock, retention: Duration) -> Self {
        let store: Arc<dyn SilenceStore> = Arc::new(MemSilenceStore::new());
        Self::new(store, clock, retention)
            .await
            .expect("the in-memory store cannot fail")
    }

    /// The clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Counts changes; two equal versions saw the same silences.
    pub fn version(&self) -> u64 {
        self.inner.version.load(AtomicOrdering::Acquire)
    }

    /// Creates or changes a silence and returns its id, as API v2's
    /// `POST /silences` does: first its checks (the start must be before
    /// the end, the end not in the past), then `Silences.Set`. Without an
    /// id, a new silence (its start moved to now if in the past). With an
    /// id that does not exist: [`Error::SilenceNotFound`]. With an id
    /// whose silence can be changed in place (Alertmanager's `canUpdate`:
    /// same matchers; an active one keeps its start, to the second, and
    /// ends now or later; a pending one starts now or later), it is
    /// updated and keeps its id;
    /// otherwise the old silence expires (unless it has already) and a
    /// new one with a new id replaces it. Unlike Alertmanager, the new
    /// silence is validated before the old one expires, so a refused
    /// change changes nothing.
    pub async fn set(&self, mut silence: Silence) -> Result<String> {
        let _writing = self.inner.writes.lock().await;
        let now = self.now();
        if silence.starts_at >= silence.ends_at {
            return Err(Error::BadSilence(
                "start time must be before end time".to_owned(),
            ));
        }
        if silence.ends_at < now {
            return Err(Error::BadSilence(
                "end time can't be in the past".to_owned(),
            ));
        }
        let previous = match silence.id.is_empty() {
            true => None,
            false => Some(self.get(&silence.id).ok_or(Error::SilenceNotFound)?),
        };
        silence.updated_at = now;
        if let Some(prev) = &previous
            && can_update(prev, &silence, now)
        {
            validate(&silence)?;
            self.write(silence.clone()).await?;
            return Ok(silence.id);
        }
        silence.id = new_id();
        if silence.starts_at < now {
            silence.starts_at = now;
        }
        validate(&silence)?;
        if let Some(prev) = previous
            && prev.state_at(now) != SilenceState::Expired
        {
            self.write(expired(prev, now)).await?;
        }
        self.write(silence.clone()).await?;
        Ok(silence.id)
    }

    /// Expires a silence (Alertmanager never deletes one on request): an
    /// active one ends now, a pending one starts and ends now, an expired
    /// one stays as it is (idempotent, as Alertmanager 0.25 answers 200 to
    /// a second `DELETE`). An unknown id is [`Error::SilenceNotFound`].
    pub async fn expire(&self, id: &str) -> Result<()> {
        let _writing = self.inner.writes.lock().await;
        let now = self.now();
        let silence = self.get(id).ok_or(Error::SilenceNotFound)?;
        if silence.state_at(now) == SilenceState::Expired {
            return Ok(());
        }
        self.write(expired(silence, now)).await
    }

    async fn write(&self, silence: Silence) -> Result<()> {
        self.inner.store.save(&silence).await?;
        self.inner
            .silences
            .write()
            .insert(silence.id.clone(), silence);
        self.inner.version.fetch_add(1, AtomicOrdering::AcqRel);
        Ok(())
    }

    /// The silence with this id.
    pub fn get(&self, id: &str) -> Option<Silence> {
        self.inner.silences.read().get(id).cloned()
    }

    /// The silences the query selects (states at the clock's now), in API
    /// v2's order: active ones by end, then pending ones by start, then
    /// expired ones latest end first (ties by id).
    pub fn query(&self, query: &SilenceQuery) -> Vec<Silence> {
        let now = self.now();
        let mut found: Vec<Silence> = self
            .inner
            .silences
            .read()
            .values()
            .filter(|s| query.selects(s, now))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            let (sa, sb) = (a.state_at(now), b.state_at(now));
            sa.rank()
                .cmp(&sb.rank())
                .then_with(|| match sa {
                    SilenceState::Active => a.ends_at.cmp(&b.ends_at),
                    SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
                    SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
                })
                .then_with(|| a.id.cmp(&b.id))
        });
        found
    }

    /// How many silences are in `state` now.
    pub fn count(&self, state: SilenceState) -> usize {
        let now = self.now();
        self.inner
            .silences
            .read()
            .values()
            .filter(|s| s.state_at(now) == state)
            .count()
    }

    /// The ids of the silences active at `now` that match `labels`, sorted
    /// (an alert's `silencedBy`).
    pub fn silenced_by(&self, labels: &LabelSet, now: DateTime<Utc>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .inner
            .silences
            .read()
            .values()
            .filter(|s| s.state_at(now) == SilenceState::Active && s.matches(labels))
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Deletes the silences that ended a retention ago or more; returns
    /// how many.
    pub async fn gc(&self) -> Result<usize> {
        let _writing = self.inner.writes.lock().await;
        let horizon = self.now() - chrono_duration(self.inner.retention);
        let ids: Vec<String> = self
            .inner
            .silences
            .read()
            .values()
            .filter(|s| s.ends_at <= horizon)
            .map(|s| s.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        self.inner.store.remove(&ids).await?;
        let mut map = self.inner.silences.write();
        for id in &ids {
            map.remove(id);
        }
        self.inner.version.fetch_add(1, AtomicOrdering::AcqRel);
        Ok(ids.len())
    }
}

/// The silence expired at `now` (Alertmanager's `expire`).
fn expired(mut silence: Silence, now: DateTime<Utc>) -> Silence {
    if silence.state_at(now) == SilenceState::Pending {
        silence.starts_at = now;
    }
    silence.ends_at = now;
    silence.updated_at = now;
    silence
}

/// Mutes alerts that active silences match, and records on the marker
/// which silences those are.
#[derive(Debug, Clone)]
pub struct Silencer {
    silences: Silences,
    marker: Marker,
}

impl Silencer {
    /// A silencer over `silences` that marks alerts on `marker`.
    pub fn new(silences: Silences, marker: Marker) -> Self {
        Self { silences, marker }
    }
}

impl Muter for Silencer {
    fn mutes(&self, labels: &LabelSet, now: DateTime<Utc>) -> bool {
        let ids = self.silences.silenced_by(labels, now);
        let muted = !ids.is_empty();
        self.marker.set_silenced(Fingerprint::of(labels), ids);
        muted
    }
}

#[cfg(test)]
mod tests;
