//! Issue 8, item 1: a hostile listing cannot make feedwright fetch cloud metadata or the operator's own network,
//! and nothing from there is published.
//!
//! The real binary runs against a local listing (wiremock on 127.0.0.1) that links to the metadata address in every
//! spelling and redirects to it; a recording "proxy" in `HTTP_PROXY` (with `NO_PROXY` for the local site) would see
//! any request that left for another host, robots.txt included, so "no request was made" is observed, not assumed.
//! A source whose own URL is public is run through a per-source proxy (wiremock answering absolute-form requests),
//! which shows loopback and private links are refused before anything is sent, unless `allow_private = true`. The
//! DNS-rebinding case drives the [`Fetcher`] with an injected lookup, since no real name resolves to 127.0.0.1 on
//! demand.

use std::time::Duration;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use feedwright::fetch::guard::Policy;
use feedwright::fetch::resolver::Lookup;
use feedwright::fetch::{FetchError, Fetched, Fetcher, Options, Profile};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Links a hostile listing may carry to the metadata service, each with its own path so none is deduplicated away.
const METADATA_LINKS: [&str; 9] = [
    "http://169.254.169.254/latest/meta-data/plain",
    "http://0xa9fea9fe/hex",
    "http://2852039166/decimal",
    "http://0251.0376.0251.0376/octal",
    "http://[::ffff:169.254.169.254]/mapped",
    "http://[::ffff:a9fe:a9fe]/mapped-hex",
    "http://user@169.254.169.254/userinfo",
    "//169.254.169.254/x",
    "http://metadata.google.internal/computeMetadata/v1/",
];

/// What the metadata service would have answered; it must be in no feed.
const SECRET: &str = "AKIA-metadata-secret";

fn article(title: &str) -> String {
    format!("<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{title}: the story.</p></body></html>")
}

fn listing(links: &[String]) -> String {
    let items: String = links
        .iter()
        .map(|l| format!("<li><a href=\"{l}\">{l} {SECRET}</a></li>\n"))
        .collect();
    format!("<html><body><ul>\n{items}</ul></body></html>")
}

async fn mount(server: &MockServer, p: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/html"))
        .mount(server)
        .await;
}

/// A temp folder with one source reading `url`, with a broad content selector (`body`).
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(url: &str, http: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"[settings]
output_dir = "feeds"
state = "state/feedwright.sqlite"
retry_base = "10ms"
timeout = "5s"

[[source]]
id = "hostile"
title = "Hostile"
url = "{url}"

[source.listing]
links = "a"

[source.article]
title = "h1"
content = "body"

[source.http]
{http}
"#
        );
        std::fs::write(dir.path().join("feedwright.toml"), config).unwrap();
        Workspace { dir }
    }

    /// `feedwright run` with the proxy variables replaced by `env`.
    fn run(&self, env: &[(&str, String)]) -> assert_cmd::assert::Assert {
        let mut cmd = Command::cargo_bin("feedwright").unwrap();
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
            "FEEDWRIGHT_LOG",
        ] {
            cmd.env_remove(var);
        }
        for (var, value) in env {
            cmd.env(var, value);
        }
        cmd.args(["--config", "feedwright.toml", "run"])
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(60))
            .assert()
    }

    fn feed(&self, ext: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("feeds/hostile.{ext}"))).unwrap()
    }
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

#[tokio::test]
async fn metadata_links_in_every_spelling_and_a_redirect_to_metadata_are_refused_and_never_published() {
    let site = MockServer::start().await;
    let recorder = MockServer::start().await;
    let base = Url::parse(&format!("{}/news/", site.uri())).unwrap();
    let mut links: Vec<String> = METADATA_LINKS.iter().map(|l| l.to_string()).collect();
    links.extend(["/good-1.htm".into(), "/good-2.htm".into(), "/moved.htm".into()]);
    mount(&site, "/news/", listing(&links)).await;
    mount(&site, "/good-1.htm", article("First good story")).await;
    mount(&site, "/good-2.htm", article("Second good story")).await;
    Mock::given(method("GET"))
        .and(path("/moved.htm"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "http://169.254.169.254/latest/meta-data/"))
        .mount(&site)
        .await;

    let ws = Workspace::new(base.as_str(), "");
    // Anything sent anywhere but the local site would reach the recorder.
    let run = ws.run(&[("HTTP_PROXY", recorder.uri()), ("NO_PROXY", "127.0.0.1".into())]);
    let (out, log) = (stdout(&run), stderr(&run));
    run.code(0);
    assert!(out.contains("degraded"), "{out}\n{log}");

    for ext in ["atom", "rss", "json"] {
        let feed = ws.feed(ext);
        assert!(
            feed.contains("First good story") && feed.contains("Second good story"),
            "{ext}: {feed}"
        );
        for bad in [
            "169.254",
            "a9fe",
            "0xa9fe",
            "2852039166",
            "0251.",
            "metadata",
            "moved.htm",
            SECRET,
        ] {
            assert!(!feed.contains(bad), "{ext} mentions {bad}: {feed}");
        }
    }

    let link_local = "is a link-local address (cloud metadata); feedwright never connects there";
    for link in METADATA_LINKS {
        let url = base.join(link).unwrap();
        let why = if url.host_str() == Some("metadata.google.internal") {
            "metadata.google.internal is a cloud metadata name; feedwright never connects there".to_owned()
        } else if url.host_str().unwrap().starts_with('[') {
            format!("::ffff:169.254.169.254 (169.254.169.254) {link_local}")
        } else {
            format!("169.254.169.254 {link_local}")
        };
        let expected = format!("GET {url}: refused: {why}");
        assert!(log.contains(&expected), "{link}: no \"{expected}\" in\n{log}");
    }
    assert!(
        log.contains(&format!(
            "GET http://169.254.169.254/latest/meta-data/: refused: 169.254.169.254 {link_local}"
        )),
        "the redirect hop: {log}"
    );

    let elsewhere = recorder.received_requests().await.unwrap();
    assert!(elsewhere.is_empty(), "requests left for other hosts: {elsewhere:?}");
    let local: Vec<String> = site
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(
        local.iter().filter(|p| *p == "/moved.htm").count(),
        1,
        "a refusal is not retried: {local:?}"
    );
    for p in ["/robots.txt", "/news/", "/good-1.htm", "/good-2.htm"] {
        assert!(local.iter().any(|l| l == p), "{p} was not fetched: {local:?}");
    }
}

#[tokio::test]
async fn a_listing_of_nothing_but_metadata_links_does_not_fail_its_source() {
    let site = MockServer::start().await;
    let links: Vec<String> = METADATA_LINKS.iter().map(|l| l.to_string()).collect();
    mount(&site, "/news/", listing(&links)).await;
    let ws = Workspace::new(&format!("{}/news/", site.uri()), "");
    let run = ws.run(&[]);
    let (out, log) = (stdout(&run), stderr(&run));
    run.code(0);
    assert!(out.contains("degraded"), "{out}\n{log}");
    assert!(!log.contains("source failed"), "{log}");
}

/// A source at `http://news.example/news/`, reached through `proxy`, whose listing links to the loopback
/// interface (the proxy's own port) and to a private address.
async fn public_source_behind_a_proxy(allow_private: bool) -> (MockServer, Workspace, assert_cmd::assert::Assert) {
    let proxy = MockServer::start().await;
    let loopback = format!("{}/local.htm", proxy.uri());
    let links = [
        "http://news.example/good.htm".to_owned(),
        loopback,
        "http://10.0.0.1/private.htm".to_owned(),
    ];
    mount(&proxy, "/news/", listing(&links)).await;
    mount(&proxy, "/good.htm", article("Public story")).await;
    mount(&proxy, "/local.htm", article("Loopback story")).await;
    mount(&proxy, "/private.htm", article("Private story")).await;
    let http = format!("proxy = \"{}\"\nallow_private = {allow_private}", proxy.uri());
    let ws = Workspace::new("http://news.example/news/", &http);
    let run = ws.run(&[]);
    (proxy, ws, run)
}

#[tokio::test]
async fn a_public_source_behind_a_proxy_refuses_loopback_and_private_links_before_sending() {
    let (proxy, ws, run) = public_source_behind_a_proxy(false).await;
    let log = stderr(&run);
    run.code(0);
    let atom = ws.feed("atom");
    assert!(atom.contains("Public story"), "{atom}");
    assert!(
        !atom.contains("Loopback story") && !atom.contains("Private story"),
        "{atom}"
    );
    let hint = "and the source's own URL is not (set allow_private = true for a site on your own network)";
    let loopback = format!("{}/local.htm", proxy.uri());
    assert!(
        log.contains(&format!(
            "GET {loopback}: refused: 127.0.0.1 is a loopback address {hint}"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "GET http://10.0.0.1/private.htm: refused: 10.0.0.1 is a private-network address {hint}"
        )),
        "{log}"
    );
    let sent: Vec<String> = proxy
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.to_string())
        .collect();
    assert!(
        sent.iter().all(|u| u.starts_with("http://news.example/")),
        "sent through the proxy: {sent:?}"
    );
}

#[tokio::test]
async fn a_public_source_with_allow_private_fetches_its_loopback_link() {
    let (proxy, ws, run) = public_source_behind_a_proxy(true).await;
    let log = stderr(&run);
    run.code(0);
    let atom = ws.feed("atom");
    for title in ["Public story", "Loopback story", "Private story"] {
        assert!(atom.contains(title), "{title} missing: {atom}\n{log}");
    }
    let loopback = format!("{}/local.htm", proxy.uri());
    let sent: Vec<String> = proxy
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.to_string())
        .collect();
    assert!(sent.contains(&loopback), "{sent:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// DNS rebinding: the fetcher with a lookup that answers like a hostile DNS server.

fn clock() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2015-12-18T12:00:00Z").unwrap().to_utc()
}

/// `rebind.test` resolves to 127.0.0.1 (where `server` listens), `meta.test` to the metadata address.
fn hostile_dns() -> Lookup {
    Lookup::new(|name: String| {
        Box::pin(async move {
            match name.as_str() {
                "rebind.test" => Ok(vec!["127.0.0.1".parse().unwrap()]),
                "meta.test" => Ok(vec!["169.254.169.254".parse().unwrap()]),
                _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such name")),
            }
        })
    })
}

fn fetcher_for(policy: Policy) -> Fetcher {
    let mut options = Options::new("feedwright/0.1 (tests)".into(), Duration::from_secs(5), 1 << 20);
    options.retry_base = Duration::from_millis(10);
    Fetcher::with_lookup(options, clock, hostile_dns())
        .unwrap()
        .for_source(&Profile {
            addresses: policy,
            ..Profile::default()
        })
        .unwrap()
}

#[tokio::test]
async fn a_public_name_resolving_to_loopback_is_refused_after_resolution_dns_rebinding() {
    let server = MockServer::start().await;
    mount(&server, "/page.htm", "<p>inside</p>".into()).await;
    let port = server.address().port();
    let target = Url::parse(&format!("http://rebind.test:{port}/page.htm")).unwrap();

    let public = Policy::for_source(&[Url::parse("https://news.example/").unwrap()], false);
    let error = fetcher_for(public).get(&target, None).await.unwrap_err();
    assert!(matches!(error, FetchError::Refused { .. }), "{error:?}");
    assert_eq!(
        feedwright::error_chain(&error),
        format!(
            "GET {target}: refused: rebind.test (resolved to 127.0.0.1) is a loopback address and the source's own \
             URL is not (set allow_private = true for a site on your own network)"
        )
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "robots.txt included"
    );

    match fetcher_for(Policy::ALLOW_PRIVATE).get(&target, None).await {
        Ok(Fetched::Page(page)) => assert_eq!(page.text, "<p>inside</p>"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_name_resolving_to_the_metadata_address_is_refused_even_with_allow_private() {
    let target = Url::parse("http://meta.test/latest/meta-data/").unwrap();
    let error = fetcher_for(Policy::ALLOW_PRIVATE).get(&target, None).await.unwrap_err();
    assert_eq!(
        feedwright::error_chain(&error),
        format!(
            "GET {target}: refused: meta.test (resolved to 169.254.169.254) is a link-local address (cloud \
             metadata); feedwright never connects there"
        )
    );
}
