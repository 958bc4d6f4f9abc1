//! mcp-github (in progress).
