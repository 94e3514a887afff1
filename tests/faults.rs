//! Fault injection: every way a server can misbehave yields a page or a clear error naming the URL, never a panic,
//! and never a lost or emptied feed.
//!
//! The first half drives the [`Fetcher`] directly against local servers: `wiremock` for HTTP-level faults and a
//! raw `TcpListener` for byte-level ones (a body cut short, a trickle, an endless body). The second half runs the
//! real binary against a temp config whose URLs point at a local copy of the conference site
//! (`tests/fixtures`), with feeds "published" beforehand, and checks they survive every failure. Retry waits are
//! configured down to milliseconds; the slowest test waits about two seconds, for a timeout.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use feedwright::fetch::{FetchError, Fetched, Fetcher, HostLimits, Options, Page, Profile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const UA: &str = "feedwright/0.1 (fault tests)";
const ZH: &str = "世界互联网大会闭幕";

fn clock() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2015-12-18T12:00:00Z").unwrap().to_utc()
}

fn fetcher(timeout: Duration, max_body: u64) -> Fetcher {
    let mut options = Options::new(UA.into(), timeout, max_body);
    options.retry_base = Duration::from_millis(10);
    Fetcher::new(options, clock).unwrap()
}

fn quick() -> Fetcher {
    fetcher(Duration::from_secs(10), 8 << 20)
}

fn url(server: &MockServer, p: &str) -> Url {
    Url::parse(&format!("{}{p}", server.uri())).unwrap()
}

async fn page(fetcher: &Fetcher, url: &Url) -> Page {
    match fetcher.get(url, None).await {
        Ok(Fetched::Page(page)) => page,
        other => panic!("GET {url}: {other:?}"),
    }
}

async fn requests_to(server: &MockServer, p: &str) -> usize {
    let all = server.received_requests().await.unwrap_or_default();
    all.iter().filter(|r| r.url.path() == p).count()
}

/// The error and its causes, as the pipeline prints them.
fn chain(e: &FetchError) -> String {
    feedwright::error_chain(e)
}

// ---------------------------------------------------------------------------------------------------------------
// A raw server for faults below HTTP.

#[derive(Debug, Default)]
struct Stats {
    /// Requests other than robots.txt.
    requests: AtomicUsize,
    written: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Serves 127.0.0.1 on a free port: robots.txt is a 404, every other request goes to `handle` with the socket
/// (one request per connection). Returns a page URL on it. The server lives as long as the test's runtime.
async fn raw_server<F, Fut>(handle: F) -> (Url, Arc<Stats>)
where
    F: Fn(TcpStream, Arc<Stats>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let handle = Arc::new(handle);
    let server_stats = Arc::clone(&stats);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (handle, stats) = (Arc::clone(&handle), Arc::clone(&server_stats));
            tokio::spawn(async move {
                if read_request(&mut stream).await == "/robots.txt" {
                    let _ = stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                stats.requests.fetch_add(1, Ordering::SeqCst);
                let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
                handle(stream, Arc::clone(&stats)).await;
                stats.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (Url::parse(&format!("http://{addr}/page.htm")).unwrap(), stats)
}

/// Reads one request head and returns its path.
async fn read_request(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    head.split_whitespace().nth(1).unwrap_or("/").to_owned()
}

async fn write_counted(stream: &mut TcpStream, stats: &Stats, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stats.written.fetch_add(bytes.len() as u64, Ordering::SeqCst);
    Ok(())
}

/// Streams zeros until `total` bytes or until the client hangs up, whichever comes first.
async fn stream_zeros(mut stream: TcpStream, stats: Arc<Stats>, total: u64, chunked: bool) {
    let head: &[u8] = if chunked {
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 52428800\r\n\r\n"
    };
    if stream.write_all(head).await.is_err() {
        return;
    }
    let chunk = vec![b'0'; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    let mut sent = 0;
    while sent < total {
        let bytes = if chunked { &framed } else { &chunk };
        if write_counted(&mut stream, &stats, bytes).await.is_err() {
            return;
        }
        sent += chunk.len() as u64;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The fetcher against one fault at a time.

#[tokio::test]
async fn a_500_then_a_200_is_retried_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<p>ok</p>"))
        .mount(&server)
        .await;
    let page = page(&quick(), &url(&server, "/news.htm")).await;
    assert_eq!(page.text, "<p>ok</p>");
    assert_eq!(requests_to(&server, "/news.htm").await, 2);
}

#[tokio::test]
async fn persistent_server_errors_end_in_a_clear_error_after_the_retries() {
    let server = MockServer::start().await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let target = url(&server, "/news.htm");
    let error = quick().get(&target, None).await.unwrap_err();
    assert_eq!(chain(&error), format!("GET {target} returned HTTP 503"));
    // Two retries by default; a 404 would not have been retried at all.
    assert_eq!(requests_to(&server, "/news.htm").await, 3);
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let server = MockServer::start().await;
    let target = url(&server, "/gone.htm");
    let error = quick().get(&target, None).await.unwrap_err();
    assert!(matches!(error, FetchError::Status { status: 404, .. }), "{error}");
    assert_eq!(requests_to(&server, "/gone.htm").await, 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let server = MockServer::start().await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<p>later</p>"))
        .mount(&server)
        .await;
    let page = page(&quick(), &url(&server, "/news.htm")).await;
    assert_eq!(page.text, "<p>later</p>");
    assert_eq!(requests_to(&server, "/news.htm").await, 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_a_run_should_wait_fails_the_url_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let target = url(&server, "/news.htm");
    let error = quick().get(&target, None).await.unwrap_err();
    assert_eq!(error.to_string(), format!("GET {target} returned HTTP 429"));
    assert_eq!(requests_to(&server, "/news.htm").await, 1);
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_retried_then_a_clear_error() {
    let (target, stats) = raw_server(|mut stream, stats| async move {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10000\r\n\r\n";
        let _ = stream.write_all(head).await;
        let _ = write_counted(&mut stream, &stats, &[b'x'; 100]).await;
        let _ = stream.shutdown().await;
    })
    .await;
    let error = quick().get(&target, None).await.unwrap_err();
    assert!(matches!(error, FetchError::Body { .. }), "{}", chain(&error));
    assert!(
        chain(&error).starts_with(&format!("GET {target}: the connection broke while reading the body")),
        "{}",
        chain(&error)
    );
    assert_eq!(stats.requests.load(Ordering::SeqCst), 3, "retried twice");
}

#[tokio::test]
async fn a_tls_failure_is_final() {
    // Answers a TLS ClientHello with plain HTTP, as a misconfigured port does.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0; 512];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let target = Url::parse(&format!("https://{addr}/news.htm")).unwrap();
    let error = quick().get(&target, None).await.unwrap_err();
    assert!(matches!(error, FetchError::Tls { .. }), "{}", chain(&error));
    assert!(chain(&error).starts_with(&format!("GET {target}: TLS handshake failed")));
    // One for robots.txt (which then allows), one for the page: no retries.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Url::parse(&format!("http://{}/news.htm", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let error = quick().get(&target, None).await.unwrap_err();
    assert!(matches!(error, FetchError::Connect { .. }), "{}", chain(&error));
    assert!(chain(&error).starts_with(&format!("GET {target}: cannot connect")));
}

#[tokio::test]
async fn a_server_trickling_a_byte_a_second_hits_the_request_timeout() {
    let (target, stats) = raw_server(|mut stream, stats| async move {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n";
        let _ = stream.write_all(head).await;
        for _ in 0..30 {
            if write_counted(&mut stream, &stats, b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let mut options = Options::new(UA.into(), Duration::from_secs(2), 1 << 20);
    options.retries = 0;
    let fetcher = Fetcher::new(options, clock).unwrap();
    let error = fetcher.get(&target, None).await.unwrap_err();
    assert_eq!(error.to_string(), format!("GET {target} timed out after 2s"));
    assert!(stats.written.load(Ordering::SeqCst) < 10);
}

#[tokio::test]
async fn a_50_mb_body_is_refused_and_never_held_in_memory() {
    const FIFTY_MB: u64 = 50 << 20;
    let limit = 1 << 20;
    for chunked in [false, true] {
        let (target, stats) =
            raw_server(move |stream, stats| async move { stream_zeros(stream, stats, FIFTY_MB, chunked).await }).await;
        let error = fetcher(Duration::from_secs(10), limit)
            .get(&target, None)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("GET {target}: body is larger than the {limit} byte limit (max_body)")
        );
        assert_eq!(
            stats.requests.load(Ordering::SeqCst),
            1,
            "a too-large body is not retried"
        );
        // The client stopped reading at the limit (or at the Content-Length), so the server could only write what
        // fits in the socket buffers: far less than 50 MB.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let written = stats.written.load(Ordering::SeqCst);
        assert!(
            written < 16 << 20,
            "chunked {chunked}: the server wrote {written} bytes"
        );
    }
}

#[tokio::test]
async fn a_redirect_loop_and_an_endless_chain_are_clear_errors() {
    let server = MockServer::start().await;
    let redirect = |to: &str| ResponseTemplate::new(302).insert_header("Location", to);
    Mock::given(path("/a"))
        .respond_with(redirect("/b"))
        .mount(&server)
        .await;
    Mock::given(path("/b"))
        .respond_with(redirect("/a"))
        .mount(&server)
        .await;
    let a = url(&server, "/a");
    let error = quick().get(&a, None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("GET {a}: redirect loop (redirected back to {a})")
    );

    /// `/chain/N` redirects to `/chain/N+1`, forever.
    struct Chain;
    impl Respond for Chain {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let n: u32 = request.url.path().rsplit('/').next().unwrap().parse().unwrap();
            ResponseTemplate::new(301).insert_header("Location", format!("/chain/{}", n + 1).as_str())
        }
    }
    Mock::given(wiremock::matchers::path_regex("^/chain/[0-9]+$"))
        .respond_with(Chain)
        .mount(&server)
        .await;
    let start = url(&server, "/chain/0");
    let error = quick().get(&start, None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("GET {start}: more than 10 redirects (max_redirects)")
    );
    assert_eq!(requests_to(&server, "/chain/11").await, 0);
}

#[tokio::test]
async fn a_redirect_lands_on_its_final_url() {
    let server = MockServer::start().await;
    Mock::given(path("/news/2015-12/16/content_22734567.htm"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "/2015-12/16/c_47825.htm"))
        .mount(&server)
        .await;
    Mock::given(path("/2015-12/16/c_47825.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_string("moved"))
        .mount(&server)
        .await;
    let page = page(&quick(), &url(&server, "/news/2015-12/16/content_22734567.htm")).await;
    assert_eq!(page.final_url, url(&server, "/2015-12/16/c_47825.htm"));
}

fn zh_article() -> Vec<u8> {
    std::fs::read(fixtures().join("wic-zh/system/2015/12/18/020955008.shtml")).unwrap()
}

#[tokio::test]
async fn a_charset_header_that_contradicts_the_meta_does_not_garble_the_page() {
    let server = MockServer::start().await;
    // GBK bytes whose <meta> says gb2312, served under two lying headers.
    for (p, content_type) in [
        ("/utf8.shtml", "text/html; charset=utf-8"),
        ("/latin1.shtml", "text/html; charset=ISO-8859-1"),
    ] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(zh_article(), content_type))
            .mount(&server)
            .await;
    }
    let fetcher = quick();
    for p in ["/utf8.shtml", "/latin1.shtml"] {
        let page = page(&fetcher, &url(&server, p)).await;
        assert_eq!(page.encoding, "GBK", "{p}");
        assert!(page.text.contains(ZH), "{p}");
        // GBK-only characters of the byline survive (a GB2312-only decoder loses them).
        assert!(page.text.contains('镕'), "{p}");
    }
}

#[tokio::test]
async fn one_stray_byte_does_not_garble_a_declared_utf8_page() {
    // Declared UTF-8 in the header and the <meta>, one invalid byte: one U+FFFD, not "GrÃ¼ÃŸe ä¸­æ–‡".
    let mut body = "<html><head><meta charset=\"utf-8\"><title>Grüße</title></head>\
                    <body><p>Grüße 中文</p><p>Ende</p></body></html>"
        .as_bytes()
        .to_vec();
    let at = body.windows(4).position(|w| w == b"Ende").unwrap();
    body.insert(at, 0xFF);
    // And a real GBK page whose header and <meta> both claim UTF-8: plainly not UTF-8, so detection wins.
    let zh = replace_bytes(&zh_article(), b"charset=gb2312", b"charset=utf-8");
    let server = MockServer::start().await;
    for (p, bytes) in [("/de.html", body), ("/zh.shtml", zh)] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(bytes, "text/html; charset=utf-8"))
            .mount(&server)
            .await;
    }
    let fetcher = quick();
    let de = page(&fetcher, &url(&server, "/de.html")).await;
    assert_eq!(de.encoding, "UTF-8");
    assert_eq!(de.decoded, feedwright::fetch::charset::How::Repaired { invalid: 1 });
    assert!(de.text.contains("<p>Grüße 中文</p><p>\u{FFFD}Ende"), "{}", de.text);
    let zh = page(&fetcher, &url(&server, "/zh.shtml")).await;
    assert_eq!(zh.encoding, "GBK");
    assert!(zh.text.contains(ZH) && zh.text.contains('镕'));
}

fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = haystack.windows(from.len()).position(|w| w == from).expect("present");
    [&haystack[..at], to, &haystack[at + from.len()..]].concat()
}

#[tokio::test]
async fn robots_txt_is_fetched_once_per_host_and_obeyed() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "User-agent: *\nDisallow: /\n\nUser-agent: feedwright\nDisallow: /system/\nAllow: /web15/\n",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("page"))
        .with_priority(10)
        .mount(&server)
        .await;
    let fetcher = quick();
    let listing = url(&server, "/web15/news/index.shtml");
    let article = url(&server, "/system/2015/12/18/020955008.shtml");
    page(&fetcher, &listing).await;
    let error = fetcher.get(&article, None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "GET {article}: disallowed for this user agent by {} (set respect_robots = false only for a site you own)",
            url(&server, "/robots.txt")
        )
    );
    assert_eq!(requests_to(&server, article.path()).await, 0);

    // A source that owns the site may opt out; the cache is shared, robots.txt is not fetched again.
    let owner = fetcher
        .for_source(&Profile {
            respect_robots: false,
            ..Profile::default()
        })
        .unwrap();
    page(&owner, &article).await;
    page(&fetcher, &listing).await;
    assert_eq!(requests_to(&server, "/robots.txt").await, 1);
}

#[tokio::test]
async fn robots_txt_from_an_earlier_run_is_obeyed_without_asking_again_until_a_day_old() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("page"))
        .mount(&server)
        .await;
    let host = server.uri();
    let article = url(&server, "/system/2015/12/18/020955008.shtml");

    // Fetched by an earlier run an hour ago: obeyed, and nothing is asked.
    let fetcher = quick();
    fetcher.remember_robots(
        &host,
        Some("User-agent: *\nDisallow: /system/\n"),
        Duration::from_secs(3600),
    );
    assert!(matches!(
        fetcher.get(&article, None).await,
        Err(FetchError::Disallowed { .. })
    ));
    page(&fetcher, &url(&server, "/web15/news/index.shtml")).await;
    assert_eq!(requests_to(&server, "/robots.txt").await, 0);
    assert!(fetcher.take_fetched_robots().is_empty(), "nothing new to keep");

    // A day old: asked again (its robots.txt now has no rules), and the answer is handed over for keeping.
    let fetcher = quick();
    fetcher.remember_robots(
        &host,
        Some("User-agent: *\nDisallow: /\n"),
        Duration::from_secs(25 * 3600),
    );
    page(&fetcher, &article).await;
    assert_eq!(requests_to(&server, "/robots.txt").await, 1);
    assert_eq!(
        fetcher.take_fetched_robots(),
        vec![(host.clone(), Some("page".to_owned()))]
    );
}

#[tokio::test]
async fn stored_robots_txt_is_read_once_per_fetcher_however_many_sources_ask() {
    use feedwright::fetch::robots::Remembered;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("page"))
        .mount(&server)
        .await;
    let fetcher = quick();
    let remembered = || {
        vec![Remembered {
            host: server.uri(),
            body: Some("User-agent: *\nDisallow: /private/\n".into()),
            age: Duration::from_secs(60),
        }]
    };
    // A load that fails seeds nothing: the next source is asked to read them.
    let failed: Result<(), &str> = fetcher.seeding_robots(|first| {
        assert!(first);
        Err("the store is locked")
    });
    assert!(failed.is_err());
    let mut asked = Vec::new();
    for _ in 0..3 {
        // Each source of a run, on a fetcher of its own made from the run's.
        let source = fetcher.for_source(&Default::default()).unwrap();
        let first = source
            .seeding_robots(|first| Ok::<_, ()>((first, if first { remembered() } else { Vec::new() })))
            .unwrap();
        asked.push(first);
    }
    assert_eq!(
        asked,
        [true, false, false],
        "only the first source reads the stored files"
    );
    // The seeded rules hold for every fetcher of the run, without a robots.txt request.
    let other = fetcher.for_source(&Default::default()).unwrap();
    assert!(matches!(
        other.get(&url(&server, "/private/a.htm"), None).await,
        Err(FetchError::Disallowed { .. })
    ));
    page(&other, &url(&server, "/news/a.htm")).await;
    assert_eq!(requests_to(&server, "/robots.txt").await, 0);
}

#[tokio::test]
async fn a_redirect_into_a_disallowed_path_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(200).set_body_string("User-agent: *\nDisallow: /private/\n"))
        .mount(&server)
        .await;
    Mock::given(path("/open"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "/private/x"))
        .mount(&server)
        .await;
    let error = quick().get(&url(&server, "/open"), None).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::Disallowed { url } if url.path() == "/private/x"),
        "{error}"
    );
    assert_eq!(requests_to(&server, "/private/x").await, 0);
}

#[tokio::test]
async fn a_broken_robots_txt_allows_the_fetch() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    assert_eq!(page(&quick(), &url(&server, "/news.htm")).await.text, "ok");
    // robots.txt is asked once and not retried: it decides nothing when it fails.
    assert_eq!(requests_to(&server, "/robots.txt").await, 1);
}

#[tokio::test]
async fn gzip_brotli_and_deflate_bodies_are_accepted_and_decoded() {
    let text = "<p>World Internet Conference</p>".repeat(50);
    let gzip = {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(text.as_bytes()).unwrap();
        w.finish().unwrap()
    };
    let deflate = {
        let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(text.as_bytes()).unwrap();
        w.finish().unwrap()
    };
    let br = {
        let mut out = Vec::new();
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(text.as_bytes()).unwrap();
        drop(w);
        out
    };
    let server = MockServer::start().await;
    for (encoding, body) in [("gzip", gzip), ("br", br), ("deflate", deflate)] {
        Mock::given(path(format!("/{encoding}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Encoding", encoding)
                    .set_body_raw(body, "text/html; charset=utf-8"),
            )
            .mount(&server)
            .await;
    }
    let fetcher = quick();
    for encoding in ["gzip", "br", "deflate"] {
        let page = page(&fetcher, &url(&server, &format!("/{encoding}"))).await;
        assert_eq!(page.text, text, "{encoding}");
    }
    let requests = server.received_requests().await.unwrap();
    let accept = requests
        .iter()
        .find(|r| r.url.path() == "/gzip")
        .and_then(|r| r.headers.get("accept-encoding"))
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap();
    for encoding in ["gzip", "br", "deflate"] {
        assert!(accept.contains(encoding), "Accept-Encoding: {accept}");
    }
}

#[tokio::test]
async fn requests_in_flight_to_one_host_stay_within_its_limit() {
    let (target, stats) = raw_server(|mut stream, _| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await;
    })
    .await;
    let fetcher = quick();
    fetcher.configure_host(
        &target,
        HostLimits {
            concurrency: 2,
            min_gap: Duration::ZERO,
        },
    );
    let urls: Vec<Url> = (0..8).map(|i| target.join(&format!("/a{i}.htm")).unwrap()).collect();
    let results = futures_util::future::join_all(urls.iter().map(|u| fetcher.get(u, None))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(stats.requests.load(Ordering::SeqCst), 8);
    assert_eq!(stats.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn source_headers_and_cookies_are_sent_and_cookies_stay_on_their_host() {
    let site = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&site)
        .await;
    Mock::given(path("/away"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", format!("{}/there", elsewhere.uri())))
        .mount(&site)
        .await;
    Mock::given(path("/there"))
        .respond_with(ResponseTemplate::new(200).set_body_string("there"))
        .mount(&elsewhere)
        .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-feed", "wic".parse().unwrap());
    headers.insert(reqwest::header::COOKIE, "session=s3cret; lang=en".parse().unwrap());
    let fetcher = quick()
        .for_source(&Profile {
            headers,
            ..Profile::default()
        })
        .unwrap();
    page(&fetcher, &url(&site, "/news.htm")).await;
    page(&fetcher, &url(&site, "/away")).await;

    let at_site = site.received_requests().await.unwrap();
    let news = at_site.iter().find(|r| r.url.path() == "/news.htm").unwrap();
    assert_eq!(news.headers["x-feed"], "wic");
    assert_eq!(news.headers["cookie"], "session=s3cret; lang=en");
    assert!(news.headers["user-agent"].to_str().unwrap().starts_with("feedwright/"));
    let there = elsewhere.received_requests().await.unwrap();
    let there = there.iter().find(|r| r.url.path() == "/there").unwrap();
    assert_eq!(there.headers["x-feed"], "wic");
    assert!(
        there.headers.get("cookie").is_none(),
        "a cookie followed a redirect to another host"
    );
}

#[tokio::test]
async fn a_source_proxy_carries_its_requests() {
    // wiremock answers absolute-form requests, so it can stand in for a forward proxy.
    let proxy = MockServer::start().await;
    Mock::given(path("/news.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_string("via proxy"))
        .mount(&proxy)
        .await;
    let fetcher = quick()
        .for_source(&Profile {
            proxy: Some(Url::parse(&proxy.uri()).unwrap()),
            ..Profile::default()
        })
        .unwrap();
    let target = Url::parse("http://wic.invalid/news.htm").unwrap();
    assert_eq!(page(&fetcher, &target).await.text, "via proxy");
    let seen = proxy.received_requests().await.unwrap();
    assert!(seen.iter().any(|r| r.url.as_str() == "http://wic.invalid/robots.txt"));
    assert!(seen.iter().any(|r| r.url.as_str() == "http://wic.invalid/news.htm"));
}

#[tokio::test]
async fn a_used_up_budget_skips_the_request_with_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(path("/slow.htm"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let budget = Duration::from_millis(300);
    let fetcher = quick().with_budget(tokio::time::Instant::now() + budget, budget);
    let target = url(&server, "/slow.htm");
    let error = fetcher.get(&target, None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("GET {target} skipped: the source's time budget of 300ms was used up")
    );
    // Once it is used up, nothing more is sent.
    let other = url(&server, "/other.htm");
    assert!(matches!(
        fetcher.get(&other, None).await,
        Err(FetchError::Budget { .. })
    ));
    assert_eq!(requests_to(&server, "/other.htm").await, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// The real binary against a local copy of the site, with feeds published before the run.

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Serves a fixture site as the static test server in `tests/fixtures/README.md` does: `text/html` without a
/// charset (or `content_type`), 301 for `_redirects`, 404 for anything else.
struct Site {
    root: PathBuf,
    content_type: &'static str,
}

impl Respond for Site {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let p = request.url.path();
        let redirects = std::fs::read_to_string(self.root.join("_redirects")).unwrap_or_default();
        let moved = redirects
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .find(|(from, _)| *from == p);
        if let Some((_, to)) = moved {
            return ResponseTemplate::new(301).insert_header("Location", to.trim());
        }
        let file = self.root.join(p.trim_start_matches('/'));
        match std::fs::read(&file) {
            Ok(bytes) if !p.contains("..") && !p.starts_with("/_") => {
                ResponseTemplate::new(200).set_body_raw(bytes, self.content_type)
            }
            _ => ResponseTemplate::new(404).set_body_string("Not Found"),
        }
    }
}

async fn site(name: &str, content_type: &'static str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Site {
            root: fixtures().join(name),
            content_type,
        })
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

const PREVIOUS: &str = "<!-- the feed published by an earlier run -->\n";

/// A temp folder with `config/feedwright.toml` (the demo config moved onto `server`) and feeds already published.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(server: &MockServer, settings: &str, edit: impl FnOnce(String) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../config/demo.toml")
            .replace("http://127.0.0.1/", &format!("{}/", server.uri()))
            .replace(
                "[settings]\n",
                &format!("[settings]\nretry_base = \"10ms\"\n{settings}\n"),
            );
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/feedwright.toml"), edit(text)).unwrap();
        std::fs::create_dir_all(dir.path().join("feeds")).unwrap();
        for source in ["wic-news", "wic-news-zh"] {
            for ext in ["atom", "rss", "json"] {
                std::fs::write(dir.path().join(format!("feeds/{source}.{ext}")), PREVIOUS).unwrap();
            }
        }
        Workspace { dir }
    }

    fn run(&self, source: &str) -> assert_cmd::assert::Assert {
        let mut cmd = Command::cargo_bin("feedwright").unwrap();
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        self.command(&mut cmd, source)
    }

    fn command(&self, cmd: &mut Command, source: &str) -> assert_cmd::assert::Assert {
        cmd.env_remove("FEEDWRIGHT_LOG")
            .args(["--config", "config/feedwright.toml", "run", "--source", source])
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(60))
            .assert()
    }

    fn feed(&self, source: &str, ext: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("feeds/{source}.{ext}"))).unwrap()
    }

    fn assert_untouched(&self, source: &str) {
        for ext in ["atom", "rss", "json"] {
            assert_eq!(self.feed(source, ext), PREVIOUS, "{source}.{ext} was touched");
        }
    }
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[tokio::test]
async fn a_listing_that_fails_once_is_retried_and_published() {
    let server = site("wic-en", "text/html").await;
    Mock::given(path("/news/node_35363.htm"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let ws = Workspace::new(&server, "", |t| t);
    let run = ws.run("wic-news").code(0);
    assert!(
        stderr(&run).contains("c_47830.htm returned HTTP 404"),
        "{}",
        stderr(&run)
    );
    let atom = ws.feed("wic-news", "atom");
    assert!(atom.contains("<entry>"), "{atom}");
    assert_eq!(requests_to(&server, "/news/node_35363.htm").await, 2);
}

#[tokio::test]
async fn robots_txt_disallowing_the_articles_fails_the_source_and_keeps_its_feed() {
    let server = site("wic-en", "text/html").await;
    Mock::given(path("/robots.txt"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                "User-agent: *\nDisallow: /2015-12/\nDisallow: /specials/\nDisallow: /news/2015-12/\n",
            ),
        )
        .mount(&server)
        .await;
    let ws = Workspace::new(&server, "", |t| t);
    let run = ws.run("wic-news").code(4);
    let log = stderr(&run);
    let article = format!("{}/2015-12/16/c_47822.htm", server.uri());
    assert!(
        log.contains(&format!(
            "GET {article}: disallowed for this user agent by {}/robots.txt",
            server.uri()
        )),
        "{log}"
    );
    ws.assert_untouched("wic-news");
    let fetched: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(fetched.iter().all(|p| !p.starts_with("/2015-12/")), "{fetched:?}");
}

#[tokio::test]
async fn a_used_up_time_budget_degrades_the_source_and_keeps_its_feed() {
    let server = site("wic-en", "text/html").await;
    Mock::given(wiremock::matchers::path_regex("^/(2015-12|specials)/"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .with_priority(1)
        .mount(&server)
        .await;
    let ws = Workspace::new(&server, "budget = \"1s\"", |t| t);
    let run = ws.run("wic-news").code(0);
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert!(out.contains("degraded"), "{out}\n{}", stderr(&run));
    assert!(
        stderr(&run).contains("skipped: the source's time budget of 1s was used up"),
        "{}",
        stderr(&run)
    );
    ws.assert_untouched("wic-news");
}

#[tokio::test]
async fn numbered_listing_pages_are_read_until_one_brings_nothing_new() {
    let server = site("wic-en", "text/html").await;
    let template = format!("pages = \"{}/news/node_35363_{{page}}.htm\"", server.uri());
    let ws = Workspace::new(&server, "", |t| {
        t.replace("next = \"#div_currpage > a.pagestyle:last-child\"", &template)
    });
    // The one listed article that 404s would count as new on every run (failures are not remembered), which
    // would keep page 2 read; here it exists.
    Mock::given(path("/2015-12/16/c_47830.htm"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            std::fs::read(fixtures().join("wic-en/2015-12/15/c_47790.htm")).unwrap(),
            "text/html",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    ws.run("wic-news").code(0);
    // c_47990 is listed only on page 2; page 3 does not exist, which ends the listing quietly.
    assert!(ws.feed("wic-news", "atom").contains("specials/c_47990.htm"));
    assert_eq!(requests_to(&server, "/news/node_35363_2.htm").await, 1);
    assert_eq!(requests_to(&server, "/news/node_35363_3.htm").await, 1);

    // A routine run: page 1 brings nothing new, so page 2 is not read again.
    ws.run("wic-news").code(0);
    assert_eq!(requests_to(&server, "/news/node_35363.htm").await, 2);
    assert_eq!(requests_to(&server, "/news/node_35363_2.htm").await, 1);
}

#[tokio::test]
async fn the_chinese_edition_survives_a_charset_header_that_contradicts_its_meta() {
    let server = site("wic-zh", "text/html; charset=ISO-8859-1").await;
    let ws = Workspace::new(&server, "", |t| t);
    ws.run("wic-news-zh").code(0);
    let atom = ws.feed("wic-news-zh", "atom");
    assert!(atom.contains(ZH), "{atom}");
    assert!(atom.contains("记者 王镕 张喆"), "a GBK-only character was lost");
    assert!(
        atom.contains("hreflang=\"en\""),
        "the alternate link to the English feed is missing"
    );
}

#[tokio::test]
async fn http_proxy_from_the_environment_is_honoured() {
    // The site is at an address that does not resolve; only the proxy (wiremock, answering absolute-form
    // requests from the fixtures) can reach it.
    let proxy = site("wic-en", "text/html").await;
    let ws = Workspace::new(&proxy, "", |t| t.replace(&proxy.uri(), "http://www.wuzhenwic.invalid"));
    let mut cmd = Command::cargo_bin("feedwright").unwrap();
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "http_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HTTP_PROXY", proxy.uri());
    ws.command(&mut cmd, "wic-news").code(0);
    assert!(
        ws.feed("wic-news", "atom")
            .contains("http://www.wuzhenwic.invalid/2015-12/16/c_47822.htm")
    );
    let seen = proxy.received_requests().await.unwrap();
    assert!(
        seen.iter().all(|r| r.url.host_str() == Some("www.wuzhenwic.invalid")),
        "every request went through the proxy"
    );
}
