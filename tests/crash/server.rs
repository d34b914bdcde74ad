//! The `tessera` binary as a child process on a fixed loopback port over
//! one data dir, so that it can be SIGKILLed and started again on the
//! same directory while clients keep using the same address.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a start (WAL replay included) may take before the test fails.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// How long a graceful (SIGTERM) stop may take.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// A `tessera serve` process, restartable on the same port and data dir.
pub struct Proc {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    sync: Option<&'static str>,
    /// More `serve` arguments, used by every (re)start.
    pub args: Vec<String>,
    /// Environment variables for the next (re)starts.
    pub env: Vec<(String, String)>,
    /// Time from spawn to `/-/ready` answering 200, one per start.
    pub ready_times: Vec<Duration>,
    client: reqwest::Client,
}

impl Proc {
    /// Starts the server over `dir/data`, logging into `dir/tessera.log`,
    /// with `--wal.sync=<sync>` when given, and waits until it is ready.
    pub async fn start(dir: &Path, sync: Option<&'static str>) -> Proc {
        Proc::start_with(dir, sync, Vec::new(), Vec::new()).await
    }

    /// [`Proc::start`] with more arguments and environment variables.
    pub async fn start_with(
        dir: &Path,
        sync: Option<&'static str>,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Proc {
        // The OS picks a free port; it is reused by every restart so that
        // the senders never need to learn a new address.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut p = Proc {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir: dir.join("data"),
            log: dir.join("tessera.log"),
            sync,
            args,
            env,
            ready_times: Vec::new(),
            client: reqwest::Client::new(),
        };
        p.spawn_and_wait().await;
        p
    }

    async fn spawn_and_wait(&mut self) {
        assert!(self.child.is_none(), "a server is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the server log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        if let Some(sync) = self.sync {
            cmd.arg(format!("--wal.sync={sync}"));
        }
        let started = Instant::now();
        self.child = Some(cmd.spawn().expect("spawn tessera"));
        while started.elapsed() < READY_DEADLINE {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "tessera exited with {status} while starting:\n{}",
                    self.log_tail()
                );
            }
            let ready = self
                .client
                .get(format!("{}/-/ready", self.base))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status() == 200) {
                self.ready_times.push(started.elapsed());
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("tessera never became ready:\n{}", self.log_tail());
    }

    /// SIGKILLs the server and reaps it.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("no server running");
        // `Child::kill` is SIGKILL on Unix: no handler, no flush, no fsync.
        child.kill().expect("SIGKILL tessera");
        child.wait().expect("reap tessera");
    }

    /// SIGTERMs the server and waits for its graceful exit, which must be a
    /// success.
    pub async fn terminate(&mut self) {
        let mut child = self.child.take().expect("no server running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "could not send SIGTERM");
        let started = Instant::now();
        while started.elapsed() < STOP_DEADLINE {
            if let Some(status) = child.try_wait().expect("wait tessera") {
                assert!(
                    status.success(),
                    "graceful stop failed: {status}\n{}",
                    self.log_tail()
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "tessera ignored SIGTERM for {STOP_DEADLINE:?}:\n{}",
            self.log_tail()
        );
    }

    /// Sends `signal` (`TERM`, `INT`) to the server and waits up to
    /// `deadline` for it to exit; returns its status and how long it took,
    /// or `None` (after SIGKILLing it) if it did not exit in time.
    pub async fn signal_and_wait(
        &mut self,
        signal: &str,
        deadline: Duration,
    ) -> Option<(std::process::ExitStatus, Duration)> {
        let mut child = self.child.take().expect("no server running");
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "could not send SIG{signal}");
        let started = Instant::now();
        while started.elapsed() < deadline {
            if let Some(status) = child.try_wait().expect("wait tessera") {
                return Some((status, started.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The server's log so far (stdout and stderr of every start).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log, past byte `from`, contains `needle`; false if
    /// it did not within `deadline`.
    pub async fn wait_for_log(&self, needle: &str, from: usize, deadline: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if self
                .log_text()
                .get(from..)
                .is_some_and(|t| t.contains(needle))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Starts the server again on the same port and data dir.
    pub async fn restart(&mut self) {
        self.spawn_and_wait().await;
    }

    /// Names in the test tenant's `blocks/` dir, sorted: published blocks
    /// and leftovers of interrupted writes (`.tmp`) or deletions
    /// (`.deleted`).
    pub fn block_dir_names(&self) -> Vec<String> {
        let blocks = self
            .data_dir
            .join("tenants")
            .join(super::load::TENANT)
            .join("blocks");
        let mut names: Vec<String> = std::fs::read_dir(blocks)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `POST /api/v1/admin/tsdb/flush` for the test tenant of the server at
/// `base`: status and body, or the transport error (a kill may cut the
/// request). Takes the address, not a [`Proc`], so a spawned task can
/// flush while the test kills the process.
pub async fn flush(base: &str) -> reqwest::Result<(u16, String)> {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/admin/tsdb/flush"))
        .header("X-Scope-OrgID", super::load::TENANT)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.text().await.unwrap_or_default()))
}
