//! Article pages: HTML in, a [`RawArticle`] out, every field as the page shows it.
//!
//! Field by field, a configured selector comes first; what it does not find (or what the source gives no selector
//! for) comes from the page's metadata ([`meta`]), then from automatic detection ([`auto`]): the headline, a
//! dateline near it, the body by a readability-style score with share bars, related lists and pagers cut out. Every
//! field records its [`Origin`]. The body is the inner HTML of the body element with the `remove` selectors'
//! matches (or the detected noise), and every `script`, `style` and `noscript`, cut out, so share buttons, ads and
//! inline code never reach the feed as text; that cut is done by walking the parsed tree and writing it back out,
//! never by editing HTML text. A link to the article's next page (`next`, or a detected pager) is returned beside
//! the article, and the pager is cut from the body. Nothing is cleaned or resolved here: dates stay text, relative
//! URLs stay relative and the HTML is not yet sanitized; `normalize` does all of that against [`RawArticle::url`].

use std::collections::HashSet;
use std::sync::LazyLock;

use ego_tree::NodeId;
use scraper::{ElementRef, Selector};
use url::Url;

use super::{auto, dom, meta};
use crate::html::is_data_url;
use crate::model::{Origin, Provenance, RawArticle};

static TIME: LazyLock<Selector> = LazyLock::new(|| dom::selector("time[datetime]"));
static IMG: LazyLock<Selector> = LazyLock::new(|| dom::selector("img"));

/// Where an article's fields are; compiled from a source's config. A field without a selector is found
/// automatically, so [`ArticleRules::default`] reads any article page.
#[derive(Debug, Clone)]
pub struct ArticleRules {
    pub title: Option<Selector>,
    pub date: Option<Selector>,
    pub author: Option<Selector>,
    /// The body; only the first match is used.
    pub content: Option<Selector>,
    /// The lead image: an `<img>`, or an element whose first `<img>` it is.
    pub image: Option<Selector>,
    pub caption: Option<Selector>,
    /// Tags: every match is one tag (its text, or the `content` of a `<meta>`).
    pub tags: Option<Selector>,
    /// Noise inside the body (share bars, ads, related links), cut out of `content_html`.
    pub remove: Vec<Selector>,
    /// The link to the article's next page.
    pub next: Option<Selector>,
    /// The most pages of one article that are read and joined.
    pub max_pages: usize,
}

impl ArticleRules {
    pub const DEFAULT_MAX_PAGES: usize = 10;
}

impl Default for ArticleRules {
    fn default() -> Self {
        Self {
            title: None,
            date: None,
            author: None,
            content: None,
            image: None,
            caption: None,
            tags: None,
            remove: Vec::new(),
            next: None,
            max_pages: Self::DEFAULT_MAX_PAGES,
        }
    }
}

/// What one article page yields: its fields, and the next page of the same article if it is split over several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticlePage {
    pub article: RawArticle,
    /// Resolved against the page's URL; never the page itself.
    pub next: Option<Url>,
}

/// Reads an article page. `url` is the article's final URL, after redirects; `listed_title` is the link text the
/// listing showed for it, one more opinion on what the headline is.
pub fn parse(html: &str, url: &Url, rules: &ArticleRules, listed_title: Option<&str>) -> ArticlePage {
    let doc = dom::parse(html, url);
    let meta = meta::read(&doc);
    let first = |sel: &Selector| doc.select(sel).next();
    let by_selector = |value: Option<String>| value.map(|v| (v, Origin::Selector));
    let mut provenance = Provenance::default();

    let title = by_selector(rules.title.as_ref().and_then(first).and_then(dom::text))
        .or_else(|| auto::headline::choose(&doc, &meta, listed_title));
    let date = rules.date.as_ref().and_then(first);
    let date_machine = by_selector(date.and_then(machine_date).map(str::to_owned)).or(meta.published.clone());
    let date_text = by_selector(date.and_then(dom::text))
        .or_else(|| auto::dateline::find(&doc).map(|text| (text, Origin::Heuristic)));
    let author = by_selector(rules.author.as_ref().and_then(first).and_then(dom::text)).or(meta.author.clone());

    let (content_html, image, caption, next) = match rules.content.as_ref().and_then(first) {
        Some(body) => {
            let mut removed = removed_by(body, &rules.remove);
            let next = rules
                .next
                .as_ref()
                .and_then(|sel| body.select(sel).next().or_else(|| first(sel)))
                .and_then(|found| {
                    removed.insert(found.id());
                    dom::link_href(found)
                })
                .and_then(|href| next_page(url, href));
            let content = (dom::inner_html(body, &removed), Origin::Selector);
            (Some(content), None, None, next)
        }
        None => match auto::body::find(&doc) {
            Some(found) => {
                let mut removed = found.noise.clone();
                removed.extend(removed_by(found.root, &rules.remove));
                let next = match &rules.next {
                    Some(sel) => first(sel).and_then(|el| {
                        removed.insert(el.id());
                        dom::link_href(el).and_then(|href| next_page(url, href))
                    }),
                    None => auto::pager::next_article_page(&doc, found.root, url).map(|(next, pager)| {
                        removed.insert(pager);
                        next
                    }),
                };
                let content = (dom::inner_html(found.root, &removed), Origin::Heuristic);
                let image = found
                    .image
                    .and_then(image_src)
                    .map(|src| (src.to_owned(), Origin::Heuristic));
                let caption = found.caption.map(|c| (c, Origin::Heuristic));
                (Some(content), image, caption, next.filter(|n| n != url))
            }
            None => (None, None, None, None),
        },
    };
    let image = by_selector(
        rules
            .image
            .as_ref()
            .and_then(first)
            .and_then(image_src)
            .map(str::to_owned),
    )
    .or(meta.image.clone())
    .or(image);
    let caption = by_selector(rules.caption.as_ref().and_then(first).and_then(dom::text)).or(caption);
    let tags = rules
        .tags
        .as_ref()
        .map(|sel| {
            doc.select(sel)
                .take(MAX_TAG_MATCHES)
                .filter_map(tag_text)
                .collect::<Vec<_>>()
        })
        .filter(|tags| !tags.is_empty())
        .map(|tags| (tags, Origin::Selector))
        .or_else(|| meta.tags());
    provenance.tags = tags.as_ref().map(|(_, from)| *from);

    let take = |found: Option<(String, Origin)>, slot: &mut Option<Origin>| {
        found.map(|(value, origin)| {
            *slot = Some(origin);
            value
        })
    };
    let article = RawArticle {
        url: Some(url.clone()),
        canonical: meta.canonical.clone(),
        title: take(title, &mut provenance.title),
        date_machine: take(date_machine, &mut provenance.date_machine),
        date_text: take(date_text, &mut provenance.date_text),
        author: take(author, &mut provenance.author),
        content_html: take(content_html, &mut provenance.content),
        content_base: None,
        image: take(image, &mut provenance.image),
        image_caption: take(caption, &mut provenance.caption),
        image_length: None,
        image_type: None,
        tags: tags.map(|(tags, _)| tags).unwrap_or_default(),
        provenance: Provenance::default(),
        language: meta.language.clone(),
    };
    ArticlePage {
        article: RawArticle { provenance, ..article },
        next,
    }
}

/// Tags a page lists may be many; more than this many matches are not read (normalize keeps fewer still).
const MAX_TAG_MATCHES: usize = 100;

/// One tag element's text: a link's or a list item's text, or a `<meta>`'s `content`.
fn tag_text(el: ElementRef<'_>) -> Option<String> {
    dom::text(el).or_else(|| dom::attr(el, "content").map(str::to_owned))
}

/// The next page's URL, unless it is this page again (a pager's link to the current page).
fn next_page(page: &Url, href: &str) -> Option<Url> {
    let mut next = page
        .join(href)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))?;
    next.set_fragment(None);
    let mut this = page.clone();
    this.set_fragment(None);
    (next != this).then_some(next)
}

/// The elements inside `body` that the `remove` selectors match.
fn removed_by(body: ElementRef<'_>, remove: &[Selector]) -> HashSet<NodeId> {
    remove
        .iter()
        .flat_map(|sel| body.select(sel))
        .map(|el| el.id())
        .collect()
}

/// The machine-readable form of the date element: a `<time datetime>` inside it, else its own `datetime` (it may be
/// the `<time>` itself) or `content` (a `<meta itemprop>` picked by the selector).
fn machine_date(date: ElementRef<'_>) -> Option<&str> {
    date.select(&TIME)
        .find_map(|time| dom::attr(time, "datetime"))
        .or_else(|| dom::attr(date, "datetime"))
        .or_else(|| dom::attr(date, "content"))
}

/// The lead image's URL as written. A `data:` value is an inline placeholder, not the picture, so it is passed over
/// (and `og:image` gets its chance).
fn image_src(found: ElementRef<'_>) -> Option<&str> {
    let img = if found.value().name() == "img" {
        found
    } else {
        found.select(&IMG).next()?
    };
    // Lazy-loading scripts keep the real image URL in a `data-` attribute and put a placeholder in `src`, so those
    // win; the sanitizer promotes the same ones in the body.
    crate::html::LAZY_SRC
        .iter()
        .chain(&["src"])
        .filter_map(|name| dom::attr(img, name))
        .find(|src| !is_data_url(src))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The article of a page read with `rules`, as a run reads a page the listing showed no title for.
    fn read(html: &str, url: &Url, rules: &ArticleRules) -> RawArticle {
        parse(html, url, rules, None).article
    }

    fn sel(css: &str) -> Selector {
        Selector::parse(css).unwrap()
    }

    fn page_url() -> Url {
        Url::parse("https://www.wicinternet.org/2015-12/16/c_47822.htm").unwrap()
    }

    fn rules() -> ArticleRules {
        ArticleRules {
            title: Some(sel("h1")),
            date: Some(sel(".info .date")),
            author: Some(sel(".info .source")),
            content: Some(sel("#content")),
            image: Some(sel("#content .lead img")),
            caption: Some(sel("#content .lead .caption")),
            remove: vec![sel(".share"), sel(".ad"), sel(".lead")],
            ..ArticleRules::default()
        }
    }

    /// Imitates an English-edition article page: breadcrumb, info line, lead photo with caption, share bar, ad and
    /// scripts inside the body, footer outside it.
    const ARTICLE: &str = r#"<!DOCTYPE html>
<html><head>
<meta charset="utf-8">
<title>Xi calls for shared future - World Internet Conference</title>
<link rel="canonical" href="/2015-12/16/c_47822.htm">
<meta property="og:title" content="OG title that loses to h1">
<meta property="og:image" content="https://www.wicinternet.org/og.jpg">
<meta name="author" content="Meta Author">
<meta property="article:published_time" content="2015-12-16T09:00:00+08:00">
<script>var tracker = "head";</script>
</head><body>
<div class="crumb"><a href="/">Home</a> &gt; <a href="/news/">News</a></div>
<h1>
  Xi calls for a &ldquo;community of common future&rdquo;   in cyberspace
</h1>
<div class="info"><span class="source">xinhuanet.com</span> <span class="date">Updated: 2015-12-16 10:23</span></div>
<div id="content">
  <div class="lead">
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="../../Pictures/W020151216.jpg" alt="Xi">
    <p class="caption">(Xinhua/Li Tao)</p>
  </div>
  <p>WUZHEN &mdash; President Xi Jinping said on Wednesday&hellip;</p>
  <div class="share">Share: <a href="javascript:share('weibo')">Weibo</a></div>
  <script>document.write("<p>injected</p>");</script>
  <style>p { color: red }</style>
  <noscript><img src="/pixel.gif"></noscript>
  <p>“The internet is the common home of mankind,” he said.<br>Second line.</p>
  <div class="ad"><p>Buy now</p><div class="ad">nested ad</div></div>
  <!-- enpcontent -->
</div>
<div class="footer">Copyright &copy; World Internet Conference. All rights Reserved 京ICP备13028878号-23</div>
</body></html>"#;

    #[test]
    fn every_field_is_read_as_found() {
        let raw = read(ARTICLE, &page_url(), &rules());
        assert_eq!(raw.url, Some(page_url()));
        assert_eq!(raw.canonical.as_deref(), Some("/2015-12/16/c_47822.htm"));
        assert_eq!(
            raw.title.as_deref(),
            Some("Xi calls for a \u{201c}community of common future\u{201d} in cyberspace")
        );
        assert_eq!(raw.date_text.as_deref(), Some("Updated: 2015-12-16 10:23"));
        // No <time> in the date element, so the page metadata supplies the machine date.
        assert_eq!(raw.date_machine.as_deref(), Some("2015-12-16T09:00:00+08:00"));
        assert_eq!(raw.author.as_deref(), Some("xinhuanet.com"));
        // The lazy image's real URL, relative as written, not the data: placeholder in src.
        assert_eq!(raw.image.as_deref(), Some("../../Pictures/W020151216.jpg"));
        assert_eq!(raw.image_caption.as_deref(), Some("(Xinhua/Li Tao)"));
    }

    #[test]
    fn content_drops_removed_elements_scripts_styles_and_comments() {
        let raw = read(ARTICLE, &page_url(), &rules());
        let content = raw.content_html.unwrap();
        assert_eq!(
            content.split_whitespace().collect::<Vec<_>>().join(" "),
            "<p>WUZHEN \u{2014} President Xi Jinping said on Wednesday\u{2026}</p> \
             <p>\u{201c}The internet is the common home of mankind,\u{201d} he said.<br>Second line.</p>"
        );
        for gone in [
            "Share",
            "injected",
            "color",
            "pixel",
            "Buy now",
            "nested ad",
            "enpcontent",
            "Copyright",
        ] {
            assert!(!content.contains(gone), "{gone:?} left in {content:?}");
        }
    }

    #[test]
    fn serialization_re_escapes_text_and_attributes() {
        let html = r##"<h1>AT&amp;T &lt;b&gt; &#x4E2D;&#22269;</h1><div id="content"><p title='say "hi" &amp; bye' class=x>AT&amp;T &lt;script&gt; 5 &gt; 3</p><img src="a.jpg?x=1&amp;y=2" alt=""><hr><svg><use xlink:href="#icon"></use></svg></div>"##;
        let raw = read(html, &page_url(), &rules());
        assert_eq!(raw.title.as_deref(), Some("AT&T <b> 中国"));
        assert_eq!(
            raw.content_html.as_deref(),
            Some(
                r##"<p class="x" title="say &quot;hi&quot; &amp; bye">AT&amp;T &lt;script&gt; 5 &gt; 3</p><img alt="" src="a.jpg?x=1&amp;y=2"><hr><svg><use xlink:href="#icon"></use></svg>"##
            )
        );
    }

    #[test]
    fn serialized_content_parses_back_to_the_same_text() {
        let html = "<div id='content'><pre>\n\nindented\n  code &amp; more</pre><p>a&nbsp;b</p></div>";
        let first = read(html, &page_url(), &rules()).content_html.unwrap();
        assert_eq!(first, "<pre>\n\nindented\n  code &amp; more</pre><p>a\u{a0}b</p>");
        let again = read(&format!("<div id='content'>{first}</div>"), &page_url(), &rules())
            .content_html
            .unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn only_the_first_content_match_is_used() {
        let html = r#"<div class="body"><p>one</p></div><div class="body"><p>two</p></div>"#;
        let rules = ArticleRules {
            content: Some(sel(".body")),
            ..rules()
        };
        assert_eq!(
            read(html, &page_url(), &rules).content_html.as_deref(),
            Some("<p>one</p>")
        );
    }

    #[test]
    fn missing_content_is_none() {
        let raw = read("<html><body><h1>Only a title</h1></body></html>", &page_url(), &rules());
        assert_eq!(raw.content_html, None);
        assert_eq!(raw.title.as_deref(), Some("Only a title"));
    }

    #[test]
    fn metadata_fills_fields_the_selectors_miss() {
        let html = r#"<html><head>
            <meta property="og:title" content="  OG   headline ">
            <meta name="author" content="Wang Wei">
            <meta property="og:image" content="//img.wicinternet.org/og.jpg">
            <link rel="Canonical" href=" https://www.wicinternet.org/c_1.htm ">
            </head><body><h1> </h1><div id="content"><p>x</p></div></body></html>"#;
        let raw = read(html, &page_url(), &rules());
        assert_eq!(raw.title.as_deref(), Some("OG headline"));
        assert_eq!(raw.author.as_deref(), Some("Wang Wei"));
        assert_eq!(raw.image.as_deref(), Some("//img.wicinternet.org/og.jpg"));
        assert_eq!(raw.canonical.as_deref(), Some("https://www.wicinternet.org/c_1.htm"));
        assert_eq!(raw.date_text, None);
        assert_eq!(raw.date_machine, None);
        assert_eq!(raw.image_caption, None);
    }

    #[test]
    fn without_metadata_missing_fields_are_none() {
        let raw = read("<p>nothing here</p>", &page_url(), &rules());
        assert_eq!(
            raw,
            RawArticle {
                url: Some(page_url()),
                ..RawArticle::default()
            }
        );
    }

    #[test]
    fn machine_date_comes_from_time_then_own_attributes_then_meta() {
        let with_date = |date: &str, html: &str| {
            let rules = ArticleRules {
                date: Some(sel(date)),
                ..rules()
            };
            let raw = read(html, &page_url(), &rules);
            (raw.date_text, raw.date_machine)
        };
        let meta = r#"<meta itemprop="datePublished" content="2015-12-16"><meta name="pubdate" content="2015-12-15">"#;
        assert_eq!(
            with_date(
                ".date",
                &format!(r#"{meta}<p class="date">Updated: <time datetime="2015-12-16T10:23">Dec 16, 2015</time></p>"#)
            ),
            (Some("Updated: Dec 16, 2015".into()), Some("2015-12-16T10:23".into()))
        );
        assert_eq!(
            with_date(
                "time",
                r#"<time datetime=" 2015-12-16 10:23:45 ">2015年12月16日 10:23</time>"#
            ),
            (Some("2015年12月16日 10:23".into()), Some("2015-12-16 10:23:45".into()))
        );
        assert_eq!(
            with_date(
                r#"meta[itemprop="dateCreated"]"#,
                r#"<meta itemprop="dateCreated" content="2015-12-14">"#
            ),
            (None, Some("2015-12-14".into()))
        );
        // Metadata is tried in rank order, not page order.
        assert_eq!(
            with_date(".date", &format!(r#"{meta}<span class="date">2015-12-16</span>"#)).1,
            Some("2015-12-16".into())
        );
        assert_eq!(
            with_date(
                ".date",
                r#"<meta name="pubdate" content="2015-12-15"><p>no date element</p>"#
            ),
            (None, Some("2015-12-15".into()))
        );
    }

    #[test]
    fn image_prefers_lazy_attributes_and_skips_placeholders() {
        let image = |html: &str| {
            read(
                html,
                &page_url(),
                &ArticleRules {
                    image: Some(sel(".pic")),
                    ..rules()
                },
            )
            .image
        };
        assert_eq!(
            image(r#"<img class="pic" src="grey.gif" data-original="W1.jpg">"#).as_deref(),
            Some("W1.jpg")
        );
        assert_eq!(
            image(r#"<img class="pic" src="grey.gif" data-lazy-src="W2.jpg">"#).as_deref(),
            Some("W2.jpg")
        );
        assert_eq!(image(r#"<img class="pic" src=" W3.jpg ">"#).as_deref(), Some("W3.jpg"));
        assert_eq!(
            image(r#"<figure class="pic"><img src="W4.jpg"></figure>"#).as_deref(),
            Some("W4.jpg")
        );
        assert_eq!(image(r#"<img class="pic" src="data:image/png;base64,AAAA">"#), None);
        assert_eq!(
            image(r#"<meta property="og:image" content="og.jpg"><img class="pic" src="DATA:image/gif;base64,R0">"#)
                .as_deref(),
            Some("og.jpg")
        );
    }

    #[test]
    fn deeply_nested_content_does_not_overflow_the_stack() {
        let depth = 20_000;
        let html = format!(
            "<div id='content'>{}deep{}</div>",
            "<span>".repeat(depth),
            "</span>".repeat(depth)
        );
        let rules = ArticleRules {
            title: Some(sel("#content")),
            ..rules()
        };
        let raw = read(&html, &page_url(), &rules);
        assert_eq!(raw.title.as_deref(), Some("deep"));
        // The parse keeps elements down to `MAX_DEPTH` (<html> 1, <body> 2, the content <div> 3); the text of the
        // deeper ones stays, in the deepest element kept.
        let kept = crate::html::MAX_DEPTH - 3;
        assert_eq!(
            raw.content_html.map(|c| c.len()),
            Some(kept * "<span></span>".len() + "deep".len())
        );
    }

    #[test]
    fn remove_selectors_only_act_inside_the_content() {
        let html = r#"<div class="ad">outside</div><div id="content"><p>keep</p><p class="ad">drop</p></div>"#;
        let raw = read(html, &page_url(), &rules());
        assert_eq!(raw.content_html.as_deref(), Some("<p>keep</p>"));
    }
}
