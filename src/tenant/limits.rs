//! Per-tenant ingestion rate limits: one token bucket per tenant.
//!
//! Like Cortex/Mimir's `ingestion_rate` and `ingestion_burst_size`, a
//! request is admitted or refused as a whole: a bucket holds up to `burst`
//! samples and refills at `rate` samples per second.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::TenantId;

/// A tenant's rate limit. A rate of 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimit {
    /// Samples per second.
    pub rate: f64,
    /// Bucket size in samples; 0 means "one second's worth" (`rate`).
    pub burst: u64,
}

impl RateLimit {
    fn capacity(&self) -> f64 {
        if self.burst == 0 {
            self.rate
        } else {
            self.burst as f64
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets for every tenant, with defaults and per-tenant overrides.
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Defaults and per-tenant overrides; replaced whole by a reload.
    limits: RwLock<(RateLimit, HashMap<TenantId, RateLimit>)>,
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

impl RateLimiter {
    /// A limiter applying `defaults` to every tenant without an override.
    pub fn new(defaults: RateLimit, overrides: HashMap<TenantId, RateLimit>) -> RateLimiter {
        RateLimiter {
            limits: RwLock::new((defaults, overrides)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit that applies to `tenant`.
    pub fn limit(&self, tenant: &TenantId) -> RateLimit {
        let (defaults, overrides) = &*self.limits.read();
        overrides.get(tenant).copied().unwrap_or(*defaults)
    }

    /// Replaces the limits (a config reload). A tenant's bucket keeps its
    /// tokens, refilled at the new rate and capped by the new burst.
    pub fn set_limits(&self, defaults: RateLimit, overrides: HashMap<TenantId, RateLimit>) {
        *self.limits.write() = (defaults, overrides);
    }

    /// Takes `n` samples' worth of tokens for `tenant`, or refuses (taking
    /// nothing) and returns the limit that was hit.
    pub fn try_take(&self, tenant: &TenantId, n: u64) -> Result<(), RateLimit> {
        self.try_take_at(tenant, n, Instant::now())
    }

    pub(crate) fn try_take_at(
        &self,
        tenant: &TenantId,
        n: u64,
        now: Instant,
    ) -> Result<(), RateLimit> {
        let limit = self.limit(tenant);
        if limit.rate <= 0.0 || !limit.rate.is_finite() {
            return Ok(());
        }
        let cap = limit.capacity();
        let mut buckets = self.buckets.lock();
        let b = buckets.entry(tenant.clone()).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * limit.rate).min(cap);
        b.last = now;
        let want = n as f64;
        if want > b.tokens {
            return Err(limit);
        }
        b.tokens -= want;
        Ok(())
    }

    /// How long until `n` samples would fit in `tenant`'s bucket (what a
    /// refused sender is told to wait, `Retry-After`), or `None` when they
    /// never can, being more than the burst, or there is no limit.
    pub fn wait_for(&self, tenant: &TenantId, n: u64) -> Option<Duration> {
        self.wait_for_at(tenant, n, Instant::now())
    }

    pub(crate) fn wait_for_at(&self, tenant: &TenantId, n: u64, now: Instant) -> Option<Duration> {
        let limit = self.limit(tenant);
        let cap = limit.capacity();
        let want = n as f64;
        if limit.rate <= 0.0 || !limit.rate.is_finite() || want > cap {
            return None;
        }
        let tokens = self.buckets.lock().get(tenant).map_or(cap, |b| {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            (b.tokens + elapsed * limit.rate).min(cap)
        });
        Some(Duration::from_secs_f64(
            (want - tokens).max(0.0) / limit.rate,
        ))
    }

    /// The tenant's bucket size in samples.
    pub fn burst(&self, tenant: &TenantId) -> u64 {
        self.limit(tenant).capacity() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    #[test]
    fn bucket_drains_refills_and_is_per_tenant() {
        let lim = RateLimit {
            rate: 10.0,
            burst: 20,
        };
        let rl = RateLimiter::new(RateLimit::default(), HashMap::from([(t("a"), lim)]));
        let now = Instant::now();
        assert_eq!(rl.try_take_at(&t("a"), 15, now), Ok(()));
        assert_eq!(rl.try_take_at(&t("a"), 6, now), Err(lim));
        // A refused request takes nothing.
        assert_eq!(rl.try_take_at(&t("a"), 5, now), Ok(()));
        assert_eq!(rl.try_take_at(&t("a"), 1, now), Err(lim));
        let later = now + Duration::from_millis(500);
        assert_eq!(rl.try_take_at(&t("a"), 5, later), Ok(()));
        assert_eq!(rl.try_take_at(&t("a"), 1, later), Err(lim));
        // Refill never exceeds the burst.
        let much_later = now + Duration::from_secs(3600);
        assert_eq!(rl.try_take_at(&t("a"), 21, much_later), Err(lim));
        assert_eq!(rl.try_take_at(&t("a"), 20, much_later), Ok(()));
        // Tenant b has no limit.
        assert_eq!(rl.try_take_at(&t("b"), 1_000_000, now), Ok(()));
    }

    #[test]
    fn wait_is_the_time_to_refill_what_is_missing() {
        let lim = RateLimit {
            rate: 10.0,
            burst: 20,
        };
        let rl = RateLimiter::new(RateLimit::default(), HashMap::from([(t("a"), lim)]));
        let now = Instant::now();
        // A full bucket (never used): no wait.
        assert_eq!(rl.wait_for_at(&t("a"), 20, now), Some(Duration::ZERO));
        assert_eq!(rl.try_take_at(&t("a"), 15, now), Ok(()));
        // 5 left; 8 more need 0.3 s at 10/s, less after 100 ms.
        assert_eq!(
            rl.wait_for_at(&t("a"), 8, now),
            Some(Duration::from_millis(300))
        );
        let later = now + Duration::from_millis(100);
        let w = rl.wait_for_at(&t("a"), 8, later).unwrap();
        assert!((w.as_secs_f64() - 0.2).abs() < 1e-9, "{w:?}");
        // More than the burst never fits; no limit, nothing to wait for.
        assert_eq!(rl.wait_for_at(&t("a"), 21, now), None);
        assert_eq!(rl.wait_for_at(&t("b"), 1_000_000, now), None);
        assert_eq!((rl.burst(&t("a")), rl.burst(&t("b"))), (20, 0));
    }

    #[test]
    fn zero_burst_means_one_second_of_rate() {
        let lim = RateLimit {
            rate: 5.0,
            burst: 0,
        };
        let rl = RateLimiter::new(lim, HashMap::new());
        let now = Instant::now();
        assert_eq!(rl.try_take_at(&t("x"), 6, now), Err(lim));
        assert_eq!(rl.try_take_at(&t("x"), 5, now), Ok(()));
        assert_eq!(rl.try_take_at(&t("x"), 0, now), Ok(()));
    }
}
