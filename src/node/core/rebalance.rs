//! `rebalance` and `rebalanceall`: paying ourselves around a cycle (the
//! library's [`crate::rebalance`]). A rebalance is an ordinary payment of
//! the payment loop: its target is our own invoice, and its routing graph
//! is split so the route must leave on `out` and come back on `in`.

use super::*;
use crate::graph::Graph;
use crate::rebalance::{self as cycles, Balance};
use crate::wire::tlv::scid_from_str;

/// What makes a payment a rebalance.
#[derive(Clone, Debug)]
pub(in crate::node) struct Cycle {
    pub(super) out: ChannelId,
    pub(super) inn: ChannelId,
    pub(super) out_scid: u64,
    pub(super) in_scid: u64,
    /// What `in` earns back at our fee.
    pub(super) earn_back_msat: u64,
    /// Which limit the fee budget is (for the error when the cycle costs more).
    pub(super) limit_why: String,
    /// Our balances on `out` and `in` before.
    pub(super) before: (Msat, Msat),
}

/// The fee cap when `--force` is given without `max_fee_ppm`: 1% of the amount.
const FORCED_DEFAULT_PPM: u64 = 10_000;

impl Core {
    /// Our usable channel named by `s` (a short channel id or an alias of ours).
    fn channel_named(&self, field: &str, s: &str) -> Result<(ChannelId, u64), RpcError> {
        let scid = scid_from_str(s).ok_or_else(|| {
            RpcError::param(
                field,
                format!("`{s}`: expected a short channel id BLOCKxTXxOUTPUT"),
            )
        })?;
        let c = self
            .channels
            .values()
            .find(|c| c.scid == Some(scid) || c.our_alias == Some(scid))
            .ok_or_else(|| {
                RpcError::param(
                    field,
                    format!("{s} is not a channel of this node (see listpeerchannels)"),
                )
            })?;
        if !(c.phase == Phase::Normal && c.is_usable()) {
            return Err(RpcError::param(
                field,
                format!(
                    "{s} is not usable now ({}, peer {})",
                    c.phase.name(),
                    if self.peers.contains_key(&c.peer) {
                        "connected"
                    } else {
                        "disconnected"
                    }
                ),
            ));
        }
        Ok((c.id, scid))
    }

    fn balance_of(&self, id: ChannelId) -> Balance {
        let c = &self.channels[&id];
        Balance {
            local_msat: c.balances().0 .0,
            capacity_msat: c.funding_amount.to_sat() * 1000,
        }
    }

    /// `rebalance`: start paying ourselves from `out` back to `in`.
    pub(super) fn rebalance(
        &mut self,
        r: rpc::RebalanceRequest,
    ) -> Result<(PaymentHash, Duration), RpcError> {
        let (out, out_scid) = self.channel_named("out", &r.out)?;
        let (inn, in_scid) = self.channel_named("in", &r.inn)?;
        if out == inn {
            return Err(RpcError::param(
                "in",
                "the same channel as out; a rebalance moves liquidity between two channels",
            ));
        }
        let (ob, ib) = (self.balance_of(out), self.balance_of(inn));
        let amount = match r.amount_msat {
            Some(0) => return Err(RpcError::param("amount_msat", "must be above zero")),
            Some(a) => a,
            None => match cycles::toward_half(ob, ib) {
                0 => {
                    return Err(RpcError::param(
                        "amount_msat",
                        format!(
                            "nothing to move toward 50/50: out holds {:.1}% and in {:.1}% (give amount_msat to move anyway)",
                            ob.local_percent(),
                            ib.local_percent()
                        ),
                    ))
                }
                a => a,
            },
        };
        let spendable = self.channels[&out].spendable().0;
        if amount > spendable {
            return Err(RpcError::param(
                "amount_msat",
                format!("{amount} msat is above what out can send now ({spendable} msat)"),
            ));
        }
        let earn_back = self.channels[&inn].gossip.policy.fee(Msat(amount)).0;
        let (limit, limit_why) = cycles::fee_limit(
            amount,
            earn_back,
            r.max_fee_ppm,
            r.force,
            Some(FORCED_DEFAULT_PPM),
        );
        let label = format!(
            "rebalance {} to {} {}",
            r.out,
            r.inn,
            hex::encode(random32())
        );
        let inv = self.invoice(rpc::InvoiceRequest {
            amount_msat: serde_json::json!(amount),
            label,
            description: format!("rebalance {} -> {}", r.out, r.inn),
            expiry: Some(3600),
            preimage: None,
            payment_hash: None,
            cltv: None,
        })?;
        let field = |f: &str| {
            inv[f]
                .as_str()
                .and_then(|h| <[u8; 32]>::try_from(hex::decode(h).ok()?).ok())
        };
        let (Some(hash), Some(secret)) = (field("payment_hash"), field("payment_secret")) else {
            return Err(RpcError::failed(
                "rebalance: our own invoice has no hash or secret",
            ));
        };
        let target = payments::Target {
            payee: self.node_id,
            hash: PaymentHash(hash),
            secret: Some(secret),
            keysend: None,
            metadata: None,
            final_cltv_delta: pay::DEFAULT_FINAL_CLTV_DELTA,
            hints: vec![],
            mpp: false,
            bolt11: inv["bolt11"].as_str().map(String::from),
            cycle: Some(Cycle {
                out,
                inn,
                out_scid,
                in_scid,
                earn_back_msat: earn_back,
                limit_why,
                before: (Msat(ob.local_msat), Msat(ib.local_msat)),
            }),
        };
        info!(out = %r.out, r#in = %r.inn, amount_msat = amount, limit_msat = limit, "rebalancing");
        let wait = Duration::from_secs(r.retry_for.unwrap_or(60));
        self.start_payment(target, Msat(amount), Msat(limit), wait, r.max_attempts)?;
        Ok((PaymentHash(hash), wait))
    }

    /// The attempt's graph made a cycle: the `in` channel ends at a second
    /// copy of us, the destination, and our other channels carry nothing.
    pub(super) fn cycle_graph(
        &self,
        g: Graph,
        me: u32,
        cycle: &Cycle,
        by_scid: &HashMap<u64, usize>,
        exact: &mut HashMap<u32, (u64, u64)>,
    ) -> (Graph, u32) {
        let (Some(&out_c), Some(&in_c)) =
            (by_scid.get(&cycle.out_scid), by_scid.get(&cycle.in_scid))
        else {
            // Not in the graph: no route, and the payment says so.
            return (g, me);
        };
        let mut g = g;
        let in_dir = 2 * in_c as u32 + u32::from(g.channels[in_c].node_1 == me);
        if !g.policies[in_dir as usize].present {
            // An unannounced channel: the peer's own channel_update to us, when we have it.
            let c = &self.channels[&cycle.inn];
            let theirs = c.gossip.their_policy.unwrap_or_default();
            g.policies[in_dir as usize] = crate::graph::Policy {
                present: true,
                enabled: true,
                htlc_maximum_msat: u64::MAX,
                ..theirs
            };
            g.index();
        }
        let (split, back) = cycles::split_graph(&g, me, in_c);
        let out_dir = cycles::direction_from(&g, out_c, me);
        for &d in split.out(me) {
            if d != out_dir {
                exact.insert(d, (0, 0));
            }
        }
        for &d in split.out(back) {
            exact.insert(d, (0, 0));
        }
        // What the peer can send us on `in` is known exactly.
        let receivable = self.channels[&cycle.inn].receivable().0;
        exact.insert(in_dir, (receivable, receivable));
        (split, back)
    }

    /// `rebalance`'s answer, once the payment to ourselves is complete.
    pub(super) fn rebalanced(
        &self,
        hash: PaymentHash,
        delivered: u64,
        fee: u64,
        cycle: &Cycle,
    ) -> rpc::RebalanceResponse {
        // The part's record may still wait to be committed with its channel step.
        let hex_hash = hash.to_string();
        let staged = self
            .staged_payments
            .iter()
            .rev()
            .find(|p| p.payment_hash == hex_hash && p.status == "complete")
            .cloned();
        let route = staged
            .or_else(|| {
                self.store
                    .payments_of(&hex_hash)
                    .ok()?
                    .into_iter()
                    .find(|p| p.status == "complete")
            })
            .map(|p| p.route)
            .unwrap_or_default();
        // What each holds once the cycle's HTLCs are folded into the
        // commitments (the answer comes as soon as the preimage is back).
        let side = |id: ChannelId, scid: u64, before: Msat, after: u64| rpc::RebalanceSide {
            short_channel_id: scid_string(scid),
            to_us_before_msat: before.0,
            to_us_after_msat: after,
            total_msat: self.balance_of(id).capacity_msat,
        };
        rpc::RebalanceResponse {
            payment_hash: hash.to_string(),
            amount_msat: delivered,
            fee_msat: fee,
            fee_ppm: cycles::fee_ppm(fee, delivered),
            earn_back_msat: cycle.earn_back_msat,
            out: side(
                cycle.out,
                cycle.out_scid,
                cycle.before.0,
                cycle.before.0 .0.saturating_sub(delivered + fee),
            ),
            inn: side(
                cycle.inn,
                cycle.in_scid,
                cycle.before.1,
                cycle.before.1 .0 + delivered,
            ),
            route,
        }
    }

    /// `rebalanceall`: plan the moves now, then run them one after another
    /// (each a `rebalance` through the node's own input), within the budget.
    pub(super) fn rebalanceall(&mut self, r: rpc::RebalanceallRequest, reply: Reply) {
        let low = r.low_percent.unwrap_or(20.0);
        let high = r.high_percent.unwrap_or(80.0);
        let target = r.target_percent.unwrap_or(50);
        if !(0.0..=100.0).contains(&low) || !(0.0..=100.0).contains(&high) || low >= high {
            let e = RpcError::param(
                "low_percent",
                format!("{low} and high_percent {high}: expected 0 <= low < high <= 100"),
            );
            return self.answer(reply, Err(e));
        }
        let usable: Vec<(ChannelId, u64)> = self
            .channels
            .values()
            .filter(|c| c.phase == Phase::Normal && c.is_usable())
            .filter_map(|c| Some((c.id, c.scid.or(c.our_alias)?)))
            .collect();
        let balances: Vec<Balance> = usable.iter().map(|(id, _)| self.balance_of(*id)).collect();
        let moves = cycles::plan_moves(&balances, low, high, target);
        info!(
            moves = moves.len(),
            budget_msat = r.max_fee_msat,
            "rebalanceall"
        );
        let inputs = self.inputs.clone();
        let planned: Vec<(String, String, u64)> = moves
            .iter()
            .map(|m| {
                (
                    scid_string(usable[m.out].1),
                    scid_string(usable[m.inn].1),
                    m.amount_msat,
                )
            })
            .collect();
        tokio::spawn(async move {
            let mut left = r.max_fee_msat;
            let mut spent = 0;
            let mut done = vec![];
            for (out, inn, amount) in planned {
                let mut mv = rpc::RebalanceMove {
                    out: out.clone(),
                    inn: inn.clone(),
                    amount_msat: amount,
                    status: "skipped".into(),
                    fee_msat: 0,
                    error: None,
                };
                if left == 0 {
                    mv.error = Some("the fee budget is spent".into());
                    done.push(mv);
                    continue;
                }
                // This move may spend what is left of the budget, and no more
                // than its own cap: the smaller becomes its max_fee_ppm.
                let budget_ppm = cycles::fee_ppm(left, amount).max(1);
                let ppm = r.max_fee_ppm.map_or(budget_ppm, |p| p.min(budget_ppm));
                let params = serde_json::json!({
                    "out": out, "in": inn, "amount_msat": amount, "max_fee_ppm": ppm,
                    "force": r.force, "retry_for": r.retry_for.unwrap_or(60),
                });
                let (tx, rx) = oneshot::channel();
                let sent = inputs.send(Input::Rpc {
                    method: "rebalance".into(),
                    params,
                    reply: tx,
                });
                let result = match sent {
                    Ok(()) => rx
                        .await
                        .unwrap_or_else(|_| Err(RpcError::failed("the node stopped"))),
                    Err(_) => Err(RpcError::failed("the node stopped")),
                };
                match result {
                    Ok(v) => {
                        let fee = v["fee_msat"].as_u64().unwrap_or(0);
                        mv.status = "complete".into();
                        mv.fee_msat = fee;
                        spent += fee;
                        left = left.saturating_sub(fee);
                    }
                    Err(e) => {
                        mv.status = "failed".into();
                        mv.error = Some(e.message);
                    }
                }
                done.push(mv);
            }
            let _ = reply.send(to_value(rpc::RebalanceallResponse {
                moves: done,
                fee_msat: spent,
                budget_left_msat: left,
            }));
        });
    }
}
