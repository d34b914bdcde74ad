//! Where queries run: on their own threads, each with a stack sized for
//! the deepest query the parser accepts, at most `max_concurrency` at once,
//! and each stoppable from outside.
//!
//! The async server must not evaluate queries on its workers (evaluation is
//! CPU-bound and recursive), and tokio's blocking pool gives its threads a
//! fixed 2 MiB stack that nothing here controls. [`QueryPool::run`] runs a
//! query on a thread of [`crate::threads::QUERY_THREADS`] (stacks of
//! [`super::QUERY_STACK_BYTES`], kept for reuse) once a slot is free (the
//! slots play the role of Prometheus's `--query.max-concurrency`); a panic
//! on that thread becomes an error for that query only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::QueryError;

/// A flag that asks a running query to stop; the evaluator checks it
/// between series and between nodes. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the query to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the query was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels when dropped: a request handler holds it across
    /// its await, so a request that is dropped (client gone, server timeout)
    /// stops its query.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its [`Cancel`] when dropped (see [`Cancel::on_drop`]).
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Runs queries on dedicated threads, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct QueryPool {
    slots: Arc<Semaphore>,
    max: usize,
}

/// Prometheus's default `--query.max-concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: usize = 20;

impl Default for QueryPool {
    fn default() -> QueryPool {
        QueryPool::new(DEFAULT_MAX_CONCURRENCY)
    }
}

impl QueryPool {
    /// A pool running at most `max` queries at once (at least one).
    pub fn new(max: usize) -> QueryPool {
        let max = max.max(1);
        QueryPool {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// How many queries may run at once.
    pub fn max_concurrency(&self) -> usize {
        self.max
    }

    /// Queries running right now.
    pub fn running(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// Waits for a free slot, then runs `f` on a query thread (an idle one
    /// of [`crate::threads::QUERY_THREADS`], or a new one). A panic in `f` is logged and becomes
    /// [`QueryError::Internal`]; the process and other queries go on.
    /// If `cancel` is set while waiting for a slot, nothing runs.
    pub async fn run<T, E, F>(&self, cancel: &Cancel, f: F) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<QueryError> + Send + 'static,
    {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| QueryError::Internal("the query pool is closed".into()))?;
        if cancel.is_cancelled() {
            return Err(QueryError::Canceled.into());
        }
        crate::threads::run("query", move || {
            let _slot = slot;
            f()
        })
        .await
        .map_err(|msg| E::from(QueryError::Internal(msg)))?
    }
}
