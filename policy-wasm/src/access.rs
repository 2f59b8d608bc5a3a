//! Who the principal is: the roles they effectively hold in the team they act in.
//!
//! Portal OWNER and ADMIN are enabled on every product and act there as the product's
//! administrator, whatever product roles are stored for them (domain §2). Everyone else holds a
//! product role only where the product is enabled for them.

use crate::{OrchestratorRole, PortalRole, Principal, ProcessHubRole, Product};

/// The principal of a batch, with their effective roles worked out once.
pub struct Access<'a> {
    principal: &'a Principal,
    orchestrator: Option<OrchestratorRole>,
    process_hub: Option<ProcessHubRole>,
}

impl<'a> Access<'a> {
    /// Works out the effective roles of a principal.
    pub fn new(principal: &'a Principal) -> Self {
        let all_products = matches!(principal.portal_role, PortalRole::Owner | PortalRole::Admin);
        let enabled = |product| all_products || principal.products.contains(&product);
        let orchestrator = if all_products {
            Some(OrchestratorRole::Admin)
        } else if enabled(Product::Orchestrator) {
            principal.orchestrator_role
        } else {
            None
        };
        let process_hub = if all_products {
            Some(ProcessHubRole::Administrator)
        } else if enabled(Product::ProcessHub) {
            principal.process_hub_role
        } else {
            None
        };
        Self { principal, orchestrator, process_hub }
    }

    /// The principal as given by the gateway.
    pub fn principal(&self) -> &Principal {
        self.principal
    }

    /// OWNER, ADMIN and SECURITY_ADMIN manage the team: members, invitations, security groups,
    /// audit logs.
    pub fn manages_team(&self) -> bool {
        matches!(
            self.principal.portal_role,
            PortalRole::Owner | PortalRole::Admin | PortalRole::SecurityAdmin
        )
    }

    /// OWNER and BILLING_CONTACT see billing.
    pub fn sees_billing(&self) -> bool {
        matches!(self.principal.portal_role, PortalRole::Owner | PortalRole::BillingContact)
    }

    /// The effective Orchestrator role, if Orchestrator is enabled for the principal.
    pub fn orchestrator(&self) -> Option<OrchestratorRole> {
        self.orchestrator
    }

    /// Whether the effective Orchestrator role is one of `roles`.
    pub fn orchestrator_is(&self, roles: &[OrchestratorRole]) -> bool {
        self.orchestrator.is_some_and(|role| roles.contains(&role))
    }

    /// The effective Process Hub role, if Process Hub is enabled for the principal.
    pub fn process_hub(&self) -> Option<ProcessHubRole> {
        self.process_hub
    }

    /// Whether the team has Advanced Access Management turned on.
    pub fn advanced_access_management(&self) -> bool {
        self.principal.advanced_access_management
    }

    /// The security groups the principal belongs to.
    pub fn security_groups(&self) -> &[u64] {
        &self.principal.security_groups
    }
}
