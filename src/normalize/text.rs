//! Plain-text cleanup for short fields: titles, authors, captions, summaries.
//!
//! Input is text as `extract` found it. Most of it was already decoded by the HTML parser, but values taken from
//! `<meta content>` or double-escaped CMS fields still carry `&amp;` and friends, and real pages put NBSP,
//! zero-width spaces and stray control characters into headlines. [`clean`] turns such a string into one tidy line;
//! [`collapse`] does the same without touching entities (for text that is known to be decoded); [`xml_safe`] only
//! removes what an XML document may not contain; [`body_safe`] adds the bidi controls to that, and is the last
//! step for HTML bodies. Nothing here knows about HTML structure: markup in the input is treated as text.
//!
//! Bidi embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069) are removed from every field,
//! plain text and bodies alike: a hostile site could otherwise make a reader show a title or byline reversed or
//! reordered, and the same feed reads differently in each client. The marks (LRM U+200E, RLM U+200F, ALM U+061C)
//! stay: they cannot reverse anything, only give neutral punctuation a direction, which Arabic and Hebrew
//! headlines use on purpose.

use std::borrow::Cow;

/// Decodes leftover HTML entities, drops invisible and control characters, maps every Unicode space to an ASCII
/// space, collapses runs of whitespace and trims.
///
/// Entities are decoded in a single left-to-right pass, so `&amp;lt;` becomes `&lt;`, never `<`.
pub fn clean(s: &str) -> String {
    if s.contains('&') {
        collapse(&decode_entities(s))
    } else {
        collapse(s)
    }
}

/// Like [`clean`] but leaves `&` sequences alone: for text that came out of an HTML parser and is already decoded.
pub fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // A space is only written once the next visible character arrives, so leading and trailing whitespace vanish.
    let mut pending_space = false;
    for c in s.chars() {
        if is_invisible(c) || is_control(c) || is_bidi_control(c) {
            // Removed outright, not turned into a space: a zero-width space inside a word must not split it.
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Removes the characters that XML 1.0 forbids (C0 controls other than tab, newline and carriage return, and
/// U+FFFE/U+FFFF), leaving everything else untouched. Borrows when there is nothing to remove, which is the usual
/// case.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_xml_illegal) {
        Cow::Owned(s.chars().filter(|&c| !is_xml_illegal(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Like [`xml_safe`], and also removes the bidi controls (see the module documentation): for HTML bodies, whose
/// text a reader shows as it is.
pub fn body_safe(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_xml_illegal(c) || is_bidi_control(c);
    if s.chars().any(unsafe_char) {
        Cow::Owned(s.chars().filter(|&c| !unsafe_char(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Bidi embeddings, overrides and their terminator (U+202A–U+202E), and isolates (U+2066–U+2069): they reorder
/// the text around them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_xml_illegal(c: char) -> bool {
    // Surrogates cannot occur in a Rust string, so these are the only code points outside the XML 1.0 `Char`
    // production.
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Control characters that have no business in a one-line field. Besides what XML forbids this includes DEL and
/// the C1 range, which in scraped text is almost always mis-decoded Windows-1252 and renders as nothing or a box.
/// Vertical tab and form feed count as controls here, not as whitespace: they are removed, not turned into spaces.
fn is_control(c: char) -> bool {
    is_xml_illegal(c) || matches!(c, '\u{7F}'..='\u{9F}')
}

/// Characters that take no room when rendered and only break matching, copying and word counting.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match decode_one(after) {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the entity at the start of `s` (just after the `&`). Returns the character and how many bytes of `s`
/// it used, including the `;`. A `;` is required: without it `AT&T` or `?a=1&b=2` would be mangled.
fn decode_one(s: &str) -> Option<(char, usize)> {
    // The longest name we know has 6 characters and the longest numeric form, `#x10FFFF`, 8; a `;` further away
    // belongs to something else.
    let semi = s.char_indices().take(12).find(|&(_, c)| c == ';')?.0;
    let body = &s[..semi];
    let c = if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()?
            }
            Some(_) => return None,
            None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => num.parse().ok()?,
            None => return None,
        };
        numeric_char(code)
    } else {
        named_char(body)?
    };
    Some((c, semi + 1))
}

/// Maps a numeric character reference to a character the way browsers do: the C1 range is read as Windows-1252
/// (CMS exports are full of `&#151;`), and anything that is not a valid scalar value becomes U+FFFD.
fn numeric_char(code: u32) -> char {
    const CP1252: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{2C6}',
        '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}',
        '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}',
        '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
    ];
    match code {
        0 => '\u{FFFD}',
        0x80..=0x9F => CP1252[(code - 0x80) as usize],
        _ => char::from_u32(code).unwrap_or('\u{FFFD}'),
    }
}

/// The named entities that actually show up in news titles and metadata; the full HTML table (2,000+ names) would
/// be dead weight, and an unknown name is left as written.
fn named_char(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "zwsp" => '\u{200B}',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "shy" => '\u{AD}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "middot" => '·',
        "bull" => '•',
        "deg" => '°',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "times" => '×',
        "divide" => '÷',
        "plusmn" => '±',
        "sect" => '§',
        "para" => '¶',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nbsp_and_unicode_spaces_become_single_spaces() {
        assert_eq!(
            clean("\u{A0}\u{A0}Xi\u{A0}Jinping\u{3000}speaks\u{2003} "),
            "Xi Jinping speaks"
        );
    }

    #[test]
    fn whitespace_runs_collapse_and_ends_are_trimmed() {
        assert_eq!(
            clean("\n\t  World   Internet\r\n Conference \t"),
            "World Internet Conference"
        );
    }

    #[test]
    fn zero_width_characters_are_removed_without_splitting_words() {
        assert_eq!(
            clean("\u{FEFF}Wu\u{200B}zhen\u{200C}\u{200D} sum\u{2060}mit"),
            "Wuzhen summit"
        );
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(
            clean("Cyber\u{8}space\u{B} gover\u{1}nance\u{7F}\u{85}"),
            "Cyberspace governance"
        );
    }

    #[test]
    fn vertical_tab_between_words_does_not_become_a_space() {
        assert_eq!(clean("a\u{B}b"), "ab");
    }

    #[test]
    fn common_named_and_numeric_entities_are_decoded() {
        assert_eq!(
            clean("Tom &amp; Jerry &lt;3 &quot;hi&quot; &#8220;x&#8221; &#x4E2D;&#22269; &hellip;&nbsp;end"),
            "Tom & Jerry <3 \"hi\" “x” 中国 … end"
        );
    }

    #[test]
    fn entities_are_decoded_once_only() {
        assert_eq!(clean("&amp;lt;p&amp;gt;"), "&lt;p&gt;");
    }

    #[test]
    fn ampersands_that_are_not_entities_are_kept() {
        assert_eq!(
            clean("AT&T & R&D ?a=1&b=2 &unknown; &#xZZ; &"),
            "AT&T & R&D ?a=1&b=2 &unknown; &#xZZ; &"
        );
    }

    #[test]
    fn windows_1252_numeric_references_map_like_browsers() {
        assert_eq!(clean("2015&#150;2016 &#0;"), "2015–2016 \u{FFFD}");
    }

    #[test]
    fn decoded_entities_are_cleaned_too() {
        assert_eq!(clean("a&nbsp;&nbsp;b&#8203;c&#11;d"), "a bcd");
    }

    #[test]
    fn collapse_leaves_entities_alone() {
        assert_eq!(collapse(" a &amp;\u{A0} b "), "a &amp; b");
    }

    #[test]
    fn xml_safe_strips_only_illegal_characters() {
        assert_eq!(
            xml_safe("<p>a\u{8}b\u{B}\tc\n\u{FFFE}\u{FFFF}\u{A0}\u{200B}</p>"),
            "<p>ab\tc\n\u{A0}\u{200B}</p>"
        );
    }

    #[test]
    fn xml_safe_borrows_clean_input() {
        assert!(matches!(xml_safe("<p>fine\r\n</p>"), Cow::Borrowed(_)));
    }
    #[test]
    fn bidi_controls_are_removed_and_marks_kept() {
        assert_eq!(
            clean("\u{202E}txet desrever\u{202C} \u{2066}Li\u{2069} &#x202D;Tao&#8238;"),
            "txet desrever Li Tao"
        );
        assert_eq!(clean("\u{200F}عنوان\u{200E} (2015)"), "\u{200F}عنوان\u{200E} (2015)");
        assert_eq!(body_safe("<p>\u{202B}a\u{202C}\u{1}</p>"), "<p>a</p>");
        assert!(matches!(body_safe("<p>plain \u{200F}</p>"), Cow::Borrowed(_)));
    }
}
