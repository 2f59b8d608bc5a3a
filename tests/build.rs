//! Builds the fixture policies of `tests/policies/` to WebAssembly, one module per behaviour,
//! and hands their paths to the tests as `FIELDGUARD_TEST_POLICY_<BEHAVIOUR>`.

#[path = "../gateway/build_policy.rs"]
mod build_policy;

use std::path::PathBuf;

const BEHAVIOURS: [&str; 10] = [
    "deny-all",
    "allow-all",
    "deny-leaves",
    "trap",
    "spin",
    "short",
    "hoard",
    "grow-table",
    "memories",
    "old-contract",
];

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
        let written = std::fs::read(&module)
            .map_err(|e| e.to_string())
            .and_then(|bytes| hostile_parts(behaviour, bytes))
            .and_then(|bytes| std::fs::write(&copy, bytes).map_err(|e| e.to_string()));
        if let Err(error) = written {
            build_policy::fail(&format!("writing {} failed: {error}", copy.display()));
        }
        let variable = behaviour.to_uppercase().replace('-', "_");
        println!("cargo::rustc-env=FIELDGUARD_TEST_POLICY_{variable}={}", copy.display());
    }
}

/// What Rust cannot write, added to the module as text: for `grow-table`, a table without a
/// maximum and a body for the function the module imports as `fieldguard-test/grow-table`
/// that grows it by 200 million elements and answers `table.grow`'s answer; for `memories`, three memories of 64 MiB beside
/// the module's own. Every other module is left as built.
fn hostile_parts(behaviour: &str, module: Vec<u8>) -> Result<Vec<u8>, String> {
    if !matches!(behaviour, "grow-table" | "memories") {
        return Ok(module);
    }
    let text = wasmprinter::print_bytes(&module).map_err(|e| e.to_string())?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let tables = lines.iter().filter(|line| line.trim_start().starts_with("(table ")).count();
    let last_of = |lines: &[String], prefix: &str| {
        lines.iter().rposition(|line| line.trim_start().starts_with(prefix))
    };
    if behaviour == "memories" {
        let at = last_of(&lines, "(memory ").ok_or("the module has no memory")?;
        for _ in 0..3 {
            lines.insert(at + 1, "  (memory 1024)".into());
        }
    } else {
        // The text format wants imports before definitions: the import is the module's only
        // one, so its replacement is the first function and keeps its index.
        let import = lines
            .iter()
            .position(|line| line.contains(r#"(import "fieldguard-test" "grow-table""#))
            .ok_or("the module does not import fieldguard-test/grow-table")?;
        let ty = lines[import]
            .split("(type ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .ok_or("the import has no type")?
            .to_owned();
        lines[import] =
            format!("  (func (type {ty}) ref.null func i32.const 200000000 table.grow {tables})");
        let at = last_of(&lines, "(table ").or_else(|| last_of(&lines, "(memory "));
        lines.insert(
            at.ok_or("the module has no table or memory")? + 1,
            "  (table 1 funcref)".into(),
        );
    }
    wat::parse_str(lines.join("\n")).map_err(|e| e.to_string())
}
