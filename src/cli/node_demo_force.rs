//! `lnkit node demo --force-close`: the hard closes, told step by step.
//! A force-closes A–B with an HTLC held each way, and both are resolved on
//! chain (BOLT 5); B broadcasts a revoked state of B–C, and C's penalty
//! takes the whole channel.

use std::time::Duration;

use serde_json::{json, Value};

use super::node_demo::Demo;
use super::CliError;
use crate::node::core::NodeHandle;
use crate::payment::PaymentPreimage;

/// The preimage the demo's hold invoices are for: `[n; 32]`.
fn demo_preimage(n: u8) -> PaymentPreimage {
    PaymentPreimage([n; 32])
}

fn any_closed(v: &Value) -> bool {
    v["closedchannels"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
}

/// Returns A's and C's `listclosedchannels`.
pub(super) async fn force_closes(
    d: &mut Demo<'_>,
    [a, b, c]: [&NodeHandle; 3],
    addr_a: &str,
) -> Result<Value, CliError> {
    let idb = b.node_id.to_string();
    // An HTLC each way on A–B, held: a hold invoice knows only the hash.
    for (payee_name, payee, payer_name, payer, n, amount) in [
        ("B", b, "A", a, 1u8, 30_000_000u64),
        ("A", a, "B", b, 2u8, 20_000_000u64),
    ] {
        let hash = hex::encode(demo_preimage(n).payment_hash().0);
        let inv = d
            .call(
                payee_name,
                payee,
                "invoice",
                json!({"amount_msat": amount, "label": format!("hold-{n}"),
                       "description": "held", "payment_hash": hash}),
                "a hold invoice: only the payment hash is known, so its HTLC will wait",
            )
            .await?;
        // Pending by design: `retry_for: 0` answers at once.
        let _ = payer
            .call("pay", json!({"bolt11": inv["bolt11"], "retry_for": 0}))
            .await;
        d.ex.line(format!(
            "{payer_name}: pay: update_add_htlc to {payee_name}, committed both ways, and held there"
        ));
    }
    d.until(a, "listpeerchannels", "two HTLCs on A–B", |v| {
        v["channels"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["htlcs"].as_array().is_some_and(|h| h.len() == 2))
        })
    })
    .await?;
    // The last revoke_and_ack lands: both commitments hold both HTLCs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.call(
        "A",
        a,
        "close",
        json!({"id": idb, "force": true}),
        "close --force: A broadcasts its latest commitment (its anchor would pay a CPFP if the feerate were short)",
    )
    .await?;
    d.mine(
        1,
        addr_a,
        "the commitment confirms: both nodes resolve its outputs (BOLT 5)",
    )?;
    d.until(b, "listpeerchannels", "B to see A's commitment", |v| {
        v["channels"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["state"] == "ONCHAIN"))
    })
    .await?;
    d.call(
        "B",
        b,
        "settleinvoice",
        json!({"preimage": hex::encode(demo_preimage(1).0)}),
        "B gets its preimage: it claims A's HTLC straight from A's commitment; A reads the preimage from B's witness",
    )
    .await?;
    d.call(
        "A",
        a,
        "settleinvoice",
        json!({"preimage": hex::encode(demo_preimage(2).0)}),
        "A claims B's HTLC with an HTLC-success transaction (a wallet coin pays its fee under anchors)",
    )
    .await?;
    d.call(
        "A",
        a,
        "listfunds",
        json!({}),
        "A's pending sweeps: to_local and its HTLCs, each with the height it matures at",
    )
    .await?;
    d.mine_until(
        &[a, b, c],
        a,
        "listclosedchannels",
        250,
        "a block at a time: to_local after to_self_delay (144), the HTLC-success's output after it, each swept to the wallet and 6 deep",
        any_closed,
    )
    .await?;
    let closed_a = d
        .call(
            "A",
            a,
            "listclosedchannels",
            json!({}),
            "A–B resolved: what came back, and what the claims paid in fees",
        )
        .await?;
    d.call(
        "A",
        a,
        "listpays",
        json!({}),
        "A's HTLC to B: complete, its preimage taken from the chain",
    )
    .await?;
    // B–C: B cheats with a state it revoked.
    d.call(
        "B",
        b,
        "dev-broadcast-revoked",
        json!({"id": c.node_id.to_string()}),
        "(--dev) B broadcasts a commitment of B–C it has revoked: a breach",
    )
    .await?;
    d.mine(
        1,
        addr_a,
        "the revoked commitment confirms; C holds its per_commitment_secret",
    )?;
    d.mine_until(
        &[a, b, c],
        c,
        "listclosedchannels",
        60,
        "C's penalty takes B's to_local with the revocation key at once, then waits for 6 confirmations",
        any_closed,
    )
    .await?;
    let closed_c = d
        .call(
            "C",
            c,
            "listclosedchannels",
            json!({}),
            "B–C resolved as revoked_commitment: the whole channel is C's, less the fees",
        )
        .await?;
    Ok(json!({"A": closed_a, "C": closed_c}))
}
