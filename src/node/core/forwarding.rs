//! Forwarding in the node (BOLT 4): an incoming HTLC whose onion names a
//! next channel goes out on it (or another channel to the same peer) when
//! our policy allows, and its outcome comes back: a preimage is passed
//! upstream at once, a failure wrapped in our layer of the failure onion.
//!
//! Each forward is stored with the outgoing HTLC's channel step (the HTLC
//! does not leave before the forward is durable), and each resolution with
//! the step that learned it, before the incoming HTLC is answered; after a
//! restart the stored forward answers the incoming HTLC again.

use super::*;
use crate::node::forward::{self, Candidate};
use crate::node::store::ForwardRecord;
use crate::onion::failure::{self as onion_failure, AttributionData, FailureMessage, FailureValue};

/// Our shared secret with the sender of a forward's incoming HTLC.
fn forward_secret(f: &ForwardRecord) -> Option<[u8; 32]> {
    rpc::hex32("shared_secret", &f.shared_secret).ok()
}

impl ForwardRecord {
    /// BOLT 4 hold time: units of 100 ms since the HTLC came in (0 for a
    /// forward stored before its arrival was kept in milliseconds).
    fn hold_time(&self) -> u32 {
        if self.received_ms == 0 {
            return 0;
        }
        u32::try_from(now_ms().saturating_sub(self.received_ms) / 100).unwrap_or(u32::MAX)
    }
}

/// A forward waiting for the channel step that asked for it to be stored and sent.
pub(super) struct DueForward {
    pub(super) incoming: ChannelId,
    pub(super) add: channel::UpdateAddHtlc,
    pub(super) onion: pay::Forward,
}

impl Core {
    /// Our channels to the peer behind `scid` (a real short channel id, or
    /// an alias we gave; BOLT 2: "MUST always recognize the alias"). A
    /// channel whose type has `option_scid_alias` answers to its alias
    /// only (BOLT 2: "MUST NOT allow incoming HTLCs to this channel using
    /// the real `short_channel_id`").
    fn forward_candidates(&self, scid: u64) -> Vec<Candidate> {
        let names =
            |c: &Channel| (c.scid == Some(scid) && !c.alias_only) || c.our_alias == Some(scid);
        let Some(peer) = self.channels.values().find(|c| names(c)).map(|c| c.peer) else {
            return vec![];
        };
        let now = now_secs();
        self.channels
            .values()
            .filter(|c| c.peer == peer && c.theirs.is_some())
            .map(|c| {
                let theirs = c.theirs.as_ref().expect("filtered");
                let mut policies = vec![c.gossip.policy];
                if let Some((old, until)) = c.gossip.previous {
                    if now < until {
                        policies.push(old);
                    }
                }
                Candidate {
                    id: c.id,
                    named: names(c),
                    usable: c.is_usable()
                        && c.shutdown.ours.is_none()
                        && c.shutdown.theirs.is_none(),
                    closing: c.phase != Phase::Normal
                        || c.shutdown.ours.is_some()
                        || c.shutdown.theirs.is_some(),
                    spendable: c.spendable(),
                    policies,
                    htlc_limits: c.gossip.policy.htlc_limits(
                        Msat(c.funding_amount.to_sat() * 1000),
                        theirs.htlc_minimum,
                        theirs.max_htlc_value_in_flight,
                    ),
                }
            })
            .collect()
    }

    /// Forward what the last channel step decided to forward, now that
    /// the step is stored and sent. Events for the incoming channels (a
    /// refusal) go on `queue`.
    pub(super) fn run_forwards(&mut self, queue: &mut VecDeque<(ChannelId, Event)>) {
        while !self.forwards_due.is_empty() {
            let due = std::mem::take(&mut self.forwards_due);
            for f in due {
                if let Some(ev) = self.forward_one(f, queue) {
                    queue.push_back(ev);
                }
            }
        }
    }

    /// Forward (or refuse) one HTLC: the outgoing step is executed here;
    /// a refusal is returned as the incoming channel's event.
    fn forward_one(
        &mut self,
        f: DueForward,
        queue: &mut VecDeque<(ChannelId, Event)>,
    ) -> Option<(ChannelId, Event)> {
        let DueForward {
            incoming,
            add,
            onion,
        } = f;
        let mut rec = ForwardRecord {
            in_channel: incoming.to_string(),
            in_htlc_id: add.id,
            in_msat: add.amount.0,
            in_cltv: add.cltv_expiry.0,
            out_channel: None,
            out_htlc_id: None,
            out_msat: onion.amt_to_forward.0,
            out_cltv: onion.outgoing_cltv.0,
            requested_scid: onion.short_channel_id,
            payment_hash: add.payment_hash.to_string(),
            shared_secret: hex::encode(onion.shared_secret),
            status: "offered".into(),
            preimage: None,
            fail_onion: None,
            failcode: None,
            failreason: None,
            received_at: now_secs(),
            resolved_at: None,
            received_ms: now_ms(),
            attribution: None,
        };
        let req = forward::Request {
            incoming_amount: add.amount,
            incoming_cltv: add.cltv_expiry,
            amt_to_forward: onion.amt_to_forward,
            outgoing_cltv: onion.outgoing_cltv,
            height: self.height(),
        };
        let refusal = match forward::check(&req, &self.forward_candidates(onion.short_channel_id)) {
            Ok(channels) => {
                let mut last = None;
                for out in channels {
                    let ch = self.channels.get_mut(&out).expect("a candidate");
                    match ch.add_htlc(
                        onion.amt_to_forward,
                        add.payment_hash,
                        onion.outgoing_cltv,
                        onion.next_onion.clone(),
                    ) {
                        Ok((htlc, actions)) => {
                            rec.out_channel = Some(out.to_string());
                            rec.out_htlc_id = Some(htlc);
                            info!(incoming = %incoming, htlc = add.id, outgoing = %out, out_htlc = htlc, amount_msat = onion.amt_to_forward.0, "forwarding");
                            // Stored with the outgoing HTLC, before it leaves.
                            self.staged_forwards.push(rec);
                            self.execute(out, actions, queue);
                            if let Some(ch) = self.channels.get_mut(&incoming) {
                                ch.forwarded(add.id);
                            }
                            return None;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                forward::Refusal {
                    message: forward::temporary_channel_failure(),
                    why: format!(
                        "the next channel refused the HTLC: {}",
                        last.map_or_else(|| "no channel".to_string(), |e| e.to_string())
                    ),
                }
            }
            Err(r) => r,
        };
        info!(incoming = %incoming, htlc = add.id, "not forwarding: {}", refusal.why);
        let mut back = pay::failure_onion(&onion.shared_secret, &refusal.message, 0);
        if add.path_key.is_some() {
            back.attribution = None;
        }
        rec.status = "local_failed".into();
        rec.failcode = refusal.message.name().map(str::to_string);
        rec.failreason = Some(refusal.why);
        rec.fail_onion = Some(hex::encode(&back.reason));
        rec.attribution = back.attribution.clone();
        rec.resolved_at = Some(now_secs());
        // Stored with the incoming channel's fail.
        self.staged_forwards.push(rec);
        Some((incoming, back.event(add.id)))
    }

    /// The forward an outgoing HTLC carries: as staged in this step, else as stored.
    pub(super) fn forward_of(
        &self,
        channel: ChannelId,
        htlc: u64,
        staged: &[ForwardRecord],
    ) -> Option<ForwardRecord> {
        let cid = channel.to_string();
        staged
            .iter()
            .rev()
            .find(|f| f.out_channel.as_deref() == Some(&cid) && f.out_htlc_id == Some(htlc))
            .cloned()
            .or_else(|| self.store.forward_by_out(&cid, htlc).ok().flatten())
            .filter(|f| f.status == "offered")
    }

    /// The preimage of an HTLC we forwarded came back: settle the incoming
    /// one (off chain, or on chain when its channel has gone there).
    pub(super) fn forward_settled(
        &mut self,
        mut f: ForwardRecord,
        preimage: PaymentPreimage,
        downstream: Option<&AttributionData>,
        staged: &mut Vec<ForwardRecord>,
        upstream: &mut Vec<(ChannelId, Event)>,
    ) {
        f.status = "settled".into();
        f.preimage = Some(hex::encode(preimage.0));
        f.resolved_at = Some(now_secs());
        // BOLT 4 "Hold times for successful payments": our layer over downstream's.
        f.attribution = forward_secret(&f).map(|ss| {
            Box::new(onion_failure::fulfill_attribution(
                &ss,
                downstream,
                f.hold_time(),
            ))
        });
        if let Some(id) = self.channel_by_hex(&f.in_channel) {
            info!(incoming = %id, htlc = f.in_htlc_id, "forward settled");
            upstream.push((
                id,
                Event::Fulfill {
                    id: f.in_htlc_id,
                    preimage,
                    attribution: f.attribution.clone(),
                },
            ));
        }
        staged.push(f);
    }

    /// An HTLC we forwarded failed downstream: fail the incoming one, the
    /// failure wrapped in our layer (BOLT 4 "Returning Errors").
    pub(super) fn forward_failed(
        &mut self,
        mut f: ForwardRecord,
        outcome: &Outcome,
        downstream: Option<&AttributionData>,
        staged: &mut Vec<ForwardRecord>,
        upstream: &mut Vec<(ChannelId, Event)>,
    ) {
        let ss = rpc::hex32("shared_secret", &f.shared_secret).unwrap_or([0; 32]);
        let hold = f.hold_time();
        let ours = |m: FailureMessage| {
            let name = m.name().map(str::to_string);
            (pay::failure_onion(&ss, &m, hold), name)
        };
        let (back, failcode, why) = match outcome {
            Outcome::Failed(r) if !r.is_empty() => {
                // BOLT 4 "Intermediate nodes": our attribution over what came back, then our layer.
                let mut reason = r.clone();
                let attribution = onion_failure::wrap_failure(&ss, &mut reason, downstream, hold);
                let back = pay::FailBack {
                    reason,
                    attribution: Some(Box::new(attribution)),
                };
                (back, None, "failed downstream".to_string())
            }
            Outcome::Failed(_) => {
                let (r, c) = ours(forward::temporary_channel_failure());
                (
                    r,
                    c,
                    "the outgoing HTLC was dropped before it was committed".into(),
                )
            }
            Outcome::Malformed {
                failure_code,
                sha256_of_onion,
            } => {
                // BOLT 4: the hop before a malformed onion reports it in a failure of its own.
                let (r, c) = ours(FailureMessage {
                    code: *failure_code,
                    fields: vec![(
                        "sha256_of_onion",
                        FailureValue::Bytes(sha256_of_onion.to_vec()),
                    )],
                    tlvs: vec![],
                });
                (r, c, "the next hop could not read the onion".into())
            }
            Outcome::FailedOnChain => {
                let (r, c) = ours(FailureMessage::named("permanent_channel_failure", vec![]));
                (r, c, "the outgoing HTLC timed out on chain".into())
            }
            Outcome::Fulfilled(_) => return,
        };
        f.status = "failed".into();
        f.fail_onion = Some(hex::encode(&back.reason));
        f.attribution = back.attribution.clone();
        f.failcode = failcode;
        f.failreason = Some(why);
        f.resolved_at = Some(now_secs());
        if let Some(id) = self.channel_by_hex(&f.in_channel) {
            info!(incoming = %id, htlc = f.in_htlc_id, "forward failed downstream");
            upstream.push((id, back.event(f.in_htlc_id)));
        }
        staged.push(f);
    }

    /// The incoming channel's answer after a restart, from its stored
    /// forward: `None` when nothing was forwarded (decide afresh),
    /// `Some(None)` while the outgoing HTLC is still out.
    pub(super) fn stored_forward_answer(
        &mut self,
        incoming: ChannelId,
        add: &channel::UpdateAddHtlc,
    ) -> Option<Option<Event>> {
        let f = self
            .store
            .forward_by_in(&incoming.to_string(), add.id)
            .ok()
            .flatten()?;
        let bytes = |h: &Option<String>| h.as_deref().and_then(|h| hex::decode(h).ok());
        Some(match f.status.as_str() {
            "settled" => bytes(&f.preimage)
                .and_then(|p| <[u8; 32]>::try_from(p).ok())
                .map(|p| Event::Fulfill {
                    id: add.id,
                    preimage: PaymentPreimage(p),
                    attribution: f.attribution.clone(),
                }),
            "failed" | "local_failed" => bytes(&f.fail_onion).map(|reason| Event::Fail {
                id: add.id,
                reason,
                attribution: f.attribution.clone(),
            }),
            _ => {
                let out = f
                    .out_channel
                    .as_deref()
                    .and_then(|c| self.channel_by_hex(c));
                let held = out
                    .zip(f.out_htlc_id)
                    .is_some_and(|(c, h)| self.channels[&c].has_offered(h));
                if held {
                    None
                } else {
                    // The outgoing HTLC never got committed (a restart drops
                    // uncommitted updates): nothing is out, fail it back.
                    let mut staged = vec![];
                    let mut up = vec![];
                    self.forward_failed(f, &Outcome::Failed(vec![]), None, &mut staged, &mut up);
                    self.staged_forwards.extend(staged);
                    up.pop().map(|(_, ev)| ev)
                }
            }
        })
    }

    /// Preimages of HTLCs we forwarded and settled, for a channel that went
    /// on chain holding their incoming side (BOLT 5: claim what we can).
    pub(super) fn forwarded_preimages(&self, incoming: ChannelId) -> Vec<PaymentPreimage> {
        let cid = incoming.to_string();
        self.store
            .forwards()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.in_channel == cid && f.status == "settled")
            .filter_map(|f| rpc::hex32("preimage", f.preimage.as_deref()?).ok())
            .map(PaymentPreimage)
            .collect()
    }

    fn channel_by_hex(&self, s: &str) -> Option<ChannelId> {
        let id = ChannelId(rpc::hex32("channel_id", s).ok()?);
        self.channels.contains_key(&id).then_some(id)
    }

    /// The channel's short id as Core Lightning shows it (its alias before it has one).
    fn scid_of(&self, channel_hex: &str) -> Option<String> {
        let c = &self.channels[&self.channel_by_hex(channel_hex)?];
        c.scid.or(c.our_alias).map(scid_string)
    }

    /// `listforwards`.
    pub(super) fn listforwards(&self, r: rpc::ListforwardsRequest) -> Result<Value, RpcError> {
        if let Some(s) = &r.status {
            if !["offered", "settled", "failed", "local_failed"].contains(&s.as_str()) {
                return Err(RpcError::param(
                    "status",
                    format!("`{s}`: expected offered, settled, failed or local_failed"),
                ));
            }
        }
        let forwards = self
            .store
            .forwards()
            .map_err(RpcError::failed)?
            .into_iter()
            .map(|f| rpc::ForwardInfo {
                in_channel: self.scid_of(&f.in_channel).unwrap_or_default(),
                out_channel: f
                    .out_channel
                    .as_deref()
                    .and_then(|c| self.scid_of(c))
                    .or(Some(scid_string(f.requested_scid))),
                fee_msat: (f.status != "local_failed")
                    .then(|| f.in_msat.saturating_sub(f.out_msat)),
                in_htlc_id: f.in_htlc_id,
                out_htlc_id: f.out_htlc_id,
                in_msat: f.in_msat,
                out_msat: f.out_msat,
                payment_hash: f.payment_hash,
                status: f.status,
                style: "tlv".into(),
                received_time: f.received_at,
                resolved_time: f.resolved_at,
                failcode: f.failcode,
                failreason: f.failreason,
            })
            .filter(|f| r.status.as_ref().is_none_or(|s| *s == f.status))
            .filter(|f| r.in_channel.as_ref().is_none_or(|c| *c == f.in_channel))
            .filter(|f| {
                r.out_channel
                    .as_ref()
                    .is_none_or(|c| Some(c) == f.out_channel.as_ref())
            })
            .collect();
        to_value(rpc::ListforwardsResponse { forwards })
    }
}
