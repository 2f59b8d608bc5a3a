//! Where requests enter: the HTTP routes.
//!
//! * `POST /graphql` and `GET /graphql?query=…`: the API, spoken as the GraphQL-over-HTTP
//!   specification has it ([`protocol`]); queries only over GET. Every request is
//!   authenticated first (401 otherwise; an introspection-only document needs no token), then
//!   runs under the policy version in force when it started. Apollo's automatic persisted
//!   queries are understood ([`persisted`]). What a document may ask is bounded before it
//!   runs, with or without a token ([`limits`]); browser origins are allowed by [`cors`].
//! * `GET /graphql` from a browser (`Accept: text/html`): GraphiQL, served from assets embedded
//!   in the binary.
//! * `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws`, or the older
//!   `graphql-ws`), authenticated by the `connection_init` payload
//!   (`{"Authorization": "Bearer <token>", "X-Fieldguard-Team": "<team id>"}`).
//! * `GET /healthz`: liveness, with the policy in force; `GET /readyz`: readiness;
//!   `GET /metrics`: the metrics ([`crate::metrics`]), to the bearer of `--metrics-token` if set.
//!
//! Every request gets an id, a span and its metrics from [`observe`]; connections are
//! accepted and bounded by [`connections`].

pub mod auth;
pub mod connections;
pub mod cors;
pub mod graphiql;
pub mod jwks;
pub mod limits;
pub mod observe;
pub mod persisted;
pub mod protocol;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::authz::lifecycle::Lifecycle;
use crate::authz::{ActivePolicy, Guard};
use crate::error::Error;
use crate::events::EventBus;
use crate::graphql::batching::Batches;
use crate::graphql::operator::OperatorRequest;
use crate::graphql::{ApiSchema, FieldErrors, RequestData, nulls, order};
use crate::store::secrets::Sealer;
use crate::store::write::WriteTurns;
use auth::{Authenticator, SharedToken, TEAM_HEADER, bearer};
use persisted::PersistedQueries;
use protocol::{Media, Params, Refused};

/// What every request shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: DatabaseConnection,
    /// The policy in force.
    pub policy: Arc<ActivePolicy>,
    /// The GraphQL schema, built once.
    pub schema: ApiSchema,
    /// Token verification.
    pub auth: Arc<Authenticator>,
    /// Whose turn it is to write.
    pub turns: WriteTurns,
    /// Where committed changes are published for subscribers.
    pub bus: EventBus,
    /// What seals secrets before they are stored.
    pub sealer: Arc<Sealer>,
    /// Set once shutdown has begun: the server finishes what it has and takes nothing new.
    pub draining: Arc<AtomicBool>,
    /// Deploying, activating and rolling back policy versions, and following the fleet.
    pub lifecycle: Arc<Lifecycle>,
    /// The platform operator's credential; without one there is no operator API.
    pub operator: Option<Arc<SharedToken>>,
    /// The credential `/metrics` requires; without one the metrics are open.
    pub metrics_token: Option<Arc<SharedToken>>,
    /// The documents clients registered by hash (Apollo's automatic persisted queries).
    pub persisted: Arc<PersistedQueries>,
    /// The browser origins that may call the API.
    pub cors: cors::Origins,
    /// What one document may ask, and how long its request may take.
    pub limits: Arc<limits::Limits>,
    /// What each field of the schema returns.
    pub shape: Arc<crate::graphql::shape::Shape>,
    /// How many connections stay open, and for how long.
    pub connections: connections::ConnectionLimits,
    /// Principals kept between requests until a write commits (here or elsewhere).
    pub principals: Arc<crate::store::principals::Principals>,
}

/// The routes of the gateway.
pub fn app(state: AppState) -> Router {
    let cors = state.cors.layer();
    let routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(subscriptions))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        // A bug that panics answers 500 to its own request; the connection and the server live on.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state);
    match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// The answer to a request whose handling panicked: an `INTERNAL` error, logged.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request panicked; answered 500");
    let body = json!({ "errors": [{ "message": "internal error; the server log has the details", "extensions": { "code": "INTERNAL" } }] });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let policy = state.policy.current();
    Json(
        json!({ "status": "ok", "policy": { "name": policy.info.name, "hash": policy.info.hash } }),
    )
}

/// The metrics, with the version in force and the database pool as they are now; only to
/// the bearer of the metrics token, when one is configured.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.metrics_token {
        let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !presented.and_then(bearer).is_some_and(|token| expected.matches(token)) {
            let error = Error::Unauthenticated(
                "the metrics need `Authorization: Bearer <metrics token>`".into(),
            );
            return protocol::refuse(Media::Json, StatusCode::UNAUTHORIZED, &error);
        }
    }
    let policy = state.policy.current();
    let pool = match state.db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let pool = state.db.get_sqlite_connection_pool();
            Some((pool.size(), pool.num_idle() as u32, pool.options().get_max_connections()))
        }
        sea_orm::DbBackend::Postgres => {
            let pool = state.db.get_postgres_connection_pool();
            Some((pool.size(), pool.num_idle() as u32, pool.options().get_max_connections()))
        }
        _ => None,
    };
    let snapshot =
        crate::metrics::Snapshot { policy: (&policy.info.name, &policy.info.hash), pool };
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], crate::metrics::render(&snapshot))
        .into_response()
}

/// Whether the database answers, and, on SQLite, its file is still there: an open connection
/// keeps answering from a file that was deleted, whose data no other process will ever see.
async fn database_ready(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    db.ping().await?;
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(true);
    }
    let main = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await?;
    let file: Option<String> = main.map(|row| row.try_get_by_index(0)).transpose()?;
    Ok(file.is_none_or(|file| file.is_empty() || std::path::Path::new(&file).exists()))
}

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: the database answers within [`READY_TIMEOUT`], a policy is in force, and the
/// server is not draining. 200 when ready, 503 otherwise, with what failed.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = matches!(
        tokio::time::timeout(READY_TIMEOUT, database_ready(&state.db)).await,
        Ok(Ok(true))
    );
    let draining = state.draining.load(Ordering::Relaxed);
    let policy = state.policy.current();
    let ready = database && !draining;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "ready": ready,
        "database": database,
        "draining": draining,
        "policy": { "name": policy.info.name, "hash": policy.info.hash },
    });
    (status, Json(body)).into_response()
}

/// `POST /graphql`. The body is read only up to a limit, a small one for a caller without
/// valid credentials (checked first, without the database).
async fn graphql_post(
    State(state): State<AppState>,
    Extension(observed): Extension<observe::Operation>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Some(media) = Media::negotiate(accept(&headers)) else { return not_acceptable() };
    let caller = state.caller(&headers).await;
    let anonymous = matches!(caller, Caller::Anonymous(_));
    let limit =
        if anonymous { state.limits.max_anonymous_body_bytes } else { state.limits.max_body_bytes };
    let too_large = || {
        let error = limits::Limits::body_too_large(limit, anonymous);
        protocol::refuse(media, StatusCode::PAYLOAD_TOO_LARGE, &error)
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large();
    }
    let read =
        tokio::time::timeout(state.limits.body_read_timeout, axum::body::to_bytes(body, limit));
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            let error = state.limits.body_too_slow();
            return protocol::refuse(media, StatusCode::REQUEST_TIMEOUT, &error);
        }
    };
    match Params::from_body(&headers, &body) {
        Ok(params) => {
            let limits = state.limits.clone();
            let run = graphql(state, caller, headers, media, params, false, observed);
            within_deadline(limits, media, run).await
        }
        Err(Refused { status, error }) => protocol::refuse(media, status, &error),
    }
}

/// `GET /graphql`: GraphiQL for a browser, the API for a client.
async fn graphql_get(
    State(state): State<AppState>,
    Extension(observed): Extension<observe::Operation>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if protocol::wants_html(accept(&headers)) {
        return graphiql::page().await.into_response();
    }
    let Some(media) = Media::negotiate(accept(&headers)) else { return not_acceptable() };
    match Params::from_query_string(&query) {
        Ok(params) => {
            let limits = state.limits.clone();
            let caller = state.caller(&headers).await;
            let run = graphql(state, caller, headers, media, params, true, observed);
            within_deadline(limits, media, run).await
        }
        Err(Refused { status, error }) => protocol::refuse(media, status, &error),
    }
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|value| value.to_str().ok())
}

fn not_acceptable() -> Response {
    let error = Error::InvalidInput(format!(
        "the answer is `{}` or `application/json`; the Accept header allows neither",
        protocol::GRAPHQL_RESPONSE
    ));
    protocol::refuse(Media::Json, StatusCode::NOT_ACCEPTABLE, &error)
}

/// The answer of a request, if it comes within the request timeout; past it, the request is
/// dropped (a write in progress rolls back) and the answer is `REQUEST_TIMEOUT`.
async fn within_deadline(
    limits: Arc<limits::Limits>,
    media: Media,
    answer: impl std::future::Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(limits.request_timeout, answer).await {
        Ok(response) => response,
        Err(_) => protocol::refuse(media, StatusCode::GATEWAY_TIMEOUT, &limits.too_slow()),
    }
}

/// Runs a GraphQL request: its document (sent, or persisted earlier), then its caller.
async fn graphql(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    media: Media,
    params: Params,
    over_get: bool,
    observed: observe::Operation,
) -> Response {
    let refuse = |status, error: Error| protocol::refuse(media, status, &error);
    let operator = matches!(caller, Caller::Operator);
    let query = match state.persisted.resolve(params.query, params.extensions.as_ref(), operator) {
        Ok(query) => query,
        Err(error @ Error::PersistedQueryNotFound) => return refuse(StatusCode::OK, error),
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error),
    };
    if let Err(error) = state.limits.check_text(&query) {
        return refuse(StatusCode::BAD_REQUEST, error);
    }
    // Parsed once here for what the routes decide before execution and for the order of the
    // answer; a document that does not parse is left to execution, which reports it.
    let document = async_graphql::parser::parse_query(&query).ok();
    let operation =
        document.as_ref().and_then(|d| order::operation(d, params.operation_name.as_deref()));
    if let Some(operation) = operation {
        observed.set(operation.ty);
    }
    if let (Some(document), Some(operation)) = (&document, operation)
        && let Err(error) = state.limits.check(document, operation, params.variables.as_ref())
    {
        return refuse(StatusCode::BAD_REQUEST, error);
    }
    if over_get && operation.is_some_and(|op| op.ty != OperationType::Query) {
        let error = Error::InvalidInput(
            "only queries are sent over GET; send mutations and subscriptions with POST".into(),
        );
        let mut response = refuse(StatusCode::METHOD_NOT_ALLOWED, error);
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = &params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        request = request
            .variables(async_graphql::Variables::from_json(serde_json::Value::Object(variables)));
    }
    let run = Run {
        media,
        shape: &state.shape,
        document: document.as_ref(),
        operation_name: params.operation_name.as_deref(),
    };
    let explain = headers.get(EXPLAIN_HEADER).map(|who| who.to_str().unwrap_or_default().trim());
    if operator {
        let lifecycle = OperatorRequest { lifecycle: state.lifecycle.clone() };
        return match explain {
            Some(who) => explained(&state, &headers, who, request, &run).await,
            None => run.finish(state.schema.execute(request.data(lifecycle)).await, None),
        };
    }
    if explain.is_some() {
        let error = Error::ForbiddenAction(format!(
            "explain requests: only a platform operator may (`{EXPLAIN_HEADER}` goes with the \
             operator token)"
        ));
        return refuse(StatusCode::FORBIDDEN, error);
    }
    let guard = match caller.guard(&state, &headers).await {
        Ok(guard) => guard,
        Err(error) => {
            // The schema is public (it is `schema.graphql`); GraphiQL reads it before a token
            // is pasted. Without credentials a query is checked against it and only its
            // introspection runs: one that does not parse or validate gets its errors, one
            // that reads nothing else gets its answer, and any other is refused, as is every
            // mutation and subscription.
            if operation.is_none_or(|op| op.ty == OperationType::Query) {
                let response = state.schema.execute(request.only_introspection()).await;
                if protocol::never_executed(&response)
                    || document.as_ref().is_some_and(is_introspection_only)
                {
                    return run.finish(response, None);
                }
            }
            let status = match error {
                Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return refuse(status, error);
        }
    };
    let policy = guard.policy().info.hash.clone();
    let response = state.execute(Arc::new(guard), request).await;
    run.finish(response, Some(&policy))
}

/// What answering an executed request needs to know about it.
struct Run<'a> {
    media: Media,
    shape: &'a crate::graphql::shape::Shape,
    document: Option<&'a ExecutableDocument>,
    operation_name: Option<&'a str>,
}

/// The header with which a platform operator asks for a request to be explained: its value
/// is the user (email or id) the request acts as; `X-Fieldguard-Team` chooses the team.
pub const EXPLAIN_HEADER: &str = "x-fieldguard-explain";

/// Runs a request as the user named by the explain header, and answers it with every
/// decision that shaped it in `extensions.explain`.
async fn explained(
    state: &AppState,
    headers: &HeaderMap,
    who: &str,
    request: async_graphql::Request,
    run: &Run<'_>,
) -> Response {
    use crate::store::entity::user;
    let refuse = |status, error: Error| protocol::refuse(run.media, status, &error);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let found = match who.parse::<i32>() {
        Ok(id) => user::Entity::find_by_id(id).one(&state.db).await,
        Err(_) => {
            user::Entity::find()
                .filter(user::Column::Email.eq(who.to_lowercase()))
                .one(&state.db)
                .await
        }
    };
    let user = match found {
        Ok(Some(user)) => user,
        Ok(None) => {
            let error = Error::NotFound(format!("{EXPLAIN_HEADER}: there is no user {who}"));
            return refuse(StatusCode::BAD_REQUEST, error);
        }
        Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, error.into()),
    };
    let team = match headers
        .get(TEAM_HEADER)
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse().ok()))
    {
        None => None,
        Some(Some(team)) => Some(team),
        Some(None) => {
            let error = Error::InvalidInput(format!("the {TEAM_HEADER} header is not a team id"));
            return refuse(StatusCode::BAD_REQUEST, error);
        }
    };
    let principal = match crate::store::read::principal(&state.db, user.id, team).await {
        Ok(principal) => principal,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error),
    };
    let guard = Arc::new(Guard::new(principal, state.policy.current()).explaining());
    let policy = guard.policy().info.clone();
    let mut response = state.execute(guard.clone(), request).await;
    let explanation = json!({
        "user": user.email,
        "policy": { "name": policy.name, "hash": policy.hash },
        "decisions": guard.explanation().unwrap_or_default(),
    });
    if let Ok(value) = async_graphql::Value::from_json(explanation) {
        response.extensions.insert("explain".into(), value);
    }
    run.finish(response, Some(&policy.hash))
}

impl Run<'_> {
    /// The HTTP answer to an executed request, with or without credentials: `null` where a
    /// nullable field failed, keys in the order of the selection, every error with a code,
    /// and a `FORBIDDEN` error naming the policy version that decided it
    /// (`extensions.policy`), never the policy's reason.
    fn finish(&self, mut response: async_graphql::Response, policy: Option<&str>) -> Response {
        if let Some(document) = self.document
            && let Some(operation) = order::operation(document, self.operation_name)
        {
            nulls::restore(self.shape, document, operation, &mut response);
            order::in_selection_order(document, operation, &mut response.data);
        }
        // Fields fail in the order they finish; listed by where they are in the document and
        // then in the answer, the errors read the same every time.
        response.errors.sort_by(|a, b| {
            let at = |e: &ServerError| e.locations.first().map(|p| (p.line, p.column));
            at(a).cmp(&at(b)).then_with(|| path_order(&a.path, &b.path))
        });
        let never_executed = protocol::never_executed(&response);
        for error in &mut response.errors {
            ensure_code(error);
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if never_executed {
                // It did not parse or validate: the caller's input.
                extensions.set("code", "INVALID_INPUT");
            }
            if let Some(policy) = policy {
                let forbidden = matches!(
                    extensions.get("code"),
                    Some(async_graphql::Value::String(code)) if code == "FORBIDDEN"
                );
                if forbidden {
                    extensions.set("policy", policy);
                }
            }
        }
        protocol::respond(self.media, &response)
    }
}

/// Whether every operation of the document selects only `__schema`, `__type` or
/// `__typename` at its root (fragments are not followed: a document using them is treated as
/// reading data).
fn is_introspection_only(document: &ExecutableDocument) -> bool {
    use async_graphql::parser::types::Selection;
    let mut operations = document.operations.iter().peekable();
    operations.peek().is_some()
        && operations.all(|(_, operation)| {
            operation.node.selection_set.node.items.iter().all(|selection| match &selection.node {
                Selection::Field(field) => {
                    matches!(field.node.name.node.as_str(), "__schema" | "__type" | "__typename")
                }
                _ => false,
            })
        })
}

/// Paths compared segment by segment, list indexes as numbers.
fn path_order(
    a: &[async_graphql::PathSegment],
    b: &[async_graphql::PathSegment],
) -> std::cmp::Ordering {
    use async_graphql::PathSegment::{Field, Index};
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (Index(x), Index(y)) => x.cmp(y),
            (Field(x), Field(y)) => x.cmp(y),
            (Index(_), Field(_)) => std::cmp::Ordering::Less,
            (Field(_), Index(_)) => std::cmp::Ordering::Greater,
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

fn ensure_code(error: &mut ServerError) {
    // async-graphql reports an argument it cannot coerce (`first: 2147483648`) with these
    // words and no code: the caller's input, not our failure.
    let bad_input = error.message.starts_with("Failed to parse")
        || error.message.starts_with("Invalid value for argument");
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", if bad_input { "INVALID_INPUT" } else { "INTERNAL" });
    }
}

/// Who sent a request, by its credentials, verified once when it arrives.
enum Caller {
    /// The platform operator, by the operator token.
    Operator,
    /// A user, by a token that verified.
    User(auth::Identity),
    /// No credentials, or none that verify: why.
    Anonymous(Error),
}

impl Caller {
    /// The guard of a user's request: their principal in the team the request acts in (the
    /// `X-Fieldguard-Team` header, or the token's team) under the policy in force. Anyone
    /// else is refused.
    async fn guard(self, state: &AppState, headers: &HeaderMap) -> Result<Guard, Error> {
        let identity = match self {
            Caller::User(identity) => identity,
            Caller::Anonymous(error) => return Err(error),
            Caller::Operator => {
                return Err(Error::Unauthenticated(
                    "the operator token acts as no user; send a user's token".into(),
                ));
            }
        };
        let team = match headers.get(TEAM_HEADER) {
            None => identity.team,
            Some(value) => {
                Some(value.to_str().ok().and_then(|v| v.trim().parse::<i32>().ok()).ok_or_else(
                    || Error::Unauthenticated(format!("the {TEAM_HEADER} header is not a team id")),
                )?)
            }
        };
        let user = match identity.user {
            auth::Subject::Id(id) => id,
            auth::Subject::Email(email) => crate::store::read::user_id_by_email(&state.db, &email)
                .await?
                .ok_or_else(|| Error::Unauthenticated("the token names no known user".into()))?,
        };
        let principal = state.principals.get(&state.db, user, team).await?;
        Ok(Guard::new(principal, state.policy.current()).shadowed(state.lifecycle.shadow()))
    }
}

/// Checks the bearer token and works out the principal.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Guard, Error> {
    state.caller(headers).await.guard(state, headers).await
}

impl AppState {
    /// Who the request's credentials name: the operator, a user whose token verifies (an
    /// identity provider's keys may be fetched), or no one. The database is not asked.
    async fn caller(&self, headers: &HeaderMap) -> Caller {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Caller::Anonymous(Error::Unauthenticated(
                "send `Authorization: Bearer <token>`".into(),
            ));
        };
        let Some(token) = value.to_str().ok().and_then(bearer) else {
            return Caller::Anonymous(Error::Unauthenticated(
                "the Authorization header is not `Bearer <token>`".into(),
            ));
        };
        if self.operator.as_ref().is_some_and(|operator| operator.matches(token)) {
            return Caller::Operator;
        }
        match self.auth.verify_fresh(token).await {
            Ok(identity) => Caller::User(identity),
            Err(error) => Caller::Anonymous(error),
        }
    }

    /// Executes `request` under `guard`: its relation loads batched by the request itself,
    /// and the errors of the fields that resolved to `null` appended.
    async fn execute(
        &self,
        guard: Arc<Guard>,
        request: async_graphql::Request,
    ) -> async_graphql::Response {
        let field_errors = FieldErrors::default();
        let batches = Batches::default();
        let data = self.request_data(guard, Some(&batches));
        let request = request.data(data).data(field_errors.clone());
        let mut response = batches.run(self.schema.execute(request)).await;
        response.errors.extend(field_errors.take());
        response
    }

    /// The per-request data of a request acting under `guard`, its relations loaded by
    /// `batches` (or, without, on the runtime).
    fn request_data(&self, guard: Arc<Guard>, batches: Option<&Batches>) -> RequestData {
        RequestData::new(
            self.db.clone(),
            guard,
            self.turns.clone(),
            self.bus.clone(),
            self.sealer.clone(),
            self.principals.clone(),
            batches,
        )
    }
}

/// Subscriptions: a WebSocket whose `connection_init` payload carries the credentials an HTTP
/// request carries in its headers.
async fn subscriptions(
    State(state): State<AppState>,
    protocol: async_graphql_axum::GraphQLProtocol,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Response {
    upgrade.protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| {
        let schema = state.schema.clone();
        async_graphql_axum::GraphQLWebSocket::new(socket, schema, protocol)
            .on_connection_init(move |payload| async move {
                let headers = headers_of(&payload);
                let guard = authenticate(&state, &headers).await.map_err(|e| e.to_graphql())?;
                let mut data = async_graphql::Data::default();
                data.insert(state.request_data(Arc::new(guard), None));
                Ok(data)
            })
            .serve()
    })
}

/// The headers a `connection_init` payload stands for: its string entries, by name.
fn headers_of(payload: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(entries) = payload.as_object() {
        for (name, value) in entries {
            let (Some(value), Ok(name)) =
                (value.as_str(), header::HeaderName::from_bytes(name.as_bytes()))
            else {
                continue;
            };
            if let Ok(value) = header::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }
    headers
}
