//! Server tests, in process with tower's `oneshot` (and one over a real loopback socket): media types, validators
//! and 304s, HEAD, compression with per-coding ETags, every path traversal we could think of, the index page,
//! `/healthz`, `/metrics`, OPML and a config swap. Feed files and run records are written into a temporary folder.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use axum::http::{Method, Request};
use tower::ServiceExt;

use super::*;
use crate::store::ListingStatus;

const CONFIG: &str = r##"
[settings]
output_dir = "feeds"
state = "state/feedwright.sqlite"
feed_base_url = "https://feeds.example.org/"

[[source]]
id = "wic-news"
title = "WIC <News>"
url = "https://www.example.org/news/"
language = "en"

[source.listing]
links = "h4 a"

[source.article]
title = "h1"
content = "#Content"

[[source]]
id = "other"
title = "Other"
url = "https://other.example.org/"

[source.listing]
links = "a"

[source.article]
title = "h1"
content = "main"
"##;

const ATOM: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>WIC</title>\
    <entry><title>An entry long enough to be worth compressing, repeated, repeated, repeated</title></entry></feed>\n";

struct Fixture {
    dir: tempfile::TempDir,
    site: Arc<Site>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::parse(CONFIG, &dir.path().join("feedwright.toml")).unwrap();
        let feeds = dir.path().join("feeds");
        std::fs::create_dir_all(&feeds).unwrap();
        std::fs::write(feeds.join("wic-news.atom"), ATOM).unwrap();
        std::fs::write(feeds.join("wic-news.rss"), "<rss version=\"2.0\"><channel/></rss>").unwrap();
        std::fs::write(
            feeds.join("wic-news.json"),
            "{\"version\":\"https://jsonfeed.org/version/1.1\"}",
        )
        .unwrap();
        // Files that must never be served.
        std::fs::write(dir.path().join("secret.atom"), "SECRET").unwrap();
        std::fs::write(dir.path().join("feedwright.toml"), CONFIG).unwrap();
        std::fs::write(feeds.join("stray.atom"), "SECRET stray").unwrap();
        std::fs::write(feeds.join(".wic-news.atom.42.tmp"), "SECRET temp").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.atom"), feeds.join("other.atom")).unwrap();
        let site = Site::new(Arc::new(config), None);
        Fixture { dir, site }
    }

    fn feeds(&self) -> PathBuf {
        self.dir.path().join("feeds")
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let response = router(self.site.clone()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, bytes)
    }

    async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    fn record(&self, source: &str, outcome: Outcome, reason: Option<&str>) {
        let mut store = Store::open(&self.dir.path().join("state/feedwright.sqlite")).unwrap();
        store
            .record_run(
                &RunRecord {
                    source: SourceId::parse(source).unwrap(),
                    started: DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().to_utc(),
                    duration: Duration::from_millis(1500),
                    outcome,
                    reason: reason.map(str::to_owned),
                    links: 20,
                    new: 3,
                    updated: 1,
                    failed: 0,
                    fetched: 4,
                    with_date: 4,
                    with_body: 4,
                    requests: 5,
                    listing: vec![ListingStatus {
                        url: "https://www.example.org/news/".into(),
                        status: Some(200),
                    }],
                    errors: Vec::new(),
                },
                &[],
                &[],
                DateTime::UNIX_EPOCH,
            )
            .unwrap();
    }
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn feeds_are_served_with_their_media_types_validators_and_vary() {
    let f = Fixture::new();
    for (uri, media) in [
        ("/wic-news.atom", "application/atom+xml; charset=utf-8"),
        ("/wic-news.rss", "application/rss+xml; charset=utf-8"),
        ("/wic-news.json", "application/feed+json; charset=utf-8"),
    ] {
        let (status, headers, body) = f.get(uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(header(&headers, header::CONTENT_TYPE), media);
        assert!(header(&headers, header::CONTENT_ENCODING).is_empty());
        let etag = header(&headers, header::ETAG);
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
            "strong: {etag}"
        );
        assert!(header(&headers, header::LAST_MODIFIED).ends_with(" GMT"));
        assert_eq!(header(&headers, header::VARY), "accept-encoding");
        assert_eq!(body, std::fs::read(f.feeds().join(&uri[1..])).unwrap());
    }
}

#[tokio::test]
async fn conditional_requests_get_304_and_a_changed_file_a_new_etag() {
    let f = Fixture::new();
    let (_, headers, _) = f.get("/wic-news.atom", &[]).await;
    let etag = header(&headers, header::ETAG).to_owned();
    let last_modified = header(&headers, header::LAST_MODIFIED).to_owned();

    let (status, headers, body) = f.get("/wic-news.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&headers, header::ETAG), etag);
    let weak_list = format!("\"nope\", W/{etag}");
    let (status, _, _) = f.get("/wic-news.atom", &[("if-none-match", &weak_list)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "If-None-Match compares weakly");
    let (status, _, _) = f.get("/wic-news.atom", &[("if-none-match", "*")]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    let (status, _, _) = f.get("/wic-news.atom", &[("if-modified-since", &last_modified)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = f
        .get(
            "/wic-news.atom",
            &[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = f
        .get(
            "/wic-news.atom",
            &[("if-none-match", "\"other\""), ("if-modified-since", &last_modified)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "If-None-Match wins over If-Modified-Since");

    crate::publish::write_atomic(&f.feeds().join("wic-news.atom"), b"<feed>changed</feed>").unwrap();
    let (status, headers, body) = f.get("/wic-news.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(header(&headers, header::ETAG), etag);
    assert_eq!(&body[..], b"<feed>changed</feed>");
}

#[tokio::test]
async fn head_answers_the_headers_without_a_body() {
    let f = Fixture::new();
    let request = Request::builder()
        .method(Method::HEAD)
        .uri("/wic-news.atom")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = f.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(header(&headers, header::CONTENT_LENGTH), ATOM.len().to_string());
    assert!(!header(&headers, header::ETAG).is_empty());
}

#[tokio::test]
async fn gzip_and_brotli_when_asked_each_with_its_own_etag() {
    let f = Fixture::new();
    let (_, headers, _) = f.get("/wic-news.atom", &[]).await;
    let identity = header(&headers, header::ETAG).to_owned();

    let (status, headers, body) = f.get("/wic-news.atom", &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip");
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "application/atom+xml; charset=utf-8"
    );
    let gzip_tag = header(&headers, header::ETAG).to_owned();
    assert_eq!(gzip_tag, format!("{}-gzip\"", identity.trim_end_matches('"')));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, ATOM);

    let (status, headers, body) = f
        .get("/wic-news.atom", &[("accept-encoding", "br;q=1, gzip;q=0.5")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "br");
    assert!(header(&headers, header::ETAG).ends_with("-br\""));
    assert_ne!(&body[..], ATOM.as_bytes());

    // The compressed body's tag revalidates too, and the 304 repeats it.
    let (status, headers, _) = f
        .get(
            "/wic-news.atom",
            &[("accept-encoding", "gzip"), ("if-none-match", &gzip_tag)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(header(&headers, header::ETAG), gzip_tag);
}

#[tokio::test]
async fn nothing_but_configured_feeds_is_reachable() {
    let f = Fixture::new();
    for uri in [
        "/../secret.atom",
        "/%2e%2e/secret.atom",
        "/%2e%2e%2fsecret.atom",
        "/..%2fsecret.atom",
        "/..%5csecret.atom",
        "/feeds/../secret.atom",
        "/%2e%2e%2ffeedwright.toml",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/etc/passwd",
        "/feedwright.toml",
        "/feeds/",
        "/feeds/wic-news.atom",
        "/stray.atom",
        "/.wic-news.atom.42.tmp",
        "/other.atom",
        "/wic-news.ATOM",
        "/WIC-NEWS.atom",
        "/wic-news.xml",
        "/wic-news",
        "/wic-news.atom.",
        "/wic-news.atom%00",
        "/wic-news.atom/",
        "/wic-news.atom/..",
        "/index.html",
    ] {
        let (status, _, body) = f.get(uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!String::from_utf8_lossy(&body).contains("SECRET"), "{uri}");
    }
    assert!(
        f.feeds().join("other.atom").is_symlink(),
        "other.atom exists, as a symlink, and was refused"
    );
    let (_, _, body) = f.get("/", &[]).await;
    let page = String::from_utf8_lossy(&body);
    assert!(
        !page.contains("stray") && !page.contains("tmp"),
        "the index lists configured feeds only"
    );
}

#[tokio::test]
async fn a_real_socket_serves_feeds_and_shuts_down_gracefully() {
    let f = Fixture::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, f.site.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for path in ["/wic-news.atom", "/../secret.atom", "/%2e%2e/secret.atom"] {
        let response = client.get(format!("http://{addr}{path}")).send().await.unwrap();
        let expected = if path == "/wic-news.atom" { 200 } else { 404 };
        assert_eq!(response.status().as_u16(), expected, "{path}");
        if expected == 200 {
            assert_eq!(response.text().await.unwrap(), ATOM);
        }
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_index_lists_each_feed_with_health_items_and_subscribe_links() {
    let f = Fixture::new();
    let (status, headers, body) = f.get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "text/html; charset=utf-8");
    let page = String::from_utf8(body.to_vec()).unwrap();
    assert!(page.contains("WIC &lt;News&gt;"), "titles are escaped");
    assert!(page.contains("<a href=\"wic-news.atom\" type=\"application/atom+xml\">Atom</a>"));
    assert!(page.contains("<a href=\"index.opml\">"));
    assert!(page.contains("<span class=\"unknown\">unknown</span>"), "no state yet");

    f.record("wic-news", Outcome::Ok, None);
    f.record("other", Outcome::Failed, Some("the listing yielded no article links"));
    let (_, _, body) = f.get("/", &[]).await;
    let page = String::from_utf8(body.to_vec()).unwrap();
    assert!(page.contains("<span class=\"healthy\">healthy</span>"), "{page}");
    assert!(
        page.contains("<span class=\"broken\" title=\"the listing yielded no article links\">broken</span>"),
        "{page}"
    );
    assert!(
        page.contains("<time datetime="),
        "the feed file's time is the last update"
    );
}

#[tokio::test]
async fn healthz_is_200_until_a_source_is_broken() {
    let f = Fixture::new();
    let (status, headers, body) = f.get("/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK, "no runs yet: nothing is broken");
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["sources"][0]["health"], "unknown");

    f.record("wic-news", Outcome::Ok, None);
    f.record("other", Outcome::Degraded, Some("1 articles failed"));
    assert_eq!(
        f.get("/healthz", &[]).await.0,
        StatusCode::OK,
        "degraded still publishes"
    );

    f.record("other", Outcome::Failed, Some("no listing page could be read"));
    let (status, _, body) = f.get("/healthz", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "failing");
    assert_eq!(json["sources"][1]["source"], "other");
    assert_eq!(json["sources"][1]["health"], "broken");
    assert_eq!(json["sources"][1]["last_error"], "no listing page could be read");
    assert_eq!(json["sources"][0]["health"], "healthy");
}

#[tokio::test]
async fn metrics_come_from_the_store_or_from_the_live_counters() {
    let f = Fixture::new();
    f.record("wic-news", Outcome::Ok, None);
    f.record("wic-news", Outcome::Failed, Some("x"));
    let (status, headers, body) = f.get("/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, header::CONTENT_TYPE).starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("feedwright_runs_total{source=\"wic-news\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("feedwright_run_failures_total{source=\"wic-news\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("feedwright_feed_items{source=\"other\"} 0\n"), "{text}");

    let live = Arc::new(Metrics::default());
    let site = Site::new(f.site.config(), Some(live.clone()));
    let response = router(site)
        .oneshot(Request::builder().uri("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(
        !String::from_utf8_lossy(&text).contains("source=\"wic-news\""),
        "live counters start empty"
    );
}

#[tokio::test]
async fn the_opml_list_is_served_and_a_reload_changes_what_is_served() {
    let f = Fixture::new();
    let (status, headers, body) = f.get("/index.opml", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "text/x-opml; charset=utf-8");
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("xmlUrl=\"https://feeds.example.org/wic-news.atom\""),
        "{text}"
    );
    assert_eq!(text.matches("<outline").count(), 2);

    let only_json = CONFIG.replace("[settings]", "[settings]\nformats = [\"json\"]");
    let config = crate::config::parse(&only_json, &f.dir.path().join("feedwright.toml")).unwrap();
    f.site.set_config(Arc::new(config));
    assert_eq!(f.get("/wic-news.atom", &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(f.get("/wic-news.json", &[]).await.0, StatusCode::OK);
}

#[test]
fn resolve_only_accepts_configured_ids_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::parse(CONFIG, &dir.path().join("c.toml")).unwrap();
    assert!(resolve(&config, "wic-news.atom").is_some());
    assert!(resolve(&config, "wic-news.rss").is_some());
    for name in [
        "wic-news",
        ".atom",
        "wic-news..atom",
        "../wic-news.atom",
        "wic-news.atom.atom",
        "x/wic-news.atom",
    ] {
        assert!(resolve(&config, name).is_none(), "{name}");
    }
    assert!(Path::new(&config.settings.output_dir).ends_with("feeds"));
}
