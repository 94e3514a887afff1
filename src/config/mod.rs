//! Configuration: `raw` mirrors the TOML file, `validate` turns it into typed values.
//!
//! Loading collects every problem at once, each with file, line and source id, so a user fixes a broken config in
//! one round. Nothing after this module sees an unparsed URL, selector, duration or time zone. Relative paths in
//! the file are relative to the folder of the file.

mod raw;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use crate::extract::{ArticleRules, ListRules};
use crate::model::SourceId;
use crate::normalize;
use crate::render::Format;

pub use validate::parse;

/// Where `feedwright` looks for its config when `--config` is not given.
pub const DEFAULT_PATH: &str = "config/feedwright.toml";

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub settings: Settings,
    pub sources: Vec<Source>,
    pub notify: Vec<Notify>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub output_dir: PathBuf,
    pub state: PathBuf,
    /// Where `output_dir` is published; feeds name their own URL (self links, ids) under it.
    pub feed_base_url: Url,
    pub user_agent: String,
    pub timeout: Duration,
    pub max_body: u64,
    pub max_items: usize,
    pub formats: Vec<Format>,
    /// Requests in flight at once per source.
    pub concurrency: usize,
    /// How long a run waits for another run holding the state lock.
    pub lock_timeout: Duration,
    /// `watch`: the schedule of sources that name none.
    pub schedule: Schedule,
    /// `watch`: sources running at once.
    pub max_running: usize,
    /// `watch`: the longest a failing source waits between runs (never shorter than its own schedule).
    pub backoff_max: Duration,
    /// WebSub hub named in the feeds and pinged after a feed changes.
    pub hub: Option<Url>,
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
    pub alternates: Vec<SourceId>,
    pub listing: ListRules,
    pub max_pages: usize,
    pub article: ArticleRules,
    pub normalize: normalize::Rules,
    pub refresh: Refresh,
    /// When `watch` runs this source.
    pub schedule: Schedule,
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

/// Which known articles are fetched again (conditionally) to catch edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub newest: usize,
    pub every: Option<Duration>,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        parse(&text, path)
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id.as_str() == id)
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
