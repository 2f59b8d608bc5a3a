//! Global object identification: the `Node` interface and `Query.node`.
//!
//! Every object with an identity has an `id` of the form `Type:number` (e.g. `Workflow:12`),
//! which `node(id:)` resolves. Reading a field through the interface runs the same resolver,
//! and so asks the policy the same question, as reading it on the type itself.

use async_graphql::{Context, ID, Interface, Result};

use super::types::*;
use crate::error::ResultExt;
use crate::store::entity::*;
use crate::store::read;
use crate::store::visibility::Guarded;

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "Option<ID>", desc = "The object's global id, `Type:number`."))]
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// A team.
    Team(Team),
    /// A user.
    User(User),
    /// A membership.
    Membership(Membership),
    /// An invitation.
    Invitation(Invitation),
    /// A security group.
    SecurityGroup(SecurityGroup),
    /// An orchestrator.
    Orchestrator(Orchestrator),
    /// A workflow.
    Workflow(Workflow),
    /// A bot runner.
    BotRunner(BotRunner),
    /// A process.
    Process(Process),
    /// A job.
    Job(Job),
    /// A task.
    Task(Task),
    /// A form.
    Form(Form),
    /// An audit entry.
    AuditEntry(AuditEntry),
}

/// The global id of an object.
pub fn global_id(type_name: &str, id: i32) -> ID {
    ID(format!("{type_name}:{id}"))
}

/// The number in an id given for `type_name`: its global id, or the bare number.
pub fn local_id(id: &ID, type_name: &str) -> Option<i32> {
    match id.split_once(':') {
        Some((prefix, number)) if prefix == type_name => number.parse().ok(),
        Some(_) => None,
        None => id.parse().ok(),
    }
}

async fn find<E, T>(ctx: &Context<'_>, column: E::Column, id: i32) -> Result<Option<T>>
where
    E: Guarded,
    T: Build<Row = E::Model>,
{
    let data = super::context::request(ctx)?;
    let row = read::by_id::<E>(&data.db, &data.guard, column, id).await.gql()?;
    build_one(ctx, row).await
}

/// The object with this global id, if it exists for the caller.
pub async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let Some((type_name, number)) = id.split_once(':') else {
        return Ok(None);
    };
    let Ok(n) = number.parse::<i32>() else {
        return Ok(None);
    };
    Ok(match type_name {
        "Team" => find::<team::Entity, Team>(ctx, team::Column::Id, n).await?.map(Node::Team),
        "User" => find::<user::Entity, User>(ctx, user::Column::Id, n).await?.map(Node::User),
        "Membership" => find::<membership::Entity, Membership>(ctx, membership::Column::Id, n)
            .await?
            .map(Node::Membership),
        "Invitation" => find::<invitation::Entity, Invitation>(ctx, invitation::Column::Id, n)
            .await?
            .map(Node::Invitation),
        "SecurityGroup" => {
            find::<security_group::Entity, SecurityGroup>(ctx, security_group::Column::Id, n)
                .await?
                .map(Node::SecurityGroup)
        }
        "Orchestrator" => {
            find::<orchestrator::Entity, Orchestrator>(ctx, orchestrator::Column::Id, n)
                .await?
                .map(Node::Orchestrator)
        }
        "Workflow" => find::<workflow::Entity, Workflow>(ctx, workflow::Column::Id, n)
            .await?
            .map(Node::Workflow),
        "BotRunner" => find::<bot_runner::Entity, BotRunner>(ctx, bot_runner::Column::Id, n)
            .await?
            .map(Node::BotRunner),
        "Process" => {
            find::<process::Entity, Process>(ctx, process::Column::Id, n).await?.map(Node::Process)
        }
        "Job" => find::<job::Entity, Job>(ctx, job::Column::Id, n).await?.map(Node::Job),
        "Task" => find::<task::Entity, Task>(ctx, task::Column::Id, n).await?.map(Node::Task),
        "Form" => find::<form::Entity, Form>(ctx, form::Column::Id, n).await?.map(Node::Form),
        "AuditEntry" => find::<audit_entry::Entity, AuditEntry>(ctx, audit_entry::Column::Id, n)
            .await?
            .map(Node::AuditEntry),
        _ => None,
    })
}
