#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# UNIX-LISTEN, UNIX-CONNECT, ABSTRACT-*, GOPEN on a socket and their
# options: unlink-early, unlink-close, mode, user, group, umask,
# connect-timeout, retry, interval, backlog, accept-timeout.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    qioc_setup
    S=$T/sock
    NAME="qioc-bats-$$-$BATS_TEST_NUMBER-$RANDOM"
}

# pair LISTEN-ADDRESS CONNECT-ADDRESS WAIT-FOR: a qioc listener and a
# qioc client, each with its own stdin; random data must cross both ways
# and both must exit 0.  WAIT-FOR is the path (or @name) to poll.
pair() {
    random_file "$T/a" 2M
    random_file "$T/b" 2M
    bg_qioc "$1" - <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_socket "$3"
    local rc=0
    qioc "$2" - <"$T/b" >"$T/c.out" 2>"$T/c.err" || rc=$?
    [[ $rc == 0 ]] || { echo "# client exit $rc" >&2; cat "$T/c.err" >&2; return 1; }
    assert_empty "$T/c.err"
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    assert_empty "$T/l.err"
    assert_same "$T/b" "$T/l.out"
    assert_same "$T/a" "$T/c.out"
}

# ---------------------------------------------------------------- transfer

@test "UNIX-LISTEN and UNIX-CONNECT carry data both ways" {
    pair UNIX-LISTEN:"$S" UNIX-CONNECT:"$S" "$S"
}

@test "aliases UNIX-L and UNIX" {
    pair UNIX-L:"$S" UNIX:"$S" "$S"
}

@test "aliases UNIX-CLIENT and LOCAL" {
    pair UNIX-LISTEN:"$S" UNIX-CLIENT:"$S" "$S"
    pair UNIX-LISTEN:"$S" LOCAL:"$S" "$S"
}

@test "ABSTRACT-LISTEN and ABSTRACT-CONNECT carry data both ways" {
    pair ABSTRACT-LISTEN:"$NAME" ABSTRACT-CONNECT:"$NAME" "@$NAME"
    # nothing appears in the file system
    [[ ! -e $NAME ]]
}

@test "alias ABSTRACT" {
    pair ABSTRACT-LISTEN:"$NAME" ABSTRACT:"$NAME" "@$NAME"
}

@test "GOPEN connects to a unix socket" {
    pair UNIX-LISTEN:"$S" GOPEN:"$S" "$S"
}

@test "a bare path to a unix socket connects to it" {
    pair UNIX-LISTEN:"$S" "$S" "$S"
}

@test "UNIX-CONNECT to a python listener: data both ways" {
    random_file "$T/a" 4M
    random_file "$T/b" 4M
    bg_peer --unix "$S" --ready "$T/ready" xfer --send "$T/b" --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    qioc - UNIX-CONNECT:"$S" <"$T/a" >"$T/out"
    reap "$ppid"
    [[ $BG_STATUS == 0 ]]
    assert_same "$T/a" "$T/got"
    assert_same "$T/b" "$T/out"
}

# ---------------------------------------------------------------- listener life

@test "a listener serves one client, then exits and removes its socket" {
    bg_qioc UNIX-LISTEN:"$S" - </dev/null >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_socket "$S"
    printf 'first\n' | qioc - UNIX-CONNECT:"$S" >/dev/null
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
    [[ $(cat "$T/l.out") == first ]]
    [[ ! -e $S ]]
    # Nobody serves a second client.
    run --separate-stderr qioc - UNIX-CONNECT:"$S" </dev/null
    assert_status 1
}

@test "unlink-close=0 keeps the socket file" {
    bg_qioc UNIX-LISTEN:"$S",unlink-close=0 - </dev/null >/dev/null
    local lpid=$BG_PID
    wait_socket "$S"
    qioc - UNIX-CONNECT:"$S" </dev/null
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
    [[ -S $S ]]
}

@test "unlink-close removes the socket file also when ended by SIGTERM" {
    bg_qioc UNIX-LISTEN:"$S",unlink-close - </dev/null >/dev/null
    local lpid=$BG_PID
    wait_socket "$S"
    kill -TERM "$lpid"
    reap "$lpid"
    [[ ! -e $S ]]
}

@test "a stale socket file without unlink-early: Address already in use, and a hint at unlink-early" {
    "$PYTHON3" "$PEER_PY" stale-unix "$S"
    [[ -S $S ]]
    run --separate-stderr qioc UNIX-LISTEN:"$S" - </dev/null
    assert_error 1 "UNIX-LISTEN:$S" "Address already in use; if nothing listens there any more, unlink-early removes the old socket file"
    assert_contains "$stderr" "$S:"
    [[ -S $S ]]
}

@test "unlink-early replaces a stale socket file" {
    "$PYTHON3" "$PEER_PY" stale-unix "$S"
    pair UNIX-LISTEN:"$S",unlink-early UNIX-CONNECT:"$S" "$S"
}

@test "socat's unlink is unlink-early" {
    "$PYTHON3" "$PEER_PY" stale-unix "$S"
    pair UNIX-LISTEN:"$S",unlink UNIX-CONNECT:"$S" "$S"
}

@test "mode=0600 on the socket file" {
    bg_qioc UNIX-LISTEN:"$S",mode=0600 - </dev/null >/dev/null
    local lpid=$BG_PID
    wait_socket "$S"
    [[ $(stat -c %a "$S") == 600 ]]
    qioc - UNIX-CONNECT:"$S" </dev/null
    reap "$lpid"
    [[ $BG_STATUS == 0 ]]
}

@test "without mode= or umask=, the socket file follows the process umask" {
    local mask want
    for mask in 027 077 022; do
        want=$(printf '%o' $((0777 & ~8#$mask)))
        rm -f "$S"
        (umask "$mask" && exec "${DEFAULT_SIGNALS[@]}" "$QIOC" \
            UNIX-LISTEN:"$S" - </dev/null >/dev/null) &
        local lpid=$!
        BG_PIDS+=("$lpid")
        wait_socket "$S"
        [[ $(stat -c %a "$S") == "$want" ]] ||
            { echo "# umask $mask: mode $(stat -c %a "$S")" >&2; return 1; }
        qioc - UNIX-CONNECT:"$S" </dev/null
        reap "$lpid"
    done
}

@test "umask=077 while creating the socket file" {
    bg_qioc UNIX-LISTEN:"$S",umask=077 - </dev/null >/dev/null
    local lpid=$BG_PID
    wait_socket "$S"
    [[ $(stat -c %a "$S") == 700 ]]
}

@test "user= and group= own the socket file (root only)" {
    [[ $(id -u) == 0 ]] || skip "needs root to give files away"
    local g
    g=$(id -gn nobody) || skip "no user nobody"
    bg_qioc UNIX-LISTEN:"$S",user=nobody,group="$g" - </dev/null >/dev/null
    wait_socket "$S"
    [[ $(stat -c %U "$S") == nobody ]]
    [[ $(stat -c %G "$S") == "$g" ]]
}

@test "backlog= is accepted and the listener works" {
    pair UNIX-LISTEN:"$S",backlog=1 UNIX-CONNECT:"$S" "$S"
}

@test "accept-timeout: no client, exit 1 within the time, socket removed" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc UNIX-LISTEN:"$S",accept-timeout=0.5 - </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 1 (UNIX-LISTEN:$S,accept-timeout=0.5)"
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
    [[ ! -e $S ]]
}

# ---------------------------------------------------------------- connect errors

@test "connect to a missing path: No such file or directory" {
    run --separate-stderr qioc - UNIX-CONNECT:"$T/missing" </dev/null
    assert_error 2 "UNIX-CONNECT:$T/missing" "No such file or directory"
    assert_contains "$stderr" "$T/missing:"
}

@test "connect to a stale socket: Connection refused" {
    "$PYTHON3" "$PEER_PY" stale-unix "$S"
    run --separate-stderr qioc - UNIX-CONNECT:"$S" </dev/null
    assert_error 2 "UNIX-CONNECT:$S" "Connection refused"
}

@test "connect to a missing abstract name: Connection refused" {
    run --separate-stderr qioc - ABSTRACT-CONNECT:"$NAME" </dev/null
    assert_error 2 "ABSTRACT-CONNECT:$NAME" "Connection refused"
}

@test "retry=3,interval=0.2 against nothing: tries, then exit 1" {
    local start=$EPOCHREALTIME
    run --separate-stderr qioc - UNIX-CONNECT:"$T/missing",retry=3,interval=0.2 </dev/null
    assert_error 2 "UNIX-CONNECT:$T/missing,retry=3,interval=0.2" \
        "No such file or directory"
    # three waits of 0.2 s between four tries
    assert_slower_than 550 "$start"
    assert_faster_than 5000 "$start"
}

@test "retry: a listener that appears later is reached" {
    random_file "$T/a" 1M
    bg_qioc -d - UNIX-CONNECT:"$S",retry=200,interval=0.05 <"$T/a" \
        >"$T/out" 2>"$T/err"
    local cpid=$BG_PID
    # The client has failed at least once before the listener exists.
    poll 10 grep -q "No such file or directory" "$T/err"
    bg_peer --unix "$S" --ready "$T/ready" xfer --recv "$T/got"
    local ppid=$BG_PID
    reap "$cpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$ppid"
    assert_same "$T/a" "$T/got"
}

@test "connect-timeout: a listener whose backlog is full" {
    bg_peer --unix "$S" --ready "$T/ready" blackhole
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    run --separate-stderr qioc - UNIX-CONNECT:"$S",connect-timeout=0.5 </dev/null
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 2 (UNIX-CONNECT:$S,connect-timeout=0.5): "
    [[ ${stderr,,} == *"timed out"* ]]
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
}

# ---------------------------------------------------------------- socket options

@test "rcvbuf, sndbuf on UNIX-LISTEN: before bind, and on the accepted client; setsockopt-int on UNIX-CONNECT once connected" {
    need_strace
    random_file "$T/a" 256K
    random_file "$T/b" 256K
    bg_traced "$T/lcalls" UNIX-LISTEN:"$S",rcvbuf=32K,so-sndbuf=16K - \
        <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_socket "$S"
    # 1:16 is SOL_SOCKET, SO_PASSCRED
    bg_traced "$T/ccalls" UNIX-CONNECT:"$S",rcvbuf=8K,setsockopt-int=1:16:1 - \
        <"$T/b" >"$T/c.out" 2>"$T/c.err"
    local cpid=$BG_PID
    reap "$cpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/c.err" >&2; return 1; }
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    assert_same "$T/b" "$T/l.out"
    assert_same "$T/a" "$T/c.out"
    sockcalls "$T/lcalls"
    sockcalls "$T/ccalls"
    before "$T/lcalls" 'SOL_SOCKET, SO_RCVBUF, \[32768\]' '^bind\('
    before "$T/lcalls" 'SOL_SOCKET, SO_SNDBUF, \[16384\]' '^bind\('
    # a unix client does not inherit them from its listener
    [[ $(sed -n '/^accept/,$p' "$T/lcalls" | grep -c 'SO_RCVBUF, \[32768\]') == 1 ]]
    [[ $(sed -n '/^accept/,$p' "$T/lcalls" | grep -c 'SO_SNDBUF, \[16384\]') == 1 ]]
    before "$T/ccalls" 'SOL_SOCKET, SO_RCVBUF, \[8192\]' '^connect\('
    before "$T/ccalls" '^connect\(' 'SOL_SOCKET, SO_PASSCRED, \[1\]'
}

@test "socket options that need IP do not apply to unix addresses" {
    local o
    for o in ttl=3 mss=1000 reuseport interface=lo linger=1; do
        run --separate-stderr qioc UNIX-CONNECT:"$S,$o" - </dev/null
        assert_usage_error "${o%%=*}"
        assert_contains "$stderr" "does not apply to UNIX-CONNECT"
    done
}

@test "retry on UNIX-LISTEN: listens once its directory exists" {
    local dir=$T/later
    bg_qioc -d UNIX-LISTEN:"$dir/s",retry=100,interval=0.05 - </dev/null \
        >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    poll 10 grep -q "No such file or directory; retrying in 0.05 s" "$T/l.err"
    mkdir "$dir"
    wait_socket "$dir/s"
    echo hello | qioc UNIX-CONNECT:"$dir/s" - >/dev/null
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    [[ $(cat "$T/l.out") == hello ]]
}

@test "bind=PATH on a unix client: the peer sees that path; the file goes at the end, and after a failed try" {
    # socat's UNIXTODGRAM: UNIX:PATH,bind=PATH2 to a datagram server,
    # which answers to PATH2.
    bg_qioc -dd UNIX-LISTEN:"$T/srv" SYSTEM:'echo stream' 2>"$T/err"
    wait_socket "$T/srv"
    [[ $(qioc - UNIX-CONNECT:"$T/srv",bind="$T/me" </dev/null) == stream ]]
    poll 10 grep -qF "peer $T/me" "$T/err"
    [[ ! -e $T/me ]]
    bg_qioc UNIX-RECVFROM:"$T/dgram" PIPE
    wait_file "$T/dgram"
    [[ $(qioc -t 0.5 - UNIX:"$T/dgram",bind="$T/me2" <<<datagram) == datagram ]]
    [[ ! -e $T/me2 ]]
    # A connect that fails leaves no file: retry= can bind again.
    run --separate-stderr qioc - UNIX-CONNECT:"$T/none",bind="$T/me3",retry=1,interval=0.1 </dev/null
    assert_status 1
    assert_contains "$stderr" "connect to $T/none: No such file or directory"
    [[ ! -e $T/me3 ]]
    run --separate-stderr qioc --dry-run - ABSTRACT-CONNECT:x,bind=y
    assert_status 0
}
