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

@test "backlog= sets the listen backlog" {
    command -v ss >/dev/null || skip "no ss(8)"
    start_listener TCP-LISTEN:"$P",backlog=3
    local q
    q=$(ss -ltnH "( sport = :$P )" | awk '{ print $3 }' | head -1)
    [[ $q == 3 ]] || { echo "# Send-Q (backlog) is '$q'" >&2; return 1; }
    listener_gets 127.0.0.1
}

@test "the default backlog is 128" {
    command -v ss >/dev/null || skip "no ss(8)"
    start_listener TCP-LISTEN:"$P"
    local q
    q=$(ss -ltnH "( sport = :$P )" | awk '{ print $3 }' | head -1)
    [[ $q == 128 ]] || { echo "# Send-Q (backlog) is '$q'" >&2; return 1; }
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
