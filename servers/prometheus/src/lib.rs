//! mcp-prometheus (in progress).
