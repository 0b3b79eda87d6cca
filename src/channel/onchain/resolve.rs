//! BOLT 5 once the funding output is spent: every output of the spending
//! commitment that is ours (or contested) is watched until it is resolved
//! irrevocably, and every HTLC the channel had gets its on-chain fate.
//!
//! This is sans-I/O like the channel: blocks come in, [`Resolution::due`]
//! says what can be claimed now, and [`OnchainEvent`]s say what resolved.
//! Fees, wallet inputs and broadcasting are the node's (`src/node/onchain.rs`).

use bitcoin::{Block, OutPoint, ScriptBuf, Sequence, Transaction, TxOut, Txid};
use serde::{Deserialize, Serialize};

use super::FundingSpend;
use crate::channel::ledger::HtlcEntry;
use crate::channel::{Channel, Side};
use crate::keys::PerCommitmentPoint;
use crate::payment::{PaymentHash, PaymentPreimage};
use crate::shachain::{CommitmentNumber, Index};
use crate::signer::{ChannelSigner, ClaimInput, HtlcSpend, SpendKey};
use crate::tx::commitment::{
    output_scripts, CommitmentKeys, FeeratePerKw, Htlc, HtlcDirection, OutputKind,
};
use crate::tx::htlc::build_htlc_tx;
use crate::tx::penalty::{find_revoked_outputs, RevokedKind};

/// LDK's `ANTI_REORG_DELAY`: a spend this deep is taken as final, and only
/// then is anything forgotten or failed upstream.
pub const ANTI_REORG_DELAY: u32 = 6;

/// What a watched output is to us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Our `to_local`, after `to_self_delay`.
    ToLocal,
    /// Our `to_remote` on their commitment.
    ToRemote,
    /// Our anchor on our commitment: the handle of its CPFP.
    Anchor,
    /// An HTLC we offered, on our commitment: HTLC-timeout at its expiry.
    HtlcTimeout,
    /// An HTLC we received, on our commitment: HTLC-success with the preimage.
    HtlcSuccess,
    /// An HTLC we received, on their commitment: claimed with the preimage.
    HtlcClaim,
    /// An HTLC we offered, on their commitment: reclaimed after its expiry.
    HtlcReclaim,
    /// The output of our HTLC transaction, after `to_self_delay`.
    SecondStage,
    /// An output of a revoked commitment, or of the cheater's HTLC
    /// transaction: the revocation key takes it (BOLT 5 "Revoked Transaction Close Handling").
    Penalty,
}

impl Role {
    /// Its name in `listfunds`.
    pub fn name(self) -> &'static str {
        match self {
            Role::ToLocal => "to_local",
            Role::ToRemote => "to_remote",
            Role::Anchor => "anchor",
            Role::HtlcTimeout => "htlc_timeout",
            Role::HtlcSuccess => "htlc_success",
            Role::HtlcClaim => "htlc_claim_preimage",
            Role::HtlcReclaim => "htlc_claim_timeout",
            Role::SecondStage => "htlc_second_stage",
            Role::Penalty => "penalty",
        }
    }

    /// Whether the counterparty can take it if we are slow: its claim is bumped every block.
    pub fn contested(self) -> bool {
        matches!(
            self,
            Role::HtlcTimeout
                | Role::HtlcSuccess
                | Role::HtlcClaim
                | Role::HtlcReclaim
                | Role::Penalty
        )
    }
}

/// Who spent a watched output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spender {
    /// Our claim.
    Us,
    /// Someone else (the counterparty, or anyone for an anchor).
    Them,
}

/// Where a watched output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum OutputState {
    /// Not spent yet.
    Unspent,
    /// Spent in a block.
    Spent {
        /// The spending transaction.
        txid: Txid,
        /// Its height.
        height: u32,
        /// Whose it is.
        by: Spender,
    },
}

/// One output we claim, or whose fate we follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    /// Where it is.
    pub outpoint: OutPoint,
    /// Its value and script.
    pub txout: TxOut,
    /// What it is.
    pub role: Role,
    /// The HTLC it carries.
    pub htlc: Option<HtlcEntry>,
    /// Our claim of it alone (the preimage is filled in when known).
    pub claim: Option<ClaimInput>,
    /// Our HTLC transaction, for [`Role::HtlcTimeout`] and [`Role::HtlcSuccess`].
    pub htlc_tx: Option<HtlcSpend>,
    /// Relative delay of our claim after its parent confirms (BIP 68).
    pub csv: u16,
    /// The height its parent confirmed at.
    pub parent_height: Option<u32>,
    /// The height our claim's nLockTime needs the tip to reach.
    pub cltv: Option<u32>,
    /// The height from which the counterparty can take it.
    pub deadline: Option<u32>,
    /// Spent or not.
    pub state: OutputState,
}

impl Watched {
    /// The first tip height at which our claim can enter the next block.
    pub fn matures_at(&self) -> Option<u32> {
        let csv = self
            .parent_height
            .map(|p| (p + u32::from(self.csv)).saturating_sub(1))?;
        Some(csv.max(self.cltv.unwrap_or(0)))
    }

    fn is_spent(&self) -> bool {
        matches!(self.state, OutputState::Spent { .. })
    }
}

/// A claim transaction we broadcast, until its outputs are resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimTx {
    /// Its txid.
    pub txid: Txid,
    /// The transaction, for rebroadcasting.
    pub tx: Transaction,
    /// The watched outputs it spends.
    pub spends: Vec<OutPoint>,
    /// The wallet coins it spends (for its fee), reserved while it is unconfirmed.
    pub wallet_inputs: Vec<OutPoint>,
    /// Its feerate (for a CPFP child: the package's).
    pub feerate: FeeratePerKw,
    /// The fee it pays, in sat.
    pub fee_sat: u64,
    /// The tip height when it was (last) broadcast.
    pub broadcast_at: u32,
    /// The height it confirmed at.
    pub confirmed_at: Option<u32>,
}

/// What became of an HTLC on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Not yet known.
    Pending,
    /// Its preimage was revealed on chain, or we claimed it with one.
    Fulfilled,
    /// It timed out, was trimmed, or is not in the confirmed commitment (irrevocably).
    Failed,
}

/// An HTLC the channel had when its funding was spent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtlcOutcome {
    /// The HTLC.
    pub htlc: HtlcEntry,
    /// What became of it.
    pub fate: Fate,
}

/// What the node must carry out of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnchainEvent {
    /// A preimage of an HTLC: an outgoing payment succeeded (and a forward
    /// would fulfil its incoming HTLC upstream).
    Fulfilled {
        /// The HTLC.
        htlc: HtlcEntry,
        /// Its preimage.
        preimage: PaymentPreimage,
    },
    /// An HTLC is irrevocably failed on chain: an outgoing payment failed
    /// (and a forward would fail its incoming HTLC upstream).
    Failed {
        /// The HTLC.
        htlc: HtlcEntry,
    },
    /// Everything is resolved: the channel can be listed as closed.
    Resolved,
}

/// A channel's on-chain resolution: the transaction that spent its funding
/// output, every output of ours it left, and what became of each HTLC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// What spent the funding output.
    pub spend: FundingSpend,
    /// That transaction.
    pub tx: Transaction,
    /// The height it confirmed at (none: broadcast by us and not yet mined, or reorged out).
    pub confirmed_at: Option<u32>,
    /// The outputs we watch.
    pub outputs: Vec<Watched>,
    /// Our claims in flight or confirmed.
    pub claims: Vec<ClaimTx>,
    /// The channel's HTLCs.
    pub htlcs: Vec<HtlcOutcome>,
    /// Preimages we know, for [`Role::HtlcSuccess`] and [`Role::HtlcClaim`].
    pub preimages: Vec<PaymentPreimage>,
    /// Under a revoked commitment: the script its HTLC transactions pay to,
    /// and the secret that takes them (BOLT 5: the second-stage penalty).
    pub revocable: Option<(ScriptBuf, SpendKey)>,
    /// Under our commitment: the delayed script our HTLC transactions pay to
    /// (BOLT 3: `to_local`'s), its delay and key.
    pub delayed: Option<(ScriptBuf, u16, SpendKey)>,
    /// Where sweeps go (a wallet address, chosen once).
    pub destination: Option<ScriptBuf>,
    /// A floor the user set with `bumpfee`.
    pub fee_floor: Option<FeeratePerKw>,
    /// The fees our claims paid, sat (each claim's once it confirmed).
    pub fees_paid_sat: u64,
    /// Set once everything is final (the height it became so).
    pub resolved_at: Option<u32>,
    /// The channel type had anchors.
    pub anchors: bool,
}

impl Resolution {
    fn new(spend: FundingSpend, tx: &Transaction, anchors: bool) -> Self {
        Resolution {
            spend,
            tx: tx.clone(),
            confirmed_at: None,
            outputs: vec![],
            claims: vec![],
            htlcs: vec![],
            preimages: vec![],
            revocable: None,
            delayed: None,
            destination: None,
            fee_floor: None,
            fees_paid_sat: 0,
            resolved_at: None,
            anchors,
        }
    }

    /// The spending transaction's txid.
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }

    fn preimage_of(&self, hash: &PaymentHash) -> Option<PaymentPreimage> {
        self.preimages
            .iter()
            .find(|p| p.payment_hash() == *hash)
            .copied()
    }

    /// A preimage learned elsewhere (an invoice, or downstream): HTLCs it pays can be claimed.
    pub fn provide_preimage(&mut self, preimage: PaymentPreimage) {
        if self.preimage_of(&preimage.payment_hash()).is_some() {
            return;
        }
        self.preimages.push(preimage);
        for w in &mut self.outputs {
            if let (Role::HtlcClaim, Some(h), Some(c)) = (w.role, &w.htlc, w.claim.as_mut()) {
                if h.payment_hash == preimage.payment_hash() {
                    c.after_sig = vec![preimage.0.to_vec()];
                }
            }
        }
    }

    /// The claim in flight that spends `outpoint`.
    pub fn claim_of(&self, outpoint: &OutPoint) -> Option<&ClaimTx> {
        self.claims.iter().find(|c| c.spends.contains(outpoint))
    }

    /// Whether output `w` can be claimed in the block after `tip`.
    fn claimable(&self, w: &Watched, tip: u32) -> bool {
        if w.is_spent() || w.role == Role::Anchor || self.claim_of(&w.outpoint).is_some() {
            return false;
        }
        if w.matures_at().is_none_or(|m| tip < m) {
            return false;
        }
        match w.role {
            Role::HtlcSuccess => w
                .htlc
                .as_ref()
                .is_some_and(|h| self.preimage_of(&h.payment_hash).is_some()),
            Role::HtlcClaim => w.claim.as_ref().is_some_and(|c| !c.after_sig.is_empty()),
            Role::HtlcTimeout => w.htlc_tx.is_some(),
            _ => w.claim.is_some(),
        }
    }

    /// What can be claimed now, grouped into transactions: the penalty
    /// claims everything at once (BOLT 5), every other output goes alone.
    pub fn due(&self, tip: u32) -> Vec<Vec<usize>> {
        let mut penalty = vec![];
        let mut groups = vec![];
        for (i, w) in self.outputs.iter().enumerate() {
            if !self.claimable(w, tip) {
                continue;
            }
            if w.role == Role::Penalty {
                penalty.push(i);
            } else {
                groups.push(vec![i]);
            }
        }
        if !penalty.is_empty() {
            groups.insert(0, penalty);
        }
        groups
    }

    /// The earliest deadline among `outputs` (for the fee target).
    pub fn deadline_of(&self, outputs: &[usize]) -> Option<u32> {
        outputs
            .iter()
            .filter_map(|i| self.outputs[*i].deadline)
            .min()
    }

    /// The nearest HTLC deadline on our unconfirmed commitment: what its CPFP races.
    pub fn commitment_deadline(&self) -> Option<u32> {
        self.outputs
            .iter()
            .filter(|w| w.htlc.is_some())
            .map(|w| w.htlc.as_ref().expect("filtered").cltv_expiry.0)
            .min()
    }

    /// Our anchor, while the commitment waits for a CPFP.
    pub fn anchor(&self) -> Option<&Watched> {
        self.outputs.iter().find(|w| w.role == Role::Anchor)
    }

    /// Record a claim we are about to broadcast (it replaces any earlier
    /// claim of the same outputs).
    pub fn record_claim(&mut self, claim: ClaimTx) {
        self.claims.retain(|c| {
            c.confirmed_at.is_some() || !c.spends.iter().any(|o| claim.spends.contains(o))
        });
        self.claims.push(claim);
    }

    /// A block joined the chain.
    pub fn block_connected(&mut self, block: &Block, height: u32) -> Vec<OnchainEvent> {
        let txid = self.txid();
        let mut events = vec![];
        for tx in &block.txdata {
            let t = tx.compute_txid();
            if t == txid {
                self.confirmed_at = Some(height);
                for w in &mut self.outputs {
                    if w.outpoint.txid == txid {
                        w.parent_height = Some(height);
                    }
                }
            }
            if let Some(c) = self.claims.iter_mut().find(|c| c.txid == t) {
                c.confirmed_at = Some(height);
                self.fees_paid_sat += c.fee_sat;
            }
            for (vin, input) in tx.input.iter().enumerate() {
                let Some(i) = self
                    .outputs
                    .iter()
                    .position(|w| w.outpoint == input.previous_output && !w.is_spent())
                else {
                    continue;
                };
                let ours = self.claims.iter().any(|c| c.txid == t);
                let by = if ours { Spender::Us } else { Spender::Them };
                self.outputs[i].state = OutputState::Spent {
                    txid: t,
                    height,
                    by,
                };
                // Claims of ours that spent it in another transaction are dead; their other outputs are claimable again.
                let outpoint = self.outputs[i].outpoint;
                self.claims.retain(|c| {
                    c.txid == t || !c.spends.contains(&outpoint) || c.confirmed_at.is_some()
                });
                events.extend(self.on_spent(i, tx, vin, height, by));
            }
        }
        events.extend(self.settle(height));
        events
    }

    /// What a spend of output `i` by input `vin` of `tx` tells us.
    fn on_spent(
        &mut self,
        i: usize,
        tx: &Transaction,
        vin: usize,
        height: u32,
        by: Spender,
    ) -> Vec<OnchainEvent> {
        let mut events = vec![];
        let w = self.outputs[i].clone();
        // BOLT 5: a preimage in the witness settles the HTLC, whoever revealed it.
        if let Some(h) = &w.htlc {
            let found = tx.input[vin]
                .witness
                .iter()
                .filter(|item| item.len() == 32)
                .filter_map(|item| <[u8; 32]>::try_from(item).ok())
                .map(PaymentPreimage)
                .find(|p| p.payment_hash() == h.payment_hash);
            if let Some(p) = found {
                if self.preimage_of(&p.payment_hash()).is_none() {
                    self.preimages.push(p);
                }
                events.extend(self.set_fate(h, Fate::Fulfilled, Some(p)));
            }
        }
        let txid = tx.compute_txid();
        match (w.role, by) {
            // Our HTLC transaction confirmed: its output waits to_self_delay.
            (Role::HtlcTimeout | Role::HtlcSuccess, Spender::Us) => {
                if let (Some((ws, delay, key)), Some(out)) =
                    (self.delayed.clone(), tx.output.first())
                {
                    let outpoint = OutPoint::new(txid, 0);
                    self.outputs.push(Watched {
                        outpoint,
                        txout: out.clone(),
                        role: Role::SecondStage,
                        htlc: w.htlc.clone(),
                        claim: Some(ClaimInput {
                            outpoint,
                            prevout: out.clone(),
                            witness_script: Some(ws),
                            after_sig: vec![vec![]],
                            key,
                            sequence: u32::from(delay),
                            lock_time: None,
                        }),
                        htlc_tx: None,
                        csv: delay,
                        parent_height: Some(height),
                        cltv: None,
                        deadline: None,
                        state: OutputState::Unspent,
                    });
                }
            }
            // The cheater's HTLC transaction got there first: its output is ours by revocation.
            (Role::Penalty, Spender::Them) => {
                if let Some((script, key)) = self.revocable.clone() {
                    for (vout, out) in tx.output.iter().enumerate() {
                        if out.script_pubkey == script.to_p2wsh() {
                            let outpoint = OutPoint::new(txid, vout as u32);
                            self.outputs.push(Watched {
                                outpoint,
                                txout: out.clone(),
                                role: Role::Penalty,
                                htlc: w.htlc.clone(),
                                claim: Some(ClaimInput {
                                    outpoint,
                                    prevout: out.clone(),
                                    witness_script: Some(script.clone()),
                                    after_sig: vec![vec![1]],
                                    key,
                                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME.0,
                                    lock_time: None,
                                }),
                                htlc_tx: None,
                                csv: 0,
                                parent_height: Some(height),
                                cltv: None,
                                deadline: w.deadline,
                                state: OutputState::Unspent,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
        events
    }

    fn set_fate(
        &mut self,
        h: &HtlcEntry,
        fate: Fate,
        preimage: Option<PaymentPreimage>,
    ) -> Vec<OnchainEvent> {
        let Some(o) = self
            .htlcs
            .iter_mut()
            .find(|o| o.htlc.offerer == h.offerer && o.htlc.id == h.id)
        else {
            return vec![];
        };
        if o.fate != Fate::Pending {
            return vec![];
        }
        o.fate = fate;
        match (fate, preimage) {
            (Fate::Fulfilled, Some(preimage)) => vec![OnchainEvent::Fulfilled {
                htlc: o.htlc.clone(),
                preimage,
            }],
            (Fate::Failed, _) => vec![OnchainEvent::Failed {
                htlc: o.htlc.clone(),
            }],
            _ => vec![],
        }
    }

    /// Whatever is now `ANTI_REORG_DELAY` deep becomes final.
    fn settle(&mut self, tip: u32) -> Vec<OnchainEvent> {
        let deep = |h: u32| tip + 1 >= h + ANTI_REORG_DELAY;
        let mut events = vec![];
        if !self.confirmed_at.is_some_and(deep) {
            return events;
        }
        // HTLCs with no output of ours left to decide them: trimmed, not in
        // this commitment, or spent by a timeout (ours or theirs), fail.
        let pending: Vec<HtlcEntry> = self
            .htlcs
            .iter()
            .filter(|o| o.fate == Fate::Pending)
            .map(|o| o.htlc.clone())
            .collect();
        for h in pending {
            let outputs: Vec<&Watched> = self
                .outputs
                .iter()
                .filter(|w| {
                    w.htlc
                        .as_ref()
                        .is_some_and(|x| x.offerer == h.offerer && x.id == h.id)
                })
                .collect();
            let open = outputs.iter().any(|w| match w.state {
                OutputState::Unspent => true,
                OutputState::Spent { height, .. } => !deep(height),
            });
            let claimed_by_us_with_preimage = h.offerer == Side::Remote
                && outputs.iter().any(|w| {
                    matches!(w.role, Role::HtlcSuccess | Role::HtlcClaim)
                        && matches!(
                            w.state,
                            OutputState::Spent {
                                by: Spender::Us,
                                ..
                            }
                        )
                });
            if open {
                continue;
            }
            let fate = if claimed_by_us_with_preimage {
                Fate::Fulfilled
            } else {
                Fate::Failed
            };
            let preimage = self.preimage_of(&h.payment_hash);
            events.extend(self.set_fate(&h, fate, preimage));
        }
        let done = self.outputs.iter().all(|w| match w.state {
            OutputState::Spent { height, by, .. } => {
                deep(height) || (by == Spender::Them && w.role == Role::Anchor)
            }
            // An anchor we did not need is left to anyone (BOLT 3: after 16 blocks).
            OutputState::Unspent => w.role == Role::Anchor,
        });
        if done && self.resolved_at.is_none() && self.htlcs.iter().all(|o| o.fate != Fate::Pending)
        {
            self.resolved_at = Some(tip);
            events.push(OnchainEvent::Resolved);
        }
        events
    }

    /// A block left the chain: whatever it confirmed is undone, to be redone.
    pub fn block_disconnected(&mut self, height: u32) {
        if self.confirmed_at.is_some_and(|h| h >= height) {
            self.confirmed_at = None;
        }
        let txid = self.txid();
        for w in &mut self.outputs {
            if w.parent_height.is_some_and(|h| h >= height) {
                w.parent_height = None;
            }
            if matches!(w.state, OutputState::Spent { height: h, .. } if h >= height) {
                w.state = OutputState::Unspent;
            }
        }
        // Outputs of second-stage transactions that are no longer confirmed are forgotten (they come back with them).
        self.outputs
            .retain(|w| w.outpoint.txid == txid || w.parent_height.is_some());
        for c in &mut self.claims {
            if c.confirmed_at.is_some_and(|h| h >= height) {
                c.confirmed_at = None;
                self.fees_paid_sat -= c.fee_sat;
            }
        }
        if self.resolved_at.is_some_and(|h| h >= height) {
            self.resolved_at = None;
        }
    }

    /// Whether it is over.
    pub fn is_resolved(&self) -> bool {
        self.resolved_at.is_some()
    }
}

impl Channel {
    /// The resolution of `tx`, a spend of our funding output. For a revoked
    /// commitment of theirs, `revoked_htlcs` are that commitment's HTLCs, as
    /// we stored them when we signed it (a commitment without HTLCs needs none).
    pub fn resolution(
        &self,
        signer: &ChannelSigner,
        tx: &Transaction,
        revoked_htlcs: &[HtlcEntry],
    ) -> Resolution {
        let spend = self.classify_spend(signer, tx);
        let mut r = Resolution::new(spend.clone(), tx, self.channel_type.has_anchors());
        // Every HTLC of a live commitment: each gets a fate.
        let mut all: Vec<HtlcEntry> = vec![];
        for c in [
            Some(self.ledger.local),
            Some(self.ledger.remote),
            self.ledger.remote_next,
        ]
        .into_iter()
        .flatten()
        {
            for h in self.ledger.view_of(&c).htlcs.into_values() {
                if !all.iter().any(|x| x.offerer == h.offerer && x.id == h.id) {
                    all.push(h);
                }
            }
        }
        r.htlcs = all
            .into_iter()
            .map(|htlc| HtlcOutcome {
                htlc,
                fate: Fate::Pending,
            })
            .collect();
        // Preimages we already gave away off chain.
        for u in self.ledger.ours.entries.iter() {
            if let super::super::ledger::Update::Fulfill { preimage, .. } = u {
                r.preimages.push(*preimage);
            }
        }
        match spend {
            FundingSpend::MutualClose => {}
            FundingSpend::OurCommitment { .. } => self.watch_ours(signer, &mut r),
            FundingSpend::TheirCommitment { number } => self.watch_theirs(signer, &mut r, number),
            FundingSpend::Revoked { number } => {
                self.watch_revoked(signer, &mut r, number, revoked_htlcs)
            }
            FundingSpend::Future { .. } => self.watch_to_remote_only(signer, &mut r),
        }
        r
    }

    fn watched(
        outpoint: OutPoint,
        txout: TxOut,
        role: Role,
        htlc: Option<HtlcEntry>,
        claim: Option<ClaimInput>,
    ) -> Watched {
        Watched {
            outpoint,
            txout,
            role,
            htlc,
            claim,
            htlc_tx: None,
            csv: 0,
            parent_height: None,
            cltv: None,
            deadline: None,
            state: OutputState::Unspent,
        }
    }

    /// BOLT 5 "Unilateral Close Handling: Local Commitment Transaction".
    fn watch_ours(&self, signer: &ChannelSigner, r: &mut Resolution) {
        let c = self.ledger.local;
        let view = self.ledger.view_of(&c);
        let point = signer.per_commitment_point(CommitmentNumber(c.number));
        let Ok(built) = self.build(&view, Side::Local, c.number, point) else {
            return;
        };
        let entries: Vec<HtlcEntry> = view.htlcs.values().cloned().collect();
        let Ok(params) = self.params_for(&view, Side::Local, c.number, point, &built.htlcs) else {
            return;
        };
        let txid = r.txid();
        if built.commitment.tx.compute_txid() != txid {
            return;
        }
        let htlc_sigs = self
            .local_signatures
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let mut next_sig = htlc_sigs.iter();
        let keys = &params.keys;
        r.delayed = Some((
            crate::script::to_local(&keys.revocation, params.to_self_delay, &keys.holder_delayed),
            params.to_self_delay,
            SpendKey::DelayedPayment { point: point.0 },
        ));
        for (vout, o) in built.commitment.outputs.iter().enumerate() {
            let outpoint = OutPoint::new(txid, vout as u32);
            let txout = r.tx.output[vout].clone();
            let ws = o.witness_script.clone();
            match o.kind {
                OutputKind::ToLocal => {
                    let mut w = Self::watched(
                        outpoint,
                        txout.clone(),
                        Role::ToLocal,
                        None,
                        Some(ClaimInput {
                            outpoint,
                            prevout: txout,
                            witness_script: ws,
                            // BOLT 3 to_local, delayed path: `<local_delayedsig> <>`.
                            after_sig: vec![vec![]],
                            key: SpendKey::DelayedPayment { point: point.0 },
                            sequence: u32::from(params.to_self_delay),
                            lock_time: None,
                        }),
                    );
                    w.csv = params.to_self_delay;
                    r.outputs.push(w);
                }
                OutputKind::AnchorLocal => r.outputs.push(Self::watched(
                    outpoint,
                    txout.clone(),
                    Role::Anchor,
                    None,
                    Some(ClaimInput {
                        outpoint,
                        prevout: txout,
                        witness_script: ws,
                        after_sig: vec![],
                        key: SpendKey::Funding,
                        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME.0,
                        lock_time: None,
                    }),
                )),
                OutputKind::HtlcOffered | OutputKind::HtlcReceived => {
                    let i = o.htlc.expect("HTLC outputs carry their HTLC");
                    let Some(sig) = next_sig.next() else { continue };
                    let htlc = &built.htlcs[i];
                    // Zero-fee under anchors: the node adds a wallet input and change.
                    let unsigned = build_htlc_tx(txid, vout as u32, o, htlc, &params);
                    let role = if o.kind == OutputKind::HtlcOffered {
                        Role::HtlcTimeout
                    } else {
                        Role::HtlcSuccess
                    };
                    let mut w =
                        Self::watched(outpoint, txout, role, Some(entries[i].clone()), None);
                    w.htlc_tx = Some(HtlcSpend {
                        tx: unsigned,
                        witness_script: ws.expect("HTLC outputs are P2WSH"),
                        amount: o.amount,
                        counterparty_sig: *sig,
                        point: point.0,
                    });
                    if role == Role::HtlcTimeout {
                        w.cltv = Some(htlc.cltv_expiry.0);
                    } else {
                        w.deadline = Some(htlc.cltv_expiry.0);
                    }
                    r.outputs.push(w);
                }
                OutputKind::ToRemote | OutputKind::AnchorRemote => {}
            }
        }
    }

    /// BOLT 5 "Unilateral Close Handling: Remote Commitment Transaction".
    fn watch_theirs(&self, signer: &ChannelSigner, r: &mut Resolution, number: u64) {
        let (c, point) = if number == self.ledger.remote.number {
            (self.ledger.remote, self.their_points.0)
        } else {
            match (self.ledger.remote_next, self.their_points.1) {
                (Some(c), Some(p)) if c.number == number => (c, p),
                _ => return self.watch_to_remote_only(signer, r),
            }
        };
        let point = PerCommitmentPoint(point);
        let view = self.ledger.view_of(&c);
        let Ok(built) = self.build(&view, Side::Remote, c.number, point) else {
            return self.watch_to_remote_only(signer, r);
        };
        let txid = r.txid();
        if built.commitment.tx.compute_txid() != txid {
            return self.watch_to_remote_only(signer, r);
        }
        let entries: Vec<HtlcEntry> = view.htlcs.values().cloned().collect();
        let anchors = self.channel_type.has_anchors();
        // The anchors HTLC scripts carry `1 OP_CSV` on our paths too.
        let sequence = if anchors {
            1
        } else {
            Sequence::ENABLE_RBF_NO_LOCKTIME.0
        };
        for (vout, o) in built.commitment.outputs.iter().enumerate() {
            let outpoint = OutPoint::new(txid, vout as u32);
            let txout = r.tx.output[vout].clone();
            let ws = o.witness_script.clone();
            match o.kind {
                OutputKind::ToRemote => r.outputs.push(self.to_remote_watch(outpoint, txout, ws)),
                OutputKind::HtlcOffered | OutputKind::HtlcReceived => {
                    let i = o.htlc.expect("HTLC outputs carry their HTLC");
                    let htlc = &built.htlcs[i];
                    let entry = entries[i].clone();
                    // They offered it: ours with the preimage, until its expiry.
                    let (role, after_sig, lock_time) = if o.kind == OutputKind::HtlcOffered {
                        let after = self.preimage_known(r, &htlc.payment_hash);
                        (Role::HtlcClaim, after, None)
                    } else {
                        (Role::HtlcReclaim, vec![vec![]], Some(htlc.cltv_expiry.0))
                    };
                    let mut w = Self::watched(
                        outpoint,
                        txout.clone(),
                        role,
                        Some(entry),
                        Some(ClaimInput {
                            outpoint,
                            prevout: txout,
                            witness_script: ws,
                            after_sig,
                            key: SpendKey::Htlc { point: point.0 },
                            sequence,
                            lock_time,
                        }),
                    );
                    w.csv = u16::from(anchors);
                    if role == Role::HtlcClaim {
                        w.deadline = Some(htlc.cltv_expiry.0);
                    } else {
                        w.cltv = Some(htlc.cltv_expiry.0);
                    }
                    r.outputs.push(w);
                }
                _ => {}
            }
        }
    }

    fn preimage_known(&self, r: &Resolution, hash: &PaymentHash) -> Vec<Vec<u8>> {
        r.preimage_of(hash)
            .map(|p| vec![p.0.to_vec()])
            .unwrap_or_default()
    }

    /// Our `to_remote` on a commitment of theirs: key-only under
    /// `option_static_remotekey` (P2WPKH), or `1 OP_CSV` under anchors.
    fn to_remote_watch(&self, outpoint: OutPoint, txout: TxOut, ws: Option<ScriptBuf>) -> Watched {
        let anchors = self.channel_type.has_anchors();
        let mut w = Self::watched(
            outpoint,
            txout.clone(),
            Role::ToRemote,
            None,
            Some(ClaimInput {
                outpoint,
                prevout: txout,
                witness_script: ws,
                after_sig: vec![],
                key: SpendKey::Payment,
                sequence: if anchors {
                    1
                } else {
                    Sequence::ENABLE_RBF_NO_LOCKTIME.0
                },
                lock_time: None,
            }),
        );
        w.csv = u16::from(anchors);
        w
    }

    /// A commitment we cannot rebuild (they are ahead of us): only `to_remote`,
    /// which needs no per-commitment point, is ours to take.
    fn watch_to_remote_only(&self, signer: &ChannelSigner, r: &mut Resolution) {
        let payment = signer.pubkeys().payment;
        let anchored = crate::script::to_remote_anchors(&crate::keys::PaymentPubkey(payment));
        let (spk, ws) = if self.channel_type.has_anchors() {
            (anchored.to_p2wsh(), Some(anchored))
        } else {
            (
                ScriptBuf::new_p2wpkh(&bitcoin::CompressedPublicKey(payment).wpubkey_hash()),
                None,
            )
        };
        let txid = r.txid();
        for (vout, out) in r.tx.output.clone().into_iter().enumerate() {
            if out.script_pubkey == spk {
                let w = self.to_remote_watch(OutPoint::new(txid, vout as u32), out, ws.clone());
                r.outputs.push(w);
            }
        }
    }

    /// BOLT 5 "Revoked Transaction Close Handling".
    fn watch_revoked(
        &self,
        signer: &ChannelSigner,
        r: &mut Resolution,
        number: u64,
        htlcs: &[HtlcEntry],
    ) {
        let secret = Index::from_commitment_number(CommitmentNumber(number))
            .ok()
            .and_then(|i| self.their_secrets.lookup(i).ok());
        let Some(secret) = secret else {
            return self.watch_to_remote_only(signer, r);
        };
        let Ok(sk) = bitcoin::secp256k1::SecretKey::from_slice(&secret) else {
            return self.watch_to_remote_only(signer, r);
        };
        let point = PerCommitmentPoint(sk.public_key(signer.secp()));
        let Ok(keys) = self.keys_for(Side::Remote, point) else {
            return;
        };
        let as_htlcs: Vec<Htlc> = htlcs
            .iter()
            .map(|h| Htlc {
                direction: if h.offerer == Side::Remote {
                    HtlcDirection::Offered
                } else {
                    HtlcDirection::Received
                },
                amount: h.amount,
                payment_hash: h.payment_hash,
                cltv_expiry: h.cltv_expiry,
            })
            .collect();
        let delay = self.ours.to_self_delay;
        let key = SpendKey::Revocation { secret };
        for o in find_revoked_outputs(&r.tx, &keys, delay, &as_htlcs, self.channel_type) {
            let htlc = match o.kind {
                RevokedKind::HtlcOffered(i) | RevokedKind::HtlcReceived(i) => {
                    Some(htlcs[i].clone())
                }
                _ => None,
            };
            let after_sig = match o.kind {
                RevokedKind::ToLocal | RevokedKind::SecondStage => vec![vec![1u8]],
                _ => vec![keys.revocation.0.serialize().to_vec()],
            };
            let w = Self::watched(
                o.outpoint,
                o.prevout.clone(),
                Role::Penalty,
                htlc,
                Some(ClaimInput {
                    outpoint: o.outpoint,
                    prevout: o.prevout,
                    witness_script: Some(o.witness_script),
                    after_sig,
                    key,
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME.0,
                    lock_time: None,
                }),
            );
            r.outputs.push(w);
        }
        r.revocable = Some((
            crate::script::to_local(&keys.revocation, delay, &keys.holder_delayed),
            key,
        ));
        // Our own to_remote on their commitment.
        let scripts = output_scripts(
            &keys,
            self.channel_type,
            delay,
            &self.theirs().pubkeys.funding,
            &self.ours.pubkeys.funding,
            &[],
        );
        let txid = r.txid();
        for (vout, out) in r.tx.output.clone().into_iter().enumerate() {
            if let Some(s) = scripts
                .iter()
                .find(|s| s.kind == OutputKind::ToRemote && s.script_pubkey == out.script_pubkey)
            {
                let w = self.to_remote_watch(
                    OutPoint::new(txid, vout as u32),
                    out,
                    s.witness_script.clone(),
                );
                r.outputs.push(w);
            }
        }
    }

    /// The keys of `holder`'s commitment with `point`.
    pub(crate) fn keys_for(
        &self,
        holder: Side,
        point: PerCommitmentPoint,
    ) -> Result<CommitmentKeys, String> {
        let theirs = self.theirs();
        let (h, c) = match holder {
            Side::Local => (&self.ours, theirs),
            Side::Remote => (theirs, &self.ours),
        };
        CommitmentKeys::derive(
            &bitcoin::secp256k1::Secp256k1::verification_only(),
            &point,
            &crate::tx::commitment::HolderBasepoints {
                delayed_payment: h.pubkeys.delayed_payment_basepoint(),
                htlc: h.pubkeys.htlc_basepoint(),
            },
            &crate::tx::commitment::CounterpartyBasepoints {
                revocation: c.pubkeys.revocation_basepoint(),
                payment: c.pubkeys.payment_basepoint(),
                htlc: c.pubkeys.htlc_basepoint(),
            },
            self.channel_type,
        )
        .map_err(|e| e.to_string())
    }
}
