//! A feed read as a source: RSS 0.9x, 1.0 and 2.0, Atom, and JSON Feed 1.0 and 1.1 text in, its entries out.
//!
//! [`parse`] takes the feed as decoded text (the fetcher found its encoding, as for a page: `fetch::charset`) and
//! the URL it was served from, and returns one [`ListedLink`] per entry, carrying the entry's fields as the feed
//! writes them ([`FeedEntry`]): the link resolved (against `xml:base` where the feed sets one, else the feed's URL),
//! the title, date, author, summary and content untouched. Cleaning text, decoding leftover HTML entities, reading
//! dates in the source's zone and sanitizing HTML are `normalize`'s, exactly as for a page, so a feed item and a
//! scraped one obey the same rules. Entries repeating a guid or a link already given are dropped. What was odd
//! about the feed (repeats, entries without a link) comes back as warnings, not errors: only a document that is
//! not a feed at all fails. [`article`] and [`fill`] turn an entry into (or complete) a [`RawArticle`]. Pure: no
//! I/O, no clock.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use chrono::DateTime;
use feed_rs::model::{Entry, Text};
use url::Url;

use crate::model::{Enclosure, FeedEntry, ListedLink, Origin, RawArticle};

/// Why a fetched document yields no entries.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{url} is not an RSS, Atom or JSON feed")]
    NotAFeed {
        url: Url,
        #[source]
        source: Box<feed_rs::parser::ParseFeedError>,
    },
}

/// What a feed gave.
#[derive(Debug, Default)]
pub struct Feed {
    /// One link per entry, in feed order, each link and guid once.
    pub links: Vec<ListedLink>,
    /// Oddities worth a warning (repeated entries, entries without a usable link).
    pub warnings: Vec<String>,
}

/// Reads a feed. `base` is the URL it was served from (after redirects): relative links resolve against it, or
/// against the `xml:base` in effect where the feed sets one.
pub fn parse(text: &str, base: &Url) -> Result<Feed, FeedError> {
    // feed-rs parses dates itself, into UTC; a date without a zone would be read as UTC and a broken one lost. Its
    // timestamp hook is given every date text it meets, so the hook keeps the text and hands back a handle (the
    // text's index, as seconds after the epoch) that is looked up again below: the entry keeps its date as written,
    // and `normalize::date` reads it in the source's zone.
    let dates = Rc::new(RefCell::new(Vec::<String>::new()));
    let seen = Rc::clone(&dates);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .sanitize_content(false)
        .timestamp_parser(move |text| {
            let mut seen = seen.borrow_mut();
            seen.push(text.trim().to_owned());
            DateTime::from_timestamp(i64::try_from(seen.len() - 1).ok()?, 0)
        })
        .build();
    let feed = parser
        .parse(declared_utf8(text).as_bytes())
        .map_err(|source| FeedError::NotAFeed {
            url: base.clone(),
            source: Box::new(source),
        })?;
    let dates = dates.borrow();
    let date_text = |d: Option<DateTime<chrono::Utc>>| {
        let index = usize::try_from(d?.timestamp()).ok()?;
        dates.get(index).filter(|t| !t.is_empty()).cloned()
    };
    let language = feed.language.clone();
    // feed-rs resolves links against `xml:base` but keeps no base for a body: read it from the document.
    let bases = match feed.feed_type {
        feed_rs::model::FeedType::Atom => atom_bases(text, base),
        _ => Vec::new(),
    };
    let bases = (bases.len() == feed.entries.len()).then_some(bases);
    let feed_author = feed.authors.first().map(|p| p.name.clone());

    let mut out = Feed::default();
    let (mut guids, mut urls) = (HashSet::new(), HashSet::new());
    for (n, entry) in feed.entries.iter().enumerate() {
        let Some(url) = link(entry, base) else {
            let what = entry.title.as_ref().map_or(entry.id.as_str(), |t| t.content.as_str());
            out.warnings.push(format!(
                "feed {base}: entry \"{what}\" has no http(s) link; it is left out"
            ));
            continue;
        };
        // feed-rs makes up an id where the feed gives none, from the link and title: a repeat is still a repeat.
        let fresh_guid = entry.id.is_empty() || guids.insert(entry.id.clone());
        if !fresh_guid || !urls.insert(url.clone()) {
            out.warnings.push(format!(
                "feed {base}: entry {url} (guid \"{}\") repeats an earlier one; the first is kept",
                entry.id
            ));
            continue;
        }
        let title = entry
            .title
            .as_ref()
            .map(|t| t.content.clone())
            .filter(|t| !t.trim().is_empty());
        // Without an `xml:base` in scope, a body's relative links are read as the article page's would be.
        let content_base = bases.as_ref().and_then(|b| b[n].clone()).unwrap_or_else(|| url.clone());
        let fields = FeedEntry {
            title: title.clone(),
            date_text: date_text(entry.published).or_else(|| date_text(entry.updated)),
            author: entry
                .authors
                .first()
                .map(|p| p.name.clone())
                .filter(|n| !n.trim().is_empty() && n != "unknown")
                .or_else(|| feed_author.clone()),
            summary_html: entry.summary.as_ref().map(html_of).filter(|h| !h.trim().is_empty()),
            content_html: entry
                .content
                .as_ref()
                .and_then(|c| {
                    let body = c.body.as_deref()?;
                    Some(if c.content_type.essence().to_string() == "text/plain" {
                        escape(body)
                    } else {
                        body.to_owned()
                    })
                })
                .filter(|h| !h.trim().is_empty()),
            categories: entry
                .categories
                .iter()
                .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
                .filter(|c| !c.trim().is_empty())
                .collect(),
            image: image(entry),
            base: content_base,
            language: entry.language.clone().or_else(|| language.clone()),
        };
        out.links.push(ListedLink {
            url,
            title,
            date_text: None,
            feed: Some(Box::new(fields)),
        });
    }
    Ok(out)
}

/// The entry's article link: the first `alternate` (or untyped) http(s) link, else any http(s) link, else a guid
/// that is a URL (RSS `isPermaLink`).
fn link(entry: &Entry, base: &Url) -> Option<Url> {
    let http = |href: &str| {
        base.join(href.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    };
    let alternate = |rel: Option<&str>| rel.is_none_or(|r| r == "alternate");
    entry
        .links
        .iter()
        .filter(|l| alternate(l.rel.as_deref()))
        .chain(
            entry
                .links
                .iter()
                .filter(|l| !alternate(l.rel.as_deref()) && l.rel.as_deref() != Some("enclosure")),
        )
        .find_map(|l| http(&l.href))
        .or_else(|| Url::parse(&entry.id).ok().and_then(|u| http(u.as_str())))
}

/// The first image the entry attaches: RSS `enclosure` and Media RSS `media:content` (feed-rs reads both into
/// `media`), then Atom `link rel="enclosure"` and JSON Feed `attachments` (links with a media type). An image is
/// what says `image/*`, or, without a type, has an image file's extension; an http(s) URL only.
fn image(entry: &Entry) -> Option<Enclosure> {
    let is_image = |url: &Url, mime: Option<&str>| {
        matches!(url.scheme(), "http" | "https")
            && match mime {
                Some(m) => m.trim().to_ascii_lowercase().starts_with("image/"),
                None => Enclosure::image_type_of(url).is_some(),
            }
    };
    let media = entry.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        let url = c.url.clone()?;
        let mime = c.content_type.as_ref().map(|t| t.to_string());
        is_image(&url, mime.as_deref()).then_some(Enclosure {
            url,
            length: c.size.filter(|&n| n > 0),
            mime_type: mime,
        })
    });
    let links = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure") || l.media_type.is_some())
        .filter_map(|l| {
            let url = Url::parse(l.href.trim()).ok()?;
            let mime = l.media_type.clone().filter(|m| !m.trim().is_empty());
            is_image(&url, mime.as_deref()).then_some(Enclosure {
                url,
                length: l.length.filter(|&n| n > 0),
                mime_type: mime,
            })
        });
    media.chain(links).next()
}

/// For each Atom `entry`, in document order, the base in effect at its `content` (else its `summary`) when an
/// `xml:base` is in scope there; `None` when none is (relative links then read as the entry's page would).
fn atom_bases(text: &str, document: &Url) -> Vec<Option<Url>> {
    use quick_xml::events::Event;
    let text = declared_utf8(text);
    let mut reader = quick_xml::Reader::from_reader(text.as_bytes());
    /// A base, and whether an `xml:base` set it (on the element or an ancestor).
    type Base = (Url, bool);
    /// The open entry: its depth, the base of its body so far, and whether that was its `content` (which wins over
    /// `summary`).
    type Open = (usize, Option<Base>, bool);
    let mut stack: Vec<Base> = vec![(document.clone(), false)];
    let mut entry: Option<Open> = None;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    // A document broken halfway gives the bases found so far, and then too few of them to be used.
    while let Ok(event) = reader.read_event_into(&mut buf) {
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let parent = stack.last().cloned().unwrap_or((document.clone(), false));
                let own = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"xml:base")
                    .and_then(|a| {
                        let value = a
                            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, reader.decoder())
                            .ok()?;
                        parent.0.join(&value).ok()
                    });
                let here = own.map_or(parent, |u| (u, true));
                let name = e.local_name();
                let depth = stack.len();
                match (name.as_ref(), &mut entry) {
                    (b"entry", None) => entry = Some((depth, None, false)),
                    (b"content", Some((d, body, from_content))) if depth == *d + 1 => {
                        *body = Some(here.clone());
                        *from_content = true;
                    }
                    (b"summary", Some((d, body, from_content))) if depth == *d + 1 && !*from_content => {
                        *body = Some(here.clone());
                    }
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(here);
                } else if name.as_ref() == b"entry" && entry.as_ref().is_some_and(|(d, ..)| *d == depth) {
                    out.push(None);
                    entry = None;
                }
            }
            Event::End(_) => {
                let entry_base = stack.pop();
                if let Some((d, body, _)) = &entry
                    && stack.len() == *d
                {
                    let body = body.clone().or(entry_base);
                    out.push(body.filter(|(_, set)| *set).map(|(u, _)| u));
                    entry = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// A feed text's HTML: plain text (RSS titles, Atom `type="text"`) escaped, HTML as it is.
fn html_of(text: &Text) -> String {
    if text.content_type.essence().to_string() == "text/plain" {
        escape(&text.content)
    } else {
        text.content.clone()
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    crate::html::escape_into(&mut out, text, false);
    out
}

/// The text with its XML declaration (if any) naming UTF-8: it is already decoded, and feed-rs would otherwise
/// decode it again with the encoding the declaration names (a GBK feed, decoded, still says `encoding="gbk"`).
fn declared_utf8(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n']);
    if let Some(rest) = trimmed.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        let declaration = &rest[..end];
        if declaration.contains("encoding") {
            return format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}", &rest[end + 2..]).into();
        }
    }
    text.into()
}

/// The article an entry gives by itself, for a source that does not read the page (`full_text = false`): the
/// feed's content, else its summary, as the body; `page_url` (the entry's link) as where it was found.
pub fn article(entry: &FeedEntry, page_url: &Url) -> RawArticle {
    let mut raw = RawArticle {
        url: Some(page_url.clone()),
        ..RawArticle::default()
    };
    fill(&mut raw, entry, Origin::Feed);
    raw
}

/// Completes an article read from its page with what the feed gives and the page does not, each field marked as
/// found in `origin`. The body is taken from the feed only when the page has none; its relative links are then
/// relative to the feed entry's base (the article's URL, its identity, stays the page's).
pub fn fill(raw: &mut RawArticle, entry: &FeedEntry, origin: Origin) {
    let p = &mut raw.provenance;
    let take = |field: &mut Option<String>, from: &Option<String>, mark: &mut Option<Origin>| {
        if field.as_deref().is_none_or(|f| f.trim().is_empty()) && from.is_some() {
            field.clone_from(from);
            *mark = Some(origin);
        }
    };
    take(&mut raw.title, &entry.title, &mut p.title);
    if raw.date_machine.is_none() && raw.date_text.is_none() {
        take(&mut raw.date_machine, &entry.date_text, &mut p.date_machine);
    }
    take(&mut raw.author, &entry.author, &mut p.author);
    let body = entry.content_html.as_ref().or(entry.summary_html.as_ref());
    if raw.content_html.as_deref().is_none_or(|c| c.trim().is_empty())
        && let Some(body) = body
    {
        raw.content_html = Some(body.clone());
        raw.content_base = Some(entry.base.clone());
        p.content = Some(origin);
    }
    if raw.tags.is_empty() && !entry.categories.is_empty() {
        raw.tags.clone_from(&entry.categories);
        p.tags = Some(origin);
    }
    if let Some(enclosure) = &entry.image {
        // An image guessed from the page's body is a weaker opinion than the one the feed attaches.
        let guessed = p.image.is_none_or(|from| from == Origin::Heuristic);
        if guessed {
            raw.image = Some(enclosure.url.to_string());
            p.image = Some(origin);
        }
        // The feed's size and type describe that file only: a different image of the page's keeps neither.
        let page_image = raw.image.as_deref().and_then(|i| raw.url.as_ref()?.join(i).ok());
        if page_image.as_ref() == Some(&enclosure.url) {
            raw.image_length = enclosure.length;
            raw.image_type.clone_from(&enclosure.mime_type);
        }
    }
    if raw.language.is_none() {
        raw.language.clone_from(&entry.language);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Provenance;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn entries(text: &str) -> Vec<(String, FeedEntry)> {
        parse(text, &u("https://news.example/feed.xml"))
            .unwrap()
            .links
            .into_iter()
            .map(|l| (l.url.to_string(), *l.feed.unwrap()))
            .collect()
    }

    #[test]
    fn rss2_entries_keep_their_text_and_dates_as_written() {
        let got = entries(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>N</title><language>zh-cn</language>
            <item><title>Tom &amp;amp; Jerry &#8217;s</title><link>/a/1.htm</link><guid>g1</guid>
              <pubDate>2015-12-16 10:23</pubDate><description>&lt;p&gt;Short&lt;/p&gt;</description>
              <category>World</category></item>
            <item><title>Two</title><link>https://news.example/a/2.htm</link><pubDate>not a date</pubDate></item>
            </channel></rss>"#,
        );
        assert_eq!(got.len(), 2);
        let (url, one) = &got[0];
        assert_eq!(url, "https://news.example/a/1.htm");
        assert_eq!(
            one.title.as_deref(),
            Some("Tom &amp; Jerry \u{2019}s"),
            "normalize decodes the rest"
        );
        assert_eq!(
            one.date_text.as_deref(),
            Some("2015-12-16 10:23"),
            "read in the source's zone later"
        );
        assert_eq!(one.summary_html.as_deref(), Some("<p>Short</p>"));
        assert_eq!(one.categories, ["World"]);
        assert_eq!(one.language.as_deref(), Some("zh-cn"));
        assert_eq!(
            got[1].1.date_text.as_deref(),
            Some("not a date"),
            "kept for normalize to warn about"
        );
    }

    #[test]
    fn repeated_guids_and_links_are_dropped_with_a_warning() {
        let feed = parse(
            r#"<rss version="2.0"><channel><title>N</title>
            <item><title>A</title><link>https://news.example/1</link><guid>same</guid></item>
            <item><title>A again</title><link>https://news.example/2</link><guid>same</guid></item>
            <item><title>B</title><link>https://news.example/1</link><guid>other</guid></item>
            <item><title>C</title><link>https://news.example/3</link></item>
            </channel></rss>"#,
            &u("https://news.example/rss"),
        )
        .unwrap();
        let urls: Vec<&str> = feed.links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(urls, ["https://news.example/1", "https://news.example/3"]);
        assert_eq!(feed.warnings.len(), 2, "{:?}", feed.warnings);
    }

    #[test]
    fn atom_links_resolve_against_xml_base() {
        let got = entries(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/posts/">
            <title>B</title><id>b</id>
            <entry><id>e1</id><title type="html">A &amp;lt;b&amp;gt; title</title><link href="one.html"/>
              <published>2024-03-01T08:00:00+01:00</published><author><name>Ann</name></author>
              <content type="html">&lt;p&gt;&lt;img src="img/a.png"&gt;Body&lt;/p&gt;</content></entry>
            </feed>"#,
        );
        let (url, e) = &got[0];
        assert_eq!(url, "https://blog.example/posts/one.html");
        assert_eq!(e.date_text.as_deref(), Some("2024-03-01T08:00:00+01:00"));
        assert_eq!(e.author.as_deref(), Some("Ann"));
        assert_eq!(e.content_html.as_deref(), Some("<p><img src=\"img/a.png\">Body</p>"));
        assert_eq!(
            e.base.as_str(),
            "https://blog.example/posts/",
            "the xml:base in scope at the content"
        );
    }

    #[test]
    fn an_atom_body_takes_the_nearest_xml_base_and_without_one_the_entry_link() {
        let got = entries(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>B</title><id>b</id>
            <entry xml:base="https://cdn.example/a/"><id>1</id><title>1</title><link href="https://blog.example/1"/>
              <summary>s</summary><content xml:base="b/" type="html">x</content></entry>
            <entry><id>2</id><title>2</title><link href="https://blog.example/2"/><content type="html">y</content></entry>
            </feed>"#,
        );
        assert_eq!(got[0].1.base.as_str(), "https://cdn.example/a/b/");
        assert_eq!(got[1].1.base.as_str(), "https://blog.example/2");
    }

    #[test]
    fn json_feed_items_are_read() {
        let got = entries(
            r#"{"version":"https://jsonfeed.org/version/1","title":"J","items":[
              {"id":"1","url":"https://news.example/j/1","title":"J one","content_text":"a < b",
               "date_published":"2024-01-02T03:04:05Z","tags":["x"],"author":{"name":"Jo"}}]}"#,
        );
        assert_eq!(got[0].0, "https://news.example/j/1");
        assert_eq!(got[0].1.content_html.as_deref(), Some("a &lt; b"));
        assert_eq!(got[0].1.author.as_deref(), Some("Jo"));
        assert_eq!(got[0].1.categories, ["x"]);
    }

    #[test]
    fn rss1_items_are_read() {
        let got = entries(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
               xmlns:dc="http://purl.org/dc/elements/1.1/">
            <channel rdf:about="https://news.example/"><title>R</title><link>https://news.example/</link></channel>
            <item rdf:about="https://news.example/r/1"><title>R one</title><link>https://news.example/r/1</link>
              <dc:date>2024-05-06T07:08:09+02:00</dc:date><dc:creator>Rae</dc:creator></item>
            </rdf:RDF>"#,
        );
        assert_eq!(got[0].0, "https://news.example/r/1");
        assert_eq!(got[0].1.date_text.as_deref(), Some("2024-05-06T07:08:09+02:00"));
    }

    #[test]
    fn a_decoded_feed_still_declaring_gbk_is_read_as_the_text_it_is() {
        let got = entries(
            "<?xml version=\"1.0\" encoding=\"gbk\"?><rss version=\"2.0\"><channel><title>中</title>\
             <item><title>互联网大会</title><link>https://news.example/z/1</link></item></channel></rss>",
        );
        assert_eq!(got[0].1.title.as_deref(), Some("互联网大会"));
    }

    #[test]
    fn a_page_that_is_not_a_feed_is_an_error_naming_the_url() {
        let err = parse("<html><body>hi</body></html>", &u("https://news.example/feed")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "https://news.example/feed is not an RSS, Atom or JSON feed"
        );
    }

    #[test]
    fn fill_keeps_the_page_fields_and_adds_the_feed_ones() {
        let entry = FeedEntry {
            title: Some("Feed title".into()),
            date_text: Some("2024-01-01T00:00:00Z".into()),
            author: Some("Feed author".into()),
            summary_html: Some("<p>Summary</p>".into()),
            content_html: None,
            categories: vec!["Feed tag".into()],
            image: Some(Enclosure {
                url: u("https://cdn.example/lead.jpg"),
                length: Some(12345),
                mime_type: Some("image/jpeg".into()),
            }),
            base: u("https://news.example/a/1"),
            language: None,
        };
        let mut page = RawArticle {
            title: Some("Page title".into()),
            content_html: Some("<p>Page body</p>".into()),
            ..RawArticle::default()
        };
        fill(&mut page, &entry, Origin::Feed);
        assert_eq!(page.title.as_deref(), Some("Page title"));
        assert_eq!(page.author.as_deref(), Some("Feed author"));
        assert_eq!(page.provenance.author, Some(Origin::Feed));
        assert_eq!(page.date_machine.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(page.content_html.as_deref(), Some("<p>Page body</p>"));
        let alone = article(&entry, &u("https://news.example/a/1"));
        assert_eq!(alone.content_html.as_deref(), Some("<p>Summary</p>"));
        assert_eq!(alone.provenance.content, Some(Origin::Feed));
        assert_eq!(alone.tags, ["Feed tag"]);
        assert_eq!(alone.provenance.tags, Some(Origin::Feed));
        assert_eq!(alone.image.as_deref(), Some("https://cdn.example/lead.jpg"));
        assert_eq!(
            (alone.image_length, alone.image_type.as_deref()),
            (Some(12345), Some("image/jpeg"))
        );
    }

    #[test]
    fn a_feed_image_beats_a_guessed_one_and_its_size_stays_with_its_own_file() {
        let entry = FeedEntry {
            image: Some(Enclosure {
                url: u("https://news.example/img/lead.jpg"),
                length: Some(999),
                mime_type: None,
            }),
            ..entries(r#"<rss version="2.0"><channel><title>N</title><item><link>https://news.example/1</link></item></channel></rss>"#)
                .remove(0)
                .1
        };
        let page = |image: &str, from: Origin| RawArticle {
            url: Some(u("https://news.example/1")),
            image: Some(image.into()),
            tags: vec!["Page tag".into()],
            provenance: Provenance {
                image: Some(from),
                tags: Some(Origin::JsonLd),
                ..Provenance::default()
            },
            ..RawArticle::default()
        };
        let mut guessed = page("/img/body.jpg", Origin::Heuristic);
        fill(&mut guessed, &entry, Origin::Feed);
        assert_eq!(guessed.image.as_deref(), Some("https://news.example/img/lead.jpg"));
        assert_eq!(guessed.image_length, Some(999));
        assert_eq!(
            guessed.tags,
            ["Page tag"],
            "the page's tags come first, as its other fields"
        );

        let mut declared = page("/img/other.jpg", Origin::OpenGraph);
        fill(&mut declared, &entry, Origin::Feed);
        assert_eq!(declared.image.as_deref(), Some("/img/other.jpg"));
        assert_eq!(declared.image_length, None, "another file's size");

        let mut same = page("/img/lead.jpg", Origin::OpenGraph);
        fill(&mut same, &entry, Origin::Feed);
        assert_eq!(
            (same.image.as_deref(), same.image_length),
            (Some("/img/lead.jpg"), Some(999))
        );
    }

    #[test]
    fn image_enclosures_are_read_from_every_format_and_other_media_are_not_images() {
        let rss = entries(
            r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>N</title>
            <item><link>https://news.example/1</link>
              <enclosure url="https://news.example/a.mp3" length="5" type="audio/mpeg"/>
              <enclosure url="/i/a.jpg" length="4321" type="image/jpeg"/></item>
            <item><link>https://news.example/2</link><media:content url="https://news.example/i/b.png"/></item>
            <item><link>https://news.example/3</link><enclosure url="https://news.example/x.bin" length="1" type=""/></item>
            </channel></rss>"#,
        );
        let image = |n: usize| rss[n].1.image.clone();
        let a = image(0).unwrap();
        assert_eq!(
            (a.url.as_str(), a.length, a.mime_type.as_deref()),
            ("https://news.example/i/a.jpg", Some(4321), Some("image/jpeg"))
        );
        let b = image(1).unwrap();
        assert_eq!((b.url.as_str(), b.length), ("https://news.example/i/b.png", None));
        assert_eq!(image(2), None);

        let atom = entries(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>B</title><id>b</id>
            <entry><id>1</id><title>1</title><link href="https://blog.example/1"/>
              <link rel="enclosure" href="https://blog.example/c.webp" length="77" type="image/webp"/></entry></feed>"#,
        );
        let c = atom[0].1.image.clone().unwrap();
        assert_eq!((c.url.as_str(), c.length), ("https://blog.example/c.webp", Some(77)));

        let json = entries(
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://news.example/j/1",
              "content_text":"x","attachments":[{"url":"https://news.example/d.gif","mime_type":"image/gif","size_in_bytes":88}]}]}"#,
        );
        let d = json[0].1.image.clone().unwrap();
        assert_eq!((d.url.as_str(), d.length), ("https://news.example/d.gif", Some(88)));
    }
}
