//! BOLT 2 "Channel Close": `shutdown`, then the legacy `closing_signed`
//! negotiation or `option_simple_close` (`closing_complete`/`closing_sig`).

use super::*;
use crate::tx::close;

impl Channel {
    pub(super) fn start_shutdown(
        &mut self,
        signer: &ChannelSigner,
        script: ScriptBuf,
        feerate: FeeratePerKw,
    ) -> Result<Vec<Action>, CommandError> {
        if !matches!(
            self.phase,
            Phase::Normal | Phase::AwaitingReady | Phase::ShuttingDown
        ) {
            return Err(CommandError::Phase(self.phase.name()));
        }
        if !shutdown_script_allowed(&script, &self.negotiated) {
            return Err(CommandError::BadScript);
        }
        if self.shutdown.ours.is_some() {
            return Ok(vec![]);
        }
        self.shutdown.ours = Some(script.clone());
        self.shutdown.feerate = Some(feerate);
        self.phase = Phase::ShuttingDown;
        let mut out = vec![Action::Persist];
        if self.live {
            out.extend(self.send_shutdown_when_clean(signer, script));
        }
        Ok(out)
    }

    /// BOLT 2: no `shutdown` while updates of ours wait for the peer's
    /// commitment; sign them first.
    pub(super) fn send_shutdown_when_clean(
        &mut self,
        signer: &ChannelSigner,
        script: ScriptBuf,
    ) -> Vec<Action> {
        let mut out = vec![];
        if self.ledger.ours.end() > self.ledger.remote_latest().ours {
            if self.ledger.remote_next.is_some() {
                return out; // after the revoke_and_ack
            }
            out.extend(self.commit(signer));
        }
        self.shutdown.sent = true;
        out.push(Action::Persist);
        out.push(Action::Send(ChannelMessage::Shutdown {
            channel_id: self.id,
            script,
        }));
        out.extend(self.maybe_negotiate(signer));
        out
    }

    pub(super) fn on_shutdown(
        &mut self,
        signer: &ChannelSigner,
        script: ScriptBuf,
    ) -> Result<Vec<Action>, Violation> {
        if !matches!(
            self.phase,
            Phase::Normal | Phase::AwaitingReady | Phase::ShuttingDown | Phase::Negotiating
        ) {
            return Err(fail(format!("shutdown in phase {}", self.phase.name())));
        }
        if !shutdown_script_allowed(&script, &self.negotiated) {
            return Err(warn("shutdown: scriptpubkey is not a form BOLT 2 allows"));
        }
        if self.shutdown.theirs.as_ref().is_some_and(|s| *s != script)
            && !self.negotiated.simple_close
        {
            return Err(fail("shutdown: a second shutdown with another script"));
        }
        self.shutdown.theirs = Some(script);
        if self.phase != Phase::Negotiating {
            self.phase = Phase::ShuttingDown;
        }
        let mut out = vec![Action::Persist];
        // BOLT 2: reply with our own shutdown (to our wallet's script, chosen by the driver).
        if self.shutdown.ours.is_none() {
            return Ok(out);
        }
        if !self.shutdown.sent {
            let script = self.shutdown.ours.clone().expect("checked");
            out.extend(self.send_shutdown_when_clean(signer, script));
        } else {
            out.extend(self.maybe_negotiate(signer));
        }
        Ok(out)
    }

    /// Whether the peer's shutdown is waiting for our script.
    pub fn needs_shutdown_script(&self) -> bool {
        self.shutdown.theirs.is_some() && self.shutdown.ours.is_none()
    }

    pub(super) fn closing_params(&self, fee: Amount) -> ClosingParams {
        let view = self.ledger.view_of(&self.ledger.local);
        ClosingParams {
            funding_outpoint: self.funding_outpoint.expect("funded"),
            funding_amount: self.funding_amount,
            local_script: self.shutdown.ours.clone().expect("both shutdowns"),
            remote_script: self.shutdown.theirs.clone().expect("both shutdowns"),
            local_balance: view.local,
            remote_balance: view.remote,
            fee,
            opener: self.opener,
            dust_limit: self.ours.dust_limit,
        }
    }

    pub(super) fn closing_fee(&self, feerate: FeeratePerKw) -> Amount {
        let p = self.closing_params(Amount::ZERO);
        close::fee_at_feerate(
            &p,
            (&self.ours.pubkeys.funding, &self.theirs().pubkeys.funding),
            feerate,
        )
        .unwrap_or(Amount::ZERO)
    }

    /// Once both shutdowns are out and nothing is pending, start the fee negotiation.
    pub(super) fn maybe_negotiate(&mut self, signer: &ChannelSigner) -> Vec<Action> {
        let ready = self.phase == Phase::ShuttingDown
            && self.shutdown.sent
            && self.shutdown.theirs.is_some()
            && !self.ledger.has_pending()
            && self.ledger.base.htlcs.is_empty()
            && self.live;
        if !ready {
            return vec![];
        }
        self.phase = Phase::Negotiating;
        let mut out = vec![Action::Persist];
        let Some(feerate) = self.shutdown.feerate else {
            return out;
        };
        if self.negotiated.simple_close {
            out.extend(self.send_closing_complete(signer, feerate));
        } else if self.opener == Side::Local {
            // BOLT 2: `fee_range` is what we are prepared to pay. Its top is
            // our estimate: a non-funder takes the top of the overlap (LDK
            // does: "they have to pay, so pick the highest fee"), so a range
            // above the estimate costs what it allows. Its bottom lets a
            // non-funder with a lower estimate close cheaper.
            let fee = self.closing_fee(feerate);
            let balance = self.ledger.base.of(Side::Local).to_sat_floor();
            let fee = fee.min(balance);
            let range = (self.closing_fee(FeeratePerKw(253)).min(fee), fee);
            out.extend(self.send_closing_signed(signer, fee, Some(range)));
        }
        out
    }

    pub(super) fn sign_closing(
        &self,
        signer: &ChannelSigner,
        fee: Amount,
        dust: Amount,
    ) -> Option<(Transaction, ecdsa::Signature)> {
        let p = ClosingParams {
            dust_limit: dust,
            ..self.closing_params(fee)
        };
        let tx = close::build_closing(&p).ok()?.tx;
        let sig = signer.sign_funding_spend(&tx, &self.funding_script(), self.funding_amount);
        Some((tx, sig))
    }

    pub(super) fn send_closing_signed(
        &mut self,
        signer: &ChannelSigner,
        fee: Amount,
        range: Option<(Amount, Amount)>,
    ) -> Vec<Action> {
        let Some((_, signature)) = self.sign_closing(signer, fee, self.ours.dust_limit) else {
            return self.fail_channel(
                signer,
                format!("cannot build a closing transaction with fee {fee}"),
                true,
            );
        };
        let (lo, hi) = range.unwrap_or((fee, fee));
        self.shutdown.last_sent_fee = Some((fee, lo, hi));
        vec![
            Action::Persist,
            Action::Send(ChannelMessage::ClosingSigned {
                channel_id: self.id,
                fee,
                signature,
                fee_range: range,
            }),
        ]
    }

    /// Their signature on the closing transaction at `fee`, under either side's dust limit.
    pub(super) fn complete_closing(
        &mut self,
        signer: &ChannelSigner,
        fee: Amount,
        their_sig: &ecdsa::Signature,
    ) -> Option<Transaction> {
        for dust in [self.ours.dust_limit, self.theirs().dust_limit] {
            let (mut tx, ours) = self.sign_closing(signer, fee, dust)?;
            let msg = funding_spend_sighash(&tx, &self.funding_script(), self.funding_amount);
            if signer
                .secp()
                .verify_ecdsa(&msg, their_sig, &self.theirs().pubkeys.funding)
                .is_ok()
            {
                tx.input[0].witness = funding_witness(
                    &self.funding_script(),
                    (&self.ours.pubkeys.funding, &ours),
                    (&self.theirs().pubkeys.funding, their_sig),
                );
                return Some(tx);
            }
        }
        None
    }

    pub(super) fn on_closing_signed(
        &mut self,
        signer: &ChannelSigner,
        fee: Amount,
        sig: ecdsa::Signature,
        range: Option<(Amount, Amount)>,
    ) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::Negotiating || self.negotiated.simple_close {
            return Err(warn(format!(
                "closing_signed in phase {}",
                self.phase.name()
            )));
        }
        let Some(tx) = self.complete_closing(signer, fee, &sig) else {
            return Err(fail(
                "closing_signed: signature is not valid for the closing transaction",
            ));
        };
        let finish = |ch: &mut Channel, tx: Transaction, mut out: Vec<Action>| {
            ch.phase = Phase::Closed;
            ch.shutdown.closing_txs = vec![tx.clone()];
            out.extend([Action::Persist, Action::Broadcast(tx), Action::Closed]);
            Ok(out)
        };
        self.shutdown.last_received_fee = Some(fee);
        match self.shutdown.last_sent_fee {
            Some((sent, _, _)) if sent == fee => finish(self, tx, vec![]),
            Some((_, lo, hi)) if (lo..=hi).contains(&fee) => {
                // BOLT 2: the fee is in our range: reply with it and close.
                let reply = self.send_closing_signed(signer, fee, None);
                finish(self, tx, reply)
            }
            Some(_) => Err(fail(format!(
                "closing_signed: fee_satoshis {} is outside the fee_range we sent",
                fee.to_sat()
            ))),
            None => {
                // We are not the opener: pick a fee in the overlap of their range and ours.
                let ours_min = self.closing_fee(FeeratePerKw(253));
                let (their_lo, their_hi) = range.unwrap_or((fee, fee));
                let lo = ours_min.max(their_lo);
                if lo > their_hi {
                    return Err(warn(
                        "closing_signed: no overlap between our fee_range and the one received",
                    ));
                }
                if (lo..=their_hi).contains(&fee) {
                    let reply = self.send_closing_signed(signer, fee, Some((lo, their_hi)));
                    return finish(self, tx, reply);
                }
                let pick = fee.max(lo).min(their_hi);
                Ok(self.send_closing_signed(signer, pick, Some((lo, their_hi))))
            }
        }
    }

    pub(super) fn simple_variant_for(&self, closer: Side, fee: Amount) -> SimpleCloseVariant {
        let view = &self.ledger.base;
        let closee_amount = view.of(closer.other()).to_sat_floor();
        let closer_amount = view
            .of(closer)
            .to_sat_floor()
            .checked_sub(fee)
            .unwrap_or(Amount::ZERO);
        let dust = self.ours.dust_limit.max(self.theirs().dust_limit);
        if closee_amount < dust {
            SimpleCloseVariant::CloserOnly
        } else if closer_amount < dust {
            SimpleCloseVariant::CloseeOnly
        } else {
            SimpleCloseVariant::Both
        }
    }

    pub(super) fn simple_tx(
        &self,
        closer: Side,
        c: &SimpleClose,
        variant: SimpleCloseVariant,
    ) -> Result<Transaction, String> {
        let view = &self.ledger.base;
        close::build_simple_closing(
            self.funding_outpoint.expect("funded"),
            (&c.closer_script, view.of(closer)),
            (&c.closee_script, view.of(closer.other())),
            c.fee,
            c.locktime,
            variant,
        )
        .map_err(|e| e.to_string())
    }

    pub(super) fn send_closing_complete(
        &mut self,
        signer: &ChannelSigner,
        feerate: FeeratePerKw,
    ) -> Vec<Action> {
        let balance = self.ledger.base.of(Side::Local).to_sat_floor();
        let fee = self.closing_fee(feerate).min(balance);
        let variant = self.simple_variant_for(Side::Local, fee);
        let mut c = SimpleClose {
            channel_id: self.id,
            closer_script: self.shutdown.ours.clone().expect("sent"),
            closee_script: self.shutdown.theirs.clone().expect("received"),
            fee,
            locktime: 0,
            closer_output_only: None,
            closee_output_only: None,
            both_outputs: None,
        };
        let sign = |v| {
            self.simple_tx(Side::Local, &c, v).ok().map(|tx| {
                signer.sign_funding_spend(&tx, &self.funding_script(), self.funding_amount)
            })
        };
        // BOLT 2: the closer signs the variants its balances call for.
        let (closer_only, closee_only, both) = match variant {
            SimpleCloseVariant::CloseeOnly => (None, sign(SimpleCloseVariant::CloseeOnly), None),
            SimpleCloseVariant::CloserOnly => (sign(SimpleCloseVariant::CloserOnly), None, None),
            SimpleCloseVariant::Both => (
                sign(SimpleCloseVariant::CloserOnly),
                None,
                sign(SimpleCloseVariant::Both),
            ),
        };
        c.closer_output_only = closer_only;
        c.closee_output_only = closee_only;
        c.both_outputs = both;
        if c.closer_output_only.is_none()
            && c.closee_output_only.is_none()
            && c.both_outputs.is_none()
        {
            return vec![];
        }
        self.shutdown.our_complete = Some((fee, variant));
        vec![
            Action::Persist,
            Action::Send(ChannelMessage::ClosingComplete(Box::new(c))),
        ]
    }

    pub(super) fn on_closing_complete(
        &mut self,
        signer: &ChannelSigner,
        c: SimpleClose,
    ) -> Result<Vec<Action>, Violation> {
        if !self.negotiated.simple_close
            || !matches!(self.phase, Phase::Negotiating | Phase::Closed)
        {
            return Err(warn(format!(
                "closing_complete in phase {}",
                self.phase.name()
            )));
        }
        let theirs_balance = self.ledger.base.of(Side::Remote).to_sat_floor();
        if c.fee > theirs_balance {
            return Err(warn(
                "closing_complete: fee_satoshis is above the closer's balance",
            ));
        }
        if Some(&c.closee_script) != self.shutdown.ours.as_ref() {
            return Err(warn(
                "closing_complete: closee_scriptpubkey is not the script we sent",
            ));
        }
        if !shutdown_script_allowed(&c.closer_script, &self.negotiated) {
            return Err(warn(
                "closing_complete: closer_scriptpubkey is not a form BOLT 2 allows",
            ));
        }
        // BOLT 2: the closee picks the signature by its own output.
        let ours = self.ledger.base.of(Side::Local).to_sat_floor();
        let (variant, their_sig) = if ours < self.ours.dust_limit {
            (SimpleCloseVariant::CloserOnly, c.closer_output_only)
        } else if let Some(s) = c.both_outputs {
            (SimpleCloseVariant::Both, Some(s))
        } else {
            (SimpleCloseVariant::CloseeOnly, c.closee_output_only)
        };
        let their_sig = their_sig.ok_or_else(|| {
            warn("closing_complete: the signature our output calls for is missing")
        })?;
        let mut tx = self.simple_tx(Side::Remote, &c, variant).map_err(warn)?;
        let script = self.funding_script();
        let msg = funding_spend_sighash(&tx, &script, self.funding_amount);
        signer
            .secp()
            .verify_ecdsa(&msg, &their_sig, &self.theirs().pubkeys.funding)
            .map_err(|_| {
                warn("closing_complete: signature is not valid for the closing transaction")
            })?;
        let our_sig = signer.sign_funding_spend(&tx, &script, self.funding_amount);
        tx.input[0].witness = funding_witness(
            &script,
            (&self.ours.pubkeys.funding, &our_sig),
            (&self.theirs().pubkeys.funding, &their_sig),
        );
        self.shutdown.theirs = Some(c.closer_script.clone());
        self.shutdown.closing_txs.push(tx.clone());
        let mut reply = SimpleClose {
            closer_output_only: None,
            closee_output_only: None,
            both_outputs: None,
            ..c
        };
        match variant {
            SimpleCloseVariant::CloserOnly => reply.closer_output_only = Some(our_sig),
            SimpleCloseVariant::CloseeOnly => reply.closee_output_only = Some(our_sig),
            SimpleCloseVariant::Both => reply.both_outputs = Some(our_sig),
        }
        self.phase = Phase::Closed;
        Ok(vec![
            Action::Persist,
            Action::Send(ChannelMessage::ClosingSig(Box::new(reply))),
            Action::Broadcast(tx),
            Action::Closed,
        ])
    }

    pub(super) fn on_closing_sig(
        &mut self,
        signer: &ChannelSigner,
        c: SimpleClose,
    ) -> Result<Vec<Action>, Violation> {
        let Some((fee, _)) = self.shutdown.our_complete else {
            return Err(warn("closing_sig without our closing_complete"));
        };
        if c.fee != fee
            || Some(&c.closer_script) != self.shutdown.ours.as_ref()
            || Some(&c.closee_script) != self.shutdown.theirs.as_ref()
            || c.locktime != 0
        {
            return Err(warn(
                "closing_sig: it does not match the closing_complete we sent",
            ));
        }
        let sigs = [
            (SimpleCloseVariant::CloserOnly, c.closer_output_only),
            (SimpleCloseVariant::CloseeOnly, c.closee_output_only),
            (SimpleCloseVariant::Both, c.both_outputs),
        ];
        let present: Vec<_> = sigs
            .iter()
            .filter_map(|(v, s)| s.map(|s| (*v, s)))
            .collect();
        let [(variant, their_sig)] = present.as_slice() else {
            return Err(warn("closing_sig: it must carry exactly one signature"));
        };
        let mut tx = self.simple_tx(Side::Local, &c, *variant).map_err(warn)?;
        let script = self.funding_script();
        let msg = funding_spend_sighash(&tx, &script, self.funding_amount);
        signer
            .secp()
            .verify_ecdsa(&msg, their_sig, &self.theirs().pubkeys.funding)
            .map_err(|_| warn("closing_sig: signature is not valid for the closing transaction"))?;
        let our_sig = signer.sign_funding_spend(&tx, &script, self.funding_amount);
        tx.input[0].witness = funding_witness(
            &script,
            (&self.ours.pubkeys.funding, &our_sig),
            (&self.theirs().pubkeys.funding, their_sig),
        );
        self.shutdown.our_complete = None;
        self.shutdown.closing_txs.push(tx.clone());
        self.phase = Phase::Closed;
        Ok(vec![Action::Persist, Action::Broadcast(tx), Action::Closed])
    }
}
