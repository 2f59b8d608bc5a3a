//! Where requests enter: the HTTP routes.
//!
//! * `POST /graphql`: the API. Every request is authenticated first (401 otherwise), then runs
//!   under the policy version in force when it started.
//! * `GET /graphql`: GraphiQL, served from assets embedded in the binary.
//! * `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws`, or the older
//!   `graphql-ws`), authenticated by the `connection_init` payload
//!   (`{"Authorization": "Bearer <token>", "X-Fieldguard-Team": "<team id>"}`).
//! * `GET /healthz`: liveness, with the policy in force.

pub mod auth;
pub mod graphiql;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::ServerError;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::authz::lifecycle::Lifecycle;
use crate::authz::{ActivePolicy, Guard};
use crate::error::Error;
use crate::events::EventBus;
use crate::graphql::operator::OperatorRequest;
use crate::graphql::{ApiSchema, FieldErrors, RequestData};
use crate::store::secrets::Sealer;
use crate::store::write::WriteTurns;
use auth::{Authenticator, OperatorToken, TEAM_HEADER, bearer};

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
    pub operator: Option<Arc<OperatorToken>>,
}

/// The routes of the gateway.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql::page).post(graphql))
        .route("/graphql/ws", get(subscriptions))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        // A bug that panics answers 500 to its own request; the connection and the server live on.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
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

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: the database answers within [`READY_TIMEOUT`], a policy is in force, and the
/// server is not draining. 200 when ready, 503 otherwise, with what failed.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = matches!(tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await, Ok(Ok(())));
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

/// An error response shaped like a GraphQL response.
fn error_response(status: StatusCode, error: &Error) -> Response {
    let body = json!({
        "data": null,
        "errors": [{ "message": error.public_message(), "extensions": { "code": error.code() } }]
    });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let request = match request {
        Ok(request) => request,
        Err(rejection) => {
            let error = Error::InvalidInput(format!(
                "the request is not a GraphQL request: {}",
                rejection.0
            ));
            return error_response(StatusCode::BAD_REQUEST, &error);
        }
    };
    let request = request.into_inner();
    let explain = headers.get(EXPLAIN_HEADER).map(|who| who.to_str().unwrap_or_default().trim());
    if let Some(lifecycle) = state.operator_request(&headers) {
        return match explain {
            Some(who) => explained(&state, &headers, who, request).await,
            None => finish(state.schema.execute(request.data(lifecycle)).await, None),
        };
    }
    if explain.is_some() {
        let error = Error::ForbiddenAction(format!(
            "explain requests: only a platform operator may (`{EXPLAIN_HEADER}` goes with the \
             operator token)"
        ));
        return error_response(StatusCode::FORBIDDEN, &error);
    }
    let guard = match authenticate(&state, &headers).await {
        Ok(guard) => guard,
        // The schema is public (it is `schema.graphql`); GraphiQL reads it before a token is
        // pasted. A document that reads nothing else needs no credentials. (Checked only for
        // requests that fail to authenticate, so other requests are not parsed twice.)
        Err(_) if is_introspection_only(&request) => {
            return finish(state.schema.execute(request).await, None);
        }
        Err(error @ Error::Unauthenticated(_)) => {
            return error_response(StatusCode::UNAUTHORIZED, &error);
        }
        Err(error) => return error_response(StatusCode::SERVICE_UNAVAILABLE, &error),
    };
    let field_errors = FieldErrors::default();
    let policy = guard.policy().info.hash.clone();
    let request = request.data(state.request_data(guard)).data(field_errors.clone());
    let mut response = state.schema.execute(request).await;
    response.errors.extend(field_errors.take());
    finish(response, Some(&policy))
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
) -> Response {
    use crate::store::entity::user;
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
            return error_response(StatusCode::BAD_REQUEST, &error);
        }
        Err(error) => return error_response(StatusCode::SERVICE_UNAVAILABLE, &error.into()),
    };
    let team = match headers
        .get(TEAM_HEADER)
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse().ok()))
    {
        None => None,
        Some(Some(team)) => Some(team),
        Some(None) => {
            let error = Error::InvalidInput(format!("the {TEAM_HEADER} header is not a team id"));
            return error_response(StatusCode::BAD_REQUEST, &error);
        }
    };
    let principal = match crate::store::read::principal(&state.db, user.id, team).await {
        Ok(principal) => principal,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, &error),
    };
    let guard = Arc::new(Guard::new(principal, state.policy.current()).explaining());
    let policy = guard.policy().info.clone();
    let field_errors = FieldErrors::default();
    let request = request.data(state.request_data_shared(guard.clone())).data(field_errors.clone());
    let mut response = state.schema.execute(request).await;
    response.errors.extend(field_errors.take());
    let explanation = json!({
        "user": user.email,
        "policy": { "name": policy.name, "hash": policy.hash },
        "decisions": guard.explanation().unwrap_or_default(),
    });
    if let Ok(value) = async_graphql::Value::from_json(explanation) {
        response.extensions.insert("explain".into(), value);
    }
    finish(response, Some(&policy.hash))
}

/// The HTTP response of an executed request, with or without credentials. A `FORBIDDEN` error
/// names the policy version that decided it (`extensions.policy`), never the policy's reason.
fn finish(mut response: async_graphql::Response, policy: Option<&str>) -> Response {
    // Every error carries a code; one without is a bug somewhere below, and says so.
    for error in &mut response.errors {
        ensure_code(error);
        if let Some(policy) = policy {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            let forbidden = matches!(
                extensions.get("code"),
                Some(async_graphql::Value::String(code)) if code == "FORBIDDEN"
            );
            if forbidden {
                extensions.set("policy", policy);
            }
        }
    }
    // No data and no error with a path means the document was never executed: it did not
    // parse or validate. (A root mutation that fails has a path, and null data.)
    let never_executed = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    let status = if never_executed {
        for error in &mut response.errors {
            error.extensions.get_or_insert_with(Default::default).set("code", "INVALID_INPUT");
        }
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, GraphQLResponse::from(response)).into_response()
}

/// Whether every operation of the document selects only `__schema`, `__type` or
/// `__typename` at its root (fragments are not followed: a document using them is treated as
/// reading data).
fn is_introspection_only(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::Selection;
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
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

/// Checks the bearer token and works out the principal.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Guard, Error> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthenticated("send `Authorization: Bearer <token>`".into()))?;
    let token = value.to_str().ok().and_then(bearer).ok_or_else(|| {
        Error::Unauthenticated("the Authorization header is not `Bearer <token>`".into())
    })?;
    let identity = state.auth.verify(token)?;
    let team = match headers.get(TEAM_HEADER) {
        None => identity.team,
        Some(value) => {
            Some(value.to_str().ok().and_then(|v| v.trim().parse::<i32>().ok()).ok_or_else(
                || Error::Unauthenticated(format!("the {TEAM_HEADER} header is not a team id")),
            )?)
        }
    };
    let principal = crate::store::read::principal(&state.db, identity.user, team).await?;
    Ok(Guard::new(principal, state.policy.current()).shadowed(state.lifecycle.shadow()))
}

impl AppState {
    /// The operator's request data, when the request carries the operator token.
    fn operator_request(&self, headers: &HeaderMap) -> Option<OperatorRequest> {
        let operator = self.operator.as_ref()?;
        let token = headers.get(header::AUTHORIZATION)?.to_str().ok().and_then(bearer)?;
        operator.matches(token).then(|| OperatorRequest { lifecycle: self.lifecycle.clone() })
    }

    /// The per-request data of a request acting under `guard`.
    fn request_data(&self, guard: Guard) -> RequestData {
        self.request_data_shared(Arc::new(guard))
    }

    /// The per-request data of a request acting under a guard the caller keeps too.
    fn request_data_shared(&self, guard: Arc<Guard>) -> RequestData {
        RequestData::new(
            self.db.clone(),
            guard,
            self.turns.clone(),
            self.bus.clone(),
            self.sealer.clone(),
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
                data.insert(state.request_data(guard));
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
