//! Bitcoin Core's rules for letting a transaction into the next block or the
//! mempool, as pure functions: the embedded chain's mempool is built on them,
//! and a learner can read each rule beside the BIP that defines it.
//!
//! - Finality of `nLockTime` (`IsFinalTx`, BIP 113's median time past).
//! - BIP 68 relative locks (`CalculateSequenceLocks` / `EvaluateSequenceLocks`),
//!   which is what `OP_CHECKSEQUENCEVERIFY` (BIP 112) leans on: BOLT 3's
//!   `to_local` with `to_self_delay`, and the anchor outputs' `1 OP_CSV`.
//! - Coinbase maturity (100 blocks).
//! - The minimum relay fee and replacement (BIP 125's fee rules, as Core
//!   applies them to every transaction since full RBF became its default).
//! - Dust (Core's 3 sat/vB dust relay fee).
//!
//! Standardness (output types, witness limits, the standard script flags
//! that need no script execution) is in [`super::standard`].

use bitcoin::{Amount, FeeRate, Transaction};

/// Core's `COINBASE_MATURITY`: a coinbase output is spendable in the block 100 above its own.
pub const COINBASE_MATURITY: u32 = 100;

/// The minimum relay fee we enforce: 1 sat/vB (Core's `-minrelaytxfee` before
/// v30, which lowered it to 0.1 sat/vB).
pub const MIN_RELAY_FEERATE: FeeRate = FeeRate::BROADCAST_MIN;

/// Core's `-incrementalrelayfee`, as this mempool applies it: a replacement
/// pays for its own relay at 1 sat/vB on top of what it evicts.
pub const INCREMENTAL_RELAY_FEERATE: FeeRate = FeeRate::BROADCAST_MIN;

/// `nLockTime` values below this are block heights, at or above it Unix times.
const LOCKTIME_THRESHOLD: u32 = 500_000_000;

/// BIP 68: a set bit 31 disables the relative lock of an input.
const SEQUENCE_DISABLE_FLAG: u32 = 1 << 31;
/// BIP 68: a set bit 22 makes the lock count 512-second units, not blocks.
const SEQUENCE_TYPE_FLAG: u32 = 1 << 22;
/// BIP 68: the lock's value is the low 16 bits.
const SEQUENCE_MASK: u32 = 0x0000_ffff;
/// BIP 68: time locks count units of 2^9 = 512 seconds.
const SEQUENCE_GRANULARITY: u32 = 9;

/// The block a transaction would go into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextBlock {
    /// Its height: the tip's plus one.
    pub height: u32,
    /// The tip's median time past (BIP 113: time locks compare against it).
    pub median_time_past: u32,
}

/// `IsFinalTx`: may `tx` go into `next` as far as its `nLockTime` goes?
pub fn is_final(tx: &Transaction, next: NextBlock) -> bool {
    let lock = tx.lock_time.to_consensus_u32();
    if lock == 0 {
        return true;
    }
    let reached = if lock < LOCKTIME_THRESHOLD {
        lock < next.height
    } else {
        lock < next.median_time_past
    };
    // A lock time binds only while some input can still be replaced.
    reached || tx.input.iter().all(|i| i.sequence.0 == u32::MAX)
}

/// The coin an input spends, as BIP 68 sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoinAge {
    /// The height of the block that created it (the next block's, for a mempool parent).
    pub height: u32,
    /// The median time past of the block *before* that one (BIP 68: a time
    /// lock counts from there).
    pub prev_median_time_past: u32,
}

/// `CalculateSequenceLocks` + `EvaluateSequenceLocks`: do every input's BIP 68
/// relative locks allow `tx` into `next`? `coins` holds one entry per input.
pub fn sequence_locks_ok(tx: &Transaction, coins: &[CoinAge], next: NextBlock) -> bool {
    // BIP 68 applies to version 2 transactions and above only.
    if tx.version.0 < 2 {
        return true;
    }
    // The last height and time at which the transaction is still *not* valid.
    let mut min_height: i64 = -1;
    let mut min_time: i64 = -1;
    for (input, coin) in tx.input.iter().zip(coins) {
        let seq = input.sequence.0;
        if seq & SEQUENCE_DISABLE_FLAG != 0 {
            continue;
        }
        let value = i64::from(seq & SEQUENCE_MASK);
        if seq & SEQUENCE_TYPE_FLAG != 0 {
            let t = i64::from(coin.prev_median_time_past) + (value << SEQUENCE_GRANULARITY) - 1;
            min_time = min_time.max(t);
        } else {
            min_height = min_height.max(i64::from(coin.height) + value - 1);
        }
    }
    min_height < i64::from(next.height) && min_time < i64::from(next.median_time_past)
}

/// The fee `rate` asks of `vsize` vbytes, rounded up as Core's `CFeeRate::GetFee` does.
pub fn fee_at(rate: FeeRate, vsize: u64) -> Amount {
    rate.fee_vb(vsize).unwrap_or(Amount::MAX)
}

/// Does `fee` for `vsize` vbytes meet the minimum relay fee?
pub fn meets_min_relay(fee: Amount, vsize: u64) -> bool {
    fee >= fee_at(MIN_RELAY_FEERATE, vsize)
}

/// A mempool transaction a replacement would evict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// Its fee.
    pub fee: Amount,
    /// Its virtual size.
    pub vsize: u64,
    /// Whether it conflicts with the replacement directly (rather than being
    /// a descendant of one that does).
    pub direct: bool,
}

/// Core's replacement fee rules (BIP 125 rules 3, 4 and 6). `Err` carries
/// Core's reason text, which starts `insufficient fee`.
pub fn check_replacement(
    txid: &bitcoin::Txid,
    fee: Amount,
    vsize: u64,
    evicted: &[Evicted],
) -> Result<(), String> {
    // Rule 6: a better feerate than every transaction it conflicts with directly.
    for old in evicted.iter().filter(|e| e.direct) {
        // fee/vsize > old.fee/old.vsize, in integers.
        if u128::from(fee.to_sat()) * u128::from(old.vsize)
            <= u128::from(old.fee.to_sat()) * u128::from(vsize)
        {
            return Err(format!(
                "insufficient fee, rejecting replacement {txid}; new feerate {} sat/kvB <= old feerate {} sat/kvB",
                fee.to_sat() * 1000 / vsize.max(1),
                old.fee.to_sat() * 1000 / old.vsize.max(1)
            ));
        }
    }
    // Rule 3: at least the absolute fee of everything evicted.
    let old_fees: Amount = evicted.iter().map(|e| e.fee).sum();
    if fee < old_fees {
        return Err(format!(
            "insufficient fee, rejecting replacement {txid}, less fees than conflicting txs; {} < {}",
            fee.to_sat(),
            old_fees.to_sat()
        ));
    }
    // Rule 4: the extra fee pays for the replacement's own relay.
    let extra = fee - old_fees;
    let relay = fee_at(INCREMENTAL_RELAY_FEERATE, vsize);
    if extra < relay {
        return Err(format!(
            "insufficient fee, rejecting replacement {txid}, not enough additional fees to relay; {} < {}",
            extra.to_sat(),
            relay.to_sat()
        ));
    }
    Ok(())
}

/// The index of the first output below its dust threshold (Core's
/// `IsDust` at the default 3 sat/vB dust relay fee; `OP_RETURN` outputs are exempt).
pub fn first_dust_output(tx: &Transaction) -> Option<usize> {
    tx.output.iter().position(|out| {
        !out.script_pubkey.is_op_return() && out.value < out.script_pubkey.minimal_non_dust()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::transaction::Version;
    use bitcoin::{OutPoint, Sequence, TxIn, Witness};

    fn tx(version: i32, lock: u32, sequences: &[u32]) -> Transaction {
        Transaction {
            version: Version(version),
            lock_time: LockTime::from_consensus(lock),
            input: sequences
                .iter()
                .map(|s| TxIn {
                    previous_output: OutPoint::null(),
                    script_sig: Default::default(),
                    sequence: Sequence(*s),
                    witness: Witness::new(),
                })
                .collect(),
            output: vec![],
        }
    }

    const NEXT: NextBlock = NextBlock {
        height: 200,
        median_time_past: 1_700_000_000,
    };

    #[test]
    fn height_locktime_is_final_from_the_block_above_it() {
        assert!(is_final(&tx(2, 199, &[0xfffffffd]), NEXT));
        assert!(!is_final(&tx(2, 200, &[0xfffffffd]), NEXT));
        // Every input final: the lock time is ignored.
        assert!(is_final(&tx(2, 500, &[u32::MAX]), NEXT));
    }

    #[test]
    fn time_locktime_compares_to_median_time_past() {
        assert!(is_final(&tx(2, 1_699_999_999, &[0]), NEXT));
        assert!(!is_final(&tx(2, 1_700_000_000, &[0]), NEXT));
    }

    #[test]
    fn csv_height_lock_opens_at_coin_height_plus_delay() {
        // BOLT 3 to_local with to_self_delay 144, the commitment confirmed at 100:
        // spendable in block 244, not 243.
        let coin = [CoinAge {
            height: 100,
            prev_median_time_past: 0,
        }];
        let t = tx(2, 0, &[144]);
        let at = |height| NextBlock { height, ..NEXT };
        assert!(!sequence_locks_ok(&t, &coin, at(243)));
        assert!(sequence_locks_ok(&t, &coin, at(244)));
        // Version 1 has no relative locks; the disable flag turns one off.
        assert!(sequence_locks_ok(&tx(1, 0, &[144]), &coin, at(101)));
        assert!(sequence_locks_ok(
            &tx(2, 0, &[144 | SEQUENCE_DISABLE_FLAG]),
            &coin,
            at(101)
        ));
    }

    #[test]
    fn csv_time_lock_counts_512_second_units() {
        let coin = [CoinAge {
            height: 100,
            prev_median_time_past: 1_000_000,
        }];
        let t = tx(2, 0, &[SEQUENCE_TYPE_FLAG | 2]);
        let at = |mtp| NextBlock {
            height: 300,
            median_time_past: mtp,
        };
        assert!(!sequence_locks_ok(&t, &coin, at(1_000_000 + 1023)));
        assert!(sequence_locks_ok(&t, &coin, at(1_000_000 + 1024)));
    }

    #[test]
    fn replacement_rules() {
        let txid = bitcoin::Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros());
        let old = [Evicted {
            fee: Amount::from_sat(1000),
            vsize: 200,
            direct: true,
        }];
        // Same size, more fee and enough for its relay: accepted.
        assert!(check_replacement(&txid, Amount::from_sat(1200), 200, &old).is_ok());
        // Lower feerate.
        let e = check_replacement(&txid, Amount::from_sat(1000), 200, &old).unwrap_err();
        assert!(e.starts_with("insufficient fee"), "{e}");
        // Higher feerate but a smaller absolute fee (rule 3).
        let e = check_replacement(&txid, Amount::from_sat(900), 100, &old).unwrap_err();
        assert!(e.contains("less fees than conflicting"), "{e}");
        // More fee, but not 1 sat/vB more (rule 4).
        let e = check_replacement(&txid, Amount::from_sat(1100), 200, &old).unwrap_err();
        assert!(e.contains("not enough additional fees"), "{e}");
    }

    #[test]
    fn min_relay_is_one_sat_per_vbyte_rounded_up() {
        assert!(meets_min_relay(Amount::from_sat(141), 141));
        assert!(!meets_min_relay(Amount::from_sat(140), 141));
        assert_eq!(fee_at(FeeRate::BROADCAST_MIN, 1), Amount::from_sat(1));
    }
}
