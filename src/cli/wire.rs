//! `lnkit wire decode | encode | connect`: Lightning messages as JSON and
//! back, and a small real client that speaks BOLT 8 to a node.

use clap::{Args, Subcommand};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::HexBytes;
use super::input::Input;
pub use super::wire_json::{message_from_json, message_json};
use super::{hex, Explain, StepResult};
use crate::cli::respond;
use crate::wire::features;
use crate::wire::message::{self, Message, Value as V};

/// `lnkit wire ...`
#[derive(Subcommand, Debug)]
pub enum WireCommand {
    /// A message (`message_hex`) -> JSON with its name, every field and its TLVs by name.
    Decode,
    /// That JSON -> `message_hex`.
    Encode,
    /// Connect to `pubkey@host:port`, handshake, exchange init, ping, print what arrives as JSON lines.
    Connect(ConnectArgs),
    /// Accept one connection on a loopback port: handshake, init, answer pings, print what arrives as JSON lines.
    Listen(ConnectArgs),
}

/// Flags of `lnkit wire connect`.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The node, as `pubkey@host:port` (field `peer`).
    #[arg(long)]
    peer: Option<String>,
    /// Stop after this many messages (field `count`, default 3).
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds (field `timeout_secs`, default 10).
    #[arg(long)]
    timeout_secs: Option<u64>,
    /// Our node key (field `node_privkey`; random when absent).
    #[arg(long)]
    node_privkey: Option<String>,
    /// The loopback port to listen on, for `listen` (field `port`; 0 = any).
    #[arg(long)]
    port: Option<u16>,
}

/// `wire decode`'s field.
#[derive(Deserialize, JsonSchema)]
pub struct DecodeIn {
    /// A message: its 2-byte type, then its payload.
    message_hex: HexBytes,
}

/// `wire encode`'s output.
#[derive(Serialize, JsonSchema)]
pub struct EncodeOut {
    /// The message: its 2-byte type, then its payload.
    message_hex: String,
}

/// Run `lnkit wire ...`.
pub fn run(cmd: WireCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        WireCommand::Decode => {
            let bytes = input.typed::<DecodeIn>()?.message_hex.0;
            let m = message::decode(&bytes).map_err(|e| input.error("message_hex", e))?;
            check_features(&m).map_err(|e| input.error("message_hex", e))?;
            ex.line(format!(
                "type {} = {}",
                m.typ,
                m.name.unwrap_or("unknown odd type, kept raw")
            ));
            Ok(message_json(&m))
        }
        WireCommand::Encode => {
            let m = message_from_json(input)?;
            let bytes = message::encode(&m).map_err(|e| input.error("type", e))?;
            respond(EncodeOut {
                message_hex: hex(bytes),
            })
        }
        WireCommand::Connect(args) => {
            set_connect_flags(input, args);
            super::connect::connect(input, ex)
        }
        WireCommand::Listen(args) => {
            set_connect_flags(input, args);
            super::connect::listen(input, ex)
        }
    }
}

fn set_connect_flags(input: &mut Input, args: ConnectArgs) {
    super::flag(input, "peer", args.peer);
    super::flag(input, "count", args.count);
    super::flag(input, "timeout_secs", args.timeout_secs);
    super::flag(input, "node_privkey", args.node_privkey);
    super::flag(input, "port", args.port);
}

/// A required feature bit nobody here knows is an error (BOLT 1 "it's OK to be odd").
pub fn check_features(m: &Message) -> Result<(), message::MessageError> {
    for (field, v) in &m.fields {
        if let V::Features(f) = v {
            if let Some(bit) = features::unknown_required(f).first() {
                return Err(message::MessageError::UnknownFeature {
                    message: m.name.unwrap_or("?"),
                    field,
                    bit: *bit,
                });
            }
        }
    }
    Ok(())
}
