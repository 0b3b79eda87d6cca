//! The demo's harness: calls to each node with the story told on stderr,
//! blocks mined, bounded waits, and the nodes started in-process.

use std::path::PathBuf;
use std::time::Duration;

use bitcoin::{Address, Network};
use serde_json::{json, Value};

use super::node_demo::*;
use super::CliError;
use crate::node::core::{self, NodeHandle, NodeOptions, SharedChain};
use crate::node::datadir::Datadir;

pub(super) fn failed(what: &str) -> impl Fn(crate::node::rpc::RpcError) -> CliError + '_ {
    move |e| CliError::failure(format!("demo: {what}: {}", e.message))
}

impl Demo<'_> {
    pub(super) async fn call(
        &mut self,
        who: &str,
        n: &NodeHandle,
        method: &str,
        params: Value,
        story: &str,
    ) -> Result<Value, CliError> {
        self.ex.line(format!("{who}: {story}"));
        let out = n
            .call(method, params.clone())
            .await
            .map_err(failed(method))?;
        self.steps
            .push(json!({"node": who, "method": method, "params": params, "result": out}));
        Ok(out)
    }

    pub(super) fn mine(&mut self, blocks: u32, to: &str, story: &str) -> Result<(), CliError> {
        self.ex.line(format!("chain: {story}"));
        let script = to
            .parse::<Address<bitcoin::address::NetworkUnchecked>>()
            .map_err(|e| CliError::failure(format!("demo: address: {e}")))?
            .assume_checked()
            .script_pubkey();
        let hashes = self
            .chain
            .mine(blocks, &script)
            .map_err(|e| CliError::failure(format!("demo: mine: {e}")))?;
        self.steps.push(json!({"node": "chain", "method": "mine", "params": {"blocks": blocks, "address": to}, "result": {"tip": hashes.last().map(|h| h.to_string())}}));
        Ok(())
    }

    /// Poll a method until `f` holds (at most 60 s).
    pub(super) async fn until(
        &mut self,
        n: &NodeHandle,
        method: &str,
        what: &str,
        f: impl Fn(&Value) -> bool,
    ) -> Result<Value, CliError> {
        for _ in 0..2400 {
            let v = n.call(method, json!({})).await.map_err(failed(method))?;
            if f(&v) {
                return Ok(v);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(CliError::failure(format!(
            "demo: timed out waiting for {what}"
        )))
    }

    /// Mine one block at a time, each seen by every node, until `f` holds
    /// for `n`'s `method` (at most `max` blocks); one step in the output.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn mine_until(
        &mut self,
        nodes: &[&NodeHandle],
        n: &NodeHandle,
        method: &str,
        max: u32,
        story: &str,
        f: impl Fn(&Value) -> bool,
    ) -> Result<Value, CliError> {
        self.ex.line(format!("chain: {story}"));
        let burn = bitcoin::ScriptBuf::new_op_return([]);
        for mined in 0..=max {
            let v = n.call(method, json!({})).await.map_err(failed(method))?;
            if f(&v) {
                self.steps.push(json!({"node": "chain", "method": "mine", "params": {"blocks": mined}, "result": {"until": method}}));
                return Ok(v);
            }
            let tip = self
                .chain
                .mine(1, &burn)
                .map_err(|e| CliError::failure(format!("demo: mine: {e}")))?;
            let height = self
                .chain
                .header(&tip[0])
                .map_err(|e| CliError::failure(format!("demo: {e}")))?
                .height;
            for node in nodes {
                self.until(node, "getinfo", "a node to see the block", |v| {
                    v["blockheight"].as_u64() >= Some(u64::from(height))
                })
                .await?;
            }
        }
        Err(CliError::failure(format!(
            "demo: {method} not as expected after {max} blocks"
        )))
    }
}

pub(super) async fn start(
    root: &std::path::Path,
    name: &str,
    chain: &SharedChain,
    dev: bool,
) -> Result<NodeHandle, CliError> {
    let d = Datadir(root.join(name));
    let entropy: [u8; 32] = bitcoin::secp256k1::rand::random();
    d.init(Network::Regtest, None, entropy)
        .map_err(|e| CliError::failure(format!("demo: {e}")))?;
    core::start(
        NodeOptions {
            datadir: d,
            network: Network::Regtest,
            listen: Some("127.0.0.1:0".parse().expect("an address")),
            alias: name.into(),
            commit_time: Duration::from_millis(10),
            poll_interval: Duration::from_millis(50),
            channel: crate::channel::Config::default(),
            // Only the breach story needs the developer method.
            dev,
            // Gossip on a demo's clock: relayed every half second, not every minute.
            gossip: core::GossipOptions {
                flush: Duration::from_millis(500),
                ..Default::default()
            },
            towers: vec![],
            tower_feerate: core::DEFAULT_TOWER_FEERATE,
        },
        chain.clone(),
    )
    .await
    .map_err(|e| CliError::failure(format!("demo: {name}: {e}")))
}

pub(super) fn tempfile_dir() -> Result<PathBuf, CliError> {
    let mut p = std::env::temp_dir();
    let r: u64 = bitcoin::secp256k1::rand::random();
    p.push(format!("lnkit-demo-{r:016x}"));
    Ok(p)
}
