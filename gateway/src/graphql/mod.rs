//! The GraphQL API: schema, object types, and the per-request context resolvers read.
//!
//! ## Layout
//!
//! * [`query`]: the entry points of reads; [`Mutation`] gathers each area's writes (in
//!   [`types`], beside the area's types).
//! * [`subscription`]: team events over WebSocket.
//! * [`types`]: the object types, by area of the domain.
//! * [`node`]: the `Node` interface and global ids.
//! * [`connection`]: paginated lists.
//! * [`context`]: what a resolver reads from the request, and the policy check every field
//!   resolver goes through.
//! * [`nulls`]: a nullable field that fails is `null` with its error, as the spec says.

pub mod connection;
pub mod context;
pub mod node;
pub mod nulls;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::{MergedObject, Schema};

pub use context::RequestData;
pub use nulls::FieldErrors;
pub use query::Query;
pub use subscription::Subscription;

/// The mutation root: the mutations of every area, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(types::TeamMutations, types::OrchestratorMutations, types::ProcessHubMutations);

/// The schema type.
pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema. Per-request data ([`RequestData`]) is attached to each request.
pub fn schema() -> ApiSchema {
    Schema::build(Query, Mutation::default(), Subscription).extension(nulls::NullOnError).finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}
