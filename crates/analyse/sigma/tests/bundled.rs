mod common;

use common::sigma_dir;
use sweep_sigma::{LoadOptions, RuleSet};

#[test]
fn print_report() {
    let (set, report) = RuleSet::load(&[sigma_dir()], &LoadOptions::default());
    for r in &report.refused {
        println!("REFUSED {} {:?}", r.origin, r.reason);
    }
    println!("loaded {} skipped {:?}", set.len(), report.skipped_by_logsource());
}
