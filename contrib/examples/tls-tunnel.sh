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

QIOC=${QIOC:-qioc}
PYTHON3=${PYTHON3:-python3}
ME=${0##*/}
LIMIT=120   # seconds any one qioc may run: a hang fails, never blocks
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qioc-example.XXXXXX")

die() { echo "$ME: FAIL: $*" >&2; exit 1; }

# Exit status 77 means "cannot run here" (the automake/bats convention).
skip() { echo "$ME: SKIP: $*" >&2; exit 77; }

# Kill what we started, by pid, and remove the scratch directory (kept
# when QIOC_EXAMPLE_KEEP is set, for a look after a failure).
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n ${QIOC_EXAMPLE_KEEP-} ]]; then
        echo "$ME: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Run a command in the background and remember it for cleanup.  The
# explicit <&0 keeps the caller's stdin: a bare '&' would read /dev/null.
spawn() { "$@" <&0 & PIDS+=("$!"); }

# Wait for background process $1; its exit status in $REAPED.
reap() {
    REAPED=0
    wait "$1" || REAPED=$?
    local -a keep=()
    local pid
    for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}

# Poll (never a fixed sleep) until "$@" succeeds; give up after 10 s, or
# at once if process $PID_ALIVE (when set) has died.
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 200; i++)); do
        "$@" && return 0
        if [[ -n ${PID_ALIVE-} ]] && ! kill -0 "$PID_ALIVE" 2>/dev/null; then
            die "process $PID_ALIVE ended while waiting for $what"
        fi
        sleep 0.05
    done
    die "timed out waiting for $what"
}

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# Is a socket listening on TCP port $1?  (/proc, so no client is used up.)
tcp_listening() {
    local files=(/proc/net/tcp) hex
    [[ -r /proc/net/tcp6 ]] && files+=(/proc/net/tcp6)
    hex=$(printf '%04X' "$1")
    awk -v p="$hex" '$4 == "0A" && $2 ~ (":" p "$") { f = 1 }
                     END { exit !f }' "${files[@]}"
}

# A port nobody listens on right now.
free_port() {
    "$PYTHON3" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Start qioc with "$@" in the background ($QIOC_PID) and wait until it
# listens on TCP port $PORT.
start_listener() {
    spawn timeout "$LIMIT" "$QIOC" "$@"
    QIOC_PID=$!
    PID_ALIVE=$QIOC_PID wait_for "qioc to listen on port $PORT" \
        tcp_listening "$PORT"
}

# An echo server on a port of its own choosing, written to $1 when ready;
# it half-closes after echoing everything, as a well-behaved peer does.
ECHO_SERVER='
import os, socket, sys, threading

def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)

srv = socket.create_server(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'

# Start the echo server; its port in $BACKEND.
start_backend() {
    spawn "$PYTHON3" -c "$ECHO_SERVER" "$WORK/backend.port"
    PID_ALIVE=$! wait_for "the echo backend" test -s "$WORK/backend.port"
    BACKEND=$(<"$WORK/backend.port")
}

# SIGTERM stops a listener; qioc then exits 128+15.
stop_qioc() {
    kill -TERM "$1"
    reap "$1"
    ((REAPED == 143)) || die "qioc exited $REAPED after SIGTERM, not 143"
}

# Skip (exit 77) when this qioc does not implement address type $1 yet;
# $2 is an address of that type that opens quickly or fails quickly.
require_type() {
    local out
    out=$(timeout 10 "$QIOC" -u STDIN "$2" </dev/null 2>&1) || true
    [[ $out != *"not implemented"* ]] || skip "$1 not implemented yet"
}

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
