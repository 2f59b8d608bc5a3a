//! A throwaway PostgreSQL cluster for the end-to-end tests: started once per test process from
//! the server binaries installed on the machine (Debian's `postgresql`), on a free loopback
//! port, in a temporary directory, with durability switched off; stopped and removed when the
//! test process exits. Every gateway a test starts gets a fresh database of its own.
//!
//! `FIELDGUARD_TEST_POSTGRES_URL` (a server URL without a database, e.g.
//! `postgres://me@127.0.0.1:5432`) uses a server that is already running instead.

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait, Database};

/// The running cluster: the URL of its server, without a database.
struct Cluster {
    server: String,
    /// The stdin of the wrapper that runs the server: it stops the server and removes its
    /// directory when this end closes, which happens when the test process exits.
    _lifeline: Mutex<Option<ChildStdin>>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The URL of a fresh, empty database on the test cluster (started on first use).
pub async fn fresh_database() -> anyhow::Result<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = match CLUSTER.get_or_init(|| start().map_err(|e| format!("{e:#}"))) {
        Ok(cluster) => cluster.server.clone(),
        Err(error) => bail!("{error}"),
    };
    let name = format!("fg_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = connect_when_ready(&format!("{server}/postgres")).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("creating the test database {name}"))?;
    admin.close().await?;
    Ok(format!("{server}/{name}"))
}

/// Every row of every table of `db` as JSON text, and the bytes of every binary column.
pub async fn contents(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Vec<u8>> {
    use sea_orm::{DbBackend, Statement};
    let columns = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = 'public'",
        ))
        .await?;
    let mut tables = std::collections::BTreeSet::new();
    let mut reads = Vec::new();
    for column in columns {
        let table: String = column.try_get_by_index(0)?;
        let name: String = column.try_get_by_index(1)?;
        let kind: String = column.try_get_by_index(2)?;
        if tables.insert(table.clone()) {
            reads.push(format!("SELECT row_to_json(t)::text FROM \"{table}\" t"));
        }
        if kind == "bytea" {
            reads.push(format!(
                "SELECT encode(\"{name}\", 'escape') FROM \"{table}\" WHERE \"{name}\" IS NOT NULL"
            ));
        }
    }
    let mut bytes = Vec::new();
    for read in reads {
        for row in db.query_all_raw(Statement::from_string(DbBackend::Postgres, read)).await? {
            let text: Option<String> = row.try_get_by_index(0)?;
            bytes.extend(text.unwrap_or_default().into_bytes());
            bytes.push(b'\n');
        }
    }
    Ok(bytes)
}

/// Connects to `url`, waiting for a server that is still starting.
async fn connect_when_ready(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut options = sea_orm::ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false).max_connections(1);
        match Database::connect(options).await {
            Ok(db) => return Ok(db),
            Err(error) if Instant::now() >= deadline => {
                return Err(error).with_context(|| format!("the test PostgreSQL at {url}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Starts the cluster, or names the one given in the environment.
fn start() -> anyhow::Result<Cluster> {
    if let Ok(server) = std::env::var("FIELDGUARD_TEST_POSTGRES_URL") {
        return Ok(Cluster { server, _lifeline: Mutex::new(None) });
    }
    let bin = server_binaries().context(
        "the end-to-end tests run on PostgreSQL too and need its server binaries \
         (Debian: apt-get install postgresql), or FIELDGUARD_TEST_POSTGRES_URL naming a server",
    )?;
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("fieldguard-pg-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The server refuses to run as root: a root test process runs it as `postgres`.
    let owner = if effective_uid()? == 0 { Some(system_user("postgres")?) } else { None };
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
    }
    let script = format!(
        r#"set -e
"{bin}/initdb" -D "{dir}/data" -U fieldguard --auth=trust -E UTF8 --no-sync >"{dir}/initdb.log" 2>&1
"{bin}/postgres" -D "{dir}/data" -k "{dir}" -h 127.0.0.1 -p {port} \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c max_connections=300 -c shared_buffers=64MB >"{dir}/postgres.log" 2>&1 &
server=$!
cat >/dev/null || true
kill -INT "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
rm -rf "{dir}"
"#,
        bin = bin.display(),
        dir = dir.display(),
    );
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    let mut child = command.spawn().context("starting the test PostgreSQL")?;
    let mut lifeline = child.stdin.take().context("no stdin for the PostgreSQL wrapper")?;
    lifeline.flush()?;
    wait_for_port(port, &dir)?;
    Ok(Cluster {
        server: format!("postgres://fieldguard@127.0.0.1:{port}"),
        _lifeline: Mutex::new(Some(lifeline)),
    })
}

/// Waits until the server accepts connections on `port`; its log on failure.
fn wait_for_port(port: u16, dir: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    bail!(
        "the test PostgreSQL did not start within 60 s\n{}\n{}",
        log("initdb.log"),
        log("postgres.log")
    )
}

/// The directory holding `initdb` and `postgres`: on `PATH`, or Debian's newest.
fn server_binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|path| {
        std::env::split_paths(&path).filter(|dir| dir.join("initdb").is_file()).collect::<Vec<_>>()
    });
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    debian.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    on_path.chain(debian.into_iter().rev()).next()
}

/// A loopback port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The effective user id of this process.
fn effective_uid() -> anyhow::Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .context("no effective uid in /proc/self/status")
}

/// The uid and gid of a system user, from `/etc/passwd`.
fn system_user(name: &str) -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name) && fields.len() > 3)
        .and_then(|fields| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
        .with_context(|| format!("running as root, the test PostgreSQL needs the user {name}"))
}
