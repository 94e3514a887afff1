//! One source, one run: the only place that knows the order of the stages.
//!
//! listing pages (conditional GET, [`listing`]) → article links → which articles to (re)fetch → article pages →
//! extract → normalize ([`articles`]) → health verdict → store (one transaction) → render from the store → publish
//! only what changed ([`feed`]). A feed source's feed takes the place of the listing pages, and its items are built
//! from the feed unless `full_text` reads their pages.
//! A failure anywhere in a source is reported in its [`Report`] and never touches the published files or the
//! stored items; one bad article only costs that article.
//!
//! Parsing (extract, and normalize with its sanitizer) is CPU work of up to a second or two on a hostile page, so it
//! runs on tokio's blocking threads, a few at a time ([`parse_off_runtime`]), never on the runtime threads that
//! drive every other request's I/O and timeouts. The source's `budget` covers it: a parse still running at the
//! deadline is given up like a request that would start after it. A run's store writes (the commit, the stored
//! feeds) run on blocking threads too ([`on_store`]).

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::Instrument;
use url::Url;

use crate::config::{Config, Source};
use crate::error_chain;
use crate::fetch::Fetcher;
use crate::health::{self, Observed};
use crate::model::{Event, Item, ItemId, ListedLink, Provenance, SourceId};
use crate::store::{Changes, Keep, ListingStatus, Outcome, RunRecord, RunState, Store, StoreError, lock};

mod articles;
mod feed;
mod listing;

pub use articles::extract_article;
pub use feed::{Published, feed_meta, merge_meta, publish_merge};

/// What a run needs besides the source: built once per command by `app`.
#[derive(Debug, Clone)]
pub struct Context {
    pub fetcher: Fetcher,
    pub store: Arc<Mutex<Store>>,
}

/// The result of one source's run.
#[derive(Debug, Clone)]
pub struct Report {
    pub record: RunRecord,
    /// Feed files whose bytes changed this run.
    pub written: Vec<PathBuf>,
    /// Items in the published feed.
    pub items: usize,
}

/// What the state database failing does to a run: the run stops (exit 1). A feed file that cannot be written is
/// not such an error: it fails that source only (its run record says why; exit 4), and the others go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the reason of a run whose feed files could not be written begins; the next run recognises it, so that a
/// source broken by its output folder is "recovered" only once its feeds are written again.
const PUBLISH_FAILED: &str = "cannot publish the feed";

/// Articles read for one source, before anything is stored: what `run` commits and `preview` prints.
#[derive(Debug, Default)]
pub struct Collected {
    pub links: Vec<ListedLink>,
    pub changes: Changes,
    pub observed: Observed,
    pub listing: Vec<ListingStatus>,
    /// Listing pages that failed; when none succeeded the source failed.
    pub listing_failures: usize,
    pub failed: usize,
    pub requests: usize,
    pub errors: Vec<String>,
    /// Articles not read because the source's time budget ran out (counted in `failed` too). They degrade a run,
    /// never fail it: the next run reads them.
    pub skipped: usize,
    /// Articles not requested because their address is one the source may not reach (counted in `failed` too).
    /// Like skipped ones they never fail a run on their own: a hostile listing must not be able to break a source
    /// by listing the metadata address.
    pub refused: usize,
    /// Feeds the listing pages advertise, for `preview` and `init` to mention.
    pub advertised: Vec<Url>,
    /// Where each read article's fields were found, for `preview`.
    pub provenance: Vec<(ItemId, Provenance)>,
    /// Items read but not published: the source's filters dropped them, for the reason given (`preview` shows it).
    pub dropped: Vec<(Item, crate::normalize::filter::Dropped)>,
}

/// How a run treats what earlier runs stored; the default is a routine run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Ignore stored validators once: the listing and every listed known article are fetched unconditionally.
    pub refetch: bool,
}

impl Collected {
    /// The listing's errors: `collect` reads the listing before any article, so they come first in `errors`.
    pub fn listing_errors(&self) -> &[String] {
        &self.errors[..self.listing_failures.min(self.errors.len())]
    }
}

/// How far a run is, for whoever shows it (a progress bar in `app`); the pipeline knows no terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The listing is read: this many articles will be read.
    Planned(usize),
    /// One more of them was read, or failed.
    Read,
}

/// A progress callback that ignores everything.
pub fn no_progress(_: Progress) {}

/// Fetches the listing and the articles that need reading, and normalizes them. Reads the store, never writes.
/// Its log lines name no source: run it in [`source_span`].
pub async fn collect(ctx: &Context, source: &Source, now: DateTime<Utc>) -> Result<Collected, StoreError> {
    collect_with(ctx, source, now, Options::default(), &no_progress).await
}

/// [`collect`], with `options` for this run, telling `progress` how far it is.
pub async fn collect_with(
    ctx: &Context,
    source: &Source,
    now: DateTime<Utc>,
    options: Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collected, StoreError> {
    let (rerun, state) = {
        let (ctx, source) = (ctx.clone(), source.clone());
        blocking(move || -> Result<_, StoreError> {
            let rerun = articles::Rerun::decide(&lock(&ctx.store), &source, options)?;
            Ok((rerun, load(&ctx, &source, now)?))
        })
        .await?
    };
    let RunState {
        known,
        // Links that failed before are not news either: a listing page of only those should not lead to the next
        // page.
        failed: failed_before,
        listing_validators,
        ..
    } = state;
    let mut out = Collected::default();
    out.changes.rules = Some(rerun.rules.clone());
    out.changes.keep = Some(Keep {
        max_items: source.max_items,
        listing: source.urls.clone(),
        max_pages: source.max_pages,
        retain: source.retain,
    });
    let deadline = tokio::time::Instant::now() + source.budget;
    let fetcher = match ctx.fetcher.for_source(&source.http) {
        Ok(fetcher) => fetcher.with_budget(deadline, source.budget),
        Err(e) => {
            out.listing_failures += 1;
            out.errors.push(error_chain(&e));
            return Ok(out);
        }
    };
    let run = Run {
        ctx,
        fetcher: &fetcher,
        source,
        now,
        deadline,
    };
    // Articles are read while the listing is: the first listing pages' new links at once, the rest of the plan
    // when the listing is read. The listing goes first each time both can go on, so that a next listing page is
    // asked for before the articles take the host's slots.
    let (dispatch, jobs) = articles::Dispatch::new((&known, &failed_before), now, progress);
    let listing = async {
        listing::read(
            &run,
            &rerun,
            &listing_validators,
            (&known, &failed_before),
            &dispatch,
            &mut out,
        )
        .await;
        let planned = rerun.adjust(
            articles::plan(source, &known, &failed_before, &out.links, now),
            &known,
            &failed_before,
            &out.links,
        );
        dispatch.finish(planned)
    };
    let (order, results) = futures_util::future::join(listing, articles::read_all(&run, jobs, progress)).await;
    articles::fold_in_order(results, &order, &known, (&source.filters, now), &mut out);
    Ok(out)
}

/// What the store knows about `source` before its run. robots.txt read by an earlier run within its lifetime is not
/// asked for again: the first source of a process reads every stored one into the fetcher's cache, the others
/// none (`robots` is then empty), so a warm pass costs one read of robots.txt per host, not one per source and host.
fn load(ctx: &Context, source: &Source, now: DateTime<Utc>) -> Result<RunState, StoreError> {
    let max_age = chrono::Duration::from_std(crate::fetch::robots::MAX_AGE).expect("a day fits");
    ctx.fetcher.seeding_robots(|first| {
        let since = first.then(|| now - max_age);
        let mut state = lock(&ctx.store).load(&source.id, since)?;
        let remembered = std::mem::take(&mut state.robots)
            .into_iter()
            .map(|r| crate::fetch::robots::Remembered {
                age: (now - r.fetched).to_std().unwrap_or_default(),
                host: r.host,
                body: r.body,
            })
            .collect();
        Ok((state, remembered))
    })
}

/// What every stage of one source's run reads: where to fetch and store, the source, and the run's clock.
struct Run<'a> {
    ctx: &'a Context,
    /// The source's own fetcher: its address policy, limits and budget.
    fetcher: &'a Fetcher,
    source: &'a Source,
    now: DateTime<Utc>,
    /// When the source's budget runs out.
    deadline: tokio::time::Instant,
}

/// Parses running at once, over all sources: one per core (at least two), so parsing never takes every core
/// from the runtime and a burst of big pages never holds more than a few parsed trees in memory.
static PARSERS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores.max(2))
});

/// Why a parse run by [`parse_off_runtime`] gave nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseFailure {
    /// It panicked: a bug in feedwright, which costs this one page.
    Panicked,
    /// The source's budget ran out before it finished.
    Late,
}

impl ParseFailure {
    pub(crate) fn message(self, what: &str, url: &Url, budget: Duration) -> String {
        match self {
            ParseFailure::Panicked => {
                format!("{what} {url} could not be parsed (a feedwright bug: please report it)")
            }
            ParseFailure::Late => format!(
                "{what} {url} skipped: the source's time budget of {} was used up while it was parsed",
                humantime::format_duration(budget)
            ),
        }
    }
}

/// Runs `parse` on tokio's blocking threads, one of [`PARSERS`] at a time, and waits for it until `deadline`.
///
/// A blocking thread cannot be stopped: a parse given up at the deadline runs on to its end (which the bounds of
/// [`crate::html`] keep short) and its result is dropped. A panic in it is caught by tokio and returned as
/// [`ParseFailure::Panicked`], so a parser bug costs one page, not the run.
pub(crate) async fn parse_off_runtime<T: Send + 'static>(
    deadline: tokio::time::Instant,
    parse: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ParseFailure> {
    if tokio::time::Instant::now() >= deadline {
        return Err(ParseFailure::Late);
    }
    // The parse's log lines name the source too, as every line about a source does.
    let span = tracing::Span::current();
    let run = async {
        let permit = PARSERS.acquire().await.expect("the semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(parse)
        })
        .await
    };
    match tokio::time::timeout_at(deadline, run).await {
        Ok(Ok(parsed)) => Ok(parsed),
        Ok(Err(join)) if join.is_panic() => Err(ParseFailure::Panicked),
        // Cancelled: the runtime is shutting down, and the page is read next run.
        Ok(Err(_)) | Err(_) => Err(ParseFailure::Late),
    }
}

/// Runs `work` on tokio's blocking threads, in the current span, and waits for it. A panic in it goes on here: a bug
/// there costs the source's task, as it would have on the runtime.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(work)).await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Runs `work` on the store on a blocking thread, as every store call of a run is: it waits on the store's lock, and
/// on another source's commit (every item, link and saved page of its run), a sync or a database server meanwhile,
/// which on a runtime thread would hold every request that thread drives.
pub(crate) async fn on_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    work: impl FnOnce(&mut Store) -> T + Send + 'static,
) -> T {
    let store = Arc::clone(store);
    blocking(move || work(&mut lock(&store))).await
}

/// Runs one source end to end and publishes its feeds when they changed.
pub async fn run(ctx: &Context, config: &Config, source: &Source, now: DateTime<Utc>) -> Result<Report, PipelineError> {
    run_with(ctx, config, source, now, Options::default(), &no_progress).await
}

/// [`run`], with `options` for this run, telling `progress` how far it is.
pub async fn run_with(
    ctx: &Context,
    config: &Config,
    source: &Source,
    now: DateTime<Utc>,
    options: Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, PipelineError> {
    run_source(ctx, config, source, now, options, progress)
        .instrument(source_span(&source.id))
        .await
}

/// The span every log line about `id` is in, so each names the source (`source{source=ID}: ...`), the fetcher's
/// and the normalizer's lines included. Error level, so it is enabled whenever any line is: at the default
/// (warn) level an info span is filtered out and its lines would lose the source.
pub fn source_span(id: &SourceId) -> tracing::Span {
    tracing::error_span!("source", source = %id)
}

async fn run_source(
    ctx: &Context,
    config: &Config,
    source: &Source,
    now: DateTime<Utc>,
    options: Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, PipelineError> {
    let clock = Instant::now();
    let collected = collect_with(ctx, source, now, options, progress).await?;
    let (robots, id) = (ctx.fetcher.take_fetched_robots(), source.id.clone());
    let recent = on_store(&ctx.store, move |store| {
        store.save_robots(&robots, now)?;
        store.recent_runs(&id, 10)
    })
    .await?;

    let listing_ok = collected.listing.len() > collected.listing_failures;
    let reason = if !listing_ok {
        Some(format!(
            "no listing page could be read: {}",
            collected.errors.first().map_or("", String::as_str)
        ))
    } else {
        health::broken(&collected.observed, &recent).or_else(|| {
            let failed = collected.failed - collected.skipped - collected.refused;
            let tried = collected.changes.items.len() + failed;
            // One dead link among few is that article's problem; several with nothing read is the source's.
            (collected.changes.items.is_empty() && failed >= 3 && collected.changes.checked.is_empty())
                .then(|| format!("all {tried} articles read this run failed"))
        })
    };
    let outcome = match (&reason, collected.failed + collected.listing_failures) {
        (Some(_), _) => Outcome::Failed,
        (None, 0) => Outcome::Ok,
        (None, _) => Outcome::Degraded,
    };
    let mut record = RunRecord {
        source: source.id.clone(),
        started: now,
        duration: clock.elapsed(),
        outcome,
        reason: reason
            .clone()
            .or_else(|| (outcome == Outcome::Degraded).then(|| degraded_reason(&collected))),
        links: collected.links.len(),
        new: 0,
        updated: 0,
        failed: collected.failed,
        fetched: collected.observed.parsed,
        with_date: collected.observed.with_date,
        with_body: collected.observed.with_body,
        requests: collected.requests,
        listing: collected.listing,
        errors: collected.errors,
    };

    let was_broken = recent.first().is_some_and(|r| r.outcome == Outcome::Failed);
    let broken_by_publish = recent.first().is_some_and(|r| {
        r.outcome == Outcome::Failed && r.reason.as_deref().is_some_and(|r| r.starts_with(PUBLISH_FAILED))
    });
    let event = match (&reason, was_broken) {
        (Some(reason), false) => Some(Event::Broken {
            source: source.id.clone(),
            reason: reason.clone(),
        }),
        (None, true) => Some(Event::Recovered {
            source: source.id.clone(),
        }),
        _ => None,
    };
    let notify: Vec<String> = config.notify.iter().map(|n| n.key()).collect();

    if let Some(reason) = &reason {
        tracing::error!(reason = %reason, "source failed; the published feed is kept");
        record.duration = clock.elapsed();
        let (run, id) = (record.clone(), source.id.clone());
        let counts = on_store(&ctx.store, move |store| {
            store.record_run(&run, event.as_slice(), &notify, now)?;
            store.item_counts(&id, now)
        })
        .await?;
        let items = counts.0.min(source.max_items);
        return Ok(Report {
            record,
            written: Vec::new(),
            items,
        });
    }

    // A source broken by its output folder has recovered only once its feeds are written: hold that event back.
    let (event, held) = match event {
        Some(e @ Event::Recovered { .. }) if broken_by_publish => (None, Some(e)),
        e => (e, None),
    };
    let queued_recovered = event.is_some() && was_broken;
    let mut changes = collected.changes;
    changes.events.extend(event);
    changes.notify = notify.clone();
    // Nothing new or edited, and the feed-level data as when the files were written: they would come out the same.
    let inputs = feed::inputs(config, source);
    let (unchanged, id, max_items) = (inputs.clone(), source.id.clone(), source.max_items);
    let files_exist = feed::files_exist(config, source);
    let (committed, items, rendered) = on_store(&ctx.store, move |store| -> Result<_, StoreError> {
        store.commit(&changes, &mut record, now)?;
        if store.published(&id)?.as_deref() == Some(unchanged.as_str()) && files_exist {
            let items = store.item_counts(&id, now)?.0.min(max_items);
            Ok((record, items, None))
        } else {
            let items = store.feed_items(&id, max_items)?;
            Ok((record, items.len(), Some(items)))
        }
    })
    .await?;
    let mut record = committed;
    let rendered = match rendered {
        // An empty window (nothing ever stored) publishes nothing, rather than an empty feed.
        Some(items) if !items.is_empty() => Some(Arc::new(feed::render_source(config, source, items, now).await)),
        _ => None,
    };
    if let Some(rendered) = &rendered {
        let rendered = Arc::clone(rendered);
        on_store(&ctx.store, move |store| store.save_feeds(&rendered.stored)).await?;
    }
    let feed::Published { written, unwritten, .. } = match &rendered {
        Some(rendered) => feed::write_patiently(Arc::clone(rendered)).await,
        None => feed::Published::default(),
    };
    if rendered.is_some() && unwritten.is_empty() {
        let id = source.id.clone();
        on_store(&ctx.store, move |store| store.set_published(&id, &inputs)).await?;
    }
    record.duration = clock.elapsed();
    let amend = if !unwritten.is_empty() {
        // The items are stored, so the next run writes these files as soon as it can.
        let reason = format!("{PUBLISH_FAILED}: {}", unwritten.join("; "));
        tracing::error!(reason = %reason, "source failed; feed files not written");
        record.outcome = Outcome::Failed;
        record.reason = Some(reason.clone());
        record.errors.extend(unwritten);
        // Still broken since the last run: nothing to tell. Otherwise (fine before, or just recovered from a
        // broken listing) it is news.
        let broken = (!was_broken || queued_recovered).then(|| Event::Broken {
            source: source.id.clone(),
            reason,
        });
        Some(broken.into_iter().collect())
    } else {
        held.map(|recovered| vec![recovered])
    };
    if let Some(events) = amend {
        let run = record.clone();
        on_store(&ctx.store, move |store| store.amend_run(&run, &events, &notify, now)).await?;
    }
    tracing::info!(
        links = record.links,
        new = record.new,
        updated = record.updated,
        failed = record.failed,
        written = written.len(),
        "source done"
    );
    Ok(Report { record, written, items })
}

fn degraded_reason(collected: &Collected) -> String {
    let failed = crate::status::count(collected.failed, "article", "articles");
    let mut reason = format!("{failed} failed");
    if collected.skipped > 0 {
        reason.push_str(&format!(
            ", {} of them skipped when the time budget ran out",
            collected.skipped
        ));
    }
    if collected.refused > 0 {
        reason.push_str(&format!(", {} of them refused for their address", collected.refused));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a runtime of one thread, a run whose store is busy (another source's commit holding it) must leave that
    /// thread to the rest: its store calls wait on a blocking thread.
    #[tokio::test(flavor = "current_thread")]
    async fn a_run_waiting_for_the_store_leaves_the_runtime_free() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::demo::start(&dir.path().join("feeds")).await.unwrap();
        let source = config.sources[0].clone();
        let s = &config.settings;
        let options = crate::fetch::Options::new(s.user_agent.clone(), s.timeout, s.max_body);
        let ctx = Context {
            fetcher: Fetcher::new(options, Utc::now).unwrap(),
            store: Arc::new(Mutex::new(Store::in_memory().unwrap())),
        };
        let (held, holding) = std::sync::mpsc::channel();
        let (free, runtime_ran) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn({
            let store = Arc::clone(&ctx.store);
            move || {
                let _busy = lock(&store);
                held.send(()).unwrap();
                runtime_ran.recv_timeout(Duration::from_secs(10)).is_ok()
            }
        });
        holding.recv().unwrap();
        let run = tokio::spawn({
            let ctx = ctx.clone();
            async move { collect(&ctx, &source, Utc::now()).await }
        });
        // The run starts, reaches the store and waits; this task's timer still fires.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = free.send(());
        assert!(holder.join().unwrap(), "the runtime's only thread waited for the store");
        let collected = run.await.unwrap().unwrap();
        assert!(!collected.links.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_parse_still_running_when_the_budget_runs_out_is_skipped() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(20);
        // Blocks until told to finish, which happens only after the deadline was given up on.
        let parsed = parse_off_runtime(deadline, move || wait.recv().is_ok()).await;
        assert_eq!(parsed, Err(ParseFailure::Late));
        let _ = release.send(());

        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let parsed = parse_off_runtime(tokio::time::Instant::now(), move || {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .await;
        assert_eq!(parsed, Err(ParseFailure::Late));
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "no parse starts after the deadline"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_parser_panic_on_a_blocking_thread_costs_one_page() {
        let far = tokio::time::Instant::now() + Duration::from_secs(600);
        let parsed = parse_off_runtime(far, || -> usize { panic!("a parser bug") }).await;
        assert_eq!(parsed, Err(ParseFailure::Panicked));
        assert_eq!(
            parse_off_runtime(far, || 7).await,
            Ok(7),
            "the next page is parsed as usual"
        );
        let url = Url::parse("https://e.org/1.htm").unwrap();
        assert_eq!(
            ParseFailure::Panicked.message("article", &url, Duration::from_secs(60)),
            "article https://e.org/1.htm could not be parsed (a feedwright bug: please report it)"
        );
    }
}
