//! Turns a policy's [`Visibility`] into the SQL condition of a query.
//!
//! Each guarded table says how "associated with one of these security groups" and each
//! relation to the principal read in SQL. A condition a table cannot express is false: the
//! translation fails closed.

use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition as Where, EntityTrait};

use super::entity::*;
use crate::authz::{Condition, Relation, Visibility};

/// A table whose rows the policy decides the visibility of.
pub trait Guarded: EntityTrait {
    /// The GraphQL type its rows are served as.
    const TYPE_NAME: &'static str;

    /// Rows of `team`.
    fn in_team(team: i32) -> SimpleExpr;

    /// Rows associated with at least one of `groups`, if the table has security groups.
    fn in_groups(_groups: Vec<i32>) -> Option<SimpleExpr> {
        None
    }

    /// Rows to which `user` has `relation`, if the table knows that relation.
    fn related(_relation: Relation, _user: i32) -> Option<SimpleExpr> {
        None
    }
}

fn never() -> SimpleExpr {
    Expr::cust("1 = 0")
}

/// The SQL condition selecting the rows of `E` that `visibility` admits for `user`.
pub fn condition<E: Guarded>(visibility: &Visibility, user: i32) -> Where {
    match visibility {
        Visibility::All => Where::all(),
        Visibility::None => Where::all().add(never()),
        Visibility::Where(clauses) => {
            clauses.iter().fold(Where::any().add(never()), |any, clause| {
                let all = clause.iter().fold(Where::all(), |all, condition| {
                    all.add(match condition {
                        Condition::InSecurityGroups(groups) if groups.is_empty() => never(),
                        Condition::InSecurityGroups(groups) => {
                            E::in_groups(groups.clone()).unwrap_or_else(never)
                        }
                        Condition::Related(relations) => related::<E>(*relations, user),
                    })
                });
                any.add(all)
            })
        }
    }
}

/// Every flag of `relations`, each through the table's own translation.
fn related<E: Guarded>(relations: Relation, user: i32) -> SimpleExpr {
    let flags = [Relation::IS_PRINCIPAL, Relation::CREATOR, Relation::LAUNCHER, Relation::ASSIGNEE];
    let mut all = Where::all();
    for flag in flags.into_iter().filter(|flag| relations.contains(*flag)) {
        all = all.add(E::related(flag, user).unwrap_or_else(never));
    }
    all.into()
}

impl Guarded for team::Entity {
    const TYPE_NAME: &'static str = "Team";
    fn in_team(team: i32) -> SimpleExpr {
        team::Column::Id.eq(team)
    }
}

impl Guarded for user::Entity {
    const TYPE_NAME: &'static str = "User";
    fn in_team(team: i32) -> SimpleExpr {
        user::Column::Id.in_subquery(
            Query::select()
                .column(membership::Column::UserId)
                .from(membership::Entity)
                .and_where(membership::Column::TeamId.eq(team))
                .to_owned(),
        )
    }
    fn related(relation: Relation, user: i32) -> Option<SimpleExpr> {
        (relation == Relation::IS_PRINCIPAL).then(|| user::Column::Id.eq(user))
    }
}

impl Guarded for membership::Entity {
    const TYPE_NAME: &'static str = "Membership";
    fn in_team(team: i32) -> SimpleExpr {
        membership::Column::TeamId.eq(team)
    }
    fn related(relation: Relation, user: i32) -> Option<SimpleExpr> {
        (relation == Relation::IS_PRINCIPAL).then(|| membership::Column::UserId.eq(user))
    }
}

impl Guarded for invitation::Entity {
    const TYPE_NAME: &'static str = "Invitation";
    fn in_team(team: i32) -> SimpleExpr {
        invitation::Column::TeamId.eq(team)
    }
}

impl Guarded for security_group::Entity {
    const TYPE_NAME: &'static str = "SecurityGroup";
    fn in_team(team: i32) -> SimpleExpr {
        security_group::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(security_group::Column::Id.is_in(groups))
    }
}

impl Guarded for orchestrator::Entity {
    const TYPE_NAME: &'static str = "Orchestrator";
    fn in_team(team: i32) -> SimpleExpr {
        orchestrator::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(
            orchestrator::Column::Id.in_subquery(
                Query::select()
                    .column(security_group::Column::OrchestratorId)
                    .from(security_group::Entity)
                    .and_where(security_group::Column::Id.is_in(groups))
                    .to_owned(),
            ),
        )
    }
}

impl Guarded for workflow::Entity {
    const TYPE_NAME: &'static str = "Workflow";
    fn in_team(team: i32) -> SimpleExpr {
        workflow::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(workflow::Column::SecurityGroupId.is_in(groups))
    }
}

impl Guarded for workflow_run::Entity {
    const TYPE_NAME: &'static str = "WorkflowRun";
    fn in_team(team: i32) -> SimpleExpr {
        workflow_run::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(
            workflow_run::Column::WorkflowId.in_subquery(
                Query::select()
                    .column(workflow::Column::Id)
                    .from(workflow::Entity)
                    .and_where(workflow::Column::SecurityGroupId.is_in(groups))
                    .to_owned(),
            ),
        )
    }
}

impl Guarded for bot_runner::Entity {
    const TYPE_NAME: &'static str = "BotRunner";
    fn in_team(team: i32) -> SimpleExpr {
        bot_runner::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(
            bot_runner::Column::Id.in_subquery(
                Query::select()
                    .column(bot_runner_security_group::Column::BotRunnerId)
                    .from(bot_runner_security_group::Entity)
                    .and_where(bot_runner_security_group::Column::SecurityGroupId.is_in(groups))
                    .to_owned(),
            ),
        )
    }
}

impl Guarded for process::Entity {
    const TYPE_NAME: &'static str = "Process";
    fn in_team(team: i32) -> SimpleExpr {
        process::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(
            process::Column::Id.in_subquery(
                Query::select()
                    .column(process_security_group::Column::ProcessId)
                    .from(process_security_group::Entity)
                    .and_where(process_security_group::Column::SecurityGroupId.is_in(groups))
                    .to_owned(),
            ),
        )
    }
    fn related(relation: Relation, user: i32) -> Option<SimpleExpr> {
        if relation == Relation::CREATOR {
            Some(process::Column::CreatedBy.eq(user))
        } else if relation == Relation::LAUNCHER {
            Some(
                process::Column::Id.in_subquery(
                    Query::select()
                        .column(process_launcher::Column::ProcessId)
                        .from(process_launcher::Entity)
                        .and_where(process_launcher::Column::UserId.eq(user))
                        .to_owned(),
                ),
            )
        } else {
            None
        }
    }
}

impl Guarded for job::Entity {
    const TYPE_NAME: &'static str = "Job";
    fn in_team(team: i32) -> SimpleExpr {
        job::Column::TeamId.eq(team)
    }
    fn related(relation: Relation, user: i32) -> Option<SimpleExpr> {
        (relation == Relation::LAUNCHER).then(|| job::Column::LaunchedBy.eq(user))
    }
}

impl Guarded for task::Entity {
    const TYPE_NAME: &'static str = "Task";
    fn in_team(team: i32) -> SimpleExpr {
        task::Column::TeamId.eq(team)
    }
    fn related(relation: Relation, user: i32) -> Option<SimpleExpr> {
        (relation == Relation::ASSIGNEE).then(|| task::Column::AssigneeId.eq(user))
    }
}

impl Guarded for form::Entity {
    const TYPE_NAME: &'static str = "Form";
    fn in_team(team: i32) -> SimpleExpr {
        form::Column::TeamId.eq(team)
    }
}

impl Guarded for audit_entry::Entity {
    const TYPE_NAME: &'static str = "AuditEntry";
    fn in_team(team: i32) -> SimpleExpr {
        audit_entry::Column::TeamId.eq(team)
    }
    fn in_groups(groups: Vec<i32>) -> Option<SimpleExpr> {
        Some(
            audit_entry::Column::Id.in_subquery(
                Query::select()
                    .column(audit_entry_security_group::Column::AuditEntryId)
                    .from(audit_entry_security_group::Entity)
                    .and_where(audit_entry_security_group::Column::SecurityGroupId.is_in(groups))
                    .to_owned(),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryFilter, QueryTrait};

    use super::*;

    /// The largest visibility a policy may answer becomes one flat statement.
    #[test]
    fn the_largest_visibility_allowed_renders_as_sql() {
        let clause: Vec<Condition> = (0..16)
            .map(|n| {
                if n % 2 == 0 {
                    Condition::InSecurityGroups((0..9).collect())
                } else {
                    Condition::Related(Relation::CREATOR.with(Relation::LAUNCHER, true))
                }
            })
            .collect();
        let visibility = Visibility::Where(vec![clause; 64]);
        let sql = process::Entity::find()
            .filter(condition::<process::Entity>(&visibility, 7))
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(sql.matches("process_security_groups").count() >= 64 * 8, "{}", sql.len());
    }
}
