//! The typed steps: each subcommand's request and response types, listed
//! once. From this list come `lnkit schema COMMAND`, the input fields and
//! the example that `--help` shows, the fields tables of `docs/`, and the
//! tests that run every example and feed every field a value of the wrong
//! type. The node's methods are listed the same way in [`crate::node::rpc`].

use clap::Args;
use serde_json::{json, Value};

use super::{CliError, StepResult};
use crate::schema::{self, Field};

/// One subcommand as its types describe it.
pub struct StepDoc {
    /// The words after `lnkit`: `swap create`.
    pub name: &'static str,
    /// The JSON Schema of its input object (the parts it reads, merged).
    pub input: fn() -> Value,
    /// The JSON Schema of its output object.
    pub output: fn() -> Value,
    /// One pipeline that runs it, from the repository's root, `lnkit` on PATH.
    pub example: &'static str,
    /// Read an input object as each of the request's parts, in turn: what
    /// each part says of it (the wrong-type tests read fields one by one).
    pub parts: fn(&super::Input) -> Vec<Result<(), CliError>>,
}

pub(crate) fn schema_value(s: schemars::Schema) -> Value {
    serde_json::to_value(s).expect("a schema is JSON")
}

/// `steps! { "name": [InputPart, ...] -> Output, "example"; ... }`: the list.
macro_rules! steps {
    ($($name:literal: [$($in:ty),+] -> $out:ty, $example:expr;)*) => {
        /// Every subcommand with typed input and output.
        pub const STEPS: &[StepDoc] = &[$(StepDoc {
            name: $name,
            input: || schema::merge([$(schema_value(schemars::schema_for!($in))),+]),
            output: || schema_value(schemars::schema_for!($out)),
            example: $example,
            parts: |input| vec![$(input.typed::<$in>().map(|_| ())),+],
        }),*];
    };
}
pub(crate) use steps;

pub use super::registry::STEPS;

/// The step of this name.
pub fn step(name: &str) -> Option<&'static StepDoc> {
    STEPS.iter().find(|s| s.name == name)
}

/// The input fields of a step.
pub fn input_fields(s: &StepDoc) -> Vec<Field> {
    schema::fields(&(s.input)())
}

/// What `--help` adds after the flags: the input fields, one line each, and the example.
pub fn help_text(s: &StepDoc) -> String {
    let fields = input_fields(s);
    let width = fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let mut out =
        String::from("Input fields (a JSON object on stdin or --input FILE; --set FIELD=VALUE):\n");
    for f in &fields {
        let mut ty = f.ty.replace("\\|", "|");
        if f.required {
            ty.push_str(", required");
        }
        if let Some(d) = &f.default {
            ty.push_str(&format!(", default {d}"));
        }
        out.push_str(&format!("  {:width$}  {ty}: {}\n", f.name, f.doc));
    }
    out.push_str(&format!(
        "\nOutput: one JSON object (`lnkit schema {}` prints the input and output schemas).\n\nExample:\n  {}\n",
        s.name, s.example
    ));
    out
}

/// The Markdown of a step's fields: its input table, then its output table.
pub fn fields_markdown(s: &StepDoc) -> String {
    format!(
        "Input of `lnkit {}`:\n\n{}\nOutput:\n\n{}",
        s.name,
        schema::markdown_table(&input_fields(s), true),
        schema::markdown_table(&schema::fields(&(s.output)()), false)
    )
}

/// The parser with every typed step's `--help` ending in its fields and example.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = super::Cli::command();
    for s in STEPS {
        let path: Vec<&str> = s.name.split(' ').collect();
        cmd = with_help(cmd, &path, help_text(s));
    }
    cmd
}

fn with_help(cmd: clap::Command, path: &[&str], text: String) -> clap::Command {
    match path {
        [] => cmd.after_help(text),
        [first, rest @ ..] => {
            let rest = rest.to_vec();
            cmd.mut_subcommand(*first, move |c| with_help(c, &rest, text))
        }
    }
}

/// Flags of `lnkit schema`.
#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// The subcommand, as typed after `lnkit`: `swap create`, `node pay`.
    #[arg(value_name = "COMMAND", required = true, num_args = 1..)]
    command: Vec<String>,
}

/// `lnkit schema COMMAND`: the input and output JSON Schemas.
pub fn run(args: &SchemaArgs) -> StepResult {
    let name = args.command.join(" ");
    if let Some(s) = step(&name) {
        return Ok(json!({"command": name, "input": (s.input)(), "output": (s.output)()}));
    }
    if let Some(m) = name
        .strip_prefix("node ")
        .and_then(crate::node::rpc::method)
    {
        return Ok(json!({
            "command": name,
            "input": schema_value((m.request)()),
            "output": schema_value((m.response)()),
        }));
    }
    let known: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
    Err(CliError::bad(format!(
        "command: no schema for {name:?}; these have one: {}, and node METHOD",
        known.join(", ")
    )))
}
