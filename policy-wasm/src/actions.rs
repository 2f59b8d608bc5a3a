//! Which actions (mutations) a principal may perform.
//!
//! The read side comes first; no action has a rule yet, so every action is denied. Rules for
//! the management mutations of domain §2–§5 belong here.

use crate::{Decision, Resource, access::Access, deny};

/// Decides whether the principal may perform `action` on `resource`.
pub fn perform(_access: &Access<'_>, _resource: &Resource, action: &str) -> Decision {
    deny(&format!("no rule allows the action `{action}`"))
}
