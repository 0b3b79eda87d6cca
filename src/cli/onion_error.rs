//! `lnkit onion-error create | wrap | decode`: the failure onion of BOLT 4
//! "Returning Errors", with attribution data.

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use clap::Subcommand;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{Hex32, HexBytes, Privkey, Pubkey, Uint, Uint32};
use super::input::Input;
use super::onion_failure::{attribution, failure_message, message_out, FailureOut};
use super::{hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::onion::failure;
use crate::onion::keys::route_keys;

/// `lnkit onion-error ...`
#[derive(Subcommand, Debug)]
pub enum OnionErrorCommand {
    /// At the failing hop: a failure message -> the error packet (and attribution data).
    Create,
    /// At each hop back: obfuscate with its shared secret (and add its attribution).
    Wrap,
    /// At the origin: which hop failed, and why.
    Decode,
}

/// Run `lnkit onion-error ...`.
pub fn run(cmd: OnionErrorCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        OnionErrorCommand::Create => create(input, ex),
        OnionErrorCommand::Wrap => wrap(input, ex),
        OnionErrorCommand::Decode => decode(input, ex),
    }
}

/// The hop's shared secret, for `create` and `wrap`.
#[derive(Deserialize, JsonSchema)]
pub struct HopIn {
    /// The shared secret of the failing (or wrapping) hop and the origin.
    shared_secret: Hex32,
    /// This hop's hold time, in 100 ms units: attribution data comes out too.
    hold_time: Option<Uint32>,
}

/// `create`'s padding.
#[derive(Deserialize, JsonSchema)]
pub struct PadIn {
    /// The failure message's padded length (default 256).
    pad_to: Option<Uint>,
}

/// What the failing hop sends back.
#[derive(Serialize, JsonSchema)]
pub struct CreateOut {
    /// The error packet, obfuscated with this hop's ammag stream.
    error_hex: String,
    /// Before obfuscation: HMAC, length, message, padding.
    raw_error_packet_hex: String,
    failure_message_hex: String,
    /// With `hold_time`.
    attribution_data_hex: Option<String>,
}

/// `lnkit onion-error create`.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let hop: HopIn = input.typed()?;
    let ss = hop.shared_secret.0;
    let msg = failure_message(input)?;
    let pad_to = input
        .typed::<PadIn>()?
        .pad_to
        .map_or(failure::MIN_FAILURE_AND_PAD as u64, |n| n.0) as usize;
    if msg.len() > u16::MAX as usize - 4 || pad_to > u16::MAX as usize {
        return Err(input.error(
            "pad_to",
            "the failure message and padding must fit in 65535 bytes",
        ));
    }
    let raw = failure::raw_error_packet(&ss, &msg, pad_to);
    let attr = hop
        .hold_time
        .map(|h| failure::attribution_for_failure(&ss, &raw, h.0));
    let mut packet = raw.clone();
    failure::obfuscate(&ss, &mut packet);
    ex.line(format!(
        "failuremsg {} padded to {} bytes, HMAC with um, XOR with the ammag stream",
        hex(&msg),
        raw.len() - 32 - 4
    ));
    respond(CreateOut {
        error_hex: hex(&packet),
        raw_error_packet_hex: hex(&raw),
        failure_message_hex: hex(&msg),
        attribution_data_hex: attr.map(|a| hex(a.0)),
    })
}

/// The error packet as it came back.
#[derive(Deserialize, JsonSchema)]
pub struct ErrorIn {
    /// The error packet.
    error_hex: HexBytes,
}

/// What a hop sends back toward the origin.
#[derive(Serialize, JsonSchema)]
pub struct WrapOut {
    /// The error packet, obfuscated once more.
    error_hex: String,
    /// With `hold_time`: this hop's attribution added.
    attribution_data_hex: Option<String>,
}

/// `lnkit onion-error wrap`.
pub fn wrap(input: &Input, ex: &mut Explain) -> StepResult {
    let hop: HopIn = input.typed()?;
    let ss = hop.shared_secret.0;
    let received = input.typed::<ErrorIn>()?.error_hex.0;
    let downstream = attribution(input)?;
    let attr = hop
        .hold_time
        .map(|h| failure::attribution_forward(&ss, downstream.as_ref(), &received, h.0));
    let mut packet = received;
    failure::obfuscate(&ss, &mut packet);
    ex.line("XOR with this hop's ammag stream");
    respond(WrapOut {
        error_hex: hex(&packet),
        attribution_data_hex: attr.map(|a| hex(a.0)),
    })
}

/// A hop of the route, by its node key.
#[derive(Deserialize, JsonSchema)]
pub struct HopKey {
    /// The hop's node key.
    pubkey: Pubkey,
}

/// The origin's keys: the shared secrets, or the session key and the route.
#[derive(Deserialize, JsonSchema)]
pub struct OriginIn {
    /// The hops' shared secrets, in route order.
    shared_secrets: Option<Vec<Hex32>>,
    /// The onion's session key (without shared_secrets).
    session_key: Option<Privkey>,
    /// The route's hops (without shared_secrets).
    hops: Option<Vec<HopKey>>,
}

/// Which hop failed, and why.
#[derive(Serialize, JsonSchema)]
pub struct DecodeOut {
    /// 0 = the first hop.
    failing_hop_index: usize,
    failure_message_hex: String,
    failure: FailureOut,
    /// With attribution data: the hold times of the hops that verified.
    hold_times: Option<Vec<u32>>,
    /// With attribution data: the first hop whose HMAC did not verify.
    attribution_failed_at_hop: Option<usize>,
}

/// `lnkit onion-error decode`.
pub fn decode(input: &Input, ex: &mut Explain) -> StepResult {
    let packet = input.typed::<ErrorIn>()?.error_hex.0;
    let o: OriginIn = input.typed()?;
    let secrets: Vec<[u8; 32]> = match o.shared_secrets {
        Some(s) => s.into_iter().map(|s| s.0).collect(),
        None => {
            let session = o.session_key.ok_or_else(|| {
                input.error("session_key", "missing required field (or shared_secrets)")
            })?;
            let hops = o
                .hops
                .ok_or_else(|| input.error("hops", "missing required field"))?;
            let pubkeys: Vec<PublicKey> = hops.into_iter().map(|h| h.pubkey.0).collect();
            route_keys(&Secp256k1::new(), &session, &pubkeys)
                .map_err(|e| CliError::failure(e.to_string()))?
                .iter()
                .map(|k| k.shared_secret)
                .collect()
        }
    };
    let attr = attribution(input)?;
    let d = failure::decode_failure(&secrets, &packet, attr.as_ref())
        .map_err(|e| input.error("error_hex", e))?;
    ex.line(format!(
        "peeled {} ammag layers; hop {}'s um HMAC matches",
        d.failing_hop + 1,
        d.failing_hop
    ));
    respond(DecodeOut {
        failing_hop_index: d.failing_hop,
        failure_message_hex: hex(&d.failure_message),
        failure: message_out(&d.failure_message),
        hold_times: attr.as_ref().map(|_| d.hold_times.clone()),
        attribution_failed_at_hop: d.attribution_failed_at,
    })
}
