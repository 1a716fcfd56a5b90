# shellcheck shell=bash disable=SC2034,SC2054,SC2154
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared helpers for qioc's bats suites.  `make check` exports QIOC (the
# built binary), QIOC_TESTS (this directory) and PYTHON3.
#
# Rules the suites follow: readiness is polled for (a port listening, a
# file appearing, a process ending), never slept for; every background
# process a test starts is recorded and killed in teardown; every qioc run
# in the foreground goes through `qioc`, which bounds it with timeout(1).

: "${QIOC:?QIOC must name the qioc binary (make check exports it)}"
QIOC_TESTS=${QIOC_TESTS:-$BATS_TEST_DIRNAME}
PYTHON3=${PYTHON3:-python3}
PEER_PY="$QIOC_TESTS/peer.py"

# A test that hangs fails after this long instead of wedging CI.
: "${BATS_TEST_TIMEOUT:=90}"
export BATS_TEST_TIMEOUT

# Signals a background process should see with their default action, so
# that a missing handler in qioc shows (a non-interactive shell starts
# background jobs with SIGINT and SIGQUIT ignored).
if env --default-signal=INT true 2>/dev/null; then
    DEFAULT_SIGNALS=(env --default-signal=INT,QUIT,TERM,PIPE)
else
    DEFAULT_SIGNALS=()
fi

setup() {
    qioc_setup
}

teardown() {
    qioc_teardown
}

qioc_setup() {
    BG_PIDS=()
    T=$BATS_TEST_TMPDIR
    cd "$T" || return 1
}

qioc_teardown() {
    kill_bg
    if [[ -n ${IDLE_FD:-} ]]; then
        exec {IDLE_FD}>&-
        IDLE_FD=
    fi
}

# idle_stdin: create $T/idle, a FIFO that is held open for writing and
# never written, so a process reading it as stdin waits forever without
# seeing end-of-file.  Use it as `<"$T/idle"`.
idle_stdin() {
    mkfifo "$T/idle"
    exec {IDLE_FD}<>"$T/idle"
}

# qioc ARGS...: run qioc in the foreground, bounded, with SIGPIPE default.
qioc() {
    timeout -k 5 "${QIOC_TIMEOUT:-20}" "${DEFAULT_SIGNALS[@]}" "$QIOC" "$@"
}

# peer ARGS...: run peer.py in the foreground, bounded.
peer() {
    timeout -k 5 "${QIOC_TIMEOUT:-20}" "$PYTHON3" "$PEER_PY" "$@"
}

# ---------------------------------------------------------------- processes

# bg CMD...: start CMD in the background; its pid is in BG_PID and is
# killed in teardown unless reaped first.  Redirections given to `bg`
# apply to CMD (stdin too: `<&0` keeps bash from giving a background job
# /dev/null).  fd 3 (bats' own output) is closed so bats never waits.
bg() {
    "$@" 3>&- <&0 &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# bg_qioc ARGS...: qioc in the background, default signal dispositions.
bg_qioc() {
    bg "${DEFAULT_SIGNALS[@]}" "$QIOC" "$@"
}

# bg_peer ARGS...: peer.py in the background.
bg_peer() {
    bg "$PYTHON3" "$PEER_PY" "$@"
}

# ---------------------------------------------------------------- tracing

need_strace() {
    command -v strace >/dev/null || skip "no strace(1)"
}

# Calls traced_* record: socket set-up, in the order qioc makes them.
TRACED_CALLS=setsockopt,bind,listen,connect,accept,accept4

# untraced_env: the environment for a process under strace.  A sanitizer
# build's leak checker cannot run under ptrace and would fail the
# process at exit, so it is off there (ASan's other checks stay on).
untraced_env() {
    echo "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# traced OUT ARGS...: qioc ARGS in the foreground under strace; its
# socket calls go to OUT, one a line, without process ids and without
# the resolver's (nscd) calls.
traced() {
    local out=$1 rc=0
    shift
    timeout -k 5 "${QIOC_TIMEOUT:-20}" env "$(untraced_env)" \
        strace -f -qq -o "$out.raw" -e trace="$TRACED_CALLS" \
        "$QIOC" "$@" || rc=$?
    sockcalls "$out"
    return "$rc"
}

# bg_traced OUT ARGS...: the same in the background (pid in BG_PID); the
# calls are in OUT.raw until sockcalls OUT filters them.
bg_traced() {
    local out=$1
    shift
    bg env "$(untraced_env)" strace -f -qq -o "$out.raw" \
        -e trace="$TRACED_CALLS" "${DEFAULT_SIGNALS[@]}" "$QIOC" "$@"
}

sockcalls() {
    grep -v nscd "$1.raw" | sed -E 's/^[0-9]+ +//' >"$1"
}

# first_line FILE PATTERN: the number of the first line of FILE that
# matches the extended regex PATTERN (fails when none does).
first_line() {
    local n
    n=$(grep -nE -m1 -- "$2" "$1" | cut -d: -f1)
    [[ -n $n ]] || { echo "# no call matches: $2" >&2; cat "$1" >&2; return 1; }
    echo "$n"
}

# before FILE A B: a call matching A comes before the first matching B.
before() {
    local a b
    a=$(first_line "$1" "$2") && b=$(first_line "$1" "$3") || return 1
    (( a < b )) || { echo "# '$2' (line $a) is not before '$3' (line $b)" >&2; cat "$1" >&2; return 1; }
}

# proc_done PID: true when PID has exited (gone or a zombie).
proc_done() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [[ ${stat%% *} == Z || ${stat%% *} == X ]]
}

# wait_pid_exit PID [SECONDS]: poll until PID has exited.
wait_pid_exit() {
    local pid=$1 limit=${2:-10} start=$EPOCHREALTIME
    until proc_done "$pid"; do
        if (( $(elapsed_ms "$start") > limit * 1000 )); then
            echo "# process $pid still running after ${limit}s" >&2
            return 1
        fi
        sleep 0.01
    done
}

# reap PID [SECONDS]: wait for PID to end and put its exit status in
# BG_STATUS.  A process still running after SECONDS is killed and the
# call fails.
reap() {
    local pid=$1 limit=${2:-15}
    if ! wait_pid_exit "$pid" "$limit"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        forget_pid "$pid"
        return 1
    fi
    BG_STATUS=0
    wait "$pid" || BG_STATUS=$?
    forget_pid "$pid"
}

forget_pid() {
    local keep=() p
    for p in "${BG_PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    BG_PIDS=("${keep[@]}")
}

# still_running PID: the process has not exited.
still_running() {
    ! proc_done "$1"
}

# kill_bg: end every background process this test started and reap it.
# A child that is still this shell (it has not exec'd yet, or it runs a
# shell function) gets SIGKILL: on SIGTERM it would run bats' own exit
# trap and report this test a second time as "not ok".
kill_bg() {
    local pid sig shell_exe
    shell_exe=$(readlink "/proc/$$/exe")
    for pid in "${BG_PIDS[@]}"; do
        sig=TERM
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$shell_exe" ]] &&
            sig=KILL
        kill -"$sig" "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        if ! wait_pid_exit "$pid" 5 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}

# refute CMD...: CMD fails (a bare `! CMD` does not fail a bats test).
refute() {
    if "$@"; then
        echo "# unexpectedly true: $*" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- readiness

# elapsed_ms START: milliseconds since START (an $EPOCHREALTIME value).
elapsed_ms() {
    local now=$EPOCHREALTIME
    local s=${1/[.,]/} n=${now/[.,]/}
    echo $(( (10#$n - 10#$s) / 1000 ))
}

# poll SECONDS CMD...: run CMD until it succeeds, at most SECONDS.
poll() {
    local limit=$1 start=$EPOCHREALTIME
    shift
    until "$@"; do
        if (( $(elapsed_ms "$start") > limit * 1000 )); then
            echo "# gave up after ${limit}s waiting for: $*" >&2
            return 1
        fi
        sleep 0.01
    done
}

# free_port: a TCP port free on 127.0.0.1 and ::.
free_port() {
    "$PYTHON3" "$PEER_PY" free-port
}

# tcp_listening PORT [ADDR-HEX]: a socket listens on PORT (v4 or v6).
# Reads /proc/net, so it never connects (a connect would be the one
# client a listener without fork serves).
tcp_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" -v a="${2:-}" '
        $4 == "0A" && substr($2, length($2) - 4) == p &&
        (a == "" || substr($2, 1, length($2) - 5) == a) { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# tcp_listening_family PORT 4|6: a listener on PORT in that family.
tcp_listening_family() {
    local hex file=/proc/net/tcp
    hex=$(printf '%04X' "$1")
    [[ $2 == 6 ]] && file=/proc/net/tcp6
    awk -v p=":$hex" '
        $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
        END { exit !found }' "$file"
}

# wait_port PORT [SECONDS]: poll until something listens on PORT.
wait_port() {
    poll "${2:-10}" tcp_listening "$1"
}

# unix_listening PATH|@NAME: a unix stream socket listens there.
unix_listening() {
    awk -v p="$1" '$NF == p && $4 == "00010000" { found = 1 }
        END { exit !found }' /proc/net/unix
}

# wait_socket PATH|@NAME [SECONDS]: poll until a unix socket listens there.
wait_socket() {
    poll "${2:-10}" unix_listening "$1"
}

# udp_bound PORT: a UDP socket is bound to PORT (v4 or v6).
udp_bound() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'substr($2, length($2) - 4) == p { found = 1 }
        END { exit !found }' /proc/net/udp /proc/net/udp6 2>/dev/null
}

wait_udp() {
    poll "${2:-10}" udp_bound "$1"
}

# unix_dgram_bound PATH|@NAME: a unix datagram socket is bound there.
unix_dgram_bound() {
    awk -v p="$1" '$NF == p && $5 == "0002" { found = 1 }
        END { exit !found }' /proc/net/unix
}

wait_unix_dgram() {
    poll "${2:-10}" unix_dgram_bound "$1"
}

# wait_file PATH [SECONDS]: poll until PATH exists.
wait_file() {
    poll "${2:-10}" test -e "$1"
}

# file_size_at_least PATH BYTES
file_size_at_least() {
    [[ -e $1 ]] && (( $(stat -c %s "$1") >= $2 ))
}

# wait_size PATH BYTES [SECONDS]: poll until PATH holds at least BYTES.
wait_size() {
    poll "${3:-10}" file_size_at_least "$1" "$2"
}

# untag PATH: the log PATH without the connection numbers a fork listener
# puts after "qioc: " ("qioc: [3] address 1 ..." reads "qioc: address 1
# ..."), for tests about what is logged rather than which connection.
untag() {
    sed -E 's/^qioc: \[[0-9]+\] /qioc: /' "$1"
}

# file_has PATH TEXT: PATH contains a line equal to TEXT, connection
# numbers aside (untag).
file_has() {
    [[ -e $1 ]] && untag "$1" | grep -qxF -- "$2"
}

# wait_line PATH TEXT [SECONDS]: poll until PATH has the line TEXT.
wait_line() {
    poll "${3:-10}" file_has "$1" "$2"
}

# v6_usable: ::1 can be bound here.
v6_usable() {
    "$PYTHON3" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
        2>/dev/null
}

# ---------------------------------------------------------------- data

# random_file PATH SIZE: SIZE bytes of random data (head -c suffixes).
random_file() {
    head -c "$2" /dev/urandom >"$1"
}

sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

# assert_same EXPECTED ACTUAL: identical content, compared by sha256.
assert_same() {
    local a b
    [[ -e $2 ]] || { echo "# $2 does not exist" >&2; return 1; }
    a=$(sha "$1")
    b=$(sha "$2")
    if [[ $a != "$b" ]]; then
        echo "# $1: $(stat -c %s "$1") bytes, sha256 $a" >&2
        echo "# $2: $(stat -c %s "$2") bytes, sha256 $b" >&2
        return 1
    fi
}

# assert_empty PATH: PATH exists and holds nothing.
assert_empty() {
    [[ -e $1 ]] || { echo "# $1 does not exist" >&2; return 1; }
    if [[ -s $1 ]]; then
        echo "# $1 should be empty, holds $(stat -c %s "$1") bytes:" >&2
        head -c 200 "$1" | od -c | head -5 >&2
        return 1
    fi
}

# ---------------------------------------------------------------- messages

# assert_status N: bats' $status is N (show stderr/output when not).
assert_status() {
    if [[ $status != "$1" ]]; then
        echo "# exit status $status, expected $1" >&2
        echo "# stdout: ${output:-}" >&2
        echo "# stderr: ${stderr:-}" >&2
        return 1
    fi
}

# assert_one_line TEXT: TEXT is exactly one non-empty line.
assert_one_line() {
    if [[ -z $1 || $1 == *$'\n'* ]]; then
        echo "# expected one line on stderr, got:" >&2
        printf '# | %s\n' "${1//$'\n'/$'\n'# | }" >&2
        return 1
    fi
}

# assert_usage_error TOKEN: after `run --separate-stderr qioc ...`: exit 2,
# nothing on stdout, one line on stderr that starts "qioc: " and quotes
# TOKEN (in "..." or '...').
assert_usage_error() {
    assert_status 2
    assert_one_line "$stderr"
    [[ $stderr == "qioc: "* ]] || {
        echo "# stderr does not start with 'qioc: ': $stderr" >&2
        return 1
    }
    if [[ $stderr != *"\"$1\""* && $stderr != *"'$1'"* ]]; then
        echo "# stderr does not quote \"$1\": $stderr" >&2
        return 1
    fi
    [[ -z $output ]] || {
        echo "# unexpected stdout: $output" >&2
        return 1
    }
}

# assert_error IDX ADDR REASON: after `run --separate-stderr qioc ...`:
# exit 1 and one stderr line "qioc: address IDX (ADDR): ...: REASON".
assert_error() {
    assert_status 1
    assert_one_line "$stderr"
    local want="qioc: address $1 ($2): "
    if [[ $stderr != "$want"* || $stderr != *": $3" ]]; then
        echo "# stderr: $stderr" >&2
        echo "# wanted: $want...: $3" >&2
        return 1
    fi
}

# assert_contains TEXT WORD: TEXT contains WORD.
assert_contains() {
    if [[ $1 != *"$2"* ]]; then
        echo "# expected to find: $2" >&2
        echo "# in: $1" >&2
        return 1
    fi
}

# assert_not_contains TEXT WORD
assert_not_contains() {
    if [[ $1 == *"$2"* ]]; then
        echo "# did not expect: $2" >&2
        echo "# in: $1" >&2
        return 1
    fi
}

# assert_faster_than MS START: less than MS milliseconds since START.
assert_faster_than() {
    local took
    took=$(elapsed_ms "$2")
    if (( took >= $1 )); then
        echo "# took ${took} ms, limit $1 ms" >&2
        return 1
    fi
}

# assert_slower_than MS START: at least MS milliseconds since START.
assert_slower_than() {
    local took
    took=$(elapsed_ms "$2")
    if (( took < $1 )); then
        echo "# took only ${took} ms, expected at least $1 ms" >&2
        return 1
    fi
}
