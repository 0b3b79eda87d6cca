//! The `lnkit` binary: parse, run, report. All the work is in the library.

fn main() {
    std::process::exit(lnkit::cli::main());
}
