//! Prepares what the gateway embeds:
//!
//! * the default policy (`policy-wasm/`), built to WebAssembly;
//! * the GraphiQL assets, installed from npm with the versions locked in `graphiql/`.
//!
//! The policy is built by a nested `cargo build` for `wasm32-unknown-unknown` into its own
//! target directory (so it never waits on the lock of the build that runs this script), and
//! its path is handed to the crate as `FIELDGUARD_BUILTIN_POLICY`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    let policy_dir = workspace.join("policy-wasm");
    for watched in ["src", "wit", "Cargo.toml"] {
        println!(
            "cargo::rerun-if-changed={}",
            policy_dir.join(watched).display()
        );
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    // OUT_DIR is <target>/<profile>/build/<package>/out: build beside the profiles.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join("policy-build"))
        .unwrap_or_else(|| out_dir.join("policy-build"));

    ensure_wasm_target();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--package",
            "fieldguard-policy",
            "--target",
            TARGET,
            "--profile",
            "policy",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
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
    let status = command.status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!("building the default policy failed ({status})")),
        Err(error) => fail(&format!(
            "could not run cargo to build the default policy: {error}"
        )),
    }

    let module = target_dir
        .join(TARGET)
        .join("policy")
        .join("fieldguard_policy.wasm");
    if !module.is_file() {
        fail(&format!(
            "the policy build produced no module at {}",
            module.display()
        ));
    }
    println!(
        "cargo::rustc-env=FIELDGUARD_BUILTIN_POLICY={}",
        module.display()
    );

    graphiql_assets(&manifest_dir.join("graphiql"), &out_dir);
}

/// The assets GraphiQL needs, as (file in `node_modules`, name served under `/graphiql/`).
const GRAPHIQL_ASSETS: [(&str, &str); 4] = [
    ("react/umd/react.production.min.js", "react.js"),
    ("react-dom/umd/react-dom.production.min.js", "react-dom.js"),
    ("graphiql/graphiql.min.js", "graphiql.js"),
    ("graphiql/graphiql.min.css", "graphiql.css"),
];

/// Installs the locked GraphiQL packages with `npm ci` (into OUT_DIR, never the source tree)
/// and copies the four files the page loads to `OUT_DIR/graphiql/`. Without npm the gateway
/// still builds; its GraphiQL page then says how to get the assets.
fn graphiql_assets(package_dir: &Path, out_dir: &Path) {
    for file in ["package.json", "package-lock.json"] {
        println!(
            "cargo::rerun-if-changed={}",
            package_dir.join(file).display()
        );
    }
    let install_dir = out_dir.join("graphiql-npm");
    let assets_dir = out_dir.join("graphiql");
    let _ = std::fs::create_dir_all(&install_dir);
    let _ = std::fs::create_dir_all(&assets_dir);
    for file in ["package.json", "package-lock.json"] {
        let _ = std::fs::copy(package_dir.join(file), install_dir.join(file));
    }
    let installed = Command::new("npm")
        .current_dir(&install_dir)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        println!(
            "cargo::warning=npm could not install the GraphiQL assets; GET /graphql will explain how to get them"
        );
    }
    for (source, name) in GRAPHIQL_ASSETS {
        let from = install_dir.join("node_modules").join(source);
        let to = assets_dir.join(name);
        if !(installed && std::fs::copy(&from, &to).is_ok()) {
            let placeholder = "window.FIELDGUARD_GRAPHIQL_MISSING = true;";
            let _ = std::fs::write(
                &to,
                if name.ends_with(".css") {
                    ""
                } else {
                    placeholder
                },
            );
        }
    }
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
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    if !added.is_ok_and(|status| status.success()) {
        fail(&format!(
            "the {TARGET} target is missing; run `rustup target add {TARGET}`"
        ));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
