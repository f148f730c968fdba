//! Time to load feeds and build the index, as `sweep intel stats` and `sweep scan --intel` do.
//!
//!     cargo run --release -p sweep-intel --example load_bench -- FEED [FEED...]
//!
//! Reads the feeds with `feeds::load_all`, builds the index from what they gave, and prints
//! the wall and CPU time of each step (CPU time of the whole process, every thread).

use std::time::Instant;

use sweep_intel::feeds::{FeedSpec, load_all};
use sweep_intel::index::{AllowList, IntelIndex};

/// CPU time of the whole process (user + system, every thread) in seconds.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let specs: Vec<FeedSpec> = std::env::args().skip(1).map(FeedSpec::new).collect();
    if specs.is_empty() {
        eprintln!("usage: load_bench FEED [FEED...]");
        std::process::exit(2);
    }
    let (t0, c0) = (Instant::now(), cpu_s());
    let loads = load_all(&specs).unwrap_or_else(|e| panic!("{e}"));
    let (t1, c1) = (Instant::now(), cpu_s());
    let read: usize = loads.iter().map(|l| l.indicators.len()).sum();
    let index = IntelIndex::from_loads(loads, AllowList::new());
    let (t2, c2) = (Instant::now(), cpu_s());
    println!("read:  {:.3} s wall, {:.2} s CPU ({read} indicators)", (t1 - t0).as_secs_f64(), c1 - c0);
    println!("build: {:.3} s wall, {:.2} s CPU ({} indexed, version {})", (t2 - t1).as_secs_f64(), c2 - c1, index.len(), index.version());
    println!("total: {:.3} s wall, {:.2} s CPU", (t2 - t0).as_secs_f64(), c2 - c0);
    let (t3, c3) = (Instant::now(), cpu_s());
    drop(index);
    println!("drop:  {:.3} s wall, {:.2} s CPU", t3.elapsed().as_secs_f64(), cpu_s() - c3);
}
