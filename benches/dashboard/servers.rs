//! The three servers of the comparison, each a real process on a loopback
//! port over a throwaway data directory, killed on drop, spoken to only
//! over HTTP: Tessera (this build's release binary), Prometheus 2.42 and
//! VictoriaMetrics 1.79 (Debian's packages).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

/// Which server.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// This build.
    Tessera,
    /// Debian's `prometheus`.
    Prometheus,
    /// Debian's `victoria-metrics`.
    Victoria,
}

impl Kind {
    /// Name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tessera => "Tessera",
            Kind::Prometheus => "Prometheus",
            Kind::Victoria => "VictoriaMetrics",
        }
    }
}

/// A running server.
pub struct Server {
    /// Which one.
    pub kind: Kind,
    /// `http://127.0.0.1:port`.
    pub base: String,
    child: Child,
    /// Shared HTTP client (keep-alive, like a dashboard's browser).
    pub client: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

/// Whether `cmd` can be run.
pub fn available(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl Server {
    /// Starts `kind` over `dir` and waits until it answers.
    pub fn start(kind: Kind, dir: &Path) -> Server {
        std::fs::create_dir_all(dir).expect("data dir");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let data = dir.join("data");
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let mut cmd = match kind {
            Kind::Tessera => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
                c.arg("serve")
                    .arg("--listen")
                    .arg(&listen)
                    .arg("--data-dir")
                    .arg(&data)
                    .arg("--query.max-samples=500000000");
                c
            }
            Kind::Prometheus => {
                let cfg = dir.join("prometheus.yml");
                std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").expect("config");
                let mut c = Command::new("prometheus");
                c.arg(format!("--config.file={}", cfg.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address={listen}"))
                    .arg("--web.enable-remote-write-receiver")
                    .arg("--query.max-samples=500000000");
                c
            }
            Kind::Victoria => {
                let mut c = Command::new("victoria-metrics");
                c.arg(format!("-httpListenAddr={listen}"))
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg("-retentionPeriod=100y")
                    .arg("-search.maxSamplesPerQuery=1000000000")
                    .arg("-search.latencyOffset=0s");
                c
            }
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", kind.name()));
        let client = Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .expect("http client");
        let s = Server {
            kind,
            base: format!("http://{listen}"),
            child,
            client,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let path = match self.kind {
            Kind::Tessera | Kind::Prometheus => "/-/ready",
            Kind::Victoria => "/health",
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let ok = self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not become ready within 120 s", self.kind.name());
    }

    /// Remote-writes one snappy-compressed protobuf body.
    pub fn write(&self, body: Vec<u8>) {
        let r = self
            .client
            .post(format!("{}/api/v1/write", self.base))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .unwrap_or_else(|e| panic!("remote write to {}: {e}", self.kind.name()));
        let status = r.status();
        assert!(
            status.is_success(),
            "remote write to {}: {status}: {}",
            self.kind.name(),
            r.text().unwrap_or_default()
        );
    }

    /// Makes everything written searchable (VictoriaMetrics buffers new
    /// data for up to a second; the others are immediate).
    pub fn flush(&self) {
        if self.kind == Kind::Victoria {
            let r = self
                .client
                .get(format!("{}/internal/force_flush", self.base))
                .send();
            assert!(r.is_ok_and(|r| r.status().is_success()), "force_flush");
        }
    }
}
