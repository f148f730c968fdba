//! The Common Log Format family: NCSA/Apache `common`, Apache/nginx `combined`, Apache
//! `vhost_combined`, and Squid's `common` and `combined` logformats.
//!
//! ```text
//! common          %h %l %u %t "%r" %>s %b
//! combined        %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
//! vhost_combined  %v:%p %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
//! squid_common    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh
//! squid_combined  %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh
//! ```
//!
//! Choices (documented in docs/formats/combined.md and docs/formats/squid-common.md):
//! - The client (`%h`, `%>a`) must be an IP address; a host name (Apache with
//!   `HostnameLookups On`) is a `bad_ip` reject.
//! - The user field runs up to the `[time]` field, so a Squid user name with spaces stays
//!   one field. `-` is no user. The ident field (`%l`, `%[ui`) is read and dropped.
//! - Apache's `%b` writes `-` for a response without body bytes: that is `response_bytes = 0`.
//!   Squid's `%<st` writes `-` only when the size is unknown: that is `None`.
//! - The request line `"-"` (or `""`) is an event without method and URL. Any other request
//!   line must read `METHOD SP target [SP HTTP/x.y]`, or the line is a `bad_request` reject.
//! - Text after the last field of the layout is a `field_count` reject (strict: a
//!   `combined` line read as `common`, or nginx's `main` format with its trailing
//!   `"$http_x_forwarded_for"`, should be noticed, not half-read).
//! - Squid's `%Ss:%Sh` gives `proxy_action` = the `%Ss` part (`TCP_MISS`), as the native
//!   Squid format does; the hierarchy code is not stored.

use std::borrow::Cow;

use crate::fields::{Cursor, dash_none, dash_none_cow, int_field, ip_field, status_field, truncate};
use crate::reject::{Reject, RejectReason, reject};
use crate::url::{lower_host, split_authority, split_url};
use crate::{LineParser, Outcome, Record, time};

/// Apache's documentation example, in the common format.
pub const EXAMPLE_COMMON: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;

/// Apache's documentation example, in the combined format.
pub const EXAMPLE_COMBINED: &str = concat!(
    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "#,
    r#""http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#
);

/// A vhost_combined line: the virtual host and port, then combined.
pub const EXAMPLE_VHOST_COMBINED: &str = concat!(
    r#"www.example.com:443 203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /search?q=proxy+logs HTTP/1.1" 200 5120 "#,
    r#""https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0""#
);

/// A Squid `common` line.
pub const EXAMPLE_SQUID_COMMON: &str =
    r#"192.168.1.20 - - [22/Dec/2007:05:37:19 +0100] "GET http://www.example.com/index.html HTTP/1.1" 200 4521 TCP_MISS:HIER_DIRECT"#;

/// A Squid `combined` line.
pub const EXAMPLE_SQUID_COMBINED: &str = concat!(
    r#"192.168.1.20 - alice [22/Dec/2007:05:37:19 +0100] "CONNECT login.live.com:443 HTTP/1.1" 200 6218 "#,
    r#""-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" TCP_TUNNEL:HIER_DIRECT"#
);

/// Which member of the family a [`Clf`] parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClfVariant {
    /// `%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh`
    SquidCommon,
    /// Squid common with `"%{Referer}>h" "%{User-Agent}>h"` before `%Ss:%Sh`.
    SquidCombined,
    /// `%h %l %u %t "%r" %>s %b`
    Common,
    /// Common followed by `"%{Referer}i" "%{User-Agent}i"`.
    Combined,
    /// `%v:%p` followed by combined.
    VhostCombined,
}

impl ClfVariant {
    fn has_vhost(self) -> bool {
        self == ClfVariant::VhostCombined
    }

    fn has_referrer_and_agent(self) -> bool {
        !matches!(self, ClfVariant::Common | ClfVariant::SquidCommon)
    }

    fn is_squid(self) -> bool {
        matches!(self, ClfVariant::SquidCommon | ClfVariant::SquidCombined)
    }

    /// The name of the last field, for messages about text after it.
    fn last_field(self) -> &'static str {
        match self {
            ClfVariant::Common => "bytes",
            ClfVariant::Combined | ClfVariant::VhostCombined => "user agent",
            ClfVariant::SquidCommon | ClfVariant::SquidCombined => "%Ss:%Sh",
        }
    }
}

/// A parser for one [`ClfVariant`].
#[derive(Debug, Clone)]
pub struct Clf {
    pub variant: ClfVariant,
}

impl Clf {
    pub fn new(variant: ClfVariant) -> Self {
        Clf { variant }
    }

    fn parse_line<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
        let v = self.variant;
        let mut c = Cursor::new(line);

        let vhost = if v.has_vhost() { Some(vhost_field(c.need("virtual host")?)?) } else { None };

        rec.client_ip = ip_field(c.need("client address")?, "client address")?;
        c.need("ident")?;

        // The user runs up to the `[time]` field (Squid does not escape spaces in names).
        let rest = c.rest();
        let at = time_field_start(rest).ok_or_else(|| match rest.find('[') {
            None => reject(RejectReason::FieldCount, "line ends before the time field"),
            Some(_) => reject(RejectReason::Malformed, "no [dd/Mon/yyyy:HH:MM:SS zone] time field after the user field"),
        })?;
        let user = rest[..at].trim_matches([' ', '\t']);
        if user.is_empty() {
            return Err(reject(RejectReason::FieldCount, "line ends before the user field (the time field follows the ident)"));
        }
        rec.user = dash_none(user).map(Cow::Borrowed);

        let mut c = Cursor::new(&rest[at..]);
        let t = c.bracketed("time")?;
        rec.ts_micros = Some(
            time::parse_clf(t)
                .ok_or_else(|| reject(RejectReason::BadTimestamp, format!("time is not dd/Mon/yyyy:HH:MM:SS zone: {:?}", truncate(t))))?,
        );

        match c.quoted("request")?.text() {
            Cow::Borrowed(request) => fill_request(rec, request)?,
            Cow::Owned(request) => fill_request_owned(rec, request)?,
        }

        rec.status = status_field(c.need("status")?)?;

        let bytes = c.need("bytes")?;
        rec.response_bytes = if bytes == "-" && !v.is_squid() { Some(0) } else { int_field(bytes, "bytes")? };

        if v.has_referrer_and_agent() {
            rec.referrer = dash_none_cow(c.quoted("referrer")?.text());
            rec.user_agent = dash_none_cow(c.quoted("user agent")?.text());
        }

        if v.is_squid() {
            let action = c.need("%Ss:%Sh")?;
            let code = action.split_once(':').map_or(action, |(code, _hierarchy)| code);
            rec.proxy_action = dash_none(code).map(Cow::Borrowed);
        }

        if !c.at_end() {
            let extra = c.rest();
            let hint = if v == ClfVariant::Common && extra.starts_with('"') { " (a combined line? use format \"combined\")" } else { "" };
            return Err(reject(
                RejectReason::FieldCount,
                format!("unexpected text after the {} field{hint}: {:?}", v.last_field(), truncate(extra)),
            ));
        }

        // vhost_combined: the virtual host names the server unless the request URL did.
        if let Some((host, port)) = vhost
            && rec.host.is_none()
        {
            rec.host = Some(lower_host(host));
            rec.port = port;
        }
        Ok(())
    }
}

impl LineParser for Clf {
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome {
        self.parse_line(line, rec).into()
    }
}

/// Where the `[dd/` of the time field starts in `rest` (at its start or after a space).
fn time_field_start(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    memchr::memchr_iter(b'[', b).find(|&i| {
        (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t')
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && b.get(i + 2).is_some_and(u8::is_ascii_digit)
            && b.get(i + 3) == Some(&b'/')
    })
}

/// `%v:%p`: the virtual host name and the server port. The port is after the last colon
/// (so an unbracketed IPv6 server name keeps its colons); a field without a colon is a
/// host alone.
fn vhost_field(s: &str) -> Result<(&str, Option<i32>), Reject> {
    if s.starts_with('[') {
        let (host, port) = split_authority(s);
        let host = host.ok_or_else(|| reject(RejectReason::Malformed, format!("virtual host is empty: {:?}", truncate(s))))?;
        return Ok((host, port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => {
            let p = int_field(port, "virtual host port")?;
            match p {
                Some(p) if (0..=65535).contains(&p) => (host, Some(p as i32)),
                None => (host, None),
                Some(_) => return Err(reject(RejectReason::BadNumber, format!("virtual host port out of range: {:?}", truncate(s)))),
            }
        }
        None => (s, None),
    };
    if host.is_empty() {
        return Err(reject(RejectReason::Malformed, format!("virtual host is empty: {:?}", truncate(s))));
    }
    Ok((host, port))
}

/// A request line split into method and target (`None` for `-`).
struct RequestLine<'s> {
    method: Option<&'s str>,
    target: Option<&'s str>,
}

/// HTTP token characters (RFC 9110), which a method consists of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `HTTP/1.1`, `HTTP/2.0`, `HTTP/0.0` (Squid for no request), any case.
fn is_http_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 5 && b[..5].eq_ignore_ascii_case(b"HTTP/") && b[5].is_ascii_digit() && b[5..].iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

/// Splits `METHOD SP target [SP HTTP/x.y]`. `Ok(None)` for a logged `-` or empty request.
/// A target with spaces (sent so by scanners) is kept whole.
fn split_request(s: &str) -> Result<Option<RequestLine<'_>>, Reject> {
    let s = s.trim_matches(' ');
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    let Some((method, after)) = s.split_once(' ') else {
        return Err(reject(RejectReason::BadRequest, format!("request line has no target: {:?}", truncate(s))));
    };
    if !method.bytes().all(is_tchar) {
        return Err(reject(RejectReason::BadRequest, format!("request line does not start with a method: {:?}", truncate(s))));
    }
    let target = match after.rsplit_once(' ') {
        Some((target, proto)) if is_http_version(proto) => target,
        Some(_) => {
            return Err(reject(RejectReason::BadRequest, format!("request line does not end with HTTP/x.y: {:?}", truncate(s))));
        }
        None => after,
    };
    let target = target.trim_matches(' ');
    Ok(Some(RequestLine { method: dash_none(method), target: dash_none(target) }))
}

/// Targets that are not URLs and must not be split into host and path: `*` (OPTIONS *)
/// and Squid's `error:...` pseudo-URLs.
fn is_opaque_target(t: &str) -> bool {
    t == "*" || t.starts_with("error:")
}

fn fill_request<'a>(rec: &mut Record<'a>, raw: &'a str) -> Result<(), Reject> {
    let Some(req) = split_request(raw)? else { return Ok(()) };
    rec.method = req.method.map(Cow::Borrowed);
    if let Some(t) = req.target {
        if is_opaque_target(t) {
            rec.url = Some(Cow::Borrowed(t));
        } else {
            rec.set_url(t, req.method);
        }
    }
    Ok(())
}

/// The same as [`fill_request`] for a request line that had `\"` or `\\` escapes resolved:
/// the values are copied out of the unescaped text.
fn fill_request_owned(rec: &mut Record<'_>, text: String) -> Result<(), Reject> {
    let Some(req) = split_request(&text)? else { return Ok(()) };
    let owned = |s: &str| Cow::Owned(s.to_string());
    rec.method = req.method.map(owned);
    if let Some(t) = req.target {
        if !is_opaque_target(t) {
            let parts = split_url(t, req.method);
            rec.scheme = parts.scheme.map(owned);
            rec.host = parts.host.map(|h| Cow::Owned(lower_host(h).into_owned()));
            rec.port = parts.port;
            rec.path = parts.path.map(owned);
            rec.query = parts.query.map(owned);
        }
        rec.url = Some(owned(t));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_micros;

    fn parse(variant: ClfVariant, line: &str) -> Result<Record<'_>, Reject> {
        let mut rec = Record::default();
        match Clf::new(variant).parse(line, &mut rec) {
            Outcome::Event => Ok(rec),
            Outcome::Reject(r) => Err(r),
            Outcome::Skipped => panic!("CLF never skips a line"),
        }
    }

    fn ok(variant: ClfVariant, line: &str) -> Record<'_> {
        parse(variant, line).unwrap_or_else(|r| panic!("rejected {line:?}: {r:?}"))
    }

    fn rejected(variant: ClfVariant, line: &str) -> Reject {
        match parse(variant, line) {
            Ok(rec) => panic!("accepted {line:?} as {rec:?}"),
            Err(r) => r,
        }
    }

    fn ts(rec: &Record<'_>) -> String {
        format_micros(rec.ts_micros.unwrap())
    }

    use ClfVariant::*;

    #[test]
    fn common_example() {
        let r = ok(Common, EXAMPLE_COMMON);
        assert_eq!(ts(&r), "2000-10-10T20:55:36.000000Z");
        assert_eq!(r.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(r.user.as_deref(), Some("frank"));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.url.as_deref(), Some("/apache_pb.gif"));
        assert_eq!(r.path.as_deref(), Some("/apache_pb.gif"));
        assert_eq!((r.scheme.as_deref(), r.host.as_deref(), r.port, r.query.as_deref()), (None, None, None, None));
        assert_eq!(r.status, Some(200));
        assert_eq!(r.response_bytes, Some(2326));
        assert_eq!((r.request_bytes, r.referrer.as_deref(), r.user_agent.as_deref()), (None, None, None));
        assert_eq!(r.proxy_action, None);
    }

    #[test]
    fn combined_example() {
        let r = ok(Combined, EXAMPLE_COMBINED);
        assert_eq!(ts(&r), "2000-10-10T20:55:36.000000Z");
        assert_eq!(r.user.as_deref(), Some("frank"));
        assert_eq!(r.referrer.as_deref(), Some("http://www.example.com/start.html"));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/4.08 [en] (Win98; I ;Nav)"));
        assert_eq!(r.response_bytes, Some(2326));
    }

    #[test]
    fn combined_dashes_and_query() {
        let line = r#"180.76.6.56 - - [20/May/2015:21:05:56 +0000] "GET /blog/tags/puppet?flav=rss20 HTTP/1.1" 304 - "-" "-""#;
        let r = ok(Combined, line);
        assert_eq!(r.user, None);
        assert_eq!(r.path.as_deref(), Some("/blog/tags/puppet"));
        assert_eq!(r.query.as_deref(), Some("flav=rss20"));
        assert_eq!(r.status, Some(304));
        // Apache writes `-` for zero body bytes.
        assert_eq!(r.response_bytes, Some(0));
        assert_eq!((r.referrer.as_deref(), r.user_agent.as_deref()), (None, None));
    }

    #[test]
    fn nginx_zero_bytes_and_ipv6_client() {
        let line = r#"2001:DB8::7 - - [01/Mar/2024:00:00:00 +0100] "HEAD / HTTP/2.0" 200 0 "-" "curl/8.5.0""#;
        let r = ok(Combined, line);
        assert_eq!(r.client_ip.as_deref(), Some("2001:db8::7"));
        assert_eq!(ts(&r), "2024-02-29T23:00:00.000000Z");
        assert_eq!(r.method.as_deref(), Some("HEAD"));
        assert_eq!(r.response_bytes, Some(0));
        assert_eq!(r.user_agent.as_deref(), Some("curl/8.5.0"));
    }

    #[test]
    fn escapes_in_quoted_fields() {
        let line = concat!(
            r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a\"b\\c?x=\"1\" HTTP/1.1" 200 5 "#,
            r#""http://\xe4\xe5.example/" "Bot \"quoted\" 1.0""#
        );
        let r = ok(Combined, line);
        assert_eq!(r.url.as_deref(), Some(r#"/a"b\c?x="1""#));
        assert_eq!(r.path.as_deref(), Some(r#"/a"b\c"#));
        assert_eq!(r.query.as_deref(), Some(r#"x="1""#));
        assert_eq!(r.method.as_deref(), Some("GET"));
        // `\xHH` stays as Apache wrote it.
        assert_eq!(r.referrer.as_deref(), Some(r"http://\xe4\xe5.example/"));
        assert_eq!(r.user_agent.as_deref(), Some(r#"Bot "quoted" 1.0"#));
        // A raw quote (nginx writes \x22, Apache \") stays inside the field unless a space follows it.
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "a "b"c""#;
        assert_eq!(ok(Combined, line).user_agent.as_deref(), Some(r#"a "b"c"#));
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "a "b" c""#;
        assert_eq!(rejected(Combined, line).reason, RejectReason::FieldCount);
    }

    #[test]
    fn escaped_absolute_request_copies_parts() {
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET http://Evil.Example:8080/x\"y?q HTTP/1.1" 200 5"#;
        let r = ok(Common, line);
        assert_eq!(r.url.as_deref(), Some(r#"http://Evil.Example:8080/x"y?q"#));
        assert_eq!(r.scheme.as_deref(), Some("http"));
        assert_eq!(r.host.as_deref(), Some("evil.example"));
        assert_eq!(r.port, Some(8080));
        assert_eq!(r.path.as_deref(), Some(r#"/x"y"#));
        assert_eq!(r.query.as_deref(), Some("q"));
    }

    #[test]
    fn request_line_shapes() {
        let base = |req: &str| format!(r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "{req}" 400 226 "-" "-""#);
        // `-`: no request at all (Apache 408), still an event.
        let l = base("-");
        let r = ok(Combined, &l);
        assert_eq!((r.method, r.url, r.path), (None, None, None));
        assert_eq!(r.status, Some(400));
        let l = base("");
        assert_eq!(ok(Combined, &l).method, None);
        // HTTP/0.9 has no version.
        let l = base("GET /old");
        assert_eq!(ok(Combined, &l).path.as_deref(), Some("/old"));
        // Scanners send targets with spaces.
        let l = base("GET /a b/c HTTP/1.0");
        assert_eq!(ok(Combined, &l).url.as_deref(), Some("/a b/c"));
        // OPTIONS * is not a host.
        let l = base("OPTIONS * HTTP/1.1");
        let r = ok(Combined, &l);
        assert_eq!((r.url.as_deref(), r.host, r.path), (Some("*"), None, None));
        // CONNECT through Apache mod_proxy.
        let l = base("CONNECT example.org:8443 HTTP/1.1");
        let r = ok(Combined, &l);
        assert_eq!((r.host.as_deref(), r.port), (Some("example.org"), Some(8443)));
        // Binary junk (a TLS handshake on a plain port) is a bad request.
        let l = base(r"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
        assert_eq!(rejected(Combined, &l).reason, RejectReason::BadRequest);
        let l = base(r"\x16\x03\x01 \x02 HTTP/1.1");
        assert_eq!(rejected(Combined, &l).reason, RejectReason::BadRequest);
        let l = base("GET /x SIP/2.0");
        let why = rejected(Combined, &l);
        assert_eq!(why.reason, RejectReason::BadRequest);
        assert!(why.detail.contains("HTTP/x.y"), "{}", why.detail);
        let l = base("GET");
        assert_eq!(rejected(Combined, &l).reason, RejectReason::BadRequest);
    }

    #[test]
    fn vhost_combined() {
        let r = ok(VhostCombined, EXAMPLE_VHOST_COMBINED);
        assert_eq!(r.client_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(ts(&r), "2015-05-17T10:05:03.000000Z");
        assert_eq!((r.host.as_deref(), r.port, r.scheme.as_deref()), (Some("www.example.com"), Some(443), None));
        assert_eq!(r.url.as_deref(), Some("/search?q=proxy+logs"));
        assert_eq!((r.path.as_deref(), r.query.as_deref()), (Some("/search"), Some("q=proxy+logs")));
        assert_eq!(r.referrer.as_deref(), Some("https://www.example.com/"));
        assert_eq!(r.response_bytes, Some(5120));

        // An absolute request URL names the host itself.
        let line = r#"Proxy.Example:80 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET http://Other.Example/x HTTP/1.1" 200 1 "-" "-""#;
        let r = ok(VhostCombined, line);
        assert_eq!((r.host.as_deref(), r.port, r.scheme.as_deref()), (Some("other.example"), Some(80), Some("http")));
        // Without a request the vhost still says where the connection went; names are lower-cased.
        let line = r#"WWW.Example.com:8080 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "-" 408 - "-" "-""#;
        let r = ok(VhostCombined, line);
        assert_eq!((r.host.as_deref(), r.port, r.url), (Some("www.example.com"), Some(8080), None));
        // IPv6 server names, bracketed or not.
        let line = r#"[2001:db8::1]:443 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        assert_eq!(ok(VhostCombined, line).host.as_deref(), Some("2001:db8::1"));
        let line = r#"2001:db8::1:443 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        let r = ok(VhostCombined, line);
        assert_eq!((r.host.as_deref(), r.port), (Some("2001:db8::1"), Some(443)));
        // A host without port.
        let line = r#"example.com 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        assert_eq!(ok(VhostCombined, line).port, None);
    }

    #[test]
    fn vhost_rejects() {
        let line = r#"example.com:http 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        assert_eq!(rejected(VhostCombined, line).reason, RejectReason::BadNumber);
        let line = r#"example.com:99999 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        assert_eq!(rejected(VhostCombined, line).reason, RejectReason::BadNumber);
        let line = r#":80 10.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#;
        assert_eq!(rejected(VhostCombined, line).reason, RejectReason::Malformed);
        // A combined line read as vhost_combined: the fields shift by one and the user is missing.
        let why = rejected(VhostCombined, EXAMPLE_COMBINED);
        assert_eq!(why.reason, RejectReason::FieldCount, "{why:?}");
    }

    #[test]
    fn squid_common() {
        let r = ok(SquidCommon, EXAMPLE_SQUID_COMMON);
        assert_eq!(ts(&r), "2007-12-22T04:37:19.000000Z");
        assert_eq!(r.client_ip.as_deref(), Some("192.168.1.20"));
        assert_eq!(r.user, None);
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.url.as_deref(), Some("http://www.example.com/index.html"));
        assert_eq!((r.scheme.as_deref(), r.host.as_deref(), r.port), (Some("http"), Some("www.example.com"), Some(80)));
        assert_eq!(r.path.as_deref(), Some("/index.html"));
        assert_eq!(r.status, Some(200));
        assert_eq!(r.response_bytes, Some(4521));
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_MISS"));
        assert_eq!((r.referrer, r.user_agent, r.server_ip), (None, None, None));
    }

    #[test]
    fn squid_combined() {
        let r = ok(SquidCombined, EXAMPLE_SQUID_COMBINED);
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.method.as_deref(), Some("CONNECT"));
        assert_eq!(r.url.as_deref(), Some("login.live.com:443"));
        assert_eq!((r.scheme.as_deref(), r.host.as_deref(), r.port, r.path.as_deref()), (None, Some("login.live.com"), Some(443), None));
        assert_eq!(r.response_bytes, Some(6218));
        assert_eq!(r.referrer, None);
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"));
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_TUNNEL"));
    }

    #[test]
    fn squid_odd_lines() {
        // No reply, an error pseudo-URL, a user with a space, Squid's unknown size `-`.
        let line = concat!(
            r#"10.0.0.5 - DOMAIN%5cJohn Smith [22/Dec/2007:05:37:19 +0000] "#,
            r#""NONE error:invalid-request HTTP/0.0" 000 - NONE_NONE:HIER_NONE"#
        );
        let r = ok(SquidCommon, line);
        assert_eq!(r.user.as_deref(), Some("DOMAIN%5cJohn Smith"));
        assert_eq!(r.method.as_deref(), Some("NONE"));
        assert_eq!((r.url.as_deref(), r.host, r.path), (Some("error:invalid-request"), None, None));
        assert_eq!(r.status, Some(0));
        assert_eq!(r.response_bytes, None);
        assert_eq!(r.proxy_action.as_deref(), Some("NONE_NONE"));
        // `- - HTTP/0.0` and an empty URL.
        let line = r#"10.0.0.5 - - [22/Dec/2007:05:37:19 +0000] "- - HTTP/0.0" 400 0 "-" "-" TAG_NONE:HIER_NONE"#;
        let r = ok(SquidCombined, line);
        assert_eq!((r.method, r.url), (None, None));
        assert_eq!(r.response_bytes, Some(0));
        let line = r#"10.0.0.5 - - [22/Dec/2007:05:37:19 +0000] "NONE  HTTP/0.0" 400 0 TAG_NONE:HIER_NONE"#;
        let r = ok(SquidCommon, line);
        assert_eq!((r.method.as_deref(), r.url), (Some("NONE"), None));
        // A stripped query and a code without hierarchy.
        let line = r#"10.0.0.5 - - [22/Dec/2007:05:37:19 +0000] "GET http://a.example/p? HTTP/1.1" 200 10 TCP_HIT"#;
        let r = ok(SquidCommon, line);
        assert_eq!((r.query.as_deref(), r.proxy_action.as_deref()), (Some(""), Some("TCP_HIT")));
    }

    #[test]
    fn squid_rejects() {
        // A plain common line misses %Ss:%Sh.
        let why = rejected(SquidCommon, EXAMPLE_COMMON);
        assert_eq!(why.reason, RejectReason::FieldCount);
        assert!(why.detail.contains("%Ss:%Sh"), "{}", why.detail);
        // A squid_combined line read as squid_common: the referrer is where %Ss:%Sh should be... then more.
        let why = rejected(SquidCommon, EXAMPLE_SQUID_COMBINED);
        assert_eq!(why.reason, RejectReason::FieldCount);
        let why = rejected(SquidCombined, EXAMPLE_SQUID_COMMON);
        assert_eq!(why.reason, RejectReason::Malformed, "{why:?}");
    }

    #[test]
    fn bad_time() {
        let cases = [
            r#"10.0.0.1 - - [32/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5"#,
            r#"10.0.0.1 - - [17/Mai/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5"#,
            r#"10.0.0.1 - - [17/May/2015:25:05:03 +0000] "GET / HTTP/1.1" 200 5"#,
            r#"10.0.0.1 - - [17/May/2015:10:05:03 UTC] "GET / HTTP/1.1" 200 5"#,
            r#"10.0.0.1 - - [17/May/2015 10:05:03 +0000] "GET / HTTP/1.1" 200 5"#,
        ];
        for line in cases {
            let why = rejected(Common, line);
            assert_eq!(why.reason, RejectReason::BadTimestamp, "{line}: {why:?}");
            assert!(why.detail.contains("17/") || why.detail.contains("32/"), "{}", why.detail);
        }
        // A time that is not bracketed at all.
        let why = rejected(Common, r#"10.0.0.1 - - 17/May/2015:10:05:03 "GET / HTTP/1.1" 200 5"#);
        assert_eq!(why.reason, RejectReason::FieldCount, "{why:?}");
        let why = rejected(Common, r#"10.0.0.1 - - [2015-05-17T10:05:03Z] "GET / HTTP/1.1" 200 5"#);
        assert_eq!(why.reason, RejectReason::Malformed, "{why:?}");
        let why = rejected(Common, r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000 "GET / HTTP/1.1" 200 5"#);
        assert_eq!(why.reason, RejectReason::Malformed, "{why:?}");
    }

    #[test]
    fn bad_numbers() {
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" OK 5"#;
        assert_eq!(rejected(Common, line).reason, RejectReason::BadNumber);
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 2000 5"#;
        assert_eq!(rejected(Common, line).reason, RejectReason::BadNumber);
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5k"#;
        let why = rejected(Common, line);
        assert_eq!(why.reason, RejectReason::BadNumber);
        assert!(why.detail.contains("\"5k\""), "{}", why.detail);
        // `-` status (no reply) is kept as unknown.
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" - -"#;
        assert_eq!(ok(Common, line).status, None);
    }

    #[test]
    fn bad_client() {
        let line = r#"crawl-66-249-73-185.googlebot.com - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5"#;
        let why = rejected(Common, line);
        assert_eq!(why.reason, RejectReason::BadIp);
        assert!(why.detail.contains("googlebot"), "{}", why.detail);
        let line = r#"::ffff:10.9.8.7 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5"#;
        assert_eq!(ok(Common, line).client_ip.as_deref(), Some("10.9.8.7"));
    }

    #[test]
    fn unclosed_quotes() {
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1 200 5"#;
        assert_eq!(rejected(Common, line).reason, RejectReason::Malformed);
        // A truncated user agent (the one reject of the real Apache sample).
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (compatible; Googlebot/2.1"#;
        let why = rejected(Combined, line);
        assert_eq!(why.reason, RejectReason::Malformed);
        assert!(why.detail.contains("user agent"), "{}", why.detail);
        let line = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 - "curl""#;
        assert_eq!(rejected(Combined, line).reason, RejectReason::Malformed);
    }

    #[test]
    fn missing_fields() {
        let cases = [
            (Common, "10.0.0.1"),
            (Common, "10.0.0.1 -"),
            (Common, "10.0.0.1 - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 5"),
            (Common, "10.0.0.1 - - [17/May/2015:10:05:03 +0000]"),
            (Common, r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1""#),
            (Common, r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200"#),
            (Combined, EXAMPLE_COMMON),
            (Combined, r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-""#),
            (VhostCombined, ""),
            (SquidCombined, r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "-""#),
        ];
        for (v, line) in cases {
            let why = rejected(v, line);
            assert_eq!(why.reason, RejectReason::FieldCount, "{v:?} {line}: {why:?}");
            assert!(why.detail.contains("line ends before"), "{}", why.detail);
        }
    }

    #[test]
    fn trailing_fields_are_rejected() {
        let why = rejected(Common, EXAMPLE_COMBINED);
        assert_eq!(why.reason, RejectReason::FieldCount);
        assert!(why.detail.contains("combined"), "{}", why.detail);
        // nginx `main`: combined plus "$http_x_forwarded_for".
        let line = format!("{EXAMPLE_COMBINED} \"198.51.100.4\"");
        let why = rejected(Combined, &line);
        assert_eq!(why.reason, RejectReason::FieldCount);
        assert!(why.detail.contains("after the user agent field"), "{}", why.detail);
        // %D appended.
        let line = format!("{EXAMPLE_COMBINED} 1234");
        assert_eq!(rejected(Combined, &line).reason, RejectReason::FieldCount);
        let line = format!("{EXAMPLE_SQUID_COMMON} extra");
        assert_eq!(rejected(SquidCommon, &line).reason, RejectReason::FieldCount);
        // Trailing spaces and tabs are not fields.
        let line = format!("{EXAMPLE_COMBINED} \t ");
        ok(Combined, &line);
    }

    #[test]
    fn fields_borrow_from_the_line() {
        let r = ok(Combined, EXAMPLE_COMBINED);
        for v in [&r.client_ip, &r.user, &r.method, &r.url, &r.path, &r.referrer, &r.user_agent] {
            assert!(matches!(v, Some(Cow::Borrowed(_))), "{v:?}");
        }
    }

    #[test]
    fn never_panics_on_prefixes_and_odd_bytes() {
        let lines = [EXAMPLE_COMMON, EXAMPLE_COMBINED, EXAMPLE_VHOST_COMBINED, EXAMPLE_SQUID_COMMON, EXAMPLE_SQUID_COMBINED];
        let variants = [Common, Combined, VhostCombined, SquidCommon, SquidCombined];
        for line in lines {
            for (i, _) in line.char_indices() {
                for v in variants {
                    let _ = parse(v, &line[..i]);
                    let _ = parse(v, &line[i..]);
                }
            }
        }
        for odd in ["[", "[1", "- - [", "\"", "\\", "é [0é/", "1.2.3.4 - é [01/Jan/2020:00:00:00 +0000] \"é é\" 200 1"] {
            for v in variants {
                let _ = parse(v, odd);
            }
        }
        // Every example with one character replaced by a troublesome one.
        for line in lines {
            for (i, ch) in line.char_indices() {
                for repl in ['"', '\\', ' ', '[', ']', ':', '-', 'é', '\t'] {
                    let mutated = format!("{}{repl}{}", &line[..i], &line[i + ch.len_utf8()..]);
                    for v in variants {
                        let _ = parse(v, &mutated);
                    }
                }
            }
        }
        let r = ok(Common, "1.2.3.4 - é [01/Jan/2020:00:00:00 +0000] \"GET /é HTTP/1.1\" 200 1");
        assert_eq!((r.user.as_deref(), r.path.as_deref()), (Some("é"), Some("/é")));
        let why = rejected(Common, "1.2.3.4 - - [01/Jan/2020:00:00:00 +0000] \"GÉT /é HTTP/1.1\" 200 1");
        assert_eq!(why.reason, RejectReason::BadRequest);
    }
}
