//! Which addresses a source may make feedwright connect to: the one home of the rule that keeps a hostile listing
//! from pointing us at cloud metadata, the loopback interface or the operator's private network.
//!
//! Pure: an [`IpAddr`], a host name or a [`Url`] in, a verdict out; no DNS, no I/O. IPv4 addresses written inside
//! IPv6 (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are judged as the
//! IPv4 address they reach; hex, decimal and octal IPv4 spellings and `user@` are already undone by the `url`
//! crate's host parser. Link-local, unspecified, multicast and reserved addresses and the cloud metadata names and
//! addresses are refused always; loopback and private ranges only unless a source's own configured URL is in that
//! same class or the source sets `allow_private = true`. The callers (`fetch` before every request, and
//! [`super::resolver`] after name resolution) enforce it; this module must not learn how requests are made.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// What kind of network an address is on, as far as feedwright's rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7, fec0::/10.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8, :: (Linux connects "this host" for them).
    Unspecified,
    /// 224/4, ff00::/8.
    Multicast,
    /// Never a web server: 240/4 with the broadcast address, the IETF, documentation and benchmarking ranges
    /// (192.0.0/24, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 100::/64).
    Reserved,
}

impl Class {
    /// The class of `ip`, after [`unmap`].
    pub fn of(ip: IpAddr) -> Class {
        match unmap(ip) {
            IpAddr::V4(v4) => v4_class(v4),
            IpAddr::V6(v6) => v6_class(v6),
        }
    }

    /// Refused whatever the source's URL or `allow_private` say.
    fn always_refused(self) -> bool {
        matches!(
            self,
            Class::LinkLocal | Class::Unspecified | Class::Multicast | Class::Reserved
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Class::Public => "a public address",
            Class::Loopback => "a loopback address",
            Class::Private => "a private-network address",
            Class::LinkLocal => "a link-local address",
            Class::Unspecified => "an unspecified address",
            Class::Multicast => "a multicast address",
            Class::Reserved => "a reserved address",
        }
    }
}

fn v4_class(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, ..) => Class::Unspecified,
        (127, ..) => Class::Loopback,
        (10, ..) | (192, 168, _) => Class::Private,
        (172, 16..=31, _) | (100, 64..=127, _) => Class::Private,
        (169, 254, _) => Class::LinkLocal,
        (224..=239, ..) => Class::Multicast,
        (240..=255, ..) => Class::Reserved,
        (192, 0, 0 | 2) | (198, 18 | 19, _) | (198, 51, 100) | (203, 0, 113) => Class::Reserved,
        _ => Class::Public,
    }
}

fn v6_class(ip: Ipv6Addr) -> Class {
    let s = ip.segments();
    if ip.is_unspecified() {
        Class::Unspecified
    } else if ip.is_loopback() {
        Class::Loopback
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        Class::Private
    } else if s[0] & 0xffc0 == 0xfe80 {
        Class::LinkLocal
    } else if s[0] & 0xff00 == 0xff00 {
        Class::Multicast
    } else if (s[0], s[1]) == (0x2001, 0x0db8) || s[..4] == [0x100, 0, 0, 0] {
        Class::Reserved
    } else {
        Class::Public
    }
}

/// The IPv4 address an IPv6 address reaches, when it embeds one: IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible
/// (`::/96`, deprecated but still routed by some stacks) and the NAT64 well-known prefix (`64:ff9b::/96`, which a
/// NAT64 gateway turns into a connection to that IPv4 address). `::` and `::1` stay IPv6.
pub fn unmap(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded = Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32);
    if s[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback() {
        return IpAddr::V4(embedded);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded);
    }
    ip
}

/// Names that reach a cloud provider's instance metadata service from inside it: Google's
/// (`metadata.google.internal`, `metadata.goog`, and the bare `metadata` its resolvers complete) and Amazon's
/// (`instance-data`, `instance-data.ec2.internal`). Refused by name, because through a proxy the name is resolved
/// where we cannot see the address, and because "a metadata name" says more than the address it resolves to.
const METADATA_NAMES: [&str; 5] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Instance metadata addresses, refused even where their class would be allowed: AWS, Azure, GCP, OpenStack and
/// most others on 169.254.169.254, ECS task metadata on 169.254.170.2, AWS over IPv6 on fd00:ec2::254 (a private
/// address otherwise), Alibaba Cloud on 100.100.100.200 (carrier-grade NAT space otherwise), Oracle's legacy
/// 192.0.0.192.
fn is_metadata(ip: IpAddr) -> bool {
    const V4: [Ipv4Addr; 4] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(169, 254, 170, 2),
        Ipv4Addr::new(100, 100, 100, 200),
        Ipv4Addr::new(192, 0, 0, 192),
    ];
    match unmap(ip) {
        IpAddr::V4(v4) => V4.contains(&v4),
        IpAddr::V6(v6) => v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    }
}

/// A host name, compared without case and without the trailing dot of a fully qualified name.
fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost` and `*.localhost` are loopback by definition (RFC 6761), whatever a resolver says.
fn is_localhost(name: &str) -> bool {
    let name = normal(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// The address classes one source may connect to besides public ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    loopback: bool,
    private: bool,
}

impl Policy {
    /// Public addresses only.
    pub const PUBLIC: Policy = Policy {
        loopback: false,
        private: false,
    };
    /// Loopback and private addresses too (`allow_private = true`); link-local, metadata and the rest stay refused.
    pub const ALLOW_PRIVATE: Policy = Policy {
        loopback: true,
        private: true,
    };

    /// Every policy there is (a client is built per policy).
    pub const ALL: [Policy; 4] = [
        Policy::PUBLIC,
        Policy {
            loopback: true,
            private: false,
        },
        Policy {
            loopback: false,
            private: true,
        },
        Policy::ALLOW_PRIVATE,
    ];

    /// The policy of a source configured with `urls`: each URL's host allows its own class (an IP literal's class;
    /// `localhost` is loopback; any other name is public, since trusting what its DNS answers at start-up is
    /// exactly the trick this rule is against), and `allow_private` allows loopback and private addresses.
    pub fn for_source(urls: &[Url], allow_private: bool) -> Policy {
        let mut policy = if allow_private {
            Policy::ALLOW_PRIVATE
        } else {
            Policy::PUBLIC
        };
        for url in urls {
            match home_class(url) {
                Class::Loopback => policy.loopback = true,
                Class::Private => policy.private = true,
                _ => {}
            }
        }
        policy
    }

    /// Whether a request to `url` may be sent, judged from its host as written: IP literals by their class,
    /// names against the metadata names and `localhost`. Other names are for the resolver to judge
    /// ([`Policy::check_resolved`]) once their addresses are known.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        match url.host() {
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
            Some(Host::Domain(name)) => self.check_name(name),
            None => Ok(()),
        }
    }

    /// Whether the host name `name` may be connected to before knowing its addresses.
    pub fn check_name(&self, name: &str) -> Result<(), Refusal> {
        let normal = normal(name);
        if METADATA_NAMES.contains(&normal.as_str()) {
            return Err(Refusal {
                subject: name.to_owned(),
                kind: Kind::MetadataName,
            });
        }
        if is_localhost(name) && !self.loopback {
            return Err(Refusal {
                subject: name.to_owned(),
                kind: Kind::NotHome(Class::Loopback),
            });
        }
        Ok(())
    }

    /// Whether the address `ip` (written so in a URL) may be connected to.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let unmapped = unmap(ip);
        let subject = if unmapped == ip {
            ip.to_string()
        } else {
            format!("{ip} ({unmapped})")
        };
        self.judge(ip, subject)
    }

    /// Whether `ip`, one of the addresses `name` resolved to, may be connected to.
    pub fn check_resolved(&self, name: &str, ip: IpAddr) -> Result<(), Refusal> {
        self.check_name(name)?;
        self.judge(ip, format!("{name} (resolved to {})", unmap(ip)))
    }

    fn judge(&self, ip: IpAddr, subject: String) -> Result<(), Refusal> {
        let class = Class::of(ip);
        let metadata = is_metadata(ip);
        let kind = if class.always_refused() || metadata {
            Kind::Always { class, metadata }
        } else {
            match class {
                Class::Loopback if !self.loopback => Kind::NotHome(class),
                Class::Private if !self.private => Kind::NotHome(class),
                _ => return Ok(()),
            }
        };
        Err(Refusal { subject, kind })
    }
}

/// The class a source's own configured URL puts it in.
fn home_class(url: &Url) -> Class {
    match url.host() {
        Some(Host::Ipv4(v4)) => Class::of(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Class::of(IpAddr::V6(v6)),
        Some(Host::Domain(name)) if is_localhost(name) => Class::Loopback,
        _ => Class::Public,
    }
}

/// Why a host or address is not connected to; its text completes "GET <url>: refused: ".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The host as written, or a name with the address it resolved to.
    subject: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Never connected to, whatever the config says.
    Always {
        class: Class,
        metadata: bool,
    },
    MetadataName,
    /// Loopback or private, and the source's own URL is not.
    NotHome(Class),
}

impl Refusal {
    /// Whether `allow_private = true` would have let this through.
    pub fn allowed_by_allow_private(&self) -> bool {
        matches!(self.kind, Kind::NotHome(_))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = &self.subject;
        match self.kind {
            Kind::Always { class, metadata: true } if class != Class::Public => write!(
                f,
                "{subject} is {} (cloud metadata); feedwright never connects there",
                class.describe()
            ),
            Kind::Always { metadata: true, .. } => {
                write!(
                    f,
                    "{subject} is a cloud metadata address; feedwright never connects there"
                )
            }
            Kind::Always { class, .. } => {
                write!(f, "{subject} is {}; feedwright never connects there", class.describe())
            }
            Kind::MetadataName => write!(f, "{subject} is a cloud metadata name; feedwright never connects there"),
            Kind::NotHome(class) => write!(
                f,
                "{subject} is {} and the source's own URL is not (set allow_private = true for a site on your own \
                 network)",
                class.describe()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn refused(policy: Policy, s: &str) -> String {
        match policy.check_url(&url(s)) {
            Err(r) => r.to_string(),
            Ok(()) => panic!("{s} was allowed"),
        }
    }

    #[test]
    fn every_spelling_of_the_metadata_address_is_refused_even_with_allow_private() {
        let spellings = [
            "http://169.254.169.254/latest/meta-data/",
            "http://0xa9fea9fe/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://2852039166/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::a9fe:a9fe]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://user@169.254.169.254/",
            "http://user:pw@169.254.169.254:80/",
            "http://169.254.169.254./",
            "https://169.254.169.254/",
        ];
        for s in spellings {
            for policy in [Policy::PUBLIC, Policy::ALLOW_PRIVATE] {
                let why = refused(policy, s);
                assert!(why.contains("169.254.169.254"), "{s}: {why}");
                assert!(
                    why.ends_with("is a link-local address (cloud metadata); feedwright never connects there"),
                    "{s}: {why}"
                );
            }
        }
        // A relative link written `//169.254.169.254/x` is the same host once resolved against the listing.
        let joined = url("http://127.0.0.1:8080/news/").join("//169.254.169.254/x").unwrap();
        assert_eq!(
            Policy::ALLOW_PRIVATE.check_url(&joined).unwrap_err().to_string(),
            "169.254.169.254 is a link-local address (cloud metadata); feedwright never connects there"
        );
    }

    #[test]
    fn the_plain_metadata_address_reads_as_the_issue_asks() {
        assert_eq!(
            refused(Policy::PUBLIC, "http://169.254.169.254/latest/meta-data/"),
            "169.254.169.254 is a link-local address (cloud metadata); feedwright never connects there"
        );
        assert_eq!(
            refused(Policy::PUBLIC, "http://[::ffff:a9fe:a9fe]/"),
            "::ffff:169.254.169.254 (169.254.169.254) is a link-local address (cloud metadata); feedwright never \
             connects there"
        );
    }

    #[test]
    fn metadata_names_are_refused_in_any_case_and_with_a_trailing_dot() {
        for s in [
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.Google.Internal./",
            "http://metadata/",
            "http://metadata.goog/",
            "http://instance-data/latest/",
            "http://instance-data.ec2.internal/",
        ] {
            let why = refused(Policy::ALLOW_PRIVATE, s);
            assert!(
                why.ends_with("is a cloud metadata name; feedwright never connects there"),
                "{s}: {why}"
            );
        }
        assert!(Policy::PUBLIC.check_url(&url("http://metadata.example.org/")).is_ok());
        assert!(Policy::PUBLIC.check_url(&url("http://news.example/")).is_ok());
    }

    #[test]
    fn other_metadata_addresses_are_refused_even_in_allowed_classes() {
        for s in [
            "http://100.100.100.200/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://169.254.170.2/v2/credentials",
            "http://192.0.0.192/",
        ] {
            let why = refused(Policy::ALLOW_PRIVATE, s);
            assert!(
                why.contains("(cloud metadata); feedwright never connects there"),
                "{s}: {why}"
            );
        }
    }

    #[test]
    fn classes_of_addresses() {
        let cases = [
            ("8.8.8.8", Class::Public),
            ("93.184.216.34", Class::Public),
            ("127.0.0.1", Class::Loopback),
            ("127.255.0.9", Class::Loopback),
            ("::1", Class::Loopback),
            ("::ffff:127.0.0.1", Class::Loopback),
            ("10.0.0.1", Class::Private),
            ("172.16.0.1", Class::Private),
            ("172.31.255.255", Class::Private),
            ("172.32.0.1", Class::Public),
            ("192.168.1.1", Class::Private),
            ("100.64.0.1", Class::Private),
            ("100.127.255.255", Class::Private),
            ("100.128.0.1", Class::Public),
            ("fc00::1", Class::Private),
            ("fd12:3456::1", Class::Private),
            ("::ffff:10.1.2.3", Class::Private),
            ("169.254.0.1", Class::LinkLocal),
            ("fe80::1", Class::LinkLocal),
            ("0.0.0.0", Class::Unspecified),
            ("0.1.2.3", Class::Unspecified),
            ("::", Class::Unspecified),
            ("224.0.0.1", Class::Multicast),
            ("239.255.255.250", Class::Multicast),
            ("ff02::1", Class::Multicast),
            ("255.255.255.255", Class::Reserved),
            ("240.0.0.1", Class::Reserved),
            ("192.0.2.1", Class::Reserved),
            ("198.51.100.7", Class::Reserved),
            ("203.0.113.9", Class::Reserved),
            ("198.18.0.1", Class::Reserved),
            ("2001:db8::1", Class::Reserved),
            ("2606:4700::1111", Class::Public),
            ("64:ff9b::808:808", Class::Public),
        ];
        for (ip, class) in cases {
            assert_eq!(Class::of(ip.parse().unwrap()), class, "{ip}");
        }
    }

    #[test]
    fn loopback_and_private_are_allowed_only_for_a_source_in_that_class_or_with_allow_private() {
        let loopback_home = Policy::for_source(&[url("http://127.0.0.1:8080/news/")], false);
        let private_home = Policy::for_source(&[url("http://10.1.2.3/news/")], false);
        let public_home = Policy::for_source(&[url("https://news.example/")], false);
        let localhost_home = Policy::for_source(&[url("http://localhost:8080/")], false);
        assert_eq!(loopback_home, localhost_home);

        assert!(loopback_home.check_url(&url("http://127.0.0.1:9999/a")).is_ok());
        assert!(loopback_home.check_url(&url("http://[::1]/a")).is_ok());
        assert!(loopback_home.check_url(&url("http://localhost/a")).is_ok());
        assert!(loopback_home.check_url(&url("http://10.0.0.1/a")).is_err());
        assert!(private_home.check_url(&url("http://192.168.0.9/a")).is_ok());
        assert!(private_home.check_url(&url("http://127.0.0.1/a")).is_err());
        assert!(public_home.check_url(&url("https://93.184.216.34/a")).is_ok());

        assert_eq!(
            refused(public_home, "http://127.0.0.1:4000/x"),
            "127.0.0.1 is a loopback address and the source's own URL is not (set allow_private = true for a \
             site on your own network)"
        );
        assert!(refused(public_home, "http://10.0.0.1/x").starts_with("10.0.0.1 is a private-network address"));
        assert!(refused(public_home, "http://localhost./x").starts_with("localhost. is a loopback address"));
        assert!(refused(public_home, "http://a.b.localhost/x").starts_with("a.b.localhost is a loopback"));

        let allowed = Policy::for_source(&[url("https://news.example/")], true);
        assert_eq!(allowed, Policy::ALLOW_PRIVATE);
        for s in [
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://[fd00::1]/",
            "http://localhost/",
        ] {
            assert!(allowed.check_url(&url(s)).is_ok(), "{s}");
        }
        // Nothing a source is configured with unlocks link-local, unspecified or multicast addresses.
        let odd_home = Policy::for_source(&[url("http://169.254.1.1/"), url("http://0.0.0.0/")], true);
        for s in [
            "http://169.254.1.1/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://224.0.0.1/",
            "http://[fe80::1]/",
        ] {
            let why = refused(odd_home, s);
            assert!(why.ends_with("feedwright never connects there"), "{s}: {why}");
            assert!(!odd_home.check_url(&url(s)).unwrap_err().allowed_by_allow_private());
        }
    }

    #[test]
    fn resolved_addresses_are_judged_with_the_name_in_the_message() {
        let policy = Policy::PUBLIC;
        assert!(
            policy
                .check_resolved("news.example", "93.184.216.34".parse().unwrap())
                .is_ok()
        );
        let why = policy
            .check_resolved("rebind.example", "10.0.0.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            why.to_string(),
            "rebind.example (resolved to 10.0.0.1) is a private-network address and the source's own URL is not \
             (set allow_private = true for a site on your own network)"
        );
        assert!(why.allowed_by_allow_private());
        let why = Policy::ALLOW_PRIVATE
            .check_resolved("rebind.example", "::ffff:169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            why.to_string(),
            "rebind.example (resolved to 169.254.169.254) is a link-local address (cloud metadata); feedwright \
             never connects there"
        );
    }
}
