//! The offline quick start: a bundled copy of the conference news site, served on loopback.
//!
//! The pages are the end-to-end test fixtures (`tests/fixtures/wic-en`, `wic-zh`), compiled into the binary, so
//! the demo exercises exactly what the tests check. Each site gets its own port, like two real hosts. A
//! `_redirects` file in a site (`FROM TO` per line) is answered with 301s; anything else missing is a 404.

use std::net::{Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use include_dir::{Dir, include_dir};

pub static WIC_EN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/wic-en");
pub static WIC_ZH: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/wic-zh");

/// The demo config, shipped as `config/demo.toml`; its listing URLs are moved onto the local servers.
pub const CONFIG: &str = include_str!("../config/demo.toml");
pub const CONFIG_PATH: &str = "config/demo.toml";

/// Which bundled site each demo source reads.
pub fn site_for(source: &str) -> Option<&'static Dir<'static>> {
    match source {
        "wic-news" => Some(&WIC_EN),
        "wic-news-zh" => Some(&WIC_ZH),
        _ => None,
    }
}

/// Serves `site` on 127.0.0.1 on a free port until the process ends; returns the address.
pub async fn serve(site: &'static Dir<'static>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(move |uri: Uri| async move { page(site, &uri) });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn page(site: &Dir<'static>, uri: &Uri) -> Response {
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
        // Like the real CMS pages: `text/html` with no charset, so the page's own `<meta>` decides.
        Some(f) if path.ends_with("htm") || path.ends_with("html") => response
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from(f.contents()))
            .unwrap(),
        _ => response
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("Not Found"))
            .unwrap(),
    }
}
