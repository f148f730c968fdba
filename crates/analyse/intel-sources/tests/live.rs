//! The refresh thread: a changed source becomes a new version with the indicators it adds,
//! beside the one in use; an unchanged source makes none.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sweep_intel::feeds::FeedSpec;
use sweep_intel_sources::{IntelSources, LiveIntel, load_version};
use sweep_model::SweeperSpec;

fn wait_update(live: &LiveIntel, timeout: Duration) -> Option<sweep_intel_sources::IntelUpdate> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(u) = live.try_next() {
            return Some(u);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_changed_file_becomes_a_new_version_with_what_it_adds() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("bad.txt");
    std::fs::write(&feed, "one-sweep-test.com\n").unwrap();
    let spec = SweeperSpec {
        intel: vec![FeedSpec { refresh: Some(sweep_calendar::Span::seconds(1)), ..FeedSpec::new(&feed) }],
        ..SweeperSpec::from_paths::<std::path::PathBuf>([])
    };
    let mut sources = IntelSources::open_for_stream(&spec, &dir.path().join("cache")).unwrap();
    sources.pull(false).unwrap();
    let first = Arc::new(sources.build().unwrap().0);
    let store = sources.store().clone();
    let live = LiveIntel::start(sources, first.clone(), first.clone(), Box::new(|_| {}));
    assert!(wait_update(&live, Duration::from_millis(2500)).is_none(), "nothing changed");
    std::fs::write(&feed, "one-sweep-test.com\ntwo-sweep-test.com\n").unwrap();
    let update = wait_update(&live, Duration::from_secs(5)).expect("a new version within the refresh interval");
    assert_eq!(update.previous_version, first.index.version());
    assert_eq!(update.intel.index.len(), 2);
    assert_eq!(update.added.len(), 1);
    assert_eq!(update.added.iter().next().unwrap().value.into_owned(), "two-sweep-test.com");
    // Both versions can be built again from the cache (a batch re-run after a crash).
    assert_eq!(load_version(&store, first.index.version()).unwrap().index.len(), 1);
    assert_eq!(load_version(&store, update.intel.index.version()).unwrap().index.len(), 2);
    std::fs::write(&feed, "two-sweep-test.com\n").unwrap();
    let removal = wait_update(&live, Duration::from_secs(5)).expect("a version without the removed one");
    assert_eq!(removal.intel.index.len(), 1);
    assert_eq!(removal.added.len(), 0, "a removal adds nothing to retro-sweep");
}
