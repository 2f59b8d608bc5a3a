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
    let csv = dir.join("people.csv");
    std::fs::write(&csv, "email,portalRole\n")?;
    let csv = csv.to_str().unwrap_or_default().to_owned();
    // Each one migrates the new database, then looks for a team that is not there.
    let children = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_fieldguard"))
                .args(["import-members", "--data-dir", &data, "--team", "Nobody", &csv])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for child in children {
        let output = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no team named Nobody"), "failed for another reason: {stderr}");
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

/// A started server: the child, what it printed so far on stdout, and the address it serves.
type Started = (std::process::Child, String, String);

/// Starts `fieldguard serve` with `args` and `env` (demo data among them: what it prints on
/// stdout is read), and waits until it says it serves.
fn started(args: &[&str], env: &[(&str, &str)]) -> std::io::Result<Started> {
    use std::io::{BufRead, BufReader, Read};
    let mut command = Command::new(env!("CARGO_BIN_EXE_fieldguard"));
    command.args(args).env_remove("DATABASE_URL").env_remove("FIELDGUARD_DEMO");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("no stderr"))?;
    let mut lines = BufReader::new(stderr).lines();
    let address = lines.by_ref().map_while(Result::ok).find_map(|line| {
        let at = line.find("serving on http://")? + "serving on http://".len();
        line[at..].split('/').next().map(str::to_owned)
    });
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let Some(address) = address else {
        let _ = child.kill();
        return Err(std::io::Error::other("the server did not start"));
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        // The demo tokens are printed before the server starts listening for requests.
        let mut buffer = [0u8; 65536];
        let read = out.read(&mut buffer)?;
        stdout.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    Ok((child, stdout, address))
}

/// The status code of `GET path` on `address`, with these extra header lines.
fn status_of(address: &str, path: &str, headers: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{headers}\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer}")))
}

#[test]
fn sigterm_shuts_down_gracefully_and_localhost_and_demo_1_are_understood() -> std::io::Result<()> {
    let dir = scratch("sigterm");
    let data = dir.join("data");
    let (mut child, stdout, _) = started(
        &["serve", "--listen", "localhost:0", "--data-dir", data.to_str().unwrap_or_default()],
        &[("FIELDGUARD_DEMO", "1")],
    )?;
    assert!(stdout.contains("Demo users"), "FIELDGUARD_DEMO=1 was not understood: {stdout}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
    assert!(killed.success());
    let status = child.wait()?;
    assert!(status.success(), "SIGTERM did not shut down gracefully: {status}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn serve_on_a_port_in_use_touches_nothing_before_failing() -> std::io::Result<()> {
    let dir = scratch("port-in-use");
    let data = dir.join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = taken.local_addr()?.to_string();
    let output = fieldguard(&[
        "serve",
        "--demo",
        "--listen",
        &address,
        "--data-dir",
        data.to_str().unwrap_or_default(),
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the server started on a port in use");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "tokens were printed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!data.join("fieldguard.db").exists(), "the database was created and migrated");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn token_outside_the_data_directory_says_so_and_creates_nothing() -> std::io::Result<()> {
    let dir = scratch("token-nowhere");
    let data = dir.join("data");
    let output = fieldguard(&[
        "token",
        "--user",
        "dana.developer@acme.test",
        "--data-dir",
        data.to_str().unwrap_or_default(),
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a token was minted without a database");
    assert!(stderr.contains("there is no database in"), "{stderr}");
    assert!(!data.exists(), "an empty data directory was created");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn a_bad_database_url_never_shows_its_password() -> std::io::Result<()> {
    let dir = scratch("url-password");
    let output = fieldguard(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap_or_default(),
        "--database-url",
        "postgres://fieldguard:hunter2-secret@localhost:notaport/fieldguard",
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the server started: {stderr}");
    assert!(stderr.contains("database unavailable"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "the password was printed: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn a_metrics_token_guards_the_metrics_and_a_short_one_stops_the_server() -> std::io::Result<()> {
    let dir = scratch("metrics-token");
    let data = dir.join("data");
    let data = data.to_str().unwrap_or_default();
    let short = fieldguard(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--metrics-token",
        "short",
    ])?;
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(!short.status.success(), "a short metrics token was accepted");
    assert!(stderr.contains("metrics token must be at least 24 characters"), "{stderr}");
    let token = "a-metrics-token-for-the-cli-test";
    // `--demo`: `started` reads the demo tokens from stdout before it answers.
    let (mut child, _, address) = started(
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", data],
        &[("FIELDGUARD_METRICS_TOKEN", token)],
    )?;
    let without = status_of(&address, "/metrics", "");
    let with = status_of(&address, "/metrics", &format!("Authorization: Bearer {token}\r\n"));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(without?, 401, "/metrics answered without the token");
    assert_eq!(with?, 200, "/metrics refused its token");
    Ok(())
}
