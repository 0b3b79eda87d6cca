//! Gossip held while the chain cannot be asked.
//!
//! BOLT 7 has a receiver check a `channel_announcement`'s funding output on
//! chain before it takes the channel. When the chain cannot answer (a
//! bitcoind that times out, a restart), the lookup says nothing of the
//! message: dropping it would lose the channel until its ends refresh their
//! gossip, two weeks later, and with it every `channel_update` and
//! `node_announcement` that follows it (they are ignored without an
//! announced channel). So the announcement is held, with the latest update
//! of each direction and the latest announcement of each of its nodes, and
//! taken again once the chain answers ([`GossipStore::retry_held`]).

use std::collections::BTreeMap;

use bitcoin::secp256k1::PublicKey;

use super::{point, uint, FundingOutput, FundingSource, GossipStore, Verdict};
use crate::wire::message::{self, Message};

/// At most this many channels are held: an outage during a whole-graph
/// sync would hold ~60,000; past the cap, announcements are dropped as
/// before (the next sync brings them back).
pub const MAX_HELD: usize = 10_000;

/// Who sent a held message: a peer, or `None` for our own.
pub type Sender = Option<PublicKey>;

/// One channel announcement waiting for the chain, and what came after it.
#[derive(Clone, Debug)]
pub struct Held {
    from: Sender,
    announcement: Vec<u8>,
    nodes: [PublicKey; 2],
    /// The newest `channel_update` of each direction: (timestamp, sender, bytes).
    updates: [Option<(u32, Sender, Vec<u8>)>; 2],
}

/// The held channels, by short channel id, and node announcements for their nodes.
#[derive(Clone, Debug, Default)]
pub struct HeldGossip {
    channels: BTreeMap<u64, Held>,
    /// The newest `node_announcement` of a node that has only held channels.
    nodes: BTreeMap<PublicKey, (u32, Sender, Vec<u8>)>,
}

impl HeldGossip {
    /// How many channel announcements are waiting.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Whether this channel's announcement is waiting.
    pub fn contains(&self, scid: u64) -> bool {
        self.channels.contains_key(&scid)
    }
}

/// Keep the newer of two timestamped messages in `slot`.
fn keep_newest(
    slot: &mut Option<(u32, Sender, Vec<u8>)>,
    timestamp: u32,
    from: Sender,
    raw: &[u8],
) {
    if slot.as_ref().is_none_or(|(t, _, _)| *t < timestamp) {
        *slot = Some((timestamp, from, raw.to_vec()));
    }
}

impl GossipStore {
    /// Gossip held until the chain answers.
    pub fn held(&self) -> &HeldGossip {
        &self.held
    }

    /// Hold an announcement whose funding output could not be looked up.
    pub(super) fn hold_announcement(&mut self, m: &Message, raw: &[u8], from: Sender) -> Verdict {
        let scid = uint(m, "short_channel_id");
        let (Some(n1), Some(n2)) = (point(m, "node_id_1"), point(m, "node_id_2")) else {
            return Verdict::Warning("channel_announcement: a key does not parse".into());
        };
        // Checked now, so that a flood of forged announcements cannot fill the hold.
        if let Err(e) = self.signatures_valid(m, raw, None) {
            return Verdict::Warning(format!("channel_announcement: {e}"));
        }
        if !self.held.channels.contains_key(&scid) && self.held.channels.len() >= MAX_HELD {
            return Verdict::Ignored(
                "channel_announcement: the chain cannot be asked now, and too many are held".into(),
            );
        }
        self.held.channels.entry(scid).or_insert(Held {
            from,
            announcement: raw.to_vec(),
            nodes: [n1, n2],
            updates: [None, None],
        });
        Verdict::Ignored(
            "channel_announcement: the chain cannot be asked now (held until it can)".into(),
        )
    }

    /// A `channel_update` of a held channel: kept (the newest per direction)
    /// to be checked with it. `None`: the channel is not held.
    pub(super) fn hold_update(&mut self, m: &Message, raw: &[u8], from: Sender) -> Option<Verdict> {
        let scid = uint(m, "short_channel_id");
        let dir = (uint(m, "channel_flags") & 1) as usize;
        let signer = self.held.channels.get(&scid)?.nodes[dir];
        if let Err(e) = self.signatures_valid(m, raw, Some(&signer)) {
            return Some(Verdict::Warning(format!("channel_update: {e}")));
        }
        let held = self.held.channels.get_mut(&scid).expect("found above");
        keep_newest(
            &mut held.updates[dir],
            uint(m, "timestamp") as u32,
            from,
            raw,
        );
        Some(Verdict::Ignored(
            "channel_update held with its channel_announcement until the chain answers".into(),
        ))
    }

    /// A `node_announcement` of a node whose only channels are held. `None`: it is not one.
    pub(super) fn hold_node(&mut self, m: &Message, raw: &[u8], from: Sender) -> Option<Verdict> {
        let id = point(m, "node_id")?;
        if self.nodes.contains_key(&id)
            || !self.held.channels.values().any(|h| h.nodes.contains(&id))
        {
            return None;
        }
        let mut slot = self.held.nodes.remove(&id);
        keep_newest(&mut slot, uint(m, "timestamp") as u32, from, raw);
        self.held.nodes.extend(slot.map(|s| (id, s)));
        Some(Verdict::Ignored(
            "node_announcement held with its node's channel_announcement until the chain answers"
                .into(),
        ))
    }

    /// Ask the chain again for every held channel. What is now taken comes
    /// back in order (each announcement before its updates and its nodes'
    /// announcements) with its sender, to be stored and relayed as if it had
    /// just arrived.
    pub fn retry_held(
        &mut self,
        now: u64,
        chain: &mut dyn FundingSource,
    ) -> Vec<(Sender, Vec<u8>)> {
        let mut taken = vec![];
        let scids: Vec<u64> = self.held.channels.keys().copied().collect();
        for scid in scids {
            if self.lookup(scid, chain) == FundingOutput::Unavailable {
                continue;
            }
            let held = self.held.channels.remove(&scid).expect("listed");
            let Ok(m) = message::decode(&held.announcement) else {
                continue;
            };
            if self.channel_announcement(&m, &held.announcement, now, chain, held.from)
                != Verdict::Accepted
            {
                continue;
            }
            taken.push((held.from, held.announcement));
            for (_, from, raw) in held.updates.into_iter().flatten() {
                if let Ok(m) = message::decode(&raw) {
                    if self.channel_update(&m, &raw, now) == Verdict::Accepted {
                        taken.push((from, raw));
                    }
                }
            }
            // Its nodes are known now: their held announcements are taken too.
            for node in held.nodes {
                let Some((_, from, raw)) = self.held.nodes.remove(&node) else {
                    continue;
                };
                if let Ok(m) = message::decode(&raw) {
                    if self.node_announcement(&m, &raw) == Verdict::Accepted {
                        taken.push((from, raw));
                    }
                }
            }
        }
        // A node announcement whose channels all turned out bad is dropped.
        let channels = &self.held.channels;
        self.held
            .nodes
            .retain(|id, _| channels.values().any(|h| h.nodes.contains(id)));
        taken
    }
}
