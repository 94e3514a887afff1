//! The SQLite backend through the [`Store`] handle, and its files: migrations, refusals, read-only opening.

use std::time::Duration;

use chrono::TimeZone;
use rusqlite::Connection;
use url::Url;

use super::{Sqlite, schema};
use crate::model::{DateSource, Item, ItemId, ListedLink, SourceId};
use crate::store::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn source() -> SourceId {
    SourceId::parse("wic-news").unwrap()
}

fn item(n: u32, body: &str) -> Item {
    let url = Url::parse(&format!("https://www.example.org/2015-12/{n:02}/c_{n}.htm")).unwrap();
    let published = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2015, 12, n, 10, 0, 0)
        .unwrap();
    Item {
        id: ItemId::from_canonical(&url),
        url,
        title: format!("Story {n}"),
        published,
        date_source: DateSource::Page,
        updated: published,
        author: Some("xinhuanet.com".into()),
        summary: body.into(),
        content_html: format!("<p>{body}</p>"),
        image: None,
        image_caption: None,
        image_length: None,
        image_type: None,
        categories: Vec::new(),
    }
}

fn record() -> RunRecord {
    RunRecord {
        duration: Duration::from_millis(5),
        links: 2,
        fetched: 2,
        with_date: 2,
        with_body: 2,
        requests: 3,
        listing: vec![ListingStatus {
            url: "https://www.example.org/news/".into(),
            status: Some(200),
        }],
        ..RunRecord::new(source(), t("2026-01-01T00:00:00Z"))
    }
}

fn changes(items: Vec<Item>) -> Changes {
    Changes {
        links: items.iter().map(|i| (i.url.clone(), i.id.clone())).collect(),
        items,
        ..Changes::default()
    }
}

#[test]
fn new_items_are_inserted_and_come_back_newest_first() {
    let mut store = Store::in_memory().unwrap();
    let mut run = record();
    store
        .commit(
            &changes(vec![item(15, "a"), item(16, "b")]),
            &mut run,
            t("2026-01-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!((run.new, run.updated), (2, 0));
    let items = store.feed_items(&source(), 10).unwrap();
    assert_eq!(
        items.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(),
        ["Story 16", "Story 15"]
    );
    assert_eq!(items[0], item(16, "b"), "an item survives the round trip unchanged");
    assert_eq!(store.feed_items(&source(), 1).unwrap().len(), 1);
}

#[test]
fn an_edit_updates_in_place_and_bumps_updated() {
    let mut store = Store::in_memory().unwrap();
    store
        .commit(
            &changes(vec![item(16, "first")]),
            &mut record(),
            t("2026-01-01T00:00:00Z"),
        )
        .unwrap();
    let mut run = record();
    store
        .commit(&changes(vec![item(16, "first")]), &mut run, t("2026-01-02T00:00:00Z"))
        .unwrap();
    assert_eq!((run.new, run.updated), (0, 0), "same content is no edit");
    assert_eq!(
        store.feed_items(&source(), 10).unwrap()[0].updated,
        item(16, "").published
    );

    let mut run = record();
    store
        .commit(&changes(vec![item(16, "second")]), &mut run, t("2026-01-03T00:00:00Z"))
        .unwrap();
    assert_eq!((run.new, run.updated), (0, 1));
    let items = store.feed_items(&source(), 10).unwrap();
    assert_eq!(items.len(), 1, "an edit never duplicates");
    assert_eq!(items[0].content_html, "<p>second</p>");
    assert_eq!(items[0].updated.to_rfc3339(), "2026-01-03T08:00:00+08:00");
    assert_eq!(items[0].published, item(16, "").published);
}

#[test]
fn categories_and_the_image_size_round_trip_and_a_retag_is_an_edit() {
    let mut store = Store::in_memory().unwrap();
    let untagged = item(16, "body");
    store
        .commit(
            &changes(vec![untagged.clone()]),
            &mut record(),
            t("2026-01-01T00:00:00Z"),
        )
        .unwrap();
    let tagged = Item {
        categories: vec!["World".into(), "Cyber \"space\" & more".into()],
        image: Some(Url::parse("https://www.example.org/lead.jpg").unwrap()),
        image_length: Some(34567),
        image_type: Some("image/jpeg".into()),
        ..untagged.clone()
    };
    // The image is new content (the hash has always covered it); its categories alone would not be.
    let mut run = record();
    store
        .commit(&changes(vec![tagged.clone()]), &mut run, t("2026-01-02T00:00:00Z"))
        .unwrap();
    let back = &store.feed_items(&source(), 10).unwrap()[0];
    assert_eq!(back.categories, tagged.categories);
    assert_eq!(
        (back.image_length, back.image_type.as_deref()),
        (Some(34567), Some("image/jpeg"))
    );

    let first_tags = Item {
        categories: vec!["New".into()],
        ..item(17, "other")
    };
    store
        .commit(
            &changes(vec![item(17, "other")]),
            &mut record(),
            t("2026-01-02T00:00:00Z"),
        )
        .unwrap();
    let mut run = record();
    store
        .commit(&changes(vec![first_tags.clone()]), &mut run, t("2026-01-03T00:00:00Z"))
        .unwrap();
    assert_eq!((run.new, run.updated), (0, 0), "first categories are no edit");
    let mut retagged = first_tags;
    retagged.categories.push("Second".into());
    let mut run = record();
    store
        .commit(&changes(vec![retagged]), &mut run, t("2026-01-04T00:00:00Z"))
        .unwrap();
    assert_eq!((run.new, run.updated), (0, 1), "a re-tag is");
    let stored = store.feed_items(&source(), 10).unwrap();
    let seventeen = stored.iter().find(|i| i.title == "Story 17").unwrap();
    assert_eq!(seventeen.categories, ["New", "Second"]);
}

#[test]
fn known_links_remember_first_seen() {
    let mut store = Store::in_memory().unwrap();
    store
        .commit(&changes(vec![item(16, "x")]), &mut record(), t("2026-01-01T00:00:00Z"))
        .unwrap();
    store
        .commit(&changes(vec![item(16, "x")]), &mut record(), t("2026-01-05T00:00:00Z"))
        .unwrap();
    let known = store.load(&source(), Some(DateTime::UNIX_EPOCH)).unwrap().known;
    let k = &known[item(16, "").url.as_str()];
    assert_eq!(k.first_seen, t("2026-01-01T00:00:00Z"));
    assert_eq!(k.last_checked, t("2026-01-05T00:00:00Z"));
}

#[test]
fn validators_and_runs_round_trip() {
    let mut store = Store::in_memory().unwrap();
    let url = Url::parse("https://www.example.org/news/").unwrap();
    let v = Validators {
        etag: Some("\"abc\"".into()),
        last_modified: None,
    };
    let mut c = Changes::default();
    c.validators.push((url.clone(), v.clone()));
    let mut run = record();
    store.commit(&c, &mut run, t("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(store.validators(&url).unwrap(), Some(v));
    let mut failed = record();
    failed.outcome = Outcome::Failed;
    failed.reason = Some("the listing yielded no article links".into());
    store.record_run(&failed, &[], &[], t("2026-01-01T00:00:00Z")).unwrap();
    let runs = store.recent_runs(&source(), 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0], failed);
    assert_eq!(runs[1], run);
}

#[test]
fn old_runs_are_pruned() {
    let mut store = Store::in_memory().unwrap();
    for _ in 0..(RUNS_KEPT + 5) {
        store
            .record_run(&record(), &[], &[], t("2026-01-01T00:00:00Z"))
            .unwrap();
    }
    assert_eq!(store.recent_runs(&source(), 10_000).unwrap().len(), RUNS_KEPT);
}

#[test]
fn an_older_schema_is_migrated_and_keeps_its_items() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        let mut store = Sqlite {
            conn,
            path: path.clone(),
        };
        store.migrate(&schema::MIGRATIONS[..1]).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO items VALUES ('wic-news', 'https://e.org/a', 'https://e.org/a', 'Old', '2015-12-16T10:00:00+08:00',
                 1450231200, 'page', '2015-12-16T10:00:00+08:00', NULL, 's', '<p>b</p>', NULL, NULL, 'h',
                 '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
                [],
            )
            .unwrap();
    }
    let store = Sqlite::open(&path).unwrap();
    let version: i64 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, schema::MIGRATIONS.len() as i64);
    let old = &store.feed_items(&source(), 10).unwrap()[0];
    assert_eq!(old.title, "Old");
    assert_eq!(
        (old.categories.len(), old.image_length, old.image_type.as_ref()),
        (0, None, None)
    );
    assert!(
        store.recent_runs(&source(), 1).unwrap().is_empty(),
        "the runs table now exists"
    );
}

#[test]
fn foreign_and_corrupt_files_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, b"this is not a database, it is a shopping list\n".repeat(100)).unwrap();
    let before = std::fs::read(&garbage).unwrap();
    assert!(matches!(
        Store::open(&Location::File(garbage.to_path_buf())),
        Err(StoreError::Foreign { .. })
    ));
    assert_eq!(std::fs::read(&garbage).unwrap(), before);

    let other = dir.path().join("other.sqlite");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT)")
        .unwrap();
    let err = Store::open(&Location::File(other.to_path_buf())).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }));
    assert!(err.to_string().contains("is not a feedwright state database"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    drop(Store::open(&Location::File(path.to_path_buf())).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        Store::open(&Location::File(path.to_path_buf())),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn robots_txt_is_kept_per_host_and_read_back_while_fresh() {
    let mut store = Store::in_memory().unwrap();
    let fetched = vec![
        (
            "https://www.wuzhenwic.org".to_owned(),
            Some("User-agent: *\nDisallow: /admin/\n".to_owned()),
        ),
        ("http://www.wicwuzhen.cn".to_owned(), None),
    ];
    store.save_robots(&fetched, t("2026-01-01T00:00:00Z")).unwrap();
    store.save_robots(&fetched[1..], t("2026-01-02T00:00:00Z")).unwrap();
    let mut fresh = store.load(&source(), Some(t("2026-01-01T12:00:00Z"))).unwrap().robots;
    let expected = StoredRobots {
        host: "http://www.wicwuzhen.cn".into(),
        body: None,
        fetched: t("2026-01-02T00:00:00Z"),
    };
    assert_eq!(fresh, vec![expected]);
    fresh = store.load(&source(), Some(t("2025-12-31T00:00:00Z"))).unwrap().robots;
    fresh.sort();
    assert_eq!(fresh.len(), 2);
    assert_eq!(fresh[1].body.as_deref(), Some("User-agent: *\nDisallow: /admin/\n"));
}

#[test]
fn failed_links_are_remembered_until_they_succeed() {
    let mut store = Store::in_memory().unwrap();
    let url = item(16, "").url;
    let listed = ListedLink {
        url: url.clone(),
        title: Some("Story 16".into()),
        date_text: Some("2015-12-16".into()),
        feed: None,
    };
    let mut c = Changes::default();
    c.failed.push((listed.clone(), "GET … returned HTTP 404".into()));
    c.skipped.push(ListedLink {
        url: Url::parse("https://www.example.org/skipped.htm").unwrap(),
        ..listed.clone()
    });
    store.commit(&c, &mut record(), t("2026-01-01T00:00:00Z")).unwrap();
    store.commit(&c, &mut record(), t("2026-01-02T00:00:00Z")).unwrap();
    let failed = store.load(&source(), Some(DateTime::UNIX_EPOCH)).unwrap().failed;
    let dead = &failed[url.as_str()];
    assert_eq!(
        (dead.attempts, &dead.link, dead.last_failed),
        (2, &listed, t("2026-01-02T00:00:00Z"))
    );
    assert_eq!(
        failed["https://www.example.org/skipped.htm"].attempts, 0,
        "a skip is no failed attempt"
    );
    store
        .commit(
            &changes(vec![item(16, "back")]),
            &mut record(),
            t("2026-01-03T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(
        store.load(&source(), Some(DateTime::UNIX_EPOCH)).unwrap().failed.len(),
        1,
        "the link that worked is forgotten"
    );
}

#[test]
fn a_first_seen_date_is_stored_once_even_when_the_item_comes_back_by_another_link() {
    let mut store = Store::in_memory().unwrap();
    let mut undated = item(16, "x");
    undated.date_source = DateSource::FirstSeen;
    store
        .commit(
            &changes(vec![undated.clone()]),
            &mut record(),
            t("2026-01-01T00:00:00Z"),
        )
        .unwrap();
    let mut again = undated.clone();
    again.published = undated.published + chrono::Duration::days(30);
    again.updated = again.published;
    store
        .commit(&changes(vec![again]), &mut record(), t("2026-01-31T00:00:00Z"))
        .unwrap();
    assert_eq!(store.feed_items(&source(), 10).unwrap()[0].published, undated.published);
}

#[test]
fn a_read_only_store_reads_and_never_migrates_or_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    {
        let mut store = Store::open(&Location::File(path.to_path_buf())).unwrap();
        store
            .commit(&changes(vec![item(16, "x")]), &mut record(), t("2026-01-01T00:00:00Z"))
            .unwrap();
    }
    let mut reader = Store::open_read_only(&Location::File(path.to_path_buf()))
        .unwrap()
        .unwrap();
    assert_eq!(reader.feed_items(&source(), 10).unwrap().len(), 1);
    assert!(
        reader
            .commit(&changes(vec![item(17, "y")]), &mut record(), t("2026-01-02T00:00:00Z"))
            .is_err()
    );

    let old = dir.path().join("old.sqlite");
    {
        let conn = Connection::open(&old).unwrap();
        let mut store = Sqlite {
            conn,
            path: old.clone(),
        };
        store.migrate(&schema::MIGRATIONS[..1]).unwrap();
    }
    assert!(matches!(
        Store::open_read_only(&Location::File(old.to_path_buf())),
        Err(StoreError::Outdated { .. })
    ));
    assert!(
        matches!(
            Store::open_read_only(&Location::File(dir.path().join("missing.sqlite"))),
            Ok(None)
        ),
        "no state yet, and nothing is created"
    );
    assert!(!dir.path().join("missing.sqlite").exists());
}

#[test]
fn failed_articles_carry_their_error_times_and_attempts_and_go_when_they_succeed() {
    let mut store = Store::in_memory().unwrap();
    let dead = ListedLink {
        url: item(16, "").url,
        title: Some("Story 16".into()),
        date_text: None,
        feed: None,
    };
    let late = ListedLink {
        url: Url::parse("https://www.example.org/late.htm").unwrap(),
        title: None,
        date_text: None,
        feed: None,
    };
    let mut c = Changes::default();
    c.failed.push((dead.clone(), "GET … returned HTTP 500".into()));
    store.commit(&c, &mut record(), t("2026-01-01T00:00:00Z")).unwrap();
    c.skipped.push(late.clone());
    store.commit(&c, &mut record(), t("2026-01-02T00:00:00Z")).unwrap();
    let failed = store.failed_articles(&source()).unwrap();
    assert_eq!(
        failed[0],
        FailedArticle {
            url: dead.url.to_string(),
            title: Some("Story 16".into()),
            first_failed: t("2026-01-01T00:00:00Z"),
            last_failed: t("2026-01-02T00:00:00Z"),
            attempts: 2,
            error: "GET … returned HTTP 500".into(),
        }
    );
    assert_eq!(
        (failed[1].url.as_str(), failed[1].attempts, failed[1].error.as_str()),
        ("https://www.example.org/late.htm", 0, SKIPPED),
        "failed at the same time: by URL"
    );
    store
        .commit(
            &changes(vec![item(16, "back")]),
            &mut record(),
            t("2026-01-03T00:00:00Z"),
        )
        .unwrap();
    let urls: Vec<String> = store
        .failed_articles(&source())
        .unwrap()
        .into_iter()
        .map(|f| f.url)
        .collect();
    assert_eq!(urls, ["https://www.example.org/late.htm"], "what recovered is gone");
}

#[test]
fn the_run_summary_counts_failures_since_the_last_run_that_published() {
    let mut store = Store::in_memory().unwrap();
    assert_eq!(store.run_summary(&source()).unwrap(), RunSummary::default());
    let run = |outcome, at: &str| RunRecord {
        outcome,
        started: t(at),
        ..record()
    };
    let epoch = DateTime::UNIX_EPOCH;
    store
        .record_run(&run(Outcome::Failed, "2026-01-01T00:00:00Z"), &[], &[], epoch)
        .unwrap();
    assert_eq!(
        store.run_summary(&source()).unwrap(),
        RunSummary {
            last_success: None,
            consecutive_failures: 1
        }
    );
    store
        .record_run(&run(Outcome::Degraded, "2026-01-01T01:00:00Z"), &[], &[], epoch)
        .unwrap();
    store
        .record_run(&run(Outcome::Failed, "2026-01-01T02:00:00Z"), &[], &[], epoch)
        .unwrap();
    store
        .record_run(&run(Outcome::Failed, "2026-01-01T03:00:00Z"), &[], &[], epoch)
        .unwrap();
    assert_eq!(
        store.run_summary(&source()).unwrap(),
        RunSummary {
            last_success: Some(t("2026-01-01T01:00:00Z")),
            consecutive_failures: 2
        }
    );
    store
        .record_run(&run(Outcome::Ok, "2026-01-01T04:00:00Z"), &[], &[], epoch)
        .unwrap();
    assert_eq!(store.run_summary(&source()).unwrap().consecutive_failures, 0);
}

#[test]
fn entries_say_when_an_item_was_first_seen_and_whether_it_was_edited() {
    let mut store = Store::in_memory().unwrap();
    let c = changes(vec![item(15, "a"), item(16, "b")]);
    store.commit(&c, &mut record(), t("2026-01-01T00:00:00Z")).unwrap();
    store.commit(&c, &mut record(), t("2026-01-02T00:00:00Z")).unwrap();
    store
        .commit(
            &changes(vec![item(15, "edited")]),
            &mut record(),
            t("2026-01-03T00:00:00Z"),
        )
        .unwrap();
    store
        .commit(
            &changes(vec![item(15, "edited")]),
            &mut record(),
            t("2026-01-04T00:00:00Z"),
        )
        .unwrap();
    let entries = store.entries(&source(), 10).unwrap();
    assert_eq!(
        entries.iter().map(|e| (e.title.as_str(), e.edited)).collect::<Vec<_>>(),
        [("Story 16", None), ("Story 15", Some(t("2026-01-03T00:00:00Z")))],
        "newest first; an unchanged re-read keeps the edit time"
    );
    assert_eq!(entries[0].first_seen, t("2026-01-01T00:00:00Z"));
    assert_eq!(entries[0].url, item(16, "").url.as_str());
    assert_eq!(entries[0].published, item(16, "").published);
    assert_eq!(store.entries(&source(), 1).unwrap().len(), 1);
}

/// `n` items dated at one midnight (a site that prints dates only), the `n`th listed first.
fn same_day(range: std::ops::Range<u32>) -> Vec<Item> {
    range
        .rev()
        .map(|n| {
            let mut i = item(16, &format!("body {n}"));
            i.url = Url::parse(&format!("https://www.example.org/same-day/{n}.htm")).unwrap();
            i.id = ItemId::from_canonical(&i.url);
            i.title = format!("Story {n}");
            i.published = i
                .published
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_local_timezone(*i.published.offset())
                .unwrap();
            i.updated = i.published;
            i
        })
        .collect()
}

#[test]
fn same_second_items_get_distinct_updated_times_across_runs() {
    let mut store = Store::in_memory().unwrap();
    store
        .commit(&changes(same_day(0..300)), &mut record(), t("2026-01-01T00:00:00Z"))
        .unwrap();
    // An edit of a stored one and 20 new ones, all at the same midnight.
    let mut edited = same_day(0..1);
    edited[0].content_html = "<p>edited</p>".into();
    // Listed first, so merged last: the new ones do not get the second its edit frees.
    let mut next = edited;
    next.extend(same_day(300..320));
    let mut run = record();
    store
        .commit(&changes(next), &mut run, t("2026-01-02T00:00:00Z"))
        .unwrap();
    assert_eq!((run.new, run.updated), (20, 1));
    let items = store.feed_items(&source(), 1000).unwrap();
    assert_eq!(items.len(), 320);
    let times: std::collections::HashSet<_> = items.iter().map(|i| i.updated).collect();
    assert_eq!(times.len(), 320, "every item has its own updated second");
    let newest = items.iter().find(|i| i.title == "Story 319").unwrap();
    let older = items.iter().find(|i| i.title == "Story 300").unwrap();
    assert!(newest.updated > older.updated, "the one listed higher is later");
    let midnight = same_day(0..1)[0].published;
    assert_eq!(
        older.updated,
        midnight + chrono::Duration::seconds(300),
        "the first free second"
    );
}

#[test]
fn the_known_links_of_a_long_history_are_read_without_a_single_item_row() {
    const N: u32 = 10_000;
    let mut store = Store::in_memory().unwrap();
    let items: Vec<Item> = (0..N)
        .map(|n| {
            let mut i = item(1 + n % 28, "a body that the load must never read");
            i.url = Url::parse(&format!("https://www.example.org/history/{n}.htm")).unwrap();
            i.id = ItemId::from_canonical(&i.url);
            i
        })
        .collect();
    store
        .commit(&changes(items), &mut record(), t("2026-01-01T00:00:00Z"))
        .unwrap();
    let state = store.load(&source(), Some(t("2026-01-01T00:00:00Z"))).unwrap();
    assert_eq!(state.known.len(), N as usize);
    let k = &state.known["https://www.example.org/history/9999.htm"];
    assert_eq!(k.hash.len(), 64, "the content hash comes with the id");

    // The plan: `links` by its key, and `items` only through the covering index of ids, hashes and times (no
    // step reads the table itself, whose rows hold the bodies).
    let conn = Connection::open_in_memory().unwrap();
    let mut sqlite = Sqlite {
        conn,
        path: ":memory:".into(),
    };
    sqlite.migrate(schema::MIGRATIONS).unwrap();
    let plan: Vec<String> = sqlite
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", super::items::KNOWN_LINKS))
        .unwrap()
        .query_map(["wic-news"], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(plan.len(), 2, "{plan:?}");
    assert!(
        plan.iter().any(|p| p.contains("SEARCH l USING PRIMARY KEY")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.contains("SEARCH i USING COVERING INDEX items_known")),
        "{plan:?}"
    );
    // And the columns it reads are all in that index.
    let index: Vec<String> = sqlite
        .conn
        .prepare("SELECT name FROM pragma_index_info('items_known')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for column in ["id", "content_hash", "first_seen", "last_checked"] {
        assert!(index.iter().any(|c| c == column), "{column} in {index:?}");
    }
    assert!(!index.iter().any(|c| c == "content_html" || c == "summary"));
}

#[test]
fn retention_drops_old_unlisted_items_but_never_the_feed_window() {
    let mut store = Store::in_memory().unwrap();
    let keep = |retain_days: u64| Keep {
        max_items: 2,
        listing: vec![],
        max_pages: 1,
        retain: Some(Duration::from_secs(retain_days * 24 * 3600)),
    };
    let page = |i: &Item| {
        let listed = ListedLink {
            url: i.url.clone(),
            title: None,
            date_text: None,
            feed: None,
        };
        let served = Served {
            final_url: &i.url,
            text: "<p>x</p>",
            encoding: "UTF-8",
        };
        let mut p = SavedPage::article(&listed, served, t("2026-01-01T00:00:00Z"));
        p.set_item(&i.id);
        p
    };
    // Items of December 2015, first stored (and last seen) in January 2026.
    let old: Vec<Item> = (1..=5).rev().map(|n| item(n, "old")).collect();
    let mut first = changes(old.clone());
    first.pages = old.iter().map(page).collect();
    first.validators = old.iter().map(|i| (i.url.clone(), Validators::default())).collect();
    let dead = ListedLink {
        url: Url::parse("https://www.example.org/dead.htm").unwrap(),
        title: None,
        date_text: None,
        feed: None,
    };
    first.failed.push((dead, "GET … returned HTTP 404".into()));
    first.keep = Some(keep(90));
    store.commit(&first, &mut record(), t("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        store.item_counts(&source(), t("2026-01-01T00:00:00Z")).unwrap().0,
        5,
        "nothing is old yet"
    );

    // Four months on, item 3 is still listed (seen); nothing else was.
    let later = Changes {
        seen: vec![item(3, "").id],
        keep: Some(keep(90)),
        ..Changes::default()
    };
    store.commit(&later, &mut record(), t("2026-05-01T00:00:00Z")).unwrap();
    let left: Vec<String> = store
        .feed_items(&source(), 10)
        .unwrap()
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert_eq!(
        left,
        ["Story 5", "Story 4", "Story 3"],
        "the window (5, 4) and the listed 3 stay"
    );
    let state = store.load(&source(), Some(DateTime::UNIX_EPOCH)).unwrap();
    let mut known: Vec<&str> = state.known.keys().map(String::as_str).collect();
    known.sort();
    assert_eq!(
        known,
        [
            item(3, "").url.as_str(),
            item(4, "").url.as_str(),
            item(5, "").url.as_str()
        ]
    );
    assert!(state.failed.is_empty(), "the failed link is older than the cutoff");
    assert!(
        store.validators(&item(1, "").url).unwrap().is_none(),
        "validators of dropped links go"
    );
    assert!(store.validators(&item(4, "").url).unwrap().is_some());
    assert_eq!(
        store.saved_size(&source()).unwrap().0,
        2,
        "the pages of the window stay"
    );

    // Without `retain`, nothing is dropped.
    let forever = Changes {
        keep: Some(Keep {
            retain: None,
            ..keep(90)
        }),
        ..Changes::default()
    };
    store
        .commit(&forever, &mut record(), t("2027-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(store.feed_items(&source(), 10).unwrap().len(), 3);
}
