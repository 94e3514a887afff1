//! An article's body without a selector: a readability-style score over the page's blocks.
//!
//! The method is Readability.js's, read off a tree that is never changed: paragraphs (and the runs of inline text
//! inside `<div>`s, which Readability would wrap in `<p>`s) score by length and commas, the score flows to their
//! parent, grandparent and three more ancestors, each ancestor starting from a bonus for its tag and its class/id
//! hints, and is scaled down by link density; the best candidate climbs while its ancestors score as well, and
//! siblings that score close to it join it. What Readability would delete is collected instead: hidden and
//! unlikely elements, the byline, the heading that repeats the title, forms, share bars, related lists, editor lines
//! and blocks that fail its conditional clean become [`Body::noise`], cut when the body is serialized. When the
//! first attempt yields little text, the pass runs again with fewer heuristics, as Readability does.
//!
//! Input is a page parsed within the bounds of [`crate::html`]; every walk uses explicit stacks or flat arrays in
//! document order, never recursion, and costs time linear in the page (times the bounded depth at worst). Nothing
//! here fetches, sanitizes or resolves URLs.

use std::collections::HashSet;

use ego_tree::{NodeId, NodeRef};
use scraper::{ElementRef, Html, Node, Selector};

/// The detected body of an article page.
#[derive(Debug, Clone)]
pub struct Body<'a> {
    /// The element whose inner HTML is the body.
    pub root: ElementRef<'a>,
    /// Elements inside `root` to leave out (share bars, related lists, ads, editor lines, pagers), each with its
    /// subtree.
    pub noise: HashSet<NodeId>,
    /// A CSS selector that matches `root` first on this page, when a stable one exists (an id, or classes that are
    /// unique on the page).
    pub selector: Option<String>,
    /// The lead image (an `<img>` element) when it sits outside `root` (inside, it is already in the body).
    pub image: Option<ElementRef<'a>>,
    /// The lead image's caption text.
    pub caption: Option<String>,
}

/// Finds the main text of an article page; `None` when nothing on the page reads like an article.
pub fn find(doc: &Html) -> Option<Body<'_>> {
    let page = Page::new(doc);
    let body_el = page.find_tag("body")?;
    let title = page_title(doc);
    let mut best: Option<Attempt> = None;
    // Readability's retry: when an attempt yields less than this much text, drop one heuristic and try again;
    // when all have been dropped, keep the attempt with the most text.
    for flags in [Flags::ALL, Flags::NO_UNLIKELY, Flags::NO_WEIGHTS, Flags::NONE] {
        let Some(attempt) = page.attempt(body_el, flags, title.as_deref()) else {
            continue;
        };
        if attempt.text_len >= CHAR_THRESHOLD {
            best = Some(attempt);
            break;
        }
        if best.as_ref().is_none_or(|b| attempt.text_len > b.text_len) {
            best = Some(attempt);
        }
    }
    let best = best?;
    // A page of links (a home page, a section index) has candidates too; what is mostly links, or a line, is not an
    // article.
    if best.text_len < MIN_TEXT || best.link_len > best.text_len as f64 * MAX_LINK_DENSITY {
        return None;
    }
    let root = ElementRef::wrap(page.nodes[best.root])?;
    let noise = best.noise.iter().map(|&i| page.nodes[i].id()).collect();
    let (image, caption) = match page.has_image(best.root, &best.noise) {
        true => (None, None),
        false => page.lead_image_before(best.root),
    };
    Some(Body {
        root,
        noise,
        selector: stable_selector(doc, root),
        image,
        caption,
    })
}

/// Readability's `charThreshold`: an attempt with less text than this is retried with fewer heuristics.
const CHAR_THRESHOLD: usize = 500;
/// Less text than this is no article (a caption, a cookie notice).
const MIN_TEXT: usize = 50;
/// A "body" whose text is more than half link text is a list of links.
const MAX_LINK_DENSITY: f64 = 0.5;

/// Which of Readability's heuristics an attempt uses.
#[derive(Debug, Clone, Copy)]
struct Flags {
    strip_unlikely: bool,
    weight_classes: bool,
    clean_conditionally: bool,
}

impl Flags {
    const ALL: Flags = Flags {
        strip_unlikely: true,
        weight_classes: true,
        clean_conditionally: true,
    };
    const NO_UNLIKELY: Flags = Flags {
        strip_unlikely: false,
        ..Flags::ALL
    };
    const NO_WEIGHTS: Flags = Flags {
        weight_classes: false,
        ..Flags::NO_UNLIKELY
    };
    const NONE: Flags = Flags {
        clean_conditionally: false,
        ..Flags::NO_WEIGHTS
    };
}

/// Class/id fragments that make an element more likely to hold the article (Readability's list, then Chinese CMS
/// names: TRS and Hanweb templates wrap the text in `.TRS_Editor` and `.Custom_UnionStyle`).
const POSITIVE: &[&str] = &[
    "article",
    "body",
    "content",
    "entry",
    "hentry",
    "h-entry",
    "main",
    "page",
    "pagination",
    "post",
    "text",
    "blog",
    "story",
    "正文",
    "trs_editor",
    "custom_unionstyle",
    "detail",
];
/// Class/id fragments of everything around an article.
const NEGATIVE: &[&str] = &[
    "-ad-",
    "hidden",
    "banner",
    "combx",
    "comment",
    "com-",
    "contact",
    "footer",
    "gdpr",
    "masthead",
    "media",
    "meta",
    "outbrain",
    "promo",
    "related",
    "scroll",
    "share",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "sponsor",
    "shopping",
    "tags",
    "widget",
    "social",
    "recommend",
    "copyright",
    "热点",
    "排行",
    "相关",
    "推荐",
    "评论",
    "分享",
    "版权",
];
/// Whole class/id words that are negative but too short to match as fragments ("ad" is in "header", "nav" in
/// "canvas").
const NEGATIVE_WORDS: &[&str] = &["hid", "ad", "ads", "advert", "nav", "navbar", "hot", "rank", "ranking"];
/// Class/id fragments of blocks that are dropped before scoring unless they also look like content.
const UNLIKELY: &[&str] = &[
    "-ad-",
    "ai2html",
    "banner",
    "breadcrumbs",
    "combx",
    "comment",
    "community",
    "cover-wrap",
    "disqus",
    "extra",
    "footer",
    "gdpr",
    "header",
    "legends",
    "menu",
    "related",
    "remark",
    "replies",
    "rss",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "social",
    "sponsor",
    "supplemental",
    "ad-break",
    "agegate",
    "pagination",
    "pager",
    "popup",
    "yom-remote",
    "recommend",
    "热点",
    "排行",
    "相关",
    "推荐",
    "评论",
];
/// What saves an unlikely-looking block.
const MAYBE: &[&str] = &[
    "and",
    "article",
    "body",
    "column",
    "content",
    "main",
    "mathjax",
    "shadow",
    "正文",
    "trs_editor",
];
/// ARIA roles of page furniture.
const UNLIKELY_ROLES: &[&str] = &[
    "menu",
    "menubar",
    "complementary",
    "navigation",
    "alert",
    "alertdialog",
    "dialog",
];
/// Elements whose text Readability scores as paragraphs.
const SCORED: &[&str] = &["section", "h2", "h3", "h4", "h5", "h6", "p", "td", "pre"];
/// Elements that stop a `<div>` from being read as one paragraph.
const BLOCKS: &[&str] = &["blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul"];
/// Inline elements: runs of these and of text inside a `<div>` are scored as paragraphs.
const PHRASING: &[&str] = &[
    "abbr", "audio", "b", "bdo", "br", "button", "cite", "code", "data", "datalist", "dfn", "em", "embed", "i", "img",
    "input", "kbd", "label", "mark", "math", "meter", "noscript", "object", "output", "progress", "q", "ruby", "samp",
    "script", "select", "small", "span", "strong", "sub", "sup", "textarea", "time", "var", "wbr", "font", "u", "s",
    "a", "del", "ins",
];
/// Never text: their content is code or markup.
const INVISIBLE: &[&str] = &["script", "style", "noscript", "template", "head"];
/// Always cut from a body, as Readability's `prepArticle` does (embeds and iframes unless they are video).
const ALWAYS_NOISE: &[&str] = &[
    "footer", "link", "aside", "input", "textarea", "select", "button", "nav", "object", "embed", "iframe",
];
/// Hosts of embedded video worth keeping.
const VIDEO: &[&str] = &[
    "youtube.com",
    "youtube-nocookie.com",
    "player.vimeo.com",
    "dailymotion.com",
    "v.qq.com",
    "archive.org",
    "upload.wikimedia.org",
    "player.twitch.tv",
    "player.bilibili.com",
];
/// Lines naming the editor, which close Chinese and some English news texts.
const EDITOR_LINES: &[&str] = &[
    "责任编辑",
    "责编",
    "编辑：",
    "编辑:",
    "(editor:",
    "（editor:",
    "(editor：",
    "editor:",
];
/// Pager words in Chinese.
const PAGER_WORDS: &[&str] = &["下一页", "上一页", "下一篇", "上一篇"];
/// Characters that separate clauses: commas count as a sign of prose.
fn is_comma(c: char) -> bool {
    matches!(
        c,
        ',' | '，' | '、' | '。' | '\u{060C}' | '\u{FE50}' | '\u{FE10}' | '\u{FE11}' | '\u{2E41}'
    )
}

/// Text statistics of a subtree.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    /// Characters, with each run of whitespace counted as one.
    text: usize,
    /// Characters inside links (in-page `#` links count 0.3 each, as in Readability).
    link: f64,
    commas: usize,
    p: usize,
    img: usize,
    li: usize,
    input: usize,
    embed: usize,
    video: bool,
    heading: usize,
    list: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.text += o.text;
        self.link += o.link;
        self.commas += o.commas;
        self.p += o.p;
        self.img += o.img;
        self.li += o.li;
        self.input += o.input;
        self.embed += o.embed;
        self.video |= o.video;
        self.heading += o.heading;
        self.list += o.list;
    }

    fn link_density(&self) -> f64 {
        if self.text == 0 {
            0.0
        } else {
            self.link / self.text as f64
        }
    }
}

/// The page flattened into document order: a node's subtree is the index range `i..end[i]`.
struct Page<'a> {
    nodes: Vec<NodeRef<'a, Node>>,
    parent: Vec<usize>,
    end: Vec<usize>,
    /// Lower-cased `class id` of each element (empty for other nodes).
    hints: Vec<String>,
    /// Element name, empty for other nodes.
    tag: Vec<&'a str>,
    /// Each node's own contribution to [`Stats`] (text length and commas of a text node, counts of an element).
    own: Vec<Stats>,
}

/// One pass of the scorer with one set of [`Flags`].
struct Attempt {
    root: usize,
    noise: HashSet<usize>,
    text_len: usize,
    link_len: f64,
}

impl<'a> Page<'a> {
    fn new(doc: &'a Html) -> Self {
        let mut nodes = Vec::new();
        let mut parent = Vec::new();
        let mut stack = vec![(doc.tree.root(), usize::MAX)];
        while let Some((node, up)) = stack.pop() {
            let i = nodes.len();
            nodes.push(node);
            parent.push(up);
            stack.extend(node.children().rev().map(|c| (c, i)));
        }
        let n = nodes.len();
        let mut size = vec![1usize; n];
        for i in (1..n).rev() {
            size[parent[i]] += size[i];
        }
        let end = (0..n).map(|i| i + size[i]).collect();
        let mut hints = Vec::with_capacity(n);
        let mut tag = Vec::with_capacity(n);
        let mut own = Vec::with_capacity(n);
        // Whitespace runs are counted across text nodes, as in the page's concatenated text: the newline and indent
        // before a `<p>` and those after it are one run, not two.
        let mut space = true;
        for node in &nodes {
            match node.value() {
                Node::Element(el) => {
                    let name = el.name();
                    tag.push(name);
                    let mut h = el.attr("class").unwrap_or("").to_lowercase();
                    h.push(' ');
                    h.push_str(&el.attr("id").unwrap_or("").to_lowercase());
                    hints.push(h);
                    let mut s = Stats::default();
                    match name {
                        "p" => s.p = 1,
                        "img" => s.img = 1,
                        "li" => s.li = 1,
                        "input" => s.input = 1,
                        "object" | "embed" | "iframe" => {
                            let video = el.attrs().any(|(_, v)| VIDEO.iter().any(|h| v.contains(h)));
                            if video {
                                s.video = true;
                            } else {
                                s.embed = 1;
                            }
                        }
                        _ => {}
                    }
                    own.push(s);
                }
                Node::Text(t) => {
                    tag.push("");
                    hints.push(String::new());
                    own.push(Stats {
                        text: collapsed_len(t, &mut space),
                        commas: t.chars().filter(|&c| is_comma(c)).count(),
                        ..Stats::default()
                    });
                }
                _ => {
                    tag.push("");
                    hints.push(String::new());
                    own.push(Stats::default());
                }
            }
        }
        Page {
            nodes,
            parent,
            end,
            hints,
            tag,
            own,
        }
    }

    fn find_tag(&self, name: &str) -> Option<usize> {
        self.tag.iter().position(|&t| t == name)
    }

    fn is_element(&self, i: usize) -> bool {
        !self.tag[i].is_empty()
    }

    fn el(&self, i: usize) -> Option<&'a scraper::node::Element> {
        self.nodes[i].value().as_element()
    }

    fn attr(&self, i: usize, name: &str) -> Option<&'a str> {
        self.el(i).and_then(|e| e.attr(name))
    }

    /// The direct children of `i` (indices), in order.
    fn children(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.end[i];
        let mut next = i + 1;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let c = next;
            next = self.end[c];
            Some(c)
        })
    }

    /// Readability's class weight: ±25 for the class, ±25 for the id.
    fn class_weight(&self, i: usize) -> i32 {
        let Some(el) = self.el(i) else { return 0 };
        let mut w = 0;
        for value in [el.attr("class"), el.attr("id")].into_iter().flatten() {
            let v = value.to_lowercase();
            if v.is_empty() {
                continue;
            }
            if is_negative(&v) {
                w -= 25;
            }
            if POSITIVE.iter().any(|p| v.contains(p)) {
                w += 25;
            }
        }
        w
    }

    fn is_hidden(&self, i: usize) -> bool {
        let Some(el) = self.el(i) else { return false };
        if el.attr("hidden").is_some() {
            return true;
        }
        if el.attr("aria-hidden") == Some("true") && !self.hints[i].contains("fallback-image") {
            return true;
        }
        el.attr("style").is_some_and(|s| {
            let s: String = s
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_lowercase();
            s.contains("display:none") || s.contains("visibility:hidden")
        })
    }

    fn has_ancestor(&self, i: usize, names: &[&str], depth: usize) -> bool {
        let mut up = self.parent[i];
        for _ in 0..depth {
            if up == usize::MAX {
                return false;
            }
            if names.contains(&self.tag[up]) {
                return true;
            }
            up = self.parent[up];
        }
        false
    }

    /// The elements Readability removes while it walks the page, marked with their subtrees.
    fn skipped(&self, body: usize, flags: Flags, title: Option<&str>) -> Vec<bool> {
        let n = self.nodes.len();
        let mut skip = vec![false; n];
        let mut byline_seen = false;
        let mut title_seen = false;
        let mut i = body + 1;
        while i < self.end[body] {
            let tag = self.tag[i];
            if tag.is_empty() {
                i += 1;
                continue;
            }
            let hints = &self.hints[i];
            let remove = INVISIBLE.contains(&tag)
                || self.is_hidden(i)
                || (!byline_seen && self.is_byline(i) && {
                    byline_seen = true;
                    true
                })
                || (!title_seen
                    && matches!(tag, "h1" | "h2")
                    && title.is_some_and(|t| self.text_of(i).is_some_and(|h| similarity(t, &h) > 0.75))
                    && {
                        title_seen = true;
                        true
                    })
                || (flags.strip_unlikely
                    && tag != "a"
                    && (tag == "nav"
                        || self.attr(i, "role").is_some_and(|r| UNLIKELY_ROLES.contains(&r))
                        || (UNLIKELY.iter().any(|u| hints.contains(u))
                            && !MAYBE.iter().any(|m| hints.contains(m))
                            && !self.has_ancestor(i, &["table", "code"], 3))));
            if remove {
                for s in &mut skip[i..self.end[i]] {
                    *s = true;
                }
                i = self.end[i];
            } else {
                i += 1;
            }
        }
        skip
    }

    fn is_byline(&self, i: usize) -> bool {
        let rel_author = self.attr(i, "rel") == Some("author");
        let itemprop = self.attr(i, "itemprop").is_some_and(|p| p.contains("author"));
        let hinted = ["byline", "author", "dateline", "writtenby", "p-author"]
            .iter()
            .any(|h| self.hints[i].contains(h));
        (rel_author || itemprop || hinted) && self.text_of(i).is_some_and(|t| t.chars().count() < 100)
    }

    /// Visible text of node `i`, whitespace-collapsed.
    fn text_of(&self, i: usize) -> Option<String> {
        ElementRef::wrap(self.nodes[i]).and_then(crate::extract::dom::text)
    }

    /// Stats of every node with the `skip`ped subtrees left out, summed bottom-up.
    fn stats(&self, skip: &[bool]) -> Vec<Stats> {
        let mut stats = self.own.clone();
        for i in (1..self.nodes.len()).rev() {
            if skip[i] {
                continue;
            }
            let mut s = stats[i];
            self.finish(i, &mut s);
            stats[i] = s;
            stats[self.parent[i]].add(&s);
        }
        stats
    }

    /// Fixes the stats of node `i` once its children are summed: links, headings and lists measure their text.
    fn finish(&self, i: usize, s: &mut Stats) {
        match self.tag[i] {
            "a" => {
                let internal = self.attr(i, "href").is_some_and(|h| h.trim_start().starts_with('#'));
                s.link = s.text as f64 * if internal { 0.3 } else { 1.0 };
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => s.heading = s.text,
            "ul" | "ol" => s.list = s.text,
            _ => {}
        }
    }

    fn attempt(&self, body: usize, flags: Flags, title: Option<&str>) -> Option<Attempt> {
        let skip = self.skipped(body, flags, title);
        let stats = self.stats(&skip);
        let mut score: Vec<Option<f64>> = vec![None; self.nodes.len()];
        let mut candidates = Vec::new();

        // Paragraphs: scored elements, and runs of inline content inside divs.
        let mut units: Vec<(usize, usize, usize)> = Vec::new(); // (scoring parent, text, commas)
        let mut i = body + 1;
        while i < self.end[body] {
            if skip[i] {
                i = self.end[i];
                continue;
            }
            let tag = self.tag[i];
            if SCORED.contains(&tag) {
                let mut up = self.parent[i];
                if tag == "p" && self.tag[up] == "div" && self.single_p(up, &skip) && stats[up].link_density() < 0.25 {
                    up = self.parent[up];
                }
                units.push((up, stats[i].text, stats[i].commas));
            } else if tag == "div" {
                self.runs(i, &skip, &stats, &mut units);
            }
            i += 1;
        }
        for (up, text, commas) in units {
            if text < 25 {
                continue;
            }
            let content = 2.0 + commas as f64 + (text / 100).min(3) as f64;
            let mut a = up;
            for level in 0..5 {
                if a == usize::MAX
                    || !self.is_element(a)
                    || self.parent[a] == usize::MAX
                    || !self.is_element(self.parent[a])
                {
                    break;
                }
                let s = score[a].get_or_insert_with(|| {
                    candidates.push(a);
                    self.initial_score(a, flags)
                });
                let divider = match level {
                    0 => 1.0,
                    1 => 2.0,
                    _ => level as f64 * 3.0,
                };
                *s += content / divider;
                a = self.parent[a];
            }
        }
        if candidates.is_empty() {
            return None;
        }
        for &c in &candidates {
            if let Some(s) = score[c].as_mut() {
                *s *= 1.0 - stats[c].link_density();
            }
        }
        let mut top: Vec<usize> = candidates.clone();
        top.sort_by(|&a, &b| score[b].unwrap_or(0.0).total_cmp(&score[a].unwrap_or(0.0)));
        top.truncate(5);
        let mut best = top[0];
        let root = if best == body {
            body
        } else {
            let best_score = score[best].unwrap_or(0.0);
            // Several near-best candidates under one ancestor: the article is that ancestor.
            let alternatives: Vec<Vec<usize>> = top[1..]
                .iter()
                .filter(|&&c| best_score > 0.0 && score[c].unwrap_or(0.0) / best_score >= 0.75)
                .map(|&c| self.ancestors(c))
                .collect();
            if alternatives.len() >= 3 {
                let mut up = self.parent[best];
                while up != usize::MAX && up != body && self.is_element(up) {
                    let lists = alternatives.iter().filter(|a| a.contains(&up)).count();
                    if lists >= 3 {
                        best = up;
                        break;
                    }
                    up = self.parent[up];
                }
            }
            if score[best].is_none() {
                score[best] = Some(self.initial_score(best, flags));
            }
            // Climb while the parents score about as well: more of the article is likely there.
            let mut last = score[best].unwrap_or(0.0);
            let threshold = last / 3.0;
            let mut up = self.parent[best];
            while up != usize::MAX && up != body && self.is_element(up) {
                let Some(s) = score[up] else {
                    up = self.parent[up];
                    continue;
                };
                if s < threshold {
                    break;
                }
                if s > last {
                    best = up;
                    break;
                }
                last = s;
                up = self.parent[up];
            }
            // An only child stands for its parent.
            let mut up = self.parent[best];
            while up != usize::MAX && up != body && self.is_element(up) && self.element_children(up, &skip).count() == 1
            {
                best = up;
                up = self.parent[up];
            }
            if score[best].is_none() {
                score[best] = Some(self.initial_score(best, flags));
            }
            best
        };

        // Siblings that score well, or read like paragraphs, join the top candidate.
        let mut noise: HashSet<usize> = HashSet::new();
        let root = if root == body {
            root
        } else {
            let top_score = score[root].unwrap_or(0.0);
            let threshold = (top_score * 0.2).max(10.0);
            let parent = self.parent[root];
            let class = self.attr(root, "class").unwrap_or("");
            let mut joined = Vec::new();
            for s in self.children(parent) {
                if skip[s] || !self.is_element(s) {
                    continue;
                }
                let join = s == root || {
                    let bonus = if !class.is_empty() && self.attr(s, "class") == Some(class) {
                        top_score * 0.2
                    } else {
                        0.0
                    };
                    if score[s].is_some_and(|sc| sc + bonus >= threshold) {
                        true
                    } else if self.tag[s] == "p" {
                        let len = stats[s].text;
                        let ld = stats[s].link_density();
                        (len > 80 && ld < 0.25)
                            || (len < 80
                                && len > 0
                                && ld == 0.0
                                && self.text_of(s).is_some_and(|t| t.ends_with('.') || t.contains(". ")))
                    } else {
                        false
                    }
                };
                if join {
                    joined.push(s);
                }
            }
            if joined.len() > 1 && parent != usize::MAX && self.is_element(parent) {
                let keep: HashSet<usize> = joined.into_iter().collect();
                for c in self.children(parent) {
                    if !keep.contains(&c) {
                        noise.insert(c);
                    }
                }
                parent
            } else {
                root
            }
        };

        let (text_len, link_len) = self.clean(root, &skip, flags, &mut noise);
        Some(Attempt {
            root,
            noise,
            text_len,
            link_len,
        })
    }

    /// Readability's `prepArticle` as noise: marks inside `root` what it would delete, and returns the text and
    /// link length of what is left.
    fn clean(&self, root: usize, skip: &[bool], flags: Flags, noise: &mut HashSet<usize>) -> (usize, f64) {
        let end = self.end[root];
        // Data tables are kept whatever their link density.
        let mut data_table = vec![false; end - root];
        for i in root..end {
            if self.tag[i] == "table" && self.is_data_table(i) {
                for d in &mut data_table[i - root..self.end[i] - root] {
                    *d = true;
                }
            }
        }
        // Top-level blocks of the body: share bars are looked for inside them, not as them.
        let tops: HashSet<usize> = self.children(root).collect();
        let mut stats: Vec<Stats> = self.own[root..end].to_vec();
        let mut cut = vec![false; end - root];
        for i in (root + 1..end).rev() {
            let k = i - root;
            if skip[i] || noise.contains(&i) {
                cut[k] = true;
                continue;
            }
            let tag = self.tag[i];
            if !tag.is_empty() {
                let mut s = stats[k];
                self.finish(i, &mut s);
                stats[k] = s;
                if self.is_noise(i, &s, flags, &tops, data_table[k]) {
                    cut[k] = true;
                    continue;
                }
            }
            let s = stats[k];
            stats[self.parent[i] - root].add(&s);
        }
        // Only the topmost cut nodes need naming.
        for i in root + 1..end {
            let k = i - root;
            if cut[k] && !cut[self.parent[i] - root] {
                noise.insert(i);
            }
        }
        noise.retain(|&i| i > root && i < end && !cut[self.parent[i] - root]);
        (stats[0].text, stats[0].link)
    }

    /// Whether element `i` (its stats summed without what was already cut) is noise.
    fn is_noise(&self, i: usize, s: &Stats, flags: Flags, tops: &HashSet<usize>, in_data_table: bool) -> bool {
        let tag = self.tag[i];
        if ALWAYS_NOISE.contains(&tag) && !(matches!(tag, "object" | "embed" | "iframe") && s.video) {
            return true;
        }
        let hints = &self.hints[i];
        if !tops.contains(&i) && s.text < 500 && words(hints).any(|w| w == "share" || w == "sharedaddy") {
            return true;
        }
        let weight = if flags.weight_classes { self.class_weight(i) } else { 0 };
        if matches!(tag, "h1" | "h2") && weight < 0 {
            return true;
        }
        if s.text < 200 && self.is_editor_or_pager(i, s) {
            return true;
        }
        if !flags.clean_conditionally || !matches!(tag, "form" | "fieldset" | "table" | "ul" | "div") {
            return false;
        }
        if in_data_table || self.has_ancestor(i, &["code"], 3) {
            return false;
        }
        if weight < 0 {
            return true;
        }
        if s.commas >= 10 {
            return false;
        }
        if s.video {
            return false;
        }
        let is_list = matches!(tag, "ul" | "ol") || (s.text > 0 && s.list as f64 / s.text as f64 > 0.9);
        if s.text < 30
            && self.text_of(i).is_some_and(|t| {
                let t = t.to_lowercase();
                let t = t.trim_end_matches(['…', '.']).trim();
                [
                    "ad",
                    "advertising",
                    "advertisement",
                    "广告",
                    "loading",
                    "正在加载",
                    "加载中",
                ]
                .contains(&t)
            })
        {
            return true;
        }
        let p = s.p as f64;
        let img = s.img as f64;
        let li = s.li as f64 - 100.0;
        let heading_density = if s.text == 0 {
            0.0
        } else {
            s.heading as f64 / s.text as f64
        };
        let ld = s.link_density();
        let figure = self.has_ancestor(i, &["figure"], 3);
        let remove = (!figure && img > 1.0 && p / img < 0.5)
            || (!is_list && li > p)
            || (s.input as f64 > (p / 3.0).floor())
            || (!is_list && !figure && heading_density < 0.9 && s.text < 25 && (img == 0.0 || img > 2.0) && ld > 0.0)
            || (!is_list && weight < 25 && ld > 0.2)
            || (weight >= 25 && ld > 0.5)
            || ((s.embed == 1 && s.text < 75) || s.embed > 1);
        if is_list && remove {
            // A simple list of images stays.
            let li_real = s.li;
            let simple = self
                .children(i)
                .filter(|&c| self.is_element(c))
                .all(|c| self.children(c).filter(|&g| self.is_element(g)).count() <= 1);
            if simple && s.img == li_real {
                return false;
            }
        }
        remove
    }

    /// Editor lines (`责任编辑：王伟`, `(Editor: Li Tao)`) and Chinese pagers.
    fn is_editor_or_pager(&self, i: usize, s: &Stats) -> bool {
        if !matches!(self.tag[i], "p" | "div" | "span" | "section" | "em" | "font" | "strong") {
            return false;
        }
        let Some(text) = self.text_of(i) else { return false };
        let lower = text.to_lowercase();
        let editor = s.text < 60 && {
            let t = lower.trim_start_matches(['[', '【', '（', '(', ' ']);
            EDITOR_LINES.iter().any(|e| {
                let e = e.trim_start_matches(['(', '（']);
                t.starts_with(e)
            })
        };
        editor || (PAGER_WORDS.iter().any(|w| text.contains(w)) && s.link_density() > 0.3)
    }

    fn is_data_table(&self, i: usize) -> bool {
        if self.attr(i, "role") == Some("presentation") || self.attr(i, "datatable") == Some("0") {
            return false;
        }
        if self.attr(i, "summary").is_some() {
            return true;
        }
        let mut rows = 0;
        let mut cols = 0;
        let mut cells = 0;
        for d in i + 1..self.end[i] {
            match self.tag[d] {
                "caption" | "thead" | "tfoot" | "th" => return true,
                "table" => return false,
                "tr" => {
                    rows += 1;
                    cols = cols.max(cells);
                    cells = 0;
                }
                "td" => cells += 1,
                _ => {}
            }
        }
        cols = cols.max(cells);
        rows >= 10 || cols > 4 || rows * cols > 10
    }

    /// Whether `div` holds exactly one element, a `<p>`, and no text of its own.
    fn single_p(&self, div: usize, skip: &[bool]) -> bool {
        let mut elements = 0;
        for c in self.children(div) {
            if skip[c] {
                continue;
            }
            match self.nodes[c].value() {
                Node::Element(_) => {
                    elements += 1;
                    if self.tag[c] != "p" {
                        return false;
                    }
                }
                Node::Text(t) if !t.trim().is_empty() => return false,
                _ => {}
            }
        }
        elements == 1
    }

    fn element_children<'s>(&'s self, i: usize, skip: &'s [bool]) -> impl Iterator<Item = usize> + 's {
        self.children(i).filter(move |&c| !skip[c] && self.is_element(c))
    }

    /// The runs of inline content directly inside a div, each a paragraph for scoring. A div that is nothing but
    /// one run becomes that paragraph (its score goes to the div's parent when few of its words are links).
    fn runs(&self, div: usize, skip: &[bool], stats: &[Stats], units: &mut Vec<(usize, usize, usize)>) {
        let mut found: Vec<(usize, usize)> = Vec::new();
        let mut run: Option<(usize, usize)> = None;
        let mut blocks = false;
        for c in self.children(div) {
            if skip[c] {
                continue;
            }
            if self.is_phrasing(c) {
                let s = stats[c];
                match run.as_mut() {
                    Some(r) => {
                        r.0 += s.text;
                        r.1 += s.commas;
                    }
                    None if s.text > 0 && !self.is_whitespace(c) => run = Some((s.text, s.commas)),
                    None => {}
                }
            } else {
                blocks = true;
                if let Some(r) = run.take() {
                    found.push(r);
                }
            }
        }
        if let Some(r) = run {
            found.push(r);
        }
        let whole = !blocks && found.len() == 1 && stats[div].link_density() < 0.25;
        let up = if whole { self.parent[div] } else { div };
        units.extend(found.into_iter().map(|(text, commas)| (up, text, commas)));
    }

    fn is_whitespace(&self, i: usize) -> bool {
        match self.nodes[i].value() {
            Node::Text(t) => t.trim().is_empty(),
            _ => self.tag[i] == "br",
        }
    }

    fn is_phrasing(&self, i: usize) -> bool {
        match self.nodes[i].value() {
            Node::Text(_) => true,
            Node::Element(_) => {
                let tag = self.tag[i];
                if matches!(tag, "a" | "del" | "ins") {
                    !(i + 1..self.end[i]).any(|d| BLOCKS.contains(&self.tag[d]) && self.tag[d] != "img")
                } else {
                    PHRASING.contains(&tag)
                }
            }
            _ => true,
        }
    }

    fn initial_score(&self, i: usize, flags: Flags) -> f64 {
        let base = match self.tag[i] {
            "div" => 5.0,
            "pre" | "td" | "blockquote" => 3.0,
            "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
            _ => 0.0,
        };
        base + if flags.weight_classes {
            self.class_weight(i) as f64
        } else {
            0.0
        }
    }

    fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut up = self.parent[i];
        while up != usize::MAX {
            out.push(up);
            up = self.parent[up];
        }
        out
    }

    fn has_image(&self, root: usize, noise: &HashSet<usize>) -> bool {
        let mut i = root + 1;
        while i < self.end[root] {
            if noise.contains(&i) {
                i = self.end[i];
                continue;
            }
            if self.tag[i] == "img" {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The picture that leads an article from just above its text: the nearest element before the body (or before
    /// its parent) that is an image, or a figure or small block holding one, with its caption.
    fn lead_image_before(&self, root: usize) -> (Option<ElementRef<'a>>, Option<String>) {
        let mut at = root;
        for _ in 0..2 {
            let up = self.parent[at];
            if up == usize::MAX || !self.is_element(up) {
                break;
            }
            let before: Vec<usize> = self
                .children(up)
                .take_while(|&c| c != at)
                .filter(|&c| self.is_element(c))
                .collect();
            for &b in before.iter().rev().take(2) {
                let img = if self.tag[b] == "img" {
                    Some(b)
                } else if self.own_text_small(b) {
                    (b + 1..self.end[b]).find(|&d| self.tag[d] == "img")
                } else {
                    None
                };
                if let Some(img) = img {
                    let caption = (b..self.end[b])
                        .find(|&d| {
                            self.tag[d] == "figcaption" || (self.is_element(d) && self.hints[d].contains("caption"))
                        })
                        .and_then(|d| self.text_of(d));
                    return (ElementRef::wrap(self.nodes[img]), caption);
                }
            }
            at = up;
        }
        (None, None)
    }

    fn own_text_small(&self, i: usize) -> bool {
        let text: usize = (i..self.end[i]).map(|d| self.own[d].text).sum();
        text < 300
    }
}

fn is_negative(hints: &str) -> bool {
    NEGATIVE.iter().any(|n| hints.contains(n)) || words(hints).any(|w| NEGATIVE_WORDS.contains(&w))
}

/// The words of a class or id list: split on anything that is not a letter or digit.
fn words(hints: &str) -> impl Iterator<Item = &str> {
    hints.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// Characters of a text with each whitespace run counted once; `space` says whether the text before ended in one.
fn collapsed_len(t: &str, space: &mut bool) -> usize {
    let mut n = 0;
    for c in t.chars() {
        if c.is_whitespace() {
            if !*space {
                n += 1;
            }
            *space = true;
        } else {
            n += 1;
            *space = false;
        }
    }
    n
}

/// Readability's text similarity: the share of `b`'s words (by length) that `a` also has.
fn similarity(a: &str, b: &str) -> f64 {
    let a = a.to_lowercase();
    let b = b.to_lowercase();
    let ta: HashSet<&str> = a
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let tb: Vec<&str> = b
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let all: usize = tb.iter().map(|w| w.len()).sum::<usize>() + tb.len() - 1;
    let uniq: Vec<&str> = tb.iter().copied().filter(|w| !ta.contains(w)).collect();
    let rest = if uniq.is_empty() {
        0
    } else {
        uniq.iter().map(|w| w.len()).sum::<usize>() + uniq.len() - 1
    };
    1.0 - rest as f64 / all as f64
}

/// The page's own idea of its title: `og:title`, else `<title>`.
fn page_title(doc: &Html) -> Option<String> {
    let og = Selector::parse(r#"meta[property="og:title"][content]"#).ok()?;
    if let Some(t) = doc.select(&og).find_map(|m| crate::extract::dom::attr(m, "content")) {
        return Some(t.to_owned());
    }
    let title = Selector::parse("title").ok()?;
    doc.select(&title).next().and_then(crate::extract::dom::text)
}

/// A selector that finds `root` again on this page: its id when it looks written by a person, else its tag and
/// classes when no other element has them.
fn stable_selector(doc: &Html, root: ElementRef<'_>) -> Option<String> {
    let el = root.value();
    let first_is_root = |css: &str| {
        Selector::parse(css).ok().and_then(|sel| {
            let mut found = doc.select(&sel);
            let first = found.next()?;
            (first.id() == root.id() && found.next().is_none()).then(|| css.to_owned())
        })
    };
    if let Some(id) = el.id().filter(|id| looks_stable(id))
        && let Some(css) = first_is_root(&format!("#{id}"))
    {
        return Some(css);
    }
    let classes: Vec<&str> = el.classes().filter(|c| looks_stable(c)).collect();
    if classes.is_empty() {
        return None;
    }
    first_is_root(&format!("{}.{}", el.name(), classes.join(".")))
}

/// Whether a class or id name is a plain CSS identifier a person would write: a letter first, and no run of three
/// digits or four digits in all (post ids, build hashes like `css-1x2y3z4`, which change from page to page or
/// from deploy to deploy).
fn looks_stable(name: &str) -> bool {
    let ascii_ident = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let starts = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let digits = name.chars().filter(char::is_ascii_digit).count();
    let mut run = 0;
    let mut max_run = 0;
    for c in name.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        max_run = max_run.max(run);
    }
    ascii_ident && starts && name.len() <= 40 && max_run < 3 && digits < 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn url() -> Url {
        Url::parse("https://news.example.com/2026/12/01/harbour.html").unwrap()
    }

    /// The body as a feed item carries it: root minus noise, sanitized.
    fn body_html(html: &str) -> Option<String> {
        let doc = crate::html::parse_document(html).html;
        let body = find(&doc)?;
        let raw = crate::extract::dom::inner_html(body.root, &body.noise);
        Some(crate::normalize::sanitize::clean(&raw, &url()))
    }

    /// The body's text, as a feed reader would show it.
    fn text(html: &str) -> Option<String> {
        body_html(html).map(|h| crate::normalize::sanitize::to_text(&h))
    }

    fn paragraphs(topic: &str, n: usize) -> String {
        (1..=n)
            .map(|i| {
                format!(
                    "<p>{topic} paragraph {i}: the council said on Tuesday that the harbour works, delayed twice by \
                     storms, would resume in spring, and that residents, shop owners and fishermen would be consulted \
                     before the plan is final.</p>"
                )
            })
            .collect()
    }

    /// Imitates an English news article: site navigation, a share bar and a related list inside the article, a
    /// comment section and a footer around it.
    fn english_news() -> String {
        format!(
            r#"<html><head><title>Harbour works to resume - Example News</title></head><body>
            <header class="site-header"><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav></header>
            <div id="main-column">
              <article class="story">
                <h1>Harbour works to resume</h1>
                <div class="share-bar"><a href="https://twitter.com/share">Share on Twitter</a> <a href="https://facebook.com/share">Share on Facebook</a></div>
                <div id="story-body">{}
                  <div class="related-links"><h3>Related stories</h3><ul><li><a href="/a">Storm closes harbour</a></li><li><a href="/b">Fishermen protest delay</a></li></ul></div>
                  {}
                </div>
              </article>
              <section id="comments"><h2>Comments</h2><div class="comment"><p>First comment, which says that the works, as usual, are late, and nobody, frankly, is surprised by it.</p></div></section>
            </div>
            <footer><p>Copyright 2026 Example News, all rights reserved, no reproduction, no redistribution.</p></footer>
            </body></html>"#,
            paragraphs("Opening", 3),
            paragraphs("Closing", 2)
        )
    }

    #[test]
    fn english_news_keeps_the_story_and_drops_share_related_and_comments() {
        let page = english_news();
        let body = text(&page).unwrap();
        assert!(
            body.contains("Opening paragraph 1") && body.contains("Closing paragraph 2"),
            "{body}"
        );
        for gone in [
            "Share on",
            "Related stories",
            "Storm closes",
            "First comment",
            "Copyright",
            "Sport",
        ] {
            assert!(!body.contains(gone), "{gone:?} left in {body}");
        }
        let doc = Html::parse_document(&page);
        assert_eq!(find(&doc).unwrap().selector.as_deref(), Some("#story-body"));
    }

    /// Imitates a Chinese government news page built with TRS: the text in `.TRS_Editor` inside `#Content`, an
    /// editor line and a related-news list after it, a hot-news ranking in the sidebar.
    const TRS_PAGE: &str = r#"<html><head><meta charset="utf-8"><title>乌镇峰会开幕_新闻中心</title></head><body>
        <div class="top"><a href="/">首页</a> | <a href="/xw/">新闻</a> | <a href="/zt/">专题</a></div>
        <div class="main">
          <div class="left">
            <h1>世界互联网大会在乌镇开幕</h1>
            <div class="info">发布时间：2026-12-01 09:30 来源：新华网</div>
            <div id="Content">
              <div class="TRS_Editor">
                <p>新华社乌镇12月1日电，第十三届世界互联网大会今天在浙江乌镇开幕，来自一百多个国家和地区的嘉宾出席，围绕人工智能、数据安全、数字经济等议题展开讨论。</p>
                <p>大会主席在开幕式上表示，互联网是人类的共同家园，各国应当加强合作，共同应对网络空间的风险和挑战，推动构建网络空间命运共同体。</p>
                <p>本届大会为期三天，设有二十余场分论坛，并发布年度领先科技成果，展示最新的技术应用、产业实践和国际合作项目。</p>
              </div>
              <p class="editor">责任编辑：王伟</p>
              <div class="xgxw"><h3>相关新闻</h3><ul>
                <li><a href="/a.htm">乌镇峰会筹备工作全面就绪</a></li><li><a href="/b.htm">数字经济论坛发布报告</a></li>
                <li><a href="/c.htm">人工智能分论坛举行</a></li></ul></div>
            </div>
          </div>
          <div class="right"><div class="hot"><h3>热点排行</h3><ol>
            <li><a href="/1.htm">冬季供暖保障工作部署会召开</a></li><li><a href="/2.htm">全市中小学开展安全教育</a></li></ol></div></div>
        </div>
        <div class="footer">版权所有 新闻中心 备案号：京ICP备000000号</div>
        </body></html>"#;

    #[test]
    fn chinese_trs_page_keeps_the_text_and_drops_editor_related_and_ranking() {
        let body = text(TRS_PAGE).unwrap();
        assert!(
            body.contains("第十三届世界互联网大会") && body.contains("国际合作项目"),
            "{body}"
        );
        for gone in [
            "责任编辑",
            "相关新闻",
            "筹备工作",
            "热点排行",
            "供暖",
            "版权所有",
            "首页",
        ] {
            assert!(!body.contains(gone), "{gone:?} left in {body}");
        }
    }

    #[test]
    fn editor_lines_in_english_are_noise_too() {
        let page = format!(
            "<div id='article'>{}<p>(Editor: Li Tao)</p></div>",
            paragraphs("Only", 3)
        );
        let body = text(&page).unwrap();
        assert!(body.contains("Only paragraph 3") && !body.contains("Editor"), "{body}");
    }

    /// Imitates a blog post whose lead picture is a `<figure>` between the title and the text.
    const BLOG: &str = r#"<html><head><title>A morning at the harbour</title></head><body>
        <div class="wrap"><article id="post-48213">
          <header><h1>A morning at the harbour</h1><p class="byline">By Ana Silva</p></header>
          <figure class="wp-block-image"><img src="/img/harbour-dawn.jpg" alt="Boats at dawn"><figcaption>The harbour at dawn, before the boats leave.</figcaption></figure>
          <div class="entry-content">
            <p>I got to the harbour at five, when the first boats were being readied, nets checked, engines started, and the gulls, loud as ever, were already circling.</p>
            <p>The fishermen, most of them in their sixties, talk about the works, the storms, and the prices, which, they say, have never been lower.</p>
            <p>By seven the harbour was empty again, and the town, slowly, woke up around it, with the cafés opening one after another along the quay.</p>
          </div>
          <div class="sharedaddy"><a href="?share=twitter">Twitter</a></div>
        </article></div></body></html>"#;

    #[test]
    fn a_figure_before_the_text_is_the_lead_image_with_its_caption() {
        let doc = Html::parse_document(BLOG);
        let body = find(&doc).unwrap();
        assert_eq!(body.root.value().attr("class"), Some("entry-content"));
        assert_eq!(
            body.image.and_then(|i| i.value().attr("src")),
            Some("/img/harbour-dawn.jpg")
        );
        assert_eq!(
            body.caption.as_deref(),
            Some("The harbour at dawn, before the boats leave.")
        );
        // The id is generated per post; the class names the template.
        assert_eq!(body.selector.as_deref(), Some("div.entry-content"));
        let text = text(BLOG).unwrap();
        assert!(
            text.starts_with("I got to the harbour") && !text.contains("Twitter"),
            "{text}"
        );
    }

    #[test]
    fn an_image_inside_the_body_stays_there() {
        let page = format!(
            "<div id='story'><p><img src='/in.jpg'></p>{}</div>",
            paragraphs("Pictured", 3)
        );
        let doc = Html::parse_document(&page);
        let body = find(&doc).unwrap();
        assert!(body.image.is_none() && body.caption.is_none());
        assert!(body_html(&page).unwrap().contains("/in.jpg"));
    }

    #[test]
    fn a_page_of_navigation_only_has_no_body() {
        let page = r#"<html><body><nav><ul>
            <li><a href="/world">World news from every continent</a></li><li><a href="/business">Business and markets today</a></li>
            <li><a href="/sport">Sport results and fixtures</a></li><li><a href="/culture">Culture, books and film</a></li>
            </ul></nav><div class="links"><a href="/a">A headline that is long enough to score</a> <a href="/b">Another headline here, also long</a></div></body></html>"#;
        assert!(find(&Html::parse_document(page)).is_none());
        assert!(find(&Html::parse_document("")).is_none());
    }

    #[test]
    fn hidden_elements_inside_the_body_are_noise() {
        let page = format!(
            "<div id='text'>{}<div style='display: none'>Hidden promo text</div><p hidden>Also hidden</p></div>",
            paragraphs("Visible", 3)
        );
        let body = text(&page).unwrap();
        assert!(!body.contains("Hidden") && !body.contains("Also hidden"), "{body}");
    }

    #[test]
    fn generated_names_make_no_selector() {
        assert!(looks_stable("article-body") && looks_stable("TRS_Editor"));
        assert!(!looks_stable("post-48213") && !looks_stable("css-1x2y3z4") && !looks_stable("9col"));
        let page = format!(
            "<div class='col'>x</div><div class='col'>{}</div>",
            paragraphs("Twice", 3)
        );
        assert_eq!(find(&Html::parse_document(&page)).unwrap().selector, None);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let depth = 20_000;
        let page = format!(
            "{}{}{}",
            "<div>".repeat(depth),
            paragraphs("Deep", 3),
            "</div>".repeat(depth)
        );
        let doc = crate::html::parse_document(&page).html;
        assert!(find(&doc).is_some());
    }
}
