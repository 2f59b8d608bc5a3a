//! The GraphQL API: schema, object types, and the per-request context resolvers read.
//!
//! ## Layout
//!
//! * [`query`]: the entry points of reads; [`Mutation`] gathers each area's writes (in
//!   [`types`], beside the area's types).
//! * [`subscription`]: team events over WebSocket.
//! * [`operator`]: the platform operator's policy versions (not a team's, so not the policy's).
//! * [`types`]: the object types, by area of the domain.
//! * [`node`]: the `Node` interface and global ids.
//! * [`connection`]: paginated lists.
//! * [`inline`]: objects whose fields are resolved together in one future, no box per field.
//! * [`loader`]: the keys of each relation gathered into one batch, answered once.
//! * [`batching`]: relation batches run by the request that asked for them.
//! * [`context`]: what a resolver reads from the request, and the policy check every field
//!   resolver goes through.
//! * [`nulls`]: a nullable field that fails is `null` with its error, as the spec says.
//! * [`order`]: response keys in the order of the selection set, as the spec says.
//! * [`shape`]: what each field of the schema returns.

pub mod batching;
pub mod connection;
pub mod context;
pub mod inline;
pub mod loader;
pub mod node;
pub mod nulls;
pub mod operator;
pub mod order;
pub mod query;
pub mod shape;
pub mod subscription;
pub mod types;

use async_graphql::{MergedObject, Schema};

pub use context::RequestData;
pub use nulls::FieldErrors;
pub use subscription::Subscription;

/// The query root: the team's reads, and the platform operator's.
#[derive(MergedObject, Default)]
pub struct Query(query::Reads, operator::PolicyOperations);

/// The mutation root: the mutations of every area, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(
    types::TeamMutations,
    types::OrchestratorMutations,
    types::ProcessHubMutations,
    operator::PolicyMutations,
);

/// The schema type.
pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema. Per-request data ([`RequestData`]) is attached to each request.
pub fn schema() -> ApiSchema {
    // No extension: with one, async-graphql does more work for every field (see `nulls`).
    Schema::build(Query::default(), Mutation::default(), Subscription).finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}
