#!/usr/bin/env bats
#
# man/qioc.1 and doc/grammar.md: the man page lints clean, and both
# document every name of the command line. The lists below are those of
# doc/grammar.md ("Address types", "Address options", "Global options");
# the program's own tables (qioc --help-addresses, qioc --help) are
# checked against both documents too, so neither can drift from the code.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

bats_require_minimum_version 1.5.0

# Address types and their aliases, as in doc/grammar.md, "Address types".
ADDRESS_TYPES=(
    STDIO - STDIN STDOUT STDERR FD
    PIPE ECHO FIFO FILE OPEN GOPEN CREATE CREAT
    UNIX-CONNECT UNIX UNIX-CLIENT LOCAL UNIX-LISTEN UNIX-L
    ABSTRACT-CONNECT ABSTRACT ABSTRACT-LISTEN
    TCP TCP-CONNECT TCP4 TCP4-CONNECT TCP6 TCP6-CONNECT
    TCP-LISTEN TCP-L TCP4-LISTEN TCP4-L TCP6-LISTEN TCP6-L
    EXEC SYSTEM
    TLS OPENSSL SSL OPENSSL-CONNECT TLS-LISTEN OPENSSL-LISTEN SSL-L
    ACCEPT-FD SD-LISTEN
    UDP UDP-CONNECT UDP4 UDP4-CONNECT UDP6 UDP6-CONNECT
    UDP-LISTEN UDP-L UDP4-LISTEN UDP4-L UDP6-LISTEN UDP6-L
    UDP-SENDTO UDP4-SENDTO UDP6-SENDTO
    UDP-DATAGRAM UDP4-DATAGRAM UDP6-DATAGRAM
    UDP-RECVFROM UDP4-RECVFROM UDP6-RECVFROM UDP-RECV UDP4-RECV UDP6-RECV
    UNIX-SENDTO UNIX-RECVFROM UNIX-RECV
    ABSTRACT-SENDTO ABSTRACT-RECVFROM ABSTRACT-RECV
    SOCKS4 SOCKS4A SOCKS5 SOCKS5-CONNECT PROXY PROXY-CONNECT HTTP-CONNECT
    DYNAMIC
)

# Layers and their aliases (LAYER|...|ADDRESS), as in doc/grammar.md,
# "Address types"; TLS, SOCKS4, SOCKS4A, SOCKS5 and PROXY are above.
LAYER_TYPES=(
    TLS-CLIENT TLS-SERVER OPENSSL-SERVER
    SOCKS-SERVER SOCKS5-SERVER SOCKS4-SERVER
    PROXY-SERVER HTTP-PROXY HTTP-PROXY-SERVER
)

# Address options, their aliases and socat's long spellings, as in
# doc/grammar.md, "Address options".
ADDRESS_OPTIONS=(
    fork max-children backlog reuseaddr bind range nodelay keepalive
    connect-timeout retry interval unlink-early unlink-close
    mode user group append creat trunc excl rdonly wronly stderr ftruncate
    cert key cafile verify snihost commonname priority send-fds
    capath cn no-sni nosni min-version max-version cipher ciphers alpn
    openssl-min-proto-version openssl-max-proto-version
    pf ipv6only ipv6-v6only sourceport sp accept-timeout ignoreeof
    readbytes umask perm pipes socketpair pty setsid ctty nofork
    fdin fdout end-close shut shut-down shut-close shut-none shut-null null-eof
    o-append o-creat o-trunc o-excl o-rdonly o-wronly
    so-reuseaddr so-keepalive tcp-nodelay unlink
    ttl ip-ttl tos ip-tos mss tcp-maxseg linger so-linger
    reuseport so-reuseport interface so-bindtodevice if
    rcvbuf so-rcvbuf sndbuf so-sndbuf forever
    setsockopt setsockopt-int setsockopt-bin setsockopt-string
    setsockopt-listen sockopt sockopt-int sockopt-bin sockopt-string
    sockopt-listen
    broadcast so-broadcast ip-multicast-ttl multicast-ttl
    ip-multicast-loop multicast-loop ip-add-membership ip-membership
    handshake-timeout idle-timeout
    socksport socksuser socks-user sockspass socks-pass sockspassword
    proxyport proxyauth proxy-authorization resolve allow allow-port
)

# Values spelled out by doc/grammar.md.
OPTION_VALUES=(write both close none ip4 ip6 auto off require)

# Global options: short ones (-x) and long ones (--x), as in
# doc/grammar.md, "Global options".
SHORT_OPTIONS=(u U b t T d v x r R 4 6 h V s lf ly lm lp lu lh)
LONG_OPTIONS=(
    left-to-right right-to-left buffer-size close-timeout idle-timeout
    debug verbose hexdump fds stats record-left record-right dry-run
    log-file syslog log-mixed log-name log-micro log-host sloppy
    help version help-addresses
)

setup() {
    QIOC_TESTS=${QIOC_TESTS:-$BATS_TEST_DIRNAME}
    MAN="$QIOC_TESTS/../../man/qioc.1"
    DOC="$QIOC_TESTS/../../doc/grammar.md"
    [ -s "$MAN" ] || {
        echo "no man page at $MAN" >&2
        return 1
    }
}

# The lines of section $1 (from its .Sh to the next .Sh).
section() {
    awk -v name="$1" '
        /^\.Sh / { inside = (substr($0, 5) == name); next }
        inside { print }
    ' "$MAN"
}

# Names that no mdoc line shows as a command modifier (.Cm NAME, or NAME
# among several .Cm arguments); prints them, one a line.
missing_cm() {
    local name
    for name in "$@"; do
        grep -Eq -e "^\..*Cm( [^ ]+)* ${name}( |$)" "$MAN" || echo "$name"
    done
}

@test "man page: mandoc -T lint -W warning prints nothing" {
    command -v mandoc >/dev/null || skip "mandoc is not installed"
    run mandoc -T lint -W warning "$MAN"
    echo "$output"
    [ "$status" -eq 0 ] && [ -z "$output" ]
}

@test "man page: every address type and alias is documented" {
    run -0 missing_cm "${ADDRESS_TYPES[@]}" "${LAYER_TYPES[@]}"
    [ -z "$output" ] || {
        echo "address types missing from qioc.1: $output"
        false
    }
    # Each one has its own tagged entry, aliases aside.
    for t in STDIO STDIN FD PIPE FILE GOPEN CREATE UNIX-CONNECT UNIX-LISTEN \
        ABSTRACT-CONNECT TCP TCP-LISTEN EXEC SYSTEM TLS TLS-LISTEN \
        ACCEPT-FD SD-LISTEN SOCKS4 SOCKS5 PROXY DYNAMIC TLS-SERVER \
        SOCKS-SERVER PROXY-SERVER; do
        grep -Eq -e "^\.It Cm ${t}( |$)" "$MAN" || {
            echo "no .It entry for $t"
            false
        }
    done
}

@test "man page: every address option and alias is documented" {
    run -0 missing_cm "${ADDRESS_OPTIONS[@]}" "${OPTION_VALUES[@]}"
    [ -z "$output" ] || {
        echo "address options missing from qioc.1: $output"
        false
    }
}

@test "man page: every global option is documented" {
    local o missing=()
    for o in "${SHORT_OPTIONS[@]}"; do
        grep -Eq -e "^\.It (.*, )?Fl ${o}( |$)" "$MAN" || missing+=("-$o")
    done
    for o in "${LONG_OPTIONS[@]}"; do
        grep -Eq -e "^\.It (.* )?Fl Fl ${o}( |$)" "$MAN" || missing+=("--$o")
    done
    [ "${#missing[@]}" -eq 0 ] || {
        echo "global options missing from qioc.1: ${missing[*]}"
        false
    }
}

@test "man page: EXIT STATUS gives 0, 1, 2 and 128+N" {
    run -0 section "EXIT STATUS"
    [ -n "$output" ]
    grep -Eq '^\.It 0$' <<<"$output"
    grep -Eq '^\.It 1$' <<<"$output"
    grep -Eq '^\.It 2$' <<<"$output"
    grep -Eq '128' <<<"$output"
}

@test "man page: EXAMPLES has at least 12 example command blocks" {
    run -0 section "EXAMPLES"
    local blocks
    blocks=$(grep -Ec '^\.(Bd -literal|Dl )' <<<"$output")
    echo "example blocks: $blocks"
    [ "$blocks" -ge 12 ]
}

# The parser's own tables, as `qioc --help-addresses` prints them: a type or
# option added to the tables without documentation fails here.
table_names() {
    "$QIOC" --help-addresses | awk '
        /^Address options:/ { opts = 1; next }
        !opts && /^  [A-Z0-9-]/ {
            sub(/^  /, ""); split($0, part, "  also "); t = part[1]
            sub(/:.*/, "", t); print t
            n = split(part[2], al, ", "); for (i = 1; i <= n; i++) print al[i]
        }
        opts && /^  [a-z]/ { print $1 }
        opts && /^ +also: / {
            sub(/^ +also: /, ""); n = split($0, al, ", ")
            for (i = 1; i <= n; i++) print al[i]
        }'
}

@test "man page: every type and option in qioc's tables is documented" {
    [ -x "$QIOC" ] || skip "QIOC is not set to a built qioc"
    local names
    mapfile -t names < <(table_names)
    echo "names in the tables: ${#names[@]}"
    [ "${#names[@]}" -gt 100 ]
    run -0 missing_cm "${names[@]}"
    [ -z "$output" ] || {
        echo "in qioc's tables but not in qioc.1: $output"
        false
    }
}

# example_commands SECTION: every qioc command line in the literal blocks
# (.Bd -literal ... .Ed, .Dl) of SECTION, one a line, as the shell-quoted
# arguments that follow "qioc": mdoc escapes undone, lines continued with
# a backslash or a trailing | joined, shell words split as sh(1) would,
# the shell's own words (&, |, redirections) dropped, and the variables
# in PLACEHOLDERS substituted. A variable it does not know fails it.
example_commands() {
    section "$1" | "${PYTHON3:-python3}" -c '
import re, shlex, sys

PLACEHOLDERS = {"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/user"}
ESCAPES = {"e": "\\", "&": "", "-": "-", "(aq": "\x27", "(dq": "\""}

def unescape(line):
    return re.sub(r"\\(\(aq|\(dq|[e&-])", lambda m: ESCAPES[m.group(1)],
                  line)

def literal_lines(text):
    inside = False
    for line in text.splitlines():
        if line.startswith(".Bd -literal"):
            inside = True
        elif line.startswith(".Ed"):
            inside = False
        elif line.startswith(".Dl "):
            yield unescape(line[4:])
        elif inside:
            yield unescape(line)

def joined(lines):
    cur = ""
    for line in lines:
        cur += line.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
        elif cur.endswith("|"):
            cur += " "
        else:
            yield cur
            cur = ""

def substitute(word):
    def value(m):
        name = m.group(1) or m.group(2)
        if name not in PLACEHOLDERS:
            sys.exit("no placeholder for $" + name + " in: " + word)
        return PLACEHOLDERS[name]
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", value, word)

def qioc_args(line):
    if not re.search(r"(^|[\s/|])qioc(\s|$)", line):
        return None
    words = shlex.split(line)
    start = next(i for i, w in enumerate(words)
                 if w == "qioc" or w.endswith("/qioc"))
    args = []
    for w in words[start + 1:]:
        if w in ("&", "|", ";", "&&", "||"):
            break
        if not re.match(r"\d*[<>]", w):
            args.append(substitute(w))
    return args

for line in joined(literal_lines(sys.stdin.read())):
    args = qioc_args(line)
    if args is not None:
        print(shlex.join(args))
'
}

@test "man page: every qioc command in EXAMPLES parses (qioc --dry-run)" {
    [ -x "$QIOC" ] || skip "QIOC is not set to a built qioc"
    local cmds line failed=0
    local -a args
    mapfile -t cmds < <(example_commands EXAMPLES)
    echo "commands in EXAMPLES: ${#cmds[@]}"
    [ "${#cmds[@]}" -ge 15 ]
    # the extraction itself: continued lines are joined, unit files read
    local docker="TCP-LISTEN:2375,bind=127.0.0.1,fork"
    docker+=" UNIX-CONNECT:/var/run/docker.sock"
    printf '%s\n' "${cmds[@]}" | grep -qxF "$docker"
    printf '%s\n' "${cmds[@]}" | grep -qxF "SD-LISTEN:web,fork TCP:127.0.0.1:80"
    for line in "${cmds[@]}"; do
        eval "args=($line)"
        run "$QIOC" --dry-run "${args[@]}"
        if [ "$status" -ne 0 ] ||
            [ "$(grep -c '^address [12]: ' <<<"$output")" -ne 2 ]; then
            echo "qioc --dry-run $line: exit $status: $output"
            failed=1
        fi
    done
    [ "$failed" -eq 0 ]
}

# ------------------------------------------------------------ doc/grammar.md

# Names that doc/grammar.md shows in no code span: `NAME` alone, or
# starting one and followed by "=", ":", "[" or a space (`fork=1`,
# `TCP:HOST:PORT`, `--syslog[=FACILITY]`, `-lf FILE`); prints them, one a
# line. Case matters: types are upper case, options lower case.
missing_doc() {
    local name
    for name in "$@"; do
        grep -qF -e "\`$name\`" -e "\`$name=" -e "\`$name:" -e "\`${name}[" \
            -e "\`$name " "$DOC" || echo "$name"
    done
}

# The names in the first two columns (name, aliases) of the table rows of
# doc/grammar.md's section $1 that start with a code span, one a line.
doc_table_names() {
    awk -v name="## $1" '
        /^## / { inside = ($0 == name); next }
        inside && /^\| `/ {
            n = split($0, col, "|")
            for (c = 2; c <= 3 && c <= n; c++) {
                rest = col[c]
                while (match(rest, /`[^`]+`/)) {
                    print substr(rest, RSTART + 1, RLENGTH - 2)
                    rest = substr(rest, RSTART + RLENGTH)
                }
            }
        }' "$DOC"
}

# The global options `qioc --help` lists: -x and --long, one a line.
help_options() {
    "$QIOC" --help | awk '
        /^  -/ {
            long = $1
            if ($1 ~ /^-[^-],$/) {
                short = $1; sub(/,$/, "", short); print short; long = $2
            }
            sub(/[=[].*/, "", long); print long
        }'
}

@test "doc/grammar.md: every name of the lists above appears" {
    [ -s "$DOC" ] || {
        echo "no doc/grammar.md at $DOC"
        false
    }
    local shorts=("${SHORT_OPTIONS[@]/#/-}") longs=("${LONG_OPTIONS[@]/#/--}")
    run -0 missing_doc "${ADDRESS_TYPES[@]}" "${LAYER_TYPES[@]}" \
        "${ADDRESS_OPTIONS[@]}" \
        "${OPTION_VALUES[@]}" "${shorts[@]}" "${longs[@]}"
    [ -z "$output" ] || {
        echo "missing from doc/grammar.md: $output"
        false
    }
}

@test "doc/grammar.md: its type and option tables are qioc's" {
    [ -x "$QIOC" ] || skip "QIOC is not set to a built qioc"
    local known doc missing extra
    known=$(table_names | sort -u)
    doc=$({
        doc_table_names "Address types"
        doc_table_names "Address options"
    } | sort -u)
    echo "names in the documented tables: $(wc -l <<<"$doc")"
    [ "$(wc -l <<<"$doc")" -gt 100 ]
    missing=$(comm -23 <(echo "$known") <(echo "$doc") | tr '\n' ' ')
    extra=$(comm -13 <(echo "$known") <(echo "$doc") | tr '\n' ' ')
    [ -z "$missing$extra" ] || {
        echo "in qioc's tables, not in a row of doc/grammar.md's: $missing"
        echo "in a row of doc/grammar.md's tables, not in qioc's: $extra"
        false
    }
}

@test "doc/grammar.md: every global option of qioc --help appears" {
    [ -x "$QIOC" ] || skip "QIOC is not set to a built qioc"
    local opts
    mapfile -t opts < <(help_options)
    echo "options in --help: ${#opts[@]}"
    [ "${#opts[@]}" -gt 20 ]
    run -0 missing_doc "${opts[@]}"
    [ -z "$output" ] || {
        echo "in qioc --help but not in doc/grammar.md: $output"
        false
    }
}
