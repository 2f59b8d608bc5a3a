//! The `fieldguard` command line, built inside the end-to-end crate so that its tests can start
//! real gateway processes (`CARGO_BIN_EXE_fieldguard-e2e-gateway`).

/// The allocator of the `fieldguard` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fieldguard::cli::main()
}
