//! mcp-cloudflare (in progress).
