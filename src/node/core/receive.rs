//! The payee's side: the answer to each irrevocably committed incoming
//! HTLC (`pay::decide`), keysend payments recorded as paid invoices, and
//! multi-part sets held until whole, or failed with `mpp_timeout` (BOLT 4
//! "Basic Multi-Part Payments").

use super::*;
use crate::onion::failure::{FailureMessage, FailureValue};

/// A multi-part payment to us, gathering.
pub(super) struct MppSet {
    total: Msat,
    parts: Vec<SetHtlc>,
    since: Instant,
}

struct SetHtlc {
    channel: ChannelId,
    htlc: u64,
    amount: Msat,
    shared_secret: [u8; 32],
    /// When it arrived: its hold time goes back in the attribution data.
    since: Instant,
}

impl Core {
    /// The answer to an irrevocably committed HTLC: events for its channel
    /// (and, when it completes a set, for the channels of the other parts).
    pub(super) fn decide(&mut self, add: &channel::UpdateAddHtlc) -> Vec<(ChannelId, Event)> {
        let hash_hex = hex::encode(add.payment_hash.0);
        let mut inv = self.store.invoice(&hash_hex).ok().flatten();
        if let Some(updated) = self
            .staged_invoices
            .iter()
            .rev()
            .find(|i| i.payment_hash == hash_hex)
        {
            inv = Some(updated.clone());
        }
        let id = add.channel_id;
        let channel = id.to_string();
        let one = |ev| vec![(id, ev)];
        match pay::decide(
            &self.node_signer,
            &channel,
            add,
            inv.as_ref(),
            self.height(),
            now_secs(),
        ) {
            Decision::Fulfill(preimage, ss) => {
                let mut inv = inv.unwrap_or_else(|| keysend_record(add, preimage));
                inv.record_htlc(channel, add.id, add.amount, now_secs());
                info!(label = %inv.label, amount_msat = add.amount.0, "invoice paid");
                self.staged_invoices.push(inv);
                one(pay::fulfill_event(add.id, preimage, ss.as_ref(), 0))
            }
            Decision::Fail(back, why) => {
                info!(htlc = add.id, "failing an incoming HTLC: {why}");
                one(back.event(add.id))
            }
            Decision::Malformed(sha256_of_onion, failure_code) => one(Event::FailMalformed {
                id: add.id,
                sha256_of_onion,
                failure_code,
            }),
            Decision::Forward(onion) => {
                self.forwards_due.push(forwarding::DueForward {
                    incoming: id,
                    add: add.clone(),
                    onion: *onion,
                });
                vec![]
            }
            Decision::Part(part) => {
                let inv = inv.expect("a set's part has its invoice");
                self.set_part(add, inv, *part)
            }
            Decision::Hold => {
                self.held_since.insert((id, add.id), Instant::now());
                info!(
                    htlc = add.id,
                    "holding an incoming HTLC for its hold invoice"
                );
                vec![]
            }
        }
    }

    /// One part of a set arrived: hold it, or, when the set is whole, fulfil them all.
    fn set_part(
        &mut self,
        add: &channel::UpdateAddHtlc,
        mut inv: InvoiceRecord,
        part: pay::SetPart,
    ) -> Vec<(ChannelId, Event)> {
        let set = self
            .mpp_sets
            .entry(add.payment_hash)
            .or_insert_with(|| MppSet {
                total: part.total,
                parts: vec![],
                since: Instant::now(),
            });
        if set.total != part.total {
            // BOLT 4: SHOULD fail the set if total_msat differs; this part goes, the set waits.
            let m = FailureMessage::named(
                "incorrect_or_unknown_payment_details",
                vec![
                    ("htlc_msat", FailureValue::Uint(add.amount.0)),
                    ("height", FailureValue::Uint(u64::from(self.height()))),
                ],
            );
            info!(
                htlc = add.id,
                "failing a part whose total_msat differs from its set's"
            );
            let back = pay::failure_onion(&part.shared_secret, &m, 0);
            return vec![(add.channel_id, back.event(add.id))];
        }
        if !set
            .parts
            .iter()
            .any(|p| p.channel == add.channel_id && p.htlc == add.id)
        {
            set.parts.push(SetHtlc {
                channel: add.channel_id,
                htlc: add.id,
                amount: part.amount,
                shared_secret: part.shared_secret,
                since: Instant::now(),
            });
        }
        let got: Msat = set.parts.iter().map(|p| p.amount).sum();
        info!(payment_hash = %add.payment_hash, parts = set.parts.len(), got_msat = got.0, total_msat = set.total.0, "part of a multi-part payment");
        if got < set.total {
            return vec![];
        }
        let set = self.mpp_sets.remove(&add.payment_hash).expect("present");
        let Some(preimage) = part.preimage else {
            // A hold invoice: the whole set waits for settleinvoice.
            for p in &set.parts {
                self.held_since.insert((p.channel, p.htlc), p.since);
            }
            return vec![];
        };
        for p in &set.parts {
            inv.record_htlc(p.channel.to_string(), p.htlc, p.amount, now_secs());
        }
        info!(label = %inv.label, amount_msat = got.0, parts = set.parts.len(), "invoice paid");
        self.staged_invoices.push(inv);
        set.parts
            .iter()
            .map(|p| {
                (
                    p.channel,
                    pay::fulfill_event(
                        p.htlc,
                        preimage,
                        Some(&p.shared_secret),
                        hold_time(p.since),
                    ),
                )
            })
            .collect()
    }

    /// Sets incomplete after `MPP_TIMEOUT` are failed, every part with `mpp_timeout`.
    pub(super) fn expire_mpp_sets(&mut self) {
        let now = Instant::now();
        let expired: Vec<PaymentHash> = self
            .mpp_sets
            .iter()
            .filter(|(_, s)| now.duration_since(s.since) >= pay::MPP_TIMEOUT)
            .map(|(h, _)| *h)
            .collect();
        for hash in expired {
            let set = self.mpp_sets.remove(&hash).expect("listed");
            info!(payment_hash = %hash, parts = set.parts.len(), "failing an incomplete multi-part payment: mpp_timeout");
            let m = FailureMessage::named("mpp_timeout", vec![]);
            for p in set.parts {
                let back = pay::failure_onion(&p.shared_secret, &m, hold_time(p.since));
                if let Err(e) = self.drive(p.channel, back.event(p.htlc)) {
                    warn!(channel = %p.channel, htlc = p.htlc, "mpp_timeout not sent: {e}");
                }
            }
        }
    }
}

/// BOLT 4 hold time: units of 100 ms since `since`.
pub(super) fn hold_time(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_millis() / 100).unwrap_or(u32::MAX)
}

/// A keysend payment, recorded as a paid invoice (as Core Lightning lists them).
fn keysend_record(add: &channel::UpdateAddHtlc, preimage: PaymentPreimage) -> InvoiceRecord {
    let now = now_secs();
    InvoiceRecord {
        label: format!("keysend-{}", add.payment_hash),
        bolt11: String::new(),
        payment_hash: add.payment_hash.to_string(),
        preimage: hex::encode(preimage.0),
        payment_secret: String::new(),
        amount_msat: None,
        description: "keysend".into(),
        created_at: now,
        expires_at: now,
        min_final_cltv_expiry_delta: pay::KEYSEND_MIN_FINAL_CLTV_DELTA,
        paid_at: None,
        amount_received_msat: None,
        paid_by: None,
        hold: false,
        canceled: false,
        paid_parts: vec![],
    }
}
