//! The control interface: JSON-RPC 2.0 over a Unix socket, one JSON object
//! per line. Method names and fields follow Core Lightning's where it has the
//! method. Every request and response is a typed value with a JSON Schema.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

/// Amounts in responses are msat integers, as in Core Lightning's `_msat` fields.
pub type MsatField = u64;

/// `getinfo`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetinfoRequest {}

/// `getinfo`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetinfoResponse {
    /// The node id.
    pub id: String,
    /// Its alias.
    pub alias: String,
    /// Connected peers.
    pub num_peers: usize,
    /// Channels not yet open.
    pub num_pending_channels: usize,
    /// Open channels.
    pub num_active_channels: usize,
    /// Closed or failed channels.
    pub num_inactive_channels: usize,
    /// Where we listen.
    pub binding: Vec<Binding>,
    /// The chain tip we have processed.
    pub blockheight: u32,
    /// `regtest`, `signet`, `testnet` or `bitcoin`.
    pub network: String,
    /// lnkit's version.
    pub version: String,
}

/// A listening address.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Binding {
    /// `ipv4` or `ipv6`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The address.
    pub address: String,
    /// The port.
    pub port: u16,
}

/// `newaddr`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewaddrRequest {
    /// `bech32` (BIP 84, the default) or `p2tr` (BIP 86).
    #[serde(default)]
    pub addresstype: Option<String>,
}

/// `newaddr`'s answer: the address under its type's name.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct NewaddrResponse {
    /// A BIP 84 address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bech32: Option<String>,
    /// A BIP 86 address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p2tr: Option<String>,
}

/// `listfunds`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListfundsRequest {}

/// An on-chain output of the wallet.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct FundsOutput {
    /// Its transaction.
    pub txid: String,
    /// Its index.
    pub output: u32,
    /// Its amount.
    pub amount_msat: MsatField,
    /// Its script, hex.
    pub scriptpubkey: String,
    /// Its address.
    pub address: Option<String>,
    /// `confirmed` or `unconfirmed`.
    pub status: String,
    /// Its confirmation height.
    pub blockheight: Option<u32>,
}

/// A channel's share of the funds.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct FundsChannel {
    /// The peer.
    pub peer_id: String,
    /// Whether the peer is connected.
    pub connected: bool,
    /// Core Lightning's state name.
    pub state: String,
    /// `channel_id`.
    pub channel_id: String,
    /// Once confirmed.
    pub short_channel_id: Option<String>,
    /// Our balance.
    pub our_amount_msat: MsatField,
    /// The channel's capacity.
    pub amount_msat: MsatField,
    /// The funding transaction.
    pub funding_txid: Option<String>,
    /// Its output.
    pub funding_output: Option<u32>,
}

/// `listfunds`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListfundsResponse {
    /// On chain.
    pub outputs: Vec<FundsOutput>,
    /// In channels.
    pub channels: Vec<FundsChannel>,
    /// Outputs of closed channels on their way back to the wallet (LND's `pendingsweeps`).
    pub sweeps: Vec<PendingSweep>,
}

/// An output of a closed channel that is ours (or contested) and not yet swept for good.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PendingSweep {
    /// The channel.
    pub channel_id: String,
    /// `txid:vout`.
    pub outpoint: String,
    /// `anchor` (while our commitment waits: its CPFP), `to_local`, `to_remote`, `htlc_timeout`, `htlc_success`, `htlc_claim_preimage`, `htlc_claim_timeout`, `htlc_second_stage` or `penalty`.
    pub kind: String,
    /// Its value.
    pub amount_msat: u64,
    /// The first block height our claim can be in (none: its parent is not confirmed, or a preimage is missing).
    pub matures_at: Option<u32>,
    /// `waiting`, `broadcast` (our claim is in flight), `spent` (waiting for 6 confirmations) or `lost` (the counterparty took it).
    pub status: String,
    /// Our claim, when broadcast.
    pub claim_txid: Option<String>,
    /// Its feerate, sat per 1000 weight.
    pub claim_feerate_perkw: Option<u32>,
}

/// `listclosedchannels`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListclosedchannelsRequest {
    /// Only channels with this peer.
    #[serde(default)]
    pub id: Option<String>,
}

/// A channel whose every output is resolved (Core Lightning's `listclosedchannels`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ClosedChannel {
    /// The peer.
    pub peer_id: String,
    /// The channel.
    pub channel_id: String,
    /// Its short channel id.
    pub short_channel_id: Option<String>,
    /// `local` or `remote`.
    pub opener: String,
    /// The funding transaction.
    pub funding_txid: String,
    /// The channel's capacity.
    pub total_msat: u64,
    /// Our balance when its funding was spent.
    pub final_to_us_msat: u64,
    /// `mutual_close`, `our_commitment`, `their_commitment`, `revoked_commitment` or `future_commitment`.
    pub close_cause: String,
    /// The transaction that spent the funding output.
    pub closing_txid: String,
    /// What our claims swept back to the wallet, after their fees.
    pub swept_msat: u64,
    /// What our claims paid in fees (CPFP children, HTLC transactions, sweeps).
    pub onchain_fees_msat: u64,
    /// The height at which everything was final (6 confirmations).
    pub resolved_at: u32,
}

/// `listclosedchannels`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListclosedchannelsResponse {
    /// The channels.
    pub closedchannels: Vec<ClosedChannel>,
}

/// `listchannels`: the network's channels the node knows from gossip (BOLT 7).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListchannelsRequest {
    /// Only this channel (`BLOCKxTXxOUT`).
    #[serde(default)]
    pub short_channel_id: Option<String>,
    /// Only directions from this node.
    #[serde(default)]
    pub source: Option<String>,
}

/// One direction of a channel, as Core Lightning's `listchannels` shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct GossipChannel {
    /// The node the direction starts at.
    pub source: String,
    /// The other node.
    pub destination: String,
    /// `BLOCKxTXxOUT`.
    pub short_channel_id: String,
    /// 0 from `node_id_1`, 1 from `node_id_2`.
    pub direction: u8,
    /// Announced (always, for gossip).
    pub public: bool,
    /// The funding output's value.
    pub amount_msat: u64,
    /// Not disabled by its latest `channel_update`.
    pub active: bool,
    /// The latest `channel_update`'s timestamp.
    pub last_update: u32,
    /// `fee_base_msat`.
    pub base_fee_millisatoshi: u32,
    /// `fee_proportional_millionths`.
    pub fee_per_millionth: u32,
    /// `cltv_expiry_delta`.
    pub delay: u16,
    /// `htlc_minimum_msat`.
    pub htlc_minimum_msat: u64,
    /// `htlc_maximum_msat`.
    pub htlc_maximum_msat: u64,
}

/// `listchannels`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListchannelsResponse {
    /// Each direction with a `channel_update`.
    pub channels: Vec<GossipChannel>,
}

/// `listnodes`: the network's nodes the node knows from gossip.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListnodesRequest {
    /// Only this node.
    #[serde(default)]
    pub id: Option<String>,
}

/// A node, as Core Lightning's `listnodes` shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct GossipNode {
    /// Its id.
    pub nodeid: String,
    /// Its `node_announcement`'s alias (absent: none received).
    pub alias: Option<String>,
    /// `rgb_color`, hex.
    pub color: Option<String>,
    /// The `node_announcement`'s timestamp.
    pub last_timestamp: Option<u32>,
    /// Its addresses, as `HOST:PORT` (BOLT 7 address descriptors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Its `features`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<String>,
}

/// `listnodes`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListnodesResponse {
    /// The nodes.
    pub nodes: Vec<GossipNode>,
}

/// `exportgraph`: write the node's view of the network for the toolkit.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportgraphRequest {
    /// The file to write: the gossip as hex lines, which `lnkit route --graph` (and every graph step) reads.
    pub file: String,
}

/// `exportgraph`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ExportgraphResponse {
    /// The file written.
    pub file: String,
    /// Channels in it.
    pub channels: usize,
    /// Messages in it.
    pub messages: usize,
}

/// `setchannel`: our relay policy, announced in our `channel_update` (Core Lightning's names).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetchannelRequest {
    /// A channel (id or short channel id), a peer's node id (all its channels), or `all`.
    pub id: String,
    /// `fee_base_msat`.
    pub feebase: Option<u32>,
    /// `fee_proportional_millionths`.
    pub feeppm: Option<u32>,
    /// `htlc_minimum_msat` we forward.
    pub htlcmin: Option<u64>,
    /// `htlc_maximum_msat` we forward (capped by the channel).
    pub htlcmax: Option<u64>,
    /// `cltv_expiry_delta` (an lnkit extension; Core Lightning sets it node-wide).
    pub cltv_expiry_delta: Option<u16>,
}

/// One channel's policy after `setchannel`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetchannelChannel {
    /// The peer.
    pub peer_id: String,
    /// The channel id.
    pub channel_id: String,
    /// Its short channel id, once confirmed.
    pub short_channel_id: Option<String>,
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `htlc_minimum_msat` we forward.
    pub minimum_htlc_out_msat: u64,
    /// `htlc_maximum_msat` we forward.
    pub maximum_htlc_out_msat: u64,
}

/// `setchannel`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetchannelResponse {
    /// The channels changed.
    pub channels: Vec<SetchannelChannel>,
}

/// `getroute`: a route over the live graph (Core Lightning's method).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetrouteRequest {
    /// The destination node id.
    pub id: String,
    /// What the destination gets.
    pub amount_msat: u64,
    /// Accepted for Core Lightning compatibility; the toolkit's router weighs risk itself.
    pub riskfactor: Option<f64>,
    /// The final CLTV delta (default 18).
    pub cltv: Option<u32>,
    /// The source (default: this node).
    pub fromid: Option<String>,
    /// Most hops (default 20).
    pub maxhops: Option<usize>,
    /// Channels (`SCID/DIRECTION`) or nodes to avoid.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// One hop of a `getroute` route.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RouteHop {
    /// The node this hop reaches.
    pub id: String,
    /// The channel it takes.
    pub channel: String,
    /// Its direction (0: from `node_id_1`).
    pub direction: u8,
    /// What this hop carries (with the fees of the hops after it).
    pub amount_msat: u64,
    /// The CLTV delta from here to the end.
    pub delay: u32,
    /// Always `tlv`.
    pub style: String,
}

/// `getroute`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetrouteResponse {
    /// The hops.
    pub route: Vec<RouteHop>,
}

/// `settleinvoice`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleinvoiceRequest {
    /// The preimage of a hold invoice's hash, hex.
    pub preimage: String,
}

/// `cancelinvoice`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelinvoiceRequest {
    /// The hold invoice's payment hash, hex.
    pub payment_hash: String,
}

/// `bumpfee`: raise the feerate of a closing channel's pending claims (LND's `bumpforceclosefee`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BumpfeeRequest {
    /// A channel id, short channel id or peer id.
    pub id: String,
    /// The new feerate, sat per 1000 weight: above the current one.
    pub feerate_perkw: u32,
}

/// `bumpfee`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct BumpfeeResponse {
    /// The transactions broadcast at the new feerate.
    pub txids: Vec<String>,
    /// The feerate now in force.
    pub feerate_perkw: u32,
}

/// `dev-broadcast-revoked` (only with `--dev`): broadcast one of our old,
/// revoked commitments, to stage a breach in a test (as Core Lightning's `dev-sign-last-tx`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DevBroadcastRevokedRequest {
    /// A channel id, short channel id or peer id.
    pub id: String,
    /// The commitment number (default: the one before the current one).
    #[serde(default)]
    pub number: Option<u64>,
    /// Also broadcast that commitment's HTLC-success transactions whose
    /// preimage we know (static_remotekey channels: they pay their own fee),
    /// so the penalty must take their outputs instead.
    #[serde(default)]
    pub with_htlc_txs: bool,
}

/// `dev-broadcast-revoked`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DevBroadcastRevokedResponse {
    /// The HTLC transactions broadcast with it.
    pub htlc_txids: Vec<String>,
    /// The commitment number.
    pub number: u64,
    /// Its transaction, hex.
    pub tx: String,
    /// Its id.
    pub txid: String,
}

/// `withdraw`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// An address of the node's network.
    pub destination: String,
    /// Satoshis, or `"all"`.
    pub satoshi: serde_json::Value,
    /// sat per 1000 weight; default: the chain's estimate.
    #[serde(default)]
    pub feerate_per_kw: Option<u32>,
}

/// `withdraw`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct WithdrawResponse {
    /// The signed transaction, hex.
    pub tx: String,
    /// Its id.
    pub txid: String,
}

/// `connect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// `pubkey@host:port`, or a pubkey with `host` (and `port`).
    pub id: String,
    /// The host, when not in `id`.
    #[serde(default)]
    pub host: Option<String>,
    /// The port (default 9735).
    #[serde(default)]
    pub port: Option<u16>,
}

/// `connect`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConnectResponse {
    /// The peer.
    pub id: String,
    /// Its `init` features, hex.
    pub features: String,
    /// `out`.
    pub direction: String,
    /// The address used.
    pub address: String,
}

/// `disconnect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// The peer.
    pub id: String,
    /// Accepted for Core Lightning's habit; channels are kept in any case.
    #[serde(default)]
    pub force: bool,
}

/// An empty answer.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct EmptyResponse {}

/// `listpeers`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListpeersRequest {
    /// Only this peer.
    #[serde(default)]
    pub id: Option<String>,
}

/// A peer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PeerInfo {
    /// Its node id.
    pub id: String,
    /// Whether connected now.
    pub connected: bool,
    /// Channels with it.
    pub num_channels: usize,
    /// Its address, when known.
    pub netaddr: Vec<String>,
    /// Its features, hex (when connected).
    pub features: Option<String>,
}

/// `listpeers`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListpeersResponse {
    /// The peers.
    pub peers: Vec<PeerInfo>,
}

/// `fundchannel`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FundchannelRequest {
    /// The peer (connected).
    pub id: String,
    /// The channel's size, satoshis.
    pub amount: u64,
    /// Funding transaction feerate, sat per 1000 weight (default: the chain's estimate).
    #[serde(default)]
    pub feerate_per_kw: Option<u32>,
    /// Announce the channel to the network (BOLT 7; default true, as Core Lightning).
    #[serde(default)]
    pub announce: Option<bool>,
    /// Give the peer this much at open.
    #[serde(default)]
    pub push_msat: Option<u64>,
    /// The channel type's feature bits: `[12]` (static_remotekey) or `[12, 22]` (anchors).
    /// Default: anchors when both support them.
    #[serde(default)]
    pub channel_type: Option<Vec<u16>>,
}

/// A channel type as bits and names (Core Lightning's shape).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ChannelTypeInfo {
    /// The feature bits.
    pub bits: Vec<u16>,
    /// Their names.
    pub names: Vec<String>,
}

/// `fundchannel`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct FundchannelResponse {
    /// The funding transaction, hex.
    pub tx: String,
    /// Its id.
    pub txid: String,
    /// The funding output.
    pub outnum: u32,
    /// `channel_id`.
    pub channel_id: String,
    /// The type negotiated.
    pub channel_type: ChannelTypeInfo,
}

/// `listpeerchannels`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListpeerchannelsRequest {
    /// Only channels with this peer.
    #[serde(default)]
    pub id: Option<String>,
}

/// An HTLC in a channel.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct HtlcInfo {
    /// `in` (offered to us) or `out`.
    pub direction: String,
    /// Its id.
    pub id: u64,
    /// Its amount.
    pub amount_msat: MsatField,
    /// `cltv_expiry`.
    pub expiry: u32,
    /// Its hash.
    pub payment_hash: String,
}

/// A channel.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PeerChannel {
    /// The peer.
    pub peer_id: String,
    /// Whether the peer is connected.
    pub peer_connected: bool,
    /// Core Lightning's state name.
    pub state: String,
    /// `channel_id`.
    pub channel_id: String,
    /// Once confirmed.
    pub short_channel_id: Option<String>,
    /// Our and their scid aliases.
    pub alias: BTreeMap<String, String>,
    /// `local` or `remote`.
    pub opener: String,
    /// The funding transaction.
    pub funding_txid: Option<String>,
    /// Its output.
    pub funding_outnum: Option<u32>,
    /// Our balance (HTLCs aside).
    pub to_us_msat: MsatField,
    /// The capacity.
    pub total_msat: MsatField,
    /// What we can send now in one HTLC.
    pub spendable_msat: MsatField,
    /// What we can receive now in one HTLC.
    pub receivable_msat: MsatField,
    /// The reserve we must keep.
    pub our_reserve_msat: MsatField,
    /// The reserve they must keep.
    pub their_reserve_msat: MsatField,
    /// The commitment feerate.
    pub feerate_perkw: u32,
    /// The number of our current commitment (BOLT 3's commitment number; the peer's differs by at most one).
    pub commitment_number: u64,
    /// The type.
    pub channel_type: ChannelTypeInfo,
    /// HTLCs in our current commitment.
    pub htlcs: Vec<HtlcInfo>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// The closing transactions, once signed.
    pub closing_txids: Vec<String>,
    /// What spent the funding output, once one confirmed (BOLT 5).
    pub funding_spend: Option<FundingSpendInfo>,
    /// Not announced to the network (BOLT 7).
    pub private: bool,
    /// Both directions' relay policies: ours, and the peer's (from its
    /// `channel_update`, to us directly or through gossip), as Core Lightning shows them.
    pub updates: ChannelUpdatesInfo,
}

/// A direction's `channel_update` fields.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct UpdatePolicyInfo {
    /// `htlc_minimum_msat`.
    pub htlc_minimum_msat: u64,
    /// `htlc_maximum_msat`.
    pub htlc_maximum_msat: u64,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
}

/// `listpeerchannels` `updates`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ChannelUpdatesInfo {
    /// Ours.
    pub local: UpdatePolicyInfo,
    /// The peer's, once it sent one.
    pub remote: Option<UpdatePolicyInfo>,
}

/// The transaction that spent a channel's funding output.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct FundingSpendInfo {
    /// Its id.
    pub txid: String,
    /// Where it confirmed.
    pub blockheight: u32,
    /// `mutual_close`, `our_commitment`, `their_commitment`, `revoked_commitment` or `future_commitment`.
    pub kind: String,
    /// The commitment number, for a commitment.
    pub commitment_number: Option<u64>,
}

/// `listpeerchannels`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListpeerchannelsResponse {
    /// The channels.
    pub channels: Vec<PeerChannel>,
}

/// `close`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// A peer id, a channel id or a short channel id.
    pub id: String,
    /// Seconds to wait for the mutual close before broadcasting our commitment (default 48 h; 0: at once).
    #[serde(default)]
    pub unilateraltimeout: Option<u64>,
    /// Where our funds go (default: a new wallet address).
    #[serde(default)]
    pub destination: Option<String>,
    /// Broadcast our commitment now.
    #[serde(default)]
    pub force: bool,
}

/// `close`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CloseResponse {
    /// `mutual` or `unilateral`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The transaction, hex.
    pub tx: String,
    /// Its id.
    pub txid: String,
}

/// `invoice`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    /// msat, or `"any"`.
    pub amount_msat: serde_json::Value,
    /// A unique label.
    pub label: String,
    /// The description.
    pub description: String,
    /// Seconds (default 604800, a week).
    #[serde(default)]
    pub expiry: Option<u64>,
    /// A preimage to use, hex (default: random).
    #[serde(default)]
    pub preimage: Option<String>,
    /// A hold invoice (LND's `addholdinvoice`): only the hash is given, hex;
    /// HTLCs paying it wait, unanswered, for `settleinvoice` or `cancelinvoice`.
    #[serde(default)]
    pub payment_hash: Option<String>,
    /// `min_final_cltv_expiry_delta` (default 24).
    #[serde(default)]
    pub cltv: Option<u32>,
}

/// `invoice`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceResponse {
    /// The BOLT 11 string.
    pub bolt11: String,
    /// Its hash.
    pub payment_hash: String,
    /// Its secret.
    pub payment_secret: String,
    /// Seconds since 1970.
    pub expires_at: u64,
}

/// `pay`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The BOLT 11 invoice.
    pub bolt11: String,
    /// For an invoice without an amount.
    #[serde(default)]
    pub amount_msat: Option<u64>,
    /// Seconds to keep trying, and to wait for the outcome (default 60).
    #[serde(default)]
    pub retry_for: Option<u64>,
    /// The fee budget, msat, over all attempts (default: `maxfeepercent`).
    #[serde(default)]
    pub maxfee_msat: Option<u64>,
    /// The fee budget as a percentage of the amount (default 0.5).
    #[serde(default)]
    pub maxfeepercent: Option<f64>,
    /// A fee budget never below this, msat (default 5000).
    #[serde(default)]
    pub exemptfee_msat: Option<u64>,
    /// At most this many attempts, each a new plan of parts (default 10).
    #[serde(default)]
    pub max_attempts: Option<usize>,
}

/// `keysend`: pay a node without an invoice (bLIP 3).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysendRequest {
    /// The payee's node id.
    pub destination: String,
    /// What the payee gets.
    pub amount_msat: u64,
    /// Seconds to keep trying, and to wait for the outcome (default 60).
    #[serde(default)]
    pub retry_for: Option<u64>,
    /// The fee budget, msat, over all attempts (default: `maxfeepercent`).
    #[serde(default)]
    pub maxfee_msat: Option<u64>,
    /// The fee budget as a percentage of the amount (default 0.5).
    #[serde(default)]
    pub maxfeepercent: Option<f64>,
    /// A fee budget never below this, msat (default 5000).
    #[serde(default)]
    pub exemptfee_msat: Option<u64>,
    /// At most this many attempts (default 10).
    #[serde(default)]
    pub max_attempts: Option<usize>,
}

/// `rebalance`: pay ourselves around a cycle, out on one channel, back on another.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// The channel to move liquidity from (short channel id `BLOCKxTXxOUT`, or its alias): the first hop.
    pub out: String,
    /// The channel to move it to: the last hop.
    #[serde(rename = "in")]
    pub inn: String,
    /// What arrives back on `in` (default: what brings both channels closest to 50/50).
    #[serde(default)]
    pub amount_msat: Option<u64>,
    /// The most the cycle may cost, in parts per million of the amount.
    #[serde(default)]
    pub max_fee_ppm: Option<u64>,
    /// Pay more than `in` can earn back at its own fee (the economic check), up to the cap.
    #[serde(default)]
    pub force: bool,
    /// Seconds to keep trying, and to wait for the outcome (default 60).
    #[serde(default)]
    pub retry_for: Option<u64>,
    /// At most this many attempts (default 10).
    #[serde(default)]
    pub max_attempts: Option<usize>,
}

/// One channel of a rebalance, before and after.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RebalanceSide {
    /// Its short channel id (or alias).
    pub short_channel_id: String,
    /// What we held before, msat.
    pub to_us_before_msat: u64,
    /// What we hold after, msat, once the cycle's HTLCs are settled.
    pub to_us_after_msat: u64,
    /// The capacity, msat.
    pub total_msat: u64,
}

/// `rebalance`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RebalanceResponse {
    /// The hash of the invoice we paid ourselves.
    pub payment_hash: String,
    /// What arrived on `in`.
    pub amount_msat: u64,
    /// What the cycle cost.
    pub fee_msat: u64,
    /// The fee in parts per million of the amount.
    pub fee_ppm: u64,
    /// What `in` earns back at our fee on it when this liquidity leaves through it again.
    pub earn_back_msat: u64,
    /// `out`, before and after.
    pub out: RebalanceSide,
    /// `in`, before and after.
    #[serde(rename = "in")]
    pub inn: RebalanceSide,
    /// The cycle, from `out`'s peer back to us.
    pub route: Vec<crate::node::store::PartHop>,
}

/// `rebalanceall`: bring every channel outside the thresholds toward the target.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebalanceallRequest {
    /// Channels whose local share is below this percentage are filled (default 20).
    #[serde(default)]
    pub low_percent: Option<f64>,
    /// Channels whose local share is above this percentage are emptied (default 80).
    #[serde(default)]
    pub high_percent: Option<f64>,
    /// The share each move aims for (default 50).
    #[serde(default)]
    pub target_percent: Option<u64>,
    /// The total fee budget over every move, msat.
    pub max_fee_msat: u64,
    /// Each move's cap, in parts per million of its amount.
    #[serde(default)]
    pub max_fee_ppm: Option<u64>,
    /// Skip the economic check on each move.
    #[serde(default)]
    pub force: bool,
    /// Seconds each move may take (default 60).
    #[serde(default)]
    pub retry_for: Option<u64>,
}

/// One move of `rebalanceall`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RebalanceMove {
    /// The channel emptied.
    pub out: String,
    /// The channel filled.
    #[serde(rename = "in")]
    pub inn: String,
    /// What was asked to move.
    pub amount_msat: u64,
    /// `complete`, `failed`, or `skipped` (the budget ran out).
    pub status: String,
    /// What it cost, when complete.
    #[serde(default)]
    pub fee_msat: u64,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `rebalanceall`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RebalanceallResponse {
    /// Every move planned, in order.
    pub moves: Vec<RebalanceMove>,
    /// The fees of the completed moves.
    pub fee_msat: u64,
    /// What is left of the budget.
    pub budget_left_msat: u64,
}

/// `pay`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PayResponse {
    /// The preimage: proof of payment.
    pub payment_preimage: String,
    /// The hash.
    pub payment_hash: String,
    /// The payee.
    pub destination: String,
    /// What the payee got.
    pub amount_msat: MsatField,
    /// What we sent.
    pub amount_sent_msat: MsatField,
    /// Seconds since 1970.
    pub created_at: u64,
    /// Parts.
    pub parts: u32,
    /// `complete`.
    pub status: String,
}

/// `listinvoices`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListinvoicesRequest {
    /// Only this label.
    #[serde(default)]
    pub label: Option<String>,
    /// Only this hash.
    #[serde(default)]
    pub payment_hash: Option<String>,
}

/// An invoice.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceInfo {
    /// Its label.
    pub label: String,
    /// Its string.
    pub bolt11: String,
    /// Its hash.
    pub payment_hash: String,
    /// What it asks.
    pub amount_msat: Option<MsatField>,
    /// `unpaid`, `paid` or `expired`.
    pub status: String,
    /// Its description.
    pub description: String,
    /// Seconds since 1970.
    pub expires_at: u64,
    /// When paid.
    pub paid_at: Option<u64>,
    /// What arrived.
    pub amount_received_msat: Option<MsatField>,
    /// Once paid.
    pub payment_preimage: Option<String>,
}

/// `listinvoices`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListinvoicesResponse {
    /// The invoices.
    pub invoices: Vec<InvoiceInfo>,
}

/// `listpays`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListpaysRequest {
    /// Only this invoice.
    #[serde(default)]
    pub bolt11: Option<String>,
    /// Only this hash.
    #[serde(default)]
    pub payment_hash: Option<String>,
    /// Only `pending`, `complete` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
}

/// A payment.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PayInfo {
    /// Its hash.
    pub payment_hash: String,
    /// `pending`, `complete` or `failed`.
    pub status: String,
    /// The payee.
    pub destination: String,
    /// Seconds since 1970.
    pub created_at: u64,
    /// Seconds since 1970.
    pub completed_at: Option<u64>,
    /// What the payee gets.
    pub amount_msat: MsatField,
    /// What we sent.
    pub amount_sent_msat: MsatField,
    /// Once complete.
    pub preimage: Option<String>,
    /// The invoice.
    pub bolt11: Option<String>,
    /// Parts that arrived.
    pub number_of_parts: u32,
    /// The failure, decoded from its onion.
    pub failure: Option<String>,
    /// Every part of every attempt, in the order sent.
    pub attempts: Vec<PayPart>,
}

/// One part of a payment: an HTLC of ours and its route.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PayPart {
    /// The attempt that sent it (1 for the first).
    pub attempt: u32,
    /// `pending`, `complete` or `failed`.
    pub status: String,
    /// Our channel that carries it.
    pub channel_id: String,
    /// Its HTLC's id there.
    pub htlc_id: u64,
    /// What it delivers to the payee.
    pub amount_msat: MsatField,
    /// What it costs us, fees included.
    pub amount_sent_msat: MsatField,
    /// The hops after us, the payee last.
    pub route: Vec<crate::node::store::PartHop>,
    /// Seconds since 1970.
    pub created_at: u64,
    /// Seconds since 1970.
    pub completed_at: Option<u64>,
    /// Why it failed, decoded from the failure onion.
    pub failure: Option<String>,
    /// The BOLT 4 failure's name.
    pub failcode: Option<String>,
    /// The node that sent the failure.
    pub erring_node: Option<String>,
    /// The channel out of it that failed (none when the payee did).
    pub erring_channel: Option<String>,
    /// How long each hop held the HTLC, as it reported in its attribution
    /// data (BOLT 4), in route order, in milliseconds; empty when no hop did.
    pub hold_times_ms: Vec<u64>,
}

/// `listpays`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListpaysResponse {
    /// The payments.
    pub pays: Vec<PayInfo>,
}

/// `listforwards` (Core Lightning's).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListforwardsRequest {
    /// Only `offered`, `settled`, `failed` or `local_failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only HTLCs that came in on this channel (short channel id).
    #[serde(default)]
    pub in_channel: Option<String>,
    /// Only HTLCs that went out on this channel (short channel id).
    #[serde(default)]
    pub out_channel: Option<String>,
}

/// One HTLC we were asked to forward.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ForwardInfo {
    /// The channel it came in on.
    pub in_channel: String,
    /// The incoming HTLC's id.
    pub in_htlc_id: u64,
    /// What came in.
    pub in_msat: MsatField,
    /// The channel it went out on (the one the onion named, if it never went out).
    pub out_channel: Option<String>,
    /// The outgoing HTLC's id.
    pub out_htlc_id: Option<u64>,
    /// What the onion asked us to forward.
    pub out_msat: MsatField,
    /// What we keep (`in_msat - out_msat`), unless we refused it.
    pub fee_msat: Option<MsatField>,
    /// The payment hash.
    pub payment_hash: String,
    /// `offered`, `settled`, `failed` or `local_failed`.
    pub status: String,
    /// `tlv`.
    pub style: String,
    /// Seconds since 1970.
    pub received_time: u64,
    /// Seconds since 1970.
    pub resolved_time: Option<u64>,
    /// The BOLT 4 failure we returned, when it was ours.
    pub failcode: Option<String>,
    /// Why it failed.
    pub failreason: Option<String>,
}

/// `listforwards`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListforwardsResponse {
    /// The forwards, oldest first.
    pub forwards: Vec<ForwardInfo>,
}

/// `listtowers` (LND's `wtclient towers`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListtowersRequest {}

/// One watchtower the node hands its appointments to.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TowerInfo {
    /// Its URL (`--tower`).
    pub url: String,
    /// Its key, from its signed registration receipt (once registered).
    pub tower_id: Option<String>,
    /// Appointments it acknowledged with a signed receipt.
    pub appointments: u64,
    /// Appointments waiting to be handed over (kept across restarts).
    pub pending: u64,
    /// Appointments it refused.
    pub refused: u64,
    /// Whether the last attempt reached it (none before the first).
    pub reachable: Option<bool>,
    /// The last error it gave, or why it could not be reached.
    pub last_error: Option<String>,
    /// Our slots there, as its last registration receipt said.
    pub available_slots: Option<u32>,
    /// The height our subscription there ends at.
    pub subscription_expiry: Option<u32>,
}

/// `listtowers`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListtowersResponse {
    /// The towers, as given by `--tower`.
    pub towers: Vec<TowerInfo>,
}

/// `stop`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {}

/// `stop`'s answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct StopResponse {
    /// `Shutdown complete`.
    pub result: String,
}

/// A method: its name, and its request and response schemas.
pub struct Method {
    /// The name.
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The request's schema.
    pub request: fn() -> Schema,
    /// The response's schema.
    pub response: fn() -> Schema,
}

macro_rules! methods {
    ($($name:literal, $req:ty, $resp:ty, $summary:literal;)*) => {
        /// Every method the node answers.
        pub const METHODS: &[Method] = &[$(Method {
            name: $name,
            summary: $summary,
            request: || schemars::schema_for!($req),
            response: || schemars::schema_for!($resp),
        }),*];
    };
}

methods! {
    "getinfo", GetinfoRequest, GetinfoResponse, "the node's id, peers, channels and chain tip";
    "newaddr", NewaddrRequest, NewaddrResponse, "a new wallet address (bech32 or p2tr)";
    "listfunds", ListfundsRequest, ListfundsResponse, "on-chain outputs and channel balances";
    "withdraw", WithdrawRequest, WithdrawResponse, "send on-chain funds to an address";
    "connect", ConnectRequest, ConnectResponse, "connect to a peer (BOLT 8, then init)";
    "disconnect", DisconnectRequest, EmptyResponse, "close the connection to a peer";
    "listpeers", ListpeersRequest, ListpeersResponse, "peers, connected or with channels";
    "fundchannel", FundchannelRequest, FundchannelResponse, "open a channel to a connected peer";
    "listpeerchannels", ListpeerchannelsRequest, ListpeerchannelsResponse, "every channel, with balances and HTLCs";
    "close", CloseRequest, CloseResponse, "close a channel: mutual, or unilateral after a timeout";
    "invoice", InvoiceRequest, InvoiceResponse, "create a BOLT 11 invoice";
    "pay", PayRequest, PayResponse, "pay a BOLT 11 invoice, to a peer or across the network (multi-part when one path will not do)";
    "keysend", KeysendRequest, PayResponse, "pay a node without an invoice, the preimage in the onion (bLIP 3)";
    "rebalance", RebalanceRequest, RebalanceResponse, "move liquidity between two of our channels by paying ourselves around a cycle (out, then the network, then back on in)";
    "rebalanceall", RebalanceallRequest, RebalanceallResponse, "rebalance every channel whose local share is outside the thresholds, within a total fee budget";
    "settleinvoice", SettleinvoiceRequest, EmptyResponse, "settle a hold invoice with its preimage: its HTLCs are fulfilled (on chain too)";
    "cancelinvoice", CancelinvoiceRequest, EmptyResponse, "cancel a hold invoice: its HTLCs are failed";
    "listinvoices", ListinvoicesRequest, ListinvoicesResponse, "invoices and their status";
    "listpays", ListpaysRequest, ListpaysResponse, "payments and their status";
    "listforwards", ListforwardsRequest, ListforwardsResponse, "HTLCs we forwarded (or refused to), with their fees and outcomes";
    "listchannels", ListchannelsRequest, ListchannelsResponse, "the network's channels known from gossip (BOLT 7)";
    "listnodes", ListnodesRequest, ListnodesResponse, "the network's nodes known from gossip";
    "exportgraph", ExportgraphRequest, ExportgraphResponse, "write the known gossip as hex lines, a graph file the toolkit reads";
    "setchannel", SetchannelRequest, SetchannelResponse, "set a channel's fees and HTLC limits, announced in a new channel_update";
    "getroute", GetrouteRequest, GetrouteResponse, "a route over the live graph, by the toolkit's router";
    "listtowers", ListtowersRequest, ListtowersResponse, "the watchtowers (--tower) and their count of appointments";
    "listclosedchannels", ListclosedchannelsRequest, ListclosedchannelsResponse, "channels whose every output is resolved on chain";
    "bumpfee", BumpfeeRequest, BumpfeeResponse, "raise the feerate of a closing channel's pending claims";
    "dev-broadcast-revoked", DevBroadcastRevokedRequest, DevBroadcastRevokedResponse, "--dev only: broadcast an old revoked commitment of ours (to test a breach)";
    "stop", StopRequest, StopResponse, "shut the node down";
}

/// The method of this name.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// A JSON-RPC error: Core Lightning's codes where it has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RpcError {
    /// `-32601` unknown method, `-32602` bad params, `-1` failure, and method-specific codes.
    pub code: i64,
    /// The message: names the field when a field is wrong.
    pub message: String,
}

impl RpcError {
    /// A bad parameter: `field: what is wrong`.
    pub fn param(field: &str, message: impl std::fmt::Display) -> Self {
        RpcError {
            code: -32602,
            message: format!("{field}: {message}"),
        }
    }
    /// A failure.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        RpcError {
            code: -1,
            message: message.to_string(),
        }
    }
}

/// A 32-byte hex field (a preimage, a payment hash), or the error naming it.
pub fn hex32(field: &str, s: &str) -> Result<[u8; 32], RpcError> {
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| RpcError::param(field, "32 bytes of hex are expected"))
}

/// Parse a request's params into its type: unknown fields and wrong types name the field.
pub fn parse<T: serde::de::DeserializeOwned>(params: serde_json::Value) -> Result<T, RpcError> {
    let params = if params.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        params
    };
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let text = e.into_inner().to_string();
        // A wrong value's path names its field; serde names an unknown or a
        // missing one in its message: `unknown field `x``, `missing field `x``.
        let field = if path != "." {
            path
        } else {
            text.split('`')
                .nth(1)
                .map(str::to_string)
                .unwrap_or_else(|| "params".into())
        };
        RpcError::param(&field, text)
    })
}

/// docs/node-rpc.md, generated from the schemas (a test keeps the page in step).
pub fn markdown() -> String {
    let mut out = String::from(
        "# The node's JSON-RPC methods\n\n\
         Generated from the methods' JSON Schemas (`lnkit node schema METHOD` prints them\n\
         whole); `tests/node/node_rpc_doc.rs` fails when this page and the schemas disagree\n\
         (`LNKIT_BLESS=1` rewrites it).\n\n\
         JSON-RPC 2.0 over the Unix socket `DATADIR/lnkit-rpc` (mode 0600), one JSON\n\
         object per line. `lnkit node METHOD --datadir DIR` is the client: fields come\n\
         from JSON on stdin, `--input FILE` and `--set field=value`. Errors carry Core\n\
         Lightning's codes: `-32602` names the bad field (exit 2 in the CLI), `-32601`\n\
         is an unknown method (exit 2), others are failures (exit 1).\n",
    );
    for m in METHODS {
        out.push_str(&format!("\n## `{}`\n\n{}.\n\n", m.name, m.summary));
        for (title, schema) in [("Request", (m.request)()), ("Response", (m.response)())] {
            let v = serde_json::to_value(&schema).expect("a schema is JSON");
            // The same rendering as the toolkit's docs tables and --help.
            let fields = crate::schema::fields(&v);
            if fields.is_empty() {
                out.push_str(&format!("{title}: no fields.\n\n"));
                continue;
            }
            out.push_str(&format!("{title}:\n\n"));
            out.push_str(&crate::schema::markdown_table(&fields, title == "Request"));
            out.push('\n');
        }
    }
    out
}
