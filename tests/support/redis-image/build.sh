#!/usr/bin/env bash
# Build the local test images without any registry (everything is FROM scratch):
#
#   deploy-test/redis:7 (and redis:7-alpine, see below)
#       Debian's redis-server + redis-cli with every shared library `ldd` lists
#       and the dynamic loader, plus a static C entrypoint (entrypoint.c) that
#       mimics the official image's docker-entrypoint.sh (adds
#       `--protected-mode no`), and a static busybox as /bin/sh (when
#       available) for shell-form healthchecks. Stand-in for redis:7-alpine,
#       the seed's image: tagged as it too only when that tag is absent or is
#       already this stand-in, so a real redis:7-alpine is never replaced
#       (and never with REDIS_STANDIN_OWN_TAG_ONLY=1).
#   deploy-test/busybox:1, deploy-test/tools:1
#       Debian's static busybox with applet links (sh, sleep, nc, true, false,
#       ...) for test services; built only if busybox-static is available.
#
# Idempotent: images carry a content-hash label and are rebuilt only when the
# hash of the build context changes or a tag is missing. At the end a smoke
# test runs the redis image with a port published on 127.0.0.1 and pings it
# from the host (set SKIP_SMOKE_TEST=1 to skip).
#
# Requires a running Docker engine (see ../ensure-docker.sh), gcc and root
# (or sudo) to install Debian packages when they are missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REDIS_OWN_TAG=deploy-test/redis:7
REDIS_SEED_TAG=${REDIS_SEED_TAG:-redis:7-alpine} # overridable for the test of this rule
TOOLS_TAGS=(deploy-test/busybox:1 deploy-test/tools:1)
HASH_LABEL=org.deploy-test.content-hash
REDIS_DESCRIPTION='local stand-in for redis:7-alpine built from Debian binaries (tests only)'
TOOLS_DESCRIPTION='static busybox from Debian busybox-static for test services (tests only)'
export DOCKER_BUILDKIT=0 # classic builder: no buildx plugin needed, nothing pulled for FROM scratch

LOG_PREFIX=redis-image
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "the Docker engine does not answer; run tests/support/ensure-docker.sh first"

# The stand-in's tags: its own, and the seed's when that would replace nothing real.
REDIS_TAGS=("$REDIS_OWN_TAG")
if [ -z "${REDIS_STANDIN_OWN_TAG_ONLY:-}" ]; then
    seed_label=$(docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$REDIS_SEED_TAG" 2>/dev/null) ||
        seed_label=absent
    case "$seed_label" in
    absent) REDIS_TAGS+=("$REDIS_SEED_TAG") ;;
    "" | "<no value>") log "$REDIS_SEED_TAG here is a real image: left alone (the stand-in is $REDIS_OWN_TAG only)" ;;
    *) REDIS_TAGS+=("$REDIS_SEED_TAG") ;;
    esac
fi

# --------------------------------------------------------------------------
# Host prerequisites
# --------------------------------------------------------------------------
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(find /usr/lib -name libc.a -print -quit 2>/dev/null)" ] || need+=(libc6-dev)
command -v ldd >/dev/null 2>&1 || need+=(libc-bin)
if [ "${#need[@]}" -gt 0 ]; then
    # shellcheck disable=SC2207
    need=($(printf '%s\n' "${need[@]}" | sort -u))
    apt_install "${need[@]}"
fi

busybox_bin=
for b in /bin/busybox /usr/bin/busybox; do
    [ -x "$b" ] || continue
    ldd_out=$(LC_ALL=C ldd "$b" 2>&1 || true)
    if [[ "$ldd_out" == *"not a dynamic executable"* || "$ldd_out" == *"statically linked"* ]]; then
        busybox_bin=$b
        break
    fi
done
if [ -z "$busybox_bin" ]; then
    if apt-cache show busybox-static >/dev/null 2>&1; then
        apt_install busybox-static || log "could not install busybox-static; skipping the busybox image"
        [ -x /bin/busybox ] && busybox_bin=/bin/busybox
    else
        log "Debian package busybox-static not available; skipping the busybox image"
    fi
fi

WORK=$(mktemp -d /tmp/deploy-test-images.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Hash of a build context: paths, modes, symlink targets and file contents.
context_hash() {
    (
        cd "$1"
        find . -mindepth 1 -printf '%y %m %p -> %l\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    ) | sha256sum | cut -c1-32
}

# up_to_date HASH TAG... : every tag exists and carries HASH.
up_to_date() {
    local hash=$1 tag got
    shift
    for tag in "$@"; do
        got=$(docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$tag" 2>/dev/null) || return 1
        [ "$got" = "$hash" ] || return 1
    done
}

# build_image DIR HASH TAG... (DIR holds the Dockerfile)
build_image() {
    local dir=$1 hash=$2 t
    shift 2
    local tag_args=() old_ids=() id new_id
    for t in "$@"; do
        tag_args+=(-t "$t")
        id=$(docker image inspect --format '{{.Id}}' "$t" 2>/dev/null) && old_ids+=("$id")
    done
    docker build -q --label "$HASH_LABEL=$hash" "${tag_args[@]}" "$dir" >/dev/null 2>"$WORK/build.err" || {
        cat "$WORK/build.err" >&2
        die "docker build failed for $*"
    }
    # Drop the superseded images of these tags if nothing else uses them.
    new_id=$(docker image inspect --format '{{.Id}}' "$1")
    for id in "${old_ids[@]}"; do
        [ "$id" = "$new_id" ] && continue
        if [ -z "$(docker image inspect --format '{{join .RepoTags ","}}' "$id" 2>/dev/null)" ]; then
            docker rmi "$id" >/dev/null 2>&1 && log "removed superseded image $id" || true
        fi
    done
}

# ensure_image DIR WHAT TAG... : build DIR's image under the tags unless every
# tag already carries the context's hash (WHAT goes into the log line).
ensure_image() {
    local dir=$1 what=$2 hash
    shift 2
    hash=$(context_hash "$dir")
    if up_to_date "$hash" "$@"; then
        log "up to date: $* (hash $hash)"
    else
        log "building $* (${what:+$what, }hash $hash)"
        build_image "$dir" "$hash" "$@"
        log "built $*: $(docker image inspect --format '{{.Id}} {{.Size}} bytes' "$1")"
    fi
}

# copy_with_libs DEST FILE... : copy the ELF files' shared libraries (as listed
# by ldd, including the dynamic loader) into DEST at the same absolute paths.
copy_with_libs() {
    local dest=$1 f lib
    shift
    for f in "$@"; do
        while IFS= read -r lib; do
            [ -n "$lib" ] || continue
            [ -e "$dest$lib" ] && continue
            mkdir -p "$dest$(dirname "$lib")"
            cp -L "$lib" "$dest$lib"
        done < <(LC_ALL=C ldd "$f" | awk '
            $2 == "=>" && $3 ~ /^\// { print $3; next }
            $1 ~ /^\// { print $1 }')
    done
}

# --------------------------------------------------------------------------
# redis image
# --------------------------------------------------------------------------
ctx=$WORK/redis
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/data" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"

server_src=$(readlink -f "$(command -v redis-server)")
cli_src=$(readlink -f "$(command -v redis-cli)")
cp "$server_src" "$ctx/rootfs/usr/local/bin/redis-server"
cp "$cli_src" "$ctx/rootfs/usr/local/bin/redis-cli"
# redis-server switches mode on argv[0]; same links as the official image.
for l in redis-check-aof redis-check-rdb redis-sentinel; do
    ln -s redis-server "$ctx/rootfs/usr/local/bin/$l"
done
copy_with_libs "$ctx/rootfs" "$server_src" "$cli_src"
# glibc dlopen()s libgcc_s for pthread_cancel/unwinding; make sure it is there.
for l in /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1; do
    if [ -e "$l" ] && [ ! -e "$ctx/rootfs/lib/x86_64-linux-gnu/libgcc_s.so.1" ] && [ ! -e "$ctx/rootfs$l" ]; then
        mkdir -p "$ctx/rootfs$(dirname "$l")"
        cp -L "$l" "$ctx/rootfs$l"
    fi
done

# The official alpine image has /bin/sh, so shell-form healthchecks
# (CMD-SHELL "redis-cli ping") work there; give the stand-in one too.
if [ -n "$busybox_bin" ]; then
    mkdir -p "$ctx/rootfs/bin"
    cp -L "$busybox_bin" "$ctx/rootfs/bin/busybox"
    ln -s busybox "$ctx/rootfs/bin/sh"
fi

gcc -static -O2 -Wall -Wextra -o "$ctx/rootfs/usr/local/bin/docker-entrypoint" "$HERE/entrypoint.c"
strip "$ctx/rootfs/usr/local/bin/docker-entrypoint" 2>/dev/null || true

redis_version=$("$(command -v redis-server)" --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin REDIS_VERSION=${redis_version}
LABEL org.opencontainers.image.description="${REDIS_DESCRIPTION}" \\
      org.opencontainers.image.version="${redis_version}"
VOLUME /data
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/docker-entrypoint"]
EXPOSE 6379
CMD ["redis-server"]
EOF

ensure_image "$ctx" "redis $redis_version" "${REDIS_TAGS[@]}"

# --------------------------------------------------------------------------
# busybox/tools image
# --------------------------------------------------------------------------
if [ -n "$busybox_bin" ]; then
    ctx=$WORK/busybox
    mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
    chmod 1777 "$ctx/rootfs/tmp"
    cp -L "$busybox_bin" "$ctx/rootfs/bin/busybox"
    # One symlink per applet, at the applet's usual location.
    while IFS= read -r applet; do
        [ -n "$applet" ] || continue
        [ "$applet" = bin/busybox ] && continue
        [ -e "$ctx/rootfs/$applet" ] || [ -L "$ctx/rootfs/$applet" ] && continue
        mkdir -p "$ctx/rootfs/$(dirname "$applet")"
        ln -s /bin/busybox "$ctx/rootfs/$applet"
    done < <("$busybox_bin" --list-full | sed 's|^/||')
    cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.opencontainers.image.description="${TOOLS_DESCRIPTION}"
CMD ["sh"]
EOF
    ensure_image "$ctx" "" "${TOOLS_TAGS[@]}"
fi

# --------------------------------------------------------------------------
# Smoke test: published port on 127.0.0.1 answers PONG (not DENIED).
# --------------------------------------------------------------------------
if [ -z "${SKIP_SMOKE_TEST:-}" ]; then
    cid=$(docker run -d --rm -p 127.0.0.1::6379 --label org.deploy-test.smoke=1 "${REDIS_TAGS[0]}")
    cleanup_smoke() { docker rm -f -v "$cid" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
    trap cleanup_smoke EXIT
    hostport=$(docker port "$cid" 6379/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n1)
    [ -n "$hostport" ] || die "smoke test: no 127.0.0.1 port published for $cid"
    reply=
    for _ in $(seq 1 50); do
        reply=$(redis-cli -h 127.0.0.1 -p "$hostport" ping 2>&1 || true)
        [ "$reply" = PONG ] && break
        sleep 0.2
    done
    [ "$reply" = PONG ] || {
        docker logs "$cid" >&2 || true
        die "smoke test: redis-cli -h 127.0.0.1 -p $hostport ping returned: $reply"
    }
    log "smoke test ok: 127.0.0.1:$hostport -> PONG"
fi
log "ok"
