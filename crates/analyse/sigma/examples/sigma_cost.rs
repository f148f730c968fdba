//! How fast the compiled Sigma evaluator is, with the bundled rules and with ~1,000 rules.
//!
//! `cargo run --release -p sweep-sigma --example sigma_cost -- [ROWS] [BATCH_ROWS] [no-naive] [EVENTS_DIR]`
//!
//! With EVENTS_DIR (a lake's `events` folder, e.g. from `sweep scan`), the rows are read from
//! its Parquet files instead of generated (ROWS caps them).
//!
//! Generates ROWS (default 200,000) plausible proxy events (browsers, API clients, a few
//! suspicious hosts, paths, queries and user agents, each ~1%) in batches of BATCH_ROWS
//! (default 8,192), and times `SigmaAnalyser::evaluate` over them: with the 41 bundled rules
//! that load, then with the bundled rules plus generated variants (each literal value of each
//! rule changed) up to ~1,000 rules. Prints rows/s and detections; also the naive evaluator on
//! a 40th of the rows, for scale.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use sweep_formats::events_schema;
use sweep_sigma::tree::{Atom, Condition, Matcher, Piece};
use sweep_sigma::{LoadOptions, Rule, RuleSet, SigmaAnalyser, evaluate_naive};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const HOSTS: &[&str] = &[
    "www.example.org",
    "cdn.jsdelivr.net",
    "api.github.com",
    "login.microsoftonline.com",
    "www.google.com",
    "fonts.gstatic.com",
    "update.vendor.example.com",
    "static.cloudflareinsights.com",
    "s3.amazonaws.com",
    "www.bbc.co.uk",
];
const BAD_HOSTS: &[&str] =
    &["files.example.xyz", "10.20.30.40", "pastebin.com", "api.telegram.org", "downloads.example.top", "intranet.corp.local"];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/items",
    "/static/app.js",
    "/images/logo.png",
    "/download/setup.exe",
    "/wp-login.php",
    "/search",
    "/feeds/rss.xml",
    "/assets/site.css",
    "/v2/users/me",
    "/favicon.ico",
];
const BAD_PATHS: &[&str] = &["/raw/AbCdEf12", "/files/report.docm", "/login/process.php", "/checkupdate.php", "/.git/config"];
const QUERIES: &[&str] = &["", "", "", "q=rust+arrow", "id=42&lang=en", "page=2", "utm_source=news&utm_medium=email"];
const BAD_QUERIES: &[&str] = &[
    "lng=en&ver=2-5-3680&beta=n&type=upd&rmode=p&product=aps",
    "id=1%20UNION%20SELECT%201",
    "file=../../../etc/passwd",
    "x=${jndi:ldap://a/b}",
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "okhttp/4.12.0",
    "Go-http-client/2.0",
];
const BAD_UAS: &[&str] = &[
    "Microsoft BITS/7.8",
    "sqlmap/1.8",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) WinHttp/1.6.3.8 (WinHTTP/5.1) like Gecko",
    "rclone/v1.66",
    "XMRig 6.21",
    "",
];

fn make_batch(rng: &mut Rng, n: usize, offset: i64) -> RecordBatch {
    let mut method = Vec::with_capacity(n);
    let mut url = Vec::with_capacity(n);
    let mut host = Vec::with_capacity(n);
    let mut path = Vec::with_capacity(n);
    let mut query = Vec::with_capacity(n);
    let mut ua = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut client = Vec::with_capacity(n);
    let mut server = Vec::with_capacity(n);
    let mut referrer = Vec::with_capacity(n);
    for _ in 0..n {
        // About 1% of each of host, path, query and user agent is suspicious.
        let h = if rng.next().is_multiple_of(100) { rng.pick(BAD_HOSTS) } else { rng.pick(HOSTS) };
        let p = if rng.next().is_multiple_of(100) { rng.pick(BAD_PATHS) } else { rng.pick(PATHS) };
        let q = if rng.next().is_multiple_of(100) { rng.pick(BAD_QUERIES) } else { rng.pick(QUERIES) };
        let u = if rng.next().is_multiple_of(100) { rng.pick(BAD_UAS) } else { rng.pick(UAS) };
        let m = if rng.next().is_multiple_of(5) { "POST" } else { "GET" };
        let full = if q.is_empty() { format!("https://{h}{p}") } else { format!("https://{h}{p}?{q}") };
        method.push(Some(m.to_string()));
        url.push(Some(full));
        host.push(Some(h.to_string()));
        path.push(Some(p.to_string()));
        query.push(if q.is_empty() { None } else { Some(q.to_string()) });
        ua.push(Some(u.to_string()));
        status.push(Some([200, 200, 200, 304, 404, 302, 500][(rng.next() % 7) as usize]));
        client.push(Some(format!("10.0.{}.{}", rng.next() % 4, rng.next() % 250)));
        server.push(Some(format!("{}.{}.{}.{}", rng.next() % 223 + 1, rng.next() % 255, rng.next() % 255, rng.next() % 255)));
        referrer.push(if rng.next().is_multiple_of(3) { None } else { Some(format!("https://{h}/")) });
    }
    let schema = events_schema();
    let s = |v: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let nulls = || -> ArrayRef { Arc::new(StringArray::from(vec![None::<&str>; n])) };
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "ts" => Arc::new(TimestampMicrosecondArray::from(vec![1_767_225_600_000_000i64; n]).with_timezone("UTC")) as ArrayRef,
            "client_ip" => s(client.clone()),
            "method" => s(method.clone()),
            "url" => s(url.clone()),
            "scheme" => s(vec![Some("https".into()); n]),
            "host" => s(host.clone()),
            "port" => Arc::new(Int32Array::from(vec![Some(443); n])),
            "path" => s(path.clone()),
            "query" => s(query.clone()),
            "status" => Arc::new(Int32Array::from(status.clone())),
            "request_bytes" | "response_bytes" | "duration_ms" => Arc::new(Int64Array::from(vec![Some(1000i64); n])),
            "user_agent" => s(ua.clone()),
            "referrer" => s(referrer.clone()),
            "server_ip" => s(server.clone()),
            "format" | "source" => Arc::new(StringArray::from(vec!["bench"; n])),
            "offset" => Arc::new(Int64Array::from((offset..offset + n as i64).collect::<Vec<_>>())),
            _ => nulls(),
        })
        .collect();
    RecordBatch::try_new(schema, cols).unwrap()
}

/// Up to `rows` events from the Parquet files under `dir`, in batches of `batch_rows`.
fn read_events(dir: &std::path::Path, rows: usize, batch_rows: usize) -> Vec<RecordBatch> {
    fn files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|e| e == "parquet") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    files(dir, &mut paths);
    let mut out = Vec::new();
    let mut total = 0;
    for p in paths {
        let file = std::fs::File::open(&p).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .with_batch_size(batch_rows)
            .build()
            .unwrap();
        for b in reader {
            let b = b.unwrap();
            if total >= rows {
                return out;
            }
            let b = b.slice(0, b.num_rows().min(rows - total));
            total += b.num_rows();
            out.push(b);
        }
    }
    out
}

/// A copy of a condition with every literal value changed (variant `k`).
fn variant(c: &Condition, k: usize) -> Condition {
    match c {
        Condition::And(v) => Condition::And(v.iter().map(|c| variant(c, k)).collect()),
        Condition::Or(v) => Condition::Or(v.iter().map(|c| variant(c, k)).collect()),
        Condition::Not(c) => Condition::Not(Box::new(variant(c, k))),
        Condition::Atom(a) => {
            let tweak = |s: &String| if s.is_empty() { s.clone() } else { format!("{s}-v{k}") };
            let matcher = match &a.matcher {
                Matcher::Equals { value, cased } => Matcher::Equals { value: tweak(value), cased: *cased },
                Matcher::Contains { value, cased } => Matcher::Contains { value: tweak(value), cased: *cased },
                Matcher::StartsWith { value, cased } => Matcher::StartsWith { value: tweak(value), cased: *cased },
                Matcher::EndsWith { value, cased } => Matcher::EndsWith { value: tweak(value), cased: *cased },
                Matcher::Wildcard { pattern, cased } => Matcher::Wildcard {
                    pattern: pattern.iter().map(|p| if let Piece::Literal(s) = p { Piece::Literal(tweak(s)) } else { p.clone() }).collect(),
                    cased: *cased,
                },
                m => m.clone(),
            };
            Condition::Atom(Atom { column: a.column.clone(), matcher })
        }
    }
}

fn time(label: &str, analyser: &SigmaAnalyser, batches: &[RecordBatch]) {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let start = Instant::now();
    let mut detections = 0;
    for b in batches {
        detections += analyser.evaluate(b).unwrap().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<28} rules {:>5}  atoms {:>6}  rows {rows:>8}  {secs:>7.3} s  {:>10.0} rows/s  detections {detections}",
        analyser.rules().len(),
        analyser.atom_count(),
        rows as f64 / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let batch_rows: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8_192);
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../shared/data/sigma"));
    let (bundled, report) = RuleSet::load(&[dir], &LoadOptions::default());
    println!("bundled: {} loaded, {} refused, {} skipped", report.loaded.len(), report.refused.len(), report.skipped.len());

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let batches: Vec<RecordBatch> = match args.get(4) {
        Some(dir) => read_events(&PathBuf::from(dir), rows, batch_rows),
        None => (0..rows.div_ceil(batch_rows))
            .map(|i| make_batch(&mut rng, batch_rows.min(rows - i * batch_rows), (i * batch_rows) as i64))
            .collect(),
    };

    let t = Instant::now();
    let a = SigmaAnalyser::new(bundled.clone()).unwrap();
    println!("compile bundled: {:.3} s", t.elapsed().as_secs_f64());
    for line in a.describe_plans() {
        println!("  {line}");
    }
    time("bundled", &a, &batches);
    let mut per_rule = std::collections::BTreeMap::new();
    for d in a.evaluate(&batches[0]).unwrap() {
        *per_rule.entry(a.rule(d.rule).title.clone()).or_insert(0usize) += 1;
    }
    println!("detections in the first batch by rule: {per_rule:?}");

    let mut big = bundled.clone();
    let mut k = 0;
    while big.len() < 1_000 {
        for r in bundled.rules() {
            if big.len() >= 1_000 {
                break;
            }
            let mut meta = r.meta.clone();
            meta.id = meta.id.map(|id| format!("{id}-v{k}"));
            big.push(Rule { meta, condition: variant(&r.condition, k) });
        }
        k += 1;
    }
    let t = Instant::now();
    let a = SigmaAnalyser::new(big.clone()).unwrap();
    println!("compile ~1000: {:.3} s", t.elapsed().as_secs_f64());
    time("bundled + variants", &a, &batches);

    if args.get(3).is_some_and(|a| a == "no-naive") {
        return;
    }
    let small: Vec<RecordBatch> = batches.iter().take(batches.len().div_ceil(40)).cloned().collect();
    let n: usize = small.iter().map(RecordBatch::num_rows).sum();
    for (label, set) in [("naive, bundled", &bundled), ("naive, ~1000 rules", &big)] {
        let t = Instant::now();
        let d: usize = small.iter().map(|b| evaluate_naive(set, b).unwrap().len()).sum();
        let secs = t.elapsed().as_secs_f64();
        println!("{label:<28} rules {:>5}  rows {n:>8}  {secs:>7.3} s  {:>10.0} rows/s  detections {d}", set.len(), n as f64 / secs);
    }
}
