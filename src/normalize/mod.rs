//! Turns one scraped article into a feed [`Item`]: clean text, a stable id, a dated and sanitized entry.
//!
//! Input is what `extract` found, as found: a [`RawArticle`] from the article page, the [`ListedLink`] that led to
//! it, the source's [`Rules`], and the time the item was first seen (a parameter, so this stage never reads the
//! clock). [`item`] picks the identity URL (`<link rel=canonical>` when it is believable), the title, the publish
//! date with its provenance, and sanitizes the body; the submodules do one job each: [`date`] reads dates, [`url`]
//! resolves and canonicalizes URLs, [`sanitize`] makes HTML safe, [`text`] tidies short text. No I/O happens here;
//! everything is tested with strings.

pub mod date;
pub mod filter;
pub mod sanitize;
pub mod tags;
pub mod text;
pub mod url;

use ::url::Url;
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use chrono_tz::Tz;
use tracing::warn;

use crate::model::{DateSource, Item, ItemId, ListedLink, RawArticle};

/// Per-source settings for normalization, already validated by `config`.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The zone the site prints its times in (they never carry one); `Asia/Shanghai` for the WIC pages.
    pub timezone: Tz,
    /// No zone was configured: a page whose language implies one zone ([`date::zone_for_language`]) is read in
    /// that zone instead of `timezone` (UTC), so a Chinese site's times are not 8 hours off.
    pub zone_from_page: bool,
    /// chrono strftime formats tried first, in order; the built-in shapes of [`date::parse`] come after.
    pub date_formats: Vec<String>,
    /// The longest summary, in characters, including the closing `…`.
    pub summary_chars: usize,
    /// The longest body, in bytes of sanitized HTML, including the closing link of a cut body.
    pub max_content: usize,
}

/// Why an article page could not become an item. Both mean the page no longer looks like what the source's
/// selectors expect (a redesign, an error page served with status 200), so the source should fail loudly rather
/// than publish an empty entry.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("article {url} has no title, neither on the page nor in the listing")]
    NoTitle { url: Url },
    #[error("article {url} has no body content")]
    NoContent { url: Url },
}

/// Normalizes one article.
///
/// - **Identity**: the page's canonical link when it resolves to http(s) on the same host (ignoring `www.`) and
///   is not just the site root, else the URL the page was served from, else the listed URL; then
///   [`url::canonical`].
/// - **Title**: the page's, else the listing's link text; cleaned with [`text::clean`].
/// - **Dates**: the page (`date_machine`, then `date_text`), a date folder in the URL, the listing's date text,
///   and finally `first_seen`; `date_source` says which. `updated` equals `published`.
/// - **Content**: [`sanitize::clean_within`] against the served URL. A body longer than `max_content` is
///   [`sanitize::cut`] and ends with a [`sanitize::continue_reading`] link to the item's URL; the summary is the
///   plain text of what is kept (without that link), cut to `summary_chars`.
pub fn item(
    raw: &RawArticle,
    listed: &ListedLink,
    rules: &Rules,
    first_seen: DateTime<Utc>,
) -> Result<Item, NormalizeError> {
    let draft = draft(raw, listed, rules, first_seen);
    let page_url = raw.url.as_ref().unwrap_or(&listed.url);
    let title = draft
        .title
        .ok_or_else(|| NormalizeError::NoTitle { url: page_url.clone() })?;
    let content_html = draft
        .content_html
        .ok_or_else(|| NormalizeError::NoContent { url: page_url.clone() })?;
    Ok(Item {
        id: ItemId::from_canonical(&draft.url),
        url: draft.url,
        title,
        published: draft.published,
        date_source: draft.date_source,
        updated: draft.published,
        author: draft.author,
        summary: draft.summary,
        content_html,
        image: draft.image,
        image_caption: draft.image_caption,
        image_length: draft.image_length,
        image_type: draft.image_type,
        categories: draft.categories,
    })
}

/// An article normalized as far as the page allows: what [`item`] makes an [`Item`] of when it has a title and a
/// body, and what `preview --article` shows either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The canonical URL: the item's identity.
    pub url: Url,
    pub title: Option<String>,
    pub published: DateTime<FixedOffset>,
    pub date_source: DateSource,
    pub author: Option<String>,
    pub summary: String,
    /// Sanitized; `None` when the page has no body text (a photo alone counts as a body).
    pub content_html: Option<String>,
    pub image: Option<Url>,
    pub image_caption: Option<String>,
    /// Known only when a feed stated it for this image.
    pub image_length: Option<u64>,
    /// The feed's type for the image, when it is an `image/…` type.
    pub image_type: Option<String>,
    /// [`tags::clean`] of the article's tags.
    pub categories: Vec<String>,
}

/// Normalizes every field of one article; [`item`] decides whether the result is an item.
pub fn draft(raw: &RawArticle, listed: &ListedLink, rules: &Rules, first_seen: DateTime<Utc>) -> Draft {
    let page_url = raw.url.as_ref().unwrap_or(&listed.url);
    let item_url = url::canonical(&identity_url(raw.canonical.as_deref(), page_url));

    let title = [raw.title.as_deref(), listed.title.as_deref()]
        .into_iter()
        .flatten()
        .map(text::clean)
        .find(|t| !t.is_empty());

    let body = raw.content_html.as_deref().filter(|html| !html.trim().is_empty());
    let content_base = raw.content_base.as_ref().unwrap_or(page_url);
    let mut content_html = body
        .map(|html| sanitize::clean_within(html, content_base, rules.max_content))
        .unwrap_or_default();
    let more = (content_html.len() > rules.max_content).then(|| sanitize::continue_reading(&item_url));
    if let Some(more) = &more {
        let full = content_html.len();
        content_html = sanitize::cut(&content_html, rules.max_content.saturating_sub(more.len())).into_owned();
        tracing::info!(url = %item_url, bytes = full, max_content = rules.max_content, "body cut to max_content");
    }
    let plain = sanitize::to_text(&content_html);
    // Ammonia's output escapes `<` in text, so `<img` can only be a tag: a photo story without words is content.
    let has_body = !plain.is_empty() || content_html.contains("<img");
    content_html.extend(more);

    let (published, date_source) = publish_date(raw, listed, &item_url, rules, first_seen);
    let image_caption = raw.image_caption.as_deref().map(text::clean).filter(|c| !c.is_empty());
    // A lead photo's caption often opens the body; a summary should start with the story, not the photo credit.
    let story = image_caption
        .as_deref()
        .and_then(|c| plain.strip_prefix(c))
        .map_or(plain.as_str(), str::trim_start);

    let image = raw.image.as_deref().and_then(|src| url::resolve(page_url, src));
    let image_type = image
        .as_ref()
        .and(raw.image_type.as_deref())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| is_image_type(t));
    Draft {
        title,
        published,
        date_source,
        author: raw.author.as_deref().map(author).filter(|a| !a.is_empty()),
        summary: summary(story, rules.summary_chars),
        content_html: has_body.then_some(content_html),
        image_length: image.as_ref().and(raw.image_length).filter(|&n| n > 0),
        image_type,
        image,
        image_caption,
        categories: tags::clean(&raw.tags),
        url: item_url,
    }
}

/// A media type as an `image/…` token: `type/subtype` of token characters only, so it can stand in an attribute
/// without surprises.
fn is_image_type(t: &str) -> bool {
    t.strip_prefix("image/").is_some_and(|sub| {
        !sub.is_empty() && sub.len() <= 64 && sub.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    })
}

/// The URL that identifies the article. A canonical link is only trusted when it stays on the page's host and is
/// not the home page: some CMS templates print the same canonical (the site root, or another site's copy of a
/// syndicated story) on every page, which would merge all items into one or hand their identity to a stranger.
fn identity_url(canonical: Option<&str>, page_url: &Url) -> Url {
    let bare_host = |u: &Url| u.host_str().map(|h| h.strip_prefix("www.").unwrap_or(h).to_owned());
    canonical
        .and_then(|href| url::resolve(page_url, href))
        .filter(|c| bare_host(c) == bare_host(page_url) && c.path() != "/")
        .unwrap_or_else(|| page_url.clone())
}

fn publish_date(
    raw: &RawArticle,
    listed: &ListedLink,
    item_url: &Url,
    rules: &Rules,
    first_seen: DateTime<Utc>,
) -> (DateTime<FixedOffset>, DateSource) {
    let zone = rules
        .zone_from_page
        .then(|| raw.language.as_deref().and_then(date::zone_for_language))
        .flatten()
        .unwrap_or(rules.timezone);
    let from_path = || {
        [Some(item_url), raw.url.as_ref(), Some(&listed.url)]
            .into_iter()
            .flatten()
            .find_map(|u| date::from_url_path(u, zone))
    };
    // A year-less or relative date is read against the first fetch, so it is the same on every later run.
    let hints = date::Hints {
        fetched: first_seen,
        year: from_path().map(|d| d.year()),
    };
    // Only printed text is incomplete on purpose; a machine-readable date that reads "yesterday" is broken.
    let parse_text = |text: Option<&str>, printed: bool| {
        let text = text.map(str::trim).filter(|t| !t.is_empty())?;
        let parsed = if printed {
            date::parse_with(text, &rules.date_formats, zone, hints)
        } else {
            date::parse(text, &rules.date_formats, zone)
        };
        if parsed.is_none() {
            // Not fatal (a later source of dates may do), but a date element that stops parsing usually means the
            // site changed its format and the source needs a `date_formats` entry.
            warn!(url = %item_url, text, "date text not understood");
        }
        parsed
    };

    if let Some(d) =
        parse_text(raw.date_machine.as_deref(), false).or_else(|| parse_text(raw.date_text.as_deref(), true))
    {
        (d, DateSource::Page)
    } else if let Some(d) = from_path() {
        (d, DateSource::UrlPath)
    } else if let Some(d) = parse_text(listed.date_text.as_deref(), true) {
        (d, DateSource::Listing)
    } else {
        // Shown in the source's zone, so an undated item reads like the dated ones around it.
        (first_seen.with_timezone(&zone).fixed_offset(), DateSource::FirstSeen)
    }
}

/// Bylines come with a label in front ("来源：新华网", "Source: Xinhua", "By Li Tao"); only the name is kept.
fn author(raw: &str) -> String {
    let cleaned = text::clean(raw);
    for label in ["来源", "作者", "Source", "Author", "By"] {
        let Some(head) = cleaned.get(..label.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(label) {
            continue;
        }
        let rest = &cleaned[label.len()..];
        let after_space = rest.trim_start();
        // A colon is the label's end; `By` also ends at a space. "Bytedance" or "Sources say" are not labels.
        let name = if let Some(name) = after_space.strip_prefix([':', '：']) {
            name
        } else if label == "By" && after_space.len() < rest.len() {
            after_space
        } else {
            continue;
        };
        return name.trim().to_owned();
    }
    cleaned
}

/// Cuts `text` to at most `max` characters including the closing `…`. Latin words are not split: the cut moves
/// back to the last space; CJK text, which has no spaces, may be cut between any two characters.
fn summary(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let Some(keep) = max.checked_sub(1) else {
        return String::new();
    };
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let (head, tail) = text.split_at(cut);
    let mid_word = |a: char, b: char| !breakable(a) && !breakable(b);
    let head = match (head.chars().next_back(), tail.chars().next()) {
        (Some(a), Some(b)) if mid_word(a, b) => {
            // Back to the last place a line could break; a single word longer than the whole summary is cut anyway.
            let mut last_break = None;
            let mut prev = None;
            for (i, c) in head.char_indices() {
                if prev.is_some_and(|p| !mid_word(p, c)) {
                    last_break = Some(i);
                }
                prev = Some(c);
            }
            last_break.map_or(head, |i| &head[..i])
        }
        _ => head,
    };
    let mut out = head.trim_end().to_owned();
    out.push('…');
    out
}

/// Whether text may be broken next to `c`: at whitespace, and around CJK characters, which are written without
/// spaces between words.
fn breakable(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{2E80}'..='\u{9FFF}'      // CJK radicals, punctuation, kana, unified ideographs
            | '\u{AC00}'..='\u{D7AF}'    // Hangul syllables
            | '\u{F900}'..='\u{FAFF}'    // CJK compatibility ideographs
            | '\u{FF00}'..='\u{FFEF}'    // full-width forms (，。：)
            | '\u{20000}'..='\u{3FFFF}') // CJK extensions
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const ARTICLE: &str = "http://www.wuzhenwic.org/2015-12/16/c_47822.htm";

    fn rules() -> Rules {
        Rules {
            timezone: chrono_tz::Asia::Shanghai,
            zone_from_page: false,
            date_formats: Vec::new(),
            summary_chars: 60,
            max_content: 256 * 1024,
        }
    }

    fn first_seen() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 12, 20, 1, 2, 3).unwrap()
    }

    fn raw() -> RawArticle {
        RawArticle {
            url: Some(u(ARTICLE)),
            canonical: None,
            title: Some("  Xi&nbsp;Jinping \u{200B}addresses WIC ".into()),
            date_text: Some("xinhuanet.com Updated: 2015-12-16 10:23".into()),
            date_machine: None,
            author: Some("Source: Xinhua".into()),
            content_base: None,
            content_html: Some(
                "<p>WUZHEN, Dec 16 (Xinhua) -- Chinese President Xi Jinping on Wednesday called for joint efforts.</p>\
                 <script>track()</script><p><img src=\"W020151216.jpg\"></p>"
                    .into(),
            ),
            image: Some("W020151216.jpg".into()),
            image_caption: Some(" (Xinhua/Li Tao)\u{A0}".into()),
            image_length: None,
            image_type: None,
            tags: vec![" World ".into(), "<b>Internet</b>".into(), "world".into()],
            provenance: Default::default(),
            language: None,
        }
    }

    fn listed() -> ListedLink {
        ListedLink {
            url: u("http://www.wuzhenwic.org/2015-12/16/c_47822.htm?utm_source=home"),
            title: Some("Xi addresses the conference".into()),
            date_text: Some("2015-12-15".into()),
            feed: None,
        }
    }

    fn normalize(raw: &RawArticle, listed: &ListedLink) -> Result<Item, NormalizeError> {
        item(raw, listed, &rules(), first_seen())
    }

    #[test]
    fn a_full_article_becomes_a_clean_item() {
        let item = normalize(&raw(), &listed()).unwrap();
        assert_eq!(item.id.as_str(), ARTICLE);
        assert_eq!(item.url.as_str(), ARTICLE);
        assert_eq!(item.title, "Xi Jinping addresses WIC");
        assert_eq!(item.published.to_rfc3339(), "2015-12-16T10:23:00+08:00");
        assert_eq!(item.date_source, DateSource::Page);
        assert_eq!(item.updated, item.published);
        assert_eq!(item.author.as_deref(), Some("Xinhua"));
        assert_eq!(
            item.summary,
            "WUZHEN, Dec 16 (Xinhua) -- Chinese President Xi Jinping on…"
        );
        assert!(!item.content_html.contains("script"));
        assert!(
            item.content_html
                .contains("src=\"http://www.wuzhenwic.org/2015-12/16/W020151216.jpg\"")
        );
        assert_eq!(
            item.image.unwrap().as_str(),
            "http://www.wuzhenwic.org/2015-12/16/W020151216.jpg"
        );
        assert_eq!(item.image_caption.as_deref(), Some("(Xinhua/Li Tao)"));
        assert_eq!(item.categories, ["World", "Internet"], "cleaned, each once");
        assert_eq!(
            (item.image_length, item.image_type.as_deref()),
            (None, None),
            "no feed said"
        );
    }

    #[test]
    fn machine_date_wins_over_date_text() {
        let raw = RawArticle {
            date_machine: Some("2015-12-16T02:00:00Z".into()),
            ..raw()
        };
        let item = normalize(&raw, &listed()).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2015-12-16T02:00:00+00:00");
        assert_eq!(item.date_source, DateSource::Page);
    }

    #[test]
    fn unreadable_machine_date_falls_back_to_date_text() {
        let raw = RawArticle {
            date_machine: Some("unknown".into()),
            ..raw()
        };
        assert_eq!(
            normalize(&raw, &listed()).unwrap().published.to_rfc3339(),
            "2015-12-16T10:23:00+08:00"
        );
    }

    #[test]
    fn url_path_date_comes_after_the_page() {
        let raw = RawArticle {
            date_text: Some("Updated:".into()),
            ..raw()
        };
        let item = normalize(&raw, &listed()).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2015-12-16T00:00:00+08:00");
        assert_eq!(item.date_source, DateSource::UrlPath);
    }

    #[test]
    fn listing_date_comes_after_the_url_path() {
        let page = u("http://www.wuzhenwic.org/news/c_47822.htm");
        let raw = RawArticle {
            url: Some(page.clone()),
            date_text: None,
            ..raw()
        };
        let listed = ListedLink { url: page, ..listed() };
        let item = normalize(&raw, &listed).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2015-12-15T00:00:00+08:00");
        assert_eq!(item.date_source, DateSource::Listing);
    }

    #[test]
    fn first_seen_is_the_last_resort_shown_in_the_source_zone() {
        let page = u("http://www.wuzhenwic.org/news/c_47822.htm");
        let raw = RawArticle {
            url: Some(page.clone()),
            date_text: None,
            ..raw()
        };
        let listed = ListedLink {
            url: page,
            date_text: Some("hot".into()),
            ..listed()
        };
        let item = normalize(&raw, &listed).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2015-12-20T09:02:03+08:00");
        assert_eq!(item.date_source, DateSource::FirstSeen);
    }

    #[test]
    fn user_date_formats_are_used() {
        let raw = RawArticle {
            date_text: Some("16/12/2015 10:23".into()),
            ..raw()
        };
        let rules = Rules {
            date_formats: vec!["%d/%m/%Y %H:%M".into()],
            ..rules()
        };
        let item = item(&raw, &listed(), &rules, first_seen()).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2015-12-16T10:23:00+08:00");
        assert_eq!(item.date_source, DateSource::Page);
    }

    #[test]
    fn canonical_link_on_the_same_host_is_the_identity() {
        let raw = RawArticle {
            url: Some(u("http://wuzhenwic.org/2015-12/16/c_47822_2.htm?from=timeline#p2")),
            canonical: Some(" //www.wuzhenwic.org/2015-12/16/c_47822.htm?utm_medium=x&id=3#top ".into()),
            ..raw()
        };
        let item = normalize(&raw, &listed()).unwrap();
        assert_eq!(item.id.as_str(), "http://www.wuzhenwic.org/2015-12/16/c_47822.htm?id=3");
        assert_eq!(item.url.as_str(), item.id.as_str());
    }

    #[test]
    fn canonical_on_another_host_or_at_the_root_is_ignored() {
        for canonical in ["http://syndicator.example/copy.htm", "/", "javascript:void(0)", ""] {
            let raw = RawArticle {
                canonical: Some(canonical.into()),
                ..raw()
            };
            let item = normalize(&raw, &listed()).unwrap();
            assert_eq!(item.id.as_str(), ARTICLE, "{canonical:?}");
        }
    }

    #[test]
    fn without_a_page_url_the_listed_url_is_used_canonically() {
        let raw = RawArticle { url: None, ..raw() };
        let item = normalize(&raw, &listed()).unwrap();
        assert_eq!(item.id.as_str(), ARTICLE);
        assert_eq!(
            item.image.unwrap().as_str(),
            "http://www.wuzhenwic.org/2015-12/16/W020151216.jpg"
        );
    }

    #[test]
    fn title_falls_back_to_the_listing() {
        for title in [None, Some(" \u{A0}\u{200B} ".to_owned())] {
            let raw = RawArticle { title, ..raw() };
            assert_eq!(normalize(&raw, &listed()).unwrap().title, "Xi addresses the conference");
        }
    }

    #[test]
    fn no_title_anywhere_is_an_error_naming_the_url() {
        let raw = RawArticle { title: None, ..raw() };
        let listed = ListedLink {
            title: Some("  ".into()),
            ..listed()
        };
        let err = normalize(&raw, &listed).unwrap_err();
        assert!(matches!(err, NormalizeError::NoTitle { .. }));
        assert_eq!(
            err.to_string(),
            format!("article {ARTICLE} has no title, neither on the page nor in the listing")
        );
    }

    #[test]
    fn missing_or_empty_body_is_an_error() {
        for content_html in [
            None,
            Some("  \n ".to_owned()),
            Some("<script>x()</script><div> </div>".to_owned()),
        ] {
            let raw = RawArticle { content_html, ..raw() };
            let err = normalize(&raw, &listed()).unwrap_err();
            assert!(matches!(err, NormalizeError::NoContent { .. }), "{err}");
            assert_eq!(err.to_string(), format!("article {ARTICLE} has no body content"));
        }
    }

    #[test]
    fn a_body_of_only_a_photo_is_content() {
        let raw = RawArticle {
            content_html: Some("<p><img data-src=\"a.jpg\"></p>".into()),
            ..raw()
        };
        let item = normalize(&raw, &listed()).unwrap();
        assert_eq!(item.summary, "");
        assert!(item.content_html.contains("http://www.wuzhenwic.org/2015-12/16/a.jpg"));
    }

    #[test]
    fn image_that_is_not_http_is_dropped_and_empty_fields_are_none() {
        let raw = RawArticle {
            image: Some("data:image/gif;base64,R0lGOD".into()),
            image_caption: Some(" ".into()),
            author: Some("来源：".into()),
            ..raw()
        };
        let item = normalize(&raw, &listed()).unwrap();
        assert_eq!(item.image, None);
        assert_eq!(item.image_caption, None);
        assert_eq!(item.author, None);
    }

    #[test]
    fn author_labels_are_stripped() {
        assert_eq!(author("来源：新华网"), "新华网");
        assert_eq!(author(" 来源: 浙江在线 "), "浙江在线");
        assert_eq!(author("Source : China Daily"), "China Daily");
        assert_eq!(author("By Li Tao"), "Li Tao");
        assert_eq!(author("作者：张伟"), "张伟");
        assert_eq!(author("Bytedance News"), "Bytedance News");
        assert_eq!(author("Sources say"), "Sources say");
        assert_eq!(author("Xinhua"), "Xinhua");
    }

    #[test]
    fn a_caption_that_opens_the_body_is_left_out_of_the_summary() {
        let mut page = raw();
        page.content_html =
            Some("<p><img src=\"x.jpg\"></p><p>(Xinhua/Li Tao)</p><p>WUZHEN, Dec 16 -- The story.</p>".into());
        let item = item(&page, &listed(), &rules(), first_seen()).unwrap();
        assert_eq!(item.summary, "WUZHEN, Dec 16 -- The story.");
        assert!(
            item.content_html.contains("(Xinhua/Li Tao)"),
            "the caption stays in the body"
        );
    }

    #[test]
    fn a_body_over_max_content_is_cut_and_ends_with_a_link_to_the_article() {
        let paragraphs: String = (0..200)
            .map(|n| format!("<p>Paragraph {n} of a very long story about Wuzhen &amp; the conference.</p>"))
            .collect();
        let long = RawArticle {
            content_html: Some(paragraphs),
            ..raw()
        };
        let rules = Rules {
            max_content: 2048,
            ..rules()
        };
        let cut = item(&long, &listed(), &rules, first_seen()).unwrap();
        assert!(cut.content_html.len() <= 2048, "{}", cut.content_html.len());
        let more = format!("<p><a href=\"{ARTICLE}\" rel=\"noopener noreferrer\">Continue reading on the site</a></p>");
        let body = cut
            .content_html
            .strip_suffix(&more)
            .unwrap_or_else(|| panic!("{}", cut.content_html));
        assert!(body.starts_with("<p>Paragraph 0 ") && body.ends_with(".</p>"), "{body}");
        // The summary is the story's start, as without the cut, and never the link.
        let whole = item(
            &long,
            &listed(),
            &Rules {
                max_content: usize::MAX,
                ..rules.clone()
            },
            first_seen(),
        )
        .unwrap();
        assert_eq!(cut.summary, whole.summary);
        assert!(!whole.content_html.contains("Continue reading"));
        // The same page cuts the same way every time, so the stored edit hash does not flap.
        assert_eq!(item(&long, &listed(), &rules, first_seen()).unwrap(), cut);
    }

    #[test]
    fn a_short_body_with_little_text_keeps_its_summary_free_of_the_link() {
        let pictures: String = (0..100).map(|n| format!("<p><img src=\"{n}.jpg\"></p>")).collect();
        let raw = RawArticle {
            content_html: Some(format!("<p>Photos.</p>{pictures}")),
            ..raw()
        };
        let rules = Rules {
            max_content: 1024,
            ..rules()
        };
        let item = item(&raw, &listed(), &rules, first_seen()).unwrap();
        assert!(item.content_html.ends_with("Continue reading on the site</a></p>"));
        assert_eq!(item.summary, "Photos.");
    }

    #[test]
    fn summary_is_kept_whole_when_short() {
        assert_eq!(summary("Short text.", 20), "Short text.");
        assert_eq!(summary("exactly ten", 11), "exactly ten");
    }

    #[test]
    fn summary_cuts_latin_text_at_a_word_boundary() {
        assert_eq!(summary("The conference opened in Wuzhen today", 20), "The conference…");
        assert_eq!(summary("The conference opened", 16), "The conference…");
        assert_eq!(summary("Supercalifragilistic", 6), "Super…");
    }

    #[test]
    fn summary_cuts_chinese_text_between_characters() {
        assert_eq!(summary("第二届世界互联网大会在乌镇开幕", 8), "第二届世界互联…");
        assert_eq!(summary("习近平出席 World Internet Conference", 12), "习近平出席 World…");
        assert_eq!(summary("习近平出席 World Internet Conference", 9), "习近平出席…");
    }

    #[test]
    fn summary_of_zero_length() {
        assert_eq!(summary("abc", 0), "");
        assert_eq!(summary("abc", 1), "…");
    }
}
