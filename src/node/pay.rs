//! The payee's and the hop's side of a payment: the invoice we issue, and
//! what we decide on an incoming HTLC once its onion is peeled — fulfil,
//! fail, hold, take as a part of a set, or forward (BOLT 4 "Payload for the
//! Last Node" and "Failure Messages"). Pure functions over the toolkit's
//! invoice, onion and failure codecs; the node stores and sends.

use sha2::{Digest, Sha256};

use crate::amount::Msat;
use crate::channel::{Event, UpdateAddHtlc};
use crate::invoice::{Field, Invoice};
use crate::onion::failure::{self, AttributionData, FailureCode, FailureMessage, FailureValue};
use crate::onion::packet::OnionPacket;
use crate::onion::payload::HopPayload;
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::signer::NodeSigner;

use super::store::InvoiceRecord;
use crate::channel::onchain::FULFILLED_HTLC_MARGIN;

/// The `min_final_cltv_expiry_delta` our invoices ask. Above BOLT 2's
/// deadline for an HTLC we fulfilled (`FULFILLED_HTLC_MARGIN`, 18 blocks
/// before its expiry), with 6 blocks of room: an HTLC paid at exactly the
/// invoice's delta must not be at that deadline on arrival, or a block
/// found during the fulfil's commitment round fails the channel (it did,
/// with Core Lightning paying at 18). LDK keeps such room too (24 against 21).
pub const DEFAULT_FINAL_CLTV_DELTA: u32 = 24;
/// Blocks a sender adds to the final CLTV, so a block found in flight does not fail it.
pub const FINAL_CLTV_MARGIN: u32 = 3;

/// The invoice fields and signature for `record`'s payment; `hints` are
/// BOLT 11 `r` fields, each a path to us over a channel the network does not know.
#[allow(clippy::too_many_arguments)]
pub fn make_invoice(
    signer: &NodeSigner,
    currency: &str,
    amount: Option<Msat>,
    hash: &PaymentHash,
    secret: &[u8; 32],
    description: &str,
    expiry: u64,
    cltv_delta: u32,
    now: u64,
    hints: Vec<Vec<crate::invoice::RouteHop>>,
) -> Result<String, crate::invoice::InvoiceError> {
    let mut fields = vec![
        Field::PaymentHash(hash.0),
        Field::PaymentSecret(*secret),
        Field::Description(description.to_string()),
        Field::Expiry(expiry),
        Field::MinFinalCltvExpiryDelta(u64::from(cltv_delta)),
        // var_onion_optin required, payment_secret required, basic_mpp optional.
        Field::Features(vec![8, 14, 17]),
    ];
    fields.extend(hints.into_iter().map(Field::RouteHint));
    let invoice = Invoice {
        currency: currency.to_string(),
        amount_msat: amount.map(|a| a.0),
        timestamp: now,
        fields,
    };
    signer.sign_invoice(&invoice)
}

/// What the payee does with an HTLC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Fulfil: the invoice is paid. With our shared secret with the
    /// sender, for the attribution data (none inside a blinded path).
    Fulfill(PaymentPreimage, Option<[u8; 32]>),
    /// Fail with this failure; the text says why.
    Fail(FailBack, String),
    /// The onion is not for us (BADONION): `update_fail_malformed_htlc`.
    Malformed([u8; 32], u16),
    /// A hold invoice without its preimage yet: the HTLC waits.
    Hold,
    /// The onion names a next hop: forward it, if our policy allows.
    Forward(Box<Forward>),
    /// One part of a multi-part payment: the node holds it until the set is whole.
    Part(Box<SetPart>),
}

/// An HTLC of a multi-part set (BOLT 4 "Basic Multi-Part Payments").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetPart {
    /// The set's `total_msat`.
    pub total: Msat,
    /// What this part pays (`amt_to_forward`).
    pub amount: Msat,
    /// Our shared secret with the sender (an `mpp_timeout` is wrapped with it).
    pub shared_secret: [u8; 32],
    /// The invoice's preimage (none for a hold invoice not yet settled).
    pub preimage: Option<PaymentPreimage>,
}

/// BOLT 4: the final node fails a set still incomplete after "at least 60 seconds".
pub const MPP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The final CLTV delta we put in the keysend payments we send (no invoice
/// says one): LND's default, so that receivers that still ask 40 take them.
pub const KEYSEND_FINAL_CLTV_DELTA: u32 = 40;

/// The least final CLTV delta we accept on a keysend payment we receive
/// (no invoice says one): the least whose fulfilment deadline (BOLT 2:
/// `FULFILLED_HTLC_MARGIN` blocks before expiry) is not reached on arrival.
/// Senders use less than 40 now: Core Lightning's `xkeysend` (its `keysend`
/// from v27.03) sends 22.
pub const KEYSEND_MIN_FINAL_CLTV_DELTA: u32 = FULFILLED_HTLC_MARGIN + 1;

/// What a forwarding hop read from the onion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The onion's `short_channel_id`: the next channel.
    pub short_channel_id: u64,
    /// `amt_to_forward`.
    pub amt_to_forward: Msat,
    /// `outgoing_cltv_value`.
    pub outgoing_cltv: CltvExpiry,
    /// The onion for the next hop.
    pub next_onion: Vec<u8>,
    /// Our shared secret with the sender: failures going back are wrapped with it.
    pub shared_secret: [u8; 32],
}

fn code(name: &str) -> u16 {
    FailureCode::by_name(name)
        .expect("a BOLT 4 failure name")
        .code
}

/// What goes back to the sender of an HTLC we fail: the failure onion, and
/// our attribution data (we advertise `option_attribution_data`; BOLT 4
/// "Returning Errors").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailBack {
    /// `reason` of `update_fail_htlc`.
    pub reason: Vec<u8>,
    /// Its TLV 1 (none inside a blinded path: BOLT 2 asks for it only without `path_key`).
    pub attribution: Option<Box<AttributionData>>,
}

impl FailBack {
    /// The channel event that sends it for HTLC `id`.
    pub fn event(self, id: u64) -> Event {
        Event::Fail {
            id,
            reason: self.reason,
            attribution: self.attribution,
        }
    }
}

/// A failure for the sender, from the hop that peeled its onion, which held
/// the HTLC for `hold_time` (units of 100 ms).
pub fn failure_onion(
    shared_secret: &[u8; 32],
    message: &FailureMessage,
    hold_time: u32,
) -> FailBack {
    let bytes = message
        .encode()
        .expect("our failure messages are well formed");
    let (reason, attribution) = failure::fail_back(shared_secret, &bytes, hold_time);
    FailBack {
        reason,
        attribution: Some(Box::new(attribution)),
    }
}

/// The payee's `update_fulfill_htlc` for HTLC `id`, with its attribution
/// data (BOLT 4 "Hold times for successful payments").
pub fn fulfill_event(
    id: u64,
    preimage: PaymentPreimage,
    shared_secret: Option<&[u8; 32]>,
    hold_time: u32,
) -> Event {
    Event::Fulfill {
        id,
        preimage,
        attribution: shared_secret
            .map(|ss| Box::new(failure::fulfill_attribution(ss, None, hold_time))),
    }
}

/// The shared secret of `htlc`'s onion with its sender, when it peels and
/// the HTLC is not inside a blinded path (where no attribution data goes back).
pub fn attribution_secret(signer: &NodeSigner, htlc: &UpdateAddHtlc) -> Option<[u8; 32]> {
    if htlc.path_key.is_some() {
        return None;
    }
    let packet = OnionPacket::parse(&htlc.onion).ok()?;
    let peeled = signer
        .peel_onion(&packet, &htlc.payment_hash.0, None)
        .ok()?;
    Some(peeled.shared_secret)
}

/// BOLT 4: `incorrect_or_unknown_payment_details` with the HTLC's amount and our height.
fn unknown_details(htlc: &UpdateAddHtlc, height: u32) -> FailureMessage {
    FailureMessage::named(
        "incorrect_or_unknown_payment_details",
        vec![
            ("htlc_msat", FailureValue::Uint(htlc.amount.0)),
            ("height", FailureValue::Uint(u64::from(height))),
        ],
    )
}

/// The payee's decision on an irrevocably committed HTLC: peel the onion,
/// then check it against the invoice as BOLT 4 asks of the final node.
pub fn decide(
    signer: &NodeSigner,
    channel: &str,
    htlc: &UpdateAddHtlc,
    invoice: Option<&InvoiceRecord>,
    height: u32,
    now: u64,
) -> Decision {
    let onion_hash: [u8; 32] = Sha256::digest(&htlc.onion).into();
    let Ok(packet) = OnionPacket::parse(&htlc.onion) else {
        return Decision::Malformed(onion_hash, code("invalid_onion_version"));
    };
    let peeled = match signer.peel_onion(&packet, &htlc.payment_hash.0, htlc.path_key.as_ref()) {
        Ok(p) => p,
        Err(_) => return Decision::Malformed(onion_hash, code("invalid_onion_hmac")),
    };
    let ss = peeled.shared_secret;
    let fail = |m: FailureMessage, why: String| {
        let mut back = failure_onion(&ss, &m, 0);
        if htlc.path_key.is_some() {
            back.attribution = None;
        }
        Decision::Fail(back, why)
    };
    let attribution_ss = htlc.path_key.is_none().then_some(ss);
    let payload = match HopPayload::decode(&peeled.payload) {
        Ok(p) => p,
        Err(e) => {
            let m = FailureMessage::named(
                "invalid_onion_payload",
                vec![
                    ("type", FailureValue::Uint(0)),
                    ("offset", FailureValue::Uint(0)),
                ],
            );
            return fail(m, format!("the payload is invalid: {e}"));
        }
    };
    if let Some(next) = &peeled.next {
        let Some(scid) = payload.short_channel_id else {
            // BOLT 4: a forwarding payload without short_channel_id (type 6) is invalid.
            let m = FailureMessage::named(
                "invalid_onion_payload",
                vec![
                    ("type", FailureValue::Uint(6)),
                    ("offset", FailureValue::Uint(0)),
                ],
            );
            return fail(m, "a forwarding payload without short_channel_id".into());
        };
        return Decision::Forward(Box::new(Forward {
            short_channel_id: scid,
            amt_to_forward: payload.amt_to_forward,
            outgoing_cltv: payload.outgoing_cltv,
            next_onion: next.serialize(),
            shared_secret: ss,
        }));
    }
    let unknown = |why: String| fail(unknown_details(htlc, height), why);
    // BOLT 2: "MUST fail (and not forward) an HTLC whose fulfillment
    // deadline is already past". Ours is FULFILLED_HTLC_MARGIN blocks before
    // its expiry; an HTLC at it would fail the channel once fulfilled. (Not
    // for one we fulfilled before a restart: that one is fulfilled again.)
    let deadline_come = || {
        (htlc.cltv_expiry.0 <= height + FULFILLED_HTLC_MARGIN).then(|| {
            unknown(format!(
                "cltv_expiry {} is within {FULFILLED_HTLC_MARGIN} blocks of the height {height}: its fulfilment deadline has come",
                htlc.cltv_expiry.0
            ))
        })
    };
    // BOLT 4: only a `cltv_expiry` *below* the onion's `outgoing_cltv_value`
    // is an error. A sender may add a shadow route's offset to the HTLC
    // (BOLT 7's privacy advice; Core Lightning's `pay` does on about half
    // its payments), which leaves the HTLC's expiry above the onion's.
    if htlc.cltv_expiry < payload.outgoing_cltv {
        let m = FailureMessage::named(
            "final_incorrect_cltv_expiry",
            vec![(
                "cltv_expiry",
                FailureValue::Uint(u64::from(htlc.cltv_expiry.0)),
            )],
        );
        return fail(
            m,
            "the HTLC's cltv_expiry is below the onion's outgoing_cltv_value".into(),
        );
    }
    if payload.amt_to_forward > htlc.amount {
        let m = FailureMessage::named(
            "final_incorrect_htlc_amount",
            vec![("incoming_htlc_amt", FailureValue::Uint(htlc.amount.0))],
        );
        return fail(
            m,
            "the HTLC carries less than the onion's amt_to_forward".into(),
        );
    }
    if let Some(p) = payload.keysend_preimage {
        // bLIP 3 keysend: the preimage comes with the payment, no invoice needed.
        let p = PaymentPreimage(p);
        if p.payment_hash() != htlc.payment_hash {
            return unknown("the keysend preimage does not hash to the payment_hash".into());
        }
        if htlc.cltv_expiry < CltvExpiry(height + KEYSEND_MIN_FINAL_CLTV_DELTA) {
            return unknown(format!(
                "cltv_expiry {} is below the height {height} plus {KEYSEND_MIN_FINAL_CLTV_DELTA} for keysend",
                htlc.cltv_expiry.0
            ));
        }
        match invoice.filter(|i| i.paid_at.is_some()) {
            Some(inv) if !inv.paid_by_htlc(channel, htlc.id) => {
                return unknown("this payment_hash is already paid".into());
            }
            Some(_) => {}
            None => {
                if let Some(refused) = deadline_come() {
                    return refused;
                }
            }
        }
        return Decision::Fulfill(p, attribution_ss);
    }
    let Some(inv) = invoice else {
        return unknown("no invoice has this payment_hash".into());
    };
    let preimage = <[u8; 32]>::try_from(hex::decode(&inv.preimage).unwrap_or_default()).ok();
    if inv.canceled {
        return unknown("the invoice was cancelled".into());
    }
    if preimage.is_none() && !inv.hold {
        return unknown("the invoice's preimage is unreadable".into());
    }
    let secret = hex::decode(&inv.payment_secret).unwrap_or_default();
    // BOLT 4: for every check, "amount paid" is the set's `total_msat`.
    let total = match &payload.payment_data {
        Some((s, total)) if s[..] == secret[..] => *total,
        Some(_) => return unknown("the payment_secret does not match the invoice's".into()),
        None => return unknown("the onion has no payment_secret".into()),
    };
    if inv.paid_at.is_some() {
        // The same HTLC again (we restarted before our fulfil was stored): fulfil it again.
        if let (true, Some(p)) = (inv.paid_by_htlc(channel, htlc.id), preimage) {
            return Decision::Fulfill(PaymentPreimage(p), attribution_ss);
        }
        return unknown("the invoice is already paid".into());
    }
    if let Some(refused) = deadline_come() {
        return refused;
    }
    if now > inv.expires_at {
        return unknown("the invoice has expired".into());
    }
    if let Some(asked) = inv.amount_msat {
        // BOLT 4: less than asked, or more than twice, is refused.
        if total.0 < asked || total.0 > asked.saturating_mul(2) {
            return unknown(format!(
                "{} msat is paid for an invoice of {asked} msat",
                total.0
            ));
        }
    }
    if htlc.cltv_expiry < CltvExpiry(height.saturating_add(inv.min_final_cltv_expiry_delta)) {
        return unknown(format!(
            "cltv_expiry {} is below the height {height} plus the invoice's min_final_cltv_expiry_delta {}",
            htlc.cltv_expiry.0, inv.min_final_cltv_expiry_delta
        ));
    }
    if total > payload.amt_to_forward {
        // BOLT 4 "Basic Multi-Part Payments": one HTLC of a set, held until the set is whole.
        return Decision::Part(Box::new(SetPart {
            total,
            amount: payload.amt_to_forward,
            shared_secret: ss,
            preimage: preimage.map(PaymentPreimage),
        }));
    }
    match preimage {
        Some(p) => Decision::Fulfill(PaymentPreimage(p), attribution_ss),
        None => Decision::Hold,
    }
}

/// `temporary_channel_failure` wrapped for the sender of `htlc`, when its onion peels.
pub fn temporary_failure(signer: &NodeSigner, htlc: &UpdateAddHtlc) -> Option<FailBack> {
    let packet = OnionPacket::parse(&htlc.onion).ok()?;
    let peeled = signer
        .peel_onion(&packet, &htlc.payment_hash.0, htlc.path_key.as_ref())
        .ok()?;
    let mut back = failure_onion(
        &peeled.shared_secret,
        &super::forward::temporary_channel_failure(),
        0,
    );
    if htlc.path_key.is_some() {
        back.attribution = None;
    }
    Some(back)
}
