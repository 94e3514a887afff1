//! `extract::article::parse` then `normalize::item`: any page gives an item or an error, and an item's body has no
//! script, style or frame left and no character XML forbids.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use feedwright::config::Config;
use feedwright::model::ListedLink;
use feedwright::{demo, extract, normalize};
use libfuzzer_sys::fuzz_target;
use url::Url;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| feedwright::config::parse(demo::CONFIG, Path::new(demo::CONFIG_PATH)).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let sources = &config().sources;
    let source = &sources[pick as usize % sources.len()];
    let html = String::from_utf8_lossy(bytes);
    let url = Url::parse("http://127.0.0.1/2015-12/16/c_47822.htm").unwrap();
    let raw = extract::article::parse(&html, &url, &source.article);
    let listed = ListedLink {
        url: url.clone(),
        title: Some("listed".to_owned()),
        date_text: None,
    };
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    if let Ok(item) = normalize::item(&raw, &listed, &source.normalize, now) {
        let body = item.content_html.to_ascii_lowercase();
        for tag in ["<script", "<style", "<iframe", "<object", "<svg", "<math", "<form"] {
            assert!(!body.contains(tag), "{tag} in {body:?}");
        }
        assert!(
            !item.content_html.chars().any(|c| (c < ' ' && !"\t\n\r".contains(c)) || c == '\u{fffe}' || c == '\u{ffff}'),
            "{:?}",
            item.content_html
        );
        assert!(matches!(item.url.scheme(), "http" | "https"));
        let _ = item.published.to_rfc2822();
    }
});
