//! Swapping the policy while serving: the watcher puts a new file in force, refuses one that
//! does not load, and the server never stops answering.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::TestServer;
use fieldguard::authz::active::{BUILTIN_POLICY, content_hash as hash};
use fieldguard::authz::watch::PolicyWatcher;
use fieldguard_e2e::{ensure, fixture_policy};

/// Replaces the file the way a build does: write aside, then rename over.
fn replace(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, bytes)?;
    std::fs::rename(&aside, path)?;
    Ok(())
}

/// The hash `/healthz` reports once it equals `expected`, or the last one after `wait`.
async fn hash_in_force(
    server: &TestServer,
    expected: &str,
    wait: Duration,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + wait;
    loop {
        let (_, _, body) = server.get("/healthz").await?;
        let health: serde_json::Value = serde_json::from_str(&body)?;
        let hash = health["policy"]["hash"].as_str().unwrap_or_default().to_owned();
        if hash == expected || Instant::now() > deadline {
            return Ok(hash);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_policy_file_is_put_in_force_and_a_broken_one_is_refused() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let dir = std::env::temp_dir().join(format!("fieldguard-swap-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("policy.wasm");
    std::fs::write(&path, BUILTIN_POLICY)?;
    let _watcher = PolicyWatcher::start(&path, server.state.policy.clone())?;
    let query = "{ team { name } }";

    let reply = server.query("olivia.owner@acme.test", query).await?;
    ensure(
        reply.data(&["team", "name"]) == "Acme Robotics",
        "the built-in policy answers",
        &reply,
    )?;

    // A new version goes live without a restart.
    let deny_all = fixture_policy("deny-all")?;
    replace(&path, deny_all)?;
    let in_force = hash_in_force(&server, &hash(deny_all), Duration::from_secs(20)).await?;
    anyhow::ensure!(in_force == hash(deny_all), "the new policy was not put in force: {in_force}");
    let reply = server.query("olivia.owner@acme.test", query).await?;
    ensure(
        reply.error_code_at("team").as_deref() == Some("FORBIDDEN"),
        "the new policy decides",
        &reply,
    )?;

    // A file that does not load leaves the version in force.
    replace(&path, b"this is not a policy")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let in_force = hash_in_force(&server, &hash(deny_all), Duration::from_secs(1)).await?;
    anyhow::ensure!(in_force == hash(deny_all), "a broken file replaced the policy: {in_force}");
    let reply = server.query("olivia.owner@acme.test", query).await?;
    ensure(reply.status == 200, "still serving", &reply)?;

    // And a good file after a bad one goes live again.
    replace(&path, BUILTIN_POLICY)?;
    let in_force = hash_in_force(&server, &hash(BUILTIN_POLICY), Duration::from_secs(20)).await?;
    anyhow::ensure!(
        in_force == hash(BUILTIN_POLICY),
        "the built-in policy did not come back: {in_force}"
    );
    let reply = server.query("olivia.owner@acme.test", query).await?;
    ensure(reply.data(&["team", "name"]) == "Acme Robotics", "answers again", &reply)?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The watcher reads only regular files of bounded size, reports a file that does not load
/// once, and keeps going: a FIFO or an oversized file at the path blocks nothing, and the next
/// good module goes live.
#[tokio::test]
async fn the_watcher_reads_only_regular_files_and_reports_each_version_once() -> anyhow::Result<()>
{
    use fieldguard::authz::LoadedPolicy;
    use fieldguard::authz::active::MAX_POLICY_BYTES;

    let logs = crate::logs::captured()?;
    let server = TestServer::start().await?;
    let dir = std::env::temp_dir().join(format!("fieldguard-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("policy.wasm");
    std::fs::write(&path, BUILTIN_POLICY)?;
    let _watcher = PolicyWatcher::start(&path, server.state.policy.clone())?;

    // A broken file is reported once, however long it stays (reading it fires events too).
    replace(&path, b"broken, version one")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let path_text = path.display().to_string();
    let reports = logs
        .text()
        .lines()
        .filter(|line| line.contains("does not load") && line.contains(&path_text))
        .count();
    anyhow::ensure!(reports == 1, "the broken file was reported {reports} times");

    // A FIFO renamed over the path is refused at once, at start as by the watcher.
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    anyhow::ensure!(made.success(), "mkfifo failed");
    let opened = fifo.clone();
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(move || LoadedPolicy::from_file(&opened).is_err()),
    )
    .await;
    anyhow::ensure!(matches!(refused, Ok(Ok(true))), "loading a FIFO blocked or succeeded");
    std::fs::rename(&fifo, &path)?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // So is a file over the size limit (sparse: it costs no disk).
    let big = dir.join("big");
    std::fs::File::create(&big)?.set_len(MAX_POLICY_BYTES + 1)?;
    std::fs::rename(&big, &path)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    anyhow::ensure!(
        hash_in_force(&server, &hash(BUILTIN_POLICY), Duration::from_secs(1)).await?
            == hash(BUILTIN_POLICY),
        "a refused file replaced the policy"
    );

    // And the watcher is still there: the next good module goes live.
    let deny_all = fixture_policy("deny-all")?;
    replace(&path, deny_all)?;
    let in_force = hash_in_force(&server, &hash(deny_all), Duration::from_secs(20)).await?;
    anyhow::ensure!(in_force == hash(deny_all), "the watcher stopped: {in_force}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
