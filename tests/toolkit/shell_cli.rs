//! `lnkit completions` and `lnkit manpage`: generated from the same clap
//! definitions as the parser, so every subcommand is in them.

use crate::common;

use std::process::Command;

use common::lnkit;

#[test]
fn bash_completions_register_and_name_every_subcommand() {
    let run = lnkit(&["completions", "bash"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    for sub in [
        "factory",
        "rebalance",
        "walkthrough",
        "route",
        "node",
        "tower",
        "completions",
    ] {
        assert!(run.stdout.contains(sub), "no {sub} in the bash completions");
    }
    // Bash itself accepts the script and registers it for `lnkit`.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lnkit.bash");
    std::fs::write(&script, &run.stdout).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p lnkit", script.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("lnkit"));
}

#[test]
fn zsh_and_fish_completions_and_a_shell_we_do_not_know() {
    let zsh = lnkit(&["completions", "zsh"], "");
    assert!(
        zsh.stdout.starts_with("#compdef lnkit"),
        "{}",
        &zsh.stdout[..80.min(zsh.stdout.len())]
    );
    assert!(zsh.stdout.contains("factory"));
    let fish = lnkit(&["completions", "fish"], "");
    assert!(fish.stdout.contains("complete -c lnkit"));
    assert!(fish.stdout.contains("rebalance"));
    lnkit(&["completions", "tcsh"], "").assert_error(2, "error:", &["tcsh", "bash", "zsh", "fish"]);
}

#[test]
fn man_pages_for_the_tool_and_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("man1");
    let v = lnkit(&["manpage", target.to_str().unwrap()], "").json();
    let pages: Vec<&str> = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for page in [
        "lnkit.1",
        "lnkit-factory-create.1",
        "lnkit-rebalance-plan.1",
        "lnkit-walkthrough.1",
        "lnkit-node.1",
    ] {
        assert!(pages.contains(&page), "no {page} in {pages:?}");
    }
    assert!(
        !pages.iter().any(|p| p.starts_with("lnkit-help")),
        "{pages:?}"
    );
    let mut written: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut listed: Vec<String> = pages.iter().map(|p| p.to_string()).collect();
    listed.sort();
    assert_eq!(written, listed);
    let top = std::fs::read_to_string(target.join("lnkit.1")).unwrap();
    assert!(
        top.contains(".TH lnkit 1"),
        "{}",
        &top[..200.min(top.len())]
    );
    let create = std::fs::read_to_string(target.join("lnkit-factory-create.1")).unwrap();
    assert!(
        create.contains("MuSig2"),
        "the page carries the subcommand's help"
    );
}
