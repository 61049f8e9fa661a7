//! One module per `nsed` subcommand.

pub mod deploy;
pub mod indexer;
pub mod keeper;
pub mod up;
pub mod worker;
