//! Which addresses a delivery may call at all: the webhook URL against the allow-list
//! ([`check_webhook_url`]), every resolved address ([`ip_allowed`]), and URLs as shown with their
//! keys masked ([`mask_url`]). Pure; the sender resolves and connects only to what passes, and
//! never follows redirects. The rules are documented for users in `docs/automation.md`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::render::ELLIPSIS;
use shangji_core::{text_enum, FieldError};

// ---------------------------------------------------------------------------------------------
// Where it may go
// ---------------------------------------------------------------------------------------------

text_enum!(
    /// What kind of address an IP is; only `public` ones are called without being named in
    /// the allow-list.
    AddressClass {
        Public => "public",
        Unspecified => "unspecified",
        Loopback => "loopback",
        Private => "private",
        LinkLocal => "link_local",
        UniqueLocal => "unique_local",
        Shared => "shared",
        Documentation => "documentation",
        Multicast => "multicast",
        Broadcast => "broadcast",
        Reserved => "reserved",
    }
);

impl AddressClass {
    /// Addresses no webhook can be at, whatever the allow-list says.
    fn never(self) -> bool {
        matches!(
            self,
            AddressClass::Unspecified | AddressClass::Multicast | AddressClass::Broadcast
        )
    }
}

/// The class of `ip`; an IPv4 address written as IPv6 (`::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
/// 6to4 `2002::/16`) is classed by its IPv4 address.
pub fn classify_ip(ip: IpAddr) -> AddressClass {
    match ip.to_canonical() {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> AddressClass {
    let [o0, o1, o2, _] = a.octets();
    if a.is_unspecified() {
        AddressClass::Unspecified
    } else if a.is_broadcast() {
        AddressClass::Broadcast
    } else if a.is_loopback() {
        AddressClass::Loopback
    } else if a.is_private() {
        AddressClass::Private
    } else if a.is_link_local() {
        AddressClass::LinkLocal
    } else if a.is_multicast() {
        AddressClass::Multicast
    } else if a.is_documentation() {
        AddressClass::Documentation
    } else if o0 == 100 && (o1 & 0xc0) == 64 {
        AddressClass::Shared
    } else if o0 == 0
        || o0 >= 240
        || (o0 == 192 && o1 == 0 && o2 == 0)
        || (o0 == 198 && (o1 & 0xfe) == 18)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(a: Ipv6Addr) -> AddressClass {
    let s = a.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        classify_v4(Ipv4Addr::new(a, b, c, d))
    };
    if a.is_unspecified() {
        AddressClass::Unspecified
    } else if a.is_loopback() {
        AddressClass::Loopback
    } else if s[0] & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 {
        AddressClass::UniqueLocal
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        AddressClass::Documentation
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        embedded(s[6], s[7])
    } else if s[0] == 0x2002 {
        embedded(s[1], s[2])
    } else if s[0] & 0xe000 == 0x2000 {
        AddressClass::Public
    } else {
        // Outside global unicast: site-local, IPv4-compatible, discard-only…
        AddressClass::Reserved
    }
}

/// What an allow-list entry admits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: any host name, and any public address.
    Any,
    /// `hooks.example.com`.
    Host(String),
    /// `*.example.com`, kept as `.example.com`: its subdomains, not itself.
    Suffix(String),
    /// `10.0.0.5`, `[fd00::5]`.
    Ip(IpAddr),
    /// `10.0.0.0/8`, `fd00::/8`.
    Net(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowEntry {
    /// Written `http://…`: plain http is allowed too.
    http: bool,
    pattern: Pattern,
    /// Without a port, only the scheme's own (443, 80).
    port: Option<u16>,
}

fn entry_error(entry: &str, why: &str) -> FieldError {
    FieldError::new(
        "allow_list",
        "allow_entry_invalid",
        format!("`{entry}`: {why}"),
    )
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_allow_entry(entry: &str) -> Result<AllowEntry, FieldError> {
    let raw = entry.trim();
    let (http, rest) = if let Some(rest) = strip_prefix_ignore_case(raw, "http://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(raw, "https://") {
        (false, rest)
    } else {
        (false, raw)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(entry_error(raw, "empty"));
    }
    if let Some((addr, len)) = rest.split_once('/') {
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(entry_error(
                raw,
                "an entry is a host, not a URL with a path",
            ));
        }
        let bad = || entry_error(raw, "a network is an address, `/` and a prefix length");
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max || addr.to_canonical() != addr {
            return Err(bad());
        }
        return Ok(AllowEntry {
            http,
            pattern: Pattern::Net(addr, len),
            port: None,
        });
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| entry_error(raw, "unclosed `[`"))?;
        (format!("[{v6}]"), after.strip_prefix(':'))
    } else if rest.parse::<Ipv6Addr>().is_ok() {
        (format!("[{rest}]"), None)
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(entry_error(raw, "the port is not a number from 1 to 65535")),
        },
    };
    let domain = |name: &str| match Host::parse(name) {
        Ok(Host::Domain(d)) if !d.contains('*') && !d.trim_end_matches('.').is_empty() => {
            Ok(d.trim_end_matches('.').to_string())
        }
        _ => Err(entry_error(
            raw,
            "not a host name, `*.` and a host name, `*` or an IP address",
        )),
    };
    let pattern = if host == "*" {
        Pattern::Any
    } else if let Some(suffix) = host.strip_prefix("*.") {
        Pattern::Suffix(format!(".{}", domain(suffix)?))
    } else {
        match Host::parse(&host) {
            Ok(Host::Ipv4(a)) => Pattern::Ip(IpAddr::V4(a)),
            Ok(Host::Ipv6(a)) => Pattern::Ip(IpAddr::V6(a).to_canonical()),
            _ => Pattern::Host(domain(&host)?),
        }
    };
    Ok(AllowEntry {
        http,
        pattern,
        port,
    })
}

/// Whether `entry` is a valid allow-list entry: `[http://|https://]host[:port]`, where host is
/// a name (`hooks.example.com`), a subdomain pattern (`*.example.com`), `*`, an IP address
/// (`10.0.0.5`, `[fd00::5]`); or `[http://]address/prefix` (`10.0.0.0/8`).
pub fn check_allow_entry(entry: &str) -> Result<(), FieldError> {
    parse_allow_entry(entry).map(|_| ())
}

fn allow_entries(allow: &[String]) -> impl Iterator<Item = AllowEntry> + '_ {
    allow.iter().filter_map(|e| parse_allow_entry(e).ok())
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - len as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - len as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl AllowEntry {
    /// Whether the entry names `ip` itself (an address or a network; `*` does not count).
    fn names_address(&self, ip: IpAddr) -> bool {
        match self.pattern {
            Pattern::Ip(a) => a == ip,
            Pattern::Net(n, len) => in_net(ip, n, len),
            _ => false,
        }
    }

    fn matches_host(&self, domain: Option<&str>, ip: Option<IpAddr>) -> bool {
        match (&self.pattern, domain, ip) {
            (Pattern::Any, _, _) => true,
            (Pattern::Host(h), Some(d), _) => h == d,
            (Pattern::Suffix(s), Some(d), _) => d.len() > s.len() && d.ends_with(s.as_str()),
            (_, _, Some(ip)) => self.names_address(ip),
            _ => false,
        }
    }

    fn allows_port(&self, port: u16, http: bool) -> bool {
        port == self.port.unwrap_or(if http { 80 } else { 443 })
    }
}

/// Whether the application may connect to `ip`, an address the target's host resolved to
/// (checked after resolving and before connecting, so a name cannot be pointed at an
/// internal address after its URL was accepted). Public addresses may; unspecified, multicast
/// and broadcast ones never; the others (loopback, private, link-local, unique-local,
/// shared, documentation, reserved) only when an allow-list entry names the address or its
/// network.
pub fn ip_allowed(ip: IpAddr, allow: &[String]) -> bool {
    let ip = ip.to_canonical();
    match classify_ip(ip) {
        AddressClass::Public => true,
        class if class.never() => false,
        _ => allow_entries(allow).any(|e| e.names_address(ip)),
    }
}

/// Why a webhook URL is refused; `code` is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not an absolute URL")]
    Invalid,
    #[error("only https URLs (or http where the allow-list says so) can be called")]
    Scheme,
    #[error("the URL carries a user name or password")]
    Credentials,
    #[error("the host is not in the webhook allow-list")]
    HostNotAllowed,
    #[error("the allow-list does not allow this port for this host")]
    PortNotAllowed,
    #[error("the allow-list does not allow plain http for this host")]
    HttpNotAllowed,
    #[error("the address is {0}, not public, and the allow-list does not name it")]
    AddressNotPublic(AddressClass),
}

impl UrlRefusal {
    pub fn code(self) -> &'static str {
        match self {
            UrlRefusal::Invalid => "url_invalid",
            UrlRefusal::Scheme => "url_scheme",
            UrlRefusal::Credentials => "url_credentials",
            UrlRefusal::HostNotAllowed => "url_host_not_allowed",
            UrlRefusal::PortNotAllowed => "url_port_not_allowed",
            UrlRefusal::HttpNotAllowed => "url_http_not_allowed",
            UrlRefusal::AddressNotPublic(_) => "url_address_not_public",
        }
    }
}

/// A webhook URL the allow-list admits; only [`check_webhook_url`] makes one, so whatever is
/// rendered was checked against the allow-list of the moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTarget {
    pub(super) url: Url,
    host: String,
    port: u16,
    ip: Option<IpAddr>,
}

impl ParsedTarget {
    /// The URL to call (without any fragment).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host name, or the address as written in the URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address, when the URL's host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The URL for logs and pages, without its secrets: query values and path segments of
    /// 16 characters or more (robot keys and tokens) are shortened to "…" — after their first
    /// 4 characters when they have 12 or more.
    pub fn redacted(&self) -> String {
        // Long values keep their first 4 characters (enough to tell two apart), short ones
        // nothing.
        let short = |s: &str| {
            if s.chars().count() >= 12 {
                format!("{}{ELLIPSIS}", s.chars().take(4).collect::<String>())
            } else if s.is_empty() {
                String::new()
            } else {
                ELLIPSIS.to_string()
            }
        };
        let mut out = format!(
            "{}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or("")
        );
        if let Some(port) = self.url.port() {
            out.push_str(&format!(":{port}"));
        }
        let path = self.url.path();
        out.push_str(
            &path
                .split('/')
                .map(|seg| {
                    if seg.len() >= 16 {
                        short(seg)
                    } else {
                        seg.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/"),
        );
        let query: Vec<String> = self
            .url
            .query_pairs()
            .map(|(k, v)| format!("{k}={}", short(&v)))
            .collect();
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    }
}

/// A webhook URL as shown back to people and over the API: robot URLs carry their credential
/// in the URL (WeCom `?key=`, DingTalk `?access_token=`, Feishu `/hook/<token>`), so every
/// query value and the token after `/hook/` keep only their first 4 characters. Saving a
/// channel with its masked URL keeps the stored one.
pub fn mask_url(url: &str) -> String {
    fn part(s: &str) -> String {
        if s.chars().count() > 4 {
            format!("{}…", s.chars().take(4).collect::<String>())
        } else {
            s.to_string()
        }
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.find("/hook/") {
        Some(at) => {
            let (head, token) = base.split_at(at + "/hook/".len());
            format!("{head}{}", part(token))
        }
        None => base.to_string(),
    };
    match query {
        None => base,
        Some(q) => {
            let masked: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => format!("{k}={}", part(v)),
                    None => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", masked.join("&"))
        }
    }
}

/// Whether `url` may be called under the allow-list `allow` (entries as in
/// [`check_allow_entry`]; invalid ones are ignored). It must be https — http only if a
/// matching entry is written `http://…` — without a user name or password; its host must
/// match an entry (exactly, `*.suffix` for subdomains, or `*`) on the entry's port (else the
/// scheme's own); and a host written as an address must be public unless an entry names that
/// address or its network (unspecified, multicast and broadcast addresses never). Names are
/// compared after IDNA (punycode) and lowercasing, without a trailing dot.
pub fn check_webhook_url(url: &str, allow: &[String]) -> Result<ParsedTarget, UrlRefusal> {
    let mut parsed = Url::parse(url.trim()).map_err(|_| UrlRefusal::Invalid)?;
    let http = match parsed.scheme() {
        "https" => false,
        "http" => true,
        _ => return Err(UrlRefusal::Scheme),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    parsed.set_fragment(None);
    let (domain, ip) = match parsed.host() {
        Some(Host::Domain(d)) => (Some(d.trim_end_matches('.').to_string()), None),
        Some(Host::Ipv4(a)) => (None, Some(IpAddr::V4(a))),
        Some(Host::Ipv6(a)) => (None, Some(IpAddr::V6(a).to_canonical())),
        None => return Err(UrlRefusal::Invalid),
    };
    if domain.as_deref() == Some("") {
        return Err(UrlRefusal::Invalid);
    }
    let port = parsed.port_or_known_default().ok_or(UrlRefusal::Invalid)?;
    let entries: Vec<AllowEntry> = allow_entries(allow)
        .filter(|e| e.matches_host(domain.as_deref(), ip))
        .collect();
    if entries.is_empty() {
        return Err(UrlRefusal::HostNotAllowed);
    }
    let on_port: Vec<&AllowEntry> = entries
        .iter()
        .filter(|e| e.allows_port(port, http))
        .collect();
    if on_port.is_empty() {
        return Err(UrlRefusal::PortNotAllowed);
    }
    if http && !on_port.iter().any(|e| e.http) {
        return Err(UrlRefusal::HttpNotAllowed);
    }
    if let Some(ip) = ip {
        if !ip_allowed(ip, allow) {
            return Err(UrlRefusal::AddressNotPublic(classify_ip(ip)));
        }
    }
    let host = domain
        .or_else(|| ip.map(|ip| ip.to_string()))
        .unwrap_or_default();
    Ok(ParsedTarget {
        url: parsed,
        host,
        port,
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::delivery::render::tests::{DINGTALK, FEISHU, WECOM};
    use shangji_core::model::ChannelKind;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn robot_credentials_are_masked_in_urls() {
        let cases = [
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a…",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef",
                "https://oapi.dingtalk.com/robot/send?access_token=0123…",
            ),
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef",
                "https://open.feishu.cn/open-apis/bot/v2/hook/0123…",
            ),
            (
                "https://hooks.example.com/crm?v=1&sig=abcdefgh",
                "https://hooks.example.com/crm?v=1&sig=abcd…",
            ),
            (
                "https://hooks.example.com/crm",
                "https://hooks.example.com/crm",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(mask_url(url), shown, "{url}");
        }
    }
    // --- Allow-list ---------------------------------------------------------------------

    #[test]
    fn webhook_urls_against_the_allow_list() {
        // The host of the accepted URL, or the refusal's code (and the address class).
        let check = |allow: &[String], cases: &[(&str, &str)]| {
            for (url, expected) in cases {
                let got = match check_webhook_url(url, allow) {
                    Ok(target) => target.host().to_string(),
                    Err(UrlRefusal::AddressNotPublic(class)) => {
                        format!("url_address_not_public {class}")
                    }
                    Err(refusal) => refusal.code().to_string(),
                };
                assert_eq!(got, *expected, "{url} under {allow:?}");
            }
        };
        let list = strings(&[
            "qyapi.weixin.qq.com",
            "*.example.com",
            "http://intranet.corp",
            "hooks.example.org:8443",
            "10.1.2.3",
            "http://192.168.0.0/16",
            "[fd00::1]",
            "例子.cn",
            "not a valid entry",
        ]);
        check(
            &list,
            &[
                (
                    "https://qyapi.weixin.qq.com/send?key=k",
                    "qyapi.weixin.qq.com",
                ),
                (
                    "https://QYAPI.Weixin.QQ.com./send?key=k",
                    "qyapi.weixin.qq.com",
                ),
                ("https://qyapi.weixin.qq.com:443/x", "qyapi.weixin.qq.com"),
                ("  https://qyapi.weixin.qq.com/x#f  ", "qyapi.weixin.qq.com"),
                ("http://qyapi.weixin.qq.com/x", "url_http_not_allowed"),
                ("https://qyapi.weixin.qq.com:8443/x", "url_port_not_allowed"),
                ("ftp://qyapi.weixin.qq.com/x", "url_scheme"),
                ("file:///etc/passwd", "url_scheme"),
                ("javascript:alert(1)", "url_scheme"),
                ("not a url", "url_invalid"),
                ("/relative/path", "url_invalid"),
                ("", "url_invalid"),
                ("https://user:pw@qyapi.weixin.qq.com/x", "url_credentials"),
                ("https://qyapi.weixin.qq.com@evil.test/x", "url_credentials"),
                (
                    "https://evil.test/?u=qyapi.weixin.qq.com",
                    "url_host_not_allowed",
                ),
                (
                    "https://qyapi.weixin.qq.com.evil.test/x",
                    "url_host_not_allowed",
                ),
                ("https://a.example.com/hook", "a.example.com"),
                ("https://a.b.example.com/hook", "a.b.example.com"),
                ("https://example.com/hook", "url_host_not_allowed"),
                ("https://badexample.com/hook", "url_host_not_allowed"),
                ("https://hooks.example.org:8443/x", "hooks.example.org"),
                ("https://hooks.example.org/x", "url_port_not_allowed"),
                ("http://intranet.corp/hook", "intranet.corp"),
                ("https://intranet.corp/hook", "intranet.corp"),
                ("http://intranet.corp:8080/hook", "url_port_not_allowed"),
                ("https://10.1.2.3/hook", "10.1.2.3"),
                ("http://10.1.2.3/hook", "url_http_not_allowed"),
                ("https://10.1.2.4/hook", "url_host_not_allowed"),
                ("http://192.168.5.6/hook", "192.168.5.6"),
                ("https://[fd00::1]/hook", "fd00::1"),
                ("https://[fd00::2]/hook", "url_host_not_allowed"),
                ("https://例子.cn/hook", "xn--fsqu00a.cn"),
                ("https://XN--FSQU00A.cn/hook", "xn--fsqu00a.cn"),
            ],
        );
        check(
            &strings(&["*"]),
            &[
                ("https://anything.test/hook", "anything.test"),
                ("http://anything.test/hook", "url_http_not_allowed"),
                ("https://anything.test:8443/hook", "url_port_not_allowed"),
                ("https://8.8.8.8/hook", "8.8.8.8"),
                ("https://127.0.0.1/hook", "url_address_not_public loopback"),
                ("https://0x7f.1/hook", "url_address_not_public loopback"),
                ("https://2130706433/hook", "url_address_not_public loopback"),
                ("https://[::1]/hook", "url_address_not_public loopback"),
                (
                    "https://[::ffff:127.0.0.1]/hook",
                    "url_address_not_public loopback",
                ),
                (
                    "https://169.254.169.254/latest",
                    "url_address_not_public link_local",
                ),
                ("https://10.0.0.1/hook", "url_address_not_public private"),
                (
                    "https://[fd12::1]/hook",
                    "url_address_not_public unique_local",
                ),
                ("https://0.0.0.0/hook", "url_address_not_public unspecified"),
            ],
        );
        check(
            &strings(&["0.0.0.0"]),
            &[("https://0.0.0.0/hook", "url_address_not_public unspecified")],
        );
        check(
            &strings(&["127.0.0.1"]),
            &[("https://127.0.0.1/hook", "127.0.0.1")],
        );
        check(
            &strings(&["*", "10.0.0.0/8"]),
            &[("https://10.9.9.9/hook", "10.9.9.9")],
        );
        check(
            &[],
            &[("https://qyapi.weixin.qq.com/x", "url_host_not_allowed")],
        );

        let t = check_webhook_url("https://qyapi.weixin.qq.com/x#frag", &list).unwrap();
        assert_eq!(t.as_str(), "https://qyapi.weixin.qq.com/x");
        assert_eq!((t.port(), t.ip()), (443, None));
        let t = check_webhook_url("https://hooks.example.org:8443/x", &list).unwrap();
        assert_eq!(t.port(), 8443);
        let t = check_webhook_url("https://10.1.2.3/x", &list).unwrap();
        assert_eq!(t.ip(), Some("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn refusal_codes_are_stable() {
        use UrlRefusal::*;
        let cases = [
            (Invalid, "url_invalid"),
            (Scheme, "url_scheme"),
            (Credentials, "url_credentials"),
            (HostNotAllowed, "url_host_not_allowed"),
            (PortNotAllowed, "url_port_not_allowed"),
            (HttpNotAllowed, "url_http_not_allowed"),
            (
                AddressNotPublic(AddressClass::Loopback),
                "url_address_not_public",
            ),
        ];
        for (refusal, code) in cases {
            assert_eq!(refusal.code(), code);
        }
        assert_eq!(
            AddressNotPublic(AddressClass::LinkLocal).to_string(),
            "the address is link_local, not public, and the allow-list does not name it"
        );
    }

    #[test]
    fn resolved_addresses() {
        let none: &[&str] = &[];
        let cases: &[(&str, &[&str], bool)] = &[
            ("8.8.8.8", none, true),
            ("2400:cb00::1", none, true),
            ("64:ff9b::808:808", none, true),
            ("10.0.0.1", none, false),
            ("10.0.0.1", &["*"], false),
            ("10.0.0.1", &["*.example.com"], false),
            ("10.0.0.1", &["10.0.0.1"], true),
            ("10.0.0.1", &["10.0.0.0/8"], true),
            ("10.0.0.1", &["http://10.0.0.0/8"], true),
            ("10.0.0.1", &["10.0.0.0/31"], true),
            ("10.0.0.2", &["10.0.0.0/31"], false),
            ("11.0.0.1", &["10.0.0.0/8"], true),
            ("172.16.0.1", none, false),
            ("172.32.0.1", none, true),
            ("192.168.1.1", none, false),
            ("127.0.0.1", none, false),
            ("127.0.0.1", &["127.0.0.0/8"], true),
            ("::1", none, false),
            ("::1", &["[::1]"], true),
            ("::1", &["::1"], true),
            ("::ffff:10.0.0.1", none, false),
            ("::ffff:10.0.0.1", &["10.0.0.0/8"], true),
            ("169.254.169.254", none, false),
            ("100.64.0.1", none, false),
            ("192.0.2.1", none, false),
            ("198.18.0.1", none, false),
            ("240.0.0.1", none, false),
            ("fe80::1", none, false),
            ("fd12::1", none, false),
            ("fd12::1", &["fd00::/8"], true),
            ("fd12::1", &["[fd00::]/8"], true),
            ("fd12::1", &["fd00::/16"], false),
            ("fec0::1", none, false),
            ("2001:db8::1", none, false),
            ("64:ff9b::a00:1", none, false),
            ("2002:a00:1::", none, false),
            ("2002:808:808::", none, true),
            ("0.0.0.0", &["0.0.0.0"], false),
            ("::", &["::/0"], false),
            ("224.0.0.1", &["224.0.0.0/4"], false),
            ("ff02::1", &["ff00::/8"], false),
            ("255.255.255.255", &["255.255.255.255"], false),
            ("10.0.0.1", &["0.0.0.0/0"], true),
        ];
        for (ip, allow, expected) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_allowed(ip, &strings(allow)), *expected, "{ip} {allow:?}");
        }
    }

    #[test]
    fn address_classes() {
        use AddressClass::*;
        let cases = [
            ("1.1.1.1", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("127.8.8.8", Loopback),
            ("10.1.1.1", Private),
            ("172.20.1.1", Private),
            ("192.168.0.1", Private),
            ("169.254.1.1", LinkLocal),
            ("100.127.255.255", Shared),
            ("100.128.0.0", Public),
            ("203.0.113.9", Documentation),
            ("198.51.100.9", Documentation),
            ("239.1.1.1", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.0.9", Reserved),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("ff05::2", Multicast),
            ("2001:db8::", Documentation),
            ("::ffff:192.168.1.1", Private),
            ("::ffff:1.1.1.1", Public),
            ("::1.2.3.4", Reserved),
            ("100::1", Reserved),
            ("2408:8000::1", Public),
        ];
        for (ip, class) in cases {
            assert_eq!(classify_ip(ip.parse().unwrap()), class, "{ip}");
        }
    }

    #[test]
    fn allow_list_entries() {
        let valid = [
            "qyapi.weixin.qq.com",
            " Open.Feishu.CN ",
            "*.example.com",
            "*",
            "*:8443",
            "http://intranet.corp",
            "HTTP://intranet.corp",
            "https://hooks.example.org:8443",
            "https://hooks.example.com/",
            "10.0.0.0/",
            "10.1.2.3",
            "10.1.2.3:8080",
            "[fd00::1]",
            "[fd00::1]:8443",
            "fd00::1",
            "10.0.0.0/8",
            "http://192.168.0.0/16",
            "fd00::/8",
            "[fd00::]/8",
            "例子.cn",
            "*.例子.cn",
        ];
        for entry in valid {
            assert_eq!(check_allow_entry(entry), Ok(()), "{entry}");
        }
        let invalid = [
            "",
            "   ",
            "https://",
            "exa mple.com",
            "*example.com",
            "a.*.com",
            "*.",
            "https://hooks.example.com/path",
            "10.0.0.0/33",
            "fd00::/129",
            "host/8",
            "x.com:0",
            "x.com:65536",
            "x.com:abc",
            "[fd00::1",
            "[fd00::1]:",
        ];
        for entry in invalid {
            let error = check_allow_entry(entry).expect_err(entry);
            assert_eq!(error.code, "allow_entry_invalid", "{entry}");
        }
    }

    #[test]
    fn redacted_urls_hide_keys_and_tokens() {
        let cases = [
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a…",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=abc&x=",
                "https://oapi.dingtalk.com/robot/send?access_token=…&x=",
            ),
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e8a0c-4b1e-4d43-8c83",
                "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e…",
            ),
            (
                "https://hooks.example.org:8443/shangji",
                "https://hooks.example.org:8443/shangji",
            ),
        ];
        let any = strings(&["*", "*:8443"]);
        for (url, expected) in cases {
            assert_eq!(check_webhook_url(url, &any).unwrap().redacted(), expected);
        }
    }

    #[test]
    fn platform_hosts_pass_their_own_allow_list() {
        let urls = [
            (ChannelKind::WeCom, WECOM),
            (ChannelKind::DingTalk, DINGTALK),
            (ChannelKind::Feishu, FEISHU),
        ];
        for (channel, url) in urls {
            let allow = strings(channel.platform_hosts());
            assert!(check_webhook_url(url, &allow).is_ok(), "{channel}");
        }
        assert!(ChannelKind::Webhook.platform_hosts().is_empty());
    }
}
