//! `lnkit route` as a shell user runs it, on the hand-made graph of
//! docs/examples/route-graph.json (Core Lightning listchannels format): the
//! route feeds `onion-create`, and each hop's peel finds the route's amounts.

use crate::common;

use common::{lnkit, lnkit_json, s};
use serde_json::{json, Value};

const GRAPH: &str = "docs/examples/route-graph.json";
const SENDER: &str = "02edabbd16b41c8371b92ef2f04c1185b4f03b6dcd52ba9b78d9d7c89c8f221145";
const ALICE: &str = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
const BOB: &str = "0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c";
const DAVE: &str = "027f31ebc5462c1fdce1b737ecff52d37d75dea43ce11c74d25aa297165faa2007";
const CAROL: &str = "032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991";
/// The node private keys of the BOLT 4 onion vector: 0x41.. is alice, 0x42.. bob, 0x43.. dave.
const PRIVKEYS: [&str; 3] = [
    "4141414141414141414141414141414141414141414141414141414141414141",
    "4242424242424242424242424242424242424242424242424242424242424242",
    "4343434343434343434343434343434343434343434343434343434343434343",
];

fn route(args: &[&str], input: Value) -> common::Run {
    let mut all = vec!["route", "--graph", GRAPH];
    all.extend_from_slice(args);
    lnkit_json(&all, &input)
}

fn ask(amount_msat: u64) -> Value {
    json!({"source": SENDER, "destination": DAVE, "amount_msat": amount_msat,
           "current_block_height": 800_100})
}

fn ok(run: common::Run) -> Value {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON output")
}

#[test]
fn the_cheapest_route_with_exact_fees_and_cltvs() {
    let r = ok(route(&[], ask(10_000_000)));
    let hops = r["hops"].as_array().unwrap();
    let pubkeys: Vec<&str> = hops.iter().map(|h| s(h, "pubkey")).collect();
    assert_eq!(pubkeys, [ALICE, BOB, DAVE]);
    // bob charges 500 + 2000 ppm of 10,000,000 for bob→dave; alice 1000 + 100 ppm of that plus it.
    let amounts: Vec<u64> = hops
        .iter()
        .map(|h| h["amount_msat"].as_u64().unwrap())
        .collect();
    assert_eq!(amounts, [10_022_502, 10_020_500, 10_000_000]);
    let fees: Vec<u64> = hops
        .iter()
        .map(|h| h["fee_msat"].as_u64().unwrap())
        .collect();
    assert_eq!(fees, [2002, 20_500, 0]);
    let cltvs: Vec<u64> = hops
        .iter()
        .map(|h| h["cltv_expiry"].as_u64().unwrap())
        .collect();
    assert_eq!(
        cltvs,
        [800_100 + 18 + 144 + 40, 800_100 + 18 + 144, 800_100 + 18]
    );
    assert_eq!(r["total_fee_msat"], 22_502);
    assert_eq!(r["total_amount_msat"], 10_022_502);
    let p = r["success_probability"].as_f64().unwrap();
    assert!(p > 0.9 && p < 1.0, "{p}");
}

#[test]
fn the_route_feeds_onion_create_and_each_hop_peels_its_amounts() {
    let mut input = ask(10_000_000);
    input["payment_hash"] = json!("42".repeat(32));
    input["session_key"] = json!("41".repeat(32));
    input["payment_secret"] = json!("23".repeat(32));
    let r = ok(route(&[], input));
    let created = ok(lnkit_json(&["onion-create"], &r["onion_create"]));
    let hops = r["hops"].as_array().unwrap();
    let mut packet = created;
    for (i, key) in PRIVKEYS.iter().enumerate() {
        packet = ok(lnkit(
            &["onion-peel", "--node-privkey", key],
            &packet.to_string(),
        ));
        let p = &packet["payload"];
        if let Some(next) = hops.get(i + 1) {
            assert_eq!(packet["is_final"], false);
            assert_eq!(p["amt_to_forward_msat"], next["amount_msat"]);
            assert_eq!(p["outgoing_cltv_value"], next["cltv_expiry"]);
            assert_eq!(p["short_channel_id"], next["short_channel_id"]);
            // What this hop keeps is what came in minus what it forwards.
            let kept =
                hops[i]["amount_msat"].as_u64().unwrap() - next["amount_msat"].as_u64().unwrap();
            assert_eq!(hops[i]["fee_msat"], kept);
        } else {
            assert_eq!(packet["is_final"], true);
            assert_eq!(p["amt_to_forward_msat"], 10_000_000);
            assert_eq!(p["outgoing_cltv_value"], 800_118);
            assert_eq!(p["payment_secret"], json!("23".repeat(32)));
            assert_eq!(p["total_msat"], 10_000_000);
        }
    }
}

#[test]
fn avoiding_a_channel_takes_the_expensive_detour_within_budget() {
    let mut input = ask(5_000_000);
    input["avoid_channels"] = json!(["800001x1x0"]);
    input["max_fee_msat"] = json!(1_000_000);
    let r = ok(route(&[], input.clone()));
    assert_eq!(s(&r["hops"][0], "pubkey"), CAROL);
    // carol charges 50,000 + 5000 ppm.
    assert_eq!(r["total_fee_msat"], 50_000 + 25_000);
    // Under the default budget (5 sat + 1% = 55,000 msat) the detour is too dear: exit 1 with its fee.
    input.as_object_mut().unwrap().remove("max_fee_msat");
    let run = route(&[], input);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("cheapest route found costs 75000 msat"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_disabled_direction_is_not_taken_though_it_is_cheapest() {
    // alice→dave (800005x1x0) would cost 0 fee but is disabled; dave→alice is enabled.
    let r = ok(route(&[], ask(1_000_000)));
    let scids: Vec<&str> = r["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| s(h, "short_channel_id"))
        .collect();
    assert!(!scids.contains(&"800005x1x0"), "{scids:?}");
    let back = ok(route(
        &[],
        json!({"source": DAVE, "destination": SENDER, "amount_msat": 1_000_000}),
    ));
    assert_eq!(s(&back["hops"][0], "short_channel_id"), "800005x1x0");
}

#[test]
fn known_liquidity_steers_the_route() {
    let mut input = ask(10_000_000);
    input["max_fee_msat"] = json!(1_000_000);
    input["liquidity"] =
        json!([{"short_channel_id": "800002x1x0", "direction": 1, "max_msat": 5_000_000}]);
    // bob→dave: bob is node_2 of 800002x1x0 (027f… < 0324…), so direction 1.
    let r = ok(route(&[], input));
    assert_eq!(s(&r["hops"][0], "pubkey"), CAROL);
}

#[test]
fn alternatives_and_dot() {
    let mut input = ask(1_000_000);
    input["max_fee_msat"] = json!(1_000_000);
    let r = ok(route(&["--alternatives", "3"], input.clone()));
    let alts = r["alternatives"].as_array().unwrap();
    assert!(alts.len() >= 2, "{alts:?}");
    assert_eq!(alts[0]["hops"], r["hops"]);
    assert_ne!(alts[0]["hops"], alts[1]["hops"]);
    let dot = route(&["--alternatives", "2", "--dot"], input);
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    assert!(dot.stdout.starts_with("digraph route {"), "{}", dot.stdout);
    assert!(
        dot.stdout
            .contains("800002x1x0\\n1000000 msat\\nfee 0 msat"),
        "{}",
        dot.stdout
    );
    assert!(dot.stdout.contains("color=blue"), "{}", dot.stdout);
    assert!(dot.stdout.trim_end().ends_with('}'));
}

#[test]
fn no_route_says_why_with_exit_1() {
    let run = route(&[], ask(1_000_000_000_000));
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains(
            "best bottleneck found is 990000000 msat, below the 1000000000000 msat asked"
        ),
        "{}",
        run.stderr
    );
    let mut input = ask(1_000_000);
    input["avoid_nodes"] = json!([ALICE, CAROL]);
    let run = route(&[], input);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
}

#[test]
fn bad_input_names_the_field() {
    route(
        &[],
        json!({"source": SENDER, "destination": DAVE, "amount_msat": 0}),
    )
    .assert_bad_input("amount_msat", &["above zero"]);
    let g = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    route(
        &[],
        json!({"source": SENDER, "destination": g, "amount_msat": 1}),
    )
    .assert_bad_input("destination", &["unknown node", "not in the graph"]);
    route(
        &[],
        json!({"source": 9, "destination": DAVE, "amount_msat": 1}),
    )
    .assert_bad_input("source", &["unknown node", "5 nodes"]);
    route(&[], json!({"destination": DAVE, "amount_msat": 1}))
        .assert_bad_input("source", &["missing"]);
    route(
        &[],
        json!({"source": SENDER, "destination": SENDER, "amount_msat": 1}),
    )
    .assert_bad_input("destination", &["same node"]);
    let mut input = ask(1);
    input["avoid_channels"] = json!(["1x2"]);
    route(&[], input).assert_bad_input("avoid_channels[0]", &["BLOCKxTXxOUTPUT"]);
    let mut input = ask(1);
    input["liquidity"] = json!([{"short_channel_id": "800002x1x0", "min_msat": 1}]);
    route(&[], input).assert_bad_input("liquidity[0].short_channel_id", &["direction"]);
    let mut input = ask(1);
    input["max_hops"] = json!(0);
    route(&[], input).assert_bad_input("max_hops", &["1 to 27"]);
}

#[test]
fn a_graph_file_in_no_known_format_or_truncated_is_refused() {
    let dir = std::env::temp_dir().join(format!("lnkit-route-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    let run = lnkit_json(&["route", "--graph", junk.to_str().unwrap()], &ask(1));
    run.assert_bad_input(
        "--graph",
        &[
            "tried",
            "GOSSMAP_COMPRESSv1",
            "listchannels",
            "describegraph",
            "gossip",
        ],
    );
    let cut = dir.join("cut.json");
    let full = std::fs::read(GRAPH).unwrap();
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let run = lnkit_json(&["route", "--graph", cut.to_str().unwrap()], &ask(1));
    run.assert_bad_input("--graph", &["line"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
