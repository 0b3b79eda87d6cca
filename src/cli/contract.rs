//! The pieces of the CLI contract (DESIGN.md) every subcommand shares: the
//! input document read from files, stdin and `--set`; errors with their exit
//! codes; the `--explain` trace.

use std::io::{IsTerminal, Read, Write};

use serde_json::Value;

use super::{Common, Input};

/// A failed command: what went wrong, and whose fault it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// The input was wrong (exit code 2). The message starts with the field.
    BadInput(String),
    /// The input was fine but the step failed (exit code 1).
    Failure(String),
}

impl CliError {
    /// Bad input; `msg` should start with the field name.
    pub fn bad(msg: impl Into<String>) -> Self {
        CliError::BadInput(msg.into())
    }

    /// A failure of the step itself.
    pub fn failure(msg: impl Into<String>) -> Self {
        CliError::Failure(msg.into())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::BadInput(_) => 2,
            CliError::Failure(_) => 1,
        }
    }

    /// The message, without the `error: ` prefix.
    pub fn message(&self) -> &str {
        match self {
            CliError::BadInput(m) | CliError::Failure(m) => m,
        }
    }
}

/// The `--explain` trace: lines for stderr, only when asked for.
#[derive(Debug, Default)]
pub struct Explain {
    enabled: bool,
}

impl Explain {
    /// A trace that prints when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Explain { enabled }
    }

    /// Whether anything will be printed (to skip building costly text).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// One line of the trace.
    pub fn line(&mut self, text: impl AsRef<str>) {
        if self.enabled {
            // A closed stderr (`2>&1 | head`) must not turn into a panic.
            let _ = writeln!(std::io::stderr(), "{}", text.as_ref());
        }
    }
}

/// The result of a step: its JSON output.
pub type StepResult = Result<Value, CliError>;

/// Read the input document as the contract says.
pub(super) fn read_input(common: &Common, wants_input: bool) -> Result<Input, CliError> {
    let mut input = if common.input.is_empty() {
        let text = if wants_input && !std::io::stdin().is_terminal() {
            read_stdin()?
        } else {
            String::new()
        };
        Input::parse(&text)?
    } else {
        let mut merged = Input::default();
        for path in &common.input {
            let text = if path.as_os_str() == "-" {
                read_stdin()?
            } else {
                std::fs::read_to_string(path).map_err(|e| {
                    CliError::bad(format!("--input: cannot read {}: {e}", path.display()))
                })?
            };
            merged.merge(Input::parse(&text)?);
        }
        merged
    };
    for assignment in &common.set {
        let (field, value) = assignment.split_once('=').ok_or_else(|| {
            CliError::bad(format!("--set: expected FIELD=VALUE, got {assignment:?}"))
        })?;
        input.set(field, set_value(value));
    }
    if let Some(network) = &common.network {
        input.set("network", Value::String(network.clone()));
    }
    Ok(input)
}

/// The value of `--set field=value`: JSON where it is JSON (objects, arrays,
/// strings in quotes, booleans, integers that fit a u64), else the text itself
/// — so a long hex string that happens to be all digits stays a string.
pub(crate) fn set_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) if n.as_u64().is_none() => Value::String(text.into()),
        Ok(v) => v,
        Err(_) => Value::String(text.into()),
    }
}

fn read_stdin() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::bad(format!("input: cannot read standard input: {e}")))?;
    Ok(text)
}

/// Lowercase hex, the contract's encoding for bytes.
pub(crate) fn hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

/// Set `field` in `input` when a named flag gave it.
pub(crate) fn flag(input: &mut Input, field: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        input.set(field, v.into());
    }
}

/// A response struct as the step's result.
pub(crate) fn respond(out: impl serde::Serialize) -> StepResult {
    Ok(serde_json::to_value(out).expect("a response serializes"))
}
