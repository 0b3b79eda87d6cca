//! BOLT 7's query messages and our own announcements, on the library:
//! a sync between two stores by `query_channel_range` and
//! `query_short_channel_ids` (and only what is missing the second time),
//! replies split as the BOLT requires, malformed queries refused, the
//! timestamp filter's dump, and the messages `gossip::announce` builds
//! accepted by the receiving rules.

use std::collections::HashMap;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::Amount;
use lnkit::amount::Msat;
use lnkit::gossip::announce::{self as ann, Endpoint, Half, NetAddress, NodeFields, UpdateFields};
use lnkit::gossip::sync::{self, flags, SyncState, Syncer};
use lnkit::gossip::{FundingOutput, FundingSource, GossipStore, RateLimit, Verdict};
use lnkit::wire::message::{self, Value as V};

use crate::common;
use common::gossip::{channel_announcement, channel_update, pk, regtest_chain_hash};

const NOW: u64 = 1_800_000_000;

fn key(seed: u32, i: u32) -> SecretKey {
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&seed.to_be_bytes());
    b[4..8].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_slice(&b).unwrap()
}

#[derive(Default)]
struct Chain(HashMap<u64, FundingOutput>);

impl FundingSource for Chain {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        self.0.get(&scid).cloned().unwrap_or(FundingOutput::Missing)
    }
}

fn scid(block: u32, tx: u32) -> u64 {
    (u64::from(block) << 40) | (u64::from(tx) << 16)
}

/// `n` channels, `per_block` to a block from block 100, each announced and
/// updated in both directions, in `store`; the chain knows their funding.
fn network(n: u32, per_block: u32, store: &mut GossipStore, chain: &mut Chain) -> Vec<u64> {
    (0..n)
        .map(|i| add_channel(i, per_block, store, chain))
        .collect()
}

/// Channel `i` of [`network`].
fn add_channel(i: u32, per_block: u32, store: &mut GossipStore, chain: &mut Chain) -> u64 {
    {
        let (mut n1, mut n2) = (key(1, i), key(2, i));
        if pk(&n1).serialize() > pk(&n2).serialize() {
            std::mem::swap(&mut n1, &mut n2);
        }
        let (b1, b2) = (key(3, i), key(4, i));
        let s = scid(100 + i / per_block, i % per_block);
        chain.0.insert(
            s,
            FundingOutput::Unspent {
                outpoint: bitcoin::OutPoint::new(bitcoin::Txid::from_byte_array([i as u8; 32]), i),
                script_pubkey: lnkit::script::funding_script(&pk(&b1), &pk(&b2)).to_p2wsh(),
                amount: Amount::from_sat(1_000_000),
                confirmations: 100,
            },
        );
        for raw in [
            channel_announcement([&n1, &n2], [&b1, &b2], s),
            channel_update(s, NOW - 10, 0, 1000, &n1),
            channel_update(s, NOW - 10, 1, 1000, &n2),
        ] {
            assert_eq!(store.ingest(None, &raw, NOW, chain), Verdict::Accepted);
        }
        s
    }
}

/// Run a sync of `ours` from `theirs`, as two nodes would; the channels asked for.
fn sync_from(theirs: &GossipStore, ours: &mut GossipStore, chain: &mut Chain) -> usize {
    let mut s = Syncer::new(regtest_chain_hash());
    let query = message::decode(&s.start()).unwrap();
    let first = |m: &message::Message, f: &str| match m.fields.iter().find(|(n, _)| *n == f) {
        Some((_, V::Uint(x))) => *x as u32,
        _ => panic!("{f}"),
    };
    let mut next = None;
    for reply in sync::reply_channel_range(
        theirs,
        first(&query, "first_blocknum"),
        first(&query, "number_of_blocks"),
        flags::WANT_TIMESTAMPS,
    ) {
        assert!(next.is_none(), "a query before the last reply");
        next = s
            .on_reply_channel_range(ours, &message::decode(&reply).unwrap())
            .unwrap();
    }
    while let Some(q) = next {
        let replies = sync::reply_short_channel_ids(theirs, &message::decode(&q).unwrap()).unwrap();
        let (end, gossip) = replies.split_last().unwrap();
        assert_eq!(
            message::decode(end).unwrap().name,
            Some("reply_short_channel_ids_end")
        );
        for raw in gossip {
            assert_eq!(ours.ingest(None, raw, NOW, chain), Verdict::Accepted);
        }
        next = s.on_reply_end().unwrap();
    }
    assert_eq!(s.state, SyncState::Done);
    s.asked
}

#[test]
fn a_sync_by_query_copies_the_graph_then_asks_only_for_what_changed() {
    let mut chain = Chain::default();
    let mut theirs = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    let ids = network(40, 3, &mut theirs, &mut chain);
    let mut ours = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    assert_eq!(sync_from(&theirs, &mut ours, &mut chain), 40);
    assert_eq!(
        ours.channels.keys().collect::<Vec<_>>(),
        theirs.channels.keys().collect::<Vec<_>>()
    );
    assert_eq!(ours.to_graph().policies, theirs.to_graph().policies);
    // Nothing new: nothing asked.
    assert_eq!(sync_from(&theirs, &mut ours, &mut chain), 0);
    // One direction updated: exactly that channel is asked for, and only that update comes.
    let (mut n1, mut n2) = (key(1, 7), key(2, 7));
    if pk(&n1).serialize() > pk(&n2).serialize() {
        std::mem::swap(&mut n1, &mut n2);
    }
    let newer = channel_update(ids[7], NOW - 5, 1, 4242, &n2);
    assert_eq!(
        theirs.ingest(None, &newer, NOW, &mut chain),
        Verdict::Accepted
    );
    assert_eq!(sync_from(&theirs, &mut ours, &mut chain), 1);
    assert_eq!(
        ours.channels[&ids[7]].updates[1]
            .as_ref()
            .unwrap()
            .policy
            .fee_base_msat,
        4242
    );
}

#[test]
fn range_replies_split_within_a_block_and_cover_the_query_in_order() {
    let mut chain = Chain::default();
    let mut store = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    // 4,500 channels in block 100 and 100 in 101: more than one reply holds with timestamps.
    let ids = network(4_600, 4_500, &mut store, &mut chain);
    let replies = sync::reply_channel_range(
        &store,
        50,
        100,
        flags::WANT_TIMESTAMPS | flags::WANT_CHECKSUMS,
    );
    assert!(replies.len() >= 2, "{} replies", replies.len());
    let mut seen = vec![];
    let mut prev_first = 0;
    for (i, raw) in replies.iter().enumerate() {
        assert!(raw.len() <= 65_535);
        let m = message::decode(raw).unwrap();
        let u = |f: &str| match m.fields.iter().find(|(n, _)| *n == f) {
            Some((_, V::Uint(x))) => *x,
            _ => panic!("{f}"),
        };
        let (first, number) = (u("first_blocknum"), u("number_of_blocks"));
        assert!(first >= prev_first, "replies go forward");
        prev_first = first;
        if i == 0 {
            assert!(first <= 50 && first + number > 50);
        }
        let last = i + 1 == replies.len();
        assert_eq!(u("sync_complete"), u64::from(last));
        if last {
            assert!(first + number >= 150);
        }
        let Some((_, V::Scids { scids: Some(s), .. })) =
            m.fields.iter().find(|(n, _)| *n == "encoded_short_ids")
        else {
            panic!("no ids")
        };
        for id in s {
            let b = sync::block_of(*id) as u64;
            assert!(
                b >= first && b < first + number,
                "an id outside its reply's range"
            );
        }
        // One timestamp pair and one checksum pair per id.
        let tlv = |t: u64| m.tlvs.iter().find(|r| r.typ == t).unwrap().value.len();
        assert_eq!((tlv(1), tlv(3)), (1 + 8 * s.len(), 8 * s.len()));
        seen.extend(s.iter().copied());
    }
    assert_eq!(seen, ids, "every channel, once, in order");
    // A range with nothing in it still gets its one, complete, reply.
    let empty = sync::reply_channel_range(&store, 1_000, 10, 0);
    assert_eq!(empty.len(), 1);
}

#[test]
fn malformed_queries_are_refused_and_checksums_ignore_signature_and_timestamp() {
    let mut chain = Chain::default();
    let mut store = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    let ids = network(3, 3, &mut store, &mut chain);
    let query = |scids: V, flags: Option<Vec<u8>>| message::Message {
        typ: 261,
        name: Some("query_short_channel_ids"),
        fields: vec![
            ("chain_hash", V::Bytes(regtest_chain_hash().to_vec())),
            ("encoded_short_ids", scids),
        ],
        tlvs: flags
            .map(|f| lnkit::wire::tlv::DecodedRecord {
                typ: 1,
                name: None,
                fields: vec![],
                value: f,
            })
            .into_iter()
            .collect(),
        raw: None,
    };
    // Two flags for three ids.
    let e = sync::reply_short_channel_ids(
        &store,
        &query(message::encode_scids(&ids), Some(vec![0, 1, 1])),
    )
    .unwrap_err();
    assert!(e.contains("2 flags for 3"), "{e}");
    // zlib, which BOLT 7 forbids now.
    let zlib = V::Scids {
        encoding: 1,
        raw: vec![0x78, 0x9c],
        scids: None,
    };
    assert!(sync::reply_short_channel_ids(&store, &query(zlib, None))
        .unwrap_err()
        .contains("encoding type 1"));
    // Flags pick what comes back: the announcement of the first, node_2's update of the second.
    let picked = sync::reply_short_channel_ids(
        &store,
        &query(
            message::encode_scids(&ids[..2]),
            Some(vec![0, flags::ANNOUNCEMENT as u8, flags::UPDATE_2 as u8]),
        ),
    )
    .unwrap();
    let names: Vec<_> = picked
        .iter()
        .map(|r| message::decode(r).unwrap().name.unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "channel_announcement",
            "channel_update",
            "reply_short_channel_ids_end"
        ]
    );
    assert_eq!(
        picked[1],
        store.channels[&ids[1]].updates[1].as_ref().unwrap().raw
    );

    let k = key(9, 9);
    let (a, b) = (
        channel_update(ids[0], NOW, 0, 1000, &k),
        channel_update(ids[0], NOW + 60, 0, 1000, &k),
    );
    assert_ne!(a, b);
    assert_eq!(sync::update_checksum(&a), sync::update_checksum(&b));
    assert_ne!(
        sync::update_checksum(&a),
        sync::update_checksum(&channel_update(ids[0], NOW, 0, 1001, &k))
    );
    // The filter's dump: each announcement before its updates; only what is in the range.
    let dump = sync::since(&store, (NOW - 10) as u32, 1);
    assert_eq!(dump.len(), 9);
    assert_eq!(message::decode(&dump[0]).unwrap().typ, 256);
    assert!(sync::since(&store, (NOW - 9) as u32, 100).is_empty());
}

#[test]
fn the_announcements_we_build_pass_the_receivers_checks() {
    let secp = Secp256k1::new();
    let (us, them) = (key(5, 1), key(5, 2));
    let (our_funding, their_funding) = (key(6, 1), key(6, 2));
    let s = scid(200, 1);
    let unsigned = ann::channel_announcement(
        regtest_chain_hash(),
        s,
        Endpoint {
            node_id: pk(&us),
            bitcoin_key: pk(&our_funding),
        },
        Endpoint {
            node_id: pk(&them),
            bitcoin_key: pk(&their_funding),
        },
    );
    let digest = lnkit::wire::gossip::digest(&unsigned).unwrap();
    let half = |n: &SecretKey, b: &SecretKey| Half {
        node_signature: secp.sign_ecdsa(&digest, n),
        bitcoin_signature: secp.sign_ecdsa(&digest, b),
    };
    let we_are_1 = ann::is_node_1(&pk(&us), &pk(&them));
    let raw = ann::assemble(
        unsigned,
        we_are_1,
        half(&us, &our_funding),
        half(&them, &their_funding),
    )
    .unwrap();
    let mut chain = Chain::default();
    chain.0.insert(
        s,
        FundingOutput::Unspent {
            outpoint: bitcoin::OutPoint::new(bitcoin::Txid::from_byte_array([1; 32]), 0),
            script_pubkey: lnkit::script::funding_script(&pk(&our_funding), &pk(&their_funding))
                .to_p2wsh(),
            amount: Amount::from_sat(500_000),
            confirmations: 6,
        },
    );
    let mut store = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    assert_eq!(store.ingest(None, &raw, NOW, &mut chain), Verdict::Accepted);
    // Halves in the wrong slots do not verify.
    let unsigned = ann::channel_announcement(
        regtest_chain_hash(),
        s,
        Endpoint {
            node_id: pk(&us),
            bitcoin_key: pk(&our_funding),
        },
        Endpoint {
            node_id: pk(&them),
            bitcoin_key: pk(&their_funding),
        },
    );
    let swapped = ann::assemble(
        unsigned,
        !we_are_1,
        half(&us, &our_funding),
        half(&them, &their_funding),
    )
    .unwrap();
    let mut fresh = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    assert!(matches!(
        fresh.ingest(None, &swapped, NOW, &mut chain),
        Verdict::Warning(_)
    ));

    let update = |disabled: bool, timestamp: u32| {
        let mut m = ann::channel_update(
            regtest_chain_hash(),
            &UpdateFields {
                short_channel_id: s,
                timestamp,
                direction: !we_are_1,
                disabled,
                dont_forward: false,
                cltv_expiry_delta: 40,
                htlc_minimum_msat: Msat(1),
                htlc_maximum_msat: Msat(400_000_000),
                fee_base_msat: 7,
                fee_proportional_millionths: 8,
            },
        );
        let sig = secp.sign_ecdsa(&lnkit::wire::gossip::digest(&m).unwrap(), &us);
        lnkit::wire::gossip::set_signature(&mut m, "signature", &sig);
        message::encode(&m).unwrap()
    };
    assert_eq!(
        store.ingest(None, &update(false, NOW as u32), NOW, &mut chain),
        Verdict::Accepted
    );
    let dir = usize::from(!we_are_1);
    let p = store.channels[&s].updates[dir].as_ref().unwrap().policy;
    assert_eq!(
        (
            p.fee_base_msat,
            p.fee_proportional_millionths,
            p.cltv_expiry_delta,
            p.enabled
        ),
        (7, 8, 40, true)
    );
    assert_eq!(
        store.ingest(None, &update(true, NOW as u32 + 1), NOW, &mut chain),
        Verdict::Accepted
    );
    assert!(
        !store.channels[&s].updates[dir]
            .as_ref()
            .unwrap()
            .policy
            .enabled
    );

    let mut m = ann::node_announcement(&NodeFields {
        features: lnkit::wire::features::from_bits(&[9, 17]),
        timestamp: NOW as u32,
        node_id: pk(&us),
        color: [1, 2, 3],
        alias: "näme".into(),
        addresses: vec![NetAddress::parse("127.0.0.1:9735").unwrap()],
    });
    let sig = secp.sign_ecdsa(&lnkit::wire::gossip::digest(&m).unwrap(), &us);
    lnkit::wire::gossip::set_signature(&mut m, "signature", &sig);
    assert_eq!(
        store.ingest(None, &message::encode(&m).unwrap(), NOW, &mut chain),
        Verdict::Accepted
    );
    assert_eq!(store.nodes[&pk(&us)].alias, "näme");
}

#[test]
fn the_live_graph_takes_policy_changes_in_place_and_rebuilds_on_new_channels() {
    let mut chain = Chain::default();
    let mut store = GossipStore::new(regtest_chain_hash(), RateLimit::default());
    let ids = network(10, 5, &mut store, &mut chain);
    assert_eq!(store.graph().channels.len(), 10);
    let before = store.graph_stats();
    let (mut n1, mut n2) = (key(1, 3), key(2, 3));
    if pk(&n1).serialize() > pk(&n2).serialize() {
        std::mem::swap(&mut n1, &mut n2);
    }
    let _ = n2;
    store.ingest(
        None,
        &channel_update(ids[3], NOW - 1, 0, 777, &n1),
        NOW,
        &mut chain,
    );
    let i = store
        .graph()
        .channels
        .iter()
        .position(|c| c.short_channel_id == Some(ids[3]))
        .unwrap();
    assert_eq!(store.graph().policies[2 * i].fee_base_msat, 777);
    let after = store.graph_stats();
    assert_eq!(
        (after.rebuilds, after.in_place),
        (before.rebuilds, before.in_place + 1)
    );
    // The graph equals one built from scratch.
    let fresh = store.to_graph();
    assert_eq!(store.graph().policies, fresh.policies);
    // A spent funding output takes the channel out at once (disabled in place).
    store.funding_spent(ids[4], 500);
    let j = store
        .graph()
        .channels
        .iter()
        .position(|c| c.short_channel_id == Some(ids[4]))
        .unwrap();
    assert!(!store.graph().policies[2 * j].enabled && !store.graph().policies[2 * j + 1].enabled);
    // A new channel: rebuilt.
    add_channel(10, 5, &mut store, &mut chain);
    assert_eq!(
        store.graph().channels.len(),
        10,
        "the spent one is gone, the new one in"
    );
    assert_eq!(store.graph_stats().rebuilds, before.rebuilds + 1);
}

proptest::proptest! {
    /// The same property as the `gossip_queries` fuzz target, on stable:
    /// random query traffic and addresses never panic the answers or the sync.
    #[test]
    fn random_query_traffic_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), typ in 261u16..266) {
        let mut chain = Chain::default();
        let mut store = GossipStore::new(regtest_chain_hash(), RateLimit::default());
        network(2, 2, &mut store, &mut chain);
        let _ = ann::decode_addresses(&bytes);
        let mut raw = typ.to_be_bytes().to_vec();
        raw.extend(&bytes);
        if let Ok(m) = message::decode(&raw) {
            let _ = sync::reply_short_channel_ids(&store, &m);
            let mut s = Syncer::new(regtest_chain_hash());
            let _ = s.start();
            let _ = s.on_reply_channel_range(&store, &m);
            let _ = s.on_reply_end();
        }
    }
}
