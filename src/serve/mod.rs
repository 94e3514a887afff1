//! HTTP serving of the published feeds (axum): `feedwright serve` and `feedwright watch --serve`.
//!
//! Inputs: the validated config (swapped on reload), the state database (read-only use, own connection, opened when it
//! exists) with the copy of each feed that publishing keeps there, the feed files in the output folder (for a feed the
//! store has no copy of), the clock (a parameter) and, under `watch`, the live [`Metrics`] and the scheduler's
//! [`Timetable`]. Routes: `/{id}.{ext}` for each configured feed (a source's or a `[[merge]]`'s) and format, `/` and
//! `/source/{id}` (the web page, [`page`]), `/index.opml`, `/healthz` and `/metrics`. Every route that says how a
//! source is doing shows the same [`SourceState`], kept in memory between runs: the store is read again only when
//! another connection committed (a run), the config was reloaded, or half a minute passed. A feed's file path is built
//! only from a configured source id and format, never from request text, so no request can reach another file: `..`,
//! encoded dots, absolute paths and unknown names all miss the lookup and get 404; a feed file that is a symlink is
//! refused (feedwright writes regular files only). Feeds carry strong ETags (a content hash) and Last-Modified, the
//! same from every `serve` sharing a store, and answer conditional requests with 304; bodies are compressed (gzip,
//! brotli) when the client asks, and a compressed body gets its own ETag. This module never writes anything.

pub mod metrics;
pub mod page;

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{self, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use tower_http::compression::CompressionLayer;

use self::metrics::Metrics;

use crate::config::Config;
use crate::model::SourceId;
use crate::publish::opml;
use crate::render::Format;
use crate::scheduler::Timetable;
use crate::status::{self, Health, SourceState};
use crate::store::{Store, StoreError};

/// How many runs `/source/{id}` lists.
const HISTORY_RUNS: usize = 20;

/// What `watch` shares with its server: the live counters and when each source runs next.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub metrics: Arc<Metrics>,
    pub timetable: Arc<Timetable>,
}

/// What the server reads, shared by all requests.
#[derive(Debug)]
pub struct Site {
    config: RwLock<Arc<Config>>,
    /// Under `watch`; `None` for plain `serve`, which derives its counters from the store and schedules nothing.
    live: Option<Live>,
    clock: fn() -> DateTime<Utc>,
    store: Mutex<Option<Store>>,
    files: Mutex<HashMap<PathBuf, Arc<FeedFile>>>,
    /// The sources' states as last read from the store, for `/`, `/healthz` and `/metrics`.
    kept: Mutex<Option<Kept>>,
    /// How many times the states were read from the store (for the debug log and tests).
    reads: std::sync::atomic::AtomicUsize,
}

/// States read from the store, used while the store has no new commit, the config is the same one, and for at most
/// [`KEEP_STATES`] (the states count "new in 24 h" from the time they were read).
#[derive(Debug)]
struct Kept {
    config: Arc<Config>,
    version: i64,
    at: DateTime<Utc>,
    states: Vec<SourceState>,
    /// Plain `serve`'s run counters for `/metrics` (under `watch` they are live), read with the states.
    runs: Option<RecentRuns>,
}

/// Each source's recent runs, for plain `serve`'s `/metrics`.
type RecentRuns = Vec<(crate::model::SourceId, Vec<crate::store::RunRecord>)>;

/// The longest the states are kept without a commit to the store.
const KEEP_STATES: chrono::Duration = chrono::Duration::seconds(30);

/// How long a store copy is served from memory before its ETag is asked of the store again: at most this late a
/// new copy is seen, and a burst of requests costs the store one read per feed per interval, not one per request.
const RECHECK: Duration = Duration::from_secs(1);

/// A feed as last read: the store's copy, kept while the store's ETag for it stays the same, or a file, kept while its
/// size and modification time stay the same.
#[derive(Debug, Clone)]
struct FeedFile {
    origin: Origin,
    modified: SystemTime,
    body: Bytes,
    /// The quoted strong ETag of the identity (uncompressed) body.
    etag: String,
    last_modified: HeaderValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The store's copy, its ETag last confirmed at `checked`.
    Store {
        checked: Instant,
    },
    File {
        len: u64,
    },
}

impl FeedFile {
    fn new(origin: Origin, modified: SystemTime, body: Vec<u8>, etag: String) -> FeedFile {
        FeedFile {
            origin,
            modified,
            etag,
            last_modified: HeaderValue::from_str(&http_date(modified)).expect("an HTTP date is a valid header"),
            body: Bytes::from(body),
        }
    }
}

impl Site {
    /// A site for `config`; `clock` tells the time ("new in 24 h", "5 min ago").
    pub fn new(config: Arc<Config>, live: Option<Live>, clock: fn() -> DateTime<Utc>) -> Arc<Site> {
        Arc::new(Site {
            config: RwLock::new(config),
            live,
            clock,
            store: Mutex::new(None),
            files: Mutex::new(HashMap::new()),
            kept: Mutex::new(None),
            reads: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Serves `config` from now on (after a reload). A changed state path is picked up on the next read.
    pub fn set_config(&self, config: Arc<Config>) {
        let state_changed = self.config().settings.state != config.settings.state;
        *self.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        if state_changed {
            *lock(&self.store) = None;
        }
    }

    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The feed `id` in `format`, published at `path`: the store's copy when it has one (the same bytes, ETag and
    /// Last-Modified on every machine that shares the store), else the file (a feed published before feedwright
    /// kept copies, or no state yet). A store that cannot be read is logged and the file served meanwhile.
    fn feed(&self, id: &SourceId, format: Format, path: &Path) -> std::io::Result<Option<Arc<FeedFile>>> {
        match self.stored(id, format, path) {
            Ok(Some(feed)) => return Ok(Some(feed)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(feed = %id, error = %crate::error_chain(&e), "cannot read the stored feed; serving the file")
            }
        }
        self.file(path)
    }

    /// The store's copy of `id` in `format`, from the cache (under `path`) for [`RECHECK`], then while the store's
    /// ETag for it is unchanged: one small read per interval, and the body only when it changed.
    fn stored(&self, id: &SourceId, format: Format, path: &Path) -> Result<Option<Arc<FeedFile>>, StoreError> {
        let cached = lock(&self.files)
            .get(path)
            .filter(|f| matches!(f.origin, Origin::Store { .. }))
            .cloned();
        if let Some(cached) = &cached
            && let Origin::Store { checked } = cached.origin
            && checked.elapsed() < RECHECK
        {
            return Ok(Some(cached.clone()));
        }
        let Some(tag) = self.with_store(|store| store.feed_tag(id, format.ext()))?.flatten() else {
            return Ok(None);
        };
        let checked = Origin::Store {
            checked: Instant::now(),
        };
        let feed = match cached {
            Some(cached) if cached.etag == tag.etag => Arc::new(FeedFile {
                origin: checked,
                ..(*cached).clone()
            }),
            _ => {
                let Some(stored) = self.with_store(|store| store.stored_feed(id, format.ext()))?.flatten() else {
                    return Ok(None);
                };
                Arc::new(FeedFile::new(
                    checked,
                    stored.tag.modified.into(),
                    stored.body,
                    stored.tag.etag,
                ))
            }
        };
        lock(&self.files).insert(path.to_owned(), feed.clone());
        Ok(Some(feed))
    }

    /// Reads the feed file at `path`, from the cache when its size and mtime are unchanged. `None` when there is no
    /// regular file there (missing, a folder, a symlink).
    fn file(&self, path: &Path) -> std::io::Result<Option<Arc<FeedFile>>> {
        // A stat per request (microseconds) keeps a rewritten feed visible at once without a watcher.
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_file() => meta,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let modified = meta.modified()?;
        if let Some(cached) = lock(&self.files).get(path)
            && cached.origin == (Origin::File { len: meta.len() })
            && cached.modified == modified
        {
            return Ok(Some(cached.clone()));
        }
        // Read through one handle, so body and mtime belong together even if the file is replaced meanwhile.
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let mut body = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut body)?;
        let etag = crate::publish::etag(&body);
        let feed = Arc::new(FeedFile::new(
            Origin::File { len: meta.len() },
            meta.modified()?,
            body,
            etag,
        ));
        lock(&self.files).insert(path.to_owned(), feed.clone());
        Ok(Some(feed))
    }

    /// Runs `f` with the state database, opening it on first use; `Ok(None)` while there is none yet.
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<Option<T>, StoreError> {
        let mut guard = lock(&self.store);
        if guard.is_none() {
            // Asked again on every request until the first run has written a state (a PostgreSQL state: a
            // connection each, for as long as the database is empty).
            let Some(store) = Store::open_read_only(&self.config().settings.state)? else {
                return Ok(None);
            };
            *guard = Some(store);
        }
        let store = guard.as_ref().expect("opened above");
        f(store).map(Some)
    }

    /// Each configured feed's state, in config order (sources, then merges): the one [`status::read_all`] answer for every route. Kept in
    /// memory and read again only when a run committed since (the store's [`crate::store::Backend::version`]),
    /// the config was reloaded or [`KEEP_STATES`] passed, so a request costs no store reads at all between runs
    /// however many sources there are; the next run times come from the scheduler's timetable on every request.
    fn states(&self, config: &Arc<Config>) -> Result<Vec<SourceState>, StoreError> {
        Ok(self.kept_states(config, false)?.0)
    }

    /// [`Site::states`], and with `runs`, plain `serve`'s recent runs of every source for `/metrics`.
    fn kept_states(&self, config: &Arc<Config>, runs: bool) -> Result<(Vec<SourceState>, RecentRuns), StoreError> {
        let now = (self.clock)();
        let next_id = |id: &crate::model::SourceId| self.live.as_ref().and_then(|l| l.timetable.next(id));
        let next = |s: &crate::config::Source| next_id(&s.id);
        let with_next = |mut states: Vec<SourceState>| {
            for (state, source) in states.iter_mut().zip(&config.sources) {
                state.next_run = next(source);
            }
            states
        };
        let Some(version) = self.with_store(|store| store.version())? else {
            return Ok((status::never_run_all(config, |id| next_id(id)), Vec::new()));
        };
        if let Some(kept) = lock(&self.kept).as_ref()
            && version.is_some_and(|v| v == kept.version)
            && Arc::ptr_eq(&kept.config, config)
            && now >= kept.at
            && now - kept.at < KEEP_STATES
            && (!runs || kept.runs.is_some())
        {
            return Ok((with_next(kept.states.clone()), kept.runs.clone().unwrap_or_default()));
        }
        let read = self.with_store(|store| {
            let states = status::read_all(store, config, now, |_| None)?;
            let recent = if runs {
                let rows = config
                    .sources
                    .iter()
                    .map(|s| Ok((s.id.clone(), store.recent_runs(&s.id, 500)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Some(rows)
            } else {
                None
            };
            Ok((states, recent))
        })?;
        let Some((states, recent)) = read else {
            unreachable!("the store was opened for its version above and stays open")
        };
        let n = self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        tracing::debug!(reads = n, sources = states.len(), "source states read from the store");
        if let Some(version) = version {
            *lock(&self.kept) = Some(Kept {
                config: Arc::clone(config),
                version,
                at: now,
                states: states.clone(),
                runs: recent.clone(),
            });
        }
        Ok((with_next(states), recent.unwrap_or_default()))
    }

    /// How many times the sources' states were read from the store.
    pub fn state_reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn metrics_text(&self) -> Result<String, StoreError> {
        let config = self.config();
        // Metrics count runs, and only sources run.
        let sources = config.sources.len();
        if let Some(live) = &self.live {
            return Ok(live.metrics.render(&self.states(&config)?[..sources]));
        }
        let (states, rows) = self.kept_states(&config, true)?;
        Ok(Metrics::from_runs(&rows).render(&states[..sources]))
    }

    fn index_page(&self) -> Result<String, StoreError> {
        let config = self.config();
        let states = self.states(&config)?;
        Ok(page::index(&config, &states, (self.clock)()))
    }

    /// `/source/{id}`; `None` when no such source is configured.
    fn source_page(&self, id: &str) -> Result<Option<String>, StoreError> {
        let config = self.config();
        if let Some(merge) = config.merge(id) {
            return self.merge_page(&config, merge).map(Some);
        }
        let Some(source) = config.source(id) else {
            return Ok(None);
        };
        let now = (self.clock)();
        let next = self.live.as_ref().and_then(|l| l.timetable.next(&source.id));
        let stored = self.with_store(|store| {
            let state = status::read(store, source, now, next)?;
            let history = page::History {
                entries: store.entries(&source.id, source.max_items)?,
                runs: store.recent_runs(&source.id, HISTORY_RUNS)?,
            };
            Ok((state, history))
        })?;
        let (state, history) = stored.unwrap_or_else(|| {
            (
                SourceState::never_run(source.id.clone(), next),
                page::History::default(),
            )
        });
        Ok(Some(page::source(&config, source, &state, &history, now)))
    }
}

impl Site {
    /// `/source/{id}` of a merged feed: its state, its sources' states and its items.
    fn merge_page(&self, config: &Arc<Config>, merge: &crate::config::Merge) -> Result<String, StoreError> {
        let now = (self.clock)();
        let states = self.states(config)?;
        let members: Vec<SourceState> = merge
            .sources
            .iter()
            .filter_map(|id| states.iter().find(|s| &s.source == id).cloned())
            .collect();
        let state = states
            .iter()
            .find(|s| s.source == merge.id)
            .cloned()
            .unwrap_or_else(|| SourceState::merged(merge.id.clone(), &members, 0, 0));
        let entries = self
            .with_store(|store| {
                let lists = merge
                    .sources
                    .iter()
                    .map(|id| store.entries(id, merge.max_items))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(crate::merged::entries(lists, merge.max_items))
            })?
            .unwrap_or_default();
        Ok(page::merge(config, merge, &state, &members, &entries, now))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The routes, with compression; `site` is shared by every request.
pub fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/source/{id}", get(source_page))
        .route("/index.opml", get(opml_list))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/{file}", get(feed))
        .fallback(not_found)
        .with_state(site)
        .layer(CompressionLayer::new())
        .layer(axum::middleware::map_response(tag_encoding))
}

/// Serves `site` on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    site: Arc<Site>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(site))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The feed (a source's or a merge's) and format a request file name names, when both are configured; anything
/// else is `None`.
fn resolve<'a>(config: &'a Config, file: &str) -> Option<(&'a SourceId, Format)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let format = config.settings.formats.iter().copied().find(|f| f.ext() == ext)?;
    let feed = config.feed(stem)?;
    Some((feed.id(), format))
}

async fn feed(
    State(site): State<Arc<Site>>,
    extract::Path(file): extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let config = site.config();
    let Some((id, format)) = resolve(&config, &file) else {
        return not_found().await;
    };
    // Built from the configured id and format only, never from the request text.
    let path = config.settings.feed_path(id, format);
    let id = id.clone();
    let feed = match blocking(site, move |site| site.feed(&id, format, &path)).await {
        Ok(Some(feed)) => feed,
        Ok(None) => return not_found().await,
        Err(e) => {
            tracing::error!(file = %file, error = %e, "cannot read feed file");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the feed file\n").into_response();
        }
    };

    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        // If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
        Some(inm) => matching_tag(inm, &feed.etag),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .filter(|since| DateTime::<Utc>::from(feed.modified).timestamp() <= since.timestamp())
            .map(|_| feed.etag.clone()),
    };
    let mut response = match not_modified {
        Some(tag) => {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            // The tag the client holds (it may be a compressed body's), so it keeps matching.
            r.headers_mut().insert(
                header::ETAG,
                HeaderValue::from_str(&tag).expect("a matched tag is a valid header"),
            );
            r
        }
        None => {
            let mut r = Response::new(Body::from(feed.body.clone()));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&format!("{}; charset=utf-8", format.media_type())).expect("valid media type"),
            );
            h.insert(
                header::ETAG,
                HeaderValue::from_str(&feed.etag).expect("a hex tag is a valid header"),
            );
            r
        }
    };
    let h = response.headers_mut();
    h.insert(header::LAST_MODIFIED, feed.last_modified.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// The suffix a compressed body's ETag gets, after its content coding.
fn coding_suffix(coding: &str) -> Option<&'static str> {
    match coding {
        "gzip" => Some("-gzip"),
        "br" => Some("-br"),
        "deflate" => Some("-deflate"),
        "zstd" => Some("-zstd"),
        _ => None,
    }
}

/// The entity tag in `if_none_match` that names this feed (its identity or a compressed body), as the client wrote
/// it; weak comparison, as RFC 9110 asks for If-None-Match.
fn matching_tag(if_none_match: &HeaderValue, etag: &str) -> Option<String> {
    let value = if_none_match.to_str().ok()?;
    let base = etag.trim_end_matches('"');
    value.split(',').map(str::trim).find_map(|tag| {
        if tag == "*" {
            return Some(etag.to_owned());
        }
        let strong = tag.strip_prefix("W/").unwrap_or(tag);
        let inner = strong.strip_prefix(base)?;
        let ok = inner == "\""
            || ["-gzip", "-br", "-deflate", "-zstd"]
                .iter()
                .any(|suffix| inner.strip_prefix(suffix) == Some("\""));
        ok.then(|| strong.to_owned())
    })
}

/// Gives a compressed body its own strong ETag (`"hash-gzip"`), since its bytes differ from the identity body's.
async fn tag_encoding(mut response: Response) -> Response {
    let suffix = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(coding_suffix);
    if let Some(suffix) = suffix
        && let Some(tag) = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok())
        && let Some(base) = tag.strip_suffix('"')
        && !base.ends_with(suffix)
    {
        let tagged = format!("{base}{suffix}\"");
        if let Ok(v) = HeaderValue::from_str(&tagged) {
            response.headers_mut().insert(header::ETAG, v);
        }
    }
    response
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

fn store_failed(e: &StoreError) -> Response {
    tracing::error!(error = %crate::error_chain(e), "cannot read the state database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "cannot read the state database\n",
    )
        .into_response()
}

/// Runs a store- or file-reading `f` off the async threads.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    site: Arc<Site>,
    f: impl FnOnce(&Site) -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    match tokio::task::spawn_blocking(move || f(&site)).await {
        Ok(result) => result,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

async fn opml_list(State(site): State<Arc<Site>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/x-opml; charset=utf-8")],
        opml::document(&site.config()),
    )
        .into_response()
}

async fn healthz(State(site): State<Arc<Site>>) -> Response {
    let states = match blocking(site, |site| site.states(&site.config())).await {
        Ok(states) => states,
        Err(e) => {
            let mut r = store_failed(&e);
            *r.body_mut() =
                Body::from(serde_json::json!({"status": "error", "error": crate::error_chain(&e)}).to_string());
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return r;
        }
    };
    let broken = states.iter().any(|s| s.health == Health::Broken);
    let (sources, merges): (Vec<&SourceState>, Vec<&SourceState>) = states.iter().partition(|s| s.merge_of.is_empty());
    let mut body = serde_json::json!({
        "status": if broken { "failing" } else { "ok" },
        "sources": sources,
    });
    if !merges.is_empty() {
        body["merges"] = serde_json::json!(merges);
    }
    let status = if broken {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(site): State<Arc<Site>>) -> Response {
    match blocking(site, Site::metrics_text).await {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(e) => store_failed(&e),
    }
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn index(State(site): State<Arc<Site>>) -> Response {
    match blocking(site, Site::index_page).await {
        Ok(body) => html(body),
        Err(e) => store_failed(&e),
    }
}

async fn source_page(State(site): State<Arc<Site>>, extract::Path(id): extract::Path<String>) -> Response {
    match blocking(site, move |site| site.source_page(&id)).await {
        Ok(Some(body)) => html(body),
        Ok(None) => not_found().await,
        Err(e) => store_failed(&e),
    }
}

/// An HTTP date (IMF-fixdate) for `t`.
fn http_date(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests;
