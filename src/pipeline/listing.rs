//! The listing stage of a run: the source's listing pages fetched (conditionally) and parsed into article links.
//!
//! Each listing URL starts a chain of pages (its `next` link, or the `pages` template), and the chains are read at
//! the same time; within a chain a page is fetched only after the one before it brought a link not seen before,
//! since a page of only known links means the rest are older still. Parsing runs on a blocking thread. Links are
//! canonicalized and de-duplicated over all chains, in the order of the configured URLs; each new link of the first
//! chain goes to the article readers as soon as its page is parsed ([`Dispatch::early`]). A listing page that fails
//! is counted and named; only when none succeeds does the source fail. A feed source's one URL is its feed, read
//! the same way (conditionally, politely) by [`extract::feed`] instead of the listing parser.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use url::Url;

use super::articles::{Dispatch, Rerun, served};
use super::{Collected, Run, parse_off_runtime};
use crate::error_chain;
use crate::extract;
use crate::fetch::{FetchError, Fetched, Page};
use crate::model::{ListedLink, Validators};
use crate::normalize;
use crate::store::{FailedLink, Known, ListingStatus, SavedPage};

/// What one chain of listing pages gave.
#[derive(Default)]
struct Chain {
    links: Vec<ListedLink>,
    listing: Vec<ListingStatus>,
    failures: usize,
    requests: usize,
    errors: Vec<String>,
    pages: Vec<SavedPage>,
    validators: Vec<(Url, Validators)>,
    parsed: bool,
    advertised: Vec<Url>,
}

/// Reads every listing chain of `source` and adds the links, statuses and errors to `out`.
pub(super) async fn read(
    run: &Run<'_>,
    rerun: &Rerun,
    validators: &HashMap<String, Validators>,
    history: History<'_>,
    dispatch: &Dispatch<'_>,
    out: &mut Collected,
) {
    // The first chain's links come first in the listing, so each can go to the readers as it is found; a later
    // chain's link may yet turn out to be an earlier one's.
    let chains = run
        .source
        .urls
        .iter()
        .enumerate()
        .map(|(n, start)| chain(run, rerun, validators, start, history, (n == 0).then_some(dispatch)));
    let mut seen = HashSet::new();
    for chain in futures_util::future::join_all(chains).await {
        for link in chain.links {
            if seen.insert(link.url.clone()) {
                out.links.push(link);
            }
        }
        out.listing.extend(chain.listing);
        out.listing_failures += chain.failures;
        out.requests += chain.requests;
        out.errors.extend(chain.errors);
        out.changes.pages.extend(chain.pages);
        out.changes.validators.extend(chain.validators);
        out.observed.listing_parsed |= chain.parsed;
        for feed in chain.advertised {
            if !out.advertised.contains(&feed) {
                out.advertised.push(feed);
            }
        }
    }
    out.observed.links = out.links.len();
}

/// A feed source's feed as a listing: its entries as links (with the fields the feed gives), no next page. What
/// was odd about it (a wrong charset declaration, repeated or link-less entries) is logged as a warning.
fn feed_listing(page: &Page) -> Result<extract::Listing, extract::feed::FeedError> {
    use crate::fetch::charset::How;
    if let How::Detected { declared: Some(_) } | How::Lossy = page.decoded {
        let declared = match page.decoded {
            How::Detected { declared: Some(d) } => d.name(),
            _ => page.encoding,
        };
        tracing::warn!(url = %page.final_url, declared, encoding = page.encoding, how = page.decoded.as_str(), "the feed's declared encoding does not fit its bytes");
    }
    let feed = extract::feed::parse(&page.text, &page.final_url)?;
    for warning in &feed.warnings {
        tracing::warn!(url = %page.final_url, warning = %warning, "feed entry left out");
    }
    Ok(extract::Listing {
        links: feed.links,
        next: None,
        origin: Some(crate::model::Origin::Feed),
        feeds: Vec::new(),
    })
}

/// The source's stored articles and remembered failures: a listing page that brings only those brings nothing new.
type History<'a> = (&'a HashMap<String, Known>, &'a HashMap<String, FailedLink>);

/// Reads the pages of one listing, from `start` on.
async fn chain(
    run: &Run<'_>,
    rerun: &Rerun,
    listing_validators: &HashMap<String, Validators>,
    start: &Url,
    (known, failed_before): History<'_>,
    dispatch: Option<&Dispatch<'_>>,
) -> Chain {
    let Run {
        fetcher,
        source,
        now,
        deadline,
        ..
    } = *run;
    let mut out = Chain::default();
    let mut seen = HashSet::new();
    let mut visited = HashSet::new();
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
                let is_feed = source.feed.is_some();
                let parsed = parse_off_runtime(deadline, move || {
                    let saved = SavedPage::listing(&asked, (&first, page_number), served(&shared), now);
                    let listing = if is_feed {
                        feed_listing(&shared)
                    } else {
                        Ok(extract::list::parse(&shared.text, &shared.final_url, &rules))
                    };
                    (listing, saved)
                })
                .await;
                let listing = match parsed {
                    Ok((Ok(listing), saved)) => {
                        out.pages.push(saved);
                        listing
                    }
                    Ok((Err(e), _)) => {
                        let error = error_chain(&e);
                        tracing::error!(error = %error, "feed not parsed");
                        out.failures += 1;
                        out.errors.push(error);
                        continue;
                    }
                    Err(failure) => {
                        let error = failure.message("listing", &page.final_url, source.budget);
                        tracing::error!(source = %source.id, error = %error, "listing not parsed");
                        out.failures += 1;
                        out.errors.push(error);
                        continue;
                    }
                };
                out.parsed = true;
                out.advertised.extend(listing.feeds);
                let mut unknown = 0;
                for link in listing.links {
                    let key = normalize::url::canonical(&link.url);
                    if seen.insert(key.clone()) {
                        unknown +=
                            usize::from(!known.contains_key(key.as_str()) && !failed_before.contains_key(key.as_str()));
                        let link = ListedLink { url: key, ..link };
                        if let Some(dispatch) = dispatch {
                            dispatch.early(&link);
                        }
                        out.links.push(link);
                    }
                }
                tracing::info!(url = %page.final_url, encoding = page.encoding, bytes = page.bytes, links = out.links.len(), unknown, "listing parsed");
                out.validators.push((url, page.validators.clone()));
                // A page that brings nothing new means the rest are older still: a routine run reads one page.
                if unknown > 0 {
                    next = match &source.pages {
                        Some(pages) => pages.url(page_number + 1),
                        None => listing.next.filter(|n| *n != page.final_url),
                    };
                }
            }
            // A numbered page past the last one is the end of the listing, not a failure.
            Err(FetchError::Status { status: 404, .. }) if page_number > 1 && source.pages.is_some() => {
                tracing::debug!(url = %url, "no such listing page; the listing ends here");
            }
            Err(e) => {
                let status = match &e {
                    FetchError::Status { status, .. } => Some(*status),
                    _ => None,
                };
                out.listing.push(ListingStatus {
                    url: url.to_string(),
                    status,
                });
                out.failures += 1;
                out.errors.push(error_chain(&e));
            }
        }
    }
    out
}
