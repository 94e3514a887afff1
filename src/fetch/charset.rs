//! Bytes to text: finds the page's character encoding and decodes it.
//!
//! The order is the one browsers use: the HTTP `charset`, a byte-order mark, a `<meta>` declaration, then
//! detection. Chinese sites often send a wrong header or none, so a declared encoding that does not decode the
//! bytes cleanly yields to the next candidate instead of producing mojibake. GB2312 is decoded as GBK (GB18030),
//! as browsers do, since real "GB2312" pages use GBK characters.

use encoding_rs::Encoding;

/// Decodes `bytes`, returning the text and the encoding used.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return (decode_with(encoding, &bytes[bom_len..]).0, encoding);
    }
    let mut declared: Vec<&'static Encoding> = Vec::with_capacity(2);
    for encoding in [content_type.and_then(charset_param), meta_charset(bytes)]
        .into_iter()
        .flatten()
    {
        if !declared.contains(&encoding) {
            declared.push(encoding);
        }
    }
    let mut clean = Vec::new();
    let mut first = None;
    for encoding in declared {
        let (text, is_clean) = decode_with(encoding, bytes);
        if is_clean {
            clean.push((text, encoding));
        } else {
            first.get_or_insert((text, encoding));
        }
    }
    if clean.len() > 1 {
        // The header and the `<meta>` disagree and both decode without errors (single-byte encodings decode
        // anything, and so does GBK for much UTF-8): let detection pick between them, else trust the header.
        let detected = detect(bytes);
        let pick = clean.iter().position(|(_, e)| *e == detected).unwrap_or(0);
        return clean.swap_remove(pick);
    }
    if let Some(only) = clean.pop() {
        return only;
    }
    let detected = detect(bytes);
    let (text, clean) = decode_with(detected, bytes);
    if clean || first.is_none() {
        return (text, detected);
    }
    first.expect("checked above")
}

fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> (String, bool) {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    (text.into_owned(), !had_errors)
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    detector.guess(None, true)
}

/// The `charset` parameter of a Content-Type header value.
fn charset_param(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| label(value))?
    })
}

/// The encoding a `<meta charset=..>` or `<meta http-equiv=Content-Type content="..; charset=..">` declares
/// in the first 4 KiB, as the HTML prescan does.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"<meta") {
        let start = from + pos;
        let end = find(&lower[start..], b">").map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        // A tag that merely mentions "charset" (say in a keywords list) is passed over, not the end of the search.
        let value = find(tag, b"charset").and_then(|c| {
            let rest = tag[c + "charset".len()..]
                .trim_ascii_start()
                .strip_prefix(b"=")?
                .trim_ascii_start();
            let value: Vec<u8> = rest
                .iter()
                .copied()
                .skip_while(|b| *b == b'"' || *b == b'\'')
                .take_while(|b| !matches!(b, b'"' | b'\'' | b';' | b'/') && !b.is_ascii_whitespace())
                .collect();
            String::from_utf8(value).ok()
        });
        if let Some(encoding) = value.as_deref().and_then(label) {
            return Some(encoding);
        }
        from = end.max(start + 1);
    }
    None
}

fn label(value: &str) -> Option<&'static Encoding> {
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    let encoding = Encoding::for_label(value.as_bytes())?;
    // A page cannot really be UTF-16 once it was read as ASCII-compatible bytes; browsers treat that as UTF-8.
    if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        return Some(encoding_rs::UTF_8);
    }
    Some(encoding)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZH: &str = "世界互联网大会在乌镇开幕，朱镕基";

    fn gbk_page(meta: &str) -> Vec<u8> {
        let html = format!("<html><head>{meta}<title>新闻</title></head><body><p>{ZH}</p></body></html>");
        encoding_rs::GBK.encode(&html).0.into_owned()
    }

    #[test]
    fn http_charset_wins_when_it_decodes_cleanly() {
        let (text, enc) = decode("<p>caf\u{e9}</p>".as_bytes(), Some("text/html; charset=UTF-8"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert!(text.contains("café"));
    }

    #[test]
    fn gb2312_meta_is_decoded_as_gbk() {
        let bytes = gbk_page(r#"<meta http-equiv="Content-Type" content="text/html; charset=gb2312">"#);
        let (text, enc) = decode(&bytes, Some("text/html"));
        assert_eq!(enc, encoding_rs::GBK);
        assert!(text.contains(ZH), "{text}");
    }

    #[test]
    fn html5_meta_charset_is_found() {
        let bytes = gbk_page(r#"<meta charset='gbk' />"#);
        assert!(decode(&bytes, None).0.contains(ZH));
    }

    #[test]
    fn a_header_that_contradicts_the_bytes_yields_to_the_meta() {
        let bytes = gbk_page(r#"<meta charset="gb2312">"#);
        let (text, enc) = decode(&bytes, Some("text/html; charset=utf-8"));
        assert_eq!(enc, encoding_rs::GBK);
        assert!(text.contains(ZH));
    }

    #[test]
    fn a_latin1_header_on_a_gbk_page_yields_to_the_meta() {
        // Servers often add `charset=ISO-8859-1` by default; windows-1252 decodes any bytes, so cleanliness alone
        // cannot tell, and detection breaks the tie.
        let bytes = gbk_page(r#"<meta http-equiv="Content-Type" content="text/html; charset=gbk">"#);
        let (text, enc) = decode(&bytes, Some("text/html; charset=ISO-8859-1"));
        assert_eq!(enc, encoding_rs::GBK);
        assert!(text.contains(ZH), "{text}");
    }

    #[test]
    fn a_gbk_header_on_a_utf8_page_yields_to_the_meta() {
        let html = format!("<html><head><meta charset=\"utf-8\"></head><body><p>{ZH}</p></body></html>");
        let (text, enc) = decode(html.as_bytes(), Some("text/html; charset=GBK"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert!(text.contains(ZH), "{text}");
    }

    #[test]
    fn a_header_and_meta_that_agree_are_used_as_is() {
        let bytes = gbk_page(r#"<meta charset="gb2312">"#);
        let (text, enc) = decode(&bytes, Some("text/html; charset=gbk"));
        assert_eq!(enc, encoding_rs::GBK);
        assert!(text.contains(ZH));
    }

    #[test]
    fn a_meta_that_only_mentions_charset_does_not_hide_the_real_one() {
        let bytes = gbk_page(r#"<meta name="keywords" content="charset, encoding"><meta charset="gbk">"#);
        let (text, enc) = decode(&bytes, None);
        assert_eq!(enc, encoding_rs::GBK);
        assert!(text.contains(ZH));
    }

    #[test]
    fn undeclared_gbk_is_detected() {
        let bytes = gbk_page("");
        let (text, _) = decode(&bytes, None);
        assert!(text.contains(ZH), "{text}");
    }

    #[test]
    fn bom_wins() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<p>ok ✓</p>".as_bytes());
        let (text, enc) = decode(&bytes, Some("text/html; charset=iso-8859-1"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert_eq!(text, "<p>ok ✓</p>");
    }
}
