//! Counters for `/metrics`, in the Prometheus text format: runs by outcome, failures, items published, feed
//! sizes, health and run durations, per source.
//!
//! `watch` feeds one shared [`Metrics`] as runs finish ([`Metrics::record`]); plain `serve`, which runs nothing,
//! rebuilds one from the run records the store keeps ([`Metrics::from_runs`]), so its counters cover those
//! records (the last 500 runs per source) rather than the process's life. No I/O and no clock here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::model::SourceId;
use crate::store::{Outcome, RunRecord};

/// Upper bounds (seconds) of the run duration histogram buckets.
const DURATION_BUCKETS: [f64; 9] = [0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

#[derive(Debug, Clone, Default, PartialEq)]
struct SourceMetrics {
    ok: u64,
    degraded: u64,
    failed: u64,
    /// New and edited items that went into a published feed.
    items_published: u64,
    requests: u64,
    feed_items: Option<usize>,
    healthy: Option<bool>,
    duration_buckets: [u64; DURATION_BUCKETS.len()],
    duration_sum: f64,
}

/// Per-source counters, shared between the scheduler and the server.
#[derive(Debug, Default)]
pub struct Metrics {
    sources: Mutex<BTreeMap<SourceId, SourceMetrics>>,
}

impl Metrics {
    /// Counts one finished run; `feed_items` is the published feed's length after it.
    pub fn record(&self, run: &RunRecord, feed_items: usize) {
        let mut sources = self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let m = sources.entry(run.source.clone()).or_default();
        match run.outcome {
            Outcome::Ok => m.ok += 1,
            Outcome::Degraded => m.degraded += 1,
            Outcome::Failed => m.failed += 1,
        }
        if run.outcome != Outcome::Failed {
            m.items_published += (run.new + run.updated) as u64;
        }
        m.requests += run.requests as u64;
        m.feed_items = Some(feed_items);
        m.healthy = Some(run.outcome != Outcome::Failed);
        let secs = run.duration.as_secs_f64();
        for (bucket, bound) in m.duration_buckets.iter_mut().zip(DURATION_BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        m.duration_sum += secs;
    }

    /// Counters rebuilt from stored run records (any order within a source; the newest decides health), with each
    /// source's current feed length. A source without records still gets its feed length.
    pub fn from_runs(sources: &[(SourceId, Vec<RunRecord>, Option<usize>)]) -> Metrics {
        let metrics = Metrics::default();
        for (id, runs, feed_items) in sources {
            let mut runs: Vec<&RunRecord> = runs.iter().collect();
            runs.sort_by_key(|r| r.started);
            for run in runs {
                metrics.record(run, feed_items.unwrap_or(0));
            }
            let mut all = metrics
                .sources
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            all.entry(id.clone()).or_default().feed_items = *feed_items;
        }
        metrics
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let sources = self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        let mut family =
            |name: &str, kind: &str, help: &str, lines: &mut dyn FnMut(&mut String, &str, &SourceMetrics)| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                for (id, m) in sources.iter() {
                    lines(&mut out, id.as_str(), m);
                }
            };
        family(
            "feedwright_runs_total",
            "counter",
            "Source runs, by outcome.",
            &mut |out, id, m| {
                for (outcome, n) in [("ok", m.ok), ("degraded", m.degraded), ("failed", m.failed)] {
                    let _ = writeln!(
                        out,
                        "feedwright_runs_total{{source=\"{id}\",outcome=\"{outcome}\"}} {n}"
                    );
                }
            },
        );
        family(
            "feedwright_run_failures_total",
            "counter",
            "Source runs that failed and published nothing.",
            &mut |out, id, m| {
                let _ = writeln!(out, "feedwright_run_failures_total{{source=\"{id}\"}} {}", m.failed);
            },
        );
        family(
            "feedwright_items_published_total",
            "counter",
            "New and edited items published.",
            &mut |out, id, m| {
                let _ = writeln!(
                    out,
                    "feedwright_items_published_total{{source=\"{id}\"}} {}",
                    m.items_published
                );
            },
        );
        family(
            "feedwright_requests_total",
            "counter",
            "HTTP requests made by source runs.",
            &mut |out, id, m| {
                let _ = writeln!(out, "feedwright_requests_total{{source=\"{id}\"}} {}", m.requests);
            },
        );
        family(
            "feedwright_feed_items",
            "gauge",
            "Items in the published feed.",
            &mut |out, id, m| {
                if let Some(n) = m.feed_items {
                    let _ = writeln!(out, "feedwright_feed_items{{source=\"{id}\"}} {n}");
                }
            },
        );
        family(
            "feedwright_source_healthy",
            "gauge",
            "1 when the source's last run published, 0 when it failed.",
            &mut |out, id, m| {
                if let Some(h) = m.healthy {
                    let _ = writeln!(out, "feedwright_source_healthy{{source=\"{id}\"}} {}", u8::from(h));
                }
            },
        );
        family(
            "feedwright_run_duration_seconds",
            "histogram",
            "Wall time of a source run, nearly all of it spent fetching.",
            &mut |out, id, m| {
                for (bound, n) in DURATION_BUCKETS.iter().zip(m.duration_buckets) {
                    let _ = writeln!(
                        out,
                        "feedwright_run_duration_seconds_bucket{{source=\"{id}\",le=\"{bound}\"}} {n}"
                    );
                }
                let count = m.ok + m.degraded + m.failed;
                let _ = writeln!(
                    out,
                    "feedwright_run_duration_seconds_bucket{{source=\"{id}\",le=\"+Inf\"}} {count}"
                );
                let _ = writeln!(
                    out,
                    "feedwright_run_duration_seconds_sum{{source=\"{id}\"}} {}",
                    m.duration_sum
                );
                let _ = writeln!(out, "feedwright_run_duration_seconds_count{{source=\"{id}\"}} {count}");
            },
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn run(source: &str, outcome: Outcome, new: usize, secs: u64, minute: i64) -> RunRecord {
        RunRecord {
            source: SourceId::parse(source).unwrap(),
            started: chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(minute),
            duration: Duration::from_secs(secs),
            outcome,
            reason: None,
            links: 10,
            new,
            updated: 1,
            failed: 0,
            fetched: 0,
            with_date: 0,
            with_body: 0,
            requests: 3,
            listing: Vec::new(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn counts_runs_items_and_durations_per_source() {
        let m = Metrics::default();
        m.record(&run("a", Outcome::Ok, 4, 2, 0), 4);
        m.record(&run("a", Outcome::Failed, 9, 40, 30), 4);
        m.record(&run("b", Outcome::Degraded, 1, 1, 0), 7);
        let text = m.render();
        for line in [
            "feedwright_runs_total{source=\"a\",outcome=\"ok\"} 1",
            "feedwright_runs_total{source=\"a\",outcome=\"failed\"} 1",
            "feedwright_run_failures_total{source=\"a\"} 1",
            "feedwright_items_published_total{source=\"a\"} 5",
            "feedwright_items_published_total{source=\"b\"} 2",
            "feedwright_requests_total{source=\"a\"} 6",
            "feedwright_feed_items{source=\"b\"} 7",
            "feedwright_source_healthy{source=\"a\"} 0",
            "feedwright_source_healthy{source=\"b\"} 1",
            "feedwright_run_duration_seconds_bucket{source=\"a\",le=\"2.5\"} 1",
            "feedwright_run_duration_seconds_bucket{source=\"a\",le=\"60\"} 2",
            "feedwright_run_duration_seconds_bucket{source=\"a\",le=\"+Inf\"} 2",
            "feedwright_run_duration_seconds_sum{source=\"a\"} 42",
            "feedwright_run_duration_seconds_count{source=\"a\"} 2",
            "# TYPE feedwright_runs_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn stored_records_rebuild_the_same_counters_and_the_newest_run_decides_health() {
        let id = SourceId::parse("a").unwrap();
        // Newest first, as the store returns them.
        let runs = vec![run("a", Outcome::Ok, 1, 1, 60), run("a", Outcome::Failed, 0, 1, 30)];
        let text = Metrics::from_runs(&[(id, runs, Some(3))]).render();
        assert!(text.contains("feedwright_source_healthy{source=\"a\"} 1\n"), "{text}");
        assert!(text.contains("feedwright_feed_items{source=\"a\"} 3\n"), "{text}");
        assert!(
            text.contains("feedwright_runs_total{source=\"a\",outcome=\"failed\"} 1\n"),
            "{text}"
        );
    }
}
