//! mcp-aws (in progress).
