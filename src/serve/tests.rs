//! Server tests, in process with tower's `oneshot` (and one over a real loopback socket): media types, validators
//! and 304s, HEAD, compression with per-coding ETags, every path traversal we could think of, the web page (`/`
//! and `/source/{id}`, escaping included), `/healthz`, `/metrics`, OPML and a config swap. Feed files and run
//! records are written into a temporary folder; the clock is fixed.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use axum::http::{Method, Request};
use tower::ServiceExt;

use super::*;
use crate::model::{DateSource, Item, ItemId, ListedLink, SourceId};
use crate::store::{Changes, ListingStatus, Location, Outcome, RunRecord};

const NOW: &str = "2026-01-01T12:00:00Z";

fn clock() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

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
        let site = Site::new(Arc::new(config), None, clock);
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

    fn store(&self) -> Store {
        Store::open(&Location::File(self.dir.path().join("state/feedwright.sqlite"))).unwrap()
    }

    fn record(&self, source: &str, outcome: Outcome, reason: Option<&str>) {
        self.record_at(source, outcome, reason, "2026-01-01T10:00:00Z");
    }

    /// A run that published nothing (or published nothing new), started at `at`.
    fn record_at(&self, source: &str, outcome: Outcome, reason: Option<&str>, at: &str) {
        self.store()
            .record_run(&run(source, outcome, reason, at), &[], &[], DateTime::UNIX_EPOCH)
            .unwrap();
    }

    /// A run that published `items` and failed the listed `failed` links, started at `at`.
    fn commit(&self, source: &str, at: &str, items: Vec<Item>, failed: &[(&str, &str)]) {
        let outcome = if failed.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Degraded
        };
        let mut record = run(source, outcome, None, at);
        record.failed = failed.len();
        let changes = Changes {
            links: items.iter().map(|i| (i.url.clone(), i.id.clone())).collect(),
            items,
            failed: failed
                .iter()
                .map(|(url, error)| {
                    let link = ListedLink {
                        url: url::Url::parse(url).unwrap(),
                        title: Some(format!("Listed as {url}")),
                        date_text: None,
                        feed: None,
                    };
                    (link, (*error).to_owned())
                })
                .collect(),
            ..Changes::default()
        };
        self.store().commit(&changes, &mut record, at.parse().unwrap()).unwrap();
    }
}

fn run(source: &str, outcome: Outcome, reason: Option<&str>, at: &str) -> RunRecord {
    RunRecord {
        duration: Duration::from_millis(1500),
        outcome,
        reason: reason.map(str::to_owned),
        links: 20,
        new: 3,
        updated: 1,
        fetched: 4,
        with_date: 4,
        with_body: 4,
        requests: 5,
        listing: vec![ListingStatus {
            url: "https://www.example.org/news/".into(),
            status: Some(200),
        }],
        ..RunRecord::new(
            SourceId::parse(source).unwrap(),
            DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
        )
    }
}

fn item(n: u32, title: &str) -> Item {
    let url = url::Url::parse(&format!("https://www.example.org/news/{n}.htm")).unwrap();
    let published = DateTime::parse_from_rfc3339(&format!("2025-12-{n:02}T10:00:00+08:00")).unwrap();
    Item {
        id: ItemId::from_canonical(&url),
        url,
        title: title.into(),
        published,
        date_source: DateSource::Page,
        updated: published,
        author: None,
        summary: String::new(),
        content_html: format!("<p>{title}</p>"),
        image: None,
        image_caption: None,
        image_length: None,
        image_type: None,
        categories: Vec::new(),
    }
}

async fn get_json(f: &Fixture, uri: &str) -> (StatusCode, serde_json::Value) {
    let (status, _, body) = f.get(uri, &[]).await;
    (status, serde_json::from_slice(&body).unwrap())
}

async fn text(f: &Fixture, uri: &str) -> (StatusCode, String) {
    let (status, _, body) = f.get(uri, &[]).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
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
async fn the_stores_copy_is_served_before_the_file_and_a_new_copy_gets_a_new_etag() {
    let f = Fixture::new();
    let (_, headers, body) = f.get("/wic-news.atom", &[]).await;
    assert_eq!(&body[..], ATOM.as_bytes(), "no copy stored yet: the file");
    let file_etag = header(&headers, header::ETAG).to_owned();
    let copy = |body: &str, at: &str| crate::store::StoredFeed {
        feed: SourceId::parse("wic-news").unwrap(),
        ext: "atom".into(),
        tag: crate::store::FeedTag {
            etag: crate::publish::etag(body.as_bytes()),
            modified: at.parse().unwrap(),
        },
        body: body.as_bytes().to_vec(),
    };
    f.store()
        .save_feeds(&[copy("<feed>stored</feed>", "2026-01-01T11:00:00Z")])
        .unwrap();
    let (status, headers, body) = f.get("/wic-news.atom", &[("if-none-match", &file_etag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"<feed>stored</feed>");
    let etag = header(&headers, header::ETAG).to_owned();
    assert_eq!(etag, crate::publish::etag(b"<feed>stored</feed>"));
    assert_eq!(header(&headers, header::LAST_MODIFIED), "Thu, 01 Jan 2026 11:00:00 GMT");
    let (status, _, _) = f.get("/wic-news.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = f
        .get(
            "/wic-news.atom",
            &[("if-modified-since", "Thu, 01 Jan 2026 11:00:00 GMT")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    f.store()
        .save_feeds(&[copy("<feed>newer</feed>", "2026-01-01T11:30:00Z")])
        .unwrap();
    // A new copy is seen once the one in memory is older than RECHECK.
    std::thread::sleep(RECHECK);
    // While the store has a copy, the file is not what is served.
    crate::publish::write_atomic(&f.feeds().join("wic-news.atom"), b"<feed>file</feed>").unwrap();
    let (status, headers, body) = f.get("/wic-news.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"<feed>newer</feed>");
    assert_eq!(header(&headers, header::LAST_MODIFIED), "Thu, 01 Jan 2026 11:30:00 GMT");
    let (_, _, body) = f.get("/wic-news.rss", &[]).await;
    assert_eq!(
        &body[..],
        b"<rss version=\"2.0\"><channel/></rss>",
        "formats without a copy: their files"
    );
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
async fn the_index_lists_each_source_with_its_state_and_subscribe_links() {
    let f = Fixture::new();
    let (status, headers, body) = f.get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "text/html; charset=utf-8");
    let page = String::from_utf8(body.to_vec()).unwrap();
    assert!(page.contains("<meta name=\"viewport\""), "readable on a phone");
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(page.contains("<strong>WIC &lt;News&gt;</strong>"), "titles are escaped");
    assert!(page.contains("<a href=\"wic-news.atom\" type=\"application/atom+xml\">Atom</a>"));
    assert!(page.contains("<a href=\"source/wic-news\">"));
    assert!(page.contains("<a href=\"index.opml\">"));
    assert!(
        page.contains("<tr id=\"wic-news\" class=\"source never-run\">"),
        "no state yet"
    );

    f.commit(
        "wic-news",
        "2026-01-01T11:00:00Z",
        vec![item(1, "One"), item(2, "Two")],
        &[],
    );
    f.commit(
        "other",
        "2026-01-01T09:00:00Z",
        vec![item(3, "Three")],
        &[(
            "https://other.example.org/dead.htm",
            "GET https://other.example.org/dead.htm returned HTTP 500",
        )],
    );
    f.record_at(
        "other",
        Outcome::Failed,
        Some("the listing yielded no article links"),
        "2026-01-01T10:00:00Z",
    );
    let page = text(&f, "/").await.1;
    assert!(page.contains("<tr id=\"wic-news\" class=\"source ok\">"), "{page}");
    let row = page.lines().find(|l| l.starts_with("<tr id=\"other\"")).unwrap();
    assert!(row.contains("class=\"source broken\""), "{row}");
    assert!(
        row.contains("<div class=\"reason\">the listing yielded no article links</div>"),
        "{row}"
    );
    assert!(
        row.contains("<time datetime=\"2026-01-01T10:00:00Z\">2026-01-01 10:00 UTC</time> <small>2 h ago</small>"),
        "{row}"
    );
    assert!(
        row.contains("<a href=\"source/other#failed\">1</a>"),
        "the article missing from the kept feed: {row}"
    );
    assert!(row.contains(">not scheduled</span>"), "plain serve runs nothing: {row}");
    assert!(
        page.contains("<dt class=\"broken\">broken</dt>"),
        "the words shown are explained"
    );
    assert!(!page.contains("<dt class=\"degraded\">"), "only the words shown");
}

#[tokio::test]
async fn degraded_is_explained_and_what_recovered_is_cleared_everywhere() {
    let f = Fixture::new();
    let dead = "https://www.example.org/news/9.htm";
    f.commit(
        "wic-news",
        "2026-01-01T10:00:00Z",
        vec![item(1, "One")],
        &[(dead, "HTTP 500")],
    );
    let (status, health) = get_json(&f, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "degraded still publishes");
    let s = &health["sources"][0];
    assert_eq!(
        (s["source"].as_str(), s["health"].as_str()),
        (Some("wic-news"), Some("degraded"))
    );
    assert_eq!(s["reason"], "1 article failed");
    assert_eq!(s["failed_articles"][0]["url"], dead);
    assert_eq!(s["failed_articles"][0]["attempts"], 1);
    assert_eq!(s["failed_articles"][0]["last_failed"], "2026-01-01T10:00:00Z");
    let page = text(&f, "/").await.1;
    assert!(
        page.contains("<dt class=\"degraded\">degraded</dt> <dd>the last run published, but"),
        "{page}"
    );
    let source = text(&f, "/source/wic-news").await.1;
    assert!(
        source.contains("<h2 id=\"failed\">Failed articles (1)</h2>"),
        "{source}"
    );
    assert!(
        source.contains(&format!("<a href=\"{dead}\">Listed as {dead}")),
        "{source}"
    );
    assert!(source.contains("degraded means: the last run published"), "{source}");
    let metrics = text(&f, "/metrics").await.1;
    assert!(metrics.contains("feedwright_source_health{source=\"wic-news\",health=\"degraded\"} 1\n"));
    assert!(metrics.contains("feedwright_failed_articles{source=\"wic-news\"} 1\n"));

    // The article is read on the next run: nothing of the old failure stays listed.
    f.commit("wic-news", "2026-01-01T11:00:00Z", vec![item(9, "Nine")], &[]);
    let s = get_json(&f, "/healthz").await.1["sources"][0].clone();
    assert_eq!(
        (s["health"].as_str(), &s["reason"]),
        (Some("ok"), &serde_json::Value::Null)
    );
    assert_eq!(s["failed_articles"], serde_json::json!([]));
    let source = text(&f, "/source/wic-news").await.1;
    assert!(
        source.contains("Failed articles (0)") && !source.contains("Listed as"),
        "{source}"
    );
    assert!(
        text(&f, "/metrics")
            .await
            .1
            .contains("feedwright_failed_articles{source=\"wic-news\"} 0\n")
    );
}

#[tokio::test]
async fn healthz_is_200_until_a_source_is_broken_with_each_sources_state() {
    let f = Fixture::new();
    let (status, headers, body) = f.get("/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK, "no runs yet: nothing is broken");
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["sources"][0]["health"], "never-run");

    f.record("wic-news", Outcome::Ok, None);
    f.record("other", Outcome::Failed, Some("no listing page could be read"));
    let (status, _, body) = f.get("/healthz", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "failing");
    assert_eq!(json["sources"][1]["source"], "other");
    assert_eq!(json["sources"][1]["health"], "broken");
    assert_eq!(json["sources"][1]["reason"], "no listing page could be read");
    assert_eq!(json["sources"][1]["consecutive_failures"], 1);
    assert_eq!(json["sources"][0]["health"], "ok");
    assert_eq!(json["sources"][0]["last_success"], "2026-01-01T10:00:00Z");
    let store = Store::open_read_only(&Location::File(f.dir.path().join("state/feedwright.sqlite")))
        .unwrap()
        .unwrap();
    let config = f.site.config();
    for (i, source) in config.sources.iter().enumerate() {
        let state = status::read(&store, source, clock(), None).unwrap();
        assert_eq!(
            json["sources"][i],
            serde_json::to_value(&state).unwrap(),
            "the one state"
        );
    }

    f.record_at("other", Outcome::Ok, None, "2026-01-01T11:00:00Z");
    let after = get_json(&f, "/healthz").await.1;
    assert_eq!(after["status"], "ok");
    assert_eq!(
        after["sources"][1]["reason"],
        serde_json::Value::Null,
        "recovered: no old error"
    );
}

#[tokio::test]
async fn metrics_come_from_the_store_or_from_the_live_counters_and_health_from_the_state() {
    let f = Fixture::new();
    f.record("wic-news", Outcome::Ok, None);
    f.record("wic-news", Outcome::Failed, Some("x"));
    let (status, headers, body) = f.get("/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, header::CONTENT_TYPE).starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body.to_vec()).unwrap();
    for line in [
        "feedwright_runs_total{source=\"wic-news\",outcome=\"ok\"} 1\n",
        "feedwright_runs_total{source=\"wic-news\",outcome=\"broken\"} 1\n",
        "feedwright_run_failures_total{source=\"wic-news\"} 1\n",
        "feedwright_feed_items{source=\"other\"} 0\n",
        "feedwright_source_health{source=\"wic-news\",health=\"broken\"} 1\n",
        "feedwright_source_health{source=\"other\",health=\"never-run\"} 1\n",
        "feedwright_consecutive_failures{source=\"wic-news\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }

    let live = Live::default();
    let site = Site::new(f.site.config(), Some(live.clone()), clock);
    let response = router(site)
        .oneshot(Request::builder().uri("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains("feedwright_runs_total{source=\"wic-news\",outcome=\"broken\"} 0\n"),
        "live counters start empty: {text}"
    );
    assert!(
        text.contains("feedwright_source_health{source=\"wic-news\",health=\"broken\"} 1\n"),
        "but health is the stored state: {text}"
    );
}

#[tokio::test]
async fn the_source_page_lists_items_newest_first_and_a_bounded_run_history() {
    let f = Fixture::new();
    assert_eq!(f.get("/source/nope", &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(f.get("/source/..%2fsecret.atom", &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(f.get("/source/", &[]).await.0, StatusCode::NOT_FOUND);
    let (status, page) = text(&f, "/source/other").await;
    assert_eq!(status, StatusCode::OK, "a configured source without state");
    assert!(page.contains("never-run") && page.contains("No items yet."), "{page}");

    f.commit(
        "wic-news",
        "2026-01-01T08:00:00Z",
        vec![item(1, "One"), item(2, "Two")],
        &[],
    );
    f.commit("wic-news", "2026-01-01T09:00:00Z", vec![item(1, "One, edited")], &[]);
    for minute in 0..25 {
        f.record_at("wic-news", Outcome::Ok, None, &format!("2026-01-01T10:{minute:02}:00Z"));
    }
    let (status, page) = text(&f, "/source/wic-news").await;
    assert_eq!(status, StatusCode::OK);
    let two = page.find(">Two</a>").unwrap();
    let one = page.find(">One, edited</a>").unwrap();
    assert!(two < one, "newest first");
    let row = |title: &str| page.lines().find(|l| l.contains(title)).unwrap().to_owned();
    assert!(row(">Two</a>").contains("<td data-label=\"Edited\">no</td>"), "{page}");
    assert!(
        row(">One, edited</a>").contains("<td data-label=\"Edited\">yes, <time datetime=\"2026-01-01T09:00:00Z\">"),
        "{page}"
    );
    assert!(
        row(">Two</a>").contains("<td data-label=\"First seen\"><time datetime=\"2026-01-01T08:00:00Z\">"),
        "{page}"
    );
    assert!(row(">Two</a>").contains("<a href=\"https://www.example.org/news/2.htm\">Two</a>"));
    assert!(page.contains("<h2 id=\"runs\">Run history (latest 20)</h2>"), "{page}");
    assert_eq!(page.matches("<td data-label=\"Started\">").count(), 20);
    assert!(page.contains("<a href=\"../wic-news.atom\" type=\"application/atom+xml\">Atom</a>"));
    assert!(page.contains("<a href=\"../\">"));
}

#[tokio::test]
async fn every_value_on_the_web_page_is_escaped() {
    let f = Fixture::new();
    let nasty = "<script>alert(\"x\")</script> & 'q'";
    f.commit(
        "wic-news",
        "2026-01-01T10:00:00Z",
        vec![item(1, nasty)],
        &[("https://www.example.org/news/x.htm?a=1&b=\"<script>", nasty)],
    );
    f.record_at("other", Outcome::Failed, Some(nasty), "2026-01-01T10:00:00Z");
    for uri in ["/", "/source/wic-news", "/source/other"] {
        let page = text(&f, uri).await.1;
        assert!(!page.contains("<script"), "{uri}: {page}");
        assert!(
            page.contains("&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; 'q'"),
            "{uri}: {page}"
        );
    }
    let page = text(&f, "/source/wic-news").await.1;
    assert!(
        page.contains("<a href=\"https://www.example.org/news/x.htm?a=1&amp;b=%22%3Cscript%3E\">"),
        "attribute values are escaped too: {page}"
    );
}

#[tokio::test]
async fn under_watch_the_page_and_metrics_show_the_next_run() {
    let f = Fixture::new();
    let live = Live::default();
    let site = Site::new(f.site.config(), Some(live.clone()), clock);
    let next: DateTime<Utc> = "2026-01-01T12:30:00Z".parse().unwrap();
    let scheduler_plan = crate::scheduler::Plan {
        context: Arc::new(()),
        jobs: vec![crate::scheduler::Job {
            id: SourceId::parse("wic-news").unwrap(),
            schedule: crate::config::Schedule::Every(Duration::from_secs(1800)),
            phase: 0.0,
            last: Some("2026-01-01T12:00:00Z".parse().unwrap()),
        }],
        max_running: 1,
        backoff_max: Duration::from_secs(3600),
        timetable: live.timetable.clone(),
    };
    // The scheduler publishes its plan's first runs before anything is due; stop it at once.
    let (control, controlled) = tokio::sync::mpsc::channel(1);
    control.send(crate::scheduler::Control::Shutdown).await.unwrap();
    crate::scheduler::run(
        scheduler_plan,
        crate::scheduler::Clock::new(clock()),
        || 0.0,
        |_, _| async { crate::scheduler::Verdict::Success },
        controlled,
        Duration::ZERO,
    )
    .await;
    assert_eq!(live.timetable.next(&SourceId::parse("wic-news").unwrap()), Some(next));
    let get = |uri: &'static str| {
        let site = site.clone();
        async move {
            let response = router(site)
                .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            String::from_utf8(
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap()
                    .to_vec(),
            )
            .unwrap()
        }
    };
    let page = get("/").await;
    assert!(
        page.contains("<td data-label=\"Next run\"><time datetime=\"2026-01-01T12:30:00Z\">2026-01-01 12:30 UTC</time> <small>in 30 min</small></td>"),
        "{page}"
    );
    assert!(get("/metrics").await.contains(&format!(
        "feedwright_next_run_timestamp_seconds{{source=\"wic-news\"}} {}\n",
        next.timestamp()
    )));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&get("/healthz").await).unwrap()["sources"][0]["next_run"],
        "2026-01-01T12:30:00Z"
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

#[tokio::test]
async fn the_states_are_read_from_the_store_once_until_a_run_commits_or_the_config_changes() {
    let f = Fixture::new();
    f.record("wic-news", Outcome::Ok, None);
    for uri in ["/metrics", "/", "/healthz", "/healthz", "/metrics"] {
        assert_eq!(f.get(uri, &[]).await.0, StatusCode::OK, "{uri}");
    }
    assert_eq!(f.site.state_reads(), 1, "five requests, one read");

    // Another connection commits (a run): the next request sees it.
    f.record_at(
        "wic-news",
        Outcome::Failed,
        Some("no listing page could be read"),
        "2026-01-01T11:00:00Z",
    );
    let (status, health) = get_json(&f, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["sources"][0]["health"], "broken");
    assert_eq!(f.site.state_reads(), 2);
    assert!(
        f.get("/metrics", &[])
            .await
            .2
            .windows(b"outcome=\"broken\"} 1".len())
            .any(|w| w == b"outcome=\"broken\"} 1"),
        "the run counters are read again too"
    );
    let reads = f.site.state_reads();

    // A reloaded config is read for at once.
    let config = crate::config::parse(CONFIG, &f.dir.path().join("feedwright.toml")).unwrap();
    f.site.set_config(Arc::new(config));
    get_json(&f, "/healthz").await;
    assert_eq!(f.site.state_reads(), reads + 1);
}
