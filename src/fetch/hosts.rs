//! Per-host politeness: at most N requests in flight to one host, and an optional minimum gap between the starts
//! of two requests to it.
//!
//! Every request the fetcher makes (listing, article, robots.txt, each redirect hop, each retry) takes a [`Slot`]
//! here first, so sources on the same host share one budget while sources on different hosts proceed in parallel.
//! A host is its origin (scheme, host, port). Time is tokio's clock, so tests can pause it; nothing here sleeps
//! longer than the gap or a server's `Retry-After` asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// How hard one host may be hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The least time between the starts of two requests (robots.txt `Crawl-delay` raises it, never lowers it).
    pub min_gap: Duration,
}

impl Default for HostLimits {
    fn default() -> Self {
        HostLimits {
            concurrency: 4,
            min_gap: Duration::ZERO,
        }
    }
}

impl HostLimits {
    /// The stricter of two limits: used when several sources name the same host.
    pub fn strictest(self, other: HostLimits) -> HostLimits {
        HostLimits {
            concurrency: self.concurrency.min(other.concurrency).max(1),
            min_gap: self.min_gap.max(other.min_gap),
        }
    }
}

/// The key of a host: its origin, e.g. `https://www.wuzhenwic.org` or `http://127.0.0.1:8080`.
pub fn key(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The shared table of hosts; one per process.
#[derive(Debug, Default)]
pub struct Hosts {
    map: Mutex<HashMap<String, Arc<Host>>>,
}

#[derive(Debug)]
struct Host {
    permits: Arc<Semaphore>,
    limits: HostLimits,
    /// The earliest start of the next request.
    next: Mutex<Option<Instant>>,
}

/// Permission to send one request; the host's in-flight count drops when it is dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Hosts {
    /// Sets the limits of `url`'s host before any request, merging with limits already set (the strictest wins).
    /// A host first met without this takes the limits of the first request to it.
    pub fn configure(&self, url: &Url, limits: HostLimits) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let key = key(url);
        let merged = map.get(&key).map_or(limits, |h| h.limits.strictest(limits));
        map.insert(key, Arc::new(Host::new(merged)));
    }

    /// The limits in force for `url`'s host, if it was configured or used.
    pub fn limits(&self, url: &Url) -> Option<HostLimits> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&key(url)).map(|h| h.limits)
    }

    /// Waits for a free slot on `url`'s host and for its gap (the larger of the host's `min_gap` and
    /// `extra_gap`) to pass since the previous start.
    pub async fn acquire(&self, url: &Url, limits: HostLimits, extra_gap: Duration) -> Slot {
        let host = self.host(url, limits);
        let permit = Arc::clone(&host.permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let gap = host.limits.min_gap.max(extra_gap);
        let start = {
            let mut next = host.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let start = next.map_or(now, |n| n.max(now));
            *next = Some(start + gap);
            start
        };
        // A start that is due now must not wait: the timer rounds a deadline up to its next millisecond tick.
        if start > Instant::now() {
            tokio::time::sleep_until(start).await;
        }
        Slot { _permit: permit }
    }

    /// Holds every request to `url`'s host back until `until` (a server's `Retry-After` speaks for the host).
    pub fn defer(&self, url: &Url, until: Instant) {
        let host = self.host(url, HostLimits::default());
        let mut next = host.next.lock().unwrap_or_else(PoisonError::into_inner);
        *next = Some(next.map_or(until, |n| n.max(until)));
    }

    fn host(&self, url: &Url, limits: HostLimits) -> Arc<Host> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(key(url)).or_insert_with(|| Arc::new(Host::new(limits))))
    }
}

impl Host {
    fn new(limits: HostLimits) -> Self {
        Host {
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            limits,
            next: Mutex::new(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn limits(concurrency: usize, gap_ms: u64) -> HostLimits {
        HostLimits {
            concurrency,
            min_gap: Duration::from_millis(gap_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_n_requests_are_in_flight_per_host() {
        let hosts = Arc::new(Hosts::default());
        let a = url("http://a.example/x");
        let slots: Vec<Slot> =
            futures_util::future::join_all((0..2).map(|_| hosts.acquire(&a, limits(2, 0), Duration::ZERO))).await;
        // A third request to the same host waits; one to another host does not.
        let third = tokio::spawn({
            let (hosts, a) = (Arc::clone(&hosts), a.clone());
            async move { hosts.acquire(&a, limits(2, 0), Duration::ZERO).await }
        });
        let b = url("http://b.example/");
        let other = hosts.acquire(&b, limits(2, 0), Duration::ZERO);
        tokio::time::timeout(Duration::from_secs(1), other)
            .await
            .expect("other host is free");
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(slots);
        tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a slot was freed")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_larger_of_min_gap_and_crawl_delay() {
        let hosts = Hosts::default();
        let a = url("http://a.example/");
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for extra in [0, 0, 500] {
            drop(hosts.acquire(&a, limits(4, 200), Duration::from_millis(extra)).await);
            starts.push(Instant::now() - t0);
        }
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        // The third start waits for the gap set by the second (200 ms); its own 500 ms applies to the next one.
        assert_eq!(ms, [0, 200, 400]);
        drop(hosts.acquire(&a, limits(4, 200), Duration::ZERO).await);
        assert_eq!((Instant::now() - t0).as_millis(), 900);
    }

    #[tokio::test]
    async fn a_free_slot_with_no_gap_due_is_taken_at_once() {
        use futures_util::FutureExt;
        let hosts = Hosts::default();
        let a = url("http://a.example/");
        // Ready when first polled: a timer set for now would fire only at its next millisecond tick, and every
        // request to a host without a gap would wait for it.
        for _ in 0..3 {
            let slot = hosts.acquire(&a, limits(4, 0), Duration::ZERO).now_or_never();
            assert!(slot.is_some(), "waited for a timer with nothing to wait for");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_the_whole_host_back() {
        let hosts = Hosts::default();
        let a = url("http://a.example/");
        let t0 = Instant::now();
        hosts.defer(&a, t0 + Duration::from_secs(3));
        drop(
            hosts
                .acquire(&url("http://a.example/other"), limits(4, 0), Duration::ZERO)
                .await,
        );
        assert_eq!((Instant::now() - t0).as_secs(), 3);
    }

    #[test]
    fn configured_limits_merge_to_the_strictest() {
        let hosts = Hosts::default();
        let a = url("https://a.example/news");
        hosts.configure(&a, limits(4, 0));
        hosts.configure(&url("https://a.example/other"), limits(2, 100));
        hosts.configure(&url("https://a.example:8443/"), limits(8, 0));
        assert_eq!(hosts.limits(&a), Some(limits(2, 100)));
        assert_eq!(hosts.limits(&url("https://a.example:8443/x")), Some(limits(8, 0)));
    }
}
