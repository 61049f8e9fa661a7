//! HTTP: GraphiQL at `GET /`, the API at `POST /` and `POST /graphql`, with a body size limit and
//! a per-query timeout.

use std::{
    sync::{Arc, atomic::AtomicUsize},
    time::Instant,
};

use async_graphql::dynamic::Schema;
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::graphql::{Budget, QueryLimits};

#[derive(Clone)]
struct AppState {
    schema: Schema,
    limits: Arc<QueryLimits>,
}

/// Serves `schema` on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    schema: Schema,
    limits: QueryLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let body_limit = limits.max_body_bytes;
    let state = AppState { schema, limits: Arc::new(limits) };
    let app = Router::new()
        .route("/", get(graphiql).post(graphql))
        .route("/graphql", get(graphiql).post(graphql))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    if let Ok(addr) = listener.local_addr() {
        info!(target: "indexer::http", %addr, "graphql listening");
    }
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

async fn graphiql() -> Html<String> {
    Html(async_graphql::http::GraphiQLSource::build().endpoint("/").title("NSED indexer").finish())
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message }] });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn graphql(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("request body exceeds {} bytes", state.limits.max_body_bytes)
            } else {
                rejection.body_text()
            };
            return json_error(status, &message);
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("body is not a GraphQL request (JSON with `query`): {e}"),
            );
        }
    };
    let timeout = state.limits.timeout;
    let budget = Arc::new(Budget {
        deadline: Instant::now() + timeout,
        timeout,
        max_entities: state.limits.max_entities,
        entities: AtomicUsize::new(0),
        head: std::sync::OnceLock::new(),
    });
    let started = Instant::now();
    let response =
        match tokio::time::timeout(timeout, state.schema.execute(request.data(budget))).await {
            Ok(response) => response,
            Err(_) => {
                return json_error(
                    StatusCode::OK,
                    &format!("query timed out after {} ms", timeout.as_millis()),
                );
            }
        };
    debug!(target: "indexer::http", elapsed_us = started.elapsed().as_micros() as u64, errors = response.errors.len(), "query");
    match serde_json::to_string(&response) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
