//! Differential tests of the `jsonl` format: the Spark engine must read every line as the
//! embedded parser (sweep_formats::formats::jsonl) does, event for event and reject for
//! reject. Without SWEEP_SPARK_REMOTE these tests say so and return, unless
//! SWEEP_REQUIRE_SPARK=1.
//!
//! The lines are generated edge cases for every branch and reject of the parser, under
//! several mappings (sweep's own column names, Elastic Common Schema, Caddy, nginx with
//! `escape=json`) and every `ts_format` and `duration_unit`, plus the real logs of
//! shared/data written as JSON lines by sweep itself (and reshaped as Caddy writes them).
//!
//! One difference is known and allowed: the detail of a `bad_json` reject is serde_json's
//! message, which Spark's reader cannot give for every syntax error. The lines whose message
//! the Spark SQL does reproduce (see `exact_bad_json_lines`) are compared in full; for the
//! others `bad_json_lines_reject_alike` compares everything but that detail.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::spark::{assert_same_parse, assert_same_rows, parse_on_both, remote, write_lines};
use support::{ok, query, sweep};

/// A line that parses with the default mapping (sweep_formats::formats::jsonl::EXAMPLE).
const EXAMPLE: &str = r#"{"ts":"2024-03-05T14:22:31.250Z","client_ip":"10.1.2.3","user":"alice","method":"GET","url":"https://www.example.com/search?q=proxy","status":200,"request_bytes":512,"response_bytes":10240,"duration_ms":87,"user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0","referrer":"https://www.example.com/","content_type":"text/html","proxy_action":"TCP_MISS","server_ip":"93.184.216.34","category":"Search Engines"}"#;

/// Caddy 2's default JSON access log line (docs/formats/jsonl.md).
const CADDY: &str = r#"{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/a?b=1","headers":{"User-Agent":["curl/7.82.0"]}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Content-Type":["text/html; charset=utf-8"]}}"#;

const CADDY_FORMAT: &str = r#"{ name = "jsonl", duration_unit = "s", fields = { client_ip = "request.client_ip", method = "request.method", host = "request.host", url = "request.uri", user_agent = "request.headers.User-Agent", user = "user_id", request_bytes = "bytes_read", response_bytes = "size", duration_ms = "duration", content_type = "resp_headers.Content-Type" } }"#;

const ECS_FORMAT: &str = r#"{ name = "jsonl", fields = { ts = "@timestamp", client_ip = "source.ip", method = "http.request.method", url = "url.original", status = "http.response.status_code", response_bytes = "http.response.body.bytes", user_agent = "user_agent.original", user = "user.name", server_ip = "destination.ip", referrer = "http.request.referrer", category = "event.category" } }"#;

/// nginx `log_format json escape=json '{"time":"$time_iso8601","remote_addr":...}'`: every
/// value a string, `-` or empty for unset variables, `$request_time` in seconds.
const NGINX_FORMAT: &str = r#"{ name = "jsonl", duration_unit = "s", fields = { ts = "time", client_ip = "remote_addr", user = "remote_user", method = "request_method", url = "request_uri", host = "host", status = "status", response_bytes = "body_bytes_sent", request_bytes = "request_length", duration_ms = "request_time", referrer = "http_referer", user_agent = "http_user_agent", server_ip = "upstream_addr", scheme = "scheme", port = "server_port" } }"#;

/// `{"ts":1, ...}` with the given members after `ts`.
fn with_ts(members: &str) -> String {
    format!("{{\"ts\":1,{members}}}")
}

/// The default mapping: every kind of value in every kind of column, and every reject
/// but `bad_json`.
fn default_lines() -> Vec<String> {
    let long = "é".repeat(40);
    let mut l: Vec<String> = vec![
        EXAMPLE.into(),
        // Times: RFC 3339 shapes, epochs of each size as numbers and strings.
        r#"{"ts":"2024-03-05T14:22:31Z","client_ip":"::ffff:10.0.0.1","server_ip":"2001:DB8::1"}"#.into(),
        r#"{"ts":"2024-03-05 14:22:31+01:00","client_ip":"2001:DB8:0:0:0:0:0:1","server_ip":"[10.0.0.2]"}"#.into(),
        r#"{"ts":"2024-03-05t14:22:31.123456789z","client_ip":"[[2001:db8::5]]","server_ip":"FE80:0:0:0:1:0:0:1"}"#.into(),
        r#"{"ts":"  2024-03-05T14:22:31 ","client_ip":"[-]","server_ip":"[]"}"#.into(),
        r#"{"ts":"\u00a02024-03-05T14:22:31\u2003","client_ip":"-","server_ip":""}"#.into(),
        r#"{"ts":1709648551,"client_ip":"0:0:0:0:0:0:0:0","server_ip":"1:0:0:2:0:0:0:3"}"#.into(),
        r#"{"ts":1709648551250,"client_ip":"ABCD:0:0:1::","server_ip":"0:0:1:0:0:1:0:0"}"#.into(),
        r#"{"ts":1709648551250123,"client_ip":"::FFFF:1.2.3.4","server_ip":"::1.2.3.4"}"#.into(),
        r#"{"ts":1709648551250123456}"#.into(),
        r#"{"ts":-1}"#.into(),
        r#"{"ts":-9223372036854775808}"#.into(),
        r#"{"ts":1709648551.25}"#.into(),
        r#"{"ts":1646861401.5241024}"#.into(),
        r#"{"ts":1646861401.5241025}"#.into(),
        r#"{"ts":1646861401.52410249}"#.into(),
        r#"{"ts":1.7e9}"#.into(),
        r#"{"ts":1E11}"#.into(),
        r#"{"ts":-1.5}"#.into(),
        r#"{"ts":1709648551250.75}"#.into(),
        r#"{"ts":"1709648551"}"#.into(),
        r#"{"ts":"1709648551.123456789"}"#.into(),
        r#"{"ts":"1709648551250"}"#.into(),
        r#"{"ts":"1709648551250123456"}"#.into(),
        r#"{"ts":"1709648551250.5"}"#.into(),
        r#"{"ts":"\u0031\u0037\u0030\u0039\u0036\u0034\u0038\u0035\u0035\u0031"}"#.into(),
        // Text columns: escapes, `-` and empty as null, numbers and booleans as text.
        with_ts(
            r#""user":"al\"ice","method":"G\/ET","user_agent":"caf\u00e9 \ud83d\ude00 \\ \b\f\n\r\t","referrer":"-","content_type":"","proxy_action":null,"category":true"#,
        ),
        with_ts(r#""user":12345,"method":-5,"referrer":1.5,"content_type":1e23,"proxy_action":false,"category":1.0"#),
        with_ts(
            r#""user":0.1,"method":1e-7,"referrer":123456789012345678901234567890,"content_type":12345678901234567890,"user_agent":-12345678901234567890"#,
        ),
        with_ts(
            r#""user":1.7976931348623157e308,"method":2.2250738585072014e-308,"referrer":0.30000000000000004,"content_type":100.0,"user_agent":-12.0,"category":2.5e-5"#,
        ),
        with_ts(r#""user":123456789.123456789123456789,"method":0.000001,"referrer":1e21,"content_type":1e22,"user_agent":123e-20"#),
        with_ts(r#""user":"\u0000\u001b\u007f\u00a0e\u0301","method":"\u00ad\u200b\ufeff","referrer":"\ud800\udc00""#),
        with_ts(r#""user":["a","b"],"status":[404],"category":[],"referrer":[["x"]],"method":[null],"content_type":[{"a":1}]"#),
        with_ts(r#""user":{"name":"bob"},"url":{"original":"http://x/"},"host":{"name":"h"},"status":{"code":200}"#),
        with_ts(r#""ts":2,"user":"first","user":"second""#),
        with_ts(r#""http.request.method":"x","other":{"deep":[1,2,{"x":null}],"big":1e400,"n":-0}"#),
        r#"  { "ts" : 1 , "user" : "spaced" }  "#.into(),
        format!("{{\"ts\":1,\"user\":\"{long}\"}}"),
        // URLs and their parts.
        with_ts(r#""url":"https://www.Example.com:8443/a/b?x=1#frag","method":"GET""#),
        with_ts(r#""url":"/a?b=1","host":"Example.COM.","scheme":"https","port":"8443","path":"/ignored","query":"?z=1""#),
        with_ts(r#""url":"www.example.com:443","method":"connect""#),
        with_ts(r#""url":"*","method":"OPTIONS","host":"h.example","port":80,"path":"/p""#),
        with_ts(r#""host":"Only.Host.","query":"?q","path":"/p","scheme":"http","port":"-""#),
        with_ts(r#""host":".","query":"?","port":"0""#),
        with_ts(r#""url":"","path":"/p","host":"ÉTÉ.example""#),
        with_ts(r#""url":"http://user:pw@[2001:db8::1]:8080/x?y","port":1"#),
        with_ts(r#""url":"ftp://files.example/","port":2,"query":"q""#),
        with_ts(r#""url":12345,"method":"GET""#),
        // Numbers as numbers and as text.
        with_ts(r#""status":"200","request_bytes":"1234","response_bytes":1234.0,"duration_ms":"87.5""#),
        with_ts(r#""status":" 200 ","request_bytes":"+12","response_bytes":"1e3","duration_ms":87.4,"port":null"#),
        with_ts(r#""status":"-","request_bytes":"","response_bytes":"-","duration_ms":"-""#),
        with_ts(r#""status":"\u00a0200","request_bytes":"-12","response_bytes":" 5. ","duration_ms":-0.5"#),
        with_ts(r#""status":0,"request_bytes":".5e1","response_bytes":"1234567890123456789","duration_ms":2.5"#),
        with_ts(r#""status":999,"port":65535,"response_bytes":9223372036854775807,"request_bytes":-9223372036854775808"#),
        with_ts(r#""status":2e2,"port":"0080","response_bytes":1E3,"duration_ms":"1e-3""#),
        // Rejects, one per check in the parser's order.
        r#"{"time":1}"#.into(),
        r#"{"ts":null}"#.into(),
        r#"{"ts":[]}"#.into(),
        r#"{"ts":"yesterday"}"#.into(),
        r#"{"ts":true}"#.into(),
        r#"{"ts":{"a":1}}"#.into(),
        r#"{"ts":[[1]]}"#.into(),
        r#"{"ts":12345678901234567890}"#.into(),
        r#"{"ts":123456789012345678901234567890}"#.into(),
        r#"{"ts":1e300}"#.into(),
        r#"{"ts":"2024-02-30T00:00:00Z"}"#.into(),
        r#"{"ts":"x\"y\\z\u0001"}"#.into(),
        format!("{{\"ts\":\"{long}\"}}"),
        with_ts(r#""client_ip":"host.example""#),
        with_ts(r#""client_ip":"[[foo]]""#),
        with_ts(r#""client_ip":12345"#),
        with_ts(r#""client_ip":true"#),
        with_ts(r#""client_ip":"10.0.0.1","server_ip":"1.2.3.4.5""#),
        with_ts(r#""server_ip":"01.2.3.4""#),
        with_ts(r#""server_ip":"[1.2.3.4""#),
        with_ts(r#""server_ip":"fe80::1%eth0""#),
        with_ts(r#""status":"abc""#),
        with_ts(r#""status":1000"#),
        with_ts(r#""status":-1"#),
        with_ts(r#""status":"1e3""#),
        with_ts(r#""status":200.5"#),
        with_ts(r#""status":true"#),
        with_ts(r#""status":"\u001b[31m200""#),
        with_ts(r#""status":"a\u0301b\u200bc\u00a0d\ud83d\ude00""#),
        with_ts(&format!("\"status\":\"{long}\"")),
        with_ts(r#""status":18446744073709551615"#),
        with_ts(r#""request_bytes":"12345678901234567890123""#),
        with_ts(r#""request_bytes":"inf""#),
        with_ts(r#""response_bytes":1.5"#),
        with_ts(r#""response_bytes":true"#),
        with_ts(r#""response_bytes":1e19"#),
        with_ts(r#""response_bytes":"0x10""#),
        with_ts(r#""duration_ms":"fast""#),
        with_ts(r#""duration_ms":false"#),
        with_ts(r#""duration_ms":1e19"#),
        with_ts(r#""port":70000"#),
        with_ts(r#""port":"x""#),
        with_ts(r#""port":-1"#),
        String::new(),
    ];
    // Every ts string above under the other columns' checks too.
    l.push(with_ts(r#""status":"1.0","request_bytes":"1.","response_bytes":"-0","duration_ms":"+.5""#));
    l
}

/// Lines whose `bad_json` detail the Spark SQL reproduces exactly.
fn exact_bad_json_lines() -> Vec<String> {
    [
        EXAMPLE,
        "[1,2]",
        "  [{\"ts\":1}]",
        "not json",
        "nul",
        "tru",
        "true",
        "false",
        "null",
        "fals x",
        "xyz",
        "  <html>",
        "\u{feff}{\"ts\":1}",
        "{\"ts\":1} trailing",
        "{\"ts\":1}{\"ts\":2}",
        "{\"ts\":1}}",
        "{\"a\":\"}\"} x",
        "{\"a\":[{\"b\":\"]}\"}]}\t,",
        "{\"ts\":1} \u{a0}",
        "{\"ts\":1}\u{c}",
        "{\"ts\":\"é\"} é",
        "{\"ts\":1",
        "{\"ts\":\"abc",
        "{\"ts\":\"a\\\"",
        "{\"ts\":",
        "{\"ts\":1,",
        "{\"ts\"",
        "{\"ts\":[1,2",
        "{\"ts\":[",
        "{\"ts\":[1,",
        "{\"ts\":tr",
        "{\"ts\":1.",
        "{\"ts\":1e",
        "{\"ts\":-",
        "{\"ts\":{\"a\":1}",
        "{\"ts\":1,\"u\":{\"a\":[1,{\"b\":2}]}",
        "{",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Lines that are not JSON objects in ways whose serde_json message Spark cannot give.
fn other_bad_json_lines() -> Vec<String> {
    [
        "\"str\"",
        "123",
        "-1.5",
        "{'ts':1}",
        "{ts:1}",
        "{\"ts\":1,}",
        "{\"ts\":01}",
        "{\"ts\":NaN}",
        "{\"ts\":Infinity}",
        "{\"ts\":1e400}",
        "{\"ts\":-1e400}",
        "{\"user\":1e400,\"ts\":1}",
        "{\"ts\":1,\"u\":\"a\u{1}b\"}",
        "{\"ts\":1,\"u\":\"a\tb\"}",
        "{\"ts\":1,\"u\":\"\\q\"}",
        "{\"ts\":1,\"u\":\"\\u12G4\"}",
        "{\"ts\":.5}",
        "{\"ts\":+1}",
        "{\"ts\":1 \"user\":2}",
        "{\"ts\" 1}",
        "{\"ts\":[1 2]}",
        "{\"ts\":1]",
        "{\"ts\":tru}",
        "{\"ts\":1,\"a\":[}]}",
        "{\"ts\":1}\u{0}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The events table and the rejects table with every `bad_json` detail blanked, equal on
/// both engines; returns (bad_json rejects, how many of their details are equal anyway).
fn assert_same_parse_but_bad_json_detail(dir: &Path, label: &str, remote: &str, format: &str, input: &Path) -> (usize, usize) {
    let both = parse_on_both(dir, label, remote, format, &[input]);
    let masked = "SELECT encode(raw, 'hex'), reason, CASE WHEN reason = 'bad_json' THEN '' ELSE detail END, format, source, \"offset\" \
                  FROM rejects ORDER BY source, \"offset\"";
    assert_same_rows(&both, masked);
    let details = "SELECT detail FROM rejects WHERE reason = 'bad_json' ORDER BY source, \"offset\"";
    let (a, b) = (query(&both.embedded, details), query(&both.spark, details));
    for (x, y) in a.iter().zip(&b).filter(|(x, y)| x != y) {
        eprintln!("bad_json detail differs:\n  embedded: {x}\n  spark:    {y}");
    }
    (a.len(), a.iter().zip(&b).filter(|(x, y)| x == y).count())
}

#[test]
fn spark_reads_sweeps_own_column_names_as_embedded_does() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "default.jsonl", &default_lines());
    let parse = assert_same_parse(dir.path(), "default", &remote, "\"jsonl\"", &[&input]);
    assert!(parse.count("events") >= 50, "{}", parse.embedded_summary);
    assert!(parse.count("rejects") >= 40, "{}", parse.embedded_summary);
    let reasons = parse.reasons();
    for reason in ["bad_timestamp", "bad_ip", "bad_number"] {
        assert!(reasons.iter().any(|r| r == reason), "no {reason} reject: {reasons:?}");
    }
}

#[test]
fn spark_gives_serde_jsons_message_where_it_can() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "exact.jsonl", &exact_bad_json_lines());
    let parse = assert_same_parse(dir.path(), "exact", &remote, "\"jsonl\"", &[&input]);
    assert_eq!(parse.count("rejects"), exact_bad_json_lines().len() as u64 - 1, "{}", parse.embedded_summary);
    assert_eq!(parse.reasons(), ["bad_json"]);
}

#[test]
fn bad_json_lines_reject_alike() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "bad.jsonl", &other_bad_json_lines());
    let (bad, same) = assert_same_parse_but_bad_json_detail(dir.path(), "bad", &remote, "\"jsonl\"", &input);
    eprintln!("{same} of {bad} bad_json details are equal");
    assert!(bad >= 20, "{bad}");
}

/// Elastic Common Schema: nested, flattened and mixed spellings of the same paths, and
/// objects or arrays where a named key should hold a value.
fn ecs_lines() -> Vec<String> {
    let nested = json!({
        "@timestamp": "2024-03-05T14:22:31.250Z",
        "source": {"ip": "10.1.2.3", "port": 5123},
        "destination": {"ip": "93.184.216.34"},
        "http": {"request": {"method": "GET", "referrer": "https://ref.example/"}, "response": {"status_code": 200, "body": {"bytes": 10240}}},
        "url": {"original": "https://www.example.com/search?q=proxy", "domain": "www.example.com"},
        "user_agent": {"original": "curl/8.5.0"},
        "user": {"name": "alice"},
        "event": {"category": ["web", "network"]},
        "host": {"name": "proxy-1"}
    });
    let mut l = vec![nested.to_string()];
    l.extend(
        [
            r#"{"@timestamp":"2024-03-05T14:22:31Z","source.ip":"10.1.2.3","http.request.method":"POST","http.response.status_code":"404","http.response.body.bytes":"12","url.original":"/a?b=1","user_agent.original":"x","user.name":"bob","destination.ip":"::1"}"#,
            r#"{"@timestamp":1709648551,"http":{"request.method":"PUT","response":{"body.bytes":5}},"http.response":{"status_code":202},"source":{"ip":"10.0.0.9"}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","http.request":{"method":"DELETE"},"http.response.body":{"bytes":7},"event.category":"web"}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","ts":"not used","status":999,"user":"not used"}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","http":"not an object","source":[{"ip":"10.0.0.1"}]}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","http":{"request":["GET"]},"url":"plain"}"#,
            // A key written twice in a nested object: the last counts.
            r#"{"@timestamp":"2024-03-05T14:22:31Z","user":{"name":"first","name":"last"},"source":{"ip":"10.0.0.1","ip":"10.0.0.2"}}"#,
            // Rejects.
            r#"{"ts":"2024-03-05T14:22:31Z"}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","user":{"name":{"first":"a"}}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","url":{"original":["a",{"b":1}]}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","url":{"original":[["a"]]}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","source":{"ip":{"v4":"10.0.0.1"}}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","http":{"response":{"status_code":{"x":1}}}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","http.response.body.bytes":[[1]]}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","event":{"category":{"a":1}}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","http":{"request":{"referrer":{}}}}"#,
            r#"{"@timestamp":"2024-03-05T14:22:31Z","destination.ip":"not an ip"}"#,
        ]
        .map(String::from),
    );
    l
}

#[test]
fn spark_reads_nested_and_flattened_keys_as_embedded_does() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "ecs.jsonl", &ecs_lines());
    let parse = assert_same_parse(dir.path(), "ecs", &remote, ECS_FORMAT, &[&input]);
    assert!(parse.count("events") >= 7 && parse.count("rejects") >= 9, "{}", parse.embedded_summary);
    assert!(parse.reasons().contains(&"malformed".to_string()), "{:?}", parse.reasons());
}

/// Caddy's access log: the documented line, then variations of its values.
fn caddy_lines() -> Vec<String> {
    let base: Value = serde_json::from_str(CADDY).unwrap();
    let mut l = vec![CADDY.to_string()];
    let vary = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v.to_string()
    };
    l.push(vary(&|v| v["request"]["headers"]["User-Agent"] = json!(["Mozilla/5.0", "second"])));
    l.push(vary(&|v| v["request"]["headers"] = json!({})));
    l.push(vary(&|v| v["request"]["headers"]["User-Agent"] = json!([])));
    l.push(vary(&|v| v["duration"] = json!(1.5)));
    l.push(vary(&|v| v["duration"] = json!(0.0005)));
    l.push(vary(&|v| v["duration"] = json!(12)));
    l.push(vary(&|v| v["duration"] = json!("0.25")));
    l.push(vary(&|v| v["ts"] = json!(1646861401)));
    l.push(vary(&|v| v["request"]["uri"] = json!("http://Other.Example:8080/x?y")));
    l.push(vary(&|v| v["request"]["uri"] = json!("*")));
    l.push(vary(&|v| v["user_id"] = json!("carol")));
    l.push(vary(&|v| v["request"]["client_ip"] = json!("2001:db8::1")));
    l.push(vary(&|v| v["resp_headers"]["Content-Type"] = json!("text/plain")));
    // Rejects.
    l.push(vary(&|v| v["duration"] = json!("slow")));
    l.push(vary(&|v| v["duration"] = json!(true)));
    l.push(vary(&|v| v["request"]["headers"]["User-Agent"] = json!({"a": 1})));
    l.push(vary(&|v| v["request"]["headers"]["User-Agent"] = json!([{"a": 1}])));
    l.push(vary(&|v| v["resp_headers"] = json!({"Content-Type": [["x"]]})));
    l.push(vary(&|v| v["size"] = json!(1.25)));
    l.push(vary(&|v| v["request"]["client_ip"] = json!("localhost")));
    l.push(vary(&|v| {
        v.as_object_mut().unwrap().remove("ts");
    }));
    l
}

#[test]
fn spark_reads_caddy_logs_as_embedded_does() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "caddy.jsonl", &caddy_lines());
    let parse = assert_same_parse(dir.path(), "caddy", &remote, CADDY_FORMAT, &[&input]);
    assert!(parse.count("events") >= 13 && parse.count("rejects") >= 8, "{}", parse.embedded_summary);
}

/// nginx with `escape=json`: strings everywhere, `\u00XX` escapes, `-` and empty values.
fn nginx_lines() -> Vec<String> {
    let line = |time: &str, addr: &str, uri: &str, status: &str, bytes: &str, rt: &str, ua: &str| {
        format!(
            r#"{{"time":"{time}","remote_addr":"{addr}","remote_user":"-","request_method":"GET","request_uri":"{uri}","host":"Www.Example.com","status":"{status}","body_bytes_sent":"{bytes}","request_length":"412","request_time":"{rt}","http_referer":"","http_user_agent":"{ua}","upstream_addr":"10.0.0.5","scheme":"https","server_port":"443"}}"#
        )
    };
    vec![
        line("2024-03-05T14:22:31+00:00", "203.0.113.9", "/index.html?a=1", "200", "5120", "0.004", "Mozilla/5.0"),
        line("2024-03-05T14:22:32+01:00", "2001:db8::9", "/", "304", "0", "0.000", "curl/8.5.0 \\\"quoted\\\""),
        line("2024-03-05T14:22:33-05:30", "-", "/x\\u001b[0m", "404", "-", "-", "\\u00e9\\u0000"),
        line("2024-03-05T14:22:34Z", "10.0.0.1", "http://other.example/abs", "502", "12", "1.5", "-"),
        line("2024-03-05T14:22:35Z", "10.0.0.1", "", "200", "1", "12.3456", ""),
        // Rejects.
        line("2024-03-05T14:22:36Z", "10.0.0.1", "/", "2OO", "1", "0.1", "x"),
        line("2024-03-05T14:22:37Z", "10.0.0.1", "/", "200", "1.5", "0.1", "x"),
        line("2024-03-05T14:22:38Z", "10.0.0.1", "/", "200", "1", "0.1s", "x"),
        line("05/Mar/2024:14:22:39 +0000", "10.0.0.1", "/", "200", "1", "0.1", "x"),
        line("2024-03-05T14:22:40Z", "unix:", "/", "200", "1", "0.1", "x"),
        line("2024-03-05T14:22:41Z", "10.0.0.1", "/", "200", "1", "0.1", "x").replace("\"10.0.0.5\"", "\"10.0.0.5:8080\""),
    ]
}

#[test]
fn spark_reads_nginx_escape_json_logs_as_embedded_does() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "nginx.jsonl", &nginx_lines());
    let parse = assert_same_parse(dir.path(), "nginx", &remote, NGINX_FORMAT, &[&input]);
    assert!(parse.count("events") >= 5 && parse.count("rejects") >= 5, "{}", parse.embedded_summary);
}

/// The same times and durations under every `ts_format` and `duration_unit`; `valid` is a
/// time the format reads, for the lines that vary the duration.
fn format_lines(valid: &str) -> Vec<String> {
    let times = [
        r#""2024-03-05T14:22:31.25Z""#,
        r#""2024-03-05 14:22:31""#,
        r#""05/Mar/2024:14:22:31 -0700""#,
        r#""05/Mar/2024:14:22:31.5""#,
        r#"" 1709648551 ""#,
        r#""1709648551.123456789""#,
        r#""1709648551250""#,
        r#""1709648551250.5""#,
        r#""1709648551250123456""#,
        r#""1.5e9""#,
        // Times every format may accept stay within years 1..=9999, which the `date`
        // partition column of both engines writes alike.
        "1709648551",
        "170964855125",
        "-1709648551",
        "9223372036855",
        "9223372036854776",
        "12345678901234567890",
        "1709648551.25",
        "170964855125.125",
        "1.7e9",
        "9.3e15",
        "true",
        "null",
        r#""""#,
        "{}",
    ];
    let durations = [
        "87",
        "0.1236",
        "1500",
        "12345678",
        r#""0.5""#,
        r#""-""#,
        r#""""#,
        r#"" 2 ""#,
        r#""1e3""#,
        "-2.5",
        "12345678901234567890",
        "1e300",
        r#""fast""#,
        "false",
        "[7]",
        r#""inf""#,
    ];
    let mut l: Vec<String> = times.iter().map(|t| format!("{{\"t\":{t}}}")).collect();
    l.extend(durations.iter().map(|d| format!("{{\"t\":{valid},\"d\":{d}}}")));
    l
}

#[test]
fn spark_reads_every_time_format_and_duration_unit_as_embedded_does() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut reasons_seen = Vec::new();
    for (ts_format, unit, valid) in [
        ("auto", "ms", "1709648551"),
        ("rfc3339", "s", "\"2024-03-05T14:22:31Z\""),
        ("iso8601", "us", "\"2024-03-05 14:22:31.5+01:00\""),
        ("epoch_s", "ns", "\"1709648551.5\""),
        ("epoch_ms", "ms", "1709648551250"),
        ("clf", "s", "\"05/Mar/2024:14:22:31 +0000\""),
    ] {
        let input = write_lines(dir.path(), &format!("{ts_format}.jsonl"), &format_lines(valid));
        let format = format!(
            "{{ name = \"jsonl\", ts_format = \"{ts_format}\", duration_unit = \"{unit}\", fields = {{ ts = \"t\", duration_ms = \"d\" }} }}"
        );
        let parse = assert_same_parse(dir.path(), &format!("{ts_format}-{unit}"), &remote, &format, &[&input]);
        assert!(parse.count("events") >= 5 && parse.count("rejects") >= 5, "{ts_format}: {}", parse.embedded_summary);
        reasons_seen.extend(parse.reasons());
    }
    assert!(reasons_seen.contains(&"bad_number".to_string()) && reasons_seen.contains(&"bad_timestamp".to_string()));
}

/// The real logs of shared/data, parsed by the embedded engine and written as JSON lines
/// (sweep's own column names, as `sweep query --output json` writes them).
fn real_json_lines(dir: &Path) -> Vec<(PathBuf, Vec<Value>)> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs");
    let mut out = Vec::new();
    for (file, format) in [("squid-native-squidview.log", "squid"), ("apache-combined-semicomplete.log", "combined")] {
        let log = Path::new(data).join(file);
        if !log.exists() {
            continue;
        }
        let lake = dir.join(format!("{format}-lake"));
        ok(sweep(&["scan", log.to_str().unwrap(), "--format", format, "--out", lake.to_str().unwrap(), "-q"]));
        let sql = "SELECT ts, client_ip, \"user\", method, url, status, request_bytes, response_bytes, duration_ms, user_agent, referrer, \
                   content_type, proxy_action, server_ip, category FROM events ORDER BY \"offset\"";
        let text = ok(sweep(&["query", lake.to_str().unwrap(), sql, "--output", "json"]));
        let rows: Vec<Value> = text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        let path = dir.join(format!("{format}.jsonl"));
        std::fs::write(&path, rows.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
        out.push((path, rows));
    }
    out
}

#[test]
fn spark_reads_real_logs_written_as_json_as_embedded_does() {
    let Some((remote, _guard)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let real = real_json_lines(dir.path());
    assert!(!real.is_empty(), "shared/data/logs has the real logs");
    for (path, rows) in &real {
        let label = path.file_stem().unwrap().to_string_lossy().to_string();
        let parse = assert_same_parse(dir.path(), &label, &remote, "\"jsonl\"", &[path]);
        assert_eq!(parse.count("events"), rows.len() as u64, "{label}: every event reads back");
        // The same events reshaped as Caddy writes them: nested request, headers as arrays,
        // times as epoch seconds with a fraction, durations in seconds.
        let caddy: Vec<String> = rows
            .iter()
            .map(|r| {
                let mut v = json!({
                    "level": "info",
                    "logger": "http.log.access",
                    "request": {"client_ip": r["client_ip"], "method": r["method"], "uri": r["url"], "headers": {"User-Agent": [r["user_agent"]]}},
                    "bytes_read": r["request_bytes"],
                    "user_id": r["user"],
                    "size": r["response_bytes"],
                    "status": r["status"],
                    "resp_headers": {"Content-Type": [r["content_type"]]},
                });
                if let Some(ms) = r["duration_ms"].as_i64() {
                    v["duration"] = json!(ms as f64 / 1000.0);
                }
                if let Some(ts) = r["ts"].as_str() {
                    v["ts"] = json!(ts);
                }
                v.to_string()
            })
            .collect();
        let caddy_path = write_lines(dir.path(), &format!("{label}-caddy.jsonl"), &caddy);
        let parse = assert_same_parse(dir.path(), &format!("{label}-caddy"), &remote, CADDY_FORMAT, &[&caddy_path]);
        assert_eq!(parse.count("events") + parse.count("rejects"), rows.len() as u64);
    }
}
