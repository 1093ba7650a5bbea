//! Writes a throwaway PKI for the interop check and the README's examples:
//! `ca.pem`, `server.pem`/`server.key` (for 127.0.0.1 and localhost) and
//! `client.pem`/`client.key` (for mutual TLS), all signed by the CA.
//!
//! `cargo run --example test_certs -- DIR [CA-NAME]`
//!
//! For trying TLS out only: a deployment uses its own CA's certificates.

#[path = "../tests/common/pki.rs"]
mod pki;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "certs".into()));
    let name = args.next().unwrap_or_else(|| "copydesk test CA".into());
    std::fs::create_dir_all(&dir)?;
    let ca = pki::TestCa::new(&name);
    let server = ca.server();
    let client = ca.client("copydesk-client");
    std::fs::write(dir.join("ca.pem"), &ca.pem)?;
    std::fs::write(dir.join("server.pem"), server.cert)?;
    std::fs::write(dir.join("server.key"), server.key)?;
    std::fs::write(dir.join("client.pem"), client.cert)?;
    std::fs::write(dir.join("client.key"), client.key)?;
    println!(
        "wrote ca.pem, server.pem/.key and client.pem/.key to {}",
        dir.display()
    );
    Ok(())
}
