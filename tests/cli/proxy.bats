#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# apt packages these tests need (CI installs them; a test whose peer is
# missing is skipped): microsocks dante-server tinyproxy curl gnutls-bin
# socat (python3 and openssl as for the other suites).
#
# Proxies both ways, against real peers on loopback ports:
#   - qioc as the proxy (SOCKS-SERVER, PROXY-SERVER with DYNAMIC) for
#     curl: --socks4, --socks4a, --socks5, --socks5-hostname, -x http://
#     with CONNECT, an https:// proxy, RFC 1929 and Basic credentials,
#     allow= and allow-port=, handshake-timeout=, and qioc's own clients
#     reading its refusals;
#   - qioc as the client (SOCKS4, SOCKS4A, SOCKS5, PROXY layers and
#     socat's standalone spellings) through microsocks, dante and
#     tinyproxy, with 1 MiB each way;
#   - TLS over those chains (gnutls-serv with a CA made here), TLS over
#     unix sockets, TLS-SERVER under fork;
#   - what the clients send (SOCKS4 user id, 4A names, SOCKS5 name and
#     credentials, CONNECT headers, resolve), recorded by fake proxies;
#   - failures: the proxies' refusals, a proxy that closes in the middle
#     of the handshake or says nothing, and fake proxies that send their
#     reply and the tunnel's first bytes in one segment
#     (tests/cli/proxypeer.py); usage errors and --dry-run;
#   - socat's command lines for SOCKS4 and PROXY, run by socat as well
#     when it is installed, with the same output and status.
# The peers are started by tests/cli/proxypeers.bash.

bats_require_minimum_version 1.5.0
load helpers
load proxypeers

setup_file() {
    export CERTS=$BATS_FILE_TMPDIR
    make_certs
}

setup() {
    qioc_setup
    # curl must not take a proxy from the environment.
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
        no_proxy NO_PROXY socks_proxy SOCKS_PROXY
}

# ---------------------------------------------------------------- helpers

# proxy_server LAYER [DYNAMIC-OPTIONS]: qioc -d as LAYER (SOCKS-SERVER or
# PROXY-SERVER, with its options) over a forking TCP-LISTEN on 127.0.0.1,
# to DYNAMIC; its port is $QP, its pid $QS_PID, its log $QS_LOG.
proxy_server() {
    QP=$(free_port)
    QS_LOG=$T/qs-$QP.err
    bg_qioc -d "$1|TCP-LISTEN:$QP,bind=127.0.0.1,fork,reuseaddr" \
        "DYNAMIC,connect-timeout=5${2:+,$2}" </dev/null 2>"$QS_LOG"
    QS_PID=$BG_PID
    wait_listener "$QS_PID" "$QP" "$QS_LOG"
}

# fetch CURL-ARGS...: curl, bounded, the body to $T/dl.
fetch() {
    rm -f "$T/dl"
    timeout -k 5 20 curl -sS --max-time 15 -o "$T/dl" "$@"
}

# fetched: the last fetch got the http server's f.bin intact.
fetched() {
    assert_status 0
    assert_same "$T/www/f.bin" "$T/dl"
}

# qs_log_has REGEX: qioc's -d log (the proxy server's) matches REGEX,
# case-insensitively.
qs_log_has() {
    grep -qiE -- "$1" "$QS_LOG" || {
        echo "# the qioc log does not match: $1" >&2
        sed 's/^/#   /' "$QS_LOG" >&2
        return 1
    }
}

# relay ADDRESS [QIOC-FLAGS...]: qioc FLAGS - ADDRESS, stdin $T/up,
# stdout $T/out (for `run --separate-stderr relay ...`).
relay() {
    local addr=$1
    shift
    qioc "$@" - "$addr" <"$T/up" >"$T/out"
}

# relay_held ADDRESS: the same, but stdin stays open (after $T/up) until
# all of $T/down is in $T/out, for proxies that do not half-close.
relay_held() {
    local addr=$1
    shift
    held_run "${SINK_UNTIL[@]}" "$T/up" "$T/out" "$(stat -c %s "$T/down")" \
        timeout -k 5 "${QIOC_TIMEOUT:-20}" "${DEFAULT_SIGNALS[@]}" "$QIOC" \
        "$@" - "$addr"
}

# through ADDRESS: 1 MiB each way between qioc and the sink through
# ADDRESS (held as the sink was started); qioc exits 0 and says nothing.
through() {
    if [[ -n $SINK_HELD ]]; then
        run --separate-stderr relay_held "$1"
    else
        run --separate-stderr relay "$1"
    fi
    assert_status 0
    [[ -z $stderr ]] || { echo "# stderr: $stderr" >&2; return 1; }
    sink_ok
}

# closed_port: a port nothing listens on.
closed_port() {
    free_port
}

# fake_noted LINE: the fake proxy noted LINE.
fake_noted() {
    grep -qxF -- "$1" "$T/fake.events" || {
        echo "# the fake proxy did not note: $1" >&2
        sed 's/^/#   /' "$T/fake.events" >&2
        return 1
    }
}

# quiet_relay ADDRESS: qioc - ADDRESS with nothing on stdin, for the
# failure cases (`run --separate-stderr quiet_relay ...`).
quiet_relay() {
    qioc - "$1" </dev/null
}

# ================================================================ the peers by themselves

# These check the set-ups of proxypeers.bash with curl (and qioc's plain
# TLS client) alone, so that a failure below is qioc's, not the peer's.

@test "peers: curl through microsocks, without and with a password" {
    need curl
    start_http_server
    start_microsocks
    run --separate-stderr fetch --socks5-hostname "127.0.0.1:$MS_PORT" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
    start_microsocks alice s3cret
    run --separate-stderr fetch --socks5 "127.0.0.1:$MS_PORT" \
        --proxy-user alice:s3cret "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch --socks5 "127.0.0.1:$MS_PORT" \
        --proxy-user alice:wrong "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 97
}

@test "peers: curl through dante, SOCKS4 and SOCKS5" {
    need curl
    start_http_server
    start_dante
    run --separate-stderr fetch --socks4 "127.0.0.1:$DANTE_PORT" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch --socks5 "127.0.0.1:$DANTE_PORT" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch --socks5-hostname "127.0.0.1:$DANTE_PORT" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch --socks4 "127.0.0.1:$DANTE_PORT" \
        "http://127.0.0.1:$(closed_port)/"
    assert_status 97
    assert_contains "$stderr" "91"
}

@test "peers: curl through tinyproxy with CONNECT, without and with BasicAuth" {
    need curl
    start_http_server
    start_tinyproxy -- "$HTTP_PORT"
    run --separate-stderr fetch -p -x "http://127.0.0.1:$TP_PORT" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch -p -x "http://127.0.0.1:$TP_PORT" \
        "http://127.0.0.1:$(closed_port)/"
    assert_status 56
    assert_contains "$stderr" "403"
    start_tinyproxy alice s3cret -- "$HTTP_PORT"
    run --separate-stderr fetch -p -x "http://127.0.0.1:$TP_PORT" \
        --proxy-user alice:s3cret "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch -p -x "http://127.0.0.1:$TP_PORT" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 56
    assert_contains "$stderr" "407"
}

@test "peers: the TLS sink and gnutls-serv, reached directly by qioc's TLS client" {
    start_sink --tls
    through "TLS:localhost:$SINK_PORT,cafile=$CERTS/ca.pem"
    grep -qx close_notify "$T/sink.events"
    start_gnutls_echo
    text_file "$T/up" 64K
    run --separate-stderr relay "TLS:localhost:$TLS_PORT,cafile=$CERTS/ca.pem"
    assert_status 0
    assert_same "$T/up" "$T/out"
}

# ================================================================ qioc as the proxy: curl

@test "SOCKS-SERVER: curl --socks4 fetches 1 MiB through qioc" {
    need curl
    start_http_server
    proxy_server SOCKS-SERVER
    run --separate-stderr fetch --socks4 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
}

@test "SOCKS-SERVER: curl --socks4a, the name localhost resolved by qioc" {
    need curl
    start_http_server
    proxy_server SOCKS-SERVER
    run --separate-stderr fetch --socks4a "127.0.0.1:$QP" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
}

@test "SOCKS-SERVER: curl --socks5 fetches 1 MiB through qioc" {
    need curl
    start_http_server
    proxy_server SOCKS-SERVER
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
}

@test "SOCKS-SERVER: curl --socks5-hostname localhost" {
    need curl
    start_http_server
    proxy_server SOCKS-SERVER
    run --separate-stderr fetch --socks5-hostname "127.0.0.1:$QP" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
    # -d names what the client asked for.
    qs_log_has "SOCKS5.*localhost:$HTTP_PORT"
}

@test "SOCKS-SERVER: parallel curl clients each get their own tunnel (fork)" {
    need curl
    start_http_server
    proxy_server SOCKS-SERVER
    local i pids=()
    for i in 1 2 3 4; do
        bg timeout -k 5 20 curl -sS --max-time 15 --socks5-hostname \
            "127.0.0.1:$QP" -o "$T/dl$i" "http://localhost:$HTTP_PORT/f.bin"
        pids+=("$BG_PID")
    done
    for i in 1 2 3 4; do
        reap "${pids[i - 1]}"
        [[ $BG_STATUS == 0 ]]
        assert_same "$T/www/f.bin" "$T/dl$i"
    done
    still_running "$QS_PID"
}

@test "PROXY-SERVER: curl -x http:// --proxytunnel fetches 1 MiB with CONNECT" {
    need curl
    start_http_server
    proxy_server PROXY-SERVER
    run --separate-stderr fetch --proxytunnel -x "http://127.0.0.1:$QP" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
}

@test "PROXY-SERVER: curl https:// through it verifies gnutls-serv" {
    need curl
    start_gnutls_http
    proxy_server PROXY-SERVER
    run --separate-stderr timeout -k 5 20 curl -sS --max-time 15 \
        --cacert "$CERTS/ca.pem" -x "http://127.0.0.1:$QP" \
        "https://localhost:$TLS_PORT/"
    assert_status 0
    assert_contains "$output" "GnuTLS"
}

@test "PROXY-SERVER: a plain GET (no CONNECT) is answered 405" {
    need curl
    start_http_server
    proxy_server PROXY-SERVER
    run --separate-stderr timeout -k 5 20 curl -s --max-time 15 -o /dev/null \
        -w '%{http_code}' -x "http://127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    [[ $output == 405 ]] || { echo "# curl: $output $stderr" >&2; return 1; }
    still_running "$QS_PID"
}

@test "SOCKS-SERVER handshake-timeout=: a client that says nothing is cut off and logged" {
    proxy_server "SOCKS-SERVER,handshake-timeout=0.5"
    # The peer notes "eof" when qioc closes, "no-eof" after 5 s of silence:
    # "eof" is the cut (no clock asserted: the machine may be busy).
    peer --connect --port "$QP" --events "$T/silent.events" probe --window 5
    grep -qx eof "$T/silent.events"
    qs_log_has "handshake"
    still_running "$QS_PID"
}

@test "SOCKS-SERVER socksuser=,sockspass=: curl with the password gets through" {
    need curl
    start_http_server
    proxy_server "SOCKS-SERVER,socksuser=alice,sockspass=s3cret"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        --proxy-user alice:s3cret "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch \
        -x "socks5h://alice:s3cret@127.0.0.1:$QP" \
        "http://localhost:$HTTP_PORT/f.bin"
    fetched
}

@test "SOCKS-SERVER socksuser=,sockspass=: a wrong password is rejected and logged" {
    need curl
    start_http_server
    proxy_server "SOCKS-SERVER,socksuser=alice,sockspass=s3cret"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        --proxy-user alice:wrong "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 97
    assert_contains "$stderr" "rejected"
    [[ ! -s $T/dl ]]
    qs_log_has 'password|auth'
    still_running "$QS_PID"
}

@test "SOCKS-SERVER socksuser=,sockspass=: curl without credentials is turned away" {
    need curl
    start_http_server
    proxy_server "SOCKS-SERVER,socksuser=alice,sockspass=s3cret"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 97
    [[ ! -s $T/dl ]]
    # SOCKS4 has no password: it cannot get in either.
    run --separate-stderr fetch --socks4 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 97
    [[ ! -s $T/dl ]]
}

@test "PROXY-SERVER proxyauth=: Basic credentials get through, none or wrong get 407" {
    need curl
    start_http_server
    proxy_server "PROXY-SERVER,proxyauth=alice:s3cret"
    run --separate-stderr fetch -p -x "http://127.0.0.1:$QP" \
        --proxy-user alice:s3cret "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch -p -x "http://127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 56
    assert_contains "$stderr" "407"
    [[ ! -s $T/dl ]]
    run --separate-stderr fetch -p -x "http://127.0.0.1:$QP" \
        --proxy-user alice:wrong "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 56
    assert_contains "$stderr" "407"
    still_running "$QS_PID"
}

# ================================================================ allow= and allow-port=

# 192.0.2.1 is TEST-NET-1: never routed.  The refusal comes before any
# connect (and connect-timeout=5 bounds one that would wrongly be tried).

@test "SOCKS-SERVER: a target outside the default allow= is refused (SOCKS5 reply 2) and logged" {
    need curl
    proxy_server SOCKS-SERVER
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" "http://192.0.2.1:80/"
    assert_status 97
    assert_contains "$stderr" "(2)"
    qs_log_has '192\.0\.2\.1.*(refused|not allowed)|(refused|not allowed).*192\.0\.2\.1'
    still_running "$QS_PID"
}

@test "SOCKS-SERVER: SOCKS4 to a target outside allow= gets 91" {
    need curl
    proxy_server SOCKS-SERVER
    run --separate-stderr fetch --socks4 "127.0.0.1:$QP" "http://192.0.2.1:80/"
    assert_status 97
    assert_contains "$stderr" "91"
    qs_log_has '192\.0\.2\.1'
}

@test "PROXY-SERVER: CONNECT to a target outside allow= gets 403 and is logged" {
    need curl
    proxy_server PROXY-SERVER
    run --separate-stderr fetch -p -x "http://127.0.0.1:$QP" "http://192.0.2.1:80/"
    assert_status 56
    assert_contains "$stderr" "403"
    qs_log_has '192\.0\.2\.1.*(refused|not allowed)|(refused|not allowed).*192\.0\.2\.1'
}

@test "SOCKS-SERVER allow=: a list of networks and hosts, separated by ;" {
    need curl
    start_http_server
    proxy_server "SOCKS-SERVER,allow=127.0.0.2/32"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    assert_status 97
    assert_contains "$stderr" "(2)"
    proxy_server "SOCKS-SERVER,allow=192.0.2.0/24;127.0.0.1"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
}

@test "SOCKS-SERVER allow=: a host name stands for its addresses; one that does not resolve is one line" {
    need curl
    start_http_server
    proxy_server "SOCKS-SERVER,allow=localhost"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr qioc \
        "SOCKS-SERVER,allow=no-such-host.invalid|TCP-LISTEN:$(free_port),bind=127.0.0.1" \
        DYNAMIC </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "allow=no-such-host.invalid: "
}

@test "SOCKS-SERVER allow-port=: only the listed ports and ranges" {
    need curl
    start_http_server
    local other
    other=$(closed_port)
    proxy_server "SOCKS-SERVER,allow-port=1-1023;$HTTP_PORT"
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    # Nothing listens on $other: the answer is "not allowed" (2), not
    # "connection refused" (5), so qioc did not try.
    run --separate-stderr fetch --socks5 "127.0.0.1:$QP" \
        "http://127.0.0.1:$other/"
    assert_status 97
    assert_contains "$stderr" "(2)"
    qs_log_has "$other"
}

@test "PROXY-SERVER allow-port=: another port gets 403" {
    need curl
    start_http_server
    proxy_server "PROXY-SERVER,allow-port=$HTTP_PORT"
    run --separate-stderr fetch -p -x "http://127.0.0.1:$QP" \
        "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
    run --separate-stderr fetch -p -x "http://127.0.0.1:$QP" \
        "http://127.0.0.1:$(closed_port)/"
    assert_status 56
    assert_contains "$stderr" "403"
}

@test "qioc's clients read qioc's refusals in words: SOCKS5 2 and 5, SOCKS4 91, HTTP 403 and 502" {
    proxy_server SOCKS-SERVER
    local socks=$QP closed addr
    proxy_server PROXY-SERVER
    closed=$(closed_port)
    addr="SOCKS5:127.0.0.1:$closed|TCP:127.0.0.1:$socks"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS5 proxy: connection refused (reply 5)"
    addr="SOCKS5:192.0.2.1:80|TCP:127.0.0.1:$socks"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS5 proxy: connection not allowed by ruleset (reply 2)"
    addr="SOCKS4:192.0.2.1:80|TCP:127.0.0.1:$socks"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS4 proxy: request rejected or failed (code 91)"
    addr="PROXY:127.0.0.1:$closed|TCP:127.0.0.1:$QP"
    run --separate-stderr quiet_relay "$addr"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr =~ ": HTTP proxy: HTTP/1."[01]" 502 " ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
    addr="PROXY:192.0.2.1:80|TCP:127.0.0.1:$QP"
    run --separate-stderr quiet_relay "$addr"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr =~ ": HTTP proxy: HTTP/1."[01]" 403 " ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
}

# ================================================================ qioc as the client: real proxies

@test "SOCKS5 layer through microsocks: 1 MiB each way" {
    start_microsocks
    start_sink --held
    through "SOCKS5:127.0.0.1:$SINK_PORT|TCP:127.0.0.1:$MS_PORT"
}

@test "SOCKS5 layer through microsocks with socksuser=,sockspass=" {
    start_microsocks alice s3cret
    start_sink --held
    through "SOCKS5:127.0.0.1:$SINK_PORT,socksuser=alice,sockspass=s3cret|TCP:127.0.0.1:$MS_PORT"
}

@test "SOCKS5 standalone (socat's spelling) through microsocks with a password" {
    start_microsocks alice s3cret
    start_sink --held
    through "SOCKS5:127.0.0.1:$MS_PORT:127.0.0.1:$SINK_PORT,socksuser=alice,sockspass=s3cret"
}

@test "SOCKS5-CONNECT standalone through microsocks" {
    start_microsocks
    start_sink --held
    through "SOCKS5-CONNECT:127.0.0.1:$MS_PORT:127.0.0.1:$SINK_PORT"
}

@test "SOCKS4 layer through dante, an address and a name qioc resolves" {
    start_dante
    start_sink
    through "SOCKS4:127.0.0.1:$SINK_PORT|TCP:127.0.0.1:$DANTE_PORT"
    start_sink
    through "SOCKS4:localhost:$SINK_PORT|TCP:127.0.0.1:$DANTE_PORT"
}

@test "SOCKS4 standalone through dante: socksport=" {
    start_dante
    start_sink
    through "SOCKS4:127.0.0.1:localhost:$SINK_PORT,socksport=$DANTE_PORT"
}

@test "SOCKS4A layer through dante with an address (dante 1.4 resolves no 4A names)" {
    start_dante
    start_sink
    through "SOCKS4A:127.0.0.1:$SINK_PORT|TCP:127.0.0.1:$DANTE_PORT"
    start_sink
    through "SOCKS4A:127.0.0.1:127.0.0.1:$SINK_PORT,socksport=$DANTE_PORT"
}

@test "SOCKS5 layer through dante, the name resolved by dante" {
    start_dante
    start_sink
    through "SOCKS5:localhost:$SINK_PORT|TCP:127.0.0.1:$DANTE_PORT"
}

@test "SOCKS5 standalone through dante" {
    start_dante
    start_sink
    through "SOCKS5:127.0.0.1:$DANTE_PORT:127.0.0.1:$SINK_PORT"
}

@test "PROXY layer through tinyproxy: 1 MiB each way" {
    start_sink --held
    start_tinyproxy -- "$SINK_PORT"
    through "PROXY:localhost:$SINK_PORT|TCP:127.0.0.1:$TP_PORT"
}

@test "PROXY standalone through tinyproxy: proxyport=" {
    start_sink --held
    start_tinyproxy -- "$SINK_PORT"
    through "PROXY:127.0.0.1:127.0.0.1:$SINK_PORT,proxyport=$TP_PORT"
}

@test "PROXY through tinyproxy with BasicAuth: proxyauth=" {
    start_sink --held
    start_tinyproxy alice s3cret -- "$SINK_PORT"
    through "PROXY:127.0.0.1:$SINK_PORT,proxyauth=alice:s3cret|TCP:127.0.0.1:$TP_PORT"
    start_sink --held
    start_tinyproxy alice s3cret -- "$SINK_PORT"
    through "PROXY:127.0.0.1:127.0.0.1:$SINK_PORT,proxyport=$TP_PORT,proxyauth=alice:s3cret"
}

@test "PROXY,resolve through tinyproxy: qioc asks for the address, in pf='s family" {
    start_sink --held
    start_tinyproxy -- "$SINK_PORT"
    through "PROXY:127.0.0.1:localhost:$SINK_PORT,resolve,pf=ip4,proxyport=$TP_PORT"
    grep -q "CONNECT 127.0.0.1:$SINK_PORT " "$T/tinyproxy.log"
}

@test "qioc to qioc: every client layer through the server layer it speaks, 1 MiB each way" {
    proxy_server SOCKS-SERVER
    local socks=$QP layer
    proxy_server PROXY-SERVER
    for layer in "SOCKS4:127.0.0.1:%s|TCP:127.0.0.1:$socks" \
        "SOCKS4A:localhost:%s|TCP:127.0.0.1:$socks" \
        "SOCKS5:127.0.0.1:%s|TCP:127.0.0.1:$socks" \
        "SOCKS5:localhost:%s|TCP:127.0.0.1:$socks" \
        "PROXY:localhost:%s|TCP:127.0.0.1:$QP"; do
        start_sink
        # shellcheck disable=SC2059
        through "$(printf "$layer" "$SINK_PORT")"
    done
}

@test "qioc to qioc: SOCKS4A names and SOCKS5 passwords through SOCKS-SERVER" {
    proxy_server SOCKS-SERVER
    start_sink
    through "SOCKS4A:localhost:$SINK_PORT|TCP:127.0.0.1:$QP"
    proxy_server "SOCKS-SERVER,socksuser=alice,sockspass=s3cret"
    start_sink
    through "SOCKS5:localhost:$SINK_PORT,socksuser=alice,sockspass=s3cret|TCP:127.0.0.1:$QP"
}

@test "qioc to qioc: PROXY with proxyauth= through PROXY-SERVER" {
    proxy_server "PROXY-SERVER,proxyauth=alice:s3cret"
    start_sink
    through "PROXY:localhost:$SINK_PORT,proxyauth=alice:s3cret|TCP:127.0.0.1:$QP"
}

# ================================================================ what the client sends

@test "SOCKS4 sends the address qioc resolved and socksuser=; SOCKS4A sends the name" {
    start_fake early-data --proto socks4
    run --separate-stderr quiet_relay "SOCKS4:localhost:4242,socksuser=alice|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "socks4 127.0.0.1 4242 alice"
    start_fake early-data --proto socks4
    run --separate-stderr quiet_relay "SOCKS4A:localhost:4242,socksuser=bob|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "socks4a localhost 4242 bob"
}

@test "SOCKS4 without socksuser= sends LOGNAME (else USER), as socat does" {
    start_fake early-data --proto socks4
    LOGNAME=carol USER=dave run --separate-stderr quiet_relay \
        "SOCKS4:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "socks4 127.0.0.1 4242 carol"
    start_fake early-data --proto socks4
    run --separate-stderr env -u LOGNAME USER=dave "$QIOC" - \
        "SOCKS4:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT" </dev/null
    assert_status 0
    fake_noted "socks4 127.0.0.1 4242 dave"
}

@test "SOCKS5 sends a name for the proxy to resolve, and RFC 1929 credentials" {
    start_fake early-data --proto socks5 --auth
    run --separate-stderr quiet_relay "SOCKS5:localhost:4242,socksuser=alice,sockspass=s3cret|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "socks5-auth alice s3cret"
    fake_noted "socks5 name localhost 4242"
    start_fake early-data --proto socks5
    run --separate-stderr quiet_relay "SOCKS5:[::1]:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "socks5 ipv6 ::1 4242"
}

@test "PROXY sends CONNECT with Host: and Basic Proxy-Authorization:" {
    start_fake early-data --proto http
    run --separate-stderr quiet_relay "PROXY:localhost:4242,proxyauth=alice:s3cret|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "http CONNECT localhost:4242 HTTP/1.1"
    grep -qiE '^http Host: localhost:4242$' "$T/fake.events"
    # base64("alice:s3cret")
    grep -qiE '^http Proxy-Authorization: Basic YWxpY2U6czNjcmV0$' \
        "$T/fake.events"
    # With resolve, the (IPv4 by default) address instead of the name.
    start_fake early-data --proto http
    run --separate-stderr quiet_relay "PROXY:localhost:4242,resolve|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    fake_noted "http CONNECT 127.0.0.1:4242 HTTP/1.1"
}

# ================================================================ a reply and data in one segment

@test "SOCKS5: the bytes that come with the proxy's reply reach stdout" {
    start_fake early-data --proto socks5 --data "hello after the reply"
    run --separate-stderr quiet_relay "SOCKS5:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    [[ $output == "hello after the reply" ]]
    fake_noted "socks5 ipv4 127.0.0.1 4242"
}

@test "SOCKS4: the bytes that come with the proxy's reply reach stdout" {
    start_fake early-data --proto socks4 --data "hello after the reply"
    run --separate-stderr quiet_relay "SOCKS4:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    [[ $output == "hello after the reply" ]]
}

@test "PROXY: 'HTTP/1.1 200 OK' and data in one segment: the data reaches stdout" {
    start_fake early-data --proto http --data "hello after the reply"
    run --separate-stderr quiet_relay "PROXY:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 0
    [[ $output == "hello after the reply" ]]
    fake_noted "http CONNECT 127.0.0.1:4242 HTTP/1.1"
}

# ================================================================ TLS over proxies

@test "TLS over SOCKS5 through dante: gnutls-serv verified with cafile=, lines echoed" {
    start_gnutls_echo
    start_dante
    text_file "$T/up" 256K
    run --separate-stderr relay "TLS:localhost,cafile=$CERTS/ca.pem|SOCKS5:localhost:$TLS_PORT|TCP:127.0.0.1:$DANTE_PORT"
    assert_status 0
    [[ -z $stderr ]] || { echo "# stderr: $stderr" >&2; return 1; }
    assert_same "$T/up" "$T/out"
}

@test "TLS without a name verifies the SOCKS5 target's host" {
    start_gnutls_echo
    start_dante
    text_file "$T/up" 16K
    run --separate-stderr relay "TLS,cafile=$CERTS/ca.pem|SOCKS5:localhost:$TLS_PORT|TCP:127.0.0.1:$DANTE_PORT"
    assert_status 0
    assert_same "$T/up" "$T/out"
}

@test "TLS over SOCKS5 through microsocks: 1 MiB each way, the server closes first" {
    start_microsocks
    start_sink --held --tls
    through "TLS:localhost,cafile=$CERTS/ca.pem|SOCKS5:localhost:$SINK_PORT|TCP:127.0.0.1:$MS_PORT"
    grep -qx "close_notify sent" "$T/sink.events"
}

@test "TLS with a name the certificate does not have fails through the proxy" {
    start_gnutls_echo
    start_microsocks
    text_file "$T/up" 1K
    run --separate-stderr relay "TLS:qioc-test.example,cafile=$CERTS/ca.pem|SOCKS5:localhost:$TLS_PORT|TCP:127.0.0.1:$MS_PORT"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc-test.example"
    assert_empty "$T/out"
}

@test "TLS over PROXY through tinyproxy: 1 MiB each way" {
    start_sink --held --tls
    start_tinyproxy -- "$SINK_PORT"
    through "TLS,cafile=$CERTS/ca.pem|PROXY:localhost:$SINK_PORT|TCP:127.0.0.1:$TP_PORT"
}

@test "TLS over SOCKS4 through dante: 1 MiB each way, the name from SOCKS4's address" {
    start_dante
    start_sink --tls
    through "TLS,cafile=$CERTS/ca.pem|SOCKS4:127.0.0.1:$SINK_PORT|TCP:127.0.0.1:$DANTE_PORT"
}

# ================================================================ TLS over unix sockets

# unix_bridge TCP-PORT PATH: a plain bridge (fork) from 127.0.0.1:PORT to
# the unix socket PATH (socat, or qioc when socat is missing).
unix_bridge() {
    if command -v socat >/dev/null; then
        bg socat "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$2"
    else
        bg_qioc "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$2"
    fi
    wait_listener "$BG_PID" "$1"
}

@test "TLS-SERVER over UNIX-LISTEN,fork: gnutls-cli verifies it, twice (through a plain bridge)" {
    need gnutls-cli
    need_certs
    bg_qioc "TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|UNIX-LISTEN:$T/s.sock,fork" \
        EXEC:cat 2>"$T/srv.err"
    local spid=$BG_PID
    wait_listener_unix "$spid" "$T/s.sock" "$T/srv.err"
    local bp i
    bp=$(free_port)
    unix_bridge "$bp" "$T/s.sock"
    for i in 1 2; do
        run timeout -k 5 20 gnutls-cli --x509cafile "$CERTS/ca.pem" -p "$bp" \
            localhost <<<"client $i through TLS over a unix socket"
        assert_status 0
        assert_contains "$output" "client $i through TLS over a unix socket"
    done
    still_running "$spid"
}

@test "TLS over UNIX-CONNECT to gnutls-serv behind a plain bridge" {
    need socat
    start_gnutls_echo
    bg socat "UNIX-LISTEN:$T/g.sock,fork" "TCP:127.0.0.1:$TLS_PORT"
    wait_listener_unix "$BG_PID" "$T/g.sock"
    text_file "$T/up" 256K
    run --separate-stderr relay "TLS:localhost,cafile=$CERTS/ca.pem|UNIX-CONNECT:$T/g.sock"
    assert_status 0
    assert_same "$T/up" "$T/out"
}

@test "TLS-SERVER over UNIX-LISTEN and TLS over UNIX-CONNECT: qioc both ends, 1 MiB each way" {
    need_certs
    random_file "$T/up" 1M
    random_file "$T/down" 1M
    bg_qioc "TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|UNIX-LISTEN:$T/q.sock" \
        - <"$T/down" >"$T/got" 2>"$T/srv.err"
    local spid=$BG_PID
    wait_listener_unix "$spid" "$T/q.sock" "$T/srv.err"
    run --separate-stderr relay "TLS:localhost,cafile=$CERTS/ca.pem|UNIX-CONNECT:$T/q.sock"
    assert_status 0
    reap "$spid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/srv.err" >&2; return 1; }
    assert_same "$T/up" "$T/got"
    assert_same "$T/down" "$T/out"
}

# ================================================================ fork

@test "TLS-SERVER under a fork listener: each client gets its own handshake" {
    need_certs
    local P
    P=$(free_port)
    bg_qioc "TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|TCP-LISTEN:$P,bind=127.0.0.1,fork,reuseaddr" \
        EXEC:cat </dev/null 2>"$T/srv.err"
    local spid=$BG_PID
    wait_listener "$spid" "$P" "$T/srv.err"
    local i pids=()
    # Sequential clients...
    for i in 1 2; do
        random_file "$T/in$i" 256K
        qioc - "TLS:localhost,cafile=$CERTS/ca.pem|TCP:127.0.0.1:$P" \
            <"$T/in$i" >"$T/out$i"
        assert_same "$T/in$i" "$T/out$i"
    done
    # ...then parallel ones.
    for i in 3 4 5 6; do
        random_file "$T/in$i" 256K
        bg_qioc - "TLS:localhost,cafile=$CERTS/ca.pem|TCP:127.0.0.1:$P" \
            <"$T/in$i" >"$T/out$i"
        pids+=("$BG_PID")
    done
    for i in 3 4 5 6; do
        reap "${pids[i - 3]}"
        [[ $BG_STATUS == 0 ]]
        assert_same "$T/in$i" "$T/out$i"
    done
    if command -v gnutls-cli >/dev/null; then
        run timeout -k 5 20 gnutls-cli --x509cafile "$CERTS/ca.pem" -p "$P" \
            localhost <<<"and gnutls-cli"
        assert_status 0
        assert_contains "$output" "and gnutls-cli"
    fi
    still_running "$spid"
}

@test "SOCKS-SERVER over TLS-SERVER: a SOCKS5 client inside TLS" {
    need_certs
    local P
    P=$(free_port)
    bg_qioc -d "SOCKS-SERVER|TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|TCP-LISTEN:$P,bind=127.0.0.1,fork,reuseaddr" \
        DYNAMIC </dev/null 2>"$T/qs.err"
    wait_listener "$BG_PID" "$P" "$T/qs.err"
    start_sink
    through "SOCKS5:127.0.0.1:$SINK_PORT|TLS:localhost,cafile=$CERTS/ca.pem|TCP:127.0.0.1:$P"
}

@test "PROXY-SERVER over TLS-SERVER: curl's https:// proxy" {
    need curl
    curl -V | grep -qw HTTPS-proxy || skip "this curl has no HTTPS proxy support"
    need_certs
    start_http_server
    local P
    P=$(free_port)
    bg_qioc "PROXY-SERVER|TLS-SERVER,cert=$CERTS/server.pem,key=$CERTS/server-key.pem|TCP-LISTEN:$P,bind=127.0.0.1,fork,reuseaddr" \
        DYNAMIC </dev/null 2>"$T/qs.err"
    wait_listener "$BG_PID" "$P" "$T/qs.err"
    run --separate-stderr fetch -p --proxy-cacert "$CERTS/ca.pem" \
        -x "https://localhost:$P" "http://127.0.0.1:$HTTP_PORT/f.bin"
    fetched
}

# ================================================================ failures

@test "SOCKS5 through microsocks to a closed port: one line, connection refused" {
    start_microsocks
    local addr
    addr="SOCKS5:127.0.0.1:$(closed_port)|TCP:127.0.0.1:$MS_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS5 proxy: connection refused (reply 5)"
    [[ -z $output ]]
}

@test "SOCKS5 through microsocks with a wrong password: one line" {
    start_microsocks alice s3cret
    local addr
    addr="SOCKS5:127.0.0.1:4242,socksuser=alice,sockspass=wrong|TCP:127.0.0.1:$MS_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS5 proxy: wrong username or password"
}

@test "SOCKS5 without credentials to microsocks that wants them: one line" {
    start_microsocks alice s3cret
    run --separate-stderr quiet_relay "SOCKS5:127.0.0.1:4242|TCP:127.0.0.1:$MS_PORT"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "SOCKS5 proxy: "
}

@test "SOCKS4 through dante to a closed port: request rejected (code 91)" {
    start_dante
    local addr
    addr="SOCKS4:127.0.0.1:$(closed_port)|TCP:127.0.0.1:$DANTE_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS4 proxy: request rejected or failed (code 91)"
}

@test "SOCKS5 through dante to a closed port: connection refused (reply 5)" {
    start_dante
    local addr
    addr="SOCKS5:127.0.0.1:$(closed_port)|TCP:127.0.0.1:$DANTE_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "SOCKS5 proxy: connection refused (reply 5)"
}

@test "PROXY through tinyproxy: a port it does not allow, 403 quoted" {
    local allowed
    allowed=$(closed_port)
    start_tinyproxy -- "$allowed"
    local addr="PROXY:127.0.0.1:4242|TCP:127.0.0.1:$TP_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "HTTP proxy: HTTP/1.1 403 Access violation"
    # An allowed port nobody listens on: tinyproxy's 500.
    addr="PROXY:127.0.0.1:127.0.0.1:$allowed,proxyport=$TP_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "HTTP proxy: HTTP/1.1 500 Unable to connect"
}

@test "PROXY through tinyproxy without or with wrong credentials: its status quoted" {
    start_sink
    start_tinyproxy alice s3cret -- "$SINK_PORT"
    local addr="PROXY:127.0.0.1:$SINK_PORT|TCP:127.0.0.1:$TP_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_error 2 "$addr" "HTTP proxy: HTTP/1.0 407 Proxy Authentication Required"
    # tinyproxy 1.11 answers a wrong password with 401, not 407.
    addr="PROXY:127.0.0.1:$SINK_PORT,proxyauth=alice:wrong|TCP:127.0.0.1:$TP_PORT"
    run --separate-stderr quiet_relay "$addr"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr =~ ^"qioc: address 2 ($addr): HTTP proxy: HTTP/1."[01]" 40"[17]" " ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
}

@test "a SOCKS5 proxy that closes during the handshake: exit 1, one line" {
    start_fake close-after-greeting
    run --separate-stderr quiet_relay "SOCKS5:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 ("
    assert_contains "$stderr" "closed"
    [[ -z $output ]]
}

@test "an HTTP proxy that closes during the handshake: exit 1, one line" {
    start_fake close-after-greeting
    run --separate-stderr quiet_relay "PROXY:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 ("
    assert_contains "$stderr" "closed"
}

@test "a proxy that says nothing: connect-timeout= bounds the handshake, one line" {
    start_fake silent
    local addr="SOCKS5:127.0.0.1:4242|TCP:127.0.0.1:$FAKE_PORT,connect-timeout=0.5"
    # Without the bound qioc would wait until the harness kills it (124).
    run --separate-stderr quiet_relay "$addr"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 ("
    assert_contains "$stderr" "0.5 s"
}

@test "a proxy nobody listens on: exit 1, one line" {
    run --separate-stderr quiet_relay "SOCKS5:127.0.0.1:4242|TCP:127.0.0.1:$(closed_port)"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 ("
}

# ================================================================ usage

@test "a layer without its port, or over a datagram transport, is a usage error" {
    run --separate-stderr qioc --dry-run - "SOCKS5:localhost|TCP:127.0.0.1:1080"
    assert_status 2
    assert_one_line "$stderr"
    [[ -z $output ]]
    run --separate-stderr qioc --dry-run - "SOCKS5:localhost:80|UDP:127.0.0.1:1080"
    assert_status 2
    assert_one_line "$stderr"
    run --separate-stderr qioc --dry-run \
        "SOCKS-SERVER,allow=10.0.0.0/99|TCP-LISTEN:1080,bind=127.0.0.1" DYNAMIC
    assert_status 2
    assert_one_line "$stderr"
}

@test "usage errors: an open SOCKS-SERVER, DYNAMIC and the server layers apart, sockspass= misused, DYNAMIC,retry" {
    local cmd
    for cmd in "SOCKS-SERVER|TCP-LISTEN:1080,fork DYNAMIC" \
        "TCP-LISTEN:1080,bind=127.0.0.1 DYNAMIC" \
        "PROXY-SERVER|UNIX-LISTEN:$T/x.sock TCP:127.0.0.1:1" \
        "- SOCKS5:localhost:1,sockspass=x|TCP:127.0.0.1:1080" \
        "- SOCKS4:localhost:1,socksuser=a,sockspass=x|TCP:127.0.0.1:1080" \
        "SOCKS-SERVER|TCP-LISTEN:1080,bind=127.0.0.1 DYNAMIC,retry=3"; do
        # shellcheck disable=SC2086 # each is two addresses
        run --separate-stderr qioc --dry-run $cmd
        assert_status 2
        assert_one_line "$stderr"
        [[ -z $output ]]
    done
}

@test "--dry-run describes each layer of a chain, joined by |" {
    run --separate-stderr qioc --dry-run - \
        "TLS:localhost,cafile=$CERTS/ca.pem|SOCKS5:localhost:1234|TCP:127.0.0.1:1080"
    assert_status 0
    [[ ${lines[1]} =~ ^address\ 2:\ TLS:localhost,[^|]*cafile=[^|]*\|SOCKS5:localhost:1234(,[^|]*)?\|TCP:127\.0\.0\.1:1080(,.*)?$ ]] || {
        echo "# ${lines[1]}" >&2
        return 1
    }
    run --separate-stderr qioc --dry-run \
        "SOCKS-SERVER,allow=10.0.0.0/8|TLS-SERVER,cert=c.pem,key=k.pem|UNIX-LISTEN:$T/x.sock,fork" \
        DYNAMIC
    assert_status 0
    [[ ${lines[0]} =~ ^address\ 1:\ SOCKS-SERVER,[^|]*allow=10\.0\.0\.0/8[^|]*\|TLS-SERVER,[^|]*cert=c\.pem[^|]*\|UNIX-LISTEN:[^|]*x\.sock,.*$ ]] || {
        echo "# ${lines[0]}" >&2
        return 1
    }
    [[ ${lines[1]} == "address 2: DYNAMIC"* ]]
}

# ================================================================ socat's command lines

# Each case runs one command line twice: with qioc, then with socat when
# it is installed; stdout and the exit status must be the same.

# same_as_socat [--held BYTES] ARGS...: qioc ARGS and socat ARGS, stdin
# from $T/cmp.in (empty when missing).  The qioc run's stdout, stderr and
# status are in $T/qioc.out, $stderr and $status.  --held keeps stdin
# open until BYTES have come out, for tinyproxy, which ends both
# directions when one ends.
same_as_socat() {
    local held=
    if [[ $1 == --held ]]; then
        held=$2
        shift 2
    fi
    [[ -e $T/cmp.in ]] || : >"$T/cmp.in"
    status=0
    run_relay qioc "$held" "$@" || status=$?
    stderr=$(cat "$T/qioc.err")
    command -v socat >/dev/null || return 0
    local st=0
    run_relay socat "$held" "$@" || st=$?
    if ! cmp -s "$T/qioc.out" "$T/socat.out" || [[ $st != "$status" ]]; then
        echo "# qioc and socat differ for: $*" >&2
        echo "# qioc: exit $status, $(stat -c %s "$T/qioc.out") bytes: $stderr" >&2
        echo "# socat: exit $st, $(stat -c %s "$T/socat.out") bytes: $(cat "$T/socat.err")" >&2
        return 1
    fi
}

# run_relay qioc|socat HELD ARGS...: one run for same_as_socat.
run_relay() {
    local name=$1 held=$2 cmd
    shift 2
    if [[ $name == qioc ]]; then
        cmd=("$QIOC")
    else
        cmd=(socat)
    fi
    rm -f "$T/$name.out"
    if [[ -n $held ]]; then
        held_run "$T/cmp.in" "$T/$name.out" "$held" \
            timeout -k 5 20 "${DEFAULT_SIGNALS[@]}" "${cmd[@]}" "$@" \
            2>"$T/$name.err"
    else
        timeout -k 5 20 "${DEFAULT_SIGNALS[@]}" "${cmd[@]}" "$@" \
            <"$T/cmp.in" >"$T/$name.out" 2>"$T/$name.err"
    fi
}

@test "compat: socat - SOCKS4:...,socksport= through dante" {
    start_dante
    random_file "$T/file" 1M
    start_serve_file "$T/file"
    same_as_socat -t 5 - "SOCKS4:127.0.0.1:127.0.0.1:$FILE_PORT,socksport=$DANTE_PORT"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
    same_as_socat -t 5 - "SOCKS4:127.0.0.1:localhost:$FILE_PORT,socksport=$DANTE_PORT"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
}

@test "compat: socat - SOCKS4: to a closed port through dante fails the same" {
    start_dante
    same_as_socat - "SOCKS4:127.0.0.1:127.0.0.1:$(closed_port),socksport=$DANTE_PORT"
    assert_status 1
    assert_one_line "$stderr"
}

@test "compat: socat - PROXY:...,proxyport= through tinyproxy" {
    random_file "$T/file" 1M
    start_serve_file "$T/file"
    start_tinyproxy -- "$FILE_PORT"
    same_as_socat --held 1048576 - "PROXY:127.0.0.1:127.0.0.1:$FILE_PORT,proxyport=$TP_PORT"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
}

@test "compat: socat - PROXY:...,proxyauth= through tinyproxy with BasicAuth" {
    random_file "$T/file" 256K
    start_serve_file "$T/file"
    start_tinyproxy alice s3cret -- "$FILE_PORT"
    same_as_socat --held 262144 - "PROXY:127.0.0.1:127.0.0.1:$FILE_PORT,proxyport=$TP_PORT,proxyauth=alice:s3cret"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
    same_as_socat -t 5 - "PROXY:127.0.0.1:127.0.0.1:$FILE_PORT,proxyport=$TP_PORT,proxyauth=alice:wrong"
    assert_status 1
}

@test "compat: socat - PROXY: to a port tinyproxy forbids fails the same" {
    start_tinyproxy -- "$(closed_port)"
    same_as_socat - "PROXY:127.0.0.1:127.0.0.1:4242,proxyport=$TP_PORT"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "403"
}

@test "compat: socat's SOCKS4 and SOCKS4A clients through qioc's SOCKS-SERVER" {
    random_file "$T/file" 1M
    start_serve_file "$T/file"
    proxy_server SOCKS-SERVER
    same_as_socat -t 5 - "SOCKS4:127.0.0.1:127.0.0.1:$FILE_PORT,socksport=$QP"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
    same_as_socat -t 5 - "SOCKS4A:127.0.0.1:localhost:$FILE_PORT,socksport=$QP"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
}

@test "compat: socat's PROXY client through qioc's PROXY-SERVER" {
    random_file "$T/file" 1M
    start_serve_file "$T/file"
    proxy_server "PROXY-SERVER,proxyauth=alice:s3cret"
    same_as_socat -t 5 - "PROXY:127.0.0.1:localhost:$FILE_PORT,proxyport=$QP,proxyauth=alice:s3cret"
    assert_status 0
    assert_same "$T/file" "$T/qioc.out"
}
