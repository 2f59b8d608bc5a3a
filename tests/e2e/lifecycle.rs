//! The policy lifecycle through the real binary: `fieldguard policy deploy`, `versions`,
//! `activate` and `rollback` against gateway processes sharing one database, the gate that
//! refuses a bad candidate, the operator credential, and a fleet that converges.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use fieldguard::authz::active::{BUILTIN_POLICY, content_hash};
use fieldguard_e2e::fixture_policy;
use serde_json::{Value, json};

/// The operator token every gateway of these tests is started with.
const OPERATOR_TOKEN: &str = "e2e-operator-token-0123456789";
/// A member whose team's workflows the built-in policy shows and deny-all hides.
const DEVELOPER: &str = "dana.developer@acme.test";

const BINARY: &str = env!("CARGO_BIN_EXE_fieldguard-e2e-gateway");

fn scratch(name: &str) -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("fieldguard-lifecycle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A gateway process; killed when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Starts `serve` on a free port over `data`, with the operator token unless `operator` is
    /// false, and waits until it serves.
    fn start(data: &Path, extra: &[&str], operator: bool) -> anyhow::Result<Self> {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .env_remove("DATABASE_URL")
            .env_remove("FIELDGUARD_DEMO")
            .env_remove("FIELDGUARD_OPERATOR_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if operator {
            command.env("FIELDGUARD_OPERATOR_TOKEN", OPERATOR_TOKEN);
        }
        let mut child = command.spawn()?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let url = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let at = line.find("serving on http://")?;
            Some(line[at + "serving on ".len()..].trim_end_matches("/graphql").to_owned())
        });
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        match url {
            Some(url) => Ok(Self { child, url }),
            None => {
                let _ = child.kill();
                bail!("the gateway did not start")
            }
        }
    }

    async fn post(&self, bearer: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let reply = reqwest::Client::new()
            .post(format!("{}/graphql", self.url))
            .bearer_auth(bearer)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        Ok(reply.json().await?)
    }

    async fn health(&self) -> anyhow::Result<Value> {
        Ok(reqwest::get(format!("{}/healthz", self.url)).await?.json().await?)
    }

    async fn policy_hash(&self) -> anyhow::Result<String> {
        Ok(self.health().await?["policy"]["hash"].as_str().unwrap_or_default().to_owned())
    }

    /// How many workflows of their team `token` sees.
    async fn workflows_seen(&self, token: &str) -> anyhow::Result<i64> {
        let reply = self.post(token, "{ team { workflows { totalCount } } }", json!({})).await?;
        Ok(reply["data"]["team"]["workflows"]["totalCount"].as_i64().unwrap_or(-1))
    }

    /// Runs `fieldguard policy …` against this gateway with the operator token.
    fn policy(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(Command::new(BINARY)
            .arg("policy")
            .args(args)
            .args(["--server", &self.url])
            .env("FIELDGUARD_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .output()?)
    }
}

/// Seeds `data` with the demo data and mints a token for `email`.
fn seeded(data: &Path, email: &str) -> anyhow::Result<String> {
    seeded_on(data, &[], email)
}

/// Seeds the store of `data` and `store` (e.g. `--database-url …`) with the demo data and
/// mints a token for `email`.
fn seeded_on(data: &Path, store: &[&str], email: &str) -> anyhow::Result<String> {
    let seed = Command::new(BINARY).args(["seed", "--data-dir"]).arg(data).args(store).output()?;
    ensure!(seed.status.success(), "seed: {}", String::from_utf8_lossy(&seed.stderr));
    let token = Command::new(BINARY)
        .args(["token", "--user", email, "--data-dir"])
        .arg(data)
        .args(store)
        .output()?;
    ensure!(token.status.success(), "token: {}", String::from_utf8_lossy(&token.stderr));
    Ok(String::from_utf8(token.stdout)?.trim().to_owned())
}

fn module_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

fn out(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Waits until `gateway` enforces `hash` and answers `expected` workflows, at most `within`;
/// answers how long it took.
async fn converges(
    gateway: &Gateway,
    token: &str,
    hash: &str,
    expected: impl Fn(i64) -> bool,
    within: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let seen = gateway.workflows_seen(token).await?;
        if gateway.policy_hash().await? == hash && expected(seen) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            bail!(
                "after {within:?} the gateway still enforces {} and sees {seen} workflows",
                gateway.policy_hash().await?
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_deploy_through_one_gateway_is_in_force_on_another_within_two_seconds()
-> anyhow::Result<()> {
    fleet_converges("fleet", &[]).await
}

/// The same on PostgreSQL, where the fleet is told of an activation (`LISTEN`/`NOTIFY`).
#[tokio::test]
async fn on_postgresql_a_deploy_is_announced_to_the_other_gateway() -> anyhow::Result<()> {
    let url = fieldguard_e2e::postgres::fresh_database().await?;
    fleet_converges("fleet-pg", &["--database-url", &url]).await
}

/// Two gateway processes on one database (`store` names it, besides the data directory):
/// a deploy, a rollback and an activation through one are in force on the other within 2 s.
async fn fleet_converges(name: &str, store: &[&str]) -> anyhow::Result<()> {
    let dir = scratch(name)?;
    let data = dir.join("data");
    let token = seeded_on(&data, store, DEVELOPER)?;
    let first = Gateway::start(&data, store, true)?;
    let second = Gateway::start(&data, store, true)?;
    let builtin = content_hash(BUILTIN_POLICY);
    let visible = second.workflows_seen(&token).await?;
    ensure!(visible > 0, "the developer sees no workflows under the built-in policy");

    let deny_all = module_file(&dir, "deny-all.wasm", fixture_policy("deny-all")?)?;
    let deployed =
        first.policy(&["deploy", deny_all.to_str().unwrap_or_default(), "--note", "lockdown"])?;
    ensure!(deployed.status.success(), "deploy failed: {}", out(&deployed));
    let deny_hash = content_hash(fixture_policy("deny-all")?);
    ensure!(
        first.policy_hash().await? == deny_hash,
        "the deploying gateway did not switch at once"
    );
    let took =
        converges(&second, &token, &deny_hash, |seen| seen != visible, Duration::from_secs(2))
            .await?;
    println!("deploy in force on the second gateway after {took:?}");

    let rolled = first.policy(&["rollback"])?;
    ensure!(rolled.status.success(), "rollback failed: {}", out(&rolled));
    let took = converges(&second, &token, &builtin, |seen| seen == visible, Duration::from_secs(2))
        .await?;
    println!("rollback in force on the second gateway after {took:?}");

    // Both versions are stored; the built-in one, in force before the first deploy, too.
    let versions = second.policy(&["versions"])?;
    let listed = out(&versions);
    ensure!(versions.status.success(), "versions failed: {listed}");
    ensure!(listed.contains(&deny_hash) && listed.contains("lockdown"), "{listed}");
    ensure!(
        listed.contains(&format!("* {builtin}")),
        "the built-in version is not marked active: {listed}"
    );

    // Activating by a prefix of the digest, through the second gateway this time.
    let prefix = &deny_hash["sha256:".len().."sha256:".len() + 12];
    let activated = second.policy(&["activate", prefix])?;
    ensure!(activated.status.success(), "activate failed: {}", out(&activated));
    converges(&first, &token, &deny_hash, |seen| seen != visible, Duration::from_secs(2)).await?;

    drop((first, second));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn the_version_in_force_survives_a_restart_and_a_policy_file_overrides_it()
-> anyhow::Result<()> {
    let dir = scratch("restart")?;
    let data = dir.join("data");
    let token = seeded(&data, DEVELOPER)?;
    let deny_all = module_file(&dir, "deny-all.wasm", fixture_policy("deny-all")?)?;
    let deny_hash = content_hash(fixture_policy("deny-all")?);
    {
        let gateway = Gateway::start(&data, &[], true)?;
        let deployed = gateway.policy(&["deploy", deny_all.to_str().unwrap_or_default()])?;
        ensure!(deployed.status.success(), "deploy failed: {}", out(&deployed));
    }
    let restarted = Gateway::start(&data, &[], false)?;
    ensure!(
        restarted.policy_hash().await? == deny_hash,
        "the deployed version was lost on restart"
    );
    ensure!(
        restarted.workflows_seen(&token).await? <= 0,
        "deny-all is not enforced after the restart"
    );
    drop(restarted);

    let builtin = module_file(&dir, "builtin.wasm", BUILTIN_POLICY)?;
    let developer_loop =
        Gateway::start(&data, &["--policy", builtin.to_str().unwrap_or_default()], false)?;
    ensure!(
        developer_loop.policy_hash().await? == content_hash(BUILTIN_POLICY),
        "the policy file given at start is not the one in force"
    );
    drop(developer_loop);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn a_candidate_that_fails_the_gate_is_refused_with_its_failures_and_changes_nothing()
-> anyhow::Result<()> {
    let dir = scratch("gate")?;
    let data = dir.join("data");
    let token = seeded(&data, DEVELOPER)?;
    let gateway = Gateway::start(&data, &[], true)?;
    let before = gateway.policy_hash().await?;
    let visible = gateway.workflows_seen(&token).await?;

    // Allow-all fails the contract checks.
    let allow_all = module_file(&dir, "allow-all.wasm", fixture_policy("allow-all")?)?;
    let refused = gateway.policy(&["deploy", allow_all.to_str().unwrap_or_default()])?;
    let said = out(&refused);
    ensure!(!refused.status.success(), "allow-all was deployed: {said}");
    ensure!(said.contains("POLICY_REJECTED") && said.contains("FieldguardUnknownType"), "{said}");

    // A module built for another contract is refused naming both versions.
    let old = module_file(&dir, "old.wasm", fixture_policy("old-contract")?)?;
    let refused = gateway.policy(&["deploy", old.to_str().unwrap_or_default()])?;
    let said = out(&refused);
    ensure!(!refused.status.success(), "{said}");
    ensure!(
        said.contains("fieldguard:policy@0.1.0")
            && said.contains(fieldguard::authz::wasm::CONTRACT),
        "{said}"
    );

    // The built-in policy against cases that expect something else: the failing case is named.
    let builtin = module_file(&dir, "builtin.wasm", BUILTIN_POLICY)?;
    let cases = fieldguard_policy::CASES.replacen(
        "fields = [\"outputVariables\", \"versions\"]\nallow = [\"admin\", \"developer-g1\", \"orchestrator-admin\", \"owner\"]",
        "fields = [\"outputVariables\", \"versions\"]\nallow = [\"admin\", \"developer-g1\", \"orchestrator-admin\", \"owner\", \"analyst\"]",
        1,
    );
    ensure!(cases != fieldguard_policy::CASES, "the case to change is not in cases.toml");
    let cases_file = module_file(&dir, "cases.toml", cases.as_bytes())?;
    let refused = gateway.policy(&[
        "deploy",
        builtin.to_str().unwrap_or_default(),
        "--cases",
        cases_file.to_str().unwrap_or_default(),
    ])?;
    let said = out(&refused);
    ensure!(!refused.status.success(), "{said}");
    ensure!(
        said.contains("read Workflow.outputVariables, versions") && said.contains("analyst"),
        "{said}"
    );

    // Bytes that are no module at all.
    let junk = module_file(&dir, "junk.wasm", b"\0asm\x01\0\0\0garbage")?;
    let refused = gateway.policy(&["deploy", junk.to_str().unwrap_or_default()])?;
    ensure!(
        !refused.status.success() && out(&refused).contains("POLICY_REJECTED"),
        "{}",
        out(&refused)
    );

    ensure!(
        gateway.policy_hash().await? == before,
        "a refused candidate changed the version in force"
    );
    ensure!(
        gateway.workflows_seen(&token).await? == visible,
        "a refused candidate changed a decision"
    );
    let versions = gateway.policy(&["versions"])?;
    ensure!(out(&versions).contains("no version was ever deployed"), "{}", out(&versions));
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn only_the_operator_token_reaches_the_operator_api() -> anyhow::Result<()> {
    let dir = scratch("operator")?;
    let data = dir.join("data");
    let owner = seeded(&data, fieldguard_e2e::OWNER)?;
    let rollback = "mutation { rollbackPolicy { previousHash } }";
    let versions = "{ policyVersions { hash } }";

    let gateway = Gateway::start(&data, &[], true)?;
    // The team's owner is not a platform operator.
    for query in [rollback, versions] {
        let reply = gateway.post(&owner, query, json!({})).await?;
        ensure!(reply["errors"][0]["extensions"]["code"] == "FORBIDDEN", "{query}: {reply}");
    }
    // A wrong token is no credential at all.
    let reply = gateway.post("not-the-operator-token-at-all", versions, json!({})).await?;
    ensure!(reply["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", "{reply}");
    // The operator reads versions, but no team data.
    let reply = gateway.post(OPERATOR_TOKEN, versions, json!({})).await?;
    ensure!(reply["data"]["policyVersions"] == json!([]), "{reply}");
    let reply = gateway.post(OPERATOR_TOKEN, "{ me { displayName } }", json!({})).await?;
    ensure!(
        reply["data"]["me"].is_null()
            && reply["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED",
        "{reply}"
    );
    // Nothing to roll back to yet.
    let reply = gateway.post(OPERATOR_TOKEN, rollback, json!({})).await?;
    ensure!(reply["errors"][0]["extensions"]["code"] == "CONFLICT", "{reply}");
    drop(gateway);

    // Without an operator token configured there is no operator API.
    let closed = Gateway::start(&data, &[], false)?;
    let reply = closed.post(OPERATOR_TOKEN, versions, json!({})).await?;
    ensure!(reply["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", "{reply}");
    let cli = closed.policy(&["versions"])?;
    ensure!(!cli.status.success() && out(&cli).contains("no operator API"), "{}", out(&cli));
    drop(closed);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn policy_test_reports_each_case_and_fails_on_a_wrong_expectation() -> anyhow::Result<()> {
    let dir = scratch("test")?;
    let builtin = module_file(&dir, "builtin.wasm", BUILTIN_POLICY)?;
    let run = |args: &[&str]| Command::new(BINARY).args(["policy", "test"]).args(args).output();
    let passed = run(&[builtin.to_str().unwrap_or_default()])?;
    let report = out(&passed);
    ensure!(passed.status.success(), "{report}");
    ensure!(
        report.contains("ok   read Workflow.outputVariables, versions")
            && report.contains(" 0 failed"),
        "{report}"
    );

    let wrong = fieldguard_policy::CASES.replacen("[[see]]\ntype = \"Invitation\"\ngroups = [1]\nallow = [\"admin\", \"owner\", \"security-admin\"]", "[[see]]\ntype = \"Invitation\"\ngroups = [1]\nallow = [\"admin\", \"owner\"]", 1);
    ensure!(wrong != fieldguard_policy::CASES, "the case to change is not in cases.toml");
    let cases = module_file(&dir, "wrong.toml", wrong.as_bytes())?;
    let failed = run(&[builtin.to_str().unwrap_or_default(), cases.to_str().unwrap_or_default()])?;
    let report = out(&failed);
    ensure!(!failed.status.success(), "{report}");
    ensure!(
        report.contains("FAIL see Invitation [groups 1]")
            && report.contains("security-admin: expected deny, got allow"),
        "{report}"
    );

    let allow_all = module_file(&dir, "allow-all.wasm", fixture_policy("allow-all")?)?;
    let failed = run(&[allow_all.to_str().unwrap_or_default()])?;
    let report = out(&failed);
    ensure!(
        !failed.status.success()
            && report.contains("cases  none")
            && report.contains("FAIL the unknown type"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn policy_diff_says_who_gains_and_who_loses_what_and_nothing_for_identical_modules()
-> anyhow::Result<()> {
    let dir = scratch("diff")?;
    let builtin = module_file(&dir, "builtin.wasm", BUILTIN_POLICY)?;
    let deny_all = module_file(&dir, "deny-all.wasm", fixture_policy("deny-all")?)?;
    let run = |old: &Path, new: &Path, extra: &[&str]| {
        Command::new(BINARY)
            .args(["policy", "diff"])
            .args([old, new])
            .args(extra)
            .env_remove("DATABASE_URL")
            .output()
    };
    let same = run(&builtin, &builtin, &[])?;
    let said = out(&same);
    ensure!(same.status.success(), "{said}");
    ensure!(
        said.contains("no differences") && said.contains("over 16 members of 2 teams"),
        "{said}"
    );

    // From deny-all to the built-in policy everyone gains, no one loses; grouped by field, then
    // by role.
    let opened = run(&deny_all, &builtin, &[])?;
    let said = out(&opened);
    ensure!(!opened.status.success(), "differences must fail the command: {said}");
    let status = said.split("\nUser.status\n").nth(1).context("no User.status line")?;
    let status: Vec<&str> = status.lines().take_while(|line| line.starts_with("  ")).collect();
    ensure!(
        status
            .iter()
            .any(|l| l.starts_with("  + SECURITY_ADMIN: ") && l.contains("sam.security@acme.test")),
        "User.status gained by security admins: {status:?}"
    );
    ensure!(status.iter().all(|l| l.starts_with("  + ")), "nobody loses: {status:?}");
    ensure!(
        said.contains("\nsee Workflow\n") && said.contains("\nact run-workflow on Workflow\n"),
        "{said}"
    );
    ensure!(said.contains("0 lose something"), "{said}");

    // Over a database given by its data directory: the same members, from the other side.
    let data = dir.join("data");
    let _ = seeded(&data, DEVELOPER)?;
    let closed = run(&builtin, &deny_all, &["--data-dir", data.to_str().unwrap_or_default()])?;
    let said = out(&closed);
    ensure!(said.contains("fieldguard.db") && said.contains("0 members gain something"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn an_operator_gets_every_decision_of_a_request_and_no_one_else_does() -> anyhow::Result<()> {
    let dir = scratch("explain")?;
    let data = dir.join("data");
    let token = seeded(&data, DEVELOPER)?;
    let gateway = Gateway::start(&data, &[], true)?;
    let query = "{ team { name billingPlan workflows(first: 2) { nodes { name outputVariables { name } } } } }";

    let explained = Command::new(BINARY)
        .args(["explain", "--user", DEVELOPER, "--query", query, "--server", &gateway.url])
        .env("FIELDGUARD_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()?;
    let said = out(&explained);
    ensure!(explained.status.success(), "{said}");
    ensure!(said.contains(&format!("as {DEVELOPER} under default")), "{said}");
    ensure!(said.contains("DENY  Team.billingPlan  (the principal's roles do not allow"), "{said}");
    ensure!(said.contains("ALLOW Workflow.outputVariables [groups"), "{said}");
    ensure!(said.contains("ALLOW see Workflow: in security groups"), "{said}");

    // Over HTTP: the header names the user, the answer carries the decisions.
    let reply = reqwest::Client::new()
        .post(format!("{}/graphql", gateway.url))
        .bearer_auth(OPERATOR_TOKEN)
        .header("X-Fieldguard-Explain", DEVELOPER)
        .json(&json!({ "query": query }))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let decisions =
        reply["extensions"]["explain"]["decisions"].as_array().cloned().unwrap_or_default();
    let billing = decisions
        .iter()
        .find(|d| d["typeName"] == "Team" && d["field"] == "billingPlan")
        .context("no decision on Team.billingPlan")?;
    ensure!(billing["allowed"] == false && billing["reason"].is_string(), "{billing}");
    ensure!(
        reply["extensions"]["explain"]["policy"]["hash"] == content_hash(BUILTIN_POLICY).as_str(),
        "{reply}"
    );

    // A member asking for an explanation of their own request is refused; reasons never reach them.
    let reply = reqwest::Client::new()
        .post(format!("{}/graphql", gateway.url))
        .bearer_auth(&token)
        .header("X-Fieldguard-Explain", DEVELOPER)
        .json(&json!({ "query": query }))
        .send()
        .await?;
    ensure!(reply.status() == 403, "a member's explain got {}", reply.status());
    let plain = gateway.post(&token, query, json!({})).await?;
    ensure!(
        plain["extensions"].is_null() && !plain.to_string().contains("roles do not allow"),
        "{plain}"
    );
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn a_candidate_in_shadow_is_counted_by_field_and_role_and_never_enforced()
-> anyhow::Result<()> {
    let dir = scratch("shadow")?;
    let data = dir.join("data");
    let token = seeded(&data, DEVELOPER)?;
    let gateway = Gateway::start(&data, &[], true)?;
    let visible = gateway.workflows_seen(&token).await?;
    let deny_all = module_file(&dir, "deny-all.wasm", fixture_policy("deny-all")?)?;
    let started = gateway.policy(&["shadow", deny_all.to_str().unwrap_or_default()])?;
    ensure!(
        started.status.success() && out(&started).contains("now in shadow"),
        "{}",
        out(&started)
    );

    for _ in 0..3 {
        ensure!(gateway.workflows_seen(&token).await? == visible, "the shadow was enforced");
    }
    ensure!(gateway.policy_hash().await? == content_hash(BUILTIN_POLICY), "the shadow is in force");
    let report = gateway.policy(&["shadow"])?;
    let said = out(&report);
    ensure!(report.status.success(), "{said}");
    let line = said
        .lines()
        .find(|line| line.starts_with("Team.workflows  MEMBER · Orchestrator DEVELOPER: "))
        .context(format!("no line for Team.workflows and the developer's role:\n{said}"))?;
    ensure!(
        line.ends_with("would allow 0, would deny 3"),
        "once per request (memoized within one): {line}"
    );
    ensure!(
        said.contains("see Workflow  MEMBER · Orchestrator DEVELOPER: would allow 0, would deny"),
        "{said}"
    );

    let stopped = gateway.policy(&["shadow", "--stop"])?;
    ensure!(out(&stopped).contains("shadow stopped"), "{}", out(&stopped));
    let after = gateway.policy(&["shadow"])?;
    ensure!(out(&after).contains("no version is in shadow"), "{}", out(&after));
    let versions = gateway.policy(&["versions"])?;
    let listed = out(&versions);
    ensure!(
        listed.contains(&format!("  {}", content_hash(fixture_policy("deny-all")?))),
        "stored, not active: {listed}"
    );
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Two gateways started at once on one fresh data directory both come up, on one seeded
/// database and one signing secret: a token minted afterwards works on both.
#[tokio::test]
async fn two_gateways_started_at_once_on_a_fresh_data_directory_share_it() -> anyhow::Result<()> {
    let dir = scratch("twins")?;
    let data = dir.join("data");
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let data = data.clone();
            std::thread::spawn(move || Gateway::start(&data, &["--demo"], false))
        })
        .collect();
    let mut gateways = Vec::new();
    for start in starting {
        let started = start.join().map_err(|_| anyhow::anyhow!("a start panicked"))?;
        gateways.push(started.context("one of two gateways started at once")?);
    }
    let token = Command::new(BINARY)
        .args(["token", "--user", DEVELOPER, "--data-dir"])
        .arg(&data)
        .output()?;
    ensure!(token.status.success(), "token: {}", out(&token));
    let token = String::from_utf8(token.stdout)?.trim().to_owned();
    for gateway in &gateways {
        let seen = gateway.workflows_seen(&token).await?;
        ensure!(seen > 0, "{} does not take the token, or has no data: {seen}", gateway.url);
    }
    let teams = gateways[0].post(&token, "{ myTeams { name } }", json!({})).await?;
    ensure!(
        teams["data"]["myTeams"].as_array().is_some_and(|t| t.len() == 1),
        "the demo data was seeded once: {teams}"
    );
    drop(gateways);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A token names the database it was minted for: after the database file is deleted and the
/// demo data seeded anew (same ids, same secret), the old token is refused and a new one works.
#[tokio::test]
async fn a_database_created_anew_does_not_revive_old_tokens() -> anyhow::Result<()> {
    let dir = scratch("anew")?;
    let data = dir.join("data");
    let old = seeded(&data, DEVELOPER)?;
    std::fs::remove_file(data.join("fieldguard.db"))?;
    let new = seeded(&data, DEVELOPER)?;
    let gateway = Gateway::start(&data, &[], false)?;
    let refused = gateway.post(&old, "{ me { email } }", json!({})).await?;
    ensure!(
        refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            && refused["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("another database")),
        "the old token: {refused}"
    );
    let seen = gateway.workflows_seen(&new).await?;
    ensure!(seen > 0, "the new token: {seen}");
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
