//! Asked by numbers, as the gateway asks the module, the policy answers exactly what it
//! answers by names, for every principal the contract can describe, on every field, action
//! and type of its tables, and on names it does not know.

mod support {
    pub mod every;
}

use fieldguard_policy::contract::{self, PLUMBING, wire};
use fieldguard_policy::{
    Action, Check, Decision, PortalRole, Principal, Reason, Relation, Resource, Tables, Target,
    decide_with, filter,
};
use support::every::every_principal;

/// Every type the tables name, a pagination type, and one no row names.
fn types(tables: &Tables<'_>) -> Vec<&'static str> {
    let mut types: Vec<&'static str> = tables.visibility.names().collect();
    for (type_name, _) in tables.fields.pairs() {
        if !types.contains(&type_name) {
            types.push(type_name);
        }
    }
    types.extend(["WorkflowConnection", "PageInfo", "Unheard"]);
    types
}

fn resources(type_name: &str) -> Vec<Resource> {
    let mut all = Vec::new();
    for groups in [vec![], vec![1], vec![1, 2]] {
        for relations in [
            Relation::empty(),
            Relation::IS_PRINCIPAL,
            Relation::CREATOR | Relation::LAUNCHER,
            Relation::ASSIGNEE,
        ] {
            all.push(Resource {
                type_name: type_name.into(),
                security_groups: groups.clone(),
                relations,
            });
        }
    }
    all
}

/// Every target of the tables on `type_name`: its fields, one unknown field, every action
/// with and without roles, and one unknown action.
fn targets(tables: &Tables<'_>, type_name: &str) -> Vec<Target> {
    let mut targets: Vec<Target> = tables
        .fields
        .pairs()
        .filter(|(t, _)| *t == type_name)
        .map(|(_, field)| Target::Field(field.into()))
        .collect();
    targets.push(Target::Field("unheardOf".into()));
    targets.push(Target::Field("edges".into()));
    let roles = [
        (None, None),
        (Some(PortalRole::Member), Some(PortalRole::Admin)),
        (Some(PortalRole::Owner), Some(PortalRole::BillingContact)),
    ];
    for name in tables.actions.names().chain(["unheard-of"]) {
        for (current_role, requested_role) in roles {
            targets.push(Target::Action(Action {
                name: name.into(),
                current_role,
                requested_role,
            }));
        }
    }
    targets
}

/// A batch by numbers: its resources, reads and acts, as the gateway sends them.
struct Numbered {
    resources: Vec<wire::Resource>,
    reads: wire::Reads,
    acts: Vec<wire::Act>,
}

impl Numbered {
    /// The policy's answers, in the order of the checks they were numbered from.
    fn decide(&self, tables: &Tables<'_>, principal: &Principal, checks: &[Check]) -> Vec<u16> {
        let answers = contract::decide(tables, principal, &self.resources, &self.reads, &self.acts);
        let (mut reads, mut acts) = (answers.reads.into_iter(), answers.acts.into_iter());
        checks
            .iter()
            .map(|check| match check.target {
                Target::Field(_) => reads.next(),
                Target::Action(_) => acts.next(),
            })
            .map(|answer| answer.unwrap_or(u16::MAX))
            .collect()
    }
}

/// The numbers of a batch asked by name, resolved as the gateway resolves them.
fn numbered(tables: &Tables<'_>, resources: &[Resource], checks: &[Check]) -> Option<Numbered> {
    let type_name = resources.first()?.type_name.clone();
    let mut names = wire::Names { types: vec![type_name.clone()], fields: vec![], actions: vec![] };
    for check in checks {
        match &check.target {
            Target::Field(field) => names
                .fields
                .push(wire::FieldName { type_name: type_name.clone(), field: field.clone() }),
            Target::Action(action) => names.actions.push(action.name.clone()),
        }
    }
    let numbers = contract::resolve(tables, &names);
    let type_number = numbers.types.first().copied().flatten().unwrap_or(u32::MAX - 1);
    let wired_resources = resources
        .iter()
        .map(|r| wire::Resource {
            type_number,
            security_groups: r.security_groups.clone(),
            relations: r.relations,
        })
        .collect();
    let (mut fields, mut actions) = (numbers.fields.iter(), numbers.actions.iter());
    let mut reads = wire::Reads { resources: vec![], fields: vec![] };
    let mut acts = Vec::new();
    for check in checks {
        // The gateway denies a name the policy did not number without asking; here it is
        // asked with a number no row has, which the policy must deny too.
        match &check.target {
            Target::Field(_) => {
                reads.resources.push(check.resource);
                reads.fields.push(fields.next().copied().flatten().unwrap_or(u32::MAX - 1));
            }
            Target::Action(action) => acts.push(wire::Act {
                resource: check.resource,
                action: wire::Action {
                    number: actions.next().copied().flatten().unwrap_or(u32::MAX - 1),
                    current_role: action.current_role,
                    requested_role: action.requested_role,
                },
            }),
        }
    }
    Some(Numbered { resources: wired_resources, reads, acts })
}

#[test]
fn by_numbers_the_policy_decides_as_by_names() {
    let tables = Tables::shipped();
    let principals = every_principal();
    let mut compared = 0usize;
    for type_name in types(&tables) {
        let resources = resources(type_name);
        let checks: Vec<Check> = (0..resources.len() as u32)
            .flat_map(|resource| {
                targets(&tables, type_name)
                    .into_iter()
                    .map(move |target| Check { resource, target })
            })
            .collect();
        let Some(numbered) = numbered(&tables, &resources, &checks) else {
            continue;
        };
        let type_number = numbered.resources.first().map_or(u32::MAX - 1, |r| r.type_number);
        for principal in principals.iter().step_by(61) {
            let by_name = decide_with(&tables, principal, &resources, &checks);
            let by_number = numbered.decide(&tables, principal, &checks);
            assert_eq!(by_name.len(), by_number.len());
            for ((named, code), check) in by_name.iter().zip(&by_number).zip(&checks) {
                let expected = match named {
                    Decision::Allow => 0,
                    Decision::Deny(text) => Reason::ALL
                        .iter()
                        .find(|reason| reason.text() == text)
                        .map_or(u16::MAX, |reason| reason.code()),
                };
                assert_eq!(*code, expected, "{type_name} {check:?} for {principal:?}");
            }
            assert_eq!(
                filter(&tables, principal, &[type_name]),
                contract::filter(&tables, principal, &[type_number]),
                "the visibility of {type_name} for {principal:?}"
            );
            compared += by_name.len();
        }
    }
    assert!(compared > 500_000, "only {compared} decisions compared");
}

#[test]
fn names_no_row_names_get_no_number_and_pagination_gets_its_own() {
    let tables = Tables::shipped();
    let numbers = contract::resolve(
        &tables,
        &wire::Names {
            types: vec!["Workflow".into(), "Unheard".into(), "WorkflowEdge".into()],
            fields: vec![
                wire::FieldName { type_name: "Workflow".into(), field: "name".into() },
                wire::FieldName { type_name: "Workflow".into(), field: "unheardOf".into() },
                wire::FieldName { type_name: "User".into(), field: "outputVariables".into() },
                wire::FieldName { type_name: "PageInfo".into(), field: "hasNextPage".into() },
            ],
            actions: vec!["run-workflow".into(), "unheard-of".into()],
        },
    );
    assert!(numbers.types[0].is_some());
    assert_eq!(&numbers.types[1..], &[None, Some(PLUMBING)]);
    assert!(numbers.fields[0].is_some());
    assert_eq!(&numbers.fields[1..], &[None, None, Some(PLUMBING)]);
    assert!(numbers.actions[0].is_some());
    assert_eq!(numbers.actions[1], None);
}

#[test]
fn every_reason_code_has_its_text_and_no_code_is_zero() {
    let texts = contract::reasons();
    assert_eq!(texts.len(), Reason::ALL.len());
    for reason in Reason::ALL {
        assert_ne!(reason.code(), 0);
        assert_eq!(texts[usize::from(reason.code()) - 1], reason.text());
    }
}
