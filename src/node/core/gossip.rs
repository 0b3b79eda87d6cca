//! The node's BOLT 7 glue: gossip from peers goes through the toolkit's
//! [`GossipStore`] (every receiver requirement, signatures and the funding
//! output checked against the chain), is stored as received, and is read
//! back at start; `listchannels` and `listnodes` show it.

use super::*;
use crate::gossip::{ChainFunding, FundingOutput, FundingSource, Verdict};

/// BOLT 7 sync: this many peers are asked for the whole graph by query.
pub(super) const SYNC_PEERS: usize = 3;
/// A query sync step that gets no answer this long is given up (some
/// implementations ignore `query_short_channel_ids`), and the peer is
/// asked by `gossip_timestamp_filter` instead.
const SYNC_STALL: Duration = Duration::from_secs(15);
/// BOLT 7 gossip_timestamp_filter: peers other than the sync peers are
/// asked for what is newer than this (LDK asks an hour back too).
const RECENT_SECS: u64 = 3600;

/// Gossip's chain lookups run off the node's loop (issue 35: a flood of
/// announcements held the loop in bitcoind calls): at most `MAX_LOOKUPS`
/// at once, `MAX_LOOKUPS_PER_PEER` for one peer's gossip; the rest wait in
/// a queue of at most `MAX_QUEUED` (their announcements are held, and the
/// periodic retry asks again for any that fell off).
const MAX_LOOKUPS: usize = 8;
const MAX_LOOKUPS_PER_PEER: usize = 4;
const MAX_QUEUED: usize = crate::gossip::MAX_HELD;
/// How long an answer is kept (the store keeps for good what cannot change:
/// an output 6 deep, or spent). A funding output that does not exist is not
/// asked about again for 10 minutes; a young one, after 30 s.
const MISSING_KEEP: Duration = Duration::from_secs(600);
const YOUNG_KEEP: Duration = Duration::from_secs(30);
/// Answers kept at most (past it, the expired ones go, then all).
const MAX_KEPT: usize = 100_000;

/// The lookups: kept answers, those under way and those waiting.
#[derive(Default)]
pub(super) struct Lookups {
    kept: HashMap<u64, (FundingOutput, Instant)>,
    under_way: HashMap<u64, Option<PublicKey>>,
    queue: VecDeque<(u64, Option<PublicKey>)>,
    queued: HashSet<u64>,
    /// Kept answers of "no such output" given to the current peer's gossip.
    missing_hits: u32,
}

impl Lookups {
    fn keep(&mut self, scid: u64, answer: FundingOutput) {
        if self.kept.len() >= MAX_KEPT {
            self.kept.retain(|_, (a, at)| at.elapsed() < keep_for(a));
            if self.kept.len() >= MAX_KEPT {
                self.kept.clear();
            }
        }
        self.kept.insert(scid, (answer, Instant::now()));
    }

    fn want(&mut self, scid: u64, from: Option<PublicKey>) {
        if self.under_way.contains_key(&scid) || self.queue.len() >= MAX_QUEUED {
            return;
        }
        if self.queued.insert(scid) {
            self.queue.push_back((scid, from));
        }
    }

    /// Forget the waiting lookups for `peer`'s gossip.
    fn forget(&mut self, peer: &PublicKey) {
        let queued = &mut self.queued;
        self.queue.retain(|(scid, from)| {
            let keep = *from != Some(*peer);
            if !keep {
                queued.remove(scid);
            }
            keep
        });
    }
}

fn keep_for(answer: &FundingOutput) -> Duration {
    match answer {
        FundingOutput::Unspent { confirmations, .. } if *confirmations < 6 => YOUNG_KEEP,
        FundingOutput::Unavailable => Duration::ZERO,
        _ => MISSING_KEEP,
    }
}

/// A lookup's answer, back on the node's loop.
#[derive(Debug)]
pub(super) struct LookupAnswer {
    scid: u64,
    answer: FundingOutput,
}

/// The store's view of the chain on the node's loop: kept answers, and
/// for anything else "not known yet" (the announcement is held) and a
/// lookup queued.
struct Cached<'a> {
    lookups: &'a mut Lookups,
    from: Option<PublicKey>,
}

impl FundingSource for Cached<'_> {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        if let Some((answer, at)) = self.lookups.kept.get(&scid) {
            if at.elapsed() < keep_for(answer) {
                if *answer == FundingOutput::Missing {
                    self.lookups.missing_hits += 1;
                }
                return answer.clone();
            }
        }
        self.lookups.want(scid, self.from);
        FundingOutput::Unavailable
    }
}

/// Where a gossip message comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// A peer: stored, and relayed at the next flush to peers that asked.
    Peer(PublicKey),
    /// Our own: stored and sent to every peer at once (BOLT 7: our own gossip ignores filters).
    Ours,
    /// Our store, at start.
    Stored,
}

/// What is waiting for the next flush (BOLT 7 "staggered broadcast").
#[derive(Default)]
pub(super) struct Outbox {
    /// Relayed messages: from whom, the bytes, their timestamp.
    relay: Vec<(PublicKey, Vec<u8>, u32)>,
    /// Announcements accepted but not yet sent: they go just before their
    /// first update (BOLT 7: never without one).
    announcements: HashMap<u64, Vec<u8>>,
}

/// Per-peer gossip state.
#[derive(Default)]
pub(super) struct PeerGossip {
    /// Their `gossip_timestamp_filter`: (first, range).
    pub filter: Option<(u32, u32)>,
    /// Our query sync with them, and when it last moved.
    pub sync: Option<(crate::gossip::sync::Syncer, Instant)>,
    /// Whether we queried them (they count among the sync peers).
    pub queried: bool,
    /// What their `gossip_timestamp_filter` asked of our store, still to send.
    pub dump: Option<crate::gossip::sync::Dump>,
    /// Our answer to their `query_short_channel_ids`, still to send.
    pub replies: Option<crate::gossip::sync::Replies>,
    /// Our `reply_channel_range`s, still to send.
    pub ranges: VecDeque<Vec<u8>>,
    /// Gossip relayed to them, still to send (at most `MAX_RELAY_BACKLOG`).
    pub relay: VecDeque<Vec<u8>>,
}

/// Relayed gossip waiting for a peer's connection, at most: past it the
/// oldest is dropped (as LDK drops broadcasts to a peer that is behind;
/// the peer's next sync brings it).
const MAX_RELAY_BACKLOG: usize = 2_000;

fn typ_of(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// A gossip message's timestamp (a channel_announcement has none: 0).
fn timestamp_of(m: &Message) -> u32 {
    match m.fields.iter().find(|(n, _)| *n == "timestamp") {
        Some((_, WireValue::Uint(t))) => *t as u32,
        _ => 0,
    }
}

impl Core {
    /// A gossip message from a peer.
    pub(super) fn on_gossip(&mut self, peer: Option<PublicKey>, bytes: &[u8]) {
        let origin = peer.map_or(Origin::Stored, Origin::Peer);
        if let (Origin::Peer(p), 258) = (origin, typ_of(bytes)) {
            if self.on_direct_update(p, bytes) {
                return;
            }
        }
        self.take_gossip(origin, bytes);
    }

    /// Our own message: through the same checks as anyone's.
    pub(super) fn own_gossip(&mut self, bytes: &[u8]) -> Verdict {
        self.take_gossip(Origin::Ours, bytes)
    }

    fn take_gossip(&mut self, origin: Origin, bytes: &[u8]) -> Verdict {
        let peer = match origin {
            Origin::Peer(p) => Some(p),
            _ => None,
        };
        let verdict = if origin == Origin::Stored {
            // At start, before any peer: the chain is asked in line.
            let chain = self.chain.clone();
            tokio::task::block_in_place(|| {
                self.gossip
                    .ingest(None, bytes, now_secs(), &mut ChainFunding(chain.as_ref()))
            })
        } else {
            // Answers to our own sync queries are not metered: we asked for them.
            let metered = peer
                .and_then(|p| self.peers.get(&p))
                .is_none_or(|s| s.gossip.sync.is_none());
            self.lookups.missing_hits = 0;
            let verdict = self.gossip.ingest_metered(
                peer.as_ref(),
                bytes,
                now_secs(),
                &mut Cached {
                    lookups: &mut self.lookups,
                    from: peer,
                },
                metered,
            );
            if let (Some(p), true) = (peer, self.lookups.missing_hits > 0) {
                self.gossip_fault(p, "channel_announcement: no such funding output on chain");
            }
            self.dispatch_lookups();
            verdict
        };
        if let Some(state) = peer.and_then(|p| self.peers.get_mut(&p)) {
            if let Some((_, at)) = state.gossip.sync.as_mut() {
                *at = Instant::now();
            }
        }
        match &verdict {
            Verdict::Accepted if origin != Origin::Stored => {
                self.after_accepted(origin, bytes);
                // What came before this announcement, and waited for it.
                let released = self.gossip.take_released();
                if !released.is_empty() {
                    debug!(
                        messages = released.len(),
                        "gossip that came before its announcement taken"
                    );
                }
                for (from, raw) in released {
                    self.after_accepted(from.map_or(Origin::Ours, Origin::Peer), &raw);
                }
            }
            Verdict::Accepted => {
                // Loading the store: what it lets in is stored already.
                self.gossip.take_released();
            }
            Verdict::Ignored(why) if origin == Origin::Ours => {
                // Not sent: `reoffer_own_gossip` tries again at the next flush.
                info!("our own gossip not taken yet: {why}")
            }
            Verdict::Ignored(why) => match peer {
                Some(p) => debug!(peer = %p, "gossip ignored: {why}"),
                None => debug!("gossip ignored: {why}"),
            },
            Verdict::Warning(why) => {
                // BOLT 7: SHOULD send a warning; we keep the connection,
                // unless such gossip keeps coming.
                if let Some(p) = peer {
                    debug!(peer = %p, "gossip refused with a warning: {why}");
                    self.send(
                        &p,
                        &ChannelMessage::Warning {
                            channel_id: ChannelId([0; 32]),
                            data: why.clone().into_bytes(),
                        },
                    );
                    self.gossip_fault(p, why);
                } else if origin == Origin::Ours {
                    warn!("our own gossip was refused: {why}");
                }
            }
        }
        verdict
    }

    /// A message the store took: stored, then sent on (ours to every peer at
    /// once, a peer's at the next flush).
    fn after_accepted(&mut self, origin: Origin, bytes: &[u8]) {
        let key = gossip_key(bytes);
        let typ = typ_of(bytes);
        if let Some(direction) = update_direction(bytes) {
            // BOLT 4: a failed channel is restored by a new channel_update.
            self.knowledge.forget(direction);
        }
        let write = self.store.batch().and_then(|b| {
            b.put_gossip(&key, typ, bytes)?;
            b.commit()
        });
        if let Err(e) = write {
            warn!("gossip not stored: {e}");
        }
        match origin {
            Origin::Ours => {
                let peers: Vec<PublicKey> = self
                    .peers
                    .iter()
                    .filter(|(_, s)| s.init.is_some())
                    .map(|(p, _)| *p)
                    .collect();
                for p in peers {
                    self.send_raw(&p, bytes.to_vec());
                }
            }
            Origin::Peer(p) => self.queue_relay(p, bytes),
            Origin::Stored => {}
        }
    }

    /// One more piece of a peer's gossip failed its checks: past
    /// `MAX_GOSSIP_FAULTS` in `FAULT_PERIOD`, the peer is disconnected with
    /// a warning, and what it sent that waits for the chain is forgotten.
    pub(super) fn gossip_fault(&mut self, peer: PublicKey, why: &str) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.faults.hit(FAULT_PERIOD) > MAX_GOSSIP_FAULTS {
            self.gossip.forget_held_from(&peer);
            self.lookups.forget(&peer);
            self.hang_up(
                peer,
                Some(format!(
                    "more than {MAX_GOSSIP_FAULTS} gossip messages failed their checks in {} s (the last: {why})",
                    FAULT_PERIOD.as_secs()
                )),
            );
        }
    }

    /// Start the queued lookups there is room for, each on a blocking
    /// thread; its answer comes back as an input.
    fn dispatch_lookups(&mut self) {
        let mut passes = self.lookups.queue.len();
        while self.lookups.under_way.len() < MAX_LOOKUPS && passes > 0 {
            passes -= 1;
            let Some((scid, from)) = self.lookups.queue.pop_front() else {
                break;
            };
            if let Some(p) = from {
                let theirs = self.lookups.under_way.values().filter(|f| **f == Some(p));
                if theirs.count() >= MAX_LOOKUPS_PER_PEER {
                    self.lookups.queue.push_back((scid, from));
                    continue;
                }
            }
            self.lookups.queued.remove(&scid);
            self.lookups.under_way.insert(scid, from);
            let (chain, inputs) = (self.chain.clone(), self.inputs.clone());
            tokio::task::spawn_blocking(move || {
                let answer = ChainFunding(chain.as_ref()).funding_output(scid);
                let _ = inputs.send(Input::Funding(LookupAnswer { scid, answer }));
            });
        }
    }

    /// A lookup answered: kept, charged to the peer whose gossip asked for
    /// a funding output that does not exist, and the held gossip it
    /// decides taken (or dropped).
    pub(super) fn on_lookup_answer(&mut self, a: LookupAnswer) {
        let from = self.lookups.under_way.remove(&a.scid).flatten();
        if a.answer != FundingOutput::Unavailable {
            self.lookups.keep(a.scid, a.answer.clone());
        }
        if let (Some(p), FundingOutput::Missing) = (from, &a.answer) {
            self.gossip_fault(p, "channel_announcement: no such funding output on chain");
        }
        let taken = self.gossip.retry_held_one(
            a.scid,
            now_secs(),
            &mut Cached {
                lookups: &mut self.lookups,
                from: None,
            },
        );
        for (from, raw) in taken {
            self.after_accepted(from.map_or(Origin::Ours, Origin::Peer), &raw);
        }
        self.dispatch_lookups();
    }

    /// Gossip held while its funding output was not known, asked about
    /// again (a lookup that failed, or fell off the queue).
    pub(super) fn retry_held_gossip(&mut self) {
        if self.gossip.held().is_empty() {
            return;
        }
        let taken = self.gossip.retry_held(
            now_secs(),
            &mut Cached {
                lookups: &mut self.lookups,
                from: None,
            },
        );
        self.dispatch_lookups();
        if !taken.is_empty() {
            info!(
                messages = taken.len(),
                "gossip held during a chain outage taken"
            );
        }
        for (from, raw) in taken {
            let origin = from.map_or(Origin::Ours, Origin::Peer);
            self.after_accepted(origin, &raw);
        }
    }

    /// BOLT 7 "SHOULD accept channel_updates for its own channels (even if
    /// non-public)": the peer's update for an unannounced channel of ours,
    /// under an alias or the real scid. True when it was one.
    fn on_direct_update(&mut self, peer: PublicKey, bytes: &[u8]) -> bool {
        let Ok(m) = wire_msg::decode(bytes) else {
            return false;
        };
        let scid = match m.fields.iter().find(|(n, _)| *n == "short_channel_id") {
            Some((_, WireValue::Scid(s))) => *s,
            _ => return false,
        };
        if self.gossip.channels.contains_key(&scid) {
            return false;
        }
        let Some(id) = self
            .channels
            .values()
            .find(|c| c.peer == peer && (c.our_alias == Some(scid) || c.scid == Some(scid)))
            .map(|c| c.id)
        else {
            return false;
        };
        let valid = crate::wire::gossip::verify(&self.secp, bytes, Some(&peer))
            .is_ok_and(|c| c.iter().all(|c| c.valid));
        if !valid {
            self.send(
                &peer,
                &ChannelMessage::Warning {
                    channel_id: id,
                    data: b"channel_update: the signature does not verify".to_vec(),
                },
            );
            return true;
        }
        let policy = crate::graph::Policy::from_update(&m);
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.gossip.their_policy = Some(policy);
        }
        self.put_channel_now(id);
        debug!(%peer, channel = %id, "the peer's policy for our unannounced channel");
        // The store keeps it too: if the channel is announced (held until the
        // chain answers, or not yet taken), the update waits for that.
        self.take_gossip(Origin::Peer(peer), bytes);
        true
    }

    fn queue_relay(&mut self, from: PublicKey, bytes: &[u8]) {
        let Ok(m) = wire_msg::decode(bytes) else {
            return;
        };
        if m.typ == 256 {
            if let Some((_, WireValue::Scid(s))) =
                m.fields.iter().find(|(n, _)| *n == "short_channel_id")
            {
                self.outbox.announcements.insert(*s, bytes.to_vec());
            }
            return;
        }
        self.outbox
            .relay
            .push((from, bytes.to_vec(), timestamp_of(&m)));
    }

    /// BOLT 7 rebroadcasting: what came in since the last flush goes to every
    /// peer whose filter takes it, never back to its sender.
    pub(super) fn flush_gossip(&mut self) {
        let relay = std::mem::take(&mut self.outbox.relay);
        if relay.is_empty() {
            return;
        }
        let mut out: Vec<(PublicKey, Vec<u8>, u32)> = vec![];
        for (from, raw, ts) in relay {
            if typ_of(&raw) == 258 {
                let scid = u64::from_be_bytes(raw[98..106].try_into().expect("8 bytes"));
                if let Some(a) = self.outbox.announcements.remove(&scid) {
                    out.push((from, a, ts));
                }
            }
            out.push((from, raw, ts));
        }
        let peers: Vec<(PublicKey, (u32, u32))> = self
            .peers
            .iter()
            .filter_map(|(p, s)| Some((*p, s.gossip.filter?)))
            .collect();
        for (peer, (first, range)) in peers {
            let Some(state) = self.peers.get_mut(&peer) else {
                continue;
            };
            for (from, raw, ts) in &out {
                if *from != peer && crate::gossip::sync::in_filter(*ts, first, range) {
                    let relay = &mut state.gossip.relay;
                    if relay.len() >= MAX_RELAY_BACKLOG {
                        relay.pop_front();
                    }
                    relay.push_back(raw.clone());
                }
            }
            self.pump_gossip(peer);
        }
    }

    /// Send a peer the bulk gossip it is owed (query answers first, then
    /// relays, then its filter's dump) while its connection takes it: only
    /// below `GOSSIP_BELOW` bytes queued, so channel messages never wait
    /// behind it; the connection says when it has drained (`Drained`).
    /// Gossip needs no durability: it goes out directly, not with a group.
    pub(super) fn pump_gossip(&mut self, peer: PublicKey) {
        let store = &self.gossip;
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        let g = &mut state.gossip;
        loop {
            if state.handle.flow.queued() >= peer::GOSSIP_BELOW {
                state.handle.flow.want_drained();
                return;
            }
            let next = if let Some(r) = g.replies.as_mut() {
                let m = r.next(store);
                if r.is_done() {
                    g.replies = None;
                }
                m
            } else if let Some(m) = g.ranges.pop_front() {
                vec![m]
            } else if let Some(m) = g.relay.pop_front() {
                vec![m]
            } else if let Some(d) = g.dump.as_mut() {
                let m = d.next(store);
                if d.is_done() {
                    g.dump = None;
                }
                m
            } else {
                return;
            };
            for m in next {
                // Below GOSSIP_BELOW, a message (at most 64 KiB) cannot overflow the queue.
                let _ = state.handle.send(m);
            }
        }
    }

    /// After `init`: ask the peer for gossip. The first few peers get a full
    /// sync by query; every peer is sent a `gossip_timestamp_filter`.
    pub(super) fn start_gossip_sync(&mut self, peer: PublicKey) {
        let chain_hash = self.gossip.chain_hash();
        let queried = self.peers.values().filter(|s| s.gossip.queried).count();
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        // BOLT 7: a peer without `gossip_queries` is not worth querying.
        let offers_queries = state.init.as_deref().is_some_and(|f| {
            crate::wire::features::bits(f)
                .iter()
                .any(|b| matches!(b, 6 | 7))
        });
        if queried < SYNC_PEERS && offers_queries {
            let mut syncer = crate::gossip::sync::Syncer::new(chain_hash);
            let query = syncer.start();
            state.gossip.sync = Some((syncer, Instant::now()));
            state.gossip.queried = true;
            self.send_raw(&peer, query);
        } else {
            let first = now_secs().saturating_sub(RECENT_SECS) as u32;
            self.send_raw(
                &peer,
                crate::gossip::sync::timestamp_filter(chain_hash, first, u32::MAX - first),
            );
        }
    }

    /// A sync that ended (or stalled): from now on, the filter keeps us current.
    fn end_sync(&mut self, peer: PublicKey, complete: bool) {
        let chain_hash = self.gossip.chain_hash();
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some((s, _)) = state.gossip.sync.take() else {
            return;
        };
        // A stalled sync falls back on the filter's dump (two weeks: BOLT 7's pruning horizon).
        let back = if complete {
            RECENT_SECS
        } else {
            crate::gossip::STALE_AFTER_SECS
        };
        let first = now_secs().saturating_sub(back) as u32;
        info!(%peer, channels_asked = s.asked, complete, "gossip sync with the peer done");
        self.send_raw(
            &peer,
            crate::gossip::sync::timestamp_filter(chain_hash, first, u32::MAX - first),
        );
    }

    /// Syncs that got no answer for [`SYNC_STALL`].
    pub(super) fn sync_timers(&mut self) {
        let stalled: Vec<PublicKey> = self
            .peers
            .iter()
            .filter(|(_, s)| {
                s.gossip
                    .sync
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() >= SYNC_STALL)
            })
            .map(|(p, _)| *p)
            .collect();
        for p in stalled {
            warn!(peer = %p, "gossip sync stalled; asking by timestamp filter instead");
            self.end_sync(p, false);
        }
    }

    /// BOLT 7: "MUST NOT send a query ... until it has received" the end
    /// of the one before. We answer one at a time; another is refused with
    /// a warning, and counts against the peer.
    fn refuse_query(&mut self, peer: PublicKey, what: &str) -> bool {
        let why = format!("{what} before our answer to the previous one ended");
        self.send(
            &peer,
            &ChannelMessage::Warning {
                channel_id: ChannelId([0; 32]),
                data: why.clone().into_bytes(),
            },
        );
        self.gossip_fault(peer, &why);
        true
    }

    /// The BOLT 7 query messages, both directions. True when `m` was one.
    pub(super) fn on_query_message(&mut self, peer: PublicKey, m: &Message) -> bool {
        use crate::gossip::sync;
        let chain_hash = self.gossip.chain_hash();
        let get = |name: &str| m.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        if !matches!(m.typ, 261..=265) {
            return false;
        }
        if get("chain_hash") != Some(&WireValue::Bytes(chain_hash.to_vec())) {
            // BOLT 7: another chain's queries get nothing (and a reply says we lack it).
            if m.typ == 261 {
                let end = Message {
                    typ: 262,
                    name: Some("reply_short_channel_ids_end"),
                    fields: vec![
                        (
                            "chain_hash",
                            get("chain_hash")
                                .cloned()
                                .unwrap_or(WireValue::Bytes(vec![0; 32])),
                        ),
                        ("full_information", WireValue::Uint(0)),
                    ],
                    tlvs: vec![],
                    raw: None,
                };
                if let Ok(b) = wire_msg::encode(&end) {
                    self.send_raw(&peer, b);
                }
            }
            return true;
        }
        let uint = |name: &str| match get(name) {
            Some(WireValue::Uint(x)) => *x,
            _ => 0,
        };
        match m.typ {
            263 => {
                let option = m
                    .tlvs
                    .iter()
                    .find(|r| r.typ == 1)
                    .and_then(|r| crate::wire::bigsize::BigSize::decode(&r.value).ok())
                    .map_or(0, |(v, _)| v.0);
                let busy = self
                    .peers
                    .get(&peer)
                    .is_some_and(|s| !s.gossip.ranges.is_empty());
                if busy {
                    // BOLT 7: a query waits for the end of the one before.
                    return self.refuse_query(peer, "query_channel_range");
                }
                let replies = sync::reply_channel_range(
                    &self.gossip,
                    uint("first_blocknum") as u32,
                    uint("number_of_blocks") as u32,
                    option,
                );
                if let Some(s) = self.peers.get_mut(&peer) {
                    s.gossip.ranges.extend(replies);
                }
                self.pump_gossip(peer);
            }
            261 => match sync::Replies::new(&self.gossip, m) {
                Ok(plan) => {
                    let Some(s) = self.peers.get_mut(&peer) else {
                        return true;
                    };
                    if s.gossip.replies.is_some() {
                        return self.refuse_query(peer, "query_short_channel_ids");
                    }
                    s.gossip.replies = Some(plan);
                    self.pump_gossip(peer);
                }
                Err(e) => self.send(
                    &peer,
                    &ChannelMessage::Warning {
                        channel_id: ChannelId([0; 32]),
                        data: format!("query_short_channel_ids: {e}").into_bytes(),
                    },
                ),
            },
            265 => {
                let (first, range) = (
                    uint("first_timestamp") as u32,
                    uint("timestamp_range") as u32,
                );
                if let Some(s) = self.peers.get_mut(&peer) {
                    s.gossip.filter = Some((first, range));
                    // A new filter replaces what the last one still owed.
                    s.gossip.dump = Some(sync::Dump::new(first, range));
                }
                self.pump_gossip(peer);
            }
            264 | 262 => {
                let Some(state) = self.peers.get_mut(&peer) else {
                    return true;
                };
                let Some((syncer, at)) = state.gossip.sync.as_mut() else {
                    return true;
                };
                *at = Instant::now();
                let step = if m.typ == 264 {
                    syncer.on_reply_channel_range(&self.gossip, m)
                } else {
                    syncer.on_reply_end()
                };
                let done = syncer.state == sync::SyncState::Done;
                match step {
                    Ok(Some(query)) => self.send_raw(&peer, query),
                    Ok(None) if done => self.end_sync(peer, true),
                    Ok(None) => {}
                    Err(e) => {
                        self.send(
                            &peer,
                            &ChannelMessage::Warning {
                                channel_id: ChannelId([0; 32]),
                                data: e.clone().into_bytes(),
                            },
                        );
                        self.end_sync(peer, false);
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// The stored gossip, taken in again at start.
    pub(super) fn load_gossip(&mut self) {
        let stored = self.store.gossip().unwrap_or_default();
        for raw in stored {
            self.take_gossip(Origin::Stored, &raw);
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

    /// `getroute`: the toolkit's router over the live graph.
    pub(super) fn getroute(&mut self, r: rpc::GetrouteRequest) -> Result<Value, RpcError> {
        let dest = Self::peer_id("id", &r.id)?;
        let from = r
            .fromid
            .as_deref()
            .map(|s| Self::peer_id("fromid", s))
            .transpose()?
            .unwrap_or(self.node_id);
        if r.amount_msat == 0 {
            return Err(RpcError::param("amount_msat", "must be above zero"));
        }
        let g = self.gossip.graph();
        let node = |field: &str, p: &PublicKey| {
            g.node(&p.serialize()).ok_or_else(|| {
                RpcError::param(field, format!("{p} has no public channel in the graph"))
            })
        };
        let (src, dst) = (node("fromid", &from)?, node("id", &dest)?);
        let mut req = crate::route::RouteRequest::new(src, dst, r.amount_msat);
        req.final_cltv_expiry_delta = r.cltv.unwrap_or(18);
        if let Some(h) = r.maxhops {
            req.max_hops = h;
        }
        for x in &r.exclude {
            if let Ok(p) = x.parse::<PublicKey>() {
                if let Some(n) = g.node(&p.serialize()) {
                    req.avoid_nodes.insert(n);
                }
                continue;
            }
            let (scid, dir) = x
                .split_once('/')
                .and_then(|(s, d)| {
                    Some((crate::wire::tlv::scid_from_str(s)?, d.parse::<u32>().ok()?))
                })
                .filter(|(_, d)| *d < 2)
                .ok_or_else(|| {
                    RpcError::param(
                        "exclude",
                        format!("`{x}`: expected SCID/DIRECTION (0 or 1) or a node id"),
                    )
                })?;
            if let Some(i) = g
                .channels
                .iter()
                .position(|c| c.short_channel_id == Some(scid))
            {
                req.avoid_directions.insert(2 * i as u32 + dir);
            }
        }
        let route = crate::route::find_route(g, &req).map_err(|e| RpcError {
            code: 205,
            message: format!("getroute: {e}"),
        })?;
        let hops = route
            .hops
            .iter()
            .map(|h| rpc::RouteHop {
                id: hex::encode(g.pubkeys[h.node as usize]),
                channel: scid_string(
                    g.channels[(h.direction / 2) as usize]
                        .short_channel_id
                        .unwrap_or(0),
                ),
                direction: (h.direction % 2) as u8,
                amount_msat: h.amount_msat,
                delay: h.cltv_delta,
                style: "tlv".into(),
            })
            .collect();
        to_value(rpc::GetrouteResponse { route: hops })
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
            // Its capacity, as Core Lightning's gossip_store records it (the announcement has none).
            let mut amount = crate::graph::import::GOSSIP_STORE_CHANNEL_AMOUNT
                .to_be_bytes()
                .to_vec();
            amount.extend(c.capacity.to_sat().to_be_bytes());
            lines.push(hex::encode(amount));
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
                addresses: node_field(n.raw.as_deref(), "addresses")
                    .and_then(|b| crate::gossip::announce::decode_addresses(&b).ok())
                    .unwrap_or_default()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                features: node_field(n.raw.as_deref(), "features").map(hex::encode),
            })
            .collect();
        nodes.sort_by(|a, b| a.nodeid.cmp(&b.nodeid));
        to_value(rpc::ListnodesResponse { nodes })
    }
}

/// A field of a stored `node_announcement`.
pub(super) fn node_field(raw: Option<&[u8]>, name: &str) -> Option<Vec<u8>> {
    let m = wire_msg::decode(raw?).ok()?;
    match m.fields.into_iter().find(|(n, _)| *n == name)?.1 {
        WireValue::Bytes(b) | WireValue::Features(b) => Some(b),
        _ => None,
    }
}

/// A `channel_update`'s direction: its short channel id and the direction
/// bit of `channel_flags` (BOLT 7).
fn update_direction(raw: &[u8]) -> Option<(u64, u8)> {
    let m = wire_msg::decode(raw).ok().filter(|m| m.typ == 258)?;
    let get = |name: &str| match m.fields.iter().find(|(n, _)| *n == name)?.1 {
        WireValue::Uint(v) | WireValue::Scid(v) => Some(v),
        _ => None,
    };
    Some((get("short_channel_id")?, (get("channel_flags")? & 1) as u8))
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
