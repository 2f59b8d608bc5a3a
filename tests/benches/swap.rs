//! What a policy deploy costs the traffic, and how fast it is in force, on one gateway and
//! across two over one database.
//!
//! Two gateway states serve one SQLite database, each following the other's activations.
//! Sixteen clients keep querying both. Meanwhile 100 versions are deployed through the first,
//! alternating the built-in policy and a deny-all fixture; after each, a probe asks each
//! gateway until the answer names the new version (every `FORBIDDEN` error carries the hash
//! of the version that decided it). The report gives the swap latency (deploy accepted →
//! first request decided by the new version) median and worst on each gateway, and how many
//! of the clients' requests failed (anything but 200 with data or `FORBIDDEN`).
//!
//! Run: `cargo bench -p fieldguard-e2e --bench swap` (`DEPLOYS=n`, 100 by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fieldguard::authz::LoadedPolicy;
use fieldguard::authz::active::{BUILTIN_POLICY, content_hash};
use fieldguard_e2e::{Sqlite, fixture_policy};

/// The gateways under measure, on SQLite.
type TestServer = fieldguard_e2e::TestServer<Sqlite>;

const WHO: &str = "dana.developer@acme.test";
const LOAD: &str = "{ me { displayName } team { name workflows(first: 5) { nodes { name } } } }";
/// Denied under both versions, so every answer names the version that decided it.
const PROBE: &str = "{ team { billingPlan } }";

fn decided_by(reply: &fieldguard_e2e::Reply) -> Option<String> {
    reply.errors().first().and_then(|e| e["extensions"]["policy"].as_str().map(str::to_owned))
}

async fn until_decided_by(server: &TestServer, hash: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if decided_by(&server.query(WHO, PROBE).await?).as_deref() == Some(hash) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{hash} not in force after 10 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {name:<34} median {:>8.1} ms   p90 {:>8.1} ms   worst {:>8.1} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[(samples.len() - 1) * 9 / 10]),
        ms(samples[samples.len() - 1]),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let deploys: usize = std::env::var("DEPLOYS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let first = Arc::new(TestServer::start().await?);
    let second = Arc::new(first.beside(LoadedPolicy::builtin()?).await?);
    first.state.lifecycle.clone().spawn_follower();
    second.state.lifecycle.clone().spawn_follower();

    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for client in 0..16 {
        let server = if client % 2 == 0 { first.clone() } else { second.clone() };
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match server.query(WHO, LOAD).await {
                    Ok(reply) => {
                        reply.status == 200
                            && reply.errors().iter().all(|e| e["extensions"]["code"] == "FORBIDDEN")
                    }
                    Err(_) => false,
                };
                let counter = if ok { &served } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let modules = [BUILTIN_POLICY, fixture_policy("deny-all")?];
    let (mut here, mut there) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for n in 0..deploys {
        // Starts with deny-all: the built-in policy is in force already.
        let module = modules[(n + 1) % 2];
        let hash = content_hash(module);
        first
            .state
            .lifecycle
            .deploy(module.to_vec(), None, Some(format!("bench {n}")), "bench", true)
            .await?;
        let accepted = Instant::now();
        let (one, two) = tokio::join!(
            async {
                until_decided_by(&first, &hash).await?;
                anyhow::Ok(accepted.elapsed())
            },
            async {
                until_decided_by(&second, &hash).await?;
                anyhow::Ok(accepted.elapsed())
            }
        );
        here.push(one?);
        there.push(two?);
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await?;
    }
    let (served, failed) = (served.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!(
        "swap: {deploys} deploys in {:.1} s (alternating two modules) under 16 clients: {served} requests served, {failed} failed",
        took.as_secs_f64()
    );
    report("on the deploying gateway", &mut here);
    report("on the second gateway (follows)", &mut there);
    anyhow::ensure!(failed == 0, "{failed} requests failed during the deploys");
    Ok(())
}
