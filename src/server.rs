//! Process lifecycle: bind, serve, open storage, shut down.
//!
//! The listener is bound before anything slow happens, so health checks
//! answer during a long WAL replay; `/-/ready` flips to 200 once the storage
//! is open. On SIGTERM or SIGINT the server stops accepting, lets in-flight
//! requests finish, then closes the storage (fsyncing every WAL).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::api::{app, AppState, ConnLimits};
use crate::config::{Config, ServeFlags, ServerConfig, SHUTDOWN_GRACE};
use crate::storage::{Storage, StorageConfig, StorageError};
use crate::tenant::limits::RateLimiter;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
    /// Joining the cluster failed.
    #[error("cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    /// Opening or closing the storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A blocking storage task panicked or was cancelled.
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Binds `cfg.listen` and serves until SIGTERM or SIGINT.
pub async fn serve(cfg: ServerConfig) -> Result<(), ServerError> {
    serve_with_reload(cfg, None).await
}

/// [`serve`] that can re-read its configuration while running (SIGHUP,
/// `POST /-/reload`): `source` is the command line and the config it
/// produced at start (see [`crate::reload`]).
pub async fn serve_with_reload(
    cfg: ServerConfig,
    source: Option<(ServeFlags, Config)>,
) -> Result<(), ServerError> {
    if let Some(fds) = raise_fd_limit() {
        // Each connection is a descriptor; storage needs some of its own.
        if fds < cfg.conn.max_connections as u64 + 256 {
            tracing::warn!(
                open_files = fds,
                max_connections = cfg.conn.max_connections,
                "the open-file limit is below web.max-connections plus storage's needs; raise it (ulimit -n)"
            );
        }
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen,
            source,
        })?;
    match listener.local_addr() {
        Ok(addr) => tracing::info!(%addr, "listening"),
        Err(_) => tracing::info!(addr = %cfg.listen, "listening"),
    }
    let limiter = RateLimiter::new(cfg.rate_defaults, cfg.rate_overrides);
    let mut state = AppState::new()
        .with_rate_limiter(limiter)
        .with_otlp(crate::write::otlp::OtlpConfigs::new(
            cfg.otlp_defaults,
            cfg.otlp_overrides,
        ))
        .with_engine(crate::promql::Engine::new(cfg.engine))
        .with_query_pool(crate::promql::QueryPool::new(cfg.max_query_concurrency))
        .with_results_cache(crate::promql::cache::ResultsCache::new(
            cfg.results_cache_max_bytes,
        ))
        .with_body_budget(crate::api::BodyBudget::new(
            cfg.conn.max_inflight_body_bytes,
        ));
    if let Some(auth) = cfg.auth {
        state = state.with_shared_authenticator(auth);
    }
    state.metrics().record_reload(true);
    if let Some((flags, config)) = source {
        crate::reload::install(&state, flags, config);
        crate::reload::listen_for_sighup(state.clone());
    }
    let mut storage = cfg.storage;
    if let Some(cluster) = cfg.cluster {
        // Partitions get storages of their own (with the bucket, under a
        // prefix per partition); the node's own storage keeps what is not
        // partitioned (metadata, push groups) and never lists the bucket,
        // whose top level holds partitions, not tenants.
        let template = storage.clone();
        storage.object_storage = None;
        tracing::info!(urls = ?cluster.nats_urls, node = %cluster.node_id, "joining the cluster");
        let c = crate::cluster::Cluster::start(cluster, template).await?;
        state = state.with_cluster(c);
    }
    run_with_limits(
        listener,
        storage,
        state,
        shutdown_signal(),
        cfg.shutdown_timeout,
        cfg.conn,
    )
    .await
}

/// Serves on an already bound listener until `shutdown` resolves.
///
/// `state` should be fresh ([`AppState::new`]); the storage is opened here
/// and installed into it, so a caller holding a clone of `state` (a test)
/// can reach the storage once the server is ready.
pub async fn run(
    listener: TcpListener,
    storage: StorageConfig,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    run_with_grace(listener, storage, state, shutdown, SHUTDOWN_GRACE).await
}

/// [`run`] with a chosen shutdown grace period for in-flight requests.
pub async fn run_with_grace(
    listener: TcpListener,
    storage: StorageConfig,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), ServerError> {
    let conn = ConnLimits::default();
    run_with_limits(listener, storage, state, shutdown, grace, conn).await
}

/// [`run_with_grace`] with chosen connection and request bounds.
pub async fn run_with_limits(
    listener: TcpListener,
    storage: StorageConfig,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    conn: ConnLimits,
) -> Result<(), ServerError> {
    let (fail_tx, fail_rx) = oneshot::channel::<()>();
    let (drain_tx, drain_rx) = oneshot::channel::<()>();
    let router = app(state.clone());
    let server = tokio::spawn(async move {
        let stop = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = fail_rx => {}
            }
            let _ = drain_tx.send(());
        };
        crate::api::serve(listener, router, conn, stop).await
    });
    tracing::info!(dir = %storage.data_dir.display(), "opening storage, replaying WALs");
    let started = std::time::Instant::now();
    let opened = tokio::task::spawn_blocking(move || Storage::open(storage))
        .await
        .map_err(|e| ServerError::Task(e.to_string()));
    let opened = match opened {
        Ok(Ok((st, stats))) => {
            // One line per tenant ("tenant replayed") came before this one.
            tracing::info!(
                tenants = stats.tenants,
                segments = stats.segments,
                series = stats.series,
                samples = stats.samples,
                blocks = stats.blocks,
                repairs = stats.repairs.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "WAL replay done; storage ready"
            );
            let st = Arc::new(st);
            state.metrics().usage().load(&st);
            state.set_storage(st.clone());
            // The usage totals go to disk every so often and at shutdown.
            let usage_state = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(crate::api::USAGE_PERSIST_EVERY).await;
                    let s = usage_state.clone();
                    let st = st.clone();
                    let _ =
                        tokio::task::spawn_blocking(move || s.metrics().usage().persist(&st)).await;
                }
            });
            Ok(())
        }
        Ok(Err(e)) => Err(ServerError::Storage(e)),
        Err(e) => Err(e),
    };
    if opened.is_err() {
        let _ = fail_tx.send(());
    }
    let served = drain(server, drain_rx, grace).await;
    if let Some(c) = state.cluster() {
        c.close().await;
        tracing::info!("left the cluster");
    }
    let closed = close(&state).await;
    opened?;
    served?;
    closed
}

type ServeTask = tokio::task::JoinHandle<std::io::Result<()>>;

/// Waits for the server to finish, but no longer than `grace` after the
/// shutdown began; stragglers are then cut off.
async fn drain(
    mut server: ServeTask,
    began: oneshot::Receiver<()>,
    grace: Duration,
) -> Result<(), ServerError> {
    let deadline = async {
        match began.await {
            Ok(()) => tokio::time::sleep(grace).await,
            // The server ended without a shutdown; its result decides.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        joined = &mut server => joined
            .map_err(|e| ServerError::Task(e.to_string()))?
            .map_err(ServerError::Serve),
        _ = deadline => {
            tracing::warn!(?grace, "requests still running at shutdown; cutting them off");
            server.abort();
            Ok(())
        }
    }
}

async fn close(state: &AppState) -> Result<(), ServerError> {
    let Some(storage) = state.storage() else {
        return Ok(());
    };
    let metrics = state.metrics().clone();
    tokio::task::spawn_blocking(move || {
        metrics.usage().persist(&storage);
        storage.close()
    })
    .await
    .map_err(|e| ServerError::Task(e.to_string()))??;
    tracing::info!("storage closed");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received");
}

/// Raises the open-file soft limit to the hard limit (as Go programs such
/// as Prometheus do at start), so `web.max-connections` is not cut short
/// by a distribution's default of 1024 descriptors. Returns the soft limit
/// now in force, or `None` if it cannot be read.
pub fn raise_fd_limit() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        Some(lim.rlim_cur as u64)
    }
}
