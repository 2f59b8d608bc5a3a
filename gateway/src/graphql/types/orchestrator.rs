//! Orchestrator: orchestrators, workflows and what hangs off them (versions, runs, logs, the
//! queue), bot runners.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Build, SecurityGroup, User, build_key, grouped, related, security_groups, user};
use crate::authz::{ClassId, Resource};
use crate::graphql::connection::Connection;
use crate::graphql::context::{classify, load, load_many, permit, read};
use crate::graphql::inline::Inline;
use crate::graphql::node::global_id;
use crate::store::entity::*;
use crate::store::loaders::*;

/// An Orchestrator instance of the team.
#[derive(Clone)]
pub struct Orchestrator {
    pub(crate) row: orchestrator::Model,
    pub(crate) class: ClassId,
}

impl Build for Orchestrator {
    type Row = orchestrator::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<orchestrator::Model>) -> Result<Vec<Self>> {
        grouped(
            ctx,
            "Orchestrator",
            rows,
            |r| GroupsOfOrchestrator(r.id),
            |row, class, _| Self { row, class },
        )
        .await
    }
}

#[Object]
impl Orchestrator {
    /// The orchestrator's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Orchestrator", self.row.id))
    }
    /// Its name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// Whether the API integration is on.
    async fn api_integration_enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.api_integration_enabled)
    }
    /// Whether the Zapier integration is on.
    async fn zapier_enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.zapier_enabled)
    }
    /// Whether multitenancy is on.
    async fn multitenancy_enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.multitenancy_enabled)
    }
    /// The security groups it is attached to (those you may see).
    async fn security_groups(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<SecurityGroup>>>> {
        permit(ctx, self.class)?;
        let ids = load(ctx, GroupsOfOrchestrator(self.row.id)).await?.unwrap_or_default();
        security_groups(ctx, ids).await.map(Some)
    }
    /// Its workflows.
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Workflow>>> {
        related(ctx, self.class, WorkflowsOfOrchestrator(self.row.id), first, after).await
    }
}

/// An automation published to an orchestrator.
#[derive(Clone)]
pub struct Workflow {
    pub(crate) row: workflow::Model,
    pub(crate) class: ClassId,
}

impl Workflow {
    /// The attributes of this workflow, under the type name of one of its parts.
    fn part(&self, type_name: &'static str) -> Resource {
        Resource::grouped(type_name, self.row.security_group_id)
    }
}

impl Build for Workflow {
    type Row = workflow::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<workflow::Model>) -> Result<Vec<Self>> {
        rows.into_iter()
            .map(|row| {
                let class = classify(ctx, Resource::grouped("Workflow", row.security_group_id))?;
                Ok(Self { row, class })
            })
            .collect()
    }
}

#[Object]
impl Workflow {
    /// The workflow's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Workflow", self.row.id))
    }
    /// Its name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// The orchestrator it runs on.
    async fn orchestrator(&self, ctx: &Context<'_>) -> Result<Option<Inline<Orchestrator>>> {
        permit(ctx, self.class)?;
        build_key(ctx, Some(OrchestratorById(self.row.orchestrator_id))).await
    }
    /// The version in use.
    async fn current_version(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        read(ctx, self.class, || self.row.current_version)
    }
    /// Its schedule, as a cron expression.
    async fn schedule(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(read(ctx, self.class, || self.row.schedule.as_deref())?.flatten())
    }
    /// Whether it can be started by a webhook.
    async fn webhook_enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.webhook_enabled)
    }
    /// Whether its runs are logged.
    async fn logging_enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.logging_enabled)
    }
    /// The security group it belongs to.
    async fn security_group(&self, ctx: &Context<'_>) -> Result<Option<Inline<SecurityGroup>>> {
        permit(ctx, self.class)?;
        let ids: Vec<i32> = self.row.security_group_id.into_iter().collect();
        Ok(security_groups(ctx, ids).await?.pop())
    }
    /// The variables its last run produced (sensitive).
    async fn output_variables(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<OutputVariable>>>> {
        permit(ctx, self.class)?;
        let class = classify(ctx, self.part("OutputVariable"))?;
        let rows = load(ctx, OutputsOfWorkflow(self.row.id)).await?.unwrap_or_default();
        Ok(Some(rows.into_iter().map(|row| Inline(OutputVariable { row, class })).collect()))
    }
    /// Every published version, oldest first.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<WorkflowVersion>>>> {
        permit(ctx, self.class)?;
        let class = classify(ctx, self.part("WorkflowVersion"))?;
        let mut rows = load(ctx, VersionsOfWorkflow(self.row.id)).await?.unwrap_or_default();
        rows.sort_by_key(|v| v.number);
        Ok(Some(rows.into_iter().map(|row| Inline(WorkflowVersion { row, class })).collect()))
    }
    /// Its execution log (what the orchestrator did, run after run), oldest first.
    async fn execution_logs(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<LogEntry>>>> {
        permit(ctx, self.class)?;
        let class = classify(ctx, self.part("LogEntry"))?;
        let rows = load(ctx, LogsOfWorkflow(self.row.id)).await?.unwrap_or_default();
        Ok(Some(log_entries(rows, LogStream::Execution, class)))
    }
    /// Its runs, oldest first.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<WorkflowRun>>> {
        related(ctx, self.class, RunsOfWorkflow(self.row.id), first, after).await
    }
    /// Its queue of pending runs.
    async fn queue(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<QueueItem>>>> {
        permit(ctx, self.class)?;
        let class = classify(ctx, self.part("QueueItem"))?;
        let rows = load(ctx, QueueOfWorkflow(self.row.id)).await?.unwrap_or_default();
        Ok(Some(rows.into_iter().map(|row| Inline(QueueItem { row, class })).collect()))
    }
    /// The bot runners assigned to run it (those you may see).
    async fn assigned_bot_runners(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<BotRunner>>>> {
        permit(ctx, self.class)?;
        let rows = load(ctx, BotRunnersOfWorkflow(self.row.id)).await?.unwrap_or_default();
        Ok(Some(Inline::all(BotRunner::build(ctx, rows).await?)))
    }
}

/// The lines of one stream, oldest first.
fn log_entries(
    mut rows: Vec<execution_log::Model>,
    stream: LogStream,
    class: ClassId,
) -> Vec<Inline<LogEntry>> {
    rows.retain(|row| row.stream == stream);
    rows.sort_by_key(|row| (row.at, row.id));
    rows.into_iter().map(|row| Inline(LogEntry { row, class })).collect()
}

/// One run of a workflow on a bot runner.
#[derive(Clone)]
pub struct WorkflowRun {
    pub(crate) row: workflow_run::Model,
    pub(crate) class: ClassId,
    group: Option<i32>,
}

impl Build for WorkflowRun {
    type Row = workflow_run::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<workflow_run::Model>) -> Result<Vec<Self>> {
        let workflows = load_many(ctx, rows.iter().map(|r| WorkflowById(r.workflow_id))).await?;
        rows.into_iter()
            .filter_map(|row| {
                let workflow = workflows.get(&WorkflowById(row.workflow_id))?;
                Some((row, workflow.security_group_id))
            })
            .map(|(row, group)| {
                let class = classify(ctx, Resource::grouped("WorkflowRun", group))?;
                Ok(Self { row, class, group })
            })
            .collect()
    }
}

#[Object]
impl WorkflowRun {
    /// The run's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("WorkflowRun", self.row.id))
    }
    /// The workflow run.
    async fn workflow(&self, ctx: &Context<'_>) -> Result<Option<Inline<Workflow>>> {
        permit(ctx, self.class)?;
        build_key(ctx, Some(WorkflowById(self.row.workflow_id))).await
    }
    /// The version it runs.
    async fn version(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        read(ctx, self.class, || self.row.version)
    }
    /// Where it stands.
    async fn state(&self, ctx: &Context<'_>) -> Result<Option<RunState>> {
        read(ctx, self.class, || self.row.state)
    }
    /// The bot runner it runs on (if you may see it).
    async fn bot_runner(&self, ctx: &Context<'_>) -> Result<Option<Inline<BotRunner>>> {
        permit(ctx, self.class)?;
        build_key(ctx, self.row.bot_runner_id.map(BotRunnerById)).await
    }
    /// Who started it.
    async fn started_by(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, self.row.started_by).await
    }
    /// When it started.
    async fn started_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.started_at)
    }
    /// When it finished.
    async fn finished_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(read(ctx, self.class, || self.row.finished_at)?.flatten())
    }
    /// What the orchestrator recorded about this run, oldest first.
    async fn execution_logs(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<LogEntry>>>> {
        self.logs(ctx, LogStream::Execution).await
    }
    /// What the bot printed during this run, oldest first (empty while logging is off).
    async fn console_logs(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<LogEntry>>>> {
        self.logs(ctx, LogStream::Console).await
    }
}

impl WorkflowRun {
    async fn logs(
        &self,
        ctx: &Context<'_>,
        stream: LogStream,
    ) -> Result<Option<Vec<Inline<LogEntry>>>> {
        permit(ctx, self.class)?;
        let class = classify(ctx, Resource::grouped("LogEntry", self.group))?;
        let rows = load(ctx, LogsOfRun(self.row.id)).await?.unwrap_or_default();
        Ok(Some(log_entries(rows, stream, class)))
    }
}

/// A variable produced by a workflow run.
pub struct OutputVariable {
    row: output_variable::Model,
    pub(crate) class: ClassId,
}

#[Object]
impl OutputVariable {
    /// Its name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// Its value.
    async fn value(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.value.as_str())
    }
}

/// A published version of a workflow.
pub struct WorkflowVersion {
    pub(crate) row: workflow_version::Model,
    pub(crate) class: ClassId,
}

#[Object]
impl WorkflowVersion {
    /// Its number, from 1.
    async fn number(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        read(ctx, self.class, || self.row.number)
    }
    /// What changed.
    async fn comment(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.comment.as_str())
    }
    /// When it was published.
    async fn published_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.published_at)
    }
    /// Who published it.
    async fn published_by(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, Some(self.row.published_by)).await
    }
}

/// A line of a workflow's execution log.
pub struct LogEntry {
    row: execution_log::Model,
    pub(crate) class: ClassId,
}

#[Object]
impl LogEntry {
    /// When it was written.
    async fn at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.at)
    }
    /// Its severity.
    async fn level(&self, ctx: &Context<'_>) -> Result<Option<LogLevel>> {
        read(ctx, self.class, || self.row.level)
    }
    /// What it says.
    async fn message(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.message.as_str())
    }
}

/// A pending run in a workflow's queue.
pub struct QueueItem {
    pub(crate) row: queue_item::Model,
    pub(crate) class: ClassId,
}

#[Object]
impl QueueItem {
    /// Its id.
    async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || ID::from(self.row.id))
    }
    /// When it was queued.
    async fn enqueued_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.enqueued_at)
    }
    /// Where it stands.
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<RunState>> {
        read(ctx, self.class, || self.row.status)
    }
    /// The work to do, as it was enqueued.
    async fn payload(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.payload.as_str())
    }
}

/// A machine that runs workflows.
#[derive(Clone)]
pub struct BotRunner {
    pub(crate) row: bot_runner::Model,
    pub(crate) class: ClassId,
    groups: Vec<i32>,
}

impl Build for BotRunner {
    type Row = bot_runner::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<bot_runner::Model>) -> Result<Vec<Self>> {
        grouped(
            ctx,
            "BotRunner",
            rows,
            |r| GroupsOfBotRunner(r.id),
            |row, class, groups| Self { row, class, groups },
        )
        .await
    }
}

#[Object]
impl BotRunner {
    /// The runner's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("BotRunner", self.row.id))
    }
    /// The machine it runs on.
    async fn machine_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.machine_name.as_str())
    }
    /// Whether it may take work.
    async fn approval_state(&self, ctx: &Context<'_>) -> Result<Option<ApprovalState>> {
        read(ctx, self.class, || self.row.approval_state)
    }
    /// When it last reported.
    async fn last_seen_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(read(ctx, self.class, || self.row.last_seen_at)?.flatten())
    }
    /// Whether RDP credentials are configured. The credentials themselves are write-only.
    async fn rdp_credentials_set(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.rdp_secret.is_some())
    }
    /// The user name of its RDP credentials (the password is write-only).
    async fn rdp_username(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(read(ctx, self.class, || self.row.rdp_username.as_deref())?.flatten())
    }
    /// Its security groups (those you may see).
    async fn security_groups(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<SecurityGroup>>>> {
        permit(ctx, self.class)?;
        security_groups(ctx, self.groups.clone()).await.map(Some)
    }
    /// Its registration tokens (never the token itself).
    async fn registration_tokens(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<RegistrationToken>>> {
        permit(ctx, self.class)?;
        let class =
            classify(ctx, Resource::grouped("RegistrationToken", self.groups.iter().copied()))?;
        let rows = load(ctx, TokensOfBotRunner(self.row.id)).await?.unwrap_or_default();
        Ok(Some(rows.into_iter().map(|row| RegistrationToken { row, class }).collect()))
    }
}

/// A token a bot runner registers with. Its secret is never readable.
pub struct RegistrationToken {
    pub(crate) row: registration_token::Model,
    pub(crate) class: ClassId,
}

#[Object]
impl RegistrationToken {
    /// Its id.
    async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || ID::from(self.row.id))
    }
    /// When it was created.
    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.created_at)
    }
    /// When it lapses.
    async fn expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.expires_at)
    }
    /// Whether a runner has registered with it.
    async fn used(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.row.used)
    }
}
