//! The requests and responses of `lnkit transport`: each act's keys and
//! bytes, and the states one step hands the next (BOLT 8).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::field::{HexBytes, Privkey, Pubkey};
use crate::wire::noise::{InitiatorAct1, ResponderAct2, Transport};

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

/// `transport act1`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct Act1In {
    /// The initiator's static node key.
    pub(super) initiator_privkey: Privkey,
    /// The responder's node key, known beforehand (Noise_XK).
    pub(super) responder_pubkey: Pubkey,
    /// The initiator's ephemeral key.
    pub(super) initiator_ephemeral: Privkey,
}

/// `transport act1` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct Act1Out {
    /// Act One's 50 bytes.
    pub(super) act1_hex: String,
    /// `h`, `ck` and the initiator's keys, for `act3`.
    pub(super) initiator_state: State<InitiatorAct1>,
}

/// `transport act2`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct Act2In {
    /// The responder's static node key.
    pub(super) responder_privkey: Privkey,
    /// The responder's ephemeral key.
    pub(super) responder_ephemeral: Privkey,
    /// Act One, from `act1`.
    pub(super) act1_hex: HexBytes,
}

/// `transport act2` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct Act2Out {
    /// Act Two's 50 bytes.
    pub(super) act2_hex: String,
    /// `h`, `ck`, `temp_k2`, for `finish`.
    pub(super) responder_state: State<ResponderAct2>,
}

/// `transport act3`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct Act3In {
    /// From `act1`.
    pub(super) initiator_state: Option<State<InitiatorAct1>>,
    /// The responder's node key.
    pub(super) responder_pubkey: Pubkey,
    /// Act Two, from `act2`.
    pub(super) act2_hex: HexBytes,
}

/// `transport act3` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct Act3Out {
    /// Act Three's 66 bytes.
    pub(super) act3_hex: String,
    /// The initiator's keys and nonces.
    pub(super) initiator_transport: State<Transport>,
}

/// `transport finish`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct FinishIn {
    /// From `act2`.
    pub(super) responder_state: Option<State<ResponderAct2>>,
    /// Act Three, from `act3`.
    pub(super) act3_hex: HexBytes,
}

/// `transport finish` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct FinishOut {
    /// The responder's keys and nonces.
    pub(super) responder_transport: State<Transport>,
    /// The initiator's static key, learned in Act Three.
    pub(super) initiator_pubkey: String,
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
    pub(super) side: Side,
    /// The initiator's transport (when `side` is `initiator`).
    pub(super) initiator_transport: Option<State<Transport>>,
    /// The responder's transport (when `side` is `responder`).
    pub(super) responder_transport: Option<State<Transport>>,
}

/// `transport encrypt`'s message.
#[derive(Deserialize, JsonSchema)]
pub struct EncryptIn {
    /// The message to send.
    pub(super) message_hex: HexBytes,
}

/// `transport decrypt`'s ciphertext.
#[derive(Deserialize, JsonSchema)]
pub struct DecryptIn {
    /// A length and a body, encrypted.
    pub(super) ciphertext_hex: HexBytes,
}

/// `transport encrypt` or `decrypt` adds these to its input.
#[derive(Serialize, JsonSchema)]
pub struct SessionOut {
    /// The encrypted length and body (`encrypt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ciphertext_hex: Option<String>,
    /// The plaintext (`decrypt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) message_hex: Option<String>,
    /// The initiator's transport after (its nonce moved on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) initiator_transport: Option<State<Transport>>,
    /// The responder's transport after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) responder_transport: Option<State<Transport>>,
}
