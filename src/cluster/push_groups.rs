//! The Pushgateway group registry of cluster mode: one entry per tenant in
//! the key-value bucket [`PUSH_GROUPS_BUCKET`], so a push through any node
//! sees (and marks stale) what the same group pushed through another.
//!
//! The registry's meaning stays in `write/push_groups.rs`; this file only
//! stores its bytes. Every change is a compare-and-set on the key's
//! revision: read the entry, let the caller apply its change to what it
//! read, write the result expecting that revision; when another node wrote
//! in between, the stream refuses the write and the change is applied again
//! to the newer value. Two nodes changing one tenant's groups at once
//! therefore never lose each other's groups.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation, UpdateErrorKind};
use async_nats::jetstream::{self, stream};

use super::node::Cluster;
use super::ClusterConfig;
use crate::storage::StorageError;
use crate::tenant::TenantId;

/// The key-value bucket of push-group registries (one key per tenant).
pub const PUSH_GROUPS_BUCKET: &str = "tessera_push_groups";

/// Largest registry one tenant may keep in cluster mode, in bytes of its
/// JSON: a key-value entry is one NATS message, which servers refuse over
/// 1 MiB by default; the rest is room for the message's headers.
pub const MAX_PUSH_GROUPS_BYTES: usize = 960 << 10;

/// How long one registry change may keep retrying (conflicts and NATS
/// errors) before the push is answered 503.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a registry change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The changed registry does not fit a key-value entry.
    #[error(
        "the tenant's push-group registry would take {size} bytes, more than the limit of \
         {MAX_PUSH_GROUPS_BYTES} bytes in cluster mode (one NATS key-value entry per tenant); \
         nothing stored: delete groups or push fewer series"
    )]
    TooLarge {
        /// The encoded size it would have had.
        size: usize,
    },
    /// NATS did not answer, or kept conflicting, until the deadline.
    #[error("push-group registry in {PUSH_GROUPS_BUCKET} not updated, retry: {0}")]
    Unavailable(String),
}

/// The bucket key of `tenant`: letters, digits, `-` and `_` as they are,
/// every other byte as `=` and two hex digits (tenant ids may hold
/// `.`, `!`, `*`, `'`, `(` and `)`, which keys may not, or not freely).
/// Never two tenants on one key: `=` itself is always escaped.
pub(crate) fn tenant_key(tenant: &TenantId) -> String {
    let mut key = String::with_capacity(tenant.as_str().len() + 2);
    key.push_str("t_");
    for b in tenant.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            key.push(b as char);
        } else {
            key.push_str(&format!("={b:02X}"));
        }
    }
    key
}

/// Creates or opens the bucket: one value per key, no expiry, the
/// cluster's replicas, values bounded by [`MAX_PUSH_GROUPS_BYTES`].
pub(crate) async fn bucket(
    js: &jetstream::Context,
    cfg: &ClusterConfig,
) -> Result<kv::Store, String> {
    super::node::open_bucket(
        js,
        kv::Config {
            bucket: PUSH_GROUPS_BUCKET.to_string(),
            description: "tessera push-group registries, one key per tenant".into(),
            history: 1,
            max_value_size: MAX_PUSH_GROUPS_BYTES as i32,
            num_replicas: cfg.replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await
}

/// What one attempt of a change wants written: the new bytes and what to
/// hand back once they are; `None` when nothing changed.
pub type Change<R> = Option<(Vec<u8>, R)>;

impl Cluster {
    /// Changes `tenant`'s registry (blocking): `change` gets the stored
    /// bytes (`None` when there are none) and returns the new ones, which
    /// are written only if nobody wrote since they were read; otherwise
    /// `change` runs again on the newer bytes. Returns what the successful
    /// attempt returned, `None` when it changed nothing.
    pub fn change_push_groups<R>(
        &self,
        tenant: &TenantId,
        mut change: impl FnMut(Option<&[u8]>) -> Result<Change<R>, String>,
    ) -> Result<Option<R>, RegistryError> {
        let store = &self.inner.push_groups;
        let key = tenant_key(tenant);
        let deadline = tokio::time::Instant::now() + CHANGE_TIMEOUT;
        self.inner.handle.block_on(async {
            let mut backoff = Duration::from_millis(2);
            loop {
                let why = match attempt(store, &key, &mut change).await {
                    Ok(done) => return done,
                    Err(Retry::Conflict) => {
                        let c = &self.inner.counters.push_group_conflicts;
                        c.fetch_add(1, Ordering::Relaxed);
                        "another node kept changing it".to_string()
                    }
                    Err(Retry::Nats(e)) => e,
                };
                if tokio::time::Instant::now() + backoff >= deadline {
                    return Err(RegistryError::Unavailable(why));
                }
                // Jittered, so two nodes in step do not collide again.
                let jitter = u64::from(clock_nanos()) % (backoff.as_millis() as u64 + 1);
                tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
                backoff = (backoff * 2).min(Duration::from_millis(200));
            }
        })
    }

    /// Removes `tenant`'s registry from the bucket (blocking; tenant
    /// deletion). Its history goes too (a purge).
    pub fn forget_push_groups(&self, tenant: &TenantId) -> Result<(), StorageError> {
        let key = tenant_key(tenant);
        self.inner
            .handle
            .block_on(async {
                tokio::time::timeout(CHANGE_TIMEOUT, self.inner.push_groups.purge(&key)).await
            })
            .map_err(|_| "timed out".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| {
                StorageError::Cluster(format!(
                    "removing the push groups from {PUSH_GROUPS_BUCKET}, retry: {e}"
                ))
            })
    }
}

/// The sub-second nanoseconds of the clock: jitter enough to set two
/// nodes' retries apart.
fn clock_nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// Why an attempt must be tried again.
enum Retry {
    /// Another writer changed the key since it was read.
    Conflict,
    /// NATS failed or timed out.
    Nats(String),
}

/// One read-change-write; `Ok` is final (done, or an error retrying
/// cannot fix).
async fn attempt<R>(
    store: &kv::Store,
    key: &str,
    change: &mut impl FnMut(Option<&[u8]>) -> Result<Change<R>, String>,
) -> Result<Result<Option<R>, RegistryError>, Retry> {
    let entry = tokio::time::timeout(Duration::from_secs(3), store.entry(key))
        .await
        .map_err(|_| Retry::Nats("reading timed out".into()))?
        .map_err(|e| Retry::Nats(format!("reading: {e}")))?;
    // A deleted or purged key leaves a marker whose revision a write must
    // still expect; no entry at all expects revision 0 (nothing written).
    let (bytes, revision) = match &entry {
        Some(e) if e.operation == Operation::Put => (Some(&e.value[..]), e.revision),
        Some(e) => (None, e.revision),
        None => (None, 0),
    };
    let (value, out) = match change(bytes) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(Ok(None)),
        Err(e) => return Ok(Err(RegistryError::Unavailable(e))),
    };
    if value.len() > MAX_PUSH_GROUPS_BYTES {
        return Ok(Err(RegistryError::TooLarge { size: value.len() }));
    }
    let write = store.update(key, value.into(), revision);
    match tokio::time::timeout(Duration::from_secs(3), write).await {
        Ok(Ok(_)) => Ok(Ok(Some(out))),
        Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => Err(Retry::Conflict),
        Ok(Err(e)) => Err(Retry::Nats(format!("writing: {e}"))),
        Err(_) => Err(Retry::Nats("writing timed out".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_are_valid_and_distinct() {
        // (tenant, key)
        let cases = [
            ("a", "t_a"),
            ("team-1_x", "t_team-1_x"),
            ("a.b", "t_a=2Eb"),
            ("..a", "t_=2E=2Ea"),
            ("(x)!*'", "t_=28x=29=21=2A=27"),
        ];
        for (tenant, want) in cases {
            let key = tenant_key(&TenantId::new(tenant).unwrap());
            assert_eq!(key, want, "{tenant}");
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)),
                "{key}"
            );
        }
        // The escape character cannot be typed into a tenant id, and an
        // escaped byte never equals a literal run.
        assert!(TenantId::new("a=2E").is_err());
        assert_ne!(
            tenant_key(&TenantId::new("a.").unwrap()),
            tenant_key(&TenantId::new("a_").unwrap())
        );
    }
}
