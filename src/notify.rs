//! Delivers queued events (new items, a source broken or recovered) to webhooks and commands.
//!
//! Events are queued in the store's outbox inside the run's own transaction, so none is lost to a crash; this
//! module only drains the outbox. A webhook gets a JSON POST (retried a few times); a command gets the JSON on its
//! stdin and must exit 0. A target that fails keeps its events for the next run and never fails the run itself.
//! Delivery is at least once: an event leaves the outbox only after it was delivered, and each target is drained
//! by one process at a time, under the store's outbox lock, so workers sharing a state do not send it twice.

use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::config::{Notify, Target};
use crate::model::Event;
use crate::store::{Store, StoreError, lock};

const WEBHOOK_ATTEMPTS: u32 = 3;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("POST {url} returned HTTP {status}")]
    Status { url: url::Url, status: u16 },
    #[error("POST {url} failed")]
    Request {
        url: url::Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("notify command `{command}` failed")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("notify command `{command}` exited with {status}")]
    Exit {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error("notify command `{command}` took longer than {COMMAND_TIMEOUT:?}")]
    Timeout { command: String },
}

/// Sends every pending event to every target, oldest first; returns how many were delivered. A target that fails
/// stops there (keeping the order of its events) and is tried again on the next call; a target another process is
/// draining is left to it.
pub async fn deliver(targets: &[Notify], client: &reqwest::Client, store: &Mutex<Store>) -> Result<usize, StoreError> {
    // One drain at a time in this process: `watch` finishes runs concurrently, and two drains reading the same
    // pending rows would send each event twice. Other processes sharing the state are kept out per target by the
    // store's outbox lock (`Backend::lock_outbox`: SQLite's state lock, a PostgreSQL advisory lock).
    static DRAINING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _draining = DRAINING.lock().await;
    let mut delivered = 0;
    for target in targets {
        delivered += drain(target, client, store).await?;
    }
    Ok(delivered)
}

/// How a pass over a target's pending events ended.
enum Pass {
    /// Every event read was delivered (or was not for this target).
    Done,
    /// A delivery failed, or the outbox lock was lost: the rest waits for the next drain.
    Stopped,
}

/// Delivers `target`'s pending events while this process holds its outbox. After giving it back, looks again: an
/// event queued by a worker that found the target held while this pass had already read its rows would otherwise
/// wait for the next drain anywhere.
async fn drain(target: &Notify, client: &reqwest::Client, store: &Mutex<Store>) -> Result<usize, StoreError> {
    let key = target.key();
    let mut delivered = 0;
    loop {
        let Some(held) = Held::take(store, &key)? else {
            tracing::debug!(target = %key, "another worker is delivering this target's events");
            return Ok(delivered);
        };
        // Read under the lock: what an earlier holder delivered is gone.
        let pending = lock(store).pending(&key)?;
        let pass = deliver_pending(target, &key, pending, client, store, &mut delivered).await?;
        drop(held);
        if matches!(pass, Pass::Stopped) || lock(store).pending(&key)?.is_empty() {
            return Ok(delivered);
        }
    }
}

async fn deliver_pending(
    target: &Notify,
    key: &str,
    pending: Vec<(i64, Event)>,
    client: &reqwest::Client,
    store: &Mutex<Store>,
    delivered: &mut usize,
) -> Result<Pass, StoreError> {
    for (id, event) in pending {
        if !target.events.iter().any(|kind| kind == event.kind()) {
            lock(store).delivered(id, Ok(()))?;
            continue;
        }
        // A connection lost since the lock was taken lost the lock too, and another worker may be sending these
        // events now: stop, rather than send the rest twice. (The event in flight when a connection drops may
        // still go out twice: delivery is at least once.)
        if !lock(store).holds_outbox(key)? {
            tracing::warn!(target = %key, "lost the outbox lock (the state database connection was replaced); delivery left to the next drain");
            return Ok(Pass::Stopped);
        }
        let result = send(&target.target, client, &event).await;
        if let Err(e) = &result {
            tracing::warn!(target = %key, event = event.kind(), error = %crate::error_chain(e), "notification not delivered; kept for the next run");
        }
        let failed = result.is_err();
        lock(store).delivered(id, result.map_err(|e| crate::error_chain(&e)))?;
        if failed {
            return Ok(Pass::Stopped);
        }
        *delivered += 1;
    }
    Ok(Pass::Done)
}

/// A target's outbox taken for this process ([`crate::store::Backend::lock_outbox`]), given back when dropped, an
/// error or a cancelled drain included.
struct Held<'a> {
    store: &'a Mutex<Store>,
    key: &'a str,
}

impl<'a> Held<'a> {
    /// `None`: another process is draining the target.
    fn take(store: &'a Mutex<Store>, key: &'a str) -> Result<Option<Held<'a>>, StoreError> {
        let taken = lock(store).lock_outbox(key)?;
        Ok(taken.then(|| Held { store, key }))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(e) = lock(self.store).unlock_outbox(self.key) {
            // The server still drops it with the connection; until then other workers leave the target to us.
            tracing::warn!(target = %self.key, error = %crate::error_chain(&e), "cannot give the outbox lock back");
        }
    }
}

async fn send(target: &Target, client: &reqwest::Client, event: &Event) -> Result<(), NotifyError> {
    let json = serde_json::to_vec(event).expect("plain data serializes");
    match target {
        Target::Webhook(url) => {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let result = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json.clone())
                    .send()
                    .await;
                let error = match result {
                    Ok(r) if r.status().is_success() => return Ok(()),
                    Ok(r) => NotifyError::Status {
                        url: url.clone(),
                        status: r.status().as_u16(),
                    },
                    Err(source) => NotifyError::Request {
                        url: url.clone(),
                        source,
                    },
                };
                if attempt >= WEBHOOK_ATTEMPTS {
                    return Err(error);
                }
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
        }
        Target::Command(argv) => {
            let command = argv.join(" ");
            let spawn = |source| NotifyError::Spawn {
                command: command.clone(),
                source,
            };
            let mut child = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(spawn)?;
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // A command that does not read its input is its own business; only its exit status counts.
            let _ = stdin.write_all(&json).await;
            drop(stdin);
            let status = tokio::time::timeout(COMMAND_TIMEOUT, child.wait())
                .await
                .map_err(|_| NotifyError::Timeout {
                    command: command.clone(),
                })?
                .map_err(spawn)?;
            if status.success() {
                Ok(())
            } else {
                Err(NotifyError::Exit { command, status })
            }
        }
    }
}
