//! The channel state machine in process: two channels wired back to back,
//! every message delivered (or lost) by the test. Deterministic, so every
//! interleaving the property test finds is replayable.
//!
//! After every quiescent point both sides must agree with a reference
//! ledger written from BOLT 2 and 3 alone (`channel_model.rs`), which reads
//! only the messages on the wire: balances, HTLCs, how each HTLC ended, and
//! each commitment's outputs. Each side's latest commitment, signed by
//! both, and each of its HTLC transactions must pass Bitcoin Core's script
//! interpreter.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::channel_model::{End, Model};

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, BlockHash, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use lnkit::amount::Msat;
use lnkit::channel::{
    temporary_id, Action, Channel, ChannelMessage, CommandError, Config, Event, Negotiated,
    OpenRequest, Outcome, Phase,
};
use lnkit::node::store::Store;
use lnkit::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use lnkit::signer::{ChannelSigner, NodeSeed};
use lnkit::tx::commitment::{ChannelType, FeeratePerKw};
use lnkit::verify::verify_transaction;
use proptest::prelude::*;

const FUNDING: Amount = Amount::from_sat(1_000_000);

/// One side: its channel, its signer, what it last stored, what it was told.
struct Party {
    ch: Channel,
    signer: ChannelSigner,
    /// The node's store (its own SQLite file), and what it last read back.
    store: Store,
    store_dir: tempfile::TempDir,
    stored: Channel,
    received: Vec<lnkit::channel::UpdateAddHtlc>,
    resolved: BTreeMap<u64, Outcome>,
    /// The attribution data each resolution carried.
    attributions: BTreeMap<u64, lnkit::onion::failure::AttributionData>,
    learned: Vec<u64>,
    broadcast: Vec<Transaction>,
    failed: Option<String>,
    ready: bool,
    closed: bool,
    /// The HTLCs of each commitment of theirs this side signed (what the node stores).
    remote_commitments: BTreeMap<u64, Vec<lnkit::channel::ledger::HtlcEntry>>,
}

struct Pair {
    a: Party,
    b: Party,
    to_b: VecDeque<ChannelMessage>,
    to_a: VecDeque<ChannelMessage>,
    funding_tx: Transaction,
    connected: bool,
    /// Every message delivered, encoded (the decoder's corpus).
    delivered: Vec<Vec<u8>>,
    /// The reference ledger, from the open on.
    model: Option<Model>,
    /// The preimage of every payment hash the test made.
    preimages: BTreeMap<PaymentHash, PaymentPreimage>,
    /// A crash armed for a side's next step, at a point of it (see `apply`).
    crash_at: Option<(bool, usize)>,
    /// A side whose process died, to restart once the current operation ends.
    dead: Option<bool>,
    /// The message being handled, and its sender (0: A, 1: B): the ledger
    /// takes it once the receiver's step has stored it.
    arriving: Option<(usize, ChannelMessage)>,
}

/// What the property runs did, over all cases (for the minimums and the note).
struct Tally {
    cases: AtomicU64,
    offered: AtomicU64,
    added: AtomicU64,
    accepted: AtomicU64,
    quiescent_checks: AtomicU64,
    htlc_txs_verified: AtomicU64,
    crashes_in_a_step: AtomicU64,
}

static TALLY: Tally = Tally {
    cases: AtomicU64::new(0),
    offered: AtomicU64::new(0),
    added: AtomicU64::new(0),
    accepted: AtomicU64::new(0),
    quiescent_checks: AtomicU64::new(0),
    htlc_txs_verified: AtomicU64::new(0),
    crashes_in_a_step: AtomicU64::new(0),
};

fn chain_hash() -> BlockHash {
    bitcoin::constants::ChainHash::using_genesis_block(Network::Regtest)
        .to_bytes()
        .pipe(BlockHash::from_byte_array)
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

fn preimage(n: u64) -> PaymentPreimage {
    let mut p = [0u8; 32];
    p[..8].copy_from_slice(&n.to_be_bytes());
    p[31] = 0x55;
    PaymentPreimage(p)
}

/// The command to offer `amount` msat for payment `n`.
fn add_htlc(amount: u64, n: u64) -> Event {
    Event::AddHtlc {
        amount: Msat(amount),
        payment_hash: preimage(n).payment_hash(),
        cltv_expiry: CltvExpiry(500),
        onion: vec![0; 1366],
    }
}

/// A funding transaction paying `script` (its input is made up: only the output matters here).
fn funding_tx(script: ScriptBuf, amount: Amount) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(bitcoin::Txid::from_byte_array([7; 32]), 0),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(5000),
                script_pubkey: ScriptBuf::new_op_return([1u8; 8]),
            },
            TxOut {
                value: amount,
                script_pubkey: script,
            },
        ],
    }
}

impl Party {
    fn new(ch: Channel, signer: ChannelSigner) -> Self {
        // In memory where the machine has it: a crash here kills a process,
        // not the machine, so the fsyncs buy nothing and cost a sixth of the run.
        let store_dir = match std::path::Path::new("/dev/shm") {
            shm if shm.is_dir() => tempfile::tempdir_in(shm),
            _ => tempfile::tempdir(),
        }
        .unwrap();
        Party {
            store: Store::open(&store_dir.path().join("node.sqlite")).unwrap(),
            store_dir,
            stored: ch.clone(),
            ch,
            signer,
            received: vec![],
            resolved: BTreeMap::new(),
            attributions: BTreeMap::new(),
            learned: vec![],
            broadcast: vec![],
            failed: None,
            ready: false,
            closed: false,
            remote_commitments: BTreeMap::new(),
        }
    }
}

impl Pair {
    fn open(channel_type: ChannelType, push: Msat, negotiated: Negotiated) -> Pair {
        let sa = NodeSeed::new(&[1; 64], Network::Regtest);
        let sb = NodeSeed::new(&[2; 64], Network::Regtest);
        let (signer_a, signer_b) = (sa.channel(0).unwrap(), sb.channel(0).unwrap());
        let (ch_a, actions) = Channel::open(
            &signer_a,
            OpenRequest {
                peer: sb.node_id(),
                chain_hash: chain_hash(),
                temporary_id: temporary_id([9; 32]),
                key_index: 0,
                funding: FUNDING,
                push,
                feerate: FeeratePerKw(2500),
                channel_type,
                announce: false,
                negotiated,
                config: Config::default(),
            },
        );
        let open_bytes = match actions.as_slice() {
            [Action::Send(m)] => m.encode(),
            _ => vec![],
        };
        let [Action::Send(ChannelMessage::Open(open))] = actions.as_slice() else {
            panic!("open gives open_channel: {actions:?}")
        };
        let (ch_b, actions) = Channel::accept(
            &signer_b,
            sa.node_id(),
            0,
            chain_hash(),
            open,
            negotiated,
            Config::default(),
        )
        .expect("accepted");
        let mut pair = Pair {
            a: Party::new(ch_a, signer_a),
            b: Party::new(ch_b, signer_b),
            to_b: VecDeque::new(),
            to_a: VecDeque::new(),
            delivered: vec![open_bytes],
            funding_tx: Transaction {
                version: Version::TWO,
                lock_time: LockTime::ZERO,
                input: vec![],
                output: vec![],
            },
            connected: true,
            model: None,
            preimages: BTreeMap::new(),
            crash_at: None,
            dead: None,
            arriving: None,
        };
        pair.apply(false, actions);
        pair.settle();
        assert_eq!(pair.a.ch.phase, Phase::AwaitingReady, "{:?}", pair.a.failed);
        assert_eq!(pair.b.ch.phase, Phase::AwaitingReady);
        assert_eq!(
            pair.a.broadcast.len(),
            1,
            "the opener broadcasts the funding after funding_signed"
        );
        for a_side in [true, false] {
            pair.event(
                a_side,
                Event::FundingDepth {
                    confirmations: 3,
                    scid: Some(101 << 40 | 1 << 16),
                },
            );
        }
        pair.settle();
        assert!(pair.a.ready && pair.b.ready);
        assert_eq!(pair.a.ch.id, pair.b.ch.id);
        // The reference ledger starts from the open as the wire carried it.
        let msgs: Vec<ChannelMessage> = pair
            .delivered
            .iter()
            .map(|b| ChannelMessage::decode(b).unwrap().unwrap())
            .collect();
        let find = |f: fn(&ChannelMessage) -> bool| msgs.iter().find(|m| f(m)).unwrap();
        pair.model = Some(Model::new(
            find(|m| matches!(m, ChannelMessage::Open(_))),
            find(|m| matches!(m, ChannelMessage::Accept(_))),
            channel_type == ChannelType::AnchorsZeroFeeHtlcTx,
        ));
        pair
    }

    fn party(&mut self, a: bool) -> &mut Party {
        if a {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    fn event(&mut self, a: bool, e: Event) {
        let p = self.party(a);
        let actions = match p.ch.handle(&p.signer.clone(), e) {
            Ok(actions) => actions,
            Err(err) => panic!("event refused: {err} (failure: {:?})", p.failed),
        };
        self.apply(a, actions);
    }

    fn try_event(&mut self, a: bool, e: Event) -> Result<(), CommandError> {
        let p = self.party(a);
        let actions = p.ch.handle(&p.signer.clone(), e)?;
        self.apply(a, actions);
        Ok(())
    }

    /// Carry out `from`'s actions as the node's driver does (`execute` in
    /// src/node/core.rs): first the store, in one write (the channel on
    /// Persist, and the records the step reports), then the sends and
    /// broadcasts, in order. A crash armed for this side falls in this
    /// step: at point 0 before the store write (the step is lost), at point
    /// k after it, with k - 1 of the step's sends gone out.
    fn apply(&mut self, from_a: bool, actions: Vec<Action>) {
        if self.dead == Some(from_a) {
            return;
        }
        let sends = actions
            .iter()
            .filter(|a| matches!(a, Action::Send(_) | Action::Broadcast(_)))
            .count();
        let crash = match self.crash_at {
            Some((side, point)) if side == from_a => {
                self.crash_at = None;
                Some(point % (sends + 1))
            }
            _ => None,
        };
        if crash == Some(0) {
            TALLY.crashes_in_a_step.fetch_add(1, Relaxed);
            self.kill(from_a);
            return;
        }
        // Past the store write: the message this step handled was received.
        if let (Some((from, m)), Some(model)) = (self.arriving.take(), &mut self.model) {
            model.delivered(from, &m);
        }
        for action in &actions {
            match action {
                Action::Send(_) | Action::Broadcast(_) => {}
                Action::Persist => {
                    // Through the node's store (the channel row, and its logs
                    // row by row), read back.
                    let p = self.party(from_a);
                    let mut b = p.store.batch().unwrap();
                    b.put_channel(&mut p.ch).expect("a channel is stored");
                    b.commit().unwrap();
                    let mut back = p.store.channels().expect("and reads back");
                    assert_eq!(back.len(), 1, "one channel, under its current id");
                    p.stored = back.pop().unwrap();
                    assert_eq!(p.stored, p.ch, "the stored channel is the channel");
                }
                Action::BuildFunding { script, amount } => {
                    let tx = funding_tx(script.clone(), *amount);
                    self.funding_tx = tx.clone();
                    self.event(
                        from_a,
                        Event::FundingBuilt {
                            tx,
                            output_index: 1,
                        },
                    );
                }
                Action::Ready => self.party(from_a).ready = true,
                Action::HtlcReceived(a) => self.party(from_a).received.push((**a).clone()),
                Action::PreimageLearned { id, .. } => self.party(from_a).learned.push(*id),
                Action::HtlcResolved {
                    id,
                    outcome,
                    attribution,
                    ..
                } => {
                    if let Some(a) = attribution {
                        self.party(from_a).attributions.insert(*id, (**a).clone());
                    }
                    let learned = self.party(from_a).learned.contains(id);
                    assert!(
                        !learned || matches!(outcome, Outcome::Fulfilled(_)),
                        "HTLC {id}: preimage learned, then failed"
                    );
                    let previous = self.party(from_a).resolved.insert(*id, outcome.clone());
                    assert!(previous.is_none(), "HTLC {id} resolved twice");
                }
                Action::Closed => self.party(from_a).closed = true,
                Action::Failed { reason } => self.party(from_a).failed = Some(reason.clone()),
                Action::Disconnect => self.disconnect(),
                Action::RemoteCommitment { number, htlcs, tx } => {
                    let funding = self.party(from_a).ch.funding_outpoint;
                    assert_eq!(tx.input.first().map(|i| i.previous_output), funding);
                    self.party(from_a)
                        .remote_commitments
                        .insert(*number, htlcs.clone());
                }
                Action::RemoteRevoked { number } => {
                    // A revocation names a commitment we signed (and stored).
                    assert!(
                        self.party(from_a).remote_commitments.contains_key(number),
                        "revoked commitment {number} was never signed"
                    );
                }
            }
        }
        for (k, action) in actions
            .into_iter()
            .filter(|a| matches!(a, Action::Send(_) | Action::Broadcast(_)))
            .enumerate()
        {
            if crash == Some(k + 1) {
                TALLY.crashes_in_a_step.fetch_add(1, Relaxed);
                self.kill(from_a);
                return;
            }
            match action {
                Action::Send(m) if self.connected => {
                    if from_a {
                        self.to_b.push_back(m)
                    } else {
                        self.to_a.push_back(m)
                    }
                }
                Action::Broadcast(tx) => self.party(from_a).broadcast.push(tx),
                _ => {}
            }
        }
    }

    /// Deliver one message towards `to_a`'s side.
    fn deliver(&mut self, to_a: bool) -> bool {
        let m = if to_a {
            self.to_a.pop_front()
        } else {
            self.to_b.pop_front()
        };
        let Some(m) = m else { return false };
        // Every message crosses the real codec.
        let bytes = m.encode();
        let m = ChannelMessage::decode(&bytes).unwrap().unwrap();
        self.delivered.push(bytes);
        self.arriving = Some((if to_a { 1 } else { 0 }, m.clone()));
        let p = self.party(to_a);
        let actions =
            p.ch.handle(&p.signer.clone(), Event::Message(m))
                .expect("messages never error");
        self.apply(to_a, actions);
        self.arriving = None;
        true
    }

    /// Deliver everything, committing whenever a side has something to sign.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            self.revive();
            let moved = self.deliver(true) | self.deliver(false);
            if !moved && !self.commit_pending() {
                return;
            }
        }
        panic!("no quiescence after 10,000 steps");
    }

    /// Each side with something to sign signs it; whether one did.
    fn commit_pending(&mut self) -> bool {
        let mut committed = false;
        for a in [true, false] {
            if self.party(a).ch.needs_commit() {
                self.event(a, Event::Commit);
                committed = true;
            }
        }
        committed
    }

    fn disconnect(&mut self) {
        self.connected = false;
        self.to_a.clear();
        self.to_b.clear();
        if let Some(model) = &mut self.model {
            model.disconnected();
        }
        for a in [true, false] {
            self.event(a, Event::Disconnected);
        }
    }

    fn reconnect(&mut self) {
        if self.connected {
            self.disconnect();
        }
        self.connected = true;
        for a in [true, false] {
            self.event(a, Event::Connected);
        }
    }

    /// `kill -9`: the side comes back as it last stored itself.
    fn crash(&mut self, a: bool) {
        self.kill(a);
        self.revive();
    }

    /// The process of side `a` dies: with what it had not stored, and its
    /// connection. It restarts once the current operation is over (`revive`).
    fn kill(&mut self, a: bool) {
        self.dead = Some(a);
        self.connected = false;
        self.to_a.clear();
        self.to_b.clear();
        if let Some(model) = &mut self.model {
            model.disconnected();
        }
    }

    /// Restart a dead side from its store, and reconnect.
    fn revive(&mut self) {
        let Some(a) = self.dead.take() else { return };
        let p = self.party(a);
        p.store = Store::open(&p.store_dir.path().join("node.sqlite")).unwrap();
        p.ch = p
            .store
            .channels()
            .unwrap()
            .pop()
            .unwrap_or(p.stored.clone());
        assert_eq!(p.ch, p.stored);
        // A restart is a disconnection, which the node applies to what it
        // loads before anything else, storing nothing (`start` in src/node/core.rs).
        let _ = p.ch.handle(&p.signer.clone(), Event::Disconnected);
        self.event(!a, Event::Disconnected);
        self.reconnect();
    }

    /// Both sides agree, and both signed commitments are valid spends of the funding output.
    fn check(&self) {
        let (a, b) = (&self.a.ch, &self.b.ch);
        assert_eq!(
            a.balances(),
            (b.balances().1, b.balances().0),
            "balances agree"
        );
        let htlcs = |c: &Channel| c.htlcs().len();
        assert_eq!(htlcs(a), htlcs(b));
        let total: u64 = a.balances().0 .0
            + a.balances().1 .0
            + a.htlcs().iter().map(|h| h.amount.0).sum::<u64>();
        assert_eq!(total, FUNDING.to_sat() * 1000, "no msat created or lost");
        let funding_out = self.funding_tx.output[1].clone();
        for p in [&self.a, &self.b] {
            let tx =
                p.ch.signed_local_commitment(&p.signer)
                    .expect("a signed commitment");
            verify_transaction(&tx, std::slice::from_ref(&funding_out))
                .expect("the kernel accepts the commitment");
        }
    }

    /// Nothing in flight, nothing to sign: both sides hold the same commitments.
    fn quiescent(&self) -> bool {
        self.connected
            && self.to_a.is_empty()
            && self.to_b.is_empty()
            && !self.a.ch.needs_commit()
            && !self.b.ch.needs_commit()
    }

    /// At a quiescent point, both sides against the reference ledger:
    /// balances, HTLCs (each irrevocably committed), how each removed HTLC
    /// ended, and each commitment's outputs (BOLT 3). Bitcoin Core's
    /// interpreter checks each commitment and each of its HTLC
    /// transactions, signed as they would go on chain.
    fn check_model(&self) {
        let m = self.model.as_ref().expect("an open channel");
        TALLY.quiescent_checks.fetch_add(1, Relaxed);
        let funding_out = self.funding_tx.output[1].clone();
        for (side, p) in [(0usize, &self.a), (1, &self.b)] {
            let them = 1 - side;
            assert_eq!(
                p.ch.balances(),
                (Msat(m.balance_msat[side]), Msat(m.balance_msat[them])),
                "side {side}'s balances against the ledger"
            );
            let htlcs: BTreeMap<(usize, u64), (u64, [u8; 32])> =
                p.ch.htlcs()
                    .iter()
                    .map(|h| {
                        let offerer = if h.offerer == lnkit::tx::commitment::Side::Local {
                            side
                        } else {
                            them
                        };
                        ((offerer, h.id), (h.amount.0, h.payment_hash.0))
                    })
                    .collect();
            let want: BTreeMap<(usize, u64), (u64, [u8; 32])> = m
                .htlcs
                .iter()
                .map(|(k, h)| (*k, (h.amount_msat, h.hash)))
                .collect();
            assert_eq!(htlcs, want, "side {side}'s HTLCs against the ledger");
            assert!(
                m.htlcs.values().all(|h| h.irrevocable()),
                "at rest, every HTLC is irrevocably committed in both commitments: {m:?}"
            );
            // How each HTLC this side offered ended, as its step reported it.
            let ended: BTreeMap<u64, End> = m
                .ended
                .iter()
                .filter(|((o, _), _)| *o == side)
                .map(|((_, id), e)| (*id, e.clone()))
                .collect();
            let reported: BTreeMap<u64, End> = p
                .resolved
                .iter()
                .map(|(id, o)| {
                    let e = match o {
                        Outcome::Fulfilled(pre) => End::Fulfilled(pre.0),
                        _ => End::Failed,
                    };
                    (*id, e)
                })
                .collect();
            assert_eq!(
                reported, ended,
                "side {side}'s resolutions against the ledger"
            );

            let tx =
                p.ch.signed_local_commitment(&p.signer)
                    .expect("a signed commitment");
            m.check_commitment(side, &tx);
            verify_transaction(&tx, std::slice::from_ref(&funding_out))
                .expect("the kernel accepts the commitment");
            let mut r = p.ch.resolution(&p.signer, &tx, &[]);
            for h in m.htlcs.values() {
                if let Some(pre) = self.preimages.get(&PaymentHash(h.hash)) {
                    r.provide_preimage(*pre);
                }
            }
            for w in r.outputs.iter().filter(|w| w.htlc_tx.is_some()) {
                claim_verifies(&p.signer, &r, w);
                TALLY.htlc_txs_verified.fetch_add(1, Relaxed);
            }
        }
    }

    fn pay(&mut self, from_a: bool, amount: u64, n: u64) {
        self.event(from_a, add_htlc(amount, n));
    }

    /// The payee fulfils everything it received that it has not resolved yet.
    fn fulfil_all(&mut self, a: bool) {
        let ids: Vec<(u64, PaymentHash)> = self
            .party(a)
            .ch
            .unresolved_incoming()
            .iter()
            .map(|h| (h.id, h.payment_hash))
            .collect();
        for (id, hash) in ids {
            let n = (0..10_000u64)
                .find(|n| preimage(*n).payment_hash() == hash)
                .expect("a test preimage");
            self.event(
                a,
                Event::Fulfill {
                    id,
                    preimage: preimage(n),
                    attribution: None,
                },
            );
        }
    }
}

fn both_types() -> [ChannelType; 2] {
    [
        ChannelType::StaticRemotekey,
        ChannelType::AnchorsZeroFeeHtlcTx,
    ]
}

fn anchors() -> Negotiated {
    Negotiated {
        anchors: true,
        ..Negotiated::default()
    }
}

#[test]
fn open_pay_both_ways_and_close() {
    for t in both_types() {
        for simple_close in [false, true] {
            let mut p = Pair::open(
                t,
                Msat(0),
                Negotiated {
                    simple_close,
                    ..anchors()
                },
            );
            p.check();
            for i in 0..5 {
                p.pay(true, 10_000_000 + i, i);
                p.settle();
                p.check();
                p.fulfil_all(false);
                p.settle();
                p.check();
            }
            assert_eq!(p.a.resolved.len(), 5);
            assert!(p
                .a
                .resolved
                .values()
                .all(|o| matches!(o, Outcome::Fulfilled(_))));
            for i in 5..8 {
                p.pay(false, 1_000_000 + i, i);
            }
            p.settle();
            p.fulfil_all(true);
            p.settle();
            p.check();
            assert_eq!(p.b.resolved.len(), 3);
            let (a_bal, b_bal) = p.a.ch.balances();
            let paid = (0..5).map(|i| 10_000_000 + i).sum::<u64>()
                - (5..8).map(|i| 1_000_000 + i).sum::<u64>();
            assert_eq!((a_bal.0, b_bal.0), (FUNDING.to_sat() * 1000 - paid, paid));

            let script_a =
                ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0xaa; 20]));
            let script_b =
                ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0xbb; 20]));
            p.event(
                true,
                Event::Shutdown {
                    script: script_a.clone(),
                    feerate: FeeratePerKw(1000),
                },
            );
            p.settle();
            assert!(p.b.ch.needs_shutdown_script());
            p.event(
                false,
                Event::Shutdown {
                    script: script_b.clone(),
                    feerate: FeeratePerKw(800),
                },
            );
            p.settle();
            assert!(
                p.a.closed && p.b.closed,
                "{t:?} simple_close={simple_close}: {:?} / {:?}",
                p.a.ch.phase,
                p.b.ch.phase
            );
            let to = |tx: &Transaction, s: &ScriptBuf| {
                tx.output
                    .iter()
                    .find(|o| o.script_pubkey == *s)
                    .map(|o| o.value.to_sat())
            };
            let closes: Vec<&Transaction> = p.a.broadcast.iter().skip(1).collect();
            assert_eq!(
                closes.len(),
                if simple_close { 2 } else { 1 },
                "each closer's transaction"
            );
            for close in &closes {
                verify_transaction(close, &[p.funding_tx.output[1].clone()])
                    .expect("the closing transaction is valid");
            }
            // Legacy: the opener pays. Simple close: each closer pays for its own transaction.
            assert!(closes.iter().any(|c| to(c, &script_b) == Some(paid / 1000)
                && to(c, &script_a) < Some(a_bal.0 / 1000)));
            if simple_close {
                assert!(closes
                    .iter()
                    .any(|c| to(c, &script_a) == Some(a_bal.0 / 1000)
                        && to(c, &script_b) < Some(paid / 1000)));
            }
        }
    }
}

/// Settle until the funder (a) sends its first `closing_signed`, and return
/// its `fee_satoshis` and `fee_range` (the message stays queued).
fn until_closing_signed(p: &mut Pair) -> Option<(Amount, Option<(Amount, Amount)>)> {
    for _ in 0..10_000 {
        if let Some(ChannelMessage::ClosingSigned { fee, fee_range, .. }) = p.to_b.front() {
            return Some((*fee, *fee_range));
        }
        // One message at a time: the funder's closing_signed must be seen before it is delivered.
        let moved = p.deliver(true) || p.deliver(false);
        if !moved && !p.commit_pending() {
            return None;
        }
    }
    panic!("no quiescence after 10,000 steps");
}

fn p2wpkh(byte: u8) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([byte; 20]))
}

/// Core Lightning, not the funder, sends `shutdown` while its HTLC to us is
/// pending; we fail the HTLC, and its `commitment_signed` is the message
/// that leaves the channel clean. BOLT 2: the funder then sends
/// `closing_signed`. (The close hung until a reconnect when only
/// `revoke_and_ack` started the negotiation.)
#[test]
fn the_funder_negotiates_once_the_peers_commitment_signed_clears_the_last_htlc() {
    for t in both_types() {
        let mut p = Pair::open(t, Msat(300_000_000), anchors());
        p.pay(false, 5_000_000, 1);
        p.settle();
        assert_eq!(p.a.ch.unresolved_incoming().len(), 1);
        p.event(
            false,
            Event::Shutdown {
                script: p2wpkh(0xbb),
                feerate: FeeratePerKw(800),
            },
        );
        p.settle();
        assert!(p.a.ch.needs_shutdown_script());
        p.event(
            true,
            Event::Shutdown {
                script: p2wpkh(0xaa),
                feerate: FeeratePerKw(1000),
            },
        );
        p.settle();
        assert!(!p.a.closed, "an HTLC is still pending");
        let id = p.a.ch.unresolved_incoming()[0].id;
        p.event(
            true,
            Event::Fail {
                id,
                reason: vec![0; 32],
                attribution: None,
            },
        );
        let sent = until_closing_signed(&mut p);
        assert!(
            sent.is_some(),
            "{t:?}: the funder never sent closing_signed ({:?} / {:?})",
            p.a.ch.phase,
            p.b.ch.phase
        );
        p.settle();
        assert!(p.a.closed && p.b.closed, "{t:?}");
        assert!(matches!(p.b.resolved.get(&0), Some(Outcome::Failed(_))));
    }
}

/// The funder's `fee_range` tops out at its estimate: a non-funder picks
/// the highest fee in the overlap (LDK: "they have to pay, so pick the
/// highest fee"), so a wider range is what the close costs. (It offered
/// three times its estimate, and LDK took it.)
#[test]
fn the_funders_fee_range_tops_out_at_its_estimate() {
    for t in both_types() {
        let mut p = Pair::open(t, Msat(0), anchors());
        p.pay(true, 10_000_000, 0);
        p.settle();
        p.fulfil_all(false);
        p.settle();
        let estimate = FeeratePerKw(2500);
        p.event(
            true,
            Event::Shutdown {
                script: p2wpkh(0xaa),
                feerate: estimate,
            },
        );
        p.settle();
        p.event(
            false,
            Event::Shutdown {
                script: p2wpkh(0xbb),
                feerate: FeeratePerKw(253),
            },
        );
        let (fee, range) = until_closing_signed(&mut p).expect("the funder proposes");
        // The closing transaction's weight from BOLT 3 (two P2WPKH outputs):
        // the fee at the estimate, computed here, not by the channel.
        let weight = 4 * (4 + 1 + 36 + 1 + 4 + 1 + 2 * 31 + 4) + (2 + 1 + 1 + 73 + 73 + 72);
        let at_estimate = u64::from(estimate.0) * weight / 1000;
        let (lo, hi) = range.expect("a fee_range");
        assert!(
            fee.to_sat().abs_diff(at_estimate) <= at_estimate / 50,
            "{t:?}: fee {fee} is not the estimate's {at_estimate} sat"
        );
        assert_eq!(hi, fee, "{t:?}: the range tops out at the estimate");
        assert!(lo <= fee);
        p.settle();
        assert!(p.a.closed && p.b.closed);
    }
}

/// A failed channel retransmits its `error` on reconnection (BOLT 2) only
/// until the chain confirms a spend of its funding: Core Lightning answers
/// an error for a channel it has resolved on chain with its own and hangs
/// up, so every reconnection failed and no new channel could be opened.
#[test]
fn a_failed_channel_retransmits_its_error_until_the_chain_closes_it() {
    let mut p = Pair::open(both_types()[1], Msat(0), anchors());
    p.event(true, Event::ForceClose);
    let commitment =
        p.a.broadcast
            .last()
            .cloned()
            .expect("our commitment goes out");
    p.disconnect();
    let on_connect = |p: &mut Pair| {
        let signer = p.a.signer.clone();
        p.a.ch.handle(&signer, Event::Connected).unwrap()
    };
    let sent = on_connect(&mut p);
    assert!(
        matches!(
            sent.as_slice(),
            [Action::Send(ChannelMessage::Error { .. })]
        ),
        "before the chain closes it: {sent:?}"
    );
    let signer = p.a.signer.clone();
    let mut r = p.a.ch.resolution(&signer, &commitment, &[]);
    let block = bitcoin::Block {
        header: bitcoin::constants::genesis_block(Network::Regtest).header,
        txdata: vec![commitment.clone()],
    };
    r.block_connected(&block, 200);
    p.a.ch.onchain = Some(Box::new(r));
    assert_eq!(
        on_connect(&mut p),
        vec![],
        "the chain closed it: nothing to retransmit"
    );
}

/// The peer force-closed: we leave its commitment to confirm (it pays us
/// at once, ours would lock our balance for `to_self_delay` and need a
/// CPFP) only while no HTLC deadline is near. The deadline: an HTLC's
/// expiry less BOLT 2's 18 blocks for an HTLC we fulfil, less the 6 blocks
/// we give the peer's commitment to confirm. (lnkit raced LDK's commitment
/// with its own, with nothing at stake, and paid about 5,000 sat for it.)
fn peer_error(party: &mut Party) {
    let m = ChannelMessage::Error {
        channel_id: party.ch.id,
        data: b"closing".to_vec(),
    };
    let signer = party.signer.clone();
    party.ch.handle(&signer, Event::Message(m)).unwrap();
}

#[test]
fn the_peers_commitment_is_awaited_only_while_no_htlc_deadline_is_near() {
    let mut p = Pair::open(both_types()[1], Msat(0), anchors());
    assert_eq!(p.b.ch.earliest_htlc_expiry(), None);
    p.pay(true, 10_000_000, 0);
    p.settle();
    assert_eq!(
        p.b.ch.earliest_htlc_expiry(),
        Some(500),
        "pay() offers at 500"
    );
    p.event(true, Event::ForceClose);
    assert!(!p.a.ch.failed_by_peer(), "a failed it itself");
    peer_error(&mut p.b);
    assert!(p.b.ch.failed_by_peer(), "{:?}", p.b.ch.failure);
    // 500 - 18 - 6 = 476: from there on, ours must go out.
    assert!(p.b.ch.may_await_their_commitment(475));
    assert!(!p.b.ch.may_await_their_commitment(476));
    assert!(!p.b.ch.may_await_their_commitment(600));
    // With no HTLC in any commitment, nothing is ever at stake.
    let mut q = Pair::open(both_types()[1], Msat(0), anchors());
    peer_error(&mut q.b);
    assert!(q.b.ch.failed_by_peer());
    assert!(q.b.ch.may_await_their_commitment(u32::MAX / 2));
}

/// The holding cell: while our `commitment_signed` waits for its
/// `revoke_and_ack`, a new update is logged but not sent; the
/// `revoke_and_ack` releases it, and it is signed in the next round.
#[test]
fn updates_made_while_a_round_is_in_flight_wait_for_its_revoke_and_ack() {
    let mut p = Pair::open(both_types()[0], Msat(0), anchors());
    p.pay(true, 10_000_000, 0);
    p.event(true, Event::Commit);
    let names = |q: &VecDeque<ChannelMessage>| q.iter().map(|m| m.name()).collect::<Vec<_>>();
    assert_eq!(names(&p.to_b), ["update_add_htlc", "commitment_signed"]);
    p.pay(true, 20_000_000, 1);
    assert_eq!(
        names(&p.to_b),
        ["update_add_htlc", "commitment_signed"],
        "held while the round is in flight"
    );
    assert_eq!(p.a.ch.unsent, 1);
    assert!(
        !p.a.ch.needs_commit(),
        "nothing more is signed before the revoke_and_ack"
    );
    // B answers the round: revoke_and_ack (and its own commitment_signed).
    while p.deliver(false) {}
    p.deliver(true);
    assert_eq!(p.a.ch.unsent, 0, "the revoke_and_ack released it");
    assert!(
        names(&p.to_b).contains(&"update_add_htlc"),
        "and it went out: {:?}",
        names(&p.to_b)
    );
    p.settle();
    p.check();
    assert_eq!(p.b.received.len(), 2, "both HTLCs reached B, in order");
    assert_eq!(
        p.b.received.iter().map(|a| a.amount.0).collect::<Vec<_>>(),
        [10_000_000, 20_000_000]
    );
    p.fulfil_all(false);
    p.settle();
    p.check();
    assert_eq!(p.a.resolved.len(), 2);
}

#[test]
fn htlcs_fail_back_and_fee_updates_apply_to_both_commitments() {
    let mut marked = lnkit::onion::failure::AttributionData::default();
    for (i, b) in marked.0.iter_mut().enumerate() {
        *b = i as u8;
    }
    for t in both_types() {
        let mut p = Pair::open(t, Msat(100_000_000), anchors());
        p.pay(true, 5_000_000, 1);
        p.pay(false, 7_000_000, 2);
        p.settle();
        p.check();
        let id = p.b.ch.unresolved_incoming()[0].id;
        p.event(
            false,
            Event::Fail {
                id,
                reason: vec![1, 2, 3],
                attribution: Some(Box::new(marked.clone())),
            },
        );
        p.event(true, Event::UpdateFee(FeeratePerKw(5000)));
        p.settle();
        p.check();
        assert!(matches!(p.a.resolved.get(&id), Some(Outcome::Failed(r)) if r == &vec![1, 2, 3]));
        // The attribution data crossed the wire (TLV 1) and the store's serde form intact.
        assert_eq!(p.a.attributions.get(&id), Some(&marked));
        assert_eq!(p.b.ch.ledger.base.feerate, FeeratePerKw(5000));
        assert_eq!(
            p.b.try_event_fee(),
            Err(CommandError::NotOpener),
            "only the opener sends update_fee"
        );
        p.fulfil_all(true);
        p.settle();
        p.check();
    }
}

impl Party {
    fn try_event_fee(&mut self) -> Result<Vec<Action>, CommandError> {
        self.ch
            .handle(&self.signer.clone(), Event::UpdateFee(FeeratePerKw(3000)))
    }
}

#[test]
fn reestablish_resends_what_was_lost_at_every_point_of_a_round() {
    // Drop the connection after k messages of a payment's round, for every k.
    for t in both_types() {
        for k in 0..12 {
            let mut p = Pair::open(t, Msat(0), anchors());
            p.pay(true, 20_000_000, 1);
            let mut delivered = 0;
            while delivered < k {
                let moved = p.deliver(true) | p.deliver(false);
                if !moved {
                    if p.a.ch.needs_commit() {
                        p.event(true, Event::Commit)
                    } else if p.b.ch.needs_commit() {
                        p.event(false, Event::Commit)
                    } else if !p.b.ch.unresolved_incoming().is_empty() {
                        p.fulfil_all(false)
                    } else {
                        break;
                    }
                }
                delivered += 1;
            }
            p.reconnect();
            p.settle();
            p.fulfil_all(false);
            p.settle();
            p.check();
            assert!(
                matches!(p.a.resolved.get(&0), Some(Outcome::Fulfilled(_))),
                "{t:?} k={k}: the payment completes after reestablish: {:?}",
                p.a.resolved
            );
            assert_eq!(p.b.ch.balances().0, Msat(20_000_000));
        }
    }
}

/// Many HTLC signatures are checked split across cores: a bad one is still
/// named by its index.
#[test]
fn a_bad_htlc_signature_among_many_is_named_by_its_index() {
    let mut p = Pair::open(ChannelType::StaticRemotekey, Msat(0), anchors());
    for n in 1..=12 {
        p.pay(true, 20_000_000 + n, n);
    }
    // B takes the adds; A signs them all.
    while !p.to_b.is_empty() {
        p.deliver(false);
    }
    p.event(true, Event::Commit);
    let Some(ChannelMessage::CommitmentSigned {
        channel_id,
        signature,
        mut htlc_signatures,
    }) = p.to_b.pop_front()
    else {
        panic!("a commitment_signed")
    };
    assert_eq!(htlc_signatures.len(), 12);
    htlc_signatures.swap(9, 10);
    p.to_b.push_back(ChannelMessage::CommitmentSigned {
        channel_id,
        signature,
        htlc_signatures,
    });
    p.deliver(false);
    assert_eq!(p.b.ch.phase, Phase::Failed);
    let why = p.b.failed.as_deref().unwrap();
    assert!(why.contains("htlc_signatures[9] is not valid"), "{why}");
}

#[test]
fn an_invalid_signature_fails_the_channel_with_an_error_and_our_commitment_goes_out() {
    let mut p = Pair::open(ChannelType::StaticRemotekey, Msat(0), anchors());
    p.pay(true, 5_000_000, 1);
    p.settle();
    p.check();
    p.pay(true, 6_000_000, 2);
    p.deliver(false);
    p.event(true, Event::Commit);
    let Some(ChannelMessage::CommitmentSigned {
        channel_id,
        signature,
        htlc_signatures,
    }) = p.to_b.pop_front()
    else {
        panic!("a commitment_signed")
    };
    let mut bad = signature.serialize_compact();
    bad[10] ^= 1;
    let forged =
        bitcoin::secp256k1::ecdsa::Signature::from_compact(&bad).unwrap_or(htlc_signatures[0]);
    p.to_b.push_back(ChannelMessage::CommitmentSigned {
        channel_id,
        signature: forged,
        htlc_signatures,
    });
    p.deliver(false);
    assert_eq!(p.b.ch.phase, Phase::Failed);
    assert!(p
        .b
        .failed
        .as_deref()
        .unwrap()
        .contains("signature is not valid"));
    let Some(ChannelMessage::Error { data, .. }) = p.to_a.front() else {
        panic!("an error goes to the peer")
    };
    assert!(String::from_utf8_lossy(data).contains("commitment_signed"));
    // Funds safe: B's broadcast is its last valid commitment, with A's first HTLC.
    let tx = p.b.broadcast.last().expect("B broadcasts its commitment");
    verify_transaction(tx, &[p.funding_tx.output[1].clone()]).unwrap();
    // B has no balance of its own yet: to_remote (A's) and the committed HTLC.
    assert_eq!(tx.output.len(), 2);
    assert!(tx.output.iter().any(|o| o.value == Amount::from_sat(5000)));
    p.deliver(true);
    assert_eq!(
        p.a.ch.phase,
        Phase::Failed,
        "the error fails the channel on the other side too"
    );
}

#[test]
fn commands_beyond_the_channel_are_refused_and_change_nothing() {
    let mut p = Pair::open(ChannelType::AnchorsZeroFeeHtlcTx, Msat(0), anchors());
    let before = p.a.ch.clone();
    let capacity = p.a.ch.spendable().0;
    let err = p
        .try_event(
            true,
            Event::AddHtlc {
                amount: Msat(capacity + 1),
                payment_hash: PaymentHash([1; 32]),
                cltv_expiry: CltvExpiry(500),
                onion: vec![0; 1366],
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        CommandError::Capacity {
            amount: capacity + 1,
            capacity
        }
    );
    assert!(err
        .to_string()
        .contains(&format!("outbound capacity of {capacity} msat")));
    // The reserve the peer asked for (1%) and the fee stay on our side.
    assert!(capacity < (FUNDING.to_sat() - 10_000) * 1000);
    assert_eq!(
        p.b.ch.spendable(),
        Msat(0),
        "the accepter has nothing to send"
    );
    let err = p
        .try_event(
            true,
            Event::Fulfill {
                id: 0,
                preimage: preimage(0),
                attribution: None,
            },
        )
        .unwrap_err();
    assert_eq!(err, CommandError::UnknownHtlc(0));
    let err = p
        .try_event(
            true,
            Event::AddHtlc {
                amount: Msat(1000),
                payment_hash: PaymentHash([1; 32]),
                cltv_expiry: CltvExpiry(500_000_000),
                onion: vec![0; 1366],
            },
        )
        .unwrap_err();
    assert_eq!(err, CommandError::BadCltv(500_000_000));
    assert_eq!(p.a.ch, before);
    // Exactly the capacity goes through.
    p.try_event(
        true,
        Event::AddHtlc {
            amount: Msat(capacity),
            payment_hash: preimage(3).payment_hash(),
            cltv_expiry: CltvExpiry(500),
            onion: vec![0; 1366],
        },
    )
    .unwrap();
    p.settle();
    p.check();
}

#[test]
fn a_peer_breaking_bolt2_gets_an_error_not_a_crash() {
    let p = Pair::open(ChannelType::StaticRemotekey, Msat(0), anchors());
    let id = p.a.ch.id;
    let add = |id_: u64, amount: u64, cltv: u32| {
        ChannelMessage::AddHtlc(lnkit::channel::UpdateAddHtlc {
            channel_id: id,
            id: id_,
            amount: Msat(amount),
            payment_hash: PaymentHash([3; 32]),
            cltv_expiry: CltvExpiry(cltv),
            onion: vec![0; 1366],
            path_key: None,
        })
    };
    let cases: Vec<(ChannelMessage, &str)> = vec![
        (add(0, 0, 500), "below our htlc_minimum_msat"),
        (add(5, 1000, 500), "id 5 but 0 was next"),
        (add(0, 1000, 600_000_000), "cltv_expiry"),
        // B has nothing: it cannot afford any HTLC.
        (add(0, 1_000_000, 500), "does not cover its reserve"),
        (
            ChannelMessage::UpdateFee {
                channel_id: id,
                feerate: FeeratePerKw(3000),
            },
            "only the opener",
        ),
        (
            ChannelMessage::Fulfill {
                channel_id: id,
                id: 0,
                preimage: preimage(1),
                attribution: None,
            },
            "not an HTLC of ours",
        ),
        (
            ChannelMessage::RevokeAndAck {
                channel_id: id,
                per_commitment_secret: [1; 32],
                next_per_commitment_point: p.a.ch.ours.pubkeys.funding,
            },
            "without a commitment_signed",
        ),
    ];
    for (msg, needle) in cases {
        let mut q = Pair::open(ChannelType::StaticRemotekey, Msat(0), anchors());
        // The reference ledger holds a channel to BOLT 2; this peer breaks it on purpose.
        q.model = None;
        q.to_a.push_back(msg);
        q.deliver(true);
        assert_eq!(q.a.ch.phase, Phase::Failed, "{needle}");
        assert!(
            q.a.failed.as_deref().unwrap().contains(needle),
            "{:?} should contain {needle}",
            q.a.failed
        );
        assert!(matches!(q.to_b.front(), Some(ChannelMessage::Error { .. })));
        // Nothing was at stake but A's own funds, and its commitment is valid.
        verify_transaction(
            q.a.broadcast.last().unwrap(),
            &[q.funding_tx.output[1].clone()],
        )
        .unwrap();
    }
}

#[derive(Clone, Debug)]
enum Op {
    Pay {
        from_a: bool,
        amount: u64,
    },
    Fulfil {
        a: bool,
    },
    Fail {
        a: bool,
    },
    Deliver {
        to_a: bool,
        n: usize,
    },
    Commit {
        a: bool,
    },
    Fee(u32),
    Settle,
    Reconnect,
    Crash {
        a: bool,
    },
    /// A crash at a point inside the side's next step (see `Pair::apply`).
    CrashInStep {
        a: bool,
        point: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 1_000u64..40_000_000).prop_map(|(from_a, amount)| Op::Pay { from_a, amount }),
        2 => any::<bool>().prop_map(|a| Op::Fulfil { a }),
        1 => any::<bool>().prop_map(|a| Op::Fail { a }),
        6 => (any::<bool>(), 1usize..4).prop_map(|(to_a, n)| Op::Deliver { to_a, n }),
        3 => any::<bool>().prop_map(|a| Op::Commit { a }),
        1 => (253u32..20_000).prop_map(Op::Fee),
        1 => Just(Op::Settle),
        1 => Just(Op::Reconnect),
        1 => any::<bool>().prop_map(|a| Op::Crash { a }),
        2 => (any::<bool>(), 0usize..4).prop_map(|(a, point)| Op::CrashInStep { a, point }),
    ]
}

/// One case: a channel of either type, with or without a push, through `ops`.
fn run_ops(anchors_type: bool, pushed: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let t = if anchors_type {
        ChannelType::AnchorsZeroFeeHtlcTx
    } else {
        ChannelType::StaticRemotekey
    };
    // Without a push the accepter starts at zero and pays only from what it received.
    let mut p = Pair::open(t, Msat(if pushed { 300_000_000 } else { 0 }), anchors());
    let mut n = 0;
    for op in ops {
        match *op {
            Op::Pay { from_a, amount } => {
                n += 1;
                p.preimages.insert(preimage(n).payment_hash(), preimage(n));
                TALLY.offered.fetch_add(1, Relaxed);
                // Refusals (capacity, limits, not live) are fine; they change nothing.
                let r = p.try_event(from_a, add_htlc(amount, n));
                if r.is_ok() {
                    TALLY.added.fetch_add(1, Relaxed);
                }
            }
            Op::Fulfil { a } => {
                if let Some((id, hash)) = p
                    .party(a)
                    .ch
                    .unresolved_incoming()
                    .first()
                    .map(|h| (h.id, h.payment_hash))
                {
                    let preimage = p.preimages[&hash];
                    let _ = p.try_event(
                        a,
                        Event::Fulfill {
                            id,
                            preimage,
                            attribution: None,
                        },
                    );
                }
            }
            Op::Fail { a } => {
                if let Some(id) = p.party(a).ch.unresolved_incoming().first().map(|h| h.id) {
                    let _ = p.try_event(
                        a,
                        Event::Fail {
                            id,
                            reason: vec![0xfa],
                            attribution: None,
                        },
                    );
                }
            }
            Op::Deliver { to_a, n } => {
                for _ in 0..n {
                    p.deliver(to_a);
                }
            }
            Op::Commit { a } => {
                if p.party(a).ch.needs_commit() {
                    p.event(a, Event::Commit);
                }
            }
            Op::Fee(f) => {
                let _ = p.try_event(true, Event::UpdateFee(FeeratePerKw(f)));
            }
            Op::Settle => {
                if !p.connected {
                    p.reconnect();
                }
                p.settle();
            }
            Op::Reconnect => p.reconnect(),
            Op::Crash { a } => p.crash(a),
            Op::CrashInStep { a, point } => p.crash_at = Some((a, point)),
        }
        p.revive();
        prop_assert!(
            p.a.failed.is_none() && p.b.failed.is_none(),
            "failed: {:?} {:?}",
            p.a.failed,
            p.b.failed
        );
        if p.quiescent() {
            p.check_model();
        }
    }
    p.crash_at = None;
    if !p.connected {
        p.reconnect();
    }
    p.settle();
    p.check_model();
    for a in [true, false] {
        p.fulfil_all(a);
    }
    p.settle();
    p.check_model();
    p.check();
    prop_assert!(p.a.ch.htlcs().is_empty(), "every HTLC resolved");
    prop_assert_eq!(p.a.ch.ledger.base.clone(), {
        let mut v = p.b.ch.ledger.base.clone();
        std::mem::swap(&mut v.local, &mut v.remote);
        v
    });
    TALLY.cases.fetch_add(1, Relaxed);
    TALLY
        .accepted
        .fetch_add(p.model.as_ref().unwrap().accepted, Relaxed);
    Ok(())
}

/// Random interleavings of updates from both sides, lost connections and
/// crashes (between steps, and inside a step: before its store write or
/// between its sends): at every quiescent point both sides agree with the
/// reference ledger, every commitment and HTLC transaction verifies, and
/// in the end every HTLC is resolved once. 1,000 cases (`PROPTEST_CASES`
/// sets another count); a failure shrinks to a short list of `Op`s.
#[test]
fn random_interleavings_with_crashes_agree_with_the_reference_ledger() {
    use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/toolkit/proptest-regressions/channel_machine_ledger.txt",
        ))),
        ..Config::default()
    });
    let strategy = (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(op(), 1..60),
    );
    if let Err(e) = runner.run(&strategy, |(anchors_type, pushed, ops)| {
        run_ops(anchors_type, pushed, &ops)
    }) {
        panic!("{e}");
    }
    let get = |c: &AtomicU64| c.load(Relaxed);
    let (done, offered, added, accepted) = (
        get(&TALLY.cases),
        get(&TALLY.offered),
        get(&TALLY.added),
        get(&TALLY.accepted),
    );
    eprintln!(
        "{done} cases: {offered} HTLCs offered, {added} taken by the sender, {accepted} committed by the ledger; {} quiescent checks, {} HTLC transactions verified, {} crashes inside a step",
        get(&TALLY.quiescent_checks),
        get(&TALLY.htlc_txs_verified),
        get(&TALLY.crashes_in_a_step),
    );
    // The cases asked for, and the saved failures replayed first.
    assert!(done >= cases as u64);
    // A machine that refused every add would pass every other check: at
    // least a quarter of the offers (the rest meet a disconnected peer or
    // an empty balance) and one a case must reach both commitments.
    assert!(
        accepted * 4 >= offered && accepted >= done,
        "only {accepted} of {offered} HTLCs offered were committed, in {done} cases"
    );
    assert!(
        get(&TALLY.htlc_txs_verified) >= done,
        "HTLC transactions were verified in too few cases"
    );
    assert!(
        get(&TALLY.crashes_in_a_step) * 10 >= done,
        "too few crashes inside a step"
    );
}

/// An unannounced channel of `FUNDING` to `to`, as the tests open it.
fn open_request(to: &NodeSeed, channel_type: ChannelType, negotiated: Negotiated) -> OpenRequest {
    OpenRequest {
        peer: to.node_id(),
        chain_hash: chain_hash(),
        temporary_id: temporary_id([9; 32]),
        key_index: 0,
        funding: FUNDING,
        push: Msat(0),
        feerate: FeeratePerKw(2500),
        channel_type,
        announce: false,
        negotiated,
        config: Config::default(),
    }
}

/// Core Lightning opens every private channel with `option_scid_alias` in
/// its `channel_type` (bits 12, 22, 46); lnkit refused it as a type it does
/// not support. BOLT 2: take it when both sides negotiated scid_alias and
/// the channel is not announced, echo it in `accept_channel`, and never
/// with `announce_channel`.
#[test]
fn a_private_channel_with_option_scid_alias_in_its_type_is_accepted() {
    use lnkit::channel::{channel_type_bits_with, channel_type_parts};
    let sa = NodeSeed::new(&[1; 64], Network::Regtest);
    let sb = NodeSeed::new(&[2; 64], Network::Regtest);
    let with_alias = Negotiated {
        scid_alias: true,
        ..anchors()
    };
    for t in both_types() {
        let (_, actions) = Channel::open(&sa.channel(0).unwrap(), open_request(&sb, t, with_alias));
        let [Action::Send(ChannelMessage::Open(open))] = actions.as_slice() else {
            panic!()
        };
        let mut o = (**open).clone();
        // As CLN sends it: 0x400000401000 for anchors.
        o.params.channel_type = Some(channel_type_bits_with(t, true));
        if t == ChannelType::AnchorsZeroFeeHtlcTx {
            assert_eq!(
                hex::encode(o.params.channel_type.as_ref().unwrap()),
                "400000401000"
            );
        }
        let accept = |o: &lnkit::channel::OpenChannel, n: Negotiated| {
            Channel::accept(
                &sb.channel(0).unwrap(),
                sa.node_id(),
                0,
                chain_hash(),
                o,
                n,
                Config::default(),
            )
        };
        let (ch, actions) = accept(&o, with_alias).expect("accepted");
        assert!(ch.alias_only);
        let [Action::Send(ChannelMessage::Accept(a))] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert_eq!(
            a.params
                .channel_type
                .as_deref()
                .and_then(channel_type_parts),
            Some((t, true)),
            "accept_channel echoes the type"
        );
        let refused = accept(&o, anchors()).unwrap_err();
        assert!(
            refused
                .reason
                .contains("option_scid_alias was not negotiated"),
            "{}",
            refused.reason
        );
        o.channel_flags |= 1;
        let refused = accept(&o, with_alias).unwrap_err();
        assert!(
            refused.reason.contains("announce_channel"),
            "{}",
            refused.reason
        );
    }
}

#[test]
fn open_channel_that_breaks_bolt2_is_refused_with_the_reason() {
    let sa = NodeSeed::new(&[1; 64], Network::Regtest);
    let sb = NodeSeed::new(&[2; 64], Network::Regtest);
    let request = |channel_type| open_request(&sb, channel_type, anchors());
    let (_, actions) = Channel::open(
        &sa.channel(0).unwrap(),
        request(ChannelType::StaticRemotekey),
    );
    let [Action::Send(ChannelMessage::Open(open))] = actions.as_slice() else {
        panic!()
    };
    type Mutation = Box<dyn Fn(&mut lnkit::channel::OpenChannel)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|o| o.params.channel_type = None),
            "channel_type is required",
        ),
        (
            Box::new(|o| o.push = Msat(FUNDING.to_sat() * 1000 + 1)),
            "push_msat",
        ),
        (
            Box::new(|o| o.params.max_accepted_htlcs = 484),
            "max_accepted_htlcs",
        ),
        (
            Box::new(|o| o.params.dust_limit = Amount::from_sat(353)),
            "dust_limit_satoshis is below 354",
        ),
        (
            Box::new(|o| o.feerate = FeeratePerKw(100)),
            "feerate_per_kw 100",
        ),
        (
            Box::new(|o| o.params.to_self_delay = 5000),
            "to_self_delay 5000",
        ),
        (
            Box::new(|o| o.chain_hash = BlockHash::all_zeros()),
            "chain_hash",
        ),
        (Box::new(|o| o.funding = Amount::from_sat(1 << 24)), "2^24"),
        (
            Box::new(|o| o.params.channel_type = Some(vec![0x20, 0x00])),
            "not one we support",
        ),
    ];
    for (mutate, needle) in cases {
        let mut o = (**open).clone();
        mutate(&mut o);
        let err = Channel::accept(
            &sb.channel(0).unwrap(),
            sa.node_id(),
            0,
            chain_hash(),
            &o,
            anchors(),
            Config::default(),
        )
        .unwrap_err();
        assert!(
            err.reason.contains(needle),
            "{} should say {needle}",
            err.reason
        );
        assert!(
            matches!(err.message(), ChannelMessage::Error { channel_id, .. } if channel_id == o.temporary_channel_id)
        );
    }
    // An anchor channel is refused when the features did not negotiate anchors.
    let (_, actions) = Channel::open(
        &sa.channel(0).unwrap(),
        request(ChannelType::AnchorsZeroFeeHtlcTx),
    );
    let [Action::Send(ChannelMessage::Open(open))] = actions.as_slice() else {
        panic!()
    };
    let err = Channel::accept(
        &sb.channel(0).unwrap(),
        sa.node_id(),
        0,
        chain_hash(),
        open,
        Negotiated::default(),
        Config::default(),
    )
    .unwrap_err();
    assert!(err.reason.contains("anchors was not negotiated"));
}

#[test]
fn dust_htlcs_past_the_exposure_limit_are_flagged_for_failing() {
    let mut p = Pair::open(ChannelType::StaticRemotekey, Msat(0), anchors());
    // B accepts at most 2,500 sat of trimmed HTLCs; 1,000 sat HTLCs are trimmed at 2,500 sat/kw.
    p.b.ch.config.max_dust_htlc_exposure = Msat(2_500_000);
    for n in 1..=2 {
        p.pay(true, 1_000_000, n);
        p.settle();
    }
    assert_eq!(p.b.received.len(), 2);
    assert!(
        p.b.received.iter().all(|a| !p.b.ch.over_dust_exposure(a)),
        "2,000 sat of dust is within the limit"
    );
    p.pay(true, 1_000_000, 3);
    p.settle();
    let third = p.b.received[2].clone();
    assert!(
        p.b.ch.over_dust_exposure(&third),
        "the third takes the dust to 3,000 sat"
    );
    // A large HTLC is never dust, whatever the exposure.
    p.pay(true, 50_000_000, 4);
    p.settle();
    assert!(!p.b.ch.over_dust_exposure(&p.b.received[3].clone()));
    p.event(
        false,
        Event::Fail {
            id: third.id,
            reason: vec![7],
            attribution: None,
        },
    );
    p.settle();
    p.check();
    assert!(matches!(
        p.a.resolved.get(&third.id),
        Some(Outcome::Failed(_))
    ));
}

#[test]
fn a_funding_spend_is_classified_as_bolt5_names_it() {
    use lnkit::channel::onchain::FundingSpend;
    let mut p = Pair::open(ChannelType::AnchorsZeroFeeHtlcTx, Msat(0), anchors());
    p.pay(true, 20_000_000, 1);
    p.settle();
    p.fulfil_all(false);
    p.settle();
    let old = p.a.ch.signed_local_commitment(&p.a.signer).unwrap();
    let old_number = p.a.ch.ledger.local.number;
    p.pay(true, 30_000_000, 2);
    p.settle();
    p.check();
    let latest = p.a.ch.signed_local_commitment(&p.a.signer).unwrap();
    let n = p.a.ch.ledger.local.number;
    assert_eq!(
        p.a.ch.classify_spend(&p.a.signer, &latest),
        FundingSpend::OurCommitment { number: n }
    );
    assert_eq!(
        p.b.ch.classify_spend(&p.b.signer, &latest),
        FundingSpend::TheirCommitment { number: n }
    );
    assert_eq!(
        p.b.ch.classify_spend(&p.b.signer, &old),
        FundingSpend::Revoked { number: old_number }
    );
    let theirs = p.b.ch.signed_local_commitment(&p.b.signer).unwrap();
    assert_eq!(
        p.a.ch.classify_spend(&p.a.signer, &theirs),
        FundingSpend::TheirCommitment {
            number: p.b.ch.ledger.local.number
        }
    );
    p.fulfil_all(false);
    p.settle();
    let script = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0xaa; 20]));
    p.event(
        true,
        Event::Shutdown {
            script: script.clone(),
            feerate: FeeratePerKw(1000),
        },
    );
    p.settle();
    p.event(
        false,
        Event::Shutdown {
            script,
            feerate: FeeratePerKw(1000),
        },
    );
    p.settle();
    let close = p.a.broadcast.last().unwrap().clone();
    assert_eq!(
        p.a.ch.classify_spend(&p.a.signer, &close),
        FundingSpend::MutualClose
    );
    assert_eq!(
        p.b.ch.classify_spend(&p.b.signer, &close),
        FundingSpend::MutualClose
    );
}

/// Sign claim `w` of resolution `r` alone and check it with the kernel
/// against the output it spends.
fn claim_verifies(
    signer: &ChannelSigner,
    r: &lnkit::channel::onchain::Resolution,
    w: &lnkit::channel::onchain::Watched,
) {
    use lnkit::channel::onchain::Role;
    let dest = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0xbb; 20]));
    let tx = match (&w.htlc_tx, &w.claim) {
        (Some(h), _) => {
            let preimage = match w.role {
                Role::HtlcSuccess => Some(
                    *r.preimages
                        .iter()
                        .find(|p| Some(p.payment_hash()) == w.htlc.as_ref().map(|h| h.payment_hash))
                        .expect("a success claim has its preimage"),
                ),
                _ => None,
            };
            let mut tx = h.tx.clone();
            tx.input[0].witness = signer.htlc_witness(&tx, h, preimage.as_ref(), r.anchors);
            tx
        }
        // An anchor alone is dust: it is spent with a wallet coin (a CPFP); here alone, for its script.
        (None, Some(c)) if w.role == Role::Anchor => {
            let mut tx = Transaction {
                version: Version::TWO,
                lock_time: LockTime::ZERO,
                input: vec![bitcoin::TxIn {
                    previous_output: c.outpoint,
                    sequence: bitcoin::Sequence(c.sequence),
                    ..Default::default()
                }],
                output: vec![bitcoin::TxOut {
                    value: Amount::ZERO,
                    script_pubkey: ScriptBuf::new_op_return([]),
                }],
            };
            tx.input[0].witness = signer.claim_witness(&tx, 0, c);
            tx
        }
        (None, Some(c)) => signer
            .sign_claims(std::slice::from_ref(c), &dest, FeeratePerKw(253))
            .unwrap(),
        (None, None) => panic!("{:?} has no claim", w.role),
    };
    verify_transaction(&tx, std::slice::from_ref(&w.txout))
        .unwrap_or_else(|e| panic!("{:?}: the kernel refuses the claim: {e}", w.role));
}

fn roles(r: &lnkit::channel::onchain::Resolution) -> Vec<lnkit::channel::onchain::Role> {
    let mut v: Vec<_> = r.outputs.iter().map(|w| w.role).collect();
    v.sort_by_key(|r| r.name());
    v
}

#[test]
fn every_spend_of_the_funding_gets_the_claims_bolt5_names_and_each_verifies() {
    use lnkit::channel::onchain::{FundingSpend, Role};
    for t in both_types() {
        let negotiated = if t == ChannelType::AnchorsZeroFeeHtlcTx {
            anchors()
        } else {
            Negotiated::default()
        };
        let mut p = Pair::open(t, Msat(300_000_000), negotiated);
        // An HTLC each way, in flight.
        p.pay(true, 20_000_000, 1);
        p.pay(false, 25_000_000, 2);
        p.settle();
        p.check();
        let theirs = p.b.ch.signed_local_commitment(&p.b.signer).unwrap();
        let revoked_number = p.b.ch.ledger.local.number;
        let ours = p.a.ch.signed_local_commitment(&p.a.signer).unwrap();
        let stale = p.a.ch.clone();

        // Their current commitment: to_remote, ours to reclaim, theirs to claim by preimage.
        let mut r = p.a.ch.resolution(&p.a.signer, &theirs, &[]);
        assert_eq!(
            r.spend,
            FundingSpend::TheirCommitment {
                number: revoked_number
            }
        );
        assert_eq!(
            roles(&r),
            [Role::HtlcClaim, Role::HtlcReclaim, Role::ToRemote],
            "{t:?}"
        );
        r.provide_preimage(preimage(2));
        for w in &r.outputs {
            claim_verifies(&p.a.signer, &r, w);
        }
        // Our commitment: to_local, the anchor, HTLC-timeout, and HTLC-success with the preimage.
        let mut r = p.a.ch.resolution(&p.a.signer, &ours, &[]);
        assert!(matches!(r.spend, FundingSpend::OurCommitment { .. }));
        let mut want = vec![Role::HtlcSuccess, Role::HtlcTimeout, Role::ToLocal];
        if t == ChannelType::AnchorsZeroFeeHtlcTx {
            want.insert(0, Role::Anchor);
        }
        assert_eq!(roles(&r), want, "{t:?}");
        r.provide_preimage(preimage(2));
        for w in &r.outputs {
            claim_verifies(&p.a.signer, &r, w);
        }

        // Their next commitment, signed by us and not yet revoked-for: a third HTLC in it.
        p.pay(true, 30_000_000, 3);
        p.event(true, Event::Commit);
        while p.deliver(false) {}
        let next = p.b.ch.signed_local_commitment(&p.b.signer).unwrap();
        let r = p.a.ch.resolution(&p.a.signer, &next, &[]);
        assert_eq!(
            r.spend,
            FundingSpend::TheirCommitment {
                number: revoked_number + 1
            }
        );
        assert_eq!(
            r.outputs
                .iter()
                .filter(|w| w.role == Role::HtlcReclaim)
                .count(),
            2,
            "{t:?}: both our HTLCs, the new one too"
        );
        for w in r.outputs.iter().filter(|w| w.role != Role::HtlcClaim) {
            claim_verifies(&p.a.signer, &r, w);
        }
        p.settle();
        p.check();

        // Their old commitment, now revoked: one penalty takes to_local and both HTLCs.
        let htlcs = p.a.remote_commitments[&revoked_number].clone();
        let mut r = p.a.ch.resolution(&p.a.signer, &theirs, &htlcs);
        assert_eq!(
            r.spend,
            FundingSpend::Revoked {
                number: revoked_number
            }
        );
        let block = bitcoin::Block {
            header: bitcoin::constants::genesis_block(Network::Regtest).header,
            txdata: vec![theirs.clone()],
        };
        assert!(r.due(200).is_empty(), "nothing before it confirms");
        r.block_connected(&block, 200);
        assert_eq!(
            roles(&r),
            [Role::Penalty, Role::Penalty, Role::Penalty, Role::ToRemote],
            "{t:?}"
        );
        let group = &r.due(200)[0];
        assert_eq!(group.len(), 3, "the penalty claims all three at once");
        let inputs: Vec<_> = group
            .iter()
            .map(|i| r.outputs[*i].claim.clone().unwrap())
            .collect();
        let dest = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0xbb; 20]));
        let penalty =
            p.a.signer
                .sign_claims(&inputs, &dest, FeeratePerKw(253))
                .unwrap();
        let spent: Vec<_> = inputs.iter().map(|c| c.prevout.clone()).collect();
        verify_transaction(&penalty, &spent).expect("the kernel accepts the penalty");

        // A node that lost state sees their latest: only to_remote is known to be ours.
        let r = stale.resolution(
            &p.a.signer,
            &p.b.ch.signed_local_commitment(&p.b.signer).unwrap(),
            &[],
        );
        assert!(
            matches!(r.spend, FundingSpend::Future { .. }),
            "{:?}",
            r.spend
        );
        assert_eq!(roles(&r), [Role::ToRemote]);
        claim_verifies(&p.a.signer, &r, &r.outputs[0]);
    }
}

/// Every message a channel's life sends, encoded: open, funding, HTLCs
/// added, fulfilled and failed both ways, an update_fee, reestablish after
/// a disconnect, shutdown and closing_signed (both channel types).
fn message_corpus() -> Vec<Vec<u8>> {
    let mut seen = std::collections::BTreeSet::new();
    for t in both_types() {
        let mut p = Pair::open(t, Msat(100_000_000), anchors());
        p.pay(true, 10_000_000, 1);
        p.pay(false, 5_000_000, 2);
        p.settle();
        p.fulfil_all(false);
        p.settle();
        let id = p.a.ch.unresolved_incoming()[0].id;
        p.event(
            true,
            Event::Fail {
                id,
                reason: vec![0; 32],
                attribution: None,
            },
        );
        p.settle();
        p.event(true, Event::UpdateFee(FeeratePerKw(3000)));
        p.settle();
        p.pay(true, 1_000_000, 3);
        p.disconnect();
        p.reconnect();
        p.settle();
        p.fulfil_all(false);
        p.settle();
        for (a, byte) in [(true, 0xaa), (false, 0xbb)] {
            p.event(
                a,
                Event::Shutdown {
                    script: p2wpkh(byte),
                    feerate: FeeratePerKw(1000),
                },
            );
        }
        p.settle();
        seen.extend(p.delivered);
    }
    seen.into_iter().collect()
}

/// What `ChannelMessage::decode` is fuzzed for, as a stable property in
/// CI (issue 36): the corpus decodes and re-encodes byte for byte; any
/// mutation of it (bytes changed, cut, extended, a type changed) decodes to
/// an error or to a message that re-encodes to bytes that decode to it
/// again, and never panics.
#[test]
fn every_message_of_a_channels_life_round_trips() {
    let corpus = message_corpus();
    let names: std::collections::BTreeSet<&str> = corpus
        .iter()
        .map(|b| ChannelMessage::decode(b).unwrap().unwrap().name())
        .collect();
    for b in &corpus {
        let m = ChannelMessage::decode(b).unwrap().unwrap();
        assert_eq!(&m.encode(), b, "{}", m.name());
    }
    for needed in [
        "open_channel",
        "accept_channel",
        "funding_created",
        "funding_signed",
        "channel_ready",
        "update_add_htlc",
        "update_fulfill_htlc",
        "update_fail_htlc",
        "commitment_signed",
        "revoke_and_ack",
        "update_fee",
        "channel_reestablish",
        "shutdown",
        "closing_signed",
    ] {
        assert!(names.contains(needed), "{needed} missing from {names:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000)
    ))]

    #[test]
    fn channel_message_decode_never_panics_and_what_decodes_round_trips(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..40),
        retype in prop::option::of(any::<u16>()),
        shorten in any::<bool>(),
    ) {
        static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        let corpus = CORPUS.get_or_init(message_corpus);
        let mut b = corpus[pick.index(corpus.len())].clone();
        for (at, byte) in edits {
            let i = at.index(b.len());
            b[i] = byte;
        }
        if shorten {
            b.truncate(cut.index(b.len() + 1));
        } else {
            b.extend(tail);
        }
        if let (Some(t), true) = (retype, b.len() >= 2) {
            b[..2].copy_from_slice(&t.to_be_bytes());
        }
        if let Ok(Some(m)) = ChannelMessage::decode(&b) {
            let again = ChannelMessage::decode(&m.encode());
            prop_assert_eq!(again.ok().flatten(), Some(m));
        }
    }
}
