//! The gateway's one error type, and how each error shows at the GraphQL edge.
//!
//! Every error carries a stable machine-readable code (`extensions.code`). Internal details
//! (database messages, policy traps) are logged, never sent to the caller.

use async_graphql::ErrorExtensions;

/// Everything that can go wrong in the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request carries no valid credentials, or they name no active member of the team.
    #[error("{0}")]
    Unauthenticated(String),
    /// The policy denied the read or the action.
    #[error("you are not allowed to read `{type_name}.{field}`")]
    Forbidden {
        /// The GraphQL type.
        type_name: &'static str,
        /// The field.
        field: String,
    },
    /// The policy denied an action, named in words (e.g. "change the role of Membership:3").
    #[error("you are not allowed to {0}")]
    ForbiddenAction(String),
    /// The object does not exist for the caller: unknown, in another team, or not visible.
    #[error("{0}")]
    NotFound(String),
    /// The input is not acceptable, and says why.
    #[error("{0}")]
    InvalidInput(String),
    /// A request went past one of the gateway's limits; each limit has its own code.
    #[error("{message}")]
    Limit {
        /// The limit's stable code, e.g. `TOO_MANY_ROWS`.
        code: &'static str,
        /// Which limit, and what to do instead.
        message: String,
    },
    /// A persisted query was asked for by a hash the gateway does not know (yet): the client
    /// sends the document with its hash (Apollo's automatic persisted queries).
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// The gateway runs only trusted documents, and the request's is not one.
    #[error("{message}")]
    NotTrusted {
        /// `PERSISTED_QUERY_NOT_IN_LIST` (an unknown hash) or `QUERY_NOT_IN_SAFELIST`.
        code: &'static str,
        /// What was refused.
        message: String,
    },
    /// The change would break an invariant, and says which.
    #[error("{0}")]
    Conflict(String),
    /// A candidate policy version was refused before activation: it does not compile, speaks
    /// another contract, or fails its decision cases or the contract checks.
    #[error("{message}")]
    PolicyRejected {
        /// What was refused, and that the version in force keeps serving.
        message: String,
        /// Each failing case or check, one line each.
        failures: Vec<String>,
    },
    /// A policy module cannot be loaded, and why.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// The WebAssembly engine could not start.
    #[error("the policy engine could not start: {0}")]
    PolicyEngine(String),
    /// The policy file cannot be watched.
    #[error("cannot watch the policy file: {0}")]
    PolicyWatch(String),
    /// Another gateway, called by a command, failed or refused.
    #[error("{0}")]
    Server(String),
    /// The configuration is not usable.
    #[error("configuration: {0}")]
    Config(String),
    /// The database cannot be reached or opened.
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A file operation failed. The cause is part of the message, not a source of its own, so
    /// that a chain of errors prints it once.
    #[error("{what}: {cause}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        cause: std::io::Error,
    },
}

impl Error {
    /// The stable code of this error at the GraphQL edge.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden { .. } | Self::ForbiddenAction(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::InvalidInput(_) => "INVALID_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::Limit { code, .. } | Self::NotTrusted { code, .. } => code,
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PolicyRejected { .. } => "POLICY_REJECTED",
            Self::InvalidPolicy(_)
            | Self::PolicyEngine(_)
            | Self::PolicyWatch(_)
            | Self::Config(_)
            | Self::Server(_)
            | Self::DatabaseUnavailable(_)
            | Self::Database(_)
            | Self::Io { .. } => "INTERNAL",
        }
    }

    /// The message the caller sees: internal details are logged and replaced by a generic
    /// message.
    pub fn public_message(&self) -> String {
        if self.code() == "INTERNAL" {
            tracing::error!(error = %self, "request failed");
            "internal error; the server log has the details".to_owned()
        } else {
            self.to_string()
        }
    }

    /// The error as the caller sees it, with its code.
    pub fn to_graphql(&self) -> async_graphql::Error {
        let code = self.code();
        let failures = match self {
            Self::PolicyRejected { failures, .. } => failures.clone(),
            _ => Vec::new(),
        };
        async_graphql::Error::new(self.public_message()).extend_with(move |_, extensions| {
            extensions.set("code", code);
            if !failures.is_empty() {
                extensions.set("failures", failures.clone());
            }
        })
    }
}

impl From<crate::authz::guard::Denied> for Error {
    fn from(denied: crate::authz::guard::Denied) -> Self {
        Self::Forbidden { type_name: denied.type_name, field: denied.field }
    }
}

/// Converts a gateway result for a resolver, keeping the error's code.
///
/// `async_graphql::Error` converts from anything printable, which would drop the code; every
/// resolver converts through this trait instead.
pub trait ResultExt<T> {
    /// The result with its error as a coded GraphQL error.
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|error| error.into().to_graphql())
    }
}
