//! Existing feeds as sources, run as a user runs them: the real binary against fixture feeds of every version
//! (tests/fixtures/feeds, each file's first line says what it imitates) served on 127.0.0.1, with the article
//! pages of the English conference site beside them for `full_text`.
//!
//! The feeds written must be valid whatever the feed read was like: every output is parsed back (Atom and RSS as
//! XML and by feed-rs, JSON Feed as JSON).

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wiremock::matchers::{header, method, path as path_is};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The fixture `name` with `http://SERVER` moved onto `server`.
fn feed_fixture(server: &MockServer, name: &str) -> Vec<u8> {
    let bytes = common::fixture("feeds", name);
    let mut out = Vec::with_capacity(bytes.len());
    let needle = b"http://SERVER";
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(needle) {
            out.extend_from_slice(server.uri().as_bytes());
            i += needle.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

async fn mount_feed(server: &MockServer, name: &str, content_type: &str) {
    Mock::given(method("GET"))
        .and(path_is(format!("/feeds/{name}")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(feed_fixture(server, name), content_type))
        .mount(server)
        .await;
}

/// Every fixture feed, and the English site's pages, on one server.
async fn serve() -> MockServer {
    let server = common::serve_site("wic-en").await;
    mount_feed(&server, "rss2.xml", "application/rss+xml").await;
    mount_feed(&server, "atom.xml", "application/atom+xml").await;
    mount_feed(&server, "json1.json", "application/feed+json").await;
    mount_feed(&server, "rss1.rdf", "application/rdf+xml").await;
    // GBK bytes, labelled UTF-8 by the header and by the XML declaration.
    mount_feed(&server, "gbk.xml", "application/rss+xml; charset=utf-8").await;
    server
}

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new(sources: &str) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[settings]\noutput_dir = \"feeds\"\nstate = \"state/feedwright.sqlite\"\nretries = 0\n\n{sources}"
        );
        std::fs::write(dir.path().join("feedwright.toml"), text).unwrap();
        Dir { dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("feedwright").unwrap();
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.dir.path().join("feedwright.toml"))
            .args(args)
            .env_remove("FEEDWRIGHT_LOG")
            .env_remove("FEEDWRIGHT_CONFIG");
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn path(&self, id: &str, ext: &str) -> PathBuf {
        self.dir.path().join("feeds").join(format!("{id}.{ext}"))
    }

    /// The source's Atom feed, after checking that all three files are valid.
    fn feed(&self, id: &str) -> feed_rs::model::Feed {
        valid(&self.path(id, "rss"));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(self.path(id, "json")).unwrap()).unwrap();
        assert!(json["items"].is_array(), "{json}");
        valid(&self.path(id, "atom"))
    }
}

fn valid(path: &Path) -> feed_rs::model::Feed {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = std::str::from_utf8(&bytes).unwrap();
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    common::parse_feed(&bytes)
}

fn source(id: &str, feed: &str, extra: &str) -> String {
    format!("[[source]]\nid = \"{id}\"\ntitle = \"{id}\"\nfeed = \"{feed}\"\ntimezone = \"Asia/Shanghai\"\n{extra}\n")
}

fn entry<'a>(feed: &'a feed_rs::model::Feed, url: &str) -> &'a feed_rs::model::Entry {
    feed.entries
        .iter()
        .find(|e| e.links.iter().any(|l| l.href == url))
        .unwrap_or_else(|| {
            let urls: Vec<_> = feed.entries.iter().map(|e| &e.links[0].href).collect();
            panic!("no entry {url} among {urls:?}")
        })
}

fn title(e: &feed_rs::model::Entry) -> &str {
    &e.title.as_ref().unwrap().content
}

fn body(e: &feed_rs::model::Entry) -> &str {
    e.content.as_ref().and_then(|c| c.body.as_deref()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn feeds_of_every_version_become_valid_feeds() {
    let server = serve().await;
    let base = server.uri();
    let sources = [
        ("rss2", "rss2.xml"),
        ("atom", "atom.xml"),
        ("json1", "json1.json"),
        ("rss1", "rss1.rdf"),
        ("gbk", "gbk.xml"),
    ]
    .map(|(id, file)| source(id, &format!("{base}/feeds/{file}"), ""))
    .join("\n");
    let dir = Dir::new(&sources);
    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // RSS 2.0: entities decoded once, the relative link resolved, the repeated guid left out, the body sanitized.
    let rss2 = dir.feed("rss2");
    assert_eq!(rss2.entries.len(), 4, "the repeated guid is left out");
    let speech = entry(&rss2, &format!("{base}/2015-12/16/c_47822.htm"));
    assert_eq!(title(speech), "Xi\u{2019}s speech & a \"community\" in cyberspace");
    assert_eq!(speech.published.unwrap().to_rfc3339(), "2015-12-16T02:23:00+00:00");
    assert_eq!(speech.authors[0].name, "Xinhua");
    let html = body(speech);
    assert!(
        html.contains("Full <b>text</b>"),
        "content:encoded wins over the description: {html}"
    );
    assert!(!html.contains("script") && !html.contains("onerror"), "{html}");
    assert!(html.contains(&format!("{base}/img/xi.jpg")), "{html}");
    let wuzhen = entry(&rss2, &format!("{base}/2015-12/16/c_47812.htm"));
    assert_eq!(
        wuzhen.published.unwrap().to_rfc3339(),
        "2015-12-16T00:00:00+00:00",
        "a date without a zone is read in the source's (08:00 in Shanghai)"
    );
    assert!(
        body(wuzhen).contains(&format!("href=\"{base}/specials/c_47990.htm\"")),
        "{}",
        body(wuzhen)
    );
    assert!(stderr.contains("repeats an earlier one"), "{stderr}");
    assert!(
        stderr.contains("sometime last week"),
        "the broken date is named: {stderr}"
    );

    // Atom: links relative to xml:base, an html title, a date from `updated` when `published` is missing.
    let atom = dir.feed("atom");
    let forum = entry(&atom, &format!("{base}/2015-12/17/c_47850.htm"));
    assert_eq!(
        title(forum),
        "Experts call for global rules <at> cyber security sub-forum"
    );
    assert_eq!(forum.published.unwrap().to_rfc3339(), "2015-12-17T01:00:00+00:00");
    assert_eq!(forum.authors[0].name, "Li Tao");
    assert!(
        body(forum).contains(&format!("{base}/2015-12/img/forum.jpg")),
        "relative to xml:base, not to the entry's page: {}",
        body(forum)
    );
    let plain = entry(&atom, &format!("{base}/2015-12/13/c_47755.htm"));
    assert_eq!(plain.published.unwrap().to_rfc3339(), "2015-12-13T08:00:00+00:00");
    assert!(
        body(plain).contains("Preparations &lt;are&gt; under way."),
        "{}",
        body(plain)
    );

    // JSON Feed 1.0 and RSS 1.0.
    let json = dir.feed("json1");
    let leaders = entry(&json, &format!("{base}/2015-12/14/c_47762.htm"));
    assert!(body(leaders).contains("<em>gather</em>"), "{}", body(leaders));
    assert_eq!(leaders.authors[0].name, "China Daily");
    assert!(body(entry(&json, &format!("{base}/2015-12/14/c_47770.htm"))).contains("with a &lt; sign"));
    let rss1 = dir.feed("rss1");
    let forum = entry(&rss1, &format!("{base}/2015-12/15/c_47788.htm"));
    assert_eq!(forum.published.unwrap().to_rfc3339(), "2015-12-15T02:00:00+00:00");
    assert_eq!(forum.authors[0].name, "Wang Fang");

    // GBK labelled UTF-8: the Chinese comes out right, with a warning; the undated item gets its first-seen time.
    let gbk = dir.feed("gbk");
    let opening = entry(&gbk, &format!("{base}/system/2015/12/16/020949372.shtml"));
    assert_eq!(title(opening), "第二届世界互联网大会在乌镇开幕");
    assert_eq!(opening.published.unwrap().to_rfc3339(), "2015-12-16T01:30:00+00:00");
    assert!(body(opening).contains("习近平出席开幕式"), "{}", body(opening));
    assert!(stderr.contains("declared encoding does not fit"), "{stderr}");
    let undated = entry(&gbk, &format!("{base}/web15/news/020948001.shtml"));
    assert!(
        undated.published.unwrap().timestamp() > 1_700_000_000,
        "first seen, not made up"
    );

    // Built from the feeds alone: no article page was asked for.
    let requests = server.received_requests().await.unwrap();
    let pages: Vec<_> = requests
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.starts_with("/2015-12/") || p.starts_with("/system/"))
        .collect();
    assert!(pages.is_empty(), "{pages:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_answering_304_is_asked_conditionally_and_its_feed_kept() {
    let server = MockServer::start().await;
    let body = feed_fixture(&server, "rss2.xml");
    Mock::given(method("GET"))
        .and(path_is("/feeds/rss2.xml"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_is("/feeds/rss2.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"v1\"")
                .set_body_raw(body, "application/rss+xml"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = Dir::new(&source("rss2", &format!("{}/feeds/rss2.xml", server.uri()), ""));
    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let first = std::fs::read(dir.path("rss2", "atom")).unwrap();
    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        std::fs::read(dir.path("rss2", "atom")).unwrap(),
        first,
        "the feed is kept as it was"
    );
    let feed_requests: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/feeds/rss2.xml")
        .collect();
    assert_eq!(feed_requests.len(), 2);
    assert_eq!(
        feed_requests[1]
            .headers
            .get("if-none-match")
            .map(|v| v.to_str().unwrap()),
        Some("\"v1\""),
        "the second run asks conditionally"
    );
    assert_eq!(dir.feed("rss2").entries.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn full_text_reads_every_items_page_with_automatic_extraction() {
    let server = serve().await;
    let base = server.uri();
    let dir = Dir::new(&source("full", &format!("{base}/feeds/rss2.xml"), "full_text = true"));
    let (code, stdout, stderr) = dir
        .cmd(&["preview", "full"])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // The pages that exist are read with automatic extraction; the feed's fields fill what a page lacks.
    let rows: Vec<&str> = stdout.lines().collect();
    let provenance = |url: &str| {
        let at = rows
            .iter()
            .position(|l| l.ends_with(url))
            .unwrap_or_else(|| panic!("no row for {url}:\n{stdout}"));
        rows[at + 1]
    };
    let read = provenance(&format!("{base}/2015-12/16/c_47822.htm"));
    assert!(read.starts_with("    from: ") && !read.contains("body feed"), "{read}");
    let read = provenance(&format!("{base}/specials/c_47999.htm"));
    assert!(!read.contains("body feed"), "{read}");

    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let feed = dir.feed("full");
    let speech = entry(&feed, &format!("{base}/2015-12/16/c_47822.htm"));
    assert!(
        body(speech).contains("Chinese President Xi Jinping on Wednesday urged all countries"),
        "the page's body, not the feed's: {}",
        body(speech)
    );
    assert!(!body(speech).contains("Full <b>text</b>"), "{}", body(speech));
    // Every item's page was asked for.
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    for page in [
        "/2015-12/16/c_47822.htm",
        "/2015-12/16/c_47812.htm",
        "/2015-12/17/c_47850.htm",
        "/specials/c_47999.htm",
    ] {
        assert!(asked.iter().any(|a| a == page), "{page} not fetched: {asked:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_fails_falls_back_to_the_feed_marked_in_preview() {
    let server = MockServer::start().await;
    let base = server.uri();
    let rss = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>{base}/</link>\
         <item><title>Gone</title><link>{base}/gone.htm</link><guid>g</guid>\
         <pubDate>Wed, 16 Dec 2015 10:23:00 +0800</pubDate><description>The feed's own summary.</description></item>\
         </channel></rss>"
    );
    Mock::given(method("GET"))
        .and(path_is("/feed.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(rss.into_bytes(), "application/rss+xml"))
        .mount(&server)
        .await;
    let dir = Dir::new(&source("gone", &format!("{base}/feed.xml"), "full_text = true"));
    let (code, stdout, stderr) = dir.run(&["preview", "gone"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("{base}/gone.htm")), "{stdout}");
    assert!(
        stdout.contains("title feed, page failed · date feed, page failed"),
        "{stdout}"
    );
    assert!(stdout.contains("body feed, page failed"), "{stdout}");
    assert!(stderr.contains("returned HTTP 404"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_drop_items_and_preview_says_why() {
    let server = serve().await;
    let base = server.uri();
    let filters = r#"exclude = [{ field = "title", pattern = "(?i)sponsored" }]
title_strip = '^\[Video\]\s*'
max_age = "30d""#;
    let dir = Dir::new(&source("filtered", &format!("{base}/feeds/rss2.xml"), filters));
    let (code, stdout, stderr) = dir.run(&["preview", "filtered"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("dropped by the source's filters"), "{stdout}");
    assert!(
        stdout.contains("dropped: exclude: title matches \"(?i)sponsored\""),
        "{stdout}"
    );
    assert!(stdout.contains("dropped: older than max_age 30days"), "{stdout}");
    // The undated item is kept (first seen now), its title stripped.
    let kept = stdout
        .lines()
        .find(|l| l.ends_with(&format!("{base}/specials/c_47999.htm")))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        kept.contains("Cross-border e-commerce & digital trade") && !kept.contains("[Video]"),
        "{kept}"
    );

    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let feed = dir.feed("filtered");
    assert_eq!(
        feed.entries.len(),
        1,
        "{:?}",
        feed.entries.iter().map(title).collect::<Vec<_>>()
    );
    assert_eq!(title(&feed.entries[0]), "Cross-border e-commerce & digital trade");
}

/// A full-text item whose page fails on a later run keeps the full text it was stored with: the feed's summary
/// is only for an item that never had its page read.
#[tokio::test(flavor = "multi_thread")]
async fn a_known_item_whose_page_fails_later_keeps_its_full_text() {
    let server = serve().await;
    let base = server.uri();
    let dir = Dir::new(&source("full", &format!("{base}/feeds/rss2.xml"), "full_text = true"));
    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let speech_url = format!("{base}/2015-12/16/c_47822.htm");
    let page_text = "Chinese President Xi Jinping on Wednesday urged all countries";
    assert!(body(entry(&dir.feed("full"), &speech_url)).contains(page_text));

    // Now only the feed answers: every page is a 404.
    server.reset().await;
    mount_feed(&server, "rss2.xml", "application/rss+xml").await;
    let (code, stdout, stderr) = dir.run(&["run", "--refetch"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("the stored item is kept"), "{stderr}");
    let feed = dir.feed("full");
    assert!(
        body(entry(&feed, &speech_url)).contains(page_text),
        "{}",
        body(entry(&feed, &speech_url))
    );
    assert!(!body(entry(&feed, &speech_url)).contains("Full <b>text</b>"));
}

/// Categories and lead images, from a feed's own entries and from the pages `full_text` reads: tags cleaned and
/// kept once, an image whose length the feed states as an RSS `<enclosure>` (and an Atom enclosure link with its
/// length), any other image as Media RSS, never an audio enclosure as the picture.
///
/// Set `FEEDWRIGHT_FEEDS_OUT=/some/dir` to keep the written feeds there for `/work/shared/oracles/validate-feed`.
#[tokio::test(flavor = "multi_thread")]
async fn categories_and_lead_images_reach_every_format() {
    let server = MockServer::start().await;
    let base = server.uri();
    mount_feed(&server, "tagged.xml", "application/rss+xml").await;
    for page in ["a", "b"] {
        common::mount_page(
            &server,
            &format!("/tagged/{page}.htm"),
            feed_fixture(&server, &format!("tagged-{page}.htm")),
        )
        .await;
    }
    let feed_url = format!("{base}/feeds/tagged.xml");
    let sources = [
        source("only", &feed_url, ""),
        source(
            "full",
            &feed_url,
            "full_text = true\n[source.article]\ntags = \".tags a\"",
        ),
    ]
    .join("\n");
    let dir = Dir::new(&sources);
    let (code, stdout, stderr) = dir.run(&["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    if let Some(out) = std::env::var_os("FEEDWRIGHT_FEEDS_OUT") {
        std::fs::create_dir_all(&out).unwrap();
        for id in ["only", "full"] {
            for ext in ["atom", "rss", "json"] {
                std::fs::copy(dir.path(id, ext), Path::new(&out).join(format!("{id}.{ext}"))).unwrap();
            }
        }
    }
    let (a, b) = (format!("{base}/tagged/a.htm"), format!("{base}/tagged/b.htm"));
    let terms = |e: &feed_rs::model::Entry| e.categories.iter().map(|c| c.term.clone()).collect::<Vec<_>>();
    let enclosure = |e: &feed_rs::model::Entry| {
        e.links
            .iter()
            .find(|l| l.rel.as_deref() == Some("enclosure"))
            .map(|l| (l.href.clone(), l.length))
    };

    // From the feed alone: its categories, cleaned; its image enclosure with the stated length, not the podcast.
    let only = dir.feed("only");
    assert_eq!(terms(entry(&only, &a)), ["Speeches", "Policy"]);
    assert_eq!(terms(entry(&only, &b)), ["Culture"]);
    assert_eq!(
        enclosure(entry(&only, &a)),
        Some((format!("{base}/img/a.jpg"), Some(34567)))
    );
    assert_eq!(enclosure(entry(&only, &b)), Some((format!("{base}/img/b.png"), None)));
    let rss = std::fs::read_to_string(dir.path("only", "rss")).unwrap();
    assert!(
        rss.contains(&format!(
            r#"<enclosure url="{base}/img/a.jpg" length="34567" type="image/jpeg"/>"#
        )),
        "{rss}"
    );
    assert!(
        rss.contains(&format!(
            r#"<media:content medium="image" type="image/png" url="{base}/img/b.png">"#
        )),
        "{rss}"
    );
    assert!(!rss.contains("podcast.mp3"), "{rss}");
    assert_eq!(rss.matches("<category>").count(), 3, "{rss}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path("only", "json")).unwrap()).unwrap();
    let tagged_a = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["url"] == a.as_str())
        .unwrap();
    assert_eq!(tagged_a["tags"], serde_json::json!(["Speeches", "Policy"]));

    // With the pages read: the page's tags come first (JSON-LD section and keywords; the selector over JSON-LD),
    // the feed's enclosure fills the page without an image, the page's own og:image wins and has no known size.
    let full = dir.feed("full");
    assert_eq!(terms(entry(&full, &a)), ["World", "Internet", "Governance", "Wuzhen"]);
    assert_eq!(terms(entry(&full, &b)), ["Wuzhen", "Water towns"]);
    assert_eq!(
        enclosure(entry(&full, &a)),
        Some((format!("{base}/img/a.jpg"), Some(34567)))
    );
    assert_eq!(
        enclosure(entry(&full, &b)),
        Some((format!("{base}/img/b-page.jpg"), None))
    );
    let rss = std::fs::read_to_string(dir.path("full", "rss")).unwrap();
    assert_eq!(rss.matches("<enclosure").count(), 1, "{rss}");
    assert!(rss.contains(&format!(r#"url="{base}/img/b-page.jpg""#)), "{rss}");

    // preview shows them, with where they came from.
    let (code, stdout, stderr) = dir.run(&["preview", "full"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("    tags: Wuzhen · Water towns"), "{stdout}");
    assert!(stdout.contains("tags selector"), "{stdout}");
    assert!(stdout.contains("tags json-ld"), "{stdout}");

    // A second run reads the same: nothing looks edited.
    let before = std::fs::read(dir.path("full", "atom")).unwrap();
    let (code, stdout, stderr) = dir.run(&["run", "--refetch"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(std::fs::read(dir.path("full", "atom")).unwrap(), before);
}
