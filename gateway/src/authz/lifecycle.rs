//! The policy lifecycle: deploy, activate, roll back, and follow the fleet.
//!
//! Every deployed module is stored in the database, and every change of the version in force
//! is an activation row. The gateway that performs an operation puts the version in force at
//! once; every other gateway of the database notices the new activation and puts the same
//! version in force: on PostgreSQL when the activation is announced (`LISTEN`/`NOTIFY`, with
//! a look every [`FOLLOW_LISTENING`] in case an announcement was missed), elsewhere by polling
//! it every [`FOLLOW_EVERY`]. A version is compiled and gated off
//! the async workers, so requests keep being served by the version in force meanwhile, and a
//! candidate that fails anything is refused with the reasons while that version keeps serving.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::Mutex;

use fieldguard_policy_cases::CaseFile;

use super::active::{MAX_POLICY_BYTES, content_hash};
use super::gate::{self, GateReport};
use super::shadow::Shadow;
use super::wasm::contract_of;
use super::{ActivePolicy, LoadedPolicy};
use crate::error::Error;
use crate::store::entity::policy_version;
use crate::store::policies::{self, ActivationKind, NewVersion};

/// How often a gateway looks for an activation made elsewhere, when it cannot be told.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(100);
/// How often a gateway that is told of activations looks anyway.
pub const FOLLOW_LISTENING: Duration = Duration::from_secs(5);

/// The outcome of a deploy, an activation or a rollback.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The version now in force (its module left out).
    pub version: policy_version::Model,
    /// The version in force before.
    pub previous: String,
    /// How many decision cases it passed.
    pub cases: usize,
    /// How many decisions those cases took.
    pub decisions: usize,
}

/// The lifecycle of one gateway's policy, over the database shared with its fleet.
pub struct Lifecycle {
    db: DatabaseConnection,
    active: Arc<ActivePolicy>,
    /// The candidate in shadow on this gateway, if any.
    shadow: ArcSwapOption<Shadow>,
    /// The latest activation this gateway has acted on; also serialises its operations.
    applied: Mutex<Option<i32>>,
    /// The last versions compiled here, newest last: activating one of them again (a
    /// rollback, a fleet flipping back) costs no compile.
    compiled: std::sync::Mutex<Vec<Arc<LoadedPolicy>>>,
}

/// How many compiled versions a gateway keeps for reuse.
const KEEP_COMPILED: usize = 4;

impl Lifecycle {
    /// The lifecycle of `active` over `db`, having acted on no activation yet.
    pub fn new(db: DatabaseConnection, active: Arc<ActivePolicy>) -> Self {
        Self {
            db,
            active,
            shadow: ArcSwapOption::empty(),
            applied: Mutex::new(None),
            compiled: std::sync::Mutex::default(),
        }
    }

    /// The candidate in shadow now, for a request to ask beside the version in force.
    pub fn shadow(&self) -> Option<Arc<Shadow>> {
        self.shadow.load_full()
    }

    /// Puts a stored version in shadow on this gateway (replacing any other), by hash or
    /// prefix; its counts start from zero.
    pub async fn start_shadow(&self, hash: &str) -> Result<Arc<Shadow>, Error> {
        let version = self.find(hash).await?;
        let source = format!("shadow of {}", version.hash);
        let policy = compiled(version.module, source).await.map_err(|error| match error {
            Error::InvalidPolicy(reason) => {
                rejected(format!("the version does not load: {reason}"), Vec::new())
            }
            other => other,
        })?;
        let shadow = Arc::new(Shadow::new(policy));
        self.shadow.store(Some(shadow.clone()));
        tracing::info!(hash = %shadow.policy.info.hash, "policy version in shadow");
        Ok(shadow)
    }

    /// Stops the shadow; answers it with its final counts.
    pub fn stop_shadow(&self) -> Option<Arc<Shadow>> {
        self.shadow.swap(None)
    }

    /// The version the database says is in force, compiled, to start with; `None` when
    /// nothing was ever deployed. Marks that activation as acted on.
    pub async fn stored_active(&self) -> Result<Option<LoadedPolicy>, Error> {
        let Some(activation) = policies::current(&self.db).await? else {
            return Ok(None);
        };
        *self.applied.lock().await = Some(activation.id);
        let version = policies::version(&self.db, &activation.hash).await?.ok_or_else(|| {
            Error::InvalidPolicy(format!("the active version {} is not stored", activation.hash))
        })?;
        let source = format!("deployed by {}", version.deployed_by);
        Ok(Some(compiled(version.module, source).await?))
    }

    /// Marks the database's current activation as acted on, without loading it: the version in
    /// force was chosen otherwise (`--policy`), and only later activations are followed.
    pub async fn skip_stored(&self) -> Result<(), Error> {
        let current = policies::current(&self.db).await?;
        *self.applied.lock().await = current.map(|activation| activation.id);
        Ok(())
    }

    /// Deploys a module: compiles it, gates it (its cases: `cases`, or those it carries), stores
    /// it and, when `activate`, puts it in force on this gateway now and on the fleet within
    /// seconds (otherwise it is only stored, e.g. to run in shadow).
    pub async fn deploy(
        &self,
        module: Vec<u8>,
        cases: Option<String>,
        note: Option<String>,
        by: &str,
        activate: bool,
    ) -> Result<Deployment, Error> {
        if module.len() as u64 > MAX_POLICY_BYTES {
            return Err(rejected(
                format!(
                    "the module has {} bytes; at most {MAX_POLICY_BYTES} are accepted",
                    module.len()
                ),
                Vec::new(),
            ));
        }
        let mut applied = self.applied.lock().await;
        let hash = content_hash(&module);
        let kept = self.kept(&hash);
        let (policy, report, module) =
            gated(module, cases, format!("deployed by {by}"), kept).await?;
        let contract = contract_of(&module).unwrap_or_else(|| "unknown".into());
        let txn = self.db.begin().await?;
        // The first deploy keeps what was in force before it (the built-in policy, or a file),
        // so that rolling it back returns there.
        let before = self.active.current();
        if let (None, Some(bytes)) = (policies::current(&txn).await?, &before.module) {
            let contract = contract_of(bytes).unwrap_or_else(|| "unknown".into());
            let by = format!("in force before the first deploy ({})", before.info.source);
            policies::store(
                &txn,
                &NewVersion {
                    hash: &before.info.hash,
                    name: &before.info.name,
                    contract: &contract,
                    module: bytes,
                    deployed_by: &by,
                    note: None,
                },
            )
            .await?;
            policies::activate(&txn, &before.info.hash, ActivationKind::Activate, "gateway")
                .await?;
        }
        policies::store(
            &txn,
            &NewVersion {
                hash: &hash,
                name: &policy.info.name,
                contract: &contract,
                module: &module,
                deployed_by: by,
                note: note.as_deref(),
            },
        )
        .await?;
        if !activate {
            txn.commit().await?;
            let mut version = policies::version(&self.db, &hash)
                .await?
                .ok_or_else(|| Error::InvalidPolicy(format!("the version {hash} is not stored")))?;
            version.module = Vec::new();
            let (cases, decisions) =
                report.cases.map(|r| (r.outcomes.len(), r.decisions())).unwrap_or_default();
            let previous = self.active.current().info.hash.clone();
            return Ok(Deployment { version, previous, cases, decisions });
        }
        let activation = policies::activate(&txn, &hash, ActivationKind::Deploy, by).await?;
        txn.commit().await?;
        *applied = Some(activation.id);
        let policy = self.keep(policy);
        self.put_in_force(policy, &hash, report).await
    }

    /// Puts a stored version in force again, by its hash (or a unique prefix of its digest).
    pub async fn activate(&self, hash: &str, by: &str) -> Result<Deployment, Error> {
        self.reactivate(hash, ActivationKind::Activate, by).await
    }

    /// Puts the version in force before the current one back in force. Rolling back twice
    /// returns to where it started.
    pub async fn rollback(&self, by: &str) -> Result<Deployment, Error> {
        let previous = policies::previous(&self.db).await?.ok_or_else(|| {
            Error::Conflict(
                "there is no earlier version to roll back to: only one version was ever in force"
                    .into(),
            )
        })?;
        self.reactivate(&previous, ActivationKind::Rollback, by).await
    }

    async fn reactivate(
        &self,
        hash: &str,
        kind: ActivationKind,
        by: &str,
    ) -> Result<Deployment, Error> {
        let mut applied = self.applied.lock().await;
        let version = self.find(hash).await?;
        let source = format!("deployed by {}", version.deployed_by);
        let hash = version.hash.clone();
        // Gated again: the gateway (and its contract checks) may be newer than the version.
        let (policy, report, _) = gated(version.module, None, source, self.kept(&hash)).await?;
        let activation = policies::activate(&self.db, &hash, kind, by).await?;
        *applied = Some(activation.id);
        let policy = self.keep(policy);
        self.put_in_force(policy, &hash, report).await
    }

    /// A stored version by hash, `sha256:` optional, or by a unique prefix of its digest.
    async fn find(&self, hash: &str) -> Result<policy_version::Model, Error> {
        let wanted = hash.trim();
        let wanted = wanted.strip_prefix("sha256:").unwrap_or(wanted).to_lowercase();
        if wanted.len() < 8 || !wanted.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::InvalidInput(format!(
                "`{hash}` is not a version hash: give `sha256:` and at least 8 hexadecimal digits"
            )));
        }
        let full = format!("sha256:{wanted}");
        let mut matching = policies::matching(&self.db, &full).await?;
        match (matching.pop(), matching.is_empty()) {
            (Some(version), true) => Ok(version),
            (None, _) => Err(Error::NotFound(format!("no stored policy version {hash}"))),
            (Some(_), false) => Err(Error::InvalidInput(format!(
                "{hash} names more than one stored version; give more digits"
            ))),
        }
    }

    /// A version compiled here before, by hash.
    fn kept(&self, hash: &str) -> Option<Arc<LoadedPolicy>> {
        let kept = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter().find(|policy| policy.info.hash == hash).cloned()
    }

    /// Keeps a compiled version for reuse, forgetting the oldest beyond [`KEEP_COMPILED`].
    fn keep(&self, policy: impl Into<Arc<LoadedPolicy>>) -> Arc<LoadedPolicy> {
        let policy = policy.into();
        let mut kept = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|other| other.info.hash != policy.info.hash);
        kept.push(policy.clone());
        if kept.len() > KEEP_COMPILED {
            kept.remove(0);
        }
        policy
    }

    async fn put_in_force(
        &self,
        policy: Arc<LoadedPolicy>,
        hash: &str,
        report: GateReport,
    ) -> Result<Deployment, Error> {
        let previous = self.active.current().info.hash.clone();
        self.active.replace_shared(policy);
        let mut version = policies::version(&self.db, hash)
            .await?
            .ok_or_else(|| Error::InvalidPolicy(format!("the version {hash} is not stored")))?;
        version.module = Vec::new();
        let (cases, decisions) =
            report.cases.map(|r| (r.outcomes.len(), r.decisions())).unwrap_or_default();
        Ok(Deployment { version, previous, cases, decisions })
    }

    /// The stored versions, newest first, and the hash of the one in force on the database.
    pub async fn versions(
        &self,
        limit: u64,
    ) -> Result<(Vec<policy_version::Model>, Option<String>), Error> {
        let versions = policies::versions(&self.db, limit).await?;
        let current = policies::current(&self.db).await?.map(|activation| activation.hash);
        Ok((versions, current))
    }

    /// Acts on an activation made by another gateway since the last look, if there is one.
    pub async fn follow(&self) -> Result<(), Error> {
        let Some(activation) = policies::current(&self.db).await? else {
            return Ok(());
        };
        let mut applied = self.applied.lock().await;
        if *applied == Some(activation.id) {
            return Ok(());
        }
        // Acted on whatever happens next: a version that does not load is reported once.
        *applied = Some(activation.id);
        if self.active.current().info.hash == activation.hash {
            return Ok(());
        }
        if let Some(policy) = self.kept(&activation.hash) {
            tracing::info!(hash = %activation.hash, by = %activation.activated_by, "following an activation made elsewhere");
            self.active.replace_shared(policy);
            return Ok(());
        }
        let Some(version) = policies::version(&self.db, &activation.hash).await? else {
            tracing::error!(hash = %activation.hash, "the activated policy version is not stored");
            return Ok(());
        };
        match compiled(version.module, format!("deployed by {}", version.deployed_by)).await {
            Ok(policy) => {
                tracing::info!(hash = %activation.hash, by = %activation.activated_by, "following an activation made elsewhere");
                let policy = self.keep(policy);
                self.active.replace_shared(policy);
            }
            Err(error) => tracing::error!(
                hash = %activation.hash,
                %error,
                "the policy version activated elsewhere does not load here; keeping the version in force"
            ),
        }
        Ok(())
    }

    /// Follows the fleet's activations until the runtime stops.
    pub fn spawn_follower(self: Arc<Self>) {
        tokio::spawn(async move {
            let told = self.told_of_activations().await;
            let mut failing = false;
            loop {
                match &told {
                    Some(told) => {
                        let _ = tokio::time::timeout(FOLLOW_LISTENING, told.notified()).await;
                    }
                    None => tokio::time::sleep(FOLLOW_EVERY).await,
                }
                match self.follow().await {
                    Ok(()) => failing = false,
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "cannot read the active policy version; retrying");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// On PostgreSQL, what is woken whenever an activation is announced, by a task that
    /// listens on the channel for good (reconnecting when the connection goes); `None` means
    /// polling.
    async fn told_of_activations(&self) -> Option<Arc<tokio::sync::Notify>> {
        use sea_orm::sqlx::postgres::PgListener;
        if self.db.get_database_backend() != sea_orm::DbBackend::Postgres {
            return None;
        }
        let pool = self.db.get_postgres_connection_pool();
        let listening = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(policies::ACTIVATIONS_CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        let mut listener = match listening.await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for activations; polling for them instead");
                return None;
            }
        };
        tracing::info!(
            channel = policies::ACTIVATIONS_CHANNEL,
            "told of activations as they are made"
        );
        let told = Arc::new(tokio::sync::Notify::new());
        let wake = told.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(error) => {
                        // Announcements made meanwhile are lost: look anyway, and reconnect.
                        tracing::warn!(%error, "lost the activation channel; reconnecting");
                        wake.notify_one();
                        tokio::time::sleep(FOLLOW_EVERY).await;
                    }
                }
            }
        });
        Some(told)
    }
}

fn rejected(message: String, failures: Vec<String>) -> Error {
    Error::PolicyRejected { message, failures }
}

/// Compiles a module off the async workers.
async fn compiled(module: Vec<u8>, source: String) -> Result<LoadedPolicy, Error> {
    tokio::task::spawn_blocking(move || LoadedPolicy::from_wasm(&module, source))
        .await
        .map_err(|error| Error::PolicyEngine(format!("the compile task failed: {error}")))?
}

/// Compiles a candidate (unless it was compiled here before: `kept`) and runs the gate, off
/// the async workers; refuses it with every reason.
async fn gated(
    module: Vec<u8>,
    cases: Option<String>,
    source: String,
    kept: Option<Arc<LoadedPolicy>>,
) -> Result<(Arc<LoadedPolicy>, GateReport, Vec<u8>), Error> {
    tokio::task::spawn_blocking(move || {
        let policy = match kept {
            Some(policy) => policy,
            None => {
                Arc::new(LoadedPolicy::from_wasm(&module, source).map_err(|error| match error {
                    Error::InvalidPolicy(reason) => {
                        rejected(format!("the module is refused: {reason}"), Vec::new())
                    }
                    other => other,
                })?)
            }
        };
        let text = cases.or_else(|| gate::embedded_cases(&module));
        let file = text.map(|text| CaseFile::parse(&text)).transpose().map_err(|error| {
            rejected(format!("its decision cases cannot be read: {error}"), Vec::new())
        })?;
        let report = gate::check(&policy, file.as_ref());
        if !report.passed() {
            let failures = report.failures();
            return Err(rejected(
                format!(
                    "{} fails {} of its checks; the version in force keeps serving",
                    policy.info.name,
                    failures.len()
                ),
                failures,
            ));
        }
        Ok((policy, report, module))
    })
    .await
    .map_err(|error| Error::PolicyEngine(format!("the gate task failed: {error}")))?
}
