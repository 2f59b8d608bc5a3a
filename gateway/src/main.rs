//! The `fieldguard` binary: the command line of the library.

/// A request allocates thousands of small values (GraphQL values, keys, futures) across the
/// worker threads; mimalloc serves them in a fraction of the time glibc's allocator takes
/// (a quarter of the gateway's time under load went to malloc and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fieldguard::cli::main()
}
