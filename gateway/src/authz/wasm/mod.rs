//! The WebAssembly policy host.
//!
//! One [`wasmtime::Engine`] serves the whole process. Each policy version is compiled once and
//! pre-instantiated against an empty linker: a policy imports nothing, so a module that asks
//! for any import (WASI, a clock, files) fails to load. Each [`Session`] gets its own store and
//! instance, created on first use, so requests never share guest state.
//!
//! Every call is bounded: in time by an epoch deadline, in memory by store limits. A trap, a
//! timeout or a malformed answer denies everything the call was asked, is logged, and throws
//! the instance away; the next call in the session starts from a fresh one.
//!
//! Names cross the boundary once per version: [`numbers`] keeps what the policy calls each
//! type, field and action, so that a batch crosses as integers (field reads as two plain
//! lists) and comes back as one `u16` per check; reason codes become text only when logged.
//! [`lane`] keeps a slow version from stalling the server.

mod lane;
mod numbers;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

use super::{
    Check, Condition, Decision, Policy, Principal, Reason, Resource, Session, Target, Visibility,
};
use crate::error::Error;
use crate::metrics;
use lane::{SlowLane, unstalling};
use numbers::Numbers;

/// Bindings generated from the contract.
#[allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../policy-wasm/wit",
        world: "policy",
    });
}

use bindings::fieldguard::policy::types as wit;

/// How often the engine's epoch advances.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// How many ticks one call into a policy may take before it is interrupted (about 50 ms).
const CALL_DEADLINE_TICKS: u64 = 10;
/// The most linear memory a policy instance may grow to.
const MEMORY_LIMIT_BYTES: usize = 64 << 20;
/// The most elements a table of a policy instance may grow to: a policy's tables hold its
/// indirect functions (a few hundred); a `table.grow` or `table.fill` past this is refused,
/// so no single instruction can run for long.
const TABLE_ELEMENTS_LIMIT: usize = 10_000;
/// The most memories and tables a store may hold: one core module, plus the component's
/// small adapters. Memory is capped at one memory's worth in total.
const MEMORIES_LIMIT: usize = 1;
/// How many policy instances may be live at once (one per request in flight, per policy
/// version it asks); past it, a request's policy calls are denied until one is returned.
const POOLED_INSTANCES: u32 = 1000;
const TABLES_LIMIT: usize = 4;

/// The process-wide engine, with a thread that advances its epoch.
fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // Instances come from a pool: a request's fresh instance reuses slots (and their
        // memory, reset copy-on-write) instead of mapping new ones.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(POOLED_INSTANCES)
            .total_core_instances(POOLED_INSTANCES * 2)
            .total_memories(POOLED_INSTANCES)
            .total_tables(POOLED_INSTANCES * TABLES_LIMIT as u32)
            .max_memory_size(MEMORY_LIMIT_BYTES)
            .table_elements(TABLE_ELEMENTS_LIMIT)
            .max_memories_per_module(MEMORIES_LIMIT as u32)
            .max_memories_per_component(MEMORIES_LIMIT as u32)
            .max_tables_per_module(TABLES_LIMIT as u32)
            .max_tables_per_component(TABLES_LIMIT as u32);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| e.to_string())?;
        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(engine)
    });
    engine.as_ref().map_err(|reason| Error::PolicyEngine(reason.clone()))
}

/// What each store carries: its resource limits.
struct StoreData {
    limits: StoreLimits,
}

/// A compiled, pre-instantiated policy module.
pub struct WasmPolicy {
    pre: bindings::PolicyPre<StoreData>,
    name: String,
    /// Where this version's calls run once one of them took long (see [`unstalling`]).
    lane: Arc<SlowLane>,
    /// What this version calls the names the gateway asks about.
    numbers: Arc<Numbers>,
    /// The texts of its reason codes: code `n` is the `n - 1`th.
    reasons: Vec<String>,
    /// Instances that served a session without failing, ready for the next one.
    idle: Arc<Idle>,
}

/// A live instance of a policy, and how many sessions it has served.
struct Live {
    store: Store<StoreData>,
    policy: bindings::Policy,
    sessions: u32,
}

/// The most instances of one version kept idle between sessions.
const MAX_IDLE: usize = 64;
/// How many sessions one instance serves before it is thrown away: whatever a policy keeps
/// in its memory between calls, it starts afresh now and then.
const MAX_SESSIONS: u32 = 10_000;

/// Instances kept between sessions. A fresh instance costs a slot of the pool, page faults on
/// its first calls and the return of its pages when dropped (with a flush of every core's
/// page tables): tens of microseconds a request. A kept one costs a lock. An instance that
/// failed is never kept.
#[derive(Default)]
struct Idle(std::sync::Mutex<Vec<Live>>);

impl Idle {
    fn take(&self) -> Option<Live> {
        self.0.lock().ok()?.pop()
    }

    fn keep(&self, mut live: Live) {
        live.sessions += 1;
        if live.sessions >= MAX_SESSIONS {
            return;
        }
        if let Ok(mut idle) = self.0.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(live);
        }
    }
}

/// The most reason texts a version may give, and the longest one kept.
const MAX_REASONS: usize = 4096;
const MAX_REASON: usize = 200;

impl WasmPolicy {
    /// Compiles a policy from the bytes of a component, or of a core module built by
    /// `wit-bindgen` (which is turned into a component first), and checks that it answers.
    pub fn compile(bytes: &[u8]) -> Result<Self, Error> {
        let engine = engine()?;
        // A core module is validated before anything parses its custom sections, so that a
        // truncated or corrupt one is refused with the validator's message.
        if is_core_module(bytes) {
            wasmtime::Module::validate(engine, bytes).map_err(|e| {
                Error::InvalidPolicy(format!("not a valid WebAssembly module: {e:#}"))
            })?;
        }
        unpanicked("reading the module's contract", || check_contract_version(bytes))?;
        let component_bytes = if is_core_module(bytes) {
            unpanicked("turning the module into a component", || {
                wit_component::ComponentEncoder::default()
                    .module(bytes)
                    .and_then(|encoder| encoder.validate(true).encode())
                    .map_err(|e| Error::InvalidPolicy(format!("not a policy module: {e:#}")))
            })?
        } else {
            bytes.to_vec()
        };
        let component = Component::new(engine, &component_bytes)
            .map_err(|e| Error::InvalidPolicy(format!("{e:#}")))?;
        let linker = Linker::<StoreData>::new(engine);
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
            Error::InvalidPolicy(format!("a policy may import nothing, but this one does: {e:#}"))
        })?;
        let pre = bindings::PolicyPre::new(instance_pre).map_err(|e| {
            Error::InvalidPolicy(format!("it does not export the policy world: {e:#}"))
        })?;
        let mut store = new_store(engine);
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| Error::InvalidPolicy(format!("it fails to start: {e:#}")))?;
        let name = instance
            .call_name(&mut store)
            .map_err(|e| Error::InvalidPolicy(format!("it fails when asked its name: {e:#}")))?;
        store.set_epoch_deadline(CALL_DEADLINE_TICKS);
        let reasons = instance
            .call_reasons(&mut store)
            .map_err(|e| Error::InvalidPolicy(format!("it fails when asked its reasons: {e:#}")))?;
        Ok(Self {
            pre,
            name: display_name(&name),
            lane: Arc::new(SlowLane::new()),
            numbers: Arc::default(),
            reasons: reasons.iter().take(MAX_REASONS).map(|r| shown(r, MAX_REASON)).collect(),
            idle: Arc::default(),
        })
    }

    /// The name the policy gives itself.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The longest policy name shown (in `/healthz`, `{ policy }` and log lines).
pub const MAX_NAME: usize = 100;

/// A policy's name as shown: control characters (newlines, terminal escapes) replaced, at most
/// [`MAX_NAME`] characters, so that a name can neither forge log lines nor bloat answers.
fn display_name(name: &str) -> String {
    let shown = shown(name, MAX_NAME);
    if shown.trim().is_empty() { "unnamed".into() } else { shown }
}

/// A text of the policy as logged: control characters replaced, at most `max` characters.
fn shown(text: &str, max: usize) -> String {
    let mut shown: String =
        text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).take(max).collect();
    if text.chars().count() > max {
        shown.push('…');
    }
    shown
}

/// Runs a step of reading a module that third-party parsers perform; a panic in them (which
/// malformed input can cause) refuses the module instead of taking the process down.
fn unpanicked<T>(step: &str, run: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        Err(Error::InvalidPolicy(format!("the module is malformed: {step} failed")))
    })
}

/// The contract this host speaks: the version in the package name of `policy.wit`.
pub const CONTRACT: &str = "fieldguard:policy@0.3.0";

/// Refuses a module built against another version of the contract, naming both versions.
///
/// A module records the WIT it was built from (a core module from `wit-bindgen` in a custom
/// section, a component in its types); one that records none is left to the checks of
/// [`WasmPolicy::compile`], which refuse it if it does not fit.
fn check_contract_version(bytes: &[u8]) -> Result<(), Error> {
    let Some(built_for) = contract_of(bytes) else {
        return Ok(());
    };
    if built_for == CONTRACT {
        Ok(())
    } else {
        Err(Error::InvalidPolicy(format!(
            "the module was built for the contract {built_for}, but this gateway speaks \
             {CONTRACT}; rebuild it against policy-wasm/wit/policy.wit"
        )))
    }
}

/// The `fieldguard:policy@version` package a module was built against, if it says.
pub fn contract_of(bytes: &[u8]) -> Option<String> {
    let resolve = if is_core_module(bytes) {
        wit_component::metadata::decode(bytes).ok()?.1.resolve
    } else {
        wit_component::decode(bytes).ok()?.resolve().clone()
    };
    resolve.packages.iter().find_map(|(_, package)| {
        let name = &package.name;
        (name.namespace == "fieldguard" && name.name == "policy").then(|| name.to_string())
    })
}

/// Whether the bytes are a core WebAssembly module (as opposed to a component or text).
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

fn new_store(engine: &Engine) -> Store<StoreData> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(MEMORY_LIMIT_BYTES)
        .table_elements(TABLE_ELEMENTS_LIMIT)
        .instances(8)
        .tables(TABLES_LIMIT)
        .memories(MEMORIES_LIMIT)
        .build();
    let mut store = Store::new(engine, StoreData { limits });
    store.limiter(|data| &mut data.limits);
    store.set_epoch_deadline(CALL_DEADLINE_TICKS);
    store
}

impl Policy for WasmPolicy {
    fn session(&self, principal: &Principal) -> Box<dyn Session> {
        Box::new(WasmSession {
            pre: self.pre.clone(),
            principal: to_wit_principal(principal),
            live: None,
            lane: self.lane.clone(),
            numbers: self.numbers.clone(),
            idle: self.idle.clone(),
        })
    }

    fn reason(&self, code: u16) -> Option<&str> {
        self.reasons.get(usize::from(code).checked_sub(1)?).map(String::as_str)
    }
}

/// One principal's conversation with a policy: an instance taken (or created) on first use,
/// dropped after any failure, kept for the next session otherwise.
struct WasmSession {
    pre: bindings::PolicyPre<StoreData>,
    principal: wit::Principal,
    live: Option<Live>,
    lane: Arc<SlowLane>,
    numbers: Arc<Numbers>,
    idle: Arc<Idle>,
}

impl Drop for WasmSession {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.idle.keep(live);
        }
    }
}

impl WasmSession {
    /// Runs one bounded call; on any failure, logs it and throws the instance away.
    fn call<R>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Store<StoreData>, &bindings::Policy, &wit::Principal) -> wasmtime::Result<R>,
    ) -> Option<R> {
        if self.live.is_none() {
            self.live = self.idle.take();
        }
        if self.live.is_none() {
            let mut store = new_store(self.pre.engine());
            let pre = &self.pre;
            match unstalling(&self.lane, "instantiate", || pre.instantiate(&mut store)) {
                Some(Ok(policy)) => self.live = Some(Live { store, policy, sessions: 0 }),
                None => {
                    metrics::policy_failure("overloaded");
                    tracing::warn!("the slow lane is full; denying without calling the policy");
                    return None;
                }
                Some(Err(error)) => {
                    metrics::policy_failure("instantiate");
                    tracing::error!(%error, "could not instantiate the policy; denying");
                    return None;
                }
            }
        }
        let Live { store, policy, .. } = self.live.as_mut()?;
        store.set_epoch_deadline(CALL_DEADLINE_TICKS);
        let principal = &self.principal;
        let Some(answer) = unstalling(&self.lane, what, || f(store, policy, principal)) else {
            metrics::policy_failure("overloaded");
            tracing::warn!(
                call = what,
                "the slow lane is full; denying without calling the policy"
            );
            return None;
        };
        match answer {
            Ok(answer) => Some(answer),
            Err(error) => {
                let interrupted =
                    error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt);
                metrics::policy_failure(if interrupted { "timeout" } else { "trap" });
                tracing::error!(error = %format!("{error:#}"), call = what, "the policy failed; denying");
                self.live = None;
                None
            }
        }
    }
}

impl WasmSession {
    /// What `lookup` finds in the version's numbers, after asking the policy about the names
    /// it has not numbered yet; `None` when the policy failed to answer.
    fn numbered<T>(&mut self, lookup: impl Fn(&Numbers) -> Result<T, wit::Names>) -> Option<T> {
        let names = match lookup(&self.numbers) {
            Ok(found) => return Some(found),
            Err(names) => names,
        };
        let answer =
            self.call("resolve", |store, policy, _| policy.call_resolve(&mut *store, &names));
        if !answer.is_some_and(|numbers| self.numbers.learn(names, numbers)) {
            return None;
        }
        lookup(&self.numbers).ok()
    }
}

/// Why the gateway denies what the policy has no number for.
const UNNUMBERED: Reason = Reason::Host("the policy has no rule for this name");
const FAILED: Reason = Reason::Host("the policy failed");
const MALFORMED: Reason = Reason::Host("the policy answered a malformed batch");

impl Session for WasmSession {
    fn decide(&mut self, resources: &[Resource], checks: &[Check<'_>]) -> Vec<Decision> {
        let Some(numbered) = self.numbered(|numbers| numbers.batch(resources, checks)) else {
            return vec![Decision::Deny(FAILED); checks.len()];
        };
        // Only resources of a type the policy numbers cross, renumbered in order.
        let mut crossing = Vec::with_capacity(resources.len());
        let mut index_of = Vec::with_capacity(resources.len());
        for (resource, number) in resources.iter().zip(&numbered.types) {
            index_of.push(number.map(|number| {
                crossing.push(wit::Resource {
                    type_number: number,
                    security_groups: resource.security_groups.iter().map(|id| *id as u64).collect(),
                    relations: to_wit_relation(resource.relations),
                });
                (crossing.len() - 1) as u32
            }));
        }
        // Reads cross as two lists of integers, acts as records; each remembers its check.
        let mut answers = vec![Decision::Deny(UNNUMBERED); checks.len()];
        let mut reads = wit::Reads {
            resources: Vec::with_capacity(checks.len()),
            fields: Vec::with_capacity(checks.len()),
        };
        let (mut read_at, mut acts, mut act_at) =
            (Vec::with_capacity(checks.len()), vec![], vec![]);
        for (at, (check, number)) in checks.iter().zip(&numbered.targets).enumerate() {
            let resource = index_of.get(check.resource as usize).copied().flatten();
            let (Some(resource), Some(number)) = (resource, *number) else {
                continue;
            };
            match check.target {
                Target::Field(_) => {
                    reads.resources.push(resource);
                    reads.fields.push(number);
                    read_at.push(at);
                }
                Target::Action(action) => {
                    acts.push(wit::Act {
                        resource,
                        action: wit::Action {
                            number,
                            current_role: action.current_role.map(to_wit_role),
                            requested_role: action.requested_role.map(to_wit_role),
                        },
                    });
                    act_at.push(at);
                }
            }
        }
        if read_at.is_empty() && act_at.is_empty() {
            return answers;
        }
        let answer = self.call("decide", |store, policy, principal| {
            policy.call_decide(store, principal, &crossing, &reads, &acts)
        });
        match answer {
            Some(answered)
                if answered.reads.len() == read_at.len() && answered.acts.len() == act_at.len() =>
            {
                let decided = read_at
                    .into_iter()
                    .zip(answered.reads)
                    .chain(act_at.into_iter().zip(answered.acts));
                for (at, decision) in decided {
                    if let Some(slot) = answers.get_mut(at) {
                        *slot = match decision {
                            0 => Decision::Allow,
                            code => Decision::Deny(Reason::Code(code)),
                        };
                    }
                }
                answers
            }
            Some(answered) => {
                metrics::policy_failure("malformed");
                tracing::error!(
                    reads = read_at.len(),
                    acts = act_at.len(),
                    answered_reads = answered.reads.len(),
                    answered_acts = answered.acts.len(),
                    "the policy answered a malformed batch; denying"
                );
                vec![Decision::Deny(MALFORMED); checks.len()]
            }
            None => vec![Decision::Deny(FAILED); checks.len()],
        }
    }

    fn visibility(&mut self, type_names: &[&str]) -> Vec<Visibility> {
        let Some(numbers) = self.numbered(|numbers| numbers.types(type_names)) else {
            return vec![Visibility::None; type_names.len()];
        };
        let asked: Vec<u32> = numbers.iter().flatten().copied().collect();
        if asked.is_empty() {
            return vec![Visibility::None; type_names.len()];
        }
        let answer = self.call("filter", |store, policy, principal| {
            policy.call_filter(store, principal, &asked)
        });
        match answer {
            Some(visibilities) if visibilities.len() == asked.len() => {
                let mut answered = visibilities.into_iter();
                numbers
                    .iter()
                    .map(|number| match number {
                        Some(_) => answered.next().map_or(Visibility::None, from_wit_visibility),
                        None => Visibility::None,
                    })
                    .collect()
            }
            Some(_) => {
                metrics::policy_failure("malformed");
                tracing::error!("the policy answered a malformed filter; hiding everything asked");
                vec![Visibility::None; type_names.len()]
            }
            None => vec![Visibility::None; type_names.len()],
        }
    }
}

fn to_wit_principal(p: &Principal) -> wit::Principal {
    use super::{OrchestratorRole as O, ProcessHubRole as H, Product as P};
    wit::Principal {
        user: p.user as u64,
        team: p.team as u64,
        portal_role: to_wit_role(p.portal_role),
        products: p
            .products
            .iter()
            .map(|product| match product {
                P::StudioPro => wit::Product::StudioPro,
                P::BotRunner => wit::Product::BotRunner,
                P::Orchestrator => wit::Product::Orchestrator,
                P::ProcessHub => wit::Product::ProcessHub,
                P::Integrabots => wit::Product::Integrabots,
            })
            .collect(),
        orchestrator_role: p.orchestrator_role.map(|role| match role {
            O::Admin => wit::OrchestratorRole::Admin,
            O::Developer => wit::OrchestratorRole::Developer,
            O::Operator => wit::OrchestratorRole::Operator,
            O::Analyst => wit::OrchestratorRole::Analyst,
        }),
        process_hub_role: p.process_hub_role.map(|role| match role {
            H::Administrator => wit::ProcessHubRole::Administrator,
            H::ProcessManager => wit::ProcessHubRole::ProcessManager,
            H::User => wit::ProcessHubRole::User,
        }),
        security_groups: p.security_groups.iter().map(|id| *id as u64).collect(),
        audit_log_access: p.audit_log_access,
        advanced_access_management: p.advanced_access_management,
    }
}

fn to_wit_role(role: super::PortalRole) -> wit::PortalRole {
    use super::PortalRole as R;
    match role {
        R::Owner => wit::PortalRole::Owner,
        R::Admin => wit::PortalRole::Admin,
        R::SecurityAdmin => wit::PortalRole::SecurityAdmin,
        R::Member => wit::PortalRole::Member,
        R::BillingContact => wit::PortalRole::BillingContact,
    }
}

/// Each relation flag of ours beside its WIT twin.
const RELATION_FLAGS: [(super::Relation, wit::Relation); 4] = [
    (super::Relation::IS_PRINCIPAL, wit::Relation::IS_PRINCIPAL),
    (super::Relation::CREATOR, wit::Relation::CREATOR),
    (super::Relation::LAUNCHER, wit::Relation::LAUNCHER),
    (super::Relation::ASSIGNEE, wit::Relation::ASSIGNEE),
];

fn to_wit_relation(relation: super::Relation) -> wit::Relation {
    RELATION_FLAGS
        .into_iter()
        .filter(|(ours, _)| relation.contains(*ours))
        .fold(wit::Relation::empty(), |acc, (_, theirs)| acc | theirs)
}

fn from_wit_relation(relation: wit::Relation) -> super::Relation {
    RELATION_FLAGS.into_iter().fold(super::Relation::NONE, |acc, (ours, theirs)| {
        acc.with(ours, relation.contains(theirs))
    })
}

/// The most clauses a visibility may have; more are refused (the type is hidden).
pub const MAX_CLAUSES: usize = 64;
/// The most conditions a clause may have.
pub const MAX_CONDITIONS: usize = 16;
/// The most security group ids one visibility may name, over all its conditions.
pub const MAX_GROUP_IDS: usize = 10_000;

/// Whether a visibility is small enough to become SQL safely: the gateway's SQL for it is then
/// of bounded size and depth, whatever the policy answered.
fn within_bounds(clauses: &[Vec<wit::Condition>]) -> bool {
    let ids: usize = clauses
        .iter()
        .flatten()
        .map(|condition| match condition {
            wit::Condition::InSecurityGroups(groups) => groups.len(),
            wit::Condition::Related(_) => 0,
        })
        .sum();
    clauses.len() <= MAX_CLAUSES
        && clauses.iter().all(|clause| clause.len() <= MAX_CONDITIONS)
        && ids <= MAX_GROUP_IDS
}

fn from_wit_visibility(visibility: wit::Visibility) -> Visibility {
    match visibility {
        wit::Visibility::All => Visibility::All,
        wit::Visibility::None => Visibility::None,
        wit::Visibility::Where(clauses) if !within_bounds(&clauses) => {
            tracing::warn!(
                clauses = clauses.len(),
                "the policy answered a visibility too large to turn into SQL safely; hiding the type \
                 (at most {MAX_CLAUSES} clauses of {MAX_CONDITIONS} conditions and {MAX_GROUP_IDS} group ids)"
            );
            Visibility::None
        }
        wit::Visibility::Where(clauses) => Visibility::Where(
            clauses
                .into_iter()
                .map(|clause| {
                    clause
                        .into_iter()
                        .map(|condition| match condition {
                            wit::Condition::InSecurityGroups(groups) => {
                                Condition::InSecurityGroups(
                                    // An id that does not fit matches no group of ours.
                                    groups
                                        .into_iter()
                                        .filter_map(|id| i32::try_from(id).ok())
                                        .collect(),
                                )
                            }
                            wit::Condition::Related(relation) => {
                                Condition::Related(from_wit_relation(relation))
                            }
                        })
                        .collect()
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_this_host_speaks_is_the_checked_in_wit_package() {
        let wit = include_str!("../../../../policy-wasm/wit/policy.wit");
        assert!(
            wit.contains(&format!("package {CONTRACT};")),
            "policy.wit does not declare {CONTRACT}"
        );
    }

    #[test]
    fn the_builtin_policy_declares_the_contract_it_was_built_for() {
        assert_eq!(contract_of(super::super::active::BUILTIN_POLICY).as_deref(), Some(CONTRACT));
    }

    #[test]
    fn checks_cross_as_numbers_and_reasons_come_back_as_codes_the_host_resolves() {
        let policy = match WasmPolicy::compile(super::super::active::BUILTIN_POLICY) {
            Ok(policy) => policy,
            Err(error) => panic!("the built-in policy: {error}"),
        };
        let resources = [Resource::plain("Team"), Resource::plain("Unheard")];
        let checks = [
            Check { resource: 0, target: Target::Field("name") },
            Check { resource: 0, target: Target::Field("billingPlan") },
            Check { resource: 0, target: Target::Field("unheardOf") },
            Check { resource: 1, target: Target::Field("name") },
            Check {
                resource: 0,
                target: Target::Action(super::super::Action::named("unheard-of")),
            },
        ];
        for _ in 0..2 {
            // The second session finds every number kept from the first.
            let mut session = policy.session(&Principal::plain_member());
            let decisions = session.decide(&resources, &checks);
            assert_eq!(decisions[0], Decision::Allow);
            let Decision::Deny(Reason::Code(code)) = decisions[1] else {
                panic!("billingPlan for a member: {:?}", decisions[1]);
            };
            assert_eq!(
                policy.reason(code),
                Some("the principal's roles do not allow reading this field")
            );
            assert_eq!(&decisions[2..], &[Decision::Deny(UNNUMBERED); 3]);
            assert_eq!(
                session.visibility(&["Team", "Unheard", "Invitation"]),
                [Visibility::All, Visibility::None, Visibility::None]
            );
        }
        assert_eq!(policy.reason(0), None);
        assert_eq!(policy.reason(u16::MAX), None);
    }

    #[test]
    fn bytes_that_are_no_module_declare_no_contract() {
        assert_eq!(contract_of(b"not wasm"), None);
        assert!(check_contract_version(b"not wasm").is_ok(), "left to the compiler's checks");
    }

    #[test]
    fn a_truncated_module_is_refused_with_a_message_never_a_panic() {
        let builtin = super::super::active::BUILTIN_POLICY;
        for length in [8, 100, 20_000, builtin.len() / 2, builtin.len() - 1] {
            match WasmPolicy::compile(&builtin[..length]) {
                Err(Error::InvalidPolicy(message)) => assert!(!message.is_empty()),
                Err(other) => panic!("{length} bytes: unexpected {other}"),
                Ok(_) => panic!("{length} bytes of the policy were accepted"),
            }
        }
    }

    #[test]
    fn a_name_is_bounded_and_cannot_forge_log_lines() {
        assert_eq!(display_name("default 0.3.0"), "default 0.3.0");
        let forged = display_name("ok\nERROR fake line\u{1b}[31m");
        assert!(!forged.contains('\n') && !forged.contains('\u{1b}'), "{forged:?}");
        let long = display_name(&"x".repeat(40_000_000));
        assert_eq!(long.chars().count(), MAX_NAME + 1);
        assert_eq!(display_name("\n\t"), "\u{fffd}\u{fffd}");
        assert_eq!(display_name("   "), "unnamed");
    }

    /// Runs the export `run` of a core module under the store limits of every policy call.
    fn run_limited(wat: &str) -> wasmtime::Result<i32> {
        let engine = engine().map_err(|e| wasmtime::Error::msg(e.to_string()))?;
        let module = wasmtime::Module::new(engine, wat)?;
        let mut store = new_store(engine);
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        instance.get_typed_func::<(), i32>(&mut store, "run")?.call(&mut store, ())
    }

    #[test]
    fn a_table_cannot_grow_past_its_limit_so_no_table_instruction_runs_long() {
        let grow = r#"(module (table 1 funcref)
            (func (export "run") (result i32)
              ref.null func i32.const 200000000 table.grow 0))"#;
        assert_eq!(run_limited(grow).ok(), Some(-1), "table.grow by 200 million succeeded");
        let within = r#"(module (table 1 funcref)
            (func (export "run") (result i32)
              ref.null func i32.const 100 table.grow 0))"#;
        assert_eq!(run_limited(within).ok(), Some(1));
        let declared = r#"(module (table 200000000 funcref)
            (func (export "run") (result i32) i32.const 0))"#;
        assert!(run_limited(declared).is_err(), "a table of 200 million elements was created");
    }

    #[test]
    fn one_memory_of_at_most_64_mib_per_instance() {
        let four = r#"(module (memory 1) (memory 1) (memory 1) (memory 1)
            (func (export "run") (result i32) i32.const 0))"#;
        assert!(run_limited(four).is_err(), "four memories were allowed");
        let grow = r#"(module (memory 1)
            (func (export "run") (result i32) i32.const 1100 memory.grow))"#;
        assert_eq!(run_limited(grow).ok(), Some(-1), "memory grew past 64 MiB");
    }

    fn groups(n: usize) -> wit::Condition {
        wit::Condition::InSecurityGroups((0..n as u64).collect())
    }

    #[test]
    fn a_visibility_too_large_for_sql_hides_the_type() {
        let wide = wit::Visibility::Where((0..1000).map(|_| vec![groups(1)]).collect());
        assert_eq!(from_wit_visibility(wide), Visibility::None);
        let deep =
            wit::Visibility::Where(vec![(0..MAX_CONDITIONS + 1).map(|_| groups(1)).collect()]);
        assert_eq!(from_wit_visibility(deep), Visibility::None);
        let many_ids = wit::Visibility::Where(vec![vec![groups(2_000_000)]]);
        assert_eq!(from_wit_visibility(many_ids), Visibility::None);
        let largest = wit::Visibility::Where(
            (0..MAX_CLAUSES).map(|_| (0..MAX_CONDITIONS).map(|_| groups(9)).collect()).collect(),
        );
        assert!(
            matches!(from_wit_visibility(largest), Visibility::Where(c) if c.len() == MAX_CLAUSES)
        );
    }
}
