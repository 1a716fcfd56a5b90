#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# STDIO, STDIN/STDOUT/STDERR, FD, FILE/OPEN, GOPEN, CREATE and their
# options; file errors; SIGPIPE toward a closed stdout pipe.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    qioc_setup
    random_file "$T/in" 3M
}

# ---------------------------------------------------------------- STDIO

@test "STDIO -u: stdin into a file" {
    run --separate-stderr qioc -u - CREATE:"$T/out" <"$T/in"
    assert_status 0
    [[ -z $stderr ]]
    assert_same "$T/in" "$T/out"
}

@test "STDIO -U: a file to stdout" {
    qioc -U - FILE:"$T/in" >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "STDIO spelled out, both ways: stdin into a wronly file" {
    : >"$T/out"
    qioc STDIO FILE:"$T/out",wronly <"$T/in" >"$T/stdout"
    assert_same "$T/in" "$T/out"
    assert_empty "$T/stdout"
}

@test "STDIN and STDOUT: one stream each" {
    qioc STDIN STDOUT <"$T/in" >"$T/out" 2>"$T/err"
    assert_same "$T/in" "$T/out"
    assert_empty "$T/err"
}

@test "STDERR: data written to standard error" {
    qioc -u FILE:"$T/in" STDERR 2>"$T/err" >"$T/out"
    assert_same "$T/in" "$T/err"
    assert_empty "$T/out"
}

# ---------------------------------------------------------------- FILE

@test "FILE reads a file to stdout" {
    qioc -u FILE:"$T/in" - >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "OPEN is FILE" {
    qioc -u OPEN:"$T/in" - >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "FILE without options needs an existing file" {
    run --separate-stderr qioc -u - FILE:"$T/missing" </dev/null
    assert_error 2 "FILE:$T/missing" "No such file or directory"
    assert_contains "$stderr" "$T/missing:"
    [[ ! -e $T/missing ]]
}

@test "FILE,creat creates the file" {
    (umask 022 && qioc -u - FILE:"$T/new",creat <"$T/in")
    assert_same "$T/in" "$T/new"
    [[ $(stat -c %a "$T/new") == 644 ]]
}

@test "FILE,append adds to the end" {
    printf 'head\n' >"$T/f"
    printf 'tail\n' | qioc -u - FILE:"$T/f",append
    [[ $(cat "$T/f") == $'head\ntail' ]]
    # o-append is socat's spelling.
    printf 'more\n' | qioc -u - FILE:"$T/f",o-append
    [[ $(cat "$T/f") == $'head\ntail\nmore' ]]
}

@test "FILE,trunc empties the file first; without it the tail stays" {
    printf '0123456789\n' >"$T/f"
    printf 'ab' | qioc -u - FILE:"$T/f"
    [[ $(cat "$T/f") == ab23456789 ]]
    printf 'xy' | qioc -u - FILE:"$T/f",trunc
    [[ $(cat "$T/f") == xy ]]
}

@test "FILE,creat,excl on an existing file fails: File exists" {
    printf 'keep\n' >"$T/f"
    run --separate-stderr qioc -u - FILE:"$T/f",creat,excl <"$T/in"
    assert_error 2 "FILE:$T/f,creat,excl" "File exists"
    [[ $(cat "$T/f") == keep ]]
    # and on a new file it creates it
    qioc -u - FILE:"$T/g",creat,excl <"$T/in"
    assert_same "$T/in" "$T/g"
}

@test "FILE,rdonly reads" {
    qioc FILE:"$T/in",rdonly - </dev/null >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "FILE,wronly writes" {
    : >"$T/f"
    qioc FILE:"$T/f",wronly - <"$T/in" >"$T/out"
    assert_same "$T/in" "$T/f"
    assert_empty "$T/out"
}

@test "seek=: reading starts at the offset, writing overwrites there (socat's seek)" {
    random_file "$T/big" 10K
    qioc -u FILE:"$T/big",seek=1K - >"$T/out"
    tail -c +1025 "$T/big" >"$T/want"
    assert_same "$T/want" "$T/out"
    printf '0123456789' >"$T/f"
    printf 'AB' | qioc -u - FILE:"$T/f",seek=4
    [[ $(cat "$T/f") == 0123AB6789 ]]
    # socat's other spellings
    qioc -u GOPEN:"$T/big",seek-set=10K - >"$T/out"
    assert_empty "$T/out"
}

@test "seek-end=: a negative offset reads the last bytes; 0 appends at the end" {
    random_file "$T/big" 10K
    qioc -u FILE:"$T/big",seek-end=-1K - >"$T/out"
    tail -c 1024 "$T/big" >"$T/want"
    assert_same "$T/want" "$T/out"
    printf 'head\n' >"$T/f"
    printf 'tail\n' | qioc -u - FILE:"$T/f",seek-end=0
    [[ $(cat "$T/f") == $'head\ntail' ]]
    run --separate-stderr qioc -u FILE:"$T/f",seek-end=-1M -
    assert_status 1
    assert_contains "$stderr" "seek-end=-1048576 on $T/f: Invalid argument"
}

@test "seek on something that cannot seek, or a bad offset: one line, documented status" {
    mkfifo "$T/fifo"
    run --separate-stderr qioc -u GOPEN:"$T/fifo",nonblock,seek=1 -
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "seek=1 on $T/fifo: Illegal seek"
    run --separate-stderr qioc -u FILE:"$T/in",seek=-1 -
    assert_usage_error -1
    run --separate-stderr qioc -u FILE:"$T/in",seek-end=x -
    assert_usage_error x
}

@test "nonblock: a FIFO opens for reading without waiting for a writer" {
    mkfifo "$T/fifo"
    # Without nonblock the open would wait for a writer; with it both
    # addresses are open before any writer comes, and the data still
    # arrives once one does.
    bg_qioc -d -u GOPEN:"$T/fifo",nonblock,rdonly CREATE:"$T/out" 2>"$T/err"
    local pid=$BG_PID
    wait_line "$T/err" "qioc: address 2 (CREATE:$T/out): open"
    echo data >"$T/fifo"
    wait_pid_exit "$pid"
    reap "$pid"
    [[ $(cat "$T/out") == data ]]
    # Written without a reader: the open fails at once (ENXIO).
    run --separate-stderr qioc -u - GOPEN:"$T/fifo",o-nonblock,wronly <"$T/in"
    assert_status 1
    assert_contains "$stderr" "No such device or address"
}

@test "-u into a FILE opened rdonly fails and leaves the file alone" {
    printf 'keep\n' >"$T/f"
    run --separate-stderr qioc -u - FILE:"$T/f",rdonly <"$T/in"
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 2 (FILE:$T/f,rdonly)"
    [[ $(cat "$T/f") == keep ]]
}

@test "-u out of a FILE opened wronly fails" {
    run --separate-stderr qioc -u FILE:"$T/in",wronly -
    assert_status 1
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 1 (FILE:$T/in,wronly)"
}

@test "FILE,mode= sets the mode of a file it creates" {
    qioc -u - FILE:"$T/f",creat,mode=0600 <"$T/in"
    [[ $(stat -c %a "$T/f") == 600 ]]
    assert_same "$T/in" "$T/f"
}

@test "FILE,readbytes= reads at most that many bytes" {
    qioc -u FILE:"$T/in",readbytes=1000 - >"$T/out"
    head -c 1000 "$T/in" >"$T/want"
    assert_same "$T/want" "$T/out"
    qioc -u FILE:"$T/in",readbytes=4K - >"$T/out"
    head -c 4096 "$T/in" >"$T/want"
    assert_same "$T/want" "$T/out"
}

@test "STDIO,readbytes= stops reading stdin after that many bytes" {
    qioc -u STDIO,readbytes=12345 CREATE:"$T/out" <"$T/in"
    head -c 12345 "$T/in" >"$T/want"
    assert_same "$T/want" "$T/out"
}

@test "FILE,ignoreeof keeps reading as the file grows" {
    printf 'one\n' >"$T/grow"
    bg_qioc -u FILE:"$T/grow",ignoreeof - >"$T/out" 2>"$T/err"
    local pid=$BG_PID
    wait_line "$T/out" one
    printf 'two\n' >>"$T/grow"
    wait_line "$T/out" two
    still_running "$pid"
}

# ---------------------------------------------------------------- CREATE

@test "CREATE writes a new file with mode 0666 & ~umask" {
    (umask 022 && qioc -u - CREATE:"$T/a" <"$T/in")
    assert_same "$T/in" "$T/a"
    [[ $(stat -c %a "$T/a") == 644 ]]
    (umask 077 && qioc -u - CREATE:"$T/b" <"$T/in")
    [[ $(stat -c %a "$T/b") == 600 ]]
    (umask 002 && qioc -u - CREAT:"$T/c" <"$T/in")
    [[ $(stat -c %a "$T/c") == 664 ]]
}

@test "CREATE truncates an existing file" {
    random_file "$T/f" 5M
    qioc -u - CREATE:"$T/f" <"$T/in"
    assert_same "$T/in" "$T/f"
}

@test "CREATE,mode=0600 is honoured" {
    (umask 022 && qioc -u - CREATE:"$T/f",mode=0600 <"$T/in")
    [[ $(stat -c %a "$T/f") == 600 ]]
    (umask 022 && qioc -u - CREATE:"$T/g",perm=0640 <"$T/in")
    [[ $(stat -c %a "$T/g") == 640 ]]
}

@test "CREATE,umask= applies while creating" {
    (umask 000 && qioc -u - CREATE:"$T/f",umask=027 <"$T/in")
    [[ $(stat -c %a "$T/f") == 640 ]]
}

@test "CREATE,user=,group= set the owner (root only)" {
    [[ $(id -u) == 0 ]] || skip "needs root to give files away"
    local g
    g=$(id -gn nobody) || skip "no user nobody"
    qioc -u - CREATE:"$T/f",user=nobody,group="$g" <"$T/in"
    [[ $(stat -c %U "$T/f") == nobody ]]
    [[ $(stat -c %G "$T/f") == "$g" ]]
    assert_same "$T/in" "$T/f"
}

@test "CREATE,append keeps what is there" {
    printf 'head\n' >"$T/f"
    printf 'tail\n' | qioc -u - CREATE:"$T/f",append
    [[ $(cat "$T/f") == $'head\ntail' ]]
}

@test "CREATE into a directory fails: Is a directory (also as root)" {
    mkdir "$T/dir"
    run --separate-stderr qioc -u - CREATE:"$T/dir" <"$T/in"
    assert_error 2 "CREATE:$T/dir" "Is a directory"
}

@test "reading a directory as FILE fails: Is a directory" {
    mkdir "$T/dir"
    run --separate-stderr qioc -u FILE:"$T/dir" -
    assert_error 1 "FILE:$T/dir" "Is a directory"
}

@test "a file in a missing directory: No such file or directory, naming the path" {
    run --separate-stderr qioc -u - CREATE:"$T/nodir/f" <"$T/in"
    assert_error 2 "CREATE:$T/nodir/f" "No such file or directory"
    assert_contains "$stderr" "$T/nodir/f"
    run --separate-stderr qioc -u FILE:"$T/nofile" -
    assert_error 1 "FILE:$T/nofile" "No such file or directory"
    assert_contains "$stderr" "$T/nofile"
}

@test "permission denied (not as root)" {
    [[ $(id -u) != 0 ]] || skip "root ignores file permissions"
    printf 'secret\n' >"$T/f"
    chmod 000 "$T/f"
    run --separate-stderr qioc -u FILE:"$T/f" -
    assert_error 1 "FILE:$T/f" "Permission denied"
    assert_contains "$stderr" "$T/f"
}

@test "permission denied (as root: qioc run as nobody)" {
    [[ $(id -u) == 0 ]] || skip "covered by the case above"
    command -v setpriv >/dev/null || skip "no setpriv"
    local drop=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    "${drop[@]}" "$QIOC" --version >/dev/null 2>&1 ||
        skip "user 65534 cannot run $QIOC"
    # Let user 65534 reach $T/pub; prove it can read a file there, so
    # the refusal below is the file's mode and nothing else.
    local d=$T
    while [[ $d == "$BATS_RUN_TMPDIR"/* ]]; do
        chmod o+x "$d"
        d=${d%/*}
    done
    chmod o+x "$BATS_RUN_TMPDIR"
    mkdir -m 0755 "$T/pub"
    printf 'open\n' >"$T/pub/ok"
    chmod 644 "$T/pub/ok"
    run --separate-stderr timeout 20 "${drop[@]}" "$QIOC" -u FILE:"$T/pub/ok" -
    assert_status 0
    [[ $output == open ]]
    printf 'secret\n' >"$T/pub/f"
    chmod 000 "$T/pub/f"
    run --separate-stderr timeout 20 "${drop[@]}" "$QIOC" -u FILE:"$T/pub/f" -
    assert_error 1 "FILE:$T/pub/f" "Permission denied"
    assert_contains "$stderr" "$T/pub/f"
}

@test "/dev/full as destination: No space left on device, exit 1" {
    run --separate-stderr qioc -u FILE:"$T/in" FILE:/dev/full
    assert_error 2 "FILE:/dev/full" "No space left on device"
}

# ---------------------------------------------------------------- GOPEN

@test "GOPEN opens a plain file" {
    : >"$T/out"
    qioc -u - GOPEN:"$T/out" <"$T/in"
    assert_same "$T/in" "$T/out"
    qioc -u GOPEN:"$T/in" - >"$T/out2"
    assert_same "$T/in" "$T/out2"
}

@test "GOPEN,creat creates the file" {
    qioc -u - GOPEN:"$T/new",creat <"$T/in"
    assert_same "$T/in" "$T/new"
}

@test "a bare path is GOPEN: qioc -u - ./out" {
    : >"$T/out"
    qioc -u - ./out <"$T/in"
    assert_same "$T/in" "$T/out"
    qioc -u "$T/in" - >"$T/out2"
    assert_same "$T/in" "$T/out2"
}

@test "GOPEN of a device: /dev/null" {
    run --separate-stderr qioc -u - /dev/null <"$T/in"
    assert_status 0
    [[ -z $stderr ]]
}

# ---------------------------------------------------------------- FD

@test "FD:N writes to an inherited descriptor" {
    qioc -u - FD:5 <"$T/in" 5>"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "FD:N reads from an inherited descriptor" {
    qioc -u FD:6 - 6<"$T/in" >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "FD:3 as in socat's examples" {
    qioc -u - FD:3 <"$T/in" 3>"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "a bare number N is FD:N" {
    qioc -u - 7 <"$T/in" 7>"$T/out"
    assert_same "$T/in" "$T/out"
    qioc -u 8 - 8<"$T/in" >"$T/out2"
    assert_same "$T/in" "$T/out2"
}

@test "FD on a pipe" {
    cat "$T/in" | qioc -u FD:0 FD:1 >"$T/out"
    assert_same "$T/in" "$T/out"
}

@test "FD:N not open: Bad file descriptor, exit 1" {
    run --separate-stderr qioc -u - FD:57 <"$T/in"
    assert_error 2 "FD:57" "Bad file descriptor"
}

# ---------------------------------------------------------------- SIGPIPE

@test "SIGPIPE: a closed stdout pipe ends qioc with status 1, not the signal" {
    random_file "$T/big" 8M
    local rc
    qioc -u FILE:"$T/big" - 2>"$T/err" | head -c 10 >"$T/head"
    rc=("${PIPESTATUS[@]}")
    [[ $(stat -c %s "$T/head") == 10 ]]
    if [[ ${rc[0]} != 1 ]]; then
        echo "# qioc's status: ${rc[0]} (141 = killed by SIGPIPE)" >&2
        cat "$T/err" >&2
        return 1
    fi
    run cat "$T/err"
    assert_one_line "$output"
    [[ $output == "qioc: address 2 (-): "*": Broken pipe" ]]
}

@test "SIGPIPE: both directions, the closed pipe ends qioc with status 1" {
    random_file "$T/big" 8M
    # stdin stays open and silent; the error on stdout alone must end it.
    mkfifo "$T/fifo"
    exec 5<>"$T/fifo"
    local rc
    qioc FILE:"$T/big",rdonly - <"$T/fifo" 2>"$T/err" | head -c 10 >/dev/null
    rc=("${PIPESTATUS[@]}")
    exec 5>&-
    [[ ${rc[0]} == 1 ]] || {
        echo "# qioc's status ${rc[0]}" >&2
        cat "$T/err" >&2
        return 1
    }
    grep -q 'Broken pipe' "$T/err"
}

# qioc switches its descriptors to non-blocking; the ones it was given
# share their file description with whoever gave them, and must be left
# blocking when it ends.
PY_LEFT_BLOCKING='
import fcntl, os, subprocess, sys
qioc, out = sys.argv[1], sys.argv[2]
for spec, fd in (("-", 0), ("FD:3", 3)):
    r, w = os.pipe()
    os.write(w, b"hi\n")
    os.close(w)
    if fd == 0:
        p = subprocess.run([qioc, "-u", spec, "CREATE:" + out], stdin=r)
    else:
        os.dup2(r, 3)
        p = subprocess.run([qioc, "-u", spec, "CREATE:" + out],
                           stdin=subprocess.DEVNULL, pass_fds=(3,))
        os.close(3)
    flags = fcntl.fcntl(r, fcntl.F_GETFL)
    os.close(r)
    if p.returncode != 0 or open(out).read() != "hi\n":
        sys.exit("%s: exit %d" % (spec, p.returncode))
    if flags & os.O_NONBLOCK:
        sys.exit("%s: left non-blocking" % spec)
print("ok")
'

@test "stdin and FD:N are left blocking at the end (their description is shared)" {
    run timeout -k 5 30 "$PYTHON3" -c "$PY_LEFT_BLOCKING" "$QIOC" "$T/out"
    assert_status 0
    [[ $output == ok ]]
}

@test "ftruncate=: the file is cut to OFFSET once open, then written (socat's FTRUNCATE)" {
    printf 'abcdefghij' >"$T/f"
    printf 'XY' | qioc -u - FILE:"$T/f",append,ftruncate=3
    [[ $(cat "$T/f") == abcXY ]]
    # Extending fills with zeros.
    qioc -u /dev/null FILE:"$T/f",ftruncate=8
    [[ $(od -An -c "$T/f" | tr -s ' ') == " a b c X Y \\0 \\0 \\0" ]]
    run --separate-stderr qioc -u /dev/null FILE:"$T/f",ftruncate=-1
    assert_status 2
    assert_contains "$stderr" 'bad value "-1" for ftruncate'
}

# ---------------------------------------------------------------- locks

# hold_lock KIND FILE: another process holds a lock on FILE (KIND flock:
# an exclusive flock(2); fcntl: a whole-file write lock) until
# $T/release exists; $T/held exists once it has the lock.
hold_lock() {
    rm -f "$T/held" "$T/release"
    bg "$PYTHON3" -c '
import fcntl, os, sys, time
kind, path, held, release = sys.argv[1:]
fd = os.open(path, os.O_RDWR | os.O_CREAT)
if kind == "flock":
    fcntl.flock(fd, fcntl.LOCK_EX)
else:
    fcntl.lockf(fd, fcntl.LOCK_EX)
open(held, "w").close()
while not os.path.exists(release):
    time.sleep(0.01)
' "$1" "$2" "$T/held" "$T/release"
    wait_file "$T/held"
}

@test "flock-ex waits while another process holds the lock, then writes; flock-ex-nb fails at once, one line, exit 1" {
    hold_lock flock "$T/f"
    run --separate-stderr qioc -u - "$T/f",flock-ex-nb <<<"no"
    assert_status 1
    assert_one_line "$stderr"
    [[ $stderr == *'flock-ex-nb: another process holds the lock' ]]
    bg_qioc -d -u - "$T/f",flock-ex <<<"after the lock" 2>"$T/err"
    local qpid=$BG_PID
    # It says it waits, and nothing is written while the lock is held.
    wait_line "$T/err" "qioc: address 2 ($T/f,flock-ex): flock-ex: another process holds the lock; waiting"
    still_running "$qpid"
    [[ ! -s $T/f ]]
    touch "$T/release"
    reap "$qpid"
    [[ $BG_STATUS == 0 ]]
    [[ $(<"$T/f") == "after the lock" ]]
}

@test "setlkw waits for a whole-file write lock another process holds; setlk fails at once" {
    hold_lock fcntl "$T/f"
    run --separate-stderr qioc -u - "$T/f",setlk <<<"no"
    assert_status 1
    [[ $stderr == *'setlk: another process holds the lock' ]]
    bg_qioc -d -u - "$T/f",setlkw <<<"locked write" 2>"$T/err"
    local qpid=$BG_PID
    wait_line "$T/err" "qioc: address 2 ($T/f,setlkw): setlkw: another process holds the lock; waiting"
    still_running "$qpid"
    touch "$T/release"
    reap "$qpid"
    [[ $BG_STATUS == 0 && $(<"$T/f") == "locked write" ]]
}

@test "fork with FILE,flock-ex: a second client waits while the first holds the lock, then is served; nothing interleaves" {
    local port
    port=$(free_port)
    bg_qioc -d -u TCP-LISTEN:"$port",bind=127.0.0.1,fork "$T/log",flock-ex \
        2>"$T/err"
    local qpid=$BG_PID
    wait_port "$port"
    # The first client keeps its connection, and the lock, open.
    mkfifo "$T/first"
    bg "$QIOC" -u "$T/first" TCP:127.0.0.1:"$port"
    local c1=$BG_PID
    exec {w}>"$T/first"
    echo "first 1" >&"$w"
    wait_size "$T/log" 8
    bg "$QIOC" -u - TCP:127.0.0.1:"$port" <<<"second"
    local c2=$BG_PID
    # The second client's side waits for the lock the first one holds.
    poll 10 grep -q 'flock-ex: another process holds the lock; waiting' "$T/err"
    reap "$c2"
    echo "first 2" >&"$w"
    exec {w}>&-
    reap "$c1"
    wait_size "$T/log" 23
    [[ $(<"$T/log") == $'first 1\nfirst 2\nsecond' ]] || {
        cat "$T/log" "$T/err" >&2
        return 1
    }
    still_running "$qpid"
}

@test "setlk on - under -u locks only the descriptor written, not stdin opened read-only (socat's BUG-UNISTDIO)" {
    run --separate-stderr qioc -u /dev/null -,setlk <"$T/in" >"$T/out"
    assert_status 0
    [[ -z $stderr ]]
}

@test "lockfile=FILE fails while FILE exists; waitlock=FILE waits until it goes; both remove the file they made" {
    echo 123 >"$T/lock"
    run --separate-stderr qioc -u - "$T/out",lockfile="$T/lock" <<<"x"
    assert_status 1
    [[ $stderr == *"lockfile=$T/lock: File exists" ]]
    bg_qioc -d -u - "$T/out2",waitlock="$T/lock" <<<"waited" 2>"$T/err"
    local qpid=$BG_PID
    poll 10 grep -q "waitlock=$T/lock: the lock file exists; waiting" "$T/err"
    still_running "$qpid"
    rm "$T/lock"
    reap "$qpid"
    [[ $BG_STATUS == 0 && $(<"$T/out2") == waited ]]
    [[ ! -e $T/lock ]]
    run --separate-stderr qioc -u - "$T/out3",lockfile="$T/lock" <<<"made"
    assert_status 0
    [[ $(<"$T/out3") == made && ! -e $T/lock ]]
}
