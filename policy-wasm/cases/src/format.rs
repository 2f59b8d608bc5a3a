//! The file format of decision cases, as a policy author writes it (TOML or JSON).
//!
//! A file names its principals once, then lists cases. Each case says who, among those
//! principals, is allowed; everyone else in the file is expected to be denied. So one case is a
//! whole row of answers, and a rule that starts answering differently for anyone fails it.
//!
//! ```toml
//! [principals]
//! owner = { portal-role = "OWNER" }
//! developer-g1 = { products = ["ORCHESTRATOR"], orchestrator-role = "DEVELOPER", security-groups = [1] }
//!
//! [[read]]
//! type = "Workflow"
//! groups = [1]
//! fields = ["outputVariables", "versions"]
//! allow = ["owner", "developer-g1"]
//!
//! [[act]]
//! type = "Workflow"
//! groups = [1]
//! action = "publish-workflow-version"
//! allow = ["owner", "developer-g1"]
//!
//! [[see]]
//! type = "Workflow"
//! groups = [2]
//! allow = ["owner"]
//! ```
//!
//! `allow = ["*"]` allows everyone, `allow = []` no one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole file of cases.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaseFile {
    /// What the file checks, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who asks, by name. Every case is answered for every one of them.
    pub principals: BTreeMap<String, PrincipalSpec>,
    /// Field reads.
    #[serde(default)]
    pub read: Vec<ReadCase>,
    /// Actions (mutations).
    #[serde(default)]
    pub act: Vec<ActCase>,
    /// Visibility: who sees an object with these attributes at all.
    #[serde(default)]
    pub see: Vec<SeeCase>,
}

/// A portal role, spelled as in the GraphQL API.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PortalRole {
    /// The team's owner.
    Owner,
    /// An admin.
    Admin,
    /// A security admin.
    SecurityAdmin,
    /// A member (the default).
    #[default]
    Member,
    /// A billing contact.
    BillingContact,
}

/// A product of the suite.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Product {
    /// Studio Pro.
    StudioPro,
    /// Bot Runner.
    BotRunner,
    /// Orchestrator.
    Orchestrator,
    /// Process Hub.
    ProcessHub,
    /// IntegraBots.
    Integrabots,
}

/// An Orchestrator role.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrchestratorRole {
    /// ADMIN.
    Admin,
    /// DEVELOPER.
    Developer,
    /// OPERATOR.
    Operator,
    /// ANALYST.
    Analyst,
}

/// A Process Hub role.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessHubRole {
    /// ADMINISTRATOR.
    Administrator,
    /// PROCESS_MANAGER.
    ProcessManager,
    /// USER.
    User,
}

/// How the principal relates to the resource of a case.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// The resource is the principal's own user or membership.
    IsPrincipal,
    /// The principal created it.
    Creator,
    /// The principal may launch it, or launched it.
    Launcher,
    /// It is assigned to the principal.
    Assignee,
}

/// One principal: a member of team 1 with these roles. Everything left out is the narrowest:
/// MEMBER, no products, no product roles, no groups, flags off.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrincipalSpec {
    /// The portal role.
    #[serde(default)]
    pub portal_role: PortalRole,
    /// Products enabled for the member.
    #[serde(default)]
    pub products: Vec<Product>,
    /// The Orchestrator role.
    #[serde(default)]
    pub orchestrator_role: Option<OrchestratorRole>,
    /// The Process Hub role.
    #[serde(default)]
    pub process_hub_role: Option<ProcessHubRole>,
    /// The enabled security groups the member belongs to.
    #[serde(default)]
    pub security_groups: Vec<u64>,
    /// Whether the member may read the audit log of their groups.
    #[serde(default)]
    pub audit_log_access: bool,
    /// Whether the team has Advanced Access Management on.
    #[serde(default)]
    pub advanced_access_management: bool,
}

/// Who may read these fields of an object with these attributes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReadCase {
    /// The GraphQL type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The object's security groups.
    #[serde(default)]
    pub groups: Vec<u64>,
    /// How each principal relates to it.
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// The fields, by GraphQL name; each is one check per principal.
    pub fields: Vec<String>,
    /// Who is allowed (`*`: everyone); everyone else is denied.
    pub allow: Vec<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Who may perform an action on an object with these attributes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ActCase {
    /// The GraphQL type of the object acted on.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The object's security groups.
    #[serde(default)]
    pub groups: Vec<u64>,
    /// How each principal relates to it.
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// The action's name, e.g. `change-member-role`.
    pub action: String,
    /// The member's portal role now, for actions on a membership.
    #[serde(default)]
    pub current_role: Option<PortalRole>,
    /// The portal role the action would give.
    #[serde(default)]
    pub requested_role: Option<PortalRole>,
    /// Who is allowed (`*`: everyone); everyone else is denied.
    pub allow: Vec<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Who sees an object with these attributes at all (in lists, counts and by id).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SeeCase {
    /// The GraphQL type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The object's security groups.
    #[serde(default)]
    pub groups: Vec<u64>,
    /// How each principal relates to it.
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// Who sees it (`*`: everyone); everyone else does not.
    pub allow: Vec<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a file of cases cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

impl CaseFile {
    /// Reads a file of cases: JSON when it starts with `{`, TOML otherwise. Unknown keys,
    /// unknown roles and unknown principal names are refused, naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let file: Self = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| FormatError(format!("not valid JSON: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| FormatError(format!("not valid TOML: {e}")))?
        };
        file.check_names()?;
        Ok(file)
    }

    /// Every name in an `allow` list is a principal of the file (or `*`).
    fn check_names(&self) -> Result<(), FormatError> {
        let lists = self
            .read
            .iter()
            .map(|case| (format!("read {}", case.type_name), &case.allow))
            .chain(self.act.iter().map(|case| (format!("act {}", case.action), &case.allow)))
            .chain(self.see.iter().map(|case| (format!("see {}", case.type_name), &case.allow)));
        for (case, allow) in lists {
            if let Some(name) =
                allow.iter().find(|name| *name != "*" && !self.principals.contains_key(*name))
            {
                return Err(FormatError(format!(
                    "the case `{case}` allows `{name}`, who is not among the principals ({})",
                    self.principals.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(())
    }
}
