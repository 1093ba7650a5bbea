//! `copydesk serve`: bind, then hand the listener to the library.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CliError, ServeArgs};
use crate::grpc::{
    AbortOnDrop, AccessTokens, AuthConfig, ServerConfig, ServerTls, TlsFiles, serve_with_store,
};
use crate::http::{OpsState, serve_ops};
use crate::metrics::Metrics;
use crate::store::{
    DurableOptions, DurableStore, MemoryStore, PostgresOptions, PostgresStore, Store,
};

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let ServeArgs {
        listen,
        metrics_listen,
        tls_cert,
        tls_key,
        tls_client_ca,
        auth_tokens,
        auth_reflection,
        data_dir,
        max_body_bytes,
        max_concurrent_requests,
        stream_buffer,
        drain_timeout,
        matching,
        in_memory,
        store: shared_store,
        retention,
        eviction_interval,
        keep_evicted,
        commit_group,
    } = args;
    let index_config = matching.index_config();
    // TLS files and tokens are read before anything binds: a bad file
    // fails the start with its name, not the first call.
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(ServerTls::load(TlsFiles {
            cert,
            key,
            client_ca: tls_client_ca,
        })?)),
        _ => None,
    };
    let auth = match &auth_tokens {
        Some(path) => Some(AuthConfig::new(AccessTokens::load(path)?, auth_reflection)),
        None => None,
    };
    let tls_mode = match &tls {
        None => "off".to_owned(),
        Some(tls) if tls.mutual() => "on, client certificates required (mutual TLS)".to_owned(),
        Some(_) => "on".to_owned(),
    };
    let auth_mode = match &auth {
        None => "open: anyone who reaches the port may ingest and delete".to_owned(),
        Some(auth) => {
            let (read, write) = auth.tokens.read().map_or((0, 0), |t| t.counts());
            format!(
                "tokens: {read} read, {write} write; reflection {}",
                if auth_reflection {
                    "needs a token"
                } else {
                    "open"
                }
            )
        }
    };
    let metrics = Arc::new(Metrics::new());
    let page_auth = auth.clone();
    let reloadable = Reloadable {
        tls: tls.clone(),
        auth: auth.clone(),
        tokens_file: auth_tokens,
    };
    let config = ServerConfig {
        max_body_bytes,
        max_concurrent_requests,
        stream_buffer,
        drain_timeout: drain_timeout.into(),
        retention,
        eviction_interval: eviction_interval.into(),
        commit_group,
        tls,
        auth,
        metrics: Arc::clone(&metrics),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|source| CliError::Io {
        path: "tokio runtime".into(),
        source,
    })?;
    runtime.block_on(async {
        // Bind first: a port another process holds is found before the
        // store is opened (or upgraded). Clients that connect while the
        // store opens wait in the listen backlog.
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|source| CliError::Bind {
                address: listen.clone(),
                source,
            })?;
        let address = listener
            .local_addr()
            .map_or_else(|_| listen.clone(), |a| a.to_string());
        let ops_listener =
            match &metrics_listen {
                Some(ops) => Some(tokio::net::TcpListener::bind(ops).await.map_err(|source| {
                    CliError::Bind {
                        address: ops.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        let ops_address = ops_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or_else(|| "off".to_owned(), |a| a.to_string());
        let store_path = if in_memory {
            "in memory".to_owned()
        } else if let Some(url) = &shared_store {
            redact(url)
        } else {
            data_dir
                .join(crate::store::DATABASE_FILE)
                .display()
                .to_string()
        };
        tracing::info!(
            version = crate::VERSION,
            commit = crate::COMMIT,
            listen = %address,
            metrics = %ops_address,
            store = %store_path,
            tls = %tls_mode,
            auth = %auth_mode,
            "copydesk starting"
        );
        let store: Arc<dyn Store> = match shared_store {
            Some(url) => {
                let options = PostgresOptions {
                    keep_evicted,
                    ..PostgresOptions::default()
                };
                let (store, report) = PostgresStore::open(&url, index_config, options).await?;
                tracing::info!(
                    database = %store.target(),
                    stories = report.stories,
                    clusters = report.clusters,
                    seconds = report.seconds,
                    "store opened"
                );
                Arc::new(store)
            }
            None => tokio::task::spawn_blocking(move || {
                open_store(&data_dir, in_memory, index_config, keep_evicted)
            })
            .await
            .map_err(|e| CliError::Io {
                path: "store opening task".into(),
                source: std::io::Error::other(e.to_string()),
            })??,
        };
        // The operations listener outlives the drain: readiness says 503
        // while in-flight calls finish, then it stops with the server.
        let draining = Arc::new(AtomicBool::new(false));
        let (stop_ops, ops_stopped) = tokio::sync::oneshot::channel::<()>();
        let ops = ops_listener.map(|listener| {
            let state = OpsState {
                store: Arc::clone(&store),
                draining: Arc::clone(&draining),
                metrics: Arc::clone(&metrics),
                auth: page_auth,
            };
            tokio::spawn(serve_ops(listener, state, async move {
                let _ = ops_stopped.await;
            }))
        });
        let shutdown = async move {
            shutdown_signal().await;
            draining.store(true, Ordering::Relaxed);
        };
        let _reloading = AbortOnDrop(tokio::spawn(reload_on_hangup(reloadable)));
        let served = serve_with_store(listener, config, store, shutdown).await;
        let _ = stop_ops.send(());
        if let Some(ops) = ops
            && let Ok(Err(err)) = ops.await
        {
            tracing::warn!(cause = %err, "the operations listener failed");
        }
        served?;
        Ok(())
    })
}

/// A store address with any password left out, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The store `serve` runs on: in memory, or the durable store in
/// `data_dir`, opened and rebuilt.
fn open_store(
    data_dir: &std::path::Path,
    in_memory: bool,
    index_config: crate::dedup::IndexConfig,
    keep_evicted: bool,
) -> Result<Arc<dyn Store>, CliError> {
    if in_memory {
        return Ok(Arc::new(MemoryStore::new(index_config)));
    }
    prepare_data_dir(data_dir)?;
    let (store, report) = DurableStore::open(
        data_dir,
        index_config,
        DurableOptions {
            keep_evicted,
            threads: None,
        },
    )?;
    tracing::info!(
        path = %store.path().display(),
        stories = report.stories,
        clusters = report.clusters,
        seconds = report.seconds,
        damaged = report.damaged.len(),
        "store opened"
    );
    Ok(Arc::new(store))
}

/// Creates the data directory and checks that it is writable, so a
/// misconfigured path fails at startup rather than on the first write.
fn prepare_data_dir(dir: &std::path::Path) -> Result<(), CliError> {
    let io = |source| CliError::Io {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let probe = dir.join(".copydesk-write-check");
    std::fs::write(&probe, b"ok").map_err(io)?;
    std::fs::remove_file(&probe).map_err(io)?;
    Ok(())
}

/// What SIGHUP reads again.
struct Reloadable {
    tls: Option<Arc<ServerTls>>,
    auth: Option<AuthConfig>,
    tokens_file: Option<std::path::PathBuf>,
}

/// On every SIGHUP, reads the TLS files and the tokens file again. New
/// connections and calls use what was read; open connections keep their
/// session. A file that no longer reads keeps what is in use, and the log
/// says why.
async fn reload_on_hangup(reloadable: Reloadable) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                tracing::error!(cause = %err, "cannot listen for SIGHUP: no reloading");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            if let Some(tls) = &reloadable.tls {
                match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate and key read again"),
                    Err(err) => {
                        tracing::error!(cause = %err, "SIGHUP: TLS files refused; keeping the ones in use")
                    }
                }
            }
            if let (Some(auth), Some(path)) = (&reloadable.auth, &reloadable.tokens_file) {
                match AccessTokens::load(path) {
                    Ok(tokens) => {
                        auth.replace(tokens);
                        tracing::info!("SIGHUP: access tokens read again");
                    }
                    Err(err) => {
                        tracing::error!(cause = %err, "SIGHUP: tokens file refused; keeping the tokens in use")
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    drop(reloadable);
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(cause = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(cause = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
