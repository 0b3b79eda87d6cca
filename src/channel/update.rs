//! BOLT 2 "Normal Operation": adding and removing HTLCs, `update_fee`, and
//! the `commitment_signed`/`revoke_and_ack` round that commits them.

use super::*;

impl Channel {
    /// An incoming HTLC we may fulfil or fail now: irrevocably committed,
    /// with no removal of ours sent or held.
    pub(super) fn removable_incoming(&self, id: u64) -> Result<&HtlcEntry, CommandError> {
        let held = self.holding.iter().any(|u| u.removes() == Some(id));
        self.ledger
            .removable(Side::Remote, id)
            .filter(|_| !held)
            .ok_or(CommandError::UnknownHtlc(id))
    }

    /// Offer an HTLC: its id and the actions (none are sent until the next commit).
    pub fn add_htlc(
        &mut self,
        amount: Msat,
        payment_hash: PaymentHash,
        cltv_expiry: CltvExpiry,
        onion: Vec<u8>,
    ) -> Result<(u64, Vec<Action>), CommandError> {
        if self.phase != Phase::Normal {
            return Err(CommandError::Phase(self.phase.name()));
        }
        if self.shutdown.ours.is_some() || self.shutdown.theirs.is_some() {
            return Err(CommandError::Phase("shutting down"));
        }
        if !self.live {
            return Err(CommandError::Disconnected);
        }
        if cltv_expiry.0 > CltvExpiry::MAX_HEIGHT {
            return Err(CommandError::BadCltv(cltv_expiry.0));
        }
        let theirs = self.theirs();
        if amount < theirs.htlc_minimum || amount == Msat::ZERO {
            return Err(CommandError::BelowMinimum {
                amount: amount.0,
                minimum: theirs.htlc_minimum.0.max(1),
            });
        }
        let view = self
            .ledger
            .view(self.ledger.ours.end(), self.ledger.local.theirs);
        if view.offered_by(Side::Local).count() >= theirs.max_accepted_htlcs as usize {
            return Err(CommandError::TooManyHtlcs(theirs.max_accepted_htlcs));
        }
        let capacity = self.spendable();
        if amount > capacity {
            return Err(CommandError::Capacity {
                amount: amount.0,
                capacity: capacity.0,
            });
        }
        let id = self.ledger.next_htlc_id;
        let add = UpdateAddHtlc {
            channel_id: self.id,
            id,
            amount,
            payment_hash,
            cltv_expiry,
            onion,
            path_key: None,
        };
        // BOLT 2 max_dust_htlc_exposure_msat: refuse to offer what would be lost to miners beyond it.
        let mut with = view.clone();
        with.local = Msat(with.local.0.saturating_sub(amount.0));
        with.htlcs.insert(
            (Side::Local, id),
            HtlcEntry {
                offerer: Side::Local,
                id,
                amount,
                payment_hash,
                cltv_expiry,
            },
        );
        for holder in [Side::Local, Side::Remote] {
            let exposure = self.dust_exposure(&with, holder);
            if exposure > self.config.max_dust_htlc_exposure {
                return Err(CommandError::DustExposure {
                    exposure: exposure.0,
                    limit: self.config.max_dust_htlc_exposure.0,
                });
            }
        }
        self.ledger.next_htlc_id += 1;
        Ok((id, self.push_update(Update::Add(Box::new(add)))))
    }

    pub(super) fn update_fee(
        &mut self,
        feerate: FeeratePerKw,
    ) -> Result<Vec<Action>, CommandError> {
        if self.opener != Side::Local {
            return Err(CommandError::NotOpener);
        }
        if self.phase != Phase::Normal && self.phase != Phase::ShuttingDown {
            return Err(CommandError::Phase(self.phase.name()));
        }
        let mut view = self
            .ledger
            .view(self.ledger.ours.end(), self.ledger.local.theirs);
        view.feerate = feerate;
        if self.check_affordable(&view, Side::Local).is_err() {
            return Err(CommandError::Unaffordable(feerate.0));
        }
        Ok(self.push_update(Update::Fee(feerate)))
    }

    /// Append one of our updates to our log and send it (when connected).
    pub(super) fn push_update(&mut self, u: Update) -> Vec<Action> {
        if let Some(a) = u.removes().and_then(|id| self.incoming.get_mut(&id)) {
            // Answered: its onion is never read again (a restart decides only
            // unanswered HTLCs), and 1,366 bytes less go into every write of
            // the channel while the removal completes.
            a.onion = Vec::new();
        }
        if !self.live {
            self.holding.push(u);
            return vec![Action::Persist];
        }
        if self.ledger.remote_next.is_some() || self.unsent > 0 {
            // A round is in flight: the update waits in the holding cell, in
            // our log (so every check sees it) but unsent, and leaves with
            // the next `commitment_signed` once their `revoke_and_ack`
            // comes (as LDK does; BOLT 2 allows either).
            self.ledger.ours.entries.push_back(u);
            self.unsent += 1;
            return vec![Action::Persist];
        }
        let msg = self.update_message(&u);
        self.ledger.ours.entries.push_back(u);
        // Stored before it leaves: after a crash the update is still ours to
        // sign or, unsigned, to send again after reestablish.
        vec![Action::Persist, Action::Send(msg)]
    }

    /// Empty the holding cell: its updates go out, to be signed next.
    fn release_held(&mut self) -> Vec<Action> {
        let n = std::mem::take(&mut self.unsent);
        let len = self.ledger.ours.entries.len();
        self.ledger
            .ours
            .entries
            .iter()
            .skip(len - n)
            .map(|u| Action::Send(self.update_message(u)))
            .collect()
    }

    pub(super) fn update_message(&self, u: &Update) -> ChannelMessage {
        let channel_id = self.id;
        match u.clone() {
            Update::Add(a) => ChannelMessage::AddHtlc(UpdateAddHtlc { channel_id, ..*a }),
            Update::Fulfill {
                id,
                preimage,
                attribution,
            } => ChannelMessage::Fulfill {
                channel_id,
                id,
                preimage,
                attribution,
            },
            Update::Fail {
                id,
                reason,
                attribution,
            } => ChannelMessage::Fail {
                channel_id,
                id,
                reason,
                attribution,
            },
            Update::FailMalformed {
                id,
                sha256_of_onion,
                failure_code,
            } => ChannelMessage::FailMalformed {
                channel_id,
                id,
                sha256_of_onion,
                failure_code,
            },
            Update::Fee(feerate) => ChannelMessage::UpdateFee {
                channel_id,
                feerate,
            },
        }
    }

    /// Whether a `commitment_signed` of ours can go now and would change
    /// something (the batching window decides when it goes).
    pub fn needs_commit(&self) -> bool {
        self.live
            && self.ledger.next_remote().is_some()
            && self.theirs.is_some()
            && self.funding_outpoint.is_some()
    }

    /// Sign every pending update into their next commitment.
    pub(super) fn commit(&mut self, signer: &ChannelSigner) -> Vec<Action> {
        if !self.needs_commit() {
            return vec![];
        }
        let next = self.ledger.next_remote().expect("checked");
        let Some(point) = self.their_points.1 else {
            return vec![];
        };
        match self.sign_remote(signer, &next, point) {
            Ok((msg, tx)) => {
                self.ledger.remote_next = Some(next);
                self.last_sent = Some(LastSent::CommitmentSigned);
                let htlcs: Vec<_> = self.ledger.view_of(&next).htlcs.into_values().collect();
                vec![
                    Action::Persist,
                    Action::RemoteCommitment {
                        number: next.number,
                        htlcs,
                        tx: Box::new(tx),
                    },
                    Action::Send(msg),
                ]
            }
            Err(e) => self.fail_channel(
                signer,
                format!("cannot build the peer's commitment: {e}"),
                true,
            ),
        }
    }

    pub(super) fn on_add(&mut self, a: UpdateAddHtlc) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::Normal {
            return Err(fail(format!(
                "update_add_htlc in phase {}",
                self.phase.name()
            )));
        }
        if self.shutdown.theirs.is_some() {
            return Err(fail("update_add_htlc after shutdown"));
        }
        if a.amount == Msat::ZERO || a.amount < self.ours.htlc_minimum {
            return Err(fail(format!(
                "update_add_htlc: amount_msat {} is below our htlc_minimum_msat {}",
                a.amount.0,
                self.ours.htlc_minimum.0.max(1)
            )));
        }
        if a.cltv_expiry.0 > CltvExpiry::MAX_HEIGHT {
            return Err(fail("update_add_htlc: cltv_expiry is not below 500000000"));
        }
        if a.id != self.ledger.their_next_htlc_id {
            return Err(fail(format!(
                "update_add_htlc: id {} but {} was next",
                a.id, self.ledger.their_next_htlc_id
            )));
        }
        if a.onion.len() != 1366 {
            return Err(fail(
                "update_add_htlc: onion_routing_packet is not 1366 bytes",
            ));
        }
        self.ledger
            .theirs
            .entries
            .push_back(Update::Add(Box::new(a.clone())));
        self.ledger.their_next_htlc_id += 1;
        let view = self.ledger.view_of(&self.ledger.next_local());
        let offered: Vec<_> = view.offered_by(Side::Remote).collect();
        if offered.len() > self.ours.max_accepted_htlcs as usize {
            return Err(fail(format!(
                "update_add_htlc: more than our max_accepted_htlcs of {}",
                self.ours.max_accepted_htlcs
            )));
        }
        let in_flight: Msat = offered.iter().map(|h| h.amount).sum();
        if in_flight > self.ours.max_htlc_value_in_flight {
            return Err(fail(format!("update_add_htlc: {} msat in flight is above our max_htlc_value_in_flight_msat of {}", in_flight.0, self.ours.max_htlc_value_in_flight.0)));
        }
        self.check_affordable(&view, Side::Remote)
            .map_err(|v| fail(format!("update_add_htlc: {}", v.text)))?;
        Ok(vec![])
    }

    /// The HTLC of ours a removal from the peer names; BOLT 2 allows removing
    /// only what is irrevocably committed.
    pub(super) fn their_removal_target(&self, id: u64, what: &str) -> Result<HtlcEntry, Violation> {
        if !matches!(self.phase, Phase::Normal | Phase::ShuttingDown) {
            return Err(fail(format!("{what} in phase {}", self.phase.name())));
        }
        self.ledger
            .removable(Side::Local, id)
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "{what}: id {id} is not an HTLC of ours irrevocably committed and unresolved"
                ))
            })
    }

    pub(super) fn on_commitment_signed(
        &mut self,
        signer: &ChannelSigner,
        sig: ecdsa::Signature,
        htlc_sigs: Vec<ecdsa::Signature>,
    ) -> Result<Vec<Action>, Violation> {
        if !matches!(self.phase, Phase::Normal | Phase::ShuttingDown) {
            return Err(fail(format!(
                "commitment_signed in phase {}",
                self.phase.name()
            )));
        }
        let next = self.ledger.next_local();
        self.verify_local(signer, &next, &sig, &htlc_sigs)?;
        self.ledger.local = next;
        self.local_signatures = Some((sig, htlc_sigs));
        // BOLT 2 revoke_and_ack: reveal the previous commitment's secret and the point after the new one.
        let raa = self.revoke_message(signer);
        self.last_sent = Some(LastSent::RevokeAndAck);
        let mut out = vec![Action::Persist, Action::Send(raa)];
        out.extend(self.after_fold());
        // BOLT 2: once both shutdowns are out and no HTLC remains, the funder
        // sends `closing_signed`. When the peer's `commitment_signed` is what
        // takes the last HTLC off, this is where the channel becomes clean.
        out.extend(self.maybe_negotiate(signer));
        Ok(out)
    }

    pub(super) fn revoke_message(&self, signer: &ChannelSigner) -> ChannelMessage {
        let n = self.ledger.local.number;
        ChannelMessage::RevokeAndAck {
            channel_id: self.id,
            per_commitment_secret: signer
                .per_commitment_secret(CommitmentNumber(n - 1))
                .secret_bytes(),
            next_per_commitment_point: signer.per_commitment_point(CommitmentNumber(n + 1)).0,
        }
    }

    pub(super) fn on_revoke(
        &mut self,
        signer: &ChannelSigner,
        secret: [u8; 32],
        next_point: PublicKey,
    ) -> Result<Vec<Action>, Violation> {
        let Some(next) = self.ledger.remote_next else {
            return Err(fail("revoke_and_ack without a commitment_signed to answer"));
        };
        let key = SecretKey::from_slice(&secret)
            .map_err(|_| fail("revoke_and_ack: per_commitment_secret is not a valid secret key"))?;
        if key.public_key(signer.secp()) != self.their_points.0 {
            return Err(fail(format!(
                "revoke_and_ack: per_commitment_secret does not match the point of commitment {}",
                self.ledger.remote.number
            )));
        }
        let index = Index::from_commitment_number(CommitmentNumber(self.ledger.remote.number))
            .map_err(|e| fail(e.to_string()))?;
        self.their_secrets.insert(index, secret).map_err(|e| {
            fail(format!(
                "revoke_and_ack: per_commitment_secret breaks the shachain: {e}"
            ))
        })?;
        let revoked = self.ledger.remote.number;
        self.ledger.remote = next;
        self.ledger.remote_next = None;
        self.their_points = (
            self.their_points.1.expect("set when we signed"),
            Some(next_point),
        );
        let mut out = vec![Action::Persist, Action::RemoteRevoked { number: revoked }];
        out.extend(self.release_held());
        out.extend(self.after_fold());
        if let Some(script) = self.shutdown.ours.clone().filter(|_| !self.shutdown.sent) {
            out.extend(self.send_shutdown_when_clean(signer, script));
        }
        out.extend(self.maybe_negotiate(signer));
        Ok(out)
    }

    /// Fold what became irrevocable and report it.
    pub(super) fn after_fold(&mut self) -> Vec<Action> {
        let folded = self.ledger.fold();
        let mut out = vec![];
        for u in folded.theirs {
            if let Update::Add(a) = u {
                self.incoming.insert(a.id, a.clone());
                out.push(Action::HtlcReceived(a));
            }
        }
        for (remover, h, u) in folded.removed {
            if remover != Side::Remote {
                self.incoming.remove(&h.id);
                continue;
            }
            let mut attribution = None;
            let outcome = match u {
                Update::Fulfill {
                    preimage,
                    attribution: a,
                    ..
                } => {
                    attribution = a;
                    Outcome::Fulfilled(preimage)
                }
                Update::Fail {
                    reason,
                    attribution: a,
                    ..
                } => {
                    attribution = a;
                    Outcome::Failed(reason)
                }
                Update::FailMalformed {
                    sha256_of_onion,
                    failure_code,
                    ..
                } => Outcome::Malformed {
                    failure_code,
                    sha256_of_onion,
                },
                _ => continue,
            };
            out.push(Action::HtlcResolved {
                id: h.id,
                payment_hash: h.payment_hash,
                outcome,
                attribution,
            });
        }
        out
    }
}
