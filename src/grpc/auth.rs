//! Access tokens (`--auth-tokens FILE`): who may call what.
//!
//! The file holds one token a line as `SCOPE TOKEN`; `#` starts a comment.
//! A `read` token may call Summarize, FindDuplicates, GetStory, GetCluster
//! and ListClusters; a `write` token may also ingest and delete. Clients
//! send `authorization: Bearer TOKEN`. A missing or unknown token is
//! `UNAUTHENTICATED`; a read token on a write method is
//! `PERMISSION_DENIED`. Health stays open (load balancers probe without
//! tokens); reflection is open unless `--auth-reflection`.
//!
//! Tokens are compared in constant time and never logged.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use http::{Request, Response};
use subtle::ConstantTimeEq;
use tonic::body::Body;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Summaries and lookups.
    Read,
    /// Lookups, ingest and delete.
    Write,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// A shorter token is too easy to guess to protect anything.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a tokens file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// The file could not be read.
    #[error("cannot read the tokens file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `SCOPE TOKEN` with a known scope and a usable token.
    #[error("tokens file line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the token itself).
        reason: String,
    },
    /// No token at all: nobody could call the service.
    #[error("the tokens file holds no token")]
    Empty,
}

/// The tokens of one tokens file.
pub struct AccessTokens {
    tokens: Vec<(Scope, Vec<u8>)>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("AccessTokens")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl AccessTokens {
    /// Reads and parses a tokens file.
    pub fn load(path: &Path) -> Result<AccessTokens, TokensError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: path.to_owned(),
            source,
        })?;
        AccessTokens::parse(&text)
    }

    /// Parses the text of a tokens file.
    pub fn parse(text: &str) -> Result<AccessTokens, TokensError> {
        let mut tokens: Vec<(Scope, Vec<u8>)> = Vec::new();
        for (at, line) in text.lines().enumerate() {
            let line_no = at + 1;
            let fail = |reason: &str| TokensError::Line {
                line: line_no,
                reason: reason.to_owned(),
            };
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let (Some(scope), Some(token), None) = (words.next(), words.next(), words.next())
            else {
                return Err(fail("expected `SCOPE TOKEN` (scope read or write)"));
            };
            let scope = match scope {
                "read" => Scope::Read,
                "write" => Scope::Write,
                _ => return Err(fail("unknown scope; use read or write")),
            };
            if token.len() < MIN_TOKEN_LEN {
                return Err(fail(&format!(
                    "the token is shorter than {MIN_TOKEN_LEN} characters"
                )));
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(fail("a token is printable ASCII without spaces"));
            }
            if tokens
                .iter()
                .any(|(_, known)| known.as_slice() == token.as_bytes())
            {
                return Err(fail("the token appears on an earlier line"));
            }
            tokens.push((scope, token.as_bytes().to_vec()));
        }
        if tokens.is_empty() {
            return Err(TokensError::Empty);
        }
        Ok(AccessTokens { tokens })
    }

    /// How many tokens of each scope: for the startup line.
    pub fn counts(&self) -> (usize, usize) {
        let write = self
            .tokens
            .iter()
            .filter(|(s, _)| *s == Scope::Write)
            .count();
        (self.tokens.len() - write, write)
    }

    /// The scope of `presented`, if it is one of the tokens. Every token is
    /// compared, each in constant time (only lengths may differ in time),
    /// so the answer's timing does not tell which token nearly matched.
    pub fn scope_of(&self, presented: &[u8]) -> Option<Scope> {
        let mut read = subtle::Choice::from(0);
        let mut write = subtle::Choice::from(0);
        for (scope, token) in &self.tokens {
            let equal = token.as_slice().ct_eq(presented);
            match scope {
                Scope::Read => read |= equal,
                Scope::Write => write |= equal,
            }
        }
        if bool::from(write) {
            Some(Scope::Write)
        } else if bool::from(read) {
            Some(Scope::Read)
        } else {
            None
        }
    }
}

/// Access control settings of a server.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The tokens; replaced in place when the file is read again (SIGHUP).
    pub tokens: Arc<RwLock<Arc<AccessTokens>>>,
    /// Reflection needs a read token too.
    pub guard_reflection: bool,
}

impl AuthConfig {
    /// Guards with `tokens`.
    pub fn new(tokens: AccessTokens, guard_reflection: bool) -> AuthConfig {
        AuthConfig {
            tokens: Arc::new(RwLock::new(Arc::new(tokens))),
            guard_reflection,
        }
    }

    /// Puts `tokens` in place for the calls that start from now on.
    pub fn replace(&self, tokens: AccessTokens) {
        let mut current = self
            .tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(tokens);
    }

    /// The scope of a presented token under the tokens in place now.
    pub fn scope_of(&self, presented: &[u8]) -> Option<Scope> {
        self.current().scope_of(presented)
    }

    fn current(&self) -> Arc<AccessTokens> {
        Arc::clone(
            &self
                .tokens
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// What a method at `path` needs; `None` when it is open.
fn required_scope(path: &str, guard_reflection: bool) -> Option<Scope> {
    const WRITES: [&str; 3] = [
        "/copydesk.v1.DedupService/IngestStory",
        "/copydesk.v1.DedupService/IngestStories",
        "/copydesk.v1.DedupService/DeleteStory",
    ];
    if path.starts_with("/grpc.health.v1.Health/") {
        None
    } else if path.starts_with("/grpc.reflection.") {
        guard_reflection.then_some(Scope::Read)
    } else if WRITES.contains(&path) {
        Some(Scope::Write)
    } else {
        // Every other method, and paths the server does not have: an
        // unauthenticated client learns nothing, not even UNIMPLEMENTED.
        Some(Scope::Read)
    }
}

/// The token in `authorization: Bearer TOKEN`, if the header has that form.
fn bearer_token<B>(request: &Request<B>) -> Option<&[u8]> {
    let value = request
        .headers()
        .get(http::header::AUTHORIZATION)?
        .as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = token.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Refuses calls without the token their method needs; passes the rest.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    config: Option<AuthConfig>,
}

impl AuthLayer {
    /// With `None`, every call passes (an open server).
    pub fn new(config: Option<AuthConfig>) -> AuthLayer {
        AuthLayer { config }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`AuthLayer`] builds.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    config: Option<AuthConfig>,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S> AuthService<S> {
    /// The status refusing `request`, or `None` when it may go on.
    fn refusal(&self, request: &Request<Body>) -> Option<tonic::Status> {
        let config = self.config.as_ref()?;
        let path = request.uri().path();
        let needed = required_scope(path, config.guard_reflection)?;
        let status = match bearer_token(request) {
            None => tonic::Status::unauthenticated(
                "this server needs an access token: send `authorization: Bearer TOKEN`",
            ),
            Some(token) => match config.current().scope_of(token) {
                None => tonic::Status::unauthenticated("the access token is not known"),
                Some(scope) if scope < needed => tonic::Status::permission_denied(format!(
                    "a {} token cannot call {path}: it needs a {} token",
                    scope.name(),
                    needed.name()
                )),
                Some(_) => return None,
            },
        };
        let peer = super::peer_address(request.extensions());
        tracing::info!(
            method = path,
            peer = peer.map(tracing::field::display),
            code = super::code_name(status.code()),
            cause = status.message(),
            "rpc"
        );
        Some(status)
    }
}

impl<S> tower_service::Service<Request<Body>> for AuthService<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.refusal(&request) {
            Some(status) => Box::pin(std::future::ready(Ok(status.into_http::<Body>()))),
            None => Box::pin(self.inner.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READER: &str = "reader-token-0123456789";
    const WRITER: &str = "writer-token-0123456789";

    fn tokens() -> AccessTokens {
        AccessTokens::parse(&format!(
            "# who may call\nread {READER}\n\nwrite {WRITER}   # the ingest job\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_token_has_its_scope_and_an_unknown_one_none() {
        let tokens = tokens();
        assert_eq!(tokens.scope_of(READER.as_bytes()), Some(Scope::Read));
        assert_eq!(tokens.scope_of(WRITER.as_bytes()), Some(Scope::Write));
        assert_eq!(tokens.scope_of(b"reader-token-012345678"), None);
        assert_eq!(tokens.scope_of(b""), None);
        assert_eq!(tokens.counts(), (1, 1));
        assert!(!format!("{tokens:?}").contains(READER));
    }

    #[test]
    fn bad_lines_are_refused_by_number_without_the_token() {
        let err = |text: &str| AccessTokens::parse(text).unwrap_err().to_string();
        assert!(err("read short").contains("line 1"));
        assert!(!err("read short").contains("short "));
        assert!(err(&format!("# c\nadmin {WRITER}")).contains("line 2: unknown scope"));
        assert!(err(&format!("read {READER} extra")).contains("SCOPE TOKEN"));
        assert!(err(&format!("read {READER}\nwrite {READER}")).contains("earlier line"));
        assert!(err("# nothing\n").contains("no token"));
    }

    #[test]
    fn writes_need_write_health_is_open_and_reflection_when_asked() {
        assert_eq!(
            required_scope("/copydesk.v1.DedupService/IngestStories", false),
            Some(Scope::Write)
        );
        assert_eq!(
            required_scope("/copydesk.v1.DedupService/GetCluster", false),
            Some(Scope::Read)
        );
        assert_eq!(required_scope("/grpc.health.v1.Health/Check", true), None);
        assert_eq!(
            required_scope(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                false
            ),
            None
        );
        assert_eq!(
            required_scope(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                true
            ),
            Some(Scope::Read)
        );
        assert_eq!(required_scope("/no.Such/Thing", false), Some(Scope::Read));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        let with = |value: &str| {
            Request::builder()
                .header("authorization", value)
                .body(())
                .unwrap()
        };
        assert_eq!(bearer_token(&with("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&with("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
    }
}
