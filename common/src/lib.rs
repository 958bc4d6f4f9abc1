//! Shared plumbing for the MCP gateway and every backend server.
//!
//! A backend crate should be mostly its tools: this crate owns the command-line contract
//! ([`args`]), serving an rmcp handler over stateless streamable HTTP with health, readiness and
//! metrics ([`server`]), logging and the TLS crypto provider ([`telemetry`]), OpenTelemetry traces
//! ([`traces`]), bounding tool output ([`output`]), redacting secrets ([`redact`]) and turning
//! failures into tool errors an agent can act on ([`tool`]).

pub mod args;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod aws_error;
pub mod error;
pub mod metrics;
pub mod output;
pub mod rbac;
pub mod redact;
pub mod server;
pub mod telemetry;
pub mod tool;
pub mod traces;

pub use args::{Access, ServerArgs};
pub use error::{Error, Result};
pub use server::{BackendServer, Readiness};
pub use tool::{ToolContext, ToolError};
