#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# EXEC and SYSTEM: a child process as an address. Word splitting and
# quoting, the half-close that lets `sort` answer, the options of the EXEC
# group, -u/-U, errors (a program that cannot start, a child that fails),
# the child's end (no stray processes) and large transfers.

bats_require_minimum_version 1.5.0
load helpers

# A number for `sleep` that no other process uses (this test's shell pid
# and number), so that pgrep finds exactly the child of this test.
mark() {
    echo "$$${BATS_SUITE_TEST_NUMBER:-0}"
}

# no_process PATTERN: no process's command line matches PATTERN.
no_process() {
    if pgrep -f -- "$1" >/dev/null; then
        echo "# still running: $(pgrep -a -f -- "$1")" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- basics

@test "EXEC:sort gets end-of-file and answers: a then b" {
    printf 'b\na\n' >in
    run --separate-stderr qioc - EXEC:sort <in
    assert_status 0
    [[ $output == $'a\nb' ]]
    [[ -z $stderr ]]
}

@test "EXEC as the first address" {
    run --separate-stderr qioc EXEC:'echo hi' - </dev/null
    assert_status 0
    [[ $output == hi ]]
}

@test "SYSTEM runs a shell pipeline" {
    echo hello >in
    run --separate-stderr qioc - SYSTEM:'tr a-z A-Z | rev' <in
    assert_status 0
    [[ $output == OLLEH ]]
}

@test "SYSTEM: the shell sees quotes, variables and redirections" {
    run --separate-stderr qioc - SYSTEM:'x="a  b"; echo "$x" 2>/dev/null' \
        </dev/null
    assert_status 0
    [[ $output == "a  b" ]]
}

@test "EXEC: quoted words keep ':' and ','" {
    run --separate-stderr qioc - EXEC:'sh -c "echo a:b, c"' </dev/null
    assert_status 0
    [[ $output == "a:b, c" ]]
}

@test "EXEC: words are split like a shell splits them, without a shell" {
    run --separate-stderr qioc - "EXEC:printf '<%s>' 'a, b'" </dev/null
    assert_status 0
    [[ $output == "<a, b>" ]]
    run --separate-stderr qioc - 'EXEC:printf <%s> a\ b "$HOME"' </dev/null
    assert_status 0
    [[ $output == '<a b><$HOME>' ]]
}

@test "EXEC runs no shell: ; | \$( ) and backquotes reach the program as words" {
    run --separate-stderr qioc - \
        "EXEC:printf <%s> a; touch $T/pwned | cat \$(id) \`id\`" </dev/null
    assert_status 0
    [[ $output == "<a;><touch><$T/pwned><|><cat><\$(id)><\`id\`>" ]] ||
        { echo "# got: $output" >&2; return 1; }
    [[ ! -e $T/pwned ]]
    # SYSTEM is the way to ask for a shell.
    run --separate-stderr qioc - "SYSTEM:printf x; touch $T/made" </dev/null
    assert_status 0
    [[ -e $T/made ]]
}

@test "EXEC: a command wrapped whole in quotes (socat's idiom)" {
    run --separate-stderr qioc - "EXEC:'printf %s-%s x y',pipes" </dev/null
    assert_status 0
    [[ $output == x-y ]]
}

# ---------------------------------------------------------------- options

@test "stderr: the child's stderr goes into the channel" {
    run --separate-stderr qioc - \
        EXEC:'sh -c "echo out; echo err >&2"',stderr </dev/null
    assert_status 0
    [[ $output == $'out\nerr' ]]
    [[ -z $stderr ]]
}

@test "without stderr the child's stderr stays qioc's" {
    run --separate-stderr qioc - EXEC:'sh -c "echo out; echo err >&2"' \
        </dev/null
    assert_status 0
    [[ $output == out ]]
    [[ $stderr == err ]]
}

@test "socketpair connects the child through a socket" {
    printf 'b\na\n' >in
    run --separate-stderr qioc - \
        SYSTEM:'test -S /dev/stdin && test -S /dev/stdout && sort',socketpair \
        <in
    assert_status 0
    [[ $output == $'a\nb' ]]
}

@test "pipes is the default" {
    run --separate-stderr qioc - \
        SYSTEM:'test -p /dev/stdin && test -p /dev/stdout && echo pipes' \
        </dev/null
    assert_status 0
    [[ $output == pipes ]]
}

@test "pty: the child runs on a terminal and still gets end-of-file" {
    printf 'b\na\n' >in
    run --separate-stderr qioc - EXEC:sort,pty <in
    assert_status 0
    [[ $output == *$'a\r\nb\r' ]]
    run --separate-stderr qioc - \
        SYSTEM:'test -t 0 && test -t 1 && echo tty',pty </dev/null
    assert_status 0
    [[ $output == $'tty\r' ]]
}

@test "ctty makes the pty the controlling terminal; setsid alone does not" {
    local script
    script='if (exec 3</dev/tty) 2>/dev/null; then echo ctty;'
    script+=' else echo none; fi'
    run --separate-stderr qioc - "SYSTEM:$script,pty,ctty" </dev/null
    assert_status 0
    [[ $output == $'ctty\r' ]]
    run --separate-stderr qioc - "SYSTEM:$script,pty,setsid" </dev/null
    assert_status 0
    [[ $output == $'none\r' ]]
}

@test "setsid runs the child in a new session" {
    run --separate-stderr qioc - SYSTEM:'ps -o sid= -p $$; echo $$',setsid \
        </dev/null
    assert_status 0
    local sid pid
    sid=$(sed -n 1p <<<"$output" | tr -d ' ')
    pid=$(sed -n 2p <<<"$output")
    [[ -n $sid && $sid == "$pid" ]]
}

@test "fdin and fdout move the channel to other descriptors" {
    echo hi >in
    run --separate-stderr qioc - SYSTEM:'cat <&3 >&4',fdin=3,fdout=4 <in
    assert_status 0
    [[ $output == hi ]]
}

@test "pty and socketpair exclude each other" {
    run --separate-stderr qioc - EXEC:cat,pty,socketpair </dev/null
    assert_status 1
    assert_contains "$stderr" "exclude each other"
}

@test "ctty without pty is refused" {
    run --separate-stderr qioc - EXEC:cat,ctty </dev/null
    assert_status 1
    assert_contains "$stderr" "pseudo-terminal"
}

# ---------------------------------------------------------------- -u / -U

@test "-u: the child's stdout is not read; it stays qioc's stdout" {
    echo hello >in
    run --separate-stderr qioc -u - EXEC:'tr a-z A-Z' <in
    assert_status 0
    [[ $output == HELLO ]]
}

@test "-U: only the child's output is read; stdin is not touched" {
    run --separate-stderr qioc -U - SYSTEM:'echo from-child' </dev/null
    assert_status 0
    [[ $output == from-child ]]
}

# ---------------------------------------------------------------- errors

@test "a program that does not exist: exit 1, the message names it" {
    run --separate-stderr qioc - EXEC:qioc-no-such-program </dev/null
    assert_error 2 EXEC:qioc-no-such-program "No such file or directory"
    assert_contains "$stderr" "failed to run qioc-no-such-program"
    run --separate-stderr qioc EXEC:'/nonexistent/prog -x' - </dev/null
    assert_error 1 "EXEC:/nonexistent/prog -x" "No such file or directory"
    assert_contains "$stderr" "/nonexistent/prog"
}

@test "a program that is not executable: exit 1, permission denied" {
    printf '#!/bin/sh\necho no\n' >script
    chmod 644 script
    run --separate-stderr qioc - "EXEC:$T/script" </dev/null
    assert_error 2 "EXEC:$T/script" "Permission denied"
}

@test "a child that exits non-zero makes qioc exit 1, its output delivered" {
    run --separate-stderr qioc - SYSTEM:'echo partial; exit 3' </dev/null
    assert_status 1
    [[ $output == partial ]]
    assert_one_line "$stderr"
    assert_contains "$stderr" "exited with status 3"
}

@test "a child killed by a signal makes qioc exit 1" {
    run --separate-stderr qioc - SYSTEM:'kill -TERM $$' </dev/null
    assert_status 1
    assert_contains "$stderr" "killed by signal 15"
}

@test "-d logs the child's pid and how it ended" {
    printf 'b\na\n' >in
    run --separate-stderr qioc -d - EXEC:sort <in
    assert_status 0
    [[ $stderr =~ started\ child\ [0-9]+\ \(sort\) ]]
    [[ $stderr =~ child\ [0-9]+\ \(sort\)\ exited\ with\ status\ 0 ]]
}

# ---------------------------------------------------------------- the end

@test "a child that ignores end-of-file is terminated; nothing stays" {
    local m
    m=$(mark)
    run --separate-stderr qioc -d -t 0.1 - SYSTEM:"exec sleep $m" </dev/null
    # -t is a normal end, and so is a child qioc had to stop
    assert_status 0
    assert_contains "$stderr" "killed by signal 15"
    assert_contains "$stderr" "ended by qioc"
    no_process "sleep $m"
}

@test "a child that ignores SIGTERM too is killed in bounded time" {
    local m start
    m=$(mark)
    start=$EPOCHREALTIME
    run --separate-stderr qioc -d -t 0.1 - \
        SYSTEM:"trap '' TERM; exec sleep $m" </dev/null
    assert_status 0
    assert_contains "$stderr" "killed by signal 9"
    assert_faster_than 10000 "$start"
    no_process "sleep $m"
}

@test "end-close: the child is left running, without a signal" {
    local m pid
    m=$(mark)
    run --separate-stderr qioc -d -t 0.1 - \
        SYSTEM:"exec sleep $m",end-close </dev/null
    assert_status 0
    assert_contains "$stderr" "left running"
    pid=$(pgrep -f -- "sleep $m")
    [[ -n $pid ]]
    kill "$pid"
    poll 10 no_process "sleep $m"
}

@test "no child outlives qioc: while running it is qioc's, then gone" {
    local m
    m=$(mark)
    mkfifo feed
    # Opened read-write first, so that qioc's open of it cannot block
    exec 5<>feed
    bg_qioc - SYSTEM:"exec sleep $m" <feed >/dev/null 2>err
    local qpid=$BG_PID
    # -x: libtool's wrapper runs subshells whose command line holds
    # "sleep $m" too; a process named sleep whose parent is $qpid is the
    # child of qioc itself (the wrapper has exec'd it by then).
    poll 10 pgrep -P "$qpid" -x sleep
    exec 5>&-
    # stdin ended; the child never does: SIGINT ends qioc, which ends it
    kill -INT "$qpid"
    reap "$qpid"
    [[ $BG_STATUS == 130 ]]
    no_process "sleep $m"
}

# ---------------------------------------------------------------- data

@test "16 MiB through EXEC:cat, checksums equal" {
    random_file in 16M
    qioc - EXEC:cat <in >out 2>err
    assert_empty err
    assert_same in out
}

@test "16 MiB from one child to another: EXEC to EXEC" {
    random_file in 16M
    run --separate-stderr qioc EXEC:"cat $T/in" SYSTEM:"cat >'$T/out'"
    assert_status 0
    assert_same in out
}

@test "EXEC behind a TCP listener: a python client's data comes back" {
    local port
    port=$(free_port)
    random_file in 3M
    bg_qioc TCP-LISTEN:"$port",accept-timeout=10 EXEC:cat 2>err
    local qpid=$BG_PID
    wait_port "$port"
    peer --connect --port "$port" xfer --send in --recv out
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat err >&2; false; }
    assert_same in out
}

# children_of PID: the state letters of PID's child processes, one a line.
children_of() {
    ps --ppid "$1" -o stat= 2>/dev/null || true
}

@test "a fork listener with EXEC reaps every child: no zombies, none left" {
    local port n
    port=$(free_port)
    bg_qioc TCP-LISTEN:"$port",bind=127.0.0.1,fork SYSTEM:cat 2>err
    local qpid=$BG_PID
    wait_port "$port"
    for n in 1 2 3 4 5; do
        printf 'client %s\n' "$n" >in
        run --separate-stderr qioc - TCP:127.0.0.1:"$port" <in
        assert_status 0
        [[ $output == "client $n" ]]
    done
    # Every child has exited and been reaped: none is left, not even as
    # a zombie.
    poll 10 eval '[[ -z $(children_of "$qpid") ]]'
    still_running "$qpid"
    assert_empty err
}

# ---------------------------------------------------------------- environment

@test "EXEC behind TCP-LISTEN: the child gets QIOC_PEERADDR/PORT and QIOC_SOCKADDR/PORT" {
    local port
    port=$(free_port)
    bg_qioc TCP-LISTEN:"$port",bind=127.0.0.1,accept-timeout=10 \
        SYSTEM:'env | grep ^QIOC_ | sort' 2>err
    local qpid=$BG_PID
    wait_port "$port"
    run --separate-stderr qioc - TCP:127.0.0.1:"$port" </dev/null
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat err >&2; false; }
    [[ $output == *"QIOC_PEERADDR=127.0.0.1"* ]]
    [[ $output =~ QIOC_PEERPORT=[0-9]+ ]]
    [[ $output == *"QIOC_SOCKADDR=127.0.0.1"* ]]
    [[ $output == *"QIOC_SOCKPORT=$port"* ]]
}

@test "EXEC behind UNIX-LISTEN: the child gets the peer's pid, uid and gid" {
    bg_qioc UNIX-LISTEN:sock,accept-timeout=10 \
        SYSTEM:'env | grep ^QIOC_ | sort' 2>err
    local qpid=$BG_PID
    wait_socket sock
    # The peer is a python client: its pid is what SO_PEERCRED reports.
    run --separate-stderr "$PYTHON3" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("sock")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print("pid", os.getpid())
sys.stdout.write(data.decode())
'
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat err >&2; false; }
    local pid
    pid=$(sed -n 's/^pid //p' <<<"$output")
    [[ $output == *"QIOC_PEERPID=$pid"* ]]
    [[ $output == *"QIOC_PEERUID=$(id -u)"* ]]
    [[ $output == *"QIOC_PEERGID=$(id -g)"* ]]
    [[ $output == *"QIOC_SOCKADDR=$PWD/sock"* || $output == *"QIOC_SOCKADDR=sock"* ]]
}

# ---------------------------------------------------------------- nofork

@test "nofork: the child reads and writes the peer's descriptor itself" {
    printf 'abc\n' >in
    run --separate-stderr qioc EXEC:'tr a-z A-Z',nofork - <in
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$output" = "ABC" ]
}

@test "nofork with a fork listener: one child per client, on the client's socket" {
    local port
    port=$(free_port)
    bg_qioc TCP-LISTEN:"$port",bind=127.0.0.1,fork \
        SYSTEM:'echo "child $$"; exec cat',nofork 2>err
    local qpid=$BG_PID
    wait_port "$port"
    run --separate-stderr qioc - TCP:127.0.0.1:"$port" <<<"first"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "child "* && ${lines[1]} == first ]]
    local child1=${lines[0]}
    run --separate-stderr qioc - TCP:127.0.0.1:"$port" <<<"second"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "child "* && ${lines[1]} == second ]]
    [ "${lines[0]}" != "$child1" ]
    kill -TERM "$qpid"
    reap "$qpid"
    [ "$BG_STATUS" -eq 143 ]
}

@test "nofork: a child that fails makes the exit status 1" {
    run --separate-stderr qioc - EXEC:false,nofork </dev/null
    [ "$status" -eq 1 ]
    [[ $stderr == *"(false) exited with status 1"* ]]
}

@test "nofork: the other address must be a plain descriptor" {
    run --separate-stderr qioc EXEC:cat EXEC:cat,nofork </dev/null
    [ "$status" -eq 1 ]
    [[ $stderr == *"address 2 (EXEC:cat,nofork): nofork needs"* ]]
}

@test "EXEC,nofork under -u: the child's stdout stays qioc's, as socat leaves it (socat's EXEC_NOFORK_UNIDIR)" {
    # Before, the child's stdout was the read-only /dev/null: EBADF.
    run --separate-stderr qioc -u /dev/null EXEC:"echo unidir",nofork
    assert_status 0
    [[ $output == unidir && -z $stderr ]]
    # -U: the child's stdin stays qioc's, its output goes to the peer.
    run --separate-stderr qioc -U "$T/out" EXEC:"cat",nofork <<<reversed
    assert_status 0
    [[ $(cat "$T/out") == reversed ]]
}

@test "EXEC,pty: a child still running when the connection ends gets SIGTERM at once, as under socat (a pty has no end-of-file)" {
    # Within the 2 s a child on pipes gets to finish, this one would
    # exit by itself, status 0, and leave the file.
    run --separate-stderr qioc -d -t 0 /dev/null \
        EXEC:"sh -c 'sleep 1; touch $T/late'",pty
    assert_status 0
    [[ $stderr == *"killed by signal 15 (Terminated), ended by qioc"* ]] || {
        echo "$stderr" >&2
        return 1
    }
}

# ended_by_qioc PID: err says qioc ended child PID with SIGTERM.
ended_by_qioc() {
    grep -F "child $1 (" err | grep -q "killed by signal 15 (Terminated), ended by qioc$"
}

@test "fork: a child that outlives its output is seen out without holding up the next client" {
    local port
    port=$(free_port)
    # Each child writes its pid and a line, closes its output, and stays
    # 20 s: qioc gives it 2 s, then SIGTERM.
    bg_qioc -d TCP-LISTEN:"$port",bind=127.0.0.1,fork \
        SYSTEM:"echo \$\$ >>$T/pids; echo hi; exec >&- <&-; sleep 20" 2>err
    local qpid=$BG_PID
    wait_port "$port"
    run --separate-stderr qioc - TCP:127.0.0.1:"$port" </dev/null
    [[ $status == 0 && $output == hi ]]
    local first
    first=$(head -1 "$T/pids")
    # The second client is served while the first child is still being
    # waited for: the wait does not stop the loop.
    run --separate-stderr qioc - TCP:127.0.0.1:"$port" </dev/null
    [[ $status == 0 && $output == hi ]]
    kill -0 "$first" || { echo "# the first child was gone before the second client got its answer" >&2; return 1; }
    # and the first child is still ended by qioc, in its time
    poll 10 ended_by_qioc "$first"
    still_running "$qpid"
}

# zombie PID: PID has exited and waits to be reaped.
zombie() {
    [[ $(awk '{ print $3 }' /proc/"$1"/stat 2>/dev/null) == Z ]]
}

@test "EXEC,pty: a child that failed by itself before qioc closed its terminal is still a failure" {
    mkfifo "$T/in"
    exec 7<>"$T/in"
    bg_qioc -u - "SYSTEM:echo \$\$ >$T/pid; exit 4,pty" <"$T/in" 2>"$T/err" 7>&-
    local qpid=$BG_PID
    child_zombie() {
        local pid
        pid=$(cat "$T/pid" 2>/dev/null)
        [[ -n $pid ]] && zombie "$pid"
    }
    poll 10 child_zombie
    exec 7>&-
    reap "$qpid"
    [[ $BG_STATUS == 1 ]] || { cat "$T/err" >&2; return 1; }
    grep -q "exited with status 4$" "$T/err"
}
