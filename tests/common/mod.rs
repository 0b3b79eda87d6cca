//! Helpers shared by the integration tests: the BOLT vectors in `testdata/`
//! and running the real `lnkit` binary the way a shell user would.
#![allow(dead_code)]

pub mod bitcoind;
pub mod cln;
pub mod gossip;
pub mod graphs;
pub mod inprocess;
pub mod ledger;
pub mod node;
pub mod raw_peer;
pub mod schema;
pub mod vectors;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// A JSON file from `testdata/`.
pub fn testdata(name: &str) -> Value {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout as JSON, asserting the run succeeded.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "lnkit failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Assert the CLI contract for bad input: exit 2, nothing on stdout, an
    /// `error: <field>: ...` line on stderr that mentions every `needles`.
    pub fn assert_bad_input(&self, field: &str, needles: &[&str]) {
        self.assert_error(2, &format!("error: {field}:"), needles);
    }

    /// Assert the CLI contract for a failed step: exit `code`, nothing on
    /// stdout, stderr starting with `prefix` and mentioning every `needles`, no panic.
    pub fn assert_error(&self, code: i32, prefix: &str, needles: &[&str]) {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}: stderr {}",
            self.code, self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "stdout must stay empty: {}",
            self.stdout
        );
        assert!(
            self.stderr.starts_with(prefix),
            "stderr should start with {prefix:?}: {}",
            self.stderr
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr should mention {n:?}: {}",
                self.stderr
            );
        }
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
    }
}

/// Run `lnkit ARGS` with `stdin` as its standard input.
pub fn lnkit(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lnkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lnkit");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for lnkit");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Run `lnkit ARGS` on a JSON input.
pub fn lnkit_json(args: &[&str], input: &Value) -> Run {
    lnkit(args, &input.to_string())
}

/// A string field of a JSON value.
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is not a string in {v}"))
}

/// The outputs `tx` spends, found in `sources` by txid (for verification).
pub fn prevouts<T: std::borrow::Borrow<bitcoin::Transaction>>(
    tx: &bitcoin::Transaction,
    sources: &[T],
) -> Vec<bitcoin::TxOut> {
    tx.input
        .iter()
        .map(|i| {
            let src = sources
                .iter()
                .map(|s| s.borrow())
                .find(|s| s.compute_txid() == i.previous_output.txid)
                .expect("a source transaction for every input");
            src.output[i.previous_output.vout as usize].clone()
        })
        .collect()
}
