//! A connection's memory bounds (`lnkit::node::peer`, issue 35), on real
//! TCP over loopback with a BOLT 8 peer that reads or writes only when the
//! test says: the node's outbound queue for a peer that does not read is
//! capped, the peer is not read while it is full, and what is read from a
//! peer waits for the node within its inbound budget.

use std::time::{Duration, Instant};

use bitcoin::Network;
use lnkit::node::peer::{self, Inboxes, PeerEvent, MAX_INBOUND, MAX_OUTBOUND, PAUSE_READING_AT};
use lnkit::signer::NodeSeed;
use lnkit::wire::noise::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// An odd (ignorable) message of `len` bytes in all.
fn odd(len: usize) -> Vec<u8> {
    let mut m = vec![0x80, 0x01];
    m.resize(len, 0x5a);
    m
}

struct Ends {
    node: peer::PeerHandle,
    _urgent: mpsc::UnboundedReceiver<PeerEvent>,
    bulk: mpsc::UnboundedReceiver<PeerEvent>,
    peer: TcpStream,
    peer_transport: Transport,
}

async fn connected() -> Ends {
    let (a, b) = (
        NodeSeed::new(&[1; 64], Network::Regtest),
        NodeSeed::new(&[2; 64], Network::Regtest),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let node_signer = b.node();
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        peer::accept(s, &node_signer).await.unwrap()
    });
    let (peer, peer_transport) = peer::connect(&addr, &a.node(), &b.node_id()).await.unwrap();
    let (stream, transport) = server.await.unwrap();
    let (urgent_tx, _urgent) = mpsc::unbounded_channel();
    let (bulk_tx, bulk) = mpsc::unbounded_channel();
    let node = peer::spawn(
        stream,
        transport,
        1,
        Inboxes {
            urgent: urgent_tx,
            bulk: bulk_tx,
        },
    );
    Ends {
        node,
        _urgent,
        bulk,
        peer,
        peer_transport,
    }
}

/// Messages that arrive within `wait`.
async fn arrivals(rx: &mut mpsc::UnboundedReceiver<PeerEvent>, wait: Duration) -> Vec<PeerEvent> {
    let mut out = vec![];
    let until = Instant::now() + wait;
    while let Ok(Some(e)) = tokio::time::timeout_at(until.into(), rx.recv()).await {
        out.push(e);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_not_read_and_what_we_queue_for_it_is_capped() {
    let mut e = connected().await;
    // The node sends 60 KB messages the peer never reads: the kernel's
    // buffers fill, then the queue, and a send past MAX_OUTBOUND is refused.
    let big = odd(60_000);
    let start = Instant::now();
    let mut accepted = 0usize;
    let refused = loop {
        assert!(start.elapsed() < Duration::from_secs(20), "never refused");
        match e.node.send(big.clone()) {
            Ok(_) => accepted += 1,
            Err(_) => break true,
        }
        assert!(e.node.flow.queued() <= MAX_OUTBOUND);
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert!(refused);
    assert!(e.node.flow.queued() >= PAUSE_READING_AT);
    eprintln!(
        "{} KB accepted before the queue was full ({} KB queued)",
        accepted * 60,
        e.node.flow.queued() / 1000
    );
    // The peer writes three messages; while the queue is full the node
    // reads at most the one its reader was already waiting for.
    for len in [100, 101, 102] {
        let frame = e.peer_transport.encrypt(&odd(len)).unwrap();
        e.peer.write_all(&frame).await.unwrap();
    }
    let heard = arrivals(&mut e.bulk, Duration::from_millis(500)).await;
    assert!(
        heard.len() <= 1,
        "read while our queue was full: {}",
        heard.len()
    );
    // The peer reads everything; the queue drains and its message is read.
    let (mut rd, wr) = e.peer.into_split();
    let drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 1 << 16];
        while rd.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let after = arrivals(&mut e.bulk, Duration::from_secs(5)).await;
    let lens: Vec<usize> = heard
        .iter()
        .chain(&after)
        .filter_map(|m| match m {
            PeerEvent::Message(_, _, b, _) => Some(b.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        lens,
        vec![100, 101, 102],
        "all read, in order, after the drain"
    );
    assert!(e.node.flow.queued() < PAUSE_READING_AT);
    drop(wr);
    e.node.close(Duration::ZERO);
    drain.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_peer_sends_waits_for_the_node_within_its_inbound_budget() {
    let mut e = connected().await;
    // 1 MB of 10 KB messages, which the node does not take from its queue.
    let mut frames = vec![];
    for _ in 0..100 {
        frames.extend(e.peer_transport.encrypt(&odd(10_000)).unwrap());
    }
    let writer = tokio::spawn(async move {
        let _ = e.peer.write_all(&frames).await;
        e.peer
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Count what waits (without taking it: a message's permit goes with it).
    let mut waiting = vec![];
    while let Ok(m) = e.bulk.try_recv() {
        waiting.push(m);
    }
    let bytes: usize = waiting
        .iter()
        .map(|m| match m {
            PeerEvent::Message(_, _, b, _) => b.len(),
            _ => 0,
        })
        .sum();
    eprintln!(
        "{} messages, {bytes} bytes read ahead of the node",
        waiting.len()
    );
    assert!(bytes <= MAX_INBOUND, "{bytes} bytes read ahead of the node");
    assert!(bytes >= MAX_INBOUND - 20_000, "the budget is used: {bytes}");
    // The node handles them (drops the permits): the rest is read.
    drop(waiting);
    let mut taken = bytes / 10_000;
    let until = Instant::now() + Duration::from_secs(10);
    while taken < 100 {
        match tokio::time::timeout_at(until.into(), e.bulk.recv()).await {
            Ok(Some(PeerEvent::Message(..))) => taken += 1,
            _ => break,
        }
    }
    assert_eq!(taken, 100, "every message arrives once the node takes them");
    let _ = writer.await;
}
