# Shell helpers shared by the test-environment scripts. Source it after
# setting LOG_PREFIX (shown in brackets before every message).

log() { printf '[%s] %s\n' "${LOG_PREFIX:-support}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${LOG_PREFIX:-support}" "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root for: $*"; fi
}

# True while another apt/dpkg (e.g. a background `apt-get install`) holds the lock.
dpkg_busy() {
    if command -v fuser >/dev/null 2>&1; then
        fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1
    else
        pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null 2>&1
    fi
}

wait_for_dpkg_lock() {
    local waited=0
    while dpkg_busy; do
        if [ "$waited" -eq 0 ]; then log "waiting for another apt/dpkg process to finish..."; fi
        waited=$((waited + 2))
        [ "$waited" -lt 900 ] || die "dpkg lock still held after 15 min"
        sleep 2
    done
}

# apt-get install, with one `apt-get update` per script run.
apt_install() {
    wait_for_dpkg_lock
    if [ -z "${APT_UPDATED:-}" ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
        wait_for_dpkg_lock
    fi
    log "apt-get install -y $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
