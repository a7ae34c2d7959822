//! The replicas behind one proxy: who is eligible, which one gets the next
//! request (smooth weighted round-robin, or least outstanding requests per
//! unit of weight), how many requests each has in flight, and waiting for
//! a draining one to go idle. A traffic split (`split.rs`) can put a
//! choice of group (canary or stable) before the choice of upstream.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::Notify;

mod split;

pub use split::TrafficGroup;
use split::{Scope, Split};

/// One replica the proxy may forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Unique within the proxy (the replica's id).
    pub id: String,
    /// Where the replica listens.
    pub addr: SocketAddr,
    /// Relative share of new requests; 0 takes none (but stays listed).
    pub weight: u32,
}

impl Upstream {
    /// An upstream of weight 1.
    pub fn new(id: impl Into<String>, addr: SocketAddr) -> Self {
        Upstream {
            id: id.into(),
            addr,
            weight: 1,
        }
    }
}

/// How the next upstream is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// Smooth weighted round-robin (the same order as nginx's): with weights
    /// 3 and 1, every four requests go A A B A, never bunched.
    #[default]
    RoundRobin,
    /// The upstream with the fewest requests in flight per unit of weight;
    /// ties go round-robin.
    LeastOutstanding,
}

/// Whether an upstream takes new requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamState {
    /// Takes new requests (when its weight is above 0).
    Active,
    /// Takes none; its in-flight requests finish.
    Draining,
}

/// What the proxy knows of one upstream now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamStatus {
    /// The upstream.
    pub upstream: Upstream,
    /// Active or draining.
    pub state: UpstreamState,
    /// Requests (HTTP) or connections (TCP) in flight.
    pub in_flight: usize,
}

/// The end of a drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    /// The upstream.
    pub id: String,
    /// Requests still in flight when the drain timeout passed (0: all
    /// finished).
    pub abandoned: usize,
}

/// An upstream with its live counters.
#[derive(Debug)]
pub(crate) struct Member {
    /// As added; the live weight is `weight`.
    pub(crate) upstream: Upstream,
    weight: AtomicU32,
    draining: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Member {
    fn new(upstream: Upstream) -> Arc<Self> {
        Arc::new(Member {
            weight: AtomicU32::new(upstream.weight),
            upstream,
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        })
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn weight(&self) -> u32 {
        self.weight.load(Ordering::SeqCst)
    }

    /// Waits until nothing is in flight, or `timeout` passes.
    pub(crate) async fn wait_idle(&self, timeout: Duration) -> Drained {
        let idle = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                // Registered before the check, so a guard dropped between
                // the check and the await still wakes us.
                notified.as_mut().enable();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let abandoned = match tokio::time::timeout(timeout, idle).await {
            Ok(()) => 0,
            Err(_) => self.in_flight(),
        };
        Drained {
            id: self.upstream.id.clone(),
            abandoned,
        }
    }
}

/// A request (or connection) in flight to an upstream; dropping it ends
/// it.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) member: Arc<Member>,
}

impl InFlight {
    fn start(member: Arc<Member>) -> Self {
        member.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight { member }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.member.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.member.idle.notify_waiters();
        }
    }
}

struct Slot {
    member: Arc<Member>,
    /// Smooth weighted round-robin's running score.
    current: i64,
}

/// The slots and the split, under one lock: a request sees a split and
/// the upstreams it names as they were at one moment, never a split set
/// halfway through an add or a switch.
struct PoolState {
    slots: Vec<Slot>,
    split: Option<Split>,
}

impl std::ops::Deref for PoolState {
    type Target = Vec<Slot>;
    fn deref(&self) -> &Vec<Slot> {
        &self.slots
    }
}

impl std::ops::DerefMut for PoolState {
    fn deref_mut(&mut self) -> &mut Vec<Slot> {
        &mut self.slots
    }
}

/// The upstreams of one proxy.
pub(crate) struct Pool {
    balance: Balance,
    slots: Mutex<PoolState>,
}

impl Pool {
    pub(crate) fn new(balance: Balance) -> Self {
        Pool {
            balance,
            slots: Mutex::new(PoolState {
                slots: Vec::new(),
                split: None,
            }),
        }
    }

    fn slots(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock cannot leave the slots half
        // changed (every change is one push, remove or assignment).
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Chooses an upstream for a new request, not `exclude` (the one whose
    /// connection just failed), and marks the request in flight.
    pub(crate) fn pick(&self, exclude: Option<&str>) -> Option<InFlight> {
        let mut state = self.slots();
        let PoolState { slots, split } = &mut *state;
        let takes = |slot: &Slot| {
            slot.member.weight() > 0
                && !slot.member.draining.load(Ordering::SeqCst)
                && exclude != Some(slot.member.upstream.id.as_str())
        };
        // The group first (when split), by the groups' weights; a group
        // whose members are all draining or excluded gives its turn to
        // the others, so a retry after a failed connection stays
        // possible.
        let scope = match split {
            None => Scope::All,
            Some(split) => split.choose(|id| {
                slots
                    .iter()
                    .any(|slot| slot.member.upstream.id == id && takes(slot))
            }),
        };
        let eligible = |slot: &Slot| takes(slot) && scope.admits(&slot.member.upstream.id);
        let total: i64 = slots
            .iter()
            .filter(|slot| eligible(slot))
            .map(|slot| i64::from(slot.member.weight()))
            .sum();
        if total == 0 {
            return None;
        }
        for slot in slots.iter_mut().filter(|slot| eligible(slot)) {
            slot.current += i64::from(slot.member.weight());
        }
        let chosen = match self.balance {
            Balance::RoundRobin => slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| eligible(slot))
                .max_by(|(ia, a), (ib, b)| a.current.cmp(&b.current).then(ib.cmp(ia)))
                .map(|(index, _)| index),
            Balance::LeastOutstanding => slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| eligible(slot))
                .min_by(|(ia, a), (ib, b)| {
                    // in_flight / weight, compared without division; the
                    // round-robin score breaks ties.
                    let load_a = a.member.in_flight() as u128 * u128::from(b.member.weight());
                    let load_b = b.member.in_flight() as u128 * u128::from(a.member.weight());
                    load_a
                        .cmp(&load_b)
                        .then(b.current.cmp(&a.current))
                        .then(ia.cmp(ib))
                })
                .map(|(index, _)| index),
        }?;
        let slot = &mut slots[chosen];
        slot.current -= total;
        Some(InFlight::start(Arc::clone(&slot.member)))
    }

    /// Adds an upstream; `false` when its id is taken.
    pub(crate) fn add(&self, upstream: Upstream) -> bool {
        let mut slots = self.slots();
        if slots
            .iter()
            .any(|slot| slot.member.upstream.id == upstream.id)
        {
            return false;
        }
        slots.push(Slot {
            member: Member::new(upstream),
            current: 0,
        });
        true
    }

    /// Changes an upstream's weight; `false` when unknown.
    pub(crate) fn set_weight(&self, id: &str, weight: u32) -> bool {
        let mut slots = self.slots();
        let Some(slot) = slots.iter_mut().find(|slot| slot.member.upstream.id == id) else {
            return false;
        };
        slot.member.weight.store(weight, Ordering::SeqCst);
        for slot in slots.iter_mut() {
            slot.current = 0;
        }
        true
    }

    /// Marks an upstream draining; its member, to wait on.
    pub(crate) fn start_drain(&self, id: &str) -> Option<Arc<Member>> {
        let slots = self.slots();
        let slot = slots.iter().find(|slot| slot.member.upstream.id == id)?;
        slot.member.draining.store(true, Ordering::SeqCst);
        Some(Arc::clone(&slot.member))
    }

    /// Removes an upstream (whatever it has in flight carries on).
    pub(crate) fn remove(&self, id: &str) -> bool {
        let mut slots = self.slots();
        let before = slots.len();
        slots.retain(|slot| slot.member.upstream.id != id);
        slots.len() != before
    }

    /// Makes `new` the active set and marks every other upstream draining,
    /// under one lock: no request sees a mix of neither. An upstream of
    /// `new` that is already present stays (active, with the new weight),
    /// so a switch to a set that partly serves already is one step.
    /// Returns the draining members.
    pub(crate) fn switch(&self, new: Vec<Upstream>) -> Vec<Arc<Member>> {
        let mut slots = self.slots();
        let mut old = Vec::new();
        for slot in slots.iter() {
            match new
                .iter()
                .find(|upstream| upstream.id == slot.member.upstream.id)
            {
                Some(kept) => {
                    slot.member.draining.store(false, Ordering::SeqCst);
                    slot.member.weight.store(kept.weight, Ordering::SeqCst);
                }
                None => {
                    slot.member.draining.store(true, Ordering::SeqCst);
                    old.push(Arc::clone(&slot.member));
                }
            }
        }
        for upstream in new {
            if !slots
                .iter()
                .any(|slot| slot.member.upstream.id == upstream.id)
            {
                slots.push(Slot {
                    member: Member::new(upstream),
                    current: 0,
                });
            }
        }
        old
    }

    /// Sends new requests to `groups` by their weights (an upstream in
    /// no group then takes requests only when no group with a weight has
    /// an eligible member); `None` ends the split. Within a group the
    /// upstreams' own weights apply. Replacing the split resets the
    /// groups' round-robin scores, as a weight change resets the
    /// upstreams'.
    pub(crate) fn set_split(&self, groups: Option<Vec<TrafficGroup>>) {
        self.slots().split = groups.map(Split::new);
    }

    /// The split now.
    pub(crate) fn split(&self) -> Option<Vec<TrafficGroup>> {
        self.slots().split.as_ref().map(Split::groups)
    }

    /// The upstreams now.
    pub(crate) fn snapshot(&self) -> Vec<UpstreamStatus> {
        self.slots()
            .iter()
            .map(|slot| UpstreamStatus {
                upstream: Upstream {
                    weight: slot.member.weight(),
                    ..slot.member.upstream.clone()
                },
                state: if slot.member.draining.load(Ordering::SeqCst) {
                    UpstreamState::Draining
                } else {
                    UpstreamState::Active
                },
                in_flight: slot.member.in_flight(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
