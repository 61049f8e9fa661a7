//! `/health` and `/metrics` over a minimal HTTP/1.1 responder (one request per connection).

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{KeeperError, Metrics};

/// Binds `addr` and serves until `shutdown`.
pub(crate) async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), KeeperError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| KeeperError::Config(format!("cannot listen on {addr}: {e}")))?;
    info!(target: "keeper::http", %addr, "serving /health and /metrics");
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        warn!(target: "keeper::http", error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut buf))
                        .await;
                let Ok(Ok(n)) = read else { return };
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let (status, kind, body) = match path {
                    "/health" => (
                        "200 OK",
                        "application/json",
                        format!(
                            "{{\"status\":\"ok\",\"last_block\":{}}}",
                            metrics.last_block.load(std::sync::atomic::Ordering::Relaxed)
                        ),
                    ),
                    "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                    _ => (
                        "404 Not Found",
                        "text/plain",
                        "not found: try /health or /metrics\n".to_string(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(())
}
