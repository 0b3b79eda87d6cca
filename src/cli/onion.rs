//! `lnkit onion-create` and `lnkit onion-peel`: the BOLT 4 Sphinx onion.

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use clap::Args;
use serde_json::{json, Value};

use super::input::{self, Input};
use super::tlv::{fields_json, records_from_fields};
use super::{hex, CliError, Explain, StepResult};
use crate::onion::blinding;
use crate::onion::keys::generate_key;
use crate::onion::packet::{self, CreateError, OnionPacket, PacketError, PeelError};
use crate::onion::payload::{ENCRYPTED_DATA_TLV, PAYLOAD};
use crate::wire::tlv::{self, FieldValue};

/// Flags of `lnkit onion-create` / `onion-peel`.
#[derive(Args, Debug)]
pub struct OnionArgs {
    /// The hop's node private key, for `onion-peel` (field `node_privkey`).
    #[arg(long)]
    node_privkey: Option<String>,
}

/// Run `lnkit onion-create`.
pub fn run_create(_args: OnionArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    create(input, ex)
}

/// Run `lnkit onion-peel`.
pub fn run_peel(args: OnionArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    super::flag(input, "node_privkey", args.node_privkey);
    peel(input, ex)
}

fn associated_data(input: &Input) -> Result<Vec<u8>, CliError> {
    Ok(input
        .opt_any(&["associated_data", "payment_hash"], input::hex_bytes)?
        .unwrap_or_default())
}

/// `lnkit onion-create` on an input object.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let session_key = input.req("session_key", input::secret_key)?;
    let ad = associated_data(input)?;
    let items = input.objects("hops")?;
    let mut hops = vec![];
    for item in &items {
        let pubkey = item.req("pubkey", input::pubkey)?;
        let payload = match item.opt("payload_hex", input::hex_bytes)? {
            Some(p) => p,
            None => tlv::encode_stream(&records_from_fields(item, &PAYLOAD)?),
        };
        if payload.len() < 2 {
            return Err(item.error(
                "payload_hex",
                "a hop payload must be at least 2 bytes (BOLT 4)",
            ));
        }
        hops.push((pubkey, payload));
    }
    let created = packet::create_onion(&secp, &session_key, &hops, &ad).map_err(|e| match e {
        CreateError::TooLarge { .. } | CreateError::NoHops => input.error("hops", e),
        CreateError::Key(_) => CliError::failure(e.to_string()),
    })?;
    let mut used = 0;
    let per_hop: Vec<Value> = created
        .hops
        .iter()
        .zip(&hops)
        .enumerate()
        .map(|(i, (k, (pubkey, payload)))| {
            used += packet::shift_size(payload.len());
            ex.line(format!(
                "hop {i}: ephemeral {} x node {} -> shared secret {}",
                k.ephemeral_pubkey,
                pubkey,
                hex(k.shared_secret)
            ));
            json!({
                "pubkey": pubkey.to_string(),
                "payload_hex": hex(payload),
                "ephemeral_pubkey": k.ephemeral_pubkey.to_string(),
                "shared_secret": hex(k.shared_secret),
                "blinding_factor": hex(k.blinding_factor),
                "rho": hex(generate_key(b"rho", &k.shared_secret)),
                "mu": hex(generate_key(b"mu", &k.shared_secret)),
                "bytes_used": packet::shift_size(payload.len()),
            })
        })
        .collect();
    ex.line(format!(
        "payloads use {used} of the {} bytes; the rest is filler",
        packet::HOP_PAYLOADS_LEN
    ));
    Ok(json!({
        "onion_hex": hex(created.packet.serialize()),
        "associated_data": hex(&ad),
        "first_hop": hops[0].0.to_string(),
        "hops": per_hop,
        "shared_secrets": created.hops.iter().map(|k| hex(k.shared_secret)).collect::<Vec<_>>(),
        "payload_bytes_used": used,
    }))
}

/// `lnkit onion-peel` on an input object.
pub fn peel(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let field = if input.has("onion_hex") {
        "onion_hex"
    } else {
        "next_onion_hex"
    };
    let bytes = input.req(field, input::hex_bytes)?;
    let onion = OnionPacket::parse_payment(&bytes).map_err(|e| match e {
        PacketError::PublicKey => input.error(
            field,
            "the ephemeral public key is not a valid point on the curve",
        ),
        other => input.error(field, other),
    })?;
    let node = input.req("node_privkey", input::secret_key)?;
    let ad = associated_data(input)?;
    let path_field = if input.has("path_key") {
        "path_key"
    } else {
        "next_path_key"
    };
    let path_key = input.opt(path_field, input::pubkey)?;
    let peeled =
        packet::peel(&secp, &onion, &node, &ad, path_key.as_ref()).map_err(|e| match e {
            PeelError::HmacMismatch => input.error(field, e),
            PeelError::Payload(_) => input.error(field, e),
            PeelError::Key(_) => CliError::failure(e.to_string()),
        })?;
    let payload = fields_json(&PAYLOAD, &peeled.payload).map_err(|e| {
        input.error(
            field,
            format!("this hop's payload is not a valid TLV stream: {e}"),
        )
    })?;
    ex.line(format!(
        "HMAC verified; shared secret {}",
        hex(peeled.shared_secret)
    ));
    let mut out = json!({
        "payload": payload,
        "payload_hex": hex(&peeled.payload),
        "shared_secret": hex(peeled.shared_secret),
        "is_final": peeled.next.is_none(),
        "next_onion_hex": peeled.next.as_ref().map(|n| hex(n.serialize())),
        "next_ephemeral_pubkey": peeled.next.as_ref().map(|n| n.public_key.to_string()),
        "associated_data": hex(&ad),
    });
    // A blinded hop: the path key (given, or in the payload at the introduction
    // node) decrypts encrypted_recipient_data and gives the next path key.
    let records = PAYLOAD.decode(&peeled.payload).expect("decoded above");
    let get = |name: &str| {
        records
            .iter()
            .find(|r| r.name == Some(name))
            .map(|r| r.fields[0].1.clone())
    };
    let path_key = match get("current_path_key") {
        Some(FieldValue::Point(p)) => Some(p),
        _ => path_key,
    };
    if let (Some(FieldValue::Bytes(data)), Some(pk)) = (get("encrypted_recipient_data"), path_key) {
        let u = blinding::unblind(&secp, &node, &pk, Some(&data))
            .map_err(|e| input.error("path_key", e))?;
        let plain = u.data.expect("data was given");
        let decrypted = fields_json(&ENCRYPTED_DATA_TLV, &plain).map_err(|e| {
            input.error(
                "path_key",
                format!("encrypted_recipient_data is not a valid TLV stream: {e}"),
            )
        })?;
        let next: PublicKey = decrypted["next_path_key_override"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u.next_path_key);
        ex.line(format!("blinded hop: decrypted its data with rho of ECDH(path_key, node key); next path key {next}"));
        out["encrypted_recipient_data"] = decrypted;
        out["next_path_key"] = json!(next.to_string());
    }
    Ok(out)
}
