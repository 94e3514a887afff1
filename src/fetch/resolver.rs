//! The DNS hook that makes [`guard::Policy`] hold after name resolution: reqwest connects only to the addresses
//! this resolver returns, and it returns only addresses the policy allows, so a name that resolves to a public
//! address when checked and to 169.254.169.254 when connected (DNS rebinding) never gets the second connection.
//!
//! One resolver per HTTP client, so one per policy. The name lookup itself is a parameter ([`Lookup`]): the system
//! resolver in production, a table in tests. Names of the client's own proxies are not judged: the operator chose
//! them, and a proxy on `localhost` is usual. IP literals never reach a resolver (hyper connects to them at once);
//! `fetch` checks those before each request.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::guard::{self, Policy};

/// The future a lookup returns: the addresses of a name.
pub type Lookups = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// How names become addresses, before the policy judges them; cheap to clone.
#[derive(Clone)]
pub struct Lookup(Arc<dyn Fn(String) -> Lookups + Send + Sync>);

impl Lookup {
    pub fn new(lookup: impl Fn(String) -> Lookups + Send + Sync + 'static) -> Self {
        Lookup(Arc::new(lookup))
    }

    async fn addresses(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        (self.0)(name.to_owned()).await
    }
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lookup")
    }
}

/// The system resolver (`getaddrinfo`, through tokio).
pub fn system() -> Lookup {
    Lookup::new(|name: String| {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    })
}

/// A reqwest resolver that hands out only the addresses `policy` allows.
#[derive(Debug, Clone)]
pub struct Guarded {
    policy: Policy,
    /// Lowercase names of proxies, resolved without judging.
    proxies: Vec<String>,
    lookup: Lookup,
}

impl Guarded {
    pub fn new(policy: Policy, proxies: Vec<String>, lookup: Lookup) -> Self {
        Guarded {
            policy,
            proxies: proxies.into_iter().map(|p| p.to_ascii_lowercase()).collect(),
            lookup,
        }
    }

    /// The vetted addresses of `name`; the first refusal when none is allowed.
    pub async fn resolve_name(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let trusted = self.proxies.iter().any(|p| p == &name.to_ascii_lowercase());
        if !trusted {
            self.policy.check_name(name).map_err(ResolveError::Refused)?;
        }
        let found = self.lookup.addresses(name).await.map_err(ResolveError::Lookup)?;
        if trusted {
            return Ok(found);
        }
        let mut refusal = None;
        let mut vetted = Vec::new();
        for ip in found {
            match self.policy.check_resolved(name, ip) {
                Ok(()) => vetted.push(ip),
                Err(r) => {
                    tracing::debug!(name, address = %ip, reason = %r, "resolved address refused");
                    refusal.get_or_insert(r);
                }
            }
        }
        match (vetted.is_empty(), refusal) {
            (true, Some(refusal)) => Err(ResolveError::Refused(refusal)),
            (true, None) => Err(ResolveError::Lookup(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name} has no addresses"),
            ))),
            (false, _) => Ok(vetted),
        }
    }
}

/// Why a name gave no address to connect to. `fetch` finds the refusal in reqwest's error chain by downcasting to
/// [`guard::Refusal`], so it is the source of `Refused` rather than the error itself.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("address refused")]
    Refused(#[source] guard::Refusal),
    #[error("name lookup failed")]
    Lookup(#[source] io::Error),
}

impl ResolveError {
    /// The refusal, when that is what this is.
    pub fn refusal(&self) -> Option<&guard::Refusal> {
        match self {
            ResolveError::Refused(r) => Some(r),
            ResolveError::Lookup(_) => None,
        }
    }
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.resolve_name(name.as_str()).await?;
            // Port 0 is replaced by the URL's port (or the scheme's) by reqwest.
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A lookup answering from a table, as a hostile DNS server would.
    pub(crate) fn table(entries: &[(&str, &[&str])]) -> Lookup {
        let entries: Vec<(String, Vec<IpAddr>)> = entries
            .iter()
            .map(|(name, ips)| (name.to_string(), ips.iter().map(|ip| ip.parse().unwrap()).collect()))
            .collect();
        Lookup::new(move |name: String| {
            let found = entries.iter().find(|(n, _)| *n == name).map(|(_, ips)| ips.clone());
            Box::pin(async move { found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name")) })
        })
    }

    fn refused(result: Result<Vec<IpAddr>, ResolveError>) -> String {
        match result {
            Err(e) => e.refusal().expect("a refusal").to_string(),
            Ok(ips) => panic!("allowed: {ips:?}"),
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_or_metadata_address_is_refused() {
        let lookup = table(&[
            ("rebind.example", &["10.0.0.1"]),
            ("meta.example", &["169.254.169.254"]),
            ("mapped.example", &["::ffff:169.254.169.254"]),
            ("news.example", &["93.184.216.34"]),
        ]);
        let public = Guarded::new(Policy::PUBLIC, Vec::new(), lookup.clone());
        assert!(
            refused(public.resolve_name("rebind.example").await)
                .starts_with("rebind.example (resolved to 10.0.0.1) is a private-network address")
        );
        assert_eq!(
            refused(public.resolve_name("meta.example").await),
            "meta.example (resolved to 169.254.169.254) is a link-local address (cloud metadata); feedwright never \
             connects there"
        );
        assert_eq!(
            public.resolve_name("news.example").await.unwrap(),
            ["93.184.216.34".parse::<IpAddr>().unwrap()]
        );
        let private = Guarded::new(Policy::ALLOW_PRIVATE, Vec::new(), lookup);
        assert_eq!(
            private.resolve_name("rebind.example").await.unwrap(),
            ["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert!(refused(private.resolve_name("mapped.example").await).contains("(cloud metadata)"));
    }

    #[tokio::test]
    async fn only_the_vetted_addresses_of_a_name_are_handed_out() {
        let lookup = table(&[("mixed.example", &["169.254.169.254", "93.184.216.34", "127.0.0.1"])]);
        let guarded = Guarded::new(Policy::PUBLIC, Vec::new(), lookup);
        assert_eq!(
            guarded.resolve_name("mixed.example").await.unwrap(),
            ["93.184.216.34".parse::<IpAddr>().unwrap()]
        );
    }

    #[tokio::test]
    async fn metadata_names_are_refused_before_any_lookup_and_proxies_are_not_judged() {
        let lookup = table(&[
            ("metadata.google.internal", &["93.184.216.34"]),
            ("localhost", &["127.0.0.1"]),
        ]);
        let guarded = Guarded::new(Policy::PUBLIC, vec!["LOCALHOST".into()], lookup);
        assert!(
            refused(guarded.resolve_name("metadata.google.internal").await)
                .ends_with("is a cloud metadata name; feedwright never connects there")
        );
        assert_eq!(
            guarded.resolve_name("localhost").await.unwrap(),
            ["127.0.0.1".parse::<IpAddr>().unwrap()],
            "the proxy's own name resolves whatever the policy"
        );
        assert!(matches!(
            guarded.resolve_name("nowhere.example").await,
            Err(ResolveError::Lookup(_))
        ));
    }
}
