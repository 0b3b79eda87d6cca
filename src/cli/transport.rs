//! `lnkit transport act1 | act2 | act3 | finish | encrypt | decrypt`: BOLT 8
//! one step at a time. One JSON object flows through the whole pipeline: each
//! step reads what it needs (role-prefixed keys, the states of earlier acts)
//! and adds its act bytes and its state, so `act1 | act2 | act3 | finish`
//! runs a whole handshake in a shell.

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use clap::Subcommand;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::input::{self, Input};
use super::{hex, CliError, Explain, StepResult};
use crate::wire::noise::{self, HandshakeError, InitiatorAct1, ResponderAct2, Transport};

/// `lnkit transport ...`
#[derive(Subcommand, Debug)]
pub enum TransportCommand {
    /// Initiator: `initiator_privkey`, `initiator_ephemeral`, `responder_pubkey` -> `act1_hex`, `initiator_state`.
    Act1,
    /// Responder: `responder_privkey`, `responder_ephemeral`, `act1_hex` -> `act2_hex`, `responder_state`.
    Act2,
    /// Initiator: `initiator_state`, `act2_hex` -> `act3_hex`, `initiator_transport`.
    Act3,
    /// Responder: `responder_state`, `act3_hex` -> `responder_transport` (and the initiator's static key).
    Finish,
    /// `side`'s transport encrypts `message_hex` -> `ciphertext_hex`, and the transport after.
    Encrypt,
    /// `side`'s transport decrypts `ciphertext_hex` -> `message_hex`, and the transport after.
    Decrypt,
}

fn state<T: DeserializeOwned>(input: &Input, field: &str) -> Result<T, CliError> {
    let v = input.raw(field).ok_or_else(|| {
        input.error(
            field,
            "missing required field (from the previous step's output)",
        )
    })?;
    serde_json::from_value(v.clone())
        .map_err(|e| input.error(field, format!("not a handshake state: {e}")))
}

fn act_error(input: &Input, field: &str, e: HandshakeError) -> CliError {
    input.error(field, e)
}

fn carry(input: &Input, extra: Value) -> Value {
    let mut out = match input.to_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Value::Object(e) = extra {
        out.extend(e);
    }
    Value::Object(out)
}

/// Run `lnkit transport ...`.
pub fn run(cmd: TransportCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    match cmd {
        TransportCommand::Act1 => {
            let ls = input.req("initiator_privkey", input::secret_key)?;
            let rs = input.req("responder_pubkey", input::pubkey)?;
            let e = input.req("initiator_ephemeral", input::secret_key)?;
            let (act, st) = noise::initiator_act1(&secp, &ls, &rs, &e);
            ex.line(format!(
                "act one: h = {}, ck = {}",
                hex(st.state.h),
                hex(st.state.ck)
            ));
            Ok(carry(
                input,
                json!({ "act1_hex": hex(act), "initiator_state": st }),
            ))
        }
        TransportCommand::Act2 => {
            let ls = input.req("responder_privkey", input::secret_key)?;
            let e = input.req("responder_ephemeral", input::secret_key)?;
            let act1 = input.req("act1_hex", input::hex_bytes)?;
            let st = noise::responder_act1(&secp, &ls, &act1)
                .map_err(|e| act_error(input, "act1_hex", e))?;
            let (act, st) = noise::responder_act2(&secp, &st, &e);
            ex.line(format!(
                "act two: h = {}, ck = {}, temp_k2 = {}",
                hex(st.state.h),
                hex(st.state.ck),
                hex(st.temp_k2)
            ));
            Ok(carry(
                input,
                json!({ "act2_hex": hex(act), "responder_state": st }),
            ))
        }
        TransportCommand::Act3 => {
            let st: InitiatorAct1 = state(input, "initiator_state")?;
            let rs = input.req("responder_pubkey", input::pubkey)?;
            let act2 = input.req("act2_hex", input::hex_bytes)?;
            let (act, t) = noise::initiator_act2_act3(&secp, &st, &act2, &rs)
                .map_err(|e| act_error(input, "act2_hex", e))?;
            ex.line(format!("act three: sk = {}, rk = {}", hex(t.sk), hex(t.rk)));
            Ok(carry(
                input,
                json!({ "act3_hex": hex(act), "initiator_transport": t }),
            ))
        }
        TransportCommand::Finish => {
            let st: ResponderAct2 = state(input, "responder_state")?;
            let act3 = input.req("act3_hex", input::hex_bytes)?;
            let t =
                noise::responder_act3(&st, &act3).map_err(|e| act_error(input, "act3_hex", e))?;
            let initiator: PublicKey = t.remote_static;
            ex.line(format!(
                "the initiator is {initiator}; sk = {}, rk = {}",
                hex(t.sk),
                hex(t.rk)
            ));
            Ok(carry(
                input,
                json!({ "responder_transport": t, "initiator_pubkey": initiator.to_string() }),
            ))
        }
        TransportCommand::Encrypt | TransportCommand::Decrypt => {
            let side = input.req("side", input::one_of(&["initiator", "responder"]))?;
            let field = format!("{side}_transport");
            let mut t: Transport = state(input, &field)?;
            let (out_field, bytes) = if matches!(cmd, TransportCommand::Encrypt) {
                let m = input.req("message_hex", input::hex_bytes)?;
                (
                    "ciphertext_hex",
                    t.encrypt(&m).map_err(|e| input.error("message_hex", e))?,
                )
            } else {
                let c = input.req("ciphertext_hex", input::hex_bytes)?;
                (
                    "message_hex",
                    t.decrypt(&c)
                        .map_err(|e| input.error("ciphertext_hex", e))?,
                )
            };
            ex.line(format!("{side}: nonces now sn = {}, rn = {}", t.sn, t.rn));
            Ok(carry(input, json!({ out_field: hex(bytes), field: t })))
        }
    }
}
