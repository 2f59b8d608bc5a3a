//! What one decision costs through the gateway's own host, beside the same rules natively.
//!
//! 128,000 random field checks on workflows and bot runners in random security groups, for an
//! Orchestrator developer: natively (`fieldguard_policy::decide`), and through the gateway's
//! WebAssembly host (`LoadedPolicy::builtin()` → `session.decide`) one check at a time and in
//! batches of 24 and 1,000; all must give the same answers. Then the cost of a request's
//! first call: a fresh session (a new instance) and one small batch.
//!
//! Run: `cargo bench -p fieldguard-e2e --bench decide`.

use std::time::{Duration, Instant};

use fieldguard::authz::{
    Check, LoadedPolicy, OrchestratorRole, PortalRole, Principal, Product, Resource, Target,
};

const CHECKS: usize = 128_000;
const WORKFLOW_FIELDS: [&str; 8] =
    ["id", "name", "schedule", "outputVariables", "versions", "queue", "runs", "webhookEnabled"];
const RUNNER_FIELDS: [&str; 6] =
    ["id", "machineName", "approvalState", "rdpUsername", "registrationTokens", "securityGroups"];

/// A small deterministic generator (xorshift), so every run asks the same questions.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn principal() -> Principal {
    Principal {
        user: 7,
        team: 1,
        portal_role: PortalRole::Member,
        products: vec![Product::Orchestrator],
        orchestrator_role: Some(OrchestratorRole::Developer),
        process_hub_role: None,
        security_groups: vec![1, 2],
        audit_log_access: false,
        advanced_access_management: true,
    }
}

fn native_principal() -> fieldguard_policy::Principal {
    fieldguard_policy::Principal {
        user: 7,
        team: 1,
        portal_role: fieldguard_policy::PortalRole::Member,
        products: vec![fieldguard_policy::Product::Orchestrator],
        orchestrator_role: Some(fieldguard_policy::OrchestratorRole::Developer),
        process_hub_role: None,
        security_groups: vec![1, 2],
        audit_log_access: false,
        advanced_access_management: true,
    }
}

fn per_decision(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e9 / CHECKS as f64
}

fn main() -> anyhow::Result<()> {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let questions: Vec<(Resource, &str)> = (0..CHECKS)
        .map(|_| {
            let group = 1 + random.below(4) as i32;
            if random.below(2) == 0 {
                (Resource::grouped("Workflow", [group]), WORKFLOW_FIELDS[random.below(8)])
            } else {
                (Resource::grouped("BotRunner", [group]), RUNNER_FIELDS[random.below(6)])
            }
        })
        .collect();

    // Natively: the policy crate's own `decide`, one check at a time.
    let native = native_principal();
    let started = Instant::now();
    let expected: Vec<bool> = questions
        .iter()
        .map(|(resource, field)| {
            let resource = fieldguard_policy::Resource {
                type_name: resource.type_name.into(),
                security_groups: resource.security_groups.iter().map(|g| *g as u64).collect(),
                relations: fieldguard_policy::Relation::empty(),
            };
            let check = fieldguard_policy::Check {
                resource: 0,
                target: fieldguard_policy::Target::Field((*field).into()),
            };
            let decisions = fieldguard_policy::decide(&native, &[resource], &[check]);
            matches!(decisions.as_slice(), [fieldguard_policy::Decision::Allow])
        })
        .collect();
    let native_ns = per_decision(started.elapsed());

    let policy = LoadedPolicy::builtin()?;
    let mut results = vec![("native (policy crate)", native_ns)];
    for batch in [1usize, 24, 1000] {
        let mut session = policy.policy.session(&principal());
        let started = Instant::now();
        let mut answers = Vec::with_capacity(CHECKS);
        for chunk in questions.chunks(batch) {
            let resources: Vec<Resource> = chunk.iter().map(|(r, _)| r.clone()).collect();
            let checks: Vec<Check> = chunk
                .iter()
                .zip(0u32..)
                .map(|((_, field), resource)| Check {
                    resource,
                    target: Target::Field((*field).to_owned()),
                })
                .collect();
            answers.extend(session.decide(&resources, &checks).iter().map(|d| d.is_allow()));
        }
        let elapsed = started.elapsed();
        anyhow::ensure!(
            answers == expected,
            "the Wasm host answered otherwise in batches of {batch}"
        );
        results.push((
            match batch {
                1 => "wasm host, one at a time",
                24 => "wasm host, batches of 24",
                _ => "wasm host, batches of 1,000",
            },
            per_decision(elapsed),
        ));
    }

    println!("decide: {CHECKS} random Workflow/BotRunner field checks, identical answers from all");
    for (name, ns) in &results {
        println!("  {name:<30} {ns:>9.1} ns per decision   {:>6.1}x native", ns / native_ns);
    }

    // A request's first call: a fresh session (instantiation) and a batch of 10 checks.
    let rounds = 2000;
    let resources = vec![Resource::grouped("Workflow", [1])];
    let checks: Vec<Check> = WORKFLOW_FIELDS
        .iter()
        .map(|field| Check { resource: 0, target: Target::Field((*field).to_owned()) })
        .collect();
    let started = Instant::now();
    for _ in 0..rounds {
        let mut session = policy.policy.session(&principal());
        std::hint::black_box(session.decide(&resources, &checks));
    }
    println!(
        "  fresh session + first batch of {}: {:.1} µs",
        checks.len(),
        started.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
    Ok(())
}
