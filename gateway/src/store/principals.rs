//! Principals kept between requests: who a user is to the policy in a team (roles, products,
//! security groups) is read from the database once, then reused until what it is made of
//! changes.
//!
//! A write committed through this gateway empties the cache at once, so the next request of
//! anyone it concerns reads them anew. Triggers count every change to the tables a principal
//! is read from (`access_changes`, see [`super::migration`]); a follower reads the count every
//! [`FOLLOW_EVERY`] and empties the cache when it moved, so a change made through another
//! gateway, by `fieldguard import-members` or by hand in SQL applies within that time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustc_hash::FxHashMap;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::authz::Principal;
use crate::error::Error;

/// How often the follower looks for writes of other processes.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// The most principals kept; past it the cache starts over.
const MAX_KEPT: usize = 100_000;

/// A user, and the team they asked to act in.
type Key = (i32, Option<i32>);

/// The principals of this gateway.
#[derive(Default)]
pub struct Principals {
    /// Moves on with every write seen; an entry of an older epoch is not used.
    epoch: AtomicU64,
    /// Each principal, with the epoch it was read in.
    kept: RwLock<FxHashMap<Key, (u64, Principal)>>,
}

impl Principals {
    /// The principal of `user` acting in `team` (their first team when `None`): kept, or read
    /// and kept. Refusals (a locked user, a suspended member) are never kept.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        user: i32,
        team: Option<i32>,
    ) -> Result<Principal, Error> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Ok(kept) = self.kept.read()
            && let Some((at, principal)) = kept.get(&(user, team))
            && *at == epoch
        {
            return Ok(principal.clone());
        }
        // Read after noting the epoch: a write committed meanwhile moves the epoch on, and
        // what is kept here is then not used.
        let principal = super::read::principal(db, user, team).await?;
        if let Ok(mut kept) = self.kept.write() {
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
            kept.insert((user, team), (epoch, principal.clone()));
        }
        Ok(principal)
    }

    /// A write was committed: nothing kept so far is used again.
    pub fn written(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut kept) = self.kept.write() {
            kept.clear();
        }
    }

    /// Follows the changes other processes make on `db` for as long as the cache lives.
    pub fn spawn_follower(self: &Arc<Self>, db: DatabaseConnection) {
        let principals = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                tokio::time::sleep(FOLLOW_EVERY).await;
                let Some(principals) = principals.upgrade() else { return };
                match access_changes(&db).await {
                    Ok(total) => {
                        // The first count, too: a write may have come between a principal
                        // kept before it and the count.
                        if seen != Some(total) {
                            principals.written();
                        }
                        seen = Some(total);
                    }
                    Err(error) => {
                        // Nothing known about other writers: keep nothing either.
                        tracing::warn!(%error, "cannot read the count of access changes");
                        principals.written();
                        seen = None;
                    }
                }
            }
        });
    }
}

/// How many changes to access data the database has counted.
async fn access_changes(db: &DatabaseConnection) -> Result<i64, Error> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT CAST(MAX(changes) AS BIGINT) FROM access_changes",
        ))
        .await?;
    Ok(row.map(|row| row.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
}
