//! End-to-end tests: the real gateway, over real HTTP, with the real policy module built from
//! `policy-wasm/`, on a fresh SQLite database holding the demo data.
//!
//! One test binary, a module per area.

mod accounts;
mod browser;
mod concurrency;
mod daily_work;
mod events;
mod every_field;
mod getting_started;
mod hostile;
mod http;
mod lifecycle;
mod management;
mod roles;
mod schema;
mod secrets;
mod statements;
mod swap;
