//! The channel graph (BOLT 7's view of the network): nodes, channels, and
//! each channel's two directions with their policies, in compact arrays.
//!
//! Nodes are indexes into `pubkeys`; channel `c` has directions `2c` (from
//! `node_id_1`, the lesser pubkey, as BOLT 7 and CLN's gossmap number them)
//! and `2c + 1`. Outgoing edges are laid out CSR-style: `out_start[n]..out_start[n+1]`
//! indexes `out_edges`, a list of direction ids.

pub mod import;

/// One direction's policy (BOLT 7 `channel_update`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `htlc_minimum_msat`.
    pub htlc_minimum_msat: u64,
    /// `htlc_maximum_msat`.
    pub htlc_maximum_msat: u64,
    /// Whether an update for this direction is known at all.
    pub present: bool,
    /// Known and not disabled.
    pub enabled: bool,
}

/// A channel between two nodes.
impl Policy {
    /// A decoded `channel_update`'s policy (BOLT 7): its fields, and the
    /// `disable` bit of `channel_flags`. Absent fields read as 0.
    pub fn from_update(m: &crate::wire::message::Message) -> Policy {
        use crate::wire::message::Value;
        let get = |f: &str| match m.fields.iter().find(|(n, _)| *n == f).map(|(_, v)| v) {
            Some(Value::Uint(x)) => *x,
            _ => 0,
        };
        Policy {
            fee_base_msat: get("fee_base_msat") as u32,
            fee_proportional_millionths: get("fee_proportional_millionths") as u32,
            cltv_expiry_delta: get("cltv_expiry_delta") as u16,
            htlc_minimum_msat: get("htlc_minimum_msat"),
            htlc_maximum_msat: get("htlc_maximum_msat"),
            present: true,
            enabled: get("channel_flags") & 2 == 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    /// `node_id_1`: the lesser pubkey.
    pub node_1: u32,
    /// `node_id_2`.
    pub node_2: u32,
    /// The short channel id, when the source has one.
    pub short_channel_id: Option<u64>,
    /// Capacity in satoshis (0 when unknown).
    pub capacity_sat: u64,
}

/// The graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Node pubkeys, by index.
    pub pubkeys: Vec<[u8; 33]>,
    /// Node aliases, by index (empty when unknown).
    pub aliases: Vec<String>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Two policies per channel: `2c` from `node_1`, `2c + 1` from `node_2`.
    pub policies: Vec<Policy>,
    /// CSR offsets into `out_edges`, one more than the nodes.
    pub out_start: Vec<u32>,
    /// Outgoing direction ids, grouped by source node.
    pub out_edges: Vec<u32>,
    /// CSR offsets into `in_edges`: the pathfinder walks back from the destination.
    pub in_start: Vec<u32>,
    /// Incoming direction ids, grouped by target node.
    pub in_edges: Vec<u32>,
}

/// Counts `lnkit graph stats` prints.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Stats {
    /// Nodes.
    pub nodes: usize,
    /// Channels.
    pub channels: usize,
    /// Directions with a known policy.
    pub half_channels: usize,
    /// Directions known and enabled.
    pub enabled_directions: usize,
    /// Sum of capacities, sat.
    pub total_capacity_sat: u64,
    /// Undirected connected components.
    pub components: usize,
    /// Nodes in the largest of them.
    pub largest_component: usize,
    /// Nodes in the largest strongly connected component over enabled directions.
    pub largest_scc_enabled: usize,
}

impl Graph {
    /// The source and target nodes of a direction.
    pub fn endpoints(&self, dir: u32) -> (u32, u32) {
        let c = &self.channels[(dir / 2) as usize];
        if dir.is_multiple_of(2) {
            (c.node_1, c.node_2)
        } else {
            (c.node_2, c.node_1)
        }
    }

    /// Build the CSR adjacencies, out and in, from `channels` (every present direction).
    pub fn index(&mut self) {
        let dirs: Vec<u32> = (0..self.policies.len() as u32)
            .filter(|&d| self.policies[d as usize].present)
            .collect();
        let n = self.pubkeys.len();
        (self.out_start, self.out_edges) = csr(n, &dirs, |d| self.endpoints(d).0);
        (self.in_start, self.in_edges) = csr(n, &dirs, |d| self.endpoints(d).1);
    }

    /// The heap memory the graph holds, in bytes (its arrays' capacities and the aliases' text).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.pubkeys.capacity() * 33
            + self.aliases.capacity() * size_of::<String>()
            + self.aliases.iter().map(String::capacity).sum::<usize>()
            + self.channels.capacity() * size_of::<Channel>()
            + self.policies.capacity() * size_of::<Policy>()
            + (self.out_start.capacity()
                + self.out_edges.capacity()
                + self.in_start.capacity()
                + self.in_edges.capacity())
                * size_of::<u32>()
    }

    /// Outgoing directions of a node.
    pub fn out(&self, node: u32) -> &[u32] {
        &self.out_edges
            [self.out_start[node as usize] as usize..self.out_start[node as usize + 1] as usize]
    }

    /// Incoming directions of a node.
    pub fn incoming(&self, node: u32) -> &[u32] {
        &self.in_edges
            [self.in_start[node as usize] as usize..self.in_start[node as usize + 1] as usize]
    }

    /// The node index of a pubkey, added (with no alias) when new.
    pub fn node_or_add(&mut self, pubkey: [u8; 33]) -> u32 {
        self.node(&pubkey).unwrap_or_else(|| {
            self.pubkeys.push(pubkey);
            self.aliases.push(String::new());
            (self.pubkeys.len() - 1) as u32
        })
    }

    /// Add a channel the gossip does not hold (a private channel of ours, a
    /// BOLT 11 route hint's hop), with its policy from `from` to `to` only;
    /// returns that direction. Call [`Graph::index`] once all are added.
    pub fn push_channel(
        &mut self,
        from: [u8; 33],
        to: [u8; 33],
        short_channel_id: Option<u64>,
        capacity_sat: u64,
        policy: Policy,
    ) -> u32 {
        let (a, b) = (self.node_or_add(from), self.node_or_add(to));
        // BOLT 7 numbering: direction 0 leaves the lesser pubkey.
        let forward = from < to;
        let (node_1, node_2) = if forward { (a, b) } else { (b, a) };
        self.channels.push(Channel {
            node_1,
            node_2,
            short_channel_id,
            capacity_sat,
        });
        let c = self.channels.len() as u32 - 1;
        let (p0, p1) = if forward {
            (policy, Policy::default())
        } else {
            (Policy::default(), policy)
        };
        self.policies.extend([p0, p1]);
        2 * c + u32::from(!forward)
    }

    /// The node index of a pubkey.
    pub fn node(&self, pubkey: &[u8; 33]) -> Option<u32> {
        self.pubkeys
            .iter()
            .position(|p| p == pubkey)
            .map(|i| i as u32)
    }

    /// Counts and connectivity.
    pub fn stats(&self) -> Stats {
        let n = self.pubkeys.len();
        // Undirected components: union-find over channels.
        let mut parent: Vec<u32> = (0..n as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        for c in &self.channels {
            let (a, b) = (find(&mut parent, c.node_1), find(&mut parent, c.node_2));
            if a != b {
                parent[a as usize] = b;
            }
        }
        let mut size = vec![0usize; n];
        for x in 0..n as u32 {
            let r = find(&mut parent, x);
            size[r as usize] += 1;
        }
        let components = size.iter().filter(|s| **s > 0).count();
        Stats {
            nodes: n,
            channels: self.channels.len(),
            half_channels: self.policies.iter().filter(|p| p.present).count(),
            enabled_directions: self.policies.iter().filter(|p| p.enabled).count(),
            total_capacity_sat: self.channels.iter().map(|c| c.capacity_sat).sum(),
            components,
            largest_component: size.iter().copied().max().unwrap_or(0),
            largest_scc_enabled: self.largest_scc(),
        }
    }

    /// The size of the largest strongly connected component over enabled
    /// directions (iterative Tarjan: the graph is too deep for recursion).
    pub fn largest_scc(&self) -> usize {
        self.largest_scc_nodes().len()
    }

    /// The nodes of the largest strongly connected component over enabled directions.
    pub fn largest_scc_nodes(&self) -> Vec<u32> {
        let n = self.pubkeys.len();
        let (mut index, mut low) = (vec![u32::MAX; n], vec![0u32; n]);
        let mut on_stack = vec![false; n];
        let (mut stack, mut next, mut best) = (vec![], 0u32, vec![]);
        for root in 0..n as u32 {
            if index[root as usize] != u32::MAX {
                continue;
            }
            let mut call: Vec<(u32, usize)> = vec![(root, 0)];
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            while let Some(&mut (v, ref mut i)) = call.last_mut() {
                let out = self.out(v);
                if *i < out.len() {
                    let d = out[*i];
                    *i += 1;
                    if !self.policies[d as usize].enabled {
                        continue;
                    }
                    let w = self.endpoints(d).1;
                    if index[w as usize] == u32::MAX {
                        index[w as usize] = next;
                        low[w as usize] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w as usize] = true;
                        call.push((w, 0));
                    } else if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(index[w as usize]);
                    }
                } else {
                    call.pop();
                    if let Some(&(u, _)) = call.last() {
                        low[u as usize] = low[u as usize].min(low[v as usize]);
                    }
                    if low[v as usize] == index[v as usize] {
                        let mut members = vec![];
                        while let Some(w) = stack.pop() {
                            on_stack[w as usize] = false;
                            members.push(w);
                            if w == v {
                                break;
                            }
                        }
                        if members.len() > best.len() {
                            best = members;
                        }
                    }
                }
            }
        }
        best
    }
}

/// Compressed sparse rows: `dirs` grouped by `key`, with offsets per node.
fn csr(n: usize, dirs: &[u32], key: impl Fn(u32) -> u32) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for &d in dirs {
        start[key(d) as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut edges = vec![0u32; dirs.len()];
    for &d in dirs {
        let k = key(d) as usize;
        edges[fill[k] as usize] = d;
        fill[k] += 1;
    }
    (start, edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_channel_routes_in_its_one_direction() {
        let (lo, hi) = ([2u8; 33], [3u8; 33]);
        let policy = Policy {
            htlc_maximum_msat: u64::MAX,
            present: true,
            enabled: true,
            ..Default::default()
        };
        let mut g = Graph::default();
        // From the greater key: direction 1 of the channel.
        let d = g.push_channel(hi, lo, Some(7), 0, policy);
        g.index();
        assert_eq!(d, 1);
        let (from, to) = g.endpoints(d);
        assert_eq!((g.pubkeys[from as usize], g.pubkeys[to as usize]), (hi, lo));
        assert_eq!(g.out(from), &[d]);
        assert!(g.out(to).is_empty(), "the other direction has no policy");
        assert_eq!(g.node_or_add(lo), to);
    }
}
