//! SeaORM entities: one module per table.
//!
//! Relations between tables are read by explicit, batched queries in [`super::read`], so the
//! entities declare no SeaORM relations.

#![allow(missing_docs)] // Columns are documented by the migration that creates them.

pub mod enums;

pub use enums::*;

/// The global id of a row served as `type_name`: `Type:number` (e.g. `Workflow:12`), the form
/// the API's ids and audit entries use.
pub fn global_id(type_name: &str, id: i32) -> String {
    format!("{type_name}:{id}")
}

macro_rules! table {
    ($module:ident, $table:literal, { $($body:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;
            #[allow(unused_imports)]
            use super::enums::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($body)* }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

table!(team, "teams", {
    #[sea_orm(primary_key)] pub id: i32,
    pub name: String,
    pub advanced_access_management: bool,
    pub billing_plan: String,
    pub created_at: DateTimeUtc,
});

table!(user, "users", {
    #[sea_orm(primary_key)] pub id: i32,
    #[sea_orm(unique)] pub email: String,
    pub display_name: String,
    pub status: UserStatus,
    pub created_at: DateTimeUtc,
});

table!(membership, "memberships", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub user_id: i32,
    pub portal_role: PortalRole,
    pub orchestrator_role: Option<OrchestratorRole>,
    pub process_hub_role: Option<ProcessHubRole>,
    pub audit_log_access: bool,
    pub joined_at: DateTimeUtc,
    pub suspended: bool,
});

table!(membership_product, "membership_products", {
    #[sea_orm(primary_key, auto_increment = false)] pub membership_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub product: Product,
});

table!(invitation, "invitations", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub email: String,
    pub portal_role: PortalRole,
    pub products: String,
    pub invited_by: i32,
    pub status: InvitationStatus,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub orchestrator_role: Option<OrchestratorRole>,
    pub process_hub_role: Option<ProcessHubRole>,
});

table!(security_group, "security_groups", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub orchestrator_id: Option<i32>,
});

table!(security_group_member, "security_group_members", {
    #[sea_orm(primary_key, auto_increment = false)] pub security_group_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub user_id: i32,
});

table!(orchestrator, "orchestrators", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub name: String,
    pub api_integration_enabled: bool,
    pub zapier_enabled: bool,
    pub multitenancy_enabled: bool,
});

table!(workflow, "workflows", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub orchestrator_id: i32,
    pub name: String,
    pub current_version: i32,
    pub schedule: Option<String>,
    pub webhook_enabled: bool,
    pub logging_enabled: bool,
    pub security_group_id: Option<i32>,
});

table!(workflow_version, "workflow_versions", {
    #[sea_orm(primary_key)] pub id: i32,
    pub workflow_id: i32,
    pub number: i32,
    pub comment: String,
    pub published_at: DateTimeUtc,
    pub published_by: i32,
});

table!(output_variable, "output_variables", {
    #[sea_orm(primary_key)] pub id: i32,
    pub workflow_id: i32,
    pub name: String,
    pub value: String,
});

table!(execution_log, "execution_logs", {
    #[sea_orm(primary_key)] pub id: i32,
    pub workflow_id: i32,
    pub at: DateTimeUtc,
    pub level: LogLevel,
    pub message: String,
    pub run_id: Option<i32>,
    pub stream: LogStream,
});

table!(workflow_run, "workflow_runs", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub workflow_id: i32,
    pub version: i32,
    pub bot_runner_id: Option<i32>,
    pub started_by: Option<i32>,
    pub state: RunState,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
});

table!(queue_item, "queue_items", {
    #[sea_orm(primary_key)] pub id: i32,
    pub workflow_id: i32,
    pub enqueued_at: DateTimeUtc,
    pub status: RunState,
    pub payload: String,
});

table!(bot_runner, "bot_runners", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub machine_name: String,
    pub approval_state: ApprovalState,
    pub rdp_secret: Option<String>,
    pub last_seen_at: Option<DateTimeUtc>,
    pub rdp_username: Option<String>,
});

table!(bot_runner_security_group, "bot_runner_security_groups", {
    #[sea_orm(primary_key, auto_increment = false)] pub bot_runner_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub security_group_id: i32,
});

table!(workflow_bot_runner, "workflow_bot_runners", {
    #[sea_orm(primary_key, auto_increment = false)] pub workflow_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub bot_runner_id: i32,
    pub security_group_id: Option<i32>,
});

table!(registration_token, "registration_tokens", {
    #[sea_orm(primary_key)] pub id: i32,
    pub bot_runner_id: i32,
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used: bool,
});

table!(process, "processes", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub name: String,
    pub description: String,
    pub created_by: i32,
    pub created_at: DateTimeUtc,
    pub form_id: Option<i32>,
});

table!(process_launcher, "process_launchers", {
    #[sea_orm(primary_key, auto_increment = false)] pub process_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub user_id: i32,
});

table!(process_security_group, "process_security_groups", {
    #[sea_orm(primary_key, auto_increment = false)] pub process_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub security_group_id: i32,
});

table!(job, "jobs", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub process_id: i32,
    pub launched_by: i32,
    pub state: RunState,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub retry_of: Option<i32>,
});

table!(form, "forms", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub name: String,
    pub field_names: String,
});

impl form::Model {
    /// The names of its fields, in order (stored comma-separated).
    pub fn fields(&self) -> Vec<&str> {
        self.field_names.split(',').map(str::trim).filter(|f| !f.is_empty()).collect()
    }
}

table!(task, "tasks", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub job_id: i32,
    pub title: String,
    pub assignee_id: Option<i32>,
    pub state: TaskState,
    pub form_id: Option<i32>,
    pub field_values: Option<String>,
    pub completed_at: Option<DateTimeUtc>,
    pub completed_by: Option<i32>,
});

table!(audit_entry, "audit_entries", {
    #[sea_orm(primary_key)] pub id: i32,
    pub team_id: i32,
    pub at: DateTimeUtc,
    pub actor_id: Option<i32>,
    pub action: String,
    pub target: String,
    pub details: String,
    pub target_id: Option<String>,
});

table!(audit_entry_security_group, "audit_entry_security_groups", {
    #[sea_orm(primary_key, auto_increment = false)] pub audit_entry_id: i32,
    #[sea_orm(primary_key, auto_increment = false)] pub security_group_id: i32,
});

table!(policy_version, "policy_versions", {
    #[sea_orm(primary_key, auto_increment = false)] pub hash: String,
    pub name: String,
    pub contract: String,
    pub size: i32,
    pub module: Vec<u8>,
    pub deployed_by: String,
    pub note: Option<String>,
    pub deployed_at: DateTimeUtc,
});

table!(policy_activation, "policy_activations", {
    #[sea_orm(primary_key)] pub id: i32,
    pub hash: String,
    pub kind: String,
    pub activated_by: String,
    pub activated_at: DateTimeUtc,
});
