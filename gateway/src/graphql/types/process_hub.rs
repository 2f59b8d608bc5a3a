//! Process Hub: processes, their jobs and tasks, and forms.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Build, SecurityGroup, User, build_key, related, security_groups, user};
use crate::authz::{ClassId, Relation, Resource};
use crate::graphql::connection::Connection;
use crate::graphql::context::{classify, load, load_many, permit, read, request};
use crate::graphql::inline::Inline;
use crate::graphql::node::global_id;
use crate::store::entity::*;
use crate::store::loaders::*;
use crate::store::write::process_hub::FieldValue as StoredValue;

/// A Process Hub process.
#[derive(Clone)]
pub struct Process {
    pub(crate) row: process::Model,
    pub(crate) class: ClassId,
    groups: Vec<i32>,
}

impl Build for Process {
    type Row = process::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<process::Model>) -> Result<Vec<Self>> {
        let data = request(ctx)?;
        let me = data.guard.principal().user;
        let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
        let groups = load_many(ctx, ids.iter().copied().map(GroupsOfProcess)).await?;
        let launchers = load_many(ctx, ids.iter().copied().map(LaunchersOfProcess)).await?;
        rows.into_iter()
            .map(|row| {
                let groups = groups.get(&GroupsOfProcess(row.id)).cloned().unwrap_or_default();
                let launcher =
                    launchers.get(&LaunchersOfProcess(row.id)).is_some_and(|l| l.contains(&me));
                let relations = Relation::NONE
                    .with(Relation::CREATOR, row.created_by == me)
                    .with(Relation::LAUNCHER, launcher);
                let class = classify(
                    ctx,
                    Resource::grouped("Process", groups.iter().copied()).related(relations),
                )?;
                Ok(Self { row, class, groups })
            })
            .collect()
    }
}

#[Object]
impl Process {
    /// The process's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Process", self.row.id))
    }
    /// Its name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// What it does.
    async fn description(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.description.as_str())
    }
    /// Who created it.
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, Some(self.row.created_by)).await
    }
    /// Who may launch it.
    async fn launch_permissions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<User>>>> {
        permit(ctx, self.class)?;
        let ids = load(ctx, LaunchersOfProcess(self.row.id)).await?.unwrap_or_default();
        let found = load_many(ctx, ids.iter().copied().map(UserById)).await?;
        let rows = ids.into_iter().filter_map(|id| found.get(&UserById(id)).cloned()).collect();
        Ok(Some(Inline::all(User::build(ctx, rows).await?)))
    }
    /// Its security groups (those you may see).
    async fn security_groups(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<Inline<SecurityGroup>>>> {
        permit(ctx, self.class)?;
        security_groups(ctx, self.groups.clone()).await.map(Some)
    }
    /// The form its tasks collect, if it has one (and you may see forms).
    async fn form(&self, ctx: &Context<'_>) -> Result<Option<Inline<Form>>> {
        permit(ctx, self.class)?;
        build_key(ctx, self.row.form_id.map(FormById)).await
    }
    /// Its jobs (those you may see).
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Job>>> {
        related(ctx, self.class, JobsOfProcess(self.row.id), first, after).await
    }
}

/// One launch of a process.
#[derive(Clone)]
pub struct Job {
    pub(crate) row: job::Model,
    pub(crate) class: ClassId,
}

impl Build for Job {
    type Row = job::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<job::Model>) -> Result<Vec<Self>> {
        let me = request(ctx)?.guard.principal().user;
        rows.into_iter()
            .map(|row| {
                let relations = Relation::NONE.with(Relation::LAUNCHER, row.launched_by == me);
                let class = classify(ctx, Resource::plain("Job").related(relations))?;
                Ok(Self { row, class })
            })
            .collect()
    }
}

#[Object]
impl Job {
    /// The job's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Job", self.row.id))
    }
    /// The process launched.
    async fn process(&self, ctx: &Context<'_>) -> Result<Option<Inline<Process>>> {
        permit(ctx, self.class)?;
        build_key(ctx, Some(ProcessById(self.row.process_id))).await
    }
    /// Who launched it.
    async fn launched_by(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, Some(self.row.launched_by)).await
    }
    /// Where it stands.
    async fn state(&self, ctx: &Context<'_>) -> Result<Option<RunState>> {
        read(ctx, self.class, || self.row.state)
    }
    /// When it started.
    async fn started_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.row.started_at)
    }
    /// When it finished.
    async fn finished_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(read(ctx, self.class, || self.row.finished_at)?.flatten())
    }
    /// The job this one retries, if it is a retry (and you may see it).
    async fn retry_of(&self, ctx: &Context<'_>) -> Result<Option<Inline<Job>>> {
        permit(ctx, self.class)?;
        build_key(ctx, self.row.retry_of.map(JobById)).await
    }
    /// Its tasks (those you may see).
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<Task>>> {
        related(ctx, self.class, TasksOfJob(self.row.id), first, after).await
    }
}

/// A step of a job that waits for a person.
#[derive(Clone)]
pub struct Task {
    pub(crate) row: task::Model,
    pub(crate) class: ClassId,
    relations: Relation,
}

impl Build for Task {
    type Row = task::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<task::Model>) -> Result<Vec<Self>> {
        let me = request(ctx)?.guard.principal().user;
        rows.into_iter()
            .map(|row| {
                let relations =
                    Relation::NONE.with(Relation::ASSIGNEE, row.assignee_id == Some(me));
                let class = classify(ctx, Resource::plain("Task").related(relations))?;
                Ok(Self { row, class, relations })
            })
            .collect()
    }
}

#[Object]
impl Task {
    /// The task's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Task", self.row.id))
    }
    /// What is to be done.
    async fn title(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.title.as_str())
    }
    /// Who is to do it.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, self.row.assignee_id).await
    }
    /// Where it stands.
    async fn state(&self, ctx: &Context<'_>) -> Result<Option<TaskState>> {
        read(ctx, self.class, || self.row.state)
    }
    /// The job it belongs to.
    async fn job(&self, ctx: &Context<'_>) -> Result<Option<Inline<Job>>> {
        permit(ctx, self.class)?;
        build_key(ctx, Some(JobById(self.row.job_id))).await
    }
    /// The form to fill in.
    async fn form(&self, ctx: &Context<'_>) -> Result<Option<Inline<Form>>> {
        permit(ctx, self.class)?;
        build_key(ctx, self.row.form_id.map(FormById)).await
    }
    /// The fields its form asks for, in order: what `completeTask` takes (readable by whoever
    /// sees the task, even without access to forms).
    async fn form_fields(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        permit(ctx, self.class)?;
        let Some(id) = self.row.form_id else {
            return Ok(Some(Vec::new()));
        };
        Ok(Some(load(ctx, FieldsOfForm(id)).await?.unwrap_or_default()))
    }
    /// What was filled in when it was completed, field by field in the form's order.
    async fn values(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<FieldValue>>>> {
        permit(ctx, self.class)?;
        let class = classify(ctx, Resource::plain("FieldValue").related(self.relations))?;
        let values: Vec<StoredValue> = self
            .row
            .field_values
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        Ok(Some(values.into_iter().map(|value| Inline(FieldValue { class, value })).collect()))
    }
    /// When it was completed.
    async fn completed_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(read(ctx, self.class, || self.row.completed_at)?.flatten())
    }
    /// Who completed it.
    async fn completed_by(&self, ctx: &Context<'_>) -> Result<Option<Inline<User>>> {
        permit(ctx, self.class)?;
        user(ctx, self.row.completed_by).await
    }
}

/// One filled-in field of a completed task.
pub struct FieldValue {
    class: ClassId,
    value: StoredValue,
}

#[Object]
impl FieldValue {
    /// The field's name, as its form has it.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.value.name.as_str())
    }
    /// What was entered.
    async fn value(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.value.value.as_str())
    }
}

/// A form tasks collect input with.
#[derive(Clone)]
pub struct Form {
    pub(crate) row: form::Model,
    pub(crate) class: ClassId,
}

impl Build for Form {
    type Row = form::Model;
    async fn build(ctx: &Context<'_>, rows: Vec<form::Model>) -> Result<Vec<Self>> {
        let class = classify(ctx, Resource::plain("Form"))?;
        Ok(rows.into_iter().map(|row| Self { row, class }).collect())
    }
}

#[Object]
impl Form {
    /// The form's id.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("Form", self.row.id))
    }
    /// Its name.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        read(ctx, self.class, || self.row.name.as_str())
    }
    /// The names of its fields.
    async fn field_names(&self, ctx: &Context<'_>) -> Result<Option<Vec<&str>>> {
        read(ctx, self.class, || self.row.fields())
    }
}
