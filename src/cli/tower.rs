//! `lnkit tower appointment|decrypt|watch`: the watchtower's steps (BOLT 13
//! draft, The Eye of Satoshi's format) — hand a penalty over under the
//! breach's txid, open it with the breach, and scan a block for breaches.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{PublicKey, Secp256k1};
use bitcoin::{Transaction, Txid};
use clap::{Args, Subcommand};

use super::chain::BackendArgs;
use super::input::Input;
use super::tower_run::run_tower;
pub use super::tower_run::RunArgs;
use super::tower_types::*;
pub use super::tower_watch::watch;
use super::tower_watch::watched_block;
use super::{flag, CliError, Explain, StepResult};
use crate::cli::respond;
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
            watch(input, &block, height, ex)
        }
        TowerCommand::Run(r) => run_tower(r, input),
    }
}

/// The penalty: `penalty_tx_hex`, or the one transaction of `penalty_txs` (`lnkit penalty`'s output).
fn penalty_tx(input: &Input, r: &AppointmentIn) -> Result<Transaction, CliError> {
    if let Some(tx) = &r.penalty_tx_hex {
        return Ok(tx.0.clone());
    }
    match r.penalty_txs.as_deref() {
        Some([one]) => Ok(one.tx_hex.0.clone()),
        Some(many) => Err(input.error(
            "penalty_txs",
            format!(
                "{} transactions; an appointment holds one (run lnkit penalty without --split, or give penalty_tx_hex)",
                many.len()
            ),
        )),
        None => Err(input.error(
            "penalty_tx_hex",
            "missing required field (or penalty_txs from lnkit penalty)",
        )),
    }
}

/// The breach's txid: `revoked_txid` (aliases `breach_txid`, `dispute_txid`),
/// or the txid of `revoked_tx_hex`.
fn breach_txid(input: &Input, r: &AppointmentIn) -> Result<Txid, CliError> {
    if let Some(txid) = [&r.revoked_txid, &r.breach_txid, &r.dispute_txid]
        .into_iter()
        .flatten()
        .next()
    {
        return Ok(txid.0);
    }
    match &r.revoked_tx_hex {
        Some(tx) => Ok(tx.compute_txid()),
        None => Err(input.error(
            "revoked_txid",
            "missing required field (also accepted as: breach_txid, dispute_txid, or the transaction as revoked_tx_hex)",
        )),
    }
}

/// `lnkit tower appointment` on an input object.
pub fn appointment(input: &Input, ex: &mut Explain) -> StepResult {
    let r: AppointmentIn = input.typed()?;
    let penalty = penalty_tx(input, &r)?;
    let breach = breach_txid(input, &r)?;
    let to_self_delay = r.to_self_delay.0;
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
    let mut out = AppointmentOut {
        appointment: a.clone(),
        signature: None,
        user_id: None,
    };
    if let Some(key) = r.user_secret.map(|k| k.0) {
        let secp = Secp256k1::new();
        ex.line("signature = zbase32 recoverable ECDSA over SHA256d(\"Lightning Signed Message:\" || locator || encrypted_blob || to_self_delay as u32 big-endian)");
        out.signature = Some(message_signing::sign(&secp, &a.signed_bytes(), &key));
        out.user_id = Some(PublicKey::from_secret_key(&secp, &key).to_string());
    }
    respond(out)
}

/// An opened appointment as the output shows it.
pub(super) fn opened_out(o: &Opened) -> OpenedOut {
    let mut out = OpenedOut {
        locator: o.locator.to_string(),
        breach_txid: o.breach_txid.to_string(),
        penalty_txid: None,
        penalty_tx_hex: None,
        verified: None,
        reason: None,
    };
    match &o.outcome {
        Ok((penalty, verified)) => {
            out.penalty_txid = Some(penalty.compute_txid().to_string());
            out.penalty_tx_hex = Some(serialize_hex(penalty));
            out.verified = Some(*verified);
        }
        Err(why) => out.reason = Some(why.to_string()),
    }
    out
}

/// `lnkit tower decrypt` on an input object.
pub fn decrypt(input: &Input, ex: &mut Explain) -> StepResult {
    let r: DecryptIn = input.typed()?;
    let a = r.appointment.as_ref().map(AppointmentObj::appointment).ok_or_else(|| input.error("appointment", "missing required field (an object with locator and encrypted_blob, as lnkit tower appointment writes)"))?;
    let (field, breach) = [
        ("breach_tx_hex", r.breach_tx_hex),
        ("revoked_tx_hex", r.revoked_tx_hex),
        ("tx_hex", r.tx_hex),
    ]
    .into_iter()
    .find_map(|(f, t)| t.map(|t| (f, t.0)))
    .ok_or_else(|| input.error("breach_tx_hex", "missing required field"))?;
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
            respond(opened_out(&opened))
        }
        Err(why) => Err(input.error("appointment.encrypted_blob", why)),
    }
}
