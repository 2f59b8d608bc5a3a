//! The Orchestrator area's mutations (domain §4): orchestrator settings, workflow versions,
//! settings, runs and queues, runner assignment, bot runner approval, tokens and RDP
//! credentials; and the input and payload types they use.
//!
//! Each resolver follows the pattern of [`super::mutation`]: parse the ids, begin the write,
//! call the service in `store::write`, commit, build the answer through the read types.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};

use super::mutation::{begin, done, id_of, ids_of, maybe};
use super::{
    BotRunner, Orchestrator, QueueItem, RegistrationToken, Workflow, WorkflowRun, WorkflowVersion,
};
use crate::authz::{ClassId, Resource};
use crate::error::ResultExt;
use crate::graphql::context::{classify, permit, request};
use crate::store::write::orchestrator::{self, OrchestratorChange};
use crate::store::write::workflows::{self, WorkflowSettings};

/// Settings of an orchestrator; fields left out stay as they are. Each one given is decided as
/// its own action.
#[derive(InputObject, Default)]
pub struct OrchestratorInput {
    /// A new name.
    pub name: Option<String>,
    /// The API integration on or off.
    pub api_integration_enabled: Option<bool>,
    /// The Zapier integration on or off.
    pub zapier_enabled: Option<bool>,
    /// Multitenancy on or off.
    pub multitenancy_enabled: Option<bool>,
}

/// Settings of a workflow; fields left out stay as they are. Each one given is decided as its
/// own action (an OPERATOR schedules, but does not turn webhooks or logging on).
#[derive(InputObject, Default)]
pub struct WorkflowSettingsInput {
    /// A cron schedule (`0 6 * * 1-5`, optionally with seconds first); `null` clears it.
    pub schedule: MaybeUndefined<String>,
    /// Whether it can be started by a webhook.
    pub webhook_enabled: Option<bool>,
    /// Whether its runs are logged to the console log.
    pub logging_enabled: Option<bool>,
}

/// A registration token just created. The token is shown this once: only its hash is kept.
pub struct NewRegistrationToken {
    class: ClassId,
    token: String,
    registration_token: RegistrationToken,
}

#[Object]
impl NewRegistrationToken {
    /// The token to give the bot runner; it cannot be read again.
    async fn token(&self, ctx: &Context<'_>) -> Result<&str> {
        permit(ctx, self.class)?;
        Ok(&self.token)
    }
    /// The stored token (its dates and state, never the token).
    async fn registration_token(&self, ctx: &Context<'_>) -> Result<&RegistrationToken> {
        permit(ctx, self.class)?;
        Ok(&self.registration_token)
    }
}

/// The mutations of the Orchestrator area.
#[derive(Default)]
pub struct OrchestratorMutations;

#[Object]
impl OrchestratorMutations {
    /// Renames an orchestrator or changes its integrations and multitenancy (Orchestrator
    /// ADMIN). Each setting given is its own action.
    async fn update_orchestrator(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: OrchestratorInput,
    ) -> Result<Orchestrator> {
        let id = id_of(&id, "Orchestrator", "id")?;
        let w = begin(ctx).await?;
        let change = OrchestratorChange {
            name: input.name,
            api_integration_enabled: input.api_integration_enabled,
            zapier_enabled: input.zapier_enabled,
            multitenancy_enabled: input.multitenancy_enabled,
        };
        let row = orchestrator::update(&w, id, change).await.gql()?;
        done(ctx, w, row).await
    }

    /// Publishes a new version of a workflow; it becomes the version in use.
    async fn publish_workflow_version(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        comment: Option<String>,
    ) -> Result<WorkflowVersion> {
        let id = id_of(&workflow_id, "Workflow", "workflowId")?;
        let w = begin(ctx).await?;
        let (row, workflow) = workflows::publish_version(&w, id, comment).await.gql()?;
        w.commit().await.gql()?;
        let class =
            classify(ctx, Resource::grouped("WorkflowVersion", workflow.security_group_id))?;
        Ok(WorkflowVersion { row, class })
    }

    /// Puts a published version of a workflow back in use.
    async fn switch_workflow_version(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        number: i32,
    ) -> Result<Workflow> {
        let id = id_of(&workflow_id, "Workflow", "workflowId")?;
        let w = begin(ctx).await?;
        let row = workflows::switch_version(&w, id, number).await.gql()?;
        done(ctx, w, row).await
    }

    /// Changes a workflow's schedule, webhook and logging; each setting given is its own action.
    async fn configure_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WorkflowSettingsInput,
    ) -> Result<Workflow> {
        let id = id_of(&id, "Workflow", "id")?;
        let w = begin(ctx).await?;
        let settings = WorkflowSettings {
            schedule: maybe(input.schedule),
            webhook_enabled: input.webhook_enabled,
            logging_enabled: input.logging_enabled,
        };
        let row = workflows::configure(&w, id, settings).await.gql()?;
        done(ctx, w, row).await
    }

    /// Runs a workflow now, on the least busy approved bot runner assigned to it.
    async fn run_workflow(&self, ctx: &Context<'_>, id: ID) -> Result<WorkflowRun> {
        let id = id_of(&id, "Workflow", "id")?;
        let w = begin(ctx).await?;
        let row = workflows::run(&w, id).await.gql()?;
        done(ctx, w, row).await
    }

    /// Adds a work item to a workflow's queue.
    async fn enqueue_work_item(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        payload: String,
    ) -> Result<QueueItem> {
        let id = id_of(&workflow_id, "Workflow", "workflowId")?;
        let w = begin(ctx).await?;
        let (row, workflow) = workflows::enqueue(&w, id, payload).await.gql()?;
        w.commit().await.gql()?;
        let class = classify(ctx, Resource::grouped("QueueItem", workflow.security_group_id))?;
        Ok(QueueItem { row, class })
    }

    /// Removes a waiting work item from its queue; answers its id.
    async fn remove_work_item(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let id = id_of(&id, "QueueItem", "id")?;
        let w = begin(ctx).await?;
        let removed = workflows::remove_item(&w, id).await.gql()?;
        w.commit().await.gql()?;
        Ok(ID::from(removed))
    }

    /// Sets the bot runners of a workflow (the whole list): each must be approved and share
    /// the workflow's security group.
    async fn assign_bot_runners(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        bot_runner_ids: Vec<ID>,
    ) -> Result<Workflow> {
        let id = id_of(&workflow_id, "Workflow", "workflowId")?;
        let runners = ids_of(&bot_runner_ids, "BotRunner", "botRunnerIds")?;
        let w = begin(ctx).await?;
        let row = workflows::assign_runners(&w, id, &runners).await.gql()?;
        done(ctx, w, row).await
    }

    /// Approves a bot runner (`approved: true`) or rejects it (Orchestrator ADMIN).
    async fn approve_bot_runner(
        &self,
        ctx: &Context<'_>,
        id: ID,
        approved: bool,
    ) -> Result<BotRunner> {
        let id = id_of(&id, "BotRunner", "id")?;
        let w = begin(ctx).await?;
        let row = orchestrator::approve_runner(&w, id, approved).await.gql()?;
        done(ctx, w, row).await
    }

    /// Creates a registration token for a bot runner (Orchestrator ADMIN). The token is in
    /// this answer only.
    async fn create_registration_token(
        &self,
        ctx: &Context<'_>,
        bot_runner_id: ID,
    ) -> Result<NewRegistrationToken> {
        let id = id_of(&bot_runner_id, "BotRunner", "botRunnerId")?;
        let w = begin(ctx).await?;
        let created = orchestrator::create_token(&w, id).await.gql()?;
        w.commit().await.gql()?;
        let class = classify(
            ctx,
            Resource::grouped("RegistrationToken", created.security_groups.iter().copied()),
        )?;
        Ok(NewRegistrationToken {
            class: classify(ctx, Resource::plain("NewRegistrationToken"))?,
            token: created.token,
            registration_token: RegistrationToken { row: created.row, class },
        })
    }

    /// Sets a bot runner's RDP credentials. The password is sealed and never readable;
    /// `rdpCredentialsSet` turns true.
    async fn set_rdp_credentials(
        &self,
        ctx: &Context<'_>,
        bot_runner_id: ID,
        username: String,
        #[graphql(secret)] password: String,
    ) -> Result<BotRunner> {
        let id = id_of(&bot_runner_id, "BotRunner", "botRunnerId")?;
        let w = begin(ctx).await?;
        let sealer = request(ctx)?.sealer.clone();
        let row =
            orchestrator::set_rdp_credentials(&w, &sealer, id, &username, &password).await.gql()?;
        done(ctx, w, row).await
    }
}
