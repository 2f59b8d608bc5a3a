//! The default policy's shipped decision cases (`policy-wasm/cases.toml`): they pass, they
//! cover every row of the three tables, and changing any single rule of any row makes at
//! least one of them fail, unless the change alters no decision for anyone at all.

mod support {
    pub mod every;
    pub mod native;
}

use std::collections::{BTreeSet, HashMap};

use fieldguard_policy::{
    Action, Check, Decision, Relation, Resource, Tables, Target, actions, decide_with, fields,
    filter, visibility,
};
use fieldguard_policy_cases::{CaseFile, run};
use support::every::every_principal;
use support::native::{Native, portal_role};

const SHIPPED: &str = include_str!("../cases.toml");

fn shipped() -> CaseFile {
    match CaseFile::parse(SHIPPED) {
        Ok(file) => file,
        Err(error) => panic!("policy-wasm/cases.toml: {error}"),
    }
}

#[test]
fn the_shipped_cases_pass() {
    let report = run(&shipped(), &mut Native(Tables::shipped()));
    assert!(report.passed(), "{report}");
    assert!(report.decisions() > 1000, "{} decisions", report.decisions());
}

#[test]
fn every_row_of_every_table_has_a_case() {
    let file = shipped();
    let tables = Tables::shipped();
    let read: BTreeSet<(&str, &str)> = file
        .read
        .iter()
        .flat_map(|case| case.fields.iter().map(|f| (case.type_name.as_str(), f.as_str())))
        .collect();
    let missing: Vec<_> = tables.fields.pairs().filter(|pair| !read.contains(pair)).collect();
    assert!(missing.is_empty(), "fields without a read case: {missing:?}");
    let acted: BTreeSet<&str> = file.act.iter().map(|case| case.action.as_str()).collect();
    let missing: Vec<_> = tables.actions.names().filter(|a| !acted.contains(a)).collect();
    assert!(missing.is_empty(), "actions without a case: {missing:?}");
    let seen: BTreeSet<&str> = file.see.iter().map(|case| case.type_name.as_str()).collect();
    let missing: Vec<_> = tables.visibility.names().filter(|t| !seen.contains(t)).collect();
    assert!(missing.is_empty(), "types without a visibility case: {missing:?}");
}

/// How principals can relate to objects of a type: the relations the cases give them (the
/// gateway computes only some for each type, e.g. `launcher` for jobs).
fn relations_of(file: &CaseFile, type_name: &str) -> Vec<Relation> {
    use fieldguard_policy_cases::Relation as R;
    let named: BTreeSet<R> = file
        .read
        .iter()
        .filter(|c| c.type_name == type_name)
        .flat_map(|c| c.relations.iter().copied())
        .chain(
            file.act
                .iter()
                .filter(|c| c.type_name == type_name)
                .flat_map(|c| c.relations.iter().copied()),
        )
        .chain(
            file.see
                .iter()
                .filter(|c| c.type_name == type_name)
                .flat_map(|c| c.relations.iter().copied()),
        )
        .collect();
    named
        .into_iter()
        .map(|relation| match relation {
            R::IsPrincipal => Relation::IS_PRINCIPAL,
            R::Creator => Relation::CREATOR,
            R::Launcher => Relation::LAUNCHER,
            R::Assignee => Relation::ASSIGNEE,
        })
        .collect()
}

/// Every resource of a type, within two security groups and the type's relations.
fn every_resource(file: &CaseFile, type_name: &str) -> Vec<Resource> {
    let flags = relations_of(file, type_name);
    let mut all = Vec::new();
    for groups in [vec![], vec![1], vec![2]] {
        for bits in 0..(1u8 << flags.len()) {
            let relations = flags
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .fold(Relation::empty(), |acc, (_, flag)| acc | *flag);
            all.push(Resource {
                type_name: type_name.into(),
                security_groups: groups.clone(),
                relations,
            });
        }
    }
    all
}

/// Whether two sets of tables decide `targets` on `type_name` the same for every principal,
/// on every resource of the type.
fn same_decisions(
    file: &CaseFile,
    a: &Tables<'_>,
    b: &Tables<'_>,
    type_name: &str,
    targets: &[Target],
) -> bool {
    let resources = every_resource(file, type_name);
    let checks: Vec<Check> = (0..resources.len() as u32)
        .flat_map(|resource| {
            targets.iter().map(move |target| Check { resource, target: target.clone() })
        })
        .collect();
    every_principal().iter().all(|principal| {
        let allowed = |tables: &Tables<'_>| -> Vec<bool> {
            decide_with(tables, principal, &resources, &checks)
                .iter()
                .map(|d| matches!(d, Decision::Allow))
                .collect()
        };
        allowed(a) == allowed(b)
            && filter(a, principal, &[type_name]) == filter(b, principal, &[type_name])
    })
}

/// The cases of `file` that `keep` selects (reads, actions and visibility alike).
fn only(file: &CaseFile, keep: impl Fn(&str, Option<&str>) -> bool) -> CaseFile {
    CaseFile {
        description: None,
        principals: file.principals.clone(),
        read: file
            .read
            .iter()
            .filter(|c| c.fields.iter().any(|f| keep(&c.type_name, Some(f))))
            .cloned()
            .collect(),
        act: file.act.iter().filter(|c| keep(&c.type_name, Some(&c.action))).cloned().collect(),
        see: file.see.iter().filter(|c| keep(&c.type_name, None)).cloned().collect(),
    }
}

/// Changes each rule of a table to each alternative in turn; each change must fail a case or
/// change no decision at all. Returns the changes that escaped.
fn escaped_mutants<K: Copy + std::fmt::Debug, R: Copy + PartialEq + std::fmt::Debug>(
    keys: Vec<K>,
    alternatives: &[Option<R>],
    current: impl Fn(K) -> Option<R>,
    mutate: impl Fn(K, Option<R>) -> (fields::Table, actions::Table, visibility::Table),
    cases_of: impl Fn(K) -> CaseFile,
    equivalent: impl Fn(K, &Tables<'_>) -> bool,
) -> Vec<String> {
    let mut escaped = Vec::new();
    for key in keys {
        let cases = cases_of(key);
        for alternative in alternatives {
            if *alternative == current(key) {
                continue;
            }
            let (f, a, v) = mutate(key, *alternative);
            let tables = Tables { fields: &f, actions: &a, visibility: &v };
            if run(&cases, &mut Native(tables)).passed() && !equivalent(key, &tables) {
                escaped.push(format!("{key:?}: {:?} → {alternative:?}", current(key)));
            }
        }
    }
    escaped
}

fn copies() -> (fields::Table, actions::Table, visibility::Table) {
    let shipped = Tables::shipped();
    (shipped.fields.clone(), shipped.actions.clone(), shipped.visibility.clone())
}

#[test]
fn changing_any_field_rule_fails_a_shipped_case() {
    use fields::Rule::*;
    let file = shipped();
    let shipped_tables = Tables::shipped();
    let alternatives: Vec<Option<fields::Rule>> = [
        Seen,
        TeamManagers,
        TeamManagersOrSelf,
        Billing,
        OrchestratorBuilders,
        OrchestratorAdmins,
        ProcessOwners,
    ]
    .into_iter()
    .map(Some)
    .chain([None])
    .collect();
    // Whether a change alters anything depends on the type and the two rules, not the field.
    let memo = std::cell::RefCell::new(HashMap::new());
    let escaped = escaped_mutants(
        shipped_tables.fields.pairs().collect(),
        &alternatives,
        |(t, f)| shipped_tables.fields.rule(t, f),
        |(t, f), rule| {
            let (mut fields, actions, visibility) = copies();
            fields.set(t, f, rule);
            (fields, actions, visibility)
        },
        |(t, f)| only(&file, |type_name, field| type_name == t && field == Some(f)),
        |(t, f), tables| {
            let key = (t, shipped_tables.fields.rule(t, f), tables.fields.rule(t, f));
            *memo.borrow_mut().entry(key).or_insert_with(|| {
                same_decisions(&file, &shipped_tables, tables, t, &[Target::Field(f.into())])
            })
        },
    );
    assert!(
        escaped.is_empty(),
        "field rule changes no shipped case catches:\n{}",
        escaped.join("\n")
    );
}

#[test]
fn changing_any_action_rule_fails_a_shipped_case() {
    use actions::Rule::*;
    let file = shipped();
    let shipped_tables = Tables::shipped();
    let mut alternatives: Vec<Option<actions::Rule>> = [
        TeamManagers,
        TeamAdmins,
        Grant,
        ChangeRole,
        TransferOwnership,
        ManageMember,
        Invitee,
        GroupObjects,
    ]
    .into_iter()
    .map(Some)
    .chain([None])
    .collect();
    for (_, rule) in actions::ROWS {
        if !alternatives.contains(&Some(*rule)) {
            alternatives.push(Some(*rule));
        }
    }
    let type_of: HashMap<&str, Vec<String>> =
        file.act.iter().fold(HashMap::new(), |mut map, case| {
            map.entry(case.action.as_str()).or_default().push(case.type_name.clone());
            map
        });
    let escaped = escaped_mutants(
        shipped_tables.actions.names().collect(),
        &alternatives,
        |a| shipped_tables.actions.rule(a),
        |a, rule| {
            let (fields, mut actions, visibility) = copies();
            actions.set(a, rule);
            (fields, actions, visibility)
        },
        |a| only(&file, |_, action| action == Some(a)),
        |a, tables| {
            // The inputs the gateway sends with the action: those its cases give it.
            let targets: Vec<Target> = file
                .act
                .iter()
                .filter(|case| case.action == a)
                .map(|case| {
                    Target::Action(Action {
                        name: a.into(),
                        current_role: case.current_role.map(portal_role),
                        requested_role: case.requested_role.map(portal_role),
                    })
                })
                .collect();
            type_of
                .get(a)
                .into_iter()
                .flatten()
                .all(|t| same_decisions(&file, &shipped_tables, tables, t, &targets))
        },
    );
    assert!(
        escaped.is_empty(),
        "action rule changes no shipped case catches:\n{}",
        escaped.join("\n")
    );
}

#[test]
fn changing_any_visibility_rule_fails_a_shipped_case() {
    use visibility::Rule::*;
    let file = shipped();
    let shipped_tables = Tables::shipped();
    let alternatives: Vec<Option<visibility::Rule>> = [
        Everyone,
        Members,
        TeamManagers,
        TeamManagersOrOwnGroups,
        OrchestratorObjects,
        Processes,
        HubAdministratorOr(Relation::IS_PRINCIPAL),
        HubAdministratorOr(Relation::CREATOR),
        HubAdministratorOr(Relation::LAUNCHER),
        HubAdministratorOr(Relation::ASSIGNEE),
        HubAuthors,
        AuditLog,
    ]
    .into_iter()
    .map(Some)
    .chain([None])
    .collect();
    let escaped = escaped_mutants(
        shipped_tables.visibility.names().collect(),
        &alternatives,
        |t| shipped_tables.visibility.rule(t),
        |t, rule| {
            let (fields, actions, mut visibility) = copies();
            visibility.set(t, rule);
            (fields, actions, visibility)
        },
        |t| only(&file, |type_name, _| type_name == t),
        |t, tables| same_decisions(&file, &shipped_tables, tables, t, &[]),
    );
    assert!(
        escaped.is_empty(),
        "visibility rule changes no shipped case catches:\n{}",
        escaped.join("\n")
    );
}
