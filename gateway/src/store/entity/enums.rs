//! Enumerations stored as text columns and exposed as GraphQL enums under the same names.

use async_graphql::Enum;
use sea_orm::entity::prelude::*;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Enum)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
        pub enum $name {
            $($(#[$vdoc])* #[sea_orm(string_value = $value)] $variant,)+
        }
    };
}

text_enum!(
    /// A member's role in a team's portal.
    PortalRole {
        /// Exactly one per team; changed only by transferring ownership.
        Owner = "OWNER",
        /// Manages the team and every product.
        Admin = "ADMIN",
        /// Manages users, roles, security groups and audit logs.
        SecurityAdmin = "SECURITY_ADMIN",
        /// Works in the products enabled for them.
        Member = "MEMBER",
        /// Sees billing.
        BillingContact = "BILLING_CONTACT",
    }
);

text_enum!(
    /// A product of the suite.
    Product {
        /// Studio Pro.
        StudioPro = "STUDIO_PRO",
        /// Bot Runner.
        BotRunner = "BOT_RUNNER",
        /// Orchestrator.
        Orchestrator = "ORCHESTRATOR",
        /// Process Hub.
        ProcessHub = "PROCESS_HUB",
        /// IntegraBots.
        Integrabots = "INTEGRABOTS",
    }
);

text_enum!(
    /// A member's role in Orchestrator.
    OrchestratorRole {
        /// Everything, not limited by security groups.
        Admin = "ADMIN",
        /// Builds workflows inside their security groups.
        Developer = "DEVELOPER",
        /// Runs and schedules workflows inside their security groups.
        Operator = "OPERATOR",
        /// Reads.
        Analyst = "ANALYST",
    }
);

text_enum!(
    /// A member's role in Process Hub.
    ProcessHubRole {
        /// Everything.
        Administrator = "ADMINISTRATOR",
        /// Creates processes and edits their own.
        ProcessManager = "PROCESS_MANAGER",
        /// Launches what they may launch.
        User = "USER",
    }
);

text_enum!(
    /// Whether a user may sign in.
    UserStatus {
        /// May sign in.
        Active = "ACTIVE",
        /// Refused at authentication.
        Locked = "LOCKED",
    }
);

text_enum!(
    /// Where an invitation stands.
    InvitationStatus {
        /// Sent, not answered.
        Pending = "PENDING",
        /// The invitee joined.
        Accepted = "ACCEPTED",
        /// Withdrawn.
        Revoked = "REVOKED",
    }
);

text_enum!(
    /// Whether a bot runner may take work.
    ApprovalState {
        /// Registered, waiting for an Orchestrator admin.
        Pending = "PENDING",
        /// Approved.
        Approved = "APPROVED",
        /// Refused.
        Rejected = "REJECTED",
    }
);

text_enum!(
    /// Where a job or a queue item stands.
    RunState {
        /// Waiting.
        Queued = "QUEUED",
        /// Running now.
        Running = "RUNNING",
        /// Finished well.
        Succeeded = "SUCCEEDED",
        /// Finished badly.
        Failed = "FAILED",
        /// Stopped by someone.
        Cancelled = "CANCELLED",
    }
);

text_enum!(
    /// Where a Process Hub task stands.
    TaskState {
        /// Waiting for its assignee.
        Open = "OPEN",
        /// Done.
        Completed = "COMPLETED",
    }
);

text_enum!(
    /// The severity of a log line.
    LogLevel {
        /// Progress.
        Info = "INFO",
        /// Worth a look.
        Warning = "WARNING",
        /// Something failed.
        Error = "ERROR",
    }
);

text_enum!(
    /// Which log of a workflow a line belongs to.
    LogStream {
        /// What the orchestrator did: runs started, finished, failed.
        Execution = "EXECUTION",
        /// What the bot printed while it ran.
        Console = "CONSOLE",
    }
);

impl Product {
    /// The products of a comma-separated list (as an invitation stores them), in product order;
    /// names that are no product are left out.
    pub fn parse_list(text: &str) -> Vec<Self> {
        use sea_orm::Iterable;
        let listed: Vec<&str> = text.split(',').map(str::trim).collect();
        Self::iter().filter(|p| listed.contains(&p.to_value().as_str())).collect()
    }

    /// `products` in product order, without repeats: how a membership's products are shown,
    /// whatever order the database returns them in.
    pub fn in_order(products: impl IntoIterator<Item = Self>) -> Vec<Self> {
        use sea_orm::Iterable;
        let held: Vec<Self> = products.into_iter().collect();
        Self::iter().filter(|p| held.contains(p)).collect()
    }

    /// Products as a comma-separated list, sorted and without repeats: what
    /// [`Product::parse_list`] reads.
    pub fn list_text(products: &[Self]) -> String {
        let mut names: Vec<String> = products.iter().map(|p| p.to_value()).collect();
        names.sort();
        names.dedup();
        names.join(",")
    }
}
