//! The network backend: one PostgreSQL database, for state shared by several machines or kept with the rest of a
//! site's data. The same tables as SQLite (`schema.rs`, version for version), each entity's SQL in a file of its
//! own as in `sqlite/`, and the same commit: [`merge`] decides, this writes.
//!
//! The client is the sync `postgres` crate, on a thread of its own (`conn.rs`): the [`Backend`] trait is
//! synchronous, and that crate is tokio-postgres driven by a private runtime, which cannot run inside the async
//! runtime's threads. Every call is one job on that thread, in one transaction (reads in a read-only snapshot).
//! Inputs are copied into the job (a commit's changes are a few hundred KB at most), since the thread outlives
//! the call.
//!
//! Opening creates `schema_version` in an empty database, refuses one that holds other tables without it
//! (someone else's), refuses a newer schema, and migrates an older one under an advisory lock; a read-only open
//! migrates nothing, refuses an outdated schema and finds no state in an empty database. Nothing of `postgres`
//! leaves this folder: errors go out boxed in [`StoreError`], named by the URL without its password.

mod claims;
mod conn;
mod feeds;
mod http;
mod items;
mod links;
mod outbox;
mod pages;
mod runs;
mod schema;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use url::Url;

use super::location::DbUrl;
use super::stored;
use super::{
    Backend, Changes, Claim, Entry, FailedArticle, FeedTag, Item, RunRecord, RunState, RunSummary, SavedPage,
    StoreError, StoredFeed, Want, Windowed, merge,
};
use crate::model::{Event, SourceId, Validators};
use conn::{Conn, Tx};

/// Why a call failed.
#[derive(Debug)]
enum Failure {
    /// The server could not be reached or refused the login.
    Connect(postgres::Error),
    Sql(postgres::Error),
    /// A row does not read back as what was written.
    Corrupt(String),
    /// The connection's thread could not start or has stopped.
    Thread(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Sql(e)
    }
}

type Result<T, E = Failure> = std::result::Result<T, E>;

/// A time as stored (RFC 3339).
fn time(text: &str) -> Result<DateTime<FixedOffset>> {
    stored::time(text).map_err(Failure::Corrupt)
}

fn utc(text: &str) -> Result<DateTime<Utc>> {
    stored::utc(text).map_err(Failure::Corrupt)
}

fn url(what: &str, text: &str) -> Result<Url> {
    stored::url(what, text).map_err(Failure::Corrupt)
}

/// Text from a site as PostgreSQL can hold it: `text` cannot contain NUL, which SQLite keeps, so a NUL becomes
/// U+FFFD (as an HTML parser reads one) instead of failing the whole run's commit.
fn clean(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn clean_opt(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(clean)
}

/// Every session: UTC (nothing depends on it, but times read in psql match), a name in `pg_stat_activity`, and
/// a bound on any one statement, as SQLite's busy timeout bounds a wait: a stuck server fails the call (and the
/// run) instead of holding the store forever.
const SETUP: &str = "SET TIME ZONE 'UTC'; SET application_name = 'feedwright'; SET statement_timeout = '60s'";
const SETUP_READ_ONLY: &str = "SET TIME ZONE 'UTC'; SET application_name = 'feedwright'; \
    SET statement_timeout = '60s'; SET default_transaction_read_only = on";

pub struct Postgres {
    conn: Conn,
    /// How messages name the database: its URL without the password.
    shown: PathBuf,
}

/// Where a database stands, as [`Postgres::check_ours`] finds it.
enum Found {
    Empty,
    Ours(i64),
    Foreign,
}

impl Postgres {
    /// Connects, creates or migrates the schema, and refuses a database that is not ours or is newer.
    pub fn open(url: &DbUrl) -> Result<Postgres, StoreError> {
        let store = Self::connect(url, SETUP)?;
        let known = schema::MIGRATIONS.len() as i64;
        let found = store.call(move |s| s.transaction(false, migrate))?;
        store.verdict(found, known, false)?;
        Ok(store)
    }

    /// Connects to an existing state to read it: nothing is created or migrated, every transaction is read-only.
    /// `None`: the database is empty (no `run` has created the tables yet).
    pub fn open_read_only(url: &DbUrl) -> Result<Option<Postgres>, StoreError> {
        let store = Self::connect(url, SETUP_READ_ONLY)?;
        let found = store.call(|s| s.transaction(true, check_ours))?;
        if matches!(found, Found::Empty) {
            return Ok(None);
        }
        store.verdict(found, schema::MIGRATIONS.len() as i64, true)?;
        Ok(Some(store))
    }

    fn connect(url: &DbUrl, setup: &'static str) -> Result<Postgres, StoreError> {
        let shown = PathBuf::from(url.to_string());
        let open = |e: Failure| match e {
            Failure::Connect(e) | Failure::Sql(e) => StoreError::Open {
                path: shown.clone(),
                source: Box::new(e),
            },
            e => failure(&shown, e),
        };
        let mut config: postgres::Config = url
            .secret()
            .parse()
            .map_err(|e: postgres::Error| open(Failure::Sql(e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let conn = Conn::open(config, setup).map_err(open)?;
        Ok(Postgres { conn, shown })
    }

    fn verdict(&self, found: Found, known: i64, read_only: bool) -> Result<(), StoreError> {
        let path = self.shown.clone();
        match found {
            Found::Foreign => Err(StoreError::Foreign { path }),
            Found::Ours(found) if found > known => Err(StoreError::TooNew { path, found, known }),
            Found::Ours(found) if found < known && read_only => Err(StoreError::Outdated { path }),
            _ => Ok(()),
        }
    }

    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut conn::Session) -> Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.conn.call(job).map_err(|e| failure(&self.shown, e))
    }

    /// A read, in one read-only transaction.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call(move |s| s.transaction(true, f))
    }

    /// A write, in one transaction.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call(move |s| s.transaction(false, f))
    }
}

fn failure(path: &std::path::Path, failure: Failure) -> StoreError {
    let path = path.to_owned();
    match failure {
        Failure::Connect(e) => StoreError::Open {
            path,
            source: Box::new(e),
        },
        Failure::Sql(e) => StoreError::Sql {
            path,
            source: Box::new(e),
        },
        Failure::Thread(why) => StoreError::Sql {
            path,
            source: why.into(),
        },
        Failure::Corrupt(detail) => StoreError::Corrupt { path, detail },
    }
}

/// Whether the database (its current schema) is empty, ours at some version, or someone else's.
fn check_ours(tx: &mut Tx<'_>) -> Result<Found> {
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if tables.is_empty() {
        return Ok(Found::Empty);
    }
    if !tables.iter().any(|t| t == "schema_version") {
        return Ok(Found::Foreign);
    }
    let columns: Vec<String> = tx
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'schema_version'",
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if !(columns.iter().any(|c| c == "app") && columns.iter().any(|c| c == "version")) {
        return Ok(Found::Foreign);
    }
    let version = tx.query_opt("SELECT version FROM schema_version WHERE app = $1", &[&schema::APP])?;
    Ok(match version {
        Some(row) => Found::Ours(row.try_get(0)?),
        None => Found::Foreign,
    })
}

/// Brings the schema to the newest version this build knows, in the caller's transaction, under the migration lock
/// (a second process opening at the same time waits, then finds it done). Returns what was found before.
fn migrate(tx: &mut Tx<'_>) -> Result<Found> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&schema::APP_KEY, &schema::MIGRATE],
    )?;
    let found = check_ours(tx)?;
    let from = match found {
        Found::Foreign => return Ok(found),
        Found::Ours(v) if v > schema::MIGRATIONS.len() as i64 => return Ok(found),
        Found::Ours(v) => v,
        Found::Empty => {
            tx.batch(schema::VERSION_TABLE)?;
            0
        }
    };
    for (version, sql) in schema::MIGRATIONS.iter().enumerate().skip(from as usize) {
        tx.batch(sql)?;
        tx.execute(
            "UPDATE schema_version SET version = $2 WHERE app = $1",
            &[&schema::APP, &(version as i64 + 1)],
        )?;
    }
    Ok(found)
}

impl Backend for Postgres {
    fn load(&self, source: &SourceId, robots_since: Option<DateTime<Utc>>) -> Result<RunState, StoreError> {
        let source = source.clone();
        self.read(move |tx| {
            Ok(RunState {
                known: items::known_links(tx, &source)?,
                failed: links::failed_links(tx, &source)?,
                robots: match robots_since {
                    Some(since) => http::robots(tx, since)?,
                    None => Vec::new(),
                },
                listing_validators: http::listing_validators(tx, &source)?,
            })
        })
    }

    fn validators(&self, url: &Url) -> Result<Option<Validators>, StoreError> {
        let url = url.clone();
        self.read(move |tx| http::validators(tx, &url))
    }

    fn rules(&self, source: &SourceId) -> Result<Option<String>, StoreError> {
        let source = source.clone();
        self.read(move |tx| pages::rules(tx, &source))
    }

    fn published(&self, source: &SourceId) -> Result<Option<String>, StoreError> {
        let source = source.clone();
        self.read(move |tx| pages::published(tx, &source))
    }

    fn set_published(&mut self, source: &SourceId, digest: &str) -> Result<(), StoreError> {
        let (source, digest) = (source.clone(), digest.to_owned());
        self.write(move |tx| pages::set_published(tx, &source, Some(&digest)))
    }

    fn save_feeds(&mut self, feeds: &[StoredFeed]) -> Result<(), StoreError> {
        let feeds = feeds.to_vec();
        self.write(move |tx| feeds::save(tx, &feeds))
    }

    fn feed_tag(&self, feed: &SourceId, ext: &str) -> Result<Option<FeedTag>, StoreError> {
        let (feed, ext) = (feed.clone(), ext.to_owned());
        self.read(move |tx| feeds::tag(tx, &feed, &ext))
    }

    fn stored_feed(&self, feed: &SourceId, ext: &str) -> Result<Option<StoredFeed>, StoreError> {
        let (feed, ext) = (feed.clone(), ext.to_owned());
        self.read(move |tx| feeds::stored(tx, &feed, &ext))
    }

    fn version(&self) -> Result<Option<i64>, StoreError> {
        self.read(runs::version).map(Some)
    }

    fn window(&self, source: &SourceId, max_items: usize) -> Result<Vec<Windowed>, StoreError> {
        let source = source.clone();
        self.read(move |tx| pages::window(tx, &source, max_items))
    }

    fn commit(&mut self, changes: &Changes, run: &mut RunRecord, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (changes, mut record) = (changes.clone(), run.clone());
        let record = self.write(move |tx| {
            commit(tx, &changes, &mut record, now)?;
            Ok(record)
        })?;
        (run.new, run.updated) = (record.new, record.updated);
        Ok(())
    }

    fn record_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (run, events, notify) = (run.clone(), events.to_vec(), notify.to_vec());
        self.write(move |tx| {
            runs::insert(tx, &run)?;
            claims::recorded(tx, &run.source)?;
            outbox::enqueue(tx, &notify, &events, now)?;
            runs::changed(tx)
        })
    }

    fn amend_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (run, events, notify) = (run.clone(), events.to_vec(), notify.to_vec());
        self.write(move |tx| {
            runs::amend(tx, &run)?;
            outbox::enqueue(tx, &notify, &events, now)?;
            runs::changed(tx)
        })
    }

    fn save_robots(&mut self, fetched: &[(String, Option<String>)], now: DateTime<Utc>) -> Result<(), StoreError> {
        if fetched.is_empty() {
            return Ok(());
        }
        let fetched = fetched.to_vec();
        self.write(move |tx| http::save_robots(tx, &fetched, now))
    }

    fn feed_items(&self, source: &SourceId, limit: usize) -> Result<Vec<Item>, StoreError> {
        let source = source.clone();
        self.read(move |tx| items::feed_items(tx, &source, limit))
    }

    fn entries(&self, source: &SourceId, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let source = source.clone();
        self.read(move |tx| items::entries(tx, &source, limit))
    }

    fn item_counts(&self, source: &SourceId, since: DateTime<Utc>) -> Result<(usize, usize), StoreError> {
        let source = source.clone();
        self.read(move |tx| items::counts(tx, &source, since))
    }

    fn recent_runs(&self, source: &SourceId, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let source = source.clone();
        self.read(move |tx| runs::recent(tx, &source, limit))
    }

    fn run_summary(&self, source: &SourceId) -> Result<RunSummary, StoreError> {
        let source = source.clone();
        self.read(move |tx| runs::summary(tx, &source))
    }

    fn failed_articles(&self, source: &SourceId) -> Result<Vec<FailedArticle>, StoreError> {
        let source = source.clone();
        self.read(move |tx| links::failed_articles(tx, &source))
    }

    fn listing_pages(&self, source: &SourceId) -> Result<Vec<SavedPage>, StoreError> {
        let source = source.clone();
        self.read(move |tx| pages::listing_pages(tx, &source))
    }

    fn saved_size(&self, source: &SourceId) -> Result<(usize, usize, usize), StoreError> {
        let source = source.clone();
        self.read(move |tx| pages::saved_size(tx, &source))
    }

    fn pending(&self, target: &str) -> Result<Vec<(i64, Event)>, StoreError> {
        let target = target.to_owned();
        self.read(move |tx| outbox::pending(tx, &target))
    }

    fn delivered(&mut self, id: i64, result: Result<(), String>) -> Result<(), StoreError> {
        self.write(move |tx| outbox::delivered(tx, id, result))
    }

    fn lock_outbox(&mut self, target: &str) -> Result<bool, StoreError> {
        let target = target.to_owned();
        self.write(move |tx| outbox::lock(tx, &target))
    }

    fn holds_outbox(&self, target: &str) -> Result<bool, StoreError> {
        let target = target.to_owned();
        self.read(move |tx| outbox::holds(tx, &target))
    }

    fn unlock_outbox(&mut self, target: &str) -> Result<(), StoreError> {
        let target = target.to_owned();
        self.write(move |tx| outbox::unlock(tx, &target))
    }

    fn claim(&mut self, worker: &str, want: &Want, lease: Duration, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let (worker, want) = (worker.to_owned(), want.clone());
        self.write(move |tx| claims::claim(tx, &worker, &want, lease, now))
    }

    fn renew(
        &mut self,
        worker: &str,
        sources: &[SourceId],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<SourceId>, StoreError> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let (worker, sources) = (worker.to_owned(), sources.to_vec());
        self.write(move |tx| claims::renew(tx, &worker, &sources, lease, now))
    }

    fn release(&mut self, worker: &str, source: &SourceId, done: bool) -> Result<(), StoreError> {
        let (worker, source) = (worker.to_owned(), source.clone());
        self.write(move |tx| claims::release(tx, &worker, &source, done))
    }
}

/// One run's commit, inside its transaction: the same steps as SQLite's, in the same order.
fn commit(tx: &mut Tx<'_>, changes: &Changes, run: &mut RunRecord, now: DateTime<Utc>) -> Result<()> {
    let source = run.source.clone();
    let stored = items::stored(tx, &source, changes.items.iter().map(|i| &i.id))?;
    let merged = merge::merge(&changes.items, &stored, now, || items::taken(tx, &source))?;
    items::write(tx, &source, &merged.rows, now)?;
    items::touch(tx, &source, &changes.seen, &changes.checked, now)?;
    links::write(tx, &source, &changes.links)?;
    links::remember_failures(tx, &source, &changes.failed, &changes.skipped, now)?;
    http::save_validators(tx, &changes.validators)?;
    pages::commit(
        tx,
        &source,
        &changes.pages,
        changes.rules.as_deref(),
        changes.keep.as_ref(),
        now,
    )?;
    if let Some(retain) = changes.keep.as_ref().and_then(|k| k.retain.map(|r| (k.max_items, r))) {
        items::retain(tx, &source, retain, now)?;
    }
    run.new = merged.new;
    run.updated = merged.updated;
    if merged.new + merged.updated > 0 {
        // The feed files no longer show the items: whatever happens next, the next run renders them.
        pages::set_published(tx, &source, None)?;
    }
    runs::insert(tx, run)?;
    claims::recorded(tx, &source)?;
    let events = merge::events(&source, merged.inserted, &changes.events);
    outbox::enqueue(tx, &changes.notify, &events, now)?;
    runs::changed(tx)
}

/// The stored rows a commit's merge needs, by id.
type StoredItems = HashMap<crate::model::ItemId, merge::Stored>;
