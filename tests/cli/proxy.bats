#!/usr/bin/env bats
#
# Address chains and proxies: qioc as the client of real proxies
# (microsocks, dante-server, tinyproxy), qioc as the proxy of real clients
# (curl --socks4, --socks4a, --socks5, --socks5-hostname, -x), TLS layered
# over SOCKS5 and over unix sockets (gnutls-serv, gnutls-cli), and proxies
# that misbehave (tests/cli/proxypeer.py). Every peer listens on a free
# loopback port.
#
# Debian packages: microsocks dante-server tinyproxy curl gnutls-bin socat
#
# SPDX-License-Identifier: LGPL-2.1-or-later

bats_require_minimum_version 1.5.0

load helpers

PROXYPEER="$BATS_TEST_DIRNAME/proxypeer.py"

setup_file() {
    export CERTS=$BATS_FILE_TMPDIR
    command -v certtool >/dev/null || return 0
    printf '%s\n' 'cn = "proxy test CA"' ca cert_signing_key \
        'expiration_days = 30' >"$CERTS/ca.tmpl"
    printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
        'ip_address = "127.0.0.1"' tls_www_server signing_key \
        'expiration_days = 30' >"$CERTS/server.tmpl"
    certtool --generate-privkey --key-type=ecdsa --outfile "$CERTS/ca-key.pem" \
        2>/dev/null
    certtool --generate-self-signed --load-privkey "$CERTS/ca-key.pem" \
        --template "$CERTS/ca.tmpl" --outfile "$CERTS/ca.pem" 2>/dev/null
    certtool --generate-privkey --key-type=ecdsa \
        --outfile "$CERTS/server-key.pem" 2>/dev/null
    certtool --generate-certificate --load-privkey "$CERTS/server-key.pem" \
        --load-ca-certificate "$CERTS/ca.pem" \
        --load-ca-privkey "$CERTS/ca-key.pem" \
        --template "$CERTS/server.tmpl" --outfile "$CERTS/server.pem" \
        2>/dev/null
}

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || skip "$c is not installed"
    done
}

# log_has FILE TEXT: a line of FILE contains TEXT.
log_has() {
    grep -qF -- "$2" "$1"
}

# ---------------------------------------------------------------- peers

# wait_ready FILE: a peer wrote its ready file.
wait_ready() {
    poll 10 test -e "$1"
}

# http_server: python's http.server on $HTTP_PORT serving $T/www/file
# (1 MiB of random bytes).
http_server() {
    mkdir -p "$T/www"
    random_file "$T/www/file" 1M
    HTTP_PORT=$(free_port)
    bg "$PYTHON3" -m http.server --bind 127.0.0.1 --directory "$T/www" \
        "$HTTP_PORT" >/dev/null 2>&1
    wait_port "$HTTP_PORT"
}

# microsocks [USER PASS]: a SOCKS5 proxy on $MS_PORT.
microsocks_start() {
    need microsocks
    MS_PORT=$(free_port)
    if (($#)); then
        bg microsocks -i 127.0.0.1 -p "$MS_PORT" -u "$1" -P "$2" >/dev/null
    else
        bg microsocks -i 127.0.0.1 -p "$MS_PORT" >/dev/null
    fi
    wait_port "$MS_PORT"
}

# dante_start: dante-server (SOCKS4 and SOCKS5, no authentication) on
# $DANTE_PORT, reaching loopback only.
dante_start() {
    need danted
    DANTE_PORT=$(free_port)
    cat >"$T/danted.conf" <<EOF
logoutput: $T/danted.log
internal: 127.0.0.1 port = $DANTE_PORT
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 }
EOF
    bg danted -f "$T/danted.conf" -p "$T/danted.pid" >/dev/null 2>&1
    wait_port "$DANTE_PORT"
}

# tinyproxy_start [USER PASS]: an HTTP CONNECT proxy on $TP_PORT.
tinyproxy_start() {
    need tinyproxy
    TP_PORT=$(free_port)
    printf '%s\n' "Port $TP_PORT" "Listen 127.0.0.1" "Timeout 30" \
        "Allow 127.0.0.1" "LogFile \"$T/tinyproxy.log\"" >"$T/tinyproxy.conf"
    if (($#)); then
        echo "BasicAuth $1 $2" >>"$T/tinyproxy.conf"
    fi
    bg tinyproxy -d -c "$T/tinyproxy.conf" >/dev/null 2>&1
    wait_port "$TP_PORT"
}

# qioc_proxy LAYER: qioc serving LAYER on 127.0.0.1:$QP_PORT with fork,
# logging at -d to $T/qp.log.
qioc_proxy() {
    QP_PORT=$(free_port)
    bg_qioc -d "$1|TCP-LISTEN:$QP_PORT,bind=127.0.0.1,fork" DYNAMIC \
        2>"$T/qp.log"
    wait_port "$QP_PORT"
}

# sink_peer: a peer on $SINK_PORT that writes what it receives to $T/got.
# It does not half-close first: microsocks and tinyproxy end a tunnel at
# the first end-of-file from either side.
sink_peer() {
    rm -f "$T/sink.ready" "$T/got"
    SINK_PORT=$(free_port)
    bg_peer --port "$SINK_PORT" --ready "$T/sink.ready" xfer --no-shut \
        --recv "$T/got"
    wait_ready "$T/sink.ready"
}

# source_peer: a peer on $SOURCE_PORT that sends $T/sent and half-closes.
source_peer() {
    random_file "$T/sent" 1M
    rm -f "$T/source.ready"
    SOURCE_PORT=$(free_port)
    bg_peer --port "$SOURCE_PORT" --ready "$T/source.ready" xfer \
        --send "$T/sent"
    wait_ready "$T/source.ready"
}

# upload ADDRESS: send 1 MiB through ADDRESS to a fresh sink peer; the
# bytes arrive intact.
upload() {
    random_file "$T/up" 1M
    sink_peer
    run --separate-stderr qioc -u - "${1//SINK/$SINK_PORT}" <"$T/up"
    assert_status 0
    reap "$BG_PID"
    assert_same "$T/up" "$T/got"
}

# download ADDRESS: receive 1 MiB through ADDRESS from a fresh source.
download() {
    source_peer
    qioc -U - "${1//SOURCE/$SOURCE_PORT}" >"$T/down" 2>"$T/down.err" || {
        echo "# qioc exit $?: $(cat "$T/down.err")" >&2
        return 1
    }
    assert_same "$T/sent" "$T/down"
}

# ---------------------------------------------------------------- qioc as the proxy

@test "SOCKS-SERVER: curl --socks4, --socks4a, --socks5 and --socks5-hostname fetch a file intact" {
    need curl
    http_server
    qioc_proxy SOCKS-SERVER
    local how
    for how in socks4 socks4a socks5 socks5-hostname; do
        rm -f "$T/fetched"
        run curl -sS --max-time 20 --"$how" "127.0.0.1:$QP_PORT" \
            -o "$T/fetched" "http://localhost:$HTTP_PORT/file"
        assert_status 0
        assert_same "$T/www/file" "$T/fetched"
    done
    # -d names each client and what it asked for
    log_has "$T/qp.log" "client 127.0.0.1:"
    log_has "$T/qp.log" "SOCKS4 CONNECT 127.0.0.1:$HTTP_PORT"
    log_has "$T/qp.log" "SOCKS4 CONNECT localhost:$HTTP_PORT"
    log_has "$T/qp.log" "SOCKS5 CONNECT localhost:$HTTP_PORT"
    log_has "$T/qp.log" "connected to localhost:$HTTP_PORT"
}

@test "PROXY-SERVER: curl -x tunnels through qioc's HTTP CONNECT proxy" {
    need curl
    http_server
    qioc_proxy PROXY-SERVER
    run curl -sS --max-time 20 -p -x "http://127.0.0.1:$QP_PORT" \
        -o "$T/fetched" "http://localhost:$HTTP_PORT/file"
    assert_status 0
    assert_same "$T/www/file" "$T/fetched"
    log_has "$T/qp.log" "HTTP CONNECT localhost:$HTTP_PORT"
}

@test "SOCKS-SERVER: a password is required when sockspass= is given" {
    need curl
    http_server
    qioc_proxy SOCKS-SERVER,socksuser=alice,sockspass=s3cret
    run curl -sS --max-time 20 --socks5 "127.0.0.1:$QP_PORT" \
        --proxy-user alice:s3cret -o "$T/fetched" \
        "http://127.0.0.1:$HTTP_PORT/file"
    assert_status 0
    assert_same "$T/www/file" "$T/fetched"
    run curl -sS --max-time 20 --socks5 "127.0.0.1:$QP_PORT" \
        --proxy-user alice:wrong -o /dev/null "http://127.0.0.1:$HTTP_PORT/file"
    [ "$status" -ne 0 ]
    poll 5 log_has "$T/qp.log" 'wrong user name or password from the client (user "alice")'
    # SOCKS4 has no password: such a client is turned away
    run curl -sS --max-time 20 --socks4 "127.0.0.1:$QP_PORT" \
        -o /dev/null "http://127.0.0.1:$HTTP_PORT/file"
    [ "$status" -ne 0 ]
    poll 5 log_has "$T/qp.log" "a SOCKS4 client cannot give the password"
}

@test "PROXY-SERVER: proxyauth= requires Basic credentials (407 without)" {
    need curl
    http_server
    qioc_proxy PROXY-SERVER,proxyauth=bob:pw
    run curl -sS --max-time 20 -p -x "http://127.0.0.1:$QP_PORT" \
        --proxy-user bob:pw -o "$T/fetched" "http://127.0.0.1:$HTTP_PORT/file"
    assert_status 0
    assert_same "$T/www/file" "$T/fetched"
    run curl -s --max-time 20 -p -x "http://127.0.0.1:$QP_PORT" \
        -o /dev/null -w '%{http_connect}' "http://127.0.0.1:$HTTP_PORT/file"
    [ "$output" = 407 ]
}

@test "SOCKS-SERVER: allow= and allow-port= refuse other targets before connecting" {
    need curl
    http_server
    qioc_proxy SOCKS-SERVER,allow-port=1-80
    # TEST-NET-1 is outside the default allow-list: refused, never reached
    run curl -sS --max-time 20 --socks5 "127.0.0.1:$QP_PORT" -o /dev/null \
        http://192.0.2.1:80/
    [ "$status" -ne 0 ]
    poll 5 log_has "$T/qp.log" "refused 192.0.2.1:80: not in allow=127.0.0.0/8;::1/128"
    run curl -sS --max-time 20 --socks5 "127.0.0.1:$QP_PORT" -o /dev/null \
        "http://127.0.0.1:$HTTP_PORT/file"
    [ "$status" -ne 0 ]
    poll 5 log_has "$T/qp.log" "refused 127.0.0.1:$HTTP_PORT: not in allow=127.0.0.0/8;::1/128 allow-port=1-80"
}

@test "SOCKS-SERVER: an open listener without allow= is a usage error" {
    run --separate-stderr qioc 'SOCKS-SERVER|TCP-LISTEN:1080,fork' DYNAMIC
    assert_status 2
    assert_one_line "$stderr"
    [[ $stderr == *"give allow= the networks its clients may reach, or bind=127.0.0.1"* ]]
    run --separate-stderr qioc TCP-LISTEN:1080 DYNAMIC
    assert_status 2
    [[ $stderr == *"needs a SOCKS-SERVER or PROXY-SERVER layer"* ]]
    run --separate-stderr qioc 'PROXY-SERVER|UNIX-LISTEN:x' TCP:127.0.0.1:1
    assert_status 2
    [[ $stderr == *"the other address must be DYNAMIC"* ]]
}

@test "qioc through qioc: every client layer against both server layers, bytes intact both ways" {
    qioc_proxy SOCKS-SERVER
    local socks=$QP_PORT
    qioc_proxy PROXY-SERVER
    local layer
    for layer in "SOCKS4:127.0.0.1:SINK" "SOCKS4A:localhost:SINK" \
        "SOCKS5:localhost:SINK"; do
        upload "$layer|TCP:127.0.0.1:$socks"
    done
    upload "PROXY:localhost:SINK|TCP:127.0.0.1:$QP_PORT"
    download "SOCKS5:127.0.0.1:SOURCE|TCP:127.0.0.1:$socks"
    download "PROXY:127.0.0.1:SOURCE|TCP:127.0.0.1:$QP_PORT"
}

@test "qioc through qioc: a refused target reads as the proxy's answer in words" {
    qioc_proxy PROXY-SERVER
    local http=$QP_PORT closed
    qioc_proxy SOCKS-SERVER
    closed=$(free_port)
    run --separate-stderr qioc - "SOCKS5:127.0.0.1:$closed|TCP:127.0.0.1:$QP_PORT" </dev/null
    assert_error 2 "SOCKS5:127.0.0.1:$closed|TCP:127.0.0.1:$QP_PORT" \
        "SOCKS5 proxy: connection refused (reply 5)"
    run --separate-stderr qioc - "SOCKS4:192.0.2.1:80|TCP:127.0.0.1:$QP_PORT" </dev/null
    assert_error 2 "SOCKS4:192.0.2.1:80|TCP:127.0.0.1:$QP_PORT" \
        "SOCKS4 proxy: request rejected or failed (code 91)"
    # the reply code itself, read by a plain python client
    run "$PYTHON3" "$PROXYPEER" socks-client 127.0.0.1 "$QP_PORT" 192.0.2.1 80
    [ "$output" = 2 ]
    run --separate-stderr qioc - "PROXY:127.0.0.1:$closed|TCP:127.0.0.1:$http" </dev/null
    assert_error 2 "PROXY:127.0.0.1:$closed|TCP:127.0.0.1:$http" \
        "HTTP proxy: HTTP/1.1 502 Bad Gateway"
    run --separate-stderr qioc - "PROXY:192.0.2.1:80|TCP:127.0.0.1:$http" </dev/null
    assert_error 2 "PROXY:192.0.2.1:80|TCP:127.0.0.1:$http" \
        "HTTP proxy: HTTP/1.1 403 Forbidden"
}

# ---------------------------------------------------------------- qioc as the client

@test "microsocks: SOCKS5 without and with a password, chain and socat spelling" {
    microsocks_start
    upload "SOCKS5:127.0.0.1:SINK|TCP:127.0.0.1:$MS_PORT"
    download "SOCKS5:127.0.0.1:$MS_PORT:127.0.0.1:SOURCE"
    download "SOCKS5-CONNECT:127.0.0.1:$MS_PORT:localhost:SOURCE"
    microsocks_start alice s3cret
    upload "SOCKS5:127.0.0.1:SINK,socksuser=alice,sockspass=s3cret|TCP:127.0.0.1:$MS_PORT"
    run --separate-stderr qioc - "SOCKS5:127.0.0.1:1,socksuser=alice,sockspass=bad|TCP:127.0.0.1:$MS_PORT" </dev/null
    assert_error 2 "SOCKS5:127.0.0.1:1,socksuser=alice,sockspass=bad|TCP:127.0.0.1:$MS_PORT" \
        "SOCKS5 proxy: wrong username or password"
    # no password offered to a proxy that wants one
    run --separate-stderr qioc - "SOCKS5:127.0.0.1:1|TCP:127.0.0.1:$MS_PORT" </dev/null
    [[ $stderr == *"SOCKS5 proxy: accepts none of the methods offered (no authentication)" ]]
}

@test "microsocks: a refused target is the proxy's reply in words" {
    microsocks_start
    local closed
    closed=$(free_port)
    run --separate-stderr qioc - "SOCKS5:127.0.0.1:$closed|TCP:127.0.0.1:$MS_PORT" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == *"SOCKS5 proxy: "*"(reply "[1-8]")" ]]
}

@test "dante-server: SOCKS4 and SOCKS5, chain and socat spelling" {
    dante_start
    upload "SOCKS4:127.0.0.1:SINK|TCP:127.0.0.1:$DANTE_PORT"
    upload "SOCKS4:127.0.0.1:127.0.0.1:SINK,socksport=$DANTE_PORT"
    download "SOCKS5:localhost:SOURCE|TCP:127.0.0.1:$DANTE_PORT"
    # SOCKS4 resolves the name itself: dante gets an address
    download "SOCKS4:localhost:SOURCE|TCP:127.0.0.1:$DANTE_PORT"
}

# tinyproxy tears a tunnel down when one side half-closes, dropping what it
# has not relayed yet: these transfers go towards the side that closes.
@test "tinyproxy: PROXY (HTTP CONNECT), chain and socat spelling, Basic auth" {
    tinyproxy_start
    download "PROXY:127.0.0.1:SOURCE|TCP:127.0.0.1:$TP_PORT"
    download "PROXY:127.0.0.1:127.0.0.1:SOURCE,proxyport=$TP_PORT"
    # resolve: qioc asks for the address, in the family pf= says
    download "PROXY:127.0.0.1:localhost:SOURCE,resolve,pf=ip4,proxyport=$TP_PORT"
    tinyproxy_start carol pw
    download "PROXY:127.0.0.1:SOURCE,proxyauth=carol:pw|TCP:127.0.0.1:$TP_PORT"
    run --separate-stderr qioc - "PROXY:127.0.0.1:1,proxyauth=carol:no|TCP:127.0.0.1:$TP_PORT" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    # the status line as tinyproxy sends it (it answers 401, not 407)
    [[ $stderr == *"HTTP proxy: HTTP/1."?" 40"[17]" "* ]]
}

@test "a proxy that sends its reply and the first data in one segment loses nothing" {
    local port
    port=$(free_port)
    bg "$PYTHON3" "$PROXYPEER" --port "$port" --ready "$T/p1" socks5-eager \
        "first bytes after the reply"
    wait_ready "$T/p1"
    run --separate-stderr qioc -U - "SOCKS5:example.org:80|TCP:127.0.0.1:$port"
    assert_status 0
    [ "$output" = "first bytes after the reply" ]
    port=$(free_port)
    bg "$PYTHON3" "$PROXYPEER" --port "$port" --ready "$T/p2" http-eager \
        "first bytes after the 200"
    wait_ready "$T/p2"
    run --separate-stderr qioc -U - "PROXY:example.org:80|TCP:127.0.0.1:$port"
    assert_status 0
    [ "$output" = "first bytes after the 200" ]
}

@test "a proxy that closes mid-handshake, or says nothing, fails with one clear line" {
    local port spec
    port=$(free_port)
    bg "$PYTHON3" "$PROXYPEER" --port "$port" --ready "$T/p1" socks5-close
    wait_ready "$T/p1"
    spec="SOCKS5:example.org:80|TCP:127.0.0.1:$port"
    run --separate-stderr qioc - "$spec" </dev/null
    assert_error 2 "$spec" \
        "the SOCKS5 proxy closed the connection during the handshake"
    port=$(free_port)
    bg "$PYTHON3" "$PROXYPEER" --port "$port" --ready "$T/p2" socks5-silent
    wait_ready "$T/p2"
    spec="SOCKS5:example.org:80|TCP:127.0.0.1:$port,connect-timeout=0.5"
    run --separate-stderr qioc - "$spec" </dev/null
    assert_error 2 "$spec" \
        "the SOCKS5 proxy did not finish the handshake within 0.5 s"
}

# ---------------------------------------------------------------- TLS in chains

# microsocks, like tinyproxy, ends a tunnel at the first half-close: the
# request goes without one, and the server (openssl s_server -www) ends.
@test "TLS through a SOCKS5 chain to openssl s_server, verified by name" {
    need openssl microsocks
    microsocks_start
    local port
    port=$(free_port)
    bg openssl s_server -www -quiet -accept "127.0.0.1:$port" \
        -cert "$CERTS/server.pem" -key "$CERTS/server-key.pem" >/dev/null 2>&1
    wait_port "$port"
    # the name verified is the SOCKS5 target's: localhost
    run --separate-stderr qioc - \
        "TLS,cafile=$CERTS/ca.pem|SOCKS5:localhost:$port|TCP:127.0.0.1:$MS_PORT" \
        < <(exec 3>&-; printf 'GET / HTTP/1.0\r\n\r\n'; sleep 5)
    assert_status 0
    [[ ${lines[0]} == "HTTP/1.0 200 ok"* ]]
    # a name the certificate does not hold is refused
    run --separate-stderr qioc - \
        "TLS:other.example,cafile=$CERTS/ca.pem|SOCKS5:localhost:$port|TCP:127.0.0.1:$MS_PORT" </dev/null
    assert_status 1
    [[ $stderr == *'the certificate is not for "other.example"'* ]]
}

@test "TLS-SERVER over UNIX-LISTEN serves gnutls-cli, with fork" {
    need gnutls-cli socat
    local port
    bg_qioc "TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|UNIX-LISTEN:$T/tls.sock,fork" \
        SYSTEM:cat
    wait_socket "$T/tls.sock"
    port=$(free_port)
    # gnutls-cli speaks TCP only: a plain bridge to the unix socket
    bg socat TCP-LISTEN:"$port",bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$T/tls.sock"
    wait_port "$port"
    local i
    for i in 1 2; do
        run timeout 10 gnutls-cli --x509cafile "$CERTS/ca.pem" -p "$port" \
            localhost < <(echo "line $i"; sleep 1)
        [[ $output == *"line $i"* ]]
    done
}

@test "TLS over UNIX-CONNECT to gnutls-serv, and a file through both TLS layers over unix" {
    need gnutls-serv socat
    local port
    port=$(free_port)
    bg gnutls-serv --echo --x509certfile "$CERTS/server.pem" \
        --x509keyfile "$CERTS/server-key.pem" -p "$port" >/dev/null 2>&1
    wait_port "$port"
    bg socat UNIX-LISTEN:"$T/plain.sock",fork TCP:127.0.0.1:"$port"
    wait_socket "$T/plain.sock"
    printf 'hello over unix\n' >"$T/in"
    run --separate-stderr qioc - \
        "TLS:localhost,cafile=$CERTS/ca.pem|UNIX-CONNECT:$T/plain.sock" \
        <"$T/in"
    assert_status 0
    [ "$output" = "hello over unix" ]
    # qioc on both ends: 1 MiB intact
    random_file "$T/big" 1M
    bg_qioc -u "TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|UNIX-LISTEN:$T/both.sock" \
        CREATE:"$T/big.out"
    local server=$BG_PID
    wait_socket "$T/both.sock"
    run --separate-stderr qioc -u - \
        "TLS:localhost,cafile=$CERTS/ca.pem|UNIX-CONNECT:$T/both.sock" <"$T/big"
    assert_status 0
    reap "$server"
    assert_same "$T/big" "$T/big.out"
}

@test "--dry-run prints every layer of a chain" {
    run --separate-stderr qioc --dry-run \
        'TLS-SERVER,cert=c.pem|UNIX-LISTEN:/run/x.sock,fork' \
        'TLS:db.example|SOCKS5:db.example:5432|TCP:proxy.example:1080'
    assert_status 0
    [[ ${lines[0]} == "address 1: TLS-SERVER,cert=c.pem,"*"|UNIX-LISTEN:/run/x.sock,fork=1,"* ]]
    [[ ${lines[1]} == "address 2: TLS:db.example,"*"|SOCKS5:db.example:5432,"*"|TCP:proxy.example:1080,"* ]]
}

# ---------------------------------------------------------------- socat

@test "compat: socat's SOCKS4 and PROXY command lines give the same bytes through dante and tinyproxy" {
    need socat
    dante_start
    tinyproxy_start
    local tool bin
    for tool in socat qioc; do
        bin=$tool
        [[ $tool == qioc ]] && bin=$QIOC
        source_peer
        timeout 20 "$bin" -U - \
            "SOCKS4:127.0.0.1:127.0.0.1:$SOURCE_PORT,socksport=$DANTE_PORT" \
            >"$T/$tool.socks4"
        assert_same "$T/sent" "$T/$tool.socks4"
        source_peer
        timeout 20 "$bin" -U - \
            "PROXY:127.0.0.1:127.0.0.1:$SOURCE_PORT,proxyport=$TP_PORT" \
            >"$T/$tool.proxy"
        assert_same "$T/sent" "$T/$tool.proxy"
    done
}
