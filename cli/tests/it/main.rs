//! End-to-end tests of the `nsed` binary against real local services.

mod agent;
mod churn;
mod deploy;
mod e2e;
mod e2e_auth;
mod errors;
mod genesis;
mod indexer;
mod keepers;
mod nats;
mod nats_cluster;
mod rpc_faults;
mod up;
mod up_llm;
mod worker;
