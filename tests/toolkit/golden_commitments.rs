//! BOLT 3 Appendix C and F (and the removed legacy / anchor_outputs
//! appendices): every commitment transaction, both its signatures and every
//! HTLC transaction with its signatures, byte for byte — 55 commitments and
//! 109 HTLC transactions. Each commitment is also checked by Bitcoin Core's
//! interpreter against the funding output, and each HTLC transaction against
//! the commitment output it spends.

use crate::common;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Amount, OutPoint, TxOut, Txid};
use common::s;
use common::vectors::{appendices, cli_input};
use lnkit::amount::Msat;
use lnkit::keys::*;
use lnkit::payment::{CltvExpiry, PaymentPreimage};
use lnkit::script::funding_script;
use lnkit::shachain::CommitmentNumber;
use lnkit::tx::commitment::*;
use lnkit::tx::funding::{funding_spend_sighash, funding_witness};
use lnkit::tx::htlc::*;
use lnkit::verify::verify_transaction;
use serde_json::Value;

fn pk(v: &Value, f: &str) -> PublicKey {
    s(v, f).parse().unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn sk(v: &Value, f: &str) -> SecretKey {
    s(v, f).parse().unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn channel_type(case: &Value) -> ChannelType {
    match s(case, "channel_type").split_whitespace().next().unwrap() {
        "static_remotekey" => ChannelType::StaticRemotekey,
        "anchors_zero_fee_htlc_tx" => ChannelType::AnchorsZeroFeeHtlcTx,
        "legacy" => ChannelType::Legacy,
        "anchor_outputs" => ChannelType::AnchorOutputs,
        other => panic!("{other}"),
    }
}

#[test]
fn every_commitment_and_htlc_transaction_byte_for_byte() {
    let secp = Secp256k1::new();
    let (mut commitments, mut htlc_txs) = (0, 0);
    for a in appendices() {
        let (p, sec) = (&a.params, &a.secrets);
        let local_funding = sk(p, "local_funding_privkey");
        let remote_funding = sk(&a.secrets, "remote_funding_privkey");
        let local_funding_pk = PublicKey::from_secret_key(&secp, &local_funding);
        let remote_funding_pk = PublicKey::from_secret_key(&secp, &remote_funding);
        assert_eq!(local_funding_pk, pk(p, "local_funding_pubkey"));
        assert_eq!(remote_funding_pk, pk(p, "remote_funding_pubkey"));
        let fscript = funding_script(&local_funding_pk, &remote_funding_pk);
        assert_eq!(
            hex::encode(fscript.as_bytes()),
            s(p, "funding_witness_script")
        );
        let funding_amount = Amount::from_sat(p["funding_amount_satoshi"].as_u64().unwrap());
        let funding_txid: Txid = s(p, "funding_tx_id").parse().unwrap();
        let funding_outpoint = OutPoint::new(
            funding_txid,
            p["funding_output_index"].as_u64().unwrap() as u32,
        );
        let funding_out = TxOut {
            value: funding_amount,
            script_pubkey: fscript.to_p2wsh(),
        };

        let point = PerCommitmentPoint(pk(sec, "local_per_commitment_point"));
        let local_payment = pk(p, "local_payment_basepoint");
        let remote_payment = pk(p, "remote_payment_basepoint");
        let factor = obscuring_factor(&local_payment, &remote_payment);
        assert_eq!(format!("{factor:012x}"), s(p, "obscuring_factor"));

        // The HTLC basepoints equal the payment basepoints in these vectors.
        let holder = HolderBasepoints {
            delayed_payment: DelayedPaymentBasepoint(pk(sec, "local_delayed_payment_basepoint")),
            htlc: HtlcBasepoint(local_payment),
        };
        let counterparty = CounterpartyBasepoints {
            revocation: RevocationBasepoint(pk(sec, "remote_revocation_basepoint")),
            payment: PaymentBasepoint(remote_payment),
            htlc: HtlcBasepoint(remote_payment),
        };
        let local_htlc_key = sk(p, "local_privkey");
        let remote_htlc_key = sk(sec, "remote_privkey");

        for case in &a.cases {
            let name = format!("{} / {}", a.name, s(case, "name"));
            let ct = channel_type(case);
            let keys = CommitmentKeys::derive(&secp, &point, &holder, &counterparty, ct).unwrap();
            assert_eq!(keys.revocation.0, pk(p, "local_revocation_pubkey"));
            assert_eq!(keys.holder_delayed.0, pk(p, "local_delayedpubkey"));
            // The HTLC privkeys of the vectors are those of the derived HTLC pubkeys.
            assert_eq!(
                PublicKey::from_secret_key(&secp, &local_htlc_key),
                keys.holder_htlc.0
            );
            assert_eq!(
                PublicKey::from_secret_key(&secp, &remote_htlc_key),
                keys.counterparty_htlc.0
            );

            let i = &case["inputs"];
            let htlcs: Vec<Htlc> = i["htlc_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| {
                    let h = a.htlcs.iter().find(|h| h["id"] == *id).unwrap();
                    let preimage = PaymentPreimage(
                        hex::decode(s(h, "payment_preimage"))
                            .unwrap()
                            .try_into()
                            .unwrap(),
                    );
                    Htlc {
                        direction: match s(h, "type_in_local_commitment") {
                            "offered" => HtlcDirection::Offered,
                            _ => HtlcDirection::Received,
                        },
                        amount: Msat(h["amount_msat"].as_u64().unwrap()),
                        payment_hash: preimage.payment_hash(),
                        cltv_expiry: CltvExpiry(h["cltv_expiry"].as_u64().unwrap() as u32),
                    }
                })
                .collect();
            let params = CommitmentParams {
                funding_outpoint,
                funding_amount,
                holder_funding_pubkey: local_funding_pk,
                counterparty_funding_pubkey: remote_funding_pk,
                channel_type: ct,
                holder_is_opener: true,
                obscuring_factor: factor,
                commitment_number: CommitmentNumber(p["commitment_number"].as_u64().unwrap()),
                to_self_delay: p["local_delay"].as_u64().unwrap() as u16,
                dust_limit: Amount::from_sat(i["dust_limit_satoshi"].as_u64().unwrap()),
                feerate: FeeratePerKw(i["feerate_per_kw"].as_u64().unwrap() as u32),
                holder_balance: Msat(i["to_local_msat"].as_u64().unwrap()),
                counterparty_balance: Msat(i["to_remote_msat"].as_u64().unwrap()),
                htlcs: &htlcs,
                keys,
            };
            let built = build_commitment(&params).unwrap();
            let e = &case["expected"];
            if let Some(fee) = e["base_fee_satoshi"].as_u64() {
                assert_eq!(built.base_fee.to_sat(), fee, "{name}");
            }
            assert_eq!(
                built.fee.to_sat(),
                case["derived"]["fee_satoshi"].as_u64().unwrap(),
                "{name}"
            );
            let trimmed_ids: Vec<Value> = built
                .trimmed
                .iter()
                .map(|k| i["htlc_ids"][*k].clone())
                .collect();
            assert_eq!(
                Value::from(trimmed_ids),
                case["derived"]["trimmed_htlc_ids"],
                "{name}"
            );

            // Both signatures, then the witness, then the whole transaction.
            let msg = funding_spend_sighash(&built.tx, &fscript, funding_amount);
            let local_sig = secp.sign_ecdsa(&msg, &local_funding);
            let remote_sig = secp.sign_ecdsa(&msg, &remote_funding);
            let expected_local = e["local_signature"]
                .as_str()
                .or(case["derived"]["local_signature"].as_str())
                .unwrap();
            assert_eq!(
                hex::encode(local_sig.serialize_der()),
                expected_local,
                "{name}: local_signature"
            );
            assert_eq!(
                hex::encode(remote_sig.serialize_der()),
                s(e, "remote_signature"),
                "{name}: remote_signature"
            );
            let mut signed = built.tx.clone();
            signed.input[0].witness = funding_witness(
                &fscript,
                (&local_funding_pk, &local_sig),
                (&remote_funding_pk, &remote_sig),
            );
            assert_eq!(
                serialize_hex(&signed),
                s(e, "commit_tx_hex"),
                "{name}: commitment tx"
            );
            verify_transaction(&signed, std::slice::from_ref(&funding_out)).unwrap();
            commitments += 1;

            // Every HTLC transaction, in commitment-output order.
            let txid = signed.compute_txid();
            let expected_txs = e["htlc_txs"].as_array().unwrap();
            let htlc_outputs: Vec<(usize, &CommitmentOutput)> = built
                .outputs
                .iter()
                .enumerate()
                .filter(|(_, o)| o.htlc.is_some())
                .collect();
            assert_eq!(
                htlc_outputs.len(),
                expected_txs.len(),
                "{name}: number of HTLC txs"
            );
            for ((index, output), want) in htlc_outputs.into_iter().zip(expected_txs) {
                let htlc = &htlcs[output.htlc.unwrap()];
                let mut tx = build_htlc_tx(txid, index as u32, output, htlc, &params);
                let script = output.witness_script.as_ref().unwrap();
                let remote_type = counterparty_sighash_type(ct);
                let remote = secp.sign_ecdsa(
                    &htlc_sighash(&tx, script, output.amount, remote_type),
                    &remote_htlc_key,
                );
                let local = secp.sign_ecdsa(
                    &htlc_sighash(&tx, script, output.amount, bitcoin::EcdsaSighashType::All),
                    &local_htlc_key,
                );
                assert_eq!(
                    hex::encode(remote.serialize_der()),
                    s(want, "remote_htlc_signature"),
                    "{name}"
                );
                if let Some(l) = want["local_htlc_signature"].as_str() {
                    assert_eq!(hex::encode(local.serialize_der()), l, "{name}");
                }
                let preimage = (htlc.direction == HtlcDirection::Received).then(|| {
                    let h = a.htlcs.iter().find(|h| {
                        let p = PaymentPreimage(
                            hex::decode(s(h, "payment_preimage"))
                                .unwrap()
                                .try_into()
                                .unwrap(),
                        );
                        p.payment_hash() == htlc.payment_hash
                    });
                    PaymentPreimage(
                        hex::decode(s(h.unwrap(), "payment_preimage"))
                            .unwrap()
                            .try_into()
                            .unwrap(),
                    )
                });
                tx.input[0].witness =
                    htlc_tx_witness(&remote, remote_type, &local, preimage.as_ref(), script);
                assert_eq!(
                    serialize_hex(&tx),
                    s(want, "tx_hex"),
                    "{name}: HTLC tx at output {index}"
                );
                verify_transaction(&tx, &[signed.output[index].clone()]).unwrap();
                htlc_txs += 1;
            }
        }
    }
    assert_eq!(commitments, 55);
    assert_eq!(htlc_txs, 109);
}

#[test]
fn build_commitment_cli_reproduces_every_vector() {
    let (mut commitments, mut htlc_txs) = (0, 0);
    for a in appendices() {
        for case in &a.cases {
            let name = format!("{} / {}", a.name, s(case, "name"));
            let mut input = cli_input(&a, case);
            let e = &case["expected"];
            if s(case, "name").contains("fee greater than funder amount") {
                // Refused by default, with what the opener can afford...
                common::lnkit_json(&["build-commitment"], &input).assert_bad_input(
                    "feerate_per_kw",
                    &[
                        "short of the base fee",
                        "can afford at most feerate_per_kw 9651935",
                    ],
                );
                // ...and built as the spec's vector when asked to.
                input["allow_unaffordable_fee"] = Value::Bool(true);
            }
            let out = common::lnkit_json(&["build-commitment", "--verify"], &input).json();
            assert_eq!(s(&out, "signed_tx_hex"), s(e, "commit_tx_hex"), "{name}");
            assert_eq!(
                s(&out, "remote_signature"),
                s(e, "remote_signature"),
                "{name}"
            );
            assert_eq!(out["verified"], true);
            assert_eq!(out["obscuring_factor"], a.params["obscuring_factor"]);
            commitments += 1;
            let txs = out["htlc_txs"].as_array().unwrap();
            assert_eq!(txs.len(), e["htlc_txs"].as_array().unwrap().len(), "{name}");
            for (ours, want) in txs.iter().zip(e["htlc_txs"].as_array().unwrap()) {
                assert_eq!(s(ours, "signed_tx_hex"), s(want, "tx_hex"), "{name}");
                assert_eq!(
                    ours["remote_htlc_signature"], want["remote_htlc_signature"],
                    "{name}"
                );
                htlc_txs += 1;
            }
        }
    }
    assert_eq!((commitments, htlc_txs), (55, 109));
}
