//! One module per `nsed` subcommand.

pub mod agent;
pub mod app;
pub mod deploy;
pub mod indexer;
pub mod keeper;
pub mod nats;
pub mod up;
pub mod worker;

/// The deployment record at `path`, or an error saying how to get one.
pub(crate) fn load_deployment(path: &std::path::Path) -> eyre::Result<nsed_deploy::Deployment> {
    use eyre::WrapErr;
    nsed_deploy::Deployment::load(path).wrap_err_with(|| {
        format!("run `nsed deploy` first, or pass --deployment (tried {})", path.display())
    })
}
