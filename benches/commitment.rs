//! Build and sign a commitment with 0, 20 and 483 HTLCs, including every
//! HTLC-transaction signature — lnkit beside rust-lightning's public
//! `lightning::ln::chan_utils` builder, same inputs, same run.
//!
//! Both sides do: derive the commitment's keys from the basepoints and the
//! per-commitment point, build the commitment, sign it (one funding
//! signature), build every HTLC transaction and sign it (derive the HTLC key,
//! sighash, ECDSA). Both sign plain RFC 6979 (LDK without `grind_signatures`).
//! lnkit also computes trimming and the fee, which LDK leaves to its caller.
//!
//! Run: `cargo bench --bench commitment`.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Amount, OutPoint, Txid};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

use lnkit::amount::Msat;
use lnkit::keys::*;
use lnkit::payment::{CltvExpiry, PaymentHash};
use lnkit::script::funding_script;
use lnkit::shachain::CommitmentNumber;
use lnkit::tx::commitment::*;
use lnkit::tx::funding::funding_spend_sighash;
use lnkit::tx::htlc::htlc_transactions;

use lightning::ln::chan_utils as ldk;
use lightning::types::features::ChannelTypeFeatures;

const FUNDING_SAT: u64 = 100_000_000;
const FEERATE: u32 = 2500;
const TO_SELF_DELAY: u16 = 144;

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

fn pk(k: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::signing_only(), k)
}

/// The HTLCs of the benchmark: alternately offered and received, all above dust.
fn htlcs(n: usize) -> Vec<(bool, u64, u32, [u8; 32])> {
    (0..n)
        .map(|i| {
            (
                i % 2 == 0,
                5_000_000 + i as u64 * 1000,
                600 + i as u32,
                [i as u8; 32],
            )
        })
        .collect()
}

/// Holder: keys 10..14 (funding, revocation, payment, delayed, htlc); counterparty 20..24.
struct Keys {
    holder: [SecretKey; 5],
    counterparty: [SecretKey; 5],
    point: PublicKey,
}

fn keys() -> Keys {
    Keys {
        holder: [key(10), key(11), key(12), key(13), key(14)],
        counterparty: [key(20), key(21), key(22), key(23), key(24)],
        point: pk(&key(42)),
    }
}

/// What lnkit's caller knows once per channel (as LDK's `ChannelTransactionParameters`).
struct LnkitChannel {
    holder: HolderBasepoints,
    counterparty: CounterpartyBasepoints,
    holder_funding: PublicKey,
    counterparty_funding: PublicKey,
    obscuring_factor: u64,
    funding_script: bitcoin::ScriptBuf,
}

fn lnkit_channel(k: &Keys) -> LnkitChannel {
    LnkitChannel {
        holder: HolderBasepoints {
            delayed_payment: DelayedPaymentBasepoint(pk(&k.holder[3])),
            htlc: HtlcBasepoint(pk(&k.holder[4])),
        },
        counterparty: CounterpartyBasepoints {
            revocation: RevocationBasepoint(pk(&k.counterparty[1])),
            payment: PaymentBasepoint(pk(&k.counterparty[2])),
            htlc: HtlcBasepoint(pk(&k.counterparty[4])),
        },
        holder_funding: pk(&k.holder[0]),
        counterparty_funding: pk(&k.counterparty[0]),
        obscuring_factor: obscuring_factor(&pk(&k.holder[2]), &pk(&k.counterparty[2])),
        funding_script: funding_script(&pk(&k.holder[0]), &pk(&k.counterparty[0])),
    }
}

fn lnkit_build_and_sign(
    secp: &Secp256k1<bitcoin::secp256k1::All>,
    k: &Keys,
    ch: &LnkitChannel,
    spec: &[(bool, u64, u32, [u8; 32])],
) -> (Txid, usize) {
    let point = PerCommitmentPoint(k.point);
    let keys = CommitmentKeys::derive(
        secp,
        &point,
        &ch.holder,
        &ch.counterparty,
        ChannelType::StaticRemotekey,
    )
    .unwrap();
    let htlcs: Vec<Htlc> = spec
        .iter()
        .map(|(offered, msat, cltv, hash)| Htlc {
            direction: if *offered {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            },
            amount: Msat(*msat),
            payment_hash: PaymentHash(*hash),
            cltv_expiry: CltvExpiry(*cltv),
        })
        .collect();
    let in_htlcs: u64 = spec.iter().map(|h| h.1).sum();
    let params = CommitmentParams {
        funding_outpoint: OutPoint::new(Txid::from_byte_array([1; 32]), 0),
        funding_amount: Amount::from_sat(FUNDING_SAT),
        holder_funding_pubkey: ch.holder_funding,
        counterparty_funding_pubkey: ch.counterparty_funding,
        channel_type: ChannelType::StaticRemotekey,
        holder_is_opener: true,
        obscuring_factor: ch.obscuring_factor,
        commitment_number: CommitmentNumber(42),
        to_self_delay: TO_SELF_DELAY,
        dust_limit: Amount::from_sat(546),
        feerate: FeeratePerKw(FEERATE),
        holder_balance: Msat((FUNDING_SAT * 1000 - in_htlcs) / 2),
        counterparty_balance: Msat(
            FUNDING_SAT * 1000 - in_htlcs - (FUNDING_SAT * 1000 - in_htlcs) / 2,
        ),
        htlcs: &htlcs,
        keys,
    };
    let built = build_commitment(&params).unwrap();
    let sig = secp.sign_ecdsa(
        &funding_spend_sighash(&built.tx, &ch.funding_script, params.funding_amount),
        &k.holder[0],
    );
    let htlc_key = derive_privkey(secp, &k.holder[4], &point).unwrap();
    let txs = htlc_transactions(secp, &built, &params, Some(&htlc_key), None, &[]);
    black_box(sig);
    (built.tx.compute_txid(), txs.len())
}

fn ldk_params(k: &Keys) -> ldk::ChannelTransactionParameters {
    let keys = |s: &[SecretKey; 5]| ldk::ChannelPublicKeys {
        funding_pubkey: pk(&s[0]),
        revocation_basepoint: pk(&s[1]).into(),
        payment_point: pk(&s[2]),
        delayed_payment_basepoint: pk(&s[3]).into(),
        htlc_basepoint: pk(&s[4]).into(),
    };
    ldk::ChannelTransactionParameters {
        holder_pubkeys: keys(&k.holder),
        holder_selected_contest_delay: TO_SELF_DELAY,
        is_outbound_from_holder: true,
        counterparty_parameters: Some(ldk::CounterpartyChannelTransactionParameters {
            pubkeys: keys(&k.counterparty),
            selected_contest_delay: TO_SELF_DELAY,
        }),
        funding_outpoint: Some(lightning::chain::transaction::OutPoint {
            txid: Txid::from_byte_array([1; 32]),
            index: 0,
        }),
        splice_parent_funding_txid: None,
        channel_type_features: ChannelTypeFeatures::only_static_remote_key(),
        channel_value_satoshis: FUNDING_SAT,
    }
}

struct FixedEntropy;
impl lightning::sign::EntropySource for FixedEntropy {
    fn get_secure_random_bytes(&self) -> [u8; 32] {
        [7; 32]
    }
}

fn ldk_build_and_sign(
    secp: &Secp256k1<bitcoin::secp256k1::All>,
    k: &Keys,
    params: &ldk::ChannelTransactionParameters,
    spec: &[(bool, u64, u32, [u8; 32])],
) -> (Txid, usize) {
    let directed = params.as_holder_broadcastable();
    let in_htlcs: u64 = spec.iter().map(|h| h.1).sum();
    let fee = FEERATE as u64 * (724 + 172 * spec.len() as u64) / 1000;
    let to_holder = (FUNDING_SAT * 1000 - in_htlcs) / 2 / 1000 - fee;
    let to_counterparty =
        (FUNDING_SAT * 1000 - in_htlcs - (FUNDING_SAT * 1000 - in_htlcs) / 2) / 1000;
    let nondust = spec
        .iter()
        .map(|(offered, msat, cltv, hash)| ldk::HTLCOutputInCommitment {
            offered: *offered,
            amount_msat: *msat,
            cltv_expiry: *cltv,
            payment_hash: lightning::types::payment::PaymentHash(*hash),
            transaction_output_index: None,
        })
        .collect();
    // LDK counts commitment numbers down from 2^48 - 1, as the shachain index does.
    let ldk_number = (1u64 << 48) - 1 - 42;
    let commitment = ldk::CommitmentTransaction::new(
        ldk_number,
        &k.point,
        to_holder,
        to_counterparty,
        FEERATE,
        nondust,
        &directed,
        secp,
    );
    let fscript = ldk::make_funding_redeemscript(&pk(&k.holder[0]), &pk(&k.counterparty[0]));
    let trusted = commitment.trust();
    let sig = trusted.built_transaction().sign_counterparty_commitment(
        &k.holder[0],
        &fscript,
        FUNDING_SAT,
        secp,
    );
    let sigs = trusted
        .get_htlc_sigs(&k.holder[4], &directed, &&FixedEntropy, secp)
        .unwrap();
    black_box(sig);
    (trusted.txid(), sigs.len())
}

fn bench(c: &mut Criterion) {
    let secp = Secp256k1::new();
    let k = keys();
    let params = ldk_params(&k);
    let ch = lnkit_channel(&k);
    let mut group = c.benchmark_group("commitment_build_and_sign");
    for n in [0usize, 20, 483] {
        let spec = htlcs(n);
        // Same work on both sides: the very same commitment, n HTLC signatures.
        let (ours, ours_n) = lnkit_build_and_sign(&secp, &k, &ch, &spec);
        let (theirs, theirs_n) = ldk_build_and_sign(&secp, &k, &params, &spec);
        assert_eq!(
            (ours, ours_n),
            (theirs, theirs_n),
            "both build the same commitment"
        );
        assert_eq!(ours_n, n);
        group.bench_with_input(BenchmarkId::new("lnkit", n), &spec, |b, spec| {
            b.iter(|| lnkit_build_and_sign(&secp, &k, &ch, black_box(spec)))
        });
        group.bench_with_input(BenchmarkId::new("rust-lightning", n), &spec, |b, spec| {
            b.iter(|| ldk_build_and_sign(&secp, &k, &params, black_box(spec)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
