//! One conformance suite for both chain backends: the embedded regtest chain
//! on libbitcoinkernel, and a real bitcoind (built from the source the
//! `libbitcoinkernel-sys` crate vendors) over RPC. Each case is written once
//! against `dyn Regtest` and run against both by the `conformance!` macro, so
//! the embedded chain is held to what Bitcoin Core really does.

use crate::common;

use bitcoin::absolute::LockTime;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{
    Amount, Block, BlockHash, CompressedPublicKey, FeeRate, Network, OutPoint, PrivateKey,
    ScriptBuf, Sequence, Transaction, TxOut,
};
use lnkit::chain::bitcoind::{BitcoindChain, BitcoindConfig, RpcAuth};
use lnkit::chain::embedded::EmbeddedChain;
use lnkit::chain::{
    BlockRef, ChainError, ChainListener, ChainSource, FeeSource, Follower, Regtest, RejectKind,
    TxStatus, DEFAULT_FALLBACK_FEERATE, FEERATE_FLOOR,
};
use lnkit::keys::{DelayedPubkey, RevocationPubkey};
use lnkit::tx::close::delayed_output_spend;
use lnkit::tx::commitment::FeeratePerKw;
use lnkit::tx::funding::{
    build_funding, build_payment, FundingInput, FundingRequest, InputKind, PaymentRequest,
};
use lnkit::tx::sweep::{build_spend, SpendInput, WitnessTemplate};

use common::bitcoind::Bitcoind;

/// A backend under test, and how to restart it.
trait Backend {
    fn chain(&self) -> &dyn Regtest;
    fn restart(&mut self);
    /// Set things up so the source has no fee estimate of its own.
    fn fee_without_estimate(&self) -> (FeeSource, FeeratePerKw);
}

struct Embedded {
    dir: tempfile::TempDir,
    chain: Option<EmbeddedChain>,
}

impl Embedded {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chain = Some(EmbeddedChain::open(dir.path()).unwrap());
        Embedded { dir, chain }
    }
}

impl Backend for Embedded {
    fn chain(&self) -> &dyn Regtest {
        self.chain.as_ref().unwrap()
    }
    fn restart(&mut self) {
        self.chain = None; // releases the lock and flushes the kernel
        self.chain = Some(EmbeddedChain::open(self.dir.path()).unwrap());
    }
    fn fee_without_estimate(&self) -> (FeeSource, FeeratePerKw) {
        // Regtest has no fee market: the embedded chain reports its fixed rate.
        (FeeSource::Fixed, DEFAULT_FALLBACK_FEERATE)
    }
}

struct Core {
    node: Bitcoind,
    chain: Option<BitcoindChain>,
}

impl Core {
    fn new() -> Self {
        let node = Bitcoind::start();
        let chain = Some(node.chain());
        Core { node, chain }
    }
}

impl Backend for Core {
    fn chain(&self) -> &dyn Regtest {
        self.chain.as_ref().unwrap()
    }
    fn restart(&mut self) {
        self.chain = None;
        self.node.restart();
        self.chain = Some(self.node.chain());
    }
    fn fee_without_estimate(&self) -> (FeeSource, FeeratePerKw) {
        // A fresh regtest bitcoind has seen no transactions confirm.
        (FeeSource::Fallback, DEFAULT_FALLBACK_FEERATE)
    }
}

/// Write each case once; run it on both backends.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[test] fn $case() { super::$case(&mut super::Embedded::new()) })*
        }
        mod bitcoind {
            $(#[test] fn $case() { super::$case(&mut super::Core::new()) })*
        }
    };
}

conformance!(
    mining_moves_the_tip,
    a_toolkit_funding_transaction_confirms,
    a_double_spend_is_refused_with_its_reason,
    a_replacement_needs_more_fee,
    a_future_locktime_waits_for_its_height,
    a_csv_locked_to_local_sweep_waits_for_its_delay,
    an_immature_coinbase_is_refused,
    a_bad_signature_is_refused,
    a_zero_fee_parent_gets_in_with_its_child,
    a_reorg_disconnects_and_connects_in_order,
    the_follower_resumes_after_a_restart,
    the_fee_estimate_falls_back,
);

// ---- keys and transactions built by the toolkit ----

fn key() -> SecretKey {
    SecretKey::from_slice(&[0x42; 32]).unwrap()
}

fn pubkey() -> PublicKey {
    key().public_key(&Secp256k1::new())
}

/// Our P2WPKH script: coinbases and change pay it.
fn our_script() -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(pubkey()).wpubkey_hash())
}

fn other_script() -> ScriptBuf {
    let k = SecretKey::from_slice(&[0x43; 32]).unwrap();
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(k.public_key(&Secp256k1::new())).wpubkey_hash())
}

/// A spendable coin: the coinbase of block `height`, mined to our script.
fn coinbase_coin(chain: &dyn Regtest, height: u32) -> (OutPoint, TxOut) {
    let hash = chain.block_hash(height).unwrap().unwrap();
    let block = chain.block(&hash).unwrap();
    let cb = &block.txdata[0];
    assert_eq!(cb.output[0].script_pubkey, our_script());
    (OutPoint::new(cb.compute_txid(), 0), cb.output[0].clone())
}

/// A chain with `coins` mature coinbases of ours (blocks 1..=coins).
fn with_coins(chain: &dyn Regtest, coins: u32) -> Vec<(OutPoint, TxOut)> {
    chain.mine(100 + coins, &our_script()).unwrap();
    (1..=coins).map(|h| coinbase_coin(chain, h)).collect()
}

/// A toolkit funding input spending our `coin`.
fn our_input(coin: &(OutPoint, TxOut)) -> FundingInput {
    FundingInput {
        previous_output: coin.0,
        amount: coin.1.value,
        kind: InputKind::P2wpkh,
        key: Some(PrivateKey::new(key(), Network::Regtest)),
        script_pubkey: None,
    }
}

/// Pay `value` to `script` from `coin` (toolkit's `build_payment`), change back to us.
fn pay(coin: &(OutPoint, TxOut), script: ScriptBuf, value: Amount, sat_per_vb: u64) -> Transaction {
    build_payment(
        &Secp256k1::new(),
        &PaymentRequest {
            inputs: vec![our_input(coin)],
            output: TxOut {
                value,
                script_pubkey: script,
            },
            change_script: our_script(),
            feerate: FeeRate::from_sat_per_vb(sat_per_vb).unwrap(),
        },
    )
    .unwrap()
    .tx
}

/// Spend `coin` whole to `script`, with an exact `fee`, a lock time and a sequence.
fn spend(
    coin: &(OutPoint, TxOut),
    fee_sat_per_kw: u32,
    lock: Option<LockTime>,
    seq: Sequence,
) -> Transaction {
    build_spend(
        &Secp256k1::new(),
        &[SpendInput {
            outpoint: coin.0,
            prevout: coin.1.clone(),
            template: WitnessTemplate::P2wpkh,
            key: key(),
            sequence: seq,
            lock_time: lock,
        }],
        &other_script(),
        FeeratePerKw(fee_sat_per_kw),
    )
    .unwrap()
}

fn rejected(result: Result<bitcoin::Txid, ChainError>) -> (RejectKind, String) {
    match result {
        Err(ChainError::Rejected { rejection, .. }) => (rejection.kind, rejection.reason),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn status(chain: &dyn Regtest, txid: &bitcoin::Txid) -> Option<TxStatus> {
    chain.transaction(txid).unwrap().map(|t| t.status)
}

// ---- the cases ----

fn mining_moves_the_tip(b: &mut dyn Backend) {
    let chain = b.chain();
    let start = chain.best_block().unwrap();
    assert_eq!(start.height, 0);
    let hashes = chain.mine(3, &our_script()).unwrap();
    assert_eq!(hashes.len(), 3);
    let tip = chain.best_block().unwrap();
    assert_eq!(
        tip,
        BlockRef {
            height: 3,
            hash: hashes[2]
        }
    );
    for (i, hash) in hashes.iter().enumerate() {
        let height = i as u32 + 1;
        assert_eq!(chain.block_hash(height).unwrap(), Some(*hash));
        let header = chain.header(hash).unwrap();
        assert_eq!(header.height, height);
        let block: Block = chain.block(hash).unwrap();
        assert_eq!(block.block_hash(), *hash);
        assert_eq!(block.header, header.header);
        assert!(block.check_merkle_root() && block.check_witness_commitment());
        assert_eq!(block.txdata[0].output[0].script_pubkey, our_script());
        assert_eq!(block.txdata[0].output[0].value, Amount::from_int_btc(50));
    }
    assert_eq!(chain.block_hash(4).unwrap(), None);
    assert!(matches!(
        chain.header(&BlockHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros())),
        Err(ChainError::UnknownBlock(_))
    ));
}

fn a_toolkit_funding_transaction_confirms(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let secp = Secp256k1::new();
    let remote = SecretKey::from_slice(&[0x77; 32])
        .unwrap()
        .public_key(&secp);
    let funding = build_funding(
        &secp,
        &FundingRequest {
            inputs: vec![our_input(coin)],
            local_funding_pubkey: pubkey(),
            remote_funding_pubkey: remote,
            funding_amount: Amount::from_sat(1_000_000),
            change_script: our_script(),
            feerate: FeeRate::from_sat_per_vb(2).unwrap(),
        },
    )
    .unwrap();
    let tx = funding.payment.tx;
    let txid = chain.broadcast(&tx).unwrap();
    assert_eq!(txid, tx.compute_txid());
    assert_eq!(status(chain, &txid), Some(TxStatus::Mempool));
    // A rebroadcast while it waits is fine, as Core's sendrawtransaction says.
    assert_eq!(chain.broadcast(&tx).unwrap(), txid);

    let mined = chain.mine(1, &our_script()).unwrap();
    let block = chain.block(&mined[0]).unwrap();
    assert!(block.txdata.iter().any(|t| t.compute_txid() == txid));
    let tip = chain.best_block().unwrap();
    assert_eq!(
        status(chain, &txid),
        Some(TxStatus::Confirmed {
            block: tip,
            confirmations: 1
        })
    );
    let funding_out = chain
        .utxo(&OutPoint::new(txid, 0))
        .unwrap()
        .expect("funding output unspent");
    assert_eq!(
        funding_out.txout.script_pubkey,
        funding.funding_script.to_p2wsh()
    );
    assert_eq!(funding_out.txout.value, Amount::from_sat(1_000_000));
    assert_eq!(funding_out.height, tip.height);
    assert!(!funding_out.coinbase);
    // Once confirmed, broadcasting it again is refused as known.
    assert_eq!(rejected(chain.broadcast(&tx)).0, RejectKind::AlreadyKnown);
    assert_eq!(chain.utxo(&coin.0).unwrap(), None, "the coinbase is spent");
    chain.mine(1, &our_script()).unwrap();
    assert!(matches!(
        status(chain, &txid),
        Some(TxStatus::Confirmed {
            confirmations: 2,
            ..
        })
    ));
}

fn a_double_spend_is_refused_with_its_reason(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let first = pay(coin, other_script(), Amount::from_sat(100_000), 2);
    chain.broadcast(&first).unwrap();
    chain.mine(1, &our_script()).unwrap();
    // The same coin again, once the first spend is confirmed, even paying more.
    let second = pay(coin, other_script(), Amount::from_sat(200_000), 20);
    let (kind, reason) = rejected(chain.broadcast(&second));
    assert_eq!(kind, RejectKind::MissingOrSpentInputs, "{reason}");
    assert!(
        kind.never_confirms(),
        "MissingOrSpentInputs: the wallet must not count on it"
    );
}

fn a_replacement_needs_more_fee(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let first = pay(coin, other_script(), Amount::from_sat(100_000), 5);
    chain.broadcast(&first).unwrap();
    // A conflict paying less is refused: Core's full RBF wants more fee.
    let cheaper = pay(coin, other_script(), Amount::from_sat(100_001), 4);
    let (kind, reason) = rejected(chain.broadcast(&cheaper));
    assert_eq!(kind, RejectKind::ReplacementRejected, "{reason}");
    assert!(
        kind.never_confirms(),
        "ReplacementRejected: the wallet must not count on it"
    );
    assert!(reason.starts_with("insufficient fee"), "{reason}");
    // One paying more replaces it.
    let better = pay(coin, other_script(), Amount::from_sat(100_002), 10);
    let txid = chain.broadcast(&better).unwrap();
    assert_eq!(status(chain, &first.compute_txid()), None, "replaced");
    chain.mine(1, &our_script()).unwrap();
    assert!(matches!(
        status(chain, &txid),
        Some(TxStatus::Confirmed { .. })
    ));
}

fn a_future_locktime_waits_for_its_height(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let tip = chain.best_block().unwrap().height;
    // nLockTime = H may go into block H + 1: with the tip at H.
    let lock = LockTime::from_height(tip + 2).unwrap();
    let tx = spend(coin, 1000, Some(lock), Sequence::ENABLE_LOCKTIME_NO_RBF);
    for _ in 0..2 {
        let (kind, reason) = rejected(chain.broadcast(&tx));
        assert_eq!(kind, RejectKind::NonFinal, "{reason}");
        assert!(!kind.never_confirms(), "a timelock passes");
        chain.mine(1, &our_script()).unwrap();
    }
    assert_eq!(chain.best_block().unwrap().height, tip + 2);
    chain.broadcast(&tx).unwrap();
}

fn a_csv_locked_to_local_sweep_waits_for_its_delay(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let secp = Secp256k1::new();
    // A BOLT 3 to_local output with to_self_delay 5, paid by a toolkit payment.
    let delayed_key = SecretKey::from_slice(&[0x55; 32]).unwrap();
    let revocation = SecretKey::from_slice(&[0x66; 32])
        .unwrap()
        .public_key(&secp);
    let to_self_delay = 5u16;
    let script = lnkit::script::to_local(
        &RevocationPubkey(revocation),
        to_self_delay,
        &DelayedPubkey(delayed_key.public_key(&secp)),
    );
    let lockup = pay(coin, script.to_p2wsh(), Amount::from_sat(500_000), 2);
    chain.broadcast(&lockup).unwrap();
    chain.mine(1, &our_script()).unwrap();
    let confirmed_at = chain.best_block().unwrap().height;
    let sweep = build_spend(
        &secp,
        &[delayed_output_spend(
            OutPoint::new(lockup.compute_txid(), 0),
            lockup.output[0].clone(),
            script,
            delayed_key,
            to_self_delay,
        )],
        &our_script(),
        FeeratePerKw(1000),
    )
    .unwrap();
    // The sweep may go into block confirmed_at + 5 (with the tip at
    // confirmed_at + 4): refused while the next block is earlier.
    while chain.best_block().unwrap().height < confirmed_at + u32::from(to_self_delay) - 2 {
        let (kind, reason) = rejected(chain.broadcast(&sweep));
        assert_eq!(kind, RejectKind::NonBip68Final, "{reason}");
        chain.mine(1, &our_script()).unwrap();
    }
    let (kind, _) = rejected(chain.broadcast(&sweep));
    assert_eq!(kind, RejectKind::NonBip68Final, "one block early");
    chain.mine(1, &our_script()).unwrap();
    let txid = chain.broadcast(&sweep).unwrap();
    chain.mine(1, &our_script()).unwrap();
    assert!(matches!(
        status(chain, &txid),
        Some(TxStatus::Confirmed { block, .. }) if block.height == confirmed_at + u32::from(to_self_delay)
    ));
}

fn an_immature_coinbase_is_refused(b: &mut dyn Backend) {
    let chain = b.chain();
    chain.mine(99, &our_script()).unwrap();
    let coin = coinbase_coin(chain, 1);
    // At tip 99 the next block is 100: depth 99 < 100.
    let tx = spend(&coin, 1000, None, Sequence::MAX);
    let (kind, reason) = rejected(chain.broadcast(&tx));
    assert_eq!(kind, RejectKind::PrematureCoinbaseSpend, "{reason}");
    assert!(
        !kind.never_confirms(),
        "PrematureCoinbaseSpend: the wallet may count on it"
    );
    chain.mine(1, &our_script()).unwrap();
    chain.broadcast(&tx).unwrap();
}

fn a_bad_signature_is_refused(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let mut tx = spend(coin, 1000, None, Sequence::MAX);
    // Flip a byte inside the DER signature.
    let mut items: Vec<Vec<u8>> = tx.input[0].witness.iter().map(|w| w.to_vec()).collect();
    items[0][10] ^= 1;
    tx.input[0].witness = bitcoin::Witness::from_slice(&items);
    let (kind, reason) = rejected(chain.broadcast(&tx));
    assert_eq!(kind, RejectKind::ScriptVerifyFailed, "{reason}");
}

fn a_zero_fee_parent_gets_in_with_its_child(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    // The parent pays no fee at all, as an anchor commitment may.
    let parent = spend(coin, 0, None, Sequence::MAX);
    let (kind, reason) = rejected(chain.broadcast(&parent));
    assert_eq!(kind, RejectKind::FeeTooLow, "{reason}");
    let out = (
        OutPoint::new(parent.compute_txid(), 0),
        parent.output[0].clone(),
    );
    // The child is signed by the other key: rebuild it with that key.
    let child = build_spend(
        &Secp256k1::new(),
        &[SpendInput {
            outpoint: out.0,
            prevout: out.1,
            template: WitnessTemplate::P2wpkh,
            key: SecretKey::from_slice(&[0x43; 32]).unwrap(),
            sequence: Sequence::MAX,
            lock_time: None,
        }],
        &our_script(),
        FeeratePerKw(5000),
    )
    .unwrap();
    chain.broadcast_package(&parent, &child).unwrap();
    assert_eq!(
        status(chain, &parent.compute_txid()),
        Some(TxStatus::Mempool)
    );
    chain.mine(1, &our_script()).unwrap();
    assert!(matches!(
        status(chain, &parent.compute_txid()),
        Some(TxStatus::Confirmed { .. })
    ));
    assert!(matches!(
        status(chain, &child.compute_txid()),
        Some(TxStatus::Confirmed { .. })
    ));
}

/// A listener that records what it is told.
#[derive(Default)]
struct Recorder {
    events: Vec<(&'static str, u32, BlockHash)>,
    confirmed: Vec<bitcoin::Txid>,
}

impl ChainListener for Recorder {
    fn block_connected(&mut self, block: &Block, height: u32) {
        self.events.push(("connected", height, block.block_hash()));
        self.confirmed
            .extend(block.txdata.iter().map(|t| t.compute_txid()));
    }
    fn block_disconnected(&mut self, header: &bitcoin::block::Header, height: u32) {
        self.events
            .push(("disconnected", height, header.block_hash()));
    }
}

fn a_reorg_disconnects_and_connects_in_order(b: &mut dyn Backend) {
    let chain = b.chain();
    let coin = &with_coins(chain, 1)[0];
    let mut follower = Follower::new(chain.best_block().unwrap());
    let mut rec = Recorder::default();
    let tx = pay(coin, other_script(), Amount::from_sat(100_000), 2);
    let txid = chain.broadcast(&tx).unwrap();
    let stale = chain.mine(2, &our_script()).unwrap();
    follower.poll(chain, &mut rec).unwrap();
    assert!(rec.confirmed.contains(&txid));
    let tip = chain.best_block().unwrap().height;
    assert!(matches!(
        status(chain, &txid),
        Some(TxStatus::Confirmed { .. })
    ));

    let fresh = chain.reorg(2, 3, &our_script()).unwrap();
    rec.events.clear();
    let summary = follower.poll(chain, &mut rec).unwrap();
    assert_eq!((summary.disconnected, summary.connected), (2, 3));
    let expected = vec![
        ("disconnected", tip, stale[1]),
        ("disconnected", tip - 1, stale[0]),
        ("connected", tip - 1, fresh[0]),
        ("connected", tip, fresh[1]),
        ("connected", tip + 1, fresh[2]),
    ];
    assert_eq!(rec.events, expected);
    assert_eq!(follower.tip(), chain.best_block().unwrap());
    // Confirmed only on the stale branch: unconfirmed now, back in the mempool.
    assert_eq!(status(chain, &txid), Some(TxStatus::Mempool));
    assert_eq!(chain.utxo(&OutPoint::new(txid, 0)).unwrap(), None);
    assert!(
        chain.utxo(&coin.0).unwrap().is_some(),
        "its input is unspent again"
    );
    // And it confirms again in the next block.
    chain.mine(1, &our_script()).unwrap();
    assert!(matches!(
        status(chain, &txid),
        Some(TxStatus::Confirmed { .. })
    ));
}

fn the_follower_resumes_after_a_restart(b: &mut dyn Backend) {
    b.chain().mine(5, &our_script()).unwrap();
    let mut follower = Follower::new(BlockRef {
        height: 0,
        hash: b.chain().block_hash(0).unwrap().unwrap(),
    });
    let mut rec = Recorder::default();
    follower.poll(b.chain(), &mut rec).unwrap();
    assert_eq!(rec.events.len(), 5);
    // What the caller persisted before it went down.
    let persisted = follower.tip();

    b.restart();
    let chain = b.chain();
    assert_eq!(
        chain.best_block().unwrap(),
        persisted,
        "the chain survived the restart"
    );
    // While the caller is down, the chain reorgs its last block and grows.
    let fresh = chain.reorg(1, 3, &our_script()).unwrap();
    let mut follower = Follower::new(persisted);
    rec.events.clear();
    follower.poll(chain, &mut rec).unwrap();
    assert_eq!(
        rec.events,
        vec![
            ("disconnected", 5, persisted.hash),
            ("connected", 5, fresh[0]),
            ("connected", 6, fresh[1]),
            ("connected", 7, fresh[2]),
        ]
    );
    // Nothing new: nothing delivered.
    rec.events.clear();
    let summary = follower.poll(chain, &mut rec).unwrap();
    assert_eq!((summary.connected, summary.disconnected), (0, 0));
    assert!(rec.events.is_empty());
}

fn the_fee_estimate_falls_back(b: &mut dyn Backend) {
    let (source, rate) = b.fee_without_estimate();
    for target in [1, 6, 144] {
        let est = b.chain().fee_estimate(target).unwrap();
        assert_eq!(est.source, source);
        assert_eq!(est.feerate, rate);
        assert_eq!(est.target_blocks, target);
        assert!(est.feerate >= FEERATE_FLOOR);
    }
}

// ---- what only one backend has ----

#[test]
fn embedded_fee_rate_is_settable_persisted_and_floored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let chain = EmbeddedChain::open(dir.path()).unwrap();
        chain.set_feerate(FeeratePerKw(5000)).unwrap();
        assert_eq!(chain.fee_estimate(6).unwrap().feerate, FeeratePerKw(5000));
    }
    let chain = EmbeddedChain::open(dir.path()).unwrap();
    assert_eq!(chain.fee_estimate(6).unwrap().feerate, FeeratePerKw(5000));
    chain.set_feerate(FeeratePerKw(100)).unwrap();
    assert_eq!(chain.fee_estimate(6).unwrap().feerate, FEERATE_FLOOR);
}

#[test]
fn embedded_chain_dir_is_locked_against_a_second_user() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedChain::open(dir.path()).unwrap();
    let err = EmbeddedChain::open(dir.path()).unwrap_err();
    assert!(matches!(err, ChainError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    drop(first);
    EmbeddedChain::open(dir.path()).unwrap();
}

#[test]
fn embedded_mempool_persists_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let txid = {
        let chain = EmbeddedChain::open(dir.path()).unwrap();
        let coin = &with_coins(&chain, 1)[0];
        chain
            .broadcast(&pay(coin, other_script(), Amount::from_sat(10_000), 3))
            .unwrap()
    };
    let chain = EmbeddedChain::open(dir.path()).unwrap();
    assert_eq!(status(&chain, &txid), Some(TxStatus::Mempool));
    chain.mine(1, &our_script()).unwrap();
    assert!(matches!(
        status(&chain, &txid),
        Some(TxStatus::Confirmed { .. })
    ));
}

#[test]
fn embedded_blocks_take_the_best_feerate_first_and_cpfp_counts() {
    let chain_dir = tempfile::tempdir().unwrap();
    let chain = EmbeddedChain::open(chain_dir.path()).unwrap();
    let coins = with_coins(&chain, 2);
    // A parent at 2 sat/vB whose child pays 50 sat/vB, and a lone 10 sat/vB.
    let parent = pay(&coins[0], other_script(), Amount::from_sat(10_000), 2);
    let change = (
        OutPoint::new(parent.compute_txid(), 1),
        parent.output[1].clone(),
    );
    let child = spend(&change, 12_500, None, Sequence::MAX);
    let medium = pay(&coins[1], other_script(), Amount::from_sat(10_000), 10);
    for tx in [&parent, &medium, &child] {
        chain.broadcast(tx).unwrap();
    }
    let block = chain
        .block(&chain.mine(1, &our_script()).unwrap()[0])
        .unwrap();
    let order: Vec<_> = block
        .txdata
        .iter()
        .skip(1)
        .map(|t| t.compute_txid())
        .collect();
    // The child pays for its parent: that package goes first, parent first.
    assert_eq!(
        order,
        vec![
            parent.compute_txid(),
            child.compute_txid(),
            medium.compute_txid()
        ]
    );
    // The coinbase collects the block's fees on top of the subsidy.
    let spent = |t: &Transaction| -> Amount {
        t.input
            .iter()
            .map(|i| {
                coins
                    .iter()
                    .chain(std::iter::once(&change))
                    .find(|c| c.0 == i.previous_output)
                    .unwrap()
                    .1
                    .value
            })
            .sum()
    };
    let fees: Amount = [&parent, &child, &medium]
        .iter()
        .map(|t| spent(t) - t.output.iter().map(|o| o.value).sum::<Amount>())
        .sum();
    assert_eq!(
        block.txdata[0].output[0].value,
        Amount::from_int_btc(50) + fees
    );
}

#[test]
fn bitcoind_errors_say_what_to_fix() {
    let node = Bitcoind::start();
    let url = node.url();
    // Wrong password: says which auth was tried.
    let err = BitcoindChain::connect(BitcoindConfig::new(
        url.clone(),
        RpcAuth::UserPass {
            user: "alice".into(),
            password: "wrong".into(),
        },
        Network::Regtest,
    ))
    .unwrap_err();
    assert!(matches!(err, ChainError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("user \"alice\""), "{err}");
    // A missing cookie file names it.
    let err = BitcoindChain::connect(BitcoindConfig::new(
        url.clone(),
        RpcAuth::Cookie("/nonexistent/.cookie".into()),
        Network::Regtest,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/.cookie"), "{err}");
    // Wrong network: genesis seen vs expected.
    let err = BitcoindChain::connect(BitcoindConfig::new(
        url.clone(),
        RpcAuth::Cookie(node.cookie()),
        Network::Signet,
    ))
    .unwrap_err();
    assert!(matches!(err, ChainError::WrongNetwork { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&lnkit::chain::genesis_hash(Network::Regtest).to_string()),
        "{text}"
    );
    assert!(
        text.contains(&lnkit::chain::genesis_hash(Network::Signet).to_string()),
        "{text}"
    );
    // Unreachable: says where.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = BitcoindChain::connect(BitcoindConfig::new(
        format!("http://127.0.0.1:{port}"),
        RpcAuth::Cookie(node.cookie()),
        Network::Regtest,
    ))
    .unwrap_err();
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    // The fallback rate is the configured one, floored.
    let mut config = BitcoindConfig::new(url, RpcAuth::Cookie(node.cookie()), Network::Regtest);
    config.fallback_feerate = FeeratePerKw(10);
    let chain = BitcoindChain::connect(config).unwrap();
    assert_eq!(chain.fee_estimate(6).unwrap().feerate, FEERATE_FLOOR);
}

#[test]
fn bitcoind_without_txindex_says_so() {
    let node = Bitcoind::start_with(&[]);
    let chain = node.chain();
    let coin = &with_coins(&chain, 1)[0];
    let txid = chain
        .broadcast(&pay(coin, other_script(), Amount::from_sat(10_000), 3))
        .unwrap();
    assert_eq!(status(&chain, &txid), Some(TxStatus::Mempool));
    chain.mine(1, &our_script()).unwrap();
    let err = chain.transaction(&txid).unwrap_err();
    assert!(err.to_string().contains("-txindex"), "{err}");
}

#[test]
fn bitcoind_pruned_block_is_named() {
    // `-fastprune` (regtest only) makes block files 64 KiB, so a few hundred
    // blocks fill several; Core keeps the last 288 blocks whatever we ask.
    let node = Bitcoind::start_with(&["-prune=1", "-fastprune"]);
    let chain = node.chain();
    chain.mine(800, &our_script()).unwrap();
    node.cli(&["pruneblockchain", "500"]);
    let old = chain.block_hash(1).unwrap().unwrap();
    let err = chain.block(&old).unwrap_err();
    assert!(matches!(err, ChainError::BlockPruned { .. }), "{err:?}");
    assert!(err.to_string().contains("pruned"), "{err}");
    // Its header is still there, and recent blocks are whole.
    assert_eq!(chain.header(&old).unwrap().height, 1);
    let recent = chain.block_hash(790).unwrap().unwrap();
    assert!(chain.block(&recent).is_ok());
}
