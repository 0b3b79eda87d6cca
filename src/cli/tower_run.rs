//! `lnkit tower run`: the watchtower server (teos's HTTP API over a SQLite
//! store, the chain followed for breaches).

use clap::Args;
use serde_json::{json, Value};

use super::chain::{backend, chain_failed, BackendArgs};
use super::input::{self, Input};
use super::{CliError, StepResult};
use crate::chain;

/// Flags of `lnkit tower run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The tower's directory (tower.sqlite, log).
    #[arg(long, value_name = "DIR")]
    datadir: std::path::PathBuf,
    /// The HTTP API's address (default 127.0.0.1:9814, teos's port; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Slots a registration gives (default 10000).
    #[arg(long)]
    slots: Option<u32>,
    /// Blocks a subscription lasts (default 4320).
    #[arg(long, value_name = "BLOCKS")]
    subscription_duration: Option<u32>,
    /// The largest encrypted blob accepted, in bytes (default 2048).
    #[arg(long, value_name = "BYTES")]
    max_blob: Option<usize>,
    /// Requests per second allowed from one address (default 50).
    #[arg(long, value_name = "N")]
    requests_per_second: Option<f64>,
    /// Confirmations after which a penalty is final (default 100).
    #[arg(long, value_name = "BLOCKS")]
    safe_depth: Option<u32>,
    /// How often to ask the chain for new blocks, in milliseconds (default 1000).
    #[arg(long, value_name = "MS")]
    poll_interval_ms: Option<u64>,
    /// The log filter: error, warn, info (default), debug, trace.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

/// `lnkit tower run`: prints one JSON line (`tower_id`, `listen`, `tip`) once it serves, then runs until stopped.
pub(super) fn run_tower(a: RunArgs, input: &Input) -> StepResult {
    use crate::tower::{http::Limits, run, service::Config};
    let network = input
        .opt("network", input::network)?
        .unwrap_or(bitcoin::Network::Regtest);
    let listen: std::net::SocketAddr = a
        .listen
        .as_deref()
        .unwrap_or("127.0.0.1:9814")
        .parse()
        .map_err(|_| CliError::bad("--listen: expected HOST:PORT, e.g. 127.0.0.1:9814"))?;
    let mut config = Config::default();
    config.slots = a.slots.unwrap_or(config.slots);
    config.duration = a.subscription_duration.unwrap_or(config.duration);
    config.max_blob = a.max_blob.unwrap_or(config.max_blob);
    config.safe_depth = a.safe_depth.unwrap_or(config.safe_depth).max(1);
    let rate = a.requests_per_second.unwrap_or(50.0);
    if rate.is_nan() || rate < 1.0 {
        return Err(CliError::bad("--requests-per-second: expected at least 1"));
    }
    let limits = Limits {
        max_body: 2 * config.max_blob + 1024,
        requests_per_second: rate,
    };
    std::fs::create_dir_all(&a.datadir)
        .map_err(|e| CliError::bad(format!("--datadir: {}: {e}", a.datadir.display())))?;
    super::node::init_logging(
        a.datadir.join("log"),
        a.log_level.as_deref().unwrap_or("info"),
    )?;
    let chain: run::SharedChain =
        std::sync::Arc::from(chain::open(&backend(&a.backend, network)?).map_err(chain_failed)?);
    let opts = run::RunOptions {
        datadir: a.datadir,
        listen,
        config,
        limits,
        poll_interval: std::time::Duration::from_millis(a.poll_interval_ms.unwrap_or(1000)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("runtime: {e}")))?;
    rt.block_on(async {
        let handle = run::start(opts, chain).await.map_err(|e| match e {
            e @ (run::RunError::Datadir(..) | run::RunError::Listen(..)) => CliError::bad(e.to_string()),
            e => CliError::failure(e.to_string()),
        })?;
        let tip = handle.tower.lock().expect("the tower never panics while locked").tip();
        let line = json!({"tower_id": handle.id.to_string(), "listen": handle.addr.to_string(), "tip": {"height": tip.height, "hash": tip.hash.to_string()}});
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| CliError::failure(format!("signals: {e}")))?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                    if handle.chain_stopped() { break; }
                }
            }
        }
        handle.stop().map_err(|e| CliError::failure(e.to_string()))
    })?;
    Ok(Value::Null)
}
