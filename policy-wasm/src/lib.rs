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
//! * [`reasons`]: every reason the policy gives for a denial, as a code.
//! * [`model`]: the questions by name, as tests and cases ask them ([`decide`], [`filter`]).
//! * [`contract`]: the same questions by numbers, as the gateway asks the module: what the
//!   module exports, through the same rules.
//!
//! To build the module the gateway loads:
//!
//! ```text
//! cargo build -p fieldguard-policy --target wasm32-unknown-unknown --profile policy
//! ```

/// Declares a table of rules keyed by names: its rows as a constant (`ROWS`, for listing and
/// tests), and a lookup compiled to a `match` (`listed`), which costs no set-up in a fresh
/// instance and a few comparisons per question.
macro_rules! rules_by_name {
    ($rule:ty; $( ([$($name:literal),+ $(,)?], $value:expr $(,)?) ),* $(,)?) => {
        /// The rows of the table, in the order written.
        pub const ROWS: &[(&[&str], $rule)] = &[ $( (&[$($name),+], $value) ),* ];

        /// The rule a row gives `name`, if any.
        fn listed(name: &str) -> Option<$rule> {
            match name {
                $( $($name)|+ => Some($value), )*
                _ => None,
            }
        }

        /// The table: the rows as written, and any rule changed since (tests change one
        /// rule at a time to see which case catches it).
        pub type Table = $crate::ByName<$rule>;

        impl Table {
            /// The rows as written.
            pub const fn shipped() -> Self {
                $crate::ByName::new(ROWS, listed)
            }
        }
    };
}

/// A table of rules keyed by names (actions, types), declared with `rules_by_name!`.
#[derive(Clone, Debug)]
pub struct ByName<R: 'static> {
    rows: &'static [(&'static [&'static str], R)],
    listed: fn(&str) -> Option<R>,
    changed: Vec<(&'static str, Option<R>)>,
}

impl<R: Copy> ByName<R> {
    const fn new(
        rows: &'static [(&'static [&'static str], R)],
        listed: fn(&str) -> Option<R>,
    ) -> Self {
        Self { rows, listed, changed: Vec::new() }
    }

    /// The rule for `name`, if a row names it.
    pub fn rule(&self, name: &str) -> Option<R> {
        match self.changed.iter().find(|(changed, _)| *changed == name) {
            Some((_, rule)) => *rule,
            None => (self.listed)(name),
        }
    }

    /// Sets (or, with `None`, removes) the rule of one name.
    pub fn set(&mut self, name: &'static str, rule: Option<R>) {
        self.changed.retain(|(changed, _)| *changed != name);
        self.changed.push((name, rule));
    }

    /// Every name a row names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.rows.iter().flat_map(|(names, _)| names.iter().copied())
    }

    /// The number of `name` in the contract: where a row names it (see [`number`]).
    pub fn number_of(&self, name: &str) -> Option<u32> {
        self.rows.iter().enumerate().find_map(|(row, (names, _))| {
            names.iter().position(|listed| *listed == name).map(|at| number(row, at))
        })
    }

    /// The name numbered `number`, and its rule now.
    pub fn by_number(&self, number: u32) -> Option<(&'static str, Option<R>)> {
        let (row, at) = unnumber(number);
        let (names, rule) = self.rows.get(row)?;
        let name = *names.get(at)?;
        if self.changed.is_empty() {
            Some((name, Some(*rule)))
        } else {
            Some((name, self.rule(name)))
        }
    }
}

/// How many names a row of a table may list: a number is `row * ROW_WIDTH + position`, so
/// that turning a number back into its row is a division, not a search.
const ROW_WIDTH: usize = 4096;

/// The number of the name at `at` in row `row`.
fn number(row: usize, at: usize) -> u32 {
    u32::try_from(row * ROW_WIDTH + at).unwrap_or(u32::MAX)
}

/// The row and position a number points at.
fn unnumber(number: u32) -> (usize, usize) {
    let number = number as usize;
    (number / ROW_WIDTH, number % ROW_WIDTH)
}

/// Declares a table of rules keyed by a type and its fields, like [`rules_by_name`].
macro_rules! rules_by_field {
    ($rule:ty; $( ($type:literal, [$($field:literal),+ $(,)?], $value:expr $(,)?) ),* $(,)?) => {
        /// The rows of the table, in the order written.
        pub const ROWS: &[(&str, &[&str], $rule)] = &[ $( ($type, &[$($field),+], $value) ),* ];

        /// The rule a row gives `type_name.field`, if any.
        fn listed(type_name: &str, field: &str) -> Option<$rule> {
            match (type_name, field) {
                $( ($type, $($field)|+) => Some($value), )*
                _ => None,
            }
        }
    };
}

pub mod access;
pub mod actions;
mod batch;
pub mod contract;
pub mod fields;
pub mod model;
pub mod reasons;
pub mod visibility;

/// The types of the contract, generated from `wit/policy.wit`.
#[allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "policy",
        additional_derives: [PartialEq],
    });

    use crate::contract::DefaultPolicy;
    export!(DefaultPolicy with_types_in crate::bindings);
}

pub use bindings::fieldguard::policy::types::{
    Condition, OrchestratorRole, PortalRole, Principal, ProcessHubRole, Product, Relation,
    Visibility,
};
pub use model::{Action, Check, Decision, Object, Resource, Target};
pub use reasons::Reason;

use access::Access;

/// The policy's own decision cases (`cases.toml`): what it must answer, for review and for
/// `fieldguard policy test`.
pub const CASES: &str = include_str!("../cases.toml");

/// The same cases inside the module, in the custom section `fieldguard-cases`: a module
/// carries its cases wherever it goes, and the gateway runs them before it activates it.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
#[unsafe(link_section = "fieldguard-cases")]
#[used]
static EMBEDDED_CASES: [u8; CASES.len()] = *include_bytes!("../cases.toml");

/// The three tables every answer is read from.
#[derive(Clone, Copy, Debug)]
pub struct Tables<'t> {
    /// Who may read which field ([`fields::ROWS`]).
    pub fields: &'t fields::Table,
    /// Who may perform which action ([`actions::ROWS`]).
    pub actions: &'t actions::Table,
    /// Who sees which objects ([`visibility::ROWS`]).
    pub visibility: &'t visibility::Table,
}

impl Tables<'static> {
    /// The tables of this policy, as written.
    pub fn shipped() -> Self {
        static FIELDS: fields::Table = fields::Table::shipped();
        static ACTIONS: actions::Table = actions::Table::shipped();
        static VISIBILITY: visibility::Table = visibility::Table::shipped();
        Self { fields: &FIELDS, actions: &ACTIONS, visibility: &VISIBILITY }
    }
}

/// The visibility of each type, in order.
pub fn filter<S: AsRef<str>>(
    tables: &Tables<'_>,
    principal: &Principal,
    type_names: &[S],
) -> Vec<Visibility> {
    let access = Access::new(principal);
    type_names.iter().map(|type_name| visibility::of(tables, &access, type_name.as_ref())).collect()
}

/// Decides a batch of checks by the shipped tables: one decision per check, in order.
pub fn decide(principal: &Principal, resources: &[Resource], checks: &[Check]) -> Vec<Decision> {
    decide_with(&Tables::shipped(), principal, resources, checks)
}

/// Decides a batch of checks by `tables`: one decision per check, in order.
///
/// This is the policy as a Rust author tests it, by names; the module the gateway loads
/// answers the same questions by numbers ([`contract`]), through the same rules.
pub fn decide_with(
    tables: &Tables<'_>,
    principal: &Principal,
    resources: &[Resource],
    checks: &[Check],
) -> Vec<Decision> {
    let access = Access::new(principal);
    let mut batch = batch::Batch::new(tables, &access, resources.iter().map(Resource::object));
    checks
        .iter()
        .map(|check| {
            let verdict = match &check.target {
                Target::Field(field) => {
                    batch.read(check.resource, |type_name| tables.fields.rule(type_name, field))
                }
                Target::Action(action) => batch.perform(
                    check.resource,
                    tables.actions.rule(&action.name),
                    action.current_role,
                    action.requested_role,
                ),
            };
            Decision::from(verdict)
        })
        .collect()
}
