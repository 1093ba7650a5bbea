//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so a fresh
//! machine needs no system `protoc`. The encoded descriptor set is written to
//! `OUT_DIR` for server reflection.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    build_commit();

    let descriptors = protox::compile(["copydesk/v1/copydesk.proto"], ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("copydesk_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // google.rpc.Status is tonic-types' own type, so streamed per-item
        // errors and call errors share one representation.
        .extern_path(".google.rpc", "::tonic_types::pb")
        // A request that does not decode is INVALID_ARGUMENT, not INTERNAL.
        .codec_path("crate::grpc::codec::ProtoCodec")
        .compile_fds(descriptors)?;
    Ok(())
}

/// The commit being built, for `copydesk --version`, the startup log line
/// and `copydesk_build_info`: `COPYDESK_COMMIT` when the builder sets it
/// (a tarball has no git), else git's short hash with `-dirty` for a tree
/// with changes, else `unknown`.
fn build_commit() {
    println!("cargo:rerun-if-env-changed=COPYDESK_COMMIT");
    // A new commit or checkout moves HEAD or the branch it names.
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = std::env::var("COPYDESK_COMMIT").ok().or_else(|| {
        git(&["rev-parse", "--short=12", "HEAD"]).map(|hash| {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|changes| !changes.is_empty());
            if dirty { format!("{hash}-dirty") } else { hash }
        })
    });
    println!(
        "cargo:rustc-env=COPYDESK_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
