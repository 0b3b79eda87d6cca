//! `lnkit factory` and `lnkit walkthrough --factory` through the binary:
//! every step reruns from its printed input to the same output, the
//! transactions pass the interpreter, and bad input gets the CLI contract
//! (exit 2, the field named, nothing on stdout).

use crate::common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Transaction;
use common::{lnkit, lnkit_json, s};
use serde_json::{json, Value};

fn example(name: &str) -> Value {
    let path = format!("{}/docs/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn merged(a: &Value, b: &Value) -> Value {
    let mut out = a.clone();
    for (k, v) in b.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

fn created() -> Value {
    lnkit_json(&["factory", "create"], &example("factory.json")).json()
}

fn allocated() -> Value {
    let input = merged(
        &merged(&created(), &example("factory-keys.json")),
        &json!({"channels": [{"parties": [0, 1], "amounts_sat": [600_000, 400_000]},
                             {"parties": [1, 2], "amounts_sat": [300_000, 300_000]}]}),
    );
    lnkit_json(&["factory", "allocate"], &input).json()
}

#[test]
fn the_walkthrough_forks_the_chain_and_every_check_passes() {
    let out = lnkit(&["walkthrough", "--factory"], "").json();
    let steps = out["steps"].as_array().unwrap();
    let commands: Vec<&str> = steps.iter().map(|st| s(st, "command")).collect();
    for needed in [
        "factory create",
        "factory allocate",
        "factory update",
        "factory exit",
        "build-commitment --holder remote",
        "penalty",
        "close --mutual",
        "factory close",
    ] {
        assert!(
            commands.iter().any(|c| c.ends_with(needed)),
            "missing step {needed}: {commands:?}"
        );
    }
    let checks = out["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    for race in ["older allocation lost the race", "cooperative close enters"] {
        assert!(
            checks.iter().any(|c| s(c, "check").contains(race)),
            "no check on {race}: {checks:?}"
        );
    }
    // The paper's comparison is computed, and a cooperative factory of 20 saves about 90%.
    let paper = &out["chain_space"]["paper"];
    assert_eq!(
        (paper["users"].as_u64(), paper["channels"].as_u64()),
        (Some(20), Some(100))
    );
    let saved = paper["cooperative_saving_percent"].as_f64().unwrap();
    assert!((85.0..95.0).contains(&saved), "{paper}");
    // Each factory step reruns from its input to the same output (the nonce seed fixes the signatures).
    for st in steps {
        let cmd = s(st, "command");
        if !cmd.starts_with("lnkit factory") {
            continue;
        }
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let again = lnkit(&args, &st["input"].to_string()).json();
        assert_eq!(again, st["output"], "step {cmd}");
    }
}

#[test]
fn the_steps_pipe_into_each_other_and_their_transactions_verify() {
    let first = allocated();
    let hook_out = {
        let f = &first["factory"];
        let hook: Transaction = deserialize_hex(s(&created(), "hook_tx_hex")).unwrap();
        assert_eq!(hook.compute_txid().to_string(), s(f, "hook_txid"));
        hook.output[0].clone()
    };
    let kickoff: Transaction = deserialize_hex(s(&first["kickoff"], "tx_hex")).unwrap();
    let allocation: Transaction = deserialize_hex(s(&first["allocation"], "tx_hex")).unwrap();
    lnkit::verify::verify_transaction(&kickoff, std::slice::from_ref(&hook_out)).unwrap();
    lnkit::verify::verify_transaction(&allocation, &[kickoff.output[0].clone()]).unwrap();
    assert_eq!(allocation.input[0].sequence.0, 1440);
    // Channel 1's funding output is what build-funding's 2-of-2 would be.
    let ch = &first["channels"][1];
    assert_eq!(s(ch, "funding_txid"), allocation.compute_txid().to_string());
    let script = bitcoin::ScriptBuf::from_hex(s(ch, "funding_script")).unwrap();
    assert_eq!(allocation.output[1].script_pubkey, script.to_p2wsh());

    let closed = lnkit_json(
        &["factory", "close"],
        &merged(&first, &example("factory-keys.json")),
    )
    .json();
    let close: Transaction = deserialize_hex(s(&closed, "tx_hex")).unwrap();
    lnkit::verify::verify_transaction(&close, &[hook_out]).unwrap();
}

#[test]
fn bad_input_names_the_field() {
    let keys = example("factory-keys.json");
    // Fewer than 2 parties.
    let mut one = example("factory.json");
    one["parties"].as_array_mut().unwrap().truncate(1);
    lnkit_json(&["factory", "create"], &one)
        .assert_bad_input("parties", &["at least 2 parties, got 1"]);
    // A party whose coins do not cover its part.
    let mut poor = example("factory.json");
    poor["parties"][2]["inputs"][0]["amount_sat"] = json!(400_000);
    lnkit_json(&["factory", "create"], &poor)
        .assert_bad_input("parties[2].inputs", &["hold 400000 sat"]);
    // A layer that does not fit BIP 68.
    let mut slow = example("factory.json");
    slow["step_blocks"] = json!(70_000);
    lnkit_json(&["factory", "create"], &slow)
        .assert_bad_input("step_blocks", &["at most 65535 blocks"]);
    // Allocations that do not add up: the difference is said.
    let first = allocated();
    let input = merged(
        &merged(&first, &keys),
        &json!({"shares_sat": [1, 2, 3], "channels": []}),
    );
    let mut fresh = input.clone();
    fresh["factory"]["allocation"] = Value::Null;
    lnkit_json(&["factory", "allocate"], &fresh)
        .assert_bad_input("shares_sat", &["adds up to 6 sat", "sat short"]);
    // An update past the last step: how many were left.
    let mut last = merged(&merged(&first, &keys), &json!({"channels": []}));
    last["factory"]["allocation"]["number"] = json!(10);
    lnkit_json(&["factory", "update"], &last).assert_bad_input(
        "factory.allocation",
        &[
            "no timelock step left for allocation 11",
            "0 of 10 steps left",
        ],
    );
    // A field of the wrong type, deep in the factory.
    let mut typed = merged(&first, &keys);
    typed["factory"]["parties"][1]["pubkey"] = json!(42);
    lnkit_json(&["factory", "close"], &typed)
        .assert_bad_input("factory.parties[1].pubkey", &["invalid type: integer `42`"]);
    // A factory object that does not hold together: refused, never a panic.
    let mut cut = merged(&first, &keys);
    cut["factory"]["claims_sat"] = json!([1]);
    lnkit_json(&["factory", "close"], &cut).assert_bad_input(
        "factory.claims_sat",
        &["expected 3 entries (one per party), got 1"],
    );
    let mut edited = merged(&first, &keys);
    edited["factory"]["claims_sat"][0] = json!(u64::MAX);
    lnkit_json(&["factory", "close"], &edited)
        .assert_bad_input("factory.claims_sat", &["more than 21 million BTC"]);
    let mut deep = merged(&first, &keys);
    deep["factory"]["steps"] = json!(60_000);
    deep["channels"] = json!([]);
    lnkit_json(&["factory", "update"], &deep).assert_bad_input("steps", &["65535 blocks"]);
    let mut far = first.clone();
    far["hook_height"] = json!(u32::MAX);
    lnkit_json(&["factory", "exit"], &far).json();
    // Allocating twice; updating before allocating; exiting before allocating.
    lnkit_json(&["factory", "allocate"], &merged(&first, &keys))
        .assert_bad_input("factory.allocation", &["exists already", "factory update"]);
    lnkit_json(&["factory", "update"], &merged(&created(), &keys))
        .assert_bad_input("factory.allocation", &["no allocation yet"]);
    lnkit_json(
        &["factory", "exit"],
        &merged(&created(), &json!({"hook_height": 5})),
    )
    .assert_bad_input("factory.allocation", &["no allocation yet"]);
    // Channels: a party that does not exist, a channel with oneself.
    let base = merged(&created(), &keys);
    lnkit_json(
        &["factory", "allocate"],
        &merged(
            &base,
            &json!({"channels": [{"parties": [0, 7], "amounts_sat": [1000, 0]}]}),
        ),
    )
    .assert_bad_input("channels[0].parties", &["party 7 does not exist"]);
    lnkit_json(
        &["factory", "allocate"],
        &merged(
            &base,
            &json!({"channels": [{"parties": [1, 1], "amounts_sat": [1000, 0]}]}),
        ),
    )
    .assert_bad_input("channels[0].parties", &["two different parties"]);
    // A missing signer; balances that do not add up to their channel.
    let mut two_keys = base.clone();
    two_keys["privkeys"].as_array_mut().unwrap().truncate(2);
    two_keys["channels"] = json!([]);
    lnkit_json(&["factory", "allocate"], &two_keys)
        .assert_bad_input("privkeys", &["has not signed"]);
    lnkit_json(
        &["factory", "close"],
        &merged(&merged(&first, &keys), &json!({"balances": [[1, 2]]})),
    )
    .assert_bad_input("balances[0]", &["3 sat, but the channel holds 1000000 sat"]);
}
