//! Gossip into the node: a peer over BOLT 8 sends a channel_update and then
//! its channel_announcement; the node checks them against the
//! embedded chain, lists them (`listchannels`, `listnodes`), keeps them across
//! a restart, exports it as a graph file the toolkit reads, and answers a
//! forged update with a `warning`.

use std::time::Duration;

use bitcoin::secp256k1::SecretKey;
use lnkit::wire::message::{self, Message, Value as W};
use serde_json::{json, Value};

use crate::common;
use common::gossip::{channel_announcement, channel_update, pk};
use common::inprocess::{call, until, Net};

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_from_a_peer_is_checked_listed_and_kept() {
    let net = Net::new();
    let n = net
        .node("gossiper", lnkit::channel::Config::default())
        .await;
    // A channel's funding: a coinbase paying the 2-of-2 of two bitcoin keys, 6 deep.
    let (mut n1, mut n2) = (key(0x51), key(0x52));
    if pk(&n1).serialize() > pk(&n2).serialize() {
        std::mem::swap(&mut n1, &mut n2);
    }
    let (b1, b2) = (key(0x61), key(0x62));
    let script = lnkit::script::funding_script(&pk(&b1), &pk(&b2)).to_p2wsh();
    net.mine_to(1, &script);
    let height = net.height();
    net.mine_to(6, &bitcoin::ScriptBuf::new_op_return([]));
    net.sync(&[&n]).await;
    let scid = u64::from(height) << 40;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The update first, as LDK may send it: it waits for its announcement.
    let good = vec![
        channel_update(scid, now, 0, 1000, &n1),
        channel_announcement([&n1, &n2], [&b1, &b2], scid),
    ];
    let forged = channel_update(scid, now, 1, 1000, &n1);
    let (addr, id) = (n.listen.unwrap(), n.node_id);
    let warning = tokio::task::spawn_blocking(move || {
        let me = SecretKey::from_slice(&[0x33; 32]).unwrap();
        let eph = SecretKey::from_slice(&[0x44; 32]).unwrap();
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut peer = lnkit::wire::peer::Peer::connect(stream, &me, &id, &eph).unwrap();
        let init = Message {
            typ: 16,
            name: Some("init"),
            fields: vec![
                ("globalfeatures", W::Features(vec![])),
                ("features", W::Features(vec![])),
            ],
            tlvs: vec![],
            raw: None,
        };
        peer.send(&message::encode(&init).unwrap()).unwrap();
        let theirs = message::decode(&peer.recv().unwrap()).unwrap();
        assert_eq!(theirs.name, Some("init"));
        for m in &good {
            peer.send(m).unwrap();
        }
        peer.send(&forged).unwrap();
        // The answer to the forged update (pings and our sync's queries may come first).
        let next_warning = |peer: &mut lnkit::wire::peer::Peer<std::net::TcpStream>| loop {
            let m = message::decode(&peer.recv().unwrap()).unwrap();
            if m.name == Some("warning") {
                return m;
            }
        };
        let first = next_warning(&mut peer);
        // A truncated update: a warning too, and the connection stays (a ping is answered).
        peer.send(&forged[..60]).unwrap();
        let truncated = next_warning(&mut peer);
        // announcement_signatures for a channel we do not have with this peer: a warning.
        let sigs = Message {
            typ: 259,
            name: Some("announcement_signatures"),
            fields: vec![
                ("channel_id", W::Bytes(vec![7; 32])),
                ("short_channel_id", W::Scid(scid)),
                ("node_signature", W::Bytes(vec![1; 64])),
                ("bitcoin_signature", W::Bytes(vec![1; 64])),
            ],
            tlvs: vec![],
            raw: None,
        };
        peer.send(&message::encode(&sigs).unwrap()).unwrap();
        let unknown = next_warning(&mut peer);
        let ping = Message {
            typ: 18,
            name: Some("ping"),
            fields: vec![
                ("num_pong_bytes", W::Uint(3)),
                ("ignored", W::Bytes(vec![])),
            ],
            tlvs: vec![],
            raw: None,
        };
        peer.send(&message::encode(&ping).unwrap()).unwrap();
        loop {
            if message::decode(&peer.recv().unwrap()).unwrap().name == Some("pong") {
                break;
            }
        }
        (first, truncated, unknown)
    })
    .await
    .unwrap();
    let (warning, truncated, unknown) = warning;
    let said = |m: &Message| {
        m.fields.iter().find_map(|(f, v)| match (f, v) {
            (&"data", W::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
    };
    assert!(
        said(&truncated).unwrap().contains("does not decode"),
        "{:?}",
        said(&truncated)
    );
    assert!(
        said(&warning).unwrap().contains("signature"),
        "the warning says why"
    );
    assert!(
        said(&unknown).unwrap().contains("unknown channel"),
        "{:?}",
        said(&unknown)
    );
    let listed = until(&n, "listchannels", json!({}), |v: &Value| {
        v["channels"].as_array().unwrap().len() == 1
    })
    .await;
    let c = &listed["channels"][0];
    assert_eq!(c["source"], pk(&n1).to_string());
    assert_eq!(
        c["amount_msat"], 5_000_000_000_000u64,
        "the coinbase's 50 BTC, in msat"
    );
    assert_eq!(c["base_fee_millisatoshi"], 1000);
    let nodes = call(&n, "listnodes", json!({})).await;
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 2);
    // The node's view, exported, is a graph the toolkit reads.
    let file = net.dir.path().join("graph.hex");
    let out = call(
        &n,
        "exportgraph",
        json!({"file": file.display().to_string()}),
    )
    .await;
    assert_eq!(
        (out["channels"].as_u64(), out["messages"].as_u64()),
        (Some(1), Some(3)),
        "the announcement, its capacity record and one update"
    );
    let g = lnkit::graph::import::load(std::fs::read(&file).unwrap(), None).unwrap();
    assert_eq!(g.channels.len(), 1);
    assert_eq!(g.channels[0].short_channel_id, Some(scid));
    assert_eq!(
        g.channels[0].capacity_sat * 1000,
        listed["channels"][0]["amount_msat"].as_u64().unwrap()
    );
    assert_eq!(g.policies[0].fee_base_msat, 1000);
    assert!(g.policies[0].present && !g.policies[1].present);
    // A restart keeps it.
    call(&n, "stop", json!({})).await;
    n.stopped().await;
    let n = net
        .start("gossiper", lnkit::channel::Config::default())
        .await;
    let again = call(&n, "listchannels", json!({})).await;
    assert_eq!(again["channels"], listed["channels"]);
}
