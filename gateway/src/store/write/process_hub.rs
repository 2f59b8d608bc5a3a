//! Process Hub: processes and who may launch them, jobs, tasks and forms (domain §5).
//!
//! Launching a process starts a job with its first task, assigned to the launcher and
//! collecting the process's form; completing a job's last task completes the job. The
//! invariants hold whatever policy is loaded: a job is cancelled only while it waits or runs,
//! retried only once it failed or was cancelled; a task is completed once, while its job runs,
//! with exactly the fields of its form.

use chrono::Utc;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

use super::{Audit, Changes, Write, bounded, named, target_id};
use crate::authz::{Action, Relation, Resource};
use crate::error::Error;
use crate::store::entity::*;
use crate::store::read;

/// The longest process or form name.
pub const MAX_NAME: usize = 100;
/// The longest process description.
pub const MAX_DESCRIPTION: usize = 2000;
/// The most users one process's launch permissions name.
pub const MAX_LAUNCHERS: usize = 1000;
/// The most fields of a form.
pub const MAX_FIELDS: usize = 100;
/// The longest value of a task's field.
pub const MAX_VALUE: usize = 10_000;

/// A process's attributes to set; fields left out stay as they are.
#[derive(Default)]
pub struct ProcessChange {
    /// Its name.
    pub name: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// The form its tasks collect (a `Form` id); `Some(None)` clears it.
    pub form_id: Option<Option<i32>>,
}

/// A form's attributes to set; fields left out stay as they are.
#[derive(Default)]
pub struct FormChange {
    /// Its name.
    pub name: Option<String>,
    /// The names of its fields, in order.
    pub field_names: Option<Vec<String>>,
}

/// One filled-in field of a task's form.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldValue {
    /// The field's name, as the form has it.
    pub name: String,
    /// What was entered.
    pub value: String,
}

/// The security groups of a process.
async fn process_groups(w: &Write<'_>, id: i32) -> Result<Vec<i32>, Error> {
    Ok(process_security_group::Entity::find()
        .select_only()
        .column(process_security_group::Column::SecurityGroupId)
        .filter(process_security_group::Column::ProcessId.eq(id))
        .into_tuple()
        .all(w.db())
        .await?)
}

/// The process a job belongs to, and its security groups (what audit entries about the job
/// and its tasks record); `missing` is the error if it is gone.
async fn process_of_job(
    w: &Write<'_>,
    job: &job::Model,
    missing: impl FnOnce() -> Error,
) -> Result<(process::Model, Vec<i32>), Error> {
    let process =
        process::Entity::find_by_id(job.process_id).one(w.db()).await?.ok_or_else(missing)?;
    let groups = process_groups(w, process.id).await?;
    Ok((process, groups))
}

/// A process as the policy sees it: its security groups and how the caller relates to it.
async fn process_resource(
    w: &Write<'_>,
    process: &process::Model,
) -> Result<(Resource, Vec<i32>), Error> {
    let groups = process_groups(w, process.id).await?;
    let launcher = process_launcher::Entity::find()
        .filter(process_launcher::Column::ProcessId.eq(process.id))
        .filter(process_launcher::Column::UserId.eq(w.actor()))
        .count(w.db())
        .await?
        > 0;
    let relations = Relation::NONE
        .with(Relation::CREATOR, process.created_by == w.actor())
        .with(Relation::LAUNCHER, launcher);
    Ok((Resource::grouped("Process", groups.iter().copied()).related(relations), groups))
}

/// A visible process the caller may perform `action` on, and its security groups.
async fn process_for(
    w: &Write<'_>,
    id: i32,
    action: &'static str,
    what: &str,
) -> Result<(process::Model, Vec<i32>), Error> {
    let process = w.visible::<process::Entity>(id).await?;
    let (resource, groups) = process_resource(w, &process).await?;
    w.authorize(resource, Action::named(action), &format!("{what} process {}", process.name))?;
    Ok((process, groups))
}

fn process_audit(
    action: &'static str,
    process: &process::Model,
    groups: &[i32],
    details: Value,
) -> Audit {
    Audit {
        action,
        target: process.name.clone(),
        target_id: target_id("Process", process.id),
        security_groups: groups.to_vec(),
        details,
    }
}

/// Creates a process. With Advanced Access Management on, it joins the security groups of its
/// creator, so that it stays within their reach.
pub async fn create_process(w: &Write<'_>, change: ProcessChange) -> Result<process::Model, Error> {
    w.authorize(
        Resource::plain("Process").related(Relation::CREATOR),
        Action::named("create-process"),
        "create processes",
    )?;
    let name = named("a process", change.name.as_deref().unwrap_or_default(), MAX_NAME)?;
    let description = bounded(
        "a process's description",
        change.description.as_deref().unwrap_or_default(),
        MAX_DESCRIPTION,
    )?;
    let form_id = match change.form_id.flatten() {
        Some(id) => Some(w.visible::<form::Entity>(id).await?.id),
        None => None,
    };
    let process = process::ActiveModel {
        team_id: Set(w.team()),
        name: Set(name),
        description: Set(description),
        created_by: Set(w.actor()),
        created_at: Set(Utc::now()),
        form_id: Set(form_id),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    let principal = w.guard().principal();
    let groups = if principal.advanced_access_management {
        principal.security_groups.clone()
    } else {
        Vec::new()
    };
    if !groups.is_empty() {
        process_security_group::Entity::insert_many(groups.iter().map(|group| {
            process_security_group::ActiveModel {
                process_id: Set(process.id),
                security_group_id: Set(*group),
            }
        }))
        .exec(w.db())
        .await?;
    }
    // A process its creator could not see afterwards is refused rather than created out of
    // their reach (a PROCESS_MANAGER in no security group, with AAM on).
    if let Err(Error::NotFound(_)) = w.visible::<process::Entity>(process.id).await {
        return Err(Error::Conflict(
            "with Advanced Access Management on, a process you create joins your security \
             groups, and you belong to none; ask a team manager to add you to one"
                .into(),
        ));
    }
    w.audit(process_audit(
        "process.created",
        &process,
        &groups,
        json!({ "name": process.name, "description": process.description, "formId": form_id, "securityGroups": groups }),
    ))
    .await?;
    Ok(process)
}

/// Changes a process's name, description or form.
pub async fn update_process(
    w: &Write<'_>,
    id: i32,
    change: ProcessChange,
) -> Result<process::Model, Error> {
    let (process, groups) = process_for(w, id, "update-process", "edit").await?;
    let name = change.name.map(|name| named("a process", &name, MAX_NAME)).transpose()?;
    let description = change
        .description
        .map(|text| bounded("a process's description", &text, MAX_DESCRIPTION))
        .transpose()?;
    let form = match change.form_id {
        Some(Some(id)) => Some(Some(w.visible::<form::Entity>(id).await?.id)),
        other => other,
    };
    let mut changes = Changes::default();
    let mut changed = process.clone().into_active_model();
    if let Some(name) = changes.of("name", &process.name, name) {
        changed.name = Set(name);
    }
    if let Some(description) = changes.of("description", &process.description, description) {
        changed.description = Set(description);
    }
    if let Some(form) = changes.of("formId", &process.form_id, form) {
        changed.form_id = Set(form);
    }
    if changes.is_empty() {
        return Ok(process);
    }
    let process = changed.update(w.db()).await?;
    w.audit(process_audit("process.updated", &process, &groups, changes.details())).await?;
    Ok(process)
}

/// Sets who may launch a process (the whole list of users, each a member of the team).
pub async fn set_launch_permissions(
    w: &Write<'_>,
    id: i32,
    user_ids: &[i32],
) -> Result<process::Model, Error> {
    let (process, groups) =
        process_for(w, id, "set-launch-permissions", "change who may launch").await?;
    let mut wanted = user_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.len() > MAX_LAUNCHERS {
        return Err(Error::Limit {
            code: "TOO_MANY_LAUNCHERS",
            message: format!("a process names at most {MAX_LAUNCHERS} launchers"),
        });
    }
    let members: Vec<user::Model> = user::Entity::find()
        .filter(read::visible::<user::Entity>(w.guard()))
        .filter(user::Column::Id.is_in(wanted.iter().copied()))
        .all(w.db())
        .await?;
    if let Some(missing) = wanted.iter().find(|id| !members.iter().any(|u| u.id == **id)) {
        return Err(Error::NotFound(format!("there is no User:{missing}")));
    }
    let current: Vec<i32> = process_launcher::Entity::find()
        .select_only()
        .column(process_launcher::Column::UserId)
        .filter(process_launcher::Column::ProcessId.eq(id))
        .order_by_asc(process_launcher::Column::UserId)
        .into_tuple()
        .all(w.db())
        .await?;
    if current == wanted {
        return Ok(process);
    }
    process_launcher::Entity::delete_many()
        .filter(process_launcher::Column::ProcessId.eq(id))
        .exec(w.db())
        .await?;
    if !wanted.is_empty() {
        process_launcher::Entity::insert_many(wanted.iter().map(|user| {
            process_launcher::ActiveModel { process_id: Set(id), user_id: Set(*user) }
        }))
        .exec(w.db())
        .await?;
    }
    w.audit(process_audit(
        "process.launchers_set",
        &process,
        &groups,
        json!({ "launchers": { "from": current, "to": wanted } }),
    ))
    .await?;
    Ok(process)
}

/// Launches a process: a running job, with its first task assigned to the launcher.
pub async fn launch(w: &Write<'_>, id: i32) -> Result<job::Model, Error> {
    let (process, groups) = process_for(w, id, "launch-process", "launch").await?;
    let job = job::ActiveModel {
        team_id: Set(w.team()),
        process_id: Set(id),
        launched_by: Set(w.actor()),
        state: Set(RunState::Running),
        started_at: Set(Utc::now()),
        finished_at: Set(None),
        retry_of: Set(None),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    let task = open_task(w, &job, process.name.clone(), Some(w.actor()), process.form_id).await?;
    w.audit(process_audit(
        "process.launched",
        &process,
        &groups,
        json!({ "jobId": job.id, "taskId": task.id }),
    ))
    .await?;
    Ok(job)
}

async fn open_task(
    w: &Write<'_>,
    job: &job::Model,
    title: String,
    assignee: Option<i32>,
    form: Option<i32>,
) -> Result<task::Model, Error> {
    Ok(task::ActiveModel {
        team_id: Set(w.team()),
        job_id: Set(job.id),
        title: Set(title),
        assignee_id: Set(assignee),
        state: Set(TaskState::Open),
        form_id: Set(form),
        ..Default::default()
    }
    .insert(w.db())
    .await?)
}

/// A visible job the caller may perform `action` on, its process and the process's groups.
async fn job_for(
    w: &Write<'_>,
    id: i32,
    action: &'static str,
    what: &str,
) -> Result<(job::Model, process::Model, Vec<i32>), Error> {
    let job = w.visible::<job::Entity>(id).await?;
    let relations = Relation::NONE.with(Relation::LAUNCHER, job.launched_by == w.actor());
    w.authorize(
        Resource::plain("Job").related(relations),
        Action::named(action),
        &format!("{what} job {id}"),
    )?;
    let (process, groups) =
        process_of_job(w, &job, || Error::NotFound(format!("there is no Job:{id}"))).await?;
    Ok((job, process, groups))
}

fn job_audit(
    action: &'static str,
    job: &job::Model,
    process: &process::Model,
    groups: &[i32],
    details: Value,
) -> Audit {
    Audit {
        action,
        target: format!("{} job {}", process.name, job.id),
        target_id: target_id("Job", job.id),
        security_groups: groups.to_vec(),
        details,
    }
}

/// Cancels a job that waits or runs.
pub async fn cancel_job(w: &Write<'_>, id: i32) -> Result<job::Model, Error> {
    let (job, process, groups) = job_for(w, id, "cancel-job", "cancel").await?;
    if !matches!(job.state, RunState::Queued | RunState::Running) {
        return Err(Error::Conflict(format!(
            "job {id} of {} is {}; only a queued or running job can be cancelled",
            process.name,
            job.state.to_value()
        )));
    }
    let before = job.state;
    let mut changed = job.into_active_model();
    changed.state = Set(RunState::Cancelled);
    changed.finished_at = Set(Some(Utc::now()));
    let job = changed.update(w.db()).await?;
    w.audit(job_audit(
        "job.cancelled",
        &job,
        &process,
        &groups,
        json!({ "state": { "from": before.to_value(), "to": job.state.to_value() } }),
    ))
    .await?;
    Ok(job)
}

/// Retries a failed or cancelled job: a new running job of the same process for the same
/// launcher, with the open tasks of the first one opened again.
pub async fn retry_job(w: &Write<'_>, id: i32) -> Result<job::Model, Error> {
    let (job, process, groups) = job_for(w, id, "retry-job", "retry").await?;
    if !matches!(job.state, RunState::Failed | RunState::Cancelled) {
        return Err(Error::Conflict(format!(
            "job {id} of {} is {}; only a failed or cancelled job can be retried",
            process.name,
            job.state.to_value()
        )));
    }
    let retry = job::ActiveModel {
        team_id: Set(w.team()),
        process_id: Set(job.process_id),
        launched_by: Set(job.launched_by),
        state: Set(RunState::Running),
        started_at: Set(Utc::now()),
        finished_at: Set(None),
        retry_of: Set(Some(job.id)),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    let tasks = task::Entity::find()
        .filter(task::Column::JobId.eq(job.id))
        .filter(task::Column::State.eq(TaskState::Open))
        .order_by_asc(task::Column::Id)
        .all(w.db())
        .await?;
    if tasks.is_empty() {
        open_task(w, &retry, process.name.clone(), Some(job.launched_by), process.form_id).await?;
    }
    for task in tasks {
        open_task(w, &retry, task.title, task.assignee_id, task.form_id).await?;
    }
    w.audit(job_audit("job.retried", &job, &process, &groups, json!({ "retryJobId": retry.id })))
        .await?;
    Ok(retry)
}

/// Completes an open task of a running job with the values of its form's fields; the job
/// completes with its last task.
pub async fn complete_task(
    w: &Write<'_>,
    id: i32,
    values: Vec<FieldValue>,
) -> Result<task::Model, Error> {
    let task = w.visible::<task::Entity>(id).await?;
    let relations = Relation::NONE.with(Relation::ASSIGNEE, task.assignee_id == Some(w.actor()));
    w.authorize(
        Resource::plain("Task").related(relations),
        Action::named("complete-task"),
        &format!("complete task {id} ({})", task.title),
    )?;
    if task.state != TaskState::Open {
        return Err(Error::Conflict(format!("task {id} ({}) is already completed", task.title)));
    }
    let job = job::Entity::find_by_id(task.job_id)
        .one(w.db())
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no Task:{id}")))?;
    if !matches!(job.state, RunState::Queued | RunState::Running) {
        return Err(Error::Conflict(format!(
            "job {} of task {id} is {}; its tasks can no longer be completed",
            job.id,
            job.state.to_value()
        )));
    }
    let form = match task.form_id {
        Some(form) => form::Entity::find_by_id(form).one(w.db()).await?,
        None => None,
    };
    let values = validated_values(form.as_ref(), values)?;
    let (process, groups) =
        process_of_job(w, &job, || Error::NotFound(format!("there is no Task:{id}"))).await?;
    let fields: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
    let details = json!({ "jobId": job.id, "fields": fields });
    let stored = serde_json::to_string(&values)
        .map_err(|e| Error::InvalidInput(format!("the values cannot be stored: {e}")))?;
    let mut changed = task.into_active_model();
    changed.state = Set(TaskState::Completed);
    changed.field_values = Set(Some(stored));
    changed.completed_at = Set(Some(Utc::now()));
    changed.completed_by = Set(Some(w.actor()));
    let task = changed.update(w.db()).await?;
    let still_open = task::Entity::find()
        .filter(task::Column::JobId.eq(job.id))
        .filter(task::Column::State.eq(TaskState::Open))
        .count(w.db())
        .await?;
    if still_open == 0 {
        let mut finished = job.clone().into_active_model();
        finished.state = Set(RunState::Succeeded);
        finished.finished_at = Set(Some(Utc::now()));
        finished.update(w.db()).await?;
    }
    w.audit(Audit {
        action: "task.completed",
        target: format!("{}: {}", process.name, task.title),
        target_id: target_id("Task", task.id),
        security_groups: groups,
        details,
    })
    .await?;
    Ok(task)
}

/// The values of a task, checked against its form: every field once, and nothing else.
fn validated_values(
    form: Option<&form::Model>,
    values: Vec<FieldValue>,
) -> Result<Vec<FieldValue>, Error> {
    let Some(form) = form else {
        if values.is_empty() {
            return Ok(values);
        }
        return Err(Error::InvalidInput(
            "this task has no form; complete it without values".into(),
        ));
    };
    let fields = form.fields();
    let mut seen: Vec<&str> = Vec::new();
    for value in &values {
        let Some(field) = fields.iter().find(|f| f.eq_ignore_ascii_case(value.name.trim())) else {
            return Err(Error::InvalidInput(format!(
                "form {} has no field `{}`; its fields are {}",
                form.name,
                value.name,
                fields.join(", ")
            )));
        };
        if seen.contains(field) {
            return Err(Error::InvalidInput(format!("the field `{field}` is given twice")));
        }
        if value.value.chars().count() > MAX_VALUE {
            return Err(Error::InvalidInput(format!(
                "the value of `{field}` has at most {MAX_VALUE} characters"
            )));
        }
        seen.push(field);
    }
    let missing: Vec<&str> = fields.iter().copied().filter(|f| !seen.contains(f)).collect();
    if !missing.is_empty() {
        return Err(Error::InvalidInput(format!(
            "form {} needs a value for every field; missing: {}",
            form.name,
            missing.join(", ")
        )));
    }
    // Stored in the form's order, under the form's spelling of each field.
    Ok(fields
        .iter()
        .filter_map(|field| {
            values
                .iter()
                .find(|v| field.eq_ignore_ascii_case(v.name.trim()))
                .map(|v| FieldValue { name: (*field).to_owned(), value: v.value.clone() })
        })
        .collect())
}

/// Field names, trimmed, each non-empty, without commas, unique (ignoring case).
fn validated_fields(names: Vec<String>) -> Result<String, Error> {
    if names.len() > MAX_FIELDS {
        return Err(Error::InvalidInput(format!("a form has at most {MAX_FIELDS} fields")));
    }
    let mut fields: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim().to_owned();
        if name.is_empty() || name.contains(',') || name.chars().count() > MAX_NAME {
            return Err(Error::InvalidInput(format!(
                "`{name}` is not a field name: 1 to {MAX_NAME} characters, no commas"
            )));
        }
        if fields.iter().any(|f| f.eq_ignore_ascii_case(&name)) {
            return Err(Error::InvalidInput(format!("the field `{name}` is listed twice")));
        }
        fields.push(name);
    }
    Ok(fields.join(", "))
}

fn form_audit(action: &'static str, form: &form::Model, details: Value) -> Audit {
    Audit {
        action,
        target: form.name.clone(),
        target_id: target_id("Form", form.id),
        security_groups: Vec::new(),
        details,
    }
}

/// Creates a form.
pub async fn create_form(w: &Write<'_>, change: FormChange) -> Result<form::Model, Error> {
    w.authorize(Resource::plain("Form"), Action::named("create-form"), "create forms")?;
    let name = named("a form", change.name.as_deref().unwrap_or_default(), MAX_NAME)?;
    let field_names = validated_fields(change.field_names.unwrap_or_default())?;
    let form = form::ActiveModel {
        team_id: Set(w.team()),
        name: Set(name),
        field_names: Set(field_names),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    w.audit(form_audit(
        "form.created",
        &form,
        json!({ "name": form.name, "fields": form.fields() }),
    ))
    .await?;
    Ok(form)
}

/// Renames a form or changes its fields. Tasks completed earlier keep the values they have.
pub async fn update_form(w: &Write<'_>, id: i32, change: FormChange) -> Result<form::Model, Error> {
    let form = w.visible::<form::Entity>(id).await?;
    w.authorize(
        Resource::plain("Form"),
        Action::named("update-form"),
        &format!("edit form {}", form.name),
    )?;
    let name = change.name.map(|name| named("a form", &name, MAX_NAME)).transpose()?;
    let fields = change.field_names.map(validated_fields).transpose()?;
    let mut changes = Changes::default();
    let mut changed = form.clone().into_active_model();
    if let Some(name) = changes.of("name", &form.name, name) {
        changed.name = Set(name);
    }
    if let Some(fields) = changes.of("fields", &form.field_names, fields) {
        changed.field_names = Set(fields);
    }
    if changes.is_empty() {
        return Ok(form);
    }
    let form = changed.update(w.db()).await?;
    w.audit(form_audit("form.updated", &form, changes.details())).await?;
    Ok(form)
}
