//! The `tessera` binary: wiring only.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tessera::config::{Config, ServeFlags};
use tessera::model::{LabelRef, Sample};
use tessera::storage::{MatchOp, Matcher, SeriesInput, Storage, StorageConfig, SyncPolicy};
use tessera::synth::NodeExporterShape;
use tessera::tenant::TenantId;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Multi-tenant time-series database speaking the Prometheus APIs",
    after_help = "Run `tessera <COMMAND> --help` for a command's flags. Every `serve` flag \
                  has a config-file key (see the README's configuration reference). \
                  The log level is set by RUST_LOG (default: info)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server: the remote-write receiver, health and admin endpoints.
    Serve(ServeFlags),
    /// Opens the storage engine on a data dir, writes synthetic node-exporter
    /// data for a tenant, flushes it into a block, reads it back and prints
    /// what it did.
    Smoke {
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Tenant to write as.
        #[arg(long, default_value = "anonymous")]
        tenant: String,
        /// Hosts to simulate (about 100 series each).
        #[arg(long, default_value_t = 10)]
        hosts: usize,
        /// Samples per series.
        #[arg(long, default_value_t = 240)]
        samples: usize,
        /// WAL sync policy: none, batch, batch:<N>ms, always.
        #[arg(long = "wal.sync", default_value = "batch")]
        wal_sync: SyncPolicy,
    },
    /// Validates a YAML config file (keys, values, tenant ids, auth
    /// settings and key files) without starting anything; exits non-zero
    /// with the problem and its line.
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
    /// Remote-write load generator: sends pre-encoded node-exporter-like
    /// batches to a server and reports samples/s and samples per server
    /// CPU-second.
    BenchWrite(tessera::loadgen::BenchWriteArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        // Colour codes only for a terminal: log files and `docker logs`
        // stay greppable (`samples=123`).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(flags) => serve(&flags),
        Command::Smoke {
            data_dir,
            tenant,
            hosts,
            samples,
            wal_sync,
        } => smoke(data_dir, &tenant, hosts, samples, wal_sync),
        Command::BenchWrite(args) => tessera::loadgen::run(&args),
        Command::CheckConfig { file } => check_config(&file),
    }
}

/// Prints "FILE: valid", or the problem (with its line for YAML errors)
/// and exits 1.
fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    let checked = Config::load(file).and_then(|cfg| cfg.server_config().map(|_| ()));
    match checked {
        Ok(()) => {
            println!("{}: valid", file.display());
            Ok(())
        }
        Err(e) => {
            eprintln!("{}: invalid: {e}", file.display());
            std::process::exit(1);
        }
    }
}

fn serve(flags: &ServeFlags) -> anyhow::Result<()> {
    let config = Config::from_flags(flags)?;
    let cfg = config.server_config()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(tessera::server::serve_with_reload(
            cfg,
            Some((flags.clone(), config)),
        ))?;
    Ok(())
}

fn smoke(
    data_dir: PathBuf,
    tenant: &str,
    hosts: usize,
    n: usize,
    sync: SyncPolicy,
) -> anyhow::Result<()> {
    let tenant = TenantId::new(tenant).context("--tenant")?;
    let mut cfg = StorageConfig::new(&data_dir);
    cfg.wal.sync = sync;
    cfg.maintenance_interval = None;
    let started = Instant::now();
    let (storage, stats) =
        Storage::open(cfg).with_context(|| format!("opening {}", data_dir.display()))?;
    println!(
        "opened {} in {:?}: {} tenants, {} blocks, {} samples replayed",
        data_dir.display(),
        started.elapsed(),
        stats.tenants,
        stats.blocks,
        stats.samples
    );
    let shape = NodeExporterShape {
        hosts,
        interval_ms: 15_000,
        seed: 1,
    };
    let start_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64
        / 15_000
        * 15_000
        - n as i64 * 15_000;
    let labels: Vec<_> = (0..shape.series_count()).map(|s| shape.labels(s)).collect();
    let samples: Vec<Vec<Sample>> = (0..shape.series_count())
        .map(|s| shape.samples(s, start_ms, n))
        .collect();
    let refs: Vec<Vec<LabelRef>> = labels.iter().map(|l| l.refs()).collect();
    let batch: Vec<SeriesInput> = refs
        .iter()
        .zip(&samples)
        .map(|(l, s)| SeriesInput {
            labels: l,
            samples: s,
            histograms: &[],
        })
        .collect();
    let t = Instant::now();
    let out = storage.append(&tenant, &batch)?;
    println!(
        "appended {} samples ({} rejected) for {} series in {:?}",
        out.accepted,
        out.rejected,
        batch.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let block = storage.flush(&tenant)?;
    if let Some(b) = block {
        println!(
            "flushed block {} ({} series, {} samples) in {:?}",
            b.ulid,
            b.stats.num_series,
            b.stats.num_samples,
            t.elapsed()
        );
    }
    let m = Matcher::new(MatchOp::Equal, "__name__", "node_load1")?;
    let got = storage.querier(&tenant, i64::MIN, i64::MAX).select(&[m])?;
    let points: usize = got.iter().map(|s| s.samples.len()).sum();
    println!(
        "read back node_load1: {} series, {} samples",
        got.len(),
        points
    );
    storage.close()?;
    Ok(())
}
