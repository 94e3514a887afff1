//! Scheduler tests: the pure timing rules with fixed times and jitter, and the loop on a paused tokio clock (a fake
//! runner logs when each source starts), so nothing here waits on or reads the wall clock.

use std::sync::Mutex;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn cron(expr: &str) -> Schedule {
    Schedule::Cron(Box::new(expr.parse().unwrap()))
}

fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn id(s: &str) -> SourceId {
    SourceId::parse(s).unwrap()
}

#[test]
fn interval_runs_are_fixed_points_a_phase_into_each_period() {
    let every = Schedule::Every(mins(30));
    let t = at("2026-01-01T10:07:00Z");
    assert_eq!(next_run(t, &every, 0.0), at("2026-01-01T10:30:00Z"));
    // Half of 30 minutes into each period, counted from the epoch.
    assert_eq!(next_run(t, &every, 0.5), at("2026-01-01T10:15:00Z"));
    assert_eq!(
        next_run(at("2026-01-01T10:15:00Z"), &every, 0.5),
        at("2026-01-01T10:45:00Z"),
        "strictly after"
    );
    // However late a run started or long it took, the following one is where the schedule says.
    for late in [0, 1, 7, 29 * 60] {
        let started = at("2026-01-01T10:15:00Z") + chrono::Duration::seconds(late);
        assert_eq!(
            next_run(started, &every, 0.5),
            at("2026-01-01T10:45:00Z"),
            "{late} s late"
        );
    }
}

#[test]
fn cron_runs_follow_cron_times_by_a_bounded_fixed_offset() {
    let half_hourly = cron("0 */30 * * * *");
    assert_eq!(
        next_run(at("2026-01-01T10:07:00Z"), &half_hourly, 0.0),
        at("2026-01-01T10:30:00Z")
    );
    assert_eq!(
        next_run(at("2026-01-01T10:30:00Z"), &half_hourly, 0.0),
        at("2026-01-01T11:00:00Z"),
        "a run at a cron time is not scheduled again for the same time"
    );
    // A tenth of the period at most: 3 minutes for 30.
    assert_eq!(
        next_run(at("2026-01-01T10:07:00Z"), &half_hourly, 0.5),
        at("2026-01-01T10:31:30Z")
    );
    assert_eq!(
        next_run(at("2026-01-01T10:31:00Z"), &half_hourly, 0.5),
        at("2026-01-01T10:31:30Z"),
        "the offset run of a cron time just passed"
    );
    // Long periods by MAX_JITTER at most.
    assert_eq!(
        next_run(at("2026-01-01T10:07:00Z"), &cron("0 0 0 * * *"), 0.5),
        at("2026-01-02T00:02:30Z")
    );
    let gone = cron("0 0 0 1 1 * 2020");
    assert_eq!(
        next_run(at("2026-01-01T10:07:00Z"), &gone, 0.0),
        DateTime::<Utc>::MAX_UTC
    );
}

#[test]
fn a_sources_phase_comes_from_its_id_and_spreads_sources_over_the_period() {
    // Pinned: a restart, another machine or another build must put a source at the same point of its period.
    assert_eq!(phase(&id("wic-news")), phase(&id("wic-news")));
    // The top 53 bits of SHA-256("wic-news") over 2^53, as Python's hashlib computes them.
    assert!(
        (phase(&id("wic-news")) - 0.019_039_174).abs() < 1e-9,
        "{}",
        phase(&id("wic-news"))
    );
    let phases: Vec<f64> = (0..200).map(|n| phase(&id(&format!("source-{n}")))).collect();
    assert!(phases.iter().all(|p| (0.0..1.0).contains(p)));
    // Every tenth of the period has some of 200 sources, and none has more than twice its share.
    for tenth in 0..10 {
        let n = phases.iter().filter(|p| (**p * 10.0) as usize == tenth).count();
        assert!((5..=40).contains(&n), "{n} sources in tenth {tenth}");
    }
}

#[test]
fn first_run_keeps_to_the_schedule_after_a_restart_and_runs_overdue_sources_soon() {
    let every = Schedule::Every(mins(30));
    let start = at("2026-01-01T10:00:00Z");
    // Last started (a little late) at its 09:50 run: next at 10:20, as if never restarted.
    assert_eq!(
        first_run(start, Some(at("2026-01-01T09:50:02Z")), &every, 2.0 / 3.0),
        at("2026-01-01T10:20:00Z")
    );
    assert_eq!(first_run(start, Some(at("2026-01-01T08:00:00Z")), &every, 0.0), start);
    assert_eq!(first_run(start, None, &every, 0.0), start);
    assert_eq!(first_run(start, None, &every, 0.5), at("2026-01-01T10:00:05Z"));
}

#[test]
fn backoff_doubles_from_the_period_and_is_capped() {
    let cap = Duration::from_secs(6 * 3600);
    assert_eq!(backoff(1, mins(30), cap, 0.0), mins(30));
    assert_eq!(backoff(2, mins(30), cap, 0.0), mins(60));
    assert_eq!(backoff(4, mins(30), cap, 0.0), mins(240));
    assert_eq!(backoff(5, mins(30), cap, 0.0), cap);
    assert_eq!(backoff(60, mins(30), cap, 0.0), cap, "no overflow after many failures");
    assert_eq!(
        backoff(3, mins(30), cap, 1.0),
        mins(90),
        "jitter takes at most a quarter off"
    );
    assert_eq!(
        backoff(1, mins(30), cap, 1.0),
        mins(30),
        "never shorter than the period"
    );
    assert_eq!(
        backoff(3, mins(30), mins(10), 0.0),
        mins(30),
        "a cap below the period is the period"
    );
}

#[test]
fn after_run_follows_the_planned_time_and_never_schedules_into_the_past() {
    let every = Schedule::Every(mins(30));
    let cap = Duration::from_secs(6 * 3600);
    let planned = at("2026-01-01T10:00:00Z");
    let ok = (0, cap, 0.0);
    assert_eq!(
        after_run(planned, at("2026-01-01T10:01:00Z"), &every, 0.0, ok),
        at("2026-01-01T10:30:00Z")
    );
    // Overran its next time: that one is skipped, the one after is kept (not "finished + 30 min").
    assert_eq!(
        after_run(planned, at("2026-01-01T10:45:00Z"), &every, 0.0, ok),
        at("2026-01-01T11:00:00Z")
    );
    assert_eq!(
        after_run(planned, at("2026-01-01T10:01:00Z"), &every, 0.0, (3, cap, 0.0)),
        at("2026-01-01T12:00:00Z")
    );
    // A run off the schedule (the first after start-up, at 10:00:05) is followed more than half a period later.
    assert_eq!(
        after_run(at("2026-01-01T10:00:05Z"), at("2026-01-01T10:00:09Z"), &every, 0.0, ok),
        at("2026-01-01T10:30:00Z")
    );
    assert_eq!(
        after_run(at("2026-01-01T10:20:00Z"), at("2026-01-01T10:20:09Z"), &every, 0.0, ok),
        at("2026-01-01T11:00:00Z")
    );
}

/// Runs recorded by a fake runner: which source, and the (tokio-driven) wall time it started.
type Log = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

const START: &str = "2026-01-01T00:00:00Z";

fn plan(jobs: &[(&str, Schedule)], max_running: usize) -> Plan<()> {
    Plan {
        context: Arc::new(()),
        jobs: jobs
            .iter()
            .map(|(name, schedule)| Job {
                id: id(name),
                schedule: schedule.clone(),
                phase: 0.0,
                last: None,
            })
            .collect(),
        max_running,
        backoff_max: mins(120),
        timetable: Arc::default(),
    }
}

/// Starts the loop with a runner that logs each start, takes `busy`, and answers `verdict(source, nth run)`.
fn start(
    plan: Plan<()>,
    busy: Duration,
    verdict: impl Fn(&str, usize) -> Verdict + 'static,
) -> (Log, mpsc::Sender<Control<()>>, tokio::task::JoinHandle<()>, Clock) {
    let log: Log = Arc::default();
    let clock = Clock::new(at(START));
    let (tx, rx) = mpsc::channel(4);
    let runner_log = log.clone();
    let verdict = Arc::new(verdict);
    let handle = tokio::task::spawn_local(async move {
        run(
            plan,
            clock,
            || 0.0,
            move |_ctx: Arc<()>, id: SourceId| {
                let log = runner_log.clone();
                let verdict = verdict.clone();
                async move {
                    let nth = {
                        let mut log = log.lock().unwrap();
                        log.push((id.to_string(), clock.now()));
                        log.iter().filter(|(s, _)| s == id.as_str()).count()
                    };
                    tokio::time::sleep(busy).await;
                    verdict(id.as_str(), nth)
                }
            },
            rx,
            Duration::from_secs(30),
        )
        .await;
    });
    (log, tx, handle, clock)
}

fn times(log: &Log, source: &str) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(s, _)| s == source)
        .map(|(_, t)| t.format("%H:%M:%S").to_string())
        .collect()
}

async fn local<F: Future>(f: F) -> F::Output {
    tokio::task::LocalSet::new().run_until(f).await
}

#[tokio::test(start_paused = true)]
async fn sources_fire_on_their_schedules() {
    local(async {
        let plan = plan(&[("a", Schedule::Every(mins(30))), ("b", cron("0 0 * * * *"))], 4);
        let (log, tx, handle, _) = start(plan, Duration::from_secs(5), |_, _| Verdict::Success);
        tokio::time::sleep(mins(125)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        assert_eq!(
            times(&log, "a"),
            ["00:00:00", "00:30:00", "01:00:00", "01:30:00", "02:00:00"]
        );
        assert_eq!(times(&log, "b"), ["00:00:00", "01:00:00", "02:00:00"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_backs_off_up_to_the_cap_and_a_success_resets_it() {
    local(async {
        // Fails its first five runs, then succeeds.
        let plan = plan(&[("a", Schedule::Every(mins(30)))], 4);
        let (log, tx, handle, _) = start(plan, Duration::ZERO, |_, nth| {
            if nth <= 5 { Verdict::Failure } else { Verdict::Success }
        });
        tokio::time::sleep(mins(8 * 60 + 5)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        // Waits after failures 1..5: 30m, 60m, 120m, 120m (capped), 120m; then back to 30m.
        assert_eq!(
            times(&log, "a"),
            [
                "00:00:00", "00:30:00", "01:30:00", "03:30:00", "05:30:00", "07:30:00", "08:00:00"
            ]
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn no_more_than_max_running_sources_run_at_once() {
    local(async {
        let every = Schedule::Every(mins(60));
        let plan = plan(&[("a", every.clone()), ("b", every.clone()), ("c", every)], 2);
        let (log, tx, handle, _) = start(plan, mins(10), |_, _| Verdict::Success);
        tokio::time::sleep(mins(15)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        assert_eq!(times(&log, "a"), ["00:00:00"]);
        assert_eq!(times(&log, "b"), ["00:00:00"]);
        assert_eq!(times(&log, "c"), ["00:10:00"], "waited for a free slot");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_short_run_finish_and_starts_nothing_new() {
    local(async {
        let finished = Arc::new(Mutex::new(false));
        let done = finished.clone();
        let clock = Clock::new(at(START));
        let (tx, rx) = mpsc::channel(4);
        let handle = tokio::task::spawn_local(run(
            plan(&[("a", Schedule::Every(mins(1)))], 1),
            clock,
            || 0.0,
            move |_, _| {
                let done = done.clone();
                async move {
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    *done.lock().unwrap() = true;
                    Verdict::Success
                }
            },
            rx,
            Duration::from_secs(30),
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        assert!(*finished.lock().unwrap(), "the in-flight run finished");
        assert_eq!(
            clock.now(),
            at("2026-01-01T00:00:20Z"),
            "and the loop returned as soon as it did"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_abandons_a_run_that_outlasts_the_grace_period() {
    local(async {
        let plan = plan(&[("a", Schedule::Every(mins(30)))], 1);
        let (log, tx, handle, clock) = start(plan, mins(10), |_, _| Verdict::Success);
        tokio::time::sleep(Duration::from_secs(60)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        assert_eq!(clock.now(), at("2026-01-01T00:01:30Z"), "returned after the 30 s grace");
        assert_eq!(times(&log, "a"), ["00:00:00"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn reload_adds_removes_and_reschedules_sources() {
    local(async {
        let plan0 = plan(&[("a", Schedule::Every(mins(30))), ("b", Schedule::Every(mins(30)))], 4);
        let (log, tx, handle, _) = start(plan0, Duration::ZERO, |_, _| Verdict::Success);
        tokio::time::sleep(mins(10)).await;
        // b goes, c comes, a keeps its schedule (and its next run at 00:30).
        let plan1 = plan(&[("a", Schedule::Every(mins(30))), ("c", Schedule::Every(mins(20)))], 4);
        tx.send(Control::Reload(plan1)).await.unwrap();
        tokio::time::sleep(mins(35)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        assert_eq!(times(&log, "a"), ["00:00:00", "00:30:00"]);
        assert_eq!(times(&log, "b"), ["00:00:00"]);
        // Added at 00:10 and run at once, then on its 20-minute times (00:40, more than half a period on).
        assert_eq!(times(&log, "c"), ["00:10:00", "00:40:00"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_run_counts_as_a_failure_and_the_loop_goes_on() {
    local(async {
        let clock = Clock::new(at(START));
        let (tx, rx) = mpsc::channel(4);
        let log: Log = Arc::default();
        let runner_log = log.clone();
        let handle = tokio::task::spawn_local(run(
            plan(&[("a", Schedule::Every(mins(30)))], 1),
            clock,
            || 0.0,
            move |_, id: SourceId| {
                let log = runner_log.clone();
                async move {
                    let first = {
                        let mut log = log.lock().unwrap();
                        log.push((id.to_string(), clock.now()));
                        log.len() == 1
                    };
                    assert!(!first, "first run blows up");
                    Verdict::Success
                }
            },
            rx,
            Duration::from_secs(30),
        ));
        tokio::time::sleep(mins(100)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        // 00:00 panics (failure 1: wait 30m), then succeeds every 30m.
        assert_eq!(times(&log, "a"), ["00:00:00", "00:30:00", "01:00:00", "01:30:00"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_timetable_shows_each_sources_next_run() {
    local(async {
        let plan = plan(&[("a", Schedule::Every(mins(30))), ("b", Schedule::Every(mins(60)))], 4);
        let timetable = plan.timetable.clone();
        let (_log, tx, handle, _) = start(plan, Duration::from_secs(5), |_, _| Verdict::Success);
        tokio::time::sleep(mins(10)).await;
        assert_eq!(timetable.next(&id("a")), Some(at("2026-01-01T00:30:00Z")));
        assert_eq!(timetable.next(&id("b")), Some(at("2026-01-01T01:00:00Z")));
        assert_eq!(timetable.next(&id("c")), None, "not scheduled");
        tokio::time::sleep(mins(30)).await;
        assert_eq!(
            timetable.next(&id("a")),
            Some(at("2026-01-01T01:00:00Z")),
            "moved on after the run"
        );
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
    })
    .await;
}

/// A plan of one source `name` every `period`, at `phase`.
fn phased(name: &str, period: Duration, phase: f64) -> Job {
    Job {
        id: id(name),
        schedule: Schedule::Every(period),
        phase,
        last: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_60_s_source_starts_every_60_s_however_long_its_runs_take() {
    local(async {
        let mut plan = plan(&[], 4);
        plan.jobs = vec![phased("a", mins(1), 0.25)];
        // Each run takes 7 s and the jitter is as large as it gets: neither moves the next start.
        let clock = Clock::new(at(START));
        let (tx, rx) = mpsc::channel(4);
        let log: Log = Arc::default();
        let runner_log = log.clone();
        let handle = tokio::task::spawn_local(run(
            plan,
            clock,
            || 0.999,
            move |_, id: SourceId| {
                let log = runner_log.clone();
                async move {
                    log.lock().unwrap().push((id.to_string(), clock.now()));
                    tokio::time::sleep(Duration::from_secs(7)).await;
                    Verdict::Success
                }
            },
            rx,
            Duration::from_secs(30),
        ));
        tokio::time::sleep(mins(10) + Duration::from_secs(20)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        let starts: Vec<DateTime<Utc>> = log.lock().unwrap().iter().map(|(_, t)| *t).collect();
        // At start-up (a quarter of the 6 s start-up spread in), then 15 s into every minute.
        assert_eq!(starts[0], at("2026-01-01T00:00:01.500Z"));
        assert_eq!(starts[1], at("2026-01-01T00:01:15Z"));
        assert_eq!(starts.len(), 11, "{starts:?}");
        for pair in starts[1..].windows(2) {
            assert_eq!(pair[1] - pair[0], chrono::Duration::seconds(60), "{starts:?}");
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn sources_with_one_schedule_start_at_their_own_points_of_the_period() {
    local(async {
        let mut plan = plan(&[], 8);
        plan.jobs = (0..4)
            .map(|n| phased(&format!("s{n}"), mins(1), n as f64 / 4.0))
            .collect();
        let (log, tx, handle, _) = start(plan, Duration::from_secs(1), |_, _| Verdict::Success);
        tokio::time::sleep(mins(3) + Duration::from_secs(1)).await;
        tx.send(Control::Shutdown).await.unwrap();
        handle.await.unwrap();
        // After the start-up runs, a quarter of a minute apart, not all at the top of each minute.
        assert_eq!(times(&log, "s0")[1..], ["00:01:00", "00:02:00", "00:03:00"]);
        assert_eq!(times(&log, "s1")[1..], ["00:01:15", "00:02:15"]);
        assert_eq!(times(&log, "s2")[1..], ["00:01:30", "00:02:30"]);
        assert_eq!(times(&log, "s3")[1..], ["00:00:45", "00:01:45", "00:02:45"]);
    })
    .await;
}
