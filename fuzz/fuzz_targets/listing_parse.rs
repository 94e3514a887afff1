//! `extract::list::parse` with the demo sources' rules: any page gives a listing whose links are absolute http(s).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use feedwright::config::Config;
use feedwright::{demo, extract};
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
    let base = Url::parse("http://127.0.0.1/news/node_35363.htm").unwrap();
    let listing = extract::list::parse(&html, &base, &source.listing);
    for link in &listing.links {
        assert!(matches!(link.url.scheme(), "http" | "https"), "{}", link.url);
    }
});
