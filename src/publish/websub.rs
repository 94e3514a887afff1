//! WebSub publisher side: tells a hub that a feed changed, so subscribers get it pushed instead of polling.
//!
//! Input: the hub URL from `[settings] hub` and the public URL of a feed whose file really changed. Output: one
//! form POST (`hub.mode=publish`, `hub.url=<feed>`), repeated with exponential backoff on timeouts, dropped
//! connections, 429 and 5xx. It must never fail a run: the caller logs the error and goes on, and the feeds still
//! carry `<link rel="hub">` so subscribers can recover on their next poll.

use std::time::Duration;

use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("WebSub hub {hub} answered HTTP {status} to the publish ping for {feed}")]
    Status { hub: Url, feed: Url, status: u16 },
    #[error("WebSub publish ping to {hub} for {feed} failed")]
    Request {
        hub: Url,
        feed: Url,
        #[source]
        source: reqwest::Error,
    },
}

impl PingError {
    fn retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || (500..600).contains(status),
            Self::Request { source, .. } => source.is_timeout() || source.is_connect() || source.is_request(),
        }
    }
}

/// Sends publish pings; cheap to clone.
#[derive(Debug, Clone)]
pub struct Pinger {
    client: reqwest::Client,
    attempts: u32,
    base: Duration,
}

impl Pinger {
    /// Three attempts, one and two seconds apart.
    pub fn new(user_agent: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .build()?;
        Ok(Pinger {
            client,
            attempts: 3,
            base: Duration::from_secs(1),
        })
    }

    /// Changes how often and how patiently a ping is repeated (`attempts` at least 1).
    pub fn with_retries(mut self, attempts: u32, base: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.base = base;
        self
    }

    /// Tells `hub` that `feed` changed; returns the number of attempts it took.
    pub async fn ping(&self, hub: &Url, feed: &Url) -> Result<u32, PingError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(hub, feed).await {
                Ok(()) => return Ok(attempt),
                Err(e) if attempt < self.attempts && e.retryable() => {
                    let wait = self.base.saturating_mul(1 << (attempt - 1).min(16));
                    tracing::debug!(hub = %hub, feed = %feed, attempt, wait_ms = wait.as_millis() as u64, error = %e, "retrying hub ping");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn once(&self, hub: &Url, feed: &Url) -> Result<(), PingError> {
        let response = self
            .client
            .post(hub.clone())
            .form(&[("hub.mode", "publish"), ("hub.url", feed.as_str())])
            .send()
            .await
            .map_err(|source| PingError::Request {
                hub: hub.clone(),
                feed: feed.clone(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(PingError::Status {
                hub: hub.clone(),
                feed: feed.clone(),
                status: status.as_u16(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{body_string, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn pinger() -> Pinger {
        Pinger::new("feedwright-test", Duration::from_secs(5))
            .unwrap()
            .with_retries(3, Duration::from_millis(1))
    }

    #[tokio::test]
    async fn a_publish_ping_is_a_form_post_naming_the_feed_and_is_retried_after_a_server_error() {
        let hub = MockServer::start().await;
        let expected = "hub.mode=publish&hub.url=http%3A%2F%2F127.0.0.1%3A8080%2Fwic-news.atom";
        Mock::given(method("POST"))
            .and(path("/hub"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string(expected))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .expect(1)
            .mount(&hub)
            .await;
        Mock::given(method("POST"))
            .and(path("/hub"))
            .and(body_string(expected))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&hub)
            .await;
        let hub_url = Url::parse(&format!("{}/hub", hub.uri())).unwrap();
        let feed = Url::parse("http://127.0.0.1:8080/wic-news.atom").unwrap();
        assert_eq!(pinger().ping(&hub_url, &feed).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_hub_that_refuses_is_not_asked_again_and_the_error_names_hub_and_feed() {
        let hub = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400))
            .expect(1)
            .mount(&hub)
            .await;
        let hub_url = Url::parse(&hub.uri()).unwrap();
        let feed = Url::parse("http://127.0.0.1:8080/a.rss").unwrap();
        let err = pinger().ping(&hub_url, &feed).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("WebSub hub {hub_url} answered HTTP 400 to the publish ping for {feed}")
        );
    }

    #[tokio::test]
    async fn an_unreachable_hub_gives_up_after_the_last_attempt() {
        // A port that was free a moment ago: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let hub_url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let feed = Url::parse("http://127.0.0.1:8080/a.json").unwrap();
        let err = pinger().ping(&hub_url, &feed).await.unwrap_err();
        assert!(matches!(err, PingError::Request { .. }), "{err:?}");
    }
}
