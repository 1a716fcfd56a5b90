#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# TCP, TCP-LISTEN, their v4/v6 variants and aliases, and the TCP options:
# bind, reuseaddr, backlog, nodelay, keepalive, connect-timeout, retry,
# interval, range, accept-timeout, pf, ipv6only, sourceport; -4 and -6;
# connect errors.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    qioc_setup
    P=$(free_port)
}

need_v6() {
    v6_usable || skip "::1 is not usable here"
}

# pair LISTEN-ADDRESS CONNECT-ADDRESS: a qioc listener on $P and a qioc
# client; random data must cross both ways and both must exit 0.
pair() {
    random_file "$T/a" 1M
    random_file "$T/b" 1M
    bg_qioc "$1" - <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_port "$P"
    local rc=0
    qioc "$2" - <"$T/b" >"$T/c.out" 2>"$T/c.err" || rc=$?
    [[ $rc == 0 ]] || { echo "# client exit $rc" >&2; cat "$T/c.err" >&2; return 1; }
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { echo "# listener exit $BG_STATUS" >&2; cat "$T/l.err" >&2; return 1; }
    assert_empty "$T/l.err"
    assert_empty "$T/c.err"
    assert_same "$T/b" "$T/l.out"
    assert_same "$T/a" "$T/c.out"
}

# client_to_peer ADDRESS [PEER-HOST]: qioc ADDRESS talks to a python peer
# listening on PEER-HOST:$P; data both ways.  The peer's notes are in
# $T/events ("peer HOST PORT" names the client's address).
client_to_peer() {
    random_file "$T/a" 1M
    random_file "$T/b" 1M
    rm -f "$T/ready" "$T/events"
    bg_peer --host "${2:-127.0.0.1}" --port "$P" --ready "$T/ready" \
        --events "$T/events" xfer --send "$T/b" --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    local rc=0
    qioc - "$1" <"$T/a" >"$T/out" 2>"$T/err" || rc=$?
    [[ $rc == 0 ]] || { echo "# qioc exit $rc" >&2; cat "$T/err" >&2; return 1; }
    reap "$ppid"
    [[ $BG_STATUS == 0 ]]
    assert_same "$T/a" "$T/got"
    assert_same "$T/b" "$T/out"
}

# listener_gets CLIENT-HOST: with a qioc listener already on $P, a python
# client from CLIENT-HOST exchanges data both ways with it.
listener_gets() {
    random_file "$T/b" 1M
    peer --host "$1" --port "$P" --connect xfer --send "$T/b" --recv "$T/got"
    reap "$LPID"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    assert_same "$T/b" "$T/l.out"
    assert_same "$T/a" "$T/got"
}

# start_listener ADDRESS: a qioc listener in the background (pid LPID),
# stdin $T/a, stdout $T/l.out, stderr $T/l.err; waits until it listens.
start_listener() {
    random_file "$T/a" 1M
    bg_qioc "$@" - <"$T/a" >"$T/l.out" 2>"$T/l.err"
    LPID=$BG_PID
    wait_port "$P"
}

# connect_refused HOST: a plain connect to HOST:$P is refused.
connect_refused() {
    "$PYTHON3" - "$1" "$P" <<'EOF'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam)
s.settimeout(5)
try:
    s.connect((host, port))
except ConnectionRefusedError:
    sys.exit(0)
print("# connect to %s:%d was accepted" % (host, port), file=sys.stderr)
sys.exit(1)
EOF
}

# ---------------------------------------------------------------- pairs

@test "TCP-LISTEN and TCP carry data both ways" {
    pair TCP-LISTEN:"$P" TCP:127.0.0.1:"$P"
}

@test "aliases TCP-L and TCP-CONNECT" {
    pair TCP-L:"$P" TCP-CONNECT:127.0.0.1:"$P"
}

@test "TCP4-LISTEN and TCP4" {
    pair TCP4-LISTEN:"$P" TCP4:127.0.0.1:"$P"
}

@test "aliases TCP4-L and TCP4-CONNECT" {
    pair TCP4-L:"$P" TCP4-CONNECT:127.0.0.1:"$P"
}

@test "TCP6-LISTEN and TCP6" {
    need_v6
    pair TCP6-LISTEN:"$P" "TCP6:[::1]:$P"
}

@test "aliases TCP6-L and TCP6-CONNECT" {
    need_v6
    pair TCP6-L:"$P" "TCP6-CONNECT:[::1]:$P"
}

@test "TCP to a python peer: data both ways" {
    client_to_peer TCP:127.0.0.1:"$P"
}

@test "TCP:localhost reaches a listener on 127.0.0.1" {
    client_to_peer TCP:localhost:"$P"
}

# ---------------------------------------------------------------- families

@test "TCP-LISTEN without bind= accepts an IPv4 client" {
    start_listener TCP-LISTEN:"$P"
    listener_gets 127.0.0.1
}

@test "TCP-LISTEN without bind= accepts an IPv6 client" {
    need_v6
    start_listener TCP-LISTEN:"$P"
    listener_gets ::1
}

@test "TCP4-LISTEN listens on IPv4 only" {
    need_v6
    start_listener TCP4-LISTEN:"$P"
    refute tcp_listening_family "$P" 6
    connect_refused ::1
    listener_gets 127.0.0.1
}

@test "TCP6-LISTEN,ipv6only refuses IPv4 clients" {
    need_v6
    start_listener TCP6-LISTEN:"$P",ipv6only
    connect_refused 127.0.0.1
    listener_gets ::1
}

@test "-4: TCP-LISTEN listens on IPv4 only" {
    need_v6
    start_listener -4 TCP-LISTEN:"$P"
    connect_refused ::1
    listener_gets 127.0.0.1
}

@test "-6: TCP-LISTEN listens on IPv6" {
    need_v6
    start_listener -6 TCP-LISTEN:"$P"
    tcp_listening_family "$P" 6
    refute tcp_listening_family "$P" 4
    listener_gets ::1
}

@test "-4 refuses an IPv6 literal, -6 an IPv4 literal" {
    need_v6
    run --separate-stderr qioc -4 - "TCP:[::1]:$P" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 (TCP:[::1]:$P): "
    run --separate-stderr qioc -6 - TCP:127.0.0.1:"$P" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 (TCP:127.0.0.1:$P): "
}

@test "-6 connects over IPv6" {
    need_v6
    random_file "$T/a" 1M
    bg_peer --host ::1 --port "$P" --ready "$T/ready" --events "$T/events" \
        xfer --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    qioc -6 - "TCP:[::1]:$P" <"$T/a" >/dev/null
    reap "$ppid"
    assert_same "$T/a" "$T/got"
    grep -q '^peer ::1 ' "$T/events"
}

@test "-4 connects over IPv4" {
    random_file "$T/a" 1M
    bg_peer --port "$P" --ready "$T/ready" --events "$T/events" \
        xfer --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    qioc -4 - TCP:localhost:"$P" <"$T/a" >/dev/null
    reap "$ppid"
    assert_same "$T/a" "$T/got"
    grep -q '^peer 127.0.0.1 ' "$T/events"
}

@test "TCP4 with an IPv6 literal and TCP6 with an IPv4 literal fail" {
    run --separate-stderr qioc - "TCP4:[::1]:$P" </dev/null
    assert_status 1
    assert_one_line "$stderr"
    run --separate-stderr qioc - TCP6:127.0.0.1:"$P" </dev/null
    assert_status 1
    assert_one_line "$stderr"
}

@test "pf=ip4 on TCP-LISTEN listens on IPv4 only" {
    need_v6
    start_listener TCP-LISTEN:"$P",pf=ip4
    connect_refused ::1
    listener_gets 127.0.0.1
}

@test "pf=ip6 on TCP-LISTEN listens on IPv6" {
    need_v6
    start_listener TCP-LISTEN:"$P",pf=ip6
    tcp_listening_family "$P" 6
    refute tcp_listening_family "$P" 4
    listener_gets ::1
}

@test "pf=ip6 on TCP connects over IPv6 and refuses an IPv4 literal" {
    need_v6
    client_to_peer "TCP:[::1]:$P,pf=ip6" ::1
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",pf=ip6 </dev/null
    assert_status 1
    assert_one_line "$stderr"
}

# ---------------------------------------------------------------- bind, ports

@test "bind=127.0.0.1 on TCP-LISTEN: listens there only" {
    start_listener TCP-LISTEN:"$P",bind=127.0.0.1
    tcp_listening "$P" 0100007F
    refute tcp_listening_family "$P" 6
    if v6_usable; then connect_refused ::1; fi
    listener_gets 127.0.0.1
}

@test "bind=[::1] on TCP-LISTEN" {
    need_v6
    start_listener TCP-LISTEN:"$P",bind=[::1]
    connect_refused 127.0.0.1
    listener_gets ::1
}

@test "bind= on TCP sets the client's address" {
    client_to_peer TCP:127.0.0.1:"$P",bind=127.0.0.2
    grep -q '^peer 127.0.0.2 ' "$T/events" || { cat "$T/events" >&2; return 1; }
}

@test "bind=HOST:PORT on TCP sets the client's address and port" {
    local sp
    sp=$(free_port)
    client_to_peer TCP:127.0.0.1:"$P",bind=127.0.0.1:"$sp"
    grep -qx "peer 127.0.0.1 $sp" "$T/events" || { cat "$T/events" >&2; return 1; }
}

@test "bind=localhost on TCP:localhost follows each family tried (peer on 127.0.0.1, then on ::1)" {
    # GLib's resolver gives localhost an address of each family, whatever
    # /etc/hosts says: whichever comes first, one of the two peers makes
    # qioc bind the other family's address.
    client_to_peer TCP:localhost:"$P",bind=localhost 127.0.0.1
    grep -q '^peer 127.0.0.1 ' "$T/events" || { cat "$T/events" >&2; return 1; }
    P=$(free_port)
    client_to_peer TCP:localhost:"$P",bind=localhost ::1
    grep -q '^peer ::1 ' "$T/events" || { cat "$T/events" >&2; return 1; }
}

@test "sourceport= sets the client's port (and sp= is its alias)" {
    local sp
    sp=$(free_port)
    client_to_peer TCP:127.0.0.1:"$P",sourceport="$sp"
    grep -qx "peer 127.0.0.1 $sp" "$T/events" || { cat "$T/events" >&2; return 1; }
    P=$(free_port)
    sp=$(free_port)
    client_to_peer TCP:127.0.0.1:"$P",sp="$sp"
    grep -qx "peer 127.0.0.1 $sp" "$T/events"
}

# ---------------------------------------------------------------- listen options

@test "reuseaddr is on by default: listen again while the port is in TIME_WAIT" {
    # The listener ends its side first (stdin is empty), so the
    # connection's TIME_WAIT stays on the listener's port.
    bg_qioc TCP-LISTEN:"$P" - </dev/null >/dev/null
    local lpid=$BG_PID
    wait_port "$P"
    peer --port "$P" --connect hold
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
    time_wait_on "$P" || skip "no TIME_WAIT left on port $P to test against"
    pair TCP-LISTEN:"$P" TCP:127.0.0.1:"$P"
}

@test "reuseaddr=0 while the port is in TIME_WAIT: Address already in use" {
    bg_qioc TCP4-LISTEN:"$P" - </dev/null >/dev/null
    local lpid=$BG_PID
    wait_port "$P"
    peer --port "$P" --connect hold
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
    time_wait_on "$P" || skip "no TIME_WAIT left on port $P to test against"
    run --separate-stderr qioc TCP4-LISTEN:"$P",reuseaddr=0 - </dev/null
    assert_error 1 "TCP4-LISTEN:$P,reuseaddr=0" "Address already in use"
}

time_wait_on() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$4 == "06" && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6
}

@test "a port in use by another listener: Address already in use" {
    bg_peer --port "$P" --ready "$T/ready" hold
    wait_file "$T/ready"
    run --separate-stderr qioc TCP4-LISTEN:"$P" - </dev/null
    assert_error 1 "TCP4-LISTEN:$P" "Address already in use"
}

@test "a port below 1024 without the privilege: Permission denied, naming CAP_NET_BIND_SERVICE" {
    local start low
    start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
    ((start > 1)) || skip "every port is unprivileged here"
    low=$((start - 1))
    local as_user=()
    if ((EUID == 0)); then
        command -v setpriv >/dev/null || skip "setpriv is needed to drop root"
        as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
    fi
    run --separate-stderr "${as_user[@]}" "$QIOC" TCP4-LISTEN:"$low" - </dev/null
    assert_error 1 "TCP4-LISTEN:$low" "Permission denied; ports below $start need root or the capability CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on qioc, or a systemd socket with SD-LISTEN)"
}

@test "backlog= sets the listen backlog" {
    command -v ss >/dev/null || skip "no ss(8)"
    start_listener TCP-LISTEN:"$P",backlog=3
    local q
    q=$(ss -ltnH "( sport = :$P )" | awk '{ print $3 }' | head -1)
    [[ $q == 3 ]] || { echo "# Send-Q (backlog) is '$q'" >&2; return 1; }
    listener_gets 127.0.0.1
}

@test "the default backlog is 4096, as the kernel caps it (somaxconn)" {
    command -v ss >/dev/null || skip "no ss(8)"
    start_listener TCP-LISTEN:"$P"
    local q max want=4096
    max=$(cat /proc/sys/net/core/somaxconn)
    (( max < want )) && want=$max
    q=$(ss -ltnH "( sport = :$P )" | awk '{ print $3 }' | head -1)
    [[ $q == "$want" ]] || { echo "# Send-Q (backlog) is '$q', not $want" >&2; return 1; }
}

@test "a listener serves one client, then exits" {
    start_listener TCP-LISTEN:"$P"
    listener_gets 127.0.0.1
    refute tcp_listening "$P"
    connect_refused 127.0.0.1
}

@test "nodelay on both sides: data intact" {
    pair TCP-LISTEN:"$P",nodelay TCP:127.0.0.1:"$P",nodelay
}

@test "keepalive on the connecting side sets SO_KEEPALIVE" {
    command -v ss >/dev/null || skip "no ss(8)"
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" hold
    wait_file "$T/ready"
    bg_qioc - TCP:127.0.0.1:"$P",keepalive <"$T/idle" >/dev/null
    poll 10 established_with_keepalive "dport = :$P"
}

@test "keepalive on the listening side sets SO_KEEPALIVE on the accepted socket" {
    command -v ss >/dev/null || skip "no ss(8)"
    idle_stdin
    bg_qioc TCP-LISTEN:"$P",keepalive - <"$T/idle" >/dev/null
    wait_port "$P"
    bg_peer --port "$P" --connect hold
    poll 10 established_with_keepalive "sport = :$P"
}

@test "without keepalive there is no keepalive timer" {
    command -v ss >/dev/null || skip "no ss(8)"
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" hold
    wait_file "$T/ready"
    bg_qioc - TCP:127.0.0.1:"$P" <"$T/idle" >/dev/null
    poll 10 established "dport = :$P"
    refute established_with_keepalive "dport = :$P"
}

established() {
    [[ -n $(ss -tnoH state established "( $1 )") ]]
}

established_with_keepalive() {
    ss -tnoH state established "( $1 )" | grep -q 'timer:(keepalive'
}

# ---------------------------------------------------------------- range, accept-timeout

@test "range=: a client outside is refused and logged, the listener keeps waiting" {
    bg_qioc TCP-LISTEN:"$P",range=10.0.0.0/8,accept-timeout=4 - \
        </dev/null >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_port "$P"
    # The client is accepted by the kernel, then closed at once: it sees
    # end-of-file without any data.
    run --separate-stderr peer --port "$P" --connect --events "$T/ev" hold
    assert_status 0
    local cport
    cport=$(awk '$1 == "local" { print $3 }' "$T/ev")
    wait_line "$T/l.err" "qioc: refused 127.0.0.1:$cport: not in range=10.0.0.0/8"
    # still listening (accept-timeout=4 leaves time for this on a busy
    # machine)
    tcp_listening "$P"
    still_running "$lpid"
    reap "$lpid"
    [[ $BG_STATUS == 1 ]]
    grep -q "address 1 (TCP-LISTEN:$P,range=10.0.0.0/8,accept-timeout=4)" "$T/l.err"
}

@test "range=: a client inside is served" {
    start_listener TCP-LISTEN:"$P",range=127.0.0.0/8
    listener_gets 127.0.0.1
    assert_empty "$T/l.err"
}

@test "range=: several networks separated by ';'" {
    start_listener "TCP-LISTEN:$P,range=10.0.0.0/8;127.0.0.1/32"
    listener_gets 127.0.0.1
}

@test "range=: an IPv6 client outside a v4-only range is refused" {
    need_v6
    bg_qioc TCP-LISTEN:"$P",range=127.0.0.0/8,accept-timeout=4 - \
        </dev/null >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_port "$P"
    peer --host ::1 --port "$P" --connect hold
    poll 10 grep -q "^qioc: refused .*::1.*: not in range=127.0.0.0/8$" "$T/l.err"
    reap "$lpid"
    [[ $BG_STATUS == 1 ]]
}

@test "accept-timeout: no client, exit 1 within the time" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP-LISTEN:"$P",accept-timeout=0.5 - </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 1 (TCP-LISTEN:$P,accept-timeout=0.5): "
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
    refute tcp_listening "$P"
}

@test "accept-timeout does not fire once a client is served" {
    # Generous against a loaded machine: the client connects well within
    # 2 s, and its data keeps flowing for 3 s, past the timeout.
    start_listener TCP-LISTEN:"$P",accept-timeout=2
    peer --port "$P" --connect --events "$T/ev" trickle --count 6 --interval 0.6 \
        >/dev/null
    reap "$LPID"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    [[ $(cat "$T/l.out") == xxxxxx ]]
}

# ---------------------------------------------------------------- connect errors

@test "connection refused: exit 1 and the documented message" {
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" </dev/null
    assert_status 1
    [[ $stderr == "qioc: address 2 (TCP:127.0.0.1:$P): connect to 127.0.0.1:$P: Connection refused" ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
}

@test "connection refused in address 1" {
    run --separate-stderr qioc TCP4:127.0.0.1:"$P" - </dev/null
    assert_error 1 "TCP4:127.0.0.1:$P" "Connection refused"
    assert_contains "$stderr" "127.0.0.1:$P: "
}

@test "unknown host: exit 1, naming the host" {
    run --separate-stderr qioc - TCP:no-such-host.invalid:80 </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 2 (TCP:no-such-host.invalid:80): resolve no-such-host.invalid: "* ]]
}

@test "bind= with a host name is resolved once at start-up: an unknown one fails before a listener opens" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP-LISTEN:"$P",fork \
        TCP:127.0.0.1:9,bind=no-such-host.invalid </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 2 (TCP:127.0.0.1:9,bind=no-such-host.invalid): bind=no-such-host.invalid: "*no-such-host.invalid* ]]
    # At start-up, not at the first client: without one qioc would wait.
    assert_faster_than 5000 "$start"
}

@test "an IPv6 literal that TCP4 cannot reach is named in brackets" {
    run --separate-stderr qioc - 'TCP4:[::1]:80' </dev/null
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 2 (TCP4:[::1]:80): connect to [::1]:80: no address of the requested family" ]]
}

@test "retry=2,interval=0.2 against a closed port: tries, then Connection refused" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",retry=2,interval=0.2 </dev/null
    assert_error 2 "TCP:127.0.0.1:$P,retry=2,interval=0.2" "Connection refused"
    assert_slower_than 350 "$start"
    assert_faster_than 5000 "$start"
}

@test "retry: a listener that appears later is reached" {
    random_file "$T/a" 1M
    bg_qioc -d - TCP:127.0.0.1:"$P",retry=200,interval=0.05 <"$T/a" \
        >"$T/out" 2>"$T/err"
    local cpid=$BG_PID
    poll 10 grep -q "Connection refused" "$T/err"
    bg_peer --port "$P" --ready "$T/ready" xfer --recv "$T/got"
    local ppid=$BG_PID
    reap "$cpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$ppid"
    assert_same "$T/a" "$T/got"
}

@test "connect-timeout: a listener whose backlog is full" {
    bg_peer --port "$P" --ready "$T/ready" blackhole
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",connect-timeout=0.5 </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "qioc: address 2 (TCP:127.0.0.1:$P,connect-timeout=0.5): "
    [[ ${stderr,,} == *"timed out"* ]]
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
}

# ---------------------------------------------------------------- socket options

# tcp_client_report PORT OUT: a python client connects to PORT, notes
# the MSS the server announced and the server socket's buffers as ss(8)
# shows them (skmem rb/tb), sends and receives a line, and writes
# "mss N", "server LINE" and "got TEXT" to OUT.
tcp_client_report() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import socket, subprocess, sys
port, out = int(sys.argv[1]), sys.argv[2]
c = socket.create_connection(("127.0.0.1", port), timeout=10)
mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
lport = c.getsockname()[1]
ss = subprocess.run(["ss", "-tnmH", "state", "connected",
                     "( sport = :%d and dport = :%d )" % (port, lport)],
                    capture_output=True, text=True).stdout
c.sendall(b"hello\n")
c.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = c.recv(4096)
    if not b:
        break
    got += b
with open(out, "w") as f:
    f.write("mss %d\nserver %s\ngot %s\n" % (mss, " ".join(ss.split()),
                                             got.decode().strip()))
PY
}

@test "ttl, tos, mss, rcvbuf, sndbuf, linger, reuseport on TCP-LISTEN: set before bind, on the accepted client" {
    need_strace
    command -v ss >/dev/null || skip "no ss(8)"
    echo reply >"$T/a"
    bg_traced "$T/calls" TCP4-LISTEN:"$P",bind=127.0.0.1,ip-ttl=9,tos=0x10,mss=1000,so-rcvbuf=32K,sndbuf=64K,linger=2,so-reuseport - \
        <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_port "$P"
    tcp_client_report "$P" "$T/report"
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    sockcalls "$T/calls"
    local b='^bind\('
    before "$T/calls" 'SOL_IP, IP_TTL, \[9\]' "$b"
    before "$T/calls" 'SOL_IP, IP_TOS, \[16\]' "$b"
    before "$T/calls" 'SOL_TCP, TCP_MAXSEG, \[1000\]' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_RCVBUF, \[32768\]' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_SNDBUF, \[65536\]' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_LINGER, \{l_onoff=1, l_linger=2\}' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_REUSEPORT, \[1\]' "$b"
    before "$T/calls" "$b" '^listen\('
    # What the client sees: the MSS announced (less TCP options), the
    # accepted socket's buffers (doubled by Linux), and the data.
    local mss
    mss=$(awk '$1 == "mss" { print $2 }' "$T/report")
    (( mss > 0 && mss <= 1000 )) || { cat "$T/report" >&2; return 1; }
    grep -q '^server .*skmem:(.*rb65536,.*tb131072' "$T/report" || { cat "$T/report" >&2; return 1; }
    grep -qx 'got reply' "$T/report"
    [[ $(cat "$T/l.out") == hello ]]
}

@test "socket options on TCP: set before bind and connect; the peer sees the MSS" {
    need_strace
    random_file "$T/a" 1M
    "$PYTHON3" - "$P" "$T/ready" "$T/got" "$T/mss" <<'PY' 3>&- &
import socket, sys
port, ready, got, mssf = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen()
open(ready, "w").close()
l.settimeout(20)
a, _ = l.accept()
open(mssf, "w").write("%d\n" % a.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
with open(got, "wb") as f:
    while True:
        b = a.recv(65536)
        if not b:
            break
        f.write(b)
PY
    BG_PIDS+=("$!")
    local ppid=$!
    wait_file "$T/ready"
    local sp
    sp=$(free_port)
    traced "$T/calls" - TCP:127.0.0.1:"$P",ttl=5,tos=0x20,tcp-maxseg=600,rcvbuf=16K,so-sndbuf=16K,reuseaddr,sp="$sp" \
        <"$T/a" >/dev/null
    reap "$ppid"
    assert_same "$T/a" "$T/got"
    (( $(cat "$T/mss") <= 600 )) || { cat "$T/mss" >&2; return 1; }
    local b='^bind\(.*htons\('"$sp"'\)'
    before "$T/calls" 'SOL_IP, IP_TTL, \[5\]' "$b"
    before "$T/calls" 'SOL_IP, IP_TOS, \[32\]' "$b"
    before "$T/calls" 'SOL_TCP, TCP_MAXSEG, \[600\]' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_RCVBUF, \[16384\]' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_SNDBUF, \[16384\]' "$b"
    before "$T/calls" 'SOL_SOCKET, SO_REUSEADDR, \[1\]' "$b"
    before "$T/calls" "$b" '^connect\(.*htons\('"$P"'\)'
}

@test "ttl on an IPv6 socket sets the hop limit too" {
    need_strace
    need_v6
    traced "$T/calls" TCP6-LISTEN:"$P",ttl=7,tos=8,accept-timeout=0.1 - </dev/null || true
    before "$T/calls" 'SOL_IPV6, IPV6_UNICAST_HOPS, \[7\]' '^bind\('
    before "$T/calls" 'SOL_IPV6, IPV6_TCLASS, \[8\]' '^bind\('
    before "$T/calls" 'SOL_IP, IP_TTL, \[7\]' '^bind\('
}

@test "setsockopt-int on TCP is set once connected; on TCP-LISTEN on the accepted client" {
    need_strace
    # 6:1 is IPPROTO_TCP, TCP_NODELAY
    echo reply >"$T/a"
    bg_traced "$T/lcalls" TCP4-LISTEN:"$P",bind=127.0.0.1,setsockopt-int=6:1:1 - \
        <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_port "$P"
    echo hello | traced "$T/ccalls" - TCP:127.0.0.1:"$P",sockopt-int=0x6:0x1:1 >"$T/c.out"
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    sockcalls "$T/lcalls"
    before "$T/lcalls" '^accept4?\(' 'SOL_TCP, TCP_NODELAY, \[1\]'
    refute grep -q 'TCP_NODELAY' <(sed -n '/^accept/q;p' "$T/lcalls")
    before "$T/ccalls" '^connect\(' 'SOL_TCP, TCP_NODELAY, \[1\]'
    [[ $(cat "$T/l.out") == hello && $(cat "$T/c.out") == reply ]]
}

@test "setsockopt-bin, setsockopt-string and setsockopt-listen pass their bytes" {
    need_strace
    # 1:13 is SOL_SOCKET, SO_LINGER: {on, 4 s}; 1:9 SO_KEEPALIVE
    # in socat's data notation: i1i4 is the ints 1 and 4 (x0100000004000000)
    traced "$T/calls" TCP4-LISTEN:"$P",bind=127.0.0.1,setsockopt-listen=1:13:i1i4,accept-timeout=0.1 - </dev/null || true
    before "$T/calls" 'SOL_SOCKET, SO_LINGER, \{l_onoff=1, l_linger=4\}, 8' '^bind\('
    random_file "$T/a" 64K
    bg_peer --port "$P" --ready "$T/ready" xfer --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    # 1 alone is the int 1, as in socat
    traced "$T/ccalls" - TCP:127.0.0.1:"$P",setsockopt=1:9:1,setsockopt-string=6:13:cubic <"$T/a" >/dev/null
    reap "$ppid"
    assert_same "$T/a" "$T/got"
    before "$T/ccalls" '^connect\(' 'SOL_SOCKET, SO_KEEPALIVE, \[1\], 4'
    before "$T/ccalls" '^connect\(' 'SOL_TCP, TCP_CONGESTION, "cubic\\0", 6'
}

@test "setsockopt-bin= reads socat's data notation: text, characters, numbers of each size, hex" {
    local v want
    while read -r v want; do
        run --separate-stderr qioc --dry-run - "TCP:127.0.0.1:$P,setsockopt-bin=6:13:$v"
        assert_status 0
        assert_contains "$output" "setsockopt-bin=6:13:$want"
    done <<'END'
\"reno\"b0 x72656e6f00
\'A\'\'\\n\' x410a
s1 x0100
S65535B255 xffffff
b-1 xff
l2 x0200000000000000
i1I2 x0100000002000000
7 x07000000
x0A0b x0a0b
END
}

@test "bad socket option values: one line, exit 2" {
    local v
    for v in ttl=0 ttl=256 tos=0x100 mss=20 rcvbuf=4G linger=-1 \
        interface=0123456789abcdefg setsockopt-int=1:2 setsockopt-int=x:2:3 \
        setsockopt-bin=1:2:q setsockopt-bin=1:2:x1 setsockopt-int=1:2:9999999999; do
        run --separate-stderr qioc - TCP:127.0.0.1:"$P,$v" </dev/null
        assert_usage_error "${v#*=}"
        assert_contains "$stderr" "for ${v%%=*}: "
    done
    run --separate-stderr qioc UNIX-LISTEN:"$T/s",ttl=3 - </dev/null
    assert_usage_error ttl
    assert_contains "$stderr" 'option "ttl" does not apply to UNIX-LISTEN'
}

@test "a socket option the kernel refuses fails the address: one line, exit 1" {
    # 6:2 is TCP_MAXSEG; 10 is below what Linux takes
    run --separate-stderr qioc TCP4-LISTEN:"$P",setsockopt-listen=6:2:x0a000000 - </dev/null
    assert_error 1 "TCP4-LISTEN:$P,setsockopt-listen=6:2:x0a000000" "Invalid argument"
    assert_contains "$stderr" "listen on 0.0.0.0:$P: setsockopt-listen=6:2:x0a000000: setsockopt: Invalid argument"
    refute tcp_listening "$P"
}

@test "interface=lo (so-bindtodevice) carries data; a missing interface is a clear error" {
    [[ $(id -u) == 0 ]] || skip "SO_BINDTODEVICE needs root here"
    pair TCP4-LISTEN:"$P",interface=lo TCP:127.0.0.1:"$P",so-bindtodevice=lo
    run --separate-stderr qioc TCP4-LISTEN:"$P",if=nosuch0 - </dev/null
    assert_error 1 "TCP4-LISTEN:$P,if=nosuch0" "No such device"
    assert_contains "$stderr" "interface=nosuch0: setsockopt SO_BINDTODEVICE: No such device"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",interface=nosuch0 </dev/null
    assert_error 2 "TCP:127.0.0.1:$P,interface=nosuch0" "No such device"
}

@test "--dry-run shows the socket options, reuseaddr 1 on listeners and 0 on clients" {
    run --separate-stderr qioc --dry-run TCP-LISTEN:"$P",ip-ttl=0x40,so-rcvbuf=1K,if=lo \
        TCP:h:1,tcp-maxseg=1200,setsockopt=1:2:xFF,forever
    assert_status 0
    assert_contains "${lines[0]}," ",reuseaddr=1,"
    assert_contains "${lines[0]}," ",interface=lo,ttl=64,tos=(unset),"
    assert_contains "${lines[0]}," ",rcvbuf=1024,"
    assert_contains "${lines[0]}," ",retry=0,interval=1,forever=0,"
    assert_contains "${lines[1]}," ",reuseaddr=0,"
    assert_contains "${lines[1]}," ",mss=1200,"
    assert_contains "${lines[1]}," ",setsockopt-bin=1:2:xff,"
    assert_contains "${lines[1]}," ",forever=1,"
}

# ---------------------------------------------------------------- reuseaddr on a client

@test "reuseaddr on TCP with a fixed sourceport: bind again while the port is in TIME_WAIT" {
    local sp
    sp=$(free_port)
    # qioc ends its side first (its input ends), so the TIME_WAIT is its,
    # on the source port. Linux lets a port in TIME_WAIT be bound again
    # only when both sockets set SO_REUSEADDR, as with socat.
    client_to_peer TCP:127.0.0.1:"$P",sourceport="$sp",reuseaddr
    time_wait_on "$sp" || skip "no TIME_WAIT left on port $sp to test against"
    P=$(free_port)
    bg_peer --port "$P" --ready "$T/ready2" hold
    wait_file "$T/ready2"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P",sourceport="$sp" </dev/null
    assert_error 2 "TCP:127.0.0.1:$P,sourceport=$sp" "Address already in use"
    assert_contains "$stderr" "bind to 0.0.0.0:$sp: "
    P=$(free_port)
    client_to_peer TCP:127.0.0.1:"$P",sourceport="$sp",reuseaddr
    grep -qx "peer 127.0.0.1 $sp" "$T/events"
}

# ---------------------------------------------------------------- retry on listeners

# lines_at_least FILE TEXT N: at least N lines of FILE contain TEXT.
lines_at_least() {
    (( $(grep -cF -- "$2" "$1") >= $3 ))
}

# occupy_port: a python listener on 127.0.0.1:$P until $T/free appears
# (pid in OCC_PID).
occupy_port() {
    rm -f "$T/occupied" "$T/free"
    "$PYTHON3" - "$P" "$T/occupied" "$T/free" <<'PY' 3>&- &
import os, socket, sys, time
port, ready, free = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen()
open(ready, "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(free) and time.monotonic() < deadline:
    time.sleep(0.01)
PY
    OCC_PID=$!
    BG_PIDS+=("$OCC_PID")
    wait_file "$T/occupied"
}

@test "retry on TCP-LISTEN: a port in use is tried again until it is free" {
    occupy_port
    echo reply >"$T/a"
    bg_qioc -d TCP4-LISTEN:"$P",bind=127.0.0.1,retry=50,interval=0.1 - \
        <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    local msg="qioc: address 1 (TCP4-LISTEN:$P,bind=127.0.0.1,retry=50,interval=0.1): listen on 127.0.0.1:$P: Address already in use; retrying in 0.1 s"
    wait_line "$T/l.err" "$msg"
    still_running "$lpid"
    touch "$T/free"
    reap "$OCC_PID"
    wait_port "$P"
    echo hello | peer --port "$P" --connect xfer --send /dev/stdin --recv "$T/got"
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    [[ $(cat "$T/l.out") == hello && $(cat "$T/got") == reply ]]
}

@test "without retry, a port in use fails TCP-LISTEN at once" {
    occupy_port
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP4-LISTEN:"$P",bind=127.0.0.1 - </dev/null
    assert_error 1 "TCP4-LISTEN:$P,bind=127.0.0.1" "Address already in use"
    assert_faster_than 2000 "$start"
}

@test "retry on TCP-LISTEN: after the last try, the error and exit 1" {
    occupy_port
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP4-LISTEN:"$P",bind=127.0.0.1,retry=2,interval=0.2 - </dev/null
    assert_error 1 "TCP4-LISTEN:$P,bind=127.0.0.1,retry=2,interval=0.2" "Address already in use"
    assert_slower_than 350 "$start"
    assert_faster_than 5000 "$start"
}

@test "forever on TCP-LISTEN retries without limit; a signal ends it" {
    occupy_port
    bg_qioc -d TCP4-LISTEN:"$P",bind=127.0.0.1,forever,interval=0.05 - \
        </dev/null >/dev/null 2>"$T/l.err"
    local lpid=$BG_PID
    poll 10 lines_at_least "$T/l.err" 'Address already in use; retrying in 0.05 s' 5
    kill -TERM "$lpid"
    reap "$lpid"
    [[ $BG_STATUS == 143 ]] || { cat "$T/l.err" >&2; return 1; }
}

@test "forever on TCP: a listener that appears later is reached" {
    random_file "$T/a" 64K
    bg_qioc -d - TCP:127.0.0.1:"$P",forever,interval=0.05 <"$T/a" \
        >/dev/null 2>"$T/err"
    local cpid=$BG_PID
    poll 10 lines_at_least "$T/err" 'Connection refused; retrying' 3
    bg_peer --port "$P" --ready "$T/ready" xfer --recv "$T/got"
    local ppid=$BG_PID
    reap "$cpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$ppid"
    assert_same "$T/a" "$T/got"
}
