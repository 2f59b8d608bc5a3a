//! Where access is decided.
//!
//! The gateway asks a [`Policy`] two kinds of question, always for one [`Principal`] and in
//! batches: may they read these fields or perform these actions ([`Policy::decide`]), and which
//! objects of these types may they see at all ([`Policy::visibility`]).
//!
//! ## Layout
//!
//! * [`model`]: the host-side vocabulary of the contract (principal, resource attributes,
//!   decisions, visibilities), independent of how a policy is run.
//! * [`wasm`]: the WebAssembly host: compiles a policy component once, instantiates it per
//!   request, bounds every call in time and memory, and turns every failure into a denial.
//! * [`native`]: policies written in Rust for tests and benchmarks (allow all, deny all).
//! * [`guard`]: the per-request front door used by resolvers: memoizes decisions and
//!   visibilities, and turns a denial into a `FORBIDDEN` error.
//! * [`memo`]: what a version answered each principal, remembered across requests.
//! * [`active`]: the policy currently in force, swapped atomically while serving.
//! * [`watch`]: reloads the policy when its file changes (the developer's loop).
//! * [`gate`]: what a version must pass before it is put in force: its decision cases and the
//!   contract's checks (also `fieldguard policy test`).
//! * [`diff`]: who gains and who loses what between two versions, over a database's members.
//! * [`shadow`]: a candidate answering beside the version in force, counted, never enforced.
//! * [`lifecycle`]: deploy, activate and roll back stored versions, and follow the versions
//!   other gateways of the database put in force.

pub mod active;
pub mod diff;
pub mod gate;
pub mod guard;
pub mod lifecycle;
pub mod memo;
pub mod model;
pub mod native;
pub mod shadow;
pub mod wasm;
pub mod watch;

pub use active::{ActivePolicy, LoadedPolicy, PolicyInfo};
pub use guard::{ClassId, Guard};
pub use model::{
    Action, Check, Condition, Decision, OrchestratorRole, PortalRole, Principal, ProcessHubRole,
    Product, Reason, Relation, Resource, Target, Visibility,
};

/// A policy: anything that can answer the two questions of the contract.
///
/// Implementations never fail: a policy that cannot decide denies, and says why in the
/// decision's reason (which is logged, never sent to the caller).
pub trait Policy: Send + Sync {
    /// Opens a session for one principal, usually for the span of one request. A session may
    /// keep state (an instance of a module) between its calls.
    fn session(&self, principal: &Principal) -> Box<dyn Session>;

    /// The text of the policy's reason `code`, if it gives one.
    fn reason(&self, code: u16) -> Option<&str> {
        let _ = code;
        None
    }
}

/// The text of a denial's reason under `policy`, for a log line or an explanation.
pub fn reason_text(policy: &dyn Policy, reason: Reason) -> String {
    match reason {
        Reason::Code(code) => policy.reason(code).map_or_else(
            || format!("reason {code} (the policy gives no text for it)"),
            str::to_owned,
        ),
        Reason::Host(text) => text.to_owned(),
    }
}

/// The answers of a policy for one principal.
pub trait Session: Send {
    /// One decision per check, in order.
    fn decide(&mut self, resources: &[Resource], checks: &[Check<'_>]) -> Vec<Decision>;

    /// One visibility per type name, in order.
    fn visibility(&mut self, type_names: &[&str]) -> Vec<Visibility>;
}
