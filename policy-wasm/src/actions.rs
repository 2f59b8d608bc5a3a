//! Which actions (mutations) a principal may perform: the one table of action rules.
//!
//! Every row names an action and says who may perform it, like the table of fields in
//! [`crate::fields`]. An action no row names is denied, so a mutation added to the API stays
//! closed until a rule opens it.
//!
//! These rules are the policy's half of domain §2 to §5. The other half, the invariants
//! (exactly one owner, nobody changes their own role, a workflow in at most one group, …), is
//! held by the gateway and the database whatever policy is loaded; the rules below repeat the
//! ones a policy author may want to tighten, never loosen.

use crate::{
    Object, OrchestratorRole, PortalRole, ProcessHubRole, Reason, Relation, access::Access,
};
use OrchestratorRole::{Admin, Developer, Operator};
use ProcessHubRole::{Administrator, ProcessManager};

/// Who may perform an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Team managers: OWNER, ADMIN and SECURITY_ADMIN.
    TeamManagers,
    /// OWNER and ADMIN.
    TeamAdmins,
    /// A team manager whose role is broader than the role offered (invitations, imports).
    Grant,
    /// A team manager broader than both the member's role and the requested one, on someone
    /// else, never granting OWNER (domain §2: the broadness rule).
    ChangeRole,
    /// The owner, handing the team to someone else.
    TransferOwnership,
    /// A team manager, on a member other than themself and other than the owner.
    ManageMember,
    /// The person the invitation is addressed to.
    Invitee,
    /// A team manager, or the administrator of the product the object belongs to.
    GroupObjects,
    /// A holder of one of these Orchestrator roles, on an object they can see (domain §4).
    Orchestrator(&'static [OrchestratorRole]),
    /// A holder of one of these Process Hub roles (domain §5).
    ProcessHub(&'static [ProcessHubRole]),
    /// A Process Hub ADMINISTRATOR on any object they can see; anyone else with a Process Hub
    /// role only on an object they can see and have this relation to (domain §5).
    AdministratorOr(Relation, &'static [ProcessHubRole]),
}

/// Orchestrator ADMIN only: settings, multitenancy, integrations, approving runners, tokens.
const ORCHESTRATOR_ADMINS: &[OrchestratorRole] = &[Admin];
/// Who builds workflows: publish, configure, versions, runner assignment, RDP credentials.
const BUILDERS: &[OrchestratorRole] = &[Admin, Developer];
/// Who schedules workflows.
const SCHEDULERS: &[OrchestratorRole] = &[Admin, Developer, Operator];
/// Who runs workflows by hand and manages their queues.
const RUNNERS: &[OrchestratorRole] = &[Admin, Operator];
/// Who creates processes and forms.
const PROCESS_AUTHORS: &[ProcessHubRole] = &[Administrator, ProcessManager];
/// Who may be a process's launcher or a task's assignee and act on that.
const HUB_MEMBERS: &[ProcessHubRole] = &[Administrator, ProcessManager, ProcessHubRole::User];

use Rule::*;

// The table: who may perform each action. An action no row names is denied.
rules_by_name! {
    Rule;
    // Members and invitations (domain §2).
    (["invite-members", "import-members"], Grant),
    (["revoke-invitation"], TeamManagers),
    (["accept-invitation"], Invitee),
    (["change-member-role"], ChangeRole),
    (["transfer-ownership"], TransferOwnership),
    (["set-member-access", "copy-member-access"], ManageMember),
    (["suspend-member", "reactivate-member", "remove-member"], ManageMember),
    // The team's settings.
    (["set-advanced-access-management"], TeamAdmins),
    // Security groups (domain §2, §3).
    (
        [
            "create-security-group",
            "update-security-group",
            "set-security-group-enabled",
            "delete-security-group",
            "add-security-group-members",
            "remove-security-group-members",
        ],
        TeamManagers,
    ),
    // The object attached or detached is the resource: its product decides who else may.
    (["attach-to-security-group", "detach-from-security-group"], GroupObjects),
    // Orchestrators (domain §4): each setting is its own action. An ANALYST only views, so no
    // row names them.
    (
        [
            "rename-orchestrator",
            "set-orchestrator-multitenancy",
            "configure-orchestrator-api-integration",
            "configure-orchestrator-zapier",
        ],
        Orchestrator(ORCHESTRATOR_ADMINS),
    ),
    // Workflows (domain §4).
    (["publish-workflow-version", "switch-workflow-version"], Orchestrator(BUILDERS)),
    (["set-workflow-webhook", "set-workflow-logging"], Orchestrator(BUILDERS)),
    (["set-workflow-schedule"], Orchestrator(SCHEDULERS)),
    (["run-workflow", "enqueue-work-item", "remove-work-item"], Orchestrator(RUNNERS)),
    (["assign-bot-runners"], Orchestrator(BUILDERS)),
    // Bot runners (domain §4).
    (["set-rdp-credentials"], Orchestrator(BUILDERS)),
    (["approve-bot-runner", "create-registration-token"], Orchestrator(ORCHESTRATOR_ADMINS)),
    // Process Hub (domain §5).
    (["create-process", "create-form", "update-form"], ProcessHub(PROCESS_AUTHORS)),
    (["update-process", "set-launch-permissions"],
        AdministratorOr(Relation::CREATOR, &[ProcessManager]),
    ),
    (["launch-process"], AdministratorOr(Relation::LAUNCHER, HUB_MEMBERS)),
    (["cancel-job", "retry-job"], ProcessHub(&[Administrator])),
    (["complete-task"], AdministratorOr(Relation::ASSIGNEE, HUB_MEMBERS)),
}

/// How broad a portal role is: a larger number is broader (domain §2).
pub fn breadth(role: PortalRole) -> u8 {
    match role {
        PortalRole::Owner => 4,
        PortalRole::Admin => 3,
        PortalRole::SecurityAdmin => 2,
        PortalRole::Member => 1,
        PortalRole::BillingContact => 0,
    }
}

/// Whether the principal may perform an action ruled by `rule` on `object`, with these
/// inputs. `sees` says whether the principal can see the object: an action never reaches
/// further than reading does.
pub fn allows(
    access: &Access<'_>,
    object: &Object<'_>,
    rule: Rule,
    current_role: Option<PortalRole>,
    requested_role: Option<PortalRole>,
    mut sees: impl FnMut() -> bool,
) -> Result<(), Reason> {
    let me = access.principal().portal_role;
    let on_myself = object.relations.contains(Relation::IS_PRINCIPAL);
    let broader_than = |role: Option<PortalRole>| role.is_some_and(|r| breadth(me) > breadth(r));
    match rule {
        TeamManagers => access.manages_team().then_some(()).ok_or(Reason::OnlyTeamManagers),
        TeamAdmins => matches!(me, PortalRole::Owner | PortalRole::Admin)
            .then_some(())
            .ok_or(Reason::OnlyTeamAdmins),
        // Asked without a role, the question is whether they may invite at all.
        Grant => {
            if !access.manages_team() {
                Err(Reason::OnlyTeamManagers)
            } else if requested_role.is_some() && !broader_than(requested_role) {
                Err(Reason::NarrowerRoleOnly)
            } else {
                Ok(())
            }
        }
        ChangeRole => {
            if !access.manages_team() {
                Err(Reason::OnlyTeamManagers)
            } else if on_myself {
                Err(Reason::OwnRole)
            } else if requested_role == Some(PortalRole::Owner) {
                Err(Reason::OwnershipIsTransferred)
            } else if !broader_than(current_role) || !broader_than(requested_role) {
                Err(Reason::BroaderThanBoth)
            } else {
                Ok(())
            }
        }
        TransferOwnership => {
            if me != PortalRole::Owner {
                Err(Reason::OnlyOwner)
            } else if on_myself {
                Err(Reason::AlreadyOwner)
            } else {
                Ok(())
            }
        }
        ManageMember => {
            if !access.manages_team() {
                Err(Reason::OnlyTeamManagers)
            } else if on_myself {
                Err(Reason::NotOnYourself)
            } else if current_role == Some(PortalRole::Owner) {
                Err(Reason::NotOnOwner)
            } else {
                Ok(())
            }
        }
        Invitee => on_myself.then_some(()).ok_or(Reason::OnlyInvitee),
        GroupObjects => {
            let product_admin = match object.type_name {
                "Orchestrator" | "Workflow" | "BotRunner" => {
                    access.orchestrator() == Some(OrchestratorRole::Admin)
                }
                "Process" => access.process_hub() == Some(ProcessHubRole::Administrator),
                _ => false,
            };
            (access.manages_team() || product_admin)
                .then_some(())
                .ok_or(Reason::OnlyManagersOrProductAdmins)
        }
        Orchestrator(roles) => {
            if !access.orchestrator_is(roles) {
                Err(Reason::OrchestratorRole)
            } else if !sees() {
                Err(Reason::OutsideGroups)
            } else {
                Ok(())
            }
        }
        ProcessHub(roles) => access
            .process_hub()
            .is_some_and(|role| roles.contains(&role))
            .then_some(())
            .ok_or(Reason::ProcessHubRole),
        AdministratorOr(relation, roles) => match access.process_hub() {
            None => Err(Reason::NoProcessHub),
            Some(_) if !sees() => Err(Reason::NotVisible),
            Some(Administrator) => Ok(()),
            Some(role) if roles.contains(&role) && object.relations.contains(relation) => Ok(()),
            Some(_) => Err(Reason::ProcessHubRelation),
        },
    }
}
