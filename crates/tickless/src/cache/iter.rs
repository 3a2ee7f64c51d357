//! [`Iter`]: the live entries of a [`Cache`], copied one shard at a time.

use std::hash::Hash;

use super::Cache;
use crate::sync::lock_std;

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Clones of the live entries, one shard at a time (each shard is copied
    /// under its lock, then iterated with none held): entries inserted or
    /// removed meanwhile may or may not be seen. Not counted as accesses.
    pub fn iter(&self) -> Iter<K, V> {
        Iter {
            cache: self.clone(),
            shard: 0,
            entries: Vec::new().into_iter(),
        }
    }
}

/// The live entries of a [`Cache`], as [`Cache::iter`] copies them.
pub struct Iter<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: Cache<K, V>,
    shard: usize,
    entries: std::vec::IntoIter<(K, V)>,
}

impl<K, V> Iterator for Iter<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(entry) = self.entries.next() {
                return Some(entry);
            }
            let inner = &*self.cache.inner;
            let shard = inner.shards.get(self.shard)?;
            self.shard += 1;
            let st = lock_std(&shard.state);
            self.entries = st.snapshot(&mut inner.clock()).into_iter();
        }
    }
}
