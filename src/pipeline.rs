//! One source, one run: the only place that knows the order of the stages.
//!
//! listing pages (conditional GET) → article links → which articles to (re)fetch → article pages → extract →
//! normalize → health verdict → store (one transaction) → render from the store → publish only what changed.
//! A failure anywhere in a source is reported in its [`Report`] and never touches the published files or the
//! stored items; one bad article only costs that article.
//!
//! Parsing (extract, and normalize with its sanitizer) is CPU work of up to a second or two on a hostile page, so it
//! runs on tokio's blocking threads, a few at a time ([`parse_off_runtime`]), never on the runtime threads that
//! drive every other request's I/O and timeouts. The source's `budget` covers it: a parse still running at the
//! deadline is given up like a request that would start after it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tracing::Instrument;
use url::Url;

use crate::config::{Config, Source};
use crate::error_chain;
use crate::extract;
use crate::fetch::{Fetched, Fetcher, Page};
use crate::fingerprint;
use crate::health::{self, Observed};
use crate::model::{Alternate, DateSource, Event, FeedMeta, Item, ItemId, ListedLink, SourceId, Validators};
use crate::normalize;
use crate::publish;
use crate::render;
use crate::store::{
    Changes, FailedLink, Keep, Known, ListingStatus, Outcome, RunRecord, RunState, SavedPage, Served, Store,
    StoreError, Windowed, lock,
};

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

enum Job {
    /// Not stored yet: fetch it.
    New(ListedLink),
    /// Stored: re-check it with a conditional request.
    Recheck(ListedLink, Known),
    /// Stored: fetch it again without validators (`--refetch`, or the rules changed and no page is saved).
    Refetch(ListedLink, Known),
    /// Stored, and the rules changed: extract it again from its saved page, without a request.
    Reextract(ListedLink, Known, Box<SavedPage>),
}

/// An article read and normalized, with what the store needs to find it again.
struct Parsed {
    item: Item,
    validators: Validators,
    listed: ListedLink,
    /// The page as fetched, to keep; `None` when it was not fetched this run.
    page: Option<SavedPage>,
}

enum ArticleResult {
    Parsed(Box<Parsed>),
    NotModified(ItemId),
    /// The listed link and why.
    Unparsable(ListedLink, String),
    Failed(ListedLink, String),
    /// Not read: the source's time budget was used up first.
    Skipped(ListedLink, String),
    /// Not requested: the link (or a redirect on the way) goes to an address the source may not reach.
    Refused(ListedLink, String),
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
    let rerun = Rerun::decide(&lock(&ctx.store), source, options)?;
    // robots.txt read by an earlier run within its lifetime is not asked for again.
    let max_age = chrono::Duration::from_std(crate::fetch::robots::MAX_AGE).expect("a day fits");
    let RunState {
        known,
        // Links that failed before are not news either: a listing page of only those should not lead to the next
        // page.
        failed: failed_before,
        robots,
        listing_validators,
    } = lock(&ctx.store).load(&source.id, now - max_age)?;
    for robots in robots {
        let age = (now - robots.fetched).to_std().unwrap_or_default();
        ctx.fetcher.remember_robots(&robots.host, robots.body.as_deref(), age);
    }
    let mut out = Collected::default();
    out.changes.rules = Some(rerun.rules.clone());
    out.changes.keep = Some(Keep {
        max_items: source.max_items,
        listing: source.urls.clone(),
        max_pages: source.max_pages,
        retain: source.retain,
    });
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + source.budget;
    let fetcher = match ctx.fetcher.for_source(&source.http) {
        Ok(fetcher) => fetcher.with_budget(deadline, source.budget),
        Err(e) => {
            out.listing_failures += 1;
            out.errors.push(error_chain(&e));
            return Ok(out);
        }
    };

    let mut visited = HashSet::new();
    for start in &source.urls {
        let mut next = Some(start.clone());
        let mut page_number = 0;
        while let Some(url) = next.take() {
            if page_number == source.max_pages || !visited.insert(url.clone()) {
                break;
            }
            page_number += 1;
            let validators = listing_validators
                .get(url.as_str())
                .cloned()
                .filter(|_| !rerun.fresh_listing());
            out.requests += 1;
            match fetcher.get(&url, validators.as_ref()).await {
                Ok(Fetched::NotModified) => {
                    tracing::debug!(url = %url, "listing not modified");
                    out.listing.push(ListingStatus {
                        url: url.to_string(),
                        status: Some(304),
                    });
                }
                Ok(Fetched::Page(page)) => {
                    out.listing.push(ListingStatus {
                        url: url.to_string(),
                        status: Some(page.status),
                    });
                    let page = Arc::new(page);
                    let (shared, rules) = (Arc::clone(&page), source.listing.clone());
                    let (asked, first) = (url.clone(), start.clone());
                    let parsed = parse_off_runtime(deadline, move || {
                        let saved = SavedPage::listing(&asked, (&first, page_number), served(&shared), now);
                        (extract::list::parse(&shared.text, &shared.final_url, &rules), saved)
                    })
                    .await;
                    let listing = match parsed {
                        Ok((listing, saved)) => {
                            out.changes.pages.push(saved);
                            listing
                        }
                        Err(failure) => {
                            let error = failure.message("listing", &page.final_url, source.budget);
                            tracing::error!(source = %source.id, error = %error, "listing not parsed");
                            out.listing_failures += 1;
                            out.errors.push(error);
                            continue;
                        }
                    };
                    out.observed.listing_parsed = true;
                    let mut unknown = 0;
                    for link in listing.links {
                        let key = normalize::url::canonical(&link.url);
                        if seen.insert(key.clone()) {
                            unknown += usize::from(
                                !known.contains_key(key.as_str()) && !failed_before.contains_key(key.as_str()),
                            );
                            out.links.push(ListedLink { url: key, ..link });
                        }
                    }
                    tracing::info!(url = %page.final_url, encoding = page.encoding, bytes = page.bytes, links = out.links.len(), unknown, "listing parsed");
                    out.changes.validators.push((url, page.validators.clone()));
                    // A page that brings nothing new means the rest are older still: a routine run reads one page.
                    if unknown > 0 {
                        next = match &source.pages {
                            Some(pages) => pages.url(page_number + 1),
                            None => listing.next.filter(|n| *n != page.final_url),
                        };
                    }
                }
                // A numbered page past the last one is the end of the listing, not a failure.
                Err(crate::fetch::FetchError::Status { status: 404, .. })
                    if page_number > 1 && source.pages.is_some() =>
                {
                    tracing::debug!(url = %url, "no such listing page; the listing ends here");
                }
                Err(e) => {
                    let status = match &e {
                        crate::fetch::FetchError::Status { status, .. } => Some(*status),
                        _ => None,
                    };
                    out.listing.push(ListingStatus {
                        url: url.to_string(),
                        status,
                    });
                    out.listing_failures += 1;
                    out.errors.push(error_chain(&e));
                }
            }
        }
    }
    out.observed.links = out.links.len();

    let jobs = rerun.adjust(
        plan(source, &known, &failed_before, &out.links, now),
        &known,
        &failed_before,
        &out.links,
    );
    progress(Progress::Planned(jobs.len()));
    // The parsing threads need their own handle on the rules.
    let shared = Arc::new(source.clone());
    // Unordered, so a slow article (a long download, a big page to parse) holds up no other article's slot; the
    // results are put back in listing order afterwards, because the store breaks ties in `updated` by commit order.
    let mut results: Vec<(usize, usize, ArticleResult)> = futures_util::stream::iter(jobs.into_iter().enumerate())
        .map(|(n, job)| {
            let (fetcher, shared) = (&fetcher, Arc::clone(&shared));
            async move {
                let (requests, result) = read_article(ctx, fetcher, shared, job, now, deadline).await;
                progress(Progress::Read);
                (n, requests, result)
            }
        })
        .buffer_unordered(source.http.limits.concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|(n, ..)| *n);
    let mut listed_ids = HashSet::new();
    for (_, requests, result) in results {
        out.requests += requests;
        match result {
            ArticleResult::Parsed(parsed) => {
                let Parsed {
                    item,
                    validators,
                    listed,
                    page,
                } = *parsed;
                if let Some(mut page) = page {
                    page.set_item(&item.id);
                    out.changes.pages.push(page);
                }
                out.observed.parsed += 1;
                out.observed.with_body += 1;
                out.observed.with_date += usize::from(item.date_source == DateSource::Page);
                listed_ids.insert(item.id.clone());
                out.changes.links.push((listed.url.clone(), item.id.clone()));
                if !validators.is_empty() {
                    out.changes.validators.push((listed.url.clone(), validators));
                }
                out.changes.items.push(item);
            }
            ArticleResult::NotModified(id) => {
                listed_ids.insert(id.clone());
                out.changes.checked.push(id);
            }
            ArticleResult::Unparsable(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.failed.push((link, e.clone()));
                }
                out.observed.parsed += 1;
                out.failed += 1;
                out.errors.push(e);
            }
            ArticleResult::Failed(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.failed.push((link, e.clone()));
                }
                out.failed += 1;
                out.errors.push(e);
            }
            ArticleResult::Refused(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.failed.push((link, e.clone()));
                }
                out.failed += 1;
                out.refused += 1;
                out.errors.push(e);
            }
            ArticleResult::Skipped(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.skipped.push(link);
                }
                out.failed += 1;
                out.skipped += 1;
                out.errors.push(e);
            }
        }
    }
    // Known articles still on the listing but not re-checked: they were seen.
    for link in &out.links {
        if let Some(k) = known.get(link.url.as_str())
            && !listed_ids.contains(&k.item_id)
        {
            out.changes.seen.push(k.item_id.clone());
        }
    }
    Ok(out)
}

/// Decides which articles to read: every new link; the newest `refresh.newest` known ones still listed (the
/// listing changed, so they may have been edited); any known one not checked for `refresh.every`; and links that
/// failed or were skipped before, once their backoff is over, whether or not the listing was read this run.
fn plan(
    source: &Source,
    known: &HashMap<String, Known>,
    failed: &HashMap<String, FailedLink>,
    links: &[ListedLink],
    now: DateTime<Utc>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut rechecks = 0;
    for link in links {
        match known.get(link.url.as_str()) {
            None if failed.get(link.url.as_str()).is_some_and(|f| !f.due(now)) => {}
            None => jobs.push(Job::New(link.clone())),
            Some(k) => {
                let due = source.refresh.every.is_some_and(|every| {
                    now.signed_duration_since(k.last_checked)
                        .to_std()
                        .is_ok_and(|age| age >= every)
                });
                if rechecks < source.refresh.newest || due {
                    rechecks += 1;
                    jobs.push(Job::Recheck(link.clone(), k.clone()));
                }
            }
        }
    }
    // Not on the listing this run (it answered 304, or its page was not read): retried from memory.
    let listed: HashSet<&str> = links.iter().map(|l| l.url.as_str()).collect();
    let mut retries: Vec<&FailedLink> = failed
        .iter()
        .filter(|(url, f)| !listed.contains(url.as_str()) && f.due(now))
        .map(|(_, f)| f)
        .collect();
    retries.sort_by(|a, b| a.link.url.cmp(&b.link.url));
    jobs.extend(retries.into_iter().map(|f| Job::New(f.link.clone())));
    jobs
}

/// What this run does not take from earlier runs: their validators (`--refetch`, or changed rules) and their
/// extractions (changed rules).
struct Rerun {
    refetch: bool,
    /// The fingerprint of the source's rules now.
    rules: String,
    /// When the rules differ from those of the last committed run: the feed window, to extract again.
    window: Option<Vec<Windowed>>,
}

impl Rerun {
    fn decide(store: &Store, source: &Source, options: Options) -> Result<Rerun, StoreError> {
        let rules = fingerprint::of(source);
        // A first run (nothing stored) has nothing to redo; it only stores the fingerprint.
        let changed = store.rules(&source.id)?.is_some_and(|stored| stored != rules);
        let window = if changed {
            let window = store.window(&source.id, source.max_items)?;
            tracing::info!(source = %source.id, items = window.len(), "extraction rules changed; re-reading the listing and the feed window");
            Some(window)
        } else {
            None
        };
        Ok(Rerun {
            refetch: options.refetch,
            rules,
            window,
        })
    }

    /// Whether stored listing validators are ignored this run.
    fn fresh_listing(&self) -> bool {
        self.refetch || self.window.is_some()
    }

    /// Turns the routine plan into this run's. `--refetch` fetches every listed known article without validators.
    /// Changed rules extract the whole feed window again from the saved pages (fetching without validators only
    /// the items with no page saved), and retry every remembered failure at once: the new rules may be its fix.
    /// New links stay as planned, and so do re-checks of items outside the window.
    fn adjust(
        &self,
        jobs: Vec<Job>,
        known: &HashMap<String, Known>,
        failed: &HashMap<String, FailedLink>,
        links: &[ListedLink],
    ) -> Vec<Job> {
        if !self.fresh_listing() {
            return jobs;
        }
        let mut redo = Vec::new();
        let mut planned = HashSet::new();
        let listed: HashMap<&ItemId, &ListedLink> = links
            .iter()
            .filter_map(|l| known.get(l.url.as_str()).map(|k| (&k.item_id, l)))
            .collect();
        if self.refetch {
            for link in links {
                if let Some(k) = known.get(link.url.as_str())
                    && planned.insert(k.item_id.clone())
                {
                    redo.push(Job::Refetch(link.clone(), k.clone()));
                }
            }
        }
        for w in self.window.iter().flatten() {
            if !planned.insert(w.known.item_id.clone()) {
                continue;
            }
            let saved_link = w.page.as_ref().and_then(|p| match &p.kind {
                crate::store::PageKind::Article { listed, .. } => Some(listed.clone()),
                crate::store::PageKind::Listing { .. } => None,
            });
            let link = listed
                .get(&w.known.item_id)
                .map(|l| (*l).clone())
                .or(saved_link)
                .or_else(|| {
                    w.link.clone().map(|url| ListedLink {
                        url,
                        title: None,
                        date_text: None,
                    })
                });
            match (link, &w.page) {
                (Some(link), Some(page)) => redo.push(Job::Reextract(link, w.known.clone(), Box::new(page.clone()))),
                (Some(link), None) => redo.push(Job::Refetch(link, w.known.clone())),
                (None, _) => {}
            }
        }
        let mut out: Vec<Job> = jobs
            .into_iter()
            .filter(|job| match job {
                Job::Recheck(_, k) | Job::Refetch(_, k) | Job::Reextract(_, k, _) => !planned.contains(&k.item_id),
                Job::New(_) => true,
            })
            .collect();
        if self.window.is_some() {
            let mut queued: HashSet<Url> = out
                .iter()
                .filter_map(|j| match j {
                    Job::New(l) => Some(l.url.clone()),
                    _ => None,
                })
                .collect();
            let mut retries: Vec<&FailedLink> = failed.values().filter(|f| queued.insert(f.link.url.clone())).collect();
            retries.sort_by(|a, b| a.link.url.cmp(&b.link.url));
            out.extend(retries.into_iter().map(|f| Job::New(f.link.clone())));
        }
        out.extend(redo);
        out
    }
}

/// The part of a fetched page that is saved.
fn served(page: &Page) -> Served<'_> {
    Served {
        final_url: &page.final_url,
        text: &page.text,
        encoding: page.encoding,
    }
}

/// Extracts an article again from its saved page, as if it had just been fetched.
fn reextract(source: &Source, listed: ListedLink, saved: &SavedPage, first_seen: DateTime<Utc>) -> ArticleResult {
    match saved.text() {
        Ok(text) => parse_article(source, &listed, saved_page(&saved.final_url, text), first_seen),
        Err(e) => {
            let error = format!("the saved page of {} cannot be read: {e}", listed.url);
            ArticleResult::Failed(listed, error)
        }
    }
}

fn saved_page(final_url: &Url, text: String) -> Page {
    Page {
        final_url: final_url.clone(),
        status: 200,
        bytes: text.len(),
        text,
        encoding: "UTF-8",
        // Saved as the text it decoded to: read back as the UTF-8 it now is.
        decoded: crate::fetch::charset::How::Declared,
        validators: Validators::default(),
    }
}

/// Extracts and normalizes one article page from its text exactly as a run does: what `snapshot` records and
/// `test` compares. `final_url` is where the page was served from; the error is the run's message for it.
pub fn extract_article(
    source: &Source,
    listed: &ListedLink,
    final_url: &Url,
    text: String,
    first_seen: DateTime<Utc>,
) -> Result<Item, String> {
    match parse_article(source, listed, saved_page(final_url, text), first_seen) {
        ArticleResult::Parsed(parsed) => Ok(parsed.item),
        ArticleResult::Unparsable(_, e)
        | ArticleResult::Failed(_, e)
        | ArticleResult::Skipped(_, e)
        | ArticleResult::Refused(_, e) => Err(e),
        ArticleResult::NotModified(_) => Err(format!("article {} was not read", listed.url)),
    }
}

/// Reads one article; returns the number of requests made and what came of it.
async fn read_article(
    ctx: &Context,
    fetcher: &Fetcher,
    source: Arc<Source>,
    job: Job,
    now: DateTime<Utc>,
    deadline: tokio::time::Instant,
) -> (usize, ArticleResult) {
    let (listed, validators, first_seen, known_id) = match job {
        Job::New(link) => (link, None, now, None),
        Job::Recheck(link, known) => match lock(&ctx.store).validators(&link.url) {
            Ok(v) => (link, v, known.first_seen, Some(known.item_id)),
            Err(e) => return (0, ArticleResult::Failed(link, error_chain(&e))),
        },
        Job::Refetch(link, known) => (link, None, known.first_seen, Some(known.item_id)),
        Job::Reextract(link, known, page) => {
            let (id, budget, url) = (source.id.clone(), source.budget, page.final_url.clone());
            let shared = link.clone();
            let parsed = parse_off_runtime(deadline, move || reextract(&source, shared, &page, known.first_seen)).await;
            return (0, parse_result(parsed, link, &id, &url, budget));
        }
    };
    match fetcher.get(&listed.url, validators.as_ref()).await {
        Ok(Fetched::NotModified) => match known_id {
            Some(id) => (1, ArticleResult::NotModified(id)),
            None => (
                1,
                ArticleResult::Failed(
                    listed.clone(),
                    format!("GET {} answered 304 to an unconditional request", listed.url),
                ),
            ),
        },
        Ok(Fetched::Page(page)) => {
            let (id, budget, url) = (source.id.clone(), source.budget, page.final_url.clone());
            let shared = listed.clone();
            let parsed = parse_off_runtime(deadline, move || {
                let saved = SavedPage::article(&shared, served(&page), now);
                let mut result = parse_article(&source, &shared, page, first_seen);
                if let ArticleResult::Parsed(parsed) = &mut result {
                    parsed.page = Some(saved);
                }
                result
            })
            .await;
            (1, parse_result(parsed, listed, &id, &url, budget))
        }
        Err(e @ crate::fetch::FetchError::Budget { .. }) => {
            tracing::warn!(error = %error_chain(&e), "article skipped");
            (0, ArticleResult::Skipped(listed, error_chain(&e)))
        }
        // A refused redirect hop did cost the request that brought it; the count stays a lower bound then.
        Err(e @ crate::fetch::FetchError::Refused { .. }) => {
            tracing::warn!(source = %source.id, link = %listed.url, error = %error_chain(&e), "article refused");
            (0, ArticleResult::Refused(listed, error_chain(&e)))
        }
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "article failed");
            (1, ArticleResult::Failed(listed, error_chain(&e)))
        }
    }
}

/// What came of an article parsed by [`parse_off_runtime`]: its result, or why there is none.
fn parse_result(
    parsed: Result<ArticleResult, ParseFailure>,
    listed: ListedLink,
    id: &SourceId,
    url: &Url,
    budget: std::time::Duration,
) -> ArticleResult {
    match parsed {
        Ok(result) => result,
        Err(failure @ ParseFailure::Late) => {
            let error = failure.message("article", url, budget);
            tracing::warn!(source = %id, error = %error, "article skipped");
            ArticleResult::Skipped(listed, error)
        }
        Err(failure @ ParseFailure::Panicked) => {
            let error = failure.message("article", &listed.url, budget);
            tracing::error!(source = %id, error = %error, "parser panicked");
            ArticleResult::Unparsable(listed, error)
        }
    }
}

/// Extracts and normalizes one article page. Runs on a blocking thread ([`parse_off_runtime`]).
fn parse_article(source: &Source, listed: &ListedLink, page: Page, first_seen: DateTime<Utc>) -> ArticleResult {
    let raw = extract::article::parse(&page.text, &page.final_url, &source.article);
    match normalize::item(&raw, listed, &source.normalize, first_seen) {
        Ok(item) => ArticleResult::Parsed(Box::new(Parsed {
            item,
            validators: page.validators,
            listed: listed.clone(),
            page: None,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "article unparsable");
            ArticleResult::Unparsable(listed.clone(), error_chain(&e))
        }
    }
}

/// Parses running at once, over all sources: one per core (at least two), so parsing never takes every core
/// from the runtime and a burst of big pages never holds more than a few parsed trees in memory.
static PARSERS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores.max(2))
});

/// Why a parse run by [`parse_off_runtime`] gave nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParseFailure {
    /// It panicked: a bug in feedwright, which costs this one page.
    Panicked,
    /// The source's budget ran out before it finished.
    Late,
}

impl ParseFailure {
    fn message(self, what: &str, url: &Url, budget: Duration) -> String {
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
async fn parse_off_runtime<T: Send + 'static>(
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
    lock(&ctx.store).save_robots(&ctx.fetcher.take_fetched_robots(), now)?;
    let recent = lock(&ctx.store).recent_runs(&source.id, 10)?;

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
        lock(&ctx.store).record_run(&record, event.as_slice(), &notify, now)?;
        let items = lock(&ctx.store).item_counts(&source.id, now)?.0.min(source.max_items);
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
    let items = {
        let mut store = lock(&ctx.store);
        store.commit(&changes, &mut record, now)?;
        store.feed_items(&source.id, source.max_items)?
    };
    let mut written = Vec::new();
    let mut unwritten = Vec::new();
    if !items.is_empty() {
        let meta = feed_meta(config, source, &items, now);
        for &format in &config.settings.formats {
            let path = config.settings.feed_path(&source.id, format);
            // Every format is tried: a folder squatting on one file name does not keep the others stale.
            match publish::write_atomic(&path, render::render(format, &meta, &items).as_bytes()) {
                Ok(true) => written.push(path),
                Ok(false) => {}
                Err(e) => unwritten.push(error_chain(&e)),
            }
        }
    }
    record.duration = clock.elapsed();
    if !unwritten.is_empty() {
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
        lock(&ctx.store).amend_run(&record, broken.as_slice(), &notify, now)?;
    } else if let Some(recovered) = held {
        lock(&ctx.store).amend_run(&record, &[recovered], &notify, now)?;
    }
    tracing::info!(
        links = record.links,
        new = record.new,
        updated = record.updated,
        failed = record.failed,
        written = written.len(),
        "source done"
    );
    Ok(Report {
        record,
        written,
        items: items.len(),
    })
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

/// Feed-level data for `source`; `updated` follows the items, so an unchanged feed renders to the same bytes.
pub fn feed_meta(config: &Config, source: &Source, items: &[Item], now: DateTime<Utc>) -> FeedMeta {
    let updated = items
        .iter()
        .map(|i| i.updated)
        .max()
        .unwrap_or_else(|| now.fixed_offset());
    let alternates = source
        .alternates
        .iter()
        .filter_map(|id| config.source(id.as_str()))
        .map(|alt| Alternate {
            href: feed_base(config, &alt.id),
            hreflang: alt.language.clone().unwrap_or_default(),
            title: alt.title.clone(),
        })
        .collect();
    FeedMeta {
        source: source.id.clone(),
        title: source.title.clone(),
        description: source.description.clone(),
        home_page: source.urls[0].clone(),
        feed_base: config.settings.feed_base_url.clone(),
        language: source.language.clone(),
        author: source.author.clone(),
        updated,
        alternates,
        hub: config.settings.hub.clone(),
    }
}

fn feed_base(config: &Config, id: &SourceId) -> Url {
    config
        .settings
        .feed_base_url
        .join(id.as_str())
        .expect("a source id is a valid relative URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(refresh: &str) -> Source {
        let text = format!(
            "[[source]]\nid = \"s\"\ntitle = \"S\"\nurl = \"https://e.org/news/\"\n{refresh}\n[source.listing]\nlinks = \"a\"\n[source.article]\ntitle = \"h1\"\ncontent = \"p\"\n"
        );
        crate::config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0)
    }

    fn link(n: u32) -> ListedLink {
        ListedLink {
            url: Url::parse(&format!("https://e.org/{n}.htm")).unwrap(),
            title: None,
            date_text: None,
        }
    }

    fn known(n: u32, checked: &str) -> (String, Known) {
        let at = DateTime::parse_from_rfc3339(checked).unwrap().to_utc();
        let id = ItemId::from_canonical(&link(n).url);
        (
            link(n).url.to_string(),
            Known {
                item_id: id,
                hash: String::new(),
                first_seen: at,
                last_checked: at,
            },
        )
    }

    fn planned(jobs: &[Job]) -> Vec<String> {
        jobs.iter()
            .map(|j| match j {
                Job::New(l) => format!("new {}", l.url.path()),
                Job::Recheck(l, _) => format!("recheck {}", l.url.path()),
                Job::Refetch(l, _) => format!("refetch {}", l.url.path()),
                Job::Reextract(l, _, _) => format!("reextract {}", l.url.path()),
            })
            .collect()
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

    #[test]
    fn new_links_are_fetched_and_known_ones_rechecked_by_default() {
        let known: HashMap<_, _> = [known(2, "2026-01-01T00:00:00Z")].into();
        let jobs = plan(
            &source(""),
            &known,
            &HashMap::new(),
            &[link(1), link(2)],
            "2026-01-01T01:00:00Z".parse().unwrap(),
        );
        assert_eq!(planned(&jobs), ["new /1.htm", "recheck /2.htm"]);
    }

    #[test]
    fn refresh_newest_limits_rechecks_and_every_forces_old_ones() {
        let links = [link(1), link(2), link(3), link(4)];
        let known: HashMap<_, _> = [
            known(2, "2026-01-01T00:00:00Z"),
            known(3, "2026-01-01T00:00:00Z"),
            known(4, "2025-12-31T00:00:00Z"),
        ]
        .into();
        let now = "2026-01-01T12:00:00Z".parse().unwrap();
        let jobs = plan(
            &source("[source.refresh]\nnewest = 1"),
            &known,
            &HashMap::new(),
            &links,
            now,
        );
        assert_eq!(planned(&jobs), ["new /1.htm", "recheck /2.htm"]);
        let jobs = plan(
            &source("[source.refresh]\nnewest = 1\nevery = \"1d\""),
            &known,
            &HashMap::new(),
            &links,
            now,
        );
        assert_eq!(
            planned(&jobs),
            ["new /1.htm", "recheck /2.htm", "recheck /4.htm"],
            "/4 was last checked 36 h ago"
        );
    }

    #[test]
    fn failed_links_wait_out_their_backoff_and_come_back_even_when_unlisted() {
        let failed = |n: u32, at: &str, attempts: u32| {
            let f = FailedLink {
                link: link(n),
                last_failed: at.parse().unwrap(),
                attempts,
            };
            (link(n).url.to_string(), f)
        };
        let now: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
        let failed: HashMap<_, _> = [
            failed(1, "2026-01-01T11:55:00Z", 1),  // failed 5 minutes ago: waits
            failed(2, "2026-01-01T11:00:00Z", 1),  // an hour ago: due
            failed(3, "2026-01-01T11:59:00Z", 0),  // skipped by the budget: due at once
            failed(4, "2026-01-01T11:30:00Z", 3),  // third failure half an hour ago: waits (60 min after the third)
            failed(5, "2025-01-01T00:00:00Z", 12), // given up
        ]
        .into();
        let listed = [link(1), link(2)];
        let jobs = plan(&source(""), &HashMap::new(), &failed, &listed, now);
        assert_eq!(planned(&jobs), ["new /2.htm", "new /3.htm"]);
        let jobs = plan(&source(""), &HashMap::new(), &failed, &[], now);
        assert_eq!(
            planned(&jobs),
            ["new /2.htm", "new /3.htm"],
            "a 304 listing still retries what is due"
        );
    }
}
