//! `nsed`: the NSED on-chain command line. Commands live in the `nsed_cli` library.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match nsed_cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            nsed_cli::output::error(&err);
            ExitCode::FAILURE
        }
    }
}
