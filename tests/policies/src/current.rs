//! The fixture policies of the current contract, `policy-wasm/wit`.

#[allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../policy-wasm/wit", world: "policy" });

    use super::TestPolicy;
    export!(TestPolicy with_types_in crate::current::bindings);
}

use bindings::fieldguard::policy::types::{
    Act, Answers, Names, Numbers, Principal, Reads, Resource, Visibility,
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

/// The numbers this policy gives: every type is one type, a field leads on or not.
const A_TYPE: u32 = 0;
const NAVIGATES: u32 = 0;
const LEAF: u32 = 1;
const AN_ACTION: u32 = 0;

/// Its reasons: code 1 denies a field, code 2 an action.
const DENIES_FIELD: u16 = 1;
const DENIES_ACTION: u16 = 2;
const ALLOW: u16 = 0;

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
        } else if cfg!(feature = "grow-table") {
            "grow-table"
        } else if cfg!(feature = "memories") {
            "memories"
        } else if cfg!(feature = "allow-all") {
            "allow-all"
        } else {
            "deny-all"
        };
        format!("test {behaviour}")
    }

    fn resolve(names: Names) -> Numbers {
        Numbers {
            types: names.types.iter().map(|_| Some(A_TYPE)).collect(),
            fields: names
                .fields
                .iter()
                .map(|f| {
                    Some(if NAVIGATION.contains(&f.field.as_str()) { NAVIGATES } else { LEAF })
                })
                .collect(),
            actions: names.actions.iter().map(|_| Some(AN_ACTION)).collect(),
        }
    }

    fn reasons() -> Vec<String> {
        vec!["test policy denies this field".into(), "test policy denies actions".into()]
    }

    fn decide(
        _principal: Principal,
        _resources: Vec<Resource>,
        reads: Reads,
        acts: Vec<Act>,
    ) -> Answers {
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
        // Had the table grown, everything would be allowed: the test would see it.
        #[cfg(feature = "grow-table")]
        if hostile::grow_table() != -1 {
            return Answers {
                reads: vec![ALLOW; reads.fields.len()],
                acts: vec![ALLOW; acts.len()],
            };
        }
        if cfg!(feature = "short") {
            return Answers { reads: Vec::new(), acts: Vec::new() };
        }
        if cfg!(feature = "allow-all") {
            return Answers {
                reads: vec![ALLOW; reads.fields.len()],
                acts: vec![ALLOW; acts.len()],
            };
        }
        let read = |field: &u32| match *field {
            NAVIGATES if cfg!(feature = "deny-leaves") => ALLOW,
            _ => DENIES_FIELD,
        };
        Answers {
            reads: reads.fields.iter().map(read).collect(),
            acts: vec![DENIES_ACTION; acts.len()],
        }
    }

    fn filter(_principal: Principal, type_names: Vec<u32>) -> Vec<Visibility> {
        if cfg!(feature = "short") {
            return Vec::new();
        }
        let visibility = if cfg!(any(
            feature = "deny-leaves",
            feature = "trap",
            feature = "spin",
            feature = "hoard",
            feature = "grow-table",
            feature = "memories",
            feature = "allow-all"
        )) {
            Visibility::All
        } else {
            Visibility::None
        };
        vec![visibility; type_names.len()]
    }
}

/// What Rust cannot write: the `grow-table` module imports this function, and the fixtures'
/// build (`tests/build.rs`) replaces the import with a body that grows a table by 200 million
/// elements and answers what `table.grow` answers (-1 when refused).
#[cfg(feature = "grow-table")]
mod hostile {
    #[allow(unsafe_code)]
    #[link(wasm_import_module = "fieldguard-test")]
    unsafe extern "C" {
        #[link_name = "grow-table"]
        fn grow_table_import() -> i32;
    }

    /// Grows a table by 200 million elements (once rewritten): its old size, or -1.
    pub fn grow_table() -> i32 {
        // SAFETY: the import takes and returns nothing; the build gives it its body.
        #[allow(unsafe_code)]
        unsafe {
            grow_table_import()
        }
    }
}
