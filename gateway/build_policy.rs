//! Builds a policy crate of this workspace to WebAssembly; shared by the build scripts of the
//! gateway (the default policy) and of the end-to-end tests (their fixture policies).
//!
//! The build is a nested `cargo build` for `wasm32-unknown-unknown` with the `policy` profile,
//! into its own target directory so it never waits on the lock of the build that runs it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target policies are built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The target directory for policy builds: beside the profiles of the running build.
pub fn target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    // OUT_DIR is <target>/<profile>/build/<package>/out.
    out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join("policy-build"))
        .unwrap_or_else(|| out_dir.join("policy-build"))
}

/// Builds `package` with `features` and returns the path of its module. Exits the build
/// script with a message on failure.
pub fn build(workspace: &Path, package: &str, features: &[&str]) -> PathBuf {
    ensure_wasm_target();
    let target_dir = target_dir();
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", package, "--target", TARGET, "--profile", "policy"])
        .arg("--target-dir")
        .arg(&target_dir);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    // What the outer build sets for itself must not leak into the policy's build.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
    ] {
        command.env_remove(variable);
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!("building {package} to WebAssembly failed ({status})")),
        Err(error) => fail(&format!("could not run cargo to build {package}: {error}")),
    }
    let module =
        target_dir.join(TARGET).join("policy").join(format!("{}.wasm", package.replace('-', "_")));
    if !module.is_file() {
        fail(&format!("the build of {package} produced no module at {}", module.display()));
    }
    module
}

/// Installs the WebAssembly target through rustup when the toolchain lacks it.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed = sysroot
        .as_deref()
        .map(|root| root.join("lib/rustlib").join(TARGET))
        .is_some_and(|path: PathBuf| Path::is_dir(&path));
    if installed {
        return;
    }
    println!("cargo::warning=installing the {TARGET} target with rustup");
    let added = Command::new("rustup").args(["target", "add", TARGET]).status();
    if !added.is_ok_and(|status| status.success()) {
        fail(&format!("the {TARGET} target is missing; run `rustup target add {TARGET}`"));
    }
}

/// Stops the build script with a message.
pub fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
