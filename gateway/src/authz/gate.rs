//! What a policy version must pass before it is put in force: its decision cases, and the
//! contract's own checks.
//!
//! * **Decision cases** ([`fieldguard_policy_cases`]): the file given with the module, or the
//!   one the module carries in its `fieldguard-cases` custom section. `fieldguard policy test`
//!   prints the same report.
//! * **Contract checks**, whatever the cases say: a type no rule names is invisible, a field no
//!   rule names is denied, an action no rule names is denied, and the same question always gets
//!   the same answer (within one batch and across sessions), which the gateway's memo relies on.
//!
//! Running the gate is CPU work on a loaded module; callers run it off the async workers.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use fieldguard_policy_cases as cases;

use super::{
    Action, Check, Condition, Decision, LoadedPolicy, OrchestratorRole, PortalRole, Principal,
    ProcessHubRole, Product, Relation, Resource, Session, Target, Visibility,
};

/// The custom section in which a module carries its decision cases.
pub const CASES_SECTION: &str = "fieldguard-cases";

/// The decision cases a module carries, if any: the text of its `fieldguard-cases` section
/// (in a core module, or in any module nested in a component).
pub fn embedded_cases(bytes: &[u8]) -> Option<String> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else {
            return None;
        };
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == CASES_SECTION
        {
            return String::from_utf8(section.data().to_vec()).ok();
        }
    }
    None
}

/// What the gate found.
#[derive(Debug, Default)]
pub struct GateReport {
    /// The decision cases' report, when there were cases.
    pub cases: Option<cases::Report>,
    /// The contract checks that failed, in words.
    pub contract_failures: Vec<String>,
}

impl GateReport {
    /// Whether the version may be put in force.
    pub fn passed(&self) -> bool {
        self.contract_failures.is_empty() && self.cases.as_ref().is_none_or(cases::Report::passed)
    }

    /// Every failure in one line each: the failing cases, then the failed contract checks.
    pub fn failures(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(report) = &self.cases {
            for outcome in report.failed() {
                let who: Vec<String> = outcome
                    .failures
                    .iter()
                    .map(|f| {
                        let field =
                            f.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
                        let expected = if f.expected { "allow" } else { "deny" };
                        format!("{}{field} expected {expected}", f.principal)
                    })
                    .collect();
                lines.push(format!("{}: {}", outcome.title, who.join(", ")));
            }
        }
        lines.extend(self.contract_failures.iter().cloned());
        lines
    }
}

/// Runs the cases (when given) and the contract checks against `policy`.
pub fn check(policy: &LoadedPolicy, file: Option<&cases::CaseFile>) -> GateReport {
    let mut subject = Host::new(policy);
    GateReport {
        cases: file.map(|file| cases::run(file, &mut subject)),
        contract_failures: contract_failures(policy, file),
    }
}

/// A type, field and action no policy may name.
const UNKNOWN_TYPE: &str = "FieldguardUnknownType";
const UNKNOWN_FIELD: &str = "fieldguardUnknownField";
const UNKNOWN_ACTION: &str = "fieldguard-unknown-action";

fn contract_failures(policy: &LoadedPolicy, file: Option<&cases::CaseFile>) -> Vec<String> {
    let mut failures = Vec::new();
    let broadest = Principal {
        user: 1,
        team: 1,
        portal_role: PortalRole::Owner,
        products: vec![
            Product::StudioPro,
            Product::BotRunner,
            Product::Orchestrator,
            Product::ProcessHub,
            Product::Integrabots,
        ],
        orchestrator_role: Some(OrchestratorRole::Admin),
        process_hub_role: Some(ProcessHubRole::Administrator),
        security_groups: vec![1, 2],
        audit_log_access: true,
        advanced_access_management: false,
    };
    let mut session = policy.policy.session(&broadest);
    if session.visibility(&[UNKNOWN_TYPE]) != [Visibility::None] {
        failures.push(format!("the unknown type `{UNKNOWN_TYPE}` is visible to the owner"));
    }
    let known = ["Team", "Workflow", "Membership", "Process"];
    let resources: Vec<Resource> = known.iter().map(|t| Resource::grouped(t, [1])).collect();
    let unknown_fields: Vec<Check> = (0..resources.len() as u32)
        .map(|resource| Check { resource, target: Target::Field(UNKNOWN_FIELD) })
        .collect();
    for (decision, type_name) in session.decide(&resources, &unknown_fields).iter().zip(known) {
        if decision.is_allow() {
            failures.push(format!(
                "the unknown field `{type_name}.{UNKNOWN_FIELD}` is allowed to the owner"
            ));
        }
    }
    let unknown_action =
        [Check { resource: 0, target: Target::Action(Action::named(UNKNOWN_ACTION)) }];
    if session.decide(&resources, &unknown_action).iter().any(Decision::is_allow) {
        failures.push(format!("the unknown action `{UNKNOWN_ACTION}` is allowed to the owner"));
    }
    if let Some(failure) = determinism(policy, &broadest, file) {
        failures.push(failure);
    }
    failures
}

/// Asks every field of the cases (or a few known ones) twice in one batch, then again in a
/// fresh session: all three answers must agree.
fn determinism(
    policy: &LoadedPolicy,
    principal: &Principal,
    file: Option<&cases::CaseFile>,
) -> Option<String> {
    let mut asked: Vec<(String, String)> = file
        .map(|file| {
            file.read
                .iter()
                .flat_map(|case| case.fields.iter().map(|f| (case.type_name.clone(), f.clone())))
                .collect()
        })
        .unwrap_or_default();
    if asked.is_empty() {
        asked = [("Team", "name"), ("Workflow", "name"), ("User", "email")]
            .map(|(t, f)| (t.to_owned(), f.to_owned()))
            .into();
    }
    let resources: Vec<Resource> =
        asked.iter().map(|(type_name, _)| Resource::grouped(interned(type_name), [1])).collect();
    let once: Vec<Check> = asked
        .iter()
        .zip(0u32..)
        .map(|((_, field), resource)| Check { resource, target: Target::Field(field) })
        .collect();
    let twice: Vec<Check> = once.iter().chain(&once).copied().collect();
    let allowed = |decisions: Vec<Decision>| -> Vec<bool> {
        decisions.iter().map(Decision::is_allow).collect()
    };
    let first = allowed(policy.policy.session(principal).decide(&resources, &twice));
    let again = allowed(policy.policy.session(principal).decide(&resources, &once));
    let (left, right) = first.split_at(first.len().min(once.len()));
    (left != right || left != again.as_slice()).then(|| {
        "the same question does not always get the same answer (asked twice in one batch and \
         once in a new session)"
            .to_owned()
    })
}

/// A type name of a case as the `'static` name the contract's types carry. Names are kept
/// once per process; a case file names a few dozen types.
pub(crate) fn interned(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A loaded policy as the case runner's subject: one session per principal of the file.
struct Host<'p> {
    policy: &'p LoadedPolicy,
    sessions: HashMap<u64, Box<dyn Session>>,
}

impl<'p> Host<'p> {
    fn new(policy: &'p LoadedPolicy) -> Self {
        Self { policy, sessions: HashMap::new() }
    }

    fn session(&mut self, who: &cases::Principal<'_>) -> &mut Box<dyn Session> {
        let policy = self.policy;
        self.sessions.entry(who.user).or_insert_with(|| policy.policy.session(&principal(who)))
    }
}

fn portal_role(role: cases::PortalRole) -> PortalRole {
    match role {
        cases::PortalRole::Owner => PortalRole::Owner,
        cases::PortalRole::Admin => PortalRole::Admin,
        cases::PortalRole::SecurityAdmin => PortalRole::SecurityAdmin,
        cases::PortalRole::Member => PortalRole::Member,
        cases::PortalRole::BillingContact => PortalRole::BillingContact,
    }
}

const RELATIONS: [(cases::Relation, Relation); 4] = [
    (cases::Relation::IsPrincipal, Relation::IS_PRINCIPAL),
    (cases::Relation::Creator, Relation::CREATOR),
    (cases::Relation::Launcher, Relation::LAUNCHER),
    (cases::Relation::Assignee, Relation::ASSIGNEE),
];

fn principal(who: &cases::Principal<'_>) -> Principal {
    let spec = who.spec;
    let mut security_groups: Vec<i32> =
        spec.security_groups.iter().filter_map(|id| i32::try_from(*id).ok()).collect();
    security_groups.sort_unstable();
    Principal {
        user: i32::try_from(who.user).unwrap_or(i32::MAX),
        team: 1,
        portal_role: portal_role(spec.portal_role),
        products: spec
            .products
            .iter()
            .map(|product| match product {
                cases::Product::StudioPro => Product::StudioPro,
                cases::Product::BotRunner => Product::BotRunner,
                cases::Product::Orchestrator => Product::Orchestrator,
                cases::Product::ProcessHub => Product::ProcessHub,
                cases::Product::Integrabots => Product::Integrabots,
            })
            .collect(),
        orchestrator_role: spec.orchestrator_role.map(|role| match role {
            cases::OrchestratorRole::Admin => OrchestratorRole::Admin,
            cases::OrchestratorRole::Developer => OrchestratorRole::Developer,
            cases::OrchestratorRole::Operator => OrchestratorRole::Operator,
            cases::OrchestratorRole::Analyst => OrchestratorRole::Analyst,
        }),
        process_hub_role: spec.process_hub_role.map(|role| match role {
            cases::ProcessHubRole::Administrator => ProcessHubRole::Administrator,
            cases::ProcessHubRole::ProcessManager => ProcessHubRole::ProcessManager,
            cases::ProcessHubRole::User => ProcessHubRole::User,
        }),
        security_groups,
        audit_log_access: spec.audit_log_access,
        advanced_access_management: spec.advanced_access_management,
    }
}

fn resource(on: &cases::Resource<'_>) -> Resource {
    let relations = RELATIONS
        .into_iter()
        .fold(Relation::NONE, |acc, (theirs, ours)| acc.with(ours, on.relations.contains(&theirs)));
    Resource::grouped(
        interned(on.type_name),
        on.groups.iter().filter_map(|g| i32::try_from(*g).ok()),
    )
    .related(relations)
}

impl cases::Subject for Host<'_> {
    fn decide(
        &mut self,
        who: &cases::Principal<'_>,
        on: &cases::Resource<'_>,
        targets: &[cases::Target<'_>],
    ) -> Vec<cases::Answer> {
        let checks: Vec<Check> = targets
            .iter()
            .map(|target| Check {
                resource: 0,
                target: match *target {
                    cases::Target::Field(field) => Target::Field(field),
                    cases::Target::Action { name, current_role, requested_role } => {
                        Target::Action(Action {
                            name: interned(name),
                            current_role: current_role.map(portal_role),
                            requested_role: requested_role.map(portal_role),
                        })
                    }
                },
            })
            .collect();
        let resources = [resource(on)];
        let decisions = self.session(who).decide(&resources, &checks);
        decisions
            .into_iter()
            .map(|decision| match decision {
                Decision::Allow => cases::Answer { allowed: true, reason: None },
                Decision::Deny(reason) => cases::Answer {
                    allowed: false,
                    reason: Some(super::reason_text(&*self.policy.policy, reason)),
                },
            })
            .collect()
    }

    fn visibility(&mut self, who: &cases::Principal<'_>, type_name: &str) -> cases::Visibility {
        match self.session(who).visibility(&[type_name]).pop() {
            Some(Visibility::All) => cases::Visibility::All,
            Some(Visibility::Where(clauses)) => cases::Visibility::Where(
                clauses
                    .into_iter()
                    .map(|clause| {
                        clause
                            .into_iter()
                            .map(|condition| match condition {
                                Condition::InSecurityGroups(groups) => {
                                    cases::Condition::InSecurityGroups(
                                        groups
                                            .into_iter()
                                            .filter_map(|g| u64::try_from(g).ok())
                                            .collect(),
                                    )
                                }
                                Condition::Related(flags) => cases::Condition::Related(
                                    RELATIONS
                                        .into_iter()
                                        .filter(|(_, ours)| flags.contains(*ours))
                                        .map(|(theirs, _)| theirs)
                                        .collect(),
                                ),
                            })
                            .collect()
                    })
                    .collect(),
            ),
            Some(Visibility::None) | None => cases::Visibility::None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A test that cannot set up fails, saying why.
mod tests {
    use super::*;
    use crate::authz::active::BUILTIN_POLICY;
    use crate::authz::native::AllowAll;

    #[test]
    fn the_builtin_policy_carries_its_cases_and_passes_them_and_the_contract_checks() {
        let text = embedded_cases(BUILTIN_POLICY).expect("the built-in module carries cases");
        let file = cases::CaseFile::parse(&text).expect("its cases parse");
        let policy = LoadedPolicy::builtin().expect("the built-in policy loads");
        let report = check(&policy, Some(&file));
        assert!(report.passed(), "{:?}", report.failures());
        assert!(report.cases.is_some_and(|r| r.decisions() > 1000));
    }

    #[test]
    fn a_policy_that_allows_everything_fails_the_contract_checks() {
        let report = check(&LoadedPolicy::native(AllowAll, "allow-all"), None);
        assert!(!report.passed());
        let failures = report.failures().join("\n");
        assert!(failures.contains("FieldguardUnknownType"), "{failures}");
        assert!(failures.contains("Team.fieldguardUnknownField"), "{failures}");
        assert!(failures.contains("fieldguard-unknown-action"), "{failures}");
    }

    #[test]
    fn a_module_without_the_section_carries_no_cases() {
        assert_eq!(embedded_cases(b"\0asm\x01\0\0\0"), None);
        assert_eq!(embedded_cases(b"not wasm at all"), None);
    }
}
