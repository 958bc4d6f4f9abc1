//! Test infrastructure shared by the end-to-end suites and the demo: the example backend
//! ([`example`]) and a harness that runs the gateway and backends on loopback ([`harness`]).

pub mod agent;
pub mod conformance;
pub mod example;
pub mod harness;
pub mod load;
pub mod stack;
