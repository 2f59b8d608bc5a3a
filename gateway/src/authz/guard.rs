//! The per-request front door to the policy.
//!
//! A [`Guard`] holds the principal, the policy version the request started with, and a
//! session with it. Resolvers classify each object once ([`Guard::classify`]): objects with
//! the same attributes share a [`ClassId`], and decisions are memoized per (class, field). A
//! list of 1,000 workflows in three security groups costs three decisions per field read.
//! Visibilities are memoized per type.

use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap;

use super::memo::Answers;
use super::shadow::Shadow;
use super::{
    Action, Check, Decision, LoadedPolicy, Principal, Resource, Session, Target, Visibility,
    reason_text,
};
use crate::sync::locked;

/// An interned class of resource attributes within one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(u32);

/// A read the policy refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// The GraphQL type.
    pub type_name: &'static str,
    /// The field.
    pub field: String,
}

/// The policy as one request sees it.
pub struct Guard {
    principal: Principal,
    policy: Arc<LoadedPolicy>,
    /// A candidate answering beside the policy, never enforced.
    shadow: Option<Arc<Shadow>>,
    /// What the version answered this principal in earlier requests; none when every question
    /// must reach the policy (shadow, explain).
    remembered: Option<Arc<Answers>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    session: Option<Box<dyn Session>>,
    shadow_session: Option<Box<dyn Session>>,
    class_of: FxHashMap<Resource, ClassId>,
    classes: Vec<Class>,
    visibilities: FxHashMap<&'static str, Visibility>,
    /// Every decision and visibility, with the policy's reasons, when the request is explained.
    explained: Option<Vec<Explained>>,
}

/// One answer of the policy that shaped a request, for a platform operator's explain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explained {
    /// The GraphQL type of the object asked about.
    pub type_name: &'static str,
    /// The field read, or `None` for an action or a visibility.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The action performed, for an action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// For a visibility: which objects of the type the principal sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// Whether it was allowed (a visibility other than none counts as allowed).
    pub allowed: bool,
    /// The policy's reason for a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The object's security groups.
    pub security_groups: Vec<i32>,
    /// How the principal relates to it (`is-principal`, `creator`, `launcher`, `assignee`).
    pub relations: Vec<&'static str>,
}

/// A decision as a metric's outcome.
fn outcome(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

fn relation_names(relations: super::Relation) -> Vec<&'static str> {
    use super::Relation as R;
    [
        (R::IS_PRINCIPAL, "is-principal"),
        (R::CREATOR, "creator"),
        (R::LAUNCHER, "launcher"),
        (R::ASSIGNEE, "assignee"),
    ]
    .into_iter()
    .filter(|(flag, _)| relations.contains(*flag))
    .map(|(_, name)| name)
    .collect()
}

fn describe(visibility: &Visibility) -> String {
    use super::Condition;
    match visibility {
        Visibility::All => "all".into(),
        Visibility::None => "none".into(),
        Visibility::Where(clauses) => clauses
            .iter()
            .map(|clause| {
                clause
                    .iter()
                    .map(|condition| match condition {
                        Condition::InSecurityGroups(groups) => {
                            format!("in security groups {groups:?}")
                        }
                        Condition::Related(relations) => relation_names(*relations).join(" and "),
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .collect::<Vec<_>>()
            .join(", or "),
    }
}

struct Class {
    resource: Resource,
    /// Looked up on every field read, so hashed with a fast hash: the keys are field names.
    decisions: FxHashMap<Box<str>, bool>,
}

impl Guard {
    /// A guard for `principal` under `policy`.
    pub fn new(principal: Principal, policy: Arc<LoadedPolicy>) -> Self {
        let remembered = Some(policy.memo.of(&principal));
        Self { principal, policy, shadow: None, remembered, state: Mutex::new(State::default()) }
    }

    /// The same guard, asking `shadow` (when there is one) every question beside the policy.
    #[must_use]
    pub fn shadowed(mut self, shadow: Option<Arc<Shadow>>) -> Self {
        if shadow.is_some() {
            self.remembered = None;
        }
        self.shadow = shadow;
        self
    }

    /// The same guard, recording every answer of the policy with its reasons (for a platform
    /// operator's explain; never for ordinary callers).
    #[must_use]
    pub fn explaining(mut self) -> Self {
        self.remembered = None;
        self.state().explained = Some(Vec::new());
        self
    }

    /// What was recorded, when explaining.
    pub fn explanation(&self) -> Option<Vec<Explained>> {
        self.state().explained.clone()
    }

    /// Who the request acts for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The policy version the request runs under.
    pub fn policy(&self) -> &Arc<LoadedPolicy> {
        &self.policy
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-made decision behind (decisions
        // are inserted whole), so a poisoned lock is still safe to use.
        locked(&self.state)
    }

    /// Interns the attributes of a resource.
    pub fn classify(&self, resource: Resource) -> ClassId {
        let mut state = self.state();
        if let Some(id) = state.class_of.get(&resource) {
            return *id;
        }
        let id = ClassId(state.classes.len() as u32);
        state.classes.push(Class { resource: resource.clone(), decisions: FxHashMap::default() });
        state.class_of.insert(resource, id);
        id
    }

    /// May the principal read `field` of objects of `class`?
    pub fn permit(&self, class: ClassId, field: &str) -> Result<(), Denied> {
        let mut state = self.state();
        let Some(entry) = state.classes.get(class.0 as usize) else {
            return Err(Denied { type_name: "?", field: field.to_owned() });
        };
        let type_name = entry.resource.type_name;
        let allowed = match entry.decisions.get(field) {
            Some(allowed) => *allowed,
            None => {
                self.decide_missing(&mut state, &[class], &[field]);
                // A pair the policy left unanswered is denied.
                state
                    .classes
                    .get(class.0 as usize)
                    .and_then(|entry| entry.decisions.get(field))
                    .copied()
                    .unwrap_or(false)
            }
        };
        if allowed { Ok(()) } else { Err(Denied { type_name, field: field.to_owned() }) }
    }

    /// Decides, in one batch, every (class, field) pair not decided yet.
    pub fn prefetch(&self, classes: &[ClassId], fields: &[&str]) {
        let mut state = self.state();
        self.decide_missing(&mut state, classes, fields);
    }

    /// Asks the policy, in one call, about every (class, field) pair not decided yet, and
    /// remembers the answers.
    fn decide_missing(&self, state: &mut State, classes: &[ClassId], fields: &[&str]) {
        let mut resources = Vec::new();
        let mut checks = Vec::new();
        let mut asked = Vec::new();
        let mut counted = crate::metrics::Decisions::default();
        for class in classes {
            let Some(entry) = state.classes.get_mut(class.0 as usize) else {
                continue;
            };
            if let Some(remembered) = &self.remembered {
                for field in fields {
                    if entry.decisions.contains_key(*field) {
                        continue;
                    }
                    if let Some(decision) = remembered.decision(&entry.resource, field) {
                        let type_name = entry.resource.type_name;
                        counted.add("field", type_name, field, outcome(decision.is_allow()));
                        self.log_denial(type_name, field, decision);
                        entry.decisions.insert((*field).into(), decision.is_allow());
                    }
                }
            }
            let missing: Vec<&str> =
                fields.iter().copied().filter(|f| !entry.decisions.contains_key(*f)).collect();
            if missing.is_empty() {
                continue;
            }
            let index = resources.len() as u32;
            resources.push(entry.resource.clone());
            for field in missing {
                checks.push(Check { resource: index, target: Target::Field(field) });
                asked.push((*class, field));
            }
        }
        if checks.is_empty() {
            counted.record();
            return;
        }
        tracing::trace!(resources = resources.len(), checks = checks.len(), "asking the policy");
        let decisions = self.session(state).decide(&resources, &checks);
        if let Some(shadow) = &self.shadow {
            let shadowed = self.shadow_session(state, shadow).decide(&resources, &checks);
            let subjects: Vec<String> = asked
                .iter()
                .map(|(class, field)| {
                    let type_name =
                        state.classes.get(class.0 as usize).map_or("?", |c| c.resource.type_name);
                    format!("{type_name}.{field}")
                })
                .collect();
            shadow.compare(&self.principal, &subjects, &decisions, &shadowed);
        }
        let mut remember = Vec::new();
        for ((class, field), decision) in asked.into_iter().zip(decisions) {
            let Some(entry) = state.classes.get_mut(class.0 as usize) else {
                continue;
            };
            counted.add("field", entry.resource.type_name, field, outcome(decision.is_allow()));
            self.log_denial(entry.resource.type_name, field, decision);
            entry.decisions.insert(field.into(), decision.is_allow());
            if self.remembered.is_some() && super::memo::is_the_policys(decision) {
                remember.push((entry.resource.clone(), field.into(), decision));
            }
            if let Some(explained) = state.explained.as_mut() {
                let resource = &entry.resource;
                explained.push(Explained {
                    type_name: resource.type_name,
                    field: Some(field.to_owned()),
                    action: None,
                    visibility: None,
                    allowed: decision.is_allow(),
                    reason: match decision {
                        Decision::Deny(reason) => Some(reason_text(&*self.policy.policy, reason)),
                        Decision::Allow => None,
                    },
                    security_groups: resource.security_groups.clone(),
                    relations: relation_names(resource.relations),
                });
            }
        }
        if let Some(remembered) = &self.remembered {
            remembered.remember(remember);
        }
        counted.record();
    }

    /// Logs a denied read with the policy's reason, at debug level.
    fn log_denial(&self, type_name: &'static str, field: &str, decision: Decision) {
        if let Decision::Deny(reason) = decision
            && tracing::enabled!(tracing::Level::DEBUG)
        {
            let reason = reason_text(&*self.policy.policy, reason);
            tracing::debug!(type_name, field, reason, "read denied");
        }
    }

    /// May the principal perform each of these actions, each on its resource? One policy call
    /// for the whole list; one answer per entry, in order. Actions are not memoized: a
    /// mutation asks once, and its inputs rarely repeat.
    pub fn may_perform(&self, asked: &[(Resource, Action)]) -> Vec<bool> {
        if asked.is_empty() {
            return Vec::new();
        }
        let mut state = self.state();
        let resources: Vec<Resource> = asked.iter().map(|(resource, _)| resource.clone()).collect();
        let checks: Vec<Check> = asked
            .iter()
            .zip(0u32..)
            .map(|((_, action), index)| Check { resource: index, target: Target::Action(*action) })
            .collect();
        let decisions = self.session(&mut state).decide(&resources, &checks);
        if let Some(shadow) = &self.shadow {
            let shadowed = self.shadow_session(&mut state, shadow).decide(&resources, &checks);
            let subjects: Vec<String> = asked
                .iter()
                .map(|(resource, action)| format!("act {} on {}", action.name, resource.type_name))
                .collect();
            shadow.compare(&self.principal, &subjects, &decisions, &shadowed);
        }
        let mut answers = vec![false; asked.len()];
        let mut counted = crate::metrics::Decisions::default();
        for ((answer, (resource, action)), decision) in answers.iter_mut().zip(asked).zip(decisions)
        {
            counted.add("action", resource.type_name, action.name, outcome(decision.is_allow()));
            if let Some(explained) = state.explained.as_mut() {
                explained.push(Explained {
                    type_name: resource.type_name,
                    field: None,
                    action: Some(action.name),
                    visibility: None,
                    allowed: decision.is_allow(),
                    reason: match decision {
                        Decision::Deny(reason) => Some(reason_text(&*self.policy.policy, reason)),
                        Decision::Allow => None,
                    },
                    security_groups: resource.security_groups.clone(),
                    relations: relation_names(resource.relations),
                });
            }
            match decision {
                Decision::Allow => *answer = true,
                Decision::Deny(reason) => tracing::info!(
                    action = action.name,
                    type_name = resource.type_name,
                    user = self.principal.user,
                    reason = reason_text(&*self.policy.policy, reason),
                    "action denied"
                ),
            }
        }
        counted.record();
        answers
    }

    /// May the principal perform `action` on `resource`?
    pub fn may(&self, resource: Resource, action: Action) -> bool {
        self.may_perform(&[(resource, action)]).pop().unwrap_or(false)
    }

    /// Which objects of `type_name` the principal may see.
    pub fn visibility(&self, type_name: &'static str) -> Visibility {
        let mut state = self.state();
        if let Some(visibility) = state.visibilities.get(type_name) {
            return visibility.clone();
        }
        let remembered = self.remembered.as_ref().and_then(|r| r.visibility(type_name));
        let visibility = match remembered {
            Some(visibility) => visibility,
            None => {
                let visibility = self
                    .session(&mut state)
                    .visibility(&[type_name])
                    .pop()
                    .unwrap_or(Visibility::None);
                if let Some(remembered) = &self.remembered
                    && visibility != Visibility::None
                {
                    remembered.remember_visibility(type_name, &visibility);
                }
                visibility
            }
        };
        state.visibilities.insert(type_name, visibility.clone());
        let mut counted = crate::metrics::Decisions::default();
        let seen = match visibility {
            Visibility::All => "all",
            Visibility::None => "none",
            Visibility::Where(_) => "some",
        };
        counted.add("visibility", type_name, "", seen);
        counted.record();
        if let Some(shadow) = &self.shadow {
            let shadowed = self
                .shadow_session(&mut state, shadow)
                .visibility(&[type_name])
                .pop()
                .unwrap_or(Visibility::None);
            shadow.compare_visibility(&self.principal, type_name, &visibility, &shadowed);
        }
        if let Some(explained) = state.explained.as_mut() {
            explained.push(Explained {
                type_name,
                field: None,
                action: None,
                visibility: Some(describe(&visibility)),
                allowed: visibility != Visibility::None,
                reason: None,
                security_groups: Vec::new(),
                relations: Vec::new(),
            });
        }
        visibility
    }

    fn session<'s>(&self, state: &'s mut State) -> &'s mut Box<dyn Session> {
        state.session.get_or_insert_with(|| self.policy.policy.session(&self.principal))
    }

    fn shadow_session<'s>(
        &self,
        state: &'s mut State,
        shadow: &Shadow,
    ) -> &'s mut Box<dyn Session> {
        state.shadow_session.get_or_insert_with(|| shadow.policy.policy.session(&self.principal))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::authz::native::{AllowAll, DenyAll};
    use crate::authz::{ActivePolicy, Policy, Relation};

    fn principal() -> Principal {
        Principal::plain_member()
    }

    /// Gives one answer to every check and one visibility to every type, and counts the
    /// checks it is asked.
    #[derive(Clone)]
    struct Counting {
        asked: Arc<AtomicUsize>,
        answer: Decision,
        visibility: Visibility,
    }

    impl Counting {
        /// Allows everything.
        fn allowing(asked: &Arc<AtomicUsize>) -> Self {
            Self { asked: asked.clone(), answer: Decision::Allow, visibility: Visibility::All }
        }

        /// Denies everything for want of an answer, as the host does when a policy fails.
        fn failing(asked: &Arc<AtomicUsize>) -> Self {
            let answer = Decision::Deny(crate::authz::Reason::Host("the policy failed"));
            Self { asked: asked.clone(), answer, visibility: Visibility::None }
        }
    }

    impl Policy for Counting {
        fn session(&self, _principal: &Principal) -> Box<dyn Session> {
            Box::new(self.clone())
        }
    }

    impl Session for Counting {
        fn decide(&mut self, _resources: &[Resource], checks: &[Check<'_>]) -> Vec<Decision> {
            self.asked.fetch_add(checks.len(), Ordering::Relaxed);
            vec![self.answer; checks.len()]
        }
        fn visibility(&mut self, type_names: &[&str]) -> Vec<Visibility> {
            vec![self.visibility.clone(); type_names.len()]
        }
    }

    #[test]
    fn a_thousand_objects_in_three_classes_cost_three_decisions_per_field() {
        let asked = Arc::new(AtomicUsize::new(0));
        let policy = Arc::new(LoadedPolicy::native(Counting::allowing(&asked), "counting"));
        let guard = Guard::new(principal(), policy);
        for n in 0..1000 {
            let class = guard.classify(Resource::grouped("Workflow", [n % 3]));
            for field in ["id", "name", "schedule"] {
                assert_eq!(guard.permit(class, field), Ok(()));
            }
        }
        assert_eq!(asked.load(Ordering::Relaxed), 3 * 3);
    }

    fn ask(guard: &Guard) -> Result<(), Denied> {
        let class = guard.classify(Resource::grouped("Workflow", [1]));
        guard.permit(class, "name")
    }

    #[test]
    fn a_versions_answers_are_remembered_for_a_principals_next_requests_but_not_its_failures() {
        let asked = Arc::new(AtomicUsize::new(0));
        let count = || asked.load(Ordering::Relaxed);
        let policy = Arc::new(LoadedPolicy::native(Counting::allowing(&asked), "counting"));
        for _ in 0..3 {
            assert_eq!(ask(&Guard::new(principal(), policy.clone())), Ok(()));
        }
        assert_eq!(count(), 1, "a later request asked again");
        let mut other = principal();
        other.security_groups = vec![7];
        assert_eq!(ask(&Guard::new(other, policy.clone())), Ok(()));
        assert_eq!(count(), 2, "another principal was answered from memory");
        assert_eq!(ask(&Guard::new(principal(), policy.clone()).explaining()), Ok(()));
        assert_eq!(count(), 3, "an explained request was answered from memory");
        let next = Arc::new(LoadedPolicy::native(Counting::allowing(&asked), "counting"));
        assert_eq!(ask(&Guard::new(principal(), next)), Ok(()));
        assert_eq!(count(), 4, "a new version remembered the old one's answers");

        let failed = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(LoadedPolicy::native(Counting::failing(&failed), "failing"));
        for _ in 0..2 {
            let guard = Guard::new(principal(), failing.clone());
            assert!(ask(&guard).is_err());
            assert_eq!(guard.visibility("Workflow"), Visibility::None);
        }
        assert_eq!(failed.load(Ordering::Relaxed), 2, "a failure was remembered as an answer");
    }

    #[test]
    fn relations_are_part_of_the_class() {
        let asked = Arc::new(AtomicUsize::new(0));
        let guard = Guard::new(
            principal(),
            Arc::new(LoadedPolicy::native(Counting::allowing(&asked), "counting")),
        );
        let mine = guard.classify(Resource::plain("Process").related(Relation::CREATOR));
        let theirs = guard.classify(Resource::plain("Process"));
        assert_ne!(mine, theirs);
        let _ = guard.permit(mine, "name");
        let _ = guard.permit(theirs, "name");
        assert_eq!(asked.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn prefetch_decides_a_batch_once() {
        let asked = Arc::new(AtomicUsize::new(0));
        let guard = Guard::new(
            principal(),
            Arc::new(LoadedPolicy::native(Counting::allowing(&asked), "counting")),
        );
        let classes: Vec<ClassId> =
            (0..4).map(|g| guard.classify(Resource::grouped("Workflow", [g]))).collect();
        guard.prefetch(&classes, &["id", "name"]);
        guard.prefetch(&classes, &["id", "name"]);
        for class in &classes {
            assert_eq!(guard.permit(*class, "name"), Ok(()));
        }
        assert_eq!(asked.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn a_request_keeps_the_policy_it_started_with_across_a_swap() {
        let active = ActivePolicy::new(LoadedPolicy::native(AllowAll, "allow-all"));
        let in_flight = Guard::new(principal(), active.current());
        active.replace(LoadedPolicy::native(DenyAll, "deny-all"));
        let started_after = Guard::new(principal(), active.current());

        let class = in_flight.classify(Resource::plain("Team"));
        assert_eq!(in_flight.permit(class, "name"), Ok(()));
        assert_eq!(in_flight.visibility("Workflow"), Visibility::All);
        let class = started_after.classify(Resource::plain("Team"));
        assert!(started_after.permit(class, "name").is_err());
        assert_eq!(started_after.visibility("Workflow"), Visibility::None);
    }
}
