//! Panics that were caught instead of ending the process: a handler or a
//! query thread that panics answers its own request with a 500, and the
//! panic is logged and counted here (`tessera_panics_total`), so the tests
//! for hostile input can tell "refused cleanly" from "survived a bug".

use std::sync::atomic::{AtomicU64, Ordering};

static CAUGHT: AtomicU64 = AtomicU64::new(0);

/// Logs and counts one caught panic; `place` says where it was caught.
pub(crate) fn record(place: &'static str, payload: &(dyn std::any::Any + Send)) -> String {
    let msg = message(payload);
    CAUGHT.fetch_add(1, Ordering::Relaxed);
    tracing::error!(place, panic = %msg, "caught a panic; answering 500");
    msg
}

/// Panics caught since the process started.
pub fn caught() -> u64 {
    CAUGHT.load(Ordering::Relaxed)
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}
