//! The team and its people: teams, users, memberships, invitations, security groups, the
//! audit log, and the policy in force.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{
    AuditLogFilter, BotRunner, Build, Form, Job, Orchestrator, Process, Task, Workflow, build_key,
    build_one, grouped, related, team_list, team_list_where,
};
use crate::authz::{ClassId, PolicyInfo as Info, Relation, Resource};
use crate::graphql::connection::Connection;
use crate::graphql::context::{classify, load, load_many, permit, read, request};
use crate::graphql::inline::Inline;
use crate::graphql::node::global_id;
use crate::store::entity::*;
use crate::store::loaders::*;

/// The team a request acts in.
#[derive(Clone)]
pub struct Team {
    pub(crate) row: team::Model,
    pub(crate) class: ClassId,
}

impl Build for Team {
    type Row = team::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<team::Model>) -> Result<Vec<Self>> {
        let class = classify(ctx, Resource::plain("Team"))?;
        Ok(rows.into_iter().map(|row| Self { row, class }).collect())
    }
}

#[Object]
impl Team {
    /// The team's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Team", self.row.id))
    }
    /// The team's name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// Whether Advanced Access Management limits objects to security groups.
    async fn advanced_access_management(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.advanced_access_management)
    }
    /// The billing plan.
    async fn billing_plan(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.billing_plan.as_str())
    }
    /// The owner's membership.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<Membership>> {
        permit(ctx, self.class)?;
        let data = request(ctx)?;
        let row =
            crate::store::read::owner(&data.db, &data.guard).await.map_err(|e| e.to_graphql())?;
        build_one(ctx, row).await
    }
    /// The members, with their roles and products.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Membership>>> {
        team_list::<membership::Entity, _>(ctx, self.class, first, after).await
    }
    /// Invitations sent by the team.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Invitation>>> {
        team_list::<invitation::Entity, _>(ctx, self.class, first, after).await
    }
    /// Security groups.
    async fn security_groups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<SecurityGroup>>> {
        team_list::<security_group::Entity, _>(ctx, self.class, first, after).await
    }
    /// Orchestrators.
    async fn orchestrators(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Orchestrator>>> {
        team_list::<orchestrator::Entity, _>(ctx, self.class, first, after).await
    }
    /// Workflows of every orchestrator.
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Workflow>>> {
        team_list::<workflow::Entity, _>(ctx, self.class, first, after).await
    }
    /// Bot runners.
    async fn bot_runners(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<BotRunner>>> {
        team_list::<bot_runner::Entity, _>(ctx, self.class, first, after).await
    }
    /// Process Hub processes.
    async fn processes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Process>>> {
        team_list::<process::Entity, _>(ctx, self.class, first, after).await
    }
    /// Process Hub jobs.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Job>>> {
        team_list::<job::Entity, _>(ctx, self.class, first, after).await
    }
    /// Process Hub tasks.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Task>>> {
        team_list::<task::Entity, _>(ctx, self.class, first, after).await
    }
    /// Process Hub forms.
    async fn forms(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Form>>> {
        team_list::<form::Entity, _>(ctx, self.class, first, after).await
    }
    /// The audit log, oldest first: what you may see of it, among the entries `filter` selects.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<AuditEntry>>> {
        let filter = filter.unwrap_or_default().condition()?;
        team_list_where::<audit_entry::Entity, _>(ctx, self.class, filter, first, after).await
    }
}

/// One of the teams the signed-in user belongs to.
pub struct MyTeam {
    pub(crate) class: ClassId,
    pub(crate) team: team::Model,
    pub(crate) role: PortalRole,
    pub(crate) acting: bool,
}

#[Object]
impl MyTeam {
    /// The team's id: send it as the `X-Fieldguard-Team` header to act in this team.
    async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || ID::from(self.team.id))
    }
    /// The team's name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.team.name.as_str())
    }
    /// Your portal role there.
    async fn portal_role(&self, ctx: &Context<'_>) -> Result<Option<PortalRole>> {
        read(ctx, self.class, || self.role)
    }
    /// Whether this request acts in that team.
    async fn acting(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.acting)
    }
}

/// A person with an account.
#[derive(Clone)]
pub struct User {
    pub(crate) row: user::Model,
    pub(crate) class: ClassId,
}

impl Build for User {
    type Row = user::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<user::Model>) -> Result<Vec<Self>> {
        let me = request(ctx)?.guard.principal().user;
        rows.into_iter()
            .map(|row| {
                let relation = Relation::NONE.with(Relation::IS_PRINCIPAL, row.id == me);
                let class = classify(ctx, Resource::plain("User").related(relation))?;
                Ok(Self { row, class })
            })
            .collect()
    }
}

/// Loads and builds the user with this id, if visible.
pub(crate) async fn user(ctx: &Context<'_>, id: Option<i32>) -> Result<Option<Inline<User>>> {
    build_key(ctx, id.map(UserById)).await
}

#[Object]
impl User {
    /// The user's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("User", self.row.id))
    }
    /// Their email address (lower case).
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.email.as_str())
    }
    /// Their display name.
    async fn display_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.display_name.as_str())
    }
    /// Whether they may sign in.
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<UserStatus>> {
        read(ctx, self.class, || self.row.status)
    }
}

/// A user's place in the team: roles, products, flags.
#[derive(Clone)]
pub struct Membership {
    pub(crate) row: membership::Model,
    pub(crate) class: ClassId,
}

impl Build for Membership {
    type Row = membership::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<membership::Model>) -> Result<Vec<Self>> {
        let me = request(ctx)?.guard.principal().user;
        rows.into_iter()
            .map(|row| {
                let relation = Relation::NONE.with(Relation::IS_PRINCIPAL, row.user_id == me);
                let class = classify(ctx, Resource::plain("Membership").related(relation))?;
                Ok(Self { row, class })
            })
            .collect()
    }
}

#[Object]
impl Membership {
    /// The membership's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Membership", self.row.id))
    }
    /// The member.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, Some(self.row.user_id)).await
    }
    /// Their portal role.
    async fn portal_role(&self, ctx: &Context<'_>) -> Result<Option<PortalRole>> {
        read(ctx, self.class, || self.row.portal_role)
    }
    /// The products enabled for them. OWNER and ADMIN have every product.
    async fn products(&self, ctx: &Context<'_>) -> Result<Option<Vec<Product>>> {
        permit(ctx, self.class)?;
        if matches!(self.row.portal_role, PortalRole::Owner | PortalRole::Admin) {
            use sea_orm::Iterable;
            return Ok(Some(Product::iter().collect()));
        }
        Ok(Some(load(ctx, ProductsOfMembership(self.row.id)).await?.unwrap_or_default()))
    }
    /// Their Orchestrator role.
    async fn orchestrator_role(&self, ctx: &Context<'_>) -> Result<Option<OrchestratorRole>> {
        Ok(read(ctx, self.class, || self.row.orchestrator_role)?.flatten())
    }
    /// Their Process Hub role.
    async fn process_hub_role(&self, ctx: &Context<'_>) -> Result<Option<ProcessHubRole>> {
        Ok(read(ctx, self.class, || self.row.process_hub_role)?.flatten())
    }
    /// Whether they may read the audit log of their security groups.
    async fn audit_log_access(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.audit_log_access)
    }
    /// The security groups they belong to (those you may see).
    async fn security_groups(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<SecurityGroup>>>> {
        permit(ctx, self.class)?;
        let ids = load(ctx, GroupsOfUser(self.row.user_id)).await?.unwrap_or_default();
        security_groups(ctx, ids).await.map(Some)
    }
    /// When they joined.
    async fn joined_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.joined_at)
    }
    /// Whether the membership is suspended: the member's requests to the team are refused.
    async fn suspended(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.suspended)
    }
}

/// An invitation to join the team.
#[derive(Clone)]
pub struct Invitation {
    pub(crate) row: invitation::Model,
    pub(crate) class: ClassId,
}

impl Build for Invitation {
    type Row = invitation::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<invitation::Model>) -> Result<Vec<Self>> {
        let class = classify(ctx, Resource::plain("Invitation"))?;
        Ok(rows.into_iter().map(|row| Self { row, class }).collect())
    }
}

#[Object]
impl Invitation {
    /// The invitation's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Invitation", self.row.id))
    }
    /// Who is invited.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.email.as_str())
    }
    /// The portal role they will have.
    async fn portal_role(&self, ctx: &Context<'_>) -> Result<Option<PortalRole>> {
        read(ctx, self.class, || self.row.portal_role)
    }
    /// The products they will have.
    async fn products(&self, ctx: &Context<'_>) -> Result<Option<Vec<Product>>> {
        read(ctx, self.class, || Product::parse_list(&self.row.products))
    }
    /// The Orchestrator role they will have.
    async fn orchestrator_role(&self, ctx: &Context<'_>) -> Result<Option<OrchestratorRole>> {
        Ok(read(ctx, self.class, || self.row.orchestrator_role)?.flatten())
    }
    /// The Process Hub role they will have.
    async fn process_hub_role(&self, ctx: &Context<'_>) -> Result<Option<ProcessHubRole>> {
        Ok(read(ctx, self.class, || self.row.process_hub_role)?.flatten())
    }
    /// Who sent it.
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, Some(self.row.invited_by)).await
    }
    /// Where it stands.
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<InvitationStatus>> {
        read(ctx, self.class, || self.row.status)
    }
    /// When it was sent.
    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.created_at)
    }
    /// When it lapses.
    async fn expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.expires_at)
    }
}

/// A security group: users, and the objects they may reach through it.
#[derive(Clone)]
pub struct SecurityGroup {
    pub(crate) row: security_group::Model,
    pub(crate) class: ClassId,
}

impl Build for SecurityGroup {
    type Row = security_group::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<security_group::Model>) -> Result<Vec<Self>> {
        rows.into_iter()
            .map(|row| {
                let class = classify(ctx, Resource::grouped("SecurityGroup", [row.id]))?;
                Ok(Self { row, class })
            })
            .collect()
    }
}

/// Loads and builds the visible security groups among `ids`, in id order.
pub(crate) async fn security_groups(
    ctx: &Context<'_>,
    mut ids: Vec<i32>,
) -> Result<Vec<Inline<SecurityGroup>>> {
    ids.sort_unstable();
    ids.dedup();
    let found = load_many(ctx, ids.iter().copied().map(SecurityGroupById)).await?;
    let rows =
        ids.into_iter().filter_map(|id| found.get(&SecurityGroupById(id)).cloned()).collect();
    Ok(Inline::all(SecurityGroup::build(ctx, rows).await?))
}

#[Object]
impl SecurityGroup {
    /// The group's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("SecurityGroup", self.row.id))
    }
    /// Its name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// What it is for.
    async fn description(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.description.as_str())
    }
    /// Whether it grants anything (a disabled group grants nothing).
    async fn enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.enabled)
    }
    /// Its members.
    async fn members(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<User>>>> {
        permit(ctx, self.class)?;
        let rows = load(ctx, MembersOfSecurityGroup(self.row.id)).await?.unwrap_or_default();
        Ok(Some(Inline::all(User::build(ctx, rows).await?)))
    }
    /// Its orchestrator (at most one).
    async fn orchestrator(&self, ctx: &Context<'_>) -> Result<Option<Inline<Orchestrator>>> {
        permit(ctx, self.class)?;
        build_key(ctx, self.row.orchestrator_id.map(OrchestratorById)).await
    }
    /// Its workflows.
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Workflow>>> {
        related(ctx, self.class, WorkflowsOfSecurityGroup(self.row.id), first, after).await
    }
    /// Its bot runners.
    async fn bot_runners(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<BotRunner>>> {
        related(ctx, self.class, BotRunnersOfSecurityGroup(self.row.id), first, after).await
    }
    /// Its Process Hub processes.
    async fn processes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Process>>> {
        related(ctx, self.class, ProcessesOfSecurityGroup(self.row.id), first, after).await
    }
}

/// One entry of the audit log.
#[derive(Clone)]
pub struct AuditEntry {
    pub(crate) row: audit_entry::Model,
    pub(crate) class: ClassId,
}

impl Build for AuditEntry {
    type Row = audit_entry::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<audit_entry::Model>) -> Result<Vec<Self>> {
        grouped(
            ctx,
            "AuditEntry",
            rows,
            |r| GroupsOfAuditEntry(r.id),
            |row, class, _| Self { row, class },
        )
        .await
    }
}

#[Object]
impl AuditEntry {
    /// The entry's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("AuditEntry", self.row.id))
    }
    /// When it happened.
    async fn at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.at)
    }
    /// Who did it.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, self.row.actor_id).await
    }
    /// What was done, e.g. `member.role_changed`.
    async fn action(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.action.as_str())
    }
    /// What it was done to.
    async fn target(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.target.as_str())
    }
    /// The global id of what it was done to, if it has one (it may no longer exist).
    async fn target_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        Ok(read(ctx, self.class, || self.row.target_id.clone().map(ID))?.flatten())
    }
    /// What changed, as JSON (`{"portalRole": {"from": "MEMBER", "to": "ADMIN"}}`).
    async fn details(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.details.as_str())
    }
    /// The security groups of the target (those you may see).
    async fn security_groups(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<SecurityGroup>>>> {
        permit(ctx, self.class)?;
        let ids = load(ctx, GroupsOfAuditEntry(self.row.id)).await?.unwrap_or_default();
        security_groups(ctx, ids).await.map(Some)
    }
}

/// The policy version in force for this request.
pub struct PolicyInfo {
    pub(crate) class: ClassId,
    pub(crate) info: Info,
}

#[Object]
impl PolicyInfo {
    /// The name the policy gives itself.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.info.name.as_str())
    }
    /// The content hash of the module (`sha256:…`).
    async fn hash(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.info.hash.as_str())
    }
    /// When this version was loaded.
    async fn loaded_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.info.loaded_at)
    }
    /// Where it was loaded from: `builtin` or a file path.
    async fn source(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.info.source.as_str())
    }
}
