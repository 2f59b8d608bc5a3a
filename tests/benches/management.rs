//! What the write side costs: mutations per second at 16 concurrent clients on SQLite (team
//! management, and the daily work of running workflows and launching processes), and the time
//! to import 10,000 CSV rows, through the full stack (HTTP, GraphQL, the Wasm policy, the
//! transaction with its audit entry).
//!
//! Run: `cargo bench -p fieldguard-e2e --bench management` (`SECONDS=n` per measurement,
//! 5 by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fieldguard_e2e::{OWNER, Sqlite};

/// The gateway under measure, on SQLite.
type TestServer = fieldguard_e2e::TestServer<Sqlite>;

const CLIENTS: usize = 16;

/// Runs `CLIENTS` clients for `span`, each sending the mutations `document(client, n)` gives
/// one after the other; answers mutations per second, and fails on any error.
async fn throughput(
    server: &Arc<TestServer>,
    span: Duration,
    document: fn(usize, usize) -> String,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (server, done) = (server.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while start.elapsed() < span {
                let reply = server.query(OWNER, &document(client, n)).await?;
                anyhow::ensure!(reply.errors().is_empty(), "{}", reply.body);
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            Ok(())
        }));
    }
    for client in clients {
        client.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// Members 4–12 switch between two roles: every call is a change, audited.
fn change_role(client: usize, n: usize) -> String {
    let member = 4 + client % 9;
    let role = if n.is_multiple_of(2) { "SECURITY_ADMIN" } else { "MEMBER" };
    format!(
        r#"mutation {{ changeMemberRole(memberId: "Membership:{member}", portalRole: {role}) {{ id }} }}"#
    )
}

/// Each client attaches a process to its own group and detaches it again: every call is a
/// change, audited (processes join any number of groups, so clients never collide).
fn attach(client: usize, n: usize) -> String {
    let (process, group) = (1 + client % 4, FIRST_BENCH_GROUP + client);
    let verb =
        if n.is_multiple_of(2) { "attachToSecurityGroup" } else { "detachFromSecurityGroup" };
    format!(
        r#"mutation {{ {verb}(id: "SecurityGroup:{group}", objectIds: ["Process:{process}"]) {{ id }} }}"#
    )
}

/// Runs the Acme workflows that have an approved runner (1–7), round robin: a run with its
/// log lines and audit entry each time.
fn run_workflow(client: usize, n: usize) -> String {
    let workflow = 1 + (client + n) % 7;
    format!(r#"mutation {{ runWorkflow(id: "Workflow:{workflow}") {{ id state }} }}"#)
}

/// Launches the Acme processes (1–4), round robin: a job and its first task each time.
fn launch_process(client: usize, n: usize) -> String {
    let process = 1 + (client + n) % 4;
    format!(r#"mutation {{ launchProcess(id: "Process:{process}") {{ id state }} }}"#)
}

/// The id of the first group the benchmark creates (the demo has three).
const FIRST_BENCH_GROUP: usize = 4;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let span = Duration::from_secs(seconds);

    let server = Arc::new(TestServer::start().await?);
    let roles = throughput(&server, span, change_role).await?;
    println!("changeMemberRole, {CLIENTS} clients: {roles:.0} mutations/s");

    let server = Arc::new(TestServer::start().await?);
    for client in 0..CLIENTS {
        let reply = server
            .query(OWNER, &format!(r#"mutation {{ createSecurityGroup(input: {{ name: "Bench {client}" }}) {{ id }} }}"#))
            .await?;
        let id = reply.data(&["createSecurityGroup", "id"]).as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(
            id == format!("SecurityGroup:{}", FIRST_BENCH_GROUP + client),
            "{}",
            reply.body
        );
    }
    let groups = throughput(&server, span, attach).await?;
    println!(
        "attachToSecurityGroup/detachFromSecurityGroup, {CLIENTS} clients: {groups:.0} mutations/s"
    );

    let server = Arc::new(TestServer::start().await?);
    let runs = throughput(&server, span, run_workflow).await?;
    println!("runWorkflow, {CLIENTS} clients: {runs:.0} mutations/s");
    let launches = throughput(&server, span, launch_process).await?;
    println!("launchProcess, {CLIENTS} clients: {launches:.0} mutations/s");

    let server = TestServer::start().await?;
    let mut csv = String::from("email,portalRole,products,orchestratorRole,processHubRole\\n");
    for n in 0..10_000 {
        csv.push_str(&format!("imported{n}@acme.test,MEMBER,ORCHESTRATOR,ANALYST,\\n"));
    }
    let start = Instant::now();
    let reply = server
        .query(OWNER, &format!(r#"mutation {{ importMembers(csv: "{csv}") {{ rows {{ line error {{ code }} }} }} }}"#))
        .await?;
    let took = start.elapsed();
    let rows = reply.data(&["importMembers", "rows"]).as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        reply.errors().is_empty() && rows == 10_000,
        "import failed: {}",
        reply.errors().len()
    );
    println!("importMembers, 10,000 rows: {:.2} s", took.as_secs_f64());
    Ok(())
}
