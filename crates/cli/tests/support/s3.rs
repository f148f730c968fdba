//! The S3-compatible server the object storage tests run against (scripts/s3: SeaweedFS on
//! loopback, started by scripts/test). Without SWEEP_S3_ENDPOINT those tests say so and
//! return, unless SWEEP_REQUIRE_S3=1 (set by scripts/test), where a missing server fails them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The server's endpoint, or `None` (the test is skipped) when none is running.
pub fn endpoint() -> Option<String> {
    super::service("SWEEP_S3_ENDPOINT", "SWEEP_REQUIRE_S3", "scripts/s3 start; export $(scripts/s3 env)")
}

/// A bucket on the test server (or a container on Azurite): created empty, with a name
/// unique to this test.
pub struct Bucket {
    pub name: String,
    /// `s3` or `az`: how URLs of it start.
    scheme: &'static str,
    store: Arc<dyn ObjectStore>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

impl Bucket {
    pub fn create(endpoint: &str, prefix: &str) -> Bucket {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let status = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/s3"))
            .args(["bucket", &name])
            .status()
            .expect("scripts/s3 runs");
        assert!(status.success(), "scripts/s3 bucket {name} failed");
        let store = AmazonS3Builder::from_env().with_endpoint(endpoint).with_allow_http(true).with_bucket_name(&name).build().unwrap();
        Bucket { name, scheme: "s3", store: Arc::new(store) }
    }

    /// A container on Azurite (scripts/azurite), or `None` (the test is skipped) when it is
    /// not running.
    pub fn azurite(prefix: &str) -> Option<Bucket> {
        super::service("SWEEP_AZURITE_ENDPOINT", "SWEEP_REQUIRE_S3", "scripts/azurite start; export $(scripts/azurite env)")?;
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let status = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/azurite"))
            .args(["container", &name])
            .status()
            .expect("scripts/azurite runs");
        assert!(status.success(), "scripts/azurite container {name} failed");
        let store = object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(&name).build().unwrap();
        Some(Bucket { name, scheme: "az", store: Arc::new(store) })
    }

    pub fn url(&self, key: &str) -> String {
        format!("{}://{}/{key}", self.scheme, self.name)
    }

    /// Every key below `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        use futures::TryStreamExt;
        let store = self.store.clone();
        let prefix = ObjectPath::from(prefix);
        let mut keys: Vec<String> = runtime()
            .block_on(async move { store.list(Some(&prefix)).try_collect::<Vec<_>>().await })
            .unwrap()
            .into_iter()
            .map(|m| m.location.to_string())
            .collect();
        keys.sort();
        keys
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let store = self.store.clone();
        let key = ObjectPath::from(key);
        runtime().block_on(async move { store.get(&key).await?.bytes().await }).unwrap().to_vec()
    }

    /// Moves an object to another key (a copy, then a delete: what a crash can interrupt).
    pub fn rename(&self, from: &str, to: &str) {
        let store = self.store.clone();
        let (from, to) = (ObjectPath::from(from), ObjectPath::from(to));
        runtime()
            .block_on(async move {
                store.copy(&from, &to).await?;
                store.delete(&from).await
            })
            .unwrap();
    }

    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        let store = self.store.clone();
        let key = ObjectPath::from(key);
        runtime().block_on(async move { store.put(&key, PutPayload::from(bytes)).await }).unwrap();
    }

    pub fn delete(&self, key: &str) {
        let store = self.store.clone();
        let key = ObjectPath::from(key);
        runtime().block_on(async move { store.delete(&key).await }).unwrap();
    }
}
