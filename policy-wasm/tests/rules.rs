//! The default policy's rules, role by role, run natively.

mod common;

use fieldguard_policy::{
    Check, Condition, Decision, OrchestratorRole, PortalRole, Principal, ProcessHubRole, Product,
    Relation, Resource, Tables, Target, Visibility, access::Access, decide, visibility,
};

fn principal(role: PortalRole) -> Principal {
    common::principal_with(role, false)
}

fn orchestrator_member(role: OrchestratorRole, aam: bool, groups: &[u64]) -> Principal {
    Principal {
        products: vec![Product::Orchestrator],
        orchestrator_role: Some(role),
        security_groups: groups.to_vec(),
        advanced_access_management: aam,
        ..principal(PortalRole::Member)
    }
}

fn hub_member(role: ProcessHubRole, aam: bool, groups: &[u64]) -> Principal {
    Principal {
        products: vec![Product::ProcessHub],
        process_hub_role: Some(role),
        security_groups: groups.to_vec(),
        advanced_access_management: aam,
        ..principal(PortalRole::Member)
    }
}

fn resource(type_name: &str, groups: &[u64], relations: Relation) -> Resource {
    Resource { type_name: type_name.into(), security_groups: groups.to_vec(), relations }
}

fn may_read(principal: &Principal, resource: &Resource, field: &str) -> bool {
    let check = Check { resource: 0, target: Target::Field(field.into()) };
    let decisions = decide(principal, std::slice::from_ref(resource), &[check]);
    matches!(decisions.as_slice(), [Decision::Allow])
}

fn filter(principal: &Principal, type_name: &str) -> Visibility {
    visibility::of(&Tables::shipped(), &Access::new(principal), type_name)
}

#[test]
fn output_variables_and_versions_are_for_orchestrator_admins_and_developers() {
    let workflow = resource("Workflow", &[10], Relation::empty());
    for (role, expected) in [
        (OrchestratorRole::Admin, true),
        (OrchestratorRole::Developer, true),
        (OrchestratorRole::Operator, false),
        (OrchestratorRole::Analyst, false),
    ] {
        let p = orchestrator_member(role, true, &[10]);
        assert_eq!(may_read(&p, &workflow, "outputVariables"), expected, "{role:?}");
        assert_eq!(may_read(&p, &workflow, "versions"), expected, "{role:?}");
        assert!(may_read(&p, &workflow, "schedule"), "{role:?} sees schedules");
        assert!(may_read(&p, &workflow, "executionLogs"), "{role:?} sees logs");
    }
}

#[test]
fn portal_owner_and_admin_act_as_orchestrator_admin_without_product_roles() {
    let workflow = resource("Workflow", &[99], Relation::empty());
    for role in [PortalRole::Owner, PortalRole::Admin] {
        let p = Principal { advanced_access_management: true, ..principal(role) };
        assert_eq!(filter(&p, "Workflow"), Visibility::All);
        assert!(may_read(&p, &workflow, "outputVariables"));
    }
}

#[test]
fn security_admin_and_billing_see_objects_only_through_product_roles() {
    for role in [PortalRole::SecurityAdmin, PortalRole::BillingContact] {
        assert_eq!(filter(&principal(role), "Workflow"), Visibility::None, "{role:?}");
        assert_eq!(filter(&principal(role), "Process"), Visibility::None, "{role:?}");
    }
}

#[test]
fn analyst_sees_everything_while_aam_is_off_and_nothing_without_groups_once_on() {
    assert_eq!(
        filter(&orchestrator_member(OrchestratorRole::Analyst, false, &[]), "Workflow"),
        Visibility::All
    );
    assert_eq!(
        filter(&orchestrator_member(OrchestratorRole::Analyst, true, &[]), "Workflow"),
        Visibility::None
    );
    assert_eq!(
        filter(&orchestrator_member(OrchestratorRole::Analyst, true, &[3]), "BotRunner"),
        Visibility::Where(vec![vec![Condition::InSecurityGroups(vec![3])]])
    );
}

#[test]
fn fields_of_objects_outside_the_principals_groups_are_denied() {
    let p = orchestrator_member(OrchestratorRole::Developer, true, &[1]);
    assert!(may_read(&p, &resource("Workflow", &[1], Relation::empty()), "name"));
    assert!(!may_read(&p, &resource("Workflow", &[2], Relation::empty()), "name"));
    assert!(!may_read(&p, &resource("Workflow", &[], Relation::empty()), "name"));
}

#[test]
fn rdp_credentials_flag_and_registration_tokens() {
    let runner = resource("BotRunner", &[1], Relation::empty());
    let dev = orchestrator_member(OrchestratorRole::Developer, true, &[1]);
    let op = orchestrator_member(OrchestratorRole::Operator, true, &[1]);
    let admin = orchestrator_member(OrchestratorRole::Admin, true, &[]);
    assert!(may_read(&dev, &runner, "rdpCredentialsSet"));
    assert!(!may_read(&op, &runner, "rdpCredentialsSet"));
    assert!(may_read(&op, &runner, "machineName"));
    assert!(!may_read(&dev, &runner, "registrationTokens"));
    assert!(may_read(&admin, &runner, "registrationTokens"));
}

#[test]
fn billing_plan_is_for_owner_and_billing_contact() {
    let team = resource("Team", &[], Relation::empty());
    for (role, expected) in [
        (PortalRole::Owner, true),
        (PortalRole::Admin, false),
        (PortalRole::SecurityAdmin, false),
        (PortalRole::Member, false),
        (PortalRole::BillingContact, true),
    ] {
        assert_eq!(may_read(&principal(role), &team, "billingPlan"), expected, "{role:?}");
    }
}

#[test]
fn audit_log_for_managers_all_and_for_flagged_members_their_groups() {
    for role in [PortalRole::Owner, PortalRole::Admin, PortalRole::SecurityAdmin] {
        assert_eq!(filter(&principal(role), "AuditEntry"), Visibility::All);
    }
    let plain = Principal { security_groups: vec![4], ..principal(PortalRole::Member) };
    assert_eq!(filter(&plain, "AuditEntry"), Visibility::None);
    let flagged = Principal { audit_log_access: true, ..plain };
    assert_eq!(
        filter(&flagged, "AuditEntry"),
        Visibility::Where(vec![vec![Condition::InSecurityGroups(vec![4])]])
    );
    assert_eq!(filter(&principal(PortalRole::BillingContact), "AuditEntry"), Visibility::None);
}

#[test]
fn process_hub_visibility_by_creator_and_launch_permission() {
    assert_eq!(
        filter(&hub_member(ProcessHubRole::Administrator, true, &[]), "Process"),
        Visibility::All
    );
    assert_eq!(
        filter(&hub_member(ProcessHubRole::ProcessManager, false, &[]), "Process"),
        Visibility::Where(vec![
            vec![Condition::Related(Relation::CREATOR)],
            vec![Condition::Related(Relation::LAUNCHER)],
        ])
    );
    assert_eq!(
        filter(&hub_member(ProcessHubRole::User, true, &[5]), "Process"),
        Visibility::Where(vec![vec![
            Condition::Related(Relation::LAUNCHER),
            Condition::InSecurityGroups(vec![5]),
        ]])
    );
    assert_eq!(filter(&hub_member(ProcessHubRole::User, true, &[]), "Process"), Visibility::None);
    let user = hub_member(ProcessHubRole::User, false, &[]);
    assert_eq!(filter(&user, "Form"), Visibility::None);
    assert!(!may_read(&user, &resource("Process", &[], Relation::LAUNCHER), "launchPermissions"));
    let manager = hub_member(ProcessHubRole::ProcessManager, false, &[]);
    assert!(may_read(&manager, &resource("Process", &[], Relation::CREATOR), "launchPermissions"));
}

#[test]
fn membership_details_for_managers_and_self() {
    let other = resource("Membership", &[], Relation::empty());
    let own = resource("Membership", &[], Relation::IS_PRINCIPAL);
    let member = principal(PortalRole::Member);
    assert!(may_read(&member, &other, "portalRole"));
    assert!(!may_read(&member, &other, "products"));
    assert!(may_read(&member, &own, "products"));
    assert!(may_read(&principal(PortalRole::SecurityAdmin), &other, "products"));
}

#[test]
fn unknown_fields_types_and_actions_are_denied() {
    let owner = principal(PortalRole::Owner);
    assert!(!may_read(&owner, &resource("Workflow", &[], Relation::empty()), "secretSauce"));
    assert!(!may_read(&owner, &resource("Mystery", &[], Relation::empty()), "id"));
    assert_eq!(filter(&owner, "Mystery"), Visibility::None);
    let action = fieldguard_policy::Action {
        name: "delete-team".into(),
        current_role: None,
        requested_role: None,
    };
    let check = Check { resource: 0, target: Target::Action(action) };
    let team = resource("Team", &[], Relation::empty());
    assert!(matches!(decide(&owner, &[team], &[check]).as_slice(), [Decision::Deny(_)]));
}

#[test]
fn a_check_naming_a_missing_resource_is_denied() {
    let check = Check { resource: 3, target: Target::Field("name".into()) };
    assert!(matches!(
        decide(&principal(PortalRole::Owner), &[], &[check]).as_slice(),
        [Decision::Deny(_)]
    ));
}

#[test]
fn pagination_plumbing_is_readable() {
    let p = principal(PortalRole::Member);
    assert!(may_read(&p, &resource("WorkflowConnection", &[], Relation::empty()), "totalCount"));
    assert!(may_read(&p, &resource("PageInfo", &[], Relation::empty()), "hasNextPage"));
}
