//! Small hand-made channel graphs for the routing and splitting tests.

use lnkit::graph::{Channel, Graph, Policy};

/// A policy with no htlc limits to speak of.
pub fn policy(base: u32, ppm: u32, cltv: u16) -> Policy {
    Policy {
        fee_base_msat: base,
        fee_proportional_millionths: ppm,
        cltv_expiry_delta: cltv,
        htlc_minimum_msat: 1,
        htlc_maximum_msat: u64::MAX,
        present: true,
        enabled: true,
    }
}

/// Channels given as (from, to, capacity_sat, policy of from→to); the reverse
/// direction gets a plain policy.
pub fn graph(nodes: usize, chans: &[(u32, u32, u64, Policy)]) -> Graph {
    let mut g = Graph {
        pubkeys: (0..nodes).map(|i| [2 + (i as u8 % 2); 33]).collect(),
        aliases: vec![String::new(); nodes],
        ..Default::default()
    };
    for (i, (from, to, cap, p)) in chans.iter().enumerate() {
        let (node_1, node_2) = if from < to {
            (*from, *to)
        } else {
            (*to, *from)
        };
        g.channels.push(Channel {
            node_1,
            node_2,
            short_channel_id: Some(((700_000 + i as u64) << 40) | (1 << 16)),
            capacity_sat: *cap,
        });
        let back = policy(0, 0, 40);
        if from < to {
            g.policies.extend([*p, back]);
        } else {
            g.policies.extend([back, *p]);
        }
    }
    g.index();
    g
}
