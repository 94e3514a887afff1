//! `/metrics`, in the Prometheus text format: counters (runs by outcome, failures, items published, requests, run
//! durations) and gauges of each source's [`SourceState`] (health, feed size, new items, failed articles, times).
//!
//! `watch` feeds one shared [`Metrics`] as runs finish ([`Metrics::record`]); plain `serve`, which runs nothing,
//! rebuilds one from the run records the store keeps ([`Metrics::from_runs`]), so its counters cover those
//! records (the last 500 runs per source) rather than the process's life. The gauges are not counted here: they
//! are the same [`SourceState`] that `status` and the web page show, and the outcome labels use its health words.
//! No I/O and no clock here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::model::SourceId;
use crate::status::{Health, SourceState};
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
    duration_buckets: [u64; DURATION_BUCKETS.len()],
    duration_sum: f64,
}

/// Per-source counters, shared between the scheduler and the server.
#[derive(Debug, Default)]
pub struct Metrics {
    sources: Mutex<BTreeMap<SourceId, SourceMetrics>>,
}

impl Metrics {
    /// Counts one finished run.
    pub fn record(&self, run: &RunRecord) {
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
        let secs = run.duration.as_secs_f64();
        for (bucket, bound) in m.duration_buckets.iter_mut().zip(DURATION_BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        m.duration_sum += secs;
    }

    /// Counters rebuilt from stored run records (any order within a source).
    pub fn from_runs(sources: &[(SourceId, Vec<RunRecord>)]) -> Metrics {
        let metrics = Metrics::default();
        for (_, runs) in sources {
            let mut runs: Vec<&RunRecord> = runs.iter().collect();
            runs.sort_by_key(|r| r.started);
            for run in runs {
                metrics.record(run);
            }
        }
        metrics
    }

    /// The Prometheus text exposition (version 0.0.4) for the sources of `states` (the configured ones, in order).
    pub fn render(&self, states: &[SourceState]) -> String {
        let counted = self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let rows: Vec<(&SourceState, SourceMetrics)> = states
            .iter()
            .map(|s| (s, counted.get(&s.source).cloned().unwrap_or_default()))
            .collect();
        drop(counted);
        let mut out = String::new();
        let mut family =
            |name: &str,
             kind: &str,
             help: &str,
             lines: &mut dyn FnMut(&mut String, &str, &SourceState, &SourceMetrics)| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                for (state, m) in &rows {
                    lines(&mut out, state.source.as_str(), state, m);
                }
            };
        family(
            "feedwright_runs_total",
            "counter",
            "Source runs, by the health they left the source in (ok, degraded, broken).",
            &mut |out, id, _, m| {
                let after = |o| Health::after(o).as_str();
                for (outcome, n) in [
                    (after(Outcome::Ok), m.ok),
                    (after(Outcome::Degraded), m.degraded),
                    (after(Outcome::Failed), m.failed),
                ] {
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
            "Source runs that published nothing (they left the source broken).",
            &mut |out, id, _, m| {
                let _ = writeln!(out, "feedwright_run_failures_total{{source=\"{id}\"}} {}", m.failed);
            },
        );
        family(
            "feedwright_items_published_total",
            "counter",
            "New and edited items published.",
            &mut |out, id, _, m| {
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
            &mut |out, id, _, m| {
                let _ = writeln!(out, "feedwright_requests_total{{source=\"{id}\"}} {}", m.requests);
            },
        );
        family(
            "feedwright_source_health",
            "gauge",
            "1 for the source's health, 0 for the other words: ok (the last run published everything it read), \
             degraded (it published, but some articles failed or were skipped), broken (it could not publish; the \
             last good feed stays), never-run.",
            &mut |out, id, state, _| {
                for health in Health::ALL {
                    let _ = writeln!(
                        out,
                        "feedwright_source_health{{source=\"{id}\",health=\"{health}\"}} {}",
                        u8::from(state.health == health)
                    );
                }
            },
        );
        family(
            "feedwright_feed_items",
            "gauge",
            "Items in the published feed.",
            &mut |out, id, state, _| {
                let _ = writeln!(out, "feedwright_feed_items{{source=\"{id}\"}} {}", state.items_in_feed);
            },
        );
        family(
            "feedwright_new_items_24h",
            "gauge",
            "Items first seen in the last 24 hours.",
            &mut |out, id, state, _| {
                let _ = writeln!(
                    out,
                    "feedwright_new_items_24h{{source=\"{id}\"}} {}",
                    state.new_last_24h
                );
            },
        );
        family(
            "feedwright_failed_articles",
            "gauge",
            "Listed articles that failed or were skipped in the last run that published and are not read yet.",
            &mut |out, id, state, _| {
                let _ = writeln!(
                    out,
                    "feedwright_failed_articles{{source=\"{id}\"}} {}",
                    state.failed_articles.len()
                );
            },
        );
        family(
            "feedwright_consecutive_failures",
            "gauge",
            "Runs that published nothing since the last one that did.",
            &mut |out, id, state, _| {
                let _ = writeln!(
                    out,
                    "feedwright_consecutive_failures{{source=\"{id}\"}} {}",
                    state.consecutive_failures
                );
            },
        );
        for (name, help, time) in [
            (
                "feedwright_last_run_timestamp_seconds",
                "When the source's latest run started (Unix time).",
                (|s: &SourceState| s.last_run) as fn(&SourceState) -> _,
            ),
            (
                "feedwright_last_success_timestamp_seconds",
                "When the source's latest run that published started (Unix time).",
                |s: &SourceState| s.last_success,
            ),
            (
                "feedwright_next_run_timestamp_seconds",
                "When `watch` runs the source next (Unix time).",
                |s: &SourceState| s.next_run,
            ),
        ] {
            family(name, "gauge", help, &mut |out, id, state, _| {
                if let Some(t) = time(state) {
                    let _ = writeln!(out, "{name}{{source=\"{id}\"}} {}", t.timestamp());
                }
            });
        }
        family(
            "feedwright_run_duration_seconds",
            "histogram",
            "Wall time of a source run, nearly all of it spent fetching.",
            &mut |out, id, _, m| {
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
    use crate::status::Facts;
    use crate::store::RunSummary;

    fn run(source: &str, outcome: Outcome, new: usize, secs: u64, minute: i64) -> RunRecord {
        RunRecord {
            duration: Duration::from_secs(secs),
            outcome,
            reason: Some("why".into()),
            links: 10,
            new,
            updated: 1,
            requests: 3,
            ..RunRecord::new(
                SourceId::parse(source).unwrap(),
                chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(minute),
            )
        }
    }

    fn state(last: &RunRecord, items: usize) -> SourceState {
        SourceState::new(
            last.source.clone(),
            &Facts {
                last: Some(last),
                runs: RunSummary {
                    last_success: Some(last.started),
                    consecutive_failures: 0,
                },
                items_in_feed: items,
                ..Facts::default()
            },
        )
    }

    #[test]
    fn counts_runs_items_and_durations_per_source() {
        let m = Metrics::default();
        let (a1, a2, b1) = (
            run("a", Outcome::Ok, 4, 2, 0),
            run("a", Outcome::Failed, 9, 40, 30),
            run("b", Outcome::Degraded, 1, 1, 0),
        );
        m.record(&a1);
        m.record(&a2);
        m.record(&b1);
        let never = SourceState::never_run(SourceId::parse("c").unwrap(), None);
        let text = m.render(&[state(&a2, 4), state(&b1, 7), never]);
        for line in [
            "feedwright_runs_total{source=\"a\",outcome=\"ok\"} 1",
            "feedwright_runs_total{source=\"a\",outcome=\"broken\"} 1",
            "feedwright_runs_total{source=\"c\",outcome=\"ok\"} 0",
            "feedwright_run_failures_total{source=\"a\"} 1",
            "feedwright_items_published_total{source=\"a\"} 5",
            "feedwright_items_published_total{source=\"b\"} 2",
            "feedwright_requests_total{source=\"a\"} 6",
            "feedwright_feed_items{source=\"b\"} 7",
            "feedwright_source_health{source=\"a\",health=\"broken\"} 1",
            "feedwright_source_health{source=\"a\",health=\"ok\"} 0",
            "feedwright_source_health{source=\"b\",health=\"degraded\"} 1",
            "feedwright_source_health{source=\"c\",health=\"never-run\"} 1",
            "feedwright_last_run_timestamp_seconds{source=\"a\"} 1800",
            "feedwright_run_duration_seconds_bucket{source=\"a\",le=\"2.5\"} 1",
            "feedwright_run_duration_seconds_bucket{source=\"a\",le=\"60\"} 2",
            "feedwright_run_duration_seconds_bucket{source=\"a\",le=\"+Inf\"} 2",
            "feedwright_run_duration_seconds_sum{source=\"a\"} 42",
            "feedwright_run_duration_seconds_count{source=\"a\"} 2",
            "# TYPE feedwright_runs_total counter",
            "# TYPE feedwright_source_health gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("outcome=\"failed\""), "one vocabulary");
        assert!(
            !text.contains("feedwright_next_run_timestamp_seconds{"),
            "no next run outside watch"
        );
    }

    #[test]
    fn stored_records_rebuild_the_same_counters() {
        let id = SourceId::parse("a").unwrap();
        // Newest first, as the store returns them.
        let runs = vec![run("a", Outcome::Ok, 1, 1, 60), run("a", Outcome::Failed, 0, 1, 30)];
        let live = Metrics::default();
        for r in runs.iter().rev() {
            live.record(r);
        }
        let states = [state(&runs[0], 3)];
        let text = Metrics::from_runs(&[(id, runs.clone())]).render(&states);
        assert_eq!(text, live.render(&states));
        assert!(
            text.contains("feedwright_runs_total{source=\"a\",outcome=\"broken\"} 1\n"),
            "{text}"
        );
    }
}
