//! The default policy's rules for the fields of workflows and bot runners, written in Cedar,
//! so the decide bench can ask Cedar the same questions.
//!
//! The rules are those of `visibility.rs` (Orchestrator objects) and of the `Workflow` and
//! `BotRunner` rows of `fields.rs`; the actions of each Cedar rule are read from those rows, so
//! the two cannot drift apart. The principal's effective Orchestrator role is worked out as the
//! policy works it out, and given to Cedar as an attribute.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::Context as _;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
    RestrictedExpression,
};
use fieldguard_policy::fields::{ROWS, Rule};

use super::Question;

/// Who may see an Orchestrator object (domain §3, §4).
const VISIBLE: &str = r#"(principal.orchestratorRole == "ADMIN"
    || (principal.orchestratorRole == "ANALYST" && !principal.advancedAccessManagement)
    || (principal.orchestratorRole != "NONE"
        && resource.securityGroups.containsAny(principal.securityGroups)))"#;

/// The types whose field rules are written in Cedar.
const TYPES: [&str; 2] = ["Workflow", "BotRunner"];

/// The Cedar rules, the entities of the questions, and their ids.
pub struct Rules {
    policies: PolicySet,
    authorizer: Authorizer,
    entities: Entities,
    principal: EntityUid,
    actions: HashMap<(&'static str, &'static str), EntityUid>,
    resources: HashMap<(&'static str, i32), EntityUid>,
}

fn uid(text: &str) -> anyhow::Result<EntityUid> {
    text.parse().with_context(|| format!("the entity id {text}"))
}

/// The Cedar actions of the rows of `rule` for the compared types.
fn actions_of(rule: Rule) -> String {
    ROWS.iter()
        .filter(|(type_name, _, row_rule)| TYPES.contains(type_name) && *row_rule == rule)
        .flat_map(|(type_name, fields, _)| {
            fields.iter().map(move |field| format!(r#"Action::"read {type_name}.{field}""#))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn policies() -> String {
    format!(
        r#"permit (principal, action in [{seen}], resource) when {{ {VISIBLE} }};
permit (principal, action in [{builders}], resource)
    when {{ {VISIBLE} && (principal.orchestratorRole == "ADMIN"
        || principal.orchestratorRole == "DEVELOPER") }};
permit (principal, action in [{admins}], resource)
    when {{ principal.orchestratorRole == "ADMIN" }};"#,
        seen = actions_of(Rule::Seen),
        builders = actions_of(Rule::OrchestratorBuilders),
        admins = actions_of(Rule::OrchestratorAdmins),
    )
}

fn groups(ids: &[i64]) -> RestrictedExpression {
    RestrictedExpression::new_set(ids.iter().map(|id| RestrictedExpression::new_long(*id)))
}

impl Rules {
    /// The rules, for the bench's principal (an Orchestrator DEVELOPER in groups 1 and 2, AAM
    /// on), on objects of both types in groups 1 to 4.
    pub fn new() -> anyhow::Result<Self> {
        let policies: PolicySet = policies().parse().context("the Cedar policies")?;
        let principal = uid(r#"User::"7""#)?;
        let principal_entity = Entity::new(
            principal.clone(),
            HashMap::from([
                (
                    "orchestratorRole".to_owned(),
                    RestrictedExpression::new_string("DEVELOPER".into()),
                ),
                ("advancedAccessManagement".to_owned(), RestrictedExpression::new_bool(true)),
                ("securityGroups".to_owned(), groups(&[1, 2])),
            ]),
            HashSet::new(),
        )?;
        let mut entities = vec![principal_entity];
        let mut resources = HashMap::new();
        for type_name in TYPES {
            for group in 1..=4 {
                let id = uid(&format!(r#"{type_name}::"in group {group}""#))?;
                entities.push(Entity::new(
                    id.clone(),
                    HashMap::from([("securityGroups".to_owned(), groups(&[i64::from(group)]))]),
                    HashSet::new(),
                )?);
                resources.insert((type_name, group), id);
            }
        }
        let mut actions = HashMap::new();
        for (type_name, fields, _) in ROWS.iter().filter(|(t, _, _)| TYPES.contains(t)) {
            for field in *fields {
                actions.insert(
                    (*type_name, *field),
                    uid(&format!(r#"Action::"read {type_name}.{field}""#))?,
                );
            }
        }
        Ok(Self {
            policies,
            authorizer: Authorizer::new(),
            entities: Entities::from_entities(entities, None)?,
            principal,
            actions,
            resources,
        })
    }

    fn request(&self, question: &Question) -> anyhow::Result<Request> {
        let action = self
            .actions
            .get(&(question.type_name, question.field))
            .context("a field with no Cedar action")?;
        let resource = self
            .resources
            .get(&(question.type_name, question.group))
            .context("an object with no Cedar entity")?;
        Ok(Request::new(
            self.principal.clone(),
            action.clone(),
            resource.clone(),
            Context::empty(),
            None,
        )?)
    }

    fn allows(&self, request: &Request) -> bool {
        self.authorizer.is_authorized(request, &self.policies, &self.entities).decision()
            == Decision::Allow
    }

    /// Every question, building its request then authorizing it; ns per decision.
    pub fn decide_building_requests(
        &self,
        questions: &[Question],
    ) -> anyhow::Result<(Vec<bool>, f64)> {
        let started = Instant::now();
        let answers = questions
            .iter()
            .map(|question| Ok(self.allows(&self.request(question)?)))
            .collect::<anyhow::Result<Vec<bool>>>()?;
        Ok((answers, super::per_decision(started.elapsed())))
    }

    /// Every question, its request built beforehand; ns per decision of `is_authorized` alone.
    pub fn decide_prebuilt(&self, questions: &[Question]) -> anyhow::Result<(Vec<bool>, f64)> {
        let requests =
            questions.iter().map(|q| self.request(q)).collect::<anyhow::Result<Vec<_>>>()?;
        let started = Instant::now();
        let answers = requests.iter().map(|request| self.allows(request)).collect();
        Ok((answers, super::per_decision(started.elapsed())))
    }
}
