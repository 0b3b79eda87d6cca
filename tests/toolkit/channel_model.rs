//! A reference ledger for one channel, written from BOLT 2 and BOLT 3
//! alone: nothing of `src/channel/` (its ledger, its views, its commitment
//! builder) is used. It reads only the messages the two sides deliver to
//! each other, as a wire tap would, and the disconnections.
//!
//! BOLT 2 "Updating Fees: update_fee" / "Committing Updates So Far":
//! an update takes effect once its sender's `commitment_signed` covering it
//! reaches the peer; on a disconnection, updates not yet so covered are
//! reversed ("Message Retransmission"), and a sender that had signed them
//! sends them again, with the signature. So the ledger applies a side's
//! updates when that side's `commitment_signed` is delivered, and forgets
//! the rest on every disconnection. At a quiescent point (nothing in
//! flight, nothing left to sign) both commitments hold exactly what it
//! holds, and BOLT 3 says what their outputs must be.

use std::collections::BTreeMap;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Amount, Transaction};
use lnkit::channel::ChannelMessage;

/// The opener (index 0) and the accepter (index 1).
pub const OPENER: usize = 0;

/// An update a side sent, received by the other, not yet signed for.
#[derive(Clone, Debug)]
enum Update {
    Add {
        id: u64,
        amount_msat: u64,
        hash: [u8; 32],
    },
    Fulfill {
        id: u64,
        preimage: [u8; 32],
    },
    Fail {
        id: u64,
    },
    Fee(u32),
}

/// A committed HTLC, and how far BOLT 2's round has taken it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Htlc {
    pub amount_msat: u64,
    pub hash: [u8; 32],
    /// 0: in the receiver's commitment (the offerer's `commitment_signed`
    /// arrived); 1: the receiver revoked its previous one; 2: in the
    /// offerer's commitment too; 3: the offerer revoked: irrevocably
    /// committed in both, and only now may the receiver remove it (BOLT 2
    /// "Removing an HTLC": a node MUST NOT send `update_fulfill_htlc` ...
    /// until the HTLC is irrevocably committed in both commitments).
    stage: u8,
}

impl Htlc {
    /// Irrevocably committed in both commitments.
    pub fn irrevocable(&self) -> bool {
        self.stage == 3
    }
}

/// How an HTLC ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    Fulfilled([u8; 32]),
    Failed,
}

/// The ledger.
#[derive(Clone, Debug)]
pub struct Model {
    anchors: bool,
    /// Each side's `dust_limit_satoshis` (its own commitment's).
    dust_limit: [u64; 2],
    pub feerate: u32,
    /// Each side's balance, HTLCs aside, in msat.
    pub balance_msat: [u64; 2],
    /// Committed HTLCs by (offerer, id).
    pub htlcs: BTreeMap<(usize, u64), Htlc>,
    /// What each side sent that the other received and that is not yet signed for.
    unsigned: [Vec<Update>; 2],
    /// The next `id` each side must use (BOLT 2: 0, then one more each time).
    next_id: [u64; 2],
    /// `next_id` as of the last commitment_signed, where a disconnection takes it back.
    signed_next_id: [u64; 2],
    /// How each removed HTLC ended, by (offerer, id).
    pub ended: BTreeMap<(usize, u64), End>,
    /// HTLCs committed, over the channel's life.
    pub accepted: u64,
}

impl Model {
    /// The ledger of a channel opened by `open` and accepted by `accept`.
    pub fn new(open: &ChannelMessage, accept: &ChannelMessage, anchors: bool) -> Model {
        let (ChannelMessage::Open(o), ChannelMessage::Accept(a)) = (open, accept) else {
            panic!("open_channel and accept_channel, in that order");
        };
        let funding_msat = o.funding.to_sat() * 1000;
        Model {
            anchors,
            dust_limit: [o.params.dust_limit.to_sat(), a.params.dust_limit.to_sat()],
            feerate: o.feerate.0,
            balance_msat: [funding_msat - o.push.0, o.push.0],
            htlcs: BTreeMap::new(),
            unsigned: [vec![], vec![]],
            next_id: [0, 0],
            signed_next_id: [0, 0],
            ended: BTreeMap::new(),
            accepted: 0,
        }
    }

    /// `msg`, sent by side `from`, reached the other side. Panics on a
    /// message BOLT 2 forbids at this point.
    pub fn delivered(&mut self, from: usize, msg: &ChannelMessage) {
        let to = 1 - from;
        match msg {
            ChannelMessage::AddHtlc(a) => {
                assert_eq!(
                    a.id, self.next_id[from],
                    "BOLT 2: update_add_htlc ids go up by one"
                );
                assert!(a.amount.0 > 0, "BOLT 2: amount_msat is above 0");
                self.next_id[from] += 1;
                self.unsigned[from].push(Update::Add {
                    id: a.id,
                    amount_msat: a.amount.0,
                    hash: a.payment_hash.0,
                });
            }
            ChannelMessage::Fulfill { id, preimage, .. } => {
                let h = self.removable(to, *id, "update_fulfill_htlc");
                assert_eq!(
                    sha256::Hash::hash(&preimage.0).to_byte_array(),
                    h.hash,
                    "BOLT 2: the preimage of update_fulfill_htlc {id} hashes to its payment_hash"
                );
                self.unsigned[from].push(Update::Fulfill {
                    id: *id,
                    preimage: preimage.0,
                });
            }
            ChannelMessage::Fail { id, .. } | ChannelMessage::FailMalformed { id, .. } => {
                self.removable(to, *id, "update_fail_htlc");
                self.unsigned[from].push(Update::Fail { id: *id });
            }
            ChannelMessage::UpdateFee { feerate, .. } => {
                assert_eq!(from, OPENER, "BOLT 2: only the funder sends update_fee");
                self.unsigned[from].push(Update::Fee(feerate.0));
            }
            ChannelMessage::CommitmentSigned { .. } => {
                // The receiver's commitment now holds the sender's updates,
                // and the receiver's own updates it had revoked for.
                for h in self.htlcs.iter_mut().filter(|((o, _), _)| *o == to) {
                    if h.1.stage == 1 {
                        h.1.stage = 2;
                    }
                }
                for u in std::mem::take(&mut self.unsigned[from]) {
                    self.apply(from, u);
                }
                self.signed_next_id[from] = self.next_id[from];
            }
            ChannelMessage::RevokeAndAck { .. } => {
                // The sender revoked its previous commitment: what the
                // receiver had signed into it is irrevocable there.
                for h in self.htlcs.iter_mut() {
                    let offered_by_receiver = h.0 .0 == to;
                    if offered_by_receiver && h.1.stage == 0 {
                        h.1.stage = 1;
                    } else if !offered_by_receiver && h.1.stage == 2 {
                        h.1.stage = 3;
                    }
                }
            }
            _ => {}
        }
    }

    /// The HTLC `id` offered by `offerer`, which the other side may now remove.
    fn removable(&self, offerer: usize, id: u64, what: &str) -> Htlc {
        let h = self
            .htlcs
            .get(&(offerer, id))
            .unwrap_or_else(|| panic!("BOLT 2: {what} names HTLC {id}, which is not committed"));
        assert_eq!(
            h.stage, 3,
            "BOLT 2: {what} {id} before the HTLC is irrevocably committed in both commitments"
        );
        assert!(
            // Its remover is the side that did not offer it.
            !self.unsigned[1 - offerer].iter().any(|u| matches!(u,
                Update::Fulfill { id: i, .. } | Update::Fail { id: i } if *i == id)),
            "BOLT 2: HTLC {id} removed twice"
        );
        h.clone()
    }

    fn apply(&mut self, from: usize, u: Update) {
        let to = 1 - from;
        match u {
            Update::Add {
                id,
                amount_msat,
                hash,
            } => {
                self.balance_msat[from] = self.balance_msat[from]
                    .checked_sub(amount_msat)
                    .unwrap_or_else(|| {
                        panic!("HTLC {id}: its offerer cannot pay {amount_msat} msat")
                    });
                self.htlcs.insert(
                    (from, id),
                    Htlc {
                        amount_msat,
                        hash,
                        stage: 0,
                    },
                );
                self.accepted += 1;
            }
            Update::Fulfill { id, preimage } => {
                let h = self.htlcs.remove(&(to, id)).expect("checked on delivery");
                self.balance_msat[from] += h.amount_msat;
                self.ended.insert((to, id), End::Fulfilled(preimage));
            }
            Update::Fail { id } => {
                let h = self.htlcs.remove(&(to, id)).expect("checked on delivery");
                self.balance_msat[to] += h.amount_msat;
                self.ended.insert((to, id), End::Failed);
            }
            Update::Fee(f) => self.feerate = f,
        }
    }

    /// The connection dropped: each side reverses what the other sent and
    /// did not sign for (BOLT 2 "Message Retransmission").
    pub fn disconnected(&mut self) {
        self.unsigned = [vec![], vec![]];
        self.next_id = self.signed_next_id;
    }

    /// The output amounts of `holder`'s commitment, sorted, as BOLT 3
    /// "Commitment Transaction Construction" builds it from this ledger.
    pub fn commitment_outputs(&self, holder: usize) -> Vec<Amount> {
        let dust = self.dust_limit[holder];
        let feerate = self.feerate as u64;
        // BOLT 3 "Trimmed Outputs": an HTLC below the dust limit plus the
        // fee of its second-stage transaction (0 under anchors) is trimmed.
        let (timeout_fee, success_fee) = if self.anchors {
            (0, 0)
        } else {
            (feerate * 663 / 1000, feerate * 703 / 1000)
        };
        let untrimmed: Vec<u64> = self
            .htlcs
            .iter()
            .map(|((offerer, _), h)| {
                let sat = h.amount_msat / 1000;
                let threshold = dust
                    + if *offerer == holder {
                        timeout_fee
                    } else {
                        success_fee
                    };
                (sat, threshold)
            })
            .filter(|(sat, threshold)| sat >= threshold)
            .map(|(sat, _)| sat)
            .collect();
        let weight = if self.anchors { 1124 } else { 724 } + 172 * untrimmed.len() as u64;
        let fee_msat =
            feerate * weight / 1000 * 1000 + if self.anchors { 2 * 330 * 1000 } else { 0 };
        let mut to = self.balance_msat;
        to[OPENER] = to[OPENER].saturating_sub(fee_msat);
        let (to_local, to_remote) = (to[holder] / 1000, to[1 - holder] / 1000);
        let mut outputs: Vec<u64> = untrimmed.clone();
        let has_local = to_local >= dust;
        let has_remote = to_remote >= dust;
        if has_local {
            outputs.push(to_local);
        }
        if has_remote {
            outputs.push(to_remote);
        }
        if self.anchors {
            if has_local || !untrimmed.is_empty() {
                outputs.push(330);
            }
            if has_remote || !untrimmed.is_empty() {
                outputs.push(330);
            }
        }
        outputs.sort_unstable();
        outputs.into_iter().map(Amount::from_sat).collect()
    }

    /// Whether `tx`'s outputs are what [`Model::commitment_outputs`] says.
    pub fn check_commitment(&self, holder: usize, tx: &Transaction) {
        let mut got: Vec<Amount> = tx.output.iter().map(|o| o.value).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            self.commitment_outputs(holder),
            "side {holder}'s commitment against BOLT 3 at feerate {} with {:?}",
            self.feerate,
            self
        );
    }
}
