//! `lnkit build-commitment`: a commitment transaction with its HTLC
//! transactions (BOLT 3 "Commitment Transaction Construction").

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::TxOut;
use clap::Args;
use serde_json::Value;

use super::carried::Carried;
use super::channel::{self, prefix, NumberIn};
use super::commitment_types::*;
use super::input::Input;
use super::{hex, CliError, Explain, StepResult};
use crate::script::funding_script;
use crate::tx::commitment::{
    self, build_commitment, CommitmentError, CommitmentParams, FeeratePerKw, Side,
};
use crate::tx::funding::{funding_spend_sighash, funding_witness};
use crate::tx::htlc::{counterparty_sighash_type, htlc_transactions};
use crate::verify::verify_transaction;

/// Flags of `lnkit build-commitment`.
#[derive(Args, Debug)]
pub struct BuildCommitmentArgs {
    /// Whose commitment: local or remote (field `holder`).
    #[arg(long)]
    holder: Option<String>,
    /// Check the signed transactions with Bitcoin Core's script interpreter (field `verify`).
    #[arg(long)]
    verify: bool,
}

/// Run `lnkit build-commitment`.
pub fn run(args: BuildCommitmentArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    super::flag(input, "holder", args.holder);
    if args.verify {
        input.set("verify", Value::Bool(true));
    }
    build(input, ex)
}

/// `lnkit build-commitment` on an input object.
pub fn build(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let ch = channel::read_channel(input)?;
    let c: CommitmentIn = input.typed()?;
    // BOLT 2: a dust limit below 354 sat is refused; an output under it
    // can be below Core's dust threshold for its script (a 250 sat P2WPKH
    // output is non-standard: the commitment would never relay).
    let min = crate::channel::MIN_DUST_LIMIT.to_sat();
    if c.dust_limit_satoshis.0.to_sat() < min {
        return Err(input.error(
            "dust_limit_satoshis",
            format!(
                "expected at least {min} sat (BOLT 2), got {}",
                c.dust_limit_satoshis.0.to_sat()
            ),
        ));
    }
    let holder = c.holder.unwrap_or(Side::Local);
    let n = input.typed::<NumberIn>()?.commitment_number.0;
    let (point, _) = channel::per_commitment(input, n)?;
    let keys = channel::commitment_keys(input, holder, &point, ch.channel_type)?;
    let entries = channel::htlcs(input)?;
    let htlcs: Vec<_> = entries.iter().map(|(h, _)| *h).collect();
    let preimages: Vec<_> = entries.iter().map(|(_, p)| *p).collect();
    let (local_msat, remote_msat) = (
        crate::amount::Msat(c.to_local_msat.0),
        crate::amount::Msat(c.to_remote_msat.0),
    );
    let params = CommitmentParams {
        funding_outpoint: ch.funding_outpoint,
        funding_amount: ch.funding_amount,
        holder_funding_pubkey: ch.funding_pubkey(holder),
        counterparty_funding_pubkey: ch.funding_pubkey(holder.other()),
        channel_type: ch.channel_type,
        holder_is_opener: ch.opener == holder,
        obscuring_factor: channel::obscuring(input, ch.opener)?,
        commitment_number: n,
        to_self_delay: u16::try_from(c.to_self_delay.0)
            .map_err(|_| input.error("to_self_delay", "expected at most 65535 blocks"))?,
        dust_limit: c.dust_limit_satoshis.0,
        feerate: FeeratePerKw(c.feerate_per_kw.0),
        holder_balance: if holder == Side::Local {
            local_msat
        } else {
            remote_msat
        },
        counterparty_balance: if holder == Side::Local {
            remote_msat
        } else {
            local_msat
        },
        htlcs: &htlcs,
        keys,
    };
    let built = build_commitment(&params).map_err(|e| match e {
        CommitmentError::ZeroHtlc(_) | CommitmentError::HtlcTooLarge { .. } => {
            CliError::bad(e.to_string())
        }
        CommitmentError::OpenerCannotPayAnchors { .. } => {
            let can = commitment::max_affordable_feerate(&params)
                .map(|f| format!("it can afford at most feerate_per_kw {}", f.0))
                .unwrap_or_else(|| "it cannot afford even the anchors".into());
            input.error("feerate_per_kw", format!("{e}; {can}"))
        }
        _ => input.error(
            "to_local_msat",
            format!(
                "{e} (to_local_msat + to_remote_msat + htlcs must equal funding_amount_sat x 1000)"
            ),
        ),
    })?;
    if let Some(short) = built.opener_shortfall {
        if !c.allow_unaffordable_fee.as_ref().is_some_and(|f| f.0) {
            let can = commitment::max_affordable_feerate(&params)
                .map(|f| format!("it can afford at most feerate_per_kw {}", f.0))
                .unwrap_or_else(|| "it cannot afford even the anchors".into());
            return Err(input.error(
                "feerate_per_kw",
                format!("the opener ({}) is {} sat short of the base fee and anchors; {can} (set allow_unaffordable_fee to build it anyway, as BOLT 3's test vector does)", prefix(ch.opener), short.to_sat()),
            ));
        }
    }
    ex.line(format!("obscured commitment number = {} XOR {:012x} = {:012x}: locktime {:#010x}, sequence {:#010x}", n.0, params.obscuring_factor, built.obscured_commitment_number, built.tx.lock_time.to_consensus_u32(), built.tx.input[0].sequence.0));
    ex.line(format!(
        "expected weight {} -> base fee {} x {} / 1000 = {} sat, paid by the opener ({})",
        built.expected_weight,
        params.feerate.0,
        built.expected_weight,
        built.base_fee.to_sat(),
        prefix(ch.opener)
    ));
    for o in &built.outputs {
        ex.line(format!(
            "output {:>13}: {} sat",
            o.kind.name(),
            o.amount.to_sat()
        ));
    }

    let outputs = built
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| OutputOut {
            index: i,
            kind: o.kind.name(),
            amount_sat: o.amount.to_sat(),
            script_pubkey: hex(o.script_pubkey.as_bytes()),
            witness_script: o.witness_script.as_ref().map(|s| hex(s.as_bytes())),
            htlc: o.htlc.map(|h| HtlcOut::of(h, &htlcs[h])),
        })
        .collect();
    let mut out = CommitmentOut {
        holder: prefix(holder),
        per_commitment_point: point.to_string(),
        keys: KeysOut {
            revocationpubkey: keys.revocation.to_string(),
            local_delayedpubkey: keys.holder_delayed.to_string(),
            local_htlcpubkey: keys.holder_htlc.to_string(),
            remote_htlcpubkey: keys.counterparty_htlc.to_string(),
            remotepubkey: keys.counterparty_payment.to_string(),
        },
        obscuring_factor: format!("{:012x}", params.obscuring_factor),
        obscured_commitment_number: built.obscured_commitment_number,
        locktime: built.tx.lock_time.to_consensus_u32(),
        sequence: built.tx.input[0].sequence.0,
        txid: built.tx.compute_txid().to_string(),
        tx_hex: serialize_hex(&built.tx),
        outputs,
        trimmed_htlcs: built
            .trimmed
            .iter()
            .map(|h| HtlcOut::of(*h, &htlcs[*h]))
            .collect(),
        expected_weight: built.expected_weight,
        base_fee_sat: built.base_fee.to_sat(),
        fee_sat: built.fee.to_sat(),
        local_signature: None,
        remote_signature: None,
        signed_tx_hex: None,
        weight: None,
        htlc_txs: vec![],
        verified: None,
    };

    let fscript = funding_script(&ch.local_funding_pubkey, &ch.remote_funding_pubkey);
    let funding_out = TxOut {
        value: ch.funding_amount,
        script_pubkey: fscript.to_p2wsh(),
    };
    let want_verify = c.verify.as_ref().is_some_and(|v| v.0);
    let local_key = channel::secret(input, Side::Local, "funding_pubkey")?;
    let remote_key = channel::secret(input, Side::Remote, "funding_pubkey")?;
    let msg = funding_spend_sighash(&built.tx, &fscript, ch.funding_amount);
    let local_sig = local_key.map(|k| secp.sign_ecdsa(&msg, &k));
    let remote_sig = remote_key.map(|k| secp.sign_ecdsa(&msg, &k));
    out.local_signature = local_sig.map(|s| hex(s.serialize_der()));
    out.remote_signature = remote_sig.map(|s| hex(s.serialize_der()));
    let mut signed = None;
    if let (Some(l), Some(r)) = (local_sig, remote_sig) {
        let mut tx = built.tx.clone();
        tx.input[0].witness = funding_witness(
            &fscript,
            (&ch.local_funding_pubkey, &l),
            (&ch.remote_funding_pubkey, &r),
        );
        out.signed_tx_hex = Some(serialize_hex(&tx));
        out.weight = Some(tx.weight().to_wu());
        signed = Some(tx);
    } else if want_verify {
        return Err(input.error(
            "verify",
            "needs local_funding_privkey and remote_funding_privkey to sign the commitment",
        ));
    }
    if want_verify {
        let tx = signed.as_ref().expect("signed above");
        verify_transaction(tx, std::slice::from_ref(&funding_out))
            .map_err(|e| CliError::failure(format!("commitment: {e}")))?;
    }

    let htlc_key = |side: Side| {
        let given = match side {
            Side::Local => c.local_htlc_privkey.as_ref(),
            Side::Remote => c.remote_htlc_privkey.as_ref(),
        };
        let base = channel::secret(input, side, "htlc_basepoint")?;
        channel::htlc_privkey(input, side, given.map(|k| k.0), base, || Ok(point))
    };
    let holder_key = htlc_key(holder)?;
    let counterparty_key = htlc_key(holder.other())?;
    let remote_type = counterparty_sighash_type(ch.channel_type);
    let mut htlc_txs = vec![];
    for t in htlc_transactions(
        &secp,
        &built,
        &params,
        holder_key.as_ref(),
        counterparty_key.as_ref(),
        &preimages,
    ) {
        if let (true, Some(s)) = (want_verify, &t.signed) {
            verify_transaction(s, &[built.tx.output[t.output_index as usize].clone()]).map_err(
                |e| {
                    CliError::failure(format!(
                        "{} spending output {}: {e}",
                        t.kind.name(),
                        t.output_index
                    ))
                },
            )?;
        }
        htlc_txs.push(HtlcTxOut {
            kind: t.kind.name(),
            output_index: t.output_index,
            htlc: HtlcOut::of(t.htlc, &htlcs[t.htlc]),
            txid: t.tx.compute_txid().to_string(),
            tx_hex: serialize_hex(&t.tx),
            local_htlc_signature: t.holder_sig.map(|s| hex(s.serialize_der())),
            remote_htlc_signature: t.counterparty_sig.map(|s| hex(s.serialize_der())),
            remote_sighash: format!("{remote_type}"),
            signed_tx_hex: t.signed.as_ref().map(serialize_hex),
        });
    }
    out.htlc_txs = htlc_txs;
    if want_verify {
        out.verified = Some(true);
        ex.line("verified: Bitcoin Core's interpreter accepts the commitment and every signed HTLC transaction");
    }
    Ok(Carried::new(input, out).value())
}
