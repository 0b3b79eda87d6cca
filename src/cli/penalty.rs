//! `lnkit penalty`: the justice transaction against a revoked commitment (BOLT 5).

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use bitcoin::TxOut;
use clap::Args;
use serde_json::{json, Value};

use super::channel::{self, prefix};
use super::commitment_types::*;
use super::input::{self, Input};
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::keys::{self, PerCommitmentSecret};
use crate::shachain::CommitmentNumber;
use crate::tx::commitment::{obscured_commitment_number, FeeratePerKw, Side};
use crate::tx::penalty::{penalty_input, plan_penalty, PenaltyError, RevokedKind};
use crate::tx::sweep::{build_spend, SpendError};
use crate::verify::verify_transaction;

/// Flags of `lnkit penalty`.
#[derive(Args, Debug)]
pub struct PenaltyArgs {
    /// One justice transaction per revoked output instead of one for all (field `split`).
    #[arg(long)]
    split: bool,
    /// Check the justice transactions with Bitcoin Core's script interpreter (field `verify`).
    #[arg(long)]
    verify: bool,
}

/// Run `lnkit penalty`.
pub fn run(args: PenaltyArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    for (f, on) in [("split", args.split), ("verify", args.verify)] {
        if on {
            input.set(f, Value::Bool(true));
        }
    }
    penalty(input, ex)
}

/// `lnkit penalty` on an input object.
pub fn penalty(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let ch = channel::read_channel(input)?;
    let r: RevokedIn = input.typed()?;
    let (revoked_field, revoked) = [
        ("revoked_tx_hex", r.revoked_tx_hex),
        ("signed_tx_hex", r.signed_tx_hex),
        ("tx_hex", r.tx_hex),
    ]
    .into_iter()
    .find_map(|(f, t)| t.map(|t| (f, t.0)))
    .ok_or_else(|| input.error("revoked_tx_hex", "missing required field"))?;
    if revoked.input.first().map(|i| i.previous_output) != Some(ch.funding_outpoint)
        || revoked.input.len() != 1
    {
        return Err(input.error(
            revoked_field,
            format!("does not spend the funding output {}", ch.funding_outpoint),
        ));
    }
    let p: PenaltyIn = input.typed()?;
    let secret = PerCommitmentSecret(p.per_commitment_secret.0);
    let rbs = p.revocation_basepoint_secret.0;
    let ours = PublicKey::from_secret_key(&secp, &rbs);
    // We are the side whose revocation basepoint this is; the cheater is the other.
    let we = match [Side::Local, Side::Remote]
        .into_iter()
        .find(|s| channel::point(input, *s, "revocation_basepoint").ok() == Some(ours))
    {
        Some(side) => side,
        None => p.we.unwrap_or(Side::Local),
    };
    let cheater = we.other();
    let mut with_ours = input.clone();
    with_ours.set(
        &format!("{}_revocation_basepoint", prefix(we)),
        json!(ours.to_string()),
    );
    let point = secret.point(&secp);
    let keys = channel::commitment_keys(&with_ours, cheater, &point, ch.channel_type)?;
    let revocation_privkey = keys::derive_revocation_privkey(&secp, &rbs, &secret)
        .map_err(|e| CliError::failure(format!("revocation key: {e}")))?;
    let factor = channel::obscuring(&with_ours, ch.opener)?;
    let number = obscured_commitment_number(&revoked).map(|o| CommitmentNumber(o ^ factor));
    let to_self_delay = u16::try_from(p.to_self_delay.0)
        .map_err(|_| input.error("to_self_delay", "expected at most 65535 blocks"))?;
    let htlcs: Vec<_> = channel::htlcs(input)?.into_iter().map(|(h, _)| h).collect();

    let second = p.second_stage_tx_hex.map(|t| t.0).unwrap_or_default();
    let plan = plan_penalty(&revoked, &keys, to_self_delay, &htlcs, ch.channel_type, &second)
        .map_err(|e| match e {
            PenaltyError::NoMatch => input.error("per_commitment_secret", format!(
                "does not match the commitment: no output of {revoked_field} pays to the revocation key it gives (the tx says commitment number {}; check the secret, to_self_delay, htlcs and the {} basepoints)",
                number.map(|n| n.0.to_string()).unwrap_or_else(|| "?".into()), prefix(cheater))),
            PenaltyError::NotSecondStage(i) => input.error(
                &format!("second_stage_tx_hex[{i}]"),
                "is not an HTLC transaction spending a revoked HTLC output of this commitment",
            ),
        })?;
    let (found, already_spent, claim) = (plan.found, plan.already_spent, plan.claim);

    let network = p
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let destination = input::destination(network)(&Value::String(p.destination.clone()))
        .map_err(|e| input.error("destination", e))?;
    let feerate = FeeratePerKw(p.feerate_per_kw.0);
    let groups: Vec<Vec<_>> = if p.split.is_some_and(|s| s.0) {
        claim.iter().map(|c| vec![c.clone()]).collect()
    } else {
        vec![claim.clone()]
    };
    let want_verify = p.verify.is_some_and(|v| v.0);
    let split = groups.len() > 1;
    let mut txs = vec![];
    let mut uneconomical = vec![];
    for group in &groups {
        let spends: Vec<_> = group
            .iter()
            .map(|o| penalty_input(o, &revocation_privkey, &keys.revocation.0))
            .collect();
        let tx = match build_spend(&secp, &spends, &destination, feerate) {
            Ok(tx) => tx,
            // Split, an output worth less than its own fee is left out and listed.
            Err(e @ SpendError::TooSmall { .. }) if split => {
                uneconomical.push(UneconomicalOut {
                    outpoint: group[0].outpoint.to_string(),
                    reason: e.to_string(),
                });
                continue;
            }
            Err(e) => {
                return Err(input.error("feerate_per_kw", format!("justice transaction: {e}")))
            }
        };
        let prevouts: Vec<TxOut> = group.iter().map(|o| o.prevout.clone()).collect();
        if want_verify {
            verify_transaction(&tx, &prevouts)
                .map_err(|e| CliError::failure(format!("justice transaction: {e}")))?;
        }
        txs.push(SpendTxOut::of(&tx, &prevouts));
    }
    if txs.is_empty() {
        return Err(input.error(
            "feerate_per_kw",
            "no revoked output is worth its own fee at this feerate",
        ));
    }
    ex.line(format!(
        "commitment {} of {} is revoked: revocation key {} claims {} output(s)",
        number
            .map(|n| n.0.to_string())
            .unwrap_or_else(|| "?".into()),
        prefix(cheater),
        keys.revocation,
        claim.len()
    ));
    let listing = |v: &[crate::tx::penalty::RevokedOutput]| -> Vec<RevokedOut> {
        v.iter()
            .map(|o| RevokedOut {
                kind: o.kind.name(),
                outpoint: o.outpoint.to_string(),
                amount_sat: o.prevout.value.to_sat(),
                htlc: match o.kind {
                    RevokedKind::HtlcOffered(h) | RevokedKind::HtlcReceived(h) => {
                        Some(HtlcOut::of(h, &htlcs[h]))
                    }
                    _ => None,
                },
            })
            .collect()
    };
    respond(PenaltyOut {
        cheater: prefix(cheater),
        revoked_txid: revoked.compute_txid().to_string(),
        to_self_delay,
        commitment_number: number.map(|n| n.0),
        per_commitment_point: point.to_string(),
        revocationpubkey: keys.revocation.to_string(),
        found: listing(&found),
        already_spent: listing(&already_spent),
        claimed: listing(&claim),
        claimed_sat: claim.iter().map(|o| o.prevout.value.to_sat()).sum(),
        penalty_txs: txs,
        uneconomical,
        verified: want_verify.then_some(true),
    })
}
