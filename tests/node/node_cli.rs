//! `lnkit node init|run|schema|<method>` under the CLI contract, on the
//! embedded chain (no bitcoind needed): the seed, the config file, the lock,
//! the schemas, and every mistake.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lnkit;

#[test]
fn init_makes_a_private_seed_prints_it_once_and_restores_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let out = lnkit(&["node", "init", "--datadir", a.to_str().unwrap()], "").json();
    let words = out["mnemonic"].as_str().unwrap();
    assert_eq!(words.split(' ').count(), 24);
    let mode = std::fs::metadata(a.join("seed"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the seed is readable by its owner only"
    );
    lnkit(&["node", "init", "--datadir", a.to_str().unwrap()], "")
        .assert_bad_input("--datadir", &["already holds a node"]);
    let b = dir.path().join("b");
    let restored = lnkit(
        &[
            "node",
            "init",
            "--datadir",
            b.to_str().unwrap(),
            "--mnemonic",
            words,
        ],
        "",
    )
    .json();
    assert_eq!(
        restored["node_id"], out["node_id"],
        "the same words, the same node"
    );
    assert!(
        restored.get("mnemonic").is_none(),
        "a restore does not print the words back"
    );
    lnkit(
        &[
            "node",
            "init",
            "--datadir",
            dir.path().join("c").to_str().unwrap(),
            "--mnemonic",
            "abandon ability able",
        ],
        "",
    )
    .assert_bad_input("--mnemonic", &["word count"]);
    let signet = lnkit(
        &[
            "node",
            "init",
            "--datadir",
            dir.path().join("s").to_str().unwrap(),
            "--network",
            "signet",
        ],
        "",
    )
    .json();
    assert_eq!(signet["network"], "signet");
    assert_ne!(signet["node_id"], out["node_id"]);
}

#[test]
fn schema_prints_both_schemas_and_unknown_methods_are_refused() {
    let out = lnkit(&["node", "schema", "pay"], "").json();
    assert_eq!(out["method"], "pay");
    assert!(out["request"]["properties"]["bolt11"].is_object());
    assert!(out["response"]["properties"]["payment_preimage"].is_object());
    lnkit(&["node", "schema", "payy"], "")
        .assert_bad_input("method", &["unknown method `payy`", "pay"]);
    lnkit(&["node", "getinfo"], "").assert_bad_input("--datadir", &["required"]);
    let dir = tempfile::tempdir().unwrap();
    let run = lnkit(
        &["node", "getinfo", "--datadir", dir.path().to_str().unwrap()],
        "",
    );
    run.assert_error(1, "error: --datadir: no node answers", &["lnkit node run"]);
}

/// A `lnkit node run` child, killed on drop.
struct Running(std::process::Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn run_takes_its_options_from_the_config_file_and_a_second_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("n");
    let ds = d.to_str().unwrap();
    lnkit(&["node", "init", "--datadir", ds], "").json();
    lnkit(&["node", "run", "--datadir", ds], "")
        .assert_bad_input("--bitcoind or --chain-dir", &["needs a chain"]);
    std::fs::write(d.join("config"), "network=regtest\ncolor=blue\n").unwrap();
    lnkit(&["node", "run", "--datadir", ds], "")
        .assert_bad_input("config", &["unknown option `color`"]);
    // Our node_announcement's options: a bad colour or address names its flag.
    let chain_dir = dir.path().join("bad-chain");
    let cd = chain_dir.to_str().unwrap();
    std::fs::write(
        d.join("config"),
        "network=regtest\nrgb=00ff00\nannounce-addr=203.0.113.1:9735\n",
    )
    .unwrap();
    lnkit(
        &[
            "node",
            "run",
            "--datadir",
            ds,
            "--chain-dir",
            cd,
            "--rgb",
            "blue",
        ],
        "",
    )
    .assert_bad_input("--rgb", &["`blue` is not 6 hex digits"]);
    lnkit(
        &[
            "node",
            "run",
            "--datadir",
            ds,
            "--chain-dir",
            cd,
            "--announce-addr",
            "host:0",
        ],
        "",
    )
    .assert_bad_input("--announce-addr", &["port 0"]);
    let chain = dir.path().join("chain");
    std::fs::write(
        d.join("config"),
        format!(
            "# the embedded chain\nnetwork=regtest\nchain-dir={}\nlisten=none\nalias=from-config\n",
            chain.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lnkit"))
        .args(["node", "run", "--datadir", ds])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        let r = lnkit(&["node", "getinfo", "--datadir", ds], "");
        if r.code == 0 {
            break r.json();
        }
        assert!(
            Instant::now() < deadline,
            "the node never answered: {}",
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    common::schema::assert_valid("getinfo", &info);
    assert_eq!(info["alias"], "from-config");
    assert_eq!(info["binding"].as_array().unwrap().len(), 0, "listen=none");
    let mode = std::fs::metadata(d.join("lnkit-rpc"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the control socket is the owner's only"
    );
    assert!(
        std::fs::read_to_string(d.join("log"))
            .unwrap()
            .contains("node started"),
        "logs go to DIR/log too"
    );
    lnkit(&["node", "run", "--datadir", ds], "").assert_bad_input("--datadir", &["is locked"]);
    let addr = lnkit(
        &[
            "node",
            "newaddr",
            "--datadir",
            ds,
            "--set",
            "addresstype=p2tr",
        ],
        "",
    )
    .json();
    assert!(addr["p2tr"].as_str().unwrap().starts_with("bcrt1p"));
    lnkit(
        &[
            "node",
            "newaddr",
            "--datadir",
            ds,
            "--set",
            "addresstype=p2pkh",
        ],
        "",
    )
    .assert_bad_input("addresstype", &["bech32 or p2tr"]);
    lnkit(
        &["node", "connect", "--datadir", ds],
        r#"{"id": "nope@127.0.0.1:1"}"#,
    )
    .assert_bad_input("id", &["not a node id"]);
    lnkit(&["node", "fundchannel", "--datadir", ds], r#"{"id": "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619", "amount": 100000}"#)
        .assert_bad_input("id", &["not connected"]);
    // A method's fields as flags: `--out X --in Y --force` (a flag without a value is true).
    lnkit(
        &[
            "node",
            "rebalance",
            "--datadir",
            ds,
            "--out",
            "1x2x3",
            "--in",
            "1x2x3",
            "--force",
        ],
        "",
    )
    .assert_bad_input("out", &["1x2x3 is not a channel of this node"]);
    lnkit(
        &[
            "node",
            "rebalance",
            "--datadir",
            ds,
            "--out=1x2x3",
            "--in",
            "1x2x4",
            "--max-fee-ppm",
            "x",
        ],
        "",
    )
    .assert_bad_input("max_fee_ppm", &["invalid type", "expected u64"]);
    let stop = lnkit(&["node", "stop", "--datadir", ds], "").json();
    assert_eq!(stop["result"], "Shutdown complete");
}

#[test]
fn the_demo_runs_three_nodes_and_tells_the_story() {
    let run = lnkit(&["node", "demo", "--explain"], "");
    let out = run.json();
    let steps = out["steps"].as_array().unwrap();
    let pays: Vec<_> = steps.iter().filter(|s| s["method"] == "pay").collect();
    assert_eq!(
        pays.len(),
        5,
        "both ways on each channel, then A to C through B"
    );
    assert!(pays.iter().all(|p| p["result"]["status"] == "complete"));
    // A pays C 50,000,000 msat; B keeps 1,000 msat + 10 ppm.
    assert_eq!(pays[4]["node"], "A");
    assert_eq!(pays[4]["result"]["destination"], out["nodes"]["C"]);
    assert_eq!(pays[4]["result"]["amount_sent_msat"], 50_001_500u64);
    let fwd = steps
        .iter()
        .find(|s| s["node"] == "B" && s["method"] == "listforwards")
        .unwrap();
    assert_eq!(fwd["result"]["forwards"][0]["fee_msat"], 1_500);
    assert_eq!(fwd["result"]["forwards"][0]["status"], "settled");
    let closes: Vec<_> = steps.iter().filter(|s| s["method"] == "close").collect();
    assert!(closes.len() == 2 && closes.iter().all(|c| c["result"]["type"] == "mutual"));
    for s in steps.iter().filter(|s| s["node"] != "chain") {
        common::schema::assert_valid(s["method"].as_str().unwrap(), &s["result"]);
    }
    assert!(
        run.stderr.contains("BOLT 8 handshake") && run.stderr.contains("closing fee negotiation"),
        "{}",
        run.stderr
    );
    // A's balance after the story: 1,000,000 sat - 100,000 (to B) + 25,000 (from B).
    let a = steps
        .iter()
        .find(|s| s["node"] == "A" && s["method"] == "listpeerchannels")
        .unwrap();
    assert_eq!(a["result"]["channels"][0]["to_us_msat"], 925_000_000u64);
}

#[test]
fn the_force_close_demo_resolves_htlcs_on_chain_and_punishes_a_breach() {
    let run = lnkit(&["node", "demo", "--force-close", "--explain"], "");
    let out = run.json();
    let a = &out["closed"]["A"]["closedchannels"][0];
    let c = &out["closed"]["C"]["closedchannels"][0];
    assert_eq!(a["close_cause"], "our_commitment");
    assert_eq!(c["close_cause"], "revoked_commitment");
    // A gets its balance back (895,000 sat) plus bob's HTLC it claimed (20,000), less fees.
    let a_back = a["swept_msat"].as_u64().unwrap() / 1000;
    assert!(a_back > 895_000 && a_back < 895_000 + 20_000, "{a}");
    // The whole B–C channel is C's, less the commitment's fee and the penalty's.
    assert!(c["swept_msat"].as_u64().unwrap() / 1000 > 480_000, "{c}");
    let steps = out["steps"].as_array().unwrap();
    let pays = steps
        .iter()
        .rev()
        .find(|s| s["node"] == "A" && s["method"] == "listpays")
        .unwrap();
    let held = pays["result"]["pays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["amount_msat"] == 30_000_000u64)
        .unwrap();
    assert_eq!(
        held["status"], "complete",
        "the preimage came from the chain"
    );
    for s in steps.iter().filter(|s| s["node"] != "chain") {
        common::schema::assert_valid(s["method"].as_str().unwrap(), &s["result"]);
    }
    assert!(run.stderr.contains("revocation key"), "{}", run.stderr);
}
