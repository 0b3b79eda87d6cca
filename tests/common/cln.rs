//! Core Lightning (v26.06.6) as a live counterparty, as [`super::bitcoind`]
//! is the chain: built once by `../shared/cln/build.sh` (into the cache,
//! under a file lock; `.ci/run` starts it in the background once the test binaries are built), or taken
//! from `LNKIT_CLN_BIN` (a directory holding `lightningd`). Each test starts
//! its own `lightningd` on 127.0.0.1 with a free port and a short temporary
//! directory (a unix socket path is limited to about 100 bytes), and the
//! [`Cln`] guard kills it and its subdaemons (it leads a process group)
//! when dropped, so also when a test fails.
//!
//! A machine without `../shared` (a user's clone) and without
//! `LNKIT_CLN_BIN` skips these tests with one printed line;
//! `LNKIT_REQUIRE_CLN=1` (set by `.ci/run`) turns that skip into a failure.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::bitcoind::{self, Bitcoind};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How long the build may take (about 2 minutes on 2 idle cores; longer
/// beside cargo) or be waited for.
const BUILD_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// Where `lightningd` is, or why these tests cannot run here.
fn find() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("LNKIT_CLN_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("lightningd").is_file() {
            Ok(dir)
        } else {
            Err(format!("LNKIT_CLN_BIN={} has no lightningd", dir.display()))
        };
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cln/build.sh");
    if !script.is_file() {
        return Err(format!(
            "no {} (the project's shared folder) and no LNKIT_CLN_BIN",
            script.display()
        ));
    }
    let out = Command::new("timeout")
        .arg(BUILD_TIMEOUT.as_secs().to_string())
        .arg("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: cannot run: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", script.display(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = PathBuf::from(text.lines().last().unwrap_or_default().trim());
    if dir.join("lightningd").is_file() {
        Ok(dir)
    } else {
        Err(format!("{} printed no bin dir", script.display()))
    }
}

/// The bin dir of Core Lightning, or `None` after printing why the calling
/// test is skipped. Under `LNKIT_REQUIRE_CLN=1` a missing CLN fails the test.
pub fn binaries(test: &str) -> Option<PathBuf> {
    match find() {
        Ok(dir) => Some(dir),
        Err(why) if std::env::var("LNKIT_REQUIRE_CLN").is_ok_and(|v| v == "1") => {
            panic!("{test}: Core Lightning is required (LNKIT_REQUIRE_CLN=1): {why}")
        }
        Err(why) => {
            eprintln!("{test}: skipped, Core Lightning is not here: {why}");
            None
        }
    }
}

/// A running `lightningd` on regtest; dropping it kills its process group.
pub struct Cln {
    bin: PathBuf,
    /// Its lightning-dir (short, under /tmp).
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub id: String,
    args: Vec<String>,
    child: Option<Child>,
}

impl Cln {
    /// Start `lightningd` named `alias` on `btc`, with extra options.
    pub fn start(bin: &Path, btc: &Bitcoind, alias: &str, extra: &[&str]) -> Cln {
        let dir = tempfile::Builder::new()
            .prefix("cln")
            .tempdir_in("/tmp")
            .unwrap();
        let cookie = std::fs::read_to_string(btc.cookie()).unwrap();
        let (user, pass) = cookie.trim().split_once(':').unwrap();
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--network=regtest".into(),
            format!("--lightning-dir={}", dir.path().display()),
            format!("--bind-addr=127.0.0.1:{port}"),
            format!("--alias={alias}"),
            format!(
                "--bitcoin-cli={}",
                bitcoind::binaries().join("bitcoin-cli").display()
            ),
            format!("--bitcoin-datadir={}", btc.datadir.path().display()),
            "--bitcoin-rpcconnect=127.0.0.1".into(),
            format!("--bitcoin-rpcport={}", btc.rpc_port),
            format!("--bitcoin-rpcuser={user}"),
            format!("--bitcoin-rpcpassword={pass}"),
            format!("--log-file={}", dir.path().join("log").display()),
            "--log-level=debug".into(),
            "--developer".into(),
            "--dev-bitcoind-poll=1".into(),
            "--dev-fast-gossip".into(),
            "--dev-allow-localhost".into(),
            "--dev-fast-reconnect".into(),
            // The deprecated `keysend` is still what most users call.
            "--allow-deprecated-apis=true".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut c = Cln {
            bin: bin.to_path_buf(),
            dir,
            port,
            id: String::new(),
            args,
            child: None,
        };
        c.spawn();
        c.id = c.call("getinfo", json!({}))["id"]
            .as_str()
            .unwrap()
            .to_string();
        c
    }

    fn spawn(&mut self) {
        let child = Command::new(self.bin.join("lightningd"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the guard kills the subdaemons with it.
            .process_group(0)
            .spawn()
            .expect("start lightningd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.try_call("getinfo", json!({})).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("lightningd exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "lightningd did not answer in 60 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last 80 lines of its log.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(80)..];
        format!("\n--- CLN log (tail) ---\n{}", tail.join("\n"))
    }

    /// The whole log (to search it).
    pub fn full_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// `host:port@id`... as lnkit's `connect` takes it.
    pub fn address(&self) -> String {
        format!("{}@127.0.0.1:{}", self.id, self.port)
    }

    /// One JSON-RPC 2.0 call over its unix socket.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, Value> {
        call_socket(&self.socket(), method, params)
    }

    /// Its RPC socket (for a call from another thread: a `pay` or `close` that blocks).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("regtest/lightning-rpc")
    }

    /// A call that must succeed.
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .unwrap_or_else(|e| panic!("CLN {method} {params}: {e}{}", self.log()))
    }

    /// Poll `method` until `f` holds (at most `secs` seconds).
    pub fn until(
        &self,
        method: &str,
        params: Value,
        secs: u64,
        f: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.call(method, params.clone());
            if f(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "CLN {method} never satisfied the condition in {secs} s: {v}{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its wallet's confirmed outputs, in sat.
    pub fn confirmed_sat(&self) -> u64 {
        self.call("listfunds", json!({}))["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "confirmed")
            .map(|o| o["amount_msat"].as_u64().unwrap() / 1000)
            .sum()
    }

    /// `stop`, then start again on the same directory and port.
    pub fn restart(&mut self) {
        let _ = self.try_call("stop", json!({}));
        let deadline = Instant::now() + Duration::from_secs(30);
        if let Some(mut child) = self.child.take() {
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            kill_group(&mut child);
        }
        self.spawn();
    }
}

/// One JSON-RPC 2.0 call to the socket at `path`.
pub fn call_socket(path: &Path, method: &str, params: Value) -> Result<Value, Value> {
    let s = UnixStream::connect(path).map_err(|e| json!({"message": e.to_string()}))?;
    s.set_read_timeout(Some(Duration::from_secs(180))).unwrap();
    let mut line =
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .unwrap();
    line.push(b'\n');
    (&s).write_all(&line)
        .map_err(|e| json!({"message": e.to_string()}))?;
    // Answers are one JSON object, not always on one line: read until it parses.
    let mut reader = BufReader::new(s);
    let mut text = String::new();
    loop {
        let n = reader
            .read_line(&mut text)
            .map_err(|e| json!({"message": e.to_string()}))?;
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            return match v.get("error") {
                Some(e) => Err(e.clone()),
                None => Ok(v["result"].clone()),
            };
        }
        if n == 0 {
            return Err(json!({"message": format!("no answer: {text}")}));
        }
    }
}

fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Cln {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}
