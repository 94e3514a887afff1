//! Judges whether a source looks broken, from this run's numbers and the recent runs' ones.
//!
//! A redesign rarely fails loudly: the listing still answers 200 but the selectors match nothing, or fewer links,
//! or article pages lose their bodies or dates. Each of these marks the run broken, so the last good feed stays
//! published instead of an empty or shrunken one. Pure: numbers in, verdict out. How a source is doing afterwards,
//! as people see it, is `crate::status`'s job.

use crate::store::{Outcome, RunRecord};

/// The fewest articles a run must read before coverage can be judged.
const MIN_SAMPLE: usize = 3;

/// What this run saw, for the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// Whether any listing page was parsed this run (false when every listing answered 304).
    pub listing_parsed: bool,
    pub links: usize,
    /// Article pages fetched and parsed (not 304, not HTTP errors).
    pub parsed: usize,
    pub with_body: usize,
    pub with_date: usize,
}

/// `Some(reason)` when the source looks broken. `recent` are earlier runs, newest first.
pub fn broken(now: &Observed, recent: &[RunRecord]) -> Option<String> {
    if now.listing_parsed && now.links == 0 {
        return Some("the listing yielded no article links (did the site change? check listing.links)".into());
    }
    let normal: Vec<usize> = recent
        .iter()
        .filter(|r| r.outcome != Outcome::Failed && r.links > 0)
        .take(10)
        .map(|r| r.links)
        .collect();
    if now.listing_parsed && normal.len() >= 3 {
        let typical = median(normal);
        if typical >= 8 && now.links * 4 < typical {
            return Some(format!(
                "the listing yielded {} links where it usually has {typical}",
                now.links
            ));
        }
    }
    if now.parsed >= MIN_SAMPLE && now.with_body * 2 < now.parsed {
        return Some(format!(
            "only {} of {} articles had a body (did the site change? check article.content)",
            now.with_body, now.parsed
        ));
    }
    let (dated, sampled) = recent
        .iter()
        .filter(|r| r.outcome != Outcome::Failed)
        .fold((0, 0), |(d, s), r| (d + r.with_date, s + r.with_body));
    if now.with_body >= MIN_SAMPLE
        && sampled >= 10
        && dated * 10 >= sampled * 8
        && now.with_date * 10 < now.with_body * 3
    {
        return Some(format!(
            "only {} of {} articles had a date on the page, where most used to (check article.date)",
            now.with_date, now.with_body
        ));
    }
    None
}

fn median(mut values: Vec<usize>) -> usize {
    values.sort_unstable();
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceId;

    fn run(links: usize, with_body: usize, with_date: usize) -> RunRecord {
        RunRecord {
            links,
            fetched: with_body,
            with_date,
            with_body,
            ..RunRecord::new(SourceId::parse("s").unwrap(), chrono::DateTime::UNIX_EPOCH)
        }
    }

    fn observed(links: usize, parsed: usize, with_body: usize, with_date: usize) -> Observed {
        Observed {
            listing_parsed: true,
            links,
            parsed,
            with_body,
            with_date,
        }
    }

    #[test]
    fn no_links_is_broken_but_an_unchanged_listing_is_not() {
        assert!(broken(&observed(0, 0, 0, 0), &[]).unwrap().contains("no article links"));
        assert_eq!(broken(&Observed::default(), &[]), None);
    }

    #[test]
    fn a_collapse_in_links_against_the_recent_normal_is_broken() {
        let recent = vec![run(20, 0, 0), run(21, 0, 0), run(19, 0, 0)];
        assert!(
            broken(&observed(3, 0, 0, 0), &recent)
                .unwrap()
                .contains("usually has 20")
        );
        assert_eq!(broken(&observed(12, 0, 0, 0), &recent), None);
        assert_eq!(
            broken(&observed(3, 0, 0, 0), &recent[..2]),
            None,
            "too little history to judge"
        );
    }

    #[test]
    fn bodies_that_vanish_are_broken() {
        assert!(
            broken(&observed(10, 6, 2, 2), &[])
                .unwrap()
                .contains("2 of 6 articles had a body")
        );
        assert_eq!(broken(&observed(10, 2, 0, 0), &[]), None, "too few articles to judge");
    }

    #[test]
    fn dates_that_vanish_are_broken_only_against_a_dated_history() {
        let dated = vec![run(10, 10, 10), run(10, 5, 5)];
        assert!(broken(&observed(10, 5, 5, 0), &dated).unwrap().contains("had a date"));
        let undated = vec![run(10, 10, 1), run(10, 5, 0)];
        assert_eq!(broken(&observed(10, 5, 5, 0), &undated), None);
    }
}
