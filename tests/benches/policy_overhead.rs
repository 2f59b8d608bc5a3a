//! What the WebAssembly policy costs on a real request.
//!
//! Two gateways serve the same database side by side: one enforces the built-in Wasm policy,
//! the other a native allow-everything policy. Two queries go through the full stack (HTTP,
//! GraphQL, SQL, policy):
//!
//! * 10 fields of each of 1,000 workflows in three security groups (three classes of object:
//!   the policy is asked three times per field);
//! * 7 fields of each of 1,000 bot runners, each in a different set of security groups (1,000
//!   classes, so memoizing within the request cannot help: every field of every runner is a
//!   decision of the policy).
//!
//! Requests alternate between the two servers so that the machine's noise falls on both
//! alike; the report gives the median of each and their ratio.
//!
//! Run: `cargo bench -p fieldguard-e2e --bench policy_overhead` (`ROUNDS=n` to change the
//! number of alternating rounds, 40 by default; `QUERIES="{ … };{ … }"` to measure other
//! queries on the same data).

/// The allocator of the `fieldguard` binary, so that what is measured is what is served.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use fieldguard::authz::LoadedPolicy;
use fieldguard_e2e::Sqlite;
use fieldguard_e2e::bench::{RUNNERS, WORKFLOWS, WORKFLOWS_QUERY as QUERY};

/// The gateway under measure, on SQLite.
type TestServer = fieldguard_e2e::TestServer<Sqlite>;

const RUNNER_QUERY: &str = "{ team { botRunners(first: 1000) { nodes { \
    id machineName approvalState lastSeenAt rdpCredentialsSet rdpUsername \
    securityGroups { id } } } } }";

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(40);
    let wasm = TestServer::start().await?;
    let native = wasm.beside(LoadedPolicy::allow_all()).await?;

    fieldguard_e2e::bench::more_workflows(&wasm).await?;
    fieldguard_e2e::bench::distinct_bot_runners(&wasm).await?;

    let who = "olivia.owner@acme.test";
    for server in [&wasm, &native] {
        let reply = server.query(who, QUERY).await?;
        let count = reply.data(&["team", "workflows", "totalCount"]).as_u64();
        let nodes = reply.data(&["team", "workflows", "nodes"]).as_array().map_or(0, Vec::len);
        anyhow::ensure!(reply.errors().is_empty(), "errors: {:?}", reply.errors());
        anyhow::ensure!(
            count == Some(WORKFLOWS as u64) && nodes == WORKFLOWS,
            "{count:?} workflows, {nodes} nodes"
        );
        let reply = server.query(who, RUNNER_QUERY).await?;
        let nodes = reply.data(&["team", "botRunners", "nodes"]).as_array().map_or(0, Vec::len);
        anyhow::ensure!(reply.errors().is_empty(), "errors: {:?}", reply.errors());
        anyhow::ensure!(nodes == RUNNERS, "{nodes} runners");
    }
    // `QUERIES="q1;q2"` measures other queries instead, on the same data: how a profile is
    // split into its parts (a field, a relation) to find where the time goes.
    let asked = std::env::var("QUERIES").unwrap_or_default();
    let queries: Vec<(&str, &str)> = match asked.trim() {
        "" => vec![
            ("10 fields x 1,000 workflows in 3 classes", QUERY),
            ("7 fields x 1,000 bot runners in 1,000 classes", RUNNER_QUERY),
        ],
        asked => asked.split(';').map(|query| (query.trim(), query.trim())).collect(),
    };
    for (name, query) in queries {
        compare(&wasm, &native, who, query, rounds, name).await?;
    }
    Ok(())
}

/// Alternates `query` between the two servers and prints their medians and ratio.
async fn compare(
    wasm: &TestServer,
    native: &TestServer,
    who: &str,
    query: &str,
    rounds: usize,
    name: &str,
) -> anyhow::Result<()> {
    // Warm up both: connections, caches, the policy's first instantiation.
    for _ in 0..5 {
        wasm.query(who, query).await?;
        native.query(who, query).await?;
    }

    let (mut with_wasm, mut with_native) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always follows the other.
        let order: [(&TestServer, &mut Vec<Duration>); 2] = if round % 2 == 0 {
            [(wasm, &mut with_wasm), (native, &mut with_native)]
        } else {
            [(native, &mut with_native), (wasm, &mut with_wasm)]
        };
        for (server, samples) in order {
            let start = Instant::now();
            let reply = server.query(who, query).await?;
            samples.push(start.elapsed());
            anyhow::ensure!(reply.status == 200);
        }
    }
    let (wasm_median, native_median) = (median(&mut with_wasm), median(&mut with_native));
    println!("policy_overhead: {name}, {rounds} alternating rounds");
    for (name, median, samples) in [
        ("wasm policy (built-in)", wasm_median, &with_wasm),
        ("native allow-all", native_median, &with_native),
    ] {
        println!(
            "  {name:<24} median {:>8.2} ms   p10 {:>8.2} ms   p90 {:>8.2} ms",
            median.as_secs_f64() * 1e3,
            percentile(samples, 0.1).as_secs_f64() * 1e3,
            percentile(samples, 0.9).as_secs_f64() * 1e3,
        );
    }
    println!(
        "  ratio wasm / native: {:.3}x",
        wasm_median.as_secs_f64() / native_median.as_secs_f64()
    );
    Ok(())
}
