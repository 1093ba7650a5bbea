//! TLS for the gRPC listener (`--tls-cert`, `--tls-key`, and
//! `--tls-client-ca` for mutual TLS), with rustls on the `ring` provider.
//!
//! The server does its own handshakes (rather than tonic's built-in TLS)
//! so that the certificate can be replaced while it serves: [`TlsFiles`]
//! are read again on [`ServerTls::reload`] (SIGHUP), and each new
//! connection takes the configuration current when it arrives; open
//! connections keep theirs.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

/// The files a TLS listener is configured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to; set, every
    /// client must present one (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// Why TLS could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{what} {path}: {reason}")]
    File {
        /// Which file (`certificate`, `private key`, `client CA`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the certificates or key (a key that does not match
    /// the certificate, an unusable CA).
    #[error("TLS configuration refused: {0}")]
    Config(String),
}

/// The rustls provider: `ring`, which builds with the C compiler the Rust
/// toolchain already links with; nothing to install.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(
    what: &'static str,
    path: &PathBuf,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::File {
        what,
        path: path.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// Reads `files` into a rustls server configuration offering HTTP/2.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = read_certs("certificate", &files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::File {
        what: "private key",
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let config = |e: rustls::Error| TlsError::Config(e.to_string());
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(config)?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs("client CA", path)? {
                roots.add(cert).map_err(config)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder.with_single_cert(certs, key).map_err(config)?;
    // gRPC is HTTP/2 only; clients such as grpcurl insist on ALPN.
    server.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(server))
}

/// A TLS configuration that can be replaced while the server runs.
#[derive(Debug)]
pub struct ServerTls {
    files: TlsFiles,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl ServerTls {
    /// Reads `files`; fails as [`server_config`] does.
    pub fn load(files: TlsFiles) -> Result<ServerTls, TlsError> {
        let current = RwLock::new(server_config(&files)?);
        Ok(ServerTls { files, current })
    }

    /// Whether client certificates are required.
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// Reads the files again; on success new connections use them, on
    /// failure the configuration in use stays (and the error says why).
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = server_config(&self.files)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        ))
    }
}

/// A handshake that takes longer is dropped: a client that connects and
/// sends nothing must not hold a task for good.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes under way at once; more connections wait in the backlog.
const HANDSHAKES_AT_ONCE: usize = 256;

/// Connections of `listener` after their TLS handshake, as a stream for
/// tonic. Handshakes run concurrently (a slow client does not hold up the
/// others); a failed one is logged and dropped. Accepting stops when the
/// stream is dropped.
pub fn tls_incoming(listener: TcpListener, tls: Arc<ServerTls>) -> TlsIncoming {
    let (ready, connections) = mpsc::channel(HANDSHAKES_AT_ONCE);
    let accepting = tokio::spawn(async move {
        let permits = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_AT_ONCE));
        loop {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(cause = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if let Err(err) = stream.set_nodelay(true) {
                tracing::warn!(cause = %err, "cannot set TCP_NODELAY");
            }
            let acceptor = tls.acceptor();
            let handed = ready.clone();
            tokio::spawn(async move {
                let _permit = permit;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let _ = handed.send(stream).await;
                    }
                    Ok(Err(err)) => {
                        tracing::info!(%peer, cause = %err, "TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::info!(%peer, "TLS handshake timed out");
                    }
                }
            });
            if ready.is_closed() {
                return;
            }
        }
    });
    TlsIncoming {
        connections,
        accepting,
    }
}

/// The stream [`tls_incoming`] returns.
#[derive(Debug)]
pub struct TlsIncoming {
    connections: mpsc::Receiver<TlsStream<TcpStream>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl Stream for TlsIncoming {
    type Item = Result<TlsStream<TcpStream>, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx).map(|c| c.map(Ok))
    }
}
