//! The object types of the API, one file per area of the domain.
//!
//! Every field resolver goes through [`super::context::read`] or [`super::context::permit`]
//! first: the policy decides each field of each object. Objects are built from rows by
//! [`Build::build`], which loads in batches the attributes the policy needs (security groups,
//! relations to the principal) and classifies each object once.

mod orchestrator;
mod process_hub;
mod team;

pub use orchestrator::*;
pub use process_hub::*;
pub use team::*;

use std::future::Future;

use async_graphql::{Context, Result};
use sea_orm::Condition as Where;

use super::connection::{Connection, Node, page_args, page_in_memory};
use super::context::request;
use crate::error::ResultExt;
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

/// A connection over rows loaded whole (a nested list, loaded in a batch for many parents).
pub(crate) async fn nested<T: Node + Build>(
    ctx: &Context<'_>,
    rows: Vec<T::Row>,
    id: fn(&T::Row) -> i32,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<T>> {
    let args = page_args(first, after)?;
    let Page {
        items,
        total,
        has_next,
    } = page_in_memory(rows, id, args);
    let page = Page {
        items: T::build(ctx, items).await?,
        total,
        has_next,
    };
    Connection::new(ctx, page, args)
}

/// A connection over a page read from the database, filtered by visibility.
pub(crate) async fn listed<E, T>(
    ctx: &Context<'_>,
    filter: Where,
    id: E::Column,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<T>>
where
    E: Guarded,
    E::Model: Sync,
    T: Node + Build<Row = E::Model>,
{
    let args = page_args(first, after)?;
    let data = request(ctx)?;
    let Page {
        items,
        total,
        has_next,
    } = read::page::<E>(&data.db, &data.guard, filter, id, args)
        .await
        .gql()?;
    let page = Page {
        items: T::build(ctx, items).await?,
        total,
        has_next,
    };
    Connection::new(ctx, page, args)
}
