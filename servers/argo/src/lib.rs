//! mcp-argo (in progress).
