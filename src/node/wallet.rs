//! The on-chain wallet: BDK, with its SQLite store in the datadir, on BIP 84
//! (and BIP 86) descriptors from the node's seed, fed blocks by the chain
//! follower. BDK selects coins and makes change; we only say what to pay.

use std::path::Path;

use bdk_wallet::chain::BlockId;
use bdk_wallet::rusqlite::Connection;
use bdk_wallet::{KeychainKind, PersistedWallet, SignOptions, Wallet as Bdk};
use bitcoin::{Address, Amount, Block, FeeRate, Network, OutPoint, ScriptBuf, Transaction};

use crate::signer::NodeSeed;

/// The wallet: a BIP 84 wallet and a BIP 86 one, each a BDK wallet with its own store.
pub struct Wallet {
    /// `[bip84, bip86]`.
    wallets: Vec<(PersistedWallet<Connection>, Connection)>,
    /// Coins spent by our unconfirmed on-chain claims: no other transaction may take them.
    reserved: Vec<OutPoint>,
}

/// An output we sign ourselves (a channel's anchor or HTLC output), to be
/// spent with wallet coins that pay the fee.
#[derive(Clone, Debug)]
pub struct ForeignInput {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value and script.
    pub txout: bitcoin::TxOut,
    /// The weight of its witness, serialized (with maximum-size signatures).
    pub satisfaction_weight: bitcoin::Weight,
    /// Its nSequence.
    pub sequence: bitcoin::Sequence,
}

/// How a transaction with a foreign input pays its fee.
#[derive(Clone, Copy, Debug)]
pub enum FeeTarget {
    /// At this rate.
    Rate(FeeRate),
    /// This much (a CPFP child paying for its parent too).
    Absolute(Amount),
}

/// A wallet failure.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// Not enough confirmed funds.
    #[error("the wallet has {available} sat available, {needed} sat are needed (with fees)")]
    Insufficient {
        /// What is there.
        available: u64,
        /// What was asked for, fees included.
        needed: u64,
    },
    /// BDK refused.
    #[error("wallet: {0}")]
    Bdk(String),
}

fn bdk<E: std::fmt::Display>(e: E) -> WalletError {
    WalletError::Bdk(e.to_string())
}

/// One of the wallet's outputs.
#[derive(Clone, Debug)]
pub struct WalletOutput {
    /// Where.
    pub outpoint: OutPoint,
    /// How much.
    pub amount: Amount,
    /// Its script.
    pub script_pubkey: ScriptBuf,
    /// Its confirmation height.
    pub height: Option<u32>,
}

fn open_one(
    path: &Path,
    seed: &NodeSeed,
    taproot: bool,
) -> Result<(PersistedWallet<Connection>, Connection), WalletError> {
    let (ext, int) = seed.wallet_descriptors(taproot);
    let network = seed.network();
    let mut conn = Connection::open(path).map_err(bdk)?;
    let loaded = Bdk::load()
        .descriptor(KeychainKind::External, Some(ext.clone()))
        .descriptor(KeychainKind::Internal, Some(int.clone()))
        .extract_keys()
        .check_network(network)
        .load_wallet(&mut conn)
        .map_err(bdk)?;
    let w = match loaded {
        Some(w) => w,
        None => Bdk::create(ext, int)
            .network(network)
            .create_wallet(&mut conn)
            .map_err(bdk)?,
    };
    Ok((w, conn))
}

impl Wallet {
    /// Open or create the wallet at `path` (and its BIP 86 twin beside it).
    pub fn open(path: &Path, seed: &NodeSeed) -> Result<Self, WalletError> {
        let tr_path = path.with_extension("taproot.sqlite");
        Ok(Wallet {
            wallets: vec![
                open_one(path, seed, false)?,
                open_one(&tr_path, seed, true)?,
            ],
            reserved: vec![],
        })
    }

    fn persist(&mut self) -> Result<(), WalletError> {
        for (w, c) in &mut self.wallets {
            w.persist(c).map_err(bdk)?;
        }
        Ok(())
    }

    /// The block the wallet has seen up to.
    pub fn tip(&self) -> BlockId {
        self.wallets[0].0.latest_checkpoint().block_id()
    }

    /// A new receive address: BIP 84 (`bech32`) or BIP 86 (`p2tr`).
    pub fn new_address(&mut self, taproot: bool) -> Result<Address, WalletError> {
        let w = &mut self.wallets[usize::from(taproot)].0;
        let addr = w.reveal_next_address(KeychainKind::External).address;
        self.persist()?;
        Ok(addr)
    }

    /// Apply a connected block. A wallet born after the genesis starts at
    /// its first block; after that each block connects to its parent, on
    /// whatever branch (BDK replaces a stale branch's checkpoints).
    pub fn block_connected(&mut self, block: &Block, height: u32) -> Result<(), WalletError> {
        for (w, _) in &mut self.wallets {
            let tip = w.latest_checkpoint();
            let connected_to = if tip.height() == 0 {
                // Only the genesis so far: the block connects to it (BDK
                // needs the update to share a checkpoint with the wallet).
                tip.block_id()
            } else {
                BlockId {
                    height: height.saturating_sub(1),
                    hash: block.header.prev_blockhash,
                }
            };
            w.apply_block_connected_to(block, height, connected_to)
                .map_err(bdk)?;
        }
        self.persist()
    }

    /// A transaction we broadcast: its inputs are spent, its change ours.
    pub fn broadcasted(&mut self, tx: &Transaction, now: u64) -> Result<(), WalletError> {
        for (w, _) in &mut self.wallets {
            w.apply_unconfirmed_txs([(tx.clone(), now)]);
        }
        self.persist()
    }

    /// Confirmed and pending balance of both wallets.
    pub fn balance(&self) -> (Amount, Amount) {
        let mut confirmed = Amount::ZERO;
        let mut pending = Amount::ZERO;
        for (w, _) in &self.wallets {
            let b = w.balance();
            confirmed += b.confirmed;
            pending += b.trusted_pending + b.untrusted_pending + b.immature;
        }
        (confirmed, pending)
    }

    /// Every unspent output.
    pub fn outputs(&self) -> Vec<WalletOutput> {
        self.wallets
            .iter()
            .flat_map(|(w, _)| w.list_unspent())
            .map(|o| WalletOutput {
                outpoint: o.outpoint,
                amount: o.txout.value,
                script_pubkey: o.txout.script_pubkey,
                height: match o.chain_position {
                    bdk_wallet::chain::ChainPosition::Confirmed { anchor, .. } => {
                        Some(anchor.block_id.height)
                    }
                    _ => None,
                },
            })
            .collect()
    }

    /// A signed transaction paying `amount` (or everything, `None`) to
    /// `script` at `feerate`, not yet broadcast. BDK picks the coins and the
    /// change, from the BIP 84 wallet, else from the BIP 86 one.
    pub fn pay_to(
        &mut self,
        script: ScriptBuf,
        amount: Option<Amount>,
        feerate: FeeRate,
    ) -> Result<Transaction, WalletError> {
        let available = self.balance().0.to_sat();
        let mut needed = 0;
        for (w, _) in &mut self.wallets {
            let mut b = w.build_tx();
            match amount {
                Some(a) => {
                    b.add_recipient(script.clone(), a);
                }
                None => {
                    b.drain_wallet().drain_to(script.clone());
                }
            }
            b.fee_rate(feerate).unspendable(self.reserved.clone());
            let mut psbt = match b.finish() {
                Ok(p) => p,
                Err(bdk_wallet::error::CreateTxError::CoinSelection(e)) => {
                    needed = needed.max(e.needed.to_sat());
                    continue;
                }
                Err(bdk_wallet::error::CreateTxError::NoUtxosSelected) => continue,
                Err(e) => return Err(bdk(e)),
            };
            if !w.sign(&mut psbt, SignOptions::default()).map_err(bdk)? {
                return Err(WalletError::Bdk("not every input could be signed".into()));
            }
            let tx = psbt.extract_tx().map_err(bdk)?;
            // Built, not broadcast: the coins stay free until `broadcasted`.
            w.cancel_tx(&tx);
            self.persist()?;
            return Ok(tx);
        }
        let needed = needed.max(amount.map(|a| a.to_sat()).unwrap_or(1));
        Err(WalletError::Insufficient { available, needed })
    }

    /// The coins our unconfirmed claims hold.
    pub fn set_reserved(&mut self, reserved: Vec<OutPoint>) {
        self.reserved = reserved;
    }

    /// A transaction spending `foreign` as input 0 and paying `outputs`
    /// first, in order, with confirmed wallet coins (BDK's coin selection)
    /// and change paying `fee`. The wallet's inputs are signed; input 0's
    /// witness is the caller's. Returns it and the wallet coins it spends.
    pub fn fund_foreign(
        &mut self,
        foreign: &ForeignInput,
        outputs: &[bitcoin::TxOut],
        lock_time: bitcoin::absolute::LockTime,
        fee: FeeTarget,
    ) -> Result<(Transaction, Vec<OutPoint>), WalletError> {
        let available = self.balance().0.to_sat();
        let mut last = None;
        for (w, _) in &mut self.wallets {
            let change = w
                .next_unused_address(KeychainKind::Internal)
                .script_pubkey();
            let mut b = w.build_tx();
            b.ordering(bdk_wallet::TxOrdering::Untouched)
                .version(2)
                .nlocktime(lock_time)
                .only_witness_utxo()
                // A fee input must not wait: BIP 68 locks of the claim apply to every input of version 2.
                .exclude_unconfirmed()
                .unspendable(self.reserved.clone())
                .add_foreign_utxo_with_sequence(
                    foreign.outpoint,
                    bdk_wallet::bitcoin::psbt::Input {
                        witness_utxo: Some(foreign.txout.clone()),
                        ..Default::default()
                    },
                    foreign.satisfaction_weight,
                    foreign.sequence,
                )
                .map_err(bdk)?;
            for o in outputs {
                b.add_recipient(o.script_pubkey.clone(), o.value);
            }
            if outputs.is_empty() {
                b.drain_to(change);
            }
            match fee {
                FeeTarget::Rate(r) => b.fee_rate(r),
                FeeTarget::Absolute(a) => b.fee_absolute(a),
            };
            let mut psbt = match b.finish() {
                Ok(p) => p,
                Err(e) => {
                    last = Some(e.to_string());
                    continue;
                }
            };
            let opts = SignOptions {
                trust_witness_utxo: true,
                ..Default::default()
            };
            w.sign(&mut psbt, opts).map_err(bdk)?;
            let tx = psbt.clone().extract_tx_unchecked_fee_rate();
            if tx.input.first().map(|i| i.previous_output) != Some(foreign.outpoint) {
                return Err(WalletError::Bdk("the claim is not input 0".into()));
            }
            let wallet_inputs = tx.input[1..].iter().map(|i| i.previous_output).collect();
            w.cancel_tx(&tx);
            self.persist()?;
            return Ok((tx, wallet_inputs));
        }
        match last {
            Some(e) if !e.contains("Insufficient") => Err(WalletError::Bdk(e)),
            _ => Err(WalletError::Insufficient {
                available,
                needed: 0,
            }),
        }
    }

    /// The network.
    pub fn network(&self) -> Network {
        self.wallets[0].0.network()
    }
}
