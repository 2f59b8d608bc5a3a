//! Which objects of a type a principal may see at all.
//!
//! The answer is a [`Visibility`]: all, none, or a condition over the object's security groups
//! and its relations to the principal. The gateway turns it into the SQL `WHERE` clause of every
//! list and every fetch by id, so an object the principal may not see does not exist for them.

use crate::{
    Condition, OrchestratorRole, ProcessHubRole, Relation, Resource, Visibility, access::Access,
};

/// The visibility of `type_name` objects for the principal.
pub fn of(access: &Access<'_>, type_name: &str) -> Visibility {
    match type_name {
        // Entry points and the principal's own things: only ever served to them.
        "Query" | "MyTeam" | "PolicyInfo" | "Team" => Visibility::All,
        // Roots of writes and their answers: what they carry is decided field by field.
        "Mutation"
        | "Subscription"
        | "TeamEvent"
        | "InviteMembersPayload"
        | "InviteResult"
        | "ImportMembersPayload"
        | "ImportRow"
        | "NewRegistrationToken" => Visibility::All,
        // Team members see each other; a billing contact sees only the billing page and themself.
        "Membership" | "User" => {
            if access.principal().portal_role == crate::PortalRole::BillingContact {
                related(Relation::IS_PRINCIPAL)
            } else {
                Visibility::All
            }
        }
        "Invitation" => all_if(access.manages_team()),
        "SecurityGroup" => {
            if access.manages_team() {
                Visibility::All
            } else {
                in_own_groups(access)
            }
        }
        "Orchestrator" | "Workflow" | "WorkflowVersion" | "OutputVariable" | "LogEntry"
        | "QueueItem" | "BotRunner" | "RegistrationToken" | "WorkflowRun" => {
            orchestrator_objects(access)
        }
        "Process" => processes(access),
        "Job" => match access.process_hub() {
            Some(ProcessHubRole::Administrator) => Visibility::All,
            Some(_) => related(Relation::LAUNCHER),
            None => Visibility::None,
        },
        // A task's filled-in values go with the task.
        "Task" | "FieldValue" => match access.process_hub() {
            Some(ProcessHubRole::Administrator) => Visibility::All,
            Some(_) => related(Relation::ASSIGNEE),
            None => Visibility::None,
        },
        "Form" => all_if(matches!(
            access.process_hub(),
            Some(ProcessHubRole::Administrator | ProcessHubRole::ProcessManager)
        )),
        "AuditEntry" => {
            if access.manages_team() {
                Visibility::All
            } else if access.principal().audit_log_access {
                in_own_groups(access)
            } else {
                Visibility::None
            }
        }
        // A type no rule mentions is invisible.
        _ => Visibility::None,
    }
}

/// Orchestrators, workflows and bot runners (domain §3, §4): an Orchestrator ADMIN sees all of
/// them; an ANALYST too while AAM is off; everyone else only those of their security groups.
fn orchestrator_objects(access: &Access<'_>) -> Visibility {
    match access.orchestrator() {
        None => Visibility::None,
        Some(OrchestratorRole::Admin) => Visibility::All,
        Some(OrchestratorRole::Analyst) if !access.advanced_access_management() => Visibility::All,
        Some(_) => in_own_groups(access),
    }
}

/// Process Hub processes (domain §5): an ADMINISTRATOR sees all; a PROCESS_MANAGER those they
/// created or may launch; a USER those they may launch. With AAM on, the latter two see them
/// only inside their security groups.
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

/// Whether a resource with these attributes satisfies a visibility.
pub fn admits(visibility: &Visibility, resource: &Resource) -> bool {
    match visibility {
        Visibility::All => true,
        Visibility::None => false,
        Visibility::Where(clauses) => {
            clauses.iter().any(|clause| clause.iter().all(|condition| holds(condition, resource)))
        }
    }
}

fn holds(condition: &Condition, resource: &Resource) -> bool {
    match condition {
        Condition::InSecurityGroups(groups) => {
            resource.security_groups.iter().any(|group| groups.contains(group))
        }
        Condition::Related(relations) => resource.relations.contains(*relations),
    }
}
