#!/usr/bin/env bash
# Speed at scale on the real engine: a generated topology of 4 dependency
# layers of WIDTH services (each service waits for one service of the layer
# above to be healthy; a 1 s probe), applied by deploy and, in the same run,
# by `docker compose up -d --wait` on deploy's own rendering of it. Also the
# floor: as many parallel `docker run -d` of the same image. Run at WIDTH 10
# (40 services, the issue's figure) and at WIDTH 2 (8 services, where the
# engine is not the bottleneck), each with the machine's CPU time and the
# number of execs (health checks and probes) of one apply. Prints Markdown
# for docs/benchmarks.md.
#
#   benches/scale.sh             # 5 cold runs, 10 no-op runs each
#   COLD_RUNS=3 RUNS=5 benches/scale.sh
#   WIDTHS=10 benches/scale.sh   # the 40-service topology only
#
# Needs: Docker Engine + Compose v2 (tests/support/ensure-docker.sh), the local
# test images (tests/support/redis-image/build.sh), hyperfine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${RUNS:-10}"
COLD_RUNS="${COLD_RUNS:-5}"
WIDTHS="${WIDTHS:-10 2}"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
tests/support/ensure-docker.sh >/dev/null
SKIP_SMOKE_TEST=1 tests/support/redis-image/build.sh >/dev/null
cargo build --release --locked -q -p deploy --bin deploy
deploy="$PWD/target/release/deploy"
work=$(mktemp -d)
trap 'for c in "$work"/*/cleanup.sh; do bash "$c" 2>/dev/null; done; rm -rf "$work"' EXIT
image=deploy-test/busybox:1

# Writes $dir/deploy.yaml (layer 0 has no dependencies; service L-i waits for
# (L-1)-i to be healthy), deploy's rendering of it, and the cleanup and floor scripts.
topology() {
    local width=$1 dir=$2
    mkdir -p "$dir"
    python3 - "$dir/deploy.yaml" "$image" "$width" <<'PY'
import sys
path, image, width = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = [f"name: scale{width}", "services:"]
for layer in range(4):
    for i in range(width):
        out += [f"  s{layer}-{i}:", f"    image: {image}",
                "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]",
                "    healthcheck: {command: [\"true\"], interval: 1s, timeout: 2s, retries: 3}"]
        if layer:
            out += ["    depends_on:", f"      s{layer-1}-{i}: {{condition: service_healthy}}"]
open(path, "w").write("\n".join(out) + "\n")
PY
    "$deploy" render --target compose -f "$dir/deploy.yaml" >"$dir/compose.yml"
    cat >"$dir/cleanup.sh" <<SH
"$deploy" destroy --target compose -f "$dir/deploy.yaml" --volumes >/dev/null 2>&1 || true
docker compose -p scale$width-compose -f "$dir/compose.yml" down -v --timeout 1 >/dev/null 2>&1 || true
docker ps -aq --filter label=deploy-bench-floor | xargs -r docker rm -f >/dev/null 2>&1 || true
SH
    cat >"$dir/floor.sh" <<SH
seq $((4 * width)) | xargs -P $((4 * width)) -I{} docker run -d --label deploy-bench-floor=1 $image sh -c "trap 'exit 0' TERM; sleep 3600 & wait" >/dev/null
SH
}

# One run of "$@" after "$prepare": wall time, the CPU time of the whole
# machine (engine, shims, runc, health checks, the tool) and the execs the
# engine ran, as a Markdown row.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
accounted() {
    local name=$1 prepare=$2; shift 2
    bash -c "$prepare"
    sleep 2
    # Streamed as they happen: the engine keeps only its last 256 events for `--since`.
    docker events --filter event=exec_create --format x >"$work/execs" &
    local events=$! b0 t0 t1 b1
    sleep 0.5
    b0=$(busy); t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N); b1=$(busy)
    sleep 0.1
    kill "$events"; wait "$events" 2>/dev/null || true
    echo "| $name | $(((t1 - t0) / 1000000)) | $(((b1 - b0) / 100)).$(((b1 - b0) % 100 / 10)) | $(wc -l <"$work/execs") |"
}

. benches/lib.sh
machine

for width in $WIDTHS; do
    n=$((4 * width)); dir="$work/w$width"; project="scale$width-compose"
    topology "$width" "$dir"
    echo "## $n services in 4 dependency layers (cold: nothing running, image present)"
    echo
    md --runs "$COLD_RUNS" --prepare "bash $dir/cleanup.sh" \
       -n "deploy apply --target compose" "$deploy apply --target compose -f $dir/deploy.yaml" \
       -n "docker compose up -d --wait (deploy's rendering, baseline)" "docker compose -p $project -f $dir/compose.yml up -d --wait" \
       -n "floor: $n parallel docker run -d (no dependencies, no waiting)" "bash $dir/floor.sh"
    echo "Where the time goes (one more cold run each): the whole machine's CPU time, of which the engine's work is nearly all, and the execs the engine ran (Docker's health checks, and deploy's own first probe of each service)."
    echo
    echo "| Command | Wall [ms] | Machine CPU [s] | Execs |"
    echo "|:---|---:|---:|---:|"
    accounted "deploy apply --target compose" "bash $dir/cleanup.sh" "$deploy" apply --target compose -f "$dir/deploy.yaml"
    accounted "docker compose up -d --wait" "bash $dir/cleanup.sh" docker compose -p "$project" -f "$dir/compose.yml" up -d --wait
    accounted "floor" "bash $dir/cleanup.sh" bash "$dir/floor.sh"
    echo
    bash "$dir/cleanup.sh"
done

# No-op re-apply: the 40-service topology (or the widest one asked for).
width=${WIDTHS%% *}; dir="$work/w$width"; project="scale$width-compose"
echo "## The same $((4 * width)) services, re-applied with nothing to do"
echo
# Each tool alone on the engine, so that neither pays for the other's health checks.
bash "$dir/cleanup.sh"
"$deploy" apply --target compose -f "$dir/deploy.yaml" >/dev/null 2>&1
sleep 3   # every container has had a Docker health check
md --warmup 1 -n "deploy apply (no-op)" "$deploy apply --target compose -f $dir/deploy.yaml"
bash "$dir/cleanup.sh"
docker compose -p "$project" -f "$dir/compose.yml" up -d --wait >/dev/null 2>&1
sleep 3
md --warmup 1 -n "docker compose up -d --wait (no-op, baseline)" "docker compose -p $project -f $dir/compose.yml up -d --wait"
bash "$dir/cleanup.sh"
