//! A real Prometheus (Debian's `prometheus` package, 2.42) started by a
//! test on a free loopback port with a config of the test's, killed on drop.

#![allow(dead_code)] // each test file uses a different part

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A config that scrapes `target` every second as job `demo` and
/// remote-writes to the Tessera at `tessera` (host:port), with `option`
/// (one YAML line such as `send_exemplars: true`) in the remote-write entry.
pub fn scrape_and_write_config(
    target: impl std::fmt::Display,
    tessera: impl std::fmt::Display,
    option: &str,
) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["{target}"]
remote_write:
  - url: "http://{tessera}/api/v1/write"
    {option}
    queue_config:
      batch_send_deadline: 1s
"#
    )
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary (`PROMETHEUS_BIN` or `prometheus` on PATH); panics with how
/// to install it when missing.
pub fn prometheus_binary() -> String {
    let bin = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".to_string());
    let ok = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "`{bin}` not found: install Debian's `prometheus` package (apt-get install -y prometheus)"
    );
    bin
}

impl Prometheus {
    /// Starts Prometheus with `config` (YAML) and `args` in `dir`, and
    /// waits until it is ready.
    pub fn start(dir: &Path, config: &str, args: &[&str]) -> Prometheus {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ready = reqwest::blocking::get(format!("{}/-/ready", p.base));
            if ready.is_ok_and(|r| r.status() == 200) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "prometheus never became ready: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
    }
}
