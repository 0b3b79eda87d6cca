//! What a tower does with a block: match every transaction's locator against
//! the appointments, open the blobs of those that match, and keep only the
//! penalties that really punish the breach. Pure: the store, the chain and
//! the broadcast are the caller's (the toolkit's `tower watch` and `tower
//! run` share this).

use bitcoin::{Block, Transaction, TxOut, Txid};

use super::appointment::{decrypt, DecryptError, Locator};
use crate::verify::{verify_transaction, VerifyError};

/// Why a blob that matched a transaction's locator gives no penalty to broadcast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// It does not decrypt (or not to a transaction) under the breach's txid.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// It decrypts to a transaction that spends no output of the breach.
    #[error("the penalty {penalty} spends no output of {breach}")]
    DoesNotSpend {
        /// The decrypted transaction.
        penalty: Txid,
        /// The transaction whose locator matched.
        breach: Txid,
    },
    /// It spends the breach, but Bitcoin Core's interpreter refuses its scripts.
    #[error("the penalty {penalty} does not verify against {breach}: {reason}")]
    Invalid {
        /// The decrypted transaction.
        penalty: Txid,
        /// The breach it spends.
        breach: Txid,
        /// The interpreter's verdict.
        reason: String,
    },
}

/// Check that `penalty` punishes `breach`: it spends an output of the breach
/// and, when every input it has spends the breach (a justice transaction
/// built by BOLT 5's rules does), its scripts verify against those outputs.
/// Returns whether the scripts were verified.
pub fn check_penalty(penalty: &Transaction, breach: &Transaction) -> Result<bool, Refusal> {
    let breach_txid = breach.compute_txid();
    let spent: Vec<Option<TxOut>> = penalty
        .input
        .iter()
        .map(|i| {
            (i.previous_output.txid == breach_txid)
                .then(|| breach.output.get(i.previous_output.vout as usize).cloned())
                .flatten()
        })
        .collect();
    if spent.iter().all(Option::is_none) {
        return Err(Refusal::DoesNotSpend {
            penalty: penalty.compute_txid(),
            breach: breach_txid,
        });
    }
    let Some(prevouts) = spent.into_iter().collect::<Option<Vec<TxOut>>>() else {
        // It also spends something else (a fee input): the chain judges that part.
        return Ok(false);
    };
    verify_transaction(penalty, &prevouts).map_err(|e: VerifyError| Refusal::Invalid {
        penalty: penalty.compute_txid(),
        breach: breach_txid,
        reason: e.to_string(),
    })?;
    Ok(true)
}

/// One appointment's blob opened against the transaction whose locator it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The matched locator.
    pub locator: Locator,
    /// The breach: the transaction of the block the locator matched.
    pub breach_txid: Txid,
    /// The penalty to broadcast, and whether its scripts were verified; or why not.
    pub outcome: Result<(Transaction, bool), Refusal>,
}

/// Open one blob against the transaction it matched.
pub fn open(locator: Locator, blob: &[u8], breach: &Transaction) -> Opened {
    let breach_txid = breach.compute_txid();
    let outcome = decrypt(blob, &breach_txid)
        .map_err(Refusal::from)
        .and_then(|penalty| check_penalty(&penalty, breach).map(|verified| (penalty, verified)));
    Opened {
        locator,
        breach_txid,
        outcome,
    }
}

/// Every transaction of `block` whose locator `lookup` knows, opened with each
/// blob `lookup` gives for that locator (several users may watch one
/// locator; `T` says whose each blob is). Matching costs one txid and one
/// lookup per transaction; only a match decrypts anything.
pub fn scan_block<T, B: AsRef<[u8]>>(
    block: &Block,
    mut lookup: impl FnMut(&Locator) -> Vec<(T, B)>,
) -> Vec<(T, Opened)> {
    let mut out = vec![];
    for tx in &block.txdata {
        let locator = Locator::of(&tx.compute_txid());
        for (tag, blob) in lookup(&locator) {
            out.push((tag, open(locator, blob.as_ref(), tx)));
        }
    }
    out
}
