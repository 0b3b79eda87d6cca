//! The walkthrough's third act: commitments 0, 1 (with an HTLC) and 2 for
//! both sides, each signed by both and checked by Bitcoin Core's
//! interpreter, HTLC transactions included.

use serde_json::{json, Value};

use super::build_commitment;
use super::walk::{merged, tx_of, Walk};
use super::walkthrough::{DEMO_PAYMENT_PREIMAGE, LOCAL_SHACHAIN_SEED, REMOTE_SHACHAIN_SEED};
use super::CliError;
use crate::verify;

/// Each commitment, by number and holder, with the input it was built from.
pub(super) type Commitments = Vec<((u64, &'static str), Value)>;

fn seed(holder: &str) -> &'static str {
    if holder == "local" {
        LOCAL_SHACHAIN_SEED
    } else {
        REMOTE_SHACHAIN_SEED
    }
}

/// Build and check every commitment of the walk on `channel`.
pub(super) fn commitments(w: &mut Walk, channel: &Value) -> Result<Commitments, CliError> {
    let preimage = DEMO_PAYMENT_PREIMAGE;
    let mut commitments = vec![];
    for (n, local_msat, remote_msat, with_htlc, about) in [
        (0, 10_000_000_000u64, 0u64, false, "commitment 0: all funds are the opener's; the fee and both anchors come out of them"),
        (1, 8_000_000_000, 0, true, "commitment 1: local offers a 2,000,000,000 msat HTLC (update_add_htlc, commitment_signed); each side also gets the HTLC-timeout/success transaction of its HTLC output"),
        (2, 8_000_000_000, 2_000_000_000, false, "commitment 2: remote fulfilled the HTLC with the preimage (update_fulfill_htlc); its amount moves to remote"),
    ] {
        for holder in ["local", "remote"] {
            let htlcs = if with_htlc {
                let direction = if holder == "local" { "offered" } else { "received" };
                json!([{ "direction": direction, "amount_msat": 2_000_000_000u64, "payment_preimage": preimage, "cltv_expiry": 1000 }])
            } else {
                json!([])
            };
            let input = merged(channel, json!({
                "holder": holder, "commitment_number": n, "shachain_seed": seed(holder),
                "to_local_msat": local_msat, "to_remote_msat": remote_msat, "htlcs": htlcs, "verify": true,
            }));
            let out = w.step(
                &format!("lnkit build-commitment --holder {holder}"),
                &format!("{about} ({holder}'s copy, signed by both sides and verified)"),
                input.clone(),
                build_commitment::build,
            )?;
            commitments.push(((n, holder), merged(&input, out)));
        }
    }
    let htlc_txs_ok = commitments.iter().all(|(_, c)| {
        let Ok(commit) = tx_of(c, "signed_tx_hex") else {
            return false;
        };
        c["htlc_txs"].as_array().is_some_and(|txs| {
            txs.iter().all(|t| {
                let vout = t["output_index"].as_u64().unwrap_or(u64::MAX) as usize;
                tx_of(t, "signed_tx_hex").is_ok_and(|t| {
                    commit.output.get(vout).is_some_and(|o| {
                        verify::verify_transaction(&t, std::slice::from_ref(o)).is_ok()
                    })
                })
            })
        })
    });
    w.check(
        "every HTLC-timeout/success transaction passes Bitcoin Core's interpreter against the HTLC output it spends",
        htlc_txs_ok && commitments.iter().any(|(_, c)| c["htlc_txs"].as_array().is_some_and(|t| !t.is_empty())),
    )?;
    Ok(commitments)
}
