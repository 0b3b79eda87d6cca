//! BOLT 5 "Revoked Transaction Close Handling": the justice transaction.
//!
//! When a peer broadcasts a commitment it has revoked, the revealed
//! `per_commitment_secret` and our `revocation_basepoint_secret` give the
//! revocation private key of that commitment, which spends at once its
//! `to_local` output, every HTLC output, and the output of any HTLC-timeout or
//! HTLC-success transaction the cheater already broadcast.

use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::{OutPoint, ScriptBuf, Sequence, Transaction, Txid};

use super::commitment::{ChannelType, CommitmentKeys, Htlc, HtlcDirection};
use super::sweep::{SpendInput, WitnessTemplate};
use crate::script;

/// What a revoked output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedKind {
    /// The cheater's `to_local`: witness `<revocation_sig> 1`.
    ToLocal,
    /// An HTLC the cheater offered: witness `<revocation_sig> <revocationpubkey>`.
    HtlcOffered(usize),
    /// An HTLC the cheater received: witness `<revocation_sig> <revocationpubkey>`.
    HtlcReceived(usize),
    /// The output of the cheater's HTLC-timeout/success transaction: `<revocation_sig> 1`.
    SecondStage,
}

impl RevokedKind {
    /// The name in lnkit's JSON.
    pub fn name(self) -> &'static str {
        match self {
            RevokedKind::ToLocal => "to_local",
            RevokedKind::HtlcOffered(_) => "htlc_offered",
            RevokedKind::HtlcReceived(_) => "htlc_received",
            RevokedKind::SecondStage => "second_stage_htlc_output",
        }
    }
}

/// An output the revocation key can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedOutput {
    /// What it is.
    pub kind: RevokedKind,
    /// Where it is.
    pub outpoint: OutPoint,
    /// Its value and scriptPubKey.
    pub prevout: bitcoin::TxOut,
    /// Its witness script.
    pub witness_script: ScriptBuf,
}

/// Every output of a revoked commitment `tx` that pays to the revocation key
/// of `keys` — found by rebuilding the scripts the commitment must contain
/// (`to_local` and one per HTLC) and matching their P2WSH.
pub fn find_revoked_outputs(
    tx: &Transaction,
    keys: &CommitmentKeys,
    to_self_delay: u16,
    htlcs: &[Htlc],
    channel_type: ChannelType,
) -> Vec<RevokedOutput> {
    let anchors = channel_type.has_anchors();
    let htlc_keys = keys.htlc_keys();
    let mut candidates = vec![(
        RevokedKind::ToLocal,
        script::to_local(&keys.revocation, to_self_delay, &keys.holder_delayed),
    )];
    for (i, h) in htlcs.iter().enumerate() {
        candidates.push(match h.direction {
            HtlcDirection::Offered => (
                RevokedKind::HtlcOffered(i),
                script::offered_htlc(&htlc_keys, &h.payment_hash, anchors),
            ),
            HtlcDirection::Received => (
                RevokedKind::HtlcReceived(i),
                script::received_htlc(&htlc_keys, &h.payment_hash, h.cltv_expiry, anchors),
            ),
        });
    }
    let txid = tx.compute_txid();
    let mut found = vec![];
    let mut used = vec![false; candidates.len()];
    for (vout, out) in tx.output.iter().enumerate() {
        // Two identical HTLCs give identical outputs: each candidate claims one.
        let hit = candidates
            .iter()
            .enumerate()
            .find(|(c, (_, s))| !used[*c] && s.to_p2wsh() == out.script_pubkey);
        if let Some((c, (kind, script))) = hit {
            used[c] = true;
            found.push(RevokedOutput {
                kind: *kind,
                outpoint: OutPoint::new(txid, vout as u32),
                prevout: out.clone(),
                witness_script: script.clone(),
            });
        }
    }
    found
}

/// The output of a cheater's HTLC-timeout or HTLC-success transaction, if
/// `second_stage` is one for these keys (its output pays the `to_local` script).
pub fn find_second_stage(
    second_stage: &Transaction,
    keys: &CommitmentKeys,
    to_self_delay: u16,
) -> Option<RevokedOutput> {
    let script = script::to_local(&keys.revocation, to_self_delay, &keys.holder_delayed);
    let out = second_stage.output.first()?;
    (out.script_pubkey == script.to_p2wsh()).then(|| RevokedOutput {
        kind: RevokedKind::SecondStage,
        outpoint: OutPoint::new(second_stage.compute_txid(), 0),
        prevout: out.clone(),
        witness_script: script,
    })
}

/// The outpoints of the commitment that `second_stage` transactions spend.
pub fn spent_by(second_stage: &[Transaction], commitment: Txid) -> Vec<OutPoint> {
    second_stage
        .iter()
        .flat_map(|t| t.input.iter().map(|i| i.previous_output))
        .filter(|o| o.txid == commitment)
        .collect()
}

/// The spend of a revoked output with the revocation private key.
pub fn penalty_input(
    output: &RevokedOutput,
    revocation_privkey: &SecretKey,
    revocationpubkey: &PublicKey,
) -> SpendInput {
    let after_sig = match output.kind {
        RevokedKind::ToLocal | RevokedKind::SecondStage => vec![vec![1u8]],
        RevokedKind::HtlcOffered(_) | RevokedKind::HtlcReceived(_) => {
            vec![revocationpubkey.serialize().to_vec()]
        }
    };
    SpendInput {
        outpoint: output.outpoint,
        prevout: output.prevout.clone(),
        template: WitnessTemplate::P2wsh {
            witness_script: output.witness_script.clone(),
            after_sig,
        },
        key: *revocation_privkey,
        // The revocation branches need no delay; signal RBF so the justice tx can be bumped.
        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
        lock_time: None,
    }
}

/// What a justice transaction can claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PenaltyPlan {
    /// Every output of the revoked commitment the revocation key can take.
    pub found: Vec<RevokedOutput>,
    /// Those the cheater's second-stage transactions already spent.
    pub already_spent: Vec<RevokedOutput>,
    /// What to claim: the unspent ones, and the second-stage outputs.
    pub claim: Vec<RevokedOutput>,
}

/// Why no justice transaction can be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PenaltyError {
    /// No output pays to these keys: the secret (or the HTLCs, delay or
    /// basepoints) does not belong to this commitment.
    #[error("no output pays to the revocation key these inputs give")]
    NoMatch,
    /// A second-stage transaction that does not spend this commitment's HTLC
    /// outputs into the revocable script.
    #[error("second-stage transaction {0} is not an HTLC transaction spending a revoked HTLC output of this commitment")]
    NotSecondStage(usize),
}

/// BOLT 5: everything the revocation key of `keys` takes from a revoked
/// commitment and from the cheater's HTLC transactions that spent it.
pub fn plan_penalty(
    revoked: &Transaction,
    keys: &CommitmentKeys,
    to_self_delay: u16,
    htlcs: &[Htlc],
    channel_type: ChannelType,
    second_stage: &[Transaction],
) -> Result<PenaltyPlan, PenaltyError> {
    let found = find_revoked_outputs(revoked, keys, to_self_delay, htlcs, channel_type);
    if found.is_empty() {
        return Err(PenaltyError::NoMatch);
    }
    let mut second_outputs = vec![];
    for (i, t) in second_stage.iter().enumerate() {
        let spends_ours = t
            .input
            .iter()
            .any(|i| found.iter().any(|f| f.outpoint == i.previous_output));
        let out = find_second_stage(t, keys, to_self_delay)
            .filter(|_| spends_ours)
            .ok_or(PenaltyError::NotSecondStage(i))?;
        second_outputs.push(out);
    }
    let spent = spent_by(second_stage, revoked.compute_txid());
    let (already_spent, mut claim): (Vec<_>, Vec<_>) = found
        .iter()
        .cloned()
        .partition(|f| spent.contains(&f.outpoint));
    claim.extend(second_outputs);
    Ok(PenaltyPlan {
        found,
        already_spent,
        claim,
    })
}
