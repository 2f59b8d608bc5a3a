//! The fixture policies of the current contract, `policy-wasm/wit`.

#[allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../policy-wasm/wit", world: "policy" });

    use super::TestPolicy;
    export!(TestPolicy with_types_in crate::current::bindings);
}

use bindings::fieldguard::policy::types::{
    Check, Decision, Principal, Resource, Target, Visibility,
};

/// The fields that lead from one object to another: the only ones `deny-leaves` allows.
pub const NAVIGATION: &[&str] = &[
    "me",
    "myTeams",
    "team",
    "orchestrator",
    "workflow",
    "botRunner",
    "process",
    "securityGroup",
    "policy",
    "owner",
    "members",
    "invitations",
    "securityGroups",
    "orchestrators",
    "workflows",
    "botRunners",
    "processes",
    "jobs",
    "tasks",
    "forms",
    "auditLog",
    "user",
    "invitedBy",
    "outputVariables",
    "versions",
    "executionLogs",
    "queue",
    "assignedBotRunners",
    "publishedBy",
    "registrationTokens",
    "createdBy",
    "launchPermissions",
    "launchedBy",
    "assignee",
    "job",
    "form",
    "actor",
    "edges",
    "nodes",
    "node",
    "pageInfo",
    "runs",
    "startedBy",
    "consoleLogs",
    "values",
    "completedBy",
    "retryOf",
];

/// The test policy.
pub struct TestPolicy;

fn deny(reason: &str) -> Decision {
    Decision::Deny(reason.into())
}

impl bindings::Guest for TestPolicy {
    fn name() -> String {
        let behaviour = if cfg!(feature = "deny-leaves") {
            "deny-leaves"
        } else if cfg!(feature = "trap") {
            "trap"
        } else if cfg!(feature = "spin") {
            "spin"
        } else if cfg!(feature = "short") {
            "short"
        } else if cfg!(feature = "hoard") {
            "hoard"
        } else if cfg!(feature = "allow-all") {
            "allow-all"
        } else {
            "deny-all"
        };
        format!("test {behaviour}")
    }

    fn decide(
        _principal: Principal,
        resources: Vec<Resource>,
        checks: Vec<Check>,
    ) -> Vec<Decision> {
        if cfg!(feature = "trap") {
            panic!("this policy traps");
        }
        if cfg!(feature = "spin") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if cfg!(feature = "hoard") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        if cfg!(feature = "short") {
            return Vec::new();
        }
        if cfg!(feature = "allow-all") {
            return vec![Decision::Allow; checks.len()];
        }
        checks
            .iter()
            .map(|check| match &check.target {
                Target::Field(field)
                    if cfg!(feature = "deny-leaves") && NAVIGATION.contains(&field.as_str()) =>
                {
                    Decision::Allow
                }
                Target::Field(field) => {
                    let type_name = resources
                        .get(check.resource as usize)
                        .map_or("?", |r| r.type_name.as_str());
                    deny(&format!("test policy denies {type_name}.{field}"))
                }
                Target::Action(_) => deny("test policy denies actions"),
            })
            .collect()
    }

    fn filter(_principal: Principal, type_names: Vec<String>) -> Vec<Visibility> {
        if cfg!(feature = "short") {
            return Vec::new();
        }
        let visibility = if cfg!(any(
            feature = "deny-leaves",
            feature = "trap",
            feature = "spin",
            feature = "hoard",
            feature = "allow-all"
        )) {
            Visibility::All
        } else {
            Visibility::None
        };
        vec![visibility; type_names.len()]
    }
}
