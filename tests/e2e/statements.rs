//! Nested relations load in batches: a query four levels deep costs a small number of SQL
//! statements set by its shape, whatever the number of rows.

use fieldguard::demo::Seeder;
use super::TestServer;
use fieldguard_e2e::ensure;
use sea_orm::TransactionTrait;

const NESTED: &str = r#"{
  team {
    orchestrators {
      nodes {
        name
        securityGroups { name }
        workflows(first: 500) {
          totalCount
          nodes {
            name
            securityGroup { name members { email } }
            versions { number publishedBy { email } }
            outputVariables { name }
            assignedBotRunners { machineName securityGroups { name } }
          }
        }
      }
    }
  }
}"#;

/// Runs the nested query as the owner; returns the statements it cost and the workflows seen.
async fn measure(server: &TestServer) -> anyhow::Result<(usize, u64)> {
    let before = server.statement_count();
    let reply = server.query("olivia.owner@acme.test", NESTED).await?;
    let statements = server.statement_count() - before;
    ensure(reply.errors().is_empty(), "no errors", &reply)?;
    let workflows =
        reply.data(&["team", "orchestrators", "nodes"]).as_array().map_or(0, |orchestrators| {
            orchestrators.iter().map(|o| o["workflows"]["totalCount"].as_u64().unwrap_or(0)).sum()
        });
    Ok((statements, workflows))
}

#[tokio::test]
async fn a_query_nested_four_levels_costs_a_bounded_number_of_statements_for_7_or_307_workflows()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (small, seen_small) = measure(&server).await?;

    let tx = server.state.db.begin().await?;
    let seeder = Seeder { db: &tx, sealer: &server.state.sealer };
    for n in 0..300 {
        let (orchestrator, group) = if n % 2 == 0 { (1, Some(1)) } else { (2, Some(2)) };
        let workflow =
            seeder.workflow(1, orchestrator, &format!("Generated {n}"), group, None, 2, 5).await?;
        seeder.assign(workflow, if n % 2 == 0 { 1 } else { 2 }, group).await?;
    }
    tx.commit().await?;

    let (large, seen_large) = measure(&server).await?;
    anyhow::ensure!(
        seen_small == 7 && seen_large == 307,
        "saw {seen_small} then {seen_large} workflows"
    );
    // Without batching this query costs over five statements per workflow (more than 1,500
    // here). Batched, the cost is set by the shape of the query: one statement per relation
    // and level, plus the five that authenticate the request. The DataLoader's time window can
    // split one relation's batch in two when many rows resolve at once (more often on a
    // database server, whose answers take longer), hence at most twice the small count rather
    // than equality.
    const BOUND: usize = 30;
    anyhow::ensure!(
        small <= BOUND && large <= 2 * small,
        "statements grew with the rows: {small} for 7 workflows (bound {BOUND}), {large} for \
         307 (bound {})",
        2 * small
    );
    Ok(())
}
