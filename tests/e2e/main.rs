//! End-to-end tests: the real gateway, over real HTTP, with the real policy module built from
//! `policy-wasm/`, on a fresh database holding the demo data.
//!
//! One test binary, a module per area. Every area that reads or writes data runs twice, once
//! on SQLite (`sqlite::…`) and once on PostgreSQL (`postgres::…`, a throwaway cluster the
//! tests start themselves): the same test files, compiled once per database; `databases` compares the two. The areas about
//! the policy host, the schema and the browser run once, on SQLite.

/// The areas that run on every database, each compiled into a module per database whose
/// `TestServer` stores its data there.
macro_rules! on_every_database {
    ($($database:ident: $backend:ty),* $(,)?) => {$(
        // Loading each file once per database is the point.
        #[allow(clippy::duplicate_mod)]
        #[path = "."]
        mod $database {
            /// A gateway storing its data in this module's database.
            pub type TestServer = fieldguard_e2e::TestServer<$backend>;

            mod accounts;
            mod concurrency;
            mod daily_work;
            mod events;
            mod every_field;
            mod getting_started;
            mod http;
            mod management;
            mod roles;
            mod secrets;
            mod statements;
        }
    )*};
}

on_every_database!(sqlite: fieldguard_e2e::Sqlite, postgres: fieldguard_e2e::Postgres);

/// The gateway of the areas that run once: on SQLite.
type TestServer = fieldguard_e2e::TestServer<fieldguard_e2e::Sqlite>;

mod browser;
mod databases;
mod hostile;
mod identity;
mod lifecycle;
mod limits;
mod logs;
mod operation;
mod over_http;
mod schema;
mod swap;
