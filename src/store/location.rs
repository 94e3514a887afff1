//! Where the state lives, as the `state` setting (or `FEEDWRIGHT_STATE`) names it: a SQLite file, or a
//! PostgreSQL database given by a `postgres://` or `postgresql://` URL. Parsed once, by config; [`super::Store::open`]
//! and [`super::StateLock::acquire`] pick their backend from it.
//!
//! A URL may carry a password (in its user part or as a `password=` parameter): [`Location`]'s `Display` and
//! `Debug` never show it, so messages, logs and `status` can name the database safely. The URL itself is handed
//! only to the PostgreSQL client.

use std::fmt;
use std::path::{Path, PathBuf};

/// A state location.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (relative paths already joined to the config file's folder).
    File(PathBuf),
    /// A PostgreSQL database.
    Postgres(DbUrl),
}

/// A PostgreSQL connection URL, checked by the client's own parser, whose password is never displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl Location {
    /// Reads a `state` value: a URL of one of PostgreSQL's two schemes, else a file path relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Location, String> {
        let Some(scheme) = postgres_scheme(text) else {
            return Ok(Location::File(base.join(text)));
        };
        // The client reads the scheme in lower case only.
        let text = format!("{scheme}{}", &text[scheme.len()..]);
        let url = DbUrl(text.clone());
        match text.parse::<postgres::Config>() {
            Ok(config) if config.get_dbname().is_some() => Ok(Location::Postgres(url)),
            Ok(_) => Err(format!("{url} names no database (postgres://user@host/database)")),
            Err(e) => Err(format!("{url} is not a PostgreSQL URL: {e}")),
        }
    }

    /// The file, when the state is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// How messages name it (the errors of this crate carry a path): the file, or the URL without its password.
    pub fn shown(&self) -> PathBuf {
        PathBuf::from(self.to_string())
    }
}

impl DbUrl {
    /// The URL as given, password included: for the client only.
    pub(super) fn secret(&self) -> &str {
        &self.0
    }
}

/// The scheme `text` starts with (in any case), when it is one of PostgreSQL's, as the client spells it.
fn postgres_scheme(text: &str) -> Option<&'static str> {
    ["postgres://", "postgresql://"]
        .into_iter()
        .find(|scheme| text.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme)))
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => path.display().fmt(f),
            Location::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => f.debug_tuple("File").field(path).finish(),
            Location::Postgres(url) => f.debug_tuple("Postgres").field(&url.to_string()).finish(),
        }
    }
}

/// The URL with the password of its user part and the value of any `password` parameter replaced by `***`.
impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DbUrl").field(&redact(&self.0)).finish()
    }
}

fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return "***".to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = url[..scheme_end].to_owned();
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            match user.split_once(':') {
                Some((name, _)) => out.push_str(&format!("{name}:***")),
                None => out.push_str(user),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        Location::parse(text, Path::new("/etc/fw")).unwrap().to_string()
    }

    #[test]
    fn both_schemes_are_postgres_and_anything_else_is_a_file_beside_the_config() {
        assert!(matches!(
            Location::parse("postgres://fw@db.internal/feeds", Path::new("/c")),
            Ok(Location::Postgres(_))
        ));
        assert!(matches!(
            Location::parse("PostgreSQL://fw@127.0.0.1:5433/feeds", Path::new("/c")),
            Ok(Location::Postgres(_))
        ));
        assert_eq!(
            Location::parse("state/feedwright.sqlite", Path::new("/c")),
            Ok(Location::File(PathBuf::from("/c/state/feedwright.sqlite")))
        );
        assert_eq!(
            Location::parse("postgres.sqlite", Path::new("/c")),
            Ok(Location::File(PathBuf::from("/c/postgres.sqlite")))
        );
    }

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            shown("postgres://fw:s3cret@db:5432/feeds"),
            "postgres://fw:***@db:5432/feeds"
        );
        assert_eq!(
            shown("postgresql://fw@db/feeds?sslmode=disable&password=s3cret"),
            "postgresql://fw@db/feeds?sslmode=disable&password=***"
        );
        let url = Location::parse("postgres://fw:p%40ss@db/feeds", Path::new("/")).unwrap();
        assert!(!format!("{url:?} {url}").contains("ss@"), "{url:?}");
        assert_eq!(shown("postgres://db/feeds"), "postgres://db/feeds");
    }

    #[test]
    fn a_url_without_a_database_or_with_a_bad_port_is_refused_without_its_password() {
        let err = Location::parse("postgres://fw:s3cret@db", Path::new("/")).unwrap_err();
        assert_eq!(
            err,
            "postgres://fw:***@db names no database (postgres://user@host/database)"
        );
        let err = Location::parse("postgres://fw:s3cret@db:port/feeds", Path::new("/")).unwrap_err();
        assert!(
            err.starts_with("postgres://fw:***@db:port/feeds is not a PostgreSQL URL"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}
