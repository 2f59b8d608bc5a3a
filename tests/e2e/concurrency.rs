//! Mutations at the same moment, on SQLite: exactly one winner where one must win, no
//! `database is locked` reaching a client, and an audit log that matches what happened.

use super::TestServer;
use fieldguard_e2e::{OWNER, Reply, ensure};

fn ok(reply: &Reply) -> bool {
    reply.status == 200 && reply.errors().is_empty()
}

#[tokio::test]
async fn two_ownership_transfers_at_once_have_one_winner() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let to_adam = r#"mutation { transferOwnership(memberId: "Membership:2") { id } }"#;
    let to_sam = r#"mutation { transferOwnership(memberId: "Membership:3") { id } }"#;
    let (a, b) = tokio::join!(server.query(OWNER, to_adam), server.query(OWNER, to_sam));
    let (a, b) = (a?, b?);
    anyhow::ensure!(ok(&a) != ok(&b), "exactly one transfer wins:\n{}\n{}", a.body, b.body);
    let loser = if ok(&a) { &b } else { &a };
    ensure(
        matches!(loser.first_code().as_deref(), Some("CONFLICT" | "FORBIDDEN")),
        "the other is refused",
        loser,
    )?;
    let members = server.query(OWNER, "{ team { members { nodes { portalRole } } } }").await?;
    let owners = members
        .data(&["team", "members", "nodes"])
        .as_array()
        .map_or(0, |nodes| nodes.iter().filter(|n| n["portalRole"] == "OWNER").count());
    ensure(owners == 1, "exactly one owner", &members)?;
    let log = server
        .query(OWNER, r#"{ team { auditLog(filter: { action: "team.ownership_transferred" }) { totalCount } } }"#)
        .await?;
    ensure(log.data(&["team", "auditLog", "totalCount"]) == 1, "one transfer audited", &log)?;
    Ok(())
}

#[tokio::test]
async fn one_workflow_attached_to_two_groups_at_once_lands_in_one() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // "Unfiled experiment" runs on shared-runner-01, which is in Testing and Development.
    let attach = |group: u32| {
        format!(
            r#"mutation {{ attachToSecurityGroup(id: "SecurityGroup:{group}", objectIds: ["Workflow:7"]) {{ id }} }}"#
        )
    };
    let (to_testing, to_development) = (attach(2), attach(3));
    let (a, b) =
        tokio::join!(server.query(OWNER, &to_testing), server.query(OWNER, &to_development));
    let (a, b) = (a?, b?);
    anyhow::ensure!(ok(&a) != ok(&b), "exactly one attach wins:\n{}\n{}", a.body, b.body);
    let loser = if ok(&a) { &b } else { &a };
    let message = loser.errors().first().and_then(|e| e["message"].as_str().map(str::to_owned));
    ensure(
        loser.first_code().as_deref() == Some("CONFLICT")
            && message.is_some_and(|m| m.contains("is already in security group")),
        "the other says where the workflow is",
        loser,
    )?;
    Ok(())
}

#[tokio::test]
async fn the_same_address_invited_twice_at_once_is_invited_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let invite = r#"mutation { inviteMembers(input: { emails: ["twice@acme.test"], portalRole: MEMBER }) { results { invitation { id } error { code } } } }"#;
    let (a, b) =
        tokio::join!(server.query(OWNER, invite), server.query("adam.admin@acme.test", invite));
    let (a, b) = (a?, b?);
    let sent =
        |r: &Reply| r.data(&["inviteMembers", "results", "0", "invitation", "id"]).is_string();
    anyhow::ensure!(sent(&a) != sent(&b), "exactly one invitation:\n{}\n{}", a.body, b.body);
    let loser = if sent(&a) { &b } else { &a };
    ensure(
        loser.data(&["inviteMembers", "results", "0", "error", "code"]) == "CONFLICT",
        "the other says it is already invited",
        loser,
    )?;
    Ok(())
}

#[tokio::test]
async fn fifty_mixed_mutations_in_parallel_all_land_and_are_audited() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let before = server.audit_count().await?;
    let mut documents = Vec::new();
    for n in 0..14 {
        documents.push(format!(
            r#"mutation {{ createSecurityGroup(input: {{ name: "Group {n}" }}) {{ id }} }}"#
        ));
    }
    for n in 0..10 {
        documents.push(format!(r#"mutation {{ inviteMembers(input: {{ emails: ["person{n}@acme.test"], portalRole: MEMBER }}) {{ results {{ error {{ code message }} }} }} }}"#));
    }
    // Members 5–12 become billing contacts, 4 (Bill) a member: each a change.
    for member in 4..=12 {
        let role = if member == 4 { "MEMBER" } else { "BILLING_CONTACT" };
        documents.push(format!(r#"mutation {{ changeMemberRole(memberId: "Membership:{member}", portalRole: {role}) {{ id }} }}"#));
    }
    // Development's only member is Dana (user 6); everyone else joins.
    for user in [1, 2, 3, 4, 5, 7, 8, 9, 10, 11] {
        documents.push(format!(r#"mutation {{ addSecurityGroupMembers(id: "SecurityGroup:3", userIds: ["User:{user}"]) {{ id }} }}"#));
    }
    for object in [
        "Process:1",
        "Process:2",
        "Process:3",
        "Process:4",
        "BotRunner:1",
        "BotRunner:2",
        "Orchestrator:3",
    ] {
        documents.push(format!(r#"mutation {{ attachToSecurityGroup(id: "SecurityGroup:3", objectIds: ["{object}"]) {{ id }} }}"#));
    }
    // The last is Globex's orchestrator: it does not exist for Acme.
    anyhow::ensure!(documents.len() == 50, "fifty mutations, not {}", documents.len());
    let replies =
        futures_util::future::join_all(documents.iter().map(|d| server.query(OWNER, d))).await;
    let mut landed = 0;
    for (document, reply) in documents.iter().zip(replies) {
        let reply = reply?;
        let text = reply.body.to_string();
        anyhow::ensure!(
            !text.contains("locked") && !text.contains("INTERNAL"),
            "{document}: {text}"
        );
        if document.contains("Orchestrator:3") {
            ensure(
                reply.first_code().as_deref() == Some("NOT_FOUND"),
                "another team's object",
                &reply,
            )?;
        } else {
            let item_error = text.contains("\"error\":{");
            ensure(ok(&reply) && !item_error, document, &reply)?;
            landed += 1;
        }
    }
    let after = server.audit_count().await?;
    anyhow::ensure!(
        after - before == landed,
        "{landed} changes but {} audit entries",
        after - before
    );
    Ok(())
}
