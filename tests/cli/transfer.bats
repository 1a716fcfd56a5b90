#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The pump: large transfers both ways at once, half-close with a peer that
# answers only after end-of-file, -u/-U, -T, -t, -b, shut=, a peer that
# resets, and the signals that end a transfer.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    qioc_setup
    P=$(free_port)
}

# ---------------------------------------------------------------- 64 MiB

@test "64 MiB both ways at once over TCP (TCP-LISTEN <-> TCP)" {
    local q
    q=$(free_port)
    random_file "$T/a" 64M
    random_file "$T/b" 64M
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/b" --recv "$T/b.got"
    local bpid=$BG_PID
    wait_file "$T/ready"
    bg_qioc TCP-LISTEN:"$q" TCP:127.0.0.1:"$P" 2>"$T/err"
    local qpid=$BG_PID
    wait_port "$q"
    peer --timeout 50 --port "$q" --connect xfer --send "$T/a" --recv "$T/a.got"
    reap "$qpid" 30
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$bpid" 30
    [[ $BG_STATUS == 0 ]]
    assert_empty "$T/err"
    assert_same "$T/a" "$T/b.got"
    assert_same "$T/b" "$T/a.got"
}

@test "64 MiB both ways at once over UNIX (UNIX-LISTEN <-> UNIX-CONNECT)" {
    random_file "$T/a" 64M
    random_file "$T/b" 64M
    bg_peer --unix "$T/s2" --ready "$T/ready" xfer --send "$T/b" --recv "$T/b.got"
    local bpid=$BG_PID
    wait_file "$T/ready"
    bg_qioc UNIX-LISTEN:"$T/s1" UNIX-CONNECT:"$T/s2" 2>"$T/err"
    local qpid=$BG_PID
    wait_socket "$T/s1"
    peer --timeout 50 --unix "$T/s1" --connect xfer --send "$T/a" --recv "$T/a.got"
    reap "$qpid" 30
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; return 1; }
    reap "$bpid" 30
    [[ $BG_STATUS == 0 ]]
    assert_empty "$T/err"
    assert_same "$T/a" "$T/b.got"
    assert_same "$T/b" "$T/a.got"
}

@test "16 MiB both ways between stdio and TCP, qioc on both ends" {
    random_file "$T/a" 16M
    random_file "$T/b" 16M
    bg_qioc TCP-LISTEN:"$P" - <"$T/a" >"$T/l.out" 2>"$T/l.err"
    local lpid=$BG_PID
    wait_port "$P"
    qioc TCP:127.0.0.1:"$P" - <"$T/b" >"$T/c.out"
    reap "$lpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/l.err" >&2; return 1; }
    assert_same "$T/a" "$T/c.out"
    assert_same "$T/b" "$T/l.out"
}

# ---------------------------------------------------------------- half-close

@test "half-close: a peer that answers 1.5 s after end-of-file is heard in full (TCP)" {
    random_file "$T/in" 4M
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" \
        echo-after-eof --delay 1.5
    local ppid=$BG_PID
    wait_file "$T/ready"
    local start=$EPOCHREALTIME rc=0
    qioc - TCP:127.0.0.1:"$P" <"$T/in" >"$T/out" 2>"$T/err" || rc=$?
    [[ $rc == 0 ]] || { echo "# status $rc" >&2; cat "$T/err" >&2; return 1; }
    assert_empty "$T/err"
    assert_slower_than 1400 "$start"
    assert_same "$T/in" "$T/out"
    reap "$ppid"
    [[ $BG_STATUS == 0 ]]
}

@test "half-close: the same over UNIX" {
    random_file "$T/in" 4M
    bg_peer --unix "$T/s" --ready "$T/ready" echo-after-eof --delay 1.5
    wait_file "$T/ready"
    qioc - UNIX-CONNECT:"$T/s" <"$T/in" >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "half-close: shut=write is the default and shut-down its socat alias" {
    random_file "$T/in" 1M
    bg_peer --port "$P" --ready "$T/ready" echo-after-eof --delay 0.2
    wait_file "$T/ready"
    qioc - TCP:127.0.0.1:"$P",shut=write <"$T/in" >"$T/out"
    assert_same "$T/in" "$T/out"
    P=$(free_port)
    rm -f "$T/ready"
    bg_peer --port "$P" --ready "$T/ready" echo-after-eof --delay 0.2
    wait_file "$T/ready"
    qioc - TCP:127.0.0.1:"$P",shut-down <"$T/in" >"$T/out2"
    assert_same "$T/in" "$T/out2"
}

# ---------------------------------------------------------------- shut=

# shut_probe OPTION: stdin ends at once; the peer notes whether it saw
# end-of-file within 0.7 s, then answers "reply".  Leaves qioc's status
# in $status, its stdout in $T/out and the peer's notes in $T/ev.
shut_probe() {
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" \
        probe --window 0.7 --reply $'reply\n'
    local ppid=$BG_PID
    wait_file "$T/ready"
    printf 'request\n' >"$T/in"
    status=0
    qioc - TCP:127.0.0.1:"$P","$1" <"$T/in" >"$T/out" 2>"$T/err" || status=$?
    stderr=$(cat "$T/err")
    reap "$ppid"
}

@test "shut=none: the peer never sees end-of-file and its reply arrives" {
    shut_probe shut=none
    assert_status 0
    file_has "$T/ev" no-eof || { cat "$T/ev" >&2; return 1; }
    grep -qx reply "$T/out"
}

@test "shut-none is socat's spelling of shut=none" {
    shut_probe shut-none
    assert_status 0
    file_has "$T/ev" no-eof
    grep -qx reply "$T/out"
}

@test "shut=write: the peer sees end-of-file and its reply arrives" {
    shut_probe shut=write
    assert_status 0
    file_has "$T/ev" eof || { cat "$T/ev" >&2; return 1; }
    grep -qx reply "$T/out"
}

@test "shut=close: the peer sees end-of-file, the connection is gone" {
    shut_probe shut=close
    assert_status 0
    file_has "$T/ev" eof || { cat "$T/ev" >&2; return 1; }
    refute grep -q reply "$T/out"
    # the peer's writes meet a closed socket
    grep -q '^reply-failed' "$T/ev" || { cat "$T/ev" >&2; return 1; }
}

@test "shut-close is socat's spelling of shut=close" {
    shut_probe shut-close
    assert_status 0
    file_has "$T/ev" eof
    refute grep -q reply "$T/out"
}

@test "shut=both: the peer sees end-of-file and qioc reads no more" {
    shut_probe shut=both
    assert_status 0
    file_has "$T/ev" eof || { cat "$T/ev" >&2; return 1; }
    refute grep -q reply "$T/out"
}

# ---------------------------------------------------------------- -u / -U

@test "-u: only left to right; what the right side sends is never printed" {
    random_file "$T/in" 64K
    random_file "$T/secret" 1K
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/secret"
    wait_file "$T/ready"
    run --separate-stderr qioc -u - TCP:127.0.0.1:"$P" <"$T/in"
    assert_status 0
    [[ -z $output ]] || { echo "# -u printed what address 2 sent" >&2; return 1; }
}

@test "-u: everything reaches a peer that talks too (nothing read is lost)" {
    # The peer sends a greeting qioc never reads; closing a socket with
    # unread data sends an RST, which must not cost the peer the data
    # qioc already wrote.
    random_file "$T/in" 2M
    random_file "$T/secret" 1K
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/secret" --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    run --separate-stderr qioc -u - TCP:127.0.0.1:"$P" <"$T/in"
    assert_status 0
    reap "$ppid"
    assert_same "$T/in" "$T/got"
}

@test "-U: only right to left; stdin is never read" {
    random_file "$T/in" 2M
    random_file "$T/data" 2M
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/data" --recv "$T/got"
    local ppid=$BG_PID
    wait_file "$T/ready"
    local fd
    exec {fd}<"$T/in"
    local rc=0
    qioc -U - TCP:127.0.0.1:"$P" <&$fd >"$T/out" || rc=$?
    local pos
    pos=$(awk '$1 == "pos:" { print $2 }' "/proc/$BASHPID/fdinfo/$fd")
    exec {fd}<&-
    [[ $rc == 0 ]]
    assert_same "$T/data" "$T/out"
    reap "$ppid"
    assert_empty "$T/got"
    [[ $pos == 0 ]] || { echo "# qioc read $pos bytes of stdin" >&2; return 1; }
}

@test "-u with stdin as address 2: stdin is never read" {
    random_file "$T/in" 1M
    local fd
    exec {fd}<"$T/in"
    run --separate-stderr qioc -u FILE:"$T/in" - <&$fd
    local pos
    pos=$(awk '$1 == "pos:" { print $2 }' "/proc/$BASHPID/fdinfo/$fd")
    exec {fd}<&-
    assert_status 0
    [[ $pos == 0 ]] || { echo "# qioc read $pos bytes of stdin" >&2; return 1; }
}

# ---------------------------------------------------------------- -T / -t

@test "-T ends an idle connection with exit 0" {
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" hold
    local ppid=$BG_PID
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    run --separate-stderr qioc -T 0.5 - TCP:127.0.0.1:"$P" <"$T/idle"
    assert_status 0
    [[ -z $stderr ]]
    assert_slower_than 450 "$start"
    assert_faster_than 5000 "$start"
    # the peer's connection was closed
    reap "$ppid"
    grep -q '^eof' "$T/ev"
}

@test "-T does not end a connection while data flows" {
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" trickle --count 6 --interval 0.2
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    run --separate-stderr qioc -T 0.6 - TCP:127.0.0.1:"$P" <"$T/idle"
    assert_status 0
    [[ $output == xxxxxx ]]
    # 6 bytes 0.2 s apart (1.2 s in all, twice -T), then -T after the last
    assert_slower_than 1500 "$start"
}

@test "--idle-timeout is -T" {
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" hold
    wait_file "$T/ready"
    run --separate-stderr qioc --idle-timeout=0.3 - TCP:127.0.0.1:"$P" <"$T/idle"
    assert_status 0
}

@test "-t ends the other direction after end-of-file on one, exit 0" {
    random_file "$T/in" 1M
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" hold --stay 30
    local ppid=$BG_PID
    wait_file "$T/ready"
    local start=$EPOCHREALTIME
    run --separate-stderr qioc -t 0.5 - TCP:127.0.0.1:"$P" <"$T/in"
    assert_status 0
    [[ -z $stderr ]]
    assert_faster_than 5000 "$start"
    wait_line "$T/ev" "eof $((1024 * 1024))"
}

@test "without -t the other direction runs on after end-of-file" {
    random_file "$T/in" 1M
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" \
        echo-after-eof --delay 1
    wait_file "$T/ready"
    bg_qioc - TCP:127.0.0.1:"$P" <"$T/in" >"$T/out"
    local qpid=$BG_PID
    wait_line "$T/ev" eof
    still_running "$qpid"
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_same "$T/in" "$T/out"
}

@test "--close-timeout is -t" {
    bg_peer --port "$P" --ready "$T/ready" hold --stay 30
    wait_file "$T/ready"
    run --separate-stderr qioc --close-timeout=0.3 - TCP:127.0.0.1:"$P" </dev/null
    assert_status 0
}

# ---------------------------------------------------------------- -b

@test "-b 1: one byte per read still transfers intact" {
    random_file "$T/in" 64K
    bg_peer --port "$P" --ready "$T/ready" echo-after-eof
    wait_file "$T/ready"
    qioc -b 1 - TCP:127.0.0.1:"$P" <"$T/in" >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "-b 1 between files" {
    random_file "$T/in" 64K
    qioc -u -b 1 FILE:"$T/in" CREATE:"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "-b with a suffix: 4K and --buffer-size=1M" {
    random_file "$T/in" 8M
    bg_peer --port "$P" --ready "$T/ready" echo-after-eof
    wait_file "$T/ready"
    qioc -b 4K - TCP:127.0.0.1:"$P" <"$T/in" >"$T/out"
    assert_same "$T/in" "$T/out"
    cat "$T/in" | qioc --buffer-size=1M -u - CREATE:"$T/out2"
    assert_same "$T/in" "$T/out2"
}

# ---------------------------------------------------------------- resets

@test "a peer that resets while qioc sends: exit 1, Connection reset by peer" {
    random_file "$T/in" 32M
    bg_peer --port "$P" --ready "$T/ready" reset --recv-bytes 1048576
    wait_file "$T/ready"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <"$T/in"
    assert_status 1
    assert_one_line "$stderr"
    # A reset is reported once (ECONNRESET), then EPIPE to later sends.
    [[ $stderr == "qioc: address 2 (TCP:127.0.0.1:$P): "*": Connection reset by peer" ||
       $stderr == "qioc: address 2 (TCP:127.0.0.1:$P): "*": Broken pipe" ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
}

@test "a peer that resets while qioc reads: exit 1, what came before is kept" {
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" reset --send-bytes 1000
    wait_file "$T/ready"
    run --separate-stderr qioc - TCP:127.0.0.1:"$P" <"$T/idle"
    assert_status 1
    [[ $output == "$(printf 'r%.0s' {1..1000})" ]] || {
        echo "# got ${#output} bytes before the reset" >&2
        return 1
    }
    assert_one_line "$stderr"
    [[ $stderr == "qioc: address 2 (TCP:127.0.0.1:$P): "*": Connection reset by peer" ]] || {
        echo "# stderr: $stderr" >&2
        return 1
    }
}

# ---------------------------------------------------------------- signals

# signal_mid_transfer SIG: qioc holds a connection whose peer has sent
# "hello"; SIG ends it.  Leaves the status in BG_STATUS.
signal_mid_transfer() {
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" --events "$T/ev" \
        hold --send $'hello\n' --stay 30
    wait_file "$T/ready"
    bg_qioc - TCP:127.0.0.1:"$P" <"$T/idle" >"$T/out" 2>"$T/err"
    local qpid=$BG_PID
    wait_line "$T/out" hello
    kill -"$1" "$qpid"
    reap "$qpid"
    # the peer was told: its connection ends
    wait_line "$T/ev" "eof 0"
}

@test "SIGTERM mid-transfer: exit 143" {
    signal_mid_transfer TERM
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    [[ $(cat "$T/out") == hello ]]
}

@test "SIGINT mid-transfer: exit 130" {
    signal_mid_transfer INT
    [[ $BG_STATUS == 130 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    [[ $(cat "$T/out") == hello ]]
}

@test "SIGTERM: data already read is written out before exiting" {
    # The peer sends 8 MiB and never reads; qioc writes it to a pipe
    # that nobody reads until after the signal.
    random_file "$T/data" 8M
    idle_stdin
    bg_peer --port "$P" --ready "$T/ready" xfer --send "$T/data" --no-shut
    wait_file "$T/ready"
    # A FIFO as stdout: open it both ways first so that neither open
    # blocks, then keep only the read end; qioc holds the only writer.
    mkfifo "$T/pipe"
    local wfd rfd
    exec {wfd}<>"$T/pipe"
    exec {rfd}<"$T/pipe"
    bg_qioc -b 64K - TCP:127.0.0.1:"$P" <"$T/idle" >&$wfd 2>"$T/err"
    local qpid=$BG_PID
    exec {wfd}>&-
    # Read a first part, so qioc is known to be moving data.
    head -c 65536 <&$rfd >"$T/out"
    kill -TERM "$qpid"
    timeout 20 cat <&$rfd >>"$T/out"
    exec {rfd}<&-
    reap "$qpid"
    [[ $BG_STATUS == 143 ]] || { echo "# status $BG_STATUS" >&2; cat "$T/err" >&2; return 1; }
    # Whatever came out is an intact prefix of what was sent.
    local n
    n=$(stat -c %s "$T/out")
    head -c "$n" "$T/data" >"$T/want"
    assert_same "$T/want" "$T/out"
}
