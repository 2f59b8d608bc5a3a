//! What a policy version calls the names the gateway asks about.
//!
//! The contract names types, fields and actions by numbers the policy chooses. The gateway
//! asks the policy for the number of each name the first time it meets it (`resolve`) and
//! keeps the answer for the life of the version, so a check crosses into the module as a few
//! integers. A name the policy does not number is denied (a field or an action) or hidden (a
//! type) without asking.

use std::sync::{PoisonError, RwLock};

use rustc_hash::{FxHashMap, FxHashSet};

use super::wit;
use crate::authz::{Check, Resource, Target};

/// The most names one version keeps numbers for. The gateway asks about the names of its
/// schema (a few hundred); past this, a batch that meets a new name is denied.
const MAX_NAMES: usize = 100_000;

/// The numbers one policy version gave, shared by all its sessions.
#[derive(Default)]
pub(super) struct Numbers {
    known: RwLock<Known>,
}

#[derive(Default)]
struct Known {
    types: FxHashMap<Box<str>, Option<u32>>,
    fields: FxHashMap<Box<str>, FxHashMap<Box<str>, Option<u32>>>,
    actions: FxHashMap<Box<str>, Option<u32>>,
    count: usize,
}

/// A batch by numbers: each resource's type and each check's target, `None` where the policy
/// has no number for the name.
pub(super) struct Numbered {
    pub types: Vec<Option<u32>>,
    pub targets: Vec<Option<u32>>,
}

/// Names to ask the policy about, each once.
#[derive(Default)]
struct Missing<'n> {
    types: FxHashSet<&'n str>,
    fields: FxHashSet<(&'n str, &'n str)>,
    actions: FxHashSet<&'n str>,
}

impl Missing<'_> {
    fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty() && self.actions.is_empty()
    }

    fn names(&self) -> wit::Names {
        wit::Names {
            types: self.types.iter().map(|name| (*name).to_owned()).collect(),
            fields: self
                .fields
                .iter()
                .map(|(type_name, field)| wit::FieldName {
                    type_name: (*type_name).to_owned(),
                    field: (*field).to_owned(),
                })
                .collect(),
            actions: self.actions.iter().map(|name| (*name).to_owned()).collect(),
        }
    }
}

impl Numbers {
    fn known(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        // Entries are inserted whole: a poisoned lock holds nothing half-made.
        self.known.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The numbers of a batch, or the names of it the policy must be asked about first.
    pub(super) fn batch(
        &self,
        resources: &[Resource],
        checks: &[Check<'_>],
    ) -> Result<Numbered, wit::Names> {
        let known = self.known();
        let mut missing = Missing::default();
        let types: Vec<Option<u32>> = resources
            .iter()
            .map(|resource| match known.types.get(resource.type_name) {
                Some(number) => *number,
                None => {
                    missing.types.insert(resource.type_name);
                    None
                }
            })
            .collect();
        let fields_of: Vec<Option<&FxHashMap<Box<str>, Option<u32>>>> =
            resources.iter().map(|resource| known.fields.get(resource.type_name)).collect();
        let targets = checks
            .iter()
            .map(|check| match check.target {
                Target::Field(field) => {
                    let index = check.resource as usize;
                    let number = fields_of.get(index).copied().flatten().and_then(|f| f.get(field));
                    match (number, resources.get(index)) {
                        (Some(number), _) => *number,
                        (None, Some(resource)) => {
                            missing.fields.insert((resource.type_name, field));
                            None
                        }
                        (None, None) => None,
                    }
                }
                Target::Action(action) => match known.actions.get(action.name) {
                    Some(number) => *number,
                    None => {
                        missing.actions.insert(action.name);
                        None
                    }
                },
            })
            .collect();
        if missing.is_empty() { Ok(Numbered { types, targets }) } else { Err(missing.names()) }
    }

    /// The numbers of types, or the names of them the policy must be asked about first.
    pub(super) fn types(&self, type_names: &[&str]) -> Result<Vec<Option<u32>>, wit::Names> {
        let known = self.known();
        let mut missing = Missing::default();
        let numbers = type_names
            .iter()
            .map(|name| match known.types.get(*name) {
                Some(number) => *number,
                None => {
                    missing.types.insert(name);
                    None
                }
            })
            .collect();
        if missing.is_empty() { Ok(numbers) } else { Err(missing.names()) }
    }

    /// Keeps the policy's answer to `resolve(names)`. `false` when the answer does not fit
    /// the question, or there is no room left to keep it: the batch is then denied.
    pub(super) fn learn(&self, names: wit::Names, numbers: wit::Numbers) -> bool {
        if numbers.types.len() != names.types.len()
            || numbers.fields.len() != names.fields.len()
            || numbers.actions.len() != names.actions.len()
        {
            tracing::error!("the policy answered `resolve` with a different number of names");
            return false;
        }
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        let new = names.types.len() + names.fields.len() + names.actions.len();
        if known.count + new > MAX_NAMES {
            tracing::error!(
                kept = known.count,
                "too many distinct names asked of one policy version"
            );
            return false;
        }
        let mut added = 0;
        for (name, number) in names.types.into_iter().zip(numbers.types) {
            added += usize::from(known.types.insert(name.into(), number).is_none());
        }
        for (asked, number) in names.fields.into_iter().zip(numbers.fields) {
            let fields = known.fields.entry(asked.type_name.into()).or_default();
            added += usize::from(fields.insert(asked.field.into(), number).is_none());
        }
        for (name, number) in names.actions.into_iter().zip(numbers.actions) {
            added += usize::from(known.actions.insert(name.into(), number).is_none());
        }
        // Two sessions may learn the same names at once: only new ones count.
        known.count += added;
        true
    }
}
