//! The per-request front door to the policy.
//!
//! A [`Guard`] holds the principal, the policy version the request started with, and a
//! session with it. Resolvers classify each object once ([`Guard::classify`]): objects with
//! the same attributes share a [`ClassId`], and decisions are memoized per (class, field). A
//! list of 1,000 workflows in three security groups costs three decisions per field read.
//! Visibilities are memoized per type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Check, Decision, LoadedPolicy, Principal, Resource, Session, Target, Visibility};

/// An interned class of resource attributes within one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassId(u32);

/// A read the policy refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// The GraphQL type.
    pub type_name: &'static str,
    /// The field.
    pub field: String,
}

/// The policy as one request sees it.
pub struct Guard {
    principal: Principal,
    policy: Arc<LoadedPolicy>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    session: Option<Box<dyn Session>>,
    class_of: HashMap<Resource, ClassId>,
    classes: Vec<Class>,
    visibilities: HashMap<&'static str, Visibility>,
}

struct Class {
    resource: Resource,
    decisions: HashMap<Box<str>, bool>,
}

impl Guard {
    /// A guard for `principal` under `policy`.
    pub fn new(principal: Principal, policy: Arc<LoadedPolicy>) -> Self {
        Self {
            principal,
            policy,
            state: Mutex::new(State::default()),
        }
    }

    /// Who the request acts for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The policy version the request runs under.
    pub fn policy(&self) -> &Arc<LoadedPolicy> {
        &self.policy
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-made decision behind (decisions
        // are inserted whole), so a poisoned lock is still safe to use.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Interns the attributes of a resource.
    pub fn classify(&self, resource: Resource) -> ClassId {
        let mut state = self.state();
        if let Some(id) = state.class_of.get(&resource) {
            return *id;
        }
        let id = ClassId(state.classes.len() as u32);
        state.classes.push(Class {
            resource: resource.clone(),
            decisions: HashMap::new(),
        });
        state.class_of.insert(resource, id);
        id
    }

    /// The type name of a class.
    pub fn type_name(&self, class: ClassId) -> &'static str {
        self.state()
            .classes
            .get(class.0 as usize)
            .map_or("?", |c| c.resource.type_name)
    }

    /// May the principal read `field` of objects of `class`?
    pub fn permit(&self, class: ClassId, field: &str) -> Result<(), Denied> {
        let mut state = self.state();
        let Some(entry) = state.classes.get(class.0 as usize) else {
            return Err(Denied {
                type_name: "?",
                field: field.to_owned(),
            });
        };
        let type_name = entry.resource.type_name;
        let allowed = match entry.decisions.get(field) {
            Some(allowed) => *allowed,
            None => {
                let resource = entry.resource.clone();
                let check = Check {
                    resource: 0,
                    target: Target::Field(field.to_owned()),
                };
                let decision = self
                    .session(&mut state)
                    .decide(
                        std::slice::from_ref(&resource),
                        std::slice::from_ref(&check),
                    )
                    .pop()
                    .unwrap_or(Decision::Deny("no answer".into()));
                if let Decision::Deny(reason) = &decision {
                    tracing::debug!(type_name, field, reason, "read denied");
                }
                let allowed = decision.is_allow();
                if let Some(entry) = state.classes.get_mut(class.0 as usize) {
                    entry.decisions.insert(field.into(), allowed);
                }
                allowed
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(Denied {
                type_name,
                field: field.to_owned(),
            })
        }
    }

    /// Decides, in one batch, every (class, field) pair not decided yet.
    pub fn prefetch(&self, classes: &[ClassId], fields: &[&str]) {
        let mut state = self.state();
        let mut resources = Vec::new();
        let mut checks = Vec::new();
        let mut asked = Vec::new();
        for class in classes {
            let Some(entry) = state.classes.get(class.0 as usize) else {
                continue;
            };
            let missing: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|f| !entry.decisions.contains_key(*f))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let index = resources.len() as u32;
            resources.push(entry.resource.clone());
            for field in missing {
                checks.push(Check {
                    resource: index,
                    target: Target::Field(field.to_owned()),
                });
                asked.push((*class, field));
            }
        }
        if checks.is_empty() {
            return;
        }
        let decisions = self.session(&mut state).decide(&resources, &checks);
        for ((class, field), decision) in asked.into_iter().zip(decisions) {
            if let Some(entry) = state.classes.get_mut(class.0 as usize) {
                entry.decisions.insert(field.into(), decision.is_allow());
            }
        }
    }

    /// Which objects of `type_name` the principal may see.
    pub fn visibility(&self, type_name: &'static str) -> Visibility {
        let mut state = self.state();
        if let Some(visibility) = state.visibilities.get(type_name) {
            return visibility.clone();
        }
        let visibility = self
            .session(&mut state)
            .visibility(&[type_name])
            .pop()
            .unwrap_or(Visibility::None);
        state.visibilities.insert(type_name, visibility.clone());
        visibility
    }

    fn session<'s>(&self, state: &'s mut State) -> &'s mut Box<dyn Session> {
        state
            .session
            .get_or_insert_with(|| self.policy.policy.session(&self.principal))
    }
}
