//! `lnkit tower appointment|decrypt|watch`: the watchtower's steps (BOLT 13
//! draft, The Eye of Satoshi's format) — hand a penalty over under the
//! breach's txid, open it with the breach, and scan a block for breaches.

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::secp256k1::{PublicKey, Secp256k1};
use bitcoin::{Block, Transaction, Txid};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::chain::{backend, chain_failed, BackendArgs};
use super::input::{self, Input};
use super::{flag, CliError, Explain, StepResult};
use crate::chain;
use crate::message_signing;
use crate::tower::appointment::{Appointment, Locator};
use crate::tower::watcher::{open, scan_block, Opened};

/// `lnkit tower ...`
#[derive(Subcommand, Debug)]
pub enum TowerCommand {
    /// The appointment for a penalty: penalty transaction + revoked txid (from `lnkit penalty`) -> locator and encrypted blob; signed with --user-secret.
    Appointment(AppointmentArgs),
    /// Open an appointment with a breach transaction: the penalty, or why it does not match.
    Decrypt,
    /// Scan a block (field block_hex, or --height/--block-hash from --bitcoind/--chain-dir) for the appointments' locators.
    Watch(WatchArgs),
    /// Run a tower: teos's HTTP API, a SQLite store in --datadir, and the chain (--bitcoind or --chain-dir) watched for breaches.
    Run(RunArgs),
}

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

/// Flags of `lnkit tower appointment`.
#[derive(Args, Debug)]
pub struct AppointmentArgs {
    /// Sign the appointment as the tower's user with this key (field `user_secret`), as teos's `add_appointment` wants.
    #[arg(long)]
    user_secret: Option<String>,
}

/// Flags of `lnkit tower watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// The block at this height of the chain's best chain (field `height`; default its tip).
    #[arg(long)]
    height: Option<u32>,
    /// The block with this hash (field `block_hash`).
    #[arg(long)]
    block_hash: Option<String>,
}

/// Run `lnkit tower`.
pub fn run(cmd: TowerCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        TowerCommand::Appointment(a) => {
            flag(input, "user_secret", a.user_secret);
            appointment(input, ex)
        }
        TowerCommand::Decrypt => decrypt(input, ex),
        TowerCommand::Watch(w) => {
            flag(input, "height", w.height);
            flag(input, "block_hash", w.block_hash);
            let (block, height) = watched_block(&w.backend, input)?;
            let mut out = watch(input, &block, ex)?;
            if let Some(h) = height {
                out["height"] = json!(h);
            }
            Ok(out)
        }
        TowerCommand::Run(r) => run_tower(r, input),
    }
}

/// `lnkit tower run`: prints one JSON line (`tower_id`, `listen`, `tip`) once it serves, then runs until stopped.
fn run_tower(a: RunArgs, input: &Input) -> StepResult {
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

/// The penalty: `penalty_tx_hex`, or the one transaction of `penalty_txs` (`lnkit penalty`'s output).
fn penalty_tx(input: &Input) -> Result<Transaction, CliError> {
    if input.has("penalty_tx_hex") {
        return input.req("penalty_tx_hex", input::transaction);
    }
    let txs = input.objects("penalty_txs").map_err(|_| {
        input.error(
            "penalty_tx_hex",
            "missing required field (or penalty_txs from lnkit penalty)",
        )
    })?;
    match txs.as_slice() {
        [one] => one.req("tx_hex", input::transaction),
        many => Err(input.error(
            "penalty_txs",
            format!(
                "{} transactions; an appointment holds one (run lnkit penalty without --split, or give penalty_tx_hex)",
                many.len()
            ),
        )),
    }
}

/// The breach's txid: `revoked_txid` (aliases `breach_txid`, `dispute_txid`),
/// or the txid of `revoked_tx_hex`.
fn breach_txid(input: &Input) -> Result<Txid, CliError> {
    if let Some(txid) = input.opt_any(
        &["revoked_txid", "breach_txid", "dispute_txid"],
        input::txid,
    )? {
        return Ok(txid);
    }
    match input.opt("revoked_tx_hex", input::transaction)? {
        Some(tx) => Ok(tx.compute_txid()),
        None => Err(input.error(
            "revoked_txid",
            "missing required field (also accepted as: breach_txid, dispute_txid, or the transaction as revoked_tx_hex)",
        )),
    }
}

/// `lnkit tower appointment` on an input object.
pub fn appointment(input: &Input, ex: &mut Explain) -> StepResult {
    let penalty = penalty_tx(input)?;
    let breach = breach_txid(input)?;
    let to_self_delay = input.req("to_self_delay", input::uint32)?;
    if !penalty
        .input
        .iter()
        .any(|i| i.previous_output.txid == breach)
    {
        return Err(input.error(
            "revoked_txid",
            format!(
                "the penalty {} spends no output of {breach}",
                penalty.compute_txid()
            ),
        ));
    }
    let user = input.opt("user_secret", input::secret_key)?;
    let a = Appointment::new(&penalty, &breach, to_self_delay);
    ex.line(format!(
        "locator = the first 16 bytes of txid {breach} in its internal byte order = {}",
        a.locator
    ));
    ex.line(format!(
        "encrypted_blob = ChaCha20-Poly1305(key = SHA256(txid), nonce = 0^12) of the {}-byte penalty {}: {} bytes with the tag",
        bitcoin::consensus::serialize(&penalty).len(),
        penalty.compute_txid(),
        a.encrypted_blob.len()
    ));
    let mut out = json!({ "appointment": appointment_json(&a) });
    if let Some(key) = user {
        let secp = Secp256k1::new();
        ex.line("signature = zbase32 recoverable ECDSA over SHA256d(\"Lightning Signed Message:\" || locator || encrypted_blob || to_self_delay as u32 big-endian)");
        out["signature"] = json!(message_signing::sign(&secp, &a.signed_bytes(), &key));
        out["user_id"] = json!(PublicKey::from_secret_key(&secp, &key).to_string());
    }
    Ok(out)
}

/// An appointment as teos's API writes it.
fn appointment_json(a: &Appointment) -> Value {
    serde_json::to_value(a).expect("an appointment serializes")
}

/// An appointment object: `locator`, `encrypted_blob`, `to_self_delay` (optional here).
fn read_appointment(obj: &Input) -> Result<Appointment, CliError> {
    let locator = obj.req("locator", |v| {
        v.as_str()
            .ok_or_else(|| "expected 16-byte hex".to_string())?
            .parse::<Locator>()
            .map_err(|e| format!("expected 16-byte hex, got {e}"))
    })?;
    let encrypted_blob = obj.req("encrypted_blob", input::hex_bytes)?;
    let to_self_delay = obj.opt("to_self_delay", input::uint32)?.unwrap_or(0);
    Ok(Appointment {
        locator,
        encrypted_blob,
        to_self_delay,
    })
}

/// The appointment of `appointment` (an object), as `tower appointment` writes it.
fn the_appointment(input: &Input) -> Result<Appointment, CliError> {
    let obj = input
        .object("appointment")?
        .ok_or_else(|| input.error("appointment", "missing required field (an object with locator and encrypted_blob, as lnkit tower appointment writes)"))?;
    read_appointment(&obj)
}

fn opened_json(o: &Opened) -> Value {
    match &o.outcome {
        Ok((penalty, verified)) => json!({
            "locator": o.locator.to_string(),
            "breach_txid": o.breach_txid.to_string(),
            "penalty_txid": penalty.compute_txid().to_string(),
            "penalty_tx_hex": serialize_hex(penalty),
            "verified": verified,
        }),
        Err(why) => json!({
            "locator": o.locator.to_string(),
            "breach_txid": o.breach_txid.to_string(),
            "reason": why.to_string(),
        }),
    }
}

/// `lnkit tower decrypt` on an input object.
pub fn decrypt(input: &Input, ex: &mut Explain) -> StepResult {
    let a = the_appointment(input)?;
    let field = ["breach_tx_hex", "revoked_tx_hex", "tx_hex"]
        .into_iter()
        .find(|f| input.has(f))
        .unwrap_or("breach_tx_hex");
    let breach = input.req(field, input::transaction)?;
    let txid = breach.compute_txid();
    let locator = Locator::of(&txid);
    ex.line(format!("{field}: txid {txid}, locator {locator}"));
    if locator != a.locator {
        return Err(input.error(
            field,
            format!("its locator {locator} is not the appointment's {}: not the breach this appointment watches for", a.locator),
        ));
    }
    let opened = open(a.locator, &a.encrypted_blob, &breach);
    match &opened.outcome {
        Ok((penalty, verified)) => {
            ex.line(format!(
                "the blob decrypts under SHA256(txid) to {}, which spends the breach{}",
                penalty.compute_txid(),
                if *verified {
                    " and verifies against its outputs (Bitcoin Core's interpreter)"
                } else {
                    ""
                }
            ));
            Ok(opened_json(&opened))
        }
        Err(why) => Err(input.error("appointment.encrypted_blob", why)),
    }
}

/// The block `tower watch` scans, and its height when it came from a chain.
fn watched_block(args: &BackendArgs, input: &Input) -> Result<(Block, Option<u32>), CliError> {
    if let Some(bytes) = input.opt("block_hex", input::hex_bytes)? {
        let block = deserialize(&bytes).map_err(|e| {
            input.error(
                "block_hex",
                format!("expected a serialized block, got bytes that do not decode as one ({e})"),
            )
        })?;
        return Ok((block, None));
    }
    let network = input
        .opt("network", input::network)?
        .unwrap_or(bitcoin::Network::Regtest);
    let source = chain::open(
        &backend(args, network)
            .map_err(|e| CliError::bad(format!("block_hex: missing; or {}", e.message())))?,
    )
    .map_err(chain_failed)?;
    let block_hash = |v: &Value| -> input::Parsed<bitcoin::BlockHash> {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "expected a block hash (64 hex digits)".to_string())
    };
    let hash = match (
        input.opt("block_hash", block_hash)?,
        input.opt("height", input::uint32)?,
    ) {
        (Some(h), _) => h,
        (None, Some(height)) => source
            .block_hash(height)
            .map_err(chain_failed)?
            .ok_or_else(|| {
                input.error(
                    "height",
                    format!(
                        "above the chain's tip ({})",
                        source.best_block().map(|b| b.height).unwrap_or(0)
                    ),
                )
            })?,
        (None, None) => source.best_block().map_err(chain_failed)?.hash,
    };
    let height = source.header(&hash).map_err(chain_failed)?.height;
    Ok((source.block(&hash).map_err(chain_failed)?, Some(height)))
}

/// `lnkit tower watch` on an input object and a block.
pub fn watch(input: &Input, block: &Block, ex: &mut Explain) -> StepResult {
    let appointments = if input.has("appointments") {
        input
            .objects("appointments")?
            .iter()
            .map(read_appointment)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![the_appointment(input).map_err(|_| {
            input.error(
                "appointments",
                "missing required field (an array of appointments, or one as appointment)",
            )
        })?]
    };
    let mut by_locator: std::collections::HashMap<Locator, Vec<((), &[u8])>> = Default::default();
    for a in &appointments {
        by_locator
            .entry(a.locator)
            .or_default()
            .push(((), &a.encrypted_blob));
    }
    let found: Vec<Opened> = scan_block(block, |l| by_locator.get(l).cloned().unwrap_or_default())
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    ex.line(format!(
        "block {}: {} transactions matched against {} locators: {} match(es)",
        block.block_hash(),
        block.txdata.len(),
        by_locator.len(),
        found.len()
    ));
    let (ok, refused): (Vec<_>, Vec<_>) = found.iter().partition(|o| o.outcome.is_ok());
    Ok(json!({
        "block_hash": block.block_hash().to_string(),
        "transactions": block.txdata.len(),
        "appointments": appointments.len(),
        "penalties": ok.into_iter().map(opened_json).collect::<Vec<_>>(),
        "refused": refused.into_iter().map(opened_json).collect::<Vec<_>>(),
    }))
}
