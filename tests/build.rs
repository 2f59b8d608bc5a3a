//! Builds the fixture policies of `tests/policies/` to WebAssembly, one module per behaviour,
//! and hands their paths to the tests as `FIELDGUARD_TEST_POLICY_<BEHAVIOUR>`.

#[path = "../gateway/build_policy.rs"]
mod build_policy;

use std::path::PathBuf;

const BEHAVIOURS: [&str; 8] =
    ["deny-all", "allow-all", "deny-leaves", "trap", "spin", "short", "hoard", "old-contract"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    for watched in
        ["policies/src", "policies/wit-0.1.0", "policies/Cargo.toml", "../policy-wasm/wit"]
    {
        println!("cargo::rerun-if-changed={}", manifest_dir.join(watched).display());
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    for behaviour in BEHAVIOURS {
        let module = build_policy::build(&workspace, "fieldguard-test-policies", &[behaviour]);
        let copy = out_dir.join(format!("{behaviour}.wasm"));
        if let Err(error) = std::fs::copy(&module, &copy) {
            build_policy::fail(&format!("copying {} failed: {error}", module.display()));
        }
        let variable = behaviour.to_uppercase().replace('-', "_");
        println!("cargo::rustc-env=FIELDGUARD_TEST_POLICY_{variable}={}", copy.display());
    }
}
