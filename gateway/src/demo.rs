//! The demo data: two teams a newcomer can explore in GraphiQL.
//!
//! *Acme Robotics* has Advanced Access Management on, security groups by environment
//! (Production, Testing, Development) and a person for every portal, Orchestrator and Process
//! Hub role. *Globex Services* has it off. Casey belongs to both teams, with a different role
//! in each. [`seed`] loads it into an empty database in one transaction.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set, TransactionTrait,
};

use crate::error::Error;
use crate::store::entity::*;
use crate::store::secrets::Sealer;

/// A demo user and what to tell a newcomer about them.
#[derive(Clone, Debug)]
pub struct DemoUser {
    /// Their user id.
    pub id: i32,
    /// Their email.
    pub email: String,
    /// Their team (first team for someone in two).
    pub team: i32,
    /// Their roles, in words.
    pub description: String,
}

/// Whether the database holds no team yet.
pub async fn is_empty(db: &DatabaseConnection) -> Result<bool, Error> {
    Ok(team::Entity::find().count(db).await? == 0)
}

/// Loads the demo data into an empty database and returns its users. Does nothing (and
/// returns the users already there) if a team exists.
///
/// Two processes may seed one fresh database at once (two gateways started together): the
/// one whose transaction fails finds the other's data once it has committed, and uses it.
pub async fn seed(db: &DatabaseConnection, sealer: &Sealer) -> Result<Vec<DemoUser>, Error> {
    const ATTEMPTS: u32 = 10;
    let mut attempt = 1;
    loop {
        if !is_empty(db).await? {
            return existing_users(db).await;
        }
        let seeded = async {
            let tx = db.begin().await?;
            let users = Seeder { db: &tx, sealer }.world().await?;
            tx.commit().await?;
            Ok::<_, Error>(users)
        };
        match seeded.await {
            Ok(users) => return Ok(users),
            Err(error) if attempt < ATTEMPTS => {
                tracing::debug!(%error, attempt, "seeding failed; another process may be seeding");
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The demo users of a database seeded earlier: every member, described by role.
async fn existing_users(db: &DatabaseConnection) -> Result<Vec<DemoUser>, Error> {
    let users = user::Entity::find().all(db).await?;
    let memberships = membership::Entity::find().all(db).await?;
    Ok(users
        .into_iter()
        .filter_map(|u| {
            let m = memberships.iter().filter(|m| m.user_id == u.id).min_by_key(|m| m.id)?;
            Some(DemoUser { id: u.id, email: u.email, team: m.team_id, description: describe(m) })
        })
        .collect())
}

fn describe(m: &membership::Model) -> String {
    describe_roles(m.portal_role, m.orchestrator_role, m.process_hub_role)
}

/// Roles in words: `MEMBER, Orchestrator DEVELOPER`.
fn describe_roles(
    portal: PortalRole,
    orchestrator: Option<OrchestratorRole>,
    hub: Option<ProcessHubRole>,
) -> String {
    use sea_orm::ActiveEnum;
    let mut parts = vec![portal.to_value()];
    parts.extend(orchestrator.map(|role| format!("Orchestrator {}", role.to_value())));
    parts.extend(hub.map(|role| format!("Process Hub {}", role.to_value())));
    parts.join(", ")
}

/// Inserts rows; every method returns the new row's id.
pub struct Seeder<'c, C: ConnectionTrait> {
    /// Where to insert.
    pub db: &'c C,
    /// What seals the demo's secrets.
    pub sealer: &'c Sealer,
}

/// A member to add: portal role, products, product roles, security groups.
pub struct Member<'a> {
    /// Portal role.
    pub role: PortalRole,
    /// Enabled products.
    pub products: &'a [Product],
    /// Orchestrator role.
    pub orchestrator: Option<OrchestratorRole>,
    /// Process Hub role.
    pub hub: Option<ProcessHubRole>,
    /// Security groups to join.
    pub groups: &'a [i32],
    /// Audit-log flag.
    pub audit: bool,
}

impl Member<'static> {
    /// A member with a portal role only.
    pub fn portal(role: PortalRole) -> Self {
        Self { role, products: &[], orchestrator: None, hub: None, groups: &[], audit: false }
    }
}

impl<C: ConnectionTrait> Seeder<'_, C> {
    /// A team.
    pub async fn team(&self, name: &str, aam: bool, plan: &str) -> Result<i32, Error> {
        let row = team::ActiveModel {
            name: Set(name.into()),
            advanced_access_management: Set(aam),
            billing_plan: Set(plan.into()),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        Ok(row.insert(self.db).await?.id)
    }

    /// A user.
    pub async fn user(&self, email: &str, name: &str) -> Result<i32, Error> {
        let row = user::ActiveModel {
            email: Set(email.to_lowercase()),
            display_name: Set(name.into()),
            status: Set(UserStatus::Active),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        Ok(row.insert(self.db).await?.id)
    }

    /// A membership, its products and its security groups.
    pub async fn member(&self, team: i32, user: i32, m: Member<'_>) -> Result<i32, Error> {
        let row = membership::ActiveModel {
            team_id: Set(team),
            user_id: Set(user),
            portal_role: Set(m.role),
            orchestrator_role: Set(m.orchestrator),
            process_hub_role: Set(m.hub),
            audit_log_access: Set(m.audit),
            joined_at: Set(Utc::now() - Duration::days(90)),
            ..Default::default()
        };
        let id = row.insert(self.db).await?.id;
        for product in m.products {
            membership_product::ActiveModel { membership_id: Set(id), product: Set(*product) }
                .insert(self.db)
                .await?;
        }
        for group in m.groups {
            security_group_member::ActiveModel {
                security_group_id: Set(*group),
                user_id: Set(user),
            }
            .insert(self.db)
            .await?;
        }
        Ok(id)
    }

    /// An orchestrator.
    pub async fn orchestrator(&self, team: i32, name: &str) -> Result<i32, Error> {
        let row = orchestrator::ActiveModel {
            team_id: Set(team),
            name: Set(name.into()),
            api_integration_enabled: Set(true),
            zapier_enabled: Set(false),
            multitenancy_enabled: Set(false),
            ..Default::default()
        };
        Ok(row.insert(self.db).await?.id)
    }

    /// A security group, optionally attached to an orchestrator.
    pub async fn group(
        &self,
        team: i32,
        name: &str,
        description: &str,
        orchestrator: Option<i32>,
    ) -> Result<i32, Error> {
        let row = security_group::ActiveModel {
            team_id: Set(team),
            name: Set(name.into()),
            description: Set(description.into()),
            enabled: Set(true),
            orchestrator_id: Set(orchestrator),
            ..Default::default()
        };
        Ok(row.insert(self.db).await?.id)
    }

    /// A workflow with `versions` versions by `author`, a log line per version, two output
    /// variables and one queued run.
    #[allow(clippy::too_many_arguments)]
    pub async fn workflow(
        &self,
        team: i32,
        orchestrator: i32,
        name: &str,
        group: Option<i32>,
        schedule: Option<&str>,
        versions: i32,
        author: i32,
    ) -> Result<i32, Error> {
        let row = workflow::ActiveModel {
            team_id: Set(team),
            orchestrator_id: Set(orchestrator),
            name: Set(name.into()),
            current_version: Set(versions),
            schedule: Set(schedule.map(Into::into)),
            webhook_enabled: Set(versions > 1),
            logging_enabled: Set(true),
            security_group_id: Set(group),
            ..Default::default()
        };
        let id = row.insert(self.db).await?.id;
        let now = Utc::now();
        for number in 1..=versions {
            workflow_version::ActiveModel {
                workflow_id: Set(id),
                number: Set(number),
                comment: Set(if number == 1 {
                    "First release".into()
                } else {
                    format!("Fixes after run {number}")
                }),
                published_at: Set(now - Duration::days(i64::from(10 * (versions - number + 1)))),
                published_by: Set(author),
                ..Default::default()
            }
            .insert(self.db)
            .await?;
            execution_log::ActiveModel {
                workflow_id: Set(id),
                at: Set(now - Duration::hours(i64::from(number))),
                level: Set(if number % 3 == 0 { LogLevel::Warning } else { LogLevel::Info }),
                message: Set(format!("{name}: run with version {number} finished")),
                ..Default::default()
            }
            .insert(self.db)
            .await?;
        }
        for (key, value) in [("processedItems", "128"), ("apiToken", "sk-demo-not-a-real-token")] {
            output_variable::ActiveModel {
                workflow_id: Set(id),
                name: Set(key.into()),
                value: Set(value.into()),
                ..Default::default()
            }
            .insert(self.db)
            .await?;
        }
        queue_item::ActiveModel {
            workflow_id: Set(id),
            enqueued_at: Set(now),
            status: Set(RunState::Queued),
            payload: Set(format!(r#"{{"reference": "{}-0001"}}"#, id * 100)),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    /// An approved bot runner in these security groups, with RDP credentials (sealed).
    pub async fn bot_runner(&self, team: i32, machine: &str, groups: &[i32]) -> Result<i32, Error> {
        let row = bot_runner::ActiveModel {
            team_id: Set(team),
            machine_name: Set(machine.into()),
            approval_state: Set(ApprovalState::Approved),
            rdp_secret: Set(Some(self.sealer.seal(&format!("demo-rdp-{machine}"))?)),
            rdp_username: Set(Some(format!("svc-{machine}"))),
            last_seen_at: Set(Some(Utc::now() - Duration::minutes(3))),
            ..Default::default()
        };
        let id = row.insert(self.db).await?.id;
        for group in groups {
            bot_runner_security_group::ActiveModel {
                bot_runner_id: Set(id),
                security_group_id: Set(*group),
            }
            .insert(self.db)
            .await?;
        }
        registration_token::ActiveModel {
            bot_runner_id: Set(id),
            token_hash: Set(format!("sha256:demo-{id}")),
            created_at: Set(Utc::now() - Duration::days(30)),
            expires_at: Set(Utc::now() + Duration::days(335)),
            used: Set(true),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    /// Assigns a runner to a workflow under the workflow's security group, and records a run
    /// of the workflow on it that finished an hour ago, with its execution and console logs.
    pub async fn assign(
        &self,
        workflow: i32,
        runner: i32,
        group: Option<i32>,
    ) -> Result<(), Error> {
        workflow_bot_runner::ActiveModel {
            workflow_id: Set(workflow),
            bot_runner_id: Set(runner),
            security_group_id: Set(group),
        }
        .insert(self.db)
        .await?;
        let Some(row) = workflow::Entity::find_by_id(workflow).one(self.db).await? else {
            return Ok(());
        };
        let started = Utc::now() - Duration::minutes(70);
        let run = workflow_run::ActiveModel {
            team_id: Set(row.team_id),
            workflow_id: Set(workflow),
            version: Set(row.current_version),
            bot_runner_id: Set(Some(runner)),
            started_by: Set(None),
            state: Set(RunState::Succeeded),
            started_at: Set(started),
            finished_at: Set(Some(started + Duration::minutes(10))),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        let version = row.current_version;
        let lines = [
            (
                LogStream::Execution,
                format!("run {} started by its schedule with version {version}", run.id),
            ),
            (
                LogStream::Console,
                format!("[runner {runner}] starting {} version {version}", row.name),
            ),
            (LogStream::Console, format!("[runner {runner}] 128 items processed")),
            (LogStream::Execution, format!("run {} succeeded after 10 minutes", run.id)),
        ];
        for (minute, (stream, message)) in (0i64..).zip(lines) {
            execution_log::ActiveModel {
                workflow_id: Set(workflow),
                at: Set(started + Duration::minutes(minute * 3)),
                level: Set(LogLevel::Info),
                message: Set(message),
                run_id: Set(Some(run.id)),
                stream: Set(stream),
                ..Default::default()
            }
            .insert(self.db)
            .await?;
        }
        Ok(())
    }

    /// A process with its launchers and security groups.
    pub async fn process(
        &self,
        team: i32,
        name: &str,
        creator: i32,
        launchers: &[i32],
        groups: &[i32],
    ) -> Result<i32, Error> {
        let row = process::ActiveModel {
            team_id: Set(team),
            name: Set(name.into()),
            description: Set(format!("{name}, run from Process Hub")),
            created_by: Set(creator),
            created_at: Set(Utc::now() - Duration::days(20)),
            ..Default::default()
        };
        let id = row.insert(self.db).await?.id;
        for user in launchers {
            process_launcher::ActiveModel { process_id: Set(id), user_id: Set(*user) }
                .insert(self.db)
                .await?;
        }
        for group in groups {
            process_security_group::ActiveModel {
                process_id: Set(id),
                security_group_id: Set(*group),
            }
            .insert(self.db)
            .await?;
        }
        Ok(id)
    }

    /// A job of a process, with one task for `assignee`.
    pub async fn job(
        &self,
        team: i32,
        process: i32,
        launcher: i32,
        assignee: i32,
        form: Option<i32>,
        state: RunState,
    ) -> Result<i32, Error> {
        let row = job::ActiveModel {
            team_id: Set(team),
            process_id: Set(process),
            launched_by: Set(launcher),
            state: Set(state),
            started_at: Set(Utc::now() - Duration::hours(5)),
            finished_at: Set(
                (state == RunState::Succeeded).then(|| Utc::now() - Duration::hours(4))
            ),
            ..Default::default()
        };
        let id = row.insert(self.db).await?.id;
        task::ActiveModel {
            team_id: Set(team),
            job_id: Set(id),
            title: Set("Review and approve".into()),
            assignee_id: Set(Some(assignee)),
            state: Set(if state == RunState::Succeeded {
                TaskState::Completed
            } else {
                TaskState::Open
            }),
            form_id: Set(form),
            ..Default::default()
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    /// A form.
    pub async fn form(&self, team: i32, name: &str, fields: &str) -> Result<i32, Error> {
        let row = form::ActiveModel {
            team_id: Set(team),
            name: Set(name.into()),
            field_names: Set(fields.into()),
            ..Default::default()
        };
        Ok(row.insert(self.db).await?.id)
    }

    /// An audit entry about a target in these security groups.
    pub async fn audit(
        &self,
        team: i32,
        actor: i32,
        action: &str,
        target: &str,
        groups: &[i32],
    ) -> Result<i32, Error> {
        let row = audit_entry::ActiveModel {
            team_id: Set(team),
            at: Set(Utc::now() - Duration::hours(2)),
            actor_id: Set(Some(actor)),
            action: Set(action.into()),
            target: Set(target.into()),
            details: Set(String::new()),
            ..Default::default()
        };
        let id = row.insert(self.db).await?.id;
        for group in groups {
            audit_entry_security_group::ActiveModel {
                audit_entry_id: Set(id),
                security_group_id: Set(*group),
            }
            .insert(self.db)
            .await?;
        }
        Ok(id)
    }

    /// A pending invitation.
    pub async fn invitation(
        &self,
        team: i32,
        email: &str,
        role: PortalRole,
        products: &str,
        inviter: i32,
    ) -> Result<i32, Error> {
        let row = invitation::ActiveModel {
            team_id: Set(team),
            email: Set(email.to_lowercase()),
            portal_role: Set(role),
            products: Set(products.into()),
            invited_by: Set(inviter),
            status: Set(InvitationStatus::Pending),
            created_at: Set(Utc::now() - Duration::days(1)),
            expires_at: Set(Utc::now() + Duration::days(6)),
            ..Default::default()
        };
        Ok(row.insert(self.db).await?.id)
    }

    /// The whole demo world.
    async fn world(&self) -> Result<Vec<DemoUser>, Error> {
        use OrchestratorRole as O;
        use PortalRole as R;
        use ProcessHubRole as H;
        use Product as P;
        const ORCH: &[Product] = &[P::Orchestrator, P::StudioPro, P::BotRunner];
        const HUB: &[Product] = &[P::ProcessHub];

        let mut users = Vec::new();
        let acme = self.team("Acme Robotics", true, "Enterprise").await?;
        let globex = self.team("Globex Services", false, "Team").await?;

        let prod_orch = self.orchestrator(acme, "Acme Production").await?;
        let test_orch = self.orchestrator(acme, "Acme Pre-production").await?;
        let production = self
            .group(acme, "Production", "Live automations and their runners", Some(prod_orch))
            .await?;
        let testing =
            self.group(acme, "Testing", "Acceptance tests before release", Some(test_orch)).await?;
        let development = self.group(acme, "Development", "Work in progress", None).await?;

        let (dev_and_test, prod, test, prod_and_test) =
            ([development, testing], [production], [testing], [production, testing]);
        let people: Vec<(&str, &str, Member<'_>)> = vec![
            ("olivia.owner@acme.test", "Olivia Owner", Member::portal(R::Owner)),
            ("adam.admin@acme.test", "Adam Admin", Member::portal(R::Admin)),
            (
                "sam.security@acme.test",
                "Sam Security",
                Member { audit: true, ..Member::portal(R::SecurityAdmin) },
            ),
            ("bill.billing@acme.test", "Bill Billing", Member::portal(R::BillingContact)),
            (
                "oli.orchadmin@acme.test",
                "Oli Orchestrator-Admin",
                Member {
                    products: ORCH,
                    orchestrator: Some(O::Admin),
                    ..Member::portal(R::Member)
                },
            ),
            (
                "dana.developer@acme.test",
                "Dana Developer",
                Member {
                    products: ORCH,
                    orchestrator: Some(O::Developer),
                    groups: &dev_and_test,
                    ..Member::portal(R::Member)
                },
            ),
            (
                "oscar.operator@acme.test",
                "Oscar Operator",
                Member {
                    products: ORCH,
                    orchestrator: Some(O::Operator),
                    groups: &prod,
                    ..Member::portal(R::Member)
                },
            ),
            (
                "ana.analyst@acme.test",
                "Ana Analyst",
                Member {
                    products: ORCH,
                    orchestrator: Some(O::Analyst),
                    groups: &test,
                    audit: true,
                    ..Member::portal(R::Member)
                },
            ),
            (
                "nina.nogroup@acme.test",
                "Nina No-Group",
                Member {
                    products: ORCH,
                    orchestrator: Some(O::Analyst),
                    ..Member::portal(R::Member)
                },
            ),
            (
                "hank.hubadmin@acme.test",
                "Hank Hub-Admin",
                Member { products: HUB, hub: Some(H::Administrator), ..Member::portal(R::Member) },
            ),
            (
                "pia.manager@acme.test",
                "Pia Process-Manager",
                Member {
                    products: HUB,
                    hub: Some(H::ProcessManager),
                    groups: &prod_and_test,
                    ..Member::portal(R::Member)
                },
            ),
            (
                "uma.user@acme.test",
                "Uma User",
                Member {
                    products: HUB,
                    hub: Some(H::User),
                    groups: &prod,
                    ..Member::portal(R::Member)
                },
            ),
            (
                "casey.consultant@both.test",
                "Casey Consultant",
                Member {
                    products: ORCH,
                    orchestrator: Some(O::Developer),
                    groups: &test,
                    ..Member::portal(R::Member)
                },
            ),
        ];
        let mut ids = std::collections::HashMap::new();
        for (email, name, member) in people {
            let id = self.user(email, name).await?;
            let description = describe_member(&member);
            self.member(acme, id, member).await?;
            ids.insert(email, id);
            users.push(DemoUser { id, email: email.into(), team: acme, description });
        }
        let id = |email: &str| ids.get(email).copied().unwrap_or_default();
        let (owner, dana, pia, uma, hank, casey) = (
            id("olivia.owner@acme.test"),
            id("dana.developer@acme.test"),
            id("pia.manager@acme.test"),
            id("uma.user@acme.test"),
            id("hank.hubadmin@acme.test"),
            id("casey.consultant@both.test"),
        );

        // Orchestrator objects, grouped by environment.
        let prod_runner = self.bot_runner(acme, "prod-runner-01", &[production]).await?;
        let test_runner = self.bot_runner(acme, "test-runner-01", &[testing]).await?;
        let shared_runner =
            self.bot_runner(acme, "shared-runner-01", &[testing, development]).await?;
        let laptop = self.bot_runner(acme, "dev-laptop-dana", &[development]).await?;
        // Registered a moment ago: waiting for an Orchestrator admin, no credentials yet.
        bot_runner::Entity::update_many()
            .col_expr(bot_runner::Column::ApprovalState, ApprovalState::Pending.into())
            .col_expr(bot_runner::Column::RdpSecret, Option::<String>::None.into())
            .col_expr(bot_runner::Column::RdpUsername, Option::<String>::None.into())
            .filter(bot_runner::Column::Id.eq(laptop))
            .exec(self.db)
            .await?;
        let acme_workflows = [
            (prod_orch, "Invoice intake", Some(production), Some("0 6 * * 1-5"), 3, prod_runner),
            (prod_orch, "Payroll export", Some(production), Some("0 2 1 * *"), 2, prod_runner),
            (prod_orch, "Vendor onboarding", Some(production), None, 1, prod_runner),
            (
                test_orch,
                "Invoice intake (acceptance)",
                Some(testing),
                Some("*/30 * * * *"),
                4,
                test_runner,
            ),
            (test_orch, "CRM sync (acceptance)", Some(testing), None, 2, shared_runner),
            (test_orch, "CRM sync (draft)", Some(development), None, 1, shared_runner),
            (test_orch, "Unfiled experiment", None, None, 1, shared_runner),
        ];
        let mut first_prod_workflow = None;
        for (orch, name, group, schedule, versions, runner) in acme_workflows {
            let workflow = self.workflow(acme, orch, name, group, schedule, versions, dana).await?;
            first_prod_workflow.get_or_insert(workflow);
            self.assign(workflow, runner, group).await?;
        }

        // Process Hub.
        let approval_form =
            self.form(acme, "Invoice approval", "amount, supplier, approved").await?;
        self.form(acme, "New hire", "name, start date, manager").await?;
        let invoices =
            self.process(acme, "Invoice approval", pia, &[pia, uma], &[production]).await?;
        let onboarding =
            self.process(acme, "Employee onboarding", hank, &[uma], &[testing]).await?;
        self.process(acme, "Quarterly payroll audit", hank, &[], &[production]).await?;
        self.process(acme, "Supplier scoring (draft)", pia, &[], &[testing]).await?;
        process::Entity::update_many()
            .col_expr(process::Column::FormId, Some(approval_form).into())
            .filter(process::Column::Id.eq(invoices))
            .exec(self.db)
            .await?;
        self.job(acme, invoices, uma, uma, Some(approval_form), RunState::Running).await?;
        let approved =
            self.job(acme, invoices, pia, pia, Some(approval_form), RunState::Succeeded).await?;
        let values = r#"[{"name":"amount","value":"1200.00"},{"name":"supplier","value":"Initech"},{"name":"approved","value":"yes"}]"#;
        task::Entity::update_many()
            .col_expr(task::Column::FieldValues, Some(values.to_owned()).into())
            .col_expr(task::Column::CompletedAt, Some(Utc::now() - Duration::hours(4)).into())
            .col_expr(task::Column::CompletedBy, Some(pia).into())
            .filter(task::Column::JobId.eq(approved))
            .exec(self.db)
            .await?;
        self.job(acme, onboarding, uma, uma, None, RunState::Queued).await?;

        // The audit log, and invitations.
        self.audit(acme, owner, "team.aam_enabled", "Acme Robotics", &[]).await?;
        self.audit(acme, owner, "security_group.created", "Production", &[production]).await?;
        self.audit(acme, dana, "workflow.published", "Invoice intake (acceptance)", &[testing])
            .await?;
        self.audit(
            acme,
            dana,
            "bot_runner.rdp_configured",
            "shared-runner-01",
            &[testing, development],
        )
        .await?;
        self.audit(acme, owner, "member.role_changed", "oscar.operator@acme.test", &[]).await?;
        self.invitation(acme, "new.hire@acme.test", R::Member, "ORCHESTRATOR", owner).await?;
        self.invitation(acme, "auditor@external.test", R::SecurityAdmin, "", owner).await?;

        // Globex: AAM off, Casey is an admin here.
        let gina = self.user("gina.owner@globex.test", "Gina Owner").await?;
        self.member(globex, gina, Member::portal(R::Owner)).await?;
        users.push(DemoUser {
            id: gina,
            email: "gina.owner@globex.test".into(),
            team: globex,
            description: "OWNER".into(),
        });
        let gary = self.user("gary.analyst@globex.test", "Gary Analyst").await?;
        self.member(
            globex,
            gary,
            Member { products: ORCH, orchestrator: Some(O::Analyst), ..Member::portal(R::Member) },
        )
        .await?;
        users.push(DemoUser {
            id: gary,
            email: "gary.analyst@globex.test".into(),
            team: globex,
            description: "MEMBER, Orchestrator ANALYST (AAM off: sees everything)".into(),
        });
        self.member(globex, casey, Member::portal(R::Admin)).await?;
        if let Some(casey_user) = users.iter_mut().find(|u| u.id == casey) {
            casey_user.description.push_str("; ADMIN in Globex Services");
        }
        let globex_orch = self.orchestrator(globex, "Globex Orchestrator").await?;
        let globex_runner = self.bot_runner(globex, "globex-runner-01", &[]).await?;
        for (name, schedule) in [
            ("Ticket triage", Some("*/15 * * * *")),
            ("Monthly report", Some("0 8 1 * *")),
            ("Ad-hoc export", None),
        ] {
            let workflow =
                self.workflow(globex, globex_orch, name, None, schedule, 2, gina).await?;
            self.assign(workflow, globex_runner, None).await?;
        }
        self.audit(globex, gina, "orchestrator.created", "Globex Orchestrator", &[]).await?;
        Ok(users)
    }
}

fn describe_member(m: &Member<'_>) -> String {
    let roles = describe_roles(m.role, m.orchestrator, m.hub);
    if m.groups.is_empty() && m.orchestrator.is_some() {
        format!("{roles}, no security group")
    } else {
        roles
    }
}
