//! `lnkit transport act1 | act2 | act3 | finish | encrypt | decrypt`: BOLT 8
//! one step at a time. One JSON object flows through the whole pipeline: each
//! step reads what it needs (role-prefixed keys, the states of earlier acts)
//! and adds its act bytes and its state, so `act1 | act2 | act3 | finish`
//! runs a whole handshake in a shell.

use super::carried::Carried;
use super::input::Input;
pub use super::transport_types::*;
use super::{hex, CliError, Explain, StepResult};
use crate::wire::noise;
use bitcoin::secp256k1::Secp256k1;
use clap::Subcommand;

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

fn required<T>(input: &Input, field: &str, v: Option<T>) -> Result<T, CliError> {
    v.ok_or_else(|| {
        input.error(
            field,
            "missing required field (from the previous step's output)",
        )
    })
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
