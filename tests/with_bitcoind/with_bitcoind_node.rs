//! Two `lnkit node run` processes on a real regtest bitcoind (built from the
//! source the kernel crate vendors): open, 100 payments each way, close, and
//! both wallets exact to the sat; the mistakes a user makes; `kill -9` in
//! the middle of 200 payments.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Transaction;
use common::bitcoind::Bitcoind;
use common::node::NodeProc;
use serde_json::{json, Value};

/// Blocks that are nobody's: key 11…11's address, so no wallet gets coinbases.
/// What A gives B at open.
const PUSH: u64 = 100_000_000;

const BURN: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";

fn mine(btc: &Bitcoind, n: u32, to: &str) {
    btc.cli(&["generatetoaddress", &n.to_string(), to]);
}

fn sum_msat(funds: &Value) -> u64 {
    funds["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["amount_msat"].as_u64().unwrap())
        .sum()
}

/// A funded A with a 1,000,000 sat channel to B, open.
fn open_pair(dir: &std::path::Path, btc: &Bitcoind) -> (NodeProc, NodeProc, Value, Value) {
    let a = NodeProc::start(dir, "a", btc);
    let b = NodeProc::start(dir, "b", btc);
    let addr = a.call("newaddr", json!({}))["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    mine(btc, 1, &addr);
    mine(btc, 100, BURN);
    let before = a.until("listfunds", 60, |v| {
        sum_msat(v) > 0 && v["outputs"][0]["status"] == "confirmed"
    });
    a.call("connect", json!({"id": b.address()}));
    // B gets 100,000 sat at open (push_msat): above its reserve, so it can pay back from the start.
    let opened = a.call(
        "fundchannel",
        json!({"id": b.node_id, "amount": 1_000_000, "push_msat": PUSH}),
    );
    mine(btc, 6, BURN);
    for n in [&a, &b] {
        n.until("listpeerchannels", 60, |v| {
            v["channels"][0]["state"] == "CHANNELD_NORMAL"
        });
    }
    (a, b, before, opened)
}

fn pay(payer: &NodeProc, payee: &NodeProc, amount_msat: u64, label: &str) -> Value {
    let inv = payee.call(
        "invoice",
        json!({"amount_msat": amount_msat, "label": label, "description": label}),
    );
    payer.call("pay", json!({"bolt11": inv["bolt11"]}))
}

#[test]
fn two_processes_pay_100_each_way_and_close_with_wallets_exact_to_the_sat() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, before, opened) = open_pair(dir.path(), &btc);
    let mut sent = PUSH;
    for i in 0..100u64 {
        let amount = 3_000_000 + i * 1_001;
        let paid = pay(&a, &b, amount, &format!("ab{i}"));
        assert_eq!(paid["status"], "complete");
        sent += amount;
        let back = 1_000_000 + i * 7;
        pay(&b, &a, back, &format!("ba{i}"));
        sent -= back;
    }
    let pays = a.call("listpays", json!({}));
    assert_eq!(
        pays["pays"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"] == "complete")
            .count(),
        100
    );
    let ch = a.until("listpeerchannels", 30, |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().is_empty()
    });
    let a_msat = ch["channels"][0]["to_us_msat"].as_u64().unwrap();
    assert_eq!(a_msat, 1_000_000_000 - sent);
    let b_ch = b.until("listpeerchannels", 30, |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().is_empty()
    });
    assert_eq!(b_ch["channels"][0]["to_us_msat"].as_u64().unwrap(), sent);

    a.call("close", json!({"id": b.node_id}));
    mine(&btc, 1, BURN);
    let b_funds = b.until("listfunds", 60, |v| {
        v["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["status"] == "confirmed")
    });
    let a_funds = a.until("listfunds", 60, |v| {
        v["outputs"].as_array().unwrap().len() >= 2
            && v["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["status"] == "confirmed")
    });
    // The closing transaction that confirmed, and who paid its fee.
    let spends_funding = |tx: &Transaction| {
        tx.input
            .iter()
            .any(|i| i.previous_output.txid.to_string() == opened["txid"])
    };
    let best = btc.cli(&["getbestblockhash"]);
    let block: Value = serde_json::from_str(&btc.cli(&["getblock", best.trim(), "2"])).unwrap();
    let close: Transaction = block["tx"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| deserialize_hex::<Transaction>(t["hex"].as_str().unwrap()).unwrap())
        .find(spends_funding)
        .expect("a closing transaction confirmed");
    let out_sat: u64 = close.output.iter().map(|o| o.value.to_sat()).sum();
    let fee = 1_000_000 - out_sat;
    let (a_close, b_close) = (a_msat / 1000, sent / 1000);
    let b_got = sum_msat(&b_funds) / 1000;
    let a_out = out_sat - b_got;
    // Rounding each balance down to the sat leaves the msat remainders to the miners too.
    let fee = fee - (1_000_000 - a_close - b_close);
    // Each closer pays its own fee (option_simple_close): exactly one side is short by the fee.
    assert!(
        (b_got == b_close && a_out == a_close - fee)
            || (b_got == b_close - fee && a_out == a_close),
        "close outputs {a_out}/{b_got} against balances {a_close}/{b_close} and fee {fee}"
    );
    // A's wallet: what it had, minus the funding transaction's fee and the channel, plus its close output.
    let funding: Transaction = deserialize_hex(opened["tx"].as_str().unwrap()).unwrap();
    let inputs: HashMap<String, u64> = before["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{}:{}", o["txid"].as_str().unwrap(), o["output"]),
                o["amount_msat"].as_u64().unwrap() / 1000,
            )
        })
        .collect();
    let spent: u64 = funding
        .input
        .iter()
        .map(|i| inputs[&format!("{}:{}", i.previous_output.txid, i.previous_output.vout)])
        .sum();
    let funding_fee = spent - funding.output.iter().map(|o| o.value.to_sat()).sum::<u64>();
    assert_eq!(
        sum_msat(&a_funds) / 1000,
        sum_msat(&before) / 1000 - funding_fee - 1_000_000 + a_out
    );
}

#[test]
fn a_user_s_mistakes_get_errors_that_name_the_field_and_the_numbers() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, before, _) = open_pair(dir.path(), &btc);
    // fundchannel above the wallet's funds says what is available.
    let wallet_sat = a.call("listfunds", json!({}))["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["amount_msat"].as_u64().unwrap() / 1000)
        .sum::<u64>();
    let _ = before;
    assert!(wallet_sat > 0);
    // B has nothing on chain: its fundchannel says so.
    let e = b
        .try_call("fundchannel", json!({"id": a.node_id, "amount": 200_000}))
        .unwrap_err();
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with("amount: the wallet has 0 sat available, ")
            && msg.contains("sat are needed"),
        "{msg}"
    );
    assert_eq!(e["code"], -32602);
    // A payment above the outbound capacity (of all channels, for a payee that takes parts) says it.
    let cap = a.call("listpeerchannels", json!({}))["channels"][0]["spendable_msat"]
        .as_u64()
        .unwrap();
    let inv = b.call(
        "invoice",
        json!({"amount_msat": cap + 1, "label": "big", "description": "too big"}),
    );
    let e = a
        .try_call("pay", json!({"bolt11": inv["bolt11"]}))
        .unwrap_err();
    assert_eq!(
        e["message"],
        format!(
            "amount_msat: {} msat is above the outbound capacity of {cap} msat",
            cap + 1
        )
    );
    // An expired invoice.
    let inv = b.call(
        "invoice",
        json!({"amount_msat": 1000, "label": "old", "description": "expires", "expiry": 1}),
    );
    std::thread::sleep(Duration::from_millis(2100));
    let e = a
        .try_call("pay", json!({"bolt11": inv["bolt11"]}))
        .unwrap_err();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("bolt11: the invoice expired"),
        "{e}"
    );
    // An invoice for another network.
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let signet_node = lnkit::signer::NodeSeed::new(&[0x11; 64], bitcoin::Network::Signet).node();
    let signet = lnkit::node::pay::make_invoice(
        &signet_node,
        "tbs",
        Some(lnkit::amount::Msat(1000)),
        &lnkit::payment::PaymentHash([1; 32]),
        &[2; 32],
        "x",
        3600,
        18,
        2_000_000_000,
        vec![],
    )
    .unwrap();
    let e = a.try_call("pay", json!({"bolt11": signet})).unwrap_err();
    assert_eq!(
        e["message"],
        "bolt11: an invoice for signet, but this node is on regtest"
    );
    // Unknown method and unknown field, through the CLI: exit 2, the field named.
    let datadir = a.datadir.to_str().unwrap();
    common::lnkit(&["node", "frobnicate", "--datadir", datadir], "")
        .assert_bad_input("method", &["unknown method `frobnicate`", "getinfo"]);
    common::lnkit(
        &[
            "node",
            "newaddr",
            "--datadir",
            datadir,
            "--set",
            "colour=red",
        ],
        "",
    )
    .assert_bad_input("colour", &["unknown field"]);
    common::lnkit(
        &["node", "invoice", "--datadir", datadir],
        r#"{"label": "x", "description": "y"}"#,
    )
    .assert_bad_input("amount_msat", &["missing field"]);
    // A connect to an address where nothing listens.
    let port = common::node::free_port();
    let nobody = bitcoin::secp256k1::PublicKey::from_secret_key(
        &secp,
        &bitcoin::secp256k1::SecretKey::from_slice(&[0x22; 32]).unwrap(),
    );
    let e = a
        .try_call(
            "connect",
            json!({"id": format!("{nobody}@127.0.0.1:{port}")}),
        )
        .unwrap_err();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&format!("cannot reach 127.0.0.1:{port}")),
        "{e}"
    );
    // A second node on a locked datadir.
    let run = common::lnkit(
        &[
            "node",
            "run",
            "--datadir",
            datadir,
            "--bitcoind",
            &btc.url(),
            "--rpc-cookie",
            btc.cookie().to_str().unwrap(),
            "--listen",
            "none",
        ],
        "",
    );
    run.assert_bad_input("--datadir", &["is locked: another lnkit node is running"]);
    // withdraw: to an address of another network, above the funds, then for real.
    let e = a
        .try_call(
            "withdraw",
            json!({"destination": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "satoshi": 1000}),
        )
        .unwrap_err();
    assert_eq!(e["message"], "destination: not an address of regtest");
    let e = a
        .try_call("withdraw", json!({"destination": BURN, "satoshi": "most"}))
        .unwrap_err();
    assert!(
        e["message"].as_str().unwrap().starts_with("satoshi: "),
        "{e}"
    );
    let e = b
        .try_call("withdraw", json!({"destination": BURN, "satoshi": 5000}))
        .unwrap_err();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("satoshi: the wallet has 0 sat available"),
        "{e}"
    );
    let w = a.call("withdraw", json!({"destination": BURN, "satoshi": 100_000}));
    let mempool = btc.cli(&["getrawmempool"]);
    assert!(
        mempool.contains(w["txid"].as_str().unwrap()),
        "the withdrawal is in bitcoind's mempool"
    );
    // listpeers: B, connected, with its channel.
    let peers = a.call("listpeers", json!({}));
    assert_eq!(peers["peers"][0]["id"], b.node_id);
    assert_eq!(
        (
            peers["peers"][0]["connected"].as_bool(),
            peers["peers"][0]["num_channels"].as_u64()
        ),
        (Some(true), Some(1))
    );
    // And the CLI client works for a real call.
    let info = common::lnkit(&["node", "getinfo", "--datadir", datadir], "").json();
    common::schema::assert_valid("getinfo", &info);
    assert_eq!(info["id"], a.node_id);
    assert_eq!(info["num_active_channels"], 1);
}

#[test]
fn kill_9_during_200_payments_loses_nothing_and_settles_nothing_twice() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, _, _) = open_pair(dir.path(), &btc);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut labels = vec![];
    let mut kills = 0;
    for i in 0..200u64 {
        let label = format!("p{i}");
        let amount = 1_000_000 + i;
        let inv = match b.try_call(
            "invoice",
            json!({"amount_msat": amount, "label": label, "description": "crash"}),
        ) {
            Ok(inv) => inv,
            Err(_) => continue,
        };
        labels.push((
            label,
            inv["payment_hash"].as_str().unwrap().to_string(),
            amount,
        ));
        // Pay in a thread, and sometimes kill one side at a random instant of the round.
        let bolt11 = inv["bolt11"].clone();
        let a_dir = a.datadir.clone();
        let payer = std::thread::spawn(move || {
            let probe = NodeProcHandle(a_dir);
            let _ = probe.call("pay", json!({"bolt11": bolt11, "retry_for": 5}));
        });
        if next() % 20 == 0 {
            std::thread::sleep(Duration::from_micros(next() % 30_000));
            kills += 1;
            if next() % 2 == 0 {
                a.kill_and_restart();
            } else {
                b.kill_and_restart();
            }
        }
        let _ = payer.join();
        // After a restart, wait for the channel to be live again before the next payment.
        a.until("listpeerchannels", 90, |v| {
            v["channels"][0]["peer_connected"] == true
                && v["channels"][0]["state"] == "CHANNELD_NORMAL"
        });
    }
    // Everything settles: no HTLC left, no payment pending.
    a.until("listpays", 120, |v| {
        v["pays"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] != "pending")
    });
    let ch_a = a.until("listpeerchannels", 60, |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().is_empty()
    });
    let ch_b = b.until("listpeerchannels", 60, |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().is_empty()
    });
    let (a_msat, b_msat) = (
        ch_a["channels"][0]["to_us_msat"].as_u64().unwrap(),
        ch_b["channels"][0]["to_us_msat"].as_u64().unwrap(),
    );
    assert_eq!(a_msat + b_msat, 1_000_000_000, "no msat lost");
    let pays = a.call("listpays", json!({}));
    let invoices = b.call("listinvoices", json!({}));
    let mut settled = 0;
    for (label, hash, amount) in &labels {
        let inv = invoices["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| &i["label"] == label)
            .unwrap();
        let attempts: Vec<&Value> = pays["pays"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| &p["payment_hash"] == hash)
            .collect();
        let complete = attempts.iter().any(|p| p["status"] == "complete");
        // Paid on B's side exactly when complete on A's: never failed there and settled here.
        assert_eq!(
            inv["status"] == "paid",
            complete,
            "{label}: invoice {} but payments {attempts:?}",
            inv["status"]
        );
        if complete {
            settled += amount;
        }
    }
    assert_eq!(
        b_msat,
        PUSH + settled,
        "B holds exactly what the completed payments sent"
    );
    assert!(settled > 0);
    assert!(
        kills >= 5,
        "only {kills} kills: the test must crash the nodes"
    );
}

/// A second handle on a node's socket, for a thread.
struct NodeProcHandle(std::path::PathBuf);

impl NodeProcHandle {
    fn call(&self, method: &str, params: Value) -> Result<Value, Value> {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::os::unix::net::UnixStream::connect(self.0.join("lnkit-rpc"))
            .map_err(|e| json!(e.to_string()))?;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut line = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .unwrap();
        line.push(b'\n');
        s.write_all(&line).map_err(|e| json!(e.to_string()))?;
        let mut answer = String::new();
        BufReader::new(s)
            .read_line(&mut answer)
            .map_err(|e| json!(e.to_string()))?;
        serde_json::from_str(&answer).map_err(|e| json!(e.to_string()))
    }
}
