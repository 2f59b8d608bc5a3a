//! Which objects of a type a principal may see at all.
//!
//! The answer is a [`Visibility`]: all, none, or a condition over the object's security groups
//! and its relations to the principal. The gateway turns it into the SQL `WHERE` clause of every
//! list and every fetch by id, so an object the principal may not see does not exist for them.

use crate::{
    Condition, Object, OrchestratorRole, ProcessHubRole, Relation, Tables, Visibility,
    access::Access,
};

/// Who sees the objects of a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Everyone in the team: entry points, the principal's own things, and the roots and
    /// answers of writes, whose contents are decided field by field.
    Everyone,
    /// Team members see each other; a billing contact sees only the billing page and themself.
    Members,
    /// Team managers see all of them; no one else any.
    TeamManagers,
    /// Team managers see all of them; everyone else those of their own security groups.
    TeamManagersOrOwnGroups,
    /// Orchestrator objects (domain §3, §4): an Orchestrator ADMIN sees all of them; an ANALYST
    /// too while AAM is off; everyone else only those of their security groups.
    OrchestratorObjects,
    /// Process Hub processes (domain §5): an ADMINISTRATOR sees all; a PROCESS_MANAGER those
    /// they created or may launch; a USER those they may launch. With AAM on, the latter two
    /// only inside their security groups.
    Processes,
    /// A Process Hub ADMINISTRATOR sees all of them; anyone else with a Process Hub role those
    /// they have this relation to.
    HubAdministratorOr(Relation),
    /// Process Hub ADMINISTRATOR and PROCESS_MANAGER.
    HubAuthors,
    /// Team managers see every entry; a member with audit-log access those of their groups.
    AuditLog,
}

use Rule::*;

// The table: who sees the objects of each type. A type no row names is invisible.
rules_by_name! {
    Rule;
    (["Query", "MyTeam", "PolicyInfo", "Team"], Everyone),
    (
        [
            "Mutation",
            "Subscription",
            "TeamEvent",
            "InviteMembersPayload",
            "InviteResult",
            "ImportMembersPayload",
            "ImportRow",
            "NewRegistrationToken",
        ],
        Everyone,
    ),
    (["Membership", "User"], Members),
    (["Invitation"], TeamManagers),
    (["SecurityGroup"], TeamManagersOrOwnGroups),
    (
        [
            "Orchestrator",
            "Workflow",
            "WorkflowVersion",
            "OutputVariable",
            "LogEntry",
            "QueueItem",
            "BotRunner",
            "RegistrationToken",
            "WorkflowRun",
        ],
        OrchestratorObjects,
    ),
    (["Process"], Processes),
    (["Job"], HubAdministratorOr(Relation::LAUNCHER)),
    // A task's filled-in values go with the task.
    (["Task", "FieldValue"], HubAdministratorOr(Relation::ASSIGNEE)),
    (["Form"], HubAuthors),
    (["AuditEntry"], AuditLog),
}

/// The visibility of `type_name` objects for the principal, by these tables.
pub fn of(tables: &Tables<'_>, access: &Access<'_>, type_name: &str) -> Visibility {
    by_rule(access, tables.visibility.rule(type_name))
}

/// The visibility of a type ruled by `rule` (`None`: no row names it) for the principal.
pub fn by_rule(access: &Access<'_>, rule: Option<Rule>) -> Visibility {
    let Some(rule) = rule else {
        // A type no rule mentions is invisible.
        return Visibility::None;
    };
    match rule {
        Everyone => Visibility::All,
        Members => {
            if access.principal().portal_role == crate::PortalRole::BillingContact {
                related(Relation::IS_PRINCIPAL)
            } else {
                Visibility::All
            }
        }
        TeamManagers => all_if(access.manages_team()),
        TeamManagersOrOwnGroups => {
            if access.manages_team() {
                Visibility::All
            } else {
                in_own_groups(access)
            }
        }
        OrchestratorObjects => orchestrator_objects(access),
        Processes => processes(access),
        HubAdministratorOr(relation) => match access.process_hub() {
            Some(ProcessHubRole::Administrator) => Visibility::All,
            Some(_) => related(relation),
            None => Visibility::None,
        },
        HubAuthors => all_if(matches!(
            access.process_hub(),
            Some(ProcessHubRole::Administrator | ProcessHubRole::ProcessManager)
        )),
        AuditLog => {
            if access.manages_team() {
                Visibility::All
            } else if access.principal().audit_log_access {
                in_own_groups(access)
            } else {
                Visibility::None
            }
        }
    }
}

/// See [`Rule::OrchestratorObjects`].
fn orchestrator_objects(access: &Access<'_>) -> Visibility {
    match access.orchestrator() {
        None => Visibility::None,
        Some(OrchestratorRole::Admin) => Visibility::All,
        Some(OrchestratorRole::Analyst) if !access.advanced_access_management() => Visibility::All,
        Some(_) => in_own_groups(access),
    }
}

/// See [`Rule::Processes`].
fn processes(access: &Access<'_>) -> Visibility {
    let relations: &[Relation] = match access.process_hub() {
        None => return Visibility::None,
        Some(ProcessHubRole::Administrator) => return Visibility::All,
        Some(ProcessHubRole::ProcessManager) => &[Relation::CREATOR, Relation::LAUNCHER],
        Some(ProcessHubRole::User) => &[Relation::LAUNCHER],
    };
    let groups = access.security_groups();
    if access.advanced_access_management() && groups.is_empty() {
        return Visibility::None;
    }
    Visibility::Where(
        relations
            .iter()
            .map(|relation| {
                let mut clause = vec![Condition::Related(*relation)];
                if access.advanced_access_management() {
                    clause.push(Condition::InSecurityGroups(groups.to_vec()));
                }
                clause
            })
            .collect(),
    )
}

fn all_if(allowed: bool) -> Visibility {
    if allowed { Visibility::All } else { Visibility::None }
}

fn related(relation: Relation) -> Visibility {
    Visibility::Where(vec![vec![Condition::Related(relation)]])
}

/// Objects associated with one of the principal's security groups; none without a group.
fn in_own_groups(access: &Access<'_>) -> Visibility {
    let groups = access.security_groups();
    if groups.is_empty() {
        Visibility::None
    } else {
        Visibility::Where(vec![vec![Condition::InSecurityGroups(groups.to_vec())]])
    }
}

/// Whether an object with these attributes satisfies a visibility.
pub fn admits(visibility: &Visibility, resource: &Object<'_>) -> bool {
    match visibility {
        Visibility::All => true,
        Visibility::None => false,
        Visibility::Where(clauses) => {
            clauses.iter().any(|clause| clause.iter().all(|condition| holds(condition, resource)))
        }
    }
}

fn holds(condition: &Condition, resource: &Object<'_>) -> bool {
    match condition {
        Condition::InSecurityGroups(groups) => {
            resource.security_groups.iter().any(|group| groups.contains(group))
        }
        Condition::Related(relations) => resource.relations.contains(*relations),
    }
}
