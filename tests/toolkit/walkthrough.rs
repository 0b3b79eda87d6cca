//! `lnkit walkthrough`, as the README's first command runs it.

use crate::common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Transaction;
use common::{lnkit, s, testdata};

#[test]
fn walkthrough_runs_every_step_and_every_check_passes() {
    let out = lnkit(&["walkthrough"], "").json();
    let steps = out["steps"].as_array().unwrap();
    let commands: Vec<&str> = steps.iter().map(|st| s(st, "command")).collect();
    for needed in [
        "build-funding",
        "shachain derive",
        "keys derive",
        "build-commitment --holder local",
        "build-commitment --holder remote",
        "penalty",
        "close --mutual",
        "revoke",
        "shachain insert",
        "shachain lookup",
    ] {
        assert!(
            commands.iter().any(|c| c.contains(needed)),
            "missing step {needed}: {commands:?}"
        );
    }
    let checks = out["checks"].as_array().unwrap();
    assert!(checks.len() >= 9);
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");

    // The funding step is BOLT 3 Appendix B, byte for byte.
    let b = &testdata("bolt03-funding-tx.json")["cases"][0]["expected"];
    assert_eq!(s(&steps[0]["output"], "tx_hex"), s(b, "funding_tx_hex"));
    let _: Transaction = deserialize_hex(s(&steps[0]["output"], "tx_hex")).unwrap();

    // Each step's input is a real input: rerunning the step on it gives every
    // field the walkthrough shows as its output.
    for st in steps {
        let cmd = s(st, "command");
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let again = lnkit(&args, &st["input"].to_string()).json();
        for (k, v) in st["output"].as_object().unwrap() {
            assert_eq!(&again[k], v, "step {cmd}: field {k}");
        }
    }
    // The justice transaction takes local's to_local from the revoked commitment 0.
    let penalty = steps
        .iter()
        .find(|st| s(st, "command") == "lnkit penalty")
        .unwrap();
    assert_eq!(penalty["output"]["claimed"][0]["type"], "to_local");
}

#[test]
fn walkthrough_explain_goes_to_stderr_only() {
    let plain = lnkit(&["walkthrough", "--compact"], "");
    let explained = lnkit(&["walkthrough", "--compact", "--explain"], "");
    assert_eq!(plain.stdout, explained.stdout);
    assert!(plain.stderr.is_empty());
    assert!(explained.stderr.contains("== step 1: lnkit build-funding"));
    assert!(explained
        .stderr
        .contains("revocationpubkey = revocation_basepoint * SHA256"));
}

#[test]
fn walkthrough_swap_runs_a_reverse_a_submarine_and_an_abandoned_swap() {
    let out = lnkit(&["walkthrough", "--swap"], "").json();
    let steps = out["steps"].as_array().unwrap();
    let commands: Vec<&str> = steps.iter().map(|st| s(st, "command")).collect();
    for needed in [
        "invoice create",
        "swap create",
        "swap verify",
        "swap lockup",
        "swap claim",
        "swap nonce",
        "swap sign-partial",
        "swap claim --cooperative",
        "swap refund",
    ] {
        assert!(
            commands.iter().any(|c| c.ends_with(needed)),
            "missing step {needed}: {commands:?}"
        );
    }
    let checks = out["checks"].as_array().unwrap();
    assert!(checks.len() >= 13, "{checks:?}");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    // Every claim and refund the walk prints passes the interpreter again here.
    let lockups: Vec<Transaction> = steps
        .iter()
        .filter(|st| s(st, "command") == "lnkit swap lockup")
        .map(|st| deserialize_hex(s(&st["output"], "lockup_tx_hex")).unwrap())
        .collect();
    assert_eq!(lockups.len(), 3);
    let mut spends = 0;
    for st in steps {
        let cmd = s(st, "command");
        if cmd.starts_with("lnkit swap claim") || cmd == "lnkit swap refund" {
            let tx: Transaction = deserialize_hex(s(&st["output"], "tx_hex")).unwrap();
            lnkit::verify::verify_transaction(&tx, &common::prevouts(&tx, &lockups)).unwrap();
            spends += 1;
        }
        // Each step reruns from its input to the same output.
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let again = lnkit(&args, &st["input"].to_string()).json();
        for (k, v) in st["output"].as_object().unwrap() {
            assert_eq!(&again[k], v, "step {cmd}: field {k}");
        }
    }
    assert_eq!(spends, 4);
}
