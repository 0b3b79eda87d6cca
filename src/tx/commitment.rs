//! BOLT 3 "Commitment Transaction", "Trimmed Outputs", "Fees" and
//! "Commitment Transaction Construction": the transaction each side holds,
//! spending the funding output to both balances and every HTLC.
//!
//! A commitment belongs to its *holder* (BOLT 3's "local node"): the holder's
//! own money (`to_local`) is delayed by `to_self_delay` and revocable; the
//! counterparty's (`to_remote`) is not. HTLC directions are from the holder's
//! view. The construction follows the spec's steps in order: trim, compute the
//! base fee, take it (and the anchors) from the opener, add the outputs, sort
//! them BIP 69 + CLTV.

use bitcoin::absolute::LockTime;
use bitcoin::secp256k1::{PublicKey, Secp256k1, Verification};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use sha2::{Digest, Sha256};

use crate::amount::Msat;
use crate::keys::{
    self, DelayedPaymentBasepoint, DelayedPubkey, HtlcBasepoint, HtlcPubkey, KeyError,
    PaymentBasepoint, PaymentPubkey, PerCommitmentPoint, RevocationBasepoint, RevocationPubkey,
};
use crate::payment::{CltvExpiry, PaymentHash};
use crate::script::{self, HtlcKeys};
use crate::shachain::CommitmentNumber;

/// The commitment format the channel negotiated (BOLT 9 feature bits).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChannelType {
    /// No `option_static_remotekey`: `to_remote` pays a key derived per commitment.
    Legacy,
    /// `option_static_remotekey`: `to_remote` pays the counterparty's `payment_basepoint`.
    StaticRemotekey,
    /// `option_anchor_outputs`: anchors, CSV-1 outputs, HTLC txs that pay their own fee.
    AnchorOutputs,
    /// `option_anchors_zero_fee_htlc_tx`: anchors, and zero-fee HTLC txs.
    AnchorsZeroFeeHtlcTx,
}

impl ChannelType {
    /// Every channel type, by its lnkit name.
    pub const ALL: [(&'static str, ChannelType); 4] = [
        ("legacy", ChannelType::Legacy),
        ("static_remotekey", ChannelType::StaticRemotekey),
        ("anchor_outputs", ChannelType::AnchorOutputs),
        (
            "anchors_zero_fee_htlc_tx",
            ChannelType::AnchorsZeroFeeHtlcTx,
        ),
    ];

    /// The lnkit name (`static_remotekey`, ...).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .expect("listed")
            .0
    }

    /// Whether `option_anchors` applies (either anchor variant).
    pub fn has_anchors(self) -> bool {
        matches!(
            self,
            ChannelType::AnchorOutputs | ChannelType::AnchorsZeroFeeHtlcTx
        )
    }

    /// BOLT 3 "Fee Calculation": the expected weight of a commitment before its HTLC outputs.
    pub fn commitment_base_weight(self) -> u64 {
        if self.has_anchors() {
            1124
        } else {
            724
        }
    }

    /// BOLT 3: the HTLC-timeout fee, `feerate_per_kw * 663 / 1000` (666 with
    /// `option_anchor_outputs`; 0 with zero-fee HTLC transactions).
    pub fn htlc_timeout_fee(self, feerate: FeeratePerKw) -> Amount {
        match self {
            ChannelType::AnchorsZeroFeeHtlcTx => Amount::ZERO,
            ChannelType::AnchorOutputs => feerate.fee(HTLC_TIMEOUT_WEIGHT_ANCHORS),
            _ => feerate.fee(HTLC_TIMEOUT_WEIGHT),
        }
    }

    /// BOLT 3: the HTLC-success fee, `feerate_per_kw * 703 / 1000` (706 with
    /// `option_anchor_outputs`; 0 with zero-fee HTLC transactions).
    pub fn htlc_success_fee(self, feerate: FeeratePerKw) -> Amount {
        match self {
            ChannelType::AnchorsZeroFeeHtlcTx => Amount::ZERO,
            ChannelType::AnchorOutputs => feerate.fee(HTLC_SUCCESS_WEIGHT_ANCHORS),
            _ => feerate.fee(HTLC_SUCCESS_WEIGHT),
        }
    }
}

/// BOLT 3 "Fee Calculation": weight each untrimmed HTLC output adds to a commitment.
pub const HTLC_OUTPUT_WEIGHT: u64 = 172;
/// Expected weight of an HTLC-timeout transaction (no `option_anchors`).
pub const HTLC_TIMEOUT_WEIGHT: u64 = 663;
/// Expected weight of an HTLC-timeout transaction with `option_anchor_outputs`.
pub const HTLC_TIMEOUT_WEIGHT_ANCHORS: u64 = 666;
/// Expected weight of an HTLC-success transaction (no `option_anchors`).
pub const HTLC_SUCCESS_WEIGHT: u64 = 703;
/// Expected weight of an HTLC-success transaction with `option_anchor_outputs`.
pub const HTLC_SUCCESS_WEIGHT_ANCHORS: u64 = 706;
/// BOLT 3: "The amount of the output is fixed at 330 sats, the default dust limit for P2WSH."
pub const ANCHOR_OUTPUT_VALUE: Amount = Amount::from_sat(330);

/// `feerate_per_kw`: satoshis per 1000 weight units (BOLT 2 `update_fee`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct FeeratePerKw(pub u32);

impl FeeratePerKw {
    /// BOLT 3: "Multiply `feerate_per_kw` by `weight`, divide by 1000 (rounding down)."
    pub fn fee(self, weight: u64) -> Amount {
        Amount::from_sat(u64::from(self.0) * weight / 1000)
    }
}

/// One of the two parties of a channel.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Us.
    Local,
    /// Our peer.
    Remote,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

/// An HTLC's direction, from the commitment holder's view.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HtlcDirection {
    /// The holder offered it (pays if fulfilled).
    Offered,
    /// The holder received it (is paid if it fulfils).
    Received,
}

impl HtlcDirection {
    /// The same HTLC seen from the other party's commitment.
    pub fn flip(self) -> Self {
        match self {
            HtlcDirection::Offered => HtlcDirection::Received,
            HtlcDirection::Received => HtlcDirection::Offered,
        }
    }
}

/// An HTLC committed to by both sides (BOLT 2 `update_add_htlc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Htlc {
    /// From the holder's view.
    pub direction: HtlcDirection,
    /// `amount_msat`.
    pub amount: Msat,
    /// `payment_hash`.
    pub payment_hash: PaymentHash,
    /// `cltv_expiry`.
    pub cltv_expiry: CltvExpiry,
}

/// The holder's basepoints a commitment's keys are derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HolderBasepoints {
    /// For `local_delayedpubkey`.
    pub delayed_payment: DelayedPaymentBasepoint,
    /// For `local_htlcpubkey`.
    pub htlc: HtlcBasepoint,
}

/// The counterparty's basepoints a commitment's keys are derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterpartyBasepoints {
    /// For `revocationpubkey`.
    pub revocation: RevocationBasepoint,
    /// For `remotepubkey`.
    pub payment: PaymentBasepoint,
    /// For `remote_htlcpubkey`.
    pub htlc: HtlcBasepoint,
}

/// The keys of one commitment transaction (BOLT 3 "Key Derivation").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitmentKeys {
    /// The holder's `per_commitment_point` for this commitment.
    pub per_commitment_point: PerCommitmentPoint,
    /// `revocationpubkey`.
    pub revocation: RevocationPubkey,
    /// `local_delayedpubkey`.
    pub holder_delayed: DelayedPubkey,
    /// `local_htlcpubkey`.
    pub holder_htlc: HtlcPubkey,
    /// `remote_htlcpubkey`.
    pub counterparty_htlc: HtlcPubkey,
    /// `remotepubkey`, which `to_remote` pays.
    pub counterparty_payment: PaymentPubkey,
}

impl CommitmentKeys {
    /// Derive every key of the holder's commitment from the basepoints and the
    /// holder's `per_commitment_point`. With `option_static_remotekey` (every
    /// type but legacy) `remotepubkey` is the counterparty's `payment_basepoint` itself.
    pub fn derive<C: Verification>(
        secp: &Secp256k1<C>,
        per_commitment_point: &PerCommitmentPoint,
        holder: &HolderBasepoints,
        counterparty: &CounterpartyBasepoints,
        channel_type: ChannelType,
    ) -> Result<Self, KeyError> {
        let p = per_commitment_point;
        let counterparty_payment = match channel_type {
            ChannelType::Legacy => keys::derive_pubkey(secp, &counterparty.payment, p)?.key,
            _ => PaymentPubkey(counterparty.payment.0),
        };
        Ok(CommitmentKeys {
            per_commitment_point: *p,
            revocation: keys::derive_revocation_pubkey(secp, &counterparty.revocation, p)?.key,
            holder_delayed: keys::derive_pubkey(secp, &holder.delayed_payment, p)?.key,
            holder_htlc: keys::derive_pubkey(secp, &holder.htlc, p)?.key,
            counterparty_htlc: keys::derive_pubkey(secp, &counterparty.htlc, p)?.key,
            counterparty_payment,
        })
    }

    /// The keys of this commitment's HTLC scripts.
    pub fn htlc_keys(&self) -> HtlcKeys {
        HtlcKeys {
            revocation: self.revocation,
            local_htlc: self.holder_htlc,
            remote_htlc: self.counterparty_htlc,
        }
    }
}

/// BOLT 3: the lower 48 bits of `SHA256(payment_basepoint from open_channel ||
/// payment_basepoint from accept_channel)` — the opener's basepoint first,
/// whoever holds the commitment.
pub fn obscuring_factor(opener_payment: &PublicKey, accepter_payment: &PublicKey) -> u64 {
    let mut h = Sha256::new();
    h.update(opener_payment.serialize());
    h.update(accepter_payment.serialize());
    let digest: [u8; 32] = h.finalize().into();
    let mut low = [0u8; 8];
    low[2..].copy_from_slice(&digest[26..]);
    u64::from_be_bytes(low)
}

/// The commitment number hidden in a commitment's locktime (low 24 bits) and
/// input sequence (high 24 bits), still XORed with the obscuring factor.
pub fn obscured_commitment_number(tx: &Transaction) -> Option<u64> {
    let locktime = tx.lock_time.to_consensus_u32();
    let sequence = tx.input.first()?.sequence.0;
    if locktime >> 24 != 0x20 || sequence >> 24 != 0x80 {
        return None;
    }
    Some((u64::from(sequence & 0xff_ffff) << 24) | u64::from(locktime & 0xff_ffff))
}

/// Everything that defines one commitment transaction.
#[derive(Clone, Debug)]
pub struct CommitmentParams<'a> {
    /// The funding outpoint (`funding_created`).
    pub funding_outpoint: OutPoint,
    /// `funding_satoshis`.
    pub funding_amount: Amount,
    /// The holder's `funding_pubkey` (its anchor pays to it).
    pub holder_funding_pubkey: PublicKey,
    /// The counterparty's `funding_pubkey`.
    pub counterparty_funding_pubkey: PublicKey,
    /// The commitment format.
    pub channel_type: ChannelType,
    /// Whether the holder opened the channel, and so pays the fee and the anchors.
    pub holder_is_opener: bool,
    /// From [`obscuring_factor`].
    pub obscuring_factor: u64,
    /// Which commitment this is.
    pub commitment_number: CommitmentNumber,
    /// The delay on the holder's `to_local` (set by the counterparty).
    pub to_self_delay: u16,
    /// The holder's `dust_limit_satoshis`.
    pub dust_limit: Amount,
    /// `feerate_per_kw`.
    pub feerate: FeeratePerKw,
    /// The holder's balance, before fees, HTLCs excluded.
    pub holder_balance: Msat,
    /// The counterparty's balance, before fees, HTLCs excluded.
    pub counterparty_balance: Msat,
    /// The committed HTLCs, directions from the holder's view.
    pub htlcs: &'a [Htlc],
    /// The keys of this commitment.
    pub keys: CommitmentKeys,
}

/// What a commitment output is (BOLT 3 names, from the holder's view).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// The holder's balance, delayed and revocable.
    ToLocal,
    /// The counterparty's balance.
    ToRemote,
    /// The holder's anchor.
    AnchorLocal,
    /// The counterparty's anchor.
    AnchorRemote,
    /// An HTLC the holder offered.
    HtlcOffered,
    /// An HTLC the holder received.
    HtlcReceived,
}

impl OutputKind {
    /// The name in lnkit's JSON.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::ToLocal => "to_local",
            OutputKind::ToRemote => "to_remote",
            OutputKind::AnchorLocal => "anchor_local",
            OutputKind::AnchorRemote => "anchor_remote",
            OutputKind::HtlcOffered => "htlc_offered",
            OutputKind::HtlcReceived => "htlc_received",
        }
    }
}

/// One output of a commitment transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentOutput {
    /// What it is.
    pub kind: OutputKind,
    /// Its value.
    pub amount: Amount,
    /// Its scriptPubKey.
    pub script_pubkey: ScriptBuf,
    /// The witness script behind a P2WSH (none for a P2WPKH `to_remote`).
    pub witness_script: Option<ScriptBuf>,
    /// For HTLC outputs, the index of the HTLC in [`CommitmentParams::htlcs`].
    pub htlc: Option<usize>,
}

/// A built commitment transaction, with everything a later step needs.
#[derive(Clone, Debug)]
pub struct CommitmentTransaction {
    /// The unsigned transaction (its witness is added by [`crate::tx::funding::funding_witness`]).
    pub tx: Transaction,
    /// Its outputs, in transaction order.
    pub outputs: Vec<CommitmentOutput>,
    /// Indexes into [`CommitmentParams::htlcs`] of the HTLCs trimmed to fees.
    pub trimmed: Vec<usize>,
    /// The commitment number XOR the obscuring factor.
    pub obscured_commitment_number: u64,
    /// BOLT 3 expected weight: 724 (1124 with anchors) + 172 per untrimmed HTLC.
    pub expected_weight: u64,
    /// The base fee the opener pays: `feerate_per_kw * expected_weight / 1000`.
    pub base_fee: Amount,
    /// The fee the transaction really pays: funding amount minus outputs.
    pub fee: Amount,
    /// When the opener's balance cannot cover base fee and anchors: by how much.
    pub opener_shortfall: Option<Amount>,
}

/// A commitment that cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    /// Balances plus HTLCs must equal the funding amount.
    #[error("balances and HTLCs add up to {total} msat but the funding amount is {funding} msat")]
    BalanceMismatch {
        /// holder + counterparty + HTLCs, msat.
        total: u64,
        /// Funding amount, msat.
        funding: u64,
    },
    /// An HTLC of amount 0.
    #[error("htlcs[{0}]: amount_msat must be above zero")]
    ZeroHtlc(usize),
    /// An HTLC larger than the channel.
    #[error("htlcs[{index}]: {amount} msat is more than the channel's {funding} msat")]
    HtlcTooLarge {
        /// The HTLC's index.
        index: usize,
        /// Its amount.
        amount: u64,
        /// The funding amount in msat.
        funding: u64,
    },
    /// A sum overflowed.
    #[error("amounts overflow")]
    Overflow,
    /// The opener's balance cannot even cover the anchors it must fund, so
    /// the outputs would exceed the funding amount.
    #[error("the opener is {short} sat short of the base fee and anchors, which cannot come from anywhere else")]
    OpenerCannotPayAnchors {
        /// How much the opener lacks.
        short: u64,
    },
}

/// Whether an HTLC is trimmed: BOLT 3 "Trimmed Outputs" — its amount minus the
/// fee of its second-stage transaction is below the holder's dust limit.
pub fn is_trimmed(
    htlc: &Htlc,
    channel_type: ChannelType,
    feerate: FeeratePerKw,
    dust_limit: Amount,
) -> bool {
    let second_stage_fee = match htlc.direction {
        HtlcDirection::Offered => channel_type.htlc_timeout_fee(feerate),
        HtlcDirection::Received => channel_type.htlc_success_fee(feerate),
    };
    let threshold = dust_limit
        .checked_add(second_stage_fee)
        .unwrap_or(Amount::MAX);
    htlc.amount.to_sat_floor() < threshold
}

/// The base fee and anchors the opener pays at `feerate`, given the trimming it causes.
pub fn opener_cost(params: &CommitmentParams, feerate: FeeratePerKw) -> Amount {
    commitment_cost(
        params.channel_type,
        params.htlcs,
        feerate,
        params.dust_limit,
    )
}

/// BOLT 3 "Fee Calculation" and "Fee Payment": the base fee of a commitment
/// with these HTLCs (the trimmed ones add no weight), plus both anchors.
pub fn commitment_cost(
    channel_type: ChannelType,
    htlcs: &[Htlc],
    feerate: FeeratePerKw,
    dust_limit: Amount,
) -> Amount {
    let untrimmed = htlcs
        .iter()
        .filter(|h| !is_trimmed(h, channel_type, feerate, dust_limit))
        .count() as u64;
    let weight = channel_type.commitment_base_weight() + HTLC_OUTPUT_WEIGHT * untrimmed;
    let anchors = if channel_type.has_anchors() {
        ANCHOR_OUTPUT_VALUE * 2
    } else {
        Amount::ZERO
    };
    feerate.fee(weight) + anchors
}

/// The highest feerate whose base fee (and anchors) the opener's balance covers.
/// Trimming makes the cost not quite monotonic in the feerate, so this is a
/// binary search's answer: a feerate that is affordable, near the largest.
pub fn max_affordable_feerate(params: &CommitmentParams) -> Option<FeeratePerKw> {
    let opener = if params.holder_is_opener {
        params.holder_balance
    } else {
        params.counterparty_balance
    }
    .to_sat_floor();
    if opener_cost(params, FeeratePerKw(0)) > opener {
        return None;
    }
    let (mut lo, mut hi) = (0u64, u64::from(u32::MAX));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if opener_cost(params, FeeratePerKw(mid as u32)) <= opener {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(FeeratePerKw(lo as u32))
}

/// An output a commitment may contain, before amounts and trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputScript {
    /// What it is.
    pub kind: OutputKind,
    /// Its scriptPubKey.
    pub script_pubkey: ScriptBuf,
    /// The witness script behind a P2WSH (none for a P2WPKH `to_remote`).
    pub witness_script: Option<ScriptBuf>,
    /// For HTLC outputs, the index of the HTLC.
    pub htlc: Option<usize>,
}

/// Every output script the holder's commitment can contain: `to_local`,
/// `to_remote`, the two anchors (with `option_anchors`), one per HTLC. Used to
/// build a commitment and to recognise the outputs of one seen on chain.
pub fn output_scripts(
    keys: &CommitmentKeys,
    channel_type: ChannelType,
    to_self_delay: u16,
    holder_funding_pubkey: &PublicKey,
    counterparty_funding_pubkey: &PublicKey,
    htlcs: &[Htlc],
) -> Vec<OutputScript> {
    let anchors = channel_type.has_anchors();
    let p2wsh = |kind, script: ScriptBuf, htlc| OutputScript {
        kind,
        script_pubkey: script.to_p2wsh(),
        witness_script: Some(script),
        htlc,
    };
    let mut scripts = vec![p2wsh(
        OutputKind::ToLocal,
        script::to_local(&keys.revocation, to_self_delay, &keys.holder_delayed),
        None,
    )];
    scripts.push(if anchors {
        p2wsh(
            OutputKind::ToRemote,
            script::to_remote_anchors(&keys.counterparty_payment),
            None,
        )
    } else {
        let key = bitcoin::CompressedPublicKey(keys.counterparty_payment.0);
        OutputScript {
            kind: OutputKind::ToRemote,
            script_pubkey: ScriptBuf::new_p2wpkh(&key.wpubkey_hash()),
            witness_script: None,
            htlc: None,
        }
    });
    if anchors {
        scripts.push(p2wsh(
            OutputKind::AnchorLocal,
            script::anchor(holder_funding_pubkey),
            None,
        ));
        scripts.push(p2wsh(
            OutputKind::AnchorRemote,
            script::anchor(counterparty_funding_pubkey),
            None,
        ));
    }
    let htlc_keys = keys.htlc_keys();
    for (i, h) in htlcs.iter().enumerate() {
        scripts.push(match h.direction {
            HtlcDirection::Offered => p2wsh(
                OutputKind::HtlcOffered,
                script::offered_htlc(&htlc_keys, &h.payment_hash, anchors),
                Some(i),
            ),
            HtlcDirection::Received => p2wsh(
                OutputKind::HtlcReceived,
                script::received_htlc(&htlc_keys, &h.payment_hash, h.cltv_expiry, anchors),
                Some(i),
            ),
        });
    }
    scripts
}

/// BOLT 3 "Commitment Transaction Construction".
pub fn build_commitment(p: &CommitmentParams) -> Result<CommitmentTransaction, CommitmentError> {
    let funding_msat = Msat::from_sat(p.funding_amount).ok_or(CommitmentError::Overflow)?;
    let mut total = p
        .holder_balance
        .checked_add(p.counterparty_balance)
        .ok_or(CommitmentError::Overflow)?;
    for (i, h) in p.htlcs.iter().enumerate() {
        if h.amount == Msat::ZERO {
            return Err(CommitmentError::ZeroHtlc(i));
        }
        if h.amount > funding_msat {
            return Err(CommitmentError::HtlcTooLarge {
                index: i,
                amount: h.amount.0,
                funding: funding_msat.0,
            });
        }
        total = total
            .checked_add(h.amount)
            .ok_or(CommitmentError::Overflow)?;
    }
    if total != funding_msat {
        return Err(CommitmentError::BalanceMismatch {
            total: total.0,
            funding: funding_msat.0,
        });
    }

    // 1. Input and locktime: the obscured commitment number, split 24/24 bits.
    let obscured = (p.commitment_number.0 & 0xffff_ffff_ffff) ^ p.obscuring_factor;
    let lock_time = LockTime::from_consensus((0x20 << 24) | (obscured & 0xff_ffff) as u32);
    let sequence = Sequence((0x80 << 24) | ((obscured >> 24) & 0xff_ffff) as u32);

    // 2. Trimming, 3. base fee.
    let trimmed: Vec<usize> = (0..p.htlcs.len())
        .filter(|i| is_trimmed(&p.htlcs[*i], p.channel_type, p.feerate, p.dust_limit))
        .collect();
    let untrimmed = (p.htlcs.len() - trimmed.len()) as u64;
    let expected_weight = p.channel_type.commitment_base_weight() + HTLC_OUTPUT_WEIGHT * untrimmed;
    let base_fee = p.feerate.fee(expected_weight);

    // 4. The base fee and both anchors come out of the opener's balance.
    let opener_pays = opener_cost(p, p.feerate);
    let (holder_sat, counterparty_sat) = (
        p.holder_balance.to_sat_floor(),
        p.counterparty_balance.to_sat_floor(),
    );
    let opener_sat = if p.holder_is_opener {
        holder_sat
    } else {
        counterparty_sat
    };
    let opener_shortfall = opener_pays
        .checked_sub(opener_sat)
        .filter(|s| *s > Amount::ZERO);
    let opener_after = opener_sat.checked_sub(opener_pays).unwrap_or(Amount::ZERO);
    let (to_local, to_remote) = if p.holder_is_opener {
        (opener_after, counterparty_sat)
    } else {
        (holder_sat, opener_after)
    };

    let scripts = output_scripts(
        &p.keys,
        p.channel_type,
        p.to_self_delay,
        &p.holder_funding_pubkey,
        &p.counterparty_funding_pubkey,
        p.htlcs,
    );
    let output = |s: &OutputScript, amount| CommitmentOutput {
        kind: s.kind,
        amount,
        script_pubkey: s.script_pubkey.clone(),
        witness_script: s.witness_script.clone(),
        htlc: s.htlc,
    };
    let of_kind = |kind| {
        scripts
            .iter()
            .find(|s| s.kind == kind)
            .expect("always listed")
    };
    let mut outputs: Vec<(CommitmentOutput, u32)> = vec![];
    // 5, 6. Untrimmed HTLC outputs.
    for s in scripts
        .iter()
        .filter(|s| s.htlc.is_some_and(|i| !trimmed.contains(&i)))
    {
        let h = &p.htlcs[s.htlc.expect("filtered")];
        outputs.push((output(s, h.amount.to_sat_floor()), h.cltv_expiry.0));
    }
    // 7, 8. to_local and to_remote, unless below the dust limit.
    let has_to_local = to_local >= p.dust_limit;
    let has_to_remote = to_remote >= p.dust_limit;
    if has_to_local {
        outputs.push((output(of_kind(OutputKind::ToLocal), to_local), 0));
    }
    if has_to_remote {
        outputs.push((output(of_kind(OutputKind::ToRemote), to_remote), 0));
    }
    // 9. Anchors: each side's, when it has an output or any HTLC is untrimmed.
    if p.channel_type.has_anchors() {
        if has_to_local || untrimmed > 0 {
            outputs.push((
                output(of_kind(OutputKind::AnchorLocal), ANCHOR_OUTPUT_VALUE),
                0,
            ));
        }
        if has_to_remote || untrimmed > 0 {
            outputs.push((
                output(of_kind(OutputKind::AnchorRemote), ANCHOR_OUTPUT_VALUE),
                0,
            ));
        }
    }
    // 10. BIP 69 + CLTV: amount, then scriptPubKey bytes (memcmp, shorter first), then cltv_expiry.
    outputs.sort_by(|(a, a_cltv), (b, b_cltv)| {
        (a.amount, a.script_pubkey.as_bytes(), a_cltv).cmp(&(
            b.amount,
            b.script_pubkey.as_bytes(),
            b_cltv,
        ))
    });
    let outputs: Vec<CommitmentOutput> = outputs.into_iter().map(|(o, _)| o).collect();

    let tx = Transaction {
        version: Version::TWO,
        lock_time,
        input: vec![TxIn {
            previous_output: p.funding_outpoint,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        }],
        output: outputs
            .iter()
            .map(|o| TxOut {
                value: o.amount,
                script_pubkey: o.script_pubkey.clone(),
            })
            .collect(),
    };
    let paid: Amount = outputs.iter().map(|o| o.amount).sum();
    Ok(CommitmentTransaction {
        tx,
        outputs,
        trimmed,
        obscured_commitment_number: obscured,
        expected_weight,
        base_fee,
        fee: p
            .funding_amount
            .checked_sub(paid)
            .ok_or(CommitmentError::Overflow)?,
        opener_shortfall,
    })
}
