//! What a resolver reads from the request: the guard, the loader, the database; and the two
//! helpers every field resolver goes through.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Result};
use sea_orm::DatabaseConnection;

use super::batching::Batches;
use super::loader::RelationLoader;
use super::nulls::FieldErrors;
use crate::authz::{ClassId, Guard, Resource};
use crate::error::{Error, ResultExt};
use crate::events::EventBus;
use crate::store::loaders::Batcher;
use crate::store::principals::Principals;
use crate::store::secrets::Sealer;
use crate::store::write::WriteTurns;

/// The per-request data attached by the HTTP layer.
pub struct RequestData {
    /// The policy as this request sees it.
    pub guard: Arc<Guard>,
    /// Relation batches.
    pub loader: RelationLoader<Batcher>,
    /// The database.
    pub db: DatabaseConnection,
    /// Whose turn it is to write (SQLite has one writer at a time).
    pub turns: WriteTurns,
    /// Where committed changes are published.
    pub bus: EventBus,
    /// What seals secrets before they are stored.
    pub sealer: Arc<Sealer>,
    /// The principals the gateway keeps, forgotten when a write commits.
    pub principals: Arc<Principals>,
}

impl RequestData {
    /// The data of a request acting under `guard`. Its relation loads are run by `batches`
    /// (see [`Batches::run`]); without it (a subscription's events, which arrive long after
    /// the request) they are spawned on the runtime.
    pub fn new(
        db: DatabaseConnection,
        guard: Arc<Guard>,
        turns: WriteTurns,
        bus: EventBus,
        sealer: Arc<Sealer>,
        principals: Arc<Principals>,
        batches: Option<&Batches>,
    ) -> Self {
        let batcher = Batcher::new(db.clone(), guard.clone());
        let loader = match batches {
            Some(batches) => RelationLoader::in_request(batcher, batches),
            None => RelationLoader::spawning(batcher),
        };
        Self { guard, loader, db, turns, bus, sealer, principals }
    }
}

/// The request data; a schema executed without it is a programming error, reported as such.
pub fn request<'a>(ctx: &Context<'a>) -> Result<&'a RequestData> {
    ctx.data::<RequestData>().map_err(|_| {
        Error::Unauthenticated("this request carries no credentials".into()).to_graphql()
    })
}

/// Interns the attributes of an object for the request's memo.
pub fn classify(ctx: &Context<'_>, resource: Resource) -> Result<ClassId> {
    Ok(request(ctx)?.guard.classify(resource))
}

/// Asks the policy whether the field being resolved may be read on objects of `class`.
pub fn permit(ctx: &Context<'_>, class: ClassId) -> Result<()> {
    request(ctx)?.guard.permit(class, ctx.field().name()).gql()
}

/// The value of the field being resolved, if the policy allows reading it; otherwise `null`,
/// its error recorded with its path (async-graphql reports the error of a field read through
/// an interface without one). A request that keeps no [`FieldErrors`] gets the error itself.
pub fn read<T>(ctx: &Context<'_>, class: ClassId, value: impl FnOnce() -> T) -> Result<Option<T>> {
    match permit(ctx, class) {
        Ok(()) => Ok(Some(value())),
        Err(refused) => match ctx.data_opt::<FieldErrors>() {
            Some(errors) => {
                let mut error = refused.into_server_error(ctx.item.pos);
                error.path = super::nulls::path(ctx);
                errors.record(error);
                Ok(None)
            }
            None => Err(refused),
        },
    }
}

/// Loads relation keys through the request's batcher; keys with nothing behind them are absent.
pub async fn load_many<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> Result<HashMap<K, <Batcher as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    Batcher: Loader<K, Error = Arc<Error>>,
{
    request(ctx)?.loader.load_many(keys).await.map_err(|error| error.to_graphql())
}

/// Loads one relation key through the request's batcher.
pub async fn load<K>(ctx: &Context<'_>, key: K) -> Result<Option<<Batcher as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    Batcher: Loader<K, Error = Arc<Error>>,
{
    request(ctx)?.loader.load_one(key).await.map_err(|error| error.to_graphql())
}
