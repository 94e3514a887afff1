//! Configuration: `raw` mirrors the TOML file, `validate` turns it into typed values.
//!
//! Loading collects every problem at once, each with file, line and source id, so a user fixes a broken config in
//! one round: unknown keys and type errors (found by `raw`) as well as invalid values (found by `validate`). Nothing after this module sees an unparsed URL, selector, duration or time zone. Relative paths in
//! the file are relative to the folder of the file.

mod paths;
mod raw;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use crate::extract::{ArticleRules, ListRules};
use crate::fetch;
use crate::model::SourceId;
use crate::normalize;
use crate::render::Format;
use crate::store::Location;

pub use paths::check_paths;
pub use validate::parse;

/// The environment variable that overrides `state` (see [`Config::load`]).
pub const STATE_ENV: &str = "FEEDWRIGHT_STATE";

/// Where `feedwright` looks for its config when `--config` is not given.
pub const DEFAULT_PATH: &str = "config/feedwright.toml";

/// Listing pages read at most in one run by default. Later pages are only read while a page still brings links not
/// seen before, so a routine run reads one; a first run reads a few, and a new source starts with more than ten items.
pub const DEFAULT_LISTING_PAGES: usize = 3;

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub settings: Settings,
    pub sources: Vec<Source>,
    /// `[[merge]]`: feeds of the stored items of several sources, published beside theirs.
    pub merges: Vec<Merge>,
    pub notify: Vec<Notify>,
}

/// A merged feed: the newest items of several sources in one more feed, with files, a route and a health of its
/// own. Its id shares the sources' namespace (the files lie side by side), so no source has it.
#[derive(Debug, Clone)]
pub struct Merge {
    pub id: SourceId,
    pub title: String,
    pub description: String,
    /// Named as the feed's author: the sources' own when they all agree, else the merge's title.
    pub author: String,
    /// The sources merged, in config order, each once.
    pub sources: Vec<SourceId>,
    pub max_items: usize,
    /// Given, or the sources' own when they all agree.
    pub language: Option<String>,
    /// The site page the feed links to: the first source's.
    pub home_page: Url,
}

/// One feed that is published: a source's or a merge's. Whatever is the same for both (file names, routes,
/// OPML outlines) is written once over this.
#[derive(Debug, Clone, Copy)]
pub enum Publication<'a> {
    Source(&'a Source),
    Merge(&'a Merge),
}

impl<'a> Publication<'a> {
    pub fn id(&self) -> &'a SourceId {
        match self {
            Publication::Source(s) => &s.id,
            Publication::Merge(m) => &m.id,
        }
    }

    pub fn title(&self) -> &'a str {
        match self {
            Publication::Source(s) => &s.title,
            Publication::Merge(m) => &m.title,
        }
    }

    pub fn description(&self) -> &'a str {
        match self {
            Publication::Source(s) => &s.description,
            Publication::Merge(m) => &m.description,
        }
    }

    pub fn home_page(&self) -> &'a Url {
        match self {
            Publication::Source(s) => &s.urls[0],
            Publication::Merge(m) => &m.home_page,
        }
    }

    pub fn language(&self) -> Option<&'a str> {
        match self {
            Publication::Source(s) => s.language.as_deref(),
            Publication::Merge(m) => m.language.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub output_dir: PathBuf,
    /// The state: a SQLite file (the default) or a PostgreSQL database (`postgres://…`); `FEEDWRIGHT_STATE`
    /// overrides the file's `state` ([`Config::load`]).
    pub state: Location,
    /// Where `output_dir` is published; feeds name their own URL (self links, ids) under it.
    pub feed_base_url: Url,
    pub user_agent: String,
    pub timeout: Duration,
    pub max_body: u64,
    pub max_items: usize,
    /// The longest item body in bytes of sanitized HTML (a source's `max_content` overrides it).
    pub max_content: usize,
    pub formats: Vec<Format>,
    /// Requests in flight at once per host (a source's `[source.http] concurrency` overrides it).
    pub concurrency: usize,
    /// How long a run waits for another run holding the state lock.
    pub lock_timeout: Duration,
    /// A shared (PostgreSQL) state: how long a worker's claim on a source lasts without renewal (renewed every
    /// third of it while the run goes on), so a killed worker's sources go to another within this.
    pub lease: Duration,
    /// `watch`: the schedule of sources that name none.
    pub schedule: Schedule,
    /// `run` and `watch`: sources running at once.
    pub max_running: usize,
    /// `watch`: the longest a failing source waits between runs (never shorter than its own schedule).
    pub backoff_max: Duration,
    /// WebSub hub named in the feeds and pinged after a feed changes.
    pub hub: Option<Url>,
    pub connect_timeout: Duration,
    pub max_redirects: usize,
    /// Retries of a request that failed in a way worth repeating (see `fetch::retry`).
    pub retries: u32,
    /// The first retry's wait; each further one doubles it (plus jitter).
    pub retry_base: Duration,
    /// Defaults for `[source.http]`.
    pub respect_robots: bool,
    /// Whether links to loopback and private addresses are fetched for sources whose own URL is not on one.
    pub allow_private: bool,
    pub min_gap: Duration,
    pub budget: Duration,
    /// How long stored items are kept after they were last listed, beyond the feed window; `None`: forever.
    pub retain: Option<Duration>,
    /// Where the paths were given in the file, for problems found on disk ([`check_paths`]).
    pub lines: PathLines,
}

/// Every `[settings]` default, in one place: what a key left out of the file means. Paths are relative to the
/// config file's folder (`validate` joins them to it).
impl Default for Settings {
    fn default() -> Settings {
        let timeout = Duration::from_secs(20);
        Settings {
            output_dir: PathBuf::from("feeds"),
            state: Location::File(PathBuf::from("state/feedwright.sqlite")),
            feed_base_url: Url::parse("http://127.0.0.1:8080/").expect("a valid URL"),
            user_agent: concat!(
                "feedwright/",
                env!("CARGO_PKG_VERSION"),
                " (+",
                env!("CARGO_PKG_REPOSITORY"),
                ")"
            )
            .to_owned(),
            timeout,
            max_body: 8 * 1024 * 1024,
            max_items: 50,
            // An item body longer than this (in bytes of sanitized HTML) is cut and links to the article: a feed
            // entry is not a copy of the site, and one hostile or enormous page must not weigh on every feed file
            // and the database.
            max_content: 256 * 1024,
            formats: Format::ALL.to_vec(),
            concurrency: 4,
            lock_timeout: Duration::from_secs(60),
            lease: Duration::from_secs(60),
            schedule: Schedule::Every(Duration::from_secs(30 * 60)),
            // Enough to keep two cores busy while each source waits on its sites (a source spends most of its run
            // waiting), few enough that what runs at once (each source's articles until its commit, its
            // connections) stays small whatever the number of sources.
            max_running: 32,
            backoff_max: Duration::from_secs(6 * 60 * 60),
            hub: None,
            // The smaller of this and `timeout`.
            connect_timeout: Duration::from_secs(10).min(timeout),
            max_redirects: 10,
            retries: 2,
            retry_base: Duration::from_millis(500),
            respect_robots: true,
            allow_private: false,
            min_gap: Duration::ZERO,
            budget: Duration::from_secs(5 * 60),
            // Half a year after an item was last listed (the feed window is always kept): long enough that a link
            // still on a slow site's archive pages is not taken for new, short enough that history stays bounded
            // (about 5 KB an item).
            retain: Some(Duration::from_secs(180 * 24 * 60 * 60)),
            lines: PathLines {
                output_dir: 1,
                state: 1,
            },
        }
    }
}

/// The lines of `output_dir` and `state` in the config file (1 when defaulted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLines {
    pub output_dir: usize,
    pub state: usize,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub id: SourceId,
    pub title: String,
    pub description: String,
    pub author: String,
    /// Listing pages merged into this one feed, in order.
    pub urls: Vec<Url>,
    pub language: Option<String>,
    pub timezone: Tz,
    pub max_items: usize,
    /// `[settings] retain`, or this source's own.
    pub retain: Option<Duration>,
    pub alternates: Vec<SourceId>,
    pub listing: ListRules,
    pub max_pages: usize,
    pub article: ArticleRules,
    pub normalize: normalize::Rules,
    pub refresh: Refresh,
    /// When `watch` runs this source.
    pub schedule: Schedule,
    /// Listing pages 2..=max_pages, when the site numbers them instead of linking a next page.
    pub pages: Option<PageTemplate>,
    /// How this source's requests are made: robots.txt, per-host limits, proxy, headers and cookies.
    pub http: fetch::Profile,
    /// The longest a run may spend on this source; articles not read by then are skipped.
    pub budget: Duration,
    /// Set when the source reads a feed (`feed = URL`, then the one entry of `urls`) instead of listing pages.
    pub feed: Option<FeedOptions>,
    /// Which items are published, and how their titles are trimmed.
    pub filters: normalize::filter::Filters,
}

/// How a feed source reads its feed; the default is what a `[[source]]` with only `feed` gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedOptions {
    /// Fetch each item's page and extract the article from it, instead of publishing what the feed gives.
    pub full_text: bool,
}

impl Source {
    /// Whether items are built from the feed alone, without reading their pages.
    pub fn feed_only(&self) -> bool {
        self.feed.is_some_and(|f| !f.full_text)
    }
}

/// Where events go, and which ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub target: Target,
    /// Event kinds (`new_items`, `broken`, `recovered`) this target receives.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Webhook(Url),
    Command(Vec<String>),
}

impl Notify {
    /// Names the target in the outbox, so queued events survive a reordered config.
    pub fn key(&self) -> String {
        match &self.target {
            Target::Webhook(url) => format!("webhook {url}"),
            Target::Command(argv) => format!("command {}", argv.join(" ")),
        }
    }
}

/// A listing URL with `{page}` in it, e.g. `https://site/news/node_35363_{page}.htm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTemplate(String);

impl PageTemplate {
    /// Accepts a template that has `{page}` and makes an http(s) URL when a number is put in.
    pub fn parse(template: &str) -> Option<Self> {
        let url = Url::parse(&template.replace("{page}", "2")).ok()?;
        (template.contains("{page}") && matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .then(|| Self(template.to_owned()))
    }

    /// The URL of page `page`.
    pub fn url(&self, page: usize) -> Option<Url> {
        Url::parse(&self.0.replace("{page}", &page.to_string())).ok()
    }
}

impl Settings {
    /// The HTTP client options these settings describe.
    pub fn fetch_options(&self) -> fetch::Options {
        fetch::Options {
            connect_timeout: self.connect_timeout,
            max_redirects: self.max_redirects,
            retries: self.retries,
            retry_base: self.retry_base,
            ..fetch::Options::new(self.user_agent.clone(), self.timeout, self.max_body)
        }
    }

    /// The file a source's feed is written to in one format: `<output_dir>/<id>.<ext>`.
    pub fn feed_path(&self, id: &SourceId, format: Format) -> PathBuf {
        self.output_dir.join(format!("{id}.{}", format.ext()))
    }

    /// Where that file is published: `<feed_base_url>/<id>.<ext>`.
    pub fn feed_url(&self, id: &SourceId, format: Format) -> Url {
        self.feed_base_url
            .join(&format!("{id}.{}", format.ext()))
            .expect("a source id is a valid relative URL")
    }
}

/// Which known articles are fetched again (conditionally) to catch edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub newest: usize,
    pub every: Option<Duration>,
}

impl Refresh {
    /// Every `[source.refresh]` default, in one place, for a source whose feed window is `max_items`: the known
    /// articles still listed are re-checked only as far as the feed shows them (the newest `max_items`), so a run
    /// that finds one new article on a 2,000-link archive page costs a few dozen requests, not 2,001; an edit to an
    /// older one would not show in the feed anyway. No re-check by age.
    pub fn defaults(max_items: usize) -> Refresh {
        Refresh {
            newest: max_items,
            every: None,
        }
    }
}

impl Config {
    /// Reads and validates the config at `path`. When the environment sets `FEEDWRIGHT_STATE` (to a file path,
    /// relative to the working folder, or a `postgres://` URL), it takes the place of the file's `state`: one
    /// config for several deployments, and a database password kept out of the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = parse(&text, path)?;
        if let Some(state) = std::env::var_os(STATE_ENV).filter(|s| !s.is_empty()) {
            config.settings.state =
                Location::parse(&state.to_string_lossy(), Path::new("")).map_err(|message| ConfigError::Invalid {
                    problems: vec![Problem {
                        file: path.to_owned(),
                        line: 1,
                        source: None,
                        message: format!("{STATE_ENV}: {message}"),
                    }],
                })?;
        }
        Ok(config)
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id.as_str() == id)
    }

    pub fn merge(&self, id: &str) -> Option<&Merge> {
        self.merges.iter().find(|m| m.id.as_str() == id)
    }

    /// Every feed this config publishes: the sources', then the merges', in config order.
    pub fn feeds(&self) -> impl Iterator<Item = Publication<'_>> {
        let sources = self.sources.iter().map(Publication::Source);
        sources.chain(self.merges.iter().map(Publication::Merge))
    }

    /// The feed published under `id`, a source's or a merge's.
    pub fn feed(&self, id: &str) -> Option<Publication<'_>> {
        self.feeds().find(|f| f.id().as_str() == id)
    }
}

/// One thing wrong with a config file, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub source: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(id) = &self.source {
            write!(f, "source \"{id}\": ")?;
        }
        f.write_str(&self.message)
    }
}

/// When `watch` runs a source: at a fixed interval, or at the times of a cron expression (in UTC).
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<cron::Schedule>),
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
            Schedule::Cron(c) => write!(f, "cron \"{c}\""),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}
