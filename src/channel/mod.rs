//! A Lightning channel as a state machine, without I/O (BOLT 2).
//!
//! [`Channel`] is a plain value; [`Channel::handle`] takes one [`Event`] (a
//! peer message, a command, a chain event, a connection change) and returns
//! the [`Action`]s the driver must carry out, in order: send a message,
//! persist the state, broadcast a transaction, resolve an HTLC. A `Persist`
//! always comes before the message that depends on it (`funding_signed`,
//! `commitment_signed`, `revoke_and_ack`), so a driver that executes actions
//! in order never sends what it has not stored.
//!
//! The channel holds no secret: every step that signs is given the
//! channel's [`ChannelSigner`]. Commitments are the toolkit's
//! ([`crate::tx::commitment::build_commitment`]); the revoked secrets go into
//! the toolkit's shachain store.

mod establish;
pub mod ledger;
pub mod msgs;
pub mod onchain;
mod reestablish;
mod shutdown;
mod update;

use crate::tx::commitment::CommitmentKeys;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa, PublicKey, SecretKey};
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, Txid};
use serde::{Deserialize, Serialize};

use crate::amount::Msat;
use crate::keys::PerCommitmentPoint;
use crate::onion::failure::AttributionData;
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::script::funding_script;
use crate::shachain::{self, CommitmentNumber, Index};
use crate::signer::ChannelSigner;
use crate::tx::close::{ClosingParams, SimpleCloseVariant};
use crate::tx::commitment::{
    build_commitment, commitment_cost, is_trimmed, obscuring_factor, ChannelType, CommitmentParams,
    CommitmentTransaction, FeeratePerKw, Htlc, HtlcDirection, Side, HTLC_OUTPUT_WEIGHT,
};
use crate::tx::funding::{funding_spend_sighash, funding_witness};
use ledger::{Commit, HtlcEntry, Ledger, Update, View};
pub use msgs::{
    AcceptChannel, ChannelId, ChannelMessage, ChannelParams, OpenChannel, SimpleClose,
    UpdateAddHtlc,
};

/// BOLT 2: `max_accepted_htlcs` may not exceed 483.
pub const MAX_ACCEPTED_HTLCS: u16 = 483;
/// BOLT 2: `dust_limit_satoshis` below 354 sat must be refused.
pub const MIN_DUST_LIMIT: Amount = Amount::from_sat(354);
/// BOLT 2 without `option_support_large_channel`: funding below 2^24 sat.
pub const MAX_FUNDING: Amount = Amount::from_sat((1 << 24) - 1);
/// BOLT 4 `update_fail_malformed_htlc`: the BADONION bit.
pub const BADONION: u16 = 0x8000;

/// What we ask of our peer and accept from it: the node's policy for a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Our `dust_limit_satoshis`.
    pub dust_limit: Amount,
    /// Our `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
    /// The `to_self_delay` we ask of the peer.
    pub to_self_delay: u16,
    /// The largest `to_self_delay` we accept on our own outputs.
    pub max_to_self_delay: u16,
    /// Our `max_accepted_htlcs`.
    pub max_accepted_htlcs: u16,
    /// The `minimum_depth` we ask for as accepter.
    pub minimum_depth: u32,
    /// The largest `minimum_depth` we accept as opener.
    pub max_minimum_depth: u32,
    /// Feerates we accept from the opener, inclusive.
    pub feerate_bounds: (FeeratePerKw, FeeratePerKw),
    /// `max_dust_htlc_exposure_msat` (BOLT 2): trimmed HTLCs we let stand in one commitment.
    pub max_dust_htlc_exposure: Msat,
    /// The reserve we ask the peer to keep, in per mille of the channel (BOLT 2 suggests 1%).
    pub reserve_permille: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dust_limit: Amount::from_sat(546),
            htlc_minimum: Msat(1),
            to_self_delay: 144,
            max_to_self_delay: 2016,
            max_accepted_htlcs: 30,
            minimum_depth: 3,
            max_minimum_depth: 144,
            feerate_bounds: (FeeratePerKw(253), FeeratePerKw(100_000)),
            max_dust_htlc_exposure: Msat(50_000_000),
            reserve_permille: 10,
        }
    }
}

impl Config {
    /// The reserve we ask for on a channel of `funding`: at least both dust limits (BOLT 2).
    pub fn reserve(&self, funding: Amount, their_dust: Amount) -> Amount {
        (funding * self.reserve_permille / 1000)
            .max(self.dust_limit)
            .max(their_dust)
    }
}

/// The features of both nodes' `init` that change how a channel runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiated {
    /// `option_simple_close`: `closing_complete`/`closing_sig`.
    pub simple_close: bool,
    /// `option_shutdown_anysegwit`.
    pub anysegwit: bool,
    /// `option_anchors`: an anchor channel type may be proposed.
    pub anchors: bool,
    /// `option_scid_alias`.
    pub scid_alias: bool,
}

/// Where the channel is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opener: `open_channel` sent.
    AwaitingAccept,
    /// Opener: `accept_channel` received; the wallet must build the funding transaction.
    AwaitingFundingTx,
    /// Opener: `funding_created` sent.
    AwaitingFundingSigned,
    /// Accepter: `accept_channel` sent.
    AwaitingFundingCreated,
    /// Funding signed both ways; waiting for depth and both `channel_ready`.
    AwaitingReady,
    /// Open.
    Normal,
    /// `shutdown` sent or received; HTLCs drain, no new ones.
    ShuttingDown,
    /// No HTLC left: the closing fee is being negotiated.
    Negotiating,
    /// A mutual close is signed and broadcast.
    Closed,
    /// Failed (an `error` was sent or received); our latest commitment was broadcast.
    Failed,
}

impl Phase {
    /// Core Lightning's state names, for `listpeerchannels`.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::AwaitingAccept
            | Phase::AwaitingFundingTx
            | Phase::AwaitingFundingSigned
            | Phase::AwaitingFundingCreated => "OPENINGD",
            Phase::AwaitingReady => "CHANNELD_AWAITING_LOCKIN",
            Phase::Normal => "CHANNELD_NORMAL",
            Phase::ShuttingDown => "CHANNELD_SHUTTING_DOWN",
            Phase::Negotiating => "CLOSINGD_SIGEXCHANGE",
            Phase::Closed => "CLOSINGD_COMPLETE",
            Phase::Failed => "AWAITING_UNILATERAL",
        }
    }
}

/// Which of `revoke_and_ack` and `commitment_signed` we sent last: on
/// reestablish, both are retransmitted in their original order (BOLT 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LastSent {
    /// `revoke_and_ack`.
    RevokeAndAck,
    /// `commitment_signed`.
    CommitmentSigned,
}

/// Something that happens to a channel.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message from the peer.
    Message(ChannelMessage),
    /// Opener: the wallet built (not broadcast) the funding transaction.
    FundingBuilt {
        /// The transaction.
        tx: Transaction,
        /// Its funding output.
        output_index: u16,
    },
    /// The funding transaction's depth (0: unconfirmed or reorged out).
    FundingDepth {
        /// Confirmations.
        confirmations: u32,
        /// Its short channel id, once confirmed.
        scid: Option<u64>,
    },
    /// Offer an HTLC.
    AddHtlc {
        /// `amount_msat`.
        amount: Msat,
        /// `payment_hash`.
        payment_hash: PaymentHash,
        /// `cltv_expiry`.
        cltv_expiry: CltvExpiry,
        /// The onion (1366 bytes).
        onion: Vec<u8>,
    },
    /// Fulfil an HTLC the peer offered.
    Fulfill {
        /// Its id.
        id: u64,
        /// Its preimage.
        preimage: PaymentPreimage,
        /// Our `attribution_data` (BOLT 4 "Hold times for successful payments").
        attribution: Option<Box<AttributionData>>,
    },
    /// Fail an HTLC the peer offered.
    Fail {
        /// Its id.
        id: u64,
        /// The failure onion.
        reason: Vec<u8>,
        /// Our `attribution_data` (BOLT 4 "Returning Errors").
        attribution: Option<Box<AttributionData>>,
    },
    /// Fail an HTLC whose onion we could not parse.
    FailMalformed {
        /// Its id.
        id: u64,
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
        /// `failure_code`, with BADONION.
        failure_code: u16,
    },
    /// Opener: change the commitment feerate.
    UpdateFee(FeeratePerKw),
    /// Sign what is pending (the batching timer fired).
    Commit,
    /// Close cooperatively, paid to `script`, at about `feerate`.
    Shutdown {
        /// Our closing output.
        script: ScriptBuf,
        /// The closing feerate we want.
        feerate: FeeratePerKw,
    },
    /// The closing feerate the node would now pay (needed when the peer starts the close).
    ClosingFeerate(FeeratePerKw),
    /// Fail the channel and broadcast our latest commitment (`close --force`).
    ForceClose,
    /// The connection is gone.
    Disconnected,
    /// A new connection: send `channel_reestablish`.
    Connected,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a message to the peer.
    Send(ChannelMessage),
    /// Store the channel now: the next messages depend on it.
    Persist,
    /// Opener: build the funding transaction paying `amount` to `script`.
    BuildFunding {
        /// The funding output's script.
        script: ScriptBuf,
        /// Its amount.
        amount: Amount,
    },
    /// Broadcast a transaction (the funding, a closing, our commitment).
    Broadcast(Transaction),
    /// Both `channel_ready` exchanged: payments may flow.
    Ready,
    /// An HTLC the peer offered is irrevocably committed: decide its fate.
    HtlcReceived(Box<UpdateAddHtlc>),
    /// The preimage of an HTLC we offered (known as soon as it is sent to us).
    PreimageLearned {
        /// The HTLC's id.
        id: u64,
        /// Its preimage.
        preimage: PaymentPreimage,
        /// The `attribution_data` that came with it.
        attribution: Option<Box<AttributionData>>,
    },
    /// An HTLC we offered is irrevocably resolved.
    HtlcResolved {
        /// Its id.
        id: u64,
        /// Its payment hash.
        payment_hash: PaymentHash,
        /// How.
        outcome: Outcome,
        /// The `attribution_data` of the removal, if it carried one.
        attribution: Option<Box<AttributionData>>,
    },
    /// The channel is closed by mutual agreement.
    Closed,
    /// The channel failed; `reason` says why.
    Failed {
        /// Why.
        reason: String,
    },
    /// The peer broke the protocol and the connection should end (after a `warning`).
    Disconnect,
    /// We signed their commitment `number` holding `htlcs`: store them with
    /// this step, for the penalty should they broadcast it once revoked (BOLT 5).
    RemoteCommitment {
        /// Its commitment number.
        number: u64,
        /// Its HTLCs.
        htlcs: Vec<HtlcEntry>,
        /// The commitment itself, without its witness (its txid is the
        /// watchtower's key to the penalty).
        tx: Box<Transaction>,
    },
    /// They revoked their commitment `number` (`revoke_and_ack`): its secret
    /// is known, so its penalty can be built now, for a watchtower (BOLT 13 draft).
    RemoteRevoked {
        /// The revoked commitment's number.
        number: u64,
    },
}

/// How an HTLC we offered was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Paid.
    Fulfilled(PaymentPreimage),
    /// Failed with this failure onion.
    Failed(Vec<u8>),
    /// Failed as malformed.
    Malformed {
        /// `failure_code`.
        failure_code: u16,
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
    },
    /// Timed out (or trimmed, or absent) on chain, irrevocably (BOLT 5).
    FailedOnChain,
}

/// A command the channel cannot carry out now. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not in a phase that allows it.
    #[error("the channel is {0}, not open for this")]
    Phase(&'static str),
    /// The peer is not connected (or not yet reestablished).
    #[error("the peer is not connected")]
    Disconnected,
    /// More than we can send.
    #[error("{amount} msat is above the channel's outbound capacity of {capacity} msat")]
    Capacity {
        /// Asked.
        amount: u64,
        /// What can be sent now.
        capacity: u64,
    },
    /// Below the peer's `htlc_minimum_msat`.
    #[error("{amount} msat is below the peer's htlc_minimum_msat of {minimum}")]
    BelowMinimum {
        /// Asked.
        amount: u64,
        /// Its minimum.
        minimum: u64,
    },
    /// The peer's `max_accepted_htlcs` is reached.
    #[error("the peer accepts at most {0} HTLCs at once")]
    TooManyHtlcs(u16),
    /// The dust exposure would pass `max_dust_htlc_exposure_msat`.
    #[error("the HTLC would take the dust exposure to {exposure} msat, above {limit}")]
    DustExposure {
        /// Exposure with it.
        exposure: u64,
        /// The limit.
        limit: u64,
    },
    /// No such HTLC to resolve.
    #[error("no HTLC {0} from the peer is irrevocably committed and unresolved")]
    UnknownHtlc(u64),
    /// The preimage is wrong.
    #[error("the preimage does not hash to HTLC {0}'s payment_hash")]
    WrongPreimage(u64),
    /// Only the opener sets the fee.
    #[error("only the opener sends update_fee")]
    NotOpener,
    /// The opener cannot pay that feerate.
    #[error("the opener cannot pay feerate {0} sat/kw")]
    Unaffordable(u32),
    /// An invalid `cltv_expiry`.
    #[error("cltv_expiry {0} is not a block height")]
    BadCltv(u32),
    /// A funding transaction without the funding output.
    #[error(
        "output {index} of the funding transaction does not pay {amount} to the funding script"
    )]
    BadFunding {
        /// The index given.
        index: u16,
        /// The amount expected.
        amount: Amount,
    },
    /// A shutdown script BOLT 2 does not allow.
    #[error("the closing script is not a standard segwit output BOLT 2 allows")]
    BadScript,
}

/// An `open_channel` we refuse (BOLT 2: the receiver fails the channel).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// The channel refused.
    pub temporary_channel_id: ChannelId,
    /// Why, as the `error` says it.
    pub reason: String,
}

impl Refusal {
    /// The `error` to send.
    pub fn message(&self) -> ChannelMessage {
        ChannelMessage::Error {
            channel_id: self.temporary_channel_id,
            data: self.reason.clone().into_bytes(),
        }
    }
}

/// A protocol violation by the peer: what we tell it, and whether the
/// channel fails (`error`) or only the connection ends (`warning`).
struct Violation {
    fail: bool,
    text: String,
}

fn fail(text: impl Into<String>) -> Violation {
    Violation {
        fail: true,
        text: text.into(),
    }
}

fn warn(text: impl Into<String>) -> Violation {
    Violation {
        fail: false,
        text: text.into(),
    }
}

/// The shutdown bookkeeping (BOLT 2 "Channel Close").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownState {
    /// Our script, once we decided to close.
    pub ours: Option<ScriptBuf>,
    /// Whether our `shutdown` went out.
    pub sent: bool,
    /// Theirs, from their `shutdown`.
    pub theirs: Option<ScriptBuf>,
    /// The closing feerate we want.
    pub feerate: Option<FeeratePerKw>,
    /// Legacy: the last fee we sent and the range we gave.
    pub last_sent_fee: Option<(Amount, Amount, Amount)>,
    /// Legacy: the last fee we received.
    pub last_received_fee: Option<Amount>,
    /// Simple close: our `closing_complete` awaiting its `closing_sig`.
    pub our_complete: Option<(Amount, SimpleCloseVariant)>,
    /// The closing transactions signed (possibly several under simple close).
    pub closing_txs: Vec<Transaction>,
}

/// One channel: its parameters, both commitments' ledger, the peer's
/// revealed secrets, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `channel_id` (the temporary one until funding).
    pub id: ChannelId,
    /// `temporary_channel_id`.
    pub temporary_id: ChannelId,
    /// The signer's channel index (BIP 32 paths in [`crate::signer`]).
    pub key_index: u64,
    /// The peer.
    pub peer: PublicKey,
    /// Who opened (and pays the commitment fee).
    pub opener: Side,
    /// Where it is.
    pub phase: Phase,
    /// `chain_hash`.
    pub chain_hash: BlockHash,
    /// The commitment format.
    pub channel_type: ChannelType,
    /// `announce_channel`.
    pub announce: bool,
    /// `option_scid_alias` is in the channel type (BOLT 2): the channel is
    /// known by its aliases only, never by its real short channel id.
    #[serde(default)]
    pub alias_only: bool,
    /// `funding_satoshis`.
    pub funding_amount: Amount,
    /// `push_msat`.
    pub push: Msat,
    /// The funding outpoint.
    pub funding_outpoint: Option<OutPoint>,
    /// Opener: the funding transaction, to broadcast after `funding_signed`.
    pub funding_tx: Option<Transaction>,
    /// Our policy.
    pub config: Config,
    /// What we sent in `open_channel`/`accept_channel`.
    pub ours: ChannelParams,
    /// What they sent.
    pub theirs: Option<ChannelParams>,
    /// The depth the accepter asked for.
    pub minimum_depth: u32,
    /// The features both sides negotiated.
    pub negotiated: Negotiated,
    /// The updates and commitments.
    pub ledger: Ledger,
    /// Their `per_commitment_point` of `ledger.remote` and of the one after.
    pub their_points: (PublicKey, Option<PublicKey>),
    /// Their signatures on our current commitment (what a force close broadcasts).
    pub local_signatures: Option<(ecdsa::Signature, Vec<ecdsa::Signature>)>,
    /// The per-commitment secrets they revealed.
    pub their_secrets: shachain::Store,
    /// For retransmission order.
    pub last_sent: Option<LastSent>,
    /// The real short channel id.
    pub scid: Option<u64>,
    /// Our alias (`channel_ready` `short_channel_id`).
    pub our_alias: Option<u64>,
    /// Theirs.
    pub their_alias: Option<u64>,
    /// Depth reached and `channel_ready` sent.
    pub ready_sent: bool,
    /// Their `channel_ready` received.
    pub their_ready: bool,
    /// Connected and reestablished: messages may flow.
    pub live: bool,
    /// Our updates dropped by a disconnect before we signed them: sent again after reestablish.
    pub holding: Vec<Update>,
    /// The holding cell: how many of our newest log entries wait unsent
    /// for the `revoke_and_ack` of the round in flight (sent, then signed, in one burst).
    #[serde(default)]
    pub unsent: usize,
    /// Closing.
    pub shutdown: ShutdownState,
    /// Why it failed.
    pub failure: Option<String>,
    /// HTLCs the peer offered that are irrevocably committed and that we
    /// have not irrevocably removed: what a restarted node must still decide.
    pub incoming: std::collections::BTreeMap<u64, Box<UpdateAddHtlc>>,
    /// What spent the funding output, and the resolution of every output
    /// of ours it left (BOLT 5).
    #[serde(default)]
    pub onchain: Option<Box<onchain::Resolution>>,
    /// BOLT 7: our relay policy, the announcement's halves, our updates' timestamps.
    #[serde(default)]
    pub gossip: crate::gossip::announce::ChannelGossip,
}

/// The channel's view of a `commitment_signed`'s commitment.
struct Built {
    commitment: CommitmentTransaction,
    htlcs: Vec<Htlc>,
}

/// Everything `open` needs to start a channel as opener.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    /// The peer.
    pub peer: PublicKey,
    /// The chain.
    pub chain_hash: BlockHash,
    /// `temporary_channel_id` (random, from the driver).
    pub temporary_id: ChannelId,
    /// The signer's channel index.
    pub key_index: u64,
    /// `funding_satoshis`.
    pub funding: Amount,
    /// `push_msat`.
    pub push: Msat,
    /// `feerate_per_kw` of the commitments.
    pub feerate: FeeratePerKw,
    /// The channel type to propose.
    pub channel_type: ChannelType,
    /// `announce_channel`.
    pub announce: bool,
    /// What both `init`s negotiated.
    pub negotiated: Negotiated,
    /// Our policy.
    pub config: Config,
}

/// The BOLT 9 bits of a channel type (BOLT 2 "Defined Channel Types").
pub fn channel_type_bits(t: ChannelType) -> Vec<u8> {
    let bits: &[u16] = match t {
        ChannelType::Legacy => &[],
        ChannelType::StaticRemotekey => &[12],
        ChannelType::AnchorOutputs => &[12, 20],
        ChannelType::AnchorsZeroFeeHtlcTx => &[12, 22],
    };
    crate::wire::features::from_bits(bits)
}

/// A channel type from its bits, when it is one we run (scid_alias and zeroconf are not types here).
pub fn channel_type_from_bits(bytes: &[u8]) -> Option<ChannelType> {
    match channel_type_parts(bytes)? {
        (t, false) => Some(t),
        (_, true) => None,
    }
}

/// `option_scid_alias` (BOLT 9 bit 46) in a `channel_type`.
pub const SCID_ALIAS_BIT: u16 = 46;

/// A channel type's commitment format, and whether it adds
/// `option_scid_alias` (Core Lightning proposes it for every private channel).
pub fn channel_type_parts(bytes: &[u8]) -> Option<(ChannelType, bool)> {
    let mut bits = crate::wire::features::bits(bytes);
    let alias = bits.last() == Some(&SCID_ALIAS_BIT);
    if alias {
        bits.pop();
    }
    let t = match bits.as_slice() {
        [12] => ChannelType::StaticRemotekey,
        [12, 22] => ChannelType::AnchorsZeroFeeHtlcTx,
        _ => return None,
    };
    Some((t, alias))
}

/// The `channel_type` bits of a format, with `option_scid_alias` when `alias`.
pub fn channel_type_bits_with(t: ChannelType, alias: bool) -> Vec<u8> {
    let mut bits = crate::wire::features::bits(&channel_type_bits(t));
    if alias {
        bits.push(SCID_ALIAS_BIT);
    }
    crate::wire::features::from_bits(&bits)
}

/// BOLT 2 `shutdown` scriptpubkey forms.
pub fn shutdown_script_allowed(script: &ScriptBuf, n: &Negotiated) -> bool {
    let b = script.as_bytes();
    let v0 = (b.len() == 22 && b[..2] == [0x00, 0x14]) || (b.len() == 34 && b[..2] == [0x00, 0x20]);
    let anysegwit = n.anysegwit
        && b.len() >= 4
        && (0x51..=0x60).contains(&b[0])
        && (2..=40).contains(&(b[1] as usize))
        && b.len() == 2 + b[1] as usize;
    let op_return = n.simple_close
        && b.first() == Some(&0x6a)
        && match b.get(1) {
            Some(&n @ 6..=75) => b.len() == 2 + n as usize,
            Some(76) => matches!(b.get(2), Some(&n @ 76..=80) if b.len() == 3 + n as usize),
            _ => false,
        };
    v0 || anysegwit || op_return
}

impl Channel {
    fn theirs(&self) -> &ChannelParams {
        self.theirs.as_ref().expect("set once accepted")
    }

    /// The 2-of-2 funding script.
    pub fn funding_script(&self) -> ScriptBuf {
        funding_script(&self.ours.pubkeys.funding, &self.theirs().pubkeys.funding)
    }

    /// Whether updates may be sent and received.
    pub fn is_usable(&self) -> bool {
        self.phase == Phase::Normal && self.live
    }

    /// The HTLCs of a commitment as BOLT 3 wants them, directions from `holder`'s view.
    fn htlcs_of(view: &View, holder: Side) -> Vec<Htlc> {
        view.htlcs
            .values()
            .map(|h| Htlc {
                direction: if h.offerer == holder {
                    HtlcDirection::Offered
                } else {
                    HtlcDirection::Received
                },
                amount: h.amount,
                payment_hash: h.payment_hash,
                cltv_expiry: h.cltv_expiry,
            })
            .collect()
    }

    fn dust_limit_of(&self, holder: Side) -> Amount {
        match holder {
            Side::Local => self.ours.dust_limit,
            Side::Remote => self.theirs().dust_limit,
        }
    }

    /// The commitment `holder` holds for `view`, with its per-commitment point.
    fn build(
        &self,
        view: &View,
        holder: Side,
        number: u64,
        point: PerCommitmentPoint,
    ) -> Result<Built, String> {
        let keys = self.keys_for(holder, point)?;
        self.build_keyed(view, holder, number, keys)
    }

    /// [`Channel::build`] with the commitment's keys already derived (the
    /// signer needs them again: deriving them is five point multiplications).
    fn build_keyed(
        &self,
        view: &View,
        holder: Side,
        number: u64,
        keys: CommitmentKeys,
    ) -> Result<Built, String> {
        let htlcs = Self::htlcs_of(view, holder);
        let params = self.params_keyed(view, holder, number, keys, &htlcs)?;
        let commitment = build_commitment(&params).map_err(|e| e.to_string())?;
        Ok(Built { commitment, htlcs })
    }

    /// Sign their commitment `c`: `commitment_signed`.
    fn sign_remote(
        &self,
        signer: &ChannelSigner,
        c: &Commit,
        point: PublicKey,
    ) -> Result<(ChannelMessage, Transaction), String> {
        let view = self.ledger.view_of(c);
        let keys = self.keys_for(Side::Remote, PerCommitmentPoint(point))?;
        let built = self.build_keyed(&view, Side::Remote, c.number, keys)?;
        let signature = signer.sign_funding_spend(
            &built.commitment.tx,
            &self.funding_script(),
            self.funding_amount,
        );
        let params = self.params_keyed(&view, Side::Remote, c.number, keys, &built.htlcs)?;
        let htlc_signatures = signer.sign_counterparty_htlcs(&built.commitment, &params);
        Ok((
            ChannelMessage::CommitmentSigned {
                channel_id: self.id,
                signature,
                htlc_signatures,
            },
            built.commitment.tx,
        ))
    }

    /// The params of a commitment again (they borrow its HTLC list).
    fn params_for<'a>(
        &self,
        view: &View,
        holder: Side,
        number: u64,
        point: PerCommitmentPoint,
        htlcs: &'a [Htlc],
    ) -> Result<CommitmentParams<'a>, String> {
        let keys = self.keys_for(holder, point)?;
        self.params_keyed(view, holder, number, keys, htlcs)
    }

    fn params_keyed<'a>(
        &self,
        view: &View,
        holder: Side,
        number: u64,
        keys: CommitmentKeys,
        htlcs: &'a [Htlc],
    ) -> Result<CommitmentParams<'a>, String> {
        let theirs = self.theirs();
        let (h, c) = match holder {
            Side::Local => (&self.ours, theirs),
            Side::Remote => (theirs, &self.ours),
        };
        let (opener_pb, accepter_pb) = match self.opener {
            Side::Local => (&self.ours.pubkeys.payment, &theirs.pubkeys.payment),
            Side::Remote => (&theirs.pubkeys.payment, &self.ours.pubkeys.payment),
        };
        Ok(CommitmentParams {
            funding_outpoint: self.funding_outpoint.ok_or("no funding outpoint yet")?,
            funding_amount: self.funding_amount,
            holder_funding_pubkey: h.pubkeys.funding,
            counterparty_funding_pubkey: c.pubkeys.funding,
            channel_type: self.channel_type,
            holder_is_opener: self.opener == holder,
            obscuring_factor: obscuring_factor(opener_pb, accepter_pb),
            commitment_number: CommitmentNumber(number),
            // The delay on the holder's outputs is the one its counterparty asked for.
            to_self_delay: c.to_self_delay,
            dust_limit: h.dust_limit,
            feerate: view.feerate,
            holder_balance: view.of(holder),
            counterparty_balance: view.of(holder.other()),
            htlcs,
            keys,
        })
    }

    /// Check their signatures on our commitment `c`.
    fn verify_local(
        &self,
        signer: &ChannelSigner,
        c: &Commit,
        sig: &ecdsa::Signature,
        htlc_sigs: &[ecdsa::Signature],
    ) -> Result<(), Violation> {
        let view = self.ledger.view_of(c);
        let point = signer.per_commitment_point(CommitmentNumber(c.number));
        let keys = self.keys_for(Side::Local, point).map_err(fail)?;
        let built = self
            .build_keyed(&view, Side::Local, c.number, keys)
            .map_err(fail)?;
        let msg = funding_spend_sighash(
            &built.commitment.tx,
            &self.funding_script(),
            self.funding_amount,
        );
        signer
            .secp()
            .verify_ecdsa(&msg, sig, &self.theirs().pubkeys.funding)
            .map_err(|_| {
                fail(format!(
                    "commitment_signed: signature is not valid for commitment {}",
                    c.number
                ))
            })?;
        let params = self
            .params_keyed(&view, Side::Local, c.number, keys, &built.htlcs)
            .map_err(fail)?;
        signer.verify_holder_htlcs(&built.commitment, &params, htlc_sigs).map_err(|i| {
            fail(format!(
                "commitment_signed: htlc_signatures[{i}] is not valid (or {} signatures for {} HTLC outputs)",
                htlc_sigs.len(),
                built.commitment.outputs.iter().filter(|o| o.htlc.is_some()).count()
            ))
        })
    }

    /// Our latest commitment, signed by both: what a force close broadcasts.
    pub fn signed_local_commitment(&self, signer: &ChannelSigner) -> Option<Transaction> {
        let (their_sig, _) = self.local_signatures.as_ref()?;
        let c = self.ledger.local;
        let view = self.ledger.view_of(&c);
        let built = self
            .build(
                &view,
                Side::Local,
                c.number,
                signer.per_commitment_point(CommitmentNumber(c.number)),
            )
            .ok()?;
        let script = self.funding_script();
        let ours = signer.sign_funding_spend(&built.commitment.tx, &script, self.funding_amount);
        let mut tx = built.commitment.tx;
        tx.input[0].witness = funding_witness(
            &script,
            (&self.ours.pubkeys.funding, &ours),
            (&self.theirs().pubkeys.funding, their_sig),
        );
        Some(tx)
    }

    /// The txids of the peer's commitments it may broadcast: its current one
    /// and, while our `commitment_signed` waits for its `revoke_and_ack`,
    /// the next (BOLT 5: either can confirm).
    pub fn remote_commitment_txids(&self) -> Vec<Txid> {
        let mut out = vec![];
        let mut add = |c: &Commit, point: Option<PublicKey>| {
            let Some(point) = point else { return };
            let view = self.ledger.view_of(c);
            if let Ok(b) = self.build(&view, Side::Remote, c.number, PerCommitmentPoint(point)) {
                out.push(b.commitment.tx.compute_txid());
            }
        };
        add(&self.ledger.remote, Some(self.their_points.0));
        if let Some(next) = self.ledger.remote_next {
            add(&next, self.their_points.1);
        }
        out
    }

    /// Whether the channel failed because the peer sent an `error` (it
    /// force-closed), rather than by our decision.
    pub fn failed_by_peer(&self) -> bool {
        self.phase == Phase::Failed
            && self
                .failure
                .as_deref()
                .is_some_and(|f| f.starts_with(PEER_ERROR))
    }

    /// Our current commitment as built, unsigned (for inspection and tests).
    pub fn local_commitment(&self, signer: &ChannelSigner) -> Option<CommitmentTransaction> {
        let c = self.ledger.local;
        let view = self.ledger.view_of(&c);
        self.build(
            &view,
            Side::Local,
            c.number,
            signer.per_commitment_point(CommitmentNumber(c.number)),
        )
        .ok()
        .map(|b| b.commitment)
    }

    /// The fee and anchors the opener pays on `holder`'s commitment for `view`.
    fn opener_cost(&self, view: &View, holder: Side) -> Amount {
        commitment_cost(
            self.channel_type,
            &Self::htlcs_of(view, holder),
            view.feerate,
            self.dust_limit_of(holder),
        )
    }

    /// The reserve `side` must keep (set by the other side).
    fn reserve_of(&self, side: Side) -> Amount {
        match side {
            Side::Local => self.theirs().channel_reserve,
            Side::Remote => self.ours.channel_reserve,
        }
    }

    /// BOLT 2: the opener pays the fee (and anchors) of both commitments
    /// from its balance, and a side that offered HTLCs keeps its reserve.
    /// Only the sender's own costs count against it: a fee the opener can no
    /// longer pay because of the other side's HTLC is cut, as BOLT 3 says.
    fn check_affordable(&self, view: &View, sender: Side) -> Result<(), Violation> {
        let added = view.offered_by(sender).next().is_some();
        let reserve = if added {
            self.reserve_of(sender)
        } else {
            Amount::ZERO
        };
        let balance = view.of(sender).to_sat_floor();
        for holder in [Side::Local, Side::Remote] {
            let need = if sender == self.opener {
                reserve + self.opener_cost(view, holder)
            } else {
                reserve
            };
            if balance < need {
                return Err(fail(format!(
                    "the sender's {} sat does not cover its reserve, the commitment fee and anchors: {} sat",
                    balance.to_sat(),
                    need.to_sat()
                )));
            }
        }
        Ok(())
    }

    /// Trimmed HTLCs' total on `holder`'s commitment: what a force close would give to miners.
    fn dust_exposure(&self, view: &View, holder: Side) -> Msat {
        let dust = self.dust_limit_of(holder);
        Self::htlcs_of(view, holder)
            .iter()
            .filter(|h| is_trimmed(h, self.channel_type, view.feerate, dust))
            .map(|h| h.amount)
            .sum()
    }

    /// BOLT 2 `max_dust_htlc_exposure_msat`, receiving side: whether this
    /// incoming HTLC is trimmed on a commitment whose trimmed total is over
    /// our limit. Such an HTLC SHOULD be failed once committed, and its
    /// preimage never revealed.
    pub fn over_dust_exposure(&self, add: &UpdateAddHtlc) -> bool {
        let htlc = Htlc {
            direction: HtlcDirection::Received,
            amount: add.amount,
            payment_hash: add.payment_hash,
            cltv_expiry: add.cltv_expiry,
        };
        [
            (Side::Local, self.ledger.local),
            (Side::Remote, self.ledger.remote_latest()),
        ]
        .into_iter()
        .any(|(holder, c)| {
            let view = self.ledger.view_of(&c);
            let h = Htlc {
                direction: if holder == Side::Local {
                    HtlcDirection::Received
                } else {
                    HtlcDirection::Offered
                },
                ..htlc
            };
            is_trimmed(
                &h,
                self.channel_type,
                view.feerate,
                self.dust_limit_of(holder),
            ) && self.dust_exposure(&view, holder) > self.config.max_dust_htlc_exposure
        })
    }

    /// What we could offer in one more HTLC now, in msat (our outbound capacity).
    pub fn spendable(&self) -> Msat {
        let Some(theirs) = &self.theirs else {
            return Msat::ZERO;
        };
        let view = self.ledger.view(
            self.ledger.ours.end(),
            self.ledger
                .local
                .theirs
                .max(self.ledger.remote_latest().theirs),
        );
        let in_flight: Msat = view.offered_by(Side::Local).map(|h| h.amount).sum();
        let mut most = view
            .local
            .0
            .saturating_sub(self.reserve_of(Side::Local).to_sat() * 1000);
        // The opener pays for one more untrimmed HTLC on each commitment, at the current feerate.
        let extra = view.feerate.fee(HTLC_OUTPUT_WEIGHT);
        let cost = [Side::Local, Side::Remote]
            .iter()
            .map(|h| self.opener_cost(&view, *h) + extra)
            .max()
            .expect("two");
        if self.opener == Side::Local {
            most = most.saturating_sub(cost.to_sat() * 1000);
        } else if view.remote.to_sat_floor() < cost {
            // BOLT 2: not if the opener could not pay the fee with it.
            return Msat::ZERO;
        }
        most = most.min(
            theirs
                .max_htlc_value_in_flight
                .0
                .saturating_sub(in_flight.0),
        );
        if view.offered_by(Side::Local).count() >= theirs.max_accepted_htlcs as usize {
            return Msat::ZERO;
        }
        Msat(most)
    }

    /// What we could receive in one more HTLC (their outbound capacity, as we see it).
    pub fn receivable(&self) -> Msat {
        let view = self.ledger.view_of(&self.ledger.local);
        let mut most = view
            .remote
            .0
            .saturating_sub(self.ours.channel_reserve.to_sat() * 1000);
        if self.opener == Side::Remote {
            let cost = self.opener_cost(&view, Side::Local) + view.feerate.fee(HTLC_OUTPUT_WEIGHT);
            most = most.saturating_sub(cost.to_sat() * 1000);
        }
        Msat(most)
    }

    /// Handle one event. Protocol violations by the peer become `warning`s
    /// or `error`s (with the channel failed); commands that cannot be carried
    /// out are an error and change nothing.
    pub fn handle(
        &mut self,
        signer: &ChannelSigner,
        event: Event,
    ) -> Result<Vec<Action>, CommandError> {
        let closing_message = matches!(
            event,
            Event::Message(ChannelMessage::ClosingSig(_) | ChannelMessage::ClosingComplete(_))
        );
        if matches!(self.phase, Phase::Failed) || (self.phase == Phase::Closed && !closing_message)
        {
            return match event {
                Event::Message(_)
                | Event::Disconnected
                | Event::Connected
                | Event::FundingDepth { .. }
                | Event::ClosingFeerate(_) => {
                    // BOLT 2: a channel in an error state retransmits its
                    // error, until the chain has closed it: then there is
                    // nothing left for the peer to learn, and Core
                    // Lightning answers a stale error for a channel it has
                    // resolved with its own and hangs up (no new channel
                    // with that peer could be opened).
                    let on_chain = self
                        .onchain
                        .as_ref()
                        .is_some_and(|r| r.confirmed_at.is_some());
                    if let (Event::Connected, Phase::Failed, false) =
                        (&event, &self.phase, on_chain)
                    {
                        return Ok(vec![Action::Send(ChannelMessage::Error {
                            channel_id: self.id,
                            data: self.failure.clone().unwrap_or_default().into_bytes(),
                        })]);
                    }
                    Ok(vec![])
                }
                _ => Err(CommandError::Phase(self.phase.name())),
            };
        }
        match event {
            Event::Message(m) => Ok(self.on_message(signer, m)),
            Event::FundingBuilt { tx, output_index } => {
                self.on_funding_built(signer, tx, output_index)
            }
            Event::FundingDepth {
                confirmations,
                scid,
            } => Ok(self.on_depth(signer, confirmations, scid)),
            Event::AddHtlc {
                amount,
                payment_hash,
                cltv_expiry,
                onion,
            } => self
                .add_htlc(amount, payment_hash, cltv_expiry, onion)
                .map(|(_, a)| a),
            Event::Fulfill {
                id,
                preimage,
                attribution,
            } => {
                let h = self.removable_incoming(id)?;
                if preimage.payment_hash() != h.payment_hash {
                    return Err(CommandError::WrongPreimage(id));
                }
                Ok(self.push_update(Update::Fulfill {
                    id,
                    preimage,
                    attribution,
                }))
            }
            Event::Fail {
                id,
                reason,
                attribution,
            } => {
                self.removable_incoming(id)?;
                Ok(self.push_update(Update::Fail {
                    id,
                    reason,
                    attribution,
                }))
            }
            Event::FailMalformed {
                id,
                sha256_of_onion,
                failure_code,
            } => {
                self.removable_incoming(id)?;
                Ok(self.push_update(Update::FailMalformed {
                    id,
                    sha256_of_onion,
                    failure_code: failure_code | BADONION,
                }))
            }
            Event::UpdateFee(feerate) => self.update_fee(feerate),
            Event::Commit => Ok(self.commit(signer)),
            Event::Shutdown { script, feerate } => self.start_shutdown(signer, script, feerate),
            Event::ClosingFeerate(f) => {
                self.shutdown.feerate = Some(f);
                Ok(self.maybe_negotiate(signer))
            }
            Event::ForceClose => {
                Ok(self.fail_channel(signer, "closed by our command (force)".into(), false))
            }
            Event::Disconnected => Ok(self.on_disconnect()),
            Event::Connected => Ok(self.on_connect(signer)),
        }
    }

    /// Set our scid alias (sent in `channel_ready`).
    pub fn set_alias(&mut self, alias: u64) {
        self.our_alias = Some(alias);
    }

    /// Fail the channel: send `error`, broadcast our latest commitment if it can
    /// be (BOLT 5 "Failing a Channel"). `ours`: the violation is our own view
    /// (the peer sent something we cannot accept).
    fn fail_channel(
        &mut self,
        signer: &ChannelSigner,
        reason: String,
        send_error: bool,
    ) -> Vec<Action> {
        let mut out = vec![];
        let before = self.phase.clone();
        self.phase = Phase::Failed;
        self.failure = Some(reason.clone());
        out.push(Action::Persist);
        if send_error && self.live {
            out.push(Action::Send(ChannelMessage::Error {
                channel_id: self.id,
                data: reason.clone().into_bytes(),
            }));
        }
        if !matches!(
            before,
            Phase::AwaitingAccept
                | Phase::AwaitingFundingTx
                | Phase::AwaitingFundingCreated
                | Phase::AwaitingFundingSigned
        ) {
            if let Some(tx) = self.signed_local_commitment(signer) {
                out.push(Action::Broadcast(tx));
            }
        }
        out.push(Action::Failed { reason });
        out
    }

    fn violation(&mut self, signer: &ChannelSigner, v: Violation) -> Vec<Action> {
        if v.fail {
            self.fail_channel(signer, v.text, true)
        } else {
            vec![
                Action::Send(ChannelMessage::Warning {
                    channel_id: self.id,
                    data: v.text.into_bytes(),
                }),
                Action::Disconnect,
            ]
        }
    }

    fn on_message(&mut self, signer: &ChannelSigner, m: ChannelMessage) -> Vec<Action> {
        match self.on_message_inner(signer, m) {
            Ok(a) => a,
            Err(v) => self.violation(signer, v),
        }
    }

    fn on_message_inner(
        &mut self,
        signer: &ChannelSigner,
        m: ChannelMessage,
    ) -> Result<Vec<Action>, Violation> {
        if let ChannelMessage::Error { data, .. } = &m {
            let text = String::from_utf8_lossy(data).into_owned();
            return Ok(self.fail_channel(signer, format!("{PEER_ERROR}: {text}"), false));
        }
        if let ChannelMessage::Warning { .. } = &m {
            return Ok(vec![]);
        }
        if let ChannelMessage::Reestablish { .. } = &m {
            return self.on_reestablish(signer, m);
        }
        if !self.live {
            return Err(warn(format!("{} before channel_reestablish", m.name())));
        }
        match m {
            ChannelMessage::Accept(a) => self.on_accept(*a),
            ChannelMessage::FundingCreated {
                funding_txid,
                funding_output_index,
                signature,
                ..
            } => self.on_funding_created(signer, funding_txid, funding_output_index, signature),
            ChannelMessage::FundingSigned { signature, .. } => {
                self.on_funding_signed(signer, signature)
            }
            ChannelMessage::Ready {
                second_per_commitment_point,
                alias,
                ..
            } => {
                if !matches!(self.phase, Phase::AwaitingReady) {
                    // BOLT 2: ignore a redundant channel_ready.
                    return Ok(vec![]);
                }
                self.their_points.1 = Some(second_per_commitment_point);
                self.their_alias = alias;
                self.their_ready = true;
                let mut out = vec![Action::Persist];
                out.extend(self.maybe_normal());
                Ok(out)
            }
            ChannelMessage::AddHtlc(a) => self.on_add(a),
            ChannelMessage::Fulfill {
                id,
                preimage,
                attribution,
                ..
            } => {
                let h = self.their_removal_target(id, "update_fulfill_htlc")?;
                if preimage.payment_hash() != h.payment_hash {
                    return Err(fail(format!("update_fulfill_htlc: payment_preimage does not hash to HTLC {id}'s payment_hash")));
                }
                self.ledger.theirs.entries.push_back(Update::Fulfill {
                    id,
                    preimage,
                    attribution: attribution.clone(),
                });
                Ok(vec![Action::PreimageLearned {
                    id,
                    preimage,
                    attribution,
                }])
            }
            ChannelMessage::Fail {
                id,
                reason,
                attribution,
                ..
            } => {
                self.their_removal_target(id, "update_fail_htlc")?;
                self.ledger.theirs.entries.push_back(Update::Fail {
                    id,
                    reason,
                    attribution,
                });
                Ok(vec![])
            }
            ChannelMessage::FailMalformed {
                id,
                sha256_of_onion,
                failure_code,
                ..
            } => {
                self.their_removal_target(id, "update_fail_malformed_htlc")?;
                if failure_code & BADONION == 0 {
                    return Err(fail(
                        "update_fail_malformed_htlc: failure_code lacks the BADONION bit",
                    ));
                }
                self.ledger.theirs.entries.push_back(Update::FailMalformed {
                    id,
                    sha256_of_onion,
                    failure_code,
                });
                Ok(vec![])
            }
            ChannelMessage::UpdateFee { feerate, .. } => {
                if self.opener != Side::Remote {
                    return Err(fail("update_fee: only the opener may send update_fee"));
                }
                let (lo, hi) = self.config.feerate_bounds;
                if feerate < lo || feerate > hi {
                    return Err(fail(format!(
                        "update_fee: feerate_per_kw {} is outside {}..={}",
                        feerate.0, lo.0, hi.0
                    )));
                }
                self.ledger.theirs.entries.push_back(Update::Fee(feerate));
                let view = self.ledger.view_of(&self.ledger.next_local());
                self.check_affordable(&view, Side::Remote)
                    .map_err(|v| fail(format!("update_fee: {}", v.text)))?;
                Ok(vec![])
            }
            ChannelMessage::CommitmentSigned {
                signature,
                htlc_signatures,
                ..
            } => self.on_commitment_signed(signer, signature, htlc_signatures),
            ChannelMessage::RevokeAndAck {
                per_commitment_secret,
                next_per_commitment_point,
                ..
            } => self.on_revoke(signer, per_commitment_secret, next_per_commitment_point),
            ChannelMessage::Shutdown { script, .. } => self.on_shutdown(signer, script),
            ChannelMessage::ClosingSigned {
                fee,
                signature,
                fee_range,
                ..
            } => self.on_closing_signed(signer, fee, signature, fee_range),
            ChannelMessage::ClosingComplete(c) => self.on_closing_complete(signer, *c),
            ChannelMessage::ClosingSig(c) => self.on_closing_sig(signer, *c),
            other => Err(warn(format!(
                "unexpected {} in phase {}",
                other.name(),
                self.phase.name()
            ))),
        }
    }

    /// An incoming HTLC was forwarded, and its forward stored: its onion is
    /// never read again (a restart answers it from the forward), so it no
    /// longer goes into every write of the channel while the HTLC is out.
    pub fn forwarded(&mut self, id: u64) {
        if let Some(a) = self.incoming.get_mut(&id) {
            a.onion = Vec::new();
        }
    }

    /// Incoming HTLCs still waiting for our fulfil or fail (none sent or held).
    pub fn unresolved_incoming(&self) -> Vec<&UpdateAddHtlc> {
        let pending: Vec<u64> = self
            .ledger
            .ours
            .entries
            .iter()
            .chain(&self.holding)
            .filter_map(Update::removes)
            .collect();
        self.incoming
            .values()
            .filter(|a| !pending.contains(&a.id))
            .map(|a| a.as_ref())
            .collect()
    }

    /// Whether an HTLC we offered with this id is still ours to resolve:
    /// held, in our log, or on either side's latest commitment.
    pub fn has_offered(&self, id: u64) -> bool {
        let is_it = |u: &Update| matches!(u, Update::Add(a) if a.id == id);
        self.holding
            .iter()
            .chain(&self.ledger.ours.entries)
            .any(is_it)
            || [self.ledger.local, self.ledger.remote_latest()]
                .iter()
                .any(|c| {
                    self.ledger
                        .view_of(c)
                        .htlcs
                        .contains_key(&(Side::Local, id))
                })
    }

    /// Our balance and theirs on our current commitment, HTLCs aside.
    pub fn balances(&self) -> (Msat, Msat) {
        let v = self.ledger.view_of(&self.ledger.local);
        (v.local, v.remote)
    }

    /// The HTLCs of our current commitment.
    pub fn htlcs(&self) -> Vec<HtlcEntry> {
        self.ledger
            .view_of(&self.ledger.local)
            .htlcs
            .into_values()
            .collect()
    }

    /// `channel_id` as BOLT 2 derives it once funded, else the temporary one.
    pub fn funding_txid(&self) -> Option<Txid> {
        self.funding_outpoint.map(|o| o.txid)
    }
}

/// How a channel's `failure` starts when the peer's `error` failed it.
const PEER_ERROR: &str = "the peer sent an error";

/// A random-looking but deterministic id from bytes (the driver supplies the randomness).
pub fn temporary_id(entropy: [u8; 32]) -> ChannelId {
    ChannelId(bitcoin::hashes::sha256::Hash::hash(&entropy).to_byte_array())
}
