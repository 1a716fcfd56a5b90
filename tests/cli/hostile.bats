#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Slow and hostile clients against fork listeners, with real sockets and
# real TLS on loopback: thousands of clients that connect and never speak
# (cut by handshake-timeout= on TLS-LISTEN and SOCKS-SERVER, by
# idle-timeout= on TCP-LISTEN and UNIX-LISTEN) while a real client is
# served, more of them than qioc has descriptors, and more than
# max-children; a TLS ClientHello dribbled one byte a second; a client
# that stops reading while the backend pushes 100 MiB (qioc's memory stays
# bounded, nothing is lost once it reads again, and if it resets instead
# the backend's connection is cut); a client that resets in the middle of
# a transfer.  After each, qioc holds no more descriptors than before.
# The peers are tests/cli/hostilepeer.py; the certificates are made by
# certtool in setup_file.
#
# Debian packages: bats, python3, gnutls-bin (certtool).  The cases with
# a thousand or more silent clients raise the descriptor limit (to 6048
# for the 2000 TLS clients) and skip when the hard limit is lower.

bats_require_minimum_version 1.5.0
load helpers

HOSTILE_PY="$QIOC_TESTS/hostilepeer.py"

# 100 MiB: what the backend pushes at a client that does not read.
FLOOD_BYTES=$((100 << 20))

setup_file() {
    export CERTS=$BATS_FILE_TMPDIR
    # The interpreter itself rather than a wrapper (pyenv's shim takes
    # more than half a second at each of the suite's many starts).
    local exe
    exe=$("$PYTHON3" -c 'import sys; print(sys.executable)') &&
        [[ -x $exe ]] && export PYTHON3=$exe
    command -v certtool >/dev/null || return 0
    printf '%s\n' 'cn = "qioc test CA"' ca cert_signing_key \
        'expiration_days = 2' >"$CERTS/ca.tmpl"
    printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
        'ip_address = "127.0.0.1"' tls_www_server signing_key \
        'expiration_days = 2' >"$CERTS/server.tmpl"
    certtool --generate-privkey --key-type=ecdsa \
        --outfile "$CERTS/ca-key.pem" 2>/dev/null &&
        certtool --generate-self-signed --load-privkey "$CERTS/ca-key.pem" \
            --template "$CERTS/ca.tmpl" --outfile "$CERTS/ca.pem" 2>/dev/null &&
        certtool --generate-privkey --key-type=ecdsa \
            --outfile "$CERTS/server-key.pem" 2>/dev/null &&
        certtool --generate-certificate \
            --load-privkey "$CERTS/server-key.pem" \
            --load-ca-certificate "$CERTS/ca.pem" \
            --load-ca-privkey "$CERTS/ca-key.pem" \
            --template "$CERTS/server.tmpl" \
            --outfile "$CERTS/server.pem" 2>/dev/null || return 0
}

setup() {
    qioc_setup
    P=$(free_port)
    B=$(free_port)
}

# ---------------------------------------------------------------- helpers

# need_certs: skip unless setup_file made the certificates.
need_certs() {
    [[ -s $CERTS/server.pem ]] || skip "certtool (gnutls-bin) could not make a certificate"
}

# need_fds N: raise this shell's descriptor limit to N (qioc inherits it),
# or skip when the hard limit is lower.
need_fds() {
    local hard
    hard=$(ulimit -Hn)
    [[ $hard == unlimited ]] || (( hard >= $1 )) ||
        skip "ulimit -Hn is $hard, the test needs $1 descriptors"
    ulimit -n "$1"
}

# hpeer ARGS...: hostilepeer.py in the foreground, bounded.
hpeer() {
    timeout -k 5 "${QIOC_TIMEOUT:-30}" "$PYTHON3" "$HOSTILE_PY" "$@"
}

# bg_hpeer ARGS...: hostilepeer.py in the background (pid in BG_PID).
bg_hpeer() {
    bg "$PYTHON3" "$HOSTILE_PY" "$@"
}

# fd_count PID: how many descriptors PID holds.
fd_count() {
    local fds=("/proc/$1/fd"/*)
    echo "${#fds[@]}"
}

# fds_at_most PID N: PID holds N descriptors or fewer.
fds_at_most() {
    (( $(fd_count "$1") <= $2 ))
}

# fds_at_least PID N: PID holds N descriptors or more.
fds_at_least() {
    (( $(fd_count "$1") >= $2 ))
}

# fds_back PID N: poll until PID is back to at most N descriptors.
fds_back() {
    poll 10 fds_at_most "$1" "$2" || {
        echo "# descriptors: $2 before, $(fd_count "$1") after" >&2
        # shellcheck disable=SC2012 # a listing for the reader
        ls -l "/proc/$1/fd" | tail -20 >&2
        return 1
    }
}

# vm_kib PID FIELD: a VmXXX figure of /proc/PID/status, in KiB.
vm_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# field LINE KEY: the value of KEY=value in a report line of hostilepeer.
field() {
    local w
    for w in $1; do
        [[ $w == "$2="* ]] && { echo "${w#*=}"; return 0; }
    done
    echo "# no $2= in: $1" >&2
    return 1
}

# echo_backend: hostilepeer's echo server on 127.0.0.1:$B.
echo_backend() {
    bg_hpeer echo --listen 127.0.0.1:"$B" --ready "$T/echo.ready"
    wait_file "$T/echo.ready"
}

# relay KIND OPTS [QIOC-OPTIONS...]: qioc -d in the background, a fork
# listener of KIND (tls, tcp, unix or socks) with the extra listener
# options OPTS ("" for none), to the backend on $B (DYNAMIC for socks).
# Sets QPID, TARGET (where clients connect), TLS_OPTS (hostilepeer.py's
# options for a TLS client, or none) and CLIENT (the mode and options of
# a client that checks it is served); the log is $T/qioc.log.
relay() {
    local kind=$1 opts=${2:+,$2} listen other="TCP:127.0.0.1:$B"
    shift 2
    TARGET=127.0.0.1:$P
    TLS_OPTS=()
    case $kind in
    tls)
        need_certs
        listen="TLS-LISTEN:$P,bind=127.0.0.1,fork,cert=$CERTS/server.pem"
        listen+=",key=$CERTS/server-key.pem$opts"
        TLS_OPTS=(--tls "$CERTS/ca.pem")
        ;;
    tcp) listen="TCP-LISTEN:$P,bind=127.0.0.1,fork$opts" ;;
    unix)
        TARGET=$T/relay.sock
        listen="UNIX-LISTEN:$TARGET,fork$opts"
        ;;
    socks)
        listen="SOCKS-SERVER$opts|TCP-LISTEN:$P,bind=127.0.0.1,fork,backlog=4096"
        other=DYNAMIC
        ;;
    esac
    CLIENT=(check --connect "$TARGET" "${TLS_OPTS[@]}")
    [[ $kind == socks ]] &&
        CLIENT=(socks --connect "$TARGET" --target 127.0.0.1:"$B")
    bg_qioc -d "$@" "$listen" "$other" 2>"$T/qioc.log"
    QPID=$BG_PID
    if [[ $kind == unix ]]; then
        wait_socket "$TARGET"
    else
        wait_port "$P"
    fi
}

# served [BYTES]: a client of the relay (CLIENT) sends BYTES (64 KiB by
# default) and gets them back intact within SERVE_LIMIT (10) s; SERVED is how long it
# took, connection and handshake included, in seconds.
served() {
    local out
    local limit=${SERVE_LIMIT:-10}
    out=$(timeout -k 2 "$limit" "$PYTHON3" "$HOSTILE_PY" "${CLIENT[@]}" \
        --bytes "${1:-65536}" --limit "$limit") || {
        echo "# the client was not served: $out" >&2
        tail -20 "$T/qioc.log" >&2
        return 1
    }
    SERVED=$(field "$out" served)
}

# log_count TEXT: how many lines of qioc's log hold TEXT.
log_count() {
    grep -cF -- "$1" "$T/qioc.log" || true
}

# silent_clients KIND OPTS N TEXT: N clients of a KIND relay (listener
# options OPTS) connect at once and never send a byte; while they are all
# connected a real client is served; each of the N is then closed by
# qioc after the timeout, qioc's log says why (TEXT) once for each, and
# qioc is back to the descriptors it held before.
silent_clients() {
    local kind=$1 opts=$2 n=$3 text=$4 before held report per=1
    [[ $kind == tcp || $kind == unix ]] && per=2
    need_fds $((2 * n + 2048))
    echo_backend
    relay "$kind" "$opts"
    # One client first, so that what is made once is there before counting.
    served
    before=$(fd_count "$QPID")
    bg_hpeer silent --connect "$TARGET" --count "$n" --limit 30 \
        --ready "$T/silent.ready" --report "$T/silent.out"
    local spid=$BG_PID
    wait_file "$T/silent.ready" 30
    # qioc holds many of them at once (one descriptor each, two with the
    # backend's connection, which TLS and SOCKS open only after the
    # handshake): not all, as under a sanitizer or a loaded machine the
    # first ones may be cut before the last ones are accepted.
    poll 10 fds_at_least "$QPID" $((before + n * per / 4)) || {
        echo "# qioc holds $(fd_count "$QPID") descriptors, $before before" >&2
        return 1
    }
    held=$(($(fd_count "$QPID") - before))
    served
    echo "# $n silent clients connected, $held descriptors held by qioc; a real client served in $SERVED s" >&3
    # Served while they were held, not after they were cut.
    still_running "$spid"
    reap "$spid" 40
    report=$(cat "$T/silent.out")
    echo "# $report" >&3
    [[ $BG_STATUS == 0 && $(field "$report" closed) == "$n" &&
        $(field "$report" open) == 0 && $(field "$report" data) == 0 ]] || {
        echo "# the silent clients: $report" >&2
        return 1
    }
    # Cut after the timeout (2 s), not at once.
    local min
    min=$(field "$report" min)
    (( 10#${min/./} >= 180 )) || { echo "# cut after only $min s" >&2; return 1; }
    fds_back "$QPID" "$before"
    still_running "$QPID"
    [[ $(log_count "$text") == "$n" ]] || {
        echo "# $(log_count "$text") lines say: $text" >&2
        grep -v 'client 127' "$T/qioc.log" | head -5 >&2
        return 1
    }
}

# never_reader KIND: a client of a KIND relay completes its handshake and
# reads nothing while the backend pushes 100 MiB.  The backend's send
# stalls well short of that, qioc's memory stays bounded, and once the
# client reads, every byte arrives intact.
never_reader() {
    local kind=$1 out sent rss hwm got
    bg_hpeer flood --listen 127.0.0.1:"$B" --bytes "$FLOOD_BYTES" --stall 1 \
        --limit 60 --ready "$T/flood.ready" --report "$T/flood.out"
    local fpid=$BG_PID
    wait_file "$T/flood.ready"
    relay "$kind" ""
    bg_hpeer sluggard --connect "$TARGET" "${TLS_OPTS[@]}" --ready "$T/slug.ready" --go "$T/go" \
        --report "$T/slug.out" --limit 60
    local cpid=$BG_PID
    wait_file "$T/slug.ready"
    # The backend says when no byte could be sent for 1 s (or that it sent
    # everything, which would be qioc buffering without bound).
    poll 40 grep -qE '^(stalled|done)' "$T/flood.out"
    out=$(head -1 "$T/flood.out")
    rss=$(vm_kib "$QPID" VmRSS)
    hwm=$(vm_kib "$QPID" VmHWM)
    echo "# $kind: the backend stalled after $out; qioc's VmRSS ${rss} KiB, peak ${hwm} KiB" >&3
    [[ $out == stalled* ]] || { echo "# the backend was never held up: $out" >&2; return 1; }
    sent=$(field "$out" sent)
    # What went out is in the kernel's buffers too: the peers keep theirs
    # at 64 KiB, but qioc's socket from the backend may grow to
    # net.ipv4.tcp_rmem's maximum (32 MiB on Linux by default).
    (( sent < 48 << 20 )) || { echo "# $sent bytes went out before the stall" >&2; return 1; }
    (( hwm < 64 * 1024 )) || { echo "# qioc's peak RSS is ${hwm} KiB" >&2; return 1; }
    touch "$T/go"
    reap "$cpid" 60
    reap "$fpid" 30
    out=$(tail -1 "$T/flood.out")
    got=$(cat "$T/slug.out")
    [[ $(field "$out" sent) == "$FLOOD_BYTES" &&
        $(field "$got" received) == "$FLOOD_BYTES" &&
        $(field "$got" sha256) == "$(field "$out" sha256)" ]] || {
        echo "# backend: $out" >&2
        echo "# client: $got" >&2
        tail -20 "$T/qioc.log" >&2
        return 1
    }
    still_running "$QPID"
}

# stalled_reset KIND: a client of a KIND relay stops reading while the
# backend floods it, then resets: qioc closes the backend's connection
# too (the backend's send fails) and holds no more descriptors than
# before the client came.
stalled_reset() {
    local kind=$1 before out
    bg_hpeer flood --listen 127.0.0.1:"$B" --bytes "$FLOOD_BYTES" --stall 1 \
        --limit 60 --ready "$T/flood.ready" --report "$T/flood.out"
    local fpid=$BG_PID
    wait_file "$T/flood.ready"
    relay "$kind" ""
    before=$(fd_count "$QPID")
    bg_hpeer sluggard --connect "$TARGET" "${TLS_OPTS[@]}" --reset \
        --ready "$T/slug.ready" --go "$T/go" --report "$T/slug.out" --limit 60
    local cpid=$BG_PID
    wait_file "$T/slug.ready"
    poll 40 grep -qE '^(stalled|done)' "$T/flood.out"
    touch "$T/go"
    reap "$cpid" 20
    [[ $(cat "$T/slug.out") == reset ]]
    poll 10 grep -q '^cut' "$T/flood.out" || {
        echo "# the backend's connection was not cut: $(cat "$T/flood.out")" >&2
        tail -5 "$T/qioc.log" >&2
        return 1
    }
    out=$(tail -1 "$T/flood.out")
    echo "# $kind: the backend: $out" >&3
    reap "$fpid" 10
    fds_back "$QPID" "$before"
    still_running "$QPID"
}

# resetting_client KIND: a client of a KIND relay resets (SO_LINGER 0)
# while data flows both ways; the listener serves the next client and
# holds no more descriptors than before.
resetting_client() {
    local kind=$1 before
    echo_backend
    relay "$kind" ""
    served
    before=$(fd_count "$QPID")
    run -0 hpeer reset --connect "$TARGET" "${TLS_OPTS[@]}" --after $((1 << 20))
    [[ $output == "reset after=1048576" ]] || { echo "# $output" >&2; return 1; }
    served $((1 << 20))
    still_running "$QPID"
    fds_back "$QPID" "$before"
}

# ---------------------------------------------------------------- silent clients

@test "TLS-LISTEN,handshake-timeout=2: 2000 silent clients are cut after it, a real client is served meanwhile, no descriptor is left" {
    silent_clients tls handshake-timeout=2,backlog=4096 2000 \
        "TLS handshake: not done within 2 s (handshake-timeout)"
}

@test "TCP-LISTEN,idle-timeout=2: 1000 silent clients are cut after it, a real client is served meanwhile, no descriptor is left" {
    silent_clients tcp idle-timeout=2,backlog=4096 1000 \
        "idle timeout: no data for 2 s"
}

@test "UNIX-LISTEN,idle-timeout=2: 1000 silent clients are cut after it, a real client is served meanwhile, no descriptor is left" {
    silent_clients unix idle-timeout=2,backlog=4096 1000 \
        "idle timeout: no data for 2 s"
}

@test "SOCKS-SERVER,handshake-timeout=2: 500 clients that never greet are cut after it, a SOCKS5 client is served meanwhile, no descriptor is left" {
    silent_clients socks handshake-timeout=2 500 \
        "the client did not finish the handshake within 2 s"
}

@test "TLS-LISTEN with 256 descriptors and 400 silent clients: out of descriptors, it says so, cuts them in turn, then serves a real client; no descriptor is left" {
    echo_backend
    # One worker: its descriptors are all made before the count below (a
    # second worker's own may come later, whenever it first serves).
    relay tls handshake-timeout=2,backlog=4096,workers=1
    # qioc raises its soft limit to the hard one at start-up: both are
    # lowered on the running relay, the peers keep theirs.
    prlimit --pid "$QPID" --nofile=256:256
    served
    local before report
    before=$(fd_count "$QPID")
    bg_hpeer silent --connect "$TARGET" --count 400 --limit 40 \
        --ready "$T/silent.ready" --report "$T/silent.out"
    local spid=$BG_PID
    wait_file "$T/silent.ready" 30
    # The real client waits behind the silent ones in the listen backlog,
    # which qioc accepts as the timeout frees descriptors.
    SERVE_LIMIT=40 served
    echo "# a real client served in $SERVED s behind 400 silent ones" >&3
    reap "$spid" 60
    report=$(cat "$T/silent.out")
    echo "# $report" >&3
    [[ $BG_STATUS == 0 && $(field "$report" closed) == 400 &&
        $(field "$report" open) == 0 ]] || {
        echo "# the silent clients: $report" >&2
        return 1
    }
    fds_back "$QPID" "$before"
    still_running "$QPID"
    (( $(log_count "accept: Too many open files; pausing and retrying") >= 1 )) || {
        echo "# running out of descriptors was not logged" >&2
        return 1
    }
    [[ $(log_count "TLS handshake: not done within 2 s (handshake-timeout)") == 400 ]] || {
        echo "# $(log_count "TLS handshake: not done within 2 s") handshake-timeout lines" >&2
        return 1
    }
}

@test "TLS-LISTEN,max-children=5: 8 silent clients hold the slots until each is cut, then a real client is served; no descriptor is left" {
    echo_backend
    # One worker: the clients wait for a slot in the order they came,
    # which this test reads (with two, each worker keeps its own order).
    relay tls handshake-timeout=2,max-children=5,workers=1
    served
    local before report
    before=$(fd_count "$QPID")
    bg_hpeer silent --connect "$TARGET" --count 8 --limit 30 \
        --ready "$T/silent.ready" --report "$T/silent.out"
    local spid=$BG_PID
    wait_file "$T/silent.ready"
    # Five in handshake at a time: the real client, ninth in line, gets a
    # slot once the first five are cut, not before.
    SERVE_LIMIT=30 served
    echo "# a real client served in $SERVED s behind 8 silent ones" >&3
    local cut_before
    cut_before=$(awk '/TLS session/ && ++n == 2 { print cut; exit }
        /not done within 2 s/ { cut++ }' "$T/qioc.log")
    (( cut_before >= 5 )) || {
        echo "# the real client's handshake came after ${cut_before:-no} cuts" >&2
        return 1
    }
    reap "$spid" 40
    report=$(cat "$T/silent.out")
    echo "# $report" >&3
    [[ $(field "$report" closed) == 8 && $(field "$report" open) == 0 ]] || {
        echo "# the silent clients: $report" >&2
        return 1
    }
    fds_back "$QPID" "$before"
    [[ $(log_count "TLS handshake: not done within 2 s (handshake-timeout)") == 8 ]] ||
        { tail -20 "$T/qioc.log" >&2; return 1; }
}

# ---------------------------------------------------------------- slowloris

@test "TLS-LISTEN,handshake-timeout=2: a ClientHello dribbled one byte a second is cut after about 2 s, a real client is served meanwhile" {
    echo_backend
    relay tls handshake-timeout=2
    served
    bg_hpeer slowloris --connect "$TARGET" --interval 1 --limit 15 \
        --ready "$T/slow.ready" --report "$T/slow.out"
    local spid=$BG_PID
    wait_file "$T/slow.ready"
    served
    echo "# served in $SERVED s while the ClientHello dribbled" >&3
    still_running "$spid"
    reap "$spid" 20
    local out after sent of
    out=$(cat "$T/slow.out")
    echo "# slowloris: $out" >&3
    after=$(field "$out" after)
    sent=$(field "$out" sent)
    of=$(field "$out" of)
    [[ $out == "cut "* ]] || { echo "# never cut: $out" >&2; return 1; }
    (( sent < of )) || { echo "# the whole ClientHello went out" >&2; return 1; }
    (( 10#${after/./} >= 150 && 10#${after/./} < 600 )) || {
        echo "# cut after $after s, not about 2 s" >&2
        return 1
    }
    [[ $(log_count "TLS handshake: not done within 2 s (handshake-timeout)") == 1 ]] ||
        { cat "$T/qioc.log" >&2; return 1; }
}

# ---------------------------------------------------------------- never reads

@test "TLS-LISTEN,fork: a client that stops reading while the backend sends 100 MiB: memory bounded, all delivered once it reads" {
    need_certs
    never_reader tls
}

@test "TCP-LISTEN,fork: a client that stops reading while the backend sends 100 MiB: memory bounded, all delivered once it reads" {
    never_reader tcp
}

@test "UNIX-LISTEN,fork: a client that stops reading while the backend sends 100 MiB: memory bounded, all delivered once it reads" {
    never_reader unix
}

# ---------------------------------------------------------------- resets

@test "TLS-LISTEN,fork: a client that resets mid-transfer; the next is served, no descriptor is left" {
    resetting_client tls
}

@test "TCP-LISTEN,fork: a client that resets mid-transfer; the next is served, no descriptor is left" {
    resetting_client tcp
}

@test "UNIX-LISTEN,fork: a client that resets mid-transfer; the next is served, no descriptor is left" {
    resetting_client unix
}

@test "TLS-LISTEN,fork: a client that stops reading, then resets while the backend floods it: the backend's connection is cut, no descriptor is left" {
    stalled_reset tls
}

@test "TCP-LISTEN,fork: a client that stops reading, then resets while the backend floods it: the backend's connection is cut, no descriptor is left" {
    stalled_reset tcp
}

@test "UNIX-LISTEN,fork: a client that stops reading, then resets while the backend floods it: the backend's connection is cut, no descriptor is left" {
    stalled_reset unix
}
