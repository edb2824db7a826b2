#!/usr/bin/env bash
# Whole-process speed of `deploy` against Docker Compose, measured in the same
# run on the same machine. Prints a Markdown report for docs/benchmarks.md.
#
#   benches/run.sh            # render + compose apply benchmarks
#   RUNS=20 benches/run.sh    # more runs per measurement
#
# Needs: Docker Engine + Compose v2 (tests/support/ensure-docker.sh), the
# stand-in Redis image (tests/support/redis-image/build.sh), hyperfine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${RUNS:-10}"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
tests/support/ensure-docker.sh >/dev/null
SKIP_SMOKE_TEST=1 tests/support/redis-image/build.sh >/dev/null
cargo build --release --locked -q -p deploy --bin deploy --example yaml_floor
deploy="$PWD/target/release/deploy"
floor="$PWD/target/release/examples/yaml_floor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export JWT_SECRET_KEY=bench-secret

. benches/lib.sh
machine

echo "## Render (whole process)"
echo
cp tests/fixtures/seed/docker-compose.yml "$work/"
md --warmup 3 \
   -n "deploy render --target compose (seed, prod)" "$deploy render --target compose -p prod -f manifests/learn-greek.yaml" \
   -n "deploy render --target k8s (seed, prod)" "$deploy render --target k8s -p prod -f manifests/learn-greek.yaml" \
   -n "docker compose config (seed prod file, baseline)" "docker compose -f $work/docker-compose.yml config"

# A 1,000-service topology, generated the same way as benches/render.rs does.
python3 - "$work/big.yaml" <<'PY'
import sys
n=1000
out=["name: big","variables:","  API_KEY: {secret: true}","services:"]
for i in range(n):
    out+= [f"  svc-{i}:", f"    image: registry.example/svc-{i}:${{TAG:-1.0.0}}",
           f"    command: server --port 80{i:03} --name svc-{i}", "    environment:", "      MODE: production",
           "      API_KEY: ${API_KEY:-k}", f"      PEER: svc-{(i+1)%n}", f"    ports: [\"{10000+i}:80\"]",
           f"    volumes: [\"data-{i}:/data\"]", "    networks: [front, back]", "    healthcheck:",
           "      command: [check, --quick]", "      interval: 10s", "      timeout: 5s", "      retries: 3", "      start_period: 5s",
           "    resources:", "      limits: {cpus: 0.25, memory: 256M}", "      reservations: {cpus: 0.1, memory: 64M}", "    restart: unless-stopped"]
    if i>0: out+=["    depends_on:", f"      svc-{i-1}:", "        condition: service_healthy"]
out+=["networks:","  front: {}","  back: {}","volumes:"]+[f"  data-{i}: {{size: 2Gi}}" for i in range(n)]
open(sys.argv[1],"w").write("\n".join(out)+"\n")
PY
"$deploy" render --target compose -f "$work/big.yaml" > "$work/big-compose.yml"
md --warmup 1 \
   -n "deploy render --target compose (1,000 services)" "$deploy render --target compose -f $work/big.yaml" \
   -n "deploy render --target k8s (1,000 services)" "$deploy render --target k8s -f $work/big.yaml" \
   -n "floor: serde-saphyr parse of the same file into serde_json::Value, nothing else (examples/yaml_floor.rs)" "$floor $work/big.yaml" \
   -n "docker compose config (same 1,000 services, baseline)" "docker compose -f $work/big-compose.yml config"

echo "## Compose apply (seed Redis, prod profile)"
echo
# Baseline: Docker Compose on the seed's own production file, Redis only.
seedfile="$work/docker-compose.yml"
# Removes everything either tool created, volumes included (a cold start each run).
cat > "$work/cleanup.sh" <<SH
"$deploy" destroy --target compose -p prod -f "$PWD/manifests/learn-greek.yaml" --volumes >/dev/null 2>&1 || true
docker compose -p learn-greek -f "$seedfile" down -v >/dev/null 2>&1 || true
docker rm -f learn-greek-redis >/dev/null 2>&1 || true
docker volume rm learn-greek-redis-data >/dev/null 2>&1 || true
SH
cleanup_deploy() { bash "$work/cleanup.sh"; }
COLD_RUNS="${COLD_RUNS:-5}"
md --runs "$COLD_RUNS" \
   -n "deploy apply (cold: image present, nothing running)" --prepare "bash $work/cleanup.sh" \
      "$deploy apply --target compose -p prod -f manifests/learn-greek.yaml redis" \
   -n "docker compose up -d --wait redis (cold, baseline)" --prepare "bash $work/cleanup.sh" \
      "docker compose -p learn-greek -f $seedfile up -d --wait redis"
cleanup_deploy
"$deploy" apply --target compose -p prod -f manifests/learn-greek.yaml redis >/dev/null 2>&1
md --warmup 1 \
   -n "deploy apply (re-apply right after apply: Docker health still 'starting', so deploy probes once)" "$deploy apply --target compose -p prod -f manifests/learn-greek.yaml redis"
sleep 12   # past start_period and one interval: Docker reports the container healthy
md --warmup 1 \
   -n "deploy apply (re-apply, steady state: container healthy)" "$deploy apply --target compose -p prod -f manifests/learn-greek.yaml redis"
cleanup_deploy
docker compose -p learn-greek -f "$seedfile" up -d --wait redis >/dev/null 2>&1
sleep 2
md --warmup 1 \
   -n "docker compose up -d --wait redis (re-apply, nothing to do, baseline)" "docker compose -p learn-greek -f $seedfile up -d --wait redis"
cleanup_deploy
