//! `lnkit tower appointment|decrypt|watch`: the watchtower's steps (BOLT 13
//! draft, The Eye of Satoshi's format) — hand a penalty over under the
//! breach's txid, open it with the breach, and scan a block for breaches.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{PublicKey, Secp256k1};
use bitcoin::{Transaction, Txid};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::chain::BackendArgs;
use super::input::{self, Input};
use super::tower_run::run_tower;
pub use super::tower_run::RunArgs;
pub use super::tower_watch::watch;
use super::tower_watch::watched_block;
use super::{flag, CliError, Explain, StepResult};
use crate::message_signing;
use crate::tower::appointment::{Appointment, Locator};
use crate::tower::watcher::{open, Opened};

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

/// The penalty: `penalty_tx_hex`, or the one transaction of `penalty_txs` (`lnkit penalty`'s output).
pub(super) fn penalty_tx(input: &Input) -> Result<Transaction, CliError> {
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
pub(super) fn breach_txid(input: &Input) -> Result<Txid, CliError> {
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
pub(super) fn read_appointment(obj: &Input) -> Result<Appointment, CliError> {
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
pub(super) fn the_appointment(input: &Input) -> Result<Appointment, CliError> {
    let obj = input
        .object("appointment")?
        .ok_or_else(|| input.error("appointment", "missing required field (an object with locator and encrypted_blob, as lnkit tower appointment writes)"))?;
    read_appointment(&obj)
}

pub(super) fn opened_json(o: &Opened) -> Value {
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
