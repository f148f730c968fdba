//! Logs read from object storage, against a real S3-compatible server (scripts/s3: SeaweedFS
//! on loopback): the same tables as a local run, incremental pickup, and clear errors.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::s3::{Bucket, endpoint};
use support::{ok, query, query_one, summary};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, bytes).unwrap();
    gz.finish().unwrap()
}

fn sweep_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the sweep binary runs")
}

fn text(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The Squid log of ../shared/data cut in three: two parts gzip'd, one plain.
fn squid_parts() -> Vec<(&'static str, Vec<u8>)> {
    let log = std::fs::read_to_string(format!("{SHARED}/logs/squid-native-squidview.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let third = lines.len() / 3;
    let part = |a: usize, b: usize| format!("{}\n", lines[a..b].join("\n")).into_bytes();
    vec![
        ("day=1/access.log.gz", gzip(&part(0, third))),
        ("day=2/access.log.gz", gzip(&part(third, 2 * third))),
        ("day=3/access.log", part(2 * third, lines.len())),
    ]
}

/// `sweep scan URL --mode append` into `lake`, its summary to `summary_path`.
fn append_scan(url: &str, lake: &Path, summary_path: &Path) -> String {
    ok(support::sweep(&["scan", url, "-f", "squid", "-q", "-o", s(lake), "--mode", "append", "--summary", s(summary_path)]))
}

/// Every row of `table` without its `source` (a URL on one side, a path on the other) and
/// the rejects' `ingest_ts`, sorted.
fn rows(lake: &Path, table: &str) -> Vec<String> {
    let except = if table == "rejects" { "source, ingest_ts" } else { "source" };
    let mut rows = query(lake, &format!("SELECT * EXCLUDE ({except}) FROM {table}"));
    rows.sort();
    rows
}

#[test]
fn a_bucket_prefix_gives_the_tables_of_the_same_files_on_disk() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "prefix");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("logs");
    for (key, bytes) in squid_parts() {
        bucket.put(&format!("proxy/{key}"), bytes.clone());
        let path = local.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    // Neither a hidden object nor a lake below the prefix is read as logs.
    bucket.put("proxy/.partial", b"not a log line\n".to_vec());
    bucket.put("proxy/lake/_sweep/runs/1.json", b"{}".to_vec());
    bucket.put("proxy/lake/events/part-0.log", b"not a log line\n".to_vec());

    let (from_bucket, from_disk) = (dir.path().join("bucket-lake"), dir.path().join("disk-lake"));
    let summary_path = dir.path().join("s.json");
    ok(support::sweep(&["scan", &bucket.url("proxy/"), "-f", "squid", "-q", "-o", s(&from_bucket), "--summary", s(&summary_path)]));
    ok(support::sweep(&["scan", s(&local), "-f", "squid", "-q", "-o", s(&from_disk)]));

    let lines = std::fs::read_to_string(format!("{SHARED}/logs/squid-native-squidview.log")).unwrap().lines().count() as i64;
    assert_eq!(query_one(&from_bucket, "SELECT count(*) FROM events") + query_one(&from_bucket, "SELECT count(*) FROM rejects"), lines);
    assert!(!rows(&from_bucket, "events").is_empty());
    assert_eq!(rows(&from_bucket, "events"), rows(&from_disk, "events"));
    assert_eq!(rows(&from_bucket, "rejects"), rows(&from_disk, "rejects"));
    let sources = query(&from_bucket, "SELECT DISTINCT source FROM events ORDER BY source");
    let expected: Vec<String> = squid_parts().iter().map(|(k, _)| bucket.url(&format!("proxy/{k}"))).collect();
    assert_eq!(sources, expected);
    assert_eq!(summary(&summary_path)["input_lines"].as_i64(), Some(lines), "{}", summary(&summary_path));

    // A glob over keys reads only what it matches; a single object reads as a file does.
    let glob = dir.path().join("glob-lake");
    ok(support::sweep(&["scan", &bucket.url("proxy/day=*/*.gz"), "-f", "squid", "-q", "-o", s(&glob)]));
    assert_eq!(query(&glob, "SELECT DISTINCT source FROM events ORDER BY source"), expected[..2]);
    let one = dir.path().join("one-lake");
    ok(support::sweep(&["scan", &bucket.url("proxy/day=3/access.log"), "-f", "squid", "-q", "-o", s(&one)]));
    assert_eq!(query(&one, "SELECT DISTINCT source FROM events"), expected[2..]);
}

#[test]
fn a_large_gzip_object_streams_in_whole() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "large");
    let apache = std::fs::read(format!("{SHARED}/logs/apache-combined-semicomplete.log")).unwrap();
    // Several copies in one multi-member gzip object, as logrotate and shippers append.
    let mut object = Vec::new();
    for _ in 0..4 {
        object.extend(gzip(&apache));
    }
    bucket.put("web/access.log.gz", object);
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ok(support::sweep(&["scan", &bucket.url("web/access.log.gz"), "-f", "combined", "-q", "-o", s(&lake)]));
    let lines = apache.iter().filter(|&&b| b == b'\n').count() as i64 * 4;
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects"), lines);
    assert_eq!(query_one(&lake, "SELECT max(offset) FROM events"), lines);
}

#[test]
fn an_hourly_append_loads_only_objects_it_has_not_loaded() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "pickup");
    let parts = squid_parts();
    bucket.put(&format!("proxy/{}", parts[0].0), parts[0].1.clone());
    bucket.put(&format!("proxy/{}", parts[1].0), parts[1].1.clone());
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let summary_path = dir.path().join("s.json");
    let run = || append_scan(&bucket.url("proxy/"), &lake, &summary_path);
    run();
    let first = query_one(&lake, "SELECT count(*) FROM events");

    bucket.put(&format!("proxy/{}", parts[2].0), parts[2].1.clone());
    run();
    let second = summary(&summary_path);
    assert_eq!(second["inputs_skipped"].as_array().map(Vec::len), Some(2), "{second}");
    let third_part =
        query_one(&lake, &format!("SELECT count(*) FROM events WHERE source = '{}'", bucket.url(&format!("proxy/{}", parts[2].0))));
    assert!(third_part > 0);
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events"), first + third_part, "only the new object was added");

    // Nothing new: nothing is read, nothing is added.
    run();
    assert_eq!(summary(&summary_path)["inputs_skipped"].as_array().map(Vec::len), Some(3));
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events"), first + third_part);

    // An object replaced under the same key is loaded again, and said so.
    bucket.put(&format!("proxy/{}", parts[0].0), parts[2].1.clone());
    let out = support::sweep(&["scan", &bucket.url("proxy/"), "-f", "squid", "-o", s(&lake), "--mode", "append"]);
    assert!(text(&out).contains("changed since an earlier run loaded it"), "{}", text(&out));
}

#[test]
fn wrong_credentials_and_missing_places_get_one_clear_message() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "errors");
    bucket.put("proxy/a.log", b"x\n".to_vec());
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let secret = "not-the-secret-0123456789";
    let log = format!("{SHARED}/logs/squid-native-squidview.log");
    let (prefix, object) = (bucket.url("proxy/"), bucket.url("proxy/a.log"));
    let runs: [(Vec<&str>, (&str, &str)); 4] = [
        (vec!["scan", &prefix, "-f", "squid", "-q", "-o", s(&lake)], ("AWS_SECRET_ACCESS_KEY", secret)),
        // A single object is looked up with HEAD, whose 403 has no body to tell why.
        (vec!["scan", &object, "-f", "squid", "-q", "-o", s(&lake)], ("AWS_SECRET_ACCESS_KEY", secret)),
        (vec!["scan", &object, "-f", "squid", "-q", "-o", s(&lake)], ("AWS_ACCESS_KEY_ID", "nobody-we-know")),
        (vec!["scan", &log, "-f", "squid", "-q", "-o", s(&lake), "--intel", &object], ("AWS_SECRET_ACCESS_KEY", secret)),
    ];
    for (args, wrong) in runs {
        let out = sweep_env(&args, &[wrong]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("did not accept the credentials"), "{args:?}: {err}");
        assert_eq!(err.matches("did not accept").count(), 1, "said more than once: {err}");
        assert!(!err.contains(secret), "the secret was printed: {err}");
        assert!(!lake.exists(), "a refused read made a lake");
    }

    let out = support::sweep(&["scan", &format!("s3://no-such-bucket-{}/proxy/", std::process::id()), "-f", "squid", "-q", "-o", s(&lake)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"), "{}", text(&out));

    let out = support::sweep(&["scan", &bucket.url("nothing-here/"), "-f", "squid", "-q", "-o", s(&lake)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no object has this key or prefix"), "{}", text(&out));
}

#[test]
fn a_feed_on_object_storage_is_read_like_one_on_a_web_server() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "feeds");
    bucket.put("intel/bad-hosts.txt", b"# hosts we do not trust\nwww.slashdot.org\n".to_vec());
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let log = format!("{SHARED}/logs/squid-native-squidview.log");
    ok(support::sweep(&["scan", &log, "-f", "squid", "-q", "-o", s(&lake), "--intel", &bucket.url("intel/bad-hosts.txt")]));
    let hits = query_one(&lake, "SELECT count(*) FROM hits WHERE indicator = 'www.slashdot.org'");
    let expected = query_one(&lake, "SELECT count(*) FROM events WHERE host = 'www.slashdot.org'");
    assert!(expected > 0);
    assert_eq!(hits, expected);
    assert_eq!(query(&lake, "SELECT DISTINCT feed FROM hits"), ["bad-hosts.txt"]);

    let out =
        support::sweep(&["scan", &log, "-f", "squid", "-q", "-o", s(&dir.path().join("l2")), "--intel", &bucket.url("intel/missing.txt")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"), "{}", text(&out));
}

/// A bucket (or container) on one of the emulators scripts/test starts, and how to put an
/// object in it.
struct Emulated {
    scheme: &'static str,
    bucket: String,
    put: Box<dyn Fn(&str, Vec<u8>)>,
}

impl Emulated {
    fn url(&self, key: &str) -> String {
        format!("{}://{}/{key}", self.scheme, self.bucket)
    }
}

fn script(name: &str, args: &[&str]) {
    let status = Command::new(format!("{}/../../scripts/{name}", env!("CARGO_MANIFEST_DIR"))).args(args).status().unwrap();
    assert!(status.success(), "scripts/{name} {args:?} failed");
}

/// Whether the emulator whose endpoint `variable` names runs (scripts/test starts each).
fn emulator(variable: &str, script_name: &str) -> Option<()> {
    support::service(variable, "SWEEP_REQUIRE_S3", &format!("scripts/{script_name} start; export $(scripts/{script_name} env)")).map(|_| ())
}

fn azurite(prefix: &str) -> Option<Emulated> {
    emulator("SWEEP_AZURITE_ENDPOINT", "azurite")?;
    let bucket = format!("{prefix}-{}", std::process::id());
    script("azurite", &["container", &bucket]);
    let store = object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(&bucket).build().unwrap();
    let put = move |key: &str, bytes: Vec<u8>| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let key = object_store::path::Path::from(key);
        runtime.block_on(object_store::ObjectStoreExt::put(&store, &key, bytes.into())).unwrap();
    };
    Some(Emulated { scheme: "az", bucket, put: Box::new(put) })
}

fn fake_gcs(prefix: &str) -> Option<Emulated> {
    emulator("SWEEP_GCS_ENDPOINT", "gcs")?;
    let bucket = format!("{prefix}-{}", std::process::id());
    script("gcs", &["bucket", &bucket]);
    let endpoint = std::env::var("SWEEP_GCS_ENDPOINT").unwrap();
    let target = bucket.clone();
    // fake-gcs-server takes uploads on the JSON API only (object_store writes through the XML
    // API, which it does not accept); sweep only reads, so the test puts with curl.
    let put = move |key: &str, bytes: Vec<u8>| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let url =
            format!("{endpoint}/upload/storage/v1/b/{target}/o?uploadType=media&name={}", key.replace('/', "%2F").replace('=', "%3D"));
        let out = Command::new("curl")
            .args(["-sSf", "-X", "POST", "--data-binary"])
            .arg(format!("@{}", file.path().display()))
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "upload {key}: {}", text(&out));
    };
    Some(Emulated { scheme: "gs", bucket, put: Box::new(put) })
}

/// A prefix of the store scans to the tables of the same files on disk, and an append run
/// later loads only the object added since.
fn prefix_scans_like_disk_and_picks_up_new_objects(store: Emulated) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("logs");
    let parts = squid_parts();
    for (key, bytes) in &parts {
        let path = local.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    for (key, bytes) in &parts[..2] {
        (store.put)(&format!("proxy/{key}"), bytes.clone());
    }
    (store.put)("proxy/.partial", b"not a log line\n".to_vec());
    let (lake, summary_path) = (dir.path().join("lake"), dir.path().join("s.json"));
    let run = || append_scan(&store.url("proxy/"), &lake, &summary_path);
    run();
    (store.put)(&format!("proxy/{}", parts[2].0), parts[2].1.clone());
    run();
    assert_eq!(summary(&summary_path)["inputs_skipped"].as_array().map(Vec::len), Some(2), "{}", summary(&summary_path));

    let disk = dir.path().join("disk-lake");
    ok(support::sweep(&["scan", s(&local), "-f", "squid", "-q", "-o", s(&disk)]));
    assert!(!rows(&lake, "events").is_empty());
    assert_eq!(rows(&lake, "events"), rows(&disk, "events"), "{}", store.scheme);
    let sources = query(&lake, "SELECT DISTINCT source FROM events ORDER BY source");
    let expected: Vec<String> = parts.iter().map(|(k, _)| store.url(&format!("proxy/{k}"))).collect();
    assert_eq!(sources, expected);
}

#[test]
fn azure_blob_storage_on_azurite() {
    let Some(store) = azurite("sweep-scan") else { return };
    prefix_scans_like_disk_and_picks_up_new_objects(store);

    let Some(store) = azurite("sweep-creds") else { return };
    (store.put)("proxy/a.log", b"x\n".to_vec());
    let dir = tempfile::tempdir().unwrap();
    // A well-formed key that is not the account's.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    for url in [store.url("proxy/"), store.url("proxy/a.log")] {
        let out =
            sweep_env(&["scan", &url, "-f", "squid", "-q", "-o", s(&dir.path().join("lake"))], &[("AZURE_STORAGE_ACCOUNT_KEY", wrong)]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("did not accept the credentials"), "{url}: {err}");
        assert!(!err.contains(wrong), "the key was printed: {err}");
    }
}

#[test]
fn google_cloud_storage_on_fake_gcs_server() {
    let Some(store) = fake_gcs("sweep-scan") else { return };
    prefix_scans_like_disk_and_picks_up_new_objects(store);
}

#[test]
fn keys_come_from_an_aws_profile_when_the_environment_has_none() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "profile");
    bucket.put("proxy/a.log", std::fs::read(format!("{SHARED}/logs/squid-native-squidview.log")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (credentials, config) = (dir.path().join("credentials"), dir.path().join("config"));
    let (id, secret) = (std::env::var("AWS_ACCESS_KEY_ID").unwrap(), std::env::var("AWS_SECRET_ACCESS_KEY").unwrap());
    std::fs::write(&credentials, format!("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[lab]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n")).unwrap();
    std::fs::write(&config, format!("[profile lab]\nregion = us-east-1\nendpoint_url = {endpoint}\n")).unwrap();
    let scan = |profile: &str, lake: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
        cmd.args(["scan", &bucket.url("proxy/"), "-f", "squid", "-q", "-o", s(&dir.path().join(lake))]);
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "AWS_REGION", "AWS_ALLOW_HTTP"] {
            cmd.env_remove(name);
        }
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", &credentials).env("AWS_CONFIG_FILE", &config).env("AWS_PROFILE", profile);
        cmd.output().unwrap()
    };
    ok(scan("lab", "lake"));
    assert!(query_one(&dir.path().join("lake"), "SELECT count(*) FROM events") > 0);
    let out = scan("nobody", "lake2");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the AWS profile \"nobody\" (AWS_PROFILE) is in neither AWS file"),
        "{}",
        text(&out)
    );
}

/// Every file below `dir`, as (path relative to `dir`, bytes).
fn files_below(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            out.extend(files_below(&path).into_iter().map(|(k, b)| (format!("{name}/{k}"), b)));
        } else {
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn a_lake_copied_to_a_bucket_is_queried_there() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "query");
    let dir = tempfile::tempdir().unwrap();
    let (lake, delta) = (dir.path().join("lake"), dir.path().join("delta"));
    let log = format!("{SHARED}/logs/squid-native-squidview.log");
    ok(support::sweep(&["scan", &log, "-f", "squid", "-q", "-o", s(&lake), "--intel", &format!("{SHARED}/intel/ipsum.txt")]));
    ok(support::sweep(&["scan", &log, "-f", "squid", "-q", "-o", s(&delta), "--table-format", "delta"]));
    // As `aws s3 sync lake/ s3://bucket/lake/` would copy it.
    for (key, bytes) in files_below(&lake) {
        bucket.put(&format!("lake/{key}"), bytes);
    }
    for (key, bytes) in files_below(&delta) {
        bucket.put(&format!("delta/{key}"), bytes);
    }
    let sql = "SELECT host, count(*) AS n FROM events GROUP BY host ORDER BY n DESC, host LIMIT 20";
    let remote = query(Path::new(&bucket.url("lake")), sql);
    assert!(!remote.is_empty());
    assert_eq!(remote, query(&lake, sql));
    let tables = |l: &str| {
        let mut lines: Vec<String> = ok(support::sweep(&["query", l, "SHOW TABLES"])).lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(tables(&bucket.url("lake/")), tables(s(&lake)));

    // A Delta lake copied there is read through its log, as on disk.
    let delta_sql = "SELECT source, \"offset\", host FROM events ORDER BY source, \"offset\"";
    let remote = query(Path::new(&bucket.url("delta")), delta_sql);
    assert!(!remote.is_empty());
    assert_eq!(remote, query(&delta, delta_sql));
}

/// Python's own file server on a free loopback port, serving `dir`; killed when dropped.
struct FileServer(std::process::Child, u16);

impl FileServer {
    fn start(dir: &Path) -> FileServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory", s(dir)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs (the machine's, for its http.server)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return FileServer(child, port);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("python3 -m http.server did not answer on port {port}");
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_log_on_a_web_server_is_read_as_the_same_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let parts = squid_parts();
    std::fs::write(served.join("access.log.gz"), &parts[0].1).unwrap();
    let server = FileServer::start(&served);
    let url = format!("http://127.0.0.1:{}/access.log.gz", server.1);
    let (web, disk) = (dir.path().join("web-lake"), dir.path().join("disk-lake"));
    ok(support::sweep(&["scan", &url, "-f", "squid", "-q", "-o", s(&web)]));
    ok(support::sweep(&["scan", s(&served.join("access.log.gz")), "-f", "squid", "-q", "-o", s(&disk)]));
    assert!(!rows(&web, "events").is_empty());
    assert_eq!(rows(&web, "events"), rows(&disk, "events"));
    assert_eq!(query(&web, "SELECT DISTINCT source FROM events"), [url.clone()]);

    let missing = format!("http://127.0.0.1:{}/nothing.log", server.1);
    let out = support::sweep(&["scan", &missing, "-f", "squid", "-q", "-o", s(&dir.path().join("l"))]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"), "{}", text(&out));
}

#[test]
fn a_pipeline_file_names_a_bucket_as_it_names_a_folder() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "pipeline");
    for (key, bytes) in squid_parts() {
        bucket.put(&format!("proxy/{key}"), bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("jobs");
    std::fs::create_dir_all(&folder).unwrap();
    // Relative paths of a pipeline file are found from its folder; a URL is left as it is.
    let pipeline = folder.join("hourly.toml");
    std::fs::write(
        &pipeline,
        format!("[[extract]]\nfiles = [\"{}\"]\nformat = \"squid\"\n\n[load]\ndir = \"lake\"\nmode = \"append\"\n", bucket.url("proxy/")),
    )
    .unwrap();
    ok(support::sweep(&["run", s(&pipeline), "--quiet"]));
    let lines = std::fs::read_to_string(format!("{SHARED}/logs/squid-native-squidview.log")).unwrap().lines().count() as i64;
    let lake = folder.join("lake");
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects"), lines);
}

#[test]
fn a_feed_folder_on_object_storage_is_read_as_a_local_one() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "feedfolder");
    bucket.put("intel/hosts.txt", b"www.slashdot.org\n".to_vec());
    bucket.put("intel/ips.txt", b"66.35.250.151\n".to_vec());
    bucket.put("intel/.draft.txt", b"www.example.com\n".to_vec());
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("hosts.txt"), "www.slashdot.org\n").unwrap();
    std::fs::write(local.path().join("ips.txt"), "66.35.250.151\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = format!("{SHARED}/logs/squid-native-squidview.log");
    let hits = |intel: &str, lake: &str| {
        let lake = dir.path().join(lake);
        ok(support::sweep(&["scan", &log, "-f", "squid", "-q", "-o", s(&lake), "--intel", intel]));
        query(&lake, "SELECT indicator, indicator_type, source, \"offset\" FROM hits ORDER BY \"offset\", indicator")
    };
    let remote = hits(&bucket.url("intel/"), "remote");
    assert!(remote.iter().any(|r| r.starts_with("www.slashdot.org,")), "{remote:?}");
    assert!(remote.iter().any(|r| r.starts_with("66.35.250.151,")), "{remote:?}");
    assert_eq!(remote, hits(s(local.path()), "local"));
}

#[test]
fn a_store_that_keeps_failing_is_retried_with_back_off_then_reported() {
    let server = support::feed_server::FeedServer::start("x\n", false);
    server.set(support::feed_server::Serve::Fail);
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = support::sweep(&["scan", &server.url, "-f", "squid", "-q", "-o", s(&dir.path().join("lake"))]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kept failing"), "{err}");
    assert!(server.requests() >= 4, "{} requests: not retried", server.requests());
    assert!(took < std::time::Duration::from_secs(70), "gave up after {took:?}");
}

#[test]
fn a_bucket_scan_killed_mid_run_and_run_again_loads_every_line_once() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "kill");
    let apache = std::fs::read(format!("{SHARED}/logs/apache-combined-semicomplete.log")).unwrap();
    for day in 1..=3 {
        let mut object = Vec::new();
        for _ in 0..3 {
            object.extend(gzip(&apache));
        }
        bucket.put(&format!("web/day={day}/access.log.gz"), object);
    }
    let lines = apache.iter().filter(|&&b| b == b'\n').count() as i64 * 9;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let args = ["scan", &bucket.url("web/"), "-f", "combined", "-q", "-o", s(&lake), "--mode", "append"];
    // SIGKILL at several points of a run (reading, parsing, committing), then run to the end.
    for delay_ms in [100, 300, 600] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    ok(support::sweep(&args));
    let count = |table: &str| query_one(&lake, &format!("SELECT count(*) FROM {table}"));
    assert_eq!(count("events") + count("rejects"), lines, "a line lost or loaded twice");
    let twice = "SELECT count(*) FROM (SELECT source, \"offset\" FROM events GROUP BY 1, 2 HAVING count(*) > 1)";
    assert_eq!(query_one(&lake, twice), 0);
}
