//! Fault hooks for the end-to-end tests, armed by environment variables.
//!
//! **Test-only.** They exist so that the crash and disk-full tests can run
//! the real release binary and still make a fault land at a chosen moment.
//! Nothing sets these variables in production; with them unset every hook
//! is one cached `None` check.
//!
//! * `TESSERA_FAULT_DISK_FULL_FILE=<path>`: while a file exists at `<path>`,
//!   every WAL write hands half its bytes to the kernel and then fails with
//!   `ENOSPC`, as a write into a full filesystem does, and every write of a
//!   block's chunks or of a small synced file (block meta, tenant state)
//!   fails with `ENOSPC` before writing.
//!   Removing the file is "space returning".
//! * `TESSERA_FAULT_COMPACTION_PAUSE=<step>:<ms>`: a compaction sleeps for
//!   `<ms>` at `<step>` (`written`: the new block is complete in its `.tmp`
//!   dir; `published`: it is renamed into place and its sources are not yet
//!   deleted; `deleting`: the first source is gone, the others not), after
//!   logging `fault hook: compaction paused at <step>` at `warn`, so a
//!   test can wait for that line and SIGKILL the process mid-compaction.
//! * `TESSERA_FAULT_UPLOAD_PAUSE=<step>:<ms>`: shipping a block to the
//!   bucket sleeps at `<step>` (`partial`: its `chunks` and `index` are
//!   uploaded, `meta.json` is not; `uploaded`: `meta.json` is uploaded, the
//!   bucket index does not list the block yet), logging `fault hook:
//!   upload paused at <step>`.
//! * `TESSERA_FAULT_BUCKET_COMPACTION_PAUSE=<step>:<ms>`: a compaction in
//!   the bucket sleeps at `<step>` (`partial`, `uploaded`: as for uploads,
//!   of the merged block; `published`: the index lists the merged block and
//!   marks its sources; `purging`: a marked block's `meta.json` is deleted,
//!   its other files not yet), logging `fault hook: bucket compaction
//!   paused at <step>`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// Names the disk-full trigger file.
pub const DISK_FULL_ENV: &str = "TESSERA_FAULT_DISK_FULL_FILE";
/// `<step>:<ms>` at which compactions pause.
pub const COMPACTION_PAUSE_ENV: &str = "TESSERA_FAULT_COMPACTION_PAUSE";
/// `<step>:<ms>` at which uploads of flushed blocks pause.
pub const UPLOAD_PAUSE_ENV: &str = "TESSERA_FAULT_UPLOAD_PAUSE";
/// `<step>:<ms>` at which compactions in the bucket pause.
pub const BUCKET_COMPACTION_PAUSE_ENV: &str = "TESSERA_FAULT_BUCKET_COMPACTION_PAUSE";

/// The `ENOSPC` errno, the one error the disk-full handling keys on.
pub(crate) const ENOSPC: i32 = 28;

/// The error a write into a full filesystem fails with.
pub(crate) fn enospc() -> std::io::Error {
    std::io::Error::from_raw_os_error(ENOSPC)
}

/// Whether the disk-full hook is armed and its trigger file exists.
pub(crate) fn disk_full() -> bool {
    static TRIGGER: OnceLock<Option<PathBuf>> = OnceLock::new();
    TRIGGER
        .get_or_init(|| std::env::var_os(DISK_FULL_ENV).map(PathBuf::from))
        .as_ref()
        .is_some_and(|p| p.exists())
}

/// A parsed `<step>:<ms>` pause hook.
type Pause = OnceLock<Option<(String, u64)>>;

fn pause(cell: &'static Pause, env: &str, what: &str, step: &str) {
    let pause = cell.get_or_init(|| {
        let v = std::env::var(env).ok()?;
        let (s, ms) = v.split_once(':')?;
        Some((s.to_string(), ms.parse().ok()?))
    });
    if let Some((s, ms)) = pause {
        if s == step {
            tracing::warn!("fault hook: {what} paused at {step} for {ms}ms");
            std::thread::sleep(Duration::from_millis(*ms));
        }
    }
}

/// Pauses a compaction at `step` when the hook names it.
pub(crate) fn compaction_step(step: &str) {
    static PAUSE: Pause = OnceLock::new();
    pause(&PAUSE, COMPACTION_PAUSE_ENV, "compaction", step);
}

/// Pauses an upload of a flushed block at `step` when the hook names it.
pub(crate) fn upload_step(step: &str) {
    static PAUSE: Pause = OnceLock::new();
    pause(&PAUSE, UPLOAD_PAUSE_ENV, "upload", step);
}

/// Pauses a compaction in the bucket at `step` when the hook names it.
pub(crate) fn bucket_compaction_step(step: &str) {
    static PAUSE: Pause = OnceLock::new();
    pause(
        &PAUSE,
        BUCKET_COMPACTION_PAUSE_ENV,
        "bucket compaction",
        step,
    );
}
