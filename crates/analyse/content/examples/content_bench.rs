//! Cost of the content analyser per event.
//!
//!     cargo run --release -p sweep-content --example content_bench [-- N_EVENTS BATCH_ROWS]
//!
//! Builds a universe of 50,000 distinct hosts: names of the bundled benign list, most with
//! random subdomains, plus about 10% malicious-looking ones (typos and look-alikes of
//! protected names, brand masquerades, punycode homographs, random DGA names, public and
//! private IPs). Events draw their host with a heavy skew (log-uniform rank: a few hosts are
//! very frequent, most are rare, as in proxy logs), 2 million by default, in batches of 8192
//! rows in the canonical events schema. Prints the time per event (wall and thread CPU), the
//! distinct hosts per batch, the findings per detector, and the cost of one verdict.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
use sweep_content::dga::synth::Rng;
use sweep_content::{BUNDLED_BENIGN, BUNDLED_PROTECTED, ContentAnalyser, ContentSpec};
use sweep_formats::events_schema;

/// CPU time of this thread in ns (`/proc/thread-self/schedstat`); 0 where unavailable.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).collect()
}

fn universe(rng: &mut Rng, n: usize) -> Vec<String> {
    let benign = lines(BUNDLED_BENIGN);
    let protected = lines(BUNDLED_PROTECTED);
    const SUBS: &[&str] = &["www", "api", "cdn", "static", "img", "login", "mail", "m", "news", "assets", "s1", "edge", "app"];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let r = rng.below(1000);
        let h = match r {
            0..=899 => {
                let b = rng.pick(&benign);
                match rng.below(3) {
                    0 => b.to_string(),
                    1 => format!("{}.{b}", rng.pick(SUBS)),
                    _ => format!("{}{}.{b}", rng.pick(SUBS), rng.below(100)),
                }
            }
            900..=919 => {
                // A typo of a protected name.
                let p = rng.pick(&protected);
                let (label, suffix) = p.split_once('.').unwrap();
                let mut s: Vec<u8> = label.bytes().collect();
                let i = rng.below(s.len() as u64) as usize;
                match rng.below(4) {
                    0 => s[i] = b"01l5"[rng.below(4) as usize],
                    1 => s.insert(i, s[i]),
                    2 if s.len() > 4 => {
                        s.remove(i);
                    }
                    _ if i + 1 < s.len() => s.swap(i, i + 1),
                    _ => s.push(b'x'),
                }
                format!("{}.{suffix}", String::from_utf8(s).unwrap())
            }
            920..=939 => {
                let p = rng.pick(&protected);
                let tld = ["xyz", "top", "info", "online", "site"][rng.below(5) as usize];
                match rng.below(3) {
                    0 => format!("{p}.account-verify{}.{tld}", rng.below(1000)),
                    1 => format!("login-{}.secure{}.{tld}", p.split('.').next().unwrap(), rng.below(1000)),
                    _ => format!("{}.{tld}", p.split('.').next().unwrap()),
                }
            }
            940..=949 => {
                let w = ["pаypal", "аpple", "gοοgle", "micrοsoft", "аmazon", "netflіx"][rng.below(6) as usize];
                sweep_intel::psl::to_ascii(&format!("{w}{}.com", if rng.below(2) == 0 { "" } else { "-login" })).unwrap()
            }
            950..=979 => {
                let tld = ["com", "net", "ru", "info", "biz", "top"][rng.below(6) as usize];
                let name = match rng.below(3) {
                    0 => rng.letters(),
                    1 => rng.alnum(),
                    _ => rng.hex(),
                };
                format!("{name}.{tld}")
            }
            _ => match rng.below(3) {
                0 => format!("{}.{}.{}.{}", 1 + rng.below(222), rng.below(256), rng.below(256), rng.below(256)),
                1 => format!("10.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256)),
                _ => format!("[2a0{}:{:x}::{:x}]", rng.below(10), rng.below(65536), rng.below(65536)),
            },
        };
        out.push(h);
    }
    out
}

fn events(hosts: &[&str], first: i64) -> RecordBatch {
    let schema = events_schema();
    let n = hosts.len();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "ts" => Arc::new(
                TimestampMicrosecondArray::from_iter_values((0..n as i64).map(|i| 1_767_225_600_000_000 + first + i)).with_timezone("UTC"),
            ) as ArrayRef,
            "client_ip" => Arc::new((0..n).map(|i| Some(format!("10.1.{}.{}", i % 7, i % 250))).collect::<StringArray>()),
            "host" => Arc::new(hosts.iter().map(|h| Some(*h)).collect::<StringArray>()),
            "url" => Arc::new(hosts.iter().map(|h| Some(format!("https://{h}/index.html"))).collect::<StringArray>()),
            "format" => Arc::new(StringArray::from(vec!["squid"; n])),
            "source" => Arc::new(StringArray::from(vec!["bench.log"; n])),
            "offset" => Arc::new(Int64Array::from_iter_values(first..first + n as i64)),
            _ => new_null_array(f.data_type(), n),
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n_events: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2_000_000);
    let rows: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8192);
    let mut rng = Rng(42);
    let t = Instant::now();
    let a = ContentAnalyser::new(ContentSpec::default()).unwrap();
    let _ = a.judge("warm-up.example.com"); // builds the lazily made DGA model and PSL tables
    println!("analyser built in {:.1} ms ({} protected domains)", t.elapsed().as_secs_f64() * 1e3, a.protected_len());

    let uni = universe(&mut rng, 50_000);
    let mut batches = Vec::new();
    let mut done = 0;
    while done < n_events {
        let k = rows.min(n_events - done);
        // Log-uniform rank: P(rank <= r) = ln(r) / ln(N).
        let hosts: Vec<&str> = (0..k)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let r = ((uni.len() as f64).powf(u) as usize).clamp(1, uni.len()) - 1;
                uni[r].as_str()
            })
            .collect();
        batches.push(events(&hosts, done as i64));
        done += k;
    }
    let distinct: usize = batches
        .iter()
        .map(|b| b.column_by_name("host").unwrap().as_string::<i32>().iter().flatten().collect::<std::collections::HashSet<_>>().len())
        .sum();

    let (t, c) = (Instant::now(), cpu_ns());
    let mut findings = std::collections::BTreeMap::<String, usize>::new();
    for b in &batches {
        let out = black_box(a.analyse(b).unwrap());
        for f in out.column_by_name("finding").unwrap().as_string::<i32>().iter().flatten() {
            *findings.entry(f.to_string()).or_default() += 1;
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = (cpu_ns() - c) as f64 / 1e9;
    println!(
        "{n_events} events in {} batches of {rows}: {:.0} distinct hosts per batch on average ({:.1}% of rows)",
        batches.len(),
        distinct as f64 / batches.len() as f64,
        100.0 * distinct as f64 / n_events as f64
    );
    println!(
        "analyse: {:.3} s wall, {cpu:.3} s CPU: {:.0} ns/event wall, {:.0} ns/event CPU",
        wall,
        wall * 1e9 / n_events as f64,
        cpu * 1e9 / n_events as f64
    );
    println!("findings: {findings:?}");

    // The same batches with a verdict cache kept across batches.
    let mut cache = sweep_content::VerdictCache::new(100_000);
    let (t, c) = (Instant::now(), cpu_ns());
    for b in &batches {
        black_box(a.analyse_cached(b, &mut cache).unwrap());
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = (cpu_ns() - c) as f64 / 1e9;
    println!(
        "analyse_cached (100,000 hosts): {:.0} ns/event wall, {:.0} ns/event CPU; {} hits, {} misses",
        wall * 1e9 / n_events as f64,
        cpu * 1e9 / n_events as f64,
        cache.hits(),
        cache.misses()
    );

    // One verdict, uncached.
    let sample: Vec<&str> = uni.iter().take(20_000).map(String::as_str).collect();
    let (t, c) = (Instant::now(), cpu_ns());
    let mut k = 0;
    for h in &sample {
        k += black_box(a.judge(h)).len();
    }
    let cpu = (cpu_ns() - c) as f64 / 1e9;
    println!(
        "judge: {:.2} µs per distinct host wall, {:.2} µs CPU ({k} findings over {} hosts)",
        t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64,
        cpu * 1e6 / sample.len() as f64,
        sample.len()
    );
}
