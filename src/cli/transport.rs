//! `lnkit transport act1 | act2 | act3 | finish | encrypt | decrypt`: BOLT 8
//! one step at a time. One JSON object flows through the whole pipeline: each
//! step reads what it needs (role-prefixed keys, the states of earlier acts)
//! and adds its act bytes and its state, so `act1 | act2 | act3 | finish`
//! runs a whole handshake in a shell.

use bitcoin::secp256k1::Secp256k1;
use clap::Subcommand;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::carried::Carried;
use super::field::{HexBytes, Privkey, Pubkey};
use super::input::Input;
use super::{hex, CliError, Explain, StepResult};
use crate::wire::noise::{self, InitiatorAct1, ResponderAct2, Transport};

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

/// A handshake or transport state, as an earlier step printed it.
#[derive(Clone, Debug)]
pub struct State<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for State<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        serde_json::from_value(v)
            .map(State)
            .map_err(|e| D::Error::custom(format!("not a handshake state: {e}")))
    }
}

impl<T: Serialize> Serialize for State<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T> JsonSchema for State<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "State".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "object", "format": "noise-state"})
    }
}

fn required<T>(input: &Input, field: &str, v: Option<T>) -> Result<T, CliError> {
    v.ok_or_else(|| {
        input.error(
            field,
            "missing required field (from the previous step's output)",
        )
    })
}

/// `transport act1`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct Act1In {
    /// The initiator's static node key.
    initiator_privkey: Privkey,
    /// The responder's node key, known beforehand (Noise_XK).
    responder_pubkey: Pubkey,
    /// The initiator's ephemeral key.
    initiator_ephemeral: Privkey,
}

/// `transport act1` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct Act1Out {
    /// Act One's 50 bytes.
    act1_hex: String,
    /// `h`, `ck` and the initiator's keys, for `act3`.
    initiator_state: State<InitiatorAct1>,
}

/// `transport act2`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct Act2In {
    /// The responder's static node key.
    responder_privkey: Privkey,
    /// The responder's ephemeral key.
    responder_ephemeral: Privkey,
    /// Act One, from `act1`.
    act1_hex: HexBytes,
}

/// `transport act2` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct Act2Out {
    /// Act Two's 50 bytes.
    act2_hex: String,
    /// `h`, `ck`, `temp_k2`, for `finish`.
    responder_state: State<ResponderAct2>,
}

/// `transport act3`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct Act3In {
    /// From `act1`.
    initiator_state: Option<State<InitiatorAct1>>,
    /// The responder's node key.
    responder_pubkey: Pubkey,
    /// Act Two, from `act2`.
    act2_hex: HexBytes,
}

/// `transport act3` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct Act3Out {
    /// Act Three's 66 bytes.
    act3_hex: String,
    /// The initiator's keys and nonces.
    initiator_transport: State<Transport>,
}

/// `transport finish`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct FinishIn {
    /// From `act2`.
    responder_state: Option<State<ResponderAct2>>,
    /// Act Three, from `act3`.
    act3_hex: HexBytes,
}

/// `transport finish` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct FinishOut {
    /// The responder's keys and nonces.
    responder_transport: State<Transport>,
    /// The initiator's static key, learned in Act Three.
    initiator_pubkey: String,
}

/// Which end of the session.
#[derive(Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Initiator,
    Responder,
}

/// The fields `encrypt` and `decrypt` share.
#[derive(Deserialize, JsonSchema)]
pub struct SessionIn {
    /// Whose transport: `initiator` or `responder`.
    side: Side,
    /// The initiator's transport (when `side` is `initiator`).
    initiator_transport: Option<State<Transport>>,
    /// The responder's transport (when `side` is `responder`).
    responder_transport: Option<State<Transport>>,
}

/// `transport encrypt`'s message.
#[derive(Deserialize, JsonSchema)]
pub struct EncryptIn {
    /// The message to send.
    message_hex: HexBytes,
}

/// `transport decrypt`'s ciphertext.
#[derive(Deserialize, JsonSchema)]
pub struct DecryptIn {
    /// A length and a body, encrypted.
    ciphertext_hex: HexBytes,
}

/// `transport encrypt` or `decrypt` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct SessionOut {
    /// The encrypted length and body (`encrypt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ciphertext_hex: Option<String>,
    /// The plaintext (`decrypt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    message_hex: Option<String>,
    /// The initiator's transport after (its nonce moved on).
    #[serde(skip_serializing_if = "Option::is_none")]
    initiator_transport: Option<State<Transport>>,
    /// The responder's transport after.
    #[serde(skip_serializing_if = "Option::is_none")]
    responder_transport: Option<State<Transport>>,
}

/// Run `lnkit transport ...`.
pub fn run(cmd: TransportCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    match cmd {
        TransportCommand::Act1 => {
            let r: Act1In = input.typed()?;
            let (act, st) = noise::initiator_act1(
                &secp,
                &r.initiator_privkey,
                &r.responder_pubkey,
                &r.initiator_ephemeral,
            );
            ex.line(format!(
                "act one: h = {}, ck = {}",
                hex(st.state.h),
                hex(st.state.ck)
            ));
            let out = Act1Out {
                act1_hex: hex(act),
                initiator_state: State(st),
            };
            Ok(Carried::new(input, out).value())
        }
        TransportCommand::Act2 => {
            let r: Act2In = input.typed()?;
            let st = noise::responder_act1(&secp, &r.responder_privkey, &r.act1_hex)
                .map_err(|e| input.error("act1_hex", e))?;
            let (act, st) = noise::responder_act2(&secp, &st, &r.responder_ephemeral);
            ex.line(format!(
                "act two: h = {}, ck = {}, temp_k2 = {}",
                hex(st.state.h),
                hex(st.state.ck),
                hex(st.temp_k2)
            ));
            let out = Act2Out {
                act2_hex: hex(act),
                responder_state: State(st),
            };
            Ok(Carried::new(input, out).value())
        }
        TransportCommand::Act3 => {
            let r: Act3In = input.typed()?;
            let st = required(input, "initiator_state", r.initiator_state)?;
            let (act, t) =
                noise::initiator_act2_act3(&secp, &st.0, &r.act2_hex, &r.responder_pubkey)
                    .map_err(|e| input.error("act2_hex", e))?;
            ex.line(format!("act three: sk = {}, rk = {}", hex(t.sk), hex(t.rk)));
            let out = Act3Out {
                act3_hex: hex(act),
                initiator_transport: State(t),
            };
            Ok(Carried::new(input, out).value())
        }
        TransportCommand::Finish => {
            let r: FinishIn = input.typed()?;
            let st = required(input, "responder_state", r.responder_state)?;
            let t = noise::responder_act3(&st.0, &r.act3_hex)
                .map_err(|e| input.error("act3_hex", e))?;
            let initiator = t.remote_static;
            ex.line(format!(
                "the initiator is {initiator}; sk = {}, rk = {}",
                hex(t.sk),
                hex(t.rk)
            ));
            let out = FinishOut {
                responder_transport: State(t),
                initiator_pubkey: initiator.to_string(),
            };
            Ok(Carried::new(input, out).value())
        }
        TransportCommand::Encrypt | TransportCommand::Decrypt => session(cmd, input, ex),
    }
}

fn session(cmd: TransportCommand, input: &Input, ex: &mut Explain) -> StepResult {
    let r: SessionIn = input.typed()?;
    let (name, t) = match r.side {
        Side::Initiator => ("initiator", r.initiator_transport),
        Side::Responder => ("responder", r.responder_transport),
    };
    let mut t = required(input, &format!("{name}_transport"), t)?.0;
    let mut out = SessionOut {
        ciphertext_hex: None,
        message_hex: None,
        initiator_transport: None,
        responder_transport: None,
    };
    if matches!(cmd, TransportCommand::Encrypt) {
        let m: EncryptIn = input.typed()?;
        let c = t
            .encrypt(&m.message_hex)
            .map_err(|e| input.error("message_hex", e))?;
        out.ciphertext_hex = Some(hex(c));
    } else {
        let c: DecryptIn = input.typed()?;
        let m = t
            .decrypt(&c.ciphertext_hex)
            .map_err(|e| input.error("ciphertext_hex", e))?;
        out.message_hex = Some(hex(m));
    }
    ex.line(format!("{name}: nonces now sn = {}, rn = {}", t.sn, t.rn));
    match r.side {
        Side::Initiator => out.initiator_transport = Some(State(t)),
        Side::Responder => out.responder_transport = Some(State(t)),
    }
    Ok(Carried::new(input, out).value())
}
