//! Hostile and broken policies: the gateway fails closed and keeps serving.

use std::time::Duration;

use fieldguard::Error;
use fieldguard::authz::LoadedPolicy;
use fieldguard_e2e::{ensure, with_fixture};

/// Every field asked is denied, the request completes, and the next one does too.
async fn denies_and_keeps_serving(behaviour: &str) -> anyhow::Result<()> {
    let server = with_fixture(behaviour).await?;
    for attempt in 0..2 {
        let reply = tokio::time::timeout(
            Duration::from_secs(60),
            server.query("olivia.owner@acme.test", "{ me { email } team { name } }"),
        )
        .await??;
        let what = format!("{behaviour}, request {attempt}");
        ensure(reply.status == 200, &what, &reply)?;
        ensure(reply.data(&["me"]).is_null() && reply.data(&["team"]).is_null(), &what, &reply)?;
        ensure(reply.error_code_at("me").as_deref() == Some("FORBIDDEN"), &what, &reply)?;
        ensure(reply.error_code_at("team").as_deref() == Some("FORBIDDEN"), &what, &reply)?;
    }
    let (status, _, _) = server.get("/healthz").await?;
    anyhow::ensure!(status == 200, "{behaviour}: health after the failures");
    Ok(())
}

#[tokio::test]
async fn a_policy_that_traps_denies() -> anyhow::Result<()> {
    denies_and_keeps_serving("trap").await
}

#[tokio::test]
async fn a_policy_that_never_returns_is_interrupted_and_denies() -> anyhow::Result<()> {
    denies_and_keeps_serving("spin").await
}

#[tokio::test]
async fn a_policy_that_hoards_memory_is_stopped_and_denies() -> anyhow::Result<()> {
    denies_and_keeps_serving("hoard").await
}

#[tokio::test]
async fn a_policy_that_answers_a_malformed_batch_denies() -> anyhow::Result<()> {
    denies_and_keeps_serving("short").await
}

#[test]
fn modules_that_are_not_policies_are_refused_at_load_with_a_reason() -> anyhow::Result<()> {
    let cases: [(&str, &[u8], &str); 5] = [
        ("not WebAssembly", b"hello, world", ""),
        ("a core module with no policy in it", b"\0asm\x01\0\0\0", "does not export"),
        ("a component that exports nothing", b"(component)", "does not export"),
        (
            "a component that asks for a clock",
            br#"(component (import "wasi:clocks/wall-clock@0.2.0" (instance (export "now" (func (result u64))))))"#,
            "import",
        ),
        ("a truncated component", b"\0asm\x0d\0\x01\0\x01", ""),
    ];
    for (what, bytes, reason) in cases {
        match LoadedPolicy::from_wasm(bytes, what) {
            Ok(_) => anyhow::bail!("{what} was loaded"),
            Err(Error::InvalidPolicy(message)) => {
                anyhow::ensure!(
                    message.contains(reason),
                    "{what}: the reason `{message}` does not say `{reason}`"
                );
            }
            Err(other) => anyhow::bail!("{what}: refused for the wrong reason: {other}"),
        }
    }
    Ok(())
}

#[test]
fn a_file_that_does_not_exist_or_is_not_a_policy_is_named_in_the_error() -> anyhow::Result<()> {
    let missing = std::path::Path::new("/nonexistent/policy.wasm");
    let error = LoadedPolicy::from_file(missing).err().map(|e| e.to_string()).unwrap_or_default();
    anyhow::ensure!(error.contains("/nonexistent/policy.wasm"), "{error}");
    let garbage =
        std::env::temp_dir().join(format!("fieldguard-garbage-{}.wasm", std::process::id()));
    std::fs::write(&garbage, b"garbage")?;
    let error = LoadedPolicy::from_file(&garbage).err().map(|e| e.to_string()).unwrap_or_default();
    std::fs::remove_file(&garbage)?;
    anyhow::ensure!(
        error.contains("invalid policy") && error.contains("fieldguard-garbage"),
        "{error}"
    );
    Ok(())
}
