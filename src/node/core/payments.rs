//! Paying across the network: the toolkit's router (`route`, `amp-split`)
//! over the live graph, our own channels at their real balances and the
//! invoice's route hints; the library's payment loop (`mpp::session`) and
//! liquidity learner (`mpp::learn`) between attempts. Each part is an HTLC
//! with its onion (BOLT 4); its failure is decoded to the hop that sent it.

use super::*;
use crate::graph::{Graph, Policy};
use crate::invoice::RouteHop as HintHop;
use crate::mpp::learn::HopLiquidity;
use crate::mpp::session::{PaymentSession, PlanError, Strategy};
use crate::mpp::SplitRequest;
use crate::node::store::PartHop;
use crate::onion::failure::{
    self as onion_failure, AttributionData, FailureMessage, FailureValue, NODE, PERM,
};
use crate::onion::payload::HopPayload;
use crate::route::Route;

/// A direction's key in the learner: its short channel id (or alias) and
/// its BOLT 7 direction bit. Stable when the graph is rebuilt.
pub(super) type DirKey = (u64, u8);

/// What is learned fades by half in an hour (LDK's `liquidity_offset_half_life` is 6 hours;
/// we forget faster, since a retry soon after should try again what failed long ago).
pub(super) const LEARNING_HALF_LIFE_SECS: u64 = 3600;

/// Attempts (plans) per payment unless the caller says otherwise.
const DEFAULT_MAX_ATTEMPTS: usize = 10;

/// A single path is tried alone when it succeeds with at least this
/// probability; below, a payee that takes parts gets a split.
const SINGLE_PATH_MIN_PROBABILITY: f64 = 0.5;

/// What a payment pays.
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub(super) payee: PublicKey,
    pub(super) hash: PaymentHash,
    /// `payment_secret` (none for keysend).
    pub(super) secret: Option<[u8; 32]>,
    /// The keysend preimage the payee is told (BOLT 4 TLV 5482373484).
    pub(super) keysend: Option<PaymentPreimage>,
    pub(super) metadata: Option<Vec<u8>>,
    /// `min_final_cltv_expiry_delta`.
    pub(super) final_cltv_delta: u32,
    /// The invoice's route hints (`r`), each a path ending at the payee.
    pub(super) hints: Vec<Vec<HintHop>>,
    /// The payee takes multi-part payments (`basic_mpp`).
    pub(super) mpp: bool,
    pub(super) bolt11: Option<String>,
    /// A rebalance: a payment to ourselves around a cycle.
    pub(super) cycle: Option<rebalance::Cycle>,
}

/// One part in flight: its route, and its hops' keys (its record holds
/// what decoding its failure needs).
#[derive(Clone, Debug)]
pub(super) struct Part {
    route: Route,
    hops: Vec<PartHopKeys>,
}

/// A hop of a part: the node reached, and the direction taken to it.
#[derive(Clone, Debug)]
struct PartHopKeys {
    node: PublicKey,
    key: DirKey,
    capacity_msat: u64,
}

/// A payment under way.
pub(super) struct Outgoing {
    pub(super) target: Target,
    session: PaymentSession,
    parts: HashMap<(ChannelId, u64), Part>,
    /// Directions and nodes this payment no longer tries (BOLT 4: a PERM
    /// channel failure, a NODE failure, a policy we hold out of date).
    excluded: HashSet<DirKey>,
    excluded_nodes: HashSet<PublicKey>,
    /// Each attempt's story, for the error when it all fails.
    tried: Vec<String>,
    /// The payee refused for good (BOLT 4: a PERM failure from the final node).
    final_failure: Option<String>,
    preimage: Option<PaymentPreimage>,
    deadline: Instant,
    pub(super) reply: Option<Reply>,
    created_at: u64,
}

/// How a part ended.
pub(super) enum PartResult {
    /// Paid, with the `update_fulfill_htlc`'s attribution data.
    Settled(PaymentPreimage, Option<AttributionData>),
    /// Failed, with the `update_fail_htlc`'s attribution data.
    Failed(Outcome, Option<AttributionData>),
}

/// The routing graph of one attempt, and how its directions map back.
struct PayGraph {
    graph: Graph,
    /// Our channel behind each of our outgoing directions.
    ours: HashMap<u32, ChannelId>,
    /// Liquidity known exactly (our channels) or excluded.
    exact: HashMap<u32, (u64, u64)>,
    /// Each channel's index, by its short channel id (or alias).
    by_scid: HashMap<u64, usize>,
    source: u32,
    destination: u32,
}

fn dir_key(g: &Graph, d: u32) -> DirKey {
    let c = &g.channels[(d / 2) as usize];
    (c.short_channel_id.unwrap_or(u64::MAX), (d % 2) as u8)
}

impl Core {
    /// Start paying `target` `amount` within `max_fee`: the first attempt's
    /// parts go out now, or the reason none can.
    pub(super) fn start_payment(
        &mut self,
        target: Target,
        amount: Msat,
        max_fee: Msat,
        retry_for: Duration,
        max_attempts: Option<usize>,
    ) -> Result<(), RpcError> {
        if target.payee == self.node_id && target.cycle.is_none() {
            let field = if target.bolt11.is_some() {
                "bolt11"
            } else {
                "destination"
            };
            return Err(RpcError::param(field, "the payee is this node"));
        }
        let mut req = SplitRequest::new(0, 0, amount.0);
        req.max_fee_msat = max_fee.0;
        req.final_cltv_expiry_delta = target.final_cltv_delta + pay::FINAL_CLTV_MARGIN;
        // BOLT 4 forwarding nodes refuse more than two weeks (our `expiry_too_far`).
        req.max_total_cltv_expiry_delta = crate::node::forward::EXPIRY_TOO_FAR_BLOCKS;
        let strategy = Strategy::SinglePathFirst {
            min_probability: SINGLE_PATH_MIN_PROBABILITY,
            mpp: target.mpp,
        };
        let hash = target.hash;
        self.outgoing.insert(
            hash,
            Outgoing {
                target,
                session: PaymentSession::new(
                    req,
                    strategy,
                    max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
                ),
                parts: HashMap::new(),
                excluded: HashSet::new(),
                excluded_nodes: HashSet::new(),
                tried: vec![],
                final_failure: None,
                preimage: None,
                deadline: Instant::now() + retry_for,
                reply: None,
                created_at: now_secs(),
            },
        );
        if let Err(e) = self.attempt(hash) {
            self.outgoing.remove(&hash);
            return Err(e);
        }
        Ok(())
    }

    /// Plan and send parts for what is left of a payment.
    fn attempt(&mut self, hash: PaymentHash) -> Result<(), RpcError> {
        let pg = self.pay_graph(hash);
        let now = now_secs();
        let mut liquidity = self.knowledge.liquidity(now, |k| pg_direction(&pg, k));
        liquidity.extend(pg.exact.iter().map(|(d, b)| (*d, *b)));
        let p = self.outgoing.get_mut(&hash).expect("a payment under way");
        p.session.request.source = pg.source;
        p.session.request.destination = pg.destination;
        let parts = match p.session.plan(&pg.graph, liquidity) {
            Ok(parts) => parts,
            Err(e) => return Err(self.no_plan(hash, e)),
        };
        let attempt = p.session.attempts as u32;
        let count = parts.len();
        let mut sent = 0;
        for route in parts {
            let first = route.hops.first().map(|h| dir_key(&pg.graph, h.direction));
            match self.send_part(hash, &pg, route.clone(), attempt) {
                Ok(()) => sent += 1,
                Err(why) => {
                    // Never sent: not in flight, and that first channel is not tried again.
                    let p = self.outgoing.get_mut(&hash).expect("under way");
                    p.session.part_failed(&route);
                    p.excluded.extend(first);
                    p.tried.push(format!("attempt {attempt}: {why}"));
                }
            }
        }
        info!(payment_hash = %hash, attempt, parts = count, sent, "payment attempt");
        if sent == 0 {
            // Nothing went out: plan again at once (bounded by the attempts).
            return self.attempt(hash);
        }
        Ok(())
    }

    /// Why no parts could be planned, as the caller's error.
    fn no_plan(&mut self, hash: PaymentHash, e: PlanError) -> RpcError {
        let p = &self.outgoing[&hash];
        let tried = if p.tried.is_empty() {
            String::new()
        } else {
            format!("; tried: {}", p.tried.join("; "))
        };
        let what = match &e {
            PlanError::FeeBudget {
                cheapest_fee_msat,
                budget_msat,
            } if p.target.cycle.is_some() => {
                let why = p.target.cycle.as_ref().map_or("", |c| c.limit_why.as_str());
                return RpcError {
                    code: 206,
                    message: format!(
                        "rebalance: the cheapest cycle costs {cheapest_fee_msat} msat in fees, above the limit of {budget_msat} msat ({why}){tried}"
                    ),
                };
            }
            PlanError::FeeBudget {
                cheapest_fee_msat,
                budget_msat,
            } => {
                return RpcError {
                    code: 206,
                    message: format!(
                        "pay: the cheapest route to {} pays {cheapest_fee_msat} msat in fees, above the fee budget of {budget_msat} msat left (raise maxfee_msat or maxfeepercent){tried}",
                        p.target.payee
                    ),
                }
            }
            PlanError::Unreachable(why) => format!(
                "no route to {} for {} msat: {why}",
                p.target.payee,
                p.session.remaining_msat()
            ),
            e => format!("{e}"),
        };
        RpcError {
            code: 205,
            message: format!("pay: {what}{tried}"),
        }
    }

    /// The graph one attempt routes over: the gossip's, our channels at
    /// their balances (the private ones added), and the route hints.
    fn pay_graph(&mut self, hash: PaymentHash) -> PayGraph {
        let p = &self.outgoing[&hash];
        // Fast path: a peer one of our channels can pay whole needs no
        // network (and no copy of a graph of tens of thousands of channels).
        // The first attempt only: after a failure another path may do.
        let remaining = p.session.remaining_msat();
        let direct = p.session.attempts == 0
            && p.target.cycle.is_none()
            && self.channels.values().any(|c| {
                c.peer == p.target.payee
                    && c.phase == Phase::Normal
                    && c.is_usable()
                    && c.shutdown.ours.is_none()
                    && c.spendable().0 >= remaining
            });
        let mut g = if direct {
            crate::graph::Graph::default()
        } else {
            self.gossip.graph().clone()
        };
        let me = self.node_id.serialize();
        let mut by_scid: HashMap<u64, usize> = g
            .channels
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.short_channel_id?, i)))
            .collect();
        let mut ours = HashMap::new();
        let mut exact = HashMap::new();
        let source = g.node_or_add(me);
        for c in self.channels.values() {
            let Some(theirs) = &c.theirs else { continue };
            if c.phase != Phase::Normal {
                continue;
            }
            let spendable = if c.is_usable() && c.shutdown.ours.is_none() {
                c.spendable().0
            } else {
                0
            };
            let announced = c.scid.and_then(|s| by_scid.get(&s).copied());
            let d = match announced {
                Some(i) => {
                    let d = 2 * i as u32 + u32::from(me > c.peer.serialize());
                    // Our side of it, as we know it: enabled whenever the peer is here.
                    let pol = &mut g.policies[d as usize];
                    pol.enabled = true;
                    pol.present = true;
                    pol.htlc_minimum_msat = theirs.htlc_minimum.0;
                    pol.htlc_maximum_msat = u64::MAX;
                    d
                }
                None => {
                    let scid = c.scid.or(c.our_alias).unwrap_or(u64::MAX);
                    let d = g.push_channel(
                        me,
                        c.peer.serialize(),
                        Some(scid),
                        c.funding_amount.to_sat(),
                        Policy {
                            htlc_minimum_msat: theirs.htlc_minimum.0,
                            htlc_maximum_msat: u64::MAX,
                            present: true,
                            enabled: true,
                            ..Default::default()
                        },
                    );
                    by_scid.insert(scid, (d / 2) as usize);
                    d
                }
            };
            ours.insert(d, c.id);
            exact.insert(d, (spendable, spendable));
        }
        for hint in &p.target.hints {
            for (i, h) in hint.iter().enumerate() {
                if by_scid.contains_key(&h.short_channel_id) {
                    continue;
                }
                let to = hint.get(i + 1).map_or(p.target.payee, |n| n.pubkey);
                let d = g.push_channel(
                    h.pubkey.serialize(),
                    to.serialize(),
                    Some(h.short_channel_id),
                    0,
                    Policy {
                        fee_base_msat: h.fee_base_msat,
                        fee_proportional_millionths: h.fee_proportional_millionths,
                        cltv_expiry_delta: h.cltv_expiry_delta,
                        htlc_minimum_msat: 0,
                        htlc_maximum_msat: u64::MAX,
                        present: true,
                        enabled: true,
                    },
                );
                by_scid.insert(h.short_channel_id, (d / 2) as usize);
            }
        }
        let mut destination = g.node_or_add(p.target.payee.serialize());
        g.index();
        if let Some(cycle) = &p.target.cycle {
            let back;
            (g, back) = self.cycle_graph(g, source, cycle, &by_scid, &mut exact);
            destination = back;
        }
        // Excluded for this payment: nothing passes.
        for (scid, dir) in &p.excluded {
            if let Some(i) = by_scid.get(scid) {
                exact.insert(2 * *i as u32 + u32::from(*dir), (0, 0));
            }
        }
        for n in &p.excluded_nodes {
            if let Some(v) = g.node(&n.serialize()) {
                for &d in g.out(v) {
                    exact.insert(d, (0, 0));
                }
            }
        }
        PayGraph {
            graph: g,
            ours,
            exact,
            by_scid,
            source,
            destination,
        }
    }

    /// Send one part: its onion, its HTLC on our channel, its record.
    fn send_part(
        &mut self,
        hash: PaymentHash,
        pg: &PayGraph,
        route: Route,
        attempt: u32,
    ) -> Result<(), String> {
        let g = &pg.graph;
        let height = self.height();
        let first = route.hops.first().ok_or("an empty route")?;
        let channel = *pg
            .ours
            .get(&first.direction)
            .ok_or("the route does not start on a channel of ours")?;
        let p = &self.outgoing[&hash];
        let t = &p.target;
        let total = Msat(p.session.request.amount_msat);
        let hop_keys: Vec<PartHopKeys> = route
            .hops
            .iter()
            .map(|h| PartHopKeys {
                node: PublicKey::from_slice(&g.pubkeys[h.node as usize]).expect("graph keys"),
                key: dir_key(g, h.direction),
                capacity_msat: g.channels[(h.direction / 2) as usize]
                    .capacity_sat
                    .saturating_mul(1000),
            })
            .collect();
        let payloads: Vec<(PublicKey, Vec<u8>)> = route
            .payloads()
            .iter()
            .zip(&hop_keys)
            .map(|(pl, hk)| {
                let last = pl.next_direction.is_none();
                let payload = HopPayload {
                    amt_to_forward: Msat(pl.amt_to_forward_msat),
                    outgoing_cltv: CltvExpiry(height + pl.outgoing_cltv_delta),
                    short_channel_id: pl.next_direction.map(|d| dir_key(g, d).0),
                    payment_data: t.secret.filter(|_| last).map(|s| (s, total)),
                    payment_metadata: t.metadata.clone().filter(|_| last),
                    keysend_preimage: t.keysend.filter(|_| last).map(|p| p.0),
                };
                (hk.node, payload.encode())
            })
            .collect();
        let session = SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng());
        let onion = crate::onion::packet::create_onion(&self.secp, &session, &payloads, &hash.0)
            .map_err(|e| format!("the onion: {e}"))?;
        let shared_secrets: Vec<[u8; 32]> = onion.hops.iter().map(|h| h.shared_secret).collect();
        let cltv = CltvExpiry(height + first.cltv_delta);
        let amount = Msat(first.amount_msat);
        let ch = self.channels.get_mut(&channel).expect("ours");
        let (htlc, actions) = ch
            .add_htlc(amount, hash, cltv, onion.packet.serialize())
            .map_err(|e| format!("our channel {channel} refused the part: {e}"))?;
        let rec = PaymentRecord {
            payment_hash: hash.to_string(),
            bolt11: t.bolt11.clone(),
            destination: t.payee.to_string(),
            amount_msat: route.hops.last().map_or(0, |h| h.amount_msat),
            amount_sent_msat: amount.0,
            status: "pending".into(),
            channel_id: channel.to_string(),
            htlc_id: htlc,
            session_key: hex::encode(shared_secrets[0]),
            created_at: now_secs(),
            total_msat: total.0,
            attempt,
            route: route
                .hops
                .iter()
                .zip(&hop_keys)
                .map(|(h, k)| PartHop {
                    id: k.node.to_string(),
                    channel: scid_string(k.key.0),
                    direction: k.key.1,
                    amount_msat: h.amount_msat,
                    cltv_expiry: height + h.cltv_delta,
                })
                .collect(),
            shared_secrets: shared_secrets.iter().map(hex::encode).collect(),
            ..Default::default()
        };
        info!(payment_hash = %hash, channel = %channel, htlc, hops = route.hops.len(), amount_msat = rec.amount_msat, fee_msat = route.total_fee_msat, "sending a part");
        // The record lands in the same transaction as the channel that carries its HTLC.
        self.staged_payments.push(rec);
        self.parts.insert((channel, htlc), hash);
        let p = self.outgoing.get_mut(&hash).expect("under way");
        p.parts.insert(
            (channel, htlc),
            Part {
                route,
                hops: hop_keys,
            },
        );
        let mut queue = VecDeque::new();
        self.execute(channel, actions, &mut queue);
        for (id, ev) in queue {
            let _ = self.drive(id, ev);
        }
        Ok(())
    }

    /// Our shared secrets with the hops of a part, in route order.
    fn part_secrets(rec: &PaymentRecord) -> Vec<[u8; 32]> {
        let mut secrets: Vec<[u8; 32]> = rec
            .shared_secrets
            .iter()
            .filter_map(|s| rpc::hex32("shared_secret", s).ok())
            .collect();
        if secrets.is_empty() {
            secrets.extend(rpc::hex32("session_key", &rec.session_key).ok());
        }
        secrets
    }

    /// What a part's failure says: the hop that sent it, its message, and
    /// the hold times of the hops whose attribution verified.
    pub(super) fn decode_part_failure(
        rec: &PaymentRecord,
        reason: &[u8],
        attribution: Option<&AttributionData>,
    ) -> Result<(usize, FailureMessage, Vec<u32>), String> {
        let secrets = Self::part_secrets(rec);
        let d = onion_failure::decode_failure(&secrets, reason, attribution)
            .map_err(|e| format!("a failure onion that does not decode: {e}"))?;
        let m = FailureMessage::decode(&d.failure_message).map_err(|e| {
            format!(
                "an unreadable failure message from hop {}: {e}",
                d.failing_hop
            )
        })?;
        Ok((d.failing_hop, m, d.hold_times))
    }

    /// Record a part's end in `rec` (its status, and a failure's decoded origin).
    pub(super) fn close_part_record(rec: &mut PaymentRecord, result: &PartResult) {
        rec.completed_at = Some(now_secs());
        match result {
            PartResult::Settled(preimage, attribution) => {
                rec.status = "complete".into();
                rec.preimage = Some(hex::encode(preimage.0));
                if let Some(a) = attribution {
                    let read = onion_failure::decode_success(&Self::part_secrets(rec), a);
                    rec.hold_times_ms = hold_times_ms(&read.hold_times);
                }
            }
            PartResult::Failed(outcome, attribution) => {
                rec.status = "failed".into();
                let why = match outcome {
                    Outcome::Failed(reason) if reason.is_empty() => {
                        "the HTLC was dropped before it was committed".to_string()
                    }
                    Outcome::Failed(reason) => {
                        match Self::decode_part_failure(rec, reason, attribution.as_ref()) {
                            Ok((i, m, holds)) => {
                                rec.hold_times_ms = hold_times_ms(&holds);
                                let name = m
                                    .name()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| format!("failure code {:#06x}", m.code));
                                let node = rec.route.get(i).map(|h| h.id.clone());
                                let next = rec.route.get(i + 1).map(|h| h.channel.clone());
                                rec.failcode = Some(name.clone());
                                rec.erring_node = node.clone();
                                rec.erring_channel = next.clone();
                                let from = if i + 1 == rec.route.len() || rec.route.is_empty() {
                                    "the payee".to_string()
                                } else {
                                    format!(
                                        "hop {} ({}) on channel {}",
                                        i + 1,
                                        node.unwrap_or_default(),
                                        next.unwrap_or_default()
                                    )
                                };
                                format!("{name} from {from}{}", fields_text(&m))
                            }
                            Err(e) => e,
                        }
                    }
                    Outcome::Malformed { failure_code, .. } => {
                        rec.failcode = onion_failure::FailureCode::by_code(*failure_code)
                            .map(|c| c.name.to_string());
                        rec.erring_node = rec.route.first().map(|h| h.id.clone());
                        format!(
                            "our peer could not read the onion (failure code {failure_code:#06x})"
                        )
                    }
                    Outcome::FailedOnChain => {
                        "the channel closed on chain and the HTLC timed out there".to_string()
                    }
                    Outcome::Fulfilled(_) => unreachable!("a fulfilled part is settled"),
                };
                rec.failure = Some(why);
            }
        }
    }

    /// A part of a payment under way ended: learn from it, then answer or
    /// try again (after the step that told us, from `after_step`).
    pub(super) fn part_ended(
        &mut self,
        key: (ChannelId, u64),
        rec: &PaymentRecord,
        result: PartResult,
    ) {
        let Some(hash) = self.parts.remove(&key) else {
            return;
        };
        let now = now_secs();
        let Some(p) = self.outgoing.get_mut(&hash) else {
            return;
        };
        let Some(part) = p.parts.remove(&key) else {
            return;
        };
        let hops: Vec<HopLiquidity<DirKey>> = part
            .route
            .hops
            .iter()
            .zip(&part.hops)
            .map(|(h, k)| HopLiquidity {
                key: k.key,
                amount_msat: h.amount_msat,
                capacity_msat: k.capacity_msat,
            })
            .collect();
        match result {
            PartResult::Settled(preimage, _) => {
                p.session.part_settled(&part.route);
                p.preimage = Some(preimage);
                self.knowledge.learn_success(&hops, now);
            }
            PartResult::Failed(outcome, attribution) => {
                p.session.part_failed(&part.route);
                p.tried.push(format!(
                    "attempt {} via {}: {}",
                    rec.attempt,
                    route_text(&part),
                    rec.failure.clone().unwrap_or_default()
                ));
                if let Outcome::Failed(reason) = &outcome {
                    if let Ok((i, m, _)) =
                        Self::decode_part_failure(rec, reason, attribution.as_ref())
                    {
                        learn_from_failure(&mut self.knowledge, p, &part, &hops, i, &m, now);
                    }
                } else if let Outcome::Malformed { .. } = outcome {
                    // Our peer could not read what we sent: not through it again.
                    if let Some(k) = part.hops.first() {
                        p.excluded_nodes.insert(k.node);
                    }
                }
            }
        }
        self.payments_due.push(hash);
    }

    /// After a step: payments whose parts ended are answered, or planned again.
    pub(super) fn run_payments(&mut self) {
        let due: Vec<PaymentHash> = std::mem::take(&mut self.payments_due);
        for hash in due {
            let Some(p) = self.outgoing.get(&hash) else {
                continue;
            };
            if let Some(preimage) = p.preimage {
                if p.session.is_idle() || p.session.is_complete() {
                    self.finish_payment(hash, Ok(preimage));
                }
                continue;
            }
            if let Some(why) = p.final_failure.clone() {
                if p.session.is_idle() {
                    self.finish_payment(hash, Err(format!("{why}; tried: {}", p.tried.join("; "))));
                }
                continue;
            }
            if p.session.remaining_msat() == 0 {
                continue;
            }
            if Instant::now() >= p.deadline {
                if p.session.is_idle() {
                    let why = format!("out of time (retry_for); tried: {}", p.tried.join("; "));
                    self.finish_payment(hash, Err(why));
                }
                continue;
            }
            if let Err(e) = self.attempt(hash) {
                let why = e.message.trim_start_matches("pay: ").to_string();
                let p = self.outgoing.get_mut(&hash).expect("under way");
                if p.session.is_idle() {
                    self.finish_payment(hash, Err(why));
                } else {
                    // Parts are still out: the payment ends with them.
                    p.final_failure = Some(why);
                }
            }
        }
    }

    /// Answer the `pay` call and forget the session (the records stay).
    fn finish_payment(&mut self, hash: PaymentHash, result: Result<PaymentPreimage, String>) {
        let Some(p) = self.outgoing.remove(&hash) else {
            return;
        };
        let parts = p.session.parts_tried - p.session.parts_failed;
        match &result {
            Ok(_) => {
                info!(payment_hash = %hash, parts, fee_msat = p.session.fee_paid_msat, "payment complete")
            }
            Err(why) => info!(payment_hash = %hash, "payment failed: {why}"),
        }
        let Some(reply) = p.reply else { return };
        let answer = match (result, &p.target.cycle) {
            (Ok(_), Some(cycle)) => to_value(self.rebalanced(
                hash,
                p.session.delivered_msat,
                p.session.fee_paid_msat,
                cycle,
            )),
            (Err(why), Some(_)) => Err(RpcError {
                code: 204,
                message: format!("rebalance: failed: {why}"),
            }),
            (Ok(preimage), None) => to_value(rpc::PayResponse {
                payment_preimage: hex::encode(preimage.0),
                payment_hash: hash.to_string(),
                destination: p.target.payee.to_string(),
                amount_msat: p.session.delivered_msat,
                amount_sent_msat: p.session.delivered_msat + p.session.fee_paid_msat,
                created_at: p.created_at,
                parts: parts as u32,
                status: "complete".into(),
            }),
            (Err(why), None) => Err(RpcError {
                code: 204,
                message: format!("pay: failed: {why}"),
            }),
        };
        self.answer(reply, answer);
    }
}

/// BOLT 4 "Receiving Failure Codes": what a failure from hop `i` teaches.
fn learn_from_failure(
    knowledge: &mut crate::mpp::learn::Knowledge<DirKey>,
    p: &mut Outgoing,
    part: &Part,
    hops: &[HopLiquidity<DirKey>],
    i: usize,
    m: &FailureMessage,
    now: u64,
) {
    let last = part.hops.len().saturating_sub(1);
    if i >= last {
        // The payee: every hop carried it. A PERM failure ends the payment;
        // others (mpp_timeout) may be retried.
        for h in hops {
            knowledge.carried(h.key, h.amount_msat, h.capacity_msat, now);
        }
        if m.code & PERM != 0 {
            p.final_failure = Some(format!(
                "the payee refused it: {}{}",
                m.name().unwrap_or("an unknown failure"),
                fields_text(m)
            ));
        }
        return;
    }
    let failing = i + 1;
    let erring = part.hops[i].node;
    let next = part.hops[failing].key;
    if m.code & NODE != 0 {
        p.excluded_nodes.insert(erring);
        return;
    }
    match m.name() {
        Some("temporary_channel_failure") => knowledge.learn_failure(hops, failing, now),
        _ if m.code & PERM != 0 => {
            p.excluded.insert(next);
        }
        // amount_below_minimum, fee_insufficient, incorrect_cltv_expiry,
        // expiry_too_soon, channel_disabled: our copy of its policy is out of
        // date; we never apply a failure's channel_update (BOLT 4), so this
        // payment goes around it.
        _ => {
            for h in &hops[..failing] {
                knowledge.carried(h.key, h.amount_msat, h.capacity_msat, now);
            }
            p.excluded.insert(next);
        }
    }
}

/// bLIP 3: a node that takes keysend sets feature 54 or 55.
pub(super) fn supports_keysend(features: &[u8]) -> bool {
    crate::wire::features::bits(features)
        .iter()
        .any(|b| *b == 54 || *b == 55)
}

fn pg_direction(pg: &PayGraph, k: DirKey) -> Option<(u32, u64)> {
    let g = &pg.graph;
    let i = *pg.by_scid.get(&k.0)?;
    Some((
        2 * i as u32 + u32::from(k.1),
        g.channels[i].capacity_sat.saturating_mul(1000),
    ))
}

fn route_text(part: &Part) -> String {
    part.hops
        .iter()
        .map(|h| scid_string(h.key.0))
        .collect::<Vec<_>>()
        .join(" > ")
}

/// ` (htlc_msat=…, …)` for a failure's fields (its `channel_update` left out).
fn fields_text(m: &FailureMessage) -> String {
    let fields: Vec<String> = m
        .fields
        .iter()
        .filter(|(n, _)| *n != "channel_update")
        .map(|(n, v)| match v {
            FailureValue::Uint(u) => format!("{n}={u}"),
            FailureValue::Bytes(b) => format!("{n}={}", hex::encode(b)),
        })
        .collect();
    if fields.is_empty() {
        String::new()
    } else {
        format!(" ({})", fields.join(", "))
    }
}

impl Core {
    /// A part's record closed with its result, and the payment told.
    pub(super) fn end_part(
        &mut self,
        channel: ChannelId,
        htlc: u64,
        mut rec: PaymentRecord,
        result: PartResult,
    ) -> PaymentRecord {
        Self::close_part_record(&mut rec, &result);
        self.part_ended((channel, htlc), &rec, result);
        rec
    }

    /// The fee budget of a payment of `amount`: `maxfee_msat`, else
    /// `maxfeepercent` of it (0.5%) but never below `exemptfee_msat`
    /// (5,000 msat), Core Lightning's rule.
    fn fee_budget(
        amount: Msat,
        maxfee: Option<u64>,
        percent: Option<f64>,
        exempt: Option<u64>,
    ) -> Result<Msat, RpcError> {
        if let Some(m) = maxfee {
            return Ok(Msat(m));
        }
        let pct = percent.unwrap_or(0.5);
        if !(0.0..=100.0).contains(&pct) {
            return Err(RpcError::param(
                "maxfeepercent",
                format!("{pct}: expected a percentage from 0 to 100"),
            ));
        }
        let share = (amount.0 as f64 * pct / 100.0) as u64;
        Ok(Msat(share.max(exempt.unwrap_or(5_000))))
    }

    /// An error naming our outbound capacity when `amount` is above it.
    fn within_capacity(&self, amount: Msat, mpp: bool) -> Result<(), RpcError> {
        let capacity = self.outbound_capacity(mpp);
        if amount > capacity {
            return Err(RpcError::param(
                "amount_msat",
                format!(
                    "{} msat is above the outbound capacity of {} msat",
                    amount.0, capacity.0
                ),
            ));
        }
        Ok(())
    }

    /// What we can send at most in one payment: one channel's room, or all
    /// of them when the payee takes parts.
    fn outbound_capacity(&self, mpp: bool) -> Msat {
        let rooms = self
            .channels
            .values()
            .filter(|c| c.is_usable())
            .map(|c| c.spendable());
        if mpp {
            rooms.sum()
        } else {
            rooms.max().unwrap_or_default()
        }
    }

    pub(super) fn pay(&mut self, r: rpc::PayRequest) -> Result<(PaymentHash, Duration), RpcError> {
        let decoded = crate::invoice::decode(&self.secp, r.bolt11.trim())
            .map_err(|e| RpcError::param("bolt11", e))?;
        let inv = &decoded.invoice;
        let net = crate::invoice::network(&inv.currency);
        let ours_is_testnet = matches!(self.opts.network, Network::Testnet | Network::Testnet4);
        if net != self.opts.network && !(ours_is_testnet && net == Network::Testnet) {
            return Err(RpcError::param(
                "bolt11",
                format!(
                    "an invoice for {}, but this node is on {}",
                    network_name(net),
                    network_name(self.opts.network)
                ),
            ));
        }
        let now = now_secs();
        if now > inv.expires_at() {
            return Err(RpcError::param(
                "bolt11",
                format!("the invoice expired {} s ago", now - inv.expires_at()),
            ));
        }
        let amount = match (inv.amount_msat, r.amount_msat) {
            (Some(a), None) => Msat(a),
            (Some(_), Some(_)) => {
                return Err(RpcError::param(
                    "amount_msat",
                    "the invoice has an amount; do not give one",
                ))
            }
            (None, Some(0)) => return Err(RpcError::param("amount_msat", "must be above zero")),
            (None, Some(a)) => Msat(a),
            (None, None) => {
                return Err(RpcError::param(
                    "amount_msat",
                    "the invoice has no amount: give one",
                ))
            }
        };
        let hash = PaymentHash(
            inv.payment_hash()
                .ok_or_else(|| RpcError::param("bolt11", "no payment hash"))?,
        );
        let mut secret = None;
        let mut metadata = None;
        let mut hints = vec![];
        let mut mpp = false;
        for f in &inv.fields {
            match f {
                crate::invoice::Field::PaymentSecret(s) => secret = Some(*s),
                crate::invoice::Field::Metadata(m) => metadata = Some(m.clone()),
                crate::invoice::Field::RouteHint(h) => hints.push(h.clone()),
                crate::invoice::Field::Features(bits) => {
                    mpp = bits.contains(&16) || bits.contains(&17)
                }
                _ => {}
            }
        }
        let secret =
            secret.ok_or_else(|| RpcError::param("bolt11", "the invoice has no payment_secret"))?;
        // The invoice's number is a payee's: it may be anything a u64 holds
        // (issue 35: cast to u32 and a margin added, it wrapped). Past the
        // whole route's CLTV budget, no route can meet it.
        let budget = crate::node::forward::EXPIRY_TOO_FAR_BLOCKS;
        let final_cltv_delta = u32::try_from(inv.min_final_cltv_expiry_delta())
            .ok()
            .filter(|d| d.saturating_add(pay::FINAL_CLTV_MARGIN) <= budget)
            .ok_or_else(|| {
                RpcError::param(
                    "bolt11",
                    format!(
                        "min_final_cltv_expiry_delta {} is more than the {budget} blocks a payment may be locked for",
                        inv.min_final_cltv_expiry_delta()
                    ),
                )
            })?;
        self.refuse_paid(&hash, "bolt11", "this invoice")?;
        self.within_capacity(amount, mpp)?;
        let max_fee = Self::fee_budget(amount, r.maxfee_msat, r.maxfeepercent, r.exemptfee_msat)?;
        let target = Target {
            payee: decoded.payee,
            hash,
            secret: Some(secret),
            keysend: None,
            metadata,
            final_cltv_delta,
            hints,
            mpp,
            bolt11: Some(r.bolt11.trim().to_string()),
            cycle: None,
        };
        info!(payee = %target.payee, amount_msat = amount.0, max_fee_msat = max_fee.0, "paying");
        let wait = Duration::from_secs(r.retry_for.unwrap_or(60));
        self.start_payment(target, amount, max_fee, wait, r.max_attempts)?;
        Ok((hash, wait))
    }

    /// An error when this hash is paid, or being paid.
    fn refuse_paid(&self, hash: &PaymentHash, field: &str, what: &str) -> Result<(), RpcError> {
        let records = self
            .store
            .payments_of(&hash.to_string())
            .map_err(RpcError::failed)?;
        let status = if records.iter().any(|p| p.status == "complete") {
            Some("already paid")
        } else if self.outgoing.contains_key(hash) || records.iter().any(|p| p.status == "pending")
        {
            Some("being paid")
        } else {
            None
        };
        match status {
            Some(s) => Err(RpcError {
                code: 200,
                message: format!("{field}: {what} is {s} (see listpays)"),
            }),
            None => Ok(()),
        }
    }

    /// `keysend`: a payment without an invoice, its preimage in the onion (bLIP 3).
    pub(super) fn keysend(
        &mut self,
        r: rpc::KeysendRequest,
    ) -> Result<(PaymentHash, Duration), RpcError> {
        let payee = Self::peer_id("destination", &r.destination)?;
        if r.amount_msat == 0 {
            return Err(RpcError::param("amount_msat", "must be above zero"));
        }
        // Its `init` (LDK sets keysend in its node features only) and its `node_announcement`.
        let features: Vec<Vec<u8>> = [
            self.peers.get(&payee).and_then(|p| p.init.clone()),
            self.gossip
                .nodes
                .get(&payee)
                .and_then(|n| gossip::node_field(n.raw.as_deref(), "features")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if features.is_empty() {
            return Err(RpcError::param(
                "destination",
                format!("{payee} is unknown: not a peer, and no node_announcement of it"),
            ));
        }
        if !features.iter().any(|f| supports_keysend(f)) {
            return Err(RpcError::param(
                "destination",
                format!("{payee} does not support keysend (feature 55 is not in its features)"),
            ));
        }
        let amount = Msat(r.amount_msat);
        self.within_capacity(amount, false)?;
        let preimage = PaymentPreimage(random32());
        let hash = preimage.payment_hash();
        let max_fee = Self::fee_budget(amount, r.maxfee_msat, r.maxfeepercent, r.exemptfee_msat)?;
        let target = Target {
            payee,
            hash,
            secret: None,
            keysend: Some(preimage),
            metadata: None,
            final_cltv_delta: pay::KEYSEND_FINAL_CLTV_DELTA,
            hints: vec![],
            mpp: false,
            bolt11: None,
            cycle: None,
        };
        info!(%payee, amount_msat = amount.0, "keysend");
        let wait = Duration::from_secs(r.retry_for.unwrap_or(60));
        self.start_payment(target, amount, max_fee, wait, r.max_attempts)?;
        Ok((hash, wait))
    }

    /// `listpays`: one entry per payment hash, with every part of every attempt.
    pub(super) fn listpays(&self, r: rpc::ListpaysRequest) -> Result<Value, RpcError> {
        if let Some(s) = &r.status {
            if !["pending", "complete", "failed"].contains(&s.as_str()) {
                return Err(RpcError::param(
                    "status",
                    format!("`{s}`: expected pending, complete or failed"),
                ));
            }
        }
        let mut order: Vec<String> = vec![];
        let mut by_hash: HashMap<String, Vec<PaymentRecord>> = HashMap::new();
        for p in self.store.payments().map_err(RpcError::failed)? {
            if !by_hash.contains_key(&p.payment_hash) {
                order.push(p.payment_hash.clone());
            }
            by_hash.entry(p.payment_hash.clone()).or_default().push(p);
        }
        let pays = order
            .into_iter()
            .map(|h| {
                let parts = by_hash.remove(&h).expect("grouped");
                let under_way = rpc::hex32("payment_hash", &h)
                    .is_ok_and(|b| self.outgoing.contains_key(&PaymentHash(b)));
                pay_info(h, parts, under_way)
            })
            .filter(|p| r.payment_hash.as_ref().is_none_or(|h| *h == p.payment_hash))
            .filter(|p| {
                r.bolt11
                    .as_ref()
                    .is_none_or(|b| Some(b) == p.bolt11.as_ref())
            })
            .filter(|p| r.status.as_ref().is_none_or(|s| *s == p.status))
            .collect();
        to_value(rpc::ListpaysResponse { pays })
    }
}

/// A payment's entry from its parts' records: complete once any part is
/// (the preimage is ours), pending while a part is out or the loop runs,
/// else failed with the last failure.
fn pay_info(hash: String, parts: Vec<PaymentRecord>, under_way: bool) -> rpc::PayInfo {
    let complete: Vec<&PaymentRecord> = parts.iter().filter(|p| p.status == "complete").collect();
    let status = if !complete.is_empty() {
        "complete"
    } else if under_way || parts.iter().any(|p| p.status == "pending") {
        "pending"
    } else {
        "failed"
    };
    let first = &parts[0];
    let asked = if first.total_msat > 0 {
        first.total_msat
    } else {
        first.amount_msat
    };
    rpc::PayInfo {
        payment_hash: hash,
        status: status.into(),
        destination: first.destination.clone(),
        created_at: first.created_at,
        completed_at: parts.iter().filter_map(|p| p.completed_at).max(),
        amount_msat: asked,
        amount_sent_msat: if complete.is_empty() {
            0
        } else {
            complete.iter().map(|p| p.amount_sent_msat).sum()
        },
        preimage: complete.first().and_then(|p| p.preimage.clone()),
        bolt11: first.bolt11.clone(),
        number_of_parts: complete.len().max(1) as u32,
        failure: if status == "failed" {
            parts.iter().rev().find_map(|p| p.failure.clone())
        } else {
            None
        },
        attempts: parts
            .into_iter()
            .map(|p| rpc::PayPart {
                attempt: p.attempt.max(1),
                status: p.status,
                channel_id: p.channel_id,
                htlc_id: p.htlc_id,
                amount_msat: p.amount_msat,
                amount_sent_msat: p.amount_sent_msat,
                route: p.route,
                created_at: p.created_at,
                completed_at: p.completed_at,
                failure: p.failure,
                failcode: p.failcode,
                erring_node: p.erring_node,
                erring_channel: p.erring_channel,
                hold_times_ms: p.hold_times_ms,
            })
            .collect(),
    }
}

/// BOLT 4 hold times (units of 100 ms) in milliseconds.
fn hold_times_ms(units: &[u32]) -> Vec<u64> {
    units.iter().map(|&u| u64::from(u) * 100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keysend_support_is_feature_54_or_55() {
        use crate::wire::features::from_bits;
        assert!(supports_keysend(&from_bits(&[8, 55])));
        assert!(supports_keysend(&from_bits(&[54])));
        assert!(!supports_keysend(&from_bits(&[8, 14, 17, 23])));
        assert!(!supports_keysend(&[]));
    }

    #[test]
    fn the_fee_budget_is_a_share_of_the_amount_but_never_below_the_exemption() {
        let b = |a, m, p, e| Core::fee_budget(Msat(a), m, p, e).map(|m| m.0);
        assert_eq!(b(10_000_000_000, None, None, None).unwrap(), 50_000_000);
        assert_eq!(b(100_000, None, None, None).unwrap(), 5_000);
        assert_eq!(b(100_000, Some(7), None, None).unwrap(), 7);
        assert_eq!(b(1_000_000, None, Some(1.0), Some(0)).unwrap(), 10_000);
        assert!(b(1, None, Some(101.0), None)
            .unwrap_err()
            .message
            .starts_with("maxfeepercent: "));
    }
}
