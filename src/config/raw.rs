//! The serde mirror of `feedwright.toml`: every field as written, with its position for error messages.
//!
//! Nothing here is checked beyond TOML types and unknown keys (rejected); `validate` turns this into typed config.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub settings: RawSettings,
    #[serde(default, rename = "source")]
    pub sources: Vec<Spanned<RawSource>>,
    #[serde(default)]
    pub notify: Vec<Spanned<RawNotify>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// POST each event as JSON to this URL.
    pub webhook: Option<Spanned<String>>,
    /// Run this program (argv) with each event as JSON on stdin.
    pub command: Option<Spanned<Vec<String>>>,
    /// Which events: `new_items`, `broken`, `recovered` (default: all).
    pub events: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub output_dir: Option<String>,
    pub state: Option<String>,
    pub feed_base_url: Option<Spanned<String>>,
    pub user_agent: Option<String>,
    pub timeout: Option<Spanned<String>>,
    pub max_body: Option<Spanned<String>>,
    pub max_items: Option<Spanned<usize>>,
    /// The longest item body, as a size of sanitized HTML ("256KiB"); a longer one is cut.
    pub max_content: Option<Spanned<String>>,
    pub formats: Option<Spanned<Vec<String>>>,
    pub concurrency: Option<Spanned<usize>>,
    pub lock_timeout: Option<Spanned<String>>,
    /// `watch`: how often each source runs, unless it says otherwise (`every` or `cron`, not both).
    pub every: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    /// `watch`: sources running at once, and the longest wait between runs of a failing source.
    pub max_running: Option<Spanned<usize>>,
    pub backoff_max: Option<Spanned<String>>,
    /// WebSub hub that feeds name and that is pinged when a feed changes.
    pub hub: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub max_redirects: Option<usize>,
    pub retries: Option<u32>,
    pub retry_base: Option<Spanned<String>>,
    pub respect_robots: Option<bool>,
    pub min_gap: Option<Spanned<String>>,
    pub budget: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub id: Spanned<String>,
    pub title: String,
    pub description: Option<String>,
    pub author: Option<String>,
    pub url: Option<Spanned<String>>,
    pub urls: Option<Spanned<Vec<String>>>,
    pub language: Option<String>,
    pub timezone: Option<Spanned<String>>,
    pub max_items: Option<Spanned<usize>>,
    pub max_content: Option<Spanned<String>>,
    /// Ids of sources that publish the same feed in another language (`hreflang` alternates).
    #[serde(default)]
    pub alternates: Vec<Spanned<String>>,
    pub listing: Spanned<RawListing>,
    pub article: Spanned<RawArticle>,
    #[serde(default)]
    pub refresh: RawRefresh,
    /// `watch`: this source's own schedule, instead of the one in `[settings]`.
    pub every: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    #[serde(default)]
    pub http: RawHttp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListing {
    pub item: Option<Spanned<String>>,
    pub links: Spanned<String>,
    pub date: Option<Spanned<String>>,
    pub next: Option<Spanned<String>>,
    pub max_pages: Option<Spanned<usize>>,
    /// A URL template with `{page}` for pages 2..=max_pages, instead of following `next`.
    pub pages: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArticle {
    pub title: Spanned<String>,
    pub date: Option<Spanned<String>>,
    #[serde(default)]
    pub date_formats: Vec<String>,
    pub author: Option<Spanned<String>>,
    pub content: Spanned<String>,
    pub image: Option<Spanned<String>>,
    pub caption: Option<Spanned<String>>,
    #[serde(default)]
    pub remove: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefresh {
    /// How many of the known articles still on a changed listing are re-checked (newest first).
    pub newest: Option<usize>,
    /// Also re-check known articles this often, even when the listing did not change.
    pub every: Option<Spanned<String>>,
}

/// `[source.http]`: how this source's requests are made; unset keys take the `[settings]` value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub concurrency: Option<Spanned<usize>>,
    pub min_gap: Option<Spanned<String>>,
    pub respect_robots: Option<bool>,
    pub budget: Option<Spanned<String>>,
    pub proxy: Option<Spanned<String>>,
    pub headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    pub cookies: Option<Spanned<String>>,
}
