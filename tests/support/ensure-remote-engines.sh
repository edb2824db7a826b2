#!/usr/bin/env bash
# Start the two remote Docker endpoints that tests/docker_remote.rs reaches,
# both in front of the local engine (run ensure-docker.sh first):
#
#   tcp:// with TLS  127.0.0.1:$TLS_PORT (default 23760): a TLS-terminating
#       proxy (Debian's stunnel4, OpenSSL) that demands a client certificate
#       signed by the test CA and forwards to the engine's socket. Certificates are made here
#       with openssl: a CA, a server certificate for 127.0.0.1/localhost, a
#       client certificate, and a second CA the endpoint does not use (for the
#       wrong-CA test).
#   ssh://           127.0.0.1:$SSH_PORT (default 23722): an sshd of its own
#       (Debian's openssh-server with its own config, host key and authorized
#       key; key login only) where `docker system dial-stdio` reaches the engine.
#       The client side is a marked `Host deploy-test-ssh` block at the top of
#       ~/.ssh/config (identity, known_hosts with the generated host key,
#       StrictHostKeyChecking yes), as a user would configure a real host.
#
# Why a proxy and not a second dockerd: a second daemon on one host needs its
# own containerd, bridge and iptables chains next to the first one's (which it
# would fight over), and a copy of every test image; the client code under
# test (TLS handshake, CA and client certificate, address check) is the same
# against any TLS server. The main dockerd is never restarted.
#
# Idempotent: keeps what is already in place and answering. Needs root (or
# sudo) to install packages and start sshd. Everything lives in
# $DEPLOY_TEST_ENGINES (default ${TMPDIR:-/tmp}/deploy-test-engines), with
# endpoints.env naming the endpoints for the tests.
set -euo pipefail

DIR=${DEPLOY_TEST_ENGINES:-${TMPDIR:-/tmp}/deploy-test-engines}
TLS_PORT=${TLS_PORT:-23760}
SSH_PORT=${SSH_PORT:-23722}
SSH_ALIAS=deploy-test-ssh
ENGINE_SOCKET=${ENGINE_SOCKET:-/var/run/docker.sock}
SSH_USER=$(id -un)

LOG_PREFIX=remote-engines
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "the Docker engine does not answer; run tests/support/ensure-docker.sh first"

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v stunnel4 >/dev/null 2>&1 || need+=(stunnel4)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
if [ "${#need[@]}" -gt 0 ]; then apt_install "${need[@]}"; fi

mkdir -p "$DIR/tls" "$DIR/wrong-ca" "$DIR/ssh"
chmod 700 "$DIR" "$DIR/ssh"

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# alive PIDFILE: the process the file names is running.
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop PIDFILE: ends the process this script started earlier, if running.
stop() { if alive "$1"; then kill "$(cat "$1")"; fi; rm -f "$1"; }

# ---------------------------------------------------------------------------
# Certificates (EC P-256; the CA signs a server and a client certificate)
# ---------------------------------------------------------------------------
# new_ca DIR CN
new_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=$2" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
}

# new_cert CA_DIR OUT_CERT OUT_KEY CN EXTENSIONS
new_cert() {
    local csr ext
    csr=$(mktemp) ext=$(mktemp)
    printf '%s\n' "$5" >"$ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$4" \
        -keyout "$3" -out "$csr" 2>/dev/null
    openssl x509 -req -in "$csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial -days 3650 \
        -extfile "$ext" -out "$2" 2>/dev/null
    rm -f "$csr" "$ext"
    chmod 600 "$3"
}

if [ ! -s "$DIR/tls/cert.pem" ] || [ ! -s "$DIR/wrong-ca/cert.pem" ]; then
    log "generating the test CA, server and client certificates in $DIR/tls"
    new_ca "$DIR/tls" deploy-test-ca
    new_cert "$DIR/tls" "$DIR/tls/server-cert.pem" "$DIR/tls/server-key.pem" localhost \
        "$(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth')"
    new_cert "$DIR/tls" "$DIR/tls/cert.pem" "$DIR/tls/key.pem" deploy-test-client 'extendedKeyUsage=clientAuth'
    # Another CA: a client that trusts it must refuse the endpoint's certificate.
    new_ca "$DIR/wrong-ca" deploy-test-wrong-ca
    cp "$DIR/tls/cert.pem" "$DIR/tls/key.pem" "$DIR/wrong-ca/"
    stop "$DIR/tls/stunnel.pid" # a proxy serving the old certificates
fi

# ---------------------------------------------------------------------------
# TLS endpoint: stunnel terminating TLS (client certificate required). Not
# socat: it sets no session id context, so OpenSSL refuses every resumed
# session ("session id context uninitialized"), and clients do resume.
# ---------------------------------------------------------------------------
tls=$DIR/tls
cat >"$tls/stunnel.conf" <<EOF
; TLS endpoint for tests/docker_remote.rs (written by tests/support/ensure-remote-engines.sh)
pid = $tls/stunnel.pid
output = $tls/stunnel.log
foreground = no
[docker]
accept = 127.0.0.1:$TLS_PORT
connect = $ENGINE_SOCKET
cert = $tls/server-cert.pem
key = $tls/server-key.pem
CAfile = $tls/ca.pem
requireCert = yes
verifyChain = yes
EOF
if alive "$tls/stunnel.pid" && port_open "$TLS_PORT"; then
    log "TLS endpoint already up on 127.0.0.1:$TLS_PORT"
else
    port_open "$TLS_PORT" && die "127.0.0.1:$TLS_PORT is taken by another process; set TLS_PORT"
    stunnel4 "$tls/stunnel.conf" || die "stunnel4 did not start; see $tls/stunnel.log"
    for _ in $(seq 50); do port_open "$TLS_PORT" && break; sleep 0.1; done
    log "TLS endpoint started on 127.0.0.1:$TLS_PORT (stunnel pid $(cat "$tls/stunnel.pid" 2>/dev/null || echo '?'))"
fi

# ---------------------------------------------------------------------------
# ssh endpoint: an sshd of its own, key login for this user only
# ---------------------------------------------------------------------------
ssh_dir=$DIR/ssh
[ -s "$ssh_dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C deploy-test-host -f "$ssh_dir/host_ed25519"
[ -s "$ssh_dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C deploy-test-client -f "$ssh_dir/id_ed25519"
cp "$ssh_dir/id_ed25519.pub" "$ssh_dir/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cut -d' ' -f1,2 "$ssh_dir/host_ed25519.pub")" >"$ssh_dir/known_hosts"
cat >"$ssh_dir/sshd_config" <<EOF
# Test sshd for tests/docker_remote.rs (written by tests/support/ensure-remote-engines.sh)
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $ssh_dir/host_ed25519
PidFile $ssh_dir/sshd.pid
AuthorizedKeysFile $ssh_dir/authorized_keys
AllowUsers $SSH_USER
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding no
EOF

if alive "$ssh_dir/sshd.pid" && port_open "$SSH_PORT"; then
    log "ssh endpoint already up on 127.0.0.1:$SSH_PORT"
else
    port_open "$SSH_PORT" && die "127.0.0.1:$SSH_PORT is taken by another process; set SSH_PORT"
    as_root mkdir -p /run/sshd
    as_root /usr/sbin/sshd -t -f "$ssh_dir/sshd_config" || die "sshd rejects $ssh_dir/sshd_config"
    as_root /usr/sbin/sshd -f "$ssh_dir/sshd_config" -E "$ssh_dir/sshd.log"
    for _ in $(seq 50); do port_open "$SSH_PORT" && break; sleep 0.1; done
    log "ssh endpoint started on 127.0.0.1:$SSH_PORT (sshd pid $(cat "$ssh_dir/sshd.pid" 2>/dev/null || echo '?'))"
fi

# The client configuration, first in ~/.ssh/config (ssh takes the first value
# it finds), replacing an earlier copy of the block.
mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh"
cfg=$HOME/.ssh/config
touch "$cfg" && chmod 600 "$cfg"
rest=$(awk '/^# >>> deploy-test-engines/{skip=1} !skip{print} /^# <<< deploy-test-engines/{skip=0}' "$cfg")
{
    echo "# >>> deploy-test-engines (written by tests/support/ensure-remote-engines.sh)"
    echo "Host $SSH_ALIAS"
    echo "    HostName 127.0.0.1"
    echo "    IdentityFile $ssh_dir/id_ed25519"
    echo "    IdentitiesOnly yes"
    echo "    UserKnownHostsFile $ssh_dir/known_hosts"
    echo "    StrictHostKeyChecking yes"
    echo "# <<< deploy-test-engines"
    [ -z "$rest" ] || printf '%s\n' "$rest"
} >"$cfg.new"
mv "$cfg.new" "$cfg"

cat >"$DIR/endpoints.env" <<EOF
TLS_HOST=tcp://127.0.0.1:$TLS_PORT
TLS_CERTS=$DIR/tls
WRONG_CA_CERTS=$DIR/wrong-ca
SSH_HOST=ssh://$SSH_USER@$SSH_ALIAS:$SSH_PORT
SSH_UNKNOWN_HOST=ssh://$SSH_USER@127.0.0.1:$SSH_PORT
EOF

# Both endpoints checked with the docker CLI as a second client.
DOCKER_CONTEXT= DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$DIR/tls" \
    docker version --format '{{.Server.Version}}' >/dev/null 2>"$DIR/tls/check.err" ||
    die "the docker CLI cannot reach tcp://127.0.0.1:$TLS_PORT with TLS: $(cat "$DIR/tls/check.err")"
DOCKER_CONTEXT= DOCKER_HOST="ssh://$SSH_USER@$SSH_ALIAS:$SSH_PORT" \
    docker version --format '{{.Server.Version}}' >/dev/null 2>"$ssh_dir/check.err" ||
    die "the docker CLI cannot reach ssh://$SSH_USER@$SSH_ALIAS:$SSH_PORT: $(cat "$ssh_dir/check.err")"
log "ok: $DIR/endpoints.env"
