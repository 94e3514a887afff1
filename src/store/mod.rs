//! The memory of feedwright: item history, the links that lead to items, HTTP validators, robots.txt, saved pages,
//! run records and the notification outbox.
//!
//! Feeds are rendered from here, not from the last listing, so items stay after they roll off the page and an
//! undated item keeps its first-seen date. Every run of a source is committed in one transaction: a crash leaves
//! the previous state, never half of a run.
//!
//! The store is a seam: [`Backend`] is what a storage engine provides, shaped around whole runs (one
//! [`Backend::load`] of what a run needs, one [`Backend::commit`] of what it learnt) plus the reads that feeds,
//! `status` and `serve` make. [`Store`] is the handle everything else holds; [`Store::open`] picks the backend
//! from the `state` setting. The rules of a commit (new or edited, first-seen dates, the `updated` nudge, events)
//! live in [`merge`], without a database, so every backend writes the same rows. `sqlite/` is the embedded
//! backend (the default), `postgres/` the network one (a `postgres://` state, [`Location`]), one file per entity
//! in each. No backend's types cross this module: [`StoreError`] carries their errors boxed.

mod location;
mod lock;
pub mod merge;
mod pages;
mod postgres;
mod sqlite;
mod stored;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use url::Url;

use crate::model::{Event, Item, ItemId, ListedLink, SourceId, Validators};

pub use location::{DbUrl, Location};
pub use lock::{LockError, StateLock};
pub use pages::{Keep, PageKind, SavedPage, Served, Windowed};

/// Locks a store shared between concurrent runs. A panic while it was held cannot have left the database
/// inconsistent (an unfinished transaction rolls back), so a poisoned lock is used as it is.
pub fn lock<S: ?Sized>(store: &std::sync::Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many run records are kept per source.
const RUNS_KEPT: usize = 500;

/// A backend's own error (SQLite's, PostgreSQL's), boxed so that none of their types is part of this API.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open state database {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    #[error("{} is not a feedwright state database (refusing to touch it; move it away or set `state`)", path.display())]
    Foreign { path: PathBuf },
    #[error("{} has schema version {found}, newer than this feedwright understands ({known}); upgrade feedwright", path.display())]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("{} was written by an older feedwright; the next `feedwright run` upgrades it", path.display())]
    Outdated { path: PathBuf },
    #[error("state database {} failed", path.display())]
    Sql {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    #[error("state database {} holds an unreadable row", path.display())]
    Corrupt { path: PathBuf, detail: String },
}

/// Everything a run of one source reads before it fetches, in one call.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    /// The article links seen in earlier runs, by listing URL (ids, hashes and times only: never a body).
    pub known: HashMap<String, Known>,
    /// The listed links whose last attempt failed or was skipped and that never succeeded since, by URL.
    pub failed: HashMap<String, FailedLink>,
    /// robots.txt files fetched at or after the `robots_since` asked for, of every host (none when it is `None`).
    pub robots: Vec<StoredRobots>,
    /// The validators of the listing pages this source saved, by URL (article validators are read per re-check,
    /// [`Backend::validators`]: a bounded few).
    pub listing_validators: HashMap<String, Validators>,
}

/// What a storage engine provides. One value is one connection, used by one thread at a time behind
/// [`std::sync::Mutex`]; calls are synchronous and short (a run makes a handful: [`Backend::load`],
/// [`Backend::validators`] per re-check, [`Backend::commit`] or [`Backend::record_run`], [`Backend::feed_items`]).
/// A backend on a network (PostgreSQL) keeps its client on a thread of its own and answers these calls over a
/// channel, so the async runtime never waits on a socket inside a store call.
///
/// Every write is one transaction. A commit writes what [`merge::merge`] decides; a backend decides nothing about
/// items itself.
pub trait Backend: Send {
    // A run: what it needs before it fetches, and what it learnt.

    /// Everything a run of `source` reads before it fetches; robots.txt files older than `robots_since` are left out,
    /// and all of them with `None` (the process read them already).
    fn load(&self, source: &SourceId, robots_since: Option<DateTime<Utc>>) -> Result<RunState, StoreError>;
    /// The validators kept for `url` (an article being re-checked).
    fn validators(&self, url: &Url) -> Result<Option<Validators>, StoreError>;
    /// The rule fingerprint stored by the last committed run of `source` (`None` before its first).
    fn rules(&self, source: &SourceId) -> Result<Option<String>, StoreError>;
    /// The newest `max_items` items of `source` (the feed window, newest first), each with its last saved page.
    fn window(&self, source: &SourceId, max_items: usize) -> Result<Vec<Windowed>, StoreError>;
    /// Commits one run in one transaction: items (as [`merge::merge`] decides), links, failed and skipped links,
    /// validators, saved pages and their pruning, retention, the rules fingerprint, the run record (with
    /// `run.new` and `run.updated` filled in) and the outbox; and, when an item is new or edited, forgets the
    /// [`Backend::published`] digest.
    fn commit(&mut self, changes: &Changes, run: &mut RunRecord, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a run that changed no item (a failed or broken run), with its health events.
    fn record_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Rewrites the outcome, reason, errors and duration of the source's latest run record and queues `events`, in
    /// one transaction: for what is learnt after the commit, such as feed files that could not be written.
    fn amend_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Keeps robots.txt files fetched at `now` (`(host, body)`; `None`: the host has none).
    fn save_robots(&mut self, fetched: &[(String, Option<String>)], now: DateTime<Utc>) -> Result<(), StoreError>;

    /// The digest `set_published` kept for `source`, unless a commit added or edited an item since (`commit` forgets
    /// it in its transaction).
    fn published(&self, source: &SourceId) -> Result<Option<String>, StoreError>;
    /// Keeps `digest` (of what `source`'s feed files were rendered from, see `pipeline`) once every file is written.
    fn set_published(&mut self, source: &SourceId, digest: &str) -> Result<(), StoreError>;

    /// Keeps the rendered `feeds` as published, in one transaction: each replaces the stored copy of its feed and
    /// format only when its ETag differs (a copy with the same bytes keeps its older modified time). `serve` answers
    /// from these copies, so every instance sharing the store sends the same bytes, ETag and Last-Modified.
    fn save_feeds(&mut self, feeds: &[StoredFeed]) -> Result<(), StoreError>;
    /// The ETag and modified time of the stored copy of `feed` in the format with extension `ext`, without its body.
    fn feed_tag(&self, feed: &SourceId, ext: &str) -> Result<Option<FeedTag>, StoreError>;
    /// The stored copy of `feed` in the format with extension `ext`.
    fn stored_feed(&self, feed: &SourceId, ext: &str) -> Result<Option<StoredFeed>, StoreError>;

    /// A number that changes whenever another connection commits to this store, so a reader (`serve`) can tell
    /// that what it read is still current; `None` when the backend cannot tell, and then readers keep nothing.
    fn version(&self) -> Result<Option<i64>, StoreError>;

    // Feeds, status and serving.

    /// The items of a feed: newest first, at most `limit`.
    fn feed_items(&self, source: &SourceId, limit: usize) -> Result<Vec<Item>, StoreError>;
    /// The items of `source` as the web page lists them: newest first, at most `limit`.
    fn entries(&self, source: &SourceId, limit: usize) -> Result<Vec<Entry>, StoreError>;
    /// The number of items stored for `source`, and how many were first seen at or after `since`.
    fn item_counts(&self, source: &SourceId, since: DateTime<Utc>) -> Result<(usize, usize), StoreError>;
    /// The most recent runs of `source`, newest first.
    fn recent_runs(&self, source: &SourceId, limit: usize) -> Result<Vec<RunRecord>, StoreError>;
    /// When `source` last published, and how many runs failed since.
    fn run_summary(&self, source: &SourceId) -> Result<RunSummary, StoreError>;
    /// The failed or skipped links of `source` that never succeeded since, most recently failed first.
    fn failed_articles(&self, source: &SourceId) -> Result<Vec<FailedArticle>, StoreError>;
    /// The saved listing pages of `source`, in configured order (`snapshot`).
    fn listing_pages(&self, source: &SourceId) -> Result<Vec<SavedPage>, StoreError>;
    /// Disk used by the saved pages of `source`: (pages, compressed bytes, text bytes).
    fn saved_size(&self, source: &SourceId) -> Result<(usize, usize, usize), StoreError>;

    // The outbox.

    /// Events waiting for delivery to `target`, oldest first: `(row id, event)`.
    fn pending(&self, target: &str) -> Result<Vec<(i64, Event)>, StoreError>;
    /// Marks an outbox row delivered (`Ok`) or records why it was not, for the next try.
    fn delivered(&mut self, id: i64, result: Result<(), String>) -> Result<(), StoreError>;
    /// Takes `target`'s outbox for this connection to drain: `false` when another process is draining it (leave
    /// it; its events stay queued for that process or the next drain). Held until [`Backend::unlock_outbox`], or
    /// until the connection ends, so a worker killed mid-drain blocks no target. Read [`Backend::pending`] after
    /// taking it, and check [`Backend::holds_outbox`] before each delivery. Processes only: one process keeps its
    /// own drains apart (`notify`). SQLite grants at once: its state lock keeps every other process out already.
    fn lock_outbox(&mut self, target: &str) -> Result<bool, StoreError>;
    /// Whether this connection still holds `target`'s outbox: a lost connection lost it (PostgreSQL; the next call
    /// connects again), and another process may be draining the target now.
    fn holds_outbox(&self, target: &str) -> Result<bool, StoreError>;
    /// Gives `target`'s outbox back (nothing when it is not held any more).
    fn unlock_outbox(&mut self, target: &str) -> Result<(), StoreError>;

    // Claims: which worker runs which source, when several share the store (see `docs/architecture.md`).

    /// Asks for a lease on `want.source` for `worker`, until `now + lease`. A backend that one process holds at a
    /// time (SQLite, under its file lock) grants every claim.
    fn claim(&mut self, worker: &str, want: &Want, lease: Duration, now: DateTime<Utc>) -> Result<Claim, StoreError>;
    /// Extends `worker`'s leases on `sources` to `now + lease`; answers the sources it no longer holds (taken over
    /// by another worker after the lease ran out).
    fn renew(
        &mut self,
        worker: &str,
        sources: &[SourceId],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<SourceId>, StoreError>;
    /// Ends `worker`'s lease on `source`; `done`: its run finished (committed or recorded), so that run's start
    /// counts as done for every worker.
    fn release(&mut self, worker: &str, source: &SourceId, done: bool) -> Result<(), StoreError>;
}

/// A rendered feed file as the store keeps it (a source's or a merge's, in one format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFeed {
    pub feed: SourceId,
    /// The format's file extension (`atom`, `rss`, `json`).
    pub ext: String,
    pub tag: FeedTag,
    pub body: Vec<u8>,
}

/// What tells one version of a stored feed from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedTag {
    /// The quoted strong ETag of the body ([`crate::publish::etag`]).
    pub etag: String,
    /// When the body last changed (the time of the run that rendered it).
    pub modified: DateTime<Utc>,
}

/// A source a worker wants to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub source: SourceId,
    /// The host whose politeness the source's runs share ([`crate::fetch::hosts::key`] of its first URL): a
    /// host's sources run on one worker at a time.
    pub host: String,
    /// Which run this is: a run of the source that started at or after `since` and finished makes this one
    /// unneeded ([`Claim::Done`]).
    pub since: DateTime<Utc>,
}

/// The answer to [`Backend::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The source is the worker's until then (renew before); run it, then release it.
    Granted { until: DateTime<Utc> },
    /// Another worker finished a run of it that started at `started` (at or after the wanted `since`).
    Done { started: DateTime<Utc> },
    /// Another worker's live lease holds the source, or another source of its host, until then: ask again then.
    Held { until: DateTime<Utc> },
}

/// The store everything outside this module holds: a [`Backend`] chosen by [`Store::open`]. Its calls are the
/// backend's ([`Backend`]'s methods, through `Deref`).
pub struct Store(Box<dyn Backend>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Store").finish_non_exhaustive()
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl std::ops::DerefMut for Store {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the state at `state`: a SQLite file, or a PostgreSQL database. A
    /// file or database that is not ours is refused.
    pub fn open(state: &Location) -> Result<Store, StoreError> {
        Ok(match state {
            Location::File(path) => Store::from(sqlite::Sqlite::open(path)?),
            Location::Postgres(url) => Store::from(postgres::Postgres::open(url)?),
        })
    }

    /// Opens an existing state for reading only (`status`, `serve`, `snapshot`): nothing is created, migrated or
    /// written, so a reader never races a running `run` for the schema. `Ok(None)`: there is no state yet (no
    /// file, or a file or database without a single table, as before the first `run`), which every reader shows
    /// as such, not as an error.
    pub fn open_read_only(state: &Location) -> Result<Option<Store>, StoreError> {
        Ok(match state {
            Location::File(path) => sqlite::Sqlite::open_read_only(path)?.map(Store::from),
            Location::Postgres(url) => postgres::Postgres::open_read_only(url)?.map(Store::from),
        })
    }

    /// A private store that lives as long as the value (the demo, tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        Ok(Store::from(sqlite::Sqlite::in_memory()?))
    }
}

impl<B: Backend + 'static> From<B> for Store {
    fn from(backend: B) -> Store {
        Store(Box::new(backend))
    }
}

/// What the store knows about an article link from an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub item_id: ItemId,
    /// [`merge::content_hash`] of the stored version: whether a fetched article changed, without its body.
    pub hash: String,
    pub first_seen: DateTime<Utc>,
    pub last_checked: DateTime<Utc>,
}

/// A listed link whose last attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedLink {
    /// As the listing showed it (title and date kept, for when it is retried without the listing).
    pub link: ListedLink,
    pub last_failed: DateTime<Utc>,
    /// Failed attempts so far (skips do not count).
    pub attempts: u32,
}

impl FailedLink {
    /// Whether to try again at `now`: at once after a skip; after a failure in 15 minutes, doubling up to a day;
    /// not any more after 12 failures (about a week of tries).
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        if self.attempts >= 12 {
            return false;
        }
        let wait =
            chrono::Duration::minutes(15 << self.attempts.saturating_sub(1).min(7)).min(chrono::Duration::days(1));
        self.attempts == 0 || now - self.last_failed >= wait
    }
}

/// What a failed or skipped listed link's row says, for people: `status`, `/healthz`, the web page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedArticle {
    pub url: String,
    /// As the listing showed it.
    pub title: Option<String>,
    pub first_failed: DateTime<Utc>,
    pub last_failed: DateTime<Utc>,
    /// Failed attempts so far (skips do not count).
    pub attempts: u32,
    /// The last attempt's error, or [`SKIPPED`].
    pub error: String,
}

/// The error stored for a listed link that was not read because the time budget ran out.
pub const SKIPPED: &str = "skipped: the time budget ran out";

/// A stored item as the web page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub title: String,
    pub url: String,
    pub published: DateTime<FixedOffset>,
    pub first_seen: DateTime<Utc>,
    /// When an edit was last noticed; `None` when the item never changed after it was first stored.
    pub edited: Option<DateTime<Utc>>,
}

/// What the run records say about a source beyond its latest run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// When the latest run that published (ok or degraded) started.
    pub last_success: Option<DateTime<Utc>>,
    /// Failed runs since then (all kept runs when none published).
    pub consecutive_failures: usize,
}

/// Everything one run learned about one source, committed at once.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Articles fetched and normalized this run (new, edited or unchanged).
    pub items: Vec<Item>,
    /// Listing URL of each fetched article → the item it became.
    pub links: Vec<(Url, ItemId)>,
    /// Known items listed again without being fetched: only their last-seen time moves.
    pub seen: Vec<ItemId>,
    /// Known items whose conditional re-check answered 304.
    pub checked: Vec<ItemId>,
    pub validators: Vec<(Url, Validators)>,
    /// Listed article links that failed this run, with the error; a link that later succeeds is forgotten here.
    pub failed: Vec<(ListedLink, String)>,
    /// Listed article links not read this run (the time budget ran out): kept to be read first next time.
    pub skipped: Vec<ListedLink>,
    /// Health events of this run; a `NewItems` event is added by the store for what it inserts.
    pub events: Vec<Event>,
    /// Notify targets (their keys) that each event is queued for.
    pub notify: Vec<String>,
    /// Pages fetched this run, kept for re-extraction and `snapshot`.
    pub pages: Vec<SavedPage>,
    /// The fingerprint of the rules this run extracted with, stored with it.
    pub rules: Option<String>,
    /// Which saved pages stay after this run; `None` prunes nothing.
    pub keep: Option<Keep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Everything listed was read.
    Ok,
    /// Published, but some articles failed.
    Degraded,
    /// Nothing published: the listing failed or the source looks broken.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "ok" => Self::Ok,
            "degraded" => Self::Degraded,
            _ => Self::Failed,
        }
    }
}

/// A host's robots.txt as kept between runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredRobots {
    /// The origin, as `fetch::hosts::key` writes it (`https://www.example.org`).
    pub host: String,
    /// `None` when the host has no robots.txt (it answered 4xx).
    pub body: Option<String>,
    pub fetched: DateTime<Utc>,
}

/// The HTTP result of one listing page request: a status code, or `None` when no response arrived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListingStatus {
    pub url: String,
    pub status: Option<u16>,
}

/// One source's run, as kept for monitoring.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunRecord {
    pub source: SourceId,
    pub started: DateTime<Utc>,
    #[serde(with = "millis")]
    pub duration: Duration,
    pub outcome: Outcome,
    /// Why the run failed or degraded, in one line.
    pub reason: Option<String>,
    pub links: usize,
    pub new: usize,
    pub updated: usize,
    pub failed: usize,
    /// Articles fetched and parsed this run, and how many of them had a date on the page and a body.
    pub fetched: usize,
    pub with_date: usize,
    pub with_body: usize,
    pub requests: usize,
    pub listing: Vec<ListingStatus>,
    pub errors: Vec<String>,
}

impl RunRecord {
    /// A run of `source` started at `started` that has done nothing yet: ok, no time taken, nothing counted.
    pub fn new(source: SourceId, started: DateTime<Utc>) -> Self {
        RunRecord {
            source,
            started,
            duration: Duration::ZERO,
            outcome: Outcome::Ok,
            reason: None,
            links: 0,
            new: 0,
            updated: 0,
            failed: 0,
            fetched: 0,
            with_date: 0,
            with_body: 0,
            requests: 0,
            listing: Vec::new(),
            errors: Vec::new(),
        }
    }
}

mod millis {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
