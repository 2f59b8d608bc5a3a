//! The default policy, role by role, against domain.md §2, §4, §5 and §6: through real HTTP,
//! enforced by the real WebAssembly module built from `policy-wasm/`.
//!
//! Each row names a demo user, a query, a path in the answer and what must be there. The demo
//! data (see `gateway/src/demo.rs`) is seeded into a fresh database, so ids are stable:
//! workflow 1 is "Invoice intake" (Production), process 1 is "Invoice approval" (Production).

use super::TestServer;
use fieldguard_e2e::{Reply, ensure};
use serde_json::Value;

/// What a row expects at its path.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A value, and no error there.
    Readable,
    /// `null`, with a `FORBIDDEN` error at that path.
    Forbidden,
    /// This number.
    Is(u64),
    /// `null` and no error: the object does not exist for the caller.
    Absent,
}
use Expect::*;

const ACME: [&str; 13] = [
    "olivia.owner",
    "adam.admin",
    "sam.security",
    "bill.billing",
    "oli.orchadmin",
    "dana.developer",
    "oscar.operator",
    "ana.analyst",
    "nina.nogroup",
    "hank.hubadmin",
    "pia.manager",
    "uma.user",
    "casey.consultant",
];

fn email(who: &str) -> String {
    match who {
        "casey.consultant" => "casey.consultant@both.test".into(),
        w if w.starts_with("gina") || w.starts_with("gary") => format!("{w}@globex.test"),
        w => format!("{w}@acme.test"),
    }
}

const FIRST_WORKFLOW: &str = "team { workflows(first: 1) { nodes";
const WORKFLOW_COUNT: &str = "{ team { workflows { totalCount } } }";

/// (who, query, path, expectation)
fn table() -> Vec<(&'static str, String, &'static str, Expect)> {
    let mut rows: Vec<(&'static str, String, &'static str, Expect)> = Vec::new();
    let mut row = |who, query: String, path, expect| rows.push((who, query, path, expect));

    // §4: output variables and version history — Orchestrator ADMIN and DEVELOPER only.
    for (who, expect) in [
        ("olivia.owner", Readable),
        ("adam.admin", Readable),
        ("oli.orchadmin", Readable),
        ("dana.developer", Readable),
        ("oscar.operator", Forbidden),
        ("ana.analyst", Forbidden),
    ] {
        row(
            who,
            format!("{{ {FIRST_WORKFLOW} {{ outputVariables {{ name value }} }} }} }} }}"),
            "team.workflows.nodes.0.outputVariables",
            expect,
        );
        row(
            who,
            format!("{{ {FIRST_WORKFLOW} {{ versions {{ number }} }} }} }} }}"),
            "team.workflows.nodes.0.versions",
            expect,
        );
        // Everyone who sees a workflow sees its schedule, logs and queue.
        row(
            who,
            format!("{{ {FIRST_WORKFLOW} {{ executionLogs {{ message }} }} }} }} }}"),
            "team.workflows.nodes.0.executionLogs",
            Readable,
        );
        row(
            who,
            format!("{{ {FIRST_WORKFLOW} {{ queue {{ status }} }} }} }} }}"),
            "team.workflows.nodes.0.queue",
            Readable,
        );
        row(
            who,
            format!("{{ {FIRST_WORKFLOW} {{ name }} }} }} }}"),
            "team.workflows.nodes.0.name",
            Readable,
        );
    }
    row(
        "oscar.operator",
        format!("{{ {FIRST_WORKFLOW} {{ schedule }} }} }} }}"),
        "team.workflows.nodes.0.schedule",
        Readable,
    );

    // §3: AAM on in Acme — workflows by security group; an Analyst with no group sees nothing.
    for (who, count) in [
        ("olivia.owner", 7),
        ("adam.admin", 7),
        ("oli.orchadmin", 7),
        ("dana.developer", 3),
        ("oscar.operator", 3),
        ("ana.analyst", 2),
        ("casey.consultant", 2),
        ("nina.nogroup", 0),
        ("sam.security", 0),
        ("bill.billing", 0),
        ("uma.user", 0),
    ] {
        row(who, WORKFLOW_COUNT.into(), "team.workflows.totalCount", Is(count));
    }
    // AAM off in Globex: the Analyst sees every workflow.
    row("gary.analyst", WORKFLOW_COUNT.into(), "team.workflows.totalCount", Is(3));
    // Outside one's groups, an object is absent, exactly like an unknown id.
    row("dana.developer", r#"{ workflow(id: "1") { name } }"#.into(), "workflow", Absent);
    row("oscar.operator", r#"{ workflow(id: "1") { name } }"#.into(), "workflow.name", Readable);
    row("nina.nogroup", r#"{ orchestrator(id: "1") { name } }"#.into(), "orchestrator", Absent);

    // §4: bot runners — configuration for all, RDP for ADMIN/DEVELOPER, tokens for ADMIN.
    let runner =
        |field: &str| format!("{{ team {{ botRunners(first: 1) {{ nodes {{ {field} }} }} }} }}");
    row("oscar.operator", runner("machineName"), "team.botRunners.nodes.0.machineName", Readable);
    row(
        "oscar.operator",
        runner("rdpCredentialsSet"),
        "team.botRunners.nodes.0.rdpCredentialsSet",
        Forbidden,
    );
    row(
        "ana.analyst",
        runner("rdpCredentialsSet"),
        "team.botRunners.nodes.0.rdpCredentialsSet",
        Forbidden,
    );
    row(
        "dana.developer",
        runner("rdpCredentialsSet"),
        "team.botRunners.nodes.0.rdpCredentialsSet",
        Readable,
    );
    row(
        "dana.developer",
        runner("registrationTokens { id }"),
        "team.botRunners.nodes.0.registrationTokens",
        Forbidden,
    );
    row(
        "oli.orchadmin",
        runner("registrationTokens { id }"),
        "team.botRunners.nodes.0.registrationTokens",
        Readable,
    );
    // Orchestrator settings: multitenancy for ADMIN, integrations for ADMIN and DEVELOPER.
    let settings =
        |field: &str| format!("{{ team {{ orchestrators(first: 1) {{ nodes {{ {field} }} }} }} }}");
    row(
        "oscar.operator",
        settings("multitenancyEnabled"),
        "team.orchestrators.nodes.0.multitenancyEnabled",
        Forbidden,
    );
    row(
        "oli.orchadmin",
        settings("multitenancyEnabled"),
        "team.orchestrators.nodes.0.multitenancyEnabled",
        Readable,
    );
    row(
        "oscar.operator",
        settings("zapierEnabled"),
        "team.orchestrators.nodes.0.zapierEnabled",
        Forbidden,
    );

    // §2: billing for OWNER and BILLING_CONTACT.
    for (who, expect) in [
        ("olivia.owner", Readable),
        ("bill.billing", Readable),
        ("adam.admin", Forbidden),
        ("sam.security", Forbidden),
        ("dana.developer", Forbidden),
    ] {
        row(who, "{ team { billingPlan } }".into(), "team.billingPlan", expect);
    }

    // §2: audit logs — managers see all; a MEMBER only with the flag, only their groups' entries.
    for (who, count) in [
        ("olivia.owner", 5),
        ("adam.admin", 5),
        ("sam.security", 5),
        ("ana.analyst", 2),
        ("dana.developer", 0),
        ("bill.billing", 0),
    ] {
        row(
            who,
            "{ team { auditLog { totalCount } } }".into(),
            "team.auditLog.totalCount",
            Is(count),
        );
    }

    // §2: members — roles visible to the team, products and roles to managers and oneself.
    let first_member =
        |field: &str| format!("{{ team {{ members(first: 1) {{ nodes {{ {field} }} }} }} }}");
    row("dana.developer", first_member("portalRole"), "team.members.nodes.0.portalRole", Readable);
    row("dana.developer", first_member("products"), "team.members.nodes.0.products", Forbidden);
    row("sam.security", first_member("products"), "team.members.nodes.0.products", Readable);
    row("olivia.owner", first_member("products"), "team.members.nodes.0.products", Readable);
    row(
        "olivia.owner",
        "{ team { invitations { totalCount } } }".into(),
        "team.invitations.totalCount",
        Is(2),
    );
    row(
        "dana.developer",
        "{ team { invitations { totalCount } } }".into(),
        "team.invitations.totalCount",
        Is(0),
    );
    row(
        "bill.billing",
        "{ team { members { totalCount } } }".into(),
        "team.members.totalCount",
        Is(1),
    );
    row(
        "olivia.owner",
        "{ team { members { totalCount } } }".into(),
        "team.members.totalCount",
        Is(13),
    );
    row(
        "dana.developer",
        "{ team { securityGroups { totalCount } } }".into(),
        "team.securityGroups.totalCount",
        Is(2),
    );
    row(
        "sam.security",
        "{ team { securityGroups { totalCount } } }".into(),
        "team.securityGroups.totalCount",
        Is(3),
    );

    // §5: Process Hub — by creator and launch permission, limited to groups under AAM.
    for (who, count) in [
        ("hank.hubadmin", 4),
        ("olivia.owner", 4),
        ("pia.manager", 2),
        ("uma.user", 1),
        ("dana.developer", 0),
    ] {
        row(
            who,
            "{ team { processes { totalCount } } }".into(),
            "team.processes.totalCount",
            Is(count),
        );
    }
    row(
        "pia.manager",
        r#"{ process(id: "1") { launchPermissions { email } } }"#.into(),
        "process.launchPermissions",
        Readable,
    );
    row(
        "uma.user",
        r#"{ process(id: "1") { launchPermissions { email } } }"#.into(),
        "process.launchPermissions",
        Forbidden,
    );
    row("uma.user", r#"{ process(id: "2") { name } }"#.into(), "process", Absent);
    for (who, jobs, tasks, forms) in
        [("hank.hubadmin", 3, 3, 2), ("pia.manager", 1, 1, 2), ("uma.user", 2, 2, 0)]
    {
        row(who, "{ team { jobs { totalCount } } }".into(), "team.jobs.totalCount", Is(jobs));
        row(who, "{ team { tasks { totalCount } } }".into(), "team.tasks.totalCount", Is(tasks));
        row(who, "{ team { forms { totalCount } } }".into(), "team.forms.totalCount", Is(forms));
    }
    rows
}

fn check(reply: &Reply, path: &str, expect: Expect) -> Result<(), String> {
    let segments: Vec<&str> = path.split('.').collect();
    let value: &Value = reply.data(&segments);
    let code = reply.error_code_at(path);
    let ok = match expect {
        Readable => !value.is_null() && code.is_none(),
        Forbidden => value.is_null() && code.as_deref() == Some("FORBIDDEN"),
        Is(n) => value.as_u64() == Some(n) && code.is_none(),
        Absent => value.is_null() && code.is_none() && reply.errors().is_empty(),
    };
    if ok { Ok(()) } else { Err(format!("found {value} (error code {code:?})")) }
}

#[tokio::test]
async fn the_default_policy_follows_the_domain_role_by_role() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut failures = Vec::new();
    let rows = table();
    for (who, query, path, expect) in &rows {
        let reply = if who.starts_with("gary") || who.starts_with("gina") {
            server.query_in(&email(who), 2, query).await?
        } else {
            server.query(&email(who), query).await?
        };
        if let Err(found) = check(&reply, path, *expect) {
            failures
                .push(format!("{who}: {path} should be {expect:?}, {found}\n    query: {query}"));
        }
    }
    anyhow::ensure!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn every_demo_member_gets_an_answer() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    for who in ACME {
        let reply = server.query(&email(who), "{ me { email } team { name } }").await?;
        ensure(
            reply.status == 200 && reply.data(&["me", "email"]) == email(who).as_str(),
            who,
            &reply,
        )?;
    }
    Ok(())
}

#[tokio::test]
async fn a_denied_field_is_null_with_forbidden_and_the_rest_of_the_answer_stays()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server
        .query(
            "oscar.operator@acme.test",
            r#"{ workflow(id: "1") { name outputVariables { value } schedule } }"#,
        )
        .await?;
    ensure(reply.data(&["workflow", "name"]) == "Invoice intake", "name readable", &reply)?;
    ensure(reply.data(&["workflow", "schedule"]) == "0 6 * * 1-5", "schedule readable", &reply)?;
    let workflow = reply.data(&["workflow"]).as_object().cloned().unwrap_or_default();
    ensure(workflow.get("outputVariables") == Some(&Value::Null), "key present, null", &reply)?;
    ensure(
        reply.error_code_at("workflow.outputVariables").as_deref() == Some("FORBIDDEN"),
        "FORBIDDEN",
        &reply,
    )
}
