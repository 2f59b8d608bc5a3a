//! The write side of access management (domain §2, §3, §6) through real HTTP, decided by the
//! real WebAssembly policy: who may perform each mutation, the invariants that hold whatever
//! policy is loaded, and the effects a frontend relies on.
//!
//! The demo data is seeded into each fresh database, so ids are stable: in Acme Robotics,
//! memberships 1–13 belong to Olivia (OWNER), Adam (ADMIN), Sam (SECURITY_ADMIN), Bill
//! (BILLING_CONTACT), Oli, Dana, Oscar, Ana, Nina, Hank, Pia, Uma and Casey (MEMBERs);
//! security groups 1–3 are Production, Testing and Development.

use std::collections::BTreeSet;

use super::TestServer;
use fieldguard_e2e::{OPERATOR_API, OWNER, Reply, ensure};
use serde_json::Value;

pub(crate) const ACME: [&str; 13] = [
    "olivia.owner@acme.test",
    "adam.admin@acme.test",
    "sam.security@acme.test",
    "bill.billing@acme.test",
    "oli.orchadmin@acme.test",
    "dana.developer@acme.test",
    "oscar.operator@acme.test",
    "ana.analyst@acme.test",
    "nina.nogroup@acme.test",
    "hank.hubadmin@acme.test",
    "pia.manager@acme.test",
    "uma.user@acme.test",
    "casey.consultant@both.test",
];

const MANAGERS: &[&str] = &["olivia.owner", "adam.admin", "sam.security"];
const ADMINS: &[&str] = &["olivia.owner", "adam.admin"];

/// One row: a mutation and who may perform it (by the local part of their email).
pub(crate) struct Row {
    pub name: &'static str,
    pub document: &'static str,
    pub allowed: &'static [&'static str],
    /// What the owner does first, on every server the row runs on.
    pub setup: Option<&'static str>,
}

/// Every mutation of the team area, with what domain §2 and §3 say about who may.
fn matrix() -> Vec<Row> {
    vec![
        Row {
            name: "inviteMembers",
            document: r#"mutation { inviteMembers(input: { emails: ["fresh@acme.test"], portalRole: MEMBER }) { results { email error { code } invitation { id } } } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "inviteMembers",
            document: r#"mutation { inviteMembers(input: { emails: ["boss@acme.test"], portalRole: ADMIN }) { results { email error { code } invitation { id } } } }"#,
            allowed: &["olivia.owner"],
            setup: None,
        },
        Row {
            name: "revokeInvitation",
            document: r#"mutation { revokeInvitation(id: "Invitation:1") { status } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "changeMemberRole",
            document: r#"mutation { changeMemberRole(memberId: "Membership:7", portalRole: BILLING_CONTACT) { portalRole } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        // Only someone broader than both roles: the owner, for an admin.
        Row {
            name: "changeMemberRole",
            document: r#"mutation { changeMemberRole(memberId: "Membership:2", portalRole: MEMBER) { portalRole } }"#,
            allowed: &["olivia.owner"],
            setup: None,
        },
        // Nobody changes the owner's role, not even the owner.
        Row {
            name: "changeMemberRole",
            document: r#"mutation { changeMemberRole(memberId: "Membership:1", portalRole: MEMBER) { portalRole } }"#,
            allowed: &[],
            setup: None,
        },
        Row {
            name: "transferOwnership",
            document: r#"mutation { transferOwnership(memberId: "Membership:2") { owner { user { email } } } }"#,
            allowed: &["olivia.owner"],
            setup: None,
        },
        Row {
            name: "setMemberAccess",
            document: r#"mutation { setMemberAccess(input: { memberId: "Membership:9", auditLogAccess: true }) { auditLogAccess } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "copyMemberAccess",
            document: r#"mutation { copyMemberAccess(fromMemberId: "Membership:6", toMemberId: "Membership:9") { orchestratorRole } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "suspendMember",
            document: r#"mutation { suspendMember(memberId: "Membership:9") { suspended } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "reactivateMember",
            document: r#"mutation { reactivateMember(memberId: "Membership:9") { suspended } }"#,
            allowed: MANAGERS,
            setup: Some(r#"mutation { suspendMember(memberId: "Membership:9") { suspended } }"#),
        },
        Row {
            name: "removeMember",
            document: r#"mutation { removeMember(memberId: "Membership:9") }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "importMembers",
            document: r#"mutation { importMembers(csv: "email,portalRole\nimported@acme.test,MEMBER\n") { rows { line email error { code } invitation { id } } } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "setAdvancedAccessManagement",
            document: r#"mutation { setAdvancedAccessManagement(enabled: false) { advancedAccessManagement } }"#,
            allowed: ADMINS,
            setup: None,
        },
        Row {
            name: "createSecurityGroup",
            document: r#"mutation { createSecurityGroup(input: { name: "Finance", description: "Month-end close" }) { name } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "updateSecurityGroup",
            document: r#"mutation { updateSecurityGroup(id: "SecurityGroup:3", input: { name: "Sandbox" }) { name } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "setSecurityGroupEnabled",
            document: r#"mutation { setSecurityGroupEnabled(id: "SecurityGroup:3", enabled: false) { enabled } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "deleteSecurityGroup",
            document: r#"mutation { deleteSecurityGroup(id: "SecurityGroup:3") }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "addSecurityGroupMembers",
            document: r#"mutation { addSecurityGroupMembers(id: "SecurityGroup:3", userIds: ["User:9"]) { members { email } } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        Row {
            name: "removeSecurityGroupMembers",
            document: r#"mutation { removeSecurityGroupMembers(id: "SecurityGroup:3", userIds: ["User:6"]) { members { email } } }"#,
            allowed: MANAGERS,
            setup: None,
        },
        // Sam manages groups but has no Orchestrator: the workflow does not exist for him.
        Row {
            name: "attachToSecurityGroup",
            document: r#"mutation { attachToSecurityGroup(id: "SecurityGroup:3", objectIds: ["Workflow:7"]) { workflows { totalCount } } }"#,
            allowed: ADMINS,
            setup: None,
        },
        Row {
            name: "detachFromSecurityGroup",
            document: r#"mutation { detachFromSecurityGroup(id: "SecurityGroup:2", objectIds: ["Workflow:5"]) { workflows { totalCount } } }"#,
            allowed: ADMINS,
            setup: None,
        },
        // The invitee accepts; nobody else can even find the invitation.
        Row {
            name: "acceptInvitation",
            document: r#"mutation { acceptInvitation(id: "Invitation:1") { name portalRole } }"#,
            allowed: &[],
            setup: None,
        },
    ]
}

fn local(email: &str) -> &str {
    email.split('@').next().unwrap_or(email)
}

/// Whether a mutation's reply is a success: data at its field and no error.
pub(crate) fn succeeded(reply: &Reply, name: &str) -> bool {
    reply.errors().is_empty() && !reply.body["data"][name].is_null()
}

/// A fresh server, after the prelude and the row's setup.
async fn prepared(row: &Row, prelude: Option<&str>) -> anyhow::Result<TestServer> {
    let server = TestServer::start().await?;
    for setup in prelude.into_iter().chain(row.setup) {
        let reply = server.query(OWNER, setup).await?;
        ensure(reply.errors().is_empty(), "the row's setup", &reply)?;
    }
    Ok(server)
}

#[tokio::test]
async fn every_principal_against_every_mutation() -> anyhow::Result<()> {
    run_matrix(&matrix(), None).await
}

/// Runs every row as every Acme member, each on a server where `prelude` (then the row's
/// setup) ran first: an allowed member succeeds with exactly one audit entry on a fresh server;
/// the others are refused (`FORBIDDEN`, `NOT_FOUND`) on one shared server that stays unchanged.
/// Fails listing every row that did not hold.
pub(crate) async fn run_matrix(rows: &[Row], prelude: Option<&str>) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for row in rows {
        // Refusals share one server and must leave it unchanged.
        let shared = prepared(row, prelude).await?;
        let before = shared.snapshot().await?;
        for who in ACME {
            let allowed = row.allowed.contains(&local(who));
            if allowed {
                let server = prepared(row, prelude).await?;
                let audit = server.audit_count().await?;
                let reply = server.query(who, row.document).await?;
                if !succeeded(&reply, row.name) {
                    failures.push(format!(
                        "{who} may {}: {}\n  {}",
                        row.name, row.document, reply.body
                    ));
                } else if server.audit_count().await? != audit + 1 {
                    failures.push(format!("{who} {}: expected exactly one audit entry", row.name));
                }
            } else {
                let reply = shared.query(who, row.document).await?;
                let code = reply.first_code().unwrap_or_default();
                // Refused by the policy, or the target does not exist for them, or (a member
                // the row's setup suspended) not let in at all.
                let refusal =
                    matches!(code.as_str(), "FORBIDDEN" | "NOT_FOUND" | "UNAUTHENTICATED");
                if !refusal || succeeded(&reply, row.name) {
                    failures.push(format!(
                        "{who} may not {}, but got {code:?}: {}",
                        row.name, reply.body
                    ));
                }
            }
        }
        if shared.snapshot().await? != before {
            failures.push(format!("refusals of {} changed the data", row.document));
        }
    }
    anyhow::ensure!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

/// The names of the fields of the `Mutation` type in `schema.graphql`.
fn schema_mutations() -> anyhow::Result<BTreeSet<String>> {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))?;
    let body = sdl
        .split("type Mutation {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .ok_or_else(|| anyhow::anyhow!("no Mutation type in schema.graphql"))?;
    let mut names = BTreeSet::new();
    let mut in_description = false;
    for line in body.lines().map(str::trim) {
        if line.starts_with("\"\"\"") {
            // A one-line description opens and closes on the same line.
            if !(line.len() > 3 && line.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || line.is_empty() || line.starts_with('"') {
            continue;
        }
        if let Some(name) = line.split(['(', ':']).next() {
            // The operator's API is not the policy's (see `lifecycle`).
            if !OPERATOR_API.contains(&name.trim()) {
                names.insert(name.trim().to_owned());
            }
        }
    }
    Ok(names)
}

#[tokio::test]
async fn the_matrix_covers_every_mutation_and_deny_all_refuses_each() -> anyhow::Result<()> {
    let mut rows = matrix();
    rows.extend(super::daily_work::matrix(true));
    let covered: BTreeSet<String> = rows.iter().map(|row| row.name.to_owned()).collect();
    let declared = schema_mutations()?;
    anyhow::ensure!(
        covered == declared,
        "the matrix and schema.graphql disagree: only in the schema {:?}, only in the matrix {:?}",
        declared.difference(&covered).collect::<Vec<_>>(),
        covered.difference(&declared).collect::<Vec<_>>()
    );
    let server = TestServer::with_fixture("deny-all").await?;
    let allow_all = server.beside(fieldguard::authz::LoadedPolicy::allow_all()).await?;
    let before = allow_all.snapshot().await?;
    for row in &rows {
        let reply = server.query(OWNER, row.document).await?;
        ensure(
            reply.first_code().as_deref() == Some("FORBIDDEN") && !succeeded(&reply, row.name),
            &format!("deny-all must refuse {}", row.name),
            &reply,
        )?;
    }
    anyhow::ensure!(allow_all.snapshot().await? == before, "a refused mutation changed the data");
    Ok(())
}

/// Runs `document` as `who` and expects it refused with `code` and a message containing `says`.
pub(crate) async fn refused(
    server: &TestServer,
    who: &str,
    document: &str,
    code: &str,
    says: &str,
) -> anyhow::Result<()> {
    let reply = server.query(who, document).await?;
    ensure(
        says_so(&reply, code, says),
        &format!("{document}: expected {code} saying {says:?}"),
        &reply,
    )
}

/// Whether the first error of `reply` has `code` and a message containing `says`.
pub(crate) fn says_so(reply: &Reply, code: &str, says: &str) -> bool {
    let message = reply.errors().first().and_then(|e| e["message"].as_str().map(str::to_owned));
    reply.first_code().as_deref() == Some(code) && message.is_some_and(|m| m.contains(says))
}

/// Every invariant violated on purpose, under a policy module that allows everything (and
/// then under the built-in policy): the gateway and the database refuse each one, and nothing
/// changes.
#[tokio::test]
async fn invariants_hold_under_an_allow_everything_policy() -> anyhow::Result<()> {
    let server = TestServer::with_fixture("allow-all").await?;
    let before = server.snapshot().await?;
    let adam = "adam.admin@acme.test";
    let cases: [(&str, &str, &str, &str); 12] = [
        (
            adam,
            r#"mutation { changeMemberRole(memberId: "Membership:2", portalRole: MEMBER) { id } }"#,
            "CONFLICT",
            "nobody changes their own role",
        ),
        (
            adam,
            r#"mutation { changeMemberRole(memberId: "Membership:1", portalRole: MEMBER) { id } }"#,
            "CONFLICT",
            "owns the team",
        ),
        (
            adam,
            r#"mutation { changeMemberRole(memberId: "Membership:7", portalRole: OWNER) { id } }"#,
            "CONFLICT",
            "only by transferring ownership",
        ),
        (
            adam,
            r#"mutation { transferOwnership(memberId: "Membership:3") { id } }"#,
            "CONFLICT",
            "olivia.owner@acme.test owns it",
        ),
        (
            adam,
            r#"mutation { removeMember(memberId: "Membership:1") }"#,
            "CONFLICT",
            "cannot be removed",
        ),
        (
            adam,
            r#"mutation { suspendMember(memberId: "Membership:1") { id } }"#,
            "CONFLICT",
            "cannot be suspended",
        ),
        (
            OWNER,
            r#"mutation { attachToSecurityGroup(id: "SecurityGroup:1", objectIds: ["Orchestrator:2"]) { id } }"#,
            "CONFLICT",
            "already has orchestrator Acme Production",
        ),
        (
            OWNER,
            r#"mutation { attachToSecurityGroup(id: "SecurityGroup:2", objectIds: ["Workflow:1"]) { id } }"#,
            "CONFLICT",
            "workflow Invoice intake is already in security group Production",
        ),
        (
            OWNER,
            r#"mutation { attachToSecurityGroup(id: "SecurityGroup:1", objectIds: ["Workflow:7"]) { id } }"#,
            "CONFLICT",
            "runs on bot runners outside security group Production: shared-runner-01",
        ),
        (
            OWNER,
            r#"mutation { detachFromSecurityGroup(id: "SecurityGroup:1", objectIds: ["BotRunner:1"]) { id } }"#,
            "CONFLICT",
            "unassign it from them first",
        ),
        (
            OWNER,
            r#"mutation { createSecurityGroup(input: { name: "Production" }) { id } }"#,
            "CONFLICT",
            "a security group named Production already exists",
        ),
        (
            OWNER,
            r#"mutation { changeMemberRole(memberId: "Workflow:1", portalRole: MEMBER) { id } }"#,
            "INVALID_INPUT",
            "memberId takes the id of a Membership",
        ),
    ];
    for (who, document, code, says) in cases {
        refused(&server, who, document, code, says).await?;
    }
    // Under the built-in policy the same attempts change nothing either: the policy refuses
    // those its rules cover first (FORBIDDEN), the invariants the rest.
    let builtin = TestServer::start().await?;
    let builtin_before = builtin.snapshot().await?;
    for (who, document, code, says) in cases {
        let reply = builtin.query(who, document).await?;
        ensure(
            reply.first_code().as_deref() == Some("FORBIDDEN") || says_so(&reply, code, says),
            &format!("{document}: expected FORBIDDEN or {code}"),
            &reply,
        )?;
    }
    anyhow::ensure!(
        builtin.snapshot().await? == builtin_before,
        "the built-in policy let a violation through"
    );
    // Unknown ids and ids of other teams are alike: NOT_FOUND.
    for document in [
        r#"mutation { removeMember(memberId: "Membership:999") }"#,
        r#"mutation { removeMember(memberId: "Membership:14") }"#,
        r#"mutation { deleteSecurityGroup(id: "SecurityGroup:999") }"#,
    ] {
        refused(&server, OWNER, document, "NOT_FOUND", "there is no").await?;
    }
    // Bulk invitations: each bad address fails alone, and none of these goes through.
    let reply = server
        .query(
            OWNER,
            r#"mutation { inviteMembers(input: { emails: ["not-an-email", "adam.admin@ACME.test", "new.hire@acme.test"], portalRole: MEMBER }) { results { email error { code message } } } }"#,
        )
        .await?;
    let results = reply.data(&["inviteMembers", "results"]).as_array().cloned().unwrap_or_default();
    let codes: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["email"].as_str().unwrap_or(""), r["error"]["code"].as_str().unwrap_or("")))
        .collect();
    ensure(
        codes
            == [
                ("not-an-email", "INVALID_INPUT"),
                ("adam.admin@acme.test", "CONFLICT"),
                ("new.hire@acme.test", "CONFLICT"),
            ],
        "per-address errors",
        &reply,
    )?;
    let reply = server
        .query(OWNER, r#"mutation { inviteMembers(input: { emails: ["x@acme.test"], portalRole: OWNER }) { results { error { code message } } } }"#)
        .await?;
    ensure(
        reply.data(&["inviteMembers", "results", "0", "error", "code"]) == "INVALID_INPUT",
        "nobody is invited as OWNER",
        &reply,
    )?;
    anyhow::ensure!(server.snapshot().await? == before, "a refused mutation changed the data");
    Ok(())
}

/// What a member sees of themself, through their own token.
async fn my_teams(server: &TestServer, who: &str) -> anyhow::Result<Reply> {
    server.query(who, "{ myTeams { name } }").await
}

#[tokio::test]
async fn effects_are_immediate() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let nina = "nina.nogroup@acme.test";
    // Suspension: refused at once, roles kept, back after reactivation.
    ensure(
        my_teams(&server, nina).await?.status == 200,
        "nina signs in",
        &my_teams(&server, nina).await?,
    )?;
    let reply = server
        .query(OWNER, r#"mutation { suspendMember(memberId: "Membership:9") { suspended orchestratorRole } }"#)
        .await?;
    ensure(reply.data(&["suspendMember", "suspended"]) == true, "suspended", &reply)?;
    let refused = my_teams(&server, nina).await?;
    ensure(refused.status == 401, "a suspended member is refused", &refused)?;
    server
        .query(OWNER, r#"mutation { reactivateMember(memberId: "Membership:9") { suspended } }"#)
        .await?;
    let back = server.query(nina, "{ team { members { totalCount } } }").await?;
    ensure(back.status == 200 && back.errors().is_empty(), "reactivated", &back)?;

    // Removal: refused at once, and the team leaves Casey's list of teams.
    let casey = "casey.consultant@both.test";
    let before = server.query_in(casey, 2, "{ myTeams { name } }").await?;
    ensure(before.data(&["myTeams"]).as_array().map(Vec::len) == Some(2), "two teams", &before)?;
    let reply =
        server.query(OWNER, r#"mutation { removeMember(memberId: "Membership:13") }"#).await?;
    ensure(reply.data(&["removeMember"]) == "Membership:13", "removed", &reply)?;
    let gone = server.query(casey, "{ team { name } }").await?;
    ensure(gone.status == 401, "a removed member is refused in that team", &gone)?;
    let after = server.query_in(casey, 2, "{ myTeams { name } }").await?;
    ensure(
        after.data(&["myTeams"]) == &serde_json::json!([{ "name": "Globex Services" }]),
        "the team left their list",
        &after,
    )?;
    // Their group memberships went with them.
    let testing = server
        .query(OWNER, r#"{ securityGroup(id: "SecurityGroup:2") { members { email } } }"#)
        .await?;
    let members: Vec<Value> =
        testing.data(&["securityGroup", "members"]).as_array().cloned().unwrap_or_default();
    ensure(!members.iter().any(|m| m["email"] == casey), "no longer in Testing", &testing)?;

    // Removing Pia unassigns her tasks and loses nothing she created or launched.
    let work = "{ team { processes { totalCount } jobs { totalCount } tasks { nodes { assignee { email } } } } }";
    let before = server.query(OWNER, work).await?;
    let assigned = |reply: &Reply, email: &str| {
        reply
            .data(&["team", "tasks", "nodes"])
            .as_array()
            .map_or(0, |tasks| tasks.iter().filter(|t| t["assignee"]["email"] == email).count())
    };
    let pia = "pia.manager@acme.test";
    ensure(assigned(&before, pia) > 0, "pia has tasks", &before)?;
    let reply =
        server.query(OWNER, r#"mutation { removeMember(memberId: "Membership:11") }"#).await?;
    ensure(reply.errors().is_empty(), "pia removed", &reply)?;
    let after = server.query(OWNER, work).await?;
    ensure(assigned(&after, pia) == 0, "her tasks are unassigned", &after)?;
    for list in ["processes", "jobs"] {
        ensure(
            after.data(&["team", list, "totalCount"]) == before.data(&["team", list, "totalCount"]),
            &format!("no {list} lost"),
            &after,
        )?;
    }

    // Disabling a group changes what its members see on the next request.
    let dana = "dana.developer@acme.test";
    let count = |reply: &Reply| reply.data(&["team", "workflows", "totalCount"]).as_u64();
    let seen = server.query(dana, "{ team { workflows { totalCount } } }").await?;
    ensure(count(&seen) == Some(3), "dana sees Testing and Development", &seen)?;
    server.query(OWNER, r#"mutation { setSecurityGroupEnabled(id: "SecurityGroup:2", enabled: false) { enabled } }"#).await?;
    let seen = server.query(dana, "{ team { workflows { totalCount } } }").await?;
    ensure(count(&seen) == Some(1), "Testing no longer grants anything", &seen)?;

    // Turning AAM off shows an analyst everything at once.
    let ana = "ana.analyst@acme.test";
    server
        .query(
            OWNER,
            "mutation { setAdvancedAccessManagement(enabled: false) { advancedAccessManagement } }",
        )
        .await?;
    let seen = server.query(ana, "{ team { workflows { totalCount } } }").await?;
    ensure(count(&seen) == Some(7), "AAM off: an analyst sees every workflow", &seen)?;
    Ok(())
}

#[tokio::test]
async fn an_invitation_is_accepted_by_its_invitee_and_audited() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // Gina (Globex's owner) is invited to Acme as a Process Hub user.
    let reply = server
        .query(
            OWNER,
            r#"mutation { inviteMembers(input: { emails: ["Gina.Owner@globex.test, someone@else.test"], portalRole: MEMBER, products: [PROCESS_HUB], processHubRole: USER }) { results { email invitation { id processHubRole } error { message } } } }"#,
        )
        .await?;
    let id = reply
        .data(&["inviteMembers", "results", "0", "invitation", "id"])
        .as_str()
        .unwrap_or("")
        .to_owned();
    ensure(id.starts_with("Invitation:"), "invited", &reply)?;
    ensure(
        reply.data(&["inviteMembers", "results", "1", "invitation", "id"]).is_string(),
        "the second address of the entry too",
        &reply,
    )?;
    let accept = format!(r#"mutation {{ acceptInvitation(id: "{id}") {{ id name portalRole }} }}"#);
    // Someone else cannot even find it.
    let other = server.query("gary.analyst@globex.test", &accept).await?;
    ensure(other.first_code().as_deref() == Some("NOT_FOUND"), "not for Gary", &other)?;
    let gina = "gina.owner@globex.test";
    let joined = server.query_in(gina, 2, &accept).await?;
    ensure(joined.data(&["acceptInvitation", "name"]) == "Acme Robotics", "joined", &joined)?;
    let again = server.query_in(gina, 2, &accept).await?;
    ensure(again.first_code().as_deref() == Some("CONFLICT"), "accepted once", &again)?;
    let acme = server
        .query_in(gina, 1, "{ me { email } team { name } process(id: \"Process:1\") { name } }")
        .await?;
    ensure(acme.data(&["team", "name"]) == "Acme Robotics", "acts in Acme", &acme)?;
    // The audit log has the invitation and the acceptance, with who and what.
    let log = server
        .query(OWNER, r#"{ team { auditLog(filter: { action: "invitation.accepted" }) { nodes { actor { email } target details } } } }"#)
        .await?;
    ensure(
        log.data(&["team", "auditLog", "nodes", "0", "actor", "email"]) == "gina.owner@globex.test",
        "the acceptance is audited",
        &log,
    )?;
    Ok(())
}

#[tokio::test]
async fn the_audit_log_records_old_and_new_and_filters() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    server
        .query(OWNER, r#"mutation { changeMemberRole(memberId: "Membership:7", portalRole: SECURITY_ADMIN) { id } }"#)
        .await?;
    let log = server
        .query(
            OWNER,
            r#"{ team { auditLog(filter: { action: "member.role_changed", actorId: "User:1", securityGroupId: "SecurityGroup:1" }) { totalCount nodes { target targetId details securityGroups { name } } } } }"#,
        )
        .await?;
    ensure(log.data(&["team", "auditLog", "totalCount"]) == 1, "one entry matches", &log)?;
    let details: Value = serde_json::from_str(
        log.data(&["team", "auditLog", "nodes", "0", "details"]).as_str().unwrap_or("{}"),
    )?;
    ensure(
        details["portalRole"] == serde_json::json!({ "from": "MEMBER", "to": "SECURITY_ADMIN" }),
        "old and new role",
        &log,
    )?;
    ensure(
        log.data(&["team", "auditLog", "nodes", "0", "targetId"]) == "Membership:7",
        "target id",
        &log,
    )?;
    // A member with the audit flag sees only entries of their own groups: Ana (Testing).
    let ana = server
        .query(
            "ana.analyst@acme.test",
            r#"{ team { auditLog(filter: { action: "member.role_changed" }) { totalCount } } }"#,
        )
        .await?;
    ensure(ana.data(&["team", "auditLog", "totalCount"]) == 0, "not Oscar's (Production)", &ana)?;
    Ok(())
}

#[tokio::test]
async fn importing_members_reports_each_row() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let csv = "email,portalRole,products,orchestratorRole,processHubRole\\n\
        one@acme.test,MEMBER,ORCHESTRATOR;STUDIO_PRO,DEVELOPER,\\n\
        adam.admin@acme.test,MEMBER,,,\\n\
        two@acme.test,OWNR,,,\\n\
        three@acme.test,MEMBER,,ANALYST,\\n\
        one@acme.test,MEMBER,,,\\n";
    let reply = server
        .query(OWNER, &format!(r#"mutation {{ importMembers(csv: "{csv}") {{ rows {{ line email invitation {{ orchestratorRole }} error {{ code message }} }} }} }}"#))
        .await?;
    let rows = reply.data(&["importMembers", "rows"]).as_array().cloned().unwrap_or_default();
    let summary: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| (r["line"].as_u64().unwrap_or(0), r["error"]["code"].as_str().unwrap_or("OK")))
        .collect();
    ensure(
        summary
            == [
                (2, "OK"),
                (3, "CONFLICT"),
                (4, "INVALID_INPUT"),
                (5, "INVALID_INPUT"),
                (6, "INVALID_INPUT"),
            ],
        "one result per row",
        &reply,
    )?;
    ensure(
        reply.data(&["importMembers", "rows", "0", "invitation", "orchestratorRole"])
            == "DEVELOPER",
        "terms kept",
        &reply,
    )?;
    let malformed = server
        .query(
            OWNER,
            r#"mutation { importMembers(csv: "mail,role\nx@y.test,MEMBER\n") { rows { line } } }"#,
        )
        .await?;
    ensure(
        malformed.first_code().as_deref() == Some("INVALID_INPUT"),
        "a malformed file",
        &malformed,
    )?;
    Ok(())
}

#[tokio::test]
async fn a_module_built_for_another_contract_is_refused_naming_both_versions() -> anyhow::Result<()>
{
    let bytes = fieldguard_e2e::fixture_policy("old-contract")?;
    match fieldguard::authz::LoadedPolicy::from_wasm(bytes, "fixture:old-contract") {
        Ok(_) => anyhow::bail!("an old-contract module was loaded"),
        Err(error) => {
            let message = error.to_string();
            anyhow::ensure!(
                message.contains("fieldguard:policy@0.1.0")
                    && message.contains(fieldguard::authz::wasm::CONTRACT),
                "the message names both versions: {message}"
            );
        }
    }
    Ok(())
}

/// Principals are kept between requests, and a write through another gateway on the same
/// database reaches them within two seconds: a member suspended there is refused here, and
/// back once reactivated.
#[tokio::test]
async fn a_change_made_through_another_gateway_applies_here_within_two_seconds()
-> anyhow::Result<()> {
    let here = TestServer::start().await?;
    let there = here.beside(fieldguard::authz::LoadedPolicy::builtin()?).await?;
    let nina = "nina.nogroup@acme.test";
    // Kept here: several requests, one principal.
    for _ in 0..3 {
        anyhow::ensure!(my_teams(&here, nina).await?.status == 200, "nina signs in here");
    }
    let suspend = r#"mutation { suspendMember(memberId: "Membership:9") { suspended } }"#;
    let reply = there.query(OWNER, suspend).await?;
    ensure(reply.data(&["suspendMember", "suspended"]) == true, "suspended there", &reply)?;
    let refused = my_teams(&there, nina).await?;
    ensure(refused.status == 401, "refused at once where it was written", &refused)?;
    let took = nina_answered(&here, 401).await?;
    println!("a suspension through another gateway applied here after {took:?}");
    let reactivate = r#"mutation { reactivateMember(memberId: "Membership:9") { suspended } }"#;
    there.query(OWNER, reactivate).await?;
    nina_answered(&here, 200).await?;
    Ok(())
}

/// How long until Nina's requests to `server` are answered with `status` (at most 2 s).
async fn nina_answered(server: &TestServer, status: u16) -> anyhow::Result<std::time::Duration> {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(2) {
        if my_teams(server, "nina.nogroup@acme.test").await?.status == status {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    anyhow::bail!("Nina's requests still not answered {status} after 2 s")
}
