//! The offline quick start: a bundled copy of the conference news site, served on loopback.
//!
//! The pages are the end-to-end test fixtures (`tests/fixtures/wic-en`, `wic-zh`), compiled into the binary, so
//! the demo exercises exactly what the tests check. Each site gets its own port, like two real hosts: a fixed one
//! ([`PORTS`]) when it is free, so the article URLs (the item ids) are the same from one demo to the next, and
//! any free one otherwise. A
//! `_redirects` file in a site (`FROM TO` per line) is answered with 301s; anything else missing is a 404. Pages
//! carry an ETag and answer a matching `If-None-Match` with 304, as the static servers behind such CMSs do. With
//! `demo --latency`, every answer waits that long first, as a distant site's would.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use include_dir::{Dir, include_dir};

use crate::config::Config;

pub static WIC_EN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/wic-en");
pub static WIC_ZH: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/wic-zh");

/// The demo config, shipped as `config/demo.toml`; its listing URLs are moved onto the local servers.
pub const CONFIG: &str = include_str!("../config/demo.toml");
pub const CONFIG_PATH: &str = "config/demo.toml";

/// The ports the bundled sites prefer on 127.0.0.1 (English, Chinese).
pub const PORTS: [u16; 2] = [8091, 8092];

/// Which bundled site each demo source reads, and the port it prefers.
pub fn site_for(source: &str) -> Option<(&'static Dir<'static>, u16)> {
    match source {
        "wic-news" => Some((&WIC_EN, PORTS[0])),
        "wic-news-zh" => Some((&WIC_ZH, PORTS[1])),
        _ => None,
    }
}

/// The longest `demo --latency`: enough to play a site across the world, short of the fetcher's timeouts.
pub const MAX_LATENCY: Duration = Duration::from_secs(5);

/// Starts a local server for each source of the demo config and returns the config moved onto them, writing
/// feeds to `out`. Also used by the benchmarks, so they measure exactly what the demo does.
pub async fn start(out: &std::path::Path) -> Result<Config, DemoError> {
    start_with(out, Duration::ZERO).await
}

/// [`start`], with sites that answer each request only after `latency`.
pub async fn start_with(out: &std::path::Path, latency: Duration) -> Result<Config, DemoError> {
    let mut config = crate::config::parse(CONFIG, std::path::Path::new(CONFIG_PATH))?;
    config.settings.output_dir = out.to_owned();
    for source in &mut config.sources {
        let (site, port) = site_for(source.id.as_str()).ok_or_else(|| DemoError::NoSite(source.id.to_string()))?;
        let addr = serve(site, port, latency).await.map_err(DemoError::Serve)?;
        for url in &mut source.urls {
            // Infallible for an http URL with an IP host, which is all the demo config has.
            let _ = url.set_ip_host(addr.ip());
            let _ = url.set_port(Some(addr.port()));
        }
    }
    // A merged feed links to its first source's page: moved with it.
    for merge in &mut config.merges {
        if let Some(first) = merge
            .sources
            .first()
            .and_then(|id| config.sources.iter().find(|s| &s.id == id))
        {
            merge.home_page = first.urls[0].clone();
        }
    }
    Ok(config)
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("the demo has no bundled site for source \"{0}\"")]
    NoSite(String),
    #[error("cannot start the demo site on 127.0.0.1")]
    Serve(#[source] std::io::Error),
}

/// Serves `site` on 127.0.0.1 until the process ends, on port `preferred` when it is free and on any free port
/// otherwise, answering each request after `latency`; returns the address.
pub async fn serve(site: &'static Dir<'static>, preferred: u16, latency: Duration) -> std::io::Result<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, preferred)).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?,
    };
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| async move {
        tokio::time::sleep(latency).await;
        page(site, &uri, &headers)
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn page(site: &Dir<'static>, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path();
    let redirect = site
        .get_file("_redirects")
        .and_then(|f| f.contents_utf8())
        .and_then(|rules| {
            rules
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once(char::is_whitespace))
                .find(|(from, _)| *from == path)
                .map(|(_, to)| to.trim().to_owned())
        });
    let response = Response::builder();
    if let Some(to) = redirect {
        return response
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, to)
            .body(Body::empty())
            .unwrap();
    }
    let file = path
        .strip_prefix('/')
        .filter(|p| !p.starts_with('_'))
        .and_then(|p| site.get_file(p));
    match file {
        Some(f) if path.ends_with("htm") || path.ends_with("html") => {
            let etag = etag(f.contents());
            if headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == etag.as_bytes())
            {
                return response
                    .status(StatusCode::NOT_MODIFIED)
                    .header(header::ETAG, etag)
                    .body(Body::empty())
                    .unwrap();
            }
            // Like the real CMS pages: `text/html` with no charset, so the page's own `<meta>` decides.
            response
                .header(header::CONTENT_TYPE, "text/html")
                .header(header::ETAG, etag)
                .body(Body::from(f.contents()))
                .unwrap()
        }
        _ => response
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("Not Found"))
            .unwrap(),
    }
}

/// A strong validator from the bytes (FNV-1a: stable across runs and builds, unlike `DefaultHasher`).
fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_site_takes_its_port_when_free_and_any_port_when_taken() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let addr = serve(&WIC_EN, port, Duration::ZERO).await.unwrap();
        assert_ne!(addr.port(), port, "the preferred port is taken");
        assert_ne!(addr.port(), 0);

        drop(taken);
        let addr = serve(&WIC_EN, port, Duration::ZERO).await.unwrap();
        assert_eq!(addr.port(), port, "free again");
        let page = reqwest::get(format!("http://{addr}/news/node_35363.htm"))
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_site_with_latency_answers_no_sooner_than_that() {
        let addr = serve(&WIC_EN, 0, Duration::from_secs(3)).await.unwrap();
        let asked = tokio::time::Instant::now();
        let page = reqwest::get(format!("http://{addr}/news/node_35363.htm"));
        let page = page.await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(asked.elapsed() >= Duration::from_secs(3), "{:?}", asked.elapsed());
    }
}
