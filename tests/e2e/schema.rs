//! `schema.graphql` is the schema the code serves.

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
