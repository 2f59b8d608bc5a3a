//! The object types of the API, one file per area of the domain; each area's mutations sit
//! beside its types (`team_actions` beside `team`, `orchestrator_actions` beside
//! `orchestrator`, `process_hub_actions` beside `process_hub`), and share [`mutation`].
//!
//! Every field resolver goes through [`super::context::read`] or [`super::context::permit`]
//! first: the policy decides each field of each object. Objects are built from rows by
//! [`Build::build`], which loads in batches the attributes the policy needs (security groups,
//! relations to the principal) and classifies each object once.
//!
//! Where an object is an element of a list or the end of a relation, it is returned as
//! [`Inline`]: its fields are resolved together in its own future, without a future boxed
//! per field (see [`super::inline`]). The roots, the team and mutation payloads resolve one
//! object each and keep async-graphql's own resolution.

mod mutation;
mod orchestrator;
mod orchestrator_actions;
mod process_hub;
mod process_hub_actions;
mod team;
mod team_actions;

pub use orchestrator::*;
pub use orchestrator_actions::*;
pub use process_hub::*;
pub use process_hub_actions::*;
pub use team::*;
pub use team_actions::*;

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Result};
use sea_orm::Condition as Where;

use super::connection::{Connection, Node, page_args, page_in_memory};
use super::context::{classify, load, load_many, permit, request};
use super::inline::Inline;
use crate::authz::{ClassId, Resource};
use crate::error::{Error, ResultExt};
use crate::store::loaders::Batcher;
use crate::store::read::{self, Page};
use crate::store::visibility::Guarded;

/// An object type built from database rows.
pub trait Build: Sized + Send {
    /// The row it is built from.
    type Row: Send;

    /// Builds objects from rows, loading what the policy needs to know about them.
    fn build(
        ctx: &Context<'_>,
        rows: Vec<Self::Row>,
    ) -> impl Future<Output = Result<Vec<Self>>> + Send;
}

/// Builds one object from an optional row.
pub(crate) async fn build_one<T: Build>(
    ctx: &Context<'_>,
    row: Option<T::Row>,
) -> Result<Option<T>> {
    match row {
        None => Ok(None),
        Some(row) => Ok(T::build(ctx, vec![row]).await?.pop()),
    }
}

/// The object behind a relation key, built as a relation's answer: `None` when there is no
/// key (a nullable foreign key) or nothing visible behind it.
pub(crate) async fn build_key<K, T>(ctx: &Context<'_>, key: Option<K>) -> Result<Option<Inline<T>>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Batcher: Loader<K, Value = T::Row, Error = Arc<Error>>,
    T: Build,
{
    match key {
        None => Ok(None),
        Some(key) => Ok(build_one(ctx, load(ctx, key).await?).await?.map(Inline)),
    }
}

/// The field being resolved on an object of `class`, listing the `T`s related to it through
/// `key`: checked by the policy, loaded in one batch with the siblings' lists, then paged.
pub(crate) async fn related<K, T>(
    ctx: &Context<'_>,
    class: ClassId,
    key: K,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Option<Connection<T>>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Batcher: Loader<K, Value = Vec<T::Row>, Error = Arc<Error>>,
    T: Node + Build,
    T::Row: HasId,
{
    permit(ctx, class)?;
    let rows = load(ctx, key).await?.unwrap_or_default();
    let args = page_args(first, after)?;
    let Page { items, total, has_next } = page_in_memory(rows, HasId::id, args);
    let page = Page { items: T::build(ctx, items).await?, total, has_next };
    decide_page(ctx, &page.items)?;
    Connection::new(ctx, page, args).map(Some)
}

/// The field being resolved on an object of `class`, listing the team's `T`s: checked by the
/// policy, then one page read from the database, filtered by visibility.
pub(crate) async fn team_list<E, T>(
    ctx: &Context<'_>,
    class: ClassId,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Option<Connection<T>>>
where
    E: Guarded,
    E::Model: Sync,
    T: Node + Build<Row = E::Model>,
{
    team_list_where::<E, T>(ctx, class, Where::all(), first, after).await
}

/// [`team_list`], among the rows `filter` selects.
pub(crate) async fn team_list_where<E, T>(
    ctx: &Context<'_>,
    class: ClassId,
    filter: Where,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Option<Connection<T>>>
where
    E: Guarded,
    E::Model: Sync,
    T: Node + Build<Row = E::Model>,
{
    permit(ctx, class)?;
    let args = page_args(first, after)?;
    let data = request(ctx)?;
    let Page { items, total, has_next } =
        read::page::<E>(&data.db, &data.guard, filter, args).await.gql()?;
    let page = Page { items: T::build(ctx, items).await?, total, has_next };
    decide_page(ctx, &page.items)?;
    Connection::new(ctx, page, args).map(Some)
}

/// Asks the policy in one batch about every field the query reads on the nodes of the list
/// being resolved, for every class of object on the page, so that resolving the page's fields
/// finds every decision made. (Without it, each (class, field) would be one call.)
fn decide_page<T: Node>(ctx: &Context<'_>, items: &[T]) -> Result<()> {
    let mut fields: Vec<&str> = Vec::new();
    for child in ctx.field().selection_set() {
        match child.name() {
            "nodes" => fields.extend(child.selection_set().map(|field| field.name())),
            "edges" => {
                for edge in child.selection_set().filter(|field| field.name() == "node") {
                    fields.extend(edge.selection_set().map(|field| field.name()));
                }
            }
            _ => {}
        }
    }
    fields.retain(|field| !field.starts_with("__"));
    fields.sort_unstable();
    fields.dedup();
    let mut classes: Vec<ClassId> = items.iter().map(Node::class).collect();
    classes.sort_unstable();
    classes.dedup();
    if !fields.is_empty() && !classes.is_empty() {
        request(ctx)?.guard.prefetch(&classes, &fields);
    }
    Ok(())
}

/// Builds objects whose security groups come from the relation `key`, loaded in one batch
/// for all the rows; `make` receives each row with its class and its groups.
pub(crate) async fn grouped<K, R, T>(
    ctx: &Context<'_>,
    type_name: &'static str,
    rows: Vec<R>,
    key: impl Fn(&R) -> K,
    make: impl Fn(R, ClassId, Vec<i32>) -> T,
) -> Result<Vec<T>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Batcher: Loader<K, Value = Vec<i32>, Error = Arc<Error>>,
{
    let groups = load_many(ctx, rows.iter().map(&key)).await?;
    rows.into_iter()
        .map(|row| {
            let ids = groups.get(&key(&row)).cloned().unwrap_or_default();
            let class = classify(ctx, Resource::grouped(type_name, ids.iter().copied()))?;
            Ok(make(row, class, ids))
        })
        .collect()
}

/// A row with an integer id.
pub(crate) trait HasId {
    /// Its id.
    fn id(&self) -> i32;
}

macro_rules! has_id {
    ($($table:ident),+) => {
        $(impl HasId for crate::store::entity::$table::Model {
            fn id(&self) -> i32 {
                self.id
            }
        })+
    };
}

has_id!(
    membership,
    invitation,
    security_group,
    orchestrator,
    workflow,
    workflow_run,
    bot_runner,
    process,
    job,
    task,
    form,
    audit_entry
);
