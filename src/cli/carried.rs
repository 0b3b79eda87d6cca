//! A step's output that carries its input forward: the object it read, with
//! the step's own fields set in it (a field already there keeps its place),
//! so one JSON object flows through a pipeline (`transport act1 | act2`).

use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::input::Input;

/// The input object with `T`'s fields set in it.
pub struct Carried<T> {
    input: Map<String, Value>,
    out: T,
}

impl<T: Serialize> Carried<T> {
    /// `out`'s fields set in `input`'s object.
    pub fn new(input: &Input, out: T) -> Self {
        let input = match input.to_value() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Carried { input, out }
    }

    /// As JSON.
    pub fn value(self) -> Value {
        serde_json::to_value(self).expect("a response serializes")
    }
}

impl<T: Serialize> Serialize for Carried<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut all = self.input.clone();
        if let Value::Object(out) =
            serde_json::to_value(&self.out).map_err(serde::ser::Error::custom)?
        {
            for (k, v) in out {
                all.insert(k, v);
            }
        }
        all.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Carried<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The input's other fields pass through: any property is allowed.
        T::json_schema(g)
    }
}
