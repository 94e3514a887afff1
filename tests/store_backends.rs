//! The store's backends against each other: every scenario runs on a SQLite file and on a PostgreSQL database
//! (a real server this binary starts, `common/pg.rs`), checks what it reads back, and the two must read back the
//! same. Then what only PostgreSQL has: its refusals, migrations, read-only opening, shared writers and redacted
//! URLs; and `feedwright run` itself on a `postgres://` state against a local site.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use feedwright::model::{DateSource, Event, Item, ItemId, ListedLink, SourceId, Validators};
use feedwright::store::{
    Changes, FailedArticle, FeedTag, Keep, ListingStatus, Location, Outcome, RunRecord, RunSummary, SKIPPED, SavedPage,
    Served, StateLock, Store, StoreError, StoredFeed, StoredRobots,
};
use url::Url;

use common::pg;

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
        image: Some(Url::parse(&format!("https://www.example.org/2015-12/{n:02}/p_{n}.jpg")).unwrap()),
        image_caption: None,
        image_length: Some(34_567),
        image_type: Some("image/jpeg".into()),
        categories: vec![format!("Topic {n}"), "网络 & \"space\"".into()],
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

fn commit(store: &mut Store, c: &Changes, at: &str) -> RunRecord {
    let mut run = record();
    store.commit(c, &mut run, t(at)).unwrap();
    run
}

fn pg_location() -> Location {
    pg::location(&pg::database())
}

/// Runs `scenario` on a fresh SQLite file and a fresh PostgreSQL database; what each read back (its return
/// value, a dump of the reads) must be the same.
fn on_both(scenario: fn(&mut Store) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&Location::File(dir.path().join("state.sqlite"))).unwrap();
    let mut postgres = Store::open(&pg_location()).unwrap();
    let on_sqlite = scenario(&mut sqlite);
    let on_postgres = scenario(&mut postgres);
    assert!(!on_sqlite.is_empty());
    assert_eq!(on_sqlite, on_postgres, "SQLite and PostgreSQL read back differently");
}

#[test]
fn new_items_come_back_newest_first_and_an_edit_updates_in_place() {
    on_both(|store| {
        let run = commit(
            store,
            &changes(vec![item(15, "a"), item(16, "b")]),
            "2026-01-01T00:00:00Z",
        );
        assert_eq!((run.new, run.updated), (2, 0));
        let first = store.feed_items(&source(), 10).unwrap();
        assert_eq!(
            first.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(),
            ["Story 16", "Story 15"]
        );
        assert_eq!(first[0], item(16, "b"), "an item survives the round trip unchanged");
        assert_eq!(store.feed_items(&source(), 1).unwrap().len(), 1);

        let same = commit(store, &changes(vec![item(16, "b")]), "2026-01-02T00:00:00Z");
        assert_eq!((same.new, same.updated), (0, 0), "same content is no edit");
        let edit = commit(store, &changes(vec![item(16, "second")]), "2026-01-03T00:00:00Z");
        assert_eq!((edit.new, edit.updated), (0, 1));
        let items = store.feed_items(&source(), 10).unwrap();
        assert_eq!(items.len(), 2, "an edit never duplicates");
        assert_eq!(items[0].content_html, "<p>second</p>");
        assert_eq!(items[0].updated.to_rfc3339(), "2026-01-03T08:00:00+08:00");
        commit(store, &changes(vec![item(16, "second")]), "2026-01-04T00:00:00Z");
        let entries = store.entries(&source(), 10).unwrap();
        assert_eq!(
            entries.iter().map(|e| e.edited).collect::<Vec<_>>(),
            [Some(t("2026-01-03T00:00:00Z")), None],
            "an unchanged re-read keeps the edit time"
        );
        let counts = store.item_counts(&source(), t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(counts, (2, 2));
        assert_eq!(store.item_counts(&source(), t("2026-01-02T00:00:00Z")).unwrap(), (2, 0));
        format!("{items:?}\n{entries:?}\n{counts:?}")
    });
}

#[test]
fn known_links_remember_first_seen_and_an_undated_item_keeps_its_first_date() {
    on_both(|store| {
        commit(store, &changes(vec![item(16, "x")]), "2026-01-01T00:00:00Z");
        commit(store, &changes(vec![item(16, "x")]), "2026-01-05T00:00:00Z");
        let mut undated = item(17, "y");
        undated.date_source = DateSource::FirstSeen;
        commit(store, &changes(vec![undated.clone()]), "2026-01-01T00:00:00Z");
        let mut again = undated.clone();
        again.published = undated.published + chrono::Duration::days(30);
        again.updated = again.published;
        commit(store, &changes(vec![again]), "2026-01-31T00:00:00Z");

        let known = store.load(&source(), Some(DateTime::UNIX_EPOCH)).unwrap().known;
        let k = &known[item(16, "").url.as_str()];
        assert_eq!(k.first_seen, t("2026-01-01T00:00:00Z"));
        assert_eq!(k.last_checked, t("2026-01-05T00:00:00Z"));
        let items = store.feed_items(&source(), 10).unwrap();
        assert_eq!(items[0].published, undated.published);
        let mut known: Vec<_> = known.into_iter().collect();
        known.sort_by(|a, b| a.0.cmp(&b.0));
        format!("{known:?}\n{items:?}")
    });
}

/// `range` items dated at one midnight (a site that prints dates only), the last listed first.
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
    on_both(|store| {
        commit(store, &changes(same_day(0..300)), "2026-01-01T00:00:00Z");
        let mut next = same_day(0..1);
        next[0].content_html = "<p>edited</p>".into();
        next.extend(same_day(300..320));
        // An item listed twice in one run (two links, one id) is merged once against the other.
        next.push(next[5].clone());
        let run = commit(store, &changes(next), "2026-01-02T00:00:00Z");
        assert_eq!((run.new, run.updated), (20, 1));
        let items = store.feed_items(&source(), 1000).unwrap();
        assert_eq!(items.len(), 320);
        let times: std::collections::HashSet<_> = items.iter().map(|i| i.updated).collect();
        assert_eq!(times.len(), 320, "every item has its own updated second");
        let midnight = same_day(0..1)[0].published;
        let twice = items.iter().find(|i| i.title == "Story 315").unwrap();
        assert_eq!(
            twice.updated,
            midnight + chrono::Duration::seconds(300),
            "listed last (again), merged first: the first free second"
        );
        let older = items.iter().find(|i| i.title == "Story 300").unwrap();
        assert_eq!(older.updated, midnight + chrono::Duration::seconds(301));
        items
            .iter()
            .map(|i| format!("{} {}", i.id.as_str(), i.updated.to_rfc3339()))
            .collect::<Vec<_>>()
            .join("\n")
    });
}

#[test]
fn failed_links_are_remembered_with_their_backoff_until_they_succeed() {
    on_both(|store| {
        let dead = ListedLink {
            url: item(16, "").url,
            title: Some("Story 16".into()),
            date_text: Some("2015-12-16".into()),
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
        commit(store, &c, "2026-01-01T00:00:00Z");
        c.skipped.push(late.clone());
        commit(store, &c, "2026-01-02T00:00:00Z");
        let failed = store.load(&source(), Some(DateTime::UNIX_EPOCH)).unwrap().failed;
        let f = &failed[dead.url.as_str()];
        assert_eq!(
            (f.attempts, &f.link, f.last_failed),
            (2, &dead, t("2026-01-02T00:00:00Z"))
        );
        assert_eq!(failed[late.url.as_str()].attempts, 0, "a skip is no failed attempt");
        let articles = store.failed_articles(&source()).unwrap();
        assert_eq!(
            articles[0],
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
            (articles[1].url.as_str(), articles[1].error.as_str()),
            (late.url.as_str(), SKIPPED)
        );
        commit(store, &changes(vec![item(16, "back")]), "2026-01-03T00:00:00Z");
        let after = store.failed_articles(&source()).unwrap();
        assert_eq!(after.len(), 1, "the link that worked is forgotten");
        format!("{articles:?}\n{after:?}")
    });
}

#[test]
fn validators_runs_and_the_run_summary_round_trip() {
    on_both(|store| {
        let url = Url::parse("https://www.example.org/news/").unwrap();
        let v = Validators {
            etag: Some("\"abc\"".into()),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        };
        let mut c = Changes::default();
        c.validators.push((url.clone(), v.clone()));
        let ok = commit(store, &c, "2026-01-01T00:00:00Z");
        assert_eq!(store.validators(&url).unwrap(), Some(v));
        assert_eq!(store.validators(&Url::parse("https://e.org/").unwrap()).unwrap(), None);
        let mut failed = record();
        failed.outcome = Outcome::Failed;
        failed.started = t("2026-01-01T01:00:00Z");
        failed.reason = Some("the listing yielded no article links".into());
        store.record_run(&failed, &[], &[], t("2026-01-01T01:00:00Z")).unwrap();
        let runs = store.recent_runs(&source(), 10).unwrap();
        assert_eq!(runs, [failed.clone(), ok]);
        assert_eq!(
            store.run_summary(&source()).unwrap(),
            RunSummary {
                last_success: Some(t("2026-01-01T00:00:00Z")),
                consecutive_failures: 1
            }
        );
        let mut amended = failed.clone();
        amended.errors = vec!["cannot write feeds/wic-news.atom".into()];
        amended.duration = Duration::from_millis(9);
        store.amend_run(&amended, &[], &[], t("2026-01-01T01:00:00Z")).unwrap();
        assert_eq!(store.recent_runs(&source(), 1).unwrap(), [amended]);
        for _ in 0..505 {
            store
                .record_run(&record(), &[], &[], t("2026-01-02T00:00:00Z"))
                .unwrap();
        }
        let kept = store.recent_runs(&source(), 10_000).unwrap().len();
        assert_eq!(kept, 500, "old runs are pruned");
        format!("{runs:?}\n{kept}\n{:?}", store.run_summary(&source()).unwrap())
    });
}

#[test]
fn robots_txt_is_kept_per_host_and_read_back_while_fresh() {
    on_both(|store| {
        let fetched = vec![
            (
                "https://www.wuzhenwic.org".to_owned(),
                Some("User-agent: *\nDisallow: /admin/\n".to_owned()),
            ),
            ("http://www.wicwuzhen.cn".to_owned(), None),
        ];
        store.save_robots(&fetched, t("2026-01-01T00:00:00Z")).unwrap();
        store.save_robots(&fetched[1..], t("2026-01-02T00:00:00Z")).unwrap();
        let fresh = store.load(&source(), Some(t("2026-01-01T12:00:00Z"))).unwrap().robots;
        assert_eq!(
            fresh,
            [StoredRobots {
                host: "http://www.wicwuzhen.cn".into(),
                body: None,
                fetched: t("2026-01-02T00:00:00Z"),
            }]
        );
        let mut all = store.load(&source(), Some(t("2025-12-31T00:00:00Z"))).unwrap().robots;
        all.sort();
        assert_eq!(all.len(), 2);
        format!("{all:?}")
    });
}

#[test]
fn the_outbox_queues_new_items_first_per_target_and_forgets_what_was_delivered() {
    on_both(|store| {
        let mut c = changes(vec![item(15, "a"), item(16, "b")]);
        c.events = vec![Event::Recovered { source: source() }];
        c.notify = vec!["hook".into(), "mail".into()];
        commit(store, &c, "2026-01-01T00:00:00Z");
        let broken = Event::Broken {
            source: source(),
            reason: "no links".into(),
        };
        store
            .record_run(
                &record(),
                std::slice::from_ref(&broken),
                &["hook".into()],
                t("2026-01-02T00:00:00Z"),
            )
            .unwrap();
        let hook = store.pending("hook").unwrap();
        let kinds: Vec<&str> = hook.iter().map(|(_, e)| e.kind()).collect();
        assert_eq!(kinds, ["new_items", "recovered", "broken"]);
        match &hook[0].1 {
            Event::NewItems { items, .. } => assert_eq!(items[0].title, "Story 15", "as listed"),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.pending("mail").unwrap().len(), 2);
        store.delivered(hook[0].0, Ok(())).unwrap();
        store.delivered(hook[1].0, Err("HTTP 500".into())).unwrap();
        let left: Vec<Event> = store.pending("hook").unwrap().into_iter().map(|(_, e)| e).collect();
        assert_eq!(left.len(), 2, "a failed delivery stays for the next try");
        format!("{left:?}")
    });
}

fn stored_feed(ext: &str, body: &[u8], at: &str) -> StoredFeed {
    StoredFeed {
        feed: source(),
        ext: ext.to_owned(),
        tag: FeedTag {
            etag: feedwright::publish::etag(body),
            modified: t(at),
        },
        body: body.to_vec(),
    }
}

#[test]
fn published_feeds_are_kept_and_replaced_only_when_their_bytes_change() {
    on_both(|store| {
        assert_eq!(store.feed_tag(&source(), "atom").unwrap(), None);
        assert_eq!(store.stored_feed(&source(), "atom").unwrap(), None);
        let atom = stored_feed("atom", b"<feed>1</feed>", "2026-01-01T00:00:00Z");
        let rss = stored_feed("rss", b"<rss>1</rss>", "2026-01-01T00:00:00Z");
        store.save_feeds(&[atom.clone(), rss]).unwrap();
        assert_eq!(store.stored_feed(&source(), "atom").unwrap().as_ref(), Some(&atom));

        // The same bytes from a later run: the copy keeps its time, so Last-Modified does not move.
        store
            .save_feeds(&[stored_feed("atom", b"<feed>1</feed>", "2026-01-02T00:00:00Z")])
            .unwrap();
        assert_eq!(store.feed_tag(&source(), "atom").unwrap(), Some(atom.tag.clone()));

        // New bytes: a new tag and time; the other formats are untouched.
        let every_byte: Vec<u8> = (0..=255).collect();
        let rss2 = stored_feed("rss", &every_byte, "2026-01-03T00:00:00Z");
        store.save_feeds(std::slice::from_ref(&rss2)).unwrap();
        let read = store.stored_feed(&source(), "rss").unwrap().unwrap();
        assert_eq!(read, rss2, "any bytes come back as written");
        assert_ne!(read.tag.etag, atom.tag.etag);
        assert_eq!(store.feed_tag(&source(), "rss").unwrap(), Some(rss2.tag));
        assert_eq!(store.feed_tag(&source(), "json").unwrap(), None);
        assert_eq!(store.feed_tag(&SourceId::parse("other").unwrap(), "rss").unwrap(), None);
        format!("{:?}\n{read:?}", store.stored_feed(&source(), "atom").unwrap())
    });
}

#[test]
fn the_upgrade_to_kept_feeds_forgets_the_digests_so_the_next_run_keeps_every_feed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.sqlite");
    let url = pg::database();
    let sqlite_back_to_11 = |file: &Path| {
        let c = rusqlite::Connection::open(file).unwrap();
        c.execute_batch("DROP TABLE feeds; PRAGMA user_version = 11;").unwrap();
    };
    for location in [Location::File(file.clone()), pg::location(&url)] {
        {
            let mut store = Store::open(&location).unwrap();
            let mut c = changes(vec![item(16, "x")]);
            c.rules = Some("r1".into());
            commit(&mut store, &c, "2026-01-01T00:00:00Z");
            store.set_published(&source(), "digest").unwrap();
            assert_eq!(store.published(&source()).unwrap().as_deref(), Some("digest"));
        }
        match &location {
            Location::File(file) => sqlite_back_to_11(file),
            Location::Postgres(_) => pg::execute(&url, "DROP TABLE feeds; UPDATE schema_version SET version = 11"),
        }
        let mut store = Store::open(&location).unwrap();
        assert_eq!(store.published(&source()).unwrap(), None, "{location:?}");
        assert_eq!(
            store.rules(&source()).unwrap().as_deref(),
            Some("r1"),
            "only the digest goes"
        );
        store
            .save_feeds(&[stored_feed("atom", b"<feed/>", "2026-01-02T00:00:00Z")])
            .unwrap();
        assert!(store.feed_tag(&source(), "atom").unwrap().is_some(), "{location:?}");
    }
}

fn article_page(i: &Item, at: DateTime<Utc>) -> SavedPage {
    let listed = ListedLink {
        url: i.url.clone(),
        title: Some(i.title.clone()),
        date_text: None,
        feed: None,
    };
    let text = format!("<h1>{}</h1>", i.title);
    let served = Served {
        final_url: &i.url,
        text: &text,
        encoding: "UTF-8",
    };
    let mut page = SavedPage::article(&listed, served, at);
    page.set_item(&i.id);
    page
}

fn listing_page(at: &str, start: &str, number: usize, now: DateTime<Utc>) -> SavedPage {
    let url = Url::parse(at).unwrap();
    let served = Served {
        final_url: &url,
        text: "<ul></ul>",
        encoding: "GBK",
    };
    SavedPage::listing(&url, (&Url::parse(start).unwrap(), number), served, now)
}

#[test]
fn saved_pages_follow_the_feed_window_and_the_rules_fingerprint_is_kept() {
    on_both(|store| {
        let now = t("2026-01-01T00:00:00Z");
        let keep = Keep {
            max_items: 2,
            listing: vec![Url::parse("https://www.example.org/news/").unwrap()],
            max_pages: 2,
            retain: None,
        };
        assert_eq!(store.rules(&source()).unwrap(), None);
        let items = vec![item(3, "c"), item(2, "b"), item(1, "a")];
        let mut c = changes(items.clone());
        c.pages = items.iter().map(|i| article_page(i, now)).collect();
        c.pages.extend([
            listing_page("https://www.example.org/news/", "https://www.example.org/news/", 1, now),
            listing_page(
                "https://www.example.org/news/2",
                "https://www.example.org/news/",
                2,
                now,
            ),
            listing_page(
                "https://www.example.org/news/3",
                "https://www.example.org/news/",
                3,
                now,
            ),
            listing_page("https://www.example.org/old/", "https://www.example.org/old/", 1, now),
        ]);
        c.validators.push((
            Url::parse("https://www.example.org/news/").unwrap(),
            Validators {
                etag: Some("\"l1\"".into()),
                last_modified: None,
            },
        ));
        c.rules = Some("r1".into());
        c.keep = Some(keep.clone());
        commit(store, &c, "2026-01-01T00:00:00Z");
        assert_eq!(store.rules(&source()).unwrap().as_deref(), Some("r1"));
        let window = store.window(&source(), 3).unwrap();
        assert_eq!(
            window[0].page,
            Some(article_page(&item(3, "c"), now)),
            "read back as written"
        );
        assert_eq!(window[0].page.as_ref().unwrap().text().unwrap(), "<h1>Story 3</h1>");
        assert_eq!(window[2].page, None, "item 1 is outside the window: pruned");
        let listed: Vec<String> = store
            .listing_pages(&source())
            .unwrap()
            .iter()
            .map(|p| p.url.to_string())
            .collect();
        assert_eq!(
            listed,
            ["https://www.example.org/news/", "https://www.example.org/news/2"]
        );
        let validators = store.load(&source(), Some(now)).unwrap().listing_validators;
        assert_eq!(validators.len(), 1);

        let mut next = changes(vec![item(4, "d")]);
        next.pages = vec![article_page(&item(4, "d"), now)];
        next.rules = Some("r2".into());
        next.keep = Some(keep);
        commit(store, &next, "2026-01-02T00:00:00Z");
        assert_eq!(store.rules(&source()).unwrap().as_deref(), Some("r2"));
        let size = store.saved_size(&source()).unwrap();
        assert_eq!(size.0, 4);
        let window: Vec<_> = store
            .window(&source(), 3)
            .unwrap()
            .into_iter()
            .map(|w| (w.known, w.link, w.page))
            .collect();
        format!("{window:?}\n{listed:?}\n{size:?}\n{validators:?}")
    });
}

#[test]
fn retention_drops_old_unlisted_items_but_never_the_feed_window() {
    on_both(|store| {
        let keep = |days: u64| Keep {
            max_items: 2,
            listing: vec![],
            max_pages: 1,
            retain: Some(Duration::from_secs(days * 24 * 3600)),
        };
        let old: Vec<Item> = (1..=5).rev().map(|n| item(n, "old")).collect();
        let mut first = changes(old.clone());
        first.pages = old.iter().map(|i| article_page(i, t("2026-01-01T00:00:00Z"))).collect();
        first.validators = old.iter().map(|i| (i.url.clone(), Validators::default())).collect();
        let dead = ListedLink {
            url: Url::parse("https://www.example.org/dead.htm").unwrap(),
            title: None,
            date_text: None,
            feed: None,
        };
        first.failed.push((dead, "GET … returned HTTP 404".into()));
        first.keep = Some(keep(90));
        commit(store, &first, "2026-01-01T00:00:00Z");
        let later = Changes {
            seen: vec![item(3, "").id],
            keep: Some(keep(90)),
            ..Changes::default()
        };
        commit(store, &later, "2026-05-01T00:00:00Z");
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
        let mut known: Vec<_> = state.known.into_keys().collect();
        known.sort();
        format!("{left:?}\n{known:?}")
    });
}

#[test]
fn a_state_no_run_has_written_is_no_state_yet_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.sqlite");
    assert!(matches!(Store::open_read_only(&Location::File(file.clone())), Ok(None)));
    assert!(!file.exists(), "nothing created by looking");
    std::fs::File::create(&file).unwrap();
    assert!(
        matches!(Store::open_read_only(&Location::File(file.clone())), Ok(None)),
        "an empty file is no state either"
    );
    let empty = pg_location();
    assert!(matches!(Store::open_read_only(&empty), Ok(None)));
    for location in [Location::File(file), empty] {
        drop(Store::open(&location).unwrap());
        let reader = Store::open_read_only(&location).unwrap();
        assert!(reader.is_some(), "{location}: the tables make a state, before any run");
        assert!(reader.unwrap().recent_runs(&source(), 1).unwrap().is_empty());
    }
}

// PostgreSQL only.

#[test]
fn a_database_that_is_not_ours_is_refused_and_left_alone() {
    let url = pg::database();
    pg::execute(
        &url,
        "CREATE TABLE notes (x text); INSERT INTO notes VALUES ('keep me')",
    );
    let location = pg::location(&url);
    let err = Store::open(&location).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
    assert!(err.to_string().contains("is not a feedwright state database"), "{err}");
    assert!(matches!(
        Store::open_read_only(&location),
        Err(StoreError::Foreign { .. })
    ));
    assert_eq!(
        pg::scalar(
            &url,
            "SELECT string_agg(table_name::text, ',') FROM information_schema.tables WHERE table_schema = 'public'"
        ),
        "notes",
        "nothing was created"
    );
    // Someone else's `schema_version` is not our marker.
    let other = pg::database();
    pg::execute(&other, "CREATE TABLE schema_version (version int)");
    let other = Location::parse(&other, Path::new("/")).unwrap();
    assert!(matches!(Store::open(&other), Err(StoreError::Foreign { .. })));
}

#[test]
fn a_newer_schema_is_refused_and_an_older_one_is_migrated_keeping_its_items() {
    let url = pg::database();
    let location = pg::location(&url);
    {
        let mut store = Store::open(&location).unwrap();
        commit(&mut store, &changes(vec![item(16, "x")]), "2026-01-01T00:00:00Z");
    }
    drop(Store::open(&location).unwrap());
    // Back to version 5: the columns, tables and indexes of 6 to 12 removed.
    pg::execute(
        &url,
        "ALTER TABLE items DROP COLUMN edited, DROP COLUMN categories, DROP COLUMN image_length,
            DROP COLUMN image_type;
         DROP TABLE pages, rules, changes, claims, feeds; DROP INDEX items_known, items_seen;
         UPDATE schema_version SET version = 5",
    );
    assert!(matches!(
        Store::open_read_only(&location),
        Err(StoreError::Outdated { .. })
    ));
    let mut store = Store::open(&location).unwrap();
    assert_eq!(store.feed_items(&source(), 10).unwrap()[0].title, "Story 16");
    assert_eq!(
        store.saved_size(&source()).unwrap(),
        (0, 0, 0),
        "the pages table exists again"
    );
    commit(&mut store, &changes(vec![item(16, "edited")]), "2026-01-02T00:00:00Z");
    assert_eq!(
        store.entries(&source(), 1).unwrap()[0].edited,
        Some(t("2026-01-02T00:00:00Z"))
    );
    drop(store);
    assert!(Store::open_read_only(&location).unwrap().is_some());

    pg::execute(&url, "UPDATE schema_version SET version = 99");
    let err = Store::open(&location).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err:?}");
    assert!(matches!(
        Store::open_read_only(&location),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn a_read_only_store_reads_and_never_creates_migrates_or_writes() {
    let empty = pg::location(&pg::database());
    assert!(
        matches!(Store::open_read_only(&empty), Ok(None)),
        "an empty database has no state yet"
    );
    assert!(Store::open(&empty).is_ok(), "and nothing was created by looking");

    let location = pg_location();
    commit(
        &mut Store::open(&location).unwrap(),
        &changes(vec![item(16, "x")]),
        "2026-01-01T00:00:00Z",
    );
    let mut reader = Store::open_read_only(&location).unwrap().unwrap();
    assert_eq!(reader.feed_items(&source(), 10).unwrap().len(), 1);
    let mut run = record();
    let err = reader
        .commit(&changes(vec![item(17, "y")]), &mut run, t("2026-01-02T00:00:00Z"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Sql { .. }), "{err:?}");
    assert!(
        reader
            .save_robots(&[("https://e.org".into(), None)], t("2026-01-02T00:00:00Z"))
            .is_err()
    );
    assert_eq!(
        reader.feed_items(&source(), 10).unwrap().len(),
        1,
        "and the reader still reads"
    );
}

#[test]
fn a_commit_is_all_or_nothing() {
    let url = pg::database();
    let mut store = pg::store(&url);
    commit(&mut store, &changes(vec![item(15, "a")]), "2026-01-01T00:00:00Z");
    // The last write of a commit fails: a trigger refuses run records.
    pg::execute(
        &url,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION refuse();",
    );
    let mut run = record();
    let err = store
        .commit(
            &changes(vec![item(16, "b"), item(15, "edited")]),
            &mut run,
            t("2026-01-02T00:00:00Z"),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Sql { .. }), "{err:?}");
    let items = store.feed_items(&source(), 10).unwrap();
    assert_eq!(items.len(), 1, "the new item went with the failed run record");
    assert_eq!(items[0].content_html, "<p>a</p>", "and so did the edit");
}

#[test]
fn text_with_nul_from_a_site_is_stored_not_a_failed_run() {
    let mut store = Store::open(&pg_location()).unwrap();
    let mut hostile = item(16, "a\0b");
    hostile.title = "Story\0 16".into();
    commit(&mut store, &changes(vec![hostile]), "2026-01-01T00:00:00Z");
    store
        .save_robots(
            &[("https://e.org".into(), Some("User-agent: *\0".into()))],
            t("2026-01-01T00:00:00Z"),
        )
        .unwrap();
    let items = store.feed_items(&source(), 1).unwrap();
    assert_eq!(items[0].title, "Story\u{FFFD} 16");
    assert_eq!(items[0].summary, "a\u{FFFD}b");
}

#[test]
fn errors_name_the_database_without_its_password() {
    let server = pg::server();
    let url = server
        .url("no_such_database")
        .replacen("feedwright@", "feedwright:hunter2@", 1);
    let location = pg::location(&url);
    assert!(!format!("{location} {location:?}").contains("hunter2"));
    let err = Store::open(&location).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let mut chain = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(
        chain.contains("feedwright:***@") && chain.contains("no_such_database"),
        "{chain}"
    );
    assert!(!chain.contains("hunter2"), "{chain}");
}

#[tokio::test]
async fn a_postgres_state_has_no_whole_state_writer_lock() {
    // Workers sharing it claim sources instead (tests/claims.rs, tests/workers.rs).
    let location = pg_location();
    let first = StateLock::acquire(&location, Duration::from_secs(1)).await.unwrap();
    let second = StateLock::acquire(&location, Duration::from_millis(300)).await;
    assert!(second.is_ok(), "{second:?}");
    drop(first);
}

// The real binary on a `postgres://` state.

fn run(setup: &common::Setup, args: &[&str]) -> (i32, String, String) {
    let out = setup.cmd(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn run_on_a_postgres_state_publishes_what_sqlite_does_and_then_asks_only_conditionally() {
    const ZH: &str = "wic-news-zh";
    let site = common::zh_site_with_etags().await;
    let on_sqlite = common::Setup::new("http://127.0.0.1:9", &site.uri(), "");
    let on_postgres = common::Setup::new("http://127.0.0.1:9", &site.uri(), "");
    let url = pg::database();
    use_state(&on_postgres, &url);

    let (code, _, err) = run(&on_sqlite, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&on_postgres, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(ZH), "{out}");
    assert!(
        !on_postgres.dir.path().join("state").exists(),
        "no state file, no lock file"
    );
    for format in ["atom", "rss", "json"] {
        let name = format!("{ZH}.{format}");
        let (a, b) = (on_sqlite.read(&name), on_postgres.read(&name));
        assert!(a.len() > 1000, "{name} has items");
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "{name} is the same on both"
        );
    }

    // Warm: the listing answers 304, so nothing else is asked; every request carries a validator.
    let before = site.received_requests().await.unwrap().len();
    let (code, _, err) = run(&on_postgres, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    let warm: Vec<_> = site.received_requests().await.unwrap()[before..]
        .iter()
        .filter(|r| r.url.path() != "/robots.txt")
        .cloned()
        .collect();
    assert!(!warm.is_empty());
    assert!(
        warm.iter().all(|r| r.headers.contains_key("if-none-match")),
        "only conditional requests: {:?}",
        warm.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );

    let (code, out, err) = run(&on_postgres, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let states: serde_json::Value = serde_json::from_str(&out).unwrap();
    let zh = states.as_array().unwrap().iter().find(|s| s["source"] == ZH).unwrap();
    assert_eq!(zh["health"], "ok", "{zh}");

    // FEEDWRIGHT_STATE takes the place of the file's `state`.
    let (code, out, err) = run_with_state(&on_sqlite, &url, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), states);
}

/// Points `setup`'s config at the state `url`.
fn use_state(setup: &common::Setup, url: &str) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    assert!(text.contains("state = \"state/feedwright.sqlite\""));
    let text = text.replace("state = \"state/feedwright.sqlite\"", &format!("state = \"{url}\""));
    std::fs::write(setup.config(), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_another_machine_answers_from_postgres_with_the_same_bytes_and_tags() {
    const ZH: &str = "wic-news-zh";
    let site = common::zh_site_with_etags().await;
    let url = pg::database();
    // Two machines: the worker's output folder, and one that never ran anything (its own, empty, folder).
    let worker = common::Setup::new("http://127.0.0.1:9", &site.uri(), "");
    let elsewhere = common::Setup::new("http://127.0.0.1:9", &site.uri(), "");
    use_state(&worker, &url);
    use_state(&elsewhere, &url);
    let (code, _, err) = run(&worker, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    assert!(!elsewhere.feed(&format!("{ZH}.atom")).exists());

    let (_a, a) = common::serve(&worker).await;
    let (_b, b) = common::serve(&elsewhere).await;
    let client = reqwest::Client::new();
    let get = |base: &str, name: &str, headers: &[(&str, &str)]| {
        let mut request = client.get(format!("{base}/{name}"));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    let header = |r: &reqwest::Response, name: &str| r.headers()[name].to_str().unwrap().to_owned();
    for format in ["atom", "rss", "json"] {
        let name = format!("{ZH}.{format}");
        let (here, there) = (get(&a, &name, &[]).await.unwrap(), get(&b, &name, &[]).await.unwrap());
        assert_eq!((here.status().as_u16(), there.status().as_u16()), (200, 200), "{name}");
        let (etag, modified) = (header(&here, "etag"), header(&here, "last-modified"));
        assert_eq!(header(&there, "etag"), etag, "{name}: the same ETag on both machines");
        assert_eq!(header(&there, "last-modified"), modified, "{name}");
        let (here, there) = (here.bytes().await.unwrap(), there.bytes().await.unwrap());
        assert_eq!(here, there, "{name}");
        assert_eq!(&here[..], &worker.read(&name)[..], "{name}: what the worker published");
        // A reader behind a load balancer keeps its validators from one instance and asks the other.
        let again = get(&b, &name, &[("if-none-match", &etag)]).await.unwrap();
        assert_eq!(again.status().as_u16(), 304, "{name}");
        let again = get(&b, &name, &[("if-modified-since", &modified)]).await.unwrap();
        assert_eq!(again.status().as_u16(), 304, "{name}");
    }
    // The worker's folder lost: its serve answers from the database all the same.
    std::fs::remove_dir_all(worker.dir.path().join("feeds")).unwrap();
    let name = format!("{ZH}.atom");
    let lost = get(&a, &name, &[]).await.unwrap();
    assert_eq!(lost.status().as_u16(), 200);
    assert_eq!(
        &lost.bytes().await.unwrap()[..],
        &get(&b, &name, &[]).await.unwrap().bytes().await.unwrap()[..]
    );
    let never_run = get(&b, "wic-news.atom", &[]).await.unwrap();
    assert_eq!(never_run.status().as_u16(), 404, "a feed nobody published");
}

fn run_with_state(setup: &common::Setup, state: &str, args: &[&str]) -> (i32, String, String) {
    let out = setup.cmd(args).env("FEEDWRIGHT_STATE", state).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_connection_the_server_closed_is_replaced_on_the_next_call() {
    let url = pg::database();
    let mut store = pg::store(&url);
    commit(&mut store, &changes(vec![item(16, "x")]), "2026-01-01T00:00:00Z");
    pg::terminate_sessions(&url);
    // The call that finds the connection gone fails; the next one connects again.
    let first = store.feed_items(&source(), 10);
    if let Err(e) = &first {
        assert!(matches!(e, StoreError::Sql { .. }), "{e:?}");
    }
    assert_eq!(store.feed_items(&source(), 10).unwrap().len(), 1);
    commit(&mut store, &changes(vec![item(17, "y")]), "2026-01-02T00:00:00Z");
    assert_eq!(store.feed_items(&source(), 10).unwrap().len(), 2);
}

/// `feedwright serve` on a free loopback port, answering; killed when dropped.
struct Serving(std::process::Child, String);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(setup: &common::Setup, state: &str) -> Serving {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("feedwright"))
        .arg("--config")
        .arg(setup.config())
        .args(["--quiet", "serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("FEEDWRIGHT_STATE", state)
        .env_remove("FEEDWRIGHT_LOG")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let serving = Serving(child, format!("http://127.0.0.1:{port}"));
    let start = std::time::Instant::now();
    while reqwest::get(format!("{}/healthz", serving.1)).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "serve never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serving
}

#[tokio::test(flavor = "multi_thread")]
async fn status_serve_and_snapshot_say_no_state_yet_before_the_first_run_on_both_backends() {
    let setup = common::Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "");
    let file = setup.state();
    for state in [file.to_str().unwrap().to_owned(), pg::database()] {
        let (code, out, err) = run_with_state(&setup, &state, &["status"]);
        assert_eq!(code, 0, "{state}: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("yet: run `feedwright run` first"), "{state}: {err}");
        assert!(!err.contains("older feedwright"), "{err}");

        let (code, _, err) = run_with_state(&setup, &state, &["snapshot", "wic-news"]);
        assert_ne!(code, 0);
        assert!(!err.contains("older feedwright"), "{state}: {err}");

        let serving = serve(&setup, &state).await;
        let healthz = reqwest::get(format!("{}/healthz", serving.1)).await.unwrap();
        assert_eq!(healthz.status().as_u16(), 200, "{state}");
        let json: serde_json::Value = serde_json::from_str(&healthz.text().await.unwrap()).unwrap();
        let health: Vec<&str> = json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["health"].as_str().unwrap())
            .collect();
        assert!(
            !health.is_empty() && health.iter().all(|h| *h == "never-run"),
            "{state}: {json}"
        );
        let page = reqwest::get(format!("{}/", serving.1)).await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        assert!(
            page.text().await.unwrap().contains("class=\"source never-run\""),
            "{state}"
        );
    }
    assert!(!file.exists(), "nothing was created by looking");
}
