//! Write services: every mutation is one [`Write`], the pattern every later mutation copies.
//!
//! A write
//!
//! 1. begins one transaction (on SQLite, after taking the process's write turn, so that
//!    concurrent mutations queue instead of failing with `database is locked`);
//! 2. loads what it changes through the caller's visibility, so an object the caller may not
//!    see is `NOT_FOUND` exactly like an unknown id ([`Write::visible`]);
//! 3. asks the policy whether the action is allowed ([`Write::authorize`]): `FORBIDDEN`;
//! 4. checks the invariants that hold whatever policy is loaded: `CONFLICT`/`INVALID_INPUT`;
//! 5. changes the rows, and records an audit entry in the same transaction ([`Write::audit`]);
//! 6. commits, and only then publishes its events ([`Write::commit`]).
//!
//! An error at any step drops the transaction: nothing is changed.
//!
//! ## Layout
//!
//! * [`members`]: invitations, roles, product access, suspension, removal, CSV import,
//!   ownership.
//! * [`import`]: members from a CSV file, one invitation per row.
//! * [`groups`]: security groups, their members and the objects attached to them.
//! * [`team`]: the team's own settings (Advanced Access Management).
//! * [`orchestrator`]: orchestrator settings, bot runners (approval, tokens, RDP credentials).
//! * [`workflows`]: versions, settings, runs, queues, runner assignment.
//! * [`process_hub`]: processes, launch permissions, jobs, tasks, forms.

pub mod groups;
pub mod import;
pub mod members;
pub mod orchestrator;
pub mod process_hub;
pub mod team;
pub mod workflows;

/// Every action the write services ask the policy about, with the type of the object it is
/// asked on (what `fieldguard policy diff` compares; the end-to-end tests check it against the
/// default policy's table).
pub const ACTIONS: &[(&str, &str)] = &[
    ("invite-members", "Team"),
    ("import-members", "Team"),
    ("revoke-invitation", "Invitation"),
    ("accept-invitation", "Invitation"),
    ("change-member-role", "Membership"),
    ("transfer-ownership", "Membership"),
    ("set-member-access", "Membership"),
    ("copy-member-access", "Membership"),
    ("suspend-member", "Membership"),
    ("reactivate-member", "Membership"),
    ("remove-member", "Membership"),
    ("set-advanced-access-management", "Team"),
    ("create-security-group", "Team"),
    ("update-security-group", "SecurityGroup"),
    ("set-security-group-enabled", "SecurityGroup"),
    ("delete-security-group", "SecurityGroup"),
    ("add-security-group-members", "SecurityGroup"),
    ("remove-security-group-members", "SecurityGroup"),
    ("attach-to-security-group", "Orchestrator"),
    ("attach-to-security-group", "Workflow"),
    ("attach-to-security-group", "BotRunner"),
    ("attach-to-security-group", "Process"),
    ("detach-from-security-group", "Orchestrator"),
    ("detach-from-security-group", "Workflow"),
    ("detach-from-security-group", "BotRunner"),
    ("detach-from-security-group", "Process"),
    ("rename-orchestrator", "Orchestrator"),
    ("set-orchestrator-multitenancy", "Orchestrator"),
    ("configure-orchestrator-api-integration", "Orchestrator"),
    ("configure-orchestrator-zapier", "Orchestrator"),
    ("publish-workflow-version", "Workflow"),
    ("switch-workflow-version", "Workflow"),
    ("set-workflow-schedule", "Workflow"),
    ("set-workflow-webhook", "Workflow"),
    ("set-workflow-logging", "Workflow"),
    ("run-workflow", "Workflow"),
    ("enqueue-work-item", "Workflow"),
    ("remove-work-item", "QueueItem"),
    ("assign-bot-runners", "Workflow"),
    ("set-rdp-credentials", "BotRunner"),
    ("approve-bot-runner", "BotRunner"),
    ("create-registration-token", "BotRunner"),
    ("create-process", "Process"),
    ("update-process", "Process"),
    ("set-launch-permissions", "Process"),
    ("launch-process", "Process"),
    ("cancel-job", "Job"),
    ("retry-job", "Job"),
    ("complete-task", "Task"),
    ("create-form", "Form"),
    ("update-form", "Form"),
];

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, Set, TransactionTrait,
};
use serde_json::Value;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::entity::*;
use super::principals::Principals;
use super::read;
use super::visibility::Guarded;
use crate::authz::{Action, Guard, Relation, Resource};
use crate::error::Error;
use crate::events::{EventBus, TeamEvent};

/// How the writers of a team take turns, so that an invariant checked by one write still
/// holds when it commits. SQLite has one writer at a time: the writers of one process queue
/// for it instead of failing. On PostgreSQL, writes of different teams run at once, and a write
/// begins by locking its team's row, which orders the writes of one team across every gateway
/// on the database.
#[derive(Clone, Default)]
pub struct WriteTurns {
    turn: Option<Arc<Mutex<()>>>,
    lock_team: bool,
}

impl WriteTurns {
    /// The turns `db` needs.
    pub fn for_database(db: &DatabaseConnection) -> Self {
        let serial = db.get_database_backend() == DbBackend::Sqlite;
        Self { turn: serial.then(|| Arc::new(Mutex::new(()))), lock_team: !serial }
    }
}

/// How many audit entries one statement inserts (7 columns each, well under SQLite's limit
/// of bound parameters).
const AUDIT_BATCH: usize = 500;

/// What an audit entry records.
pub struct Audit {
    /// What was done, e.g. `member.role_changed`.
    pub action: &'static str,
    /// What it was done to, in words (an email, a group's name).
    pub target: String,
    /// The global id of the target, if it has one.
    pub target_id: Option<String>,
    /// The security groups of the target.
    pub security_groups: Vec<i32>,
    /// What changed (old → new); never a secret.
    pub details: Value,
}

/// What an update changes, old → new, recorded as it is applied: the details of its audit
/// entry. A value given equal to the current one is no change.
#[derive(Default)]
pub struct Changes(serde_json::Map<String, Value>);

impl Changes {
    /// `new`, if it is given and differs from `old`; recorded under `key`.
    pub fn of<T: PartialEq + serde::Serialize>(
        &mut self,
        key: &str,
        old: &T,
        new: Option<T>,
    ) -> Option<T> {
        let new = new.filter(|new| new != old)?;
        self.0.insert(key.into(), serde_json::json!({ "from": old, "to": &new }));
        Some(new)
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The changes, as an audit entry's details.
    pub fn details(self) -> Value {
        Value::Object(self.0)
    }
}

/// One mutation: a transaction, the caller's guard, the audit and events it records.
pub struct Write<'a> {
    txn: DatabaseTransaction,
    guard: &'a Guard,
    bus: Option<&'a EventBus>,
    principals: Option<&'a Principals>,
    events: Vec<TeamEvent>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl<'a> Write<'a> {
    /// Begins a write for the caller of `guard`; on commit, events go to `bus` and the
    /// `principals` kept are forgotten.
    pub async fn begin(
        db: &DatabaseConnection,
        turns: &WriteTurns,
        guard: &'a Guard,
        bus: Option<&'a EventBus>,
        principals: Option<&'a Principals>,
    ) -> Result<Self, Error> {
        let turn = match &turns.turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        };
        let txn = db.begin().await?;
        if turns.lock_team {
            super::entity::team::Entity::find_by_id(guard.principal().team)
                .lock_exclusive()
                .one(&txn)
                .await?;
        }
        Ok(Self { txn, guard, bus, principals, events: Vec::new(), _turn: turn })
    }

    /// The transaction.
    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The caller's guard.
    pub fn guard(&self) -> &Guard {
        self.guard
    }

    /// The caller's user id.
    pub fn actor(&self) -> i32 {
        self.guard.principal().user
    }

    /// The team the write acts in.
    pub fn team(&self) -> i32 {
        self.guard.principal().team
    }

    /// The row of `E` with this id, if the caller may see it; otherwise `NOT_FOUND`, whether it
    /// is unknown, in another team or invisible.
    pub async fn visible<E: Guarded>(&self, id: i32) -> Result<E::Model, Error> {
        read::by_id::<E>(&self.txn, self.guard, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no {}:{id}", E::TYPE_NAME)))
    }

    /// `FORBIDDEN` unless the policy allows `action` on `resource`; `what` is the action in
    /// words, for the message ("change the role of Membership:3").
    pub fn authorize(&self, resource: Resource, action: Action, what: &str) -> Result<(), Error> {
        if self.guard.may(resource, action) { Ok(()) } else { Err(forbidden(what)) }
    }

    /// `FORBIDDEN` unless the policy allows every one of `asked` (decided in one batch); each
    /// comes with the action in words, and the message names the first refused.
    pub fn authorize_all(&self, asked: Vec<(Resource, Action, String)>) -> Result<(), Error> {
        let questions: Vec<(Resource, Action)> =
            asked.iter().map(|(resource, action, _)| (resource.clone(), *action)).collect();
        let answers = self.guard.may_perform(&questions);
        match asked.into_iter().zip(answers).find(|(_, allowed)| !allowed) {
            Some(((_, _, what), _)) => Err(forbidden(&what)),
            None => Ok(()),
        }
    }

    /// The resource a membership is to the policy: the member themself when it is the caller's.
    pub fn member_resource(&self, member: &membership::Model) -> Resource {
        Resource::plain("Membership")
            .related(Relation::NONE.with(Relation::IS_PRINCIPAL, member.user_id == self.actor()))
    }

    /// Records an audit entry in the write's transaction.
    pub async fn audit(&self, entry: Audit) -> Result<(), Error> {
        self.audit_in(self.team(), entry).await
    }

    /// Records many audit entries at once (entries without security groups are inserted in
    /// batches).
    pub async fn audit_many(&self, entries: Vec<Audit>) -> Result<(), Error> {
        let (plain, grouped): (Vec<Audit>, Vec<Audit>) =
            entries.into_iter().partition(|entry| entry.security_groups.is_empty());
        let now = Utc::now();
        let mut rows = plain.into_iter().map(|entry| self.entry_row(self.team(), now, entry).0);
        loop {
            let batch: Vec<audit_entry::ActiveModel> = rows.by_ref().take(AUDIT_BATCH).collect();
            if batch.is_empty() {
                break;
            }
            audit_entry::Entity::insert_many(batch).exec_without_returning(&self.txn).await?;
        }
        for entry in grouped {
            self.audit(entry).await?;
        }
        Ok(())
    }

    /// Records an audit entry of `team` (the team an accepted invitation joins).
    pub async fn audit_in(&self, team: i32, entry: Audit) -> Result<(), Error> {
        let (row, mut groups) = self.entry_row(team, Utc::now(), entry);
        let row = row.insert(&self.txn).await?;
        groups.sort_unstable();
        groups.dedup();
        if !groups.is_empty() {
            audit_entry_security_group::Entity::insert_many(groups.into_iter().map(|group| {
                audit_entry_security_group::ActiveModel {
                    audit_entry_id: Set(row.id),
                    security_group_id: Set(group),
                }
            }))
            .exec(&self.txn)
            .await?;
        }
        Ok(())
    }

    /// The row of an audit entry by this write's actor, and the entry's security groups.
    fn entry_row(
        &self,
        team: i32,
        at: chrono::DateTime<Utc>,
        entry: Audit,
    ) -> (audit_entry::ActiveModel, Vec<i32>) {
        let row = audit_entry::ActiveModel {
            team_id: Set(team),
            at: Set(at),
            actor_id: Set(Some(self.actor())),
            action: Set(entry.action.to_owned()),
            target: Set(entry.target),
            target_id: Set(entry.target_id),
            details: Set(entry.details.to_string()),
            ..Default::default()
        };
        (row, entry.security_groups)
    }

    /// An event to publish once the write commits.
    pub fn publish(&mut self, event: TeamEvent) {
        self.events.push(event);
    }

    /// Commits the write, then publishes its events.
    pub async fn commit(self) -> Result<(), Error> {
        self.txn.commit().await?;
        if let Some(principals) = self.principals {
            principals.written();
        }
        if let Some(bus) = self.bus {
            bus.publish(self.events);
        }
        Ok(())
    }

    /// The security groups of the acting team that `user` belongs to.
    pub async fn groups_of_user(&self, user: i32) -> Result<Vec<i32>, Error> {
        Ok(security_group_member::Entity::find()
            .select_only()
            .column(security_group_member::Column::SecurityGroupId)
            .filter(security_group_member::Column::UserId.eq(user))
            .filter(
                security_group_member::Column::SecurityGroupId
                    .in_subquery(team_groups(self.team())),
            )
            .into_tuple()
            .all(&self.txn)
            .await?)
    }

    /// The user behind a membership.
    pub async fn user(&self, id: i32) -> Result<user::Model, Error> {
        user::Entity::find_by_id(id)
            .one(&self.txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no User:{id}")))
    }

    /// A new event of this write's team, by its actor, now.
    pub fn event(&self, kind: crate::events::TeamEventKind) -> TeamEvent {
        TeamEvent {
            team_id: self.team(),
            kind,
            at: Utc::now(),
            actor_id: self.actor(),
            membership_id: None,
            user_ids: Vec::new(),
            email: None,
            portal_role: None,
            security_group_id: None,
            security_groups: Vec::new(),
        }
    }
}

/// The ids of the security groups of `team`, as a subquery.
pub(crate) fn team_groups(team: i32) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(security_group::Column::Id)
        .from(security_group::Entity)
        .and_where(security_group::Column::TeamId.eq(team))
        .to_owned()
}

/// `text` trimmed, if it has at most `max` characters; `what` names it in the message ("a
/// process's description").
pub fn bounded(what: &str, text: &str, max: usize) -> Result<String, Error> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(Error::InvalidInput(format!("{what} has at most {max} characters")));
    }
    Ok(text.to_owned())
}

/// A name, trimmed, neither empty nor longer than `max`; `what` is the thing named ("a
/// process").
pub fn named(what: &str, name: &str, max: usize) -> Result<String, Error> {
    let name = bounded(&format!("{what}'s name"), name, max)?;
    if name.is_empty() {
        return Err(Error::InvalidInput(format!("{what} needs a name")));
    }
    Ok(name)
}

/// The error of an action the policy refused; `what` is the action in words.
pub fn forbidden(what: &str) -> Error {
    Error::ForbiddenAction(what.to_owned())
}

/// A unique constraint the database refused, as the conflict it means; other errors as they are.
pub fn conflict_on_unique(error: sea_orm::DbErr, message: impl FnOnce() -> String) -> Error {
    match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message()),
        _ => Error::Database(error),
    }
}

/// The global id of a row, for audit entries.
pub fn target_id(type_name: &str, id: i32) -> Option<String> {
    Some(global_id(type_name, id))
}
