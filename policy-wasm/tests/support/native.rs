//! The policy's native build as a [`Subject`] of the case runner, by any tables: the shipped
//! ones, or a copy with one rule changed.

use fieldguard_policy::{
    Action, Check, Condition, Decision, OrchestratorRole, PortalRole, Principal, ProcessHubRole,
    Product, Relation, Resource, Tables, Target, Visibility, decide_with, filter,
};
use fieldguard_policy_cases as cases;

/// The native policy deciding by `tables`.
pub struct Native<'t>(pub Tables<'t>);

/// A portal role of a case file as the policy spells it.
pub fn portal_role(role: cases::PortalRole) -> PortalRole {
    match role {
        cases::PortalRole::Owner => PortalRole::Owner,
        cases::PortalRole::Admin => PortalRole::Admin,
        cases::PortalRole::SecurityAdmin => PortalRole::SecurityAdmin,
        cases::PortalRole::Member => PortalRole::Member,
        cases::PortalRole::BillingContact => PortalRole::BillingContact,
    }
}

const RELATIONS: [(cases::Relation, Relation); 4] = [
    (cases::Relation::IsPrincipal, Relation::IS_PRINCIPAL),
    (cases::Relation::Creator, Relation::CREATOR),
    (cases::Relation::Launcher, Relation::LAUNCHER),
    (cases::Relation::Assignee, Relation::ASSIGNEE),
];

/// A principal of a case file as the policy sees it.
pub fn principal(principal: &cases::Principal<'_>) -> Principal {
    let spec = principal.spec;
    Principal {
        user: principal.user,
        team: 1,
        portal_role: portal_role(spec.portal_role),
        products: spec
            .products
            .iter()
            .map(|product| match product {
                cases::Product::StudioPro => Product::StudioPro,
                cases::Product::BotRunner => Product::BotRunner,
                cases::Product::Orchestrator => Product::Orchestrator,
                cases::Product::ProcessHub => Product::ProcessHub,
                cases::Product::Integrabots => Product::Integrabots,
            })
            .collect(),
        orchestrator_role: spec.orchestrator_role.map(|role| match role {
            cases::OrchestratorRole::Admin => OrchestratorRole::Admin,
            cases::OrchestratorRole::Developer => OrchestratorRole::Developer,
            cases::OrchestratorRole::Operator => OrchestratorRole::Operator,
            cases::OrchestratorRole::Analyst => OrchestratorRole::Analyst,
        }),
        process_hub_role: spec.process_hub_role.map(|role| match role {
            cases::ProcessHubRole::Administrator => ProcessHubRole::Administrator,
            cases::ProcessHubRole::ProcessManager => ProcessHubRole::ProcessManager,
            cases::ProcessHubRole::User => ProcessHubRole::User,
        }),
        security_groups: spec.security_groups.clone(),
        audit_log_access: spec.audit_log_access,
        advanced_access_management: spec.advanced_access_management,
    }
}

fn resource(resource: &cases::Resource<'_>) -> Resource {
    Resource {
        type_name: resource.type_name.to_owned(),
        security_groups: resource.groups.to_vec(),
        relations: RELATIONS
            .into_iter()
            .filter(|(theirs, _)| resource.relations.contains(theirs))
            .fold(Relation::empty(), |acc, (_, ours)| acc | ours),
    }
}

fn target(target: &cases::Target<'_>) -> Target {
    match *target {
        cases::Target::Field(field) => Target::Field(field.to_owned()),
        cases::Target::Action { name, current_role, requested_role } => Target::Action(Action {
            name: name.to_owned(),
            current_role: current_role.map(portal_role),
            requested_role: requested_role.map(portal_role),
        }),
    }
}

impl cases::Subject for Native<'_> {
    fn decide(
        &mut self,
        who: &cases::Principal<'_>,
        on: &cases::Resource<'_>,
        targets: &[cases::Target<'_>],
    ) -> Vec<cases::Answer> {
        let checks: Vec<Check> =
            targets.iter().map(|t| Check { resource: 0, target: target(t) }).collect();
        decide_with(&self.0, &principal(who), &[resource(on)], &checks)
            .into_iter()
            .map(|decision| match decision {
                Decision::Allow => cases::Answer { allowed: true, reason: None },
                Decision::Deny(reason) => cases::Answer { allowed: false, reason: Some(reason) },
            })
            .collect()
    }

    fn visibility(&mut self, who: &cases::Principal<'_>, type_name: &str) -> cases::Visibility {
        match filter(&self.0, &principal(who), &[type_name]).pop() {
            Some(Visibility::All) => cases::Visibility::All,
            Some(Visibility::Where(clauses)) => cases::Visibility::Where(
                clauses
                    .into_iter()
                    .map(|clause| {
                        clause
                            .into_iter()
                            .map(|condition| match condition {
                                Condition::InSecurityGroups(groups) => {
                                    cases::Condition::InSecurityGroups(groups)
                                }
                                Condition::Related(flags) => cases::Condition::Related(
                                    RELATIONS
                                        .into_iter()
                                        .filter(|(_, ours)| flags.contains(*ours))
                                        .map(|(theirs, _)| theirs)
                                        .collect(),
                                ),
                            })
                            .collect()
                    })
                    .collect(),
            ),
            Some(Visibility::None) | None => cases::Visibility::None,
        }
    }
}
