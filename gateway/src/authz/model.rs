//! The vocabulary of the policy contract, as the gateway uses it.
//!
//! These types mirror `policy-wasm/wit/policy.wit`; [`super::wasm`] converts them to and from
//! the generated bindings. Keeping them apart lets native policies, the guard and the SQL
//! translation of visibilities work without knowing how a policy runs.

/// A portal role, from the broadest to the narrowest (domain §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortalRole {
    /// Exactly one per team.
    Owner,
    /// Manages the team and every product.
    Admin,
    /// Manages users, roles, groups and audit logs.
    SecurityAdmin,
    /// Works in the products enabled for them.
    Member,
    /// Sees billing only.
    BillingContact,
}

/// A product of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Product {
    /// Studio Pro.
    StudioPro,
    /// Bot Runner.
    BotRunner,
    /// Orchestrator.
    Orchestrator,
    /// Process Hub.
    ProcessHub,
    /// IntegraBots.
    Integrabots,
}

/// An Orchestrator role (domain §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrchestratorRole {
    /// Everything, not limited by security groups.
    Admin,
    /// Builds workflows inside their security groups.
    Developer,
    /// Runs and schedules workflows inside their security groups.
    Operator,
    /// Reads.
    Analyst,
}

/// A Process Hub role (domain §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessHubRole {
    /// Everything.
    Administrator,
    /// Creates processes and edits their own.
    ProcessManager,
    /// Launches what they may launch.
    User,
}

/// Who is asking, in the team they act in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The user's id.
    pub user: i32,
    /// The acting team's id.
    pub team: i32,
    /// The portal role in the acting team.
    pub portal_role: PortalRole,
    /// Products enabled for the user in the acting team.
    pub products: Vec<Product>,
    /// The Orchestrator role, where stored.
    pub orchestrator_role: Option<OrchestratorRole>,
    /// The Process Hub role, where stored.
    pub process_hub_role: Option<ProcessHubRole>,
    /// Enabled security groups of the acting team the user belongs to, sorted.
    pub security_groups: Vec<i32>,
    /// The member's audit-log flag.
    pub audit_log_access: bool,
    /// The acting team's Advanced Access Management flag.
    pub advanced_access_management: bool,
}

#[cfg(test)]
impl Principal {
    /// User 1, a MEMBER of team 1 with no product, role or group: the narrowest principal.
    pub(crate) fn plain_member() -> Self {
        Self {
            user: 1,
            team: 1,
            portal_role: PortalRole::Member,
            products: vec![],
            orchestrator_role: None,
            process_hub_role: None,
            security_groups: vec![],
            audit_log_access: false,
            advanced_access_management: false,
        }
    }
}

/// How the principal relates to a resource: a set of flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Relation(u8);

impl Relation {
    /// No relation.
    pub const NONE: Self = Self(0);
    /// The resource is the principal's own user or membership.
    pub const IS_PRINCIPAL: Self = Self(1);
    /// The principal created it.
    pub const CREATOR: Self = Self(1 << 1);
    /// The principal may launch the process, or launched the job.
    pub const LAUNCHER: Self = Self(1 << 2);
    /// The task is assigned to the principal.
    pub const ASSIGNEE: Self = Self(1 << 3);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the flags of `other` set where `on`.
    #[must_use]
    pub fn with(self, other: Self, on: bool) -> Self {
        if on { Self(self.0 | other.0) } else { self }
    }
}

/// The attributes of a resource that rules may use. Resources with equal attributes share
/// their decisions, which is what makes memoization sound.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    /// The GraphQL type name.
    pub type_name: &'static str,
    /// Associated security groups, sorted and without duplicates.
    pub security_groups: Vec<i32>,
    /// How the principal relates to it.
    pub relations: Relation,
}

impl Resource {
    /// A resource with no security group and no relation to the principal.
    pub fn plain(type_name: &'static str) -> Self {
        Self { type_name, security_groups: Vec::new(), relations: Relation::NONE }
    }

    /// A resource associated with the given security groups.
    pub fn grouped(type_name: &'static str, groups: impl IntoIterator<Item = i32>) -> Self {
        let mut security_groups: Vec<i32> = groups.into_iter().collect();
        security_groups.sort_unstable();
        security_groups.dedup();
        Self { type_name, security_groups, relations: Relation::NONE }
    }

    /// The same resource with these relations to the principal.
    #[must_use]
    pub fn related(mut self, relations: Relation) -> Self {
        self.relations = relations;
        self
    }
}

/// An action (a mutation) and the inputs of it that rules read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Action {
    /// The action's name, e.g. `change-member-role`.
    pub name: &'static str,
    /// The target member's portal role now, for actions on a membership.
    pub current_role: Option<PortalRole>,
    /// The portal role the action would give.
    pub requested_role: Option<PortalRole>,
}

impl Action {
    /// An action with no inputs.
    pub fn named(name: &'static str) -> Self {
        Self { name, current_role: None, requested_role: None }
    }

    /// The same action on a member who holds `role` now.
    #[must_use]
    pub fn on_role(mut self, role: PortalRole) -> Self {
        self.current_role = Some(role);
        self
    }

    /// The same action, giving `role`.
    #[must_use]
    pub fn giving(mut self, role: PortalRole) -> Self {
        self.requested_role = Some(role);
        self
    }
}

/// What a check asks. A field is borrowed from the asker: building a batch copies no name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    /// Read a field by its GraphQL name.
    Field(&'a str),
    /// Perform an action.
    Action(Action),
}

/// One question of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check<'a> {
    /// Index into the batch's resources.
    pub resource: u32,
    /// What is asked.
    pub target: Target<'a>,
}

/// The answer to one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied, and why (for logs only).
    Deny(Reason),
}

impl Decision {
    /// Whether this is an allow.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Why a check was denied. A policy's reason travels as its code and becomes text only when it
/// is logged or explained ([`super::Policy::reason`]), so a denial costs no string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The policy's reason with this code.
    Code(u16),
    /// The gateway denied without an answer from the policy, for this reason.
    Host(&'static str),
}

/// One condition of a visibility clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Associated with at least one of these security groups.
    InSecurityGroups(Vec<i32>),
    /// The principal has every one of these relations.
    Related(Relation),
}

/// Which objects of a type the principal may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// All of them.
    All,
    /// None.
    None,
    /// Those satisfying any clause; a clause holds when all its conditions do.
    Where(Vec<Vec<Condition>>),
}
