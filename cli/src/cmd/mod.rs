//! One module per `nsed` subcommand.

pub mod deploy;
pub mod keeper;
pub mod up;
pub mod worker;
