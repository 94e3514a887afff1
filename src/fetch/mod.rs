//! HTTP fetching: one GET with timeouts, a body cap, redirects, retries and conditional requests, decoded to text.
//!
//! Returns the decoded page together with the URL it finally came from, so relative links resolve against where
//! the page really is. Knows nothing of HTML or feeds; the only policy here is being a careful HTTP client.

pub mod charset;
pub mod retry;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::model::Validators;

/// Client settings, from `[settings]`.
#[derive(Debug, Clone)]
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

/// A page as served: decoded text and where it came from.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL after redirects; the base for relative links.
    pub final_url: Url,
    pub status: u16,
    pub text: String,
    pub encoding: &'static str,
    pub validators: Validators,
    pub bytes: usize,
}

#[derive(Debug, Clone)]
pub enum Fetched {
    Page(Page),
    /// The server answered 304 to a conditional request: the stored copy is current.
    NotModified,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("GET {url} timed out after {timeout:?}")]
    Timeout { url: Url, timeout: Duration },
    #[error("GET {url}: cannot connect")]
    Connect {
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
    #[error("GET {url}: too many redirects or a redirect loop")]
    Redirect { url: Url },
    #[error("GET {url}: the connection broke while reading the body")]
    Body {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} failed")]
    Request {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
}

impl FetchError {
    pub fn url(&self) -> &Url {
        match self {
            Self::Timeout { url, .. }
            | Self::Connect { url, .. }
            | Self::Status { url, .. }
            | Self::TooLarge { url, .. }
            | Self::Redirect { url }
            | Self::Body { url, .. }
            | Self::Request { url, .. } => url,
        }
    }
}

/// A shared HTTP client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    options: Options,
    clock: fn() -> DateTime<Utc>,
}

impl Fetcher {
    /// `clock` is only read to interpret a `Retry-After` date.
    pub fn new(options: Options, clock: fn() -> DateTime<Utc>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(options.max_redirects))
            .build()?;
        Ok(Fetcher { client, options, clock })
    }

    /// GETs `url`, conditionally when `validators` are given, retrying what `retry::delay` allows.
    pub async fn get(&self, url: &Url, validators: Option<&Validators>) -> Result<Fetched, FetchError> {
        let mut attempt = 0;
        loop {
            match self.get_once(url, validators).await {
                Ok(fetched) => return Ok(fetched),
                Err(error) => {
                    let jitter = jitter(url, attempt);
                    match retry::delay(&error, attempt, self.options.retry_base, jitter) {
                        Some(wait) if attempt < self.options.retries => {
                            tracing::debug!(url = %url, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                        }
                        _ => return Err(error),
                    }
                }
            }
        }
    }

    async fn get_once(&self, url: &Url, validators: Option<&Validators>) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone());
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
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let retry_after = header_str(response.headers(), header::RETRY_AFTER)
                .and_then(|v| retry::parse_retry_after(v, (self.clock)()));
            return Err(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
                retry_after,
            });
        }
        let final_url = response.url().clone();
        let headers = response.headers().clone();
        let limit = self.options.max_body;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge {
                url: url.clone(),
                limit,
            });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match self.classify(url, e) {
                FetchError::Request { url, source } => FetchError::Body { url, source },
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
        let (text, encoding) = charset::decode(&body, header_str(&headers, header::CONTENT_TYPE));
        Ok(Fetched::Page(Page {
            final_url,
            status: status.as_u16(),
            text,
            encoding: encoding.name(),
            validators: Validators {
                etag: header_str(&headers, header::ETAG).map(str::to_owned),
                last_modified: header_str(&headers, header::LAST_MODIFIED).map(str::to_owned),
            },
            bytes: body.len(),
        }))
    }

    fn classify(&self, url: &Url, source: reqwest::Error) -> FetchError {
        let url = url.clone();
        if source.is_timeout() {
            FetchError::Timeout {
                url,
                timeout: self.options.timeout,
            }
        } else if source.is_redirect() {
            FetchError::Redirect { url }
        } else if source.is_connect() {
            FetchError::Connect { url, source }
        } else if source.is_body() || source.is_decode() {
            FetchError::Body { url, source }
        } else {
            FetchError::Request { url, source }
        }
    }
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
