//! `lnkit node run` as a real process, for the node tests: started on a
//! datadir and a bitcoind, called over its control socket, killed by a guard.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::bitcoind::Bitcoind;
use super::schema::assert_valid;

/// A node process. Dropping it kills it (`kill -9`).
pub struct NodeProc {
    pub datadir: PathBuf,
    pub port: u16,
    pub node_id: String,
    args: Vec<String>,
    child: Option<Child>,
}

/// A process's resident memory in KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl NodeProc {
    /// `lnkit node init` in `dir/name`, then `run` on `btc`.
    pub fn start(dir: &Path, name: &str, btc: &Bitcoind) -> NodeProc {
        Self::start_with(dir, name, btc, &[])
    }

    /// `start`, with extra flags for `run`.
    pub fn start_with(dir: &Path, name: &str, btc: &Bitcoind, extra: &[&str]) -> NodeProc {
        let datadir = dir.join(name);
        let init = super::lnkit(
            &["node", "init", "--datadir", datadir.to_str().unwrap()],
            "",
        );
        let node_id = init.json()["node_id"].as_str().unwrap().to_string();
        Self::run(datadir, node_id, btc, extra)
    }

    /// Run again on an existing datadir (after the last process was dropped), with extra flags.
    pub fn restart_with(dir: &Path, name: &str, btc: &Bitcoind, extra: &[&str]) -> NodeProc {
        let datadir = dir.join(name);
        let seed = std::fs::read_to_string(datadir.join("seed")).unwrap();
        let m = bip39::Mnemonic::parse_normalized(seed.trim()).unwrap();
        let node_id = lnkit::signer::NodeSeed::new(&m.to_seed(""), bitcoin::Network::Regtest)
            .node_id()
            .to_string();
        Self::run(datadir, node_id, btc, extra)
    }

    fn run(datadir: PathBuf, node_id: String, btc: &Bitcoind, extra: &[&str]) -> NodeProc {
        let port = free_port();
        let args = vec![
            "node".into(),
            "run".into(),
            "--datadir".into(),
            datadir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--bitcoind".into(),
            btc.url(),
            "--rpc-cookie".into(),
            btc.cookie().display().to_string(),
        ];
        // Gossip's debug lines too (what was ignored, and why): a wait on
        // gossip that fails then says where it was lost. A test may set its own.
        let log = std::env::var("LNKIT_LOG")
            .unwrap_or_else(|_| "info,lnkit::node::core::gossip=debug".into());
        let args: Vec<String> = if extra.contains(&"--log-level") {
            args
        } else {
            args.into_iter()
                .chain(["--log-level".to_string(), log])
                .collect()
        };
        let args: Vec<String> = args
            .into_iter()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect();
        let mut n = NodeProc {
            datadir,
            port,
            node_id,
            args,
            child: None,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.datadir.join("stderr.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_lnkit"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn lnkit node run");
        self.child = Some(child);
        // Bounded wait for the control socket to answer.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.try_call("getinfo", json!({})).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the node exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the node did not answer in 30 s: {}", self.log());
    }

    /// The node's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.datadir.join("stderr.log")).unwrap_or_default()
    }

    /// The process's resident memory now, in KiB (`VmRSS`), if it runs.
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        rss_kib(pid)
    }

    /// Its process id, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `kill -9`, then start again on the same datadir.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `host:port@id` for `connect`.
    pub fn address(&self) -> String {
        format!("{}@127.0.0.1:{}", self.node_id, self.port)
    }

    /// One JSON-RPC call over the socket.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, Value> {
        let mut s = UnixStream::connect(self.datadir.join("lnkit-rpc"))
            .map_err(|e| json!({"message": e.to_string()}))?;
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut line = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .unwrap();
        line.push(b'\n');
        s.write_all(&line)
            .map_err(|e| json!({"message": e.to_string()}))?;
        let mut answer = String::new();
        BufReader::new(s)
            .read_line(&mut answer)
            .map_err(|e| json!({"message": e.to_string()}))?;
        let v: Value =
            serde_json::from_str(&answer).map_err(|e| json!({"message": e.to_string()}))?;
        match v.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(v["result"].clone()),
        }
    }

    /// Send a request and do not wait for its answer (the connection is dropped).
    pub fn try_call_nowait(&self, method: &str, params: Value) -> std::io::Result<()> {
        let mut s = UnixStream::connect(self.datadir.join("lnkit-rpc"))?;
        let mut line = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .unwrap();
        line.push(b'\n');
        s.write_all(&line)
    }

    /// A call that must succeed; its answer is checked against the method's schema.
    pub fn call(&self, method: &str, params: Value) -> Value {
        let v = self
            .try_call(method, params.clone())
            .unwrap_or_else(|e| panic!("{method} {params}: {e}\n{}", self.log()));
        assert_valid(method, &v);
        v
    }

    /// Poll `method` until `f` holds (at most `secs` seconds).
    pub fn until(&self, method: &str, secs: u64, f: impl Fn(&Value) -> bool) -> Value {
        self.until_with(method, secs, f, &[])
    }

    /// [`Self::until`], and on failure the logs of `others` too (what a
    /// node lacks often went wrong at another).
    pub fn until_with(
        &self,
        method: &str,
        secs: u64,
        f: impl Fn(&Value) -> bool,
        others: &[&NodeProc],
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.call(method, json!({}));
            if f(&v) {
                return v;
            }
            if Instant::now() > deadline {
                let theirs: Vec<String> = others
                    .iter()
                    .map(|o| format!("--- the log of {}:\n{}", o.node_id, o.log()))
                    .collect();
                panic!(
                    "{method} never satisfied the condition in {secs} s: {v}\n--- the log of {}:\n{}{}",
                    self.node_id,
                    self.log(),
                    theirs.join("")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A call on a node's socket from another thread: the whole JSON-RPC answer.
pub struct SocketCall(pub PathBuf);

impl SocketCall {
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let mut s = UnixStream::connect(self.0.join("lnkit-rpc")).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        let mut line = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .unwrap();
        line.push(b'\n');
        s.write_all(&line).map_err(|e| e.to_string())?;
        let mut answer = String::new();
        BufReader::new(s)
            .read_line(&mut answer)
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&answer).map_err(|e| e.to_string())
    }
}
