#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fault injection: peers that reset mid-transfer in either direction, a
# peer that stops reading while a gigabyte is pushed at it (memory stays
# bounded, -T still ends it), a full disk, running out of descriptors under
# a fork listener, garbage, plain HTTP and half a handshake at a TLS
# listener, and SIGTERM in the middle of a transfer (nothing already read
# is lost).

bats_require_minimum_version 1.5.0
load helpers

# ---------------------------------------------------------------- fixtures

setup_file() {
    export CERTS=$BATS_FILE_TMPDIR
    command -v openssl >/dev/null || return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$CERTS/key.pem" -out "$CERTS/cert.pem" 2>/dev/null || return 0
    cat "$CERTS/cert.pem" "$CERTS/key.pem" >"$CERTS/both.pem"
}

setup() {
    qioc_setup
    P=$(free_port)
}

need_certs() {
    [[ -s $CERTS/both.pem ]] || skip "openssl could not make a certificate"
}

# A TCP sink on 127.0.0.1:PORT that counts what it receives:
#   sink.py PORT DIR [--stall] [--slow SECONDS]
# writes DIR/ready once listening, appends every byte to DIR/got, and at
# end-of-file writes the total to DIR/count.  --stall: do not read until
# DIR/go exists.  --slow S: sleep S between reads of 64 KiB.  --never:
# never read at all (a peer that stops reading).
SINK_PY='
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
stall = "--stall" in sys.argv
never = "--never" in sys.argv
slow = float(sys.argv[sys.argv.index("--slow") + 1]) if "--slow" in sys.argv else 0
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1)
open(d + "/ready.tmp", "w").close()
os.rename(d + "/ready.tmp", d + "/ready")
c, _ = s.accept()
if never:
    time.sleep(60)
while stall and not os.path.exists(d + "/go"):
    time.sleep(0.01)
n = 0
with open(d + "/got", "wb", buffering=0) as f:
    while True:
        data = c.recv(65536)
        if not data:
            break
        f.write(data)
        n += len(data)
        if slow:
            time.sleep(slow)
with open(d + "/count.tmp", "w") as f:
    f.write("%d\n" % n)
os.rename(d + "/count.tmp", d + "/count")
'

# bg_sink ARGS...: start the sink on $P in $T; waits until it listens.
bg_sink() {
    rm -f "$T/ready"
    bg "$PYTHON3" -c "$SINK_PY" "$P" "$T" "$@"
    wait_file "$T/ready"
}

# vm_kib PID FIELD: a Vm* line of /proc/PID/status in KiB (fails when gone).
vm_kib() {
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { exit !found }' \
        "/proc/$1/status" 2>/dev/null
}

# watch_rss PID: sample VmHWM (peak RSS) until PID exits; the last value
# seen is left in PEAK_KIB.
watch_rss() {
    local v
    PEAK_KIB=0
    while v=$(vm_kib "$1" VmHWM); do
        PEAK_KIB=$v
        proc_done "$1" && break
        sleep 0.05
    done
}

# fd_pos FD: the file offset of this shell's descriptor FD.
fd_pos() {
    awk '$1 == "pos:" { print $2 }' "/proc/$BASHPID/fdinfo/$1"
}

# stats_bytes FILE DIRECTION: the byte count of a --stats line
# "qioc: stats: 1 -> 2: N bytes, ..." in FILE.
stats_bytes() {
    sed -n "s/^qioc: stats: $2: \([0-9]*\) bytes.*/\1/p" "$1"
}

# count_lines FILE TEXT: how many lines of FILE contain TEXT.
count_lines() {
    local n
    n=$(untag "$1" 2>/dev/null | grep -cF -- "$2") || true
    echo "${n:-0}"
}

# lines_at_least FILE TEXT N
lines_at_least() {
    (( $(count_lines "$1" "$2") >= $3 ))
}

# ---------------------------------------------------------------- resets

@test "a server that resets while qioc sends: exit 1, 'Connection reset by peer' names address 2" {
    random_file in 16M
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" \
        reset --send-bytes 100 --recv-bytes 100000
    wait_file "$T/ready"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <in
    assert_status 1
    assert_one_line "$stderr"
    # A reset is reported once (ECONNRESET), then EPIPE to later sends.
    [[ $stderr == "qioc: address 2 (TCP:127.0.0.1:$P): "*": Connection reset by peer" ||
       $stderr == "qioc: address 2 (TCP:127.0.0.1:$P): "*": Broken pipe" ]] ||
        { echo "# stderr: $stderr" >&2; return 1; }
    file_has "$T/ev" reset
}

@test "a server that resets after sending: exit 1 naming address 2, what came before is delivered" {
    # The server resets only once it has our 5 bytes: a reset before qioc
    # saw its connect complete would be a failed connect instead.
    printf 'hello' >in
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" \
        reset --send-bytes 3000 --recv-bytes 5
    wait_file "$T/ready"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <in
    assert_error 2 "TCP:127.0.0.1:$P" "Connection reset by peer"
    [[ ${#output} == 3000 ]]
}

@test "a client that resets while qioc sends to it: the listener exits 1 naming address 1" {
    random_file in 16M
    bg_qioc TCP-L:"$P" - <in >/dev/null 2>err
    local lpid=$BG_PID
    wait_port "$P"
    peer --port "$P" --connect --events "$T/ev" reset --recv-bytes 100000
    reap "$lpid"
    [[ $BG_STATUS == 1 ]] || { cat err >&2; return 1; }
    local line
    line=$(cat err)
    assert_one_line "$line"
    # The kernel reports a reset once (ECONNRESET) and EPIPE to every
    # later send; which one the sending direction meets is a race.
    [[ $line == "qioc: address 1 (TCP-L:$P): "*": Connection reset by peer" ||
       $line == "qioc: address 1 (TCP-L:$P): "*": Broken pipe" ]] ||
        { echo "# $line" >&2; return 1; }
}

@test "a client that resets after sending: the listener exits 1, what came before is delivered" {
    idle_stdin
    bg_qioc TCP-L:"$P" - <"$T/idle" >out 2>err
    local lpid=$BG_PID
    wait_port "$P"
    peer --port "$P" --connect reset --send-bytes 5000
    reap "$lpid"
    [[ $BG_STATUS == 1 ]] || { cat err >&2; return 1; }
    [[ $(cat err) == "qioc: address 1 (TCP-L:$P): "*": Connection reset by peer" ]]
    [[ $(stat -c %s out) == 5000 ]]
}

@test "under fork, a client that resets ends only its own connection" {
    bg_qioc TCP-L:"$P",fork EXEC:cat 2>err
    local lpid=$BG_PID
    wait_port "$P"
    peer --port "$P" --connect reset --send-bytes 5000
    poll 10 grep -q "Connection reset by peer" err
    still_running "$lpid"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <<<"still here"
    assert_status 0
    [[ $output == "still here" ]]
    still_running "$lpid"
}

# ---------------------------------------------------------------- a peer that stops reading

@test "1 GiB from 'head -c 1G /dev/zero |' to a peer that stops reading: RSS stays under 64 MiB, -T 2 ends it with 0" {
    bg_sink --never
    mkfifo feed
    # The FIFO is opened in the background: opening it blocks until qioc
    # opens the other end.
    bg sh -c 'exec head -c 1G /dev/zero >"$1"' sh feed
    local start=$EPOCHREALTIME
    bg_qioc -T 2 -u - TCP:127.0.0.1:"$P" <feed 2>err
    local qpid=$BG_PID
    watch_rss "$qpid"
    reap "$qpid" 20
    [[ $BG_STATUS == 0 ]] || { echo "# exit $BG_STATUS" >&2; cat err >&2; return 1; }
    assert_slower_than 1900 "$start"
    assert_faster_than 15000 "$start"
    echo "# peak RSS ${PEAK_KIB} KiB" >&3
    (( PEAK_KIB > 0 && PEAK_KIB < 64 * 1024 )) ||
        { echo "# peak RSS ${PEAK_KIB} KiB" >&2; return 1; }
}

@test "FILE:/dev/zero,readbytes=1G into a pipe nobody reads: RSS stays under 64 MiB, -T 2 ends it with 0" {
    mkfifo sinkpipe
    # Held open for reading by this shell and never read.
    local hold
    exec {hold}<>sinkpipe
    local start=$EPOCHREALTIME
    bg_qioc -T 2 -u FILE:/dev/zero,readbytes=1G - >sinkpipe 2>err
    local qpid=$BG_PID
    watch_rss "$qpid"
    reap "$qpid" 20
    exec {hold}>&-
    [[ $BG_STATUS == 0 ]] || { echo "# exit $BG_STATUS" >&2; cat err >&2; return 1; }
    assert_slower_than 1900 "$start"
    (( PEAK_KIB > 0 && PEAK_KIB < 64 * 1024 )) ||
        { echo "# peak RSS ${PEAK_KIB} KiB" >&2; return 1; }
}

# ---------------------------------------------------------------- a full disk

@test "/dev/full as destination: exit 1, 'No space left on device' naming the address" {
    random_file in 1M
    run --separate-stderr qioc -u - FILE:/dev/full <in
    assert_error 2 FILE:/dev/full "No space left on device"
    run --separate-stderr qioc -u - /dev/full <in
    assert_error 2 /dev/full "No space left on device"
    # stdout itself on /dev/full (not through `run`, which takes stdout).
    status=0
    qioc -u - STDOUT <in >/dev/full 2>err || status=$?
    stderr=$(cat err)
    output=
    assert_error 2 STDOUT "No space left on device"
}

@test "a TCP listener writing to /dev/full fails with ENOSPC and does not hang" {
    random_file in 1M
    bg_qioc -u TCP-L:"$P" /dev/full 2>err
    local lpid=$BG_PID
    wait_port "$P"
    qioc -u - TCP:127.0.0.1:"$P" <in || true
    reap "$lpid"
    [[ $BG_STATUS == 1 ]]
    [[ $(cat err) == "qioc: address 2 (/dev/full): write: No space left on device" ]]
}

@test "a real full filesystem: the bytes that fit are written, then one ENOSPC line, exit 1" {
    [[ $(id -u) == 0 ]] || skip "needs root to mount a small tmpfs"
    mkdir "$T/small"
    mount -t tmpfs -o size=256k tmpfs "$T/small" ||
        skip "cannot mount a tmpfs here"
    random_file in 1M
    status=0
    qioc -u - CREATE:"$T/small/out" <in 2>err || status=$?
    local written
    written=$(stat -c %s "$T/small/out")
    umount "$T/small"
    stderr=$(cat err)
    output=
    assert_error 2 "CREATE:$T/small/out" "No space left on device"
    # Short writes came first: some of the data is there, not all of it.
    (( written > 0 && written < 1048576 )) ||
        { echo "# $written bytes written" >&2; return 1; }
}

# ---------------------------------------------------------------- out of descriptors

# limit_for PID FREE: the RLIMIT_NOFILE that leaves PID exactly FREE
# descriptor numbers below it (the limit bounds descriptor numbers, and
# a process may hold inherited descriptors anywhere).
limit_for() {
    local pid=$1 want=$2 lim used f
    for ((lim = 4; lim < 4096; lim++)); do
        used=0
        for f in /proc/"$pid"/fd/*; do
            f=${f##*/}
            (( f < lim )) && used=$((used + 1))
        done
        if (( lim - used == want )); then
            echo "$lim"
            return 0
        fi
    done
    return 1
}

# emfile_listener: a fork listener on $P writing each client into
# $T/got, with its descriptor limit lowered (as `ulimit -n` would) so that
# three clients use up every descriptor (two each: the accepted socket
# and the file).  Three clients are then held open and two
# more connect and send "late0", "late1"; waits until an accept error is
# logged in $T/err.
emfile_listener() {
    command -v prlimit >/dev/null || skip "prlimit is not installed"
    bg_qioc TCP-L:"$P",fork FILE:"$T/got",creat,append,wronly 2>err
    LPID=$BG_PID
    wait_port "$P"
    local lim
    lim=$(limit_for "$LPID" 6)
    prlimit --pid "$LPID" --nofile="$lim": ||
        skip "cannot lower the descriptor limit of a running process"
    bg "$PYTHON3" -c '
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
held = []
for i in range(3):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"held%d\n" % i)
    held.append(c)
open(d + "/held", "w").close()
while not os.path.exists(d + "/release"):
    time.sleep(0.01)
for c in held:
    c.close()
time.sleep(60)
' "$P" "$T"
    wait_file "$T/held"
    poll 10 lines_at_least got held 3
    local i
    for i in 0 1; do
        bg "$PYTHON3" -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(sys.argv[2].encode() + b"\n")
c.shutdown(socket.SHUT_WR)
c.settimeout(20)
c.recv(1)
' "$P" "late$i"
        LATE_PIDS+=("$BG_PID")
    done
    poll 10 grep -q "Too many open files" err
}

@test "EMFILE under a fork listener: accept errors are logged, and once descriptors free up the waiting clients are served" {
    LATE_PIDS=()
    emfile_listener
    grep -q "^qioc: address 1 (TCP-L:$P,fork): accept: .*Too many open files" err ||
        { cat err >&2; return 1; }
    still_running "$LPID"
    # Nothing of the late clients got through while descriptors were out.
    refute grep -q late got
    touch "$T/release"
    poll 10 file_has got late0
    poll 10 file_has got late1
    local pid
    for pid in "${LATE_PIDS[@]}"; do
        reap "$pid"
    done
    # And the listener keeps serving new clients.
    qioc -u - TCP:127.0.0.1:"$P" <<<after
    poll 10 file_has got after
    still_running "$LPID"
    # It did not spin while it could not accept: well under a second of CPU.
    local ticks
    ticks=$(awk '{ print $14 + $15 }' "/proc/$LPID/stat")
    (( ticks < $(getconf CLK_TCK) )) ||
        { echo "# listener used $ticks ticks of CPU" >&2; return 1; }
}

@test "EMFILE: the accept error line names the operation once ('accept: Too many open files')" {
    LATE_PIDS=()
    emfile_listener
    local line
    line=$(grep -m1 "Too many open files" err)
    touch "$T/release"
    [[ $line == "qioc: address 1 (TCP-L:$P,fork): accept: Too many open files"* ]] ||
        { echo "# got: $line" >&2; return 1; }
}

# ---------------------------------------------------------------- TLS listener faults

# tls_listener: TLS-LISTEN,fork on $P in front of `tr a-z A-Z`; stderr in
# $T/err, pid in LPID.
tls_listener() {
    need_certs
    bg_qioc TLS-LISTEN:"$P",fork,cert="$CERTS/both.pem" SYSTEM:'tr a-z A-Z' 2>err
    LPID=$BG_PID
    wait_port "$P"
}

# tls_client_works: a real TLS client with verify=0 gets its answer.
tls_client_works() {
    run --separate-stderr qioc - TLS:127.0.0.1:"$P",verify=0 <<<hello
    assert_status 0
    [[ $output == HELLO ]]
}

# handshake_failed N: the listener has logged N handshake failures.
handshake_failed() {
    poll 10 lines_at_least err "qioc: address 1 (TLS-LISTEN:$P,fork,cert=$CERTS/both.pem): TLS handshake failed" "$1" ||
        { cat err >&2; return 1; }
}

# half_hello [hold]: connect, send the first half of a real ClientHello,
# then close at once (or, with "hold", once $T/release exists).
half_hello() {
    "$PYTHON3" -c '
import os, socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = ssl.MemoryBIO()
obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(hello[: len(hello) // 2])
if sys.argv[2] == "hold":
    open(sys.argv[3] + "/holding", "w").close()
    while not os.path.exists(sys.argv[3] + "/release"):
        time.sleep(0.01)
c.close()
' "$P" "${1:-close}" "$T"
}

@test "garbage at TLS-LISTEN,fork: a handshake failure is logged, the listener keeps serving" {
    tls_listener
    random_file junk 3000
    qioc -u - TCP:127.0.0.1:"$P" <junk || true
    handshake_failed 1
    still_running "$LPID"
    tls_client_works
}

@test "plain HTTP at TLS-LISTEN,fork: a handshake failure is logged, the listener keeps serving" {
    tls_listener
    printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >req
    qioc - TCP:127.0.0.1:"$P" <req >/dev/null || true
    handshake_failed 1
    still_running "$LPID"
    tls_client_works
    # Twice more, then a client again: nothing accumulates.
    qioc - TCP:127.0.0.1:"$P" <req >/dev/null || true
    qioc - TCP:127.0.0.1:"$P" <req >/dev/null || true
    handshake_failed 3
    tls_client_works
}

@test "a client that disconnects mid-handshake: the listener keeps serving" {
    tls_listener
    half_hello close
    handshake_failed 1
    still_running "$LPID"
    tls_client_works
}

@test "a client stuck mid-handshake does not hold up other clients" {
    tls_listener
    bg half_hello hold
    local hpid=$BG_PID
    wait_file "$T/holding"
    tls_client_works
    touch "$T/release"
    reap "$hpid"
    handshake_failed 1
    still_running "$LPID"
}

# ---------------------------------------------------------------- SIGTERM mid-transfer

# sigterm_check INFD: after qioc ($QPID, stderr $T/err) was sent SIGTERM:
# it exits 143, its --stats count for 1 -> 2, the sink's count and the
# offset qioc reached in its input (this shell's descriptor INFD shares
# it) are all equal, and the sink got exactly that prefix of $T/in.
sigterm_check() {
    reap "$QPID" 20
    [[ $BG_STATUS == 143 ]] || { echo "# exit $BG_STATUS" >&2; cat err >&2; return 1; }
    wait_file "$T/count" 20
    local sent got pos
    sent=$(stats_bytes err "1 -> 2")
    got=$(cat "$T/count")
    pos=$(fd_pos "$1")
    echo "# read $pos, reported $sent, sink got $got" >&3
    [[ -n $sent ]] || { echo "# no --stats line for 1 -> 2:" >&2; cat err >&2; return 1; }
    if [[ $got != "$sent" || $pos != "$sent" ]]; then
        echo "# qioc read $pos bytes, reported $sent, the sink got $got" >&2
        return 1
    fi
    (( got > 0 && got < $(stat -c %s in) ))
    cmp -n "$got" in got
    [[ $(stat -c %s got) == "$got" ]]
}

@test "SIGTERM mid-transfer to a slow reader: every byte qioc read reaches the sink, exit 143" {
    random_file in 64M
    bg_sink --slow 0.002
    local infd
    exec {infd}<in
    bg_qioc --stats -u - TCP:127.0.0.1:"$P" <&"$infd" 2>err
    QPID=$BG_PID
    wait_size got $((2 * 1024 * 1024)) 20
    kill -TERM "$QPID"
    sigterm_check "$infd"
}

@test "SIGTERM while qioc holds data for a stalled reader: it is written once the reader resumes, exit 143" {
    random_file in 64M
    bg_sink --stall
    local infd
    exec {infd}<in
    bg_qioc --stats -u - TCP:127.0.0.1:"$P" <&"$infd" 2>err
    QPID=$BG_PID
    pos_at_least() { (( $(fd_pos "$infd") >= $1 )); }
    poll 20 pos_at_least $((1024 * 1024))
    kill -TERM "$QPID"
    # SIGTERM stops the reading, not the writing of what was read: once
    # the reader resumes, it gets all of it.
    touch "$T/go"
    sigterm_check "$infd"
}
