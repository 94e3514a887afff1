//! One writer per SQLite state: `run` and `watch` hold this for as long as they write, so overlapping cron runs
//! (or cron and `watch`) never interleave their runs. It is an exclusive OS file lock beside the database, dropped
//! when the process dies, even on `kill -9`.
//!
//! A PostgreSQL state has no whole-state writer: any number of `run`s and `watch`es share it, each claiming the
//! sources it runs ([`super::Backend::claim`], `postgres/claims.rs`), so for it this lock holds nothing.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Location;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot create lock file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another feedwright run holds {} (waited {waited:?}); try again later or raise lock_timeout", path.display())]
    Busy { path: PathBuf, waited: Duration },
}

/// Held for as long as the value lives.
pub struct StateLock {
    _held: Held,
}

/// What keeps the lock: dropping it lets go.
enum Held {
    #[expect(dead_code, reason = "held for its Drop, never read")]
    File(File),
    /// A shared state: workers claim sources instead.
    Shared,
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateLock").finish_non_exhaustive()
    }
}

impl StateLock {
    /// Takes the lock for the state at `state`, waiting up to `timeout` for another holder (at once for a shared
    /// PostgreSQL state).
    pub async fn acquire(state: &Location, timeout: Duration) -> Result<StateLock, LockError> {
        match state {
            Location::File(path) => Self::file(path, timeout).await,
            Location::Postgres(_) => Ok(StateLock { _held: Held::Shared }),
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
