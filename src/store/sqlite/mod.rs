//! The embedded backend: one SQLite file, in WAL mode, opened and migrated here; each entity's SQL in a file of
//! its own (`items.rs`, `links.rs`, `runs.rs`, `http.rs` for validators and robots.txt, `pages.rs`, `feeds.rs`,
//! `outbox.rs`).
//!
//! This file opens the database, refuses files that are not ours, runs the migrations of `schema.rs`, and
//! implements [`Backend`] by calling the entity files inside one transaction per write. It decides nothing about
//! items: [`merge`] does. Nothing of rusqlite leaves this folder; its errors go out boxed in [`StoreError`].

mod feeds;
mod http;
mod items;
mod links;
mod outbox;
mod pages;
mod runs;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rusqlite::{Connection, OpenFlags};
use url::Url;

use super::{
    Backend, Changes, Claim, Entry, FailedArticle, FeedTag, Item, RunRecord, RunState, RunSummary, SavedPage,
    StoreError, StoredFeed, Want, Windowed, merge, stored,
};
use crate::model::{Event, SourceId, Validators};

/// Why an entity file's call failed: SQLite said so, or a row does not read back as what was written.
#[derive(Debug)]
enum Failure {
    Sql(rusqlite::Error),
    Corrupt(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
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

pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

impl Sqlite {
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                source: Box::new(e),
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, e))?;
        Self::init(conn, path.to_owned())
    }

    /// `None`: no state yet, the file missing or without a single table (as a `run` that died creating it may
    /// leave it).
    pub fn open_read_only(path: &Path) -> Result<Option<Sqlite>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| open_err(path, e))?;
        let store = Sqlite {
            conn,
            path: path.to_owned(),
        };
        store.check_ours()?;
        store
            .conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| store.sql(e))?;
        let found = store.user_version()?;
        let known = schema::MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found,
                known,
            });
        }
        if found == 0 && store.tables()? == 0 {
            return Ok(None);
        }
        if found < known {
            return Err(StoreError::Outdated {
                path: store.path.clone(),
            });
        }
        Ok(Some(store))
    }

    pub fn in_memory() -> Result<Sqlite, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| open_err(&path, e))?;
        Self::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Sqlite, StoreError> {
        let mut store = Sqlite { conn, path };
        store.check_ours()?;
        store
            .conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| store.sql(e))?;
        // WAL keeps readers (`status`, `serve`) off the writer's back; NORMAL is durable at each commit in WAL mode
        // except for a power cut, which at worst loses the last run, never consistency.
        store
            .conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| store.sql(e))?;
        store
            .conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| store.sql(e))?;
        store.migrate(schema::MIGRATIONS)?;
        Ok(store)
    }

    fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// Refuses files that are not SQLite, or SQLite databases some other program made.
    /// How many tables, indexes and such the file holds.
    fn tables(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    fn check_ours(&self) -> Result<(), StoreError> {
        let foreign = || StoreError::Foreign {
            path: self.path.clone(),
        };
        let app_id: i64 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => foreign(),
                e => self.sql(e),
            })?;
        if app_id == schema::APPLICATION_ID {
            return Ok(());
        }
        if app_id != 0 || self.tables()? > 0 {
            Err(foreign())
        } else {
            Ok(())
        }
    }

    fn migrate(&mut self, migrations: &[&str]) -> Result<(), StoreError> {
        let known = migrations.len() as i64;
        let found = self.user_version()?;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        if found == known {
            return Ok(());
        }
        // Every pending step in one transaction, as on PostgreSQL: an upgrade is applied whole or not at all, and
        // a new state costs one commit, not one per step.
        self.write(|tx| {
            for sql in &migrations[found as usize..] {
                tx.execute_batch(sql)?;
            }
            tx.pragma_update(None, "application_id", schema::APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", known)?;
            Ok(())
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        Sqlite::failure(&self.path, Failure::Sql(source))
    }

    fn fail(&self, failure: Failure) -> StoreError {
        Sqlite::failure(&self.path, failure)
    }

    fn failure(path: &Path, failure: Failure) -> StoreError {
        match failure {
            Failure::Sql(e) => StoreError::Sql {
                path: path.to_owned(),
                source: Box::new(e),
            },
            Failure::Corrupt(detail) => StoreError::Corrupt {
                path: path.to_owned(),
                detail,
            },
        }
    }

    /// A read, its failure named with the file.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T, StoreError> {
        f(&self.conn).map_err(|e| self.fail(e))
    }

    /// One transaction: all of `f`, or nothing.
    fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T, StoreError> {
        let path = self.path.clone();
        let fail = |e| Sqlite::failure(&path, e);
        let tx = self.conn.transaction().map_err(|e| fail(Failure::Sql(e)))?;
        let out = f(&tx).map_err(fail)?;
        tx.commit().map_err(|e| fail(Failure::Sql(e)))?;
        Ok(out)
    }
}

fn open_err(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Open {
        path: path.to_owned(),
        source: Box::new(e),
    }
}

impl Backend for Sqlite {
    fn load(&self, source: &SourceId, robots_since: Option<DateTime<Utc>>) -> Result<RunState, StoreError> {
        self.read(|c| {
            Ok(RunState {
                known: items::known_links(c, source)?,
                failed: links::failed_links(c, source)?,
                robots: match robots_since {
                    Some(since) => http::robots(c, since)?,
                    None => Vec::new(),
                },
                listing_validators: http::listing_validators(c, source)?,
            })
        })
    }

    fn validators(&self, url: &Url) -> Result<Option<Validators>, StoreError> {
        self.read(|c| http::validators(c, url))
    }

    fn rules(&self, source: &SourceId) -> Result<Option<String>, StoreError> {
        self.read(|c| pages::rules(c, source))
    }

    fn window(&self, source: &SourceId, max_items: usize) -> Result<Vec<Windowed>, StoreError> {
        self.read(|c| pages::window(c, source, max_items))
    }

    fn commit(&mut self, changes: &Changes, run: &mut RunRecord, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(|tx| commit(tx, changes, run, now))
    }

    fn record_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            runs::insert(tx, run)?;
            outbox::enqueue(tx, notify, events, now)
        })
    }

    fn amend_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            runs::amend(tx, run)?;
            outbox::enqueue(tx, notify, events, now)
        })
    }

    fn save_robots(&mut self, fetched: &[(String, Option<String>)], now: DateTime<Utc>) -> Result<(), StoreError> {
        if fetched.is_empty() {
            return Ok(());
        }
        self.write(|tx| http::save_robots(tx, fetched, now))
    }

    fn published(&self, source: &SourceId) -> Result<Option<String>, StoreError> {
        self.read(|c| pages::published(c, source))
    }

    fn set_published(&mut self, source: &SourceId, digest: &str) -> Result<(), StoreError> {
        self.write(|tx| pages::set_published(tx, source, Some(digest)))
    }

    fn save_feeds(&mut self, feeds: &[StoredFeed]) -> Result<(), StoreError> {
        self.write(|tx| feeds::save(tx, feeds))
    }

    fn feed_tag(&self, feed: &SourceId, ext: &str) -> Result<Option<FeedTag>, StoreError> {
        self.read(|c| feeds::tag(c, feed, ext))
    }

    fn stored_feed(&self, feed: &SourceId, ext: &str) -> Result<Option<StoredFeed>, StoreError> {
        self.read(|c| feeds::stored(c, feed, ext))
    }

    fn version(&self) -> Result<Option<i64>, StoreError> {
        // Changes with every commit made by another connection (a `run` or `watch` writing while `serve` reads).
        self.read(|c| Ok(Some(c.query_row("PRAGMA data_version", [], |r| r.get(0))?)))
    }

    fn feed_items(&self, source: &SourceId, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.read(|c| items::feed_items(c, source, limit))
    }

    fn entries(&self, source: &SourceId, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.read(|c| items::entries(c, source, limit))
    }

    fn item_counts(&self, source: &SourceId, since: DateTime<Utc>) -> Result<(usize, usize), StoreError> {
        self.read(|c| items::counts(c, source, since))
    }

    fn recent_runs(&self, source: &SourceId, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.read(|c| runs::recent(c, source, limit))
    }

    fn run_summary(&self, source: &SourceId) -> Result<RunSummary, StoreError> {
        self.read(|c| runs::summary(c, source))
    }

    fn failed_articles(&self, source: &SourceId) -> Result<Vec<FailedArticle>, StoreError> {
        self.read(|c| links::failed_articles(c, source))
    }

    fn listing_pages(&self, source: &SourceId) -> Result<Vec<SavedPage>, StoreError> {
        self.read(|c| pages::listing_pages(c, source))
    }

    fn saved_size(&self, source: &SourceId) -> Result<(usize, usize, usize), StoreError> {
        self.read(|c| pages::saved_size(c, source))
    }

    fn pending(&self, target: &str) -> Result<Vec<(i64, Event)>, StoreError> {
        self.read(|c| outbox::pending(c, target))
    }

    fn delivered(&mut self, id: i64, result: Result<(), String>) -> Result<(), StoreError> {
        self.read(|c| outbox::delivered(c, id, result))
    }

    /// Always granted: the only processes that drain (`run`, `watch`) hold the file's writer lock
    /// (`store/lock.rs`), so no other process drains this state.
    fn lock_outbox(&mut self, _target: &str) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Always: nothing can take the outbox from under the writer lock.
    fn holds_outbox(&self, _target: &str) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn unlock_outbox(&mut self, _target: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Always granted: `run` and `watch` hold the file's writer lock (`store/lock.rs`), so no other worker exists.
    fn claim(&mut self, _worker: &str, _want: &Want, lease: Duration, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        Ok(Claim::Granted {
            until: now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX),
        })
    }

    fn renew(
        &mut self,
        _worker: &str,
        _sources: &[SourceId],
        _lease: Duration,
        _now: DateTime<Utc>,
    ) -> Result<Vec<SourceId>, StoreError> {
        Ok(Vec::new())
    }

    fn release(&mut self, _worker: &str, _source: &SourceId, _done: bool) -> Result<(), StoreError> {
        Ok(())
    }
}

/// One run's commit, inside its transaction.
fn commit(tx: &rusqlite::Transaction<'_>, changes: &Changes, run: &mut RunRecord, now: DateTime<Utc>) -> Result<()> {
    let source = &run.source;
    let stored = items::stored(tx, source, changes.items.iter().map(|i| &i.id))?;
    let merged = merge::merge(&changes.items, &stored, now, || items::taken(tx, source))?;
    items::write(tx, source, &merged.rows, now)?;
    items::touch(tx, source, &changes.seen, &changes.checked, now)?;
    links::write(tx, source, &changes.links)?;
    links::remember_failures(tx, source, &changes.failed, &changes.skipped, now)?;
    http::save_validators(tx, &changes.validators)?;
    pages::commit(
        tx,
        source,
        &changes.pages,
        changes.rules.as_deref(),
        changes.keep.as_ref(),
        now,
    )?;
    if let Some(retain) = changes.keep.as_ref().and_then(|k| k.retain.map(|r| (k.max_items, r))) {
        items::retain(tx, source, retain, now)?;
    }
    run.new = merged.new;
    run.updated = merged.updated;
    if merged.new + merged.updated > 0 {
        // The feed files no longer show the items: whatever happens next, the next run renders them.
        pages::set_published(tx, source, None)?;
    }
    runs::insert(tx, run)?;
    let events = merge::events(source, merged.inserted, &changes.events);
    outbox::enqueue(tx, &changes.notify, &events, now)
}

/// The stored rows a commit's merge needs, by id.
type StoredItems = HashMap<crate::model::ItemId, merge::Stored>;

#[cfg(test)]
mod tests;
