//! `lnkit completions bash|zsh|fish` and `lnkit manpage DIR`: the command
//! line's own description, from the same clap definitions the parser uses
//! (`clap_complete`, `clap_mangen`), so they cannot drift from it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::{CliError, StepResult};

/// The shells completions are written for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    /// Bash (bash-completion).
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// Flags of `lnkit completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Flags of `lnkit manpage`.
#[derive(Args, Debug)]
pub struct ManpageArgs {
    /// Where to write `lnkit.1` and one page per subcommand (`lnkit-route.1`, `lnkit-factory-create.1`, ...).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Write the completion script to stdout (text, not JSON: the shell reads it).
pub fn completions(args: &CompletionsArgs) -> StepResult {
    let mut cmd = super::step::command();
    let mut out = Vec::new();
    match args.shell {
        Shell::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "lnkit", &mut out)
        }
        Shell::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "lnkit", &mut out)
        }
        Shell::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "lnkit", &mut out)
        }
    }
    std::io::stdout()
        .lock()
        .write_all(&out)
        .map_err(|e| CliError::failure(format!("stdout: {e}")))?;
    Ok(Value::Null)
}

/// Render `cmd`'s page as `name.1` in `dir`, then each subcommand's.
fn render(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    pages: &mut Vec<String>,
) -> Result<(), CliError> {
    let file = format!("{name}.1");
    let page = clap::Command::clone(cmd)
        .name(name.to_string())
        .version(env!("CARGO_PKG_VERSION"));
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut text)
        .map_err(|e| CliError::failure(format!("manpage {file}: {e}")))?;
    std::fs::write(dir.join(&file), text).map_err(|e| {
        CliError::bad(format!(
            "DIR: cannot write {}: {e}",
            dir.join(&file).display()
        ))
    })?;
    pages.push(file);
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        render(sub, &format!("{name}-{}", sub.get_name()), dir, pages)?;
    }
    Ok(())
}

/// Write the man pages into `args.dir`.
pub fn manpage(args: &ManpageArgs) -> StepResult {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError::bad(format!("DIR: cannot create {}: {e}", args.dir.display())))?;
    let mut cmd = super::step::command();
    cmd.build();
    let mut pages = vec![];
    render(&cmd, "lnkit", &args.dir, &mut pages)?;
    Ok(json!({"dir": args.dir.display().to_string(), "pages": pages}))
}
