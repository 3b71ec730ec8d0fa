//! ARM state in memory, persisted to a JSON file after every change when configured, plus the
//! set of identities with a write in flight (ARM refuses a second concurrent one with 409).

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
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

pub struct Store {
    state: Mutex<State>,
    path: Option<PathBuf>,
    in_flight: Arc<Mutex<HashSet<String>>>,
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
        Ok(Self {
            state: Mutex::new(state),
            path,
            in_flight: Arc::default(),
        })
    }

    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&lock(&self.state))
    }

    /// Change the state and persist it (best effort: a failed write is logged, the change stays).
    pub fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = lock(&self.state);
        let result = f(&mut state);
        if let Some(path) = &self.path {
            let tmp = path.with_extension("json.tmp");
            let saved = serde_json::to_vec_pretty(&*state)
                .map_err(std::io::Error::other)
                .and_then(|bytes| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, path));
            if let Err(err) = saved {
                tracing::error!("persisting state to {}: {err}", path.display());
            }
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
