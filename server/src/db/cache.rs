//! Short-lived caches for the reads every authenticated request makes: is the session live, the
//! instance's row, the caller's standing in its organization. Writes through this server drop
//! what they change at once; another replica's writes show after at most `TTL`, which bounds how
//! long a session revoked or a role changed elsewhere keeps working here.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::InstanceRow;

/// How long a cached answer is trusted.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries per cache before it is swept; a sweep drops what has expired, or everything.
const CAPACITY: usize = 100_000;

#[derive(Debug)]
pub struct Ttl<K, V> {
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for Ttl<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Ttl<K, V> {
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let map = self.map.lock().expect("cache lock");
        match map.get(key) {
            Some((at, v)) if at.elapsed() < TTL => Some(v.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, key: K, value: V) {
        let mut map = self.map.lock().expect("cache lock");
        if map.len() >= CAPACITY {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), value));
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        self.map.lock().expect("cache lock").remove(key);
    }
}

#[derive(Debug, Default)]
pub struct Caches {
    /// Live sessions and when they expire (unix seconds); revoked ones are never cached.
    pub sessions: Ttl<String, i64>,
    pub instances: Ttl<String, InstanceRow>,
    /// (user, org) to (platform admin, role there).
    pub standing: Ttl<(String, String), (bool, Option<String>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_dropped_on_remove() {
        let c: Ttl<String, i64> = Ttl::default();
        c.insert("a".into(), 1);
        assert_eq!(c.get(&"a".to_string()), Some(1));
        c.remove(&"a".to_string());
        assert_eq!(c.get(&"a".to_string()), None);
    }
}
