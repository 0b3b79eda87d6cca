//! Payments across a network of lnkit nodes on the embedded chain (BOLT 4):
//! routed over the live graph, forwarded by the nodes between, failures
//! decoded to the hop that sent them, the payment loop learning and
//! retrying, multi-part payments over two paths, and keysend.

use lnkit::node::core::NodeHandle;
use serde_json::{json, Value};

use crate::common;
use common::inprocess::{call, network, scid_of, try_call, try_call_within, until, Net};

async fn invoice(n: &NodeHandle, label: &str, amount_msat: u64) -> String {
    call(
        n,
        "invoice",
        json!({"amount_msat": amount_msat, "label": label, "description": label}),
    )
    .await["bolt11"]
        .as_str()
        .unwrap()
        .to_string()
}

fn pay_entry<'a>(v: &'a Value, bolt11: &str) -> &'a Value {
    v["pays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["bolt11"] == bolt11)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_crosses_a_forwarding_node_and_failures_name_their_origin() {
    let net = Net::new();
    let n = network(
        &net,
        &["a", "b", "c"],
        &[(0, 1, 1_000_000, true), (1, 2, 1_000_000, true)],
    )
    .await;
    let (a, b, c) = (&n[0], &n[1], &n[2]);
    let (ab, bc) = (scid_of(a, b).await, scid_of(b, c).await);

    // a pays c through b: b keeps its fee (Core Lightning's defaults: 1000 msat + 10 ppm).
    let amount = 100_000_000;
    let bolt11 = invoice(c, "through-b", amount).await;
    let paid = call(a, "pay", json!({"bolt11": bolt11})).await;
    let fee = 1000 + amount / 100_000;
    assert_eq!(paid["status"], "complete");
    assert_eq!(paid["amount_msat"], amount);
    assert_eq!(paid["amount_sent_msat"], amount + fee);
    let pays = call(a, "listpays", json!({})).await;
    let entry = pay_entry(&pays, &bolt11);
    let route = &entry["attempts"][0]["route"];
    assert_eq!(route[0]["id"], b.node_id.to_string());
    assert_eq!(route[0]["channel"], ab);
    assert_eq!(route[1]["id"], c.node_id.to_string());
    assert_eq!(route[1]["channel"], bc);
    assert_eq!(route[0]["amount_msat"], amount + fee);
    assert_eq!(route[1]["amount_msat"], amount);
    let fwd = until(b, "listforwards", json!({}), |v| {
        v["forwards"][0]["status"] == "settled"
    })
    .await;
    let f = &fwd["forwards"][0];
    assert_eq!(
        (f["in_channel"].as_str(), f["out_channel"].as_str()),
        (Some(ab.as_str()), Some(bc.as_str()))
    );
    assert_eq!(f["fee_msat"], fee);
    assert_eq!(f["in_msat"], amount + fee);
    let inv = call(c, "listinvoices", json!({"label": "through-b"})).await;
    assert_eq!(inv["invoices"][0]["status"], "paid");
    assert_eq!(inv["invoices"][0]["amount_received_msat"], amount);
    // Attribution data (BOLT 4, `option_attribution_data`): both hops'
    // hold times came back with the preimage, each HMAC verified.
    assert_eq!(
        entry["attempts"][0]["hold_times_ms"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{entry}"
    );

    // A hold invoice at c, settled 700 ms after its HTLC arrived: c and b
    // each report holding it about that long, in the fulfil's attribution data.
    let preimage = "42".repeat(32);
    let held_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        hex::decode(&preimage).unwrap(),
    ));
    let slow = call(
        c,
        "invoice",
        json!({"amount_msat": 3_000_000, "label": "slow", "description": "slow", "payment_hash": held_hash}),
    )
    .await["bolt11"]
        .as_str()
        .unwrap()
        .to_string();
    let settle = async {
        until(c, "listpeerchannels", json!({}), |v| {
            v["channels"].as_array().unwrap().iter().any(|ch| {
                ch["htlcs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h["payment_hash"] == held_hash.as_str())
            })
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        call(c, "settleinvoice", json!({"preimage": preimage})).await;
    };
    let (paid, ()) = tokio::join!(call(a, "pay", json!({"bolt11": slow})), settle);
    assert_eq!(paid["status"], "complete");
    let pays = call(a, "listpays", json!({"bolt11": slow})).await;
    let holds: Vec<u64> = pays["pays"][0]["attempts"][0]["hold_times_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_u64().unwrap())
        .collect();
    assert_eq!(holds.len(), 2, "{pays}");
    assert!(holds[1] >= 500, "c held it 700 ms: {holds:?}");
    assert!(holds[0] >= holds[1], "b held it longer than c: {holds:?}");

    // The payee refuses (a cancelled hold invoice): PERM from the final
    // node ends the payment at once, its origin named.
    let hash = "11".repeat(32);
    let held = call(
        c,
        "invoice",
        json!({"amount_msat": 5_000_000, "label": "cancelled", "description": "x", "payment_hash": hash}),
    )
    .await["bolt11"]
        .as_str()
        .unwrap()
        .to_string();
    call(c, "cancelinvoice", json!({"payment_hash": hash})).await;
    let e = try_call(a, "pay", json!({"bolt11": held}))
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("the payee refused it: incorrect_or_unknown_payment_details"),
        "{}",
        e.message
    );
    let pays = call(a, "listpays", json!({"bolt11": held})).await;
    let part = &pays["pays"][0]["attempts"][0];
    assert_eq!(pays["pays"][0]["status"], "failed");
    assert_eq!(part["failcode"], "incorrect_or_unknown_payment_details");
    assert_eq!(part["erring_node"], c.node_id.to_string());
    assert_eq!(part["erring_channel"], Value::Null);
    assert_eq!(part["hold_times_ms"].as_array().unwrap().len(), 2, "{part}");
    assert_eq!(
        pays["pays"][0]["attempts"].as_array().unwrap().len(),
        1,
        "no retry after a PERM failure from the payee"
    );

    // b moves most of b—c to c: a's graph still says 1,000,000 sat. A
    // payment over what b has left fails at b (temporary_channel_failure,
    // from hop 1 on b—c); a learns and finds no other way.
    let left = call(b, "listpeerchannels", json!({})).await["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["short_channel_id"] == bc)
        .unwrap()["spendable_msat"]
        .as_u64()
        .unwrap();
    let big = invoice(c, "b-drains", left - 300_000_000).await;
    call(b, "pay", json!({"bolt11": big})).await;
    let too_much = invoice(c, "too-much", 400_000_000).await;
    let e = try_call(a, "pay", json!({"bolt11": too_much}))
        .await
        .unwrap_err();
    assert!(e.message.contains("no route to"), "{}", e.message);
    assert!(
        e.message.contains(&format!(
            "temporary_channel_failure from hop 1 ({}) on channel {bc}",
            b.node_id
        )),
        "says what was tried: {}",
        e.message
    );
    let pays = call(a, "listpays", json!({"bolt11": too_much})).await;
    let part = &pays["pays"][0]["attempts"][0];
    assert_eq!(part["failcode"], "temporary_channel_failure");
    assert_eq!(part["erring_node"], b.node_id.to_string());
    assert_eq!(part["erring_channel"], bc);
    assert_eq!(
        part["hold_times_ms"].as_array().unwrap().len(),
        1,
        "only b, the erring hop, reported: {part}"
    );
    let fwd = call(b, "listforwards", json!({"status": "local_failed"})).await;
    assert_eq!(fwd["forwards"][0]["failcode"], "temporary_channel_failure");
    // What a learned lets a payment that fits go through at once.
    let fits = invoice(c, "fits", 200_000_000).await;
    let paid = call(a, "pay", json!({"bolt11": fits})).await;
    assert_eq!(paid["parts"], 1);
    let pays = call(a, "listpays", json!({"bolt11": fits})).await;
    assert_eq!(pays["pays"][0]["attempts"].as_array().unwrap().len(), 1);

    // The fee budget: below the cheapest route's fee, the error says that fee.
    let dear = invoice(c, "dear", 50_000_000).await;
    let e = try_call(a, "pay", json!({"bolt11": dear, "maxfee_msat": 100}))
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("pays 1500 msat in fees, above the fee budget of 100 msat"),
        "{}",
        e.message
    );
    // An invoice already paid.
    let e = try_call(a, "pay", json!({"bolt11": bolt11}))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "bolt11: this invoice is already paid (see listpays)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_part_payments_take_two_paths_and_an_incomplete_set_times_out() {
    let net = Net::new();
    let sat = 1_000_000;
    let n = network(
        &net,
        &["a", "b", "c", "d"],
        &[
            (0, 1, sat, true),
            (0, 2, sat, true),
            (1, 3, sat, true),
            (2, 3, sat, true),
        ],
    )
    .await;
    let (a, b, d) = (&n[0], &n[1], &n[3]);

    // More than either path holds: two parts, one through b and one through c.
    let amount = 1_200_000_000;
    let bolt11 = invoice(d, "two-paths", amount).await;
    let paid = call(a, "pay", json!({"bolt11": bolt11})).await;
    assert_eq!(paid["status"], "complete");
    assert_eq!(paid["parts"], 2);
    assert_eq!(paid["amount_msat"], amount);
    let inv = call(d, "listinvoices", json!({"label": "two-paths"})).await;
    assert_eq!(inv["invoices"][0]["status"], "paid");
    assert_eq!(inv["invoices"][0]["amount_received_msat"], amount);
    let pays = call(a, "listpays", json!({"bolt11": bolt11})).await;
    let firsts: Vec<&Value> = pays["pays"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "complete")
        .map(|p| &p["route"][0]["id"])
        .collect();
    assert_eq!(firsts.len(), 2);
    assert_ne!(firsts[0], firsts[1], "the parts take different first hops");
    let sent: u64 = pays["pays"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "complete")
        .map(|p| p["amount_msat"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, amount, "the parts add up to the amount, no more");

    // b—d drained by b: of a new two-part payment, the part through b
    // fails at b; with one attempt allowed, no part replaces it, and d
    // fails the part it holds with mpp_timeout after 60 s (BOLT 4).
    let left = call(b, "listpeerchannels", json!({})).await["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["peer_id"] == d.node_id.to_string())
        .unwrap()["spendable_msat"]
        .as_u64()
        .unwrap();
    let drain = invoice(d, "drain", left - 10_000_000).await;
    call(b, "pay", json!({"bolt11": drain})).await;
    let partial = invoice(d, "partial", 700_000_000).await;
    // BOLT 4's 60 s, and the failure's way back.
    let e = try_call_within(
        a,
        "pay",
        json!({"bolt11": partial, "max_attempts": 1, "retry_for": 120}),
        std::time::Duration::from_secs(110),
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("out of attempts"), "{}", e.message);
    let pays = call(a, "listpays", json!({"bolt11": partial})).await;
    let codes: Vec<&Value> = pays["pays"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["failcode"])
        .collect();
    assert!(codes.contains(&&json!("mpp_timeout")), "{codes:?}");
    assert!(
        codes.contains(&&json!("temporary_channel_failure")),
        "{codes:?}"
    );
    let inv = call(d, "listinvoices", json!({"label": "partial"})).await;
    assert_eq!(inv["invoices"][0]["status"], "unpaid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keysend_both_ways_and_a_route_hint_to_a_private_channel() {
    let net = Net::new();
    let n = network(
        &net,
        &["a", "b", "c", "d"],
        &[
            (0, 1, 1_000_000, true),
            (1, 2, 1_000_000, true),
            (2, 3, 1_000_000, false),
        ],
    )
    .await;
    let (a, b, c, d) = (&n[0], &n[1], &n[2], &n[3]);
    let sent = call(
        a,
        "keysend",
        json!({"destination": c.node_id.to_string(), "amount_msat": 50_000_000}),
    )
    .await;
    assert_eq!(sent["status"], "complete");
    assert_eq!(sent["amount_msat"], 50_000_000);
    let hash = sent["payment_hash"].as_str().unwrap();
    let inv = call(c, "listinvoices", json!({"payment_hash": hash})).await;
    assert_eq!(inv["invoices"][0]["status"], "paid");
    assert_eq!(inv["invoices"][0]["amount_received_msat"], 50_000_000);
    assert_eq!(
        inv["invoices"][0]["payment_preimage"],
        sent["payment_preimage"]
    );
    // Back from c to a, through b.
    let back = call(
        c,
        "keysend",
        json!({"destination": a.node_id.to_string(), "amount_msat": 10_000_000}),
    )
    .await;
    assert_eq!(back["status"], "complete");
    let fwd = call(b, "listforwards", json!({"status": "settled"})).await;
    assert_eq!(fwd["forwards"].as_array().unwrap().len(), 2);
    // A node nobody knows.
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let stranger = bitcoin::secp256k1::PublicKey::from_secret_key(
        &secp,
        &bitcoin::secp256k1::SecretKey::from_slice(&[7; 32]).unwrap(),
    )
    .to_string();
    let e = try_call(
        a,
        "keysend",
        json!({"destination": stranger, "amount_msat": 1000}),
    )
    .await
    .unwrap_err();
    assert!(
        e.message.starts_with("destination: ") && e.message.contains("is unknown"),
        "{}",
        e.message
    );

    // d is behind a private channel: its invoice carries a route hint
    // (c, the alias c gave d, c's policy toward d), and a pays through it.
    until(d, "listpeerchannels", json!({}), |v| {
        v["channels"][0]["updates"]["remote"].is_object()
    })
    .await;
    let hinted = invoice(d, "hinted", 30_000_000).await;
    let decoded = lnkit::invoice::decode(&secp, &hinted).unwrap();
    let hints: Vec<_> = decoded
        .invoice
        .fields
        .iter()
        .filter_map(|f| match f {
            lnkit::invoice::Field::RouteHint(h) => Some(h.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(hints.len(), 1);
    assert_eq!(hints[0][0].pubkey, c.node_id);
    let paid = call(a, "pay", json!({"bolt11": hinted})).await;
    assert_eq!(paid["status"], "complete");
    let pays = call(a, "listpays", json!({"bolt11": hinted})).await;
    let route = &pays["pays"][0]["attempts"][0]["route"];
    assert_eq!(route.as_array().unwrap().len(), 3);
    assert_eq!(route[2]["id"], d.node_id.to_string());
    // c forwarded over its private channel, named by the alias.
    let fwd = call(c, "listforwards", json!({"status": "settled"})).await;
    assert_eq!(fwd["forwards"].as_array().unwrap().len(), 1);
}

/// Issue 35: an invoice's `min_final_cltv_expiry_delta` is the payee's
/// number, anything 60 bits hold (it was cast to u32 and a margin added,
/// which wrapped). Past the 2016 blocks a route may lock funds, `pay`
/// refuses it by name; and our own `invoice` refuses such a `cltv`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_final_cltv_is_refused_by_name() {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use lnkit::invoice::{Field, Invoice};
    let net = Net::new();
    let a = net.node("a", Default::default()).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for delta in [1u64 << 40, u64::from(u32::MAX), 5_000] {
        let inv = Invoice {
            currency: "bcrt".into(),
            amount_msat: Some(1_000_000),
            timestamp: now,
            fields: vec![
                Field::PaymentHash([1; 32]),
                Field::PaymentSecret([2; 32]),
                Field::Description("far".into()),
                Field::MinFinalCltvExpiryDelta(delta),
            ],
        };
        let bolt11 = inv
            .sign(&Secp256k1::new(), &SecretKey::from_slice(&[7; 32]).unwrap())
            .unwrap();
        let e = try_call(&a, "pay", json!({"bolt11": bolt11}))
            .await
            .unwrap_err();
        assert!(
            e.message.starts_with(&format!(
                "bolt11: min_final_cltv_expiry_delta {delta} is more than the 2016 blocks"
            )),
            "{}",
            e.message
        );
    }
    let e = try_call(
        &a,
        "invoice",
        json!({"amount_msat": 1000, "label": "far", "description": "far", "cltv": 5000}),
    )
    .await
    .unwrap_err();
    assert!(
        e.message.starts_with("cltv: 5000 blocks: at most 2016"),
        "{}",
        e.message
    );
}
