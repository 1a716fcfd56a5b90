#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2154 # $stderr, $output, $status come from bats' run
#
# contrib/: the bash completion, the systemd units and their launcher, and
# the example recipes (each a self-checking script, run here as is).

bats_require_minimum_version 1.5.0

load helpers

CONTRIB="$QIOC_TESTS/../../contrib"
export QIOC PYTHON3

# ---------------------------------------------------------------- completion

# A qioc on PATH that counts how often completion runs it (to see the
# PATH lookup and the per-session cache at work), and a driver that
# completes in a plain bash: bats' own traps would slow the completion's
# loops a hundredfold and its errexit is not what an interactive shell has.
completion_setup() {
    mkdir -p "$T/bin"
    cat >"$T/bin/qioc" <<EOF
#!/bin/sh
echo "\$*" >>"$T/calls"
exec "$QIOC" "\$@"
EOF
    chmod +x "$T/bin/qioc"
    cat >"$T/complete.sh" <<'EOF'
# complete.sh LINE...: for each LINE (cursor at its end), the words bash
# would offer, sorted, one per line.  Readline replaces only the text after
# the last unescaped COMP_WORDBREAKS character, or after an open quote, so
# that part is put back in front of every reply to show whole words ($RAW
# set: the replies as they are).
# Strict mode, so that the completion is shown to survive a user's set -eu.
set -eu
# shellcheck source=/dev/null
source "$COMPLETION"
show() {
    local line=$1 word prefix="" reply i
    COMP_LINE=$line
    COMP_POINT=${#line}
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _qioc
    word=${COMP_WORDS[COMP_CWORD]}
    # In an open quote readline replaces what follows the quote.
    [[ -z ${RAW-} && $word == [\"\']* && ${word:1} != *"${word:0:1}"* ]] &&
        word=${word:0:1}
    # A character escaped by a backslash does not break the word.
    for ((i = 0; i < ${#word}; i++)); do
        if [[ ${word:i:1} == \\ ]]; then
            ((++i))
        elif [[ -z ${RAW-} && $COMP_WORDBREAKS == *"${word:i:1}"* ]]; then
            prefix=${word:0:i+1}
        fi
    done
    for reply in "${COMPREPLY[@]}"; do
        printf '%s\n' "$prefix$reply"
    done | sort
}
for line in "$@"; do
    show "$line"
done
EOF
}

# complete_line LINE...: run the driver in a fresh bash; anything on
# stderr (bash complaining about the completion code) or a non-zero
# status (set -e tripped) fails.
complete_line() {
    local status=0
    PATH=$T/bin:$PATH COMPLETION=$CONTRIB/bash-completion/qioc \
        bash "$T/complete.sh" "$@" 2>"$T/complete.err" || status=$?
    if [[ -s $T/complete.err ]]; then
        show_lines "$(<"$T/complete.err")"
        return 1
    fi
    if ((status != 0)); then
        echo "# the completion failed (status $status) for: $*" >&2
        return 1
    fi
}

# show_lines TEXT: TEXT, indented, as a TAP comment.
show_lines() {
    local line
    while IFS= read -r line; do
        echo "#   $line"
    done <<<"$1" >&2
}

# offers LINE WORD...: completing LINE offers every WORD.
offers() {
    local line=$1 got word
    shift
    got=$(complete_line "$line")
    for word in "$@"; do
        if ! grep -qxF -- "$word" <<<"$got"; then
            echo "# '$line<tab>' does not offer '$word'; it offers:" >&2
            show_lines "$got"
            return 1
        fi
    done
}

# offers_not LINE WORD...: completing LINE offers none of the WORDs.
offers_not() {
    local line=$1 got word
    shift
    got=$(complete_line "$line")
    for word in "$@"; do
        if grep -qxF -- "$word" <<<"$got"; then
            echo "# '$line<tab>' should not offer '$word'" >&2
            return 1
        fi
    done
}

# offers_exactly LINE WORD...: completing LINE offers these WORDs, no more.
offers_exactly() {
    local line=$1 got want
    shift
    got=$(complete_line "$line")
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
    if [[ $got != "$want" ]]; then
        echo "# '$line<tab>' offers:" >&2
        show_lines "$got"
        echo "# expected:" >&2
        show_lines "$want"
        return 1
    fi
}

@test "completion: address types by prefix, in the case they are typed" {
    completion_setup
    offers_exactly "qioc TCP-L" TCP-LISTEN TCP-L
    offers_exactly "qioc tcp-l" tcp-listen tcp-l
    offers_exactly "qioc Unix-C" UNIX-CONNECT UNIX-CLIENT
    offers "qioc - SD" SD-LISTEN
    offers "qioc ope" open openssl openssl-connect openssl-listen
}

@test "completion: every type and alias of --help-addresses is offered" {
    completion_setup
    local names
    # The type lines: "  NAME[:PARAMS]  also A, B" (two spaces of indent),
    # up to the layers, which completion does not offer yet.
    names=$("$QIOC" --help-addresses | awk '
        /^(Layers|Address options)/ { exit }
        /^  [^ ]/ { sub(/:.*/, "", $1); print $1
                    for (i = 3; i <= NF; i++) {
                        sub(/,$/, "", $i)
                        if ($i != "-") print $i } }')
    [[ $(wc -l <<<"$names") -ge 40 ]]
    # shellcheck disable=SC2086
    offers "qioc " $names
}

@test "completion: after a comma, the options of that address's type" {
    completion_setup
    offers "qioc TCP-LISTEN:80," TCP-LISTEN:80,fork TCP-LISTEN:80,backlog \
        TCP-LISTEN:80,reuseaddr TCP-LISTEN:80,range TCP-LISTEN:80,max-children
    offers_not "qioc TCP-LISTEN:80," TCP-LISTEN:80,unlink-early \
        TCP-LISTEN:80,cert TCP-LISTEN:80,ignoreeof
    offers_exactly "qioc TCP-LISTEN:80,re" TCP-LISTEN:80,reuseaddr \
        TCP-LISTEN:80,reuseport TCP-LISTEN:80,retry TCP-LISTEN:80,readbytes
    offers "qioc unix-l:/x.sock,fork," unix-l:/x.sock,fork,unlink-early \
        unix-l:/x.sock,fork,mode
    offers_not "qioc UNIX-LISTEN:/x," UNIX-LISTEN:/x,nodelay
    offers_exactly "qioc - UNIX-CONNECT:/x,re" UNIX-CONNECT:/x,retry \
        UNIX-CONNECT:/x,readbytes UNIX-CONNECT:/x,reuseaddr
    # socat's shortcuts: a bare path is GOPEN, a bare number FD, - STDIO.
    offers_exactly "qioc /dev/null,igno" /dev/null,ignoreeof
    offers_exactly "qioc 3,igno" 3,ignoreeof
    offers_exactly "qioc -,igno" -,ignoreeof
}

@test "completion: the second half of a dual address (ADDRESS!!ADDRESS)" {
    completion_setup
    offers_exactly "qioc STDIN!!STDO" 'STDIN!!STDOUT'
    offers "qioc - STDIN,readbytes=3!!TCP-LISTEN:80,re" \
        'STDIN,readbytes=3!!TCP-LISTEN:80,reuseaddr' \
        'STDIN,readbytes=3!!TCP-LISTEN:80,readbytes'
    offers "qioc -!!tc" '-!!tcp' '-!!tcp-listen'
}

@test "completion: each type's options are exactly those of --help-addresses" {
    completion_setup
    local type opts params opt want
    while read -r type params opts; do
        [[ $params == 1 ]] && type+=":x"
        want=()
        for opt in $opts; do want+=("$type,$opt"); done
        offers_exactly "qioc $type," "${want[@]}"
    done < <("$QIOC" --help-addresses | awk '
        /^(Layers|Address options)/ { exit }
        /^  [^ ]/ { name = $1; params = (name ~ /:/); sub(/:.*/, "", name) }
        /^ +options:/ { sub(/^ +options: /, ""); gsub(/,/, "")
                        print name, params, $0 }')
}

@test "completion: READLINE's options, a file after history=" {
    completion_setup
    offers_exactly "qioc READLINE,nop" READLINE,noprompt
    touch "$T/hist.txt"
    offers_exactly "qioc READLINE,history=$T/hi" "READLINE,history=$T/hist.txt"
    offers_exactly "qioc READLINE,history-file=$T/hi" \
        "READLINE,history-file=$T/hist.txt"
}

@test "completion: socat's option aliases when no option name fits" {
    completion_setup
    offers_exactly "qioc TCP-L:80,so-re" TCP-L:80,so-reuseaddr \
        TCP-L:80,so-reuseport
    offers_exactly "qioc TCP:h:1,ip-t" TCP:h:1,ip-ttl TCP:h:1,ip-tos
    offers_exactly "qioc FILE:/x,o-app" FILE:/x,o-append
    offers_exactly "qioc FILE:/x,perm" FILE:/x,perm FILE:/x,perm-late
}

@test "completion: values of address options" {
    completion_setup
    offers_exactly "qioc - TCP:h:1,shut=" TCP:h:1,shut=write TCP:h:1,shut=both \
        TCP:h:1,shut=close TCP:h:1,shut=none
    offers_exactly "qioc - TCP:h:1,pf=i" TCP:h:1,pf=ip4 TCP:h:1,pf=ip6
    offers_exactly "qioc - TCP:h:1,forever=" TCP:h:1,forever=0 TCP:h:1,forever=1
    offers_exactly "qioc - TCP:h:1,interface=l" TCP:h:1,interface=lo
    mkdir -p "$T/pem"
    touch "$T/pem/ca.pem"
    offers_exactly "qioc - TLS:h:1,cafile=$T/pem/c" \
        "TLS:h:1,cafile=$T/pem/ca.pem"
    offers_exactly "qioc - TLS:h:1,capath=$T/p" "TLS:h:1,capath=$T/pem/"
    offers_exactly "qioc - TLS:h:1,min-version=TLS1." \
        TLS:h:1,min-version=TLS1.0 TLS:h:1,min-version=TLS1.1 \
        TLS:h:1,min-version=TLS1.2 TLS:h:1,min-version=TLS1.3
    offers_exactly "qioc - TLS:h:1,openssl-max-proto-version=TLS1.3" \
        TLS:h:1,openssl-max-proto-version=TLS1.3
    offers_exactly "qioc - TLS:h:1,no-sni=" TLS:h:1,no-sni=0 TLS:h:1,no-sni=1
    offers_exactly "qioc - PTY,wa" PTY,wait-slave PTY,waitlock
    offers_exactly "qioc - PTY,wait-slave=" PTY,wait-slave=0 PTY,wait-slave=1
    offers_exactly "qioc - PTY,link=$T/pem/c" "PTY,link=$T/pem/ca.pem"
    offers_exactly "qioc - FILE:x,waitlock=$T/pem/c" "FILE:x,waitlock=$T/pem/ca.pem"
}

@test "completion: file names after FILE:, GOPEN:, CREATE:, UNIX*:, PIPE:" {
    completion_setup
    local type
    mkdir -p "$T/d/sub"
    touch "$T/d/file.txt"
    for type in FILE OPEN GOPEN CREATE CREAT UNIX UNIX-CONNECT UNIX-CLIENT \
        LOCAL UNIX-LISTEN UNIX-L PIPE FIFO ECHO file unix-l; do
        offers_exactly "qioc $type:$T/d/s" "$type:$T/d/sub/"
        offers_exactly "qioc - $type:$T/d/f" "$type:$T/d/file.txt"
    done
    offers "qioc FILE:/tm" FILE:/tmp/
    # Readline inserts only what follows the ':' (a COMP_WORDBREAKS char).
    [[ $(RAW=1 complete_line "qioc FILE:/tm") == /tmp/ ]]
    # A space stays in the word, escaped for the shell.
    touch "$T/d/sp ace.txt"
    [[ $(RAW=1 complete_line "qioc FILE:$T/d/sp") == "$T/d/sp\ ace.txt" ]]
    [[ $(RAW=1 complete_line "qioc FILE:$T/d/sp\ a") == "$T/d/sp\ ace.txt" ]]
    # A bare path is an address too (GOPEN).
    offers_exactly "qioc - $T/d/f" "$T/d/file.txt"
    # Not after types whose parameter is not a path.
    offers_exactly "qioc TCP-LISTEN:/tm"
    offers_exactly "qioc - FD:/tm"
}

@test "completion: global options, short and long, and their values" {
    completion_setup
    offers "qioc -" -u --left-to-right -U -b --buffer-size= -T \
        --idle-timeout= -v -x --fds= --stats --dry-run -lf --log-file= \
        --help-addresses -V --version -
    offers_exactly "qioc --f" --fds=
    offers_exactly "qioc --fds=" --fds=auto --fds=off --fds=require
    offers_exactly "qioc --fds=r" --fds=require
    offers_exactly "qioc --fds " auto off require
    offers_exactly "qioc --w" --workers=
    offers_exactly "qioc --workers=" --workers=auto --workers="$(nproc)"
    offers_exactly "qioc --workers " auto "$(nproc)"
    mkdir -p "$T/logs"
    offers_exactly "qioc -lf $T/lo" "$T/logs/"
    offers_exactly "qioc --log-file=$T/lo" "--log-file=$T/logs/"
    offers "qioc -T 5 - --sys" --syslog=
}

@test "completion: -r and -R, and their long forms, take file names" {
    completion_setup
    offers "qioc -" -r --record-left= -R --record-right=
    offers_exactly "qioc --record-l" --record-left=
    mkdir -p "$T/rec"
    offers_exactly "qioc -r $T/re" "$T/rec/"
    offers_exactly "qioc -R $T/re" "$T/rec/"
    offers_exactly "qioc --record-left=$T/re" "--record-left=$T/rec/"
    offers_exactly "qioc --record-right=$T/re" "--record-right=$T/rec/"
    # The file is the option's value, not an address.
    offers_exactly "qioc -r rec.bin TCP-L" TCP-LISTEN TCP-L
}

@test "completion: option values are not addresses; two addresses end it" {
    completion_setup
    offers_exactly "qioc -b 4K TCP-L" TCP-LISTEN TCP-L
    offers_exactly "qioc -ub 4K -T 3 - TCP-LISTEN:80,max" TCP-LISTEN:80,max-children
    offers_exactly "qioc -lf log TCP-L" TCP-LISTEN TCP-L
    offers_exactly "qioc -b "
    offers_exactly "qioc - - "
    offers_exactly "qioc -v - TCP:h:1 "
    offers "qioc - - -" --stats
}

@test "completion: address chains, in quotes or with \\|: layers, then the address" {
    completion_setup
    # A chain starts with a layer or is an address.
    offers "qioc - SOCKS" SOCKS5 SOCKS4A SOCKS-SERVER SOCKS5-SERVER
    offers "qioc PROXY-S" PROXY-SERVER
    # In an open quote, whole words after the quote.
    offers "qioc - 'TLS:example.org|SOC" "'TLS:example.org|SOCKS5" \
        "'TLS:example.org|SOCKS4A"
    offers "qioc - 'TLS|TCP-C" "'TLS|TCP-CONNECT"
    offers_exactly "qioc - 'TLS:x,verify=0|TCP:h:1,connect-t" \
        "'TLS:x,verify=0|TCP:h:1,connect-timeout"
    offers "qioc 'SOCKS-SERVER,al" "'SOCKS-SERVER,allow" "'SOCKS-SERVER,allow-port"
    offers "qioc 'PROXY-SERVER,proxya" "'PROXY-SERVER,proxyauth"
    offers_exactly "qioc 'TCP-LISTEN:80,fo" "'TCP-LISTEN:80,fork" "'TCP-LISTEN:80,forever"
    # A file name in quotes is not escaped.
    mkdir -p "$T/d"
    touch "$T/d/a b.sock"
    offers_exactly "qioc - 'TLS|UNIX:$T/d/a" "'TLS|UNIX:$T/d/a b.sock"
    # With the shell's \| instead of quotes.
    offers "qioc - TLS:x\\|TC" "TLS:x\\|TCP" "TLS:x\\|TCP-LISTEN"
    offers_exactly "qioc - TLS\\|UNIX:$T/d/a" "TLS\\|UNIX:$T/d/a\\ b.sock"
    # A '|' after an address that is not a layer is part of it.
    offers_exactly "qioc - 'SYSTEM:ps ax | gr"
    # Every prefix of two chains, under set -eu (errors fail complete_line).
    local line prefixes=() i
    for line in \
        "qioc -d 'SOCKS-SERVER,allow=127.0.0.0/8|TCP-LISTEN:1080,fork' DYNAMIC" \
        "qioc - TLS:db,cafile=/ca.pem\\|SOCKS5:db:5432\\|TCP:proxy:1080 "; do
        for ((i = 5; i <= ${#line}; i++)); do
            prefixes+=("${line:0:i}")
        done
    done
    complete_line "${prefixes[@]}" >/dev/null
}

@test "completion: odd input completes to nothing, without an error" {
    completion_setup
    offers "qioc --fds=require " TCP-LISTEN STDIO
    offers_exactly "qioc - TCP:h:1,="
    offers_exactly "qioc - ,"
    offers_exactly "qioc NOSUCH:x,"
    offers_exactly "qioc NOSUCH:/tm"
    offers_exactly "qioc 'TCP-LISTEN:80,fork'x"
    offers_exactly "qioc -- -" -
    offers_exactly "qioc --nosuch="
}

@test "completion: every prefix of real command lines, under set -eu" {
    completion_setup
    local line prefixes=() i
    for line in \
        "qioc -d -v --fds=require -b 64K -T 5 -lf /tmp/x.log \
'TCP-LISTEN:8080,fork,range=10.0.0.0/8' UNIX-CONNECT:/run/app.sock,retry=3 " \
        "qioc -u FILE:/etc/hosts,rdonly TCP:localhost:9000,shut=none,pf=ip4" \
        "qioc -- - \"EXEC:printf '<%s>' 'a, b'\",pty,stderr" \
        "qioc /dev/null,ignoreeof 3,readbytes=5 --stats" \
        "qioc --syslog=daemon TLS-L:443,cert=/c.pem,verify=0 SD-LISTEN:w"; do
        for ((i = 5; i <= ${#line}; i++)); do
            prefixes+=("${line:0:i}")
        done
    done
    # Errors on stderr or a non-zero status fail complete_line.
    complete_line "${prefixes[@]}" >/dev/null
}

@test "completion: COMP_WORDS and COMP_CWORD alone are enough" {
    completion_setup
    # shellcheck disable=SC2016 # expanded by the inner bash
    run env PATH="$T/bin:$PATH" bash -c '
        source "$1"
        COMP_WORDS=(qioc TCP-L)
        COMP_CWORD=1
        _qioc
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
        COMP_WORDS=(qioc -T 3 "TCP-LISTEN:80,max")
        COMP_CWORD=3
        _qioc
        # No COMP_LINE: each word is taken whole, ":" still a word break.
        printf "| %s\n" "${COMPREPLY[*]}"' _ "$CONTRIB/bash-completion/qioc"
    assert_status 0
    [[ $output == "TCP-L TCP-LISTEN | 80,max-children" ]]
}

@test "completion: qioc's tables are read once per shell session" {
    completion_setup
    run complete_line "qioc TCP-L" "qioc TCP-LISTEN:80," "qioc -" "qioc --f"
    assert_status 0
    assert_contains "$output" TCP-LISTEN:80,fork
    assert_contains "$output" --fds=
    [[ $(sort "$T/calls") == $'--help\n--help-addresses' ]]
}

@test "completion: registered for qioc" {
    run bash -c 'source "$1" && complete -p qioc' _ \
        "$CONTRIB/bash-completion/qioc"
    assert_status 0
    assert_contains "$output" "-F _qioc"
}

@test "completion: the script is shellcheck-clean" {
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    run shellcheck -s bash "$CONTRIB/bash-completion/qioc"
    assert_status 0
}

# ---------------------------------------------------------------- systemd

# A multi-client python3 echo backend; its port in $BACKEND.
ECHO_PY='
import os, socket, sys, threading

def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)

srv = socket.create_server(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'

start_echo_backend() {
    bg "$PYTHON3" -c "$ECHO_PY" "$T/backend.port"
    wait_file "$T/backend.port"
    BACKEND=$(<"$T/backend.port")
}

# launch ARGS... -- COMMAND...: sd-launch.py in the background ($LAUNCHED,
# which becomes qioc's pid); the sockets' ports or paths, by name, in PORT.
launch() {
    declare -gA PORT=()
    rm -f "$T/ready"
    bg "$PYTHON3" "$CONTRIB/systemd/sd-launch.py" --ready "$T/ready" "$@"
    LAUNCHED=$BG_PID
    wait_file "$T/ready"
    local name where
    while read -r name where; do PORT[$name]=$where; done <"$T/ready"
}

# through ADDRESS SIZE: SIZE random bytes to ADDRESS come back intact.
through() {
    local tag=$RANDOM
    random_file "$T/in.$tag" "$2"
    qioc - "$1" <"$T/in.$tag" >"$T/out.$tag"
    assert_same "$T/in.$tag" "$T/out.$tag"
}

# Clients waiting in the accept queue of the listener on 127.0.0.1:$1.
accept_queue() {
    local hex
    hex=$(awk -v p="$(printf '0100007F:%04X' "$1")" \
        '$4 == "0A" && $2 == p { split($5, q, ":"); print q[2] }' \
        /proc/net/tcp)
    echo $((16#${hex:-0}))
}

stop_launched() {
    kill -TERM "$LAUNCHED"
    reap "$LAUNCHED"
    [[ $BG_STATUS == 143 ]]
}

@test "systemd: sd-launch.py + SD-LISTEN,fork relay clients to a backend" {
    start_echo_backend
    launch -l 127.0.0.1:0 --fdname web -- \
        "$QIOC" SD-LISTEN,fork TCP:127.0.0.1:"$BACKEND"
    local i pids=()
    for i in 1 2 3; do
        random_file "$T/in.$i" 2M
        # shellcheck disable=SC2217 # bg runs its arguments: they read
        bg qioc - TCP:127.0.0.1:"${PORT[web]}" <"$T/in.$i" >"$T/out.$i"
        pids+=("$BG_PID")
    done
    for i in 1 2 3; do
        reap "${pids[i - 1]}"
        [[ $BG_STATUS == 0 ]]
        assert_same "$T/in.$i" "$T/out.$i"
    done
    stop_launched
}

@test "systemd: sd-launch.py's LISTEN_PID is the exec'ed command's pid" {
    launch -l 127.0.0.1:0 -- "$PYTHON3" -c '
import os, sys, time
print(os.environ["LISTEN_PID"], os.getpid(), os.environ["LISTEN_FDS"],
      os.environ["LISTEN_FDNAMES"], flush=True)
os.fstat(3)
time.sleep(60)' >"$T/env"
    wait_size "$T/env" 1
    read -r lpid pid fds names <"$T/env"
    [[ $lpid == "$pid" && $pid == "$LAUNCHED" && $fds == 1 ]]
    [[ $names == unknown ]]
}

@test "systemd: SD-LISTEN:NAME serves the named socket and leaves the rest" {
    start_echo_backend
    launch -l 127.0.0.1:0 -l 127.0.0.1:0 --fdname web:admin -- \
        "$QIOC" SD-LISTEN:admin,fork TCP:127.0.0.1:"$BACKEND"
    local web
    exec {webfd}<>"/dev/tcp/127.0.0.1/${PORT[web]}"
    through TCP:127.0.0.1:"${PORT[admin]}" 1M
    # The web client connected first and is still queued, not accepted.
    [[ $(accept_queue "${PORT[web]}") == 1 ]]
    exec {webfd}>&-
    stop_launched
}

@test "systemd: SD-LISTEN without a name serves every passed socket" {
    start_echo_backend
    launch -l 127.0.0.1:0 -l "$T/relay.sock" --fdname web:local -- \
        "$QIOC" SD-LISTEN,fork TCP:127.0.0.1:"$BACKEND"
    through TCP:127.0.0.1:"${PORT[web]}" 1M
    through UNIX-CONNECT:"${PORT[local]}" 1M
    stop_launched
}

@test "systemd: wrong LISTEN_PID, no LISTEN_FDS, an unknown name: exit 1" {
    run --separate-stderr env LISTEN_FDS=1 LISTEN_PID=1 \
        timeout 20 "$QIOC" SD-LISTEN - </dev/null
    assert_status 1
    assert_contains "$stderr" "qioc: address 1 (SD-LISTEN): "
    run --separate-stderr env -u LISTEN_FDS timeout 20 "$QIOC" SD-LISTEN - \
        </dev/null
    assert_status 1
    assert_contains "$stderr" "qioc: address 1 (SD-LISTEN): "
    run --separate-stderr timeout 20 "$PYTHON3" \
        "$CONTRIB/systemd/sd-launch.py" -l 127.0.0.1:0 --fdname web -- \
        "$QIOC" SD-LISTEN:nosuch - </dev/null
    assert_status 1
    assert_contains "$stderr" "qioc: address 1 (SD-LISTEN:nosuch): "
    assert_contains "$stderr" nosuch
}

# The unit's ExecStart=, expanded as systemd does: "$VAR" splits into
# words at white space, "${VAR}" stays one word; "qioc" is $QIOC.
unit_command() {
    local line word name
    line=$(sed -n 's/^ExecStart=//p' "$CONTRIB/systemd/qioc@.service")
    UNIT_CMD=()
    for word in $line; do
        if [[ $word == qioc ]]; then
            UNIT_CMD+=("$QIOC")
        elif [[ $word =~ ^\$\{([A-Z_]+)\}$ ]]; then
            name=${BASH_REMATCH[1]}
            UNIT_CMD+=("${!name}")
        elif [[ $word =~ ^\$([A-Z_]+)$ ]]; then
            name=${BASH_REMATCH[1]}
            # shellcheck disable=SC2206 # splitting is the point
            UNIT_CMD+=(${!name})
        else
            UNIT_CMD+=("$word")
        fi
    done
}

@test "systemd: qioc@.service's command line works as systemd runs it" {
    start_echo_backend
    # What /etc/qioc/INSTANCE.conf would hold.
    QIOC_TARGET="TCP:127.0.0.1:$BACKEND"
    # shellcheck disable=SC2034 # read by unit_command, by name
    QIOC_OPTIONS="--stats -T 30"
    unit_command
    [[ ${UNIT_CMD[1]} == --stats && ${UNIT_CMD[3]} == 30 ]]
    [[ ${UNIT_CMD[-1]} == "$QIOC_TARGET" ]]
    run "${UNIT_CMD[@]}" --dry-run
    assert_status 0
    launch -l "$T/unit.sock" --fdname qioc -- "${UNIT_CMD[@]}"
    through UNIX-CONNECT:"${PORT[qioc]}" 3M
    stop_launched
}

@test "systemd: the units pass systemd-analyze verify" {
    command -v systemd-analyze >/dev/null ||
        skip "systemd-analyze is not installed"
    local units=$T/units inst
    mkdir -p "$units"
    cp "$CONTRIB/systemd/qioc@.socket" "$units/"
    # verify insists that ExecStart's program exists: point it at ours.
    sed "s|^ExecStart=qioc |ExecStart=$QIOC |" \
        "$CONTRIB/systemd/qioc@.service" >"$units/qioc@.service"
    for inst in 8080 "$(systemd-escape /run/qioc/app.sock)"; do
        run systemd-analyze verify --man=no \
            "$units/qioc@$inst.socket" "$units/qioc@$inst.service"
        assert_status 0
        assert_not_contains "$output" "qioc@"
    done
}

@test "systemd: sd-launch.py is valid python, README names every file" {
    # Parsed, not compiled: py_compile would leave a __pycache__ in contrib/.
    run "$PYTHON3" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' \
        "$CONTRIB/systemd/sd-launch.py"
    assert_status 0
    local f
    for f in "$CONTRIB"/systemd/*; do
        [[ -f $f && ${f##*/} != README.md ]] || continue
        grep -qF -- "\`${f##*/}\`" "$CONTRIB/systemd/README.md" ||
            { echo "# README.md does not mention ${f##*/}" >&2; return 1; }
    done
}

# ---------------------------------------------------------------- examples

# needs_type TYPE ADDRESS: skip, saying so, when this qioc does not
# implement TYPE yet (ADDRESS is one of that type that opens or fails fast).
needs_type() {
    local out
    out=$(timeout 10 "$QIOC" -u STDIN "$2" </dev/null 2>&1) || true
    if [[ $out == *"not implemented"* ]]; then
        skip "$1 not implemented yet"
    fi
}

# example NAME: run contrib/examples/NAME.sh; 77 means it could not run.
example() {
    run --separate-stderr timeout 600 "$CONTRIB/examples/$1.sh" 3>&-
    if [[ $status == 77 ]]; then
        skip "$stderr"
    fi
    assert_status 0
    assert_contains "$output" "$1.sh: ok"
}

@test "example: port-forward.sh" {
    example port-forward
}

@test "example: unix-to-tcp.sh" {
    example unix-to-tcp
}

@test "example: file-transfer.sh" {
    example file-transfer
}

@test "example: fd-forwarding.sh" {
    example fd-forwarding
}

@test "example: socket-activation.sh" {
    example socket-activation
}

@test "example: idle-timeout.sh" {
    example idle-timeout
}

@test "example: half-close.sh" {
    example half-close
}

@test "example: exec-service.sh" {
    needs_type EXEC EXEC:true
    needs_type SYSTEM SYSTEM:true
    example exec-service
}

@test "example: tls-tunnel.sh" {
    needs_type TLS TLS:127.0.0.1:1,verify=0
    command -v openssl >/dev/null || skip "openssl is not installed"
    example tls-tunnel
}

@test "examples: each is documented, executable and run by this file" {
    local script name
    for script in "$CONTRIB"/examples/*.sh; do
        name=${script##*/}
        [[ -x $script ]] || { echo "# $name is not executable" >&2; return 1; }
        grep -q "^## $name:" "$CONTRIB/examples/README.md" ||
            { echo "# README.md has no section for $name" >&2; return 1; }
        grep -q "^@test \"example: $name\"" "$BATS_TEST_FILENAME" ||
            { echo "# contrib.bats does not run $name" >&2; return 1; }
    done
}

@test "examples: the scripts are shellcheck-clean" {
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    run shellcheck "$CONTRIB"/examples/*.sh
    assert_status 0
}

# ---------------------------------------------------------------- benchmarks

# Processes whose environment holds this test's mark: everything soak.sh
# started (qioc, the backend, the load driver) inherits it.
marked_processes() {
    grep -lsF "QIOC_SOAK_MARK=$T" /proc/[0-9]*/environ | cut -d/ -f3 || true
}

no_marked_processes() { [[ -z $(marked_processes) ]]; }

# Nothing soak.sh started still runs, its temporary directory is gone.
refute_leftovers() {
    local left
    left=$(marked_processes)
    [[ -z $left ]] || { ps -o pid,args -p "${left//$'\n'/,}" >&2; return 1; }
    left=$(ls -A "$T/tmp")
    [[ -z $left ]] || { echo "# left in TMPDIR: $left" >&2; return 1; }
}

soak_needs() {
    command -v openssl >/dev/null || skip "openssl is not installed"
    command -v ss >/dev/null || skip "ss is not installed"
}

@test "bench: soak.sh, a short run: samples, a verdict, nothing left behind" {
    soak_needs
    mkdir "$T/tmp"
    run --separate-stderr env QIOC_SOAK_MARK="$T" TMPDIR="$T/tmp" \
        PYTHON="$PYTHON3" timeout 60 "$CONTRIB/bench/soak.sh" \
        --duration 12 --interval 3
    echo "$output"
    echo "$stderr" >&2
    # 0 flat or 1 growing; 2 is a setup failure, 124 the timeout.
    [[ $status == 0 || $status == 1 ]]
    [[ $(grep -cE '^ +(3|6|9|12) \| +[0-9]+ +[0-9]+ ' <<<"$output") == 4 ]]
    grep -qE '^verdict: (flat|growing)$' <<<"$output"
    grep -qE '^verdict: plain descriptors: (flat|growing)' <<<"$output"
    grep -qE '^verdict: tls RSS: (flat|growing)' <<<"$output"
    grep -qE '^load: [1-9][0-9]* requests, .*, 0 errors' <<<"$output"
    refute_leftovers
}

@test "bench: soak.sh on Ctrl-C: every process ended, the temp dir removed" {
    soak_needs
    mkdir "$T/tmp"
    ((${#DEFAULT_SIGNALS[@]})) || skip "env has no --default-signal"
    # As a terminal's Ctrl-C: SIGINT to the script, whose background
    # children ignore it (a non-interactive shell's jobs do).
    bg "${DEFAULT_SIGNALS[@]}" env QIOC_SOAK_MARK="$T" TMPDIR="$T/tmp" \
        PYTHON="$PYTHON3" "$CONTRIB/bench/soak.sh" --duration 60 \
        --interval 3 >"$T/out"
    poll 30 grep -qE '^ +3 \|' "$T/out"
    [[ -n $(marked_processes) ]]
    kill -INT "$BG_PID"
    reap "$BG_PID"
    [[ $BG_STATUS == 130 ]]
    poll 5 no_marked_processes
    refute_leftovers
}

@test "bench: c10k.sh, a small run: its figures, targets met, nothing left behind" {
    command -v ss >/dev/null || skip "ss is not installed"
    mkdir "$T/tmp"
    run --separate-stderr env QIOC_SOAK_MARK="$T" TMPDIR="$T/tmp" \
        PYTHON="$PYTHON3" timeout 120 "$CONTRIB/bench/c10k.sh" \
        --clients 200 --active 20 --seconds 1 --socat-clients 20
    echo "$output"
    echo "$stderr" >&2
    local rss='^target: qioc RSS per idle connection <= 12 KiB: [0-9.]+ KiB: '
    if [[ -n ${QIO_SAN_CFLAGS:-} ]]; then
        # AddressSanitizer's shadow memory is in the RSS: that target
        # alone may be missed (exit status 1), every other must be met.
        [[ $status == 0 || $status == 1 ]]
        [[ $(grep -c 'NOT MET' <<<"$output") == \
            $(grep -cE "${rss}NOT MET$" <<<"$output") ]]
    else
        assert_status 0
        grep -qE "${rss}met$" <<<"$output"
    fi
    # qioc's line: 200 connections, none lost, no round trip bad, and as
    # many descriptors after as before
    grep -qE '^qioc +200 ' <<<"$output"
    awk '$1 == "qioc" && $2 == 200 { exit !($12 == $14 && $15 == 0 && $16 == 0 &&
        $10 > 0 && $5 > 0) }' <<<"$output"
    grep -qE '^target: qioc: no descriptor left after the clients closed: .*: met$' \
        <<<"$output"
    if command -v socat >/dev/null; then
        grep -qE '^socat +20 ' <<<"$output"
    fi
    refute_leftovers
}

@test "bench: c10k.sh is shellcheck-clean; bad options: 2" {
    run "$CONTRIB/bench/c10k.sh" --clients 0
    assert_status 2
    assert_contains "$output" "bad --clients"
    run "$CONTRIB/bench/c10k.sh" --bogus
    assert_status 2
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    run shellcheck -x -s bash "$CONTRIB/bench/c10k.sh"
    assert_status 0
}

@test "bench: soak.sh and run.sh are shellcheck-clean, soak.py valid python; bad options: 2" {
    run "$CONTRIB/bench/soak.sh" --duration 5 --interval 3
    assert_status 2
    assert_contains "$output" "fewer than 3 samples"
    run "$CONTRIB/bench/soak.sh" --bogus
    assert_status 2
    "$PYTHON3" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' \
        "$CONTRIB/bench/soak.py"
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    run shellcheck -x -s bash "$CONTRIB/bench/soak.sh" "$CONTRIB/bench/run.sh"
    assert_status 0
}

@test "bench: run.sh tls-parallel, a small run: every contender, the target lines, nothing left behind" {
    command -v ss >/dev/null || skip "ss is not installed"
    command -v openssl >/dev/null || skip "openssl is not installed"
    command -v socat >/dev/null || skip "socat is not installed"
    mkdir "$T/tmp"
    run --separate-stderr env QIOC_SOAK_MARK="$T" TMPDIR="$T/tmp" \
        PYTHON="$PYTHON3" timeout 80 "$CONTRIB/bench/run.sh" tls-parallel \
        --size 4M --runs 1 --tls-clients 1,3
    echo "$output"
    echo "$stderr" >&2
    assert_status 0
    # A row per contender and number of clients: MB/s, x socat, CPU %.
    local who k
    for k in 1 3; do
        for who in socat qioc-w1 qioc qioc-auto; do
            grep -qE "^ +$k $who +[0-9]+ +[0-9.]+ +[0-9]+ " <<<"$output"
        done
    done
    grep -qE '^  qioc \(default\) / socat MB/s, 3 clients +[0-9.]+  \(target >= 1\)  (met|NOT MET)$' \
        <<<"$output"
    # One client is no target.
    refute grep -q 'socat MB/s, 1 client .*target' <<<"$output"
    grep -qE '^  qioc-auto: qioc --workers=auto \(qioc --dry-run: workers=[1-9][0-9]* here' \
        <<<"$output"
    refute_leftovers
}

@test "bench: run.sh: bad --tls-clients" {
    run "$CONTRIB/bench/run.sh" tls-parallel --tls-clients 1,,4
    assert_status 1
    assert_contains "$output" "bad --tls-clients: 1,,4"
    run "$CONTRIB/bench/run.sh" tls-parallel --tls-clients 0
    assert_status 1
}

# ---------------------------------------------------------------- socat-testsuite

@test "socat-testsuite: the shim answers test.sh's questions about features, options and types" {
    local shim=$CONTRIB/socat-testsuite/socat-shim
    run "$shim" -V
    assert_status 0
    grep -qx '  #define WITH_TCP 1' <<<"$output"
    # test.sh reads the version off the second line.
    [[ $(sed -n 2p <<<"$output" |
        sed 's/.* \([0-9][1-9]*\.[0-9][0-9]*\.[0-9][^[:space:]]*\).*/\1/') == 1.7.4.4 ]]
    run "$shim" -???
    assert_status 0
    # Options, and aliases from doc/grammar.md, one a line after "opt:".
    for o in fork ipv6-v6only o-nonblock ftruncate; do
        sed '1,/opt:/ d' <<<"$output" | awk '{print $1}' | grep -qx "$o"
    done
    run "$shim" -h
    grep -q ' tcp4-listen:' <<<"$output"
    run "$shim" SCTP-LISTEN /dev/null
    assert_contains "$output" "E unknown device/address"
    run "$shim" TCP4 /dev/null
    refute grep -q "unknown device" <<<"$output"
    # Anything else is qioc.
    [[ $(echo hi | "$shim" - PIPE) == hi ]]
}

@test "socat-testsuite: run.sh counts test.sh's results and names the failures EXPECTED lacks" {
    mkdir "$T/src"
    cat >"$T/src/test.sh" <<'SH'
echo "test   1 GOOD: passes... OK"
echo "test   2 NOTAVAIL: skipped... TCP4 not available"
[ -n "$FAILING" ] && echo "test   3 NEWBUG: fails... FAILED: ..." || true
"$SOCAT" -V | grep -q 'WITH_TCP 1' && echo "test   4 SHIM: the shim runs... OK"
# a failure test.sh words otherwise, on the line of a test that said nothing
[ -n "$FAILING" ] && echo "test   5 QUIET: ... test   6 WORDED: fails... no entry" || true
[ -n "$FAILING" ] && echo "FAILED:  3 6" || true
SH
    # run.sh keeps its copy of the tree under TMPDIR.
    export TMPDIR=$T
    run "$CONTRIB/socat-testsuite/run.sh" "$T/src"
    assert_status 0
    assert_contains "$output" "2 passed, 0 failed"
    assert_contains "$output" "1 skipped"
    FAILING=1 run "$CONTRIB/socat-testsuite/run.sh" "$T/src"
    assert_status 1
    assert_contains "$output" "2 failed"
    grep -qx '  NEWBUG' <<<"$output"
    grep -qx '  WORDED' <<<"$output"
    run "$CONTRIB/socat-testsuite/run.sh" "$T/nowhere"
    assert_status 2
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    run shellcheck -x "$CONTRIB/socat-testsuite/run.sh" "$CONTRIB/socat-testsuite/socat-shim"
    assert_status 0
}
