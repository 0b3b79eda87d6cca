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

pub mod ledger;
pub mod msgs;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa, PublicKey, SecretKey};
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, Txid};
use serde::{Deserialize, Serialize};

use crate::amount::Msat;
use crate::keys::PerCommitmentPoint;
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::script::funding_script;
use crate::shachain::{self, CommitmentNumber, Index};
use crate::signer::ChannelSigner;
use crate::tx::close::{self, ClosingParams, SimpleCloseVariant};
use crate::tx::commitment::{
    build_commitment, commitment_cost, is_trimmed, obscuring_factor, ChannelType, CommitmentKeys,
    CommitmentParams, CommitmentTransaction, CounterpartyBasepoints, FeeratePerKw,
    HolderBasepoints, Htlc, HtlcDirection, Side, HTLC_OUTPUT_WEIGHT,
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
    },
    /// Fail an HTLC the peer offered.
    Fail {
        /// Its id.
        id: u64,
        /// The failure onion.
        reason: Vec<u8>,
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
    },
    /// An HTLC we offered is irrevocably resolved.
    HtlcResolved {
        /// Its id.
        id: u64,
        /// Its payment hash.
        payment_hash: PaymentHash,
        /// How.
        outcome: Outcome,
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
    /// Closing.
    pub shutdown: ShutdownState,
    /// Why it failed.
    pub failure: Option<String>,
    /// HTLCs the peer offered that are irrevocably committed and that we
    /// have not irrevocably removed: what a restarted node must still decide.
    pub incoming: std::collections::BTreeMap<u64, Box<UpdateAddHtlc>>,
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
    let bits = crate::wire::features::bits(bytes);
    match bits.as_slice() {
        [12] => Some(ChannelType::StaticRemotekey),
        [12, 22] => Some(ChannelType::AnchorsZeroFeeHtlcTx),
        _ => None,
    }
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
    fn params(
        signer: &ChannelSigner,
        config: &Config,
        reserve: Amount,
        max_in_flight: Msat,
        channel_type: ChannelType,
    ) -> ChannelParams {
        ChannelParams {
            dust_limit: config.dust_limit,
            max_htlc_value_in_flight: max_in_flight,
            channel_reserve: reserve,
            htlc_minimum: config.htlc_minimum,
            to_self_delay: config.to_self_delay,
            max_accepted_htlcs: config.max_accepted_htlcs,
            pubkeys: signer.pubkeys(),
            first_per_commitment_point: signer.per_commitment_point(CommitmentNumber(0)).0,
            upfront_shutdown_script: ScriptBuf::new(),
            channel_type: Some(channel_type_bits(channel_type)),
        }
    }

    /// A channel as `open_channel` defines it, before anything happened.
    /// `their_point` is the peer's first per-commitment point when known.
    fn skeleton(
        r: OpenRequest,
        opener: Side,
        ours: ChannelParams,
        their_point: PublicKey,
    ) -> Channel {
        let funding = Msat::from_sat(r.funding).expect("funding fits in msat");
        let opener_balance = Msat(funding.0 - r.push.0);
        let (local, remote) = match opener {
            Side::Local => (opener_balance, r.push),
            Side::Remote => (r.push, opener_balance),
        };
        Channel {
            id: r.temporary_id,
            temporary_id: r.temporary_id,
            key_index: r.key_index,
            peer: r.peer,
            opener,
            phase: match opener {
                Side::Local => Phase::AwaitingAccept,
                Side::Remote => Phase::AwaitingFundingCreated,
            },
            chain_hash: r.chain_hash,
            channel_type: r.channel_type,
            announce: r.announce,
            funding_amount: r.funding,
            push: r.push,
            funding_outpoint: None,
            funding_tx: None,
            minimum_depth: r.config.minimum_depth,
            config: r.config,
            ours,
            theirs: None,
            negotiated: r.negotiated,
            ledger: Ledger::new(opener, local, remote, r.feerate),
            their_points: (their_point, None),
            local_signatures: None,
            their_secrets: shachain::Store::new(),
            last_sent: None,
            scid: None,
            our_alias: None,
            their_alias: None,
            ready_sent: false,
            their_ready: false,
            live: true,
            holding: vec![],
            shutdown: ShutdownState::default(),
            failure: None,
            incoming: Default::default(),
        }
    }

    /// Open a channel: the new channel and its `open_channel`.
    pub fn open(signer: &ChannelSigner, r: OpenRequest) -> (Channel, Vec<Action>) {
        let reserve = r.config.reserve(r.funding, Amount::ZERO);
        let max_in_flight = Msat::from_sat(r.funding).expect("funding fits in msat");
        let ours = Self::params(signer, &r.config, reserve, max_in_flight, r.channel_type);
        let open = OpenChannel {
            chain_hash: r.chain_hash,
            temporary_channel_id: r.temporary_id,
            funding: r.funding,
            push: r.push,
            feerate: r.feerate,
            channel_flags: u8::from(r.announce),
            params: ours.clone(),
        };
        let ch = Channel::skeleton(r, Side::Local, ours, signer.funding_pubkey());
        (ch, vec![Action::Send(ChannelMessage::Open(Box::new(open)))])
    }

    /// Accept a peer's `open_channel`: the channel and its `accept_channel`,
    /// or the `error` that refuses it (BOLT 2 "The open_channel Message").
    pub fn accept(
        signer: &ChannelSigner,
        peer: PublicKey,
        key_index: u64,
        our_chain: BlockHash,
        open: &OpenChannel,
        negotiated: Negotiated,
        config: Config,
    ) -> Result<(Channel, Vec<Action>), Refusal> {
        let refuse = |reason: String| Refusal {
            temporary_channel_id: open.temporary_channel_id,
            reason,
        };
        let p = &open.params;
        let channel_type = match &p.channel_type {
            None => return Err(refuse("open_channel: channel_type is required".into())),
            Some(bits) => match channel_type_from_bits(bits) {
                Some(ChannelType::AnchorsZeroFeeHtlcTx) if !negotiated.anchors => {
                    return Err(refuse(
                        "open_channel: channel_type anchors was not negotiated".into(),
                    ))
                }
                Some(t) => t,
                None => {
                    return Err(refuse(format!(
                        "open_channel: channel_type {} is not one we support",
                        hex::encode(bits)
                    )))
                }
            },
        };
        let funding_msat =
            Msat::from_sat(open.funding).ok_or_else(|| refuse("funding overflows".into()))?;
        let (lo, hi) = config.feerate_bounds;
        let checks: [(bool, String); 10] = [
            (open.chain_hash != our_chain, "open_channel: chain_hash is not our chain".into()),
            (open.push > funding_msat, "open_channel: push_msat is above funding_satoshis * 1000".into()),
            (open.funding > MAX_FUNDING, "open_channel: funding_satoshis must be below 2^24 without option_support_large_channel".into()),
            (p.to_self_delay > config.max_to_self_delay, format!("open_channel: to_self_delay {} is above our maximum {}", p.to_self_delay, config.max_to_self_delay)),
            (p.max_accepted_htlcs > MAX_ACCEPTED_HTLCS, "open_channel: max_accepted_htlcs is above 483".into()),
            (open.feerate < lo || open.feerate > hi, format!("open_channel: feerate_per_kw {} is outside {}..={}", open.feerate.0, lo.0, hi.0)),
            (p.dust_limit > p.channel_reserve, "open_channel: dust_limit_satoshis is above channel_reserve_satoshis".into()),
            (p.dust_limit < MIN_DUST_LIMIT, "open_channel: dust_limit_satoshis is below 354".into()),
            (p.channel_reserve < config.dust_limit, "open_channel: channel_reserve_satoshis is below our dust_limit_satoshis".into()),
            (p.max_accepted_htlcs == 0, "open_channel: max_accepted_htlcs is 0".into()),
        ];
        if let Some((_, text)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(refuse(text.clone()));
        }
        let our_reserve = config.reserve(open.funding, p.dust_limit);
        let ours = Self::params(signer, &config, our_reserve, funding_msat, channel_type);
        let request = OpenRequest {
            peer,
            chain_hash: open.chain_hash,
            temporary_id: open.temporary_channel_id,
            key_index,
            funding: open.funding,
            push: open.push,
            feerate: open.feerate,
            channel_type,
            announce: open.channel_flags & 1 == 1,
            negotiated,
            config,
        };
        let mut ch = Channel::skeleton(
            request,
            Side::Remote,
            ours.clone(),
            p.first_per_commitment_point,
        );
        ch.theirs = Some(p.clone());
        // BOLT 2: the funder must afford the first commitment's fee, and one
        // side must have more than the reserve.
        let view = ch.ledger.view(0, 0);
        if let Err(v) = ch.check_affordable(&view, Side::Remote) {
            return Err(refuse(format!("open_channel: {}", v.text)));
        }
        let reserve_sat = |m: Msat| m.to_sat_floor();
        if reserve_sat(view.local) <= p.channel_reserve && reserve_sat(view.remote) <= our_reserve {
            return Err(refuse(
                "open_channel: both balances are at or below the reserves".into(),
            ));
        }
        let accept = AcceptChannel {
            temporary_channel_id: open.temporary_channel_id,
            minimum_depth: ch.minimum_depth,
            params: ours,
        };
        ch.phase = Phase::AwaitingFundingCreated;
        Ok((
            ch,
            vec![Action::Send(ChannelMessage::Accept(Box::new(accept)))],
        ))
    }

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
        let htlcs = Self::htlcs_of(view, holder);
        let params = self.params_for(view, holder, number, point, &htlcs)?;
        let commitment = build_commitment(&params).map_err(|e| e.to_string())?;
        Ok(Built { commitment, htlcs })
    }

    /// Sign their commitment `c`: `commitment_signed`.
    fn sign_remote(
        &self,
        signer: &ChannelSigner,
        c: &Commit,
        point: PublicKey,
    ) -> Result<ChannelMessage, String> {
        let view = self.ledger.view_of(c);
        let built = self.build(&view, Side::Remote, c.number, PerCommitmentPoint(point))?;
        let signature = signer.sign_funding_spend(
            &built.commitment.tx,
            &self.funding_script(),
            self.funding_amount,
        );
        let params = self.params_for(
            &view,
            Side::Remote,
            c.number,
            PerCommitmentPoint(point),
            &built.htlcs,
        )?;
        let htlc_signatures = signer.sign_counterparty_htlcs(&built.commitment, &params);
        Ok(ChannelMessage::CommitmentSigned {
            channel_id: self.id,
            signature,
            htlc_signatures,
        })
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
        let theirs = self.theirs();
        let (h, c) = match holder {
            Side::Local => (&self.ours, theirs),
            Side::Remote => (theirs, &self.ours),
        };
        let keys = CommitmentKeys::derive(
            &bitcoin::secp256k1::Secp256k1::verification_only(),
            &point,
            &HolderBasepoints {
                delayed_payment: h.pubkeys.delayed_payment_basepoint(),
                htlc: h.pubkeys.htlc_basepoint(),
            },
            &CounterpartyBasepoints {
                revocation: c.pubkeys.revocation_basepoint(),
                payment: c.pubkeys.payment_basepoint(),
                htlc: c.pubkeys.htlc_basepoint(),
            },
            self.channel_type,
        )
        .map_err(|e| e.to_string())?;
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
        let built = self
            .build(&view, Side::Local, c.number, point)
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
            .params_for(&view, Side::Local, c.number, point, &built.htlcs)
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
                    if let (Event::Connected, Phase::Failed) = (&event, &self.phase) {
                        // BOLT 2: a channel in an error state retransmits its error.
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
            Event::Fulfill { id, preimage } => {
                let h = self.removable_incoming(id)?;
                if preimage.payment_hash() != h.payment_hash {
                    return Err(CommandError::WrongPreimage(id));
                }
                Ok(self.push_update(Update::Fulfill { id, preimage }))
            }
            Event::Fail { id, reason } => {
                self.removable_incoming(id)?;
                Ok(self.push_update(Update::Fail { id, reason }))
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

    /// An incoming HTLC we may fulfil or fail now: irrevocably committed,
    /// with no removal of ours sent or held.
    fn removable_incoming(&self, id: u64) -> Result<&HtlcEntry, CommandError> {
        let held = self.holding.iter().any(|u| u.removes() == Some(id));
        self.ledger
            .removable(Side::Remote, id)
            .filter(|_| !held)
            .ok_or(CommandError::UnknownHtlc(id))
    }

    /// Offer an HTLC: its id and the actions (none are sent until the next commit).
    pub fn add_htlc(
        &mut self,
        amount: Msat,
        payment_hash: PaymentHash,
        cltv_expiry: CltvExpiry,
        onion: Vec<u8>,
    ) -> Result<(u64, Vec<Action>), CommandError> {
        if self.phase != Phase::Normal {
            return Err(CommandError::Phase(self.phase.name()));
        }
        if self.shutdown.ours.is_some() || self.shutdown.theirs.is_some() {
            return Err(CommandError::Phase("shutting down"));
        }
        if !self.live {
            return Err(CommandError::Disconnected);
        }
        if cltv_expiry.0 > CltvExpiry::MAX_HEIGHT {
            return Err(CommandError::BadCltv(cltv_expiry.0));
        }
        let theirs = self.theirs();
        if amount < theirs.htlc_minimum || amount == Msat::ZERO {
            return Err(CommandError::BelowMinimum {
                amount: amount.0,
                minimum: theirs.htlc_minimum.0.max(1),
            });
        }
        let view = self
            .ledger
            .view(self.ledger.ours.end(), self.ledger.local.theirs);
        if view.offered_by(Side::Local).count() >= theirs.max_accepted_htlcs as usize {
            return Err(CommandError::TooManyHtlcs(theirs.max_accepted_htlcs));
        }
        let capacity = self.spendable();
        if amount > capacity {
            return Err(CommandError::Capacity {
                amount: amount.0,
                capacity: capacity.0,
            });
        }
        let id = self.ledger.next_htlc_id;
        let add = UpdateAddHtlc {
            channel_id: self.id,
            id,
            amount,
            payment_hash,
            cltv_expiry,
            onion,
            path_key: None,
        };
        // BOLT 2 max_dust_htlc_exposure_msat: refuse to offer what would be lost to miners beyond it.
        let mut with = view.clone();
        with.local = Msat(with.local.0.saturating_sub(amount.0));
        with.htlcs.insert(
            (Side::Local, id),
            HtlcEntry {
                offerer: Side::Local,
                id,
                amount,
                payment_hash,
                cltv_expiry,
            },
        );
        for holder in [Side::Local, Side::Remote] {
            let exposure = self.dust_exposure(&with, holder);
            if exposure > self.config.max_dust_htlc_exposure {
                return Err(CommandError::DustExposure {
                    exposure: exposure.0,
                    limit: self.config.max_dust_htlc_exposure.0,
                });
            }
        }
        self.ledger.next_htlc_id += 1;
        Ok((id, self.push_update(Update::Add(Box::new(add)))))
    }

    fn update_fee(&mut self, feerate: FeeratePerKw) -> Result<Vec<Action>, CommandError> {
        if self.opener != Side::Local {
            return Err(CommandError::NotOpener);
        }
        if self.phase != Phase::Normal && self.phase != Phase::ShuttingDown {
            return Err(CommandError::Phase(self.phase.name()));
        }
        let mut view = self
            .ledger
            .view(self.ledger.ours.end(), self.ledger.local.theirs);
        view.feerate = feerate;
        if self.check_affordable(&view, Side::Local).is_err() {
            return Err(CommandError::Unaffordable(feerate.0));
        }
        Ok(self.push_update(Update::Fee(feerate)))
    }

    /// Append one of our updates to our log and send it (when connected).
    fn push_update(&mut self, u: Update) -> Vec<Action> {
        if !self.live {
            self.holding.push(u);
            return vec![Action::Persist];
        }
        let msg = self.update_message(&u);
        self.ledger.ours.entries.push_back(u);
        // Stored before it leaves: after a crash the update is still ours to
        // sign or, unsigned, to send again after reestablish.
        vec![Action::Persist, Action::Send(msg)]
    }

    fn update_message(&self, u: &Update) -> ChannelMessage {
        let channel_id = self.id;
        match u.clone() {
            Update::Add(a) => ChannelMessage::AddHtlc(UpdateAddHtlc { channel_id, ..*a }),
            Update::Fulfill { id, preimage } => ChannelMessage::Fulfill {
                channel_id,
                id,
                preimage,
            },
            Update::Fail { id, reason } => ChannelMessage::Fail {
                channel_id,
                id,
                reason,
            },
            Update::FailMalformed {
                id,
                sha256_of_onion,
                failure_code,
            } => ChannelMessage::FailMalformed {
                channel_id,
                id,
                sha256_of_onion,
                failure_code,
            },
            Update::Fee(feerate) => ChannelMessage::UpdateFee {
                channel_id,
                feerate,
            },
        }
    }

    /// Whether a `commitment_signed` of ours is due (the batching window decides when).
    pub fn needs_commit(&self) -> bool {
        self.live
            && self.ledger.next_remote().is_some()
            && self.theirs.is_some()
            && self.funding_outpoint.is_some()
    }

    /// Sign every pending update into their next commitment.
    fn commit(&mut self, signer: &ChannelSigner) -> Vec<Action> {
        if !self.needs_commit() {
            return vec![];
        }
        let next = self.ledger.next_remote().expect("checked");
        let Some(point) = self.their_points.1 else {
            return vec![];
        };
        match self.sign_remote(signer, &next, point) {
            Ok(msg) => {
                self.ledger.remote_next = Some(next);
                self.last_sent = Some(LastSent::CommitmentSigned);
                vec![Action::Persist, Action::Send(msg)]
            }
            Err(e) => self.fail_channel(
                signer,
                format!("cannot build the peer's commitment: {e}"),
                true,
            ),
        }
    }

    fn on_funding_built(
        &mut self,
        signer: &ChannelSigner,
        tx: Transaction,
        output_index: u16,
    ) -> Result<Vec<Action>, CommandError> {
        if self.phase != Phase::AwaitingFundingTx {
            return Err(CommandError::Phase(self.phase.name()));
        }
        let ok = tx.output.get(output_index as usize).is_some_and(|o| {
            o.value == self.funding_amount && o.script_pubkey == self.funding_script().to_p2wsh()
        });
        if !ok {
            return Err(CommandError::BadFunding {
                index: output_index,
                amount: self.funding_amount,
            });
        }
        let txid = tx.compute_txid();
        self.funding_outpoint = Some(OutPoint::new(txid, u32::from(output_index)));
        let c = self.ledger.remote;
        let sig = match self.sign_remote(signer, &c, self.their_points.0) {
            Ok(ChannelMessage::CommitmentSigned { signature, .. }) => signature,
            Ok(_) => unreachable!("sign_remote gives commitment_signed"),
            Err(e) => {
                return Ok(self.fail_channel(
                    signer,
                    format!("cannot build the first commitment: {e}"),
                    true,
                ))
            }
        };
        self.funding_tx = Some(tx);
        self.phase = Phase::AwaitingFundingSigned;
        // BOLT 2: funding_signed introduces the channel_id; both sides know it from here.
        self.id = ChannelId::from_funding(&txid, output_index);
        Ok(vec![
            Action::Persist,
            Action::Send(ChannelMessage::FundingCreated {
                temporary_channel_id: self.temporary_id,
                funding_txid: txid,
                funding_output_index: output_index,
                signature: sig,
            }),
        ])
    }

    fn on_depth(
        &mut self,
        signer: &ChannelSigner,
        confirmations: u32,
        scid: Option<u64>,
    ) -> Vec<Action> {
        if scid.is_some() {
            self.scid = scid;
        }
        if self.phase != Phase::AwaitingReady
            || self.ready_sent
            || confirmations < self.minimum_depth.max(1)
        {
            return vec![];
        }
        self.ready_sent = true;
        let mut out = vec![Action::Persist];
        if self.live {
            out.push(Action::Send(self.ready_message(signer)));
        }
        out.extend(self.maybe_normal());
        out
    }

    fn ready_message(&self, signer: &ChannelSigner) -> ChannelMessage {
        ChannelMessage::Ready {
            channel_id: self.id,
            second_per_commitment_point: signer.per_commitment_point(CommitmentNumber(1)).0,
            alias: self.our_alias,
        }
    }

    fn maybe_normal(&mut self) -> Vec<Action> {
        if self.phase == Phase::AwaitingReady && self.ready_sent && self.their_ready {
            self.phase = Phase::Normal;
            return vec![Action::Persist, Action::Ready];
        }
        vec![]
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
            return Ok(self.fail_channel(signer, format!("the peer sent an error: {text}"), false));
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
            ChannelMessage::Fulfill { id, preimage, .. } => {
                let h = self.their_removal_target(id, "update_fulfill_htlc")?;
                if preimage.payment_hash() != h.payment_hash {
                    return Err(fail(format!("update_fulfill_htlc: payment_preimage does not hash to HTLC {id}'s payment_hash")));
                }
                self.ledger
                    .theirs
                    .entries
                    .push_back(Update::Fulfill { id, preimage });
                Ok(vec![Action::PreimageLearned { id, preimage }])
            }
            ChannelMessage::Fail { id, reason, .. } => {
                self.their_removal_target(id, "update_fail_htlc")?;
                self.ledger
                    .theirs
                    .entries
                    .push_back(Update::Fail { id, reason });
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

    fn on_accept(&mut self, a: AcceptChannel) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::AwaitingAccept {
            return Err(warn("unexpected accept_channel"));
        }
        let p = &a.params;
        match &p.channel_type {
            None => return Err(fail("accept_channel: channel_type is required")),
            Some(t) if channel_type_from_bits(t) != Some(self.channel_type) => {
                return Err(fail(
                    "accept_channel: channel_type does not match open_channel's",
                ))
            }
            _ => {}
        }
        let checks: [(bool, String); 7] = [
            (
                p.channel_reserve < self.ours.dust_limit,
                "accept_channel: channel_reserve_satoshis is below our dust_limit_satoshis".into(),
            ),
            (
                self.ours.channel_reserve < p.dust_limit,
                "accept_channel: our channel_reserve_satoshis is below its dust_limit_satoshis"
                    .into(),
            ),
            (
                a.minimum_depth > self.config.max_minimum_depth,
                format!(
                    "accept_channel: minimum_depth {} is above our maximum {}",
                    a.minimum_depth, self.config.max_minimum_depth
                ),
            ),
            (
                p.to_self_delay > self.config.max_to_self_delay,
                format!(
                    "accept_channel: to_self_delay {} is above our maximum",
                    p.to_self_delay
                ),
            ),
            (
                p.max_accepted_htlcs > MAX_ACCEPTED_HTLCS,
                "accept_channel: max_accepted_htlcs is above 483".into(),
            ),
            (
                p.dust_limit < MIN_DUST_LIMIT,
                "accept_channel: dust_limit_satoshis is below 354".into(),
            ),
            (
                p.dust_limit > p.channel_reserve,
                "accept_channel: dust_limit_satoshis is above channel_reserve_satoshis".into(),
            ),
        ];
        if let Some((_, text)) = checks.into_iter().find(|(bad, _)| *bad) {
            return Err(fail(text));
        }
        self.minimum_depth = a.minimum_depth;
        self.their_points.0 = p.first_per_commitment_point;
        self.theirs = Some(a.params);
        self.phase = Phase::AwaitingFundingTx;
        Ok(vec![Action::BuildFunding {
            script: self.funding_script().to_p2wsh(),
            amount: self.funding_amount,
        }])
    }

    fn on_funding_created(
        &mut self,
        signer: &ChannelSigner,
        txid: Txid,
        index: u16,
        sig: ecdsa::Signature,
    ) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::AwaitingFundingCreated {
            return Err(warn("unexpected funding_created"));
        }
        self.funding_outpoint = Some(OutPoint::new(txid, u32::from(index)));
        let c = self.ledger.local;
        self.verify_local(signer, &c, &sig, &[])
            .map_err(|v| fail(v.text.replace("commitment_signed", "funding_created")))?;
        self.local_signatures = Some((sig, vec![]));
        self.id = ChannelId::from_funding(&txid, index);
        let remote = self.ledger.remote;
        let signature = match self
            .sign_remote(signer, &remote, self.their_points.0)
            .map_err(fail)?
        {
            ChannelMessage::CommitmentSigned { signature, .. } => signature,
            _ => unreachable!("sign_remote gives commitment_signed"),
        };
        self.phase = Phase::AwaitingReady;
        // BOLT 2: the accepter must remember the channel once funding_signed is sent.
        Ok(vec![
            Action::Persist,
            Action::Send(ChannelMessage::FundingSigned {
                channel_id: self.id,
                signature,
            }),
        ])
    }

    fn on_funding_signed(
        &mut self,
        signer: &ChannelSigner,
        sig: ecdsa::Signature,
    ) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::AwaitingFundingSigned {
            return Err(warn("unexpected funding_signed"));
        }
        let c = self.ledger.local;
        self.verify_local(signer, &c, &sig, &[])
            .map_err(|v| fail(v.text.replace("commitment_signed", "funding_signed")))?;
        self.local_signatures = Some((sig, vec![]));
        self.phase = Phase::AwaitingReady;
        let tx = self.funding_tx.clone().expect("kept until funding_signed");
        // Persist first: the channel must survive before the funding can confirm.
        Ok(vec![Action::Persist, Action::Broadcast(tx)])
    }

    fn on_add(&mut self, a: UpdateAddHtlc) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::Normal {
            return Err(fail(format!(
                "update_add_htlc in phase {}",
                self.phase.name()
            )));
        }
        if self.shutdown.theirs.is_some() {
            return Err(fail("update_add_htlc after shutdown"));
        }
        if a.amount == Msat::ZERO || a.amount < self.ours.htlc_minimum {
            return Err(fail(format!(
                "update_add_htlc: amount_msat {} is below our htlc_minimum_msat {}",
                a.amount.0,
                self.ours.htlc_minimum.0.max(1)
            )));
        }
        if a.cltv_expiry.0 > CltvExpiry::MAX_HEIGHT {
            return Err(fail("update_add_htlc: cltv_expiry is not below 500000000"));
        }
        if a.id != self.ledger.their_next_htlc_id {
            return Err(fail(format!(
                "update_add_htlc: id {} but {} was next",
                a.id, self.ledger.their_next_htlc_id
            )));
        }
        if a.onion.len() != 1366 {
            return Err(fail(
                "update_add_htlc: onion_routing_packet is not 1366 bytes",
            ));
        }
        self.ledger
            .theirs
            .entries
            .push_back(Update::Add(Box::new(a.clone())));
        self.ledger.their_next_htlc_id += 1;
        let view = self.ledger.view_of(&self.ledger.next_local());
        let offered: Vec<_> = view.offered_by(Side::Remote).collect();
        if offered.len() > self.ours.max_accepted_htlcs as usize {
            return Err(fail(format!(
                "update_add_htlc: more than our max_accepted_htlcs of {}",
                self.ours.max_accepted_htlcs
            )));
        }
        let in_flight: Msat = offered.iter().map(|h| h.amount).sum();
        if in_flight > self.ours.max_htlc_value_in_flight {
            return Err(fail(format!("update_add_htlc: {} msat in flight is above our max_htlc_value_in_flight_msat of {}", in_flight.0, self.ours.max_htlc_value_in_flight.0)));
        }
        self.check_affordable(&view, Side::Remote)
            .map_err(|v| fail(format!("update_add_htlc: {}", v.text)))?;
        Ok(vec![])
    }

    /// The HTLC of ours a removal from the peer names; BOLT 2 allows removing
    /// only what is irrevocably committed.
    fn their_removal_target(&self, id: u64, what: &str) -> Result<HtlcEntry, Violation> {
        if !matches!(self.phase, Phase::Normal | Phase::ShuttingDown) {
            return Err(fail(format!("{what} in phase {}", self.phase.name())));
        }
        self.ledger
            .removable(Side::Local, id)
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "{what}: id {id} is not an HTLC of ours irrevocably committed and unresolved"
                ))
            })
    }

    fn on_commitment_signed(
        &mut self,
        signer: &ChannelSigner,
        sig: ecdsa::Signature,
        htlc_sigs: Vec<ecdsa::Signature>,
    ) -> Result<Vec<Action>, Violation> {
        if !matches!(self.phase, Phase::Normal | Phase::ShuttingDown) {
            return Err(fail(format!(
                "commitment_signed in phase {}",
                self.phase.name()
            )));
        }
        let next = self.ledger.next_local();
        self.verify_local(signer, &next, &sig, &htlc_sigs)?;
        self.ledger.local = next;
        self.local_signatures = Some((sig, htlc_sigs));
        // BOLT 2 revoke_and_ack: reveal the previous commitment's secret and the point after the new one.
        let raa = self.revoke_message(signer);
        self.last_sent = Some(LastSent::RevokeAndAck);
        let mut out = vec![Action::Persist, Action::Send(raa)];
        out.extend(self.after_fold());
        Ok(out)
    }

    fn revoke_message(&self, signer: &ChannelSigner) -> ChannelMessage {
        let n = self.ledger.local.number;
        ChannelMessage::RevokeAndAck {
            channel_id: self.id,
            per_commitment_secret: signer
                .per_commitment_secret(CommitmentNumber(n - 1))
                .secret_bytes(),
            next_per_commitment_point: signer.per_commitment_point(CommitmentNumber(n + 1)).0,
        }
    }

    fn on_revoke(
        &mut self,
        signer: &ChannelSigner,
        secret: [u8; 32],
        next_point: PublicKey,
    ) -> Result<Vec<Action>, Violation> {
        let Some(next) = self.ledger.remote_next else {
            return Err(fail("revoke_and_ack without a commitment_signed to answer"));
        };
        let key = SecretKey::from_slice(&secret)
            .map_err(|_| fail("revoke_and_ack: per_commitment_secret is not a valid secret key"))?;
        if key.public_key(signer.secp()) != self.their_points.0 {
            return Err(fail(format!(
                "revoke_and_ack: per_commitment_secret does not match the point of commitment {}",
                self.ledger.remote.number
            )));
        }
        let index = Index::from_commitment_number(CommitmentNumber(self.ledger.remote.number))
            .map_err(|e| fail(e.to_string()))?;
        self.their_secrets.insert(index, secret).map_err(|e| {
            fail(format!(
                "revoke_and_ack: per_commitment_secret breaks the shachain: {e}"
            ))
        })?;
        self.ledger.remote = next;
        self.ledger.remote_next = None;
        self.their_points = (
            self.their_points.1.expect("set when we signed"),
            Some(next_point),
        );
        let mut out = vec![Action::Persist];
        out.extend(self.after_fold());
        if let Some(script) = self.shutdown.ours.clone().filter(|_| !self.shutdown.sent) {
            out.extend(self.send_shutdown_when_clean(signer, script));
        }
        out.extend(self.maybe_negotiate(signer));
        Ok(out)
    }

    /// Fold what became irrevocable and report it.
    fn after_fold(&mut self) -> Vec<Action> {
        let folded = self.ledger.fold();
        let mut out = vec![];
        for u in folded.theirs {
            if let Update::Add(a) = u {
                self.incoming.insert(a.id, a.clone());
                out.push(Action::HtlcReceived(a));
            }
        }
        for (remover, h, u) in folded.removed {
            if remover != Side::Remote {
                self.incoming.remove(&h.id);
                continue;
            }
            let outcome = match u {
                Update::Fulfill { preimage, .. } => Outcome::Fulfilled(preimage),
                Update::Fail { reason, .. } => Outcome::Failed(reason),
                Update::FailMalformed {
                    sha256_of_onion,
                    failure_code,
                    ..
                } => Outcome::Malformed {
                    failure_code,
                    sha256_of_onion,
                },
                _ => continue,
            };
            out.push(Action::HtlcResolved {
                id: h.id,
                payment_hash: h.payment_hash,
                outcome,
            });
        }
        out
    }

    fn start_shutdown(
        &mut self,
        signer: &ChannelSigner,
        script: ScriptBuf,
        feerate: FeeratePerKw,
    ) -> Result<Vec<Action>, CommandError> {
        if !matches!(
            self.phase,
            Phase::Normal | Phase::AwaitingReady | Phase::ShuttingDown
        ) {
            return Err(CommandError::Phase(self.phase.name()));
        }
        if !shutdown_script_allowed(&script, &self.negotiated) {
            return Err(CommandError::BadScript);
        }
        if self.shutdown.ours.is_some() {
            return Ok(vec![]);
        }
        self.shutdown.ours = Some(script.clone());
        self.shutdown.feerate = Some(feerate);
        self.phase = Phase::ShuttingDown;
        let mut out = vec![Action::Persist];
        if self.live {
            out.extend(self.send_shutdown_when_clean(signer, script));
        }
        Ok(out)
    }

    /// BOLT 2: no `shutdown` while updates of ours wait for the peer's
    /// commitment; sign them first.
    fn send_shutdown_when_clean(
        &mut self,
        signer: &ChannelSigner,
        script: ScriptBuf,
    ) -> Vec<Action> {
        let mut out = vec![];
        if self.ledger.ours.end() > self.ledger.remote_latest().ours {
            if self.ledger.remote_next.is_some() {
                return out; // after the revoke_and_ack
            }
            out.extend(self.commit(signer));
        }
        self.shutdown.sent = true;
        out.push(Action::Persist);
        out.push(Action::Send(ChannelMessage::Shutdown {
            channel_id: self.id,
            script,
        }));
        out.extend(self.maybe_negotiate(signer));
        out
    }

    fn on_shutdown(
        &mut self,
        signer: &ChannelSigner,
        script: ScriptBuf,
    ) -> Result<Vec<Action>, Violation> {
        if !matches!(
            self.phase,
            Phase::Normal | Phase::AwaitingReady | Phase::ShuttingDown | Phase::Negotiating
        ) {
            return Err(fail(format!("shutdown in phase {}", self.phase.name())));
        }
        if !shutdown_script_allowed(&script, &self.negotiated) {
            return Err(warn("shutdown: scriptpubkey is not a form BOLT 2 allows"));
        }
        if self.shutdown.theirs.as_ref().is_some_and(|s| *s != script)
            && !self.negotiated.simple_close
        {
            return Err(fail("shutdown: a second shutdown with another script"));
        }
        self.shutdown.theirs = Some(script);
        if self.phase != Phase::Negotiating {
            self.phase = Phase::ShuttingDown;
        }
        let mut out = vec![Action::Persist];
        // BOLT 2: reply with our own shutdown (to our wallet's script, chosen by the driver).
        if self.shutdown.ours.is_none() {
            return Ok(out);
        }
        if !self.shutdown.sent {
            let script = self.shutdown.ours.clone().expect("checked");
            out.extend(self.send_shutdown_when_clean(signer, script));
        } else {
            out.extend(self.maybe_negotiate(signer));
        }
        Ok(out)
    }

    /// Whether the peer's shutdown is waiting for our script.
    pub fn needs_shutdown_script(&self) -> bool {
        self.shutdown.theirs.is_some() && self.shutdown.ours.is_none()
    }

    fn closing_params(&self, fee: Amount) -> ClosingParams {
        let view = self.ledger.view_of(&self.ledger.local);
        ClosingParams {
            funding_outpoint: self.funding_outpoint.expect("funded"),
            funding_amount: self.funding_amount,
            local_script: self.shutdown.ours.clone().expect("both shutdowns"),
            remote_script: self.shutdown.theirs.clone().expect("both shutdowns"),
            local_balance: view.local,
            remote_balance: view.remote,
            fee,
            opener: self.opener,
            dust_limit: self.ours.dust_limit,
        }
    }

    fn closing_fee(&self, feerate: FeeratePerKw) -> Amount {
        let p = self.closing_params(Amount::ZERO);
        close::fee_at_feerate(
            &p,
            (&self.ours.pubkeys.funding, &self.theirs().pubkeys.funding),
            feerate,
        )
        .unwrap_or(Amount::ZERO)
    }

    /// Once both shutdowns are out and nothing is pending, start the fee negotiation.
    fn maybe_negotiate(&mut self, signer: &ChannelSigner) -> Vec<Action> {
        let ready = self.phase == Phase::ShuttingDown
            && self.shutdown.sent
            && self.shutdown.theirs.is_some()
            && !self.ledger.has_pending()
            && self.ledger.base.htlcs.is_empty()
            && self.live;
        if !ready {
            return vec![];
        }
        self.phase = Phase::Negotiating;
        let mut out = vec![Action::Persist];
        let Some(feerate) = self.shutdown.feerate else {
            return out;
        };
        if self.negotiated.simple_close {
            out.extend(self.send_closing_complete(signer, feerate));
        } else if self.opener == Side::Local {
            let fee = self.closing_fee(feerate);
            let balance = self.ledger.base.of(Side::Local).to_sat_floor();
            let fee = fee.min(balance);
            let range = (
                self.closing_fee(FeeratePerKw(253)).min(fee),
                balance.min(fee * 3).max(fee),
            );
            out.extend(self.send_closing_signed(signer, fee, Some(range)));
        }
        out
    }

    fn sign_closing(
        &self,
        signer: &ChannelSigner,
        fee: Amount,
        dust: Amount,
    ) -> Option<(Transaction, ecdsa::Signature)> {
        let p = ClosingParams {
            dust_limit: dust,
            ..self.closing_params(fee)
        };
        let tx = close::build_closing(&p).ok()?.tx;
        let sig = signer.sign_funding_spend(&tx, &self.funding_script(), self.funding_amount);
        Some((tx, sig))
    }

    fn send_closing_signed(
        &mut self,
        signer: &ChannelSigner,
        fee: Amount,
        range: Option<(Amount, Amount)>,
    ) -> Vec<Action> {
        let Some((_, signature)) = self.sign_closing(signer, fee, self.ours.dust_limit) else {
            return self.fail_channel(
                signer,
                format!("cannot build a closing transaction with fee {fee}"),
                true,
            );
        };
        let (lo, hi) = range.unwrap_or((fee, fee));
        self.shutdown.last_sent_fee = Some((fee, lo, hi));
        vec![
            Action::Persist,
            Action::Send(ChannelMessage::ClosingSigned {
                channel_id: self.id,
                fee,
                signature,
                fee_range: range,
            }),
        ]
    }

    /// Their signature on the closing transaction at `fee`, under either side's dust limit.
    fn complete_closing(
        &mut self,
        signer: &ChannelSigner,
        fee: Amount,
        their_sig: &ecdsa::Signature,
    ) -> Option<Transaction> {
        for dust in [self.ours.dust_limit, self.theirs().dust_limit] {
            let (mut tx, ours) = self.sign_closing(signer, fee, dust)?;
            let msg = funding_spend_sighash(&tx, &self.funding_script(), self.funding_amount);
            if signer
                .secp()
                .verify_ecdsa(&msg, their_sig, &self.theirs().pubkeys.funding)
                .is_ok()
            {
                tx.input[0].witness = funding_witness(
                    &self.funding_script(),
                    (&self.ours.pubkeys.funding, &ours),
                    (&self.theirs().pubkeys.funding, their_sig),
                );
                return Some(tx);
            }
        }
        None
    }

    fn on_closing_signed(
        &mut self,
        signer: &ChannelSigner,
        fee: Amount,
        sig: ecdsa::Signature,
        range: Option<(Amount, Amount)>,
    ) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::Negotiating || self.negotiated.simple_close {
            return Err(warn(format!(
                "closing_signed in phase {}",
                self.phase.name()
            )));
        }
        let Some(tx) = self.complete_closing(signer, fee, &sig) else {
            return Err(fail(
                "closing_signed: signature is not valid for the closing transaction",
            ));
        };
        let finish = |ch: &mut Channel, tx: Transaction, mut out: Vec<Action>| {
            ch.phase = Phase::Closed;
            ch.shutdown.closing_txs = vec![tx.clone()];
            out.extend([Action::Persist, Action::Broadcast(tx), Action::Closed]);
            Ok(out)
        };
        self.shutdown.last_received_fee = Some(fee);
        match self.shutdown.last_sent_fee {
            Some((sent, _, _)) if sent == fee => finish(self, tx, vec![]),
            Some((_, lo, hi)) if (lo..=hi).contains(&fee) => {
                // BOLT 2: the fee is in our range: reply with it and close.
                let reply = self.send_closing_signed(signer, fee, None);
                finish(self, tx, reply)
            }
            Some(_) => Err(fail(format!(
                "closing_signed: fee_satoshis {} is outside the fee_range we sent",
                fee.to_sat()
            ))),
            None => {
                // We are not the opener: pick a fee in the overlap of their range and ours.
                let ours_min = self.closing_fee(FeeratePerKw(253));
                let (their_lo, their_hi) = range.unwrap_or((fee, fee));
                let lo = ours_min.max(their_lo);
                if lo > their_hi {
                    return Err(warn(
                        "closing_signed: no overlap between our fee_range and the one received",
                    ));
                }
                if (lo..=their_hi).contains(&fee) {
                    let reply = self.send_closing_signed(signer, fee, Some((lo, their_hi)));
                    return finish(self, tx, reply);
                }
                let pick = fee.max(lo).min(their_hi);
                Ok(self.send_closing_signed(signer, pick, Some((lo, their_hi))))
            }
        }
    }

    fn simple_variant_for(&self, closer: Side, fee: Amount) -> SimpleCloseVariant {
        let view = &self.ledger.base;
        let closee_amount = view.of(closer.other()).to_sat_floor();
        let closer_amount = view
            .of(closer)
            .to_sat_floor()
            .checked_sub(fee)
            .unwrap_or(Amount::ZERO);
        let dust = self.ours.dust_limit.max(self.theirs().dust_limit);
        if closee_amount < dust {
            SimpleCloseVariant::CloserOnly
        } else if closer_amount < dust {
            SimpleCloseVariant::CloseeOnly
        } else {
            SimpleCloseVariant::Both
        }
    }

    fn simple_tx(
        &self,
        closer: Side,
        c: &SimpleClose,
        variant: SimpleCloseVariant,
    ) -> Result<Transaction, String> {
        let view = &self.ledger.base;
        close::build_simple_closing(
            self.funding_outpoint.expect("funded"),
            (&c.closer_script, view.of(closer)),
            (&c.closee_script, view.of(closer.other())),
            c.fee,
            c.locktime,
            variant,
        )
        .map_err(|e| e.to_string())
    }

    fn send_closing_complete(
        &mut self,
        signer: &ChannelSigner,
        feerate: FeeratePerKw,
    ) -> Vec<Action> {
        let balance = self.ledger.base.of(Side::Local).to_sat_floor();
        let fee = self.closing_fee(feerate).min(balance);
        let variant = self.simple_variant_for(Side::Local, fee);
        let mut c = SimpleClose {
            channel_id: self.id,
            closer_script: self.shutdown.ours.clone().expect("sent"),
            closee_script: self.shutdown.theirs.clone().expect("received"),
            fee,
            locktime: 0,
            closer_output_only: None,
            closee_output_only: None,
            both_outputs: None,
        };
        let sign = |v| {
            self.simple_tx(Side::Local, &c, v).ok().map(|tx| {
                signer.sign_funding_spend(&tx, &self.funding_script(), self.funding_amount)
            })
        };
        // BOLT 2: the closer signs the variants its balances call for.
        let (closer_only, closee_only, both) = match variant {
            SimpleCloseVariant::CloseeOnly => (None, sign(SimpleCloseVariant::CloseeOnly), None),
            SimpleCloseVariant::CloserOnly => (sign(SimpleCloseVariant::CloserOnly), None, None),
            SimpleCloseVariant::Both => (
                sign(SimpleCloseVariant::CloserOnly),
                None,
                sign(SimpleCloseVariant::Both),
            ),
        };
        c.closer_output_only = closer_only;
        c.closee_output_only = closee_only;
        c.both_outputs = both;
        if c.closer_output_only.is_none()
            && c.closee_output_only.is_none()
            && c.both_outputs.is_none()
        {
            return vec![];
        }
        self.shutdown.our_complete = Some((fee, variant));
        vec![
            Action::Persist,
            Action::Send(ChannelMessage::ClosingComplete(Box::new(c))),
        ]
    }

    fn on_closing_complete(
        &mut self,
        signer: &ChannelSigner,
        c: SimpleClose,
    ) -> Result<Vec<Action>, Violation> {
        if !self.negotiated.simple_close
            || !matches!(self.phase, Phase::Negotiating | Phase::Closed)
        {
            return Err(warn(format!(
                "closing_complete in phase {}",
                self.phase.name()
            )));
        }
        let theirs_balance = self.ledger.base.of(Side::Remote).to_sat_floor();
        if c.fee > theirs_balance {
            return Err(warn(
                "closing_complete: fee_satoshis is above the closer's balance",
            ));
        }
        if Some(&c.closee_script) != self.shutdown.ours.as_ref() {
            return Err(warn(
                "closing_complete: closee_scriptpubkey is not the script we sent",
            ));
        }
        if !shutdown_script_allowed(&c.closer_script, &self.negotiated) {
            return Err(warn(
                "closing_complete: closer_scriptpubkey is not a form BOLT 2 allows",
            ));
        }
        // BOLT 2: the closee picks the signature by its own output.
        let ours = self.ledger.base.of(Side::Local).to_sat_floor();
        let (variant, their_sig) = if ours < self.ours.dust_limit {
            (SimpleCloseVariant::CloserOnly, c.closer_output_only)
        } else if let Some(s) = c.both_outputs {
            (SimpleCloseVariant::Both, Some(s))
        } else {
            (SimpleCloseVariant::CloseeOnly, c.closee_output_only)
        };
        let their_sig = their_sig.ok_or_else(|| {
            warn("closing_complete: the signature our output calls for is missing")
        })?;
        let mut tx = self.simple_tx(Side::Remote, &c, variant).map_err(warn)?;
        let script = self.funding_script();
        let msg = funding_spend_sighash(&tx, &script, self.funding_amount);
        signer
            .secp()
            .verify_ecdsa(&msg, &their_sig, &self.theirs().pubkeys.funding)
            .map_err(|_| {
                warn("closing_complete: signature is not valid for the closing transaction")
            })?;
        let our_sig = signer.sign_funding_spend(&tx, &script, self.funding_amount);
        tx.input[0].witness = funding_witness(
            &script,
            (&self.ours.pubkeys.funding, &our_sig),
            (&self.theirs().pubkeys.funding, &their_sig),
        );
        self.shutdown.theirs = Some(c.closer_script.clone());
        self.shutdown.closing_txs.push(tx.clone());
        let mut reply = SimpleClose {
            closer_output_only: None,
            closee_output_only: None,
            both_outputs: None,
            ..c
        };
        match variant {
            SimpleCloseVariant::CloserOnly => reply.closer_output_only = Some(our_sig),
            SimpleCloseVariant::CloseeOnly => reply.closee_output_only = Some(our_sig),
            SimpleCloseVariant::Both => reply.both_outputs = Some(our_sig),
        }
        self.phase = Phase::Closed;
        Ok(vec![
            Action::Persist,
            Action::Send(ChannelMessage::ClosingSig(Box::new(reply))),
            Action::Broadcast(tx),
            Action::Closed,
        ])
    }

    fn on_closing_sig(
        &mut self,
        signer: &ChannelSigner,
        c: SimpleClose,
    ) -> Result<Vec<Action>, Violation> {
        let Some((fee, _)) = self.shutdown.our_complete else {
            return Err(warn("closing_sig without our closing_complete"));
        };
        if c.fee != fee
            || Some(&c.closer_script) != self.shutdown.ours.as_ref()
            || Some(&c.closee_script) != self.shutdown.theirs.as_ref()
            || c.locktime != 0
        {
            return Err(warn(
                "closing_sig: it does not match the closing_complete we sent",
            ));
        }
        let sigs = [
            (SimpleCloseVariant::CloserOnly, c.closer_output_only),
            (SimpleCloseVariant::CloseeOnly, c.closee_output_only),
            (SimpleCloseVariant::Both, c.both_outputs),
        ];
        let present: Vec<_> = sigs
            .iter()
            .filter_map(|(v, s)| s.map(|s| (*v, s)))
            .collect();
        let [(variant, their_sig)] = present.as_slice() else {
            return Err(warn("closing_sig: it must carry exactly one signature"));
        };
        let mut tx = self.simple_tx(Side::Local, &c, *variant).map_err(warn)?;
        let script = self.funding_script();
        let msg = funding_spend_sighash(&tx, &script, self.funding_amount);
        signer
            .secp()
            .verify_ecdsa(&msg, their_sig, &self.theirs().pubkeys.funding)
            .map_err(|_| warn("closing_sig: signature is not valid for the closing transaction"))?;
        let our_sig = signer.sign_funding_spend(&tx, &script, self.funding_amount);
        tx.input[0].witness = funding_witness(
            &script,
            (&self.ours.pubkeys.funding, &our_sig),
            (&self.theirs().pubkeys.funding, their_sig),
        );
        self.shutdown.our_complete = None;
        self.shutdown.closing_txs.push(tx.clone());
        self.phase = Phase::Closed;
        Ok(vec![Action::Persist, Action::Broadcast(tx), Action::Closed])
    }

    fn on_disconnect(&mut self) -> Vec<Action> {
        self.live = false;
        match self.phase {
            // BOLT 2: before the funding is signed, a channel is forgotten.
            Phase::AwaitingAccept | Phase::AwaitingFundingTx | Phase::AwaitingFundingCreated => {
                let reason = "disconnected before the funding was signed".to_string();
                self.phase = Phase::Failed;
                self.failure = Some(reason.clone());
                return vec![Action::Failed { reason }];
            }
            _ => {}
        }
        // BOLT 2: reverse the peer's updates it has not signed for; ours
        // that we have not signed are sent again after reestablish, with the
        // same ids (the adds dropped are the latest ids of each side).
        let adds = |u: &[Update]| u.iter().filter(|u| matches!(u, Update::Add(_))).count() as u64;
        let theirs = self.ledger.theirs.truncate(self.ledger.local.theirs);
        self.ledger.their_next_htlc_id -= adds(&theirs);
        let mut held = self.ledger.ours.truncate(self.ledger.remote_latest().ours);
        self.ledger.next_htlc_id -= adds(&held);
        held.append(&mut self.holding);
        self.holding = held;
        if self.phase == Phase::Negotiating {
            // BOLT 2: the closing negotiation restarts on reconnection.
            self.phase = Phase::ShuttingDown;
            self.shutdown.last_sent_fee = None;
            self.shutdown.last_received_fee = None;
            self.shutdown.our_complete = None;
        }
        vec![Action::Persist]
    }

    fn on_connect(&mut self, signer: &ChannelSigner) -> Vec<Action> {
        if matches!(
            self.phase,
            Phase::AwaitingAccept
                | Phase::AwaitingFundingTx
                | Phase::AwaitingFundingCreated
                | Phase::AwaitingFundingSigned
        ) {
            return vec![];
        }
        let l = &self.ledger;
        let last_secret = if l.remote.number == 0 {
            [0; 32]
        } else {
            self.their_secrets
                .lookup(
                    Index::from_commitment_number(CommitmentNumber(l.remote.number - 1))
                        .expect("in range"),
                )
                .unwrap_or([0; 32])
        };
        vec![Action::Send(ChannelMessage::Reestablish {
            channel_id: self.id,
            next_commitment_number: l.local.number + 1,
            next_revocation_number: l.remote.number,
            your_last_per_commitment_secret: last_secret,
            my_current_per_commitment_point: signer
                .per_commitment_point(CommitmentNumber(l.local.number))
                .0,
        })]
    }

    fn on_reestablish(
        &mut self,
        signer: &ChannelSigner,
        m: ChannelMessage,
    ) -> Result<Vec<Action>, Violation> {
        let ChannelMessage::Reestablish {
            next_commitment_number: ncn,
            next_revocation_number: nrn,
            your_last_per_commitment_secret: secret,
            ..
        } = m
        else {
            unreachable!("called for channel_reestablish")
        };
        if self.live {
            return Err(warn("channel_reestablish on a live connection"));
        }
        let l = self.ledger.clone();
        // Data loss protect: a peer ahead of us, proving it with our own secret.
        let our_secret_ok = |n: u64| {
            n == 0 && secret == [0; 32]
                || n >= 1
                    && secret
                        == signer
                            .per_commitment_secret(CommitmentNumber(n - 1))
                            .secret_bytes()
        };
        if nrn > l.local.number {
            if our_secret_ok(nrn) {
                // BOLT 2: we lost state; we must not broadcast our commitment, and ask the peer to close.
                let reason = format!("channel_reestablish: the peer is at revocation {nrn}, we are at {}: we lost data and must not broadcast", l.local.number);
                self.phase = Phase::Failed;
                self.failure = Some(reason.clone());
                self.live = true;
                return Ok(vec![
                    Action::Persist,
                    Action::Send(ChannelMessage::Error {
                        channel_id: self.id,
                        data: reason.clone().into_bytes(),
                    }),
                    Action::Failed { reason },
                ]);
            }
            return Err(fail("channel_reestablish: next_revocation_number is ahead of us and your_last_per_commitment_secret does not prove it"));
        }
        if !our_secret_ok(nrn) {
            return Err(fail(
                "channel_reestablish: your_last_per_commitment_secret is not our secret",
            ));
        }
        if ncn == 0 {
            return Err(fail("channel_reestablish: next_commitment_number is 0"));
        }
        let latest = l.remote_latest();
        let resend_commit = match l.remote_next {
            Some(n) if ncn == n.number => true,
            _ if ncn == latest.number + 1 => false,
            _ => {
                return Err(fail(format!(
                    "channel_reestablish: next_commitment_number {ncn}, but we sent commitment {}",
                    latest.number
                )))
            }
        };
        let resend_revoke = if nrn + 1 == l.local.number {
            true
        } else if nrn == l.local.number {
            false
        } else {
            return Err(fail(format!(
                "channel_reestablish: next_revocation_number {nrn}, but we are at commitment {}",
                l.local.number
            )));
        };
        self.live = true;
        let mut out = vec![];
        // BOLT 2: channel_ready again if no commitment moved since.
        if ncn == 1 && l.local.number == 0 && self.ready_sent {
            out.push(Action::Send(self.ready_message(signer)));
        }
        let revoke = resend_revoke.then(|| self.revoke_message(signer));
        let commit = if resend_commit {
            let next = l.remote_next.expect("checked");
            let mut msgs: Vec<ChannelMessage> = l
                .ours
                .range(l.remote.ours, next.ours)
                .map(|u| self.update_message(u))
                .collect();
            let point = self.their_points.1.expect("we signed with it");
            msgs.push(self.sign_remote(signer, &next, point).map_err(fail)?);
            Some(msgs)
        } else {
            None
        };
        let raa_first = self.last_sent != Some(LastSent::RevokeAndAck);
        let mut sends: Vec<ChannelMessage> = vec![];
        if raa_first {
            sends.extend(revoke.clone());
            sends.extend(commit.clone().into_iter().flatten());
        } else {
            sends.extend(commit.into_iter().flatten());
            sends.extend(revoke);
        }
        out.extend(sends.into_iter().map(Action::Send));
        // BOLT 2: a shutdown we sent goes again.
        if let (true, Some(script)) = (self.shutdown.sent, self.shutdown.ours.clone()) {
            out.push(Action::Send(ChannelMessage::Shutdown {
                channel_id: self.id,
                script,
            }));
        }
        // Our updates held over the disconnect go out again, in order.
        for u in std::mem::take(&mut self.holding) {
            if let Update::Add(a) = &u {
                if self.phase != Phase::Normal || self.shutdown.ours.is_some() {
                    out.push(Action::HtlcResolved {
                        id: a.id,
                        payment_hash: a.payment_hash,
                        outcome: Outcome::Failed(vec![]),
                    });
                    continue;
                }
            }
            let u = match u {
                Update::Add(mut a) => {
                    a.id = self.ledger.next_htlc_id;
                    self.ledger.next_htlc_id += 1;
                    Update::Add(a)
                }
                other => other,
            };
            out.extend(self.push_update(u));
        }
        out.push(Action::Persist);
        out.extend(self.maybe_negotiate(signer));
        Ok(out)
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

/// A random-looking but deterministic id from bytes (the driver supplies the randomness).
pub fn temporary_id(entropy: [u8; 32]) -> ChannelId {
    ChannelId(bitcoin::hashes::sha256::Hash::hash(&entropy).to_byte_array())
}
