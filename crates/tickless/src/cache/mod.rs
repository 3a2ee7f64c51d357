//! [`Cache`]: a concurrent cache with a size bound and expiry that happens
//! on time — with no calls, no cleanup thread and no `run_pending_tasks`.
//!
//! moka's API (`Cache::builder().max_capacity(n).time_to_live(d)…`, `get`,
//! `insert`, `get_with`, `invalidate_all`, `entry_count`), so migrating is
//! mostly a rename. What differs is expiry: moka and Caffeine (without a
//! scheduler) expire entries only when the cache is used, so an idle cache
//! holds its expired entries and their memory. Here every entry is removed,
//! its value dropped and the listener called within one driver resolution
//! of its deadline (plus scheduling), whether or not anyone calls the cache:
//! each shard keeps its entries in its own [timing wheel](crate::queue::Wheel)
//! and one driver alarm for the wheel's next deadline (the protocol, its lock
//! order and why nothing is missed are in `cache/expiry.rs`).
//!
//! - **Never an expired value.** Reads compare the entry's deadline with the
//!   clock, so an entry is a miss from its deadline on, even in the instant
//!   before its timer runs. Deadlines round up to the driver's resolution
//!   (100 µs by default), as timers do.
//! - **Bounded.** After any call returns, the entries (or their total weight)
//!   are within [`max_capacity`](CacheBuilder::max_capacity).
//! - **W-TinyLFU eviction** (Caffeine's policy: an LRU window, a
//!   segmented-LRU main space and a frequency sketch at its door; the
//!   window sized by the ghosts of evicted keys, as ARC sizes its lists), chosen by hit ratio on the ARC paper's traces (see the README's
//!   "Cache" section).
//! - **Sharded.** Keys hash to one of up to 64 shards (4 per CPU, fewer for
//!   small capacities: each shard gets at least 4096 of capacity), each
//!   behind its own mutex; the capacity is split evenly between them, so a
//!   shard evicts on its own share.
//! - **Listener**: every entry that leaves is reported once, with its
//!   [`RemovalCause`], with no lock held.
//! - **Visible**: [`Cache::stats`] counts hits, misses and removals by
//!   cause; every live cache appears in its driver's
//!   [`observe`](crate::observe) snapshots and their Prometheus text
//!   (`tickless_cache_hits_total{cache="name"}`, …), and its expiry alarms
//!   as timers of the line that built it.
//!
//! # Cost
//!
//! Every operation is O(1): one hash, one shard lock, a table probe, O(1)
//! list and wheel updates; a clock read only for entries that can expire.
//! Memory per entry (`u64 → u64`): the node in the wheel (64 bytes with its
//! links and deadline; 8 more with a time to idle), 5–10 bytes of hash table, and 8 bytes of frequency
//! sketch per unit of capacity once the cache has filled halfway. Storage
//! is given back as entries leave.
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tickless::cache::RemovalCause;
//! use tickless::clock::ManualClock;
//!
//! // A driver on a manual clock, so the example cannot race real time
//! // (`Cache::builder()` builds on the global driver and the system clock).
//! let clock = ManualClock::new();
//! let driver = tickless::Driver::builder().clock(clock.clone()).build().unwrap();
//! let expired = Arc::new(AtomicUsize::new(0));
//! let seen = expired.clone();
//! let cache = driver.handle().cache_builder()
//!     .max_capacity(10_000)
//!     .time_to_live(Duration::from_millis(20))
//!     .eviction_listener(move |_key: u64, _value: String, cause| {
//!         if cause == RemovalCause::Expired {
//!             seen.fetch_add(1, Ordering::SeqCst);
//!         }
//!     })
//!     .build();
//! cache.insert(1, "one".to_string());
//! assert_eq!(cache.get(&1).as_deref(), Some("one"));
//! assert_eq!(cache.get_with(2, || "two".to_string()), "two");
//!
//! // No more calls: the entries still go, on time (the listener runs on
//! // the driver's callback thread; allow a slow machine).
//! clock.advance(Duration::from_millis(20));
//! let start = std::time::Instant::now();
//! while expired.load(Ordering::SeqCst) < 2 && start.elapsed() < Duration::from_secs(10) {
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//! assert_eq!(expired.load(Ordering::SeqCst), 2);
//! assert_eq!(cache.entry_count(), 0);
//! ```

mod builder;
mod expiry;
mod flight;
mod ghost;
mod iter;
mod now;
mod policy;
mod shard;
mod sketch;
mod stats;

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::Location;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashbrown::DefaultHashBuilder;

use crate::blocking::alarm::Alarm;
use crate::driver::Handle;
use crate::sync::lock_std;
pub use builder::CacheBuilder;
use expiry::Expire;
pub use iter::Iter;
use now::Now;
use shard::{Removed, State, NEVER};
pub(crate) use stats::on_driver as stats_on_driver;
pub use stats::CacheStats;

/// Why an entry left the cache, as the eviction listener is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemovalCause {
    /// Its time to live or time to idle passed.
    Expired,
    /// Removed by [`Cache::remove`] or [`Cache::invalidate_all`].
    Explicit,
    /// Its key was inserted again; the old value is reported.
    Replaced,
    /// Evicted to keep the cache within its capacity.
    Size,
}

impl RemovalCause {
    /// `true` for the causes the cache chose (`Expired`, `Size`), as moka reports.
    pub fn was_evicted(self) -> bool {
        matches!(self, RemovalCause::Expired | RemovalCause::Size)
    }
}

type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u32 + Send + Sync>;
type Listener<K, V> = Box<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// A concurrent cache with a size bound and active expiry (see the
/// [module docs](self)).
///
/// `Clone` shares the cache (an `Arc` inside). `K` is cloned only for
/// `get_with` and [`iter`](Cache::iter); `V` is cloned by every read, as in
/// moka: wrap large values in an `Arc`.
pub struct Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    shards: Box<[Shard<K, V>]>,
    hasher: DefaultHashBuilder,
    handle: Handle,
    /// The shards' wheels' origin in the driver's count
    /// (`Handle::offset_of`): deadlines go to ticks in integers.
    origin: i64,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    name: Option<String>,
    max_capacity: Option<u64>,
    /// The line that built the cache (its name in stats when unnamed).
    site: &'static Location<'static>,
}

struct Shard<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    state: Mutex<State<K, V>>,
    alarm: Arc<Alarm<Expire<K, V>>>,
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `max_capacity` entries, with no expiry, on the
    /// global driver.
    #[track_caller]
    pub fn new(max_capacity: u64) -> Self {
        Self::builder().max_capacity(max_capacity).build()
    }

    /// A [`CacheBuilder`] on the global driver.
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::on(Handle::current())
    }

    /// The value under `key`, if present and not expired (a clone).
    /// Counts as an access (for eviction and time to idle).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        let mut removed = Removed::new();
        let value = {
            let mut st = inner.lock(hash);
            st.get(hash, key, &mut inner.clock(), inner.tti, &mut removed, true)
                .cloned()
        };
        inner.notify(removed);
        value
    }

    /// `true` if a live entry is under `key` (not counted as an access).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        let st = inner.lock(hash);
        st.contains(hash, key, &mut inner.clock())
    }

    /// Inserts `value` under `key` with the cache's expiry, replacing (and
    /// reporting as [`Replaced`](RemovalCause::Replaced)) any value there;
    /// evicts down to the capacity before returning.
    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, value, self.inner.ttl);
    }

    /// [`insert`](Cache::insert) with its own time to live, instead of the
    /// cache's (its time to idle, if any, still applies).
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.inner.insert(key, value, Some(ttl));
    }

    /// Removes the entry under `key`; its value, if it was live (an expired
    /// one is removed as [`Expired`](RemovalCause::Expired) and `None` returned).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        let mut removed = Removed::new();
        let value = {
            let mut st = inner.lock(hash);
            st.remove(hash, key, &mut inner.clock(), &mut removed)
        };
        inner.notify(removed);
        value
    }

    /// [`remove`](Cache::remove), discarding the value (moka's name).
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove(key);
    }

    /// Removes every entry (each reported as [`Explicit`](RemovalCause::Explicit),
    /// or [`Expired`](RemovalCause::Expired) if past its deadline, on this
    /// thread) and gives their storage back.
    pub fn invalidate_all(&self) {
        let inner = &*self.inner;
        for (i, shard) in inner.shards.iter().enumerate() {
            let mut removed = Removed::new();
            {
                let mut st = lock_std(&shard.state);
                st.drain(&mut inner.clock(), &mut removed);
                inner.arm_next(i, &mut st);
            }
            inner.notify(removed);
        }
    }

    /// Entries held, expired ones not yet removed included (locks each shard in turn).
    pub fn entry_count(&self) -> u64 {
        self.inner.sum(|st| st.len() as u64)
    }

    /// Total weight held (the entry count without a weigher).
    pub fn weighted_size(&self) -> u64 {
        self.inner.sum(State::weight)
    }

    /// The capacity the cache was built with (`None`: unbounded).
    pub fn max_capacity(&self) -> Option<u64> {
        self.inner.max_capacity
    }

    /// The name given to the builder.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Hits, misses, removals by cause, entries and weight so far (locks
    /// each shard in turn). [`observe`](crate::observe) snapshots of the
    /// cache's driver list the same for every live cache.
    ///
    /// ```
    /// let cache = tickless::cache::Cache::builder().name("users").build();
    /// cache.insert(1, "ann");
    /// assert_eq!(cache.get(&1), Some("ann"));
    /// assert_eq!(cache.get(&2), None);
    /// let stats = cache.stats();
    /// assert_eq!((stats.name.as_str(), stats.hits, stats.misses, stats.entries), ("users", 1, 1, 1));
    /// assert_eq!(stats.hit_ratio(), 0.5);
    /// ```
    pub fn stats(&self) -> CacheStats {
        stats::Source::stats(&*self.inner)
    }

    /// Heap bytes the cache's own structures hold (entries' storage, tables,
    /// sketches; not what the keys and values own), for diagnostics.
    pub fn heap_bytes(&self) -> usize {
        self.inner.sum(|st| st.bytes() as u64) as usize
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    #[inline]
    fn index(&self, hash: u64) -> usize {
        // Bits hashbrown uses least (its buckets take the low bits, its tags the top 7).
        (hash >> 40) as usize & (self.shards.len() - 1)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Mutex<State<K, V>> {
        &self.shards[self.index(hash)].state
    }

    #[inline]
    fn lock(&self, hash: u64) -> std::sync::MutexGuard<'_, State<K, V>> {
        lock_std(self.shard(hash))
    }

    /// The driver's clock, read at most once per call (see `now.rs`).
    #[inline]
    fn clock(&self) -> Now<'_> {
        Now::new(&self.handle, self.origin)
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) {
        self.insert_with(key, value, ttl, false);
    }

    /// Inserts (see `Cache::insert`); `landing` also ends the key's flight
    /// in the same hold of the lock (`get_with`'s leader).
    fn insert_with(&self, key: K, value: V, ttl: Option<Duration>, landing: bool) {
        let hash = self.hasher.hash_one(&key);
        let weight = self.weigher.as_ref().map_or(1, |w| w(&key, &value));
        let mut clock = self.clock();
        let hard_at = ttl.map(|d| clock.after(d));
        let idle_at = self.tti.map(|d| clock.after(d));
        let i = self.index(hash);
        let mut removed = Removed::new();
        {
            let mut st = lock_std(&self.shards[i].state);
            if landing {
                st.flights.remove(&key);
            }
            let tick_of = |at: u64| st.wheel.tick_after_origin(Duration::from_nanos(at));
            let hard = hard_at.map_or(NEVER, tick_of);
            let tick = idle_at.map_or(hard, |at| tick_of(at).min(hard));
            if st.insert(
                hash,
                key,
                value,
                weight,
                tick,
                hard,
                &mut clock,
                &self.hasher,
                &mut removed,
            ) {
                self.arm_if_earlier(i, &mut st, tick);
            }
        }
        self.notify(removed);
    }

    /// Hands removed entries to the listener (no lock held), or drops them.
    fn notify(&self, removed: Removed<K, V>) {
        if let Some(listener) = &self.listener {
            for (key, value, cause) in removed {
                listener(key, value, cause);
            }
        }
    }

    fn sum(&self, f: impl Fn(&State<K, V>) -> u64) -> u64 {
        self.shards.iter().map(|s| f(&lock_std(&s.state))).sum()
    }
}

impl<K, V> Drop for Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        for shard in self.shards.iter() {
            shard.alarm.stop(); // frees the driver registration at once
        }
    }
}

impl<K, V> Clone for Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.inner.name)
            .field("max_capacity", &self.inner.max_capacity)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}
