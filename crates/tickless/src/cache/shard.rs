//! One shard: its entries (stored once, in the shard's own timing wheel,
//! where each entry's tick is its deadline; entries without one are shelved
//! there, on no list), the hash table that finds them,
//! the eviction lists and the in-flight `get_with` initializers — all behind
//! the shard's one mutex, held by [`State`]'s callers.
//!
//! Everything here runs under that lock and so calls no user code but the
//! key's `Hash`/`Eq`: removed entries are handed back in a [`Removed`] list
//! for the caller to pass to the listener (and drop) after unlocking.
//!
//! Cost per entry (`u64 → u64`): the wheel slot (node 32 bytes + 26 of
//! links, deadline and generation, 64 in all), a `u32` in the table (5
//! bytes with its control byte, at a load of ½–⅞), and with a time to idle
//! 8 bytes of hard deadline.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::hash_table::{self, HashTable};

use super::flight::Flight;
use super::now::Now;
use super::policy::{Node, Policy, MAX_ENTRIES};
use super::stats::Counts;
use super::RemovalCause;
use crate::queue::{TimerQueue, Wheel};

/// Entries taken out under the lock, for the listener (and to be dropped
/// after it). The first is kept inline: most calls remove at most one, and
/// then allocate nothing.
pub(super) struct Removed<K, V> {
    first: Option<(K, V, RemovalCause)>,
    rest: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Removed<K, V> {
    pub(super) fn new() -> Self {
        Removed {
            first: None,
            rest: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, entry: (K, V, RemovalCause)) {
        if self.first.is_none() {
            self.first = Some(entry);
        } else {
            self.rest.push(entry);
        }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn last(&self) -> Option<&(K, V, RemovalCause)> {
        self.rest.last().or(self.first.as_ref())
    }
}

impl<K, V> IntoIterator for Removed<K, V> {
    type Item = (K, V, RemovalCause);
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<(K, V, RemovalCause)>,
        std::vec::IntoIter<(K, V, RemovalCause)>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

/// A deadline tick for entries that never expire.
pub(super) const NEVER: u64 = u64::MAX;

pub(super) struct State<K, V> {
    table: HashTable<u32>,
    pub(super) wheel: Wheel<Node<K, V>>,
    policy: Policy,
    /// Keys whose `get_with` initializer runs now.
    pub(super) flights: HashMap<K, Arc<Flight<V>>>,
    /// The deadline the shard's alarm is armed for (`None`: not armed).
    pub(super) armed: Option<u64>,
    /// Indices and key hashes evicted by the policy (kept to reuse its allocation).
    scratch: Vec<(u32, u64)>,
    /// With a time to idle: per slab index, the TTL or per-entry deadline
    /// tick that idle extensions never pass (`NEVER`: none). Without one the
    /// wheel's tick is that deadline, and this costs nothing.
    hard: Option<Vec<u64>>,
    pub(super) counts: Counts,
}

/// Records the hard deadline of the entry at `index` in `hard` (kept only
/// with a time to idle).
#[inline]
fn set_hard(hard: &mut Option<Vec<u64>>, index: u32, deadline: u64) {
    if let Some(h) = hard {
        let i = index as usize;
        if h.len() <= i {
            h.resize(i + 1, NEVER);
        }
        h[i] = deadline;
    }
}

/// Whether an entry at `tick` (`NEVER`: no deadline) has expired at `now`:
/// the coarse bound decides "not yet" alone; the exact clock decides the rest.
#[inline]
fn expired_at<K, V>(wheel: &Wheel<Node<K, V>>, tick: u64, now: &mut Now<'_>) -> bool {
    tick != NEVER
        && wheel.floor_tick_after_origin(Duration::from_nanos(now.upper())) >= tick
        && wheel.floor_tick(now.exact()) >= tick
}

impl<K: Hash + Eq, V> State<K, V> {
    pub(super) fn new(
        origin: Instant,
        tick: std::time::Duration,
        capacity: u64,
        idle: bool,
    ) -> Self {
        State {
            table: HashTable::new(),
            wheel: Wheel::with_tick(origin, tick),
            policy: Policy::new(capacity),
            flights: HashMap::new(),
            armed: None,
            scratch: Vec::new(),
            hard: idle.then(Vec::new),
            counts: Counts::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn weight(&self) -> u64 {
        self.policy.weight()
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let wheel = &self.wheel;
        self.table
            .find(hash, |&i| wheel.value_at(i).key.borrow() == key)
            .copied()
    }

    /// `true` if the entry at `index` has expired at `now` (read only if
    /// the entry has a deadline: the coarse bound first — while even it has
    /// not reached the entry's tick, neither has the true time —, the exact
    /// clock only once it has).
    #[inline]
    fn expired(&self, index: u32, now: &mut Now<'_>) -> bool {
        expired_at(&self.wheel, self.wheel.tick_at(index), now)
    }

    /// The value under `key`, counting a hit or a miss (and the key's
    /// frequency) if `count` — a `*get_with` that looks again after its
    /// leader failed has counted its read already. An expired entry is
    /// removed (into `removed`) and not returned. With `idle` ticks set (a
    /// time-to-idle), a hit pushes the deadline out to `now + idle`, never
    /// past the entry's hard deadline.
    #[inline]
    pub(super) fn get<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: &mut Now<'_>,
        idle: Option<std::time::Duration>,
        removed: &mut Removed<K, V>,
        count: bool,
    ) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(index) = self.find(hash, key) else {
            if count {
                self.policy.missed(hash);
                self.counts.misses += 1;
            }
            return None;
        };
        if self.expired(index, now) {
            self.counts.misses += u64::from(count);
            self.remove_at(hash, index, RemovalCause::Expired, removed);
            return None;
        }
        if count {
            self.policy.record(hash);
            self.counts.hits += 1;
        }
        if let Some(idle) = idle {
            let extended = self
                .wheel
                .tick_after_origin(Duration::from_nanos(now.after(idle)));
            let hard = self.hard.as_ref().map_or(NEVER, |h| h[index as usize]);
            self.wheel.reset_or_shelve(index, extended.min(hard));
        }
        self.policy.touch(&mut self.wheel, index);
        Some(&self.wheel.value_at(index).value)
    }

    /// `true` if a live entry is under `key` (no hit counted, nothing removed).
    pub(super) fn contains<Q>(&self, hash: u64, key: &Q, now: &mut Now<'_>) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, key)
            .is_some_and(|index| !self.expired(index, now))
    }

    /// Inserts or replaces; evicts down to the capacity. `tick` is the
    /// deadline (`NEVER` for none), `hard` the bound idle extensions keep to.
    /// Returns `false` if the entry alone outweighs the shard, or the shard
    /// holds its limit of 2³⁰ − 2 entries (it is then handed back as evicted
    /// by `Size`, and nothing else changes).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        tick: u64,
        hard: u64,
        now: &mut Now<'_>,
        hasher: &impl BuildHasher,
        removed: &mut Removed<K, V>,
    ) -> bool {
        let full = self.table.len() >= MAX_ENTRIES;
        if u64::from(weight) > self.policy.capacity() || (full && self.find(hash, &key).is_none()) {
            if let Some(index) = self.find(hash, &key) {
                self.remove_at(hash, index, RemovalCause::Replaced, removed);
            }
            self.counts.removed(RemovalCause::Size);
            removed.push((key, value, RemovalCause::Size));
            return false;
        }
        // One probe finds the key or the slot for it.
        let wheel = &self.wheel;
        let entry = self.table.entry(
            hash,
            |&i| wheel.value_at(i).key == key,
            |&i| hasher.hash_one(&wheel.value_at(i).key),
        );
        match entry {
            hash_table::Entry::Occupied(occupied) => {
                let index = *occupied.get();
                let cause = if self.expired(index, now) {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Replaced
                };
                let node = self.wheel.value_at_mut(index);
                let old_value = std::mem::replace(&mut node.value, value);
                let old_weight = std::mem::replace(&mut node.weight, weight);
                self.wheel.reset_or_shelve(index, tick);
                set_hard(&mut self.hard, index, hard);
                self.policy.reweigh(&self.wheel, index, old_weight);
                self.policy.touch(&mut self.wheel, index);
                self.counts.removed(cause);
                removed.push((key, old_value, cause));
            }
            hash_table::Entry::Vacant(vacant) => {
                self.policy.record(hash);
                let index = self
                    .wheel
                    .insert_or_shelve(tick, Node::new(key, value, weight))
                    .index;
                vacant.insert(index);
                set_hard(&mut self.hard, index, hard);
                self.policy.insert(&mut self.wheel, index);
            }
        }
        self.evict(hasher, removed);
        true
    }

    fn evict(&mut self, hasher: &impl BuildHasher, removed: &mut Removed<K, V>) {
        let mut evicted = std::mem::take(&mut self.scratch);
        self.policy
            .evict(&mut self.wheel, |k| hasher.hash_one(k), &mut evicted);
        if !evicted.is_empty() {
            for (index, hash) in evicted.drain(..) {
                self.take(hash, index, RemovalCause::Size, removed);
            }
            self.wheel.trim();
        }
        self.scratch = evicted;
    }

    /// Removes the entry under `key`: its value if it was live. An expired
    /// one is removed too (cause `Expired`) but not returned.
    pub(super) fn remove<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: &mut Now<'_>,
        removed: &mut Removed<K, V>,
    ) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + ?Sized,
        V: Clone,
    {
        let index = self.find(hash, key)?;
        if self.expired(index, now) {
            self.remove_at(hash, index, RemovalCause::Expired, removed);
            return None;
        }
        self.remove_at(hash, index, RemovalCause::Explicit, removed);
        removed.last().map(|(_, v, _)| v.clone())
    }

    /// Unlinks the entry at `index` from the policy, then takes it out.
    fn remove_at(
        &mut self,
        hash: u64,
        index: u32,
        cause: RemovalCause,
        removed: &mut Removed<K, V>,
    ) {
        self.policy.unlink(&mut self.wheel, index);
        self.take(hash, index, cause, removed);
        self.wheel.trim();
    }

    /// Takes the (policy-unlinked) entry at `index` out of the wheel and
    /// table (the caller then trims the wheel).
    fn take(&mut self, hash: u64, index: u32, cause: RemovalCause, removed: &mut Removed<K, V>) {
        if let Ok(entry) = self.table.find_entry(hash, |&i| i == index) {
            entry.remove();
        }
        let node = self.wheel.remove_at(index);
        self.counts.removed(cause);
        removed.push((node.key, node.value, cause));
    }

    /// Takes out one entry due at `now` (cause `Expired`); `false` when none is due.
    pub(super) fn pop_expired(
        &mut self,
        now: Instant,
        hasher: &impl BuildHasher,
        removed: &mut Removed<K, V>,
    ) -> bool {
        let Some((key, _, node)) = self.wheel.pop_expired(now) else {
            return false;
        };
        let hash = hasher.hash_one(&node.key);
        if let Ok(entry) = self.table.find_entry(hash, |&i| i == key.index) {
            entry.remove();
        }
        self.policy.unlink_removed(&mut self.wheel, &node);
        self.counts.removed(RemovalCause::Expired);
        removed.push((node.key, node.value, RemovalCause::Expired));
        true
    }

    /// After removals: gives storage back once mostly empty (O(1) unless it shrinks).
    pub(super) fn trim(&mut self, hasher: &impl BuildHasher) {
        self.wheel.trim();
        if let Some(h) = &mut self.hard {
            h.truncate(self.wheel.slots());
            if h.capacity() > 64 && h.len() < h.capacity() / 4 {
                h.shrink_to_fit();
            }
        }
        if self.table.capacity() > 64 && self.table.len() < self.table.capacity() / 4 {
            let wheel = &self.wheel;
            self.table
                .shrink_to(0, |&i| hasher.hash_one(&wheel.value_at(i).key));
        }
    }

    /// When the wheel next has work (a deadline or a cascade); `None` if empty.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    /// Takes every entry out (cause `Explicit`, or `Expired` for those past
    /// their deadline at `now`), keeping nothing allocated.
    pub(super) fn drain(&mut self, now: &mut Now<'_>, removed: &mut Removed<K, V>) {
        let fresh = Wheel::with_tick(self.wheel.origin(), self.wheel.tick());
        let mut wheel = std::mem::replace(&mut self.wheel, fresh);
        let mut keys = Vec::with_capacity(wheel.len());
        wheel.for_each_indexed(|i, _| keys.push(i));
        for index in keys {
            let tick = wheel.tick_at(index);
            let cause = if expired_at(&wheel, tick, now) {
                RemovalCause::Expired
            } else {
                RemovalCause::Explicit
            };
            if let Some(node) = wheel.cancel(wheel.key_at(index)) {
                self.counts.removed(cause);
                removed.push((node.key, node.value, cause));
            }
        }
        self.table = HashTable::new();
        self.policy.clear();
        if let Some(h) = &mut self.hard {
            *h = Vec::new();
        }
    }

    /// Clones of every live entry at `now`.
    pub(super) fn snapshot(&self, now: &mut Now<'_>) -> Vec<(K, V)>
    where
        K: Clone,
        V: Clone,
    {
        let mut out = Vec::with_capacity(self.table.len());
        self.wheel.for_each_indexed(|index, node| {
            if !self.expired(index, now) {
                out.push((node.key.clone(), node.value.clone()));
            }
        });
        out
    }

    /// Heap bytes held (wheel, table, sketch).
    pub(super) fn bytes(&self) -> usize {
        self.wheel.allocated_bytes()
            + self.table.allocation_size()
            + self.policy.bytes()
            + self.hard.as_ref().map_or(0, |h| h.capacity() * 8)
    }
}
