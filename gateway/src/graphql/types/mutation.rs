//! What every mutation resolver shares: beginning the write (the policy's first word on the
//! mutation), committing it and building the answer, and reading the ids and optional fields
//! of its arguments.

use async_graphql::{Context, ID, MaybeUndefined, Result};

use super::Build;
use crate::authz::Resource;
use crate::error::{Error, ResultExt};
use crate::graphql::context::{classify, permit, request};
use crate::graphql::node::local_id;
use crate::store::write::Write;

/// Begins the write of the mutation being resolved, if the policy lets the caller use it.
pub(crate) async fn begin<'a>(ctx: &Context<'a>) -> Result<Write<'a>> {
    let class = classify(ctx, Resource::plain("Mutation"))?;
    permit(ctx, class)?;
    let data = request(ctx)?;
    Write::begin(&data.db, &data.turns, &data.guard, Some(&data.bus), Some(&data.principals))
        .await
        .gql()
}

/// Commits a write and builds its answer from the row it returned.
pub(crate) async fn done<T: Build>(ctx: &Context<'_>, w: Write<'_>, row: T::Row) -> Result<T> {
    w.commit().await.gql()?;
    T::build(ctx, vec![row]).await?.pop().ok_or_else(|| {
        Error::NotFound("the object is no longer visible to you".into()).to_graphql()
    })
}

/// The number in an id argument that names a `type_name` (its global id or the bare number).
pub(crate) fn id_of(id: &ID, type_name: &str, argument: &str) -> Result<i32> {
    local_id(id, type_name).ok_or_else(|| {
        Error::InvalidInput(format!(
            "{argument} takes the id of a {type_name} (`{type_name}:12` or `12`), not `{}`",
            id.as_str()
        ))
        .to_graphql()
    })
}

/// A field that may be left out (`None`), cleared (`Some(None)`) or set.
pub(crate) fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

/// The numbers of a list of id arguments that name `type_name`s.
pub(crate) fn ids_of(ids: &[ID], type_name: &str, argument: &str) -> Result<Vec<i32>> {
    ids.iter().map(|id| id_of(id, type_name, argument)).collect()
}
