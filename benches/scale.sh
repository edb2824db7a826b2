#!/usr/bin/env bash
# Speed at scale on the real engine: a generated topology of 40 services in 4
# dependency layers (10 each; each service waits for one service of the layer
# above to be healthy; a 1 s probe), applied by deploy and, in the same run,
# by `docker compose up -d --wait` on deploy's own rendering of it. Also the
# floor: 40 parallel `docker run -d` of the same image. Prints Markdown for
# docs/benchmarks.md.
#
#   benches/scale.sh             # 5 cold runs, 10 no-op runs each
#   COLD_RUNS=3 RUNS=5 benches/scale.sh
#
# Needs: Docker Engine + Compose v2 (tests/support/ensure-docker.sh), the local
# test images (tests/support/redis-image/build.sh), hyperfine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${RUNS:-10}"
COLD_RUNS="${COLD_RUNS:-5}"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
tests/support/ensure-docker.sh >/dev/null
SKIP_SMOKE_TEST=1 tests/support/redis-image/build.sh >/dev/null
cargo build --release --locked -q -p deploy --bin deploy
deploy="$PWD/target/release/deploy"
work=$(mktemp -d)
trap 'bash "$work/cleanup.sh" 2>/dev/null; rm -rf "$work"' EXIT
image=deploy-test/busybox:1

# The topology: layer 0 has no dependencies; service L-i waits for (L-1)-i to be healthy.
python3 - "$work/deploy.yaml" "$image" <<'PY'
import sys
path, image = sys.argv[1], sys.argv[2]
out = ["name: scale", "services:"]
for layer in range(4):
    for i in range(10):
        out += [f"  s{layer}-{i}:", f"    image: {image}",
                "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]",
                "    healthcheck: {command: [\"true\"], interval: 1s, timeout: 2s, retries: 3}"]
        if layer:
            out += ["    depends_on:", f"      s{layer-1}-{i}: {{condition: service_healthy}}"]
open(path, "w").write("\n".join(out) + "\n")
PY
"$deploy" render --target compose -f "$work/deploy.yaml" > "$work/compose.yml"

cat > "$work/cleanup.sh" <<SH
"$deploy" destroy --target compose -f "$work/deploy.yaml" --volumes >/dev/null 2>&1 || true
docker compose -p scale-compose -f "$work/compose.yml" down -v --timeout 1 >/dev/null 2>&1 || true
docker ps -aq --filter label=deploy-bench-floor | xargs -r docker rm -f >/dev/null 2>&1 || true
SH
cat > "$work/floor.sh" <<SH
seq 40 | xargs -P 40 -I{} docker run -d --label deploy-bench-floor=1 $image sh -c "trap 'exit 0' TERM; sleep 3600 & wait" >/dev/null
SH

. benches/lib.sh
machine

echo "## 40 services in 4 dependency layers (cold: nothing running, image present)"
echo
md --runs "$COLD_RUNS" --prepare "bash $work/cleanup.sh" \
   -n "deploy apply --target compose" "$deploy apply --target compose -f $work/deploy.yaml" \
   -n "docker compose up -d --wait (deploy's rendering, baseline)" "docker compose -p scale-compose -f $work/compose.yml up -d --wait" \
   -n "floor: 40 parallel docker run -d (no dependencies, no waiting)" "bash $work/floor.sh"

echo "## The same, re-applied with nothing to do"
echo
# Each tool alone on the engine, so that neither pays for the other's 40 health checks.
bash "$work/cleanup.sh"
"$deploy" apply --target compose -f "$work/deploy.yaml" >/dev/null 2>&1
sleep 3   # every container has had a Docker health check
md --warmup 1 -n "deploy apply (no-op)" "$deploy apply --target compose -f $work/deploy.yaml"
bash "$work/cleanup.sh"
docker compose -p scale-compose -f "$work/compose.yml" up -d --wait >/dev/null 2>&1
sleep 3
md --warmup 1 -n "docker compose up -d --wait (no-op, baseline)" "docker compose -p scale-compose -f $work/compose.yml up -d --wait"
