//! BOLT 3 Appendix D: Per-commitment Secret Generation Test Vectors — the 5
//! generation tests and the 9 storage sequences, each failing sequence at the
//! exact insert where the spec says it fails, through the library and through
//! `lnkit shachain derive|insert|lookup`.

use crate::common;

use common::{lnkit_json, s, testdata};
use lnkit::shachain::{generate_from_seed, Index, InsertError, Store};
use serde_json::{json, Value};

fn bytes32(v: &Value, f: &str) -> [u8; 32] {
    hex::decode(s(v, f)).unwrap().try_into().unwrap()
}

#[test]
fn appendix_d_generation_all_five() {
    let v = testdata("bolt03-shachain-generation.json");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let index = Index::new(c["index"].as_u64().unwrap()).unwrap();
        let got = generate_from_seed(&bytes32(c, "seed"), index);
        assert_eq!(hex::encode(got), s(c, "output"), "{}", s(c, "name"));

        let out = lnkit_json(
            &["shachain", "derive"],
            &json!({"seed": c["seed"], "index": c["index"]}),
        )
        .json();
        assert_eq!(s(&out, "secret"), s(c, "output"), "{}", s(c, "name"));
        assert_eq!(out["index"], c["index"]);
    }
}

fn storage_cases() -> Vec<Value> {
    let v = testdata("bolt03-shachain-storage.json");
    let cases = v["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 9);
    cases
}

#[test]
fn appendix_d_storage_all_nine_sequences_in_the_library() {
    for c in storage_cases() {
        let name = s(&c, "name");
        let mut store = Store::new();
        let steps = c["steps"].as_array().unwrap();
        for (k, step) in steps.iter().enumerate() {
            let index = Index::new(step["index"].as_u64().unwrap()).unwrap();
            let before = store.clone();
            let result = store.insert(index, bytes32(step, "secret"));
            match s(step, "expected") {
                "OK" => {
                    assert!(result.is_ok(), "{name} step {k}: {result:?}");
                    // Every secret inserted so far can be looked up again.
                    for earlier in &steps[..=k] {
                        let i = Index::new(earlier["index"].as_u64().unwrap()).unwrap();
                        assert_eq!(hex::encode(store.lookup(i).unwrap()), s(earlier, "secret"));
                    }
                }
                "ERROR" => {
                    assert!(
                        matches!(result, Err(InsertError::Mismatch { .. })),
                        "{name} step {k}: expected a mismatch, got {result:?}"
                    );
                    assert_eq!(
                        store, before,
                        "{name}: a refused insert must not change the store"
                    );
                    assert_eq!(
                        k,
                        steps.len() - 1,
                        "{name}: the error is the sequence's last step"
                    );
                }
                other => panic!("unknown expectation {other}"),
            }
        }
    }
}

#[test]
fn appendix_d_storage_all_nine_sequences_through_the_cli() {
    for c in storage_cases() {
        let name = s(&c, "name");
        let mut store = json!({"entries": []});
        for (k, step) in c["steps"].as_array().unwrap().iter().enumerate() {
            let run = lnkit_json(
                &["shachain", "insert"],
                &json!({"store": store, "index": step["index"], "secret": step["secret"]}),
            );
            match s(step, "expected") {
                "OK" => {
                    let out = run.json();
                    store = out["store"].clone();
                }
                _ => {
                    run.assert_bad_input("secret", &["does not derive", "the store is unchanged"]);
                    // The error names the earlier index the new secret fails to derive.
                    let entries = store["entries"].as_array().unwrap();
                    assert!(
                        entries.iter().any(|e| run
                            .stderr
                            .contains(&format!("earlier index {}", e["index"]))),
                        "{name} step {k}: {}",
                        run.stderr
                    );
                }
            }
        }
    }
}

#[test]
fn lookup_through_the_cli_and_by_commitment_number() {
    let c = &storage_cases()[0]; // the correct sequence: seed ff..ff, indexes 2^48-1 down
    let mut store = json!({"entries": []});
    for step in c["steps"].as_array().unwrap() {
        store = lnkit_json(
            &["shachain", "insert"],
            &json!({"store": store, "index": step["index"], "secret": step["secret"]}),
        )
        .json()["store"]
            .clone();
    }
    // 8 secrets (indexes ending ...000 to ...111) need only 4 slots.
    assert_eq!(store["entries"].as_array().unwrap().len(), 4);
    for (n, step) in c["steps"].as_array().unwrap().iter().enumerate() {
        let out = lnkit_json(
            &["shachain", "lookup"],
            &json!({"store": store, "commitment_number": n}),
        )
        .json();
        assert_eq!(out["secret"], step["secret"]);
        assert_eq!(out["index"], step["index"]);
    }
    // The next commitment's secret has not been revealed.
    let run = lnkit_json(
        &["shachain", "lookup"],
        &json!({"store": store, "commitment_number": 8}),
    );
    run.assert_bad_input("index", &["has not been received yet"]);
}
