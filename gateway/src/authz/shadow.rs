//! Shadow mode: a stored candidate answers beside the version in force, on live traffic,
//! without being enforced. Every request's questions are asked of both; where they answer
//! differently the gateway counts it, by what was asked (`Type.field`, `see Type`, an action)
//! and by the principal's role, until the shadow is stopped.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::{Decision, LoadedPolicy, Principal, Visibility};

/// A candidate in shadow, and what it has decided differently so far.
pub struct Shadow {
    /// The candidate.
    pub policy: LoadedPolicy,
    /// When the shadow started.
    pub since: DateTime<Utc>,
    decisions: AtomicU64,
    differences: Mutex<BTreeMap<(String, String), Tally>>,
}

/// How often the candidate answered otherwise, one way and the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The candidate would allow what the version in force denies.
    pub would_allow: u64,
    /// The candidate would deny what the version in force allows.
    pub would_deny: u64,
}

/// One line of a shadow report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowDifference {
    /// What was asked: `Type.field`, `see Type`, or `act action on Type`.
    pub subject: String,
    /// The role of the principals asked.
    pub role: String,
    /// How often.
    pub tally: Tally,
}

impl Shadow {
    /// `policy` in shadow from now on.
    pub fn new(policy: LoadedPolicy) -> Self {
        Self {
            policy,
            since: Utc::now(),
            decisions: AtomicU64::new(0),
            differences: Mutex::default(),
        }
    }

    /// How many decisions the candidate has been asked.
    pub fn decisions(&self) -> u64 {
        self.decisions.load(Ordering::Relaxed)
    }

    /// Where the candidate answered otherwise, by subject then role.
    pub fn differences(&self) -> Vec<ShadowDifference> {
        let differences = self.differences.lock().unwrap_or_else(|p| p.into_inner());
        differences
            .iter()
            .map(|((subject, role), tally)| ShadowDifference {
                subject: subject.clone(),
                role: role.clone(),
                tally: *tally,
            })
            .collect()
    }

    /// Compares the answers of the version in force (`enforced`) with the candidate's
    /// (`shadowed`) to the same questions, described by `subjects`.
    pub(crate) fn compare(
        &self,
        principal: &Principal,
        subjects: &[String],
        enforced: &[Decision],
        shadowed: &[Decision],
    ) {
        self.decisions.fetch_add(subjects.len() as u64, Ordering::Relaxed);
        let mut role = None;
        for ((subject, enforced), shadowed) in subjects.iter().zip(enforced).zip(shadowed) {
            if enforced.is_allow() == shadowed.is_allow() {
                continue;
            }
            let role = role.get_or_insert_with(|| super::diff::role_of(principal)).clone();
            let mut differences = self.differences.lock().unwrap_or_else(|p| p.into_inner());
            let tally = differences.entry((subject.clone(), role)).or_default();
            if shadowed.is_allow() {
                tally.would_allow += 1;
            } else {
                tally.would_deny += 1;
            }
        }
    }

    /// Compares two visibilities of `type_name`.
    pub(crate) fn compare_visibility(
        &self,
        principal: &Principal,
        type_name: &str,
        enforced: &Visibility,
        shadowed: &Visibility,
    ) {
        self.decisions.fetch_add(1, Ordering::Relaxed);
        if enforced == shadowed {
            return;
        }
        let role = super::diff::role_of(principal);
        let mut differences = self.differences.lock().unwrap_or_else(|p| p.into_inner());
        let tally = differences.entry((format!("see {type_name}"), role)).or_default();
        // A visibility that changes shape counts as both: some objects may appear, others go.
        match (enforced, shadowed) {
            (Visibility::None, _) | (_, Visibility::All) => tally.would_allow += 1,
            (Visibility::All, _) | (_, Visibility::None) => tally.would_deny += 1,
            _ => {
                tally.would_allow += 1;
                tally.would_deny += 1;
            }
        }
    }
}
