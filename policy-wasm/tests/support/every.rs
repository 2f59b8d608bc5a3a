//! Every principal the contract can describe, for tests that compare two ways of deciding.

use fieldguard_policy::{OrchestratorRole, PortalRole, Principal, ProcessHubRole, Product};

/// Every principal the contract can describe, within two security groups.
pub fn every_principal() -> Vec<Principal> {
    use OrchestratorRole as O;
    use PortalRole as P;
    use ProcessHubRole as H;
    let mut all = Vec::new();
    for portal_role in [P::Owner, P::Admin, P::SecurityAdmin, P::Member, P::BillingContact] {
        for orchestrator_role in
            [None, Some(O::Admin), Some(O::Developer), Some(O::Operator), Some(O::Analyst)]
        {
            for process_hub_role in
                [None, Some(H::Administrator), Some(H::ProcessManager), Some(H::User)]
            {
                for products in [
                    vec![],
                    vec![Product::Orchestrator],
                    vec![Product::ProcessHub],
                    vec![Product::Orchestrator, Product::ProcessHub],
                ] {
                    for security_groups in [vec![], vec![1], vec![2]] {
                        for (audit_log_access, advanced_access_management) in
                            [(false, false), (false, true), (true, false), (true, true)]
                        {
                            all.push(Principal {
                                user: 1,
                                team: 1,
                                portal_role,
                                products: products.clone(),
                                orchestrator_role,
                                process_hub_role,
                                security_groups: security_groups.clone(),
                                audit_log_access,
                                advanced_access_management,
                            });
                        }
                    }
                }
            }
        }
    }
    all
}
