//! Randomized commitments: 0–483 random HTLCs at random feerates, every
//! channel type, both holders. Checks the balance identity (outputs + fee
//! accounted term by term = funding), that the two parties' commitments for
//! the same state mirror each other, and that the signed commitment and
//! every signed HTLC transaction pass Bitcoin Core's interpreter.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Amount, OutPoint, TxOut, Txid};
use lnkit::amount::Msat;
use lnkit::keys::*;
use lnkit::payment::{CltvExpiry, PaymentPreimage};
use lnkit::script::funding_script;
use lnkit::shachain::CommitmentNumber;
use lnkit::tx::commitment::*;
use lnkit::tx::funding::{funding_spend_sighash, funding_witness};
use lnkit::tx::htlc::htlc_transactions;
use lnkit::verify::verify_transaction;
use proptest::prelude::*;

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

struct Party {
    funding: SecretKey,
    revocation: SecretKey,
    payment: SecretKey,
    delayed: SecretKey,
    htlc: SecretKey,
}

fn party(base: u8) -> Party {
    Party {
        funding: key(base),
        revocation: key(base + 1),
        payment: key(base + 2),
        delayed: key(base + 3),
        htlc: key(base + 4),
    }
}

fn pk(k: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::signing_only(), k)
}

#[derive(Debug, Clone)]
struct State {
    channel_type: ChannelType,
    funding_sat: u64,
    local_msat: u64,
    htlcs: Vec<(bool, u64, u32, u8)>, // offered by local?, amount_msat, cltv, preimage byte
    feerate: u32,
    dust: u64,
}

fn state() -> impl Strategy<Value = State> {
    (
        0usize..4,
        1_000_000u64..50_000_000,
        0usize..=483,
        0u32..20_000,
        354u64..5_000,
    )
        .prop_flat_map(|(t, funding_sat, n, feerate, dust)| {
            let per_htlc_max = (funding_sat * 1000 / 2) / (n.max(1) as u64);
            (
                Just(ChannelType::ALL[t].1),
                Just(funding_sat),
                proptest::collection::vec(
                    (
                        any::<bool>(),
                        1u64..=per_htlc_max.max(1),
                        100u32..1000,
                        any::<u8>(),
                    ),
                    n,
                ),
                Just(feerate),
                Just(dust),
                0u64..=1000,
            )
        })
        .prop_map(
            |(channel_type, funding_sat, htlcs, feerate, dust, local_share)| {
                let in_htlcs: u64 = htlcs.iter().map(|h| h.1).sum();
                let rest = funding_sat * 1000 - in_htlcs;
                State {
                    channel_type,
                    funding_sat,
                    local_msat: rest / 1000 * local_share,
                    htlcs,
                    feerate,
                    dust,
                }
            },
        )
}

struct Built {
    commitment: CommitmentTransaction,
    htlcs: Vec<Htlc>,
}

fn build(
    st: &State,
    holder: Side,
    local: &Party,
    remote: &Party,
    pcs: &PerCommitmentSecret,
    verify: bool,
) -> Result<Built, TestCaseError> {
    let secp = Secp256k1::new();
    let (h, c) = match holder {
        Side::Local => (local, remote),
        Side::Remote => (remote, local),
    };
    let point = pcs.point(&secp);
    let keys = CommitmentKeys::derive(
        &secp,
        &point,
        &HolderBasepoints {
            delayed_payment: DelayedPaymentBasepoint(pk(&h.delayed)),
            htlc: HtlcBasepoint(pk(&h.htlc)),
        },
        &CounterpartyBasepoints {
            revocation: RevocationBasepoint(pk(&c.revocation)),
            payment: PaymentBasepoint(pk(&c.payment)),
            htlc: HtlcBasepoint(pk(&c.htlc)),
        },
        st.channel_type,
    )
    .unwrap();
    let htlcs: Vec<Htlc> = st
        .htlcs
        .iter()
        .map(|(offered_by_local, amount, cltv, pre)| Htlc {
            direction: if *offered_by_local == (holder == Side::Local) {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            },
            amount: Msat(*amount),
            payment_hash: PaymentPreimage([*pre; 32]).payment_hash(),
            cltv_expiry: CltvExpiry(*cltv),
        })
        .collect();
    let funding_amount = Amount::from_sat(st.funding_sat);
    let remote_msat =
        st.funding_sat * 1000 - st.local_msat - st.htlcs.iter().map(|h| h.1).sum::<u64>();
    let (hb, cb) = match holder {
        Side::Local => (st.local_msat, remote_msat),
        Side::Remote => (remote_msat, st.local_msat),
    };
    let params = CommitmentParams {
        funding_outpoint: OutPoint::new(Txid::from_byte_array([7; 32]), 1),
        funding_amount,
        holder_funding_pubkey: pk(&h.funding),
        counterparty_funding_pubkey: pk(&c.funding),
        channel_type: st.channel_type,
        holder_is_opener: holder == Side::Local,
        obscuring_factor: obscuring_factor(&pk(&local.payment), &pk(&remote.payment)),
        commitment_number: CommitmentNumber(1234),
        to_self_delay: 144,
        dust_limit: Amount::from_sat(st.dust),
        feerate: FeeratePerKw(st.feerate),
        holder_balance: Msat(hb),
        counterparty_balance: Msat(cb),
        htlcs: &htlcs,
        keys,
    };
    let built = build_commitment(&params).unwrap();
    prop_assume!(built.opener_shortfall.is_none());

    // The balance identity, term by term.
    let out_sum: Amount = built.outputs.iter().map(|o| o.amount).sum();
    let trimmed: Amount = built
        .trimmed
        .iter()
        .map(|i| htlcs[*i].amount.to_sat_floor())
        .sum();
    let rounding = funding_amount
        - Msat(hb).to_sat_floor()
        - Msat(cb).to_sat_floor()
        - htlcs
            .iter()
            .map(|h| h.amount.to_sat_floor())
            .sum::<Amount>();
    let anchors_taken = if st.channel_type.has_anchors() {
        ANCHOR_OUTPUT_VALUE * 2
    } else {
        Amount::ZERO
    };
    let anchors_made = built
        .outputs
        .iter()
        .filter(|o| matches!(o.kind, OutputKind::AnchorLocal | OutputKind::AnchorRemote))
        .count() as u64;
    let holder_after = Msat(hb).to_sat_floor()
        - if params.holder_is_opener {
            built.base_fee + anchors_taken
        } else {
            Amount::ZERO
        };
    let counterparty_after = Msat(cb).to_sat_floor()
        - if params.holder_is_opener {
            Amount::ZERO
        } else {
            built.base_fee + anchors_taken
        };
    let dropped: Amount = [
        (OutputKind::ToLocal, holder_after),
        (OutputKind::ToRemote, counterparty_after),
    ]
    .into_iter()
    .filter(|(k, _)| !built.outputs.iter().any(|o| o.kind == *k))
    .map(|(_, v)| v)
    .sum();
    let unmade_anchors = anchors_taken - ANCHOR_OUTPUT_VALUE * anchors_made;
    prop_assert_eq!(
        built.fee,
        built.base_fee + trimmed + dropped + rounding + unmade_anchors
    );
    prop_assert_eq!(out_sum + built.fee, funding_amount);
    prop_assert_eq!(
        built.expected_weight,
        st.channel_type.commitment_base_weight() + 172 * (htlcs.len() - built.trimmed.len()) as u64
    );

    if verify {
        // Signed by both funding keys, the commitment passes Bitcoin Core; so does every HTLC tx.
        let fscript = funding_script(&pk(&local.funding), &pk(&remote.funding));
        let msg = funding_spend_sighash(&built.tx, &fscript, funding_amount);
        let mut signed = built.tx.clone();
        signed.input[0].witness = funding_witness(
            &fscript,
            (&pk(&local.funding), &secp.sign_ecdsa(&msg, &local.funding)),
            (
                &pk(&remote.funding),
                &secp.sign_ecdsa(&msg, &remote.funding),
            ),
        );
        let funding_out = TxOut {
            value: funding_amount,
            script_pubkey: fscript.to_p2wsh(),
        };
        verify_transaction(&signed, &[funding_out])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let hk = derive_privkey(&secp, &h.htlc, &point).unwrap();
        let ck = derive_privkey(&secp, &c.htlc, &point).unwrap();
        let preimages: Vec<_> = st
            .htlcs
            .iter()
            .map(|x| Some(PaymentPreimage([x.3; 32])))
            .collect();
        let mut committed = built.clone();
        committed.tx = signed.clone();
        for t in htlc_transactions(&secp, &committed, &params, Some(&hk), Some(&ck), &preimages) {
            let tx = t.signed.expect("both keys and every preimage given");
            verify_transaction(&tx, &[signed.output[t.output_index as usize].clone()])
                .map_err(|e| TestCaseError::fail(format!("{}: {e}", t.kind.name())))?;
        }
    }
    Ok(Built {
        commitment: built,
        htlcs,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_commitments_balance_mirror_and_verify(st in state(), seed in any::<[u8; 32]>()) {
        let pcs = PerCommitmentSecret(SecretKey::from_slice(&seed).unwrap_or(key(9)));
        let (local, remote) = (party(10), party(20));
        let ours = build(&st, Side::Local, &local, &remote, &pcs, true)?;
        let theirs = build(&st, Side::Remote, &local, &remote, &pcs, false)?;
        let (a, b) = (&ours.commitment, &theirs.commitment);
        // The same state seen by each party: the same commitment number...
        prop_assert_eq!(a.obscured_commitment_number, b.obscured_commitment_number);
        prop_assert_eq!(a.tx.lock_time, b.tx.lock_time);
        // ...the non-opener (remote) keeps the same output, the opener (local) pays each side's base fee...
        let amount_of = |c: &CommitmentTransaction, k| c.outputs.iter().find(|o| o.kind == k).map(|o| o.amount);
        prop_assert_eq!(amount_of(a, OutputKind::ToRemote), amount_of(b, OutputKind::ToLocal));
        if let (Some(x), Some(y)) = (amount_of(a, OutputKind::ToLocal), amount_of(b, OutputKind::ToRemote)) {
            prop_assert_eq!(x + a.base_fee, y + b.base_fee);
        }
        // ...and each HTLC is trimmed in each commitment by BOLT 3's rule for its direction there:
        // amount < dust_limit + the fee of its second-stage tx (663 / 703 weight, 666 / 706 with
        // anchor_outputs, nothing with zero-fee HTLC txs).
        let (timeout_w, success_w) = match st.channel_type {
            ChannelType::AnchorsZeroFeeHtlcTx => (0, 0),
            ChannelType::AnchorOutputs => (666, 706),
            _ => (663, 703),
        };
        for (i, (offered_by_local, amount, _, _)) in st.htlcs.iter().enumerate() {
            let threshold = |w: u64| st.dust + u64::from(st.feerate) * w / 1000;
            let (in_ours, in_theirs) = if *offered_by_local { (timeout_w, success_w) } else { (success_w, timeout_w) };
            prop_assert_eq!(a.trimmed.contains(&i), amount / 1000 < threshold(in_ours));
            prop_assert_eq!(b.trimmed.contains(&i), amount / 1000 < threshold(in_theirs));
        }
        if st.channel_type == ChannelType::AnchorsZeroFeeHtlcTx {
            prop_assert_eq!(&a.trimmed, &b.trimmed);
            prop_assert_eq!(a.fee, b.fee);
        }
        // Each offered HTLC of one is a received HTLC of the other.
        for (x, y) in ours.htlcs.iter().zip(&theirs.htlcs) {
            prop_assert_eq!(x.direction, y.direction.flip());
        }
    }
}

#[test]
fn the_maximum_483_htlcs_each_way_build_and_verify() {
    for (_, channel_type) in ChannelType::ALL {
        let htlcs: Vec<_> = (0..483u32)
            .map(|i| {
                (
                    i % 2 == 0,
                    20_000_000 + u64::from(i) * 1000,
                    500 + i,
                    (i % 251) as u8,
                )
            })
            .collect();
        let in_htlcs: u64 = htlcs.iter().map(|h| h.1).sum();
        let st = State {
            channel_type,
            funding_sat: 100_000_000,
            local_msat: (100_000_000_000 - in_htlcs) / 2,
            htlcs,
            feerate: 253,
            dust: 546,
        };
        let pcs = PerCommitmentSecret(key(99));
        let ours = build(&st, Side::Local, &party(10), &party(20), &pcs, true).unwrap();
        assert!(ours.commitment.trimmed.is_empty());
        assert_eq!(
            ours.commitment
                .outputs
                .iter()
                .filter(|o| o.htlc.is_some())
                .count(),
            483
        );
        build(&st, Side::Remote, &party(10), &party(20), &pcs, true).unwrap();
    }
}
