//! The memory of feedwright: item history, the links that lead to items, HTTP validators and run records, in one
//! SQLite file.
//!
//! Feeds are rendered from here, not from the last listing, so items stay after they roll off the page and an
//! undated item keeps its first-seen date. Every run of a source is committed in one transaction: a crash leaves
//! the previous state, never half of a run. The API is shaped around whole runs (read what is known, commit what
//! changed) so another backend (PostgreSQL for many workers) can implement the same calls.

mod lock;
mod pages;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{DateSource, Event, EventItem, Item, ItemId, ListedLink, SourceId, Validators};

pub use lock::{LockError, StateLock};
pub use pages::{Keep, PageKind, SavedPage, Served, Windowed};

/// Locks a store shared between concurrent runs. A panic while it was held cannot have left SQLite inconsistent
/// (an unfinished transaction rolls back), so a poisoned lock is used as it is.
pub fn lock(store: &std::sync::Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many run records are kept per source.
const RUNS_KEPT: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open state database {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
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
        source: rusqlite::Error,
    },
    #[error("state database {} holds an unreadable row", path.display())]
    Corrupt { path: PathBuf, detail: String },
}

/// What the store knows about an article link from an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub item_id: ItemId,
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

    fn parse(s: &str) -> Self {
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

mod millis {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`. A file that is not ours is refused.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::init(conn, path.to_owned())
    }

    /// Opens an existing database for reading only (`status`, `serve`): nothing is created, migrated or written, so
    /// a reader never races a running `run` for the schema.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        store.check_ours()?;
        store
            .conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| store.sql(e))?;
        let found: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store.sql(e))?;
        let known = schema::MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found,
                known,
            });
        }
        if found < known {
            return Err(StoreError::Outdated {
                path: store.path.clone(),
            });
        }
        Ok(store)
    }

    /// A private database that lives as long as the value (the demo, tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Self::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        let mut store = Store { conn, path };
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

    /// Refuses files that are not SQLite, or SQLite databases some other program made.
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
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        if app_id != 0 || tables > 0 {
            Err(foreign())
        } else {
            Ok(())
        }
    }

    fn migrate(&mut self, migrations: &[&str]) -> Result<(), StoreError> {
        let known = migrations.len() as i64;
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (version, sql) in migrations.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction().map_err(|e| sql_err(&self.path, e))?;
            tx.execute_batch(sql).map_err(|e| sql_err(&self.path, e))?;
            tx.pragma_update(None, "application_id", schema::APPLICATION_ID)
                .map_err(|e| sql_err(&self.path, e))?;
            tx.pragma_update(None, "user_version", version as i64 + 1)
                .map_err(|e| sql_err(&self.path, e))?;
            tx.commit().map_err(|e| sql_err(&self.path, e))?;
        }
        Ok(())
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        sql_err(&self.path, source)
    }

    pub fn validators(&self, url: &Url) -> Result<Option<Validators>, StoreError> {
        self.conn
            .query_row(
                "SELECT etag, last_modified FROM validators WHERE url = ?1",
                [url.as_str()],
                |r| {
                    Ok(Validators {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The article links of `source` seen in earlier runs, by listing URL.
    pub fn known_links(&self, source: &SourceId) -> Result<HashMap<String, Known>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.url, i.id, i.first_seen, i.last_checked
                 FROM links l JOIN items i ON i.source = l.source AND i.id = l.item_id WHERE l.source = ?1",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([source.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut known = HashMap::new();
        for row in rows {
            let (url, id, first_seen, last_checked) = row.map_err(|e| self.sql(e))?;
            known.insert(
                url,
                Known {
                    item_id: ItemId::from_stored(id),
                    first_seen: self.time(&first_seen)?.to_utc(),
                    last_checked: self.time(&last_checked)?.to_utc(),
                },
            );
        }
        Ok(known)
    }

    /// The listed article links of `source` whose last attempt failed and that never succeeded since, by URL.
    pub fn failed_links(&self, source: &SourceId) -> Result<HashMap<String, FailedLink>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT url, title, date_text, last_failed, attempts FROM failed_links WHERE source = ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([source.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = HashMap::new();
        for row in rows {
            let (url, title, date_text, last_failed, attempts) = row.map_err(|e| self.sql(e))?;
            let link = ListedLink {
                url: Url::parse(&url).map_err(|e| self.corrupt(format!("failed link {url}: {e}")))?,
                title,
                date_text,
            };
            let last_failed = self.time(&last_failed)?.to_utc();
            out.insert(
                url,
                FailedLink {
                    link,
                    last_failed,
                    attempts: attempts as u32,
                },
            );
        }
        Ok(out)
    }

    /// The listed article links of `source` whose last attempt failed or was skipped and that never succeeded since,
    /// most recently failed first.
    pub fn failed_articles(&self, source: &SourceId) -> Result<Vec<FailedArticle>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT url, title, first_failed, last_failed, attempts, error FROM failed_links WHERE source = ?1
                 ORDER BY last_failed DESC, url",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([source.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (url, title, first_failed, last_failed, attempts, error) = row.map_err(|e| self.sql(e))?;
            out.push(FailedArticle {
                url,
                title,
                first_failed: self.time(&first_failed)?.to_utc(),
                last_failed: self.time(&last_failed)?.to_utc(),
                attempts: attempts as u32,
                error,
            });
        }
        Ok(out)
    }

    /// When `source` last published, and how many runs failed since.
    pub fn run_summary(&self, source: &SourceId) -> Result<RunSummary, StoreError> {
        let (last_success, failures): (Option<String>, i64) = self
            .conn
            .query_row(
                "WITH good AS (SELECT id, started FROM runs WHERE source = ?1 AND outcome != 'failed'
                               ORDER BY id DESC LIMIT 1)
                 SELECT (SELECT started FROM good),
                        (SELECT count(*) FROM runs WHERE source = ?1 AND outcome = 'failed'
                            AND id > coalesce((SELECT id FROM good), 0))",
                [source.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql(e))?;
        Ok(RunSummary {
            last_success: last_success.map(|t| self.time(&t)).transpose()?.map(|t| t.to_utc()),
            consecutive_failures: failures as usize,
        })
    }

    /// The items of `source` as the web page lists them: newest first, at most `limit`.
    pub fn entries(&self, source: &SourceId, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT title, url, published, first_seen, edited FROM items WHERE source = ?1
                 ORDER BY published_ts DESC, id LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![source.as_str(), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (title, url, published, first_seen, edited) = row.map_err(|e| self.sql(e))?;
            out.push(Entry {
                title,
                url,
                published: self.time(&published)?,
                first_seen: self.time(&first_seen)?.to_utc(),
                edited: edited.map(|t| self.time(&t)).transpose()?.map(|t| t.to_utc()),
            });
        }
        Ok(out)
    }

    /// Commits one run: items (new ones inserted, edited ones updated in place), links, validators and the run
    /// record, in one transaction. Fills in `run.new` and `run.updated`.
    pub fn commit(&mut self, changes: &Changes, run: &mut RunRecord, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| sql_err(&self.path, e))?;
        commit_changes(&tx, changes, run, now).map_err(|e| sql_err(&self.path, e))?;
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    /// Records a run that changed no item (a failed or broken run), with its health events.
    pub fn record_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| sql_err(&self.path, e))?;
        let write = |tx: &rusqlite::Transaction<'_>| {
            insert_run(tx, run)?;
            events.iter().try_for_each(|e| enqueue(tx, notify, e, now))
        };
        write(&tx).map_err(|e| sql_err(&self.path, e))?;
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    /// Rewrites the outcome, reason, errors and duration of the source's latest run record (the one this run just
    /// committed) and queues `events`, in one transaction: for what is learnt after the commit, such as feed files
    /// that could not be written.
    pub fn amend_run(
        &mut self,
        run: &RunRecord,
        events: &[Event],
        notify: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| sql_err(&self.path, e))?;
        let write = |tx: &rusqlite::Transaction<'_>| {
            tx.execute(
                "UPDATE runs SET outcome = ?2, reason = ?3, errors = ?4, duration_ms = ?5
                 WHERE id = (SELECT MAX(id) FROM runs WHERE source = ?1)",
                params![
                    run.source.as_str(),
                    run.outcome.as_str(),
                    run.reason,
                    serde_json::to_string(&run.errors).expect("plain data serializes"),
                    run.duration.as_millis() as i64,
                ],
            )?;
            events.iter().try_for_each(|e| enqueue(tx, notify, e, now))
        };
        write(&tx).map_err(|e| sql_err(&self.path, e))?;
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    /// Events waiting for delivery to `target`, oldest first: `(row id, event)`.
    pub fn pending(&self, target: &str) -> Result<Vec<(i64, Event)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, event FROM outbox WHERE target = ?1 ORDER BY id")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([target], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(|e| self.sql(e))?;
            let event = serde_json::from_str(&json).map_err(|e| self.corrupt(format!("outbox event {id}: {e}")))?;
            out.push((id, event));
        }
        Ok(out)
    }

    /// Marks an outbox row delivered (`Ok`) or records why it was not, for the next try.
    pub fn delivered(&self, id: i64, result: Result<(), String>) -> Result<(), StoreError> {
        match result {
            Ok(()) => self.conn.execute("DELETE FROM outbox WHERE id = ?1", [id]),
            Err(e) => self.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, e],
            ),
        }
        .map(drop)
        .map_err(|e| self.sql(e))
    }

    /// The robots.txt files fetched at or after `since`.
    pub fn robots(&self, since: DateTime<Utc>) -> Result<Vec<StoredRobots>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT host, body, fetched FROM robots WHERE fetched >= ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([since.to_rfc3339()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (host, body, fetched) = row.map_err(|e| self.sql(e))?;
            out.push(StoredRobots {
                host,
                body,
                fetched: self.time(&fetched)?.to_utc(),
            });
        }
        Ok(out)
    }

    /// Keeps robots.txt files fetched at `now` (`(host, body)`; `None`: the host has none).
    pub fn save_robots(&self, fetched: &[(String, Option<String>)], now: DateTime<Utc>) -> Result<(), StoreError> {
        for (host, body) in fetched {
            self.conn
                .execute(
                    "INSERT INTO robots (host, body, fetched) VALUES (?1, ?2, ?3)
                     ON CONFLICT (host) DO UPDATE SET body = excluded.body, fetched = excluded.fetched",
                    params![host, body, now.to_rfc3339()],
                )
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// The items of a feed: newest first, at most `limit`.
    pub fn feed_items(&self, source: &SourceId, limit: usize) -> Result<Vec<Item>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, url, title, published, date_source, updated, author, summary, content_html, image,
                    image_caption
                 FROM items WHERE source = ?1 ORDER BY published_ts DESC, id LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![source.as_str(), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut items = Vec::new();
        for row in rows {
            let (id, url, title, published, date_source, updated, author, summary, content_html, image, caption) =
                row.map_err(|e| self.sql(e))?;
            items.push(Item {
                url: Url::parse(&url).map_err(|e| self.corrupt(format!("item url {url}: {e}")))?,
                id: ItemId::from_stored(id),
                title,
                published: self.time(&published)?,
                date_source: DateSource::parse(&date_source)
                    .ok_or_else(|| self.corrupt(format!("date source {date_source}")))?,
                updated: self.time(&updated)?,
                author,
                summary,
                content_html,
                image: image.and_then(|i| Url::parse(&i).ok()),
                image_caption: caption,
            });
        }
        Ok(items)
    }

    /// The number of items stored for `source`, and how many were first seen at or after `since`.
    pub fn item_counts(&self, source: &SourceId, since: DateTime<Utc>) -> Result<(usize, usize), StoreError> {
        self.conn
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE first_seen >= ?2) FROM items WHERE source = ?1",
                params![source.as_str(), since.to_rfc3339()],
                |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize)),
            )
            .map_err(|e| self.sql(e))
    }

    /// The most recent runs of `source`, newest first.
    pub fn recent_runs(&self, source: &SourceId, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT started, duration_ms, outcome, reason, links, new, updated, failed, fetched, with_date,
                    with_body, requests, listing, errors
                 FROM runs WHERE source = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![source.as_str(), limit as i64], |r| {
                let count = |i| r.get::<_, i64>(i).map(|n| n as usize);
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    [
                        count(4)?,
                        count(5)?,
                        count(6)?,
                        count(7)?,
                        count(8)?,
                        count(9)?,
                        count(10)?,
                        count(11)?,
                    ],
                    r.get::<_, String>(12)?,
                    r.get::<_, String>(13)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut runs = Vec::new();
        for row in rows {
            let (
                started,
                ms,
                outcome,
                reason,
                [links, new, updated, failed, fetched, with_date, with_body, requests],
                listing,
                errors,
            ) = row.map_err(|e| self.sql(e))?;
            runs.push(RunRecord {
                source: source.clone(),
                started: self.time(&started)?.to_utc(),
                duration: Duration::from_millis(ms as u64),
                outcome: Outcome::parse(&outcome),
                reason,
                links,
                new,
                updated,
                failed,
                fetched,
                with_date,
                with_body,
                requests,
                listing: serde_json::from_str(&listing).map_err(|e| self.corrupt(format!("run listing: {e}")))?,
                errors: serde_json::from_str(&errors).map_err(|e| self.corrupt(format!("run errors: {e}")))?,
            });
        }
        Ok(runs)
    }

    fn time(&self, text: &str) -> Result<DateTime<FixedOffset>, StoreError> {
        DateTime::parse_from_rfc3339(text).map_err(|e| self.corrupt(format!("time {text:?}: {e}")))
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }
}

fn sql_err(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sql {
        path: path.to_owned(),
        source,
    }
}

fn commit_changes(
    tx: &rusqlite::Transaction<'_>,
    changes: &Changes,
    run: &mut RunRecord,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let source = run.source.as_str();
    let now_text = now.to_rfc3339();
    let (mut new, mut updated) = (0, 0);
    let mut inserted = Vec::new();
    // Oldest first (the listing is newest first), so that when same-day items get nudged apart below, the
    // one the site lists higher ends up later.
    for item in changes.items.iter().rev() {
        let hash = content_hash(item);
        let stored: Option<(String, String)> = tx
            .query_row(
                "SELECT content_hash, updated FROM items WHERE source = ?1 AND id = ?2",
                params![source, item.id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        // An edit keeps the id and moves `updated` to when we noticed it, in the item's own offset.
        let mut edited = None;
        let updated_at = match stored {
            None => {
                new += 1;
                inserted.push(EventItem {
                    id: item.id.clone(),
                    url: item.url.clone(),
                    title: item.title.clone(),
                    published: item.published,
                });
                distinct_updated(tx, source, &item.id, item.updated)?
            }
            Some((old_hash, _)) if old_hash != hash => {
                updated += 1;
                edited = Some(now_text.as_str());
                distinct_updated(tx, source, &item.id, now.with_timezone(item.published.offset()))?
            }
            Some((_, old_updated)) => old_updated,
        };
        tx.execute(
            "INSERT INTO items (source, id, url, title, published, published_ts, date_source, updated, author, summary,
                content_html, image, image_caption, content_hash, first_seen, last_seen, last_checked, edited)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?15, ?16)
             ON CONFLICT (source, id) DO UPDATE SET url = excluded.url, title = excluded.title,
                -- An item dated by when it was first seen keeps that date, even when reached by a new link.
                published = CASE WHEN items.date_source = 'first-seen' AND excluded.date_source = 'first-seen'
                    THEN items.published ELSE excluded.published END,
                published_ts = CASE WHEN items.date_source = 'first-seen' AND excluded.date_source = 'first-seen'
                    THEN items.published_ts ELSE excluded.published_ts END,
                date_source = excluded.date_source, updated = excluded.updated, author = excluded.author,
                summary = excluded.summary, content_html = excluded.content_html, image = excluded.image,
                image_caption = excluded.image_caption, content_hash = excluded.content_hash,
                last_seen = excluded.last_seen, last_checked = excluded.last_checked,
                edited = coalesce(excluded.edited, items.edited)",
            params![
                source,
                item.id.as_str(),
                item.url.as_str(),
                item.title,
                item.published.to_rfc3339(),
                item.published.timestamp(),
                item.date_source.as_str(),
                updated_at,
                item.author,
                item.summary,
                item.content_html,
                item.image.as_ref().map(Url::as_str),
                item.image_caption,
                hash,
                now_text,
                edited,
            ],
        )?;
    }
    for id in &changes.seen {
        tx.execute(
            "UPDATE items SET last_seen = ?3 WHERE source = ?1 AND id = ?2",
            params![source, id.as_str(), now_text],
        )?;
    }
    for id in &changes.checked {
        tx.execute(
            "UPDATE items SET last_seen = ?3, last_checked = ?3 WHERE source = ?1 AND id = ?2",
            params![source, id.as_str(), now_text],
        )?;
    }
    for (url, id) in &changes.links {
        tx.execute(
            "INSERT INTO links (source, url, item_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, url) DO UPDATE SET item_id = excluded.item_id",
            params![source, url.as_str(), id.as_str()],
        )?;
        tx.execute(
            "DELETE FROM failed_links WHERE source = ?1 AND url = ?2",
            params![source, url.as_str()],
        )?;
    }
    for (link, error) in &changes.failed {
        remember_failure(tx, source, link, Some(error), &now_text)?;
    }
    for link in &changes.skipped {
        remember_failure(tx, source, link, None, &now_text)?;
    }
    for (url, v) in &changes.validators {
        tx.execute(
            "INSERT INTO validators (url, etag, last_modified) VALUES (?1, ?2, ?3)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
            params![url.as_str(), v.etag, v.last_modified],
        )?;
    }
    pages::commit(
        tx,
        source,
        &changes.pages,
        changes.rules.as_deref(),
        changes.keep.as_ref(),
        now,
    )?;
    run.new = new;
    run.updated = updated;
    insert_run(tx, run)?;
    if !inserted.is_empty() {
        inserted.reverse(); // back to newest first
        enqueue(
            tx,
            &changes.notify,
            &Event::NewItems {
                source: run.source.clone(),
                items: inserted,
            },
            now,
        )?;
    }
    for event in &changes.events {
        enqueue(tx, &changes.notify, event, now)?;
    }
    Ok(())
}

fn enqueue(
    tx: &rusqlite::Transaction<'_>,
    targets: &[String],
    event: &Event,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(event).expect("plain data serializes");
    for target in targets {
        tx.execute(
            "INSERT INTO outbox (target, event, created) VALUES (?1, ?2, ?3)",
            params![target, json, now.to_rfc3339()],
        )?;
    }
    Ok(())
}

/// Records a failed (`error`) or skipped (`None`: no attempt was made, so no backoff grows) listed link.
fn remember_failure(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    link: &ListedLink,
    error: Option<&String>,
    now: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO failed_links (source, url, title, date_text, first_failed, last_failed, attempts, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)
         ON CONFLICT (source, url) DO UPDATE SET title = excluded.title, date_text = excluded.date_text,
            last_failed = excluded.last_failed, attempts = attempts + excluded.attempts, error = excluded.error",
        params![
            source,
            link.url.as_str(),
            link.title,
            link.date_text,
            now,
            i64::from(error.is_some()),
            error.map_or(SKIPPED, String::as_str),
        ],
    )?;
    Ok(())
}

/// `at`, or the first second after it that no other item of `source` has as its `updated` time.
///
/// Sites often print only a date, so several items share midnight; Atom readers (and the W3C validator) expect
/// entries to differ in `updated`. The nudge is decided once, when the value is stored, so it never flaps.
fn distinct_updated(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    id: &ItemId,
    at: DateTime<FixedOffset>,
) -> rusqlite::Result<String> {
    let mut candidate = at;
    loop {
        let text = candidate.to_rfc3339();
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM items WHERE source = ?1 AND updated = ?2 AND id != ?3)",
            params![source, text, id.as_str()],
            |r| r.get(0),
        )?;
        if !taken {
            return Ok(text);
        }
        candidate += chrono::Duration::seconds(1);
    }
}

fn insert_run(tx: &rusqlite::Transaction<'_>, run: &RunRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO runs (source, started, duration_ms, outcome, reason, links, new, updated, failed, fetched,
            with_date, with_body, requests, listing, errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            run.source.as_str(),
            run.started.to_rfc3339(),
            run.duration.as_millis() as i64,
            run.outcome.as_str(),
            run.reason,
            run.links as i64,
            run.new as i64,
            run.updated as i64,
            run.failed as i64,
            run.fetched as i64,
            run.with_date as i64,
            run.with_body as i64,
            run.requests as i64,
            serde_json::to_string(&run.listing).expect("plain data serializes"),
            serde_json::to_string(&run.errors).expect("plain data serializes"),
        ],
    )?;
    tx.execute(
        "DELETE FROM runs WHERE source = ?1 AND id <= (SELECT id FROM runs WHERE source = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![run.source.as_str(), RUNS_KEPT],
    )?;
    Ok(())
}

/// What decides whether an article was edited: the fields a reader sees.
fn content_hash(item: &Item) -> String {
    let mut h = Sha256::new();
    for part in [
        item.title.as_str(),
        item.content_html.as_str(),
        item.author.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(item.image.as_ref().map_or("", Url::as_str).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
