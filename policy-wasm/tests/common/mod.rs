//! What the rule tests share: a principal with a portal role and nothing else.

use fieldguard_policy::{PortalRole, Principal};

/// User 7 of team 1, with `role` and no products, groups or flags; AAM as given.
pub fn principal_with(role: PortalRole, advanced_access_management: bool) -> Principal {
    Principal {
        user: 7,
        team: 1,
        portal_role: role,
        products: vec![],
        orchestrator_role: None,
        process_hub_role: None,
        security_groups: vec![],
        audit_log_access: false,
        advanced_access_management,
    }
}
