//! The ELFF / W3C format on Spark against the embedded parser: field lists that change in
//! the middle of a file, every kind of time field, URLs put together from their parts,
//! syslog headers, and each reject, row for row (see support::spark).

mod support;

use support::spark::{assert_same_kafka_parse, assert_same_parse, remote, write_lines};

const BCREPORTERMAIN_V1: &str = "date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result \
cs-categories cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path \
cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id";

const LINE: &str = "2005-04-12 21:03:45 74603 192.16.170.46 - - - OBSERVED \"none\" - 200 TCP_NC_MISS GET text/html http \
images.google.com 80 /imgres ?imgurl=http://www.example.com/x.jpg - \"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\" \
192.16.170.44 1995 509 -";

/// A ProxySG log with headers: every branch of the main layout, then other field lists.
fn headed_lines() -> Vec<String> {
    vec![
        "#Software: SGOS 6.7.5.3".into(),
        "#Version: 1.0".into(),
        LINE.into(),
        format!("#Fields: {BCREPORTERMAIN_V1}"),
        "#Date: 2005-04-12 21:00:00".into(),
        LINE.into(),
        "2022-06-20 15:29:14 60123 10.1.2.34 alice - - OBSERVED \"Technology/Internet\" - 200 TCP_TUNNELED CONNECT - tcp \
         Login.Live.com 443 / - - \"Microsoft Office/16.0\" 192.168.10.5 8231 2210 -"
            .into(),
        "2022-06-20 15:29:14 5 10.1.2.34 - - - OBSERVED - - 200 TCP_NC_MISS GET - https Shop.example.com 8443 /cart ? - - \
         192.168.10.5 1 2 -"
            .into(),
        "2022-06-20 15:29:15.250 12 2001:DB8:10::25 carol - - OBSERVED \"News/Media;Web Ads/Analytics\" http://news.example.org/ \
         304 TCP_HIT GET image/png http static.news.example.org 80 /img/logo.png ?v=3 png \"Mozilla/5.0 (X11; Linux x86_64)\" \
         192.168.10.5 312 410 -"
            .into(),
        // Quotes with escapes, a quote inside a value, `-` in quotes, an empty quoted value.
        "2022-06-20 15:29:16 1 ::ffff:10.1.2.3 \"bob smith\" - - PROXIED \"a \\\"b\\\" c\" \"-\" 0 TCP_DENIED POST \"\" \
         HTTP Example.COM. 8080 /p\"q ?x - \"agent \"x\"y z\" - 1 +2 -"
            .into(),
        "2022-06-20 15:29:17 1 10.1.2.3 - - - DENIED - - 403 - get - ssl [2001:db8::1]:8443 - - - - - - 0 0 -".into(),
        "2022-06-20 15:29:18 1 10.1.2.3 - - - - - - - - - - - user@Host.example:81 - - - - - - - - -".into(),
        "   2022-06-20\t15:29:19   1 10.1.2.3 - - - - - - - - - - - - - - - - - - - - -   ".into(),
        // Rejects: one per check, in the order the parser makes them.
        LINE.replace("192.16.170.46", "192.16.170.460"),
        LINE.replace("192.16.170.46", "[bad]"),
        LINE.replace(" 1995 ", " 19x5 "),
        LINE.replace(" 509 ", " 99999999999999999999 "),
        LINE.replace(" 74603 ", " -5x "),
        LINE.replace(" 200 ", " 2000 "),
        LINE.replace(" 200 ", " OK "),
        LINE.replace(" 80 ", " 99999 "),
        LINE.replace(" 80 ", " http "),
        LINE.replace("2005-04-12", "2005-04-31"),
        LINE.replace("2005-04-12", "-"),
        LINE.replace("21:03:45", "25:03:45"),
        LINE.replace("SV1)\"", "SV1)"),
        LINE.replace("\"none\"", "\"none"),
        format!("{LINE} extra"),
        format!("{LINE} \"unclosed extra"),
        format!("{LINE} a b \"c d"),
        "2005-04-12 21:03:45 74603 192.16.170.46".into(),
        "2005-04-12".into(),
        "2022-06-20 15:29:20 1 10.1.2.3 - - - - - - - - - - - - - - - - - 198.51.100.7 0 0 -".into(),
        // Another field list in the middle of the file.
        "#Fields: date time c-ip x-custom s-action sc-status cs-uri r-ip".into(),
        "2022-06-20 16:00:00 10.0.0.1 whatever TCP_DENIED 403 http://Bad.example/x?y=1 203.0.113.9".into(),
        "2022-06-20 16:00:00 10.0.0.1 \"what ever\" TCP_DENIED 403 Bad.example:443 -".into(),
        "2022-06-20 16:00:01 10.0.0.1 - - - /origin/form?q -".into(),
        LINE.into(),
        "2022-06-20 16:00:00 10.0.0.1".into(),
        // Bracketed and numeric times, server address preference.
        "#Fields: gmttime c-ip s-supplier-ip r-ip cs-method cs-uri".into(),
        "[20/Jun/2022:15:29:11 +0000] 10.0.0.1 198.51.100.1 203.0.113.5 GET http://a.example/".into(),
        "20/06/2022:15:29:11 10.0.0.1 198.51.100.1 - CONNECT a.example:8443".into(),
        "[20/Jun/2022:15:29:11 GMT] 10.0.0.1 - - GET http://b.example/".into(),
        "[20/06/2022:15:29:11.5 UTC] 10.0.0.1 - - GET http://b.example/".into(),
        "[20/Jun/2022:15:29:11 10.0.0.1 - - GET http://b.example/".into(),
        "[31/Jun/2022:15:29:11] 10.0.0.1 - - GET http://b.example/".into(),
        "[20/Jun/2022:15:29:11] 10.0.0.1 198.51.100.1 999.1.1.1 GET http://b.example/".into(),
        "#Fields: localtime x-timestamp-unix c-ip sc-filter-result s-action".into(),
        "[20/Jun/2022:17:29:11 +0200] 1655739000 10.0.0.1 DENIED -".into(),
        "[20/Jun/2022:17:29:11 +0200] - 10.0.0.1 DENIED TCP_DENIED".into(),
        "- 1655739000.123 10.0.0.1 - -".into(),
        "- 16557x 10.0.0.1 - -".into(),
        "- - 10.0.0.1 - -".into(),
        "#Fields: date time cs-method cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query".into(),
        "2022-06-20 16:00:00 GET http 2001:db8::7 8080 /a ?b".into(),
        "2022-06-20 16:00:00 GET - - - /only/path -".into(),
        "2022-06-20 16:00:00 GET ftp files.example 21 /f -".into(),
        "2022-06-20 16:00:00 GET - files.example 21 - -".into(),
        "#Fields: c-ip sc-status".into(),
        "10.0.0.1 200".into(),
        // The same list twice changes nothing; an empty one is a reject and leaves no list.
        "#Fields: date time c-ip sc-status".into(),
        "2022-06-20 16:00:00 10.0.0.1 200".into(),
        "#Fields: date time c-ip sc-status".into(),
        "2022-06-20 16:00:00 10.0.0.2 201".into(),
        "#Fields:   ".into(),
        "2022-06-20 16:00:00 10.0.0.1 200".into(),
        "#Fields: date time c-ip sc-status".into(),
        String::new(),
        "<134>Jun 20 15:29:11 proxy1 2022-06-20 16:00:00 10.0.0.3 200".into(),
    ]
}

/// Syslog-shipped lines without headers, read with the `fields` option.
fn syslog_lines() -> Vec<String> {
    let data = "2022-06-20 16:00:00 10.0.0.1 GET http://syslog.example/x 200";
    [
        format!("<134>Jun 20 15:29:11 proxy1 {data}"),
        format!("<134>Jun  2 05:09:01 proxy1 ProxySG: {data}"),
        format!("<134>jun 20 15:29:11 proxy1: {data}"),
        format!("<134>1 2022-06-20T15:29:11Z proxy1 bluecoat - - - {data}"),
        format!("<134>1 2022-06-20T15:29:11Z proxy1 bc 12 acc [a@1 k=\"v]\\\"\"][b@2] \u{feff}{data}"),
        format!("<134>1 2022-06-20T15:29:11Z proxy1 bc 12 acc [a@1 k=\"v"),
        "<134>1 2022-06-20T15:29:11Z proxy1".into(),
        format!("2022-06-20T15:29:11+00:00 proxy1 bluecoat[42]: {data}"),
        format!("<13>{data}"),
        format!("<1234>{data}"),
        format!("<abc>{data}"),
        format!("<13{data}"),
        data.to_string(),
        format!("Jun 20 15:29:11 proxy1 \"tag\": {data}"),
        "<134>Jun 20 15:29:11 proxy1 #Fields: date time".into(),
        "#Fields: date time c-ip".into(),
        "2022-06-20 16:00:00 10.0.0.9".into(),
    ]
    .into()
}

#[test]
fn spark_reads_elff_with_its_field_lists_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let headed = write_lines(dir.path(), "headed.log", &headed_lines());
    // Headers only: lines before the first #Fields: have no field list.
    let both = assert_same_parse(dir.path(), "headed", &remote, "\"elff\"", &[&headed]);
    let e = &both.embedded_summary;
    let reasons = e["reject_reasons"].as_object().unwrap();
    for reason in ["no_header", "malformed", "field_count", "bad_ip", "bad_number", "bad_timestamp"] {
        assert!(reasons.contains_key(reason), "the edge lines give {reason} rejects: {reasons:?}");
    }
    assert!(e["events"].as_u64().unwrap() >= 25, "the edge lines are read: {e}");

    // With the `fields` option: it is the list before the first #Fields: line and after an
    // empty one; a second file starts from it again.
    let other = write_lines(dir.path(), "headless.log", &[LINE.to_string(), LINE.replace("21:03:45", "21:03:46")]);
    let format = format!("{{ name = \"elff\", fields = [{:?}] }}", BCREPORTERMAIN_V1);
    let both = assert_same_parse(dir.path(), "fields", &remote, &format, &[&headed, &other]);
    assert!(both.embedded_summary["reject_reasons"].get("no_header").is_none(), "{}", both.embedded_summary);
}

#[test]
fn spark_strips_syslog_headers_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "syslog.log", &syslog_lines());
    let fields = "fields = [\"date time c-ip cs-method cs-uri sc-status\"]";
    for (label, syslog) in [("syslog", "true"), ("plain", "false")] {
        let format = format!("{{ name = \"elff\", {fields}, syslog = {syslog} }}");
        let both = assert_same_parse(dir.path(), label, &remote, &format, &[&file]);
        assert!(both.embedded_summary["events"].as_u64().unwrap() >= 5, "{}", both.embedded_summary);
    }
}

/// Over Kafka a message stands alone: a `#Fields:` message is skipped and not followed, on
/// both engines; the `fields` option reads every message.
#[test]
fn spark_reads_elff_messages_from_kafka_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut messages = headed_lines();
    messages.extend(syslog_lines());
    let payloads: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
    let format = format!("{{ name = \"elff\", fields = [{:?}] }}", BCREPORTERMAIN_V1);
    let both = assert_same_kafka_parse(dir.path(), "elff-kafka", &remote, &broker, &format, &payloads);
    let e = &both.embedded_summary;
    assert!(e["events"].as_u64().unwrap() >= 10 && e["reject_reasons"]["field_count"].as_u64() >= Some(10), "{e}");
}
