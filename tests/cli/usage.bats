#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The command line itself: help, version, usage errors (exit 2, one line
# quoting the offending token, nothing opened), --dry-run, type aliases,
# case, quoting and brackets.

bats_require_minimum_version 1.5.0
load helpers

# dry LINE ADDRESS: the --dry-run line qioc prints for ADDRESS given as
# the first address (the second is STDIO); the text after "address 1: ".
dry() {
    local out
    out=$(qioc --dry-run "$1" STDIO) || {
        echo "# qioc --dry-run '$1' STDIO failed" >&2
        return 1
    }
    out=$(sed -n 's/^address 1: //p' <<<"$out")
    [[ -n $out ]] || { echo "# no 'address 1:' line for $1" >&2; return 1; }
    echo "$out"
}

# dry_type ADDRESS: the TYPE qioc understood ADDRESS as.
dry_type() {
    local line
    line=$(dry "$1") || return 1
    line=${line%%,*}
    echo "${line%%:*}"
}

# same_as ALIAS CANONICAL: both spellings are understood identically.
same_as() {
    local a b
    a=$(dry "$1") || return 1
    b=$(dry "$2") || return 1
    if [[ $a != "$b" ]]; then
        echo "# $1 -> $a" >&2
        echo "# $2 -> $b" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- help

@test "--help lists every global option and exits 0" {
    run --separate-stderr qioc --help
    assert_status 0
    [[ -z $stderr ]]
    local opt
    for opt in --left-to-right --right-to-left --buffer-size \
        --close-timeout --idle-timeout --debug --verbose --hexdump \
        --fds --stats --dry-run --log-file --syslog --log-name \
        --log-micro --log-host --help --version \
        -u -U -b -t -T -d -v -x -4 -6 -h -V; do
        if ! grep -qE -- "(^|[ ,])$opt([ ,=[]|$)" <<<"$output"; then
            echo "# --help does not list $opt" >&2
            return 1
        fi
    done
    assert_contains "$output" "ADDRESS ADDRESS"
}

@test "--help: no line is wider than 80 columns" {
    run --separate-stderr qioc --help
    assert_status 0
    local line wide=0
    while IFS= read -r line; do
        if (( ${#line} > 80 )); then
            echo "# ${#line} columns: $line" >&2
            wide=$((wide + 1))
        fi
    done <<<"$output"
    (( wide == 0 ))
}

@test "--help: every option's description starts in the same column" {
    run --separate-stderr qioc --help
    assert_status 0
    run -0 awk '/^  -/ {
        if (match($0, /^  -[^ ]*( [^ ]+)*  +/)) { print RLENGTH }
        else { print "none: " $0 } }' <<<"$output"
    [[ $(sort -u <<<"$output" | wc -l) == 1 && $output != *none* ]] || {
        echo "# description columns: $(sort -u <<<"$output" | tr '\n' ' ')" >&2
        false
    }
}

@test "--help: -h, --help-addresses and -V have a group of their own" {
    run --separate-stderr qioc --help
    assert_status 0
    refute grep -q '^Application Options:' <<<"$output"
    local general opt
    # from the "General:" heading to the blank line that ends the group
    general=$(sed -n '/^General:$/,/^$/p' <<<"$output")
    [[ -n $general ]] || { echo "# no General: group" >&2; false; }
    for opt in "-h, --help" "--help-addresses" "-V, --version"; do
        assert_contains "$general" "  $opt "
    done
    # and nothing else: three options and the heading
    [[ $(grep -c '^  -' <<<"$general") == 3 ]]
}

@test "--help: --syslog's facility is shown as optional" {
    run --separate-stderr qioc --help
    assert_status 0
    grep -qE -- '^  --syslog\[=FACILITY\]  ' <<<"$output"
    refute grep -qF -- '--syslog=' <<<"$output"
}

@test "-h is --help" {
    run --separate-stderr qioc -h
    assert_status 0
    assert_contains "$output" "--dry-run"
}

@test "-V and --version print the version and exit 0" {
    run --separate-stderr qioc -V
    assert_status 0
    [[ -z $stderr ]]
    [[ $output =~ ^qioc\ [0-9]+\.[0-9]+ ]]
    local v=$output
    run --separate-stderr qioc --version
    assert_status 0
    [[ $output == "$v" ]]
}

# ---------------------------------------------------------------- arguments

@test "an unknown long option is a usage error quoting it" {
    run --separate-stderr qioc --bogus - -
    assert_usage_error --bogus
}

@test "an unknown short option is a usage error quoting it" {
    run --separate-stderr qioc -Z - -
    assert_usage_error -Z
}

@test "no address is a usage error" {
    run --separate-stderr qioc
    assert_status 2
    assert_one_line "$stderr"
    [[ $stderr == "qioc: "* ]]
}

@test "one address is a usage error" {
    run --separate-stderr qioc -
    assert_status 2
    assert_one_line "$stderr"
    [[ $stderr == "qioc: "* ]]
}

@test "three addresses are a usage error" {
    run --separate-stderr qioc - - -
    assert_status 2
    assert_one_line "$stderr"
    [[ $stderr == "qioc: "* ]]
}

# ---------------------------------------------------------------- address errors

@test "usage error: unknown address type" {
    run --separate-stderr qioc - FOO:1
    assert_usage_error FOO
    assert_contains "$stderr" "address 2 (FOO:1)"
}

@test "usage error: a misspelt type or option suggests the nearest name" {
    run --separate-stderr qioc - TCP-LISEN:80
    assert_usage_error TCP-LISEN
    assert_contains "$stderr" '; did you mean "TCP-LISTEN"?'
    run --separate-stderr qioc - TCP:127.0.0.1:80,conect-timeout=1
    assert_usage_error conect-timeout
    assert_contains "$stderr" '; did you mean "connect-timeout"?'
    run --separate-stderr qioc FILE:x,creat,trunk -
    assert_usage_error trunk
    assert_contains "$stderr" '; did you mean "trunc"?'
}

@test "usage error: a name nothing is near gets no suggestion" {
    run --separate-stderr qioc - FOO:1
    assert_usage_error FOO
    [[ $stderr != *"did you mean"* ]]
    run --separate-stderr qioc TCP:127.0.0.1:80,bogus -
    assert_usage_error bogus
    [[ $stderr != *"did you mean"* ]]
}

@test "usage error: socat's address types qioc lacks are named as such" {
    local t
    for t in UDPLITE-LISTEN:53 udplite6-listen:53 UDPLITE4:127.0.0.1:53 \
        SOCKS5-LISTEN:p:1080:0 SCTP-CONNECT:h:1; do
        run --separate-stderr qioc - "$t"
        assert_usage_error "${t%%:*}"
        assert_contains "$stderr" "socat's address type \"${t%%:*}\" is not supported by qioc"
        [[ $stderr != *"did you mean"* ]]
    done
}

@test "usage error: socat's options qioc lacks are named as such, tcpwrap with the reason" {
    run --separate-stderr qioc TCP-LISTEN:1,tcpwrap=qioc -
    assert_usage_error tcpwrap
    assert_contains "$stderr" "socat's option \"tcpwrap\" is not supported by qioc: libwrap"
    local o
    run --separate-stderr qioc - TCP:127.0.0.1:80,setuid=nobody
    assert_usage_error setuid
    assert_contains "$stderr" "is not supported by qioc: use su="
    for o in noecho chroot-early=/tmp setgid=0 tcpwrap-dir=/x ip-recvif ip-recvdstaddr; do
        run --separate-stderr qioc - TCP:127.0.0.1:80,"$o"
        assert_usage_error "${o%%=*}"
        assert_contains "$stderr" "socat's option \"${o%%=*}\" is not supported by qioc"
        [[ $stderr != *"did you mean"* ]]
    done
}

@test "usage error: unknown address option" {
    run --separate-stderr qioc TCP:127.0.0.1:80,bogus -
    assert_usage_error bogus
    assert_contains "$stderr" "address 1 (TCP:127.0.0.1:80,bogus)"
}

@test "usage error: an option that does not apply to the type" {
    run --separate-stderr qioc FILE:x,nodelay -
    assert_usage_error nodelay
    run --separate-stderr qioc - TCP:127.0.0.1:80,unlink-early
    assert_usage_error unlink-early
    run --separate-stderr qioc - UNIX-CONNECT:/x,backlog=3
    assert_usage_error backlog
}

@test "usage error: missing parameter" {
    run --separate-stderr qioc - TCP:localhost
    assert_status 2
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 2 (TCP:localhost)"
    run --separate-stderr qioc FILE -
    assert_status 2
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 1 (FILE)"
    run --separate-stderr qioc - TCP-LISTEN
    assert_status 2
    assert_one_line "$stderr"
    assert_contains "$stderr" "address 2 (TCP-LISTEN)"
}

@test "usage error: extra parameter" {
    run --separate-stderr qioc TCP-LISTEN:80:90 -
    assert_usage_error 90
    run --separate-stderr qioc - STDIO:x
    assert_usage_error x
    run --separate-stderr qioc - UNIX-CONNECT:/a:/b
    assert_usage_error /b
}

@test "usage error: an IPv6 address without brackets is told how to write it" {
    run --separate-stderr qioc - TCP:::1:80
    assert_usage_error 1
    assert_contains "$stderr" 'an IPv6 address goes in brackets: TCP:[::1]:80'
    run --separate-stderr qioc - TLS:fe80::1:443
    assert_contains "$stderr" 'TLS:[fe80::1]:443'
    run --separate-stderr qioc - TCP:a:b:c
    assert_usage_error c
    assert_not_contains "$stderr" brackets
}

@test "usage error: bad integer value" {
    run --separate-stderr qioc TCP-LISTEN:80,backlog=abc -
    assert_usage_error abc
    run --separate-stderr qioc - TCP:127.0.0.1:80,retry=-1
    assert_usage_error -1
    run --separate-stderr qioc - FD:x
    assert_usage_error x
}

@test "usage error: bad port" {
    run --separate-stderr qioc - TCP:127.0.0.1:99999
    assert_usage_error 99999
    run --separate-stderr qioc TCP-LISTEN:70000 -
    assert_usage_error 70000
}

@test "usage error: bad size value" {
    run --separate-stderr qioc -b abc - -
    assert_usage_error abc
    run --separate-stderr qioc -b 0 - -
    assert_usage_error 0
    run --separate-stderr qioc STDIO,readbytes=1Q -
    assert_usage_error 1Q
}

@test "usage error: bad mode value" {
    run --separate-stderr qioc - CREATE:x,mode=999
    assert_usage_error 999
    run --separate-stderr qioc - CREATE:x,mode=rw
    assert_usage_error rw
    [[ ! -e x ]]
}

@test "usage error: bad duration value" {
    run --separate-stderr qioc - TCP:127.0.0.1:80,connect-timeout=soon
    assert_usage_error soon
    run --separate-stderr qioc - UNIX-CONNECT:/x,interval=-2
    assert_usage_error -2
    run --separate-stderr qioc -T abc - -
    assert_usage_error abc
    run --separate-stderr qioc -t -1 - -
    assert_usage_error -1
    # strtod's other spellings are not durations either.
    local bad
    for bad in nan -nan inf 0x10 1e3; do
        run --separate-stderr qioc -t "$bad" - -
        assert_usage_error "$bad"
        run --separate-stderr qioc -T "$bad" - -
        assert_usage_error "$bad"
        run --separate-stderr qioc - UNIX-CONNECT:/x,interval="$bad"
        assert_usage_error "$bad"
    done
}

@test "usage error: -u and -U together" {
    run --separate-stderr qioc -u -U - - <<<data
    assert_status 2
    assert_one_line "$stderr"
    assert_contains "$stderr" "-u and -U"
    [[ -z $output ]]
}

@test "usage error: an unterminated '[' in a host or a bind= value" {
    run --separate-stderr qioc - 'TCP:[::1:80'
    assert_usage_error '[::1:80'
    assert_contains "$stderr" "unterminated '['"
    run --separate-stderr qioc - 'TCP:127.0.0.1:80,bind=[::1'
    assert_usage_error '[::1'
    # A '[' inside a path is an ordinary byte.
    run --separate-stderr qioc --dry-run - 'FILE:/tmp/a[1'
    assert_status 0
}

@test "usage error: bad choice value" {
    run --separate-stderr qioc - STDIO,shut=sideways
    assert_usage_error sideways
    run --separate-stderr qioc - TCP:127.0.0.1:80,pf=ip5
    assert_usage_error ip5
    run --separate-stderr qioc --fds=maybe - -
    assert_usage_error maybe
}

@test "usage error: bad boolean value" {
    run --separate-stderr qioc - TCP:127.0.0.1:80,nodelay=2
    assert_usage_error 2
}

@test "usage error: unterminated quote" {
    run --separate-stderr qioc "FILE:'/tmp/x" -
    assert_usage_error "'/tmp/x"
    run --separate-stderr qioc - 'FILE:"/tmp/x'
    assert_usage_error '"/tmp/x'
}

@test "a usage error in one address opens neither" {
    local p
    p=$(free_port)
    run --separate-stderr qioc CREATE:"$T/new" FOO:1
    assert_status 2
    [[ ! -e $T/new ]]
    # The listener would wait for a client; a usage error ends at once.
    local start=$EPOCHREALTIME
    run --separate-stderr qioc TCP-LISTEN:"$p" STDIO,bogus
    assert_usage_error bogus
    assert_faster_than 5000 "$start"
    run --separate-stderr qioc UNIX-LISTEN:"$T/sock" - -
    assert_status 2
    [[ ! -e $T/sock ]]
}

# ---------------------------------------------------------------- dry-run

@test "--dry-run prints both addresses with every option and its default" {
    local p
    p=$(free_port)
    run --separate-stderr qioc --dry-run TCP-LISTEN:"$p",bind=127.0.0.1 \
        UNIX-CONNECT:"$T/sock",retry=3
    assert_status 0
    [[ -z $stderr ]]
    [[ ${#lines[@]} -eq 2 ]]
    [[ ${lines[0]} == "address 1: TCP-LISTEN:$p,"* ]]
    [[ ${lines[1]} == "address 2: UNIX-CONNECT:$T/sock,"* ]]
    local o
    for o in bind=127.0.0.1 backlog=4096 reuseaddr=1 fork=0 nodelay=0 \
        keepalive=0 shut=write; do
        assert_contains "${lines[0]}," ",$o,"
    done
    for o in retry=3 interval=1 shut=write; do
        assert_contains "${lines[1]}," ",$o,"
    done
}

@test "--dry-run opens nothing" {
    local p
    p=$(free_port)
    local start=$EPOCHREALTIME
    run --separate-stderr qioc --dry-run TCP-LISTEN:"$p" CREATE:"$T/new"
    assert_status 0
    assert_faster_than 5000 "$start"
    [[ ! -e $T/new ]]
    refute tcp_listening "$p"
    # The port is still free.
    "$PYTHON3" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p"
    # Nothing listens on this port, yet a dry run reports no error.
    run --separate-stderr qioc --dry-run UNIX-LISTEN:"$T/sock" \
        TCP:127.0.0.1:"$p"
    assert_status 0
    [[ -z $stderr ]]
    [[ ! -e $T/sock ]]
}

# ---------------------------------------------------------------- aliases

@test "types print under their own names" {
    [[ $(dry_type -) == STDIO ]]
    [[ $(dry_type STDIO) == STDIO ]]
    [[ $(dry_type FD:5) == FD ]]
    [[ $(dry_type FILE:/x) == FILE ]]
    [[ $(dry_type GOPEN:/x) == GOPEN ]]
    [[ $(dry_type CREATE:/x) == CREATE ]]
    [[ $(dry_type UNIX-CONNECT:/x) == UNIX-CONNECT ]]
    [[ $(dry_type UNIX-LISTEN:/x) == UNIX-LISTEN ]]
    [[ $(dry_type ABSTRACT-CONNECT:x) == ABSTRACT-CONNECT ]]
    [[ $(dry_type ABSTRACT-LISTEN:x) == ABSTRACT-LISTEN ]]
    [[ $(dry_type TCP:h:1) == TCP ]]
    [[ $(dry_type TCP-LISTEN:1) == TCP-LISTEN ]]
}

@test "aliases: OPEN, CREAT, the bare number and the bare path" {
    same_as OPEN:/x FILE:/x
    same_as CREAT:/x CREATE:/x
    same_as 5 FD:5
    same_as ./out GOPEN:./out
    same_as /dev/null GOPEN:/dev/null
}

@test "aliases: UNIX, UNIX-CLIENT, LOCAL, UNIX-L, ABSTRACT" {
    same_as UNIX:/x UNIX-CONNECT:/x
    same_as UNIX-CLIENT:/x UNIX-CONNECT:/x
    same_as LOCAL:/x UNIX-CONNECT:/x
    same_as UNIX-L:/x UNIX-LISTEN:/x
    same_as ABSTRACT:x ABSTRACT-CONNECT:x
}

@test "aliases: TCP-CONNECT, TCP4-CONNECT, TCP6-CONNECT" {
    same_as TCP-CONNECT:h:1 TCP:h:1
    same_as TCP4-CONNECT:h:1 TCP4:h:1
    same_as TCP6-CONNECT:h:1 TCP6:h:1
    # The v4-only and v6-only forms are not plain TCP.
    [[ $(dry TCP4:h:1) != "$(dry TCP:h:1)" ]]
    [[ $(dry TCP6:h:1) != "$(dry TCP:h:1)" ]]
    [[ $(dry TCP4:h:1) != "$(dry TCP6:h:1)" ]]
}

@test "aliases: TCP-L, TCP4-L, TCP6-L" {
    same_as TCP-L:80 TCP-LISTEN:80
    same_as TCP4-L:80 TCP4-LISTEN:80
    same_as TCP6-L:80 TCP6-LISTEN:80
    [[ $(dry TCP4-LISTEN:80) != "$(dry TCP-LISTEN:80)" ]]
    [[ $(dry TCP6-LISTEN:80) != "$(dry TCP-LISTEN:80)" ]]
}

@test "socat's option names are accepted as aliases" {
    same_as FILE:/x,o-append,o-creat,o-trunc FILE:/x,append,creat,trunc
    same_as FILE:/x,o-excl,o-rdonly FILE:/x,excl,rdonly
    same_as FILE:/x,o-wronly FILE:/x,wronly
    same_as FILE:/x,perm=0640 FILE:/x,mode=0640
    same_as TCP-LISTEN:80,so-reuseaddr TCP-LISTEN:80,reuseaddr
    same_as TCP:h:1,so-keepalive,tcp-nodelay TCP:h:1,keepalive,nodelay
    same_as UNIX-LISTEN:/x,unlink UNIX-LISTEN:/x,unlink-early
    same_as TCP:h:1,sp=4000 TCP:h:1,sourceport=4000
    same_as TCP6-LISTEN:80,ipv6-v6only TCP6-LISTEN:80,ipv6only
    same_as STDIO,shut-none STDIO,shut=none
    same_as STDIO,shut-close STDIO,shut=close
    same_as STDIO,shut-down STDIO,shut=write
    same_as TLS:h:1,openssl-min-proto-version=TLS1.2 TLS:h:1,min-version=TLS1.2
    same_as TLS:h:1,openssl-max-proto-version=TLSv1.2 TLS:h:1,max-version=TLS1.2
    same_as TLS:h:1,ciphers=HIGH TLS:h:1,cipher=HIGH
    same_as TLS:h:1,openssl-cipherlist=HIGH TLS:h:1,cipher=HIGH
    same_as TLS:h:1,cn=x TLS:h:1,commonname=x
    same_as TLS:h:1,openssl-no-sni TLS:h:1,no-sni
    same_as TLS:h:1,openssl-capath=/d TLS:h:1,capath=/d
    same_as TLS:h:1,openssl-cafile=/f TLS:h:1,cafile=/f
    same_as TLS:h:1,openssl-certificate=/c,openssl-key=/k TLS:h:1,cert=/c,key=/k
    same_as TLS:h:1,openssl-verify=0 TLS:h:1,verify=0
    same_as TCP:h:1,ip-ttl=3,ip-tos=4,tcp-maxseg=500 TCP:h:1,ttl=3,tos=4,mss=500
    same_as TCP:h:1,so-rcvbuf=1K,so-sndbuf=2K TCP:h:1,rcvbuf=1K,sndbuf=2K
    same_as TCP-L:1,so-linger=1,so-reuseport TCP-L:1,linger=1,reuseport
    same_as TCP:h:1,so-bindtodevice=lo TCP:h:1,interface=lo
    same_as TCP:h:1,if=lo TCP:h:1,interface=lo
    same_as TCP:h:1,setsockopt=1:2:x01 TCP:h:1,setsockopt-bin=1:2:x01
    same_as UNIX:/s,sockopt-int=1:2:3 UNIX:/s,setsockopt-int=1:2:3
}

@test "'-' with options is STDIO with those options (socat's -,raw idiom)" {
    run --separate-stderr qioc --dry-run -,readbytes=5 STDIO
    assert_status 0
    [[ ${lines[0]} == "address 1: STDIO"* ]]
    assert_contains "${lines[0]}," ",readbytes=5,"
    run --separate-stderr qioc --dry-run STDIO -,shut=none
    assert_status 0
    [[ ${lines[1]} == "address 2: STDIO"* ]]
    assert_contains "${lines[1]}," ",shut=none,"
}

@test "types are case-insensitive" {
    same_as tcp-listen:80 TCP-LISTEN:80
    same_as Tcp-L:80 TCP-LISTEN:80
    same_as unix-connect:/x UNIX-CONNECT:/x
    same_as stdio STDIO
    same_as create:/x CREATE:/x
    same_as Abstract-Listen:x ABSTRACT-LISTEN:x
}

# ---------------------------------------------------------------- grammar

@test "an IPv6 literal in brackets: TCP:[::1]:80" {
    run --separate-stderr qioc --dry-run - 'TCP:[::1]:80'
    assert_status 0
    [[ ${lines[1]} =~ ^address\ 2:\ TCP:\[?::1\]?:80, ]]
    run --separate-stderr qioc --dry-run - 'TCP:127.0.0.1:80,bind=[::1]:5000'
    assert_status 0
    [[ ${lines[1]} =~ ,bind=\[?::1\]?:5000, ]]
}

@test "quotes and backslashes protect ':' and ',' in a path" {
    local name='a,b:c'
    printf 'quoted\n' >"$T/$name"
    run --separate-stderr qioc -u "FILE:'$T/$name'" -
    assert_status 0
    [[ $output == quoted ]]
    run --separate-stderr qioc -u "FILE:\"$T/$name\"" -
    assert_status 0
    [[ $output == quoted ]]
    run --separate-stderr qioc -u "FILE:$T/a\\,b\\:c" -
    assert_status 0
    [[ $output == quoted ]]
}

@test "a quoted value keeps its ',' and the options after it still apply" {
    printf 'x' | qioc -u - "CREATE:'$T/p,q',mode=0600"
    [[ $(cat "$T/p,q") == x ]]
    [[ $(stat -c %a "$T/p,q") == 600 ]]
}

@test "socat 1.8's --statistics and -S are --stats" {
    local o
    for o in --stats --statistics -S; do
        run --separate-stderr qioc "$o" - - <<<hello
        assert_status 0
        [[ $output == hello ]]
        assert_contains "$stderr" "qioc: stats: 1 -> 2: 6 bytes, 0 descriptors,"
        assert_contains "$stderr" "qioc: stats: 2 -> 1: 0 bytes, 0 descriptors,"
    done
}
