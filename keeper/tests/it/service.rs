//! The keeper as a service: `/health` and `/metrics` over axum, and a stop that leaves nothing
//! running.

use std::time::Duration;

use crate::{Stack, http_get, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_and_metrics_are_served_until_the_keeper_stops() {
    let stack = Stack::start().await;
    let port = nsed_devstack::free_port().unwrap();
    let (keeper, handle) =
        stack.keeper_with(Duration::from_secs(5), Some(([127, 0, 0, 1], port).into()));
    let health = step("health", async {
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return http_get(port, "/health").await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let metrics = http_get(port, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("# TYPE nsed_keeper_jobs_settled_total counter"), "{metrics}");
    for part in ["publish", "answers", "verify", "store", "chain"] {
        let line = format!("nsed_keeper_time_seconds_total{{part=\"{part}\"}} ");
        assert!(metrics.contains(&line), "{metrics}");
    }
    // The keeper follows the chain and keeps its cursor in SQLite from its first poll on.
    step("time spent on the chain and the store", async {
        let seconds = |metrics: &str, part: &str| -> f64 {
            let line = format!("nsed_keeper_time_seconds_total{{part=\"{part}\"}} ");
            let at = metrics.find(&line).expect("the line is there") + line.len();
            metrics[at..].lines().next().unwrap().trim().parse().unwrap()
        };
        loop {
            let metrics = http_get(port, "/metrics").await;
            if seconds(&metrics, "chain") > 0.0 && seconds(&metrics, "store") > 0.0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // Every JSON-RPC request is counted by method: the chain id asked at the start, the latest
    // block read on every poll.
    let metrics = http_get(port, "/metrics").await;
    assert!(metrics.contains("# TYPE nsed_keeper_rpc_requests_total counter"), "{metrics}");
    assert!(
        metrics.contains("nsed_keeper_rpc_requests_total{method=\"eth_chainId\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("nsed_keeper_rpc_requests_total{method=\"eth_getBlockByNumber\"} "),
        "{metrics}"
    );
    let missing = http_get(port, "/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains("try /health or /metrics"), "{missing}");

    keeper.cancel();
    step("the keeper stops", handle).await.unwrap().unwrap();
    // The server ran on the keeper's task tracker: once `run` returns, nothing listens.
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_metrics_address_fails_the_start() {
    let stack = Stack::start().await;
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (_keeper, handle) =
        stack.keeper_with(Duration::from_secs(5), Some(taken.local_addr().unwrap()));
    let err = step("the keeper fails", handle).await.unwrap().unwrap_err();
    assert!(matches!(err, nsed_keeper::KeeperError::Listen { .. }), "{err}");
}
