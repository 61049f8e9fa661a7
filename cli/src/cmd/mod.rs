//! One module per `nsed` subcommand.

pub mod agent;
pub mod app;
pub mod deploy;
pub mod indexer;
pub mod keeper;
pub mod nats;
pub mod up;
pub mod worker;
