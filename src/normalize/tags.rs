//! Tags and categories as published: the raw names an article's page or feed gives, cleaned into a short list.
//!
//! Input is [`crate::model::RawArticle::tags`], which is hostile text: a selector's matches, JSON-LD `keywords`
//! (already split at commas by `extract`), a feed's `category` elements. [`clean`] strips markup, decodes leftover
//! entities once, collapses whitespace, drops empty and over-long names (a "tag" of a hundred characters is a
//! sentence some template put there, and a cut one would be a wrong tag), keeps each name once, compared without
//! case, in the spelling seen first, and keeps at most [`MAX_TAGS`]. The result is plain text; renderers escape it.
//! Pure: no I/O.

use super::{sanitize, text};

/// The most tags an item keeps: more say nothing a reader can use (SEO keyword lists run to dozens).
pub const MAX_TAGS: usize = 20;

/// The longest tag kept, in characters.
pub const MAX_TAG_CHARS: usize = 100;

/// How many raw names are looked at, so a page with a million tag elements costs no more than a short one.
const MAX_RAW: usize = 200;

/// The clean, de-duplicated tags of `raw`, in the order given.
pub fn clean(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for name in raw.iter().take(MAX_RAW) {
        if out.len() == MAX_TAGS {
            break;
        }
        // Longer than any tag could be even with markup: not worth parsing.
        if name.len() > MAX_TAG_CHARS * 16 {
            continue;
        }
        let name = if name.contains('<') {
            sanitize::plain_text(name)
        } else {
            text::clean(name)
        };
        if name.is_empty() || name.chars().count() > MAX_TAG_CHARS {
            continue;
        }
        let folded = name.to_lowercase();
        if !seen.contains(&folded) {
            seen.push(folded);
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(raw: &[&str]) -> Vec<String> {
        clean(&raw.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn names_are_trimmed_collapsed_and_kept_once_in_their_first_spelling() {
        assert_eq!(
            tags(&[
                "  World\n News ",
                "world news",
                "WORLD NEWS",
                "",
                " \u{a0} ",
                "Économie",
                "économie"
            ]),
            ["World News", "Économie"]
        );
    }

    #[test]
    fn markup_is_stripped_and_entities_decoded_once() {
        assert_eq!(
            tags(&[
                "<b>Tech</b>",
                "<script>alert(1)</script>Safe",
                "R&amp;D",
                "&amp;lt;b&amp;gt;"
            ]),
            ["Tech", "Safe", "R&D", "&lt;b&gt;"]
        );
    }

    #[test]
    fn count_and_length_are_capped() {
        let many: Vec<String> = (0..50).map(|n| format!("tag {n}")).collect();
        let kept = clean(&many);
        assert_eq!(kept.len(), MAX_TAGS);
        assert_eq!(kept[0], "tag 0");
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        let fits = "y".repeat(MAX_TAG_CHARS);
        assert_eq!(tags(&[&long, &fits]), [fits]);
        assert_eq!(tags(&[&"<i>z</i>".repeat(10_000)]), Vec::<String>::new());
    }
}
