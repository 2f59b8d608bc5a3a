//! Workflows: versions, settings, manual runs, the work queue, runner assignment (domain §4).
//!
//! The invariants hold whatever policy is loaded: a version switch names an existing version;
//! a bot runner is assigned to a workflow only if it shares the workflow's security group
//! (`CONFLICT` naming both) and is approved; only approved runners take work, so a run needs
//! one; a work item is removed only while it waits.

use std::collections::HashMap;

use chrono::Utc;

use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

use super::{Audit, Changes, Write, bounded, conflict_on_unique, target_id};
use crate::authz::{Action, Resource};
use crate::error::Error;
use crate::store::entity::*;
use crate::store::read;

/// The longest comment of a published version.
pub const MAX_COMMENT: usize = 1000;
/// The longest schedule expression.
pub const MAX_SCHEDULE: usize = 100;
/// The largest work item payload, in bytes.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// The most bot runners one workflow can be assigned.
pub const MAX_RUNNERS: usize = 100;

/// What a workflow is to the policy: its type and security group.
fn resource(type_name: &'static str, workflow: &workflow::Model) -> Resource {
    Resource::grouped(type_name, workflow.security_group_id)
}

fn groups(workflow: &workflow::Model) -> Vec<i32> {
    workflow.security_group_id.into_iter().collect()
}

fn audit(action: &'static str, workflow: &workflow::Model, details: Value) -> Audit {
    Audit {
        action,
        target: workflow.name.clone(),
        target_id: target_id("Workflow", workflow.id),
        security_groups: groups(workflow),
        details,
    }
}

/// A visible workflow the caller may perform `action` on (`what` in words, for the message).
async fn acting_on(
    w: &Write<'_>,
    id: i32,
    action: &'static str,
    what: &str,
) -> Result<workflow::Model, Error> {
    let workflow = w.visible::<workflow::Entity>(id).await?;
    w.authorize(
        resource("Workflow", &workflow),
        Action::named(action),
        &format!("{what} workflow {}", workflow.name),
    )?;
    Ok(workflow)
}

/// Publishes a new version of a workflow, which becomes the version in use; returns the
/// version and the workflow as changed.
pub async fn publish_version(
    w: &Write<'_>,
    id: i32,
    comment: Option<String>,
) -> Result<(workflow_version::Model, workflow::Model), Error> {
    let workflow = acting_on(w, id, "publish-workflow-version", "publish").await?;
    let comment = bounded("a version's comment", &comment.unwrap_or_default(), MAX_COMMENT)?;
    let latest: Option<i32> = workflow_version::Entity::find()
        .select_only()
        .column_as(workflow_version::Column::Number.max(), "latest")
        .filter(workflow_version::Column::WorkflowId.eq(id))
        .into_tuple::<Option<i32>>()
        .one(w.db())
        .await?
        .flatten();
    let number = latest.unwrap_or(0).max(workflow.current_version) + 1;
    let version = workflow_version::ActiveModel {
        workflow_id: Set(id),
        number: Set(number),
        comment: Set(comment.clone()),
        published_at: Set(Utc::now()),
        published_by: Set(w.actor()),
        ..Default::default()
    }
    .insert(w.db())
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            format!("version {number} of workflow {} was just published; try again", workflow.name)
        })
    })?;
    let before = workflow.current_version;
    let mut changed = workflow.into_active_model();
    changed.current_version = Set(number);
    let workflow = changed.update(w.db()).await?;
    w.audit(audit(
        "workflow.published",
        &workflow,
        json!({ "version": number, "comment": comment, "currentVersion": { "from": before, "to": number } }),
    ))
    .await?;
    Ok((version, workflow))
}

/// Puts a published version back in use.
pub async fn switch_version(w: &Write<'_>, id: i32, number: i32) -> Result<workflow::Model, Error> {
    let workflow = acting_on(w, id, "switch-workflow-version", "switch the version of").await?;
    let exists = workflow_version::Entity::find()
        .filter(workflow_version::Column::WorkflowId.eq(id))
        .filter(workflow_version::Column::Number.eq(number))
        .count(w.db())
        .await?
        > 0;
    if !exists {
        let numbers: Vec<i32> = workflow_version::Entity::find()
            .select_only()
            .column(workflow_version::Column::Number)
            .filter(workflow_version::Column::WorkflowId.eq(id))
            .order_by_asc(workflow_version::Column::Number)
            .into_tuple()
            .all(w.db())
            .await?;
        let known = match (numbers.first(), numbers.last()) {
            (Some(first), Some(last)) if first == last => format!("its only version is {first}"),
            (Some(first), Some(last)) => format!("its versions are {first} to {last}"),
            _ => "it has no published version".into(),
        };
        return Err(Error::InvalidInput(format!(
            "workflow {} has no version {number}; {known}",
            workflow.name
        )));
    }
    if workflow.current_version == number {
        return Ok(workflow);
    }
    let before = workflow.current_version;
    let mut changed = workflow.into_active_model();
    changed.current_version = Set(number);
    let workflow = changed.update(w.db()).await?;
    w.audit(audit(
        "workflow.version_switched",
        &workflow,
        json!({ "currentVersion": { "from": before, "to": number } }),
    ))
    .await?;
    Ok(workflow)
}

/// The settings of a workflow to change; each one given is its own action.
#[derive(Default)]
pub struct WorkflowSettings {
    /// A cron schedule; `Some(None)` clears it.
    pub schedule: Option<Option<String>>,
    /// Webhook triggering on or off.
    pub webhook_enabled: Option<bool>,
    /// Run logging on or off.
    pub logging_enabled: Option<bool>,
}

/// A schedule, trimmed, if it is a valid cron expression (five fields, or six with seconds).
fn validated_schedule(schedule: &str) -> Result<String, Error> {
    let schedule = schedule.split_whitespace().collect::<Vec<_>>().join(" ");
    if schedule.chars().count() > MAX_SCHEDULE {
        return Err(Error::InvalidInput(format!(
            "a schedule has at most {MAX_SCHEDULE} characters"
        )));
    }
    croner::parser::CronParser::new()
        .parse(&schedule)
        .map_err(|e| {
            Error::InvalidInput(format!(
                "`{schedule}` is not a cron schedule ({e}); e.g. `0 6 * * 1-5` runs at 06:00 on weekdays"
            ))
        })?;
    Ok(schedule)
}

/// Changes a workflow's schedule, webhook and logging. Each setting given is decided as its
/// own action, all in one batch; unchanged settings are not audited.
pub async fn configure(
    w: &Write<'_>,
    id: i32,
    settings: WorkflowSettings,
) -> Result<workflow::Model, Error> {
    let workflow = w.visible::<workflow::Entity>(id).await?;
    let on = |action: &'static str, words: &str| {
        (
            resource("Workflow", &workflow),
            Action::named(action),
            format!("{words} of workflow {}", workflow.name),
        )
    };
    let mut asked = Vec::new();
    if settings.schedule.is_some() {
        asked.push(on("set-workflow-schedule", "change the schedule"));
    }
    if settings.webhook_enabled.is_some() {
        asked.push(on("set-workflow-webhook", "turn on or off the webhook"));
    }
    if settings.logging_enabled.is_some() {
        asked.push(on("set-workflow-logging", "turn on or off the logging"));
    }
    w.authorize_all(asked)?;
    let schedule = match settings.schedule {
        Some(Some(schedule)) => Some(Some(validated_schedule(&schedule)?)),
        other => other,
    };

    let mut changes = Changes::default();
    let mut changed = workflow.clone().into_active_model();
    if let Some(schedule) = changes.of("schedule", &workflow.schedule, schedule) {
        changed.schedule = Set(schedule);
    }
    let webhook = &workflow.webhook_enabled;
    if let Some(on) = changes.of("webhookEnabled", webhook, settings.webhook_enabled) {
        changed.webhook_enabled = Set(on);
    }
    let logging = &workflow.logging_enabled;
    if let Some(on) = changes.of("loggingEnabled", logging, settings.logging_enabled) {
        changed.logging_enabled = Set(on);
    }
    if changes.is_empty() {
        return Ok(workflow);
    }
    let workflow = changed.update(w.db()).await?;
    w.audit(audit("workflow.configured", &workflow, changes.details())).await?;
    Ok(workflow)
}

/// Starts a run of a workflow now, on the least busy approved bot runner assigned to it, with
/// its first execution and console log lines.
pub async fn run(w: &Write<'_>, id: i32) -> Result<workflow_run::Model, Error> {
    let workflow = acting_on(w, id, "run-workflow", "run").await?;
    let assigned: Vec<bot_runner::Model> = bot_runner::Entity::find()
        .filter(
            bot_runner::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(workflow_bot_runner::Column::BotRunnerId)
                    .from(workflow_bot_runner::Entity)
                    .and_where(workflow_bot_runner::Column::WorkflowId.eq(id))
                    .to_owned(),
            ),
        )
        .order_by_asc(bot_runner::Column::Id)
        .all(w.db())
        .await?;
    let approved: Vec<&bot_runner::Model> =
        assigned.iter().filter(|r| r.approval_state == ApprovalState::Approved).collect();
    let busy: HashMap<i32, u64> = workflow_run::Entity::find()
        .select_only()
        .column(workflow_run::Column::BotRunnerId)
        .column_as(workflow_run::Column::Id.count(), "runs")
        .filter(workflow_run::Column::State.eq(RunState::Running))
        .filter(workflow_run::Column::BotRunnerId.is_in(approved.iter().map(|r| r.id)))
        .group_by(workflow_run::Column::BotRunnerId)
        .into_tuple::<(Option<i32>, i64)>()
        .all(w.db())
        .await?
        .into_iter()
        .filter_map(|(runner, runs)| Some((runner?, runs.max(0) as u64)))
        .collect();
    let Some(runner) =
        approved.iter().min_by_key(|r| (busy.get(&r.id).copied().unwrap_or(0), r.id))
    else {
        return Err(Error::Conflict(if assigned.is_empty() {
            format!(
                "workflow {} has no bot runner assigned; assign an approved runner first",
                workflow.name
            )
        } else {
            let names: Vec<String> = assigned
                .iter()
                .map(|r| format!("{} ({})", r.machine_name, r.approval_state.to_value()))
                .collect();
            format!(
                "no bot runner of workflow {} is approved: {}; only approved runners take work",
                workflow.name,
                names.join(", ")
            )
        }));
    };
    let starter = w.user(w.actor()).await?;
    let now = Utc::now();
    let run = workflow_run::ActiveModel {
        team_id: Set(w.team()),
        workflow_id: Set(id),
        version: Set(workflow.current_version),
        bot_runner_id: Set(Some(runner.id)),
        started_by: Set(Some(w.actor())),
        state: Set(RunState::Running),
        started_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    let waiting = queue_item::Entity::find()
        .filter(queue_item::Column::WorkflowId.eq(id))
        .filter(queue_item::Column::Status.eq(RunState::Queued))
        .count(w.db())
        .await?;
    let machine = &runner.machine_name;
    let version = workflow.current_version;
    let mut lines = vec![(
        LogStream::Execution,
        LogLevel::Info,
        format!(
            "run {} started by {} on {machine} with version {version}",
            run.id, starter.display_name
        ),
    )];
    if workflow.logging_enabled {
        lines.push((
            LogStream::Console,
            LogLevel::Info,
            format!("[{machine}] starting {} version {version}", workflow.name),
        ));
        lines.push((
            LogStream::Console,
            LogLevel::Info,
            format!("[{machine}] {waiting} work item(s) waiting in the queue"),
        ));
    } else {
        lines.push((
            LogStream::Execution,
            LogLevel::Warning,
            "console logging is off for this workflow; turn it on to capture the bot's output"
                .into(),
        ));
    }
    execution_log::Entity::insert_many(lines.into_iter().map(|(stream, level, message)| {
        execution_log::ActiveModel {
            workflow_id: Set(id),
            at: Set(now),
            level: Set(level),
            message: Set(message),
            run_id: Set(Some(run.id)),
            stream: Set(stream),
            ..Default::default()
        }
    }))
    .exec(w.db())
    .await?;
    w.audit(audit(
        "workflow.run_started",
        &workflow,
        json!({ "runId": run.id, "botRunner": machine, "version": version }),
    ))
    .await?;
    Ok(run)
}

/// Adds a work item to a workflow's queue; returns it and its workflow.
pub async fn enqueue(
    w: &Write<'_>,
    id: i32,
    payload: String,
) -> Result<(queue_item::Model, workflow::Model), Error> {
    let workflow = acting_on(w, id, "enqueue-work-item", "add work items to").await?;
    if payload.len() > MAX_PAYLOAD {
        return Err(Error::Limit {
            code: "PAYLOAD_TOO_LARGE",
            message: format!(
                "a work item's payload has at most {MAX_PAYLOAD} bytes, this one has {}; store large data elsewhere and enqueue a reference",
                payload.len()
            ),
        });
    }
    let bytes = payload.len();
    let item = queue_item::ActiveModel {
        workflow_id: Set(id),
        enqueued_at: Set(Utc::now()),
        status: Set(RunState::Queued),
        payload: Set(payload),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    w.audit(audit(
        "workflow.item_enqueued",
        &workflow,
        json!({ "itemId": item.id, "bytes": bytes }),
    ))
    .await?;
    Ok((item, workflow))
}

/// Removes a waiting work item from its workflow's queue.
pub async fn remove_item(w: &Write<'_>, id: i32) -> Result<i32, Error> {
    let unknown = || Error::NotFound(format!("there is no QueueItem:{id}"));
    let item = queue_item::Entity::find_by_id(id).one(w.db()).await?.ok_or_else(unknown)?;
    let workflow = match w.visible::<workflow::Entity>(item.workflow_id).await {
        Err(Error::NotFound(_)) => return Err(unknown()),
        other => other?,
    };
    w.authorize(
        resource("QueueItem", &workflow),
        Action::named("remove-work-item"),
        &format!("remove work items of workflow {}", workflow.name),
    )?;
    if item.status != RunState::Queued {
        return Err(Error::Conflict(format!(
            "work item {id} of workflow {} is {}; only a queued item can be removed",
            workflow.name,
            item.status.to_value()
        )));
    }
    queue_item::Entity::delete_by_id(id).exec(w.db()).await?;
    w.audit(audit("workflow.item_removed", &workflow, json!({ "itemId": id }))).await?;
    Ok(id)
}

/// Sets the bot runners of a workflow (the whole list). Each must be visible, approved and, when
/// the workflow is in a security group, in that group too.
pub async fn assign_runners(
    w: &Write<'_>,
    id: i32,
    runner_ids: &[i32],
) -> Result<workflow::Model, Error> {
    let workflow = acting_on(w, id, "assign-bot-runners", "assign bot runners to").await?;
    let mut wanted = runner_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.len() > MAX_RUNNERS {
        return Err(Error::Limit {
            code: "TOO_MANY_BOT_RUNNERS",
            message: format!("a workflow has at most {MAX_RUNNERS} bot runners"),
        });
    }
    let runners: Vec<bot_runner::Model> = bot_runner::Entity::find()
        .filter(read::visible::<bot_runner::Entity>(w.guard()))
        .filter(bot_runner::Column::Id.is_in(wanted.iter().copied()))
        .order_by_asc(bot_runner::Column::Id)
        .all(w.db())
        .await?;
    if let Some(missing) = wanted.iter().find(|id| !runners.iter().any(|r| r.id == **id)) {
        return Err(Error::NotFound(format!("there is no BotRunner:{missing}")));
    }
    if let Some(group) = workflow.security_group_id {
        // The wanted runners that are in the group, in one query.
        let in_group: Vec<i32> = bot_runner_security_group::Entity::find()
            .select_only()
            .column(bot_runner_security_group::Column::BotRunnerId)
            .filter(bot_runner_security_group::Column::SecurityGroupId.eq(group))
            .filter(bot_runner_security_group::Column::BotRunnerId.is_in(wanted.iter().copied()))
            .into_tuple()
            .all(w.db())
            .await?;
        if let Some(runner) = runners.iter().find(|r| !in_group.contains(&r.id)) {
            let group_name = security_group::Entity::find_by_id(group)
                .one(w.db())
                .await?
                .map_or_else(|| format!("SecurityGroup:{group}"), |g| g.name);
            return Err(Error::Conflict(format!(
                "bot runner {} is not in security group {group_name} of workflow {}; a runner works only for workflows of its groups",
                runner.machine_name, workflow.name
            )));
        }
    }
    if let Some(runner) = runners.iter().find(|r| r.approval_state != ApprovalState::Approved) {
        return Err(Error::Conflict(format!(
            "bot runner {} is {}; only approved runners take work",
            runner.machine_name,
            runner.approval_state.to_value()
        )));
    }
    let current: Vec<i32> = workflow_bot_runner::Entity::find()
        .select_only()
        .column(workflow_bot_runner::Column::BotRunnerId)
        .filter(workflow_bot_runner::Column::WorkflowId.eq(id))
        .order_by_asc(workflow_bot_runner::Column::BotRunnerId)
        .into_tuple()
        .all(w.db())
        .await?;
    if current == wanted {
        return Ok(workflow);
    }
    workflow_bot_runner::Entity::delete_many()
        .filter(workflow_bot_runner::Column::WorkflowId.eq(id))
        .filter(workflow_bot_runner::Column::BotRunnerId.is_not_in(wanted.iter().copied()))
        .exec(w.db())
        .await?;
    let added: Vec<i32> = wanted.iter().copied().filter(|r| !current.contains(r)).collect();
    if !added.is_empty() {
        workflow_bot_runner::Entity::insert_many(added.iter().map(|runner| {
            workflow_bot_runner::ActiveModel {
                workflow_id: Set(id),
                bot_runner_id: Set(*runner),
                security_group_id: Set(workflow.security_group_id),
            }
        }))
        .exec(w.db())
        .await?;
    }
    // The runners unassigned may be ones the caller cannot see; the audit names them all.
    let named: Vec<(i32, String)> = bot_runner::Entity::find()
        .select_only()
        .column(bot_runner::Column::Id)
        .column(bot_runner::Column::MachineName)
        .filter(bot_runner::Column::Id.is_in(current.iter().chain(&wanted).copied()))
        .into_tuple()
        .all(w.db())
        .await?;
    let names = |ids: &[i32]| -> Vec<String> {
        ids.iter()
            .map(|id| {
                named
                    .iter()
                    .find(|(runner, _)| runner == id)
                    .map_or_else(|| format!("BotRunner:{id}"), |(_, name)| name.clone())
            })
            .collect()
    };
    w.audit(audit(
        "workflow.bot_runners_assigned",
        &workflow,
        json!({ "botRunners": { "from": names(&current), "to": names(&wanted) } }),
    ))
    .await?;
    Ok(workflow)
}
