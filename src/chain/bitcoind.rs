//! Bitcoin Core over its JSON-RPC interface (`bitcoincore-rpc`), on every
//! network, with a cookie file or a user and password.
//!
//! Opening checks what would otherwise fail later in confusing ways: that the
//! credentials work (the error says which auth was tried), that something
//! answers at the address (the error says where), that the node follows the
//! expected network (genesis hash seen vs expected), and that it is not still
//! in initial block download. A fresh regtest chain counts as in IBD until it
//! mines a block with a recent time, so on regtest IBD is not an error.
//!
//! Results are read from Core's JSON by field name rather than through
//! `bitcoincore-rpc`'s typed structs, which lag behind Core's changing result
//! shapes; calls and transport are the crate's.

use std::path::PathBuf;
use std::time::Duration;

use bitcoin::block::{Header, Version};
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Transaction,
    TxMerkleNode, TxOut, Txid,
};
use bitcoincore_rpc::jsonrpc;
use bitcoincore_rpc::RpcApi;
use serde_json::{json, Value};

use super::{
    genesis_hash, BlockRef, ChainError, ChainSource, FeeEstimate, FeeSource, HeaderInfo, Regtest,
    Rejection, TxInfo, TxStatus, Utxo, DEFAULT_FALLBACK_FEERATE, FEERATE_FLOOR,
};
use crate::tx::commitment::FeeratePerKw;

/// How long one RPC call may take before it fails (every wait has a bound).
const RPC_TIMEOUT: Duration = Duration::from_secs(60);

/// Core's RPC error codes we act on (`src/rpc/protocol.h`).
mod code {
    /// `RPC_INVALID_ADDRESS_OR_KEY`: unknown block or transaction.
    pub const INVALID_ADDRESS_OR_KEY: i32 = -5;
    /// `RPC_INVALID_PARAMETER`: e.g. a height out of range.
    pub const INVALID_PARAMETER: i32 = -8;
    /// `RPC_MISC_ERROR`: among others, pruned block data.
    pub const MISC_ERROR: i32 = -1;
    /// `RPC_VERIFY_ERROR`, `RPC_VERIFY_REJECTED`, `RPC_VERIFY_ALREADY_IN_UTXO_SET`:
    /// the transaction was refused.
    pub const VERIFY: [i32; 3] = [-25, -26, -27];
    /// `RPC_IN_WARMUP`: still loading.
    pub const IN_WARMUP: i32 = -28;
}

/// How we log in to bitcoind's RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcAuth {
    /// The `.cookie` file bitcoind writes in its datadir.
    Cookie(PathBuf),
    /// `rpcuser` / `rpcpassword` (or an `rpcauth` entry).
    UserPass {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
}

impl RpcAuth {
    /// Bitcoin Core's own cookie file for `network` under `~/.bitcoin`
    /// (where bitcoind writes it when no `-datadir` is given).
    pub fn default_cookie(network: Network) -> RpcAuth {
        let home = std::env::var("HOME").unwrap_or_default();
        let sub = match network {
            Network::Testnet => "testnet3/",
            Network::Testnet4 => "testnet4/",
            Network::Signet => "signet/",
            Network::Regtest => "regtest/",
            _ => "",
        };
        RpcAuth::Cookie(PathBuf::from(format!("{home}/.bitcoin/{sub}.cookie")))
    }

    /// The user and password to send (a cookie file is read by `bitcoincore-rpc`).
    fn user_pass(&self) -> Result<(String, Option<String>), ChainError> {
        let auth = match self {
            RpcAuth::Cookie(path) => bitcoincore_rpc::Auth::CookieFile(path.clone()),
            RpcAuth::UserPass { user, password } => {
                bitcoincore_rpc::Auth::UserPass(user.clone(), password.clone())
            }
        };
        let cookie_error = |detail: String| match self {
            RpcAuth::Cookie(path) => ChainError::Cookie {
                path: path.display().to_string(),
                detail,
            },
            RpcAuth::UserPass { .. } => ChainError::Invalid(detail),
        };
        match auth.get_user_pass() {
            Ok((Some(user), password)) => Ok((user, password)),
            Ok((None, _)) | Err(bitcoincore_rpc::Error::InvalidCookieFile) => {
                Err(cookie_error("expected one line user:password".into()))
            }
            Err(e) => Err(cookie_error(e.to_string())),
        }
    }

    /// Which auth this is, for error messages (never the password).
    pub fn describe(&self) -> String {
        match self {
            RpcAuth::Cookie(path) => format!("cookie file {}", path.display()),
            RpcAuth::UserPass { user, .. } => format!("user {user:?} with a password"),
        }
    }
}

/// Where and how to reach bitcoind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitcoindConfig {
    /// `http://host:port` (port 8332 mainnet, 18332 testnet, 38332 signet, 18443 regtest).
    pub url: String,
    /// The credentials.
    pub auth: RpcAuth,
    /// The network we expect it to follow.
    pub network: Network,
    /// The rate to report when bitcoind has no estimate.
    pub fallback_feerate: FeeratePerKw,
}

impl BitcoindConfig {
    /// A config with the default fallback rate.
    pub fn new(url: impl Into<String>, auth: RpcAuth, network: Network) -> Self {
        BitcoindConfig {
            url: url.into(),
            auth,
            network,
            fallback_feerate: DEFAULT_FALLBACK_FEERATE,
        }
    }
}

/// A bitcoind reached over RPC.
pub struct BitcoindChain {
    client: bitcoincore_rpc::Client,
    config: BitcoindConfig,
    txindex: bool,
}

impl std::fmt::Debug for BitcoindChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitcoindChain")
            .field("url", &self.config.url)
            .field("network", &self.config.network)
            .finish()
    }
}

/// A Core RPC error: its code and message, when the call got that far.
fn rpc_error(e: &bitcoincore_rpc::Error) -> Option<(i32, &str)> {
    match e {
        bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(r)) => Some((r.code, &r.message)),
        _ => None,
    }
}

impl BitcoindChain {
    /// Connect and check credentials, network and sync state.
    pub fn connect(config: BitcoindConfig) -> Result<Self, ChainError> {
        let (user, password) = config.auth.user_pass()?;
        let transport = jsonrpc::simple_http::Builder::new()
            .url(&config.url)
            .map_err(|e| ChainError::Invalid(format!("bitcoind URL {:?}: {e}", config.url)))?
            .timeout(RPC_TIMEOUT)
            .auth(user, password)
            .build();
        let client =
            bitcoincore_rpc::Client::from_jsonrpc(jsonrpc::Client::with_transport(transport));
        let mut chain = BitcoindChain {
            client,
            config,
            txindex: false,
        };
        let info: Value = chain.call("getblockchaininfo", &[])?;
        let seen_genesis = chain.block_hash(0)?.ok_or_else(|| ChainError::Rpc {
            method: "getblockhash".into(),
            message: "no block at height 0".into(),
        })?;
        let expected = chain.config.network;
        if seen_genesis != genesis_hash(expected) {
            return Err(ChainError::WrongNetwork {
                expected,
                expected_genesis: genesis_hash(expected),
                seen_genesis,
            });
        }
        if expected != Network::Regtest && info["initialblockdownload"].as_bool() == Some(true) {
            return Err(ChainError::InitialBlockDownload {
                blocks: info["blocks"].as_u64().unwrap_or(0),
                headers: info["headers"].as_u64().unwrap_or(0),
            });
        }
        let indexes: Value = chain.call("getindexinfo", &[])?;
        chain.txindex = indexes["txindex"]["synced"].as_bool().unwrap_or(false);
        Ok(chain)
    }

    /// One RPC call, its failure turned into a [`ChainError`] that says what to do.
    fn call<T: for<'de> serde::Deserialize<'de>>(
        &self,
        method: &str,
        args: &[Value],
    ) -> Result<T, ChainError> {
        self.client
            .call(method, args)
            .map_err(|e| self.transport_error(method, e))
    }

    fn transport_error(&self, method: &str, e: bitcoincore_rpc::Error) -> ChainError {
        use jsonrpc::simple_http::Error as Http;
        let url = self.config.url.clone();
        if let bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Transport(t)) = &e {
            if let Some(http) = t.downcast_ref::<Http>() {
                return match http {
                    Http::HttpErrorCode(401) | Http::HttpErrorCode(403) => {
                        ChainError::Unauthorized {
                            url,
                            auth: self.config.auth.describe(),
                        }
                    }
                    Http::SocketError(io) => ChainError::Unreachable {
                        url,
                        detail: io.to_string(),
                    },
                    other => ChainError::Rpc {
                        method: method.into(),
                        message: other.to_string(),
                    },
                };
            }
        }
        if let Some((c, message)) = rpc_error(&e) {
            if c == code::IN_WARMUP {
                return ChainError::Rpc {
                    method: method.into(),
                    message: format!("bitcoind is still starting up: {message}"),
                };
            }
        }
        ChainError::Rpc {
            method: method.into(),
            message: e.to_string(),
        }
    }

    fn best_height(&self) -> Result<u32, ChainError> {
        let n: u64 = self.call("getblockcount", &[])?;
        Ok(n as u32)
    }

    fn descriptor(script: &ScriptBuf) -> String {
        format!("raw({})", hex::encode(script.as_bytes()))
    }
}

fn field<'a>(v: &'a Value, name: &str, method: &str) -> Result<&'a Value, ChainError> {
    v.get(name)
        .filter(|x| !x.is_null())
        .ok_or_else(|| ChainError::Rpc {
            method: method.into(),
            message: format!("the result has no {name}"),
        })
}

fn parse<T: std::str::FromStr>(v: &Value, name: &str, method: &str) -> Result<T, ChainError>
where
    T::Err: std::fmt::Display,
{
    let s = field(v, name, method)?.as_str().unwrap_or_default();
    s.parse().map_err(|e| ChainError::Rpc {
        method: method.into(),
        message: format!("{name}: {e}"),
    })
}

fn number(v: &Value, name: &str, method: &str) -> Result<i64, ChainError> {
    field(v, name, method)?
        .as_i64()
        .ok_or_else(|| ChainError::Rpc {
            method: method.into(),
            message: format!("{name}: expected a number"),
        })
}

/// BTC as a JSON number, to satoshis.
fn btc_to_amount(v: &Value, name: &str, method: &str) -> Result<Amount, ChainError> {
    let btc = field(v, name, method)?.as_f64().unwrap_or(-1.0);
    Amount::from_btc(btc).map_err(|e| ChainError::Rpc {
        method: method.into(),
        message: format!("{name}: {e}"),
    })
}

impl ChainSource for BitcoindChain {
    fn network(&self) -> Network {
        self.config.network
    }

    fn best_block(&self) -> Result<BlockRef, ChainError> {
        // One call gives height and hash of the same tip.
        let m = "getblockchaininfo";
        let info: Value = self.call(m, &[])?;
        Ok(BlockRef {
            height: number(&info, "blocks", m)? as u32,
            hash: parse(&info, "bestblockhash", m)?,
        })
    }

    fn header(&self, hash: &BlockHash) -> Result<HeaderInfo, ChainError> {
        let m = "getblockheader";
        let v: Value =
            self.client
                .call(m, &[json!(hash), json!(true)])
                .map_err(|e| match rpc_error(&e) {
                    Some((code::INVALID_ADDRESS_OR_KEY, _)) => {
                        ChainError::UnknownBlock(hash.to_string())
                    }
                    _ => self.transport_error(m, e),
                })?;
        let prev = match v.get("previousblockhash").and_then(Value::as_str) {
            Some(p) => p.parse().map_err(|e| ChainError::Rpc {
                method: m.into(),
                message: format!("previousblockhash: {e}"),
            })?,
            None => BlockHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
        };
        let bits = u32::from_str_radix(field(&v, "bits", m)?.as_str().unwrap_or_default(), 16)
            .map_err(|e| ChainError::Rpc {
                method: m.into(),
                message: format!("bits: {e}"),
            })?;
        let header = Header {
            version: Version::from_consensus(number(&v, "version", m)? as i32),
            prev_blockhash: prev,
            merkle_root: parse::<TxMerkleNode>(&v, "merkleroot", m)?,
            time: number(&v, "time", m)? as u32,
            bits: CompactTarget::from_consensus(bits),
            nonce: number(&v, "nonce", m)? as u32,
        };
        if header.block_hash() != *hash {
            return Err(ChainError::Rpc {
                method: m.into(),
                message: format!("the header's fields do not hash to {hash}"),
            });
        }
        Ok(HeaderInfo {
            header,
            height: number(&v, "height", m)? as u32,
        })
    }

    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        let m = "getblock";
        let hex: String = match self.client.call(m, &[json!(hash), json!(0)]) {
            Ok(h) => h,
            Err(e) => {
                return Err(match rpc_error(&e) {
                    Some((code::INVALID_ADDRESS_OR_KEY, _)) => {
                        ChainError::UnknownBlock(hash.to_string())
                    }
                    Some((code::MISC_ERROR, msg)) if msg.contains("pruned") => {
                        let info: Value = self.call("getblockchaininfo", &[])?;
                        ChainError::BlockPruned {
                            hash: *hash,
                            prune_height: info["pruneheight"].as_u64().unwrap_or(0),
                        }
                    }
                    _ => self.transport_error(m, e),
                })
            }
        };
        deserialize_hex(&hex).map_err(|e| ChainError::Rpc {
            method: m.into(),
            message: format!("the block does not parse: {e}"),
        })
    }

    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        let m = "getblockhash";
        match self.client.call::<BlockHash>(m, &[json!(height)]) {
            Ok(h) => Ok(Some(h)),
            Err(e) if matches!(rpc_error(&e), Some((code::INVALID_PARAMETER, _))) => Ok(None),
            Err(e) => Err(self.transport_error(m, e)),
        }
    }

    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        let m = "sendrawtransaction";
        self.client
            .call(m, &[json!(serialize_hex(tx))])
            .map_err(|e| match rpc_error(&e) {
                Some((c, msg)) if code::VERIFY.contains(&c) => ChainError::Rejected {
                    txid: tx.compute_txid(),
                    rejection: Rejection::new(msg),
                },
                _ => self.transport_error(m, e),
            })
    }

    fn broadcast_package(
        &self,
        parent: &Transaction,
        child: &Transaction,
    ) -> Result<(), ChainError> {
        let m = "submitpackage";
        let v: Value = self.call(m, &[json!([serialize_hex(parent), serialize_hex(child)])])?;
        let msg = v["package_msg"].as_str().unwrap_or_default();
        if msg == "success" {
            return Ok(());
        }
        // The per-transaction errors say which one failed and why.
        let mut reasons: Vec<String> = v["tx-results"]
            .as_object()
            .map(|r| {
                r.values()
                    .filter_map(|t| t["error"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if reasons.is_empty() {
            reasons.push(msg.to_string());
        }
        Err(ChainError::Rejected {
            txid: child.compute_txid(),
            rejection: Rejection::new(reasons.join("; ")),
        })
    }

    fn fee_estimate(&self, target_blocks: u16) -> Result<FeeEstimate, ChainError> {
        let v: Value = self.call("estimatesmartfee", &[json!(target_blocks.max(1))])?;
        let estimate = v["feerate"].as_f64().and_then(|btc_per_kvb| {
            let sat_per_kvb = Amount::from_btc(btc_per_kvb).ok()?.to_sat();
            // 1 kvB = 4 kw: sat/kw = sat/kvB / 4.
            Some(FeeratePerKw(
                u32::try_from(sat_per_kvb / 4).unwrap_or(u32::MAX),
            ))
        });
        Ok(match estimate {
            Some(rate) => FeeEstimate {
                feerate: rate.max(FEERATE_FLOOR),
                source: FeeSource::Estimated,
                target_blocks,
            },
            None => FeeEstimate {
                feerate: self.config.fallback_feerate.max(FEERATE_FLOOR),
                source: FeeSource::Fallback,
                target_blocks,
            },
        })
    }

    fn transaction(&self, txid: &Txid) -> Result<Option<TxInfo>, ChainError> {
        let m = "getrawtransaction";
        let v: Value = match self.client.call(m, &[json!(txid), json!(true)]) {
            Ok(v) => v,
            Err(e) if matches!(rpc_error(&e), Some((code::INVALID_ADDRESS_OR_KEY, _))) => {
                if self.txindex {
                    return Ok(None);
                }
                return Err(ChainError::Invalid(format!(
                    "{txid} is not in bitcoind's mempool, and without -txindex=1 bitcoind cannot look up confirmed transactions"
                )));
            }
            Err(e) => return Err(self.transport_error(m, e)),
        };
        let hex = field(&v, "hex", m)?.as_str().unwrap_or_default();
        let tx: Transaction = deserialize_hex(hex).map_err(|e| ChainError::Rpc {
            method: m.into(),
            message: format!("the transaction does not parse: {e}"),
        })?;
        if let Some(block) = v.get("blockhash").and_then(Value::as_str) {
            let hash: BlockHash = block.parse().map_err(|e| ChainError::Rpc {
                method: m.into(),
                message: format!("blockhash: {e}"),
            })?;
            // The index still points into a stale block after a reorg: only a
            // block of the best chain confirms.
            let header = self.header(&hash)?;
            if self.block_hash(header.height)? == Some(hash) {
                let tip = self.best_height()?;
                return Ok(Some(TxInfo {
                    tx,
                    status: TxStatus::Confirmed {
                        block: BlockRef {
                            height: header.height,
                            hash,
                        },
                        confirmations: tip - header.height + 1,
                    },
                }));
            }
        }
        match self.client.call::<Value>("getmempoolentry", &[json!(txid)]) {
            Ok(_) => Ok(Some(TxInfo {
                tx,
                status: TxStatus::Mempool,
            })),
            Err(e) if matches!(rpc_error(&e), Some((code::INVALID_ADDRESS_OR_KEY, _))) => Ok(None),
            Err(e) => Err(self.transport_error("getmempoolentry", e)),
        }
    }

    fn utxo(&self, outpoint: &OutPoint) -> Result<Option<Utxo>, ChainError> {
        let m = "gettxout";
        let v: Value = self.call(
            m,
            &[json!(outpoint.txid), json!(outpoint.vout), json!(false)],
        )?;
        if v.is_null() {
            return Ok(None);
        }
        let best: BlockHash = parse(&v, "bestblock", m)?;
        let confirmations = number(&v, "confirmations", m)? as u32;
        let tip = self.header(&best)?.height;
        let script = field(field(&v, "scriptPubKey", m)?, "hex", m)?
            .as_str()
            .unwrap_or_default();
        Ok(Some(Utxo {
            txout: TxOut {
                value: btc_to_amount(&v, "value", m)?,
                script_pubkey: ScriptBuf::from_hex(script).map_err(|e| ChainError::Rpc {
                    method: m.into(),
                    message: format!("scriptPubKey: {e}"),
                })?,
            },
            height: tip + 1 - confirmations,
            coinbase: v["coinbase"].as_bool().unwrap_or(false),
        }))
    }
}

impl BitcoindChain {
    /// One empty block on the tip, never one bitcoind has seen before.
    fn generate_new_block(&self, script: &ScriptBuf) -> Result<BlockHash, ChainError> {
        let m = "generateblock";
        let v: Value = self.call(
            m,
            &[json!(Self::descriptor(script)), json!([]), json!(false)],
        )?;
        let mut block: Block = deserialize_hex(field(&v, "hex", m)?.as_str().unwrap_or_default())
            .map_err(|e| ChainError::Rpc {
            method: m.into(),
            message: format!("the block does not parse: {e}"),
        })?;
        // The same height, coinbase and second as a block just invalidated
        // make the same block, which bitcoind remembers as invalid: move the
        // time on until the block is new (regtest's target is met by every
        // other hash, so grinding again is instant).
        while self.header(&block.block_hash()).is_ok() {
            block.header.time += 1;
            let target = block.header.target();
            while !target.is_met_by(block.header.block_hash()) {
                block.header.nonce = block.header.nonce.wrapping_add(1);
            }
        }
        let verdict: Value = self.call("submitblock", &[json!(serialize_hex(&block))])?;
        match verdict.as_str() {
            None => Ok(block.block_hash()),
            Some(reason) => Err(ChainError::BlockRejected {
                hash: block.block_hash(),
                reason: reason.to_string(),
            }),
        }
    }
}

impl Regtest for BitcoindChain {
    fn mine(&self, count: u32, script: &ScriptBuf) -> Result<Vec<BlockHash>, ChainError> {
        self.call(
            "generatetodescriptor",
            &[json!(count), json!(Self::descriptor(script))],
        )
    }

    fn reorg(
        &self,
        depth: u32,
        new_blocks: u32,
        script: &ScriptBuf,
    ) -> Result<Vec<BlockHash>, ChainError> {
        let tip = self.best_height()?;
        super::check_reorg(depth, new_blocks, tip)?;
        let first_stale = if depth > 0 {
            let hash = self.block_hash(tip - depth + 1)?.expect("below the tip");
            let () = self.call("invalidateblock", &[json!(hash)])?;
            Some(hash)
        } else {
            None
        };
        let mut hashes = Vec::with_capacity(new_blocks as usize);
        for _ in 0..new_blocks {
            // Empty blocks: the stale transactions wait in the mempool, as the
            // embedded chain's do.
            hashes.push(self.generate_new_block(script)?);
        }
        // Forget the invalid mark: the old branch now loses on work alone.
        if let Some(hash) = first_stale {
            let () = self.call("reconsiderblock", &[json!(hash)])?;
        }
        Ok(hashes)
    }
}
