# Shared helpers for the scripts in this folder (sourced, not run).

# A free TCP port on the loopback interface.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until URL answers 2xx, up to $2 seconds (default 30).
wait_http() {
    local url=$1 deadline=$(( $(date +%s) + ${2:-30} ))
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "timed out waiting for $url" >&2
            return 1
        fi
        sleep 0.2
    done
}

# The cargo target directory the scripts build into.
target_dir() {
    echo "${CARGO_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target}"
}
