//! The `altgate` binary: everything lives in the library; see `altgate --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    altgate::cli::main()
}
