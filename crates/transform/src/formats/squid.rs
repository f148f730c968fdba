//! Squid native `access.log`.
//!
//! Layout (squid.conf.documented, logformat `squid`):
//! `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`
//!
//! The elapsed time is right-aligned in six columns, so fields are separated by runs of
//! spaces. The user name escapes `%`, `[`, `]`, `\` and non-printables but not spaces, so
//! the fields after the URL are read from the right: the MIME type is the last field,
//! the hierarchy/peer the one before, and whatever lies between the URL and the peer is
//! the user. With `log_mime_hdrs on`, bracketed header blocks follow the MIME type.

use std::borrow::Cow;

use crate::fields::{Cursor, dash_none, int_field, ip_field, status_field, truncate};
use crate::reject::{Reject, RejectReason, reject};
use crate::{LineParser, Outcome, Record, time};

pub const EXAMPLE: &str =
    "1198298239.740    388 127.0.0.1 TCP_MISS/301 631 GET http://www.slashdot.org/ graeme DIRECT/66.35.250.151 text/html";

/// Parser for Squid's native log format.
#[derive(Debug, Default)]
pub struct SquidNative;

impl LineParser for SquidNative {
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome {
        parse_native(line, rec).into()
    }
}

fn parse_native<'a>(line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
    let mut c = Cursor::new(line);
    let ts = c.need("timestamp")?;
    rec.ts_micros = Some(
        time::parse_epoch_seconds(ts)
            .ok_or_else(|| reject(RejectReason::BadTimestamp, format!("not epoch seconds: {:?}", truncate(ts))))?,
    );
    rec.duration_ms = int_field(c.need("elapsed")?, "elapsed")?;
    rec.client_ip = ip_field(c.need("client address")?, "client address")?;

    let code = c.need("result code")?;
    let (action, status) = code
        .split_once('/')
        .ok_or_else(|| reject(RejectReason::Malformed, format!("result code is not ACTION/STATUS: {:?}", truncate(code))))?;
    rec.proxy_action = dash_none(action).map(Cow::Borrowed);
    rec.status = status_field(status)?;
    rec.response_bytes = int_field(c.need("reply size")?, "reply size")?;

    let method = c.need("method")?;
    let url = c.need("URL")?;
    rec.method = dash_none(method).map(Cow::Borrowed);
    if url != "-" {
        rec.set_url(url, Some(method));
    }

    // The rest: user (may hold spaces), hierarchy/peer, MIME type, optional header blocks.
    let mut rest = c.rest().trim_end();
    if let Some(i) = rest.find(" [") {
        rest = rest[..i].trim_end();
    }
    let (before_mime, mime) = rest
        .rsplit_once([' ', '\t'])
        .ok_or_else(|| reject(RejectReason::FieldCount, "line ends before the hierarchy and MIME type fields"))?;
    let before_mime = before_mime.trim_end();
    let (user, hier) = before_mime
        .rsplit_once([' ', '\t'])
        .ok_or_else(|| reject(RejectReason::FieldCount, "line ends before the user, hierarchy or MIME type field"))?;
    let (_code, peer) =
        hier.split_once('/').ok_or_else(|| reject(RejectReason::Malformed, format!("hierarchy is not CODE/PEER: {:?}", truncate(hier))))?;
    // `%<a` is the server's address, or a peer's name for cache hierarchies.
    rec.server_ip = ip_field(peer, "server address").ok().flatten();
    rec.user = dash_none(user.trim()).map(Cow::Borrowed);
    rec.content_type = dash_none(mime).map(Cow::Borrowed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Record<'_>, Reject> {
        let mut rec = Record::default();
        parse_native(line, &mut rec).map(|_| rec)
    }

    #[test]
    fn example_line() {
        let r = parse(EXAMPLE).unwrap();
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2007-12-22T04:37:19.740000Z");
        assert_eq!(r.duration_ms, Some(388));
        assert_eq!(r.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_MISS"));
        assert_eq!(r.status, Some(301));
        assert_eq!(r.response_bytes, Some(631));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.host.as_deref(), Some("www.slashdot.org"));
        assert_eq!(r.path.as_deref(), Some("/"));
        assert_eq!(r.user.as_deref(), Some("graeme"));
        assert_eq!(r.server_ip.as_deref(), Some("66.35.250.151"));
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
    }

    #[test]
    fn connect_denied_ipv6_and_no_reply() {
        let r = parse("1700000000.001      0 2001:db8::7 TCP_DENIED/407 3944 CONNECT login.live.com:443 - HIER_NONE/- text/html").unwrap();
        assert_eq!((r.host.as_deref(), r.port, r.scheme.as_deref()), (Some("login.live.com"), Some(443), None));
        assert_eq!(r.client_ip.as_deref(), Some("2001:db8::7"));
        assert_eq!((r.user, r.server_ip), (None, None));
        let r = parse("1700000000.001  60012 10.0.0.5 TCP_MISS/000 0 GET http://x.example/ - TIMEOUT_HIER_DIRECT/192.0.2.1 -").unwrap();
        assert_eq!((r.status, r.content_type), (Some(0), None));
        assert_eq!(r.server_ip.as_deref(), Some("192.0.2.1"));
    }

    #[test]
    fn user_with_space_peer_name_and_mime_headers() {
        let r = parse(
            "1700000000.5 12 10.0.0.5 TCP_MISS/200 10 GET http://a.example/?  john smith FIRST_PARENT_MISS/proxy2 text/plain [Host: a]",
        )
        .unwrap();
        assert_eq!(r.user.as_deref(), Some("john smith"));
        assert_eq!(r.server_ip, None);
        assert_eq!(r.query.as_deref(), Some(""));
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn rejects() {
        let bad = |l: &str| parse(l).unwrap_err().reason;
        assert_eq!(bad("yesterday 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -"), RejectReason::BadTimestamp);
        assert_eq!(bad("1.0 1 host.local TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -"), RejectReason::BadIp);
        assert_eq!(bad("1.0 1 10.0.0.1 TCP_MISS 1 GET http://a/ - DIRECT/1.2.3.4 -"), RejectReason::Malformed);
        assert_eq!(bad("1.0 1 10.0.0.1 TCP_MISS/2x0 1 GET http://a/ - DIRECT/1.2.3.4 -"), RejectReason::BadNumber);
        assert_eq!(bad("1.0 1 10.0.0.1 TCP_MISS/200 1 GET"), RejectReason::FieldCount);
        assert_eq!(bad("1.0 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ -"), RejectReason::FieldCount);
    }
}
