//! Support for the end-to-end tests: a real gateway on a real port, with a fresh database
//! holding the demo data — SQLite or PostgreSQL ([`Backend`]) — and a client that speaks to it
//! over HTTP.

pub mod bench;
pub mod postgres;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, bail};
use fieldguard::authz::LoadedPolicy;
use fieldguard::http::auth::Authenticator;
use fieldguard::store::secrets::Sealer;
use fieldguard::{AppState, demo, store};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The demo team's owner.
pub const OWNER: &str = "olivia.owner@acme.test";

/// The root fields of the platform operator's API: not a team's, so not decided by the policy
/// (the walks over every field and every mutation leave them to the lifecycle tests).
pub use fieldguard::graphql::operator::ROOT_FIELDS as OPERATOR_API;

/// The signing secret every test server uses.
pub const SECRET: &str = "end-to-end-test-secret";

/// The database a test server stores its data in.
pub trait Backend: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    const NAME: &'static str;

    /// The URL of a fresh, empty database for a server whose data directory is `dir`.
    fn fresh(dir: &std::path::Path) -> impl Future<Output = anyhow::Result<String>> + Send;

    /// What the database holds that is not a file of the data directory, as bytes.
    fn contents(
        db: &sea_orm::DatabaseConnection,
    ) -> impl Future<Output = anyhow::Result<Vec<u8>>> + Send;
}

/// A SQLite file in the server's data directory, as `serve` uses by default.
pub struct Sqlite;

impl Backend for Sqlite {
    const NAME: &'static str = "sqlite";

    async fn fresh(dir: &std::path::Path) -> anyhow::Result<String> {
        Ok(format!("sqlite://{}?mode=rwc", dir.join("test.db").display()))
    }

    async fn contents(_: &sea_orm::DatabaseConnection) -> anyhow::Result<Vec<u8>> {
        Ok(Vec::new()) // the database is a file of the data directory
    }
}

/// A database of its own on the test PostgreSQL cluster ([`postgres`]).
pub struct Postgres;

impl Backend for Postgres {
    const NAME: &'static str = "postgres";

    async fn fresh(_dir: &std::path::Path) -> anyhow::Result<String> {
        postgres::fresh_database().await
    }

    async fn contents(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Vec<u8>> {
        postgres::contents(db).await
    }
}

/// A running gateway, storing its data in `B`.
pub struct TestServer<B: Backend> {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What the server shares between requests (its policy can be swapped through it).
    pub state: AppState,
    /// How many SQL statements the server has run.
    pub statements: Arc<AtomicUsize>,
    tokens: HashMap<String, String>,
    client: reqwest::Client,
    dir: PathBuf,
    database_url: String,
    owns_dir: bool,
    shutdown: Option<oneshot::Sender<()>>,
    backend: std::marker::PhantomData<B>,
}

/// A response: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Reply {
    /// The value at a path of `data`, e.g. `["team", "name"]`.
    pub fn data(&self, path: &[&str]) -> &Value {
        path.iter().fold(&self.body["data"], |value, key| match key.parse::<usize>() {
            Ok(index) => &value[index],
            Err(_) => &value[*key],
        })
    }

    /// The errors, empty if none.
    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// The code of the first error, if any.
    pub fn first_code(&self) -> Option<String> {
        self.errors().first().and_then(|e| e["extensions"]["code"].as_str().map(str::to_owned))
    }

    /// The code of the error at `path` (names and indexes, joined by dots), if any.
    pub fn error_code_at(&self, path: &str) -> Option<String> {
        self.errors().iter().find_map(|error| {
            let at: Vec<String> = error["path"]
                .as_array()?
                .iter()
                .map(|segment| match segment {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            (at.join(".") == path)
                .then(|| error["extensions"]["code"].as_str().unwrap_or("").to_owned())
        })
    }
}

fn unique_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "fieldguard-e2e-{}-{n}-{}",
        std::process::id(),
        rand_suffix()
    ))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl<B: Backend> TestServer<B> {
    /// A gateway enforcing the built-in policy.
    pub async fn start() -> anyhow::Result<Self> {
        Self::with_policy(LoadedPolicy::builtin()?).await
    }

    /// A gateway enforcing `policy`, over the demo data.
    pub async fn with_policy(policy: LoadedPolicy) -> anyhow::Result<Self> {
        let dir = unique_dir();
        std::fs::create_dir_all(&dir)?;
        let database_url = B::fresh(&dir).await?;
        Self::serving(policy, dir, database_url).await
    }

    /// A gateway enforcing a fixture policy from `tests/policies/`.
    pub async fn with_fixture(behaviour: &str) -> anyhow::Result<Self> {
        Self::with_policy(LoadedPolicy::from_wasm(
            fixture_policy(behaviour)?,
            format!("fixture:{behaviour}"),
        )?)
        .await
    }

    /// A second gateway over the same database as this one, enforcing another policy.
    pub async fn beside(&self, policy: LoadedPolicy) -> anyhow::Result<Self> {
        Self::beside_with_auth(self, policy, Authenticator::hs256(SECRET.as_bytes())).await
    }

    /// A second gateway over the same database, with another policy and token verifier.
    pub async fn beside_with_auth(
        &self,
        policy: LoadedPolicy,
        auth: Authenticator,
    ) -> anyhow::Result<Self> {
        let mut server =
            Self::serving_with(policy, self.dir.clone(), self.database_url.clone(), auth, |s| s)
                .await?;
        server.owns_dir = false;
        Ok(server)
    }

    async fn serving(
        policy: LoadedPolicy,
        dir: PathBuf,
        database_url: String,
    ) -> anyhow::Result<Self> {
        let auth = Authenticator::hs256(SECRET.as_bytes());
        Self::serving_with(policy, dir, database_url, auth, |s| s).await
    }

    /// A gateway enforcing the built-in policy, its state configured by `configure` (e.g.
    /// `|state| state.with_cors(…)`).
    pub async fn configured(configure: impl FnOnce(AppState) -> AppState) -> anyhow::Result<Self> {
        let dir = unique_dir();
        std::fs::create_dir_all(&dir)?;
        let database_url = B::fresh(&dir).await?;
        let auth = Authenticator::hs256(SECRET.as_bytes());
        Self::serving_with(LoadedPolicy::builtin()?, dir, database_url, auth, configure).await
    }

    async fn serving_with(
        policy: LoadedPolicy,
        dir: PathBuf,
        database_url: String,
        auth: Authenticator,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> anyhow::Result<Self> {
        let mut db = store::open(&database_url).await?;
        let sealer = Sealer::stored(&dir)?;
        let users = demo::seed(&db, &sealer).await?;
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        let log_sql = std::env::var_os("FIELDGUARD_TEST_LOG_SQL").is_some();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            if log_sql {
                eprintln!("SQL {}", info.statement.sql);
            }
        });
        let minter = Authenticator::hs256(SECRET.as_bytes());
        let mut tokens = HashMap::new();
        for user in &users {
            tokens.insert(user.email.clone(), minter.mint(user.id, Some(user.team), 3600)?);
        }
        let state = configure(AppState::new(db, policy, auth, sealer));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let _ = fieldguard::serve(listener, served, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Self {
            url: format!("http://{address}"),
            state,
            statements,
            tokens,
            // Kept idle for less than the server's header timeout (10 s) before it closes them.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build()?,
            dir,
            database_url,
            owns_dir: true,
            shutdown: Some(tx),
            backend: std::marker::PhantomData,
        })
    }

    /// The token of a demo user, by email.
    pub fn token(&self, email: &str) -> anyhow::Result<&str> {
        self.tokens.get(email).map(String::as_str).with_context(|| format!("no demo user {email}"))
    }

    /// Sends a query as a demo user.
    pub async fn query(&self, email: &str, query: &str) -> anyhow::Result<Reply> {
        let token = self.token(email)?.to_owned();
        self.post(
            &[("authorization", &format!("Bearer {token}"))],
            &json!({ "query": query }).to_string(),
        )
        .await
    }

    /// Sends a query as a demo user, acting in another team.
    pub async fn query_in(&self, email: &str, team: i32, query: &str) -> anyhow::Result<Reply> {
        let token = self.token(email)?.to_owned();
        let headers =
            [("authorization", format!("Bearer {token}")), ("x-fieldguard-team", team.to_string())];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(&headers, &json!({ "query": query }).to_string()).await
    }

    /// Posts a raw body to `/graphql` with these headers.
    pub async fn post(&self, headers: &[(&str, &str)], body: &str) -> anyhow::Result<Reply> {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body =
            serde_json::from_str(&text).with_context(|| format!("the body is not JSON: {text}"))?;
        Ok(Reply { status, body })
    }

    /// A GET request; returns status, content type and body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String, String)> {
        self.get_with(path, &[]).await
    }

    /// A GET request with an `Accept` header; returns status, content type and body.
    pub async fn get_accepting(
        &self,
        path: &str,
        accept: &str,
    ) -> anyhow::Result<(u16, String, String)> {
        self.get_with(path, &[("accept", accept)]).await
    }

    /// A GET request with these headers; returns status, content type and body.
    pub async fn get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, String, String)> {
        let mut request = self.client.get(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, content_type, response.text().await?))
    }

    /// How many entries the acting team's audit log has, as its owner sees it.
    pub async fn audit_count(&self) -> anyhow::Result<u64> {
        let reply = self.query(OWNER, "{ team { auditLog { totalCount } } }").await?;
        reply
            .data(&["team", "auditLog", "totalCount"])
            .as_u64()
            .with_context(|| format!("no audit count: {}", reply.body))
    }

    /// A snapshot of the demo team's access data, as its owner sees it: members with their
    /// roles, products and flags, security groups with their members and objects, invitations
    /// and the audit log's size. Comparing two snapshots shows whether anything changed.
    pub async fn snapshot(&self) -> anyhow::Result<Value> {
        let reply = self
            .query(
                OWNER,
                "{ team { advancedAccessManagement
                    members { nodes { id portalRole products orchestratorRole processHubRole
                      auditLogAccess suspended user { email } securityGroups { name } } }
                    invitations { nodes { email status portalRole } }
                    securityGroups { nodes { name description enabled members { email }
                      orchestrator { name } workflows { nodes { name } }
                      botRunners { nodes { machineName } } processes { nodes { name } } } }
                    workflows { nodes { name securityGroup { name } currentVersion schedule
                      webhookEnabled loggingEnabled versions { number }
                      queue { id status payload } assignedBotRunners { machineName }
                      runs { totalCount } executionLogs { message } } }
                    orchestrators { nodes { name apiIntegrationEnabled zapierEnabled
                      multitenancyEnabled } }
                    botRunners { nodes { machineName approvalState rdpCredentialsSet rdpUsername
                      registrationTokens { id } } }
                    processes { nodes { name description launchPermissions { email }
                      form { name } securityGroups { name } } }
                    jobs { nodes { state retryOf { id } } }
                    tasks { nodes { state values { name value } } }
                    forms { nodes { name fieldNames } }
                    auditLog { totalCount } } }",
            )
            .await?;
        anyhow::ensure!(reply.errors().is_empty(), "snapshot failed: {}", reply.body);
        Ok(reply.body["data"].clone())
    }

    /// The server's data directory (its kept secrets, and its database on SQLite).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Everything the server has stored: the files of its data directory and, on a database
    /// server, every row of every table (binary columns as their bytes).
    pub async fn stored_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = B::contents(&self.state.db).await?;
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.is_file() {
                bytes.extend(std::fs::read(path)?);
            }
        }
        Ok(bytes)
    }

    /// The URL of the server's database.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// How many statements the server has run so far.
    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }
}

impl<B: Backend> Drop for TestServer<B> {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Fails with the whole reply when `condition` does not hold.
pub fn ensure(condition: bool, what: &str, reply: &Reply) -> anyhow::Result<()> {
    if condition {
        Ok(())
    } else {
        bail!("{what}\nreply: {}", serde_json::to_string_pretty(&reply.body)?)
    }
}

/// The bytes of a fixture policy from `tests/policies/`, by behaviour.
pub fn fixture_policy(behaviour: &str) -> anyhow::Result<&'static [u8]> {
    Ok(match behaviour {
        "deny-all" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_DENY_ALL")),
        "allow-all" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_ALLOW_ALL")),
        "deny-leaves" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_DENY_LEAVES")),
        "old-contract" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_OLD_CONTRACT")),
        "trap" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_TRAP")),
        "spin" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_SPIN")),
        "short" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_SHORT")),
        "hoard" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_HOARD")),
        "grow-table" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_GROW_TABLE")),
        "memories" => include_bytes!(env!("FIELDGUARD_TEST_POLICY_MEMORIES")),
        other => bail!("no fixture policy {other}"),
    })
}

/// A gateway on SQLite enforcing a fixture policy.
pub async fn with_fixture(behaviour: &str) -> anyhow::Result<TestServer<Sqlite>> {
    TestServer::with_fixture(behaviour).await
}
