//! HTTP fetching: one polite GET with timeouts, a body cap, redirects, retries and conditional requests, decoded
//! to text.
//!
//! Returns the decoded page together with the URL it finally came from, so relative links resolve against where
//! the page really is. Knows nothing of HTML or feeds; the only policy here is being a careful, polite HTTP client:
//! every request (listing, article, robots.txt, each redirect hop and retry) passes the per-host limiter in
//! [`hosts`] and, unless a source opts out, the host's robots.txt ([`robots`]). Redirects are followed here rather
//! than inside reqwest so that each hop is limited, checked against robots.txt and watched for loops.
//! [`retry::delay`] alone decides what is worth repeating. Every request's host is judged by the source's
//! [`guard::Policy`] before anything is sent (robots.txt included), and names are resolved by [`resolver`], which
//! hands reqwest only the addresses that policy allows; so a hostile listing cannot make us fetch cloud metadata
//! or the operator's own network.

pub mod charset;
pub mod guard;
pub mod hosts;
pub mod resolver;
pub mod retry;
pub mod robots;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::time::Instant;
use url::Url;

use crate::error_chain;
use crate::model::Validators;

pub use hosts::HostLimits;

/// Client settings, from `[settings]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub user_agent: String,
    /// Bounds one whole request, body included, so a server trickling bytes cannot hold a run.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: u64,
    pub max_redirects: usize,
    pub retries: u32,
    pub retry_base: Duration,
}

impl Options {
    pub fn new(user_agent: String, timeout: Duration, max_body: u64) -> Self {
        Options {
            user_agent,
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(10)),
            max_body,
            max_redirects: 10,
            retries: 2,
            retry_base: Duration::from_millis(500),
        }
    }
}

/// How one source's requests are made (`[source.http]`, with `[settings]` defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Whether robots.txt is fetched and obeyed (its rules and its `Crawl-delay`).
    pub respect_robots: bool,
    /// Limits for the source's hosts; several sources on one host share the strictest.
    pub limits: HostLimits,
    /// A proxy for this source's requests instead of the one from `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`.
    pub proxy: Option<Url>,
    /// Extra request headers, cookies included. `Cookie` and `Authorization` are not sent on to another host
    /// after a redirect.
    pub headers: HeaderMap,
    /// Which addresses this source's requests may go to (from its URLs and `allow_private`).
    pub addresses: guard::Policy,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            respect_robots: true,
            limits: HostLimits::default(),
            proxy: None,
            headers: HeaderMap::new(),
            // A fetcher not made for a configured source (a library caller, a test against its own server on
            // 127.0.0.1) may reach loopback and private addresses; the config builds every source's own policy.
            addresses: guard::Policy::ALLOW_PRIVATE,
        }
    }
}

/// A page as served: decoded text and where it came from.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL after redirects; the base for relative links.
    pub final_url: Url,
    pub status: u16,
    pub text: String,
    pub encoding: &'static str,
    /// How `encoding` was chosen (declared, repaired, detected, ...).
    pub decoded: charset::How,
    pub validators: Validators,
    pub bytes: usize,
}

// One `Fetched` per request, moved once to its caller: boxing the page would cost an allocation and buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Fetched {
    Page(Page),
    /// The server answered 304 to a conditional request: the stored copy is current.
    NotModified,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("GET {url} timed out after {}", humantime::format_duration(*timeout))]
    Timeout { url: Url, timeout: Duration },
    #[error("GET {url}: cannot connect")]
    Connect {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: TLS handshake failed")]
    Tls {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: the connection closed before a response arrived")]
    Dropped {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} returned HTTP {status}")]
    Status {
        url: Url,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("GET {url}: body is larger than the {limit} byte limit (max_body)")]
    TooLarge { url: Url, limit: u64 },
    #[error("GET {url}: more than {limit} redirects (max_redirects)")]
    TooManyRedirects { url: Url, limit: usize },
    /// `to` is the URL the chain came back to (a string, to keep the error small).
    #[error("GET {url}: redirect loop (redirected back to {to})")]
    RedirectLoop { url: Url, to: String },
    #[error("GET {url}: redirect to an invalid location \"{location}\"")]
    BadRedirect { url: Url, location: String },
    #[error(
        "GET {url}: disallowed for this user agent by {} (set respect_robots = false only for a site you own)",
        robots::url_for(url)
    )]
    Disallowed { url: Url },
    #[error("GET {url} skipped: the source's time budget of {} was used up", humantime::format_duration(*budget))]
    Budget { url: Url, budget: Duration },
    #[error("cannot set up an HTTP client for proxy {proxy}")]
    Proxy {
        proxy: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: the connection broke while reading the body")]
    Body {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    /// Not sent: the host is one feedwright must not connect to for this source (see [`guard`]).
    #[error("GET {url}: refused")]
    Refused {
        url: Url,
        #[source]
        reason: guard::Refusal,
    },
    #[error("GET {url} failed")]
    Request {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
}

impl FetchError {
    /// The URL the error is about (the proxy's, for [`FetchError::Proxy`]).
    pub fn url(&self) -> &Url {
        match self {
            Self::Timeout { url, .. }
            | Self::Connect { url, .. }
            | Self::Tls { url, .. }
            | Self::Dropped { url, .. }
            | Self::Status { url, .. }
            | Self::TooLarge { url, .. }
            | Self::TooManyRedirects { url, .. }
            | Self::RedirectLoop { url, .. }
            | Self::BadRedirect { url, .. }
            | Self::Disallowed { url, .. }
            | Self::Budget { url, .. }
            | Self::Body { url, .. }
            | Self::Refused { url, .. }
            | Self::Request { url, .. } => url,
            Self::Proxy { proxy, .. } => proxy,
        }
    }
}

/// A shared HTTP client; cheap to clone. Clones made with [`Fetcher::for_source`] and [`Fetcher::with_budget`]
/// share the per-host limiter and the robots.txt cache with the fetcher they came from.
#[derive(Debug, Clone)]
pub struct Fetcher {
    shared: Arc<Shared>,
    client: reqwest::Client,
    profile: Arc<Profile>,
    /// When set, every request gives up at this instant with [`FetchError::Budget`].
    deadline: Option<(Instant, Duration)>,
}

#[derive(Debug)]
struct Shared {
    options: Options,
    clock: fn() -> DateTime<Utc>,
    /// The robots.txt product token of `options.user_agent`.
    agent: String,
    hosts: hosts::Hosts,
    robots: robots::Cache,
    /// Whether the robots.txt files earlier runs stored were read into `robots` (see [`Fetcher::seeding_robots`]).
    robots_seeded: Mutex<bool>,
    /// One client per distinct (per-source proxy, address policy): the policy lives in the client's resolver.
    clients: Mutex<HashMap<(Option<Url>, guard::Policy), reqwest::Client>>,
    lookup: resolver::Lookup,
}

/// What one request brought: a final answer or the next hop.
enum Hop {
    Done(Fetched),
    Redirect(Url),
}

impl Fetcher {
    /// `clock` is only read to interpret a `Retry-After` date. Names are resolved by the system resolver.
    pub fn new(options: Options, clock: fn() -> DateTime<Utc>) -> Result<Self, reqwest::Error> {
        Self::with_lookup(options, clock, resolver::system())
    }

    /// Like [`Fetcher::new`], with names resolved by `lookup` (whose answers are still judged by each source's
    /// policy before reqwest sees them).
    pub fn with_lookup(
        options: Options,
        clock: fn() -> DateTime<Utc>,
        lookup: resolver::Lookup,
    ) -> Result<Self, reqwest::Error> {
        let profile = Profile::default();
        // Direct clients for every policy up front, so only a per-source proxy can fail to set up later.
        let mut clients = HashMap::new();
        for policy in guard::Policy::ALL {
            clients.insert((None, policy), build_client(&options, None, policy, &lookup)?);
        }
        let direct = clients[&(None, profile.addresses)].clone();
        let shared = Arc::new(Shared {
            agent: robots::agent_token(&options.user_agent).to_owned(),
            options,
            clock,
            hosts: hosts::Hosts::default(),
            robots: robots::Cache::default(),
            robots_seeded: Mutex::new(false),
            clients: Mutex::new(clients),
            lookup,
        });
        Ok(Fetcher {
            shared,
            client: direct,
            profile: Arc::new(profile),
            deadline: None,
        })
    }

    /// Sets the limits of `url`'s host for every fetcher sharing this one's limiter; when several sources name
    /// one host, the strictest limits win. Call before the first request to that host.
    pub fn configure_host(&self, url: &Url, limits: HostLimits) {
        self.shared.hosts.configure(url, limits);
    }

    /// A fetcher making requests the way `profile` says, sharing this one's limiter and robots cache.
    pub fn for_source(&self, profile: &Profile) -> Result<Fetcher, FetchError> {
        let key = (profile.proxy.clone(), profile.addresses);
        let mut clients = self.shared.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let client = match (clients.get(&key), &profile.proxy) {
            (Some(client), _) => client.clone(),
            (None, Some(proxy)) => {
                let client = build_client(
                    &self.shared.options,
                    Some(proxy),
                    profile.addresses,
                    &self.shared.lookup,
                )
                .map_err(|source| FetchError::Proxy {
                    proxy: proxy.clone(),
                    source,
                })?;
                clients.insert(key, client.clone());
                client
            }
            (None, None) => unreachable!("`with_lookup` made a direct client for every policy"),
        };
        drop(clients);
        Ok(Fetcher {
            shared: Arc::clone(&self.shared),
            client,
            profile: Arc::new(profile.clone()),
            deadline: self.deadline,
        })
    }

    /// A fetcher whose requests all end by `deadline`; `budget` is only named in the error.
    pub fn with_budget(&self, deadline: Instant, budget: Duration) -> Fetcher {
        Fetcher {
            deadline: Some((deadline, budget)),
            ..self.clone()
        }
    }

    /// GETs `url`, conditionally when `validators` are given, following redirects and retrying what
    /// `retry::delay` allows.
    pub async fn get(&self, url: &Url, validators: Option<&Validators>) -> Result<Fetched, FetchError> {
        let Some((deadline, budget)) = self.deadline else {
            return self.follow(url, validators).await;
        };
        let over = || FetchError::Budget {
            url: url.clone(),
            budget,
        };
        if Instant::now() >= deadline {
            return Err(over());
        }
        tokio::time::timeout_at(deadline, self.follow(url, validators))
            .await
            .unwrap_or_else(|_| Err(over()))
    }

    async fn follow(&self, url: &Url, validators: Option<&Validators>) -> Result<Fetched, FetchError> {
        let mut chain = vec![url.clone()];
        loop {
            let current = chain.last().expect("the chain starts with url").clone();
            // Before robots.txt, so a refused host gets no request at all.
            self.check(&current)?;
            let crawl_delay = if self.profile.respect_robots {
                let rules = self.robots(&current).await;
                if !rules.allowed(&current) {
                    return Err(FetchError::Disallowed { url: current });
                }
                rules.crawl_delay()
            } else {
                Duration::ZERO
            };
            let private = same_host(url, &current);
            match self.get_retrying(&current, validators, private, crawl_delay).await? {
                Hop::Done(fetched) => return Ok(fetched),
                Hop::Redirect(next) => {
                    if chain.contains(&next) {
                        return Err(FetchError::RedirectLoop {
                            url: url.clone(),
                            to: next.into(),
                        });
                    }
                    if chain.len() > self.shared.options.max_redirects {
                        return Err(FetchError::TooManyRedirects {
                            url: url.clone(),
                            limit: self.shared.options.max_redirects,
                        });
                    }
                    tracing::debug!(from = %current, to = %next, "redirect");
                    chain.push(next);
                }
            }
        }
    }

    /// Reads the robots.txt files earlier runs stored into the cache once for this fetcher and every fetcher made
    /// from it, however many sources a run has: `load(true)` is to return them (with whatever else it reads in the
    /// same go, `T`) the first time, `load(false)` every later time, when they are in memory already. Callers arriving
    /// while the first one seeds wait for it, so none of them asks a host whose robots.txt is stored. A `load` that
    /// fails seeds nothing, and the next caller is asked again.
    pub fn seeding_robots<T, E>(
        &self,
        load: impl FnOnce(bool) -> Result<(T, Vec<robots::Remembered>), E>,
    ) -> Result<T, E> {
        let mut seeded = self.shared.robots_seeded.lock().unwrap_or_else(PoisonError::into_inner);
        let (out, remembered) = load(!*seeded)?;
        for r in remembered {
            self.remember_robots(&r.host, r.body.as_deref(), r.age);
        }
        *seeded = true;
        Ok(out)
    }

    /// Remembers a robots.txt read `age` ago (by an earlier run, from the store) for `host`, so this process does
    /// not ask again until it is a day old. `body` is `None` when the host has none.
    pub fn remember_robots(&self, host: &str, body: Option<&str>, age: Duration) {
        let robots_url = Url::parse(host).map(|u| robots::url_for(&u));
        let (Ok(robots_url), Some(made)) = (robots_url, Instant::now().checked_sub(age)) else {
            return;
        };
        let response = match body {
            Some(body) => robots::Response::Body(body.as_bytes()),
            None => robots::Response::Status(404),
        };
        let rules = robots::Rules::from_response(&self.shared.agent, &robots_url, response);
        self.shared.robots.seed(host.to_owned(), rules, made);
    }

    /// The robots.txt files fetched since the last call, for the store to keep.
    pub fn take_fetched_robots(&self) -> Vec<robots::Fetched> {
        self.shared.robots.take_fetched()
    }

    /// The robots.txt rules of `url`'s host, fetched on the first request to it in this process.
    async fn robots(&self, url: &Url) -> Arc<robots::Rules> {
        let cell = self.shared.robots.cell(url, Instant::now());
        let rules = cell
            .get_or_init(|| async { Arc::new(self.fetch_robots(url).await) })
            .await;
        Arc::clone(rules)
    }

    /// One try, no retries: a robots.txt that does not answer at once means "allow" anyway (see
    /// [`robots::Rules::from_response`]), so waiting for it would only delay the run. Redirects are followed, at
    /// most five as RFC 9309 asks.
    async fn fetch_robots(&self, url: &Url) -> robots::Rules {
        let robots_url = robots::url_for(url);
        let agent = &self.shared.agent;
        let mut current = robots_url.clone();
        for _ in 0..=5 {
            let private = same_host(&robots_url, &current);
            let response = match self.attempt(&current, None, private, Duration::ZERO).await {
                Ok(Hop::Redirect(next)) => {
                    current = next;
                    continue;
                }
                Ok(Hop::Done(Fetched::Page(page))) => {
                    self.shared.robots.record((hosts::key(url), Some(page.text.clone())));
                    return robots::Rules::from_response(
                        agent,
                        &robots_url,
                        robots::Response::Body(page.text.as_bytes()),
                    );
                }
                Ok(Hop::Done(Fetched::NotModified)) => robots::Response::Status(304),
                Err(FetchError::Status { status, .. }) => {
                    if (400..500).contains(&status) {
                        self.shared.robots.record((hosts::key(url), None));
                    }
                    robots::Response::Status(status)
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "robots.txt request failed");
                    robots::Response::Unreachable
                }
            };
            return robots::Rules::from_response(agent, &robots_url, response);
        }
        robots::Rules::from_response(agent, &robots_url, robots::Response::Unreachable)
    }

    async fn get_retrying(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        private: bool,
        crawl_delay: Duration,
    ) -> Result<Hop, FetchError> {
        let options = &self.shared.options;
        let mut attempt = 0;
        let mut short_of_files = Duration::ZERO;
        loop {
            let error = match self.attempt(url, validators, private, crawl_delay).await {
                Ok(hop) => return Ok(hop),
                Err(error) => error,
            };
            // Out of file descriptors: ours, not the site's. Wait for connections to close and ask again, without
            // using up a retry, for as long as one request may take (the source's budget bounds it too).
            if let Some(wait) = retry::short_of_files(&error, jitter(url, attempt))
                && short_of_files < options.timeout
            {
                tracing::debug!(url = %url, wait_ms = wait.as_millis() as u64, "out of open files; waiting");
                tokio::time::sleep(wait).await;
                short_of_files += wait;
                continue;
            }
            match retry::delay(&error, attempt, options.retry_base, jitter(url, attempt)) {
                Some(wait) if attempt < options.retries => {
                    if let FetchError::Status {
                        retry_after: Some(_), ..
                    } = &error
                    {
                        // The server asked every client to hold off, not just this request.
                        self.shared.hosts.defer(url, Instant::now() + wait);
                    }
                    tracing::debug!(url = %url, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(error),
            }
        }
    }

    /// Whether this source may send a request to `url` at all, judged from the host as written. Names are judged
    /// again, by address, in the client's resolver; through a proxy, which resolves names itself, this is all
    /// there is.
    fn check(&self, url: &Url) -> Result<(), FetchError> {
        self.profile.addresses.check_url(url).map_err(|reason| {
            // The caller reports the error (an article's, a listing's); this only traces where it was stopped.
            tracing::debug!(url = %url, reason = %reason, "request refused");
            FetchError::Refused {
                url: url.clone(),
                reason,
            }
        })
    }

    /// One request: checks the host, waits for a slot on it, sends, reads the body within the cap. Every request
    /// (robots.txt, each hop, each retry) comes through here.
    async fn attempt(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        private: bool,
        crawl_delay: Duration,
    ) -> Result<Hop, FetchError> {
        self.check(url)?;
        let _slot = self.shared.hosts.acquire(url, self.profile.limits, crawl_delay).await;
        self.get_once(url, validators, private).await
    }

    async fn get_once(&self, url: &Url, validators: Option<&Validators>, private: bool) -> Result<Hop, FetchError> {
        let mut request = self.client.get(url.clone());
        for (name, value) in &self.profile.headers {
            if private || (name != header::COOKIE && name != header::AUTHORIZATION) {
                request = request.header(name, value);
            }
        }
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, date);
            }
        }
        let response = request.send().await.map_err(|e| self.classify(url, e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Hop::Done(Fetched::NotModified));
        }
        if status.is_redirection()
            && let Some(location) = header_str(response.headers(), header::LOCATION)
        {
            return match url.join(location) {
                Ok(next) if matches!(next.scheme(), "http" | "https") => Ok(Hop::Redirect(next)),
                _ => Err(FetchError::BadRedirect {
                    url: url.clone(),
                    location: location.to_owned(),
                }),
            };
        }
        if !status.is_success() {
            let retry_after = header_str(response.headers(), header::RETRY_AFTER)
                .and_then(|v| retry::parse_retry_after(v, (self.shared.clock)()));
            return Err(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
                retry_after,
            });
        }
        let headers = response.headers().clone();
        let limit = self.shared.options.max_body;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge {
                url: url.clone(),
                limit,
            });
        }
        // Streamed with a running check, so a huge or endless body costs at most `limit` bytes of memory.
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match self.classify(url, e) {
                FetchError::Request { url, source } | FetchError::Dropped { url, source } => {
                    FetchError::Body { url, source }
                }
                other => other,
            })?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge {
                    url: url.clone(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let charset::Decoded { text, encoding, how } =
            charset::decode_page(&body, header_str(&headers, header::CONTENT_TYPE));
        match how {
            charset::How::Bom | charset::How::Declared | charset::How::Detected { declared: None } => {
                tracing::debug!(url = %url, encoding = encoding.name(), how = how.as_str(), "decoded")
            }
            charset::How::Repaired { invalid } => {
                tracing::info!(url = %url, encoding = encoding.name(), how = how.as_str(), invalid, "decoded")
            }
            charset::How::Detected {
                declared: Some(declared),
            } => {
                tracing::info!(url = %url, encoding = encoding.name(), declared = declared.name(), how = how.as_str(), "decoded")
            }
            charset::How::Lossy => {
                tracing::info!(url = %url, encoding = encoding.name(), how = how.as_str(), "decoded")
            }
        }
        Ok(Hop::Done(Fetched::Page(Page {
            final_url: url.clone(),
            status: status.as_u16(),
            text,
            encoding: encoding.name(),
            decoded: how,
            validators: Validators {
                etag: header_str(&headers, header::ETAG).map(str::to_owned),
                last_modified: header_str(&headers, header::LAST_MODIFIED).map(str::to_owned),
            },
            bytes: body.len(),
        })))
    }

    fn classify(&self, url: &Url, source: reqwest::Error) -> FetchError {
        let url = url.clone();
        // Our message names the URL; reqwest's own ("error sending request for url (...)") would repeat it.
        let source = source.without_url();
        if let Some(reason) = refusal(&source) {
            FetchError::Refused { url, reason }
        } else if source.is_timeout() {
            FetchError::Timeout {
                url,
                timeout: self.shared.options.timeout,
            }
        } else if source.is_connect() && is_tls(&source) {
            FetchError::Tls { url, source }
        } else if source.is_connect() {
            FetchError::Connect { url, source }
        } else if source.is_body() || source.is_decode() {
            FetchError::Body { url, source }
        } else if source.is_request() {
            // Connected, but the server closed or reset before answering: as transient as a refused connect.
            FetchError::Dropped { url, source }
        } else {
            FetchError::Request { url, source }
        }
    }
}

/// Redirects are followed by [`Fetcher::follow`], so reqwest's own policy is off. Proxies from the environment
/// (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`) apply unless `proxy` is given, which then takes every
/// request. gzip, brotli and deflate are accepted (reqwest features) and decoded before the body cap counts.
/// Names are resolved by a [`resolver::Guarded`] for `policy`, which resolves the proxies' own names unjudged.
/// Idle connections kept per host, and for how long. A run uses a host's connections back to back and then leaves
/// it, so a few, briefly, keep every reuse that happens; more would hold a descriptor per host per connection for
/// long after its sources finished (reqwest's default: every one, for 90 s), which with hundreds of hosts runs
/// into the open-file limit.
const IDLE_PER_HOST: usize = 4;
const IDLE_FOR: Duration = Duration::from_secs(5);

fn build_client(
    options: &Options,
    proxy: Option<&Url>,
    policy: guard::Policy,
    lookup: &resolver::Lookup,
) -> Result<reqwest::Client, reqwest::Error> {
    let proxies = match proxy {
        Some(proxy) => proxy.host_str().into_iter().map(str::to_owned).collect(),
        None => env_proxy_hosts(),
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(options.user_agent.clone())
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .pool_idle_timeout(IDLE_FOR)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(resolver::Guarded::new(policy, proxies, lookup.clone())));
    if let Some(proxy) = proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?);
    }
    builder.build()
}

/// The host names of the proxies reqwest takes from the environment (a proxy there may be written without a
/// scheme, as reqwest allows).
fn env_proxy_hosts() -> Vec<String> {
    [
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
    ]
    .iter()
    .filter_map(|var| std::env::var(var).ok())
    .filter_map(|value| {
        let value = value.trim();
        let url = if value.contains("://") {
            Url::parse(value)
        } else {
            Url::parse(&format!("http://{value}"))
        };
        url.ok()?.host_str().map(str::to_owned)
    })
    .collect()
}

/// The refusal behind a request error, when the client's resolver refused every address of the name.
fn refusal(error: &reqwest::Error) -> Option<guard::Refusal> {
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        if let Some(refusal) = c.downcast_ref::<guard::Refusal>() {
            return Some(refusal.clone());
        }
        cause = c.source();
    }
    None
}

/// Whether a connect error is a TLS failure (a certificate or protocol problem, which retrying cannot fix) rather
/// than a refused or dropped connection. rustls reports these as `InvalidData` I/O errors, which hyper wraps in
/// another I/O error (and `io::Error::source` skips the wrapped one, hence `get_ref`).
fn is_tls(error: &reqwest::Error) -> bool {
    fn invalid_data(io: &std::io::Error) -> bool {
        io.kind() == std::io::ErrorKind::InvalidData
            || io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>())
                .is_some_and(invalid_data)
    }
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(invalid_data) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Whether credentials meant for `origin` may go to `url` (the rule browsers and reqwest use).
fn same_host(origin: &Url, url: &Url) -> bool {
    origin.host_str() == url.host_str() && origin.port_or_known_default() == url.port_or_known_default()
}

fn header_str(headers: &HeaderMap<HeaderValue>, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Deterministic jitter in `[0, 1)` from the URL and attempt, so retries of different URLs spread out without
/// a random source (runs stay reproducible).
fn jitter(url: &Url, attempt: u32) -> f64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    (url.as_str(), attempt).hash(&mut h);
    (h.finish() % 1000) as f64 / 1000.0
}
