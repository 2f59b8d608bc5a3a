//! A policy built against contract `fieldguard:policy@0.1.0`: it allows everything, and the
//! gateway must never load it.

#[allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "wit-0.1.0", world: "policy" });

    use super::OldPolicy;
    export!(OldPolicy with_types_in crate::old_contract::bindings);
}

use bindings::fieldguard::policy::types::{Check, Decision, Principal, Resource, Visibility};

/// The policy of the old contract.
pub struct OldPolicy;

impl bindings::Guest for OldPolicy {
    fn name() -> String {
        "test old-contract".into()
    }

    fn decide(
        _principal: Principal,
        _resources: Vec<Resource>,
        checks: Vec<Check>,
    ) -> Vec<Decision> {
        vec![Decision::Allow; checks.len()]
    }

    fn filter(_principal: Principal, type_names: Vec<String>) -> Vec<Visibility> {
        vec![Visibility::All; type_names.len()]
    }
}
