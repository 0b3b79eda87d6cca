//! The input side of the CLI contract: one JSON object, whose fields are read
//! by name into library types. Every failure names the field (with its path,
//! `inputs[1].amount_sat`) and says what was expected.

use serde_json::{Map, Value};

pub use super::parse::*;
use super::CliError;

/// A JSON object being read field by field.
#[derive(Clone, Debug, Default)]
pub struct Input {
    map: Map<String, Value>,
    /// Path of this object inside the document, e.g. `inputs[0].` (empty at the top).
    prefix: String,
}

impl Input {
    /// Parse the text of a whole input document: it must be one JSON object.
    /// Empty input is the empty object, so flags alone can supply every field.
    pub fn parse(text: &str) -> Result<Self, CliError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Input {
                map,
                prefix: String::new(),
            }),
            Ok(other) => Err(CliError::bad(format!(
                "input: expected a JSON object, got {}",
                describe(&other)
            ))),
            Err(e) => Err(CliError::bad(format!(
                "input: expected a JSON object, but it is not JSON ({e})"
            ))),
        }
    }

    /// An input from an already-built JSON object (the walkthrough feeds steps this way).
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(map) => Input {
                map,
                prefix: String::new(),
            },
            _ => Input::default(),
        }
    }

    /// Merge another object in: its fields override ours.
    pub fn merge(&mut self, other: Input) {
        self.map.extend(other.map);
    }

    /// The whole object, for steps whose output carries their input forward.
    pub fn to_value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// Set or override a field (`--set field=value` and the named flags).
    pub fn set(&mut self, field: &str, value: Value) {
        self.map.insert(field.to_string(), value);
    }

    /// The full path of a field, for messages.
    pub fn path(&self, field: &str) -> String {
        format!("{}{}", self.prefix, field)
    }

    /// An error about `field`.
    pub fn error(&self, field: &str, msg: impl std::fmt::Display) -> CliError {
        CliError::bad(format!("{}: {msg}", self.path(field)))
    }

    /// The raw value of a field; JSON `null` counts as absent.
    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// Whether a field is present.
    pub fn has(&self, field: &str) -> bool {
        self.raw(field).is_some()
    }

    /// Read an optional field with `parse`.
    pub fn opt<T>(
        &self,
        field: &str,
        parse: impl Fn(&Value) -> Parsed<T>,
    ) -> Result<Option<T>, CliError> {
        match self.raw(field) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).map_err(|msg| self.error(field, msg)),
        }
    }

    /// A typed field that is required here though optional in its request
    /// part (required in one mode only, or checked in a chosen order).
    pub fn need<T>(&self, field: &str, v: Option<T>) -> Result<T, CliError> {
        v.ok_or_else(|| self.error(field, "missing required field"))
    }

    /// Read a required field with `parse`.
    pub fn req<T>(&self, field: &str, parse: impl Fn(&Value) -> Parsed<T>) -> Result<T, CliError> {
        self.opt(field, parse)?
            .ok_or_else(|| self.error(field, "missing required field"))
    }

    /// The whole object as a typed request (or one part of one: several
    /// parts may read the same object). Unknown fields are ignored, `null`
    /// is absent, and an error names the field by its full path.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, CliError> {
        let map: Map<String, Value> = self
            .map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| self.serde_error(None, e))
    }

    /// A serde error as `path: message`, the path inside `field` (or this object).
    fn serde_error(
        &self,
        field: Option<&str>,
        e: serde_path_to_error::Error<serde_json::Error>,
    ) -> CliError {
        let inner = e.path().to_string();
        let mut at = match (field, inner.as_str()) {
            (Some(f), ".") => f.to_string(),
            (Some(f), _) => format!("{f}.{inner}").replace(".[", "["),
            (None, ".") => String::new(),
            (None, _) => inner.clone(),
        };
        let msg = e.into_inner().to_string();
        // serde_json adds where in the text it was; the path says it better.
        let mut msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // serde's "missing field `x`" is our "x: missing required field".
        if let Some(name) = msg
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            at = if at.is_empty() {
                name.to_string()
            } else {
                format!("{at}.{name}")
            };
            msg = "missing required field".into();
        }
        if at.is_empty() {
            CliError::bad(format!("{}input: {msg}", self.prefix))
        } else {
            self.error(&at, msg)
        }
    }

    /// A nested object.
    pub fn object(&self, field: &str) -> Result<Option<Input>, CliError> {
        match self.raw(field) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Input {
                map: map.clone(),
                prefix: format!("{}.", self.path(field)),
            })),
            Some(other) => Err(self.error(
                field,
                format!("expected an object, got {}", describe(other)),
            )),
        }
    }

    /// An array of objects, each readable as an `Input` whose messages name `field[i].`.
    pub fn objects(&self, field: &str) -> Result<Vec<Input>, CliError> {
        match self.raw(field) {
            None => Err(self.error(
                field,
                "missing required field (expected an array of objects)",
            )),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(Input {
                        map: map.clone(),
                        prefix: format!("{}[{i}].", self.path(field)),
                    }),
                    other => Err(self.error(
                        &format!("{field}[{i}]"),
                        format!("expected an object, got {}", describe(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.error(
                field,
                format!("expected an array of objects, got {}", describe(other)),
            )),
        }
    }
}
