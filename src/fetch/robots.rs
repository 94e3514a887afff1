//! robots.txt: what one host allows our user agent to fetch, and how slowly.
//!
//! [`Rules`] is the parsed file (pure: bytes in, answers out; parsing by `texting_robots`, which follows RFC 9309
//! and Google's reading of it). [`Cache`] keeps one `Rules` per host for a day (RFC 9309's upper bound), so a
//! host's robots.txt is fetched once per run however many sources and requests go to it, and a long-running
//! `watch` still sees changes. Fetching belongs to the
//! [`super::Fetcher`]; what an unreadable robots.txt means is decided here, in [`Rules::from_response`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;
use url::Url;

/// How long fetched rules are used before robots.txt is asked again.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest `Crawl-delay` obeyed; a site asking for more gets this (the source's time budget bounds the run).
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

/// What a host's robots.txt says for our user agent.
#[derive(Debug)]
pub enum Rules {
    /// No robots.txt (4xx), or one we could not read: everything is allowed.
    AllowAll,
    Parsed(texting_robots::Robot),
}

/// How a robots.txt request ended, as far as its meaning is concerned.
#[derive(Debug)]
pub enum Response<'a> {
    /// A 2xx answer with this body.
    Body(&'a [u8]),
    /// Any other HTTP status (after redirects).
    Status(u16),
    /// No answer: connection refused, timeout, body too large, a redirect loop.
    Unreachable,
}

impl Rules {
    /// Reads the rules for `agent` (the product token, e.g. `feedwright`) from a robots.txt response.
    ///
    /// RFC 9309 says a 4xx means "no rules" and a 5xx or no answer means "assume everything is disallowed". We
    /// follow the first and not the second: a news site whose robots.txt is down for a moment would otherwise
    /// empty its feed for a run, and the operator who wants us gone can say so in a robots.txt that works. That
    /// choice is logged, so it is never silent.
    pub fn from_response(agent: &str, robots_url: &Url, response: Response<'_>) -> Rules {
        match response {
            Response::Body(body) => match texting_robots::Robot::new(agent, body) {
                Ok(robot) => Rules::Parsed(robot),
                Err(e) => {
                    tracing::warn!(url = %robots_url, error = %e, "robots.txt is unreadable; allowing all");
                    Rules::AllowAll
                }
            },
            Response::Status(status) if (400..500).contains(&status) => {
                tracing::debug!(url = %robots_url, status, "no robots.txt; allowing all");
                Rules::AllowAll
            }
            Response::Status(status) => {
                tracing::warn!(url = %robots_url, status, "robots.txt answered with an error; allowing all for this run");
                Rules::AllowAll
            }
            Response::Unreachable => {
                tracing::warn!(url = %robots_url, "robots.txt could not be fetched; allowing all for this run");
                Rules::AllowAll
            }
        }
    }

    /// Parses a robots.txt body; for tests and callers that already hold the text.
    pub fn parse(agent: &str, body: &str) -> Rules {
        let url = Url::parse("http://robots.invalid/robots.txt").expect("valid");
        Rules::from_response(agent, &url, Response::Body(body.as_bytes()))
    }

    pub fn allowed(&self, url: &Url) -> bool {
        match self {
            Rules::AllowAll => true,
            Rules::Parsed(robot) => robot.allowed(url.as_str()),
        }
    }

    /// The `Crawl-delay` for our agent, capped at [`MAX_CRAWL_DELAY`].
    pub fn crawl_delay(&self) -> Duration {
        match self {
            Rules::Parsed(robot) => robot
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map_or(Duration::ZERO, |d| {
                    Duration::from_secs_f32(d.min(MAX_CRAWL_DELAY.as_secs_f32()))
                }),
            Rules::AllowAll => Duration::ZERO,
        }
    }
}

/// The robots.txt URL of `url`'s host.
pub fn url_for(url: &Url) -> Url {
    let mut robots = url.clone();
    let _ = robots.set_username("");
    let _ = robots.set_password(None);
    robots.set_path("/robots.txt");
    robots.set_query(None);
    robots.set_fragment(None);
    robots
}

/// The product token robots.txt groups are matched against: `feedwright/0.1 (+https://..)` → `feedwright`.
pub fn agent_token(user_agent: &str) -> &str {
    let token = user_agent
        .split(|c: char| c == '/' || c.is_whitespace())
        .next()
        .unwrap_or_default();
    if token.is_empty() { "*" } else { token }
}

/// A host's rules once fetched; the first request to the host fills it while the others wait.
pub type Cell = Arc<OnceCell<Arc<Rules>>>;

/// A robots.txt worth keeping between runs: the host (a [`super::hosts::key`]) and its body, or `None` when the host
/// has none (it answered 4xx). Answers that mean "could not ask" (5xx, no connection) are never kept.
pub type Fetched = (String, Option<String>);

/// A robots.txt an earlier run kept, to seed the cache with: the host (a [`super::hosts::key`]), its body (`None`:
/// the host has none) and how long ago it was fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub host: String,
    pub body: Option<String>,
    pub age: Duration,
}

/// One [`Rules`] per host, filled on first use; concurrent first requests to a host wait for one fetch.
#[derive(Debug, Default)]
pub struct Cache {
    /// Host → when its cell was made, and the cell.
    map: Mutex<HashMap<String, (Instant, Cell)>>,
    /// What was fetched since the last [`Cache::take_fetched`], for the store to keep.
    fetched: Mutex<Vec<Fetched>>,
}

impl Cache {
    /// The cell for `url`'s host, to be filled with `get_or_init`; a new, empty one once `MAX_AGE` has passed
    /// since the last was made. `now` is tokio's clock.
    pub fn cell(&self, url: &Url, now: Instant) -> Cell {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map
            .entry(super::hosts::key(url))
            .or_insert_with(|| (now, Arc::default()));
        if now.saturating_duration_since(entry.0) >= MAX_AGE {
            *entry = (now, Arc::default());
        }
        Arc::clone(&entry.1)
    }

    /// Fills `host`'s cell with rules read in an earlier run, as if made at `made`, unless the host has one already.
    pub fn seed(&self, host: String, rules: Rules, made: Instant) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(host)
            .or_insert_with(|| (made, Arc::new(OnceCell::new_with(Some(Arc::new(rules))))));
    }

    pub fn record(&self, fetched: Fetched) {
        self.fetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(fetched);
    }

    pub fn take_fetched(&self) -> Vec<Fetched> {
        std::mem::take(&mut *self.fetched.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const ROBOTS: &str = "\
User-agent: *
Disallow: /private/
Crawl-delay: 2

User-agent: feedwright
Disallow: /2015-12/
Allow: /2015-12/16/c_47822.htm
Crawl-delay: 0.5
";

    #[test]
    fn our_group_wins_over_the_star_group_and_the_longest_rule_wins() {
        let rules = Rules::parse("feedwright", ROBOTS);
        assert!(!rules.allowed(&url("https://wic.example/2015-12/16/c_47812.htm")));
        assert!(rules.allowed(&url("https://wic.example/2015-12/16/c_47822.htm")));
        // Only our group applies, so /private/ is open to us.
        assert!(rules.allowed(&url("https://wic.example/private/x.htm")));
        assert_eq!(rules.crawl_delay(), Duration::from_millis(500));
    }

    #[test]
    fn other_agents_get_the_star_group() {
        let rules = Rules::parse("otherbot", ROBOTS);
        assert!(!rules.allowed(&url("https://wic.example/private/x.htm")));
        assert!(rules.allowed(&url("https://wic.example/2015-12/16/c_47812.htm")));
        assert_eq!(rules.crawl_delay(), Duration::from_secs(2));
    }

    #[test]
    fn missing_or_broken_robots_allow_all() {
        let robots = url("https://wic.example/robots.txt");
        let page = url("https://wic.example/news/");
        for response in [Response::Status(404), Response::Status(503), Response::Unreachable] {
            assert!(Rules::from_response("feedwright", &robots, response).allowed(&page));
        }
        let everything = Rules::from_response("feedwright", &robots, Response::Body(b"User-agent: *\nDisallow: /"));
        assert!(!everything.allowed(&page));
    }

    #[test]
    fn a_huge_crawl_delay_is_capped() {
        let rules = Rules::parse("feedwright", "User-agent: *\nCrawl-delay: 86400\n");
        assert_eq!(rules.crawl_delay(), MAX_CRAWL_DELAY);
    }

    #[test]
    fn cached_rules_are_shared_per_host_and_expire_after_a_day() {
        let cache = Cache::default();
        let t0 = Instant::now();
        let a = cache.cell(&url("https://wic.example/news/"), t0);
        assert!(a.set(Arc::new(Rules::AllowAll)).is_ok());
        let same = cache.cell(
            &url("https://wic.example/2015-12/16/c_1.htm"),
            t0 + Duration::from_secs(3600),
        );
        assert!(same.initialized());
        assert!(!cache.cell(&url("https://other.example/"), t0).initialized());
        assert!(
            !cache
                .cell(&url("https://wic.example/news/"), t0 + MAX_AGE)
                .initialized()
        );
    }

    #[test]
    fn robots_url_and_agent_token() {
        assert_eq!(
            url_for(&url("https://u:p@wic.example:8443/news/a.htm?x=1#f")).as_str(),
            "https://wic.example:8443/robots.txt"
        );
        assert_eq!(
            agent_token("feedwright/0.1.0 (+https://github.com/feedwright/feedwright)"),
            "feedwright"
        );
        assert_eq!(agent_token("Mozilla/5.0 (compatible)"), "Mozilla");
        assert_eq!(agent_token(""), "*");
    }
}
