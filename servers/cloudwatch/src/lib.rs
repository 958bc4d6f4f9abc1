//! mcp-cloudwatch (in progress).
