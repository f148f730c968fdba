//! Size and speed of the match index with 1 million mixed indicators.
//!
//!     cargo run --release -p sweep-intel --example index_bench [-- N_INDICATORS N_EVENTS]
//!
//! Builds 400k IPv4, 50k IPv6, 50k networks, 350k domains and 150k URLs (scaled to
//! N_INDICATORS) from five feeds, prints the build time, the index memory against the bytes
//! of the indicator values, then matches N_EVENTS random proxy events (default 2 million;
//! about 2% carry a planted indicator) and prints the cost per event.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use sweep_intel::index::{AllowList, EventView, IntelIndex, MatchField, MatchStats};
use sweep_intel::{Indicator, IndicatorType};

/// splitmix64: a small, fixed-seed generator (reproducible runs, no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn label(&mut self, min: u64, max: u64) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let n = min + self.below(max - min + 1);
        (0..n).map(|_| A[self.below(26 + if n > 3 { 10 } else { 0 }) as usize] as char).collect()
    }
    fn ipv4(&mut self) -> String {
        let a = self.next() as u32;
        format!("{}.{}.{}.{}", 1 + (a >> 24) % 223, (a >> 16) & 255, (a >> 8) & 255, a & 255)
    }
    fn domain(&mut self) -> String {
        const TLDS: &[&str] = &["com", "net", "org", "ru", "xyz", "top", "info", "co.uk", "de", "cn", "io", "biz"];
        let base = format!("{}.{}", self.label(5, 14), TLDS[self.below(TLDS.len() as u64) as usize]);
        if self.chance(250) { format!("{}.{base}", self.label(2, 8)) } else { base }
    }
}

/// CPU time of this thread in ns (`/proc/thread-self/schedstat`), so that time spent waiting
/// for a CPU on a busy machine is not counted; 0 where unavailable.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let n_events: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2_000_000);
    let mut rng = Rng(42);
    let feeds: Vec<Arc<str>> = ["ipsum", "feodo", "spamhaus-drop", "urlhaus", "threatfox"].into_iter().map(Arc::from).collect();
    let tagsets: Vec<Vec<String>> = vec![vec![], vec!["malware".into()], vec!["c2".into(), "botnet".into()], vec!["phishing".into()]];
    let mk = |rng: &mut Rng, kind: IndicatorType, value: String, feed: usize| Indicator {
        value,
        kind,
        feed: feeds[feed].clone(),
        confidence: Some([50, 75, 90][rng.below(3) as usize]),
        severity: None,
        tags: tagsets[rng.below(tagsets.len() as u64) as usize].clone(),
        description: None,
        valid_from: None,
        valid_until: None,
    };
    let scale = |k: usize| k * n / 1_000_000;
    let mut inds: Vec<Indicator> = Vec::with_capacity(n);
    for _ in 0..scale(400_000) {
        let v = rng.ipv4();
        let feed = rng.below(2) as usize;
        inds.push(mk(&mut rng, IndicatorType::Ipv4, v, feed));
    }
    for _ in 0..scale(50_000) {
        let v = format!("2a0{:x}:{:x}:{:x}::{:x}", rng.below(16), rng.below(65536), rng.below(65536), rng.below(65536));
        inds.push(mk(&mut rng, IndicatorType::Ipv6, v, 0));
    }
    for _ in 0..scale(50_000) {
        let v = if rng.chance(900) {
            format!("{}/{}", rng.ipv4(), 16 + rng.below(15))
        } else {
            format!("2a0{:x}:{:x}::/{}", rng.below(16), rng.below(65536), 32 + rng.below(17))
        };
        inds.push(mk(&mut rng, IndicatorType::Cidr, v, 2));
    }
    let mut domains = Vec::with_capacity(scale(350_000));
    for _ in 0..scale(350_000) {
        let d = rng.domain();
        domains.push(d.clone());
        inds.push(mk(&mut rng, IndicatorType::Domain, d, 4));
    }
    let url_hosts: Vec<String> = (0..scale(60_000).max(1)).map(|_| if rng.chance(400) { rng.ipv4() } else { rng.domain() }).collect();
    let mut urls = Vec::with_capacity(scale(150_000));
    for _ in 0..scale(150_000) {
        let host = &url_hosts[rng.below(url_hosts.len() as u64) as usize];
        let port = if rng.chance(300) { format!(":{}", 1024 + rng.below(60000)) } else { String::new() };
        let path = match rng.below(3) {
            0 => format!("/{}/{}.exe", rng.label(4, 10), rng.label(6, 12)),
            1 => format!("/{}.php?id={}", rng.label(4, 12), rng.below(100000)),
            _ => format!("/{}/{}/{}", rng.label(3, 8), rng.label(8, 20), rng.label(2, 6)),
        };
        let u = format!("http://{host}{port}{path}");
        urls.push(u.clone());
        inds.push(mk(&mut rng, IndicatorType::Url, u, 3));
    }
    let ips: Vec<String> = inds.iter().filter(|i| i.kind == IndicatorType::Ipv4).map(|i| i.value.clone()).collect();
    let raw_bytes: usize = inds.iter().map(|i| i.value.len()).sum();
    let count = inds.len();
    let (t, c) = (Instant::now(), cpu_ns());
    let idx = IntelIndex::build(inds, AllowList::from_values([(IndicatorType::Domain, "google.com"), (IndicatorType::Cidr, "8.8.8.0/24")]));
    let build = t.elapsed();
    let build_cpu = (cpu_ns() - c) as f64 / 1e9;
    // Cross-check of heap_bytes: what the process grows by when the index is copied.
    let rss0 = rss_kib();
    let copy = black_box(idx.clone());
    let rss1 = rss_kib();
    drop(copy);
    println!(
        "indicators: {count} generated ({raw_bytes} value bytes), {} indexed, {} duplicates, {} refused",
        idx.len(),
        idx.duplicates(),
        idx.refused().len()
    );
    for k in [IndicatorType::Ipv4, IndicatorType::Ipv6, IndicatorType::Cidr, IndicatorType::Domain, IndicatorType::Url] {
        print!("  {k}: {}", idx.count(k));
    }
    println!();
    println!("build: {:.3} s wall, {build_cpu:.3} s CPU ({:.0} ns/indicator)", build.as_secs_f64(), build_cpu * 1e9 / count as f64);
    println!(
        "memory: heap_bytes {:.1} MiB, value_bytes {:.1} MiB, ratio {:.2}x (a copy of the index grows RSS by {:.1} MiB)",
        idx.heap_bytes() as f64 / 1048576.0,
        idx.value_bytes() as f64 / 1048576.0,
        idx.heap_bytes() as f64 / idx.value_bytes() as f64,
        (rss1 as f64 - rss0 as f64) / 1024.0
    );
    println!("version: {}", idx.version());

    // Events: random destinations, ~2% with a planted indicator value. Stored like Arrow string
    // columns (one buffer and offsets per column), as the sweeper reads them.
    #[derive(Default)]
    struct Column {
        data: String,
        offsets: Vec<u32>,
    }
    impl Column {
        fn push(&mut self, s: &str) {
            if self.offsets.is_empty() {
                self.offsets.push(0);
            }
            self.data.push_str(s);
            self.offsets.push(self.data.len() as u32);
        }
        fn get(&self, i: usize) -> &str {
            &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
        }
    }
    let benign: Vec<String> = (0..100_000).map(|_| rng.domain()).collect();
    let (mut col_ip, mut col_host, mut col_url) = (Column::default(), Column::default(), Column::default());
    for _ in 0..n_events {
        let (server_ip, host, url);
        match rng.below(1000) {
            0..=4 => {
                // planted address
                server_ip = ips[rng.below(ips.len() as u64) as usize].clone();
                host = benign[rng.below(benign.len() as u64) as usize].clone();
                url = format!("http://{host}/index.html");
            }
            5..=14 => {
                // planted domain, often a subdomain of it
                let d = &domains[rng.below(domains.len() as u64) as usize];
                host = if rng.chance(500) { format!("www.{d}") } else { d.clone() };
                server_ip = rng.ipv4();
                url = format!("https://{host}/{}", rng.label(3, 12));
            }
            15..=19 => {
                // planted URL
                url = urls[rng.below(urls.len() as u64) as usize].clone();
                host = url.trim_start_matches("http://").split(['/', ':']).next().unwrap_or("").to_string();
                server_ip = rng.ipv4();
            }
            _ => {
                server_ip = rng.ipv4();
                let b = &benign[rng.below(benign.len() as u64) as usize];
                host = if rng.chance(600) { format!("{}.{b}", rng.label(2, 6)) } else { b.clone() };
                url = format!("https://{host}/{}/{}?{}={}", rng.label(2, 10), rng.label(4, 16), rng.label(1, 5), rng.below(1 << 20));
            }
        }
        col_ip.push(&server_ip);
        col_host.push(&host);
        col_url.push(&url);
    }
    let view = |i: usize| EventView {
        ts_micros: 1_700_000_000_000_000 + i as i64,
        server_ip: Some(col_ip.get(i)),
        host: Some(col_host.get(i)),
        url: Some(col_url.get(i)),
        ..Default::default()
    };
    // Baseline: reading the columns into views, without matching.
    let t = Instant::now();
    let mut sum = 0usize;
    for i in 0..n_events {
        let ev = black_box(view(i));
        sum += ev.server_ip.map_or(0, str::len) + ev.host.map_or(0, str::len) + ev.url.map_or(0, str::len);
    }
    let base = t.elapsed().as_nanos() as f64 / n_events as f64;
    println!("baseline (views only, no matching): {base:.0} ns/event ({sum} bytes)");
    let run = |fields: &[MatchField]| {
        let mut stats = MatchStats::default();
        let mut out = Vec::with_capacity(1024);
        let (t, c) = (Instant::now(), cpu_ns());
        for i in 0..n_events {
            idx.match_event(black_box(&view(i)), fields, &mut out, &mut stats);
            if out.len() > 1000 {
                out.clear();
            }
        }
        let (wall, cpu) = (t.elapsed().as_nanos() as f64, (cpu_ns() - c) as f64);
        (wall / n_events as f64, cpu / n_events as f64, stats)
    };
    // BENCH_FIELDS=host,url measures one field list only.
    let custom: Option<Vec<MatchField>> =
        std::env::var("BENCH_FIELDS").ok().map(|s| s.split(',').filter_map(|f| f.trim().parse().ok()).collect());
    let lists: Vec<Vec<MatchField>> = match custom {
        Some(c) => vec![c],
        None => vec![vec![MatchField::ServerIp], vec![MatchField::Host], vec![MatchField::Url], MatchField::DEFAULT.to_vec()],
    };
    // BENCH_REPEAT=n runs each list n times (for profiling).
    let repeat: usize = std::env::var("BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    for fields in lists.iter().flat_map(|l| std::iter::repeat_n(l, repeat)) {
        let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
        let (ns, cpu, st) = run(fields);
        println!(
            "match [{}]: {ns:.0} ns/event wall, {cpu:.0} ns/event CPU, over {} events; hits {}, suppressed {}, urls canonicalised {}",
            names.join(", "),
            st.events,
            st.hits,
            st.suppressed,
            st.urls_canonicalised
        );
    }
}
