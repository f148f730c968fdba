//! Differential tests of the `zscaler` format (Zscaler NSS web feed): the Spark engine must
//! read every line as the embedded parser does, event for event and reject for reject.
//! Without SWEEP_SPARK_REMOTE these tests say so and return, unless SWEEP_REQUIRE_SPARK=1.
//!
//! No real NSS output is freely available (docs/formats/zscaler.md); the lines are generated
//! edge cases for every branch and reject of sweep_formats::formats::zscaler, plus the
//! hand-written fixtures of tests/fixtures/zscaler.

mod support;

use std::path::{Path, PathBuf};

use support::spark::{BothParses, assert_same_parse, remote};
use support::sweep;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/zscaler");

/// The documented NSS web sample feed, in order (sweep_formats' DEFAULT_FIELDS).
const NAMES: [&str; 34] = [
    "time",
    "login",
    "proto",
    "eurl",
    "action",
    "appname",
    "appclass",
    "reqsize",
    "respsize",
    "stime",
    "ctime",
    "urlclass",
    "urlsupercat",
    "urlcat",
    "malwarecat",
    "threatname",
    "riskscore",
    "dlpeng",
    "dlpdict",
    "location",
    "dept",
    "cip",
    "sip",
    "reqmethod",
    "respcode",
    "ua",
    "ereferer",
    "ruletype",
    "rulelabel",
    "contenttype",
    "unscannabletype",
    "deviceowner",
    "devicehostname",
    "keyprotectiontype",
];

/// The values of the documented example record, in the order of [`NAMES`].
const SAMPLE: [&str; 34] = [
    "Mon Jun 20 15:29:11 2022",
    "jdoe@example.com",
    "HTTPS",
    "www.example.com/search?q=proxy",
    "Allowed",
    "General Browsing",
    "General Browsing",
    "732",
    "18354",
    "41",
    "187",
    "Business Use",
    "Information Technology",
    "Web Search",
    "None",
    "None",
    "0",
    "None",
    "None",
    "Road Warrior",
    "Sales",
    "10.20.30.40",
    "142.250.72.4",
    "GET",
    "200",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "None",
    "None",
    "None",
    "text/html",
    "None",
    "jdoe",
    "LAPTOP-JDOE",
    "N/A",
];

/// The sample record with some values replaced (by field name).
fn record(changes: &[(&str, &str)]) -> Vec<String> {
    let mut values: Vec<String> = SAMPLE.iter().map(|s| s.to_string()).collect();
    for (name, value) in changes {
        let i = NAMES.iter().position(|n| n == name).unwrap_or_else(|| panic!("no field {name}"));
        values[i] = value.to_string();
    }
    values
}

/// Values as NSS writes them: every one in double quotes, `"` doubled.
fn quoted(values: &[String], sep: &str) -> String {
    values.iter().map(|v| format!("\"{}\"", v.replace('"', "\"\""))).collect::<Vec<_>>().join(sep)
}

/// The records that both separators share: every value branch of the parser, quoted.
fn value_records() -> Vec<Vec<String>> {
    let long = "x".repeat(80);
    let mut r = vec![
        record(&[]),
        // The null words, and a CONNECT tunnel: no scheme whatever proto says, port 443.
        record(&[
            ("login", "NA"),
            ("reqmethod", "CONNECT"),
            ("eurl", "www.example.com:443"),
            ("proto", "HTTP_PROXY"),
            ("respcode", "N/A"),
            ("sip", "None"),
            ("reqsize", ""),
            ("ua", "None"),
        ]),
        record(&[("reqmethod", "connect"), ("eurl", "www.example.com"), ("proto", "HTTP")]),
        record(&[("reqmethod", "CONNECT"), ("eurl", "https://secure.example")]),
        // proto gives the scheme and its default port when the URL names neither.
        record(&[("proto", "HTTP")]),
        record(&[("proto", "DNS")]),
        record(&[("proto", "ssl"), ("eurl", "Mail.Example.COM.:8443/inbox")]),
        record(&[("proto", "Ftp"), ("eurl", "files.example/pub/a.iso")]),
        record(&[("proto", "HTTPS"), ("eurl", "http://plain.example/x?y=1#frag")]),
        record(&[("proto", "HTTPS"), ("eurl", "/relative/path?q")]),
        record(&[("proto", "HTTPS"), ("eurl", "None")]),
        record(&[("proto", "None"), ("eurl", "user:pw@host.example:81/x")]),
        record(&[("proto", "HTTPS"), ("eurl", "[2001:db8::1]:8443/v6")]),
        record(&[("proto", "HTTP"), ("eurl", "host.example:99999/bad-port")]),
        // Times: ctime with and without weekday, a padded day, RFC 3339 forms.
        record(&[("time", "Jun 20 15:29:11 2022")]),
        record(&[("time", "Thu Jun  2 05:09:01 2022")]),
        record(&[("time", "mon jun 20 15:29:11.25 2022")]),
        record(&[("time", "2022-06-20 15:29:11")]),
        record(&[("time", "2022-06-20T15:29:11.123456789+02:00")]),
        record(&[("time", "2024-02-29T23:59:59Z")]),
        // Numbers as int_field reads them, statuses as status_field does.
        record(&[("reqsize", "+5"), ("respsize", "-1"), ("ctime", "-"), ("respcode", "0")]),
        record(&[("reqsize", "999999999999999999"), ("respcode", "000")]),
        record(&[("respcode", "-"), ("respsize", "NA")]),
        record(&[("respcode", "999")]),
        // Addresses: brackets stripped layer by layer, IPv4-mapped IPv6 as IPv4, upper-case
        // IPv6 in canonical form, lower-case IPv6 as written.
        record(&[("cip", "[10.0.0.1]"), ("sip", "[[10.0.0.2]]")]),
        record(&[("cip", "[-]"), ("sip", "[]")]),
        record(&[("cip", "-"), ("sip", "[[]]")]),
        record(&[("cip", "::ffff:10.1.2.3"), ("sip", "::FFFF:192.0.2.1")]),
        record(&[("cip", "2001:DB8:0:0:0:0:0:1"), ("sip", "2001:db8:0:0::1")]),
        record(&[("cip", "[2001:DB8::1]"), ("sip", "64:FF9B::1.2.3.4")]),
        record(&[("cip", "2001:DB8:0:0:1:0:0:1"), ("sip", "FE80::")]),
        record(&[("cip", "0:0:0:0:0:0:0:A"), ("sip", "ABCD:0:0:0:0:0:0:0")]),
        record(&[("cip", "1:0:2:0:0:3:0:A"), ("sip", "::")]),
        // Quotes inside values, separators inside quoted values, the referrer.
        record(&[("ua", "Agent \"X\", v1\t(tab)"), ("ereferer", "https://ref.example/?a=\"b\"")]),
        record(&[("ua", "\""), ("urlcat", "\"\""), ("action", "")]),
        // Header-like values that are not a header row.
        record(&[("login", "login"), ("ua", "ua")]),
        // Rejects, in the parser's order of checks.
        record(&[("time", "Mon Jun 31 15:29:11 2022")]),
        record(&[("time", "None")]),
        record(&[("time", &format!("Mon Jun 20 15:29:11 2022 {long}"))]),
        record(&[("time", "Mon Jun 20 25:29:11 2022")]),
        record(&[("time", "2022-06-20 15:29:11+24:00")]),
        record(&[("reqsize", "7x2")]),
        record(&[("reqsize", "1234567890123456789")]),
        record(&[("respsize", "1e3"), ("cip", "bad")]),
        record(&[("ctime", "+")]),
        record(&[("ctime", "1.5")]),
        record(&[("cip", "10.20.30")]),
        record(&[("cip", "[foo]")]),
        record(&[("cip", "[[]")]),
        record(&[("cip", "a\"b\\c")]),
        record(&[("cip", "01.2.3.4")]),
        record(&[("sip", "host.example")]),
        record(&[("sip", "[2001:db8::1]:443")]),
        record(&[("sip", "2001:db8::1::2")]),
        record(&[("sip", &long)]),
        record(&[("respcode", "2000")]),
        record(&[("respcode", "-5")]),
        record(&[("respcode", "abc")]),
        record(&[("respcode", "2xx"), ("cip", "bad")]),
    ];
    // A header row (every value its column's name, any ASCII case), and one that is not.
    r.push(NAMES.iter().map(|s| s.to_string()).collect());
    r.push(NAMES.iter().map(|s| s.to_uppercase()).collect());
    let mut almost: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    almost[33] = "keyprotection".into();
    r.push(almost);
    r
}

/// Default-layout lines for the separator `sep`: the value records quoted, then lines that
/// exercise the field reader (bare, empty and oddly quoted fields, unclosed quotes, counts).
fn default_layout_lines(sep: &str) -> Vec<String> {
    let mut l: Vec<String> = value_records().iter().map(|v| quoted(v, sep)).collect();
    let sample: Vec<String> = SAMPLE.iter().map(|s| s.to_string()).collect();
    let bare = sample.join(sep);
    l.push(bare.clone());
    // Bare and quoted values mixed; empty bare values are null.
    l.push(sample.iter().enumerate().map(|(i, v)| if i % 2 == 0 { format!("\"{v}\"") } else { v.clone() }).collect::<Vec<_>>().join(sep));
    l.push(bare.replace("LAPTOP-JDOE", "").replace("Sales", ""));
    // A lone quote inside a quoted value is kept; `""` is one quote; a bare value keeps its
    // quotes as written.
    l.push(quoted(&sample, sep).replace("\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"", "\"say \"hi\" now\""));
    l.push(quoted(&sample, sep).replace("\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"", "\"\"\"\"\"\""));
    l.push(quoted(&sample, sep).replace("\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"", "Mo\"zil\"\"la"));
    l.push(quoted(&sample, sep).replace("\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"", &format!("\"a\"\"{sep}b\"")));
    l.push(quoted(&sample, sep).replace("\"jdoe@example.com\"", &format!("\"a\"{sep}\"b\"")));
    // The last value ends the line; an empty last value after a separator.
    l.push(format!("{}{sep}", quoted(&sample[..33], sep)));
    // Unclosed quotes: the reject names the field.
    l.push(quoted(&sample, sep).replace(&format!("{sep}\"N/A\""), &format!("{sep}\"N/A")));
    l.push(format!("{}{sep}\"open{sep}{}", sample[..4].join(sep), sample[5..].join(sep)));
    l.push(format!("\"\"x{sep}{}", sample[1..].join(sep)));
    l.push(quoted(&sample, sep).replace("\"N/A\"", "\"N/A\"\""));
    l.push("\"".into());
    // A quote that closes only further on: the first value swallows the second.
    l.push(quoted(&sample, sep).replacen("2022\"", "2022", 1));
    // Field counts.
    l.push(quoted(&sample[..33], sep));
    l.push(format!("{}{sep}\"x\"", quoted(&sample, sep)));
    l.push("x".into());
    l.push(sep.into());
    l.push("\"\"".into());
    // Comments: a line starting with `#` (only there).
    l.push("# a comment".into());
    l.push("#".into());
    l.push(format!("#{}", quoted(&sample, sep)));
    l.push(format!(" #{}", quoted(&sample, sep)));
    l
}

/// Lines for a custom column list: time, cip, eurl, respcode and an unknown column.
fn short_layout_lines(sep: &str) -> Vec<String> {
    let row = |v: &[&str]| v.join(sep);
    vec![
        row(&["Mon Jun 20 15:29:11 2022", "10.0.0.1", "www.example.com/", "302", "bar"]),
        row(&["\"Mon Jun 20 15:29:11 2022\"", "\"10.0.0.1\"", "\"a.example/x\"", "\"404\"", "\"\""]),
        row(&["TIME", "cip", "eurl", "respcode", "foo"]),
        row(&["time", "cip", "eurl", "respcode", "fooo"]),
        row(&["Mon Jun 20 15:29:11 2022", "10.0.0.1"]),
        row(&["Mon Jun 20 15:29:11 2022", "10.0.0.1", "a", "1", "2", "3"]),
        row(&["Mon Jun 20 15:29:11 2022", "10.0.0.1", "a", "1", "\"2"]),
        row(&["x", "10.0.0.1", "a", "1", "2"]),
    ]
}

/// Lines for a column list with `epochtime`, `url` and `referer` (read when `time`, `eurl`
/// and `ereferer` are absent or null), and columns named twice (the last one counts).
const EPOCH_FIELDS: &str = r#"["epochtime, login", "url eurl", "referer", "ereferer", "cip", "cip", "reqmethod", "proto", "time"]"#;

fn epoch_layout_lines(sep: &str) -> Vec<String> {
    let row = |v: &[&str]| v.join(sep);
    let long = "9".repeat(80);
    vec![
        row(&["1655738951", "alice", "a.example/u", "None", "http://r.example/", "None", "9.9.9.9", "10.0.0.1", "GET", "HTTP", "None"]),
        row(&["0", "dave", "A.Example:8080", "None", "None", "None", "None", "None", "GET", "HTTPS", "None"]),
        row(&["1655738951.5", "bob", "a.example/u", "b.example/e", "None", "http://e.example/", "bad", "None", "GET", "HTTPS", ""]),
        row(&["1655738951", "NA", "None", "None", "None", "None", "-", "-", "CONNECT", "HTTPS", "Mon Jun 20 15:29:11 2022"]),
        row(&["x", "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "N/A"]),
        row(&["x", "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "bad time"]),
        row(&["1\"2\\3", "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "None"]),
        row(&[&long, "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "None"]),
        row(&["1655738951.", "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "None"]),
        row(&["1234567890123", "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "None"]),
        row(&["None", "carol", "a.example/u", "None", "None", "None", "None", "None", "GET", "HTTP", "None"]),
        row(&["EpochTime", "LOGIN", "url", "eurl", "referer", "ereferer", "cip", "cip", "reqmethod", "proto", "time"]),
    ]
}

/// Column lists whose names hold regular-expression and quote characters, each with its
/// lines: header rows in every spelling the reader accepts, near misses, one event.
fn odd_name_layouts(sep: &str) -> Vec<(&'static str, Vec<String>)> {
    let row = |v: &[&str]| v.join(sep);
    let event = row(&["Mon Jun 20 15:29:11 2022", "10.0.0.1", "1", "2"]);
    vec![
        (
            r#"["time", "cip", "a.b+c", "x'y"]"#,
            vec![
                row(&["TIME", "CIP", "A.B+C", "X'Y"]),
                row(&["\"time\"", "\"cip\"", "\"a.b+c\"", "\"x'y\""]),
                row(&["\"TIME\"", "cip", "A.B+C", "\"x'y\""]),
                row(&["time", "cip", "axb+c", "x'y"]),
                row(&["time", "cip", "a.b+c", "x'y", ""]),
                event.clone(),
            ],
        ),
        (
            r#"["time", "cip", "we\"ird", "end"]"#,
            vec![
                row(&["time", "cip", "\"we\"\"ird\"", "end"]),
                row(&["TIME", "CIP", "We\"ird", "END"]),
                row(&["time", "cip", "\"we\"ird\"", "\"end\""]),
                row(&["time", "cip", "we\"\"ird", "end"]),
                event,
            ],
        ),
    ]
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn count(parse: &BothParses, key: &str) -> u64 {
    parse.embedded_summary[key].as_u64().unwrap_or(0)
}

fn reasons(parse: &BothParses) -> Vec<String> {
    parse.embedded_summary["reject_reasons"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn spark_reads_the_default_nss_layout_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (layout, sep, fixture) in [("csv", ",", "nss-web.csv"), ("tsv", "\t", "nss-web.tsv")] {
        let lines = default_layout_lines(sep);
        let edge = write_lines(dir.path(), &format!("edge.{layout}"), &lines);
        let fixture = Path::new(FIXTURES).join(fixture);
        let format = format!("{{ name = \"zscaler\", layout = \"{layout}\" }}");
        let parse = assert_same_parse(dir.path(), &format!("default-{layout}"), &remote, &format, &[&edge, &fixture]);
        assert!(count(&parse, "events") >= 50, "{layout}: {}", parse.embedded_summary);
        assert!(count(&parse, "rejects") >= 35, "{layout}: {}", parse.embedded_summary);
        assert!(count(&parse, "skipped") >= 5, "{layout}: comments and header rows: {}", parse.embedded_summary);
        let reasons = reasons(&parse);
        for reason in ["malformed", "field_count", "bad_timestamp", "bad_number", "bad_ip"] {
            assert!(reasons.iter().any(|r| r == reason), "{layout}: no {reason} reject: {reasons:?}");
        }
    }
}

#[test]
fn spark_reads_custom_nss_columns_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (layout, sep) in [("csv", ","), ("tsv", "\t")] {
        let short = write_lines(dir.path(), &format!("short.{layout}"), &short_layout_lines(sep));
        let format = format!("{{ name = \"zscaler\", layout = \"{layout}\", fields = [\"time,cip\", \"eurl respcode\", \"Foo\"] }}");
        let parse = assert_same_parse(dir.path(), &format!("short-{layout}"), &remote, &format, &[&short]);
        assert_eq!((count(&parse, "events"), count(&parse, "skipped")), (2, 1), "{layout}: {}", parse.embedded_summary);

        let epoch = write_lines(dir.path(), &format!("epoch.{layout}"), &epoch_layout_lines(sep));
        let format = format!("{{ name = \"zscaler\", layout = \"{layout}\", fields = {EPOCH_FIELDS} }}");
        let parse = assert_same_parse(dir.path(), &format!("epoch-{layout}"), &remote, &format, &[&epoch]);
        assert!(count(&parse, "events") >= 4 && count(&parse, "rejects") >= 5, "{layout}: {}", parse.embedded_summary);
        assert_eq!(count(&parse, "skipped"), 1, "{layout}: the header row");

        for (i, (fields, lines)) in odd_name_layouts(sep).into_iter().enumerate() {
            let input = write_lines(dir.path(), &format!("odd{i}.{layout}"), &lines);
            let format = format!("{{ name = \"zscaler\", layout = \"{layout}\", fields = {fields} }}");
            let parse = assert_same_parse(dir.path(), &format!("odd{i}-{layout}"), &remote, &format, &[&input]);
            assert_eq!((count(&parse, "events"), count(&parse, "skipped")), (1, 3), "{layout} {fields}: {}", parse.embedded_summary);
        }
    }
}

#[test]
fn spark_refuses_the_json_layout_before_running() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = Path::new(FIXTURES).join("nss-web.jsonl");
    let pipeline = dir.path().join("json.toml");
    let text = format!(
        "engine = \"spark\"\nremote = \"{remote}\"\n\n[[extract]]\nfiles = [{:?}]\nformat = {{ name = \"zscaler\", layout = \"json\" }}\n\n\
         [load]\ndir = {:?}\n",
        input.display().to_string(),
        dir.path().join("lake").display().to_string()
    );
    std::fs::write(&pipeline, text).unwrap();
    let out = sweep(&["run", pipeline.to_str().unwrap(), "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the json layout ran on Spark");
    assert!(stderr.contains("json layout"), "{stderr}");
    assert!(!dir.path().join("lake").join("events").exists(), "nothing is written");
}
