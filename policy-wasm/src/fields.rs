//! Which fields of a visible object a principal may read: the one table of field rules.
//!
//! Every row names a GraphQL type and field and says who may read it. A field that no row
//! names is denied, so a field added to the API stays closed until a rule opens it.
//!
//! Two rules apply before the table: pagination plumbing (`…Connection`, `…Edge`, `PageInfo`)
//! is readable wherever the list was, and nothing of an object the principal may not see is
//! readable at all.

use crate::{
    Decision, OrchestratorRole::*, ProcessHubRole, Relation, Resource, access::Access, deny,
    visibility,
};

/// Who may read a field.
enum Rule {
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

/// The table: who may read `type_name.field`. `None` means no rule, which denies.
fn rule(type_name: &str, field: &str) -> Option<Rule> {
    use Rule::*;
    let rule = match (type_name, field) {
        // Entry points: what they return is filtered by visibility.
        (
            "Query",
            "me" | "myTeams" | "team" | "orchestrator" | "workflow" | "botRunner" | "process"
            | "securityGroup" | "node" | "policy",
        ) => Seen,
        // Mutations: each is then decided as an action (see `actions.rs`).
        (
            "Mutation",
            "inviteMembers"
            | "revokeInvitation"
            | "acceptInvitation"
            | "changeMemberRole"
            | "transferOwnership"
            | "setMemberAccess"
            | "copyMemberAccess"
            | "suspendMember"
            | "reactivateMember"
            | "removeMember"
            | "importMembers"
            | "setAdvancedAccessManagement"
            | "createSecurityGroup"
            | "updateSecurityGroup"
            | "setSecurityGroupEnabled"
            | "deleteSecurityGroup"
            | "addSecurityGroupMembers"
            | "removeSecurityGroupMembers"
            | "attachToSecurityGroup"
            | "detachFromSecurityGroup",
        ) => Seen,
        (
            "Mutation",
            "updateOrchestrator"
            | "publishWorkflowVersion"
            | "switchWorkflowVersion"
            | "configureWorkflow"
            | "runWorkflow"
            | "enqueueWorkItem"
            | "removeWorkItem"
            | "assignBotRunners"
            | "approveBotRunner"
            | "createRegistrationToken"
            | "setRdpCredentials"
            | "createProcess"
            | "updateProcess"
            | "setLaunchPermissions"
            | "launchProcess"
            | "cancelJob"
            | "retryJob"
            | "completeTask"
            | "createForm"
            | "updateForm",
        ) => Seen,
        // The token is shown once, to whoever created it.
        ("NewRegistrationToken", "token" | "registrationToken") => Seen,
        ("InviteMembersPayload", "results") | ("ImportMembersPayload", "rows") => Seen,
        ("InviteResult", "email" | "invitation" | "error") => Seen,
        ("ImportRow", "line" | "email" | "invitation" | "error") => Seen,
        ("Subscription", "teamEvents") => Seen,
        // An event is for team managers, and for the member it is about.
        (
            "TeamEvent",
            "kind" | "at" | "actorId" | "membershipId" | "userIds" | "email" | "portalRole"
            | "securityGroupId",
        ) => TeamManagersOrSelf,
        ("MyTeam", "id" | "name" | "portalRole" | "acting") => Seen,
        ("PolicyInfo", "name" | "hash" | "loadedAt" | "source") => Seen,

        ("Team", "id" | "name" | "advancedAccessManagement" | "owner") => Seen,
        ("Team", "billingPlan") => Billing,
        (
            "Team",
            "members" | "invitations" | "securityGroups" | "orchestrators" | "workflows"
            | "botRunners" | "processes" | "jobs" | "tasks" | "forms" | "auditLog",
        ) => Seen,

        ("User", "id" | "displayName" | "email") => Seen,
        ("User", "status") => TeamManagersOrSelf,

        ("Membership", "id" | "user" | "portalRole" | "joinedAt" | "suspended") => Seen,
        (
            "Membership",
            "products" | "orchestratorRole" | "processHubRole" | "auditLogAccess"
            | "securityGroups",
        ) => TeamManagersOrSelf,

        (
            "Invitation",
            "id" | "email" | "portalRole" | "products" | "orchestratorRole" | "processHubRole"
            | "invitedBy" | "status" | "createdAt" | "expiresAt",
        ) => TeamManagers,

        (
            "SecurityGroup",
            "id" | "name" | "description" | "enabled" | "members" | "orchestrator" | "workflows"
            | "botRunners" | "processes",
        ) => Seen,

        ("Orchestrator", "id" | "name" | "securityGroups" | "workflows") => Seen,
        ("Orchestrator", "apiIntegrationEnabled" | "zapierEnabled") => OrchestratorBuilders,
        ("Orchestrator", "multitenancyEnabled") => OrchestratorAdmins,

        (
            "Workflow",
            "id" | "name" | "orchestrator" | "currentVersion" | "schedule" | "webhookEnabled"
            | "loggingEnabled" | "executionLogs" | "queue" | "assignedBotRunners" | "securityGroup"
            | "runs",
        ) => Seen,
        // Output variables and version history: Orchestrator ADMIN and DEVELOPER (domain §4).
        ("Workflow", "outputVariables" | "versions") => OrchestratorBuilders,
        ("OutputVariable", "name" | "value") => OrchestratorBuilders,
        ("WorkflowVersion", "number" | "comment" | "publishedAt" | "publishedBy") => {
            OrchestratorBuilders
        }
        ("LogEntry", "at" | "level" | "message") => Seen,
        ("QueueItem", "id" | "enqueuedAt" | "status" | "payload") => Seen,
        // A run and its logs: every Orchestrator role views logs (domain §4).
        (
            "WorkflowRun",
            "id" | "workflow" | "version" | "state" | "botRunner" | "startedBy" | "startedAt"
            | "finishedAt" | "executionLogs" | "consoleLogs",
        ) => Seen,

        ("BotRunner", "id" | "machineName" | "approvalState" | "lastSeenAt" | "securityGroups") => {
            Seen
        }
        // Whether RDP credentials are set; the credentials themselves are never readable.
        ("BotRunner", "rdpCredentialsSet" | "rdpUsername") => OrchestratorBuilders,
        ("BotRunner", "registrationTokens") => OrchestratorAdmins,
        ("RegistrationToken", "id" | "createdAt" | "expiresAt" | "used") => OrchestratorAdmins,

        (
            "Process",
            "id" | "name" | "description" | "createdBy" | "securityGroups" | "jobs" | "form",
        ) => Seen,
        ("Process", "launchPermissions") => ProcessOwners,
        (
            "Job",
            "id" | "process" | "launchedBy" | "state" | "startedAt" | "finishedAt" | "tasks"
            | "retryOf",
        ) => Seen,
        (
            "Task",
            "id" | "title" | "assignee" | "state" | "job" | "form" | "formFields" | "values"
            | "completedAt" | "completedBy",
        ) => Seen,
        ("FieldValue", "name" | "value") => Seen,
        ("Form", "id" | "name" | "fieldNames") => Seen,

        (
            "AuditEntry",
            "id" | "at" | "actor" | "action" | "target" | "targetId" | "details" | "securityGroups",
        ) => Seen,

        _ => return None,
    };
    Some(rule)
}

/// Whether a type is pagination plumbing, readable wherever the list itself was.
fn is_plumbing(type_name: &str) -> bool {
    type_name == "PageInfo" || type_name.ends_with("Connection") || type_name.ends_with("Edge")
}

/// Decides whether the principal may read `field` of `resource`.
pub fn read(access: &Access<'_>, resource: &Resource, field: &str) -> Decision {
    let type_name = resource.type_name.as_str();
    if is_plumbing(type_name) {
        return Decision::Allow;
    }
    if !visibility::admits(&visibility::of(access, type_name), resource) {
        return deny("the object is not visible to the principal");
    }
    let Some(rule) = rule(type_name, field) else {
        return deny(&format!("no rule allows reading `{type_name}.{field}`"));
    };
    let allowed = match rule {
        Rule::Seen => true,
        Rule::TeamManagers => access.manages_team(),
        Rule::TeamManagersOrSelf => {
            access.manages_team() || resource.relations.contains(Relation::IS_PRINCIPAL)
        }
        Rule::Billing => access.sees_billing(),
        Rule::OrchestratorBuilders => access.orchestrator_is(&[Admin, Developer]),
        Rule::OrchestratorAdmins => access.orchestrator_is(&[Admin]),
        Rule::ProcessOwners => {
            access.process_hub() == Some(ProcessHubRole::Administrator)
                || resource.relations.contains(Relation::CREATOR)
        }
    };
    if allowed {
        Decision::Allow
    } else {
        deny(&format!("the principal's roles do not allow reading `{type_name}.{field}`"))
    }
}
