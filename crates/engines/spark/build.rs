//! Generates the Spark Connect client from the protocol files of Spark 4.0.0, vendored in
//! `vendor/spark-connect-4.0.0/` at the root of the repository, away from sweep's own code
//! (taken unchanged from the spark-connect_2.13-4.0.0 jar, Apache License 2.0).
//! Needs `protoc` (Debian: protobuf-compiler, installed by scripts/setup).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not compiled in: clones at different paths that share one target
    // folder reuse this script's binary, and must each find their own vendored files.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or("cargo sets CARGO_MANIFEST_DIR for build scripts")?;
    let protos = std::path::Path::new(&manifest_dir).join("../../../vendor/spark-connect-4.0.0");
    println!("cargo:rerun-if-changed={}", protos.display());
    if std::env::var_os("PROTOC").is_none() && which_protoc().is_none() {
        return Err("protoc was not found: install it (Debian: `apt-get install protobuf-compiler`, which scripts/setup does) \
                    or point PROTOC at it"
            .into());
    }
    tonic_prost_build::configure().build_server(false).compile_protos(&[protos.join("spark/connect/base.proto")], &[protos])?;
    Ok(())
}

fn which_protoc() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("protoc")).find(|p| p.is_file())
}
