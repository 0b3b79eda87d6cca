//! BOLT 7 "Query Messages", sans I/O: the answers a node owes to
//! `query_channel_range`, `query_short_channel_ids` and
//! `gossip_timestamp_filter`, built from the [`GossipStore`], and
//! [`Syncer`], the querying side of an initial sync with one peer.

use std::collections::{HashSet, VecDeque};

use bitcoin::secp256k1::PublicKey;

use crate::wire::bigsize::BigSize;
use crate::wire::message::{self, encode_scids, Message, MessageSchema, Value};
use crate::wire::tlv::DecodedRecord;

use super::{field, uint, ChannelEntry, GossipStore};

/// BOLT 1 caps a message at 65535 bytes; a reply's fixed part and TLV
/// headers take well under 535 of them.
const ROOM: usize = 65_000;
/// `query_short_channel_ids` of at most this many ids (8 bytes each, plus a flag byte).
pub const SCIDS_PER_QUERY: usize = 7_000;

/// `query_flags` / `query_option_flags` bits (BOLT 7).
pub mod flags {
    /// Want the `channel_announcement`.
    pub const ANNOUNCEMENT: u64 = 1;
    /// Want `node_id_1`'s `channel_update`.
    pub const UPDATE_1: u64 = 2;
    /// Want `node_id_2`'s `channel_update`.
    pub const UPDATE_2: u64 = 4;
    /// Want `node_id_1`'s `node_announcement`.
    pub const NODE_1: u64 = 8;
    /// Want `node_id_2`'s `node_announcement`.
    pub const NODE_2: u64 = 16;
    /// Everything about a channel.
    pub const ALL: u64 = 31;
    /// `query_option_flags`: timestamps wanted.
    pub const WANT_TIMESTAMPS: u64 = 1;
    /// `query_option_flags`: checksums wanted.
    pub const WANT_CHECKSUMS: u64 = 2;
}

/// The block a short channel id names.
pub fn block_of(scid: u64) -> u32 {
    (scid >> 40) as u32
}

fn encode(typ: u16, fields: Vec<(&'static str, Value)>, tlvs: Vec<DecodedRecord>) -> Vec<u8> {
    let schema = MessageSchema::by_type(typ).expect("a BOLT 7 query type");
    message::encode(&Message {
        typ,
        name: Some(schema.name),
        fields,
        tlvs,
        raw: None,
    })
    .expect("query messages we build fit their schema")
}

fn record(typ: u64, value: Vec<u8>) -> DecodedRecord {
    DecodedRecord {
        typ,
        name: None,
        fields: vec![],
        value,
    }
}

fn bigsizes(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| BigSize(*v).encode()).collect()
}

/// Read `encoding_type || bigsize*` (encoding 0 only: BOLT 7 forbids 1 now).
fn read_bigsizes(b: &[u8]) -> Result<Vec<u64>, String> {
    let (&enc, mut rest) = b.split_first().ok_or("query_flags: empty")?;
    if enc != 0 {
        return Err(format!("query_flags: unknown encoding type {enc}"));
    }
    let mut out = vec![];
    while !rest.is_empty() {
        let (v, n) = BigSize::decode(rest).map_err(|e| format!("query_flags: {e}"))?;
        out.push(v.0);
        rest = &rest[n..];
    }
    Ok(out)
}

fn scids(m: &Message) -> Result<Vec<u64>, String> {
    match field(m, "encoded_short_ids") {
        Some(Value::Scids {
            encoding: 0,
            scids: Some(s),
            ..
        }) => Ok(s.clone()),
        Some(Value::Scids { encoding: 0, .. }) => {
            Err("encoded_short_ids is not a whole number of short_channel_ids".into())
        }
        Some(Value::Scids { encoding, .. }) => Err(format!(
            "encoded_short_ids: encoding type {encoding} is not allowed (BOLT 7: only 0)"
        )),
        _ => Err("no encoded_short_ids".into()),
    }
}

/// BOLT 7's checksum of a `channel_update`: CRC-32C of it without its
/// signature and timestamp (the type, signature and timestamp are cut out).
pub fn update_checksum(raw: &[u8]) -> u32 {
    const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    // type(2) signature(64) chain_hash(32) short_channel_id(8) timestamp(4) rest
    if raw.len() < 110 {
        return 0;
    }
    let mut d = CRC32C.digest();
    d.update(&raw[66..106]);
    d.update(&raw[110..]);
    d.finalize()
}

fn live(store: &GossipStore) -> impl Iterator<Item = (&u64, &ChannelEntry)> {
    // BOLT 7: a spent channel, or one with no update, is not sent.
    store
        .channels
        .iter()
        .filter(|(_, c)| c.spent_at.is_none() && c.updates.iter().any(Option::is_some))
}

/// Every `reply_channel_range` owed to a `query_channel_range` for blocks
/// `first .. first + number`, with timestamps and checksums if asked.
pub fn reply_channel_range(
    store: &GossipStore,
    first: u32,
    number: u32,
    option_flags: u64,
) -> Vec<Vec<u8>> {
    let end = u64::from(first) + u64::from(number);
    let (want_ts, want_sums) = (
        option_flags & flags::WANT_TIMESTAMPS != 0,
        option_flags & flags::WANT_CHECKSUMS != 0,
    );
    let per = 8 + if want_ts { 8 } else { 0 } + if want_sums { 8 } else { 0 };
    let found: Vec<(u64, &ChannelEntry)> = live(store)
        .filter(|(s, _)| (u64::from(first)..end).contains(&u64::from(block_of(**s))))
        .map(|(s, c)| (*s, c))
        .collect();
    let chunks: Vec<&[(u64, &ChannelEntry)]> = if found.is_empty() {
        vec![&[]]
    } else {
        found.chunks(ROOM / per).collect()
    };
    let mut out = vec![];
    let mut start = u64::from(first);
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let reply_end = match chunk.last() {
            _ if last => end.max(start + 1),
            Some((s, _)) => u64::from(block_of(*s)) + 1,
            None => end,
        };
        let ids: Vec<u64> = chunk.iter().map(|(s, _)| *s).collect();
        let mut tlvs = vec![];
        if want_ts {
            let mut v = vec![0u8];
            for (_, c) in chunk.iter() {
                for u in &c.updates {
                    v.extend(u.as_ref().map_or(0, |u| u.timestamp).to_be_bytes());
                }
            }
            tlvs.push(record(1, v));
        }
        if want_sums {
            let mut v = vec![];
            for (_, c) in chunk.iter() {
                for u in &c.updates {
                    v.extend(
                        u.as_ref()
                            .map_or(0, |u| update_checksum(&u.raw))
                            .to_be_bytes(),
                    );
                }
            }
            tlvs.push(record(3, v));
        }
        out.push(encode(
            264,
            vec![
                ("chain_hash", Value::Bytes(store.chain_hash.to_vec())),
                ("first_blocknum", Value::Uint(start)),
                (
                    "number_of_blocks",
                    Value::Uint((reply_end - start).min(u64::from(u32::MAX))),
                ),
                ("sync_complete", Value::Uint(u64::from(last))),
                ("encoded_short_ids", encode_scids(&ids)),
            ],
            tlvs,
        ));
        // The next reply may start in the same block, if a block's channels are split.
        start = match chunks.get(i + 1).and_then(|c| c.first()) {
            Some((s, _)) => u64::from(block_of(*s)).min(reply_end),
            None => reply_end,
        };
    }
    out
}

/// The messages answering a `query_short_channel_ids`, in BOLT 7's order
/// (each announcement before its updates, node announcements once each),
/// ending with `reply_short_channel_ids_end`. `Err`: the query is malformed
/// (the BOLT's `warning`).
pub fn reply_short_channel_ids(
    store: &GossipStore,
    query: &Message,
) -> Result<Vec<Vec<u8>>, String> {
    let mut plan = Replies::new(store, query)?;
    let mut out = vec![];
    while !plan.is_done() {
        out.extend(plan.next(store));
    }
    Ok(out)
}

/// Whether a message's timestamp falls in a `gossip_timestamp_filter`.
pub fn in_filter(timestamp: u32, first: u32, range: u32) -> bool {
    let t = u64::from(timestamp);
    t >= u64::from(first) && t < u64::from(first) + u64::from(range)
}

/// The stored gossip a new `gossip_timestamp_filter` asks for: each
/// announcement (timed by its updates, BOLT 7) before its updates in the
/// range, then the node announcements in the range.
pub fn since(store: &GossipStore, first: u32, range: u32) -> Vec<Vec<u8>> {
    let mut plan = Dump::new(first, range);
    let mut out = vec![];
    while !plan.is_done() {
        out.extend(plan.next(store));
    }
    out
}

/// The stored gossip a `gossip_timestamp_filter` asks for, as [`since`]
/// gives it, produced a channel or node at a time as the peer's connection
/// takes it: a cursor, not a copy (issue 35: a dump of the whole graph
/// queued at once is tens of megabytes per peer).
#[derive(Clone, Debug)]
pub struct Dump {
    first: u32,
    range: u32,
    stage: DumpStage,
}

#[derive(Clone, Debug)]
enum DumpStage {
    Channels(Option<u64>),
    Nodes(Option<PublicKey>),
    Done,
}

impl Dump {
    /// What a filter of `first .. first + range` owes, from the start.
    pub fn new(first: u32, range: u32) -> Self {
        Dump {
            first,
            range,
            stage: DumpStage::Channels(None),
        }
    }

    /// Whether everything has been produced.
    pub fn is_done(&self) -> bool {
        matches!(self.stage, DumpStage::Done)
    }

    /// The next channel's or node's messages (empty when one had none in
    /// range; [`Self::is_done`] says when it is over).
    pub fn next(&mut self, store: &GossipStore) -> Vec<Vec<u8>> {
        let (first, range) = (self.first, self.range);
        match self.stage {
            DumpStage::Channels(after) => {
                let lower = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
                let next = store
                    .channels
                    .range((lower, std::ops::Bound::Unbounded))
                    .find(|(_, c)| c.spent_at.is_none() && c.updates.iter().any(Option::is_some));
                let Some((scid, c)) = next else {
                    self.stage = DumpStage::Nodes(None);
                    return vec![];
                };
                self.stage = DumpStage::Channels(Some(*scid));
                let updates: Vec<Vec<u8>> = c
                    .updates
                    .iter()
                    .flatten()
                    .filter(|u| in_filter(u.timestamp, first, range))
                    .map(|u| u.raw.clone())
                    .collect();
                if updates.is_empty() {
                    return vec![];
                }
                let mut out = vec![c.raw.clone()];
                out.extend(updates);
                out
            }
            DumpStage::Nodes(after) => {
                let lower = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
                let Some((id, n)) = store
                    .nodes
                    .range((lower, std::ops::Bound::Unbounded))
                    .next()
                else {
                    self.stage = DumpStage::Done;
                    return vec![];
                };
                self.stage = DumpStage::Nodes(Some(*id));
                match &n.raw {
                    Some(raw) if in_filter(n.timestamp, first, range) => vec![raw.clone()],
                    _ => vec![],
                }
            }
            DumpStage::Done => vec![],
        }
    }
}

/// The answer to a `query_short_channel_ids`, as
/// [`reply_short_channel_ids`] gives it, produced a channel at a time.
#[derive(Clone, Debug)]
pub struct Replies {
    ids: VecDeque<(u64, u64)>,
    nodes_sent: HashSet<PublicKey>,
    end: Option<Vec<u8>>,
}

impl Replies {
    /// The plan for `query`. `Err`: the query is malformed (the BOLT's `warning`).
    pub fn new(store: &GossipStore, query: &Message) -> Result<Self, String> {
        let ids = scids(query)?;
        let wanted = match query.tlvs.iter().find(|r| r.typ == 1) {
            Some(r) => {
                let f = read_bigsizes(&r.value)?;
                if f.len() != ids.len() {
                    return Err(format!(
                        "query_flags: {} flags for {} short_channel_ids",
                        f.len(),
                        ids.len()
                    ));
                }
                f
            }
            None => vec![flags::ALL; ids.len()],
        };
        Ok(Replies {
            ids: ids.into_iter().zip(wanted).collect(),
            nodes_sent: Default::default(),
            end: Some(encode(
                262,
                vec![
                    ("chain_hash", Value::Bytes(store.chain_hash.to_vec())),
                    ("full_information", Value::Uint(1)),
                ],
                vec![],
            )),
        })
    }

    /// Whether everything, `reply_short_channel_ids_end` too, has been produced.
    pub fn is_done(&self) -> bool {
        self.end.is_none()
    }

    /// The next channel's messages, or at the end `reply_short_channel_ids_end`.
    pub fn next(&mut self, store: &GossipStore) -> Vec<Vec<u8>> {
        let Some((scid, want)) = self.ids.pop_front() else {
            return self.end.take().into_iter().collect();
        };
        let mut out = vec![];
        let Some(c) = store.channels.get(&scid).filter(|c| c.spent_at.is_none()) else {
            return out;
        };
        if want & flags::ANNOUNCEMENT != 0 {
            out.push(c.raw.clone());
        }
        for (dir, bit) in [(0, flags::UPDATE_1), (1, flags::UPDATE_2)] {
            if let Some(u) = c.updates[dir].as_ref().filter(|_| want & bit != 0) {
                out.push(u.raw.clone());
            }
        }
        for (node, bit) in [(c.node_1, flags::NODE_1), (c.node_2, flags::NODE_2)] {
            if want & bit == 0 || !self.nodes_sent.insert(node) {
                continue;
            }
            if let Some(raw) = store.nodes.get(&node).and_then(|n| n.raw.clone()) {
                out.push(raw);
            }
        }
        out
    }
}

/// A `gossip_timestamp_filter`.
pub fn timestamp_filter(chain_hash: [u8; 32], first: u32, range: u32) -> Vec<u8> {
    encode(
        265,
        vec![
            ("chain_hash", Value::Bytes(chain_hash.to_vec())),
            ("first_timestamp", Value::Uint(first.into())),
            ("timestamp_range", Value::Uint(range.into())),
        ],
        vec![],
    )
}

/// Where an initial sync with one peer stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Nothing asked yet.
    Idle,
    /// `query_channel_range` sent; replies come in.
    Ranges,
    /// Asking for what the replies named, one `query_short_channel_ids` at a time.
    Ids,
    /// Synced.
    Done,
}

/// The querying side of a sync (BOLT 7): one `query_channel_range` for the
/// whole chain with timestamps, then `query_short_channel_ids` for every
/// channel we lack or hold an older update of, one query in flight at a time.
#[derive(Clone, Debug)]
pub struct Syncer {
    chain_hash: [u8; 32],
    /// Where it stands.
    pub state: SyncState,
    range_end: u64,
    wanted: VecDeque<(u64, u64)>,
    /// Channels asked for so far.
    pub asked: usize,
}

impl Syncer {
    /// A sync for the chain `chain_hash`.
    pub fn new(chain_hash: [u8; 32]) -> Self {
        Syncer {
            chain_hash,
            state: SyncState::Idle,
            range_end: 0,
            wanted: VecDeque::new(),
            asked: 0,
        }
    }

    /// The `query_channel_range` that starts it: every block, with timestamps.
    pub fn start(&mut self) -> Vec<u8> {
        self.state = SyncState::Ranges;
        self.range_end = u64::from(u32::MAX);
        encode(
            263,
            vec![
                ("chain_hash", Value::Bytes(self.chain_hash.to_vec())),
                ("first_blocknum", Value::Uint(0)),
                ("number_of_blocks", Value::Uint(u32::MAX.into())),
            ],
            vec![record(1, bigsizes(&[flags::WANT_TIMESTAMPS]))],
        )
    }

    fn next_query(&mut self) -> Option<Vec<u8>> {
        if self.wanted.is_empty() {
            self.state = SyncState::Done;
            return None;
        }
        self.state = SyncState::Ids;
        let n = self.wanted.len().min(SCIDS_PER_QUERY);
        let batch: Vec<(u64, u64)> = self.wanted.drain(..n).collect();
        self.asked += batch.len();
        let ids: Vec<u64> = batch.iter().map(|(s, _)| *s).collect();
        let mut f = vec![0u8];
        f.extend(bigsizes(&batch.iter().map(|(_, f)| *f).collect::<Vec<_>>()));
        Some(encode(
            261,
            vec![
                ("chain_hash", Value::Bytes(self.chain_hash.to_vec())),
                ("encoded_short_ids", encode_scids(&ids)),
            ],
            vec![record(1, f)],
        ))
    }

    /// A `reply_channel_range`: note what we lack; the last one starts the
    /// queries (their first message, if any). `Err`: a reply BOLT 7 forbids.
    pub fn on_reply_channel_range(
        &mut self,
        store: &GossipStore,
        m: &Message,
    ) -> Result<Option<Vec<u8>>, String> {
        if self.state != SyncState::Ranges {
            return Err("reply_channel_range without a query_channel_range".into());
        }
        let ids = scids(m)?;
        let timestamps = match m.tlvs.iter().find(|r| r.typ == 1) {
            Some(r) => {
                let (&enc, data) = r.value.split_first().ok_or("timestamps_tlv: empty")?;
                if enc != 0 || data.len() != ids.len() * 8 {
                    return Err(format!(
                        "timestamps_tlv: {} bytes for {} channels",
                        data.len(),
                        ids.len()
                    ));
                }
                Some(
                    data.chunks(4)
                        .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")))
                        .collect::<Vec<u32>>(),
                )
            }
            None => None,
        };
        for (i, scid) in ids.iter().enumerate() {
            let want = match store.channels.get(scid) {
                None => flags::ALL,
                Some(c) => {
                    let mut f = 0;
                    for (dir, bit) in [(0, flags::UPDATE_1), (1, flags::UPDATE_2)] {
                        let theirs = timestamps.as_ref().map(|t| t[2 * i + dir]);
                        let ours = c.updates[dir].as_ref().map(|u| u.timestamp);
                        let newer = match (theirs, ours) {
                            (Some(0), _) => false,
                            (Some(t), Some(o)) => t > o,
                            (_, None) => true,
                            (None, Some(_)) => false,
                        };
                        if newer {
                            f |= bit;
                        }
                    }
                    f
                }
            };
            if want != 0 {
                self.wanted.push_back((*scid, want));
            }
        }
        let reached = uint(m, "first_blocknum") + uint(m, "number_of_blocks");
        if uint(m, "sync_complete") == 1 || reached >= self.range_end {
            // Ids in ascending order, once each.
            let mut v: Vec<(u64, u64)> = self.wanted.drain(..).collect();
            v.sort();
            v.dedup_by_key(|(s, _)| *s);
            self.wanted = v.into();
            return Ok(self.next_query());
        }
        Ok(None)
    }

    /// `reply_short_channel_ids_end`: the next query, if more is wanted.
    pub fn on_reply_end(&mut self) -> Result<Option<Vec<u8>>, String> {
        if self.state != SyncState::Ids {
            return Err("reply_short_channel_ids_end without a query".into());
        }
        Ok(self.next_query())
    }
}
