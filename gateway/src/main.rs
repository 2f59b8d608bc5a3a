//! The `fieldguard` binary: the command line of the library.

fn main() -> std::process::ExitCode {
    fieldguard::cli::main()
}
