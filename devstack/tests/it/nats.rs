//! The nats-server.

use std::net::TcpListener;

use nsed_devstack::{DevstackError, NatsConfig, NatsServer};

use crate::support::{TIMEOUT, accepts_connections, nats_info_line, poll_until};

#[test]
fn nats_server_starts_with_jetstream_enabled() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let line = nats_info_line(nats.port());
    assert!(line.starts_with("INFO "), "{line}");
    assert!(line.contains(r#""jetstream":true"#), "{line}");
    assert!(nats.info().jetstream);
    assert!(!nats.info().version.is_empty());
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));
    assert!(nats.store_dir().join("jetstream").is_dir());
}

#[test]
fn nats_server_deletes_its_temporary_store_and_closes_its_port_on_drop() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let port = nats.port();
    let store_dir = nats.store_dir().to_path_buf();
    let log_path = nats.log_path().to_path_buf();
    assert!(store_dir.is_dir());
    assert!(log_path.is_file());
    drop(nats);
    assert!(!store_dir.exists(), "{} still exists", store_dir.display());
    assert!(!log_path.exists(), "{} still exists", log_path.display());
    assert!(poll_until(TIMEOUT, || !accepts_connections(port)), "port {port} still open");
}

#[test]
fn nats_server_stops_accepting_connections_after_explicit_stop() {
    let nats = NatsServer::spawn(NatsConfig::default()).unwrap();
    let port = nats.port();
    let store_dir = nats.store_dir().to_path_buf();
    nats.stop().unwrap();
    assert!(!store_dir.exists(), "{} still exists", store_dir.display());
    assert!(poll_until(TIMEOUT, || !accepts_connections(port)), "port {port} still open");
}

#[test]
fn nats_server_keeps_a_caller_provided_store_dir() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let nats = NatsServer::spawn(NatsConfig::default().with_store_dir(&store)).unwrap();
    assert_eq!(nats.store_dir(), store);
    drop(nats);
    assert!(store.join("jetstream").is_dir());
}

#[test]
fn nats_server_without_jetstream_reports_it_disabled() {
    let nats = NatsServer::spawn(NatsConfig::default().with_jetstream(false)).unwrap();
    assert!(!nats.info().jetstream);
    assert!(!nats_info_line(nats.port()).contains(r#""jetstream":true"#));
}

#[test]
fn two_nats_servers_run_side_by_side_on_different_ports() {
    let first = NatsServer::spawn(NatsConfig::default()).unwrap();
    let second = NatsServer::spawn(NatsConfig::default()).unwrap();
    assert_ne!(first.port(), second.port());
    assert_ne!(first.store_dir(), second.store_dir());
    assert_ne!(first.info().server_id, second.info().server_id);
}

#[test]
fn nats_server_on_a_taken_port_fails_with_addr_in_use() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = NatsServer::spawn(NatsConfig::default().with_port(port)).unwrap_err();
    assert!(
        matches!(err, DevstackError::AddrInUse { name: "nats-server", port: p, .. } if p == port),
        "{err:?}"
    );
}
