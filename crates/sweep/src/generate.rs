//! Realistic synthetic proxy traffic, for the demo, tests and benchmarks.
//!
//! Deterministic for a given seed. Host popularity is skewed (Zipf-like: a few sites get
//! most requests, a long tail gets the rest), about 5% of clients are IPv6, CONNECT
//! tunnels make up a share of requests, and a configurable fraction of lines is
//! malformed in the ways real logs are (truncated writes, garbage, bad times).

use std::io::{self, Write};

/// Which layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenFormat {
    /// Squid native `access.log`.
    Squid,
    /// Apache / nginx combined (a reverse proxy's view: origin-form URLs, a vhost-less log).
    Combined,
    /// Squid's `combined` logformat (absolute URLs, `%Ss:%Sh` at the end).
    SquidCombined,
    /// Blue Coat ELFF with a `#Fields:` header (bcreportermain_v1 layout).
    Elff,
}

impl GenFormat {
    pub fn parse(name: &str) -> Option<GenFormat> {
        Some(match name {
            "squid" => GenFormat::Squid,
            // The names `sweep scan --format` takes for the same layout.
            "combined" | "apache" | "nginx" => GenFormat::Combined,
            "squid_combined" => GenFormat::SquidCombined,
            "elff" => GenFormat::Elff,
            _ => return None,
        })
    }

    /// The sweep format name that reads this layout.
    pub fn format_name(self) -> &'static str {
        match self {
            GenFormat::Squid => "squid",
            GenFormat::Combined => "combined",
            GenFormat::SquidCombined => "squid_combined",
            GenFormat::Elff => "elff",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct TrafficSpec {
    pub format: GenFormat,
    pub lines: u64,
    pub seed: u64,
    /// Malformed lines per million (1000 = 0.1%).
    pub malformed_per_million: u32,
    /// Time of the first line, epoch seconds.
    pub start_epoch_s: i64,
    /// Mean requests per second, which sets how fast time advances.
    pub requests_per_second: f64,
    /// Hosts, IPs or URLs to plant into the traffic (each goes to about `plant_every` lines).
    pub plant: Vec<String>,
    pub plant_every: u64,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            format: GenFormat::Squid,
            lines: 10_000,
            seed: 42,
            malformed_per_million: 1000,
            start_epoch_s: 1_767_225_600, // 2026-01-01T00:00:00Z
            requests_per_second: 200.0,
            plant: Vec::new(),
            plant_every: 5_000,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenStats {
    pub lines: u64,
    pub data_lines: u64,
    pub malformed: u64,
    pub header_lines: u64,
    pub planted: u64,
}

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
    pub fn chance(&mut self, per_million: u32) -> bool {
        self.below(1_000_000) < per_million as u64
    }
    /// Skewed pick in `0..n`: low indices are far more likely (squared uniform).
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as u64 % n.max(1)
    }
}

const POPULAR: &[&str] = &[
    "www.google.com",
    "fonts.gstatic.com",
    "www.youtube.com",
    "i.ytimg.com",
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "update.googleapis.com",
    "www.wikipedia.org",
    "en.wikipedia.org",
    "github.com",
    "api.github.com",
    "objects.githubusercontent.com",
    "www.amazon.com",
    "m.media-amazon.com",
    "slack.com",
    "edgeapi.slack.com",
    "zoom.us",
    "www.linkedin.com",
    "static.licdn.com",
    "www.reddit.com",
    "i.redd.it",
    "cdn.jsdelivr.net",
    "ajax.googleapis.com",
    "www.bbc.co.uk",
    "news.ycombinator.com",
    "docs.python.org",
    "pypi.org",
    "files.pythonhosted.org",
    "crates.io",
    "static.crates.io",
    "registry.npmjs.org",
    "www.apple.com",
    "swscan.apple.com",
    "ocsp.digicert.com",
    "ctldl.windowsupdate.com",
    "settings-win.data.microsoft.com",
    "www.dropbox.com",
    "dl.dropboxusercontent.com",
];
const WORDS: &[&str] = &[
    "api", "static", "img", "assets", "v1", "v2", "login", "index", "search", "news", "user", "cart", "js", "css", "media", "feed",
    "update", "download", "report", "data", "cdn", "app", "auth", "track", "pixel", "beacon", "config",
];
const SUBDOMAINS: &[&str] = &["www", "cdn", "api", "static", "img", "assets", "media", "shop", "blog", "app"];
const NAME_WORDS: &[&str] = &[
    "river", "stone", "green", "maple", "harbor", "summit", "north", "bright", "silver", "oak", "meadow", "cedar", "atlas", "blue",
    "orbit", "falcon", "copper", "lumen", "nova", "harvest", "pine", "coral", "ember", "willow", "aurora", "vista", "garden", "little",
    "urban", "golden",
];
const TLDS: &[&str] = &["com", "net", "org", "io", "de", "co.uk", "fr", "info", "xyz", "ru"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "Microsoft-CryptoAPI/10.0",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
];
const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "svc_backup"];
const MIME: &[&str] =
    &["text/html", "application/json", "image/png", "image/jpeg", "application/javascript", "text/css", "application/octet-stream"];

struct Req {
    ts_ms: i64,
    elapsed: u32,
    client: String,
    user: Option<&'static str>,
    method: &'static str,
    host: String,
    server_ip: String,
    port: u16,
    scheme: &'static str,
    path: String,
    query: Option<String>,
    status: u16,
    action: &'static str,
    bytes: u64,
    req_bytes: u64,
    mime: &'static str,
    agent: &'static str,
}

fn host_for(rng: &mut Rng) -> String {
    let i = rng.skewed(POPULAR.len() as u64 + 5000);
    if (i as usize) < POPULAR.len() {
        return POPULAR[i as usize].to_string();
    }
    // A stable long-tail site per index, named the way small sites are (two words run
    // together), so that the content analyser has nothing to say about it: the demo's
    // findings are its planted hosts only.
    let mut r = Rng::new(i);
    let sub = SUBDOMAINS[r.below(SUBDOMAINS.len() as u64) as usize];
    let a = NAME_WORDS[r.below(NAME_WORDS.len() as u64) as usize];
    let b = NAME_WORDS[r.below(NAME_WORDS.len() as u64) as usize];
    let tld = TLDS[r.below(TLDS.len() as u64) as usize];
    format!("{sub}.{a}{b}.{tld}")
}

fn server_ip_for(host: &str) -> String {
    let h = host.bytes().fold(0xcbf2_9ce4_8422_2325u64, |a, b| (a ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("{}.{}.{}.{}", 23 + (h % 180), (h >> 8) % 256, (h >> 16) % 256, 1 + (h >> 24) % 254)
}

fn request(rng: &mut Rng, ts_ms: i64, plant: Option<&str>) -> Req {
    let client_n = rng.skewed(2000);
    let client = if client_n % 20 == 7 {
        format!("2001:db8:{:x}::{:x}", client_n / 256, client_n % 256 + 1)
    } else {
        format!("10.{}.{}.{}", 1 + client_n / 4096, (client_n / 64) % 64, 2 + client_n % 250)
    };
    let user = if rng.below(3) == 0 { None } else { Some(USERS[(client_n % USERS.len() as u64) as usize]) };
    let roll = rng.below(100);
    let method = match roll {
        0..=79 => "GET",
        80..=87 => "CONNECT",
        88..=95 => "POST",
        96..=97 => "HEAD",
        _ => "PUT",
    };
    let mut host = host_for(rng);
    let mut server_ip = server_ip_for(&host);
    let mut path = format!("/{}/{}", WORDS[rng.below(WORDS.len() as u64) as usize], WORDS[rng.below(WORDS.len() as u64) as usize]);
    if rng.below(3) == 0 {
        path.push_str(&format!("/{}.{}", rng.below(100_000), ["html", "js", "png", "json", "css"][rng.below(5) as usize]));
    }
    let query = (rng.below(4) == 0).then(|| format!("id={}&q={}", rng.below(1_000_000), WORDS[rng.below(WORDS.len() as u64) as usize]));
    if let Some(p) = plant {
        if p.parse::<std::net::IpAddr>().is_ok() {
            server_ip = p.to_string();
        } else if let Some(rest) = p.strip_prefix("http://").or_else(|| p.strip_prefix("https://")) {
            let (h, pth) = rest.split_once('/').unwrap_or((rest, ""));
            host = h.to_string();
            path = format!("/{pth}");
        } else {
            host = p.to_string();
        }
    }
    let (status, action) = match rng.below(1000) {
        0..=799 => (200, "TCP_MISS"),
        800..=879 => (304, "TCP_REFRESH_UNMODIFIED"),
        880..=919 => (302, "TCP_MISS"),
        920..=959 => (404, "TCP_MISS"),
        960..=979 => (403, "TCP_DENIED"),
        980..=994 => (503, "TCP_MISS"),
        _ => (0, "TCP_MISS_ABORTED"),
    };
    let (scheme, port) = if method == "CONNECT" || rng.below(2) == 0 { ("https", 443) } else { ("http", 80) };
    Req {
        ts_ms,
        elapsed: (rng.skewed(5000) + 1) as u32,
        client,
        user,
        method,
        host,
        server_ip,
        port,
        scheme,
        path,
        query,
        status,
        action,
        bytes: if status == 304 { 0 } else { 200 + rng.skewed(2_000_000) },
        req_bytes: 200 + rng.below(2000),
        mime: MIME[rng.below(MIME.len() as u64) as usize],
        agent: AGENTS[rng.skewed(AGENTS.len() as u64) as usize],
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn civil(ts_s: i64) -> (i64, u32, u32, i64) {
    let (y, m, d) = sweep_formats::time::civil_from_days(ts_s.div_euclid(86_400));
    (y, m, d, ts_s.rem_euclid(86_400))
}

fn write_line(out: &mut dyn Write, f: GenFormat, r: &Req) -> io::Result<()> {
    let user = r.user.unwrap_or("-");
    let url = if r.method == "CONNECT" {
        format!("{}:{}", r.host, r.port)
    } else {
        match &r.query {
            Some(q) => format!("{}://{}{}?{}", r.scheme, r.host, r.path, q),
            None => format!("{}://{}{}", r.scheme, r.host, r.path),
        }
    };
    let (y, m, d, sod) = civil(r.ts_ms.div_euclid(1000));
    let clf_time = format!("{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000", MONTHS[m as usize - 1], sod / 3600, sod % 3600 / 60, sod % 60);
    match f {
        GenFormat::Squid => writeln!(
            out,
            "{}.{:03} {:>6} {} {}/{:03} {} {} {} {} HIER_DIRECT/{} {}",
            r.ts_ms.div_euclid(1000),
            r.ts_ms.rem_euclid(1000),
            r.elapsed,
            r.client,
            r.action,
            r.status,
            r.bytes,
            r.method,
            url,
            user,
            r.server_ip,
            if r.method == "CONNECT" { "-" } else { r.mime }
        ),
        GenFormat::Combined => {
            let target = match &r.query {
                Some(q) => format!("{}?{}", r.path, q),
                None => r.path.clone(),
            };
            let bytes = if r.bytes == 0 { "-".to_string() } else { r.bytes.to_string() };
            writeln!(
                out,
                "{} - {user} [{clf_time}] \"{} {target} HTTP/1.1\" {} {bytes} \"-\" \"{}\"",
                r.client, r.method, r.status, r.agent
            )
        }
        GenFormat::SquidCombined => writeln!(
            out,
            "{} - {user} [{clf_time}] \"{} {url} HTTP/1.1\" {} {} \"-\" \"{}\" {}:HIER_DIRECT",
            r.client, r.method, r.status, r.bytes, r.agent, r.action
        ),
        GenFormat::Elff => {
            let (scheme, path, query) = if r.method == "CONNECT" {
                ("tcp", "/".to_string(), "-".to_string())
            } else {
                (r.scheme, r.path.clone(), r.query.as_ref().map_or("-".to_string(), |q| format!("?{q}")))
            };
            writeln!(
                out,
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {} {} {user} - - {} \"Technology/Internet\" - {} {} {} {} {scheme} {} {} {path} {query} - \"{}\" 192.0.2.10 {} {} -",
                sod / 3600,
                sod % 3600 / 60,
                sod % 60,
                r.elapsed,
                r.client,
                if r.action == "TCP_DENIED" { "DENIED" } else { "OBSERVED" },
                r.status,
                r.action,
                r.method,
                r.mime,
                r.host,
                r.port,
                r.agent,
                r.bytes,
                r.req_bytes
            )
        }
    }
}

const ELFF_HEADER: &str = "#Software: SGOS 6.7.5.3\n#Version: 1.0\n#Date: 2026-01-01 00:00:00\n#Fields: date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id\n";

/// Writes `spec.lines` lines of traffic (header lines of ELFF count toward the total).
pub fn write_traffic(spec: &TrafficSpec, out: &mut dyn Write) -> io::Result<GenStats> {
    let mut rng = Rng::new(spec.seed);
    let mut stats = GenStats::default();
    if spec.format == GenFormat::Elff && spec.lines >= 4 {
        out.write_all(ELFF_HEADER.as_bytes())?;
        stats.header_lines = 4;
        stats.lines = 4;
    }
    let step_ms = (1000.0 / spec.requests_per_second.max(0.001)).max(0.0);
    let mut t = spec.start_epoch_s as f64 * 1000.0;
    let mut line = Vec::with_capacity(512);
    while stats.lines < spec.lines {
        t += step_ms * (0.5 + rng.below(1000) as f64 / 1000.0);
        let plant = if !spec.plant.is_empty() && spec.plant_every > 0 && rng.below(spec.plant_every) == 0 {
            stats.planted += 1;
            Some(spec.plant[rng.below(spec.plant.len() as u64) as usize].as_str())
        } else {
            None
        };
        let r = request(&mut rng, t as i64, plant);
        line.clear();
        write_line(&mut line, spec.format, &r)?;
        if rng.chance(spec.malformed_per_million) {
            stats.malformed += 1;
            match rng.below(3) {
                // A write cut short: the line stops mid-way.
                0 => line.truncate(line.len() / 3),
                // A timestamp mangled by a broken shipper.
                1 => line.splice(0..4, b"XXXX".iter().copied()).for_each(drop),
                // Binary junk.
                _ => {
                    line.clear();
                    line.extend_from_slice(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
                }
            }
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
        } else {
            stats.data_lines += 1;
        }
        out.write_all(&line)?;
        stats.lines += 1;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_line_parses_or_is_a_planned_malformation() {
        for format in [GenFormat::Squid, GenFormat::Combined, GenFormat::SquidCombined, GenFormat::Elff] {
            let spec = TrafficSpec { format, lines: 5000, malformed_per_million: 2000, ..TrafficSpec::default() };
            let mut buf = Vec::new();
            let stats = write_traffic(&spec, &mut buf).unwrap();
            let fmt = sweep_formats::FormatSpec::from_name(format.format_name()).unwrap();
            let out = sweep_formats::parse_all(&fmt, &buf, "gen").unwrap();
            assert_eq!(out.counts.lines, 5000, "{format:?}");
            assert_eq!(out.counts.skipped, stats.header_lines, "{format:?}");
            assert_eq!(out.counts.events + out.counts.rejects, stats.data_lines + stats.malformed, "{format:?}");
            // Every well-formed line parses; a malformed one may still parse if truncation
            // happened to leave a valid prefix, so rejects are at most the malformed lines.
            assert!(out.counts.rejects <= stats.malformed, "{format:?}: {:?}", out.rejects.column(2));
            assert!(out.counts.rejects > 0, "{format:?}: no malformed line was rejected");
        }
    }

    #[test]
    fn deterministic() {
        let spec = TrafficSpec { lines: 100, ..TrafficSpec::default() };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_traffic(&spec, &mut a).unwrap();
        write_traffic(&spec, &mut b).unwrap();
        assert_eq!(a, b);
    }
}
