//! Page metadata: what a page says about itself in machine-readable form, read once per page.
//!
//! News pages describe themselves several ways at once, none of them everywhere: JSON-LD (`NewsArticle`, `Article`,
//! `ReportageNewsArticle`, `BlogPosting`, a `WebPage` that carries article fields; also inside `@graph`, top-level
//! arrays and `mainEntity`, with `@id` references followed), microdata (`itemprop`), OpenGraph with its `article:*`
//! properties, other `<meta>` names (`author`, `byline`, `dc.creator`, `pubdate`, `publishdate`, `sailthru.date`,
//! …), `<time datetime>`, `<link rel=canonical>`, `<link rel=next>`, and `<link rel=alternate>` for the feeds the
//! site already publishes. [`read`] collects all of them into one [`PageMeta`], each value with the [`Origin`] it
//! came from, so the article extractor can fall back field by field and `preview` can say where a value was found.
//!
//! When several kinds give the same field, JSON-LD wins over microdata, microdata over OpenGraph, OpenGraph over the
//! other `<meta>`/`<time>` markup: that is the order of how deliberately each is written (JSON-LD is generated from
//! the CMS's article record, `<meta name=date>` is often a template's page-build time). The one exception is
//! `site_name`, where `og:site_name` wins because it is the name as the site prints it in titles, while JSON-LD's
//! `publisher` may be the parent company. Values are as written, trimmed and whitespace-collapsed, with the HTML
//! entities that JSON-LD strings carry on real sites (`&amp;`, `&#39;`) decoded once; nothing is resolved or parsed
//! here. Broken JSON-LD (a trailing comma, raw line breaks in strings, an HTML comment or CDATA wrapper) gets one
//! light repair and is otherwise skipped silently: the other kinds of metadata still count.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};
use serde_json::{Map, Value};

use super::dom;
use crate::model::Origin;

/// A value and where it was found.
pub type Found = (String, Origin);

/// Everything a page's metadata says about the article on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    /// The headline (JSON-LD `headline`/`name`, microdata, `og:title`), without any site suffix removed yet.
    pub title: Option<Found>,
    /// The publication date as written (`datePublished`, `article:published_time`, `<time datetime>`, …).
    pub published: Option<Found>,
    pub modified: Option<Found>,
    /// The author's name, or the names joined with `, ` when there are several; never a profile URL.
    pub author: Option<Found>,
    /// The lead image URL as written (`image`, `og:image`).
    pub image: Option<Found>,
    pub description: Option<String>,
    pub canonical: Option<String>,
    pub site_name: Option<String>,
    /// JSON-LD `keywords` and `article:tag`, in page order, each once.
    pub keywords: Vec<String>,
    /// JSON-LD `articleSection` or `article:section`.
    pub section: Option<String>,
    /// Where the first of `section` and `keywords` was found.
    pub tags_from: Option<Origin>,
    /// Feeds the page advertises with `<link rel="alternate">`.
    pub feeds: Vec<Advertised>,
    /// `<link rel="next">`, as written.
    pub next: Option<String>,
    /// The page's language: `<html lang>`, `Content-Language`, `og:locale`, else what its declared charset or its
    /// script implies (GBK means mainland Chinese, Big5 Taiwanese, kana Japanese); `None` when nothing says.
    pub language: Option<String>,
}

impl PageMeta {
    fn has_tags(&self) -> bool {
        self.section.is_some() || !self.keywords.is_empty()
    }

    /// The article's section and then its keywords, as the page's metadata gives them, and where the first was
    /// found; `None` when the metadata names neither.
    pub fn tags(&self) -> Option<(Vec<String>, Origin)> {
        let tags: Vec<String> = self.section.iter().chain(&self.keywords).cloned().collect();
        Some((tags, self.tags_from?)).filter(|(t, _)| !t.is_empty())
    }
}

/// A feed a page points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// The `href`, as written.
    pub href: String,
    pub kind: FeedKind,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Rss,
    Atom,
    Json,
}

/// Scripts larger than this are not article metadata (some sites inline their whole state as JSON-LD); parsing
/// them would cost more than they could tell.
const MAX_JSON_LD_BYTES: usize = 1 << 20;

static SCRIPTS: LazyLock<Selector> = LazyLock::new(|| dom::selector("script[type]"));
static METAS: LazyLock<Selector> = LazyLock::new(|| dom::selector("meta[content]"));
static ITEMPROPS: LazyLock<Selector> = LazyLock::new(|| dom::selector("[itemprop]"));
static LINKS: LazyLock<Selector> = LazyLock::new(|| dom::selector("link[rel][href]"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| dom::selector("title"));

/// Reads every kind of metadata the page carries.
pub fn read(doc: &Html) -> PageMeta {
    let metas = meta_tags(doc);
    let og = open_graph(&metas);
    let site_name = og.site_name.clone();
    // Highest priority first; `merge` only fills what is still empty.
    let mut meta = json_ld(doc);
    merge(&mut meta, microdata(doc));
    merge(&mut meta, og);
    merge(&mut meta, other_meta(doc, &metas));
    if site_name.is_some() {
        meta.site_name = site_name;
    }
    links(doc, &mut meta);
    meta.language = language(doc, &metas);
    meta
}

static HTTP_EQUIV: LazyLock<Selector> = LazyLock::new(|| dom::selector("meta[http-equiv][content]"));
static CHARSET: LazyLock<Selector> = LazyLock::new(|| dom::selector("meta[charset]"));
static BODY: LazyLock<Selector> = LazyLock::new(|| dom::selector("body"));

/// How much of the body text is looked at to tell the script.
const SCRIPT_SAMPLE_CHARS: usize = 2000;

fn language(doc: &Html, metas: &[(String, String)]) -> Option<String> {
    let declared = dom::attr(doc.root_element(), "lang")
        .map(str::to_owned)
        .or_else(|| {
            doc.select(&HTTP_EQUIV)
                .find(|m| {
                    m.attr("http-equiv")
                        .is_some_and(|h| h.eq_ignore_ascii_case("content-language"))
                })
                .and_then(|m| dom::attr(m, "content"))
                .map(|l| l.split(',').next().unwrap_or(l).trim().to_owned())
        })
        .or_else(|| first(metas, &["og:locale"]).map(|l| l.replace('_', "-")));
    if let Some(lang) = declared.filter(|l| !l.is_empty()) {
        return Some(lang);
    }
    let charset = doc
        .select(&CHARSET)
        .find_map(|m| dom::attr(m, "charset"))
        .map(str::to_owned)
        .or_else(|| {
            doc.select(&HTTP_EQUIV)
                .filter(|m| {
                    m.attr("http-equiv")
                        .is_some_and(|h| h.eq_ignore_ascii_case("content-type"))
                })
                .find_map(|m| dom::attr(m, "content"))
                .and_then(|c| {
                    c.to_ascii_lowercase()
                        .split("charset=")
                        .nth(1)
                        .map(|c| c.trim().to_owned())
                })
        })
        .map(|c| c.to_ascii_lowercase());
    let by_charset = match charset.as_deref() {
        Some("gb2312" | "gbk" | "gb18030" | "x-gbk") => Some("zh-CN"),
        Some("big5" | "big5-hkscs") => Some("zh-TW"),
        Some("shift_jis" | "euc-jp" | "iso-2022-jp") => Some("ja"),
        Some("euc-kr") => Some("ko"),
        _ => None,
    };
    by_charset.map(str::to_owned).or_else(|| script_language(doc))
}

/// The language a body's script gives away: Han without kana is Chinese, kana Japanese, Hangul Korean. Latin
/// and other scripts are shared by too many languages to tell.
fn script_language(doc: &Html) -> Option<String> {
    let body = doc.select(&BODY).next()?;
    let (mut han, mut kana, mut hangul, mut letters) = (0usize, 0usize, 0usize, 0usize);
    for c in body
        .text()
        .flat_map(str::chars)
        .filter(|c| c.is_alphabetic())
        .take(SCRIPT_SAMPLE_CHARS)
    {
        letters += 1;
        match c as u32 {
            0x3040..=0x30ff => kana += 1,
            0xac00..=0xd7af => hangul += 1,
            0x4e00..=0x9fff | 0x3400..=0x4dbf => han += 1,
            _ => {}
        }
    }
    let share = |n: usize| n * 10 >= letters * 3 && letters > 0;
    if share(kana) || (kana * 10 >= han && share(han + kana) && kana > 0) {
        Some("ja".into())
    } else if share(hangul) {
        Some("ko".into())
    } else if share(han) {
        Some("zh".into())
    } else {
        None
    }
}

/// Whether an element sits in a part of the page that is about something other than the article: comments,
/// related or recommended stories, sidebars, navigation, the footer. Dates and headlines found there belong to
/// other content, however article-like they look. Checks the element and its ancestors.
pub(crate) fn peripheral(el: ElementRef<'_>) -> bool {
    std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .any(|e| {
            let v = e.value();
            matches!(v.name(), "footer" | "nav" | "aside")
                || [v.attr("class"), v.attr("id")]
                    .into_iter()
                    .flatten()
                    .any(peripheral_name)
        })
}

/// Class or id names that mark non-article regions. Words are matched by prefix for the long, unambiguous names
/// (`comments`, `relatedNews`) and exactly for short ones, so `photo` is not `hot` and `inside` is not `side`.
fn peripheral_name(names: &str) -> bool {
    const PREFIXES: [&str; 13] = [
        "comment",
        "related",
        "relate",
        "recommend",
        "sidebar",
        "footer",
        "reply",
        "replies",
        "widget",
        "popular",
        "trending",
        "navbar",
        "breadcrumb",
    ];
    const EXACT: [&str; 9] = ["nav", "hot", "rank", "side", "aside", "foot", "menu", "cmt", "more"];
    const CJK: [&str; 4] = ["评论", "相关", "推荐", "热门"];
    let lower = names.to_lowercase();
    lower
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .any(|w| PREFIXES.iter().any(|p| w.starts_with(p)) || EXACT.contains(&w) || CJK.iter().any(|c| w.contains(c)))
}

/// Fills every empty field of `into` from `from`; lists are appended, each value once.
fn merge(into: &mut PageMeta, from: PageMeta) {
    fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
        if slot.is_none() {
            *slot = value;
        }
    }
    fill(&mut into.title, from.title);
    fill(&mut into.published, from.published);
    fill(&mut into.modified, from.modified);
    fill(&mut into.author, from.author);
    fill(&mut into.image, from.image);
    fill(&mut into.description, from.description);
    fill(&mut into.canonical, from.canonical);
    fill(&mut into.site_name, from.site_name);
    if into.section.is_none() && into.keywords.is_empty() {
        into.tags_from = from.tags_from;
    }
    fill(&mut into.section, from.section);
    fill(&mut into.next, from.next);
    for k in from.keywords {
        push_keyword(&mut into.keywords, k);
    }
}

/// The most keywords kept from one page. Each new one is compared with those kept, so without a bound a megabyte of
/// distinct JSON-LD keywords would cost billions of comparisons; `normalize` keeps fewer still.
const MAX_KEYWORDS: usize = 100;

fn push_keyword(keywords: &mut Vec<String>, k: String) {
    if keywords.len() < MAX_KEYWORDS && !keywords.iter().any(|have| have.eq_ignore_ascii_case(&k)) {
        keywords.push(k);
    }
}

/// Splits a keyword list as CMSes write it: commas (ASCII or full-width), semicolons or `、`.
fn split_keywords(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', '，', ';', '；', '、']).filter_map(dom::collapse)
}

/// A profile link is not a name: `article:author` and JSON-LD `author` often hold a Facebook or author-page URL.
fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("//") || s.starts_with("www.")
}

// ---- JSON-LD ----

/// The `@type`s of article objects, as schema.org names them.
const ARTICLE_TYPES: [&str; 13] = [
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "ReviewNewsArticle",
    "BlogPosting",
    "LiveBlogPosting",
    "SocialMediaPosting",
    "TechArticle",
    "ScholarlyArticle",
    "Report",
];

/// Page types that some CMSes put the article's fields on instead of an `Article`.
const PAGE_TYPES: [&str; 4] = ["WebPage", "ItemPage", "CollectionPage", "AboutPage"];

fn json_ld(doc: &Html) -> PageMeta {
    let roots: Vec<Value> = doc
        .select(&SCRIPTS)
        .filter(|s| {
            s.value()
                .attr("type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"))
        })
        .flat_map(|s| {
            let raw: String = s.text().collect();
            parse_json_ld(&raw)
        })
        .collect();
    let graph = Graph::new(&roots);
    let mut meta = PageMeta::default();
    // Article objects first, then pages with article fields; within each, page order. The first object to give a
    // field wins, later ones only fill gaps (a second script may carry the image the first lacks).
    let articles = graph.nodes.iter().filter(|n| has_type(n, &ARTICLE_TYPES));
    let pages = graph.nodes.iter().filter(|n| {
        has_type(n, &PAGE_TYPES)
            && !has_type(n, &ARTICLE_TYPES)
            && (n.contains_key("headline") || n.contains_key("datePublished"))
    });
    for node in articles.chain(pages) {
        merge(&mut meta, graph.article(node));
    }
    if meta.site_name.is_none() {
        meta.site_name = graph
            .nodes
            .iter()
            .find(|n| has_type(n, &["WebSite"]))
            .and_then(|n| graph.name(n.get("name")?));
    }
    meta
}

/// Every JSON value in the script, after one light repair if it does not parse as written. Concatenated values
/// (`{…}{…}`) are all read; a value after a broken one is lost, which is the price of not guessing.
fn parse_json_ld(raw: &str) -> Vec<Value> {
    if raw.len() > MAX_JSON_LD_BYTES {
        return Vec::new();
    }
    let values = |s: &str| -> Vec<Value> {
        serde_json::Deserializer::from_str(s)
            .into_iter::<Value>()
            .map_while(Result::ok)
            .collect()
    };
    match values(raw) {
        v if !v.is_empty() => v,
        _ => values(&repair(raw)),
    }
}

/// Undoes what real sites do to their JSON-LD: wrap it in `<!-- -->` or `<![CDATA[ ]]>`, leave a trailing comma
/// before `}` or `]`, put raw line breaks or tabs inside strings, end it with `;`.
fn repair(raw: &str) -> String {
    let mut s = raw.trim();
    for prefix in ["<!--", "/*<![CDATA[*/", "//<![CDATA[", "<![CDATA["] {
        s = s.strip_prefix(prefix).unwrap_or(s).trim_start();
    }
    for suffix in ["-->", "/*]]>*/", "//]]>", "]]>", ";"] {
        s = s.strip_suffix(suffix).unwrap_or(s).trim_end();
    }
    let mut out = String::with_capacity(s.len());
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                c if (c as u32) < 0x20 => {
                    out.push(' ');
                    continue;
                }
                _ => {}
            }
            out.push(c);
            continue;
        }
        match c {
            '"' => in_string = true,
            ',' => {
                let next = s[i + 1..].trim_start().chars().next();
                if matches!(next, Some('}' | ']')) {
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The objects of all JSON-LD scripts in page order, and an index of them by `@id` for references such as
/// Yoast's `"author": {"@id": "…#/schema/person/…"}`.
struct Graph<'v> {
    nodes: Vec<&'v Map<String, Value>>,
    ids: HashMap<&'v str, &'v Map<String, Value>>,
}

impl<'v> Graph<'v> {
    fn new(roots: &'v [Value]) -> Self {
        let mut nodes = Vec::new();
        let mut ids = HashMap::new();
        // An explicit stack, pushed in reverse so objects come out in page order.
        let mut stack: Vec<&Value> = roots.iter().rev().collect();
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items.iter().rev()),
                Value::Object(map) => {
                    if map.contains_key("@type") {
                        nodes.push(map);
                    }
                    if let Some(id) = map.get("@id").and_then(Value::as_str)
                        && map.len() > 1
                    {
                        ids.entry(id).or_insert(map);
                    }
                    for key in ["mainEntity", "@graph"] {
                        if let Some(child) = map.get(key) {
                            stack.push(child);
                        }
                    }
                }
                _ => {}
            }
        }
        Self { nodes, ids }
    }

    /// An object, or the object a bare `{"@id": …}` reference names.
    fn deref(&self, v: &'v Value) -> Option<&'v Map<String, Value>> {
        let map = v.as_object()?;
        match map.get("@id").and_then(Value::as_str) {
            Some(id) if map.len() == 1 => self.ids.get(id).copied(),
            _ => Some(map),
        }
    }

    fn article(&self, node: &'v Map<String, Value>) -> PageMeta {
        let field = |key: &str| node.get(key).and_then(string);
        let found = |v: Option<String>| v.map(|v| (v, Origin::JsonLd));
        let mut meta = PageMeta {
            title: found(field("headline").or_else(|| field("name"))),
            published: found(field("datePublished")),
            modified: found(field("dateModified")),
            author: found(node.get("author").and_then(|a| self.names(a))),
            image: found(node.get("image").and_then(|i| self.image(i))),
            description: field("description"),
            section: node.get("articleSection").and_then(first_string),
            site_name: node.get("publisher").and_then(|p| self.name(p)),
            ..PageMeta::default()
        };
        match node.get("keywords") {
            Some(Value::String(s)) => {
                for k in split_keywords(&decode_entities(s)) {
                    push_keyword(&mut meta.keywords, k);
                }
            }
            Some(Value::Array(items)) => {
                for k in items.iter().filter_map(string) {
                    push_keyword(&mut meta.keywords, k);
                }
            }
            _ => {}
        }
        meta.tags_from = meta.has_tags().then_some(Origin::JsonLd);
        meta
    }

    /// `"author"` as a string, a Person or Organization, or an array of them: their names joined with `, `.
    fn names(&self, v: &'v Value) -> Option<String> {
        let names: Vec<String> = match v {
            Value::Array(items) => items.iter().filter_map(|i| self.name(i)).collect(),
            v => self.name(v).into_iter().collect(),
        };
        let mut unique: Vec<String> = Vec::new();
        for n in names {
            if !unique.contains(&n) {
                unique.push(n);
            }
        }
        (!unique.is_empty()).then(|| unique.join(", "))
    }

    fn name(&self, v: &'v Value) -> Option<String> {
        let name = match v {
            Value::String(_) => string(v),
            v => string(self.deref(v)?.get("name")?),
        }?;
        (!is_url(&name)).then_some(name)
    }

    /// `"image"` as a URL, an ImageObject (`url`, `contentUrl`) or an array of either: the first.
    fn image(&self, v: &'v Value) -> Option<String> {
        match v {
            Value::String(_) => string(v),
            Value::Array(items) => items.iter().find_map(|i| self.image(i)),
            v => {
                let map = self.deref(v)?;
                map.get("url").or_else(|| map.get("contentUrl")).and_then(string)
            }
        }
    }
}

fn has_type(node: &Map<String, Value>, types: &[&str]) -> bool {
    // `"NewsArticle"`, `"schema:NewsArticle"` and `"http://schema.org/NewsArticle"` are the same type.
    let matches = |t: &str| {
        let local = t.rsplit(['/', ':', '#']).next().unwrap_or(t);
        types.iter().any(|want| want.eq_ignore_ascii_case(local.trim()))
    };
    match node.get("@type") {
        Some(Value::String(t)) => matches(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

/// A JSON string (or number, for `"name": 2024`-style values), entities decoded once and whitespace collapsed.
fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => dom::collapse(&decode_entities(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_string(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) => items.iter().find_map(string),
        v => string(v),
    }
}

/// Decodes HTML character references once: CMSes escape the text before serializing it to JSON, and some escape it
/// twice, so `&amp;amp;` becomes `&amp;` (what the author typed), not `&`. Unknown names are left as written.
fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest[1..]
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| Some((entity(&rest[1..=end])?, end + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.into()
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|&c| c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "middot" => '·',
        _ => return None,
    })
}

// ---- Microdata ----

fn microdata(doc: &Html) -> PageMeta {
    let mut meta = PageMeta::default();
    let found = |v: Option<String>| v.map(|v| (v, Origin::Microdata));
    for el in doc.select(&ITEMPROPS) {
        let Some(props) = el.value().attr("itemprop") else {
            continue;
        };
        for prop in props.split_whitespace() {
            match prop {
                "headline" if meta.title.is_none() => meta.title = found(item_value(el)),
                "datePublished" if meta.published.is_none() => meta.published = found(item_value(el)),
                "dateModified" if meta.modified.is_none() => meta.modified = found(item_value(el)),
                "author" if meta.author.is_none() => {
                    meta.author = found(author_value(el).filter(|a| !is_url(a)));
                }
                "image" if meta.image.is_none() && !in_publisher(el) => meta.image = found(image_value(el)),
                "description" if meta.description.is_none() => meta.description = item_value(el),
                _ => {}
            }
        }
    }
    meta
}

/// A property's value: `content` (on `<meta>` and anything else), `datetime` (on `<time>`), else the text.
fn item_value(el: ElementRef<'_>) -> Option<String> {
    dom::attr(el, "content")
        .or_else(|| dom::attr(el, "datetime"))
        .and_then(dom::collapse)
        .or_else(|| dom::text(el))
}

/// An author property is often a Person scope: its `name` property is the name, the rest is a profile.
fn author_value(el: ElementRef<'_>) -> Option<String> {
    if el.value().attr("itemscope").is_some() {
        static NAME: LazyLock<Selector> = LazyLock::new(|| dom::selector("[itemprop~=name]"));
        if let Some(name) = el.select(&NAME).find_map(item_value) {
            return Some(name);
        }
    }
    item_value(el)
}

fn image_value(el: ElementRef<'_>) -> Option<String> {
    if el.value().attr("itemscope").is_some() {
        static URL: LazyLock<Selector> = LazyLock::new(|| dom::selector("[itemprop~=url], [itemprop~=contentUrl]"));
        if let Some(url) = el.select(&URL).find_map(image_value) {
            return Some(url);
        }
    }
    ["content", "src", "href"]
        .into_iter()
        .find_map(|a| dom::attr(el, a))
        .map(str::to_owned)
}

/// A publisher's logo is marked `itemprop=image` too, but it is not the article's image.
fn in_publisher(el: ElementRef<'_>) -> bool {
    el.ancestors().filter_map(ElementRef::wrap).any(|a| {
        a.value()
            .attr("itemprop")
            .is_some_and(|p| p.split_whitespace().any(|t| t == "publisher" || t == "logo"))
    })
}

// ---- OpenGraph and other <meta> ----

/// Every `<meta>` with content, keyed by its lower-cased `property` or `name` (sites use either for `og:*`).
fn meta_tags(doc: &Html) -> Vec<(String, String)> {
    doc.select(&METAS)
        .filter_map(|m| {
            let key = dom::attr(m, "property").or_else(|| dom::attr(m, "name"))?;
            let content = dom::collapse(dom::attr(m, "content")?)?;
            Some((key.to_ascii_lowercase(), content))
        })
        .collect()
}

/// The first content among `keys`, trying the keys in order.
fn first<'m>(metas: &'m [(String, String)], keys: &[&str]) -> Option<&'m str> {
    keys.iter()
        .find_map(|k| metas.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()))
}

fn open_graph(metas: &[(String, String)]) -> PageMeta {
    let found = |keys: &[&str]| first(metas, keys).map(|v| (v.to_owned(), Origin::OpenGraph));
    let mut meta = PageMeta {
        title: found(&["og:title"]),
        published: found(&["article:published_time", "og:published_time"]),
        modified: found(&["article:modified_time", "og:updated_time"]),
        author: metas
            .iter()
            .filter(|(k, v)| k == "article:author" && !is_url(v))
            .map(|(_, v)| (v.clone(), Origin::OpenGraph))
            .next(),
        image: found(&["og:image", "og:image:url", "og:image:secure_url"]),
        description: first(metas, &["og:description"]).map(str::to_owned),
        site_name: first(metas, &["og:site_name"]).map(str::to_owned),
        section: first(metas, &["article:section"]).map(str::to_owned),
        ..PageMeta::default()
    };
    for (_, tag) in metas.iter().filter(|(k, _)| k == "article:tag") {
        for k in split_keywords(tag) {
            push_keyword(&mut meta.keywords, k);
        }
    }
    meta.tags_from = meta.has_tags().then_some(Origin::OpenGraph);
    meta
}

/// `<meta name>`s that CMSes and analytics tags use for the publication date, most specific first.
const DATE_NAMES: [&str; 14] = [
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publishtime",
    "publish_time",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dc.date",
    "dcterms.date",
    "date",
    "article.published",
    "og:release_date",
];

fn other_meta(doc: &Html, metas: &[(String, String)]) -> PageMeta {
    let found = |keys: &[&str]| first(metas, keys).map(|v| (v.to_owned(), Origin::Meta));
    let author = [
        "author",
        "byline",
        "dc.creator",
        "sailthru.author",
        "parsely-author",
        "twitter:creator",
    ]
    .iter()
    .find_map(|k| {
        metas
            .iter()
            .find(|(key, v)| key == k && !is_url(v) && !v.starts_with('@'))
    })
    .map(|(_, v)| (v.clone(), Origin::Meta));
    PageMeta {
        title: found(&["twitter:title", "dc.title", "title"]),
        published: found(&DATE_NAMES).or_else(|| time_element(doc).map(|t| (t, Origin::Meta))),
        modified: found(&["lastmod", "last-modified", "dc.date.modified", "dcterms.modified"]),
        author,
        image: found(&["twitter:image", "twitter:image:src", "thumbnail"]),
        description: first(metas, &["description", "twitter:description", "dc.description"]).map(str::to_owned),
        site_name: first(metas, &["application-name", "twitter:site"])
            .filter(|s| !s.starts_with('@'))
            .map(str::to_owned),
        ..PageMeta::default()
    }
}

/// The `datetime` of the `<time>` that most likely dates the article: one inside `<article>`/`<main>`, else the
/// first after the page's first `<h1>`, else the first at all; never one in comments, related lists or the footer.
fn time_element(doc: &Html) -> Option<String> {
    let mut after_h1 = None;
    let mut any = None;
    let mut seen_h1 = false;
    for el in doc.root_element().descendants().filter_map(ElementRef::wrap) {
        match el.value().name() {
            "h1" => seen_h1 = true,
            "time" => {
                let Some(dt) = dom::attr(el, "datetime") else { continue };
                if peripheral(el) {
                    continue;
                }
                let in_article = el
                    .ancestors()
                    .filter_map(ElementRef::wrap)
                    .any(|a| matches!(a.value().name(), "article" | "main"));
                if in_article || el.value().attr("pubdate").is_some() {
                    return dom::collapse(dt);
                }
                if seen_h1 && after_h1.is_none() {
                    after_h1 = dom::collapse(dt);
                }
                if any.is_none() {
                    any = dom::collapse(dt);
                }
            }
            _ => {}
        }
    }
    after_h1.or(any)
}

// ---- <link> ----

/// Only the `<link>` part of [`read`]: canonical, next and advertised feeds. What a listing page needs, without
/// reading its JSON-LD and `<meta>` on every run.
pub fn links_only(doc: &Html) -> PageMeta {
    let mut meta = PageMeta::default();
    links(doc, &mut meta);
    meta
}

fn links(doc: &Html, meta: &mut PageMeta) {
    let mut seen = HashSet::new();
    for link in doc.select(&LINKS) {
        let Some(href) = dom::attr(link, "href") else { continue };
        let rel = link.value().attr("rel").unwrap_or("").to_ascii_lowercase();
        let rels: Vec<&str> = rel.split_whitespace().collect();
        if rels.contains(&"canonical") && meta.canonical.is_none() {
            meta.canonical = Some(href.to_owned());
        }
        if rels.contains(&"next") && meta.next.is_none() {
            meta.next = Some(href.to_owned());
        }
        if rels.contains(&"alternate") {
            let kind = match link
                .value()
                .attr("type")
                .map(|t| t.trim().to_ascii_lowercase())
                .as_deref()
            {
                Some("application/rss+xml") => FeedKind::Rss,
                Some("application/atom+xml") => FeedKind::Atom,
                Some("application/feed+json" | "application/json") => FeedKind::Json,
                _ => continue,
            };
            if seen.insert(href.to_owned()) {
                meta.feeds.push(Advertised {
                    href: href.to_owned(),
                    kind,
                    title: dom::attr(link, "title").and_then(dom::collapse),
                });
            }
        }
    }
}

/// The `<title>` text, whitespace-collapsed; for [`super::auto::headline`].
pub(crate) fn document_title(doc: &Html) -> Option<String> {
    doc.select(&TITLE).find_map(dom::text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(head: &str, body: &str) -> PageMeta {
        let html = format!("<!doctype html><html><head>{head}</head><body>{body}</body></html>");
        read(&crate::html::parse_document(&html).html)
    }

    fn ld(json: &str) -> String {
        format!(r#"<script type="application/ld+json">{json}</script>"#)
    }

    fn val(f: &Option<Found>) -> Option<(&str, Origin)> {
        f.as_ref().map(|(v, o)| (v.as_str(), *o))
    }

    #[test]
    fn news_article_inside_graph_with_author_reference() {
        let json = r#"{"@context":"https://schema.org","@graph":[
            {"@type":"WebSite","@id":"https://ex.com/#site","name":"Example News"},
            {"@type":"WebPage","@id":"https://ex.com/a#page","name":"Page name"},
            {"@type":"NewsArticle","headline":"Rates rise  again","datePublished":"2015-12-16T10:23:00+08:00",
             "dateModified":"2015-12-16T11:00:00+08:00","author":{"@id":"https://ex.com/#/person/1"},
             "image":{"@type":"ImageObject","url":"https://ex.com/lead.jpg"},
             "keywords":"economy, rates,Economy","articleSection":["Business","Markets"],
             "description":"Rates &amp; more","publisher":{"@type":"Organization","name":"Example Media Group"}},
            {"@type":"Person","@id":"https://ex.com/#/person/1","name":"Zhang Wei"}
        ]}"#;
        let m = page(&ld(json), "");
        assert_eq!(val(&m.title), Some(("Rates rise again", Origin::JsonLd)));
        assert_eq!(val(&m.published), Some(("2015-12-16T10:23:00+08:00", Origin::JsonLd)));
        assert_eq!(val(&m.modified), Some(("2015-12-16T11:00:00+08:00", Origin::JsonLd)));
        assert_eq!(val(&m.author), Some(("Zhang Wei", Origin::JsonLd)));
        assert_eq!(val(&m.image), Some(("https://ex.com/lead.jpg", Origin::JsonLd)));
        assert_eq!(m.keywords, ["economy", "rates"]);
        assert_eq!(m.section.as_deref(), Some("Business"));
        let tags = ["Business", "economy", "rates"].map(String::from).to_vec();
        assert_eq!(m.tags(), Some((tags, Origin::JsonLd)), "the section first");
        assert_eq!(m.description.as_deref(), Some("Rates & more"));
        assert_eq!(m.site_name.as_deref(), Some("Example Media Group"));
    }

    #[test]
    fn array_author_type_array_and_top_level_array() {
        let json = r#"[{"@type":"BreadcrumbList","itemListElement":[]},
            {"@type":["ReportageNewsArticle","Article"],"name":"报道标题",
             "author":[{"@type":"Person","name":"李明"},{"@type":"Organization","name":"新华社"},"https://ex.com/u/1"],
             "image":["https://ex.com/1.jpg","https://ex.com/2.jpg"],"keywords":["乌镇","互联网"]}]"#;
        let m = page(&ld(json), "");
        assert_eq!(val(&m.title), Some(("报道标题", Origin::JsonLd)));
        assert_eq!(val(&m.author), Some(("李明, 新华社", Origin::JsonLd)));
        assert_eq!(val(&m.image), Some(("https://ex.com/1.jpg", Origin::JsonLd)));
        assert_eq!(m.keywords, ["乌镇", "互联网"]);
    }

    #[test]
    fn web_page_with_article_fields_and_prefixed_type() {
        let json = r#"{"@context":"http://schema.org","@type":"http://schema.org/WebPage",
            "headline":"Page headline","datePublished":"2019-09-07 08:05","author":"Staff Reporter"}"#;
        let m = page(&ld(json), "");
        assert_eq!(val(&m.title), Some(("Page headline", Origin::JsonLd)));
        assert_eq!(val(&m.published), Some(("2019-09-07 08:05", Origin::JsonLd)));
        assert_eq!(val(&m.author), Some(("Staff Reporter", Origin::JsonLd)));
    }

    #[test]
    fn web_page_without_article_fields_is_not_the_article() {
        let json = r#"{"@type":"WebPage","name":"Home | Example"}"#;
        let m = page(
            &format!(r#"{}<meta property="og:title" content="OG title">"#, ld(json)),
            "",
        );
        assert_eq!(val(&m.title), Some(("OG title", Origin::OpenGraph)));
    }

    #[test]
    fn main_entity_is_followed() {
        let json = r#"{"@type":"WebPage","mainEntity":{"@type":"BlogPosting","headline":"A post"}}"#;
        assert_eq!(val(&page(&ld(json), "").title), Some(("A post", Origin::JsonLd)));
    }

    #[test]
    fn double_encoded_entities_are_decoded_once() {
        let json =
            r#"{"@type":"Article","headline":"AT&amp;amp;T &#39;wins&#39; &#x4E2D;&quot;x&quot; &bogus; & more"}"#;
        let m = page(&ld(json), "");
        assert_eq!(
            val(&m.title),
            Some((r#"AT&amp;T 'wins' 中"x" &bogus; & more"#, Origin::JsonLd))
        );
    }

    #[test]
    fn broken_json_ld_is_repaired_lightly() {
        let json = "<!--\n{\"@type\":\"NewsArticle\",\"headline\":\"Line\nbreak\",\"keywords\":[\"a\",\"b\",],}\n-->";
        let m = page(&ld(json), "");
        assert_eq!(val(&m.title), Some(("Line break", Origin::JsonLd)));
        assert_eq!(m.keywords, ["a", "b"]);
        let cdata = "//<![CDATA[\n{\"@type\":\"Article\",\"headline\":\"In CDATA\"};\n//]]>";
        assert_eq!(val(&page(&ld(cdata), "").title), Some(("In CDATA", Origin::JsonLd)));
    }

    #[test]
    fn hopeless_json_ld_falls_back_to_open_graph() {
        let head = format!(
            r#"{}<meta property="og:title" content="From OG"><meta property="article:published_time" content="2015-12-16T10:23:00Z">"#,
            ld(r#"{"@type":"NewsArticle","headline":"Broken" "datePublished"}"#)
        );
        let m = page(&head, "");
        assert_eq!(val(&m.title), Some(("From OG", Origin::OpenGraph)));
        assert_eq!(val(&m.published), Some(("2015-12-16T10:23:00Z", Origin::OpenGraph)));
    }

    #[test]
    fn a_flood_of_keywords_is_cut_short() {
        let many: Vec<String> = (0..100_000).map(|n| format!("k{n}")).collect();
        let json = format!(
            r#"{{"@type":"NewsArticle","headline":"H","keywords":"{}"}}"#,
            many.join(",")
        );
        let m = page(&ld(&json), "");
        assert_eq!(m.keywords.len(), MAX_KEYWORDS);
        assert_eq!(m.keywords[0], "k0");
    }

    #[test]
    fn oversized_json_ld_is_skipped() {
        let padding = " ".repeat(MAX_JSON_LD_BYTES);
        let json = format!(r#"{{"@type":"Article","headline":"Huge"{padding}}}"#);
        assert_eq!(page(&ld(&json), "").title, None);
    }

    #[test]
    fn priority_is_json_ld_then_microdata_then_open_graph_then_meta() {
        let head = r#"<meta property="og:title" content="OG"><meta name="twitter:title" content="Twitter">
            <meta property="og:image" content="og.jpg"><meta name="author" content="Meta Author">
            <meta name="pubdate" content="2015-12-14">"#;
        let body = r#"<article itemscope itemtype="https://schema.org/NewsArticle"><h1 itemprop="headline">Micro</h1>
            <span itemprop="author" itemscope itemtype="https://schema.org/Person"><span itemprop="name">Micro Author</span></span>
            <time itemprop="datePublished" datetime="2015-12-15T08:00:00+08:00">Dec 15</time></article>"#;
        let m = page(head, body);
        assert_eq!(val(&m.title), Some(("Micro", Origin::Microdata)));
        assert_eq!(val(&m.author), Some(("Micro Author", Origin::Microdata)));
        assert_eq!(
            val(&m.published),
            Some(("2015-12-15T08:00:00+08:00", Origin::Microdata))
        );
        assert_eq!(val(&m.image), Some(("og.jpg", Origin::OpenGraph)));

        let with_ld = format!("{head}{}", ld(r#"{"@type":"Article","headline":"LD"}"#));
        let m = page(&with_ld, body);
        assert_eq!(val(&m.title), Some(("LD", Origin::JsonLd)));
        assert_eq!(val(&m.author), Some(("Micro Author", Origin::Microdata)));

        let m = page(head, "");
        assert_eq!(val(&m.title), Some(("OG", Origin::OpenGraph)));
        assert_eq!(val(&m.author), Some(("Meta Author", Origin::Meta)));
        assert_eq!(val(&m.published), Some(("2015-12-14", Origin::Meta)));
    }

    #[test]
    fn microdata_image_skips_the_publisher_logo() {
        let body = r#"<div itemprop="publisher" itemscope><img itemprop="image logo" src="logo.png"></div>
            <img itemprop="image" src="lead.jpg">"#;
        assert_eq!(val(&page("", body).image), Some(("lead.jpg", Origin::Microdata)));
    }

    #[test]
    fn open_graph_fields() {
        let head = r#"<meta property="og:title" content=" Title
            here "><meta property="og:image" content="https://ex.com/i.jpg">
            <meta property="og:description" content="Desc"><meta property="og:site_name" content="Example">
            <meta property="article:modified_time" content="2015-12-17">
            <meta property="article:author" content="https://facebook.com/someone">
            <meta property="article:tag" content="tech"><meta property="article:tag" content="AI, Tech">
            <meta property="article:section" content="World"><meta name="author" content="Jane Doe">"#;
        let m = page(head, "");
        assert_eq!(val(&m.title), Some(("Title here", Origin::OpenGraph)));
        assert_eq!(val(&m.image), Some(("https://ex.com/i.jpg", Origin::OpenGraph)));
        assert_eq!(val(&m.modified), Some(("2015-12-17", Origin::OpenGraph)));
        assert_eq!(
            val(&m.author),
            Some(("Jane Doe", Origin::Meta)),
            "a profile URL is no author"
        );
        assert_eq!(m.description.as_deref(), Some("Desc"));
        assert_eq!(m.site_name.as_deref(), Some("Example"));
        assert_eq!(m.keywords, ["tech", "AI"]);
        assert_eq!(m.section.as_deref(), Some("World"));
        assert_eq!(m.tags().map(|(_, from)| from), Some(Origin::OpenGraph));
    }

    #[test]
    fn open_graph_site_name_beats_the_json_ld_publisher() {
        let head = format!(
            r#"<meta property="og:site_name" content="新华网">{}"#,
            ld(r#"{"@type":"NewsArticle","headline":"x","publisher":{"name":"新华通讯社"}}"#)
        );
        assert_eq!(page(&head, "").site_name.as_deref(), Some("新华网"));
    }

    #[test]
    fn chinese_cms_meta_names() {
        let head = r#"<meta name="publishdate" content="2019-09-07 08:05:00"><meta name="byline" content="记者 王芳">
            <meta name="description" content="摘要">"#;
        let m = page(head, "");
        assert_eq!(val(&m.published), Some(("2019-09-07 08:05:00", Origin::Meta)));
        assert_eq!(val(&m.author), Some(("记者 王芳", Origin::Meta)));
        assert_eq!(m.description.as_deref(), Some("摘要"));
        let m = page(r#"<meta name="PubDate" content="2019-09-08">"#, "");
        assert_eq!(val(&m.published), Some(("2019-09-08", Origin::Meta)));
        let m = page(
            r#"<meta name="sailthru.date" content="2019-09-09"><meta name="dc.creator" content="A. Writer">"#,
            "",
        );
        assert_eq!(val(&m.published), Some(("2019-09-09", Origin::Meta)));
        assert_eq!(val(&m.author), Some(("A. Writer", Origin::Meta)));
    }

    #[test]
    fn time_element_in_the_article_beats_one_in_comments_and_the_header() {
        let body = r#"<header><time datetime="2020-01-01">today</time></header>
            <article><h1>Headline</h1><p>Text</p><time datetime="2015-12-16T10:23">Dec 16</time></article>
            <div class="comments"><time datetime="2015-12-20">later</time></div>"#;
        assert_eq!(val(&page("", body).published), Some(("2015-12-16T10:23", Origin::Meta)));
        let body = r#"<div class="comment-list"><time datetime="2015-12-20">c</time></div>
            <h1>Headline</h1><div class="meta"><time datetime="2015-12-16">d</time></div>"#;
        assert_eq!(val(&page("", body).published), Some(("2015-12-16", Origin::Meta)));
        let body = r#"<aside><time datetime="2015-12-20">x</time></aside><footer><time datetime="2015-12-21">y</time></footer>"#;
        assert_eq!(page("", body).published, None);
    }

    #[test]
    fn links_canonical_next_and_feeds() {
        let head = r#"<link rel="canonical" href=" https://ex.com/a.html "><link rel="next" href="a_2.html">
            <link rel="alternate" type="application/rss+xml" title="Example RSS" href="/rss.xml">
            <link rel="alternate" type="application/atom+xml" href="/atom.xml">
            <link rel="alternate" type="application/feed+json" href="/feed.json">
            <link rel="alternate" type="application/rss+xml" href="/rss.xml">
            <link rel="alternate" hreflang="en" href="/en/a.html"><link rel="stylesheet" href="s.css">"#;
        let m = page(head, "");
        assert_eq!(m.canonical.as_deref(), Some("https://ex.com/a.html"));
        assert_eq!(m.next.as_deref(), Some("a_2.html"));
        assert_eq!(
            m.feeds,
            [
                Advertised {
                    href: "/rss.xml".into(),
                    kind: FeedKind::Rss,
                    title: Some("Example RSS".into())
                },
                Advertised {
                    href: "/atom.xml".into(),
                    kind: FeedKind::Atom,
                    title: None
                },
                Advertised {
                    href: "/feed.json".into(),
                    kind: FeedKind::Json,
                    title: None
                },
            ]
        );
    }

    #[test]
    fn a_page_without_metadata_gives_nothing() {
        assert_eq!(page("<title>x</title>", "<p>text</p>"), PageMeta::default());
    }

    #[test]
    fn peripheral_names_are_whole_words_or_long_prefixes() {
        assert!(peripheral_name("comment-list"));
        assert!(peripheral_name("box relatedNews"));
        assert!(peripheral_name("hot"));
        assert!(!peripheral_name("photo"));
        assert!(!peripheral_name("inside article-info"));
    }
}
