//! A node's data directory: its seed, its config file, its lock, its stores
//! and its control socket.
//!
//! ```text
//! DIR/seed            the BIP 39 mnemonic, mode 0600
//! DIR/config          `key=value` lines, the same options as `lnkit node run`
//! DIR/lock            held while a node runs on DIR
//! DIR/lnkit.sqlite    channels, invoices, payments, the chain tip (WAL)
//! DIR/wallet.sqlite   the BDK wallet
//! DIR/lnkit-rpc       the JSON-RPC socket, mode 0600
//! DIR/log             the log
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bitcoin::Network;

/// A data directory.
#[derive(Clone, Debug)]
pub struct Datadir(pub PathBuf);

/// What can go wrong with a data directory.
#[derive(Debug, thiserror::Error)]
pub enum DatadirError {
    /// `init` on a directory that has a seed.
    #[error("{0} already holds a node (its seed exists); use another --datadir")]
    Exists(PathBuf),
    /// `run` on a directory without a seed.
    #[error("{0} holds no node: run `lnkit node init --datadir {0}` first")]
    NoSeed(PathBuf),
    /// Another node holds the lock.
    #[error("{0} is locked: another lnkit node is running on this datadir")]
    Locked(PathBuf),
    /// A bad mnemonic.
    #[error("mnemonic: {0}")]
    Mnemonic(String),
    /// A bad config line.
    #[error("{file}:{line}: {message}")]
    Config {
        /// The file.
        file: PathBuf,
        /// Its line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// I/O.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatadirError + '_ {
    move |error| DatadirError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The lock: held for as long as the value lives.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

impl Datadir {
    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The seed file.
    pub fn seed_path(&self) -> PathBuf {
        self.path("seed")
    }

    /// The control socket.
    pub fn socket_path(&self) -> PathBuf {
        self.path("lnkit-rpc")
    }

    /// Create the directory and its seed (mode 0600): the mnemonic given, or
    /// a new 24-word one from `entropy`. Returns the mnemonic.
    pub fn init(
        &self,
        network: Network,
        mnemonic: Option<&str>,
        entropy: [u8; 32],
    ) -> Result<bip39::Mnemonic, DatadirError> {
        let seed = self.seed_path();
        if seed.exists() {
            return Err(DatadirError::Exists(self.0.clone()));
        }
        fs::create_dir_all(&self.0).map_err(io(&self.0))?;
        let m = match mnemonic {
            Some(words) => bip39::Mnemonic::parse_normalized(words.trim())
                .map_err(|e| DatadirError::Mnemonic(e.to_string()))?,
            None => {
                bip39::Mnemonic::from_entropy(&entropy).expect("32 bytes is valid BIP 39 entropy")
            }
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&seed)
            .map_err(io(&seed))?;
        writeln!(f, "{m}").map_err(io(&seed))?;
        f.sync_all().map_err(io(&seed))?;
        let config = self.path("config");
        if !config.exists() {
            fs::write(&config, format!("network={}\n", network_name(network)))
                .map_err(io(&config))?;
        }
        Ok(m)
    }

    /// The BIP 39 seed (64 bytes, empty passphrase).
    pub fn seed(&self) -> Result<[u8; 64], DatadirError> {
        let path = self.seed_path();
        let words = fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DatadirError::NoSeed(self.0.clone()),
            _ => DatadirError::Io {
                path: path.clone(),
                error: e,
            },
        })?;
        let m = bip39::Mnemonic::parse_normalized(words.trim())
            .map_err(|e| DatadirError::Mnemonic(e.to_string()))?;
        let mode = fs::metadata(&path).map_err(io(&path))?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(io(&path))?;
        }
        Ok(m.to_seed(""))
    }

    /// Take the lock, or say that another node holds it.
    pub fn lock(&self) -> Result<Lock, DatadirError> {
        let path = self.path("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match f.try_lock() {
            Ok(()) => Ok(Lock(f)),
            Err(std::fs::TryLockError::WouldBlock) => Err(DatadirError::Locked(self.0.clone())),
            Err(std::fs::TryLockError::Error(e)) => Err(DatadirError::Io { path, error: e }),
        }
    }

    /// The config file's options, as `(key, value)` in order (absent file: none).
    pub fn config(&self) -> Result<Vec<(String, String)>, DatadirError> {
        let file = self.path("config");
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(error) => return Err(DatadirError::Io { path: file, error }),
        };
        let mut out = vec![];
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            let k = k.trim().trim_start_matches("--");
            if !CONFIG_KEYS.contains(&k) {
                return Err(DatadirError::Config {
                    file,
                    line: i + 1,
                    message: format!("unknown option `{k}` (known: {})", CONFIG_KEYS.join(", ")),
                });
            }
            out.push((k.to_string(), v.trim().to_string()));
        }
        Ok(out)
    }
}

/// The options a config file may set: those of `lnkit node run`.
pub const CONFIG_KEYS: &[&str] = &[
    "network",
    "listen",
    "bitcoind",
    "rpc-cookie",
    "rpc-user",
    "rpc-password",
    "chain-dir",
    "fallback-feerate-per-kw",
    "alias",
    "log-level",
    "commit-time",
    "announce-addr",
    "rgb",
];

/// The network's name in lnkit's options.
pub fn network_name(n: Network) -> &'static str {
    match n {
        Network::Bitcoin => "bitcoin",
        Network::Testnet => "testnet",
        Network::Signet => "signet",
        _ => "regtest",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_private_seed_and_refuses_twice() {
        let dir = tempfile::tempdir().unwrap();
        let d = Datadir(dir.path().join("n"));
        let m = d.init(Network::Regtest, None, [3; 32]).unwrap();
        assert_eq!(m.word_count(), 24);
        let mode = fs::metadata(d.seed_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            d.init(Network::Regtest, None, [3; 32]),
            Err(DatadirError::Exists(_))
        ));
        assert_eq!(d.seed().unwrap(), m.to_seed(""));
        let _held = d.lock().unwrap();
        assert!(matches!(d.lock(), Err(DatadirError::Locked(_))));
        assert_eq!(
            d.config().unwrap(),
            vec![("network".into(), "regtest".into())]
        );
    }

    #[test]
    fn a_mnemonic_restores_the_same_seed_and_a_bad_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Datadir(dir.path().join("a"));
        let m = a.init(Network::Regtest, None, [5; 32]).unwrap();
        let b = Datadir(dir.path().join("b"));
        b.init(Network::Regtest, Some(&m.to_string()), [0; 32])
            .unwrap();
        assert_eq!(a.seed().unwrap(), b.seed().unwrap());
        let c = Datadir(dir.path().join("c"));
        let err = c
            .init(Network::Regtest, Some("abandon abandon"), [0; 32])
            .unwrap_err();
        assert!(err.to_string().starts_with("mnemonic: "), "{err}");
    }
}
