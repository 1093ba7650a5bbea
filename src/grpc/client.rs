//! Connecting to a copydesk server, as the CLI's `--server` mode and the
//! load client do: plaintext or `https://` with a CA to trust, and an
//! access token sent with every call.

use std::path::PathBuf;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::store::chain;

/// How to reach a server.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// CA certificate (PEM) to trust for `https://`; the system's roots
    /// without it.
    pub tls_ca: Option<PathBuf>,
    /// Access token, sent as `authorization: Bearer TOKEN`.
    pub token: Option<String>,
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The address is not a URL tonic takes.
    #[error("bad server address {0:?}")]
    Address(String),
    /// The CA file could not be read.
    #[error("cannot read the CA certificate {path}: {source}")]
    Ca {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token cannot go in a header.
    #[error("the access token is not printable ASCII")]
    Token,
    /// TLS settings refused, or the server could not be reached.
    #[error("{0}")]
    Transport(String),
}

/// `host:port` alone means plaintext, as grpcurl's `-plaintext` does.
pub fn server_url(server: &str) -> String {
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    }
}

/// Adds the bearer token to every call (nothing without one).
#[derive(Debug, Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl BearerToken {
    /// The interceptor for `token`.
    pub fn new(token: Option<&str>) -> Result<BearerToken, ClientError> {
        token
            .map(|t| {
                format!("Bearer {t}")
                    .parse::<MetadataValue<Ascii>>()
                    .map_err(|_| ClientError::Token)
            })
            .transpose()
            .map(BearerToken)
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The endpoint for `server` (a URL, or `host:port` for plaintext), with
/// TLS set up for `https://`.
pub fn endpoint(server: &str, options: &ClientOptions) -> Result<Endpoint, ClientError> {
    let url = server_url(server);
    let mut endpoint =
        Endpoint::from_shared(url.clone()).map_err(|_| ClientError::Address(server.to_owned()))?;
    if url.starts_with("https://") {
        let tls = match &options.tls_ca {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| ClientError::Ca {
                    path: path.clone(),
                    source,
                })?;
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
            }
            None => ClientTlsConfig::new().with_native_roots(),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| ClientError::Transport(e.to_string()))?;
    }
    Ok(endpoint)
}

/// Connects to `server` and returns the channel with the token interceptor.
pub async fn connect(
    server: &str,
    options: &ClientOptions,
) -> Result<(Channel, BearerToken), ClientError> {
    let token = BearerToken::new(options.token.as_deref())?;
    let channel = endpoint(server, options)?
        .connect()
        .await
        .map_err(|e| ClientError::Transport(chain(&e)))?;
    Ok((channel, token))
}
