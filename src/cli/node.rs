//! `lnkit node init|run|schema|demo|<method>`: the node's glue. `run` starts
//! the node in the foreground; `<method>` is the JSON-RPC client, under the
//! CLI contract (fields from stdin JSON and `--set`, JSON out, exit codes).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::Network;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::chain::BackendArgs;
use super::input::{self, Input};
use super::{CliError, Explain, StepResult};
use crate::chain;
use crate::node::core::{self, NodeOptions, SharedChain};
use crate::node::datadir::{network_name, Datadir};
use crate::node::rpc;
use crate::tx::commitment::FeeratePerKw;

/// `lnkit node ...`
#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

/// The subcommands; any other word is a method of the running node.
#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Create a node's datadir and its BIP 39 seed (printed once), or restore one with --mnemonic.
    Init(InitArgs),
    /// Run the node in the foreground on --bitcoind or --chain-dir.
    Run(Box<RunArgs>),
    /// Print a method's request and response JSON Schemas.
    Schema(SchemaArgs),
    /// Three nodes in one process on an embedded chain: fund, open, pay both ways, close.
    Demo(super::node_demo::DemoArgs),
    /// A method of the running node (getinfo, newaddr, connect, fundchannel, pay, ...): `lnkit node getinfo --datadir DIR`.
    #[command(external_subcommand)]
    Method(Vec<String>),
}

/// Flags of `lnkit node init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The node's directory.
    #[arg(long, value_name = "DIR")]
    datadir: PathBuf,
    /// Restore from these BIP 39 words instead of making a new seed.
    #[arg(long, value_name = "WORDS")]
    mnemonic: Option<String>,
}

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

/// Flags of `lnkit node schema`.
#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// The method.
    method: String,
}

impl NodeArgs {
    /// Whether this is a call to a running node's method (which may read JSON from stdin).
    pub fn is_method(&self) -> bool {
        matches!(self.command, NodeCommand::Method(_))
    }
}

fn network_of(input: &Input, config: &[(String, String)]) -> Result<Network, CliError> {
    if let Some(n) = input.opt("network", input::network)? {
        return Ok(n);
    }
    match config.iter().rev().find(|(k, _)| k == "network") {
        Some((_, v)) => {
            let mut probe = Input::default();
            probe.set("network", Value::String(v.clone()));
            probe.req("network", input::network)
        }
        None => Ok(Network::Regtest),
    }
}

/// Run `lnkit node ...`.
pub fn run(args: NodeArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    match args.command {
        NodeCommand::Init(a) => init(a, input),
        NodeCommand::Run(a) => run_node(*a, input),
        NodeCommand::Schema(a) => schema(&a.method),
        NodeCommand::Demo(a) => super::node_demo::run(a, ex),
        NodeCommand::Method(words) => call(words, input),
    }
}

fn init(a: InitArgs, input: &Input) -> StepResult {
    let d = Datadir(a.datadir.clone());
    let network = network_of(input, &[])?;
    let entropy: [u8; 32] = bitcoin::secp256k1::rand::random();
    let m = d
        .init(network, a.mnemonic.as_deref(), entropy)
        .map_err(|e| match e {
            crate::node::datadir::DatadirError::Mnemonic(m) => {
                CliError::bad(format!("--mnemonic: {m}"))
            }
            crate::node::datadir::DatadirError::Exists(_) => {
                CliError::bad(format!("--datadir: {e}"))
            }
            e => CliError::failure(e.to_string()),
        })?;
    let seed = crate::signer::NodeSeed::new(&m.to_seed(""), network);
    let mut out = json!({
        "node_id": seed.node_id().to_string(),
        "network": network_name(network),
        "datadir": a.datadir.display().to_string(),
        "seed_file": d.seed_path().display().to_string(),
    });
    if a.mnemonic.is_none() {
        // Printed once: the seed file holds it, mode 0600.
        out["mnemonic"] = Value::String(m.to_string());
    } else {
        out["restored"] = Value::Bool(true);
    }
    Ok(out)
}

/// The options of `run`: flags first, then the config file.
fn run_node(a: RunArgs, input: &Input) -> StepResult {
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

fn schema(method: &str) -> StepResult {
    let m = rpc::method(method).ok_or_else(|| unknown_method(method))?;
    Ok(json!({
        "method": m.name,
        "summary": m.summary,
        "request": (m.request)(),
        "response": (m.response)(),
    }))
}

fn unknown_method(method: &str) -> CliError {
    CliError::bad(format!(
        "method: unknown method `{method}` (known: {})",
        rpc::METHODS
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// `lnkit node METHOD --datadir DIR [--set f=v]... [--input FILE]`: one JSON-RPC call.
fn call(words: Vec<String>, input: &mut Input) -> StepResult {
    let (method, rest) = words
        .split_first()
        .ok_or_else(|| CliError::bad("method: a method name is required"))?;
    let mut datadir = None;
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| CliError::bad(format!("{flag}: a value is required")))
        };
        match flag {
            "--datadir" => datadir = Some(PathBuf::from(value()?)),
            "--set" => {
                let v = value()?;
                let (f, val) = v.split_once('=').ok_or_else(|| {
                    CliError::bad(format!("--set: expected FIELD=VALUE, got {v:?}"))
                })?;
                input.set(f, super::contract::set_value(val));
            }
            "--input" | "-i" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| CliError::bad(format!("--input: cannot read {path}: {e}")))?;
                input.merge(Input::parse(&text)?);
            }
            // Any other `--some-field VALUE` is the field `some_field` (a
            // flag without a value is `true`): `rebalance --out X --in Y --force`.
            other if other.starts_with("--") && other.len() > 2 => {
                let field = other[2..].replace('-', "_");
                let value = match inline.clone() {
                    Some(v) => super::contract::set_value(&v),
                    None => match it.as_slice().first() {
                        Some(next) if !next.starts_with("--") => {
                            super::contract::set_value(it.next().expect("peeked"))
                        }
                        _ => Value::Bool(true),
                    },
                };
                input.set(&field, value);
            }
            other => {
                return Err(CliError::bad(format!(
                    "{other}: not a flag of `lnkit node {method}` (--datadir, --set, --input, or --FIELD VALUE)"
                )))
            }
        }
    }
    if rpc::method(method).is_none() {
        return Err(unknown_method(method));
    }
    let datadir =
        datadir.ok_or_else(|| CliError::bad("--datadir: which node (its datadir) is required"))?;
    let socket = Datadir(datadir).socket_path();
    let mut params = match input.to_value() {
        Value::Object(m) => m,
        _ => Default::default(),
    };
    params.remove("network");
    let mut stream = UnixStream::connect(&socket).map_err(|e| {
        CliError::failure(format!(
            "--datadir: no node answers at {}: {e} (is `lnkit node run` running?)",
            socket.display()
        ))
    })?;
    // Bounded: `pay` answers within its retry_for (default 60 s), `close` within its
    // unilateraltimeout (default 48 h, as Core Lightning's); nothing waits for ever.
    let given = |f: &str| params.get(f).and_then(Value::as_u64);
    let wait = match method.as_str() {
        "close" => given("unilateraltimeout").unwrap_or(172_800),
        _ => given("retry_for").unwrap_or(60),
    } + 60;
    stream
        .set_read_timeout(Some(Duration::from_secs(wait)))
        .map_err(|e| CliError::failure(format!("rpc: {e}")))?;
    let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": Value::Object(params)});
    let mut line = serde_json::to_vec(&req).expect("JSON");
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| CliError::failure(format!("rpc: {e}")))?;
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader
        .read_line(&mut answer)
        .map_err(|e| CliError::failure(format!("rpc: {e}")))?;
    let v: Value = serde_json::from_str(&answer)
        .map_err(|e| CliError::failure(format!("rpc: the node's answer is not JSON: {e}")))?;
    if let Some(err) = v.get("error") {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(-1);
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("failed")
            .to_string();
        return Err(if (-32602..=-32600).contains(&code) {
            CliError::bad(message)
        } else {
            CliError::failure(message)
        });
    }
    Ok(v.get("result").cloned().unwrap_or(Value::Null))
}
