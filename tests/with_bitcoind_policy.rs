//! Bitcoin Core's policy, not only its consensus, for the toolkit's
//! transactions (issue 36): each is sent to a real regtest bitcoind with
//! its default policy (`sendrawtransaction`, which applies standardness:
//! script flags, dust, weight, output types) and mined. The kernel already
//! checks consensus in the other tests; a consensus-valid transaction that
//! is non-standard does not relay, and a penalty that does not relay
//! leaves a breach unpunished.
//!
//! The channel is BOLT 3's vector channel (Appendices C and F: its keys
//! and secrets are public) on a real funding output: `build-funding`
//! spends a coinbase to Appendix B's 2-of-2, then every step runs on the
//! vector inputs with that outpoint.

mod common;

use common::bitcoind::Bitcoind;
use common::vectors::{appendices, cli_input};
use common::{lnkit, lnkit_json, s};
use serde_json::{json, Value};

/// The P2WPKH address of the key 11…11 on regtest, and that key.
const ADDR: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";
const WIF: &str = "cN9spWsvaxA8taS7DFMxnk1yJD2gaF2PX1npuTpy3vuZFJdwavaw";
const REMOTE_REVOCATION_SECRET: &str =
    "2222222222222222222222222222222222222222222222222222222222222222";
const LOCAL_DELAYED_SECRET: &str =
    "3333333333333333333333333333333333333333333333333333333333333333";
const REMOTE_PAYMENT_SECRET: &str =
    "4444444444444444444444444444444444444444444444444444444444444444";
const LOCAL_SCRIPT: &str = "00143ca33c2e4446f4a305f23c80df8ad1afdcf652f9";
const REMOTE_SCRIPT: &str = "0014cc1b07838e387deacd0e5232e1e8b49f4c29e484";

struct Chain {
    btc: Bitcoind,
}

impl Chain {
    fn mine(&self, n: u32) {
        self.btc.cli(&["generatetoaddress", &n.to_string(), ADDR]);
    }

    fn height(&self) -> u32 {
        self.btc.cli(&["getblockcount"]).parse().unwrap()
    }

    /// Mine until the tip is at `h`.
    fn mine_to(&self, h: u32) {
        let now = self.height();
        if h > now {
            self.mine(h - now);
        }
    }

    /// Sent through Core's mempool with its default policy, then mined:
    /// the test fails with Core's reason if it is refused.
    fn accept(&self, what: &str, hex: &str) -> String {
        let txid = self
            .btc
            .try_cli(&["sendrawtransaction", hex])
            .unwrap_or_else(|e| panic!("Core's mempool refused {what}: {e}"));
        self.mine(1);
        let tx: Value =
            serde_json::from_str(&self.btc.cli(&["getrawtransaction", &txid, "1"])).unwrap();
        assert!(
            tx["confirmations"].as_u64().unwrap_or(0) >= 1,
            "{what} not mined"
        );
        eprintln!("Core accepted {what}: {txid}");
        txid
    }

    /// A coinbase of ours, mature.
    fn coin(&self) -> String {
        let hash: Vec<String> =
            serde_json::from_str(&self.btc.cli(&["generatetoaddress", "1", ADDR])).unwrap();
        self.mine(100);
        let block: Value =
            serde_json::from_str(&self.btc.cli(&["getblock", &hash[0], "1"])).unwrap();
        block["tx"][0].as_str().unwrap().to_string()
    }

    /// A real funding output for the vector channel: `build-funding` of
    /// Appendix B's two keys, 10,000,000 sat, accepted and confirmed.
    fn fund(&self) -> (String, u64) {
        let coinbase = self.coin();
        let amount: u64 = {
            let tx: Value =
                serde_json::from_str(&self.btc.cli(&["getrawtransaction", &coinbase, "1"]))
                    .unwrap();
            (tx["vout"][0]["value"].as_f64().unwrap() * 1e8).round() as u64
        };
        let funding = lnkit_json(
            &["build-funding", "--network", "regtest"],
            &json!({
                "inputs": [{"txid": coinbase, "vout": 0, "amount_sat": amount, "privkey": WIF}],
                "local_funding_pubkey": "023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb",
                "remote_funding_pubkey": "030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1",
                "funding_amount_sat": 10_000_000,
                "change_address": ADDR,
                "feerate_per_kw": 2500
            }),
        )
        .json();
        let txid = self.accept("build-funding's funding transaction", s(&funding, "tx_hex"));
        assert_eq!(txid, s(&funding, "txid"));
        (txid, funding["funding_output_index"].as_u64().unwrap_or(0))
    }
}

/// The vector channel's input for `case` of `appendix`, on a real funding.
fn channel(chain: &Chain, appendix: usize, case: &str) -> Value {
    let all = appendices();
    let a = &all[appendix];
    let c = a.cases.iter().find(|c| s(c, "name") == case).unwrap();
    let mut input = cli_input(a, c);
    let (txid, vout) = chain.fund();
    input["funding_txid"] = json!(txid);
    input["funding_output_index"] = json!(vout);
    input
}

/// Every step, one channel per path (each spends the same funding its own way).
fn every_step_is_relayed(chain: &Chain, appendix: usize, case: &str, kind: &str) {
    // 1. The holder's commitment, HTLC outputs and all; then its HTLC
    //    transactions (static_remotekey: they carry their own fee), and
    //    the holder's sweep of to_local and their outputs after the delay.
    let built = lnkit_json(&["build-commitment"], &channel(chain, appendix, case)).json();
    chain.accept(
        &format!("a {kind} commitment with HTLC outputs"),
        s(&built, "signed_tx_hex"),
    );
    let htlc_txs = built["htlc_txs"].as_array().unwrap().clone();
    assert!(!htlc_txs.is_empty());
    let mut second_stage = vec![];
    if kind == "static_remotekey" {
        let expiry = htlc_txs
            .iter()
            .map(|t| t["htlc"]["cltv_expiry"].as_u64().unwrap())
            .max()
            .unwrap() as u32;
        chain.mine_to(expiry);
        for t in &htlc_txs {
            let what = format!("a {kind} {}", s(t, "kind"));
            chain.accept(&what, s(t, "signed_tx_hex"));
            second_stage.push(t["signed_tx_hex"].clone());
        }
        chain.mine(144);
        let mut sweep = built.clone();
        sweep["local_delayed_payment_basepoint_secret"] = json!(LOCAL_DELAYED_SECRET);
        sweep["destination"] = json!(LOCAL_SCRIPT);
        sweep["second_stage_tx_hex"] = json!(second_stage);
        sweep["confirmations"] = json!(144);
        let out = lnkit_json(&["close", "--sweep"], &sweep).json();
        chain.accept(
            &format!("the holder's {kind} sweep of to_local and the HTLC transactions' outputs"),
            s(&out["sweep_tx"], "tx_hex"),
        );
    }

    // 2. The counterparty's sweep of the same commitment: to_remote, its
    //    anchor, and each HTLC (by preimage, or by timeout past expiry).
    let built = lnkit_json(&["build-commitment"], &channel(chain, appendix, case)).json();
    chain.accept(&format!("a {kind} commitment"), s(&built, "signed_tx_hex"));
    let expiry = built["htlc_txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["htlc"]["cltv_expiry"].as_u64().unwrap())
        .max()
        .unwrap() as u32;
    chain.mine_to(expiry + 1);
    let mut theirs = built.clone();
    theirs["we"] = json!("remote");
    theirs["remote_payment_basepoint_secret"] = json!(REMOTE_PAYMENT_SECRET);
    theirs["destination"] = json!(REMOTE_SCRIPT);
    theirs["current_height"] = json!(chain.height());
    let out = lnkit_json(&["close", "--sweep"], &theirs).json();
    assert!(
        out["pending"].as_array().is_none_or(|p| p.is_empty()),
        "{out}"
    );
    chain.accept(
        &format!("the counterparty's {kind} sweep (to_remote and every HTLC)"),
        s(&out["sweep_tx"], "tx_hex"),
    );

    // 3. The same commitment, revoked: the penalty takes to_local and every HTLC output.
    let built = lnkit_json(&["build-commitment"], &channel(chain, appendix, case)).json();
    chain.accept(
        &format!("a revoked {kind} commitment"),
        s(&built, "signed_tx_hex"),
    );
    let out = lnkit(
        &[
            "penalty",
            "--set",
            &format!("revocation_basepoint_secret={REMOTE_REVOCATION_SECRET}"),
            "--set",
            &format!("destination={REMOTE_SCRIPT}"),
            "--set",
            "feerate_per_kw=2500",
        ],
        &built.to_string(),
    )
    .json();
    for p in out["penalty_txs"].as_array().unwrap() {
        chain.accept(&format!("a {kind} penalty"), s(p, "tx_hex"));
    }

    // 4. A mutual close of the channel at the vector's balances.
    let mut close = channel(chain, appendix, case);
    close["htlcs"] = json!([]);
    let total = 10_000_000_000u64;
    close["to_local_msat"] = json!(total - 3_000_000_000);
    close["to_remote_msat"] = json!(3_000_000_000u64);
    close["local_scriptpubkey"] = json!(LOCAL_SCRIPT);
    close["remote_scriptpubkey"] = json!(REMOTE_SCRIPT);
    close["feerate_per_kw"] = json!(2500);
    let out = lnkit_json(&["close", "--mutual"], &close).json();
    chain.accept(
        &format!("a mutual close of a {kind} channel"),
        s(&out, "signed_tx_hex"),
    );
}

#[test]
fn cores_mempool_takes_every_step_of_a_static_remotekey_channel() {
    let chain = Chain {
        btc: Bitcoind::start(),
    };
    every_step_is_relayed(
        &chain,
        0,
        "commitment tx with seven outputs untrimmed (maximum feerate)",
        "static_remotekey",
    );
}

#[test]
fn cores_mempool_takes_every_step_of_an_anchors_channel() {
    let chain = Chain {
        btc: Bitcoind::start(),
    };
    every_step_is_relayed(
        &chain,
        1,
        "commitment tx with seven outputs untrimmed",
        "anchors_zero_fee_htlc_tx",
    );
}
