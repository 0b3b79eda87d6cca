//! Graph importers, chosen by content: Core Lightning's GOSSMAP_COMPRESSv1
//! (with its xz node map), Core Lightning `listchannels` JSON, LND
//! `describegraph` JSON, and raw BOLT 7 gossip messages as hex lines; each
//! plain or gzip.

use std::collections::HashMap;
use std::io::Read;

use serde_json::Value;

use super::{Channel, Graph, Policy};
use crate::wire::message::{self, Value as V};
use crate::wire::BigSize;

/// Why a graph file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// No importer recognises it.
    #[error("not a graph in any known format (tried GOSSMAP_COMPRESSv1, Core Lightning listchannels JSON, LND describegraph JSON, hex gossip lines)")]
    UnknownFormat,
    /// The file is cut short or inconsistent.
    #[error("{format}: {what}")]
    Corrupt {
        /// Which format.
        format: &'static str,
        /// Where and what.
        what: String,
    },
    /// A GOSSMAP file needs its node map.
    #[error("a GOSSMAP_COMPRESSv1 file needs its node map (the -node-map.xz beside it)")]
    NeedsNodeMap,
}

fn corrupt(format: &'static str, what: impl Into<String>) -> ImportError {
    ImportError::Corrupt {
        format,
        what: what.into(),
    }
}

/// Gunzip when the bytes are gzip.
pub fn maybe_gunzip(bytes: Vec<u8>) -> Result<Vec<u8>, ImportError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = vec![];
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| corrupt("gzip", e.to_string()))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Interns node ids as indexes.
#[derive(Default)]
struct Nodes {
    ids: HashMap<[u8; 33], u32>,
    pubkeys: Vec<[u8; 33]>,
    aliases: Vec<String>,
}

impl Nodes {
    fn get(&mut self, pk: [u8; 33]) -> u32 {
        *self.ids.entry(pk).or_insert_with(|| {
            self.pubkeys.push(pk);
            self.aliases.push(String::new());
            (self.pubkeys.len() - 1) as u32
        })
    }
}

fn pubkey_hex(s: &str) -> Option<[u8; 33]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Load a graph from bytes; `node_map` is the decompressed text of a GOSSMAP node map, when there is one.
pub fn load(bytes: Vec<u8>, node_map: Option<&str>) -> Result<Graph, ImportError> {
    let bytes = maybe_gunzip(bytes)?;
    let mut g = if bytes.starts_with(b"GOSSMAP_COMPRESSv1\0") {
        gossmap(&bytes, node_map.ok_or(ImportError::NeedsNodeMap)?)?
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt("JSON", e.to_string()))?;
        if v.get("channels").is_some() {
            cln_listchannels(&v)?
        } else if v.get("edges").is_some() {
            lnd_describegraph(&v)?
        } else {
            return Err(ImportError::UnknownFormat);
        }
    } else if std::str::from_utf8(&bytes).is_ok_and(|t| {
        t.lines().next().is_some_and(|l| {
            !l.trim().is_empty() && l.trim().bytes().all(|b| b.is_ascii_hexdigit())
        })
    }) {
        gossip_lines(std::str::from_utf8(&bytes).expect("checked"))?
    } else {
        return Err(ImportError::UnknownFormat);
    };
    g.index();
    Ok(g)
}

/// Decompress an xz node map.
pub fn unxz(bytes: &[u8]) -> Result<String, ImportError> {
    let mut out = vec![];
    lzma_rs::xz_decompress(&mut &bytes[..], &mut out)
        .map_err(|e| corrupt("xz node map", e.to_string()))?;
    String::from_utf8(out).map_err(|_| corrupt("xz node map", "not UTF-8"))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn big(&mut self, what: &str) -> Result<u64, ImportError> {
        let (v, n) = BigSize::decode(&self.b[self.pos..]).map_err(|e| {
            corrupt(
                "GOSSMAP_COMPRESSv1",
                format!("{what} at byte {}: {e}", self.pos),
            )
        })?;
        self.pos += n;
        Ok(v.0)
    }

    fn table(&mut self, what: &str, n: usize) -> Result<Vec<u64>, ImportError> {
        let count = self.big(what)? as usize;
        let values = (0..count)
            .map(|_| self.big(what))
            .collect::<Result<Vec<_>, _>>()?;
        (0..n)
            .map(|_| {
                let i = self.big(what)? as usize;
                values.get(i).copied().ok_or_else(|| {
                    corrupt(
                        "GOSSMAP_COMPRESSv1",
                        format!("{what}: index {i} of {count} values"),
                    )
                })
            })
            .collect()
    }
}

/// GOSSMAP_COMPRESSv1 (layout in `testdata/graphs/README.md`; direction 0 leaves the lesser node id).
fn gossmap(bytes: &[u8], node_map: &str) -> Result<Graph, ImportError> {
    let mut pubkeys = vec![];
    let mut aliases = vec![];
    for (i, line) in node_map.lines().enumerate() {
        let mut parts = line.splitn(3, ':');
        let (idx, pk) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if idx.parse::<usize>().ok() != Some(i) {
            return Err(corrupt(
                "node map",
                format!("line {} is not index {i}", i + 1),
            ));
        }
        pubkeys.push(
            pubkey_hex(pk)
                .ok_or_else(|| corrupt("node map", format!("line {}: bad node id", i + 1)))?,
        );
        aliases.push(parts.next().unwrap_or("").to_string());
    }
    let mut r = Reader { b: bytes, pos: 19 };
    let n = r.big("channel_count")? as usize;
    let starts = (0..n)
        .map(|_| r.big("start node"))
        .collect::<Result<Vec<_>, _>>()?;
    let ends = (0..n)
        .map(|_| r.big("end node"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut disabled = vec![false; 2 * n];
    loop {
        let v = r.big("disabled list")? as usize;
        if v == 2 * n {
            break;
        }
        *disabled.get_mut(v).ok_or_else(|| {
            corrupt(
                "GOSSMAP_COMPRESSv1",
                format!("disabled entry {v} past the channels"),
            )
        })? = true;
    }
    let capacity = r.table("capacities", n)?;
    let htlc_min = r.table("htlc_min", 2 * n)?;
    let htlc_max = r.table("htlc_max", 2 * n)?;
    let base = r.table("base_fee", 2 * n)?;
    let prop = r.table("fee_proportional_millionths", 2 * n)?;
    let delay = r.table("cltv_delta", 2 * n)?;
    if r.pos != bytes.len() {
        return Err(corrupt(
            "GOSSMAP_COMPRESSv1",
            format!("{} bytes left after the last table", bytes.len() - r.pos),
        ));
    }
    let mut g = Graph {
        pubkeys,
        aliases,
        ..Default::default()
    };
    for c in 0..n {
        let (a, b) = (starts[c] as u32, ends[c] as u32);
        if a as usize >= g.pubkeys.len() || b as usize >= g.pubkeys.len() {
            return Err(corrupt(
                "GOSSMAP_COMPRESSv1",
                format!("channel {c} names a node past the node map"),
            ));
        }
        let (node_1, node_2) = if g.pubkeys[a as usize] <= g.pubkeys[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        g.channels.push(Channel {
            node_1,
            node_2,
            short_channel_id: None,
            capacity_sat: capacity[c],
        });
        for dir in 0..2 {
            let i = 2 * c + dir;
            let max = match htlc_max[i] {
                0 => capacity[c] * 1000,
                1 => capacity[c] * 990,
                m => m,
            };
            g.policies.push(Policy {
                fee_base_msat: base[i] as u32,
                fee_proportional_millionths: prop[i] as u32,
                cltv_expiry_delta: delay[i] as u16,
                htlc_minimum_msat: htlc_min[i],
                htlc_maximum_msat: max,
                present: true,
                enabled: !disabled[i],
            });
        }
    }
    Ok(g)
}

fn msat(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.trim_end_matches("msat").parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// Core Lightning `listchannels`: one object per direction.
fn cln_listchannels(v: &Value) -> Result<Graph, ImportError> {
    let mut nodes = Nodes::default();
    let mut by_scid: HashMap<u64, usize> = HashMap::new();
    let (mut channels, mut policies) = (vec![], vec![]);
    for (i, e) in v["channels"]
        .as_array()
        .ok_or_else(|| corrupt("listchannels", "channels is not an array"))?
        .iter()
        .enumerate()
    {
        let bad = |f: &str| corrupt("listchannels", format!("channels[{i}].{f}"));
        let src = pubkey_hex(e["source"].as_str().unwrap_or("")).ok_or_else(|| bad("source"))?;
        let dst = pubkey_hex(e["destination"].as_str().unwrap_or(""))
            .ok_or_else(|| bad("destination"))?;
        let scid = e["short_channel_id"]
            .as_str()
            .and_then(crate::wire::tlv::scid_from_str)
            .ok_or_else(|| bad("short_channel_id"))?;
        let (s, d) = (nodes.get(src), nodes.get(dst));
        let c = *by_scid.entry(scid).or_insert_with(|| {
            let (node_1, node_2) = if src <= dst { (s, d) } else { (d, s) };
            channels.push(Channel {
                node_1,
                node_2,
                short_channel_id: Some(scid),
                capacity_sat: e["satoshis"].as_u64().unwrap_or(0),
            });
            policies.extend([Policy::default(), Policy::default()]);
            channels.len() - 1
        });
        let dir = usize::from(channels[c].node_1 != s);
        policies[2 * c + dir] = Policy {
            fee_base_msat: e["base_fee_millisatoshi"].as_u64().unwrap_or(0) as u32,
            fee_proportional_millionths: e["fee_per_millionth"].as_u64().unwrap_or(0) as u32,
            cltv_expiry_delta: e["delay"].as_u64().unwrap_or(0) as u16,
            htlc_minimum_msat: msat(&e["htlc_minimum_msat"]),
            htlc_maximum_msat: msat(&e["htlc_maximum_msat"]),
            present: true,
            enabled: e["active"].as_bool().unwrap_or(false),
        };
    }
    Ok(Graph {
        pubkeys: nodes.pubkeys,
        aliases: nodes.aliases,
        channels,
        policies,
        ..Default::default()
    })
}

/// LND `describegraph`: nodes with aliases, edges with both policies.
fn lnd_describegraph(v: &Value) -> Result<Graph, ImportError> {
    let mut nodes = Nodes::default();
    for n in v["nodes"].as_array().into_iter().flatten() {
        if let Some(pk) = n["pub_key"].as_str().and_then(pubkey_hex) {
            let i = nodes.get(pk);
            nodes.aliases[i as usize] = n["alias"].as_str().unwrap_or("").to_string();
        }
    }
    let (mut channels, mut policies) = (vec![], vec![]);
    for (i, e) in v["edges"]
        .as_array()
        .ok_or_else(|| corrupt("describegraph", "edges is not an array"))?
        .iter()
        .enumerate()
    {
        let bad = |f: &str| corrupt("describegraph", format!("edges[{i}].{f}"));
        let p1 =
            pubkey_hex(e["node1_pub"].as_str().unwrap_or("")).ok_or_else(|| bad("node1_pub"))?;
        let p2 =
            pubkey_hex(e["node2_pub"].as_str().unwrap_or("")).ok_or_else(|| bad("node2_pub"))?;
        let (a, b) = (nodes.get(p1), nodes.get(p2));
        let swapped = p1 > p2;
        let num = |x: &Value| {
            x.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| x.as_u64())
                .unwrap_or(0u64)
        };
        channels.push(Channel {
            node_1: if swapped { b } else { a },
            node_2: if swapped { a } else { b },
            short_channel_id: Some(num(&e["channel_id"])),
            capacity_sat: num(&e["capacity"]),
        });
        let policy = |p: &Value| match p {
            Value::Object(_) => Policy {
                fee_base_msat: num(&p["fee_base_msat"]) as u32,
                fee_proportional_millionths: num(&p["fee_rate_milli_msat"]) as u32,
                cltv_expiry_delta: num(&p["time_lock_delta"]) as u16,
                htlc_minimum_msat: num(&p["min_htlc"]),
                htlc_maximum_msat: num(&p["max_htlc_msat"]),
                present: true,
                enabled: !p["disabled"].as_bool().unwrap_or(false),
            },
            _ => Policy::default(),
        };
        let (pa, pb) = (policy(&e["node1_policy"]), policy(&e["node2_policy"]));
        policies.extend(if swapped { [pb, pa] } else { [pa, pb] });
    }
    Ok(Graph {
        pubkeys: nodes.pubkeys,
        aliases: nodes.aliases,
        channels,
        policies,
        ..Default::default()
    })
}

/// Raw gossip: one hex message per line (channel_announcement, channel_update, node_announcement).
/// Core Lightning's gossip_store record of a channel's capacity, after its announcement.
pub const GOSSIP_STORE_CHANNEL_AMOUNT: u16 = 4101;

fn gossip_lines(text: &str) -> Result<Graph, ImportError> {
    let mut nodes = Nodes::default();
    let mut by_scid: HashMap<u64, usize> = HashMap::new();
    let (mut channels, mut policies) = (vec![], vec![]);
    let mut updates = vec![];
    let mut last_announced: Option<usize> = None;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bytes = hex::decode(line.trim())
            .map_err(|_| corrupt("gossip lines", format!("line {}: not hex", i + 1)))?;
        let m = message::decode(&bytes)
            .map_err(|e| corrupt("gossip lines", format!("line {}: {e}", i + 1)))?;
        let get = |f: &str| {
            m.fields
                .iter()
                .find(|(n, _)| *n == f)
                .map(|(_, v)| v.clone())
        };
        match m.name {
            Some("channel_announcement") => {
                if let (Some(V::Scid(scid)), Some(V::Point(a)), Some(V::Point(b))) =
                    (get("short_channel_id"), get("node_id_1"), get("node_id_2"))
                {
                    let (a, b) = (nodes.get(a.serialize()), nodes.get(b.serialize()));
                    let c = *by_scid.entry(scid).or_insert_with(|| {
                        channels.push(Channel {
                            node_1: a,
                            node_2: b,
                            short_channel_id: Some(scid),
                            capacity_sat: 0,
                        });
                        policies.extend([Policy::default(), Policy::default()]);
                        channels.len() - 1
                    });
                    last_announced = Some(c);
                }
            }
            // Core Lightning's gossip_store_channel_amount (type 4101): the
            // capacity of the channel announced just before, u64 satoshis.
            _ if m.typ == GOSSIP_STORE_CHANNEL_AMOUNT => {
                if let (Some(c), Some(raw)) = (last_announced, m.raw.as_deref()) {
                    if let Ok(sat) = <[u8; 8]>::try_from(raw) {
                        channels[c].capacity_sat = u64::from_be_bytes(sat);
                    }
                }
            }
            Some("channel_update") => updates.push(m),
            Some("node_announcement") => {
                if let (Some(V::Point(p)), Some(V::Bytes(alias))) = (get("node_id"), get("alias")) {
                    let n = nodes.get(p.serialize());
                    nodes.aliases[n as usize] = String::from_utf8_lossy(&alias)
                        .trim_end_matches('\0')
                        .to_string();
                }
            }
            _ => {}
        }
    }
    for m in updates {
        let get = |f: &str| match m.fields.iter().find(|(n, _)| *n == f).map(|(_, v)| v) {
            Some(V::Uint(x)) => *x,
            Some(V::Scid(x)) => *x,
            _ => 0,
        };
        let Some(&c) = by_scid.get(&get("short_channel_id")) else {
            continue;
        };
        policies[2 * c + (get("channel_flags") & 1) as usize] = Policy::from_update(&m);
    }
    Ok(Graph {
        pubkeys: nodes.pubkeys,
        aliases: nodes.aliases,
        channels,
        policies,
        ..Default::default()
    })
}
