//! The `fieldguard` binary: it refuses to start on bad configuration, and says why.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fieldguard-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn fieldguard(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_fieldguard")).args(args).env_remove("DATABASE_URL").output()
}

#[test]
fn an_invalid_policy_file_stops_the_server_at_start_naming_the_file_and_the_reason()
-> std::io::Result<()> {
    let dir = scratch("policy");
    let policy = dir.join("broken.wasm");
    std::fs::write(&policy, b"not a module")?;
    let data = dir.join("data");
    let output = fieldguard(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--policy",
        policy.to_str().unwrap_or_default(),
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the server started: {stderr}");
    assert!(stderr.contains("broken.wasm") && stderr.contains("invalid policy"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn a_database_that_cannot_be_opened_stops_the_server_with_a_clear_message() -> std::io::Result<()> {
    let dir = scratch("database");
    let output = fieldguard(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap_or_default(),
        "--database-url",
        "sqlite:///nonexistent/directory/fieldguard.db?mode=rwc",
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the server started: {stderr}");
    assert!(
        stderr.contains("database unavailable") && stderr.contains("/nonexistent/directory"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn seed_prints_a_token_per_demo_user_and_token_mints_one_for_members_only() -> std::io::Result<()> {
    let dir = scratch("seed");
    let data = dir.to_str().unwrap_or_default();
    let seeded = fieldguard(&["seed", "--data-dir", data])?;
    let stdout = String::from_utf8_lossy(&seeded.stdout);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    for email in ["olivia.owner@acme.test", "nina.nogroup@acme.test", "gary.analyst@globex.test"] {
        assert!(stdout.contains(email), "{email} missing from:\n{stdout}");
    }
    let minted = fieldguard(&[
        "token",
        "--data-dir",
        data,
        "--user",
        "casey.consultant@both.test",
        "--team",
        "Globex Services",
    ])?;
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
    let token = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    let refused = fieldguard(&["token", "--data-dir", data, "--user", "nobody@nowhere.test"])?;
    assert!(!refused.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn processes_opening_a_fresh_database_at_once_all_find_the_schema() -> std::io::Result<()> {
    let dir = scratch("race");
    let data = dir.to_str().unwrap_or_default().to_owned();
    // Each one migrates the new database, then looks for a user that is not there.
    let children = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_fieldguard"))
                .args(["token", "--data-dir", &data, "--user", "nobody@nowhere.test"])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for child in children {
        let output = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no user nobody@nowhere.test"),
            "failed for another reason: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn import_members_prints_one_result_per_row_and_refuses_a_malformed_file() -> std::io::Result<()> {
    let dir = scratch("import");
    let data = dir.join("data");
    let data = data.to_str().unwrap_or_default();
    let seeded = fieldguard(&["seed", "--data-dir", data])?;
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let file = dir.join("people.csv");
    std::fs::write(
        &file,
        "email,portalRole,products,orchestratorRole,processHubRole\n\
         first@acme.test,MEMBER,ORCHESTRATOR;STUDIO_PRO,OPERATOR,\n\
         adam.admin@acme.test,MEMBER,,,\n\
         nobody,MEMBER,,,\n\
         second@acme.test,OWNR,,,\n",
    )?;
    let file = file.to_str().unwrap_or_default();
    let output =
        fieldguard(&["import-members", "--data-dir", data, "--team", "Acme Robotics", file])?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].contains("first@acme.test") && lines[0].contains("invited"), "{stdout}");
    assert!(lines[1].contains("CONFLICT") && lines[1].contains("already a member"), "{stdout}");
    assert!(
        lines[2].contains("INVALID_INPUT") && lines[2].contains("not a valid email"),
        "{stdout}"
    );
    assert!(lines[3].contains("unknown portalRole `OWNR`"), "{stdout}");
    assert_eq!(lines[4], "1 invited, 3 not");
    // The same file again: the one invited is now already invited.
    let again =
        fieldguard(&["import-members", "--data-dir", data, "--team", "Acme Robotics", file])?;
    assert!(String::from_utf8_lossy(&again.stdout).contains("already invited"));

    let malformed = dir.join("bad.csv");
    std::fs::write(&malformed, "mail,role\nx@y.test,MEMBER\n")?;
    let output = fieldguard(&[
        "import-members",
        "--data-dir",
        data,
        "--team",
        "Acme Robotics",
        malformed.to_str().unwrap_or_default(),
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("unknown column `mail`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
