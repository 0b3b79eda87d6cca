//! BOLT 5 in the node, on the embedded regtest chain: force closes by
//! either side with HTLCs in flight both ways (settled, never settled,
//! trimmed), on both channel types; a breach punished; a reorg under the
//! commitment; the fee bumped. Each case ends with every output resolved
//! and an accounting: each wallet gained exactly its channel balance (and
//! the HTLCs it won) minus the fees it paid. The table is printed.

use bitcoin::{Amount, Transaction};
use lnkit::node::core::NodeHandle;
use lnkit::payment::PaymentPreimage;
use serde_json::{json, Value};

use crate::common;
use common::inprocess::{call, new_address, try_call, until, wallet_sat, Net};

const FUNDING_SAT: u64 = 1_000_000;
const ANCHOR_SAT: u64 = 330;

fn config() -> lnkit::channel::Config {
    lnkit::channel::Config {
        // A short delay keeps each case to a few dozen blocks.
        to_self_delay: 20,
        ..Default::default()
    }
}

/// Two funded nodes with a channel of `FUNDING_SAT` from alice to bob,
/// and 400,000 sat of it paid to bob.
struct Setup {
    net: Net,
    a: NodeHandle,
    b: NodeHandle,
    channel_id: String,
    funding_tx: Transaction,
}

async fn setup(anchors: bool) -> Setup {
    let net = Net::new();
    let a = net.node("alice", config()).await;
    let b = net.node("bob", config()).await;
    let (addr_a, addr_b) = (new_address(&a).await, new_address(&b).await);
    net.mine(1, &addr_b);
    net.mine(101, &addr_a);
    net.sync(&[&a, &b]).await;
    let b_id = b.node_id.to_string();
    call(
        &a,
        "connect",
        json!({"id": format!("{b_id}@{}", b.listen.unwrap())}),
    )
    .await;
    let types = if anchors {
        json!([12, 22])
    } else {
        json!([12])
    };
    let opened = call(
        &a,
        "fundchannel",
        json!({"id": b_id, "amount": FUNDING_SAT, "channel_type": types}),
    )
    .await;
    net.mine(3, &addr_a);
    for n in [&a, &b] {
        until(n, "listpeerchannels", json!({}), |v| {
            v["channels"][0]["state"] == "CHANNELD_NORMAL"
        })
        .await;
    }
    let inv = call(
        &b,
        "invoice",
        json!({"amount_msat": 400_000_000u64, "label": "push", "description": "to bob"}),
    )
    .await;
    assert_eq!(
        call(&a, "pay", json!({"bolt11": inv["bolt11"]})).await["status"],
        "complete"
    );
    Setup {
        net,
        a,
        b,
        channel_id: opened["channel_id"].as_str().unwrap().to_string(),
        funding_tx: bitcoin::consensus::encode::deserialize_hex(opened["tx"].as_str().unwrap())
            .unwrap(),
    }
}

/// Wait (bounded) until both sides show `n` HTLCs, then let the last
/// `revoke_and_ack` land: both commitments hold them all.
async fn committed(s: &Setup, n: usize) {
    for node in [&s.a, &s.b] {
        until(node, "listpeerchannels", json!({}), |v| {
            v["channels"][0]["htlcs"].as_array().unwrap().len() == n
        })
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

fn type_name(anchors: bool) -> &'static str {
    if anchors {
        "anchors_zero_fee_htlc_tx"
    } else {
        "static_remotekey"
    }
}

fn preimage(n: u8) -> PaymentPreimage {
    PaymentPreimage([n; 32])
}

/// `payee` makes a hold invoice for `preimage(n)`'s hash; `payer` pays it and does not wait.
async fn hold(payer: &NodeHandle, payee: &NodeHandle, n: u8, sat: u64) -> String {
    let hash = preimage(n).payment_hash();
    let inv = call(
        payee,
        "invoice",
        json!({"amount_msat": sat * 1000, "label": format!("hold{n}"), "description": "held",
               "payment_hash": hex::encode(hash.0)}),
    )
    .await;
    let r = try_call(
        payer,
        "pay",
        json!({"bolt11": inv["bolt11"], "retry_for": 0}),
    )
    .await;
    assert_eq!(r.unwrap_err().code, 210, "held: the payment stays pending");
    hex::encode(hash.0)
}

async fn status_of(n: &NodeHandle, hash: &str) -> String {
    let pays = call(n, "listpays", json!({})).await;
    pays["pays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["payment_hash"] == hash)
        .map(|p| p["status"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no payment {hash}"))
}

async fn closed(n: &NodeHandle) -> Value {
    let v = call(n, "listclosedchannels", json!({})).await;
    v["closedchannels"][0].clone()
}

/// Mine, a block at a time, until both nodes list the channel as closed (bounded).
async fn mine_until_resolved(s: &Setup, max_blocks: u32) -> u32 {
    for i in 0..max_blocks {
        let done_a = !closed(&s.a).await.is_null();
        let done_b = !closed(&s.b).await.is_null();
        if done_a && done_b {
            return i;
        }
        s.net.mine_synced(1, &[&s.a, &s.b]).await;
    }
    panic!(
        "not resolved after {max_blocks} blocks: alice {} bob {}",
        call(&s.a, "listfunds", json!({})).await["sweeps"],
        call(&s.b, "listfunds", json!({})).await["sweeps"]
    );
}

/// One line of the accounting table, and its check.
struct Books {
    who: &'static str,
    balance_sat: u64,
    won_sat: u64,
    commitment_cost_sat: u64,
    anchor_back_sat: u64,
    claim_fees_sat: u64,
    wallet_delta_sat: i64,
}

impl Books {
    fn expected(&self) -> i64 {
        (self.balance_sat + self.won_sat + self.anchor_back_sat) as i64
            - (self.commitment_cost_sat + self.claim_fees_sat) as i64
    }
}

fn print_books(case: &str, rows: &[Books]) {
    println!("\n{case}");
    println!(
        "| side  | balance | HTLCs won | commitment fee+anchors | anchor back | claim fees | expected | wallet delta |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.who,
            r.balance_sat,
            r.won_sat,
            r.commitment_cost_sat,
            r.anchor_back_sat,
            r.claim_fees_sat,
            r.expected(),
            r.wallet_delta_sat
        );
    }
    for r in rows {
        assert_eq!(
            r.wallet_delta_sat,
            r.expected(),
            "{case}: {}'s wallet does not hold its balance minus its fees",
            r.who
        );
    }
}

fn tx_of(s: &Setup, txid: &str) -> Transaction {
    s.net
        .chain
        .transaction(&txid.parse().unwrap())
        .unwrap()
        .expect("the closing transaction is on chain")
        .tx
}

/// The commitment's fee and its anchors, paid by the opener: what the
/// funding output does not pay out, less the trimmed HTLCs (their offerer's
/// loss, already out of its balance); and what of the anchors came back.
fn commitment_cost(
    s: &Setup,
    commitment: &Transaction,
    anchors: bool,
    trimmed_sat: u64,
) -> (u64, u64) {
    let funding = s
        .funding_tx
        .output
        .iter()
        .find(|o| o.value == Amount::from_sat(FUNDING_SAT))
        .unwrap()
        .value;
    let out: Amount = commitment.output.iter().map(|o| o.value).sum();
    let anchor_total = if anchors { 2 * ANCHOR_SAT } else { 0 };
    let spent_anchors = commitment
        .output
        .iter()
        .enumerate()
        .filter(|(_, o)| anchors && o.value == Amount::from_sat(ANCHOR_SAT))
        .filter(|(i, _)| {
            let op = bitcoin::OutPoint::new(commitment.compute_txid(), *i as u32);
            s.net.chain.utxo(&op).unwrap().is_none()
        })
        .count() as u64;
    (
        (funding - out).to_sat() - trimmed_sat + anchor_total,
        spent_anchors * ANCHOR_SAT,
    )
}

async fn to_us_sat(n: &NodeHandle) -> u64 {
    let v = call(n, "listpeerchannels", json!({})).await;
    v["channels"][0]["to_us_msat"].as_u64().unwrap() / 1000
}

async fn fees_sat(n: &NodeHandle) -> u64 {
    closed(n).await["onchain_fees_msat"].as_u64().unwrap() / 1000
}

/// Every HTLC state on both sides — settled after the close, never settled,
/// trimmed — then a force close by `alice_closes ? alice : bob`.
async fn force_close_with_htlcs_in_flight(anchors: bool, alice_closes: bool) {
    let s = setup(anchors).await;
    let (a, b) = (&s.a, &s.b);
    // alice -> bob: never settled (times out), settled after the close, and a dust one.
    let h1 = hold(a, b, 1, 20_000).await;
    let h4 = hold(a, b, 4, 30_000).await;
    let dust = hold(a, b, 5, 400).await;
    // bob -> alice: never settled, settled after the close.
    let h2 = hold(b, a, 2, 25_000).await;
    let h3 = hold(b, a, 3, 35_000).await;
    let dust_b = hold(b, a, 6, 450).await;
    committed(&s, 6).await;
    let (bal_a, bal_b) = (to_us_sat(a).await, to_us_sat(b).await);
    let (wallet_a, wallet_b) = (wallet_sat(a).await, wallet_sat(b).await);

    let closer = if alice_closes { a } else { b };
    let forced = call(closer, "close", json!({"id": s.channel_id, "force": true})).await;
    assert_eq!(forced["type"], "unilateral");
    s.net.mine_synced(1, &[a, b]).await;
    // Both see the commitment; both settle their second hold invoice now: claims on chain.
    call(
        a,
        "settleinvoice",
        json!({"preimage": hex::encode(preimage(3).0)}),
    )
    .await;
    call(
        b,
        "settleinvoice",
        json!({"preimage": hex::encode(preimage(4).0)}),
    )
    .await;
    let sweeps = call(a, "listfunds", json!({})).await["sweeps"].clone();
    assert!(
        !sweeps.as_array().unwrap().is_empty(),
        "alice lists her pending sweeps: {sweeps}"
    );
    let blocks = mine_until_resolved(&s, 200).await;

    // Upstream: every payment has its outcome from the chain.
    assert_eq!(status_of(a, &h1).await, "failed", "h1 timed out");
    assert_eq!(
        status_of(a, &h4).await,
        "complete",
        "h4: bob's preimage claim"
    );
    assert_eq!(
        status_of(a, &dust).await,
        "failed",
        "trimmed: failed at depth"
    );
    assert_eq!(status_of(b, &h2).await, "failed", "h2 timed out");
    assert_eq!(
        status_of(b, &dust_b).await,
        "failed",
        "bob's trimmed one too"
    );
    assert_eq!(
        status_of(b, &h3).await,
        "complete",
        "h3: alice's preimage claim"
    );
    // The hold invoices settled after the close were paid on chain.
    for (n, label) in [(a, "hold3"), (b, "hold4")] {
        let invs = call(n, "listinvoices", json!({"label": label})).await;
        assert_eq!(invs["invoices"][0]["status"], "paid", "{label}");
    }
    let ca = closed(a).await;
    let cb = closed(b).await;
    assert_eq!(ca["closing_txid"], cb["closing_txid"]);
    let (kind_a, kind_b) = if alice_closes {
        ("our_commitment", "their_commitment")
    } else {
        ("their_commitment", "our_commitment")
    };
    assert_eq!(
        (ca["close_cause"].as_str(), cb["close_cause"].as_str()),
        (Some(kind_a), Some(kind_b))
    );
    assert!(
        call(a, "listfunds", json!({})).await["sweeps"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing left to sweep"
    );

    let commitment = tx_of(&s, ca["closing_txid"].as_str().unwrap());
    // Both trimmed HTLCs went to the miners: each was its offerer's, out of its balance already.
    let (cost, anchor_back) = commitment_cost(&s, &commitment, anchors, 400 + 450);
    let rows = [
        Books {
            who: "alice",
            balance_sat: bal_a,
            // h1 comes back; h3 is paid to her.
            won_sat: 20_000 + 35_000,
            commitment_cost_sat: cost,
            anchor_back_sat: if alice_closes { anchor_back } else { 0 },
            claim_fees_sat: fees_sat(a).await,
            wallet_delta_sat: wallet_sat(a).await as i64 - wallet_a as i64,
        },
        Books {
            who: "bob",
            balance_sat: bal_b,
            // h2 comes back; h4 is paid to him.
            won_sat: 25_000 + 30_000,
            commitment_cost_sat: 0,
            anchor_back_sat: if alice_closes { 0 } else { anchor_back },
            claim_fees_sat: fees_sat(b).await,
            wallet_delta_sat: wallet_sat(b).await as i64 - wallet_b as i64,
        },
    ];
    let case = format!(
        "{} closes, {}: resolved {blocks} blocks after the commitment confirmed",
        if alice_closes {
            "alice (opener)"
        } else {
            "bob"
        },
        type_name(anchors)
    );
    print_books(&case, &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opener_force_closes_an_anchor_channel_with_htlcs_both_ways() {
    force_close_with_htlcs_in_flight(true, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_force_closes_an_anchor_channel_with_htlcs_both_ways() {
    force_close_with_htlcs_in_flight(true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opener_force_closes_a_static_remotekey_channel_with_htlcs_both_ways() {
    force_close_with_htlcs_in_flight(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_force_closes_a_static_remotekey_channel_with_htlcs_both_ways() {
    force_close_with_htlcs_in_flight(false, false).await;
}

/// Alice broadcasts a state she revoked, holding an HTLC each way; bob's
/// penalty takes everything. With `with_htlc_txs`, her HTLC-success gets
/// there first (same block), and bob's penalty takes its output instead.
async fn breach(anchors: bool, with_htlc_txs: bool) {
    let s = setup(anchors).await;
    let (a, b) = (&s.a, &s.b);
    let h1 = hold(a, b, 1, 20_000).await;
    let _h3 = hold(b, a, 3, 35_000).await;
    committed(&s, 2).await;
    let revoked = call(a, "listpeerchannels", json!({})).await["channels"][0]["commitment_number"]
        .as_u64()
        .unwrap();
    // Both HTLCs go off chain: that state is revoked.
    call(
        a,
        "settleinvoice",
        json!({"preimage": hex::encode(preimage(3).0)}),
    )
    .await;
    call(b, "cancelinvoice", json!({"payment_hash": h1})).await;
    committed(&s, 0).await;
    let (wallet_a, wallet_b) = (wallet_sat(a).await, wallet_sat(b).await);
    let cheat = call(
        a,
        "dev-broadcast-revoked",
        json!({"id": s.channel_id, "number": revoked, "with_htlc_txs": with_htlc_txs}),
    )
    .await;
    assert_eq!(cheat["number"], revoked);
    let second_stage: Vec<Transaction> = cheat["htlc_txids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            s.net
                .chain
                .transaction(&t.as_str().unwrap().parse().unwrap())
                .unwrap()
                .unwrap()
                .tx
        })
        .collect();
    assert_eq!(second_stage.len(), usize::from(with_htlc_txs));
    s.net.mine_synced(1, &[a, b]).await;
    let penalty = |v: &Value| -> Value {
        v["sweeps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["kind"] == "penalty" && w["status"] == "broadcast")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let first = penalty(&until(b, "listfunds", json!({}), |v| !penalty(v).is_null()).await);
    if !with_htlc_txs {
        // A block without it: the cheater's to_self_delay runs, so the penalty is replaced at a higher feerate.
        s.net
            .chain
            .reorg(0, 1, &bitcoin::ScriptBuf::new_op_return([]))
            .unwrap();
        s.net.sync(&[a, b]).await;
        let second = penalty(
            &until(b, "listfunds", json!({}), |v| {
                penalty(v)["claim_txid"] != first["claim_txid"]
            })
            .await,
        );
        assert!(
            second["claim_feerate_perkw"].as_u64() > first["claim_feerate_perkw"].as_u64(),
            "bumped: {first} -> {second}"
        );
    }
    let blocks = mine_until_resolved(&s, 60).await;
    let cb = closed(b).await;
    assert_eq!(cb["close_cause"], "revoked_commitment");
    assert_eq!(cb["closing_txid"], cheat["txid"]);
    assert!(
        cb["resolved_at"].as_u64().unwrap() <= u64::from(s.net.height()),
        "resolved"
    );
    let commitment = tx_of(&s, cheat["txid"].as_str().unwrap());
    let (cost, _) = commitment_cost(&s, &commitment, anchors, 0);
    // What the cheater's own HTLC transactions paid in fees is gone too.
    let htlc_tx_fees: u64 = second_stage
        .iter()
        .map(|t| {
            let spent = &commitment.output[t.input[0].previous_output.vout as usize];
            (spent.value - t.output[0].value).to_sat()
        })
        .sum();
    let rows = [
        Books {
            who: "alice (cheater)",
            balance_sat: 0,
            won_sat: 0,
            commitment_cost_sat: 0,
            anchor_back_sat: 0,
            claim_fees_sat: 0,
            wallet_delta_sat: wallet_sat(a).await as i64 - wallet_a as i64,
        },
        Books {
            who: "bob",
            // Everything in the channel is his.
            balance_sat: FUNDING_SAT,
            won_sat: 0,
            commitment_cost_sat: cost + htlc_tx_fees,
            anchor_back_sat: 0,
            claim_fees_sat: fees_sat(b).await,
            wallet_delta_sat: wallet_sat(b).await as i64 - wallet_b as i64,
        },
    ];
    let case = format!(
        "breach of commitment {revoked} ({}){}: punished, resolved {blocks} blocks after",
        type_name(anchors),
        if with_htlc_txs {
            ", the cheater's HTLC-success first"
        } else {
            ""
        }
    );
    print_books(&case, &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_with_htlcs_is_punished_on_an_anchor_channel() {
    breach(true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_whose_htlc_success_got_there_first_loses_its_output_too() {
    breach(false, true).await;
}

/// A reorg takes the commitment and an HTLC-success out of the chain: both
/// come back, and the resolution is redone to the same end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_under_the_commitment_is_redone() {
    let s = setup(true).await;
    let (a, b) = (&s.a, &s.b);
    let h1 = hold(a, b, 1, 20_000).await;
    let _h3 = hold(b, a, 3, 35_000).await;
    committed(&s, 2).await;
    call(a, "close", json!({"id": s.channel_id, "force": true})).await;
    s.net.mine_synced(1, &[a, b]).await;
    call(
        a,
        "settleinvoice",
        json!({"preimage": hex::encode(preimage(3).0)}),
    )
    .await;
    s.net.mine_synced(1, &[a, b]).await;
    let sweeps = call(a, "listfunds", json!({})).await["sweeps"].clone();
    assert!(
        sweeps
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "htlc_second_stage"),
        "the HTLC-success confirmed: {sweeps}"
    );
    // Two blocks replaced by three empty ones: both transactions are unconfirmed again.
    let burn = bitcoin::ScriptBuf::new_op_return([]);
    s.net.chain.reorg(2, 3, &burn).unwrap();
    s.net.sync(&[a, b]).await;
    let seen = call(a, "listpeerchannels", json!({})).await;
    assert!(
        seen["channels"][0]["funding_spend"].is_null(),
        "the spend is unconfirmed again: {}",
        seen["channels"][0]["funding_spend"]
    );
    mine_until_resolved(&s, 80).await;
    assert_eq!(status_of(a, &h1).await, "failed");
    assert_eq!(
        status_of(b, &hex::encode(preimage(3).payment_hash().0)).await,
        "complete"
    );
}

/// Bob (not the opener, who cannot update_fee) force-closes while the
/// chain's feerate is far above the commitment's: his anchor and a wallet
/// coin pay for both (CPFP), as a package. `bumpfee` below the current
/// feerate is refused; above it, the child is replaced. A block that does
/// not confirm them makes the node raise the child itself (its HTLC's
/// deadline nears).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpfp_through_the_anchor_bumped_by_rbf() {
    let s = setup(true).await;
    let (a, b) = (&s.a, &s.b);
    let _h1 = hold(a, b, 1, 20_000).await;
    committed(&s, 1).await;
    let wallet_b = wallet_sat(b).await;
    let bal_b = to_us_sat(b).await;
    s.net
        .embedded
        .set_feerate(lnkit::tx::commitment::FeeratePerKw(5000))
        .unwrap();
    call(b, "close", json!({"id": s.channel_id, "force": true})).await;
    let anchor = |v: &Value| -> Option<Value> {
        v["sweeps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["kind"] == "anchor" && w["status"] == "broadcast")
            .cloned()
    };
    let first = anchor(&until(b, "listfunds", json!({}), |v| anchor(v).is_some()).await).unwrap();
    assert_eq!(
        first["claim_feerate_perkw"], 5000,
        "the package reaches the estimate"
    );
    let in_mempool = |txid: &Value| {
        s.net
            .embedded
            .mempool()
            .iter()
            .any(|t| t.compute_txid().to_string() == txid.as_str().unwrap())
    };
    assert!(
        in_mempool(&first["claim_txid"]),
        "the child is in the mempool"
    );

    let low = try_call(
        b,
        "bumpfee",
        json!({"id": s.channel_id, "feerate_perkw": 4000}),
    )
    .await
    .unwrap_err();
    assert_eq!(low.code, -32602);
    assert!(
        low.message.contains("feerate_perkw") && low.message.contains("5000"),
        "names the field and the current feerate: {}",
        low.message
    );
    let bumped = call(
        b,
        "bumpfee",
        json!({"id": s.channel_id, "feerate_perkw": 8000}),
    )
    .await;
    assert_eq!(bumped["feerate_perkw"], 8000);
    let second = anchor(&call(b, "listfunds", json!({})).await).unwrap();
    assert_eq!(second["claim_feerate_perkw"], 8000);
    assert_ne!(second["claim_txid"], first["claim_txid"]);
    assert!(
        in_mempool(&second["claim_txid"]) && !in_mempool(&first["claim_txid"]),
        "replaced"
    );

    // An empty block: the package waits, and its HTLC's expiry nears: the node raises it.
    s.net
        .chain
        .reorg(0, 1, &bitcoin::ScriptBuf::new_op_return([]))
        .unwrap();
    s.net.sync(&[a, b]).await;
    let third = anchor(
        &until(b, "listfunds", json!({}), |v| {
            anchor(v).is_some_and(|w| w["claim_txid"] != second["claim_txid"])
        })
        .await,
    )
    .unwrap();
    assert_eq!(third["claim_feerate_perkw"], 10_000, "a quarter more");
    s.net.mine_synced(1, &[a, b]).await;
    let commitment_txid = call(b, "listpeerchannels", json!({})).await["channels"][0]
        ["funding_spend"]["txid"]
        .clone();
    assert!(commitment_txid.is_string(), "the package confirmed");
    mine_until_resolved(&s, 200).await;
    let commitment = tx_of(&s, commitment_txid.as_str().unwrap());
    let (_, anchor_back) = commitment_cost(&s, &commitment, true, 0);
    assert_eq!(anchor_back, ANCHOR_SAT, "bob's anchor went into his CPFP");
    let rows = [Books {
        who: "bob",
        balance_sat: bal_b,
        // h1 was alice's; it times out back to her.
        won_sat: 0,
        commitment_cost_sat: 0,
        anchor_back_sat: anchor_back,
        claim_fees_sat: fees_sat(b).await,
        wallet_delta_sat: wallet_sat(b).await as i64 - wallet_b as i64,
    }];
    print_books(
        "bob force-closes at 5000 sat/kw over a 253 sat/kw commitment: CPFP, bumpfee, RBF",
        &rows,
    );
}

/// A node stopped in the middle of a resolution starts again where it was:
/// its pending claims are stored, and the blocks it missed are replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_resolution_finishes_it() {
    let s = setup(false).await;
    let h1 = hold(&s.a, &s.b, 1, 20_000).await;
    until(&s.a, "listpeerchannels", json!({}), |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().len() == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let wallet_a = wallet_sat(&s.a).await;
    call(&s.a, "close", json!({"id": s.channel_id, "force": true})).await;
    s.net.mine_synced(5, &[&s.a, &s.b]).await;
    let Setup {
        net,
        a,
        b,
        channel_id,
        funding_tx,
    } = s;
    call(&a, "stop", json!({})).await;
    a.stopped().await;
    // Blocks alice does not see: her to_local matures, her HTLC expires.
    net.mine_synced(25, &[&b]).await;
    let a = net.start("alice", config()).await;
    let s = Setup {
        net,
        a,
        b,
        channel_id,
        funding_tx,
    };
    mine_until_resolved(&s, 60).await;
    assert_eq!(status_of(&s.a, &h1).await, "failed");
    let swept = closed(&s.a).await["swept_msat"].as_u64().unwrap() / 1000;
    assert!(
        swept > 500_000,
        "to_local and the HTLC came back: {swept} sat"
    );
    assert!(wallet_sat(&s.a).await > wallet_a + 500_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_onchain_requests_name_what_is_wrong() {
    let net = Net::new();
    let n = net.node_with("carol", config(), false).await;
    let unknown = try_call(&n, "close", json!({"id": "00".repeat(32), "force": true}))
        .await
        .unwrap_err();
    assert_eq!(unknown.code, -32602);
    assert!(unknown.message.starts_with("id: "), "{}", unknown.message);
    let nothing = try_call(
        &n,
        "bumpfee",
        json!({"id": "00".repeat(32), "feerate_perkw": 1000}),
    )
    .await
    .unwrap_err();
    assert_eq!(nothing.code, -32602);
    let dev = try_call(&n, "dev-broadcast-revoked", json!({"id": "00".repeat(32)}))
        .await
        .unwrap_err();
    assert_eq!(dev.code, -32601);
    assert!(dev.message.contains("--dev"), "{}", dev.message);
}

/// Nobody closes: bob holds alice's HTLC past its expiry. BOLT 2 says alice
/// MUST fail the channel then; she does, and times the HTLC out on chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offered_htlc_past_its_deadline_fails_the_channel_by_itself() {
    let s = setup(true).await;
    let h1 = hold(&s.a, &s.b, 1, 20_000).await;
    let expiry = until(&s.a, "listpeerchannels", json!({}), |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().len() == 1
    })
    .await["channels"][0]["htlcs"][0]["expiry"]
        .as_u64()
        .unwrap() as u32;
    let blocks = expiry + lnkit::channel::onchain::OFFERED_HTLC_GRACE - s.net.height();
    s.net.mine_synced(blocks - 1, &[&s.a, &s.b]).await;
    assert_eq!(
        call(&s.a, "listpeerchannels", json!({})).await["channels"][0]["state"],
        "CHANNELD_NORMAL",
        "not before the deadline"
    );
    s.net.mine_synced(1, &[&s.a, &s.b]).await;
    until(&s.a, "listpeerchannels", json!({}), |v| {
        v["channels"][0]["state"] == "AWAITING_UNILATERAL"
    })
    .await;
    mine_until_resolved(&s, 80).await;
    assert_eq!(closed(&s.a).await["close_cause"], "our_commitment");
    assert_eq!(status_of(&s.a, &h1).await, "failed");
}
