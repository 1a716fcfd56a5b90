#!/usr/bin/env bash
# tls-tunnel.sh - put TLS in front of a plain TCP service, and reach a TLS
# service through a plain local port (what stunnel does, both ends):
#
#     qioc TLS-LISTEN:PORT,fork,cert=server.pem,key=server.key \
#          TCP:127.0.0.1:BACKEND                      # the TLS terminator
#     qioc - TLS:localhost:PORT,cafile=ca.pem          # a verifying client
#     qioc TCP-LISTEN:LOCAL,fork TLS:localhost:PORT,cafile=ca.pem
#                                                      # a plain local port
#
# A throw-away CA and server certificate (for localhost and 127.0.0.1) are
# made with openssl(1); a python3 echo server is the backend.  Checks a
# round trip through each tunnel, and that a client which does not trust
# the CA refuses the server.  Exit 0 on success, 77 when TLS or openssl
# is missing.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# ca.pem, and server.pem/server.key signed by it, in $WORK.
make_certs() {
    local ossl=(openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256
        -nodes -days 2 -batch)
    "${ossl[@]}" -x509 -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
        -subj "/CN=qioc example CA" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    "${ossl[@]}" -keyout "$WORK/server.key" -out "$WORK/server.csr" \
        -subj /CN=localhost 2>/dev/null
    printf '%s\n' basicConstraints=CA:FALSE keyUsage=digitalSignature \
        extendedKeyUsage=serverAuth subjectAltName=DNS:localhost,IP:127.0.0.1 \
        >"$WORK/server.ext"
    openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" \
        -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
        -extfile "$WORK/server.ext" -out "$WORK/server.pem" 2>/dev/null
}

# Its log goes to a file: the untrusted client below makes it report a
# failed handshake, as it should.
start_terminator() {
    PORT=$(free_port)
    local cert="cert=$WORK/server.pem,key=$WORK/server.key"
    spawn timeout "$LIMIT" "$QIOC" "TLS-LISTEN:$PORT,fork,reuseaddr,$cert" \
        TCP:127.0.0.1:"$BACKEND" 2>"$WORK/terminator.log"
    TERMINATOR=$!
    PID_ALIVE=$TERMINATOR wait_for "qioc to listen on port $PORT" \
        tcp_listening "$PORT"
}

# A plain local port whose clients reach the TLS server, verified.
start_client_tunnel() {
    local tls_port=$PORT
    PORT=$(free_port)
    start_listener TCP-LISTEN:"$PORT",fork,reuseaddr \
        "TLS:localhost:$tls_port,cafile=$WORK/ca.pem"
    TUNNEL=$QIOC_PID
    TUNNEL_PORT=$PORT
    PORT=$tls_port
}

# round_trip ADDRESS: 1 MiB through qioc - ADDRESS must come back intact.
round_trip() {
    head -c $((1024 * 1024)) /dev/urandom >"$WORK/in"
    timeout "$LIMIT" "$QIOC" - "$1" <"$WORK/in" >"$WORK/out" ||
        die "qioc - $1 failed"
    cmp -s "$WORK/in" "$WORK/out" || die "data through $1 came back different"
}

# Without cafile= the system's trust store is used, which does not know
# our CA: the client must refuse the server (exit 1).
untrusted() {
    local status=0
    timeout "$LIMIT" "$QIOC" - TLS:localhost:"$PORT" </dev/null \
        >/dev/null 2>"$WORK/untrusted.err" || status=$?
    ((status == 1)) ||
        die "a client that does not trust the CA exited $status, not 1"
}

require_type TLS TLS:127.0.0.1:1,verify=0
command -v openssl >/dev/null || skip "needs openssl(1) for the certificates"
make_certs
start_backend
start_terminator
round_trip "TLS:localhost:$PORT,cafile=$WORK/ca.pem"
untrusted
start_client_tunnel
round_trip TCP:127.0.0.1:"$TUNNEL_PORT"
stop_qioc "$TUNNEL"
stop_qioc "$TERMINATOR"
echo "$ME: ok: TLS terminated on port $PORT and tunnelled from $TUNNEL_PORT"
