//! `fetch::charset::decode_page`: any bytes under any Content-Type give a string, and valid UTF-8 declared as UTF-8
//! comes back unchanged (less a BOM).
#![no_main]

use feedwright::fetch::charset;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("text/html"),
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=gb2312"),
    Some("text/html;charset=\"GBK\""),
    Some("text/html; charset=windows-1252"),
    Some("text/html; charset=shift_jis"),
    Some("text/html; charset=utf-16le"),
    Some("text/html; charset=x-unknown"),
    Some("application/xhtml+xml; charset=big5"),
    Some("text/html; charset="),
    Some(";;charset=;"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let content_type = CONTENT_TYPES[pick as usize % CONTENT_TYPES.len()];
    let text = charset::decode_page(bytes, content_type).text;
    if content_type == Some("text/html; charset=utf-8") && !bytes.starts_with(b"\xef\xbb\xbf") {
        if let Ok(s) = std::str::from_utf8(bytes) {
            assert_eq!(text, s);
        }
    }
});
