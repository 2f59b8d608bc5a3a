//! Read services: the principal of a request, pages of a team's objects, lookups by id.
//!
//! Every query here is scoped to the acting team and filtered by the policy's visibility for
//! the table, so counts and pages are computed after filtering and invisible rows are never
//! fetched.

use sea_orm::{
    ColumnTrait, Condition as Where, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::entity::*;
use super::visibility::{Guarded, condition};
use crate::authz::{self, Guard};
use crate::error::Error;

/// The largest page a client may ask for.
pub const MAX_PAGE: u64 = 1000;
/// The page size when a client asks for none.
pub const DEFAULT_PAGE: u64 = 50;

/// Forward pagination: `first` rows after the row with id `after`, in id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageArgs {
    /// How many rows.
    pub first: u64,
    /// The id of the last row already seen.
    pub after: Option<i32>,
}

/// One page of rows, with the size of the whole filtered list.
#[derive(Clone, Debug)]
pub struct Page<M> {
    /// The rows.
    pub items: Vec<M>,
    /// How many rows the whole list has, after filtering.
    pub total: u64,
    /// Whether rows follow this page.
    pub has_next: bool,
}

/// The visibility condition of `E` for the request, scoped to its team.
pub fn visible<E: Guarded>(guard: &Guard) -> Where {
    let principal = guard.principal();
    Where::all()
        .add(E::in_team(principal.team))
        .add(condition::<E>(&guard.visibility(E::TYPE_NAME), principal.user))
}

/// A page of the rows of `E` the request may see, among those `filter` selects.
pub async fn page<E: Guarded>(
    db: &impl ConnectionTrait,
    guard: &Guard,
    filter: Where,
    args: PageArgs,
) -> Result<Page<E::Model>, Error>
where
    E::Model: Sync,
{
    let id = id_column::<E>()?;
    let select: Select<E> = E::find().filter(visible::<E>(guard)).filter(filter);
    let total = select.clone().count(db).await?;
    let mut rows = select;
    if let Some(after) = args.after {
        rows = rows.filter(id.gt(after));
    }
    let first = args.first.min(MAX_PAGE);
    let mut items = rows.order_by_asc(id).limit(first + 1).all(db).await?;
    let has_next = items.len() as u64 > first;
    items.truncate(first as usize);
    Ok(Page { items, total, has_next })
}

/// The id column of a table keyed by one integer column.
pub(crate) fn id_column<E: EntityTrait>() -> Result<E::Column, Error> {
    use sea_orm::{Iterable, PrimaryKeyToColumn};
    E::PrimaryKey::iter().next().map(PrimaryKeyToColumn::into_column).ok_or_else(|| {
        Error::Database(sea_orm::DbErr::Custom("a paged table has no primary key".into()))
    })
}

/// The row of `E` with this id, if the request may see it.
pub async fn by_id<E: Guarded>(
    db: &impl ConnectionTrait,
    guard: &Guard,
    id: i32,
) -> Result<Option<E::Model>, Error> {
    let column = id_column::<E>()?;
    Ok(E::find().filter(visible::<E>(guard)).filter(column.eq(id)).one(db).await?)
}

/// The acting team's row (never filtered: the principal is a member).
pub async fn team(db: &DatabaseConnection, id: i32) -> Result<Option<team::Model>, Error> {
    Ok(team::Entity::find_by_id(id).one(db).await?)
}

/// The teams a user belongs to, with their membership, in membership order.
pub async fn teams_of(
    db: &DatabaseConnection,
    user: i32,
) -> Result<Vec<(membership::Model, team::Model)>, Error> {
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user))
        .filter(membership::Column::Suspended.eq(false))
        .order_by_asc(membership::Column::Id)
        .all(db)
        .await?;
    let teams = team::Entity::find()
        .filter(team::Column::Id.is_in(memberships.iter().map(|m| m.team_id)))
        .all(db)
        .await?;
    Ok(memberships
        .into_iter()
        .filter_map(|m| teams.iter().find(|t| t.id == m.team_id).cloned().map(|t| (m, t)))
        .collect())
}

/// The id of the user with this (lower-case) email, if there is one.
pub async fn user_id_by_email(db: &DatabaseConnection, email: &str) -> Result<Option<i32>, Error> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
        .map(|user| user.id))
}

/// Works out who a request acts for: the user must exist and be active, and be a member of
/// the chosen team (or, with none chosen, of any team: their first).
pub async fn principal(
    db: &DatabaseConnection,
    user_id: i32,
    team: Option<i32>,
) -> Result<authz::Principal, Error> {
    let user = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::Unauthenticated("the token names no known user".into()))?;
    if user.status == UserStatus::Locked {
        return Err(Error::Unauthenticated("this account is locked".into()));
    }
    let mut memberships = membership::Entity::find().filter(membership::Column::UserId.eq(user.id));
    if let Some(team) = team {
        memberships = memberships.filter(membership::Column::TeamId.eq(team));
    }
    if team.is_none() {
        memberships = memberships.filter(membership::Column::Suspended.eq(false));
    }
    let membership =
        memberships.order_by_asc(membership::Column::Id).one(db).await?.ok_or_else(|| {
            Error::Unauthenticated(match team {
                Some(team) => format!("you are not a member of team {team}"),
                None => "you are not a member of any team".into(),
            })
        })?;
    if membership.suspended {
        return Err(Error::Unauthenticated(format!(
            "your membership of team {} is suspended; ask a team admin to reactivate it",
            membership.team_id
        )));
    }
    let team = team::Entity::find_by_id(membership.team_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::Unauthenticated("the team no longer exists".into()))?;
    let products = membership_product::Entity::find()
        .filter(membership_product::Column::MembershipId.eq(membership.id))
        .all(db)
        .await?;
    let mut security_groups: Vec<i32> = security_group::Entity::find()
        .select_only()
        .column(security_group::Column::Id)
        .filter(security_group::Column::TeamId.eq(team.id))
        .filter(security_group::Column::Enabled.eq(true))
        .filter(
            security_group::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(security_group_member::Column::SecurityGroupId)
                    .from(security_group_member::Entity)
                    .and_where(security_group_member::Column::UserId.eq(user.id))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    security_groups.sort_unstable();
    Ok(authz::Principal {
        user: user.id,
        team: team.id,
        portal_role: portal_role(membership.portal_role),
        products: products.into_iter().map(|p| product(p.product)).collect(),
        orchestrator_role: membership.orchestrator_role.map(|role| match role {
            OrchestratorRole::Admin => authz::OrchestratorRole::Admin,
            OrchestratorRole::Developer => authz::OrchestratorRole::Developer,
            OrchestratorRole::Operator => authz::OrchestratorRole::Operator,
            OrchestratorRole::Analyst => authz::OrchestratorRole::Analyst,
        }),
        process_hub_role: membership.process_hub_role.map(|role| match role {
            ProcessHubRole::Administrator => authz::ProcessHubRole::Administrator,
            ProcessHubRole::ProcessManager => authz::ProcessHubRole::ProcessManager,
            ProcessHubRole::User => authz::ProcessHubRole::User,
        }),
        security_groups,
        audit_log_access: membership.audit_log_access,
        advanced_access_management: team.advanced_access_management,
    })
}

pub(crate) fn portal_role(role: PortalRole) -> authz::PortalRole {
    match role {
        PortalRole::Owner => authz::PortalRole::Owner,
        PortalRole::Admin => authz::PortalRole::Admin,
        PortalRole::SecurityAdmin => authz::PortalRole::SecurityAdmin,
        PortalRole::Member => authz::PortalRole::Member,
        PortalRole::BillingContact => authz::PortalRole::BillingContact,
    }
}

fn product(product: Product) -> authz::Product {
    match product {
        Product::StudioPro => authz::Product::StudioPro,
        Product::BotRunner => authz::Product::BotRunner,
        Product::Orchestrator => authz::Product::Orchestrator,
        Product::ProcessHub => authz::Product::ProcessHub,
        Product::Integrabots => authz::Product::Integrabots,
    }
}

/// The owner's membership of the acting team, if visible.
pub async fn owner(
    db: &DatabaseConnection,
    guard: &Guard,
) -> Result<Option<membership::Model>, Error> {
    Ok(membership::Entity::find()
        .filter(visible::<membership::Entity>(guard))
        .filter(membership::Column::PortalRole.eq(PortalRole::Owner))
        .one(db)
        .await?)
}
