//! `copydesk serve`: bind, then hand the listener to the library.

use std::sync::Arc;

use super::{CliError, ServeArgs};
use crate::grpc::{ServerConfig, serve_with_store};
use crate::store::{DurableOptions, DurableStore, MemoryStore, Store};

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let ServeArgs {
        listen,
        data_dir,
        max_body_bytes,
        max_concurrent_requests,
        stream_buffer,
        drain_timeout,
        matching,
        in_memory,
        retention,
        eviction_interval,
        keep_evicted,
        commit_group,
    } = args;
    let index_config = matching.index_config();
    let config = ServerConfig {
        max_body_bytes,
        max_concurrent_requests,
        stream_buffer,
        drain_timeout,
        index: index_config,
        retention,
        eviction_interval,
        commit_group,
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
        let store_path = if in_memory {
            "in memory".to_owned()
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
            store = %store_path,
            tls = "off",
            auth = "open: anyone who reaches the port may ingest and delete",
            "copydesk starting"
        );
        let store = tokio::task::spawn_blocking(move || {
            open_store(&data_dir, in_memory, index_config, keep_evicted)
        })
        .await
        .map_err(|e| CliError::Io {
            path: "store opening task".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        serve_with_store(listener, config, store, shutdown_signal()).await?;
        Ok(())
    })
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
    let (store, report) =
        DurableStore::open(data_dir, index_config, DurableOptions { keep_evicted })?;
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
