//! This process as one worker among those sharing a state: its id, the sources it holds a claim on, and the task
//! that renews those claims while their runs go on. `run` and `watch` ask [`Worker::claim`] just before a source's
//! run and [`Worker::release`] right after its commit; what a claim means is the store's
//! ([`crate::store::Backend::claim`]). On SQLite every claim is granted (the file lock already makes this process
//! the only writer), so the same code runs on both.
//!
//! Release comes right after the run's commit, in a transaction of its own: a worker killed between the two
//! leaves a lease that runs out, and another worker runs the source again (a second run record, never a lost run).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Source;
use crate::error_chain;
use crate::fetch::hosts;
use crate::model::SourceId;
use crate::pipeline::on_store;
use crate::store::{self, Claim, Store, StoreError, Want};

pub(super) struct Worker {
    /// Unique among live workers: host name, process id and a random number (a pid is reused after a reboot).
    pub id: String,
    lease: Duration,
    store: Arc<Mutex<Store>>,
    held: Mutex<HashSet<SourceId>>,
    clock: fn() -> DateTime<Utc>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The machine's name, for worker ids that say where a worker runs (`status`, logs, `pg_stat_activity`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl Worker {
    /// A worker on `store`, with leases of `lease`; `clock` is the app's clock (millisecond precision: leases in
    /// tests are seconds long), `random` a number in `[0, 1)`.
    pub fn new(store: Arc<Mutex<Store>>, lease: Duration, clock: fn() -> DateTime<Utc>, random: f64) -> Arc<Worker> {
        let id = format!(
            "{}:{}:{:08x}",
            host_name(),
            std::process::id(),
            (random * f64::from(u32::MAX)) as u32
        );
        Arc::new(Worker {
            id,
            lease,
            store,
            held: Mutex::new(HashSet::new()),
            clock,
        })
    }

    /// Claims `source` for a run that is needed unless one started at or after `since` finished.
    pub async fn claim(&self, source: &Source, since: DateTime<Utc>) -> Result<Claim, StoreError> {
        let want = Want {
            source: source.id.clone(),
            host: source.urls.first().map(hosts::key).unwrap_or_default(),
            since,
        };
        let (id, lease, now) = (self.id.clone(), self.lease, (self.clock)());
        let claim = on_store(&self.store, move |store| store.claim(&id, &want, lease, now)).await?;
        if let Claim::Granted { .. } = claim {
            store::lock(&self.held).insert(source.id.clone());
        }
        Ok(claim)
    }

    /// Lets go of `source` after its run; `done`: the run finished (a run that failed to fetch is done too, a run
    /// whose store write failed is not, so that another worker tries it).
    pub async fn release(&self, source: &SourceId, done: bool) {
        store::lock(&self.held).remove(source);
        let (id, released) = (self.id.clone(), source.clone());
        if let Err(e) = on_store(&self.store, move |store| store.release(&id, &released, done)).await {
            // The lease runs out on its own; then another worker may run the source again.
            tracing::warn!(source = %source, error = %error_chain(&e), "cannot release the claim; it will expire");
        }
    }

    /// Renews the held claims every third of the lease, forever (the caller drops or aborts it).
    pub async fn renew(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let held: Vec<SourceId> = store::lock(&self.held).iter().cloned().collect();
            if held.is_empty() {
                continue;
            }
            let (id, lease, now) = (self.id.clone(), self.lease, (self.clock)());
            match on_store(&self.store, move |store| store.renew(&id, &held, lease, now)).await {
                Ok(lost) => {
                    for source in lost {
                        tracing::warn!(source = %source, "claim lost: the lease ran out and another worker took the source");
                    }
                }
                Err(e) => tracing::warn!(error = %error_chain(&e), "cannot renew claims; retrying"),
            }
        }
    }
}
