#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Descriptor forwarding (SCM_RIGHTS): descriptors sent with data on a unix
# socket come out on the other side with the same bytes, both ways, many in
# one message, in order with the data; --fds=off/auto/require; send-fds=;
# no descriptor leaks in a fork listener; -d says what each one is.
#
# The peers are fdpeer.py: a sender gives each descriptor a content
# ("m<K>f<J>": message K, descriptor J) and writes the report a receiver
# should produce (--expect); the receiver reads every descriptor it gets
# and reports where in the stream it came and what it held (--report).

bats_require_minimum_version 1.5.0
load helpers

FDPEER="$QIOC_TESTS/fdpeer.py"

setup() {
    qioc_setup
    P=$(free_port)
}

# fdpeer ARGS...: fdpeer.py in the foreground, bounded.
fdpeer() {
    timeout -k 5 "${QIOC_TIMEOUT:-20}" "$PYTHON3" "$FDPEER" --timeout 30 "$@"
}

# server ARGS...: an fdpeer listening on $T/b (or --tcp PORT), reporting
# to $T/rep; its pid in SPID.
server() {
    bg "$PYTHON3" "$FDPEER" --timeout 60 --listen --ready "$T/ready" \
        --report "$T/rep" "$@"
    SPID=$BG_PID
    wait_file "$T/ready"
}

# relay ARGS...: qioc in the background, stderr in $T/err, listening on
# $T/a; its pid in QPID.
relay() {
    bg_qioc "$@" 2>"$T/err"
    QPID=$BG_PID
    wait_socket "$T/a"
}

# reports FILE N: FILE holds N complete connection reports.
reports() {
    [[ -e $1 ]] && (( $(grep -c '^nfds ' "$1") >= $2 ))
}

# wait_reports FILE N
wait_reports() {
    poll 15 reports "$@"
}

# same_report EXPECTED GOT: the receiver saw exactly what was sent.
same_report() {
    if ! diff -u "$1" "$2" >&2; then
        echo "# report differs from what was sent (above)" >&2
        return 1
    fi
}

# fd_count PID: how many descriptors PID holds.
fd_count() {
    local fds=("/proc/$1/fd"/*)
    echo "${#fds[@]}"
}

# fd_count_is PID N
fd_count_is() {
    (( $(fd_count "$1") == $2 ))
}

# is_qioc PID: PID is the qioc binary, not a wrapper (libtool's execs).
is_qioc() {
    local exe
    exe=$(readlink "/proc/$1/exe")
    [[ ${exe##*/} == *qioc* ]] || {
        echo "# pid $1 is $exe, not qioc" >&2
        return 1
    }
}

# ---------------------------------------------------------------- forwarding

@test "three pipes sent by a client reach the server and read right (fork)" {
    server --unix "$T/b"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --kind pipe --send 6:3 --expect "$T/exp"
    reap "$SPID"
    [[ $BG_STATUS == 0 ]]
    same_report "$T/exp" "$T/rep"
    grep -qx 'fds 0 m0f0 m0f1 m0f2' "$T/rep"
    still_running "$QPID"
    assert_empty "$T/err"
}

@test "three memfds sent by the server reach the client (the reverse way)" {
    server --unix "$T/b" --send 6:3 --expect "$T/exp"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --report "$T/crep"
    reap "$SPID"
    [[ $BG_STATUS == 0 ]]
    same_report "$T/exp" "$T/crep"
    grep -qx 'nfds 3' "$T/crep"
    assert_empty "$T/err"
}

@test "20 descriptors in one message" {
    server --unix "$T/b"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --send 10:20 --expect "$T/exp"
    reap "$SPID"
    same_report "$T/exp" "$T/rep"
    grep -qx 'nfds 20' "$T/rep"
    assert_empty "$T/err"
}

@test "253 descriptors (the kernel's most) in one message" {
    server --unix "$T/b"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --send 10:253 --expect "$T/exp"
    reap "$SPID"
    same_report "$T/exp" "$T/rep"
    grep -qx 'nfds 253' "$T/rep"
    assert_empty "$T/err"
}

@test "253 descriptors the other way, server to client" {
    server --unix "$T/b" --send 10:253 --expect "$T/exp"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --report "$T/crep"
    reap "$SPID"
    same_report "$T/exp" "$T/crep"
    assert_empty "$T/err"
}

@test "--fds=require between two unix sockets forwards as auto does" {
    server --unix "$T/b"
    relay --fds=require UNIX-LISTEN:"$T/a" UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --send 6:3,10:0,6:2
    reap "$QPID"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$SPID"
    grep -qx 'nfds 5' "$T/rep" || { cat "$T/rep" >&2; return 1; }
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- placement

@test "each message's descriptors arrive with its first byte (lockstep)" {
    # One message in flight at a time: each is one chunk for qioc, so its
    # descriptors must come out exactly where its data starts.
    server --unix "$T/b" --ack --save "$T/got"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --lockstep --save "$T/sent" \
        --send 5:3,100000:0,7:2,1:20,300000:1,50:0,2:4,2:1,70000:1 \
        --expect "$T/exp"
    reap "$SPID"
    [[ $BG_STATUS == 0 ]]
    same_report "$T/exp" "$T/rep"
    assert_same "$T/sent" "$T/got"
    assert_empty "$T/err"
}

# check_burst EXPECTED GOT: the same data and descriptor groups in the
# same order, each group arriving no later than the byte it was sent with
# and after the previous group.  (Earlier is allowed: the kernel hands a
# reader plain bytes together with the next message's descriptors, and
# that is the chunk qioc forwards them with.)
check_burst() {
    "$PYTHON3" - "$1" "$2" <<'EOF'
import sys
def load(path):
    groups, tail = [], []
    for line in open(path):
        w = line.split()
        if w[0] == "fds":
            groups.append((int(w[1]), w[2:]))
        elif w[0] != "conn":
            tail.append(line)
    return groups, tail
exp, exp_tail = load(sys.argv[1])
got, got_tail = load(sys.argv[2])
ok = exp_tail == got_tail
if not ok:
    print("# data or count differ: %s vs %s" % (exp_tail, got_tail))
if [t for _, t in exp] != [t for _, t in got]:
    print("# descriptor groups differ:\n#  sent %s\n#  got  %s"
          % ([t for _, t in exp], [t for _, t in got]))
    ok = False
else:
    prev = -1
    for (e, t), (g, _) in zip(exp, got):
        if not prev < g <= e:
            print("# %s sent at byte %d arrived at byte %d (previous group at %d)"
                  % (t[0], e, g, prev))
            ok = False
        prev = g
sys.exit(0 if ok else 1)
EOF
}

@test "a burst: data intact and in order, descriptors in order with it" {
    server --unix "$T/b" --save "$T/got"
    relay UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --save "$T/sent" \
        --send 5:3,100000:0,7:2,1:20,300000:1,50:0,2:4,2:1,2:1,2:1,70000:0,9:9 \
        --expect "$T/exp"
    reap "$SPID"
    [[ $BG_STATUS == 0 ]]
    check_burst "$T/exp" "$T/rep"
    assert_same "$T/sent" "$T/got"
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- --fds=

@test "--fds=off: the data arrives, no descriptor does" {
    server --unix "$T/b" --save "$T/got"
    relay --fds=off UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --send 5:3,1000:0,7:2 --save "$T/sent" \
        --expect "$T/exp"
    reap "$SPID"
    assert_same "$T/sent" "$T/got"
    grep -qx 'nfds 0' "$T/rep" || { cat "$T/rep" >&2; return 1; }
    refute grep -q '^fds ' "$T/rep"
    assert_empty "$T/err"
}

@test "--fds=require with a TCP destination: exit 1 at once, no data moves" {
    server --tcp "$P" --save "$T/got"
    bg_qioc --fds=require UNIX-LISTEN:"$T/a" TCP:127.0.0.1:"$P" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/a"
    # A client that sends nothing: qioc must not wait for data to fail.
    bg_peer --unix "$T/a" --connect --events "$T/ev" hold
    local cpid=$BG_PID
    reap "$qpid"
    [[ $BG_STATUS == 1 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    local msg
    msg=$(cat "$T/err")
    assert_one_line "$msg"
    [[ $msg == "qioc: address 2 (TCP:127.0.0.1:$P): "*descriptors* ]] || {
        echo "# stderr: $msg" >&2
        return 1
    }
    # the client is let go, and the TCP side got nothing
    reap "$cpid"
    grep -qx 'eof 0' "$T/ev"
    wait_reports "$T/rep" 1
    grep -q '^bytes 0 ' "$T/rep"
}

@test "--fds=auto toward TCP: data arrives, one warning counts the closed descriptors" {
    server --tcp "$P" --save "$T/got"
    bg_qioc --fds=auto UNIX-LISTEN:"$T/a" TCP:127.0.0.1:"$P" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/a"
    fdpeer --connect --unix "$T/a" --send 5:3,100000:0,7:2,9:1,20:0 \
        --save "$T/sent" --report "$T/crep"
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    reap "$SPID"
    assert_same "$T/sent" "$T/got"
    local msg
    msg=$(cat "$T/err")
    assert_one_line "$msg"
    [[ $msg == "qioc: warning: closed 6 descriptors that address 2 (TCP:127.0.0.1:$P) cannot carry" ]] || {
        echo "# stderr: $msg" >&2
        return 1
    }
}

@test "auto is the default: the same warning without --fds" {
    server --tcp "$P" --save "$T/got"
    bg_qioc UNIX-LISTEN:"$T/a" TCP:127.0.0.1:"$P" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/a"
    fdpeer --connect --unix "$T/a" --send 5:2 --save "$T/sent"
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_same "$T/sent" "$T/got"
    [[ $(cat "$T/err") == "qioc: warning: closed 2 descriptors that address 2 (TCP:127.0.0.1:$P) cannot carry" ]] || {
        cat "$T/err" >&2
        return 1
    }
}

# ---------------------------------------------------------------- send-fds=

@test "send-fds=5: qioc's fd 5 goes with the first data to the server" {
    echo secret-in-file >"$T/file"
    server --unix "$T/b" --save "$T/got"
    relay UNIX-LISTEN:"$T/a" UNIX-CONNECT:"$T/b",send-fds=5 5<"$T/file"
    fdpeer --connect --unix "$T/a" --send 10:0,20:0 --save "$T/sent"
    reap "$QPID"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$SPID"
    assert_same "$T/sent" "$T/got"
    grep -qx 'fds 0 secret-in-file' "$T/rep" || { cat "$T/rep" >&2; return 1; }
    grep -qx 'nfds 1' "$T/rep"
    assert_empty "$T/err"
}

@test "send-fds= toward an address that never gets data: 'were not sent'" {
    echo secret-in-file >"$T/file"
    server --unix "$T/b"
    run --separate-stderr qioc UNIX-CONNECT:"$T/b",send-fds=5 - \
        </dev/null 5<"$T/file"
    assert_status 0
    assert_one_line "$stderr"
    [[ $stderr == "qioc: warning: address 1 (UNIX-CONNECT:$T/b,send-fds=5): "*"were not sent"* ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
    reap "$SPID"
    grep -qx 'nfds 0' "$T/rep"
}

@test "send-fds= naming a descriptor that is not open: exit 1 at start, naming it" {
    server --unix "$T/b"
    run --separate-stderr qioc - UNIX-CONNECT:"$T/b",send-fds=5:77 \
        </dev/null 5</dev/null 77>&-
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 2 (UNIX-CONNECT:$T/b,send-fds=5:77): send-fds=5:77: descriptor 77: Bad file descriptor" ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
}

# ---------------------------------------------------------------- leaks

# leak_check SPEC CONNS RELAY-ARGS...: qioc relays CONNS clients that each
# send SPEC from $T/a; afterwards it holds as many descriptors as before.
leak_check() {
    local spec=$1 conns=$2
    shift 2
    relay "$@"
    is_qioc "$QPID"
    local before
    before=$(fd_count "$QPID")
    local i
    for ((i = 0; i < conns; i++)); do
        fdpeer --connect --unix "$T/a" --send "$spec" 2>>"$T/cerr" || true
    done
    wait_reports "$T/rep" "$conns"
    poll 10 fd_count_is "$QPID" "$before" || {
        echo "# qioc held $before descriptors, now $(fd_count "$QPID"):" >&2
        find "/proc/$QPID/fd" -mindepth 1 -printf '# %f -> %l\n' | head -30 >&2
        return 1
    }
    still_running "$QPID"
}

@test "no leak: 300 descriptors forwarded through a fork listener" {
    server --unix "$T/b" --conns 0
    leak_check 5:50,20:0,5:50 3 UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    [[ $(grep -c '^nfds 100$' "$T/rep") == 3 ]] || { cat "$T/rep" >&2; return 1; }
    assert_empty "$T/err"
}

@test "no leak: 300 descriptors closed toward TCP (auto)" {
    server --tcp "$P" --conns 0
    leak_check 5:50,20:0,5:50 3 UNIX-LISTEN:"$T/a",fork TCP:127.0.0.1:"$P"
    [[ $(grep -c '^bytes 30 ' "$T/rep") == 3 ]] || { cat "$T/rep" >&2; return 1; }
    # Under fork each line carries its connection number.
    [[ $(grep -cE "^qioc: \[[0-9]+\] warning: closed 100 descriptors that address 2" "$T/err") == 3 ]] || {
        cat "$T/err" >&2
        return 1
    }
}

@test "no leak: 300 descriptors never taken with --fds=off" {
    server --unix "$T/b" --conns 0
    leak_check 5:50,20:0,5:50 3 --fds=off \
        UNIX-LISTEN:"$T/a",fork UNIX-CONNECT:"$T/b"
    [[ $(grep -c '^nfds 0$' "$T/rep") == 3 ]]
    assert_empty "$T/err"
}

# ---------------------------------------------------------------- -d, --stats

@test "-d logs each received descriptor with what it is" {
    echo secret-in-file >"$T/file"
    local path
    path=$(realpath "$T/file")
    server --unix "$T/b"
    relay -d UNIX-LISTEN:"$T/a" UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --kind pipe --send 6:2 --file "$T/file" \
        --expect "$T/exp"
    reap "$QPID"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$SPID"
    same_report "$T/exp" "$T/rep"
    local lines
    lines=$(grep 'received descriptor' "$T/err") || { cat "$T/err" >&2; return 1; }
    [[ $(grep -c 'received descriptor [0-9]*: pipe:\[' <<<"$lines") == 2 ]] || {
        echo "# $lines" >&2
        return 1
    }
    grep -qF "received descriptor" <<<"$lines"
    grep -q "received descriptor [0-9]*: $path\$" <<<"$lines" || {
        echo "# no line names $path: $lines" >&2
        return 1
    }
    [[ $(wc -l <<<"$lines") == 3 ]]
}

@test "without -d, received descriptors are not logged" {
    server --unix "$T/b"
    relay UNIX-LISTEN:"$T/a" UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --kind pipe --send 6:2
    reap "$QPID"
    [[ $BG_STATUS == 0 ]]
    assert_empty "$T/err"
}

@test "--stats counts the descriptors passed each way" {
    server --unix "$T/b" --send 4:1
    relay --stats UNIX-LISTEN:"$T/a" UNIX-CONNECT:"$T/b"
    fdpeer --connect --unix "$T/a" --send 6:3,6:2
    reap "$QPID"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    grep -q '^qioc: stats: 1 -> 2: 12 bytes, 5 descriptors' "$T/err" || {
        cat "$T/err" >&2
        return 1
    }
    grep -q '^qioc: stats: 2 -> 1: 4 bytes, 1 descriptors' "$T/err" || {
        cat "$T/err" >&2
        return 1
    }
}
