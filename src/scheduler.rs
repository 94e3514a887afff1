//! `watch`'s clock: decides when each source runs next, and runs them, a few at a time, until told to stop.
//!
//! The timing rules are pure functions of their inputs ([`next_run`], [`first_run`], [`after_run`], [`backoff`]):
//! times, each source's fixed [`phase`] and the backoff's jitter come in as parameters, so they are tested without
//! waiting. A source's runs are planned times (the next one a period after the last one planned, not after it
//! finished), so a schedule never drifts, and sources with one schedule are spread over its period by their ids. [`run`] is the loop around them: it keeps one
//! slot per source, sleeps on tokio's clock until the earliest one is due, starts at most `max_running` runs at
//! once, backs a failing source off (capped, reset by a success), swaps in a new [`Plan`] on reload, and on
//! shutdown starts nothing new, lets what is in flight finish for a grace period and then drops it. Dropping is
//! clean because a pipeline run does its store transaction and atomic file writes without an `.await` in between,
//! so a run is abandoned only while it is fetching. It knows nothing of HTTP, feeds or config files: what a run
//! does is the `runner` closure, and whether it went well is its [`Verdict`].

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub use crate::config::Schedule;
use crate::model::SourceId;

/// The fixed offset of a cron source never moves its runs by more than this, however long the period.
pub const MAX_JITTER: Duration = Duration::from_secs(5 * 60);
/// At start-up, sources without a recent run are spread over at most this long.
pub const MAX_STARTUP_SPREAD: Duration = Duration::from_secs(10);
/// How long in-flight runs may finish after a shutdown request before they are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How a run went, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Success,
    Failure,
    /// Another worker sharing the state ran this one, starting at `started`: the next is planned as after a run
    /// of ours, and the failure count stays.
    Elsewhere {
        started: DateTime<Utc>,
    },
    /// Another worker holds the source until `until`: ask again then for the same due run (its time unchanged,
    /// so the timetable still shows it).
    Deferred {
        until: DateTime<Utc>,
    },
}

/// The time between two runs of `spec` around `at`: the interval, or the gap between the next two cron times.
pub fn period(spec: &Schedule, at: DateTime<Utc>) -> Duration {
    match spec {
        Schedule::Every(d) => *d,
        Schedule::Cron(c) => {
            let mut times = c.after(&at);
            match (times.next(), times.next()) {
                (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::ZERO),
                _ => Duration::ZERO,
            }
        }
    }
}

/// The spread that jitter in `[0, 1)` is scaled by: a tenth of the period, at most [`MAX_JITTER`]. Workers sharing
/// a state plan one run of a source at most this far apart.
pub fn spread(period: Duration) -> Duration {
    (period / 10).min(MAX_JITTER)
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn sub(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Where in each period the source `id` runs: a fraction in `[0, 1)` from a digest of its id, the same on every
/// machine and after every restart. Sources with one schedule are so spread over the whole period instead of all
/// starting in the same second (or, with random jitter, bunched near its start).
pub fn phase(id: &SourceId) -> f64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_str().as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes"));
    // The top 53 bits, as many as an f64 holds exactly.
    (n >> 11) as f64 / (1u64 << 53) as f64
}

/// The first time strictly after `t` that a source of `phase` runs on `spec`. An interval's runs are fixed points
/// in time, `phase` of the way into each period counted from the Unix epoch, so they never drift, whenever runs
/// start or finish; a cron source runs `phase` of a tenth of the period (at most [`MAX_JITTER`]) after each cron
/// time. A cron schedule with no time left answers [`DateTime::MAX_UTC`]: never.
pub fn next_run(t: DateTime<Utc>, spec: &Schedule, phase: f64) -> DateTime<Utc> {
    let phase = phase.clamp(0.0, 1.0);
    match spec {
        Schedule::Every(d) => {
            let period = (d.as_millis() as i64).max(1);
            let offset = (period as f64 * phase) as i64;
            let since = t.timestamp_millis() - offset;
            let k = since.div_euclid(period) + 1;
            DateTime::<Utc>::from_timestamp_millis(k.saturating_mul(period).saturating_add(offset))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        }
        Schedule::Cron(c) => {
            let offset = spread(period(spec, t)).mul_f64(phase);
            match c.after(&sub(t, offset)).next() {
                Some(time) => add(time, offset),
                None => DateTime::<Utc>::MAX_UTC,
            }
        }
    }
}

/// The first run time at or after `t`.
fn run_at_or_after(t: DateTime<Utc>, spec: &Schedule, phase: f64) -> DateTime<Utc> {
    next_run(sub(t, Duration::from_millis(1)), spec, phase)
}

/// The run that follows one planned for `planned`: the next run time more than half a period later. For a run
/// on the schedule that is the next one, a period on (never "finish + period", which drifts by every run's length
/// and its lateness); a run off it (the first after start-up) is not followed by another a moment later.
fn following(planned: DateTime<Utc>, spec: &Schedule, phase: f64) -> DateTime<Utc> {
    next_run(add(planned, period(spec, planned) / 2), spec, phase)
}

/// When a source runs first after `watch` starts at `start`: on its schedule after its last run when that is
/// still ahead (a restart keeps every source's times), otherwise soon, spread over a few seconds by its `phase`.
pub fn first_run(start: DateTime<Utc>, last: Option<DateTime<Utc>>, spec: &Schedule, phase: f64) -> DateTime<Utc> {
    if let Some(last) = last {
        let next = following(last, spec, phase);
        if next >= start {
            return next;
        }
    }
    let spread = spread(period(spec, start)).min(MAX_STARTUP_SPREAD);
    add(start, spread.mul_f64(phase.clamp(0.0, 1.0)))
}

/// How long a source that failed `failures` times in a row waits before its next run: its period, doubled for
/// each failure after the first, capped at `cap` (but never shorter than the period). `jitter` in `[0, 1)` takes
/// up to a quarter off, so failing sources do not retry in step.
pub fn backoff(failures: u32, period: Duration, cap: Duration, jitter: f64) -> Duration {
    let doubled = period.saturating_mul(1 << failures.saturating_sub(1).min(20));
    let capped = doubled.min(cap.max(period));
    capped.mul_f64(1.0 - 0.25 * jitter.clamp(0.0, 1.0)).max(period)
}

/// When a source of `phase` runs again after a run planned for `planned` that finished at `finished` and left it
/// with `failures` failures in a row: the following run time on its schedule, or the first at or after its
/// backoff. Never before `finished`: the run times a long run overran are skipped, not made up in a burst.
pub fn after_run(
    planned: DateTime<Utc>,
    finished: DateTime<Utc>,
    spec: &Schedule,
    phase: f64,
    (failures, cap, jitter): (u32, Duration, f64),
) -> DateTime<Utc> {
    let mut next = following(planned, spec, phase);
    if failures > 0 {
        let wait = backoff(failures, period(spec, planned), cap, jitter);
        next = next.max(run_at_or_after(add(planned, wait), spec, phase));
    }
    if next < finished {
        next = run_at_or_after(finished, spec, phase);
    }
    next
}

/// One source to schedule.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: SourceId,
    pub schedule: Schedule,
    /// Where in each period it runs: [`phase`] of its id.
    pub phase: f64,
    /// When it last started, from the store; `None` for a source never run.
    pub last: Option<DateTime<Utc>>,
}

/// Everything the loop schedules; `context` is handed to every run (the config, the client), and replaced on
/// reload.
#[derive(Debug)]
pub struct Plan<C> {
    pub context: Arc<C>,
    pub jobs: Vec<Job>,
    pub max_running: usize,
    pub backoff_max: Duration,
    /// Where the loop publishes each source's next run; keep the same one across reloads.
    pub timetable: Arc<Timetable>,
}

/// When each scheduled source runs next, as the loop last decided, for the web page and `/metrics` to show. A
/// running source keeps the time it was due (in the past) until it finishes.
#[derive(Debug, Default)]
pub struct Timetable(Mutex<HashMap<SourceId, DateTime<Utc>>>);

impl Timetable {
    pub fn next(&self, id: &SourceId) -> Option<DateTime<Utc>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .copied()
    }

    fn publish(&self, slots: &HashMap<SourceId, Slot>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            slots.iter().map(|(id, slot)| (id.clone(), slot.next)).collect();
    }
}

/// What the loop is told from outside while it runs.
#[derive(Debug)]
pub enum Control<C> {
    /// A new config was read: schedule these jobs from now on (running ones finish under the old context).
    Reload(Plan<C>),
    /// Start nothing new, let in-flight runs finish (for at most the grace period), return.
    Shutdown,
}

/// Wall-clock time that advances with tokio's clock, so a paused test clock moves it too.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Clock {
    /// `wall` is the time now; `app` reads it once.
    pub fn new(wall: DateTime<Utc>) -> Self {
        Clock {
            wall,
            mono: Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        add(self.wall, self.mono.elapsed())
    }

    /// The tokio instant at which the wall clock shows `t` (now, if `t` is past).
    fn instant(&self, t: DateTime<Utc>) -> Instant {
        let ahead = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        // Far-future times (a cron with no time left) would overflow an Instant; a year is "not soon" enough.
        Instant::now() + ahead.min(Duration::from_secs(365 * 24 * 60 * 60))
    }
}

struct Slot {
    schedule: Schedule,
    phase: f64,
    /// When it runs next; while it runs, when that run was planned for.
    next: DateTime<Utc>,
    failures: u32,
    running: bool,
    /// Deferred until then ([`Verdict::Deferred`]).
    wait: Option<DateTime<Utc>>,
}

/// Runs every job of `plan` on its schedule until [`Control::Shutdown`] arrives or `control` closes.
///
/// `runner` does one run of one source; it is called with the plan's context. `jitter` is asked for a number in
/// `[0, 1)` each time a failed run is scheduled (its backoff). A run that panics counts as a failure and the loop goes on.
pub async fn run<C, R, F>(
    plan: Plan<C>,
    clock: Clock,
    mut jitter: impl FnMut() -> f64,
    runner: R,
    mut control: mpsc::Receiver<Control<C>>,
    grace: Duration,
) where
    R: Fn(Arc<C>, SourceId) -> F,
    F: Future<Output = Verdict>,
{
    let mut slots: HashMap<SourceId, Slot> = HashMap::new();
    let mut plan = plan;
    apply(&mut slots, &plan, clock.now());
    let mut running = FuturesUnordered::new();

    loop {
        let now = clock.now();
        while running.len() < plan.max_running.max(1) {
            let Some((id, slot)) = slots
                .iter_mut()
                .filter(|(_, s)| !s.running && s.next <= now && s.wait.is_none_or(|w| w <= now))
                .min_by_key(|(id, s)| (s.next, (*id).clone()))
            else {
                break;
            };
            slot.running = true;
            let planned = slot.next;
            let id = id.clone();
            tracing::debug!(source = %id, "run starts");
            let task = runner(plan.context.clone(), id.clone());
            running.push(async move {
                let verdict = AssertUnwindSafe(task).catch_unwind().await.unwrap_or_else(|_| {
                    tracing::error!(source = %id, "run panicked; counted as a failure");
                    Verdict::Failure
                });
                (id, planned, verdict)
            });
        }
        let wake = (running.len() < plan.max_running.max(1))
            .then(|| {
                slots
                    .values()
                    .filter(|s| !s.running)
                    .map(|s| s.wait.unwrap_or(s.next).max(s.next))
                    .min()
            })
            .flatten()
            .map(|t| clock.instant(t));

        tokio::select! {
            biased;
            message = control.recv() => match message {
                Some(Control::Reload(new)) => {
                    plan = new;
                    apply(&mut slots, &plan, clock.now());
                    tracing::info!(sources = slots.len(), "schedule reloaded");
                }
                Some(Control::Shutdown) | None => break,
            },
            Some((id, planned, verdict)) = running.next(), if !running.is_empty() => {
                finish(&mut slots, &plan, &id, planned, verdict, clock.now(), &mut jitter);
            }
            () = sleep_until(wake) => {}
        }
    }

    if !running.is_empty() {
        tracing::info!(
            in_flight = running.len(),
            grace_s = grace.as_secs(),
            "shutting down: waiting for running sources"
        );
        let drained = tokio::time::timeout(grace, async {
            while let Some((id, planned, verdict)) = running.next().await {
                finish(&mut slots, &plan, &id, planned, verdict, clock.now(), &mut jitter);
            }
        })
        .await;
        if drained.is_err() {
            // Dropping the futures cancels them at an `.await`: mid-fetch, before any write.
            tracing::warn!(
                abandoned = running.len(),
                "grace period over: abandoning running sources"
            );
        }
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Makes `slots` match `plan`: new sources get a first run, removed ones go (a running one finishes unnoticed),
/// kept ones keep their state, and are rescheduled from now if their schedule changed.
fn apply<C>(slots: &mut HashMap<SourceId, Slot>, plan: &Plan<C>, now: DateTime<Utc>) {
    slots.retain(|id, _| plan.jobs.iter().any(|j| &j.id == id));
    for job in &plan.jobs {
        match slots.get_mut(&job.id) {
            Some(slot) if slot.schedule == job.schedule => {}
            Some(slot) => {
                slot.schedule = job.schedule.clone();
                slot.phase = job.phase;
                slot.next = first_run(now, job.last, &job.schedule, job.phase);
            }
            None => {
                let next = first_run(now, job.last, &job.schedule, job.phase);
                tracing::info!(source = %job.id, schedule = %job.schedule, next = %next, "scheduled");
                slots.insert(
                    job.id.clone(),
                    Slot {
                        schedule: job.schedule.clone(),
                        phase: job.phase,
                        next,
                        failures: 0,
                        running: false,
                        wait: None,
                    },
                );
            }
        }
    }
    plan.timetable.publish(slots);
}

fn finish<C>(
    slots: &mut HashMap<SourceId, Slot>,
    plan: &Plan<C>,
    id: &SourceId,
    planned: DateTime<Utc>,
    verdict: Verdict,
    now: DateTime<Utc>,
    jitter: &mut impl FnMut() -> f64,
) {
    let Some(slot) = slots.get_mut(id) else {
        return;
    };
    slot.running = false;
    slot.wait = None;
    match verdict {
        Verdict::Success => slot.failures = 0,
        Verdict::Failure => slot.failures = slot.failures.saturating_add(1),
        // Runs follow planned times, so the next one is planned as after a run of ours.
        Verdict::Elsewhere { .. } => {}
        Verdict::Deferred { until } => {
            slot.wait = Some(until);
            tracing::info!(source = %id, until = %until, "held by another worker; asking again then");
            plan.timetable.publish(slots);
            return;
        }
    }
    let backoff = (slot.failures, plan.backoff_max, jitter());
    slot.next = after_run(planned, now, &slot.schedule, slot.phase, backoff);
    tracing::info!(source = %id, ?verdict, failures = slot.failures, next = %slot.next, "run finished");
    plan.timetable.publish(slots);
}

#[cfg(test)]
mod tests;
