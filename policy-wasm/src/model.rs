//! The questions of the contract by name, as a Rust author writes and tests them.
//!
//! The module the gateway loads is asked by numbers ([`crate::contract`]); these types say the
//! same things with names, so that tests and cases read like the tables they check.

use crate::{PortalRole, Reason, Relation};

/// The attributes of a resource that rules may use, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The GraphQL type, e.g. "Workflow".
    pub type_name: String,
    /// The security groups the resource is associated with.
    pub security_groups: Vec<u64>,
    /// How the principal relates to the resource.
    pub relations: Relation,
}

impl Resource {
    /// What rules see of it.
    pub fn object(&self) -> Object<'_> {
        Object {
            type_name: &self.type_name,
            security_groups: &self.security_groups,
            relations: self.relations,
        }
    }
}

/// What rules see of a resource, borrowed: both ways of asking end here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Object<'a> {
    /// The GraphQL type.
    pub type_name: &'a str,
    /// The security groups it is associated with.
    pub security_groups: &'a [u64],
    /// How the principal relates to it.
    pub relations: Relation,
}

/// An action (a mutation) and the inputs of it that rules read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// The action's name, e.g. "change-member-role".
    pub name: String,
    /// The portal role the target member holds now, for actions on a membership.
    pub current_role: Option<PortalRole>,
    /// The portal role the action would give, for invitations and role changes.
    pub requested_role: Option<PortalRole>,
}

/// What is asked about a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Read a field by its GraphQL name.
    Field(String),
    /// Perform an action.
    Action(Action),
}

/// One question of a batch: a target on one of the batch's resources (by index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Index into the batch's list of resources.
    pub resource: u32,
    /// The field read or the action performed.
    pub target: Target,
}

/// The answer to one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The principal may.
    Allow,
    /// The principal may not, and why.
    Deny(String),
}

impl From<Result<(), Reason>> for Decision {
    fn from(verdict: Result<(), Reason>) -> Self {
        match verdict {
            Ok(()) => Decision::Allow,
            Err(reason) => Decision::Deny(reason.text().to_owned()),
        }
    }
}
