//! Whole feeds, pinned: the Chinese edition of the bundled site, through the real pipeline with a fixed clock,
//! rendered in all three formats and compared with reviewed snapshots (`cargo insta review` after a deliberate
//! change). The local port is the only thing that varies between runs, so it is masked.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use feedwright::fetch::{Fetcher, Options};
use feedwright::pipeline::{self, Context};
use feedwright::store::Store;

#[tokio::test(flavor = "multi_thread")]
async fn chinese_edition_feeds_are_byte_stable() {
    let dir = tempfile::tempdir().unwrap();
    let config = feedwright::demo::start(&dir.path().join("feeds")).await.unwrap();
    let source = config.source("wic-news-zh").unwrap();
    let port = source.urls[0].port().unwrap();
    let s = &config.settings;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    let fetcher = Fetcher::new(Options::new(s.user_agent.clone(), s.timeout, s.max_body), Utc::now).unwrap();
    let ctx = Context {
        fetcher,
        store: Arc::new(Mutex::new(Store::in_memory().unwrap())),
    };

    pipeline::run(&ctx, &config, source, now).await.unwrap();
    let read = |ext: &str| std::fs::read_to_string(dir.path().join(format!("feeds/wic-news-zh.{ext}"))).unwrap();
    let first: Vec<String> = ["atom", "rss", "json"].iter().map(|e| read(e)).collect();

    // A second run an hour later changes nothing, so not a byte moves (first-seen dates are stored once).
    let report = pipeline::run(&ctx, &config, source, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert!(report.written.is_empty(), "{:?}", report.written);
    let second: Vec<String> = ["atom", "rss", "json"].iter().map(|e| read(e)).collect();
    assert_eq!(first, second);

    for (ext, text) in ["atom", "rss", "json"].iter().zip(&first) {
        let masked = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT");
        insta::assert_snapshot!(format!("wic-news-zh.{ext}"), masked);
    }
}
