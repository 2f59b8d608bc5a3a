//! What one decision costs through the gateway's own host, beside the same rules natively and
//! beside Cedar.
//!
//! 128,000 random field checks on workflows and bot runners in random security groups, for an
//! Orchestrator developer, answered:
//!
//! * natively, by the policy crate's own rules: by name one check at a time, and by numbers in
//!   batches of 1,000 (what the module runs, without the WebAssembly boundary);
//! * through the gateway's WebAssembly host (`LoadedPolicy::builtin()` → `session.decide`),
//!   one check at a time and in batches of 24 and 1,000, each batch built as the guard builds
//!   it (one resource per class of object), first on a fresh heap and then once the process
//!   heap is fragmented;
//! * by Cedar (`cedar-policy` 4) on equivalent rules, with and without building its requests.
//!
//! All must give the same answers. Then the cost of a request's first call: a fresh session (a
//! new instance) and one small batch.
//!
//! Run: `cargo bench -p fieldguard-e2e --bench decide`. With `PROFILE_HOST=n`, it only runs the
//! Wasm host in batches of 1,000, `n` times over, for a profiler.

#[path = "decide/cedar.rs"]
mod cedar;

use std::time::{Duration, Instant};

use fieldguard::authz::{
    Check, LoadedPolicy, OrchestratorRole, PortalRole, Principal, Product, Resource, Target,
};
use fieldguard_policy::contract::{self, wire};

const CHECKS: usize = 128_000;
const WORKFLOW_FIELDS: [&str; 8] =
    ["id", "name", "schedule", "outputVariables", "versions", "queue", "runs", "webhookEnabled"];
const RUNNER_FIELDS: [&str; 6] =
    ["id", "machineName", "approvalState", "rdpUsername", "registrationTokens", "securityGroups"];
/// The principal's security groups; questions are about objects in groups 1 to 4.
const GROUPS: [i32; 2] = [1, 2];

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

/// One question: read `field` of an object of `type_name` in security group `group`.
#[derive(Clone, Copy)]
struct Question {
    type_name: &'static str,
    group: i32,
    field: &'static str,
}

fn principal() -> Principal {
    Principal {
        user: 7,
        team: 1,
        portal_role: PortalRole::Member,
        products: vec![Product::Orchestrator],
        orchestrator_role: Some(OrchestratorRole::Developer),
        process_hub_role: None,
        security_groups: GROUPS.to_vec(),
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
        security_groups: GROUPS.iter().map(|g| *g as u64).collect(),
        audit_log_access: false,
        advanced_access_management: true,
    }
}

fn per_decision(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e9 / CHECKS as f64
}

/// The classes of the questions (type and group), as the guard has them before it asks: the
/// index of each question's class among `CLASSES`.
const CLASSES: usize = 8;

fn class_of(question: &Question) -> usize {
    let group = (question.group - 1) as usize;
    if question.type_name == "Workflow" { group } else { 4 + group }
}

/// Runs every question through the Wasm host in batches of `size`, each batch built as the
/// guard builds it: one resource per class met, one check per question.
fn through_host(policy: &LoadedPolicy, questions: &[Question], size: usize) -> (Vec<bool>, f64) {
    let classes: Vec<usize> = questions.iter().map(class_of).collect();
    let all: Vec<Resource> = (0..CLASSES)
        .map(|class| {
            let type_name = if class < 4 { "Workflow" } else { "BotRunner" };
            Resource::grouped(type_name, [(class % 4) as i32 + 1])
        })
        .collect();
    let mut session = policy.policy.session(&principal());
    let mut answers = Vec::with_capacity(questions.len());
    let started = Instant::now();
    for (chunk, chunk_classes) in questions.chunks(size).zip(classes.chunks(size)) {
        let mut index_of = [u32::MAX; CLASSES];
        let mut resources = Vec::with_capacity(CLASSES.min(size));
        let checks: Vec<Check> = chunk
            .iter()
            .zip(chunk_classes)
            .map(|(question, class)| {
                if index_of[*class] == u32::MAX {
                    index_of[*class] = resources.len() as u32;
                    resources.push(all[*class].clone());
                }
                Check { resource: index_of[*class], target: Target::Field(question.field) }
            })
            .collect();
        answers.extend(session.decide(&resources, &checks).iter().map(|d| d.is_allow()));
    }
    let ns = per_decision(started.elapsed());
    (answers, ns)
}

/// Runs every question through the policy crate by numbers, in batches of 1,000, as the
/// module does inside the boundary.
fn by_numbers(questions: &[Question]) -> (Vec<bool>, f64) {
    let tables = fieldguard_policy::Tables::shipped();
    let principal = native_principal();
    let number = |type_name: &str, field: &str| {
        tables.fields.number_of(type_name, field).unwrap_or(u32::MAX - 1)
    };
    let numbered: Vec<(u32, i32, u32)> = questions
        .iter()
        .map(|q| {
            let type_number = tables.visibility.number_of(q.type_name).unwrap_or(u32::MAX - 1);
            (type_number, q.group, number(q.type_name, q.field))
        })
        .collect();
    let mut answers = Vec::with_capacity(questions.len());
    let started = Instant::now();
    for chunk in numbered.chunks(1000) {
        let mut classes: Vec<(u32, i32)> = Vec::new();
        let mut reads = wire::Reads { resources: vec![], fields: vec![] };
        for (type_number, group, field) in chunk {
            let class = (*type_number, *group);
            let resource = classes.iter().position(|c| *c == class).unwrap_or_else(|| {
                classes.push(class);
                classes.len() - 1
            });
            reads.resources.push(resource as u32);
            reads.fields.push(*field);
        }
        let resources: Vec<wire::Resource> = classes
            .iter()
            .map(|(type_number, group)| wire::Resource {
                type_number: *type_number,
                security_groups: vec![*group as u64],
                relations: fieldguard_policy::Relation::empty(),
            })
            .collect();
        let decisions = contract::decide(&tables, &principal, &resources, &reads, &[]);
        answers.extend(decisions.reads.iter().map(|code| *code == 0));
    }
    (answers, per_decision(started.elapsed()))
}

/// Leaves the process heap fragmented: many blocks of random sizes, every other one freed.
fn fragment_heap(random: &mut Random) -> Vec<Vec<u8>> {
    let blocks: Vec<Vec<u8>> = (0..400_000).map(|_| vec![1u8; 16 + random.below(2048)]).collect();
    blocks.into_iter().step_by(2).collect()
}

fn main() -> anyhow::Result<()> {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let questions: Vec<Question> = (0..CHECKS)
        .map(|_| {
            let group = 1 + random.below(4) as i32;
            if random.below(2) == 0 {
                Question { type_name: "Workflow", group, field: WORKFLOW_FIELDS[random.below(8)] }
            } else {
                Question { type_name: "BotRunner", group, field: RUNNER_FIELDS[random.below(6)] }
            }
        })
        .collect();

    // Natively, by name, one check at a time: the answers everyone must give.
    let native = native_principal();
    let started = Instant::now();
    let expected: Vec<bool> = questions
        .iter()
        .map(|q| {
            let resource = fieldguard_policy::Resource {
                type_name: q.type_name.into(),
                security_groups: vec![q.group as u64],
                relations: fieldguard_policy::Relation::empty(),
            };
            let check = fieldguard_policy::Check {
                resource: 0,
                target: fieldguard_policy::Target::Field(q.field.into()),
            };
            let decisions = fieldguard_policy::decide(&native, &[resource], &[check]);
            matches!(decisions.as_slice(), [fieldguard_policy::Decision::Allow])
        })
        .collect();
    let by_name_ns = per_decision(started.elapsed());
    let (answers, native_ns) = by_numbers(&questions);
    anyhow::ensure!(answers == expected, "by numbers, the policy answered otherwise");

    let policy = LoadedPolicy::builtin()?;
    if let Some(times) = std::env::var("PROFILE_HOST").ok().and_then(|n| n.parse::<usize>().ok()) {
        for _ in 0..times {
            std::hint::black_box(through_host(&policy, &questions, 1000));
        }
        return Ok(());
    }
    let mut results = vec![
        ("native, by name, one at a time".to_owned(), by_name_ns),
        ("native, by numbers, batches of 1,000".to_owned(), native_ns),
    ];
    let mut kept = Vec::new();
    for heap in ["fresh heap", "fragmented heap"] {
        if heap == "fragmented heap" {
            kept = fragment_heap(&mut random);
        }
        for size in [1usize, 24, 1000] {
            let (answers, ns) = through_host(&policy, &questions, size);
            anyhow::ensure!(answers == expected, "the Wasm host answered otherwise ({size})");
            results.push((format!("wasm host, batches of {size:>5}, {heap}"), ns));
        }
    }

    let cedar = cedar::Rules::new()?;
    let (answers, with_requests_ns) = cedar.decide_building_requests(&questions)?;
    anyhow::ensure!(answers == expected, "Cedar answered otherwise");
    let (answers, alone_ns) = cedar.decide_prebuilt(&questions)?;
    anyhow::ensure!(answers == expected, "Cedar answered otherwise");
    results.push(("cedar, building each request".to_owned(), with_requests_ns));
    results.push(("cedar, is_authorized alone".to_owned(), alone_ns));
    drop(kept);

    println!("decide: {CHECKS} random Workflow/BotRunner field checks, identical answers from all");
    for (name, ns) in &results {
        println!(
            "  {name:<46} {ns:>9.1} ns per decision   {:>7.2}x native by numbers",
            ns / native_ns
        );
    }

    // A request's first call: a fresh session (instantiation) and a batch of 8 checks.
    let rounds = 2000;
    let resources = vec![Resource::grouped("Workflow", [1])];
    let checks: Vec<Check> = WORKFLOW_FIELDS
        .iter()
        .map(|field| Check { resource: 0, target: Target::Field(field) })
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
