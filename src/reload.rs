//! Applying a changed config file without a restart: `SIGHUP` and
//! `POST /-/reload` (Prometheus's triggers) re-read the file and the
//! command line, as at start.
//!
//! What changes at once, for requests from then on: tokens, basic-auth
//! users, policies, JWT settings and keys (the JWKS file is re-read), and
//! every tenant limit (`limits`, `tenants`: ingestion rate and burst,
//! series and label limits, out-of-order window, retention, exemplar
//! buffer size) and OTLP translation settings (`otlp:`). Nothing is
//! dropped meanwhile: connections stay open, requests already
//! authenticated finish under the credentials they came with, and ingest
//! never stops (each piece is swapped whole under its own lock).
//!
//! A file that does not load or validate is refused as a whole: nothing of
//! it is applied, the error is logged and returned, and
//! `tessera_config_last_reload_successful` turns 0 until a reload
//! succeeds. Settings only a restart applies (listen address, data dir,
//! WAL, block range, maintenance, shutdown timeout, `query.*`, `web.*`,
//! object storage) are named in the answer and the log when they differ
//! from the running ones, and left as they are.

use std::sync::Arc;

use crate::api::AppState;
use crate::config::{Config, ServeFlags};

/// Installs the reload into `state`: `started` is the config the server
/// started with (its restart-only settings are what runs until the next
/// start), `flags` its command line (which names the file).
pub fn install(state: &AppState, flags: ServeFlags, started: Config) {
    let target = state.clone();
    state.set_reload(Arc::new(move || {
        let result = reload(&target, &flags, &started);
        target.metrics().record_reload(result.is_ok());
        match &result {
            Ok(notes) => tracing::info!(?notes, "configuration reloaded"),
            Err(e) => tracing::error!(error = %e, "configuration reload refused; the running configuration stays"),
        }
        result
    }));
}

fn reload(state: &AppState, flags: &ServeFlags, started: &Config) -> Result<Vec<String>, String> {
    let new = Config::from_flags(flags).map_err(|e| e.to_string())?;
    let sc = new.server_config().map_err(|e| e.to_string())?;
    let storage = state
        .storage()
        .ok_or("storage is still opening (WAL replay); reload once the server is ready")?;
    // Everything is validated above; from here on nothing can fail.
    if let Some(auth) = sc.auth {
        state.set_authenticator(auth);
    }
    state
        .limiter()
        .set_limits(sc.rate_defaults, sc.rate_overrides);
    state.otlp().set(sc.otlp_defaults, sc.otlp_overrides);
    storage.set_tenant_configs(sc.storage.tenant_defaults, sc.storage.tenant_overrides);
    Ok(restart_only_changes(started, &new))
}

/// The settings that differ but only apply at the next start.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, changed: bool| {
        if changed {
            out.push(format!("{name} changed: it applies at the next restart"));
        }
    };
    check("listen", old.listen != new.listen);
    check("data_dir", old.data_dir != new.data_dir);
    check("wal", old.wal != new.wal);
    check("block_range", old.block_range != new.block_range);
    check(
        "maintenance_interval",
        old.maintenance_interval != new.maintenance_interval,
    );
    check(
        "shutdown_timeout",
        old.shutdown_timeout != new.shutdown_timeout,
    );
    check("query", old.query != new.query);
    check("web", old.web != new.web);
    check("object_storage", old.object_storage != new.object_storage);
    out
}

/// Reloads on every SIGHUP until the process ends.
#[cfg(unix)]
pub fn listen_for_sighup(state: AppState) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload");
            return;
        }
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the configuration");
            let s = state.clone();
            let _ = tokio::task::spawn_blocking(move || s.reload()).await;
        }
    });
}

/// Reloads on every SIGHUP (not on this platform).
#[cfg(not(unix))]
pub fn listen_for_sighup(_state: AppState) {}
