//! Answers remembered across requests, per policy version.
//!
//! The contract requires a policy to give the same question the same answer (the gate checks
//! it before a version goes live), so what a version answered a principal about a field of a
//! class of objects, or about which objects of a type they see, holds for their next request
//! too. A request asks the policy only what this version was never asked for that principal;
//! a principal whose roles, products or groups change is another principal. A new version
//! starts with nothing remembered.
//!
//! Only the policy's own answers are remembered: a denial the host made because the policy
//! failed (a trap, a timeout, a full slow lane) may not be the answer next time, and neither
//! may a visibility of nothing (what a failed call gives), so those are asked again. Requests
//! in shadow or explained skip it: they must ask the policy (and the candidate) every question
//! themselves.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::{Decision, Principal, Resource, Visibility};
use crate::sync::locked;

/// Whether `decision` is the policy's own answer (an allow, or a denial with the policy's
/// reason), not the host's for want of one.
pub fn is_the_policys(decision: Decision) -> bool {
    matches!(decision, Decision::Allow | Decision::Deny(super::Reason::Code(_)))
}

/// The most principals remembered per version, and answers per principal; past either, that
/// memory starts over.
const MAX_PRINCIPALS: usize = 10_000;
const MAX_ANSWERS: usize = 100_000;

/// What one version answered, by principal.
#[derive(Default)]
pub struct Memo {
    principals: Mutex<FxHashMap<Principal, Arc<Answers>>>,
}

impl Memo {
    /// What this version answered `principal` so far.
    pub fn of(&self, principal: &Principal) -> Arc<Answers> {
        let mut principals = locked(&self.principals);
        if let Some(answers) = principals.get(principal) {
            return answers.clone();
        }
        if principals.len() >= MAX_PRINCIPALS {
            principals.clear();
        }
        principals.entry(principal.clone()).or_default().clone()
    }
}

/// What one version answered one principal.
#[derive(Default)]
pub struct Answers {
    decisions: Mutex<FxHashMap<Resource, FxHashMap<Box<str>, Decision>>>,
    visibilities: Mutex<FxHashMap<&'static str, Visibility>>,
}

impl Answers {
    /// The decision on reading `field` of objects like `resource`, if it was made.
    pub fn decision(&self, resource: &Resource, field: &str) -> Option<Decision> {
        locked(&self.decisions).get(resource)?.get(field).copied()
    }

    /// Remembers decisions on reading fields of objects like their resources.
    pub fn remember(&self, decided: impl IntoIterator<Item = (Resource, Box<str>, Decision)>) {
        let mut decisions = locked(&self.decisions);
        for (resource, field, decision) in decided {
            if decisions.len() >= MAX_ANSWERS {
                decisions.clear();
            }
            decisions.entry(resource).or_default().insert(field, decision);
        }
    }

    /// Which objects of `type_name` the principal sees, if that was asked.
    pub fn visibility(&self, type_name: &str) -> Option<Visibility> {
        locked(&self.visibilities).get(type_name).cloned()
    }

    /// Remembers which objects of `type_name` the principal sees.
    pub fn remember_visibility(&self, type_name: &'static str, visibility: &Visibility) {
        locked(&self.visibilities).insert(type_name, visibility.clone());
    }
}
