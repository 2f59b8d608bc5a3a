//! The team's own settings.

use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;

use super::{Audit, Write, target_id};
use crate::authz::{Action, Resource};
use crate::error::Error;
use crate::store::entity::*;

/// Turns Advanced Access Management on or off. Who sees what changes with the next request.
pub async fn set_advanced_access_management(
    w: &Write<'_>,
    enabled: bool,
) -> Result<team::Model, Error> {
    let team = team::Entity::find_by_id(w.team())
        .one(w.db())
        .await?
        .ok_or_else(|| Error::NotFound("the team no longer exists".into()))?;
    w.authorize(
        Resource::plain("Team"),
        Action::named("set-advanced-access-management"),
        "turn Advanced Access Management on or off",
    )?;
    if team.advanced_access_management == enabled {
        return Ok(team);
    }
    let mut row = team.clone().into_active_model();
    row.advanced_access_management = Set(enabled);
    let team = row.update(w.db()).await?;
    w.audit(Audit {
        action: if enabled { "team.aam_enabled" } else { "team.aam_disabled" },
        target: team.name.clone(),
        target_id: target_id("Team", team.id),
        security_groups: Vec::new(),
        details: json!({ "advancedAccessManagement": { "from": !enabled, "to": enabled } }),
    })
    .await?;
    Ok(team)
}
