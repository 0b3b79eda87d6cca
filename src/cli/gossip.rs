//! `lnkit gossip sign | verify`: BOLT 7 announcements and updates.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing, Verification};
use clap::{Args, Subcommand};

use super::field::Privkey;
use super::gossip_types::*;
use super::input::Input;
use super::wire::message_json;
use super::{hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::wire::gossip;
use crate::wire::message::{self, Message, MessageError, MessageSchema, Value as V};

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

/// Run `lnkit gossip ...`.
pub fn run(cmd: GossipCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    match cmd {
        GossipCommand::Sign(args) => {
            super::flag(input, "kind", args.kind);
            sign(&secp, input, ex)
        }
        GossipCommand::Verify => verify(&secp, input, ex),
    }
}

fn sign<C: Signing>(secp: &Secp256k1<C>, input: &Input, ex: &mut Explain) -> StepResult {
    let s: SignIn = input.typed()?;
    let name = match s.kind {
        Kind::ChannelAnnouncement => "channel_announcement",
        Kind::NodeAnnouncement => "node_announcement",
        Kind::ChannelUpdate => "channel_update",
    };
    let schema = MessageSchema::by_name(name).expect("listed");
    let mut m = Message {
        typ: schema.typ,
        name: Some(name),
        fields: vec![],
        tlvs: vec![],
        raw: None,
    };
    let bytes = match s.kind {
        Kind::ChannelAnnouncement => channel_announcement(secp, input, &s, &mut m)?,
        Kind::NodeAnnouncement => node_announcement(secp, input, &s, &mut m)?,
        Kind::ChannelUpdate => channel_update(secp, input, &s, &mut m)?,
    };
    ex.line(format!(
        "signed the double-SHA256 of the {name} after its signatures"
    ));
    let decoded = message::decode(&bytes).map_err(|e| CliError::failure(e.to_string()))?;
    respond(SignOut {
        message_hex: hex(&bytes),
        message: message_json(&decoded),
    })
}

fn signed(r: Result<Vec<u8>, MessageError>) -> Result<Vec<u8>, CliError> {
    r.map_err(|e| CliError::failure(e.to_string()))
}

fn channel_announcement<C: Signing>(
    secp: &Secp256k1<C>,
    input: &Input,
    s: &SignIn,
    m: &mut Message,
) -> Result<Vec<u8>, CliError> {
    let key = |field: &str, k: &Option<Privkey>| input.need(field, k.as_ref().map(|k| k.0));
    let mut keys = [
        (
            key("node_privkey_1", &s.node_privkey_1)?,
            key("bitcoin_privkey_1", &s.bitcoin_privkey_1)?,
        ),
        (
            key("node_privkey_2", &s.node_privkey_2)?,
            key("bitcoin_privkey_2", &s.bitcoin_privkey_2)?,
        ),
    ];
    // BOLT 7: node_id_1 is the lexicographically lesser node id; each bitcoin key goes with its node.
    let pk = |k: &SecretKey| PublicKey::from_secret_key(secp, k);
    if pk(&keys[0].0).serialize() > pk(&keys[1].0).serialize() {
        keys.swap(0, 1);
    }
    for f in [
        "node_signature_1",
        "node_signature_2",
        "bitcoin_signature_1",
        "bitcoin_signature_2",
    ] {
        m.fields.push((f, V::Bytes(vec![0; 64])));
    }
    m.fields.push(("features", V::Features(s.features(input)?)));
    m.fields.push(("chain_hash", V::Bytes(s.chain_hash())));
    let scid = input.need("short_channel_id", s.short_channel_id.as_ref())?;
    m.fields.push(("short_channel_id", V::Scid(scid.0)));
    m.fields.push(("node_id_1", V::Point(pk(&keys[0].0))));
    m.fields.push(("node_id_2", V::Point(pk(&keys[1].0))));
    m.fields.push(("bitcoin_key_1", V::Point(pk(&keys[0].1))));
    m.fields.push(("bitcoin_key_2", V::Point(pk(&keys[1].1))));
    let signers = [
        ("node_signature_1", &keys[0].0),
        ("node_signature_2", &keys[1].0),
        ("bitcoin_signature_1", &keys[0].1),
        ("bitcoin_signature_2", &keys[1].1),
    ];
    signed(gossip::sign(secp, m, &signers))
}

fn node_announcement<C: Signing>(
    secp: &Secp256k1<C>,
    input: &Input,
    s: &SignIn,
    m: &mut Message,
) -> Result<Vec<u8>, CliError> {
    let key = input.need("node_privkey", s.node_privkey.as_ref())?.0;
    let alias = s.alias.clone().unwrap_or_default();
    if alias.len() > 32 {
        return Err(input.error("alias", format!("at most 32 bytes, got {}", alias.len())));
    }
    let mut alias_bytes = alias.into_bytes();
    alias_bytes.resize(32, 0);
    let rgb = s.rgb_color.as_ref().map_or(vec![0, 0, 0], |c| c.0.clone());
    if rgb.len() != 3 {
        return Err(input.error("rgb_color", "expected 3 bytes of hex"));
    }
    let timestamp = input.need("timestamp", s.timestamp.as_ref())?.0;
    m.fields.push(("signature", V::Bytes(vec![0; 64])));
    m.fields.push(("features", V::Features(s.features(input)?)));
    m.fields.push(("timestamp", V::Uint(u64::from(timestamp))));
    m.fields
        .push(("node_id", V::Point(PublicKey::from_secret_key(secp, &key))));
    m.fields.push(("rgb_color", V::Bytes(rgb)));
    m.fields.push(("alias", V::Bytes(alias_bytes)));
    let addresses = s.addresses_hex.as_ref().map_or(vec![], |a| a.0.clone());
    m.fields.push(("addresses", V::Bytes(addresses)));
    signed(gossip::sign(secp, m, &[("signature", &key)]))
}

fn channel_update<C: Signing>(
    secp: &Secp256k1<C>,
    input: &Input,
    s: &SignIn,
    m: &mut Message,
) -> Result<Vec<u8>, CliError> {
    let key = input.need("node_privkey", s.node_privkey.as_ref())?.0;
    let direction = s.direction.as_ref().map_or(0, |d| d.0);
    if direction > 1 {
        return Err(input.error("direction", "expected 0 or 1"));
    }
    let disabled = s.disabled.as_ref().is_some_and(|d| d.0);
    m.fields.push(("signature", V::Bytes(vec![0; 64])));
    m.fields.push(("chain_hash", V::Bytes(s.chain_hash())));
    let scid = input.need("short_channel_id", s.short_channel_id.as_ref())?;
    m.fields.push(("short_channel_id", V::Scid(scid.0)));
    let timestamp = input.need("timestamp", s.timestamp.as_ref())?.0;
    m.fields.push(("timestamp", V::Uint(u64::from(timestamp))));
    // message_flags bit 0 (must_be_one): htlc_maximum_msat is present.
    m.fields.push(("message_flags", V::Uint(1)));
    m.fields.push((
        "channel_flags",
        V::Uint(direction | (u64::from(disabled) << 1)),
    ));
    for (f, v, max) in [
        (
            "cltv_expiry_delta",
            &s.cltv_expiry_delta,
            u64::from(u16::MAX),
        ),
        ("htlc_minimum_msat", &s.htlc_minimum_msat, u64::MAX),
        ("fee_base_msat", &s.fee_base_msat, u64::from(u32::MAX)),
        (
            "fee_proportional_millionths",
            &s.fee_proportional_millionths,
            u64::from(u32::MAX),
        ),
        ("htlc_maximum_msat", &s.htlc_maximum_msat, u64::MAX),
    ] {
        let v = input.need(f, v.as_ref())?.0;
        if v > max {
            return Err(input.error(f, format!("expected at most {max}, got {v}")));
        }
        m.fields.push((f, V::Uint(v)));
    }
    signed(gossip::sign(secp, m, &[("signature", &key)]))
}

fn verify<C: Verification>(secp: &Secp256k1<C>, input: &Input, ex: &mut Explain) -> StepResult {
    let v: VerifyIn = input.typed()?;
    let bytes = v.message_hex.0;
    let signer = v.node_id.map(|k| k.0);
    let checks =
        gossip::verify(secp, &bytes, signer.as_ref()).map_err(|e| input.error("message_hex", e))?;
    let m = message::decode(&bytes).map_err(|e| input.error("message_hex", e))?;
    let funding = v
        .funding_tx_hex
        .map(|tx| gossip::funding_output_matches(&m, &tx.0));
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
    respond(VerifyOut {
        name: m.name,
        signatures: checks
            .iter()
            .map(|c| Check {
                field: c.field,
                key: c.key.to_string(),
                valid: c.valid,
            })
            .collect(),
        funding_output_matches: funding,
        valid: true,
    })
}
