//! ARM state in memory, persisted to a JSON file when configured, plus the set of identities with
//! a write in flight (ARM refuses a second concurrent one with 409).
//!
//! Persisting is debounced: a change marks the state dirty and a background thread writes it at
//! most every [`PERSIST_EVERY`] (and [`Store::flush`] at shutdown). Writing the whole state under
//! the lock after every change made each ARM write cost O(identities): 2,000 identities turned the
//! stand-in into the slowest part of the discovery benchmark. A stand-in killed with SIGKILL loses
//! at most the last [`PERSIST_EVERY`] of changes.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex, MutexGuard},
    time::Duration,
};

use crate::model::State;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading state file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing state file {path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// How often, at most, the state file is rewritten.
pub const PERSIST_EVERY: Duration = Duration::from_millis(100);

pub struct Store {
    state: Arc<Mutex<State>>,
    path: Option<PathBuf>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// Set by writes, cleared by the persisting thread.
    dirty: Arc<(Mutex<bool>, Condvar)>,
}

/// Held while a write to one identity (or its credentials) runs; releases the identity on drop.
pub struct WriteGuard {
    key: String,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        lock(&self.in_flight).remove(&self.key);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes the state file whenever the state is dirty, at most every [`PERSIST_EVERY`].
fn persist_loop(path: &Path, state: &Mutex<State>, dirty: &(Mutex<bool>, Condvar)) {
    loop {
        {
            let mut flag = lock(&dirty.0);
            while !*flag {
                flag = dirty.1.wait(flag).unwrap_or_else(|p| p.into_inner());
            }
        }
        std::thread::sleep(PERSIST_EVERY);
        *lock(&dirty.0) = false;
        persist(path, state);
    }
}

/// Best effort: a failed write is logged, the state stays in memory.
fn persist(path: &Path, state: &Mutex<State>) {
    let bytes = serde_json::to_vec_pretty(&*lock(state));
    let tmp = path.with_extension("json.tmp");
    let saved = bytes
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(err) = saved {
        tracing::error!("persisting state to {}: {err}", path.display());
    }
}

impl Store {
    pub fn open(path: Option<PathBuf>) -> Result<Self, StoreError> {
        let state = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|source| StoreError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                serde_json::from_str(&text).map_err(|source| StoreError::Parse {
                    path: p.display().to_string(),
                    source,
                })?
            }
            _ => State::default(),
        };
        let store = Self {
            state: Arc::new(Mutex::new(state)),
            path,
            in_flight: Arc::default(),
            dirty: Arc::default(),
        };
        if let Some(path) = store.path.clone() {
            let (state, dirty) = (store.state.clone(), store.dirty.clone());
            std::thread::spawn(move || persist_loop(&path, &state, &dirty));
        }
        Ok(store)
    }

    /// Writes the state file now, if there is one.
    pub fn flush(&self) {
        if let Some(path) = &self.path {
            *lock(&self.dirty.0) = false;
            persist(path, &self.state);
        }
    }

    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&lock(&self.state))
    }

    /// Change the state; it is persisted shortly after (see the module comment).
    pub fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut lock(&self.state));
        if self.path.is_some() {
            *lock(&self.dirty.0) = true;
            self.dirty.1.notify_one();
        }
        result
    }

    /// Mark the identity `key` as being written; `None` if another write holds it.
    pub fn begin_write(&self, key: &str) -> Option<WriteGuard> {
        let mut set = lock(&self.in_flight);
        if !set.insert(key.to_string()) {
            return None;
        }
        Some(WriteGuard {
            key: key.to_string(),
            in_flight: self.in_flight.clone(),
        })
    }
}
