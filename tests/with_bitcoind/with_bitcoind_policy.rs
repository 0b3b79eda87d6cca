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

use crate::common;

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
    /// Mature coinbases of ours at 50 BTC, taken one by one: regtest halves
    /// the subsidy every 150 blocks, and these tests mine over a thousand.
    coins: std::cell::RefCell<Vec<String>>,
}

impl Chain {
    /// A fresh regtest bitcoind with 100 mature coinbases of 50 BTC ours.
    fn start() -> Chain {
        let btc = Bitcoind::start();
        let hashes: Vec<String> =
            serde_json::from_str(&btc.cli(&["generatetoaddress", "100", ADDR])).unwrap();
        btc.cli(&["generatetoaddress", "100", ADDR]);
        let coins = hashes
            .iter()
            .rev()
            .map(|h| {
                let block: Value = serde_json::from_str(&btc.cli(&["getblock", h, "1"])).unwrap();
                block["tx"][0].as_str().unwrap().to_string()
            })
            .collect();
        Chain {
            btc,
            coins: std::cell::RefCell::new(coins),
        }
    }

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

    /// A coinbase of ours, mature, of 50 BTC.
    fn coin(&self) -> String {
        self.coins.borrow_mut().pop().expect("a stock coin left")
    }

    /// A coin of ours: its txid and amount (output 0).
    fn our_coin(&self) -> (String, u64) {
        (self.coin(), 5_000_000_000)
    }

    /// A mature coinbase paying `addr`: its txid and amount.
    fn coin_to(&self, addr: &str) -> (String, u64) {
        let hash: Vec<String> =
            serde_json::from_str(&self.btc.cli(&["generatetoaddress", "1", addr])).unwrap();
        self.mine(100);
        let block: Value =
            serde_json::from_str(&self.btc.cli(&["getblock", &hash[0], "1"])).unwrap();
        let txid = block["tx"][0].as_str().unwrap().to_string();
        let tx: Value =
            serde_json::from_str(&self.btc.cli(&["getrawtransaction", &txid, "1"])).unwrap();
        let amount = (tx["vout"][0]["value"].as_f64().unwrap() * 1e8).round() as u64;
        (txid, amount)
    }

    /// A parent and its child through `submitpackage` (Core's package
    /// relay, which judges their feerate together), then mined.
    fn accept_package(&self, what: &str, parent: &str, child: &str) {
        let hexes = json!([parent, child]).to_string();
        let out: Value = serde_json::from_str(
            &self
                .btc
                .try_cli(&["submitpackage", &hexes])
                .unwrap_or_else(|e| panic!("Core refused {what}: {e}")),
        )
        .unwrap();
        assert_eq!(out["package_msg"], "success", "Core refused {what}: {out}");
        self.mine(1);
        for r in out["tx-results"].as_object().unwrap().values() {
            let txid = s(r, "txid");
            let tx: Value =
                serde_json::from_str(&self.btc.cli(&["getrawtransaction", txid, "1"])).unwrap();
            assert!(
                tx["confirmations"].as_u64().unwrap_or(0) >= 1,
                "{what} not mined"
            );
        }
        eprintln!("Core accepted {what} as a package");
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

/// `object` with a wallet coin of ours (`txid:vout`, `amount_sat`) paying
/// the fee at 2,500 sat/kw, change back to us.
fn with_coin(object: &Value, txid: &str, vout: u32, amount_sat: u64) -> Value {
    let mut v = object.clone();
    v["inputs"] = json!([{"txid": txid, "vout": vout, "amount_sat": amount_sat, "privkey": WIF}]);
    v["change_address"] = json!(ADDR);
    v["network"] = json!("regtest");
    v["feerate_per_kw"] = json!(2500);
    v
}

/// Each HTLC transaction of `built` (a commitment on chain), past every
/// expiry, accepted and mined: as signed (static_remotekey: they carry
/// their fee), or with a wallet coin and change (`lnkit bump --htlc`:
/// zero-fee under anchors; the change of one is the coin of the next).
fn htlc_txs_confirmed(chain: &Chain, built: &Value, kind: &str) -> Vec<Value> {
    let htlc_txs = built["htlc_txs"].as_array().unwrap();
    assert!(!htlc_txs.is_empty());
    let expiry = htlc_txs
        .iter()
        .map(|t| t["htlc"]["cltv_expiry"].as_u64().unwrap())
        .max()
        .unwrap() as u32;
    chain.mine_to(expiry);
    let mut confirmed = vec![];
    if kind == "static_remotekey" {
        for t in htlc_txs {
            let what = format!("a {kind} {}", s(t, "kind"));
            chain.accept(&what, s(t, "signed_tx_hex"));
            confirmed.push(t["signed_tx_hex"].clone());
        }
        return confirmed;
    }
    let (mut txid, mut amount) = chain.our_coin();
    let mut vout = 0;
    for (i, t) in htlc_txs.iter().enumerate() {
        let out = lnkit_json(
            &["bump", "--htlc", &i.to_string(), "--verify"],
            &with_coin(built, &txid, vout, amount),
        )
        .json();
        let what = format!("a {kind} {} with a fee input (bump --htlc)", s(t, "kind"));
        chain.accept(&what, s(&out, "tx_hex"));
        confirmed.push(out["tx_hex"].clone());
        txid = s(&out, "txid").to_string();
        vout = 1;
        amount = out["change_sat"].as_u64().expect("change");
    }
    confirmed
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
    let second_stage = htlc_txs_confirmed(chain, &built, kind);
    {
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

    // 3. The same commitment, revoked: the penalty takes to_local and every
    //    HTLC output. It goes out as a tower would send it: handed over in
    //    an appointment, decrypted with the breach's txid.
    let penalty = |built: &Value| {
        lnkit(
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
        .json()
    };
    let built = lnkit_json(&["build-commitment"], &channel(chain, appendix, case)).json();
    chain.accept(
        &format!("a revoked {kind} commitment"),
        s(&built, "signed_tx_hex"),
    );
    let out = penalty(&built);
    let appointment = lnkit(&["tower", "appointment"], &out.to_string()).json();
    let decrypted = lnkit(
        &[
            "tower",
            "decrypt",
            "--set",
            &format!("breach_tx_hex={}", s(&built, "signed_tx_hex")),
        ],
        &appointment.to_string(),
    )
    .json();
    let txs = out["penalty_txs"].as_array().unwrap();
    assert_eq!(decrypted["penalty_txid"], txs[0]["txid"]);
    chain.accept(
        &format!("a tower's {kind} penalty"),
        s(&decrypted, "penalty_tx_hex"),
    );
    for p in &txs[1..] {
        chain.accept(&format!("a {kind} penalty"), s(p, "tx_hex"));
    }

    // 3b. Revoked again, and the cheater's HTLC transactions confirm first:
    //     the penalty takes to_local and their outputs (second stage).
    let built = lnkit_json(&["build-commitment"], &channel(chain, appendix, case)).json();
    chain.accept(
        &format!("a revoked {kind} commitment"),
        s(&built, "signed_tx_hex"),
    );
    //     Split: one penalty per output, each relayed on its own.
    let mut revoked = built.clone();
    let second_stage = htlc_txs_confirmed(chain, &built, kind);
    revoked["second_stage_tx_hex"] = json!(second_stage);
    revoked["split"] = json!(true);
    let out = penalty(&revoked);
    let txs = out["penalty_txs"].as_array().unwrap();
    let mut spent = vec![];
    for p in txs {
        chain.accept(
            &format!("a {kind} second-stage penalty (split)"),
            s(p, "tx_hex"),
        );
        let tx: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize_hex(s(p, "tx_hex")).unwrap();
        spent.extend(tx.input.iter().map(|i| i.previous_output));
    }
    // to_local, and output 0 of every HTLC transaction: taken, or named
    // as worth less than its own penalty's fee at this feerate.
    let uneconomical: Vec<String> = out["uneconomical"]
        .as_array()
        .map(|u| u.iter().map(|x| s(x, "outpoint").to_string()).collect())
        .unwrap_or_default();
    assert_eq!(
        spent.len() + uneconomical.len(),
        1 + second_stage.len(),
        "{out}"
    );
    for hex in &second_stage {
        let tx: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize_hex(hex.as_str().unwrap()).unwrap();
        let htlc_out = bitcoin::OutPoint::new(tx.compute_txid(), 0);
        assert!(
            spent.contains(&htlc_out) || uneconomical.contains(&htlc_out.to_string()),
            "{htlc_out} not punished"
        );
    }

    // 5. Under anchors, the commitment at 0 sat/kw (its fee left to a
    //    child) with a child through the holder's anchor (`lnkit bump
    //    --anchor`): only the package reaches the feerate.
    if kind != "static_remotekey" {
        let mut ch = channel(chain, appendix, case);
        ch["feerate_per_kw"] = json!(0);
        let built = lnkit_json(&["build-commitment"], &ch).json();
        let (txid, amount) = chain.our_coin();
        let out = lnkit_json(
            &["bump", "--anchor", "--verify"],
            &with_coin(&built, &txid, 0, amount),
        )
        .json();
        assert_eq!(out["parent_fee_sat"], 0);
        let parent_alone = chain
            .btc
            .try_cli(&["sendrawtransaction", s(&built, "signed_tx_hex")]);
        assert!(parent_alone.is_err(), "a zero-fee commitment relayed alone");
        let pkg = out["package"].as_array().unwrap();
        chain.accept_package(
            &format!("a zero-fee {kind} commitment and its CPFP child (bump --anchor)"),
            pkg[0].as_str().unwrap(),
            pkg[1].as_str().unwrap(),
        );
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
    let chain = Chain::start();
    every_step_is_relayed(
        &chain,
        0,
        "commitment tx with seven outputs untrimmed (maximum feerate)",
        "static_remotekey",
    );
}

#[test]
fn cores_mempool_takes_every_step_of_an_anchors_channel() {
    let chain = Chain::start();
    every_step_is_relayed(
        &chain,
        1,
        "commitment tx with seven outputs untrimmed",
        "anchors_zero_fee_htlc_tx",
    );
}

/// The swap keys: the claimer's is 1·G, the refunder's 2·G.
const K_CLAIM: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const K_REFUND: &str = "0000000000000000000000000000000000000000000000000000000000000002";
const PREIMAGE: &str = "7777777777777777777777777777777777777777777777777777777777777777";

fn merged(a: &Value, b: &Value) -> Value {
    let mut out = a.clone();
    for (k, v) in b.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

/// A reverse swap of `output_type` locked on chain from a coin of ours.
fn swap_locked(chain: &Chain, output_type: &str) -> Value {
    let (txid, amount) = chain.our_coin();
    let swap = lnkit_json(
        &["swap", "create"],
        &json!({"kind": "reverse", "output_type": output_type, "network": "regtest",
                "preimage": PREIMAGE,
                "claim_pubkey": "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
                "refund_pubkey": "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
                "current_height": chain.height(), "timeout_blocks": 20, "amount_sat": 100_000}),
    )
    .json();
    let wallet = json!({"inputs": [{"txid": txid, "vout": 0, "amount_sat": amount, "privkey": WIF}],
                        "change_address": ADDR, "feerate_sat_per_vb": 2});
    let locked = lnkit_json(&["swap", "lockup"], &merged(&swap, &wallet)).json();
    chain.accept(
        &format!("a {output_type} swap lockup"),
        s(&locked, "lockup_tx_hex"),
    );
    locked
}

#[test]
fn cores_mempool_takes_every_swap_path() {
    let chain = Chain::start();
    for output_type in ["p2wsh", "p2tr"] {
        // The claim by its script path: the preimage and the claimer's key.
        let l = swap_locked(&chain, output_type);
        let claim = lnkit_json(
            &["swap", "claim"],
            &merged(
                &l,
                &json!({"preimage": PREIMAGE, "claim_privkey": K_CLAIM, "destination": ADDR}),
            ),
        )
        .json();
        chain.accept(&format!("a {output_type} swap claim"), s(&claim, "tx_hex"));

        // The refund once the timeout is reached (nLockTime).
        let l = swap_locked(&chain, output_type);
        chain.mine_to(l["timeout_block_height"].as_u64().unwrap() as u32);
        let refund = lnkit_json(
            &["swap", "refund"],
            &merged(
                &l,
                &json!({"refund_privkey": K_REFUND, "destination": ADDR,
                        "current_height": chain.height()}),
            ),
        )
        .json();
        chain.accept(
            &format!("a {output_type} swap refund"),
            s(&refund, "tx_hex"),
        );
    }

    // The cooperative key path (MuSig2), both ways: claim and refund.
    for step in ["claim", "refund"] {
        let l = swap_locked(&chain, "p2tr");
        let spend = merged(&l, &json!({"destination": ADDR}));
        let nonce = |k: &str, seed: &str| {
            lnkit_json(
                &["swap", "nonce"],
                &merged(&spend, &json!({"privkey": k, "nonce_seed": seed})),
            )
            .json()
        };
        let (cn, rn) = (nonce(K_CLAIM, PREIMAGE), nonce(K_REFUND, &"12".repeat(32)));
        let nonces = json!({"claim": cn["pub_nonce"], "refund": rn["pub_nonce"]});
        let sign = |k: &str, n: &Value| {
            lnkit_json(
                &["swap", "sign-partial"],
                &merged(
                    &spend,
                    &json!({"privkey": k, "sec_nonce": n["sec_nonce"], "pub_nonces": nonces}),
                ),
            )
            .json()
        };
        let (cp, rp) = (sign(K_CLAIM, &cn), sign(K_REFUND, &rn));
        let partials = json!({"claim": cp["partial_signature"], "refund": rp["partial_signature"]});
        let out = lnkit_json(
            &["swap", step, "--cooperative"],
            &merged(
                &spend,
                &json!({"pub_nonces": nonces, "partial_signatures": partials}),
            ),
        )
        .json();
        assert_eq!(out["path"], "key");
        chain.accept(
            &format!("a p2tr swap {step} by the MuSig2 key path"),
            s(&out, "tx_hex"),
        );
    }
}

/// The P2WPKH regtest address of a hex private key.
fn address_of(privkey_hex: &str) -> String {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let key = bitcoin::PrivateKey::from_slice(
        &hex::decode(privkey_hex).unwrap(),
        bitcoin::Network::Regtest,
    )
    .unwrap();
    let pk = bitcoin::CompressedPublicKey::from_private_key(&secp, &key).unwrap();
    bitcoin::Address::p2wpkh(&pk, bitcoin::Network::Regtest).to_string()
}

fn example(name: &str) -> Value {
    let path = format!("{}/docs/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The docs' factory of three, each party paying in from a coinbase of its
/// own key, with short steps (2 of 10 blocks) so that its delays pass.
fn factory_on_chain(chain: &Chain) -> Value {
    let mut f = example("factory.json");
    f["steps"] = json!(2);
    f["step_blocks"] = json!(10);
    let keys = example("factory-keys.json");
    for (i, party) in f["parties"].as_array_mut().unwrap().iter_mut().enumerate() {
        let key = keys["privkeys"][i].as_str().unwrap().to_string();
        let (txid, amount) = chain.coin_to(&address_of(&key));
        party["inputs"] = json!([{"txid": txid, "vout": 0, "amount_sat": amount, "privkey": key}]);
    }
    let created = lnkit_json(&["factory", "create"], &f).json();
    chain.accept(
        "a factory's hook (funding) transaction",
        s(&created, "hook_tx_hex"),
    );
    created
}

/// A factory on chain (its hook confirmed), allocated into the docs' two channels.
fn factory_allocated(chain: &Chain, keys: &Value) -> Value {
    let created = factory_on_chain(chain);
    lnkit_json(
        &["factory", "allocate"],
        &merged(&merged(&created, keys), &example("factory-allocation.json")),
    )
    .json()
}

#[test]
fn cores_mempool_takes_a_factorys_transactions() {
    let chain = Chain::start();
    let keys = example("factory-keys.json");
    // Allocated, updated once, then exited: the kickoff, and the latest
    // allocation once its relative delay has passed.
    let allocated = factory_allocated(&chain, &keys);
    let updated = lnkit_json(
        &["factory", "update"],
        &merged(&merged(&allocated, &keys), &example("factory-update.json")),
    )
    .json();
    chain.accept("a factory's kickoff", s(&updated["kickoff"], "tx_hex"));
    let allocation: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(s(&updated["allocation"], "tx_hex")).unwrap();
    let delay = allocation.input[0].sequence.0 & 0xffff;
    assert!(delay > 0 && delay < 20, "delay {delay}");
    chain.mine(delay);
    chain.accept(
        "a factory's updated allocation",
        s(&updated["allocation"], "tx_hex"),
    );

    // Another factory, closed cooperatively by its hook's key path.
    let allocated = factory_allocated(&chain, &keys);
    let closed = lnkit_json(&["factory", "close"], &merged(&allocated, &keys)).json();
    chain.accept("a factory's cooperative close", s(&closed, "tx_hex"));
}
