//! Threads that outlive their job: queries and their helpers (decoders,
//! range workers, label sorting) run on threads taken from a cache instead
//! of threads started for them.
//!
//! Starting and joining a thread costs 50–90 µs on the 2-core test machine
//! and handing a job to a parked one 10–20 µs; a range query started up to
//! five threads. [`QUERY_THREADS`] keeps finished threads parked for
//! [`LINGER`] (at most [`MAX_IDLE`] of them) and gives each new job an idle
//! thread, or a new one when none is idle. It never queues: a job starts at
//! once, so jobs that wait on each other (a decoder and the query reading
//! it) cannot deadlock.
//!
//! [`scope`] is [`std::thread::scope`] on these threads: jobs may borrow
//! from the caller, and `scope` returns only once every job has ended.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam::channel::{bounded, Receiver, Sender};
use parking_lot::{Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;
type Panic = Box<dyn Any + Send + 'static>;

/// How long a finished thread waits for another job before it exits.
pub const LINGER: Duration = Duration::from_secs(10);

/// Most threads kept waiting; a thread finishing when this many wait exits.
pub const MAX_IDLE: usize = 32;

/// The threads every query and its helpers run on: named `query`, with the
/// stack deep queries need ([`crate::promql::QUERY_STACK_BYTES`]).
pub static QUERY_THREADS: ThreadCache = ThreadCache::new("query", crate::promql::QUERY_STACK_BYTES);

/// A cache of parked threads, each waiting on its own channel.
pub struct ThreadCache {
    name: &'static str,
    stack: usize,
    /// Idle threads: an id and the sender of the thread's job channel.
    idle: Mutex<Vec<(u64, Sender<Job>)>>,
    /// The next new thread's id, so also the number of threads started.
    next_id: AtomicU64,
}

impl ThreadCache {
    /// An empty cache whose threads get `name` and `stack` bytes of stack.
    pub const fn new(name: &'static str, stack: usize) -> ThreadCache {
        ThreadCache {
            name,
            stack,
            idle: parking_lot::const_mutex(Vec::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Threads started so far (reused ones count once; a start that
    /// failed counts too).
    pub fn started(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed)
    }

    /// Runs `job` on an idle thread, or on a new one. A panic in `job`
    /// ends only `job` (callers that care catch it themselves).
    pub fn execute(&'static self, job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        self.execute_boxed(Box::new(job))
    }

    fn execute_boxed(&'static self, mut job: Job) -> std::io::Result<()> {
        loop {
            let Some((_, tx)) = self.idle.lock().pop() else {
                break;
            };
            // A thread leaves the list before it exits, so the send only
            // fails if that thread died; then try the next one.
            match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(e) => job = e.into_inner(),
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = bounded::<Job>(1);
        std::thread::Builder::new()
            .name(self.name.into())
            .stack_size(self.stack)
            .spawn(move || self.worker(id, tx, rx, job))?;
        Ok(())
    }

    /// Fuzzing builds only: `job` on a thread of its own, to be joined.
    /// libFuzzer runs a leak check when an input ends with more
    /// allocations than frees, and counted the allocations of a thread
    /// just started for the cache (its closure and result slot) as leaks;
    /// a joined thread has freed them when the input ends, as before the
    /// cache.
    #[cfg(fuzzing)]
    fn spawn_joinable(&self, job: Job) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(self.name.into())
            .stack_size(self.stack)
            .spawn(job)
    }

    fn worker(&'static self, id: u64, tx: Sender<Job>, rx: Receiver<Job>, first: Job) {
        let mut job = first;
        loop {
            // The job's own wrapper reports its panic; this only keeps the
            // thread usable.
            let _ = catch_unwind(AssertUnwindSafe(job));
            {
                let mut idle = self.idle.lock();
                if idle.len() >= MAX_IDLE {
                    return;
                }
                idle.push((id, tx.clone()));
            }
            job = match rx.recv_timeout(LINGER) {
                Ok(j) => j,
                Err(_) => {
                    let mut idle = self.idle.lock();
                    if let Some(i) = idle.iter().position(|(k, _)| *k == id) {
                        idle.swap_remove(i);
                        return;
                    }
                    // Taken from the list after the timeout: its job is
                    // on the way (this thread holds a sender, so `recv`
                    // cannot fail for want of one).
                    drop(idle);
                    match rx.recv() {
                        Ok(j) => j,
                        Err(_) => return,
                    }
                }
            };
        }
    }
}

/// Runs `f` on a thread of [`QUERY_THREADS`] and waits for it without
/// holding the async caller's thread. A panic in `f` is recorded as
/// `what`'s ([`crate::panics::record`]) and comes back as the message
/// `"{what} panicked: …"`; a thread that cannot start, as a message too.
pub async fn run<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    };
    #[cfg(not(fuzzing))]
    QUERY_THREADS
        .execute(job)
        .map_err(|e| format!("cannot start a {what} thread: {e}"))?;
    #[cfg(fuzzing)]
    let thread = QUERY_THREADS
        .spawn_joinable(Box::new(job))
        .map_err(|e| format!("cannot start a {what} thread: {e}"))?;
    let answer = rx.await;
    #[cfg(fuzzing)]
    let _ = thread.join();
    match answer {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => Err(format!(
            "{what} panicked: {}",
            crate::panics::record(what, panic.as_ref())
        )),
        Err(_) => Err(format!("{what} thread ended without an answer")),
    }
}

/// What a [`scope`]'s jobs share with it.
struct ScopeState {
    running: Mutex<usize>,
    ended: Condvar,
    /// The first panic of a job not taken by [`ScopedJoin::join`].
    panic: Mutex<Option<Panic>>,
}

/// Jobs spawned inside [`scope`], which may borrow what outlives `'env`.
pub struct Scope<'env> {
    cache: &'static ThreadCache,
    state: Arc<ScopeState>,
    /// Fuzzing builds: the jobs' own threads, joined when the scope ends.
    #[cfg(fuzzing)]
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// A job's result, to wait for with [`ScopedJoin::join`].
pub struct ScopedJoin<T> {
    rx: Receiver<Result<T, ()>>,
    state: Arc<ScopeState>,
}

impl<T> ScopedJoin<T> {
    /// Waits for the job; a panic in it resumes here.
    pub fn join(self) -> T {
        match self.rx.recv() {
            Ok(Ok(v)) => v,
            _ => {
                let p = self.state.panic.lock().take();
                resume_unwind(p.unwrap_or_else(|| Box::new("a scoped job ended without a result")))
            }
        }
    }
}

impl<'env> Scope<'env> {
    /// Starts `f` on a cached thread. Panics, as
    /// [`std::thread::Scope::spawn`] does, if no thread can be started.
    pub fn spawn<T: Send + 'env>(&self, f: impl FnOnce() -> T + Send + 'env) -> ScopedJoin<T> {
        let (tx, rx) = bounded(1);
        let state = self.state.clone();
        *state.running.lock() += 1;
        let job = move || {
            let out = catch_unwind(AssertUnwindSafe(f));
            let sent = match out {
                Ok(v) => tx.send(Ok(v)),
                Err(p) => {
                    state.panic.lock().get_or_insert(p);
                    tx.send(Err(()))
                }
            };
            // The handle may be gone; then the value (if any) is dropped here.
            drop(sent);
            drop(tx);
            let mut n = state.running.lock();
            *n -= 1;
            if *n == 0 {
                state.ended.notify_all();
            }
        };
        let job: Box<dyn FnOnce() + Send + 'env> = Box::new(job);
        // SAFETY: `scope` does not return (nor unwind) before `running` is
        // back to zero, and a job lowers it only after `f`, its result
        // sender and everything it captured are gone. So nothing borrowed
        // for `'env` is used after `'env` ends. The result itself can hold
        // `'env` borrows only inside the channel, whose last reference
        // after the job is the handle, which cannot outlive `'env`.
        let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'env>, Job>(job) };
        #[cfg(not(fuzzing))]
        let started = self.cache.execute_boxed(job);
        #[cfg(fuzzing)]
        let started = self
            .cache
            .spawn_joinable(job)
            .map(|t| self.threads.lock().push(t));
        if let Err(e) = started {
            // The job was dropped unrun: nothing of it is left running.
            let mut n = self.state.running.lock();
            *n -= 1;
            drop(n);
            panic!("cannot start a query thread: {e}");
        }
        ScopedJoin {
            rx,
            state: self.state.clone(),
        }
    }
}

/// Runs `f` with a [`Scope`] whose jobs run on [`QUERY_THREADS`]; returns
/// once all of them have ended. A panic in `f`, or in a job nobody joined,
/// resumes here after that.
pub fn scope<'env, R>(f: impl FnOnce(&Scope<'env>) -> R) -> R {
    let s = Scope {
        cache: &QUERY_THREADS,
        state: Arc::new(ScopeState {
            running: parking_lot::const_mutex(0),
            ended: Condvar::new(),
            panic: parking_lot::const_mutex(None),
        }),
        #[cfg(fuzzing)]
        threads: parking_lot::const_mutex(Vec::new()),
        _env: PhantomData,
    };
    let out = catch_unwind(AssertUnwindSafe(|| f(&s)));
    {
        let mut n = s.state.running.lock();
        while *n > 0 {
            s.state.ended.wait(&mut n);
        }
    }
    #[cfg(fuzzing)]
    for t in s.threads.lock().drain(..) {
        let _ = t.join();
    }
    match out {
        Err(p) => resume_unwind(p),
        Ok(v) => {
            if let Some(p) = s.state.panic.lock().take() {
                resume_unwind(p);
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn jobs_borrow_and_scope_waits_for_them() {
        let data: Vec<u64> = (0..1000).collect();
        let total = AtomicUsize::new(0);
        let halves = scope(|s| {
            let (a, b) = data.split_at(500);
            let ja = s.spawn(|| a.iter().sum::<u64>());
            let jb = s.spawn(|| b.iter().sum::<u64>());
            // Not joined: the scope still waits for it.
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                total.fetch_add(1, Ordering::SeqCst);
            });
            (ja.join(), jb.join())
        });
        assert_eq!(halves.0 + halves.1, 499_500);
        assert_eq!(total.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn threads_are_reused() {
        // Jobs one after another, with a pause for the previous job's
        // thread to park (it does so just after the scope has returned).
        scope(|s| s.spawn(|| ()).join());
        let before = QUERY_THREADS.started();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(2));
            scope(|s| s.spawn(|| ()).join());
        }
        // Other tests run in parallel and may start threads of their own,
        // but 50 sequential jobs did not each start one.
        assert!(QUERY_THREADS.started() - before < 25);
    }

    #[test]
    fn jobs_that_wait_on_each_other_do_not_deadlock() {
        // More jobs than cores, each waiting for the next one's message.
        let n = 16;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| bounded::<usize>(0)).unzip();
        let got = scope(|s| {
            let mut joins = Vec::new();
            for (i, rx) in rxs.iter().enumerate() {
                let rx = rx.clone();
                let next = txs.get(i + 1).cloned();
                joins.push(s.spawn(move || {
                    if let Some(next) = next {
                        next.send(i + 1).unwrap();
                    }
                    if i == 0 {
                        0
                    } else {
                        rx.recv().unwrap()
                    }
                }));
            }
            joins.into_iter().map(ScopedJoin::join).sum::<usize>()
        });
        assert_eq!(got, (0..n).sum::<usize>());
    }

    #[test]
    fn a_joined_panic_resumes_at_join() {
        let r = catch_unwind(|| scope(|s| s.spawn(|| -> u8 { panic!("kernel") }).join()));
        let p = r.expect_err("the panic reaches the caller");
        assert_eq!(p.downcast_ref::<&str>(), Some(&"kernel"));
    }

    #[test]
    fn an_unjoined_panic_resumes_at_the_end_of_the_scope() {
        let after = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            scope(|s| {
                s.spawn(|| panic!("decoder"));
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(20));
                    after.fetch_add(1, Ordering::SeqCst);
                });
                7
            })
        }));
        assert!(r.is_err());
        // The other job still ran to its end before the scope returned.
        assert_eq!(after.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panic_in_the_body_waits_for_the_jobs() {
        let done = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            scope(|s| {
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(20));
                    done.fetch_add(1, Ordering::SeqCst);
                });
                panic!("body");
            })
        }));
        assert!(r.is_err());
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn execute_runs_detached_jobs() {
        let (tx, rx) = bounded(1);
        QUERY_THREADS.execute(move || tx.send(42).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(42));
    }
}
