//! Usage per tenant, per UTC day: what a provider bills on and what a
//! customer may see about itself. Samples ingested (stored), series
//! created, samples rejected by reason, queries and samples read are
//! counted as requests happen; active series, samples in blocks and bytes
//! on disk are read from storage when asked.
//!
//! Daily totals survive restarts: they are written to the storage's state
//! file `usage.json` every [`PERSIST_EVERY`] and at shutdown, and read back
//! when storage opens. Samples read are counted by storage's queriers
//! (every read path) and folded into the current day when the totals are
//! read or written.
//!
//! Endpoints: `GET /api/v1/status/usage` (the caller's own tenant; an
//! admin may pass `tenant=`), `GET /api/v1/admin/tenants` (every tenant
//! with its usage) and `DELETE /api/v1/admin/tenants/{tenant}?confirm=...`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::query::json_response;
use super::{blocking, ApiError, AppState, Params, Reader};
use crate::storage::Storage;
use crate::tenant::TenantId;

/// How often the daily totals are written to disk.
pub const PERSIST_EVERY: Duration = Duration::from_secs(30);
/// The state file holding the daily totals.
const USAGE_FILE: &str = "usage.json";
/// Days of history kept per tenant.
const MAX_DAYS: usize = 400;

/// One tenant's counts over one UTC day (or summed over days).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DayUsage {
    /// Samples stored (accepted by storage; duplicates not counted).
    pub samples_ingested: u64,
    /// Series created by those samples.
    pub series_created: u64,
    /// Samples refused, by the reason `tessera_samples_rejected_total` uses.
    pub samples_rejected: BTreeMap<String, u64>,
    /// Query requests (instant, range, remote read).
    pub queries: u64,
    /// Samples read by every read path.
    pub samples_read: u64,
}

impl DayUsage {
    fn add(&mut self, o: &DayUsage) {
        self.samples_ingested += o.samples_ingested;
        self.series_created += o.series_created;
        for (r, n) in &o.samples_rejected {
            *self.samples_rejected.entry(r.clone()).or_default() += n;
        }
        self.queries += o.queries;
        self.samples_read += o.samples_read;
    }
}

/// Every tenant's daily counts.
#[derive(Debug, Default)]
pub struct Usage {
    days: Mutex<BTreeMap<TenantId, BTreeMap<String, DayUsage>>>,
    /// Storage's samples-read counter as last folded in, per tenant.
    reads_seen: Mutex<HashMap<TenantId, u64>>,
}

#[derive(Serialize, Deserialize)]
struct UsageFile {
    version: u32,
    tenants: BTreeMap<String, BTreeMap<String, DayUsage>>,
}

impl Usage {
    fn today(&self, tenant: &TenantId, f: impl FnOnce(&mut DayUsage)) {
        let mut days = self.days.lock();
        let per_day = days.entry(tenant.clone()).or_default();
        f(per_day.entry(utc_date(now_s())).or_default());
        while per_day.len() > MAX_DAYS {
            per_day.pop_first();
        }
    }

    /// Counts what storage accepted from one request.
    pub fn add_stored(&self, tenant: &TenantId, samples: u64, series: u64) {
        if samples > 0 || series > 0 {
            self.today(tenant, |d| {
                d.samples_ingested += samples;
                d.series_created += series;
            });
        }
    }

    /// Counts refused samples.
    pub fn add_rejected(&self, tenant: &TenantId, reason: &str, n: u64) {
        if n > 0 {
            self.today(tenant, |d| {
                *d.samples_rejected.entry(reason.to_string()).or_default() += n;
            });
        }
    }

    /// Counts one query request.
    pub fn add_query(&self, tenant: &TenantId) {
        self.today(tenant, |d| d.queries += 1);
    }

    /// Counts samples read by a path storage does not count (a cluster
    /// fan-out: the owners' queriers count into their partitions'
    /// storages, which usage does not see).
    pub fn add_read(&self, tenant: &TenantId, n: u64) {
        if n > 0 {
            self.today(tenant, |d| d.samples_read += n);
        }
    }

    /// Folds storage's samples-read counters into today.
    pub fn sync_reads(&self, storage: &Storage) {
        let mut seen = self.reads_seen.lock();
        for t in storage.tenant_ids() {
            let now = storage.samples_read(&t);
            let before = seen.insert(t.clone(), now).unwrap_or(0);
            let delta = now.saturating_sub(before);
            if delta > 0 {
                self.today(&t, |d| d.samples_read += delta);
            }
        }
    }

    /// The tenant's days, oldest first.
    pub fn days(&self, tenant: &TenantId) -> Vec<(String, DayUsage)> {
        self.days
            .lock()
            .get(tenant)
            .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The tenant's days summed.
    pub fn total(&self, tenant: &TenantId) -> DayUsage {
        let mut total = DayUsage::default();
        if let Some(days) = self.days.lock().get(tenant) {
            days.values().for_each(|d| total.add(d));
        }
        total
    }

    /// Tenants with data in `storage` or any recorded usage, sorted.
    pub fn tenants(&self, storage: &Storage) -> Vec<TenantId> {
        let mut tenants = storage.tenant_ids();
        tenants.extend(self.days.lock().keys().cloned());
        tenants.sort();
        tenants.dedup();
        tenants
    }

    /// Forgets a deleted tenant.
    pub fn forget(&self, tenant: &TenantId) {
        self.days.lock().remove(tenant);
        self.reads_seen.lock().remove(tenant);
    }

    /// Reads the totals saved by an earlier run (merged into what this run
    /// counted so far). A damaged file is logged and ignored.
    pub fn load(&self, storage: &Storage) {
        let bytes = match storage.read_state_file(USAGE_FILE) {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the usage totals; counting from zero");
                return;
            }
        };
        let file: UsageFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "usage totals are damaged; counting from zero");
                return;
            }
        };
        let mut days = self.days.lock();
        for (t, per_day) in file.tenants {
            let Ok(t) = TenantId::new(&t) else { continue };
            let mine = days.entry(t).or_default();
            for (day, u) in per_day {
                mine.entry(day).or_default().add(&u);
            }
        }
    }

    /// Writes the totals (after folding in the reads).
    pub fn persist(&self, storage: &Storage) {
        self.sync_reads(storage);
        let tenants = self
            .days
            .lock()
            .iter()
            .map(|(t, d)| (t.as_str().to_string(), d.clone()))
            .collect();
        let file = UsageFile {
            version: 1,
            tenants,
        };
        let bytes = serde_json::to_vec(&file).unwrap_or_default();
        if let Err(e) = storage.write_state_file(USAGE_FILE, &bytes) {
            tracing::error!(error = %e, "cannot write the usage totals");
        }
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DD` of a Unix time, UTC (the days-to-civil conversion of the
/// proleptic Gregorian calendar).
pub fn utc_date(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A tenant's usage as JSON: what it occupies now, its days and the sum.
fn tenant_json(storage: &Storage, usage: &Usage, tenant: &TenantId) -> serde_json::Value {
    let fp = storage.footprint(tenant);
    let days = usage.days(tenant);
    let total = usage.total(tenant);
    serde_json::json!({
        "tenant": tenant.as_str(),
        "active_series": fp.active_series,
        "samples_in_blocks": fp.samples_in_blocks,
        "bytes_on_disk": fp.bytes_on_disk,
        "total": total,
        "days": days.into_iter().map(|(date, d)| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["date"] = serde_json::Value::String(date);
            v
        }).collect::<Vec<_>>(),
    })
}

fn success(data: serde_json::Value) -> Response {
    json_response(serde_json::json!({"status": "success", "data": data}).to_string())
}

/// `GET /api/v1/status/usage`: the caller's tenant, or with `tenant=` any
/// tenant for an admin.
pub(crate) async fn status_usage(
    State(state): State<AppState>,
    reader: Reader,
    params: Params,
) -> Result<Response, ApiError> {
    let storage = state.require_storage()?;
    let tenant = match params.get("tenant") {
        Some(t) => {
            let t = TenantId::new(t)
                .map_err(|e| ApiError::BadData(format!("invalid parameter \"tenant\": {e}")))?;
            if t != reader.0.tenant {
                state.authenticator().authorize_admin(&reader.0)?;
            }
            t
        }
        None => reader.0.tenant.clone(),
    };
    let usage = state.metrics().clone();
    let body = blocking(move || {
        usage.usage().sync_reads(&storage);
        Ok(tenant_json(&storage, usage.usage(), &tenant))
    })
    .await?;
    Ok(success(body))
}

/// `GET /api/v1/admin/tenants`: every tenant with data or usage.
pub(crate) async fn list_tenants(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Response, ApiError> {
    state.authenticator().authorize_admin(&reader.0)?;
    let storage = state.require_storage()?;
    let metrics = state.metrics().clone();
    let body = blocking(move || {
        let usage = metrics.usage();
        usage.sync_reads(&storage);
        Ok(serde_json::Value::Array(
            usage
                .tenants(&storage)
                .iter()
                .map(|t| tenant_json(&storage, usage, t))
                .collect(),
        ))
    })
    .await?;
    Ok(success(body))
}

/// `DELETE /api/v1/admin/tenants/{tenant}?confirm={tenant}`: deletes all
/// of the tenant's data (head, WAL, blocks, metadata, push groups, usage),
/// logged as an audit line. Nothing of another tenant is touched. In
/// cluster mode the deletion is logged to every partition and answered
/// once the log holds it (`deleted` is then true: whether the tenant held
/// data is known only to the owners), and the tenant's push groups are
/// removed from the cluster's key-value bucket; usage is forgotten on the
/// node that took the request.
pub(crate) async fn delete_tenant(
    State(state): State<AppState>,
    reader: Reader,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    state.authenticator().authorize_admin(&reader.0)?;
    let tenant =
        TenantId::new(&name).map_err(|e| ApiError::BadData(format!("invalid tenant: {e}")))?;
    if params.get("confirm") != Some(tenant.as_str()) {
        return Err(ApiError::BadData(format!(
            "deleting tenant {tenant} needs confirm={tenant}: it removes all of its data"
        )));
    }
    let storage = state.require_storage()?;
    let by = reader.0.credential.clone();
    let st = state.clone();
    let t = tenant.clone();
    let cluster = state.cluster().cloned();
    let existed = blocking(move || {
        // Cluster mode: the tenant's samples, metadata and exemplars live
        // in the partitions' storages; a record in every partition has
        // each owner delete them, after everything logged before it.
        // The push groups live in the cluster's key-value bucket, and the
        // node's own storage holds the rest.
        let logged = match &cluster {
            Some(c) => {
                let logged = c.publish_deletion(&t)? > 0;
                c.forget_push_groups(&t)?;
                logged
            }
            None => false,
        };
        let existed = storage.delete_tenant(&t)? || logged;
        st.push_groups().forget(&t);
        st.metrics().usage().forget(&t);
        st.metrics().usage().persist(&storage);
        Ok(existed)
    })
    .await?;
    tracing::warn!(target: "audit", tenant = %tenant, by = %by, existed, "tenant deleted");
    Ok(success(
        serde_json::json!({"tenant": tenant.as_str(), "deleted": existed}),
    ))
}
