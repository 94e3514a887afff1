//! Benchmarks of the pipeline on the bundled demo sites (two sources, 19 articles, one of them 2 MB), in-process
//! over real loopback HTTP with a real SQLite file:
//! - a cold run (empty state) and a second, unchanged run: wall time and HTTP requests;
//! - extract + normalize of one ordinary and one 2 MB article page;
//! - the state database's size per 1,000 stored items;
//! - the store's part of a warm pass and of a 20-new-item run, at 10,000 stored items (date-only, 50 a day), on a
//!   SQLite file and on PostgreSQL (a server this bench starts, as the tests do: `tests/common/pg.rs`).
//!
//! Run with `cargo bench --bench pipeline`; numbers go to `docs/benchmarks.md`. Not a test: nothing here asserts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use feedwright::fetch::{Fetcher, Options};
use feedwright::model::{DateSource, Item, ItemId, ListedLink, SourceId};
use feedwright::pipeline::{self, Context};
use feedwright::store::{Changes, Location, RunRecord, Store};
use feedwright::{demo, extract, normalize};
use url::Url;

#[path = "../tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

const ROUNDS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

async fn runs() {
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    let (mut cold_requests, mut warm_requests) = (0, 0);
    for _ in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let config = demo::start(&dir.path().join("feeds")).await.unwrap();
        let s = &config.settings;
        let fetcher = Fetcher::new(Options::new(s.user_agent.clone(), s.timeout, s.max_body), Utc::now).unwrap();
        let store = Store::open(&Location::File(dir.path().join("state.sqlite"))).unwrap();
        let ctx = Context {
            fetcher,
            store: Arc::new(Mutex::new(store)),
        };
        for (times, requests) in [(&mut cold, &mut cold_requests), (&mut warm, &mut warm_requests)] {
            let start = Instant::now();
            let reports = futures_util::future::join_all(
                config
                    .sources
                    .iter()
                    .map(|src| pipeline::run(&ctx, &config, src, now())),
            )
            .await;
            times.push(start.elapsed());
            *requests = reports.into_iter().map(|r| r.unwrap().record.requests).sum();
        }
    }
    println!(
        "cold run (2 sources, empty state):   median {:>8.1?} over {ROUNDS}, {cold_requests} requests",
        median(cold)
    );
    println!(
        "second run, nothing changed:         median {:>8.1?} over {ROUNDS}, {warm_requests} requests",
        median(warm)
    );
}

fn extraction() {
    let config = feedwright::config::parse(demo::CONFIG, std::path::Path::new(demo::CONFIG_PATH)).unwrap();
    let source = &config.sources[0];
    for (name, path) in [
        ("ordinary article", "2015-12/16/c_47822.htm"),
        ("2 MB live blog", "2015-12/14/c_47762.htm"),
    ] {
        let html = demo::WIC_EN.get_file(path).unwrap().contents_utf8().unwrap();
        let url = Url::parse(&format!("http://127.0.0.1/{path}")).unwrap();
        let listed = ListedLink {
            url: url.clone(),
            title: None,
            date_text: None,
            feed: None,
        };
        let rounds = if html.len() > 1_000_000 { 5 } else { 200 };
        let mut times = Vec::new();
        for _ in 0..rounds {
            let start = Instant::now();
            let raw = extract::article::parse(html, &url, &source.article, None).article;
            let item = normalize::item(&raw, &listed, &source.normalize, now()).unwrap();
            times.push(start.elapsed());
            std::hint::black_box(item);
        }
        println!(
            "extract + normalize, {name} ({} KB): median {:>8.2?}",
            html.len() / 1024,
            median(times)
        );
    }
}

fn store_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let source = SourceId::parse("bench").unwrap();
    let body = "<p>".to_owned() + &"Cyberspace is the common space of mankind. ".repeat(60) + "</p>"; // ~2.6 KB, a typical story
    let items: Vec<Item> = (0..1000)
        .map(|n| {
            let url = Url::parse(&format!("https://www.example.org/2015-12/16/c_{n}.htm")).unwrap();
            let published = now().fixed_offset() - chrono::Duration::minutes(n);
            Item {
                id: ItemId::from_canonical(&url),
                url,
                title: format!("Story number {n} about the World Internet Conference"),
                published,
                date_source: DateSource::Page,
                updated: published,
                author: Some("xinhuanet.com".into()),
                summary: body[3..283].to_owned(),
                content_html: body.clone(),
                image: None,
                image_caption: None,
                image_length: None,
                image_type: None,
                categories: Vec::new(),
            }
        })
        .collect();
    {
        let mut store = Store::open(&Location::File(path.clone())).unwrap();
        let changes = Changes {
            links: items.iter().map(|i| (i.url.clone(), i.id.clone())).collect(),
            items,
            ..Changes::default()
        };
        let mut run = RunRecord {
            links: 1000,
            fetched: 1000,
            with_date: 1000,
            with_body: 1000,
            requests: 1001,
            ..RunRecord::new(source, now())
        };
        let start = Instant::now();
        store.commit(&changes, &mut run, now()).unwrap();
        println!("commit of 1,000 new items in one transaction: {:.1?}", start.elapsed());
    } // closing the store checkpoints the WAL into the main file
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "state database with 1,000 items (~2.6 KB body each): {:.2} MB",
        bytes as f64 / 1e6
    );
}

/// `n` stored items of source `bench`, 50 a day at midnight (a site that prints dates only), newest first.
fn history_item(n: i64, body: &str) -> Item {
    let url = Url::parse(&format!("https://www.example.org/news/c_{n}.htm")).unwrap();
    let day = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap();
    let published = day - chrono::Duration::days(n / 50);
    Item {
        id: ItemId::from_canonical(&url),
        url,
        title: format!("Story number {n}"),
        published,
        date_source: DateSource::Page,
        updated: published,
        author: Some("xinhuanet.com".into()),
        summary: body[3..283].to_owned(),
        content_html: body.to_owned(),
        image: None,
        image_caption: None,
        image_length: None,
        image_type: None,
        categories: Vec::new(),
    }
}

fn bench_run(links: usize) -> RunRecord {
    RunRecord {
        links,
        requests: 1,
        ..RunRecord::new(SourceId::parse("bench").unwrap(), now())
    }
}

/// The store's side of a run at 10,000 stored items: the load before a warm pass (known links, failed links,
/// robots.txt), its commit (20 listed items seen, one listing validator) and the feed read; then a run that brings
/// 20 new items dated on a day that already has 50.
fn history(backend: &str, state: Location) {
    const STORED: i64 = 10_000;
    let source = SourceId::parse("bench").unwrap();
    let body = "<p>".to_owned() + &"Cyberspace is the common space of mankind. ".repeat(60) + "</p>";
    let mut filling = Vec::new();
    {
        let mut store = Store::open(&state).unwrap();
        for chunk in (0..STORED).collect::<Vec<_>>().chunks(1000) {
            let items: Vec<Item> = chunk
                .iter()
                .map(|&n| history_item(n + 20 * ROUNDS as i64, &body))
                .collect();
            let changes = Changes {
                links: items.iter().map(|i| (i.url.clone(), i.id.clone())).collect(),
                items,
                ..Changes::default()
            };
            let start = Instant::now();
            store.commit(&changes, &mut bench_run(1000), now()).unwrap();
            filling.push(start.elapsed());
        }
    }
    let mut store = Store::open(&state).unwrap();
    let listing = Url::parse("https://www.example.org/news/").unwrap();
    let (mut loads, mut warm, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let start = Instant::now();
        let feedwright::store::RunState {
            known, failed, robots, ..
        } = store.load(&source, Some(now() - chrono::Duration::days(1))).unwrap();
        loads.push(start.elapsed());
        assert!(known.len() >= STORED as usize && failed.is_empty() && robots.is_empty());
        let seen: Vec<ItemId> = (0..20)
            .map(|n| history_item(n + 20 * ROUNDS as i64, &body).id)
            .collect();
        let changes = Changes {
            seen,
            validators: vec![(listing.clone(), feedwright::model::Validators::default())],
            ..Changes::default()
        };
        store.commit(&changes, &mut bench_run(20), now()).unwrap();
        std::hint::black_box(store.feed_items(&source, 50).unwrap());
        warm.push(start.elapsed());

        // 20 new items on the newest stored day: each needs a free `updated` second past the 50 already there.
        let items: Vec<Item> = (0..20)
            .map(|n| {
                let mut item = history_item(20 * round as i64 + n, &body);
                item.published = history_item(20 * ROUNDS as i64, &body).published;
                item.updated = item.published;
                item
            })
            .collect();
        let changes = Changes {
            links: items.iter().map(|i| (i.url.clone(), i.id.clone())).collect(),
            items,
            ..Changes::default()
        };
        let start = Instant::now();
        store.commit(&changes, &mut bench_run(20), now()).unwrap();
        fresh.push(start.elapsed());
    }
    println!("{backend}:");
    println!(
        "  commit of 1,000 new items while filling:  median {:>8.2?} over 10",
        median(filling)
    );
    println!(
        "  load for a run at 10,000 stored items:    median {:>8.2?} over {ROUNDS}",
        median(loads)
    );
    println!(
        "  warm pass's store work at 10,000 items:   median {:>8.2?} over {ROUNDS} (load, commit of 20 seen, feed read)",
        median(warm)
    );
    println!(
        "  commit of 20 new same-day items at 10,000: median {:>8.2?} over {ROUNDS}",
        median(fresh)
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runs());
    extraction();
    store_size();
    let dir = tempfile::tempdir().unwrap();
    history("SQLite", Location::File(dir.path().join("state.sqlite")));
    let url = pg::database();
    history("PostgreSQL", pg::location(&url));
}
