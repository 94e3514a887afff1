//! The OPML 2.0 subscription list of every configured feed: served at `/index.opml` and written beside the feeds
//! as `index.opml` after each run, so a static host offers it too.
//!
//! Input is the validated config; output is a string (and, through [`write`], a file written with
//! [`super::write_atomic`], which leaves identical bytes alone). Nothing here reads the clock: the list carries no
//! dates, so it changes only when the config does. One outline per feed (sources' and merges'), in the first configured format, so a
//! reader importing the list subscribes to each feed once.

use std::fmt::Write as _;
use std::path::PathBuf;

use url::Url;

use super::PublishError;
use crate::config::Config;
use crate::render::Format;

/// The file name beside the feeds, and the path it is served at.
pub const FILE_NAME: &str = "index.opml";

/// One feed in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    pub description: String,
    pub xml_url: Url,
    pub html_url: Url,
    pub language: Option<String>,
}

/// One outline per feed (each source's, then each merge's), pointing at it in the first configured format.
pub fn outlines(config: &Config) -> Vec<Outline> {
    let format = config.settings.formats.first().copied().unwrap_or(Format::Atom);
    config
        .feeds()
        .map(|f| Outline {
            title: f.title().to_owned(),
            description: f.description().to_owned(),
            xml_url: config.settings.feed_url(f.id(), format),
            html_url: f.home_page().clone(),
            language: f.language().map(str::to_owned),
        })
        .collect()
}

/// Renders an OPML 2.0 document titled `title`.
pub fn render(title: &str, outlines: &[Outline]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n");
    let _ = writeln!(out, "    <title>{}</title>", escape(title));
    out.push_str("    <docs>http://opml.org/spec2.opml</docs>\n  </head>\n  <body>\n");
    for o in outlines {
        let _ = write!(
            out,
            "    <outline type=\"rss\" text=\"{t}\" title=\"{t}\" description=\"{d}\" xmlUrl=\"{x}\" htmlUrl=\"{h}\"",
            t = escape(&o.title),
            d = escape(&o.description),
            x = escape(o.xml_url.as_str()),
            h = escape(o.html_url.as_str()),
        );
        if let Some(lang) = &o.language {
            let _ = write!(out, " language=\"{}\"", escape(lang));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// The whole list for `config`.
pub fn document(config: &Config) -> String {
    render("feedwright feeds", &outlines(config))
}

/// Writes `index.opml` into the output folder; `Ok(false)` when it already held these bytes.
pub fn write(config: &Config) -> Result<bool, PublishError> {
    let path: PathBuf = config.settings.output_dir.join(FILE_NAME);
    super::write_atomic(&path, document(config).as_bytes())
}

/// Escapes text for an XML attribute or element, dropping characters XML 1.0 cannot carry.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_feed_once_with_escaped_attributes() {
        let outlines = [
            Outline {
                title: "News & \"Views\" <1>".into(),
                description: "d\u{1}".into(),
                xml_url: Url::parse("http://127.0.0.1:8080/a.atom").unwrap(),
                html_url: Url::parse("https://example.org/news?a=1&b=2").unwrap(),
                language: Some("en".into()),
            },
            Outline {
                title: "新闻".into(),
                description: String::new(),
                xml_url: Url::parse("http://127.0.0.1:8080/b.atom").unwrap(),
                html_url: Url::parse("https://example.cn/").unwrap(),
                language: None,
            },
        ];
        let doc = render("feeds", &outlines);
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">"));
        assert!(doc.contains(
            "<outline type=\"rss\" text=\"News &amp; &quot;Views&quot; &lt;1&gt;\" title=\"News &amp; &quot;Views&quot; &lt;1&gt;\" description=\"d\" xmlUrl=\"http://127.0.0.1:8080/a.atom\" htmlUrl=\"https://example.org/news?a=1&amp;b=2\" language=\"en\"/>"
        ), "{doc}");
        assert!(doc.contains("text=\"新闻\""));
        assert_eq!(doc.matches("<outline").count(), 2);
        assert_eq!(
            doc,
            render("feeds", &outlines),
            "no dates: the same config gives the same bytes"
        );
    }
}
