//! The updates of a channel and which commitment holds which (BOLT 2
//! "Normal Operation").
//!
//! Each side's updates (`update_add_htlc`, `update_fulfill_htlc`,
//! `update_fail_htlc`, `update_fail_malformed_htlc`, `update_fee`) form a log
//! in the order they were sent. A commitment always holds a *prefix* of each
//! log, so it is named by two counts: how many of our updates and how many of
//! theirs it includes. BOLT 2's rule that an update enters the receiver's
//! commitment first and the sender's only once acknowledged becomes a rule on
//! these counts (see [`Ledger`]). Updates that every live commitment holds are
//! folded into a base state, so the logs stay short however long the channel lives.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::msgs::UpdateAddHtlc;
use crate::amount::Msat;
use crate::onion::failure::AttributionData;
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::tx::commitment::{FeeratePerKw, Side};

/// One update, as its sender sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Update {
    /// `update_add_htlc`.
    Add(Box<UpdateAddHtlc>),
    /// `update_fulfill_htlc` of an HTLC the other side offered.
    Fulfill {
        /// The HTLC's id.
        id: u64,
        /// Its preimage.
        preimage: PaymentPreimage,
        /// `attribution_data`, sent again as it was on a reestablish.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attribution: Option<Box<AttributionData>>,
    },
    /// `update_fail_htlc`.
    Fail {
        /// The HTLC's id.
        id: u64,
        /// The failure onion.
        #[serde(with = "crate::fast_hex")]
        reason: Vec<u8>,
        /// `attribution_data`, sent again as it was on a reestablish.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attribution: Option<Box<AttributionData>>,
    },
    /// `update_fail_malformed_htlc`.
    FailMalformed {
        /// The HTLC's id.
        id: u64,
        /// `sha256_of_onion`.
        #[serde(with = "hex::serde")]
        sha256_of_onion: [u8; 32],
        /// `failure_code`.
        failure_code: u16,
    },
    /// `update_fee` (the opener's only).
    Fee(FeeratePerKw),
}

impl Update {
    /// The id of the HTLC a removal removes.
    pub fn removes(&self) -> Option<u64> {
        match self {
            Update::Fulfill { id, .. }
            | Update::Fail { id, .. }
            | Update::FailMalformed { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// One side's updates; `start` is the absolute index of the first one kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// Absolute index of `entries[0]`.
    pub start: u64,
    /// The updates not yet folded.
    pub entries: VecDeque<Update>,
}

impl Log {
    /// The absolute index after the last update.
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64
    }
    /// The updates from absolute index `from` to `to`.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = &Update> + Clone {
        let skip = from.saturating_sub(self.start) as usize;
        let take = to.saturating_sub(from.max(self.start)) as usize;
        self.entries.iter().skip(skip).take(take)
    }
    /// Drop the updates from `to` on, returning them.
    pub fn truncate(&mut self, to: u64) -> Vec<Update> {
        let keep = to.saturating_sub(self.start) as usize;
        self.entries.split_off(keep.min(self.entries.len())).into()
    }
}

/// A commitment transaction, named by its number and the log prefixes it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Its commitment number.
    pub number: u64,
    /// How many of our updates it includes.
    pub ours: u64,
    /// How many of theirs.
    pub theirs: u64,
}

/// An HTLC in a commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtlcEntry {
    /// Who offered it.
    pub offerer: Side,
    /// Its id (per offerer).
    pub id: u64,
    /// `amount_msat`.
    pub amount: Msat,
    /// `payment_hash`.
    pub payment_hash: PaymentHash,
    /// `cltv_expiry`.
    pub cltv_expiry: CltvExpiry,
}

/// Balances, HTLCs and feerate: of the base, or of one commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Our balance, HTLCs excluded, before fees.
    pub local: Msat,
    /// Theirs.
    pub remote: Msat,
    /// The HTLCs, by offerer and id (stored as a list: each entry names its key).
    #[serde(with = "htlc_list")]
    pub htlcs: BTreeMap<(Side, u64), HtlcEntry>,
    /// `feerate_per_kw`.
    pub feerate: FeeratePerKw,
}

/// JSON maps need string keys; the HTLC map is stored as its values.
mod htlc_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::HtlcEntry;
    use crate::tx::commitment::Side;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<(Side, u64), HtlcEntry>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.values().collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<(Side, u64), HtlcEntry>, D::Error> {
        let v = Vec::<HtlcEntry>::deserialize(d)?;
        Ok(v.into_iter().map(|h| ((h.offerer, h.id), h)).collect())
    }
}

impl View {
    fn balance(&mut self, side: Side) -> &mut Msat {
        match side {
            Side::Local => &mut self.local,
            Side::Remote => &mut self.remote,
        }
    }

    /// A side's balance.
    pub fn of(&self, side: Side) -> Msat {
        match side {
            Side::Local => self.local,
            Side::Remote => self.remote,
        }
    }

    /// The HTLCs a side offered.
    pub fn offered_by(&self, side: Side) -> impl Iterator<Item = &HtlcEntry> {
        self.htlcs.values().filter(move |h| h.offerer == side)
    }

    /// Apply updates of both logs: adds first, then removals, then fees (only
    /// `opener`'s `update_fee` counts). A removal always names an HTLC whose
    /// add is already in (BOLT 2: no removal before the add is irrevocably
    /// committed), so the order cannot lose one.
    fn apply<'a>(
        &mut self,
        ours: impl Iterator<Item = &'a Update> + Clone,
        theirs: impl Iterator<Item = &'a Update> + Clone,
        opener: Side,
    ) -> Vec<(Side, HtlcEntry, Update)> {
        let mut removed = vec![];
        // Signed sums: a side may add an HTLC paid from what a removal in the
        // same batch credits it, so the order of the sums must not matter.
        let mut delta = [0i128; 2];
        let slot = |side: Side| usize::from(side == Side::Remote);
        let both = || {
            ours.clone()
                .map(|u| (Side::Local, u))
                .chain(theirs.clone().map(|u| (Side::Remote, u)))
        };
        for (side, u) in both() {
            if let Update::Add(a) = u {
                delta[slot(side)] -= i128::from(a.amount.0);
                self.htlcs.insert(
                    (side, a.id),
                    HtlcEntry {
                        offerer: side,
                        id: a.id,
                        amount: a.amount,
                        payment_hash: a.payment_hash,
                        cltv_expiry: a.cltv_expiry,
                    },
                );
            }
        }
        for (side, u) in both() {
            let Some(id) = u.removes() else { continue };
            // A removal is sent by the HTLC's receiver.
            let Some(h) = self.htlcs.remove(&(side.other(), id)) else {
                continue;
            };
            let paid = if matches!(u, Update::Fulfill { .. }) {
                side
            } else {
                side.other()
            };
            delta[slot(paid)] += i128::from(h.amount.0);
            removed.push((side, h, u.clone()));
        }
        for side in [Side::Local, Side::Remote] {
            let b = self.balance(side);
            // Below zero only for a sender that overspent; the affordability checks refuse it.
            *b = Msat(
                u64::try_from((i128::from(b.0) + delta[slot(side)]).max(0)).unwrap_or(u64::MAX),
            );
        }
        for (side, u) in both() {
            if let (Update::Fee(f), true) = (u, side == opener) {
                self.feerate = *f;
            }
        }
        removed
    }
}

/// What one [`Ledger::fold`] made irrevocable.
#[derive(Debug)]
pub struct Folded {
    /// Our updates folded.
    pub ours: Vec<Update>,
    /// Theirs.
    pub theirs: Vec<Update>,
    /// The HTLCs removed: who removed each, the HTLC, the removal.
    pub removed: Vec<(Side, HtlcEntry, Update)>,
}

/// Both logs, the base they fold into, and the commitments that matter.
///
/// - `local`: our current commitment (its predecessor revoked).
/// - `remote`: their current commitment (its predecessor revoked).
/// - `remote_next`: their next one, signed by us, awaiting `revoke_and_ack`.
///
/// A `commitment_signed` we send holds all our updates and the ones of theirs
/// we have acknowledged (those in `local`); one we receive holds all of theirs
/// and the ones of ours they acknowledged (those in `remote`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Who pays the commitment fee.
    pub opener: Side,
    /// Our updates.
    pub ours: Log,
    /// Theirs.
    pub theirs: Log,
    /// Everything folded: the state all live commitments share.
    pub base: View,
    /// Our current commitment.
    pub local: Commit,
    /// Their current commitment.
    pub remote: Commit,
    /// Their next commitment, signed, not yet revoked-for.
    pub remote_next: Option<Commit>,
    /// The id of our next `update_add_htlc`.
    pub next_htlc_id: u64,
    /// The id we expect on their next `update_add_htlc`.
    pub their_next_htlc_id: u64,
}

impl Ledger {
    /// A new channel's ledger: the opener holds the funding minus `push`.
    pub fn new(opener: Side, local: Msat, remote: Msat, feerate: FeeratePerKw) -> Self {
        Ledger {
            opener,
            ours: Log::default(),
            theirs: Log::default(),
            base: View {
                local,
                remote,
                htlcs: BTreeMap::new(),
                feerate,
            },
            local: Commit::default(),
            remote: Commit::default(),
            remote_next: None,
            next_htlc_id: 0,
            their_next_htlc_id: 0,
        }
    }

    /// The state of a commitment holding `ours` of our updates and `theirs` of theirs.
    pub fn view(&self, ours: u64, theirs: u64) -> View {
        let mut v = self.base.clone();
        v.apply(
            self.ours.range(self.ours.start, ours),
            self.theirs.range(self.theirs.start, theirs),
            self.opener,
        );
        v
    }

    /// The view of a named commitment.
    pub fn view_of(&self, c: &Commit) -> View {
        self.view(c.ours, c.theirs)
    }

    /// The latest commitment of theirs we signed.
    pub fn remote_latest(&self) -> Commit {
        self.remote_next.unwrap_or(self.remote)
    }

    /// What our next `commitment_signed` would hold, if it changes anything.
    pub fn next_remote(&self) -> Option<Commit> {
        let latest = self.remote_latest();
        let (ours, theirs) = (self.ours.end(), self.local.theirs);
        (self.remote_next.is_none() && (ours > latest.ours || theirs > latest.theirs)).then_some(
            Commit {
                number: latest.number + 1,
                ours,
                theirs,
            },
        )
    }

    /// Whether some update is in no commitment of theirs we signed: ours
    /// not yet signed, or theirs we acknowledged but have not signed back.
    pub fn has_unsigned(&self) -> bool {
        let latest = self.remote_latest();
        self.ours.end() > latest.ours || self.local.theirs > latest.theirs
    }

    /// Whether we owe them a `commitment_signed`: our commitment holds
    /// updates of theirs that no commitment of theirs we signed holds yet.
    pub fn owes_commitment(&self) -> bool {
        self.local.theirs > self.remote_latest().theirs
    }

    /// What their next `commitment_signed` holds.
    pub fn next_local(&self) -> Commit {
        Commit {
            number: self.local.number + 1,
            ours: self.remote.ours,
            theirs: self.theirs.end(),
        }
    }

    /// Whether updates wait for a `commitment_signed` from either side, or a
    /// revocation is owed: the channel is not quiescent.
    pub fn has_pending(&self) -> bool {
        self.remote_next.is_some()
            || self.ours.end() > self.remote.ours
            || self.theirs.end() > self.local.theirs
            || self.local.ours != self.remote.ours
            || self.local.theirs != self.remote.theirs
    }

    /// An HTLC that is irrevocably committed in both commitments (folded)
    /// and has no removal pending: only such an HTLC may be removed (BOLT 2).
    pub fn removable(&self, offerer: Side, id: u64) -> Option<&HtlcEntry> {
        let removal_pending = {
            let log = match offerer {
                Side::Local => &self.theirs,
                Side::Remote => &self.ours,
            };
            log.entries.iter().any(|u| u.removes() == Some(id))
        };
        self.base
            .htlcs
            .get(&(offerer, id))
            .filter(|_| !removal_pending)
    }

    /// Fold every update that both current commitments hold into the base,
    /// and say what became irrevocable.
    pub fn fold(&mut self) -> Folded {
        let ours_to = self.local.ours.min(self.remote.ours);
        let theirs_to = self.local.theirs.min(self.remote.theirs);
        let take = |log: &mut Log, to: u64| {
            let n = to.saturating_sub(log.start) as usize;
            let out: Vec<Update> = log.entries.drain(..n.min(log.entries.len())).collect();
            log.start += out.len() as u64;
            out
        };
        let ours = take(&mut self.ours, ours_to);
        let theirs = take(&mut self.theirs, theirs_to);
        let removed = self.base.apply(ours.iter(), theirs.iter(), self.opener);
        Folded {
            ours,
            theirs,
            removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::msgs::ChannelId;

    fn add(id: u64, amount: u64) -> Update {
        Update::Add(Box::new(UpdateAddHtlc {
            channel_id: ChannelId([0; 32]),
            id,
            amount: Msat(amount),
            payment_hash: PaymentPreimage([id as u8; 32]).payment_hash(),
            cltv_expiry: CltvExpiry(500),
            onion: vec![],
            path_key: None,
        }))
    }

    #[test]
    fn a_commitment_holds_log_prefixes_and_folding_keeps_balances() {
        let mut l = Ledger::new(Side::Local, Msat(10_000_000), Msat(0), FeeratePerKw(253));
        l.ours.entries.push_back(add(0, 1_000_000));
        l.ours.entries.push_back(add(1, 2_000_000));
        let v = l.view(1, 0);
        assert_eq!((v.local, v.htlcs.len()), (Msat(9_000_000), 1));
        l.theirs.entries.push_back(Update::Fulfill {
            id: 0,
            preimage: PaymentPreimage([0; 32]),
            attribution: None,
        });
        l.theirs.entries.push_back(Update::Fail {
            id: 1,
            reason: vec![],
            attribution: None,
        });
        let v = l.view(2, 2);
        assert_eq!(
            (v.local, v.remote, v.htlcs.len()),
            (Msat(9_000_000), Msat(1_000_000), 0)
        );
        l.local = Commit {
            number: 1,
            ours: 2,
            theirs: 1,
        };
        l.remote = Commit {
            number: 1,
            ours: 2,
            theirs: 2,
        };
        let f = l.fold();
        assert_eq!((f.ours.len(), f.theirs.len(), f.removed.len()), (2, 1, 1));
        assert_eq!(
            l.view(2, 2),
            v,
            "folding does not change what a commitment holds"
        );
        assert_eq!(l.view(2, 1).htlcs.len(), 1, "the fail is not folded yet");
    }

    #[test]
    fn an_htlc_paid_from_a_fulfil_in_the_same_view_is_not_money_made() {
        // They hold nothing, fulfil our 5,000,000 msat HTLC and at once offer 2,000,000 msat of it.
        let mut l = Ledger::new(Side::Local, Msat(10_000_000), Msat(0), FeeratePerKw(253));
        l.ours.entries.push_back(add(0, 5_000_000));
        l.local = Commit {
            number: 1,
            ours: 1,
            theirs: 0,
        };
        l.remote = Commit {
            number: 1,
            ours: 1,
            theirs: 0,
        };
        l.fold();
        l.theirs.entries.push_back(Update::Fulfill {
            id: 0,
            preimage: PaymentPreimage([0; 32]),
            attribution: None,
        });
        l.theirs.entries.push_back(add(0, 2_000_000));
        let v = l.view(1, 2);
        let total = v.local.0 + v.remote.0 + v.htlcs.values().map(|h| h.amount.0).sum::<u64>();
        assert_eq!(
            (v.local, v.remote, total),
            (Msat(5_000_000), Msat(3_000_000), 10_000_000)
        );
    }
}
