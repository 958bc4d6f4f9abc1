//! mcp-postgres (in progress).
