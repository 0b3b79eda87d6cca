//! Chain space: a factory's transactions against opening (and closing) the
//! same channels one by one — the paper's argument for factories (Burchert,
//! Decker & Wattenhofer 2018: "for a group of 20 users with 100 intra-group
//! channels, the cost of the blockchain transactions is reduced by 90%",
//! and to 96% with Schnorr signature aggregation, which MuSig2 now gives).
//!
//! Sizes are predicted as the builders predict them for fees (maximum-size
//! signatures, `predict_weight`), so they are what the transactions cost.

use bitcoin::transaction::{predict_weight, InputWeightPrediction};
use bitcoin::Weight;

/// Script lengths: P2WPKH 22, P2WSH and P2TR 34.
const P2WPKH: usize = 22;
const P2WSH: usize = 34;
const P2TR: usize = 34;

/// A BOLT 3 2-of-2 funding output spent: `0 <sig> <sig> <71-byte script>`.
fn funding_spend() -> InputWeightPrediction {
    InputWeightPrediction::new(0, [0, 73, 73, 71])
}

/// The chain space, in virtual bytes, of each way to run `channels` channels
/// among `users` users, each user funding from one P2WPKH coin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// Users.
    pub users: usize,
    /// Channels.
    pub channels: usize,
    /// One funding transaction (one input, change) per channel.
    pub one_by_one_open_vbytes: u64,
    /// The hook: every user's coin in, the factory and each user's change out.
    pub factory_open_vbytes: u64,
    /// One funding transaction and one mutual close (two outputs) per channel.
    pub one_by_one_vbytes: u64,
    /// The hook and the cooperative close (one output per user).
    pub factory_cooperative_vbytes: u64,
    /// The hook, the kickoff, one allocation (every channel and every
    /// user's share) and a mutual close per channel: the worst case, when
    /// the factory is exited unilaterally.
    pub factory_unilateral_vbytes: u64,
}

impl Comparison {
    /// The space the factory's hook saves on opening, in percent (the paper's measure).
    pub fn open_saving_percent(&self) -> f64 {
        saving(self.factory_open_vbytes, self.one_by_one_open_vbytes)
    }

    /// The space a cooperative factory saves over the channels' whole life, in percent.
    pub fn cooperative_saving_percent(&self) -> f64 {
        saving(self.factory_cooperative_vbytes, self.one_by_one_vbytes)
    }

    /// The space a unilaterally exited factory saves, in percent.
    pub fn unilateral_saving_percent(&self) -> f64 {
        saving(self.factory_unilateral_vbytes, self.one_by_one_vbytes)
    }
}

fn saving(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    100.0 * (1.0 - part as f64 / whole as f64)
}

fn vbytes(w: Weight) -> u64 {
    w.to_vbytes_ceil()
}

/// Compare, for `users` users and `channels` channels.
pub fn compare(users: usize, channels: usize) -> Comparison {
    let funding = vbytes(predict_weight(
        [InputWeightPrediction::P2WPKH_MAX],
        [P2WSH, P2WPKH],
    ));
    let mutual_close = vbytes(predict_weight([funding_spend()], [P2WPKH, P2WPKH]));
    let hook = vbytes(predict_weight(
        vec![InputWeightPrediction::P2WPKH_MAX; users],
        std::iter::once(P2TR).chain(std::iter::repeat_n(P2WPKH, users)),
    ));
    let key_path = |outputs: Vec<usize>| {
        vbytes(predict_weight(
            [InputWeightPrediction::P2TR_KEY_DEFAULT_SIGHASH],
            outputs,
        ))
    };
    let cooperative_close = key_path(vec![P2WPKH; users]);
    let kickoff = key_path(vec![P2TR]);
    let allocation = key_path(
        std::iter::repeat_n(P2WSH, channels)
            .chain(std::iter::repeat_n(P2WPKH, users))
            .collect(),
    );
    let n = channels as u64;
    Comparison {
        users,
        channels,
        one_by_one_open_vbytes: n * funding,
        factory_open_vbytes: hook,
        one_by_one_vbytes: n * (funding + mutual_close),
        factory_cooperative_vbytes: hook + cooperative_close,
        factory_unilateral_vbytes: hook + kickoff + allocation + n * mutual_close,
    }
}
