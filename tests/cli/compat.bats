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
# environment of EXEC/SYSTEM children and their exit status, socat's
# SOCKS4, SOCKS4A and PROXY clients (through qioc's proxy servers).  Where
# qioc deliberately differs (the close timeout waits, usage errors exit 2)
# the documented qioc behaviour is asserted.  The cases socat can run too are
# run again with socat when it is installed, and its output and exit
# status must be qioc's (compare_socat); without socat only that
# comparison is skipped.

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

# ---------------------------------------------------------------- socat comparison

# Every case below that socat can run as well is run twice: with qioc,
# whose result the test then asserts, and, when socat is installed, with
# socat, whose stdout and exit status must be the same. Without socat only
# the comparison is skipped.

# relay ARGS...: the relay of this run ($RELAY: qioc, or socat in the
# comparison run), in the foreground and bounded like qioc.
relay() {
    if [[ ${RELAY:-qioc} == socat ]]; then
        timeout -k 5 "${QIOC_TIMEOUT:-20}" "${DEFAULT_SIGNALS[@]}" socat "$@"
    else
        qioc "$@"
    fi
}

# bg_relay ARGS...: the same in the background, as bg_qioc.
bg_relay() {
    if [[ ${RELAY:-qioc} == socat ]]; then
        bg "${DEFAULT_SIGNALS[@]}" socat "$@"
    else
        bg_qioc "$@"
    fi
}

# relay_run NAME FUNC ARGS...: FUNC ARGS with RELAY=NAME, in $T/NAME (a
# fresh directory, so that FIFOs and files of one run do not meet the
# other's) with stdin from $T/cmp.in; stdout, stderr and the status go to
# $T/NAME.out, $T/NAME.err and $T/NAME.status.
relay_run() {
    local name=$1 st=0
    shift
    rm -rf "${T:?}/$name"
    mkdir "$T/$name"
    cd "$T/$name" || return 1
    RELAY=$name "$@" <"$T/cmp.in" >"$T/$name.out" 2>"$T/$name.err" || st=$?
    cd "$T" || return 1
    echo "$st" >"$T/$name.status"
}

# show_run NAME: what a run printed, for a failure message.
show_run() {
    echo "# $1: exit $(cat "$T/$1.status"), stdout:" >&2
    head -c 400 "$T/$1.out" | od -c | sed 's/^/#   /' >&2
    echo "# $1 stderr:" >&2
    head -c 400 "$T/$1.err" | sed 's/^/#   /' >&2
}

# compare_socat [--output-only] FUNC ARGS...: run FUNC ARGS as qioc
# (RELAY=qioc), then as socat if it is installed, both reading what this
# function's stdin holds (redirect it: </dev/null when there is nothing to
# read). FUNC runs the relay with `relay` or `bg_relay`, in this shell, so
# what it leaves running is killed in teardown. Leaves the qioc run's
# stdout in $output and $lines, stderr in $stderr and the exit status in
# $status, as `run` would, for the qioc assertions. Fails when socat's stdout or exit status differs;
# --output-only compares stdout alone, for where qioc deliberately differs
# in the status (doc/grammar.md, "Diagnostics and exit status").
compare_socat() {
    local output_only=
    if [[ $1 == --output-only ]]; then
        output_only=1
        shift
    fi
    cat >"$T/cmp.in"
    relay_run qioc "$@"
    { output=$(cat "$T/qioc.out"); } 2>/dev/null
    stderr=$(cat "$T/qioc.err")
    status=$(cat "$T/qioc.status")
    lines=()
    [[ -z $output ]] || mapfile -t lines <<<"$output"
    command -v socat >/dev/null || return 0
    relay_run socat "$@"
    if ! cmp -s "$T/qioc.out" "$T/socat.out" ||
        [[ -z $output_only && $status != "$(cat "$T/socat.status")" ]]; then
        echo "# qioc and socat differ for: $*" >&2
        show_run qioc
        show_run socat
        return 1
    fi
}

# same_as_socat [--output-only] ARGS...: `relay ARGS` compared (see
# compare_socat): the same command line under qioc and socat.
same_as_socat() {
    local flags=()
    if [[ $1 == --output-only ]]; then
        flags=(--output-only)
        shift
    fi
    compare_socat "${flags[@]}" relay "$@"
}

# output_sha ARGS...: run `relay ARGS` into a file, print the size and
# sha256 of what it wrote, and return its status (binary data compares
# well as a digest).
output_sha() {
    local st=0
    relay "$@" >got || st=$?
    echo "$(stat -c %s got) $(sha got)"
    return "$st"
}

# ---------------------------------------------------------------- STDIN STDOUT STDERR

@test "socat STDIN STDOUT: one stream each way, a line passes" {
    printf 'one way\n' >in
    # Two-way, socat also reads STDOUT's descriptor and exits 1 (EBADF),
    # where STDOUT is write-only for qioc (doc/grammar.md, "Address
    # types"): output compared only.
    same_as_socat --output-only STDIN STDOUT <in
    assert_status 0
    [[ $output == "one way" ]]
    [[ -z $stderr ]]
    same_as_socat -u STDIN STDOUT <in
    assert_status 0
    [[ $output == "one way" ]]
}

# streams ARGS...: `relay ARGS`, then what it wrote to stdout and stderr.
streams() {
    local st=0
    relay "$@" >out 2>err || st=$?
    printf 'stdout: %s\nstderr: %s\n' "$(cat out)" "$(cat err)"
    return "$st"
}

@test "socat's glued short option values: -t1, -b8192, -T30, -rFILE" {
    # socat's test suite writes "-t 0.1 -t1": GOption alone would take
    # -t1 as -t with the next word as its value.
    run --separate-stderr qioc -t 0.1 -t1 -b8192 -T30 -r"$T/rec" - PIPE <<<hello
    assert_status 0
    [[ $output == hello && -z $stderr ]]
    [[ $(cat "$T/rec") == hello ]]
    run --separate-stderr qioc -t1x - PIPE </dev/null
    assert_status 2
    assert_contains "$stderr" "1x"
}

@test "socat -s (sloppy) is accepted: socat's range tests start their servers with it" {
    run --separate-stderr qioc -s - PIPE <<<hello
    assert_status 0
    [[ $output == hello && -z $stderr ]]
    # A bad command line still stops it, with exit status 2.
    run --separate-stderr qioc -s - TCP:127.0.0.1:1,nosuchoption </dev/null
    assert_status 2
}

@test "socat -u - STDERR: the data lands on stderr, nothing on stdout" {
    printf 'to stderr\n' >in
    compare_socat streams -u - STDERR <in
    assert_status 0
    [[ $output == $'stdout: \nstderr: to stderr' ]]
    # STDERR is write-only: without -u the same line still passes (socat
    # reads fd 2 as well and fails, so this is not compared).
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

@test "socat's bare path: a missing file is created, an existing one appended to" {
    # socat's GOPEN (what a bare path is) opens with O_CREAT when the file
    # is missing and O_APPEND when it exists: its FILE test reads and
    # writes "file,ignoreeof!!file" on a file that is not there yet.
    run --separate-stderr qioc -u - "$T/log" <<<first
    assert_status 0
    run --separate-stderr qioc -u - "$T/log" <<<second
    assert_status 0
    [[ $(cat "$T/log") == $'first\nsecond' ]]
    run --separate-stderr qioc -t 0.5 - "$T/echo,ignoreeof!!$T/echo" <<<hello
    assert_status 0
    [[ $output == hello ]]
}

# late_echo: `relay -t 0.1 - ./f,ignoreeof!!./f` whose line comes only once
# the file is there (its reader has found it empty and waits to look
# again), as in test.sh's FILE test on a busy machine.
late_echo() {
    local st=0
    mkfifo in
    # held open read-write, so that opening it for the relay never blocks
    exec 7<>in
    bg_relay -t 0.1 - "./f,ignoreeof!!./f" <in >out 2>err 7>&-
    local pid=$BG_PID
    poll 10 test -e f || return 1
    echo "late line" >&7
    exec 7>&-
    reap "$pid" 10 || return 1
    cat out
    return "$BG_STATUS"
}

@test "FILE,ignoreeof!!FILE with -t 0.1: a line written after the reader found the file empty is still echoed, as in socat" {
    compare_socat late_echo </dev/null
    assert_status 0
    [[ $output == "late line" ]]
}

@test "socat's nonblock and reuseaddr are taken where socat takes them" {
    run --separate-stderr qioc - PIPE:"$T/fifo",nonblock <<<hi
    assert_status 0
    [[ $output == hi ]]
    run --separate-stderr qioc --dry-run - TCP:127.0.0.1:9,nonblock
    assert_status 0
    # socat's UNIXLISTENFORK test: reuseaddr on a unix listener.
    run --separate-stderr qioc - UNIX-LISTEN:"$T/sock",reuseaddr,accept-timeout=0.1 </dev/null
    assert_status 1
    assert_contains "$stderr" "accept-timeout"
}

@test "socat PROXY: a status line with several spaces after the version" {
    # socat's PROXY2SPACES: "HTTP/1.0   200 OK" is a success.
    local P
    P=$(free_port)
    # shellcheck disable=SC2016
    bg_qioc TCP-LISTEN:"$P",bind=127.0.0.1 SYSTEM:'while read -r l && [ -n "$(printf %s "$l" | tr -d "\r")" ]; do :; done; printf "HTTP/1.0   200 OK\r\n\r\n"; exec cat'
    wait_port "$P"
    run --separate-stderr qioc -t 1 - PROXY:127.0.0.1:10.0.0.1:80,proxyport="$P" <<<through
    assert_status 0
    [[ $output == through ]]
}

@test "socat - PIPE: an unnamed pipe echoes (echo hi | qioc - PIPE)" {
    same_as_socat - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    [[ -z $stderr ]]
    random_file in 1M
    compare_socat output_sha - PIPE <in
    assert_status 0
    [[ $output == "$(stat -c %s in) $(sha in)" ]]
}

@test "socat - ECHO: the same echo" {
    same_as_socat - ECHO <<<hi
    assert_status 0
    [[ $output == hi ]]
}

# fifo_read_until_closed: `relay -u FIFO:ff -` gets what a shell writes
# into the FIFO; prints it.
fifo_read_until_closed() {
    bg_relay -u FIFO:ff - >out 2>err
    local pid=$BG_PID
    poll 10 test -p ff || return 1
    printf 'through the fifo\n' >ff
    # The writer has closed: the reader sees end-of-file and ends.
    if ! reap "$pid" 5; then
        echo "still running 5 s after the writer closed"
        return 1
    fi
    cat out
    [[ -e ff ]] || echo "ff removed"
    return "$BG_STATUS"
}

@test "socat -u FIFO:path -: the FIFO is created, a writer's data is read until it closes, the FIFO is removed" {
    compare_socat fifo_read_until_closed </dev/null
    assert_status 0
    [[ $output == "through the fifo"$'\n'"ff removed" ]]
}

# fifo_to_cat: stdin through `relay -u - PIPE:ff` to a cat reading ff.
fifo_to_cat() {
    local st=0
    mkfifo ff
    bg cat ff >got
    local cpid=$BG_PID
    relay -u - PIPE:ff || st=$?
    reap "$cpid" || return 1
    cat got
    [[ -p ff ]] && echo "ff kept"
    return "$st"
}

@test "socat -u - PIPE:path: a reader of the FIFO gets the data; a FIFO that was there stays" {
    compare_socat fifo_to_cat <<<"into the fifo"
    assert_status 0
    [[ $output == "into the fifo"$'\n'"ff kept" ]]
}

# unlink_close ADDRESS: `relay -u - ADDRESS` on the path uc (a FIFO read
# by a cat when ADDRESS is a PIPE), then whether uc is still there.
unlink_close() {
    local st=0 cpid=
    if [[ $1 == PIPE:* ]]; then
        [[ $1 == *unlink-close,* || $1 == *unlink-close ]] && mkfifo uc
        bg sh -c 'while [ ! -p uc ]; do sleep 0.01; done; exec cat uc' >got
        cpid=$BG_PID
    fi
    relay -u - "$1" || st=$?
    [[ -z $cpid ]] || reap "$cpid" || return 1
    [[ -e uc ]] && echo "uc kept" || echo "uc removed"
    rm -f uc
    return "$st"
}

@test "unlink-close: CREATE, FILE and GOPEN keep their file unless it is given; a FIFO qioc made goes unless unlink-close=0, one that was there stays; as in socat" {
    local a
    for a in CREATE:uc,unlink-close CREATE:uc FILE:uc,creat,unlink-close=1 \
        GOPEN:uc,unlink-close PIPE:uc,unlink-close=0 PIPE:uc PIPE:uc,unlink-close; do
        compare_socat unlink_close "$a" <<<"to $a"
        assert_status 0
        case $a in
        *unlink-close=0 | CREATE:uc | PIPE:uc,unlink-close) want="uc kept" ;;
        *) want="uc removed" ;;
        esac
        [[ $output == "$want" ]] || { echo "# $a: $output" >&2; return 1; }
    done
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

# fifo_writer_first: `relay -u - PIPE:ff` fed $T/in waits for a reader,
# then `relay -u PIPE:ff -` reads; prints the size and digest it got.
fifo_writer_first() {
    local st=0
    bg_relay -u - PIPE:ff <"$T/in" 2>w.err
    local wpid=$BG_PID
    # The writer waits for a reader instead of writing into a FIFO nobody
    # reads (and losing that data when it ends first).
    poll 10 fifo_waiting "$wpid" || return 1
    QIOC_TIMEOUT=10 output_sha -u PIPE:ff - || st=$?
    reap "$wpid" || return 1
    echo "writer: exit $BG_STATUS"
    return "$st"
}

@test "FIFO between two qioc processes, the writer first: it waits for the reader, nothing is lost" {
    random_file in 4M
    compare_socat fifo_writer_first </dev/null
    assert_status 0
    [[ $output == "$(stat -c %s in) $(sha in)"$'\n'"writer: exit 0" ]] ||
        { cat qioc/w.err >&2; return 1; }
}

# fifo_message_first: a short message written into ff before any reader
# opens it; prints what a later `cat ff` gets.
fifo_message_first() {
    bg_relay -u - PIPE:ff
    local wpid=$BG_PID
    poll 10 fifo_waiting "$wpid" || return 1
    timeout 5 cat ff || return 1
    reap "$wpid" || return 1
    [[ -e ff ]] || echo "ff removed"
    return "$BG_STATUS"
}

@test "FIFO: a short message written before any reader opens still arrives; the FIFO made for it is removed" {
    compare_socat fifo_message_first <<<x
    assert_status 0
    [[ $output == x$'\n'"ff removed" ]]
}

# fifo_then_refused: PIPE:ff opened, then the other address refused;
# prints whether the FIFO made for the connection is still there.
fifo_then_refused() {
    local st=0
    relay PIPE:ff "$(refused_addr)" 2>/dev/null || st=$?
    [[ -e ff ]] && echo "ff left" || echo "ff removed"
    return "$st"
}

@test "FIFO made for a connection whose other address is refused: removed, exit 1" {
    compare_socat fifo_then_refused </dev/null
    assert_status 1
    [[ $output == "ff removed" ]]
}

# fifo_reader_first: `relay -u PIPE:ff -` waits for a writer, then
# `relay -u - PIPE:ff` writes $T/in; prints the size and digest read.
fifo_reader_first() {
    local st=0
    bg_relay -u PIPE:ff - >got 2>r.err
    local rpid=$BG_PID
    poll 10 test -p ff || return 1
    QIOC_TIMEOUT=10 relay -u - PIPE:ff <"$T/in" || st=$?
    reap "$rpid" || return 1
    echo "$(stat -c %s got) $(sha got), reader: exit $BG_STATUS"
    return "$st"
}

@test "FIFO between two qioc processes, the reader first" {
    random_file in 4M
    compare_socat fifo_reader_first </dev/null
    assert_status 0
    [[ $output == "$(stat -c %s in) $(sha in), reader: exit 0" ]] ||
        { cat qioc/r.err >&2; return 1; }
}

# fifo_backwards: `relay -U PIPE:ff -`, then `cat ff`.
fifo_backwards() {
    bg_relay -U PIPE:ff -
    local wpid=$BG_PID
    poll 10 fifo_waiting "$wpid" || return 1
    timeout 5 cat ff || return 1
    reap "$wpid" || return 1
    return "$BG_STATUS"
}

@test "-U into a FIFO given first: written only, it waits for its reader" {
    compare_socat fifo_backwards <<<backwards
    assert_status 0
    [[ $output == backwards ]]
}

@test "echo hi | qioc - PIPE:path: the FIFO echoes, then end-of-file, exit 0" {
    QIOC_TIMEOUT=5 same_as_socat - PIPE:ff <<<hi
    assert_status 0
    [[ $output == hi ]]
    [[ -z $stderr ]]
    random_file in 1M
    QIOC_TIMEOUT=10 compare_socat output_sha - PIPE:ff <in
    assert_status 0
    [[ $output == "$(stat -c %s in) $(sha in)" ]]
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

# gopen_file: read $T/src through GOPEN, then write stdin into an
# existing file through GOPEN; prints both.
gopen_file() {
    local st=0
    relay -u GOPEN:"$T/src" - || st=$?
    : >dst
    relay -u - GOPEN:"$PWD/dst" || st=$?
    echo "dst: $(cat dst)"
    return "$st"
}

@test "socat GOPEN on a regular file: read from it, write into it" {
    printf 'file content\n' >src
    compare_socat gopen_file <<<"written in"
    assert_status 0
    [[ $output == $'file content\ndst: written in' ]]
}

# unix_echo SPEC-PREFIX: a peer that echoes after end-of-file on the unix
# socket ./s, and `relay - SPEC-PREFIX$PWD/s` talking to it.
unix_echo() {
    bg_peer --unix "$PWD/s" --ready ready echo-after-eof
    wait_file ready || return 1
    relay - "$1$PWD/s"
}

@test "socat GOPEN on a unix socket connects to it" {
    compare_socat unix_echo GOPEN: <<<"over gopen"
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

# bare_fd: the shortcut N for FD:N, both ways.
bare_fd() {
    local st=0
    relay -u - 5 5>out || st=$?
    echo "fd 5 got: $(cat out)"
    relay -u 5 - 5<"$T/in" || st=$?
    return "$st"
}

@test "a bare number is FD:N (qioc -u - 5 5>out, qioc -u 5 - 5<in)" {
    printf 'fd five\n' >in
    compare_socat bare_fd <in
    assert_status 0
    [[ $output == $'fd 5 got: fd five\nfd five' ]]
}

# bare_path: a bare path with / as GOPEN: ./file, an absolute path.
bare_path() {
    local st=0
    : >out
    relay -u - ./out <"$T/in" || st=$?
    echo "./out got: $(cat out)"
    relay -u "$T/in" - || st=$?
    return "$st"
}

@test "a bare path with / is GOPEN: ./file, an absolute path, a socket" {
    printf 'bare path\n' >in
    compare_socat bare_path </dev/null
    assert_status 0
    [[ $output == $'./out got: bare path\nbare path' ]]
    compare_socat unix_echo "" <in
    assert_status 0
    [[ $output == "bare path" ]]
}

# listen_pair LISTEN CONNECT [OTHER]: a listener (LISTEN, where %P is a
# fresh port and %S the socket ./s) whose other address is OTHER (default
# `-` reading $T/l.in), and a client (CONNECT) sending stdin. Prints what
# the client got, then the listener's output and status.
listen_pair() {
    local port st=0 lspec cspec
    port=$(free_port)
    lspec=${1//%P/$port}
    lspec=${lspec//%S/$PWD/s}
    cspec=${2//%P/$port}
    cspec=${cspec//%S/$PWD/s}
    [[ -e $T/l.in ]] || : >"$T/l.in"
    bg_relay "$lspec" "${3:--}" <"$T/l.in" >l.out 2>l.err
    local lpid=$BG_PID
    if [[ $1 == *%S* ]]; then
        wait_socket "$PWD/s" || return 1
    else
        wait_port "$port" || return 1
        # TCP-LISTEN is dual-stack in qioc, IPv4 in socat (doc/grammar.md,
        # "Address types"): the family is shown for the types that name one.
        if [[ $1 == TCP[46]* ]]; then
            tcp_listening_family "$port" 4 && echo "listening on IPv4"
            tcp_listening_family "$port" 6 && echo "listening on IPv6"
        fi
    fi
    relay - "$cspec" || st=$?
    reap "$lpid" || return 1
    echo "listener: $(cat l.out), exit $BG_STATUS"
    return "$st"
}

@test "socat TCP4-L:P and TCP4-CONNECT:127.0.0.1:P carry data both ways" {
    printf 'from listener\n' >l.in
    compare_socat listen_pair TCP4-L:%P TCP4-CONNECT:127.0.0.1:%P \
        <<<"from client"
    assert_status 0
    [[ $output == $'listening on IPv4\nfrom listener\nlistener: from client, exit 0' ]]
}

@test "socat TCP6-L:P and TCP6:[::1]:P carry data both ways" {
    need_v6
    printf 'from listener\n' >l.in
    compare_socat listen_pair TCP6-L:%P "TCP6:[::1]:%P" <<<"from client"
    assert_status 0
    [[ $output == $'listening on IPv6\nfrom listener\nlistener: from client, exit 0' ]]
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

# sourceport_seen OPT: connect with OPT=PORT (sourceport or sp) to a peer
# that records its clients; says whether it saw that port.
sourceport_seen() {
    local sp port st=0
    sp=$(free_port)
    port=$(free_port)
    bg_peer --port "$port" --ready ready --events ev hold
    local ppid=$BG_PID
    wait_file ready || return 1
    relay -u - TCP:127.0.0.1:"$port,$1=$sp" || st=$?
    reap "$ppid" || return 1
    if file_has ev "peer 127.0.0.1 $sp"; then
        echo "the peer saw $1"
    else
        cat ev
    fi
    return "$st"
}

@test "sourceport= and sp=: the server sees that client port" {
    local opt
    for opt in sourceport sp; do
        compare_socat sourceport_seen "$opt" <<<x
        assert_status 0
        [[ $output == "the peer saw $opt" ]]
    done
}

@test "accept-timeout: no client in time, exit 1 naming accept-timeout" {
    # socat ends the same way, silently and with status 0: qioc says so and
    # exits 1 (doc/grammar.md, "Listeners and fork"), so only the output
    # is compared.
    same_as_socat --output-only TCP-L:"$P",accept-timeout=0.5 - </dev/null
    assert_error 1 "TCP-L:$P,accept-timeout=0.5" "no client within 0.5 s (accept-timeout)"
    [[ -z $output ]]
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

@test "socat's so-reuseaddr, so-keepalive, tcp-nodelay: the same transfer as socat's" {
    printf 'from listener\n' >l.in
    compare_socat listen_pair TCP-L:%P,so-reuseaddr,so-keepalive,tcp-nodelay \
        TCP:127.0.0.1:%P,so-keepalive,tcp-nodelay <<<"from client"
    assert_status 0
    [[ $output == $'from listener\nlistener: from client, exit 0' ]]
}

# ---------------------------------------------------------------- UDP

# udp_oneway RECV-OPTS SEND-TYPE: a receiver `-u UDP-RECV:P,RECV-OPTS -`
# and a sender `-u - SEND-TYPE:127.0.0.1:P` fed this function's stdin;
# prints what the receiver wrote once all of it has arrived.
udp_oneway() {
    local port size
    port=$(free_port)
    bg_relay -u "UDP-RECV:$port,$1" - >r.out 2>r.err
    local rpid=$BG_PID
    wait_udp "$port" || return 1
    cat >sent
    size=$(stat -c %s sent)
    relay -u - "$2:127.0.0.1:$port" <sent || return 1
    poll 10 file_size_at_least r.out "$size" || return 1
    kill -TERM "$rpid"
    reap "$rpid"
    cat r.out
}

@test "socat -u UDP-RECV:P - and -u - UDP-SENDTO:HOST:P: the line arrives" {
    compare_socat udp_oneway bind=127.0.0.1 UDP-SENDTO <<<"a datagram, said once"
    assert_status 0
    [[ $output == "a datagram, said once" ]]
}

@test "socat UDP4-DATAGRAM:HOST:P as the sender: the same" {
    compare_socat udp_oneway bind=127.0.0.1 UDP4-DATAGRAM <<<"sent by UDP-DATAGRAM"
    assert_status 0
    [[ $output == "sent by UDP-DATAGRAM" ]]
}

# udp_pair: `UDP-LISTEN:P -` answers `- UDP:127.0.0.1:P` with l.in once
# the client's first datagram came; both end 0.5 s (-t) after their stdin.
udp_pair() {
    local port st=0
    port=$(free_port)
    bg_relay UDP4-LISTEN:"$port",bind=127.0.0.1 - <"$T/l.in" >l.out 2>l.err
    local lpid=$BG_PID
    wait_udp "$port" || return 1
    relay - UDP4:127.0.0.1:"$port" || st=$?
    reap "$lpid" || return 1
    echo "listener: $(cat l.out), exit $BG_STATUS"
    return "$st"
}

@test "socat UDP4-LISTEN:P and UDP4:127.0.0.1:P: a line each way, both exit 0" {
    printf 'from listener\n' >l.in
    compare_socat udp_pair <<<"from client"
    assert_status 0
    [[ $output == $'from listener\nlistener: from client, exit 0' ]]
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
    # socat's listener asks for a client certificate unless verify=0.
    printf 'from listener\n' >l.in
    compare_socat listen_pair SSL-L:%P,cert="$CERTS/server-both.pem",verify=0 \
        OPENSSL-CONNECT:127.0.0.1:%P,verify=0 <<<"from client"
    assert_status 0
    [[ $output == $'from listener\nlistener: from client, exit 0' ]]
}

@test "OPENSSL-LISTEN and OPENSSL with cafile=: the server is verified" {
    need_certs
    random_file in 256K
    listen_once OPENSSL-LISTEN:"$P",cert="$CERTS/server-both.pem" EXEC:cat
    qioc - OPENSSL:localhost:"$P",cafile="$CERTS/server.pem" <in >out
    listener_ok
    assert_same in out
    printf 'from listener\n' >l.in
    compare_socat listen_pair \
        OPENSSL-LISTEN:%P,cert="$CERTS/server-both.pem",verify=0 \
        OPENSSL:localhost:%P,cafile="$CERTS/server.pem" <<<"from client"
    assert_status 0
    [[ $output == $'from listener\nlistener: from client, exit 0' ]]
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
    for type in UNIX-CLIENT LOCAL UNIX UNIX-CONNECT; do
        compare_socat unix_echo "$type:" <<<"unix data"
        assert_status 0
        [[ $output == "unix data" ]]
    done
}

@test "socat UNIX-L:path and UNIX-CLIENT:path carry data both ways" {
    printf 'from listener\n' >l.in
    compare_socat listen_pair UNIX-L:%S UNIX-CLIENT:%S <<<"from client"
    assert_status 0
    [[ $output == $'from listener\nlistener: from client, exit 0' ]]
}

# Not compared: socat 1.7.4 refuses the stale file ("exists") even with
# unlink; qioc's unlink is unlink-early, as doc/grammar.md says ("Address
# options").
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

# created_files: perm= and umask= on created files, through socat's
# CREAT and OPEN spellings and the create option too; prints each file's
# mode and content.
created_files() {
    local f st=0
    relay -u - CREATE:"$PWD/c1",perm=0640 <<<one || st=$?
    relay -u - CREAT:"$PWD/c2",umask=077 <<<two || st=$?
    relay -u - OPEN:"$PWD/c3",o-creat,perm=0604 <<<three || st=$?
    relay -u - OPEN:"$PWD/c4",create,perm=0604 <<<four || st=$?
    for f in c1 c2 c3 c4; do
        echo "$f $(stat -c %a "$f") $(relay -u OPEN:"$PWD/$f" -)"
    done
    return "$st"
}

# existing_file_attrs: the file-system options on a file that exists:
# perm= is for files the relay creates, perm-late= and perm-early= change
# any file, user= and group= own any file (root only). Prints mode, owner.
existing_file_attrs() {
    local st=0
    : >f
    chmod 644 f
    chown nobody f
    relay -u - OPEN:"$PWD/f",perm=0600,user=root,group=daemon <<<a || st=$?
    echo "perm, user, group: $(stat -c '%a %U %G' f)"
    relay -u - OPEN:"$PWD/f",perm-late=0640 <<<b || st=$?
    echo "perm-late: $(stat -c '%a' f)"
    relay -u - OPEN:"$PWD/f",perm-early=0604 <<<c || st=$?
    echo "perm-early: $(stat -c '%a' f)"
    return "$st"
}

@test "socat's user=, group=, perm-late= and perm-early= on an existing file (root only)" {
    [[ $(id -u) == 0 ]] || skip "needs root to give files away"
    compare_socat existing_file_attrs </dev/null
    assert_status 0
    [[ $output == $'perm, user, group: 644 root daemon\nperm-late: 640\nperm-early: 604' ]]
}

@test "socat's perm= and umask= on created files, its CREAT and OPEN, and create" {
    compare_socat created_files </dev/null
    assert_status 0
    [[ $output == $'c1 640 one\nc2 600 two\nc3 604 three\nc4 604 four' ]]
}

# ---------------------------------------------------------------- file options

# file_flags: the o-* options on one file in turn; prints the file (or
# the exit status) after each step.
file_flags() {
    local st=0
    relay -u - FILE:"$PWD/f",o-creat,o-wronly <<<first
    echo "o-creat: $(cat f)"
    relay -u - FILE:"$PWD/f",o-wronly,o-append <<<second
    echo "o-append: $(cat f)"
    relay -u - FILE:"$PWD/f",o-wronly,o-trunc <<<third
    echo "o-trunc: $(cat f)"
    relay -u FILE:"$PWD/f",o-rdonly -
    relay -u - FILE:"$PWD/f",o-creat,o-excl <<<x 2>/dev/null || st=$?
    echo "o-excl: exit $st, $(cat f)"
}

@test "socat's o-creat, o-wronly, o-trunc, o-append, o-excl, o-rdonly on real files" {
    compare_socat file_flags </dev/null
    assert_status 0
    [[ $output == $'o-creat: first\no-append: first\nsecond\no-trunc: third\nthird\no-excl: exit 1, third' ]]
    run --separate-stderr qioc -u - FILE:"$T/qioc/f",o-creat,o-excl <<<x
    assert_error 2 "FILE:$T/qioc/f,o-creat,o-excl" "File exists"
}

# follow_growing: `relay -T 2 -u FILE:g,ignoreeof -` while a line is
# appended to g; prints what it read.
follow_growing() {
    printf 'one\n' >g
    bg_relay -T 2 -u FILE:g,ignoreeof - >out 2>err
    local pid=$BG_PID
    wait_line out one || return 1
    printf 'two\n' >>g
    wait_line out two || return 1
    reap "$pid" 15 || return 1
    cat out
    return "$BG_STATUS"
}

@test "socat -u FILE:growing,ignoreeof - keeps printing what is appended; -T ends it, exit 0" {
    compare_socat follow_growing </dev/null
    assert_status 0 || { cat qioc/err >&2; return 1; }
    [[ $output == $'one\ntwo' ]]
}

# opened_at_end PID FILE: PID has FILE open, its offset at FILE's end.
opened_at_end() {
    local fd want size
    want=$(realpath "$2")
    size=$(stat -c %s "$2")
    for fd in /proc/"$1"/fd/*; do
        [[ $(readlink "$fd") == "$want" ]] || continue
        grep -q "^pos:[[:space:]]*$size\$" /proc/"$1"/fdinfo/"${fd##*/}" && return 0
    done
    return 1
}

# follow_from_end: `relay -T 2 -u FILE:g,ignoreeof,seek-end -` on a log
# with a line in it, then one more line once it is at the end.
follow_from_end() {
    printf 'old\n' >g
    bg_relay -T 2 -u FILE:g,ignoreeof,seek-end - >out 2>err
    local pid=$BG_PID
    poll 10 opened_at_end "$pid" g || return 1
    printf 'new\n' >>g
    wait_line out new || return 1
    reap "$pid" 15 || return 1
    cat out
    return "$BG_STATUS"
}

@test "socat's EXAMPLES log follower FILE:log,ignoreeof,seek-end: seek-end alone is the end, only new lines come" {
    # Not compared: socat 1.7.4 reads the bare option as 1 and starts a
    # byte past the end, losing the first byte of the next line.
    cd "$T"
    follow_from_end </dev/null >got || { cat err >&2; return 1; }
    [[ $(cat got) == new ]]
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

# readbytes_tcp N: `relay TCP:...,readbytes=N -` from a peer sending $T/in.
readbytes_tcp() {
    local port
    port=$(free_port)
    bg_peer --port "$port" --ready ready xfer --send "$T/in" --recv sent
    wait_file ready || return 1
    output_sha TCP:127.0.0.1:"$port",readbytes="$1" -
}

@test "readbytes=N: exactly N bytes pass (FILE, and over TCP)" {
    random_file in 100K
    compare_socat output_sha -u FILE:"$T/in",readbytes=1000 - </dev/null
    assert_status 0
    [[ $output == "1000 $(head -c 1000 in | sha256sum | cut -d' ' -f1)" ]]
    compare_socat readbytes_tcp 4097 </dev/null
    assert_status 0
    [[ $output == "4097 $(head -c 4097 in | sha256sum | cut -d' ' -f1)" ]]
}

@test "bytes= is socat's other name of readbytes=" {
    random_file in 100K
    compare_socat output_sha -u FILE:"$T/in",bytes=1000 - </dev/null
    assert_status 0
    [[ $output == "1000 $(head -c 1000 in | sha256sum | cut -d' ' -f1)" ]]
}

@test "readbytes=0 is no limit, as in socat: everything passes" {
    random_file in 100K
    compare_socat output_sha -u FILE:"$T/in",readbytes=0 - </dev/null
    assert_status 0
    [[ $output == "$(stat -c %s in) $(sha in)" ]]
    same_as_socat -,readbytes=0 PIPE <<<abcdef
    assert_status 0
    [[ $output == abcdef ]]
}

@test "socat's -,raw idiom: -,readbytes=3 is STDIO with options" {
    same_as_socat -u -,readbytes=3 - <<<abcdef
    assert_status 0
    [[ $output == abc ]]
    # Both ways: three bytes of stdin go into the echo and come back.
    same_as_socat -,readbytes=3 PIPE <<<abcdef
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
    # Which pts it is differs; that tty(1) succeeds on it does not.
    same_as_socat - "SYSTEM:tty >/dev/null && echo on a tty,pty" </dev/null
    assert_status 0
    [[ $output == "on a tty"$'\r' ]]
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

# nofork_to_file SCRIPT: `relay - EXEC:SCRIPT,nofork` with stdout a file;
# prints the file.
nofork_to_file() {
    local st=0
    relay - EXEC:"$1",nofork >out || st=$?
    cat out
    return "$st"
}

@test "nofork: the child writes to the other address's descriptor itself" {
    script nf 'readlink /proc/$$/fd/1' 'tr a-z A-Z'
    qioc - EXEC:"$T/nf",nofork <<<hello >out
    [[ $(sed -n 1p out) == "$(realpath out)" ]]
    [[ $(sed -n 2p out) == HELLO ]]
    script nff 'test -f /dev/stdout && echo on-file' 'tr a-z A-Z'
    compare_socat nofork_to_file "$T/nff" <<<hello
    assert_status 0
    [[ $output == $'on-file\nHELLO' ]]
    # Behind a listener the child runs on the client's socket.
    script nfs 'test -S /dev/stdin && test -S /dev/stdout && echo on-socket' \
        'tr a-z A-Z'
    compare_socat listen_pair TCP-L:%P TCP:127.0.0.1:%P EXEC:"$T/nfs",nofork \
        <<<hello
    assert_status 0
    [[ $output == $'on-socket\nHELLO\nlistener: , exit 0' ]]
}

@test "fdin= and fdout=: the child reads and writes other descriptors" {
    script fds 'echo on-fd-5 >&5' 'tr a-z A-Z <&4 >&5'
    same_as_socat - EXEC:"$T/fds",fdin=4,fdout=5 <<<hello
    assert_status 0
    [[ $output == $'on-fd-5\nHELLO' ]]
}

@test "fdout= where qioc only writes to the child (and fdin= where it only reads) is an error, as in socat" {
    same_as_socat -u /dev/null EXEC:cat,fdout=1
    assert_status 1
    same_as_socat -U /dev/null EXEC:cat,fdin=0
    assert_status 1
    run --separate-stderr qioc -u /dev/null EXEC:cat,fdout=1
    assert_status 1
    [[ $stderr == *"option fdout is useless here: qioc only writes to this child"* ]]
    # The half of A!!B that only writes, likewise; the reading half may.
    run --separate-stderr qioc - 'STDIN!!EXEC:cat,fdout=1' </dev/null
    assert_status 1
    [[ $stderr == *"option fdout is useless here"* ]]
    run --separate-stderr qioc -u - 'EXEC:cat,fdin=0' <<<still-fine
    assert_status 0
    [[ $output == still-fine ]]
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

@test "EXEC behind TCP-L also gets socat's SOCAT_PEERADDR/PORT, SOCAT_SOCKADDR/PORT, SOCAT_PID, SOCAT_PPID" {
    local sp
    sp=$(free_port)
    printf '#!/bin/sh\necho "parent=$PPID"\nenv | grep ^SOCAT_ | sort\n' >"$T/showenv"
    chmod +x "$T/showenv"
    listen_once TCP-L:"$P" EXEC:"$T/showenv"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",sp="$sp" </dev/null
    assert_status 0
    listener_ok
    local parent want
    parent=$(sed -n 's/^parent=//p' <<<"$output")
    [[ -n $parent ]]
    for want in SOCAT_PEERADDR=127.0.0.1 "SOCAT_PEERPORT=$sp" \
        SOCAT_SOCKADDR=127.0.0.1 "SOCAT_SOCKPORT=$P" \
        "SOCAT_PID=$parent" "SOCAT_PPID=$parent"; do
        grep -qxF "$want" <<<"$output" ||
            { echo "# no $want in:" >&2; echo "$output" >&2; return 1; }
    done
}

@test "EXEC behind TCP6-L: SOCAT_PEERADDR/SOCKADDR in socat's bracketed IPv6 form, QIOC_ ones compact" {
    v6_usable || skip "no IPv6 loopback"
    listen_once TCP6-L:"$P" "SYSTEM:'env | grep -E ^\(SOCAT\|QIOC\)_\(PEER\|SOCK\)ADDR= | sort'"
    run --separate-stderr qioc - TCP6:[::1]:"$P" </dev/null
    assert_status 0
    listener_ok
    local want
    for want in "SOCAT_PEERADDR=[0000:0000:0000:0000:0000:0000:0000:0001]" \
        "SOCAT_SOCKADDR=[0000:0000:0000:0000:0000:0000:0000:0001]" \
        QIOC_PEERADDR=::1 QIOC_SOCKADDR=::1; do
        grep -qxF "$want" <<<"$output" ||
            { echo "# no $want in:" >&2; echo "$output" >&2; return 1; }
    done
}

@test "EXEC as the first address, opened before its peer: SOCAT_PID only" {
    printf '#!/bin/sh\nenv | grep ^SOCAT_ | cut -d= -f1 | sort | tr "\\n" " "\n' >"$T/showenv"
    chmod +x "$T/showenv"
    run --separate-stderr qioc -u EXEC:"$T/showenv" -
    assert_status 0
    [[ $output == "SOCAT_PID SOCAT_PPID " ]] || { echo "# got: $output" >&2; return 1; }
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
    # What the user sees on the terminal; what reaches syslog is checked
    # with a /dev/log of the test's own in tests/cli/logging.bats.
    run --separate-stderr qioc -ly - "$(refused_addr)" </dev/null
    assert_status 1
    [[ -z $stderr ]]
    run --separate-stderr qioc -lydaemon -d - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    [[ -z $stderr ]]
}

@test "-ly, -lm, --syslog and --log-mixed never take the next word as the facility" {
    # socat's -ly[FACILITY] takes a facility only glued on; GOption would
    # have made the address after it one ("unknown syslog facility").
    local opt
    for opt in -ly --syslog; do
        run --separate-stderr qioc "$opt" "$(refused_addr)" - </dev/null
        assert_status 1
        [[ -z $stderr ]] || { echo "# $opt: $stderr" >&2; return 1; }
    done
    # -lm reports on stderr until data moves: the refused connect.
    for opt in -lm --log-mixed; do
        run --separate-stderr qioc "$opt" "$(refused_addr)" - </dev/null
        assert_status 1
        assert_contains "$stderr" "Connection refused"
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
    for o in reuseaddr=1 keepalive=1 nodelay=1 fork=0 backlog=4096 \
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

# ---------------------------------------------------------------- dual addresses

@test "socat STDIN!!STDOUT EXEC: one MiB of binary data through a child and back, intact" {
    random_file in 1M
    compare_socat output_sha 'STDIN!!STDOUT' 'SYSTEM:cat' <in
    assert_status 0
    [[ $output == "1048576 $(sha in)" ]]
}

@test "socat STDIN!!STDOUT EXEC, both ways and with -U" {
    printf 'shout\n' >in
    same_as_socat 'STDIN!!STDOUT' 'EXEC:tr a-z A-Z' <in
    assert_status 0
    [[ $output == SHOUT ]]
    same_as_socat -U 'STDIN!!STDOUT' 'SYSTEM:echo from child' </dev/null
    assert_status 0
    [[ $output == "from child" ]]
}

@test "socat -u FILE!!STDOUT STDIN!!CREATE: a file copied through both halves' reading and writing ends" {
    random_file in 300K
    compare_socat relay -u "FILE:$T/in!!STDOUT" 'STDIN!!CREATE:out' </dev/null
    assert_status 0
    [[ -z $output ]]
    assert_same in qioc/out
    if [[ -e socat/out ]]; then
        assert_same in socat/out
    fi
}

@test "socat SYSTEM!!STDOUT STDIN!!STDERR: each direction lands where its half says" {
    printf 'typed\n' >in
    compare_socat streams 'SYSTEM:echo child!!STDOUT' \
        'STDIN!!STDERR' <in
    assert_status 0
    [[ $output == $'stdout: typed\nstderr: child' ]]
}

@test "a dual address starting with '-' is STDIO's, not an option: -!!STDERR" {
    printf 'dash\n' >in
    run --separate-stderr qioc '-!!STDERR' 'SYSTEM:cat' <in
    assert_status 0
    [[ $stderr == dash && -z $output ]]
}

# listen_half PORT: the first address listens for one client and reads it;
# what the second address answers goes to stdout.
listen_half() {
    bg_relay "TCP4-LISTEN:$1,reuseaddr!!STDOUT" 'SYSTEM:echo answer; cat >got'
    local pid=$BG_PID
    wait_port "$1" || return 1
    printf 'from the client\n' | qioc -u - TCP4:127.0.0.1:"$1"
    wait_pid_exit "$pid" 10
    reap "$pid"
}

@test "socat TCP-LISTEN!!STDOUT: the listening half takes one client, answers go to stdout" {
    compare_socat listen_half "$P" </dev/null
    [[ $(cat qioc.out) == answer ]]
    [[ $(cat qioc/got) == "from the client" ]]
}

@test "a connecting half: -u TCP!!STDOUT STDIN!!CREATE copies a server into a file; refused: one line, exit 1" {
    random_file in 200K
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/in"
    wait_file "$T/ready"
    run --separate-stderr qioc -u "TCP:127.0.0.1:$P!!STDOUT" 'STDIN!!CREATE:out'
    assert_status 0
    assert_same in out
    local closed
    closed=$(free_port)
    run --separate-stderr qioc "TCP:127.0.0.1:$closed!!CREATE:out" - </dev/null
    assert_error 1 "TCP:127.0.0.1:$closed!!CREATE:out" "Connection refused"
}

@test "dual-address mistakes are usage errors naming the address: fork or nofork in a half, an empty half, two !!" {
    run --separate-stderr qioc "TCP-LISTEN:$P,fork!!STDOUT" -
    assert_usage_error fork
    refute tcp_listening "$P"
    run --separate-stderr qioc 'STDIN!!EXEC:cat,nofork' -
    assert_usage_error nofork
    run --separate-stderr qioc '!!STDOUT' -
    assert_usage_error '!!'
    run --separate-stderr qioc 'STDIN!!STDOUT!!STDERR' -
    assert_usage_error '!!'
    run --separate-stderr qioc 'STDOUT!!STDIN' - </dev/null
    assert_error 1 'STDOUT!!STDIN' 'STDOUT cannot be read'
}

@test "--dry-run shows both halves with their options; quotes keep a literal !!" {
    run --separate-stderr qioc --dry-run 'STDIN,readbytes=3!!CREATE:o,perm=600' \
        "SYSTEM:'echo a!!b'"
    assert_status 0
    [[ ${lines[0]} == "address 1: STDIN,"*",readbytes=3,"*"!!CREATE:o,mode=0600,"* ]]
    [[ ${lines[1]} == "address 2: SYSTEM:'echo a!!b',"* ]]
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
    run --separate-stderr qioc -,cool-write - </dev/null
    assert_usage_error cool-write
}

# ---------------------------------------------------------------- terminals and text

# crnl_dialogue: an SMTP-like dialogue with a server that insists on CR LF,
# through `relay - TCP:...,crnl`.
crnl_dialogue() {
    bg "$PYTHON3" "$QIOC_TESTS/crlfpeer.py" --ready ready --received got
    wait_file ready
    relay - "TCP:127.0.0.1:$(cat ready),crnl"
    wait_file got
    od -An -c got | tr -d ' \n'
}

@test "crnl: socat's SMTP-by-hand line gives the server CR LF and the user NL, as socat's does" {
    compare_socat crnl_dialogue <<<$'HELO compat\nQUIT'
    assert_status 0
    [[ $output == $'220 ready\n250 HELO compat\n221 bye\nHELOcompat\\r\\nQUIT\\r\\n' ]]
}

# tty_modes: run `relay -t 0.2 -,OPTIONS TCP` on a pseudo-terminal, type a
# key, and print the terminal's modes during the session and whether it
# was put back.
tty_modes() {
    local prog=$QIOC
    [[ $RELAY == socat ]] && prog=$(command -v socat)
    timeout -k 5 30 "$PYTHON3" "$QIOC_TESTS/ttyrun.py" --serve brackets \
        --connected --modes --send a --expect '<a>' --close-client \
        -- "$prog" -t 0.2 "-,$1" 'TCP:127.0.0.1:{port}'
}

@test "-,raw,echo=0 sets the terminal as socat does and puts it back" {
    compare_socat tty_modes raw,echo=0 </dev/null
    assert_status 0
    [[ ${lines[0]} == "icanon=0 echo=0 isig=0 icrnl=0 opost=0 onlcr=1 speed=38400" ]]
    [[ ${lines[2]} == restored ]]
}

@test "-,b9600,icanon=0 sets the speed and the flag as socat does" {
    compare_socat tty_modes b9600,icanon=0 </dev/null
    assert_status 0
    [[ ${lines[0]} == "icanon=0 echo=1 isig=1 icrnl=1 opost=1 onlcr=1 speed=9600" ]]
}

# pty_recipe: socat's virtual serial line, `PTY,link=tty,raw,echo=0
# TCP-LISTEN`. A program on the slave takes the terminal as it finds it
# (ptypeer.py --as-found) and prints its modes; a TCP client sends bytes
# that a cooked terminal would eat or change (CR, ^C, ^D, ^S, ^Q, DEL)
# and gets the program's bytes back; both sides print what they got.
pty_recipe() {
    local port ppid qpid
    port=$(free_port)
    bg_relay -t 0.5 PTY,link=tty,raw,echo=0 TCP-LISTEN:"$port",bind=127.0.0.1
    qpid=$BG_PID
    wait_port "$port"
    printf 'AT\r\n\003\004\023\021\177 end\n' >a2b
    printf 'OK\r\n\003\n' >b2a
    bg "$PYTHON3" "$QIOC_TESTS/ptypeer.py" tty --as-found --ready open \
        --send b2a --recv got-a2b --bytes "$(stat -c %s a2b)"
    ppid=$BG_PID
    wait_file open
    "$PYTHON3" -c 'import sys, termios
f = open(sys.argv[1])
i, o, c, l = termios.tcgetattr(f.fileno())[:4]
print("echo=%d icanon=%d isig=%d icrnl=%d ixon=%d opost=%d" % tuple(
    int(bool(f & b)) for f, b in ((l, termios.ECHO), (l, termios.ICANON),
    (l, termios.ISIG), (i, termios.ICRNL), (i, termios.IXON),
    (o, termios.OPOST))))' tty
    peer --connect --port "$port" xfer --send a2b --recv got-b2a
    reap "$ppid"
    echo "slave: $BG_STATUS$(od -An -c got-a2b | tr -s ' ')"
    echo "client:$(od -An -c got-b2a | tr -s ' ')"
    reap "$qpid"
    echo "relay: $BG_STATUS"
}

@test "PTY,link=,raw,echo=0 (socat's virtual serial line): the program on the slave finds the modes socat sets and gets every byte as sent" {
    compare_socat pty_recipe </dev/null
    assert_status 0
    [[ ${lines[0]} == "echo=0 icanon=0 isig=0 icrnl=0 ixon=0 opost=0" ]]
    [[ ${lines[1]} == "slave: 0 A T \\r \\n 003 004 023 021 177 e n d \\n" ]]
    [[ ${lines[2]} == "client: O K \\r \\n 003 \\n" ]]
    [[ ${lines[3]} == "relay: 0" ]]
}

# ---------------------------------------------------------------- SOCKS4 and PROXY

# socat's proxy clients against a proxy on loopback: qioc's own SOCKS and
# HTTP CONNECT servers here, so that the comparison needs no proxy package
# (tests/cli/proxy.bats runs the same command lines through dante and
# tinyproxy as well).

# proxy_and_target LAYER: a server on $P that sends $T/file to each client,
# and qioc as LAYER over a forking listener on port $QP, to DYNAMIC.
proxy_and_target() {
    random_file "$T/file" 256K
    bg_qioc -U "TCP-LISTEN:$P,bind=127.0.0.1,fork" "FILE:$T/file" </dev/null
    wait_port "$P"
    QP=$(free_port)
    bg_qioc "$1|TCP-LISTEN:$QP,bind=127.0.0.1,fork" DYNAMIC </dev/null
    wait_port "$QP"
}

@test "socat -u SOCKS4:... and SOCKS4A:...,socksport= - : the target's bytes through a SOCKS server" {
    proxy_and_target SOCKS-SERVER
    compare_socat output_sha -u "SOCKS4:127.0.0.1:127.0.0.1:$P,socksport=$QP" - </dev/null
    assert_status 0
    [[ $output == "262144 $(sha "$T/file")" ]]
    compare_socat output_sha -u "SOCKS4A:127.0.0.1:localhost:$P,socksport=$QP" - </dev/null
    assert_status 0
    [[ $output == "262144 $(sha "$T/file")" ]]
    # A target the proxy refuses (SOCKS4 reply 91): exit 1 for both.
    compare_socat relay -u "SOCKS4:127.0.0.1:127.0.0.2:$P,socksport=$QP" - </dev/null
    assert_status 1
    assert_one_line "$stderr"
}

@test "socat -u PROXY:...,proxyport=,proxyauth= - : the target's bytes through an HTTP CONNECT proxy" {
    proxy_and_target "PROXY-SERVER,proxyauth=alice:s3cret"
    compare_socat output_sha -u \
        "PROXY:127.0.0.1:localhost:$P,proxyport=$QP,proxyauth=alice:s3cret" - </dev/null
    assert_status 0
    [[ $output == "262144 $(sha "$T/file")" ]]
    # A wrong password (407): exit 1 for both, the status quoted by qioc.
    compare_socat relay -u \
        "PROXY:127.0.0.1:localhost:$P,proxyport=$QP,proxyauth=alice:wrong" - </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" 407
}

@test "socat's shared-connection example TCP:...,end-close before a fork listener: refused with the reason and where it is documented" {
    run --separate-stderr qioc -U TCP:127.0.0.1:"$P",end-close TCP-L:"$P",reuseaddr,fork
    assert_usage_error end-close
    [[ $stderr == *'option "end-close" does not apply to TCP: socat keeps such a connection open for the children of a fork listener to share; qioc opens it for each client (qioc(1), DIFFERENCES FROM SOCAT)' ]]
}
