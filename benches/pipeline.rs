//! Benchmarks of the pipeline on the bundled demo sites (two sources, 19 articles, one of them 2 MB), in-process
//! over real loopback HTTP with a real SQLite file:
//! - a cold run (empty state) and a second, unchanged run: wall time and HTTP requests;
//! - extract + normalize of one ordinary and one 2 MB article page;
//! - the state database's size per 1,000 stored items.
//!
//! Run with `cargo bench --bench pipeline`; numbers go to `docs/benchmarks.md`. Not a test: nothing here asserts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use feedwright::fetch::{Fetcher, Options};
use feedwright::model::{DateSource, Item, ItemId, ListedLink, SourceId};
use feedwright::pipeline::{self, Context};
use feedwright::store::{Changes, Outcome, RunRecord, Store};
use feedwright::{demo, extract, normalize};
use url::Url;

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
        let store = Store::open(&dir.path().join("state.sqlite")).unwrap();
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
            }
        })
        .collect();
    {
        let mut store = Store::open(&path).unwrap();
        let changes = Changes {
            links: items.iter().map(|i| (i.url.clone(), i.id.clone())).collect(),
            items,
            ..Changes::default()
        };
        let mut run = RunRecord {
            source,
            started: now(),
            duration: Duration::ZERO,
            outcome: Outcome::Ok,
            reason: None,
            links: 1000,
            new: 0,
            updated: 0,
            failed: 0,
            fetched: 1000,
            with_date: 1000,
            with_body: 1000,
            requests: 1001,
            listing: Vec::new(),
            errors: Vec::new(),
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

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runs());
    extraction();
    store_size();
}
