//! Timing, result digests and memory readings shared by both sides.

use std::time::{Duration, Instant};

/// A query of the comparison.
pub struct Query {
    /// Short name for the table.
    pub name: &'static str,
    /// PromQL text.
    pub expr: String,
    /// Range `(start, end, step)` in ms, or `None` for an instant query.
    pub range: Option<(i64, i64, i64)>,
    /// Evaluation time of an instant query (ms).
    pub time_ms: i64,
}

/// What a result looks like, cheaply comparable across engines.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Digest {
    /// Series in the result.
    pub series: usize,
    /// Points (samples) in the result.
    pub points: usize,
    /// Sum of every finite value.
    pub sum: f64,
    /// Values that are NaN or infinite.
    pub non_finite: usize,
}

impl Digest {
    /// Adds one value.
    pub fn add(&mut self, v: f64) {
        self.points += 1;
        if v.is_finite() {
            self.sum += v;
        } else {
            self.non_finite += 1;
        }
    }

    /// Whether `other` is the same result within `rel` relative error on the sum.
    pub fn agrees(&self, other: &Digest, rel: f64) -> bool {
        let scale = self.sum.abs().max(other.sum.abs()).max(f64::MIN_POSITIVE);
        self.series == other.series
            && self.points == other.points
            && self.non_finite == other.non_finite
            && (self.sum - other.sum).abs() / scale <= rel
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} series, {} points, sum {:.9e}",
            self.series, self.points, self.sum
        )?;
        if self.non_finite > 0 {
            write!(f, ", {} non-finite", self.non_finite)?;
        }
        Ok(())
    }
}

/// The median of `times` (zero if empty).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Times `f` with the wall clock.
pub fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak-RSS mark of `pid` (Linux `clear_refs` value 5), so the
/// next `VmHWM` reading is the peak since now. Returns the RSS at reset.
pub fn reset_peak(pid: &str) -> Option<u64> {
    if pid == "self" {
        release_free_memory();
    }
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").ok()?;
    status_kib(pid, "VmRSS:")
}

/// Peak RSS of `pid` above `base_kib` in MiB, if both readings exist.
pub fn peak_above_mib(pid: &str, base_kib: Option<u64>) -> Option<f64> {
    let peak = status_kib(pid, "VmHWM:")?;
    Some(peak.saturating_sub(base_kib?) as f64 / 1024.0)
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Hands freed heap pages back to the kernel, so that memory freed after
/// loading does not hide a query's peak inside the RSS baseline.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim only releases free memory; it has no
    // preconditions.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
