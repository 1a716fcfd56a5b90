#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# workers= and --workers: a fork listener serving its clients on several
# threads, each with its own loop. Many clients at once come back intact
# and are spread over the workers; max-children= counts the clients of
# every worker; a signal stops them all; --stats totals are the sums;
# EXEC children and su=/chroot= work as with one worker; bad counts are
# usage errors.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    qioc_setup
    P=$(free_port)
    B=$(free_port)
}

# py CODE ARGS...: a python3 snippet in the foreground, bounded.
py() {
    timeout -k 5 "${QIOC_TIMEOUT:-30}" "$PYTHON3" -c "$@"
}

PY_COMMON='
import hashlib, os, socket, sys, threading, time

def connect(a):
    if "/" in a:
        s = socket.socket(socket.AF_UNIX)
        s.connect(a)
        return s
    return socket.create_connection(("127.0.0.1", int(a)))

def recv_line(s, timeout):
    """One line, None on end-of-file or reset, "" on timeout."""
    s.settimeout(timeout)
    got = b""
    try:
        while not got.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                return None
            got += b
    except socket.timeout:
        return ""
    except ConnectionResetError:
        return None
    finally:
        s.settimeout(None)
    return got.decode()
'

# echo_backend PORT: a TCP echo server on 127.0.0.1:PORT for any number
# of clients; it writes "conn" and "done" lines to $T/backend.
PY_ECHO='
import os, socket, sys, threading
port, events = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
def note(line):
    with lock, open(events, "a") as f:
        f.write(line + "\n")
def serve(c):
    note("conn")
    try:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        note("error %s" % e)
    c.close()
    note("done")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
open(events + ".tmp", "w").close()
os.rename(events + ".tmp", events + ".ready")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'

echo_backend() {
    bg "$PYTHON3" -c "$PY_ECHO" "$B" "$T/backend"
    wait_file "$T/backend.ready"
}

# N clients at once each send SIZE random bytes of their own and check
# that the same bytes come back (sha256). Prints "ok N".
PY_MANY="$PY_COMMON"'
addr, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
barrier = threading.Barrier(n)
results = []
def client(i):
    data = os.urandom(size)
    try:
        barrier.wait(timeout=20)
        s = connect(addr)
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        got = bytearray()
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
        t.join()
        s.close()
        ok = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        results.append("ok" if ok else "client %d: %d bytes back, not %d"
                       % (i, len(got), len(data)))
    except Exception as e:
        results.append("client %d: %r" % (i, e))
ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
bad = [r for r in results if r != "ok"]
for r in bad: print(r)
print("ok %d" % (len(results) - len(bad)))
'

# many ADDR N SIZE: PY_MANY, which must report every client intact.
many() {
    run --separate-stderr py "$PY_MANY" "$@"
    [[ $output == "ok $2" ]] || {
        echo "# $output $stderr" >&2
        cat "$T/err" >&2
        return 1
    }
}

# worker_threads PID: how many of PID's threads are workers.
worker_threads() {
    cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^qioc-worker-' || true
}

# workers_served FILE: the distinct workers that -d says served a client.
workers_served() {
    grep -o 'worker [0-9]* of [0-9]* serves the client' "$1" | sort -u |
        wc -l
}

# ---------------------------------------------------------------- transfer

@test "workers=2: 40 clients at once through TCP each get their own 256 KiB back, served by both workers" {
    echo_backend
    bg_qioc -d TCP-LISTEN:"$P",fork,workers=2 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    (( $(worker_threads "$qpid") == 2 ))
    many "$P" 40 262144
    (( $(grep -c '^conn$' "$T/backend") == 40 ))
    # SO_REUSEPORT spreads 40 connections over both sockets: that all
    # land on one has a chance of 2^-39.
    (( $(workers_served "$T/err") == 2 )) || { cat "$T/err" >&2; return 1; }
    # connection numbers stay unique across workers
    (( $(grep -o '^qioc: \[[0-9]*\] worker' "$T/err" | sort -u | wc -l) == 40 ))
    still_running "$qpid"
    refute grep -v '^qioc: \[[0-9]*\] ' "$T/err"
}

@test "workers=2 on TCP-LISTEN: each worker binds a socket of its own (SO_REUSEPORT)" {
    echo_backend
    bg_qioc TCP4-LISTEN:"$P",fork,workers=2 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    local hex
    hex=$(printf '%04X' "$P")
    (( $(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p' \
        /proc/net/tcp | wc -l) == 2 ))
    run --separate-stderr "$QIOC" --dry-run TCP4-LISTEN:"$P",fork,workers=2 -
    assert_contains "$output" ",workers=2,"
    assert_contains "$output" ",reuseport=1,"
}

@test "workers=2 on UNIX-LISTEN: 40 clients at once share one socket, all intact" {
    echo_backend
    bg_qioc UNIX-LISTEN:"$T/s",fork,workers=2 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/s"
    (( $(worker_threads "$qpid") == 2 ))
    many "$T/s" 40 262144
    still_running "$qpid"
    assert_empty "$T/err"
    # one socket file, one listening socket
    (( $(awk -v p="$T/s" '$NF == p' /proc/net/unix | wc -l) >= 1 ))
}

@test "workers=2 on TLS-LISTEN: 10 clients at once, all intact" {
    command -v certtool >/dev/null || skip "no certtool"
    printf '%s\n' 'cn = "localhost"' 'ip_address = "127.0.0.1"' \
        tls_www_server signing_key 'expiration_days = 30' >"$T/srv.tmpl"
    certtool --generate-privkey --key-type=ecdsa --outfile "$T/key.pem" \
        2>/dev/null
    certtool --generate-self-signed --load-privkey "$T/key.pem" \
        --template "$T/srv.tmpl" --outfile "$T/cert.pem" 2>/dev/null
    echo_backend
    bg_qioc TLS-LISTEN:"$P",fork,workers=2,cert="$T/cert.pem",key="$T/key.pem" \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    local pids=() i
    for i in $(seq 10); do
        random_file "$T/in$i" 300K
        bg "$QIOC" - TLS:127.0.0.1:"$P",cafile="$T/cert.pem" \
            <"$T/in$i" >"$T/out$i" 2>"$T/cerr$i"
        pids+=("$BG_PID")
    done
    for i in $(seq 10); do
        reap "${pids[i - 1]}"
        [[ $BG_STATUS == 0 ]] || { cat "$T/cerr$i" "$T/err" >&2; return 1; }
        assert_same "$T/in$i" "$T/out$i"
    done
    still_running "$qpid"
    assert_empty "$T/err"
}

@test "--workers=auto starts one worker per online CPU" {
    echo_backend
    bg_qioc --workers=auto TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    (( $(worker_threads "$qpid") == $(nproc) )) || {
        cat /proc/"$qpid"/task/*/comm >&2
        return 1
    }
    many "$P" 10 65536
}

@test "--workers=2 applies to the fork listener; workers= on the address wins" {
    run --separate-stderr "$QIOC" --workers=2 --dry-run UNIX-LISTEN:"$T/s",fork -
    assert_contains "$output" ",workers=2,"
    run --separate-stderr "$QIOC" --workers=2 --dry-run \
        UNIX-LISTEN:"$T/s",fork,workers=3 -
    assert_contains "$output" ",workers=3,"
    # one worker (the default): no worker thread, served on the main one
    echo_backend
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    (( $(worker_threads "$qpid") == 0 ))
}

@test "a fork listener that terminates TLS runs one worker per online CPU by default; --workers=1 or workers= says otherwise; plain TCP stays on one" {
    local n
    n=$(nproc)
    run --separate-stderr "$QIOC" --dry-run TLS-LISTEN:"$P",fork,cert=c.pem -
    assert_contains "$output" ",workers=$n,"
    run --separate-stderr "$QIOC" --dry-run \
        "TLS-SERVER,cert=c.pem|TCP-LISTEN:$P,fork" -
    assert_contains "$output" ",workers=$n,"
    run --separate-stderr "$QIOC" --workers=1 --dry-run \
        TLS-LISTEN:"$P",fork,cert=c.pem -
    assert_contains "$output" ",workers=1,"
    run --separate-stderr "$QIOC" --dry-run \
        TLS-LISTEN:"$P",fork,workers=3,cert=c.pem -
    assert_contains "$output" ",workers=3,"
    run --separate-stderr "$QIOC" --dry-run TCP-LISTEN:"$P",fork -
    assert_contains "$output" ",workers=1,"
}

# ---------------------------------------------------------------- limits

# Holders connect one after another; each is answered or not. Prints the
# count answered among the first N, then after one answered leaves.
PY_CAP="$PY_COMMON"'
addr, n = sys.argv[1], int(sys.argv[2])
socks, answered = [], []
for i in range(n):
    s = connect(addr)
    s.sendall(b"%d\n" % i)
    socks.append(s)
waiting = list(range(n))
def collect(wait):
    end = time.time() + wait
    for i in list(waiting):
        r = recv_line(socks[i], max(end - time.time(), 0.01))
        if r:
            answered.append(i)
            waiting.remove(i)
collect(3)
print(len(answered))
socks[answered[0]].close()
first = len(answered)
end = time.time() + 10
while len(answered) == first and time.time() < end:
    collect(0.2)
collect(1)
print(len(answered))
'

@test "workers=2,max-children=3: 3 clients at once over both workers, the next when one leaves" {
    echo_backend
    bg_qioc -d TCP-LISTEN:"$P",fork,workers=2,max-children=3 TCP:127.0.0.1:"$B" \
        2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_CAP" "$P" 8
    [[ ${lines[0]} == 3 && ${lines[1]} == 4 ]] || {
        echo "# answered: $output $stderr" >&2
        cat "$T/err" >&2
        return 1
    }
    still_running "$qpid"
}

# ---------------------------------------------------------------- signals

# A client that sends SIZE bytes, then waits for $T/go before reading all
# back; notes "sent" in $T/sent once everything is written.
PY_SLOW="$PY_COMMON"'
addr, size, sent, go, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = connect(addr)
data = os.urandom(size)
open(out + ".want", "wb").write(data)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
open(sent, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
with open(out, "wb") as f:
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        f.write(b)
'

@test "SIGTERM with workers=2: no more clients, what a live connection read is flushed, exit 143" {
    echo_backend
    bg_qioc -d UNIX-LISTEN:"$T/s",fork,workers=2 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/s"
    # 1 MiB goes in; what the echo sends back queues in qioc and in the
    # client's socket, which reads nothing until $T/go
    bg "$PYTHON3" -c "$PY_SLOW" "$T/s" 1048576 "$T/sent" "$T/go" "$T/out"
    local cpid=$BG_PID
    wait_file "$T/sent" 15
    poll 10 grep -q '^done$' "$T/backend"
    kill -TERM "$qpid"
    poll 10 refute unix_listening "$T/s"
    touch "$T/go"
    reap "$cpid"
    reap "$qpid"
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    # as with one worker (serve.bats): what qioc had read is written out,
    # an intact prefix of the echo; it reads no more
    local n
    n=$(stat -c %s "$T/out")
    head -c "$n" "$T/out.want" >"$T/want"
    assert_same "$T/want" "$T/out"
    (( n > 0 ))
    grep -q 'Terminated: flushing what was read' "$T/err"
}

@test "SIGTERM ends idle workers at once: exit 143" {
    echo_backend
    bg_qioc TCP-LISTEN:"$P",fork,workers=3 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    many "$P" 5 1024
    kill -TERM "$qpid"
    reap "$qpid" 5
    [[ $BG_STATUS == 143 ]]
    refute tcp_listening "$P"
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- --stats

@test "--stats with workers=2: the totals are the sums of every connection's lines" {
    echo_backend
    bg_qioc --stats TCP-LISTEN:"$P",fork,workers=2 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    many "$P" 12 100000
    poll 10 test "$(grep -c 'stats: 2 -> 1' "$T/err")" -eq 12
    kill -TERM "$qpid"
    reap "$qpid"
    local sum12 sum21 total
    sum12=$(sed -n 's/^qioc: \[[0-9]*\] stats: 1 -> 2: \([0-9]*\) bytes.*/\1/p' "$T/err" |
        paste -sd+ | bc)
    sum21=$(sed -n 's/^qioc: \[[0-9]*\] stats: 2 -> 1: \([0-9]*\) bytes.*/\1/p' "$T/err" |
        paste -sd+ | bc)
    (( sum12 == 1200000 && sum21 == 1200000 ))
    total=$(grep '^qioc: stats: total: ' "$T/err")
    [[ $total == "qioc: stats: total: 12 connections, $sum12 bytes 1 -> 2, $sum21 bytes 2 -> 1" ]] || {
        echo "# $total" >&2
        return 1
    }
    # the totals end the log
    [[ $(tail -n 1 "$T/err") == "$total" ]]
}

# ---------------------------------------------------------------- processes

@test "workers=2 with SYSTEM: children spawned and reaped from both workers" {
    bg_qioc -d TCP-LISTEN:"$P",fork,workers=2 SYSTEM:'echo $$' 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    local out i
    for i in $(seq 12); do
        out+=$(py "$PY_COMMON"'
s = connect(sys.argv[1])
s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip())' "$P")$'\n'
    done
    (( $(grep -c '^[0-9][0-9]*$' <<<"$out") == 12 ))
    (( $(sort -u <<<"$out" | grep -c .) == 12 ))
    # every child is reaped: none is left as a zombie. A connection whose
    # child is still running is seen out in a thread (src/pump.c, settle):
    # under ThreadSanitizer on a loaded machine the last one was seen to
    # close just after 10 s.
    poll 30 test "$(grep -c 'connection closed' "$T/err")" -eq 12
    refute grep -q '^State:.*Z' $(printf '/proc/%s/status ' \
        $(cat /proc/"$qpid"/task/*/children 2>/dev/null) /dev/null)
    still_running "$qpid"
}

@test "workers=2 with su= and chroot=: every worker bound as root on a low port, then serving as the user" {
    ((EUID == 0)) || skip "changing user and root directory needs root"
    local low p
    for p in $(seq 990 -1 900); do
        tcp_listening "$p" || { low=$p; break; }
    done
    [[ -n ${low:-} ]] || skip "no free port below 1024"
    mkdir "$T/jail"
    bg_qioc -d TCP4-LISTEN:"$low",fork,workers=2,su=nobody,chroot="$T/jail" PIPE \
        2>"$T/err"
    local qpid=$BG_PID
    wait_port "$low"
    poll 10 grep -q "running as uid 65534" "$T/err"
    (( $(grep -c "running as uid 65534" "$T/err") == 1 ))
    local task
    for task in /proc/"$qpid"/task/*; do
        [[ $(awk '/^Uid:/ { print $2 }' "$task/status") == 65534 ]]
    done
    many "$low" 10 4096
}

# ---------------------------------------------------------------- errors

@test "workers=0, workers=x, --workers=0 and --workers=x: one line, exit 2" {
    run --separate-stderr qioc TCP-LISTEN:"$P",fork,workers=0 -
    assert_usage_error 0
    run --separate-stderr qioc TCP-LISTEN:"$P",fork,workers=x -
    assert_usage_error x
    run --separate-stderr qioc --workers=0 TCP-LISTEN:"$P",fork -
    assert_usage_error 0
    run --separate-stderr qioc --workers=x TCP-LISTEN:"$P",fork -
    assert_usage_error x
    refute tcp_listening "$P"
}

@test "workers= without fork, or on a type that does not listen: exit 2" {
    run --separate-stderr qioc TCP-LISTEN:"$P",workers=2 -
    assert_usage_error workers
    run --separate-stderr qioc UDP-LISTEN:"$P",fork,workers=2 -
    assert_usage_error workers
    refute tcp_listening "$P"
}

@test "workers=2,accept-timeout=1 with no client: one line, exit 1, every worker stops" {
    run --separate-stderr qioc TCP-LISTEN:"$P",fork,workers=2,accept-timeout=1 - </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "no client within 1 s (accept-timeout)"
    refute tcp_listening "$P"
}

@test "workers=2 on a port another socket holds: one line, exit 1" {
    bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").close(); time.sleep(60)' "$P" "$T/bound"
    wait_file "$T/bound"
    run --separate-stderr qioc TCP4-LISTEN:"$P",fork,workers=2 - </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "Address already in use"
}
