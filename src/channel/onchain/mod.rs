//! BOLT 5 "Commitment Transaction" and "Mutual Close Handling": what spent
//! a channel's funding output. The first step of on-chain resolution: each
//! kind has its own sweeps and claims (the on-chain issue builds on this).

use serde::{Deserialize, Serialize};

mod resolve;
pub use resolve::{
    ClaimTx, Fate, HtlcOutcome, OnchainEvent, OutputState, Resolution, Role, Spender, Watched,
    ANTI_REORG_DELAY,
};

use super::*;
use crate::tx::commitment::obscured_commitment_number;

/// What spent the funding output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FundingSpend {
    /// A closing transaction: it has no commitment number, so both signed it.
    MutualClose,
    /// Our commitment (BOLT 5 "local commitment"): `to_local` waits `to_self_delay`.
    OurCommitment {
        /// Its commitment number.
        number: u64,
    },
    /// Their current (or next, signed but not yet revoked-for) commitment.
    TheirCommitment {
        /// Its commitment number.
        number: u64,
    },
    /// One of theirs they revoked: every output is ours through the revocation key (BOLT 5 "Revoked Transaction Close").
    Revoked {
        /// Its commitment number.
        number: u64,
    },
    /// A commitment number we never signed: they are ahead of us (we lost state).
    Future {
        /// Its commitment number.
        number: u64,
    },
}

impl FundingSpend {
    /// The kind's name, as `listpeerchannels` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            FundingSpend::MutualClose => "mutual_close",
            FundingSpend::OurCommitment { .. } => "our_commitment",
            FundingSpend::TheirCommitment { .. } => "their_commitment",
            FundingSpend::Revoked { .. } => "revoked_commitment",
            FundingSpend::Future { .. } => "future_commitment",
        }
    }
}

/// BOLT 2 "the deadline for offered HTLCs": `G` blocks after `cltv_expiry`.
pub const OFFERED_HTLC_GRACE: u32 = 2;
/// BOLT 2 "the deadline for received HTLCs this node has fulfilled": `2R+G+S`
/// blocks before `cltv_expiry` (18 is the BOLT's reasonable value).
pub const FULFILLED_HTLC_MARGIN: u32 = 18;

/// Blocks we leave the peer's commitment to confirm, once it force-closed,
/// before we broadcast ours (a node's broadcast may take a block or two to
/// reach a miner; a commitment at a feerate too low to confirm never will).
pub const THEIRS_PATIENCE: u32 = 6;

impl Channel {
    /// The earliest `cltv_expiry` of an HTLC in any of the commitments that
    /// may confirm (ours, the peer's and its next, while unrevoked).
    pub fn earliest_htlc_expiry(&self) -> Option<u32> {
        let mut commits = vec![self.ledger.local, self.ledger.remote];
        commits.extend(self.ledger.remote_next);
        commits
            .iter()
            .flat_map(|c| {
                self.ledger
                    .view_of(c)
                    .htlcs
                    .into_values()
                    .map(|h| h.cltv_expiry.0)
            })
            .min()
    }

    /// Whether, the peer having force-closed, we may still leave its
    /// commitment to confirm at `height` rather than broadcast ours.
    ///
    /// BOLT 5 lets either commitment settle the channel: the peer's pays
    /// us at once, and each HTLC in it can be claimed on chain (by
    /// preimage before its expiry, by timeout after). Ours costs a CPFP
    /// and locks our balance for `to_self_delay`. So ours is needed only
    /// when an HTLC deadline is near: waiting lasts at most
    /// `THEIRS_PATIENCE` blocks, and the earliest HTLC must then still be
    /// more than `FULFILLED_HTLC_MARGIN` blocks from its expiry (BOLT 2's
    /// deadline for an HTLC we fulfil), so a claim by preimage still has
    /// time to confirm whichever commitment the chain takes.
    pub fn may_await_their_commitment(&self, height: u32) -> bool {
        self.earliest_htlc_expiry()
            .is_none_or(|e| e > height + THEIRS_PATIENCE + FULFILLED_HTLC_MARGIN)
    }

    /// BOLT 2 "Requirements" of the HTLC deadlines: an HTLC we offered that
    /// is still in a current commitment `OFFERED_HTLC_GRACE` blocks after
    /// its expiry, or one we fulfilled that is still there
    /// `FULFILLED_HTLC_MARGIN` blocks before its expiry, means the channel
    /// MUST be failed and the HTLC resolved on chain. Says why, if so.
    pub fn htlc_deadline_passed(&self, height: u32) -> Option<String> {
        if !matches!(
            self.phase,
            Phase::Normal | Phase::ShuttingDown | Phase::Negotiating
        ) {
            return None;
        }
        let fulfilled: Vec<u64> = self
            .ledger
            .ours
            .entries
            .iter()
            .filter_map(|u| match u {
                ledger::Update::Fulfill { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        let mut commits = vec![self.ledger.local, self.ledger.remote];
        commits.extend(self.ledger.remote_next);
        for c in commits {
            for h in self.ledger.view_of(&c).htlcs.values() {
                let expiry = h.cltv_expiry.0;
                if h.offerer == Side::Local && height >= expiry + OFFERED_HTLC_GRACE {
                    return Some(format!(
                        "the HTLC {} we offered expired at {expiry} and is unresolved at {height}",
                        h.id
                    ));
                }
                if h.offerer == Side::Remote
                    && fulfilled.contains(&h.id)
                    && height + FULFILLED_HTLC_MARGIN >= expiry
                {
                    return Some(format!(
                        "the HTLC {} we fulfilled expires at {expiry} and its removal is not irrevocable at {height}",
                        h.id
                    ));
                }
            }
        }
        None
    }

    /// Classify a transaction that spends this channel's funding output.
    /// Both sides' commitments hide their number under the same obscuring
    /// factor (BOLT 3), so ours is told apart by its txid.
    pub fn classify_spend(&self, signer: &ChannelSigner, tx: &Transaction) -> FundingSpend {
        let Some(obscured) = obscured_commitment_number(tx) else {
            return FundingSpend::MutualClose;
        };
        let Some(theirs) = &self.theirs else {
            return FundingSpend::MutualClose;
        };
        let (opener_pb, accepter_pb) = match self.opener {
            Side::Local => (&self.ours.pubkeys.payment, &theirs.pubkeys.payment),
            Side::Remote => (&theirs.pubkeys.payment, &self.ours.pubkeys.payment),
        };
        let number = obscured ^ obscuring_factor(opener_pb, accepter_pb);
        let ours = self.local_commitment(signer).map(|c| c.tx.compute_txid());
        if ours == Some(tx.compute_txid()) {
            return FundingSpend::OurCommitment { number };
        }
        let latest = self.ledger.remote_latest().number;
        if number < self.ledger.remote.number {
            FundingSpend::Revoked { number }
        } else if number <= latest {
            FundingSpend::TheirCommitment { number }
        } else {
            FundingSpend::Future { number }
        }
    }
}
