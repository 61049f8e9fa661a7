//! End-to-end tests of the `nsed` binary against real local services.

mod up;
mod worker;
