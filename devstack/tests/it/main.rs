//! Integration tests: every test starts real `anvil` and `nats-server` processes on `127.0.0.1`.

mod anvil;
mod binaries;
mod nats;
mod nats_cluster;
mod support;
