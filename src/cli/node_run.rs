//! `lnkit node run`: the node process (its chain, peers, channels and
//! control socket), with its logging.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::chain::BackendArgs;
use super::input::Input;
use super::node::*;
use super::{CliError, StepResult};
use crate::chain;
use crate::node::core::{self, NodeOptions, SharedChain};
use crate::node::datadir::Datadir;
use crate::tx::commitment::FeeratePerKw;

/// Flags of `lnkit node run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The node's directory.
    #[arg(long, value_name = "DIR")]
    datadir: PathBuf,
    /// Listen for peers here (default 127.0.0.1:9735; `none` to not listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    #[command(flatten)]
    backend: BackendArgs,
    /// The node's alias.
    #[arg(long)]
    alias: Option<String>,
    /// The batching window in milliseconds (Core Lightning's --commit-time; default 10).
    #[arg(long, value_name = "MS")]
    commit_time: Option<u64>,
    /// The log filter: error, warn, info (default), debug, trace.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Enable developer methods (`dev-broadcast-revoked`), for tests; never on a node with real funds.
    #[arg(long)]
    dev: bool,
    /// An address for our node_announcement, HOST:PORT (repeatable; default: the listen address).
    #[arg(long, value_name = "HOST:PORT")]
    announce_addr: Vec<String>,
    /// The node_announcement colour, 6 hex digits (default: from the node id).
    #[arg(long, value_name = "RRGGBB")]
    rgb: Option<String>,
    /// Gossip on a test's clock: flush every second, disable a channel 1 s after its peer leaves (Core Lightning's --dev-fast-gossip).
    #[arg(long)]
    dev_fast_gossip: bool,
    /// A watchtower (teos's HTTP API, e.g. http://127.0.0.1:9814) to hand an appointment for every revoked state (repeatable).
    #[arg(long, value_name = "URL")]
    tower: Vec<String>,
    /// The feerate of the penalties handed to towers, sat per 1000 weight (default 2500).
    #[arg(long, value_name = "SAT_PER_KW")]
    tower_feerate_per_kw: Option<u32>,
}

/// The options of `run`: flags first, then the config file.
pub(super) fn run_node(a: RunArgs, input: &Input) -> StepResult {
    let d = Datadir(a.datadir.clone());
    let config = d
        .config()
        .map_err(|e| CliError::bad(format!("config: {e}")))?;
    let conf = |key: &str| {
        config
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let network = network_of(input, &config)?;
    let mut backend = a.backend.clone();
    backend.bitcoind = backend.bitcoind.or_else(|| conf("bitcoind"));
    backend.rpc_cookie = backend
        .rpc_cookie
        .or_else(|| conf("rpc-cookie").map(PathBuf::from));
    backend.rpc_user = backend.rpc_user.or_else(|| conf("rpc-user"));
    backend.rpc_password = backend.rpc_password.or_else(|| conf("rpc-password"));
    backend.chain_dir = backend
        .chain_dir
        .or_else(|| conf("chain-dir").map(PathBuf::from));
    if backend.fallback_feerate_per_kw.is_none() {
        backend.fallback_feerate_per_kw =
            conf("fallback-feerate-per-kw").and_then(|v| v.parse().ok());
    }
    if backend.bitcoind.is_none() && backend.chain_dir.is_none() {
        return Err(CliError::bad("--bitcoind or --chain-dir: the node needs a chain (a flag, or a line in the datadir's config)"));
    }
    let listen = match a.listen.or_else(|| conf("listen")).as_deref() {
        Some("none") => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| CliError::bad(format!("--listen: `{s}` is not HOST:PORT")))?,
        ),
        None => Some("127.0.0.1:9735".parse().expect("an address")),
    };
    let commit_ms = a
        .commit_time
        .or_else(|| conf("commit-time").and_then(|v| v.parse().ok()))
        .unwrap_or(10);
    let level = a
        .log_level
        .or_else(|| conf("log-level"))
        .unwrap_or_else(|| "info".into());
    init_logging(d.path("log"), &level)?;
    // A second node on this datadir is refused before it touches the chain.
    drop(
        d.lock()
            .map_err(|e| CliError::bad(format!("--datadir: {e}")))?,
    );
    let mut gossip = core::GossipOptions::default();
    for a in a.announce_addr.iter().cloned().chain(conf("announce-addr")) {
        gossip.addresses.push(
            crate::gossip::announce::NetAddress::parse(&a)
                .map_err(|e| CliError::bad(format!("--announce-addr: {e}")))?,
        );
    }
    if let Some(rgb) = a.rgb.clone().or_else(|| conf("rgb")) {
        let bytes = hex::decode(&rgb)
            .ok()
            .and_then(|b| <[u8; 3]>::try_from(b).ok())
            .ok_or_else(|| CliError::bad(format!("--rgb: `{rgb}` is not 6 hex digits")))?;
        gossip.color = Some(bytes);
    }
    if a.dev_fast_gossip {
        gossip.flush = Duration::from_secs(1);
        gossip.disable_after = Duration::from_secs(1);
    }
    let mut towers = a.tower.clone();
    towers.extend(
        config
            .iter()
            .filter(|(k, _)| k == "tower")
            .map(|(_, v)| v.clone()),
    );
    for t in &towers {
        let rest = t.strip_prefix("http://").unwrap_or("");
        if rest.split('/').next().is_none_or(|h| !h.contains(':')) {
            return Err(CliError::bad(format!(
                "--tower: `{t}` is not http://HOST:PORT (teos's API is plain HTTP)"
            )));
        }
    }
    if a.tower_feerate_per_kw.is_some_and(|f| f < 253) {
        return Err(CliError::bad(
            "--tower-feerate-per-kw: at least 253 (1 sat/vB)",
        ));
    }
    let backend = super::chain::backend(&backend, network)?;
    let chain: SharedChain = Arc::from(chain::open(&backend).map_err(super::chain::chain_failed)?);
    let opts = NodeOptions {
        datadir: d,
        network,
        listen,
        alias: a
            .alias
            .or_else(|| conf("alias"))
            .unwrap_or_else(|| "lnkit".into()),
        commit_time: Duration::from_millis(commit_ms),
        poll_interval: Duration::from_millis(500),
        channel: crate::channel::Config::default(),
        dev: a.dev,
        gossip,
        towers,
        tower_feerate: FeeratePerKw(
            a.tower_feerate_per_kw
                .or_else(|| conf("tower-feerate-per-kw").and_then(|v| v.parse().ok()))
                .unwrap_or(core::DEFAULT_TOWER_FEERATE.0),
        ),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("runtime: {e}")))?;
    rt.block_on(async {
        let node = core::start(opts, chain).await.map_err(|e| match e {
            core::NodeError::Datadir(e) => CliError::bad(format!("--datadir: {e}")),
            e => CliError::failure(e.to_string()),
        })?;
        let handle_stop = tokio::signal::ctrl_c();
        tokio::select! {
            _ = handle_stop => {}
            _ = wait_stopped(node) => {}
        }
        Ok::<_, CliError>(())
    })?;
    Ok(Value::Null)
}

async fn wait_stopped(node: core::NodeHandle) {
    node.stopped().await;
    // Let the control socket write `stop`'s answer before the process ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Logs through `tracing`, to stderr and to `path` (a datadir's `log`).
pub(crate) fn init_logging(path: PathBuf, level: &str) -> Result<(), CliError> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| CliError::failure(format!("{}: {e}", path.display())))?;
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| CliError::bad(format!("--log-level: {e}")))?;
    let writer = std::io::stderr.and(Arc::new(file));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(())
}
