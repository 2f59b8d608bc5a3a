//! The "getting started with AAM" path of domain §3, end to end on Globex Services, a team
//! with Advanced Access Management off and no security group: turn AAM on, build the groups,
//! attach the objects in the documented order, and watch each role's reach follow.

use fieldguard::demo::Seeder;
use super::TestServer;
use fieldguard_e2e::{Reply, ensure};
use sea_orm::TransactionTrait;

const GLOBEX: i32 = 2;
const GINA: &str = "gina.owner@globex.test";
const GARY: &str = "gary.analyst@globex.test";
const DANA: &str = "dana.developer@acme.test";
const OSCAR: &str = "oscar.operator@acme.test";
const OLI: &str = "oli.orchadmin@acme.test";

/// Runs `document` in Globex as `who`, and expects no error.
async fn ok(server: &TestServer, who: &str, document: &str) -> anyhow::Result<Reply> {
    let reply = server.query_in(who, GLOBEX, document).await?;
    ensure(reply.errors().is_empty(), &format!("{who}: {document}"), &reply)?;
    Ok(reply)
}

/// The names of the workflows, orchestrators and bot runners `who` sees in Globex.
async fn reach(
    server: &TestServer,
    who: &str,
) -> anyhow::Result<(Vec<String>, usize, Vec<String>)> {
    let reply = ok(
        server,
        who,
        "{ team { workflows { nodes { name } } orchestrators { totalCount } botRunners { nodes { machineName } } } }",
    )
    .await?;
    let names = |path: &[&str], key: &str| -> Vec<String> {
        reply.data(path).as_array().map_or_else(Vec::new, |nodes| {
            nodes.iter().filter_map(|n| n[key].as_str().map(str::to_owned)).collect()
        })
    };
    let workflows = names(&["team", "workflows", "nodes"], "name");
    let runners = names(&["team", "botRunners", "nodes"], "machineName");
    let orchestrators = reply.data(&["team", "orchestrators", "totalCount"]).as_u64().unwrap_or(99);
    Ok((workflows, orchestrators as usize, runners))
}

/// Invites `email` to Globex with an Orchestrator role and has them accept.
async fn join(server: &TestServer, email: &str, role: &str) -> anyhow::Result<()> {
    let reply = ok(
        server,
        GINA,
        &format!(
            r#"mutation {{ inviteMembers(input: {{ emails: ["{email}"], portalRole: MEMBER, products: [ORCHESTRATOR], orchestratorRole: {role} }}) {{ results {{ invitation {{ id }} error {{ message }} }} }} }}"#
        ),
    )
    .await?;
    let id = reply
        .data(&["inviteMembers", "results", "0", "invitation", "id"])
        .as_str()
        .unwrap_or_default();
    let accepted = server
        .query(email, &format!(r#"mutation {{ acceptInvitation(id: "{id}") {{ name }} }}"#))
        .await?;
    ensure(
        accepted.data(&["acceptInvitation", "name"]) == "Globex Services",
        "joined Globex",
        &accepted,
    )
}

#[tokio::test]
async fn getting_started_with_advanced_access_management() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let everything =
        vec!["Ticket triage".to_owned(), "Monthly report".into(), "Ad-hoc export".into()];
    anyhow::ensure!(
        reach(&server, GARY).await?.0 == everything,
        "with AAM off Gary sees every workflow"
    );

    // 1. AAM on: the Analyst loses sight of everything at once.
    ok(
        &server,
        GINA,
        "mutation { setAdvancedAccessManagement(enabled: true) { advancedAccessManagement } }",
    )
    .await?;
    anyhow::ensure!(
        reach(&server, GARY).await? == (vec![], 0, vec![]),
        "with AAM on Gary sees nothing"
    );

    // The people: a developer, an operator, and an Orchestrator admin to move later. A second
    // bot runner registers.
    join(&server, DANA, "DEVELOPER").await?;
    join(&server, OSCAR, "OPERATOR").await?;
    join(&server, OLI, "ADMIN").await?;
    let tx = server.state.db.begin().await?;
    let second = Seeder { db: &tx, sealer: &server.state.sealer }
        .bot_runner(GLOBEX, "globex-runner-02", &[])
        .await?;
    tx.commit().await?;

    // 2. The groups, by region, and their members (Gary, Dana, Oscar and Oli in EU).
    let reply = ok(
        &server,
        GINA,
        r#"mutation { eu: createSecurityGroup(input: { name: "EU", description: "European clients" }) { id }
                      us: createSecurityGroup(input: { name: "US" }) { id } }"#,
    )
    .await?;
    let eu = reply.data(&["eu", "id"]).as_str().unwrap_or_default().to_owned();
    let us = reply.data(&["us", "id"]).as_str().unwrap_or_default().to_owned();
    ok(
        &server,
        GINA,
        &format!(r#"mutation {{ addSecurityGroupMembers(id: "{eu}", userIds: ["User:15", "User:6", "User:7", "User:5"]) {{ id }} }}"#),
    )
    .await?;

    // 3. Attach the orchestrator, then the runners, then the workflows (after moving the US
    //    workflow onto the US runner).
    ok(
        &server,
        GINA,
        &format!(
            r#"mutation {{
                o: attachToSecurityGroup(id: "{eu}", objectIds: ["Orchestrator:3", "BotRunner:5"]) {{ id }}
                r: attachToSecurityGroup(id: "{us}", objectIds: ["BotRunner:{second}"]) {{ id }}
                a: assignBotRunners(workflowId: "Workflow:10", botRunnerIds: ["BotRunner:{second}"]) {{ id }}
                w: attachToSecurityGroup(id: "{eu}", objectIds: ["Workflow:8", "Workflow:9"]) {{ id }}
                u: attachToSecurityGroup(id: "{us}", objectIds: ["Workflow:10"]) {{ id }} }}"#
        ),
    )
    .await?;

    // 4. The Analyst sees exactly the EU group's objects.
    let eu_workflows = vec!["Ticket triage".to_owned(), "Monthly report".into()];
    anyhow::ensure!(
        reach(&server, GARY).await? == (eu_workflows.clone(), 1, vec!["globex-runner-01".into()]),
        "Gary sees exactly the EU objects"
    );

    // 5. The Developer publishes and assigns runners of their group only.
    let published = ok(
        &server,
        DANA,
        r#"mutation { publishWorkflowVersion(workflowId: "Workflow:8", comment: "EU holidays") { number publishedBy { email } } }"#,
    )
    .await?;
    ensure(
        published.data(&["publishWorkflowVersion", "number"]) == 3,
        "version 3 published",
        &published,
    )?;
    ok(&server, DANA, r#"mutation { assignBotRunners(workflowId: "Workflow:9", botRunnerIds: ["BotRunner:5"]) { id } }"#).await?;
    let other = format!(
        r#"mutation {{ assignBotRunners(workflowId: "Workflow:8", botRunnerIds: ["BotRunner:5", "BotRunner:{second}"]) {{ id }} }}"#
    );
    let refused = server.query_in(DANA, GLOBEX, &other).await?;
    ensure(
        refused.first_code().as_deref() == Some("NOT_FOUND"),
        "a runner of another group does not exist for Dana",
        &refused,
    )?;
    let conflict = server.query_in(GINA, GLOBEX, &other).await?;
    ensure(
        conflict.first_code().as_deref() == Some("CONFLICT")
            && conflict.errors()[0]["message"].as_str().is_some_and(|m| {
                m.contains("globex-runner-02 is not in security group EU of workflow Ticket triage")
            }),
        "even the owner cannot assign a runner outside the workflow's group",
        &conflict,
    )?;

    // 6. The Operator runs and schedules, but reads no output variables and cannot publish.
    let run = ok(
        &server,
        OSCAR,
        r#"mutation { runWorkflow(id: "Workflow:8") { state botRunner { machineName } } }"#,
    )
    .await?;
    ensure(
        run.data(&["runWorkflow", "botRunner", "machineName"]) == "globex-runner-01",
        "Oscar runs",
        &run,
    )?;
    ok(&server, OSCAR, r#"mutation { configureWorkflow(id: "Workflow:8", input: { schedule: "0 9 * * 1-5" }) { schedule } }"#).await?;
    let outputs = server
        .query_in(
            OSCAR,
            GLOBEX,
            r#"{ workflow(id: "Workflow:8") { name outputVariables { name } } }"#,
        )
        .await?;
    ensure(
        outputs.data(&["workflow", "name"]) == "Ticket triage"
            && outputs.error_code_at("workflow.outputVariables").as_deref() == Some("FORBIDDEN"),
        "Oscar reads no output variables",
        &outputs,
    )?;
    let publish = server
        .query_in(
            OSCAR,
            GLOBEX,
            r#"mutation { publishWorkflowVersion(workflowId: "Workflow:8") { number } }"#,
        )
        .await?;
    ensure(publish.first_code().as_deref() == Some("FORBIDDEN"), "Oscar cannot publish", &publish)?;

    // 7. Move Oli from Orchestrator ADMIN to DEVELOPER: their reach shrinks on the next request.
    anyhow::ensure!(reach(&server, OLI).await?.0 == everything, "as ADMIN Oli sees every workflow");
    let members = ok(&server, GINA, "{ team { members { nodes { id user { email } } } } }").await?;
    let oli_member = members
        .data(&["team", "members", "nodes"])
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["user"]["email"] == OLI))
        .and_then(|n| n["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    ok(
        &server,
        GINA,
        &format!(r#"mutation {{ setMemberAccess(input: {{ memberId: "{oli_member}", orchestratorRole: DEVELOPER }}) {{ orchestratorRole }} }}"#),
    )
    .await?;
    anyhow::ensure!(
        reach(&server, OLI).await?.0 == eu_workflows,
        "as DEVELOPER Oli sees only the EU workflows"
    );
    let rename = server
        .query_in(OLI, GLOBEX, r#"mutation { updateOrchestrator(id: "Orchestrator:3", input: { name: "Globex EU" }) { name } }"#)
        .await?;
    ensure(
        rename.first_code().as_deref() == Some("FORBIDDEN"),
        "Oli no longer changes settings",
        &rename,
    )
}
