//! `init`: what automatic detection found on a site, written as a commented `[[source]]` block.
//!
//! [`propose`] takes the listing page and a few of its article pages (already fetched and decoded) and decides,
//! field by field, what the config should say: a concrete selector where detection found the same stable one on
//! every sampled page (so the source does not depend on heuristics from run to run), nothing where the page's
//! metadata already gives the field (JSON-LD, OpenGraph: stable by nature), and a comment either way saying what was
//! detected. [`Proposal::toml`] writes the block; [`bare_config`] is the source made of only a URL that
//! `preview URL` reads. Pure: pages in, text out.
//!
//! A listing that advertises a feed ([`Proposal::with_feed`], given that feed as fetched): the listing the user
//! pointed at stays the source, since a site's `<link rel=alternate>` is often its whole-site feed while the page
//! is one section, and the feed source is written beside it as a commented alternative, with `full_text` set by
//! whether the feed's items carry whole articles. Only when no article links were found on the listing, and the
//! feed has items, is the feed source the one written: then it is the one that works.

use std::path::Path;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use crate::config::{self, Config, ConfigError};
use crate::extract::{ArticleRules, auto, meta};
use crate::model::{Origin, SourceId};

/// The source `preview URL` reads: only the URL, everything else default and found automatically.
pub fn bare_config(url: &Url, id: Option<&str>) -> Result<Config, ConfigError> {
    let id = id.map_or_else(|| id_for(url), str::to_owned);
    let text = format!(
        "[[source]]\nid = {}\ntitle = {}\nurl = {}\n",
        quote(&id),
        quote(url.host_str().unwrap_or("site")),
        quote(url.as_str())
    );
    config::parse(&text, Path::new("(preview URL)"))
}

/// A source id from a URL's host: `www.wicinternet.org` becomes `wicinternet-org`.
pub fn id_for(url: &Url) -> String {
    let host = url.host_str().unwrap_or("site");
    let host = host.strip_prefix("www.").unwrap_or(host);
    let mut id: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    id.truncate(64);
    let id = id.trim_matches('-').to_owned();
    if SourceId::parse(&id).is_some() {
        id
    } else {
        "site".into()
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// One config key as `init` proposes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    /// The selector to write; `None` leaves the key out (found automatically, or by metadata).
    pub selector: Option<String>,
    /// What was detected, for the comment above the key.
    pub note: String,
}

/// What `init` writes for one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: String,
    pub title: String,
    pub url: Url,
    pub language: Option<String>,
    pub timezone: Option<&'static str>,
    pub links: usize,
    pub listing: Vec<Field>,
    pub article: Vec<Field>,
    /// Feeds the listing advertises.
    pub feeds: Vec<Url>,
    /// The first of them, as read: its items and whether they carry whole articles.
    pub feed: Option<FeedProposal>,
}

/// The feed `init` proposes as a source: the first one the listing advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedProposal {
    pub url: Url,
    /// What reading it found; `None` when it could not be fetched or parsed.
    pub read: Option<FeedRead>,
}

/// What one read of a feed says about using it as a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRead {
    pub items: usize,
    /// Whether its items carry only summaries, so each article's page has to be read (`full_text = true`).
    pub full_text: bool,
}

/// The shortest item body, in characters of text, that counts as a whole article rather than a summary.
const ARTICLE_CHARS: usize = 500;

/// Reads an advertised feed for `init`: how many items, and whether most of them carry a whole article.
pub fn read_feed(feed: &Fetched) -> Option<FeedRead> {
    let parsed = crate::extract::feed::parse(&feed.text, &feed.url).ok()?;
    let items = parsed.links.len();
    let whole = parsed
        .links
        .iter()
        .filter_map(|l| l.feed.as_deref())
        .filter(|e| {
            let body = e.content_html.as_deref().or(e.summary_html.as_deref()).unwrap_or("");
            text_chars(body) >= ARTICLE_CHARS
        })
        .count();
    Some(FeedRead {
        items,
        full_text: whole * 2 <= items,
    })
}

/// Characters of `html` outside its tags: enough to tell a summary from an article.
fn text_chars(html: &str) -> usize {
    let mut in_tag = false;
    html.chars()
        .filter(|&c| {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    return false;
                }
                _ => {}
            }
            !in_tag && !c.is_whitespace()
        })
        .count()
}

/// A page as `init` needs it: where it was served from and its decoded text.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: Url,
    pub text: String,
}

/// Detects everything on `listing` and the sampled `articles` (listed first to last) and proposes the block.
pub fn propose(id: &str, listing: &Fetched, articles: &[Fetched]) -> Proposal {
    let doc = crate::html::parse_document(&listing.text).html;
    let page_meta = meta::read(&doc);
    let detected = auto::links::find(&doc, &listing.url);
    let next = auto::pager::next_listing(&doc, &listing.url);
    let mut fields = Vec::new();
    match &detected {
        Some(found) => {
            fields.push(Field {
                key: "item",
                selector: Some(found.item.clone()),
                note: format!("{} stories found in a repeated block", found.links.len()),
            });
            fields.push(Field {
                key: "links",
                selector: Some(found.link.clone()),
                note: "the article link inside each story".into(),
            });
            if let Some(date) = &found.date {
                fields.push(Field {
                    key: "date",
                    selector: Some(date.clone()),
                    note: "a date printed beside each link".into(),
                });
            }
        }
        None => fields.push(Field {
            key: "links",
            selector: None,
            note: "no repeated block of article links found: give listing.links".into(),
        }),
    }
    if let Some(next) = &next {
        fields.push(Field {
            key: "next",
            selector: None,
            note: format!("a next page was detected ({next}): followed while pages bring new links, up to max_pages"),
        });
    }
    let feeds = page_meta
        .feeds
        .iter()
        .filter_map(|f| listing.url.join(&f.href).ok())
        .collect();
    let language = page_meta.language.clone();
    Proposal {
        id: id.to_owned(),
        title: site_title(&doc, &page_meta, &listing.url),
        url: listing.url.clone(),
        timezone: language
            .as_deref()
            .and_then(crate::normalize::date::zone_for_language)
            .map(|tz| tz.name()),
        language,
        links: detected.as_ref().map_or(0, |d| d.links.len()),
        listing: fields,
        article: article_fields(articles),
        feeds,
        feed: None,
    }
}

/// The site's name: `og:site_name`, else the `<title>` of the listing, else the host.
fn site_title(doc: &Html, page_meta: &meta::PageMeta, url: &Url) -> String {
    page_meta
        .site_name
        .clone()
        .or_else(|| meta::document_title(doc))
        .unwrap_or_else(|| url.host_str().unwrap_or("site").to_owned())
}

/// Per article field: the selector detection agrees on over every sampled page, or why there is none.
fn article_fields(articles: &[Fetched]) -> Vec<Field> {
    let pages: Vec<(Html, &Fetched)> = articles
        .iter()
        .map(|a| (crate::html::parse_document(&a.text).html, a))
        .collect();
    let read: Vec<_> = pages
        .iter()
        .map(|(_, a)| crate::extract::article::parse(&a.text, &a.url, &ArticleRules::default(), None).article)
        .collect();
    let n = pages.len();
    let mut fields = Vec::new();
    // For each field: where the value came from on each page, and the element holding it.
    let mut propose = |key: &'static str, origins: Vec<Option<Origin>>, elements: Vec<Option<NodeId>>| {
        let element = |i: usize| {
            elements[i]
                .and_then(|id| pages[i].0.tree.get(id))
                .and_then(ElementRef::wrap)
        };
        let selectors: Vec<Option<String>> = (0..n)
            .map(|i| element(i).and_then(|el| auto::css::unique(&pages[i].0, el)))
            .collect();
        let found = origins.iter().filter(|o| o.is_some()).count();
        let from_meta = origins
            .iter()
            .flatten()
            .find(|o| matches!(o, Origin::JsonLd | Origin::Microdata | Origin::OpenGraph | Origin::Meta));
        // Most pages must name the same element, and on the others that selector must find nothing (so detection
        // still reads them) or what detection found there, or a part of it: a page without the field, a special page
        // of another layout, or one where detection took in a little more than the body, does not disagree.
        let mut votes: Vec<(&String, usize)> = Vec::new();
        for s in selectors.iter().flatten() {
            match votes.iter_mut().find(|(v, _)| *v == s) {
                Some((_, n)) => *n += 1,
                None => votes.push((s, 1)),
            }
        }
        votes.sort_by_key(|v| std::cmp::Reverse(v.1));
        let agreed = votes
            .first()
            .filter(|(_, n)| *n == found || (*n >= 2 && *n * 2 > found))
            .map(|(s, agree)| ((*s).clone(), *agree))
            .filter(|(css, _)| {
                let sel = Selector::parse(css).expect("built from the page's own names");
                (0..n).all(|i| {
                    let inside_detected = |m: ElementRef<'_>| {
                        element(i).is_some_and(|d| m.id() == d.id() || m.ancestors().any(|a| a.id() == d.id()))
                    };
                    selectors[i].as_deref() == Some(css.as_str())
                        || origins[i].is_none()
                        || pages[i].0.select(&sel).next().is_none_or(inside_detected)
                })
            });
        let field = match (found, from_meta, agreed) {
            (0, _, _) => Field {
                key,
                selector: None,
                note: format!("not found on the {n} sampled pages"),
            },
            (_, Some(origin), _) if found == n => Field {
                key,
                selector: None,
                note: format!(
                    "in the page metadata ({}) on all {n} sampled pages: no selector needed",
                    origin.as_str()
                ),
            },
            (_, _, Some((selector, agree))) => Field {
                key,
                selector: Some(selector),
                note: if agree == found {
                    format!("detected on {found} of {n} sampled pages, the same element each time")
                } else {
                    format!("detected on {found} of {n} sampled pages, in this element on {agree} of them")
                },
            },
            _ => Field {
                key,
                selector: None,
                note: format!(
                    "detected on {found} of {n} sampled pages, but in no element a stable selector names: found automatically on each run"
                ),
            },
        };
        fields.push(field);
    };
    let select = |value: &dyn Fn(usize) -> Option<String>| -> Vec<Option<NodeId>> {
        (0..n)
            .map(|i| {
                value(i)
                    .and_then(|v| element_with_text(&pages[i].0, &v))
                    .map(|el| el.id())
            })
            .collect()
    };
    propose(
        "title",
        read.iter().map(|r| r.provenance.title).collect(),
        select(&|i| read[i].title.clone()),
    );
    propose(
        "date",
        read.iter()
            .map(|r| r.provenance.date_machine.or(r.provenance.date_text))
            .collect(),
        select(&|i| read[i].date_text.clone()),
    );
    propose(
        "author",
        read.iter().map(|r| r.provenance.author).collect(),
        select(&|i| read[i].author.clone()),
    );
    propose(
        "content",
        read.iter().map(|r| r.provenance.content).collect(),
        (0..n)
            .map(|i| auto::body::find(&pages[i].0).map(|b| b.root.id()))
            .collect(),
    );
    fields
}

/// The first element whose whole text is `text` (whitespace collapsed) and none of whose children's is: the
/// headline's `<h1>` rather than the `<div>` around it, and rather than a sidebar link of the same words further
/// down.
fn element_with_text<'a>(doc: &'a Html, text: &str) -> Option<ElementRef<'a>> {
    let collapse = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let want = collapse(text.to_owned());
    let mut found: Option<ElementRef<'a>> = None;
    for el in doc.root_element().descendants().filter_map(ElementRef::wrap) {
        if matches!(el.value().name(), "script" | "style" | "title" | "head" | "meta") {
            continue;
        }
        let inside_found = found.is_some_and(|f| el.ancestors().any(|a| a.id() == f.id()));
        if found.is_some() && !inside_found {
            break;
        }
        if collapse(el.text().collect()) == want {
            found = Some(el);
        }
    }
    found
}

impl Proposal {
    /// This proposal with the first advertised feed, as fetched (`None`: it could not be); unchanged when the
    /// listing advertises none.
    pub fn with_feed(mut self, fetched: Option<&Fetched>) -> Proposal {
        if let Some(url) = self.feeds.first() {
            self.feed = Some(FeedProposal {
                url: url.clone(),
                read: fetched.and_then(read_feed),
            });
        }
        self
    }

    /// Whether the block reads the advertised feed instead of the listing: only when the listing showed no
    /// article links and the feed has items.
    pub fn reads_feed(&self) -> bool {
        self.links == 0 && self.feed.as_ref().and_then(|f| f.read).is_some_and(|r| r.items > 0)
    }

    /// The feed source's keys (`feed`, and `full_text` when its items are summaries), one per line.
    fn feed_keys(feed: &FeedProposal) -> Vec<String> {
        let mut keys = vec![format!("feed = {}", quote(feed.url.as_str()))];
        match feed.read {
            Some(read) if !read.full_text => keys.push(format!(
                "# its {} items carry whole articles: they are published as the feed gives them",
                read.items
            )),
            Some(read) => {
                keys.push(format!(
                    "# its {} items carry summaries only: each article's page is read for the whole text",
                    read.items
                ));
                keys.push("full_text = true".into());
            }
            None => {
                keys.push("# it could not be read just now: full_text reads each article's page, in case".into());
                keys.push("full_text = true".into());
            }
        }
        keys
    }

    /// The `[[source]]` block reading the advertised feed (only when [`Proposal::reads_feed`]).
    fn feed_toml(&self, feed: &FeedProposal) -> String {
        let mut out = format!(
            "\n# Written by `feedwright init {}`.\n# No article links were found on that page, but it advertises a \
             feed: this source reads the feed.\n",
            self.url
        );
        out.push_str(&format!(
            "# `feedwright preview {}` shows what it reads; [source.article] keys apply when full_text reads pages.\n",
            self.id
        ));
        out.push_str("[[source]]\n");
        out.push_str(&format!("id = {}\n", quote(&self.id)));
        out.push_str(&format!("title = {}\n", quote(&self.title)));
        for key in Self::feed_keys(feed) {
            out.push_str(&key);
            out.push('\n');
        }
        if let Some(language) = &self.language {
            out.push_str(&format!("language = {}\n", quote(language)));
        }
        if let Some(tz) = self.timezone {
            out.push_str(&format!("timezone = {}\n", quote(tz)));
        }
        out
    }

    /// The commented `[[source]]` block, ready to append to a config file.
    pub fn toml(&self) -> String {
        if let Some(feed) = self.feed.as_ref().filter(|_| self.reads_feed()) {
            return self.feed_toml(feed);
        }
        let mut out = String::new();
        out.push_str(&format!(
            "\n# Written by `feedwright init {}`: {} article links found on the listing.\n",
            self.url, self.links
        ));
        out.push_str("# Keys left out are found automatically on every run; `feedwright preview ");
        out.push_str(&self.id);
        out.push_str("` shows what it reads.\n");
        if let Some(feed) = &self.feed {
            out.push_str(&format!(
                "# The listing advertises a feed: {}\n\
                 # To read it instead of this page (its items, in its order: it may cover more or less than this\n\
                 # page), replace this [[source]] and its tables with:\n\
                 #   [[source]]\n#   id = {}\n#   title = {}\n",
                feed.url,
                quote(&self.id),
                quote(&self.title)
            ));
            for key in Self::feed_keys(feed) {
                match key.strip_prefix("# ") {
                    Some(note) => out.push_str(&format!("#   ({note})\n")),
                    None => out.push_str(&format!("#   {key}\n")),
                }
            }
        }
        for feed in self.feeds.iter().skip(1) {
            out.push_str(&format!("# It also advertises {feed}.\n"));
        }
        out.push_str("[[source]]\n");
        out.push_str(&format!("id = {}\n", quote(&self.id)));
        out.push_str(&format!("title = {}\n", quote(&self.title)));
        out.push_str(&format!("url = {}\n", quote(self.url.as_str())));
        if let Some(language) = &self.language {
            out.push_str(&format!("language = {}\n", quote(language)));
        }
        match self.timezone {
            Some(tz) => out.push_str(&format!(
                "# Dates the site prints without a zone are read in this one (guessed from the page language).\ntimezone = {}\n",
                quote(tz)
            )),
            None => out.push_str("# Set timezone (an IANA name) if the site prints times without a zone; UTC otherwise.\n"),
        }
        for (table, fields) in [("listing", &self.listing), ("article", &self.article)] {
            out.push_str(&format!("\n[source.{table}]\n"));
            for field in fields {
                out.push_str(&format!("# {}: {}\n", field.key, field.note));
                if let Some(selector) = &field.selector {
                    out.push_str(&format!("{} = {}\n", field.key, quote(selector)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_host() {
        let id = |u: &str| id_for(&Url::parse(u).unwrap());
        assert_eq!(id("https://www.wicinternet.org/news/"), "wicinternet-org");
        assert_eq!(id("http://127.0.0.1:8080/"), "127-0-0-1");
        assert!(SourceId::parse(&id("https://新闻.example/")).is_some());
    }

    fn page(url: &str, text: &str) -> Fetched {
        Fetched {
            url: Url::parse(url).unwrap(),
            text: text.into(),
        }
    }

    fn rss(body: &str) -> Fetched {
        let items: String = (1..=3)
            .map(|i| {
                format!(
                    "<item><title>Story {i}</title><link>https://news.example/{i}.htm</link>\
                     <pubDate>Wed, 16 Dec 2015 02:2{i}:00 GMT</pubDate><description>{body}</description></item>"
                )
            })
            .collect();
        page(
            "https://news.example/feed.xml",
            &format!(
                "<rss version=\"2.0\"><channel><title>N</title><link>https://news.example/</link>{items}</channel></rss>"
            ),
        )
    }

    const ADVERTISING: &str = "<html lang=\"en\"><head><title>News</title>\
        <link rel=\"alternate\" type=\"application/rss+xml\" href=\"/feed.xml\">\
        <link rel=\"alternate\" type=\"application/atom+xml\" href=\"/comments.atom\"></head><body>";

    #[test]
    fn a_feed_of_summaries_needs_full_text_and_one_of_articles_does_not() {
        let summaries = read_feed(&rss("A short summary.")).unwrap();
        assert_eq!(
            summaries,
            FeedRead {
                items: 3,
                full_text: true
            }
        );
        let article = format!("&lt;p&gt;{}&lt;/p&gt;", "A whole paragraph of the story. ".repeat(30));
        assert_eq!(
            read_feed(&rss(&article)).unwrap(),
            FeedRead {
                items: 3,
                full_text: false
            }
        );
        assert_eq!(
            read_feed(&page("https://news.example/feed.xml", "<html>not a feed</html>")),
            None
        );
    }

    #[test]
    fn a_listing_with_links_stays_the_source_and_its_feed_is_the_commented_alternative() {
        let stories: String = (1..=6)
            .map(|i| format!("<li><h4><a href=\"/news/{i}.htm\">Story number {i} of the day</a></h4></li>"))
            .collect();
        let listing = page(
            "https://news.example/news/",
            &format!("{ADVERTISING}<ul>{stories}</ul></body></html>"),
        );
        let proposal = propose("news", &listing, &[]).with_feed(Some(&rss("Short.")));
        assert!(proposal.links > 0 && !proposal.reads_feed());
        let block = proposal.toml();
        assert!(
            block.contains("#   feed = \"https://news.example/feed.xml\"\n"),
            "{block}"
        );
        assert!(block.contains("#   (its 3 items carry summaries only: each article's page is read for the whole text)\n#   full_text = true\n"), "{block}");
        assert!(
            block.contains("# It also advertises https://news.example/comments.atom."),
            "{block}"
        );
        let config = config::parse(&block, Path::new("c.toml")).unwrap();
        assert!(config.sources[0].feed.is_none(), "the listing is read");

        // Uncommented in place of the listing source, the alternative is a valid feed source.
        let alternative: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("#   "))
            .filter(|l| !l.starts_with('('))
            .map(|l| format!("{l}\n"))
            .collect();
        let config = config::parse(&alternative, Path::new("c.toml")).unwrap();
        assert_eq!(config.sources[0].urls[0].as_str(), "https://news.example/feed.xml");
        assert_eq!(config.sources[0].feed, Some(config::FeedOptions { full_text: true }));
    }

    #[test]
    fn a_listing_without_links_that_advertises_a_feed_gets_the_feed_source() {
        let listing = page(
            "https://news.example/",
            &format!("{ADVERTISING}<p>Welcome.</p></body></html>"),
        );
        let whole = format!("&lt;p&gt;{}&lt;/p&gt;", "A whole paragraph of the story. ".repeat(30));
        let proposal = propose("news", &listing, &[]).with_feed(Some(&rss(&whole)));
        assert!(proposal.reads_feed());
        let block = proposal.toml();
        let config = config::parse(&block, Path::new("c.toml")).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.urls[0].as_str(), "https://news.example/feed.xml");
        assert!(source.feed_only(), "its items carry whole articles: {block}");
        assert_eq!(source.language.as_deref(), Some("en"));

        // A feed that cannot be read is not chosen: the listing source is written, the feed commented.
        let unread = propose("news", &listing, &[]).with_feed(None);
        assert!(!unread.reads_feed());
        assert!(unread.toml().contains("#   full_text = true"), "{}", unread.toml());
        assert!(
            config::parse(&unread.toml(), Path::new("c.toml")).unwrap().sources[0]
                .feed
                .is_none()
        );
    }

    #[test]
    fn a_bare_url_is_a_valid_source() {
        let config = bare_config(&Url::parse("https://news.example/world/").unwrap(), None).unwrap();
        assert_eq!(config.sources[0].id.as_str(), "news-example");
        assert!(config.sources[0].listing.links.is_none());
        assert!(config.sources[0].article.content.is_none());
    }
}
