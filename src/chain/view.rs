//! A chain backend and a fee estimate as the toolkit's JSON shows them
//! (`lnkit chain status`, `lnkit chain fee`).

use schemars::JsonSchema;
use serde::Serialize;

use super::{Backend, FeeEstimate};

/// Which chain answered.
#[derive(Serialize, JsonSchema)]
pub struct BackendOut {
    /// `bitcoind` or `embedded`.
    pub backend: &'static str,
    /// bitcoind's RPC URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The embedded chain's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_dir: Option<String>,
}

impl BackendOut {
    /// The backend as the output names it.
    pub fn of(backend: &Backend) -> Self {
        match backend {
            Backend::Bitcoind(c) => BackendOut {
                backend: "bitcoind",
                url: Some(c.url.clone()),
                chain_dir: None,
            },
            Backend::Embedded(dir) => BackendOut {
                backend: "embedded",
                url: None,
                chain_dir: Some(dir.display().to_string()),
            },
        }
    }
}

/// A fee estimate.
#[derive(Serialize, JsonSchema)]
pub struct FeeOut {
    /// The confirmation target it is for.
    pub target_blocks: u16,
    /// The rate.
    pub feerate_per_kw: u32,
    /// `estimatesmartfee`, `fallback` or `fixed`.
    pub source: &'static str,
}

impl FeeOut {
    /// The estimate as the output names it.
    pub fn of(fee: &FeeEstimate) -> Self {
        FeeOut {
            target_blocks: fee.target_blocks,
            feerate_per_kw: fee.feerate.0,
            source: fee.source.as_str(),
        }
    }
}
