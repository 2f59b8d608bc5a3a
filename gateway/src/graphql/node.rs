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
    /// A run of a workflow.
    WorkflowRun(WorkflowRun),
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
    ID(crate::store::entity::global_id(type_name, id))
}

/// The number in an id given for `type_name`: its global id, or the bare number.
pub fn local_id(id: &ID, type_name: &str) -> Option<i32> {
    match id.split_once(':') {
        Some((prefix, number)) if prefix == type_name => number.parse().ok(),
        Some(_) => None,
        None => id.parse().ok(),
    }
}

/// The visible `E` with this id (global, or the bare number), built; unknown, foreign and
/// invisible ids alike give `None`.
pub(crate) async fn find<E, T>(ctx: &Context<'_>, id: &ID) -> Result<Option<T>>
where
    E: Guarded,
    T: Build<Row = E::Model>,
{
    let Some(id) = local_id(id, E::TYPE_NAME) else {
        return Ok(None);
    };
    let data = super::context::request(ctx)?;
    let row = read::by_id::<E>(&data.db, &data.guard, id).await.gql()?;
    build_one(ctx, row).await
}

/// The object with this global id, if it exists for the caller.
pub async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let Some((type_name, _)) = id.split_once(':') else {
        return Ok(None);
    };
    Ok(match type_name {
        "Team" => find::<team::Entity, Team>(ctx, id).await?.map(Node::Team),
        "User" => find::<user::Entity, User>(ctx, id).await?.map(Node::User),
        "Membership" => {
            find::<membership::Entity, Membership>(ctx, id).await?.map(Node::Membership)
        }
        "Invitation" => {
            find::<invitation::Entity, Invitation>(ctx, id).await?.map(Node::Invitation)
        }
        "SecurityGroup" => {
            find::<security_group::Entity, SecurityGroup>(ctx, id).await?.map(Node::SecurityGroup)
        }
        "Orchestrator" => {
            find::<orchestrator::Entity, Orchestrator>(ctx, id).await?.map(Node::Orchestrator)
        }
        "Workflow" => find::<workflow::Entity, Workflow>(ctx, id).await?.map(Node::Workflow),
        "WorkflowRun" => {
            find::<workflow_run::Entity, WorkflowRun>(ctx, id).await?.map(Node::WorkflowRun)
        }
        "BotRunner" => find::<bot_runner::Entity, BotRunner>(ctx, id).await?.map(Node::BotRunner),
        "Process" => find::<process::Entity, Process>(ctx, id).await?.map(Node::Process),
        "Job" => find::<job::Entity, Job>(ctx, id).await?.map(Node::Job),
        "Task" => find::<task::Entity, Task>(ctx, id).await?.map(Node::Task),
        "Form" => find::<form::Entity, Form>(ctx, id).await?.map(Node::Form),
        "AuditEntry" => {
            find::<audit_entry::Entity, AuditEntry>(ctx, id).await?.map(Node::AuditEntry)
        }
        _ => None,
    })
}
