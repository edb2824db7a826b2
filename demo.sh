#!/usr/bin/env bash
# The main job: deploy the seed's Redis with the Compose target on this
# machine's Docker Engine and show it ready. Installs and starts what it
# needs (Docker Engine, the local stand-in Redis image, the deploy binary).
#
#   ./demo.sh            # dev profile: Redis published on 127.0.0.1:6379
#   PROFILE=prod ./demo.sh   # prod profile: internal only, limits, restart policy
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PROFILE="${PROFILE:-dev}"

tests/support/ensure-docker.sh
# The seed's image is redis:7-alpine: used as it is when present, pulled when
# a registry answers. Only when neither works is a local stand-in built from
# Debian's redis-server/redis-cli (tests/support/redis-image), under a tag of
# its own (deploy-test/redis:7, through REDIS_IMAGE): a redis:7-alpine of yours
# is never replaced or shadowed.
if docker image inspect redis:7-alpine >/dev/null 2>&1; then
    echo "==> using the local redis:7-alpine"
elif docker pull -q redis:7-alpine >/dev/null 2>&1; then
    echo "==> pulled redis:7-alpine"
else
    echo "==> redis:7-alpine is not here and cannot be pulled: building a stand-in as deploy-test/redis:7"
    REDIS_STANDIN_OWN_TAG_ONLY=1 tests/support/redis-image/build.sh
    export REDIS_IMAGE=deploy-test/redis:7
fi
cargo build --release --locked -q -p deploy
deploy=target/release/deploy

# --verify: once Redis is ready, the seed's Validation checklist as the
# topology declares it (`checks:` in manifests/learn-greek.yaml), run inside
# the container: ping, maxmemory, eviction policy, AOF, data kept across a restart.
echo "==> deploy apply --verify --target compose --profile $PROFILE redis"
"$deploy" apply --verify --target compose --profile "$PROFILE" -f manifests/learn-greek.yaml redis
echo
echo "==> deploy status"
"$deploy" status --target compose --profile "$PROFILE" -f manifests/learn-greek.yaml redis
echo
container=$([ "$PROFILE" = prod ] && echo learn-greek-redis || echo learn-greek-redis-dev)
# deploy declares Redis ready as soon as its probe passes (through exec); Docker's
# own health status follows at its first scheduled check, one interval later.
for _ in $(seq 1 30); do
    health=$(docker inspect "$container" --format '{{.State.Health.Status}}')
    [ "$health" = healthy ] && break
    sleep 1
done
echo "docker health:    $health"
if [ "$PROFILE" != prod ] && command -v redis-cli >/dev/null; then
    echo "from the host:    $(redis-cli -h 127.0.0.1 -p 6379 ping)   (redis-cli -h 127.0.0.1 -p 6379 ping)"
fi
echo
echo "Remove it with: $deploy destroy --target compose --profile $PROFILE -f manifests/learn-greek.yaml"
