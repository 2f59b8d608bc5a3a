//! The team area's mutations: members, invitations, roles, ownership, Advanced Access
//! Management, security groups; and the input and payload types they use.
//!
//! Every resolver follows one pattern: parse the ids it is given, [`begin`] a write (which
//! asks the policy whether the caller may use the mutation at all), call the service in
//! `store::write` that loads, authorizes, checks invariants, changes and audits, then commit
//! and build the answer through the same types (and the same field policy) as the reads.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query as Sql;
use sea_orm::{ColumnTrait, Condition as Where};

use super::mutation::{begin, done, id_of, maybe};
use super::{Build, Invitation, Membership, MyTeam, SecurityGroup, Team};
use crate::authz::{ClassId, Resource};
use crate::error::{Error, ResultExt};
use crate::graphql::context::{classify, permit};
use crate::graphql::node::global_id;
use crate::store::entity::*;
use crate::store::write::groups::{self, GroupInput, GroupObject};
use crate::store::write::members::{self, AccessChange, ItemError as Failure, Outcome, Terms};
use crate::store::write::{import, team as team_settings};

/// Who to invite and with what.
#[derive(InputObject)]
pub struct InviteMembersInput {
    /// Email addresses; each entry may hold several, separated by commas.
    pub emails: Vec<String>,
    /// The portal role offered (never OWNER).
    pub portal_role: PortalRole,
    /// The products enabled for them.
    #[graphql(default)]
    pub products: Vec<Product>,
    /// Their Orchestrator role (needs ORCHESTRATOR among the products).
    pub orchestrator_role: Option<OrchestratorRole>,
    /// Their Process Hub role (needs PROCESS_HUB among the products).
    pub process_hub_role: Option<ProcessHubRole>,
}

/// A change of a member's product access; fields left out stay as they are.
#[derive(InputObject)]
pub struct SetMemberAccessInput {
    /// The member (a `Membership` id).
    pub member_id: ID,
    /// The products enabled for them (the whole set).
    pub products: Option<Vec<Product>>,
    /// Their Orchestrator role; `null` clears it.
    pub orchestrator_role: MaybeUndefined<OrchestratorRole>,
    /// Their Process Hub role; `null` clears it.
    pub process_hub_role: MaybeUndefined<ProcessHubRole>,
    /// Whether they may read the audit log of their security groups.
    pub audit_log_access: Option<bool>,
}

/// A security group's name and description.
#[derive(InputObject)]
pub struct SecurityGroupInput {
    /// Its name, unique in the team.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
}

/// Which audit entries to list. Every condition given must hold.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// The action, e.g. `member.role_changed`.
    pub action: Option<String>,
    /// Who did it (a `User` id).
    pub actor_id: Option<ID>,
    /// A security group of the target (a `SecurityGroup` id).
    pub security_group_id: Option<ID>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditLogFilter {
    /// The filter as a condition on audit entries.
    pub(crate) fn condition(self) -> Result<Where> {
        let mut condition = Where::all();
        if let Some(action) = self.action {
            condition = condition.add(audit_entry::Column::Action.eq(action));
        }
        if let Some(actor) = self.actor_id {
            condition =
                condition.add(audit_entry::Column::ActorId.eq(id_of(&actor, "User", "actorId")?));
        }
        if let Some(group) = self.security_group_id {
            let group = id_of(&group, "SecurityGroup", "securityGroupId")?;
            condition = condition.add(
                audit_entry::Column::Id.in_subquery(
                    Sql::select()
                        .column(audit_entry_security_group::Column::AuditEntryId)
                        .from(audit_entry_security_group::Entity)
                        .and_where(audit_entry_security_group::Column::SecurityGroupId.eq(group))
                        .to_owned(),
                ),
            );
        }
        if let Some(from) = self.from {
            condition = condition.add(audit_entry::Column::At.gte(from));
        }
        if let Some(to) = self.to {
            condition = condition.add(audit_entry::Column::At.lt(to));
        }
        Ok(condition)
    }
}

/// Why one address or row did not go through.
#[derive(SimpleObject, Clone)]
pub struct ItemError {
    /// A stable code: `INVALID_INPUT`, `CONFLICT` or `FORBIDDEN`.
    pub code: String,
    /// What a person can act on.
    pub message: String,
}

impl From<Failure> for ItemError {
    fn from(error: Failure) -> Self {
        Self { code: error.code.to_owned(), message: error.message }
    }
}

/// The outcome for each address of an `inviteMembers` call.
pub struct InviteMembersPayload {
    class: ClassId,
    results: Vec<InviteResult>,
}

#[Object]
impl InviteMembersPayload {
    /// One result per address, in the order given.
    async fn results(&self, ctx: &Context<'_>) -> Result<&[InviteResult]> {
        permit(ctx, self.class)?;
        Ok(&self.results)
    }
}

/// The outcome for one address.
pub struct InviteResult {
    class: ClassId,
    email: String,
    invitation: Option<Invitation>,
    error: Option<ItemError>,
}

#[Object]
impl InviteResult {
    /// The address, lower-cased (as given, when it is not valid).
    async fn email(&self, ctx: &Context<'_>) -> Result<&str> {
        permit(ctx, self.class)?;
        Ok(&self.email)
    }
    /// The invitation sent, if it went through.
    async fn invitation(&self, ctx: &Context<'_>) -> Result<Option<&Invitation>> {
        permit(ctx, self.class)?;
        Ok(self.invitation.as_ref())
    }
    /// Why it did not, if it did not.
    async fn error(&self, ctx: &Context<'_>) -> Result<Option<&ItemError>> {
        permit(ctx, self.class)?;
        Ok(self.error.as_ref())
    }
}

/// The outcome for each row of an import.
pub struct ImportMembersPayload {
    class: ClassId,
    rows: Vec<ImportRow>,
}

#[Object]
impl ImportMembersPayload {
    /// One result per row with content, in file order.
    async fn rows(&self, ctx: &Context<'_>) -> Result<&[ImportRow]> {
        permit(ctx, self.class)?;
        Ok(&self.rows)
    }
}

/// The outcome for one row of an import.
pub struct ImportRow {
    class: ClassId,
    line: i32,
    email: Option<String>,
    invitation: Option<Invitation>,
    error: Option<ItemError>,
}

#[Object]
impl ImportRow {
    /// The row's line in the file (the header is line 1).
    async fn line(&self, ctx: &Context<'_>) -> Result<i32> {
        permit(ctx, self.class)?;
        Ok(self.line)
    }
    /// The row's address, if it has one.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        permit(ctx, self.class)?;
        Ok(self.email.as_deref())
    }
    /// The invitation sent, if it went through.
    async fn invitation(&self, ctx: &Context<'_>) -> Result<Option<&Invitation>> {
        permit(ctx, self.class)?;
        Ok(self.invitation.as_ref())
    }
    /// Why it did not, if it did not.
    async fn error(&self, ctx: &Context<'_>) -> Result<Option<&ItemError>> {
        permit(ctx, self.class)?;
        Ok(self.error.as_ref())
    }
}

/// Builds the invitations of bulk outcomes, in one batch.
async fn outcomes(
    ctx: &Context<'_>,
    outcomes: Vec<Outcome>,
) -> Result<Vec<(Outcome, Option<Invitation>)>> {
    let rows: Vec<invitation::Model> =
        outcomes.iter().filter_map(|o| o.result.as_ref().ok().cloned()).collect();
    let mut built = Invitation::build(ctx, rows).await?.into_iter();
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            let invitation = if outcome.result.is_ok() { built.next() } else { None };
            (outcome, invitation)
        })
        .collect())
}

/// The mutations of the team area.
#[derive(Default)]
pub struct TeamMutations;

#[Object]
impl TeamMutations {
    /// Invites people by email. Each address gets its own result: one that is invalid,
    /// listed twice, already a member or already invited fails alone.
    async fn invite_members(
        &self,
        ctx: &Context<'_>,
        input: InviteMembersInput,
    ) -> Result<InviteMembersPayload> {
        let mut w = begin(ctx).await?;
        let terms = Terms {
            portal_role: input.portal_role,
            products: input.products,
            orchestrator_role: input.orchestrator_role,
            process_hub_role: input.process_hub_role,
        };
        let sent = members::invite(&mut w, &input.emails, terms).await.gql()?;
        w.commit().await.gql()?;
        let class = classify(ctx, Resource::plain("InviteResult"))?;
        let results = outcomes(ctx, sent)
            .await?
            .into_iter()
            .map(|(outcome, invitation)| InviteResult {
                class,
                email: outcome.email.unwrap_or_default(),
                invitation,
                error: outcome.result.err().map(ItemError::from),
            })
            .collect();
        let class = classify(ctx, Resource::plain("InviteMembersPayload"))?;
        Ok(InviteMembersPayload { class, results })
    }

    /// Withdraws an open invitation.
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<Invitation> {
        let id = id_of(&id, "Invitation", "id")?;
        let w = begin(ctx).await?;
        let row = members::revoke_invitation(&w, id).await.gql()?;
        done(ctx, w, row).await
    }

    /// Accepts an invitation addressed to you: you join its team with the roles it offers.
    /// Act in the new team by sending its id as `X-Fieldguard-Team`.
    async fn accept_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<MyTeam> {
        let id = id_of(&id, "Invitation", "id")?;
        let mut w = begin(ctx).await?;
        let (membership, team) = members::accept_invitation(&mut w, id).await.gql()?;
        w.commit().await.gql()?;
        let class = classify(ctx, Resource::plain("MyTeam"))?;
        Ok(MyTeam { class, acting: false, role: membership.portal_role, team })
    }

    /// Changes a member's portal role. Only someone broader than both the old and the new
    /// role may; nobody changes their own; OWNER changes only by `transferOwnership`.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        portal_role: PortalRole,
    ) -> Result<Membership> {
        let id = id_of(&member_id, "Membership", "memberId")?;
        let mut w = begin(ctx).await?;
        let row = members::change_role(&mut w, id, portal_role).await.gql()?;
        done(ctx, w, row).await
    }

    /// Hands the team to another member; you become ADMIN. One transaction.
    async fn transfer_ownership(&self, ctx: &Context<'_>, member_id: ID) -> Result<Team> {
        let id = id_of(&member_id, "Membership", "memberId")?;
        let mut w = begin(ctx).await?;
        let row = members::transfer_ownership(&mut w, id).await.gql()?;
        done(ctx, w, row).await
    }

    /// Changes a member's products, product roles and audit-log flag.
    async fn set_member_access(
        &self,
        ctx: &Context<'_>,
        input: SetMemberAccessInput,
    ) -> Result<Membership> {
        let id = id_of(&input.member_id, "Membership", "memberId")?;
        let change = AccessChange {
            products: input.products,
            orchestrator_role: maybe(input.orchestrator_role),
            process_hub_role: maybe(input.process_hub_role),
            audit_log_access: input.audit_log_access,
        };
        let mut w = begin(ctx).await?;
        let row = members::set_access(&mut w, id, change).await.gql()?;
        done(ctx, w, row).await
    }

    /// Gives a member the products, product roles, security groups and audit-log flag of
    /// another member, in one step (their portal role stays).
    async fn copy_member_access(
        &self,
        ctx: &Context<'_>,
        from_member_id: ID,
        to_member_id: ID,
    ) -> Result<Membership> {
        let from = id_of(&from_member_id, "Membership", "fromMemberId")?;
        let to = id_of(&to_member_id, "Membership", "toMemberId")?;
        let mut w = begin(ctx).await?;
        let row = members::copy_access(&mut w, from, to).await.gql()?;
        done(ctx, w, row).await
    }

    /// Suspends a member: their next request to this team is refused and their subscriptions
    /// end; their roles are kept for `reactivateMember`.
    async fn suspend_member(&self, ctx: &Context<'_>, member_id: ID) -> Result<Membership> {
        let id = id_of(&member_id, "Membership", "memberId")?;
        let mut w = begin(ctx).await?;
        let row = members::set_suspended(&mut w, id, true).await.gql()?;
        done(ctx, w, row).await
    }

    /// Lifts a suspension.
    async fn reactivate_member(&self, ctx: &Context<'_>, member_id: ID) -> Result<Membership> {
        let id = id_of(&member_id, "Membership", "memberId")?;
        let mut w = begin(ctx).await?;
        let row = members::set_suspended(&mut w, id, false).await.gql()?;
        done(ctx, w, row).await
    }

    /// Removes a member from the team (never the owner), with their security-group
    /// memberships, task assignments and launch permissions here. Returns the membership's id.
    async fn remove_member(&self, ctx: &Context<'_>, member_id: ID) -> Result<ID> {
        let id = id_of(&member_id, "Membership", "memberId")?;
        let mut w = begin(ctx).await?;
        let removed = members::remove(&mut w, id).await.gql()?;
        w.commit().await.gql()?;
        Ok(global_id("Membership", removed))
    }

    /// Invites the members listed in a CSV file, one result per row. The header row is
    /// `email,portalRole,products,orchestratorRole,processHubRole`; products are separated
    /// by `;`. At most 10,000 rows.
    async fn import_members(&self, ctx: &Context<'_>, csv: String) -> Result<ImportMembersPayload> {
        let mut w = begin(ctx).await?;
        let sent = import::import(&mut w, &csv).await.gql()?;
        w.commit().await.gql()?;
        let class = classify(ctx, Resource::plain("ImportRow"))?;
        let rows = outcomes(ctx, sent)
            .await?
            .into_iter()
            .map(|(outcome, invitation)| ImportRow {
                class,
                line: i32::try_from(outcome.line.unwrap_or_default()).unwrap_or(i32::MAX),
                email: outcome.email,
                invitation,
                error: outcome.result.err().map(ItemError::from),
            })
            .collect();
        let class = classify(ctx, Resource::plain("ImportMembersPayload"))?;
        Ok(ImportMembersPayload { class, rows })
    }

    /// Turns Advanced Access Management on or off; who sees what changes with the next request.
    async fn set_advanced_access_management(
        &self,
        ctx: &Context<'_>,
        enabled: bool,
    ) -> Result<Team> {
        let w = begin(ctx).await?;
        let row = team_settings::set_advanced_access_management(&w, enabled).await.gql()?;
        done(ctx, w, row).await
    }

    /// Creates a security group.
    async fn create_security_group(
        &self,
        ctx: &Context<'_>,
        input: SecurityGroupInput,
    ) -> Result<SecurityGroup> {
        let w = begin(ctx).await?;
        let input = GroupInput { name: input.name, description: input.description };
        let row = groups::create(&w, input).await.gql()?;
        done(ctx, w, row).await
    }

    /// Renames a security group or changes its description.
    async fn update_security_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SecurityGroupInput,
    ) -> Result<SecurityGroup> {
        let id = id_of(&id, "SecurityGroup", "id")?;
        let w = begin(ctx).await?;
        let input = GroupInput { name: input.name, description: input.description };
        let row = groups::update(&w, id, input).await.gql()?;
        done(ctx, w, row).await
    }

    /// Enables or disables a security group; a disabled group grants nothing.
    async fn set_security_group_enabled(
        &self,
        ctx: &Context<'_>,
        id: ID,
        enabled: bool,
    ) -> Result<SecurityGroup> {
        let id = id_of(&id, "SecurityGroup", "id")?;
        let w = begin(ctx).await?;
        let row = groups::set_enabled(&w, id, enabled).await.gql()?;
        done(ctx, w, row).await
    }

    /// Deletes a security group; its objects stay, ungrouped. Returns the group's id.
    async fn delete_security_group(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let id = id_of(&id, "SecurityGroup", "id")?;
        let w = begin(ctx).await?;
        let deleted = groups::delete(&w, id).await.gql()?;
        w.commit().await.gql()?;
        Ok(global_id("SecurityGroup", deleted))
    }

    /// Adds members of the team (by `User` id) to a security group.
    async fn add_security_group_members(
        &self,
        ctx: &Context<'_>,
        id: ID,
        user_ids: Vec<ID>,
    ) -> Result<SecurityGroup> {
        change_members(ctx, id, user_ids, true).await
    }

    /// Removes users (by `User` id) from a security group.
    async fn remove_security_group_members(
        &self,
        ctx: &Context<'_>,
        id: ID,
        user_ids: Vec<ID>,
    ) -> Result<SecurityGroup> {
        change_members(ctx, id, user_ids, false).await
    }

    /// Attaches orchestrators, workflows, bot runners and processes (by global id) to a
    /// security group: all of them, or none if one cannot be.
    async fn attach_to_security_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        object_ids: Vec<ID>,
    ) -> Result<SecurityGroup> {
        change_objects(ctx, id, object_ids, true).await
    }

    /// Detaches objects (by global id) from a security group: all of them, or none.
    async fn detach_from_security_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        object_ids: Vec<ID>,
    ) -> Result<SecurityGroup> {
        change_objects(ctx, id, object_ids, false).await
    }
}

async fn change_members(
    ctx: &Context<'_>,
    id: ID,
    user_ids: Vec<ID>,
    add: bool,
) -> Result<SecurityGroup> {
    let id = id_of(&id, "SecurityGroup", "id")?;
    let users =
        user_ids.iter().map(|user| id_of(user, "User", "userIds")).collect::<Result<Vec<_>>>()?;
    let mut w = begin(ctx).await?;
    let row = groups::change_members(&mut w, id, &users, add).await.gql()?;
    done(ctx, w, row).await
}

async fn change_objects(
    ctx: &Context<'_>,
    id: ID,
    object_ids: Vec<ID>,
    attach: bool,
) -> Result<SecurityGroup> {
    let id = id_of(&id, "SecurityGroup", "id")?;
    let objects = object_ids.iter().map(group_object).collect::<Result<Vec<_>>>()?;
    if objects.is_empty() {
        return Err(Error::InvalidInput("objectIds names no object".into()).to_graphql());
    }
    let w = begin(ctx).await?;
    let row = groups::change_objects(&w, id, &objects, attach).await.gql()?;
    done(ctx, w, row).await
}

/// The object a global id names, among those that join security groups.
fn group_object(id: &ID) -> Result<GroupObject> {
    let parsed = id.split_once(':').and_then(|(type_name, number)| {
        let number = number.parse().ok()?;
        Some(match type_name {
            "Orchestrator" => GroupObject::Orchestrator(number),
            "Workflow" => GroupObject::Workflow(number),
            "BotRunner" => GroupObject::BotRunner(number),
            "Process" => GroupObject::Process(number),
            _ => return None,
        })
    });
    parsed.ok_or_else(|| {
        Error::InvalidInput(format!(
            "objectIds take global ids of orchestrators, workflows, bot runners and processes \
             (e.g. `Workflow:12`), not `{}`",
            id.as_str()
        ))
        .to_graphql()
    })
}
