//! Policies written in Rust: allow everything, deny everything.
//!
//! They answer the same contract as a WebAssembly policy, without a module. The benchmark
//! compares the Wasm policy against [`AllowAll`]; tests use both as fixed points.

use super::{Check, Decision, Policy, Principal, Reason, Resource, Session, Visibility};

/// Allows every check and shows every object.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

/// Denies every check and hides every object.
#[derive(Clone, Copy, Debug, Default)]
pub struct DenyAll;

impl Policy for AllowAll {
    fn session(&self, _principal: &Principal) -> Box<dyn Session> {
        Box::new(Fixed(true))
    }
}

impl Policy for DenyAll {
    fn session(&self, _principal: &Principal) -> Box<dyn Session> {
        Box::new(Fixed(false))
    }

    fn reason(&self, code: u16) -> Option<&str> {
        (code == DENIES_ALL).then_some("the policy denies all")
    }
}

/// The one reason [`DenyAll`] gives.
const DENIES_ALL: u16 = 1;

struct Fixed(bool);

impl Session for Fixed {
    fn decide(&mut self, _resources: &[Resource], checks: &[Check<'_>]) -> Vec<Decision> {
        let decision =
            if self.0 { Decision::Allow } else { Decision::Deny(Reason::Code(DENIES_ALL)) };
        vec![decision; checks.len()]
    }

    fn visibility(&mut self, type_names: &[&str]) -> Vec<Visibility> {
        let visibility = if self.0 { Visibility::All } else { Visibility::None };
        vec![visibility; type_names.len()]
    }
}
