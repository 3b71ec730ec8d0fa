//! A keyed async mutex: one holder per key at a time, e.g. one writer per Azure identity (ARM
//! answers 409 to concurrent writes to one identity and its credentials) or one admin-kubeconfig
//! fetch per cluster. Entries are dropped when nobody holds or waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default, Debug)]
pub(crate) struct KeyedLock {
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Holds the key until dropped.
pub(crate) struct KeyGuard<'a> {
    owner: &'a KeyedLock,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLock {
    pub(crate) async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let key = key.to_ascii_lowercase();
        let mutex = {
            let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        KeyGuard {
            owner: self,
            key,
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap().len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.owner.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds the mutex: nobody waits, so the entry can go.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_entries_are_dropped() {
        let lock = Arc::new(KeyedLock::default());
        let inside = Arc::new(AtomicU32::new(0));
        let max = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (lock, inside, max) = (lock.clone(), inside.clone(), max.clone());
                tokio::spawn(async move {
                    let key = if i % 2 == 0 { "A" } else { "a" };
                    let _g = lock.lock(key).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
        assert_eq!(lock.len(), 0);
        let _a = lock.lock("x").await;
        let _b = lock.lock("y").await; // other keys do not wait
        assert_eq!(lock.len(), 2);
    }
}
