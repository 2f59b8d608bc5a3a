//! The default policy's action rules (domain §2, §3), run natively.

mod common;

use PortalRole::*;
use fieldguard_policy::{
    Action, Check, Decision, OrchestratorRole, PortalRole, Principal, ProcessHubRole, Product,
    Relation, Resource, Target, decide,
};

fn principal(role: PortalRole) -> Principal {
    common::principal_with(role, true)
}

fn action(name: &str, current: Option<PortalRole>, requested: Option<PortalRole>) -> Action {
    Action { name: name.into(), current_role: current, requested_role: requested }
}

fn may(principal: &Principal, type_name: &str, relations: Relation, action: Action) -> bool {
    let resource = Resource { type_name: type_name.into(), security_groups: vec![], relations };
    let check = Check { resource: 0, target: Target::Action(action) };
    matches!(decide(principal, &[resource], &[check]).as_slice(), [Decision::Allow])
}

const ALL: [PortalRole; 5] = [Owner, Admin, SecurityAdmin, Member, BillingContact];

#[test]
fn only_team_managers_manage_security_groups() {
    for role in ALL {
        let expected = matches!(role, Owner | Admin | SecurityAdmin);
        for name in [
            "create-security-group",
            "update-security-group",
            "set-security-group-enabled",
            "delete-security-group",
            "add-security-group-members",
            "remove-security-group-members",
        ] {
            let resource = if name == "create-security-group" { "Team" } else { "SecurityGroup" };
            assert_eq!(
                may(&principal(role), resource, Relation::empty(), action(name, None, None)),
                expected,
                "{role:?} {name}"
            );
        }
    }
}

#[test]
fn a_role_changes_only_by_someone_broader_than_both_roles() {
    // (who, from, to, allowed)
    let rows = [
        (Owner, Admin, Member, true),
        (Owner, Member, Admin, true),
        (Admin, Member, SecurityAdmin, true),
        (Admin, SecurityAdmin, BillingContact, true),
        (Admin, Member, Admin, false),
        (Admin, Admin, Member, false),
        (Admin, Owner, Member, false),
        (SecurityAdmin, Member, BillingContact, true),
        (SecurityAdmin, Member, SecurityAdmin, false),
        (SecurityAdmin, Admin, Member, false),
        (Member, BillingContact, Member, false),
        (BillingContact, Member, BillingContact, false),
        (Owner, Admin, Owner, false),
    ];
    for (who, from, to, allowed) in rows {
        let change = action("change-member-role", Some(from), Some(to));
        assert_eq!(
            may(&principal(who), "Membership", Relation::empty(), change),
            allowed,
            "{who:?} changing {from:?} to {to:?}"
        );
    }
}

#[test]
fn nobody_changes_their_own_role_or_manages_themself() {
    for role in [Owner, Admin, SecurityAdmin] {
        let change = action("change-member-role", Some(role), Some(BillingContact));
        assert!(!may(&principal(role), "Membership", Relation::IS_PRINCIPAL, change));
        for name in ["set-member-access", "suspend-member", "remove-member"] {
            let act = action(name, Some(role), None);
            assert!(!may(&principal(role), "Membership", Relation::IS_PRINCIPAL, act), "{name}");
        }
    }
}

#[test]
fn the_owner_is_never_managed_by_others_and_only_the_owner_transfers() {
    for name in ["suspend-member", "remove-member", "set-member-access", "copy-member-access"] {
        assert!(!may(
            &principal(Admin),
            "Membership",
            Relation::empty(),
            action(name, Some(Owner), None)
        ));
        assert!(may(
            &principal(Admin),
            "Membership",
            Relation::empty(),
            action(name, Some(Member), None)
        ));
        assert!(may(
            &principal(SecurityAdmin),
            "Membership",
            Relation::empty(),
            action(name, Some(Admin), None)
        ));
        assert!(!may(
            &principal(Member),
            "Membership",
            Relation::empty(),
            action(name, Some(Member), None)
        ));
    }
    let transfer = || action("transfer-ownership", Some(Admin), None);
    assert!(may(&principal(Owner), "Membership", Relation::empty(), transfer()));
    assert!(!may(&principal(Owner), "Membership", Relation::IS_PRINCIPAL, transfer()));
    for role in [Admin, SecurityAdmin, Member, BillingContact] {
        assert!(!may(&principal(role), "Membership", Relation::empty(), transfer()), "{role:?}");
    }
}

#[test]
fn invitations_offer_only_roles_narrower_than_the_inviter() {
    let rows = [
        (Owner, Admin, true),
        (Owner, Owner, false),
        (Admin, SecurityAdmin, true),
        (Admin, Admin, false),
        (SecurityAdmin, Member, true),
        (SecurityAdmin, BillingContact, true),
        (SecurityAdmin, SecurityAdmin, false),
        (Member, BillingContact, false),
        (BillingContact, BillingContact, false),
    ];
    for (who, offered, allowed) in rows {
        for name in ["invite-members", "import-members"] {
            assert_eq!(
                may(&principal(who), "Team", Relation::empty(), action(name, None, Some(offered))),
                allowed,
                "{who:?} {name} as {offered:?}"
            );
        }
    }
    // Only the person invited accepts.
    let accept = || action("accept-invitation", None, None);
    assert!(may(&principal(Member), "Invitation", Relation::IS_PRINCIPAL, accept()));
    assert!(!may(&principal(Owner), "Invitation", Relation::empty(), accept()));
}

#[test]
fn advanced_access_management_is_for_the_owner_and_admins() {
    for role in ALL {
        let toggle = action("set-advanced-access-management", None, None);
        assert_eq!(
            may(&principal(role), "Team", Relation::empty(), toggle),
            matches!(role, Owner | Admin),
            "{role:?}"
        );
    }
}

#[test]
fn objects_join_groups_by_team_managers_or_the_products_administrator() {
    let orchestrator_admin = Principal {
        products: vec![Product::Orchestrator],
        orchestrator_role: Some(OrchestratorRole::Admin),
        ..principal(Member)
    };
    let developer = Principal {
        orchestrator_role: Some(OrchestratorRole::Developer),
        ..orchestrator_admin.clone()
    };
    let hub_admin = Principal {
        products: vec![Product::ProcessHub],
        process_hub_role: Some(ProcessHubRole::Administrator),
        ..principal(Member)
    };
    let attach = || action("attach-to-security-group", None, None);
    for object in ["Orchestrator", "Workflow", "BotRunner"] {
        assert!(may(&orchestrator_admin, object, Relation::empty(), attach()), "{object}");
        assert!(!may(&developer, object, Relation::empty(), attach()), "{object}");
        assert!(!may(&hub_admin, object, Relation::empty(), attach()), "{object}");
        assert!(may(&principal(SecurityAdmin), object, Relation::empty(), attach()));
    }
    assert!(may(&hub_admin, "Process", Relation::empty(), attach()));
    assert!(!may(&orchestrator_admin, "Process", Relation::empty(), attach()));
}

#[test]
fn unknown_actions_are_denied() {
    assert!(!may(&principal(Owner), "Team", Relation::empty(), action("delete-team", None, None)));
}
