# syntax=docker/dockerfile:1
#
# One image with every binary of the workspace: mcp-gateway and the backends mcp-eks, mcp-aws,
# mcp-cloudwatch, mcp-costs, mcp-postgres, mcp-prometheus, mcp-github, mcp-argo, mcp-cloudflare.
# The Helm chart runs /usr/local/bin/mcp-<server> from it (docs/helm.md).
#
#   docker build -t ghcr.io/example/mcp-gateway:0.1.0 .
#
# Needs BuildKit (the default builder of Docker 23+) for the cache mounts. Builder and runtime
# are both Debian 12 (bookworm), so the glibc the binaries link against is the one they run on.
# The builder's Rust version must follow rust-toolchain.toml (1.95); that file is kept out of the
# build context (.dockerignore) so rustup does not download a second toolchain.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The whole workspace (members must all be present for cargo to resolve it); .dockerignore
# keeps target/, fuzz/ artefacts and VCS data out.
COPY . .
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
# Cache mounts keep the registry and the target directory between builds; the binaries are
# copied out of the cached target directory into /out, which the next stage takes.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    set -eux; \
    bins="mcp-gateway mcp-eks mcp-aws mcp-cloudwatch mcp-costs mcp-postgres mcp-prometheus mcp-github mcp-argo mcp-cloudflare"; \
    cargo build --release --locked $(for b in $bins; do printf -- '-p %s ' "$b"; done); \
    mkdir -p /out; \
    for b in $bins; do install -m 0755 "target/release/$b" "/out/$b"; done; \
    /out/mcp-gateway --help >/dev/null

# distroless/cc: glibc, libgcc, CA certificates, /etc/passwd with `nonroot` (65532); no shell,
# no package manager. (A debian:bookworm-slim runtime works too: add ca-certificates and a
# user with uid 65532.)
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
EXPOSE 8080
ENV LOG_FORMAT=json
# The chart always sets the command; by default the image runs the gateway.
ENTRYPOINT ["/usr/local/bin/mcp-gateway"]
CMD ["serve", "--config", "/etc/mcp-gateway/config/gateway.yaml"]

LABEL org.opencontainers.image.title="mcp-gateway" \
      org.opencontainers.image.description="MCP gateway and its backend MCP servers" \
      org.opencontainers.image.licenses="Apache-2.0"
