//! herd-client: a resilient client for Genesys Cloud and NICE CXone APIs.

pub mod clock;
pub mod headers;
pub mod policy;
