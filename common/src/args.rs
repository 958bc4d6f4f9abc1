//! The command-line and environment contract every `mcp-<name>` binary shares.

use std::net::SocketAddr;
use std::time::Duration;

/// Access level of a backend deployment. Read-only is the default: an RO pod does not register
/// write tools at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    #[default]
    Ro,
    Rw,
}

impl Access {
    pub fn is_rw(self) -> bool {
        self == Access::Rw
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Ro => "ro",
            Access::Rw => "rw",
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flags shared by every backend (`#[command(flatten)]` them into the backend's own `Args`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to serve on.
    #[arg(long, env = "MCP_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// `ro` registers read tools only; `rw` adds write tools.
    #[arg(long, env = "MCP_ACCESS", value_enum, default_value_t = Access::Ro)]
    pub access: Access,

    /// Environment label (dev, stage, prod), reported in server info and logs.
    #[arg(long = "env", env = "MCP_ENV", default_value = "default")]
    pub environment: String,

    /// Host header allow-list (repeat or comma-separate). Loopback names are always allowed; add
    /// the Service DNS names the gateway uses (`mcp-eks-ro`, `mcp-eks-ro.mcp.svc`, ...), or `*`
    /// to accept any Host.
    #[arg(
        long = "allowed-host",
        env = "MCP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,

    /// Cap on one tool result, in bytes; larger results are cut and marked `truncated: true`.
    #[arg(long, env = "MCP_MAX_OUTPUT_BYTES", default_value_t = 65536)]
    pub max_output_bytes: usize,

    /// How long in-flight calls may run after SIGTERM before the process exits.
    #[arg(long, env = "MCP_SHUTDOWN_GRACE", default_value = "25s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Threads that serve requests. 1 (the default): one thread, on which calls interleave at
    /// every wait on the upstream; that is all I/O-bound tools need, and it answers fastest
    /// and uses the least memory (no hand-offs between threads). More lets tools that parse
    /// large answers (big clusters, long query results) use more CPUs at once; 0: one per CPU
    /// the process may use.
    #[arg(long, env = "MCP_THREADS", default_value_t = 1)]
    pub threads: usize,
}

impl ServerArgs {
    /// The Host allow-list handed to rmcp: loopback names plus what the operator configured.
    /// Empty means "any Host" (the operator said `*`).
    pub fn host_allow_list(&self) -> Vec<String> {
        if self.allowed_hosts.iter().any(|h| h.trim() == "*") {
            return Vec::new();
        }
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
        for h in &self.allowed_hosts {
            let h = h.trim();
            if !h.is_empty() && !hosts.iter().any(|x| x == h) {
                hosts.push(h.to_owned());
            }
        }
        hosts
    }
}

/// Parses `250ms`, `30s`, `5m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (use 500ms, 30s, 5m, 1h)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m, h, d)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{s}` is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn defaults_follow_the_contract() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.server.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(cli.server.access, Access::Ro);
        assert_eq!(cli.server.environment, "default");
        assert_eq!(cli.server.max_output_bytes, 65536);
        assert_eq!(
            cli.server.host_allow_list(),
            ["localhost", "127.0.0.1", "::1"]
        );
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "x",
            "--listen",
            "127.0.0.1:9000",
            "--access",
            "rw",
            "--env",
            "prod",
            "--allowed-host",
            "mcp-eks-rw,mcp-eks-rw.mcp.svc",
            "--max-output-bytes",
            "1000",
        ])
        .unwrap();
        assert!(cli.server.access.is_rw());
        assert_eq!(cli.server.environment, "prod");
        assert_eq!(
            cli.server.host_allow_list(),
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "mcp-eks-rw",
                "mcp-eks-rw.mcp.svc"
            ]
        );
        let star = Cli::try_parse_from(["x", "--allowed-host", "*"]).unwrap();
        assert!(star.server.host_allow_list().is_empty());
        assert!(Cli::try_parse_from(["x", "--access", "admin"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
