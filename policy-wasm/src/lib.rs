//! # The default Fieldguard policy
//!
//! This crate is built twice from the same code: natively, so its rules are unit-tested by
//! `cargo test`, and to WebAssembly, where the gateway loads it as the policy it enforces.
//! The contract it implements is `wit/policy.wit`.
//!
//! ## Layout
//!
//! * [`access`]: who the principal is, and the roles they effectively hold.
//! * [`visibility`]: which objects of a type a principal may see at all (the list filters).
//! * [`fields`]: which fields of a visible object a principal may read. This is the one table
//!   to read and edit when a question starts with "who may see …".
//! * [`actions`]: which actions (mutations) a principal may perform: the one table to read
//!   and edit when a question starts with "who may change …".
//!
//! To build the module the gateway loads:
//!
//! ```text
//! cargo build -p fieldguard-policy --target wasm32-unknown-unknown --profile policy
//! ```

pub mod access;
pub mod actions;
pub mod fields;
pub mod visibility;

/// The types of the contract, generated from `wit/policy.wit`.
#[allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "policy",
        additional_derives: [PartialEq],
    });

    use crate::DefaultPolicy;
    export!(DefaultPolicy with_types_in crate::bindings);
}

pub use bindings::fieldguard::policy::types::{
    Action, Check, Condition, Decision, OrchestratorRole, PortalRole, Principal, ProcessHubRole,
    Product, Relation, Resource, Target, Visibility,
};

use access::Access;

/// The default policy, as exported to the gateway.
pub struct DefaultPolicy;

impl bindings::Guest for DefaultPolicy {
    fn name() -> String {
        format!("default {}", env!("CARGO_PKG_VERSION"))
    }

    fn decide(principal: Principal, resources: Vec<Resource>, checks: Vec<Check>) -> Vec<Decision> {
        decide(&principal, &resources, &checks)
    }

    fn filter(principal: Principal, type_names: Vec<String>) -> Vec<Visibility> {
        let access = Access::new(&principal);
        type_names.iter().map(|type_name| visibility::of(&access, type_name)).collect()
    }
}

/// Decides a batch of checks: one decision per check, in order.
pub fn decide(principal: &Principal, resources: &[Resource], checks: &[Check]) -> Vec<Decision> {
    let access = Access::new(principal);
    checks
        .iter()
        .map(|check| {
            let Some(resource) = resources.get(check.resource as usize) else {
                return deny("the check names a resource that is not in the batch");
            };
            match &check.target {
                Target::Field(field) => fields::read(&access, resource, field),
                Target::Action(action) => actions::perform(&access, resource, action),
            }
        })
        .collect()
}

/// A denial with its reason.
pub(crate) fn deny(reason: &str) -> Decision {
    Decision::Deny(reason.to_owned())
}
