//! The article links of a listing page without a selector: links grouped by their place in the document, the
//! groups scored, the main repeated block taken.
//!
//! Every `<a href>` outside navigation, headers, footers, asides and "most popular" / "related" / "热点排行" blocks
//! gets a path of its ancestors' tags and classes (`div.list > ul > li > h4 > a`). Links with the same path form a
//! group; a group's story element is the highest ancestor of each link that holds no group link to another URL, and
//! groups with the same story path merge (a thumbnail link and the headline link of the same story). Groups are
//! scored by how many distinct URLs they hold, how much those look like article URLs (date folders, numeric ids,
//! `.shtml`, the base's site), how much the link texts look like headlines, and how early they come. From the best
//! group come three selectors (story element, link inside it, date inside it), and the links are then read through
//! those selectors with exactly the loop, resolution and de-duplication of [`super::super::list`], so a source that
//! saves them gets the same links on the next run. Nothing here fetches or parses dates; "looks like a date" is a
//! shape test only.

use std::collections::{HashMap, HashSet};

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::super::dom;
use super::super::list::{self, Links};
use crate::model::ListedLink;

/// What was found on a listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The article links, in page order, resolved and de-duplicated as [`super::super::list`] does.
    pub links: Vec<ListedLink>,
    /// A CSS selector for one story element (the repeated block's items).
    pub item: String,
    /// A CSS selector for the article link inside a story.
    pub link: String,
    /// A CSS selector for a date printed inside a story, when stories print one.
    pub date: Option<String>,
}

/// Elements whose links are never stories: site chrome. `header` only counts outside an `article`, where it holds
/// the site's logo and menu rather than a story's headline.
const CHROME_TAGS: [&str; 3] = ["nav", "aside", "footer"];

/// Class and id words (split at `-`, `_` and spaces) of blocks that link to articles without being the listing.
const EXCLUDED_WORDS: [&str; 37] = [
    "hot",
    "hots",
    "hotnews",
    "rank",
    "ranking",
    "ranklist",
    "popular",
    "sidebar",
    "related",
    "relate",
    "recommend",
    "recommended",
    "widget",
    "share",
    "comment",
    "comments",
    "breadcrumb",
    "breadcrumbs",
    "nav",
    "navbar",
    "navigation",
    "menu",
    "footer",
    "ad",
    "ads",
    "advert",
    "banner",
    "tags",
    "tagcloud",
    "paihang",
    "remen",
    "redian",
    "tuijian",
    "xiangguan",
    "trending",
    "mostread",
    "topnews",
];

/// Words in a block's heading that mark it as a side list (lowercase; English ones match whole words).
const LABEL_WORDS: [&str; 12] = [
    "popular",
    "related",
    "hot",
    "trending",
    "recommended",
    "most read",
    "most viewed",
    "you may also like",
    "categories",
    "tags",
    "archives",
    "sponsored",
];
const LABEL_WORDS_CJK: [&str; 9] = [
    "热点",
    "排行",
    "推荐",
    "热门",
    "相关",
    "猜你喜欢",
    "点击榜",
    "热读",
    "精彩推荐",
];

/// Classes that mark an element's state or position, not its kind: two stories differ in them.
const STATE_CLASSES: [&str; 14] = [
    "on", "active", "current", "cur", "selected", "first", "last", "odd", "even", "sticky", "new", "clearfix", "clear",
    "fix",
];

/// The most classes one part of a generated selector names.
const MAX_SELECTOR_CLASSES: usize = 2;

/// A heading labels a block when it is this short (in characters); a story's own headline is longer.
const MAX_LABEL_CHARS: usize = 16;

/// Finds the main repeated block of article links; `None` when the page has none.
pub fn find(doc: &Html, base: &Url) -> Option<Detected> {
    let resolve_base = list::document_base(doc, base);
    let mut page = Page::default();
    let candidates = candidates(doc, &resolve_base, &mut page);
    let total = candidates.len().max(1);

    // Links with the same ancestor path.
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    let mut group_order: Vec<String> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let key = c
            .chain
            .iter()
            .map(|&el| page.segment(el))
            .collect::<Vec<_>>()
            .join(" > ");
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                group_order.push(key);
                Vec::new()
            })
            .push(i);
    }

    // Groups with the same story path are one block: their story elements, in page order.
    let mut blocks: HashMap<String, Block> = HashMap::new();
    let mut block_order: Vec<String> = Vec::new();
    for key in &group_order {
        let members = &groups[key];
        let Some(depth) = story_depth(&candidates, members) else {
            continue;
        };
        let first = &candidates[members[0]];
        let story_key = first.chain[..=depth]
            .iter()
            .map(|&el| page.segment(el))
            .collect::<Vec<_>>()
            .join(" > ");
        let block = blocks.entry(story_key.clone()).or_insert_with(|| {
            block_order.push(story_key);
            Block::default()
        });
        for &m in members {
            if let Some(&story) = candidates[m].chain.get(depth) {
                block.add(story, m);
            }
        }
    }

    let best = block_order
        .iter()
        .map(|k| &blocks[k])
        .map(|b| (b, score(b, &candidates, base, total)))
        .filter(|(_, s)| *s > 0.0)
        .fold(None::<(&Block, f64)>, |best, (b, s)| match best {
            Some((_, bs)) if bs >= s => best,
            _ => Some((b, s)),
        })?
        .0;

    let mut stories: Vec<ElementRef<'_>> = best.stories.iter().map(|&(el, _)| el).collect();
    extend_with_siblings(doc, &mut stories, &candidates);
    let chosen: Vec<(ElementRef<'_>, ElementRef<'_>)> = stories
        .iter()
        .filter_map(|&story| headline_in(story, &candidates).map(|a| (story, candidates[a].anchor)))
        .collect();
    if chosen.len() < 2 {
        return None;
    }
    let stories: Vec<ElementRef<'_>> = chosen.iter().map(|&(s, _)| s).collect();

    let item = item_selector(doc, &stories)?;
    let link = inner_selector(&chosen, false)?;
    let date = date_selector(&chosen);
    let links = read(doc, &resolve_base, &item, &link, date.as_deref());
    (links.len() >= 2).then_some(Detected {
        links,
        item,
        link,
        date,
    })
}

/// Reads the links through the selectors exactly as `list::parse` does with an `item` rule.
fn read(doc: &Html, base: &Url, item: &str, link: &str, date: Option<&str>) -> Vec<ListedLink> {
    let (Ok(item), Ok(link)) = (Selector::parse(item), Selector::parse(link)) else {
        return Vec::new();
    };
    let date = date.and_then(|d| Selector::parse(d).ok());
    let mut links = Links::default();
    for story in doc.select(&item) {
        let Some(found) = story.select(&link).next() else {
            continue;
        };
        let Some((url, anchor)) = list::link(found, base) else {
            continue;
        };
        let date = date
            .as_ref()
            .and_then(|sel| story.select(sel).next())
            .and_then(dom::text);
        links.add(url, list::title(anchor), date);
    }
    links.list
}

/// A link that may be a story's: resolved, outside chrome, with its ancestors below `<body>` (top first, the
/// anchor last) and its place among all candidates.
struct Candidate<'a> {
    anchor: ElementRef<'a>,
    url: Url,
    chain: Vec<ElementRef<'a>>,
    text: Option<String>,
    in_heading: bool,
}

fn candidates<'a>(doc: &'a Html, base: &Url, page: &mut Page) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    for anchor in doc.select(&list::ANCHOR) {
        let Some((url, _)) = list::link(anchor, base) else {
            continue;
        };
        let mut chain: Vec<ElementRef<'a>> = anchor
            .ancestors()
            .filter_map(ElementRef::wrap)
            .take_while(|el| !matches!(el.value().name(), "body" | "html"))
            .collect();
        chain.reverse();
        chain.push(anchor);
        if chain.iter().any(|&el| page.excluded(el)) {
            continue;
        }
        let in_heading = chain
            .iter()
            .any(|el| is_heading(el.value().name()) || has_word(*el, &["title", "tit"]));
        out.push(Candidate {
            anchor,
            url,
            chain,
            text: list::title(anchor),
            in_heading,
        });
    }
    out
}

/// The story elements of one block, in page order, with the candidates inside each.
#[derive(Default)]
struct Block<'a> {
    stories: Vec<(ElementRef<'a>, Vec<usize>)>,
    index: HashMap<NodeId, usize>,
}

impl<'a> Block<'a> {
    fn add(&mut self, story: ElementRef<'a>, candidate: usize) {
        match self.index.get(&story.id()) {
            Some(&i) => self.stories[i].1.push(candidate),
            None => {
                self.index.insert(story.id(), self.stories.len());
                self.stories.push((story, vec![candidate]));
            }
        }
    }
}

/// The depth (index into the chain) of a group's story element: for each link the highest ancestor holding no
/// group link to another URL, the most common such depth across the group. `None` for a group of one URL, which
/// repeats nothing.
fn story_depth(candidates: &[Candidate<'_>], members: &[usize]) -> Option<usize> {
    let urls: HashSet<&Url> = members.iter().map(|&m| &candidates[m].url).collect();
    if urls.len() < 2 {
        return None;
    }
    // Per ancestor: the URL of the first group link under it, and whether another URL is under it too.
    let mut under: HashMap<NodeId, (&Url, bool)> = HashMap::new();
    for &m in members {
        let c = &candidates[m];
        for el in &c.chain {
            under
                .entry(el.id())
                .and_modify(|(url, mixed)| *mixed |= *url != &c.url)
                .or_insert((&c.url, false));
        }
    }
    let mut depths: HashMap<usize, usize> = HashMap::new();
    for &m in members {
        let c = &candidates[m];
        if let Some(d) = c.chain.iter().position(|el| !under[&el.id()].1) {
            *depths.entry(d).or_default() += 1;
        }
    }
    depths
        .into_iter()
        .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
        .map(|(d, _)| d)
}

/// How much a block looks like the page's list of stories.
fn score(block: &Block<'_>, candidates: &[Candidate<'_>], base: &Url, total: usize) -> f64 {
    let heads: Vec<&Candidate<'_>> = block
        .stories
        .iter()
        .filter_map(|(story, _)| headline_in(*story, candidates).map(|i| &candidates[i]))
        .collect();
    let urls: HashSet<&Url> = heads.iter().map(|c| &c.url).collect();
    let n = urls.len();
    if n < 2 {
        return 0.0;
    }
    let mean = |f: &dyn Fn(&Candidate<'_>) -> f64| heads.iter().map(|c| f(c)).sum::<f64>() / heads.len() as f64;
    let shape = mean(&|c| article_url(&c.url));
    let text = mean(&|c| c.text.as_deref().map_or(0.0, headline_text));
    let site = mean(&|c| f64::from(u8::from(same_site(&c.url, base))));
    let prefix = shared_prefix(heads.iter().map(|c| &c.url));
    let first = block.stories[0].1[0];
    let position = 1.0 - 0.3 * (first as f64 / total as f64);
    n as f64 * (0.1 + shape) * (0.1 + text) * (0.5 + 0.5 * site) * (0.75 + 0.25 * prefix) * position
}

/// The candidate that is a story's headline: inside a heading if any is, with the most headline-like text.
fn headline_in(story: ElementRef<'_>, candidates: &[Candidate<'_>]) -> Option<usize> {
    // Candidates are in page order, so the ones inside the story are those whose chain passes through it.
    let id = story.id();
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chain.iter().any(|el| el.id() == id))
        .max_by(|(ia, a), (ib, b)| {
            let key = |c: &Candidate<'_>| {
                let t = c.text.as_deref().map_or(0.0, headline_text);
                (u8::from(t > 0.0), u8::from(c.in_heading), t)
            };
            // On a tie the earlier link wins.
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(ib.cmp(ia))
        })
        .map(|(i, _)| i)
}

/// A lead story is often a sibling of the list items with a class of its own (`li.lead`) and so a group of its
/// own: siblings of the story elements with the same tag and a headline link join the block.
fn extend_with_siblings<'a>(doc: &'a Html, stories: &mut Vec<ElementRef<'a>>, candidates: &[Candidate<'a>]) {
    let ids: HashSet<NodeId> = stories.iter().map(|s| s.id()).collect();
    let tag = stories[0].value().name().to_owned();
    let parents: Vec<NodeId> = {
        let mut seen = HashSet::new();
        stories
            .iter()
            .filter_map(|s| s.parent().map(|p| p.id()))
            .filter(|p| seen.insert(*p))
            .collect()
    };
    let mut extra = Vec::new();
    for parent in parents {
        let Some(parent) = stories[0].tree().get(parent).and_then(ElementRef::wrap) else {
            continue;
        };
        for sibling in parent.children().filter_map(ElementRef::wrap) {
            if sibling.value().name() != tag || ids.contains(&sibling.id()) {
                continue;
            }
            let good = headline_in(sibling, candidates).is_some_and(|i| {
                let c = &candidates[i];
                c.text.as_deref().map_or(0.0, headline_text) > 0.5 && article_url(&c.url) > 0.0
            });
            if good {
                extra.push(sibling);
            }
        }
    }
    if !extra.is_empty() {
        stories.extend(extra);
        let order: HashMap<NodeId, usize> = doc
            .root_element()
            .descendants()
            .enumerate()
            .map(|(i, n)| (n.id(), i))
            .collect();
        stories.sort_by_key(|s| order.get(&s.id()).copied().unwrap_or(usize::MAX));
    }
}

/// A selector that matches exactly the story elements: the story's tag and shared classes, with as few ancestors
/// in a `>` chain as make it exact and name a class or id; the full chain when nothing shorter is exact.
fn item_selector(doc: &Html, stories: &[ElementRef<'_>]) -> Option<String> {
    let want: HashSet<NodeId> = stories.iter().map(|s| s.id()).collect();
    // Level 0 is the stories themselves, level k their k-th ancestors; each level's part of the selector has the
    // tag and the classes every element at that level shares.
    let mut levels: Vec<Vec<ElementRef<'_>>> = vec![stories.to_vec()];
    loop {
        let up: Vec<ElementRef<'_>> = levels[levels.len() - 1]
            .iter()
            .filter_map(|el| el.parent().and_then(ElementRef::wrap))
            .filter(|el| el.value().name() != "html")
            .collect();
        if up.len() != stories.len() {
            break;
        }
        levels.push(up);
    }
    let part = |level: &[ElementRef<'_>]| {
        let mut shared = plain_classes(level[0]);
        for el in &level[1..] {
            let own = plain_classes(*el);
            shared.retain(|c| own.contains(c));
        }
        css(level[0].value().name(), &shared)
    };
    let ancestors: Vec<ElementRef<'_>> = levels[1..].iter().map(|l| l[0]).collect();
    let own = part(&levels[0]);
    let mut parts = vec![own];
    let mut fallback = None;
    let mut exact = None;
    for level in 0..=ancestors.len() {
        let mut tries = vec![parts.iter().rev().cloned().collect::<Vec<_>>().join(" > ")];
        // An id names one container, so it only anchors a level that has one element.
        if let Some(anc) = ancestors.get(level)
            && levels[level + 1].iter().all(|el| el.id() == anc.id())
            && let Some(id) = anc.value().id().filter(|id| is_ident(id))
        {
            let mut with_id: Vec<String> = parts.iter().rev().cloned().collect();
            with_id.insert(0, format!("{}#{id}", anc.value().name()));
            tries.push(with_id.join(" > "));
        }
        for css in tries {
            let Ok(sel) = Selector::parse(&css) else { continue };
            let got: HashSet<NodeId> = doc.select(&sel).map(|e| e.id()).collect();
            if got == want {
                // A bare tag chain (`ul > li`) is exact today and matches the next sidebar tomorrow: it is kept
                // only when no ancestor has a class or id to anchor it.
                if css.contains(['.', '#']) {
                    return Some(css);
                }
                exact.get_or_insert(css);
            } else if got.is_superset(&want) && exact.is_none() {
                fallback = Some(css);
            }
        }
        match levels.get(level + 1) {
            Some(up) => parts.push(part(up)),
            None => break,
        }
    }
    exact.or(fallback)
}

/// A selector for one element inside each story (its headline link, or with `date` its date element) whose first
/// match in a story is that element in as many stories as possible: the shortest `>` chain ending at it, tags
/// alone tried before tags with classes.
fn inner_selector(targets: &[(ElementRef<'_>, ElementRef<'_>)], classes_first: bool) -> Option<String> {
    let mut options: Vec<String> = Vec::new();
    for &(story, target) in targets {
        let mut chain: Vec<ElementRef<'_>> = target
            .ancestors()
            .filter_map(ElementRef::wrap)
            .take_while(|el| el.id() != story.id())
            .collect();
        chain.reverse();
        chain.push(target);
        // A headline link is named with its heading (`h2 > a`), which survives a theme adding a link before it.
        let in_heading = chain.len() >= 2 && is_heading(chain[chain.len() - 2].value().name());
        let shortest = if in_heading { 2 } else { 1 };
        for len in shortest..=chain.len() {
            let tail = &chain[chain.len() - len..];
            let bare = tail
                .iter()
                .map(|el| el.value().name().to_owned())
                .collect::<Vec<_>>()
                .join(" > ");
            let classed = tail
                .iter()
                .map(|el| css(el.value().name(), &plain_classes(*el)))
                .collect::<Vec<_>>()
                .join(" > ");
            let pair = if classes_first {
                [classed, bare]
            } else {
                [bare, classed]
            };
            for css in pair {
                if !options.contains(&css) {
                    options.push(css);
                }
            }
        }
    }
    let hits = |css: &str| {
        Selector::parse(css).map_or(0, |sel| {
            targets
                .iter()
                .filter(|(story, target)| story.select(&sel).next().is_some_and(|m| m.id() == target.id()))
                .count()
        })
    };
    // Options are ordered shortest first per target; the first with the most hits wins.
    let mut best: Option<(String, usize)> = None;
    for css in options {
        let n = hits(&css);
        if n == targets.len() {
            return Some(css);
        }
        if best.as_ref().is_none_or(|(_, b)| n > *b) {
            best = Some((css, n));
        }
    }
    best.filter(|(_, n)| *n > 0).map(|(css, _)| css)
}

/// The date element of each story, when most stories print one, and a selector for it.
fn date_selector(chosen: &[(ElementRef<'_>, ElementRef<'_>)]) -> Option<String> {
    let dated: Vec<(ElementRef<'_>, ElementRef<'_>)> = chosen
        .iter()
        .filter_map(|&(story, anchor)| date_in(story, anchor).map(|d| (story, d)))
        .collect();
    if dated.len() * 2 < chosen.len() || dated.is_empty() {
        return None;
    }
    let css = inner_selector(&dated, true)?;
    // The selector must find a date in most stories, not only in the ones it was made from.
    let sel = Selector::parse(&css).ok()?;
    let found = chosen
        .iter()
        .filter(|(story, _)| {
            story
                .select(&sel)
                .next()
                .and_then(dom::text)
                .is_some_and(|t| date_shape(&t).is_some())
        })
        .count();
    (found * 2 >= chosen.len()).then_some(css)
}

/// The element inside a story, outside its headline link, whose text is a date with little else: a `<time>` first,
/// then the one with the fewest other words, then the outermost.
fn date_in<'a>(story: ElementRef<'a>, anchor: ElementRef<'a>) -> Option<ElementRef<'a>> {
    let mut best: Option<(ElementRef<'a>, (u8, usize))> = None;
    for el in story.descendants().filter_map(ElementRef::wrap) {
        if el.id() == story.id() || el.ancestors().any(|a| a.id() == anchor.id()) || el.id() == anchor.id() {
            continue;
        }
        if el.descendants().any(|d| d.id() == anchor.id()) {
            continue;
        }
        let Some(text) = dom::text(el) else { continue };
        if text.chars().count() > 60 {
            continue;
        }
        let Some(residue) = date_shape(&text) else { continue };
        let key = (u8::from(el.value().name() != "time"), residue);
        if best.as_ref().is_none_or(|(_, k)| key < *k) {
            best = Some((el, key));
        }
    }
    best.map(|(el, _)| el)
}

/// Per-page memory: which elements are chrome, and the stable classes of each element.
#[derive(Default)]
struct Page {
    excluded: HashMap<NodeId, bool>,
    classes: HashMap<NodeId, Vec<String>>,
}

impl Page {
    /// Whether the element itself (not its ancestors) marks chrome or a side list.
    fn excluded(&mut self, el: ElementRef<'_>) -> bool {
        if let Some(&known) = self.excluded.get(&el.id()) {
            return known;
        }
        let known = own_chrome(el);
        self.excluded.insert(el.id(), known);
        known
    }

    /// The classes two stories share: without state words, and without classes that differ between same-tag
    /// siblings only in digits (`post-12`, `post-13`); when the siblings share classes, only those.
    fn classes(&mut self, el: ElementRef<'_>) -> Vec<String> {
        if let Some(known) = self.classes.get(&el.id()) {
            return known.clone();
        }
        let tag = el.value().name();
        let siblings: Vec<ElementRef<'_>> = el
            .parent()
            .into_iter()
            .flat_map(|p| p.children())
            .filter_map(ElementRef::wrap)
            .filter(|s| s.value().name() == tag)
            .take(200)
            .collect();
        let plain = |e: &ElementRef<'_>| -> Vec<String> {
            e.value()
                .classes()
                .filter(|c| is_ident(c) && !STATE_CLASSES.contains(&c.to_ascii_lowercase().as_str()))
                .map(str::to_owned)
                .collect()
        };
        let own = plain(&el);
        let result = if siblings.len() < 2 {
            own
        } else {
            let sets: Vec<Vec<String>> = siblings.iter().map(plain).collect();
            let skeleton = |c: &str| c.chars().filter(|ch| !ch.is_ascii_digit()).collect::<String>();
            let varying = |c: &String| {
                c.chars().any(|ch| ch.is_ascii_digit())
                    && sets.iter().flatten().any(|o| o != c && skeleton(o) == skeleton(c))
            };
            let own: Vec<String> = own.into_iter().filter(|c| !varying(c)).collect();
            let shared: Vec<String> = own
                .iter()
                .filter(|c| sets.iter().all(|s| s.contains(c)))
                .cloned()
                .collect();
            if shared.is_empty() { own } else { shared }
        };
        self.classes.insert(el.id(), result.clone());
        result
    }

    /// `tag.class.class`, the element's part of a path and of a selector.
    fn segment(&mut self, el: ElementRef<'_>) -> String {
        let classes = self.classes(el);
        css(el.value().name(), &classes)
    }
}

/// An element's own classes that can name it in a selector: writable without escaping, not a state word; the
/// plainest first (`post` before `type-post` before `post-41`).
fn plain_classes(el: ElementRef<'_>) -> Vec<String> {
    let mut classes: Vec<String> = el
        .value()
        .classes()
        .filter(|c| is_ident(c) && !STATE_CLASSES.contains(&c.to_ascii_lowercase().as_str()))
        .map(str::to_owned)
        .collect();
    classes.sort_by_key(|c| {
        let digits = c.chars().any(|ch| ch.is_ascii_digit());
        let joined = c.contains(['-', '_']);
        (digits, joined, c.len(), c.clone())
    });
    classes
}

/// `tag.class.class`, with at most [`MAX_SELECTOR_CLASSES`] classes: more only repeat what two already say and
/// break when a theme renames one.
fn css(tag: &str, classes: &[String]) -> String {
    let mut s = tag.to_owned();
    for c in classes.iter().take(MAX_SELECTOR_CLASSES) {
        s.push('.');
        s.push_str(c);
    }
    s
}

/// Whether a class or id can be written in a selector as is (no escaping needed).
fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else { return false };
    (first.is_ascii_alphabetic() || first == '_' || (first == '-' && s.len() > 1 && !s.as_bytes()[1].is_ascii_digit()))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_heading(tag: &str) -> bool {
    matches!(tag, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// The lowercase words of an element's classes and id.
fn words(el: ElementRef<'_>) -> Vec<String> {
    let v = el.value();
    v.classes()
        .chain(v.id())
        .flat_map(|c| c.split(|ch: char| !ch.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn has_word(el: ElementRef<'_>, wanted: &[&str]) -> bool {
    words(el).iter().any(|w| wanted.contains(&w.as_str()))
}

/// Whether this element is site chrome or a side list of links: by tag, by class or id words, or by a short
/// heading that labels it ("Most Popular", "热点排行"), at its start or as the element just before it.
fn own_chrome(el: ElementRef<'_>) -> bool {
    let tag = el.value().name();
    if CHROME_TAGS.contains(&tag) {
        return true;
    }
    if tag == "header"
        && !el
            .ancestors()
            .filter_map(ElementRef::wrap)
            .any(|a| a.value().name() == "article")
    {
        return true;
    }
    // Inline elements and list items carry state classes (`li.hot` marks a hot story in the main list).
    if matches!(tag, "a" | "span" | "em" | "b" | "i" | "strong" | "li" | "font") {
        return false;
    }
    let w = words(el);
    let in_article = el
        .ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().name() == "article");
    if w.iter()
        .any(|w| EXCLUDED_WORDS.contains(&w.as_str()) || (w == "header" && !in_article))
    {
        return true;
    }
    // A label opens the block it names: the first child, or the first child's first child (`div.box > div.tit >
    // h3`); a heading further down is some story's, and may contain any word.
    let first = el.children().find_map(ElementRef::wrap);
    let first_of_first = first.and_then(|f| f.children().find_map(ElementRef::wrap));
    let labels = first
        .into_iter()
        .chain(first_of_first)
        .chain(el.prev_siblings().filter_map(ElementRef::wrap).take(1));
    labels
        .filter(|h| is_heading(h.value().name()) || has_word(*h, &["tit", "title", "hd", "head", "header"]))
        .filter_map(dom::text)
        .any(|t| is_side_label(&t))
}

/// Whether a short heading names a side list.
fn is_side_label(text: &str) -> bool {
    if text.chars().count() > MAX_LABEL_CHARS {
        return false;
    }
    if LABEL_WORDS_CJK.iter().any(|w| text.contains(w)) {
        return true;
    }
    let lower = format!(
        " {} ",
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    );
    LABEL_WORDS.iter().any(|w| lower.contains(&format!(" {w} ")))
}

/// How much a link text looks like a headline, 0 to 1: 8 to 120 characters (5 for Chinese, whose characters are
/// words), fading out beyond.
fn headline_text(text: &str) -> f64 {
    let n = text.chars().count();
    let cjk = text.chars().any(is_cjk);
    let min = if cjk { 5 } else { 8 };
    let max = if cjk { 60 } else { 120 };
    if n < min / 2 {
        0.0
    } else if n < min {
        0.3
    } else if n <= max {
        1.0
    } else {
        0.5
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff)
}

/// How much a URL looks like one article's, 0 to 1: date folders, a numeric id, `c_NNNN.htm`, `.shtml` and long
/// slugs do; listing pages, category, tag and author pages and site roots do not.
fn article_url(url: &Url) -> f64 {
    let path = url.path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(last) = segments.last() else { return 0.0 };
    let lower = path.to_ascii_lowercase();
    let stem = last.split('.').next().unwrap_or(last).to_ascii_lowercase();
    let listing = stem.starts_with("index")
        || stem.starts_with("node_")
        || stem.starts_with("list")
        || ["/category/", "/tag/", "/tags/", "/author/", "/page/", "/topics/"]
            .iter()
            .any(|p| lower.contains(p))
        || (path.ends_with('/') && segments.len() < 2);
    if listing {
        return 0.0;
    }
    let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let date_folder = segments.windows(2).any(|w| {
        let (a, b) = (w[0], w[1]);
        // `/2015-12/16/`, `/201512/16/`, `/2019/09/`
        (a.len() == 7 && all_digits(&a[..4], 4) && &a[4..5] == "-" && all_digits(&a[5..], 2))
            || (all_digits(a, 6) && all_digits(b, 2))
            || (all_digits(a, 4) && (all_digits(b, 2) || all_digits(b, 1)))
    }) || segments.iter().any(|s| all_digits(s, 8));
    let longest_digits = stem
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    let id = longest_digits >= 4 || stem.starts_with("c_") || lower.ends_with(".shtml");
    let slug = stem.matches('-').count() >= 2 && stem.len() >= 12;
    match (date_folder, id, slug) {
        (true, true, _) | (true, _, true) => 1.0,
        (true, false, false) | (false, true, _) => 0.8,
        (false, false, true) => 0.6,
        _ => 0.1,
    }
}

/// Same site: the same host, or the same last two host labels (`www.example.com` and `news.example.com`).
fn same_site(url: &Url, base: &Url) -> bool {
    let tail = |u: &Url| {
        let host = u.host_str().unwrap_or("").to_ascii_lowercase();
        let labels: Vec<&str> = host.rsplit('.').take(2).collect();
        labels.join(".")
    };
    url.host_str() == base.host_str() || tail(url) == tail(base)
}

/// The share of URLs whose first path segment is the most common one.
fn shared_prefix<'a>(urls: impl Iterator<Item = &'a Url>) -> f64 {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut n = 0;
    for url in urls {
        n += 1;
        let first = url.path().split('/').find(|s| !s.is_empty()).unwrap_or("").to_owned();
        *counts.entry(first).or_default() += 1;
    }
    counts.values().max().map_or(0.0, |&m| m as f64 / n.max(1) as f64)
}

/// Whether a text holds a date (`2015-12-16`, `2015/12/16`, `2015年12月16日`, `12月16日`, `12-16 10:23`,
/// `Dec 16, 2015`, `16 December 2015`), and if so how many letters it holds besides (`Published:` is 9): the
/// smaller, the more the text is only a date. `None` when there is no date or the other words are more than a label.
pub(crate) fn date_shape(text: &str) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    if !has_date(&chars) {
        return None;
    }
    let lower = text.to_lowercase();
    let mut letters = 0;
    for word in lower.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        let month = super::dateline::is_month_name(word);
        let ampm = matches!(word, "am" | "pm" | "st" | "nd" | "rd" | "th");
        if !month && !ampm {
            letters += word
                .chars()
                .filter(|c| !matches!(c, '年' | '月' | '日' | '时' | '分' | '秒'))
                .count();
        }
    }
    (letters <= 14).then_some(letters)
}

fn has_date(c: &[char]) -> bool {
    let digits = |i: usize| c[i.min(c.len())..].iter().take_while(|ch| ch.is_ascii_digit()).count();
    let at = |i: usize| c.get(i).copied();
    for i in 0..c.len() {
        if !c[i].is_ascii_digit() || (i > 0 && c[i - 1].is_ascii_digit()) {
            continue;
        }
        let n = digits(i);
        let j = i + n;
        if n == 4 && matches!(at(j), Some('-' | '/' | '.' | '年')) {
            let m = digits(j + 1);
            let k = j + 1 + m;
            if (1..=2).contains(&m) && matches!(at(k), Some('-' | '/' | '.' | '月')) && (1..=2).contains(&digits(k + 1))
            {
                return true;
            }
        }
        if (1..=2).contains(&n) {
            let m = digits(j + 1);
            let k = j + 1 + m;
            if at(j) == Some('月') && (1..=2).contains(&m) && at(k) == Some('日') {
                return true;
            }
            if matches!(at(j), Some('-' | '/')) && (1..=2).contains(&m) && at(k).is_some_and(char::is_whitespace) {
                let t = k + 1 + c[k + 1..].iter().take_while(|ch| ch.is_whitespace()).count();
                let h = digits(t);
                if (1..=2).contains(&h) && at(t + h) == Some(':') && digits(t + h + 1) == 2 {
                    return true;
                }
            }
        }
    }
    // Month names: `Dec 16, 2015`, `December 16 2015`, `16 Dec 2015`.
    let text: String = c.iter().collect::<String>().to_lowercase();
    let tokens: Vec<&str> = text
        .split(|ch: char| !ch.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let is_month = |t: &str| super::dateline::is_month_name(t);
    let is_day = |t: &str| {
        let d = t.trim_end_matches(|ch: char| ch.is_ascii_alphabetic());
        (1..=2).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
    };
    let is_year =
        |t: &str| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) && (t.starts_with("19") || t.starts_with("20"));
    tokens.windows(3).any(|w| {
        (is_month(w[0]) && w[0].chars().all(|ch| ch.is_ascii_alphabetic()) && is_day(w[1]) && is_year(w[2]))
            || (is_day(w[0]) && is_month(w[1]) && w[1].chars().all(|ch| ch.is_ascii_alphabetic()) && is_year(w[2]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::list::ListRules;

    fn base() -> Url {
        Url::parse("https://news.example.com/china/index.htm").unwrap()
    }

    fn detect(html: &str) -> Detected {
        find(&Html::parse_document(html), &base()).expect("a block of links")
    }

    fn urls(d: &Detected) -> Vec<&str> {
        d.links.iter().map(|l| l.url.path()).collect()
    }

    /// The selectors, handed to the configured extractor, give the same links.
    fn round_trip(html: &str, d: &Detected) {
        let rules = ListRules {
            item: Some(Selector::parse(&d.item).unwrap()),
            links: Some(Selector::parse(&d.link).unwrap()),
            date: d.date.as_deref().map(|s| Selector::parse(s).unwrap()),
            next: None,
        };
        assert_eq!(list::parse(html, &base(), &rules).links, d.links, "{d:?}");
    }

    const PORTAL: &str = r#"<html><body>
      <div class="topnav"><a href="/">首页</a><a href="/china/">国内</a><a href="/world/">国际</a>
        <a href="/finance/">财经</a><a href="/sports/">体育</a><a href="/tech/">科技</a></div>
      <div class="box"><div class="box_tit"><h3>热点排行</h3></div><ul>
        <li><a href="/2019-09/01/c_9001.htm">排行榜上的第一条新闻标题很长很长</a></li>
        <li><a href="/2019-09/01/c_9002.htm">排行榜上的第二条新闻标题很长很长</a></li>
        <li><a href="/2019-09/01/c_9003.htm">排行榜上的第三条新闻标题很长很长</a></li>
        <li><a href="/2019-09/01/c_9004.htm">排行榜上的第四条新闻标题很长很长</a></li>
        <li><a href="/2019-09/01/c_9005.htm">排行榜上的第五条新闻标题很长很长</a></li>
      </ul></div>
      <div class="list">
        <ul><li><a href="/2019-09/07/c_1001.htm">国务院常务会议部署稳就业措施</a><span>2019-09-07</span></li>
            <li class="first"><a href="../2019-09/07/c_1002.htm?utm_source=wx">全国秋粮收购工作全面展开</a><span>2019-09-07</span></li>
            <li><a href="/2019-09/06/c_1003.htm">第二届数字中国建设峰会开幕</a><span>2019-09-06</span></li></ul>
        <div class="line"></div>
        <ul><li><a href="/2019-09/06/c_1004.htm">多地出台措施支持小微企业发展</a><span>2019-09-06</span></li>
            <li><a href="/2019-09/07/c_1001.htm#top">国务院常务会议部署稳就业措施</a><span>2019-09-07</span></li>
            <li><a href="/2019-09/05/c_1005.htm">长三角一体化示范区建设提速</a></li></ul>
      </div>
      <div class="foot"><a href="/about/">关于我们</a> <a href="/contact/">联系我们</a></div>
    </body></html>"#;

    #[test]
    fn a_chinese_list_split_over_two_uls_wins_over_nav_and_the_ranking_box() {
        let d = detect(PORTAL);
        assert_eq!(
            urls(&d),
            [
                "/2019-09/07/c_1001.htm",
                "/2019-09/07/c_1002.htm",
                "/2019-09/06/c_1003.htm",
                "/2019-09/06/c_1004.htm",
                "/2019-09/05/c_1005.htm"
            ]
        );
        assert_eq!(d.item, "div.list > ul > li");
        assert_eq!(d.link, "a");
        assert_eq!(d.date.as_deref(), Some("span"));
        assert_eq!(
            d.links[1].query_free(),
            ("全国秋粮收购工作全面展开", Some("2019-09-07"))
        );
        assert_eq!(d.links[4].date_text, None);
        round_trip(PORTAL, &d);
    }

    const CARDS: &str = r#"<html><body>
      <header class="site-header"><a href="/">Daily</a><a href="/2015/12/16/from-the-header-long-link.html">A headline in the site header</a></header>
      <main>
        <article class="post post-11 category-news has-thumb">
          <a class="thumb" href="/2015/12/16/xi-opens-the-conference.html"><img src="a.jpg"></a>
          <header class="entry-header"><h2 class="entry-title"><a href="/2015/12/16/xi-opens-the-conference.html">Xi opens the second World Internet Conference</a></h2>
          <div class="meta">Posted on <time class="entry-date" datetime="2015-12-16">December 16, 2015</time> by <a href="/author/admin/">admin</a></div></header>
          <p><a href="/2015/12/16/xi-opens-the-conference.html">Continue reading Xi opens the second World Internet Conference</a></p>
        </article>
        <article class="post post-12 category-tech">
          <header class="entry-header"><h2 class="entry-title"><a href="/2015/12/17/expo-shows-new-gadgets.html">Light of Internet Expo shows new gadgets</a></h2>
          <div class="meta">Posted on <time class="entry-date" datetime="2015-12-17">December 17, 2015</time> by <a href="/author/admin/">admin</a></div></header>
        </article>
        <article class="post post-13 category-news sticky">
          <header class="entry-header"><h2 class="entry-title"><a href="/2015/12/18/conference-closes.html">The conference closes with a declaration</a></h2>
          <div class="meta">Posted on <time class="entry-date" datetime="2015-12-18">December 18, 2015</time> by <a href="/author/admin/">admin</a></div></header>
        </article>
      </main>
      <aside><h2>Recent Posts</h2><ul><li><a href="/2015/12/18/conference-closes.html">The conference closes with a declaration</a></li>
        <li><a href="/2015/12/17/expo-shows-new-gadgets.html">Light of Internet Expo shows new gadgets</a></li>
        <li><a href="/2015/12/01/older-story-from-before.html">An older story from before the conference</a></li>
        <li><a href="/2015/11/01/even-older-story.html">An even older story from November</a></li></ul></aside>
    </body></html>"#;

    #[test]
    fn wordpress_entries_take_the_headline_link_not_the_thumbnail_and_the_time_element() {
        let d = detect(CARDS);
        assert_eq!(
            urls(&d),
            [
                "/2015/12/16/xi-opens-the-conference.html",
                "/2015/12/17/expo-shows-new-gadgets.html",
                "/2015/12/18/conference-closes.html"
            ]
        );
        assert_eq!(d.item, "article.post");
        assert_eq!(d.link, "h2 > a");
        assert_eq!(d.date.as_deref(), Some("time.entry-date"));
        assert_eq!(
            d.links[0].title.as_deref(),
            Some("Xi opens the second World Internet Conference")
        );
        assert_eq!(d.links[2].date_text.as_deref(), Some("December 18, 2015"));
        round_trip(CARDS, &d);
    }

    #[test]
    fn a_lead_story_with_its_own_class_joins_the_list() {
        let html = r#"<div class="news"><ul>
            <li class="lead"><h3><a href="/2019/09/07/c_1.htm">The lead story of the day with a long headline</a></h3><p>Summary</p></li>
            <li><a href="/2019/09/07/c_2.htm">Second story headline goes here</a></li>
            <li><a href="/2019/09/06/c_3.htm">Third story headline goes here</a></li>
            <li><a href="/2019/09/06/c_4.htm">Fourth story headline goes here</a></li>
          </ul></div>"#;
        let d = detect(html);
        assert_eq!(
            urls(&d),
            [
                "/2019/09/07/c_1.htm",
                "/2019/09/07/c_2.htm",
                "/2019/09/06/c_3.htm",
                "/2019/09/06/c_4.htm"
            ]
        );
        assert_eq!(d.item, "div.news > ul > li");
        round_trip(html, &d);
    }

    #[test]
    fn a_page_without_repeated_links_has_no_block() {
        let html = r#"<p>Just <a href="/a.htm">one link</a> and <a href="/about/">About us</a>.</p>"#;
        assert_eq!(find(&Html::parse_document(html), &base()), None);
    }

    #[test]
    fn date_shapes() {
        for yes in [
            "2015-12-16",
            "12-16 10:23",
            "2019年09月07日",
            "Dec 16, 2015",
            "Published: Dec 16, 2015 10:23",
            "16 December 2015",
            "2015/12/16 08:00",
            "12月16日",
            "发布时间：2019-09-07 10:00",
        ] {
            assert!(date_shape(yes).is_some(), "{yes}");
        }
        for no in [
            "Xi urges shared future in cyberspace",
            "2015",
            "c_47822",
            "Tel: 0571-85311391",
            "A long headline that mentions December 16, 2015 somewhere inside it",
        ] {
            assert!(date_shape(no).is_none(), "{no}");
        }
    }

    #[test]
    fn url_shapes() {
        let score = |s: &str| article_url(&Url::parse(s).unwrap());
        assert_eq!(score("http://a.cn/2015-12/16/c_47822.htm"), 1.0);
        assert_eq!(score("http://a.cn/system/2015/12/16/020951986.shtml"), 1.0);
        assert_eq!(score("http://a.cn/2015/12/16/xi-opens-the-conference.html"), 1.0);
        assert_eq!(score("http://a.cn/news/node_35363.htm"), 0.0);
        assert_eq!(score("http://a.cn/category/news/"), 0.0);
        assert_eq!(score("http://a.cn/"), 0.0);
        assert!(score("http://a.cn/about.htm") < 0.5);
    }

    #[test]
    fn side_labels() {
        assert!(is_side_label("Most Popular"));
        assert!(is_side_label("热点排行"));
        assert!(is_side_label("相关新闻"));
        assert!(!is_side_label("News"));
        assert!(!is_side_label("Hot pot restaurants boom in Chengdu"));
        assert!(!is_side_label("Photos"));
    }

    trait QueryFree {
        fn query_free(&self) -> (&str, Option<&str>);
    }
    impl QueryFree for ListedLink {
        fn query_free(&self) -> (&str, Option<&str>) {
            assert_eq!(self.url.query(), None);
            (self.title.as_deref().unwrap_or(""), self.date_text.as_deref())
        }
    }
}
