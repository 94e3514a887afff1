//! Writes a 50-item feed (Atom, RSS and JSON) and a config that serves it, for `scripts/bench-serve.sh`.
//!
//! Usage: `cargo run --release --example bench_feed -- DIR [STATE]`. Creates `DIR/feeds/wic-news.{atom,rss,json}` and
//! `DIR/feedwright.toml`; with `STATE` (a file path or a `postgres://` URL), the config's state is that one and
//! the store there keeps a copy of each feed as publishing does, so `serve` answers from the store. The items are synthetic but shaped like the conference news articles (a title, a few
//! paragraphs of HTML, an image, a summary), about 2 KB each, with fixed dates so the files are byte-stable.

use chrono::{DateTime, Duration};
use feedwright::model::{DateSource, FeedMeta, Item, ItemId, SourceId};
use feedwright::render::{self, Format};
use feedwright::store::{FeedTag, Location, Store, StoredFeed};
use url::Url;

const CONFIG: &str = r##"# Serves the synthetic 50-item feed written by `examples/bench_feed.rs`.
[settings]
output_dir = "feeds"
state = "STATE"
feed_base_url = "http://127.0.0.1:8080/"

[[source]]
id = "wic-news"
title = "World Internet Conference - News"
url = "https://www.wuzhenwic.org/news/node_35363.htm"

[source.listing]
links = "h4 > a"

[source.article]
title = "div.lft_art > h1"
content = "#Content"
"##;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: bench_feed DIR [STATE]"));
    let state = std::env::args().nth(2);
    let start = DateTime::parse_from_rfc3339("2015-12-18T09:00:00+08:00").expect("valid date");
    let paragraph = "The World Internet Conference brought together leaders of governments, companies and \
                     research institutions to discuss the governance of cyberspace, the digital economy and \
                     cooperation across borders. ";
    let items: Vec<Item> = (0..50)
        .map(|n| {
            let url = Url::parse(&format!(
                "https://www.wuzhenwic.org/2015-12/{:02}/c_{}.htm",
                18 - n / 10,
                48000 - n
            ))
            .expect("valid URL");
            let published = start - Duration::hours(3 * n as i64);
            Item {
                id: ItemId::from_canonical(&url),
                url,
                title: format!("Wuzhen Summit: session {n} on the future of the internet"),
                published,
                date_source: DateSource::Page,
                updated: published,
                author: Some("Xinhua".to_owned()),
                summary: paragraph.chars().take(280).collect(),
                content_html: format!(
                    "<p><img src=\"https://www.wuzhenwic.org/images/{n}.jpg\" alt=\"\"></p>{}",
                    format!("<p>{}</p>", paragraph.repeat(2)).repeat(4)
                ),
                image: Some(Url::parse(&format!("https://www.wuzhenwic.org/images/{n}.jpg")).expect("valid URL")),
                image_caption: Some(format!("Session {n} of the summit")),
                image_length: None,
                image_type: None,
                categories: vec!["Wuzhen Summit".to_owned(), "Internet".to_owned()],
            }
        })
        .collect();
    let meta = FeedMeta {
        source: SourceId::parse("wic-news").expect("valid id"),
        title: "World Internet Conference - News".to_owned(),
        description: "News from the World Internet Conference".to_owned(),
        home_page: Url::parse("https://www.wuzhenwic.org/news/node_35363.htm").expect("valid URL"),
        feed_base: Url::parse("http://127.0.0.1:8080/").expect("valid URL"),
        language: Some("en".to_owned()),
        author: "World Internet Conference".to_owned(),
        updated: start,
        alternates: Vec::new(),
        hub: None,
    };
    let feeds = dir.join("feeds");
    std::fs::create_dir_all(&feeds).expect("can create the feeds folder");
    let mut copies = Vec::new();
    for format in Format::ALL {
        let path = feeds.join(format!("wic-news.{}", format.ext()));
        let body = render::render(format, &meta, &items).into_bytes();
        std::fs::write(&path, &body).expect("can write the feed");
        println!("{} ({} bytes)", path.display(), body.len());
        copies.push(StoredFeed {
            feed: meta.source.clone(),
            ext: format.ext().to_owned(),
            tag: FeedTag {
                etag: feedwright::publish::etag(&body),
                modified: start.to_utc(),
            },
            body,
        });
    }
    let config = CONFIG.replace("STATE", state.as_deref().unwrap_or("state/feedwright.sqlite"));
    std::fs::write(dir.join("feedwright.toml"), config).expect("can write the config");
    if let Some(state) = state {
        let location = Location::parse(&state, &dir).expect("a valid state");
        if let Some(parent) = location.file().and_then(|f| f.parent()) {
            std::fs::create_dir_all(parent).expect("can create the state folder");
        }
        let mut store = Store::open(&location).expect("can open the state");
        store.save_feeds(&copies).expect("can keep the copies");
        println!("copies kept in {location}");
    }
}
