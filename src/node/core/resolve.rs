//! The node's BOLT 5 glue: resolutions started, fed blocks, stepped, stored
//! before anything they decided is broadcast, and shown over RPC.

use super::*;
use crate::channel::onchain::{
    FundingSpend, OnchainEvent, OutputState, Resolution, Role, Spender, THEIRS_PATIENCE,
};
use crate::node::onchain::{self, Ctx, Send};

impl Core {
    /// A transaction spending the funding output (seen in a block, or our
    /// commitment about to go out) starts the channel's resolution.
    /// The peer force-closed (its `error`) and no HTLC deadline is near
    /// (`Channel::may_await_their_commitment`): let its commitment confirm
    /// rather than contest it with ours. Its commitment pays us at once;
    /// ours would cost a CPFP and lock our funds for `to_self_delay` (an
    /// LDK close paid about 5,000 sat that way). Ours waits a few blocks
    /// (`THEIRS_PATIENCE`) while the peer's is in the mempool, and goes out
    /// if it never shows, never confirms, or an HTLC deadline comes near.
    pub(super) fn let_theirs_confirm(&mut self, id: ChannelId) -> bool {
        let Some(ch) = self.channels.get(&id) else {
            return false;
        };
        let height = self.height();
        if !ch.failed_by_peer() || !ch.may_await_their_commitment(height) || ch.onchain.is_some() {
            return false;
        }
        let seen = self.their_commitment_in_mempool(id);
        info!(channel = %id, their_commitment = ?seen, htlcs = ch.htlcs().len(), "the peer force-closed and no HTLC deadline is near: waiting for its commitment to confirm before broadcasting ours");
        self.awaiting_theirs.insert(id, self.height());
        true
    }

    /// The txid of a commitment of the peer's the chain knows (mempool or block).
    fn their_commitment_in_mempool(&self, id: ChannelId) -> Option<Txid> {
        let ch = self.channels.get(&id)?;
        ch.remote_commitment_txids().into_iter().find(|txid| {
            tokio::task::block_in_place(|| self.chain.transaction(txid))
                .ok()
                .flatten()
                .is_some()
        })
    }

    /// At each block: a channel whose funding was spent is resolved (the
    /// follower saw it); one still waiting broadcasts our commitment once
    /// the peer's is not in the mempool, has waited `THEIRS_PATIENCE`
    /// blocks, or an HTLC deadline is near.
    pub(super) fn check_awaiting_theirs(&mut self) {
        let tip = self.height();
        let ids: Vec<(ChannelId, u32)> =
            self.awaiting_theirs.iter().map(|(k, v)| (*k, *v)).collect();
        for (id, since) in ids {
            let Some(ch) = self.channels.get(&id) else {
                self.awaiting_theirs.remove(&id);
                continue;
            };
            if ch.onchain.is_some() {
                self.awaiting_theirs.remove(&id);
                continue;
            }
            let waited = tip.saturating_sub(since);
            if waited == 0 {
                continue;
            }
            if waited < THEIRS_PATIENCE
                && ch.may_await_their_commitment(tip)
                && self.their_commitment_in_mempool(id).is_some()
            {
                continue;
            }
            self.awaiting_theirs.remove(&id);
            let Some(signer) = self.signer_for(id) else {
                continue;
            };
            if let Some(tx) = self.channels[&id].signed_local_commitment(&signer) {
                info!(channel = %id, waited, "the peer's commitment has not confirmed: broadcasting ours");
                self.start_resolution(id, &tx);
            }
        }
    }

    /// After a restart, a channel the peer failed whose funding is not spent
    /// on chain waits again (the wait is not stored: it starts over).
    pub(super) fn await_theirs_after_restart(&mut self) {
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.failed_by_peer() && c.onchain.is_none() && c.funding_outpoint.is_some())
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.let_theirs_confirm(id);
        }
    }

    pub(super) fn start_resolution(&mut self, id: ChannelId, tx: &Transaction) {
        let Some(signer) = self.signer_for(id) else {
            return;
        };
        let ch = &self.channels[&id];
        if ch
            .onchain
            .as_ref()
            .is_some_and(|r| r.txid() == tx.compute_txid())
        {
            return;
        }
        let revoked_htlcs = match ch.classify_spend(&signer, tx) {
            FundingSpend::Revoked { number } => self
                .store
                .remote_commitment(&id, number)
                .unwrap_or_default(),
            _ => vec![],
        };
        let mut r = ch.resolution(&signer, tx, &revoked_htlcs);
        // What an earlier resolution (our commitment, now beaten by another) knew carries over.
        if let Some(old) = &ch.onchain {
            for p in &old.preimages {
                r.provide_preimage(*p);
            }
            r.fee_floor = old.fee_floor;
            r.destination = old.destination.clone();
        }
        // HTLCs paying our invoices are claimed with their preimages (BOLT 5:
        // a received HTLC we know the preimage of MUST be claimed).
        let received: Vec<PaymentHash> = r
            .htlcs
            .iter()
            .filter(|o| o.htlc.offerer == Side::Remote)
            .map(|o| o.htlc.payment_hash)
            .collect();
        for hash in received {
            let inv = self.store.invoice(&hex::encode(hash.0)).ok().flatten();
            if let Some(p) = inv
                .and_then(|i| hex::decode(i.preimage).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            {
                r.provide_preimage(PaymentPreimage(p));
            }
        }
        // And those we forwarded and were paid for downstream.
        for p in self.forwarded_preimages(id) {
            r.provide_preimage(p);
        }
        if r.destination.is_none() {
            r.destination = self
                .wallet
                .new_address(false)
                .ok()
                .map(|a| a.script_pubkey());
        }
        info!(channel = %id, txid = %r.txid(), kind = r.spend.name(), outputs = r.outputs.len(), "funding output spent: resolving on chain");
        let ch = self.channels.get_mut(&id).expect("checked");
        if !matches!(ch.phase, Phase::Closed | Phase::Failed) {
            ch.phase = Phase::Failed;
            ch.failure = Some(format!(
                "the funding output was spent by {} ({})",
                r.txid(),
                r.spend.name()
            ));
        }
        ch.onchain = Some(Box::new(r));
        self.put_channel_now(id);
    }

    /// A preimage for an HTLC this channel's resolution holds on chain: it is claimed with it.
    pub(super) fn provide_onchain_preimage(&mut self, id: ChannelId, preimage: PaymentPreimage) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        let Some(r) = ch.onchain.as_mut().filter(|r| !r.is_resolved()) else {
            return;
        };
        r.provide_preimage(preimage);
        self.put_channel_now(id);
        self.drive_onchain();
    }

    /// Store one channel now, in a transaction of its own.
    pub(super) fn put_channel_now(&mut self, id: ChannelId) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        let write = self.store.batch().and_then(|mut b| {
            b.put_channel(ch)?;
            b.commit()
        });
        if let Err(e) = write {
            panic!("the store failed; refusing to broadcast what it does not hold: {e}");
        }
    }

    /// A block for every resolution: spends, confirmations, and what they settle.
    pub(super) fn resolutions_block(&mut self, block: &Block, height: u32) {
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.onchain.is_some())
            .map(|c| c.id)
            .collect();
        for id in ids {
            let ch = self.channels.get_mut(&id).expect("listed");
            let r = ch.onchain.as_mut().expect("filtered");
            if r.is_resolved() {
                continue;
            }
            let events = r.block_connected(block, height);
            self.onchain_events(id, events);
        }
    }

    /// Store every channel with a live resolution (after a poll's blocks),
    /// and those that resolved at this tip.
    pub(super) fn persist_resolutions(&mut self) {
        let tip = self.height();
        let mut chans: Vec<&mut Channel> = self
            .channels
            .values_mut()
            .filter(|c| {
                c.onchain
                    .as_ref()
                    .is_some_and(|r| r.resolved_at.is_none_or(|h| h >= tip))
            })
            .collect();
        if chans.is_empty() {
            return;
        }
        let write = self.store.batch().and_then(|mut b| {
            for c in &mut chans {
                b.put_channel(c)?;
            }
            b.commit()
        });
        if let Err(e) = write {
            panic!("the store failed: {e}");
        }
    }

    /// What resolved on chain reaches the payments (and, later, forwards upstream).
    fn onchain_events(&mut self, id: ChannelId, events: Vec<OnchainEvent>) {
        let mut actions = vec![];
        for e in events {
            match e {
                OnchainEvent::Fulfilled { htlc, preimage } => {
                    info!(channel = %id, htlc = htlc.id, offerer = ?htlc.offerer, "HTLC fulfilled on chain");
                    if htlc.offerer == Side::Remote {
                        self.invoice_paid_on_chain(id, &htlc);
                    }
                    if htlc.offerer == Side::Local {
                        actions.push(Action::PreimageLearned {
                            id: htlc.id,
                            preimage,
                            attribution: None,
                        });
                        actions.push(Action::HtlcResolved {
                            id: htlc.id,
                            payment_hash: htlc.payment_hash,
                            outcome: Outcome::Fulfilled(preimage),
                            attribution: None,
                        });
                    }
                }
                OnchainEvent::Failed { htlc } => {
                    info!(channel = %id, htlc = htlc.id, offerer = ?htlc.offerer, "HTLC failed on chain");
                    if htlc.offerer == Side::Local {
                        actions.push(Action::HtlcResolved {
                            id: htlc.id,
                            payment_hash: htlc.payment_hash,
                            outcome: Outcome::FailedOnChain,
                            attribution: None,
                        });
                    }
                }
                OnchainEvent::Resolved => {
                    info!(channel = %id, "every output of the channel is resolved")
                }
            }
        }
        if !actions.is_empty() || !self.staged_invoices.is_empty() {
            let mut queue = VecDeque::new();
            actions.push(Action::Persist);
            self.execute(id, actions, &mut queue);
            // What it settles upstream (a forward's incoming HTLC) goes out now.
            for (id, ev) in queue {
                if let Err(e) = self.drive(id, ev) {
                    warn!(channel = %id, "refused: {e}");
                }
            }
            // And the payments it ended are answered (or tried again).
            self.run_payments();
        }
    }

    /// An HTLC paying our invoice, claimed on chain: the invoice is paid.
    fn invoice_paid_on_chain(&mut self, id: ChannelId, htlc: &crate::channel::ledger::HtlcEntry) {
        let Ok(Some(mut inv)) = self.store.invoice(&hex::encode(htlc.payment_hash.0)) else {
            return;
        };
        if inv.paid_by_htlc(&id.to_string(), htlc.id) {
            return;
        }
        inv.record_htlc(id.to_string(), htlc.id, htlc.amount, now_secs());
        info!(label = %inv.label, "invoice paid on chain");
        self.staged_invoices.push(inv);
    }

    fn reserved_coins(&self, except: Option<ChannelId>) -> Vec<bitcoin::OutPoint> {
        self.channels
            .values()
            .filter(|c| Some(c.id) != except)
            .filter_map(|c| c.onchain.as_ref())
            .flat_map(|r| r.claims.iter().filter(|c| c.confirmed_at.is_none()))
            .flat_map(|c| c.wallet_inputs.iter().copied())
            .collect()
    }

    /// Every live resolution decides what to broadcast now; each is stored
    /// before its transactions leave.
    pub(super) fn drive_onchain(&mut self) -> Vec<Txid> {
        let tip = self.height();
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.onchain.as_ref().is_some_and(|r| !r.is_resolved()))
            .map(|c| c.id)
            .collect();
        let mut sent = vec![];
        for id in ids {
            let Some(signer) = self.signer_for(id) else {
                continue;
            };
            let reserved_elsewhere = self.reserved_coins(Some(id));
            let chain = self.chain.clone();
            let estimate = |target: u16| {
                tokio::task::block_in_place(|| chain.fee_estimate(target))
                    .map(|f| f.feerate)
                    .unwrap_or(crate::chain::DEFAULT_FALLBACK_FEERATE)
            };
            let ch = self.channels.get_mut(&id).expect("listed");
            let funding_amount = ch.funding_amount;
            let mut r = ch.onchain.take().expect("filtered");
            let before = r.clone();
            let sends = onchain::step(
                &mut r,
                &mut Ctx {
                    signer: &signer,
                    wallet: &mut self.wallet,
                    estimate: &estimate,
                    tip,
                    funding_amount,
                    reserved_elsewhere,
                },
            );
            let changed = *r != *before;
            let ch = self.channels.get_mut(&id).expect("listed");
            ch.onchain = Some(r);
            if changed {
                self.put_channel_now(id);
            }
            for s in sends {
                sent.extend(self.send_claim(s));
            }
        }
        let all = self.reserved_coins(None);
        self.wallet.set_reserved(all);
        sent
    }

    /// Broadcast a claim (not through the wallet: its coins stay reserved
    /// until the block that confirms it, which the wallet then reads).
    fn send_claim(&mut self, s: Send) -> Option<Txid> {
        let chain = self.chain.clone();
        match s {
            Send::Tx(tx) => {
                let txid = tx.compute_txid();
                match tokio::task::block_in_place(|| chain.broadcast(&tx)) {
                    Ok(_) => {
                        info!(%txid, "claim broadcast");
                        Some(txid)
                    }
                    Err(e) => {
                        debug!(%txid, "claim not accepted: {e}");
                        None
                    }
                }
            }
            Send::Package(parent, child) => {
                let txid = child.compute_txid();
                let r = tokio::task::block_in_place(|| chain.broadcast_package(&parent, &child));
                match r {
                    Ok(()) => {
                        info!(parent = %parent.compute_txid(), child = %txid, "commitment and CPFP broadcast as a package");
                        Some(txid)
                    }
                    // The parent is already in the mempool: the child alone (a replacement, or a first CPFP).
                    Err(_) => match tokio::task::block_in_place(|| chain.broadcast(&child)) {
                        Ok(_) => Some(txid),
                        Err(e) => {
                            debug!(%txid, "CPFP child not accepted: {e}");
                            let _ = tokio::task::block_in_place(|| chain.broadcast(&parent));
                            None
                        }
                    },
                }
            }
        }
    }

    /// `listfunds`' `sweeps`.
    pub(super) fn pending_sweeps(&self) -> Vec<rpc::PendingSweep> {
        let mut out = vec![];
        for c in self.channels.values() {
            let Some(r) = c.onchain.as_ref().filter(|r| !r.is_resolved()) else {
                continue;
            };
            // The anchor is shown while our commitment waits: its claim is the CPFP.
            let shown = |w: &&crate::channel::onchain::Watched| {
                w.role != Role::Anchor || r.confirmed_at.is_none()
            };
            for w in r.outputs.iter().filter(shown) {
                let claim = r.claim_of(&w.outpoint);
                let status = match w.state {
                    OutputState::Spent {
                        by: Spender::Them, ..
                    } => "lost",
                    OutputState::Spent { .. } => "spent",
                    OutputState::Unspent if claim.is_some() => "broadcast",
                    OutputState::Unspent => "waiting",
                };
                out.push(rpc::PendingSweep {
                    channel_id: c.id.to_string(),
                    outpoint: w.outpoint.to_string(),
                    kind: w.role.name().into(),
                    amount_msat: w.txout.value.to_sat() * 1000,
                    matures_at: w.matures_at().map(|h| h + 1),
                    status: status.into(),
                    claim_txid: claim.map(|c| c.txid.to_string()),
                    claim_feerate_perkw: claim.map(|c| c.feerate.0),
                });
            }
        }
        out
    }

    pub(super) fn listclosedchannels(
        &self,
        r: rpc::ListclosedchannelsRequest,
    ) -> Result<Value, RpcError> {
        let only =
            r.id.as_deref()
                .map(|s| Self::peer_id("id", s))
                .transpose()?;
        let closedchannels = self
            .channels
            .values()
            .filter(|c| only.is_none_or(|o| o == c.peer))
            .filter_map(|c| {
                let r = c.onchain.as_ref().filter(|r| r.is_resolved())?;
                Some(rpc::ClosedChannel {
                    peer_id: c.peer.to_string(),
                    channel_id: c.id.to_string(),
                    short_channel_id: c.scid.map(scid_string),
                    opener: if c.opener == Side::Local {
                        "local"
                    } else {
                        "remote"
                    }
                    .into(),
                    funding_txid: c.funding_txid().map(|t| t.to_string()).unwrap_or_default(),
                    total_msat: c.funding_amount.to_sat() * 1000,
                    final_to_us_msat: c.balances().0 .0,
                    close_cause: r.spend.name().into(),
                    closing_txid: r.txid().to_string(),
                    swept_msat: swept(r) * 1000,
                    onchain_fees_msat: r.fees_paid_sat * 1000,
                    resolved_at: r.resolved_at.unwrap_or(0),
                })
            })
            .collect();
        to_value(rpc::ListclosedchannelsResponse { closedchannels })
    }

    pub(super) fn bumpfee(&mut self, req: rpc::BumpfeeRequest) -> Result<Value, RpcError> {
        let id = self.find_any_channel(&req.id)?;
        let ch = &self.channels[&id];
        let Some(r) = ch.onchain.as_ref().filter(|r| !r.is_resolved()) else {
            return Err(RpcError::param(
                "id",
                "the channel has nothing on chain to bump (close it with --force first)",
            ));
        };
        let current = current_feerate(r, ch.funding_amount);
        if req.feerate_perkw <= current {
            return Err(RpcError::param(
                "feerate_perkw",
                format!("must be above the current feerate, {current} sat per 1000 weight"),
            ));
        }
        let ch = self.channels.get_mut(&id).expect("found");
        let r = ch.onchain.as_mut().expect("checked");
        r.fee_floor = Some(FeeratePerKw(req.feerate_perkw));
        let sent = self.drive_onchain();
        to_value(rpc::BumpfeeResponse {
            txids: sent.iter().map(|t| t.to_string()).collect(),
            feerate_perkw: req.feerate_perkw,
        })
    }

    pub(super) fn dev_broadcast_revoked(
        &mut self,
        req: rpc::DevBroadcastRevokedRequest,
    ) -> Result<Value, RpcError> {
        if !self.opts.dev {
            return Err(RpcError {
                code: -32601,
                message: "dev-broadcast-revoked: a developer method, refused: start the node with --dev (it broadcasts a revoked state, which hands the channel's funds to the peer)".into(),
            });
        }
        let id = self.find_any_channel(&req.id)?;
        let current = self.channels[&id].ledger.local.number;
        let number = match req.number {
            Some(n) if n >= current => {
                return Err(RpcError::param(
                    "number",
                    format!("must be below the current commitment number, {current}"),
                ))
            }
            Some(n) => n,
            None => current.checked_sub(1).ok_or_else(|| {
                RpcError::param("id", "the channel has no revoked commitment yet")
            })?,
        };
        let json = self
            .store
            .dev_commitment(&id, number)
            .map_err(RpcError::failed)?
            .ok_or_else(|| {
                RpcError::param(
                    "number",
                    format!("commitment {number} was not kept (it was signed before --dev)"),
                )
            })?;
        let kept: Resolution = serde_json::from_str(&json)
            .map_err(|e| RpcError::failed(format!("stored commitment: {e}")))?;
        let chain = self.chain.clone();
        tokio::task::block_in_place(|| chain.broadcast(&kept.tx))
            .map_err(|e| RpcError::failed(format!("dev-broadcast-revoked: {e}")))?;
        warn!(channel = %id, number, "dev: a revoked commitment was broadcast");
        let mut htlc_txids = vec![];
        if req.with_htlc_txs && !kept.anchors {
            let signer = self.signer_for(id).expect("the channel exists");
            for w in kept.outputs.iter().filter(|w| w.role == Role::HtlcSuccess) {
                let (Some(h), Some(htlc)) = (&w.htlc_tx, &w.htlc) else {
                    continue;
                };
                let inv = self
                    .store
                    .invoice(&hex::encode(htlc.payment_hash.0))
                    .ok()
                    .flatten();
                let Some(p) = inv
                    .and_then(|i| hex::decode(i.preimage).ok())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                else {
                    continue;
                };
                let mut tx = h.tx.clone();
                tx.input[0].witness = signer.htlc_witness(&tx, h, Some(&PaymentPreimage(p)), false);
                tokio::task::block_in_place(|| chain.broadcast(&tx)).map_err(|e| {
                    RpcError::failed(format!("dev-broadcast-revoked: HTLC-success: {e}"))
                })?;
                htlc_txids.push(tx.compute_txid().to_string());
            }
        }
        to_value(rpc::DevBroadcastRevokedResponse {
            htlc_txids,
            number,
            tx: bitcoin::consensus::encode::serialize_hex(&kept.tx),
            txid: kept.txid().to_string(),
        })
    }

    /// Any channel, closed or not, by peer id, channel id or short channel id.
    fn find_any_channel(&self, s: &str) -> Result<ChannelId, RpcError> {
        if let Ok(peer) = s.parse::<PublicKey>() {
            return self
                .channels
                .values()
                .filter(|c| c.peer == peer)
                .max_by_key(|c| c.onchain.as_ref().is_some_and(|r| !r.is_resolved()))
                .map(|c| c.id)
                .ok_or_else(|| RpcError::param("id", "no channel with that peer"));
        }
        self.find_channel(s)
    }
}

/// What confirmed claims paid to the sweep destination, sat.
fn swept(r: &Resolution) -> u64 {
    let Some(dest) = &r.destination else { return 0 };
    r.claims
        .iter()
        .filter(|c| c.confirmed_at.is_some())
        .flat_map(|c| c.tx.output.iter())
        .filter(|o| &o.script_pubkey == dest)
        .map(|o| o.value.to_sat())
        .sum()
}

/// The feerate of what is in flight: the highest of our unconfirmed claims,
/// else our commitment's own.
fn current_feerate(r: &Resolution, funding: Amount) -> u32 {
    let claims = r
        .claims
        .iter()
        .filter(|c| c.confirmed_at.is_none())
        .map(|c| c.feerate.0)
        .max();
    claims.or(r.fee_floor.map(|f| f.0)).unwrap_or_else(|| {
        let out: Amount = r.tx.output.iter().map(|o| o.value).sum();
        let fee = funding.checked_sub(out).unwrap_or(Amount::ZERO);
        (fee.to_sat() * 1000 / r.tx.weight().to_wu().max(1)) as u32
    })
}
