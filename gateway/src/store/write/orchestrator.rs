//! Orchestrator settings and bot runners: the Orchestrator ADMIN's console (domain §4), and the
//! RDP credentials a DEVELOPER may set inside their groups.
//!
//! Secrets are write-only: an RDP password is sealed before it is stored, a registration token
//! is stored as its hash and returned once; neither reaches an audit entry or a log line.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set,
};
use serde_json::json;

use super::{Audit, Changes, Write, named, target_id};
use crate::authz::{Action, Resource};
use crate::error::Error;
use crate::store::entity::*;
use crate::store::secrets::{self, Sealer};

/// The longest orchestrator name.
pub const MAX_NAME: usize = 100;
/// The longest RDP user name.
pub const MAX_RDP_USERNAME: usize = 256;
/// The longest RDP password.
pub const MAX_RDP_PASSWORD: usize = 1024;
/// How long a registration token stays valid.
pub const TOKEN_VALIDITY_HOURS: i64 = 24;

/// The settings of an orchestrator to change; each one given is its own action.
#[derive(Default)]
pub struct OrchestratorChange {
    /// A new name.
    pub name: Option<String>,
    /// The API integration on or off.
    pub api_integration_enabled: Option<bool>,
    /// The Zapier integration on or off.
    pub zapier_enabled: Option<bool>,
    /// Multitenancy on or off.
    pub multitenancy_enabled: Option<bool>,
}

/// The security groups an orchestrator is attached to.
async fn orchestrator_groups(w: &Write<'_>, id: i32) -> Result<Vec<i32>, Error> {
    Ok(security_group::Entity::find()
        .select_only()
        .column(security_group::Column::Id)
        .filter(security_group::Column::OrchestratorId.eq(id))
        .into_tuple()
        .all(w.db())
        .await?)
}

/// The security groups of a bot runner.
async fn runner_groups(w: &Write<'_>, id: i32) -> Result<Vec<i32>, Error> {
    Ok(bot_runner_security_group::Entity::find()
        .select_only()
        .column(bot_runner_security_group::Column::SecurityGroupId)
        .filter(bot_runner_security_group::Column::BotRunnerId.eq(id))
        .into_tuple()
        .all(w.db())
        .await?)
}

/// Changes an orchestrator's settings. Each setting given is decided as its own action, all in
/// one batch; a setting given with its current value changes nothing and is not audited.
pub async fn update(
    w: &Write<'_>,
    id: i32,
    change: OrchestratorChange,
) -> Result<orchestrator::Model, Error> {
    let row = w.visible::<orchestrator::Entity>(id).await?;
    let groups = orchestrator_groups(w, id).await?;
    let resource = || Resource::grouped("Orchestrator", groups.iter().copied());
    let name = change.name.map(|name| named("an orchestrator", &name, MAX_NAME)).transpose()?;
    let flags = [
        ("set-orchestrator-multitenancy", "multitenancy", change.multitenancy_enabled),
        (
            "configure-orchestrator-api-integration",
            "the API integration",
            change.api_integration_enabled,
        ),
        ("configure-orchestrator-zapier", "the Zapier integration", change.zapier_enabled),
    ];
    let mut asked = Vec::new();
    if name.is_some() {
        asked.push((
            resource(),
            Action::named("rename-orchestrator"),
            format!("rename orchestrator {}", row.name),
        ));
    }
    for (action, words, value) in flags {
        if value.is_some() {
            asked.push((
                resource(),
                Action::named(action),
                format!("change {words} of orchestrator {}", row.name),
            ));
        }
    }
    w.authorize_all(asked)?;

    let mut changes = Changes::default();
    let mut changed = row.clone().into_active_model();
    if let Some(name) = changes.of("name", &row.name, name) {
        changed.name = Set(name);
    }
    let api = &row.api_integration_enabled;
    if let Some(on) = changes.of("apiIntegrationEnabled", api, change.api_integration_enabled) {
        changed.api_integration_enabled = Set(on);
    }
    if let Some(on) = changes.of("zapierEnabled", &row.zapier_enabled, change.zapier_enabled) {
        changed.zapier_enabled = Set(on);
    }
    let tenancy = &row.multitenancy_enabled;
    if let Some(on) = changes.of("multitenancyEnabled", tenancy, change.multitenancy_enabled) {
        changed.multitenancy_enabled = Set(on);
    }
    if changes.is_empty() {
        return Ok(row);
    }
    let row = changed.update(w.db()).await?;
    w.audit(Audit {
        action: "orchestrator.updated",
        target: row.name.clone(),
        target_id: target_id("Orchestrator", row.id),
        security_groups: groups,
        details: changes.details(),
    })
    .await?;
    Ok(row)
}

/// A visible bot runner, its groups, and the resource it is to the policy.
async fn runner(w: &Write<'_>, id: i32) -> Result<(bot_runner::Model, Vec<i32>, Resource), Error> {
    let row = w.visible::<bot_runner::Entity>(id).await?;
    let groups = runner_groups(w, id).await?;
    let resource = Resource::grouped("BotRunner", groups.iter().copied());
    Ok((row, groups, resource))
}

/// Approves a bot runner (it may take work) or rejects it (it may not, from now on).
pub async fn approve_runner(
    w: &Write<'_>,
    id: i32,
    approved: bool,
) -> Result<bot_runner::Model, Error> {
    let (row, groups, resource) = runner(w, id).await?;
    w.authorize(
        resource,
        Action::named("approve-bot-runner"),
        &format!("approve or reject bot runner {}", row.machine_name),
    )?;
    let state = if approved { ApprovalState::Approved } else { ApprovalState::Rejected };
    if row.approval_state == state {
        return Ok(row);
    }
    let before = row.approval_state;
    let mut changed = row.into_active_model();
    changed.approval_state = Set(state);
    let row = changed.update(w.db()).await?;
    w.audit(Audit {
        action: if approved { "bot_runner.approved" } else { "bot_runner.rejected" },
        target: row.machine_name.clone(),
        target_id: target_id("BotRunner", row.id),
        security_groups: groups,
        details: json!({ "approvalState": { "from": before.to_value(), "to": state.to_value() } }),
    })
    .await?;
    Ok(row)
}

/// A registration token just created: shown once, stored only as its hash.
pub struct NewToken {
    /// The token itself.
    pub token: String,
    /// Its stored row.
    pub row: registration_token::Model,
    /// The security groups of its bot runner.
    pub security_groups: Vec<i32>,
}

/// Creates a registration token for a bot runner.
pub async fn create_token(w: &Write<'_>, id: i32) -> Result<NewToken, Error> {
    let (runner, groups, resource) = runner(w, id).await?;
    w.authorize(
        resource,
        Action::named("create-registration-token"),
        &format!("create registration tokens for bot runner {}", runner.machine_name),
    )?;
    let token = secrets::new_registration_token();
    let now = Utc::now();
    let row = registration_token::ActiveModel {
        bot_runner_id: Set(runner.id),
        token_hash: Set(secrets::token_hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(TOKEN_VALIDITY_HOURS)),
        used: Set(false),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    w.audit(Audit {
        action: "bot_runner.token_created",
        target: runner.machine_name.clone(),
        target_id: target_id("BotRunner", runner.id),
        security_groups: groups.clone(),
        details: json!({ "tokenId": row.id, "expiresAt": row.expires_at }),
    })
    .await?;
    Ok(NewToken { token, row, security_groups: groups })
}

/// Sets a bot runner's RDP credentials: the user name as given, the password sealed.
pub async fn set_rdp_credentials(
    w: &Write<'_>,
    sealer: &Sealer,
    id: i32,
    username: &str,
    password: &str,
) -> Result<bot_runner::Model, Error> {
    let (row, groups, resource) = runner(w, id).await?;
    w.authorize(
        resource,
        Action::named("set-rdp-credentials"),
        &format!("set the RDP credentials of bot runner {}", row.machine_name),
    )?;
    let username = username.trim();
    if username.is_empty() || username.chars().count() > MAX_RDP_USERNAME {
        return Err(Error::InvalidInput(format!(
            "an RDP user name has 1 to {MAX_RDP_USERNAME} characters"
        )));
    }
    if password.is_empty() || password.chars().count() > MAX_RDP_PASSWORD {
        return Err(Error::InvalidInput(format!(
            "an RDP password has 1 to {MAX_RDP_PASSWORD} characters"
        )));
    }
    let replaced = row.rdp_secret.is_some();
    let mut changed = row.into_active_model();
    changed.rdp_username = Set(Some(username.to_owned()));
    changed.rdp_secret = Set(Some(sealer.seal(password)?));
    let row = changed.update(w.db()).await?;
    w.audit(Audit {
        action: "bot_runner.rdp_configured",
        target: row.machine_name.clone(),
        target_id: target_id("BotRunner", row.id),
        security_groups: groups,
        details: json!({ "username": username, "replaced": replaced }),
    })
    .await?;
    Ok(row)
}
