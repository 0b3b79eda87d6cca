//! A real bitcoind for the tests.
//!
//! Built once from the Bitcoin Core source that the `libbitcoinkernel-sys`
//! crate vendors (found with `cargo metadata`), with cmake, and cached outside
//! the repository under `~/.cache/lnkit/bitcoind-<crate version>/`, behind a
//! file lock so that concurrent test binaries build it once. Each test starts
//! its own on 127.0.0.1 with free ports and a temporary datadir; the
//! [`Bitcoind`] guard stops it when dropped, so also when a test fails.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::Network;
use lnkit::chain::bitcoind::{BitcoindChain, BitcoindConfig, RpcAuth};
use lnkit::chain::ChainError;

/// The crate whose vendored source we build.
const SOURCE_CRATE: &str = "libbitcoinkernel-sys";
/// How long a build may take (about 5 minutes on 2 cores) or be waited for.
const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// How long bitcoind may take to answer its first RPC, or to stop.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// cmake flags: the daemon and the CLI, nothing else (no wallet, IPC, ZMQ,
/// tests, bench, GUI). The crate leaves out `src/node/data/ip_asn.dat`, so no
/// embedded ASMap.
const CMAKE_FLAGS: &[&str] = &[
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_DAEMON=ON",
    "-DBUILD_CLI=ON",
    "-DENABLE_WALLET=OFF",
    "-DENABLE_IPC=OFF",
    "-DWITH_ZMQ=OFF",
    "-DBUILD_TESTS=OFF",
    "-DBUILD_BENCH=OFF",
    "-DBUILD_GUI=OFF",
    "-DBUILD_KERNEL_LIB=OFF",
    "-DBUILD_TX=OFF",
    "-DBUILD_UTIL=OFF",
    "-DBUILD_WALLET_TOOL=OFF",
    "-DBUILD_BITCOIN_BIN=OFF",
    "-DBUILD_FUZZ_BINARY=OFF",
    "-DENABLE_EXTERNAL_SIGNER=OFF",
    "-DWITH_EMBEDDED_ASMAP=OFF",
];

fn cache_root() -> PathBuf {
    if let Ok(dir) = std::env::var("LNKIT_CACHE") {
        return PathBuf::from(dir);
    }
    if let Ok(dir) = std::env::var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("lnkit");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    PathBuf::from(home).join(".cache").join("lnkit")
}

/// The vendored source: `(crate version, path of its bitcoin/ folder)`.
fn vendored_source() -> (String, PathBuf) {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let pkg = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == SOURCE_CRATE)
        .unwrap_or_else(|| panic!("{SOURCE_CRATE} is not in cargo metadata"));
    let manifest = PathBuf::from(pkg["manifest_path"].as_str().expect("manifest_path"));
    let version = pkg["version"].as_str().expect("version").to_string();
    (version, manifest.parent().unwrap().join("bitcoin"))
}

/// Take `path`'s exclusive lock, waiting at most [`BUILD_TIMEOUT`].
fn lock_file(path: &Path) -> File {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return f,
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < BUILD_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(500))
            }
            Err(e) => panic!("lock {}: {e}", path.display()),
        }
    }
}

fn run_logged(cmd: &mut Command, log: &Path, what: &str) {
    let file = File::create(log).unwrap();
    let status = cmd
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e} (is cmake installed?)"));
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        panic!(
            "{what} failed ({status}); last lines of {}:\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

/// The directory holding `bitcoind` and `bitcoin-cli`, building them first if
/// the cache does not have them yet.
pub fn binaries() -> PathBuf {
    let (version, source) = vendored_source();
    let root = cache_root();
    std::fs::create_dir_all(&root).unwrap();
    let key = format!("bitcoind-{SOURCE_CRATE}-{version}");
    let bin = root.join(&key).join("bin");
    if bin.join("bitcoind").exists() && bin.join("bitcoin-cli").exists() {
        return bin;
    }
    let _lock = lock_file(&root.join(format!("{key}.lock")));
    if bin.join("bitcoind").exists() && bin.join("bitcoin-cli").exists() {
        return bin; // another process built it while we waited
    }
    let build = root.join(format!("{key}-build"));
    std::fs::create_dir_all(&build).unwrap();
    eprintln!(
        "building bitcoind from {} into {} (once; about 5 minutes on 2 cores)",
        source.display(),
        root.join(&key).display()
    );
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(&source)
        .arg("-B")
        .arg(&build)
        .args(CMAKE_FLAGS);
    run_logged(
        &mut configure,
        &root.join(format!("{key}-configure.log")),
        "cmake configure",
    );
    let mut compile = Command::new("cmake");
    compile
        .arg("--build")
        .arg(&build)
        .args(["--target", "bitcoind", "bitcoin-cli", "-j"])
        .arg(jobs.to_string());
    run_logged(
        &mut compile,
        &root.join(format!("{key}-build.log")),
        "cmake --build",
    );
    // Install by renaming a complete folder, so a half-copied one is never taken.
    let staging = root.join(format!("{key}-staging"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("bin")).unwrap();
    for name in ["bitcoind", "bitcoin-cli"] {
        std::fs::copy(build.join("bin").join(name), staging.join("bin").join(name))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    let _ = std::fs::remove_dir_all(root.join(&key));
    std::fs::rename(&staging, root.join(&key)).unwrap();
    let _ = std::fs::remove_dir_all(&build);
    bin
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
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(self.bin.join("bitcoin-cli"))
            .arg(format!("-{}", self.chain))
            .arg(format!("-datadir={}", self.datadir.path().display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg("-rpcclienttimeout=60")
            .args(args)
            .output()
            .expect("run bitcoin-cli");
        assert!(
            out.status.success(),
            "bitcoin-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
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
