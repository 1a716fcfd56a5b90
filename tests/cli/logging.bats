#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Traffic logging and diagnostics, all on stderr and never in the data:
# -v (text) and -x (hex dump), each block under a header with direction,
# timestamp, length and offsets; --stats at the end; -d and -dd; with a
# fork listener, every line of a connection tagged "[N]"; -r/-R records.

bats_require_minimum_version 1.5.0
load helpers

# One traffic header, as src/log.c writes it:
# "> 2026/12/01 15:50:23.219103  length=12 from=0 to=11"
HEADER_RE='^([<>]) [0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}'
HEADER_RE+='\.[0-9]{6}  length=([0-9]+) from=([0-9]+) to=([0-9]+)$'

# headers FILE: the traffic headers in FILE, "DIR LENGTH FROM TO" a line.
headers() {
    sed -nE "s%${HEADER_RE}%\\1 \\2 \\3 \\4%p" "$1"
}

# blocks_total FILE DIR: the bytes that DIR's blocks in FILE add up to,
# failing unless they follow each other: each from= is the bytes logged
# before it, each to= is from= plus length minus 1.
blocks_total() {
    headers "$1" | awk -v d="$2" '
        $1 != d { next }
        $3 != total || $4 != $3 + $2 - 1 {
            print "# block out of sequence after " total ": " $0 >"/dev/stderr"
            bad = 1
        }
        { total += $2 }
        END { print total + 0; exit bad }'
}

# block_count FILE DIR: how many blocks DIR has in FILE.
block_count() {
    headers "$1" | awk -v d="$2" '$1 == d { n++ } END { print n + 0 }'
}

# body_after FILE DIR: the lines of DIR's first block in FILE, between its
# header and the "--" that ends it.
body_after() {
    awk -v d="$2" '
        inside && $0 == "--" { exit }
        inside { print }
        !inside && substr($0, 1, 2) == d " " &&
            $0 ~ /  length=[0-9]+ from=[0-9]+ to=[0-9]+$/ { inside = 1 }' "$1"
}

# stats_line FILE DIR: the --stats line for DIR ("1 -> 2" or "2 -> 1").
stats_line() {
    grep -E "^qioc: stats: $2: " "$1"
}

# ---------------------------------------------------------------- -v

@test "-v: each block gets a header with direction, timestamp, length" {
    printf 'hello world\n' >in
    run --separate-stderr qioc -v -u STDIN STDOUT <in
    assert_status 0
    [[ $output == "hello world" ]]
    local lines
    mapfile -t lines <<<"$stderr"
    [[ ${#lines[@]} == 3 ]] || { printf '# %s\n' "${lines[@]}" >&2; false; }
    [[ ${lines[0]} =~ $HEADER_RE ]] || { echo "# ${lines[0]}" >&2; false; }
    [[ ${BASH_REMATCH[1]} == ">" ]]
    [[ ${BASH_REMATCH[2]} == 12 && ${BASH_REMATCH[3]} == 0 ]]
    [[ ${BASH_REMATCH[4]} == 11 ]]
    [[ ${lines[1]} == "hello world" ]]
    [[ ${lines[2]} == "--" ]]
}

@test "-v: the timestamp is the local time of the block" {
    local before after stamp
    before=$(date +%s)
    printf 'x\n' | qioc -v -u STDIN STDOUT 2>err >/dev/null
    after=$(date +%s)
    stamp=$(sed -nE 's%^> ([0-9/]+ [0-9:]+)\.[0-9]{6}  .*%\1%p' err)
    [[ -n $stamp ]] || { cat err >&2; false; }
    stamp=$(date -d "${stamp//\//-}" +%s)
    (( stamp >= before && stamp <= after ))
}

@test "-v: non-printable bytes are escaped as \\xNN, tab and newline kept" {
    printf 'tab\there\r\nnul\000del\177hi\377\n' >in
    qioc -v -u STDIN STDOUT <in >out 2>err
    assert_same in out
    run -0 body_after err ">"
    local want
    want=$(printf 'tab\there\\x0d\nnul\\x00del\\x7fhi\\xff')
    [[ $output == "$want" ]] || {
        echo "# got:  $(od -c <<<"$output" | head -3)" >&2
        echo "# want: $(od -c <<<"$want" | head -3)" >&2
        false
    }
}

@test "-v: a block that does not end in a newline gets one in the log" {
    printf 'no newline' >in
    qioc -v -u STDIN STDOUT <in >out 2>err
    assert_same in out
    run -0 body_after err ">"
    [[ $output == "no newline" ]]
    # the "--" line stands on its own
    [[ $(grep -c '^--$' err) == 1 ]]
}

@test "-v: consecutive blocks carry consecutive offsets" {
    printf 'abcdefghij' >in
    qioc -v -b 4 -u STDIN STDOUT <in >out 2>err
    assert_same in out
    run -0 blocks_total err ">"
    [[ $output == 10 ]]
    (( $(block_count err ">") >= 3 ))
    [[ $(block_count err "<") == 0 ]]
}

@test "-v: each direction has its own marker, > from 1 and < from 2" {
    printf 'ping\n' >in
    run --separate-stderr qioc -v - SYSTEM:'read l; echo pong' <in
    assert_status 0
    [[ $output == pong ]]
    local log=$BATS_TEST_TMPDIR/log
    printf '%s\n' "$stderr" >"$log"
    [[ $(block_count "$log" ">") == 1 && $(block_count "$log" "<") == 1 ]]
    run -0 body_after "$log" ">"
    [[ $output == ping ]]
    run -0 body_after "$log" "<"
    [[ $output == pong ]]
}

# ---------------------------------------------------------------- -x

@test "-x: a hex dump, 16 bytes a line, with the printable text beside" {
    printf '0123456789abcdef\001\tg\377' >in
    qioc -x -u STDIN STDOUT <in >out 2>err
    assert_same in out
    run -0 headers err
    [[ $output == "> 20 0 19" ]]
    run -0 body_after err ">"
    local want
    want=" 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  0123456789abcdef"
    want+=$'\n'" 01 09 67 ff$(printf '%36s' '')  ..g."
    [[ $output == "$want" ]] || {
        echo "# got:" >&2
        cat -A <<<"$output" >&2
        false
    }
}

@test "-x: headers give each block's offsets in the stream" {
    head -c 100 /dev/zero >in
    qioc -x -b 32 -u STDIN STDOUT <in >out 2>err
    assert_same in out
    run -0 blocks_total err ">"
    [[ $output == 100 ]]
    (( $(block_count err ">") >= 4 ))
    # 32 bytes of zeros: two full lines
    local zeros
    zeros="^\( 00\)\{16\}  \.\{16\}\$"
    [[ $(grep -c "$zeros" err) -ge 6 ]]
}

@test "-x: both directions are dumped, each under its marker" {
    printf 'ping\n' >in
    qioc -x - SYSTEM:'read l; echo pong' <in >out 2>err
    [[ $(cat out) == pong ]]
    run -0 body_after err ">"
    [[ $output == " 70 69 6e 67 0a"*"  ping." ]]
    run -0 body_after err "<"
    [[ $output == " 70 6f 6e 67 0a"*"  pong." ]]
}

# ---------------------------------------------------------------- the data

# same_data_with OPTION: random binary data through PIPE (both ways) with
# OPTION comes out byte-identical, and the log accounts for every byte.
same_data_with() {
    random_file in 384K
    qioc "$1" - PIPE <in >out 2>err
    assert_same in out
    run -0 blocks_total err ">"
    [[ $output == $((384 * 1024)) ]]
    run -0 blocks_total err "<"
    [[ $output == $((384 * 1024)) ]]
}

@test "-v: stdout stays byte-identical to the input (384 KiB random)" {
    same_data_with -v
}

@test "-x: stdout stays byte-identical to the input (384 KiB random)" {
    same_data_with -x
}

@test "without -v or -x, nothing is logged" {
    random_file in 64K
    qioc - PIPE <in >out 2>err
    assert_same in out
    assert_empty err
}

# ---------------------------------------------------------------- --stats

@test "--stats: bytes, descriptors and duration per direction at the end" {
    random_file in 200K
    qioc --stats - SYSTEM:'cat >/dev/null; printf 12345' <in >out 2>err
    [[ $(cat out) == 12345 ]]
    local one two
    one=$(stats_line err "1 -> 2") || { cat err >&2; false; }
    two=$(stats_line err "2 -> 1") || { cat err >&2; false; }
    [[ $one =~ :\ ([0-9]+)\ bytes,\ 0\ descriptors,\ [0-9]+\.[0-9]{3}\ s$ ]]
    [[ ${BASH_REMATCH[1]} == $((200 * 1024)) ]]
    [[ $two =~ :\ 5\ bytes,\ 0\ descriptors,\ [0-9]+\.[0-9]{3}\ s$ ]]
    # the two stats lines end the log
    [[ $(tail -n 2 err | grep -c '^qioc: stats: ') == 2 ]]
}

@test "--stats: the unused direction of -u moved nothing" {
    printf 'abc' >in
    run --separate-stderr qioc --stats -u - CREATE:out <in
    assert_status 0
    [[ -z $output ]]
    assert_contains "$stderr" "qioc: stats: 1 -> 2: 3 bytes, 0 descriptors, "
    assert_contains "$stderr" "qioc: stats: 2 -> 1: 0 bytes, 0 descriptors, "
    [[ $(cat out) == abc ]]
}

@test "--stats with -v: stats after the traffic, data untouched" {
    random_file in 100K
    qioc --stats -v - PIPE <in >out 2>err
    assert_same in out
    [[ $(tail -n 2 err | grep -c '^qioc: stats: ') == 2 ]]
    run -0 stats_line err "2 -> 1"
    [[ $output == "qioc: stats: 2 -> 1: $((100 * 1024)) bytes, "* ]]
}

# ---------------------------------------------------------------- -d

@test "-d: each address opened is logged" {
    run --separate-stderr qioc -d - PIPE <<<hi
    assert_status 0
    [[ $output == hi ]]
    assert_contains "$stderr" "qioc: address 1 (-): open"
    assert_contains "$stderr" "qioc: address 2 (PIPE): open"
}

@test "-d: a listener logs its client, then the other address opening" {
    local P
    P=$(free_port)
    bg_qioc -d -u TCP-LISTEN:"$P",bind=127.0.0.1 CREATE:"$T/out" \
        2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    printf 'abc' | qioc -u - TCP:127.0.0.1:"$P"
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; false; }
    [[ $(cat "$T/out") == abc ]]
    local listener="TCP-LISTEN:$P,bind=127.0.0.1" client open
    client=$(grep -n "^qioc: address 1 ($listener): client 127\.0\.0\.1:" \
        "$T/err") || { cat "$T/err" >&2; false; }
    open=$(grep -n "^qioc: address 2 (CREATE:$T/out): open$" "$T/err") ||
        { cat "$T/err" >&2; false; }
    (( ${client%%:*} < ${open%%:*} ))
}

@test "without -d, a clean run prints nothing on stderr" {
    run --separate-stderr qioc - PIPE <<<hi
    assert_status 0
    [[ -z $stderr ]]
}

@test "-d: the end of each connection, with the bytes moved each way" {
    random_file in 1000
    run --separate-stderr qioc -d - SYSTEM:'cat >/dev/null; printf 12345' <in
    assert_status 0
    [[ $output == 12345 ]]
    assert_contains "$stderr" \
        "qioc: connection closed: 1000 bytes 1 -> 2, 5 bytes 2 -> 1"
}

# ---------------------------------------------------------------- -dd

# lines_of TEXT PATTERN: how many lines of TEXT match the extended regex.
lines_of() {
    grep -cE -- "$2" <<<"$1" || true
}

@test "-dd: each direction's end, its byte count and the shut= applied" {
    random_file in 1000
    run --separate-stderr qioc -dd -,shut=none \
        SYSTEM:'cat >/dev/null; printf 12345' <in
    assert_status 0
    [[ $output == 12345 ]]
    local sys="SYSTEM:cat >/dev/null; printf 12345"
    assert_contains "$stderr" "qioc: 1 -> 2: end-of-file after 1000 bytes; \
shut=write to address 2 ($sys)"
    assert_contains "$stderr" "qioc: 2 -> 1: end-of-file after 5 bytes; \
shut=none to address 1 (-,shut=none)"
}

@test "-dd: a direction ended by readbytes= or by -t says so" {
    run --separate-stderr qioc -dd -u -,readbytes=3 - <<<abcdef
    assert_status 0
    [[ $output == abc ]]
    assert_contains "$stderr" \
        "qioc: 1 -> 2: readbytes= reached after 3 bytes; shut=write to"
    run --separate-stderr qioc -dd -t 0.1 - SYSTEM:'exec sleep 30' </dev/null
    assert_status 0
    assert_contains "$stderr" \
        "qioc: 2 -> 1: stopped after 0 bytes; address 1 is not shut"
}

@test "-dd: how each direction moves data, splice(2) or a copy" {
    random_file in 64K
    qioc -dd - PIPE <in >out 2>err
    assert_same in out
    # where both ends are descriptors: a copy until the first large read,
    # then splice, unless the kernel's pipe quota is used up, when the
    # copy goes on
    local start='copying, 131072-byte buffer, until a read of 16384 bytes or more$'
    [[ $(grep -cE "^qioc: 1 -> 2: $start" err) == 1 ]] || { cat err >&2; false; }
    [[ $(grep -cE "^qioc: 2 -> 1: $start" err) == 1 ]] || { cat err >&2; false; }
    [[ $(grep -c "^qioc: 1 -> 2: splice(2), no copy$" err) -le 1 ]]
    [[ $(grep -c "^qioc: 2 -> 1: splice(2), no copy$" err) -le 1 ]]
    # a file read in one 64 KiB piece is a bulk flow: it splices
    grep -q "^qioc: 1 -> 2: splice(2), no copy$" err || { cat err >&2; false; }
    # -v has to see the bytes: always a copy, through a -b sized buffer
    qioc -dd -v -b 4K - PIPE <in >out 2>err
    assert_same in out
    [[ $(grep -c '^qioc: 1 -> 2: copying, 4096-byte buffer$' err) == 1 ]]
    [[ $(grep -c '^qioc: 2 -> 1: copying, 4096-byte buffer$' err) == 1 ]]
    refute grep -q 'splice' err
}

@test "-dd: descriptors of what was opened" {
    run --separate-stderr qioc -dd -u - CREATE:"$T/out" <<<hi
    assert_status 0
    assert_contains "$stderr" \
        "qioc: address 2 (CREATE:$T/out): descriptor "
    [[ $stderr =~ descriptor\ [0-9]+\ \($T/out\) ]]
    run --separate-stderr qioc -dd - PIPE <<<hi
    assert_status 0
    local re='address 2 \(PIPE\): descriptors [0-9]+ \(pipe:\[[0-9]+\]\) '
    re+='for reading, [0-9]+ \(pipe:\[[0-9]+\]\) for writing'
    [[ $stderr =~ $re ]]
}

@test "-dd: the listening address, and both ends of each TCP connection" {
    local P
    P=$(free_port)
    bg_qioc -dd -u TCP-LISTEN:"$P",bind=127.0.0.1 CREATE:"$T/out" \
        2>"$T/server"
    local qpid=$BG_PID
    wait_port "$P"
    # localhost may resolve to ::1 first: the address connected is logged
    printf abc | qioc -dd -u - TCP:localhost:"$P" 2>"$T/client"
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/server" >&2; false; }
    local listen="address 1 (TCP-LISTEN:$P,bind=127.0.0.1)" port
    grep -qF "qioc: $listen: listening on 127.0.0.1:$P (socket " \
        "$T/server" || { cat "$T/server" >&2; false; }
    port=$(sed -nE "s/^qioc: address 2 \(TCP:localhost:$P\): socket [0-9]+, \
local 127\.0\.0\.1:([0-9]+), peer 127\.0\.0\.1:$P$/\1/p" "$T/client")
    [[ -n $port ]] || { cat "$T/client" >&2; false; }
    grep -qE "^qioc: address 1 \(TCP-LISTEN:$P,bind=127\.0\.0\.1\): \
socket [0-9]+, local 127\.0\.0\.1:$P, peer 127\.0\.0\.1:$port$" \
        "$T/server" || { cat "$T/server" >&2; false; }
}

@test "-dd: a FIFO opened for writing says it waits for a reader" {
    bg_qioc -dd -u - PIPE:"$T/fifo" <<<hello 2>"$T/err"
    local qpid=$BG_PID
    # the line comes before the open blocks: a reader can be started then
    poll 10 grep -qF "waiting for a reader of $T/fifo" "$T/err"
    run -0 cat "$T/fifo"
    [[ $output == hello ]]
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; false; }
}

@test "-dd: the TLS handshake's protocol version and cipher, both sides" {
    command -v certtool >/dev/null || skip "certtool is not installed"
    printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
        tls_www_server signing_key 'expiration_days = 2' >"$T/tmpl"
    certtool --generate-privkey --key-type=ecdsa --outfile "$T/key.pem" \
        2>/dev/null
    certtool --generate-self-signed --load-privkey "$T/key.pem" \
        --template "$T/tmpl" --outfile "$T/cert.pem" 2>/dev/null
    local P
    P=$(free_port)
    local listen=TLS-LISTEN:"$P",bind=127.0.0.1
    bg_qioc -dd "$listen",cert="$T/cert.pem",key="$T/key.pem" PIPE \
        2>"$T/server"
    local qpid=$BG_PID
    wait_port "$P"
    # the client allows TLS 1.2 only: the log must say that, not a constant
    local tls12=NORMAL:-VERS-ALL:+VERS-TLS1.2
    run --separate-stderr qioc -dd - \
        TLS:localhost:"$P",cafile="$T/cert.pem",priority="$tls12" <<<hi
    assert_status 0
    [[ $output == hi ]]
    reap "$qpid"
    local re='TLS handshake done: TLS1\.2, cipher [A-Z0-9-]+, MAC [A-Z0-9-]+, '
    re+='key exchange [A-Z0-9-]+, group [A-Z0-9-]+, new session$'
    [[ $(lines_of "$stderr" "^qioc: address 2 \(TLS:.*\): $re") == 1 ]] || {
        echo "# client: $stderr" >&2
        false
    }
    [[ $(grep -cE "^qioc: address 1 \(TLS-LISTEN:.*\): $re" \
        "$T/server") == 1 ]] || { cat "$T/server" >&2; false; }
}

@test "-dd prints everything -d does, and more" {
    random_file in 1000
    qioc -d - PIPE <in >out 2>d.err
    assert_same in out
    qioc -dd - PIPE <in >out 2>dd.err
    assert_same in out
    local line
    while IFS= read -r line; do
        grep -qxF -- "$line" dd.err || {
            echo "# -d printed, -dd did not: $line" >&2
            false
        }
    done <d.err
    (( $(wc -l <d.err) >= 3 ))
    (( $(wc -l <dd.err) >= $(wc -l <d.err) + 6 ))
}

# ---------------------------------------------------------------- fork

# two_clients PORT: two connections to 127.0.0.1:PORT open at once, each
# sending its name and reading it back; prints the two local ports.
two_clients() {
    "$PYTHON3" - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
         for _ in range(2)]
for i, s in enumerate(socks):
    s.sendall(b"client%d\n" % i)
for i, s in enumerate(socks):
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    assert got == b"client%d\n" % i, got
for s in socks:
    print(s.getsockname()[1])
    s.close()
PY
}

# closed_twice FILE: both connections of a fork listener have ended.
closed_twice() {
    grep -q '^qioc: \[1\] connection closed' "$1" &&
        grep -q '^qioc: \[2\] connection closed' "$1"
}

@test "-d with fork: two clients at once, each line with its number and port" {
    local P ports listener
    P=$(free_port)
    listener="TCP-LISTEN:$P,bind=127.0.0.1,fork"
    bg_qioc -d --stats "$listener" SYSTEM:cat 2>"$T/err"
    wait_port "$P"
    mapfile -t ports < <(two_clients "$P")
    [[ ${#ports[@]} == 2 ]]
    poll 10 closed_twice "$T/err" || { cat "$T/err" >&2; false; }
    kill_bg
    local n port seen=()
    for n in 1 2; do
        port=$(sed -nE "s%^qioc: \[$n\] address 1 \($listener\): \
client 127\.0\.0\.1:([0-9]+)$%\1%p" "$T/err")
        [[ -n $port ]] || { cat "$T/err" >&2; false; }
        seen+=("$port")
        assert_contains "$(cat "$T/err")" "qioc: [$n] address 2 (SYSTEM:cat): open"
        [[ $(grep -c "^qioc: \[$n\] stats: " "$T/err") == 2 ]]
    done
    # Each client is named once, under its own number.
    [[ ${seen[0]} != "${seen[1]}" ]]
    [[ " ${ports[*]} " == *" ${seen[0]} "* && " ${ports[*]} " == *" ${seen[1]} "* ]]
    # Every line about a connection carries a number; the signal and the
    # --stats totals of the listener do not.
    grep -vE '^qioc: \[[12]\] |^qioc: stats: total: ' "$T/err" >"$T/untagged" || true
    refute grep -q 'address\|stats\|connection' "$T/untagged"
}

@test "-d with fork: a unix client is named by its pid and uid" {
    bg_qioc -d UNIX-LISTEN:"$T/s",fork SYSTEM:cat 2>"$T/err"
    wait_socket "$T/s"
    local who
    who=$("$PYTHON3" - "$T/s" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"hi\n")
assert s.recv(10) == b"hi\n"
s.close()
print("pid %d uid %d" % (os.getpid(), os.getuid()))
PY
)
    poll 10 grep -q '^qioc: \[1\] connection closed' "$T/err" ||
        { cat "$T/err" >&2; false; }
    kill_bg
    assert_contains "$(cat "$T/err")" \
        "qioc: [1] address 1 (UNIX-LISTEN:$T/s,fork): client $who"
}

@test "-v with fork: each record's header carries its connection's number" {
    local P
    P=$(free_port)
    bg_qioc -v TCP-LISTEN:"$P",bind=127.0.0.1,fork SYSTEM:cat 2>"$T/err"
    wait_port "$P"
    two_clients "$P" >/dev/null
    poll 10 eval '(( $(grep -c "^[<>] \[[12]\] " "$T/err") >= 4 ))' ||
        { cat "$T/err" >&2; false; }
    kill_bg
    local n dir stamp='[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8}\.[0-9]{6}'
    for n in 1 2; do
        for dir in '>' '<'; do
            grep -qE "^[$dir] \[$n\] $stamp  length=8 from=0 to=7$" \
                "$T/err" || { cat "$T/err" >&2; false; }
        done
    done
    # No header without a number.
    refute grep -qE "$HEADER_RE" "$T/err"
}

@test "without fork: no connection number anywhere" {
    local P
    P=$(free_port)
    bg_qioc -d -v --stats TCP-LISTEN:"$P",bind=127.0.0.1 SYSTEM:cat \
        2>"$T/err"
    local qpid=$BG_PID
    wait_port "$P"
    printf 'abc\n' | qioc - TCP:127.0.0.1:"$P" >/dev/null
    reap "$qpid"
    [[ $BG_STATUS == 0 ]] || { cat "$T/err" >&2; false; }
    [[ $(block_count "$T/err" '>') == 1 ]]
    stats_line "$T/err" "1 -> 2"
    grep -q "^qioc: address 1 (TCP-LISTEN:$P,bind=127.0.0.1): client " "$T/err"
    refute grep -q '\[[0-9]*\]' "$T/err"
}

# ---------------------------------------------------------------- -r, -R

@test "-r and -R: each file holds exactly the bytes of its direction" {
    random_file in 1M
    random_file back 1M
    qioc -r "$T/r" -R "$T/R" - SYSTEM:"cat >'$T/got'; cat '$T/back'" \
        <in >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; false; }
    assert_empty "$T/err"
    assert_same in "$T/got"
    assert_same back "$T/out"
    assert_same in "$T/r"
    assert_same back "$T/R"
}

@test "-r: appends, and with fork every connection appends to the file" {
    local P
    printf 'old\n' >"$T/r"
    P=$(free_port)
    bg_qioc -r "$T/r" -R "$T/R" TCP-LISTEN:"$P",bind=127.0.0.1,fork SYSTEM:cat
    wait_port "$P"
    printf 'one\n' | qioc - TCP:127.0.0.1:"$P" >/dev/null
    wait_line "$T/R" one
    printf 'two\n' | qioc - TCP:127.0.0.1:"$P" >/dev/null
    wait_line "$T/R" two
    kill_bg
    [[ $(cat "$T/r") == $'old\none\ntwo' ]]
    [[ $(cat "$T/R") == $'one\ntwo' ]]
}

@test "-r: a file that cannot be opened fails the connection" {
    run --separate-stderr qioc -r "$T/no/such/dir" - PIPE <<<hi
    assert_status 1
    assert_contains "$stderr" "qioc: -r $T/no/such/dir: No such file or directory"
}

# ---------------------------------------------------------------- syslog

# in_syslog_ns COMMAND...: COMMAND in a mount namespace of its own whose
# /dev/log is a datagram socket of this test: a tmpfs over /dev holding the
# few devices qioc and the shell need, and a reader that appends every
# message syslog(3) sends to $T/syslog, one a line, until COMMAND ends.
# SIGTERM to it ends COMMAND the same way. Needs root and unshare. With
# --exec first, the calling shell becomes the namespace's (for a
# background job whose pid the teardown signals).
in_syslog_ns() {
    local run=()
    [[ $1 != --exec ]] || { run=(exec); shift; }
    [[ $(id -u) == 0 ]] && command -v unshare >/dev/null ||
        skip "needs root and unshare for a /dev/log of its own"
    : >"$T/syslog"
    # shellcheck disable=SC2016
    "${run[@]}" unshare -m --propagation private sh -c '
        set -e
        T=$1; shift
        mkdir -p "$T/realdev"
        mount --bind /dev "$T/realdev"
        mount -t tmpfs tmpfs /dev
        for d in null zero urandom random; do
            : >"/dev/$d"
            mount --bind "$T/realdev/$d" "/dev/$d"
        done
        "$PYTHON3" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/dev/log\")
out = open(sys.argv[1], \"ab\", buffering=0)
while True:
    msg = s.recv(65536)
    if msg == b\"qioc-test-end\":
        break
    out.write(msg.rstrip(b\"\\0\\n\") + b\"\\n\")
" "$T/syslog" &
        reader=$!
        i=0
        until [ -S /dev/log ]; do
            i=$((i + 1)); [ $i -lt 500 ] || exit 99
            "$PYTHON3" -c "import time; time.sleep(0.01)"
        done
        set +e
        exec 3<&0
        "$@" <&3 3<&- &
        child=$!
        trap "kill \$child" TERM
        wait $child
        status=$?
        if [ $status -gt 128 ] && kill -0 $child 2>/dev/null; then
            wait $child
            status=$?
        fi
        # Datagrams keep their order: when the reader has this one, it
        # has written every message before it.
        "$PYTHON3" -c "
import socket
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(
    b\"qioc-test-end\", \"/dev/log\")"
        wait $reader
        exit $status' sh "$T" "$@"
}

@test "-ly: diagnostics reach syslog with the program name and pid, none on stderr" {
    PYTHON3=$PYTHON3 in_syslog_ns "$QIOC" -d -ly --stats - PIPE \
        <<<hello >"$T/out" 2>"$T/err"
    assert_empty "$T/err"
    [[ $(cat "$T/out") == hello ]]
    # --stats lines are notices (daemon.notice, 3 * 8 + 5), not errors
    grep -Eq '^<29>.* qioc\[[0-9]+\]: stats: 1 -> 2: 6 bytes' "$T/syslog"
}

@test "-lm: stderr while starting, syslog once data moves" {
    local P
    P=$(free_port)
    # An address that fails to open: the error is on stderr, syslog empty.
    run --separate-stderr in_syslog_ns "$QIOC" -lm - TCP:127.0.0.1:"$P"
    assert_status 1
    assert_contains "$stderr" "qioc: address 2 (TCP:127.0.0.1:$P): connect"
    assert_empty "$T/syslog"
    # Opened: what -d says before the transfer is on stderr, the rest (the
    # stats at the end) in syslog under facility local0, as notices
    # (16 * 8 + 5 = 133).
    PYTHON3=$PYTHON3 in_syslog_ns "$QIOC" -d -lmlocal0 --stats - PIPE \
        <<<hello >"$T/out" 2>"$T/err"
    [[ $(cat "$T/out") == hello ]]
    grep -q '^qioc: address 2 (PIPE): ' "$T/err"
    refute grep -q 'stats:' "$T/err"
    grep -Eq '^<133>.* qioc\[[0-9]+\]: stats: 2 -> 1: 6 bytes' "$T/syslog"
}

@test "-lm with a fork listener: syslog from the first accept on" {
    local P
    P=$(free_port)
    [[ $(id -u) == 0 ]] || skip "needs root for a /dev/log of its own"
    PYTHON3=$PYTHON3 in_syslog_ns --exec "$QIOC" -dd -lm \
        TCP-LISTEN:"$P",bind=127.0.0.1,fork,max-children=1 SYSTEM:cat \
        2>"$T/err" &
    BG_PIDS+=("$!")
    wait_port "$P"
    [[ $(printf 'one\n' | qioc - TCP:127.0.0.1:"$P") == one ]]
    poll 10 grep -q "client 127.0.0.1:" "$T/syslog"
    grep -q 'listening on' "$T/err"
    refute grep -q 'client 127.0.0.1' "$T/err"
}
