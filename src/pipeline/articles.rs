//! The article stage of a run: which articles to read, reading them, and folding what came of each into the run.
//!
//! [`plan`] decides from the listed links and the store's history which pages to fetch, re-check or re-extract;
//! [`Rerun`] turns that into `--refetch` or changed-rules behaviour. Each article is read by [`read_article`]: a
//! conditional GET, extraction and normalization on a blocking thread, and, for a story split over several pages,
//! its next pages (at most `article.max_pages`) fetched and their bodies joined in order before it is normalized
//! once. Articles are read a few at a time and handled as they finish, from as soon as each is known ([`Dispatch`]:
//! the new links of a first listing page go while its next page is still coming); [`fold_in_order`] puts the
//! results back in the plan's order (the store breaks ties in `updated` by commit order) and turns each into store
//! changes and health counts, after the source's filters ([`filter::apply`]) dropped what they drop. A feed
//! source's items are built from the feed ([`extract::feed`]) without a request, or, with `full_text`, read from
//! their pages like any article and completed (or, when the page fails, replaced) by what the feed gives.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use url::Url;

use super::{Collected, Context, Options, ParseFailure, Progress, Run, parse_off_runtime};
use crate::config::Source;
use crate::error_chain;
use crate::extract::{self, article::ArticlePage};
use crate::fetch::{FetchError, Fetched, Fetcher, Page};
use crate::fingerprint;
use crate::model::{DateSource, Item, ItemId, ListedLink, Origin, Provenance, RawArticle, SourceId, Validators};
use crate::normalize::{
    self,
    filter::{self, Filters},
};
use crate::store::{FailedLink, Known, SavedPage, Served, Store, StoreError, Windowed, lock};

pub(super) enum Job {
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
    /// Where each field was found, for `preview`.
    provenance: Provenance,
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

/// Hands articles to the readers as soon as it is known that they are to be read, so that articles are read while
/// the listing's later pages are still coming: each new link of the first listing chain as its page is parsed
/// ([`Dispatch::early`]), and the rest of the plan once the whole listing is read ([`Dispatch::finish`]). A link
/// sent early is exactly one the plan makes a [`Job::New`] of ([`is_new`]), and its result takes that job's place.
pub(super) struct Dispatch<'a> {
    jobs: tokio::sync::mpsc::UnboundedSender<(usize, Job)>,
    known: &'a HashMap<String, Known>,
    failed: &'a HashMap<String, FailedLink>,
    now: DateTime<Utc>,
    progress: &'a (dyn Fn(Progress) + Sync),
    /// The links sent early with their numbers, and how many jobs were sent.
    sent: std::sync::Mutex<(HashMap<Url, usize>, usize)>,
}

/// The jobs a [`Dispatch`] sends, each with its number.
pub(super) type Jobs = tokio::sync::mpsc::UnboundedReceiver<(usize, Job)>;

impl<'a> Dispatch<'a> {
    pub(super) fn new(
        (known, failed): (&'a HashMap<String, Known>, &'a HashMap<String, FailedLink>),
        now: DateTime<Utc>,
        progress: &'a (dyn Fn(Progress) + Sync),
    ) -> (Self, Jobs) {
        let (jobs, receiver) = tokio::sync::mpsc::unbounded_channel();
        let dispatch = Dispatch {
            jobs,
            known,
            failed,
            now,
            progress,
            sent: std::sync::Mutex::new((HashMap::new(), 0)),
        };
        (dispatch, receiver)
    }

    /// Sends `link`, just listed, to be read now if the plan will make it a new article.
    pub(super) fn early(&self, link: &ListedLink) {
        if !is_new(link, self.known, self.failed, self.now) {
            return;
        }
        let mut sent = lock(&self.sent);
        let (early, count) = &mut *sent;
        if early.contains_key(&link.url) {
            return;
        }
        early.insert(link.url.clone(), *count);
        // The readers end only after `finish`, which is later: the channel is open.
        let _ = self.jobs.send((*count, Job::New(link.clone())));
        *count += 1;
        (self.progress)(Progress::Planned(*count));
    }

    /// Sends the planned jobs not sent early, and closes the channel. Returns the jobs' numbers in plan order (the
    /// order results are folded in); a link sent early that the plan lacks (none should be) comes last.
    pub(super) fn finish(self, planned: Vec<Job>) -> Vec<usize> {
        let (mut early, mut count) = std::mem::take(&mut *lock(&self.sent));
        let mut order = Vec::with_capacity(planned.len() + early.len());
        for job in planned {
            if let Job::New(link) = &job
                && let Some(n) = early.remove(&link.url)
            {
                order.push(n);
                continue;
            }
            let _ = self.jobs.send((count, job));
            order.push(count);
            count += 1;
        }
        let mut left: Vec<usize> = early.into_values().collect();
        left.sort_unstable();
        order.extend(left);
        (self.progress)(Progress::Planned(count));
        order
    }
}

/// Reads the articles `jobs` brings, as they come. Unordered, so a slow article (a long download, a big page to
/// parse) holds up no other article's slot. Twice the host's limit at once, so that while some articles are parsed
/// others are fetched: the host's own slots ([`crate::fetch::hosts`]) keep the requests in flight at its limit, and
/// this keeps at most that many fetched pages waiting for a parser.
pub(super) async fn read_all(run: &Run<'_>, jobs: Jobs, progress: &(dyn Fn(Progress) + Sync)) -> Results {
    let Run {
        ctx,
        fetcher,
        source,
        now,
        deadline,
    } = *run;
    // The parsing threads need their own handle on the rules.
    let shared = Arc::new(source.clone());
    let jobs = futures_util::stream::unfold(jobs, |mut jobs| async move { jobs.recv().await.map(|job| (job, jobs)) });
    let results = jobs
        .map(|(n, job)| {
            let shared = Arc::clone(&shared);
            async move {
                let (requests, result) = read_or_fall_back(ctx, fetcher, shared, job, now, deadline).await;
                progress(Progress::Read);
                (n, requests, result)
            }
        })
        .buffer_unordered(2 * source.http.limits.concurrency.max(1))
        .collect()
        .await;
    Results(results)
}

/// What [`read_all`] gives: each result with its job's number and the requests it cost.
pub(super) struct Results(Vec<(usize, usize, ArticleResult)>);

/// Puts the results of [`read_all`] in the plan's `order` (the listing's: the store breaks ties in `updated` by
/// commit order) and folds them into `out`.
pub(super) fn fold_in_order(
    Results(mut results): Results,
    order: &[usize],
    known: &HashMap<String, Known>,
    filters: (&Filters, DateTime<Utc>),
    out: &mut Collected,
) {
    let mut place = vec![usize::MAX; order.len()];
    for (at, &n) in order.iter().enumerate() {
        if let Some(p) = place.get_mut(n) {
            *p = at;
        }
    }
    results.sort_by_key(|(n, ..)| place.get(*n).copied().unwrap_or(usize::MAX));
    fold(
        results.into_iter().map(|(_, requests, result)| (requests, result)),
        known,
        filters,
        out,
    );
}

/// Turns each article's result into store changes, health counts and errors.
fn fold(
    results: impl Iterator<Item = (usize, ArticleResult)>,
    known: &HashMap<String, Known>,
    (filters, now): (&Filters, DateTime<Utc>),
    out: &mut Collected,
) {
    let mut listed_ids = HashSet::new();
    let remember = |out: &mut Collected, link: ListedLink, e: &str| {
        if !known.contains_key(link.url.as_str()) {
            out.changes.failed.push((link, e.to_owned()));
        }
    };
    for (requests, result) in results {
        out.requests += requests;
        match result {
            ArticleResult::Parsed(parsed) => {
                let Parsed {
                    mut item,
                    validators,
                    listed,
                    page,
                    provenance,
                } = *parsed;
                // After normalizing, so that the rules see the item as it would be published.
                if let Err(reason) = filter::apply(&mut item, filters, now) {
                    tracing::info!(url = %item.url, reason = %reason, "item dropped by the source's filters");
                    listed_ids.insert(item.id.clone());
                    out.observed.parsed += 1;
                    out.observed.with_body += 1;
                    out.dropped.push((item, reason));
                    continue;
                }
                out.provenance.push((item.id.clone(), provenance));
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
                remember(out, link, &e);
                out.observed.parsed += 1;
                out.failed += 1;
                out.errors.push(e);
            }
            ArticleResult::Failed(link, e) => {
                remember(out, link, &e);
                out.failed += 1;
                out.errors.push(e);
            }
            ArticleResult::Refused(link, e) => {
                remember(out, link, &e);
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
}

/// Whether the plan reads `link` as a new article: it is not stored, and did not fail so recently that it still
/// waits out its backoff.
fn is_new(
    link: &ListedLink,
    known: &HashMap<String, Known>,
    failed: &HashMap<String, FailedLink>,
    now: DateTime<Utc>,
) -> bool {
    !known.contains_key(link.url.as_str()) && failed.get(link.url.as_str()).is_none_or(|f| f.due(now))
}

/// Decides which articles to read: every new link; the newest `refresh.newest` known ones still listed (the
/// listing changed, so they may have been edited); any known one not checked for `refresh.every`; and links that
/// failed or were skipped before, once their backoff is over, whether or not the listing was read this run.
pub(super) fn plan(
    source: &Source,
    known: &HashMap<String, Known>,
    failed: &HashMap<String, FailedLink>,
    links: &[ListedLink],
    now: DateTime<Utc>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut rechecks = 0;
    // Built from the feed without a request: every listed item is built again, so an edit in the feed shows.
    let feed_only = source.feed_only();
    for link in links {
        match known.get(link.url.as_str()) {
            Some(k) if feed_only => jobs.push(Job::Recheck(link.clone(), k.clone())),
            None if is_new(link, known, failed, now) => jobs.push(Job::New(link.clone())),
            None => {}
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
        // A feed-only source has nothing to read an unlisted link from.
        .filter(|(url, f)| !feed_only && !listed.contains(url.as_str()) && f.due(now))
        .map(|(_, f)| f)
        .collect();
    retries.sort_by(|a, b| a.link.url.cmp(&b.link.url));
    jobs.extend(retries.into_iter().map(|f| Job::New(f.link.clone())));
    jobs
}

/// What this run does not take from earlier runs: their validators (`--refetch`, or changed rules) and their
/// extractions (changed rules).
pub(super) struct Rerun {
    refetch: bool,
    /// The fingerprint of the source's rules now.
    pub(super) rules: String,
    /// When the rules differ from those of the last committed run: the feed window, to extract again.
    window: Option<Vec<Windowed>>,
}

impl Rerun {
    pub(super) fn decide(store: &Store, source: &Source, options: Options) -> Result<Rerun, StoreError> {
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
    pub(super) fn fresh_listing(&self) -> bool {
        self.refetch || self.window.is_some()
    }

    /// Turns the routine plan into this run's. `--refetch` fetches every listed known article without validators.
    /// Changed rules extract the whole feed window again from the saved pages (fetching without validators only
    /// the items with no page saved), and retry every remembered failure at once: the new rules may be its fix.
    /// New links stay as planned, and so do re-checks of items outside the window.
    pub(super) fn adjust(
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
                        feed: None,
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
pub(super) fn served(page: &Page) -> Served<'_> {
    Served {
        final_url: &page.final_url,
        text: &page.text,
        encoding: page.encoding,
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
/// `test` compares. `final_url` is where the page was served from; the error is the run's message for it. Only this
/// page is read, not the further pages of a story split over several.
pub fn extract_article(
    source: &Source,
    listed: &ListedLink,
    final_url: &Url,
    text: String,
    first_seen: DateTime<Utc>,
) -> Result<Item, String> {
    let page = saved_page(final_url, text);
    let extracted = extract(&source.article, listed, &page);
    normalize_article(source, listed, &extracted.article, first_seen).map_err(|e| error_chain(&e))
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
    if source.feed_only() {
        return from_feed(fetcher, &source, job, now, deadline).await;
    }
    let (listed, validators, first_seen, known_id) = match job {
        Job::New(link) => (link, None, now, None),
        Job::Recheck(link, known) => match super::on_store(&ctx.store, {
            let url = link.url.clone();
            move |store| store.validators(&url)
        })
        .await
        {
            Ok(v) => (link, v, known.first_seen, Some(known.item_id)),
            Err(e) => return (0, ArticleResult::Failed(link, error_chain(&e))),
        },
        Job::Refetch(link, known) => (link, None, known.first_seen, Some(known.item_id)),
        Job::Reextract(link, known, saved) => {
            let text = match saved.text() {
                Ok(text) => text,
                Err(e) => {
                    let error = format!("the saved page of {} cannot be read: {e}", link.url);
                    return (0, ArticleResult::Failed(link, error));
                }
            };
            let page = saved_page(&saved.final_url, text);
            let (rules, shared) = (Arc::clone(&source), link.clone());
            let url = page.final_url.clone();
            let first = match parse_off_runtime(deadline, move || extract(&rules.article, &shared, &page)).await {
                Ok(first) => first,
                Err(failure) => return (0, failed_parse(failure, link, &source.id, &url, source.budget)),
            };
            // Only the first page of a story is saved: one split over several is fetched again to be re-read whole.
            if first.next.is_none() || source.article.max_pages < 2 {
                return finish(&source, fetcher, link, first, known.first_seen, deadline).await;
            }
            (link, None, known.first_seen, Some(known.item_id))
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
            let (rules, shared) = (Arc::clone(&source), listed.clone());
            let url = page.final_url.clone();
            let parsed = parse_off_runtime(deadline, move || {
                let saved = SavedPage::article(&shared, served(&page), now);
                (extract(&rules.article, &shared, &page), saved, page.validators)
            })
            .await;
            let (first, saved, validators) = match parsed {
                Ok(parsed) => parsed,
                Err(failure) => return (1, failed_parse(failure, listed, &source.id, &url, source.budget)),
            };
            let (requests, mut result) = finish(&source, fetcher, listed, first, first_seen, deadline).await;
            if let ArticleResult::Parsed(parsed) = &mut result {
                parsed.page = Some(saved);
                parsed.validators = validators;
            }
            (1 + requests, result)
        }
        Err(e) => (usize::from(counts_request(&e)), fetch_failed(&source.id, listed, &e)),
    }
}

/// [`read_article`], and for a feed source reading pages (`full_text`), the feed's own item when a new item's page
/// could not be read or gave no article: better the feed's summary than nothing. Its fields are marked
/// [`Origin::FeedFallback`], which `preview` shows. A known item whose page fails keeps what is stored (perhaps the
/// full text of an earlier run, never to be replaced by a summary); its page is tried again on the next run.
async fn read_or_fall_back(
    ctx: &Context,
    fetcher: &Fetcher,
    source: Arc<Source>,
    job: Job,
    now: DateTime<Utc>,
    deadline: tokio::time::Instant,
) -> (usize, ArticleResult) {
    let full_text = source.feed.is_some() && !source.feed_only();
    let known = match &job {
        Job::New(_) => None,
        Job::Recheck(_, k) | Job::Refetch(_, k) | Job::Reextract(_, k, _) => Some(k.item_id.clone()),
    };
    let (requests, result) = read_article(ctx, fetcher, Arc::clone(&source), job, now, deadline).await;
    let (listed, error) = match result {
        ArticleResult::Failed(listed, e) | ArticleResult::Unparsable(listed, e) | ArticleResult::Refused(listed, e)
            if full_text && listed.feed.is_some() =>
        {
            (listed, e)
        }
        result => return (requests, result),
    };
    if let Some(id) = known {
        tracing::warn!(url = %listed.url, error = %error, "article page not read; the stored item is kept");
        return (requests, ArticleResult::NotModified(id));
    }
    tracing::warn!(url = %listed.url, error = %error, "article page not read; the feed's own item is published");
    let entry = listed.feed.as_deref().expect("checked above");
    let mut article = extract::feed::article(entry, &listed.url);
    let p = &mut article.provenance;
    for origin in [&mut p.title, &mut p.date_machine, &mut p.author, &mut p.content]
        .into_iter()
        .flatten()
    {
        *origin = Origin::FeedFallback;
    }
    let page = ArticlePage { article, next: None };
    let (more, result) = finish(&source, fetcher, listed, page, now, deadline).await;
    (requests + more, result)
}

/// A feed-only source's item, built from what the feed gives, without a request.
async fn from_feed(
    fetcher: &Fetcher,
    source: &Arc<Source>,
    job: Job,
    now: DateTime<Utc>,
    deadline: tokio::time::Instant,
) -> (usize, ArticleResult) {
    let (listed, known) = match job {
        Job::New(link) => (link, None),
        Job::Recheck(link, k) | Job::Refetch(link, k) | Job::Reextract(link, k, _) => (link, Some(k)),
    };
    let Some(entry) = listed.feed.as_deref() else {
        // Remembered from an earlier run and no longer in the feed: there is nothing to build it from.
        return match known {
            Some(k) => (0, ArticleResult::NotModified(k.item_id)),
            None => {
                let error = format!("{} is no longer in the feed", listed.url);
                (0, ArticleResult::Failed(listed, error))
            }
        };
    };
    let page = ArticlePage {
        article: extract::feed::article(entry, &listed.url),
        next: None,
    };
    let first_seen = known.map_or(now, |k| k.first_seen);
    finish(source, fetcher, listed, page, first_seen, deadline).await
}

/// Whether a failed fetch still cost a request: one given up for the budget or refused before sending did not (a
/// refused redirect hop did cost the request that brought it; the count stays a lower bound then).
fn counts_request(e: &FetchError) -> bool {
    !matches!(e, FetchError::Budget { .. } | FetchError::Refused { .. })
}

fn fetch_failed(source: &SourceId, listed: ListedLink, e: &FetchError) -> ArticleResult {
    let error = error_chain(e);
    match e {
        FetchError::Budget { .. } => {
            tracing::warn!(error = %error, "article skipped");
            ArticleResult::Skipped(listed, error)
        }
        FetchError::Refused { .. } => {
            tracing::warn!(source = %source, link = %listed.url, error = %error, "article refused");
            ArticleResult::Refused(listed, error)
        }
        _ => {
            tracing::warn!(error = %error, "article failed");
            ArticleResult::Failed(listed, error)
        }
    }
}

/// Completes an article from its extracted first page: fetches and joins its further pages, then normalizes it on
/// a blocking thread. Returns the requests made for the further pages.
async fn finish(
    source: &Arc<Source>,
    fetcher: &Fetcher,
    listed: ListedLink,
    first: ArticlePage,
    first_seen: DateTime<Utc>,
    deadline: tokio::time::Instant,
) -> (usize, ArticleResult) {
    let ArticlePage { mut article, mut next } = first;
    let mut requests = 0;
    let mut read = HashSet::from([article.url.clone()]);
    let mut pages = 1;
    while let Some(url) = next.take() {
        if pages >= source.article.max_pages || !read.insert(Some(url.clone())) {
            break;
        }
        pages += 1;
        let page = match fetcher.get(&url, None).await {
            Ok(Fetched::Page(page)) => page,
            // The first pages are the story as far as it could be read: better than no story.
            Ok(Fetched::NotModified) => break,
            Err(e) => {
                requests += usize::from(counts_request(&e));
                tracing::warn!(url = %url, error = %error_chain(&e), "a further page of the article could not be read; the pages before it are kept");
                break;
            }
        };
        requests += 1;
        let (rules, shared, at) = (Arc::clone(source), listed.clone(), page.final_url.clone());
        match parse_off_runtime(deadline, move || extract(&rules.article, &shared, &page)).await {
            Ok(more) => {
                next = more.next;
                join_body(&mut article, more.article);
            }
            Err(failure) => {
                tracing::warn!(url = %at, error = %failure.message("article page", &at, source.budget), "further page not parsed");
                break;
            }
        }
    }
    if pages > 1 {
        tracing::info!(url = %listed.url, pages, "article read over several pages");
    }
    // A feed's item: what the page does not give, the feed may.
    if let Some(entry) = &listed.feed {
        extract::feed::fill(&mut article, entry, Origin::Feed);
    }
    let provenance = article.provenance;
    let (rules, shared, url) = (Arc::clone(source), listed.clone(), listed.url.clone());
    let normalized = parse_off_runtime(deadline, move || {
        normalize_article(&rules, &shared, &article, first_seen).map_err(|e| error_chain(&e))
    })
    .await;
    let result = match normalized {
        Ok(Ok(item)) => ArticleResult::Parsed(Box::new(Parsed {
            item,
            validators: Validators::default(),
            listed,
            page: None,
            provenance,
        })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "article unparsable");
            ArticleResult::Unparsable(listed, e)
        }
        Err(failure) => failed_parse(failure, listed, &source.id, &url, source.budget),
    };
    (requests, result)
}

/// Appends a further page's body to the story's. Each page's HTML is a whole fragment (the serializer closes what
/// it opens), so joining them is concatenation.
fn join_body(article: &mut RawArticle, more: RawArticle) {
    if let Some(more) = more.content_html {
        article.content_html.get_or_insert_with(String::new).push_str(&more);
    }
}

/// What came of a parse that gave nothing.
fn failed_parse(
    failure: ParseFailure,
    listed: ListedLink,
    id: &SourceId,
    url: &Url,
    budget: std::time::Duration,
) -> ArticleResult {
    match failure {
        ParseFailure::Late => {
            let error = failure.message("article", url, budget);
            tracing::warn!(source = %id, error = %error, "article skipped");
            ArticleResult::Skipped(listed, error)
        }
        ParseFailure::Panicked => {
            let error = failure.message("article", &listed.url, budget);
            tracing::error!(source = %id, error = %error, "parser panicked");
            ArticleResult::Unparsable(listed, error)
        }
    }
}

/// Extracts one article page. Runs on a blocking thread ([`parse_off_runtime`]).
fn extract(rules: &extract::ArticleRules, listed: &ListedLink, page: &Page) -> ArticlePage {
    extract::article::parse(&page.text, &page.final_url, rules, listed.title.as_deref())
}

/// Normalizes a read article. Runs on a blocking thread ([`parse_off_runtime`]).
fn normalize_article(
    source: &Source,
    listed: &ListedLink,
    article: &RawArticle,
    first_seen: DateTime<Utc>,
) -> Result<Item, normalize::NormalizeError> {
    normalize::item(article, listed, &source.normalize, first_seen)
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
            feed: None,
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
    fn one_new_article_on_a_2000_link_listing_rechecks_only_the_feed_window_by_default() {
        let links: Vec<ListedLink> = (1..=2000).map(link).collect();
        let known: HashMap<_, _> = (2..=2000).map(|n| known(n, "2026-01-01T00:00:00Z")).collect();
        let now = "2026-01-01T12:00:00Z".parse().unwrap();
        let source = source("max_items = 30");
        let jobs = plan(&source, &known, &HashMap::new(), &links, now);
        let rechecks = planned(&jobs).iter().filter(|j| j.starts_with("recheck")).count();
        assert_eq!(planned(&jobs)[0], "new /1.htm");
        assert_eq!(
            (jobs.len(), rechecks),
            (31, 30),
            "the new one and the 30 the feed shows"
        );
        assert_eq!(
            planned(&jobs)[1..3],
            ["recheck /2.htm", "recheck /3.htm"],
            "newest first, as listed"
        );
        // With the settings' default window.
        let jobs = plan(&self::source(""), &known, &HashMap::new(), &links, now);
        assert_eq!(jobs.len(), 1 + crate::config::Settings::default().max_items);
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
    fn a_feed_only_source_rebuilds_every_listed_item_and_retries_nothing_unlisted() {
        let text =
            "[[source]]\nid = \"f\"\ntitle = \"F\"\nfeed = \"https://e.org/feed.xml\"\n[source.refresh]\nnewest = 0\n";
        let feed = crate::config::parse(text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0);
        let known: HashMap<_, _> = [known(2, "2026-01-01T00:00:00Z")].into();
        let failed: HashMap<_, _> = [(
            link(3).url.to_string(),
            FailedLink {
                link: link(3),
                last_failed: "2026-01-01T00:00:00Z".parse().unwrap(),
                attempts: 1,
            },
        )]
        .into();
        let now = "2026-01-01T12:00:00Z".parse().unwrap();
        let jobs = plan(&feed, &known, &failed, &[link(1), link(2)], now);
        assert_eq!(
            planned(&jobs),
            ["new /1.htm", "recheck /2.htm"],
            "built again from the feed whatever refresh.newest says; the unlisted failure has nothing to build from"
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
