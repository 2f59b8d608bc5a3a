//! The `fieldguard` command line: parses flags and runs the command.
//!
//! * `serve`, `seed`, `token`, `import-members`, `schema`: here.
//! * [`policy`]: `fieldguard policy …`, testing a module and managing deployed versions.

pub mod policy;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::net::TcpListener;

use crate::authz::LoadedPolicy;
use crate::authz::watch::PolicyWatcher;
use crate::config::{
    Cli, Command, ImportArgs, LogFormat, PolicyCommand, ServeArgs, StoreArgs, TokenArgs,
};
use crate::http::auth::{Authenticator, SharedToken};
use crate::store::entity::{membership, team, user};
use crate::{AppState, demo, graphql, store};

/// How long demo tokens printed at start are valid.
const DEMO_TOKEN_HOURS: u64 = 24 * 7;

/// Runs the command line: `fieldguard …`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "fieldguard=info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().with_current_span(false).with_span_list(true).init(),
        // Colour only for a person at a terminal, never into a log file.
        LogFormat::Text => {
            logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Seed(args) => seed(args).await,
        Command::Token(args) => token(args).await,
        Command::ImportMembers(args) => import_members(args).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Policy(command) => policy(command).await,
        Command::Explain(args) => Ok(policy::explain(&args).await?),
    }
}

async fn policy(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Test { module, cases } => {
            let passed =
                tokio::task::spawn_blocking(move || policy::test(&module, cases.as_deref()))
                    .await??;
            anyhow::ensure!(passed, "the module fails some of its checks (see above)");
            Ok(())
        }
        PolicyCommand::Diff { old, new, data_dir, database_url } => {
            let same =
                policy::diff(&old, &new, data_dir.as_deref(), database_url.as_deref()).await?;
            anyhow::ensure!(same, "the two versions decide differently (see above)");
            Ok(())
        }
        PolicyCommand::Deploy { file, cases, note, no_activate, server } => {
            let (cases, note) = (cases.as_deref(), note.as_deref());
            Ok(policy::deploy(&server, &file, cases, note, !no_activate).await?)
        }
        PolicyCommand::Versions { server } => Ok(policy::versions(&server).await?),
        PolicyCommand::Activate { hash, server } => Ok(policy::activate(&server, &hash).await?),
        PolicyCommand::Shadow { hash, stop, server } => {
            Ok(policy::shadow(&server, hash.as_deref(), stop).await?)
        }
        PolicyCommand::Rollback { server } => Ok(policy::rollback(&server).await?),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.store.resolve()?;
    let (auth, generated) = args.store.authenticator()?;
    if generated {
        tracing::warn!(
            path = %config.data_dir.join("jwt-secret").display(),
            "no JWT secret configured: generated one and stored it in the data directory"
        );
    }
    let policy = load_policy(args.policy.as_deref())?;
    let operator = args.operator_token.as_deref();
    let operator = operator.map(|token| SharedToken::new("operator token", token)).transpose()?;
    let metrics = args.metrics_token.as_deref();
    let metrics = metrics.map(|token| SharedToken::new("metrics token", token)).transpose()?;
    let cors = crate::http::cors::Origins::parse(&args.cors_origins)?;
    let sealer = args.store.sealer()?;
    let trusted = match &args.trusted_documents {
        None => None,
        Some(path) => {
            let manifest = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the trusted documents {}", path.display()))?;
            Some(crate::http::persisted::PersistedQueries::trusted(&manifest)?)
        }
    };
    // The address first: on a port in use nothing is migrated, seeded or printed.
    let listen = args.listen_address();
    let listener = TcpListener::bind(listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    auth.load_keys().await?;
    let db = store::open(&config.database_url).await?;
    let auth = auth.bound_to(store::migration::instance_id(&db).await?);
    if args.demo {
        let users = demo::seed(&db, &sealer).await?;
        print_tokens(&auth, &users, address)?;
    }
    let state = AppState::new(db, policy, auth, sealer)
        .with_operator(operator)
        .with_metrics_token(metrics)
        .with_cors(cors)
        .with_limits(args.limits.limits())
        .with_connections(args.limits.connections());
    let state = match trusted {
        Some(trusted) => {
            tracing::info!(
                documents = trusted.trusted_count().unwrap_or_default(),
                "only trusted documents run"
            );
            state.with_trusted_documents(trusted)
        }
        None => state,
    };
    // The version deployed to the database is in force, unless a policy file is given: the
    // developer's loop then wins until the next deploy or activation.
    if args.policy.is_some() {
        state.lifecycle.skip_stored().await?;
    } else if let Some(stored) = state.lifecycle.stored_active().await.context(
        "the policy version in force on this database does not load; start with --policy FILE \
         and activate another version",
    )? {
        state.policy.replace(stored);
    }
    let policy = state.policy.current();
    tracing::info!(name = %policy.info.name, hash = %policy.info.hash, source = %policy.info.source, "policy loaded");
    state.lifecycle.clone().spawn_follower();
    if state.operator.is_none() {
        tracing::info!("no operator token configured: the operator API (policy deploy, …) is off");
    }
    if state.metrics_token.is_none() {
        tracing::info!("no metrics token configured: /metrics is open to whoever reaches the port");
    }
    let _watcher = match &args.policy {
        Some(path) => Some(PolicyWatcher::start(path, state.policy.clone())?),
        None => None,
    };
    let shutdown = shutdown_signal();
    tracing::info!("serving on http://{address}/graphql");
    crate::serve(listener, state, shutdown).await?;
    Ok(())
}

/// The policy in `path`, or the built-in one.
fn load_policy(path: Option<&std::path::Path>) -> anyhow::Result<LoadedPolicy> {
    Ok(match path {
        Some(path) => LoadedPolicy::from_file(path)?,
        None => LoadedPolicy::builtin()?,
    })
}

/// Completes on Ctrl-C or SIGTERM (what service managers and container runtimes send): the
/// server then stops taking connections and lets the requests in flight finish. The handlers
/// are installed when this is called, before the server says it serves.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C shuts down gracefully");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing the requests in flight");
    }
}

async fn seed(args: StoreArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let (auth, _) = args.authenticator()?;
    let sealer = args.sealer()?;
    let db = store::open(&config.database_url).await?;
    let users = demo::seed(&db, &sealer).await?;
    print_tokens(&auth, &users, "127.0.0.1:8080".parse()?)
}

fn print_tokens(
    auth: &Authenticator,
    users: &[demo::DemoUser],
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    if !auth.can_mint() {
        println!("Demo users (tokens come from your identity provider; `sub` is the user id):\n");
        for user in users {
            println!("{:<28} id {:<4} {}", user.email, user.id, user.description);
        }
        return Ok(());
    }
    println!(
        "Demo users (tokens valid {} days; paste one into GraphiQL's Headers as",
        DEMO_TOKEN_HOURS / 24
    );
    println!("  {{\"Authorization\": \"Bearer <token>\"}}  at http://{listen}/graphql):\n");
    for user in users {
        let token = auth.mint(user.id, Some(user.team), DEMO_TOKEN_HOURS * 3600)?;
        println!("{:<28} {}\n  {token}\n", user.email, user.description);
    }
    Ok(())
}

/// A user by id or email.
async fn find_user(db: &sea_orm::DatabaseConnection, who: &str) -> anyhow::Result<user::Model> {
    match who.parse::<i32>() {
        Ok(id) => user::Entity::find_by_id(id).one(db).await?,
        Err(_) => {
            user::Entity::find().filter(user::Column::Email.eq(who.to_lowercase())).one(db).await?
        }
    }
    .with_context(|| format!("no user {who}"))
}

/// A team's id, by id or name.
async fn find_team(db: &sea_orm::DatabaseConnection, team: &str) -> anyhow::Result<i32> {
    Ok(match team.parse::<i32>() {
        Ok(id) => id,
        Err(_) => {
            team::Entity::find()
                .filter(team::Column::Name.eq(team))
                .one(db)
                .await?
                .with_context(|| format!("no team named {team}"))?
                .id
        }
    })
}

async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let config = args.store.resolve_existing()?;
    let (auth, _) = args.store.authenticator()?;
    let db = store::open(&config.database_url).await?;
    let auth = auth.bound_to(store::migration::instance_id(&db).await?);
    let user = find_user(&db, &args.user).await?;
    let team = match &args.team {
        None => None,
        Some(team) => Some(find_team(&db, team).await?),
    };
    if let Some(team) = team {
        membership::Entity::find()
            .filter(membership::Column::UserId.eq(user.id))
            .filter(membership::Column::TeamId.eq(team))
            .one(&db)
            .await?
            .with_context(|| format!("{} is not a member of team {team}", user.email))?;
    }
    println!("{}", auth.mint(user.id, team, args.hours * 3600)?);
    Ok(())
}

async fn import_members(args: ImportArgs) -> anyhow::Result<()> {
    use crate::authz::Guard;
    use crate::store::write::{Write, WriteTurns, import};

    let csv = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let config = args.store.resolve()?;
    let db = store::open(&config.database_url).await?;
    let team = find_team(&db, &args.team).await?;
    let actor = match &args.as_user {
        Some(who) => find_user(&db, who).await?.id,
        None => {
            membership::Entity::find()
                .filter(membership::Column::TeamId.eq(team))
                .filter(membership::Column::PortalRole.eq(crate::store::entity::PortalRole::Owner))
                .one(&db)
                .await?
                .with_context(|| format!("team {} has no owner", args.team))?
                .user_id
        }
    };
    let policy = load_policy(args.policy.as_deref())?;
    let principal = store::read::principal(&db, actor, Some(team)).await?;
    let guard = Guard::new(principal, std::sync::Arc::new(policy));
    let mut write = Write::begin(&db, &WriteTurns::for_database(&db), &guard, None, None).await?;
    let outcomes = import::import(&mut write, &csv).await?;
    write.commit().await?;
    let (mut invited, mut failed) = (0, 0);
    for outcome in &outcomes {
        let line = outcome.line.unwrap_or_default();
        let email = outcome.email.as_deref().unwrap_or("-");
        match &outcome.result {
            Ok(invitation) => {
                invited += 1;
                println!("line {line:>5}  {email}  invited (Invitation:{})", invitation.id);
            }
            Err(error) => {
                failed += 1;
                println!("line {line:>5}  {email}  {}: {}", error.code, error.message);
            }
        }
    }
    println!("{invited} invited, {failed} not");
    Ok(())
}
