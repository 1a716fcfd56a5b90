#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# socat compatibility: socat command lines with "socat" swapped for "qioc"
# must do what they did.  Every case runs a real transfer where one is
# possible: the one-way standard streams, PIPE/ECHO/FIFO, GOPEN and the
# bare-number and bare-path shortcuts, socat's spellings of the TCP, UNIX
# and OpenSSL types, socat's address options (pf, ipv6only, sourceport,
# accept-timeout, ignoreeof, readbytes, umask, perm, pipes, socketpair,
# pty, setsid, ctty, nofork, fdin/fdout, end-close, the o-*/so-*/tcp-*
# aliases, unlink, cert= with the key in it), socat's logging options, the
# environment of EXEC/SYSTEM children and their exit status.  Where qioc
# deliberately differs (the close timeout waits, usage errors exit 2) the
# documented qioc behaviour is asserted.

bats_require_minimum_version 1.5.0
load helpers

# ---------------------------------------------------------------- fixtures

# A self-signed certificate for localhost and 127.0.0.1 with its key in
# the same PEM file (socat's usual cert=), and a client certificate.
setup_file() {
    export CERTS=$BATS_FILE_TMPDIR
    command -v openssl >/dev/null || return 0
    local kind
    for kind in server client; do
        local subj=/CN=localhost san=subjectAltName=DNS:localhost,IP:127.0.0.1
        [[ $kind == client ]] && subj="/O=qioc tests/CN=compat client" &&
            san=subjectAltName=DNS:client.invalid
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 2 -subj "$subj" -addext "$san" \
            -keyout "$CERTS/$kind-key.pem" -out "$CERTS/$kind.pem" \
            2>/dev/null || return 0
        cat "$CERTS/$kind.pem" "$CERTS/$kind-key.pem" >"$CERTS/$kind-both.pem"
    done
}

setup() {
    qioc_setup
    P=$(free_port)
}

teardown() {
    # Children that end-close leaves running on purpose.
    local f
    for f in "$T"/*.pid; do
        [[ -e $f ]] && kill "$(cat "$f")" 2>/dev/null
    done
    qioc_teardown
}

need_certs() {
    [[ -s $CERTS/server-both.pem && -s $CERTS/client-both.pem ]] ||
        skip "openssl could not make certificates"
}

need_v6() {
    v6_usable || skip "::1 is not usable here"
}

# script NAME LINES...: an executable /bin/sh script $T/NAME, for children
# whose text would need layers of quoting on a command line.
script() {
    local name=$1
    shift
    printf '%s\n' '#!/bin/sh' "$@" >"$T/$name"
    chmod +x "$T/$name"
}

# listen_once ARGS...: qioc ARGS in the background (stdin $T/l.in, stdout
# $T/l.out, stderr $T/l.err), its pid in LPID; waits for port $P.
listen_once() {
    [[ -e $T/l.in ]] || : >"$T/l.in"
    bg_qioc "$@" <"$T/l.in" >"$T/l.out" 2>"$T/l.err"
    LPID=$BG_PID
    wait_port "$P"
}

# listener_ok: the background listener ended with status 0.
listener_ok() {
    reap "$LPID"
    if [[ $BG_STATUS != 0 ]]; then
        echo "# listener exited $BG_STATUS" >&2
        cat "$T/l.err" >&2
        return 1
    fi
}

# A closed TCP port: connecting to it is refused (for diagnostics).
refused_addr() {
    echo "TCP:127.0.0.1:$P"
}

# ---------------------------------------------------------------- STDIN STDOUT STDERR

@test "socat STDIN STDOUT: one stream each way, a line passes" {
    printf 'one way\n' >in
    run --separate-stderr qioc STDIN STDOUT <in
    assert_status 0
    [[ $output == "one way" ]]
    [[ -z $stderr ]]
    run --separate-stderr qioc -u STDIN STDOUT <in
    assert_status 0
    [[ $output == "one way" ]]
}

@test "socat -u - STDERR: the data lands on stderr, nothing on stdout" {
    printf 'to stderr\n' >in
    qioc -u - STDERR <in >out 2>err
    assert_empty out
    [[ $(cat err) == "to stderr" ]]
    # STDERR is write-only: without -u the same line still passes.
    qioc - STDERR <in >out 2>err
    assert_empty out
    [[ $(cat err) == "to stderr" ]]
}

@test "-u/-U against a one-way stream (STDIN written, STDOUT/STDERR read) is refused, not a crash" {
    # The two-way form works; the reverse direction must be a clear error
    # like CREATE's ("cannot be read (-U moves data out of it)").
    local args
    for args in "-u - STDIN" "-u STDOUT -" "-U - STDERR" "-U STDIN STDOUT"; do
        # shellcheck disable=SC2086
        run --separate-stderr qioc $args </dev/null
        if [[ $status != 1 ]]; then
            echo "# qioc $args: exit $status, expected 1" >&2
            echo "# stderr: $stderr" >&2
            return 1
        fi
        assert_one_line "$stderr"
        [[ $stderr == "qioc: address "[12]" ("* ]]
        assert_contains "$stderr" "cannot be"
    done
}

# ---------------------------------------------------------------- PIPE ECHO FIFO

@test "socat - PIPE: an unnamed pipe echoes (echo hi | qioc - PIPE)" {
    run --separate-stderr qioc - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    [[ -z $stderr ]]
    random_file in 1M
    qioc - PIPE <in >out
    assert_same in out
}

@test "socat - ECHO: the same echo" {
    run --separate-stderr qioc - ECHO <<<hi
    assert_status 0
    [[ $output == hi ]]
}

@test "socat -u FIFO:path -: the FIFO is created and a writer's data is read until it closes" {
    bg_qioc -u FIFO:"$T/ff" - >out 2>err
    local qpid=$BG_PID
    poll 10 test -p "$T/ff"
    printf 'through the fifo\n' >"$T/ff"
    # The writer has closed: like socat, qioc sees end-of-file and ends.
    if ! reap "$qpid" 5; then
        echo "# qioc -u FIFO:path - still running 5 s after the writer closed" >&2
        echo "# got: $(cat out)" >&2
        return 1
    fi
    [[ $BG_STATUS == 0 ]] || { cat err >&2; return 1; }
    [[ $(cat out) == "through the fifo" ]]
    [[ -p $T/ff ]]
}

@test "socat -u - PIPE:path: a reader of the FIFO gets the data" {
    mkfifo "$T/ff"
    bg cat "$T/ff" >got
    local cpid=$BG_PID
    qioc -u - PIPE:"$T/ff" <<<"into the fifo"
    reap "$cpid"
    [[ $(cat got) == "into the fifo" ]]
}

# fifo_waiting PID: a thread of PID waits in open(2) for the other end of
# a FIFO (the kernel's wait_for_partner).
fifo_waiting() {
    local f
    for f in /proc/"$1"/task/*/wchan; do
        [[ $(cat "$f" 2>/dev/null) == wait_for_partner ]] && return 0
    done
    return 1
}

@test "FIFO between two qioc processes, the writer first: it waits for the reader, nothing is lost" {
    random_file in 4M
    bg_qioc -u - PIPE:"$T/ff" <in 2>w.err
    local wpid=$BG_PID
    # Like socat, the writer waits for a reader instead of writing into
    # a FIFO nobody reads (and losing that data when it ends first).
    poll 10 fifo_waiting "$wpid"
    QIOC_TIMEOUT=10 qioc -u PIPE:"$T/ff" - >out
    reap "$wpid"
    [[ $BG_STATUS == 0 ]] || { cat w.err >&2; return 1; }
    assert_same in out
}

@test "FIFO: a short message written before any reader opens still arrives" {
    bg_qioc -u - PIPE:"$T/ff" <<<x
    local wpid=$BG_PID
    poll 10 fifo_waiting "$wpid"
    run --separate-stderr timeout 5 cat "$T/ff"
    assert_status 0
    [[ $output == x ]]
    reap "$wpid"
    [[ $BG_STATUS == 0 ]]
}

@test "FIFO between two qioc processes, the reader first" {
    random_file in 4M
    bg_qioc -u PIPE:"$T/ff" - >out 2>r.err
    local rpid=$BG_PID
    poll 10 test -p "$T/ff"
    QIOC_TIMEOUT=10 qioc -u - PIPE:"$T/ff" <in
    reap "$rpid"
    [[ $BG_STATUS == 0 ]] || { cat r.err >&2; return 1; }
    assert_same in out
}

@test "-U into a FIFO given first: written only, it waits for its reader" {
    bg_qioc -U PIPE:"$T/ff" - <<<backwards
    local wpid=$BG_PID
    poll 10 fifo_waiting "$wpid"
    run --separate-stderr timeout 5 cat "$T/ff"
    [[ $output == backwards ]]
    reap "$wpid"
    [[ $BG_STATUS == 0 ]]
}

@test "echo hi | qioc - PIPE:path: the FIFO echoes, then end-of-file, exit 0" {
    QIOC_TIMEOUT=5 run --separate-stderr qioc - PIPE:"$T/ff" <<<hi
    assert_status 0
    [[ $output == hi ]]
    [[ -z $stderr ]]
    random_file in 1M
    QIOC_TIMEOUT=10 qioc - PIPE:"$T/ff" <in >out
    assert_same in out
}

@test "SIGTERM to a qioc waiting for a FIFO reader: exit 143 at once" {
    bg_qioc -u - PIPE:"$T/ff" </dev/null 2>err
    local qpid=$BG_PID
    poll 10 fifo_waiting "$qpid"
    local start=$EPOCHREALTIME
    kill -TERM "$qpid"
    reap "$qpid" 5
    [[ $BG_STATUS == 143 ]] || { cat err >&2; return 1; }
    assert_faster_than 2000 "$start"
    [[ ! -s err ]]
}

# ---------------------------------------------------------------- GOPEN and shortcuts

@test "socat GOPEN on a regular file: read from it, write into it" {
    printf 'file content\n' >src
    run --separate-stderr qioc -u GOPEN:"$T/src" -
    assert_status 0
    [[ $output == "file content" ]]
    : >dst
    qioc -u - GOPEN:"$T/dst" <src
    assert_same src dst
}

@test "socat GOPEN on a unix socket connects to it" {
    bg_peer --unix "$T/s" --ready "$T/ready" echo-after-eof
    wait_file "$T/ready"
    printf 'over gopen\n' >in
    run --separate-stderr qioc - GOPEN:"$T/s" <in
    assert_status 0
    [[ $output == "over gopen" ]]
}

# has_socket_fd PID: PID holds a socket descriptor.
has_socket_fd() {
    local f
    for f in /proc/"$1"/fd/*; do
        [[ $(readlink "$f" 2>/dev/null) == socket:* ]] && return 0
    done
    return 1
}

@test "GOPEN on a unix socket whose backlog is full: connect-timeout applies" {
    bg_peer --unix "$T/s" --ready "$T/ready" blackhole
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    run --separate-stderr qioc - GOPEN:"$T/s",connect-timeout=0.5 </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 2 (GOPEN:$T/s,connect-timeout=0.5): "
    [[ ${stderr,,} == *"timed out"* ]]
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
}

@test "GOPEN connecting to a stalled unix socket does not block: SIGTERM ends qioc at once" {
    bg_peer --unix "$T/s" --ready "$T/ready" blackhole
    wait_file "$T/ready"
    bg_qioc - GOPEN:"$T/s" </dev/null 2>err
    local qpid=$BG_PID
    # Once its socket exists, qioc is connecting; SIGTERM must not wait
    # for the connect to finish.
    poll 10 has_socket_fd "$qpid"
    kill -TERM "$qpid"
    local start=$EPOCHREALTIME
    reap "$qpid" 5
    [[ $BG_STATUS == 143 ]] || { cat err >&2; return 1; }
    assert_faster_than 2000 "$start"
}

@test "a bare number is FD:N (qioc -u - 5 5>out, qioc -u 5 - 5<in)" {
    printf 'fd five\n' >in
    qioc -u - 5 <in 5>out
    assert_same in out
    run --separate-stderr qioc -u 5 - 5<in
    assert_status 0
    [[ $output == "fd five" ]]
}

@test "a bare path with / is GOPEN: ./file, an absolute path, a socket" {
    printf 'bare path\n' >in
    : >out
    qioc -u - ./out <in
    assert_same in out
    run --separate-stderr qioc -u "$T/in" -
    assert_status 0
    [[ $output == "bare path" ]]
    bg_peer --unix "$T/s" --ready "$T/ready" echo-after-eof
    wait_file "$T/ready"
    run --separate-stderr qioc - "$T/s" <in
    assert_status 0
    [[ $output == "bare path" ]]
}

# ---------------------------------------------------------------- TCP spellings

@test "socat TCP4-L:P and TCP4-CONNECT:127.0.0.1:P carry data both ways" {
    printf 'from listener\n' >l.in
    listen_once TCP4-L:"$P" -
    tcp_listening_family "$P" 4
    printf 'from client\n' >c.in
    run --separate-stderr qioc - TCP4-CONNECT:127.0.0.1:"$P" <c.in
    assert_status 0
    [[ $output == "from listener" ]]
    listener_ok
    assert_same c.in l.out
}

@test "socat TCP6-L:P and TCP6:[::1]:P carry data both ways" {
    need_v6
    printf 'from listener\n' >l.in
    listen_once TCP6-L:"$P" -
    tcp_listening_family "$P" 6
    printf 'from client\n' >c.in
    run --separate-stderr qioc - "TCP6:[::1]:$P" <c.in
    assert_status 0
    [[ $output == "from listener" ]]
    listener_ok
    assert_same c.in l.out
}

@test "pf=ip4: the listener refuses a ::1 client and serves 127.0.0.1" {
    need_v6
    listen_once -u TCP-L:"$P",pf=ip4 -
    refute tcp_listening_family "$P" 6
    run --separate-stderr qioc -u - "TCP:[::1]:$P" <<<v6
    assert_error 2 "TCP:[::1]:$P" "Connection refused"
    run --separate-stderr qioc -u - TCP:127.0.0.1:"$P" <<<v4
    assert_status 0
    listener_ok
    [[ $(cat l.out) == v4 ]]
}

@test "pf=ip6: the listener refuses 127.0.0.1 and serves ::1" {
    need_v6
    listen_once -u TCP-L:"$P",pf=ip6 -
    run --separate-stderr qioc -u - TCP:127.0.0.1:"$P" <<<v4
    assert_error 2 "TCP:127.0.0.1:$P" "Connection refused"
    run --separate-stderr qioc -u - "TCP:[::1]:$P" <<<v6
    assert_status 0
    listener_ok
    [[ $(cat l.out) == v6 ]]
}

@test "socat TCP6-L:P,ipv6only: ::1 is served, 127.0.0.1 is refused" {
    need_v6
    listen_once -u TCP6-L:"$P",ipv6only -
    run --separate-stderr qioc -u - TCP4:127.0.0.1:"$P" <<<v4
    assert_error 2 "TCP4:127.0.0.1:$P" "Connection refused"
    run --separate-stderr qioc -u - "TCP6:[::1]:$P" <<<v6
    assert_status 0
    listener_ok
    [[ $(cat l.out) == v6 ]]
}

@test "sourceport= and sp=: the server sees that client port" {
    local sp opt
    for opt in sourceport sp; do
        sp=$(free_port)
        P=$(free_port)
        rm -f "$T/ready" "$T/ev"
        bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" hold
        local ppid=$BG_PID
        wait_file "$T/ready"
        run --separate-stderr qioc -u - TCP:127.0.0.1:"$P,$opt=$sp" <<<x
        assert_status 0
        reap "$ppid"
        file_has "$T/ev" "peer 127.0.0.1 $sp" ||
            { echo "# $opt=$sp:" >&2; cat "$T/ev" >&2; return 1; }
    done
}

@test "accept-timeout: no client in time, exit 1 naming accept-timeout" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP-L:"$P",accept-timeout=0.5 - </dev/null
    assert_error 1 "TCP-L:$P,accept-timeout=0.5" "no client within 0.5 s (accept-timeout)"
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
}

@test "so-reuseaddr, so-keepalive, tcp-nodelay: data flows, keepalive timers run" {
    idle_stdin
    bg_qioc TCP-L:"$P",so-reuseaddr,so-keepalive,tcp-nodelay - \
        <"$T/idle" >l.out 2>l.err
    wait_port "$P"
    bg_qioc - TCP:127.0.0.1:"$P",so-keepalive,tcp-nodelay <"$T/idle" >c.out
    local cpid=$BG_PID
    # Both ends of the connection (the accepted and the connecting socket).
    established_keepalive() {
        (( $(ss -tnoH state established "( sport = :$P or dport = :$P )" |
            grep -c 'timer:(keepalive') == 2 ))
    }
    if command -v ss >/dev/null; then
        poll 10 established_keepalive ||
            { ss -tnoH state established "( sport = :$P or dport = :$P )" >&2; return 1; }
    fi
    kill -TERM "$cpid"
    reap "$cpid"
    [[ $BG_STATUS == 143 ]]
}

# ---------------------------------------------------------------- OPENSSL

@test "OPENSSL-CONNECT, OPENSSL-LISTEN and SSL-L are TLS types in --dry-run" {
    run --separate-stderr qioc --dry-run OPENSSL-LISTEN:443,cert=c.pem \
        OPENSSL-CONNECT:example.org:443,verify=0
    assert_status 0
    [[ ${lines[0]} == "address 1: TLS-LISTEN:443,"* ]]
    assert_contains "${lines[0]}," ",cert=c.pem,"
    [[ ${lines[1]} == "address 2: TLS:example.org:443,"* ]]
    assert_contains "${lines[1]}," ",verify=0,"
    run --separate-stderr qioc --dry-run SSL-L:443,cert=c.pem OPENSSL:h:1
    assert_status 0
    [[ ${lines[0]} == "address 1: TLS-LISTEN:443,"* ]]
    [[ ${lines[1]} == "address 2: TLS:h:1,"* ]]
    assert_contains "${lines[1]}," ",verify=1,"
}

@test "socat SSL-L:P,cert=both.pem (key in the PEM) and OPENSSL-CONNECT,verify=0" {
    need_certs
    listen_once SSL-L:"$P",cert="$CERTS/server-both.pem" SYSTEM:'tr a-z A-Z'
    run --separate-stderr qioc - OPENSSL-CONNECT:127.0.0.1:"$P",verify=0 <<<hello
    assert_status 0
    [[ $output == HELLO ]]
    listener_ok
}

@test "OPENSSL-LISTEN and OPENSSL with cafile=: the server is verified" {
    need_certs
    random_file in 256K
    listen_once OPENSSL-LISTEN:"$P",cert="$CERTS/server-both.pem" EXEC:cat
    qioc - OPENSSL:localhost:"$P",cafile="$CERTS/server.pem" <in >out
    listener_ok
    assert_same in out
}

@test "behind TLS-LISTEN with cafile= and a client certificate: QIOC_TLS_PEER_DN" {
    need_certs
    listen_once TLS-LISTEN:"$P",cert="$CERTS/server-both.pem",cafile="$CERTS/client.pem" \
        "SYSTEM:'echo \"dn=\$QIOC_TLS_PEER_DN\"'"
    run --separate-stderr qioc - \
        TLS:localhost:"$P",cafile="$CERTS/server.pem",cert="$CERTS/client-both.pem" \
        </dev/null
    assert_status 0
    [[ $output == dn=* ]]
    assert_contains "$output" "CN=compat client"
    assert_contains "$output" "O=qioc tests"
    listener_ok
}

# ---------------------------------------------------------------- UNIX

@test "socat UNIX-CLIENT:path and LOCAL:path connect to a unix socket" {
    local type
    printf 'unix data\n' >in
    for type in UNIX-CLIENT LOCAL; do
        rm -f "$T/ready"
        bg_peer --unix "$T/s" --ready "$T/ready" echo-after-eof
        wait_file "$T/ready"
        run --separate-stderr qioc - "$type:$T/s" <in
        assert_status 0
        [[ $output == "unix data" ]]
    done
}

@test "socat UNIX-L:path,unlink replaces a stale socket file and serves" {
    peer stale-unix "$T/s"
    [[ -S $T/s ]]
    bg_qioc -u UNIX-L:"$T/s",unlink - >l.out 2>l.err
    local lpid=$BG_PID
    wait_socket "$T/s"
    qioc -u - UNIX-CLIENT:"$T/s" <<<fresh
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
    [[ $(cat l.out) == fresh ]]
}

@test "perm= and umask= set the mode of a socket, a FIFO and created files" {
    bg_qioc UNIX-L:"$T/s1",perm=0600 - </dev/null
    wait_socket "$T/s1"
    [[ $(stat -c %a "$T/s1") == 600 ]]
    bg_qioc UNIX-L:"$T/s2",umask=027 - </dev/null
    wait_socket "$T/s2"
    [[ $(stat -c %a "$T/s2") == 750 ]]
    bg_qioc -u PIPE:"$T/ff",perm=0600 - </dev/null
    poll 10 test -p "$T/ff"
    [[ $(stat -c %a "$T/ff") == 600 ]]
    qioc -u - CREATE:"$T/c1",perm=0640 <<<x
    [[ $(stat -c %a "$T/c1") == 640 ]]
    qioc -u - CREATE:"$T/c2",umask=077 <<<x
    [[ $(stat -c %a "$T/c2") == 600 ]]
    qioc -u - FILE:"$T/c3",o-creat,perm=0604 <<<x
    [[ $(stat -c %a "$T/c3") == 604 ]]
}

# ---------------------------------------------------------------- file options

@test "socat's o-creat, o-wronly, o-trunc, o-append, o-excl, o-rdonly on real files" {
    qioc -u - FILE:"$T/f",o-creat,o-wronly <<<first
    [[ $(cat f) == first ]]
    qioc -u - FILE:"$T/f",o-wronly,o-append <<<second
    [[ $(cat f) == $'first\nsecond' ]]
    qioc -u - FILE:"$T/f",o-wronly,o-trunc <<<third
    [[ $(cat f) == third ]]
    run --separate-stderr qioc -u FILE:"$T/f",o-rdonly -
    assert_status 0
    [[ $output == third ]]
    run --separate-stderr qioc -u - FILE:"$T/f",o-creat,o-excl <<<x
    assert_error 2 "FILE:$T/f,o-creat,o-excl" "File exists"
    [[ $(cat f) == third ]]
}

@test "socat -u FILE:growing,ignoreeof - keeps printing what is appended; -T ends it, exit 0" {
    printf 'one\n' >g
    bg_qioc -T 2 -u FILE:"$T/g",ignoreeof - >out 2>err
    local qpid=$BG_PID
    wait_line out one
    printf 'two\n' >>g
    wait_line out two
    reap "$qpid" 15
    [[ $BG_STATUS == 0 ]] || { cat err >&2; return 1; }
    [[ $(cat out) == $'one\ntwo' ]]
}

@test "ignoreeof: SIGTERM ends the wait for more, exit 143, nothing lost" {
    printf 'one\n' >g
    bg_qioc -u FILE:"$T/g",ignoreeof - >out 2>err
    local qpid=$BG_PID
    wait_line out one
    printf 'two\n' >>g
    wait_line out two
    still_running "$qpid"
    kill -TERM "$qpid"
    reap "$qpid"
    [[ $BG_STATUS == 143 ]]
    [[ $(cat out) == $'one\ntwo' ]]
}

@test "readbytes=N: exactly N bytes pass (FILE, and over TCP)" {
    random_file in 100K
    qioc -u FILE:"$T/in",readbytes=1000 - >out
    [[ $(stat -c %s out) == 1000 ]]
    cmp -n 1000 in out
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/in" --recv "$T/sent"
    wait_file "$T/ready"
    qioc TCP:127.0.0.1:"$P",readbytes=4097 - </dev/null >out2
    [[ $(stat -c %s out2) == 4097 ]]
    cmp -n 4097 in out2
}

@test "readbytes=0 is no limit, as in socat: everything passes" {
    random_file in 100K
    qioc -u FILE:"$T/in",readbytes=0 - >out
    assert_same in out
    run --separate-stderr qioc -,readbytes=0 PIPE <<<abcdef
    assert_status 0
    [[ $output == abcdef ]]
}

@test "socat's -,raw idiom: -,readbytes=3 is STDIO with options" {
    run --separate-stderr qioc -u -,readbytes=3 - <<<abcdef
    assert_status 0
    [[ $output == abc ]]
    # Both ways: three bytes of stdin go into the echo and come back.
    run --separate-stderr qioc -,readbytes=3 PIPE <<<abcdef
    assert_status 0
    [[ $output == abc ]]
}

# ---------------------------------------------------------------- EXEC options

@test "pipes and socketpair: how the child's stdin and stdout are connected" {
    run --separate-stderr qioc - \
        "SYSTEM:'test -p /dev/stdin && test -p /dev/stdout && echo pipes',pipes" </dev/null
    assert_status 0
    [[ $output == pipes ]]
    run --separate-stderr qioc - \
        "SYSTEM:'test -S /dev/stdin && test -S /dev/stdout && echo socketpair',socketpair" </dev/null
    assert_status 0
    [[ $output == socketpair ]]
}

@test "socat EXEC:tty,pty prints a /dev/pts path" {
    run --separate-stderr qioc - EXEC:tty,pty </dev/null
    assert_status 0
    [[ $output =~ ^/dev/pts/[0-9]+$'\r'?$ ]]
}

@test "setsid: the child leads a new session; ctty: the pty becomes its terminal" {
    script sess 'read -r _ _ _ _ _ sid _ </proc/$$/stat' \
        'if [ "$sid" = $$ ]; then echo leader; else echo member; fi' \
        'if (: </dev/tty) 2>/dev/null; then echo ctty; else echo no-ctty; fi'
    run --separate-stderr qioc - EXEC:"$T/sess",pty,setsid,ctty </dev/null
    assert_status 0
    [[ ${output//$'\r'/} == $'leader\nctty' ]]
    run --separate-stderr qioc - EXEC:"$T/sess",pty,setsid </dev/null
    assert_status 0
    [[ ${output//$'\r'/} == $'leader\nno-ctty' ]]
    run --separate-stderr qioc - EXEC:"$T/sess",setsid </dev/null
    assert_status 0
    [[ ${lines[0]} == leader ]]
    run --separate-stderr qioc - EXEC:"$T/sess" </dev/null
    assert_status 0
    [[ ${lines[0]} == member ]]
}

@test "nofork: the child writes to the other address's descriptor itself" {
    script nf 'readlink /proc/$$/fd/1' 'tr a-z A-Z'
    qioc - EXEC:"$T/nf",nofork <<<hello >out
    [[ $(sed -n 1p out) == "$(realpath out)" ]]
    [[ $(sed -n 2p out) == HELLO ]]
    # Behind a listener the child runs on the client's socket.
    script nfs 'test -S /dev/stdin && test -S /dev/stdout && echo on-socket' \
        'tr a-z A-Z'
    listen_once TCP-L:"$P" EXEC:"$T/nfs",nofork
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <<<hello
    assert_status 0
    [[ $output == $'on-socket\nHELLO' ]]
    listener_ok
}

@test "fdin= and fdout=: the child reads and writes other descriptors" {
    script fds 'echo on-fd-5 >&5' 'tr a-z A-Z <&4 >&5'
    run --separate-stderr qioc - EXEC:"$T/fds",fdin=4,fdout=5 <<<hello
    assert_status 0
    [[ $output == $'on-fd-5\nHELLO' ]]
}

# endless_child: $T/endless, a child that closes its stdout at once and
# keeps running 4 s, noting a SIGTERM in $T/sig; pids in $T/*.pid.
endless_child() {
    script endless "D='$T'" 'echo $$ >"$D/child.pid"' \
        'trap '\''echo TERM >"$D/sig"; kill $! 2>/dev/null; exit 0'\'' TERM' \
        'exec >&- <&-' 'sleep 4 & echo $! >"$D/sleep.pid"' 'wait'
}

@test "end-close: at the end the child is left running, without SIGTERM" {
    endless_child
    run --separate-stderr qioc - EXEC:"$T/endless",end-close </dev/null
    assert_status 0
    [[ ! -e $T/sig ]]
    kill -0 "$(cat "$T/child.pid")"
}

@test "without end-close the child gets SIGTERM at the end" {
    endless_child
    run --separate-stderr qioc - EXEC:"$T/endless" </dev/null
    assert_status 0
    [[ $(cat "$T/sig") == TERM ]]
}

# ---------------------------------------------------------------- child environment and status

@test "EXEC behind TCP-L gets QIOC_PEERADDR, QIOC_PEERPORT, QIOC_SOCKADDR, QIOC_SOCKPORT" {
    local sp
    sp=$(free_port)
    listen_once TCP-L:"$P" "SYSTEM:'env | grep ^QIOC_ | sort'"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",sp="$sp" </dev/null
    assert_status 0
    listener_ok
    local want
    for want in QIOC_PEERADDR=127.0.0.1 "QIOC_PEERPORT=$sp" \
        QIOC_SOCKADDR=127.0.0.1 "QIOC_SOCKPORT=$P"; do
        grep -qxF "$want" <<<"$output" ||
            { echo "# no $want in:" >&2; echo "$output" >&2; return 1; }
    done
}

@test "EXEC behind UNIX-L gets QIOC_PEERPID, QIOC_PEERUID, QIOC_PEERGID" {
    bg_qioc UNIX-L:"$T/s" "SYSTEM:'env | grep ^QIOC_ | sort'" 2>l.err
    local lpid=$BG_PID
    wait_socket "$T/s"
    bg_qioc - UNIX-CLIENT:"$T/s" </dev/null >out
    local cpid=$BG_PID
    reap "$cpid"
    [[ $BG_STATUS == 0 ]]
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
    local want
    for want in "QIOC_PEERPID=$cpid" "QIOC_PEERUID=$(id -u)" \
        "QIOC_PEERGID=$(id -g)"; do
        grep -qxF "$want" out ||
            { echo "# no $want in:" >&2; cat out >&2; return 1; }
    done
}

@test "a child that exits non-zero or by a signal makes qioc exit 1" {
    run --separate-stderr qioc - EXEC:false </dev/null
    assert_status 1
    assert_contains "$stderr" "exited with status 1"
    run --separate-stderr qioc - "SYSTEM:'echo partial; exit 3'" </dev/null
    assert_status 1
    [[ $output == partial ]]
    run --separate-stderr qioc - "SYSTEM:'kill -9 \$\$'" </dev/null
    assert_status 1
    assert_contains "$stderr" "signal 9"
    # Behind a listener too: the listener's status says so.
    listen_once TCP-L:"$P" "SYSTEM:'exit 4'"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" </dev/null
    reap "$LPID"
    [[ $BG_STATUS == 1 ]]
}

# ---------------------------------------------------------------- logging

@test "socat -lf FILE: diagnostics are appended to the file, none on stderr" {
    echo "earlier line" >log
    run --separate-stderr qioc -lf "$T/log" - "$(refused_addr)" </dev/null
    assert_status 1
    [[ -z $stderr ]]
    [[ $(sed -n 1p log) == "earlier line" ]]
    grep -qF "qioc: address 2 ($(refused_addr)): connect to 127.0.0.1:$P: Connection refused" log ||
        { cat log >&2; return 1; }
}

@test "socat -ly: diagnostics go to syslog, none on stderr, exit status unchanged" {
    # Whether a syslog daemon receives them cannot be checked here (there
    # may be no /dev/log); what the user sees on the terminal can.
    run --separate-stderr qioc -ly - "$(refused_addr)" </dev/null
    assert_status 1
    [[ -z $stderr ]]
    run --separate-stderr qioc -lydaemon -d - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    [[ -z $stderr ]]
}

@test "-ly and --syslog never take the next word as the facility" {
    # socat's -ly[FACILITY] takes a facility only glued on; GOption would
    # have made the address after it one ("unknown syslog facility").
    local opt
    for opt in -ly --syslog; do
        run --separate-stderr qioc "$opt" "$(refused_addr)" - </dev/null
        assert_status 1
        [[ -z $stderr ]] || { echo "# $opt: $stderr" >&2; return 1; }
    done
    run --separate-stderr qioc -ly TCP-LISTEN:"$P",accept-timeout=0.2 \
        TCP:127.0.0.1:9 </dev/null
    assert_status 1
    [[ -z $stderr ]]
}

@test "-lyFACILITY and --syslog=FACILITY set it; a bad one is a usage error" {
    run --separate-stderr qioc -lylocal3 - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    run --separate-stderr qioc --syslog=user - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    run --separate-stderr qioc -lybogus - PIPE <<<hi
    assert_usage_error bogus
    run --separate-stderr qioc --syslog=bogus - PIPE <<<hi
    assert_usage_error bogus
}

@test "socat's glued -lfFILE and -lpNAME, as socat's man page spells them" {
    run --separate-stderr qioc -lpglued - "$(refused_addr)" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "glued: address 2 ($(refused_addr)): "*"Connection refused" ]]
    run --separate-stderr qioc -lf"$T/log" -lpnm - "$(refused_addr)" </dev/null
    assert_status 1
    [[ -z $stderr ]]
    grep -qF "nm: address 2 ($(refused_addr)): " log ||
        { cat log >&2; return 1; }
}

@test "socat -lp NAME: diagnostic lines start with NAME:" {
    run --separate-stderr qioc -lp myrelay - "$(refused_addr)" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "myrelay: address 2 ($(refused_addr)): "*"Connection refused" ]]
}

@test "socat -lu: microsecond timestamps" {
    run --separate-stderr qioc -lu - "$(refused_addr)" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr =~ [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\ .*qioc:\ address\ 2 ]] ||
        { echo "# $stderr" >&2; return 1; }
}

@test "socat -lh: the host name in diagnostic lines" {
    local host
    host=$(uname -n)
    run --separate-stderr qioc -lh - "$(refused_addr)" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ ${stderr%%qioc: address 2*} == *"$host"* ]] ||
        { echo "# no host $host before 'qioc:' in: $stderr" >&2; return 1; }
}

@test "socat -lu -lh -lp NAME -lf FILE together" {
    run --separate-stderr qioc -lu -lh -lp nm -lf "$T/log" - "$(refused_addr)" </dev/null
    assert_status 1
    [[ -z $stderr ]]
    local line
    line=$(cat log)
    assert_one_line "$line"
    [[ $line =~ [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\ .*$(uname -n).*nm:\ address\ 2 ]] ||
        { echo "# $line" >&2; return 1; }
}

# ---------------------------------------------------------------- --dry-run

@test "--dry-run prints socat's spellings under their names, with every option" {
    run --separate-stderr qioc --dry-run \
        "TCP4-L:$P,so-reuseaddr,so-keepalive,tcp-nodelay" \
        "FILE:$T/x,o-append,o-creat,o-wronly,perm=0600,umask=022,readbytes=10"
    assert_status 0
    [[ -z $stderr ]]
    [[ ${#lines[@]} == 2 ]]
    [[ ${lines[0]} == "address 1: TCP4-LISTEN:$P,"* ]]
    local o
    for o in reuseaddr=1 keepalive=1 nodelay=1 fork=0 backlog=128 \
        accept-timeout=\(unset\) pf=\(unset\) shut=write; do
        assert_contains "${lines[0]}," ",$o,"
    done
    [[ ${lines[1]} == "address 2: FILE:$T/x,"* ]]
    for o in append=1 creat=1 wronly=1 trunc=0 excl=0 rdonly=0 mode=0600 \
        umask=0022 readbytes=10 ignoreeof=0; do
        assert_contains "${lines[1]}," ",$o,"
    done
    run --separate-stderr qioc --dry-run \
        "UNIX-L:$T/s,unlink" "EXEC:cat,pty,setsid,ctty,fdin=3,fdout=4,end-close"
    assert_status 0
    assert_contains "${lines[0]}," ",unlink-early=1,"
    for o in pty=1 setsid=1 ctty=1 nofork=0 fdin=3 fdout=4 end-close=1 stderr=0; do
        assert_contains "${lines[1]}," ",$o,"
    done
    run --separate-stderr qioc --dry-run TCP6-L:"$P",ipv6only \
        TCP:h:1,sp=4000,pf=ip4,connect-timeout=3
    assert_status 0
    assert_contains "${lines[0]}," ",ipv6only=1,"
    for o in sourceport=4000 pf=ip4 connect-timeout=3 retry=0 interval=1; do
        assert_contains "${lines[1]}," ",$o,"
    done
}

# dry_ipv6only ARGS...: the ipv6only= that --dry-run shows for address 1.
dry_ipv6only() {
    local line
    line=$(qioc --dry-run "$@" | sed -n 1p)
    line=${line#*,ipv6only=}
    echo "${line%%,*}"
}

@test "--dry-run shows the ipv6only= in effect: on for an IPv6 listener on every address" {
    local spec want got
    while read -r want spec; do
        # shellcheck disable=SC2086
        got=$(dry_ipv6only $spec -)
        [[ $got == "$want" ]] ||
            { echo "# $spec: ipv6only=$got, expected $want" >&2; return 1; }
    done <<EOF
1 TCP6-LISTEN:$P
1 TCP6-L:$P,bind=[::]:$P
0 TCP6-L:$P,ipv6only=0
0 TCP6-L:$P,bind=[::1]
1 TCP-L:$P,pf=ip6
0 TCP-L:$P
0 TCP4-L:$P
1 -6 TCP-L:$P
1 TLS-LISTEN:$P,cert=c.pem,pf=ip6
0 TCP6:[::1]:$P
EOF
}

@test "TCP6-LISTEN without ipv6only= is IPv6-only, as --dry-run says" {
    need_v6
    listen_once -u TCP6-L:"$P" -
    run --separate-stderr qioc -u - TCP4:127.0.0.1:"$P" <<<v4
    assert_error 2 "TCP4:127.0.0.1:$P" "Connection refused"
    run --separate-stderr qioc -u - "TCP6:[::1]:$P" <<<v6
    assert_status 0
    listener_ok
    [[ $(cat l.out) == v6 ]]
}

# ---------------------------------------------------------------- deliberate differences

@test "unlike socat's -t 0.5 default, qioc waits for the answer after end-of-file" {
    random_file in 64K
    bg_peer --port "$P" --ready "$T/ready" echo-after-eof --delay 1
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    qioc - TCP:127.0.0.1:"$P" <in >out
    assert_slower_than 900 "$start"
    assert_same in out
}

@test "unlike socat (exit 1), a usage error exits 2 and opens nothing" {
    run --separate-stderr qioc -u - CREATE:"$T/new",o-nosuch <<<x
    assert_usage_error o-nosuch
    [[ ! -e $T/new ]]
    run --separate-stderr qioc - TCP-L:"$P",fork,max-children=x
    assert_usage_error x
    refute tcp_listening "$P"
    run --separate-stderr qioc -,raw - </dev/null
    assert_usage_error raw
}
