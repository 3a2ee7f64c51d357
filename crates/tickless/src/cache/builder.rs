//! [`CacheBuilder`]: moka's builder names, on the global driver or an
//! explicit [`Handle`]; and building: the shards, their even shares of the
//! capacity, their alarms, the registration for `observe`.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hashbrown::DefaultHashBuilder;

use super::expiry::Expire;
use super::shard::State;
use super::{stats, Cache, Inner, Listener, RemovalCause, Shard, Weigher};
use crate::blocking::alarm::Alarm;
use crate::driver::Handle;

/// Configures a [`Cache`]: capacity (entries, or total weight with a
/// [`weigher`](CacheBuilder::weigher)), expiry, eviction listener, name.
///
/// Every setting is optional: [`build`](CacheBuilder::build) on a fresh
/// builder gives an unbounded cache whose entries never expire.
///
/// ```
/// use std::time::Duration;
/// use tickless::cache::Cache;
///
/// let cache: Cache<String, usize> = Cache::builder()
///     .max_capacity(1_000_000) // total weight: bytes of the keys
///     .weigher(|key: &String, _len: &usize| key.len() as u32)
///     .time_to_live(Duration::from_secs(600))
///     .time_to_idle(Duration::from_secs(60))
///     .name("lengths")
///     .build();
/// cache.insert("tickless".to_string(), 8);
/// assert_eq!(cache.weighted_size(), 8);
/// ```
pub struct CacheBuilder<K, V> {
    pub(super) handle: Handle,
    pub(super) max_capacity: Option<u64>,
    pub(super) ttl: Option<Duration>,
    pub(super) tti: Option<Duration>,
    pub(super) weigher: Option<Weigher<K, V>>,
    pub(super) listener: Option<Listener<K, V>>,
    pub(super) name: Option<String>,
    marker: PhantomData<fn(K, V)>,
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn on(handle: Handle) -> Self {
        CacheBuilder {
            handle,
            max_capacity: None,
            ttl: None,
            tti: None,
            weigher: None,
            listener: None,
            name: None,
            marker: PhantomData,
        }
    }

    /// The most entries the cache holds — or, with a weigher, the most total
    /// weight. After every call returns the cache holds at most this much
    /// (a capacity of 0 keeps nothing: every insert is evicted at once).
    pub fn max_capacity(mut self, max_capacity: u64) -> Self {
        self.max_capacity = Some(max_capacity);
        self
    }

    /// Every entry expires this long after it was inserted (or last replaced).
    /// Durations too large to represent mean "never".
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Every entry expires this long after it was last read or written
    /// (and never later than its time to live).
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Weighs each entry when it is inserted; the capacity is then total
    /// weight. An entry heavier than its shard's share of the capacity is
    /// never stored: it is handed to the listener as evicted by
    /// [`Size`](RemovalCause::Size) at once.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Called once for every entry that leaves the cache, with its key,
    /// value and why it left. Called with no lock held: on the thread of the
    /// call that removed the entry, or — for expiry with no call at all — on
    /// the driver's callback thread (never on its timer thread). A panic in
    /// it reaches the caller (or is caught and counted by
    /// [`Handle::callback_panics`]); the cache stays consistent. Entries
    /// still held when the cache is dropped are dropped without a call.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// A name, for diagnostics ([`Cache::name`]).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// The cache. Its expiry timers are attributed to the caller's line in
    /// [`observe`](crate::observe) snapshots.
    #[track_caller]
    pub fn build(self) -> Cache<K, V> {
        Cache::from_builder(self, Location::caller())
    }
}

impl Handle {
    /// A [`CacheBuilder`] on this driver (e.g. one on a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::clock::ManualClock;
    /// use tickless::Driver;
    ///
    /// let clock = ManualClock::new();
    /// let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    /// let cache = driver.handle().cache_builder().time_to_live(Duration::from_secs(5)).build();
    /// cache.insert(1, "one");
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(cache.get(&1), None, "never an expired value");
    /// ```
    pub fn cache_builder<K, V>(&self) -> CacheBuilder<K, V>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        CacheBuilder::on(self.clone())
    }
}

/// Most shards, and the least capacity a shard is given.
const MAX_SHARDS: usize = 64;
const MIN_SHARD_CAPACITY: u64 = 4096;

fn shard_count(max_capacity: Option<u64>) -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
    let mut n = (cpus * 4).next_power_of_two().min(MAX_SHARDS);
    if let Some(cap) = max_capacity {
        while n > 1 && cap / (n as u64) < MIN_SHARD_CAPACITY {
            n /= 2;
        }
    }
    n
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn from_builder(b: CacheBuilder<K, V>, site: &'static Location<'static>) -> Self {
        let n = shard_count(b.max_capacity);
        let origin = b.handle.now();
        let tick = b.handle.resolution();
        let inner = Arc::new_cyclic(|weak| {
            let shards = (0..n)
                .map(|i| {
                    // Even shares that add up to the capacity exactly.
                    let capacity = b.max_capacity.map_or(u64::MAX, |c| {
                        c / n as u64 + u64::from((i as u64) < c % n as u64)
                    });
                    let action = Expire {
                        inner: weak.clone(),
                        shard: i,
                    };
                    Shard {
                        state: Mutex::new(State::new(origin, tick, capacity, b.tti.is_some())),
                        alarm: Alarm::new(b.handle.clone(), site, action),
                    }
                })
                .collect();
            Inner {
                shards,
                hasher: DefaultHashBuilder::default(),
                origin: b.handle.offset_of(origin),
                handle: b.handle,
                ttl: b.ttl,
                tti: b.tti,
                weigher: b.weigher,
                listener: b.listener,
                name: b.name,
                max_capacity: b.max_capacity,
                site,
            }
        });
        stats::register(Arc::downgrade(&inner) as Weak<dyn stats::Source>);
        Cache { inner }
    }
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("max_capacity", &self.max_capacity)
            .field("time_to_live", &self.ttl)
            .field("time_to_idle", &self.tti)
            .field("weigher", &self.weigher.is_some())
            .field("eviction_listener", &self.listener.is_some())
            .field("name", &self.name)
            .finish()
    }
}
