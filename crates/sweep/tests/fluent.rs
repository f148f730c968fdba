//! The fluent API and the pipeline file describe the same thing, and both run.

use std::path::Path;

use sweep::{Etl, Files, Format, Parquet, Pipeline, Sweeper, WriteMode};

const SQUID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");

#[test]
fn fluent_pipeline_runs_and_round_trips_through_toml() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.txt");
    std::fs::write(&feed, "wikipedia.org\n").unwrap();
    let flow = Etl::embedded()
        .extract(Files::paths([SQUID]))
        .transform(Format::squid())
        .sql("SELECT * FROM events WHERE method = 'GET'")
        .analyse(Sweeper::feeds([feed.clone()]))
        .rejects_to(Parquet::table(dir.path().join("lake/rejects")))
        .hits_to(Parquet::table(dir.path().join("lake/hits")))
        .load(Parquet::table(dir.path().join("lake/events")))
        .mode(WriteMode::Overwrite);

    // The TOML form reads back as the same pipeline.
    let toml = flow.to_toml();
    let again = Pipeline::from_toml_str(&toml, "fluent", Path::new("/")).unwrap();
    assert_eq!(&again, flow.pipeline());
    assert!(toml.contains("kind = \"sweeper\""), "{toml}");

    let s = flow.run().unwrap();
    assert_eq!((s.input_lines, s.events, s.rejects, s.skipped), (94, 94, 0, 0));
    // wikipedia.org, en.wikipedia.org and meta.wikipedia.org: 22 requests in the log.
    assert_eq!(s.hits, 22);
    assert_eq!(s.tables["hits"].rows, 22);
    assert_eq!(s.intel.as_ref().unwrap().indicators, 1);
}

#[test]
fn fluent_errors_are_config_errors() {
    let err = Etl::embedded().extract(Files::paths([SQUID])).transform(Format::squid()).run().unwrap_err();
    assert!(err.to_string().contains("writes nothing"), "{err}");
    let err = Format::named("sqiud").unwrap_err();
    assert!(err.to_string().contains("did you mean"), "{err}");
    assert!(Format::custom("{nonsense}").is_err());
}

#[test]
fn content_stage_round_trips_and_runs() {
    use sweep::{Content, Jsonl};
    let dir = tempfile::tempdir().unwrap();
    let mut spec = Content::detectors();
    spec.protected.push("slashdot.org".into());
    spec.dga.threshold = 0.95;
    spec.missing_fqdn.allow = vec!["66.35.250.0/24".into()];
    let flow = Etl::embedded()
        .extract(Files::paths([SQUID]))
        .transform(Format::squid())
        .analyse(spec.clone())
        .lake(dir.path().join("lake"))
        .findings_to(Jsonl::table(dir.path().join("findings")));
    let toml = flow.to_toml();
    assert!(toml.contains("kind = \"content\"") && toml.contains("threshold = 0.95") && toml.contains("slashdot.org"), "{toml}");
    assert!(!toml.contains("generic_labels"), "defaults are left out: {toml}");
    let again = Pipeline::from_toml_str(&toml, "fluent", Path::new("/")).unwrap();
    assert_eq!(&again, flow.pipeline());
    assert_eq!(again.analyse, vec![sweep::AnalyseStage::Content(spec)]);

    let s = flow.run().unwrap();
    assert_eq!(s.input_lines, s.events + s.rejects + s.skipped);
    assert_eq!(s.tables["findings"].rows, s.findings);
    assert_eq!(s.tables["findings"].path, dir.path().join("findings"));
    assert_eq!(s.findings_by_kind.values().sum::<u64>(), s.findings);
}
