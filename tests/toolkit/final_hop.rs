//! The final node's checks of an HTLC against its onion (BOLT 4 "Payload
//! for the Last Node"), on onions a sender builds with the library's
//! `create_onion`: what Core Lightning sends must be taken.
//!
//! - A shadow route's offset (BOLT 7's privacy advice: CLN's `pay` adds one
//!   to about half its payments) leaves the HTLC's `cltv_expiry` *above*
//!   the onion's `outgoing_cltv_value`. BOLT 4 makes only a lower one an
//!   error (`final_incorrect_cltv_expiry`).
//! - Keysend has no invoice to state a final CLTV delta: CLN's `xkeysend`
//!   sends 22, and the payee takes it (at least 19: the fulfilment deadline
//!   of BOLT 2 is 18 blocks before expiry).

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::Network;
use lnkit::amount::Msat;
use lnkit::channel::onchain::FULFILLED_HTLC_MARGIN;
use lnkit::channel::{ChannelId, UpdateAddHtlc};
use lnkit::node::pay::{decide, Decision, DEFAULT_FINAL_CLTV_DELTA, KEYSEND_MIN_FINAL_CLTV_DELTA};
use lnkit::node::store::InvoiceRecord;
use lnkit::onion::packet::create_onion;
use lnkit::onion::payload::HopPayload;
use lnkit::payment::{CltvExpiry, PaymentPreimage};
use lnkit::signer::{NodeSeed, NodeSigner};

const HEIGHT: u32 = 500;
const AMOUNT: Msat = Msat(50_000_000);
const SECRET: [u8; 32] = [0x5e; 32];
const PREIMAGE: PaymentPreimage = PaymentPreimage([0x42; 32]);

fn payee() -> NodeSigner {
    NodeSeed::new(&[3; 64], Network::Regtest).node()
}

fn invoice() -> InvoiceRecord {
    InvoiceRecord {
        label: "shadow".into(),
        bolt11: String::new(),
        payment_hash: PREIMAGE.payment_hash().to_string(),
        preimage: hex::encode(PREIMAGE.0),
        payment_secret: hex::encode(SECRET),
        amount_msat: Some(AMOUNT.0),
        description: "shadow".into(),
        created_at: 0,
        expires_at: u64::MAX,
        min_final_cltv_expiry_delta: DEFAULT_FINAL_CLTV_DELTA,
        paid_at: None,
        amount_received_msat: None,
        paid_by: None,
        hold: false,
        canceled: false,
        paid_parts: vec![],
    }
}

/// An HTLC to `payee` expiring at `cltv_expiry`, whose one-hop onion says `outgoing_cltv`.
fn htlc(payee: &NodeSigner, payload: HopPayload, cltv_expiry: u32) -> UpdateAddHtlc {
    let secp = Secp256k1::new();
    let hash = PREIMAGE.payment_hash();
    let session = SecretKey::from_slice(&[0x11; 32]).unwrap();
    let onion = create_onion(
        &secp,
        &session,
        &[(payee.node_id(), payload.encode())],
        &hash.0,
    )
    .expect("a one-hop onion");
    UpdateAddHtlc {
        channel_id: ChannelId([1; 32]),
        id: 0,
        amount: AMOUNT,
        payment_hash: hash,
        cltv_expiry: CltvExpiry(cltv_expiry),
        onion: onion.packet.serialize(),
        path_key: None,
    }
}

fn invoice_payload(outgoing_cltv: u32) -> HopPayload {
    HopPayload {
        amt_to_forward: AMOUNT,
        outgoing_cltv: CltvExpiry(outgoing_cltv),
        short_channel_id: None,
        payment_data: Some((SECRET, AMOUNT)),
        payment_metadata: None,
        keysend_preimage: None,
    }
}

fn decision(add: &UpdateAddHtlc, invoice: Option<&InvoiceRecord>) -> Decision {
    decide(&payee(), "chan", add, invoice, HEIGHT, 1)
}

#[test]
fn a_shadow_offset_above_the_onions_cltv_is_taken() {
    let p = payee();
    let outgoing = HEIGHT + DEFAULT_FINAL_CLTV_DELTA;
    // The offsets CLN's shadow route adds, and none.
    for offset in [0, 1, 7, 36, 144] {
        let add = htlc(&p, invoice_payload(outgoing), outgoing + offset);
        match decision(&add, Some(&invoice())) {
            Decision::Fulfill(preimage, _) => assert_eq!(preimage, PREIMAGE),
            other => panic!("offset {offset}: expected a fulfil, got {other:?}"),
        }
    }
}

#[test]
fn an_htlc_expiring_below_the_onions_cltv_fails_with_final_incorrect_cltv_expiry() {
    let p = payee();
    let outgoing = HEIGHT + 40;
    let add = htlc(&p, invoice_payload(outgoing), outgoing - 1);
    match decision(&add, Some(&invoice())) {
        Decision::Fail(_, why) => assert!(
            why.contains("below the onion's outgoing_cltv_value"),
            "{why}"
        ),
        other => panic!("expected final_incorrect_cltv_expiry, got {other:?}"),
    }
}

fn keysend_payload(outgoing_cltv: u32) -> HopPayload {
    HopPayload {
        payment_data: Some(([7; 32], AMOUNT)),
        keysend_preimage: Some(PREIMAGE.0),
        ..invoice_payload(outgoing_cltv)
    }
}

#[test]
fn keysend_with_core_lightnings_final_delta_of_22_is_taken() {
    let p = payee();
    for delta in [KEYSEND_MIN_FINAL_CLTV_DELTA, 22, 40] {
        let add = htlc(&p, keysend_payload(HEIGHT + delta), HEIGHT + delta);
        match decision(&add, None) {
            Decision::Fulfill(preimage, _) => assert_eq!(preimage, PREIMAGE),
            other => panic!("delta {delta}: expected a fulfil, got {other:?}"),
        }
    }
    let short = HEIGHT + KEYSEND_MIN_FINAL_CLTV_DELTA - 1;
    match decision(&htlc(&p, keysend_payload(short), short), None) {
        Decision::Fail(_, why) => assert!(why.contains("for keysend"), "{why}"),
        other => panic!(
            "a delta of {} is too near: {other:?}",
            KEYSEND_MIN_FINAL_CLTV_DELTA - 1
        ),
    }
}

/// BOLT 2: the final node MUST fail an HTLC whose fulfilment deadline
/// (`FULFILLED_HTLC_MARGIN` blocks before its expiry) has come: fulfilled,
/// it would fail the channel at the next block unless the commitment round
/// ended first. Core Lightning paid lnkit's invoices (which asked 18) at
/// exactly 18, and a block found during the round force-closed the channel.
/// The node's invoices now ask more than the margin.
#[test]
fn an_htlc_at_its_fulfilment_deadline_is_refused_and_our_invoices_leave_room() {
    let p = payee();
    // An invoice that asked 18 (made before, or with `cltv: 18`).
    let asked_18 = InvoiceRecord {
        min_final_cltv_expiry_delta: 18,
        ..invoice()
    };
    let at = HEIGHT + FULFILLED_HTLC_MARGIN;
    match decision(&htlc(&p, invoice_payload(at), at), Some(&asked_18)) {
        Decision::Fail(_, why) => assert!(why.contains("fulfilment deadline"), "{why}"),
        other => panic!("an HTLC at its deadline: {other:?}"),
    }
    let keysend = htlc(&p, keysend_payload(at), at);
    assert!(matches!(decision(&keysend, None), Decision::Fail(..)));
    // An HTLC paid at exactly what our invoices ask is still before that
    // deadline blocks later (a round in flight, a block found meanwhile).
    let inv = InvoiceRecord {
        min_final_cltv_expiry_delta: DEFAULT_FINAL_CLTV_DELTA,
        ..invoice()
    };
    let expiry = HEIGHT + DEFAULT_FINAL_CLTV_DELTA;
    let add = htlc(&p, invoice_payload(expiry), expiry);
    let fulfilled_at = |height: u32| {
        let inv = InvoiceRecord {
            min_final_cltv_expiry_delta: 0,
            ..inv.clone()
        };
        matches!(
            decide(&p, "chan", &add, Some(&inv), height, 1),
            Decision::Fulfill(..)
        )
    };
    assert!(matches!(decision(&add, Some(&inv)), Decision::Fulfill(..)));
    for later in 1..6 {
        assert!(fulfilled_at(HEIGHT + later), "{later} blocks after arrival");
    }
}
