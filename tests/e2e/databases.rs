//! The two databases answer alike: the same demo data reads the same on SQLite and on
//! PostgreSQL, lists in the same order (`Membership.products` came back in another order on
//! PostgreSQL once), for every member of the demo team.

use fieldguard_e2e::{OWNER, Postgres, Sqlite, TestServer};

/// What a member sees of every list of the demo team, in order.
const LISTS: &str = "{ myTeams { name } team { members { nodes { id products portalRole user { email } securityGroups { name } } }
    securityGroups { nodes { name members { email } workflows { nodes { name } }
      botRunners { nodes { machineName } } processes { nodes { name } } } }
    workflows { nodes { name outputVariables { name value } versions { number comment }
      assignedBotRunners { machineName } queue { id status } runs { nodes { id state } } } }
    orchestrators { nodes { name } } botRunners { nodes { machineName approvalState } }
    processes { nodes { name launchPermissions { email } securityGroups { name } } }
    invitations { nodes { email status } } auditLog { nodes { action target } } } }";

#[tokio::test]
async fn sqlite_and_postgres_answer_every_member_alike_in_the_same_order() -> anyhow::Result<()> {
    let sqlite = TestServer::<Sqlite>::start().await?;
    let postgres = TestServer::<Postgres>::start().await?;
    let members = sqlite.query(OWNER, "{ team { members { nodes { user { email } } } } }").await?;
    let emails: Vec<String> = members
        .data(&["team", "members", "nodes"])
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| node["user"]["email"].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(emails.len() > 5, "the demo team has its members: {}", members.body);
    for email in &emails {
        let (on_sqlite, on_postgres) =
            (sqlite.query(email, LISTS).await?, postgres.query(email, LISTS).await?);
        anyhow::ensure!(
            on_sqlite.body == on_postgres.body,
            "{email} reads differently\nSQLite:     {}\nPostgreSQL: {}",
            on_sqlite.body,
            on_postgres.body
        );
    }
    Ok(())
}
