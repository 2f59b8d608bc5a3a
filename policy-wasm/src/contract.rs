//! The policy as the gateway asks it: by numbers (`wit/policy.wit`).
//!
//! The gateway asks once per policy version what this policy calls each type, field and
//! action ([`resolve`]) and which texts its reason codes stand for ([`reasons`]); from then
//! on every check is a few integers, decided by the same rules as [`crate::decide_with`] asks
//! by name. A type's number is its place in `visibility.rs`, a field's its place in
//! `fields.rs`, an action's its place in `actions.rs`: turning a number back into its row is a
//! division.

use crate::batch::Batch;
use crate::{Object, Principal, Reason, Tables, Visibility, access::Access, fields, visibility};

/// The contract's own records, as generated from `wit/policy.wit`.
pub mod wire {
    pub use crate::bindings::fieldguard::policy::types::{
        Act, Action, Answers, FieldName, Names, Numbers, Reads, Resource,
    };
}

/// The number of every pagination type (`…Connection`, `…Edge`, `PageInfo`), and of each of
/// their fields: readable wherever the list was.
pub const PLUMBING: u32 = u32::MAX;

/// The module's exports.
pub struct DefaultPolicy;

impl crate::bindings::Guest for DefaultPolicy {
    fn name() -> String {
        format!("default {}", env!("CARGO_PKG_VERSION"))
    }

    fn resolve(names: wire::Names) -> wire::Numbers {
        resolve(&Tables::shipped(), &names)
    }

    fn reasons() -> Vec<String> {
        reasons()
    }

    fn decide(
        principal: Principal,
        resources: Vec<wire::Resource>,
        reads: wire::Reads,
        acts: Vec<wire::Act>,
    ) -> wire::Answers {
        decide(&Tables::shipped(), &principal, &resources, &reads, &acts)
    }

    fn filter(principal: Principal, types: Vec<u32>) -> Vec<Visibility> {
        filter(&Tables::shipped(), &principal, &types)
    }
}

/// This policy's number for each name, in order; `None` for a name no row names.
pub fn resolve(tables: &Tables<'_>, names: &wire::Names) -> wire::Numbers {
    let plumbing = |type_name: &str| fields::is_plumbing(type_name).then_some(PLUMBING);
    wire::Numbers {
        types: names
            .types
            .iter()
            .map(|name| plumbing(name).or_else(|| tables.visibility.number_of(name)))
            .collect(),
        fields: names
            .fields
            .iter()
            .map(|asked| {
                plumbing(&asked.type_name)
                    .or_else(|| tables.fields.number_of(&asked.type_name, &asked.field))
            })
            .collect(),
        actions: names.actions.iter().map(|name| tables.actions.number_of(name)).collect(),
    }
}

/// The text of every reason code: code `n` is the `n - 1`th.
pub fn reasons() -> Vec<String> {
    Reason::ALL.iter().map(|reason| reason.text().to_owned()).collect()
}

/// Decides a batch asked by numbers: `0` allows, any other number is a [`Reason`]'s code.
pub fn decide(
    tables: &Tables<'_>,
    principal: &Principal,
    resources: &[wire::Resource],
    reads: &wire::Reads,
    acts: &[wire::Act],
) -> wire::Answers {
    let access = Access::new(principal);
    let objects = resources.iter().map(|resource| {
        let plumbing = resource.type_number == PLUMBING;
        // A number that names no type leaves the object nameless, and so invisible.
        let type_name = tables.visibility.by_number(resource.type_number).map_or("", |(n, _)| n);
        let object = Object {
            type_name,
            security_groups: &resource.security_groups,
            relations: resource.relations,
        };
        (object, plumbing)
    });
    let mut batch = Batch::with(tables, &access, objects);
    let code = |verdict: Result<(), Reason>| verdict.err().map_or(0, Reason::code);
    let reads = reads
        .resources
        .iter()
        .zip(&reads.fields)
        .map(|(resource, field)| {
            code(batch.read(*resource, |type_name| {
                // A field of another type than the object's has no rule here.
                let (of_type, _, rule) = tables.fields.by_number(*field)?;
                if same(of_type, type_name) { rule } else { None }
            }))
        })
        .collect();
    let acts = acts
        .iter()
        .map(|act| {
            code(batch.perform(
                act.resource,
                tables.actions.by_number(act.action.number).and_then(|(_, rule)| rule),
                act.action.current_role,
                act.action.requested_role,
            ))
        })
        .collect();
    wire::Answers { reads, acts }
}

/// Whether two type names are the same: by address first, as the tables' names mostly are.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The visibility of each type asked by number, in order.
pub fn filter(tables: &Tables<'_>, principal: &Principal, types: &[u32]) -> Vec<Visibility> {
    let access = Access::new(principal);
    types
        .iter()
        .map(|number| {
            let rule = tables.visibility.by_number(*number).and_then(|(_, rule)| rule);
            visibility::by_rule(&access, rule)
        })
        .collect()
}
