//! Claims on the store itself: on PostgreSQL (a real server, `common/pg.rs`), several connections standing for
//! workers: a lease keeps others out until it runs out, a host's sources go to one worker at a time, renewal
//! extends a lease and tells a worker what it lost, release (or, before it, the run's own commit) marks the run
//! done for everyone, and concurrent claims on one host grant exactly one. On SQLite every claim is granted (its file lock makes one writer).

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use feedwright::model::SourceId;
use feedwright::store::{Changes, Claim, Location, Outcome, RunRecord, Store, Want};

use common::pg;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn id(s: &str) -> SourceId {
    SourceId::parse(s).unwrap()
}

fn want(source: &str, host: &str, since: &str) -> Want {
    Want {
        source: id(source),
        host: host.to_owned(),
        since: t(since),
    }
}

const LEASE: Duration = Duration::from_secs(10);
const A: &str = "host-a:1:0000000a";
const B: &str = "host-b:2:0000000b";
const NEWS: &str = "https://news.example.org";
const OTHER: &str = "https://other.example.org";

#[test]
fn a_lease_keeps_other_workers_out_until_it_runs_out_and_a_finished_run_counts_for_all() {
    let url = pg::database();
    let (mut a, mut b) = (pg::store(&url), pg::store(&url));
    let at = |s: &str| t(&format!("2026-01-01T00:00:{s}Z"));

    let granted = a
        .claim(A, &want("news", NEWS, "2026-01-01T00:00:00Z"), LEASE, at("00"))
        .unwrap();
    assert_eq!(granted, Claim::Granted { until: at("10") });
    assert_eq!(
        b.claim(B, &want("news", NEWS, "2026-01-01T00:00:00Z"), LEASE, at("01"))
            .unwrap(),
        Claim::Held { until: at("10") },
        "a live lease of another worker holds the source"
    );
    assert_eq!(
        b.claim(B, &want("sport", NEWS, "2026-01-01T00:00:00Z"), LEASE, at("01"))
            .unwrap(),
        Claim::Held { until: at("10") },
        "and every other source of its host"
    );
    assert!(
        matches!(
            b.claim(B, &want("weather", OTHER, "2026-01-01T00:00:00Z"), LEASE, at("01"))
                .unwrap(),
            Claim::Granted { .. }
        ),
        "another host is free"
    );

    assert_eq!(
        a.renew(A, &[id("news")], LEASE, at("05")).unwrap(),
        Vec::<SourceId>::new()
    );
    assert_eq!(
        b.claim(B, &want("news", NEWS, "2026-01-01T00:00:00Z"), LEASE, at("12"))
            .unwrap(),
        Claim::Held { until: at("15") },
        "renewal moved the lease"
    );

    // Worker A stops renewing (killed): once its lease is over, B takes the source over.
    assert_eq!(
        b.claim(B, &want("news", NEWS, "2026-01-01T00:00:00Z"), LEASE, at("16"))
            .unwrap(),
        Claim::Granted { until: at("26") }
    );
    assert_eq!(
        a.renew(A, &[id("news")], LEASE, at("17")).unwrap(),
        vec![id("news")],
        "A lost it"
    );
    a.release(A, &id("news"), true).unwrap();
    assert_eq!(
        a.claim(A, &want("news", NEWS, "2026-01-01T00:00:00Z"), LEASE, at("18"))
            .unwrap(),
        Claim::Held { until: at("26") },
        "a release by a worker that lost the claim changes nothing"
    );

    b.release(B, &id("news"), true).unwrap();
    assert_eq!(
        a.claim(A, &want("news", NEWS, "2026-01-01T00:00:16Z"), LEASE, at("19"))
            .unwrap(),
        Claim::Done { started: at("16") },
        "B's run started at or after the wanted time: done"
    );
    assert!(matches!(
        a.claim(A, &want("news", NEWS, "2026-01-01T00:00:17Z"), LEASE, at("20"))
            .unwrap(),
        Claim::Granted { .. }
    ));
    a.release(A, &id("news"), false).unwrap();
    assert_eq!(
        b.claim(B, &want("news", NEWS, "2026-01-01T00:00:17Z"), LEASE, at("21"))
            .unwrap(),
        Claim::Granted { until: at("31") },
        "a run released unfinished is not done: the next worker runs it"
    );
    b.release(B, &id("weather"), true).unwrap();
    assert_eq!(
        pg::scalar(
            &url,
            "SELECT string_agg(source || '=' || coalesce(holder, '-'), ',' ORDER BY source) FROM claims"
        ),
        format!("news={B},sport=-,weather=-")
    );
}

fn record(source: &str, started: DateTime<Utc>) -> RunRecord {
    RunRecord {
        requests: 1,
        ..RunRecord::new(id(source), started)
    }
}

#[test]
fn a_worker_killed_after_its_run_is_recorded_leaves_the_source_done_not_due() {
    let url = pg::database();
    let (mut a, mut b) = (pg::store(&url), pg::store(&url));
    let at = |s: &str| t(&format!("2026-01-01T00:00:{s}Z"));
    let since = "2026-01-01T00:00:00Z";

    // "news" is committed with its items; "sport" fails and has only its run recorded. Both holders are killed
    // before they release.
    for (source, host) in [("news", NEWS), ("sport", OTHER)] {
        assert!(matches!(
            a.claim(A, &want(source, host, since), LEASE, at("00")).unwrap(),
            Claim::Granted { .. }
        ));
    }
    a.commit(&Changes::default(), &mut record("news", at("00")), at("02"))
        .unwrap();
    let mut failed = record("sport", at("00"));
    failed.outcome = Outcome::Failed;
    a.record_run(&failed, &[], &[], at("02")).unwrap();
    drop(a);

    assert_eq!(
        b.claim(B, &want("news", NEWS, since), LEASE, at("05")).unwrap(),
        Claim::Held { until: at("10") },
        "the lease still keeps others out"
    );
    for (source, host) in [("news", NEWS), ("sport", OTHER)] {
        assert_eq!(
            b.claim(B, &want(source, host, since), LEASE, at("11")).unwrap(),
            Claim::Done { started: at("00") },
            "{source}: its run was recorded, so once the lease is over it is done for this period, not run again"
        );
    }
    assert!(
        matches!(
            b.claim(B, &want("news", NEWS, "2026-01-01T00:00:01Z"), LEASE, at("12"))
                .unwrap(),
            Claim::Granted { .. }
        ),
        "a later period runs it"
    );
}

#[test]
fn workers_claiming_one_host_at_once_get_one_grant() {
    let url = pg::database();
    drop(pg::store(&url)); // migrated once, before the race
    let now = t("2026-01-01T00:00:00Z");
    let answers: Vec<Claim> = std::thread::scope(|scope| {
        let url = &url;
        let handles: Vec<_> = (0..8)
            .map(|n| {
                scope.spawn(move || {
                    let mut store = pg::store(url);
                    let worker = format!("w{n}");
                    store
                        .claim(
                            &worker,
                            &want(&format!("source-{n}"), NEWS, "2026-01-01T00:00:00Z"),
                            LEASE,
                            now,
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let granted = answers.iter().filter(|c| matches!(c, Claim::Granted { .. })).count();
    assert_eq!(granted, 1, "{answers:?}");
    assert_eq!(
        answers.iter().filter(|c| matches!(c, Claim::Held { .. })).count(),
        7,
        "{answers:?}"
    );
}

#[test]
fn sqlite_grants_every_claim() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&Location::File(dir.path().join("state.sqlite"))).unwrap();
    let now = t("2026-01-01T00:00:00Z");
    for worker in [A, B] {
        assert_eq!(
            store
                .claim(worker, &want("news", NEWS, "2026-01-01T00:00:00Z"), LEASE, now)
                .unwrap(),
            Claim::Granted {
                until: t("2026-01-01T00:00:10Z")
            }
        );
    }
    assert!(store.renew(A, &[id("news")], LEASE, now).unwrap().is_empty());
    store.release(A, &id("news"), true).unwrap();
}
