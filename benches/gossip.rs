//! Gossip ingest on the 2024-09-22 mainnet topology, lnkit's `GossipStore`
//! against rust-lightning's `P2PGossipSync`, side by side in the same run.
//!
//! The snapshot's nodes and channels are re-signed with generated keys:
//! one `channel_announcement` per channel (four signatures, a real 2-of-2
//! funding script), one `channel_update` per direction the snapshot has,
//! with its policy, and one `node_announcement` per node. Both ingest the
//! same bytes, every signature verified and every funding output looked up
//! in the same in-memory UTXO index (script and value compared); what a
//! chain backend costs per lookup is not in the figure. Then the live
//! graph: its heap size, a rebuild, and a policy change taken in place.
//!
//! `cargo bench --bench gossip` prints the table.

use std::collections::HashMap;
use std::time::Instant;

use bitcoin::constants::ChainHash;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Amount, Network, ScriptBuf, TxOut};
use lightning::ln::msgs::{
    ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, RoutingMessageHandler,
};
use lightning::routing::gossip::{NetworkGraph, P2PGossipSync};
use lightning::routing::utxo::{UtxoLookup, UtxoResult};
use lightning::util::ser::LengthReadable;

use lnkit::gossip::{FundingOutput, FundingSource, GossipStore, RateLimit, Verdict};
use lnkit::wire::gossip::sign;
use lnkit::wire::message::{Message, Value as V};

mod common;
use common::{load, peak_rss_mib, Quiet};

fn key(tag: &str, i: usize) -> SecretKey {
    let h = sha256::Hash::hash(format!("{tag}{i}").as_bytes());
    SecretKey::from_slice(h.as_byte_array()).expect("a valid key")
}

struct Gossip {
    announcements: Vec<Vec<u8>>,
    updates: Vec<Vec<u8>>,
    nodes: Vec<Vec<u8>>,
    /// Policy changes for the in-place measurement: a newer update of an existing direction.
    changes: Vec<Vec<u8>>,
    utxos: HashMap<u64, (ScriptBuf, Amount)>,
}

fn generate(g: &lnkit::graph::Graph, now: u32) -> Gossip {
    let secp = Secp256k1::new();
    let chain = ChainHash::using_genesis_block(Network::Bitcoin).to_bytes();
    let node_keys: Vec<SecretKey> = (0..g.pubkeys.len()).map(|i| key("node", i)).collect();
    let node_pks: Vec<_> = node_keys.iter().map(|k| k.public_key(&secp)).collect();
    let mut out = Gossip {
        announcements: vec![],
        updates: vec![],
        nodes: vec![],
        changes: vec![],
        utxos: HashMap::new(),
    };
    for (i, c) in g.channels.iter().enumerate() {
        // The GOSSMAP file has no scids: 1,000 channels a block from block 500,000.
        let scid = ((500_000 + i as u64 / 1000) << 40) | ((i as u64 % 1000) << 16);
        let (mut a, mut b) = (c.node_1 as usize, c.node_2 as usize);
        // The snapshot's direction 0 is from its node_1; with new keys the order may flip.
        let flipped = node_pks[a].serialize() > node_pks[b].serialize();
        if flipped {
            std::mem::swap(&mut a, &mut b);
        }
        let (k1, k2) = (key("btc1-", i), key("btc2-", i));
        let capacity = Amount::from_sat(c.capacity_sat.max(1));
        let script =
            lnkit::script::funding_script(&k1.public_key(&secp), &k2.public_key(&secp)).to_p2wsh();
        out.utxos.insert(scid, (script, capacity));
        let mut m = Message {
            typ: 256,
            name: Some("channel_announcement"),
            fields: vec![
                ("node_signature_1", V::Bytes(vec![0; 64])),
                ("node_signature_2", V::Bytes(vec![0; 64])),
                ("bitcoin_signature_1", V::Bytes(vec![0; 64])),
                ("bitcoin_signature_2", V::Bytes(vec![0; 64])),
                ("features", V::Features(vec![])),
                ("chain_hash", V::Bytes(chain.to_vec())),
                ("short_channel_id", V::Scid(scid)),
                ("node_id_1", V::Point(node_pks[a])),
                ("node_id_2", V::Point(node_pks[b])),
                ("bitcoin_key_1", V::Point(k1.public_key(&secp))),
                ("bitcoin_key_2", V::Point(k2.public_key(&secp))),
            ],
            tlvs: vec![],
            raw: None,
        };
        out.announcements.push(
            sign(
                &secp,
                &mut m,
                &[
                    ("node_signature_1", &node_keys[a]),
                    ("node_signature_2", &node_keys[b]),
                    ("bitcoin_signature_1", &k1),
                    ("bitcoin_signature_2", &k2),
                ],
            )
            .unwrap(),
        );
        for dir in 0..2usize {
            let p = g.policies[2 * i + dir];
            if !p.present {
                continue;
            }
            let new_dir = if flipped { 1 - dir } else { dir };
            let signer = if new_dir == 0 { a } else { b };
            let update = |timestamp: u32, fee_base: u32| {
                let mut m = Message {
                    typ: 258,
                    name: Some("channel_update"),
                    fields: vec![
                        ("signature", V::Bytes(vec![0; 64])),
                        ("chain_hash", V::Bytes(chain.to_vec())),
                        ("short_channel_id", V::Scid(scid)),
                        ("timestamp", V::Uint(timestamp.into())),
                        ("message_flags", V::Uint(1)),
                        (
                            "channel_flags",
                            V::Uint(new_dir as u64 | if p.enabled { 0 } else { 2 }),
                        ),
                        ("cltv_expiry_delta", V::Uint(p.cltv_expiry_delta.into())),
                        ("htlc_minimum_msat", V::Uint(p.htlc_minimum_msat)),
                        ("fee_base_msat", V::Uint(fee_base.into())),
                        (
                            "fee_proportional_millionths",
                            V::Uint(p.fee_proportional_millionths.into()),
                        ),
                        (
                            "htlc_maximum_msat",
                            V::Uint(
                                p.htlc_maximum_msat
                                    .min(capacity.to_sat() * 1000)
                                    .max(p.htlc_minimum_msat),
                            ),
                        ),
                    ],
                    tlvs: vec![],
                    raw: None,
                };
                sign(&secp, &mut m, &[("signature", &node_keys[signer])]).unwrap()
            };
            out.updates.push(update(now - 60, p.fee_base_msat));
            if out.changes.len() < 10_000 && i % 5 == 0 {
                out.changes.push(update(now - 30, p.fee_base_msat + 1));
            }
        }
    }
    for (i, k) in node_keys.iter().enumerate() {
        let mut alias = g.aliases[i].as_bytes().to_vec();
        alias.truncate(32);
        alias.resize(32, 0);
        let mut m = Message {
            typ: 257,
            name: Some("node_announcement"),
            fields: vec![
                ("signature", V::Bytes(vec![0; 64])),
                ("features", V::Features(vec![])),
                ("timestamp", V::Uint((now - 60).into())),
                ("node_id", V::Point(node_pks[i])),
                ("rgb_color", V::Bytes(vec![1, 2, 3])),
                ("alias", V::Bytes(alias)),
                ("addresses", V::Bytes(vec![])),
            ],
            tlvs: vec![],
            raw: None,
        };
        if let Ok(raw) = sign(&secp, &mut m, &[("signature", k)]) {
            out.nodes.push(raw);
        }
    }
    out
}

struct Utxos<'a>(&'a HashMap<u64, (ScriptBuf, Amount)>);

impl FundingSource for Utxos<'_> {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        match self.0.get(&scid) {
            Some((script, amount)) => FundingOutput::Unspent {
                outpoint: bitcoin::OutPoint::new(bitcoin::Txid::all_zeros(), scid as u32),
                script_pubkey: script.clone(),
                amount: *amount,
                confirmations: 1000,
            },
            None => FundingOutput::Missing,
        }
    }
}

impl UtxoLookup for Utxos<'_> {
    fn get_utxo(&self, _chain: &ChainHash, scid: u64) -> UtxoResult {
        UtxoResult::Sync(match self.0.get(&scid) {
            Some((script, amount)) => Ok(TxOut {
                value: *amount,
                script_pubkey: script.clone(),
            }),
            None => Err(lightning::routing::utxo::UtxoLookupError::UnknownTx),
        })
    }
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:>9.0}/s", n as f64 / secs)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: only the former runs it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let g = load();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let t = Instant::now();
    let gossip = generate(&g, now);
    println!(
        "generated {} channel_announcements, {} channel_updates, {} node_announcements (re-signed 2024-09-22 topology) in {:.1} s",
        gossip.announcements.len(),
        gossip.updates.len(),
        gossip.nodes.len(),
        t.elapsed().as_secs_f64()
    );
    let total = gossip.announcements.len() + gossip.updates.len() + gossip.nodes.len();
    let rss_before = peak_rss_mib();

    // lnkit.
    let mut store = GossipStore::new(
        ChainHash::using_genesis_block(Network::Bitcoin).to_bytes(),
        RateLimit::default(),
    );
    let mut chain = Utxos(&gossip.utxos);
    let mut times = vec![];
    for batch in [&gossip.announcements, &gossip.updates, &gossip.nodes] {
        let t = Instant::now();
        for raw in batch.iter() {
            let v = store.ingest(None, raw, u64::from(now), &mut chain);
            assert_eq!(v, Verdict::Accepted, "lnkit refused generated gossip");
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let lnkit_secs: f64 = times.iter().sum();
    let rss_store = peak_rss_mib();
    let t = Instant::now();
    let built = store.graph().clone();
    let first_build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..5 {
        std::hint::black_box(store.to_graph());
    }
    let rebuild = t.elapsed().as_secs_f64() / 5.0;
    let before = store.graph_stats();
    let t = Instant::now();
    for raw in &gossip.changes {
        assert_eq!(
            store.ingest(None, raw, u64::from(now), &mut chain),
            Verdict::Accepted
        );
        std::hint::black_box(store.graph());
    }
    let change = t.elapsed().as_secs_f64() / gossip.changes.len() as f64;
    let after = store.graph_stats();
    assert_eq!(
        after.rebuilds, before.rebuilds,
        "policy changes rebuilt the graph"
    );
    assert_eq!(
        after.in_place - before.in_place,
        gossip.changes.len() as u64
    );

    // rust-lightning.
    let logger = Quiet;
    let ng = NetworkGraph::new(Network::Bitcoin, &logger);
    let utxos = Utxos(&gossip.utxos);
    let sync = P2PGossipSync::new(&ng, Some(&utxos), &logger);
    let mut ldk_times = vec![];
    let t = Instant::now();
    for raw in &gossip.announcements {
        let m = ChannelAnnouncement::read_from_fixed_length_buffer(&mut &raw[2..]).unwrap();
        sync.handle_channel_announcement(None, &m)
            .expect("LDK refused a generated announcement");
    }
    ldk_times.push(t.elapsed().as_secs_f64());
    let t = Instant::now();
    for raw in &gossip.updates {
        let m = ChannelUpdate::read_from_fixed_length_buffer(&mut &raw[2..]).unwrap();
        sync.handle_channel_update(None, &m)
            .expect("LDK refused a generated update");
    }
    ldk_times.push(t.elapsed().as_secs_f64());
    let t = Instant::now();
    for raw in &gossip.nodes {
        let m = NodeAnnouncement::read_from_fixed_length_buffer(&mut &raw[2..]).unwrap();
        sync.handle_node_announcement(None, &m)
            .expect("LDK refused a generated node announcement");
    }
    ldk_times.push(t.elapsed().as_secs_f64());
    let ldk_secs: f64 = ldk_times.iter().sum();
    assert_eq!(ng.read_only().channels().len(), gossip.announcements.len());

    println!();
    println!("| ingest, signatures and funding checked | lnkit | rust-lightning |");
    println!("| --- | ---: | ---: |");
    for (i, (name, n)) in [
        ("channel_announcement", gossip.announcements.len()),
        ("channel_update", gossip.updates.len()),
        ("node_announcement", gossip.nodes.len()),
    ]
    .iter()
    .enumerate()
    {
        println!(
            "| {name} ({n}) | {} | {} |",
            rate(*n, times[i]),
            rate(*n, ldk_times[i])
        );
    }
    println!(
        "| all {total} messages | {} ({:.1} s) | {} ({:.1} s) |",
        rate(total, lnkit_secs),
        lnkit_secs,
        rate(total, ldk_secs),
        ldk_secs
    );
    println!();
    println!(
        "live graph: {} nodes, {} channels, {:.1} MiB heap; the whole store's peak RSS grew {:.0} MiB during lnkit's ingest (messages kept as received)",
        built.pubkeys.len(),
        built.channels.len(),
        built.heap_bytes() as f64 / (1024.0 * 1024.0),
        rss_store - rss_before
    );
    println!(
        "live graph upkeep: first build {:.0} ms, a full rebuild {:.0} ms, a policy change taken in place {:.1} µs (ingest included; {} changes, 0 rebuilds)",
        first_build * 1e3,
        rebuild * 1e3,
        change * 1e6,
        gossip.changes.len()
    );
}
