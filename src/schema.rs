//! JSON Schemas read back as field lists: one rendering of a request's or a
//! response's fields, shared by the node's RPC page, the toolkit's docs
//! tables, `--help` and the schema-driven tests, so none can drift from the
//! types the schemas are derived from (Core Lightning's `doc/schemas/` idea).

use serde_json::{Map, Value};

/// One top-level field of an object schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The JSON name.
    pub name: String,
    /// Its type in words: `integer`, `pubkey`, `array of string`, `p2wsh|p2tr`.
    pub ty: String,
    /// The JSON Schema types a value of it may have (`string`, `object`...).
    pub json_types: Vec<String>,
    /// Whether the object must have it.
    pub required: bool,
    /// Its default, as JSON, when the schema gives one.
    pub default: Option<String>,
    /// The first line of its description.
    pub doc: String,
}

/// The fields of an object schema, in declaration order.
pub fn fields(schema: &Value) -> Vec<Field> {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, p)| {
            let p = non_null(p, &defs);
            Field {
                name: name.clone(),
                ty: type_words(&p, &defs),
                json_types: json_types(&p, &defs),
                required: required.contains(&name.as_str()),
                default: p
                    .get("default")
                    .filter(|d| !d.is_null())
                    .map(|d| d.to_string()),
                doc: p["description"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            }
        })
        .collect()
}

/// A property with `null` taken out of it (an `Option` field's schema), its
/// description kept.
fn non_null(p: &Value, defs: &Value) -> Value {
    let mut out = p.clone();
    if let Some(any) = p.get("anyOf").and_then(|a| a.as_array()) {
        let rest: Vec<&Value> = any.iter().filter(|s| s["type"] != "null").collect();
        if let [one] = rest.as_slice() {
            let mut one = resolve(one, defs);
            if let (Some(obj), Some(d)) = (one.as_object_mut(), p.get("description")) {
                obj.insert("description".into(), d.clone());
            }
            if let (Some(obj), Some(d)) = (one.as_object_mut(), p.get("default")) {
                obj.insert("default".into(), d.clone());
            }
            out = one;
        }
    }
    if let Some(types) = out.get("type").and_then(|t| t.as_array()).cloned() {
        let rest: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
        out["type"] = match rest.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(rest),
        };
    }
    out
}

/// A `$ref` replaced by its definition (the property's own keys kept).
fn resolve(p: &Value, defs: &Value) -> Value {
    match p.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or(r);
            let mut def = defs.get(name).cloned().unwrap_or(Value::Null);
            if let (Some(obj), Some(own)) = (def.as_object_mut(), p.as_object()) {
                for (k, v) in own {
                    if k != "$ref" {
                        obj.insert(k.clone(), v.clone());
                    }
                }
                obj.entry("title")
                    .or_insert_with(|| Value::String(name.into()));
            }
            def
        }
        None => p.clone(),
    }
}

/// The values of an enumeration: `enum`, or a `oneOf` of `const`s (an enum
/// whose variants have doc comments); `null` left out.
fn enum_values(p: &Value) -> Option<Vec<String>> {
    let show = |v: &Value| {
        v.as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string())
    };
    if let Some(values) = p["enum"].as_array() {
        return Some(values.iter().filter(|v| !v.is_null()).map(show).collect());
    }
    let variants = p["oneOf"].as_array()?;
    variants
        .iter()
        .map(|v| v.get("const").map(show))
        .collect::<Option<Vec<_>>>()
}

fn json_types(p: &Value, defs: &Value) -> Vec<String> {
    let p = resolve(p, defs);
    if p.get("type").is_none() && enum_values(&p).is_some() {
        return vec!["string".into()];
    }
    match &p["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .map(String::from)
            .collect(),
        _ if p.get("enum").is_some() => vec!["string".into()],
        _ => Vec::new(),
    }
}

fn type_words(p: &Value, defs: &Value) -> String {
    let p = resolve(p, defs);
    if let Some(values) = enum_values(&p) {
        return values.join("\\|");
    }
    if let Some(format) = p["format"].as_str() {
        return format.to_string();
    }
    match &p["type"] {
        Value::String(t) if t == "array" => format!("array of {}", type_words(&p["items"], defs)),
        Value::String(t) if t == "object" => match p["title"].as_str() {
            Some(title) => format!("object ({title})"),
            None => "object".into(),
        },
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

/// A Markdown table of the fields; `mark_required` adds ` (required)`.
pub fn markdown_table(fields: &[Field], mark_required: bool) -> String {
    let mut out = String::from("| field | type | |\n|---|---|---|\n");
    for f in fields {
        let req = if mark_required && f.required {
            " (required)"
        } else {
            ""
        };
        let default = match &f.default {
            Some(d) => format!(" (default {d})"),
            None => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | {}{req}{default} | {} |\n",
            f.name,
            f.ty,
            f.doc.replace('|', "\\|")
        ));
    }
    out
}

/// One object schema from several: their properties, required fields and
/// definitions together (a request read as several parts from one object).
pub fn merge(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut defs = Map::new();
    let mut title = None;
    for part in parts {
        title = title.or_else(|| part.get("title").cloned());
        if let Some(p) = part["properties"].as_object() {
            for (k, v) in p {
                properties.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if let Some(r) = part["required"].as_array() {
            for x in r {
                if !required.contains(x) {
                    required.push(x.clone());
                }
            }
        }
        if let Some(d) = part["$defs"].as_object() {
            defs.extend(d.clone());
        }
    }
    let mut out = Map::new();
    out.insert(
        "$schema".into(),
        Value::String("https://json-schema.org/draft/2020-12/schema".into()),
    );
    if let Some(t) = title {
        out.insert("title".into(), t);
    }
    out.insert("type".into(), Value::String("object".into()));
    out.insert("properties".into(), Value::Object(properties));
    out.insert("required".into(), Value::Array(required));
    if !defs.is_empty() {
        out.insert("$defs".into(), Value::Object(defs));
    }
    Value::Object(out)
}
