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
