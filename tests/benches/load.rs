//! Throughput and latency under load, measured by a real load generator (`wrk`).
//!
//! Two gateways serve the same database side by side: one enforces the built-in Wasm policy,
//! the other a native allow-everything policy. For a small query (`{ me { displayName } }`)
//! and for the bench's big one (10 fields of 1,000 workflows), at 16 and at 64 concurrent
//! connections, `wrk -t2` loads each gateway in turn, in rounds whose order alternates (so
//! neither always runs first); the report gives requests per second (the mean of the rounds),
//! p50 and p99 latency (the medians of the rounds), and the ratio of the two policies. wrk's
//! own timeout is raised to 60 s: a slow answer is measured, not counted as failed; any
//! non-2xx answer or socket error fails the bench.
//!
//! Run: `cargo bench -p fieldguard-e2e --bench load` (needs `wrk`: `apt-get install wrk`;
//! `SECONDS=n` per gateway and case, 40 by default, in `ROUNDS=n` rounds, 4 by default;
//! the big query needs runs of several seconds: at 64 connections an answer takes seconds).

/// The allocator of the `fieldguard` binary, so that what is measured is what is served.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::Command;

use fieldguard::authz::LoadedPolicy;
use fieldguard_e2e::Sqlite;
use fieldguard_e2e::bench::WORKFLOWS_QUERY;

type TestServer = fieldguard_e2e::TestServer<Sqlite>;

/// What one run of wrk measured.
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
}

/// A latency as wrk prints it (`812.00us`, `6.20ms`, `1.02s`), in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

fn parse(output: &str) -> anyhow::Result<Run> {
    let field = |prefix: &str| {
        output
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix).map(|rest| rest.trim().to_owned()))
    };
    let requests_per_second = field("Requests/sec:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no Requests/sec in wrk's output:\n{output}"))?;
    let p50_ms = field("50%").and_then(|l| millis(&l)).unwrap_or(f64::NAN);
    let p99_ms = field("99%").and_then(|l| millis(&l)).unwrap_or(f64::NAN);
    let failed = field("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0)
        + field("Socket errors:").map_or(0, |errors| {
            errors
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        });
    Ok(Run { requests_per_second, p50_ms, p99_ms, failed })
}

/// Loads `server` with `query` from `clients` connections for `seconds`.
fn load(
    server: &TestServer,
    token: &str,
    query: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    let script = std::env::temp_dir().join(format!("fieldguard-load-{}.lua", std::process::id()));
    let body = serde_json::json!({ "query": query }).to_string();
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = [==[{body}]==]\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ),
    )?;
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{clients}"), &format!("-d{seconds}s"), "--timeout", "60s"])
        .args(["--latency", "-s"])
        .arg(&script)
        .arg(format!("{}/graphql", server.url))
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run wrk ({e}); install it: apt-get install wrk"))?;
    let _ = std::fs::remove_file(&script);
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// The runs of one gateway over the rounds, as one: mean throughput, median latencies.
fn combined(runs: &[Run]) -> Run {
    let median = |value: fn(&Run) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(value).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    Run {
        requests_per_second: runs.iter().map(|r| r.requests_per_second).sum::<f64>()
            / runs.len().max(1) as f64,
        p50_ms: median(|r| r.p50_ms),
        p99_ms: median(|r| r.p99_ms),
        failed: runs.iter().map(|r| r.failed).sum(),
    }
}

fn main() -> anyhow::Result<()> {
    let number = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let (seconds, rounds) = (number("SECONDS", 40), number("ROUNDS", 4).max(1));
    let per_run = (seconds / rounds).max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (wasm, native) = runtime.block_on(async {
        let wasm = TestServer::start().await?;
        let native = wasm.beside(LoadedPolicy::allow_all()).await?;
        fieldguard_e2e::bench::more_workflows(&wasm).await?;
        anyhow::Ok((wasm, native))
    })?;
    let who = "olivia.owner@acme.test";
    let token = wasm.token(who)?.to_owned();
    println!(
        "load: wrk -t2, {rounds} rounds of {per_run} s per gateway and case, alternating \
         (release build)"
    );
    println!(
        "{:<34} {:>7}  {:<10} {:>9} {:>9} {:>9}  {:>6}",
        "query", "clients", "policy", "req/s", "p50 ms", "p99 ms", "failed"
    );
    for (name, query) in [
        ("{ me { displayName } }", "{ me { displayName } }"),
        ("10 fields x 1,000 workflows", WORKFLOWS_QUERY),
    ] {
        for clients in [16, 64] {
            // Warm both up, then measure them in turn.
            for server in [&wasm, &native] {
                load(server, &token, query, clients, 1)?;
            }
            let (mut with_wasm, mut with_native) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                let wasm_run = || load(&wasm, &token, query, clients, per_run);
                let native_run = || load(&native, &token, query, clients, per_run);
                if round % 2 == 0 {
                    with_wasm.push(wasm_run()?);
                    with_native.push(native_run()?);
                } else {
                    with_native.push(native_run()?);
                    with_wasm.push(wasm_run()?);
                }
            }
            let runs = [("wasm", combined(&with_wasm)), ("allow-all", combined(&with_native))];
            for (policy, run) in &runs {
                println!(
                    "{name:<34} {clients:>7}  {policy:<10} {:>9.0} {:>9.2} {:>9.2}  {:>6}",
                    run.requests_per_second, run.p50_ms, run.p99_ms, run.failed
                );
            }
            let [(_, wasm_run), (_, native_run)] = &runs;
            println!(
                "{:<34} {:>7}  ratio allow-all / wasm req/s: {:.3}x",
                "",
                "",
                native_run.requests_per_second / wasm_run.requests_per_second
            );
            anyhow::ensure!(
                wasm_run.failed == 0 && native_run.failed == 0,
                "requests failed under load"
            );
        }
    }
    drop(runtime);
    Ok(())
}
