//! `lnkit blinded-path create`: a blinded route from the recipient's side (BOLT 4 "Route Blinding").

use bitcoin::secp256k1::Secp256k1;
use clap::Subcommand;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{HexBytes, Privkey, Pubkey};
use super::input::Input;
use super::tlv::records_from_fields;
use super::{hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::onion::blinding::create_blinded_path;
use crate::onion::payload::ENCRYPTED_DATA_TLV;
use crate::wire::tlv;

/// `lnkit blinded-path ...`
#[derive(Subcommand, Debug)]
pub enum BlindedPathCommand {
    /// The hops' node ids and `encrypted_data_tlv` contents -> the blinded path.
    Create,
}

/// One hop of the path: its node, and what it will find in
/// `encrypted_recipient_data` (whole, or its fields by their BOLT 4 names:
/// `short_channel_id`, `next_node_id`, `payment_relay`, ...).
#[derive(Deserialize, JsonSchema)]
pub struct HopIn {
    /// The hop's node id.
    node_id: Pubkey,
    /// Its encrypted_data_tlv, encoded (else from its fields by name).
    encrypted_data_tlv_hex: Option<HexBytes>,
}

/// `blinded-path create`'s request.
#[derive(Deserialize, JsonSchema)]
pub struct CreateIn {
    /// The recipient's session key for the path.
    session_key: Privkey,
    /// The hops, the introduction node first, the recipient last.
    hops: Vec<HopIn>,
}

/// One blinded hop.
#[derive(Serialize, JsonSchema)]
pub struct BlindedHopOut {
    blinded_node_id: String,
    /// What the hop decrypts.
    encrypted_recipient_data: String,
    encrypted_data_tlv_hex: String,
    path_key: String,
    shared_secret: String,
}

/// The blinded path.
#[derive(Serialize, JsonSchema)]
pub struct CreateOut {
    /// Stays visible: where the sender's route ends.
    introduction_node_id: String,
    first_path_key: String,
    hops: Vec<BlindedHopOut>,
}

/// Run `lnkit blinded-path create`.
pub fn run(_cmd: BlindedPathCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let c: CreateIn = input.typed()?;
    // The hops' data fields are read by BOLT 4's encrypted_data_tlv schema,
    // each with its path.
    let items = input.objects("hops")?;
    let mut hops = vec![];
    for (hop, item) in c.hops.into_iter().zip(&items) {
        let data = match hop.encrypted_data_tlv_hex {
            Some(d) => d.0,
            None => tlv::encode_stream(&records_from_fields(item, &ENCRYPTED_DATA_TLV)?),
        };
        hops.push((hop.node_id.0, data));
    }
    if hops.is_empty() {
        return Err(input.error("hops", "a blinded path needs at least one hop"));
    }
    let path = create_blinded_path(&secp, &c.session_key.0, &hops)
        .map_err(|e| CliError::failure(e.to_string()))?;
    ex.line(format!(
        "introduction node {} (stays visible); every later hop is blinded",
        hops[0].0
    ));
    respond(CreateOut {
        introduction_node_id: hops[0].0.to_string(),
        first_path_key: path[0].path_key.to_string(),
        hops: path
            .iter()
            .zip(&hops)
            .map(|(h, (_, plain))| BlindedHopOut {
                blinded_node_id: h.blinded_node_id.to_string(),
                encrypted_recipient_data: hex(&h.encrypted_data),
                encrypted_data_tlv_hex: hex(plain),
                path_key: h.path_key.to_string(),
                shared_secret: hex(h.shared_secret),
            })
            .collect(),
    })
}
