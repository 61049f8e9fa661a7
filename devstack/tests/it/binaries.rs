//! Finding the binaries, and what happens when they are missing or misbehave.

use std::path::Path;

use nsed_devstack::{
    Anvil, AnvilConfig, DevstackError, NatsConfig, NatsServer, locate_anvil, locate_nats_server,
};

#[test]
fn missing_anvil_binary_fails_with_binary_not_found() {
    let missing = Path::new("/nonexistent/nsed-devstack/anvil");
    let err = Anvil::spawn(AnvilConfig::default().with_binary(missing)).unwrap_err();
    match err {
        DevstackError::BinaryNotFound { name, searched, .. } => {
            assert_eq!(name, "anvil");
            assert_eq!(searched, [missing]);
        }
        other => panic!("expected BinaryNotFound, got {other:?}"),
    }
}

#[test]
fn missing_nats_server_binary_fails_with_binary_not_found() {
    let missing = Path::new("/nonexistent/nsed-devstack/nats-server");
    let err = NatsServer::spawn(NatsConfig::default().with_binary(missing)).unwrap_err();
    assert!(matches!(err, DevstackError::BinaryNotFound { name: "nats-server", .. }), "{err:?}");
}

#[test]
fn default_lookup_finds_the_repository_anvil_and_system_nats_server() {
    assert!(locate_anvil(None).unwrap().is_file());
    assert!(locate_nats_server(None).unwrap().is_file());
}

#[cfg(unix)]
#[test]
fn binary_that_exits_at_once_fails_with_exited_early_and_shows_its_output() {
    // `sh` rejects anvil's `--host` flag, prints why, and exits non-zero.
    let err = Anvil::spawn(AnvilConfig::default().with_binary("/bin/sh")).unwrap_err();
    match err {
        DevstackError::ExitedEarly { name, status, log_tail } => {
            assert_eq!(name, "anvil");
            assert!(!status.success());
            assert!(!log_tail.is_empty());
        }
        other => panic!("expected ExitedEarly, got {other:?}"),
    }
}
