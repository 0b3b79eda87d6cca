//! `lnkit onion-create` and `lnkit onion-peel`: the BOLT 4 Sphinx onion.

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use clap::Args;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{HexBytes, Privkey, Pubkey};
use super::input::Input;
use super::tlv::{fields_json, records_from_fields};
use super::{hex, CliError, Explain, StepResult};
use crate::cli::respond;
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

/// The associated data the onion's HMACs commit to.
#[derive(Deserialize, JsonSchema)]
pub struct AssociatedIn {
    /// The associated data (or payment_hash; default empty).
    associated_data: Option<HexBytes>,
    /// The payment hash: the associated data of a payment's onion.
    payment_hash: Option<HexBytes>,
}

fn associated_data(input: &Input) -> Result<Vec<u8>, CliError> {
    let a: AssociatedIn = input.typed()?;
    Ok(a.associated_data
        .or(a.payment_hash)
        .map(|b| b.0)
        .unwrap_or_default())
}

/// One hop of `onion-create`: its key, and its payload (whole, or its
/// fields by their BOLT 4 names: `amt_to_forward`, `outgoing_cltv_value`, ...).
#[derive(Deserialize, JsonSchema)]
pub struct HopIn {
    /// The hop's node key.
    pubkey: Pubkey,
    /// The payload, encoded (else from the payload's fields by name).
    payload_hex: Option<HexBytes>,
}

/// `onion-create`'s request.
#[derive(Deserialize, JsonSchema)]
pub struct CreateIn {
    /// The sender's session key.
    session_key: Privkey,
    /// The route, first hop first.
    hops: Vec<HopIn>,
}

/// One hop's keys.
#[derive(Serialize, JsonSchema)]
pub struct HopKeysOut {
    pubkey: String,
    payload_hex: String,
    ephemeral_pubkey: String,
    shared_secret: String,
    blinding_factor: String,
    rho: String,
    mu: String,
    /// Its payload's share of the 1300 bytes.
    bytes_used: usize,
}

/// The onion, and each hop's keys.
#[derive(Serialize, JsonSchema)]
pub struct CreateOut {
    /// The 1366-byte packet.
    onion_hex: String,
    associated_data: String,
    /// The node to hand it to.
    first_hop: String,
    hops: Vec<HopKeysOut>,
    /// For `onion-error decode`.
    shared_secrets: Vec<String>,
    payload_bytes_used: usize,
}

/// `onion-peel`'s request.
#[derive(Deserialize, JsonSchema)]
pub struct PeelIn {
    /// The onion (or next_onion_hex, from the previous peel).
    onion_hex: Option<HexBytes>,
    next_onion_hex: Option<HexBytes>,
    /// This hop's node key (--node-privkey).
    node_privkey: Privkey,
    /// A blinded hop's path key (or next_path_key, from the previous peel).
    path_key: Option<Pubkey>,
    next_path_key: Option<Pubkey>,
}

/// What this hop learns.
#[derive(Serialize, JsonSchema)]
pub struct PeelOut {
    /// The payload's fields by name.
    payload: Value,
    payload_hex: String,
    shared_secret: String,
    /// Whether this hop is the last.
    is_final: bool,
    /// What to forward (null at the last hop).
    next_onion_hex: Option<String>,
    next_ephemeral_pubkey: Option<String>,
    associated_data: String,
    /// A blinded hop's data, decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted_recipient_data: Option<Value>,
    /// A blinded hop's next path key.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_path_key: Option<String>,
}

/// `lnkit onion-create` on an input object.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let c: CreateIn = input.typed()?;
    let session_key = c.session_key.0;
    let ad = associated_data(input)?;
    // The payloads' own fields are read by BOLT 4's payload schema, each
    // with its path (hops[1].amt_to_forward).
    let items = input.objects("hops")?;
    let mut hops = vec![];
    for (hop, item) in c.hops.into_iter().zip(&items) {
        let pubkey = hop.pubkey.0;
        let payload = match hop.payload_hex {
            Some(p) => p.0,
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
    let per_hop: Vec<HopKeysOut> = created
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
            HopKeysOut {
                pubkey: pubkey.to_string(),
                payload_hex: hex(payload),
                ephemeral_pubkey: k.ephemeral_pubkey.to_string(),
                shared_secret: hex(k.shared_secret),
                blinding_factor: hex(k.blinding_factor),
                rho: hex(generate_key(b"rho", &k.shared_secret)),
                mu: hex(generate_key(b"mu", &k.shared_secret)),
                bytes_used: packet::shift_size(payload.len()),
            }
        })
        .collect();
    ex.line(format!(
        "payloads use {used} of the {} bytes; the rest is filler",
        packet::HOP_PAYLOADS_LEN
    ));
    respond(CreateOut {
        onion_hex: hex(created.packet.serialize()),
        associated_data: hex(&ad),
        first_hop: hops[0].0.to_string(),
        hops: per_hop,
        shared_secrets: created.hops.iter().map(|k| hex(k.shared_secret)).collect(),
        payload_bytes_used: used,
    })
}

/// `lnkit onion-peel` on an input object.
pub fn peel(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let p: PeelIn = input.typed()?;
    let (field, bytes) = match (p.onion_hex, p.next_onion_hex) {
        (Some(b), _) => ("onion_hex", b.0),
        (None, Some(b)) => ("next_onion_hex", b.0),
        (None, None) => {
            return Err(input.error("onion_hex", "missing required field (or next_onion_hex)"))
        }
    };
    let onion = OnionPacket::parse_payment(&bytes).map_err(|e| match e {
        PacketError::PublicKey => input.error(
            field,
            "the ephemeral public key is not a valid point on the curve",
        ),
        other => input.error(field, other),
    })?;
    let node = p.node_privkey.0;
    let ad = associated_data(input)?;
    let path_key = p.path_key.or(p.next_path_key).map(|k| k.0);
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
    let mut out = PeelOut {
        payload,
        payload_hex: hex(&peeled.payload),
        shared_secret: hex(peeled.shared_secret),
        is_final: peeled.next.is_none(),
        next_onion_hex: peeled.next.as_ref().map(|n| hex(n.serialize())),
        next_ephemeral_pubkey: peeled.next.as_ref().map(|n| n.public_key.to_string()),
        associated_data: hex(&ad),
        encrypted_recipient_data: None,
        next_path_key: None,
    };
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
        out.encrypted_recipient_data = Some(decrypted);
        out.next_path_key = Some(next.to_string());
    }
    respond(out)
}
