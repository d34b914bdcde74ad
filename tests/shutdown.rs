//! Graceful shutdown and startup of the release binary: SIGTERM and SIGINT
//! let an in-flight request finish, stop accepting, close the storage and
//! exit 0 within `--shutdown-timeout`; the next start replays the WAL,
//! logs what it replayed, and serves everything written before.

mod crash;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crash::check::verify;
use crash::load::{body, Batch, Outcome, SenderLog, SAMPLES_PER_BATCH, SERIES_PER_SENDER};
use crash::server::Proc;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One acknowledged remote write for `sender` at `first_t`.
async fn write(base: &str, sender: usize, first_t: i64) -> SenderLog {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Scope-OrgID", crash::load::TENANT)
        .body(body(sender, first_t))
        .send()
        .await
        .expect("write");
    assert!(r.status().is_success(), "{}", r.status());
    acked(sender, first_t)
}

fn acked(sender: usize, first_t: i64) -> SenderLog {
    SenderLog {
        sender,
        batches: vec![Batch {
            first_t,
            outcome: Outcome::Acked,
        }],
    }
}

/// A remote write sent by hand: the headers and the first half of the
/// body now, the rest when [`SlowWrite::finish`] is called.
struct SlowWrite {
    conn: TcpStream,
    rest: Vec<u8>,
}

impl SlowWrite {
    fn begin(base: &str, sender: usize, first_t: i64) -> SlowWrite {
        let addr = base.trim_start_matches("http://");
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let body = body(sender, first_t);
        let head = format!(
            "POST /api/v1/write HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
             X-Scope-OrgID: {}\r\nContent-Length: {}\r\n\r\n",
            crash::load::TENANT,
            body.len()
        );
        let half = body.len() / 2;
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&body[..half]).unwrap();
        SlowWrite {
            conn,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest of the body; returns the response's status line.
    fn finish(mut self) -> String {
        self.conn.write_all(&self.rest).unwrap();
        let mut buf = [0u8; 512];
        let n = self.conn.read(&mut buf).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        text.lines().next().unwrap_or_default().to_string()
    }
}

/// Sends `signal` while a slow write is in flight; the write is finished
/// 700 ms later and must succeed, a new connection in between must be
/// refused, and the server must exit 0 without waiting out its timeout.
async fn signal_with_a_write_in_flight(signal: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let args = vec!["--shutdown-timeout=20s".to_string()];
    let mut srv = Proc::start_with(dir.path(), None, args, Vec::new()).await;
    let t0 = now_ms();
    let before = write(&srv.base, 0, t0).await;
    let slow = SlowWrite::begin(&srv.base, 1, t0 + 100);
    // Let the server read the headers and start on the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = srv.base.clone();
    let in_flight = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(700));
        let addr = base.trim_start_matches("http://").to_string();
        let refused = TcpStream::connect(&addr).is_err();
        (refused, slow.finish())
    });
    let (status, took) = srv
        .signal_and_wait(signal, Duration::from_secs(15))
        .await
        .expect("the server did not exit within 15s");
    let (refused, answer) = in_flight.await.unwrap();
    assert!(
        status.success(),
        "SIG{signal}: exit {status}\n{}",
        srv.log_tail()
    );
    assert_eq!(answer, "HTTP/1.1 204 No Content", "the in-flight write");
    assert!(refused, "a new connection was accepted after SIG{signal}");
    assert!(
        took >= Duration::from_millis(600),
        "exited after {took:?}, before the in-flight write finished"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    srv.restart().await;
    let v = verify(&srv.base, &[before, acked(1, t0 + 100)]).await;
    assert_eq!(
        v.acked,
        2 * SERIES_PER_SENDER as u64 * SAMPLES_PER_BATCH as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_in_flight_write_and_exits_zero() {
    signal_with_a_write_in_flight("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_finishes_the_in_flight_write_and_exits_zero() {
    signal_with_a_write_in_flight("INT").await;
}

/// A request that never completes is cut off at `--shutdown-timeout`; the
/// server still closes the storage and exits 0, and what it acknowledged
/// is there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_request_is_cut_off_at_the_shutdown_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let args = vec!["--shutdown-timeout=1s".to_string()];
    let mut srv = Proc::start_with(dir.path(), None, args, Vec::new()).await;
    let t0 = now_ms();
    let before = write(&srv.base, 0, t0).await;
    let _stuck = SlowWrite::begin(&srv.base, 1, t0 + 100);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, took) = srv
        .signal_and_wait("TERM", Duration::from_secs(10))
        .await
        .expect("the server ignored its shutdown timeout");
    assert!(status.success(), "exit {status}\n{}", srv.log_tail());
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "exited after {took:?} with a 1s shutdown timeout"
    );
    assert!(
        srv.log_text().contains("cutting them off"),
        "{}",
        srv.log_tail()
    );
    srv.restart().await;
    verify(&srv.base, &[before]).await;
}

/// The value of `key=` on `line`.
fn field(line: &str, key: &str) -> Option<u64> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split(' ').next()?.parse().ok()
}

/// After a SIGKILL, the next start logs, per tenant and in total, the WAL
/// segments, series and samples it replayed and how long it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_logs_wal_replay_progress() {
    let dir = tempfile::tempdir().unwrap();
    let info = vec![("RUST_LOG".to_string(), "info".to_string())];
    let mut srv = Proc::start_with(dir.path(), None, Vec::new(), info).await;
    let t0 = now_ms();
    let mut logs = Vec::new();
    for i in 0..10 {
        logs.push(write(&srv.base, i % 4, t0 + i as i64 * 10).await);
    }
    srv.kill();
    let from = srv.log_text().len();
    let started = Instant::now();
    srv.restart().await;
    let text = srv.log_text()[from..].to_string();
    let tenant = text
        .lines()
        .find(|l| l.contains("tenant replayed") && l.contains("tenant=durab"))
        .unwrap_or_else(|| panic!("no per-tenant replay line:\n{text}"));
    let total = text
        .lines()
        .find(|l| l.contains("WAL replay done"))
        .unwrap_or_else(|| panic!("no replay summary:\n{text}"));
    let samples = 10 * SERIES_PER_SENDER as u64 * SAMPLES_PER_BATCH as u64;
    for line in [tenant, total] {
        assert_eq!(field(line, "samples"), Some(samples), "{line}");
        assert_eq!(
            field(line, "series"),
            Some(4 * SERIES_PER_SENDER as u64),
            "{line}"
        );
        assert!(field(line, "segments").is_some_and(|n| n >= 1), "{line}");
        let ms = field(line, "elapsed_ms").expect("elapsed_ms");
        assert!(ms <= started.elapsed().as_millis() as u64, "{line}");
    }
    assert!(text.contains("opening storage, replaying WALs"), "{text}");
    // Progress while replaying: a line per segment, the last one with the
    // tenant's totals so far.
    let segment = text
        .lines()
        .rfind(|l| l.contains("WAL segment replayed") && l.contains("durab"))
        .unwrap_or_else(|| panic!("no per-segment replay line:\n{text}"));
    assert_eq!(field(segment, "samples"), Some(samples), "{segment}");
    assert_eq!(
        field(segment, "segment"),
        field(segment, "last"),
        "{segment}"
    );
    verify(&srv.base, &logs).await;
}
