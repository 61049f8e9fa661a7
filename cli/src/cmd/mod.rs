//! One module per `nsed` subcommand.

pub mod up;
