//! `lnkit chain` as a shell user runs it, against both backends: the same
//! steps (mine, fund with build-funding, broadcast, look up) on the embedded
//! chain and on a real bitcoind; and every mistake with its exit code and
//! nothing on stdout.

use crate::common;

use common::bitcoind::Bitcoind;
use common::{lnkit, lnkit_json, s};
use lnkit::chain::embedded::EmbeddedChain;
use serde_json::json;

/// The P2WPKH address of the key 11…11 on regtest, and that key.
const ADDR: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";
const WIF: &str = "cN9spWsvaxA8taS7DFMxnk1yJD2gaF2PX1npuTpy3vuZFJdwavaw";

/// `build-funding` of Appendix B's two funding keys, spending `amount_sat`
/// at `txid:0` with our key, change back to us.
fn fund_channel(txid: &str, amount_sat: u64, funding_amount_sat: u64) -> serde_json::Value {
    lnkit_json(
        &["build-funding", "--network", "regtest"],
        &json!({
            "inputs": [{"txid": txid, "vout": 0, "amount_sat": amount_sat, "privkey": WIF}],
            "local_funding_pubkey": "023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb",
            "remote_funding_pubkey": "030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1",
            "funding_amount_sat": funding_amount_sat,
            "change_address": ADDR,
            "feerate_per_kw": 2500
        }),
    )
    .json()
}

/// Mine, fund, broadcast, confirm and look up, through `backend` flags.
fn a_funding_round_trip(backend: &[&str]) {
    let with = |args: &[&str]| -> Vec<String> {
        args.iter().chain(backend).map(|s| s.to_string()).collect()
    };
    let run = |args: &[&str], stdin: &str| {
        let v = with(args);
        lnkit(&v.iter().map(String::as_str).collect::<Vec<_>>(), stdin)
    };
    let status = run(&["chain", "status"], "").json();
    assert_eq!(status["height"], 0);
    assert_eq!(status["network"], "regtest");
    let mined = run(&["chain", "mine", "1", "--to", ADDR], "").json();
    assert_eq!(mined["height"], 1);
    assert_eq!(mined["address"], ADDR);
    let coinbase = s(&mined["blocks"][0], "coinbase_txid").to_string();
    let matured = run(&["chain", "mine", "100", "--to", ADDR], "").json();
    assert_eq!(matured["blocks"].as_array().unwrap().len(), 100);
    let coin = run(&["chain", "utxo", &format!("{coinbase}:0")], "").json();
    assert_eq!(coin["unspent"], true);
    assert_eq!(coin["coinbase"], true);
    assert_eq!(coin["amount_sat"], 5_000_000_000u64);
    assert_eq!(coin["confirmations"], 101);

    let funding = fund_channel(&coinbase, 5_000_000_000u64, 10_000_000);
    let txid = s(&funding, "txid").to_string();
    let sent = run(&["chain", "broadcast"], &funding.to_string()).json();
    assert_eq!(sent, json!({"txid": txid, "accepted": true}));
    // Piped on: `broadcast | tx` reads the txid.
    let pending = run(&["chain", "tx"], &sent.to_string()).json();
    assert_eq!(pending["status"], "mempool");
    assert_eq!(pending["tx_hex"], funding["tx_hex"]);
    run(&["chain", "mine", "--to", ADDR], "").json();
    let confirmed = run(&["chain", "tx", &txid], "").json();
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["block_height"], 102);
    assert_eq!(confirmed["confirmations"], 1);
    let out = run(
        &["chain", "utxo"],
        &json!({"txid": txid, "vout": 0}).to_string(),
    )
    .json();
    assert_eq!(out["unspent"], true);
    assert_eq!(out["script_pubkey"], funding["funding_script_pubkey"]);
    let spent = run(&["chain", "utxo", &format!("{coinbase}:0")], "").json();
    assert_eq!(
        spent,
        json!({"outpoint": format!("{coinbase}:0"), "unspent": false})
    );

    // The same again, now confirmed: refused with Core's reason, exit 1.
    let again = run(&["chain", "broadcast"], &funding.to_string());
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stdout.is_empty());
    assert!(
        again
            .stderr
            .starts_with("error: tx_hex: the chain rejected"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("already_known"), "{}", again.stderr);

    let unknown = run(&["chain", "tx", &"ab".repeat(32)], "").json();
    assert_eq!(unknown["status"], "unknown");
}

#[test]
fn embedded_funding_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    a_funding_round_trip(&["--chain-dir", dir.path().to_str().unwrap()]);
}

#[test]
fn bitcoind_funding_round_trip() {
    let node = Bitcoind::start();
    let url = node.url();
    let cookie = node.cookie();
    a_funding_round_trip(&["--bitcoind", &url, "--rpc-cookie", cookie.to_str().unwrap()]);
    // bitcoind agrees with what lnkit said.
    assert_eq!(node.cli(&["getblockcount"]), "102");
}

#[test]
fn embedded_fee_rate_is_set_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let fee = lnkit(&["chain", "fee", "--chain-dir", d], "").json();
    assert_eq!(
        fee,
        json!({"target_blocks": 6, "feerate_per_kw": 2500, "source": "fixed"})
    );
    let set = lnkit(
        &[
            "chain",
            "fee",
            "--feerate-per-kw",
            "1000",
            "--target",
            "2",
            "--chain-dir",
            d,
        ],
        "",
    )
    .json();
    assert_eq!(
        set,
        json!({"target_blocks": 2, "feerate_per_kw": 1000, "source": "fixed"})
    );
    let status = lnkit(&["chain", "status", "--chain-dir", d], "").json();
    assert_eq!(status["fee_estimate"]["feerate_per_kw"], 1000);
}

#[test]
fn bitcoind_fee_estimate_falls_back() {
    let node = Bitcoind::start();
    let cookie = node.cookie();
    let url = node.url();
    let args = [
        "chain",
        "fee",
        "--bitcoind",
        &url,
        "--rpc-cookie",
        cookie.to_str().unwrap(),
    ];
    let fee = lnkit(&args, "").json();
    assert_eq!(
        fee,
        json!({"target_blocks": 6, "feerate_per_kw": 2500, "source": "fallback"})
    );
    let mut with = args.to_vec();
    with.extend(["--fallback-feerate-per-kw", "5000"]);
    assert_eq!(lnkit(&with, "").json()["feerate_per_kw"], 5000);
    // There is no fixed rate to set on bitcoind.
    with.extend(["--feerate-per-kw", "1000"]);
    lnkit(&with, "").assert_bad_input("feerate_per_kw", &["embedded chain"]);
}

fn assert_failure(run: &common::Run, needles: &[&str]) {
    run.assert_error(1, "error: ", needles);
}

#[test]
fn a_locked_chain_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _held = EmbeddedChain::open(dir.path()).unwrap();
    let run = lnkit(
        &[
            "chain",
            "status",
            "--chain-dir",
            dir.path().to_str().unwrap(),
        ],
        "",
    );
    assert_failure(
        &run,
        &["locked by another process", dir.path().to_str().unwrap()],
    );
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Mining to an address of another network.
    lnkit(
        &[
            "chain",
            "mine",
            "1",
            "--to",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "--chain-dir",
            d,
        ],
        "",
    )
    .assert_bad_input("address", &["network regtest"]);
    lnkit(&["chain", "mine", "1", "--chain-dir", d], "").assert_bad_input("address", &["missing"]);
    lnkit(&["chain", "mine", "0", "--to", ADDR, "--chain-dir", d], "")
        .assert_bad_input("blocks", &["1 to 10000"]);
    // A malformed transaction.
    lnkit_json(
        &["chain", "broadcast", "--chain-dir", d],
        &json!({"tx_hex": "02000000"}),
    )
    .assert_bad_input("tx_hex", &["transaction"]);
    lnkit_json(
        &["chain", "broadcast", "--chain-dir", d],
        &json!({"tx_hex": "zz"}),
    )
    .assert_bad_input("tx_hex", &["hex"]);
    lnkit(&["chain", "broadcast", "--chain-dir", d], "").assert_bad_input("tx_hex", &["missing"]);
    lnkit(&["chain", "tx", "nothex", "--chain-dir", d], "").assert_bad_input("txid", &[]);
    lnkit(&["chain", "utxo", "abc", "--chain-dir", d], "")
        .assert_bad_input("outpoint", &["TXID:VOUT"]);
    lnkit(&["chain", "fee", "--target", "0", "--chain-dir", d], "")
        .assert_bad_input("target_blocks", &["1 to 1008"]);
    // No backend, or an embedded chain on another network.
    lnkit(&["chain", "status"], "").assert_bad_input("chain", &["--bitcoind", "--chain-dir"]);
    lnkit(
        &["chain", "status", "--chain-dir", d, "--network", "signet"],
        "",
    )
    .assert_bad_input("network", &["regtest only"]);
}

#[test]
fn a_rejected_transaction_exits_1_with_cores_reason() {
    // A transaction spending an output that does not exist, on each backend.
    let tx = fund_channel(&"11".repeat(32), 100_000, 50_000);
    let dir = tempfile::tempdir().unwrap();
    let run = lnkit_json(
        &[
            "chain",
            "broadcast",
            "--chain-dir",
            dir.path().to_str().unwrap(),
        ],
        &tx,
    );
    assert_failure(
        &run,
        &["bad-txns-inputs-missingorspent", "missing_or_spent_inputs"],
    );
    let node = Bitcoind::start();
    let run = lnkit_json(
        &[
            "chain",
            "broadcast",
            "--bitcoind",
            &node.url(),
            "--rpc-cookie",
            node.cookie().to_str().unwrap(),
        ],
        &tx,
    );
    assert_failure(&run, &["missing_or_spent_inputs"]);
}

#[test]
fn rpc_failures_say_what_to_fix() {
    let node = Bitcoind::start();
    let url = node.url();
    let cookie = node.cookie();
    // Wrong credentials: which auth was tried.
    let run = lnkit(
        &[
            "chain",
            "status",
            "--bitcoind",
            &url,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "nope",
        ],
        "",
    );
    assert_failure(&run, &["refused the credentials", "user \"alice\""]);
    // A cookie file that is not there.
    let run = lnkit(
        &[
            "chain",
            "status",
            "--bitcoind",
            &url,
            "--rpc-cookie",
            "/nonexistent/.cookie",
        ],
        "",
    );
    assert_failure(&run, &["/nonexistent/.cookie"]);
    // The wrong network: both genesis hashes.
    let run = lnkit(
        &[
            "chain",
            "status",
            "--bitcoind",
            &url,
            "--rpc-cookie",
            cookie.to_str().unwrap(),
            "--network",
            "testnet",
        ],
        "",
    );
    assert_failure(
        &run,
        &[
            "wrong network",
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
        ],
    );
    // Nothing listening: where we tried.
    drop(node);
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let there = format!("127.0.0.1:{free}");
    let cookie_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cookie_file.path(), "__cookie__:x").unwrap();
    let run = lnkit(
        &[
            "chain",
            "status",
            "--bitcoind",
            &format!("http://{there}"),
            "--rpc-cookie",
            cookie_file.path().to_str().unwrap(),
        ],
        "",
    );
    assert_failure(&run, &["unreachable", &there]);
}

#[test]
fn a_breach_is_punished_on_chain_by_a_piped_penalty() {
    let dir = tempfile::tempdir().unwrap();
    a_breach_punished(&["--chain-dir", dir.path().to_str().unwrap()]);
}

/// The same pipeline against a real bitcoind: Core's mempool, with its
/// default policy, relays the penalty (the embedded chain checks consensus
/// and its own subset of Core's policy).
#[test]
fn a_breach_is_punished_on_bitcoind_by_a_piped_penalty() {
    let node = Bitcoind::start();
    let url = node.url();
    let cookie = node.cookie();
    a_breach_punished(&["--bitcoind", &url, "--rpc-cookie", cookie.to_str().unwrap()]);
}

/// Fund BOLT 3 Appendix C's channel, broadcast its commitment 42 (revoked:
/// its per_commitment_secret is known), then `lnkit penalty … | lnkit chain
/// broadcast` takes every output back; `backend` selects the chain.
fn a_breach_punished(backend: &[&str]) {
    let chain = |args: &[&str], stdin: &str| {
        let mut v = vec!["chain"];
        v.extend_from_slice(args);
        v.extend_from_slice(backend);
        lnkit(&v, stdin).json()
    };
    let mined = chain(&["mine", "1", "--to", ADDR], "");
    let coinbase = s(&mined["blocks"][0], "coinbase_txid").to_string();
    chain(&["mine", "100", "--to", ADDR], "");
    let funding = fund_channel(&coinbase, 5_000_000_000u64, 10_000_000);
    chain(&["broadcast"], &funding.to_string());
    chain(&["mine", "--to", ADDR], "");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/appendix-c-seven-outputs.json"
    );
    let funding_txid = format!("funding_txid={}", s(&funding, "txid"));
    let commitment = lnkit(
        &[
            "build-commitment",
            "--input",
            example,
            "--set",
            &funding_txid,
        ],
        "",
    )
    .json();
    let sent = chain(&["broadcast"], &commitment.to_string());
    assert_eq!(sent["txid"], commitment["txid"]);
    chain(&["mine", "--to", ADDR], "");

    let penalty = lnkit(
        &[
            "penalty",
            "--set",
            "revocation_basepoint_secret=2222222222222222222222222222222222222222222222222222222222222222",
            "--set",
            "destination=0014cc1b07838e387deacd0e5232e1e8b49f4c29e484",
            "--set",
            "feerate_per_kw=2500",
        ],
        &commitment.to_string(),
    )
    .json();
    let sent = chain(&["broadcast"], &penalty.to_string());
    let justice = &penalty["penalty_txs"][0];
    assert_eq!(sent["txid"], justice["txid"]);
    chain(&["mine", "--to", ADDR], "");
    let confirmed = chain(&["tx", s(justice, "txid")], "");
    assert_eq!(confirmed["status"], "confirmed");
    // It took to_local and all five HTLC outputs of the revoked commitment.
    let tx: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(s(&confirmed, "tx_hex")).unwrap();
    assert_eq!(tx.input.len(), 6);
    let spent = chain(&["utxo", &format!("{}:0", s(&commitment, "txid"))], "");
    assert_eq!(spent["unspent"], false);
}

#[test]
fn a_node_still_syncing_is_refused() {
    // A signet node without peers never leaves initial block download.
    let node = Bitcoind::start_on("signet", &[]);
    let run = lnkit(
        &[
            "chain",
            "status",
            "--network",
            "signet",
            "--bitcoind",
            &node.url(),
            "--rpc-cookie",
            node.cookie().to_str().unwrap(),
        ],
        "",
    );
    assert_failure(
        &run,
        &["initial block download", "wait until it has synced"],
    );
}
