//! End-to-end tests of the `nsed` binary against real local services.

mod e2e;
mod up;
mod worker;
