//! BOLT 7, the sending side: the messages a node builds about its own
//! channels and itself. `announcement_signatures` halves, the
//! `channel_announcement` they assemble into, our `channel_update` (our
//! relay policy, in one direction) and our `node_announcement`.
//!
//! Everything here builds unsigned [`Message`]s and puts signatures in;
//! the signatures come from the signer, which alone holds the keys.

use std::net::{IpAddr, SocketAddr};

use bitcoin::secp256k1::{ecdsa::Signature, PublicKey};
use serde::{Deserialize, Serialize};

use crate::amount::Msat;
use crate::graph::Policy;
use crate::wire::message::{self, Message, MessageError, Value};

/// BOLT 7 `message_flags` bit 0: `must_be_one`.
const MUST_BE_ONE: u8 = 1;
/// BOLT 7 `message_flags` bit 1: `dont_forward` (a private channel's update).
const DONT_FORWARD: u8 = 2;
/// BOLT 7 `channel_flags` bit 1: `disable`.
const DISABLE: u8 = 2;

/// A channel is re-announced this long after its last `channel_update`,
/// so that receivers never prune it as stale (two weeks, BOLT 7 "Pruning").
pub const KEEPALIVE_SECS: u64 = 13 * 24 * 3600;

/// What we charge, and accept, to forward over one of our channels: the
/// fields of our `channel_update` (BOLT 7), set by `setchannel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPolicy {
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `htlc_minimum_msat`.
    pub htlc_minimum_msat: Msat,
    /// `htlc_maximum_msat`; none: as much as the channel allows (its capacity,
    /// and the peer's `max_htlc_value_in_flight_msat`).
    pub htlc_maximum_msat: Option<Msat>,
}

impl Default for RelayPolicy {
    /// Core Lightning's defaults (`fee-base` 1000, `fee-per-satoshi` 10, `cltv-delta` 34).
    fn default() -> Self {
        RelayPolicy {
            fee_base_msat: 1000,
            fee_proportional_millionths: 10,
            cltv_expiry_delta: 34,
            htlc_minimum_msat: Msat(1),
            htlc_maximum_msat: None,
        }
    }
}

impl RelayPolicy {
    /// What we charge to forward `amount` over this channel (BOLT 7 "HTLC Fees").
    pub fn fee(&self, amount: Msat) -> Msat {
        Msat(crate::route::forwarding_fee_msat(
            self.fee_base_msat,
            self.fee_proportional_millionths,
            amount.0,
        ))
    }

    /// The `htlc_minimum_msat` and `htlc_maximum_msat` our `channel_update`
    /// announces (BOLT 7): the minimum at least what the peer accepts; the
    /// maximum at most the capacity and the peer's
    /// `max_htlc_value_in_flight_msat`, and not below the minimum.
    pub fn htlc_limits(
        &self,
        capacity: Msat,
        their_minimum: Msat,
        their_in_flight: Msat,
    ) -> (Msat, Msat) {
        let minimum = self.htlc_minimum_msat.0.max(their_minimum.0);
        let most = capacity.0.min(their_in_flight.0);
        let maximum = self.htlc_maximum_msat.map_or(most, |m| m.0.min(most));
        (Msat(minimum), Msat(maximum.max(minimum)))
    }
}

/// Where a channel stands in BOLT 7, kept with the channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelGossip {
    /// Our relay policy.
    pub policy: RelayPolicy,
    /// The peer's `announcement_signatures`: `node_signature`, `bitcoin_signature` (64 bytes each).
    pub their_signatures: Option<(Vec<u8>, Vec<u8>)>,
    /// The `channel_announcement`, once both halves are in.
    pub announcement: Option<Vec<u8>>,
    /// The timestamp of the last `channel_update` we made (each must be greater).
    pub last_update: u32,
    /// Whether that update had the `disable` bit.
    pub last_disabled: bool,
    /// The peer's own direction, from its `channel_update` to us (an
    /// unannounced channel's only source; BOLT 7 "SHOULD accept").
    pub their_policy: Option<Policy>,
    /// The policy before the last change, and until when (seconds since
    /// 1970) forwards may still use it (BOLT 7: SHOULD keep accepting the
    /// previous parameters for 10 minutes).
    pub previous: Option<(RelayPolicy, u64)>,
}

impl ChannelGossip {
    /// The timestamp of the next `channel_update` at `now`: greater than any before (BOLT 7).
    pub fn next_timestamp(&mut self, now: u64) -> u32 {
        let t = (now.min(u64::from(u32::MAX)) as u32).max(self.last_update + 1);
        self.last_update = t;
        t
    }
}

/// One endpoint of a channel: its node id and its funding key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `node_id`.
    pub node_id: PublicKey,
    /// `bitcoin_key`: its `funding_pubkey`.
    pub bitcoin_key: PublicKey,
}

/// Whether `a` is `node_id_1` (BOLT 7: the lesser of the two compressed keys).
pub fn is_node_1(a: &PublicKey, b: &PublicKey) -> bool {
    a.serialize() < b.serialize()
}

/// The `channel_announcement` both sides sign (signatures zero), with its
/// endpoints put in BOLT 7's order. No feature is defined for it.
pub fn channel_announcement(
    chain_hash: [u8; 32],
    short_channel_id: u64,
    a: Endpoint,
    b: Endpoint,
) -> Message {
    let (one, two) = if is_node_1(&a.node_id, &b.node_id) {
        (a, b)
    } else {
        (b, a)
    };
    let zero = || Value::Bytes(vec![0; 64]);
    Message {
        typ: 256,
        name: Some("channel_announcement"),
        fields: vec![
            ("node_signature_1", zero()),
            ("node_signature_2", zero()),
            ("bitcoin_signature_1", zero()),
            ("bitcoin_signature_2", zero()),
            ("features", Value::Features(vec![])),
            ("chain_hash", Value::Bytes(chain_hash.to_vec())),
            ("short_channel_id", Value::Scid(short_channel_id)),
            ("node_id_1", Value::Point(one.node_id)),
            ("node_id_2", Value::Point(two.node_id)),
            ("bitcoin_key_1", Value::Point(one.bitcoin_key)),
            ("bitcoin_key_2", Value::Point(two.bitcoin_key)),
        ],
        tlvs: vec![],
        raw: None,
    }
}

/// One side's half: the two signatures `announcement_signatures` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Half {
    /// By its node key.
    pub node_signature: Signature,
    /// By its funding key.
    pub bitcoin_signature: Signature,
}

/// The signed `channel_announcement`: `ours` from our signer, `theirs` from
/// the peer's `announcement_signatures`, each put in its endpoint's slots.
pub fn assemble(
    mut unsigned: Message,
    we_are_node_1: bool,
    ours: Half,
    theirs: Half,
) -> Result<Vec<u8>, MessageError> {
    let (one, two) = if we_are_node_1 {
        (ours, theirs)
    } else {
        (theirs, ours)
    };
    use crate::wire::gossip::set_signature as put;
    put(&mut unsigned, "node_signature_1", &one.node_signature);
    put(&mut unsigned, "node_signature_2", &two.node_signature);
    put(&mut unsigned, "bitcoin_signature_1", &one.bitcoin_signature);
    put(&mut unsigned, "bitcoin_signature_2", &two.bitcoin_signature);
    message::encode(&unsigned)
}

/// What one of our `channel_update`s says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateFields {
    /// The channel (the real short channel id, or the peer's alias for it).
    pub short_channel_id: u64,
    /// `timestamp` (from [`ChannelGossip::next_timestamp`]).
    pub timestamp: u32,
    /// We are `node_id_2` (the `direction` bit).
    pub direction: bool,
    /// The `disable` bit.
    pub disabled: bool,
    /// `dont_forward`: an unannounced channel's update, for the peer only.
    pub dont_forward: bool,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `htlc_minimum_msat`.
    pub htlc_minimum_msat: Msat,
    /// `htlc_maximum_msat` (BOLT 7: at most the capacity and the peer's in-flight limit).
    pub htlc_maximum_msat: Msat,
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
}

/// Our `channel_update`, unsigned.
pub fn channel_update(chain_hash: [u8; 32], u: &UpdateFields) -> Message {
    let message_flags = MUST_BE_ONE | if u.dont_forward { DONT_FORWARD } else { 0 };
    let channel_flags = u8::from(u.direction) | if u.disabled { DISABLE } else { 0 };
    let n = |x: u64| Value::Uint(x);
    Message {
        typ: 258,
        name: Some("channel_update"),
        fields: vec![
            ("signature", Value::Bytes(vec![0; 64])),
            ("chain_hash", Value::Bytes(chain_hash.to_vec())),
            ("short_channel_id", Value::Scid(u.short_channel_id)),
            ("timestamp", n(u.timestamp.into())),
            ("message_flags", n(message_flags.into())),
            ("channel_flags", n(channel_flags.into())),
            ("cltv_expiry_delta", n(u.cltv_expiry_delta.into())),
            ("htlc_minimum_msat", n(u.htlc_minimum_msat.0)),
            ("fee_base_msat", n(u.fee_base_msat.into())),
            (
                "fee_proportional_millionths",
                n(u.fee_proportional_millionths.into()),
            ),
            ("htlc_maximum_msat", n(u.htlc_maximum_msat.0)),
        ],
        tlvs: vec![],
        raw: None,
    }
}

/// A BOLT 7 address descriptor.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NetAddress {
    /// Type 1 (IPv4) or 2 (IPv6).
    Ip(SocketAddr),
    /// Type 4: a Tor v3 onion service, its 35 bytes.
    TorV3([u8; 35], u16),
    /// Type 5: a DNS hostname (ASCII).
    Dns(String, u16),
}

impl NetAddress {
    /// Its descriptor type.
    pub fn descriptor_type(&self) -> u8 {
        match self {
            NetAddress::Ip(SocketAddr::V4(_)) => 1,
            NetAddress::Ip(SocketAddr::V6(_)) => 2,
            NetAddress::TorV3(..) => 4,
            NetAddress::Dns(..) => 5,
        }
    }

    /// Parse `HOST:PORT` (an IP address or a DNS name).
    pub fn parse(s: &str) -> Result<NetAddress, String> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(NetAddress::Ip(a));
        }
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("{s}: expected HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{s}: the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(format!("{s}: BOLT 7 forbids port 0"));
        }
        if host.is_empty() || host.len() > 255 || !host.is_ascii() {
            return Err(format!("{s}: a DNS name is 1 to 255 ASCII characters"));
        }
        Ok(NetAddress::Dns(host.to_string(), port))
    }
}

impl std::fmt::Display for NetAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetAddress::Ip(a) => write!(f, "{a}"),
            NetAddress::TorV3(b, port) => {
                write!(f, "{}.onion:{port}", base32_lower(b))
            }
            NetAddress::Dns(h, port) => write!(f, "{h}:{port}"),
        }
    }
}

/// RFC 4648 base32, lower case, no padding (onion addresses).
fn base32_lower(bytes: &[u8]) -> String {
    crate::base32::encode(bytes, crate::base32::RFC4648_LOWER)
}

/// Encode descriptors in ascending type order (BOLT 7 "MUST place address
/// descriptors in ascending order"), at most one DNS name.
pub fn encode_addresses(addresses: &[NetAddress]) -> Vec<u8> {
    let mut sorted: Vec<&NetAddress> = addresses.iter().collect();
    sorted.sort_by_key(|a| a.descriptor_type());
    let mut dns_seen = false;
    let mut out = vec![];
    for a in sorted {
        match a {
            NetAddress::Ip(s) => {
                out.push(a.descriptor_type());
                match s.ip() {
                    IpAddr::V4(ip) => out.extend(ip.octets()),
                    IpAddr::V6(ip) => out.extend(ip.octets()),
                }
                out.extend(s.port().to_be_bytes());
            }
            NetAddress::TorV3(b, port) => {
                out.push(4);
                out.extend(b);
                out.extend(port.to_be_bytes());
            }
            NetAddress::Dns(h, port) if !dns_seen => {
                dns_seen = true;
                out.push(5);
                out.push(h.len() as u8);
                out.extend(h.as_bytes());
                out.extend(port.to_be_bytes());
            }
            NetAddress::Dns(..) => {}
        }
    }
    out
}

/// Decode `addresses` as a receiver (BOLT 7): the first unknown type ends
/// the list; port 0 is skipped; a second DNS name is ignored. `Err` when
/// a known descriptor runs past the end (the BOLT's `warning` case).
pub fn decode_addresses(mut b: &[u8]) -> Result<Vec<NetAddress>, String> {
    let mut out = vec![];
    let mut dns_seen = false;
    while let Some((&typ, rest)) = b.split_first() {
        let need = match typ {
            1 => 6,
            2 => 18,
            3 => 12,
            4 => 37,
            5 => 1 + usize::from(*rest.first().unwrap_or(&0)) + 2,
            _ => break,
        };
        if rest.len() < need {
            return Err(format!(
                "addresses: a type {typ} descriptor needs {need} bytes, {} are left",
                rest.len()
            ));
        }
        let (d, tail) = rest.split_at(need);
        let port = u16::from_be_bytes([d[need - 2], d[need - 1]]);
        b = tail;
        if port == 0 {
            continue;
        }
        match typ {
            1 => out.push(NetAddress::Ip(SocketAddr::from((
                <[u8; 4]>::try_from(&d[..4]).expect("4 bytes"),
                port,
            )))),
            2 => out.push(NetAddress::Ip(SocketAddr::from((
                <[u8; 16]>::try_from(&d[..16]).expect("16 bytes"),
                port,
            )))),
            4 => out.push(NetAddress::TorV3(
                d[..35].try_into().expect("35 bytes"),
                port,
            )),
            5 if !dns_seen => {
                dns_seen = true;
                out.push(NetAddress::Dns(
                    String::from_utf8_lossy(&d[1..need - 2]).into_owned(),
                    port,
                ));
            }
            // Tor v2 (deprecated) and further DNS names are ignored.
            _ => {}
        }
    }
    Ok(out)
}

/// What our `node_announcement` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFields {
    /// Our BOLT 9 features (those of `init` that belong in node announcements).
    pub features: Vec<u8>,
    /// `timestamp`, greater than any before.
    pub timestamp: u32,
    /// `node_id`.
    pub node_id: PublicKey,
    /// `rgb_color`.
    pub color: [u8; 3],
    /// `alias` (at most 32 bytes of UTF-8; longer is cut at a character boundary).
    pub alias: String,
    /// Where we take connections.
    pub addresses: Vec<NetAddress>,
}

/// The alias field: UTF-8, NUL-padded to 32 bytes (BOLT 7), cut at a character boundary.
pub fn alias_bytes(alias: &str) -> [u8; 32] {
    let mut end = alias.len().min(32);
    while !alias.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = [0u8; 32];
    out[..end].copy_from_slice(&alias.as_bytes()[..end]);
    out
}

/// Our `node_announcement`, unsigned.
pub fn node_announcement(n: &NodeFields) -> Message {
    Message {
        typ: 257,
        name: Some("node_announcement"),
        fields: vec![
            ("signature", Value::Bytes(vec![0; 64])),
            ("features", Value::Features(n.features.clone())),
            ("timestamp", Value::Uint(n.timestamp.into())),
            ("node_id", Value::Point(n.node_id)),
            ("rgb_color", Value::Bytes(n.color.to_vec())),
            ("alias", Value::Bytes(alias_bytes(&n.alias).to_vec())),
            ("addresses", Value::Bytes(encode_addresses(&n.addresses))),
        ],
        tlvs: vec![],
        raw: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_in_ascending_order_with_one_dns_name() {
        let list = vec![
            NetAddress::Dns("node.example".into(), 9735),
            NetAddress::Ip("[::1]:9736".parse().unwrap()),
            NetAddress::Ip("203.0.113.7:9735".parse().unwrap()),
            NetAddress::Dns("second.example".into(), 1),
        ];
        let bytes = encode_addresses(&list);
        assert_eq!(bytes[0], 1, "IPv4 first");
        assert_eq!(
            decode_addresses(&bytes).unwrap(),
            vec![
                NetAddress::Ip("203.0.113.7:9735".parse().unwrap()),
                NetAddress::Ip("[::1]:9736".parse().unwrap()),
                NetAddress::Dns("node.example".into(), 9735),
            ]
        );
        // An unknown type ends the list; a short known one is an error.
        let mut tail = bytes.clone();
        tail.extend([9, 1, 2, 3]);
        assert_eq!(decode_addresses(&tail).unwrap().len(), 3);
        assert!(decode_addresses(&[1, 127, 0, 0])
            .unwrap_err()
            .contains("6 bytes"));
        assert!(NetAddress::parse("host:0").unwrap_err().contains("port 0"));
    }

    #[test]
    fn aliases_are_cut_at_a_character_boundary_and_timestamps_only_grow() {
        // "aé" is 3 bytes: the 32nd byte falls inside an "é", which is dropped whole.
        let a = alias_bytes(&"aé".repeat(11));
        let text = std::str::from_utf8(a.split(|b| *b == 0).next().unwrap()).unwrap();
        assert_eq!(text, format!("{}a", "aé".repeat(10)));
        let mut g = ChannelGossip::default();
        assert_eq!(g.next_timestamp(1000), 1000);
        assert_eq!(g.next_timestamp(1000), 1001);
        assert_eq!(g.next_timestamp(5), 1002);
    }
}
