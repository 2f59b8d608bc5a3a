//! Policy versions as the database keeps them: every module ever deployed, and the history of
//! activations. The latest activation is the version in force on every gateway of the
//! database; that is what makes a fleet converge and the active version survive a restart.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entity::{policy_activation, policy_version};
use crate::error::Error;

/// Why a version was put in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationKind {
    /// Deployed and activated in one step.
    Deploy,
    /// A stored version activated by its hash.
    Activate,
    /// The version in force before the current one, activated again.
    Rollback,
}

impl ActivationKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "DEPLOY",
            Self::Activate => "ACTIVATE",
            Self::Rollback => "ROLLBACK",
        }
    }
}

/// What is recorded about a module when it is deployed.
pub struct NewVersion<'a> {
    /// `sha256:` and the hex digest of the module.
    pub hash: &'a str,
    /// The name the policy gives itself.
    pub name: &'a str,
    /// The contract it was built for.
    pub contract: &'a str,
    /// The module's bytes.
    pub module: &'a [u8],
    /// Who deployed it.
    pub deployed_by: &'a str,
    /// Why, in words.
    pub note: Option<&'a str>,
}

/// Stores a deployed module; deploying the same bytes again keeps the first record.
pub async fn store(db: &impl ConnectionTrait, version: &NewVersion<'_>) -> Result<(), Error> {
    if policy_version::Entity::find_by_id(version.hash.to_owned()).one(db).await?.is_some() {
        return Ok(());
    }
    policy_version::ActiveModel {
        hash: Set(version.hash.to_owned()),
        name: Set(version.name.to_owned()),
        contract: Set(version.contract.to_owned()),
        size: Set(i32::try_from(version.module.len()).unwrap_or(i32::MAX)),
        module: Set(version.module.to_vec()),
        deployed_by: Set(version.deployed_by.to_owned()),
        note: Set(version.note.map(str::to_owned)),
        deployed_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The PostgreSQL channel on which an activation is announced to the fleet.
pub const ACTIVATIONS_CHANNEL: &str = "fieldguard_policy_activations";

/// Records that `hash` is in force from now on. On PostgreSQL the activation is announced on
/// [`ACTIVATIONS_CHANNEL`] too, when it commits.
pub async fn activate(
    db: &impl ConnectionTrait,
    hash: &str,
    kind: ActivationKind,
    by: &str,
) -> Result<policy_activation::Model, Error> {
    let activation = policy_activation::ActiveModel {
        hash: Set(hash.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        activated_by: Set(by.to_owned()),
        activated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [ACTIVATIONS_CHANNEL.into(), hash.into()],
        ))
        .await?;
    }
    Ok(activation)
}

/// The latest activation: the version in force on the database's gateways.
pub async fn current(db: &impl ConnectionTrait) -> Result<Option<policy_activation::Model>, Error> {
    Ok(policy_activation::Entity::find()
        .order_by_desc(policy_activation::Column::Id)
        .one(db)
        .await?)
}

/// The version in force before the current one: the latest activation of another hash.
pub async fn previous(db: &impl ConnectionTrait) -> Result<Option<String>, Error> {
    let Some(current) = current(db).await? else {
        return Ok(None);
    };
    Ok(policy_activation::Entity::find()
        .filter(policy_activation::Column::Hash.ne(current.hash))
        .order_by_desc(policy_activation::Column::Id)
        .one(db)
        .await?
        .map(|activation| activation.hash))
}

/// A stored version, with its module.
pub async fn version(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<policy_version::Model>, Error> {
    Ok(policy_version::Entity::find_by_id(hash.to_owned()).one(db).await?)
}

/// The stored versions whose hash starts with `prefix` (at most two: one is an answer, two
/// an ambiguity).
pub async fn matching(
    db: &impl ConnectionTrait,
    prefix: &str,
) -> Result<Vec<policy_version::Model>, Error> {
    Ok(policy_version::Entity::find()
        .filter(policy_version::Column::Hash.starts_with(prefix))
        .limit(2)
        .all(db)
        .await?)
}

/// The most versions listed at once.
pub const MAX_LISTED: u64 = 1000;

/// The stored versions, newest first (at most `limit`, at most [`MAX_LISTED`]), without their
/// modules.
pub async fn versions(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<policy_version::Model>, Error> {
    use policy_version::Column as C;
    /// A stored version without its module.
    #[derive(sea_orm::FromQueryResult)]
    struct Listed {
        hash: String,
        name: String,
        contract: String,
        size: i32,
        deployed_by: String,
        note: Option<String>,
        deployed_at: chrono::DateTime<Utc>,
    }
    let rows = policy_version::Entity::find()
        .select_only()
        .columns([C::Hash, C::Name, C::Contract, C::Size, C::DeployedBy, C::Note, C::DeployedAt])
        .order_by_desc(C::DeployedAt)
        .limit(limit.min(MAX_LISTED))
        .into_model::<Listed>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| policy_version::Model {
            hash: row.hash,
            name: row.name,
            contract: row.contract,
            size: row.size,
            module: Vec::new(),
            deployed_by: row.deployed_by,
            note: row.note,
            deployed_at: row.deployed_at,
        })
        .collect())
}
