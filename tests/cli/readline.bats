#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2154 # $stderr, $output, $status come from bats' run
#
# READLINE on a real terminal: qioc runs in a tmux pane (a pseudo-terminal
# of its own) against linepeer.py, a TCP peer that records every byte it
# receives; keys are typed with `tmux send-keys` and the screen is read
# with `tmux capture-pane`. The terminal's settings are taken with
# stty(1) in the pane before and after qioc, and from outside while it
# edits.

bats_require_minimum_version 1.5.0
load helpers

LINEPEER="$QIOC_TESTS/linepeer.py"

setup() {
    qioc_setup
    command -v tmux >/dev/null ||
        skip "no tmux(1): the READLINE tests drive a terminal through it"
    unset TMUX
    TMUX_SOCKET="qioc-readline-$$-$BATS_TEST_NUMBER"
}

teardown() {
    tm kill-server 2>/dev/null || true
    qioc_teardown
}

tm() {
    tmux -L "$TMUX_SOCKET" -f /dev/null "$@"
}

# start_peer ARGS...: linepeer.py in the background, what it receives
# recorded in $T/rec; its port in PORT.
start_peer() {
    rm -f "$T/ready" "$T/rec"
    bg "$PYTHON3" "$LINEPEER" --ready "$T/ready" --record "$T/rec" "$@"
    PEER_PID=$BG_PID
    wait_file "$T/ready"
    PORT=$(<"$T/ready")
}

# start_pane ARGS...: `qioc ARGS` in a new 120x30 tmux pane. The pane's
# shell writes qioc's pid to $T/pid, the terminal settings before and
# after to $T/stty.before and $T/stty.after, qioc's stderr to $T/err and
# its exit status to $T/status (last).
start_pane() {
    rm -f "$T/pid" "$T/status"
    {
        echo '#!/bin/sh'
        echo "trap '' INT" # Ctrl-C is for qioc; the shell carries on
        printf 'stty -a >%q\n' "$T/stty.before"
        # shellcheck disable=SC2016 # expanded by the pane's shell
        printf 'sh -c '\''echo $$ >"$0"; exec "$@"'\'' %q %q' "$T/pid" "$QIOC"
        printf ' %q' "$@"
        printf ' 2>%q\n' "$T/err"
        printf 'echo $? >%q\n' "$T/status.tmp"
        printf 'stty -a >%q\n' "$T/stty.after"
        printf 'mv %q %q\n' "$T/status.tmp" "$T/status"
    } >"$T/pane.sh"
    tm new-session -d -x 120 -y 30 -s rl "sh $T/pane.sh" \; \
        set-option -t rl remain-on-exit on
    PANE_TTY=$(tm display-message -p -t rl '#{pane_tty}')
}

# in_pane ARGS...: start_pane, then wait until qioc edits a line (the
# terminal is out of canonical mode).
in_pane() {
    start_pane "$@"
    wait_file "$T/pid"
    poll 10 editing
}

# editing: the pane's terminal is in libedit's mode (no icanon, no echo).
editing() {
    stty -a -F "$PANE_TTY" | grep -qw -- -icanon
}

cooked() {
    ! editing
}

stopped_shown() {
    screen | grep -q "Stopped"
}

# keys KEY...: type into the pane.
keys() {
    tm send-keys -t rl "$@"
}

# screen: the pane's text, scrolled-off lines included.
screen() {
    tm capture-pane -p -S - -t rl
}

on_screen() {
    screen | grep -qxF -- "$1"
}

# wait_screen LINE: poll until the pane shows LINE (trailing blanks are
# trimmed by capture-pane).
wait_screen() {
    poll 10 on_screen "$1" || { screen | sed 's/^/# | /' >&2; return 1; }
}

# received TEXT: the peer has received exactly TEXT so far.
received() {
    [[ -e $T/rec ]] && cmp -s "$T/rec" <(printf '%s' "$1")
}

wait_received() {
    poll 10 received "$1" || {
        echo "# the peer received:" >&2
        od -c "$T/rec" | sed 's/^/# | /' >&2
        return 1
    }
}

# pane_done STATUS: qioc has ended with STATUS.
pane_done() {
    wait_file "$T/status"
    [[ $(<"$T/status") == "$1" ]] || {
        echo "# qioc exited with $(<"$T/status"), expected $1" >&2
        cat "$T/err" >&2
        return 1
    }
}

# tty_restored: the settings after qioc are those before it.
tty_restored() {
    diff "$T/stty.before" "$T/stty.after" >&2
}

# ---------------------------------------------------------------- lines

@test "READLINE: each line typed reaches the peer with its newline; the peer's data is shown" {
    start_peer --greet $'welcome from the peer\n'
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    wait_screen "welcome from the peer"
    keys "hello there" Enter
    keys "second line" Enter
    wait_received $'hello there\nsecond line\n'
    wait_screen "hello there"
    keys C-d
    pane_done 0
    reap "$PEER_PID"
    [[ $BG_STATUS == 0 ]]
    received $'hello there\nsecond line\n'
    [[ ! -s $T/err ]]
    tty_restored
}

@test "READLINE: a line edited with keys arrives edited" {
    start_peer
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    keys "helo" Left "l" Enter
    keys "world" C-a "hello " Enter
    keys "typo" BSpace BSpace "ne" Enter
    wait_received $'hello\nhello world\ntyne\n'
    keys C-d
    pane_done 0
    tty_restored
}

@test "READLINE: Ctrl-D on an empty line is end-of-file; on a line with text it is not" {
    start_peer
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    keys "abc" Left C-d Enter
    wait_received $'ab\n'
    keys C-d
    pane_done 0
    reap "$PEER_PID"
    [[ $BG_STATUS == 0 ]]
    received $'ab\n'
}

# ---------------------------------------------------------------- history

@test "READLINE history=: lines are written to the file; Up recalls them in the next run" {
    start_peer
    in_pane READLINE,history="$T/hist" TCP:127.0.0.1:"$PORT"
    keys "first line" Enter
    keys Enter
    keys "second" Enter
    wait_received $'first line\n\nsecond\n'
    keys C-d
    pane_done 0
    # One entry a line, the empty line left out; private to its owner.
    cmp "$T/hist" <(printf 'first line\nsecond\n')
    [[ $(stat -c %a "$T/hist") == 600 ]]

    tm kill-server
    start_peer
    in_pane READLINE,history-file="$T/hist" TCP:127.0.0.1:"$PORT"
    keys Up Up Enter
    wait_received $'first line\n'
    keys Up Enter
    wait_received $'first line\nfirst line\n'
    keys C-d
    pane_done 0
    cmp "$T/hist" <(printf 'first line\nsecond\nfirst line\nfirst line\n')
}

@test "READLINE history=: a history file that cannot be read is a warning, and is left alone" {
    mkdir "$T/hist"
    start_peer
    in_pane READLINE,history="$T/hist" TCP:127.0.0.1:"$PORT"
    keys "still works" Enter
    wait_received $'still works\n'
    keys C-d
    pane_done 0
    [[ -d $T/hist ]]
    run cat "$T/err"
    assert_one_line "$output"
    assert_contains "$output" "qioc: warning: address 1 (READLINE,history=$T/hist): history: "
}

@test "socat's recipe READLINE,history= EXEC:...,pty,ctty,setsid,echo=0: an interactive program edited by hand, its prompt shown, history kept" {
    # socat's EXAMPLES run nslookup this way; a small line-by-line shell
    # stands in, its prompt on stdout as nslookup's is.
    cat >"$T/calc" <<'EOF'
#!/bin/sh
while printf 'calc> ' && read -r line; do eval "$line"; done
EOF
    chmod +x "$T/calc"
    in_pane READLINE,history="$T/hist" EXEC:"$T/calc",pty,ctty,setsid,echo=0
    wait_screen "calc>"
    keys 'echo $((6*7))' Enter
    wait_screen "42"
    keys 'tty' Enter
    poll 10 bash -c 'tmux -L "$1" capture-pane -p -S - -t rl | grep -qx "/dev/pts/[0-9]*"' _ "$TMUX_SOCKET"
    keys exit Enter
    pane_done 0
    tty_restored
    # The line typed appears once: the child's terminal does not echo it.
    [[ $(screen | grep -c 'echo \$((6\*7))') == 1 ]]
    cmp "$T/hist" <(printf '%s\n' 'echo $((6*7))' tty exit)
}

# ---------------------------------------------------------------- prompts

@test "READLINE prompt=TEXT: the prompt is shown, and not sent" {
    start_peer
    in_pane READLINE,prompt='qioc> ' TCP:127.0.0.1:"$PORT"
    wait_screen "qioc>"
    keys "abc"
    wait_screen "qioc> abc"
    keys Enter
    wait_received $'abc\n'
    keys C-d
    pane_done 0
}

@test "READLINE: by default the peer's incomplete line is the prompt" {
    start_peer --prompt 'peer> ' --answer
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    wait_screen "peer>"
    keys "ls"
    wait_screen "peer> ls"
    keys Enter
    wait_received $'ls\n'
    wait_screen "got: ls"
    # The answer is followed by the peer's prompt, shown once.
    [[ $(screen | grep -cxF "peer>") == 1 ]]
    keys C-d
    pane_done 0
}

@test "READLINE noprompt: the peer's incomplete line is shown as it comes, the line edited below it" {
    start_peer --prompt 'peer> '
    in_pane READLINE,noprompt TCP:127.0.0.1:"$PORT"
    wait_screen "peer>"
    keys "xyz"
    wait_screen "xyz"
    screen | grep -A1 -xF "peer>" | tail -1 | grep -qxF "xyz"
    keys Enter
    wait_received $'xyz\n'
    keys C-d
    pane_done 0
}

@test "READLINE: the peer's data arriving while a line is typed goes above it; the line is kept" {
    start_peer --prompt 'peer> ' --answer --hold "$T/go"
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    keys "ping" Enter
    wait_received $'ping\n'
    keys "part"
    wait_screen "part"
    touch "$T/go"
    wait_screen "got: ping"
    wait_screen "peer> part"
    screen | grep -A1 -xF "got: ping" | tail -1 | grep -qxF "peer> part"
    keys "ial" Enter
    wait_received $'ping\npartial\n'
    touch "$T/go"
    wait_screen "got: partial"
    keys C-d
    pane_done 0
}

# ---------------------------------------------------------------- the end

@test "READLINE: the terminal is in editing mode while qioc runs and restored after" {
    start_peer
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    stty -a -F "$PANE_TTY" | grep -qw -- -echo
    refute grep -qw -- -icanon "$T/stty.before"
    keys C-d
    pane_done 0
    tty_restored
}

@test "READLINE: the peer's end ends input too, its last incomplete line shown" {
    start_peer --greet 'bye, no newline'
    in_pane READLINE TCP:127.0.0.1:"$PORT"
    wait_screen "bye, no newline"
    kill -TERM "$PEER_PID"
    pane_done 0
    screen | grep -qxF "bye, no newline"
    tty_restored
}

@test "READLINE: SIGTERM ends qioc with 143, the terminal restored and the history written" {
    start_peer
    in_pane READLINE,history="$T/hist" TCP:127.0.0.1:"$PORT"
    keys "kept" Enter
    wait_received $'kept\n'
    keys "not sent"
    wait_screen "not sent"
    kill -TERM "$(<"$T/pid")"
    pane_done 143
    tty_restored
    cmp "$T/hist" <(printf 'kept\n')
    received $'kept\n'
}

@test "READLINE: Ctrl-C ends qioc with 130, the terminal restored" {
    start_peer
    in_pane READLINE,history="$T/hist" TCP:127.0.0.1:"$PORT"
    keys "kept" Enter
    wait_received $'kept\n'
    keys "half" C-c
    pane_done 130
    tty_restored
    cmp "$T/hist" <(printf 'kept\n')
}

@test "READLINE: Ctrl-Z and fg: the shell's settings while stopped, editing again after" {
    command -v bash >/dev/null || skip "no bash(1) to give job control"
    start_peer
    tm new-session -d -x 120 -y 30 -s rl "bash --norc --noprofile --noediting -i"
    PANE_TTY=$(tm display-message -p -t rl '#{pane_tty}')
    keys "$(printf '%q READLINE TCP:127.0.0.1:%s' "$QIOC" "$PORT")" Enter
    poll 10 editing
    keys C-z
    poll 10 stopped_shown
    poll 10 cooked
    keys "fg" Enter
    poll 10 editing
    keys "after fg" Enter
    wait_received $'after fg\n'
    # Drawn by libedit alone: the terminal does not echo it as well.
    [[ $(screen | grep -c "after fg") == 1 ]]
    keys C-d
    poll 10 cooked
}

@test "READLINE: the other address failing to open: exit 1, the terminal as it was" {
    local port
    port=$(free_port)
    start_pane READLINE TCP:127.0.0.1:"$port"
    pane_done 1
    tty_restored
    run cat "$T/err"
    assert_one_line "$output"
    assert_contains "$output" "qioc: address 2 (TCP:127.0.0.1:$port): "
}

@test "READLINE: a second connection while one uses the terminal fails to open" {
    local port
    port=$(free_port)
    start_pane TCP-LISTEN:"$port",bind=127.0.0.1,fork READLINE
    wait_port "$port"
    exec {c1}<>/dev/tcp/127.0.0.1/"$port"
    poll 10 editing
    printf 'first\n' >&"$c1"
    wait_screen "first"
    exec {c2}<>/dev/tcp/127.0.0.1/"$port"
    # Refused: the second client sees end-of-file.
    run timeout 10 cat <&"$c2"
    assert_status 0
    wait_line "$T/err" "qioc: address 2 (READLINE): the terminal is in use by another connection"
    exec {c2}>&-
    keys "to the first" Enter
    run timeout 10 head -n1 <&"$c1"
    [[ $output == "to the first" ]]
    exec {c1}>&-
    kill -TERM "$(<"$T/pid")"
    pane_done 143
    tty_restored
}

# ---------------------------------------------------------------- no terminal

@test "READLINE: standard input not a terminal is read as STDIO, with one warning" {
    start_peer --greet $'hi\n'
    run --separate-stderr qioc READLINE TCP:127.0.0.1:"$PORT" < <(printf 'one\ntwo\n')
    assert_status 0
    [[ $stderr == "qioc: warning: address 1 (READLINE): standard input is not a terminal; reading it without line editing" ]]
    [[ $output == hi ]]
    reap "$PEER_PID"
    received $'one\ntwo\n'
}

# ---------------------------------------------------------------- usage

@test "READLINE: prompt and noprompt together are a usage error" {
    run --separate-stderr qioc READLINE,prompt=x,noprompt -
    assert_usage_error prompt
}

@test "READLINE: its options apply to it only; it takes no parameter" {
    run --separate-stderr qioc - TCP:127.0.0.1:1,history=h
    assert_usage_error history
    run --separate-stderr qioc READLINE:x -
    assert_status 2
    assert_one_line "$stderr"
}

@test "READLINE: --dry-run shows its options, --help-addresses lists it" {
    run --separate-stderr qioc --dry-run READLINE,history-file=h,prompt='> ' -
    assert_status 0
    assert_contains "$output" "address 1: READLINE,"
    assert_contains "$output" ",history=h,prompt=> ,noprompt=0,"
    run qioc --help-addresses
    assert_status 0
    assert_contains "$output" "READLINE"
}

@test "READLINE on a pty whose other side ended before it started (socat's READLINE_OVFL): the pending end-of-file ends the input, the loop never blocks" {
    # qioc - SYSTEM:...,pty with nothing on stdin sends the pty's EOF
    # character at once, while the terminal is still canonical; once in
    # libedit's mode it would read as a NUL byte after which libedit
    # blocked in read(2), with -t never firing.
    printf '\rA' >"$T/data"
    head -c 512 /dev/zero | tr '\0' A >>"$T/data"
    run --separate-stderr timeout 20 "$QIOC" - \
        SYSTEM:"$QIOC -t 0.1 READLINE $T/data; echo rc=\$? >&2",pty </dev/null
    assert_status 0
    [[ $stderr == *"rc=0"* ]] || { echo "$stderr" >&2; return 1; }
}
