//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so a fresh
//! machine needs no system `protoc`. The encoded descriptor set is written to
//! `OUT_DIR` for server reflection.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");

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
