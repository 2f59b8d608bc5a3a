//! Daily work on automation objects (domain §4, §5) through real HTTP, decided by the real
//! WebAssembly policy: every Orchestrator and Process Hub role against every mutation, with
//! Advanced Access Management on and off, inside and outside the principal's groups; the
//! invariants that hold whatever policy is loaded; and the trace runs and launches leave.
//!
//! Demo ids (Acme Robotics): orchestrators 1 (Production) and 2 (Testing); workflows 1 Invoice
//! intake (Production), 5 CRM sync (acceptance) (Testing); bot runners 1 prod-runner-01
//! (Production), 2 test-runner-01 (Testing), 3 shared-runner-01 (Testing, Development),
//! 4 dev-laptop-dana (Development, pending approval); queue item 1 is workflow 1's; processes
//! 1 Invoice approval (by Pia, launched by Pia and Uma), 2 Employee onboarding (by Hank,
//! launched by Uma), 4 Supplier scoring (by Pia, nobody launches it); job 1 runs (Uma's), its
//! task 1 waits for Uma with form 1 (amount, supplier, approved).

use super::TestServer;
use fieldguard_e2e::{OWNER, ensure};
use serde_json::Value;

use super::management::{Row, run_matrix};

/// Portal OWNER and ADMIN act as every product's administrator.
const ORCHESTRATOR_ADMINS: &[&str] = &["olivia.owner", "adam.admin", "oli.orchadmin"];
/// Orchestrator admins, and the developers of the Testing group (Dana, Casey).
const TESTING_BUILDERS: &[&str] =
    &["olivia.owner", "adam.admin", "oli.orchadmin", "dana.developer", "casey.consultant"];
/// Orchestrator admins, and the operator of the Production group (Oscar).
const PRODUCTION_OPERATORS: &[&str] =
    &["olivia.owner", "adam.admin", "oli.orchadmin", "oscar.operator"];
const HUB_ADMINS: &[&str] = &["olivia.owner", "adam.admin", "hank.hubadmin"];
const HUB_AUTHORS: &[&str] = &["olivia.owner", "adam.admin", "hank.hubadmin", "pia.manager"];

/// Moves process 4 (Pia's) from the Testing group to Development, which Pia is not in.
const PROCESS_4_TO_DEVELOPMENT: &str = r#"mutation {
    a: attachToSecurityGroup(id: "SecurityGroup:3", objectIds: ["Process:4"]) { name }
    d: detachFromSecurityGroup(id: "SecurityGroup:2", objectIds: ["Process:4"]) { name } }"#;

/// Every daily-work mutation, with who may perform it with AAM on (`aam_on`) or off.
pub(crate) fn matrix(aam_on: bool) -> Vec<Row> {
    let row = |name, document, allowed| Row { name, document, allowed, setup: None };
    vec![
        // Orchestrator settings: ADMIN only, each setting its own action. Dana sees the
        // Testing orchestrator (FORBIDDEN), not the Production one (NOT_FOUND).
        row(
            "updateOrchestrator",
            r#"mutation { updateOrchestrator(id: "Orchestrator:1", input: { name: "Production EU" }) { name } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "updateOrchestrator",
            r#"mutation { updateOrchestrator(id: "Orchestrator:2", input: { multitenancyEnabled: true }) { id } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "updateOrchestrator",
            r#"mutation { updateOrchestrator(id: "Orchestrator:2", input: { apiIntegrationEnabled: true, zapierEnabled: true }) { id } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        // Publish and versions: ADMIN and DEVELOPER, inside the developer's groups only.
        row(
            "publishWorkflowVersion",
            r#"mutation { publishWorkflowVersion(workflowId: "Workflow:5", comment: "Retry on timeouts") { number comment } }"#,
            TESTING_BUILDERS,
        ),
        row(
            "publishWorkflowVersion",
            r#"mutation { publishWorkflowVersion(workflowId: "Workflow:1") { number } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "switchWorkflowVersion",
            r#"mutation { switchWorkflowVersion(workflowId: "Workflow:5", number: 1) { currentVersion } }"#,
            TESTING_BUILDERS,
        ),
        // Scheduling: ADMIN, DEVELOPER and OPERATOR, each in their groups.
        row(
            "configureWorkflow",
            r#"mutation { configureWorkflow(id: "Workflow:1", input: { schedule: "0 7 * * 1-5" }) { schedule } }"#,
            PRODUCTION_OPERATORS,
        ),
        row(
            "configureWorkflow",
            r#"mutation { configureWorkflow(id: "Workflow:5", input: { schedule: "*/10 * * * *" }) { schedule } }"#,
            TESTING_BUILDERS,
        ),
        // Webhooks and logging: ADMIN and DEVELOPER; an OPERATOR may not.
        row(
            "configureWorkflow",
            r#"mutation { configureWorkflow(id: "Workflow:1", input: { webhookEnabled: false }) { webhookEnabled } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "configureWorkflow",
            r#"mutation { configureWorkflow(id: "Workflow:5", input: { loggingEnabled: false }) { loggingEnabled } }"#,
            TESTING_BUILDERS,
        ),
        // Running and the queue: ADMIN and OPERATOR; a DEVELOPER may not.
        row(
            "runWorkflow",
            r#"mutation { runWorkflow(id: "Workflow:1") { state } }"#,
            PRODUCTION_OPERATORS,
        ),
        row(
            "runWorkflow",
            r#"mutation { runWorkflow(id: "Workflow:5") { state } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "enqueueWorkItem",
            r#"mutation { enqueueWorkItem(workflowId: "Workflow:1", payload: "{\"invoice\": 42}") { status } }"#,
            PRODUCTION_OPERATORS,
        ),
        row("removeWorkItem", r#"mutation { removeWorkItem(id: "1") }"#, PRODUCTION_OPERATORS),
        // Assigning runners: ADMIN and DEVELOPER, runners of the workflow's group.
        row(
            "assignBotRunners",
            r#"mutation { assignBotRunners(workflowId: "Workflow:5", botRunnerIds: ["BotRunner:2", "BotRunner:3"]) { assignedBotRunners { machineName } } }"#,
            TESTING_BUILDERS,
        ),
        // Bot runners: ADMIN approves and creates tokens; RDP credentials also DEVELOPER.
        row(
            "approveBotRunner",
            r#"mutation { approveBotRunner(id: "BotRunner:4", approved: true) { approvalState } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "createRegistrationToken",
            r#"mutation { createRegistrationToken(botRunnerId: "BotRunner:3") { token registrationToken { id used } } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        row(
            "setRdpCredentials",
            r#"mutation { setRdpCredentials(botRunnerId: "BotRunner:3", username: "svc-bot", password: "Winter-2026!") { rdpCredentialsSet } }"#,
            TESTING_BUILDERS,
        ),
        row(
            "setRdpCredentials",
            r#"mutation { setRdpCredentials(botRunnerId: "BotRunner:1", username: "svc-bot", password: "Winter-2026!") { rdpCredentialsSet } }"#,
            ORCHESTRATOR_ADMINS,
        ),
        // Process Hub.
        row(
            "createProcess",
            r#"mutation { createProcess(input: { name: "Expense claims", description: "Claims under 500" }) { name } }"#,
            HUB_AUTHORS,
        ),
        row(
            "updateProcess",
            r#"mutation { updateProcess(id: "Process:1", input: { description: "Invoices over 1,000" }) { description } }"#,
            HUB_AUTHORS,
        ),
        // Pia did not create process 2, and may not launch it: it does not exist for her.
        row(
            "updateProcess",
            r#"mutation { updateProcess(id: "Process:2", input: { name: "Onboarding" }) { name } }"#,
            HUB_ADMINS,
        ),
        // Outside Pia's groups once moved: out of reach with AAM on, hers with AAM off.
        Row {
            name: "updateProcess",
            document: r#"mutation { updateProcess(id: "Process:4", input: { name: "Supplier scoring" }) { name } }"#,
            allowed: if aam_on { HUB_ADMINS } else { HUB_AUTHORS },
            setup: Some(PROCESS_4_TO_DEVELOPMENT),
        },
        row(
            "setLaunchPermissions",
            r#"mutation { setLaunchPermissions(processId: "Process:4", userIds: ["User:12"]) { launchPermissions { email } } }"#,
            HUB_AUTHORS,
        ),
        row(
            "launchProcess",
            r#"mutation { launchProcess(id: "Process:1") { state tasks { nodes { title state } } } }"#,
            &["olivia.owner", "adam.admin", "hank.hubadmin", "pia.manager", "uma.user"],
        ),
        // Pia created process 4 but may not launch it.
        row(
            "launchProcess",
            r#"mutation { launchProcess(id: "Process:4") { state } }"#,
            HUB_ADMINS,
        ),
        row("cancelJob", r#"mutation { cancelJob(id: "Job:1") { state } }"#, HUB_ADMINS),
        Row {
            name: "retryJob",
            document: r#"mutation { retryJob(id: "Job:1") { state retryOf { id } } }"#,
            allowed: HUB_ADMINS,
            setup: Some(r#"mutation { cancelJob(id: "Job:1") { state } }"#),
        },
        row(
            "completeTask",
            r#"mutation { completeTask(id: "Task:1", values: [{ name: "amount", value: "980.00" }, { name: "supplier", value: "Initech" }, { name: "approved", value: "yes" }]) { state values { name value } } }"#,
            &["olivia.owner", "adam.admin", "hank.hubadmin", "uma.user"],
        ),
        row(
            "createForm",
            r#"mutation { createForm(input: { name: "Expense claim", fieldNames: ["amount", "reason"] }) { fieldNames } }"#,
            HUB_AUTHORS,
        ),
        row(
            "updateForm",
            r#"mutation { updateForm(id: "Form:1", input: { fieldNames: ["amount", "supplier", "approved", "note"] }) { fieldNames } }"#,
            HUB_AUTHORS,
        ),
    ]
}

const AAM_OFF: &str =
    "mutation { setAdvancedAccessManagement(enabled: false) { advancedAccessManagement } }";

#[tokio::test]
async fn every_role_against_every_daily_mutation_with_aam_on() -> anyhow::Result<()> {
    run_matrix(&matrix(true), None).await
}

#[tokio::test]
async fn every_role_against_every_daily_mutation_with_aam_off() -> anyhow::Result<()> {
    run_matrix(&matrix(false), Some(AAM_OFF)).await
}

/// The invariants of domain §3–§5, each violated on purpose under a policy module that allows
/// everything, then under the built-in policy: each is refused with its code and a message
/// naming what is wrong, and nothing changes.
#[tokio::test]
async fn invariants_hold_whatever_policy_is_loaded() -> anyhow::Result<()> {
    let server = TestServer::with_fixture("allow-all").await?;
    let before = server.snapshot().await?;
    let cases: [(&str, &str, &str); 14] = [
        (
            r#"mutation { assignBotRunners(workflowId: "Workflow:5", botRunnerIds: ["BotRunner:1"]) { id } }"#,
            "CONFLICT",
            "bot runner prod-runner-01 is not in security group Testing of workflow CRM sync (acceptance)",
        ),
        (
            r#"mutation { assignBotRunners(workflowId: "Workflow:6", botRunnerIds: ["BotRunner:4"]) { id } }"#,
            "CONFLICT",
            "bot runner dev-laptop-dana is PENDING; only approved runners take work",
        ),
        (
            r#"mutation { switchWorkflowVersion(workflowId: "Workflow:5", number: 9) { id } }"#,
            "INVALID_INPUT",
            "workflow CRM sync (acceptance) has no version 9; its versions are 1 to 2",
        ),
        (
            r#"mutation { cancelJob(id: "Job:2") { id } }"#,
            "CONFLICT",
            "is SUCCEEDED; only a queued or running job can be cancelled",
        ),
        (
            r#"mutation { retryJob(id: "Job:1") { id } }"#,
            "CONFLICT",
            "is RUNNING; only a failed or cancelled job can be retried",
        ),
        (
            r#"mutation { completeTask(id: "Task:2", values: []) { id } }"#,
            "CONFLICT",
            "is already completed",
        ),
        (
            r#"mutation { completeTask(id: "Task:1", values: [{ name: "amount", value: "1" }]) { id } }"#,
            "INVALID_INPUT",
            "missing: supplier, approved",
        ),
        (
            r#"mutation { completeTask(id: "Task:1", values: [{ name: "colour", value: "red" }]) { id } }"#,
            "INVALID_INPUT",
            "form Invoice approval has no field `colour`; its fields are amount, supplier, approved",
        ),
        (
            r#"mutation { configureWorkflow(id: "Workflow:1", input: { schedule: "every morning" }) { id } }"#,
            "INVALID_INPUT",
            "`every morning` is not a cron schedule",
        ),
        (
            r#"mutation { createProcess(input: { description: "no name" }) { id } }"#,
            "INVALID_INPUT",
            "a process needs a name",
        ),
        (
            r#"mutation { createForm(input: { name: "Twice", fieldNames: ["a", "A"] }) { id } }"#,
            "INVALID_INPUT",
            "the field `A` is listed twice",
        ),
        (
            r#"mutation { setRdpCredentials(botRunnerId: "BotRunner:1", username: "svc", password: "") { id } }"#,
            "INVALID_INPUT",
            "an RDP password has 1 to",
        ),
        (
            r#"mutation { runWorkflow(id: "Workflow:8") { id } }"#,
            "NOT_FOUND",
            "there is no Workflow:8",
        ),
        (r#"mutation { removeWorkItem(id: "999") }"#, "NOT_FOUND", "there is no QueueItem:999"),
    ];
    for (document, code, says) in cases {
        super::management::refused(&server, OWNER, document, code, says).await?;
    }
    let big = "x".repeat(70 * 1024);
    let reply = server
        .query(
            OWNER,
            &format!(
                r#"mutation {{ enqueueWorkItem(workflowId: "Workflow:1", payload: "{big}") {{ id }} }}"#
            ),
        )
        .await?;
    ensure(
        reply.first_code().as_deref() == Some("PAYLOAD_TOO_LARGE"),
        "a payload over 64 KiB",
        &reply,
    )?;
    anyhow::ensure!(server.snapshot().await? == before, "a refused violation changed the data");

    // Under the built-in policy the same attempts change nothing either.
    let builtin = TestServer::start().await?;
    let builtin_before = builtin.snapshot().await?;
    for (document, code, says) in cases {
        let reply = builtin.query(OWNER, document).await?;
        ensure(
            reply.first_code().as_deref() == Some("FORBIDDEN")
                || super::management::says_so(&reply, code, says),
            &format!("{document}: expected FORBIDDEN or {code}"),
            &reply,
        )?;
    }
    anyhow::ensure!(
        builtin.snapshot().await? == builtin_before,
        "the built-in policy let a violation through"
    );

    // Only approved runners take work: reject the only runner of workflow 6, and it cannot run.
    let reply = server
        .query(OWNER, r#"mutation { approveBotRunner(id: "BotRunner:3", approved: false) { approvalState } }"#)
        .await?;
    ensure(
        reply.data(&["approveBotRunner", "approvalState"]) == "REJECTED",
        "rejecting a runner",
        &reply,
    )?;
    super::management::refused(
        &server,
        OWNER,
        r#"mutation { runWorkflow(id: "Workflow:6") { id } }"#,
        "CONFLICT",
        "no bot runner of workflow CRM sync (draft) is approved: shared-runner-01 (REJECTED); only approved runners take work",
    )
    .await
}

/// A run leaves its execution and console logs; a launch leaves a job and its task; each is
/// read by the same rules as the rest (an operator outside the group sees none of it).
#[tokio::test]
async fn runs_and_launches_leave_a_trace_readers_can_follow() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let oscar = "oscar.operator@acme.test";
    let reply = server
        .query(
            oscar,
            r#"mutation { runWorkflow(id: "Workflow:1") { id state version
                botRunner { machineName } startedBy { email }
                executionLogs { level message } consoleLogs { message } } }"#,
        )
        .await?;
    ensure(reply.errors().is_empty(), "Oscar runs Invoice intake", &reply)?;
    let run = reply.data(&["runWorkflow"]).clone();
    ensure(
        run["state"] == "RUNNING"
            && run["version"] == 3
            && run["botRunner"]["machineName"] == "prod-runner-01"
            && run["startedBy"]["email"] == oscar,
        "the run's state, version, runner and starter",
        &reply,
    )?;
    let id = run["id"].as_str().unwrap_or_default().to_owned();
    let execution = run["executionLogs"].to_string();
    let console = run["consoleLogs"].to_string();
    ensure(
        execution.contains("started by Oscar Operator on prod-runner-01 with version 3")
            && console.contains("[prod-runner-01] starting Invoice intake version 3")
            && console.contains("1 work item(s) waiting"),
        "its first log lines",
        &reply,
    )?;
    // Its workflow lists it after the demo's finished run; Dana (not in Production) cannot
    // reach it at all; the audit log names it.
    let reply = server
        .query(
            oscar,
            r#"{ workflow(id: "Workflow:1") { runs { totalCount nodes { id state } } } }"#,
        )
        .await?;
    let runs = reply.data(&["workflow", "runs", "nodes"]).clone();
    ensure(
        reply.data(&["workflow", "runs", "totalCount"]) == 2 && runs[1]["id"] == id.as_str(),
        "the workflow lists the new run",
        &reply,
    )?;
    let hidden = server
        .query("dana.developer@acme.test", &format!(r#"{{ node(id: "{id}") {{ id }} }}"#))
        .await?;
    ensure(hidden.data(&["node"]).is_null(), "a run outside Dana's groups", &hidden)?;
    let audit = server
        .query(OWNER, r#"{ team { auditLog(filter: { action: "workflow.run_started" }) { nodes { actor { email } targetId securityGroups { name } } } } }"#)
        .await?;
    let entry = audit.data(&["team", "auditLog", "nodes", "0"]).clone();
    ensure(
        entry["actor"]["email"] == oscar
            && entry["targetId"] == "Workflow:1"
            && entry["securityGroups"][0]["name"] == "Production",
        "the audit entry of the run",
        &audit,
    )?;

    // With logging off, the run says so and captures no console output.
    let reply = server
        .query(OWNER, r#"mutation { configureWorkflow(id: "Workflow:1", input: { loggingEnabled: false }) { loggingEnabled } }"#)
        .await?;
    ensure(reply.data(&["configureWorkflow", "loggingEnabled"]) == false, "logging off", &reply)?;
    let reply = server
        .query(oscar, r#"mutation { runWorkflow(id: "Workflow:1") { executionLogs { level message } consoleLogs { message } } }"#)
        .await?;
    ensure(
        reply.data(&["runWorkflow", "consoleLogs"]) == &Value::Array(vec![])
            && reply.data(&["runWorkflow", "executionLogs", "1", "level"]) == "WARNING",
        "a run with logging off",
        &reply,
    )?;

    // Uma launches Invoice approval: a running job, and a task for her with its form; she
    // completes it, which completes the job. Pia, who did not launch it, cannot see the job.
    let uma = "uma.user@acme.test";
    let reply = server
        .query(uma, r#"mutation { launchProcess(id: "Process:1") { id state launchedBy { email } tasks { nodes { id title state assignee { email } formFields form { name } } } } }"#)
        .await?;
    ensure(reply.errors().is_empty(), "Uma launches Invoice approval", &reply)?;
    let job = reply.data(&["launchProcess"]).clone();
    let task = job["tasks"]["nodes"][0].clone();
    ensure(
        job["state"] == "RUNNING"
            && job["launchedBy"]["email"] == uma
            && task["title"] == "Invoice approval"
            && task["state"] == "OPEN"
            && task["assignee"]["email"] == uma
            && task["formFields"] == serde_json::json!(["amount", "supplier", "approved"])
            && task["form"].is_null(),
        "the launched job and its task",
        &reply,
    )?;
    let (job_id, task_id) =
        (job["id"].as_str().unwrap_or_default(), task["id"].as_str().unwrap_or_default());
    let reply = server
        .query(
            uma,
            &format!(
                r#"mutation {{ completeTask(id: "{task_id}", values: [{{ name: "Amount", value: "75.00" }}, {{ name: "supplier", value: "Acme Paper" }}, {{ name: "approved", value: "no" }}]) {{ state completedBy {{ email }} values {{ name value }} job {{ state finishedAt }} }} }}"#
            ),
        )
        .await?;
    let done = reply.data(&["completeTask"]).clone();
    ensure(
        done["state"] == "COMPLETED"
            && done["completedBy"]["email"] == uma
            && done["values"][0] == serde_json::json!({ "name": "amount", "value": "75.00" })
            && done["job"]["state"] == "SUCCEEDED"
            && !done["job"]["finishedAt"].is_null(),
        "the completed task and its job",
        &reply,
    )?;
    let hidden = server
        .query("pia.manager@acme.test", &format!(r#"{{ node(id: "{job_id}") {{ id }} }}"#))
        .await?;
    ensure(hidden.data(&["node"]).is_null(), "Pia does not see Uma's job", &hidden)?;
    let seen = server
        .query("hank.hubadmin@acme.test", &format!(r#"{{ node(id: "{job_id}") {{ id }} }}"#))
        .await?;
    ensure(seen.data(&["node", "id"]) == job_id, "Hank sees every job", &seen)
}

/// With AAM on, a process manager in no security group cannot create a process they could
/// not see afterwards: refused, nothing created.
#[tokio::test]
async fn a_process_out_of_its_creators_reach_is_refused() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server
        .query(
            OWNER,
            r#"mutation {
                p: removeSecurityGroupMembers(id: "SecurityGroup:1", userIds: ["User:11"]) { id }
                t: removeSecurityGroupMembers(id: "SecurityGroup:2", userIds: ["User:11"]) { id } }"#,
        )
        .await?;
    ensure(reply.errors().is_empty(), "Pia leaves her groups", &reply)?;
    let before = server.snapshot().await?;
    super::management::refused(
        &server,
        "pia.manager@acme.test",
        r#"mutation { createProcess(input: { name: "Orphan" }) { id } }"#,
        "CONFLICT",
        "you belong to none",
    )
    .await?;
    anyhow::ensure!(server.snapshot().await? == before, "the refused process was created");
    Ok(())
}
