//! `lnkit rebalance plan`: the cycle on a graph snapshot leaves on `out`,
//! comes back on `in`, never uses our other channels, pipes into
//! `onion-create`, and refuses what the issue lists with the field named.

use crate::common;

use common::{lnkit, lnkit_json};
use serde_json::{json, Value};

const US: &str = "02edabbd16b41c8371b92ef2f04c1185b4f03b6dcd52ba9b78d9d7c89c8f221145";

fn graph() -> String {
    format!(
        "{}/docs/examples/rebalance-graph.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn plan(input: &Value) -> common::Run {
    lnkit_json(&["rebalance", "plan", "--graph", &graph()], input)
}

fn base() -> Value {
    json!({"node": US, "out": "800001x1x0", "in": "800002x1x0", "amount_msat": 1_000_000_000u64})
}

#[test]
fn the_cycle_leaves_on_out_returns_on_in_and_avoids_our_other_channels() {
    let v = plan(&base()).json();
    let hops = v["hops"].as_array().unwrap();
    let scids: Vec<&str> = hops
        .iter()
        .map(|h| h["short_channel_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        scids,
        ["800001x1x0", "800003x1x0", "800004x1x0", "800002x1x0"]
    );
    assert_eq!(hops.last().unwrap()["pubkey"], US, "the cycle ends at us");
    assert!(
        !scids.contains(&"800007x1x0"),
        "our fee-free channel to bob is not used"
    );
    // Fees: each of alice, bob and carol charges 1000 msat + 100 ppm of what it forwards.
    assert_eq!(v["total_fee_msat"], 303_030);
    assert_eq!(v["earn_back_msat"], 1_000 + 500_000);
    assert_eq!(v["economic"], true);
    // The other way round, carol's side charges the same; our fee on alice's
    // channel is zero, so nothing earns it back: refused unless forced.
    let mut back = base();
    back["out"] = json!("800002x1x0");
    back["in"] = json!("800001x1x0");
    plan(&back).assert_bad_input("in", &["the economic check: in earns back 0 msat"]);
    back["force"] = json!(true);
    let forced = plan(&back).json();
    assert_eq!(forced["economic"], false);
    // The plan's onion is the cycle's: our own node peels the last layer.
    let mut with_onion = base();
    with_onion["payment_hash"] = json!("42".repeat(32));
    with_onion["session_key"] = json!("41".repeat(32));
    with_onion["payment_secret"] = json!("43".repeat(32));
    let onion = plan(&with_onion).json()["onion_create"].clone();
    let packet = lnkit_json(&["onion-create", "--compact"], &onion).json();
    assert_eq!(
        packet["onion_hex"].as_str().unwrap().len(),
        2 * 1366,
        "{packet}"
    );
    assert_eq!(packet["hops"].as_array().unwrap().len(), 4, "{packet}");
}

#[test]
fn bad_input_names_the_field() {
    let mut same = base();
    same["in"] = json!("800001x1x0");
    plan(&same).assert_bad_input("in", &["the same channel as out"]);
    let mut theirs = base();
    theirs["out"] = json!("800004x1x0");
    plan(&theirs).assert_bad_input("out", &["800004x1x0 is not one of node's channels"]);
    let mut capped = base();
    capped["max_fee_ppm"] = json!(100);
    plan(&capped).assert_bad_input(
        "max_fee_ppm",
        &[
            "the cheapest cycle costs 303030 msat",
            "above the limit of 100000 msat",
        ],
    );
    let mut unknown = base();
    unknown["in"] = json!("1x1x1");
    plan(&unknown).assert_bad_input("in", &["1x1x1 is not in the graph"]);
    let mut zero = base();
    zero["amount_msat"] = json!(0);
    plan(&zero).assert_bad_input("amount_msat", &["above zero"]);
    plan(&json!({"out": "800001x1x0"})).assert_bad_input("node", &["missing required field"]);
    lnkit(&["rebalance", "plan"], "{}").assert_error(2, "error:", &["--graph"]);
}
