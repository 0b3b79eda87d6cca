//! Interop with Core Lightning (v26.06.6), live over TCP on loopback, on one
//! regtest bitcoind, as `with_bitcoind_interop_ldk.rs` does with LDK. CLN
//! runs with its defaults as a user has them: its `pay` adds a shadow
//! route's CLTV offset to about half its payments, its `xkeysend` asks a
//! final CLTV delta of 22.
//!
//! Built by `../shared/cln/build.sh` (or `LNKIT_CLN_BIN`); without either
//! these tests print why and pass, unless `LNKIT_REQUIRE_CLN=1` (CI).
//! Figures that decide a test come from the chain (bitcoind) or from CLN,
//! never from lnkit's own accounting.
//!
//! The matrix: opens both ways (anchors and static_remotekey, announced and
//! private with `option_scid_alias`); gossip both ways; CLN's `pay`/`xpay`
//! every time, MPP over two channels, keysend both ways; forwarding both
//! ways at the announced fees; failures; `update_fee` both ways, `kill -9`
//! and a CLN restart; cooperative closes by each side with and without an
//! HTLC pending; force closes and breaches both ways, settled by a ledger
//! of the chain's transactions (`common::ledger`).

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::bitcoind::Bitcoind;
use common::cln::{self, call_socket, Cln};
use common::ledger;
use common::node::NodeProc;
use serde_json::{json, Value};

const BURN: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";

/// lnkit's closing estimate when bitcoind has none (a fresh regtest chain):
/// the fallback the tests start it with.
const FALLBACK_PERKW: u64 = 2500;

fn mine(btc: &Bitcoind, n: u32) {
    btc.cli(&["generatetoaddress", &n.to_string(), BURN]);
}

/// A coinbase to lnkit's wallet, matured.
fn fund_lnkit(btc: &Bitcoind, lnkit: &NodeProc) {
    let a = lnkit.call("newaddr", json!({}))["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    btc.cli(&["generatetoaddress", "1", &a]);
    mine(btc, 100);
    // The coinbase is spendable once lnkit has seen the block that matures it.
    let tip: u64 = btc.cli(&["getblockcount"]).parse().unwrap();
    lnkit.until("getinfo", 60, |v| v["blockheight"].as_u64() >= Some(tip));
}

/// Small outputs from lnkit's wallet to CLN's (CLN aborts boosting an
/// anchor HTLC transaction with a 50 BTC coinbase input: INTEROP.md).
fn fund_cln(btc: &Bitcoind, lnkit: &NodeProc, cln: &Cln, outputs: &[u64]) {
    let before = cln.confirmed_sat();
    for sat in outputs {
        let addr = cln.call("newaddr", json!({"addresstype": "bech32"}))["bech32"]
            .as_str()
            .unwrap()
            .to_string();
        lnkit.call("withdraw", json!({"destination": addr, "satoshi": sat}));
    }
    mine(btc, 1);
    let want = before + outputs.iter().sum::<u64>();
    let deadline = Instant::now() + Duration::from_secs(60);
    while cln.confirmed_sat() < want {
        assert!(
            Instant::now() < deadline,
            "CLN never saw its funds{}",
            cln.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// bitcoind has no fee estimate on a fresh regtest chain, so lnkit's
/// closing estimate is the fallback it was started with.
fn assert_no_estimate(btc: &Bitcoind) {
    let e: Value = serde_json::from_str(&btc.cli(&["estimatesmartfee", "12"])).unwrap();
    assert!(e.get("feerate").is_none(), "bitcoind has an estimate: {e}");
}

fn open_channels(who: &NodeProc, peer: &str) -> Vec<Value> {
    who.call("listpeerchannels", json!({"id": peer}))["channels"]
        .as_array()
        .unwrap()
        .clone()
}

/// Channel `id` in a `listpeerchannels` answer (lnkit's and CLN's have the same shape).
fn channel_in(list: Value, id: &str) -> Value {
    list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

fn lnkit_channel(lnkit: &NodeProc, id: &str) -> Value {
    channel_in(lnkit.call("listpeerchannels", json!({})), id)
}

fn cln_channel(cln: &Cln, id: &str) -> Value {
    channel_in(cln.call("listpeerchannels", json!({})), id)
}

/// Both ends see `id` in CHANNELD_NORMAL, connected.
fn wait_normal(lnkit: &NodeProc, cln: &Cln, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (l, c) = (lnkit_channel(lnkit, id), cln_channel(cln, id));
        if l["state"] == "CHANNELD_NORMAL"
            && l["peer_connected"] == true
            && c["state"] == "CHANNELD_NORMAL"
            && c["peer_connected"] == true
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "channel {id} never normal on both ends: lnkit {l}\nCLN {c}\n{}{}",
            lnkit.log(),
            cln.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `invoice` call both implementations take, and the BOLT 11 string of its answer.
fn invoice_params(msat: u64, label: &str) -> Value {
    json!({"amount_msat": msat, "label": label, "description": label})
}

fn bolt11(answer: Value) -> String {
    answer["bolt11"].as_str().unwrap().to_string()
}

fn lnkit_invoice(lnkit: &NodeProc, msat: u64, label: &str) -> String {
    bolt11(lnkit.call("invoice", invoice_params(msat, label)))
}

fn cln_invoice(cln: &Cln, msat: u64, label: &str) -> String {
    bolt11(cln.call("invoice", invoice_params(msat, label)))
}

/// What lnkit's invoice `label` received, once paid.
fn lnkit_received(lnkit: &NodeProc, label: &str) -> Option<u64> {
    let v = lnkit.call("listinvoices", json!({"label": label}));
    let inv = &v["invoices"][0];
    (inv["status"] == "paid").then(|| inv["amount_received_msat"].as_u64().unwrap())
}

/// The feerate (sat/kw) of the transaction that spent the funding output
/// of `ch` (as `listpeerchannels` lists it), by the chain's figures.
fn closing_feerate(btc: &Bitcoind, ch: &Value) -> f64 {
    let txid = btc
        .spender(
            ch["funding_txid"].as_str().unwrap(),
            ch["funding_outnum"].as_u64().unwrap(),
            1,
        )
        .expect("the closing transaction is on the chain");
    btc.feerate_perkw(&txid)
}

/// A CLN node and an lnkit node, funded, connected.
struct Pair {
    btc: Bitcoind,
    _dir: tempfile::TempDir,
    lnkit: NodeProc,
    cln: Cln,
}

fn pair(test: &str, extra_cln: &[&str]) -> Option<Pair> {
    let bin = cln::binaries(test)?;
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let lnkit = NodeProc::start(dir.path(), "lnkit", &btc);
    let cln = Cln::start(&bin, &btc, "cln", extra_cln);
    fund_lnkit(&btc, &lnkit);
    fund_cln(&btc, &lnkit, &cln, &[20_000_000, 20_000_000]);
    cln.call(
        "connect",
        json!({"id": lnkit.node_id, "host": "127.0.0.1", "port": lnkit.port}),
    );
    Some(Pair {
        btc,
        _dir: dir,
        lnkit,
        cln,
    })
}

impl Pair {
    /// CLN opens to lnkit: its defaults (anchors when both support them).
    fn cln_opens(&self, sat: u64, announce: bool) -> String {
        self.cln
            .try_call(
                "connect",
                json!({"id": self.lnkit.node_id, "host": "127.0.0.1", "port": self.lnkit.port}),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "CLN connect: {e}\n{}{}",
                    self.lnkit.log(),
                    self.cln.full_log()
                )
            });
        let opened = self
            .cln
            .try_call(
                "fundchannel",
                json!({"id": self.lnkit.node_id, "amount": sat, "announce": announce}),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "CLN fundchannel: {e}\n{}{}",
                    self.lnkit.log(),
                    self.cln.log()
                )
            });
        let id = opened["channel_id"].as_str().unwrap().to_string();
        mine(&self.btc, 6);
        wait_normal(&self.lnkit, &self.cln, &id);
        id
    }

    /// lnkit opens to CLN with `bits`.
    fn lnkit_opens(&self, sat: u64, bits: Value, announce: bool, push_msat: u64) -> String {
        let opened = self.lnkit.call(
            "fundchannel",
            json!({"id": self.cln.id, "amount": sat, "channel_type": bits,
                   "announce": announce, "push_msat": push_msat}),
        );
        assert_eq!(opened["channel_type"]["bits"], bits);
        let id = opened["channel_id"].as_str().unwrap().to_string();
        mine(&self.btc, 6);
        wait_normal(&self.lnkit, &self.cln, &id);
        id
    }

    /// CLN pays an lnkit invoice with `method` (`pay` or `xpay`), which must complete.
    fn cln_pays(&self, method: &str, msat: u64, label: &str) {
        let bolt11 = lnkit_invoice(&self.lnkit, msat, label);
        let key = if method == "xpay" {
            "invstring"
        } else {
            "bolt11"
        };
        let paid = self
            .cln
            .try_call(method, json!({key: bolt11}))
            .unwrap_or_else(|e| {
                panic!(
                    "CLN {method} {label}: {e}\n{}{}",
                    self.lnkit.log(),
                    self.cln.log()
                )
            });
        let status = paid.get("status").and_then(|s| s.as_str());
        assert!(
            status.is_none_or(|s| s == "complete"),
            "CLN {method} {label}: {paid}"
        );
        assert_eq!(lnkit_received(&self.lnkit, label), Some(msat), "{label}");
    }

    /// lnkit pays a CLN invoice, which must complete.
    /// CLN's latest commitment with lnkit, signed (`dev-sign-last-tx`,
    /// as CLN's own tests cheat), in hex.
    fn cln_commitment(&self) -> String {
        self.cln
            .call("dev-sign-last-tx", json!({"id": self.lnkit.node_id}))["tx"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn lnkit_pays(&self, msat: u64, label: &str) {
        let bolt11 = cln_invoice(&self.cln, msat, label);
        let paid = self.lnkit.call("pay", json!({"bolt11": bolt11}));
        assert_eq!(paid["status"], "complete", "lnkit pays {label}: {paid}");
        let inv = self.cln.call("listinvoices", json!({"label": label}));
        assert_eq!(inv["invoices"][0]["status"], "paid", "{label}: {inv}");
        assert_eq!(inv["invoices"][0]["amount_received_msat"], msat);
    }
}

/// Every attempt of CLN's default `pay` (and `xpay`) to lnkit succeeds
/// over one channel, shadow offsets included; keysend both ways with CLN's
/// `keysend` and `xkeysend`; lnkit pays CLN; unknown and cancelled
/// invoices fail cleanly on each side and the channel stays usable.
#[test]
fn cln_pays_lnkit_with_its_defaults_every_time_and_lnkit_pays_back() {
    let Some(p) = pair("cln_pays_lnkit_with_its_defaults_every_time", &[]) else {
        return;
    };
    let ch = p.cln_opens(1_000_000, true);
    let l = lnkit_channel(&p.lnkit, &ch);
    assert_eq!(
        l["channel_type"]["bits"],
        json!([12, 22]),
        "CLN opens with anchors: {l}"
    );
    assert_eq!(l["opener"], "remote");

    // 1. CLN's default pay, many times over the one channel: none may fail.
    for i in 0..20 {
        p.cln_pays("pay", 10_000_000 + i, &format!("pay-{i}"));
    }
    for i in 0..5 {
        p.cln_pays("xpay", 7_000_000 + i, &format!("xpay-{i}"));
    }

    // 2. Keysend from CLN, both methods (xkeysend asks a final delta of 22).
    for method in ["keysend", "xkeysend"] {
        let sent = p.cln.call(
            method,
            json!({"destination": p.lnkit.node_id, "amount_msat": 3_333_000}),
        );
        // `keysend` says `status`; `xkeysend` (like `xpay`) only gives the preimage.
        assert!(
            sent.get("status").is_none_or(|s| s == "complete"),
            "CLN {method}: {sent}"
        );
        let preimage: [u8; 32] = hex::decode(sent["payment_preimage"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let hash = sha256_hex(&preimage);
        let got = p.lnkit.call("listinvoices", json!({"payment_hash": hash}));
        assert_eq!(got["invoices"][0]["status"], "paid", "{method}: {got}");
        assert_eq!(got["invoices"][0]["amount_received_msat"], 3_333_000);
    }

    // 3. lnkit pays CLN, by invoice and by keysend.
    for i in 0..3 {
        p.lnkit_pays(20_000_000 + i, &format!("back-{i}"));
    }
    let sent = p.lnkit.call(
        "keysend",
        json!({"destination": p.cln.id, "amount_msat": 4_444_000}),
    );
    assert_eq!(sent["status"], "complete", "lnkit keysend: {sent}");
    // CLN's keysend plugin records what it received as a paid invoice.
    let hash = sent["payment_hash"].as_str().unwrap().to_string();
    let got = p
        .cln
        .until("listinvoices", json!({"payment_hash": hash}), 30, |v| {
            v["invoices"][0]["status"] == "paid"
        });
    assert_eq!(
        got["invoices"][0]["amount_received_msat"], 4_444_000,
        "{got}"
    );

    // 4. Failures, each side: the payer hears it, the channel goes on.
    let gone = cln_invoice(&p.cln, 5_000_000, "deleted");
    p.cln.call(
        "delinvoice",
        json!({"label": "deleted", "status": "unpaid"}),
    );
    let failed = p
        .lnkit
        .try_call("pay", json!({"bolt11": gone, "retry_for": 10}));
    assert!(failed.is_err(), "paying a deleted CLN invoice: {failed:?}");
    let hold_hash = sha256_hex(&[9; 32]);
    let cancelled = p.lnkit.call(
        "invoice",
        json!({"amount_msat": 6_000_000, "label": "cancelled", "description": "cancelled",
               "payment_hash": hold_hash}),
    )["bolt11"]
        .as_str()
        .unwrap()
        .to_string();
    p.lnkit
        .call("cancelinvoice", json!({"payment_hash": hold_hash}));
    let failed = p
        .cln
        .try_call("xpay", json!({"invstring": cancelled, "retry_for": 10}));
    assert!(
        failed.is_err(),
        "paying a cancelled lnkit invoice: {failed:?}"
    );
    wait_normal(&p.lnkit, &p.cln, &ch);
    p.cln_pays("pay", 1_000_000, "after-failures");
    p.lnkit_pays(1_000_000, "after-failures");
}

/// A multi-part payment from CLN split over two channels (one each way
/// opened, static_remotekey private and anchors announced), then
/// cooperative closes: lnkit closes CLN's channel; CLN closes lnkit's while
/// an HTLC is pending, which lnkit then fails (the funder must start the
/// fee negotiation when CLN's `commitment_signed` leaves the channel
/// clean). The closing fee is lnkit's estimate, by the chain's figures.
#[test]
fn cln_splits_a_payment_over_two_channels_and_closes_with_an_htlc_pending() {
    let Some(p) = pair("cln_splits_a_payment_over_two_channels", &[]) else {
        return;
    };
    let a = p.cln_opens(500_000, true);
    let b = p.lnkit_opens(400_000, json!([12]), false, 200_000_000);
    assert_eq!(
        lnkit_channel(&p.lnkit, &b)["channel_type"]["bits"],
        json!([12])
    );
    let room_a = cln_channel(&p.cln, &a)["spendable_msat"].as_u64().unwrap();
    let room_b = cln_channel(&p.cln, &b)["spendable_msat"].as_u64().unwrap();
    // More than either channel can carry, less than both.
    let amount = room_a.max(room_b) + room_a.min(room_b) / 2;
    p.cln_pays("pay", amount, "mpp");
    let parts = |id: &str| {
        let c = cln_channel(&p.cln, id);
        c["out_fulfilled_msat"].as_u64().unwrap_or(0)
    };
    assert!(
        parts(&a) > 0 && parts(&b) > 0,
        "the payment went over both channels: {} / {}",
        parts(&a),
        parts(&b)
    );

    // lnkit closes CLN's channel (CLN is the funder).
    let closed = p.lnkit.call("close", json!({"id": a}));
    assert_eq!(closed["type"], "mutual");
    mine(&p.btc, 1);

    // CLN closes lnkit's channel with an HTLC pending: lnkit holds it, then
    // fails it. (The MPP left CLN little on `b`: lnkit pays some back first.)
    p.lnkit_pays(100_000_000, "room");
    assert_no_estimate(&p.btc);
    let hash = sha256_hex(&[7; 32]);
    let held = p.lnkit.call(
        "invoice",
        json!({"amount_msat": 9_000_000, "label": "held", "description": "held",
               "payment_hash": hash}),
    )["bolt11"]
        .as_str()
        .unwrap()
        .to_string();
    let rpc = p.cln.socket();
    let payer = std::thread::spawn(move || call_socket(&rpc, "xpay", json!({"invstring": held})));
    p.lnkit.until("listpeerchannels", 30, |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == b.as_str() && !c["htlcs"].as_array().unwrap().is_empty())
    });
    let rpc = p.cln.socket();
    let id = b.clone();
    let closer = std::thread::spawn(move || call_socket(&rpc, "close", json!({"id": id})));
    // CLN's shutdown has arrived while the HTLC is pending.
    p.lnkit.until("listpeerchannels", 30, |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == b.as_str() && c["state"] != "CHANNELD_NORMAL")
    });
    p.lnkit.call("cancelinvoice", json!({"payment_hash": hash}));
    let closed = closer
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("CLN's close: {e}\n{}{}", p.lnkit.log(), p.cln.log()));
    assert_eq!(closed["type"], "mutual", "{closed}");
    assert!(payer.join().unwrap().is_err(), "the held payment failed");
    // lnkit was the funder: the fee is its estimate, no more (the chain's figure).
    let ch = lnkit_channel(&p.lnkit, &b);
    let feerate = closing_feerate(&p.btc, &ch);
    println!("the close lnkit funded paid {feerate:.0} sat/kw (its estimate {FALLBACK_PERKW})");
    assert!(
        feerate <= FALLBACK_PERKW as f64 * 1.02 && feerate >= 253.0,
        "closing feerate {feerate:.0} sat/kw against lnkit's estimate {FALLBACK_PERKW}"
    );
    mine(&p.btc, 1);
    p.lnkit.until("listpeerchannels", 30, |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["channel_id"] == a.as_str() || c["channel_id"] == b.as_str())
            .all(|c| c["state"] == "CLOSINGD_COMPLETE" || c["state"] == "ONCHAIN")
    });
    assert!(open_channels(&p.lnkit, &p.cln.id)
        .iter()
        .all(|c| c["state"] != "CHANNELD_NORMAL"));
}

/// `id`'s short channel id as CLN lists it, once both ends have it.
fn scid(cln: &Cln, id: &str) -> String {
    let c = cln.until("listpeerchannels", json!({}), 60, |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == id && c["short_channel_id"].is_string())
    });
    c["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == id)
        .unwrap()["short_channel_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The fee `source` announced for forwarding `msat` over `scid`, as `cln`
/// learned it from gossip (BOLT 7: base + amount × ppm / 1,000,000).
fn announced_fee(cln: &Cln, scid: &str, source: &str, msat: u64) -> u64 {
    let v = cln.call("listchannels", json!({"short_channel_id": scid}));
    let c = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == source)
        .unwrap_or_else(|| panic!("{source}'s direction of {scid} is not in {v}"));
    c["base_fee_millisatoshi"].as_u64().unwrap()
        + msat * c["fee_per_millionth"].as_u64().unwrap() / 1_000_000
}

/// CLN–lnkit–CLN and lnkit–CLN–lnkit, on announced channels, routes from
/// gossip: each forwarder keeps exactly the fee it announced, as the
/// payer's and the forwarder's own figures show (CLN's `listpays` and
/// `listforwards`, and the receivers' invoices).
#[test]
fn cln_and_lnkit_forward_each_others_payments_for_their_announced_fees() {
    let Some(bin) = cln::binaries("cln_and_lnkit_forward_each_others_payments") else {
        return;
    };
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--dev-fast-gossip"];
    let l1 = NodeProc::start_with(
        dir.path(),
        "l1",
        &btc,
        &[&fast[..], &["--alias", "l1"]].concat(),
    );
    let l2 = NodeProc::start_with(
        dir.path(),
        "l2",
        &btc,
        &[&fast[..], &["--alias", "l2"]].concat(),
    );
    let c1 = Cln::start(&bin, &btc, "c1", &[]);
    let c2 = Cln::start(&bin, &btc, "c2", &[]);
    fund_lnkit(&btc, &l1);
    fund_cln(&btc, &l1, &c1, &[20_000_000]);
    fund_cln(&btc, &l1, &c2, &[20_000_000]);
    // c1 → l1 → c2 → l2, every channel announced.
    c1.call(
        "connect",
        json!({"id": l1.node_id, "host": "127.0.0.1", "port": l1.port}),
    );
    c2.call(
        "connect",
        json!({"id": l2.node_id, "host": "127.0.0.1", "port": l2.port}),
    );
    l1.call("connect", json!({"id": c2.address()}));
    let a = c1.call(
        "fundchannel",
        json!({"id": l1.node_id, "amount": 1_000_000}),
    )["channel_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = l1.call(
        "fundchannel",
        json!({"id": c2.id, "amount": 1_000_000, "channel_type": [12, 22]}),
    )["channel_id"]
        .as_str()
        .unwrap()
        .to_string();
    mine(&btc, 1);
    let c = c2.call(
        "fundchannel",
        json!({"id": l2.node_id, "amount": 1_000_000}),
    )["channel_id"]
        .as_str()
        .unwrap()
        .to_string();
    mine(&btc, 6);
    wait_normal(&l1, &c1, &a);
    wait_normal(&l1, &c2, &b);
    wait_normal(&l2, &c2, &c);
    let (sa, sb, sc) = (scid(&c1, &a), scid(&c2, &b), scid(&c2, &c));
    // Everyone has the whole graph: three channels, both directions.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let cln_dirs = |n: &Cln| {
            n.call("listchannels", json!({}))["channels"]
                .as_array()
                .unwrap()
                .len()
        };
        let lnkit_dirs = |n: &NodeProc| {
            n.call("listchannels", json!({}))["channels"]
                .as_array()
                .unwrap()
                .len()
        };
        let counts = [
            cln_dirs(&c1),
            cln_dirs(&c2),
            lnkit_dirs(&l1),
            lnkit_dirs(&l2),
        ];
        if counts.iter().all(|n| *n >= 6) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the graph never reached everyone: {counts:?}\n{}{}{}",
            l1.log(),
            c1.log(),
            c2.log()
        );
        mine(&btc, 1);
        std::thread::sleep(Duration::from_millis(500));
    }

    // And every node's announcement, with its alias, both ways.
    let aliases = |nodes: Value| -> BTreeMap<String, String> {
        nodes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| {
                Some((
                    n["nodeid"].as_str()?.to_string(),
                    n["alias"].as_str()?.to_string(),
                ))
            })
            .collect()
    };
    let everyone = [
        (l1.node_id.clone(), "l1"),
        (l2.node_id.clone(), "l2"),
        (c1.id.clone(), "c1"),
        (c2.id.clone(), "c2"),
    ];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let views = [
            aliases(c1.call("listnodes", json!({}))),
            aliases(c2.call("listnodes", json!({}))),
            aliases(l1.call("listnodes", json!({}))),
            aliases(l2.call("listnodes", json!({}))),
        ];
        let complete = views.iter().all(|v| {
            everyone
                .iter()
                .all(|(id, alias)| v.get(id).is_some_and(|a| a == alias))
        });
        if complete {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node announcements never reached everyone: {views:?}\n{}{}",
            l1.log(),
            c1.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // 1. c1 pays c2 through l1: lnkit forwards.
    let msat = 50_000_000;
    let inv = cln_invoice(&c2, msat, "through-lnkit");
    let paid = c1.call("pay", json!({"bolt11": inv}));
    assert_eq!(paid["status"], "complete", "{paid}");
    let fee = paid["amount_sent_msat"].as_u64().unwrap() - paid["amount_msat"].as_u64().unwrap();
    assert_eq!(
        fee,
        announced_fee(&c1, &sb, &l1.node_id, msat),
        "lnkit's fee as announced"
    );
    let fwd = l1.call("listforwards", json!({}));
    let f = &fwd["forwards"].as_array().unwrap()[0];
    assert_eq!(f["status"], "settled", "{fwd}");
    assert_eq!(f["fee_msat"], fee, "{fwd}");

    // 2. l1 pays l2 through c2: CLN forwards.
    let inv = lnkit_invoice(&l2, msat, "through-cln");
    let paid = l1.call("pay", json!({"bolt11": inv}));
    assert_eq!(paid["status"], "complete", "{paid}");
    assert_eq!(lnkit_received(&l2, "through-cln"), Some(msat));
    let cln_fwd = c2.call("listforwards", json!({"status": "settled"}));
    let f = &cln_fwd["forwards"].as_array().unwrap()[0];
    let cln_fee = f["fee_msat"].as_u64().unwrap();
    assert_eq!(
        cln_fee,
        announced_fee(&c1, &sc, &c2.id, msat),
        "CLN's fee as announced"
    );
    assert_eq!(f["out_msat"], msat, "{cln_fwd}");

    // 3. c1 pays l2 through both, and l2 pays c1 back through both.
    let inv = lnkit_invoice(&l2, msat, "through-both");
    let paid = c1.call("pay", json!({"bolt11": inv}));
    assert_eq!(paid["status"], "complete", "{paid}");
    let fee = paid["amount_sent_msat"].as_u64().unwrap() - msat;
    let via_c2 = announced_fee(&c1, &sc, &c2.id, msat);
    let via_l1 = announced_fee(&c1, &sb, &l1.node_id, msat + via_c2);
    assert_eq!(fee, via_l1 + via_c2, "both forwarders' announced fees");
    assert_eq!(lnkit_received(&l2, "through-both"), Some(msat));
    let back = 20_000_000;
    let inv = cln_invoice(&c1, back, "back-through-both");
    let paid = l2.call("pay", json!({"bolt11": inv}));
    assert_eq!(paid["status"], "complete", "{paid}");
    let got = c1.call("listinvoices", json!({"label": "back-through-both"}));
    assert_eq!(got["invoices"][0]["amount_received_msat"], back);
    let _ = sa;
}

/// update_fee both ways; lnkit killed (-9) in the middle of a payment from
/// CLN; CLN stopped and started again; each time the channels reestablish
/// and carry payments both ways. Then the cooperative closes the other
/// tests leave out: CLN's with nothing pending, lnkit's with an HTLC pending.
#[test]
fn cln_and_lnkit_update_fees_survive_a_kill_and_a_restart_and_close() {
    let Some(mut p) = pair("cln_and_lnkit_update_fees_survive_a_kill", &[]) else {
        return;
    };
    // (The channel reserve is 6,000 sat: lnkit needs more than that to pay back.)
    // 1. CLN, the opener of `theirs`, sets a new feerate (`dev-feerate`
    //    names a peer, so while it is the only channel): lnkit takes it.
    let theirs = p.cln_opens(600_000, false);
    p.cln.call(
        "dev-feerate",
        json!({"id": p.lnkit.node_id, "feerate": 3000}),
    );
    p.cln_pays("pay", 30_000_000, "after-their-fee");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut nudge = 0;
    while lnkit_channel(&p.lnkit, &theirs)["feerate_perkw"] != 3000 {
        assert!(
            Instant::now() < deadline,
            "lnkit never took CLN's update_fee: {}\n{}{}",
            lnkit_channel(&p.lnkit, &theirs),
            p.lnkit.log(),
            p.cln.log()
        );
        nudge += 1;
        p.cln_pays("pay", 1_000_000, &format!("nudge-{nudge}"));
    }
    p.lnkit_pays(2_000_000, "lnkit-after-their-fee");

    // 2. lnkit, the opener of `ours`, follows a new estimate: CLN takes it.
    let ours = p.lnkit_opens(600_000, json!([12, 22]), false, 0);
    p.lnkit_pays(50_000_000, "warm-up");
    p.lnkit.kill();
    let root = p._dir.path().to_path_buf();
    p.lnkit = NodeProc::restart_with(
        &root,
        "lnkit",
        &p.btc,
        &["--fallback-feerate-per-kw", "1000"],
    );
    p.lnkit.call("connect", json!({"id": p.cln.address()}));
    p.cln.until("listpeerchannels", json!({}), 60, |v| {
        v["channels"].as_array().unwrap().iter().any(|c| {
            c["channel_id"] == ours.as_str()
                && c["feerate"]["perkw"] == 1000
                && c["state"] == "CHANNELD_NORMAL"
        })
    });
    p.cln_pays("pay", 2_000_000, "after-our-fee");
    p.lnkit_pays(4_000_000, "lnkit-after-our-fee");

    // 3. kill -9 lnkit while CLN pays it: after the restart the payment ends
    //    (either way) and the channels carry payments again.
    let inv = lnkit_invoice(&p.lnkit, 5_000_000, "killed");
    let rpc = p.cln.socket();
    let payer = std::thread::spawn(move || call_socket(&rpc, "pay", json!({"bolt11": inv})));
    std::thread::sleep(Duration::from_millis(30));
    p.lnkit.kill_and_restart();
    p.lnkit.call("connect", json!({"id": p.cln.address()}));
    let outcome = payer.join().unwrap();
    let received = lnkit_received(&p.lnkit, "killed");
    match &outcome {
        Ok(v) => assert_eq!(received, Some(5_000_000), "CLN says paid: {v}"),
        Err(e) => assert_eq!(received, None, "CLN says failed: {e}"),
    }
    wait_normal(&p.lnkit, &p.cln, &ours);
    wait_normal(&p.lnkit, &p.cln, &theirs);
    p.cln_pays("pay", 6_000_000, "after-kill");
    p.lnkit_pays(6_000_000, "lnkit-after-kill");

    // 4. CLN stops and starts again.
    p.cln.restart();
    p.cln.call(
        "connect",
        json!({"id": p.lnkit.node_id, "host": "127.0.0.1", "port": p.lnkit.port}),
    );
    wait_normal(&p.lnkit, &p.cln, &ours);
    wait_normal(&p.lnkit, &p.cln, &theirs);
    p.cln_pays("pay", 7_000_000, "after-cln-restart");
    p.lnkit_pays(7_000_000, "lnkit-after-cln-restart");

    // 5. Cooperative closes, the two not tried above: CLN closes lnkit's
    //    channel with nothing pending (lnkit funded it: the fee is its
    //    estimate, 1,000 sat/kw since the restart, by the chain's figure),
    //    and lnkit closes CLN's with an HTLC pending, which it then fails.
    let funding = lnkit_channel(&p.lnkit, &ours);
    let closed = p.cln.call("close", json!({"id": ours}));
    assert_eq!(closed["type"], "mutual", "{closed}");
    let feerate = closing_feerate(&p.btc, &funding);
    println!("CLN's close of lnkit's channel paid {feerate:.0} sat/kw (lnkit's estimate 1000)");
    assert!(
        feerate <= 1000.0 * 1.02,
        "closing feerate {feerate:.0} sat/kw"
    );
    mine(&p.btc, 1);
    let preimage = [0x55; 32];
    let held = bolt11(p.lnkit.call(
        "invoice",
        json!({"amount_msat": 8_000_000, "label": "held-at-close", "description": "held",
               "payment_hash": sha256_hex(&preimage)}),
    ));
    let rpc = p.cln.socket();
    let payer = std::thread::spawn(move || call_socket(&rpc, "xpay", json!({"invstring": held})));
    p.lnkit.until("listpeerchannels", 30, |v| {
        channel_in(v.clone(), &theirs)["htlcs"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    });
    let closer = common::node::SocketCall(p.lnkit.datadir.clone());
    let id = theirs.clone();
    let closing = std::thread::spawn(move || closer.call("close", json!({"id": id})));
    p.cln.until("listpeerchannels", json!({}), 30, |v| {
        channel_in(v.clone(), &theirs)["state"] != "CHANNELD_NORMAL"
    });
    p.lnkit.call(
        "cancelinvoice",
        json!({"payment_hash": sha256_hex(&preimage)}),
    );
    let closed = closing.join().unwrap().expect("lnkit's close answers");
    assert_eq!(closed["result"]["type"], "mutual", "{closed}");
    assert!(payer.join().unwrap().is_err(), "the held payment failed");
}

// ---- On chain -------------------------------------------------------------

/// The hold plugin (`testdata/cln/hold.py`): CLN keeps an HTLC unanswered.
fn hold_plugin() -> String {
    format!(
        "--plugin={}/testdata/cln/hold.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn sha256_hex(preimage: &[u8; 32]) -> String {
    use bitcoin::hashes::{sha256, Hash};
    hex::encode(sha256::Hash::hash(preimage).to_byte_array())
}

/// Mine `n` blocks one at a time, `pause_ms` apart (CLN polls every second).
fn mine_slowly(btc: &Bitcoind, n: u32, pause_ms: u64) {
    for _ in 0..n {
        mine(btc, 1);
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
}

/// What CLN said of a channel just before it went on chain: the figures
/// the test expects the chain to pay out, by BOLT 3.
struct Snapshot {
    total_msat: u64,
    cln_msat: u64,
    htlcs_msat: Vec<u64>,
    feerate_perkw: u64,
    cln_funded: bool,
    height: u32,
    funding: (String, u64),
}

fn snapshot(btc: &Bitcoind, cln: &Cln, id: &str) -> Snapshot {
    let c = cln_channel(cln, id);
    let htlcs: Vec<u64> = c["htlcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["amount_msat"].as_u64().unwrap())
        .collect();
    // CLN's `to_us_msat` still counts the HTLCs it offered.
    let offered: u64 = c["htlcs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["direction"] == "out" || h["direction"] == "outgoing")
        .map(|h| h["amount_msat"].as_u64().unwrap())
        .sum();
    Snapshot {
        total_msat: c["total_msat"].as_u64().unwrap(),
        cln_msat: c["to_us_msat"].as_u64().unwrap() - offered,
        htlcs_msat: htlcs,
        feerate_perkw: c["feerate"]["perkw"].as_u64().unwrap(),
        cln_funded: c["opener"] == "local",
        height: btc.cli(&["getblockcount"]).parse().unwrap(),
        funding: (
            c["funding_txid"].as_str().unwrap().to_string(),
            c["funding_outnum"].as_u64().unwrap(),
        ),
    }
}

impl Snapshot {
    /// BOLT 3's outputs of the latest commitment (either side's: the same
    /// balances, HTLCs and feerate) under anchors: each balance rounded
    /// down to the sat, the opener's less the fee (weight 1124 + 172 per
    /// HTLC output) and both anchors. (lnkit's, CLN's) `to_local`/`to_remote`.
    fn balances_sat(&self) -> (u64, u64) {
        let lnkit_msat = self.total_msat - self.cln_msat - self.htlcs_msat.iter().sum::<u64>();
        let fee = self.feerate_perkw * (1124 + 172 * self.htlcs_msat.len() as u64) / 1000;
        let (mut l, mut c) = (lnkit_msat / 1000, self.cln_msat / 1000);
        if self.cln_funded {
            c -= fee + 660;
        } else {
            l -= fee + 660;
        }
        (l, c)
    }
}

/// Both wallets before a close, and the chain's figure of each.
struct Wallets {
    lnkit: u64,
    cln: u64,
}

fn wallets(btc: &Bitcoind, lnkit: &NodeProc, cln: &Cln) -> Wallets {
    Wallets {
        lnkit: ledger::value(btc, &ledger::wallet(&lnkit.call("listfunds", json!({})))),
        cln: ledger::value(btc, &ledger::wallet(&cln.call("listfunds", json!({})))),
    }
}

/// Settle the chain until both are done with the channel: lnkit lists it
/// closed, CLN has resolved every output, nothing is pending in either wallet.
fn resolve(btc: &Bitcoind, lnkit: &NodeProc, cln: &Cln, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(400);
    loop {
        let closed = lnkit.call("listclosedchannels", json!({}))["closedchannels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == id);
        let c = cln_channel(cln, id);
        let cln_done = c.is_null()
            || c["status"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|l| l.as_str().unwrap_or("").contains("All outputs resolved"))
            });
        let pending = |v: Value| {
            v["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["status"] != "confirmed")
        };
        let settled = !pending(lnkit.call("listfunds", json!({})))
            && !pending(cln.call("listfunds", json!({})));
        if closed && cln_done && settled {
            // Six more, so the last sweeps are deep and listed by both.
            mine_slowly(btc, 6, 300);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not resolved: lnkit closed {closed}, CLN {c}\n{}{}",
            lnkit.log(),
            cln.log()
        );
        mine_slowly(btc, 5, 400);
    }
}

/// The chain's ledger of the close against BOLT 3 and both wallets: every
/// output of the funding spend went to the side that must have it (the
/// balances as CLN listed them, each HTLC to its `winner`), nothing but an
/// anchor was left behind, and each wallet changed by exactly what it won
/// less the fees of its claims.
fn check_ledger(
    btc: &Bitcoind,
    lnkit: &NodeProc,
    cln: &Cln,
    snap: &Snapshot,
    before: &Wallets,
    htlc_winners: &[(u64, &str)],
) {
    let (_, shares, nobody) = chain_shares(btc, lnkit, cln, snap);
    assert!(
        nobody.values().all(|v| *v == 330),
        "outputs left unclaimed: {nobody:?}"
    );
    let (l_bal, c_bal) = snap.balances_sat();
    let mut lnkit_wins = vec![l_bal];
    let mut cln_wins = vec![c_bal];
    for (msat, winner) in htlc_winners {
        if *winner == "lnkit" {
            lnkit_wins.push(msat / 1000);
        } else {
            cln_wins.push(msat / 1000);
        }
    }
    let won = |who: &str| -> Vec<u64> {
        let mut v: Vec<u64> = shares[who]
            .outputs
            .values()
            .copied()
            .filter(|v| *v != 330)
            .collect();
        v.sort();
        v
    };
    lnkit_wins.sort();
    cln_wins.sort();
    lnkit_wins.retain(|v| *v > 0);
    cln_wins.retain(|v| *v > 0);
    assert_eq!(won("lnkit"), lnkit_wins, "what lnkit got against BOLT 3");
    assert_eq!(won("cln"), cln_wins, "what CLN got against BOLT 3");
    check_wallets(btc, lnkit, cln, before, &shares);
}

/// The final CLTV delta of the held HTLCs: far enough from expiry that,
/// when CLN force-closes, no deadline makes lnkit race CLN's commitment
/// (`Channel::may_await_their_commitment`: 18 + 6 blocks).
const HELD_CLTV: u32 = 60;

/// Force closes with an HTLC held each way, by each side: lnkit's close on
/// the channel it opened, CLN's (`dev-fail`) on the one CLN opened. Each
/// side then settles the HTLC it holds; each claims its HTLC on chain with
/// the preimage and the payments complete; both wallets end exact to the
/// sat by the chain's ledger. When CLN closes, its commitment is the one
/// the chain takes: lnkit does not race it.
#[test]
fn cln_and_lnkit_force_close_on_each_other_with_an_htlc_held_each_way() {
    let plugin = hold_plugin();
    let Some(mut p) = pair("cln_and_lnkit_force_close_on_each_other", &[&plugin]) else {
        return;
    };
    for (round, lnkit_closes) in [(0u8, true), (1u8, false)] {
        let id = if lnkit_closes {
            p.lnkit_opens(1_000_000, json!([12, 22]), false, 300_000_000)
        } else {
            let id = p.cln_opens(1_000_000, false);
            p.cln_pays("pay", 300_000_000, &format!("fc-push-{round}"));
            id
        };
        mine(&p.btc, 1);
        // lnkit → CLN, held by CLN.
        let cln_preimage = [0x30 + round; 32];
        let to_cln = p.cln.call(
            "invoice",
            json!({"amount_msat": 30_000_000, "label": format!("fc-hold-{round}"),
                   "description": "held", "preimage": hex::encode(cln_preimage),
                   "cltv": HELD_CLTV}),
        )["bolt11"]
            .as_str()
            .unwrap()
            .to_string();
        p.cln.call(
            "holdhash",
            json!({"payment_hash": sha256_hex(&cln_preimage)}),
        );
        p.lnkit
            .try_call_nowait("pay", json!({"bolt11": to_cln, "retry_for": 0}))
            .unwrap();
        // CLN → lnkit, held by lnkit.
        let lnkit_preimage = [0x40 + round; 32];
        let to_lnkit = p.lnkit.call(
            "invoice",
            json!({"amount_msat": 20_000_000, "label": format!("fc-held-{round}"),
                   "description": "held", "payment_hash": sha256_hex(&lnkit_preimage),
                   "cltv": HELD_CLTV}),
        )["bolt11"]
            .as_str()
            .unwrap()
            .to_string();
        let rpc = p.cln.socket();
        let cln_payer =
            std::thread::spawn(move || call_socket(&rpc, "xpay", json!({"invstring": to_lnkit})));
        p.cln.until("listpeerchannels", json!({}), 30, |v| {
            v["channels"].as_array().unwrap().iter().any(|c| {
                c["channel_id"] == id.as_str() && c["htlcs"].as_array().unwrap().len() == 2
            })
        });
        p.lnkit.until("listpeerchannels", 30, |v| {
            v["channels"].as_array().unwrap().iter().any(|c| {
                c["channel_id"] == id.as_str() && c["htlcs"].as_array().unwrap().len() == 2
            })
        });
        std::thread::sleep(Duration::from_millis(500));
        let snap = snapshot(&p.btc, &p.cln, &id);
        let before = wallets(&p.btc, &p.lnkit, &p.cln);
        let cln_commitment = if lnkit_closes {
            let forced = p.lnkit.call("close", json!({"id": id, "force": true}));
            assert_eq!(forced["type"], "unilateral");
            None
        } else {
            // CLN's commitment, as it will broadcast it (the txid does not
            // depend on the signatures).
            let tx = p.cln_commitment();
            let theirs = p.btc.cli(&["decoderawtransaction", &tx]);
            let theirs: Value = serde_json::from_str(&theirs).unwrap();
            p.cln.call("dev-fail", json!({"id": p.lnkit.node_id}));
            Some(theirs["txid"].as_str().unwrap().to_string())
        };
        mine_slowly(&p.btc, 1, 1500);
        // Each settles what it holds: the HTLCs are claimed on chain.
        p.cln.call(
            "releasehash",
            json!({"payment_hash": sha256_hex(&cln_preimage)}),
        );
        p.lnkit.call(
            "settleinvoice",
            json!({"preimage": hex::encode(lnkit_preimage)}),
        );
        resolve(&p.btc, &p.lnkit, &p.cln, &id);
        if let Some(theirs) = cln_commitment {
            // Item 5 of issue 34: no HTLC deadline was near, so lnkit let
            // CLN's commitment confirm rather than race it with its own.
            let tip: u32 = p.btc.cli(&["getblockcount"]).parse().unwrap();
            let spend = p
                .btc
                .spender(&snap.funding.0, snap.funding.1, tip - snap.height);
            assert_eq!(
                spend.as_deref(),
                Some(theirs.as_str()),
                "the funding spend is CLN's commitment\n{}",
                p.lnkit.log()
            );
        }
        let paid = cln_payer.join().unwrap();
        assert!(paid.is_ok(), "CLN's payment completes on chain: {paid:?}");
        let ours = p.lnkit.call("listpays", json!({}));
        let hash = sha256_hex(&cln_preimage);
        let pay = ours["pays"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["payment_hash"] == hash.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(
            pay["status"], "complete",
            "lnkit learned CLN's preimage on chain: {pay}"
        );
        check_ledger(
            &p.btc,
            &p.lnkit,
            &p.cln,
            &snap,
            &before,
            &[(30_000_000, "cln"), (20_000_000, "lnkit")],
        );
        // A restart between rounds keeps the wallets as they are.
        if round == 0 {
            p.lnkit.kill_and_restart();
            p.lnkit.call("connect", json!({"id": p.cln.address()}));
        }
    }
}

/// Breaches both ways: lnkit (with `--dev`) broadcasts a revoked
/// commitment and CLN takes everything; CLN broadcasts one it signed
/// before (`dev-sign-last-tx`, as CLN's own tests cheat) and lnkit takes
/// everything. By the chain's ledger, every non-anchor output of the
/// revoked commitment ends with the victim, and both wallets are exact.
#[test]
fn cln_and_lnkit_punish_each_others_breaches() {
    let Some(bin) = cln::binaries("cln_and_lnkit_punish_each_others_breaches") else {
        return;
    };
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let lnkit = NodeProc::start_with(dir.path(), "lnkit", &btc, &["--dev"]);
    let cln = Cln::start(&bin, &btc, "cln", &[]);
    fund_lnkit(&btc, &lnkit);
    fund_cln(&btc, &lnkit, &cln, &[20_000_000, 20_000_000]);
    cln.call(
        "connect",
        json!({"id": lnkit.node_id, "host": "127.0.0.1", "port": lnkit.port}),
    );
    let p = Pair {
        btc,
        _dir: dir,
        lnkit,
        cln,
    };

    // 1. lnkit cheats with its first commitment, before it paid CLN.
    let id = p.lnkit_opens(1_000_000, json!([12, 22]), false, 0);
    p.lnkit_pays(400_000_000, "breach-1");
    mine(&p.btc, 1);
    let snap = snapshot(&p.btc, &p.cln, &id);
    let before = wallets(&p.btc, &p.lnkit, &p.cln);
    p.lnkit
        .call("dev-broadcast-revoked", json!({"id": id, "number": 0}));
    mine_slowly(&p.btc, 1, 1500);
    resolve(&p.btc, &p.lnkit, &p.cln, &id);
    check_breach(&p, &snap, &before, "cln");

    // 2. CLN cheats with a commitment it signed before paying lnkit.
    let id = p.cln_opens(1_000_000, false);
    mine(&p.btc, 1);
    let old = p.cln_commitment();
    p.cln_pays("pay", 400_000_000, "breach-2");
    mine(&p.btc, 1);
    let snap = snapshot(&p.btc, &p.cln, &id);
    let before = wallets(&p.btc, &p.lnkit, &p.cln);
    p.btc.cli(&["sendrawtransaction", &old]);
    mine_slowly(&p.btc, 1, 1500);
    resolve(&p.btc, &p.lnkit, &p.cln, &id);
    check_breach(&p, &snap, &before, "lnkit");
}

/// A breach's ledger: every output of the revoked commitment but the
/// anchors ended with `victim`, and both wallets moved by their shares.
fn check_breach(p: &Pair, snap: &Snapshot, before: &Wallets, victim: &str) {
    let (res, shares, nobody) = chain_shares(&p.btc, &p.lnkit, &p.cln, snap);
    assert!(
        nobody.values().all(|v| *v == 330),
        "left unclaimed: {nobody:?}"
    );
    let cheater = if victim == "cln" { "lnkit" } else { "cln" };
    assert!(
        shares[cheater].outputs.values().all(|v| *v == 330),
        "the cheater kept {:?}",
        shares[cheater].outputs
    );
    let all: u64 = res.spend["vout"]
        .as_array()
        .unwrap()
        .iter()
        .map(ledger::sat)
        .filter(|v| *v != 330)
        .sum();
    let taken: u64 = shares[victim].outputs.values().filter(|v| **v != 330).sum();
    assert_eq!(taken, all, "the victim took every output but the anchors");
    check_wallets(&p.btc, &p.lnkit, &p.cln, before, &shares);
}

/// The resolution of the snapshot's channel as the chain has it, and each
/// party's share of it (the wallets say which coins are whose).
fn chain_shares(
    btc: &Bitcoind,
    lnkit: &NodeProc,
    cln: &Cln,
    snap: &Snapshot,
) -> (
    ledger::Resolution,
    BTreeMap<String, ledger::Share>,
    BTreeMap<u64, u64>,
) {
    let res = ledger::Resolution::from_chain(btc, &snap.funding.0, snap.funding.1, snap.height);
    let ws = [
        ("lnkit", ledger::wallet(&lnkit.call("listfunds", json!({})))),
        ("cln", ledger::wallet(&cln.call("listfunds", json!({})))),
    ];
    let (shares, nobody) = res.shares(btc, &ws);
    println!("ledger: {shares:?}, unclaimed {nobody:?}");
    (res, shares, nobody)
}

/// Each wallet moved by exactly its share: what it won less what it paid.
fn check_wallets(
    btc: &Bitcoind,
    lnkit: &NodeProc,
    cln: &Cln,
    before: &Wallets,
    shares: &BTreeMap<String, ledger::Share>,
) {
    let after = wallets(btc, lnkit, cln);
    for (who, b, a) in [
        ("lnkit", before.lnkit, after.lnkit),
        ("cln", before.cln, after.cln),
    ] {
        assert_eq!(
            a as i64 - b as i64,
            shares[who].net(),
            "{who}'s wallet against the chain's ledger ({:?})",
            shares[who]
        );
    }
}
