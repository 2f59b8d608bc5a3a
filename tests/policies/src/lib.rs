//! Policy modules for the end-to-end tests, one behaviour per cargo feature:
//!
//! * `deny-all`: every check denied, every type invisible.
//! * `allow-all`: every check allowed, every object visible: the invariant tests run under it
//!   to show that the gateway holds them whatever the policy says.
//! * `deny-leaves`: every object visible, every relation followable, every other field
//!   denied; the walk over the whole schema uses it to reach every type and see each of its
//!   fields refused.
//! * `trap`, `spin`, `hoard`, `short`: a policy that traps, loops forever, grows its memory
//!   without end, or answers fewer decisions than it was asked. The gateway must deny and
//!   keep serving.
//! * `grow-table`, `memories`: given by `tests/build.rs` what Rust cannot write: a call that
//!   grows a table by 200 million elements, and three memories beside the module's own. The
//!   gateway must bound both and keep serving.
//! * `old-contract`: a policy built against the previous contract (`wit-0.1.0/`), which the
//!   gateway must refuse at load, naming both versions.

#[cfg(not(feature = "old-contract"))]
mod current;
#[cfg(not(feature = "old-contract"))]
pub use current::NAVIGATION;

#[cfg(feature = "old-contract")]
mod old_contract;
