//! Where webhooks may go (SECURITY.md R35): the endpoint URL rule, as pure
//! functions over the URL and the addresses its host resolves to, so it is
//! tested without connecting anywhere.
//!
//! - The URL is `https://`, or `http://` only for a loopback host
//!   (`localhost`, `127.0.0.0/8`, `::1`); it carries no user name or
//!   password and is at most 2,048 characters.
//! - Every address is classified ([`classify`]; an IPv4-mapped, 6to4 or
//!   NAT64 IPv6 address as the IPv4 address inside it). Public addresses
//!   are allowed. Loopback needs the operator's `--webhook-allow-loopback`;
//!   private, link-local, unique-local and shared (CGNAT) addresses need
//!   `--webhook-allow-private-networks`. Unspecified, multicast, broadcast,
//!   documentation and other reserved addresses, and the cloud metadata
//!   addresses (`169.254.169.254`, `fd00:ec2::254`), are always refused.
//! - At delivery the host is resolved, the first allowed address is picked
//!   ([`choose_address`]) and the connection is pinned to it, so a name
//!   that resolves differently a moment later (DNS rebinding) cannot send
//!   the request elsewhere. Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use pinion_domain::FieldError;
use pinion_domain::webhook::MAX_URL_CHARS;
use url::{Host, Url};

/// What the operator allows besides public addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback addresses (`--webhook-allow-loopback`): this machine.
    pub allow_loopback: bool,
    /// Private, link-local, unique-local and CGNAT addresses
    /// (`--webhook-allow-private-networks`).
    pub allow_private: bool,
}

/// What kind of address an IP address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Reachable on the internet.
    Public,
    /// This machine.
    Loopback,
    /// RFC 1918 (and the IPv6 site-local range).
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// 100.64.0.0/10, carrier-grade NAT.
    Shared,
    /// A cloud provider's instance metadata service.
    Metadata,
    /// 0.0.0.0, ::.
    Unspecified,
    /// Multicast.
    Multicast,
    /// Broadcast, documentation, benchmarking and other reserved ranges.
    Reserved,
}

impl AddressClass {
    /// The class in words, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "a public address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::UniqueLocal => "a unique-local address",
            Self::Shared => "a shared (CGNAT) address",
            Self::Metadata => "a cloud metadata address",
            Self::Unspecified => "the unspecified address",
            Self::Multicast => "a multicast address",
            Self::Reserved => "a reserved address",
        }
    }

    /// Why `policy` refuses this class, or `None` when it allows it.
    pub fn refusal(self, policy: &AddressPolicy) -> Option<&'static str> {
        match self {
            Self::Public => None,
            Self::Loopback if policy.allow_loopback => None,
            Self::Loopback => Some("loopback addresses are not allowed on this server"),
            Self::Private | Self::LinkLocal | Self::UniqueLocal | Self::Shared
                if policy.allow_private =>
            {
                None
            }
            Self::Private | Self::LinkLocal | Self::UniqueLocal | Self::Shared => {
                Some("private networks are not allowed on this server")
            }
            Self::Metadata | Self::Unspecified | Self::Multicast | Self::Reserved => {
                Some("webhooks are never sent there")
            }
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => AddressClass::Metadata,
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) => AddressClass::Private,
        (172, 16..=31, _) => AddressClass::Private,
        (192, 168, _) => AddressClass::Private,
        (169, 254, _) => AddressClass::LinkLocal,
        (100, 64..=127, _) => AddressClass::Shared,
        (224..=239, _, _) => AddressClass::Multicast,
        (240..=255, _, _) => AddressClass::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Reserved,
        (198, 18..=19, _) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match segments {
        _ if ip.is_unspecified() => AddressClass::Unspecified,
        _ if ip.is_loopback() => AddressClass::Loopback,
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => AddressClass::Metadata,
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside.
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        [0x2002, hi, lo, ..] => classify_v4(embedded(hi, lo)),
        // The deprecated IPv4-compatible form (::a.b.c.d).
        [0, 0, 0, 0, 0, 0, _, _] => AddressClass::Reserved,
        [first, ..] if first & 0xff00 == 0xff00 => AddressClass::Multicast,
        [first, ..] if first & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        [first, ..] if first & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        [first, ..] if first & 0xffc0 == 0xfec0 => AddressClass::Private,
        // Documentation (2001:db8::/32) and Teredo (2001::/32).
        [0x2001, 0x0db8, ..] | [0x2001, 0x0000, ..] => AddressClass::Reserved,
        [first, ..] if first & 0xe000 == 0x2000 => AddressClass::Public,
        _ => AddressClass::Reserved,
    }
}

/// The class of `ip`.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn url_error(message: impl Into<String>) -> FieldError {
    FieldError::new("url", message)
}

/// The characters an endpoint URL may hold as typed: what a webhook URL
/// needs (a host, a port, a path, a query), nothing that must be escaped.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._~:/?&=%[]-".contains(c)
}

/// True for a DNS host name: labels of 1 to 63 letters, digits and
/// hyphens, no label starting or ending with a hyphen.
fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// True when `host` names this machine: a loopback address, `localhost`
/// or a name under `.localhost` (RFC 6761).
fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => classify_v4(*ip) == AddressClass::Loopback,
        Host::Ipv6(ip) => classify_v6(*ip) == AddressClass::Loopback,
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// Checks an endpoint URL as typed: its shape, and its host when that is
/// an address or a loopback name. Names are checked again, resolved, at
/// every delivery ([`choose_address`]). Errors name the `url` field.
pub fn check_url(text: &str, policy: &AddressPolicy) -> Result<Url, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(url_error("is required"));
    }
    if text.chars().count() > MAX_URL_CHARS {
        return Err(url_error(format!(
            "must be at most {MAX_URL_CHARS} characters"
        )));
    }
    let url = Url::parse(text).map_err(|err| url_error(format!("is not a valid URL ({err})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(url_error("must start with https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(url_error(
            "must not hold a user name or password (use the signing secret to authenticate Pinion)",
        ));
    }
    if let Some(bad) = text.chars().find(|c| !is_url_char(*c)) {
        return Err(url_error(format!(
            "must not contain `{bad}`: letters, digits and . _ ~ : / ? & = % - only \
             (percent-encode anything else)"
        )));
    }
    let Some(host) = url.host() else {
        return Err(url_error("must name a host"));
    };
    if let Host::Domain(name) = host
        && !is_host_name(name)
    {
        return Err(url_error(
            "must name a host of dot-separated labels of letters, digits and inner hyphens \
             (at most 63 characters each)",
        ));
    }
    let loopback = is_loopback_host(&host);
    if url.scheme() == "http" && !loopback {
        return Err(url_error(
            "must use https (http is allowed only for a loopback address such as 127.0.0.1)",
        ));
    }
    let literal = match host {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) if loopback => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Host::Domain(_) => None,
    };
    if let Some(ip) = literal {
        let class = classify(ip);
        if let Some(why) = class.refusal(policy) {
            return Err(url_error(format!("points to {} ({why})", class.describe())));
        }
    }
    Ok(url)
}

/// Why no resolved address may be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressRefused(pub String);

/// The address to connect to for a URL whose host resolved to `resolved`:
/// the first one `policy` allows (a loopback one for `http`). Refused
/// addresses are named in the error; none is ever connected to.
pub fn choose_address(
    resolved: &[SocketAddr],
    http: bool,
    policy: &AddressPolicy,
) -> Result<SocketAddr, AddressRefused> {
    if resolved.is_empty() {
        return Err(AddressRefused("the host resolved to no address".to_owned()));
    }
    let mut refused = Vec::new();
    for addr in resolved {
        let class = classify(addr.ip());
        let why = match class.refusal(policy) {
            None if http && class != AddressClass::Loopback => {
                Some("http is allowed only for loopback addresses")
            }
            other => other,
        };
        match why {
            None => return Ok(*addr),
            Some(why) => refused.push(format!("{} is {} ({why})", addr.ip(), class.describe())),
        }
    }
    Err(AddressRefused(format!(
        "no allowed address: {}",
        refused.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
        allow_private: false,
    };
    const LOOPBACK: AddressPolicy = AddressPolicy {
        allow_loopback: true,
        allow_private: false,
    };
    const PRIVATE: AddressPolicy = AddressPolicy {
        allow_loopback: false,
        allow_private: true,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified_for_ipv4_ipv6_and_ipv4_inside_ipv6() {
        use AddressClass::*;
        let table = [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.0.0.1", Private),
            ("172.16.5.4", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("169.254.10.10", LinkLocal),
            ("169.254.169.254", Metadata),
            ("100.64.0.1", Shared),
            ("100.127.255.254", Shared),
            ("100.128.0.1", Public),
            ("0.0.0.0", Unspecified),
            ("224.0.0.1", Multicast),
            ("255.255.255.255", Reserved),
            ("192.0.2.10", Reserved),
            ("::1", Loopback),
            ("::", Unspecified),
            ("fe80::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fd00:ec2::254", Metadata),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("2606:4700:4700::1111", Public),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::a00:1", Private),
            ("2002:c0a8:0101::1", Private),
            ("::127.0.0.1", Reserved),
        ];
        for (text, class) in table {
            assert_eq!(classify(ip(text)), class, "{text}");
        }
    }

    #[test]
    fn the_operator_settings_allow_loopback_and_private_networks_never_metadata() {
        let cases = [
            ("127.0.0.1", [false, true, false]),
            ("::1", [false, true, false]),
            ("10.0.0.1", [false, false, true]),
            ("::ffff:192.168.0.1", [false, false, true]),
            ("100.64.1.1", [false, false, true]),
            ("fe80::1", [false, false, true]),
            ("169.254.169.254", [false, false, false]),
            ("0.0.0.0", [false, false, false]),
            ("8.8.8.8", [true, true, true]),
        ];
        for (text, allowed) in cases {
            for (policy, expected) in [STRICT, LOOPBACK, PRIVATE].iter().zip(allowed) {
                let class = classify(ip(text));
                assert_eq!(
                    class.refusal(policy).is_none(),
                    expected,
                    "{text} {policy:?}"
                );
            }
        }
    }

    #[test]
    fn urls_hold_only_plain_characters_and_a_host_name() {
        let policy = AddressPolicy::default();
        for good in [
            "https://hooks.example.com/pinion",
            "https://Hooks.Example-1.com:8443/a/b?team=7&x=%20",
        ] {
            assert!(check_url(good, &policy).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("https://a00.a0.a00.a.com*", "must not contain `*`"),
            ("https://a.com/x*", "must not contain `*`"),
            ("https://a.com/#top", "must not contain `#`"),
            ("https://a.com/ü", "must not contain `ü`"),
            ("https://-a.com/", "host of dot-separated labels"),
            ("https://a_b.com/", "host of dot-separated labels"),
        ] {
            let err = check_url(bad, &policy).unwrap_err();
            assert_eq!(err.field, "url");
            assert!(err.message.contains(says), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn urls_are_https_or_http_on_loopback_without_credentials() {
        for good in [
            "https://hooks.example.com/pinion",
            "https://hooks.example.com:8443/p?x=1",
            "https://8.8.8.8/hook",
        ] {
            assert!(check_url(good, &STRICT).is_ok(), "{good}");
        }
        for good in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:8080/",
        ] {
            assert!(check_url(good, &LOOPBACK).is_ok(), "{good}");
        }
        let refused = [
            ("", STRICT, "required"),
            ("hooks.example.com/x", STRICT, "valid URL"),
            ("ftp://example.com/x", STRICT, "https"),
            ("http://hooks.example.com/x", LOOPBACK, "https"),
            ("http://10.0.0.1/x", PRIVATE, "https"),
            ("https://user:pw@hooks.example.com/x", STRICT, "password"),
            ("http://127.0.0.1:9000/hook", STRICT, "loopback"),
            ("https://10.0.0.1/x", STRICT, "private"),
            ("https://169.254.169.254/latest", PRIVATE, "metadata"),
            ("https://[::ffff:169.254.169.254]/", PRIVATE, "metadata"),
            ("https://[fd00::1]/x", STRICT, "unique-local"),
            ("https://0.0.0.0/x", LOOPBACK, "unspecified"),
        ];
        for (url, policy, words) in refused {
            let err = check_url(url, &policy).unwrap_err();
            assert_eq!(err.field, "url");
            assert!(err.message.contains(words), "{url}: {}", err.message);
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(check_url(&long, &STRICT).is_err());
    }

    #[test]
    fn delivery_picks_the_first_allowed_resolved_address_or_names_the_refused_ones() {
        let addr = |text: &str| SocketAddr::new(ip(text), 443);
        let mixed = [addr("10.0.0.1"), addr("93.184.216.34")];
        assert_eq!(
            choose_address(&mixed, false, &STRICT),
            Ok(addr("93.184.216.34"))
        );
        let rebinding = [addr("169.254.169.254"), addr("::ffff:127.0.0.1")];
        let err = choose_address(&rebinding, false, &STRICT).unwrap_err();
        assert!(
            err.0.contains("169.254.169.254") && err.0.contains("127.0.0.1"),
            "{err}"
        );
        // http goes to loopback only, even when private networks are allowed.
        assert!(choose_address(&[addr("10.0.0.1")], true, &PRIVATE).is_err());
        assert_eq!(
            choose_address(&[addr("::1")], true, &LOOPBACK),
            Ok(addr("::1"))
        );
        assert!(choose_address(&[], false, &LOOPBACK).is_err());
    }
}
