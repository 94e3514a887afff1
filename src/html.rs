//! The HTML facts both parsing stages rely on: how a page is parsed without letting it cost more than a bounded
//! amount of time and memory, how text and attribute values are escaped when HTML is written back out, and which
//! image URLs are inline placeholders. Pure functions over `&str`; no I/O.
//!
//! Every parse of fetched HTML (listing pages, article pages, the sanitizer's own passes) goes through
//! [`parse_document`] or [`parse_fragment`], so the bounds live here and nowhere else:
//!
//! - **Depth**: a start tag that would open an element deeper than [`MAX_DEPTH`] is dropped, and so is the end tag
//!   that matches it; its text and void children (`<br>`, `<img>`) still land in the deepest element kept. The HTML5
//!   tree builder walks its stack of open elements for every scope check, so parsing is quadratic in nesting
//!   depth (100,000 unclosed `<div>`s took 47 s); with the stack bounded, it is linear in the page's size.
//! - **Nodes**: once the tree holds [`MAX_NODES`] elements, comments and processing instructions, the rest of the
//!   page is not parsed. Counting source tags is not enough: the tree builder itself re-opens unclosed formatting
//!   elements (`<b>`, `<i>`, `<font>`, …) in every new block, so 1,000 unclosed `<b>` followed by 1,000 `<div>`s
//!   become a million elements. The count is checked before every token, and one token can re-open at most as many
//!   elements as exist, so a tree never exceeds twice the budget.
//!
//! The depth is asked of the tree builder itself, not guessed from the tags: before a start tag is passed on, an
//! empty comment is, and where the tree builder puts it is the current node. That comment never enters the tree.
//! The bounds are far above what real pages need (news pages nest 20 to 40 deep and have a few thousand nodes);
//! what a bound cuts off is reported in [`Parsed`], for the caller to warn about with the page's URL.

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::collections::HashMap;

use ego_tree::NodeId;
use html5ever::buffer_queue::BufferQueue;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeBuilder, TreeBuilderOpts, TreeSink};
use html5ever::{Attribute, LocalName, QualName, TokenizerResult, local_name, ns};
use scraper::{Html, HtmlTreeSink, Node};

/// The deepest element kept. Real pages nest a few dozen elements deep; a few hundred is already a generated or
/// hostile page.
pub const MAX_DEPTH: usize = 256;

/// The most element, comment and processing-instruction nodes one parse creates (text nodes sit between them, so
/// they are bounded too). Real article and listing pages have a few thousand; the 2 MB live blog of the demo has
/// about 30,000.
pub const MAX_NODES: usize = 100_000;

/// A parsed page and what the bounds cut off.
#[derive(Debug)]
pub struct Parsed {
    pub html: Html,
    /// Start tags dropped because they would have nested deeper than [`MAX_DEPTH`].
    pub too_deep: usize,
    /// Whether the page stopped being parsed at [`MAX_NODES`].
    pub truncated: bool,
}

impl Parsed {
    /// Whether a bound changed what was parsed.
    pub fn bounded(&self) -> bool {
        self.too_deep > 0 || self.truncated
    }
}

/// The limits of one parse; [`parse_document`] and [`parse_fragment`] use [`MAX_DEPTH`] and [`MAX_NODES`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    depth: usize,
    nodes: usize,
}

const LIMITS: Limits = Limits {
    depth: MAX_DEPTH,
    nodes: MAX_NODES,
};

/// Parses a whole page, as [`Html::parse_document`] does, within the bounds.
pub fn parse_document(html: &str) -> Parsed {
    parse(html, false, LIMITS)
}

/// Parses HTML as the content of a `<body>`, as [`Html::parse_fragment`] does, within the bounds.
pub fn parse_fragment(html: &str) -> Parsed {
    parse(html, true, LIMITS)
}

fn parse(html: &str, fragment: bool, limits: Limits) -> Parsed {
    let document = if fragment {
        Html::new_fragment()
    } else {
        Html::new_document()
    };
    let sink = Counting::new(HtmlTreeSink::new(document));
    let (builder, tokenizer_opts) = if fragment {
        let body = html5ever::tree_builder::create_element(
            &sink,
            QualName::new(None, ns!(html), local_name!("body")),
            Vec::new(),
        );
        let builder = TreeBuilder::new_for_fragment(sink, body, None, TreeBuilderOpts::default());
        let opts = TokenizerOpts {
            initial_state: Some(builder.tokenizer_state_for_context_elem(false)),
            ..TokenizerOpts::default()
        };
        (builder, opts)
    } else {
        (
            TreeBuilder::new(sink, TreeBuilderOpts::default()),
            TokenizerOpts::default(),
        )
    };
    let tokenizer = Tokenizer::new(
        Bounded {
            builder,
            limits,
            dropped: RefCell::default(),
            too_deep: Cell::new(0),
            full: Cell::new(false),
        },
        tokenizer_opts,
    );
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // `Script` only asks a scripting browser to run a script before going on; nothing runs here.
    while let TokenizerResult::Script(_) = tokenizer.feed(&input) {}
    tokenizer.end();
    let Bounded {
        builder,
        too_deep,
        full,
        ..
    } = tokenizer.sink;
    Parsed {
        html: builder.sink.inner.finish(),
        too_deep: too_deep.get(),
        truncated: full.get(),
    }
}

/// Sits between the tokenizer and the tree builder and holds back what the bounds do not allow.
struct Bounded {
    builder: TreeBuilder<NodeId, Counting>,
    limits: Limits,
    /// Per tag name, start tags dropped whose end tag has not come yet: that end tag is dropped too, or it would
    /// close an element the page did not mean.
    dropped: RefCell<HashMap<LocalName, usize>>,
    too_deep: Cell<usize>,
    /// The node budget is used up: everything but the end of the input is ignored.
    full: Cell<bool>,
}

impl Bounded {
    /// The depth an element opened now would have (its number of ancestors, the document included), counted up to
    /// one past the limit: a probe comment lands in the tree builder's current node.
    fn depth(&self, line: u64) -> usize {
        let sink = &self.builder.sink;
        sink.probing.set(true);
        let _ = self.builder.process_token(Token::CommentToken(StrTendril::new()), line);
        sink.probing.set(false);
        let Some(parent) = sink.probed.take() else {
            return 1;
        };
        let html = sink.inner.0.borrow();
        html.tree
            .get(parent)
            .map_or(1, |node| node.ancestors().take(self.limits.depth).count() + 1)
    }

    /// Whether a start tag may be dropped without changing how the rest of the page is tokenized. Void elements
    /// never nest, so they are always kept; so are the elements whose content the tokenizer reads as raw text
    /// (`<script>`, `<style>`, `<textarea>`, …) when they are HTML: only the tree builder can switch the tokenizer
    /// into that mode, and their content cannot nest anything either.
    fn droppable(&self, tag: &Tag) -> bool {
        if tag.self_closing || is_void(&tag.name) {
            return false;
        }
        // In SVG or MathML, `<style>` and `<script>` are ordinary elements and may nest.
        !is_raw_text(&tag.name) || self.builder.adjusted_current_node_present_but_not_in_html_namespace()
    }
}

impl TokenSink for Bounded {
    type Handle = NodeId;

    fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<NodeId> {
        if matches!(token, Token::EOFToken) {
            return self.builder.process_token(token, line);
        }
        if self.full.get() {
            return TokenSinkResult::Continue;
        }
        if self.builder.sink.nodes.get() >= self.limits.nodes {
            self.full.set(true);
            return TokenSinkResult::Continue;
        }
        if let Token::TagToken(tag) = &token {
            match tag.kind {
                TagKind::StartTag if self.droppable(tag) && self.depth(line) > self.limits.depth => {
                    *self.dropped.borrow_mut().entry(tag.name.clone()).or_default() += 1;
                    self.too_deep.set(self.too_deep.get() + 1);
                    return TokenSinkResult::Continue;
                }
                TagKind::EndTag => {
                    if let Some(open) = self.dropped.borrow_mut().get_mut(&tag.name).filter(|n| **n > 0) {
                        *open -= 1;
                        return TokenSinkResult::Continue;
                    }
                }
                TagKind::StartTag => {}
            }
        }
        self.builder.process_token(token, line)
    }

    fn end(&self) {
        self.builder.end();
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.builder.adjusted_current_node_present_but_not_in_html_namespace()
    }
}

/// Attributes lazy-loading scripts read the real image from, most common first. The page's own `src` is then
/// a placeholder (a 1×1 GIF, `loading.gif`), which is why these win over it.
pub const LAZY_SRC: &[&str] = &["data-src", "data-original", "data-lazy-src", "data-actualsrc"];

/// Elements without content: HTML's void elements, and the obsolete ones parsed like them. A serializer writes no end
/// tag for them (one would make a stray element when the HTML is parsed again); the bounded tree builder never
/// counts them as open. The one list every part of feedwright uses.
pub const VOID: [&str; 19] = [
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img", "input", "keygen",
    "link", "meta", "param", "source", "track", "wbr",
];

fn is_void(name: &LocalName) -> bool {
    VOID.contains(&&**name)
}

/// HTML elements whose content the tokenizer reads as text, not markup (scripting is on in the tree builder, as in
/// scraper, so `<noscript>` is one of them).
fn is_raw_text(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("script")
            | local_name!("style")
            | local_name!("xmp")
            | local_name!("iframe")
            | local_name!("noembed")
            | local_name!("noframes")
            | local_name!("noscript")
            | local_name!("textarea")
            | local_name!("title")
            | local_name!("plaintext")
    )
}

/// scraper's tree sink, counting the nodes it creates and catching the probe comment of [`Bounded::depth`].
struct Counting {
    inner: HtmlTreeSink,
    nodes: Cell<usize>,
    probing: Cell<bool>,
    /// A comment node outside the tree, handed to the tree builder for each probe.
    probe: NodeId,
    /// Where the last probe would have been inserted.
    probed: Cell<Option<NodeId>>,
}

impl Counting {
    fn new(inner: HtmlTreeSink) -> Self {
        let probe = inner
            .0
            .borrow_mut()
            .tree
            .orphan(Node::Comment(scraper::node::Comment {
                comment: Default::default(),
            }))
            .id();
        Counting {
            inner,
            nodes: Cell::new(0),
            probing: Cell::new(false),
            probe,
            probed: Cell::new(None),
        }
    }

    fn count(&self) {
        self.nodes.set(self.nodes.get() + 1);
    }

    /// Catches the probe: records where it would go instead of inserting it.
    fn caught(&self, child: &NodeOrText<NodeId>, parent: impl FnOnce() -> Option<NodeId>) -> bool {
        let caught = matches!(child, NodeOrText::AppendNode(id) if *id == self.probe);
        if caught {
            self.probed.set(parent());
        }
        caught
    }

    fn parent_of(&self, id: NodeId) -> Option<NodeId> {
        self.inner
            .0
            .borrow()
            .tree
            .get(id)
            .and_then(|n| n.parent())
            .map(|p| p.id())
    }
}

impl TreeSink for Counting {
    type Handle = NodeId;
    type Output = Html;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Html {
        self.inner.finish()
    }

    fn parse_error(&self, msg: Cow<'static, str>) {
        self.inner.parse_error(msg);
    }

    fn get_document(&self) -> NodeId {
        self.inner.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a NodeId) -> Ref<'a, QualName> {
        self.inner.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> NodeId {
        self.count();
        self.inner.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> NodeId {
        if self.probing.get() {
            return self.probe;
        }
        self.count();
        self.inner.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> NodeId {
        self.count();
        self.inner.create_pi(target, data)
    }

    fn append(&self, parent: &NodeId, child: NodeOrText<NodeId>) {
        if !self.caught(&child, || Some(*parent)) {
            self.inner.append(parent, child);
        }
    }

    fn append_based_on_parent_node(&self, element: &NodeId, prev_element: &NodeId, child: NodeOrText<NodeId>) {
        let parent = || self.parent_of(*element).or(Some(*prev_element));
        if !self.caught(&child, parent) {
            self.inner.append_based_on_parent_node(element, prev_element, child);
        }
    }

    fn append_doctype_to_document(&self, name: StrTendril, public_id: StrTendril, system_id: StrTendril) {
        self.inner.append_doctype_to_document(name, public_id, system_id);
    }

    fn mark_script_already_started(&self, node: &NodeId) {
        self.inner.mark_script_already_started(node);
    }

    fn pop(&self, node: &NodeId) {
        self.inner.pop(node);
    }

    fn get_template_contents(&self, target: &NodeId) -> NodeId {
        self.inner.get_template_contents(target)
    }

    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        self.inner.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode);
    }

    fn append_before_sibling(&self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        if !self.caught(&new_node, || self.parent_of(*sibling)) {
            self.inner.append_before_sibling(sibling, new_node);
        }
    }

    fn add_attrs_if_missing(&self, target: &NodeId, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs);
    }

    fn associate_with_form(&self, target: &NodeId, form: &NodeId, nodes: (&NodeId, Option<&NodeId>)) {
        self.inner.associate_with_form(target, form, nodes);
    }

    fn remove_from_parent(&self, target: &NodeId) {
        self.inner.remove_from_parent(target);
    }

    fn reparent_children(&self, node: &NodeId, new_parent: &NodeId) {
        self.inner.reparent_children(node, new_parent);
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &NodeId) -> bool {
        self.inner.is_mathml_annotation_xml_integration_point(handle)
    }

    fn set_current_line(&self, line_number: u64) {
        self.inner.set_current_line(line_number);
    }
}

/// Appends `s` escaped for HTML: `&`, `<`, `>` in text; `&`, `"` in an attribute value. Escaping `>` in text is not
/// required, but keeps `-->`, `]]>` and friends inert for whatever reads the HTML next.
pub fn escape_into(out: &mut String, s: &str, attribute: bool) {
    // The characters escaped are ASCII, so each byte found is a whole character and the runs between them are
    // copied whole (a page's text is mostly such runs).
    let mut run = 0;
    for (at, byte) in s.bytes().enumerate() {
        let escaped = match byte {
            b'&' => "&amp;",
            b'"' if attribute => "&quot;",
            b'<' if !attribute => "&lt;",
            b'>' if !attribute => "&gt;",
            _ => continue,
        };
        out.push_str(&s[run..at]);
        out.push_str(escaped);
        run = at + 1;
    }
    out.push_str(&s[run..]);
}

/// Whether an image URL is an inline `data:` value: on news pages that is a lazy-loading placeholder, never the
/// picture.
pub fn is_data_url(url: &str) -> bool {
    url.trim_start()
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(depth: usize, nodes: usize) -> Limits {
        Limits { depth, nodes }
    }

    /// The deepest element under the root, and how many elements the tree holds.
    fn shape(html: &Html) -> (usize, usize) {
        let root = html.tree.root();
        let deepest = root
            .descendants()
            .filter(|n| n.value().is_element())
            .map(|n| n.ancestors().count())
            .max()
            .unwrap_or(0);
        (deepest, root.descendants().filter(|n| n.value().is_element()).count())
    }

    fn text(html: &Html) -> String {
        html.root_element().text().collect()
    }

    #[test]
    fn ordinary_pages_parse_exactly_as_scraper_parses_them() {
        for page in [
            "<!DOCTYPE html><html><head><title>t</title><script>if (a<b) x()</script></head><body><p>one<p>two<ul><li>a<li>b</ul><table><tr><td>c</table><b>bold<i>both</b>italic</i><svg><style>x</style></svg><!-- c --></body></html>",
            "<p><b id=1>x<div>y</div>z",
            "<template><div>t</div></template><pre>\n\nx</pre><textarea><b>raw</b></textarea>",
            "",
        ] {
            let bounded = parse_document(page);
            assert!(!bounded.bounded(), "{page}");
            assert_eq!(bounded.html.html(), Html::parse_document(page).html(), "{page}");
            let bounded = parse_fragment(page);
            assert_eq!(bounded.html.html(), Html::parse_fragment(page).html(), "{page}");
        }
    }

    #[test]
    fn nesting_is_capped_and_the_end_tags_of_dropped_elements_are_dropped_too() {
        let depth = 100;
        let page = format!("{}deep{}<p>after</p>", "<div>".repeat(depth), "</div>".repeat(depth));
        let parsed = parse(&page, false, small(20, MAX_NODES));
        let (deepest, _) = shape(&parsed.html);
        assert_eq!(deepest, 20);
        assert!(parsed.too_deep > 0 && !parsed.truncated);
        assert_eq!(text(&parsed.html), "deepafter");
        // The paragraph after the deep part is where the page put it: a child of <body>, not of a leftover <div>.
        let p = parsed
            .html
            .select(&scraper::Selector::parse("body > p").unwrap())
            .count();
        assert_eq!(p, 1);
    }

    #[test]
    fn capped_nesting_keeps_void_elements_and_raw_text() {
        let page = format!(
            "{}<br><img src=a.jpg><script>if (a<b) {{}}</script><span>t</span>",
            "<div>".repeat(50)
        );
        let parsed = parse(&page, false, small(10, MAX_NODES));
        let html = parsed.html.html();
        assert!(
            html.contains("<br><img src=\"a.jpg\"><script>if (a<b) {}</script>t"),
            "{html}"
        );
    }

    #[test]
    fn unclosed_paragraphs_and_list_items_are_not_deep() {
        // Implied end tags close these, so they never count as nesting.
        let page = format!("<ul>{}</ul>{}", "<li>item".repeat(1000), "<p>para".repeat(1000));
        let parsed = parse_document(&page);
        assert!(!parsed.bounded());
        assert_eq!(shape(&parsed.html).1, 2000 + 4);
    }

    /// `bold` unclosed `<b id=N>` in a paragraph, then `divs` blocks: each block closes the paragraph, and the tree
    /// builder re-opens every `<b>` inside it.
    fn formatting_bomb(bold: usize, divs: usize) -> String {
        let bold: String = (0..bold).map(|n| format!("<b id={n}>")).collect();
        format!("<p>{bold}{}", "<div>x</div>".repeat(divs))
    }

    #[test]
    fn formatting_reconstruction_is_stopped_by_the_node_budget() {
        let unbounded = shape(&Html::parse_document(&formatting_bomb(200, 20))).1;
        assert!(unbounded > 200 * 20, "the parser multiplies them: {unbounded}");
        let parsed = parse(&formatting_bomb(200, 1000), false, small(MAX_DEPTH, 10_000));
        let (deepest, elements) = shape(&parsed.html);
        assert!(parsed.truncated && parsed.too_deep == 0);
        assert!((10_000..=2 * 10_000).contains(&elements), "{elements}");
        assert!(deepest <= MAX_DEPTH, "{deepest}");
        assert!(text(&parsed.html).starts_with("xx"), "parsed up to the budget");
    }

    #[test]
    fn a_thousand_unclosed_b_are_stopped_by_the_depth_bound_before_they_multiply() {
        // The 253rd <b> is at the deepest level kept, so no <div> opens (and none closes the paragraph).
        let parsed = parse_document(&formatting_bomb(1000, 1000));
        let (deepest, elements) = shape(&parsed.html);
        assert_eq!(deepest, MAX_DEPTH);
        assert!(elements < 300 && !parsed.truncated, "{elements}");
        assert_eq!(text(&parsed.html), "x".repeat(1000));
    }

    #[test]
    fn the_default_bounds_hold_for_a_hostile_megabyte() {
        let page = format!("{}deep{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        let parsed = parse_document(&page);
        assert_eq!(shape(&parsed.html).0, MAX_DEPTH);
        // <html> is at depth 1 and <body> at 2, so 254 of the <div>s are kept.
        assert_eq!(parsed.too_deep, 100_000 + 2 - MAX_DEPTH);
        assert_eq!(text(&parsed.html), "deep");
    }

    #[test]
    fn text_and_attributes_escape_what_they_must() {
        let mut out = String::new();
        escape_into(&mut out, r#"a < b & "c" > d"#, false);
        assert_eq!(out, r#"a &lt; b &amp; "c" &gt; d"#);
        out.clear();
        escape_into(&mut out, r#"a < b & "c""#, true);
        assert_eq!(out, "a < b &amp; &quot;c&quot;");
        out.clear();
        escape_into(&mut out, "新<闻>&é\"", false);
        assert_eq!(out, "新&lt;闻&gt;&amp;é\"");
    }

    #[test]
    fn data_urls_are_recognised_in_any_case() {
        assert!(is_data_url("data:image/gif;base64,R0lGOD=="));
        assert!(is_data_url(" DATA:x"));
        assert!(!is_data_url("/images/data.jpg"));
        assert!(!is_data_url("dat"));
    }
}
