#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# PTY: a pseudo-terminal whose master side qioc relays, with a real
# program on the slave side (ptypeer.py, raw mode as a serial-line program
# sets it; cat): data both ways, link= made and removed (at the end, on a
# signal, per client with fork), link= refused over a file, wait-slave,
# mode= on the slave, terminal modes (raw,echo=0) set before a program
# opens it. And EXEC's pty with ctty, setsid, setpgid and
# stderr: the child's terminal, session and process group.

bats_require_minimum_version 1.5.0
load helpers

PTYPEER_PY="$QIOC_TESTS/ptypeer.py"

# The interpreter itself, not a wrapper script that could open the
# terminal (and make it a session leader's controlling one) before it.
python_exe() {
    "$PYTHON3" -c 'import sys; print(sys.executable)'
}

# bg_ptypeer ARGS...: ptypeer.py in the background (pid in BG_PID).
bg_ptypeer() {
    bg "$PYTHON3" "$PTYPEER_PY" "$@"
}

# link_gone PATH: neither a file nor a (dangling) link is there.
link_gone() {
    [[ ! -e $1 && ! -L $1 ]]
}

# link_target_is PATH TARGET
link_target_is() {
    [[ $(readlink "$1" 2>/dev/null) == "$2" ]]
}

# link_target_not PATH TARGET: a link is there, to something else.
link_target_not() {
    local t
    t=$(readlink "$1" 2>/dev/null) && [[ -n $t && $t != "$2" ]]
}

# ---------------------------------------------------------------- data

@test "PTY,link=: 256 KiB each way between a raw-mode slave program and TCP, intact; the link goes at the end" {
    local port qpid ppid
    port=$(free_port)
    random_file a2b 256K
    random_file b2a 256K
    bg_qioc -t 10 PTY,link="$T/tty" TCP-LISTEN:"$port",bind=127.0.0.1
    qpid=$BG_PID
    wait_port "$port"
    # PTY is opened first: its link is there before the listener.
    [[ -L $T/tty && $(readlink "$T/tty") == /dev/pts/* ]]
    bg_ptypeer "$T/tty" --ready "$T/raw" --send b2a --recv got-a2b \
        --bytes $((256 * 1024))
    ppid=$BG_PID
    # Send only once the terminal is raw: a cooked one would echo.
    wait_file "$T/raw"
    peer --connect --port "$port" xfer --send a2b --recv got-b2a
    reap "$ppid"
    [[ $BG_STATUS == 0 ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_same a2b got-a2b
    assert_same b2a got-b2a
    link_gone "$T/tty"
}

@test "PTY,link=,raw,echo=0: the slave is raw before a program opens it; 256 KiB of binary each way intact with the modes as found" {
    local port qpid ppid modes
    port=$(free_port)
    random_file a2b 256K
    random_file b2a 256K
    bg_qioc -t 10 PTY,link="$T/tty",raw,echo=0 TCP-LISTEN:"$port",bind=127.0.0.1
    qpid=$BG_PID
    wait_port "$port"
    # socat's recipe: the program on the slave takes the modes it finds.
    bg_ptypeer "$T/tty" --as-found --ready "$T/open" --send b2a \
        --recv got-a2b --bytes $((256 * 1024))
    ppid=$BG_PID
    wait_file "$T/open"
    modes=$(stty -a -F "$T/tty")
    assert_contains "$modes" "-echo "
    assert_contains "$modes" "-icanon"
    assert_contains "$modes" "-isig"
    assert_contains "$modes" "-icrnl"
    assert_contains "$modes" "-opost"
    peer --connect --port "$port" xfer --send a2b --recv got-b2a
    reap "$ppid"
    [[ $BG_STATUS == 0 ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_same a2b got-a2b
    assert_same b2a got-b2a
    link_gone "$T/tty"
}

@test "PTY,rawer,speed=9600: cfmakeraw's modes and the speed are the slave's" {
    local port modes
    port=$(free_port)
    bg_qioc PTY,link="$T/tty",rawer,speed=9600 TCP-LISTEN:"$port",bind=127.0.0.1
    wait_port "$port"
    modes=$(stty -a -F "$T/tty")
    assert_contains "$modes" "speed 9600 baud"
    assert_contains "$modes" "-echo "
    assert_contains "$modes" "-icanon"
    assert_contains "$modes" "cs8"
    kill -TERM "$BG_PID"
    reap "$BG_PID"
    link_gone "$T/tty"
}

@test "PTY: cat reads the lines written in, the echo of a cooked terminal comes back out, the slave's hang-up ends it" {
    local qpid cpid
    printf 'line one\nline two\n' >msg
    mkfifo in
    # Opened both ways, the FIFO's opening does not wait for a reader.
    exec {W}<>in
    bg_qioc - PTY,link="$T/tty",wait-slave,pty-interval=0.05 <in >echoed \
        {W}>&-
    qpid=$BG_PID
    wait_file "$T/tty"
    bg cat "$T/tty" >out {W}>&-
    cpid=$BG_PID
    cat msg >&"$W"
    wait_size out "$(stat -c %s msg)"
    assert_same msg out
    # End of qioc's input: the master is closed, cat sees the hang-up.
    exec {W}>&-
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    reap "$cpid"
    [[ $(cat echoed) == $'line one\r\nline two\r' ]]
    link_gone "$T/tty"
}

@test "PTY: the slave's last close is end-of-file, not an error" {
    local qpid
    echo 'from the slave' >msg
    bg_qioc -u PTY,link="$T/tty" CREATE:got
    qpid=$BG_PID
    wait_file "$T/tty"
    "$PYTHON3" "$PTYPEER_PY" "$T/tty" --send msg
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_same msg got
    link_gone "$T/tty"
}

@test "PTY,end-close (socat's spelling of how a pty ends anyway): accepted, the slave's data arrives, exit 0" {
    local qpid
    echo 'through end-close' >msg
    bg_qioc -u PTY,link="$T/tty",end-close CREATE:got
    qpid=$BG_PID
    wait_file "$T/tty"
    "$PYTHON3" "$PTYPEER_PY" "$T/tty" --send msg
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    assert_same msg got
}

@test "PTY,ignoreeof: one program after another on the slave, as under socat" {
    local qpid
    echo first >m1
    echo second >m2
    cat m1 m2 >want
    bg_qioc -u PTY,link="$T/tty",ignoreeof CREATE:got
    qpid=$BG_PID
    wait_file "$T/tty"
    "$PYTHON3" "$PTYPEER_PY" "$T/tty" --send m1
    wait_size got "$(stat -c %s m1)"
    "$PYTHON3" "$PTYPEER_PY" "$T/tty" --send m2
    wait_size got "$(stat -c %s want)"
    assert_same want got
    still_running "$qpid"
    kill -TERM "$qpid"
    reap "$qpid"
    [[ $BG_STATUS == $((128 + 15)) ]]
    link_gone "$T/tty"
}

# ---------------------------------------------------------------- link=

@test "link= over a regular file is refused and the file left alone" {
    echo precious >"$T/tty"
    run --separate-stderr qioc PTY,link="$T/tty" - </dev/null
    assert_error 1 "PTY,link=$T/tty" "exists and is not a symbolic link"
    [[ ! -L $T/tty && $(cat "$T/tty") == precious ]]
    # Checked at start-up: a listener first does not wait for a client.
    run --separate-stderr qioc TCP-LISTEN:"$(free_port)",bind=127.0.0.1 \
        PTY,link="$T/tty"
    assert_error 2 "PTY,link=$T/tty" "exists and is not a symbolic link"
    [[ ! -L $T/tty && $(cat "$T/tty") == precious ]]
}

@test "link= in a directory that does not exist: one error line, exit 1" {
    run --separate-stderr qioc PTY,link="$T/no/tty" - </dev/null
    assert_error 1 "PTY,link=$T/no/tty" "No such file or directory"
}

@test "link= replaces a stale symbolic link, as socat does" {
    local qpid
    ln -s /nonexistent "$T/tty"
    idle_stdin
    bg_qioc - PTY,link="$T/tty" <"$T/idle"
    qpid=$BG_PID
    poll 10 link_target_not "$T/tty" /nonexistent
    [[ $(readlink "$T/tty") == /dev/pts/* ]]
}

@test "SIGTERM removes the link, while relaying and while waiting for the slave" {
    local qpid opt
    idle_stdin
    for opt in '' ',wait-slave'; do
        bg_qioc - "PTY,link=$T/tty$opt" <"$T/idle"
        qpid=$BG_PID
        wait_file "$T/tty"
        kill -TERM "$qpid"
        reap "$qpid"
        [[ $BG_STATUS == $((128 + 15)) ]]
        link_gone "$T/tty"
    done
}

@test "unlink-close=0 keeps the link at the end, as in socat" {
    idle_stdin
    bg_qioc - "PTY,link=$T/tty,unlink-close=0" <"$T/idle"
    local qpid=$BG_PID
    wait_file "$T/tty"
    kill -TERM "$qpid"
    reap "$qpid"
    [[ -L $T/tty ]]
    [[ $(readlink "$T/tty") == /dev/pts/* ]]
}

@test "fork: each client gets a pty of its own; the link is the newest one's" {
    local port qpid first second
    port=$(free_port)
    bg_qioc -d TCP-LISTEN:"$port",bind=127.0.0.1,fork PTY,link="$T/tty" 2>log
    qpid=$BG_PID
    wait_port "$port"
    bg_peer --connect --port "$port" hold
    local c1=$BG_PID
    wait_file "$T/tty"
    first=$(readlink "$T/tty")
    bg_peer --connect --port "$port" hold
    local c2=$BG_PID
    poll 10 link_target_not "$T/tty" "$first"
    second=$(readlink "$T/tty")
    [[ $second == /dev/pts/* && $second != "$first" ]]
    # The first client's end leaves the second one's link alone.
    kill -TERM "$c1"
    reap "$c1" || true
    poll 10 grep -q 'connection closed' log
    link_target_is "$T/tty" "$second"
    kill -TERM "$c2"
    reap "$c2" || true
    poll 10 link_gone "$T/tty"
}

# ---------------------------------------------------------------- wait-slave

@test "wait-slave: the other address is connected only once the slave is opened, then data flows" {
    local port qpid
    port=$(free_port)
    echo 'hello from the slave' >msg
    bg_peer --port "$port" --ready "$T/peer.ready" --events "$T/events" \
        xfer --recv got
    local lpid=$BG_PID
    wait_file "$T/peer.ready"
    bg_qioc PTY,link="$T/tty",wait-slave,pty-interval=0.05 \
        TCP:127.0.0.1:"$port"
    qpid=$BG_PID
    wait_file "$T/tty"
    "$PYTHON3" "$PTYPEER_PY" "$T/tty" --events "$T/events" --send msg \
        --until-hangup
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    reap "$lpid"
    assert_same msg got
    # The slave was opened before qioc connected to the listener.
    before "$T/events" '^slave-open$' '^peer '
    link_gone "$T/tty"
}

@test "wait-slave: -dd says what it waits for" {
    local qpid
    idle_stdin
    bg_qioc -dd - PTY,wait-slave <"$T/idle" 2>err
    qpid=$BG_PID
    poll 10 grep -q 'waiting for a process to open /dev/pts/' err
}

# ---------------------------------------------------------------- ioctl-*

@test "ioctl-bin= on PTY: TIOCSWINSZ in socat's data notation sets the window size stty reads" {
    idle_stdin
    # 0x5414 is TIOCSWINSZ: struct winsize, four shorts (rows, columns, ...)
    bg_qioc - "PTY,link=$T/tty,ioctl-bin=0x5414:s24s81s0s0" <"$T/idle"
    wait_file "$T/tty"
    [[ $(stty -F "$T/tty" size) == "24 81" ]]
}

@test "ioctl-void= on a terminal file: TIOCEXCL is set (TIOCGEXCL reads it back); ioctl-int= a refused request fails the address" {
    idle_stdin
    bg_qioc - "PTY,link=$T/tty" <"$T/idle"
    wait_file "$T/tty"
    # 0x540C is TIOCEXCL; the second qioc holds the terminal open with it
    bg_qioc - "FILE:$T/tty,ioctl-void=0x540C" <"$T/idle"
    local holder=$BG_PID
    # 0x80045440 is TIOCGEXCL: 1 once some open file set TIOCEXCL
    excl() {
        "$PYTHON3" -c 'import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NOCTTY)
print(struct.unpack("i", fcntl.ioctl(fd, 0x80045440, b"\0" * 4))[0])' "$T/tty"
    }
    excl_set() { [[ $(excl) == 1 ]]; }
    poll 10 excl_set
    still_running "$holder"
    # an ioctl the descriptor refuses is one error line naming it, exit 1
    run --separate-stderr qioc -u /dev/null,ioctl-int=0x5401:0 - </dev/null
    assert_status 1
    [[ $stderr == *"ioctl-int=21505: ioctl on descriptor "*": Inappropriate ioctl for device" ]]
}

# ---------------------------------------------------------------- mode=

@test "mode= applies to the slave device, not to the link" {
    local qpid
    idle_stdin
    bg_qioc - PTY,link="$T/tty",mode=640 <"$T/idle"
    qpid=$BG_PID
    wait_file "$T/tty"
    [[ $(stat -L -c %a "$T/tty") == 640 ]]
    [[ -L $T/tty ]]
}

@test "user= and group= apply to the slave device" {
    local qpid
    idle_stdin
    bg_qioc - "PTY,link=$T/tty,user=$(id -u),group=$(id -g)" <"$T/idle"
    qpid=$BG_PID
    wait_file "$T/tty"
    [[ $(stat -L -c %u:%g "$T/tty") == "$(id -u):$(id -g)" ]]
}

# ---------------------------------------------------------------- grammar

@test "--dry-run shows PTY's options; --help-addresses lists it" {
    run --separate-stderr qioc --dry-run PTY,link=/tmp/x,wait-slave,mode=600 -
    assert_status 0
    assert_contains "$output" "address 1: PTY,mode=0600,"
    assert_contains "$output" ",link=/tmp/x,wait-slave=1,pty-interval=1,"
    run --separate-stderr qioc --help-addresses
    assert_contains "$output" "  PTY"
    assert_contains "$output" "link, wait-slave, pty-interval"
}

@test "PTY takes no parameter; link= needs a value" {
    run --separate-stderr qioc PTY:x -
    assert_status 2
    run --separate-stderr qioc PTY,link -
    assert_usage_error link
}

# ---------------------------------------------------------------- EXEC,pty

@test "EXEC:tty,pty,setsid,ctty prints the pty's name" {
    run --separate-stderr qioc - EXEC:tty,pty,setsid,ctty </dev/null
    assert_status 0
    [[ $output == /dev/pts/*$'\r' ]]
}

@test "EXEC pty,ctty: the pty is the child's controlling terminal, its group in the foreground" {
    local py
    py='import os; print(os.ttyname(0), os.ttyname(1),'
    py+=' os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp(),'
    py+=' os.open("/dev/tty", os.O_RDWR) >= 0)'
    run --separate-stderr qioc - "EXEC:$(python_exe) -c '$py',pty,ctty" </dev/null
    assert_status 0
    [[ $output == /dev/pts/*' '/dev/pts/*' True True True'$'\r' ]]
    # setsid too, as socat writes it: the same
    run --separate-stderr qioc - "EXEC:$(python_exe) -c '$py',pty,setsid,ctty" \
        </dev/null
    assert_status 0
    [[ $output == *' True True True'$'\r' ]]
}

@test "EXEC pty,setsid without ctty: a session leader without a controlling terminal" {
    local py
    py='import os; print(os.getsid(0) == os.getpid(), os.isatty(0))'
    py+='; os.open("/dev/tty", os.O_RDWR)'
    run --separate-stderr qioc - "EXEC:$(python_exe) -c '$py',pty,setsid" </dev/null
    [[ $output == 'True True'$'\r' ]]
    assert_contains "$stderr" "No such device or address"
}

@test "EXEC pty,setpgid: the child leads a group of its own in qioc's session" {
    local py
    py='import os; print(os.getpgrp() == os.getpid(), os.getsid(0) == os.getpid(), os.isatty(0))'
    run --separate-stderr qioc - "EXEC:$(python_exe) -c '$py',pty,setpgid" \
        </dev/null
    assert_status 0
    [[ $output == 'True False True'$'\r' ]]
}

@test "EXEC pty,stderr: the child's stderr is the pty too" {
    run --separate-stderr qioc - \
        SYSTEM:'echo out; echo err >&2; readlink /proc/self/fd/2',pty,stderr \
        </dev/null
    assert_status 0
    [[ -z $stderr ]]
    [[ $output == $'out\r\nerr\r\n/dev/pts/'*$'\r' ]]
    # without stderr, it stays qioc's
    run --separate-stderr qioc - SYSTEM:'echo out; echo err >&2',pty \
        </dev/null
    assert_status 0
    [[ $output == $'out\r' && $stderr == err ]]
}

@test "EXEC pty: a child cut off by -t is no failure; one that ends on its own still counts" {
    # socat's EXECPTY: when -t ends the transfer qioc closes the master
    # and sends cat, still reading, SIGTERM (or cat, getting EIO first,
    # exits 1); the data went through, and qioc exits 0 (-d says it ended
    # or cut the child off).
    run --separate-stderr qioc -d -t 0.1 - EXEC:cat,pty,echo=0,opost=0,rawer <<<hello
    assert_status 0
    [[ $output == hello ]]
    [[ $stderr == *"(cat) exited with status 1, cut off by qioc"* ||
        $stderr == *"(cat) exited with status 1, ended by qioc"* ||
        $stderr == *"(cat) killed by signal 15 (Terminated), ended by qioc"* ]] || {
        echo "$stderr" >&2
        return 1
    }
    # A child that exits 3 by itself, which ends its output: exit 1 (with
    # -t long enough for it to get there: a pty child still running when
    # the connection closes is sent SIGTERM).
    run --separate-stderr qioc -t 10 - SYSTEM:'head -c 6; exit 3',pty,echo=0,rawer <<<hello
    assert_status 1
    assert_contains "$stderr" "exited with status 3"
    run --separate-stderr qioc -t 0.1 - SYSTEM:'cat; exit 3' <<<hello
    assert_status 1
    assert_contains "$stderr" "exited with status 3"
}
