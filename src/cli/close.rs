//! `lnkit close --mutual | --sweep`: the closing transaction both sides sign,
//! or, after a unilateral close, the sweep of what one side can take.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, Transaction, TxOut};
use clap::Args;
use serde_json::{json, Value};

use super::channel::{self, prefix};
use super::close_types::*;
use super::commitment_types::SpendTxOut;
use super::input::{self, Input};
use super::{hex, CliError, Explain, StepResult};
use crate::amount::Msat;
use crate::cli::respond;
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

/// `lnkit close --mutual` on an input object.
pub fn mutual(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let ch = channel::read_channel_with(input, Some(ChannelType::StaticRemotekey))?;
    let m: MutualIn = input.typed()?;
    let mut params = ClosingParams {
        funding_outpoint: ch.funding_outpoint,
        funding_amount: ch.funding_amount,
        local_script: script_of(input, &m, Side::Local)?,
        remote_script: script_of(input, &m, Side::Remote)?,
        local_balance: Msat(input.need("to_local_msat", m.to_local_msat)?.0),
        remote_balance: Msat(input.need("to_remote_msat", m.to_remote_msat)?.0),
        fee: Amount::ZERO,
        opener: ch.opener,
        dust_limit: input.need("dust_limit_satoshis", m.dust_limit_satoshis)?.0,
    };
    let fscript = funding_script(&ch.local_funding_pubkey, &ch.remote_funding_pubkey);
    params.fee = match m.fee_sat {
        Some(fee) => fee.0,
        None => {
            let feerate = FeeratePerKw(m.feerate_per_kw.map(|r| r.0).ok_or_else(|| {
                input.error(
                    "feerate_per_kw",
                    "missing required field (also accepted as: fee_sat)",
                )
            })?);
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
    let out = |o: Option<(u32, Amount)>| {
        o.map(|(index, v)| ClosingOutput {
            index,
            amount_sat: v.to_sat(),
        })
    };
    respond(CloseOut::Mutual(MutualOut {
        txid: closing.tx.compute_txid().to_string(),
        tx_hex: serialize_hex(&closing.tx),
        fee_sat: params.fee.to_sat(),
        local_output: out(closing.local_output),
        remote_output: out(closing.remote_output),
        dropped_as_dust: closing
            .dropped
            .iter()
            .map(|(s, v)| DustOut {
                side: prefix(*s),
                amount_sat: v.to_sat(),
            })
            .collect(),
        local_signature: local_sig.map(|s| hex(s.serialize_der())),
        remote_signature: remote_sig.map(|s| hex(s.serialize_der())),
        signed_tx_hex: signed.as_ref().map(serialize_hex),
        verified,
    }))
}

fn verify_if_asked(
    input: &Input,
    tx: Option<&Transaction>,
    prevouts: &[TxOut],
) -> Result<Option<bool>, CliError> {
    if !input.typed::<VerifyIn>()?.verify.is_some_and(|v| v.0) {
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
    let w: SweepIn = input.typed()?;
    let (field, commitment) = [
        ("commitment_tx_hex", w.commitment_tx_hex),
        ("signed_tx_hex", w.signed_tx_hex),
        ("tx_hex", w.tx_hex),
    ]
    .into_iter()
    .find_map(|(f, t)| t.map(|t| (f, t.0)))
    .ok_or_else(|| input.error("commitment_tx_hex", "missing required field"))?;
    if commitment.input.first().map(|i| i.previous_output) != Some(ch.funding_outpoint) {
        return Err(input.error(
            field,
            format!("does not spend the funding output {}", ch.funding_outpoint),
        ));
    }
    let holder = w.holder.unwrap_or(Side::Local);
    let we = w.we.unwrap_or(holder);
    let factor = channel::obscuring(input, ch.opener)?;
    let number = obscured_commitment_number(&commitment)
        .map(|o| CommitmentNumber(o ^ factor))
        .ok_or_else(|| input.error(field, "is not a commitment transaction (locktime/sequence do not carry a commitment number)"))?;
    let mut with_number = input.clone();
    with_number.set("commitment_number", json!(number.0));
    let (point, _) = channel::per_commitment(&with_number, number)?;
    let keys = channel::commitment_keys(input, holder, &point, ch.channel_type)?;
    let to_self_delay = u16::try_from(input.need("to_self_delay", w.to_self_delay)?.0)
        .map_err(|_| input.error("to_self_delay", "expected at most 65535 blocks"))?;
    let entries = channel::htlcs(input)?;
    let htlcs: Vec<_> = entries.iter().map(|(h, _)| *h).collect();
    let preimages: Vec<_> = entries.iter().map(|(_, p)| *p).collect();
    let second = w.second_stage_tx_hex.map(|t| t.0).unwrap_or_default();
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
        confirmations: w.confirmations.map(|c| c.0),
        current_height: w.current_height.map(|h| h.0),
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
    let found: Vec<FoundOut> = plan
        .found
        .iter()
        .map(|o| FoundOut {
            index: o.vout,
            kind: o.kind.name(),
            amount_sat: o.amount.to_sat(),
            ours: o.ours,
        })
        .collect();
    let pending: Vec<PendingOut> = plan
        .waiting
        .iter()
        .map(|(vout, w)| {
            let reason = match w {
                close::Waiting::Preimage => "needs the payment_preimage".to_string(),
                close::Waiting::Expiry(e) => format!("times out at height {}", e.0),
                close::Waiting::Key => "needs our key (basepoint secret) for it".to_string(),
            };
            PendingOut {
                index: *vout,
                reason,
            }
        })
        .collect();
    let network = w
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let destination = input.need("destination", w.destination.clone())?;
    let destination = input::destination(network)(&Value::String(destination))
        .map_err(|e| input.error("destination", e))?;
    let feerate = FeeratePerKw(input.need("feerate_per_kw", w.feerate_per_kw)?.0);
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
    respond(CloseOut::Sweep(SweepOut {
        holder: prefix(holder),
        we: prefix(we),
        commitment_number: number.0,
        outputs: found,
        pending,
        sweep_tx: SpendTxOut::of(&tx, &prevouts),
        verified,
    }))
}
