//! The harness every walkthrough runs on: each step run on its input and
//! recorded, each check recorded (and a failed one stops the walk), and the
//! helpers that carry one step's output into the next.

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::Transaction;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{CliError, Explain, Input, StepResult};

pub(crate) fn point(secret_hex: &str) -> String {
    let secret = SecretKey::from_slice(&hex::decode(secret_hex).expect("demo constant"))
        .expect("demo constant");
    PublicKey::from_secret_key(&Secp256k1::signing_only(), &secret).to_string()
}

/// One step of a walk: the subcommand, its input and its output.
#[derive(Serialize, JsonSchema)]
pub struct WalkStep {
    pub step: usize,
    /// The subcommand: run it yourself on `input`.
    pub command: String,
    pub explanation: String,
    pub input: Value,
    pub output: Value,
}

/// One check of a walk (a failed one stops it).
#[derive(Serialize, JsonSchema)]
pub struct CheckOut {
    pub check: String,
    pub ok: bool,
}

/// `lnkit walkthrough`'s output (and `--swap`'s, `--factory`'s).
#[derive(Serialize, JsonSchema)]
pub struct WalkthroughOut {
    /// What it walks through.
    pub walkthrough: &'static str,
    /// The fixed demo secrets it uses.
    pub demo_keys: Value,
    /// --factory: the unilateral exit's plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<Value>,
    pub steps: Vec<WalkStep>,
    pub checks: Vec<CheckOut>,
    /// --factory: chain space, the factory against one channel at a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_space: Option<Value>,
}

/// `lnkit walkthrough` reads no input fields: only its flags.
#[derive(serde::Deserialize, JsonSchema)]
pub struct WalkthroughIn {}

impl WalkthroughOut {
    /// A walk's output: its steps and checks.
    pub(crate) fn new(walkthrough: &'static str, demo_keys: Value, w: Walk) -> Self {
        WalkthroughOut {
            walkthrough,
            demo_keys,
            exit: None,
            steps: w.steps,
            checks: w.checks,
            chain_space: None,
        }
    }

    /// The steps' own results, without the fields they carry forward.
    pub(crate) fn own_results(mut self) -> Self {
        for st in &mut self.steps {
            st.output = new_fields(&st.input, &st.output);
        }
        self
    }

    /// As the step's result.
    pub(crate) fn result(self) -> StepResult {
        Ok(serde_json::to_value(self).expect("a walkthrough serializes"))
    }
}

/// A walk: its steps, its checks, and the trace.
pub(crate) struct Walk<'a> {
    pub(crate) steps: Vec<WalkStep>,
    pub(crate) checks: Vec<CheckOut>,
    pub(crate) ex: &'a mut Explain,
}

impl Walk<'_> {
    /// Run one subcommand on `input`, recording both.
    pub(crate) fn step(
        &mut self,
        command: &str,
        explanation: &str,
        input: Value,
        run: fn(&Input, &mut Explain) -> StepResult,
    ) -> StepResult {
        let n = self.steps.len() + 1;
        self.ex
            .line(format!("== step {n}: {command} — {explanation}"));
        let output = run(&Input::from_value(input.clone()), self.ex).map_err(|e| {
            CliError::failure(format!("walkthrough step {n} ({command}): {}", e.message()))
        })?;
        self.steps.push(WalkStep {
            step: n,
            command: command.into(),
            explanation: explanation.into(),
            input,
            output: output.clone(),
        });
        Ok(output)
    }

    /// Record a check; a failed one stops the walk.
    pub(crate) fn check(&mut self, what: &str, ok: bool) -> Result<(), CliError> {
        self.ex.line(format!(
            "check: {what}: {}",
            if ok { "ok" } else { "FAILED" }
        ));
        self.checks.push(CheckOut {
            check: what.into(),
            ok,
        });
        if ok {
            Ok(())
        } else {
            Err(CliError::failure(format!(
                "walkthrough check failed: {what}"
            )))
        }
    }
}

pub(crate) fn field<'v>(v: &'v Value, name: &str) -> &'v Value {
    &v[name]
}

/// Fields of `b` that `a` does not have or has with another value: a step's
/// own results, without the input that `build-commitment` carries forward.
pub(crate) fn new_fields(input: &Value, output: &Value) -> Value {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => Value::Object(
            o.iter()
                .filter(|(k, v)| i.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => output.clone(),
    }
}

pub(crate) fn merged(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Value::Object(o), Value::Object(e)) = (&mut out, extra) {
        o.extend(e);
    }
    out
}

pub(crate) fn tx_of(v: &Value, field_name: &str) -> Result<Transaction, CliError> {
    v[field_name]
        .as_str()
        .and_then(|h| deserialize_hex(h).ok())
        .ok_or_else(|| {
            CliError::failure(format!("walkthrough: no {field_name} in a step's output"))
        })
}
