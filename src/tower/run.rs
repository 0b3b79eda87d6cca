//! `lnkit tower run`: the tower as a process — its store in a directory, its
//! HTTP API on a socket, and a thread that follows the chain, hands every
//! block to the tower and broadcasts the penalties it gives.
//!
//! The tower stores what a block did before it broadcasts anything, and
//! remembers the last block it processed: after a restart, or a while
//! offline, the chain follower starts from that block and catches up on
//! every block it missed (across a reorg too), so a breach mined meanwhile is
//! still found.

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::block::Header;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::Block;
use tokio::net::TcpListener;

use super::http::{serve, Limits};
use super::service::{Config, Tower};
use super::store::StoreError;
use crate::chain::{ChainError, ChainListener, Follower};

pub use crate::chain::SharedChain;

/// How a tower runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Its directory: `tower.sqlite`, `lock`.
    pub datadir: PathBuf,
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// What it offers and allows.
    pub config: Config,
    /// What the HTTP layer refuses.
    pub limits: Limits,
    /// How often it asks the chain for new blocks.
    pub poll_interval: Duration,
}

/// Why a tower stopped, or did not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The directory cannot be used.
    #[error("--datadir: {0}: {1}")]
    Datadir(PathBuf, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chain failed at start.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The API's socket.
    #[error("--listen: {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// A running tower.
pub struct TowerHandle {
    /// Where its API listens.
    pub addr: SocketAddr,
    /// Its public key.
    pub id: PublicKey,
    /// The tower, shared with the API and the chain thread.
    pub tower: Arc<Mutex<Tower>>,
    stop: Arc<AtomicBool>,
    chain_thread: Option<std::thread::JoinHandle<Result<(), StoreError>>>,
    server: tokio::task::JoinHandle<()>,
    _lock: File,
}

/// A tower dropped without `stop` (a test that failed, say) still stops:
/// its API closes and its chain thread ends at its next poll.
impl Drop for TowerHandle {
    fn drop(&mut self) {
        self.server.abort();
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl TowerHandle {
    /// Stop the API and the chain thread; the chain thread's store error, if it died of one.
    pub fn stop(mut self) -> Result<(), StoreError> {
        self.server.abort();
        self.stop.store(true, Ordering::SeqCst);
        match self.chain_thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            _ => Ok(()),
        }
    }

    /// Whether the chain thread has ended (it only ends on a stop or a store failure).
    pub fn chain_stopped(&self) -> bool {
        self.chain_thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

/// Hands the follower's events to the tower and broadcasts what it gives.
struct Listener<'a> {
    tower: &'a Mutex<Tower>,
    chain: &'a SharedChain,
    failed: Option<StoreError>,
}

impl Listener<'_> {
    fn broadcast(&self, penalties: &[bitcoin::Transaction]) {
        for p in penalties {
            match self.chain.broadcast(p) {
                Ok(txid) => tracing::info!(%txid, "penalty broadcast"),
                // Already in the mempool or the chain, or its breach is not
                // mined yet after a reorg: it goes again with the next block.
                Err(e) => tracing::info!(txid = %p.compute_txid(), "penalty not accepted now: {e}"),
            }
        }
    }
}

impl ChainListener for Listener<'_> {
    fn block_connected(&mut self, block: &Block, height: u32) {
        if self.failed.is_some() {
            return;
        }
        let outcome = self
            .tower
            .lock()
            .expect("the tower never panics while locked")
            .block_connected(block, height);
        match outcome {
            Ok(o) => {
                for (locator, why) in &o.refused {
                    tracing::warn!(%locator, "appointment matched a transaction but is dropped: {why}");
                }
                self.broadcast(&o.broadcast);
            }
            Err(e) => self.failed = Some(e),
        }
    }

    fn block_disconnected(&mut self, header: &Header, height: u32) {
        if self.failed.is_some() {
            return;
        }
        let r = self
            .tower
            .lock()
            .expect("the tower never panics while locked")
            .block_disconnected(header.prev_blockhash, height);
        if let Err(e) = r {
            self.failed = Some(e);
        }
    }
}

fn follow(
    tower: Arc<Mutex<Tower>>,
    chain: SharedChain,
    stop: Arc<AtomicBool>,
    poll: Duration,
) -> Result<(), StoreError> {
    let start = tower
        .lock()
        .expect("the tower never panics while locked")
        .tip();
    let mut follower = Follower::new(start);
    let mut listener = Listener {
        tower: &tower,
        chain: &chain,
        failed: None,
    };
    // Penalties broadcast before a restart and not yet confirmed go again.
    let pending = tower
        .lock()
        .expect("the tower never panics while locked")
        .unconfirmed_penalties()?;
    listener.broadcast(&pending);
    while !stop.load(Ordering::SeqCst) {
        if let Err(e) = follower.poll(&*chain, &mut listener) {
            tracing::warn!("chain: {e}; trying again");
        }
        if let Some(e) = listener.failed.take() {
            tracing::error!("the tower's store failed; it stops following the chain: {e}");
            return Err(e);
        }
        let mut slept = Duration::ZERO;
        while slept < poll && !stop.load(Ordering::SeqCst) {
            let step = Duration::from_millis(50).min(poll - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
    Ok(())
}

/// Start a tower: open (or create) its store, bind its API, follow the chain.
/// A new tower starts watching at the chain's tip.
pub async fn start(opts: RunOptions, chain: SharedChain) -> Result<TowerHandle, RunError> {
    let dir = &opts.datadir;
    let bad = |e: std::io::Error| RunError::Datadir(dir.clone(), e.to_string());
    std::fs::create_dir_all(dir).map_err(bad)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(bad)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(RunError::Datadir(
                dir.clone(),
                "another tower runs on it".into(),
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(bad(e)),
    }
    let tip = chain.best_block()?;
    let tower = Tower::open(
        &dir.join("tower.sqlite"),
        opts.config.clone(),
        || tip,
        || SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng()),
    )?;
    let id = tower.id();
    tracing::info!(tower_id = %id, tip = %tower.tip(), "tower started");
    let tower = Arc::new(Mutex::new(tower));
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| RunError::Listen(opts.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| RunError::Listen(opts.listen, e))?;
    let server = tokio::spawn(serve(listener, tower.clone(), opts.limits.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let chain_thread = {
        let (tower, stop, poll) = (tower.clone(), stop.clone(), opts.poll_interval);
        std::thread::Builder::new()
            .name("tower-chain".into())
            .spawn(move || follow(tower, chain, stop, poll))
            .map_err(bad)?
    };
    Ok(TowerHandle {
        addr,
        id,
        tower,
        stop,
        chain_thread: Some(chain_thread),
        server,
        _lock: lock,
    })
}
