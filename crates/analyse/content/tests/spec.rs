//! The configuration: TOML as in a pipeline, defaults, refusals with a message, lists.

use sweep_content::spec::{DEFAULT_DGA_THRESHOLD, DEFAULT_GENERIC_LABELS};
use sweep_content::{ContentAnalyser, ContentError, ContentSpec};

fn parse(toml_text: &str) -> Result<ContentSpec, toml::de::Error> {
    toml::from_str(toml_text)
}

fn refused(spec: ContentSpec) -> String {
    match ContentAnalyser::new(spec) {
        Err(ContentError::Spec(msg)) => msg,
        other => panic!("accepted: {:?}", other.map(|_| ())),
    }
}

#[test]
fn empty_table_is_the_default() {
    let s = parse("").unwrap();
    assert_eq!(s, ContentSpec::default());
    assert!(s.missing_fqdn.enabled && s.typosquat.enabled && s.masquerade.enabled && s.dga.enabled);
    assert_eq!((s.typosquat.max_distance, s.typosquat.long_max_distance, s.typosquat.long_length, s.typosquat.min_length), (1, 2, 10, 5));
    assert!(s.typosquat.other_tld && !s.typosquat.country_tlds);
    assert_eq!((s.masquerade.max_length, s.masquerade.max_labels, s.masquerade.brand_min_length), (80, 6, 4));
    assert!(s.masquerade.combo_words.contains(&"login".to_string()));
    assert_eq!((s.popular.mode, s.typosquat.min_score, s.masquerade.min_score), (sweep_content::PopularMode::Suppress, 0.0, 0.0));
    assert_eq!((s.dga.threshold, s.dga.min_length, s.dga.platform_suffixes), (DEFAULT_DGA_THRESHOLD, 8, false));
    assert_eq!(s.generic_labels.len(), DEFAULT_GENERIC_LABELS.len());
    assert!(s.protected_file.is_none() && s.protected.is_empty() && s.allow_domains.is_empty());
    let a = ContentAnalyser::new(s).unwrap();
    assert!(a.protected_len() > 300, "{}", a.protected_len());
}

#[test]
fn nested_tables_as_in_a_pipeline() {
    // `[[analyse]] kind = "content"` with sub-tables; `kind` is the pipeline's tag, not ours.
    #[derive(serde::Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Stage {
        Content(ContentSpec),
    }
    #[derive(serde::Deserialize)]
    struct Pipeline {
        analyse: Vec<Stage>,
    }
    let p: Pipeline = toml::from_str(
        r#"
        [[analyse]]
        kind = "content"
        protected = ["examplecorp.com"]
        allow_domains = ["partner-cdn.net"]

        [analyse.missing_fqdn]
        allow = ["203.0.113.0/24"]

        [analyse.typosquat]
        max_distance = 2
        long_max_distance = 3
        country_tlds = true

        [analyse.masquerade]
        max_labels = 8

        [analyse.dga]
        threshold = 0.75
        "#,
    )
    .unwrap();
    let Stage::Content(s) = &p.analyse[0];
    assert_eq!(s.protected, vec!["examplecorp.com"]);
    assert_eq!(s.missing_fqdn.allow, vec!["203.0.113.0/24"]);
    assert_eq!((s.typosquat.max_distance, s.typosquat.long_max_distance, s.typosquat.country_tlds), (2, 3, true));
    assert_eq!((s.masquerade.max_labels, s.masquerade.max_length), (8, 80), "unset keys keep their defaults");
    assert_eq!(s.dga.threshold, 0.75);
    ContentAnalyser::new(s.clone()).unwrap();
    // Round trip through TOML.
    let back: ContentSpec = toml::from_str(&toml::to_string(s).unwrap()).unwrap();
    assert_eq!(&back, s);
}

#[test]
fn unknown_keys_are_errors() {
    for bad in ["thresold = 1", "[dga]\nthreshhold = 0.5", "[typosquat]\nmax_dist = 1", "[missing_fqdn]\nallowlist = []"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_values_are_refused_with_what_to_change() {
    let mut s = ContentSpec::default();
    s.dga.threshold = 0.0;
    assert!(refused(s).contains("dga.threshold is 0: use a number in (0, 1]"));
    let mut s = ContentSpec::default();
    s.dga.threshold = f64::NAN;
    assert!(refused(s).contains("dga.threshold"));
    let mut s = ContentSpec::default();
    s.typosquat.max_distance = 3;
    assert!(refused(s).contains("at most 2 and 3"));
    let mut s = ContentSpec::default();
    s.typosquat.max_distance = 2;
    s.typosquat.long_max_distance = 1;
    assert!(refused(s).contains("long_max_distance (1) is below max_distance (2)"));
    let mut s = ContentSpec::default();
    s.typosquat.min_length = 2;
    assert!(refused(s).contains("typosquat.min_length is 2"));
    let mut s = ContentSpec::default();
    s.masquerade.max_labels = 1;
    assert!(refused(s).contains("max_labels 1"));
    let mut s = ContentSpec::default();
    (s.missing_fqdn.enabled, s.typosquat.enabled, s.masquerade.enabled, s.dga.enabled) = (false, false, false, false);
    assert!(refused(s).contains("every detector is disabled"));
    let mut s = ContentSpec::default();
    s.missing_fqdn.allow = vec!["10.0.0.0/33".into()];
    assert!(refused(s).contains("missing_fqdn.allow[0]"));
    let s = ContentSpec { protected: vec!["co.uk".into()], ..ContentSpec::default() };
    assert!(refused(s).contains("protected[0]: \"co.uk\" is a public suffix"));
    let s = ContentSpec { allow_domains: vec!["not a domain".into()], ..ContentSpec::default() };
    assert!(refused(s).contains("allow_domains[0]"));
}

#[test]
fn protected_file_replaces_the_bundled_list() {
    let dir = std::env::temp_dir().join(format!("sweep-content-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("protected.txt");
    std::fs::write(&path, "# our brands\nexamplecorp.com\n\nwww.example-bank.co.uk  # a subdomain is cut to its registrable domain\n")
        .unwrap();
    let spec = ContentSpec { protected_file: Some(path.to_string_lossy().into()), ..ContentSpec::default() };
    let a = ContentAnalyser::new(spec).unwrap();
    assert_eq!(a.protected_len(), 2);
    assert!(!a.judge("examp1ecorp.com").is_empty());
    assert!(!a.judge("example-bamk.co.uk").is_empty());
    assert!(a.judge("paypa1.com").is_empty(), "the bundled list is not used");
    // Errors name the file and the line.
    std::fs::write(&path, "ok.com\ncom\n").unwrap();
    let msg = refused(ContentSpec { protected_file: Some(path.to_string_lossy().into()), ..ContentSpec::default() });
    assert!(msg.contains("line 2") && msg.contains("protected.txt"), "{msg}");
    let msg = refused(ContentSpec { protected_file: Some(dir.join("missing.txt").to_string_lossy().into()), ..ContentSpec::default() });
    assert!(msg.contains("cannot be read"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
}
