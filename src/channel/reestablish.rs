//! BOLT 2 "Message Retransmission": what a disconnection reverses, the
//! `channel_reestablish` we send, and what the peer's tells us to resend.

use super::*;

impl Channel {
    pub(super) fn on_disconnect(&mut self) -> Vec<Action> {
        self.live = false;
        match self.phase {
            // BOLT 2: before the funding is signed, a channel is forgotten.
            Phase::AwaitingAccept | Phase::AwaitingFundingTx | Phase::AwaitingFundingCreated => {
                let reason = "disconnected before the funding was signed".to_string();
                self.phase = Phase::Failed;
                self.failure = Some(reason.clone());
                return vec![Action::Failed { reason }];
            }
            _ => {}
        }
        // BOLT 2: reverse the peer's updates it has not signed for; ours
        // that we have not signed are sent again after reestablish, with the
        // same ids (the adds dropped are the latest ids of each side).
        let adds = |u: &[Update]| u.iter().filter(|u| matches!(u, Update::Add(_))).count() as u64;
        let theirs = self.ledger.theirs.truncate(self.ledger.local.theirs);
        self.ledger.their_next_htlc_id -= adds(&theirs);
        let mut held = self.ledger.ours.truncate(self.ledger.remote_latest().ours);
        self.ledger.next_htlc_id -= adds(&held);
        held.append(&mut self.holding);
        self.holding = held;
        // The holding cell's entries were just taken back with the rest.
        self.unsent = 0;
        if self.phase == Phase::Negotiating {
            // BOLT 2: the closing negotiation restarts on reconnection.
            self.phase = Phase::ShuttingDown;
            self.shutdown.last_sent_fee = None;
            self.shutdown.last_received_fee = None;
            self.shutdown.our_complete = None;
        }
        vec![Action::Persist]
    }

    pub(super) fn on_connect(&mut self, signer: &ChannelSigner) -> Vec<Action> {
        if matches!(
            self.phase,
            Phase::AwaitingAccept
                | Phase::AwaitingFundingTx
                | Phase::AwaitingFundingCreated
                | Phase::AwaitingFundingSigned
        ) {
            return vec![];
        }
        let l = &self.ledger;
        let last_secret = if l.remote.number == 0 {
            [0; 32]
        } else {
            self.their_secrets
                .lookup(
                    Index::from_commitment_number(CommitmentNumber(l.remote.number - 1))
                        .expect("in range"),
                )
                .unwrap_or([0; 32])
        };
        vec![Action::Send(ChannelMessage::Reestablish {
            channel_id: self.id,
            next_commitment_number: l.local.number + 1,
            next_revocation_number: l.remote.number,
            your_last_per_commitment_secret: last_secret,
            my_current_per_commitment_point: signer
                .per_commitment_point(CommitmentNumber(l.local.number))
                .0,
        })]
    }

    pub(super) fn on_reestablish(
        &mut self,
        signer: &ChannelSigner,
        m: ChannelMessage,
    ) -> Result<Vec<Action>, Violation> {
        let ChannelMessage::Reestablish {
            next_commitment_number: ncn,
            next_revocation_number: nrn,
            your_last_per_commitment_secret: secret,
            ..
        } = m
        else {
            unreachable!("called for channel_reestablish")
        };
        if self.live {
            return Err(warn("channel_reestablish on a live connection"));
        }
        let l = self.ledger.clone();
        // Data loss protect: a peer ahead of us, proving it with our own secret.
        let our_secret_ok = |n: u64| {
            n == 0 && secret == [0; 32]
                || n >= 1
                    && secret
                        == signer
                            .per_commitment_secret(CommitmentNumber(n - 1))
                            .secret_bytes()
        };
        if nrn > l.local.number {
            if our_secret_ok(nrn) {
                // BOLT 2: we lost state; we must not broadcast our commitment, and ask the peer to close.
                let reason = format!("channel_reestablish: the peer is at revocation {nrn}, we are at {}: we lost data and must not broadcast", l.local.number);
                self.phase = Phase::Failed;
                self.failure = Some(reason.clone());
                self.live = true;
                return Ok(vec![
                    Action::Persist,
                    Action::Send(ChannelMessage::Error {
                        channel_id: self.id,
                        data: reason.clone().into_bytes(),
                    }),
                    Action::Failed { reason },
                ]);
            }
            return Err(fail("channel_reestablish: next_revocation_number is ahead of us and your_last_per_commitment_secret does not prove it"));
        }
        if !our_secret_ok(nrn) {
            return Err(fail(
                "channel_reestablish: your_last_per_commitment_secret is not our secret",
            ));
        }
        if ncn == 0 {
            return Err(fail("channel_reestablish: next_commitment_number is 0"));
        }
        let latest = l.remote_latest();
        let resend_commit = match l.remote_next {
            Some(n) if ncn == n.number => true,
            _ if ncn == latest.number + 1 => false,
            _ => {
                return Err(fail(format!(
                    "channel_reestablish: next_commitment_number {ncn}, but we sent commitment {}",
                    latest.number
                )))
            }
        };
        let resend_revoke = if nrn + 1 == l.local.number {
            true
        } else if nrn == l.local.number {
            false
        } else {
            return Err(fail(format!(
                "channel_reestablish: next_revocation_number {nrn}, but we are at commitment {}",
                l.local.number
            )));
        };
        self.live = true;
        let mut out = vec![];
        // BOLT 2: channel_ready again if no commitment moved since.
        if ncn == 1 && l.local.number == 0 && self.ready_sent {
            out.push(Action::Send(self.ready_message(signer)));
        }
        let revoke = resend_revoke.then(|| self.revoke_message(signer));
        let commit = if resend_commit {
            let next = l.remote_next.expect("checked");
            let mut msgs: Vec<ChannelMessage> = l
                .ours
                .range(l.remote.ours, next.ours)
                .map(|u| self.update_message(u))
                .collect();
            let point = self.their_points.1.expect("we signed with it");
            msgs.push(self.sign_remote(signer, &next, point).map_err(fail)?.0);
            Some(msgs)
        } else {
            None
        };
        let raa_first = self.last_sent != Some(LastSent::RevokeAndAck);
        let mut sends: Vec<ChannelMessage> = vec![];
        if raa_first {
            sends.extend(revoke.clone());
            sends.extend(commit.clone().into_iter().flatten());
        } else {
            sends.extend(commit.into_iter().flatten());
            sends.extend(revoke);
        }
        out.extend(sends.into_iter().map(Action::Send));
        // BOLT 2: a shutdown we sent goes again.
        if let (true, Some(script)) = (self.shutdown.sent, self.shutdown.ours.clone()) {
            out.push(Action::Send(ChannelMessage::Shutdown {
                channel_id: self.id,
                script,
            }));
        }
        // Our updates held over the disconnect go out again, in order.
        for u in std::mem::take(&mut self.holding) {
            if let Update::Add(a) = &u {
                if self.phase != Phase::Normal || self.shutdown.ours.is_some() {
                    out.push(Action::HtlcResolved {
                        id: a.id,
                        payment_hash: a.payment_hash,
                        outcome: Outcome::Failed(vec![]),
                        attribution: None,
                    });
                    continue;
                }
            }
            let u = match u {
                Update::Add(mut a) => {
                    a.id = self.ledger.next_htlc_id;
                    self.ledger.next_htlc_id += 1;
                    Update::Add(a)
                }
                other => other,
            };
            out.extend(self.push_update(u));
        }
        out.push(Action::Persist);
        out.extend(self.maybe_negotiate(signer));
        Ok(out)
    }
}
