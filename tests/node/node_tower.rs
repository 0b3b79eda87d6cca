//! The watchtower with real nodes, in one process on the embedded chain:
//! a node hands every revoked state to a tower (`--tower`), goes offline,
//! and its peer broadcasts a revoked commitment; the tower alone punishes it
//! within `to_self_delay`, and the funds are in the victim's wallet when it
//! comes back. Also: the node's queue survives the tower being down and the
//! node restarting, the tower survives a restart with its appointments, and
//! a tower that was down when the breach was mined catches up and still
//! punishes.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::inprocess::{call, new_address, until, wallet_sat, Net};
use lnkit::node::core::NodeHandle;
use lnkit::tower::appointment::Appointment;
use lnkit::tower::http::{post, Limits};
use lnkit::tower::run::{start, RunOptions, TowerHandle};
use lnkit::tower::service::Config;
use serde_json::{json, Value};

/// The delay each node asks of its peer: the tower has this long.
const TO_SELF_DELAY: u16 = 20;
const FUNDING_SAT: u64 = 1_000_000;

fn config() -> lnkit::channel::Config {
    lnkit::channel::Config {
        to_self_delay: TO_SELF_DELAY,
        ..Default::default()
    }
}

async fn tower(net: &Net, listen: SocketAddr) -> TowerHandle {
    start(
        RunOptions {
            datadir: net.dir.path().join("tower"),
            listen,
            config: Config {
                safe_depth: 6,
                ..Config::default()
            },
            limits: Limits {
                max_body: 8192,
                requests_per_second: 1000.0,
            },
            poll_interval: Duration::from_millis(50),
        },
        net.chain.clone(),
    )
    .await
    .unwrap()
}

async fn victim(net: &Net, url: &str) -> NodeHandle {
    net.start_towered(
        "victor",
        config(),
        false,
        Net::gossip(),
        vec![url.to_string()],
    )
    .await
}

/// Victor (with the tower) opens a channel to Carol (who will cheat), pays
/// her 400,000 sat, and she pays 300,000 back: the state where she held
/// 400,000 is revoked. Returns that commitment's number and the channel id.
async fn channel_with_a_revoked_state(net: &Net, v: &NodeHandle, c: &NodeHandle) -> (u64, String) {
    let (addr_v, addr_c) = (new_address(v).await, new_address(c).await);
    net.mine(1, &addr_c);
    net.mine(101, &addr_v);
    net.sync(&[v, c]).await;
    common::inprocess::connect(v, c).await;
    let opened = call(
        v,
        "fundchannel",
        json!({"id": c.node_id.to_string(), "amount": FUNDING_SAT}),
    )
    .await;
    net.mine(3, &addr_v);
    for n in [v, c] {
        until(n, "listpeerchannels", json!({}), |x| {
            x["channels"][0]["state"] == "CHANNELD_NORMAL"
        })
        .await;
    }
    pay(v, c, 400_000).await;
    let revoked = call(c, "listpeerchannels", json!({})).await["channels"][0]["commitment_number"]
        .as_u64()
        .unwrap();
    pay(c, v, 300_000).await;
    (revoked, opened["channel_id"].as_str().unwrap().to_string())
}

async fn pay(from: &NodeHandle, to: &NodeHandle, sat: u64) {
    let label = format!("{sat}-{}", rand_label());
    let inv = call(
        to,
        "invoice",
        json!({"amount_msat": sat * 1000, "label": label, "description": "x"}),
    )
    .await;
    let paid = call(from, "pay", json!({"bolt11": inv["bolt11"]})).await;
    assert_eq!(paid["status"], "complete", "{paid}");
}

fn rand_label() -> String {
    hex::encode(bitcoin::secp256k1::rand::random::<[u8; 8]>())
}

/// Wait (bounded) until every appointment made so far is in the tower's hands.
async fn handed_over(v: &NodeHandle) -> Value {
    let t = until(v, "listtowers", json!({}), |x| {
        x["towers"][0]["pending"] == 0 && x["towers"][0]["appointments"].as_u64() > Some(0)
    })
    .await;
    t["towers"][0].clone()
}

/// Wait (bounded) until the tower has broadcast a penalty (it is in the
/// chain's mempool); its txid.
async fn penalty_broadcast(net: &Net, t: &TowerHandle) -> bitcoin::Txid {
    for _ in 0..600 {
        let trackers = t.tower.lock().unwrap().store().trackers().unwrap();
        if let Some(tr) = trackers.first() {
            let txid = tr.penalty.compute_txid();
            if net.chain.transaction(&txid).unwrap().is_some() {
                return txid;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the tower never broadcast a penalty");
}

fn confirmed_height(net: &Net, txid: &bitcoin::Txid) -> Option<u32> {
    let info = net.chain.transaction(txid).unwrap()?;
    match info.status {
        lnkit::chain::TxStatus::Confirmed { block, .. } => Some(block.height),
        _ => None,
    }
}

/// Victor goes offline (stopped), then Carol broadcasts revoked commitment
/// `revoked` (to the mempool); its txid.
async fn offline_then_breach(
    v: NodeHandle,
    c: &NodeHandle,
    channel_id: &str,
    revoked: u64,
) -> bitcoin::Txid {
    call(&v, "stop", json!({})).await;
    v.stopped().await;
    let cheat = call(
        c,
        "dev-broadcast-revoked",
        json!({"id": channel_id, "number": revoked}),
    )
    .await;
    cheat["txid"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tower_alone_punishes_a_breach_while_the_victim_is_offline() {
    let net = Net::new();
    let t = tower(&net, "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{}", t.addr);
    let v = victim(&net, &url).await;
    let c = net.node("carol", config()).await;
    let (revoked, channel_id) = channel_with_a_revoked_state(&net, &v, &c).await;
    let listed = handed_over(&v).await;
    assert_eq!(listed["tower_id"], t.id.to_string());
    assert_eq!(listed["reachable"], true);
    // The tower holds one appointment per revoked state worth punishing, and learns nothing from them.
    let (_, held, _) = t.tower.lock().unwrap().store().counts().unwrap();
    assert_eq!(held, listed["appointments"].as_u64().unwrap());

    // Victor goes offline; Carol broadcasts the state where she held 400,000 sat.
    let before = wallet_sat(&v).await;
    let breach_txid = offline_then_breach(v, &c, &channel_id, revoked).await;
    // Another user of the tower watches the same locator with a blob that
    // decrypts, under the breach's txid, to a transaction spending something else.
    let mallory = bitcoin::secp256k1::SecretKey::from_slice(&[0x6d; 32]).unwrap();
    let decoy = Appointment::new(
        &net.chain.transaction(&breach_txid).unwrap().unwrap().tx,
        &breach_txid,
        144,
    );
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let mallory_id = bitcoin::secp256k1::PublicKey::from_secret_key(&secp, &mallory);
    let within = Duration::from_secs(10);
    assert_eq!(
        post(
            &url,
            "register",
            &json!({"user_id": mallory_id.to_string()}),
            within
        )
        .await
        .unwrap()
        .0,
        200
    );
    let signature = lnkit::message_signing::sign(&secp, &decoy.signed_bytes(), &mallory);
    let added = post(
        &url,
        "add_appointment",
        &json!({"appointment": decoy, "signature": signature}),
        within,
    )
    .await
    .unwrap();
    assert_eq!(added.0, 200, "{}", added.1);
    let burn = bitcoin::ScriptBuf::new_op_return([]);
    net.mine_to(1, &burn);
    let breach_height = confirmed_height(&net, &breach_txid).expect("the breach is mined");
    let penalty = penalty_broadcast(&net, &t).await;
    net.mine_to(1, &burn);
    // The decoy was opened, refused and dropped; only Victor's penalty is tracked.
    let trackers = t.tower.lock().unwrap().store().trackers().unwrap();
    assert_eq!(trackers.len(), 1);
    assert_eq!(trackers[0].penalty.compute_txid(), penalty);
    let asked = json!({
        "locator": decoy.locator.to_string(),
        "signature": lnkit::message_signing::sign(&secp, format!("get appointment {}", decoy.locator).as_bytes(), &mallory),
    });
    assert_eq!(
        post(&url, "get_appointment", &asked, within)
            .await
            .unwrap()
            .0,
        404
    );
    let punished_at = confirmed_height(&net, &penalty).expect("the penalty is mined");
    assert!(
        punished_at < breach_height + u32::from(TO_SELF_DELAY),
        "punished at {punished_at}, breach at {breach_height}: within to_self_delay"
    );
    let penalty_tx = net.chain.transaction(&penalty).unwrap().unwrap().tx;
    assert!(penalty_tx
        .input
        .iter()
        .all(|i| i.previous_output.txid == breach_txid));
    // Carol's 400,000 sat (less the penalty's fee) went to Victor's wallet.
    let won: u64 = penalty_tx.output.iter().map(|o| o.value.to_sat()).sum();
    assert!(won > 390_000 && won < 400_000, "penalty pays {won}");

    // Victor comes back: the penalty's output is in his wallet.
    let v = victim(&net, &url).await;
    net.sync(&[&v]).await;
    let funds = until(&v, "listfunds", json!({}), |f| {
        f["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["txid"] == penalty.to_string() && o["status"] == "confirmed")
    })
    .await;
    let got = funds["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["txid"] == penalty.to_string())
        .unwrap()["amount_msat"]
        .as_u64()
        .unwrap()
        / 1000;
    assert_eq!(got, won);
    assert!(wallet_sat(&v).await >= before + won);
    t.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_waits_for_a_down_tower_and_a_tower_catches_up_after_an_outage() {
    let net = Net::new();
    // The tower's port is known, but nothing listens there yet.
    let listen: SocketAddr = format!("127.0.0.1:{}", common::node::free_port())
        .parse()
        .unwrap();
    let url = format!("http://{listen}");
    let v = victim(&net, &url).await;
    let c = net.node("carol", config()).await;
    let (revoked, channel_id) = channel_with_a_revoked_state(&net, &v, &c).await;
    let waiting = until(&v, "listtowers", json!({}), |x| {
        x["towers"][0]["reachable"] == false && x["towers"][0]["pending"].as_u64() > Some(0)
    })
    .await;
    // The last revoke_and_ack may land after `pay` returns: wait for the count to settle.
    let mut made = waiting["towers"][0]["pending"].as_u64().unwrap();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = call(&v, "listtowers", json!({})).await["towers"][0]["pending"]
            .as_u64()
            .unwrap();
        if now == made {
            break;
        }
        made = now;
    }
    assert_eq!(waiting["towers"][0]["appointments"], 0);
    // The queue is stored: a restart of the node keeps it.
    call(&v, "stop", json!({})).await;
    v.stopped().await;
    let v = victim(&net, &url).await;
    assert_eq!(
        call(&v, "listtowers", json!({})).await["towers"][0]["pending"],
        made
    );
    // The tower comes up: everything waiting is handed over, in order.
    let t = tower(&net, listen).await;
    let listed = handed_over(&v).await;
    assert_eq!(listed["appointments"], made);
    // The tower survives a restart with its appointments.
    t.stop().unwrap();
    let t = tower(&net, listen).await;
    assert_eq!(t.tower.lock().unwrap().store().counts().unwrap().1, made);
    assert_eq!(t.tower.lock().unwrap().watched_locators() as u64, made);
    // The tower goes down; the breach is mined, and three blocks more.
    t.stop().unwrap();
    let breach_txid = offline_then_breach(v, &c, &channel_id, revoked).await;
    let burn = bitcoin::ScriptBuf::new_op_return([]);
    net.mine_to(4, &burn);
    let breach_height = confirmed_height(&net, &breach_txid).expect("the breach is mined");
    // Back up, the tower catches up from its last block and still punishes.
    let t = tower(&net, listen).await;
    let penalty = penalty_broadcast(&net, &t).await;
    net.mine_to(1, &burn);
    let punished_at = confirmed_height(&net, &penalty).expect("the penalty is mined");
    assert!(punished_at < breach_height + u32::from(TO_SELF_DELAY));
    t.stop().unwrap();
}
