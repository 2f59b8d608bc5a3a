//! Which fields of a visible object a principal may read: the one table of field rules.
//!
//! Every row names a GraphQL type and field and says who may read it. A field that no row
//! names is denied, so a field added to the API stays closed until a rule opens it.
//!
//! Two rules apply before the table: pagination plumbing (`…Connection`, `…Edge`, `PageInfo`)
//! is readable wherever the list was, and nothing of an object the principal may not see is
//! readable at all.

use crate::{Object, OrchestratorRole::*, ProcessHubRole, Reason, Relation, access::Access};

/// Who may read a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Whoever may see the object.
    Seen,
    /// Team managers (OWNER, ADMIN, SECURITY_ADMIN).
    TeamManagers,
    /// Team managers, and the member themself.
    TeamManagersOrSelf,
    /// OWNER and BILLING_CONTACT.
    Billing,
    /// Orchestrator ADMIN and DEVELOPER.
    OrchestratorBuilders,
    /// Orchestrator ADMIN only.
    OrchestratorAdmins,
    /// Process Hub ADMINISTRATOR, and the creator of the process.
    ProcessOwners,
}

use Rule::*;

// The table: who may read each field of each type. A field no row names is denied.
rules_by_field! {
    Rule;
    // Entry points: what they return is filtered by visibility.
    (
        "Query",
        [
            "me",
            "myTeams",
            "team",
            "orchestrator",
            "workflow",
            "botRunner",
            "process",
            "securityGroup",
            "node",
            "policy",
        ],
        Seen,
    ),
    // Mutations: each is then decided as an action (see `actions.rs`).
    (
        "Mutation",
        [
            "inviteMembers",
            "revokeInvitation",
            "acceptInvitation",
            "changeMemberRole",
            "transferOwnership",
            "setMemberAccess",
            "copyMemberAccess",
            "suspendMember",
            "reactivateMember",
            "removeMember",
            "importMembers",
            "setAdvancedAccessManagement",
            "createSecurityGroup",
            "updateSecurityGroup",
            "setSecurityGroupEnabled",
            "deleteSecurityGroup",
            "addSecurityGroupMembers",
            "removeSecurityGroupMembers",
            "attachToSecurityGroup",
            "detachFromSecurityGroup",
        ],
        Seen,
    ),
    (
        "Mutation",
        [
            "updateOrchestrator",
            "publishWorkflowVersion",
            "switchWorkflowVersion",
            "configureWorkflow",
            "runWorkflow",
            "enqueueWorkItem",
            "removeWorkItem",
            "assignBotRunners",
            "approveBotRunner",
            "createRegistrationToken",
            "setRdpCredentials",
            "createProcess",
            "updateProcess",
            "setLaunchPermissions",
            "launchProcess",
            "cancelJob",
            "retryJob",
            "completeTask",
            "createForm",
            "updateForm",
        ],
        Seen,
    ),
    // The token is shown once, to whoever created it.
    ("NewRegistrationToken", ["token", "registrationToken"], Seen),
    ("InviteMembersPayload", ["results"], Seen),
    ("ImportMembersPayload", ["rows"], Seen),
    ("InviteResult", ["email", "invitation", "error"], Seen),
    ("ImportRow", ["line", "email", "invitation", "error"], Seen),
    ("Subscription", ["teamEvents"], Seen),
    // An event is for team managers, and for the member it is about.
    (
        "TeamEvent",
        [
            "kind",
            "at",
            "actorId",
            "membershipId",
            "userIds",
            "email",
            "portalRole",
            "securityGroupId",
        ],
        TeamManagersOrSelf,
    ),
    ("MyTeam", ["id", "name", "portalRole", "acting"], Seen),
    ("PolicyInfo", ["name", "hash", "loadedAt", "source"], Seen),
    ("Team", ["id", "name", "advancedAccessManagement", "owner"], Seen),
    ("Team", ["billingPlan"], Billing),
    (
        "Team",
        [
            "members",
            "invitations",
            "securityGroups",
            "orchestrators",
            "workflows",
            "botRunners",
            "processes",
            "jobs",
            "tasks",
            "forms",
            "auditLog",
        ],
        Seen,
    ),
    ("User", ["id", "displayName", "email"], Seen),
    ("User", ["status"], TeamManagersOrSelf),
    ("Membership", ["id", "user", "portalRole", "joinedAt", "suspended"], Seen),
    (
        "Membership",
        ["products", "orchestratorRole", "processHubRole", "auditLogAccess", "securityGroups"],
        TeamManagersOrSelf,
    ),
    (
        "Invitation",
        [
            "id",
            "email",
            "portalRole",
            "products",
            "orchestratorRole",
            "processHubRole",
            "invitedBy",
            "status",
            "createdAt",
            "expiresAt",
        ],
        TeamManagers,
    ),
    (
        "SecurityGroup",
        [
            "id",
            "name",
            "description",
            "enabled",
            "members",
            "orchestrator",
            "workflows",
            "botRunners",
            "processes",
        ],
        Seen,
    ),
    ("Orchestrator", ["id", "name", "securityGroups", "workflows"], Seen),
    ("Orchestrator", ["apiIntegrationEnabled", "zapierEnabled"], OrchestratorBuilders),
    ("Orchestrator", ["multitenancyEnabled"], OrchestratorAdmins),
    (
        "Workflow",
        [
            "id",
            "name",
            "orchestrator",
            "currentVersion",
            "schedule",
            "webhookEnabled",
            "loggingEnabled",
            "executionLogs",
            "queue",
            "assignedBotRunners",
            "securityGroup",
            "runs",
        ],
        Seen,
    ),
    // Output variables and version history: Orchestrator ADMIN and DEVELOPER (domain §4).
    ("Workflow", ["outputVariables", "versions"], OrchestratorBuilders),
    ("OutputVariable", ["name", "value"], OrchestratorBuilders),
    ("WorkflowVersion", ["number", "comment", "publishedAt", "publishedBy"], OrchestratorBuilders),
    ("LogEntry", ["at", "level", "message"], Seen),
    ("QueueItem", ["id", "enqueuedAt", "status", "payload"], Seen),
    // A run and its logs: every Orchestrator role views logs (domain §4).
    (
        "WorkflowRun",
        [
            "id",
            "workflow",
            "version",
            "state",
            "botRunner",
            "startedBy",
            "startedAt",
            "finishedAt",
            "executionLogs",
            "consoleLogs",
        ],
        Seen,
    ),
    ("BotRunner", ["id", "machineName", "approvalState", "lastSeenAt", "securityGroups"], Seen),
    // Whether RDP credentials are set; the credentials themselves are never readable.
    ("BotRunner", ["rdpCredentialsSet", "rdpUsername"], OrchestratorBuilders),
    ("BotRunner", ["registrationTokens"], OrchestratorAdmins),
    ("RegistrationToken", ["id", "createdAt", "expiresAt", "used"], OrchestratorAdmins),
    (
        "Process",
        ["id", "name", "description", "createdBy", "securityGroups", "jobs", "form"],
        Seen,
    ),
    ("Process", ["launchPermissions"], ProcessOwners),
    (
        "Job",
        ["id", "process", "launchedBy", "state", "startedAt", "finishedAt", "tasks", "retryOf"],
        Seen,
    ),
    (
        "Task",
        [
            "id",
            "title",
            "assignee",
            "state",
            "job",
            "form",
            "formFields",
            "values",
            "completedAt",
            "completedBy",
        ],
        Seen,
    ),
    ("FieldValue", ["name", "value"], Seen),
    ("Form", ["id", "name", "fieldNames"], Seen),
    (
        "AuditEntry",
        ["id", "at", "actor", "action", "target", "targetId", "details", "securityGroups"],
        Seen,
    ),
}

/// The field rules: the rows as written, and any rule changed since (tests change one rule
/// at a time to see which case catches it).
#[derive(Clone, Debug, Default)]
pub struct Table {
    changed: Vec<((&'static str, &'static str), Option<Rule>)>,
}

impl Table {
    /// The rows as written.
    pub const fn shipped() -> Self {
        Self { changed: Vec::new() }
    }

    /// The rule for `type_name.field`, if a row names it.
    pub fn rule(&self, type_name: &str, field: &str) -> Option<Rule> {
        match self.changed.iter().find(|((t, f), _)| *t == type_name && *f == field) {
            Some((_, rule)) => *rule,
            None => listed(type_name, field),
        }
    }

    /// Sets (or, with `None`, removes) the rule of one field.
    pub fn set(&mut self, type_name: &'static str, field: &'static str, rule: Option<Rule>) {
        self.changed.retain(|((t, f), _)| !(*t == type_name && *f == field));
        self.changed.push(((type_name, field), rule));
    }

    /// Every (type, field) a row names.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        ROWS.iter().flat_map(|(type_name, fields, _)| fields.iter().map(move |f| (*type_name, *f)))
    }

    /// The number of `type_name.field` in the contract: where a row names it.
    pub fn number_of(&self, type_name: &str, field: &str) -> Option<u32> {
        ROWS.iter().enumerate().find_map(|(row, (listed_type, fields, _))| {
            (*listed_type == type_name)
                .then(|| fields.iter().position(|listed| *listed == field))
                .flatten()
                .map(|at| crate::number(row, at))
        })
    }

    /// The type and field numbered `number`, and the field's rule now.
    pub fn by_number(&self, number: u32) -> Option<(&'static str, &'static str, Option<Rule>)> {
        let (row, at) = crate::unnumber(number);
        let (type_name, fields, rule) = ROWS.get(row)?;
        let field = *fields.get(at)?;
        if self.changed.is_empty() {
            Some((type_name, field, Some(*rule)))
        } else {
            Some((type_name, field, self.rule(type_name, field)))
        }
    }
}

/// Whether a type is pagination plumbing, readable wherever the list itself was.
pub fn is_plumbing(type_name: &str) -> bool {
    type_name == "PageInfo" || type_name.ends_with("Connection") || type_name.ends_with("Edge")
}

/// Whether the principal may read a field ruled by `rule` of `object`, which they see.
pub fn allows(access: &Access<'_>, object: &Object<'_>, rule: Rule) -> Result<(), Reason> {
    let allowed = match rule {
        Seen => true,
        TeamManagers => access.manages_team(),
        TeamManagersOrSelf => {
            access.manages_team() || object.relations.contains(Relation::IS_PRINCIPAL)
        }
        Billing => access.sees_billing(),
        OrchestratorBuilders => access.orchestrator_is(&[Admin, Developer]),
        OrchestratorAdmins => access.orchestrator_is(&[Admin]),
        ProcessOwners => {
            access.process_hub() == Some(ProcessHubRole::Administrator)
                || object.relations.contains(Relation::CREATOR)
        }
    };
    if allowed { Ok(()) } else { Err(Reason::FieldRoles) }
}
