# shellcheck shell=bash disable=SC2034,SC2154
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Real proxies and targets for tests/cli/proxy.bats, each started in the
# background on a free loopback port (killed in teardown like every bg
# process) and polled for until it listens.  Their logs are in $T.
#
#   start_microsocks [USER PASS]   SOCKS5 (RFC 1929 with USER PASS): $MS_PORT
#   start_dante                    dante: SOCKS4 and SOCKS5, no auth: $DANTE_PORT
#   start_tinyproxy [USER PASS] -- PORTS...
#                                  HTTP CONNECT to PORTS only, Basic auth with
#                                  USER PASS: $TP_PORT
#   start_http_server              python's http.server over $T/www, which
#                                  holds f.bin (1 MiB of random bytes), on
#                                  127.0.0.1 and ::1 (proxypeer.py http):
#                                  $HTTP_PORT
#   start_sink [--held] [--tls]    proxypeer.py xfer: sends $T/down, writes
#                                  what it gets to $T/got: $SINK_PORT
#   start_serve_file FILE          proxypeer.py serve-file (any number of
#                                  clients): $FILE_PORT
#   start_fake MODE ARGS...        proxypeer.py MODE, notes in $T/fake.events:
#                                  $FAKE_PORT
#   start_gnutls_echo              gnutls-serv --echo with $CERTS/server.pem:
#                                  $TLS_PORT.  It echoes lines: give it text
#                                  (text_file), not random bytes
#   start_gnutls_http              gnutls-serv --http, the same: $TLS_PORT
#   make_certs                     (setup_file) a CA and a server certificate
#                                  for localhost, 127.0.0.1 and ::1 in $CERTS
#
# and for the tests: wait_listener PID PORT (poll, failing at once when
# PID ends first), held_run (stdin kept open until the answer is in, for
# the proxies that do not half-close), text_file, sink_ok, and a quicker
# free_port.
#
# The apt packages they need: microsocks dante-server tinyproxy curl
# gnutls-bin (certtool, gnutls-serv, gnutls-cli), socat, python3.

PROXYPEER_PY="$QIOC_TESTS/proxypeer.py"

# need TOOL...: skip the test when a tool is not installed.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
    done
}

# ---------------------------------------------------------------- readiness

# free_port: as helpers.bash's (a port free on 127.0.0.1 and ::), without
# peer.py's imports: these tests take two or three ports each.
free_port() {
    "$PYTHON3" -S -c 'import socket
try:
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 0))
except OSError:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

listening_or_gone() {
    tcp_listening "$2" || proc_done "$1"
}

# wait_listener PID PORT [LOG]: poll until PORT listens; fail as soon as
# PID ends first (a peer or a qioc that refused its command line), with
# LOG shown.
wait_listener() {
    poll 10 listening_or_gone "$1" "$2"
    tcp_listening "$2" || {
        echo "# process $1 ended without listening on port $2" >&2
        [[ -z ${3:-} ]] || sed 's/^/#   /' "$3" >&2
        return 1
    }
}

socket_or_gone() {
    unix_listening "$2" || proc_done "$1"
}

# wait_listener_unix PID PATH [LOG]: the same for a unix socket.
wait_listener_unix() {
    poll 10 socket_or_gone "$1" "$2"
    unix_listening "$2" || {
        echo "# process $1 ended without listening on $2" >&2
        [[ -z ${3:-} ]] || sed 's/^/#   /' "$3" >&2
        return 1
    }
}

# held_done OUT BYTES PID [FILE LINE]: OUT holds BYTES (and FILE has the
# line LINE), or PID has ended.
held_done() {
    proc_done "$3" && return 0
    file_size_at_least "$1" "$2" || return 1
    [[ -z ${4:-} ]] || grep -qxF -- "$5" "$4" 2>/dev/null
}

# held_run [--until FILE LINE] IN OUT BYTES CMD...: CMD with IN on its
# stdin, which then stays open until OUT (CMD's stdout) holds BYTES (and,
# with --until, FILE has the line LINE), or CMD has ended; CMD's exit
# status.  For relays through proxies that end both directions when one
# ends (microsocks, tinyproxy): an end-of-file on stdin right away would
# cut the answer short.
held_run() {
    local until=() pid st=0
    if [[ $1 == --until ]]; then
        until=("$2" "$3")
        shift 3
    fi
    local in=$1 out=$2 size=$3
    shift 3
    rm -f "$T/held.fifo" "$out"
    mkfifo "$T/held.fifo"
    "$@" <"$T/held.fifo" >"$out" 3>&- &
    pid=$!
    {
        cat "$in"
        poll 20 held_done "$out" "$size" "$pid" "${until[@]}" || true
    } >"$T/held.fifo"
    wait "$pid" || st=$?
    return "$st"
}

# ---------------------------------------------------------------- certificates

# make_certs: $CERTS/ca.pem (a CA), $CERTS/server.pem and server-key.pem
# (localhost, 127.0.0.1 and ::1, signed by the CA).  For setup_file.
make_certs() {
    command -v certtool >/dev/null || return 0
    printf '%s\n' 'cn = "qioc proxy test CA"' ca cert_signing_key \
        'expiration_days = 30' >"$CERTS/ca.tmpl"
    printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
        'ip_address = "127.0.0.1"' 'ip_address = "::1"' tls_www_server \
        signing_key 'expiration_days = 30' >"$CERTS/server.tmpl"
    certtool --generate-privkey --key-type=ecdsa \
        --outfile "$CERTS/ca-key.pem" 2>/dev/null
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

need_certs() {
    need certtool
    [[ -s $CERTS/server.pem && -s $CERTS/ca.pem ]] ||
        skip "certtool could not make certificates"
}

# ---------------------------------------------------------------- proxies

# start_microsocks [USER PASS]
start_microsocks() {
    need microsocks
    MS_PORT=$(free_port)
    local auth=()
    (($# == 2)) && auth=(-u "$1" -P "$2")
    bg microsocks -i 127.0.0.1 -p "$MS_PORT" -b 127.0.0.1 "${auth[@]}" \
        >"$T/microsocks.log" 2>&1
    MS_PID=$BG_PID
    wait_listener "$MS_PID" "$MS_PORT" "$T/microsocks.log"
}

# start_dante: danted in the foreground (it forks its helpers itself and
# ends them on SIGTERM).  Dante 1.4.2 speaks SOCKS4 and SOCKS5 but not
# SOCKS4A: the 0.0.0.x address of a 4A request is what it connects to.
# Username auth in dante means system accounts (PAM or passwd), so the
# password cases use microsocks instead.  Without user.* lines dante
# keeps the user it was started as (as root it logs a warning).
start_dante() {
    need danted
    DANTE_PORT=$(free_port)
    cat >"$T/danted.conf" <<EOF
logoutput: $T/danted.log
internal: 127.0.0.1 port = $DANTE_PORT
external: 127.0.0.1
clientmethod: none
socksmethod: none
client pass {
    from: 127.0.0.0/8 to: 127.0.0.0/8
}
socks pass {
    from: 127.0.0.0/8 to: 127.0.0.0/8
    command: connect
    protocol: tcp
}
EOF
    bg danted -f "$T/danted.conf" -p "$T/danted.pid" >"$T/danted.out" 2>&1
    DANTE_PID=$BG_PID
    wait_listener "$DANTE_PID" "$DANTE_PORT" "$T/danted.log"
}

# start_tinyproxy [USER PASS] -- PORT...: CONNECT allowed to PORTs only
# (tinyproxy answers "403 Access violation" for others, "500 Unable to
# connect" when the target refuses, and "HTTP/1.0 407 Proxy
# Authentication Required" without the right Basic credentials).
start_tinyproxy() {
    need tinyproxy
    local auth=() port
    if [[ $1 != -- ]]; then
        auth=("$1" "$2")
        shift 2
    fi
    shift
    TP_PORT=$(free_port)
    {
        echo "Port $TP_PORT"
        echo "Listen 127.0.0.1"
        echo "Timeout 30"
        echo "MaxClients 20"
        echo "Allow 127.0.0.1"
        echo "LogLevel Info"
        for port in "$@"; do
            echo "ConnectPort $port"
        done
        ((${#auth[@]})) && echo "BasicAuth ${auth[0]} ${auth[1]}"
    } >"$T/tinyproxy.conf"
    bg tinyproxy -d -c "$T/tinyproxy.conf" >"$T/tinyproxy.log" 2>&1
    TP_PID=$BG_PID
    wait_listener "$TP_PID" "$TP_PORT" "$T/tinyproxy.log"
}

# ---------------------------------------------------------------- targets

start_http_server() {
    HTTP_PORT=$(free_port)
    mkdir -p "$T/www"
    random_file "$T/www/f.bin" 1M
    rm -f "$T/http.ready"
    bg "$PYTHON3" "$PROXYPEER_PY" --port "$HTTP_PORT" --ready "$T/http.ready" \
        --events "$T/http.log" http --directory "$T/www" 2>"$T/http.err"
    wait_file "$T/http.ready"
}

# start_sink [--held] [--tls]: one client, on 127.0.0.1 or ::1 (a proxy
# that resolves "localhost" may take either); it gets $T/down (1 MiB)
# and what it sends lands in $T/got.  $T/up is 1 MiB for the client to
# send.  By default each side half-closes when it is done sending.
# --held: the sink reads exactly 1 MiB and then closes, without
# half-closing first, and the client (`through`) keeps its stdin open
# until all of $T/down is in: microsocks and tinyproxy end both
# directions as soon as one ends, so a half-close would cut the other
# direction short.  --tls: the sink speaks TLS with $CERTS/server.pem
# (python's ssl module) and ends with close_notify both ways; with
# --held too, it sends its close_notify and closes without waiting for
# the client's, and the client's stdin stays open until then (SINK_UNTIL):
# the client's own close_notify would end the tunnel before the sink's
# got through.
start_sink() {
    local opts=() tls=
    SINK_HELD=''
    SINK_UNTIL=()
    while (($#)); do
        case $1 in
        --held) SINK_HELD=1 ;;
        --tls) tls=1 ;;
        esac
        shift
    done
    # Both ways, the sink reads exactly what the client sends.
    [[ -n $SINK_HELD$tls ]] && opts+=(--exact 1048576)
    if [[ -n $tls ]]; then
        need_certs
        opts+=(--cert "$CERTS/server.pem" --key "$CERTS/server-key.pem")
        if [[ -n $SINK_HELD ]]; then
            opts+=(--close-first)
            SINK_UNTIL=(--until "$T/sink.events" closed)
        fi
    fi
    SINK_PORT=$(free_port)
    random_file "$T/up" 1M
    random_file "$T/down" 1M
    rm -f "$T/sink.ready" "$T/sink.events" "$T/got" "$T/out"
    bg "$PYTHON3" "$PROXYPEER_PY" --port "$SINK_PORT" --ready "$T/sink.ready" \
        --events "$T/sink.events" xfer --send "$T/down" --recv "$T/got" \
        "${opts[@]}" 2>"$T/sink.err"
    SINK_PID=$BG_PID
    wait_file "$T/sink.ready"
}

# start_serve_file FILE
start_serve_file() {
    FILE_PORT=$(free_port)
    rm -f "$T/file.ready"
    bg "$PYTHON3" "$PROXYPEER_PY" --port "$FILE_PORT" --ready "$T/file.ready" \
        serve-file --send "$1"
    wait_file "$T/file.ready"
}

# start_fake MODE ARGS...
start_fake() {
    FAKE_PORT=$(free_port)
    rm -f "$T/fake.ready" "$T/fake.events"
    bg "$PYTHON3" "$PROXYPEER_PY" --port "$FAKE_PORT" --ready "$T/fake.ready" \
        --events "$T/fake.events" "$@" 2>"$T/fake.err"
    FAKE_PID=$BG_PID
    wait_file "$T/fake.ready"
}

# start_gnutls_echo: gnutls-serv answers every record with itself.
start_gnutls_echo() {
    need gnutls-serv
    need_certs
    TLS_PORT=$(free_port)
    # It prints every line it gets: its stdout is not kept.
    bg gnutls-serv --echo -p "$TLS_PORT" --x509certfile "$CERTS/server.pem" \
        --x509keyfile "$CERTS/server-key.pem" >/dev/null 2>"$T/gnutls-serv.log"
    wait_listener "$BG_PID" "$TLS_PORT" "$T/gnutls-serv.log"
}

# start_gnutls_http: gnutls-serv's HTTP mode, a page about the session.
start_gnutls_http() {
    need gnutls-serv
    need_certs
    TLS_PORT=$(free_port)
    bg gnutls-serv --http -p "$TLS_PORT" --x509certfile "$CERTS/server.pem" \
        --x509keyfile "$CERTS/server-key.pem" >"$T/gnutls-serv.log" 2>&1
    wait_listener "$BG_PID" "$TLS_PORT" "$T/gnutls-serv.log"
}

# text_file PATH SIZE: SIZE bytes of random data as base64 lines.
text_file() {
    head -c "$2" /dev/urandom | base64 >"$1"
}

# sink_ok: the sink got $T/up and its client got $T/down (in $T/out).
sink_ok() {
    reap "$SINK_PID"
    [[ $BG_STATUS == 0 ]] || {
        echo "# sink exited $BG_STATUS" >&2
        cat "$T/sink.events" "$T/sink.err" >&2 2>/dev/null
        return 1
    }
    assert_same "$T/up" "$T/got"
    assert_same "$T/down" "$T/out"
}
