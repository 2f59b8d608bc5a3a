//! Prepares what the gateway embeds:
//!
//! * the default policy (`policy-wasm/`), built to WebAssembly;
//! * the GraphiQL assets, installed from npm with the versions locked in `graphiql/`.
//!
//! The policy's path is handed to the crate as `FIELDGUARD_BUILTIN_POLICY`.

#[path = "build_policy.rs"]
mod build_policy;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    let policy_dir = workspace.join("policy-wasm");
    for watched in ["src", "wit", "Cargo.toml", "cases.toml"] {
        println!("cargo::rerun-if-changed={}", policy_dir.join(watched).display());
    }
    let module = build_policy::build(&workspace, "fieldguard-policy", &[]);
    println!("cargo::rustc-env=FIELDGUARD_BUILTIN_POLICY={}", module.display());

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
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
        println!("cargo::rerun-if-changed={}", package_dir.join(file).display());
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
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
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
            let _ = std::fs::write(&to, if name.ends_with(".css") { "" } else { placeholder });
        }
    }
}
