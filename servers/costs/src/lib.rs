//! mcp-costs (in progress).
