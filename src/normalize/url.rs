//! URL rules for items: resolving what pages write, and the canonical form that becomes an item's identity.
//!
//! [`resolve`] turns an `href`/`src` as written (relative, root-relative, protocol-relative, padded with
//! whitespace) into an absolute http(s) URL, or nothing. [`canonical`] removes what makes two URLs of the same
//! article differ (the fragment and tracking parameters) while keeping everything the server needs, byte for byte,
//! so `ItemId`s stay stable across runs. Both are pure: no lookups, no redirects followed.

use url::Url;

/// Query parameters that only say how a reader arrived, never which article it is. Compared ASCII
/// case-insensitively; `utm_` is a prefix (`utm_source`, `utm_medium`, ...).
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    // Alibaba/UC "super position model" and "scene" markers, common on Chinese portals.
    "spm",
    "scm",
    // Share links from Chinese news apps and WeChat.
    "from",
    "share",
    "isappinstalled",
];

/// The identity form of an article URL: no fragment, no tracking parameters. The remaining query parameters keep
/// their order and their exact encoding (they are copied, not decoded and re-encoded), and a query left empty is
/// dropped together with its `?`. Scheme/host case, default ports and dot segments were already normalized by the
/// URL parser.
pub fn canonical(url: &Url) -> Url {
    let mut out = url.clone();
    out.set_fragment(None);
    if let Some(query) = url.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair))
            .collect();
        if kept.is_empty() {
            out.set_query(None);
        } else {
            out.set_query(Some(&kept.join("&")));
        }
    }
    out
}

fn is_tracking(pair: &str) -> bool {
    let key = pair.split('=').next().unwrap_or(pair);
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str())
}

/// Resolves `href` against `base` the way a browser would, keeping only http(s) results.
///
/// Surrounding whitespace is ignored (CMS templates put newlines inside attributes). Empty values and pure
/// fragments (`#top`) give `None`, because they point back at the page itself rather than at a resource; so do
/// `javascript:`, `mailto:`, `data:` and any other scheme that is not http or https.
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let url = base.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn canon(s: &str) -> String {
        canonical(&u(s)).to_string()
    }

    #[test]
    fn fragment_is_removed() {
        assert_eq!(
            canon("http://www.wuzhenwic.org/2015-12/16/c_47822.htm#comments"),
            "http://www.wuzhenwic.org/2015-12/16/c_47822.htm"
        );
    }

    #[test]
    fn tracking_parameters_are_removed_and_others_kept_in_order() {
        assert_eq!(
            canon(
                "https://example.com/a.htm?utm_source=wx&id=7&UTM_Medium=x&page=2&fbclid=abc&spm=1.2&from=timeline&lang=en"
            ),
            "https://example.com/a.htm?id=7&page=2&lang=en"
        );
    }

    #[test]
    fn query_of_only_tracking_parameters_disappears_with_its_question_mark() {
        assert_eq!(
            canon("https://example.com/a.htm?utm_source=x&gclid=1"),
            "https://example.com/a.htm"
        );
        assert_eq!(canon("https://example.com/a.htm?"), "https://example.com/a.htm");
    }

    #[test]
    fn kept_parameters_keep_their_encoding() {
        assert_eq!(
            canon("https://example.com/s?q=a%20b&t=%E4%B8%AD&share=1"),
            "https://example.com/s?q=a%20b&t=%E4%B8%AD"
        );
    }

    #[test]
    fn parameters_that_merely_start_like_tracking_ones_are_kept() {
        assert_eq!(
            canon("https://example.com/a?fromage=1&shared=2&spmx=3"),
            "https://example.com/a?fromage=1&shared=2&spmx=3"
        );
    }

    #[test]
    fn host_case_and_default_port_are_normalized() {
        assert_eq!(
            canon("HTTP://WWW.Example.COM:80/a/../b.htm"),
            "http://www.example.com/b.htm"
        );
    }

    #[test]
    fn resolves_relative_root_relative_and_protocol_relative() {
        let base = u("https://www.wuzhenwic.org/2015-12/16/c_47822.htm");
        assert_eq!(
            resolve(&base, "W020151216.jpg").unwrap().as_str(),
            "https://www.wuzhenwic.org/2015-12/16/W020151216.jpg"
        );
        assert_eq!(
            resolve(&base, "../17/c_1.htm").unwrap().as_str(),
            "https://www.wuzhenwic.org/2015-12/17/c_1.htm"
        );
        assert_eq!(
            resolve(&base, "/news/node_1.htm").unwrap().as_str(),
            "https://www.wuzhenwic.org/news/node_1.htm"
        );
        assert_eq!(
            resolve(&base, "//img.example.cn/a.jpg").unwrap().as_str(),
            "https://img.example.cn/a.jpg"
        );
        assert_eq!(
            resolve(&base, "http://other.example/x").unwrap().as_str(),
            "http://other.example/x"
        );
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let base = u("https://example.com/news/");
        assert_eq!(
            resolve(&base, " \n a.htm\t").unwrap().as_str(),
            "https://example.com/news/a.htm"
        );
    }

    #[test]
    fn non_http_and_self_references_give_none() {
        let base = u("https://example.com/news/");
        for href in [
            "javascript:void(0)",
            " JavaScript:alert(1)",
            "mailto:a@b.c",
            "data:image/gif;base64,R0lG",
            "#top",
            "",
            "  ",
            "ftp://x/y",
        ] {
            assert_eq!(resolve(&base, href), None, "{href:?}");
        }
    }
}

/// Property tests: canonicalization is idempotent, survives being stored as text and parsed again (an `ItemId` is
/// a string in the store), and leaves no fragment or tracking parameter, over generated URLs with tracking
/// parameters in any case, fragments, odd percent-encoding, IDNs, IP hosts and ports.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    #[rustfmt::skip]
    const HOSTS: &[&str] = &[
        "www.wuzhenwic.org", "WWW.Example.COM", "example.com.", "例子.测试", "xn--fsqu00a.xn--0zwm56d", "münchen.de",
        "MÜNCHEN.de", "127.0.0.1", "0x7f.1", "[::1]", "[0:0::1]", "a-b.example", "xn--mnchen-3ya.de", "%65xample.com",
        "ex%41mple.com", "news.sina.com.cn",
    ];
    #[rustfmt::skip]
    const PORTS: &[&str] = &["", ":80", ":443", ":8080", ":0", ":65535", ":", ":0080"];
    #[rustfmt::skip]
    const SEGMENTS: &[&str] = &[
        "2015-12", "16", "c_47822.htm", ".", "..", "%2e", "%2E%2e", "%2F", "%zz", "%", "%4", "a%20b", "a b", "中",
        "%E4%B8%AD", "%e4%b8%ad", "~user", "a;b", "@", "a:b", "", "é", "%C3%A9", "\u{fffd}", "a\\b", "%00", "index.shtml",
    ];
    #[rustfmt::skip]
    const KEYS: &[&str] = &[
        "utm_source", "UTM_Medium", "utm_", "Utm_Campaign", "fbclid", "FBCLID", "gclid", "spm", "SPM", "scm", "from",
        "share", "isappinstalled", "_ga", "mc_cid", "id", "page", "q", "fromage", "shared", "spmx", "lang", "a%20b",
        "%75tm_source", "", "中", "utm_source%3D", "x[]",
    ];
    #[rustfmt::skip]
    const VALUES: &[&str] = &[
        "", "=", "1", "a%20b", "a+b", "%E4%B8%AD", "中文", "%zz", "a=b", "timeline", "?", "/", "%26", "#", "%23",
    ];
    #[rustfmt::skip]
    const FRAGMENTS: &[&str] = &["", "#", "#top", "#a%20b", "#?utm_source=x", "#中", "##", "#&from=1"];

    fn pick(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
        prop::sample::select(list)
    }

    fn url_text() -> impl Strategy<Value = String> {
        let pair = (pick(KEYS), prop::option::of(pick(VALUES))).prop_map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.to_owned(),
        });
        (
            pick(&["http", "https", "HTTP", "HtTpS"]),
            pick(HOSTS),
            pick(PORTS),
            prop::collection::vec(pick(SEGMENTS), 0..5),
            prop::option::of(prop::collection::vec(pair, 0..5)),
            pick(FRAGMENTS),
        )
            .prop_map(|(scheme, host, port, segments, query, fragment)| {
                let query = query.map(|pairs| format!("?{}", pairs.join("&"))).unwrap_or_default();
                format!("{scheme}://{host}{port}/{}{query}{fragment}", segments.join("/"))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn canonical_is_idempotent_and_survives_a_text_round_trip(text in url_text()) {
            // Text the URL parser refuses never becomes an item, so it has no canonical form to check.
            let Ok(url) = Url::parse(&text) else { return Ok(()) };
            let once = canonical(&url);
            prop_assert_eq!(canonical(&once).to_string(), once.to_string(), "from {:?}", text);
            let reparsed = Url::parse(once.as_str()).unwrap();
            prop_assert_eq!(canonical(&reparsed).to_string(), once.to_string(), "from {:?}", text);
            prop_assert_eq!(once.fragment(), None);
            for pair in once.query().into_iter().flat_map(|q| q.split('&')) {
                prop_assert!(!pair.is_empty() && !is_tracking(pair), "{:?} kept in {}", pair, once);
            }
        }

        #[test]
        fn canonical_is_idempotent_for_any_parseable_text(text in "(https?://)?[a-zA-Z0-9%./?&=#:@\\[\\]_~+-]{0,60}") {
            let base = Url::parse("https://example.com/news/").unwrap();
            let Ok(url) = base.join(&text) else { return Ok(()) };
            let once = canonical(&url);
            prop_assert_eq!(canonical(&once).to_string(), once.to_string(), "from {:?}", text);
            let reparsed = Url::parse(once.as_str()).unwrap();
            prop_assert_eq!(canonical(&reparsed).to_string(), once.to_string(), "from {:?}", text);
        }
    }
}
