//! # Decision cases for Fieldguard policies
//!
//! What a policy must answer, written as plain files ([`format`]) that a policy author reads
//! and reviews without knowing Rust, and the runner ([`run`]) that asks a policy every case
//! and reports where it answers otherwise.
//!
//! The runner does not know how a policy runs: anything that implements [`Subject`] can be
//! checked. The gateway checks WebAssembly modules with it (`fieldguard policy test`, and the
//! gate before a deployed version is activated); the default policy's own tests check its
//! native build.

pub mod format;

use std::fmt;

pub use format::{
    ActCase, CaseFile, FormatError, OrchestratorRole, PortalRole, PrincipalSpec, ProcessHubRole,
    Product, ReadCase, Relation, SeeCase,
};

/// One principal of a file, as the runner hands it to a [`Subject`].
#[derive(Clone, Debug)]
pub struct Principal<'a> {
    /// The name the file gives it.
    pub name: &'a str,
    /// A user id of its own (1, 2, … in the file's order); the team is 1.
    pub user: u64,
    /// Its roles.
    pub spec: &'a PrincipalSpec,
}

/// The attributes of the object a case is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The GraphQL type.
    pub type_name: &'a str,
    /// Its security groups.
    pub groups: &'a [u64],
    /// How the principal relates to it.
    pub relations: &'a [Relation],
}

/// What is asked about a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// Reading a field.
    Field(&'a str),
    /// Performing an action.
    Action {
        /// The action's name.
        name: &'a str,
        /// The member's portal role now.
        current_role: Option<PortalRole>,
        /// The portal role the action would give.
        requested_role: Option<PortalRole>,
    },
}

/// A policy's answer to one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Whether it allows.
    pub allowed: bool,
    /// Why it denies, when it says.
    pub reason: Option<String>,
}

/// One condition of a visibility clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The object is in at least one of these groups.
    InSecurityGroups(Vec<u64>),
    /// The principal has all of these relations to the object.
    Related(Vec<Relation>),
}

/// Which objects of a type a principal sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// All of them.
    All,
    /// None.
    None,
    /// Those satisfying any clause (a clause holds when all its conditions do).
    Where(Vec<Vec<Condition>>),
}

impl Visibility {
    /// Whether an object with these attributes is visible.
    pub fn admits(&self, resource: &Resource<'_>) -> bool {
        match self {
            Self::All => true,
            Self::None => false,
            Self::Where(clauses) => clauses.iter().any(|clause| {
                clause.iter().all(|condition| match condition {
                    Condition::InSecurityGroups(groups) => {
                        resource.groups.iter().any(|group| groups.contains(group))
                    }
                    Condition::Related(relations) => {
                        relations.iter().all(|relation| resource.relations.contains(relation))
                    }
                })
            }),
        }
    }
}

/// A policy under test.
pub trait Subject {
    /// One answer per target, in order, for `principal` on `resource`.
    fn decide(
        &mut self,
        principal: &Principal<'_>,
        resource: &Resource<'_>,
        targets: &[Target<'_>],
    ) -> Vec<Answer>;

    /// The visibility of `type_name` for `principal`.
    fn visibility(&mut self, principal: &Principal<'_>, type_name: &str) -> Visibility;
}

/// A principal for whom a case was answered otherwise than expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The principal's name.
    pub principal: String,
    /// The field, when the case names several.
    pub field: Option<String>,
    /// What the case expects: allowed or not.
    pub expected: bool,
    /// The policy's reason for denying, when it gave one.
    pub reason: Option<String>,
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The case in words, e.g. `read Workflow.outputVariables [groups 1]`.
    pub title: String,
    /// How many decisions it took.
    pub decisions: usize,
    /// Where the policy answered otherwise.
    pub failures: Vec<Failure>,
}

/// The outcome of a whole file.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One outcome per case, in the file's order: reads, actions, visibility.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|outcome| outcome.failures.is_empty())
    }

    /// The cases that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|outcome| !outcome.failures.is_empty())
    }

    /// How many decisions the run took.
    pub fn decisions(&self) -> usize {
        self.outcomes.iter().map(|outcome| outcome.decisions).sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in &self.outcomes {
            let verdict = if outcome.failures.is_empty() { "ok  " } else { "FAIL" };
            writeln!(f, "{verdict} {}", outcome.title)?;
            for failure in &outcome.failures {
                let field = failure.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
                let (expected, got) =
                    if failure.expected { ("allow", "deny") } else { ("deny", "allow") };
                write!(f, "       {}{field}: expected {expected}, got {got}", failure.principal)?;
                match &failure.reason {
                    Some(reason) => writeln!(f, " ({reason})")?,
                    None => writeln!(f)?,
                }
            }
        }
        let failed = self.failed().count();
        writeln!(
            f,
            "\n{} cases, {} decisions: {} passed, {failed} failed",
            self.outcomes.len(),
            self.decisions(),
            self.outcomes.len() - failed
        )
    }
}

fn expects(allow: &[String], name: &str) -> bool {
    allow.iter().any(|allowed| allowed == "*" || allowed == name)
}

fn attributes(groups: &[u64], relations: &[Relation]) -> String {
    let mut parts = Vec::new();
    if !groups.is_empty() {
        let groups: Vec<String> = groups.iter().map(u64::to_string).collect();
        parts.push(format!("groups {}", groups.join(",")));
    }
    if !relations.is_empty() {
        let relations: Vec<String> = relations
            .iter()
            .map(|r| serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)))
            .map(Option::unwrap_or_default)
            .collect();
        parts.push(relations.join(","));
    }
    if parts.is_empty() { String::new() } else { format!(" [{}]", parts.join("; ")) }
}

/// Asks `subject` every case of `file`, for every principal of the file.
pub fn run(file: &CaseFile, subject: &mut dyn Subject) -> Report {
    let principals: Vec<Principal<'_>> = file
        .principals
        .iter()
        .zip(1..)
        .map(|((name, spec), user)| Principal { name, user, spec })
        .collect();
    let mut report = Report::default();
    for case in &file.read {
        let resource = Resource {
            type_name: &case.type_name,
            groups: &case.groups,
            relations: &case.relations,
        };
        let targets: Vec<Target<'_>> = case.fields.iter().map(|f| Target::Field(f)).collect();
        let mut outcome = Outcome {
            title: format!(
                "read {}.{}{}",
                case.type_name,
                case.fields.join(", "),
                attributes(&case.groups, &case.relations)
            ),
            decisions: 0,
            failures: Vec::new(),
        };
        for principal in &principals {
            let answers = subject.decide(principal, &resource, &targets);
            let expected = expects(&case.allow, principal.name);
            for (index, field) in case.fields.iter().enumerate() {
                outcome.decisions += 1;
                let answer = answers.get(index);
                if answer.map(|a| a.allowed) != Some(expected) {
                    outcome.failures.push(Failure {
                        principal: principal.name.to_owned(),
                        field: (case.fields.len() > 1).then(|| field.clone()),
                        expected,
                        reason: answer.and_then(|a| a.reason.clone()),
                    });
                }
            }
        }
        report.outcomes.push(outcome);
    }
    for case in &file.act {
        let resource = Resource {
            type_name: &case.type_name,
            groups: &case.groups,
            relations: &case.relations,
        };
        let target = Target::Action {
            name: &case.action,
            current_role: case.current_role,
            requested_role: case.requested_role,
        };
        let roles = [("from", case.current_role), ("to", case.requested_role)]
            .into_iter()
            .filter_map(|(word, role)| {
                let role = serde_json::to_value(role?).ok()?;
                Some(format!(" {word} {}", role.as_str()?))
            })
            .collect::<String>();
        let mut outcome = Outcome {
            title: format!(
                "act {} on {}{roles}{}",
                case.action,
                case.type_name,
                attributes(&case.groups, &case.relations)
            ),
            decisions: 0,
            failures: Vec::new(),
        };
        for principal in &principals {
            outcome.decisions += 1;
            let answer = subject.decide(principal, &resource, &[target]).pop();
            let expected = expects(&case.allow, principal.name);
            if answer.as_ref().map(|a| a.allowed) != Some(expected) {
                outcome.failures.push(Failure {
                    principal: principal.name.to_owned(),
                    field: None,
                    expected,
                    reason: answer.and_then(|a| a.reason),
                });
            }
        }
        report.outcomes.push(outcome);
    }
    for case in &file.see {
        let resource = Resource {
            type_name: &case.type_name,
            groups: &case.groups,
            relations: &case.relations,
        };
        let mut outcome = Outcome {
            title: format!("see {}{}", case.type_name, attributes(&case.groups, &case.relations)),
            decisions: 0,
            failures: Vec::new(),
        };
        for principal in &principals {
            outcome.decisions += 1;
            let seen = subject.visibility(principal, &case.type_name).admits(&resource);
            let expected = expects(&case.allow, principal.name);
            if seen != expected {
                outcome.failures.push(Failure {
                    principal: principal.name.to_owned(),
                    field: None,
                    expected,
                    reason: None,
                });
            }
        }
        report.outcomes.push(outcome);
    }
    report
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A test that cannot set up fails, saying why.
mod tests {
    use super::*;

    /// Allows reads of `name` and actions named `ok` to OWNER only; sees groups 1.
    struct Toy;

    impl Subject for Toy {
        fn decide(
            &mut self,
            principal: &Principal<'_>,
            _resource: &Resource<'_>,
            targets: &[Target<'_>],
        ) -> Vec<Answer> {
            let owner = principal.spec.portal_role == PortalRole::Owner;
            targets
                .iter()
                .map(|target| {
                    let allowed = owner
                        && matches!(
                            target,
                            Target::Field("name") | Target::Action { name: "ok", .. }
                        );
                    Answer { allowed, reason: (!allowed).then(|| "toy says no".into()) }
                })
                .collect()
        }

        fn visibility(&mut self, _principal: &Principal<'_>, _type_name: &str) -> Visibility {
            Visibility::Where(vec![vec![Condition::InSecurityGroups(vec![1])]])
        }
    }

    const FILE: &str = r#"
        [principals]
        owner = { portal-role = "OWNER" }
        member = {}

        [[read]]
        type = "Team"
        fields = ["name", "billingPlan"]
        allow = ["owner"]

        [[act]]
        type = "Team"
        action = "ok"
        allow = ["owner"]

        [[see]]
        type = "Workflow"
        groups = [1]
        allow = ["*"]
    "#;

    #[test]
    fn a_case_fails_for_each_principal_answered_otherwise_and_says_why() {
        let file = CaseFile::parse(FILE).expect("valid cases");
        let report = run(&file, &mut Toy);
        assert!(!report.passed());
        let failed: Vec<&Outcome> = report.failed().collect();
        assert_eq!(failed.len(), 1, "{report}");
        assert_eq!(
            failed[0].failures,
            vec![Failure {
                principal: "owner".into(),
                field: Some("billingPlan".into()),
                expected: true,
                reason: Some("toy says no".into()),
            }]
        );
        assert_eq!(report.decisions(), 4 + 2 + 2);
        let text = report.to_string();
        assert!(text.contains("FAIL read Team.name, billingPlan"), "{text}");
        assert!(text.contains("owner (billingPlan): expected allow, got deny (toy says no)"));
        assert!(text.contains("3 cases, 8 decisions: 2 passed, 1 failed"), "{text}");
    }

    #[test]
    fn json_is_read_as_well_as_toml() {
        let json = r#"{ "principals": { "owner": { "portal-role": "OWNER" } },
                        "see": [{ "type": "Workflow", "groups": [2], "allow": [] }] }"#;
        let report = run(&CaseFile::parse(json).expect("valid JSON cases"), &mut Toy);
        assert!(report.passed(), "{report}");
    }

    #[test]
    fn a_typo_is_refused_naming_it() {
        let unknown_key = "[principals]\nowner = { portal-rol = \"OWNER\" }";
        assert!(CaseFile::parse(unknown_key).is_err_and(|e| e.0.contains("portal-rol")));
        let unknown_role = "[principals]\nowner = { portal-role = \"KING\" }";
        assert!(CaseFile::parse(unknown_role).is_err_and(|e| e.0.contains("KING")));
        let unknown_name = "[principals]\nowner = {}\n[[see]]\ntype = \"Team\"\nallow = [\"ownr\"]";
        let error = CaseFile::parse(unknown_name).expect_err("unknown principal");
        assert!(error.0.contains("`ownr`") && error.0.contains("owner"), "{error}");
    }
}
