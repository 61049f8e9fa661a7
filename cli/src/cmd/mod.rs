//! One module per `nsed` subcommand.

pub mod up;
pub mod worker;
