//! `lnkit blinded-path create`: a blinded route from the recipient's side (BOLT 4 "Route Blinding").

use bitcoin::secp256k1::Secp256k1;
use clap::Subcommand;
use serde_json::json;

use super::input::{self, Input};
use super::tlv::records_from_fields;
use super::{hex, CliError, Explain, StepResult};
use crate::onion::blinding::create_blinded_path;
use crate::onion::payload::ENCRYPTED_DATA_TLV;
use crate::wire::tlv;

/// `lnkit blinded-path ...`
#[derive(Subcommand, Debug)]
pub enum BlindedPathCommand {
    /// The hops' node ids and `encrypted_data_tlv` contents -> the blinded path.
    Create,
}

/// Run `lnkit blinded-path create`.
pub fn run(_cmd: BlindedPathCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let session = input.req("session_key", input::secret_key)?;
    let items = input.objects("hops")?;
    let mut hops = vec![];
    for item in &items {
        let node = item.req("node_id", input::pubkey)?;
        let data = match item.opt("encrypted_data_tlv_hex", input::hex_bytes)? {
            Some(d) => d,
            None => tlv::encode_stream(&records_from_fields(item, &ENCRYPTED_DATA_TLV)?),
        };
        hops.push((node, data));
    }
    if hops.is_empty() {
        return Err(input.error("hops", "a blinded path needs at least one hop"));
    }
    let path = create_blinded_path(&secp, &session, &hops)
        .map_err(|e| CliError::failure(e.to_string()))?;
    ex.line(format!(
        "introduction node {} (stays visible); every later hop is blinded",
        hops[0].0
    ));
    Ok(json!({
        "introduction_node_id": hops[0].0.to_string(),
        "first_path_key": path[0].path_key.to_string(),
        "hops": path.iter().zip(&hops).map(|(h, (_, plain))| json!({
            "blinded_node_id": h.blinded_node_id.to_string(),
            "encrypted_recipient_data": hex(&h.encrypted_data),
            "encrypted_data_tlv_hex": hex(plain),
            "path_key": h.path_key.to_string(),
            "shared_secret": hex(h.shared_secret),
        })).collect::<Vec<_>>(),
    }))
}
