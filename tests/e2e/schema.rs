//! `schema.graphql` is the schema the code serves, and the gateway asks the policy about the
//! actions its table rules on.

#[test]
fn checked_in_schema_matches_the_code() -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let checked_in = std::fs::read_to_string(&path)?;
    let served = fieldguard::graphql::sdl();
    anyhow::ensure!(
        checked_in == served,
        "schema.graphql is out of date; regenerate it with\n    cargo run -p fieldguard -- schema > schema.graphql"
    );
    Ok(())
}

#[test]
fn the_gateway_asks_about_exactly_the_actions_the_default_policy_rules_on() {
    use std::collections::BTreeSet;
    let asked: BTreeSet<&str> =
        fieldguard::store::write::ACTIONS.iter().map(|(action, _)| *action).collect();
    let ruled: BTreeSet<&str> = fieldguard_policy::actions::ROWS
        .iter()
        .flat_map(|(actions, _)| actions.iter().copied())
        .collect();
    assert_eq!(asked, ruled, "store::write::ACTIONS and policy-wasm/src/actions.rs disagree");
}
