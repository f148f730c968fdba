//! Differential tests of the `zscaler` format (Zscaler NSS web feed): the Spark engine must
//! read every line as the embedded parser does, event for event and reject for reject.
//! Without SWEEP_SPARK_REMOTE these tests say so and return, unless SWEEP_REQUIRE_SPARK=1.
//!
//! No real NSS output is freely available (docs/formats/zscaler.md); the lines are generated
//! edge cases for every branch and reject of sweep_formats::formats::zscaler, plus the
//! hand-written fixtures of tests/fixtures/zscaler.
//!
//! The `json` layout: every kind of JSON value under every known key, flat and in `event`,
//! the docs example and the fixture, compared in full; `bad_json` lines whose serde_json
//! message the Spark SQL reproduces (`exact_bad_json_lines`) in full too, the others
//! (`other_bad_json_lines`: top-level strings and numbers, other syntax errors, numbers
//! beyond f64) in everything but that detail.

mod support;

use std::path::Path;

use ::sweep::formats::formats::zscaler::{DEFAULT_FIELDS, READ_FIELDS};
use support::spark::{assert_same_parse, assert_same_rows, parse_on_both, remote, write_lines};
use support::{query, sweep};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/zscaler");

/// The default layout's columns.
const NAMES: [&str; 34] = DEFAULT_FIELDS;

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
        assert!(parse.count("events") >= 50, "{layout}: {}", parse.embedded_summary);
        assert!(parse.count("rejects") >= 35, "{layout}: {}", parse.embedded_summary);
        assert!(parse.count("skipped") >= 5, "{layout}: comments and header rows: {}", parse.embedded_summary);
        let reasons = parse.reasons();
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
        assert_eq!((parse.count("events"), parse.count("skipped")), (2, 1), "{layout}: {}", parse.embedded_summary);

        let epoch = write_lines(dir.path(), &format!("epoch.{layout}"), &epoch_layout_lines(sep));
        let format = format!("{{ name = \"zscaler\", layout = \"{layout}\", fields = {EPOCH_FIELDS} }}");
        let parse = assert_same_parse(dir.path(), &format!("epoch-{layout}"), &remote, &format, &[&epoch]);
        assert!(parse.count("events") >= 4 && parse.count("rejects") >= 5, "{layout}: {}", parse.embedded_summary);
        assert_eq!(parse.count("skipped"), 1, "{layout}: the header row");

        for (i, (fields, lines)) in odd_name_layouts(sep).into_iter().enumerate() {
            let input = write_lines(dir.path(), &format!("odd{i}.{layout}"), &lines);
            let format = format!("{{ name = \"zscaler\", layout = \"{layout}\", fields = {fields} }}");
            let parse = assert_same_parse(dir.path(), &format!("odd{i}-{layout}"), &remote, &format, &[&input]);
            assert_eq!((parse.count("events"), parse.count("skipped")), (1, 3), "{layout} {fields}: {}", parse.embedded_summary);
        }
    }
}

/// The NSS keys the parser reads, every one of which the JSON tests fill with every kind of value.
const KNOWN: [&str; 19] = READ_FIELDS;

const TIME: &str = r#""time":"Mon Jun 20 15:29:11 2022""#;

/// The JSON example of docs/formats/zscaler.md.
const DOCS_JSON: &str = concat!(
    r#"{"sourcetype":"zscalernss-web","event":{"time":"Mon Jun 20 15:29:11 2022","#,
    r#""login":"jdoe@example.com","proto":"HTTPS","eurl":"www.example.com/search?q=proxy","#,
    r#""action":"Allowed","reqsize":732,"respsize":18354,"stime":41,"ctime":187,"urlcat":"Web Search","#,
    r#""cip":"10.20.30.40","sip":"142.250.72.4","reqmethod":"GET","respcode":200,"#,
    r#""ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","ereferer":"None","contenttype":"text/html"}}"#,
);

/// JSON values of every kind serde_json reads: strings (the null words among them),
/// integers, numbers with fractions and exponents, integers beyond i64, booleans, null.
const JSON_VALUES: [&str; 22] = [
    r#""x""#,
    r#""None""#,
    r#""N/A""#,
    r#""""#,
    r#""-""#,
    r#""12""#,
    "5",
    "-3",
    "0",
    "1.5",
    "2.0",
    "1e3",
    "1E-7",
    "0.00001",
    "123456789.123456789",
    "12345678901234567890",
    "-12345678901234567890",
    "9223372036854775807",
    "1e20",
    "true",
    "false",
    "null",
];

/// The sample record as one flat JSON object, all values strings.
fn sample_object() -> String {
    let members: Vec<String> = NAMES.iter().zip(SAMPLE).map(|(k, v)| format!("{}:{}", json_string(k), json_string(v))).collect();
    format!("{{{}}}", members.join(","))
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// JSON lines that parse: flat and wrapped objects, every kind of value under every known
/// key, numbers on their typed paths, a key both outside and inside `event`, and rejects of
/// the values (every reason but `bad_json`).
fn json_lines() -> Vec<String> {
    let sample = sample_object();
    let mut l = vec![
        sample.clone(),
        format!("{{\"sourcetype\":\"zscalernss-web\",\"event\":{sample}}}"),
        format!("  {{ \"sourcetype\" : \"zscalernss-web\", \"event\" :{sample} }}  "),
        format!("{{\"event\":{sample},\"sourcetype\":\"zscalernss-web\"}}"),
        DOCS_JSON.to_string(),
        "# a comment".into(),
        format!("#{sample}"),
    ];
    // Every kind of value under every known key, beside a valid time (or, for the time keys,
    // alone), flat and in `event`.
    for key in KNOWN {
        for value in JSON_VALUES {
            let member = format!("{}:{value}", json_string(key));
            let flat = match key {
                "time" | "epochtime" => format!("{{{member}}}"),
                _ => format!("{{{TIME},{member}}}"),
            };
            l.push(flat);
            l.push(match key {
                "time" | "epochtime" => format!("{{\"event\":{{{member}}}}}"),
                _ => format!("{{{TIME},\"event\":{{{member}}}}}"),
            });
        }
    }
    let extra: &[&str] = &[
        // Times: epoch numbers at the limits of `from_epoch`, floats Rust's Debug writes in
        // exponent notation, ctime and RFC 3339 text, and `time` before `epochtime`.
        r#"{"time":1655738951}"#,
        r#"{"time":1655738951.5}"#,
        r#"{"time":-1655738951.25}"#,
        r#"{"time":999999999999.9}"#,
        r#"{"time":1e12}"#,
        r#"{"time":-1e12}"#,
        r#"{"time":1234567890123.5}"#,
        r#"{"time":1e16}"#,
        r#"{"time":1.5e300}"#,
        r#"{"time":-2.5e-300}"#,
        r#"{"time":253402300799}"#,
        r#"{"time":9223372036855}"#,
        r#"{"time":-9223372036855}"#,
        r#"{"time":18446744073709551615}"#,
        r#"{"time":"2022-06-20T15:29:11.5Z"}"#,
        r#"{"time":"1655738951"}"#,
        r#"{"time":null,"epochtime":1655738951}"#,
        r#"{"time":"NA","epochtime":"1655738951.25"}"#,
        r#"{"time":"","epochtime":"x"}"#,
        r#"{"epochtime":"a\"b\\c"}"#,
        r#"{"epochtime":99999999999999}"#,
        r#"{"epochtime":1e13}"#,
        r#"{"time":"Mon Jun 20 15:29:11 2022","epochtime":"bad"}"#,
        r#"{"sourcetype":"zscalernss-web"}"#,
        r#"{}"#,
        // Numbers: whole floats below 9e15 are integers, others are not.
        r#"{"time":1,"reqsize":1e15,"respsize":8999999999999999,"ctime":-0.0}"#,
        r#"{"time":1,"reqsize":9e15}"#,
        r#"{"time":1,"respsize":-9e15}"#,
        r#"{"time":1,"ctime":0.5}"#,
        r#"{"time":1,"reqsize":" 5"}"#,
        r#"{"time":1,"respcode":200.0}"#,
        r#"{"time":1,"respcode":999.5}"#,
        r#"{"time":1,"respcode":1000}"#,
        r#"{"time":1,"respcode":-1}"#,
        r#"{"time":1,"respcode":1e3}"#,
        r#"{"time":1,"respcode":"1000"}"#,
        r#"{"time":1,"respcode":"2xx"}"#,
        r#"{"time":1,"respcode":-9223372036854775808}"#,
        // Text from numbers and booleans: URLs, methods, protocols, addresses.
        r#"{"time":1,"eurl":5,"proto":"HTTP"}"#,
        r#"{"time":1,"eurl":"a.example/x","proto":true}"#,
        r#"{"time":1,"eurl":"a.example:8080/x","reqmethod":"connect","proto":"https"}"#,
        r#"{"time":1,"url":"b.example/u","eurl":null,"proto":"SSL"}"#,
        r#"{"time":1,"url":"b.example/u","eurl":"None","referer":"r","ereferer":"N/A"}"#,
        r#"{"time":1,"cip":"[2001:DB8::1]","sip":"::ffff:1.2.3.4"}"#,
        r#"{"time":1,"ua":"A \"B\" \u00e9 \\ \/","login":"\ud83d\ude00"}"#,
        // Keys outside and inside `event`: the later in the line counts, a null too.
        r#"{"time":"Mon Jun 20 15:29:11 2022","event":{"time":"Tue Jun 21 15:29:11 2022"}}"#,
        r#"{"event":{"time":"Tue Jun 21 15:29:11 2022"},"time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"event":{"time":"Tue Jun 21 15:29:11 2022","cip":"1.1.1.1"},"cip":"2.2.2.2","login":"out"}"#,
        r#"{"cip":"2.2.2.2","event":{"time":1,"cip":"1.1.1.1","login":"in"},"login":"out"}"#,
        r#"{"event":{"time":null},"time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"time":"Mon Jun 20 15:29:11 2022","event":{"time":null}}"#,
        r#"{"time":"Mon Jun 20 15:29:11 2022","event":{"epochtime":5,"time":"None"}}"#,
        r#"{"time":"Mon Jun 20 15:29:11 2022","event":{"login":"in","ua":"in"},"ua":"out"}"#,
        // `event` that is no object is ignored; keys deeper than `event` are not read.
        r#"{"event":"x","time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"event":5,"time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"event":null,"time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"event":[{"time":"Tue Jun 21 15:29:11 2022"}],"time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"event":{"event":{"time":"Tue Jun 21 15:29:11 2022"}},"time":"Mon Jun 20 15:29:11 2022"}"#,
        r#"{"event":{"x":{"time":"Tue Jun 21 15:29:11 2022","ua":{}},"time":1}}"#,
        r#"{"Time":"Mon Jun 20 15:29:11 2022","time":1,"EVENT":{"time":2}}"#,
        // Other keys hold anything, numbers beyond f64 too.
        r#"{"time":1,"extra":{"nested":[1,{"ua":[2]}]},"list":[[],{}],"big":1e400}"#,
        r#"{"event":{"foo":1e400,"bar":{"cip":[1]},"time":1}}"#,
        r#"{"time":1,"ua":"x","ua":"y"}"#,
    ];
    l.extend(extra.iter().map(|s| s.to_string()));
    l
}

/// JSON lines that are not NSS objects, in ways whose `bad_json` detail (serde_json's
/// message) the Spark SQL gives exactly.
fn exact_bad_json_lines() -> Vec<String> {
    [
        "[1,2]",
        "  [{\"time\":1}]",
        "[]",
        "[1,[2,{\"a\":\"]\"}]] x",
        "not json",
        "nul",
        "tru",
        "true",
        "false",
        "null",
        "xyz",
        "\u{feff}{\"time\":1}",
        "{\"time\":1} trailing",
        "{\"time\":1}{\"time\":2}",
        "{\"time\":1}}",
        "{\"time\":1",
        "{\"time\":\"abc",
        "{\"time\":",
        "{\"time\":1,",
        "{\"time\"",
        "{\"foo\":[1,2",
        "{\"foo\":tr",
        "{\"time\":1.",
        "{\"time\":-",
        "{",
        // An object or array under a known key ends serde_json's parse there.
        "{\"ua\":{\"a\":1},\"time\":1}",
        "{\"time\":1,\"ua\":{}}",
        "{\"time\":1,\"ua\":{ \t}}",
        "{\"time\":1,\"ua\":{ ,}}",
        "{\"time\":1,\"ua\":[1]}",
        "{\"time\":1,\"ua\":[]}",
        "{\"time\":1,\"ua\":[ , 1]}",
        "{\"time\":[1,2",
        "{\"time\":1,\"event\":{\"cip\":[\"1.2.3.4\"]}}",
        "{\"event\":{\"x\":1,\"respcode\":{\"code\":200}},\"time\":1}",
        "{\"extra\":{\"ua\":{}},\"ua\":[\"é\"]}",
        "{\"é\":\"é\",\"ua\":{\"a\":1}",
        "{\"ua\":{\"a\":1}} trailing",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// JSON lines that are not NSS objects in ways whose serde_json message Spark cannot give:
/// the rejects are the same but for the detail.
fn other_bad_json_lines() -> Vec<String> {
    [
        "\"str\"",
        "123",
        "-1.5",
        "[1,",
        "[1,]",
        "{'time':1}",
        "{time:1}",
        "{\"time\":1,}",
        "{\"time\":01}",
        "{\"time\":NaN}",
        "{\"time\":1e400}",
        "{\"event\":{\"time\":-1e400}}",
        "{\"time\":1,\"u\":\"a\u{1}b\"}",
        "{\"time\":1,\"u\":\"\\q\"}",
        "{\"time\":1 \"cip\":2}",
        "{\"time\" 1}",
        "{\"a\" 1,\"ua\":{}}",
        "{\"time\":1]",
        "{\"time\":1}\u{0}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

const JSON_FORMAT: &str = "{ name = \"zscaler\", layout = \"json\" }";

#[test]
fn spark_reads_json_lines_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lines = write_lines(dir.path(), "lines.jsonl", &json_lines());
    let fixture = Path::new(FIXTURES).join("nss-web.jsonl");
    let parse = assert_same_parse(dir.path(), "json", &remote, JSON_FORMAT, &[&lines, &fixture]);
    assert!(parse.count("events") >= 500, "{}", parse.embedded_summary);
    assert!(parse.count("rejects") >= 150, "{}", parse.embedded_summary);
    assert_eq!(parse.count("skipped"), 2, "the comments: {}", parse.embedded_summary);
    let reasons = parse.reasons();
    for reason in ["bad_timestamp", "bad_number", "bad_ip"] {
        assert!(reasons.iter().any(|r| r == reason), "no {reason} reject: {reasons:?}");
    }
}

#[test]
fn spark_gives_serde_jsons_message_where_it_can() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lines = exact_bad_json_lines();
    let input = write_lines(dir.path(), "exact.jsonl", &lines);
    let parse = assert_same_parse(dir.path(), "exact", &remote, JSON_FORMAT, &[&input]);
    assert_eq!(parse.count("rejects"), lines.len() as u64, "{}", parse.embedded_summary);
    assert_eq!(parse.reasons(), ["bad_json"]);
}

#[test]
fn bad_json_lines_reject_alike() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lines = other_bad_json_lines();
    let input = write_lines(dir.path(), "bad.jsonl", &lines);
    let both = parse_on_both(dir.path(), "bad", &remote, JSON_FORMAT, &[&input]);
    let masked = "SELECT encode(raw, 'hex'), reason, CASE WHEN reason = 'bad_json' THEN '' ELSE detail END, format, source, \"offset\" \
                  FROM rejects ORDER BY source, \"offset\"";
    assert_same_rows(&both, masked);
    let details = "SELECT detail FROM rejects WHERE reason = 'bad_json' ORDER BY source, \"offset\"";
    let (a, b) = (query(&both.embedded, details), query(&both.spark, details));
    for (x, y) in a.iter().zip(&b).filter(|(x, y)| x != y) {
        eprintln!("bad_json detail differs:\n  embedded: {x}\n  spark:    {y}");
    }
    assert_eq!(both.count("rejects"), lines.len() as u64, "{}", both.embedded_summary);
    // The NUL after an object is no JSON matter: the line holds a byte no log line can.
    assert_eq!(both.reasons(), ["bad_json", "control_character"]);
}

#[test]
fn spark_refuses_fields_with_the_json_layout_before_running() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = Path::new(FIXTURES).join("nss-web.jsonl");
    let pipeline = dir.path().join("json.toml");
    let text = format!(
        "engine = \"spark\"\nremote = \"{remote}\"\n\n[[extract]]\nfiles = [{:?}]\nformat = {{ name = \"zscaler\", layout = \"json\", fields = [\"time\"] }}\n\n\
         [load]\ndir = {:?}\n",
        input.display().to_string(),
        dir.path().join("lake").display().to_string()
    );
    std::fs::write(&pipeline, text).unwrap();
    let out = sweep(&["run", pipeline.to_str().unwrap(), "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "fields with the json layout ran on Spark");
    assert!(stderr.contains("fields"), "{stderr}");
    assert!(!dir.path().join("lake").join("events").exists(), "nothing is written");
}
