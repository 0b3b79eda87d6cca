//! Every typed step, tested from its types (`lnkit::cli::step::STEPS`): its
//! example runs and prints its snapshot, which its output schema accepts;
//! every input field given a value of the wrong type is named, with what was
//! expected; `--help` lists every field and the example; `lnkit schema`
//! prints both schemas; the fields tables in docs/ are the schemas'.
//!
//! `LNKIT_BLESS=1` rewrites the snapshots and the docs tables after a
//! deliberate change (then read the diff).

use crate::common;

use std::path::PathBuf;

use super::bash;

use lnkit::cli::step::{fields_markdown, input_fields, STEPS};
use lnkit::cli::Input;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var("LNKIT_BLESS").is_ok()
}

fn assert_schema_accepts(name: &str, schema: &Value, value: &Value) {
    let validator = jsonschema::validator_for(schema)
        .unwrap_or_else(|e| panic!("{name}: the output schema is not a schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: output breaks its schema: {errors:?}"
    );
}

#[test]
fn every_example_runs_prints_its_snapshot_and_fits_its_schema() {
    for s in STEPS {
        let (stdout, stderr, ok) = bash(s.example);
        assert!(
            ok,
            "{}: the example failed: {}\n{stderr}",
            s.name, s.example
        );
        let values = super::json_values(&stdout)
            .unwrap_or_else(|| panic!("{}: the example printed no JSON: {stdout}", s.name));
        for value in &values {
            assert_schema_accepts(s.name, &(s.output)(), value);
        }
        // A change of output must be deliberate: the snapshot is rewritten
        // only by LNKIT_BLESS, and the diff shows it.
        let snapshot = root().join(format!("tests/snapshots/{}.json", s.name.replace(' ', "-")));
        if bless() {
            std::fs::write(&snapshot, &stdout).unwrap();
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert!(
            masked(s.name, &stdout) == masked(s.name, &expected),
            "{}: the output is not {}",
            s.name,
            snapshot.display()
        );
    }
}

/// Fields a measurement fills (the solver's microseconds), different on
/// every run: compared as 0 on both sides. Every other byte must match.
const MEASURED: &[(&str, &str)] = &[("amp-split", "/solver/time_us")];

fn masked(step: &str, text: &str) -> String {
    let pointers: Vec<&str> = MEASURED
        .iter()
        .filter(|(s, _)| *s == step)
        .map(|(_, p)| *p)
        .collect();
    if pointers.is_empty() {
        return text.to_string();
    }
    let mut v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    for p in pointers {
        match v.pointer_mut(p) {
            Some(x) => *x = json!(0),
            None => panic!("{step}: its output has no {p} to mask"),
        }
    }
    v.to_string()
}

/// A value no field of these JSON types accepts.
fn wrong_value(types: &[String]) -> Value {
    if types.iter().any(|t| t == "boolean") {
        json!(["not", "a", "boolean"])
    } else {
        json!(true)
    }
}

#[test]
fn a_field_of_the_wrong_type_is_named_with_what_was_expected() {
    let mut checked = 0;
    for s in STEPS {
        for f in input_fields(s) {
            assert!(
                !f.json_types.is_empty(),
                "{} {}: the schema gives no type",
                s.name,
                f.name
            );
            let wrong = wrong_value(&f.json_types);
            let input = Input::from_value(json!({ &f.name: wrong }));
            let errors: Vec<String> = (s.parts)(&input)
                .into_iter()
                .filter_map(|r| r.err().map(|e| e.message().to_string()))
                .collect();
            let named = format!("{}: ", f.name);
            let nested = format!("{}.", f.name);
            assert!(
                errors
                    .iter()
                    .any(|m| (m.starts_with(&named) || m.starts_with(&nested))
                        && m.contains("expected")),
                "{} {}: {wrong} is not refused by name with what was expected: {errors:?}",
                s.name,
                f.name
            );
            checked += 1;
        }
    }
    assert!(checked >= STEPS.len() * 3, "only {checked} fields checked");
    // And end to end, through the command line, exit 2 and nothing on stdout.
    common::lnkit_json(&["swap", "create"], &json!({"kind": "reverse", "payment_hash": "e29442e61ad354e5cb0831e2e8359e8fb50cf024ad5a8f407c8f9de63bdf7371", "amount_sat": true}))
        .assert_bad_input("amount_sat", &["expected", "non-negative integer"]);
}

#[test]
fn help_lists_every_input_field_and_ends_with_the_example() {
    for s in STEPS {
        let words: Vec<&str> = s.name.split(' ').collect();
        let (stdout, stderr, ok) = bash(&format!("lnkit {} --help", words.join(" ")));
        assert!(ok, "{}: --help failed: {stderr}", s.name);
        for f in input_fields(s) {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{} ", f.name))),
                "{}: --help does not list {}",
                s.name,
                f.name
            );
        }
        assert!(
            stdout.trim_end().ends_with(s.example),
            "{}: no example at the end",
            s.name
        );
    }
}

#[test]
fn schema_prints_both_schemas_of_a_step_or_a_node_method() {
    for name in ["swap create", "swap verify", "node pay"] {
        let words: Vec<&str> = name.split(' ').collect();
        let mut args = vec!["schema"];
        args.extend(&words);
        let out = common::lnkit(&args, "").json();
        assert_eq!(out["command"], name);
        assert!(out["input"]["properties"]
            .as_object()
            .is_some_and(|p| !p.is_empty()));
        assert!(out["output"].is_object());
    }
    common::lnkit(&["schema", "swap", "teleport"], "").assert_bad_input("command", &["no schema"]);
}

#[test]
fn the_docs_tables_are_the_schemas() {
    let mut found = 0;
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let page = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut rest = page.as_str();
        while let Some(start) = rest.find("<!-- fields: ") {
            let name_end = start + rest[start..].find(" -->").expect("marker end");
            let name = &rest[start + "<!-- fields: ".len()..name_end];
            let s = lnkit::cli::step::step(name)
                .unwrap_or_else(|| panic!("{}: no step {name:?}", path.display()));
            let end = name_end
                + rest[name_end..]
                    .find("<!-- end fields -->")
                    .expect("end marker");
            out.push_str(&rest[..name_end + 4]);
            out.push_str(&format!("\n\n{}\n", fields_markdown(s)));
            rest = &rest[end..];
            found += 1;
        }
        out.push_str(rest);
        if bless() {
            std::fs::write(&path, &out).unwrap();
        }
        assert!(
            bless() || out == page,
            "{}: a fields table is not its schema's: run with LNKIT_BLESS=1",
            path.display()
        );
    }
    assert!(
        found >= STEPS.len(),
        "only {found} tables in docs/ for {} steps",
        STEPS.len()
    );
}
