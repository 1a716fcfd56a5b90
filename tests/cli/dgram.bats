#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Datagram addresses: UDP, UDP-LISTEN (with and without fork),
# UDP-SENDTO, UDP-DATAGRAM, UDP-RECVFROM, UDP-RECV, the UNIX- and
# ABSTRACT- datagram types, UNIX-CONNECT to a datagram socket; datagram
# boundaries through the relay, range=, -b, sessions per sender. The
# peers are python sockets (tests/cli/dgrampeer.py), dnsmasq and dig.

bats_require_minimum_version 1.5.0
load helpers

DGRAM_PY="$QIOC_TESTS/dgrampeer.py"

setup() {
    qioc_setup
    NAME="qioc-bats-$$-$BATS_TEST_NUMBER-$RANDOM"
    NETNS=
}

teardown() {
    qioc_teardown
    [[ -z $NETNS ]] || ip netns delete "$NETNS"
}

dpeer() {
    timeout -k 5 "${QIOC_TIMEOUT:-20}" "$PYTHON3" "$DGRAM_PY" "$@"
}

bg_dpeer() {
    bg "$PYTHON3" "$DGRAM_PY" "$@"
}

udp_port() {
    dpeer free-port
}

# An echo peer on a free UDP port of 127.0.0.1: its port in ECHO.
start_echo() {
    ECHO=$(udp_port)
    bg_dpeer echo "127.0.0.1:$ECHO" --ready "$T/echo.ready"
    wait_file "$T/echo.ready"
}

SIZES=1,2,3,100,512,1400,1472,4096,8192,9000,16384,32768,65507

# ---------------------------------------------------------------- boundaries

@test "UDP-RECVFROM to UDP: datagrams of 1 to 65507 bytes cross both ways whole, one for one" {
    start_echo
    local p
    p=$(udp_port)
    bg_qioc UDP-RECVFROM:"$p",bind=127.0.0.1 UDP:127.0.0.1:"$ECHO" 2>"$T/q.err"
    wait_udp "$p"
    run -0 dpeer send "127.0.0.1:$p" --sizes "$SIZES" --replies
    [[ $output == "ok 13" ]] || { echo "$output"; false; }
    assert_empty "$T/q.err"
}

@test "UDP6: the same over IPv6 loopback" {
    "$PYTHON3" -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null ||
        skip "no IPv6 loopback"
    local p e
    p=$(udp_port)
    e=$(udp_port)
    bg_dpeer echo "[::1]:$e" --ready "$T/echo.ready"
    wait_file "$T/echo.ready"
    bg_qioc UDP6-RECVFROM:"$p",bind=::1 UDP6:[::1]:"$e" 2>"$T/q.err"
    wait_udp "$p"
    run -0 dpeer send "[::1]:$p" --sizes 1,1400,65487 --replies
    [[ $output == "ok 3" ]] || { echo "$output"; false; }
}

@test "UDP-RECV to stdout: a one-way flow of datagrams arrives whole, in order" {
    local p
    p=$(udp_port)
    bg_qioc -u UDP-RECV:"$p",bind=127.0.0.1 - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    dpeer send "127.0.0.1:$p" --sizes "$SIZES" --out "$T/sent"
    wait_size "$T/out" "$(stat -c %s "$T/sent")"
    assert_same "$T/sent" "$T/out"
    assert_empty "$T/q.err"
}

@test "a stream read becomes one datagram of at most -b bytes" {
    local p
    p=$(udp_port)
    random_file "$T/in" 5000
    bg_dpeer recv "127.0.0.1:$p" --count 5 --out "$T/got" --ready "$T/r.ready" >"$T/lengths"
    local rpid=$BG_PID
    wait_file "$T/r.ready"
    run -0 qioc -u -b 1000 FILE:"$T/in" UDP-SENDTO:127.0.0.1:"$p"
    reap "$rpid"
    [[ $BG_STATUS == 0 ]]
    [[ $(sort -u "$T/lengths") == 1000 ]] || { cat "$T/lengths"; false; }
    assert_same "$T/in" "$T/got"
}

@test "a datagram longer than -b is dropped with a warning; the next one passes" {
    local p
    p=$(udp_port)
    bg_qioc -u -b 1000 UDP-RECV:"$p",bind=127.0.0.1 - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    dpeer send "127.0.0.1:$p" --sizes 1400,10 --out "$T/sent"
    wait_size "$T/out" 10
    [[ $(stat -c %s "$T/out") == 10 ]]
    tail -c 10 "$T/sent" | cmp - "$T/out"
    grep -q "datagram of 1400 bytes does not fit in 1000; dropped" "$T/q.err" ||
        { cat "$T/q.err"; false; }
}

# ---------------------------------------------------------------- UDP

@test "UDP: a stdin line goes out as a datagram, the answer comes back, exit 0 after -t" {
    start_echo
    run -0 --separate-stderr qioc - UDP:127.0.0.1:"$ECHO" <<<"hello over udp"
    [[ $output == "hello over udp" ]]
    [[ -z $stderr ]] || { echo "$stderr"; false; }
}

@test "UDP to a port nobody uses: Connection refused on one line, exit 1" {
    local p
    p=$(udp_port)
    # The datagram sent provokes the ICMP answer that the next read reports.
    run -1 --separate-stderr qioc - UDP:127.0.0.1:"$p" <<<"anyone?"
    assert_one_line "$stderr"
    [[ $stderr == *"Connection refused"* ]]
}

@test "UDP-LISTEN: the first sender becomes the peer; others are not heard" {
    local p
    p=$(udp_port)
    bg_qioc -u UDP-LISTEN:"$p",bind=127.0.0.1 - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    "$PYTHON3" - "$p" "$T/out" <<'EOF'
import os, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def wait_for(n):
    deadline = time.monotonic() + 10
    while os.path.getsize(out) < n:
        if time.monotonic() > deadline:
            sys.exit("only %d bytes arrived" % os.path.getsize(out))
        time.sleep(0.01)
a.sendto(b"first:", ("127.0.0.1", port))
wait_for(6)
b.sendto(b"intruder:", ("127.0.0.1", port))
a.sendto(b"second", ("127.0.0.1", port))
wait_for(12)
EOF
    [[ $(cat "$T/out") == "first:second" ]] || { cat "$T/out"; false; }
}

@test "UDP-LISTEN: accept-timeout ends the wait for a first datagram, exit 1" {
    local p
    p=$(udp_port)
    run -1 --separate-stderr qioc UDP-LISTEN:"$p",bind=127.0.0.1,accept-timeout=0.2 -
    assert_one_line "$stderr"
    [[ $stderr == *"no datagram within 0.2 s"* ]]
}

# ---------------------------------------------------------------- fork

@test "UDP-LISTEN,fork: 50 concurrent senders each get exactly their own answers, no process forked" {
    start_echo
    local p qpid
    p=$(udp_port)
    bg_qioc UDP-LISTEN:"$p",fork,bind=127.0.0.1 UDP:127.0.0.1:"$ECHO" 2>"$T/q.err"
    qpid=$BG_PID
    wait_udp "$p"
    run -0 dpeer clients "127.0.0.1:$p" --clients 50 --count 20
    [[ $output == "ok 50 20" ]] || { echo "$output"; false; }
    [[ -z $(pgrep -P "$qpid") ]]
    assert_empty "$T/q.err"
}

@test "UDP-LISTEN,fork: dig through qioc gets dnsmasq's answers" {
    command -v dnsmasq >/dev/null || skip "no dnsmasq"
    command -v dig >/dev/null || skip "no dig"
    local dns p
    dns=$(udp_port)
    p=$(udp_port)
    bg dnsmasq --keep-in-foreground --port="$dns" --listen-address=127.0.0.1 \
        --bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null \
        --pid-file= --user="$(id -un)" \
        --address=/qioc.test/192.0.2.7 --address=/other.test/198.51.100.9 \
        2>"$T/dns.err"
    wait_udp "$dns" || { cat "$T/dns.err" >&2; false; }
    bg_qioc UDP-LISTEN:"$p",fork,bind=127.0.0.1 UDP:127.0.0.1:"$dns" 2>"$T/q.err"
    wait_udp "$p"
    run -0 timeout 20 dig +short +tries=1 +time=5 @127.0.0.1 -p "$p" qioc.test A
    [[ $output == 192.0.2.7 ]] || { echo "$output"; cat "$T/dns.err"; false; }
    run -0 timeout 20 dig +short +tries=1 +time=5 @127.0.0.1 -p "$p" other.test A
    [[ $output == 198.51.100.9 ]]
    assert_empty "$T/q.err"
}

@test "UDP-LISTEN,fork: -T ends an idle session; the sender's next datagram starts a new one" {
    start_echo
    local p
    p=$(udp_port)
    bg_qioc -d -T 0.3 UDP-LISTEN:"$p",fork,bind=127.0.0.1 UDP:127.0.0.1:"$ECHO" 2>"$T/q.err"
    wait_udp "$p"
    "$PYTHON3" - "$p" "$T/q.err" <<'EOF'
import socket, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
def ask(text):
    s.sendto(text, ("127.0.0.1", port))
    assert s.recv(100) == text
ask(b"one")
deadline = time.monotonic() + 10
while "idle timeout" not in open(log).read():
    assert time.monotonic() < deadline, "no idle timeout logged"
    time.sleep(0.02)
ask(b"two")
EOF
    [[ $(grep -c "session with 127.0.0.1" "$T/q.err") == 2 ]] || { cat "$T/q.err"; false; }
}

@test "UDP-LISTEN,fork,max-children=1: a second sender is not served while the first session runs" {
    start_echo
    local p
    p=$(udp_port)
    bg_qioc -d UDP-LISTEN:"$p",fork,max-children=1,bind=127.0.0.1 UDP:127.0.0.1:"$ECHO" 2>"$T/q.err"
    wait_udp "$p"
    "$PYTHON3" - "$p" <<'EOF'
import socket, sys
port = int(sys.argv[1])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.settimeout(10)
b.settimeout(0.5)
a.sendto(b"a", ("127.0.0.1", port))
assert a.recv(10) == b"a"
b.sendto(b"b", ("127.0.0.1", port))
try:
    b.recv(10)
    sys.exit("the second sender was answered")
except socket.timeout:
    pass
a.sendto(b"a2", ("127.0.0.1", port))
assert a.recv(10) == b"a2"
EOF
    grep -q "dropped a datagram from 127.0.0.1:[0-9]*: max-children sessions run" "$T/q.err" ||
        { cat "$T/q.err"; false; }
}

@test "UDP-RECVFROM,fork: each sender is a session of its own" {
    start_echo
    local p
    p=$(udp_port)
    bg_qioc UDP-RECVFROM:"$p",fork,bind=127.0.0.1 UDP:127.0.0.1:"$ECHO" 2>"$T/q.err"
    wait_udp "$p"
    run -0 dpeer clients "127.0.0.1:$p" --clients 10 --count 10
    [[ $output == "ok 10 10" ]] || { echo "$output"; false; }
    assert_empty "$T/q.err"
}

# ---------------------------------------------------------------- ancillary data

# send_marked PORT TEXT: one datagram of TEXT to 127.0.0.1:PORT from a
# python socket that sets TTL 53, TOS 7 and the IPv4 options x01000000
# (a no-op option and the end of the list), as socat's test.sh does.
send_marked() {
    "$PYTHON3" - "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 53)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 7)
s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"\x01\x00\x00\x00")
s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
PY
}

# A timestamp as socat writes it, today: "Mon Dec  7 03:15:41 2026, 130187 usecs".
timestamp_re() {
    printf '%s' "^$(date '+%a %b %e') [0-9]{2}:[0-9]{2}:[0-9]{2} $(date +%Y), [0-9]{6} usecs\$"
}

@test "ancillary data at -dd: UDP4-RECV logs the TTL, TOS, IP options, destination, interface and arrival time of each datagram, as socat does" {
    local p opts=so-timestamp,ip-pktinfo,ip-recvttl,ip-recvtos,ip-recvopts
    p=$(udp_port)
    bg_qioc -dd -u UDP4-RECV:"$p",bind=127.0.0.1,$opts - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    send_marked "$p" "first"
    send_marked "$p" "second"
    wait_size "$T/out" 11
    [[ $(cat "$T/out") == firstsecond ]]
    for line in "IP_TTL: ttl=53" "IP_TOS: tos=7" "IP_OPTIONS: options=x01000000" \
        "IP_PKTINFO: if=lo" "IP_PKTINFO: locaddr=127.0.0.1" \
        "IP_PKTINFO: dstaddr=127.0.0.1"; do
        [[ $(grep -cxF "qioc: ancillary message: $line" "$T/q.err") == 2 ]] ||
            { echo "# not twice: $line"; cat "$T/q.err"; false; }
    done
    grep "ancillary message: SCM_TIMESTAMP: timestamp=" "$T/q.err" |
        sed 's/.*timestamp=//' >"$T/stamps"
    [[ $(grep -cE "$(timestamp_re)" "$T/stamps") == 2 ]] || { cat "$T/q.err"; false; }
}

@test "ancillary data: without the options nothing is logged at -dd and no such variable is set" {
    local p
    p=$(udp_port)
    bg_qioc -dd -u UDP4-RECVFROM:"$p",bind=127.0.0.1 \
        SYSTEM:"env >'$T/env.tmp'; mv '$T/env.tmp' '$T/env'" 2>"$T/q.err"
    wait_udp "$p"
    send_marked "$p" "x"
    wait_file "$T/env"
    ! grep -q "ancillary message" "$T/q.err"
    ! grep -qE '^(SOCAT|QIOC)_(IP|IPV6)_|_TIMESTAMP=' "$T/env"
}

@test "UDP4-RECVFROM: the EXEC child starts with the first datagram's sender and what it came with, as QIOC_ and SOCAT_ variables" {
    local p
    p=$(udp_port)
    bg_qioc -u UDP4-RECVFROM:"$p",bind=127.0.0.1,so-timestamp,ip-pktinfo,ip-recvttl,ip-recvtos,ip-recvopts \
        SYSTEM:"env >'$T/env.tmp'; mv '$T/env.tmp' '$T/env'; cat >'$T/got'" 2>"$T/q.err"
    wait_udp "$p"
    printf 'datagram' | qioc -u - UDP4-SENDTO:127.0.0.1:"$p",ttl=53,tos=7,ip-options=x01000000
    wait_file "$T/env"
    wait_size "$T/got" 8
    [[ $(cat "$T/got") == datagram ]]
    for pre in QIOC_ SOCAT_; do
        for want in IP_TTL=53 IP_TOS=7 IP_OPTIONS=x01000000 IP_IF=lo \
            IP_LOCADDR=127.0.0.1 IP_DSTADDR=127.0.0.1 PEERADDR=127.0.0.1; do
            grep -qxF "$pre$want" "$T/env" || { echo "# no $pre$want"; cat "$T/env"; false; }
        done
        grep -qE "^${pre}PEERPORT=[0-9]+\$" "$T/env"
        sed -n "s/^${pre}TIMESTAMP=//p" "$T/env" | grep -qE "$(timestamp_re)" ||
            { cat "$T/env"; false; }
    done
    assert_empty "$T/q.err"
}

@test "UDP6-RECVFROM,fork: each session's child gets its own first datagram's hop limit, traffic class, destination and interface" {
    "$PYTHON3" -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null ||
        skip "no IPv6 loopback"
    local p
    p=$(udp_port)
    bg_qioc -u UDP6-RECVFROM:"$p",bind=::1,fork,ipv6-recvpktinfo,ipv6-recvhoplimit,ipv6-recvtclass \
        SYSTEM:"env >\"$T/env.tmp.\$SOCAT_PEERPORT\"; mv \"$T/env.tmp.\$SOCAT_PEERPORT\" \"$T/env.\$QIOC_IPV6_HOPLIMIT\"" \
        2>"$T/q.err"
    wait_udp "$p"
    echo one | qioc -u - UDP6-SENDTO:[::1]:"$p",ipv6-unicast-hops=35,ipv6-tclass=0xaa
    echo two | qioc -u - UDP6-SENDTO:[::1]:"$p",ipv6-unicast-hops=36,ipv6-tclass=0x20
    wait_file "$T/env.35"
    wait_file "$T/env.36"
    for want in SOCAT_IPV6_HOPLIMIT=35 SOCAT_IPV6_TCLASS=x000000aa SOCAT_IPV6_IF=lo \
        "SOCAT_IPV6_DSTADDR=[0000:0000:0000:0000:0000:0000:0000:0001]" \
        "SOCAT_PEERADDR=[0000:0000:0000:0000:0000:0000:0000:0001]" QIOC_PEERADDR=::1; do
        grep -qxF "$want" "$T/env.35" || { echo "# no $want"; cat "$T/env.35"; false; }
    done
    grep -qxF SOCAT_IPV6_TCLASS=x00000020 "$T/env.36"
    assert_empty "$T/q.err"
}

@test "UDP-LISTEN: the child is told what the first datagram came with" {
    local p
    p=$(udp_port)
    bg_qioc -u UDP4-LISTEN:"$p",bind=127.0.0.1,ip-recvttl \
        SYSTEM:"echo \$SOCAT_IP_TTL \$QIOC_PEERADDR >'$T/env.tmp'; mv '$T/env.tmp' '$T/env'" 2>"$T/q.err"
    wait_udp "$p"
    send_marked "$p" "x"
    wait_file "$T/env"
    [[ $(cat "$T/env") == "53 127.0.0.1" ]] || { cat "$T/env" "$T/q.err"; false; }
}

# manual_example CMD PORT OUT: socat's manual's ancillary example with CMD
# (qioc or socat) on PORT, one datagram sent, the names of the SOCAT_
# variables its child exported into OUT.
manual_example() {
    "$1" -d -d UDP4-RECVFROM:"$2",so-broadcast,so-timestamp,ip-pktinfo,ip-recverr,ip-recvopts,ip-recvtos,ip-recvttl!!- \
        SYSTEM:'export; sleep 1' >"$T/export" 2>"$T/example.err" &
    local pid=$!
    wait_udp "$2"
    send_marked "$2" "x"
    wait "$pid"
    sed -n 's/^export \(SOCAT_[A-Z0-9_]*\)=.*/\1/p' "$T/export" | sort >"$3"
}

@test "socat's manual example (UDP4-RECVFROM with every ancillary option, !!-, SYSTEM:export) runs unchanged: the child gets the variables socat's gets" {
    command -v socat >/dev/null || skip "socat is not installed"
    manual_example "$QIOC" "$(udp_port)" "$T/qioc.vars"
    grep -qx "export SOCAT_IP_TTL='53'" "$T/export" || { cat "$T/export" "$T/example.err"; false; }
    grep -qx "export SOCAT_IP_DSTADDR='127.0.0.1'" "$T/export"
    manual_example socat "$(udp_port)" "$T/socat.vars"
    # qioc's set is socat's, without SOCAT_VERSION (qioc is not socat
    # 1.7.4.4), with SOCAT_SOCKADDR/SOCKPORT besides.
    grep -vx SOCAT_VERSION "$T/socat.vars" | comm -23 - "$T/qioc.vars" >"$T/missing"
    [[ ! -s $T/missing ]] || { echo "# socat's, not qioc's:"; cat "$T/missing" "$T/socat.vars"; false; }
    grep -qx SOCAT_IP_TTL "$T/socat.vars"
}

@test "ip-options= not in socat's data notation: one line naming it, exit 1; BSD's ip-recvif is refused with what to use (exit 2)" {
    local p
    p=$(udp_port)
    run --separate-stderr qioc -u UDP4-RECV:"$p",ip-options=x0g -
    [[ $status == 1 ]] || { echo "# status $status: $stderr"; false; }
    assert_one_line "$stderr"
    assert_contains "$stderr" "ip-options=x0g"
    run --separate-stderr qioc -u UDP4-RECV:"$p",ip-recvif -
    [[ $status == 2 ]]
    assert_contains "$stderr" "socat's option \"ip-recvif\" is not supported by qioc: a BSD option; on Linux ip-pktinfo gives the interface"
}

# ---------------------------------------------------------------- options

@test "range=: datagrams from outside are dropped and said at -d" {
    local p
    p=$(udp_port)
    bg_qioc -d -u UDP-RECV:"$p",bind=127.0.0.1,range=127.0.0.1/32 - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    dpeer send "127.0.0.1:$p" --bind 127.0.0.2:0 --sizes 7
    dpeer send "127.0.0.1:$p" --bind 127.0.0.1:0 --sizes 5 --out "$T/sent"
    wait_size "$T/out" 5
    assert_same "$T/sent" "$T/out"
    grep -q "dropped a datagram from 127.0.0.2:[0-9]*: not in range=127.0.0.1/32" "$T/q.err" ||
        { cat "$T/q.err"; false; }
}

@test "sourceport= on a UDP receiver: datagrams from another port are dropped and said at -d" {
    local p sp
    p=$(udp_port)
    sp=$(udp_port)
    bg_qioc -d -u UDP-RECV:"$p",bind=127.0.0.1,sourceport="$sp" - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    dpeer send "127.0.0.1:$p" --bind 127.0.0.1:0 --sizes 7
    dpeer send "127.0.0.1:$p" --bind 127.0.0.1:"$sp" --sizes 5 --out "$T/sent"
    wait_size "$T/out" 5
    assert_same "$T/sent" "$T/out"
    grep -q "dropped a datagram from 127.0.0.1:[0-9]*: source port [0-9]* is not sourceport=$sp" "$T/q.err" ||
        { cat "$T/q.err"; false; }
}

@test "range= on UDP-SENDTO: answers from outside are dropped" {
    local p q
    p=$(udp_port)
    q=$(udp_port)
    idle_stdin
    bg_qioc -U - UDP-SENDTO:127.0.0.1:"$q",bind=127.0.0.1:"$p",range=127.0.0.1/32 \
        >"$T/out" 2>"$T/q.err" <"$T/idle"
    wait_udp "$p"
    dpeer send "127.0.0.1:$p" --bind 127.0.0.2:0 --sizes 7
    dpeer send "127.0.0.1:$p" --bind 127.0.0.1:0 --sizes 5 --out "$T/sent"
    wait_size "$T/out" 5
    assert_same "$T/sent" "$T/out"
}

@test "setsockopt-int= is set on a bound datagram socket: a refused one fails with one line, exit 1" {
    local p
    p=$(udp_port)
    run -1 --separate-stderr qioc -u UDP-RECV:"$p",bind=127.0.0.1,setsockopt-int=1:9999:1 -
    assert_one_line "$stderr"
    [[ $stderr == *"setsockopt"* ]]
    run -1 --separate-stderr qioc -u UNIX-RECV:"$T/r.sock",setsockopt-int=1:9999:1 -
    assert_one_line "$stderr"
}

@test "UDP-DATAGRAM:localhost:PORT,bind=:PORT: the local socket takes the family localhost resolves to (socat's UDP_DATAGRAM_PEERPORT)" {
    local p q
    p=$(udp_port)
    q=$(udp_port)
    bg_qioc -u UDP-DATAGRAM:localhost:"$q",bind=:"$p" - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    # From another port than the one the receiver sends to: still received.
    run -0 --separate-stderr qioc -u - UDP-DATAGRAM:localhost:"$p",bind=:0 \
        <<<"from elsewhere"
    [[ -z $stderr ]] || { echo "$stderr"; false; }
    wait_size "$T/out" 15
    [[ $(cat "$T/out") == "from elsewhere" ]]
}

@test "UDP-DATAGRAM: broadcast lets a datagram go to the loopback broadcast address" {
    local p
    p=$(udp_port)
    bg_qioc -u UDP-RECV:"$p" - >"$T/out" 2>"$T/q.err"
    wait_udp "$p"
    run -1 --separate-stderr qioc -u - UDP-DATAGRAM:127.255.255.255:"$p" <<<"no"
    [[ $stderr == *"Permission denied"* ]] || { echo "$stderr"; false; }
    run -0 qioc -u - UDP-DATAGRAM:127.255.255.255:"$p",broadcast <<<"to all"
    wait_size "$T/out" 7
    [[ $(cat "$T/out") == "to all" ]]
}

@test "ip-add-membership: a multicast group joined on lo, inside a network namespace of the test's own" {
    [[ $EUID == 0 ]] || skip "ip netns needs root"
    command -v ip >/dev/null || skip "no ip(8)"
    NETNS="qioc-bats-$$-$RANDOM"
    ip netns add "$NETNS" 2>/dev/null || { NETNS=; skip "cannot create a network namespace"; }
    ip -n "$NETNS" link set lo up multicast on
    ip -n "$NETNS" route add 239.0.0.0/8 dev lo
    bg ip netns exec "$NETNS" "$QIOC" -u UDP4-RECV:5000,ip-add-membership=239.255.1.2:lo - >"$T/out" 2>"$T/r.err"
    poll 10 ip netns exec "$NETNS" grep -q ":1388 " /proc/net/udp
    # Not a member: a datagram to another group does not arrive.
    ip netns exec "$NETNS" "$QIOC" -u - UDP4-DATAGRAM:239.255.9.9:5000 <<<"other group"
    ip netns exec "$NETNS" "$QIOC" -u - UDP4-DATAGRAM:239.255.1.2:5000,ip-multicast-loop=1,ip-multicast-ttl=0 <<<"to the group"
    wait_size "$T/out" 13
    [[ $(cat "$T/out") == "to the group" ]] || { cat "$T/out" "$T/r.err"; false; }
}

@test "ip-add-membership= names a multicast group, checked when parsed (exit 2)" {
    run -2 --separate-stderr qioc --dry-run - UDP-DATAGRAM:10.1.1.1:5000,ip-add-membership=10.1.1.1
    assert_one_line "$stderr"
    [[ $stderr == *"not a multicast group address"* ]]
    run -0 qioc --dry-run - UDP-DATAGRAM:239.1.2.3:5000,ip-add-membership=239.1.2.3:lo,ip-multicast-loop=1,ip-multicast-ttl=0
    run -2 qioc --dry-run - UDP-DATAGRAM:239.1.2.3:5000,ip-multicast-loop=2
    run -2 qioc --dry-run - UDP-DATAGRAM:239.1.2.3:5000,ip-multicast-ttl=256
}

@test "socat's ipv6-join-group=[GROUP]:INTERFACE joins an IPv6 group (socat's USE_IPV6_JOIN_GROUP)" {
    v6_usable || skip "no IPv6 loopback"
    local p
    p=$(udp_port)
    bg_qioc -u UDP6-RECV:"$p",ipv6-join-group=[ff05::1:77]:lo -
    # The kernel lists the group joined on lo.
    poll 10 grep -q "^1 *lo *ff050000000000000000000000010077" /proc/net/igmp6
    run -2 --separate-stderr qioc --dry-run - UDP6-RECV:"$p",ipv6-join-group=[::1]:lo
    [[ $stderr == *"not a multicast group address"* ]]
}

@test "TCP-only options are refused on UDP addresses (exit 2)" {
    run -2 --separate-stderr qioc --dry-run - UDP:127.0.0.1:53,nodelay
    assert_one_line "$stderr"
}

# ---------------------------------------------------------------- unix

@test "UNIX-RECVFROM to UNIX-SENDTO: unix datagrams cross both ways whole" {
    bg_dpeer echo "$T/echo.sock" --ready "$T/echo.ready"
    wait_file "$T/echo.ready"
    bg_qioc UNIX-RECVFROM:"$T/in.sock" UNIX-SENDTO:"$T/echo.sock" 2>"$T/q.err"
    wait_unix_dgram "$T/in.sock"
    run -0 dpeer send "$T/in.sock" --sizes 1,100,4096,60000 --replies
    [[ $output == "ok 4" ]] || { echo "$output"; cat "$T/q.err"; false; }
}

@test "ABSTRACT-RECV: datagrams to an abstract name reach stdout" {
    bg_qioc -u ABSTRACT-RECV:"$NAME" - >"$T/out" 2>"$T/q.err"
    wait_unix_dgram "@$NAME"
    dpeer send "@$NAME" --sizes 10,20,30 --out "$T/sent"
    wait_size "$T/out" 60
    assert_same "$T/sent" "$T/out"
}

@test "UNIX-RECV removes its socket file at exit" {
    bg_qioc -u UNIX-RECV:"$T/r.sock" - >"$T/out"
    local qpid=$BG_PID
    wait_unix_dgram "$T/r.sock"
    kill -TERM "$qpid"
    reap "$qpid"
    [[ ! -e $T/r.sock ]]
}

@test "UNIX-CONNECT to a datagram socket exchanges datagrams" {
    bg_dpeer echo "$T/echo.sock" --ready "$T/echo.ready"
    wait_file "$T/echo.ready"
    run -0 --separate-stderr qioc - UNIX-CONNECT:"$T/echo.sock" <<<"hello datagram"
    [[ $output == "hello datagram" ]]
    [[ -z $stderr ]] || { echo "$stderr"; false; }
}

@test "--dry-run and --help-addresses know the datagram types" {
    run -0 qioc --help-addresses
    local t
    for t in UDP UDP-LISTEN UDP-SENDTO UDP-DATAGRAM UDP-RECVFROM UDP-RECV \
        UNIX-SENDTO UNIX-RECVFROM UNIX-RECV ABSTRACT-SENDTO ABSTRACT-RECVFROM ABSTRACT-RECV; do
        [[ $output == *"$t"* ]] || { echo "missing $t"; false; }
    done
    run -0 qioc --dry-run UDP-LISTEN:5353,fork UDP:127.0.0.1:53
}

@test "shut-null and null-eof: an empty datagram carries the end of the data over UDP (socat's)" {
    local P
    P=$(udp_port)
    head -c 3000 /dev/urandom >"$T/in"
    bg_qioc -u UDP-RECV:"$P",bind=127.0.0.1,null-eof CREATE:"$T/out"
    local rpid=$BG_PID
    wait_udp "$P"
    qioc -u -b 1000 - UDP-SENDTO:127.0.0.1:"$P",shut-null <"$T/in"
    # The receiver ends by itself, with everything.
    wait_pid_exit "$rpid" 10
    [[ $(sha256sum <"$T/out") == $(sha256sum <"$T/in") ]]
    # Without null-eof an empty datagram ends nothing.
    bg_qioc -u UDP-RECV:"$P",bind=127.0.0.1 CREATE:"$T/out2"
    rpid=$BG_PID
    wait_udp "$P"
    qioc -u - UDP-SENDTO:127.0.0.1:"$P",shut-null </dev/null
    "$PYTHON3" -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"after", ("127.0.0.1", int(sys.argv[1])))' "$P"
    wait_line "$T/out2" after
    still_running "$rpid"
}
