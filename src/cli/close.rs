//! `lnkit close --mutual | --sweep`: the closing transaction both sides sign,
//! or, after a unilateral close, the sweep of what one side can take.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, Transaction, TxOut};
use clap::Args;
use serde_json::{json, Value};

use super::channel::{self, prefix};
use super::input::{self, Input};
use super::penalty::tx_json;
use super::{hex, CliError, Explain, StepResult};
use crate::amount::Msat;
use crate::script::funding_script;
use crate::shachain::CommitmentNumber;
use crate::tx::close::{self, ClosingParams};
use crate::tx::commitment::{obscured_commitment_number, ChannelType, FeeratePerKw, Side};
use crate::tx::funding::{funding_spend_sighash, funding_witness};
use crate::tx::sweep::build_spend;
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
            let feerate =
                FeeratePerKw(input.req_any(&["feerate_per_kw", "fee_sat"], input::uint32)?);
            close::fee_at_feerate(
                &params,
                (&ch.local_funding_pubkey, &ch.remote_funding_pubkey),
                feerate,
            )
            .map_err(|e| input.error("to_local_msat", e))?
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
    let preimages: Vec<_> = entries.iter().map(|(_, p)| *p).collect();
    let second = input
        .opt("second_stage_tx_hex", input::transactions)?
        .unwrap_or_default();
    let broadcast = close::BroadcastCommitment {
        tx: &commitment,
        keys: &keys,
        channel_type: ch.channel_type,
        to_self_delay,
        holder_funding_pubkey: ch.funding_pubkey(holder),
        counterparty_funding_pubkey: ch.funding_pubkey(holder.other()),
        htlcs: &htlcs,
        preimages: &preimages,
        second_stage: &second,
    };
    let secrets = close::SweepSecrets {
        delayed_payment_basepoint_secret: channel::secret(input, we, "delayed_payment_basepoint")?,
        payment_basepoint_secret: channel::secret(input, we, "payment_basepoint")?,
        htlc_basepoint_secret: channel::secret(input, we, "htlc_basepoint")?,
        funding_privkey: channel::secret(input, we, "funding_pubkey")?,
    };
    let timing = close::Timing {
        confirmations: input.opt("confirmations", input::uint)?,
        current_height: input.opt("current_height", input::uint32)?,
    };
    let plan = close::plan_sweep(&secp, &broadcast, we == holder, &secrets, timing).map_err(
        |e| match e {
            close::SweepError::TooEarly { .. } => input.error("confirmations", e),
            close::SweepError::Key(_) => CliError::failure(e.to_string()),
        },
    )?;
    let spends = plan.spends;
    if spends.is_empty() {
        return Err(input.error("we", format!("{} can sweep nothing from this commitment now (see the outputs and what they need)", prefix(we))));
    }
    let found: Vec<Value> = plan
        .found
        .iter()
        .map(|o| json!({"index": o.vout, "type": o.kind.name(), "amount_sat": o.amount.to_sat(), "ours": o.ours}))
        .collect();
    let pending: Vec<Value> = plan
        .waiting
        .iter()
        .map(|(vout, w)| {
            let reason = match w {
                close::Waiting::Preimage => "needs the payment_preimage".to_string(),
                close::Waiting::Expiry(e) => format!("times out at height {}", e.0),
                close::Waiting::Key => "needs our key (basepoint secret) for it".to_string(),
            };
            json!({"index": vout, "reason": reason})
        })
        .collect();
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
