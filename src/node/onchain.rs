//! The node's half of BOLT 5: fees, wallet inputs and what to broadcast for
//! a channel's [`Resolution`]. The library says what can be claimed; this
//! decides at which feerate, adds a wallet coin where a claim cannot pay
//! for itself (anchors), and raises the fee as a deadline nears.
//!
//! Deadline-aware bumping follows LDK's and LND's sweepers: a contested
//! claim (an HTLC, a penalty) still unconfirmed a block after its broadcast
//! is replaced (BIP 125) at a higher feerate — the estimate for the blocks
//! left before its deadline, and at least a quarter (and 1 sat/vB) more than
//! the last one.

use bitcoin::absolute::LockTime;
use bitcoin::{Amount, FeeRate, OutPoint, Transaction, Weight, Witness};

use super::wallet::{FeeTarget, ForeignInput, Wallet};
use crate::channel::onchain::{ClaimTx, FundingSpend, Resolution, Role};
use crate::signer::{ChannelSigner, ClaimInput, HtlcSpend};
use crate::tx::commitment::FeeratePerKw;

/// The lowest feerate Core relays: 1 sat/vB, 253 sat per 1000 weight (LDK's floor).
pub const FEERATE_FLOOR: FeeratePerKw = FeeratePerKw(253);

/// Blocks we aim at for a claim nobody else can take.
const RELAXED_TARGET: u16 = 12;
/// Blocks we aim at for a contested claim without a known deadline.
const CONTESTED_TARGET: u16 = 6;

/// Something to send to the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Send {
    /// One transaction.
    Tx(Transaction),
    /// A parent (our commitment) and its CPFP child, as a package.
    Package(Transaction, Transaction),
}

/// What a step needs from the node.
pub struct Ctx<'a> {
    /// The channel's signer.
    pub signer: &'a ChannelSigner,
    /// The wallet (fee inputs, change).
    pub wallet: &'a mut Wallet,
    /// The chain's fee estimate for a target in blocks.
    pub estimate: &'a dyn Fn(u16) -> FeeratePerKw,
    /// The tip's height.
    pub tip: u32,
    /// The funding output's value (the commitment's fee is what it does not pay out).
    pub funding_amount: Amount,
    /// Wallet coins other resolutions' claims hold.
    pub reserved_elsewhere: Vec<OutPoint>,
}

fn target_blocks(deadline: Option<u32>, tip: u32, contested: bool) -> u16 {
    match deadline {
        Some(d) => d.saturating_sub(tip).clamp(1, 144) as u16,
        None if contested => CONTESTED_TARGET,
        None => RELAXED_TARGET,
    }
}

fn rate(f: FeeratePerKw) -> FeeRate {
    FeeRate::from_sat_per_kwu(u64::from(f.0))
}

/// The next feerate of a replacement: enough more to be accepted (BIP 125
/// rule 4 wants 1 sat/vB more at the same size) and to matter.
pub fn bumped(previous: FeeratePerKw) -> FeeratePerKw {
    FeeratePerKw(previous.0 + (previous.0 / 4).max(FEERATE_FLOOR.0))
}

/// The witness size a claim will have, with a maximum-size signature.
fn claim_satisfaction(c: &ClaimInput) -> Weight {
    let mut w = Witness::new();
    w.push([0u8; 73]);
    match &c.witness_script {
        Some(ws) => {
            for i in &c.after_sig {
                w.push(i);
            }
            w.push(ws.as_bytes());
        }
        None => w.push([0u8; 33]),
    }
    // Serialized witness plus the empty scriptSig's length byte (BDK's measure).
    Weight::from_wu(bitcoin::consensus::encode::serialize(&w).len() as u64 + 4)
}

fn htlc_satisfaction(h: &HtlcSpend, success: bool) -> Weight {
    let mut w = Witness::new();
    w.push([]);
    w.push([0u8; 73]);
    w.push([0u8; 73]);
    w.push(if success { vec![0u8; 32] } else { vec![] });
    w.push(h.witness_script.as_bytes());
    Weight::from_wu(bitcoin::consensus::encode::serialize(&w).len() as u64 + 4)
}

fn fee_of(tx: &Transaction, prevouts: &[(OutPoint, Amount)]) -> u64 {
    let in_sum: u64 = tx
        .input
        .iter()
        .filter_map(|i| prevouts.iter().find(|(o, _)| *o == i.previous_output))
        .map(|(_, a)| a.to_sat())
        .sum();
    let out_sum: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    in_sum.saturating_sub(out_sum)
}

fn prevouts(r: &Resolution, wallet: &Wallet) -> Vec<(OutPoint, Amount)> {
    let mut v: Vec<(OutPoint, Amount)> = r
        .outputs
        .iter()
        .map(|w| (w.outpoint, w.txout.value))
        .collect();
    v.extend(wallet.outputs().into_iter().map(|o| (o.outpoint, o.amount)));
    v
}

impl Ctx<'_> {
    fn reserve_except(&mut self, r: &Resolution, except: &[OutPoint]) {
        let mut reserved = self.reserved_elsewhere.clone();
        for c in r.claims.iter().filter(|c| c.confirmed_at.is_none()) {
            if !c.spends.iter().any(|o| except.contains(o)) {
                reserved.extend(c.wallet_inputs.iter().copied());
            }
        }
        self.wallet.set_reserved(reserved);
    }

    fn floor(&self, r: &Resolution) -> FeeratePerKw {
        FeeratePerKw(r.fee_floor.map(|f| f.0).unwrap_or(0).max(FEERATE_FLOOR.0))
    }
}

/// Everything to broadcast for `r` at `ctx.tip`: our commitment (with its
/// CPFP), each claim that came due, and the replacements of contested
/// claims still unconfirmed. `r` records every claim before it is returned,
/// so the caller stores `r` first and broadcasts second.
pub fn step(r: &mut Resolution, ctx: &mut Ctx) -> Vec<Send> {
    let mut out = vec![];
    if matches!(r.spend, FundingSpend::OurCommitment { .. }) && r.confirmed_at.is_none() {
        out.extend(commitment_package(r, ctx));
    }
    for group in r.due(ctx.tip) {
        let contested = group.iter().any(|i| r.outputs[*i].role.contested());
        let target = target_blocks(r.deadline_of(&group), ctx.tip, contested);
        let feerate = FeeratePerKw((ctx.estimate)(target).0.max(ctx.floor(r).0));
        if let Some(tx) = claim(r, &group, feerate, ctx) {
            out.push(Send::Tx(tx));
        }
    }
    // Contested claims a block old and unconfirmed are replaced at a higher feerate.
    let floor = ctx.floor(r);
    let stale: Vec<ClaimTx> = r
        .claims
        .iter()
        .filter(|c| c.confirmed_at.is_none() && !c.spends.contains(&anchor_of(r)))
        .filter(|c| c.broadcast_at < ctx.tip || c.feerate.0 < floor.0)
        .cloned()
        .collect();
    for c in stale {
        let group: Vec<usize> = r
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, w)| c.spends.contains(&w.outpoint) && w.role != Role::Anchor)
            .map(|(i, _)| i)
            .collect();
        if group.is_empty() {
            continue;
        }
        let contested = group.iter().any(|i| r.outputs[*i].role.contested());
        let raised = c.feerate.0 < floor.0;
        if !contested && !raised {
            // Uncontested: the same transaction again, in case a mempool lost it.
            out.push(Send::Tx(c.tx.clone()));
            continue;
        }
        let target = target_blocks(r.deadline_of(&group), ctx.tip, contested);
        let estimate = (ctx.estimate)(target);
        // `bumpfee` asks for a feerate: exactly that. Otherwise a contested claim climbs.
        let next = if raised { floor } else { bumped(c.feerate) };
        let feerate = FeeratePerKw(next.0.max(estimate.0));
        match claim(r, &group, feerate, ctx) {
            Some(tx) => out.push(Send::Tx(tx)),
            None => out.push(Send::Tx(c.tx.clone())),
        }
    }
    out
}

fn anchor_of(r: &Resolution) -> OutPoint {
    r.anchor().map(|a| a.outpoint).unwrap_or_default()
}

/// Our commitment, unconfirmed: alone if its own feerate is enough, else
/// with a child spending our anchor and a wallet coin (CPFP), as a package.
fn commitment_package(r: &mut Resolution, ctx: &mut Ctx) -> Vec<Send> {
    let parent = r.tx.clone();
    let out_sum: Amount = parent.output.iter().map(|o| o.value).sum();
    let parent_fee = ctx
        .funding_amount
        .checked_sub(out_sum)
        .unwrap_or(Amount::ZERO);
    let parent_weight = parent.weight().to_wu();
    let parent_rate = parent_fee.to_sat() * 1000 / parent_weight.max(1);
    let deadline = r.commitment_deadline();
    let target = FeeratePerKw(
        (ctx.estimate)(target_blocks(deadline, ctx.tip, deadline.is_some()))
            .0
            .max(ctx.floor(r).0),
    );
    let Some(anchor) = r.anchor().cloned() else {
        return vec![Send::Tx(parent)];
    };
    let existing = r.claim_of(&anchor.outpoint).cloned();
    let needed = match &existing {
        None if parent_rate >= u64::from(target.0) => return vec![Send::Tx(parent)],
        None => target,
        // A higher estimate, or a `bumpfee`: exactly that.
        Some(c) if c.feerate.0 < target.0 => target,
        Some(c) if c.broadcast_at >= ctx.tip => return vec![],
        Some(c) if deadline.is_none() => return vec![Send::Package(parent, c.tx.clone())],
        // A block passed and HTLCs race their expiry: raise it.
        Some(c) => bumped(c.feerate),
    };
    let Some(claim) = anchor.claim.clone() else {
        return vec![Send::Tx(parent)];
    };
    ctx.reserve_except(r, &[anchor.outpoint]);
    let foreign = ForeignInput {
        outpoint: anchor.outpoint,
        txout: anchor.txout.clone(),
        satisfaction_weight: claim_satisfaction(&claim),
        sequence: bitcoin::Sequence(claim.sequence),
    };
    // The child pays for both: its fee is the package's at `needed` less what the parent pays.
    let build = |wallet: &mut Wallet, fee: FeeTarget| {
        wallet.fund_foreign(&foreign, &[], LockTime::ZERO, fee)
    };
    let first = build(ctx.wallet, FeeTarget::Rate(rate(needed)));
    let child = first.and_then(|(tx, _)| {
        let child_weight = tx.weight().to_wu() + foreign.satisfaction_weight.to_wu();
        let total = needed.fee(parent_weight + child_weight);
        let fee = total.checked_sub(parent_fee).unwrap_or(Amount::ZERO);
        // One more wallet input's weight of slack, should coin selection need another.
        let slack = needed.fee(272);
        build(ctx.wallet, FeeTarget::Absolute(fee + slack))
    });
    let (mut tx, wallet_inputs) = match child {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!("no CPFP for our commitment (the wallet cannot pay it): {e}");
            return vec![Send::Tx(parent)];
        }
    };
    tx.input[0].witness = ctx.signer.claim_witness(&tx, 0, &claim);
    let pre = prevouts(r, ctx.wallet);
    let fee_sat = fee_of(&tx, &pre);
    r.record_claim(ClaimTx {
        txid: tx.compute_txid(),
        tx: tx.clone(),
        spends: vec![anchor.outpoint],
        wallet_inputs,
        feerate: needed,
        fee_sat,
        broadcast_at: ctx.tip,
        confirmed_at: None,
    });
    vec![Send::Package(parent, tx)]
}

/// Build, sign and record the claim of `group` at `feerate`.
fn claim(
    r: &mut Resolution,
    group: &[usize],
    feerate: FeeratePerKw,
    ctx: &mut Ctx,
) -> Option<Transaction> {
    let spends: Vec<OutPoint> = group.iter().map(|i| r.outputs[*i].outpoint).collect();
    let (tx, wallet_inputs) = if let Some(h) = r.outputs[group[0]].htlc_tx.clone() {
        let w = r.outputs[group[0]].clone();
        let preimage = match w.role {
            Role::HtlcSuccess => Some(r.preimages.iter().copied().find(|p| {
                w.htlc
                    .as_ref()
                    .is_some_and(|x| x.payment_hash == p.payment_hash())
            })?),
            _ => None,
        };
        if r.anchors {
            // Zero-fee HTLC transaction: the counterparty signed
            // SIGHASH_SINGLE|ANYONECANPAY, so a wallet coin and change join it.
            ctx.reserve_except(r, &spends);
            let foreign = ForeignInput {
                outpoint: w.outpoint,
                txout: w.txout.clone(),
                satisfaction_weight: htlc_satisfaction(&h, preimage.is_some()),
                sequence: h.tx.input[0].sequence,
            };
            let (mut tx, inputs) = match ctx.wallet.fund_foreign(
                &foreign,
                &h.tx.output,
                h.tx.lock_time,
                FeeTarget::Rate(rate(feerate)),
            ) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(outpoint = %w.outpoint, "cannot fund the HTLC transaction: {e}");
                    return None;
                }
            };
            tx.input[0].witness = ctx.signer.htlc_witness(&tx, &h, preimage.as_ref(), true);
            (tx, inputs)
        } else {
            // Its fee was set when it was signed (BOLT 3): it goes as it is.
            if r.claim_of(&w.outpoint).is_some() {
                return None;
            }
            let mut tx = h.tx.clone();
            tx.input[0].witness = ctx.signer.htlc_witness(&tx, &h, preimage.as_ref(), false);
            (tx, vec![])
        }
    } else {
        let inputs: Vec<ClaimInput> = group
            .iter()
            .filter_map(|i| r.outputs[*i].claim.clone())
            .collect();
        let dest = r.destination.clone()?;
        match ctx.signer.sign_claims(&inputs, &dest, feerate) {
            Ok(tx) => (tx, vec![]),
            Err(e) => {
                tracing::debug!("claim not made: {e}");
                return None;
            }
        }
    };
    let pre = prevouts(r, ctx.wallet);
    let fee_sat = fee_of(&tx, &pre);
    r.record_claim(ClaimTx {
        txid: tx.compute_txid(),
        tx: tx.clone(),
        spends,
        wallet_inputs,
        feerate,
        fee_sat,
        broadcast_at: ctx.tip,
        confirmed_at: None,
    });
    Some(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_pays_a_quarter_more_and_at_least_one_sat_per_vbyte() {
        assert_eq!(bumped(FeeratePerKw(253)), FeeratePerKw(506));
        assert_eq!(bumped(FeeratePerKw(4000)), FeeratePerKw(5000));
    }

    #[test]
    fn the_fee_target_shrinks_with_the_deadline() {
        assert_eq!(target_blocks(Some(110), 100, true), 10);
        assert_eq!(target_blocks(Some(100), 100, true), 1);
        assert_eq!(target_blocks(None, 100, true), CONTESTED_TARGET);
        assert_eq!(target_blocks(None, 100, false), RELAXED_TARGET);
    }
}
