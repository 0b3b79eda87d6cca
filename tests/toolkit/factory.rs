//! Channel factories: the accounting of every step, the errors the issue
//! lists, every transaction through Bitcoin Core's interpreter, and the
//! invalidation layer's race on the embedded chain: an older allocation
//! broadcast after a newer one loses.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{
    Amount, CompressedPublicKey, FeeRate, Network, OutPoint, PrivateKey, ScriptBuf, Transaction,
    TxOut,
};
use lnkit::chain::embedded::EmbeddedChain;
use lnkit::chain::{ChainError, ChainSource, Regtest, RejectKind};
use lnkit::factory::build::{self, AllocationRequest, HookRequest};
use lnkit::factory::{exit, space, Channel, Factory, FactoryError, Layer, Party};
use lnkit::tx::funding::{FundingInput, InputKind};
use lnkit::verify::verify_transaction;

const N: usize = 4;

fn key(i: usize) -> SecretKey {
    SecretKey::from_slice(&[0x31 + i as u8; 32]).unwrap()
}

fn pubkey(i: usize) -> PublicKey {
    key(i).public_key(&Secp256k1::new())
}

fn p2wpkh(i: usize) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(pubkey(i)).wpubkey_hash())
}

fn keys() -> Vec<SecretKey> {
    (0..N).map(key).collect()
}

/// A fixed seed per call, so runs sign identically.
fn seeds() -> impl FnMut(usize) -> [u8; 32] {
    let mut n = 0u8;
    move |i| {
        n = n.wrapping_add(1);
        [n ^ (i as u8); 32]
    }
}

/// Party i's coin: output 0 of some earlier transaction, or a real coinbase.
fn coin(i: usize, outpoint: Option<OutPoint>, value: Amount) -> FundingInput {
    FundingInput {
        previous_output: outpoint.unwrap_or(OutPoint::new(
            bitcoin::Txid::from_byte_array([0xa0 + i as u8; 32]),
            0,
        )),
        amount: value,
        kind: InputKind::P2wpkh,
        key: Some(PrivateKey::new(key(i), Network::Regtest)),
        script_pubkey: None,
    }
}

fn request(coins: Vec<FundingInput>, layer: Layer) -> HookRequest {
    HookRequest {
        parties: (0..N)
            .map(|i| Party {
                name: ["alice", "bob", "carol", "dave"][i].into(),
                pubkey: pubkey(i),
                amount: Amount::from_sat(1_000_000),
                payout_script: p2wpkh(i),
            })
            .collect(),
        inputs: coins.into_iter().map(|c| vec![c]).collect(),
        feerate: FeeRate::from_sat_per_vb(2).unwrap(),
        layer,
    }
}

fn channel(a: usize, b: usize, sat_a: u64, sat_b: u64) -> Channel {
    Channel {
        parties: [a, b],
        amounts: [Amount::from_sat(sat_a), Amount::from_sat(sat_b)],
        funding_pubkeys: [pubkey(a), pubkey(b)],
    }
}

fn three_channels() -> Vec<Channel> {
    vec![
        channel(0, 1, 400_000, 300_000),
        channel(1, 2, 200_000, 0),
        channel(2, 3, 500_000, 500_000),
    ]
}

fn created(layer: Layer) -> (Factory, Transaction, Vec<TxOut>) {
    let coins: Vec<_> = (0..N)
        .map(|i| coin(i, None, Amount::from_sat(2_000_000)))
        .collect();
    let hook = build::create(&Secp256k1::new(), &request(coins, layer)).unwrap();
    let spent = hook
        .spent_outputs
        .iter()
        .map(|o| o.clone().unwrap())
        .collect();
    (hook.factory, hook.tx, spent)
}

fn allocated(f: &Factory, channels: Vec<Channel>) -> Factory {
    build::allocate(
        &Secp256k1::new(),
        f,
        AllocationRequest {
            channels,
            shares: None,
        },
        &keys(),
        &mut seeds(),
    )
    .unwrap()
}

fn total(tx: &Transaction) -> Amount {
    tx.output.iter().map(|o| o.value).sum()
}

#[test]
fn every_transaction_passes_the_interpreter_and_every_sat_is_accounted_for() {
    let (f, hook, spent) = created(Layer::new(6, 3).unwrap());
    verify_transaction(&hook, &spent).unwrap();
    assert_eq!(hook.output[0].value, Amount::from_sat(4_000_000));
    assert_eq!(f.hook_amount, Amount::from_sat(4_000_000));
    let f1 = allocated(&f, three_channels());
    let kickoff = f1.kickoff.clone().unwrap();
    verify_transaction(&kickoff, &[build::hook_output(&f1).unwrap()]).unwrap();
    let alloc = f1.allocation.clone().unwrap();
    verify_transaction(&alloc.tx, &[kickoff.output[0].clone()]).unwrap();
    assert_eq!(alloc.number, 0);
    assert_eq!(alloc.delay_blocks, 18);
    assert_eq!(alloc.tx.input[0].sequence.0, 18, "BIP 68 blocks");
    // The claims are the kickoff output; the allocation is the claims less its fee.
    assert_eq!(
        f1.claims.iter().copied().sum::<Amount>(),
        kickoff.output[0].value
    );
    let fee = kickoff.output[0].value - total(&alloc.tx);
    assert!(fee > Amount::ZERO);
    assert_eq!(
        alloc.tx.vsize() as u64 * 2,
        fee.to_sat(),
        "the allocation pays 2 sat/vB of its size"
    );
    // Each channel is its output, paying the BOLT 3 funding script.
    for (k, c) in alloc.channels.iter().enumerate() {
        assert_eq!(alloc.tx.output[k].value, c.capacity());
        assert_eq!(
            alloc.tx.output[k].script_pubkey,
            c.funding_script().to_p2wsh()
        );
    }
    // Alice put 400,000 in channels: her share is her claim less that and her part of the fee.
    let alice_share = alloc.shares[0];
    assert!(f1.claims[0] - Amount::from_sat(400_000) - alice_share <= fee);

    // An update at the next lower timelock, after a payment in channel 0.
    let moved = build::settle(
        &f1,
        &[Some([Amount::from_sat(350_000), Amount::from_sat(350_000)])],
    )
    .unwrap();
    assert_eq!(moved.claims[0] + Amount::from_sat(50_000), f1.claims[0]);
    assert_eq!(moved.claims[1], f1.claims[1] + Amount::from_sat(50_000));
    let f2 = allocated(
        &moved,
        vec![channel(0, 2, 300_000, 0), channel(2, 3, 500_000, 500_000)],
    );
    let alloc2 = f2.allocation.clone().unwrap();
    assert_eq!((alloc2.number, alloc2.delay_blocks), (1, 12));
    assert_eq!(f2.kickoff, f1.kickoff, "the kickoff is signed once");
    verify_transaction(&alloc2.tx, &[kickoff.output[0].clone()]).unwrap();

    // The cooperative close pays everyone what it owns, from the hook.
    let closed = build::close(&Secp256k1::new(), &f2, &keys(), &mut seeds()).unwrap();
    verify_transaction(&closed.tx, &[build::hook_output(&f2).unwrap()]).unwrap();
    assert_eq!(closed.tx.input[0].previous_output.txid, hook.compute_txid());
    assert_eq!(total(&closed.tx) + closed.fee, f.hook_amount);
    assert_eq!(closed.fee.to_sat(), closed.tx.vsize() as u64 * 2);
    // Bob received 50,000 in channel 0: he leaves with more than he put in, less fees.
    assert!(closed.payouts[1] > Amount::from_sat(1_040_000));
    assert!(closed.payouts[0] < Amount::from_sat(960_000));
}

#[test]
fn the_errors_the_issue_lists_name_what_is_wrong() {
    // Fewer than 2 parties.
    let mut req = request(
        (0..N)
            .map(|i| coin(i, None, Amount::from_sat(2_000_000)))
            .collect(),
        Layer::new(6, 1).unwrap(),
    );
    req.parties.truncate(1);
    req.inputs.truncate(1);
    let e = build::create(&Secp256k1::new(), &req).unwrap_err();
    assert_eq!(e, FactoryError::TooFewParties(1));
    assert!(e.to_string().contains("at least 2 parties, got 1"), "{e}");

    // Allocations that do not add up: say the difference.
    let (f, _, _) = created(Layer::new(6, 1).unwrap());
    let shares = vec![Amount::from_sat(100_000); N];
    let e = build::allocate(
        &Secp256k1::new(),
        &f,
        AllocationRequest {
            channels: three_channels(),
            shares: Some(shares),
        },
        &keys(),
        &mut seeds(),
    )
    .unwrap_err();
    let FactoryError::Mismatch {
        allocated: sum,
        available,
        ref difference,
        ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(sum, 1_900_000 + 400_000);
    assert_eq!(*difference, format!("{} sat short", available - sum));
    assert!(e.to_string().contains("sat short"), "{e}");

    // Out of timelock steps: say how many were left.
    let f1 = allocated(&f, three_channels());
    let f2 = allocated(&f1, three_channels());
    assert_eq!(f2.allocation.as_ref().unwrap().delay_blocks, 0);
    let e = build::allocate(
        &Secp256k1::new(),
        &f2,
        AllocationRequest {
            channels: three_channels(),
            shares: None,
        },
        &keys(),
        &mut seeds(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        FactoryError::OutOfSteps {
            number: 2,
            steps: 1,
            left: 0
        }
    );
    assert!(e.to_string().contains("0 of 1 steps left"), "{e}");

    // A party that puts more into channels than it owns; a missing signer.
    let e = build::allocate(
        &Secp256k1::new(),
        &f,
        AllocationRequest {
            channels: vec![channel(0, 1, 1_500_000, 0)],
            shares: None,
        },
        &keys(),
        &mut seeds(),
    )
    .unwrap_err();
    assert!(
        matches!(e, FactoryError::Overdrawn { party: 0, .. }),
        "{e:?}"
    );
    let e = build::allocate(
        &Secp256k1::new(),
        &f,
        AllocationRequest {
            channels: three_channels(),
            shares: None,
        },
        &keys()[..3],
        &mut seeds(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("has not signed"), "{e}");
}

/// A chain where party i owns a mature coinbase (block i + 1).
fn chain_with_coins(dir: &std::path::Path) -> (EmbeddedChain, Vec<FundingInput>) {
    let chain = EmbeddedChain::open(dir).unwrap();
    for i in 0..N {
        chain.mine(1, &p2wpkh(i)).unwrap();
    }
    chain.mine(100, &p2wpkh(0)).unwrap();
    let coins = (0..N)
        .map(|i| {
            let hash = chain.block_hash(i as u32 + 1).unwrap().unwrap();
            let cb = chain.block(&hash).unwrap().txdata[0].clone();
            coin(
                i,
                Some(OutPoint::new(cb.compute_txid(), 0)),
                cb.output[0].value,
            )
        })
        .collect();
    (chain, coins)
}

fn rejected(chain: &EmbeddedChain, tx: &Transaction) -> RejectKind {
    match chain.broadcast(tx) {
        Err(ChainError::Rejected { rejection, .. }) => rejection.kind,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn height(chain: &EmbeddedChain) -> u32 {
    chain.best_block().unwrap().height
}

#[test]
fn an_older_allocation_broadcast_after_a_newer_one_loses_the_race_on_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, coins) = chain_with_coins(dir.path());
    let miner = p2wpkh(0);
    let hook = build::create(
        &Secp256k1::new(),
        &request(coins, Layer::new(3, 2).unwrap()),
    )
    .unwrap();
    let f0 = allocated(&hook.factory, three_channels());
    let f1 = allocated(
        &f0,
        vec![channel(0, 3, 600_000, 0), channel(1, 2, 300_000, 300_000)],
    );
    let (old, new) = (
        f0.allocation.clone().unwrap().tx,
        f1.allocation.clone().unwrap().tx,
    );
    let kickoff = f1.kickoff.clone().unwrap();

    chain.broadcast(&hook.tx).unwrap();
    chain.mine(1, &miner).unwrap();
    let hook_height = height(&chain);
    chain.broadcast(&kickoff).unwrap();
    chain.mine(1, &miner).unwrap();
    let k = height(&chain);
    let plan = exit::plan(&f1, hook_height, Some(k)).unwrap();
    assert_eq!(plan.allocation_valid_from, k + 3);
    assert_eq!(plan.older_valid_from, Some(k + 6));

    // Until block k + 3 neither allocation may be mined.
    assert_eq!(rejected(&chain, &new), RejectKind::NonBip68Final);
    assert_eq!(rejected(&chain, &old), RejectKind::NonBip68Final);
    chain.mine(1, &miner).unwrap();
    assert_eq!(rejected(&chain, &new), RejectKind::NonBip68Final);
    chain.mine(1, &miner).unwrap();
    // The next block is k + 3: the newest allocation is valid, the older is not yet.
    assert_eq!(height(&chain) + 1, plan.allocation_valid_from);
    chain.broadcast(&new).unwrap();
    assert_eq!(rejected(&chain, &old), RejectKind::NonBip68Final);
    chain.mine(1, &miner).unwrap();
    assert!(chain
        .utxo(&OutPoint::new(new.compute_txid(), 0))
        .unwrap()
        .is_some());

    // Once the older one's timelock has passed, it spends a spent output.
    chain.mine(3, &miner).unwrap();
    assert!(height(&chain) + 1 >= plan.older_valid_from.unwrap());
    assert_eq!(rejected(&chain, &old), RejectKind::MissingOrSpentInputs);
    // The channels of the newest allocation are on chain.
    assert_eq!(
        chain
            .utxo(&OutPoint::new(new.compute_txid(), 1))
            .unwrap()
            .unwrap()
            .txout
            .value,
        Amount::from_sat(600_000)
    );
}

#[test]
fn a_cooperative_close_confirms_and_pays_each_party() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, coins) = chain_with_coins(dir.path());
    let hook = build::create(
        &Secp256k1::new(),
        &request(coins, Layer::new(3, 2).unwrap()),
    )
    .unwrap();
    let f = allocated(&hook.factory, three_channels());
    chain.broadcast(&hook.tx).unwrap();
    chain.mine(1, &p2wpkh(0)).unwrap();
    let closed = build::close(&Secp256k1::new(), &f, &keys(), &mut seeds()).unwrap();
    chain.broadcast(&closed.tx).unwrap();
    chain.mine(1, &p2wpkh(0)).unwrap();
    for (i, payout) in closed.payouts.iter().enumerate() {
        let vout = closed
            .tx
            .output
            .iter()
            .position(|o| o.script_pubkey == p2wpkh(i))
            .unwrap();
        let utxo = chain
            .utxo(&OutPoint::new(closed.tx.compute_txid(), vout as u32))
            .unwrap()
            .unwrap();
        assert_eq!(utxo.txout.value, *payout);
    }
    // The kickoff now spends a spent output.
    assert_eq!(
        rejected(&chain, f.kickoff.as_ref().unwrap()),
        RejectKind::MissingOrSpentInputs
    );
}

#[test]
fn the_papers_twenty_users_and_hundred_channels() {
    let c = space::compare(20, 100);
    // Opening alone, the paper's measure: about 90% (96% with signature aggregation).
    assert!(c.open_saving_percent() > 85.0, "{c:?}");
    assert!(c.cooperative_saving_percent() > 90.0, "{c:?}");
    // Exited unilaterally, it still saves, less.
    assert!(c.unilateral_saving_percent() > 0.0, "{c:?}");
    assert!(c.unilateral_saving_percent() < c.cooperative_saving_percent());
    // One channel between two users gains nothing.
    assert!(space::compare(2, 1).cooperative_saving_percent() < 0.0);
}
