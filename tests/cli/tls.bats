#!/usr/bin/env bats
#
# qioc's TLS and TLS-LISTEN addresses (and their aliases) against GnuTLS's
# and OpenSSL's command-line tools, curl, and qioc itself. The certificates
# are made by certtool in setup_file: a CA, a server certificate for
# localhost, 127.0.0.1 and ::1, a client certificate, and a second CA with
# a client of its own.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

bats_require_minimum_version 1.5.0

QIOC=${QIOC:-$BATS_TEST_DIRNAME/../../src/qioc}
PY=${PYTHON3:-python3}

# ---------------------------------------------------------------- certificates

make_key() {
    certtool --generate-privkey --key-type=ecdsa --outfile "$CERTS/$1-key.pem" \
        2>/dev/null
}

# make_cert NAME ISSUER TEMPLATE-LINES...; ISSUER "-" for self-signed
make_cert() {
    local name=$1 issuer=$2
    shift 2
    printf '%s\n' "$@" 'expiration_days = 30' >"$CERTS/$name.tmpl"
    make_key "$name"
    if [ "$issuer" = - ]; then
        certtool --generate-self-signed --load-privkey "$CERTS/$name-key.pem" \
            --template "$CERTS/$name.tmpl" --outfile "$CERTS/$name.pem" \
            2>/dev/null
    else
        certtool --generate-certificate --load-privkey "$CERTS/$name-key.pem" \
            --load-ca-certificate "$CERTS/$issuer.pem" \
            --load-ca-privkey "$CERTS/$issuer-key.pem" \
            --template "$CERTS/$name.tmpl" --outfile "$CERTS/$name.pem" \
            2>/dev/null
    fi
}

# A server certificate from the test CA that expired in 2021.
make_expired() {
    printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
        'activation_date = "2020-01-01 00:00:00"' \
        'expiration_date = "2021-01-01 00:00:00"' tls_www_server signing_key \
        >"$CERTS/expired.tmpl"
    make_key expired
    certtool --generate-certificate --load-privkey "$CERTS/expired-key.pem" \
        --load-ca-certificate "$CERTS/ca.pem" \
        --load-ca-privkey "$CERTS/ca-key.pem" \
        --template "$CERTS/expired.tmpl" --outfile "$CERTS/expired.pem" \
        2>/dev/null
}

setup_file() {
    export CERTS=$BATS_FILE_TMPDIR
    command -v certtool >/dev/null || return 0
    make_cert ca - 'cn = "qioc test CA"' ca cert_signing_key
    make_cert other-ca - 'cn = "some other CA"' ca cert_signing_key
    make_cert server ca 'cn = "localhost"' 'dns_name = "localhost"' \
        'ip_address = "127.0.0.1"' 'ip_address = "::1"' tls_www_server \
        signing_key
    make_cert client ca 'cn = "qioc test client"' tls_www_client signing_key
    make_cert rogue other-ca 'cn = "rogue client"' tls_www_client signing_key
    make_expired
    cat "$CERTS/server.pem" "$CERTS/server-key.pem" >"$CERTS/server-both.pem"
    cat "$CERTS/rogue.pem" "$CERTS/rogue-key.pem" >"$CERTS/rogue-both.pem"
}

# ---------------------------------------------------------------- helpers

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
    done
}

setup() {
    need certtool
    BG_PIDS=()
    T=$BATS_TEST_TMPDIR
    SRV="cert=$CERTS/server.pem,key=$CERTS/server-key.pem"
    CA="cafile=$CERTS/ca.pem"
    NOT_FOR="the certificate is not for "
    UNKNOWN_CA=' (alert "CA is unknown")'
}

# A child that has not exec'd yet is still this shell: SIGTERM would run
# bats' exit trap in it and report the test twice, so it gets SIGKILL.
teardown() {
    local pid sig shell_exe
    shell_exe=$(readlink "/proc/$$/exe")
    for pid in "${BG_PIDS[@]}"; do
        sig=TERM
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$shell_exe" ]] &&
            sig=KILL
        kill -"$sig" "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Is something listening on TCP port $1 (v4 or v6)? Looks, does not
# connect: a connection would be the one client of a one-shot listener.
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$2 ~ p "$" && $4 == "0A" { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

wait_listen() {
    local i
    for ((i = 0; i < 400; i++)); do
        listening "$1" && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# bg CMD...: run in the background (stdio as redirected by the caller),
# killed in teardown; its pid is in $BG.
bg() {
    # <&0: an asynchronous command's stdin would otherwise be /dev/null.
    "$@" <&0 &
    BG=$!
    BG_PIDS+=("$BG")
}

# A one-shot qioc TLS-LISTEN on $PORT relaying to/from files:
# serve OPTIONS [QIOC-FLAGS]; reads $T/srv.in, writes $T/srv.out, $T/srv.err.
serve() {
    local opts=$1
    shift
    PORT=$(free_port)
    [ -e "$T/srv.in" ] || : >"$T/srv.in"
    bg timeout 20 "$QIOC" "$@" "TLS-LISTEN:$PORT,$opts" - \
        <"$T/srv.in" >"$T/srv.out" 2>"$T/srv.err"
    SERVER=$BG
    wait_listen "$PORT"
}

# server_exits N: wait for the server ($SERVER) and check its status.
# Not in a $(...) subshell: only this shell can wait for its children.
server_exits() {
    local rc=0
    wait "$SERVER" || rc=$?
    if [ "$rc" -ne "$1" ]; then
        echo "server exited with $rc, not $1" >&2
        cat "$T/srv.err" >&2 2>/dev/null || true
        return 1
    fi
}

# wait_file_has FILE TEXT: poll until FILE contains TEXT (at most 20 s).
wait_file_has() {
    local i
    for ((i = 0; i < 400; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

random_file() {
    head -c "$2" /dev/urandom >"$1"
}

# ---------------------------------------------------------------- interop

@test "TLS client: round trip through gnutls-serv --echo, with cafile=" {
    need gnutls-serv
    PORT=$(free_port)
    bg timeout 20 gnutls-serv --echo -p "$PORT" \
        --x509certfile "$CERTS/server.pem" \
        --x509keyfile "$CERTS/server-key.pem" >"$T/gnutls-serv.log" 2>&1
    wait_listen "$PORT"
    printf 'line one\nline two\n' >"$T/in"
    run --separate-stderr timeout 20 "$QIOC" - "TLS:localhost:$PORT,$CA" \
        <"$T/in"
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat "$T/in")" ]
    [ -z "$stderr" ]
}

@test "OPENSSL: a client of openssl s_server gets its answer" {
    need openssl
    PORT=$(free_port)
    bg timeout 20 openssl s_server -rev -naccept 1 -accept "$PORT" \
        -cert "$CERTS/server.pem" -key "$CERTS/server-key.pem" \
        >"$T/s_server.log" 2>&1
    wait_listen "$PORT"
    run --separate-stderr timeout 20 "$QIOC" - \
        "OPENSSL:127.0.0.1:$PORT,$CA" <<<"stressed"
    [ "$status" -eq 0 ]
    [ "$output" = "desserts" ]
}

@test "TLS-LISTEN: gnutls-cli verifies it, data flows both ways" {
    need gnutls-cli
    PORT=$(free_port)
    # The server answers once the client's line is in; gnutls-cli sends
    # close_notify at the end of its input and still reads the answer.
    bg timeout 20 "$QIOC" "TLS-LISTEN:$PORT,$SRV" - >"$T/srv.out" \
        2>"$T/srv.err" < <(
            wait_file_has "$T/srv.out" "from gnutls-cli"
            echo "from the server"
        )
    SERVER=$BG
    wait_listen "$PORT"
    run timeout 20 gnutls-cli --x509cafile "$CERTS/ca.pem" -p "$PORT" \
        localhost <<<"from gnutls-cli"
    [ "$status" -eq 0 ]
    [[ $output == *"from the server"* ]]
    server_exits 0
    [ "$(cat "$T/srv.out")" = "from gnutls-cli" ]
}

@test "SSL-L: openssl s_client sends to it and closes with close_notify" {
    need openssl
    serve "$SRV" -u
    run timeout 20 openssl s_client -connect "localhost:$PORT" \
        -CAfile "$CERTS/ca.pem" -verify_return_error -quiet -no_ign_eof \
        <<<"from s_client"
    [ "$status" -eq 0 ]
    server_exits 0
    [ "$(cat "$T/srv.out")" = "from s_client" ]
}

# tls_in_front_of_http [LISTEN-OPTION]: python's http.server serving
# $T/www/page.bin (300000 random bytes), and qioc's TLS-LISTEN on $PORT
# in front of it ($SERVER; its stderr in $T/qioc.err).
tls_in_front_of_http() {
    need curl
    mkdir "$T/www"
    random_file "$T/www/page.bin" 300000
    HTTP=$(free_port)
    bg timeout 30 "$PY" -m http.server "$HTTP" --bind 127.0.0.1 \
        --directory "$T/www" >"$T/http.log" 2>&1
    wait_listen "$HTTP"
    PORT=$(free_port)
    bg timeout 30 "$QIOC" "TLS-LISTEN:$PORT,$1${1:+,}$SRV" \
        "TCP:127.0.0.1:$HTTP" 2>"$T/qioc.err"
    SERVER=$BG
    wait_listen "$PORT"
}

@test "TLS-LISTEN in front of an HTTP server: curl --cacert fetches a page" {
    tls_in_front_of_http
    run timeout 20 curl -sS --cacert "$CERTS/ca.pem" -o "$T/got.bin" \
        "https://localhost:$PORT/page.bin"
    [ "$status" -eq 0 ]
    cmp "$T/www/page.bin" "$T/got.bin"
    server_exits 0
    [ ! -s "$T/qioc.err" ]
}

@test "TLS-LISTEN,fork in front of an HTTP server: curl fetches, one after another and at once" {
    tls_in_front_of_http fork
    local i
    for i in 1 2 3; do
        timeout 20 curl -sS --cacert "$CERTS/ca.pem" -o "$T/got.$i" \
            "https://localhost:$PORT/page.bin"
        cmp "$T/www/page.bin" "$T/got.$i"
    done
    # Five at once, over one curl process's parallel transfers.
    local urls=()
    for i in 4 5 6 7 8; do
        urls+=(-o "$T/got.$i" "https://localhost:$PORT/page.bin")
    done
    timeout 20 curl -sS --parallel --parallel-max 5 --cacert "$CERTS/ca.pem" \
        "${urls[@]}"
    for i in 4 5 6 7 8; do
        cmp "$T/www/page.bin" "$T/got.$i"
    done
    kill -0 "$SERVER"
    [ ! -s "$T/qioc.err" ]
}

# ---------------------------------------------------------------- qioc to qioc

@test "qioc to qioc: 16 MiB each way at once, checksums match" {
    random_file "$T/srv.in" $((16 * 1024 * 1024))
    random_file "$T/cli.in" $((16 * 1024 * 1024 + 17))
    serve "$SRV"
    timeout 20 "$QIOC" - "TLS:localhost:$PORT,$CA" <"$T/cli.in" >"$T/cli.out"
    server_exits 0
    [ "$(sha256sum <"$T/cli.in")" = "$(sha256sum <"$T/srv.out")" ]
    [ "$(sha256sum <"$T/srv.in")" = "$(sha256sum <"$T/cli.out")" ]
}

@test "half-close: close_notify ends one direction, the answer comes back" {
    UPSTREAM=$(free_port)
    # Answers once it has read everything: needs the half-close relayed.
    bg timeout 20 "$PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
c, _ = s.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(b"got %d bytes\n" % n)
c.close()' "$UPSTREAM"
    wait_listen "$UPSTREAM"
    PORT=$(free_port)
    bg timeout 20 "$QIOC" "TLS-LISTEN:$PORT,$SRV" "TCP:127.0.0.1:$UPSTREAM"
    SERVER=$BG
    wait_listen "$PORT"
    random_file "$T/in" 1000000
    run --separate-stderr timeout 20 "$QIOC" - "TLS:localhost:$PORT,$CA" \
        <"$T/in"
    [ "$status" -eq 0 ]
    [ "$output" = "got 1000000 bytes" ]
    server_exits 0
}

@test "aliases: SSL, OPENSSL-CONNECT and OPENSSL-LISTEN, TLS-L" {
    local pair
    for pair in "SSL OPENSSL-LISTEN" "OPENSSL-CONNECT TLS-L" "tls ssl-l"; do
        set -- $pair
        PORT=$(free_port)
        bg timeout 20 "$QIOC" "$2:$PORT,$SRV" - </dev/null >"$T/out"
        SERVER=$BG
        wait_listen "$PORT"
        run timeout 20 "$QIOC" - "$1:localhost:$PORT,$CA" <<<"via $pair"
        [ "$status" -eq 0 ]
        server_exits 0
        [ "$(cat "$T/out")" = "via $pair" ]
    done
}

@test "a PEM file holding certificate and key: cert= alone" {
    serve "cert=$CERTS/server-both.pem"
    run timeout 20 "$QIOC" - "TLS:localhost:$PORT,$CA" <<<"one file"
    [ "$status" -eq 0 ]
    server_exits 0
    [ "$(cat "$T/srv.out")" = "one file" ]
}

@test "-d tells the TLS session and the verified peer" {
    serve "$SRV"
    run --separate-stderr timeout 20 "$QIOC" -d - \
        "TLS:127.0.0.1:$PORT,$CA,snihost=localhost" </dev/null
    [ "$status" -eq 0 ]
    [[ $stderr == *"TLS session (TLS1.3)"*"peer CN=localhost"* ]]
}

# ---------------------------------------------------------------- verification

# fails_with EXPECTED-STATUS MESSAGE-TAIL QIOC-ARGS...: one line on stderr,
# "qioc: address 2 (SPEC): MESSAGE-TAIL" where SPEC is the last argument.
fails_with() {
    local want=$1 tail=$2
    shift 2
    run --separate-stderr timeout 20 "$QIOC" "$@" </dev/null
    echo "status $status, stderr: $stderr"
    [ "$status" -eq "$want" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [ "$stderr" = "qioc: address 2 (${*: -1}): $tail" ]
}

@test "unknown issuer (no cafile=, the system's CAs): exit 1 and the reason" {
    serve "$SRV"
    fails_with 1 \
        "certificate verification failed: the certificate issuer is unknown" \
        - "TLS:localhost:$PORT"
    server_exits 1
    grep -q "the peer rejected our certificate$UNKNOWN_CA" "$T/srv.err"
}

@test "a cafile= that did not sign the server's certificate: exit 1, unknown issuer" {
    serve "$SRV"
    fails_with 1 \
        "certificate verification failed: the certificate issuer is unknown" \
        - "TLS:localhost:$PORT,cafile=$CERTS/other-ca.pem"
    server_exits 1
}

@test "range= on TLS-LISTEN: a client outside is refused before the handshake, logged, and the listener serves on" {
    serve "range=127.0.0.2/32,fork,$SRV"
    run --separate-stderr timeout 20 "$QIOC" - "TLS:127.0.0.1:$PORT,$CA" \
        </dev/null
    [ "$status" -eq 1 ]
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "^qioc: refused 127.0.0.1:[0-9]*: not in range=127.0.0.2/32$" \
            "$T/srv.err" && break
        sleep 0.05
    done
    grep -q "^qioc: refused 127.0.0.1:[0-9]*: not in range=127.0.0.2/32$" \
        "$T/srv.err"
    # Refused at accept: no handshake was attempted, so nothing else is
    # logged, and the listener is still there.
    [ "$(grep -vc '^qioc: refused' "$T/srv.err")" -eq 0 ]
    kill -0 "$SERVER"
    listening "$PORT"
}

@test "an expired server certificate: exit 1 and the reason, on both sides" {
    serve "cert=$CERTS/expired.pem,key=$CERTS/expired-key.pem"
    fails_with 1 "certificate verification failed: the certificate has expired" \
        - "TLS:localhost:$PORT,$CA"
    server_exits 1
    grep -q 'the peer rejected our certificate (alert "Certificate is expired")' \
        "$T/srv.err"
}

@test "name mismatch with snihost=wrong.example: exit 1 and the reason" {
    serve "$SRV"
    fails_with 1 "certificate verification failed: $NOT_FOR\"wrong.example\"" \
        - "TLS:localhost:$PORT,$CA,snihost=wrong.example"
}

@test "commonname= is snihost=; an IP address is checked in the certificate" {
    serve "$SRV"
    fails_with 1 "certificate verification failed: $NOT_FOR\"127.0.0.2\"" \
        - "TLS:127.0.0.1:$PORT,$CA,commonname=127.0.0.2"
    serve "$SRV"
    run timeout 20 "$QIOC" - "TLS:127.0.0.1:$PORT,$CA" <<<"by address"
    [ "$status" -eq 0 ]
    server_exits 0
    [ "$(cat "$T/srv.out")" = "by address" ]
}

@test "verify=0 accepts an unknown issuer and a wrong name" {
    serve "$SRV"
    run timeout 20 "$QIOC" - \
        "TLS:localhost:$PORT,verify=0,snihost=wrong.example" <<<"unverified"
    [ "$status" -eq 0 ]
    server_exits 0
    [ "$(cat "$T/srv.out")" = "unverified" ]
}

@test "a cafile= that does not exist is named" {
    serve "$SRV"
    fails_with 1 "$CERTS/nope.pem: No such file or directory" \
        - "TLS:localhost:$PORT,cafile=$CERTS/nope.pem"
}

@test "priority= narrows the protocol; a bad one is reported" {
    serve "$SRV,priority=NORMAL:-VERS-ALL:+VERS-TLS1.2"
    run --separate-stderr timeout 20 "$QIOC" -d - "TLS:localhost:$PORT,$CA" \
        </dev/null
    [ "$status" -eq 0 ]
    [[ $stderr == *"TLS session (TLS1.2)"* ]]
    serve "$SRV"
    fails_with 1 'priority string "NORMAL:+NOPE": invalid at "+NOPE"' \
        - "TLS:localhost:$PORT,$CA,priority=NORMAL:+NOPE"
}

@test "TLS-LISTEN without cert= is a usage error" {
    run --separate-stderr timeout 20 "$QIOC" - TLS-LISTEN:1
    [ "$status" -eq 2 ]
    [[ $stderr == *"cert="* ]]
}

@test "a plain TCP client at TLS-LISTEN: the listener fails with a clear line" {
    serve "$SRV"
    run timeout 20 "$QIOC" - "TCP:127.0.0.1:$PORT" \
        <<<"GET / HTTP/1.0"
    server_exits 1
    cat "$T/srv.err"
    [ "$(wc -l <"$T/srv.err")" -eq 1 ]
    grep -q "^qioc: address 1 (TLS-LISTEN:$PORT,$SRV): TLS handshake failed: " \
        "$T/srv.err"
}

# ---------------------------------------------------------------- mutual TLS

@test "mutual TLS: cafile= on TLS-LISTEN refuses a client without certificate" {
    serve "$SRV,$CA"
    fails_with 1 "the server requires a client certificate" \
        - "TLS:localhost:$PORT,$CA"
    server_exits 1
    grep -q "certificate verification failed: the client sent no certificate" \
        "$T/srv.err"
}

@test "mutual TLS: a client certificate from another CA is refused" {
    serve "$SRV,$CA"
    run --separate-stderr timeout 20 "$QIOC" - \
        "TLS:localhost:$PORT,$CA,cert=$CERTS/rogue-both.pem" </dev/null
    [ "$status" -eq 1 ]
    [[ $stderr == *"the peer rejected our certificate$UNKNOWN_CA"* ]]
    server_exits 1
    grep -q "verification failed: the certificate issuer is unknown" \
        "$T/srv.err"
}

@test "mutual TLS: a client with cert= and key= is accepted and named" {
    serve "$SRV,$CA" -d
    local cli="cert=$CERTS/client.pem,key=$CERTS/client-key.pem"
    run timeout 20 "$QIOC" - "TLS:localhost:$PORT,$CA,$cli" <<<"authenticated"
    [ "$status" -eq 0 ]
    server_exits 0
    [ "$(cat "$T/srv.out")" = "authenticated" ]
    grep -q "peer CN=qioc test client" "$T/srv.err"
}
