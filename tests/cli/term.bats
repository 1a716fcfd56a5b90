#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Terminals and text: terminal modes (raw, rawer, echo=, speeds) on a real
# pseudo-terminal driven by tests/cli/ttyrun.py, the terminal put back on
# every way out, escape=, and line ends (crlf, cr) against a server that
# insists on CR LF.

bats_require_minimum_version 1.5.0
load helpers

TTYRUN="$QIOC_TESTS/ttyrun.py"

# ttyrun ARGS...: run ttyrun.py, bounded; its output in $output.
ttyrun() {
    run timeout -k 5 30 "$PYTHON3" "$TTYRUN" "$@"
}

# The lines ttyrun printed must include LINE.
has_line() {
    grep -qxF -- "$1" <<<"$output" || {
        echo "# no line '$1' in:" >&2
        printf '# | %s\n' "${output//$'\n'/$'\n'# | }" >&2
        return 1
    }
}

COOKED="icanon=1 echo=1 isig=1 icrnl=1 opost=1 onlcr=1"

# ---------------------------------------------------------------- modes

@test "raw,echo=0: each key goes out at once, unechoed; the terminal is put back at the end" {
    ttyrun --serve brackets --output "$T/shown" --received-file "$T/got" \
        --modes --connected --modes --send a --expect '<a>' --send 'b\r' \
        --expect '<b\r>' --close-client \
        -- "$QIOC" -t 0.2 '-,raw,echo=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    [[ ${lines[0]} == "$COOKED speed="* ]]
    [[ ${lines[1]} == "icanon=0 echo=0 isig=0 icrnl=0 opost=0 onlcr=1 speed="* ]]
    has_line "exit 0"
    has_line restored
    # Nothing echoed: the terminal showed only what the server sent.
    [[ $(cat "$T/shown") == "<a><b"$'\r'">" ]]
    [[ $(od -An -c "$T/got" | tr -d ' ') == 'ab\r' ]]
}

@test "no terminal option: the terminal is left as it is" {
    ttyrun --serve brackets --connected --modes --send 'x\r' --expect '<x' \
        --close-client -- "$QIOC" -t 0.2 - 'TCP:127.0.0.1:{port}'
    assert_status 0
    [[ ${lines[0]} == "$COOKED speed="* ]]
    has_line restored
}

@test "rawer: no echo and no output processing either; b9600 sets the speed" {
    ttyrun --serve brackets --connected --modes --close-client \
        -- "$QIOC" -t 0.2 '-,rawer,b9600' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "icanon=0 echo=0 isig=0 icrnl=0 opost=0 onlcr=1 speed=9600"
    has_line restored
}

@test "single flags: icanon=0,isig=0,onlcr=0 leave echo alone" {
    ttyrun --serve brackets --connected --modes --close-client \
        -- "$QIOC" -t 0.2 '-,icanon=0,isig=0,onlcr=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "icanon=0 echo=1 isig=0 icrnl=1 opost=1 onlcr=0 speed=38400"
    has_line restored
}

@test "EXEC with pty,raw,echo=0: the child's terminal has the modes from its start" {
    run --separate-stderr qioc "EXEC:stty -a,pty,raw,echo=0" - </dev/null
    assert_status 0
    local modes
    modes=$(tr ' ;' '\n\n' <<<"$output" | grep -xE -- '-?(icanon|echo|isig|opost)' | sort | tr '\n' ' ')
    [[ $modes == "-echo -icanon -isig -opost " ]]
}

@test "EXEC without pty: terminal modes have no terminal to go to, -d says so" {
    run --separate-stderr qioc -d -u "EXEC:echo hi,raw" - </dev/null
    assert_status 0
    [[ $output == hi ]]
    [[ $stderr == *"not a terminal: terminal modes left alone"* ]]
}

# ---------------------------------------------------------------- ways out

@test "raw,echo=0: put back after SIGTERM" {
    ttyrun --serve brackets --connected --send a --expect '<a>' --kill TERM \
        -- "$QIOC" '-,raw,echo=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "exit 143"
    has_line restored
}

@test "raw,echo=0: put back after SIGINT sent by another process (isig is off)" {
    ttyrun --serve brackets --connected --kill INT \
        -- "$QIOC" '-,raw,echo=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "exit 130"
    has_line restored
}

@test "raw,echo=0: put back after SIGHUP, which qioc dies of" {
    ttyrun --serve brackets --connected --send a --expect '<a>' --kill HUP \
        -- "$QIOC" '-,raw,echo=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "signal HUP"
    has_line restored
}

@test "raw,echo=0: put back when the peer resets the connection" {
    ttyrun --serve brackets --output "$T/shown" --connected --send a \
        --expect '<a>' --reset-client \
        -- "$QIOC" '-,raw,echo=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "exit 1"
    has_line restored
    grep -q 'Connection reset by peer' "$T/shown"
}

@test "raw,echo=0 without -t: the peer's close ends the session in half a second, no key needed, the terminal put back" {
    ttyrun --serve brackets --connected --send a --expect '<a>' --close-client \
        -- "$QIOC" '-,raw,echo=0' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "exit 0"
    has_line "restored"
}

@test "a terminal's own end (^D) still waits for the answer: a slow server's reply after a second is shown" {
    ttyrun --serve brackets --connected --send '\x04' --eof-seen --pause 1 \
        --answer 'late reply\n' --expect 'late reply' --close-client \
        -- "$QIOC" - 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "exit 0"
    has_line "restored"
}

@test "socat's remote login recipe: TCP-LISTEN,fork EXEC:...,pty,setsid,setpgid,stderr,ctty served to -,raw,echo=0; exit ends both, the terminal put back" {
    local port
    port=$(free_port)
    # socat's EXAMPLES serve /bin/login this way; a small shell stands
    # in, its prompt on stderr (as a shell's is) carried by stderr.
    cat >"$T/remote" <<'EOF'
#!/bin/sh
while printf 'remote> ' >&2 && read -r line; do eval "$line"; done
EOF
    chmod +x "$T/remote"
    bg_qioc TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr,fork \
        EXEC:"$T/remote",pty,setsid,setpgid,stderr,ctty
    wait_port "$port"
    ttyrun --output "$T/shown" --expect 'remote> ' \
        --send 'tty; echo done-$((6*7))\r' --expect 'done-42' --send 'exit\r' \
        -- "$QIOC" '-,raw,echo=0' "TCP:127.0.0.1:$port"
    assert_status 0
    has_line "exit 0"
    has_line "restored"
    # The shell had a terminal of its own: tty(1) printed its name.
    grep -aq $'^/dev/pts/[0-9]*\r$' "$T/shown"
}

@test "raw on a descriptor that is no terminal: data passes, -d says so" {
    run --separate-stderr qioc -d -u '-,raw,echo=0' "CREATE:$T/out" <<<"text"
    assert_status 0
    [[ $(cat "$T/out") == text ]]
    [[ $stderr == *"not a terminal: terminal modes left alone"* ]]
}

@test "a speed the driver does not know is a usage error" {
    run --separate-stderr qioc '-,speed=12345' -
    assert_usage_error "speed=12345"
    [[ $stderr == *"not a baud rate"* ]]
}

# ---------------------------------------------------------------- escape

@test "escape=0x0f: typing ^O ends the session cleanly" {
    ttyrun --serve brackets --received-file "$T/got" --connected \
        --send 'ab\x0fcd' --eof-seen \
        -- "$QIOC" -t 0.2 '-,raw,echo=0,escape=0x0f' 'TCP:127.0.0.1:{port}'
    assert_status 0
    has_line "exit 0"
    has_line restored
    [[ $(cat "$T/got") == ab ]]
}

@test "escape= on a pipe: the data ends before the byte" {
    run --separate-stderr qioc -u '-,escape=0x04' - < <(printf 'one\x04two')
    assert_status 0
    [[ $output == one ]]
}

# ---------------------------------------------------------------- line ends

start_crlf_server() {
    bg "$PYTHON3" "$QIOC_TESTS/crlfpeer.py" --ready "$T/ready" \
        --received "$T/got"
    wait_file "$T/ready"
    PORT=$(cat "$T/ready")
}

@test "crlf: an SMTP-like dialogue with a server that insists on CR LF, one byte per read" {
    start_crlf_server
    printf 'HELO x\nMAIL FROM:<a@b>\nQUIT\n' >"$T/in"
    run --separate-stderr qioc -b 1 - "TCP:127.0.0.1:$PORT,crlf" <"$T/in"
    assert_status 0
    [[ $output == $'220 ready\n250 HELO x\n250 MAIL FROM:<a@b>\n221 bye' ]]
    wait_file "$T/got"
    [[ $(cat "$T/got") == $'HELO x\r\nMAIL FROM:<a@b>\r\nQUIT\r' ]]
}

@test "crnl (socat's name) on the client side: the same dialogue" {
    start_crlf_server
    run --separate-stderr qioc - "TCP:127.0.0.1:$PORT,crnl" \
        <<<$'HELO y\nQUIT'
    assert_status 0
    [[ $output == $'220 ready\n250 HELO y\n221 bye' ]]
}

@test "crlf without it: the server answers 500 to a bare LF" {
    start_crlf_server
    run --separate-stderr qioc - "TCP:127.0.0.1:$PORT" \
        <<<$'HELO z\r\nbare\nQUIT\r'
    assert_status 0
    [[ $output == *"500 bare line end"* ]]
}

@test "crlf: CR NL split across reads, a CR alone and a CR at the end pass intact" {
    printf 'a\r\nb\rc\r\n\r\r\nend\r' >"$T/in"
    for b in 1 2 3 5 8192; do
        qioc -b "$b" -u '-,crlf' "CREATE:$T/out" <"$T/in"
        [[ $(od -An -c "$T/out" | tr -d ' \n') == 'a\nb\rc\n\r\nend\r' ]]
    done
}

@test "crlf toward an address: NL goes out as CR NL, and -v shows it so" {
    run --separate-stderr qioc -v -u - 'STDOUT,crlf' <<<$'one\ntwo'
    assert_status 0
    [[ $(od -An -c <<<"$output" | tr -d ' \n') == 'one\r\ntwo\r\n' ]]
    [[ $stderr == *'one\x0d'* ]]
}

@test "cr: NL goes out as CR, CR comes in as NL" {
    qioc -u - "CREATE:$T/out,cr" < <(printf 'a\nb\n')
    [[ $(od -An -c "$T/out" | tr -d ' \n') == 'a\rb\r' ]]
    qioc -u "FILE:$T/out,cr" "CREATE:$T/back"
    [[ $(od -An -c "$T/back" | tr -d ' \n') == 'a\nb\n' ]]
}

@test "crlf and cr together are a usage error" {
    run --separate-stderr qioc '-,crlf,cr' -
    assert_usage_error "cr"
}
