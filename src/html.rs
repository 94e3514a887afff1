//! Two small HTML facts that both parsing stages rely on when they write HTML back out: how text and attribute
//! values are escaped, and which image URLs are inline placeholders. Pure string functions.

/// Appends `s` escaped for HTML: `&`, `<`, `>` in text; `&`, `"` in an attribute value. Escaping `>` in text is not
/// required, but keeps `-->`, `]]>` and friends inert for whatever reads the HTML next.
pub fn escape_into(out: &mut String, s: &str, attribute: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' if attribute => out.push_str("&quot;"),
            '<' if !attribute => out.push_str("&lt;"),
            '>' if !attribute => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
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

    #[test]
    fn text_and_attributes_escape_what_they_must() {
        let mut out = String::new();
        escape_into(&mut out, r#"a < b & "c" > d"#, false);
        assert_eq!(out, r#"a &lt; b &amp; "c" &gt; d"#);
        out.clear();
        escape_into(&mut out, r#"a < b & "c""#, true);
        assert_eq!(out, "a < b &amp; &quot;c&quot;");
    }

    #[test]
    fn data_urls_are_recognised_in_any_case() {
        assert!(is_data_url("data:image/gif;base64,R0lGOD=="));
        assert!(is_data_url(" DATA:x"));
        assert!(!is_data_url("/images/data.jpg"));
        assert!(!is_data_url("dat"));
    }
}
