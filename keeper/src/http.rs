//! `/health` and `/metrics` over HTTP (axum).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{KeeperError, Metrics};

/// Binds `addr`, so a taken address fails the keeper's start rather than a background task.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, KeeperError> {
    TcpListener::bind(addr).await.map_err(|source| KeeperError::Listen { addr, source })
}

/// The routes: `/health`, `/metrics`, and a 404 that names them.
fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(prometheus))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: try /health or /metrics\n") })
        .with_state(metrics)
}

/// Serves on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let addr = listener.local_addr().ok();
    info!(target: "keeper::http", ?addr, "serving /health and /metrics");
    let served = axum::serve(listener, router(metrics))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = served {
        warn!(target: "keeper::http", ?addr, error = %e, "http server failed");
    }
}

async fn health(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let last_block = metrics.last_block.load(std::sync::atomic::Ordering::Relaxed);
    Json(serde_json::json!({ "status": "ok", "last_block": last_block }))
}

async fn prometheus(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render())
}
