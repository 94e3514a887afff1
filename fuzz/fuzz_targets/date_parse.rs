//! `normalize::date::parse` and `from_url_path`: any text gives a date or nothing, and every date given can be
//! written in the feeds' formats (RFC 2822 for RSS panics on a year outside 0..=9999).
#![no_main]

use feedwright::normalize::date;
use libfuzzer_sys::fuzz_target;
use url::Url;

const ZONES: &[chrono_tz::Tz] = &[
    chrono_tz::Asia::Shanghai,
    chrono_tz::America::New_York,
    chrono_tz::UTC,
    chrono_tz::Pacific::Kiritimati,
    chrono_tz::America::St_Johns,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let tz = ZONES[pick as usize % ZONES.len()];
    let formats = if pick & 0x80 != 0 {
        vec!["%Y-%m-%d %H:%M".to_owned(), "%d/%m/%Y".to_owned(), "%Y年%m月%d日".to_owned()]
    } else {
        Vec::new()
    };
    if let Some(d) = date::parse(text, &formats, tz) {
        let _ = d.to_rfc2822();
        let _ = d.to_rfc3339();
    }
    if let Ok(url) = Url::parse("http://127.0.0.1/").unwrap().join(text) {
        if let Some(d) = date::from_url_path(&url, tz) {
            let _ = d.to_rfc2822();
        }
    }
});
