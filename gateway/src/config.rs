//! Command-line flags and environment variables, validated into a typed configuration.
//!
//! Every flag has an environment variable of the same meaning (`--listen` and
//! `FIELDGUARD_LISTEN`, …); flags win. Nothing has a built-in secret: without one configured,
//! the signing secret is generated once and kept in the data directory.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::http::auth::{self, Authenticator};
use crate::store::secrets::Sealer;

/// The Fieldguard gateway.
#[derive(Debug, Parser)]
#[command(
    name = "fieldguard",
    version,
    about = "GraphQL gateway whose every field is decided by a WebAssembly policy"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written to standard error: `text` for people (coloured only at a
    /// terminal), `json` for a log collector (one object per line). `RUST_LOG` sets what is
    /// logged (default `fieldguard=info`).
    #[arg(long, global = true, env = "FIELDGUARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line, with the fields of the request's span (its id, trace id).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Load the demo data into an empty database and print a token for every demo user.
    Seed(StoreArgs),
    /// Mint a token for development.
    Token(TokenArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Invite the members listed in a CSV file into a team, printing one result per row.
    ImportMembers(ImportArgs),
    /// Run a query as a user through a gateway and print every decision that shaped the
    /// answer, with the policy's reasons (a platform operator's command).
    Explain(ExplainArgs),
    /// Test a policy module, or deploy, list, activate and roll back policy versions.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

/// `fieldguard policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run decision cases against a module, without a server, and print a report (exit code 1
    /// when any case or contract check fails).
    Test {
        /// The module (`.wasm`).
        module: PathBuf,
        /// The cases (TOML or JSON); by default those the module carries.
        cases: Option<PathBuf>,
    },
    /// Show who gains and who loses what between two modules: every member of every team of
    /// the demo data (or of a database), every type, field and action (exit code 1 when they
    /// differ).
    Diff {
        /// The version in force (`.wasm`).
        old: PathBuf,
        /// The candidate (`.wasm`).
        new: PathBuf,
        /// Compare over the database in this data directory instead of the demo data.
        #[arg(long, conflicts_with = "database_url")]
        data_dir: Option<PathBuf>,
        /// Compare over the database at this URL instead of the demo data.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Deploy a module to a running gateway: it is gated, stored and put in force on every
    /// gateway of its database.
    Deploy {
        /// The module (`.wasm`).
        file: PathBuf,
        /// Decision cases to gate it with, instead of those it carries.
        #[arg(long)]
        cases: Option<PathBuf>,
        /// Why it is deployed, for the version history.
        #[arg(long)]
        note: Option<String>,
        /// Only store it (gated), without putting it in force: e.g. to run it in shadow.
        #[arg(long)]
        no_activate: bool,
        /// The gateway.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the stored versions, newest first.
    Versions {
        /// The gateway.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Put a stored version in force again, by its hash (or at least 8 of its digits).
    Activate {
        /// The version's hash.
        hash: String,
        /// The gateway.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Run a stored version in shadow on the gateway (asked beside the version in force,
    /// never enforced), stop it, or show what it decided otherwise so far.
    Shadow {
        /// The version to shadow: a stored version's hash (or at least 8 of its digits), or a
        /// module file, which is stored first; without it, the report.
        hash: Option<String>,
        /// Stop the shadow, printing its final report.
        #[arg(long, conflicts_with = "hash")]
        stop: bool,
        /// The gateway.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Put the version in force before the current one back in force.
    Rollback {
        /// The gateway.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `fieldguard explain`.
#[derive(Clone, Debug, Args)]
pub struct ExplainArgs {
    /// The user the query runs as: an email address or a user id.
    #[arg(long)]
    pub user: String,
    /// The GraphQL document.
    #[arg(long)]
    pub query: String,
    /// Its variables, as a JSON object.
    #[arg(long)]
    pub variables: Option<String>,
    /// The team to act in (a team id); by default the user's first.
    #[arg(long)]
    pub team: Option<i32>,
    /// The gateway.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Which gateway an operator command talks to, and with what credential.
#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// The gateway's base URL.
    #[arg(long, env = "FIELDGUARD_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The gateway's operator token (prefer the environment variable: a flag shows in `ps`).
    #[arg(long, env = "FIELDGUARD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
}

/// Flags of `fieldguard import-members`.
#[derive(Clone, Debug, Args)]
pub struct ImportArgs {
    /// Where the data is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The team, by name or id.
    #[arg(long)]
    pub team: String,
    /// Whom the import acts as (email or id): the policy decides for them, and the audit log
    /// names them. By default, the team's owner.
    #[arg(long = "as")]
    pub as_user: Option<String>,
    /// A policy module to decide with, instead of the built-in policy.
    #[arg(long, env = "FIELDGUARD_POLICY")]
    pub policy: Option<PathBuf>,
    /// The CSV file: `email,portalRole,products,orchestratorRole,processHubRole`, products
    /// separated by `;`.
    pub file: PathBuf,
}

/// Where data and secrets live.
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    /// Directory for the SQLite database and the generated signing secret.
    #[arg(long, env = "FIELDGUARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// A SeaORM database URL; the default is SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// HS256 signing secret for tokens. Without it (and without a public key) one is generated
    /// and kept in the data directory.
    #[arg(long, env = "FIELDGUARD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM file of a public key: verify tokens with it instead of a shared secret, RS256 for
    /// an RSA key, ES256 for a P-256 key, EdDSA for an Ed25519 key.
    #[arg(long, env = "FIELDGUARD_JWT_PUBLIC_KEY", conflicts_with = "jwt_secret")]
    pub jwt_public_key: Option<PathBuf>,
    /// An identity provider's JSON Web Key Set, a file or an `https://` URL: tokens are
    /// verified with the key their `kid` names (RS256, ES256, ES384 or EdDSA). Fetched on
    /// first use, again when a token names an unknown key (at most every 5 s) and every 5
    /// minutes.
    #[arg(long, env = "FIELDGUARD_JWT_JWKS", conflicts_with_all = ["jwt_secret", "jwt_public_key"])]
    pub jwt_jwks: Option<String>,
    /// The issuer tokens must name (`iss`), whatever their algorithm.
    #[arg(long, env = "FIELDGUARD_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The audience tokens must name (`aud`), whatever their algorithm; without it any
    /// audience is accepted.
    #[arg(long, env = "FIELDGUARD_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The claim that names the user by email (e.g. `email`, matched in any case), for tokens
    /// from an identity provider; by default `sub` is Fieldguard's user id.
    #[arg(long, env = "FIELDGUARD_JWT_USER_CLAIM")]
    pub jwt_user_claim: Option<String>,
    /// Key that seals secrets at rest (RDP passwords), as 64 hexadecimal digits. Without it one
    /// is generated and kept in the data directory (`sealing-key`).
    #[arg(long, env = "FIELDGUARD_SEALING_KEY", hide_env_values = true)]
    pub sealing_key: Option<String>,
}

/// `fieldguard serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Where data and secrets live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on: `host:port` (the host a name such as `localhost`, or an address),
    /// or a bare port for `127.0.0.1`.
    #[arg(long, env = "FIELDGUARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A policy module to enforce instead of the built-in one; reloaded when it changes.
    #[arg(long, env = "FIELDGUARD_POLICY")]
    pub policy: Option<PathBuf>,
    /// The platform operator's credential, which the operator API (`fieldguard policy deploy`,
    /// …) requires; without it, this gateway has no operator API. At least 24 characters.
    #[arg(long, env = "FIELDGUARD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// The bearer token `GET /metrics` requires (in Prometheus, a scrape job's
    /// `authorization: { credentials: … }`); without it, anyone who reaches the port reads
    /// the metrics. At least 24 characters; prefer the environment variable.
    #[arg(long, env = "FIELDGUARD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Load the demo data if the database is empty, and print a token for every demo user
    /// (`FIELDGUARD_DEMO` takes 1/0, true/false, yes/no, on/off).
    #[arg(long, env = "FIELDGUARD_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
    /// A browser origin allowed to call the API, e.g. `https://app.example.com`, or `*` for
    /// any; repeatable (`FIELDGUARD_CORS_ORIGINS` takes a comma-separated list). None by
    /// default: browsers then call the API only from its own origin.
    #[arg(long = "cors-origin", env = "FIELDGUARD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Run only the documents of this list (Apollo's persisted query manifest, or a JSON
    /// object of SHA-256 → document); clients send a document or its hash, anything else is
    /// refused. The operator's requests are exempt.
    #[arg(long, env = "FIELDGUARD_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<PathBuf>,
    /// What one request may ask.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The limits of `fieldguard serve`; each refusal has its own error code.
#[derive(Clone, Debug, Args)]
pub struct LimitArgs {
    /// How deeply the fields of a document may nest (`QUERY_TOO_DEEP`).
    #[arg(long, env = "FIELDGUARD_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,
    /// How many aliases a document may use, counted through its fragments
    /// (`TOO_MANY_ALIASES`).
    #[arg(long, env = "FIELDGUARD_MAX_ALIASES", default_value_t = 512)]
    pub max_aliases: u64,
    /// How many fields a document may select once its fragments are spread
    /// (`TOO_MANY_FIELDS`).
    #[arg(long, env = "FIELDGUARD_MAX_FIELDS", default_value_t = 10_000)]
    pub max_fields: u64,
    /// The complexity budget of a document: how many objects its lists could return, each
    /// page (`first`, 50 without) multiplying what is below it (`QUERY_TOO_COMPLEX`).
    #[arg(long, env = "FIELDGUARD_MAX_COMPLEXITY", default_value_t = 500_000)]
    pub max_complexity: u64,
    /// The largest request body, in bytes (`BODY_TOO_LARGE`).
    #[arg(long, env = "FIELDGUARD_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// The largest request body without valid credentials, in bytes (`BODY_TOO_LARGE`).
    #[arg(long, env = "FIELDGUARD_MAX_ANONYMOUS_BODY_BYTES", default_value_t = 16 << 10)]
    pub max_anonymous_body_bytes: usize,
    /// How long a caller may take to send a request body (`BODY_TIMEOUT`, HTTP 408): `30s`,
    /// `500ms`, `2m`, or seconds.
    #[arg(long, env = "FIELDGUARD_BODY_READ_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub body_read_timeout: Duration,
    /// How long a request may take to be answered once read (`REQUEST_TIMEOUT`, HTTP 504; a
    /// write in progress rolls back).
    #[arg(long, env = "FIELDGUARD_REQUEST_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub request_timeout: Duration,
    /// How long a connection may take to send a request head, from when it opens or last
    /// answered: slow headers and idle keep-alive connections are closed after it.
    #[arg(long, env = "FIELDGUARD_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub header_read_timeout: Duration,
    /// How many connections may be open at once; past it the oldest idle ones are closed
    /// (default: the process's limit of open files less 128, at most 10,000).
    #[arg(long, env = "FIELDGUARD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// How long shutdown (SIGTERM, Ctrl-C) waits for the requests in flight.
    #[arg(long, env = "FIELDGUARD_DRAIN_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub drain_timeout: Duration,
}

/// A duration flag: a number with `ms`, `s` or `m`, or a bare number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |at| (&text[..at], text[at..].trim()));
    let number: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration such as 30s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        _ => Err(format!("`{text}`: the unit is ms, s or m")),
    }
    .and_then(|d| {
        if d.is_zero() { Err("a timeout of zero would refuse everything".into()) } else { Ok(d) }
    })
}

impl LimitArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> crate::http::limits::Limits {
        let mut limits = crate::http::limits::Limits::default();
        limits.max_depth = self.max_depth;
        limits.max_aliases = self.max_aliases;
        limits.max_fields = self.max_fields;
        limits.max_complexity = self.max_complexity;
        limits.max_body_bytes = self.max_body_bytes;
        limits.max_anonymous_body_bytes = self.max_anonymous_body_bytes;
        limits.body_read_timeout = self.body_read_timeout;
        limits.request_timeout = self.request_timeout;
        limits
    }

    /// The bounds on connections these flags set.
    pub fn connections(&self) -> crate::http::connections::ConnectionLimits {
        crate::http::connections::ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            max_connections: self
                .max_connections
                .unwrap_or_else(crate::http::connections::default_max_connections),
            drain_timeout: self.drain_timeout,
        }
    }
}

impl ServeArgs {
    /// The address to bind: `--listen` as given, a bare port on 127.0.0.1.
    pub fn listen_address(&self) -> String {
        if !self.listen.is_empty() && self.listen.chars().all(|c| c.is_ascii_digit()) {
            format!("127.0.0.1:{}", self.listen)
        } else {
            self.listen.clone()
        }
    }
}

/// `fieldguard token`.
#[derive(Clone, Debug, Args)]
pub struct TokenArgs {
    /// Where data and secrets live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The user: an email address or a user id.
    #[arg(long)]
    pub user: String,
    /// The team to act in: a team id or name (default: the user's first team).
    #[arg(long)]
    pub team: Option<String>,
    /// How long the token is valid, in hours.
    #[arg(long, default_value_t = 24)]
    pub hours: u64,
}

/// Where the data is, resolved.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database URL.
    pub database_url: String,
}

impl StoreArgs {
    /// The database URL to use.
    pub fn resolve(&self) -> Result<StoreConfig, Error> {
        std::fs::create_dir_all(&self.data_dir).map_err(|cause| Error::Io {
            what: format!("creating the data directory {}", self.data_dir.display()),
            cause,
        })?;
        let database_url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("fieldguard.db").display()),
        };
        Ok(StoreConfig { data_dir: self.data_dir.clone(), database_url })
    }

    /// What seals secrets at rest: the configured key, or the one kept in the data directory.
    pub fn sealer(&self) -> Result<Sealer, Error> {
        match &self.sealing_key {
            Some(key) => Sealer::from_hex(key),
            None => Sealer::stored(&self.data_dir),
        }
    }

    /// Where the data is, for commands that read existing data (`token`): without a database
    /// URL, the data directory must exist already, so that running one in the wrong directory
    /// says so instead of creating an empty one.
    pub fn resolve_existing(&self) -> Result<StoreConfig, Error> {
        if self.database_url.is_none() && !self.data_dir.join("fieldguard.db").is_file() {
            return Err(Error::Config(format!(
                "there is no database in {}; run this where the server keeps its data, or pass \
                 --data-dir or --database-url",
                self.data_dir.display()
            )));
        }
        self.resolve()
    }

    /// The token verifier, and whether a secret was generated just now.
    pub fn authenticator(&self) -> Result<(Authenticator, bool), Error> {
        let (auth, generated) = self.verifier()?;
        let auth = auth
            .expecting(self.jwt_issuer.as_deref(), self.jwt_audience.as_deref())
            .identifying_by(self.jwt_user_claim.as_deref());
        Ok((auth, generated))
    }

    fn verifier(&self) -> Result<(Authenticator, bool), Error> {
        if let Some(location) = &self.jwt_jwks {
            return Ok((Authenticator::jwks(crate::http::jwks::KeySet::new(location)), false));
        }
        if let Some(path) = &self.jwt_public_key {
            let pem = std::fs::read(path).map_err(|cause| Error::Io {
                what: format!("reading the public key {}", path.display()),
                cause,
            })?;
            return Ok((Authenticator::public_key(&pem)?, false));
        }
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < 16 {
                return Err(Error::Config("the JWT secret must be at least 16 characters".into()));
            }
            return Ok((Authenticator::hs256(secret.as_bytes()), false));
        }
        let (secret, generated) = auth::stored_secret(&self.data_dir)?;
        Ok((Authenticator::hs256(&secret), generated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from([&["fieldguard", "serve"], args].concat());
        match cli.map(|cli| cli.command) {
            Ok(Command::Serve(args)) => args,
            other => panic!("not a serve command: {other:?}"),
        }
    }

    #[test]
    fn listen_takes_an_address_a_host_name_or_a_bare_port() {
        assert_eq!(serve(&[]).listen_address(), "127.0.0.1:8080");
        assert_eq!(serve(&["--listen", "9090"]).listen_address(), "127.0.0.1:9090");
        assert_eq!(serve(&["--listen", "localhost:8081"]).listen_address(), "localhost:8081");
        assert_eq!(serve(&["--listen", "0.0.0.0:80"]).listen_address(), "0.0.0.0:80");
    }
}
