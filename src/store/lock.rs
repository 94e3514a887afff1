//! One writer per state: `run` and `watch` hold this for as long as they write, so overlapping cron runs (or cron
//! and `watch`) never interleave their runs. For a SQLite file it is an exclusive OS file lock beside the database;
//! for PostgreSQL, a session advisory lock on a connection of its own (`postgres/lock.rs`). Either is dropped when
//! the process dies, even on `kill -9`.
//!
//! This is the whole-state lock. Several workers sharing one PostgreSQL store will instead claim due sources one
//! by one (`FOR UPDATE SKIP LOCKED` on a claims table, a backend call beside `load`); until then a second writer
//! waits here, as it does for a file.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::postgres::WriterLock;
use super::{Cause, Location};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot create lock file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot take the writer lock of {}", path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    #[error("another feedwright run holds {} (waited {waited:?}); try again later or raise lock_timeout", path.display())]
    Busy { path: PathBuf, waited: Duration },
}

/// Held for as long as the value lives.
pub struct StateLock {
    _held: Held,
}

/// What keeps the lock: dropping it lets go.
#[expect(dead_code, reason = "held for its Drop, never read")]
enum Held {
    File(File),
    Postgres(WriterLock),
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateLock").finish_non_exhaustive()
    }
}

impl StateLock {
    /// Takes the lock for the state at `state`, waiting up to `timeout` for another holder.
    pub async fn acquire(state: &Location, timeout: Duration) -> Result<StateLock, LockError> {
        match state {
            Location::File(path) => Self::file(path, timeout).await,
            Location::Postgres(url) => {
                let path = state.shown();
                let fail = |e: super::StoreError| LockError::Database {
                    path: path.clone(),
                    source: Box::new(e),
                };
                let lock = WriterLock::connect(url).map_err(fail)?;
                let start = Instant::now();
                loop {
                    if lock.try_lock().map_err(fail)? {
                        return Ok(StateLock {
                            _held: Held::Postgres(lock),
                        });
                    }
                    if start.elapsed() >= timeout {
                        return Err(LockError::Busy {
                            path,
                            waited: start.elapsed(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn file(state: &Path, timeout: Duration) -> Result<StateLock, LockError> {
        let path = state.with_extension("lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(StateLock {
                        _held: Held::File(file),
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Busy {
                        path,
                        waited: start.elapsed(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}
