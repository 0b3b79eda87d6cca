//! Every example in docs/ runs, and prints what the page says it prints.
//!
//! A page's ```sh block is run with bash (`set -euo pipefail`) from the
//! repository root with the built `lnkit` first on PATH. When a ```json block
//! follows it directly, the command's stdout must equal that JSON; a ```text
//! block, that text byte for byte. Run with
//! `LNKIT_BLESS=1` to rewrite those blocks from the real output after a
//! deliberate change (then read the diff).

#[path = "../typed/steps.rs"]
mod steps;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Block {
    lang: String,
    body: String,
    /// Byte range of the body in the page.
    range: std::ops::Range<usize>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = vec![];
    let mut pos = 0;
    while let Some(start) = text[pos..].find("```") {
        let fence = pos + start;
        let line_end = fence + text[fence..].find('\n').expect("fence line");
        let lang = text[fence + 3..line_end].trim().to_string();
        let body_start = line_end + 1;
        let close = body_start + text[body_start..].find("```").expect("closing fence");
        out.push(Block {
            lang,
            body: text[body_start..close].to_string(),
            range: body_start..close,
        });
        pos = close + 3;
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory with an `lnkit` that runs the real one and keeps a copy of
/// each call's arguments, output and exit code in `log`, so the outputs of
/// typed steps can be checked against their schemas afterwards.
fn shim(log: &Path) -> PathBuf {
    let dir = log.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "#!/usr/bin/env bash\n\
         log={log}/call-$$-$RANDOM\n\
         printf '%s\\n' \"$@\" > \"$log.args\"\n\
         {real} \"$@\" | tee \"$log.out\"\n\
         rc=${{PIPESTATUS[0]}}\n\
         echo $rc > \"$log.rc\"\n\
         exit $rc\n",
        log = log.display(),
        real = env!("CARGO_BIN_EXE_lnkit"),
    );
    let path = dir.join("lnkit");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A step's stdout as JSON: one object, or one per line (`wire connect`).
fn json_values(out: &str) -> Option<Vec<Value>> {
    let values: Vec<Value> = serde_json::Deserializer::from_str(out)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .ok()?;
    (!values.is_empty()).then_some(values)
}

/// Check every logged successful call of a typed step against its output
/// schema; returns how many were checked.
fn check_logged_outputs(log: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(log).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "args") {
            continue;
        }
        let args = std::fs::read_to_string(&path).unwrap();
        let words: Vec<&str> = args.lines().take_while(|a| !a.starts_with('-')).collect();
        let rc = std::fs::read_to_string(path.with_extension("rc")).unwrap_or_default();
        let out = std::fs::read_to_string(path.with_extension("out")).unwrap_or_default();
        let step = (1..=words.len().min(3))
            .rev()
            .find_map(|n| lnkit::cli::step::step(&words[..n].join(" ")));
        let (Some(step), "0") = (step, rc.trim()) else {
            continue;
        };
        let Some(values) = json_values(&out) else {
            continue;
        };
        let schema = (step.output)();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = values
            .iter()
            .flat_map(|v| validator.iter_errors(v))
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "lnkit {args}: output breaks the schema of {}: {errors:?}",
            step.name
        );
        checked += 1;
    }
    checked
}

fn run_example(script: &str, log: &Path) -> (String, String, bool) {
    run_in(script, &shim(log))
}

/// Run `script` with bash (`set -euo pipefail`) from the repository root,
/// `bin_dir` first on PATH.
fn run_in(script: &str, bin_dir: &Path) -> (String, String, bool) {
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(root())
        .env("PATH", path)
        .output()
        .expect("run bash");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// Run `script` with the built `lnkit` first on PATH.
fn bash(script: &str) -> (String, String, bool) {
    run_in(
        script,
        Path::new(env!("CARGO_BIN_EXE_lnkit")).parent().unwrap(),
    )
}

#[test]
fn every_docs_example_runs_and_matches() {
    let bless = std::env::var("LNKIT_BLESS").is_ok();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    let mut examples = 0;
    let mut compared = 0;
    let log = std::env::temp_dir().join(format!("lnkit-docs-calls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&log);
    for page in &pages {
        let mut text = std::fs::read_to_string(page).unwrap();
        let found = blocks(&text);
        let mut edits: Vec<(std::ops::Range<usize>, String)> = vec![];
        for (k, b) in found.iter().enumerate() {
            if b.lang != "sh" {
                continue;
            }
            examples += 1;
            let (stdout, stderr, ok) = run_example(&b.body, &log);
            assert!(
                ok,
                "{}: example failed:\n{}\nstderr:\n{stderr}",
                page.display(),
                b.body
            );
            // A ```text block (DOT, error messages) is compared as text.
            if let Some(exp) = found.get(k + 1).filter(|n| n.lang == "text") {
                if bless {
                    edits.push((exp.range.clone(), stdout.clone()));
                } else {
                    assert_eq!(
                        stdout,
                        exp.body,
                        "{}: output of\n{}",
                        page.display(),
                        b.body
                    );
                }
                compared += 1;
                continue;
            }
            let Some(exp) = found.get(k + 1).filter(|n| n.lang == "json") else {
                continue;
            };
            let got: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
                panic!(
                    "{}: stdout of\n{}\nis not JSON ({e})",
                    page.display(),
                    b.body
                )
            });
            {
                if bless {
                    edits.push((
                        exp.range.clone(),
                        serde_json::to_string_pretty(&got).unwrap() + "\n",
                    ));
                } else {
                    let want: Value = serde_json::from_str(&exp.body).unwrap_or_else(|e| {
                        panic!("{}: the json block is not JSON ({e})", page.display())
                    });
                    assert_eq!(got, want, "{}: output of\n{}", page.display(), b.body);
                }
                compared += 1;
            }
        }
        if bless && !edits.is_empty() {
            for (range, new) in edits.into_iter().rev() {
                text.replace_range(range, &new);
            }
            std::fs::write(page, text).unwrap();
        }
    }
    assert!(pages.len() >= 6, "one page per subcommand");
    assert!(examples >= pages.len(), "every page has an example");
    assert!(compared >= 6, "examples show their output");
    // The docs test validates every typed step's output against its schema.
    let validated = check_logged_outputs(&log);
    let _ = std::fs::remove_dir_all(&log);
    assert!(
        validated >= 10,
        "only {validated} outputs of typed steps validated"
    );
}
