//! Disk full: the release binary under remote-write load runs out of disk.
//! Writes must get a retryable 503, reads keep working, nothing already
//! acknowledged is damaged, and once space returns ingestion resumes with
//! no restart. Then a restart must find every acknowledged sample again
//! (the failed WAL writes left no torn bytes in the middle of the log).
//!
//! Two ways to fill the disk:
//! * the test-only fault hook `TESSERA_FAULT_DISK_FULL_FILE` (always runs);
//! * a real 8 MiB tmpfs filled with a file (runs where `mount -t tmpfs`
//!   works, i.e. as root with `CAP_SYS_ADMIN`; elsewhere it says so on
//!   stderr and returns).

mod crash;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crash::check::{api, verify, Verified};
use crash::load::{body, Load, Outcome, SenderLog, METRIC, SENDERS, SERIES_PER_SENDER, TENANT};
use crash::server::{flush, Proc};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One write as tenant `probe`; returns the status and body.
async fn probe_write(base: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Scope-OrgID", "probe")
        .body(body(0, now_ms()))
        .send()
        .await
        .expect("probe write");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// `tessera_samples_rejected_total{tenant=TENANT,reason="disk_full"}`.
async fn disk_full_rejections(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key =
        format!("tessera_samples_rejected_total{{tenant=\"{TENANT}\",reason=\"disk_full\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Runs the load, makes the disk full with `fill`, checks the server while
/// it is full, frees space with `free`, and checks everything after.
async fn fill_and_free(
    srv: &mut Proc,
    fill: impl FnOnce(),
    free: impl FnOnce(),
) -> (Verified, Verified) {
    let load = Load::start(&srv.base, now_ms());
    tokio::time::sleep(Duration::from_millis(400)).await;
    fill();
    // Requests already past their WAL write may still be acknowledged.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, text) = probe_write(&srv.base).await;
    assert_eq!(status, 503, "a write on a full disk: {text}");
    assert!(text.contains("disk full"), "{text}");
    // Reads keep working: every series written before is there.
    let count = api(
        &srv.base,
        "/api/v1/query",
        &[("query", format!("count({METRIC})"))],
    )
    .await;
    let all = (SENDERS * SERIES_PER_SENDER).to_string();
    assert_eq!(count["result"][0]["value"][1], all, "{count}");
    assert!(disk_full_rejections(&srv.base).await > 0.0);
    free();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = load.stop().await;
    assert_resumed(&logs);
    let live = verify(&srv.base, &logs).await;
    srv.terminate().await;
    srv.restart().await;
    let restarted = verify(&srv.base, &logs).await;
    assert_eq!(live.acked, restarted.acked);
    eprintln!("while running: {live:?}\nafter a restart: {restarted:?}");
    assert_eq!(
        live.refused.keys().copied().collect::<Vec<_>>(),
        vec![503],
        "only 503s"
    );
    (live, restarted)
}

/// Every sender was refused with 503 and then acknowledged again, in the
/// same server process.
fn assert_resumed(logs: &[SenderLog]) {
    for log in logs {
        let first_full = log
            .batches
            .iter()
            .position(|b| b.outcome == Outcome::Refused(503))
            .unwrap_or_else(|| panic!("sender {} never saw a 503", log.sender));
        let acked_after = log.batches[first_full..]
            .iter()
            .filter(|b| b.outcome == Outcome::Acked)
            .count();
        assert!(
            acked_after > 0,
            "sender {}: nothing acknowledged after the disk filled",
            log.sender
        );
    }
}

/// Starts the server with the disk-full fault hook armed; the disk is
/// "full" while the returned trigger file exists.
async fn start_with_disk_full_hook(dir: &Path) -> (Proc, PathBuf) {
    let trigger = dir.join("disk-is-full");
    let env = vec![(
        tessera::storage::fault::DISK_FULL_ENV.to_string(),
        trigger.display().to_string(),
    )];
    (Proc::start_with(dir, None, Vec::new(), env).await, trigger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_via_the_fault_hook_refuses_writes_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, trigger) = start_with_disk_full_hook(dir.path()).await;
    let t = trigger.clone();
    let (live, _) = fill_and_free(
        &mut srv,
        move || std::fs::write(&t, b"").unwrap(),
        move || std::fs::remove_file(&trigger).unwrap(),
    )
    .await;
    assert!(live.requests.0 >= 50, "{live:?}");
}

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the filesystem refuses (ENOSPC).
fn fill_up(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.flush()) {
            assert_eq!(
                e.raw_os_error(),
                Some(28),
                "filling {}: {e}",
                path.display()
            );
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_on_a_real_tmpfs_refuses_writes_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    // `Proc` keeps its data in `dir/data` and its log beside it, outside
    // the small filesystem.
    let Some(mnt) = Tmpfs::mount(&dir.path().join("data"), "8m") else {
        eprintln!("cannot mount a tmpfs here (not root?); the fault-hook test covers disk full");
        return;
    };
    let filler = mnt.0.join("filler");
    let mut srv = Proc::start(dir.path(), None).await;
    let f = filler.clone();
    let (live, _) = fill_and_free(
        &mut srv,
        move || fill_up(&f),
        move || std::fs::remove_file(&filler).unwrap(),
    )
    .await;
    assert!(live.requests.0 >= 50, "{live:?}");
    drop(srv);
}

/// Loads some data, fills the disk with `fill`, and checks that a
/// head-to-block flush fails with a retryable 503, leaves no partial block
/// behind and loses nothing: the head still answers queries, and once
/// `free` returns space the same flush succeeds, in the same process, and a
/// restart finds every sample.
async fn flush_on_a_full_disk(srv: &mut Proc, fill: impl FnOnce(), free: impl FnOnce()) {
    let load = Load::start(&srv.base, now_ms());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let logs = load.stop().await;
    let before = verify(&srv.base, &logs).await;
    assert!(before.acked > 0, "{before:?}");
    fill();
    let (status, text) = flush(&srv.base).await.expect("flush request");
    assert_eq!(status, 503, "a flush on a full disk: {text}");
    assert!(text.contains("disk full"), "{text}");
    assert_eq!(
        srv.block_dir_names(),
        Vec::<String>::new(),
        "no block, no .tmp"
    );
    // The head still holds and serves everything acknowledged.
    assert_eq!(verify(&srv.base, &logs).await.acked, before.acked);
    free();
    let (status, text) = flush(&srv.base).await.expect("flush request");
    assert_eq!(status, 204, "the same flush once space returned: {text}");
    let blocks = srv.block_dir_names();
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert!(!blocks[0].ends_with(".tmp"), "{blocks:?}");
    assert_eq!(verify(&srv.base, &logs).await.acked, before.acked);
    srv.terminate().await;
    srv.restart().await;
    assert_eq!(verify(&srv.base, &logs).await.acked, before.acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flush_with_the_disk_full_hook_fails_cleanly_and_succeeds_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, trigger) = start_with_disk_full_hook(dir.path()).await;
    let t = trigger.clone();
    flush_on_a_full_disk(
        &mut srv,
        move || std::fs::write(&t, b"").unwrap(),
        move || std::fs::remove_file(&trigger).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flush_on_a_full_tmpfs_fails_cleanly_and_succeeds_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("data"), "8m") else {
        eprintln!("cannot mount a tmpfs here (not root?); the fault-hook flush test covers it");
        return;
    };
    let mut srv = Proc::start(dir.path(), None).await;
    let filler = mnt.0.join("filler");
    let f = filler.clone();
    flush_on_a_full_disk(
        &mut srv,
        move || fill_up(&f),
        move || std::fs::remove_file(&filler).unwrap(),
    )
    .await;
    drop(srv);
}
