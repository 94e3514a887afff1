//! Bytes to text: finds the page's character encoding and decodes it.
//!
//! The order is the one browsers use: the HTTP `charset`, a byte-order mark, a `<meta>` declaration (or, for a
//! feed, the XML declaration's `encoding`), then detection. Chinese sites often send a wrong header or none, so a declared encoding that does not decode the
//! bytes cleanly yields to the next candidate instead of producing mojibake. GB2312 is decoded as GBK (GB18030),
//! as browsers do, since real "GB2312" pages use GBK characters.
//!
//! A declared UTF-8 is the exception to "cleanly": one stray byte in a UTF-8 page must cost one U+FFFD, not the
//! whole page re-read as windows-1252. So a declared UTF-8 yields only when the bytes are plainly not UTF-8, by
//! measurement ([`plainly_not_utf8`]). Pure: bytes and a header value in, text and the decision ([`How`]) out, so
//! the caller can log which way was taken.

use encoding_rs::Encoding;

/// A declared UTF-8 is overruled only with at least this many invalid sequences...
const MIN_INVALID_UTF8: usize = 4;
/// ... that make up at least this share (in percent) of the non-ASCII bytes. GBK or windows-1252 text read as
/// UTF-8 has an invalid sequence for nearly every one or two non-ASCII bytes (50-100 %); a UTF-8 page with a few
/// stray bytes has one per hundreds of them.
const MIN_INVALID_UTF8_SHARE: usize = 25;

/// The decoded text, the encoding used and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub how: How,
}

/// Which way [`decode_page`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A byte-order mark named the encoding.
    Bom,
    /// A declared encoding (HTTP header or `<meta>`) decoded the bytes cleanly.
    Declared,
    /// UTF-8 was declared and the bytes are UTF-8 but for `invalid` sequences, each replaced by U+FFFD.
    Repaired { invalid: usize },
    /// Nothing usable was declared (`declared` is the declaration overruled, if any); detection chose.
    Detected { declared: Option<&'static Encoding> },
    /// Nothing decoded cleanly: the first declared encoding, with replacement characters.
    Lossy,
}

impl How {
    /// A short word for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            How::Bom => "bom",
            How::Declared => "declared",
            How::Repaired { .. } => "declared, invalid bytes replaced",
            How::Detected { declared: None } => "detected",
            How::Detected { declared: Some(_) } => "detected, declaration overruled",
            How::Lossy => "declared, nothing decoded cleanly",
        }
    }
}

/// Decodes `bytes`: the text, the encoding used and how it was chosen.
pub fn decode_page(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let done = |(text, encoding), how| Decoded { text, encoding, how };
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return done((decode_with(encoding, &bytes[bom_len..]).0, encoding), How::Bom);
    }
    let mut declared: Vec<&'static Encoding> = Vec::with_capacity(2);
    for encoding in [
        content_type.and_then(charset_param),
        xml_encoding(bytes),
        meta_charset(bytes),
    ]
    .into_iter()
    .flatten()
    {
        if !declared.contains(&encoding) {
            declared.push(encoding);
        }
    }
    let mut clean = Vec::new();
    let mut first = None;
    let mut repaired = None;
    for &encoding in &declared {
        let (text, is_clean) = decode_with(encoding, bytes);
        if is_clean {
            clean.push((text, encoding));
        } else if encoding == encoding_rs::UTF_8 && !plainly_not_utf8(bytes) {
            // UTF-8 with a few bad bytes is still UTF-8: it counts as fitting, with replacement characters.
            repaired = Some(invalid_utf8_sequences(bytes));
            clean.push((text, encoding));
        } else {
            first.get_or_insert((text, encoding));
        }
    }
    let how = |encoding: &'static Encoding| match repaired {
        Some(invalid) if encoding == encoding_rs::UTF_8 => How::Repaired { invalid },
        _ => How::Declared,
    };
    if clean.len() > 1 {
        // The header and the `<meta>` disagree and both decode without errors (single-byte encodings decode
        // anything, and so does GBK for much UTF-8): let detection pick between them, else trust the header.
        let detected = detect(bytes);
        let pick = clean.iter().position(|(_, e)| *e == detected).unwrap_or(0);
        let picked = clean.swap_remove(pick);
        let how = how(picked.1);
        return done(picked, how);
    }
    if let Some(only) = clean.pop() {
        let how = how(only.1);
        return done(only, how);
    }
    let detected = detect(bytes);
    let (text, clean) = decode_with(detected, bytes);
    if clean || first.is_none() {
        let how = How::Detected {
            declared: declared.first().copied(),
        };
        return done((text, detected), how);
    }
    done(first.expect("checked above"), How::Lossy)
}

/// Whether bytes are too far from UTF-8 to be a UTF-8 page with a few stray bytes: enough invalid sequences, and
/// a large share of the non-ASCII bytes. One bad byte in a mostly ASCII page is not plain evidence of anything.
fn plainly_not_utf8(bytes: &[u8]) -> bool {
    let invalid = invalid_utf8_sequences(bytes);
    let non_ascii = bytes.iter().filter(|b| !b.is_ascii()).count();
    invalid >= MIN_INVALID_UTF8 && invalid * 100 >= non_ascii * MIN_INVALID_UTF8_SHARE
}

/// How many invalid sequences (each one U+FFFD when decoded) `bytes` holds as UTF-8.
fn invalid_utf8_sequences(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    let mut invalid = 0;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => return invalid,
            Err(e) => {
                invalid += 1;
                let skip = e.valid_up_to() + e.error_len().unwrap_or(rest.len() - e.valid_up_to());
                rest = &rest[skip..];
            }
        }
    }
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

/// The encoding an XML declaration names (`<?xml version="1.0" encoding="gbk"?>`), for feeds: it must open the
/// document (after a byte-order mark, which [`decode_page`] reads first).
fn xml_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = bytes.get(..bytes.len().min(256))?;
    let end = find(head, b"?>")?;
    let declaration = head.trim_ascii_start().strip_prefix(b"<?xml")?;
    let declaration = &declaration[..declaration.len().min(end)];
    let at = find(declaration, b"encoding")?;
    let rest = declaration[at + "encoding".len()..]
        .trim_ascii_start()
        .strip_prefix(b"=")?
        .trim_ascii_start();
    let value: Vec<u8> = rest
        .iter()
        .copied()
        .skip_while(|b| *b == b'"' || *b == b'\'')
        .take_while(|b| !matches!(b, b'"' | b'\'' | b'?') && !b.is_ascii_whitespace())
        .collect();
    label(std::str::from_utf8(&value).ok()?)
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

    fn decode(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
        let decoded = decode_page(bytes, content_type);
        (decoded.text, decoded.encoding)
    }

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
    fn an_xml_declaration_names_a_feed_encoding() {
        let mut bytes = b"<?xml version=\"1.0\" encoding='GB2312'?><rss><channel><title>".to_vec();
        bytes.extend(encoding_rs::GBK.encode(ZH).0.iter());
        bytes.extend(b"</title></channel></rss>");
        let decoded = decode_page(&bytes, Some("application/rss+xml"));
        assert_eq!(decoded.encoding, encoding_rs::GBK);
        assert!(decoded.text.contains(ZH));
        assert_eq!(decoded.how, How::Declared);
    }

    #[test]
    fn a_gbk_feed_labelled_utf8_is_decoded_as_gbk() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss><channel><title>".to_vec();
        bytes.extend(encoding_rs::GBK.encode(ZH).0.iter());
        bytes.extend(b"</title></channel></rss>");
        let decoded = decode_page(&bytes, Some("application/rss+xml; charset=utf-8"));
        assert_eq!(decoded.encoding, encoding_rs::GBK);
        assert!(decoded.text.contains(ZH));
        assert!(
            matches!(decoded.how, How::Detected { declared: Some(_) }),
            "{:?}",
            decoded.how
        );
    }

    #[test]
    fn bom_wins() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<p>ok ✓</p>".as_bytes());
        let (text, enc) = decode(&bytes, Some("text/html; charset=iso-8859-1"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert_eq!(text, "<p>ok ✓</p>");
    }

    fn utf8_page(body: &str) -> Vec<u8> {
        format!("<html><head><meta charset=\"utf-8\"><title>t</title></head><body>{body}</body></html>").into_bytes()
    }

    #[test]
    fn one_stray_byte_does_not_garble_a_declared_utf8_page() {
        // The page of the report: declared UTF-8 twice, one invalid byte among German and Chinese text.
        let mut bytes = utf8_page("<p>Grüße 中文</p><p>Ende</p>");
        let at = bytes.windows(4).position(|w| w == b"Ende").unwrap();
        bytes.insert(at, 0xFF);
        let got = decode_page(&bytes, Some("text/html; charset=utf-8"));
        assert_eq!(got.encoding, encoding_rs::UTF_8);
        assert_eq!(got.how, How::Repaired { invalid: 1 });
        assert!(got.text.contains("Grüße 中文"), "{}", got.text);
        assert!(got.text.contains("\u{FFFD}Ende"), "{}", got.text);
        assert!(!got.text.contains("GrÃ¼"), "{}", got.text);
    }

    #[test]
    fn one_stray_byte_in_a_mostly_ascii_utf8_page_is_one_replacement_character() {
        // One invalid byte is 100 % of the non-ASCII bytes here, yet no evidence that the page is not UTF-8.
        let mut bytes = utf8_page("<p>plain text</p>");
        bytes.splice(0..0, *b"<!-- x -->");
        let at = bytes.windows(4).position(|w| w == b"text").unwrap();
        bytes.insert(at, 0xE9);
        let got = decode_page(&bytes, Some("text/html; charset=UTF-8"));
        assert_eq!(got.encoding, encoding_rs::UTF_8);
        assert_eq!(got.how, How::Repaired { invalid: 1 });
        assert!(got.text.contains("plain \u{FFFD}text"), "{}", got.text);
    }

    #[test]
    fn a_few_invalid_sequences_in_a_chinese_utf8_page_stay_utf8() {
        // Three bad bytes (more would still pass: the share of invalid sequences is what counts).
        let mut bytes = utf8_page("");
        let body_end = bytes.len() - "</body></html>".len();
        let mut body = Vec::new();
        for _ in 0..3 {
            body.extend_from_slice(format!("<p>{ZH}</p>").as_bytes());
            body.extend_from_slice(&[0xC0, 0xE4, 0xB8]);
        }
        bytes.splice(body_end..body_end, body);
        let got = decode_page(&bytes, None);
        assert_eq!(got.encoding, encoding_rs::UTF_8);
        assert_eq!(got.how, How::Repaired { invalid: 6 });
        assert_eq!(got.text.matches(ZH).count(), 3);
    }

    #[test]
    fn a_gbk_page_labelled_utf8_everywhere_is_detected_as_gbk() {
        // Plainly not UTF-8: nearly every GBK character is an invalid UTF-8 sequence.
        let bytes = gbk_page(r#"<meta charset="utf-8">"#);
        assert!(plainly_not_utf8(&bytes));
        let got = decode_page(&bytes, Some("text/html; charset=utf-8"));
        assert_eq!(got.encoding, encoding_rs::GBK);
        assert_eq!(
            got.how,
            How::Detected {
                declared: Some(encoding_rs::UTF_8)
            }
        );
        assert!(got.text.contains(ZH), "{}", got.text);
    }

    #[test]
    fn a_windows1252_page_labelled_utf8_is_detected() {
        let text = "<p>Café, crème brûlée, déjà vu, señor, façade, naïve, Zürich, Grüße.</p>";
        let bytes = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
        let got = decode_page(&bytes, Some("text/html; charset=utf-8"));
        assert_eq!(got.encoding, encoding_rs::WINDOWS_1252);
        assert!(got.text.contains("crème brûlée"), "{}", got.text);
    }

    #[test]
    fn invalid_sequences_are_counted_as_utf8_decoding_replaces_them() {
        for bytes in [
            &b"ok"[..],
            b"a\xFFb",
            b"\xE4\xB8",
            b"\xE4\xB8a\xFF\xFE",
            "中".as_bytes(),
        ] {
            let replaced = String::from_utf8_lossy(bytes).matches('\u{FFFD}').count();
            assert_eq!(invalid_utf8_sequences(bytes), replaced, "{bytes:?}");
        }
    }
}
