//! BOLT 7's receiver requirements on the gossip store: what is accepted,
//! what is ignored, and what earns the peer a `warning` — each rejection
//! the gossip issue names (a bad signature, a nonexistent or spent funding
//! output, a stale timestamp, a replayed update), the rate limit, pruning,
//! and the graph it feeds. Random bytes never panic it.

use std::collections::HashMap;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Amount, ScriptBuf};
use lnkit::gossip::{
    FundingOutput, FundingSource, GossipStore, RateLimit, Verdict, EARLY_SECS, MAX_EARLY,
};
use lnkit::wire::gossip::sign;
use lnkit::wire::message::{Message, Value as V};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;

use crate::common;
use common::gossip::{channel_announcement, channel_update, pk, regtest_chain_hash as chain_hash};

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

/// A channel: its node keys (node_1 the lesser), bitcoin keys and scid.
struct Chan {
    nodes: [SecretKey; 2],
    bitcoin: [SecretKey; 2],
    scid: u64,
}

impl Chan {
    fn new(seed: u8, scid: u64) -> Chan {
        let (mut n1, mut n2) = (key(seed), key(seed + 1));
        if pk(&n1).serialize() > pk(&n2).serialize() {
            std::mem::swap(&mut n1, &mut n2);
        }
        Chan {
            nodes: [n1, n2],
            bitcoin: [key(seed + 100), key(seed + 101)],
            scid,
        }
    }

    fn funding_script(&self) -> ScriptBuf {
        lnkit::script::funding_script(&pk(&self.bitcoin[0]), &pk(&self.bitcoin[1])).to_p2wsh()
    }

    fn announcement(&self) -> Vec<u8> {
        channel_announcement(
            [&self.nodes[0], &self.nodes[1]],
            [&self.bitcoin[0], &self.bitcoin[1]],
            self.scid,
        )
    }

    fn update(&self, dir: u8, timestamp: u64, fee_base: u64, signer: &SecretKey) -> Vec<u8> {
        channel_update(self.scid, timestamp, u64::from(dir), fee_base, signer)
    }
}

fn node_announcement(k: &SecretKey, timestamp: u64, alias: &str) -> Vec<u8> {
    let mut a = alias.as_bytes().to_vec();
    a.resize(32, 0);
    let mut m = Message {
        typ: 257,
        name: Some("node_announcement"),
        fields: vec![
            ("signature", V::Bytes(vec![0; 64])),
            ("features", V::Features(vec![])),
            ("timestamp", V::Uint(timestamp)),
            ("node_id", V::Point(pk(k))),
            ("rgb_color", V::Bytes(vec![1, 2, 3])),
            ("alias", V::Bytes(a)),
            ("addresses", V::Bytes(vec![])),
        ],
        tlvs: vec![],
        raw: None,
    };
    sign(&Secp256k1::new(), &mut m, &[("signature", k)]).unwrap()
}

/// A chain that knows some funding outputs.
#[derive(Default)]
struct Chain {
    outputs: HashMap<u64, FundingOutput>,
    asked: usize,
}

impl FundingSource for Chain {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        self.asked += 1;
        self.outputs
            .get(&scid)
            .cloned()
            .unwrap_or(FundingOutput::Missing)
    }
}

fn unspent(c: &Chan, confirmations: u32) -> FundingOutput {
    FundingOutput::Unspent {
        outpoint: bitcoin::OutPoint::new(bitcoin::Txid::from_byte_array([c.scid as u8; 32]), 0),
        script_pubkey: c.funding_script(),
        amount: Amount::from_sat(1_000_000),
        confirmations,
    }
}

fn is_warning(v: &Verdict) -> bool {
    matches!(v, Verdict::Warning(_))
}

fn is_ignored(v: &Verdict, why: &str) -> bool {
    matches!(v, Verdict::Ignored(w) if w.contains(why))
}

#[test]
fn announcements_and_updates_are_checked_as_bolt7_says() {
    let peer = pk(&key(9));
    let c = Chan::new(1, 700_000 << 40 | 5 << 16 | 1);
    let mut chain = Chain::default();
    chain.outputs.insert(c.scid, unspent(&c, 10));
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());

    // An update before its channel: ignored; a node_announcement before any
    // channel: ignored. Both are kept aside, unchecked.
    let up = c.update(0, NOW, 1000, &c.nodes[0]);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &up, NOW, &mut chain),
        "not announced"
    ));
    let na = node_announcement(&c.nodes[0], NOW, "alice");
    assert!(is_ignored(
        &s.ingest(Some(&peer), &na, NOW, &mut chain),
        "no announced channel"
    ));
    assert!(s.channels.is_empty() && s.nodes.is_empty());
    assert_eq!(s.held().early_len(), 2);

    // The announcement lets them in, checked now, with their sender.
    let ann = c.announcement();
    assert_eq!(
        s.ingest(Some(&peer), &ann, NOW, &mut chain),
        Verdict::Accepted
    );
    assert_eq!(
        s.take_released(),
        vec![(Some(peer), up.clone()), (Some(peer), na.clone())]
    );
    assert!(s.take_released().is_empty());
    assert_eq!(s.held().early_len(), 0);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &ann, NOW, &mut chain),
        "already known"
    ));
    assert!(is_ignored(
        &s.ingest(Some(&peer), &up, NOW, &mut chain),
        "already known"
    ));
    assert!(is_ignored(
        &s.ingest(Some(&peer), &na, NOW, &mut chain),
        "not newer"
    ));
    assert_eq!(s.nodes[&pk(&c.nodes[0])].alias, "alice");

    // A replayed update, an older one, one with the same timestamp and other fields.
    assert!(is_ignored(
        &s.ingest(Some(&peer), &up, NOW, &mut chain),
        "already known"
    ));
    let older = c.update(0, NOW - 10, 1000, &c.nodes[0]);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &older, NOW, &mut chain),
        "older than the one known"
    ));
    let same_time = c.update(0, NOW, 2000, &c.nodes[0]);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &same_time, NOW, &mut chain),
        "same timestamp"
    ));
    // Stale (two weeks) and far-future updates.
    let stale = c.update(1, NOW - 15 * 24 * 3600, 1000, &c.nodes[1]);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &stale, NOW, &mut chain),
        "two weeks"
    ));
    let future = c.update(1, NOW + 2 * 24 * 3600, 1000, &c.nodes[1]);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &future, NOW, &mut chain),
        "future"
    ));
    // An update signed by the other direction's node: a warning.
    let forged = c.update(1, NOW, 1000, &c.nodes[0]);
    assert!(is_warning(&s.ingest(Some(&peer), &forged, NOW, &mut chain)));
    let newer = c.update(0, NOW + 60, 5000, &c.nodes[0]);
    assert_eq!(
        s.ingest(Some(&peer), &newer, NOW + 60, &mut chain),
        Verdict::Accepted
    );

    // The graph: one channel, its capacity, the newest policy of direction 0 only.
    let g = s.to_graph();
    assert_eq!(g.channels.len(), 1);
    assert_eq!(g.channels[0].capacity_sat, 1_000_000);
    assert_eq!(g.policies[0].fee_base_msat, 5000);
    assert!(g.policies[0].enabled && !g.policies[1].present);
    assert_eq!(
        g.aliases[g.node(&pk(&c.nodes[0]).serialize()).unwrap() as usize],
        "alice"
    );
}

#[test]
fn announcements_of_missing_spent_foreign_or_forged_channels_are_refused() {
    let peer = pk(&key(9));
    let mut chain = Chain::default();
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());
    // No such output.
    let missing = Chan::new(10, 1 << 40);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &missing.announcement(), NOW, &mut chain),
        "no such funding output"
    ));
    // Spent.
    let spent = Chan::new(20, 2 << 40);
    chain.outputs.insert(spent.scid, FundingOutput::Spent);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &spent.announcement(), NOW, &mut chain),
        "spent"
    ));
    // Too shallow.
    let shallow = Chan::new(30, 3 << 40);
    chain.outputs.insert(shallow.scid, unspent(&shallow, 2));
    assert!(is_ignored(
        &s.ingest(Some(&peer), &shallow.announcement(), NOW, &mut chain),
        "confirmations"
    ));
    // The output pays someone else's 2-of-2.
    let other = Chan::new(40, 4 << 40);
    chain
        .outputs
        .insert(other.scid, unspent(&Chan::new(50, 0), 10));
    assert!(is_ignored(
        &s.ingest(Some(&peer), &other.announcement(), NOW, &mut chain),
        "not the 2-of-2"
    ));
    // A bad signature: a warning.
    let forged = Chan::new(60, 6 << 40);
    chain.outputs.insert(forged.scid, unspent(&forged, 10));
    let mut bytes = forged.announcement();
    bytes[2 + 64 + 10] ^= 1; // inside node_signature_2
    assert!(is_warning(&s.ingest(Some(&peer), &bytes, NOW, &mut chain)));
    // Malformed: a warning, never a panic.
    assert!(is_warning(&s.ingest(
        Some(&peer),
        &[1, 0, 3],
        NOW,
        &mut chain
    )));
    assert!(s.channels.is_empty());
}

#[test]
fn funding_answers_are_cached_spends_remove_channels_and_stale_ones_are_pruned() {
    let peer = pk(&key(9));
    let mut chain = Chain::default();
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());
    let a = Chan::new(70, 7 << 40);
    let b = Chan::new(80, 8 << 40);
    chain.outputs.insert(a.scid, unspent(&a, 10));
    chain.outputs.insert(b.scid, unspent(&b, 10));
    // A forged announcement costs no lookup (its signatures are checked
    // first: issue 35); the genuine one costs one, and once more none.
    let mut forged = a.announcement();
    forged[2 + 10] ^= 1;
    assert!(is_warning(&s.ingest(Some(&peer), &forged, NOW, &mut chain)));
    assert_eq!(chain.asked, 0, "no lookup before the signatures");
    assert_eq!(
        s.ingest(Some(&peer), &a.announcement(), NOW, &mut chain),
        Verdict::Accepted
    );
    assert_eq!(chain.asked, 1);
    // Other keys claiming the same output: refused from the cached answer.
    let other = Chan::new(71, 7 << 40).announcement();
    assert!(matches!(
        s.ingest(Some(&peer), &other, NOW, &mut chain),
        Verdict::Ignored(why) if why.contains("2-of-2")
    ));
    assert_eq!(chain.asked, 1, "the deep answer was cached");
    assert_eq!(
        s.ingest(Some(&peer), &b.announcement(), NOW, &mut chain),
        Verdict::Accepted
    );
    assert_eq!(
        s.ingest(None, &b.update(0, NOW, 1, &b.nodes[0]), NOW, &mut chain),
        Verdict::Accepted
    );
    // b's funding is spent in block 900 (the follower's block): after 72 blocks it is forgotten;
    // a, never updated, goes stale.
    let spend = bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: bitcoin::OutPoint::new(
                bitcoin::Txid::from_byte_array([b.scid as u8; 32]),
                0,
            ),
            ..Default::default()
        }],
        output: vec![],
    };
    let block = bitcoin::Block {
        header: bitcoin::constants::genesis_block(bitcoin::Network::Regtest).header,
        txdata: vec![spend],
    };
    s.block_connected(&block, 900);
    // A reorg takes the spend away, and the same block brings it back.
    s.block_disconnected(900);
    assert_eq!(s.to_graph().channels.len(), 2, "unspent again");
    s.block_connected(&block, 900);
    assert!(is_ignored(
        &s.ingest(
            None,
            &b.update(0, NOW + 1, 2, &b.nodes[0]),
            NOW + 1,
            &mut chain
        ),
        "spent"
    ));
    assert!(s.prune(NOW + 10, 971).is_empty());
    assert_eq!(
        s.to_graph().channels.len(),
        1,
        "a spent channel leaves the graph at once"
    );
    assert_eq!(s.prune(NOW + 10, 972), vec![b.scid]);
    assert_eq!(s.prune(NOW + 15 * 24 * 3600, 972), vec![a.scid]);
    assert!(s.nodes.is_empty(), "nodes without channels go too");
}

#[test]
fn a_peer_over_its_rate_limit_is_ignored_until_it_refills() {
    let peer = pk(&key(9));
    let mut chain = Chain::default();
    let mut s = GossipStore::new(
        chain_hash(),
        RateLimit {
            per_second: 5,
            burst: 0,
        },
    );
    let junk = [1u8, 2, 3];
    for _ in 0..5 {
        assert!(is_warning(&s.ingest(Some(&peer), &junk, NOW, &mut chain)));
    }
    assert!(is_ignored(
        &s.ingest(Some(&peer), &junk, NOW, &mut chain),
        "rate limit"
    ));
    let other = pk(&key(8));
    assert!(
        is_warning(&s.ingest(Some(&other), &junk, NOW, &mut chain)),
        "per peer"
    );
    assert!(
        is_warning(&s.ingest(Some(&peer), &junk, NOW + 1, &mut chain)),
        "refilled"
    );
}

proptest! {
    /// The fuzz target's property, on stable: untrusted bytes never panic the store.
    #[test]
    fn random_gossip_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), typ in 256u16..259) {
        let mut chain = Chain::default();
        let c = Chan::new(90, 9 << 40);
        chain.outputs.insert(c.scid, unspent(&c, 10));
        let mut s = GossipStore::new(chain_hash(), RateLimit::default());
        let _ = s.ingest(None, &c.announcement(), NOW, &mut chain);
        let mut m = typ.to_be_bytes().to_vec();
        m.extend(bytes);
        let _ = s.ingest(Some(&pk(&key(9))), &m, NOW, &mut chain);
        let _ = s.to_graph();
        // The same bytes while the channel is held (the chain not answering),
        // then taken when it answers.
        let mut down = Chain::default();
        down.outputs.insert(c.scid, FundingOutput::Unavailable);
        let mut s = GossipStore::new(chain_hash(), RateLimit::default());
        let _ = s.ingest(None, &c.announcement(), NOW, &mut down);
        prop_assert_eq!(s.held().len(), 1);
        let _ = s.ingest(Some(&pk(&key(9))), &m, NOW, &mut down);
        let _ = s.retry_held(NOW, &mut chain);
        prop_assert!(s.held().is_empty() && s.channels.contains_key(&c.scid));
        // The same bytes before the channel's announcement, which then lets them in.
        let mut s = GossipStore::new(chain_hash(), RateLimit::default());
        let _ = s.ingest(Some(&pk(&key(9))), &m, NOW, &mut chain);
        prop_assert_eq!(s.ingest(None, &c.announcement(), NOW, &mut chain), Verdict::Accepted);
        for (from, raw) in s.take_released() {
            prop_assert_eq!((from, raw), (Some(pk(&key(9))), m.clone()));
        }
    }
}

#[test]
fn the_chain_answers_for_a_short_channel_id() {
    use lnkit::chain::embedded::EmbeddedChain;
    use lnkit::chain::Regtest;
    use lnkit::gossip::ChainFunding;
    let dir = tempfile::tempdir().unwrap();
    let chain = EmbeddedChain::open(&dir.path().join("chain")).unwrap();
    let c = Chan::new(110, 0);
    // A coinbase paying the channel's 2-of-2: output 0 of transaction 0 of block 1.
    chain.mine(1, &c.funding_script()).unwrap();
    chain.mine(6, &ScriptBuf::new_op_return([])).unwrap();
    let c = Chan { scid: 1 << 40, ..c };
    let mut f = ChainFunding(&chain);
    match f.funding_output(c.scid) {
        FundingOutput::Unspent {
            script_pubkey,
            confirmations,
            ..
        } => {
            assert_eq!(script_pubkey, c.funding_script());
            assert_eq!(confirmations, 7);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        f.funding_output(1 << 40 | 1 << 16),
        FundingOutput::Missing,
        "no transaction 1"
    );
    assert_eq!(
        f.funding_output(1 << 40 | 5),
        FundingOutput::Missing,
        "no output 5"
    );
    assert_eq!(
        f.funding_output(500 << 40),
        FundingOutput::Missing,
        "no block 500"
    );
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());
    assert_eq!(
        s.ingest(None, &c.announcement(), NOW, &mut f),
        Verdict::Accepted
    );
}

#[test]
fn gossip_the_chain_cannot_check_now_is_held_and_taken_when_it_answers() {
    let peer = pk(&key(9));
    let c = Chan::new(1, 700_000 << 40 | 5 << 16 | 1);
    let mut chain = Chain::default();
    chain.outputs.insert(c.scid, FundingOutput::Unavailable);
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());

    // The announcement, both updates (the older one of direction 0 replaced
    // by the newer) and a node's announcement: held, not taken.
    let ann = c.announcement();
    let old = c.update(0, NOW - 10, 1000, &c.nodes[0]);
    let new = c.update(0, NOW, 2000, &c.nodes[0]);
    let other = c.update(1, NOW, 3000, &c.nodes[1]);
    let node = node_announcement(&c.nodes[1], NOW, "two");
    for m in [&ann, &old, &new, &other, &node] {
        assert!(is_ignored(
            &s.ingest(Some(&peer), m, NOW, &mut chain),
            "held"
        ));
    }
    // An update of a held channel that its node did not sign: a warning, not held.
    let forged = c.update(1, NOW + 1, 9, &c.nodes[0]);
    assert!(is_warning(&s.ingest(Some(&peer), &forged, NOW, &mut chain)));
    // A forged announcement is refused before it is held.
    let mut bad = c.announcement();
    bad[2 + 64 + 10] ^= 1;
    assert!(is_warning(&s.ingest(Some(&peer), &bad, NOW, &mut chain)));
    assert!(s.channels.is_empty() && s.nodes.is_empty());
    assert_eq!(s.held().len(), 1);

    // Still no answer: nothing taken, still held.
    assert!(s.retry_held(NOW, &mut chain).is_empty());
    assert_eq!(s.held().len(), 1);

    // The chain answers: the announcement first, then the newest update of
    // each direction, then the node's announcement, each with its sender.
    chain.outputs.insert(c.scid, unspent(&c, 10));
    let taken = s.retry_held(NOW, &mut chain);
    assert_eq!(
        taken,
        vec![
            (Some(peer), ann),
            (Some(peer), new),
            (Some(peer), other),
            (Some(peer), node)
        ]
    );
    assert!(s.held().is_empty());
    let entry = &s.channels[&c.scid];
    let fees: Vec<u32> = entry
        .updates
        .iter()
        .map(|u| u.as_ref().unwrap().policy.fee_base_msat)
        .collect();
    assert_eq!(fees, vec![2000, 3000]);
    assert_eq!(s.nodes[&pk(&c.nodes[1])].alias, "two");
}

#[test]
fn a_held_channel_the_chain_then_denies_is_dropped_with_what_waited_for_it() {
    let peer = pk(&key(9));
    let c = Chan::new(1, 700_000 << 40 | 5 << 16 | 1);
    let mut chain = Chain::default();
    chain.outputs.insert(c.scid, FundingOutput::Unavailable);
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());
    for m in [
        c.announcement(),
        c.update(0, NOW, 1000, &c.nodes[0]),
        node_announcement(&c.nodes[0], NOW, "one"),
    ] {
        assert!(is_ignored(
            &s.ingest(Some(&peer), &m, NOW, &mut chain),
            "held"
        ));
    }
    chain.outputs.insert(c.scid, FundingOutput::Spent);
    assert!(s.retry_held(NOW, &mut chain).is_empty());
    assert!(s.held().is_empty() && s.channels.is_empty() && s.nodes.is_empty());
    // Once dropped, a later node announcement is not held any more.
    assert!(is_ignored(
        &s.ingest(
            Some(&peer),
            &node_announcement(&c.nodes[0], NOW + 1, "one"),
            NOW,
            &mut chain
        ),
        "no announced channel"
    ));
}

#[test]
fn gossip_that_comes_before_its_announcement_waits_for_it_a_while() {
    let peer = pk(&key(9));
    let c = Chan::new(1, 700_000 << 40 | 5 << 16 | 1);
    let d = Chan::new(11, 700_000 << 40 | 6 << 16);
    let mut chain = Chain::default();
    chain.outputs.insert(c.scid, unspent(&c, 10));
    chain.outputs.insert(d.scid, unspent(&d, 10));
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());

    // Of direction 0 only the newest is kept; a forged update of direction 1
    // (node_1 signed it) is kept too, unchecked, and refused when let in.
    let old = c.update(0, NOW - 10, 1000, &c.nodes[0]);
    let new = c.update(0, NOW - 5, 2000, &c.nodes[0]);
    let forged = c.update(1, NOW - 5, 9, &c.nodes[0]);
    for m in [&new, &old, &forged] {
        assert!(is_ignored(
            &s.ingest(Some(&peer), m, NOW, &mut chain),
            "in case its announcement follows"
        ));
    }
    assert_eq!(s.held().early_len(), 2);
    // A forged node announcement is refused at once, not kept.
    let mut bad = node_announcement(&c.nodes[1], NOW, "two");
    bad[10] ^= 1;
    assert!(is_warning(&s.ingest(Some(&peer), &bad, NOW, &mut chain)));
    assert_eq!(s.held().early_len(), 2);

    // The announcement comes: only the newest, genuine update is taken.
    assert_eq!(
        s.ingest(None, &c.announcement(), NOW + 1, &mut chain),
        Verdict::Accepted
    );
    assert_eq!(s.take_released(), vec![(Some(peer), new)]);
    let fees: Vec<Option<u32>> = s.channels[&c.scid]
        .updates
        .iter()
        .map(|u| u.as_ref().map(|u| u.policy.fee_base_msat))
        .collect();
    assert_eq!(fees, vec![Some(2000), None]);
    assert_eq!(s.held().early_len(), 0);

    // Past EARLY_SECS, an early update is dropped: its announcement comes too late.
    let late = d.update(1, NOW, 3000, &d.nodes[1]);
    s.ingest(Some(&peer), &late, NOW, &mut chain);
    assert_eq!(s.held().early_len(), 1);
    let then = NOW + EARLY_SECS;
    assert_eq!(
        s.ingest(Some(&peer), &d.announcement(), then, &mut chain),
        Verdict::Accepted
    );
    assert!(s.take_released().is_empty());
    assert!(s.channels[&d.scid].updates.iter().all(Option::is_none));

    // At most MAX_EARLY are kept: the oldest go first.
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());
    let first = c.update(0, NOW, 1000, &c.nodes[0]);
    s.ingest(None, &first, NOW, &mut chain);
    for i in 0..MAX_EARLY as u64 {
        let other = channel_update(i + 1, NOW, 0, 1, &c.nodes[0]);
        s.ingest(None, &other, NOW + 1, &mut chain);
    }
    assert_eq!(s.held().early_len(), MAX_EARLY);
    s.ingest(None, &c.announcement(), NOW + 1, &mut chain);
    assert!(s.take_released().is_empty(), "the oldest was dropped");
}

#[test]
fn an_update_that_waits_for_a_held_channel_is_taken_with_it() {
    // The update comes first, then the announcement, which the chain cannot check yet.
    let peer = pk(&key(9));
    let c = Chan::new(1, 700_000 << 40 | 5 << 16 | 1);
    let mut chain = Chain::default();
    chain.outputs.insert(c.scid, FundingOutput::Unavailable);
    let mut s = GossipStore::new(chain_hash(), RateLimit::default());
    let up = c.update(1, NOW, 4000, &c.nodes[1]);
    assert!(is_ignored(
        &s.ingest(Some(&peer), &up, NOW, &mut chain),
        "not announced"
    ));
    let ann = c.announcement();
    assert!(is_ignored(
        &s.ingest(Some(&peer), &ann, NOW, &mut chain),
        "held"
    ));
    chain.outputs.insert(c.scid, unspent(&c, 10));
    assert_eq!(
        s.retry_held(NOW + 5, &mut chain),
        vec![(Some(peer), ann), (Some(peer), up)]
    );
}
