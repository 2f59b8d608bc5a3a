//! Security groups: create, edit, enable, delete; their members; the objects attached to them.
//!
//! The cardinalities of domain §3 hold here whatever policy is loaded: a group has at most one
//! orchestrator and a workflow is in at most one group (each a single column, changed only by
//! a conditional update, so that two writers cannot both win); a bot runner assigned to a
//! workflow shares the workflow's group (composite foreign keys, kept in step here).

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};
use serde_json::json;

use super::{Audit, Write, bounded, conflict_on_unique, named, target_id};
use crate::authz::{Action, Resource};
use crate::error::Error;
use crate::events::TeamEventKind;
use crate::store::entity::*;

/// The longest name a security group may have.
pub const MAX_NAME: usize = 100;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 1000;

/// A group's name and description, as given.
pub struct GroupInput {
    /// The name, unique in the team.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
}

impl GroupInput {
    /// The name trimmed and the description, or why they are not acceptable.
    fn validated(self) -> Result<(String, String), Error> {
        let name = named("a security group", &self.name, MAX_NAME)?;
        let description = bounded(
            "a security group's description",
            &self.description.unwrap_or_default(),
            MAX_DESCRIPTION,
        )?;
        Ok((name, description))
    }
}

fn group_resource(group: &security_group::Model) -> Resource {
    Resource::grouped("SecurityGroup", [group.id])
}

fn name_taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("a security group named {name} already exists in this team")
}

/// Creates a security group.
pub async fn create(w: &Write<'_>, input: GroupInput) -> Result<security_group::Model, Error> {
    w.authorize(
        Resource::plain("Team"),
        Action::named("create-security-group"),
        "create security groups",
    )?;
    let (name, description) = input.validated()?;
    let group = security_group::ActiveModel {
        team_id: Set(w.team()),
        name: Set(name.clone()),
        description: Set(description.clone()),
        enabled: Set(true),
        orchestrator_id: Set(None),
        ..Default::default()
    }
    .insert(w.db())
    .await
    .map_err(|e| conflict_on_unique(e, name_taken(&name)))?;
    w.audit(Audit {
        action: "security_group.created",
        target: group.name.clone(),
        target_id: target_id("SecurityGroup", group.id),
        security_groups: vec![group.id],
        details: json!({ "name": name, "description": description }),
    })
    .await?;
    Ok(group)
}

/// Renames a group or changes its description.
pub async fn update(
    w: &Write<'_>,
    id: i32,
    input: GroupInput,
) -> Result<security_group::Model, Error> {
    let group = w.visible::<security_group::Entity>(id).await?;
    w.authorize(
        group_resource(&group),
        Action::named("update-security-group"),
        &format!("edit security group {}", group.name),
    )?;
    let (name, description) = input.validated()?;
    if name == group.name && description == group.description {
        return Ok(group);
    }
    let before = group.clone();
    let mut row = group.into_active_model();
    row.name = Set(name.clone());
    row.description = Set(description);
    let group = row.update(w.db()).await.map_err(|e| conflict_on_unique(e, name_taken(&name)))?;
    w.audit(Audit {
        action: "security_group.updated",
        target: group.name.clone(),
        target_id: target_id("SecurityGroup", group.id),
        security_groups: vec![group.id],
        details: json!({
            "name": { "from": before.name, "to": group.name },
            "description": { "from": before.description, "to": group.description },
        }),
    })
    .await?;
    Ok(group)
}

/// Enables or disables a group: a disabled group grants nothing, from the next request on.
pub async fn set_enabled(
    w: &Write<'_>,
    id: i32,
    enabled: bool,
) -> Result<security_group::Model, Error> {
    let group = w.visible::<security_group::Entity>(id).await?;
    w.authorize(
        group_resource(&group),
        Action::named("set-security-group-enabled"),
        &format!("enable or disable security group {}", group.name),
    )?;
    if group.enabled == enabled {
        return Ok(group);
    }
    let mut row = group.into_active_model();
    row.enabled = Set(enabled);
    let group = row.update(w.db()).await?;
    w.audit(Audit {
        action: if enabled { "security_group.enabled" } else { "security_group.disabled" },
        target: group.name.clone(),
        target_id: target_id("SecurityGroup", group.id),
        security_groups: vec![group.id],
        details: json!({ "enabled": { "from": !enabled, "to": enabled } }),
    })
    .await?;
    Ok(group)
}

/// Deletes a group. Its workflows and objects stay, ungrouped; bot runners stay assigned to
/// the workflows they ran.
pub async fn delete(w: &Write<'_>, id: i32) -> Result<i32, Error> {
    let group = w.visible::<security_group::Entity>(id).await?;
    w.authorize(
        group_resource(&group),
        Action::named("delete-security-group"),
        &format!("delete security group {}", group.name),
    )?;
    // Untie runner assignments from the group first, so the composite keys stay whole.
    workflow_bot_runner::Entity::update_many()
        .col_expr(workflow_bot_runner::Column::SecurityGroupId, Expr::value(Option::<i32>::None))
        .filter(workflow_bot_runner::Column::SecurityGroupId.eq(group.id))
        .exec(w.db())
        .await?;
    let members = security_group_member::Entity::find()
        .filter(security_group_member::Column::SecurityGroupId.eq(group.id))
        .count(w.db())
        .await?;
    security_group::Entity::delete_by_id(group.id).exec(w.db()).await?;
    w.audit(Audit {
        action: "security_group.deleted",
        target: group.name.clone(),
        target_id: target_id("SecurityGroup", group.id),
        security_groups: Vec::new(),
        details: json!({ "name": group.name, "members": members }),
    })
    .await?;
    Ok(group.id)
}

/// Adds or removes users (members of the team) to or from a group.
pub async fn change_members(
    w: &mut Write<'_>,
    id: i32,
    user_ids: &[i32],
    add: bool,
) -> Result<security_group::Model, Error> {
    let group = w.visible::<security_group::Entity>(id).await?;
    let (action, words) = if add {
        ("add-security-group-members", "add members to")
    } else {
        ("remove-security-group-members", "remove members from")
    };
    w.authorize(
        group_resource(&group),
        Action::named(action),
        &format!("{words} security group {}", group.name),
    )?;
    let mut users: Vec<i32> = user_ids.to_vec();
    users.sort_unstable();
    users.dedup();
    // Every user must be a member of the team (and visible to the caller).
    let found: Vec<i32> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(crate::store::read::visible::<membership::Entity>(w.guard()))
        .filter(membership::Column::UserId.is_in(users.clone()))
        .into_tuple()
        .all(w.db())
        .await?;
    if let Some(user) = users.iter().find(|user| !found.contains(user)) {
        return Err(Error::NotFound(format!("User:{user} is not a member of this team")));
    }
    let members = users;
    let current: Vec<i32> = security_group_member::Entity::find()
        .select_only()
        .column(security_group_member::Column::UserId)
        .filter(security_group_member::Column::SecurityGroupId.eq(group.id))
        .into_tuple()
        .all(w.db())
        .await?;
    let changed: Vec<i32> =
        members.into_iter().filter(|user| current.contains(user) != add).collect();
    if changed.is_empty() {
        return Ok(group);
    }
    if add {
        security_group_member::Entity::insert_many(changed.iter().map(|user| {
            security_group_member::ActiveModel {
                security_group_id: Set(group.id),
                user_id: Set(*user),
            }
        }))
        .exec(w.db())
        .await?;
    } else {
        security_group_member::Entity::delete_many()
            .filter(security_group_member::Column::SecurityGroupId.eq(group.id))
            .filter(security_group_member::Column::UserId.is_in(changed.clone()))
            .exec(w.db())
            .await?;
    }
    let emails: Vec<String> = user::Entity::find()
        .filter(user::Column::Id.is_in(changed.clone()))
        .all(w.db())
        .await?
        .into_iter()
        .map(|u| u.email)
        .collect();
    w.audit(Audit {
        action: if add { "security_group.members_added" } else { "security_group.members_removed" },
        target: group.name.clone(),
        target_id: target_id("SecurityGroup", group.id),
        security_groups: vec![group.id],
        details: json!({ if add { "added" } else { "removed" }: emails }),
    })
    .await?;
    let mut event = w.event(if add {
        TeamEventKind::SecurityGroupMembersAdded
    } else {
        TeamEventKind::SecurityGroupMembersRemoved
    });
    event.user_ids = changed;
    event.security_group_id = Some(group.id);
    event.security_groups = vec![group.id];
    w.publish(event);
    Ok(group)
}

/// An object that can be attached to a security group, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupObject {
    /// An orchestrator: a group has at most one.
    Orchestrator(i32),
    /// A workflow: in at most one group.
    Workflow(i32),
    /// A bot runner: in any number of groups.
    BotRunner(i32),
    /// A Process Hub process: in any number of groups.
    Process(i32),
}

/// An object loaded through the caller's visibility, with what the policy and messages need.
struct Loaded {
    object: GroupObject,
    name: String,
    resource: Resource,
}

async fn load_object(w: &Write<'_>, object: GroupObject) -> Result<Loaded, Error> {
    Ok(match object {
        GroupObject::Orchestrator(id) => {
            let row = w.visible::<orchestrator::Entity>(id).await?;
            let groups: Vec<i32> = security_group::Entity::find()
                .select_only()
                .column(security_group::Column::Id)
                .filter(security_group::Column::OrchestratorId.eq(id))
                .into_tuple()
                .all(w.db())
                .await?;
            Loaded { object, name: row.name, resource: Resource::grouped("Orchestrator", groups) }
        }
        GroupObject::Workflow(id) => {
            let row = w.visible::<workflow::Entity>(id).await?;
            let resource = Resource::grouped("Workflow", row.security_group_id);
            Loaded { object, name: row.name, resource }
        }
        GroupObject::BotRunner(id) => {
            let row = w.visible::<bot_runner::Entity>(id).await?;
            let groups: Vec<i32> = bot_runner_security_group::Entity::find()
                .select_only()
                .column(bot_runner_security_group::Column::SecurityGroupId)
                .filter(bot_runner_security_group::Column::BotRunnerId.eq(id))
                .into_tuple()
                .all(w.db())
                .await?;
            Loaded {
                object,
                name: row.machine_name,
                resource: Resource::grouped("BotRunner", groups),
            }
        }
        GroupObject::Process(id) => {
            let row = w.visible::<process::Entity>(id).await?;
            let groups: Vec<i32> = process_security_group::Entity::find()
                .select_only()
                .column(process_security_group::Column::SecurityGroupId)
                .filter(process_security_group::Column::ProcessId.eq(id))
                .into_tuple()
                .all(w.db())
                .await?;
            Loaded { object, name: row.name, resource: Resource::grouped("Process", groups) }
        }
    })
}

/// Attaches objects to a group, or detaches them: all of them, or none if any is refused.
pub async fn change_objects(
    w: &Write<'_>,
    id: i32,
    objects: &[GroupObject],
    attach: bool,
) -> Result<security_group::Model, Error> {
    let group = w.visible::<security_group::Entity>(id).await?;
    let mut loaded = Vec::with_capacity(objects.len());
    for object in objects {
        loaded.push(load_object(w, *object).await?);
    }
    let action = if attach { "attach-to-security-group" } else { "detach-from-security-group" };
    let asked: Vec<(Resource, Action)> =
        loaded.iter().map(|o| (o.resource.clone(), Action::named(action))).collect();
    let answers = w.guard().may_perform(&asked);
    if let Some((object, _)) = loaded.iter().zip(&answers).find(|(_, allowed)| !**allowed) {
        let verb = if attach { "attach" } else { "detach" };
        return Err(super::forbidden(&format!(
            "{verb} {} {} {} security group {}",
            object.resource.type_name,
            object.name,
            if attach { "to" } else { "from" },
            group.name
        )));
    }
    let mut changed = Vec::new();
    for object in &loaded {
        let done = if attach {
            attach_one(w, &group, object).await?
        } else {
            detach_one(w, &group, object).await?
        };
        if done {
            changed.push(format!("{} {}", object.resource.type_name, object.name));
        }
    }
    // Attaching a group's orchestrator reads back the row.
    let group = w.visible::<security_group::Entity>(id).await?;
    if !changed.is_empty() {
        w.audit(Audit {
            action: if attach {
                "security_group.objects_attached"
            } else {
                "security_group.objects_detached"
            },
            target: group.name.clone(),
            target_id: target_id("SecurityGroup", group.id),
            security_groups: vec![group.id],
            details: json!({ if attach { "attached" } else { "detached" }: changed }),
        })
        .await?;
    }
    Ok(group)
}

/// Attaches one object; `false` if it already was.
async fn attach_one(
    w: &Write<'_>,
    group: &security_group::Model,
    object: &Loaded,
) -> Result<bool, Error> {
    match object.object {
        GroupObject::Orchestrator(id) => {
            if group.orchestrator_id == Some(id) {
                return Ok(false);
            }
            let updated = security_group::Entity::update_many()
                .col_expr(security_group::Column::OrchestratorId, Expr::value(id))
                .filter(security_group::Column::Id.eq(group.id))
                .filter(security_group::Column::OrchestratorId.is_null())
                .exec(w.db())
                .await?;
            if updated.rows_affected == 0 {
                let current = match group.orchestrator_id {
                    Some(other) => orchestrator::Entity::find_by_id(other)
                        .one(w.db())
                        .await?
                        .map(|o| o.name)
                        .unwrap_or_else(|| format!("Orchestrator:{other}")),
                    None => "another orchestrator".into(),
                };
                return Err(Error::Conflict(format!(
                    "security group {} already has orchestrator {current}; a group has at most one",
                    group.name
                )));
            }
            Ok(true)
        }
        GroupObject::Workflow(id) => {
            if object.resource.security_groups == [group.id] {
                return Ok(false);
            }
            let updated = workflow::Entity::update_many()
                .col_expr(workflow::Column::SecurityGroupId, Expr::value(group.id))
                .filter(workflow::Column::Id.eq(id))
                .filter(workflow::Column::SecurityGroupId.is_null())
                .exec(w.db())
                .await?;
            if updated.rows_affected == 0 {
                let current = workflow::Entity::find_by_id(id)
                    .one(w.db())
                    .await?
                    .and_then(|wf| wf.security_group_id);
                let current = match current {
                    Some(other) => security_group::Entity::find_by_id(other)
                        .one(w.db())
                        .await?
                        .map(|g| g.name)
                        .unwrap_or_else(|| format!("SecurityGroup:{other}")),
                    None => "another group".into(),
                };
                return Err(Error::Conflict(format!(
                    "workflow {} is already in security group {current}; a workflow is in at most one group",
                    object.name
                )));
            }
            // Its bot runners must share the group (domain §3); their assignments now carry it.
            let outside: Vec<String> = bot_runner::Entity::find()
                .filter(
                    bot_runner::Column::Id.in_subquery(
                        Query::select()
                            .column(workflow_bot_runner::Column::BotRunnerId)
                            .from(workflow_bot_runner::Entity)
                            .and_where(workflow_bot_runner::Column::WorkflowId.eq(id))
                            .to_owned(),
                    ),
                )
                .filter(
                    bot_runner::Column::Id.not_in_subquery(
                        Query::select()
                            .column(bot_runner_security_group::Column::BotRunnerId)
                            .from(bot_runner_security_group::Entity)
                            .and_where(
                                bot_runner_security_group::Column::SecurityGroupId.eq(group.id),
                            )
                            .to_owned(),
                    ),
                )
                .all(w.db())
                .await?
                .into_iter()
                .map(|runner| runner.machine_name)
                .collect();
            if !outside.is_empty() {
                return Err(Error::Conflict(format!(
                    "workflow {} runs on bot runners outside security group {}: {}; attach them to the group or unassign them first",
                    object.name,
                    group.name,
                    outside.join(", ")
                )));
            }
            workflow_bot_runner::Entity::update_many()
                .col_expr(workflow_bot_runner::Column::SecurityGroupId, Expr::value(group.id))
                .filter(workflow_bot_runner::Column::WorkflowId.eq(id))
                .exec(w.db())
                .await?;
            Ok(true)
        }
        GroupObject::BotRunner(id) => {
            if object.resource.security_groups.contains(&group.id) {
                return Ok(false);
            }
            bot_runner_security_group::ActiveModel {
                bot_runner_id: Set(id),
                security_group_id: Set(group.id),
            }
            .insert(w.db())
            .await?;
            Ok(true)
        }
        GroupObject::Process(id) => {
            if object.resource.security_groups.contains(&group.id) {
                return Ok(false);
            }
            process_security_group::ActiveModel {
                process_id: Set(id),
                security_group_id: Set(group.id),
            }
            .insert(w.db())
            .await?;
            Ok(true)
        }
    }
}

/// Detaches one object; `CONFLICT` if it is not in the group.
async fn detach_one(
    w: &Write<'_>,
    group: &security_group::Model,
    object: &Loaded,
) -> Result<bool, Error> {
    let not_in = || {
        Error::Conflict(format!(
            "{} {} is not in security group {}",
            object.resource.type_name, object.name, group.name
        ))
    };
    match object.object {
        GroupObject::Orchestrator(id) => {
            if group.orchestrator_id != Some(id) {
                return Err(not_in());
            }
            security_group::Entity::update_many()
                .col_expr(security_group::Column::OrchestratorId, Expr::value(Option::<i32>::None))
                .filter(security_group::Column::Id.eq(group.id))
                .exec(w.db())
                .await?;
        }
        GroupObject::Workflow(id) => {
            if object.resource.security_groups != [group.id] {
                return Err(not_in());
            }
            workflow_bot_runner::Entity::update_many()
                .col_expr(
                    workflow_bot_runner::Column::SecurityGroupId,
                    Expr::value(Option::<i32>::None),
                )
                .filter(workflow_bot_runner::Column::WorkflowId.eq(id))
                .exec(w.db())
                .await?;
            workflow::Entity::update_many()
                .col_expr(workflow::Column::SecurityGroupId, Expr::value(Option::<i32>::None))
                .filter(workflow::Column::Id.eq(id))
                .exec(w.db())
                .await?;
        }
        GroupObject::BotRunner(id) => {
            if !object.resource.security_groups.contains(&group.id) {
                return Err(not_in());
            }
            let running: Vec<String> = workflow::Entity::find()
                .filter(
                    workflow::Column::Id.in_subquery(
                        Query::select()
                            .column(workflow_bot_runner::Column::WorkflowId)
                            .from(workflow_bot_runner::Entity)
                            .and_where(workflow_bot_runner::Column::BotRunnerId.eq(id))
                            .and_where(workflow_bot_runner::Column::SecurityGroupId.eq(group.id))
                            .to_owned(),
                    ),
                )
                .all(w.db())
                .await?
                .into_iter()
                .map(|wf| wf.name)
                .collect();
            if !running.is_empty() {
                return Err(Error::Conflict(format!(
                    "bot runner {} runs workflows of security group {}: {}; unassign it from them first",
                    object.name,
                    group.name,
                    running.join(", ")
                )));
            }
            bot_runner_security_group::Entity::delete_many()
                .filter(bot_runner_security_group::Column::BotRunnerId.eq(id))
                .filter(bot_runner_security_group::Column::SecurityGroupId.eq(group.id))
                .exec(w.db())
                .await?;
        }
        GroupObject::Process(id) => {
            if !object.resource.security_groups.contains(&group.id) {
                return Err(not_in());
            }
            process_security_group::Entity::delete_many()
                .filter(process_security_group::Column::ProcessId.eq(id))
                .filter(process_security_group::Column::SecurityGroupId.eq(group.id))
                .exec(w.db())
                .await?;
        }
    }
    Ok(true)
}
