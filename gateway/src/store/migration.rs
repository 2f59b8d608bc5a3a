//! The database schema, as SeaORM migrations.
//!
//! Every statement is idempotent (`IF NOT EXISTS`), so that two processes opening a fresh
//! database at once both succeed (see [`super::open`]).
//!
//! The DDL is written out in SQL that SQLite and PostgreSQL both accept, with two words
//! substituted per backend (the auto-increment key and the timestamp type), so the whole
//! schema reads in one place. The invariants of domain §2–§3 that a constraint can hold are
//! held here:
//!
//! * one owner per team: a partial unique index on `memberships`;
//! * an email is one user: stored lower-case, unique;
//! * a security group has at most one orchestrator, a workflow at most one security group:
//!   both are single columns;
//! * a bot runner assigned to a workflow under a security group is in that group: the link
//!   row carries the group, and composite foreign keys tie it to both the workflow's group and
//!   the runner's membership of it (the service layer always copies the workflow's group).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

/// Every migration, in order.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(InitialSchema),
            Box::new(ManagementWrites),
            Box::new(DailyWork),
            Box::new(PolicyVersions),
            Box::new(DatabaseInstance),
            Box::new(AccessChanges),
        ]
    }
}

struct InitialSchema;

impl MigrationName for InitialSchema {
    fn name(&self) -> &str {
        "m0001_initial_schema"
    }
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS teams (
    id {ID},
    name TEXT NOT NULL,
    advanced_access_management BOOLEAN NOT NULL DEFAULT FALSE,
    billing_plan TEXT NOT NULL,
    created_at {TS} NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id {ID},
    email TEXT NOT NULL UNIQUE CHECK (email = LOWER(email)),
    display_name TEXT NOT NULL,
    status VARCHAR(32) NOT NULL CHECK (status IN ('ACTIVE', 'LOCKED')),
    created_at {TS} NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    portal_role VARCHAR(32) NOT NULL
        CHECK (portal_role IN ('OWNER', 'ADMIN', 'SECURITY_ADMIN', 'MEMBER', 'BILLING_CONTACT')),
    orchestrator_role VARCHAR(32) CHECK (orchestrator_role IN ('ADMIN', 'DEVELOPER', 'OPERATOR', 'ANALYST')),
    process_hub_role VARCHAR(32) CHECK (process_hub_role IN ('ADMINISTRATOR', 'PROCESS_MANAGER', 'USER')),
    audit_log_access BOOLEAN NOT NULL DEFAULT FALSE,
    joined_at {TS} NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_owner_per_team ON memberships (team_id) WHERE portal_role = 'OWNER';
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships (user_id);
CREATE TABLE IF NOT EXISTS membership_products (
    membership_id INTEGER NOT NULL REFERENCES memberships(id) ON DELETE CASCADE,
    product VARCHAR(32) NOT NULL
        CHECK (product IN ('STUDIO_PRO', 'BOT_RUNNER', 'ORCHESTRATOR', 'PROCESS_HUB', 'INTEGRABOTS')),
    PRIMARY KEY (membership_id, product)
);
CREATE TABLE IF NOT EXISTS invitations (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    email TEXT NOT NULL CHECK (email = LOWER(email)),
    portal_role VARCHAR(32) NOT NULL CHECK (portal_role IN ('ADMIN', 'SECURITY_ADMIN', 'MEMBER', 'BILLING_CONTACT')),
    products TEXT NOT NULL,
    invited_by INTEGER NOT NULL REFERENCES users(id),
    status VARCHAR(32) NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'REVOKED')),
    created_at {TS} NOT NULL,
    expires_at {TS} NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_pending_invitation ON invitations (team_id, email) WHERE status = 'PENDING';
CREATE TABLE IF NOT EXISTS orchestrators (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    api_integration_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    zapier_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    multitenancy_enabled BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS security_groups (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    orchestrator_id INTEGER REFERENCES orchestrators(id) ON DELETE SET NULL,
    UNIQUE (team_id, name)
);
CREATE TABLE IF NOT EXISTS security_group_members (
    security_group_id INTEGER NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (security_group_id, user_id)
);
CREATE INDEX IF NOT EXISTS security_group_members_by_user ON security_group_members (user_id);
CREATE TABLE IF NOT EXISTS workflows (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    orchestrator_id INTEGER NOT NULL REFERENCES orchestrators(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    current_version INTEGER NOT NULL DEFAULT 1,
    schedule TEXT,
    webhook_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    logging_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    security_group_id INTEGER REFERENCES security_groups(id) ON DELETE SET NULL,
    UNIQUE (id, security_group_id)
);
CREATE INDEX IF NOT EXISTS workflows_by_orchestrator ON workflows (orchestrator_id);
CREATE INDEX IF NOT EXISTS workflows_by_security_group ON workflows (security_group_id);
CREATE TABLE IF NOT EXISTS workflow_versions (
    id {ID},
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    published_at {TS} NOT NULL,
    published_by INTEGER NOT NULL REFERENCES users(id),
    UNIQUE (workflow_id, number)
);
CREATE TABLE IF NOT EXISTS output_variables (
    id {ID},
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS output_variables_by_workflow ON output_variables (workflow_id);
CREATE TABLE IF NOT EXISTS execution_logs (
    id {ID},
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    at {TS} NOT NULL,
    level VARCHAR(32) NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS execution_logs_by_workflow ON execution_logs (workflow_id);
CREATE TABLE IF NOT EXISTS queue_items (
    id {ID},
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    enqueued_at {TS} NOT NULL,
    status VARCHAR(32) NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_items_by_workflow ON queue_items (workflow_id);
CREATE TABLE IF NOT EXISTS bot_runners (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    machine_name TEXT NOT NULL,
    approval_state VARCHAR(32) NOT NULL CHECK (approval_state IN ('PENDING', 'APPROVED', 'REJECTED')),
    rdp_secret TEXT,
    last_seen_at {TS}
);
CREATE TABLE IF NOT EXISTS bot_runner_security_groups (
    bot_runner_id INTEGER NOT NULL REFERENCES bot_runners(id) ON DELETE CASCADE,
    security_group_id INTEGER NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (bot_runner_id, security_group_id)
);
CREATE INDEX IF NOT EXISTS bot_runner_security_groups_by_group ON bot_runner_security_groups (security_group_id);
CREATE TABLE IF NOT EXISTS workflow_bot_runners (
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    bot_runner_id INTEGER NOT NULL REFERENCES bot_runners(id) ON DELETE CASCADE,
    security_group_id INTEGER,
    PRIMARY KEY (workflow_id, bot_runner_id),
    FOREIGN KEY (workflow_id, security_group_id) REFERENCES workflows(id, security_group_id),
    FOREIGN KEY (bot_runner_id, security_group_id)
        REFERENCES bot_runner_security_groups(bot_runner_id, security_group_id)
);
CREATE TABLE IF NOT EXISTS registration_tokens (
    id {ID},
    bot_runner_id INTEGER NOT NULL REFERENCES bot_runners(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    created_at {TS} NOT NULL,
    expires_at {TS} NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS registration_tokens_by_runner ON registration_tokens (bot_runner_id);
CREATE TABLE IF NOT EXISTS processes (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at {TS} NOT NULL
);
CREATE TABLE IF NOT EXISTS process_launchers (
    process_id INTEGER NOT NULL REFERENCES processes(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (process_id, user_id)
);
CREATE INDEX IF NOT EXISTS process_launchers_by_user ON process_launchers (user_id);
CREATE TABLE IF NOT EXISTS process_security_groups (
    process_id INTEGER NOT NULL REFERENCES processes(id) ON DELETE CASCADE,
    security_group_id INTEGER NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (process_id, security_group_id)
);
CREATE INDEX IF NOT EXISTS process_security_groups_by_group ON process_security_groups (security_group_id);
CREATE TABLE IF NOT EXISTS jobs (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    process_id INTEGER NOT NULL REFERENCES processes(id) ON DELETE CASCADE,
    launched_by INTEGER NOT NULL REFERENCES users(id),
    state VARCHAR(32) NOT NULL,
    started_at {TS} NOT NULL,
    finished_at {TS}
);
CREATE INDEX IF NOT EXISTS jobs_by_process ON jobs (process_id);
CREATE TABLE IF NOT EXISTS forms (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    field_names TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS tasks (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    assignee_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    state VARCHAR(32) NOT NULL,
    form_id INTEGER REFERENCES forms(id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks (job_id);
CREATE TABLE IF NOT EXISTS audit_entries (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    at {TS} NOT NULL,
    actor_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_entries_by_team ON audit_entries (team_id, at);
CREATE TABLE IF NOT EXISTS audit_entry_security_groups (
    audit_entry_id INTEGER NOT NULL REFERENCES audit_entries(id) ON DELETE CASCADE,
    security_group_id INTEGER NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (audit_entry_id, security_group_id)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for InitialSchema {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager.get_connection(), SCHEMA).await
    }
}

/// Runs the statements of `sql` in order, with the backend's words for `{ID}` and `{TS}`.
async fn run(db: &impl ConnectionTrait, sql: &str) -> Result<(), DbErr> {
    let (id, timestamp, bytes) = match db.get_database_backend() {
        DbBackend::Postgres => {
            ("INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "TIMESTAMPTZ", "BYTEA")
        }
        _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "BLOB"),
    };
    let sql = sql.replace("{ID}", id).replace("{TS}", timestamp).replace("{BYTES}", bytes);
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// The write side of access management: suspended memberships, the product roles an
/// invitation offers, and the global id of an audit entry's target.
struct ManagementWrites;

impl MigrationName for ManagementWrites {
    fn name(&self) -> &str {
        "m0002_management_writes"
    }
}

const MANAGEMENT_WRITES: &str = r#"
ALTER TABLE memberships ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE invitations ADD COLUMN orchestrator_role VARCHAR(32)
    CHECK (orchestrator_role IN ('ADMIN', 'DEVELOPER', 'OPERATOR', 'ANALYST'));
ALTER TABLE invitations ADD COLUMN process_hub_role VARCHAR(32)
    CHECK (process_hub_role IN ('ADMINISTRATOR', 'PROCESS_MANAGER', 'USER'));
ALTER TABLE audit_entries ADD COLUMN target_id TEXT;
CREATE INDEX IF NOT EXISTS audit_entries_by_action ON audit_entries (team_id, action);
CREATE INDEX IF NOT EXISTS invitations_by_team ON invitations (team_id, email)
"#;

#[async_trait::async_trait]
impl MigrationTrait for ManagementWrites {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager.get_connection(), MANAGEMENT_WRITES).await
    }
}

/// Daily work on automation objects: workflow runs and their logs, work item payloads, RDP
/// user names, retried jobs, the form a process's task collects, a task's filled-in values.
struct DailyWork;

impl MigrationName for DailyWork {
    fn name(&self) -> &str {
        "m0003_daily_work"
    }
}

const DAILY_WORK: &str = r#"
CREATE TABLE IF NOT EXISTS workflow_runs (
    id {ID},
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    bot_runner_id INTEGER REFERENCES bot_runners(id) ON DELETE SET NULL,
    started_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    state VARCHAR(32) NOT NULL
        CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    started_at {TS} NOT NULL,
    finished_at {TS}
);
CREATE INDEX IF NOT EXISTS workflow_runs_by_workflow ON workflow_runs (workflow_id);
ALTER TABLE execution_logs ADD COLUMN run_id INTEGER REFERENCES workflow_runs(id) ON DELETE CASCADE;
ALTER TABLE execution_logs ADD COLUMN stream VARCHAR(32) NOT NULL DEFAULT 'EXECUTION'
    CHECK (stream IN ('EXECUTION', 'CONSOLE'));
CREATE INDEX IF NOT EXISTS execution_logs_by_run ON execution_logs (run_id);
ALTER TABLE queue_items ADD COLUMN payload TEXT NOT NULL DEFAULT '';
ALTER TABLE bot_runners ADD COLUMN rdp_username TEXT;
ALTER TABLE jobs ADD COLUMN retry_of INTEGER REFERENCES jobs(id) ON DELETE SET NULL;
ALTER TABLE processes ADD COLUMN form_id INTEGER REFERENCES forms(id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN field_values TEXT;
ALTER TABLE tasks ADD COLUMN completed_at {TS};
ALTER TABLE tasks ADD COLUMN completed_by INTEGER REFERENCES users(id) ON DELETE SET NULL
"#;

#[async_trait::async_trait]
impl MigrationTrait for DailyWork {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager.get_connection(), DAILY_WORK).await
    }
}

/// The policy lifecycle: every module ever deployed, and the history of which one was in
/// force (the latest activation is the one in force on every gateway of the database).
struct PolicyVersions;

impl MigrationName for PolicyVersions {
    fn name(&self) -> &str {
        "m0004_policy_versions"
    }
}

const POLICY_VERSIONS: &str = r#"
CREATE TABLE IF NOT EXISTS policy_versions (
    hash VARCHAR(80) PRIMARY KEY,
    name TEXT NOT NULL,
    contract TEXT NOT NULL,
    size INTEGER NOT NULL,
    module {BYTES} NOT NULL,
    deployed_by TEXT NOT NULL,
    note TEXT,
    deployed_at {TS} NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_activations (
    id {ID},
    hash VARCHAR(80) NOT NULL REFERENCES policy_versions(hash),
    kind VARCHAR(16) NOT NULL CHECK (kind IN ('DEPLOY', 'ACTIVATE', 'ROLLBACK')),
    activated_by TEXT NOT NULL,
    activated_at {TS} NOT NULL
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for PolicyVersions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager.get_connection(), POLICY_VERSIONS).await
    }
}

/// A random id of this database, made when it is created: the tokens a gateway mints name it,
/// so a database deleted and created again does not revive the tokens of the old one.
struct DatabaseInstance;

impl MigrationName for DatabaseInstance {
    fn name(&self) -> &str {
        "m0005_database_instance"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for DatabaseInstance {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        run(db, "CREATE TABLE IF NOT EXISTS database_instance (id VARCHAR(64) PRIMARY KEY)")
            .await?;
        let id: String = rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect();
        // Two processes migrating at once may both insert; the smallest id is the one read.
        run(
            db,
            &format!(
                "INSERT INTO database_instance (id) SELECT '{id}' \
                 WHERE NOT EXISTS (SELECT 1 FROM database_instance)"
            ),
        )
        .await
    }
}

/// A count of the changes to what a principal is made of (users, memberships and their
/// products, teams, security groups and their members), kept by triggers, so that a change
/// counts whatever made it: a mutation of any gateway, `fieldguard import-members`, or SQL
/// run by hand. Every gateway reads it to know when the principals it keeps are out of date
/// (see [`super::principals`]).
struct AccessChanges;

impl MigrationName for AccessChanges {
    fn name(&self) -> &str {
        "m0006_access_changes"
    }
}

/// The tables a principal is read from.
pub const ACCESS_TABLES: [&str; 6] = [
    "users",
    "memberships",
    "membership_products",
    "teams",
    "security_groups",
    "security_group_members",
];

#[async_trait::async_trait]
impl MigrationTrait for AccessChanges {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        run(
            db,
            "CREATE TABLE IF NOT EXISTS access_changes \
             (id INTEGER PRIMARY KEY, changes BIGINT NOT NULL DEFAULT 0); \
             INSERT INTO access_changes (id, changes) SELECT 0, 0 \
             WHERE NOT EXISTS (SELECT 1 FROM access_changes)",
        )
        .await?;
        // Trigger bodies hold semicolons: each statement is sent whole.
        let count = "UPDATE access_changes SET changes = changes + 1";
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(&format!(
                "CREATE OR REPLACE FUNCTION count_access_change() RETURNS trigger AS $$ \
                 BEGIN {count}; RETURN NULL; END $$ LANGUAGE plpgsql"
            ))
            .await?;
            for table in ACCESS_TABLES {
                let name = format!("{table}_count_access_change");
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name} ON {table}")).await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} \
                     FOR EACH STATEMENT EXECUTE FUNCTION count_access_change()"
                ))
                .await?;
            }
        } else {
            for table in ACCESS_TABLES {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    let name = format!("{table}_count_access_{}", event.to_lowercase());
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} \
                         BEGIN {count}; END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// The id of this database (see [`DatabaseInstance`]).
pub async fn instance_id(db: &impl ConnectionTrait) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT MIN(id) FROM database_instance",
        ))
        .await?;
    let id: Option<String> = row.map(|row| row.try_get_by_index(0)).transpose()?.flatten();
    id.ok_or_else(|| DbErr::RecordNotFound("the database has no instance id".into()))
}
