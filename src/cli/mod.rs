//! The `copydesk` command: `serve`, and offline `summarize` / `dedup` over
//! JSON Lines. Argument parsing and wiring only; the work is in the library.

mod batch;
mod dedup;
mod json_log;
mod serve;
mod store;
mod summarize;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

use crate::dedup::{CanonicalPolicy, IndexConfig};
use crate::grpc::{ServeError, defaults};

/// copydesk: extractive summaries and near-duplicate folding for wire copy.
#[derive(Debug, Parser)]
#[command(version = crate::LONG_VERSION, about)]
pub struct Cli {
    /// Log lines as text for a person, or as one JSON object a line for
    /// a log pipeline.
    #[arg(long, global = true, env = "COPYDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object a line, the fields of the event and of the spans it
    /// happened in at the top level.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gRPC service.
    Serve(ServeArgs),
    /// Summarize every story of a JSON Lines file.
    Summarize(SummarizeArgs),
    /// Fold the versions of each story of a JSON Lines file into clusters.
    Dedup(DedupArgs),
    /// Offline work on a durable store.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

/// Flags of `copydesk serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COPYDESK_LISTEN", default_value = "127.0.0.1:50051")]
    listen: String,
    /// Address of the operations listener (plain HTTP: `/healthz`,
    /// `/readyz`, `/metrics`); off unless set.
    #[arg(long, alias = "http-listen", env = "COPYDESK_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// The gRPC listener's certificate chain (PEM); with `--tls-key`, the
    /// listener speaks TLS only. Read again on SIGHUP.
    #[arg(long, env = "COPYDESK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "COPYDESK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA certificates (PEM) client certificates must chain to: every
    /// client must present one (mutual TLS).
    #[arg(long, env = "COPYDESK_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Access tokens, one a line as `SCOPE TOKEN` (scope `read` or
    /// `write`; `#` starts a comment). Without it anyone who reaches the
    /// port may ingest and delete. Read again on SIGHUP.
    #[arg(long, env = "COPYDESK_AUTH_TOKENS")]
    auth_tokens: Option<PathBuf>,
    /// Reflection needs a read token too (health stays open).
    #[arg(long, env = "COPYDESK_AUTH_REFLECTION", value_parser = BoolishValueParser::new(), requires = "auth_tokens")]
    auth_reflection: bool,
    /// Directory of the durable store (`copydesk.redb` inside), relative to
    /// the working directory unless absolute. Created if missing.
    #[arg(long, env = "COPYDESK_DATA_DIR", default_value = "copydesk-data")]
    data_dir: PathBuf,
    /// Keep everything in memory instead (lost on restart).
    #[arg(long, env = "COPYDESK_IN_MEMORY", value_parser = BoolishValueParser::new())]
    in_memory: bool,
    /// Keep stories and clusters in PostgreSQL instead
    /// (`postgres://user@host:5432/db`): several copydesk processes given
    /// the same database serve one index (replicas). The tables are made
    /// at startup.
    #[arg(long, env = "COPYDESK_STORE", conflicts_with = "in_memory")]
    store: Option<String>,
    /// Evict stories older than this (publication, else ingest time) from
    /// the matching index, e.g. `72h`; by default nothing is evicted.
    #[arg(long, env = "COPYDESK_RETENTION", value_parser = humantime::parse_duration)]
    retention: Option<Duration>,
    /// How often retention looks for stories to evict.
    #[arg(long, env = "COPYDESK_EVICTION_INTERVAL", default_value_t = defaults::EVICTION_INTERVAL.into())]
    eviction_interval: humantime::Duration,
    /// Keep evicted stories readable through GetStory (they leave their
    /// clusters either way); by default they are deleted.
    #[arg(long, env = "COPYDESK_KEEP_EVICTED", value_parser = BoolishValueParser::new())]
    keep_evicted: bool,
    /// Most IngestStories items that share one durable commit.
    #[arg(long, env = "COPYDESK_COMMIT_GROUP", default_value_t = defaults::COMMIT_GROUP)]
    commit_group: usize,
    /// Longest story body accepted, in bytes.
    #[arg(long, env = "COPYDESK_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Requests served at once on one connection.
    #[arg(long, env = "COPYDESK_MAX_CONCURRENT_REQUESTS", default_value_t = defaults::MAX_CONCURRENT_REQUESTS)]
    max_concurrent_requests: usize,
    /// Responses an IngestStories stream may hold unread before it stops
    /// reading requests (backpressure).
    #[arg(long, env = "COPYDESK_STREAM_BUFFER", default_value_t = defaults::STREAM_BUFFER)]
    stream_buffer: usize,
    /// How long shutdown waits for in-flight calls, e.g. `10s`.
    #[arg(long, env = "COPYDESK_DRAIN_TIMEOUT", default_value_t = defaults::DRAIN_TIMEOUT.into())]
    drain_timeout: humantime::Duration,
    #[command(flatten)]
    matching: MatchingArgs,
}

/// How stories are matched and clusters shown, shared by `serve` and
/// `dedup`.
#[derive(Debug, Args)]
pub struct MatchingArgs {
    /// Which version of a story a cluster shows: longest, earliest or latest.
    #[arg(long, env = "COPYDESK_CANONICAL", default_value = "longest")]
    canonical: CanonicalPolicy,
    /// Stories published further apart than this (both with
    /// `published_at`) are follow-ups, linked as related, unless their text
    /// is a re-run; e.g. `24h`, `36h`.
    #[arg(long, env = "COPYDESK_FOLLOW_UP_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    follow_up_after: Duration,
}

impl MatchingArgs {
    /// The index settings these flags give.
    fn index_config(&self) -> IndexConfig {
        IndexConfig {
            canonical: self.canonical,
            follow_up_after: self.follow_up_after,
            ..IndexConfig::default()
        }
    }
}

/// Input and error handling shared by the batch commands.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// JSON Lines input, `{"id","text"}` with optional `"title"`,
    /// `"published_at"` (RFC 3339) and, for summarize, a per-story
    /// `"max_sentences"` or `"max_words"`; `-` for stdin.
    #[arg(long, short, default_value = "-")]
    input: PathBuf,
    /// JSON Lines output, one line per input story in input order; `-` for
    /// stdout.
    #[arg(long, short, default_value = "-")]
    output: PathBuf,
    /// Stop at the first malformed line or refused story instead of
    /// reporting and skipping it.
    #[arg(long)]
    strict: bool,
    /// Exit 0 though up to this many lines were malformed or stories
    /// refused (by default any one makes the exit code non-zero).
    #[arg(long, env = "COPYDESK_MAX_ERRORS", default_value_t = 0)]
    max_errors: usize,
    /// Longest story text processed, in bytes; a longer one is refused for
    /// itself and the run goes on. The server's default limit.
    #[arg(long, env = "COPYDESK_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// What each input line is: a copydesk story object, or an IPTC ninjs
    /// document (`uri` → id, `versionCreated` → published_at, `headline(s)`,
    /// `body_text`/`body_html`/`bodies`; a `version` older than one already
    /// read is skipped, `pubStatus: canceled` removes the story; see
    /// README, ninjs).
    #[arg(long, value_enum, default_value_t = batch::InputFormat::Jsonl)]
    format: batch::InputFormat,
    /// Threads for the work on each story (reading it, summarizing it,
    /// fingerprinting it); every core by default. The output is the same
    /// whatever the number, byte for byte.
    #[arg(long, env = "COPYDESK_THREADS")]
    threads: Option<NonZeroUsize>,
}

/// Flags of `copydesk summarize`.
#[derive(Debug, Args)]
pub struct SummarizeArgs {
    #[command(flatten)]
    batch: BatchArgs,
    /// At most this many sentences per summary (the default budget is 3).
    #[arg(long, group = "budget")]
    sentences: Option<usize>,
    /// At most this many words per summary.
    #[arg(long, group = "budget")]
    words: Option<usize>,
    /// This share of each story's sentences, in (0, 1].
    #[arg(long, group = "budget")]
    ratio: Option<f64>,
    /// Learn page furniture from the batch, as the server's index does,
    /// and leave it out of summaries: a short line seen under three or
    /// more different stories (a weather widget, a subscription offer). A
    /// file is read through once first, so every summary has what the
    /// whole batch teaches; stdin is learned as it is read. Costs about as
    /// much again as the summaries; `false` turns it off.
    #[arg(
        long,
        env = "COPYDESK_LEARN_FURNITURE",
        default_value = "true",
        action = clap::ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    learn_furniture: bool,
}

/// Flags of `copydesk dedup`.
#[derive(Debug, Args)]
pub struct DedupArgs {
    #[command(flatten)]
    batch: BatchArgs,
    #[command(flatten)]
    matching: MatchingArgs,
    /// Stream the file through IngestStories of a running server (e.g.
    /// `http://127.0.0.1:50051`) instead of deduplicating offline. The
    /// server's own matching settings decide, so `--canonical` and
    /// `--follow-up-after` are refused beside it rather than ignored.
    #[arg(long, conflicts_with_all = ["data_dir", "canonical", "follow_up_after"])]
    server: Option<String>,
    /// CA certificate (PEM) to trust for an `https://` server, instead of
    /// the system's roots.
    #[arg(long, env = "COPYDESK_TLS_CA", requires = "server")]
    tls_ca: Option<PathBuf>,
    /// Access token sent to the server as `authorization: Bearer TOKEN`.
    #[arg(
        long,
        env = "COPYDESK_TOKEN",
        requires = "server",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Build (or extend) the durable store in this directory, which
    /// `copydesk serve --data-dir` then serves; by default the offline index
    /// lives in memory only. Stop the server first: one process at a time.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Leave out what each version changes against the one it follows.
    /// Offline without `--data-dir`, working them out keeps every story's
    /// text in memory until the run ends; this keeps only the index.
    #[arg(long)]
    no_changes: bool,
    /// Also write the editor's views of the run (every cluster, newest
    /// first, each with its timeline) to this file: one self-contained
    /// HTML page. Offline or with `--data-dir`.
    #[arg(long, conflicts_with = "server")]
    report: Option<PathBuf>,
}

/// Errors of the command-line program.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A malformed input line under `--strict`.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed story refused (over a limit, or by the server) under
    /// `--strict`.
    #[error("line {line}: {reason}")]
    Refused {
        /// 1-based line number.
        line: usize,
        /// Why it was refused.
        reason: String,
    },
    /// The run ended with more malformed lines and refused stories than
    /// `--max-errors` allows.
    #[error(
        "{malformed} malformed line(s) and {refused} refused story(ies), more than --max-errors {max_errors}"
    )]
    Incomplete {
        malformed: usize,
        refused: usize,
        max_errors: usize,
    },
    /// A flag value that cannot work.
    #[error("{0}")]
    Usage(String),
    /// The listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The durable store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The durable store cannot be opened.
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    /// `store check` found damaged records and left them.
    #[error("{0} damaged record(s)")]
    Damaged(usize),
    /// TLS files that cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::grpc::TlsError),
    /// A tokens file that cannot be used.
    #[error(transparent)]
    Tokens(#[from] crate::grpc::TokensError),
    /// The remote server could not be reached or refused the stream.
    #[error("server {server}: {reason}")]
    Remote {
        /// The server address.
        server: String,
        /// Why.
        reason: String,
    },
}

/// Parses the arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        Command::Summarize(_) | Command::Dedup(_) | Command::Store(_) => "warn",
    };
    init_tracing(default_level, cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Summarize(args) => summarize::run(args),
        Command::Dedup(args) => dedup::run(args),
        Command::Store(command) => store::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A store's error says what the engine said in its sources.
            let message = match &err {
                CliError::Store(e) => crate::store::chain(e),
                CliError::Open(e) => crate::store::chain(e),
                other => other.to_string(),
            };
            eprintln!("copydesk: {message}");
            exit_code(&err)
        }
    }
}

/// Exit code for malformed input lines (`EX_DATAERR` of sysexits).
pub const EXIT_MALFORMED: u8 = 65;
/// Exit code for well-formed stories that were refused (over a limit, or
/// by the server) when no line was malformed.
pub const EXIT_REFUSED: u8 = 66;

/// A batch job tells bad input from refused stories by the exit code; any
/// other failure is 1.
fn exit_code(err: &CliError) -> ExitCode {
    match err {
        CliError::Malformed { .. } => ExitCode::from(EXIT_MALFORMED),
        CliError::Incomplete { malformed, .. } if *malformed > 0 => ExitCode::from(EXIT_MALFORMED),
        CliError::Refused { .. } | CliError::Incomplete { .. } => ExitCode::from(EXIT_REFUSED),
        CliError::Damaged(_) => ExitCode::from(store::EXIT_DAMAGED),
        _ => ExitCode::FAILURE,
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (e.g. `RUST_LOG=copydesk=debug`).
fn init_tracing(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    match format {
        LogFormat::Text => {
            // Colours only for a person at a terminal, not in log files.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .init();
        }
        LogFormat::Json => {
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .event_format(json_log::FlatJson)
                .init();
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::grpc::ServerConfig;

    /// `copydesk serve` with no flags runs on [`ServerConfig::default`]:
    /// one set of defaults, which `--help` shows.
    #[test]
    fn serve_flags_default_to_the_server_s_defaults() {
        // Settings from the environment would hide the defaults.
        if std::env::vars().any(|(name, _)| name.starts_with("COPYDESK_")) {
            return;
        }
        let Ok(Cli {
            command: Command::Serve(args),
            ..
        }) = Cli::try_parse_from(["copydesk", "serve"])
        else {
            panic!("`copydesk serve` parses");
        };
        let server = ServerConfig::default();
        assert_eq!(args.max_body_bytes, server.max_body_bytes);
        assert_eq!(args.max_concurrent_requests, server.max_concurrent_requests);
        assert_eq!(args.stream_buffer, server.stream_buffer);
        assert_eq!(args.commit_group, server.commit_group);
        assert_eq!(Duration::from(args.drain_timeout), server.drain_timeout);
        assert_eq!(
            Duration::from(args.eviction_interval),
            server.eviction_interval
        );
        assert_eq!(args.retention, server.retention);
        assert_eq!(args.matching.index_config(), IndexConfig::default());
    }
}
