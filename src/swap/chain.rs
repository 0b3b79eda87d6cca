//! The chains a swap leg can live on, and what differs between them: the
//! bech32 human-readable part of their SegWit addresses (BIP 173/350) and
//! their target block interval, which turns a timeout counted in blocks into
//! one counted in time (cross-chain swaps compare the two legs in time).
//!
//! Both chains here share Bitcoin's transaction format, script, SegWit and
//! Taproot rules, so the same contract and the same spending code serve both;
//! only the address encoding and the clock differ.

use std::fmt;
use std::str::FromStr;

use bitcoin::bech32::{self, Hrp};
use bitcoin::{Network, ScriptBuf, WitnessProgram, WitnessVersion};

/// A chain a swap leg is locked on.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// Bitcoin: 10-minute blocks.
    Bitcoin,
    /// Litecoin: 2.5-minute blocks.
    Litecoin,
}

impl Chain {
    /// The target seconds between blocks (the chain's `nPowTargetSpacing`).
    pub fn block_interval_secs(self) -> u64 {
        match self {
            Chain::Bitcoin => 600,
            Chain::Litecoin => 150,
        }
    }

    /// All chains, for messages.
    pub const NAMES: &'static str = "bitcoin or litecoin";
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Chain::Bitcoin => "bitcoin",
            Chain::Litecoin => "litecoin",
        })
    }
}

impl FromStr for Chain {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bitcoin" | "btc" => Ok(Chain::Bitcoin),
            "litecoin" | "ltc" => Ok(Chain::Litecoin),
            _ => Err(format!("expected {}, got {s:?}", Chain::NAMES)),
        }
    }
}

/// A chain and one of its networks (`network` says mainnet, testnet, signet
/// or regtest in Bitcoin's words; the same variant is taken on every chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChainParams {
    /// The chain.
    pub chain: Chain,
    /// Its network.
    pub network: Network,
}

/// Why an address or a chain/network pair cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The chain has no such network.
    #[error("{chain} has no {network} network")]
    NoSuchNetwork {
        /// The chain.
        chain: Chain,
        /// The network asked for.
        network: Network,
    },
    /// Not a SegWit address of this chain and network.
    #[error(
        "{address:?} is not a SegWit address of {chain} {network} (expected the prefix {hrp}1…)"
    )]
    WrongAddress {
        /// The address given.
        address: String,
        /// The chain.
        chain: Chain,
        /// The network.
        network: Network,
        /// The expected human-readable part.
        hrp: String,
    },
    /// The script is not a witness program, so it has no bech32 address.
    #[error("the script is not a SegWit output, so it has no bech32 address")]
    NotSegwit,
}

impl ChainParams {
    /// The pair, if the chain has that network.
    pub fn new(chain: Chain, network: Network) -> Result<Self, ChainError> {
        let params = ChainParams { chain, network };
        params.hrp().map(|_| params)
    }

    /// The bech32 human-readable part of SegWit addresses: `bc`/`tb`/`bcrt` on
    /// Bitcoin (BIP 173), `ltc`/`tltc`/`rltc` on Litecoin (Litecoin's chainparams).
    pub fn hrp(&self) -> Result<Hrp, ChainError> {
        let s = match (self.chain, self.network) {
            (Chain::Bitcoin, Network::Bitcoin) => "bc",
            (Chain::Bitcoin, Network::Testnet | Network::Testnet4 | Network::Signet) => "tb",
            (Chain::Bitcoin, Network::Regtest) => "bcrt",
            (Chain::Litecoin, Network::Bitcoin) => "ltc",
            (Chain::Litecoin, Network::Testnet) => "tltc",
            (Chain::Litecoin, Network::Regtest) => "rltc",
            (chain, network) => return Err(ChainError::NoSuchNetwork { chain, network }),
        };
        Ok(Hrp::parse_unchecked(s))
    }

    /// The SegWit address of a witness-program output (bech32 for v0,
    /// bech32m for v1+, as `bech32::segwit` picks by version).
    pub fn address(&self, script_pubkey: &ScriptBuf) -> Result<String, ChainError> {
        let version = script_pubkey
            .witness_version()
            .ok_or(ChainError::NotSegwit)?;
        let program = &script_pubkey.as_bytes()[2..];
        bech32::segwit::encode(self.hrp()?, version.to_fe(), program)
            .map_err(|_| ChainError::NotSegwit)
    }

    /// The output script an address of this chain and network pays to.
    pub fn script_pubkey(&self, address: &str) -> Result<ScriptBuf, ChainError> {
        let hrp = self.hrp()?;
        let wrong = || ChainError::WrongAddress {
            address: address.to_string(),
            chain: self.chain,
            network: self.network,
            hrp: hrp.to_string(),
        };
        let (got_hrp, version, program) = bech32::segwit::decode(address).map_err(|_| wrong())?;
        if got_hrp != hrp {
            return Err(wrong());
        }
        let version = WitnessVersion::try_from(version).map_err(|_| wrong())?;
        let program = WitnessProgram::new(version, &program).map_err(|_| wrong())?;
        Ok(ScriptBuf::new_witness_program(&program))
    }

    /// Seconds that `blocks` blocks take at the target interval.
    pub fn blocks_to_secs(&self, blocks: u32) -> u64 {
        u64::from(blocks) * self.chain.block_interval_secs()
    }
}

impl fmt::Display for ChainParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.chain, self.network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_keep_to_their_chain() {
        let spk = ScriptBuf::from_hex(
            "0020e8df018c7e326cc253faac7e46cdc51e68542c42ddf5ef2a0c1e4e9c5d4d2f3c",
        )
        .unwrap();
        let btc = ChainParams::new(Chain::Bitcoin, Network::Bitcoin).unwrap();
        let ltc = ChainParams::new(Chain::Litecoin, Network::Bitcoin).unwrap();
        let a = btc.address(&spk).unwrap();
        let l = ltc.address(&spk).unwrap();
        assert!(a.starts_with("bc1q") && l.starts_with("ltc1q"), "{a} {l}");
        assert_eq!(btc.script_pubkey(&a).unwrap(), spk);
        assert_eq!(ltc.script_pubkey(&l).unwrap(), spk);
        assert!(btc.script_pubkey(&l).is_err());
        // The bitcoin crate agrees on Bitcoin's encoding.
        let ours = bitcoin::Address::from_script(&spk, Network::Bitcoin).unwrap();
        assert_eq!(a, ours.to_string());
        assert!(ChainParams::new(Chain::Litecoin, Network::Signet).is_err());
        // Taproot outputs take bech32m (BIP 350), as the bitcoin crate writes them.
        let tr = ScriptBuf::from_hex(
            "5120732799296852e2df3be89ea49efefad4760c26ac73528af08f550c86fa3425df",
        )
        .unwrap();
        let ours = bitcoin::Address::from_script(&tr, Network::Regtest).unwrap();
        let regtest = ChainParams::new(Chain::Bitcoin, Network::Regtest).unwrap();
        assert_eq!(regtest.address(&tr).unwrap(), ours.to_string());
        assert_eq!(regtest.script_pubkey(&ours.to_string()).unwrap(), tr);
        // The test networks: tb1 and tltc1; regtest: bcrt1 and rltc1.
        for (chain, network, prefix) in [
            (Chain::Bitcoin, Network::Testnet, "tb1q"),
            (Chain::Bitcoin, Network::Testnet4, "tb1q"),
            (Chain::Bitcoin, Network::Signet, "tb1q"),
            (Chain::Litecoin, Network::Testnet, "tltc1q"),
            (Chain::Bitcoin, Network::Regtest, "bcrt1q"),
            (Chain::Litecoin, Network::Regtest, "rltc1q"),
        ] {
            let p = ChainParams::new(chain, network).unwrap();
            let a = p.address(&spk).unwrap();
            assert!(a.starts_with(prefix), "{chain} {network}: {a}");
            assert_eq!(p.script_pubkey(&a).unwrap(), spk);
        }
    }
}
