//! Who the client of a request is: its address and whether it reached us over HTTPS. The
//! `X-Forwarded-For`, `X-Real-IP` and `X-Forwarded-Proto` headers are believed only when the
//! connection comes from a trusted proxy (`trusted_proxies` in the configuration); anyone
//! else could write them. The sign-in limiter and the audit log read the address from here.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// An address range (`10.0.0.0/8`), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(ipnet::IpNet);

impl std::str::FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `192.168.1.10`, `fd00::/8`, `::1`.
    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let net = if s.contains('/') {
            s.parse::<ipnet::IpNet>().ok()
        } else {
            s.parse::<IpAddr>().ok().map(ipnet::IpNet::from)
        };
        net.map(Cidr).ok_or_else(|| {
            format!("`{s}` is not an address or an address range such as 10.0.0.0/8")
        })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, how a dual-stack socket reports
/// IPv4 peers) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed. Empty (the default): none are, and
/// the client is whoever opened the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| s.as_ref().parse())
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

/// The client of a request, as [`identify`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its address; `None` when the server does not know it (requests made in tests).
    pub addr: Option<IpAddr>,
    /// Whether it reached us over HTTPS (through a trusted proxy that says so).
    pub https: bool,
}

impl Client {
    /// The address as the audit log and the limiter write it.
    pub fn address(&self) -> String {
        self.addr
            .map_or_else(|| "unknown".to_string(), |a| a.to_string())
    }

    /// The client of a connection from `peer` that sent `headers`.
    pub fn of(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &TrustedProxies) -> Client {
        let peer = peer.map(canonical);
        let Some(p) = peer.filter(|p| proxies.contains(*p)) else {
            return Client {
                addr: peer,
                https: false,
            };
        };
        // Walk the forwarded chain from the nearest hop back: the first address that is
        // not one of our proxies is the client; an unreadable entry ends the walk there.
        let chain: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut addr = p;
        if chain.is_empty() {
            if let Some(real) = header_ip(headers, "x-real-ip") {
                addr = real;
            }
        }
        for hop in chain.iter().rev() {
            match hop.parse::<IpAddr>().map(canonical) {
                Ok(ip) => {
                    addr = ip;
                    if !proxies.contains(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Client {
            addr: Some(addr),
            https,
        }
    }
}

fn header_ip(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(canonical)
}

/// The headers a proxy tells the client's address and scheme in.
const FORWARDING: [&str; 5] = [
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// Finds the client of every request (kept in its extensions for the handlers) and, when it
/// came over HTTPS — `secure_cookies` says the server is only reached that way, or a trusted
/// proxy says so —, tells the browser to keep to HTTPS (Strict-Transport-Security). The
/// forwarding headers of a request not from a trusted proxy are removed.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = Client::of(peer, req.headers(), &state.proxies);
    if !peer.is_some_and(|p| state.proxies.contains(p)) {
        // Nothing further on may believe what a client wrote about itself.
        for name in FORWARDING {
            req.headers_mut().remove(name);
        }
    }
    let https = client.https || state.secure_cookies;
    req.extensions_mut().insert(client);
    let mut resp = next.run(req).await;
    if https {
        resp.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(crate::headers::HSTS),
        );
    }
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Client, Self::Rejection> {
        Ok(of_parts(parts))
    }
}

/// The client of a request [`identify`] has seen (else only what the connection says).
pub fn of_parts(parts: &Parts) -> Client {
    parts
        .extensions
        .get::<Client>()
        .cloned()
        .unwrap_or_else(|| {
            let peer = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            Client::of(peer, &parts.headers, &TrustedProxies::default())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn ranges_match_by_prefix() {
        for (range, ip, want) in [
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.10", "192.168.1.10", true),
            ("192.168.1.10", "192.168.1.11", false),
            ("172.16.0.0/12", "172.31.255.255", true),
            ("172.16.0.0/12", "172.32.0.0", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("127.0.0.1", "::ffff:127.0.0.1", true),
            ("::1", "127.0.0.1", false),
        ] {
            let c: Cidr = range.parse().unwrap();
            assert_eq!(c.contains(ip.parse().unwrap()), want, "{range} ∋ {ip}");
        }
        for bad in ["10.0.0.0/33", "proxy", "10.0.0/8", "::1/129", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let fwd = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.7"),
            ("x-forwarded-proto", "https"),
        ]);
        // From a stranger, the headers are ignored.
        let c = Client::of(ip("198.51.100.1"), &fwd, &proxies);
        assert_eq!((c.addr, c.https), (ip("198.51.100.1"), false));
        // From our proxy: the nearest address that is not ours; what the client wrote
        // further left (1.2.3.4) is not believed.
        let c = Client::of(ip("10.0.0.2"), &fwd, &proxies);
        assert_eq!((c.addr, c.https), (ip("203.0.113.9"), true));
        let real = headers(&[("x-real-ip", "203.0.113.5")]);
        assert_eq!(
            Client::of(ip("10.0.0.2"), &real, &proxies).addr,
            ip("203.0.113.5")
        );
        let junk = headers(&[("x-forwarded-for", "203.0.113.5, junk")]);
        assert_eq!(
            Client::of(ip("10.0.0.2"), &junk, &proxies).addr,
            ip("10.0.0.2")
        );
        let none = TrustedProxies::default();
        assert_eq!(Client::of(ip("10.0.0.2"), &fwd, &none).addr, ip("10.0.0.2"));
        assert_eq!(Client::of(None, &fwd, &proxies).address(), "unknown");
    }
}
