//! Which partition a series goes to: a stable hash of (tenant, series)
//! over the tenant's shard of the log's partitions.
//!
//! The hash is over the series' canonical form (labels sorted by name,
//! empty values dropped, as storage keys a series), so a sender that
//! orders labels differently still reaches the same partition. The hash
//! is xxHash64 with a fixed seed: every node, of every version that keeps
//! this seed, must agree.

use std::hash::Hasher;

use twox_hash::XxHash64;

use crate::model::LabelRef;
use crate::tenant::TenantId;

const SEED: u64 = 0x7e55_e4a0_c1a5_7e45;

/// The partitions `tenant`'s series spread over: all of `0..total` when
/// `shard` is 0 or at least `total`, else `shard` of them chosen by the
/// tenant's hash (shuffle sharding, as Mimir's per-tenant shard size), in
/// ascending order.
pub fn tenant_shard(tenant: &TenantId, total: u32, shard: u32) -> Vec<u32> {
    if shard == 0 || shard >= total {
        return (0..total).collect();
    }
    let mut ranked: Vec<(u64, u32)> = (0..total)
        .map(|p| {
            let mut h = XxHash64::with_seed(SEED);
            h.write(tenant.as_str().as_bytes());
            h.write_u8(0xff);
            h.write_u32(p);
            (h.finish(), p)
        })
        .collect();
    ranked.sort_unstable();
    let mut out: Vec<u32> = ranked[..shard as usize].iter().map(|&(_, p)| p).collect();
    out.sort_unstable();
    out
}

/// The partition of one series among the tenant's `shard` (non-empty).
pub fn series_partition(tenant: &TenantId, labels: &[LabelRef<'_>], shard: &[u32]) -> u32 {
    let mut sorted: Vec<&LabelRef<'_>> = labels.iter().filter(|l| !l.value.is_empty()).collect();
    sorted.sort_by(|a, b| a.name.cmp(b.name));
    let mut h = XxHash64::with_seed(SEED);
    h.write(tenant.as_str().as_bytes());
    for l in sorted {
        h.write_u8(0xff);
        h.write(l.name);
        h.write_u8(0xfe);
        h.write(l.value);
    }
    shard[(h.finish() % shard.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    #[test]
    fn shards_are_stable_subsets() {
        assert_eq!(tenant_shard(&t("a"), 4, 0), vec![0, 1, 2, 3]);
        assert_eq!(tenant_shard(&t("a"), 4, 9), vec![0, 1, 2, 3]);
        let s = tenant_shard(&t("a"), 16, 3);
        assert_eq!(s.len(), 3);
        assert_eq!(s, tenant_shard(&t("a"), 16, 3));
        assert!(s.windows(2).all(|w| w[0] < w[1]) && s.iter().all(|&p| p < 16));
        assert_eq!(tenant_shard(&t("a"), 1, 1), vec![0]);
    }

    #[test]
    fn label_order_and_empty_values_do_not_move_a_series() {
        let shard: Vec<u32> = (0..16).collect();
        let a = [LabelRef::new("__name__", "up"), LabelRef::new("job", "x")];
        let b = [
            LabelRef::new("job", "x"),
            LabelRef::new("empty", ""),
            LabelRef::new("__name__", "up"),
        ];
        assert_eq!(
            series_partition(&t("a"), &a, &shard),
            series_partition(&t("a"), &b, &shard)
        );
        // Series spread: 200 series land on more than half the partitions.
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let v = i.to_string();
            let l = [LabelRef::new("__name__", "m"), LabelRef::new("i", &v)];
            seen.insert(series_partition(&t("a"), &l, &shard));
        }
        assert!(seen.len() > 8, "{seen:?}");
    }
}
