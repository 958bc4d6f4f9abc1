//! mcp-eks (in progress).
