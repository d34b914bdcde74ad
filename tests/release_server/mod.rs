//! The release binary as a child process on a free loopback port with a
//! temp data dir, for end-to-end tests that need the real server.

#![allow(dead_code)] // each test file uses a different part

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The release server, killed on drop.
pub struct Tessera {
    child: Child,
    base: String,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
    /// The full command line, for [`Tessera::restart`].
    argv: Vec<std::ffi::OsString>,
}

impl Tessera {
    /// Starts `tessera serve` on a free port over a temp data dir, with
    /// `config` (YAML) if given, and waits until it is ready.
    pub fn start(config: Option<&str>) -> Tessera {
        Tessera::start_with(config, &[])
    }

    /// [`Tessera::start`] with extra command-line flags; the server's log
    /// (stderr) goes to a file that [`Tessera::log`] reads.
    pub fn start_with(config: Option<&str>, args: &[&str]) -> Tessera {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.arg("serve")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--wal.sync=none")
            .arg("--maintenance-interval=0s")
            .args(args);
        // The log (stdout) and anything on stderr, in one file.
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        if let Some(yaml) = config {
            let path = dir.path().join("tessera.yml");
            std::fs::write(&path, yaml).unwrap();
            cmd.arg("--config").arg(path);
        }
        let argv: Vec<std::ffi::OsString> = cmd.get_args().map(|a| a.to_os_string()).collect();
        let child = cmd.spawn().expect("start the tessera binary");
        let t = Tessera {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::new(),
            _dir: dir,
            argv,
        };
        t.wait_ready();
        t
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = self.http.get(self.url("/-/ready")).send();
            if ok.is_ok_and(|r| r.status() == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tessera never became ready");
    }

    /// Stops the server gracefully (SIGTERM) and starts it again with the
    /// same command line and data directory.
    pub fn restart(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful stop failed: {status}");
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self._dir.path().join("stderr.log"))
            .unwrap();
        self.child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&self.argv)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("restart the tessera binary");
        self.wait_ready();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Where the config given to [`Tessera::start`] was written (a test
    /// rewrites it before a reload).
    pub fn config_path(&self) -> std::path::PathBuf {
        self._dir.path().join("tessera.yml")
    }

    /// Everything the server logged (and wrote to stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The value of the first `/metrics` line that starts with
    /// `series` followed by a space (e.g. `name{tenant="a"}`).
    pub fn metric(&self, series: &str) -> f64 {
        let body = self
            .http
            .get(self.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} missing from /metrics"))
            .trim()
            .parse()
            .unwrap()
    }

    /// The client used by the helpers.
    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    /// Imports text-format lines; `auth` is an (header, value) pair.
    pub fn import(&self, auth: (&str, &str), body: String) {
        let resp = self
            .http
            .post(self.url("/api/v1/import/prometheus"))
            .header(auth.0, auth.1)
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 204, "{}", resp.text().unwrap_or_default());
    }

    /// A query API answer, as the page would get it.
    pub fn get_json(&self, path: &str, auth: (&str, &str), params: &[(&str, &str)]) -> Value {
        let resp = self
            .http
            .get(self.url(path))
            .header(auth.0, auth.1)
            .query(params)
            .send()
            .unwrap();
        resp.json().unwrap()
    }
}

impl Drop for Tessera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The wall clock, Unix ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
