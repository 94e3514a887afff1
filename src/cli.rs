//! Command-line types (clap derive). No behaviour here: `app` acts on these.

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::render::Format;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  every source ok
  1  unexpected failure (the state database, the lock, the OPML list)
  2  usage error
  3  invalid config
  4  some sources failed (their listing, their articles or writing their feed files); the others
     were published
  5  `test` found differences between the snapshots and what the config extracts now";

#[derive(Debug, Parser)]
#[command(name = "feedwright", version, term_width = 100, about = "Turns news sites without a usable feed into Atom, RSS 2.0 and JSON Feed files", after_help = EXIT_CODES)]
pub struct Cli {
    /// Config file; relative paths inside it are relative to its folder
    #[arg(long, short, global = true, default_value = crate::config::DEFAULT_PATH, env = "FEEDWRIGHT_CONFIG")]
    pub config: PathBuf,

    /// Print only errors (for cron)
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// More log detail on stderr (repeat for more)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log line format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Colour in log lines: auto is on for a terminal unless NO_COLOR is set
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One pass over all (or the named) sources, publishing feeds that changed; made for cron
    Run {
        /// Only this source (repeatable)
        #[arg(long = "source", short = 's', value_name = "ID")]
        sources: Vec<String>,
        /// Ignore stored ETag/Last-Modified once: fetch the listing and every listed article unconditionally
        #[arg(long)]
        refetch: bool,
    },
    /// Offline quick start: serves a bundled copy of the conference news site on 127.0.0.1 and publishes its feeds
    Demo {
        /// Where the feeds are written
        #[arg(long, default_value = "feeds")]
        out: PathBuf,
        /// Takes the place of the global `--config`, which the demo does not read (it has its own bundled one),
        /// so that `demo --help` does not offer it; still accepted, and ignored, for scripts that pass it anyway
        #[arg(long, short, hide = true, value_name = "CONFIG")]
        config: Option<PathBuf>,
        /// Answer each request of the bundled sites only after this long (e.g. 30ms), as a distant site would: to
        /// see how a run overlaps its waits (`scripts/bench-conference` measures it)
        #[arg(long, value_name = "DURATION", value_parser = parse_latency, default_value = "0s")]
        latency: std::time::Duration,
    },
    /// Validate the config and print every problem
    Check,
    /// Fetch and extract one source, or any site by its URL, without writing anything
    ///
    /// With a source id: its configured rules. With a listing URL: no config needed, everything is found
    /// automatically. The table shows per article where each field came from (selector, json-ld, opengraph,
    /// meta, heuristic, url, listing). Exit 4 when no article could be extracted
    Preview {
        /// A source id, or a URL (a listing page; with --article an article page)
        #[arg(value_name = "ID|URL")]
        target: String,
        /// Print the feed in this format instead of a table
        #[arg(long, value_parser = parse_format, conflicts_with_all = ["article", "explain"])]
        format: Option<Format>,
        /// Extract the one article page at URL
        #[arg(long)]
        article: bool,
        /// With --article: print one JSON object (url, title, published, author, image, content_html,
        /// provenance) on stdout, each value a string or null; exit 0 even when fields are missing
        #[arg(long, requires = "article")]
        json: bool,
        /// For every configured selector of source ID: how many elements it matched on the listing and on the
        /// first article, and the text of the first few
        #[arg(long, conflicts_with = "article")]
        explain: bool,
    },
    /// Detect a site's listing and articles and append a commented [[source]] for it to the config
    ///
    /// Fetches the listing page and a few of its articles, finds the links, title, date, author, body and image,
    /// and writes concrete selectors wherever a stable one exists, with a comment per field saying what was
    /// detected. Creates the config file if there is none. Says so when the site already advertises a feed
    Init {
        /// The listing page (a news section or front page)
        url: String,
        /// The new source's id (default: from the host name)
        #[arg(long)]
        id: Option<String>,
    },
    /// Save a source's stored pages and what the config extracts from them into snapshots/ID/ beside the config
    ///
    /// Writes the listing and article pages the last runs saved (feed window only) and expected.json: per listing
    /// page its links, per article its title, date, author, image, caption, and body text digest with its first
    /// and last sentence. Needs a prior `run`; makes no request. Commit the folder, then `feedwright test` in CI
    Snapshot {
        /// The source id
        source: String,
    },
    /// Re-extract the saved snapshots offline with the current config and print every field that differs
    ///
    /// Exits 0 when nothing differs and 5 when something does; makes no request and does not touch the state
    Test {
        /// Only these sources (default: every source with a snapshot)
        #[arg(value_name = "ID")]
        sources: Vec<String>,
    },
    /// Health of every source (ok, degraded, broken, never-run), from the state database
    ///
    /// One row per source: health, last run, last success, items in the feed, new in 24 h, failed articles,
    /// failed runs in a row and the reason; then each source's failed articles (URL, last try, attempts, error)
    /// and what the health words shown mean. Exit code 4 when a source is broken
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Run as a service: every source on its own schedule, optionally serving the feeds too
    ///
    /// Each source runs on its `every` or `cron` schedule (default from [settings]), at its own point of each period, capped backoff for
    /// failing sources and at most `max_running` at once; writes index.opml and pings the WebSub hub when a feed
    /// changes. Takes the same state lock as `run`. SIGINT/SIGTERM stop it cleanly (exit 0), SIGHUP re-reads the
    /// config (an invalid one is reported and the old one keeps running)
    Watch {
        /// Also serve the feeds over HTTP on this address, as `serve` does
        #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
        serve: Option<ListenAddr>,
    },
    /// Serve the published feeds over HTTP (/ID.EXT, /, /source/ID, /index.opml, /healthz, /metrics)
    ///
    /// Answers /ID.EXT for each configured source and format (ETag, Last-Modified, 304, gzip and brotli), / (a web
    /// page: each source's health, runs, items and subscribe links), /source/ID (its items, failed articles and run
    /// history), /index.opml, /healthz (200, or 503 with JSON when a source is broken) and /metrics (Prometheus
    /// text). Nothing else in the output folder is reachable. SIGINT/SIGTERM stop it (exit 0), SIGHUP
    /// re-reads the config
    Serve {
        /// Address to listen on: HOST:PORT, the host a name or an IP address
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR", value_parser = parse_listen)]
        addr: ListenAddr,
    },
}

/// Where `serve` and `watch --serve` listen: a host name or IP address (IPv6 in brackets) and a port, resolved
/// when the server starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_latency(s: &str) -> Result<std::time::Duration, String> {
    let latency = humantime::parse_duration(s).map_err(|e| format!("\"{s}\" is not a duration (e.g. 30ms): {e}"))?;
    if latency > crate::demo::MAX_LATENCY {
        return Err(format!(
            "\"{s}\" is longer than the demo allows ({})",
            humantime::format_duration(crate::demo::MAX_LATENCY)
        ));
    }
    Ok(latency)
}

fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    let usage = || format!("\"{s}\" is not HOST:PORT (e.g. 127.0.0.1:8080, localhost:8080, [::1]:8080)");
    let (host, port) = s.rsplit_once(':').ok_or_else(usage)?;
    let port = port.parse().map_err(|_| usage())?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or_else(usage)?,
        None if host.contains(':') => return Err(usage()),
        None => host,
    };
    if host.is_empty() {
        return Err(usage());
    }
    Ok(ListenAddr {
        host: host.to_owned(),
        port,
    })
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>()
        .map_err(|_| format!("unknown format \"{s}\" (use atom, rss, json)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_address_is_host_and_port_the_host_a_name_or_an_ip() {
        let ok = |s: &str| parse_listen(s).unwrap().to_string();
        assert_eq!(ok("localhost:8095"), "localhost:8095");
        assert_eq!(ok("127.0.0.1:0"), "127.0.0.1:0");
        assert_eq!(ok("[::1]:8080"), "[::1]:8080");
        assert_eq!(parse_listen("[::1]:8080").unwrap().host, "::1");
        for bad in [
            "localhost",
            "localhost:http",
            ":8080",
            "::1:8080",
            "[::1:8080",
            "host:70000",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
