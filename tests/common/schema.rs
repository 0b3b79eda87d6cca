//! Every node response a test sees is checked against its method's JSON
//! Schema, as Core Lightning's tests check theirs.

use serde_json::Value;

/// Panic unless `response` is valid for `method`'s response schema.
pub fn assert_valid(method: &str, response: &Value) {
    let m = lnkit::node::rpc::method(method).unwrap_or_else(|| panic!("no method {method}"));
    let schema = serde_json::to_value((m.response)()).unwrap();
    let validator =
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{method}: bad schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(response)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} response breaks its schema: {errors:?}\n{response:#}"
    );
}
