//! End-to-end tests: the real gateway, over real HTTP, with the real policy module built from
//! `policy-wasm/`, on a fresh SQLite database holding the demo data.
//!
//! One test binary, a module per area.

mod accounts;
mod browser;
mod concurrency;
mod events;
mod every_field;
mod hostile;
mod http;
mod management;
mod roles;
mod schema;
mod statements;
mod swap;
