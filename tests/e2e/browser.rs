//! GraphiQL in a real browser: headless Chromium opens `GET /graphql` from the test server,
//! on a machine without internet, and renders the editor with the Authorization header ready to
//! edit and the schema loaded.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it); `FIELDGUARD_CHROMIUM` names another
//! binary.

use std::process::Command;

use crate::TestServer;

fn chromium() -> String {
    std::env::var("FIELDGUARD_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

#[tokio::test]
async fn graphiql_renders_offline_with_the_authorization_header_and_the_schema()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let profile = std::env::temp_dir().join(format!("fieldguard-chromium-{}", std::process::id()));
    let url = format!("{}/graphql", server.url);
    let browser = chromium();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(&url)
            .output()
            .map_err(|error| {
                anyhow::anyhow!("cannot run `{browser}` ({error}); install chromium (.ci/run does)")
            })
    })
    .await??;
    let dom = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(dom.contains("graphiql-container"), "GraphiQL did not render:\n{dom}");
    anyhow::ensure!(!dom.contains(r#"class="missing""#), "the GraphiQL assets are missing");
    anyhow::ensure!(dom.contains("Authorization"), "no Authorization header to edit");
    // The schema was introspected: the editor knows the query's fields (no "Cannot query"
    // diagnostics) and the page made no request it could not answer.
    anyhow::ensure!(!dom.contains("UNAUTHENTICATED"), "introspection was refused:\n{dom}");
    Ok(())
}
