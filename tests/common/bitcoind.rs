//! A real bitcoind for the tests.
//!
//! Built once by `scripts/build-test-bitcoind.sh` from the Bitcoin Core
//! source that the `libbitcoinkernel-sys` crate vendors (found with `cargo
//! metadata`), with cmake, and cached outside the repository under
//! `~/.cache/lnkit/bitcoind-<crate version>/`, behind a file lock so that
//! concurrent test binaries (and `.ci/run`'s early build) build it once. Each test starts
//! its own on 127.0.0.1 with free ports and a temporary datadir; the
//! [`Bitcoind`] guard stops it when dropped, so also when a test fails.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::Network;
use lnkit::chain::bitcoind::{BitcoindChain, BitcoindConfig, RpcAuth};
use lnkit::chain::ChainError;

/// How long a build may take (about 5 minutes on 2 cores) or be waited for.
const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// How long bitcoind may take to answer its first RPC, or to stop.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The directory holding `bitcoind` and `bitcoin-cli`, built first if the
/// cache does not have them yet, by `scripts/build-test-bitcoind.sh` (the
/// one place that knows how; `.ci/run` starts it early, in the background,
/// and a test that comes first waits on its lock).
pub fn binaries() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-test-bitcoind.sh");
    let out = Command::new("timeout")
        .arg(BUILD_TIMEOUT.as_secs().to_string())
        .arg("bash")
        .arg(&script)
        .env("CARGO", env!("CARGO"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{}: cannot run: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); is cmake installed?",
        script.display(),
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        text.lines()
            .last()
            .expect("the script prints the bin directory")
            .trim(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running regtest bitcoind, stopped (killed if need be) on drop.
pub struct Bitcoind {
    child: Option<Child>,
    /// `regtest`, or `signet` for the tests that need a network still in IBD.
    chain: &'static str,
    bin: PathBuf,
    pub datadir: tempfile::TempDir,
    pub rpc_port: u16,
    p2p_port: u16,
    extra_args: Vec<String>,
}

impl Bitcoind {
    /// Start one with `-txindex` (so `transaction` finds confirmed transactions).
    pub fn start() -> Bitcoind {
        Self::start_with(&["-txindex=1"])
    }

    /// Start one with extra arguments.
    pub fn start_with(extra: &[&str]) -> Bitcoind {
        Self::start_on("regtest", extra)
    }

    /// Start one on `chain` (`regtest` or `signet`; never with peers: a
    /// signet node without them stays in initial block download).
    pub fn start_on(chain: &'static str, extra: &[&str]) -> Bitcoind {
        let bin = binaries();
        let mut node = Bitcoind {
            child: None,
            chain,
            bin,
            datadir: tempfile::tempdir().unwrap(),
            rpc_port: free_port(),
            p2p_port: free_port(),
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        };
        // A free port can be taken by another process between our probe and
        // bitcoind's bind: then it exits at once, and new ports are tried.
        for _ in 0..4 {
            match node.try_spawn() {
                Ok(()) => return node,
                Err(e)
                    if e.contains("Unable to start HTTP server")
                        || e.contains("Unable to bind") =>
                {
                    node.rpc_port = free_port();
                    node.p2p_port = free_port();
                }
                Err(e) => panic!("{e}"),
            }
        }
        node.spawn();
        node
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    pub fn cookie(&self) -> PathBuf {
        self.datadir.path().join(self.chain).join(".cookie")
    }

    /// A client, over the cookie.
    pub fn chain(&self) -> BitcoindChain {
        BitcoindChain::connect(BitcoindConfig::new(
            self.url(),
            RpcAuth::Cookie(self.cookie()),
            Network::Regtest,
        ))
        .expect("connect to the test bitcoind")
    }

    fn spawn(&mut self) {
        if let Err(e) = self.try_spawn() {
            panic!("{e}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let _ = std::fs::remove_file(self.cookie());
        let child = Command::new(self.bin.join("bitcoind"))
            .arg(format!("-{}", self.chain))
            .arg(format!("-datadir={}", self.datadir.path().display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg(format!("-port={}", self.p2p_port))
            .args([
                "-listen=0",
                "-connect=0",
                "-dnsseed=0",
                "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1",
                "-printtoconsole=0",
                "-server=1",
            ])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bitcoind");
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.as_mut().unwrap().stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                self.child = None;
                return Err(format!(
                    "bitcoind exited at start ({status}): {err}{}",
                    self.log_tail()
                ));
            }
            if self.cookie().exists() {
                let network = if self.chain == "signet" {
                    Network::Signet
                } else {
                    Network::Regtest
                };
                let answer = BitcoindChain::connect(BitcoindConfig::new(
                    self.url(),
                    RpcAuth::Cookie(self.cookie()),
                    network,
                ));
                // Answering at all is ready; IBD is what a peerless signet says.
                if matches!(answer, Ok(_) | Err(ChainError::InitialBlockDownload { .. })) {
                    return Ok(());
                }
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "bitcoind did not answer within {START_TIMEOUT:?}{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = self.datadir.path().join(self.chain).join("debug.log");
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        format!(
            "\n--- debug.log ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// Run `bitcoin-cli` against it.
    /// `bitcoin-cli`, its error text on failure (a refusal the test reports).
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(self.bin.join("bitcoin-cli"))
            .arg(format!("-{}", self.chain))
            .arg(format!("-datadir={}", self.datadir.path().display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg("-rpcclienttimeout=60")
            .args(args)
            .output()
            .expect("run bitcoin-cli");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|e| panic!("bitcoin-cli {args:?}: {e}"))
    }

    /// A transaction as bitcoind decodes it (`getrawtransaction` verbose:
    /// the mempool, or any block with `-txindex`).
    pub fn rawtx(&self, txid: &str) -> serde_json::Value {
        serde_json::from_str(&self.cli(&["getrawtransaction", txid, "1"])).unwrap()
    }

    /// What `txid` pays in fees: its inputs' previous outputs, as bitcoind
    /// knows them, less its outputs (the chain's figure, not a node's).
    pub fn fee_sat(&self, txid: &str) -> u64 {
        let tx = self.rawtx(txid);
        let sat = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e8).round() as u64;
        let inputs: u64 = tx["vin"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let prev = self.rawtx(i["txid"].as_str().unwrap());
                sat(&prev["vout"][i["vout"].as_u64().unwrap() as usize]["value"])
            })
            .sum();
        let outputs: u64 = tx["vout"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| sat(&o["value"]))
            .sum();
        inputs - outputs
    }

    /// Its feerate in sat per 1000 weight units (BOLT 3's unit).
    pub fn feerate_perkw(&self, txid: &str) -> f64 {
        let weight = self.rawtx(txid)["weight"].as_u64().unwrap();
        self.fee_sat(txid) as f64 * 1000.0 / weight as f64
    }

    /// The transaction that spends `txid:vout`, in the mempool or in one of
    /// the last `depth` blocks.
    pub fn spender(&self, txid: &str, vout: u64, depth: u32) -> Option<String> {
        let spends = |tx: &serde_json::Value| {
            tx["vin"].as_array().is_some_and(|ins| {
                ins.iter()
                    .any(|i| i["txid"] == txid && i["vout"].as_u64() == Some(vout))
            })
        };
        let pool: Vec<String> = serde_json::from_str(&self.cli(&["getrawmempool"])).unwrap();
        for t in pool {
            if spends(&self.rawtx(&t)) {
                return Some(t);
            }
        }
        let tip: u32 = self.cli(&["getblockcount"]).parse().unwrap();
        for h in (tip.saturating_sub(depth)..=tip).rev() {
            let hash = self.cli(&["getblockhash", &h.to_string()]);
            let block: serde_json::Value =
                serde_json::from_str(&self.cli(&["getblock", &hash, "2"])).unwrap();
            if let Some(tx) = block["tx"].as_array().unwrap().iter().find(|t| spends(t)) {
                return Some(tx["txid"].as_str().unwrap().to_string());
            }
        }
        None
    }

    /// Stop it cleanly (`bitcoin-cli stop`), killing it if it takes too long.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new(self.bin.join("bitcoin-cli"))
            .arg(format!("-{}", self.chain))
            .arg(format!("-datadir={}", self.datadir.path().display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stop and start again on the same datadir and ports.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Bitcoind {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
