//! The swap's terms as every step reads them back from `swap create`'s
//! output, and the Lightning side's terms.

use bitcoin::secp256k1::Secp256k1;
use bitcoin::{FeeRate, ScriptBuf};
use schemars::JsonSchema;
use serde::Deserialize;

use super::super::field::{BlockHeight, Net, Pubkey, Script, Uint, Uint32};
use super::super::{build_funding, hex, CliError, Input};
use super::HashIn;
use crate::swap::chain::{Chain, ChainParams};
use crate::swap::contract::{Contract, OutputType, SwapTerms};
use crate::swap::musig::KeyOrder;
use crate::swap::terms;
use crate::swap::timeout::LightningTerms;

/// The Lightning side's terms and the clock (submarine and reverse).
#[derive(Deserialize, JsonSchema)]
pub struct LightningIn {
    /// Overrides the invoice's CLTV delta (or gives one without an invoice).
    min_final_cltv_expiry_delta: Option<Uint32>,
    /// Safety blocks between the lock and the Lightning CLTV (default 6).
    margin_blocks: Option<Uint32>,
    /// UNIX seconds now, for the invoice's expiry (default: the clock).
    current_time: Option<Uint>,
}

/// The swap's terms as `swap create` wrote them, read back by later steps.
#[derive(Deserialize, JsonSchema)]
pub struct TermsIn {
    /// p2wsh or p2tr (default p2wsh).
    output_type: Option<OutputType>,
    /// The MuSig2 key order of a p2tr lock (default sorted).
    musig_key_order: Option<KeyOrder>,
    /// The key that claims with the preimage.
    claim_pubkey: Pubkey,
    /// The key that refunds after the timeout.
    refund_pubkey: Pubkey,
    /// The refund's height.
    timeout_block_height: BlockHeight,
    /// The lock's scriptPubKey, when carried along: it must match the terms.
    script_pubkey: Option<Script>,
    /// bitcoin or litecoin (default bitcoin).
    pub(super) chain: Option<Chain>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub(super) network: Option<Net>,
}

/// The chain of a lock and the network of the swap.
pub(super) fn chain_params(
    chain: Option<Chain>,
    network: Option<&Net>,
    at: &Input,
) -> Result<ChainParams, CliError> {
    let network = network.map_or(bitcoin::Network::Bitcoin, |n| n.0);
    ChainParams::new(chain.unwrap_or(Chain::Bitcoin), network).map_err(|e| at.error("network", e))
}

/// The swap's contract from its terms; a carried `script_pubkey` must match it.
pub(super) fn contract(input: &Input) -> Result<Contract, CliError> {
    let secp = Secp256k1::verification_only();
    let t: TermsIn = input.typed()?;
    let h: HashIn = input.typed()?;
    let inv = h.invoice(input)?;
    let terms = SwapTerms {
        payment_hash: h.hash(input, inv.as_ref())?,
        claim_pubkey: t.claim_pubkey.0,
        refund_pubkey: t.refund_pubkey.0,
        timeout: t.timeout_block_height.0,
    };
    let c = Contract::new(
        &secp,
        terms,
        t.output_type.unwrap_or(OutputType::P2wsh),
        t.musig_key_order.unwrap_or(KeyOrder::Sorted),
    );
    if let Some(spk) = &t.script_pubkey {
        if spk.0 != c.script_pubkey() {
            return Err(input.error(
                "script_pubkey",
                format!(
                    "the swap's terms make {}, not this (were the terms or the output_type changed?)",
                    hex(c.script_pubkey().as_bytes())
                ),
            ));
        }
    }
    Ok(c)
}

/// Blocks of safety margin against the Lightning side's CLTV (one hour of
/// Bitcoin blocks): time for a claim or an HTLC settlement to confirm.
pub(super) const DEFAULT_MARGIN_BLOCKS: u32 = 6;

impl LightningIn {
    /// The margin in blocks.
    pub(super) fn margin(&self) -> u32 {
        self.margin_blocks
            .as_ref()
            .map_or(DEFAULT_MARGIN_BLOCKS, |m| m.0)
    }

    /// UNIX seconds now: `current_time`, or the clock.
    pub(super) fn now(&self) -> u64 {
        self.current_time.as_ref().map_or_else(
            || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            },
            |t| t.0,
        )
    }

    /// The invoice's terms with the override.
    pub(super) fn terms(&self, invoice: Option<LightningTerms>) -> Option<LightningTerms> {
        terms::lightning_terms(
            invoice,
            self.min_final_cltv_expiry_delta.as_ref().map(|c| c.0),
        )
    }
}

/// Where coins go: an address of the swap's chain, or a scriptPubKey hex.
pub(super) fn destination(
    at: &Input,
    field: &str,
    text: &str,
    params: ChainParams,
) -> Result<ScriptBuf, CliError> {
    if let Ok(spk) = params.script_pubkey(text) {
        return Ok(spk);
    }
    if let Ok(a) = text.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>() {
        if params.chain == Chain::Bitcoin {
            return a
                .require_network(params.network)
                .map(|a| a.script_pubkey())
                .map_err(|_| {
                    at.error(
                        field,
                        format!(
                            "{text:?} is not an address of {params} (set --network to its network)"
                        ),
                    )
                });
        }
    }
    match hex::decode(text) {
        Ok(bytes) => Ok(ScriptBuf::from_bytes(bytes)),
        Err(_) => Err(at.error(
            field,
            format!("expected an address of {params} or a scriptPubKey hex, got {text:?}"),
        )),
    }
}

pub(super) fn params(input: &Input) -> Result<ChainParams, CliError> {
    let t: TermsIn = input.typed()?;
    chain_params(t.chain, t.network.as_ref(), input)
}

pub(super) fn feerate(
    at: &Input,
    vb: &Option<Uint>,
    kw: &Option<Uint>,
) -> Result<FeeRate, CliError> {
    build_funding::fee_rate(at, vb.as_ref().map(|v| v.0), kw.as_ref().map(|v| v.0))
}
