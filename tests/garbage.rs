//! Garbage in, no panic out: every fixture page, cut short, with bytes flipped and odd characters spliced in,
//! through the pure stages (charset decoding, listing and article extraction, normalization, rendering). A small,
//! deterministic stand-in for a fuzzer, so it runs on every `cargo test`; the stages are also natural cargo-fuzz
//! targets.

use std::path::Path;

use chrono::{TimeZone, Utc};
use feedwright::fetch::charset;
use feedwright::model::ListedLink;
use feedwright::{demo, extract, normalize, render};
use url::Url;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPLICES: &[&str] = &[
    "<",
    ">",
    "&",
    "&#",
    "&#x110000;",
    "\"",
    "'",
    "<!--",
    "]]>",
    "<script>",
    "</div>",
    "\u{0}",
    "\u{8}",
    "\u{feff}",
    "\u{200b}",
    "新",
    "年",
    "月",
    "日",
    "：",
    " a",
    ".m.",
    "2015-",
    "12-16 ",
    "10:23",
    "Dec",
    "年12月",
    "\u{fffd}",
];

fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out.truncate(at),
            1 => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            2 => {
                let splice = SPLICES[rng.below(SPLICES.len())].as_bytes();
                out.splice(at..at, splice.iter().copied());
            }
            _ => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}

#[test]
fn mutated_pages_never_panic_a_stage() {
    let config = feedwright::config::parse(demo::CONFIG, Path::new(demo::CONFIG_PATH)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let mut pages = 0;
    for (site, source) in [(&demo::WIC_EN, &config.sources[0]), (&demo::WIC_ZH, &config.sources[1])] {
        let mut files: Vec<_> = Vec::new();
        let mut dirs = vec![site];
        while let Some(dir) = dirs.pop() {
            dirs.extend(dir.dirs());
            files.extend(dir.files().filter(|f| {
                f.path()
                    .extension()
                    .is_some_and(|e| e.to_str().unwrap().contains("htm"))
            }));
        }
        for file in files.into_iter().filter(|f| f.contents().len() < 200_000) {
            let url = Url::parse(&format!("http://127.0.0.1/{}", file.path().display())).unwrap();
            for _ in 0..12 {
                let bytes = mutate(&mut rng, file.contents());
                let (text, _) = charset::decode(&bytes, Some("text/html"));
                let listing = extract::list::parse(&text, &url, &source.listing);
                let raw = extract::article::parse(&text, &url, &source.article);
                let listed = listing.links.first().cloned().unwrap_or(ListedLink {
                    url: url.clone(),
                    title: None,
                    date_text: None,
                });
                if let Ok(item) = normalize::item(&raw, &listed, &source.normalize, now) {
                    let meta = feedwright::pipeline::feed_meta(&config, source, std::slice::from_ref(&item), now);
                    for format in render::Format::ALL {
                        assert!(!render::render(format, &meta, std::slice::from_ref(&item)).is_empty());
                    }
                }
                for text in [raw.date_text.as_deref(), listed.date_text.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    let _ = normalize::date::parse(text, &[], source.timezone);
                }
                pages += 1;
            }
        }
    }
    assert!(pages > 200, "{pages} mutated pages");
}

#[test]
fn date_like_token_soup_never_panics_the_date_reader() {
    const TOKENS: &[&str] = &[
        "2015",
        "-",
        "12",
        "16",
        "/",
        ".",
        " ",
        "10",
        ":",
        "23",
        "45",
        "年",
        "月",
        "日",
        "时",
        "分",
        "a",
        "p",
        "am",
        "p.m.",
        ".m.",
        "Dec",
        "December",
        "Sept",
        ",",
        "+08:00",
        "Z",
        "GMT",
        "UTC+8",
        "T",
        "新华网",
        "来源：",
        "Updated:",
        "１２",
        "\u{a0}",
        "\u{3000}",
        "0",
        "99",
        "2100",
        "1989",
        " a ",
        " p",
        "新",
        "\u{200b}",
    ];
    const DATES: &[&str] = &[
        "2015-12-16 10:23",
        "2015-12-16 10:23:45",
        "2015年12月16日 10:23",
        "Dec 16, 2015 10:23",
        "16 Dec 2015",
        "2015/12/16",
        "2015-12-16T10:23:00+08:00",
        "Wed, 16 Dec 2015 10:23:00 +0800",
        "2015-12-16 10:23 a",
    ];
    let tz = chrono_tz::Asia::Shanghai;
    let formats = vec!["%Y-%m-%d %H:%M".to_owned(), "%d/%m/%Y".to_owned()];
    let mut rng = Rng(0x0da7_e5a1_ad00_0001);
    for _ in 0..20_000 {
        // Mostly a real date with noise around it, which is what pages print; sometimes pure soup.
        let mut text = String::new();
        if rng.below(4) > 0 {
            text.push_str(DATES[rng.below(DATES.len())]);
        }
        for _ in 0..rng.below(6) {
            let token = TOKENS[rng.below(TOKENS.len())];
            if rng.below(2) == 0 {
                text.push_str(token)
            } else {
                text.insert_str(0, token)
            }
        }
        let _ = normalize::date::parse(&text, &formats, tz);
        let _ = normalize::date::parse(&text, &[], chrono_tz::America::New_York);
    }
}
