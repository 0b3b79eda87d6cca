//! `lnkit node init|run|schema|demo|<method>`: the node's glue. `run` starts
//! the node in the foreground; `<method>` is the JSON-RPC client, under the
//! CLI contract (fields from stdin JSON and `--set`, JSON out, exit codes).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use bitcoin::Network;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::input::{self, Input};
pub(crate) use super::node_run::init_logging;
use super::node_run::run_node;
pub use super::node_run::RunArgs;
use super::{CliError, Explain, StepResult};
use crate::node::datadir::{network_name, Datadir};
use crate::node::rpc;

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

pub(super) fn network_of(input: &Input, config: &[(String, String)]) -> Result<Network, CliError> {
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
