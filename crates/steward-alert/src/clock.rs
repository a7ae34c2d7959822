//! Wall-clock time for the AlertManager, injected so that tests control
//! it: alerts, silences and the notification log compare wall times
//! (`startsAt`, `endsAt`, a silence's window, the last notification),
//! while the dispatcher's timers run on tokio's clock. [`TokioClock`]
//! derives the first from the second, so that with paused tokio time both
//! advance together.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

/// A source of the current wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared by the AlertManager's parts.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wall time read through tokio's clock: a wall time fixed when the clock
/// is made plus the tokio time elapsed since. Under paused tokio time
/// (tests) it advances only when tokio's time does, so timers and
/// timestamps agree exactly.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base_wall: DateTime<Utc>,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// A clock starting at the system's current time.
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `wall` now (tests pick a fixed date).
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Self {
            base_wall: wall,
            base: tokio::time::Instant::now(),
        }
    }

    /// The wall time of a tokio instant.
    pub fn wall_at(&self, at: tokio::time::Instant) -> DateTime<Utc> {
        match at.checked_duration_since(self.base) {
            Some(after) => self.base_wall + chrono_duration(after),
            None => self.base_wall - chrono_duration(self.base.duration_since(at)),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.wall_at(tokio::time::Instant::now())
    }
}

/// A clock that moves only when told to (unit tests without a runtime).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock() += chrono_duration(by);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock()
    }
}

/// A std duration as chrono's, saturating at chrono's maximum (far beyond
/// any interval a configuration can hold).
pub(crate) fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}
