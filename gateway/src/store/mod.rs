//! Where data is stored and read.
//!
//! ## Layout
//!
//! * [`entity`]: SeaORM entities, one per table.
//! * [`migration`]: the schema, with the domain's invariants as constraints.
//! * [`visibility`]: turns a policy's visibility into the SQL condition of a query.
//! * [`read`]: the read services: pages, lookups by id, the principal of a request.
//! * [`loaders`]: DataLoader batches for relations, so nested queries cost a fixed number of
//!   statements.

pub mod entity;
pub mod loaders;
pub mod migration;
pub mod read;
pub mod visibility;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

use crate::error::Error;

/// Opens the database at `url` and brings its schema up to date.
pub async fn open(url: &str) -> Result<DatabaseConnection, Error> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite serialises writers; a small pool avoids lock contention.
        options.max_connections(8);
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| Error::DatabaseUnavailable(format!("cannot open {}: {e}", redact(url))))?;
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => {
                    format!("{}{}:***{}", &url[..scheme + 3], &credentials[..colon], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
