#!/usr/bin/env bash
# PostgreSQL 15 for the mcp-postgres tests (Debian 12 "bookworm": postgresql-15 ships the
# contrib modules, pg_stat_statements included; there is no separate postgresql-contrib-15).
set -euo pipefail
if [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -f /usr/lib/postgresql/15/lib/pg_stat_statements.so ] \
    && command -v psql >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL 15 missing; run as root: $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show postgresql-15 >/dev/null 2>&1; then
    apt-get update -qq
fi
# The package's postinst creates a default cluster; tests never use it (they initdb their own),
# so keep it from being created.
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/50-mcp-no-main.conf
# A stale package list fails the download: refresh it once and retry.
apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null; }
