//! The node's own BOLT 7 gossip: `announcement_signatures` once a public
//! channel is 6 blocks deep, the `channel_announcement` both halves make,
//! our `channel_update`s (policy changes by `setchannel`, disabled while the
//! peer is away, refreshed before they go stale), our `node_announcement`,
//! and the alias-only `channel_update` an unannounced channel's peer gets.

use super::*;
use crate::gossip::announce::{self as ann, Endpoint, Half, UpdateFields};
use crate::gossip::Verdict;

/// BOLT 7: a channel is announced once its funding is this deep.
pub(super) const ANNOUNCE_DEPTH: u32 = 6;

impl Core {
    /// How deep a channel's funding is (0: not confirmed).
    fn funding_depth(&self, ch: &Channel) -> u32 {
        ch.scid.map_or(0, |s| {
            (self.height() + 1).saturating_sub(crate::gossip::sync::block_of(s))
        })
    }

    /// The `channel_announcement` both sides sign, unsigned.
    fn unsigned_announcement(&mut self, id: ChannelId) -> Option<Message> {
        let ch = self.channels.get(&id)?;
        let (scid, peer, index) = (ch.scid?, ch.peer, ch.key_index);
        let theirs = ch.theirs.as_ref()?.pubkeys.funding;
        let ours = self.signer(index).funding_pubkey();
        Some(ann::channel_announcement(
            self.gossip.chain_hash(),
            scid,
            Endpoint {
                node_id: self.node_id,
                bitcoin_key: ours,
            },
            Endpoint {
                node_id: peer,
                bitcoin_key: theirs,
            },
        ))
    }

    fn our_half(&mut self, id: ChannelId, unsigned: &Message) -> Option<Half> {
        let index = self.channels.get(&id)?.key_index;
        Some(Half {
            node_signature: self.node_signer.sign_gossip(unsigned).ok()?,
            bitcoin_signature: self
                .signer(index)
                .sign_channel_announcement(unsigned)
                .ok()?,
        })
    }

    /// BOLT 7: whether a channel may be announced now.
    fn announceable(&self, ch: &Channel) -> bool {
        ch.announce
            && ch.phase == Phase::Normal
            && ch.live
            && ch.scid.is_some()
            && self.funding_depth(ch) >= ANNOUNCE_DEPTH
    }

    /// Send our `announcement_signatures` (once per connection), and
    /// assemble the `channel_announcement` when the peer's half is in.
    pub(super) fn maybe_announce(&mut self, id: ChannelId) {
        let Some(ch) = self.channels.get(&id) else {
            return;
        };
        if !self.announceable(ch) {
            return;
        }
        let (peer, scid, announced) = (ch.peer, ch.scid, ch.gossip.announcement.is_some());
        let assemble = !announced && ch.gossip.their_signatures.is_some();
        if self.announcement_sigs_sent.contains(&id) && !assemble {
            // Nothing to send or to make: no signing on every block.
            return;
        }
        let Some(unsigned) = self.unsigned_announcement(id) else {
            return;
        };
        let Some(half) = self.our_half(id, &unsigned) else {
            return;
        };
        if self.announcement_sigs_sent.insert(id) {
            let m = Message {
                typ: 259,
                name: Some("announcement_signatures"),
                fields: vec![
                    ("channel_id", WireValue::Bytes(id.0.to_vec())),
                    (
                        "short_channel_id",
                        WireValue::Scid(scid.expect("announceable")),
                    ),
                    (
                        "node_signature",
                        WireValue::Bytes(half.node_signature.serialize_compact().to_vec()),
                    ),
                    (
                        "bitcoin_signature",
                        WireValue::Bytes(half.bitcoin_signature.serialize_compact().to_vec()),
                    ),
                ],
                tlvs: vec![],
                raw: None,
            };
            debug!(%peer, channel = %id, "send announcement_signatures");
            self.send_raw(
                &peer,
                wire_msg::encode(&m).expect("announcement_signatures encodes"),
            );
        }
        if announced {
            return;
        }
        let Some((n, b)) = self.channels[&id].gossip.their_signatures.clone() else {
            return;
        };
        let sig = |b: &[u8]| bitcoin::secp256k1::ecdsa::Signature::from_compact(b).ok();
        let (Some(node_signature), Some(bitcoin_signature)) = (sig(&n), sig(&b)) else {
            return;
        };
        let theirs = Half {
            node_signature,
            bitcoin_signature,
        };
        let we_are_1 = ann::is_node_1(&self.node_id, &peer);
        let Ok(raw) = ann::assemble(unsigned, we_are_1, half, theirs) else {
            return;
        };
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.gossip.announcement = Some(raw.clone());
        }
        self.put_channel_now(id);
        info!(channel = %id, scid = %scid_string(scid.unwrap_or(0)), "channel announced");
        self.own_gossip(&raw);
        self.broadcast_update(id, false);
        self.refresh_node_announcement();
    }

    /// A peer's `announcement_signatures` (BOLT 7 recipient requirements).
    pub(super) fn on_announcement_signatures(&mut self, peer: PublicKey, m: &Message) {
        let get = |name: &str| m.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        let (
            Some(WireValue::Bytes(cid)),
            Some(WireValue::Scid(scid)),
            Some(WireValue::Bytes(node_sig)),
            Some(WireValue::Bytes(btc_sig)),
        ) = (
            get("channel_id"),
            get("short_channel_id"),
            get("node_signature"),
            get("bitcoin_signature"),
        )
        else {
            return;
        };
        let id = ChannelId(cid.as_slice().try_into().unwrap_or([0; 32]));
        let warn_peer = |core: &mut Core, text: String| {
            core.send(
                &peer,
                &ChannelMessage::Warning {
                    channel_id: id,
                    data: text.into_bytes(),
                },
            );
        };
        let Some(ch) = self.channels.get(&id).filter(|c| c.peer == peer) else {
            return warn_peer(
                self,
                "announcement_signatures for an unknown channel".into(),
            );
        };
        if !ch.announce {
            return warn_peer(
                self,
                "announcement_signatures for a channel opened without announce_channel".into(),
            );
        }
        if ch.scid != Some(*scid) {
            return warn_peer(
                self,
                format!(
                    "announcement_signatures: short_channel_id {} is not this channel's funding",
                    scid_string(*scid)
                ),
            );
        }
        let Some(unsigned) = self.unsigned_announcement(id) else {
            return;
        };
        let Ok(digest) = crate::wire::gossip::digest(&unsigned) else {
            return;
        };
        let theirs = self.channels[&id]
            .theirs
            .as_ref()
            .map(|t| t.pubkeys.funding);
        let valid = |sig: &[u8], key: Option<PublicKey>| {
            bitcoin::secp256k1::ecdsa::Signature::from_compact(sig)
                .is_ok_and(|s| key.is_some_and(|k| self.secp.verify_ecdsa(&digest, &s, &k).is_ok()))
        };
        if !valid(node_sig, Some(peer)) || !valid(btc_sig, theirs) {
            // BOLT 7: MAY send a warning and close the connection.
            return self.hang_up(
                peer,
                Some("announcement_signatures: a signature does not verify".into()),
            );
        }
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.gossip.their_signatures = Some((node_sig.clone(), btc_sig.clone()));
        }
        self.put_channel_now(id);
        // BOLT 7: "MUST respond with its own": ours goes out unless it already
        // did on this connection (once each way per connection, or two lnkit
        // nodes would answer each other forever).
        self.maybe_announce(id);
    }

    /// A channel's BOLT 7 part after one of its steps: `was` is whether it
    /// was usable (normal and reestablished) before.
    pub(super) fn gossip_after_step(&mut self, id: ChannelId, was: (bool, bool)) {
        let Some(ch) = self.channels.get(&id) else {
            return;
        };
        let usable = ch.phase == Phase::Normal && ch.live;
        let open = matches!(ch.phase, Phase::Normal);
        let (was_usable, was_open) = was;
        let announced = ch.gossip.announcement.is_some();
        if usable && !was_usable {
            self.maybe_announce(id);
            let ch = &self.channels[&id];
            if ch.gossip.announcement.is_some() {
                if ch.gossip.last_disabled {
                    self.broadcast_update(id, false);
                }
            } else {
                // BOLT 7: an unannounced channel's peer learns our policy directly.
                self.broadcast_update(id, false);
            }
        }
        if was_open && !open && announced {
            // Closing: BOLT 7 "permanent unavailability".
            self.broadcast_update(id, true);
        }
    }

    /// Make, sign and send our `channel_update` for a channel: to the network
    /// once it is announced, else to its peer only, under its alias.
    pub(super) fn broadcast_update(&mut self, id: ChannelId, disabled: bool) {
        let Some(raw) = self.make_update(id, disabled) else {
            return;
        };
        let ch = &self.channels[&id];
        if ch.gossip.announcement.is_some() {
            self.own_gossip(&raw);
        } else {
            let peer = ch.peer;
            self.send_raw(&peer, raw);
        }
    }

    fn make_update(&mut self, id: ChannelId, disabled: bool) -> Option<Vec<u8>> {
        let now = now_secs();
        let chain_hash = self.gossip.chain_hash();
        let node_id = self.node_id;
        let ch = self.channels.get_mut(&id)?;
        let theirs = ch.theirs.as_ref()?;
        let announced = ch.gossip.announcement.is_some();
        // BOLT 7: the real scid once announced; before, an alias the peer gave us (or the real one).
        let scid = if announced {
            ch.scid?
        } else {
            ch.their_alias.or(ch.scid)?
        };
        let p = ch.gossip.policy;
        let (htlc_minimum, htlc_maximum) = p.htlc_limits(
            Msat(ch.funding_amount.to_sat() * 1000),
            theirs.htlc_minimum,
            theirs.max_htlc_value_in_flight,
        );
        let fields = UpdateFields {
            short_channel_id: scid,
            timestamp: ch.gossip.next_timestamp(now),
            direction: !ann::is_node_1(&node_id, &ch.peer),
            disabled,
            dont_forward: !announced,
            cltv_expiry_delta: p.cltv_expiry_delta,
            htlc_minimum_msat: htlc_minimum,
            htlc_maximum_msat: htlc_maximum,
            fee_base_msat: p.fee_base_msat,
            fee_proportional_millionths: p.fee_proportional_millionths,
        };
        ch.gossip.last_disabled = disabled;
        let mut m = ann::channel_update(chain_hash, &fields);
        let sig = self.node_signer.sign_gossip(&m).ok()?;
        crate::wire::gossip::set_signature(&mut m, "signature", &sig);
        let raw = wire_msg::encode(&m).ok()?;
        // The timestamp is durable before the update leaves (each must be greater).
        self.put_channel_now(id);
        Some(raw)
    }

    /// Our `node_announcement`, made again (BOLT 7: only once a channel of ours is announced).
    pub(super) fn refresh_node_announcement(&mut self) {
        if !self
            .channels
            .values()
            .any(|c| c.gossip.announcement.is_some() && c.phase == Phase::Normal)
        {
            return;
        }
        let previous = self
            .gossip
            .nodes
            .get(&self.node_id)
            .map_or(0, |n| n.timestamp);
        let timestamp = (now_secs().min(u64::from(u32::MAX)) as u32).max(previous + 1);
        let id = self.node_id.serialize();
        let fields = ann::NodeFields {
            features: features::node_announcement_features(),
            timestamp,
            node_id: self.node_id,
            color: self.opts.gossip.color.unwrap_or([id[1], id[2], id[3]]),
            alias: self.opts.alias.clone(),
            addresses: self.announced_addresses(),
        };
        let mut m = ann::node_announcement(&fields);
        let Ok(sig) = self.node_signer.sign_gossip(&m) else {
            return;
        };
        crate::wire::gossip::set_signature(&mut m, "signature", &sig);
        if let Ok(raw) = wire_msg::encode(&m) {
            self.own_gossip(&raw);
        }
    }

    /// What `node_announcement` lists: `--announce-addr`, else the address we
    /// listen on when it names one host (not 0.0.0.0).
    fn announced_addresses(&self) -> Vec<ann::NetAddress> {
        if !self.opts.gossip.addresses.is_empty() {
            return self.opts.gossip.addresses.clone();
        }
        self.listen
            .filter(|a| !a.ip().is_unspecified())
            .map(ann::NetAddress::Ip)
            .into_iter()
            .collect()
    }

    /// At start: if what our stored `node_announcement` says is not what we
    /// run with now (alias, colour, addresses), announce again.
    pub(super) fn node_announcement_at_start(&mut self) {
        let Some(raw) = self
            .gossip
            .nodes
            .get(&self.node_id)
            .and_then(|n| n.raw.clone())
        else {
            return self.refresh_node_announcement();
        };
        let Ok(m) = wire_msg::decode(&raw) else {
            return;
        };
        let get = |name: &str| match m.fields.iter().find(|(n, _)| *n == name) {
            Some((_, WireValue::Bytes(b))) => b.clone(),
            _ => vec![],
        };
        let id = self.node_id.serialize();
        let color = self.opts.gossip.color.unwrap_or([id[1], id[2], id[3]]);
        let same = get("alias") == ann::alias_bytes(&self.opts.alias)
            && get("rgb_color") == color
            && get("addresses") == ann::encode_addresses(&self.announced_addresses());
        if !same {
            self.refresh_node_announcement();
        }
    }

    /// Timers: a peer away longer than `disable_after` has its announced
    /// channels disabled; announced channels are refreshed before receivers
    /// would prune them (BOLT 7: two weeks).
    pub(super) fn gossip_timers(&mut self) {
        let now = Instant::now();
        let gone: Vec<PublicKey> = self
            .offline_since
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= self.opts.gossip.disable_after)
            .map(|(p, _)| *p)
            .collect();
        for peer in gone {
            self.offline_since.remove(&peer);
            let ids: Vec<ChannelId> = self
                .channels
                .values()
                .filter(|c| c.peer == peer && c.phase == Phase::Normal && !c.live)
                .filter(|c| c.gossip.announcement.is_some() && !c.gossip.last_disabled)
                .map(|c| c.id)
                .collect();
            for id in ids {
                info!(channel = %id, "peer offline: channel disabled in gossip");
                self.broadcast_update(id, true);
            }
        }
        let secs = now_secs();
        let keepalive = self.opts.gossip.keepalive.as_secs();
        let stale: Vec<(ChannelId, bool)> = self
            .channels
            .values()
            .filter(|c| c.phase == Phase::Normal && c.gossip.announcement.is_some())
            .filter(|c| u64::from(c.gossip.last_update) + keepalive <= secs)
            .map(|c| (c.id, c.gossip.last_disabled))
            .collect();
        for (id, disabled) in stale {
            self.broadcast_update(id, disabled);
        }
        if stale_node_announcement(&self.gossip, &self.node_id, secs, keepalive) {
            self.refresh_node_announcement();
        }
    }

    /// Our own gossip that our store did not take (the chain could not be
    /// asked when the announcement was made, an update raced its
    /// announcement): offered again, so no announced channel of ours stays
    /// without our direction. Nothing else would ever send it again: peers
    /// only relay, and our refresh comes after two weeks (BOLT 7).
    pub(super) fn reoffer_own_gossip(&mut self) {
        let node_id = self.node_id;
        let missing: Vec<(ChannelId, Option<Vec<u8>>, bool)> = self
            .channels
            .values()
            .filter(|c| c.phase == Phase::Normal)
            .filter_map(|c| {
                let raw = c.gossip.announcement.as_ref()?;
                let dir = usize::from(!ann::is_node_1(&node_id, &c.peer));
                match self.gossip.channels.get(&c.scid?) {
                    None => Some((c.id, Some(raw.clone()), c.gossip.last_disabled)),
                    Some(e) if e.spent_at.is_some() => None,
                    Some(e) => {
                        let ours = e.updates[dir].as_ref().map_or(0, |u| u.timestamp);
                        (ours < c.gossip.last_update).then_some((
                            c.id,
                            None,
                            c.gossip.last_disabled,
                        ))
                    }
                }
            })
            .collect();
        for (id, announcement, disabled) in missing {
            if let Some(raw) = announcement {
                if !matches!(self.own_gossip(&raw), Verdict::Accepted) {
                    continue;
                }
            }
            info!(channel = %id, "our channel_update was not in our gossip: sent again");
            self.broadcast_update(id, disabled);
        }
    }

    /// `listpeerchannels` `updates`: our policy, and the peer's.
    pub(super) fn channel_updates_info(&self, c: &Channel) -> rpc::ChannelUpdatesInfo {
        let p = c.gossip.policy;
        let (minimum, maximum) = p.htlc_limits(
            Msat(c.funding_amount.to_sat() * 1000),
            c.theirs.as_ref().map_or(Msat(0), |t| t.htlc_minimum),
            c.theirs
                .as_ref()
                .map_or(Msat(u64::MAX), |t| t.max_htlc_value_in_flight),
        );
        let from_gossip = c.scid.and_then(|s| {
            let e = self.gossip.channels.get(&s)?;
            let dir = usize::from(e.node_1 != c.peer);
            e.updates[dir].as_ref().map(|u| u.policy)
        });
        let info = |q: crate::graph::Policy| rpc::UpdatePolicyInfo {
            htlc_minimum_msat: q.htlc_minimum_msat,
            htlc_maximum_msat: q.htlc_maximum_msat,
            cltv_expiry_delta: q.cltv_expiry_delta,
            fee_base_msat: q.fee_base_msat,
            fee_proportional_millionths: q.fee_proportional_millionths,
        };
        rpc::ChannelUpdatesInfo {
            local: rpc::UpdatePolicyInfo {
                htlc_minimum_msat: minimum.0,
                htlc_maximum_msat: maximum.0,
                cltv_expiry_delta: p.cltv_expiry_delta,
                fee_base_msat: p.fee_base_msat,
                fee_proportional_millionths: p.fee_proportional_millionths,
            },
            remote: from_gossip.or(c.gossip.their_policy).map(info),
        }
    }

    /// `setchannel`: a new relay policy for one channel, a peer's, or all.
    pub(super) fn setchannel(&mut self, r: rpc::SetchannelRequest) -> Result<Value, RpcError> {
        let ids: Vec<ChannelId> = if r.id == "all" {
            self.channels
                .values()
                .filter(|c| !matches!(c.phase, Phase::Closed | Phase::Failed))
                .map(|c| c.id)
                .collect()
        } else if let Ok(peer) = r.id.parse::<PublicKey>() {
            self.channels
                .values()
                .filter(|c| c.peer == peer && !matches!(c.phase, Phase::Closed | Phase::Failed))
                .map(|c| c.id)
                .collect()
        } else {
            vec![self.find_channel(&r.id)?]
        };
        if ids.is_empty() {
            return Err(RpcError::param("id", "no open channel matches"));
        }
        if let (Some(min), Some(max)) = (r.htlcmin, r.htlcmax) {
            if min > max {
                return Err(RpcError::param(
                    "htlcmin",
                    format!("{min} msat is above htlcmax ({max} msat)"),
                ));
            }
        }
        if r.cltv_expiry_delta == Some(0) {
            return Err(RpcError::param(
                "cltv_expiry_delta",
                "must be at least 1 (BOLT 7: blocks subtracted from an incoming HTLC's expiry)",
            ));
        }
        let mut out = vec![];
        for id in ids {
            let ch = self.channels.get_mut(&id).expect("listed");
            let old = ch.gossip.policy;
            let p = &mut ch.gossip.policy;
            if let Some(v) = r.feebase {
                p.fee_base_msat = v;
            }
            if let Some(v) = r.feeppm {
                p.fee_proportional_millionths = v;
            }
            if let Some(v) = r.htlcmin {
                p.htlc_minimum_msat = Msat(v);
            }
            if let Some(v) = r.htlcmax {
                p.htlc_maximum_msat = Some(Msat(v));
            }
            if let Some(v) = r.cltv_expiry_delta {
                p.cltv_expiry_delta = v;
            }
            let changed = ch.gossip.policy != old;
            if changed {
                // BOLT 7: the old parameters are still accepted for 10 minutes.
                ch.gossip.previous = Some((old, now_secs() + 600));
            }
            self.put_channel_now(id);
            let ch = &self.channels[&id];
            if changed && ch.phase == Phase::Normal {
                let disabled = ch.gossip.last_disabled && !ch.live;
                if ch.gossip.announcement.is_some() || ch.live {
                    self.broadcast_update(id, disabled);
                }
            }
            let ch = &self.channels[&id];
            let p = ch.gossip.policy;
            out.push(rpc::SetchannelChannel {
                peer_id: ch.peer.to_string(),
                channel_id: hex::encode(ch.id.0),
                short_channel_id: ch.scid.map(scid_string),
                fee_base_msat: p.fee_base_msat,
                fee_proportional_millionths: p.fee_proportional_millionths,
                cltv_expiry_delta: p.cltv_expiry_delta,
                minimum_htlc_out_msat: self.channel_updates_info(ch).local.htlc_minimum_msat,
                maximum_htlc_out_msat: self.channel_updates_info(ch).local.htlc_maximum_msat,
            });
        }
        to_value(rpc::SetchannelResponse { channels: out })
    }
}

/// Our `node_announcement` would be pruned soon by receivers (they keep a
/// node only while it has a channel, but many also drop old announcements).
fn stale_node_announcement(
    store: &crate::gossip::GossipStore,
    node: &PublicKey,
    now: u64,
    keepalive: u64,
) -> bool {
    store
        .nodes
        .get(node)
        .is_some_and(|n| n.raw.is_some() && u64::from(n.timestamp) + keepalive <= now)
}
