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
//!
//! Gossip also arrives out of order: a `channel_update` or
//! `node_announcement` before the `channel_announcement` that makes it
//! count. LDK sends that order: a peer's update it relays at once can pass
//! the announcement it sends only when its own (asynchronous) funding check
//! ends. BOLT 7 has the receiver ignore such a message, and nothing sends it
//! again for two weeks, so for [`EARLY_SECS`] it is kept aside, unchecked and
//! not relayed. If its announcement is taken in that time, it is checked
//! then like any other ([`GossipStore::take_released`]); otherwise it is dropped.

use std::collections::BTreeMap;

use bitcoin::secp256k1::PublicKey;

use super::{point, uint, FundingOutput, FundingSource, GossipStore, Verdict};
use crate::wire::message::{self, Message};

/// At most this many channels are held: an outage during a whole-graph
/// sync would hold ~60,000; past the cap, announcements are dropped as
/// before (the next sync brings them back).
pub const MAX_HELD: usize = 10_000;

/// How long a message that came before its channel's announcement is kept.
pub const EARLY_SECS: u64 = 120;

/// At most this many such messages are kept; past it, the oldest go first.
pub const MAX_EARLY: usize = 1_000;

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
    /// Messages that came before their channel's announcement.
    early: BTreeMap<EarlyKey, Early>,
    /// Early messages taken since the last [`GossipStore::take_released`]
    /// (at most [`MAX_EARLY`]: a caller that never takes them loses the oldest).
    pub(super) released: Vec<(Sender, Vec<u8>)>,
}

/// What an early message waits for: its channel (and direction), or its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EarlyKey {
    Update { scid: u64, direction: u8 },
    Node(PublicKey),
}

/// One early message: when it came (our clock), and the newest of its key.
#[derive(Clone, Debug)]
struct Early {
    received: u64,
    message: (u32, Sender, Vec<u8>),
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

    /// How many messages wait for an announcement that has not come yet.
    pub fn early_len(&self) -> usize {
        self.early.len()
    }

    /// Keep an early message (the newest per key), dropping the expired
    /// and, past [`MAX_EARLY`], the oldest. (A peer can make us keep a
    /// forged newer one instead of the genuine: then the genuine one is
    /// lost, as it was before the wait; LDK's holds have the same limit.)
    fn put_early(&mut self, key: EarlyKey, now: u64, timestamp: u32, from: Sender, raw: &[u8]) {
        self.early
            .retain(|_, e| e.received + EARLY_SECS > now && e.received <= now);
        if !self.early.contains_key(&key) && self.early.len() >= MAX_EARLY {
            let oldest = self.early.iter().min_by_key(|(_, e)| e.received);
            if let Some(k) = oldest.map(|(k, _)| *k) {
                self.early.remove(&k);
            }
        }
        let mut slot = self.early.remove(&key).map(|e| e.message);
        keep_newest(&mut slot, timestamp, from, raw);
        if let Some(message) = slot {
            self.early.insert(
                key,
                Early {
                    received: now,
                    message,
                },
            );
        }
    }

    /// The early messages a new announcement of `scid` between `nodes`
    /// lets in: its updates, then its nodes' announcements.
    fn take_early(&mut self, scid: u64, nodes: [PublicKey; 2], now: u64) -> Vec<(Sender, Vec<u8>)> {
        let keys = [
            EarlyKey::Update { scid, direction: 0 },
            EarlyKey::Update { scid, direction: 1 },
            EarlyKey::Node(nodes[0]),
            EarlyKey::Node(nodes[1]),
        ];
        keys.iter()
            .filter_map(|k| self.early.remove(k))
            .filter(|e| e.received + EARLY_SECS > now)
            .map(|e| (e.message.1, e.message.2))
            .collect()
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
        // Its signatures were checked before the lookup: forged
        // announcements cannot fill the hold.
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
            "channel_announcement: its funding output is not known yet (held until the chain answers)"
                .into(),
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

    /// A `channel_update` of a channel not announced, or a
    /// `node_announcement` of a node without one: kept for [`EARLY_SECS`]
    /// in case the announcement follows. `None`: the message is not one.
    pub(super) fn keep_early(
        &mut self,
        m: &Message,
        raw: &[u8],
        from: Sender,
        now: u64,
    ) -> Option<Verdict> {
        let timestamp = uint(m, "timestamp") as u32;
        let key = match m.typ {
            258 => {
                let scid = uint(m, "short_channel_id");
                if self.channels.contains_key(&scid)
                    || super::bytes(m, "chain_hash") != self.chain_hash
                {
                    return None;
                }
                let direction = (uint(m, "channel_flags") & 1) as u8;
                EarlyKey::Update { scid, direction }
            }
            // (Its signature was checked before it was found early.)
            257 => EarlyKey::Node(point(m, "node_id").filter(|id| !self.nodes.contains_key(id))?),
            _ => return None,
        };
        self.held.put_early(key, now, timestamp, from, raw);
        let what = match key {
            EarlyKey::Update { scid, .. } => format!(
                "channel_update for {}, a channel not announced",
                crate::wire::tlv::scid_to_string(scid)
            ),
            EarlyKey::Node(_) => "node_announcement of a node with no announced channel".into(),
        };
        Some(Verdict::Ignored(format!(
            "{what} (kept {EARLY_SECS} s in case its announcement follows)"
        )))
    }

    /// Early messages a newly taken announcement let in: checked as if they
    /// had just arrived, and those taken kept for [`GossipStore::take_released`].
    pub(super) fn release_early(&mut self, scid: u64, now: u64) -> Vec<(Sender, Vec<u8>)> {
        let Some(ch) = self.channels.get(&scid) else {
            return vec![];
        };
        let nodes = [ch.node_1, ch.node_2];
        let mut taken = vec![];
        for (from, raw) in self.held.take_early(scid, nodes, now) {
            let Ok(m) = message::decode(&raw) else {
                continue;
            };
            let verdict = match m.typ {
                258 => self.channel_update(&m, &raw, now),
                _ => self.node_announcement(&m, &raw),
            };
            if verdict == Verdict::Accepted {
                taken.push((from, raw));
            }
        }
        taken
    }

    /// The early messages taken since the last call, each with its sender,
    /// after the announcement that let them in: to be stored and relayed as
    /// if they had just arrived.
    pub fn take_released(&mut self) -> Vec<(Sender, Vec<u8>)> {
        std::mem::take(&mut self.held.released)
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
            taken.extend(self.retry_held_channel(scid, now, chain));
        }
        self.drop_orphan_nodes();
        taken
    }

    /// [`Self::retry_held`] for one channel (its lookup just answered).
    pub fn retry_held_one(
        &mut self,
        scid: u64,
        now: u64,
        chain: &mut dyn FundingSource,
    ) -> Vec<(Sender, Vec<u8>)> {
        let taken = self.retry_held_channel(scid, now, chain);
        self.drop_orphan_nodes();
        taken
    }

    /// Forget what `peer` sent that is held (it was disconnected for its gossip).
    pub fn forget_held_from(&mut self, peer: &PublicKey) {
        let from = Some(*peer);
        self.held.channels.retain(|_, h| h.from != from);
        self.held.early.retain(|_, e| e.message.1 != from);
        self.drop_orphan_nodes();
    }

    fn retry_held_channel(
        &mut self,
        scid: u64,
        now: u64,
        chain: &mut dyn FundingSource,
    ) -> Vec<(Sender, Vec<u8>)> {
        let mut taken = vec![];
        if !self.held.channels.contains_key(&scid)
            || self.lookup(scid, chain) == FundingOutput::Unavailable
        {
            return taken;
        }
        let held = self.held.channels.remove(&scid).expect("listed");
        let Ok(m) = message::decode(&held.announcement) else {
            return taken;
        };
        if self.channel_announcement(&m, &held.announcement, now, chain, held.from)
            != Verdict::Accepted
        {
            return taken;
        }
        taken.push((held.from, held.announcement));
        for (_, from, raw) in held.updates.into_iter().flatten() {
            if let Ok(m) = message::decode(&raw) {
                if self.channel_update(&m, &raw, now) == Verdict::Accepted {
                    taken.push((from, raw));
                }
            }
        }
        // Early updates and node announcements are let in too.
        taken.extend(self.release_early(scid, now));
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
        taken
    }

    /// A node announcement whose channels all turned out bad is dropped.
    fn drop_orphan_nodes(&mut self) {
        let channels = &self.held.channels;
        self.held
            .nodes
            .retain(|id, _| channels.values().any(|h| h.nodes.contains(id)));
    }
}
