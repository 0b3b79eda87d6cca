//! The node's BOLT 7 glue: gossip from peers goes through the toolkit's
//! [`GossipStore`] (every receiver requirement, signatures and the funding
//! output checked against the chain), is stored as received, and is read
//! back at start; `listchannels` and `listnodes` show it.

use super::*;
use crate::gossip::{ChainFunding, Verdict};

impl Core {
    /// A gossip message from `peer` (none: from our own store at start).
    pub(super) fn on_gossip(&mut self, peer: Option<PublicKey>, bytes: &[u8]) {
        let chain = self.chain.clone();
        let verdict = tokio::task::block_in_place(|| {
            self.gossip.ingest(
                peer.as_ref(),
                bytes,
                now_secs(),
                &mut ChainFunding(chain.as_ref()),
            )
        });
        match verdict {
            Verdict::Accepted if peer.is_some() => {
                let key = gossip_key(bytes);
                let typ = u16::from_be_bytes([bytes[0], bytes[1]]);
                let write = self.store.batch().and_then(|b| {
                    b.put_gossip(&key, typ, bytes)?;
                    b.commit()
                });
                if let Err(e) = write {
                    warn!("gossip not stored: {e}");
                }
            }
            Verdict::Accepted => {}
            Verdict::Ignored(why) => debug!(peer = ?peer, "gossip ignored: {why}"),
            Verdict::Warning(why) => {
                // BOLT 7: SHOULD send a warning; we keep the connection.
                if let Some(p) = peer {
                    debug!(peer = %p, "gossip refused with a warning: {why}");
                    self.send(
                        &p,
                        &ChannelMessage::Warning {
                            channel_id: ChannelId([0; 32]),
                            data: why.into_bytes(),
                        },
                    );
                }
            }
        }
    }

    /// The stored gossip, taken in again at start.
    pub(super) fn load_gossip(&mut self) {
        let stored = self.store.gossip().unwrap_or_default();
        for raw in stored {
            self.on_gossip(None, &raw);
        }
    }

    pub(super) fn listchannels(&self, r: rpc::ListchannelsRequest) -> Result<Value, RpcError> {
        let only_scid = r
            .short_channel_id
            .as_deref()
            .map(|s| {
                crate::wire::tlv::scid_from_str(s)
                    .ok_or_else(|| RpcError::param("short_channel_id", "expected BLOCKxTXxOUT"))
            })
            .transpose()?;
        let only_source = r
            .source
            .as_deref()
            .map(|s| Self::peer_id("source", s))
            .transpose()?;
        let mut channels = vec![];
        for (scid, c) in &self.gossip.channels {
            if only_scid.is_some_and(|s| s != *scid) || c.spent_at.is_some() {
                continue;
            }
            for (dir, u) in c.updates.iter().enumerate() {
                let Some(u) = u else { continue };
                let (source, destination) = if dir == 0 {
                    (c.node_1, c.node_2)
                } else {
                    (c.node_2, c.node_1)
                };
                if only_source.is_some_and(|s| s != source) {
                    continue;
                }
                channels.push(rpc::GossipChannel {
                    source: source.to_string(),
                    destination: destination.to_string(),
                    short_channel_id: scid_string(*scid),
                    direction: dir as u8,
                    public: true,
                    amount_msat: c.capacity.to_sat() * 1000,
                    active: u.policy.enabled,
                    last_update: u.timestamp,
                    base_fee_millisatoshi: u.policy.fee_base_msat,
                    fee_per_millionth: u.policy.fee_proportional_millionths,
                    delay: u.policy.cltv_expiry_delta,
                    htlc_minimum_msat: u.policy.htlc_minimum_msat,
                    htlc_maximum_msat: u.policy.htlc_maximum_msat,
                });
            }
        }
        to_value(rpc::ListchannelsResponse { channels })
    }

    /// Every live channel's announcement and updates, and the nodes'
    /// announcements, as hex lines (the format `graph::import` reads).
    pub(super) fn exportgraph(&self, r: rpc::ExportgraphRequest) -> Result<Value, RpcError> {
        let mut lines = vec![];
        let mut channels = 0;
        for c in self
            .gossip
            .channels
            .values()
            .filter(|c| c.spent_at.is_none())
        {
            channels += 1;
            lines.push(hex::encode(&c.raw));
            lines.extend(c.updates.iter().flatten().map(|u| hex::encode(&u.raw)));
        }
        lines.extend(
            self.gossip
                .nodes
                .values()
                .filter_map(|n| n.raw.as_ref())
                .map(hex::encode),
        );
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&r.file, text)
            .map_err(|e| RpcError::param("file", format!("cannot write {}: {e}", r.file)))?;
        to_value(rpc::ExportgraphResponse {
            file: r.file,
            channels,
            messages: lines.len(),
        })
    }

    pub(super) fn listnodes(&self, r: rpc::ListnodesRequest) -> Result<Value, RpcError> {
        let only =
            r.id.as_deref()
                .map(|s| Self::peer_id("id", s))
                .transpose()?;
        let mut nodes: Vec<rpc::GossipNode> = self
            .gossip
            .nodes
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o == **id))
            .map(|(id, n)| rpc::GossipNode {
                nodeid: id.to_string(),
                alias: n.raw.as_ref().map(|_| n.alias.clone()),
                color: n.raw.as_ref().map(|_| hex::encode(n.color)),
                last_timestamp: n.raw.as_ref().map(|_| n.timestamp),
            })
            .collect();
        nodes.sort_by(|a, b| a.nodeid.cmp(&b.nodeid));
        to_value(rpc::ListnodesResponse { nodes })
    }
}

/// What a stored gossip message replaces: its channel (announcement), its
/// channel and direction (update), or its node (node_announcement).
fn gossip_key(raw: &[u8]) -> Vec<u8> {
    let Ok(m) = wire_msg::decode(raw) else {
        return raw.to_vec();
    };
    let get = |name: &str| m.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
    let mut key = m.typ.to_be_bytes().to_vec();
    match (
        m.typ,
        get("short_channel_id"),
        get("channel_flags"),
        get("node_id"),
    ) {
        (256, Some(WireValue::Scid(s)), _, _) => key.extend(s.to_be_bytes()),
        (258, Some(WireValue::Scid(s)), Some(WireValue::Uint(f)), _) => {
            key.extend(s.to_be_bytes());
            key.push((f & 1) as u8);
        }
        (257, _, _, Some(WireValue::Point(p))) => key.extend(p.serialize()),
        _ => key.extend(raw),
    }
    key
}
