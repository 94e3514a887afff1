//! Text in fixed-width columns as a terminal shows it: by display width (a CJK character takes two cells), not by
//! characters or bytes. Pure functions, for the tables `app` prints.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Cells `text` takes on a terminal.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` cells, ending with "…" when something was cut.
pub fn cut(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        // One cell stays free for the ellipsis.
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut to `cells` and padded with spaces to exactly `cells` wide.
pub fn column(text: &str, cells: usize) -> String {
    let mut out = cut(text, cells);
    let fill = cells.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', fill));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_takes_two_cells_and_is_cut_with_an_ellipsis() {
        assert_eq!(width("世界互联网"), 10);
        assert_eq!(cut("世界互联网", 10), "世界互联网");
        assert_eq!(cut("世界互联网", 9), "世界互联…");
        assert_eq!(
            cut("世界互联网", 6),
            "世界…",
            "a wide character never straddles the edge"
        );
        assert_eq!(width(&cut("世界互联网", 6)), 5);
        assert_eq!(cut("President Xi urges", 10), "President…");
    }

    #[test]
    fn a_column_is_exactly_its_width() {
        for text in [
            "",
            "abc",
            "世界互联网大会闭幕 下届继续在乌镇举行",
            "“互联网之光”博览会开展",
            "a long English title here",
        ] {
            assert_eq!(width(&column(text, 11)), 11, "{text}");
        }
        assert_eq!(column("世界", 6), "世界  ");
    }
}
