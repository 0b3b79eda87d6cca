//! Payments at one hop: the invoice we issue, the onion we send, and what
//! the payee decides on an incoming HTLC (BOLT 4 "Payload for the Last
//! Node" and "Failure Messages"). Pure functions over the toolkit's invoice,
//! onion and failure codecs; the node stores and sends.

use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use sha2::{Digest, Sha256};

use crate::amount::Msat;
use crate::channel::UpdateAddHtlc;
use crate::invoice::{Field, Invoice};
use crate::onion::failure::{self, FailureCode, FailureMessage, FailureValue};
use crate::onion::packet::{create_onion, OnionPacket};
use crate::onion::payload::HopPayload;
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::signer::NodeSigner;

use super::store::InvoiceRecord;

/// The default `min_final_cltv_expiry_delta` of our invoices (BOLT 11's default).
pub const DEFAULT_FINAL_CLTV_DELTA: u32 = 18;
/// Blocks a sender adds to the final CLTV, so a block found in flight does not fail it.
pub const FINAL_CLTV_MARGIN: u32 = 3;

/// The invoice fields and signature for `record`'s payment.
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
) -> Result<String, crate::invoice::InvoiceError> {
    let invoice = Invoice {
        currency: currency.to_string(),
        amount_msat: amount.map(|a| a.0),
        timestamp: now,
        fields: vec![
            Field::PaymentHash(hash.0),
            Field::PaymentSecret(*secret),
            Field::Description(description.to_string()),
            Field::Expiry(expiry),
            Field::MinFinalCltvExpiryDelta(u64::from(cltv_delta)),
            // var_onion_optin required, payment_secret required, basic_mpp optional.
            Field::Features(vec![8, 14, 17]),
        ],
    };
    signer.sign_invoice(&invoice)
}

/// An onion to `payee`, our direct peer, and the shared secret to read its failure.
pub fn direct_onion(
    secp: &Secp256k1<All>,
    session_key: &SecretKey,
    payee: &PublicKey,
    payload: &HopPayload,
    hash: &PaymentHash,
) -> Result<(Vec<u8>, [u8; 32]), crate::onion::packet::CreateError> {
    let created = create_onion(secp, session_key, &[(*payee, payload.encode())], &hash.0)?;
    Ok((created.packet.serialize(), created.hops[0].shared_secret))
}

/// What the payee does with an HTLC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Fulfil: the invoice is paid.
    Fulfill(PaymentPreimage),
    /// Fail with this failure onion; the text says why.
    Fail(Vec<u8>, String),
    /// The onion is not for us (BADONION): `update_fail_malformed_htlc`.
    Malformed([u8; 32], u16),
    /// A hold invoice without its preimage yet: the HTLC waits.
    Hold,
}

fn code(name: &str) -> u16 {
    FailureCode::by_name(name)
        .expect("a BOLT 4 failure name")
        .code
}

/// A failure onion for the sender, from the hop that peeled it.
pub fn failure_onion(shared_secret: &[u8; 32], message: &FailureMessage) -> Vec<u8> {
    let bytes = message
        .encode()
        .expect("our failure messages are well formed");
    let mut packet = failure::raw_error_packet(shared_secret, &bytes, 256);
    failure::obfuscate(shared_secret, &mut packet);
    packet
}

/// BOLT 4: `incorrect_or_unknown_payment_details` with the HTLC's amount and our height.
fn unknown_details(htlc: &UpdateAddHtlc, height: u32) -> FailureMessage {
    FailureMessage {
        code: code("incorrect_or_unknown_payment_details"),
        fields: vec![
            ("htlc_msat", FailureValue::Uint(htlc.amount.0)),
            ("height", FailureValue::Uint(u64::from(height))),
        ],
        tlvs: vec![],
    }
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
    let fail = |m: FailureMessage, why: String| Decision::Fail(failure_onion(&ss, &m), why);
    let simple = |name: &str| FailureMessage {
        code: code(name),
        fields: vec![],
        tlvs: vec![],
    };
    let payload = match HopPayload::decode(&peeled.payload) {
        Ok(p) => p,
        Err(e) => {
            let m = FailureMessage {
                code: code("invalid_onion_payload"),
                fields: vec![
                    ("type", FailureValue::Uint(0)),
                    ("offset", FailureValue::Uint(0)),
                ],
                tlvs: vec![],
            };
            return fail(m, format!("the payload is invalid: {e}"));
        }
    };
    if peeled.next.is_some() {
        // Forwarding is the next step; until then we are only ever the last hop.
        return fail(
            simple("unknown_next_peer"),
            "asked to forward; this node does not forward yet".into(),
        );
    }
    let unknown = |why: String| fail(unknown_details(htlc, height), why);
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
    if payload.outgoing_cltv != htlc.cltv_expiry {
        let m = FailureMessage {
            code: code("final_incorrect_cltv_expiry"),
            fields: vec![(
                "cltv_expiry",
                FailureValue::Uint(u64::from(htlc.cltv_expiry.0)),
            )],
            tlvs: vec![],
        };
        return fail(
            m,
            "the onion's outgoing_cltv_value is not the HTLC's cltv_expiry".into(),
        );
    }
    if payload.amt_to_forward > htlc.amount {
        let m = FailureMessage {
            code: code("final_incorrect_htlc_amount"),
            fields: vec![("incoming_htlc_amt", FailureValue::Uint(htlc.amount.0))],
            tlvs: vec![],
        };
        return fail(
            m,
            "the HTLC carries less than the onion's amt_to_forward".into(),
        );
    }
    match &payload.payment_data {
        Some((s, total)) if s[..] == secret[..] => {
            if *total != htlc.amount {
                return unknown(
                    "a multi-part payment; this node takes single parts only for now".into(),
                );
            }
        }
        Some(_) => return unknown("the payment_secret does not match the invoice's".into()),
        None => return unknown("the onion has no payment_secret".into()),
    }
    if let Some((c, id)) = &inv.paid_by {
        // The same HTLC again (we restarted before our fulfil was stored): fulfil it again.
        if let (true, Some(p)) = (c == channel && *id == htlc.id, preimage) {
            return Decision::Fulfill(PaymentPreimage(p));
        }
        return unknown("the invoice is already paid".into());
    }
    if now > inv.expires_at {
        return unknown("the invoice has expired".into());
    }
    if let Some(asked) = inv.amount_msat {
        // BOLT 4: less than asked, or more than twice, is refused.
        if htlc.amount.0 < asked || htlc.amount.0 > asked.saturating_mul(2) {
            return unknown(format!(
                "{} msat arrived for an invoice of {asked} msat",
                htlc.amount.0
            ));
        }
    }
    if htlc.cltv_expiry < CltvExpiry(height + inv.min_final_cltv_expiry_delta) {
        return unknown(format!(
            "cltv_expiry {} is below the height {height} plus the invoice's min_final_cltv_expiry_delta {}",
            htlc.cltv_expiry.0, inv.min_final_cltv_expiry_delta
        ));
    }
    match preimage {
        Some(p) => Decision::Fulfill(PaymentPreimage(p)),
        None => Decision::Hold,
    }
}

/// `temporary_channel_failure` wrapped for the sender of `htlc`, when its onion peels.
pub fn temporary_failure(signer: &NodeSigner, htlc: &UpdateAddHtlc) -> Option<Vec<u8>> {
    let packet = OnionPacket::parse(&htlc.onion).ok()?;
    let peeled = signer
        .peel_onion(&packet, &htlc.payment_hash.0, htlc.path_key.as_ref())
        .ok()?;
    let m = FailureMessage {
        code: code("temporary_channel_failure"),
        // BOLT 4: `channel_update` of the channel; none yet without gossip (an empty one).
        fields: vec![("channel_update", FailureValue::Bytes(vec![]))],
        tlvs: vec![],
    };
    Some(failure_onion(&peeled.shared_secret, &m))
}

/// The name (and fields) of the failure a payee sent back.
pub fn read_failure(shared_secret: &[u8; 32], reason: &[u8]) -> String {
    match failure::decode_failure(&[*shared_secret], reason, None) {
        Ok(d) => match FailureMessage::decode(&d.failure_message) {
            Ok(m) => {
                let fields: Vec<String> = m
                    .fields
                    .iter()
                    .map(|(n, v)| match v {
                        FailureValue::Uint(u) => format!("{n}={u}"),
                        FailureValue::Bytes(b) => format!("{n}={}", hex::encode(b)),
                    })
                    .collect();
                let name = m
                    .name()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("failure code {:#06x}", m.code));
                if fields.is_empty() {
                    format!("{name} from the payee")
                } else {
                    format!("{name} from the payee ({})", fields.join(", "))
                }
            }
            Err(e) => format!("an unreadable failure message from the payee: {e}"),
        },
        Err(e) => format!("a failure onion that does not decode: {e}"),
    }
}
