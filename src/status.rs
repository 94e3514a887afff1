//! A source's state, worked out once and told the same way by `run`, `status`, `/healthz`, the web page and
//! `/metrics`.
//!
//! A `[[merge]]` feed has no runs of its own: its state is its sources' ([`SourceState::merged`]), broken only
//! when all of them are, since until then it still publishes the others' news.
//!
//! Inputs: what the store holds about a source (its latest run record, when a run last published and how many
//! failed since, item counts, the listed links that failed) and, under `watch`, when the scheduler runs it next.
//! [`SourceState::new`] is pure (facts in, state out); [`read`] only gathers the facts from a store. The words of
//! [`Health`] are the one health vocabulary: no face may judge a source on its own. Nothing here reads the clock
//! or writes anything.

use chrono::{DateTime, Utc};

use crate::config::{Merge, Source};
use crate::model::SourceId;
use crate::store::{FailedArticle, Outcome, RunRecord, RunSummary, SKIPPED, Store, StoreError};

/// How a source is doing, after its latest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The last run published everything it read.
    Ok,
    /// The last run published, but some articles failed or were skipped.
    Degraded,
    /// The last run could not publish; the last good feed stays published.
    Broken,
    /// No run recorded yet.
    NeverRun,
}

impl Health {
    pub const ALL: [Health; 4] = [Health::Ok, Health::Degraded, Health::Broken, Health::NeverRun];

    /// The word every face shows (`status`, JSON, the web page, metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Broken => "broken",
            Health::NeverRun => "never-run",
        }
    }

    /// What the word means, for wherever it is shown.
    pub fn meaning(self) -> &'static str {
        match self {
            Health::Ok => "the last run published everything it read",
            Health::Degraded => {
                "the last run published, but some articles failed or were skipped: they are missing from the feed \
                 (or kept as last read) and are retried on later runs"
            }
            Health::Broken => "the last run could not publish anything; the last good feed stays published",
            Health::NeverRun => "no run recorded yet",
        }
    }

    /// The health a run with `outcome` leaves its source in.
    pub fn after(outcome: Outcome) -> Health {
        match outcome {
            Outcome::Ok => Health::Ok,
            Outcome::Degraded => Health::Degraded,
            Outcome::Failed => Health::Broken,
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the store knows about one source, as [`SourceState::new`] needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// The latest run.
    pub last: Option<&'a RunRecord>,
    pub runs: RunSummary,
    /// Items in the published feed (the stored ones, capped at `max_items`).
    pub items_in_feed: usize,
    /// Items first seen in the last 24 hours.
    pub new_last_24h: usize,
    /// Every failed link the store remembers, in the store's order.
    pub failed: &'a [FailedArticle],
    /// When `watch` runs the source next; `None` outside `watch`.
    pub next_run: Option<DateTime<Utc>>,
}

/// One source's state, as every face shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceState {
    pub source: SourceId,
    pub health: Health,
    /// Why the source is degraded or broken, in one line; `None` when it is ok or never ran.
    pub reason: Option<String>,
    pub last_run: Option<DateTime<Utc>>,
    /// When a run last published (ok or degraded).
    pub last_success: Option<DateTime<Utc>>,
    /// Under `watch`: when the source runs next (a time in the past means "now").
    pub next_run: Option<DateTime<Utc>>,
    pub items_in_feed: usize,
    pub new_last_24h: usize,
    /// Runs that failed since the last one that published.
    pub consecutive_failures: usize,
    /// Listed articles that failed or were skipped in the last run that published and have not been read since:
    /// the articles missing from the feed. One that succeeds later is gone from here.
    pub failed_articles: Vec<FailedArticle>,
    /// For a `[[merge]]` feed, the sources it merges (their own states say more); empty for a source.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merge_of: Vec<SourceId>,
}

impl SourceState {
    /// The state of `source` from `facts`.
    pub fn new(source: SourceId, facts: &Facts<'_>) -> SourceState {
        let health = facts.last.map_or(Health::NeverRun, |r| Health::after(r.outcome));
        // Only failures of the last run that published count: an older one was retried since (and is gone when
        // it worked), or is waiting out its backoff, which that run already reported. An ok run failed nothing,
        // whatever the times say (two runs may start within one second).
        let failed_articles: Vec<FailedArticle> = match facts.runs.last_success {
            _ if health == Health::Ok => Vec::new(),
            Some(published) => facts
                .failed
                .iter()
                .filter(|f| f.last_failed >= published)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let reason = match (health, facts.last) {
            (Health::Broken, Some(run)) => Some(
                run.reason
                    .clone()
                    .or_else(|| run.errors.first().cloned())
                    .unwrap_or_else(|| "the run failed".to_owned()),
            ),
            (Health::Degraded, Some(run)) => Some(degraded_reason(run, &failed_articles)),
            _ => None,
        };
        SourceState {
            source,
            health,
            reason,
            last_run: facts.last.map(|r| r.started),
            last_success: facts.runs.last_success,
            next_run: facts.next_run,
            items_in_feed: facts.items_in_feed,
            new_last_24h: facts.new_last_24h,
            consecutive_failures: facts.runs.consecutive_failures,
            failed_articles,
            merge_of: Vec::new(),
        }
    }

    /// The state of the merged feed `id` from its sources' `members` states (in config order), with its own item
    /// counts. Broken only when every source that ran is broken; degraded while any is not ok (its news is missing
    /// or stale in the merge); never run while none ran. Times: the latest run and success of any source, the
    /// soonest next run.
    pub fn merged(id: SourceId, members: &[SourceState], items_in_feed: usize, new_last_24h: usize) -> SourceState {
        let ran: Vec<&SourceState> = members.iter().filter(|m| m.health != Health::NeverRun).collect();
        let not_ok: Vec<String> = members
            .iter()
            .filter(|m| m.health != Health::Ok)
            .map(|m| format!("{} is {}", m.source, m.headline()))
            .collect();
        let (health, reason) = if ran.is_empty() {
            (Health::NeverRun, None)
        } else if ran.iter().all(|m| m.health == Health::Broken) {
            (
                Health::Broken,
                Some(format!("all its sources are broken: {}", not_ok.join("; "))),
            )
        } else if not_ok.is_empty() {
            (Health::Ok, None)
        } else {
            (Health::Degraded, Some(not_ok.join("; ")))
        };
        SourceState {
            source: id,
            health,
            reason,
            last_run: members.iter().filter_map(|m| m.last_run).max(),
            last_success: members.iter().filter_map(|m| m.last_success).max(),
            next_run: members.iter().filter_map(|m| m.next_run).min(),
            items_in_feed,
            new_last_24h,
            consecutive_failures: members.iter().map(|m| m.consecutive_failures).min().unwrap_or(0),
            failed_articles: Vec::new(),
            merge_of: members.iter().map(|m| m.source.clone()).collect(),
        }
    }

    /// The state of a source the store knows nothing about (or when there is no store yet).
    pub fn never_run(source: SourceId, next_run: Option<DateTime<Utc>>) -> SourceState {
        SourceState::new(
            source,
            &Facts {
                next_run,
                ..Facts::default()
            },
        )
    }

    /// The health word with its reason: `degraded: 2 articles failed`, or just `ok`.
    pub fn headline(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{}: {reason}", self.health),
            None => self.health.as_str().to_owned(),
        }
    }
}

/// `n` and the right form of a noun: `1 article`, `2 articles`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Says how many articles and listing pages a degraded run missed, from its record and its failed links.
fn degraded_reason(run: &RunRecord, failed: &[FailedArticle]) -> String {
    let mut parts = Vec::new();
    if run.failed > 0 {
        let skipped = failed.iter().filter(|f| f.error == SKIPPED).count();
        // Articles already in the feed that failed a re-check are not remembered as failed links: they stay as read.
        let kept = run.failed.saturating_sub(failed.len());
        let mut notes = Vec::new();
        if skipped > 0 {
            notes.push(format!("{skipped} skipped when the time budget ran out"));
        }
        if kept > 0 {
            notes.push(format!("{kept} kept in the feed as last read"));
        }
        let mut part = format!("{} failed", count(run.failed, "article", "articles"));
        if !notes.is_empty() {
            part.push_str(&format!(" ({})", notes.join(", ")));
        }
        parts.push(part);
    }
    let unread = run.listing.iter().filter(|l| l.status.is_none_or(|s| s >= 400)).count();
    if unread > 0 {
        parts.push(format!(
            "{unread} of {} could not be read",
            count(run.listing.len(), "listing page", "listing pages")
        ));
    }
    if parts.is_empty() {
        return run.reason.clone().unwrap_or_else(|| "some articles failed".to_owned());
    }
    parts.join("; ")
}

/// The state of `source` from `store`; `now` dates "new in 24 h", `next_run` comes from `watch`'s scheduler.
pub fn read(
    store: &Store,
    source: &Source,
    now: DateTime<Utc>,
    next_run: Option<DateTime<Utc>>,
) -> Result<SourceState, StoreError> {
    let last = store.recent_runs(&source.id, 1)?;
    let runs = store.run_summary(&source.id)?;
    let (items, new) = store.item_counts(&source.id, now - chrono::Duration::hours(24))?;
    let failed = store.failed_articles(&source.id)?;
    Ok(SourceState::new(
        source.id.clone(),
        &Facts {
            last: last.first(),
            runs,
            items_in_feed: items.min(source.max_items),
            new_last_24h: new,
            failed: &failed,
            next_run,
        },
    ))
}

/// Every feed's state, in config order: each source's ([`read`]), then each merge's ([`read_merge`]);
/// `next_run` says when `watch` runs a source next.
pub fn read_all(
    store: &Store,
    config: &crate::config::Config,
    now: DateTime<Utc>,
    next_run: impl Fn(&SourceId) -> Option<DateTime<Utc>>,
) -> Result<Vec<SourceState>, StoreError> {
    let mut states = config
        .sources
        .iter()
        .map(|s| read(store, s, now, next_run(&s.id)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    for merge in &config.merges {
        let state = read_merge(store, merge, &states[..config.sources.len()], now)?;
        states.push(state);
    }
    Ok(states)
}

/// The states of a config whose store does not exist yet: every feed never ran.
pub fn never_run_all(
    config: &crate::config::Config,
    next_run: impl Fn(&SourceId) -> Option<DateTime<Utc>>,
) -> Vec<SourceState> {
    let sources: Vec<SourceState> = config
        .sources
        .iter()
        .map(|s| SourceState::never_run(s.id.clone(), next_run(&s.id)))
        .collect();
    let merges: Vec<SourceState> = config
        .merges
        .iter()
        .map(|m| {
            let members: Vec<SourceState> = m
                .sources
                .iter()
                .filter_map(|id| sources.iter().find(|s| &s.source == id).cloned())
                .collect();
            SourceState::merged(m.id.clone(), &members, 0, 0)
        })
        .collect();
    sources.into_iter().chain(merges).collect()
}

/// The state of `merge` from `store` and its sources' states (`members`, as [`read`] gave them, any order).
pub fn read_merge(
    store: &Store,
    merge: &Merge,
    members: &[SourceState],
    now: DateTime<Utc>,
) -> Result<SourceState, StoreError> {
    let mut lists = Vec::new();
    for id in &merge.sources {
        lists.push(store.entries(id, merge.max_items)?);
    }
    let entries = crate::merged::entries(lists, merge.max_items);
    let day_ago = now - chrono::Duration::hours(24);
    let new = entries.iter().filter(|e| e.first_seen >= day_ago).count();
    let states: Vec<SourceState> = merge
        .sources
        .iter()
        .filter_map(|id| members.iter().find(|m| &m.source == id).cloned())
        .collect();
    Ok(SourceState::merged(merge.id.clone(), &states, entries.len(), new))
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::store::ListingStatus;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn id() -> SourceId {
        SourceId::parse("s").unwrap()
    }

    fn run(outcome: Outcome, at: &str, failed: usize, reason: Option<&str>) -> RunRecord {
        RunRecord {
            outcome,
            reason: reason.map(str::to_owned),
            links: 10,
            failed,
            listing: vec![ListingStatus {
                url: "https://example.org/news/".into(),
                status: Some(200),
            }],
            ..RunRecord::new(id(), t(at))
        }
    }

    fn failed(url: &str, at: &str, attempts: u32, error: &str) -> FailedArticle {
        FailedArticle {
            url: format!("https://example.org/{url}"),
            title: Some(url.to_owned()),
            first_failed: t("2026-01-01T00:00:00Z"),
            last_failed: t(at),
            attempts,
            error: error.to_owned(),
        }
    }

    fn summary(last_success: Option<&str>, consecutive_failures: usize) -> RunSummary {
        RunSummary {
            last_success: last_success.map(t),
            consecutive_failures,
        }
    }

    const T1: &str = "2026-01-01T10:00:00Z";
    const T2: &str = "2026-01-01T11:00:00Z";
    const T3: &str = "2026-01-01T12:00:00Z";

    #[test]
    fn one_state_from_the_store_facts() {
        let ok = run(Outcome::Ok, T3, 0, None);
        let degraded = run(Outcome::Degraded, T3, 2, Some("2 articles failed"));
        let skipping = run(Outcome::Degraded, T3, 3, Some("3 articles failed, 1 of them skipped"));
        let mut listing = run(Outcome::Degraded, T3, 0, Some("0 articles failed"));
        listing.listing.push(ListingStatus {
            url: "https://example.org/news/2".into(),
            status: Some(503),
        });
        let broken = run(Outcome::Failed, T3, 0, Some("the listing yielded no article links"));
        let unexplained = RunRecord {
            errors: vec!["GET https://example.org/news/ failed: connection refused".into()],
            ..run(Outcome::Failed, T3, 0, None)
        };
        let old = failed("old", T1, 3, "HTTP 404");
        let now1 = failed("a1", T3, 1, "GET https://example.org/a1 returned HTTP 500");
        let now2 = failed("a2", T3, 2, "HTTP 500");
        let late = failed("a3", T3, 0, SKIPPED);
        let at2 = failed("b", T2, 1, "HTTP 500");
        let all_now = [now1.clone(), now2.clone(), old.clone()];
        let with_skip = [now1.clone(), now2.clone(), late.clone()];
        let with_t2 = [at2.clone(), old.clone()];

        /// A case's name, its facts, and the health, reason and failed articles the state must show.
        type Case<'a> = (&'a str, Facts<'a>, Health, Option<&'a str>, Vec<&'a FailedArticle>);
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            ("no run", Facts::default(), Health::NeverRun, None, vec![]),
            ("ok", Facts { last: Some(&ok), runs: summary(Some(T3), 0), ..Facts::default() },
                Health::Ok, None, vec![]),
            ("ok after a degraded run: what recovered or waits its backoff is not listed",
                Facts { last: Some(&ok), runs: summary(Some(T3), 0), failed: &with_t2, ..Facts::default() },
                Health::Ok, None, vec![]),
            ("ok in the same second as a degraded run lists nothing",
                Facts { last: Some(&ok), runs: summary(Some(T3), 0), failed: &all_now, ..Facts::default() },
                Health::Ok, None, vec![]),
            ("degraded lists this run's failures only",
                Facts { last: Some(&degraded), runs: summary(Some(T3), 0), failed: &all_now, ..Facts::default() },
                Health::Degraded, Some("2 articles failed"), vec![&now1, &now2]),
            ("degraded by the time budget",
                Facts { last: Some(&skipping), runs: summary(Some(T3), 0), failed: &with_skip, ..Facts::default() },
                Health::Degraded, Some("3 articles failed (1 skipped when the time budget ran out)"),
                vec![&now1, &now2, &late]),
            ("degraded by a known article's failed re-check",
                Facts { last: Some(&degraded), runs: summary(Some(T3), 0), failed: &[], ..Facts::default() },
                Health::Degraded, Some("2 articles failed (2 kept in the feed as last read)"), vec![]),
            ("degraded by a listing page",
                Facts { last: Some(&listing), runs: summary(Some(T3), 0), ..Facts::default() },
                Health::Degraded, Some("1 of 2 listing pages could not be read"), vec![]),
            ("broken keeps the failures of the last run that published: they are still missing",
                Facts { last: Some(&broken), runs: summary(Some(T2), 1), failed: &with_t2, ..Facts::default() },
                Health::Broken, Some("the listing yielded no article links"), vec![&at2]),
            ("broken without a reason says the first error",
                Facts { last: Some(&unexplained), runs: summary(None, 4), failed: &with_t2, ..Facts::default() },
                Health::Broken, Some("GET https://example.org/news/ failed: connection refused"), vec![]),
        ];
        for (name, facts, health, reason, listed) in cases {
            let state = SourceState::new(id(), &facts);
            assert_eq!(state.health, health, "{name}");
            assert_eq!(state.reason.as_deref(), reason, "{name}");
            assert_eq!(state.failed_articles.iter().collect::<Vec<_>>(), listed, "{name}");
            assert_eq!(state.last_run, facts.last.map(|r| r.started), "{name}");
            assert_eq!(state.last_success, facts.runs.last_success, "{name}");
            assert_eq!(state.consecutive_failures, facts.runs.consecutive_failures, "{name}");
        }
    }

    #[test]
    fn a_merged_feed_is_broken_only_when_all_its_sources_are() {
        let state = |name: &str, outcome: Option<Outcome>, at: &str| {
            let record = outcome.map(|o| RunRecord {
                source: SourceId::parse(name).unwrap(),
                ..run(o, at, 0, Some("the listing yielded no article links"))
            });
            let facts = Facts {
                last: record.as_ref(),
                runs: summary((outcome != Some(Outcome::Failed)).then_some(at), 0),
                next_run: Some(t(at)),
                ..Facts::default()
            };
            SourceState::new(SourceId::parse(name).unwrap(), &facts)
        };
        let merged = |members: &[SourceState]| SourceState::merged(SourceId::parse("all").unwrap(), members, 7, 2);
        let (a_ok, b_ok) = (state("a", Some(Outcome::Ok), T2), state("b", Some(Outcome::Ok), T3));
        let (a_broken, b_broken) = (
            state("a", Some(Outcome::Failed), T2),
            state("b", Some(Outcome::Failed), T3),
        );
        let b_never = state("b", None, T1);

        let ok = merged(&[a_ok.clone(), b_ok.clone()]);
        assert_eq!((ok.health, ok.reason.as_deref()), (Health::Ok, None));
        assert_eq!(
            (ok.last_run, ok.last_success, ok.next_run),
            (Some(t(T3)), Some(t(T3)), Some(t(T2)))
        );
        assert_eq!((ok.items_in_feed, ok.new_last_24h), (7, 2));
        assert_eq!(
            ok.merge_of,
            [SourceId::parse("a").unwrap(), SourceId::parse("b").unwrap()]
        );

        let one = merged(&[a_ok.clone(), b_broken.clone()]);
        assert_eq!(
            one.health,
            Health::Degraded,
            "one broken source leaves the other's news coming"
        );
        assert_eq!(
            one.reason.as_deref(),
            Some("b is broken: the listing yielded no article links")
        );
        let all = merged(&[a_broken.clone(), b_broken]);
        assert_eq!(all.health, Health::Broken);
        assert!(
            all.reason
                .as_deref()
                .unwrap()
                .starts_with("all its sources are broken: a is broken: ")
        );
        assert_eq!(
            merged(&[a_broken, b_never.clone()]).health,
            Health::Broken,
            "nothing publishes"
        );
        assert_eq!(merged(&[a_ok, b_never.clone()]).health, Health::Degraded);
        assert_eq!(merged(&[b_never]).health, Health::NeverRun);
    }

    #[test]
    fn counts_and_the_next_run_pass_through() {
        let ok = run(Outcome::Ok, T3, 0, None);
        let state = SourceState::new(
            id(),
            &Facts {
                last: Some(&ok),
                runs: summary(Some(T3), 0),
                items_in_feed: 20,
                new_last_24h: 3,
                failed: &[],
                next_run: Some(t(T3)),
            },
        );
        assert_eq!((state.items_in_feed, state.new_last_24h), (20, 3));
        assert_eq!(state.next_run, Some(t(T3)));
        assert_eq!(SourceState::never_run(id(), None).health, Health::NeverRun);
    }

    #[test]
    fn the_words_are_the_same_in_json_and_text() {
        for health in Health::ALL {
            assert_eq!(
                serde_json::to_value(health).unwrap(),
                serde_json::Value::String(health.as_str().into())
            );
            assert!(!health.meaning().is_empty());
        }
        assert_eq!(Health::after(Outcome::Failed), Health::Broken);
        let broken = run(Outcome::Failed, T3, 0, Some("no listing page could be read"));
        let state = SourceState::new(
            id(),
            &Facts {
                last: Some(&broken),
                ..Facts::default()
            },
        );
        assert_eq!(state.headline(), "broken: no listing page could be read");
        assert_eq!(count(1, "article", "articles"), "1 article");
    }
}
