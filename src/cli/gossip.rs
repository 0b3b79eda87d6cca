//! `lnkit gossip sign | verify`: BOLT 7 announcements and updates.

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{PublicKey, Secp256k1};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::input::{self, Input};
use super::wire::message_json;
use super::{hex, CliError, Explain, StepResult};
use crate::wire::message::{self, Message, MessageSchema, Value as V};
use crate::wire::{features, gossip, tlv};

/// `lnkit gossip ...`
#[derive(Subcommand, Debug)]
pub enum GossipCommand {
    /// Build and sign a channel_announcement, node_announcement or channel_update.
    Sign(SignArgs),
    /// Check every signature (and, given the funding tx, a channel_announcement's funding output).
    Verify,
}

/// Flags of `lnkit gossip sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// channel_announcement, node_announcement or channel_update (field `kind`).
    #[arg(long)]
    kind: Option<String>,
}

fn chain_hash(input: &Input) -> Result<Vec<u8>, CliError> {
    match input.opt("chain_hash", input::bytes32)? {
        Some(h) => Ok(h.to_vec()),
        None => Ok(ChainHash::using_genesis_block(input.network()?)
            .to_bytes()
            .to_vec()),
    }
}

fn feature_names(input: &Input) -> Result<Vec<u8>, CliError> {
    let mut bits = vec![];
    if let Some(Value::Array(names)) = input.raw("features") {
        for (i, n) in names.iter().enumerate() {
            bits.push(
                features::bit_of(n.as_str().unwrap_or(""))
                    .map_err(|e| input.error(&format!("features[{i}]"), e))?,
            );
        }
    }
    Ok(features::from_bits(&bits))
}

fn scid(input: &Input) -> Result<u64, CliError> {
    input.req("short_channel_id", |v| {
        v.as_str()
            .and_then(tlv::scid_from_str)
            .ok_or_else(|| "expected BLOCKxTXxOUTPUT".to_string())
    })
}

/// Run `lnkit gossip ...`.
pub fn run(cmd: GossipCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    match cmd {
        GossipCommand::Sign(args) => {
            super::flag(input, "kind", args.kind);
            let kind = input.req(
                "kind",
                input::one_of(&[
                    "channel_announcement",
                    "node_announcement",
                    "channel_update",
                ]),
            )?;
            let schema = MessageSchema::by_name(kind).expect("listed");
            let mut m = Message {
                typ: schema.typ,
                name: Some(kind),
                fields: vec![],
                tlvs: vec![],
                raw: None,
            };
            let push = |m: &mut Message, f: &'static str, v: V| m.fields.push((f, v));
            let bytes = match kind {
                "channel_announcement" => {
                    let mut keys = [
                        (
                            input.req("node_privkey_1", input::secret_key)?,
                            input.req("bitcoin_privkey_1", input::secret_key)?,
                        ),
                        (
                            input.req("node_privkey_2", input::secret_key)?,
                            input.req("bitcoin_privkey_2", input::secret_key)?,
                        ),
                    ];
                    // BOLT 7: node_id_1 is the lexicographically lesser node id; each bitcoin key goes with its node.
                    let pk =
                        |k: &bitcoin::secp256k1::SecretKey| PublicKey::from_secret_key(&secp, k);
                    if pk(&keys[0].0).serialize() > pk(&keys[1].0).serialize() {
                        keys.swap(0, 1);
                    }
                    for f in [
                        "node_signature_1",
                        "node_signature_2",
                        "bitcoin_signature_1",
                        "bitcoin_signature_2",
                    ] {
                        push(&mut m, f, V::Bytes(vec![0; 64]));
                    }
                    push(&mut m, "features", V::Features(feature_names(input)?));
                    push(&mut m, "chain_hash", V::Bytes(chain_hash(input)?));
                    push(&mut m, "short_channel_id", V::Scid(scid(input)?));
                    push(&mut m, "node_id_1", V::Point(pk(&keys[0].0)));
                    push(&mut m, "node_id_2", V::Point(pk(&keys[1].0)));
                    push(&mut m, "bitcoin_key_1", V::Point(pk(&keys[0].1)));
                    push(&mut m, "bitcoin_key_2", V::Point(pk(&keys[1].1)));
                    let signers = [
                        ("node_signature_1", &keys[0].0),
                        ("node_signature_2", &keys[1].0),
                        ("bitcoin_signature_1", &keys[0].1),
                        ("bitcoin_signature_2", &keys[1].1),
                    ];
                    gossip::sign(&secp, &mut m, &signers)
                }
                "node_announcement" => {
                    let key = input.req("node_privkey", input::secret_key)?;
                    let alias = input
                        .opt("alias", |v| {
                            v.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| "expected a string".into())
                        })?
                        .unwrap_or_default();
                    if alias.len() > 32 {
                        return Err(
                            input.error("alias", format!("at most 32 bytes, got {}", alias.len()))
                        );
                    }
                    let mut alias_bytes = alias.into_bytes();
                    alias_bytes.resize(32, 0);
                    let rgb = input
                        .opt("rgb_color", input::hex_bytes)?
                        .unwrap_or(vec![0, 0, 0]);
                    if rgb.len() != 3 {
                        return Err(input.error("rgb_color", "expected 3 bytes of hex"));
                    }
                    push(&mut m, "signature", V::Bytes(vec![0; 64]));
                    push(&mut m, "features", V::Features(feature_names(input)?));
                    push(
                        &mut m,
                        "timestamp",
                        V::Uint(u64::from(input.req("timestamp", input::uint32)?)),
                    );
                    push(
                        &mut m,
                        "node_id",
                        V::Point(PublicKey::from_secret_key(&secp, &key)),
                    );
                    push(&mut m, "rgb_color", V::Bytes(rgb));
                    push(&mut m, "alias", V::Bytes(alias_bytes));
                    push(
                        &mut m,
                        "addresses",
                        V::Bytes(
                            input
                                .opt("addresses_hex", input::hex_bytes)?
                                .unwrap_or_default(),
                        ),
                    );
                    gossip::sign(&secp, &mut m, &[("signature", &key)])
                }
                _ => {
                    let key = input.req("node_privkey", input::secret_key)?;
                    let direction = input.opt("direction", input::uint)?.unwrap_or(0);
                    if direction > 1 {
                        return Err(input.error("direction", "expected 0 or 1"));
                    }
                    let disabled = input.opt("disabled", input::boolean)?.unwrap_or(false);
                    push(&mut m, "signature", V::Bytes(vec![0; 64]));
                    push(&mut m, "chain_hash", V::Bytes(chain_hash(input)?));
                    push(&mut m, "short_channel_id", V::Scid(scid(input)?));
                    push(
                        &mut m,
                        "timestamp",
                        V::Uint(u64::from(input.req("timestamp", input::uint32)?)),
                    );
                    // message_flags bit 0 (must_be_one): htlc_maximum_msat is present.
                    push(&mut m, "message_flags", V::Uint(1));
                    push(
                        &mut m,
                        "channel_flags",
                        V::Uint(direction | (u64::from(disabled) << 1)),
                    );
                    for (f, max) in [
                        ("cltv_expiry_delta", u64::from(u16::MAX)),
                        ("htlc_minimum_msat", u64::MAX),
                        ("fee_base_msat", u64::from(u32::MAX)),
                        ("fee_proportional_millionths", u64::from(u32::MAX)),
                        ("htlc_maximum_msat", u64::MAX),
                    ] {
                        let v = input.req(f, input::uint)?;
                        if v > max {
                            return Err(input.error(f, format!("expected at most {max}, got {v}")));
                        }
                        push(&mut m, f, V::Uint(v));
                    }
                    gossip::sign(&secp, &mut m, &[("signature", &key)])
                }
            }
            .map_err(|e| CliError::failure(e.to_string()))?;
            ex.line(format!(
                "signed the double-SHA256 of the {kind} after its signatures"
            ));
            let decoded = message::decode(&bytes).map_err(|e| CliError::failure(e.to_string()))?;
            Ok(json!({ "message_hex": hex(&bytes), "message": message_json(&decoded) }))
        }
        GossipCommand::Verify => {
            let bytes = input.req("message_hex", input::hex_bytes)?;
            let signer = input.opt("node_id", input::pubkey)?;
            let checks = gossip::verify(&secp, &bytes, signer.as_ref())
                .map_err(|e| input.error("message_hex", e))?;
            let m = message::decode(&bytes).map_err(|e| input.error("message_hex", e))?;
            let funding = input
                .opt("funding_tx_hex", input::transaction)?
                .map(|tx| gossip::funding_output_matches(&m, &tx));
            if let Some(bad) = checks.iter().find(|c| !c.valid) {
                return Err(CliError::failure(format!(
                    "{} does not verify against {}",
                    bad.field, bad.key
                )));
            }
            if funding == Some(false) {
                return Err(CliError::failure("the funding transaction has no output paying the 2-of-2 of bitcoin_key_1 and bitcoin_key_2 at the short channel id's index"));
            }
            ex.line(format!("{} signature(s) verify", checks.len()));
            Ok(json!({
                "name": m.name,
                "signatures": checks.iter().map(|c| json!({"field": c.field, "key": c.key.to_string(), "valid": c.valid})).collect::<Vec<_>>(),
                "funding_output_matches": funding,
                "valid": true,
            }))
        }
    }
}
