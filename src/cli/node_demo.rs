//! `lnkit node demo`: three nodes in one process on an embedded regtest
//! chain, each with its own datadir and loopback port, talking over real
//! TCP. It funds them, connects and opens A–B and B–C, pays both ways on
//! each channel, then (the channels announced) A pays C through B, and
//! closes both cooperatively. Every step is a node RPC call;
//! the output lists them with their answers, and `--explain` tells the story.
//!
//! With `--force-close` the closes are the hard ones (BOLT 5): A force-closes
//! A–B with an HTLC held each way, both resolved on chain; B broadcasts a
//! revoked state of B–C, and C's penalty takes everything.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::{json, Value};

use super::node_demo_harness::{start, tempfile_dir};
use super::{CliError, Explain, StepResult};
use crate::chain::embedded::EmbeddedChain;
use crate::node::core::{NodeHandle, SharedChain};

/// Flags of `lnkit node demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the chain and the three datadirs go (default: a new temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Close by force instead: A–B with HTLCs in flight resolved on chain, and a breach of B–C punished.
    #[arg(long)]
    force_close: bool,
}

/// The demo's state: the shared chain, and every step as it is shown.
pub(super) struct Demo<'a> {
    pub(super) chain: SharedChain,
    pub(super) steps: Vec<Value>,
    pub(super) ex: &'a mut Explain,
}

/// Run the demo.
pub fn run(args: DemoArgs, ex: &mut Explain) -> StepResult {
    let temp = match &args.dir {
        Some(_) => None,
        None => Some(tempfile_dir()?),
    };
    let root = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.clone().expect("set"));
    std::fs::create_dir_all(&root).map_err(|e| CliError::failure(format!("--dir: {e}")))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("runtime: {e}")))?;
    let result = rt.block_on(story(&root, ex, args.force_close));
    if let Some(t) = temp {
        let _ = std::fs::remove_dir_all(t);
    }
    result
}

async fn story(root: &std::path::Path, ex: &mut Explain, force_close: bool) -> StepResult {
    let chain: SharedChain = Arc::new(
        EmbeddedChain::open(&root.join("chain"))
            .map_err(|e| CliError::failure(format!("demo: chain: {e}")))?,
    );
    ex.line("three nodes, A, B and C, on one embedded regtest chain (Bitcoin Core's kernel validates every block)");
    let a = start(root, "a", &chain, force_close).await?;
    let b = start(root, "b", &chain, force_close).await?;
    let c = start(root, "c", &chain, force_close).await?;
    let mut d = Demo {
        chain: chain.clone(),
        steps: vec![],
        ex,
    };
    let (ida, idb, idc) = (
        a.node_id.to_string(),
        b.node_id.to_string(),
        c.node_id.to_string(),
    );
    let addr_a = d
        .call(
            "A",
            &a,
            "newaddr",
            json!({}),
            "a BIP 84 address from A's BDK wallet",
        )
        .await?["bech32"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let addr_b = d
        .call("B", &b, "newaddr", json!({}), "and one from B's")
        .await?["bech32"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    d.mine(1, &addr_b, "a coinbase to B")?;
    d.mine(
        101,
        &addr_a,
        "101 blocks to A: B's coinbase matures, and one of A's",
    )?;
    d.until(&a, "listfunds", "A's funds", |v| {
        v["outputs"].as_array().is_some_and(|o| !o.is_empty())
    })
    .await?;
    d.until(&b, "listfunds", "B's funds", |v| {
        v["outputs"].as_array().is_some_and(|o| !o.is_empty())
    })
    .await?;
    let b_at = format!("{idb}@{}", b.listen.expect("listening"));
    let c_at = format!("{idc}@{}", c.listen.expect("listening"));
    d.call(
        "A",
        &a,
        "connect",
        json!({"id": b_at}),
        "BOLT 8 handshake to B over TCP, then init (features checked)",
    )
    .await?;
    d.call("B", &b, "connect", json!({"id": c_at}), "and B to C")
        .await?;
    d.call(
        "A",
        &a,
        "fundchannel",
        json!({"id": idb, "amount": 1_000_000}),
        "open_channel, accept_channel, funding_created, funding_signed; BDK builds the funding",
    )
    .await?;
    d.call(
        "B",
        &b,
        "fundchannel",
        json!({"id": idc, "amount": 500_000}),
        "the same from B to C",
    )
    .await?;
    d.mine(3, &addr_a, "three confirmations: channel_ready both ways")?;
    for (n, who) in [(&a, "A"), (&b, "B"), (&c, "C")] {
        d.until(
            n,
            "listpeerchannels",
            &format!("{who}'s channels to open"),
            |v| {
                v["channels"].as_array().is_some_and(|cs| {
                    !cs.is_empty() && cs.iter().all(|c| c["state"] == "CHANNELD_NORMAL")
                })
            },
        )
        .await?;
    }
    let pays: [(&str, &NodeHandle, &str, &NodeHandle, u64); 4] = [
        ("B", &b, "A", &a, 100_000_000),
        ("A", &a, "B", &b, 25_000_000),
        ("C", &c, "B", &b, 40_000_000),
        ("B", &b, "C", &c, 10_000_000),
    ];
    for (i, (payee_name, payee, payer_name, payer, amount)) in pays.into_iter().enumerate() {
        let inv = d.call(payee_name, payee, "invoice", json!({"amount_msat": amount, "label": format!("demo-{i}"), "description": format!("{payer_name} pays {payee_name}")}), "a BOLT 11 invoice, preimage stored").await?;
        d.call(
            payer_name,
            payer,
            "pay",
            json!({"bolt11": inv["bolt11"]}),
            &format!("update_add_htlc to {payee_name}, one commitment round, the preimage back"),
        )
        .await?;
    }
    for (n, who) in [(&a, "A"), (&b, "B"), (&c, "C")] {
        d.until(
            n,
            "listpeerchannels",
            &format!("{who}'s HTLCs to settle"),
            |v| {
                v["channels"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .all(|c| c["htlcs"].as_array().is_some_and(|h| h.is_empty()))
                })
            },
        )
        .await?;
    }
    d.call(
        "A",
        &a,
        "listpeerchannels",
        json!({}),
        "A's balance: 1,000,000 sat - 100,000 + 25,000",
    )
    .await?;
    if force_close {
        let closed = super::node_demo_force::force_closes(&mut d, [&a, &b, &c], &addr_a).await?;
        for (n, _) in [(&a, "A"), (&b, "B"), (&c, "C")] {
            let _ = n.call("stop", json!({})).await;
        }
        d.ex.line(format!(
            "done: {} steps, every one a node RPC call",
            d.steps.len()
        ));
        return Ok(json!({
            "nodes": {"A": ida, "B": idb, "C": idc},
            "steps": d.steps,
            "closed": closed,
        }));
    }
    across(&mut d, [&a, &b, &c], &addr_a).await?;
    d.call(
        "A",
        &a,
        "close",
        json!({"id": idb}),
        "shutdown, then closing fee negotiation; the mutual close is broadcast",
    )
    .await?;
    d.call(
        "B",
        &b,
        "close",
        json!({"id": idc}),
        "and B closes its channel to C",
    )
    .await?;
    d.mine(1, &addr_a, "the closing transactions confirm")?;
    d.until(&a, "listfunds", "A's close to reach its wallet", |v| {
        v["outputs"].as_array().is_some_and(|o| o.len() >= 2)
    })
    .await?;
    let funds = d
        .call(
            "A",
            &a,
            "listfunds",
            json!({}),
            "A's wallet: its change and its closing output",
        )
        .await?;
    for (n, _) in [(&a, "A"), (&b, "B"), (&c, "C")] {
        let _ = n.call("stop", json!({})).await;
    }
    d.ex.line(format!(
        "done: {} steps, every one a node RPC call",
        d.steps.len()
    ));
    Ok(json!({
        "nodes": {"A": ida, "B": idb, "C": idc},
        "steps": d.steps,
        "final_funds_a": funds,
    }))
}

/// The channels announced (BOLT 7), A pays C through B (BOLT 4), and B shows what it forwarded.
async fn across(d: &mut Demo<'_>, [a, b, c]: [&NodeHandle; 3], to: &str) -> StepResult {
    d.mine(
        3,
        to,
        "six confirmations: A–B and B–C are announced (BOLT 7)",
    )?;
    d.until(a, "listchannels", "A to learn B–C from B's gossip", |v| {
        v["channels"].as_array().is_some_and(|cs| cs.len() == 4)
    })
    .await?;
    let inv = d
        .call(
            "C",
            c,
            "invoice",
            json!({"amount_msat": 50_000_000, "label": "across", "description": "A pays C through B"}),
            "an invoice from C, who has no channel with A",
        )
        .await?;
    d.call(
        "A",
        a,
        "pay",
        json!({"bolt11": inv["bolt11"]}),
        "a route over the live graph, an onion of two hops; B peels its layer and forwards",
    )
    .await?;
    d.call(
        "B",
        b,
        "listforwards",
        json!({}),
        "B kept its fee: 1,000 msat + 10 ppm (Core Lightning's default policy)",
    )
    .await
}
