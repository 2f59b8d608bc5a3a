//! Where data is stored and read.
//!
//! ## Layout
//!
//! * [`entity`]: SeaORM entities, one per table.
//! * [`migration`]: the schema, with the domain's invariants as constraints.
//! * [`visibility`]: turns a policy's visibility into the SQL condition of a query.
//! * [`read`]: the read services: pages, lookups by id, the principal of a request.
//! * [`principals`]: principals kept between requests until a write commits.
//! * [`write`]: the write services: one transaction per mutation, the invariants, the audit.
//! * [`policies`]: deployed policy versions and the history of which one is in force.
//! * [`secrets`]: sealed passwords, hashed tokens, the keys kept in the data directory.
//! * [`loaders`]: DataLoader batches for relations, so nested queries cost a fixed number of
//!   statements.

pub mod entity;
pub mod loaders;
pub mod migration;
pub mod policies;
pub mod principals;
pub mod read;
pub mod secrets;
pub mod visibility;
pub mod write;

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
        // Each connection's rows cross from its thread in a channel; room for a whole page of
        // them lets the thread run through a query instead of waking the reader every 50 rows.
        options.map_sqlx_sqlite_opts(|sqlite| sqlite.row_buffer_size(1024));
    }
    let db = Database::connect(options).await.map_err(|e| {
        Error::DatabaseUnavailable(format!(
            "cannot open {}: {}",
            redact(url),
            hide_password(url, &e.to_string())
        ))
    })?;
    migrate(&db).await?;
    Ok(db)
}

/// Brings the schema up to date. Another process may be migrating the same fresh database at
/// the same moment (a server and a `fieldguard token` started together); the schema is
/// idempotent, so a failed attempt is retried and then finds the work done.
async fn migrate(db: &DatabaseConnection) -> Result<(), Error> {
    const ATTEMPTS: u32 = 5;
    let mut attempt = 1;
    loop {
        match migration::Migrator::up(db, None).await {
            Ok(()) => return Ok(()),
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!(%error, attempt, "migrating the database failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// `text` with the password of `url` (if it has one) masked: drivers quote the URL they could
/// not parse.
fn hide_password(url: &str, text: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(credentials, _)| credentials.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    match password {
        Some(password) => text.replace(password, "***"),
        None => text.to_owned(),
    }
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
