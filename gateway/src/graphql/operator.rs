//! The platform operator's API: policy versions, deployed, listed, activated and rolled back.
//!
//! These are not a team's operations, so the policy does not decide them: only a request
//! carrying the gateway's operator token (`--operator-token`) reaches them, and a gateway
//! started without one has no operator API at all. A team member's token never does, whatever
//! their role.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::authz::lifecycle::{Deployment, Lifecycle};
use crate::authz::shadow::Shadow;
use crate::error::{Error, ResultExt};
use crate::store::entity::policy_version;

/// What the HTTP layer attaches to a request made with the operator token.
pub struct OperatorRequest {
    /// The policy lifecycle of this gateway.
    pub lifecycle: Arc<Lifecycle>,
}

/// The root fields of the operator's API (queries and mutations): not a team's, so never
/// decided by the policy.
pub const ROOT_FIELDS: [&str; 7] = [
    "policyVersions",
    "policyShadow",
    "deployPolicy",
    "activatePolicy",
    "rollbackPolicy",
    "startPolicyShadow",
    "stopPolicyShadow",
];

/// Who is recorded as having deployed or activated a version.
const OPERATOR: &str = "operator";

fn lifecycle<'a>(ctx: &Context<'a>) -> Result<&'a Lifecycle> {
    ctx.data::<OperatorRequest>().map(|request| request.lifecycle.as_ref()).map_err(|_| {
        Error::ForbiddenAction(
            "manage policy versions: only a platform operator may, with the gateway's operator \
             token (`Authorization: Bearer <operator token>`)"
                .into(),
        )
        .to_graphql()
    })
}

/// A stored policy version.
#[derive(SimpleObject)]
pub struct PolicyVersion {
    /// `sha256:` and the hex digest of the module.
    hash: String,
    /// The name the policy gives itself.
    name: String,
    /// The contract it was built for, e.g. `fieldguard:policy@0.3.0`.
    contract: String,
    /// The module's size in bytes.
    size: i32,
    /// Who deployed it.
    deployed_by: String,
    /// The note given when it was deployed.
    note: Option<String>,
    /// When it was first deployed.
    deployed_at: DateTime<Utc>,
    /// Whether it is the version in force on this database's gateways.
    active: bool,
}

impl PolicyVersion {
    fn of(row: policy_version::Model, active: Option<&str>) -> Self {
        Self {
            active: active == Some(row.hash.as_str()),
            hash: row.hash,
            name: row.name,
            contract: row.contract,
            size: row.size,
            deployed_by: row.deployed_by,
            note: row.note,
            deployed_at: row.deployed_at,
        }
    }
}

/// The outcome of putting a version in force.
#[derive(SimpleObject)]
pub struct PolicyDeployment {
    /// The version now in force.
    version: PolicyVersion,
    /// The hash of the version in force before.
    previous_hash: String,
    /// How many decision cases the version passed before it was put in force.
    cases_passed: i32,
    /// How many decisions those cases took.
    decisions: i32,
}

impl From<Deployment> for PolicyDeployment {
    fn from(deployment: Deployment) -> Self {
        let hash = deployment.version.hash.clone();
        Self {
            version: PolicyVersion::of(deployment.version, Some(&hash)),
            previous_hash: deployment.previous,
            cases_passed: i32::try_from(deployment.cases).unwrap_or(i32::MAX),
            decisions: i32::try_from(deployment.decisions).unwrap_or(i32::MAX),
        }
    }
}

/// A candidate running in shadow on this gateway: asked every question beside the version in
/// force, never enforced.
#[derive(SimpleObject)]
pub struct PolicyShadow {
    /// The candidate's hash.
    hash: String,
    /// The name the candidate gives itself.
    name: String,
    /// When the shadow started.
    since: DateTime<Utc>,
    /// How many decisions the candidate was asked.
    decisions: u64,
    /// Where it answered otherwise, by what was asked and the principal's role.
    differences: Vec<ShadowDifference>,
}

/// Where a shadowed candidate answered otherwise than the version in force.
#[derive(SimpleObject)]
pub struct ShadowDifference {
    /// What was asked: `Type.field`, `see Type`, or `act action on Type`.
    subject: String,
    /// The role of the principals asked, e.g. `MEMBER · Orchestrator ANALYST`.
    role: String,
    /// How often the candidate would have allowed what is denied.
    would_allow: u64,
    /// How often it would have denied what is allowed.
    would_deny: u64,
}

impl From<&Shadow> for PolicyShadow {
    fn from(shadow: &Shadow) -> Self {
        Self {
            hash: shadow.policy.info.hash.clone(),
            name: shadow.policy.info.name.clone(),
            since: shadow.since,
            decisions: shadow.decisions(),
            differences: shadow
                .differences()
                .into_iter()
                .map(|d| ShadowDifference {
                    subject: d.subject,
                    role: d.role,
                    would_allow: d.tally.would_allow,
                    would_deny: d.tally.would_deny,
                })
                .collect(),
        }
    }
}

/// A module to deploy.
#[derive(InputObject)]
pub struct DeployPolicyInput {
    /// The module's bytes, base64-encoded (a component, or a core module built by wit-bindgen).
    module: String,
    /// Decision cases (TOML or JSON) to gate it with, instead of those it carries.
    cases: Option<String>,
    /// Why it is deployed, for the version history.
    note: Option<String>,
    /// Whether to put it in force (the default); `false` only stores it, e.g. to run it in
    /// shadow first.
    #[graphql(default = true)]
    activate: bool,
}

/// The operator's reads.
#[derive(Default)]
pub struct PolicyOperations;

#[Object]
impl PolicyOperations {
    /// Every stored policy version, newest first (platform operators only).
    async fn policy_versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
    ) -> Result<Vec<PolicyVersion>> {
        let lifecycle = lifecycle(ctx)?;
        let limit = u64::try_from(first.clamp(0, 1000)).unwrap_or(50);
        let (versions, active) = lifecycle.versions(limit).await.gql()?;
        Ok(versions.into_iter().map(|row| PolicyVersion::of(row, active.as_deref())).collect())
    }

    /// The candidate in shadow on this gateway and what it decided otherwise, if one runs
    /// (platform operators only).
    async fn policy_shadow(&self, ctx: &Context<'_>) -> Result<Option<PolicyShadow>> {
        Ok(lifecycle(ctx)?.shadow().as_deref().map(PolicyShadow::from))
    }
}

/// The operator's writes.
#[derive(Default)]
pub struct PolicyMutations;

#[Object]
impl PolicyMutations {
    /// Deploys a policy module: it is compiled, checked against its contract version, its
    /// decision cases and the gateway's contract checks, stored, and put in force on every
    /// gateway of the database. Any failure refuses it (`POLICY_REJECTED`, with the failures
    /// in `extensions.failures`) and the version in force keeps serving.
    async fn deploy_policy(
        &self,
        ctx: &Context<'_>,
        input: DeployPolicyInput,
    ) -> Result<PolicyDeployment> {
        let lifecycle = lifecycle(ctx)?;
        let module =
            base64::engine::general_purpose::STANDARD.decode(input.module.trim()).map_err(|e| {
                Error::InvalidInput(format!("`module` is not base64: {e}")).to_graphql()
            })?;
        Ok(lifecycle
            .deploy(module, input.cases, input.note, OPERATOR, input.activate)
            .await
            .gql()?
            .into())
    }

    /// Puts a stored version back in force, by its hash (`sha256:…`, or at least 8 digits).
    async fn activate_policy(&self, ctx: &Context<'_>, hash: String) -> Result<PolicyDeployment> {
        let lifecycle = lifecycle(ctx)?;
        Ok(lifecycle.activate(&hash, OPERATOR).await.gql()?.into())
    }

    /// Runs a stored version in shadow on this gateway, by hash (`sha256:…`, or at least 8
    /// digits): it is asked every question beside the version in force and never enforced.
    /// Replaces any shadow running.
    async fn start_policy_shadow(&self, ctx: &Context<'_>, hash: String) -> Result<PolicyShadow> {
        let shadow = lifecycle(ctx)?.start_shadow(&hash).await.gql()?;
        Ok(PolicyShadow::from(shadow.as_ref()))
    }

    /// Stops the shadow; answers its final counts (null when none ran).
    async fn stop_policy_shadow(&self, ctx: &Context<'_>) -> Result<Option<PolicyShadow>> {
        Ok(lifecycle(ctx)?.stop_shadow().as_deref().map(PolicyShadow::from))
    }

    /// Puts the version in force before the current one back in force.
    async fn rollback_policy(&self, ctx: &Context<'_>) -> Result<PolicyDeployment> {
        let lifecycle = lifecycle(ctx)?;
        Ok(lifecycle.rollback(OPERATOR).await.gql()?.into())
    }
}
