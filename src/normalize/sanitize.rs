//! The one place article HTML is made safe: an allowlist sanitizer built on ammonia.
//!
//! Input is the body HTML `extract` cut out of a page (its `remove` selectors already applied), with whatever the
//! CMS left inside: scripts, iframes, share widgets, inline handlers, lazy-loaded images, relative links. Output is
//! HTML that renderers embed as-is: only text-level and structural tags, no scripts, styles, frames, forms,
//! event handlers, `style`/`class`/`id`, or URLs other than http(s) (and `mailto:` links); every `href`, `src` and
//! `srcset` absolute; lazy images showing their real picture; no character XML forbids. Ammonia runs last, so whatever the pre-pass here does,
//! nothing unsafe can come out. [`to_text`] gives the plain text of sanitized HTML, for summaries.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use ammonia::{Builder, UrlRelative};
use scraper::node::Element;
use scraper::{Html, Node};
use url::Url;

use super::text;
use crate::html::{escape_into, is_data_url};

/// Tags kept (without their attributes, unless listed in [`ATTRIBUTES`]). Anything else is unwrapped: its children
/// stay, the tag goes. `h1` is left out on purpose: the headline is the item title, and a second one in the body
/// would compete with it.
#[rustfmt::skip]
const TAGS: &[&str] = &[
    // Blocks and line breaks.
    "p", "br", "hr", "div", "blockquote", "pre", "h2", "h3", "h4", "h5", "h6",
    // Lists.
    "ul", "ol", "li", "dl", "dt", "dd",
    // Links and pictures.
    "a", "img", "figure", "figcaption",
    // Inline text.
    "span", "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "small", "mark", "abbr", "time", "q",
    "cite", "code", "kbd", "samp", "var",
    // Tables.
    "table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td",
];

/// Per-tag attributes kept. No `style`, `class` or `id` (they only mean something with the site's own CSS and
/// scripts), and never an `on*` handler.
const ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "title"]),
    ("img", &["src", "srcset", "alt", "title", "width", "height"]),
    ("abbr", &["title"]),
    ("time", &["datetime"]),
    ("ol", &["start", "reversed"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("td", &["colspan", "rowspan"]),
    ("th", &["colspan", "rowspan", "scope"]),
];

/// Elements removed together with everything inside them: their content is code, widgets or fallback text
/// ("your browser does not support video"), never article prose.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object", "embed", "applet", "noembed",
    "noframes", "form", "button", "select", "textarea", "canvas", "audio", "video", "svg", "math", "title",
];

/// Attributes lazy-loading scripts read the real image from, most common first. The page's own `src` is then
/// a placeholder (a 1×1 GIF, `loading.gif`), which is why these win over it.
const LAZY_SRC: &[&str] = &["data-src", "data-original", "data-lazy-src", "data-actualsrc"];
const LAZY_SRCSET: &[&str] = &["data-srcset", "data-lazy-srcset"];

/// Elements without an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
];

/// Sanitizes an article body and makes its URLs absolute against `base` (the page's final URL).
pub fn clean(html: &str, base: &Url) -> String {
    let html: Cow<'_, str> = if mentions_data_attribute(html) {
        Cow::Owned(promote_lazy_images(html))
    } else {
        Cow::Borrowed(html)
    };
    let cleaned = builder(base).clean(&html).to_string();
    text::xml_safe(&cleaned).into_owned()
}

/// The plain text of sanitized HTML: text nodes in order, block boundaries as spaces, whitespace collapsed.
/// Figure captions are skipped: a summary that opens with "(Xinhua/Li Tao)" says nothing.
pub fn to_text(html: &str) -> String {
    const INLINE: &[&str] = &[
        "a", "span", "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "small", "mark", "abbr", "time",
        "code", "kbd", "samp", "var", "q", "cite",
    ];
    let doc = crate::html::parse_fragment(html).html;
    let mut out = String::with_capacity(html.len());
    walk(&doc, |visit| match visit {
        Visit::Text(t) => {
            out.push_str(t);
            true
        }
        Visit::Open(el) | Visit::Close(el) => {
            if !INLINE.contains(&el.name()) {
                out.push(' ');
            }
            el.name() != "figcaption"
        }
    });
    text::collapse(&out)
}

fn builder(base: &Url) -> Builder<'static> {
    let mut builder = Builder::default();
    let srcset_base = base.clone();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(HashSet::from(["lang", "dir"]))
        .tag_attributes(
            ATTRIBUTES
                .iter()
                .map(|&(tag, attrs)| (tag, attrs.iter().copied().collect()))
                .collect::<HashMap<_, _>>(),
        )
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(UrlRelative::RewriteWithBase(base.clone()))
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        // Ammonia only checks and rewrites `href`/`src`; `srcset` holds a list of URLs and is handled here.
        .attribute_filter(move |element, attribute, value| match (element, attribute) {
            ("img", "srcset") => absolute_srcset(&srcset_base, value).map(Into::into),
            _ => Some(value.into()),
        });
    builder
}

/// Rewrites every candidate of a `srcset` to an absolute http(s) URL, dropping the others; `None` when none is left.
/// Follows the HTML candidate syntax closely enough for `data:` URLs (which contain commas) to be skipped whole.
fn absolute_srcset(base: &Url, srcset: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = srcset;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
        let (mut url, mut descriptor) = (&rest[..end], "");
        rest = &rest[end..];
        if url.ends_with(',') {
            url = url.trim_end_matches(',');
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            descriptor = rest[..end].trim();
            rest = &rest[end..];
        }
        if let Some(url) = super::url::resolve(base, url) {
            out.push(if descriptor.is_empty() {
                url.to_string()
            } else {
                format!("{url} {descriptor}")
            });
        }
    }
    (!out.is_empty()).then(|| out.join(", "))
}

/// Whether the lazy-image pre-pass can have anything to do; it costs a second parse, so most bodies skip it.
fn mentions_data_attribute(html: &str) -> bool {
    html.as_bytes().windows(5).any(|w| w.eq_ignore_ascii_case(b"data-"))
}

/// Re-serializes `html` with each lazy image's real URL moved into `src` (and `srcset`). Ammonia cannot rename
/// attributes, so this runs before it, on a real HTML5 parse rather than on text. The output only needs to parse
/// back into the same tree; ammonia then does all filtering, so what is dropped or escaped here is a matter of
/// fidelity, not of safety.
fn promote_lazy_images(html: &str) -> String {
    let doc = crate::html::parse_fragment(html).html;
    let mut out = String::with_capacity(html.len() + 64);
    walk(&doc, |visit| match visit {
        Visit::Text(t) => {
            escape_into(&mut out, t, false);
            true
        }
        Visit::Open(el) => {
            if DROPPED_WITH_CONTENT.contains(&el.name()) {
                return false;
            }
            open_tag(&mut out, el);
            // The parser drops a newline right after `<pre>`; write one more so a leading one survives the reparse.
            if el.name() == "pre" {
                out.push('\n');
            }
            true
        }
        Visit::Close(el) => {
            if !VOID.contains(&el.name()) {
                let _ = write!(out, "</{}>", el.name());
            }
            true
        }
    });
    out
}

fn open_tag(out: &mut String, el: &Element) {
    let name = el.name();
    let lazy = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| el.attr(n))
            .map(str::trim)
            // An inline `data:` value is itself a placeholder.
            .filter(|v| !v.is_empty() && !is_data_url(v))
    };
    let (src, srcset) = if name == "img" {
        (lazy(LAZY_SRC), lazy(LAZY_SRCSET))
    } else {
        (None, None)
    };
    out.push('<');
    out.push_str(name);
    let replaced = src.map(|v| ("src", v)).into_iter().chain(srcset.map(|v| ("srcset", v)));
    let kept = el.attrs().filter(|&(attr, _)| {
        let overridden = (attr == "src" && src.is_some()) || (attr == "srcset" && srcset.is_some());
        // Names the tokenizer let through but nothing allows (`a"b`) are dropped rather than escaped.
        let plain = attr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'));
        plain && !overridden && !(name == "img" && (LAZY_SRC.contains(&attr) || LAZY_SRCSET.contains(&attr)))
    });
    for (attr, value) in replaced.chain(kept) {
        out.push(' ');
        out.push_str(attr);
        out.push_str("=\"");
        escape_into(out, value, true);
        out.push('"');
    }
    out.push('>');
}

/// The paragraph that ends a body cut by [`cut`]: a link to the whole article on the site, written the way the
/// sanitizer writes links.
pub fn continue_reading(original: &Url) -> String {
    let mut out = String::from("<p><a href=\"");
    escape_into(&mut out, original.as_str(), true);
    out.push_str("\" rel=\"noopener noreferrer\">Continue reading on the site</a></p>");
    out
}

/// Cuts sanitized HTML to at most `max` bytes, closing the elements left open, so that every tag is balanced.
///
/// The cut falls between two nodes, after the last complete element or text that fits (never right after a start
/// tag, which would leave an empty element at the end). Only when that would keep less than half of `max` (one
/// enormous paragraph) is the text node that straddles the limit cut inside, at its last space before the limit
/// (or between two characters, for CJK text without spaces), never inside a word, a character reference or a
/// UTF-8 sequence. Works on the sanitizer's own output, which is regular: every attribute
/// value double-quoted, `<` in text escaped, no comments, no raw-text elements. `html` itself when it fits.
pub fn cut(html: &str, max: usize) -> Cow<'_, str> {
    if html.len() <= max {
        return Cow::Borrowed(html);
    }
    let mut open: Vec<&str> = Vec::new();
    let mut closing = 0;
    let mut best = 0;
    for token in Tokens::new(html) {
        match token.kind {
            Kind::Text => {
                if token.end + closing > max {
                    let room = max.saturating_sub(closing);
                    // Inside the text only when the last whole node ends too far back to be worth keeping alone
                    // (one enormous paragraph).
                    if room > token.start
                        && best < room / 2
                        && let Some(at) = cut_text(html, token.start, room)
                    {
                        best = at;
                    }
                    break;
                }
            }
            Kind::Start(name) => {
                open.push(name);
                closing += name.len() + 3;
            }
            Kind::End(name) => {
                if let Some(at) = open.iter().rposition(|n| *n == name) {
                    for n in open.drain(at..) {
                        closing -= n.len() + 3;
                    }
                }
            }
            Kind::Void => {}
        }
        if token.end + closing > max {
            break;
        }
        if !matches!(token.kind, Kind::Start(_)) {
            best = token.end;
        }
    }
    // The elements open at the cut, found again: recording them at every candidate would cost their depth each time.
    let mut open: Vec<&str> = Vec::new();
    for token in Tokens::new(&html[..best]) {
        match token.kind {
            Kind::Start(name) => open.push(name),
            Kind::End(name) => {
                if let Some(at) = open.iter().rposition(|n| *n == name) {
                    open.truncate(at);
                }
            }
            Kind::Text | Kind::Void => {}
        }
    }
    let mut out = String::with_capacity(max);
    out.push_str(&html[..best]);
    for name in open.iter().rev() {
        let _ = write!(out, "</{name}>");
    }
    Cow::Owned(out)
}

/// Where to cut the text that starts at `start`, given that it must end by `room`: at the last character boundary
/// outside a character reference, if that is not inside a word; else at the last space before it (at most 64 bytes
/// back: CJK text has no spaces and may be cut between any two characters); trailing spaces left out. `None` when
/// nothing of the text can be kept that way.
fn cut_text(html: &str, start: usize, room: usize) -> Option<usize> {
    let mut end = room;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    // Inside `&amp;`? Cut before the `&`.
    let head = &html[start..end];
    if let Some(amp) = head.rfind('&').filter(|&amp| !head[amp..].contains(';')) {
        end = start + amp;
    }
    let head = &html[start..end];
    let mid_word = match (head.chars().next_back(), html[end..].chars().next()) {
        (Some(a), Some(b)) => !super::breakable(a) && !super::breakable(b),
        _ => false,
    };
    let at = if mid_word {
        let space = head.rfind(|c: char| c.is_ascii_whitespace())?;
        (head.len() - space <= 64).then_some(start + space)?
    } else {
        end
    };
    let at = start
        + html[start..at]
            .trim_end_matches(|c: char| c.is_ascii_whitespace())
            .len();
    (at > start).then_some(at)
}

enum Kind<'a> {
    Start(&'a str),
    End(&'a str),
    /// A void element, or a tag that is not an element (`<!doctype>`).
    Void,
    Text,
}

struct Token<'a> {
    kind: Kind<'a>,
    start: usize,
    end: usize,
}

/// The tags and text runs of serialized HTML, in order, by byte range.
struct Tokens<'a> {
    html: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(html: &'a str) -> Self {
        Tokens { html, pos: 0 }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let start = self.pos;
        let rest = self.html.get(start..).filter(|r| !r.is_empty())?;
        if !rest.starts_with('<') {
            let end = rest.find('<').map_or(self.html.len(), |i| start + i);
            self.pos = end;
            return Some(Token {
                kind: Kind::Text,
                start,
                end,
            });
        }
        // A tag ends at the first `>` outside a quoted attribute value.
        let mut quoted = false;
        let len = rest
            .bytes()
            .position(|b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b == b'>' && !quoted
            })
            .map_or(rest.len(), |i| i + 1);
        self.pos = start + len;
        let tag = &rest[..len];
        let name_of = |t: &'a str| {
            let end = t
                .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .unwrap_or(t.len());
            &t[..end]
        };
        let kind = if let Some(end_tag) = tag.strip_prefix("</") {
            Kind::End(name_of(end_tag))
        } else {
            let name = name_of(&tag[1..]);
            if name.is_empty() || name.starts_with('!') || VOID.contains(&name) {
                Kind::Void
            } else {
                Kind::Start(name)
            }
        };
        Some(Token {
            kind,
            start,
            end: start + len,
        })
    }
}

enum Visit<'a> {
    /// An element starts; the callback returns whether to descend into it (and see its `Close`).
    Open(&'a Element),
    Close(&'a Element),
    Text(&'a str),
}

/// Visits a parsed fragment in document order with an explicit stack: article HTML can be nested deeply enough
/// (unclosed `<div>`s, by the thousand) to overflow a recursive walk.
fn walk<'a>(doc: &'a Html, mut visit: impl FnMut(Visit<'a>) -> bool) {
    let mut stack: Vec<_> = doc.root_element().children().rev().map(|node| (node, false)).collect();
    while let Some((node, closing)) = stack.pop() {
        match node.value() {
            Node::Text(t) => {
                visit(Visit::Text(t));
            }
            Node::Element(el) if closing => {
                visit(Visit::Close(el));
            }
            Node::Element(el) => {
                let descend = visit(Visit::Open(el));
                if descend {
                    stack.push((node, true));
                    stack.extend(node.children().rev().map(|child| (child, false)));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://www.wicwuzhen.cn/system/2015/12/16/020951986.shtml").unwrap()
    }

    fn c(html: &str) -> String {
        clean(html, &base())
    }

    #[test]
    fn text_and_simple_markup_are_kept() {
        assert_eq!(
            c("<p>President Xi <strong>said</strong> “cyberspace” &amp; more.</p>"),
            "<p>President Xi <strong>said</strong> “cyberspace” &amp; more.</p>"
        );
    }

    #[test]
    fn scripts_styles_and_frames_are_gone_with_their_content() {
        let out = c("<p>a</p><script>alert(1)</script><style>p{color:red}</style>\
                     <iframe src=\"http://ads.example/x\">frame text</iframe><noscript>enable js</noscript>\
                     <object data=\"x.swf\">obj</object><embed src=\"x.swf\"><form><input name=q>search</form><p>b</p>");
        assert_eq!(out, "<p>a</p><p>b</p>");
    }

    #[test]
    fn event_handlers_styles_classes_and_ids_are_gone() {
        let out = c("<p onclick=\"steal()\" style=\"color:red\" class=\"x\" id=\"y\" onmouseover=\"z()\">t</p>");
        assert_eq!(out, "<p>t</p>");
    }

    #[test]
    fn javascript_urls_are_gone() {
        let out =
            c("<a href=\"javascript:alert(1)\">x</a><a href=\" JaVaScRiPt:alert(1)\">y</a><img src=\"javascript:1\">");
        assert!(!out.to_ascii_lowercase().contains("javascript"), "{out}");
        assert!(out.contains(">x</a>") && out.contains(">y</a>"), "{out}");
    }

    #[test]
    fn relative_links_and_images_become_absolute() {
        let out = c("<p><a href=\"../17/1.shtml\">next</a> <a href=\"/web15/\">home</a> \
                     <a href=\"//www.example.com/x\">x</a></p><img src=\"W020151216123.jpg\" alt=\"photo\">");
        assert!(
            out.contains("href=\"http://www.wicwuzhen.cn/system/2015/12/17/1.shtml\""),
            "{out}"
        );
        assert!(out.contains("href=\"http://www.wicwuzhen.cn/web15/\""), "{out}");
        assert!(out.contains("href=\"http://www.example.com/x\""), "{out}");
        assert!(
            out.contains("<img src=\"http://www.wicwuzhen.cn/system/2015/12/16/W020151216123.jpg\" alt=\"photo\">"),
            "{out}"
        );
    }

    #[test]
    fn links_get_noopener() {
        assert_eq!(
            c("<a href=\"http://a.example/\" target=\"_blank\">a</a>"),
            "<a href=\"http://a.example/\" rel=\"noopener noreferrer\">a</a>"
        );
    }

    #[test]
    fn lazy_image_data_src_is_promoted_over_the_placeholder() {
        let out = c("<p>x</p><img src=\"/images/loading.gif\" data-src=\"W020151216.jpg\" class=\"lazy\" alt=\"a\">");
        assert_eq!(
            out,
            "<p>x</p><img src=\"http://www.wicwuzhen.cn/system/2015/12/16/W020151216.jpg\" alt=\"a\">"
        );
    }

    #[test]
    fn other_lazy_attributes_are_promoted() {
        let out = c(
            "<img data-original=\"//img.example.cn/a.jpg\"><img src=\"data:image/gif;base64,R0lGOD==\" data-lazy-src=\"b.jpg\">",
        );
        assert_eq!(
            out,
            "<img src=\"http://img.example.cn/a.jpg\"><img src=\"http://www.wicwuzhen.cn/system/2015/12/16/b.jpg\">"
        );
    }

    #[test]
    fn lazy_srcset_and_srcset_become_absolute() {
        let out = c("<img data-src=\"a.jpg\" data-srcset=\"a.jpg 1x, /b.jpg 2x\">\
                     <img src=\"c.jpg\" srcset=\"data:image/png;base64,iVBOR,AA 1x, javascript:x 2x, d.jpg 640w\">");
        assert!(
            out.contains(
                "srcset=\"http://www.wicwuzhen.cn/system/2015/12/16/a.jpg 1x, http://www.wicwuzhen.cn/b.jpg 2x\""
            ),
            "{out}"
        );
        assert!(
            out.contains("srcset=\"http://www.wicwuzhen.cn/system/2015/12/16/d.jpg 640w\""),
            "{out}"
        );
        assert!(!out.contains("data:") && !out.contains("javascript"), "{out}");
    }

    #[test]
    fn pre_pass_keeps_text_structure_and_escapes() {
        let body = "<p>1 &lt; 2 &amp; 3 &gt; 2 “q”</p><pre>\n\nindented</pre><br><p>é\u{A0}z</p>";
        let through_pre_pass = c(&format!("<div data-x=\"1\">{body}</div>"));
        assert_eq!(through_pre_pass, c(&format!("<div>{body}</div>")));
        // The `<pre>` text node is "\nindented" (the parser ate the first newline); ammonia writes it as is.
        assert_eq!(
            through_pre_pass,
            "<div><p>1 &lt; 2 &amp; 3 &gt; 2 “q”</p><pre>\nindented</pre><br><p>é&nbsp;z</p></div>"
        );
    }

    #[test]
    fn control_characters_cannot_reach_xml() {
        let out = c("<p>a\u{8}b\u{B}c\u{1F}d</p>");
        assert_eq!(out, "<p>abcd</p>");
    }

    #[test]
    fn deeply_nested_input_is_handled() {
        // Unclosed `<div>`s nest; the walks here use an explicit stack, and `crate::html` bounds the depth.
        let html = format!("{}<img data-src=\"a.jpg\">text", "<div>".repeat(4_000));
        assert!(c(&html).contains("text"));
    }

    /// Sanitizer-shaped HTML: double-quoted attributes (one with a raw `>`), escaped text, a void element, CJK text.
    const LONG: &str = "<p>One two three.</p><p>AT&amp;T &lt;b&gt; <a href=\"http://a.example/?q=a>b&amp;c=&quot;d&quot;\" rel=\"noopener noreferrer\">link &gt; here</a></p><ul><li>第二届世界互联网大会在乌镇开幕</li><li>b<br>c&nbsp;d</li></ul><img src=\"http://a.example/b.jpg\"><p>Last words of the body.</p>";

    /// Whether every tag is closed in order, and what the cut kept before its closing tags.
    fn balanced(html: &str) -> bool {
        let mut open = Vec::new();
        for token in Tokens::new(html) {
            match token.kind {
                Kind::Start(name) => open.push(name),
                Kind::End(name) if open.last() == Some(&name) => {
                    open.pop();
                }
                Kind::End(_) => return false,
                Kind::Text | Kind::Void => {}
            }
        }
        open.is_empty()
    }

    #[test]
    fn a_cut_is_within_max_balanced_and_never_inside_a_tag_or_a_reference() {
        for max in 0..=LONG.len() + 1 {
            let out = cut(LONG, max);
            assert!(out.len() <= max, "{max}: {out}");
            assert!(balanced(&out), "{max}: {out}");
            // What is kept is the start of the body; only closing tags are added.
            let mut kept = out.as_ref();
            while !LONG.starts_with(kept) {
                let at = kept.rfind("</").unwrap_or_else(|| panic!("{max}: {out}"));
                let tag = &kept[at..];
                assert!(tag.ends_with('>') && !tag[1..].contains('<'), "{max}: {out}");
                kept = &kept[..at];
            }
            for (i, _) in out.match_indices('&') {
                let reference = &out[i..out[i..].find(';').map_or(out.len(), |e| i + e + 1)];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;"].contains(&reference),
                    "{max}: broken {reference:?} in {out}"
                );
            }
            // An element is never left empty at the end.
            assert!(!out.contains("<p></p>") && !out.contains("<li></li>"), "{max}: {out}");
        }
        assert_eq!(cut(LONG, LONG.len()), LONG);
    }

    #[test]
    fn a_cut_falls_between_elements_or_at_a_space_never_inside_a_word() {
        assert_eq!(cut(LONG, 9), "");
        assert_eq!(cut(LONG, 10), "<p>One</p>");
        // After the last whole node, unless that keeps less than half: not "AT&amp;T" cut out of the next paragraph.
        assert_eq!(cut(LONG, 36), "<p>One two three.</p>");
        let link = LONG.find("link").unwrap();
        assert_eq!(
            cut(LONG, link + "link".len() + "</a></p>".len()),
            format!("{}link</a></p>", &LONG[..link])
        );
        // One long paragraph is cut at a space, never inside a word or a character reference.
        let latin = "<p>The conference opened in Wuzhen &amp; Hangzhou today</p>";
        assert_eq!(cut(latin, 3 + 20 + 4), "<p>The conference</p>");
        assert_eq!(cut(latin, 3 + 36 + 4), "<p>The conference opened in Wuzhen</p>");
        assert_eq!(cut(latin, 3 + 38 + 4), "<p>The conference opened in Wuzhen &amp;</p>");
        // CJK text is cut between characters, whole ones.
        let cjk = "<p>第二届世界互联网大会在乌镇开幕</p>";
        assert_eq!(cut(cjk, 3 + 12 + 4), "<p>第二届世</p>");
        assert_eq!(cut(cjk, 3 + 14 + 4), "<p>第二届世</p>");
    }

    #[test]
    fn the_continue_link_is_absolute_and_escaped() {
        let url = Url::parse("https://www.example.org/a.htm?x=1&y=\"2\"").unwrap();
        assert_eq!(
            continue_reading(&url),
            "<p><a href=\"https://www.example.org/a.htm?x=1&amp;y=%222%22\" rel=\"noopener noreferrer\">Continue reading on the site</a></p>"
        );
    }

    #[test]
    fn plain_text_separates_blocks_and_skips_captions() {
        let html = "<figure><img src=\"http://a/b.jpg\"><figcaption>(Xinhua/Li Tao)</figcaption></figure>\
                    <p>First <em>para</em>.</p><p>Second&nbsp; para.</p><ul><li>one</li><li>two</li></ul>";
        assert_eq!(to_text(html), "First para. Second para. one two");
    }
}
