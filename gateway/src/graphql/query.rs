//! The query root: where every read enters.

use async_graphql::{Context, ID, Object, Result};
use sea_orm::EntityTrait;

use super::context::{classify, permit, request};
use super::node::Node;
use super::types::*;
use crate::authz::{ClassId, Resource};
use crate::error::ResultExt;
use crate::store::entity::*;
use crate::store::read;
use crate::store::visibility::Guarded;

/// The entry points of the team's reads.
#[derive(Default)]
pub struct Reads;

fn root(ctx: &Context<'_>) -> Result<ClassId> {
    let class = classify(ctx, Resource::plain("Query"))?;
    permit(ctx, class)?;
    Ok(class)
}

/// The visible `E` with this id, behind the entry-point check.
async fn by_id<E, T>(ctx: &Context<'_>, id: &ID) -> Result<Option<T>>
where
    E: Guarded,
    T: Build<Row = E::Model>,
{
    root(ctx)?;
    super::node::find::<E, T>(ctx, id).await
}

#[Object]
impl Reads {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        root(ctx)?;
        let data = request(ctx)?;
        let row =
            user::Entity::find_by_id(data.guard.principal().user).one(&data.db).await.gql()?;
        build_one(ctx, row).await
    }

    /// The teams the signed-in user belongs to, and their role in each.
    async fn my_teams(&self, ctx: &Context<'_>) -> Result<Option<Vec<MyTeam>>> {
        root(ctx)?;
        let data = request(ctx)?;
        let principal = data.guard.principal();
        let class = classify(ctx, Resource::plain("MyTeam"))?;
        let teams = read::teams_of(&data.db, principal.user).await.gql()?;
        Ok(Some(
            teams
                .into_iter()
                .map(|(membership, team)| MyTeam {
                    class,
                    acting: team.id == principal.team,
                    role: membership.portal_role,
                    team,
                })
                .collect(),
        ))
    }

    /// The team this request acts in (chosen with the `X-Fieldguard-Team` header).
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        root(ctx)?;
        let data = request(ctx)?;
        let row = read::team(&data.db, data.guard.principal().team).await.gql()?;
        build_one(ctx, row).await
    }

    /// An orchestrator by id.
    async fn orchestrator(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Orchestrator>> {
        by_id::<orchestrator::Entity, _>(ctx, &id).await
    }

    /// A workflow by id.
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Workflow>> {
        by_id::<workflow::Entity, _>(ctx, &id).await
    }

    /// A bot runner by id.
    async fn bot_runner(&self, ctx: &Context<'_>, id: ID) -> Result<Option<BotRunner>> {
        by_id::<bot_runner::Entity, _>(ctx, &id).await
    }

    /// A Process Hub process by id.
    async fn process(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Process>> {
        by_id::<process::Entity, _>(ctx, &id).await
    }

    /// A security group by id.
    async fn security_group(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SecurityGroup>> {
        by_id::<security_group::Entity, _>(ctx, &id).await
    }

    /// Any object by its global id (`Type:number`).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        root(ctx)?;
        super::node::resolve(ctx, &id).await
    }

    /// The policy version this request runs under.
    async fn policy(&self, ctx: &Context<'_>) -> Result<Option<PolicyInfo>> {
        root(ctx)?;
        let data = request(ctx)?;
        let class = classify(ctx, Resource::plain("PolicyInfo"))?;
        Ok(Some(PolicyInfo { class, info: data.guard.policy().info.clone() }))
    }
}
