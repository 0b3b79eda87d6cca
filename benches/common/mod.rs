//! Shared by the benches: the mainnet snapshot, and rust-lightning's graph
//! built from ours.
#![allow(dead_code)]

use std::path::PathBuf;

use bitcoin::constants::ChainHash;
use bitcoin::Network;
use lightning::ln::msgs::UnsignedChannelUpdate;
use lightning::routing::gossip::{NetworkGraph, NodeId};
use lightning::types::features::ChannelFeatures;
use lightning::util::logger::{Logger, Record};

use lnkit::graph::{import, Graph};

pub fn snapshot() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/graphs");
    (
        dir.join("gossip-store-2024-09-22.compressed"),
        dir.join("gossip-store-2024-09-22-node-map.xz"),
    )
}

/// Read and parse the snapshot, as `lnkit route --graph` does.
pub fn load() -> Graph {
    let (file, map) = snapshot();
    let bytes = std::fs::read(&file).expect("the snapshot in testdata/graphs");
    let map = import::unxz(&std::fs::read(map).expect("its node map")).unwrap();
    import::load(bytes, Some(&map)).unwrap()
}

/// A logger that drops everything.
pub struct Quiet;
impl Logger for Quiet {
    fn log(&self, _record: Record) {}
}

/// LDK's graph from ours: partial announcements and unsigned updates. The
/// GOSSMAP file has no short_channel_ids, so the channel index + 1 stands in.
pub fn ldk_graph<'a>(g: &Graph, logger: &'a Quiet) -> NetworkGraph<&'a Quiet> {
    let ng = NetworkGraph::new(Network::Bitcoin, logger);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (i, c) in g.channels.iter().enumerate() {
        let scid = i as u64 + 1;
        let id = |n: u32| NodeId::from_slice(&g.pubkeys[n as usize]).unwrap();
        if ng
            .add_channel_from_partial_announcement(
                scid,
                Some(c.capacity_sat),
                now,
                ChannelFeatures::empty(),
                id(c.node_1),
                id(c.node_2),
            )
            .is_err()
        {
            continue;
        }
        for dir in 0..2 {
            let p = &g.policies[2 * i + dir];
            if !p.present {
                continue;
            }
            // LDK refuses an htlc_maximum_msat above capacity; ours caps it the same way.
            let cap = c.capacity_sat * 1000;
            let _ = ng.update_channel_unsigned(&UnsignedChannelUpdate {
                chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
                short_channel_id: scid,
                timestamp: now as u32,
                message_flags: 1,
                channel_flags: dir as u8 | if p.enabled { 0 } else { 2 },
                cltv_expiry_delta: p.cltv_expiry_delta,
                htlc_minimum_msat: p.htlc_minimum_msat,
                htlc_maximum_msat: p.htlc_maximum_msat.min(cap),
                fee_base_msat: p.fee_base_msat,
                fee_proportional_millionths: p.fee_proportional_millionths,
                excess_data: vec![],
            });
        }
    }
    ng
}

/// The `p` quantile (0..=1) of `v`.
pub fn pct<T: Copy + Ord>(v: &[T], p: f64) -> T {
    let mut s = v.to_vec();
    s.sort();
    s[((s.len() - 1) as f64 * p).round() as usize]
}

/// Peak resident set size of this process so far (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
