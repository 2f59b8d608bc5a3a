//! The default policy's daily-work rules (domain §4, §5), run natively: every Orchestrator
//! and Process Hub role against every action, with AAM off and on, inside and outside the
//! principal's security groups.

mod common;

use fieldguard_policy::{
    Action, Check, Decision, OrchestratorRole, PortalRole, Principal, ProcessHubRole, Product,
    Relation, Resource, Target, decide,
};

/// The security group the principal belongs to; 99 is one they do not.
const MINE: u64 = 1;
const OTHER: u64 = 99;

fn orchestrator_user(role: OrchestratorRole, aam: bool) -> Principal {
    Principal {
        products: vec![Product::Orchestrator],
        orchestrator_role: Some(role),
        security_groups: vec![MINE],
        ..common::principal_with(PortalRole::Member, aam)
    }
}

fn hub_user(role: ProcessHubRole, aam: bool) -> Principal {
    Principal {
        products: vec![Product::ProcessHub],
        process_hub_role: Some(role),
        security_groups: vec![MINE],
        ..common::principal_with(PortalRole::Member, aam)
    }
}

fn may(principal: &Principal, resource: Resource, name: &str) -> bool {
    let action = Action { name: name.into(), current_role: None, requested_role: None };
    let check = Check { resource: 0, target: Target::Action(action) };
    matches!(decide(principal, &[resource], &[check]).as_slice(), [Decision::Allow])
}

fn object(type_name: &str, groups: &[u64], relations: Relation) -> Resource {
    Resource { type_name: type_name.into(), security_groups: groups.to_vec(), relations }
}

/// Domain §4, one row per action: the object it acts on, and whether ADMIN, DEVELOPER,
/// OPERATOR, ANALYST may.
const ORCHESTRATOR_MATRIX: &[(&str, &str, [bool; 4])] = &[
    ("rename-orchestrator", "Orchestrator", [true, false, false, false]),
    ("set-orchestrator-multitenancy", "Orchestrator", [true, false, false, false]),
    ("configure-orchestrator-api-integration", "Orchestrator", [true, false, false, false]),
    ("configure-orchestrator-zapier", "Orchestrator", [true, false, false, false]),
    ("publish-workflow-version", "Workflow", [true, true, false, false]),
    ("switch-workflow-version", "Workflow", [true, true, false, false]),
    ("set-workflow-schedule", "Workflow", [true, true, true, false]),
    ("set-workflow-webhook", "Workflow", [true, true, false, false]),
    ("set-workflow-logging", "Workflow", [true, true, false, false]),
    ("run-workflow", "Workflow", [true, false, true, false]),
    ("enqueue-work-item", "Workflow", [true, false, true, false]),
    ("remove-work-item", "QueueItem", [true, false, true, false]),
    ("assign-bot-runners", "Workflow", [true, true, false, false]),
    ("set-rdp-credentials", "BotRunner", [true, true, false, false]),
    ("approve-bot-runner", "BotRunner", [true, false, false, false]),
    ("create-registration-token", "BotRunner", [true, false, false, false]),
];

const ORCHESTRATOR_ROLES: [OrchestratorRole; 4] = [
    OrchestratorRole::Admin,
    OrchestratorRole::Developer,
    OrchestratorRole::Operator,
    OrchestratorRole::Analyst,
];

#[test]
fn each_orchestrator_role_does_what_its_row_allows_inside_its_groups() {
    for aam in [false, true] {
        for &(name, type_name, allowed) in ORCHESTRATOR_MATRIX {
            for (role, expected) in ORCHESTRATOR_ROLES.into_iter().zip(allowed) {
                let inside = object(type_name, &[MINE], Relation::empty());
                assert_eq!(
                    may(&orchestrator_user(role, aam), inside, name),
                    expected,
                    "{role:?} {name} inside their group (AAM {aam})"
                );
            }
        }
    }
}

#[test]
fn outside_their_groups_only_the_orchestrator_admin_acts() {
    for aam in [false, true] {
        for &(name, type_name, allowed) in ORCHESTRATOR_MATRIX {
            for (role, in_row) in ORCHESTRATOR_ROLES.into_iter().zip(allowed) {
                let expected = in_row && role == OrchestratorRole::Admin;
                for groups in [&[OTHER][..], &[]] {
                    let outside = object(type_name, groups, Relation::empty());
                    assert_eq!(
                        may(&orchestrator_user(role, aam), outside, name),
                        expected,
                        "{role:?} {name} on an object in {groups:?} (AAM {aam})"
                    );
                }
            }
        }
    }
}

#[test]
fn portal_owners_and_admins_act_as_orchestrator_admins_and_others_not_at_all() {
    for &(name, type_name, _) in ORCHESTRATOR_MATRIX {
        let anywhere = object(type_name, &[OTHER], Relation::empty());
        for role in [PortalRole::Owner, PortalRole::Admin] {
            assert!(may(&common::principal_with(role, true), anywhere.clone(), name), "{name}");
        }
        for role in [PortalRole::SecurityAdmin, PortalRole::Member, PortalRole::BillingContact] {
            let inside = object(type_name, &[MINE], Relation::empty());
            let mut principal = common::principal_with(role, true);
            principal.security_groups = vec![MINE];
            assert!(!may(&principal, inside, name), "{role:?} without Orchestrator: {name}");
        }
    }
}

/// Domain §5, one row per action: the object, the relation the principal has to it, and
/// whether ADMINISTRATOR, PROCESS_MANAGER, USER may.
const HUB_MATRIX: &[(&str, &str, Relation, [bool; 3])] = &[
    ("create-process", "Process", Relation::empty(), [true, true, false]),
    ("update-process", "Process", Relation::CREATOR, [true, true, false]),
    ("update-process", "Process", Relation::LAUNCHER, [true, false, false]),
    ("set-launch-permissions", "Process", Relation::CREATOR, [true, true, false]),
    ("set-launch-permissions", "Process", Relation::LAUNCHER, [true, false, false]),
    ("launch-process", "Process", Relation::LAUNCHER, [true, true, true]),
    ("launch-process", "Process", Relation::CREATOR, [true, false, false]),
    ("cancel-job", "Job", Relation::LAUNCHER, [true, false, false]),
    ("retry-job", "Job", Relation::LAUNCHER, [true, false, false]),
    ("complete-task", "Task", Relation::ASSIGNEE, [true, true, true]),
    ("complete-task", "Task", Relation::empty(), [true, false, false]),
    ("create-form", "Form", Relation::empty(), [true, true, false]),
    ("update-form", "Form", Relation::empty(), [true, true, false]),
];

const HUB_ROLES: [ProcessHubRole; 3] =
    [ProcessHubRole::Administrator, ProcessHubRole::ProcessManager, ProcessHubRole::User];

#[test]
fn each_process_hub_role_does_what_its_row_allows() {
    for aam in [false, true] {
        for &(name, type_name, relations, allowed) in HUB_MATRIX {
            for (role, expected) in HUB_ROLES.into_iter().zip(allowed) {
                let resource = object(type_name, &[MINE], relations);
                assert_eq!(
                    may(&hub_user(role, aam), resource, name),
                    expected,
                    "{role:?} {name} with {relations:?} (AAM {aam})"
                );
            }
        }
    }
}

#[test]
fn with_aam_on_processes_outside_their_groups_are_out_of_reach() {
    for name in ["update-process", "set-launch-permissions", "launch-process"] {
        let outside = object("Process", &[OTHER], Relation::CREATOR | Relation::LAUNCHER);
        assert!(!may(&hub_user(ProcessHubRole::ProcessManager, true), outside.clone(), name));
        assert!(may(&hub_user(ProcessHubRole::ProcessManager, false), outside.clone(), name));
        assert!(may(&hub_user(ProcessHubRole::Administrator, true), outside, name), "{name}");
    }
}

#[test]
fn without_process_hub_nobody_acts_there() {
    let principal = orchestrator_user(OrchestratorRole::Admin, false);
    for &(name, type_name, relations, _) in HUB_MATRIX {
        assert!(!may(&principal, object(type_name, &[MINE], relations), name), "{name}");
    }
}
