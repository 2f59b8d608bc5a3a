//! What the benches share: the data they measure over, beside the demo's.

use fieldguard::demo::Seeder;
use sea_orm::TransactionTrait;

use crate::{Backend, TestServer};

/// The workflows of the demo team once [`more_workflows`] has run.
pub const WORKFLOWS: usize = 1000;
/// The bot runners [`distinct_bot_runners`] adds.
pub const RUNNERS: usize = 1000;
/// Groups generated for them: 2^10 sets are enough for 1,000 distinct ones.
const RUNNER_GROUPS: usize = 10;

/// Ten fields of each of the demo team's 1,000 workflows (three classes of object: the
/// policy is asked three times per field).
pub const WORKFLOWS_QUERY: &str = "{ team { workflows(first: 1000) { totalCount nodes { \
    id name currentVersion schedule webhookEnabled loggingEnabled \
    securityGroup { name } orchestrator { name } queue { status } executionLogs { level } } } } }";

/// Adds workflows to the demo team (which has 7) up to [`WORKFLOWS`], spread over its three
/// security groups.
pub async fn more_workflows<B: Backend>(server: &TestServer<B>) -> anyhow::Result<()> {
    let tx = server.state.db.begin().await?;
    let seeder = Seeder { db: &tx, sealer: &server.state.sealer };
    for n in 0..WORKFLOWS - 7 {
        let (orchestrator, group) = match n % 3 {
            0 => (1, Some(1)),
            1 => (2, Some(2)),
            _ => (2, Some(3)),
        };
        seeder
            .workflow(1, orchestrator, &format!("Generated {n}"), group, Some("0 * * * *"), 1, 5)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Adds [`RUNNERS`] bot runners to the demo team, runner n in the generated groups of the
/// bits of n + 1: no two in the same set, so each is a class of its own.
pub async fn distinct_bot_runners<B: Backend>(server: &TestServer<B>) -> anyhow::Result<()> {
    let tx = server.state.db.begin().await?;
    let seeder = Seeder { db: &tx, sealer: &server.state.sealer };
    let mut groups = Vec::new();
    for g in 0..RUNNER_GROUPS {
        groups.push(seeder.group(1, &format!("Generated group {g}"), "bench", None).await?);
    }
    for n in 0..RUNNERS {
        let set: Vec<i32> = (0..RUNNER_GROUPS)
            .filter(|bit| (n + 1) & (1 << bit) != 0)
            .filter_map(|bit| groups.get(bit).copied())
            .collect();
        seeder.bot_runner(1, &format!("generated-{n}"), &set).await?;
    }
    tx.commit().await?;
    Ok(())
}
