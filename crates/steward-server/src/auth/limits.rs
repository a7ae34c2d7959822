//! What one client may use of the API: a token bucket per client address,
//! in a table of bounded size, and a count of open event streams per
//! token.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus::IntGauge;
use tokio::time::Instant;

/// Most clients that get a bucket of their own. A client beyond them (a
/// flood from many addresses) shares one bucket with every other such
/// client until idle ones are evicted, so the table never grows past this.
pub(crate) const MAX_CLIENTS: usize = 10_000;

/// How often idle buckets are evicted when the table is not full.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The key a client is limited under: its IPv4 address, or the /64 prefix
/// of its IPv6 address (one host usually holds a whole /64, so keying on
/// the full address would let it pick a fresh bucket per request).
pub(crate) fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

/// One client's bucket: `tokens` at `at`, refilled at the limiter's rate.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Bucket {
            tokens: burst,
            at: now,
        }
    }

    fn tokens_at(&self, now: Instant, rate: f64, burst: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate).min(burst)
    }

    /// Takes one token, or says how long until one is there.
    fn take(&mut self, now: Instant, rate: f64, burst: f64) -> Result<(), Duration> {
        self.tokens = self.tokens_at(now, rate, burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    /// Shared by the clients that found the table full.
    overflow: Bucket,
    last_sweep: Instant,
}

/// A token bucket per client: `rate` requests per second on average,
/// `burst` at once.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    max_clients: usize,
    table: Mutex<Table>,
}

impl RateLimiter {
    /// A limiter of `rate` requests per second with bursts of `burst`
    /// (at least one), for at most `max_clients` clients at a time.
    pub(crate) fn new(rate: u32, burst: u32, max_clients: usize) -> Self {
        let burst = f64::from(burst.max(1));
        let now = Instant::now();
        RateLimiter {
            rate: f64::from(rate.max(1)),
            burst,
            max_clients: max_clients.max(1),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                overflow: Bucket::full(burst, now),
                last_sweep: now,
            }),
        }
    }

    /// Lets a request of `client` through, or says how long it should
    /// wait.
    pub(crate) fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (self.rate, self.burst);
        let mut table = self.table.lock().expect("rate limiter lock");
        if now.saturating_duration_since(table.last_sweep) >= SWEEP_EVERY {
            table.sweep(now, rate, burst);
        }
        if let Some(bucket) = table.buckets.get_mut(&client) {
            return bucket.take(now, rate, burst);
        }
        // Sweeping costs a pass over the table: at most once a second
        // when the table is full, not on every new client of a flood.
        if table.buckets.len() >= self.max_clients
            && now.saturating_duration_since(table.last_sweep) >= Duration::from_secs(1)
        {
            table.sweep(now, rate, burst);
        }
        if table.buckets.len() >= self.max_clients {
            return table.overflow.take(now, rate, burst);
        }
        let mut bucket = Bucket::full(burst, now);
        let taken = bucket.take(now, rate, burst);
        table.buckets.insert(client, bucket);
        taken
    }

    /// How many clients have a bucket now.
    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.table.lock().expect("rate limiter lock").buckets.len()
    }
}

impl Table {
    /// Evicts the buckets that have refilled: such a client is no
    /// different from one never seen.
    fn sweep(&mut self, now: Instant, rate: f64, burst: f64) {
        self.buckets
            .retain(|_, bucket| bucket.tokens_at(now, rate, burst) < burst);
        self.last_sweep = now;
    }
}

/// Open event streams per token, up to a maximum each.
#[derive(Clone)]
pub(crate) struct StreamSlots {
    max: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
    gauge: IntGauge,
}

impl StreamSlots {
    /// At most `max` streams per token; `0` for no limit.
    pub(crate) fn new(max: usize, gauge: IntGauge) -> Self {
        StreamSlots {
            max,
            open: Arc::default(),
            gauge,
        }
    }

    /// The most streams a token may hold, `0` for no limit.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A slot for one more stream of `token`, held until dropped; `None`
    /// when the token holds the most allowed.
    pub(crate) fn acquire(&self, token: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().expect("stream slots lock");
        let count = open.entry(token.to_owned()).or_insert(0);
        if self.max > 0 && *count >= self.max {
            return None;
        }
        *count += 1;
        self.gauge.inc();
        Some(StreamSlot {
            token: token.to_owned(),
            slots: self.clone(),
        })
    }

    /// Streams `token` holds now.
    #[cfg(test)]
    pub(crate) fn open(&self, token: &str) -> usize {
        let open = self.open.lock().expect("stream slots lock");
        open.get(token).copied().unwrap_or(0)
    }
}

/// One open event stream; frees its slot when dropped (the stream ended
/// or its client went away).
pub(crate) struct StreamSlot {
    token: String,
    slots: StreamSlots,
}

impl StreamSlot {
    /// Does nothing: a stream's body calls it so that it owns the slot.
    pub(crate) fn keep(&self) {}
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("stream slots lock");
        if let Some(count) = open.get_mut(&self.token) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.token);
            }
        }
        self.slots.gauge.dec();
    }
}
