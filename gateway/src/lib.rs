//! The MCP gateway: one entry point in front of the backend MCP servers.
//!
//! A request reads top to bottom in [`request`]: check Host/Origin ([`origin`]) -> authenticate ([`auth`], [`keys`]) ->
//! authorize ([`policy`], over the [`config`]) -> proxy ([`proxy`], [`upstream`], [`sse`], [`sessions`]) ->
//! audit ([`audit`], [`metrics`]).

pub mod app;
pub mod audit;
pub mod auth;
pub mod can_i;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod error;
pub mod jsonrpc;
pub mod keys;
pub mod metrics;
pub mod origin;
pub mod policy;
pub mod proxy;
pub mod request;
pub mod server;
pub mod sessions;
pub mod sse;
pub mod ssm;
pub mod trace;
pub mod upstream;

pub use app::{Gateway, app};
pub use error::{Error, Result};
