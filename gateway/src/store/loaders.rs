//! Batches of relation keys, answered from the database.
//!
//! One [`Batcher`] serves a request. Every relation a resolver follows is a key type here;
//! the request's loader (`graphql/loader.rs`) gathers the keys asked for by all objects
//! resolved together, and this module answers them with one statement per relation, filtered
//! by the policy's visibility of the target table. A query nested four levels deep therefore costs a handful of statements
//! whatever the number of rows.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::entity::*;
use super::read::{id_column, visible};
use super::visibility::Guarded;
use crate::authz::Guard;
use crate::error::Error;

/// Answers the relation keys of one request.
pub struct Batcher {
    db: DatabaseConnection,
    guard: Arc<Guard>,
}

impl Batcher {
    /// A batcher reading `db` on behalf of the request guarded by `guard`.
    pub fn new(db: DatabaseConnection, guard: Arc<Guard>) -> Self {
        Self { db, guard }
    }

    /// Visible rows of `E` whose `column` is one of `ids`, grouped by that column.
    async fn visible_by<E: Guarded>(
        &self,
        column: E::Column,
        ids: Vec<i32>,
        key: fn(&E::Model) -> i32,
    ) -> Result<HashMap<i32, Vec<E::Model>>, Error>
    where
        E::Model: Sync,
    {
        let rows = E::find()
            .filter(visible::<E>(&self.guard))
            .filter(column.is_in(ids))
            .order_by_asc(column)
            .order_by_asc(id_column::<E>()?)
            .all(&self.db)
            .await?;
        Ok(group(rows, key))
    }

    /// Rows of a table the policy does not filter (link tables and parts of an object that
    /// was itself filtered), grouped.
    async fn all_by<E: EntityTrait>(
        &self,
        column: E::Column,
        ids: Vec<i32>,
        key: fn(&E::Model) -> i32,
    ) -> Result<HashMap<i32, Vec<E::Model>>, Error>
    where
        E::Model: Sync,
    {
        // In key order, so that every database lists a relation alike.
        let mut query = E::find().filter(column.is_in(ids));
        for key in <E::PrimaryKey as sea_orm::Iterable>::iter() {
            query = query.order_by_asc(sea_orm::PrimaryKeyToColumn::into_column(key));
        }
        Ok(group(query.all(&self.db).await?, key))
    }
}

fn group<M>(rows: Vec<M>, key: fn(&M) -> i32) -> HashMap<i32, Vec<M>> {
    let mut grouped: HashMap<i32, Vec<M>> = HashMap::new();
    for row in rows {
        grouped.entry(key(&row)).or_default().push(row);
    }
    grouped
}

fn single<M>(grouped: HashMap<i32, Vec<M>>) -> HashMap<i32, M> {
    grouped.into_iter().filter_map(|(id, mut rows)| rows.pop().map(|row| (id, row))).collect()
}

/// Declares a relation key and how a batch of them is answered.
macro_rules! relation {
    ($(#[$doc:meta])* $key:ident -> $value:ty = |$this:ident, $ids:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for Batcher {
            type Value = $value;
            type Error = Arc<Error>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, Self::Error> {
                let $this = self;
                let $ids: Vec<i32> = keys.iter().map(|key| key.0).collect();
                let found: HashMap<i32, $value> = $body.await.map_err(Arc::new)?;
                Ok(found.into_iter().map(|(id, value)| ($key(id), value)).collect())
            }
        }
    };
}

/// Rows of a guarded table by id.
macro_rules! by_id {
    ($(#[$doc:meta])* $key:ident -> $entity:ident) => {
        relation!($(#[$doc])* $key -> $entity::Model = |this, ids| async {
            this.visible_by::<$entity::Entity>($entity::Column::Id, ids, |row| row.id).await.map(single)
        });
    };
}

by_id!(
    /// A team member's user row, by user id.
    UserById -> user
);
by_id!(
    /// A security group by id.
    SecurityGroupById -> security_group
);
by_id!(
    /// An orchestrator by id.
    OrchestratorById -> orchestrator
);
by_id!(
    /// A workflow by id.
    WorkflowById -> workflow
);
by_id!(
    /// A process by id.
    ProcessById -> process
);
by_id!(
    /// A job by id.
    JobById -> job
);
by_id!(
    /// A form by id.
    FormById -> form
);
by_id!(
    /// A bot runner by id.
    BotRunnerById -> bot_runner
);
by_id!(
    /// A workflow run by id.
    WorkflowRunById -> workflow_run
);

relation!(
    /// The visible workflows of an orchestrator.
    WorkflowsOfOrchestrator -> Vec<workflow::Model> = |this, ids| {
        this.visible_by::<workflow::Entity>(workflow::Column::OrchestratorId, ids, |w| w.orchestrator_id)
    }
);
relation!(
    /// The visible workflows of a security group.
    WorkflowsOfSecurityGroup -> Vec<workflow::Model> = |this, ids| {
        this.visible_by::<workflow::Entity>(workflow::Column::SecurityGroupId, ids, |w| w.security_group_id.unwrap_or_default())
    }
);
relation!(
    /// The visible runs of a workflow, oldest first.
    RunsOfWorkflow -> Vec<workflow_run::Model> = |this, ids| {
        this.visible_by::<workflow_run::Entity>(workflow_run::Column::WorkflowId, ids, |r| r.workflow_id)
    }
);
relation!(
    /// The log lines of a workflow run, both streams, oldest first.
    LogsOfRun -> Vec<execution_log::Model> = |this, ids| {
        this.all_by::<execution_log::Entity>(execution_log::Column::RunId, ids, |l| l.run_id.unwrap_or_default())
    }
);
relation!(
    /// The visible jobs of a process.
    JobsOfProcess -> Vec<job::Model> = |this, ids| {
        this.visible_by::<job::Entity>(job::Column::ProcessId, ids, |j| j.process_id)
    }
);
relation!(
    /// The visible tasks of a job.
    TasksOfJob -> Vec<task::Model> = |this, ids| {
        this.visible_by::<task::Entity>(task::Column::JobId, ids, |t| t.job_id)
    }
);
relation!(
    /// The versions of a workflow, oldest first.
    VersionsOfWorkflow -> Vec<workflow_version::Model> = |this, ids| {
        this.all_by::<workflow_version::Entity>(workflow_version::Column::WorkflowId, ids, |v| v.workflow_id)
    }
);
relation!(
    /// The output variables of a workflow.
    OutputsOfWorkflow -> Vec<output_variable::Model> = |this, ids| {
        this.all_by::<output_variable::Entity>(output_variable::Column::WorkflowId, ids, |v| v.workflow_id)
    }
);
relation!(
    /// The execution log of a workflow.
    LogsOfWorkflow -> Vec<execution_log::Model> = |this, ids| {
        this.all_by::<execution_log::Entity>(execution_log::Column::WorkflowId, ids, |v| v.workflow_id)
    }
);
relation!(
    /// The queue of a workflow.
    QueueOfWorkflow -> Vec<queue_item::Model> = |this, ids| {
        this.all_by::<queue_item::Entity>(queue_item::Column::WorkflowId, ids, |v| v.workflow_id)
    }
);
relation!(
    /// The registration tokens of a bot runner (their hashes never leave the store layer).
    TokensOfBotRunner -> Vec<registration_token::Model> = |this, ids| {
        this.all_by::<registration_token::Entity>(registration_token::Column::BotRunnerId, ids, |t| t.bot_runner_id)
    }
);
relation!(
    /// The field names of a form, whoever may see it: what a task's assignee fills in.
    FieldsOfForm -> Vec<String> = |this, ids| async {
        let rows = this.all_by::<form::Entity>(form::Column::Id, ids, |f| f.id).await?;
        Ok::<_, Error>(
            rows.into_iter()
                .map(|(id, forms)| {
                    let fields = forms.first().map(form::Model::fields).unwrap_or_default();
                    (id, fields.into_iter().map(str::to_owned).collect())
                })
                .collect(),
        )
    }
);
relation!(
    /// The products enabled on a membership.
    ProductsOfMembership -> Vec<Product> = |this, ids| async {
        let rows = this
            .all_by::<membership_product::Entity>(membership_product::Column::MembershipId, ids, |p| p.membership_id)
            .await?;
        Ok::<_, Error>(rows.into_iter().map(|(id, rows)| (id, Product::in_order(rows.into_iter().map(|r| r.product)))).collect())
    }
);

/// Security group ids through a link table, grouped by the other side.
macro_rules! groups_via {
    ($(#[$doc:meta])* $key:ident, $link:ident, $column:ident, $owner:expr) => {
        relation!($(#[$doc])* $key -> Vec<i32> = |this, ids| async {
            let rows = this.all_by::<$link::Entity>($link::Column::$column, ids, $owner).await?;
            Ok::<_, Error>(
                rows.into_iter()
                    .map(|(id, rows)| (id, rows.into_iter().map(|row| row.security_group_id).collect()))
                    .collect(),
            )
        });
    };
}

groups_via!(
    /// The security groups of a bot runner.
    GroupsOfBotRunner, bot_runner_security_group, BotRunnerId, |row| row.bot_runner_id
);
groups_via!(
    /// The security groups of a process.
    GroupsOfProcess, process_security_group, ProcessId, |row| row.process_id
);
groups_via!(
    /// The security groups of an audit entry's target.
    GroupsOfAuditEntry, audit_entry_security_group, AuditEntryId, |row| row.audit_entry_id
);

relation!(
    /// The security groups an orchestrator is attached to.
    GroupsOfOrchestrator -> Vec<i32> = |this, ids| async {
        let rows = this
            .all_by::<security_group::Entity>(security_group::Column::OrchestratorId, ids, |g| g.orchestrator_id.unwrap_or_default())
            .await?;
        Ok::<_, Error>(rows.into_iter().map(|(id, rows)| (id, rows.into_iter().map(|g| g.id).collect())).collect())
    }
);
relation!(
    /// The security groups a user belongs to in the acting team.
    GroupsOfUser -> Vec<i32> = |this, ids| async {
        let team = this.guard.principal().team;
        let rows = this
            .all_by::<security_group_member::Entity>(security_group_member::Column::UserId, ids, |m| m.user_id)
            .await?;
        let in_team: Vec<i32> = security_group::Entity::find()
            .filter(security_group::Column::TeamId.eq(team))
            .all(&this.db)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        Ok::<_, Error>(
            rows.into_iter()
                .map(|(id, rows)| {
                    (id, rows.into_iter().map(|m| m.security_group_id).filter(|g| in_team.contains(g)).collect())
                })
                .collect(),
        )
    }
);
relation!(
    /// The users who may launch a process (visible team members only).
    LaunchersOfProcess -> Vec<i32> = |this, ids| async {
        let rows = this
            .all_by::<process_launcher::Entity>(process_launcher::Column::ProcessId, ids, |l| l.process_id)
            .await?;
        Ok::<_, Error>(rows.into_iter().map(|(id, rows)| (id, rows.into_iter().map(|l| l.user_id).collect())).collect())
    }
);
relation!(
    /// The visible members of a security group, as users.
    MembersOfSecurityGroup -> Vec<user::Model> = |this, ids| async {
        let links = this
            .all_by::<security_group_member::Entity>(security_group_member::Column::SecurityGroupId, ids, |m| m.security_group_id)
            .await?;
        this.through::<_, user::Entity>(links, |m| m.user_id, |u| u.id).await
    }
);
relation!(
    /// The visible bot runners of a security group.
    BotRunnersOfSecurityGroup -> Vec<bot_runner::Model> = |this, ids| async {
        let links = this
            .all_by::<bot_runner_security_group::Entity>(bot_runner_security_group::Column::SecurityGroupId, ids, |l| l.security_group_id)
            .await?;
        this.through::<_, bot_runner::Entity>(links, |l| l.bot_runner_id, |r| r.id).await
    }
);
relation!(
    /// The visible bot runners assigned to a workflow.
    BotRunnersOfWorkflow -> Vec<bot_runner::Model> = |this, ids| async {
        let links = this
            .all_by::<workflow_bot_runner::Entity>(workflow_bot_runner::Column::WorkflowId, ids, |l| l.workflow_id)
            .await?;
        this.through::<_, bot_runner::Entity>(links, |l| l.bot_runner_id, |r| r.id).await
    }
);
relation!(
    /// The visible processes of a security group.
    ProcessesOfSecurityGroup -> Vec<process::Model> = |this, ids| async {
        let links = this
            .all_by::<process_security_group::Entity>(process_security_group::Column::SecurityGroupId, ids, |l| l.security_group_id)
            .await?;
        this.through::<_, process::Entity>(links, |l| l.process_id, |p| p.id).await
    }
);

impl Batcher {
    /// Follows link rows to the visible rows of `E` they name, in one statement: for each key,
    /// the linked rows the request may see, in id order.
    async fn through<L, E: Guarded>(
        &self,
        links: HashMap<i32, Vec<L>>,
        target: fn(&L) -> i32,
        id: fn(&E::Model) -> i32,
    ) -> Result<HashMap<i32, Vec<E::Model>>, Error>
    where
        E::Model: Sync,
    {
        let wanted: Vec<i32> = links.values().flatten().map(target).collect();
        let rows = single(self.visible_by::<E>(id_column::<E>()?, wanted, id).await?);
        Ok(links
            .into_iter()
            .map(|(key, links)| {
                let mut ids: Vec<i32> = links.iter().map(target).collect();
                ids.sort_unstable();
                (key, ids.iter().filter_map(|id| rows.get(id).cloned()).collect())
            })
            .collect())
    }
}
