#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Serving many clients: fork (concurrent clients, each with its own
# instance of the other address), max-children, a failing client never
# ends the listener, range=, backlog=, accept-timeout=, ACCEPT-FD and
# SD-LISTEN (inherited listening sockets), the signals that stop a
# listener, running out of descriptors, and the descriptor limit qioc
# raises for itself and gives back to its children.

bats_require_minimum_version 1.5.0
load helpers

SD_LAUNCH="$QIOC_TESTS/../../contrib/systemd/sd-launch.py"

setup() {
    qioc_setup
    P=$(free_port)
    B=$(free_port)
}

# py CODE ARGS...: a python3 snippet in the foreground, bounded.
py() {
    timeout -k 5 "${QIOC_TIMEOUT:-30}" "$PYTHON3" -c "$@"
}

# is_qioc_pid PID: PID runs the qioc binary (libtool's wrapper execs it).
is_qioc_pid() {
    local exe
    exe=$(readlink "/proc/$1/exe")
    [[ ${exe##*/} == *qioc* ]] || {
        echo "# pid $1 is $exe, not qioc" >&2
        return 1
    }
}

# ---------------------------------------------------------------- python

# Clients below take an address as "PORT", "HOST:PORT" or a unix PATH.
PY_COMMON='
import hashlib, os, socket, sys, threading, time

def addr_of(a):
    if "/" in a:
        return socket.AF_UNIX, a
    host, _, port = a.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host or "127.0.0.1", int(port))

def connect(a, src=None):
    fam, addr = addr_of(a)
    s = socket.socket(fam, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.connect(addr)
    return s

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

def round_trip(s, data):
    """Send @data (then end-of-file) while reading; True if it all came back."""
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
    if hashlib.sha256(got).digest() == hashlib.sha256(data).digest():
        return None
    return "%d bytes back, not the %d sent" % (len(got), len(data))
'

# echo_backend PORT [EVENTS]: a TCP echo server on 127.0.0.1:PORT for any
# number of clients; it notes "conn" and, at each client's end, "data
# TEXT" (what it got, when short) in EVENTS.
PY_ECHO='
import socket, sys, threading
port, events = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
def note(line):
    with lock, open(events, "a") as f:
        f.write(line + "\n")
def serve(c):
    note("conn")
    got = bytearray()
    try:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            if len(got) < 4096:
                got += b[:4096]
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        note("error %s" % e)
    c.close()
    note("data %s" % got[:4096].decode("latin-1").replace("\n", "|"))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
with open(events + ".ready.tmp", "w") as f:
    f.write("ready\n")
import os
os.rename(events + ".ready.tmp", events + ".ready")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'

echo_backend() {
    local ev=${2:-$T/backend}
    rm -f "$ev.ready"
    bg "$PYTHON3" -c "$PY_ECHO" "$1" "$ev"
    wait_file "$ev.ready"
}

# N clients at once each send SIZE random bytes and check that the same
# bytes come back (sha256).  Prints "ok N".
PY_MANY="$PY_COMMON"'
addr, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
barrier = threading.Barrier(n)
results = []
def client(i):
    data = os.urandom(size)
    try:
        barrier.wait(timeout=20)
        bad = round_trip(connect(addr), data)
        results.append("client %d: %s" % (i, bad) if bad else "ok")
    except Exception as e:
        results.append("client %d: %r" % (i, e))
ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
bad = [r for r in results if r != "ok"]
for r in bad: print(r)
print("ok %d" % (len(results) - len(bad)))
'

# Each of N clients at once reads what it gets until end-of-file.
PY_READ_ALL="$PY_COMMON"'
addr, n = sys.argv[1], int(sys.argv[2])
out = [None] * n
def client(i):
    s = connect(addr)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    out[i] = got.decode().strip()
ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
for o in out: print(o)
'

# One request: send LINE, print the answer line ("<closed>" when the
# connection ends without one, "<none>" when nothing comes in WAIT s).
PY_ASK="$PY_COMMON"'
addr, line = sys.argv[1], sys.argv[2]
wait = float(sys.argv[3]) if len(sys.argv) > 3 else 10
src = sys.argv[4] if len(sys.argv) > 4 else None
s = connect(addr, src)
if src:
    print("from %s %d" % s.getsockname()[:2], file=sys.stderr)
try:
    s.sendall(line.encode() + b"\n")
except OSError:
    pass
r = recv_line(s, wait)
print("<closed>" if r is None else "<none>" if r == "" else r.strip())
'

# ask ADDR LINE [WAIT] [SOURCE]: one request (PY_ASK), answer in $output.
ask() {
    run --separate-stderr py "$PY_ASK" "$@"
}

# served ADDR: a request through ADDR is answered (the echo comes back).
served() {
    local out
    out=$(py "$PY_ASK" "$1" ping 5 2>/dev/null) && [[ $out == ping ]]
}

# ---------------------------------------------------------------- fork

@test "fork: 20 clients at once, 1 MiB each through TCP, all intact" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_MANY" "$P" 20 1048576
    [[ $output == "ok 20" ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    still_running "$qpid"
    (( $(grep -c '^conn$' "$T/backend") == 20 ))
    assert_empty "$T/err"
}

@test "fork: 20 clients at once, 1 MiB each through UNIX-LISTEN" {
    echo_backend "$B"
    bg_qioc UNIX-LISTEN:"$T/s",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/s"
    run --separate-stderr py "$PY_MANY" "$T/s" 20 1048576
    [[ $output == "ok 20" ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    still_running "$qpid"
    assert_empty "$T/err"
}

@test "fork: each client gets its own instance of the other address" {
    bg_qioc TCP-LISTEN:"$P",fork SYSTEM:'echo $$' 2>"$T/err"
    wait_port "$P"
    run --separate-stderr py "$PY_READ_ALL" "$P" 5
    [[ $(wc -l <<<"$output") == 5 ]] || { echo "# $output" >&2; return 1; }
    refute grep -qvx '[0-9][0-9]*' <<<"$output"
    [[ $(sort -u <<<"$output" | wc -l) == 5 ]] || {
        echo "# pids not distinct: $output" >&2
        return 1
    }
    # and more clients after those
    run --separate-stderr py "$PY_READ_ALL" "$P" 1
    [[ $output =~ ^[0-9]+$ ]]
    assert_empty "$T/err"
}

@test "without fork one client is served, then qioc exits 0" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P" TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    ask "$P" hello
    [[ $output == hello ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    refute tcp_listening "$P"
}

# ---------------------------------------------------------------- max-children

PY_MAXCHILD="$PY_COMMON"'
addr = sys.argv[1]
c1, c2 = connect(addr), connect(addr)
for i, c in ((1, c1), (2, c2)):
    c.sendall(b"%d\n" % i)
    r = recv_line(c, 10)
    if r != "%d\n" % i:
        sys.exit("holder %d not served: %r" % (i, r))
c3 = connect(addr)
c3.sendall(b"3\n")
r = recv_line(c3, 1.5)
if r != "":
    sys.exit("third client answered while two held: %r" % r)
c1.close()
r = recv_line(c3, 10)
if r != "3\n":
    sys.exit("third client not served after a holder left: %r" % r)
c4 = connect(addr)
c4.sendall(b"4\n")
r = recv_line(c4, 1.5)
if r != "":
    sys.exit("fourth client answered while two held: %r" % r)
c2.close()
r = recv_line(c4, 10)
if r != "4\n":
    sys.exit("fourth client not served after a holder left: %r" % r)
print("ok")
'

@test "max-children=2: a third client waits until one of the first two leaves" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork,max-children=2 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_MAXCHILD" "$P"
    [[ $status == 0 && $output == ok ]] || {
        echo "# $stderr" >&2
        cat "$T/err" >&2
        return 1
    }
    still_running "$qpid"
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- connect loop

# A server on PORT that takes N connections, writes the sha256 of what
# each sent to LOG (a line each, in accept order), closes its listening
# socket after the Nth accept and exits once all N are done. With HOLD,
# it keeps the first connection open until it has waited a second for a
# second connection (which max-children=1 must hold back), logging
# "second: none" or "second: came"; then it reads on.
PY_COUNTED='
import hashlib, socket, sys, threading
port, n, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hold = len(sys.argv) > 4
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
open(log + ".ready", "w").close()
sums = [None] * n
def drain(i, c):
    h = hashlib.sha256()
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
    sums[i] = h.hexdigest()
    c.close()
threads = []
for i in range(n):
    c, _ = s.accept()
    if hold and i == 0:
        s.settimeout(1)
        try:
            c2, _ = s.accept()
            note = "second: came"
            c2.close()
        except socket.timeout:
            note = "second: none"
        s.settimeout(None)
        with open(log + ".held", "w") as f:
            f.write(note + "\n")
    t = threading.Thread(target=drain, args=(i, c))
    t.start()
    threads.append(t)
s.close()
for t in threads:
    t.join()
with open(log, "w") as f:
    f.write("\n".join(sums) + "\n")
'

@test "fork on TCP (socat's connect loop): connects again each interval, each connection runs its own command, all bytes intact; a refused connect ends it: exit 1, one line" {
    random_file "$T/data" 300000
    local want
    want=$(sha "$T/data")
    rm -f "$T/sums.ready"
    bg "$PYTHON3" -c "$PY_COUNTED" "$P" 3 "$T/sums"
    wait_file "$T/sums.ready"
    run --separate-stderr qioc -u SYSTEM:"cat '$T/data'" \
        TCP:127.0.0.1:"$P",fork,interval=0.3
    assert_status 1
    wait_file "$T/sums"
    [[ $(sort -u "$T/sums") == "$want" && $(wc -l <"$T/sums") == 3 ]] || {
        cat "$T/sums" >&2
        return 1
    }
    assert_one_line "$stderr"
    [[ $stderr == "qioc: [4] address 2 (TCP:127.0.0.1:$P,fork,interval=0.3): connect to 127.0.0.1:$P: Connection refused" ]]
}

@test "fork with max-children=1 on a connecting address: the next connection waits until the first ends" {
    rm -f "$T/sums.ready"
    bg "$PYTHON3" -c "$PY_COUNTED" "$P" 2 "$T/sums" hold
    wait_file "$T/sums.ready"
    # Each connection's command sends once $T/go exists.
    bg_qioc -u SYSTEM:"until [ -e '$T/go' ]; do sleep 0.05; done; echo sent" \
        TCP:127.0.0.1:"$P",fork,max-children=1,interval=0.05 2>"$T/err"
    local qpid=$BG_PID
    wait_file "$T/sums.held"
    [[ $(<"$T/sums.held") == "second: none" ]]
    touch "$T/go"
    wait_file "$T/sums"
    [[ $(sort -u "$T/sums") == "$(echo sent | sha256sum | cut -d' ' -f1)" &&
        $(wc -l <"$T/sums") == 2 ]]
    # The server has closed: the third connect is refused.
    wait "$qpid" && status=0 || status=$?
    forget_pid "$qpid"
    [[ $status == 1 ]]
    grep -q 'connect to .*: Connection refused' "$T/err"
}

@test "fork on a connecting address: SIGTERM ends the loop, exit 143" {
    echo_backend "$B"
    bg_qioc -u SYSTEM:'echo hello' TCP:127.0.0.1:"$B",fork,interval=0.05 \
        2>"$T/err"
    local qpid=$BG_PID
    poll 10 eval '(( $(grep -c "^conn$" "$T/backend") >= 3 ))'
    still_running "$qpid"
    kill -TERM "$qpid"
    wait "$qpid" && status=0 || status=$?
    forget_pid "$qpid"
    [[ $status == 143 ]] || { cat "$T/err" >&2; return 1; }
    assert_empty "$T/err"
}

@test "fork does not apply to a UDP client (no connect loop for datagrams): usage error" {
    run --separate-stderr qioc - UDP:127.0.0.1:"$P",fork
    assert_usage_error fork
    [[ $stderr == *'does not apply to UDP'* ]]
}

# ---------------------------------------------------------------- failures

@test "a refused backend costs one client, not the listener" {
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    ask "$P" first
    [[ $output == "<closed>" ]] || { echo "# $output" >&2; return 1; }
    wait_line "$T/err" \
        "qioc: address 2 (TCP:127.0.0.1:$B): connect to 127.0.0.1:$B: Connection refused"
    still_running "$qpid"
    echo_backend "$B"
    ask "$P" second
    [[ $output == second ]]
    still_running "$qpid"
    [[ $(wc -l <"$T/err") == 1 ]]
}

# syn_sent_to PORT: how many local connects to PORT hang in SYN-SENT.
syn_sent_to() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$3 ~ p "$" && $4 == "02" { n++ } END { print n + 0 }' \
        /proc/net/tcp
}

@test "destinations that never answer for some clients do not stall a client already served" {
    # A backend that accepts one client, echoes it, and never accepts
    # again: with backlog 0 later connects to it hang in SYN-SENT.
    bg "$PYTHON3" -c '
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(0)
open(sys.argv[2], "w").close()
c, _ = s.accept()
while True:
    data = c.recv(65536)
    if not data:
        break
    c.sendall(data)
' "$B" "$T/backend.ready"
    wait_file "$T/backend.ready"
    bg_qioc TCP-LISTEN:"$P",bind=127.0.0.1,fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    # The first client is served, then waits for $T/go to ask again.
    bg "$PYTHON3" -c '
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = socket.create_connection(("127.0.0.1", port))
c.settimeout(10)
c.sendall(b"one\n")
assert c.recv(64) == b"one\n"
open(d + "/served", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.01)
start = time.monotonic()
c.sendall(b"two\n")
assert c.recv(64) == b"two\n"
open(d + "/took", "w").write("%f" % (time.monotonic() - start))
' "$P" "$T"
    local first=$BG_PID
    wait_file "$T/served"
    # Four more clients: their connects to the backend hang.
    local i
    for i in 1 2 3 4; do
        bg "$PYTHON3" -c '
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"stuck\n")
time.sleep(30)
' "$P"
    done
    poll 10 eval '(( $(syn_sent_to "$B") >= 2 ))'
    touch "$T/go"
    reap "$first" 10
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    # Answered at once, not after the hanging connects gave up.
    awk '{ exit !($1 < 2) }' "$T/took"
    still_running "$qpid"
}

@test "a client that resets mid-transfer does not end the listener" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    # 4 MiB out, 64 KiB of the echo read back, then an RST
    peer --port "$P" --connect --events "$T/ev" \
        reset --send-bytes 4194304 --recv-bytes 65536
    grep -qx reset "$T/ev"
    still_running "$qpid"
    ask "$P" after
    [[ $output == after ]]
    ask "$P" again
    [[ $output == again ]]
    still_running "$qpid"
}

@test "a client that connects and leaves at once does not end the listener" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    py 'import socket, struct, sys
for linger in (False, True):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    if linger:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()' "$P"
    ask "$P" still
    [[ $output == still ]]
    still_running "$qpid"
}

# ---------------------------------------------------------------- range=

@test "range=: a client outside is closed at once and logged, its data goes nowhere" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork,range=127.0.0.2/32 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    ask 127.0.0.1:"$P" secret 10 127.0.0.1
    [[ $output == "<closed>" ]] || { echo "# got: $output" >&2; return 1; }
    local port=${stderr##* }
    wait_line "$T/err" "qioc: refused 127.0.0.1:$port: not in range=127.0.0.2/32"
    ask 127.0.0.1:"$P" welcome 10 127.0.0.2
    [[ $output == welcome ]]
    still_running "$qpid"
    # the backend only ever saw the client in range
    wait_line "$T/backend" "data welcome|"
    [[ $(grep -c '^conn$' "$T/backend") == 1 ]]
    refute grep -q secret "$T/backend"
    [[ $(wc -l <"$T/err") == 1 ]] || { cat "$T/err" >&2; return 1; }
}

@test "range=: a refused client that had already sent data sees an end of stream, not a reset" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork,range=127.0.0.2/32 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    # Stopped, qioc cannot accept: the client's line is in the socket
    # before qioc looks at it, where a plain close would send a reset.
    kill -STOP "$qpid"
    py "$PY_COMMON"'
s = connect("127.0.0.1:'"$P"'", "127.0.0.1")
s.sendall(b"refused line\n")
os.kill('"$qpid"', 18)  # SIGCONT
s.settimeout(10)
try:
    print("eof" if s.recv(100) == b"" else "data")
except ConnectionResetError:
    print("reset")
' >"$T/py.out"
    [[ $(cat "$T/py.out") == eof ]] || { cat "$T/py.out" "$T/err" >&2; return 1; }
    # a qioc client likewise ends cleanly, with nothing read
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <<<"also refused"
    assert_status 0
    [[ -z $output ]]
    still_running "$qpid"
    refute grep -q refused "$T/backend"
}

@test "range= on a listener bound to 127.0.0.1, without fork: the first client in range is the one" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",bind=127.0.0.1,range=127.0.0.2/32 \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    ask 127.0.0.1:"$P" secret 10 127.0.0.1
    [[ $output == "<closed>" ]]
    local port=${stderr##* }
    wait_line "$T/err" "qioc: refused 127.0.0.1:$port: not in range=127.0.0.2/32"
    still_running "$qpid"
    ask 127.0.0.1:"$P" welcome 10 127.0.0.2
    [[ $output == welcome ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    refute grep -q secret "$T/backend"
}

@test "range= with several networks" {
    echo_backend "$B"
    bg_qioc TCP4-LISTEN:"$P",fork,'range=10.0.0.0/8;127.0.0.3/32' \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    ask 127.0.0.1:"$P" three 10 127.0.0.3
    [[ $output == three ]]
    ask 127.0.0.1:"$P" two 10 127.0.0.2
    [[ $output == "<closed>" ]]
    wait_line "$T/err" "qioc: refused 127.0.0.2:${stderr##* }: not in range=10.0.0.0/8;127.0.0.3/32"
}

@test "range= in socat's ADDRESS:NETMASK form" {
    echo_backend "$B"
    bg_qioc TCP4-LISTEN:"$P",fork,range=127.0.0.0:255.255.255.254 \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    ask 127.0.0.1:"$P" one 10 127.0.0.1
    [[ $output == one ]]
    ask 127.0.0.1:"$P" two 10 127.0.0.2
    [[ $output == "<closed>" ]]
    wait_line "$T/err" "qioc: refused 127.0.0.2:${stderr##* }: not in range=127.0.0.0/31"
}

@test "sourceport= and lowport on a listener serve only clients from that port, from a port below 1024; lowport on a client binds one (socat's)" {
    [[ $EUID == 0 ]] || skip "ports below 1024 need root"
    local sp
    sp=$(free_port)
    echo_backend "$B"
    bg_qioc TCP4-LISTEN:"$P",fork,sourceport="$sp" TCP:127.0.0.1:"$B" \
        2>"$T/err"
    wait_port "$P"
    run --separate-stderr qioc - TCP4:127.0.0.1:"$P",sourceport="$sp" <<<"from sp"
    [[ $status == 0 && $output == "from sp" ]]
    run --separate-stderr qioc - TCP4:127.0.0.1:"$P" <<<"elsewhere"
    [[ -z $output ]]
    poll 10 grep -q "source port [0-9]* is not sourceport=$sp" "$T/err"
    kill_bg
    echo_backend "$B"
    bg_qioc TCP4-LISTEN:"$P",fork,lowport TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    run --separate-stderr qioc - TCP4:127.0.0.1:"$P",lowport <<<"low"
    [[ $status == 0 && $output == low ]] || { cat "$T/err" >&2; return 1; }
    grep -Eq "^data low" "$T/backend"
    run --separate-stderr qioc - TCP4:127.0.0.1:"$P" <<<"high"
    [[ -z $output ]]
    poll 10 grep -q "is not below 1024 (lowport)" "$T/err"
}

@test "range=localhost: a host name stands for every address it resolves to" {
    echo_backend "$B"
    bg_qioc TCP4-LISTEN:"$P",fork,range=localhost TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    ask 127.0.0.1:"$P" local 10 127.0.0.1
    [[ $output == local ]]
    ask 127.0.0.1:"$P" other 10 127.0.0.2
    [[ $output == "<closed>" ]]
    wait_line "$T/err" "qioc: refused 127.0.0.2:${stderr##* }: not in range=localhost"
}

@test "range=localhost:255.255.255.0: a host name with socat's NETMASK widens its IPv4 addresses, its IPv6 ones stay exact" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork,range=localhost:255.255.255.0 \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    ask 127.0.0.1:"$P" near 10 127.0.0.9
    [[ $output == near ]] || { cat "$T/err" >&2; return 1; }
    ask [::1]:"$P" six 10 ::1
    [[ $output == six ]] || { echo "# $output $stderr" >&2; cat "$T/err" >&2; return 1; }
    ask 127.0.0.1:"$P" far 10 127.0.1.1
    [[ $output == "<closed>" ]]
    wait_line "$T/err" "qioc: refused 127.0.1.1:${stderr##* }: not in range=localhost/24"
    # HOST/BITS is the same, written as qioc writes it
    run --separate-stderr qioc --dry-run TCP-LISTEN:"$P",range=localhost/24 -
    assert_status 0
    run --separate-stderr qioc TCP-LISTEN:"$P",range=localhost/33 -
    assert_usage_error localhost/33
}

@test "range=: a value that is neither a network nor a host name is a usage error" {
    run --separate-stderr qioc TCP-LISTEN:"$P",range=10.0.0.0/99 -
    assert_usage_error 10.0.0.0/99
    run --separate-stderr qioc TCP-LISTEN:"$P",range=bad_name -
    assert_usage_error bad_name
}

# ---------------------------------------------------------------- backlog=, accept-timeout=

@test "backlog=N sets the listen backlog" {
    echo_backend "$B"
    bg_qioc TCP4-LISTEN:"$P",fork,backlog=7 TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    ask 127.0.0.1:"$P" hi
    [[ $output == hi ]]
    if command -v ss >/dev/null; then
        # a listening socket's Send-Q is its backlog
        local q
        q=$(ss -Hltn "sport = :$P" | awk '{ print $3 }')
        [[ $q == 7 ]] || { echo "# ss shows backlog '$q'" >&2; return 1; }
    fi
}

@test "accept-timeout=1 with no client: exit 1 within a few seconds" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP-LISTEN:"$P",accept-timeout=1 TCP:127.0.0.1:"$B"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 1 (TCP-LISTEN:$P,accept-timeout=1): "*accept-timeout* ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
    assert_slower_than 900 "$start"
    assert_faster_than 6000 "$start"
}

@test "accept-timeout=1 on a fork listener with no client: exit 1" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc UNIX-LISTEN:"$T/s",fork,accept-timeout=1 TCP:127.0.0.1:"$B"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == *accept-timeout* ]]
    assert_faster_than 6000 "$start"
    [[ ! -e $T/s ]]
}

@test "accept-timeout: a client in time is served, exit 0" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",accept-timeout=10 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    ask "$P" intime
    [[ $output == intime ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- ACCEPT-FD

# Listens on 127.0.0.1 (a free port), puts the socket on descriptor N,
# writes the port to READY and execs the command.
PY_LAUNCH='
import os, signal, socket, sys
n, ready, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
os.dup2(s.fileno(), n, inheritable=True)
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
s.close()
os.rename(ready + ".tmp", ready)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
os.execvp(cmd[0], cmd)
'

@test "ACCEPT-FD:N,fork serves clients on an inherited listening socket" {
    echo_backend "$B"
    bg "$PYTHON3" -c "$PY_LAUNCH" 7 "$T/port" \
        "$QIOC" ACCEPT-FD:7,fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_file "$T/port"
    local port
    port=$(cat "$T/port")
    ask "$port" one
    [[ $output == one ]]
    ask "$port" two
    [[ $output == two ]]
    still_running "$qpid"
    assert_empty "$T/err"
}

@test "ACCEPT-FD:N without fork serves one client, then exits 0" {
    echo_backend "$B"
    bg "$PYTHON3" -c "$PY_LAUNCH" 5 "$T/port" \
        "$QIOC" ACCEPT-FD:5 TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_file "$T/port"
    ask "$(cat "$T/port")" only
    [[ $output == only ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
}

@test "ACCEPT-FD on a descriptor that is not a listening socket: exit 1" {
    run --separate-stderr qioc ACCEPT-FD:5 TCP:127.0.0.1:"$B" 5</dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 1 (ACCEPT-FD:5): "* ]]
}

# ---------------------------------------------------------------- SD-LISTEN

# sd_launch ARGS... -- COMMAND...: sd-launch.py in the background; the
# names and ports of its sockets in $T/sd.
sd_launch() {
    bg "$PYTHON3" "$SD_LAUNCH" --ready "$T/sd" "$@" 2>"$T/err"
    QPID=$BG_PID
    wait_file "$T/sd"
}

sd_where() {
    awk -v n="$1" '$1 == n { print $2 }' "$T/sd"
}

@test "SD-LISTEN,fork serves clients on the socket systemd passed" {
    echo_backend "$B"
    sd_launch -l 127.0.0.1:0 --fdname web -- \
        "$QIOC" SD-LISTEN,fork TCP:127.0.0.1:"$B"
    local port
    port=$(sd_where web)
    ask "$port" one
    [[ $output == one ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    ask "$port" two
    [[ $output == two ]]
    still_running "$QPID"
    assert_empty "$T/err"
}

@test "SD-LISTEN:NAME takes only the socket so named" {
    echo_backend "$B"
    sd_launch -l 127.0.0.1:0 -l "$T/admin.sock" --fdname web:admin -- \
        "$QIOC" SD-LISTEN:admin,fork TCP:127.0.0.1:"$B"
    ask "$(sd_where admin)" admin
    [[ $output == admin ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    # the other socket listens (the launcher made it) but nobody accepts
    ask "$(sd_where web)" web 1
    [[ $output == "<none>" ]] || { echo "# web got: $output" >&2; return 1; }
    ask "$(sd_where admin)" again
    [[ $output == again ]]
}

@test "SD-LISTEN without a name takes every passed socket" {
    echo_backend "$B"
    sd_launch -l 127.0.0.1:0 -l "$T/b.sock" --fdname a:b -- \
        "$QIOC" SD-LISTEN,fork TCP:127.0.0.1:"$B"
    ask "$(sd_where a)" via-a
    [[ $output == via-a ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    ask "$(sd_where b)" via-b
    [[ $output == via-b ]]
}

@test "SD-LISTEN:NAME with no such name: exit 1, says so" {
    sd_launch -l 127.0.0.1:0 --fdname web -- \
        "$QIOC" SD-LISTEN:nosuch TCP:127.0.0.1:"$B"
    reap "$QPID"
    [[ $BG_STATUS == 1 ]] || { echo "# status $BG_STATUS" >&2; return 1; }
    local msg
    msg=$(cat "$T/err")
    assert_one_line "$msg"
    [[ $msg == "qioc: address 1 (SD-LISTEN:nosuch): "*nosuch* ]]
}

@test "SD-LISTEN without socket activation: exit 1" {
    run --separate-stderr env -u LISTEN_FDS -u LISTEN_PID \
        "$QIOC" SD-LISTEN TCP:127.0.0.1:"$B"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 1 (SD-LISTEN): "*LISTEN_FDS* ]]
}

# ---------------------------------------------------------------- signals

# A client that waits until qioc has filled its socket, notes how much is
# queued in $T/queued, then waits for $T/go and reads to end-of-file.
PY_SLOW_READER="$PY_COMMON"'
import fcntl, termios, array
addr, queued, go, out = sys.argv[1:5]
s = connect(addr)
def inq():
    a = array.array("i", [0])
    fcntl.ioctl(s.fileno(), termios.FIONREAD, a)
    return a[0]
last = -1
while True:
    n = inq()
    if n >= 65536 and n == last:
        break
    last = n
    time.sleep(0.02)
with open(queued + ".tmp", "w") as f:
    f.write("%d\n" % n)
os.rename(queued + ".tmp", queued)
while not os.path.exists(go):
    time.sleep(0.01)
with open(out, "wb") as f:
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        f.write(b)
'

# refused PATH: a connect to the unix socket PATH fails.
refused() {
    ! "$PYTHON3" -c 'import socket, sys
socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" 2>/dev/null
}

# stalled_transfer: a fork listener on $T/s relays 8 MiB from a TCP peer
# to a client that reads nothing until $T/go appears; qioc's pid in QPID,
# the client's in CPID.
stalled_transfer() {
    random_file "$T/data" 8M
    bg_peer --port "$B" --ready "$T/ready" xfer --send "$T/data" --no-shut
    wait_file "$T/ready"
    bg_qioc -b 64K UNIX-LISTEN:"$T/s",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    QPID=$BG_PID
    wait_socket "$T/s"
    bg "$PYTHON3" -c "$PY_SLOW_READER" "$T/s" "$T/queued" "$T/go" "$T/out"
    CPID=$BG_PID
    wait_file "$T/queued" 15
}

@test "SIGTERM: the fork listener stops accepting, the transfer flushes, exit 143" {
    stalled_transfer
    kill -TERM "$QPID"
    # no new clients: the socket file goes, connects fail
    poll 10 refused "$T/s"
    [[ ! -e $T/s ]]
    touch "$T/go"
    reap "$CPID"
    reap "$QPID"
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    # what came out is an intact prefix of what was sent, and more than
    # was queued when the signal came: qioc wrote out what it held
    local n q
    n=$(stat -c %s "$T/out")
    q=$(cat "$T/queued")
    head -c "$n" "$T/data" >"$T/want"
    assert_same "$T/want" "$T/out"
    (( n > q )) || { echo "# got $n bytes, $q were queued at the signal" >&2; return 1; }
}

@test "SIGTERM: a second SIGTERM ends at once" {
    stalled_transfer
    kill -TERM "$QPID"
    poll 10 refused "$T/s"
    # the client still reads nothing: qioc waits to flush
    still_running "$QPID"
    kill -TERM "$QPID"
    reap "$QPID" 5
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    [[ ! -e $T/s ]]
}

@test "SIGINT ends a fork listener with a connection open: exit 130" {
    echo_backend "$B"
    bg_qioc UNIX-LISTEN:"$T/s",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/s"
    bg_peer --unix "$T/s" --connect --events "$T/ev" hold --send $'held\n'
    local cpid=$BG_PID
    wait_line "$T/backend" conn
    kill -INT "$qpid"
    reap "$qpid"
    [[ $BG_STATUS == 130 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    [[ ! -e $T/s ]]
    reap "$cpid"
    grep -q '^eof' "$T/ev"
}

@test "SIGTERM ends an idle fork listener: exit 143, socket file removed" {
    bg_qioc UNIX-LISTEN:"$T/s",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/s"
    kill -TERM "$qpid"
    reap "$qpid"
    [[ $BG_STATUS == 143 ]]
    [[ ! -e $T/s ]]
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- EMFILE

# Clients one after another each send a line and wait 2 s for its echo:
# those answered are held open, those closed are turned away; the first
# that gets neither waits (in the backlog, or accepted and held by qioc
# for a descriptor: "stuck"), and no more come.
# Then the held ones must still work; they leave, and the stuck one must
# be served.  Prints "served N", "turned-away N", "stuck N".
PY_EXHAUST="$PY_COMMON"'
addr, n = sys.argv[1], int(sys.argv[2])
held, away, stuck = [], 0, None
for i in range(n):
    s = connect(addr)
    try:
        s.sendall(b"c%d\n" % i)
    except OSError:
        pass
    r = recv_line(s, 2)
    if r == "c%d\n" % i:
        held.append(s)
    elif r is None:
        away += 1
        s.close()
    else:
        stuck = (i, s)
        break
print("served %d" % len(held))
print("turned-away %d" % away)
print("stuck %d" % (stuck is not None))
sys.stdout.flush()
for i, s in enumerate(held):
    s.sendall(b"again%d\n" % i)
    if recv_line(s, 10) != "again%d\n" % i:
        sys.exit("held client %d no longer served" % i)
for s in held:
    s.close()
if stuck:
    i, s = stuck
    r = recv_line(s, 10)
    if r != "c%d\n" % i:
        sys.exit("the client that waited was not served after the others left: %r" % r)
'

@test "ulimit -n 32 and many clients: qioc runs on and serves again after" {
    echo_backend "$B"
    bg "${DEFAULT_SIGNALS[@]}" bash -c 'ulimit -n 32 && exec "$@"' sh \
        "$QIOC" TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_EXHAUST" "$P" 16
    [[ $status == 0 ]] || {
        echo "# $output" >&2
        echo "# $stderr" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    (( $(awk '$1 == "served" { print $2 }' <<<"$output") >= 1 ))
    # descriptors did run out, and the client that found none waited:
    # none was turned away
    [[ $output == *"turned-away 0"*"stuck 1"* ]] || {
        echo "# a client was turned away, or descriptors never ran out: $output" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    still_running "$qpid"
    poll 10 served "$P"
    served "$P"
    still_running "$qpid"
    grep -q "Too many open files" "$T/err"
}

# With qioc's descriptor limit set (prlimit) to leave room for exactly one
# more connection after the first: a second client is served, a third
# finds no descriptor to accept with and waits 2 s in the backlog; the
# first leaves and the third is served.
PY_EMFILE="$PY_COMMON"'
import resource
addr, pid = sys.argv[1], int(sys.argv[2])
def used():
    return {int(n) for n in os.listdir("/proc/%d/fd" % pid)}
def ask(s, line, wait):
    s.sendall(line.encode() + b"\n")
    r = recv_line(s, wait)
    return r.strip() if r else r
base = used()
h1 = connect(addr)
if ask(h1, "h1", 10) != "h1":
    sys.exit("first client not served")
per_conn = len(used()) - len(base)
now = used()
limit = 0
while sum(1 for n in range(limit) if n not in now) < per_conn:
    limit += 1
resource.prlimit(pid, resource.RLIMIT_NOFILE,
                 (limit, resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]))
print("per-connection %d, limit %d" % (per_conn, limit), file=sys.stderr)
h2 = connect(addr)
if ask(h2, "h2", 10) != "h2":
    sys.exit("second client not served (%d descriptors per connection?)" % per_conn)
c3 = connect(addr)
r = ask(c3, "c3", 2)
if r != "":
    sys.exit("third client: %r, expected to wait" % r)
h1.close()
r = recv_line(c3, 10)
if r != "c3\n":
    sys.exit("third client not served after the first left: %r" % r)
print("ok")
'

@test "out of descriptors: the accept error is logged once, not every retry" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    is_qioc_pid "$qpid"
    run --separate-stderr py "$PY_EMFILE" "$P" "$qpid"
    [[ $status == 0 && $output == ok ]] || {
        echo "# $output" >&2
        echo "# $stderr" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    still_running "$qpid"
    served "$P"
    # the third client waited 2 s for a descriptor: the error is logged,
    # but not at every retry (a few lines, not one per 100 ms)
    local n
    n=$(grep -c 'accept.*Too many open files' "$T/err") || true
    (( n >= 1 )) || { echo "# no accept error logged:" >&2; cat "$T/err" >&2; return 1; }
    untag "$T/err" | grep -q "^qioc: address 1 (TCP-LISTEN:$P,fork): accept: Too many open files" || {
        echo "# no line names the listener and the reason:" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    (( n <= 5 )) || {
        echo "# the accept error was logged $n times while one client waited 2 s:" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
}

# ---------------------------------------------------------------- held clients

# Descriptors that run out after a client was accepted, when qioc opens
# the other side for it. PY_HELD MODE ADDR PID ERRFILE ARGS... lowers the
# limit of qioc (PID) with prlimit so that exactly as many descriptors as
# a mode needs are left, and watches qioc's log (ERRFILE) for the line
# that says a client is held. Modes:
#   many N SIZE   two served clients stay open, one descriptor is left,
#                 N clients send SIZE random bytes each; one is held: it
#                 is retried once per pause (-dd lines) at little CPU; the
#                 first two leave and every client gets its bytes back
#   burst N FREE SIZE  with qioc stopped, FREE descriptors left and N
#                 clients queued: all FREE are accepted at once and held,
#                 no connection would ever free one; all N served
#   one ACTION    a served client stays open, one descriptor is left, a
#                 client is held, then ACTION: term (SIGTERM to qioc; the
#                 held client is closed), reset (it resets; qioc lets it
#                 go and holds the next), timeout (connect-timeout=1 ends
#                 the wait and closes it); then, unless term, the first
#                 client leaves and a held client is served
# Prints "ok" or "ok N"; anything else, or exit 1, is a failure.
PY_HELD="$PY_COMMON"'
import resource, signal, struct
mode, addr, pid, err = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
args = sys.argv[5:]
HOLDING = "holding the client and retrying"
RETRY = "still holding the client"

# The descriptors of qioc once they stop changing: a connection just set
# up may still open one of GLib (for a child watch) or close a duplicate,
# which would make the limit below one off.
def fds_settled():
    end = time.monotonic() + 5
    before = None
    while True:
        now = {int(n) for n in os.listdir("/proc/%d/fd" % pid)}
        if now == before or time.monotonic() > end:
            return now
        before = now
        time.sleep(0.05)

def squeeze(free):
    used = fds_settled()
    limit = 0
    while limit - len([n for n in used if n < limit]) < free:
        limit += 1
    hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, hard))

def lines(text):
    with open(err) as f:
        return sum(text in l for l in f)

def wait_for(what, cond, limit=15):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            sys.exit("gave up waiting for " + what)
        time.sleep(0.01)
    return time.monotonic()

def cpu():
    with open("/proc/%d/stat" % pid) as f:
        f = f.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def ask(s, line, wait=10):
    s.sendall(line.encode() + b"\n")
    r = recv_line(s, wait)
    return r.strip() if r else r

def holder():
    s = connect(addr)
    if ask(s, "holder") != "holder":
        sys.exit("the first client was not served")
    return s

def echo(i, size, results, connected=None):
    data = os.urandom(size)
    try:
        s = connect(addr)
        s.settimeout(20)
        if connected:
            connected.release()
        bad = round_trip(s, data)
        results[i] = "client %d: %s" % (i, bad) if bad else "ok"
    except Exception as e:
        results[i] = "client %d: %r" % (i, e)

def echoes(n, size, connected=None):
    results = [None] * n
    ts = [threading.Thread(target=echo, args=(i, size, results, connected))
          for i in range(n)]
    for t in ts:
        t.start()
    return ts, results

def report(ts, results):
    for t in ts:
        t.join()
    bad = [r for r in results if r != "ok"]
    for r in bad:
        print(r)
    print("ok %d" % (len(results) - len(bad)))

def many(n, size):
    holders = [holder(), holder()]
    squeeze(1)
    ts, results = echoes(n, size)
    wait_for("a held client", lambda: lines(HOLDING) >= 1)
    t0 = wait_for("a retry", lambda: lines(RETRY) >= 1)
    c0 = cpu()
    t1 = wait_for("10 more retries", lambda: lines(RETRY) >= 11)
    c1 = cpu()
    ms, busy = (t1 - t0) * 1000, (c1 - c0) * 1000
    print("10 retries in %d ms, %d ms of CPU" % (ms, busy), file=sys.stderr)
    if ms < 800:
        sys.exit("10 retries in %d ms: not one per pause" % ms)
    if busy > ms / 4:
        sys.exit("qioc used %d ms of CPU in %d ms holding a client" % (busy, ms))
    for s in holders:
        s.close()
    report(ts, results)

def stopped():
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"

def burst(n, free, size):
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for("qioc to stop", stopped)
        squeeze(free)
        connected = threading.Semaphore(0)
        ts, results = echoes(n, size, connected)
        for i in range(n):
            if not connected.acquire(timeout=10):
                sys.exit("client %d could not connect" % i)
    finally:
        os.kill(pid, signal.SIGCONT)
    report(ts, results)

def one(action, free=1):
    h = holder()
    squeeze(free)
    c = connect(addr)
    c.sendall(b"held\n")
    t0 = wait_for("a held client", lambda: lines(HOLDING) >= 1)
    if action == "term":
        os.kill(pid, signal.SIGTERM)
        r = recv_line(c, 10)
        print("ok" if r is None else "held client: %r, expected end-of-file" % r)
        return
    if action == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        wait_for("qioc to let the client go", lambda: lines("went away") >= 1)
        c = connect(addr)
        c.sendall(b"held\n")
        wait_for("the next client held", lambda: lines(HOLDING) >= 2)
    if action == "timeout":
        r = recv_line(c, 10)
        waited = time.monotonic() - t0
        if r is not None:
            sys.exit("held client: %r, expected end-of-file" % r)
        if waited < 0.8:
            sys.exit("held client closed after %.2f s, before connect-timeout=1" % waited)
        c = connect(addr)
        c.sendall(b"held\n")
        wait_for("the next client held", lambda: lines(HOLDING) >= 2)
    h.close()
    r = recv_line(c, 10)
    print("ok" if r == "held\n" else "held client not served: %r" % r)

if mode == "many":
    many(int(args[0]), int(args[1]))
elif mode == "burst":
    burst(int(args[0]), int(args[1]), int(args[2]))
else:
    one(args[0], *[int(a) for a in args[1:]])
'

# held_run ARGS...: PY_HELD for the qioc in QPID, logging to $T/err; shows
# what went wrong when it does.
held_run() {
    is_qioc_pid "$QPID"
    run --separate-stderr py "$PY_HELD" "$1" "$P" "$QPID" "$T/err" "${@:2}"
    [[ $status == 0 && $output == ok* && $output != *$'\n'* ]] || {
        echo "# status $status: $output" >&2
        echo "# $stderr" >&2
        sort "$T/err" | uniq -c | sort -rn | head -30 >&2
        return 1
    }
}

# held_qioc ARGS...: a fork listener on $P relaying to the echo backend.
held_qioc() {
    echo_backend "$B"
    bg_qioc "$@" 2>"$T/err"
    QPID=$BG_PID
    wait_port "$P"
}

@test "out of descriptors for the other side: clients are held, retried once per pause, all served intact" {
    held_qioc -dd TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B"
    QIOC_TIMEOUT=60 held_run many 8 $((1 << 20))
    [[ $output == "ok 8" ]]
    still_running "$QPID"
    served "$P"
    # one line, at the default level, says so; the retries only at -dd
    untag "$T/err" | grep -q "^qioc: address 2 (TCP:127.0.0.1:$B): connect to 127.0.0.1:$B: Too many open files; holding the client and retrying$" || {
        echo "# no line says a client is held:" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    local n
    n=$(grep -c 'holding the client and retrying' "$T/err")
    (( n <= 8 )) || { echo "# $n held lines for 8 clients" >&2; return 1; }
}

@test "workers=2, out of descriptors for the other side: the clients of both workers are held and all served intact" {
    held_qioc -dd TCP-LISTEN:"$P",fork,workers=2 TCP:127.0.0.1:"$B"
    QIOC_TIMEOUT=60 held_run many 8 $((1 << 20))
    [[ $output == "ok 8" ]]
    still_running "$QPID"
    served "$P"
    grep -q 'holding the client and retrying' "$T/err"
}

@test "workers=2, out of descriptors with every client held: the reserve counts every worker's clients, all are served" {
    held_qioc -dd TCP-LISTEN:"$P",fork,workers=2 TCP:127.0.0.1:"$B"
    QIOC_TIMEOUT=60 held_run burst 8 4 $((256 << 10))
    [[ $output == "ok 8" ]]
    still_running "$QPID"
    served "$P"
}

@test "out of descriptors with every client held: none would free one, all are served" {
    held_qioc -dd TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B"
    QIOC_TIMEOUT=60 held_run burst 8 4 $((256 << 10))
    [[ $output == "ok 8" ]]
    still_running "$QPID"
    served "$P"
    grep -q 'giving up the one in reserve' "$T/err" || {
        echo "# the clients were never all held at once:" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
}

@test "a held client is closed by SIGTERM: exit 143" {
    held_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B"
    held_run one term
    reap "$QPID" 5
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
}

@test "nofork EXEC out of descriptors: the client is held, the child never gets qioc's own stdin" {
    held_qioc TCP-LISTEN:"$P",fork EXEC:cat,nofork
    held_run one term
    reap "$QPID" 5
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    grep -q "duplicate the peer's descriptor: Too many open files; holding the client and retrying$" "$T/err" || {
        sort "$T/err" | uniq -c >&2
        return 1
    }
}

@test "nofork EXEC with descriptors for the duplicates but not for GLib's own pipe: the client is held too" {
    # 3 free: the accept takes one, the two duplicates of the client's
    # socket the rest, and the pipe GLib makes to start the child fails.
    held_qioc TCP-LISTEN:"$P",fork EXEC:cat,nofork
    held_run one term 3
    reap "$QPID" 5
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    grep -q "start the child: Too many open files; holding the client and retrying$" "$T/err" || {
        sort "$T/err" | uniq -c >&2
        return 1
    }
}

@test "EXEC with descriptors for its pipes but not for GLib's own: the client is held" {
    # 5 free: the accept takes one, the child's two pipes the rest, and
    # the pipe GLib makes to start the child fails.
    held_qioc TCP-LISTEN:"$P",fork EXEC:cat
    held_run one term 5
    reap "$QPID" 5
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    grep -q "failed to run cat: Too many open files; holding the client and retrying$" "$T/err" || {
        sort "$T/err" | uniq -c >&2
        return 1
    }
}

@test "a held client that resets is let go, and the listener holds the next" {
    held_qioc -d TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B"
    held_run one reset
    untag "$T/err" | grep -q "^qioc: address 1 (TCP-LISTEN:$P,fork): the held client went away$"
    still_running "$QPID"
}

@test "connect-timeout= bounds the wait of a held client" {
    held_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B",connect-timeout=1
    held_run one timeout
    untag "$T/err" | grep -q "^qioc: address 2 (TCP:127.0.0.1:$B,connect-timeout=1): connect to 127.0.0.1:$B: Too many open files; no descriptor within 1 s (connect-timeout)$" || {
        sort "$T/err" | uniq -c >&2
        return 1
    }
    still_running "$QPID"
}

# ---------------------------------------------------------------- many in a row

# PY_SEQUENTIAL PORT N [PID]: connect N times one after another; each
# client sends a line and must get it back before the next one starts.
# Prints "ok N"; with PID, also "peak N" on stderr: the most sockets PID
# held after a client was done.
PY_SEQUENTIAL='
import os, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
def sockets():
    fds = "/proc/%d/fd" % pid
    count = 0
    for f in os.listdir(fds):
        try:
            count += os.readlink(os.path.join(fds, f)).startswith("socket:")
        except OSError:
            pass
    return count
peak = 0
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    msg = b"client %d\n" % i
    c.sendall(msg)
    c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        got += d
    c.close()
    if got != msg:
        print("client %d got %r" % (i, got))
        sys.exit(1)
    if pid:
        peak = max(peak, sockets())
print("ok", n)
if pid:
    print("peak", peak, file=sys.stderr)
'

fd_count() {
    ls "/proc/$1/fd" | wc -l
}

# A client that sends zeros as fast as it can and reads back whatever
# comes, until killed: it keeps the relay's loop busy.
PY_BULK='
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def drain():
    while s.recv(1 << 20):
        pass
threading.Thread(target=drain, daemon=True).start()
buf = bytes(1 << 20)
while True:
    s.sendall(buf)
'

# socket_count PID: how many sockets PID holds.
socket_count() {
    find "/proc/$1/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null | wc -l
}

@test "fork: finished connections are closed while others keep the loop busy" {
    # an echo backend that keeps up: qioc itself, looping through a pipe
    bg_qioc TCP-LISTEN:"$B",fork PIPE
    wait_port "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_SEQUENTIAL" "$P" 1
    [[ $output == "ok 1" ]]
    is_qioc_pid "$qpid"
    local before
    before=$(socket_count "$qpid")
    local i bulk=()
    for i in 1 2 3 4; do
        bg "$PYTHON3" -c "$PY_BULK" "$P"
        bulk+=("$BG_PID")
    done
    poll 10 bash -c "(( \$(find /proc/$qpid/fd -lname 'socket:*' | wc -l) >= $before + 8 ))"
    # 300 short connections, one after the other: each is closed by qioc
    # soon after its client saw the end, not when the loop has nothing
    # else to do (which, with four busy transfers, is never)
    # (four busy transfers on a loaded machine can make this slow)
    QIOC_TIMEOUT=120 run --separate-stderr py "$PY_SEQUENTIAL" "$P" 300 "$qpid"
    [[ $output == "ok 300" ]] || {
        echo "# status $status: $output $stderr" >&2
        cat "$T/err" >&2
        return 1
    }
    # Freed only when idle, they would pile up to 600; a loaded machine
    # may let qioc lag some connections behind the client (each 2).
    local peak=${stderr##*peak }
    (( peak <= before + 8 + 20 )) || {
        echo "# sockets: $before before, $((before + 8)) with the busy four, up to $peak during" >&2
        return 1
    }
    for i in "${bulk[@]}"; do
        still_running "$i"
    done
    assert_empty "$T/err"
}

@test "fork: 50 clients in a row are all served" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_SEQUENTIAL" "$P" 50
    [[ $output == "ok 50" ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    still_running "$qpid"
    assert_empty "$T/err"
}

@test "fork: after 1000 connections the listener holds no more descriptors than before" {
    echo_backend "$B"
    bg_qioc TCP-LISTEN:"$P",fork TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    # One connection first, so that everything made once (the backend's
    # first client, GLib's own descriptors) is there before counting.
    run --separate-stderr py "$PY_SEQUENTIAL" "$P" 1
    [[ $output == "ok 1" ]]
    is_qioc_pid "$qpid"
    local before
    before=$(fd_count "$qpid")
    QIOC_TIMEOUT=120 run --separate-stderr py "$PY_SEQUENTIAL" "$P" 1000
    [[ $output == "ok 1000" ]] || { echo "# $output" >&2; cat "$T/err" >&2; return 1; }
    # Connections finish in the loop after the client sees end-of-file.
    poll 10 bash -c "[ \$(ls /proc/$qpid/fd | wc -l) -le $before ]" || {
        echo "# descriptors: $before before, $(fd_count "$qpid") after" >&2
        ls -l "/proc/$qpid/fd" >&2
        return 1
    }
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- su, chroot

need_root() {
    ((EUID == 0)) || skip "changing user and root directory needs root"
}

# proc_ids PID: "UID GID" of a process, the real ids from /proc.
proc_ids() {
    awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } END { print u, g }' \
        "/proc/$1/status"
}

# low_free_port: a port below 1024 nothing listens on, to show that the
# listener is bound before the user changes.
low_free_port() {
    local p
    for p in $(seq 990 -1 900); do
        tcp_listening "$p" || { echo "$p"; return 0; }
    done
    return 1
}

@test "su= and chroot= on a listener: bound as root on a low port, then serving as the user inside the new root" {
    need_root
    local low
    low=$(low_free_port) || skip "no free port below 1024"
    mkdir "$T/jail"
    bg_qioc -d TCP4-LISTEN:"$low",reuseaddr,fork,su=nobody,chroot="$T/jail" PIPE \
        2>"$T/err"
    local pid=$BG_PID
    wait_port "$low"
    poll 10 grep -q "running as uid 65534" "$T/err"
    [[ $(proc_ids "$pid") == "65534 65534" ]]
    [[ $(readlink "/proc/$pid/root") == "$T/jail" ]]
    # The root directory changed: no /etc inside.
    [[ ! -e /proc/$pid/root/etc ]]
    run --separate-stderr qioc - TCP4:127.0.0.1:"$low" <<<"echoed"
    assert_status 0
    [[ $output == echoed ]]
    grep -qF "address 1 (TCP4-LISTEN:$low,reuseaddr,fork,su=nobody,chroot=$T/jail): running as uid 65534 gid 65534, root $T/jail" "$T/err"
}

@test "su= on EXEC and SYSTEM changes the child's user, not qioc's" {
    need_root
    run --separate-stderr qioc -u 'SYSTEM:id -u; id -g; id -G,su=nobody' -
    assert_status 0
    [[ ${lines[0]} == 65534 && ${lines[1]} == 65534 ]]
    [[ ${lines[2]} == "65534" ]]
    # socat's other spellings
    run --separate-stderr qioc -u 'EXEC:id -u,su-d=nobody' -
    [[ $output == 65534 ]]
    run --separate-stderr qioc -u 'EXEC:id -u,substuser=65534' -
    [[ $output == 65534 ]]
}

@test "a child that cannot change its root does not run, and says so" {
    need_root
    run --separate-stderr qioc -u "SYSTEM:echo ran,chroot=$T/nonexistent" -
    [[ -z $output ]]
    assert_contains "$stderr" "could not change its root to $T/nonexistent; not running it"
    assert_status 1
}

@test "su= without the privilege: one line, exit 1, nothing served" {
    command -v setpriv >/dev/null || skip "setpriv is needed to run as another user"
    ((EUID == 0)) || skip "needs root to become nobody first"
    run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$QIOC" TCP4-LISTEN:"$P",su=root - </dev/null
    assert_error 1 "TCP4-LISTEN:$P,su=root" "su=root: Operation not permitted"
}

@test "setsid on an address that is not a command: qioc's own new session; refused as a group leader" {
    # The child reports its parent's (qioc's) session and pid.
    run --separate-stderr qioc -u 'SYSTEM:cut -d" " -f1\,6 /proc/$PPID/stat' \
        STDOUT,setsid
    assert_status 0
    local pid=${output%% *} sid=${output##* }
    [[ $pid == "$sid" ]]
    command -v setsid >/dev/null || skip "setsid(1) is needed to lead a group"
    run --separate-stderr setsid -w "$QIOC" -u - STDOUT,setsid </dev/null
    assert_error 2 STDOUT,setsid "setsid: Operation not permitted"
}

@test "setpgid (socat's): a new process group, qioc's own or, on EXEC and SYSTEM, the child's" {
    run --separate-stderr qioc -u 'SYSTEM:cut -d" " -f1\,5 /proc/$PPID/stat' \
        STDOUT,setpgid
    assert_status 0
    [[ ${output%% *} == "${output##* }" ]]
    local qioc_pgrp=${output##* }
    # The child's own group: its pid, not qioc's group.
    run --separate-stderr qioc -u 'SYSTEM:cut -d" " -f1\,5 /proc/$$/stat,setpgid=1' \
        STDOUT
    assert_status 0
    [[ ${output%% *} == "${output##* }" ]]
    # Given in the writing half of a dual address, it acts all the same.
    run --separate-stderr qioc -u 'SYSTEM:cut -d" " -f1\,5 /proc/$PPID/stat' \
        'STDIN!!STDOUT,setpgid'
    assert_status 0
    [[ ${output%% *} == "${output##* }" ]]
    run --separate-stderr qioc -u - STDOUT,setpgid=x </dev/null
    assert_usage_error x
}

@test "idle-timeout= on a fork listener ends a silent client's connection; an active one goes on" {
    local p
    p=$(free_port)
    bg_qioc -d TCP-LISTEN:"$p",fork,bind=127.0.0.1,idle-timeout=0.5 EXEC:cat 2>"$T/q.err"
    wait_port "$p"
    run -0 timeout 20 "$PYTHON3" - "$p" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
silent = socket.create_connection(("127.0.0.1", port))
active = socket.create_connection(("127.0.0.1", port))
silent.settimeout(5)
active.settimeout(5)
start = time.monotonic()
for i in range(8):
    active.sendall(b"tick %d\n" % i)
    assert active.recv(100) == b"tick %d\n" % i
    time.sleep(0.2)
assert silent.recv(1) == b"", "the silent client was not cut"
took = time.monotonic() - start
active.sendall(b"still here\n")
assert active.recv(100) == b"still here\n"
print("ok %.1f" % took)
PYEOF
    [[ $output == ok* ]] || { echo "$output"; cat "$T/q.err"; false; }
    grep -q "idle timeout: no data for 0.5 s" "$T/q.err" || { cat "$T/q.err"; false; }
}

# ---------------------------------------------------------------- descriptor limit

# with_nofile SOFT HARD: set WITH_NOFILE to a command prefix that runs
# its command with that descriptor limit (the hard one no higher than
# ours: only a privileged process can raise it), by exec: the pid stays.
with_nofile() {
    WITH_NOFILE=("${DEFAULT_SIGNALS[@]}" bash -c 'ulimit -Sn "$1" &&
        ulimit -Hn "$2" && shift 2 && exec "$@"' sh "$1" "$2")
}

# need_hard_nofile N: our hard limit allows a child one of N.
need_hard_nofile() {
    local h
    h=$(ulimit -Hn)
    [[ $h == unlimited ]] || (( h >= $1 )) || skip "hard descriptor limit $h < $1"
}

# soft_nofile FILE: the soft "Max open files" of a /proc/PID/limits text.
soft_nofile() {
    awk '/^Max open files/ { print $4 }' "$1"
}

@test "qioc raises its soft descriptor limit to the hard one; -d says so" {
    need_hard_nofile 4096
    with_nofile 256 4096
    bg "${WITH_NOFILE[@]}" "$QIOC" -d TCP-LISTEN:"$P",fork SYSTEM:cat \
        2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    is_qioc_pid "$qpid"
    cp "/proc/$qpid/limits" "$T/limits"
    [[ $(soft_nofile "$T/limits") == 4096 ]] || {
        cat "$T/limits" >&2
        return 1
    }
    grep -q "^qioc: descriptor limit raised from 256 to 4096" "$T/err" || {
        cat "$T/err" >&2
        return 1
    }
}

@test "without -d, raising the descriptor limit says nothing" {
    need_hard_nofile 4096
    with_nofile 256 4096
    run --separate-stderr "${WITH_NOFILE[@]}" "$QIOC" - PIPE <<<hi
    [[ $status == 0 && $output == hi && -z $stderr ]]
}

@test "SYSTEM and EXEC children get the descriptor limit qioc started with" {
    need_hard_nofile 4096
    with_nofile 256 4096
    run --separate-stderr "${WITH_NOFILE[@]}" "$QIOC" -d - \
        'SYSTEM:grep "^Max open files" /proc/self/limits' </dev/null
    [[ $status == 0 ]]
    [[ $(soft_nofile <(echo "$output")) == 256 ]] || {
        echo "# SYSTEM child: $output" >&2
        return 1
    }
    [[ $stderr == *"raised from 256 to 4096"* ]]
    run --separate-stderr "${WITH_NOFILE[@]}" "$QIOC" - \
        'EXEC:grep "^Max open files" /proc/self/limits' </dev/null
    [[ $(soft_nofile <(echo "$output")) == 256 ]] || {
        echo "# EXEC child: $output" >&2
        return 1
    }
    run --separate-stderr "${WITH_NOFILE[@]}" "$QIOC" - \
        'EXEC:grep "^Max open files" /proc/self/limits,nofork' </dev/null
    [[ $(soft_nofile <(echo "$output")) == 256 ]] || {
        echo "# EXEC nofork child: $output" >&2
        return 1
    }
}

# N clients connect and stay: each sends a line and gets it back while
# all are open, then each sends SIZE random bytes and checks they come
# back (sha256). Prints "ok N".
PY_HOLD_MANY="$PY_COMMON"'
addr, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = connect(addr)
    s.sendall(b"c%d\n" % i)
    if recv_line(s, 10) != "c%d\n" % i:
        sys.exit("client %d of %d not served" % (i, n))
    socks.append(s)
for i, s in enumerate(socks):
    bad = round_trip(s, os.urandom(size))
    if bad:
        sys.exit("client %d: %s" % (i, bad))
print("ok %d" % n)
'

@test "with soft limit 64 and hard 512, 100 clients at once are all served" {
    need_hard_nofile 512
    echo_backend "$B"
    with_nofile 64 512
    bg "${WITH_NOFILE[@]}" "$QIOC" TCP-LISTEN:"$P",fork \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    wait_port "$P"
    run --separate-stderr py "$PY_HOLD_MANY" "$P" 100 65536
    [[ $status == 0 && $output == "ok 100" ]] || {
        echo "# $output" >&2
        echo "# $stderr" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    [[ ! -s $T/err ]]
}

@test "descriptors above 1024 work: 600 clients at once with soft limit 1024" {
    need_hard_nofile 2048
    echo_backend "$B"
    with_nofile 1024 2048
    bg "${WITH_NOFILE[@]}" "$QIOC" TCP-LISTEN:"$P",fork \
        TCP:127.0.0.1:"$B" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    run --separate-stderr py "$PY_HOLD_MANY" "$P" 600 4096
    [[ $status == 0 && $output == "ok 600" ]] || {
        echo "# $output" >&2
        echo "# $stderr" >&2
        sort "$T/err" | uniq -c >&2
        return 1
    }
    [[ ! -s $T/err ]]
}
