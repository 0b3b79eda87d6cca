//! `lnkit bump --htlc N | --anchor`: the fee an anchors channel leaves
//! unpaid, from wallet coins (BOLT 3 `option_anchors`). `--htlc N` adds fee
//! inputs and change to `build-commitment`'s zero-fee HTLC transaction N;
//! `--anchor` builds a child of its commitment through the holder's anchor,
//! which pays for both (CPFP), and prints the two as a package.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, ScriptBuf, Transaction};
use clap::Args;
use serde_json::Value;

use super::build_funding::{change_script, fee_rate};
use super::channel::{htlc_privkey, prefix};
use super::field::{Flag, Net, Privkey, Pubkey, Script, Tx, Uint};
use super::input::{self, Input};
use super::wallet_input::WalletInputIn;
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::keys::PerCommitmentPoint;
use crate::tx::bump::{self, BumpError, Funded, ZeroFeeHtlcTx};
use crate::tx::commitment::{FeeratePerKw, Side};
use crate::tx::sweep::SpendInput;
use crate::verify::verify_transaction;

/// Flags of `lnkit bump`.
#[derive(Args, Debug)]
pub struct BumpArgs {
    /// Fee inputs and change for HTLC transaction N of `htlc_txs` (a zero-fee one).
    #[arg(long, value_name = "N", conflicts_with = "anchor")]
    htlc: Option<usize>,
    /// A child of the commitment through the holder's anchor (CPFP).
    #[arg(long)]
    anchor: bool,
    /// Check the transaction with Bitcoin Core's script interpreter (field `verify`).
    #[arg(long)]
    verify: bool,
}

/// `bump`'s fields, common to both kinds.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct BumpIn {
    /// The wallet's coins that pay the fee: P2WPKH, each with its privkey. All are spent.
    inputs: Vec<WalletInputIn>,
    /// Where the change goes (or change_script_pubkey).
    change_address: Option<String>,
    /// The change's scriptPubKey, as hex.
    change_script_pubkey: Option<Script>,
    /// The feerate (or feerate_per_kw): of the transaction (--htlc), of parent and child together (--anchor).
    feerate_sat_per_vb: Option<Uint>,
    /// The feerate in sat per 1000 weight units (BOLT 2's unit).
    feerate_per_kw: Option<Uint>,
    /// Whose commitment it is: local (default) or remote. Its keys sign.
    holder: Option<Side>,
    /// Check the transaction with Bitcoin Core's interpreter (--verify).
    verify: Option<Flag>,
    /// For --change_address: bitcoin, testnet, signet or regtest (default bitcoin).
    network: Option<Net>,
}

/// `bump --htlc`'s fields (as `build-commitment` prints them).
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct BumpHtlcIn {
    /// build-commitment's HTLC transactions; N's `signed_tx_hex` is taken
    /// (the counterparty's SIGHASH_SINGLE|ANYONECANPAY signature, the preimage).
    htlc_txs: Option<Vec<Value>>,
    /// build-commitment's outputs: the spent HTLC output's `amount_sat`.
    outputs: Option<Vec<Value>>,
    /// The holder's HTLC key for this commitment (or {holder}_htlc_basepoint_secret and per_commitment_point).
    local_htlc_privkey: Option<Privkey>,
    /// The same, when the holder is remote.
    remote_htlc_privkey: Option<Privkey>,
    /// The holder's HTLC basepoint secret (with per_commitment_point).
    local_htlc_basepoint_secret: Option<Privkey>,
    /// The same, when the holder is remote.
    remote_htlc_basepoint_secret: Option<Privkey>,
    /// The commitment's per_commitment_point.
    per_commitment_point: Option<Pubkey>,
}

/// `bump --anchor`'s fields (as `build-commitment` prints them).
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct BumpAnchorIn {
    /// The commitment, signed: the parent.
    signed_tx_hex: Option<Tx>,
    /// The funding output's amount: the parent's fee is it less the parent's outputs.
    funding_amount_sat: Option<Uint>,
    /// The holder's funding key, which its anchor is locked to (BOLT 3 "to_local_anchor and to_remote_anchor").
    local_funding_privkey: Option<Privkey>,
    /// The same, when the holder is remote.
    remote_funding_privkey: Option<Privkey>,
}

/// The transaction with its fee paid.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct BumpOut {
    /// htlc_fee_inputs or anchor_cpfp.
    kind: &'static str,
    txid: String,
    tx_hex: String,
    weight: u64,
    /// Its inputs less its outputs.
    fee_sat: u64,
    /// fee_sat over weight, in sat per 1000 weight units.
    feerate_per_kw: u64,
    /// The change, if any (below its dust threshold it went to the fee).
    change_sat: Option<u64>,
    /// --anchor: the commitment.
    parent_txid: Option<String>,
    /// --anchor: what the commitment pays by itself.
    parent_fee_sat: Option<u64>,
    /// --anchor: parent and child together, in sat per 1000 weight units.
    package_feerate_per_kw: Option<u64>,
    /// --anchor: [parent, child], for `bitcoin-cli submitpackage`.
    package: Option<Vec<String>>,
    /// true when --verify passed; null without it.
    verified: Option<bool>,
}

/// Run `lnkit bump`.
pub fn run(args: BumpArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    if args.verify {
        input.set("verify", Value::Bool(true));
    }
    match (args.htlc, args.anchor) {
        (Some(n), _) => htlc(input, n, ex),
        (None, true) => anchor(input, ex),
        _ => Err(CliError::bad("bump: give --htlc N or --anchor")),
    }
}

/// What both kinds read: the coins, the change and the feerate.
struct Wallet {
    coins: Vec<SpendInput>,
    change: ScriptBuf,
    feerate: FeeratePerKw,
    holder: Side,
    verify: bool,
}

fn wallet(input: &Input) -> Result<Wallet, CliError> {
    let secp = Secp256k1::signing_only();
    let b: BumpIn = input.typed()?;
    let items = input.objects("inputs")?;
    if b.inputs.is_empty() {
        return Err(input.error(
            "inputs",
            "at least one wallet coin is needed to pay the fee",
        ));
    }
    let mut coins = Vec::with_capacity(b.inputs.len());
    for (w, item) in b.inputs.iter().zip(&items) {
        let f = w.funding_input();
        if f.kind != crate::tx::funding::InputKind::P2wpkh {
            return Err(item.error("type", "bump spends P2WPKH coins only"));
        }
        let key = f.key.ok_or_else(|| {
            item.error("privkey", "missing required field (bump signs every input)")
        })?;
        let coin = bump::wallet_coin(&secp, f.previous_output, f.amount, key.inner);
        if f.script_pubkey
            .as_ref()
            .is_some_and(|s| *s != coin.prevout.script_pubkey)
        {
            return Err(item.error("script_pubkey", "is not the P2WPKH of privkey"));
        }
        coins.push(coin);
    }
    let network = b
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let change = change_script(
        input,
        network,
        b.change_address.is_some(),
        b.change_script_pubkey.as_ref().map(|s| &s.0),
    )?;
    let per_kw = b.feerate_per_kw.map(|v| v.0);
    let rate = fee_rate(input, b.feerate_sat_per_vb.map(|v| v.0), per_kw)?;
    let field = if per_kw.is_some() {
        "feerate_per_kw"
    } else {
        "feerate_sat_per_vb"
    };
    let feerate = u32::try_from(rate.to_sat_per_kwu())
        .map(FeeratePerKw)
        .map_err(|_| input.error(field, "is beyond 4294967295 sat/kw"))?;
    Ok(Wallet {
        coins,
        change,
        feerate,
        holder: b.holder.unwrap_or(Side::Local),
        verify: b.verify.is_some_and(|v| v.0),
    })
}

/// The coins do not cover the fee: said of `inputs`.
fn coins_short(input: &Input, e: crate::tx::sweep::SpendError) -> CliError {
    input.error("inputs", format!("{e}: add coins or lower the feerate"))
}

fn verified(f: &Funded, want: bool, ex: &mut Explain) -> Result<Option<bool>, CliError> {
    if !want {
        return Ok(None);
    }
    verify_transaction(&f.tx, &f.spent)
        .map_err(|e| CliError::failure(format!("verification failed: {e}")))?;
    ex.line("verified: Bitcoin Core's script interpreter accepts every input");
    Ok(Some(true))
}

fn out(kind: &'static str, f: &Funded, verified: Option<bool>) -> BumpOut {
    let weight = f.tx.weight().to_wu();
    BumpOut {
        kind,
        txid: f.tx.compute_txid().to_string(),
        tx_hex: serialize_hex(&f.tx),
        weight,
        fee_sat: f.fee.to_sat(),
        feerate_per_kw: f.fee.to_sat() * 1000 / weight,
        change_sat: f.change.map(|c| c.to_sat()),
        parent_txid: None,
        parent_fee_sat: None,
        package_feerate_per_kw: None,
        package: None,
        verified,
    }
}

/// `lnkit bump --htlc N` on an input object.
pub fn htlc(input: &Input, n: usize, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let w = wallet(input)?;
    let h: BumpHtlcIn = input.typed()?;
    let count = input.need("htlc_txs", h.htlc_txs.as_ref())?.len();
    let txs = input.objects("htlc_txs")?;
    let item = txs.get(n).ok_or_else(|| {
        input.error(
            "htlc_txs",
            format!("has {count} HTLC transactions; --htlc {n} is not one of them"),
        )
    })?;
    let signed: Transaction = match item.raw("signed_tx_hex") {
        Some(Value::Null) | None => {
            return Err(item.error(
                "signed_tx_hex",
                "missing: build-commitment signs it when both HTLC keys (and, for HTLC-success, the preimage) are given",
            ))
        }
        Some(_) => item.req("signed_tx_hex", input::transaction)?,
    };
    let index = item.req("output_index", input::uint)?;
    input.need("outputs", h.outputs.as_ref())?;
    let spent = input
        .objects("outputs")?
        .into_iter()
        .find(|o| o.raw("index").and_then(Value::as_u64) == Some(index))
        .ok_or_else(|| {
            input.error(
                "outputs",
                format!("has no output {index}, which HTLC transaction {n} spends"),
            )
        })?;
    let amount = spent.req("amount_sat", input::amount_sat)?;
    let (given, base) = match w.holder {
        Side::Local => (h.local_htlc_privkey, h.local_htlc_basepoint_secret),
        Side::Remote => (h.remote_htlc_privkey, h.remote_htlc_basepoint_secret),
    };
    let point = || {
        input
            .need("per_commitment_point", h.per_commitment_point)
            .map(|p| PerCommitmentPoint(p.0))
    };
    let p = prefix(w.holder);
    let holder_key = htlc_privkey(input, w.holder, given.map(|k| k.0), base.map(|k| k.0), point)?
        .ok_or_else(|| {
            input.error(
                &format!("{p}_htlc_privkey"),
                format!("missing required field (or give {p}_htlc_basepoint_secret and per_commitment_point)"),
            )
        })?;
    let z = ZeroFeeHtlcTx::from_signed(signed, amount, holder_key)
        .map_err(|e| item.error("signed_tx_hex", e))?;
    let f = bump::fund_htlc_tx(&secp, &z, &w.coins, &w.change, w.feerate).map_err(|e| match e {
        BumpError::Spend(e) => coins_short(input, e),
        e => item.error("signed_tx_hex", e),
    })?;
    ex.line(format!(
        "{} {}: signed at zero fee (option_anchors); the counterparty's signature is SIGHASH_SINGLE|ANYONECANPAY, so it covers input 0 and output 0 only",
        z.kind(),
        z.tx.compute_txid()
    ));
    ex.line(format!(
        "joined: {} wallet coin(s) after input 0{}; the holder signs input 0 again with SIGHASH_ALL, now over every input",
        w.coins.len(),
        if f.change.is_some() { ", change after output 0" } else { " (change below dust: to the fee)" }
    ));
    ex.line(format!(
        "fee: {} sat/kw on the weight with maximum-size signatures = {} sat (signed, it weighs {})",
        w.feerate.0,
        f.fee.to_sat(),
        f.tx.weight().to_wu()
    ));
    let v = verified(&f, w.verify, ex)?;
    respond(out("htlc_fee_inputs", &f, v))
}

/// `lnkit bump --anchor` on an input object.
pub fn anchor(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let w = wallet(input)?;
    let a: BumpAnchorIn = input.typed()?;
    let parent = input.need("signed_tx_hex", a.signed_tx_hex)?.0;
    let key = match w.holder {
        Side::Local => a.local_funding_privkey,
        Side::Remote => a.remote_funding_privkey,
    };
    let key_field = format!("{}_funding_privkey", prefix(w.holder));
    let key = input.need(&key_field, key)?.0;
    let funding = Amount::from_sat(input.need("funding_amount_sat", a.funding_amount_sat)?.0);
    let c = bump::anchor_cpfp(&secp, &parent, funding, key, &w.coins, &w.change, w.feerate)
        .map_err(|e| match e {
            BumpError::Spend(e) => coins_short(input, e),
            e @ BumpError::NoAnchor => input.error(&key_field, format!("{e}: see holder")),
            e @ BumpError::FundingBelowOutputs { .. } => input.error("funding_amount_sat", e),
            e => input.error("signed_tx_hex", e),
        })?;
    let (f, parent_fee) = (&c.child, c.parent_fee);
    ex.line(format!(
        "parent {}: the commitment pays {} sat for {} weight ({} sat/kw)",
        parent.compute_txid(),
        parent_fee.to_sat(),
        c.parent_weight,
        parent_fee.to_sat() * 1000 / c.parent_weight
    ));
    ex.line(format!(
        "child: spends the holder's anchor (output {}, `<sig> <anchor script>` with the funding key) and {} wallet coin(s) to change",
        c.anchor_vout,
        w.coins.len()
    ));
    ex.line(format!(
        "fee: {} sat/kw x {} package weight = {} sat, less the parent's {} = the child's {} sat",
        w.feerate.0,
        c.package_weight(),
        c.package_fee().to_sat(),
        parent_fee.to_sat(),
        f.fee.to_sat()
    ));
    let v = verified(f, w.verify, ex)?;
    let mut o = out("anchor_cpfp", f, v);
    o.parent_txid = Some(parent.compute_txid().to_string());
    o.parent_fee_sat = Some(parent_fee.to_sat());
    o.package_feerate_per_kw = Some(c.package_fee().to_sat() * 1000 / c.package_weight());
    o.package = Some(vec![serialize_hex(&parent), serialize_hex(&f.tx)]);
    respond(o)
}
