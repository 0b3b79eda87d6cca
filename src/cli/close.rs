//! `lnkit close --mutual | --sweep`: the closing transaction both sides sign,
//! or, after a unilateral close, the sweep of what one side can take.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Amount, Transaction, TxOut};
use clap::Args;
use serde_json::{json, Value};

use super::channel::{self, prefix};
use super::input::{self, Input};
use super::penalty::tx_json;
use super::{hex, CliError, Explain, StepResult};
use crate::amount::Msat;
use crate::keys;
use crate::script::funding_script;
use crate::shachain::CommitmentNumber;
use crate::tx::close::{self, ClosingParams, HtlcClaim};
use crate::tx::commitment::{
    obscured_commitment_number, ChannelType, FeeratePerKw, HtlcDirection, OutputKind, Side,
};
use crate::tx::funding::{funding_spend_sighash, funding_witness};
use crate::tx::sweep::{build_spend, SpendInput};
use crate::verify::verify_transaction;

/// Flags of `lnkit close`.
#[derive(Args, Debug)]
pub struct CloseArgs {
    /// The mutual closing transaction (`closing_signed`).
    #[arg(long, conflicts_with = "sweep")]
    mutual: bool,
    /// After a unilateral close: sweep what `we` can take from the commitment.
    #[arg(long)]
    sweep: bool,
    /// Check the transaction with Bitcoin Core's script interpreter (field `verify`).
    #[arg(long)]
    verify: bool,
}

/// Run `lnkit close`.
pub fn run(args: CloseArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    if args.verify {
        input.set("verify", Value::Bool(true));
    }
    match (args.mutual, args.sweep) {
        (true, _) => mutual(input, ex),
        (_, true) => sweep(input, ex),
        _ => Err(CliError::bad("close: give --mutual or --sweep")),
    }
}

fn script_of(input: &Input, side: Side) -> Result<bitcoin::ScriptBuf, CliError> {
    let p = prefix(side);
    input.req_any(
        &[&format!("{p}_scriptpubkey"), &format!("{p}_address")],
        input::destination(input.network()?),
    )
}

/// `lnkit close --mutual` on an input object.
pub fn mutual(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let ch = channel::read_channel_with(input, Some(ChannelType::StaticRemotekey))?;
    let mut params = ClosingParams {
        funding_outpoint: ch.funding_outpoint,
        funding_amount: ch.funding_amount,
        local_script: script_of(input, Side::Local)?,
        remote_script: script_of(input, Side::Remote)?,
        local_balance: Msat(input.req("to_local_msat", input::uint)?),
        remote_balance: Msat(input.req("to_remote_msat", input::uint)?),
        fee: Amount::ZERO,
        opener: ch.opener,
        dust_limit: input.req("dust_limit_satoshis", input::amount_sat)?,
    };
    let fscript = funding_script(&ch.local_funding_pubkey, &ch.remote_funding_pubkey);
    params.fee = match input.opt("fee_sat", input::amount_sat)? {
        Some(fee) => fee,
        None => {
            // `closing_signed` fee from a feerate: the weight with both outputs and 73-byte signatures.
            let feerate =
                FeeratePerKw(input.req_any(&["feerate_per_kw", "fee_sat"], input::uint32)?);
            let mut probe = close::build_closing(&params)
                .map_err(|e| input.error("to_local_msat", e))?
                .tx;
            let sig = bitcoin::secp256k1::ecdsa::Signature::from_compact(&[1; 64])
                .expect("a valid compact encoding");
            probe.input[0].witness = funding_witness(
                &fscript,
                (&ch.local_funding_pubkey, &sig),
                (&ch.remote_funding_pubkey, &sig),
            );
            // Two DER signatures of 72 bytes instead of the probe's 71 (each at most 73 with the sighash byte).
            feerate.fee(probe.weight().to_wu() + 2)
        }
    };
    let closing = close::build_closing(&params).map_err(|e| match e {
        close::CloseError::FeeTooHigh { .. } => input.error("fee_sat", e),
        _ => input.error("to_local_msat", e),
    })?;
    ex.line(format!(
        "fee {} sat from the opener ({}); outputs below {} sat dropped",
        params.fee.to_sat(),
        prefix(ch.opener),
        params.dust_limit.to_sat()
    ));
    let msg = funding_spend_sighash(&closing.tx, &fscript, ch.funding_amount);
    let sign = |side| -> Result<Option<_>, CliError> {
        Ok(channel::secret(input, side, "funding_pubkey")?.map(|k| secp.sign_ecdsa(&msg, &k)))
    };
    let (local_sig, remote_sig) = (sign(Side::Local)?, sign(Side::Remote)?);
    let signed = match (local_sig, remote_sig) {
        (Some(l), Some(r)) => {
            let mut tx = closing.tx.clone();
            tx.input[0].witness = funding_witness(
                &fscript,
                (&ch.local_funding_pubkey, &l),
                (&ch.remote_funding_pubkey, &r),
            );
            Some(tx)
        }
        _ => None,
    };
    let verified = verify_if_asked(
        input,
        signed.as_ref(),
        &[TxOut {
            value: ch.funding_amount,
            script_pubkey: fscript.to_p2wsh(),
        }],
    )?;
    let out =
        |o: Option<(u32, Amount)>| o.map(|(i, v)| json!({"index": i, "amount_sat": v.to_sat()}));
    Ok(json!({
        "txid": closing.tx.compute_txid().to_string(),
        "tx_hex": serialize_hex(&closing.tx),
        "fee_sat": params.fee.to_sat(),
        "local_output": out(closing.local_output),
        "remote_output": out(closing.remote_output),
        "dropped_as_dust": closing.dropped.iter().map(|(s, v)| json!({"side": prefix(*s), "amount_sat": v.to_sat()})).collect::<Vec<_>>(),
        "local_signature": local_sig.map(|s| hex(s.serialize_der())),
        "remote_signature": remote_sig.map(|s| hex(s.serialize_der())),
        "signed_tx_hex": signed.as_ref().map(serialize_hex),
        "verified": verified,
    }))
}

fn verify_if_asked(
    input: &Input,
    tx: Option<&Transaction>,
    prevouts: &[TxOut],
) -> Result<Option<bool>, CliError> {
    if !input.opt("verify", input::boolean)?.unwrap_or(false) {
        return Ok(None);
    }
    let tx = tx.ok_or_else(|| {
        input.error(
            "verify",
            "needs both funding private keys to sign the transaction",
        )
    })?;
    verify_transaction(tx, prevouts)
        .map_err(|e| CliError::failure(format!("verification failed: {e}")))?;
    Ok(Some(true))
}

/// `lnkit close --sweep` on an input object.
pub fn sweep(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let ch = channel::read_channel(input)?;
    let field = ["commitment_tx_hex", "signed_tx_hex", "tx_hex"]
        .into_iter()
        .find(|f| input.has(f))
        .unwrap_or("commitment_tx_hex");
    let commitment = input.req(field, input::transaction)?;
    if commitment.input.first().map(|i| i.previous_output) != Some(ch.funding_outpoint) {
        return Err(input.error(
            field,
            format!("does not spend the funding output {}", ch.funding_outpoint),
        ));
    }
    let holder = channel::side(input, "holder", Side::Local)?;
    let we = channel::side(input, "we", holder)?;
    let factor = channel::obscuring(input, ch.opener)?;
    let number = obscured_commitment_number(&commitment)
        .map(|o| CommitmentNumber(o ^ factor))
        .ok_or_else(|| input.error(field, "is not a commitment transaction (locktime/sequence do not carry a commitment number)"))?;
    let mut with_number = input.clone();
    with_number.set("commitment_number", json!(number.0));
    let (point, _) = channel::per_commitment(&with_number, number)?;
    let keys = channel::commitment_keys(input, holder, &point, ch.channel_type)?;
    let to_self_delay = u16::try_from(input.req("to_self_delay", input::uint)?)
        .map_err(|_| input.error("to_self_delay", "expected at most 65535 blocks"))?;
    let entries = channel::htlcs(input)?;
    let htlcs: Vec<_> = entries.iter().map(|(h, _)| *h).collect();
    // Rebuild the commitment's scripts to recognise its outputs.
    let scripts = crate::tx::commitment::output_scripts(
        &keys,
        ch.channel_type,
        to_self_delay,
        &ch.funding_pubkey(holder),
        &ch.funding_pubkey(holder.other()),
        &htlcs,
    );
    let confirmations = input.opt("confirmations", input::uint)?;
    let height = input.opt("current_height", input::uint32)?;
    let txid = commitment.compute_txid();
    let derive = |name: &str| -> Result<Option<SecretKey>, CliError> {
        channel::secret(input, we, name)?
            .map(|base| {
                keys::derive_privkey(&secp, &base, &point)
                    .map_err(|e| CliError::failure(e.to_string()))
            })
            .transpose()
    };
    let (mut spends, mut pending, mut found) = (Vec::<SpendInput>::new(), vec![], vec![]);
    for (vout, out) in commitment.output.iter().enumerate() {
        let Some(s) = scripts
            .iter()
            .find(|s| s.script_pubkey == out.script_pubkey)
        else {
            continue;
        };
        let outpoint = bitcoin::OutPoint::new(txid, vout as u32);
        let mine = matches!(
            (s.kind, we == holder),
            (OutputKind::ToLocal | OutputKind::AnchorLocal, true)
                | (
                    OutputKind::ToRemote
                        | OutputKind::AnchorRemote
                        | OutputKind::HtlcOffered
                        | OutputKind::HtlcReceived,
                    false
                )
        );
        found.push(json!({"index": vout, "type": s.kind.name(), "amount_sat": out.value.to_sat(), "ours": mine}));
        if !mine {
            continue;
        }
        let ws = s.witness_script.clone();
        let spend = match s.kind {
            OutputKind::ToLocal => {
                if let Some(c) = confirmations.filter(|c| *c < u64::from(to_self_delay)) {
                    return Err(input.error("confirmations", format!("to_local can be swept after {to_self_delay} confirmations (to_self_delay); the commitment has {c}")));
                }
                derive("delayed_payment_basepoint")?.map(|k| {
                    close::delayed_output_spend(
                        outpoint,
                        out.clone(),
                        ws.expect("p2wsh"),
                        k,
                        to_self_delay,
                    )
                })
            }
            OutputKind::ToRemote => {
                let key = match ch.channel_type {
                    ChannelType::Legacy => derive("payment_basepoint")?,
                    _ => channel::secret(input, we, "payment_basepoint")?,
                };
                key.map(|k| close::to_remote_spend(outpoint, out.clone(), ws, k, ch.channel_type))
            }
            OutputKind::AnchorLocal | OutputKind::AnchorRemote => {
                channel::secret(input, we, "funding_pubkey")?
                    .map(|k| close::anchor_spend(outpoint, out.clone(), ws.expect("p2wsh"), k))
            }
            OutputKind::HtlcOffered | OutputKind::HtlcReceived => {
                let (h, preimage) = entries[s.htlc.expect("an htlc output")];
                let claim = match (h.direction, preimage) {
                    (HtlcDirection::Offered, Some(p)) => HtlcClaim::Preimage(p),
                    (HtlcDirection::Offered, None) => {
                        pending
                            .push(json!({"index": vout, "reason": "needs the payment_preimage"}));
                        continue;
                    }
                    (HtlcDirection::Received, _)
                        if height.is_some_and(|hgt| hgt < h.cltv_expiry.0) =>
                    {
                        pending.push(json!({"index": vout, "reason": format!("times out at height {}", h.cltv_expiry.0)}));
                        continue;
                    }
                    (HtlcDirection::Received, _) => HtlcClaim::Timeout(h.cltv_expiry),
                };
                derive("htlc_basepoint")?.map(|k| {
                    close::counterparty_htlc_spend(
                        outpoint,
                        out.clone(),
                        ws.expect("p2wsh"),
                        k,
                        claim,
                        ch.channel_type,
                    )
                })
            }
        };
        match spend {
            Some(sp) => spends.push(sp),
            None => pending
                .push(json!({"index": vout, "reason": "needs our key (basepoint secret) for it"})),
        }
    }
    // The holder's own HTLC transactions: their outputs are delayed like to_local.
    let second = input
        .opt("second_stage_tx_hex", input::transactions)?
        .unwrap_or_default();
    let to_local_script =
        crate::script::to_local(&keys.revocation, to_self_delay, &keys.holder_delayed);
    for t in second.iter().filter(|_| we == holder) {
        if t.output.first().map(|o| &o.script_pubkey) == Some(&to_local_script.to_p2wsh()) {
            if let Some(k) = derive("delayed_payment_basepoint")? {
                spends.push(close::delayed_output_spend(
                    bitcoin::OutPoint::new(t.compute_txid(), 0),
                    t.output[0].clone(),
                    to_local_script.clone(),
                    k,
                    to_self_delay,
                ));
            }
        }
    }
    if spends.is_empty() {
        return Err(input.error("we", format!("{} can sweep nothing from this commitment now (see the outputs and what they need)", prefix(we))));
    }
    let destination = input.req("destination", input::destination(input.network()?))?;
    let feerate = FeeratePerKw(input.req("feerate_per_kw", input::uint32)?);
    let tx = build_spend(&secp, &spends, &destination, feerate)
        .map_err(|e| input.error("feerate_per_kw", e))?;
    let prevouts: Vec<TxOut> = spends.iter().map(|s| s.prevout.clone()).collect();
    let verified = verify_if_asked(input, Some(&tx), &prevouts)?;
    ex.line(format!(
        "commitment {} of {}: {} sweeps {} output(s)",
        number.0,
        prefix(holder),
        prefix(we),
        spends.len()
    ));
    Ok(json!({
        "holder": prefix(holder),
        "we": prefix(we),
        "commitment_number": number.0,
        "outputs": found,
        "pending": pending,
        "sweep_tx": tx_json(&tx, &prevouts),
        "verified": verified,
    }))
}
