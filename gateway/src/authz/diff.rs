//! Who gains and who loses what between two policy versions: the change review of a policy.
//!
//! Every member of every team of a database is asked, under both versions, about every type
//! of the schema (may they see its objects), every field of it and every action the gateway
//! asks about. Objects are described by the attributes rules read: no security group or one
//! of the team's, and no relation or one of the four. Wherever the two versions answer
//! differently for some object, the member gains (the new version allows) or loses it.
//! Differences are grouped by what changed (`User.status`, `see Workflow`, `act run-workflow
//! on Workflow`), then by role.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::{
    Action, Check, Condition, LoadedPolicy, OrchestratorRole, PortalRole, Principal,
    ProcessHubRole, Relation, Resource, Target, Visibility,
};
use crate::error::Error;
use crate::store::entity::{membership, security_group, user};
use crate::store::read;
use crate::store::write::ACTIONS;

/// One thing two versions decide differently, and for whom.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Difference {
    /// Who gains it, by role: the members' emails.
    pub gains: BTreeMap<String, BTreeSet<String>>,
    /// Who loses it, by role.
    pub loses: BTreeMap<String, BTreeSet<String>>,
}

/// The whole review.
#[derive(Debug, Default)]
pub struct PolicyDiff {
    /// The versions compared: name and hash.
    pub old: (String, String),
    /// The candidate.
    pub new: (String, String),
    /// How many members were asked, in how many teams.
    pub members: usize,
    /// How many teams.
    pub teams: usize,
    /// Members who could not be asked (suspended, locked), by email.
    pub skipped: Vec<String>,
    /// What changed (`Type.field`, `see Type`, `act action on Type`), and for whom.
    pub differences: BTreeMap<String, Difference>,
}

impl PolicyDiff {
    /// Whether the two versions decide everything the same.
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
}

impl fmt::Display for PolicyDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "old  {} ({})", self.old.0, self.old.1)?;
        writeln!(f, "new  {} ({})", self.new.0, self.new.1)?;
        writeln!(f, "over {} members of {} teams\n", self.members, self.teams)?;
        for (what, difference) in &self.differences {
            writeln!(f, "{what}")?;
            for (sign, side) in [("+", &difference.gains), ("-", &difference.loses)] {
                for (role, emails) in side {
                    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
                    writeln!(f, "  {sign} {role}: {}", emails.join(", "))?;
                }
            }
        }
        let gainers: BTreeSet<&String> =
            self.differences.values().flat_map(|d| d.gains.values().flatten()).collect();
        let losers: BTreeSet<&String> =
            self.differences.values().flat_map(|d| d.loses.values().flatten()).collect();
        if self.is_empty() {
            writeln!(f, "no differences: both versions decide everything the same")?;
        } else {
            writeln!(
                f,
                "\n{} differences: {} members gain something (+), {} lose something (-)",
                self.differences.len(),
                gainers.len(),
                losers.len()
            )?;
        }
        for email in &self.skipped {
            writeln!(f, "not asked: {email} (suspended or locked)")?;
        }
        Ok(())
    }
}

/// The object types of the schema and their fields, read from its SDL. Pagination plumbing
/// and the operator's types are left out: the policy does not decide them.
pub fn schema_fields(sdl: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut types = BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    let mut in_description = false;
    for line in sdl.lines().map(str::trim) {
        if line.starts_with("\"\"\"") {
            if !(line.len() > 3 && line.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || line.is_empty() || line.starts_with('"') || line.starts_with('@') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("type ") {
            let name = rest.split([' ', '{']).next().unwrap_or_default().to_owned();
            current = Some((name, Vec::new()));
        } else if line.starts_with('}') {
            if let Some((name, fields)) = current.take()
                && !is_undecided(&name)
            {
                types.insert(super::gate::interned(&name), fields);
            }
        } else if let Some((_, fields)) = current.as_mut()
            && let Some(field) = line.split(['(', ':']).next()
        {
            let field = field.trim();
            if !field.is_empty() && !crate::graphql::operator::ROOT_FIELDS.contains(&field) {
                fields.push(field.to_owned());
            }
        }
    }
    types
}

fn is_undecided(type_name: &str) -> bool {
    type_name == "PageInfo"
        || type_name.ends_with("Connection")
        || type_name.ends_with("Edge")
        || matches!(
            type_name,
            "PolicyVersion" | "PolicyDeployment" | "PolicyShadow" | "ShadowDifference"
        )
}

/// How a member is described in the review: their portal role and, below the team's
/// managers, their product roles.
pub(crate) fn role_of(principal: &Principal) -> String {
    let portal = match principal.portal_role {
        PortalRole::Owner => "OWNER",
        PortalRole::Admin => "ADMIN",
        PortalRole::SecurityAdmin => "SECURITY_ADMIN",
        PortalRole::Member => "MEMBER",
        PortalRole::BillingContact => "BILLING_CONTACT",
    };
    let mut role = portal.to_owned();
    if matches!(principal.portal_role, PortalRole::Owner | PortalRole::Admin) {
        return role;
    }
    use super::Product;
    if principal.products.contains(&Product::Orchestrator)
        && let Some(orchestrator) = principal.orchestrator_role
    {
        role.push_str(match orchestrator {
            OrchestratorRole::Admin => " · Orchestrator ADMIN",
            OrchestratorRole::Developer => " · Orchestrator DEVELOPER",
            OrchestratorRole::Operator => " · Orchestrator OPERATOR",
            OrchestratorRole::Analyst => " · Orchestrator ANALYST",
        });
    }
    if principal.products.contains(&Product::ProcessHub)
        && let Some(hub) = principal.process_hub_role
    {
        role.push_str(match hub {
            ProcessHubRole::Administrator => " · Process Hub ADMINISTRATOR",
            ProcessHubRole::ProcessManager => " · Process Hub PROCESS_MANAGER",
            ProcessHubRole::User => " · Process Hub USER",
        });
    }
    role
}

/// Whether an object with these attributes satisfies a visibility.
fn admits(visibility: &Visibility, resource: &Resource) -> bool {
    match visibility {
        Visibility::All => true,
        Visibility::None => false,
        Visibility::Where(clauses) => clauses.iter().any(|clause| {
            clause.iter().all(|condition| match condition {
                Condition::InSecurityGroups(groups) => {
                    resource.security_groups.iter().any(|group| groups.contains(group))
                }
                Condition::Related(relations) => resource.relations.contains(*relations),
            })
        }),
    }
}

/// The objects a type is asked about for a member: in no group or one of the team's, with no
/// relation or one of the four.
fn objects(type_name: &'static str, groups: &[i32]) -> Vec<Resource> {
    let relations = [
        Relation::NONE,
        Relation::IS_PRINCIPAL,
        Relation::CREATOR,
        Relation::LAUNCHER,
        Relation::ASSIGNEE,
    ];
    let group_sets = std::iter::once(None).chain(groups.iter().copied().map(Some));
    group_sets
        .flat_map(|group| {
            relations
                .iter()
                .map(move |relation| Resource::grouped(type_name, group).related(*relation))
        })
        .collect()
}

/// The portal roles an action on a membership is asked with: each current role, each
/// requested role.
const ROLES: [Option<PortalRole>; 6] = [
    None,
    Some(PortalRole::Owner),
    Some(PortalRole::Admin),
    Some(PortalRole::SecurityAdmin),
    Some(PortalRole::Member),
    Some(PortalRole::BillingContact),
];

/// Compares `old` and `new` over every member of every team in `db`.
pub async fn diff(
    db: &DatabaseConnection,
    old: &LoadedPolicy,
    new: &LoadedPolicy,
) -> Result<PolicyDiff, Error> {
    let types = schema_fields(&crate::graphql::sdl());
    let type_names: Vec<&'static str> = types.keys().copied().collect();
    let mut review = PolicyDiff {
        old: (old.info.name.clone(), old.info.hash.clone()),
        new: (new.info.name.clone(), new.info.hash.clone()),
        ..PolicyDiff::default()
    };
    let memberships =
        membership::Entity::find().order_by_asc(membership::Column::Id).all(db).await?;
    review.teams = memberships.iter().map(|m| m.team_id).collect::<BTreeSet<_>>().len();
    for membership in memberships {
        let email = user::Entity::find_by_id(membership.user_id)
            .one(db)
            .await?
            .map(|user| user.email)
            .unwrap_or_else(|| format!("user {}", membership.user_id));
        let principal =
            match read::principal(db, membership.user_id, Some(membership.team_id)).await {
                Ok(principal) => principal,
                Err(Error::Unauthenticated(_)) => {
                    review.skipped.push(email);
                    continue;
                }
                Err(other) => return Err(other),
            };
        review.members += 1;
        let groups: Vec<i32> = security_group::Entity::find()
            .filter(security_group::Column::TeamId.eq(membership.team_id))
            .all(db)
            .await?
            .into_iter()
            .map(|group| group.id)
            .collect();
        let role = role_of(&principal);
        let mut changed = |what: String, gained: bool| {
            let difference: &mut Difference = review.differences.entry(what).or_default();
            let side = if gained { &mut difference.gains } else { &mut difference.loses };
            side.entry(role.clone()).or_default().insert(email.clone());
        };
        let mut before = old.policy.session(&principal);
        let mut after = new.policy.session(&principal);
        let seen_before = before.visibility(&type_names);
        let seen_after = after.visibility(&type_names);
        for (((type_name, fields), was), now) in types.iter().zip(&seen_before).zip(&seen_after) {
            let resources = objects(type_name, &groups);
            let (gains, loses) = resources.iter().fold((false, false), |(g, l), r| {
                let (a, b) = (admits(was, r), admits(now, r));
                (g || (b && !a), l || (a && !b))
            });
            if gains {
                changed(format!("see {type_name}"), true);
            }
            if loses {
                changed(format!("see {type_name}"), false);
            }
            let mut targets: Vec<(String, Target)> = fields
                .iter()
                .map(|field| (format!("{type_name}.{field}"), Target::Field(field.as_str())))
                .collect();
            for (action, _) in ACTIONS.iter().filter(|(_, on)| on == type_name) {
                // Roles are inputs of the actions on members and of invitations only.
                let (current, requested): (&[Option<PortalRole>], &[Option<PortalRole>]) =
                    match *type_name {
                        "Membership" => (&ROLES, &ROLES),
                        "Team" => (&ROLES[..1], &ROLES),
                        _ => (&ROLES[..1], &ROLES[..1]),
                    };
                for current_role in current {
                    for requested_role in requested {
                        let asked = Action {
                            name: action,
                            current_role: *current_role,
                            requested_role: *requested_role,
                        };
                        let what = format!("act {action} on {type_name}");
                        targets.push((what, Target::Action(asked)));
                    }
                }
            }
            // One batch per object: a few hundred checks, well within a call's deadline.
            let checks: Vec<Check> =
                targets.iter().map(|(_, target)| Check { resource: 0, target: *target }).collect();
            let mut verdicts: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
            for resource in resources {
                let resource = std::slice::from_ref(&resource);
                let was = before.decide(resource, &checks);
                let now = after.decide(resource, &checks);
                for (((what, _), was), now) in targets.iter().zip(&was).zip(&now) {
                    let entry = verdicts.entry(what.as_str()).or_default();
                    entry.0 |= now.is_allow() && !was.is_allow();
                    entry.1 |= was.is_allow() && !now.is_allow();
                }
            }
            for (what, (gains, loses)) in verdicts {
                if gains {
                    changed(what.to_owned(), true);
                }
                if loses {
                    changed(what.to_owned(), false);
                }
            }
        }
    }
    Ok(review)
}
