//! # Fieldguard
//!
//! The GraphQL API of a team and access-management platform for an RPA suite. Every field of
//! every object is decided by a policy compiled to WebAssembly, which can be replaced while the
//! server runs.
//!
//! ## Layout: follow a request
//!
//! * [`http`]: where requests enter: routes, authentication, GraphiQL.
//! * [`graphql`]: the schema and its resolvers; each field asks the policy first.
//! * [`authz`]: where access is decided: the policy contract, the WebAssembly host, the
//!   per-request guard, hot swapping.
//! * [`store`]: where data is stored and read: entities, migrations, visibility as SQL,
//!   batched loaders.
//! * [`events`]: team events, published when a write commits, for subscribers.
//! * [`metrics`]: what an operator scrapes at `/metrics`.
//! * [`demo`]: the demo data.
//! * [`config`]: flags and environment variables.
//! * [`cli`]: the command line (`fieldguard serve`, `fieldguard policy deploy`, …).
//! * [`error`]: the one error type, and its codes at the GraphQL edge.
//! * `sync`: locks that outlive a panic.

pub mod authz;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod store;
mod sync;

use std::future::Future;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub use error::Error;
pub use http::{AppState, app};

use authz::{ActivePolicy, LoadedPolicy};
use http::auth::Authenticator;
use store::secrets::Sealer;

impl AppState {
    /// The state of a gateway over `db`, enforcing `policy`, verifying tokens with `auth`,
    /// sealing secrets with `sealer`. Its principal cache starts following the writes of
    /// other processes on `db` (so this runs inside a Tokio runtime).
    pub fn new(
        db: DatabaseConnection,
        policy: LoadedPolicy,
        auth: Authenticator,
        sealer: Sealer,
    ) -> Self {
        let policy = Arc::new(ActivePolicy::new(policy));
        let schema = graphql::schema();
        let shape = Arc::new(graphql::shape::Shape::of(&schema.sdl()));
        let limits = http::limits::Limits::default().for_schema(shape.clone());
        Self {
            turns: store::write::WriteTurns::for_database(&db),
            lifecycle: Arc::new(authz::lifecycle::Lifecycle::new(db.clone(), policy.clone())),
            operator: None,
            metrics_token: None,
            persisted: Default::default(),
            cors: Default::default(),
            limits: Arc::new(limits),
            shape,
            connections: Default::default(),
            principals: {
                let principals = Arc::new(store::principals::Principals::default());
                principals.spawn_follower(db.clone());
                principals
            },
            db,
            policy,
            schema,
            auth: Arc::new(auth),
            bus: events::EventBus::default(),
            sealer: Arc::new(sealer),
            draining: Arc::default(),
        }
    }
}

impl AppState {
    /// The same state, with a platform operator's credential: the operator API is served.
    #[must_use]
    pub fn with_operator(mut self, token: Option<http::auth::SharedToken>) -> Self {
        self.operator = token.map(Arc::new);
        self
    }

    /// The same state, with the credential a metrics scraper must send to read `/metrics`.
    #[must_use]
    pub fn with_metrics_token(mut self, token: Option<http::auth::SharedToken>) -> Self {
        self.metrics_token = token.map(Arc::new);
        self
    }

    /// The same state, with these limits on what one request may ask.
    #[must_use]
    pub fn with_limits(mut self, limits: http::limits::Limits) -> Self {
        self.limits = Arc::new(limits.for_schema(self.shape.clone()));
        self
    }

    /// The same state, running only these trusted documents.
    #[must_use]
    pub fn with_trusted_documents(mut self, documents: http::persisted::PersistedQueries) -> Self {
        self.persisted = Arc::new(documents);
        self
    }

    /// The same state, with these bounds on connections.
    #[must_use]
    pub fn with_connections(mut self, connections: http::connections::ConnectionLimits) -> Self {
        self.connections = connections;
        self
    }

    /// The same state, letting these browser origins call the API.
    #[must_use]
    pub fn with_cors(mut self, origins: http::cors::Origins) -> Self {
        self.cors = origins;
        self
    }
}

/// Serves the gateway on `listener` until `shutdown` completes, then finishes the requests in
/// flight (within the drain timeout).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (limits, draining) = (state.connections.clone(), state.draining.clone());
    http::connections::serve(listener, app(state), limits, draining, shutdown).await
}
