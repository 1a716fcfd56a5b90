#!/usr/bin/env bash
#
# contrib/bench/run.sh - qioc and socat side by side, in one run
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   contrib/bench/run.sh [tcp|unix|pipe|tls|tls-parallel|idle|http|udp|socks]...
#                        [--size BYTES] [--runs N] [--conns N]
#                        [--duration SECS] [--clients N] [--tls-clients LIST]
#
# Without a benchmark name, runs them all (http only when wrk and nginx are
# installed; socks with the SOCKS5 servers that are). Environment: QIOC (a
# qioc binary or the libtool wrapper src/qioc of a build tree), SOCAT, CC,
# PYTHON, WRK, NGINX, MICROSOCKS, DANTED.
# README.md in this directory says what each benchmark measures. Exit
# status 1 when a transfer failed, whether or not targets are met.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
GIB=$((1 << 30))
TIMEOUT=600                    # seconds any one process may take
SOCAT=${SOCAT:-socat}
CC=${CC:-cc}
PYTHON=${PYTHON:-python3}
WRK=${WRK:-wrk}
NGINX=${NGINX:-nginx}
MICROSOCKS=${MICROSOCKS:-microsocks}
DANTED=${DANTED:-danted}

usage() {
    cat <<'EOF'
usage: contrib/bench/run.sh [tcp|unix|pipe|tls|tls-parallel|idle|http|udp|socks]... [OPTION]...

  tcp     4 GiB through a TCP forwarder (TCP-LISTEN -> TCP)
  unix    4 GiB through a unix socket forwarder
  pipe    4 GiB from a pipe to a pipe (-u - -)
  tls     1 GiB through TLS termination (TLS-LISTEN -> TCP)
  tls-parallel
          1 GiB in all from 1, 4 and 16 TLS clients at once through a fork
          listener (TLS-LISTEN,fork -> TCP): qioc with workers=1, with its
          default and with --workers=auto, against socat OPENSSL-LISTEN,fork;
          aggregate MB/s and the relay's CPU %
  idle    RSS per idle forwarded connection (TCP-LISTEN,fork)
  http    requests/s, wrk -> relay (TCP-LISTEN,fork) -> nginx, with a new
          connection per request and with keep-alive (needs wrk, nginx)
  udp     datagrams/s, udp-load -> relay (UDP-LISTEN,fork) -> udp-load echo,
          64 and 1400 bytes, 1 and 50 peers
  socks   SOCKS5 servers (microsocks, dante, qioc SOCKS-SERVER): new
          connections/s (socks-load, handshake + 64-byte request + 1 KiB
          answer) and one 1 GiB transfer; the server's CPU per connection

  --size BYTES     bytes per run (K, M, G suffixes; default 4G, 1G for tls,
                   tls-parallel and socks); in tls-parallel, shared among
                   the clients of a run
  --runs N         runs per contender; medians are reported (default 5,
                   3 for udp and socks)
  --conns N        connections held by the idle benchmark (default 1000)
  --duration SECS  seconds per wrk run of the http benchmark (default 5),
                   per udp-load run of the udp benchmark (default 2), per
                   socks-load run of the socks benchmark (default 5)
  --clients N      wrk's connections in the http benchmark, socks-load's
                   in the socks benchmark (default 50)
  --tls-clients LIST
                   the numbers of parallel clients of tls-parallel, comma-
                   separated (default 1,4,16)

Environment: QIOC=path to qioc or to the libtool wrapper src/qioc
(default: src/qioc of this tree, else qioc in PATH), SOCAT, CC, PYTHON,
WRK, NGINX (default: nginx in PATH, else /usr/sbin/nginx), MICROSOCKS,
DANTED (default: danted in PATH, else /usr/sbin/danted).
EOF
}

die() {
    echo "run.sh: $*" >&2
    exit 1
}

# ------------------------------------------------------------ arguments

parse_size() {
    local s=${1^^}

    [[ $s =~ ^([0-9]+)([KMG]?)(I?B)?$ ]] || die "bad size: $1"
    case ${BASH_REMATCH[2]} in
    K) echo $((BASH_REMATCH[1] << 10)) ;;
    M) echo $((BASH_REMATCH[1] << 20)) ;;
    G) echo $((BASH_REMATCH[1] << 30)) ;;
    *) echo $((BASH_REMATCH[1])) ;;
    esac
}

benches=()
size_opt=""
runs=5
runs_set=0
conns=1000
duration=5
duration_set=0
clients=50
tls_clients=1,4,16
while (($#)); do
    case $1 in
    tcp | unix | pipe | tls | tls-parallel | idle | http | udp | socks)
        benches+=("$1") ;;
    --size) size_opt=$(parse_size "${2:?--size needs a value}"); shift ;;
    --size=*) size_opt=$(parse_size "${1#*=}") ;;
    --runs) runs=${2:?--runs needs a value}; runs_set=1; shift ;;
    --runs=*) runs=${1#*=}; runs_set=1 ;;
    --conns) conns=${2:?--conns needs a value}; shift ;;
    --conns=*) conns=${1#*=} ;;
    --duration) duration=${2:?--duration needs a value}; duration_set=1; shift ;;
    --duration=*) duration=${1#*=}; duration_set=1 ;;
    --clients) clients=${2:?--clients needs a value}; shift ;;
    --clients=*) clients=${1#*=} ;;
    --tls-clients) tls_clients=${2:?--tls-clients needs a value}; shift ;;
    --tls-clients=*) tls_clients=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
# Named on the command line, a benchmark whose tools are missing is an
# error; as part of "all", it is skipped with a message.
HTTP_ASKED=0
[[ " ${benches[*]} " == *" http "* ]] && HTTP_ASKED=1
SOCKS_ASKED=0
[[ " ${benches[*]} " == *" socks "* ]] && SOCKS_ASKED=1
((${#benches[@]})) || benches=(tcp unix pipe tls tls-parallel idle http udp socks)
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "bad --runs: $runs"
[[ $conns =~ ^[1-9][0-9]*$ ]] || die "bad --conns: $conns"
[[ $duration =~ ^[1-9][0-9]*$ ]] || die "bad --duration: $duration"
[[ $clients =~ ^[1-9][0-9]*$ ]] || die "bad --clients: $clients"
[[ $tls_clients =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
    die "bad --tls-clients: $tls_clients"

# ------------------------------------------------------------ processes

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qioc-bench.XXXXXX")
pids=()
# shellcheck source-path=SCRIPTDIR source=common.bash
source "$here/common.bash"




# Wait for a background process and forget it; its exit status.
reap() {
    local rc=0

    wait "$1" || rc=$?
    forget "$1"
    return "$rc"
}

# Kill a background process and its descendants, and reap it.
stop() {
    kill_tree "$1"
    reap "$1" 2>/dev/null || true
}

cleanup() {
    local pid

    for pid in "${pids[@]}"; do
        kill_tree "$pid"
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



unix_listening() { [[ -S $1 ]]; }


# The command line as one could paste it in a shell, in the directory of
# the helpers (see the header).
show() {
    local word out=""

    for word in "$@"; do
        word=${word//"$tmp/"/}
        if [[ ! $word =~ ^[][A-Za-z0-9_@%+=:,./-]+$ ]]; then
            word="'${word//\'/\'\\\'\'}'"
        fi
        out+="$word "
    done
    echo "${out% }"
}

# ------------------------------------------------------------ tools



# The C helpers are compiled for this run, optimised.
build_helpers() {
    local prog

    for prog in source sink splice-relay cputime epoll-forward udp-load \
        udp-relay socks-load; do
        "$CC" -O2 -pthread -o "$tmp/$prog" "$here/$prog.c" ||
            die "cannot compile $prog.c with $CC"
    done
    # The TLS helpers need GnuTLS's headers, as qioc does; without them
    # there is no "limit" row and the Python client sends.
    TLS_RELAY="" TLS_SOURCE=("$PYTHON" "$here/tls-source.py")
    for prog in tls-relay tls-source; do
        # shellcheck disable=SC2046  # pkg-config output is several words
        "$CC" -O2 -pthread -o "$tmp/$prog" "$here/$prog.c" \
            $(pkg-config --cflags --libs gnutls 2>/dev/null) \
            2>>"$tmp/cc.err" || continue
        case $prog in
        tls-relay) TLS_RELAY=$tmp/tls-relay ;;
        tls-source) TLS_SOURCE=("$tmp/tls-source") ;;
        esac
    done
    SOURCE=$tmp/source
    SINK=$tmp/sink
    SPLICE_RELAY=$tmp/splice-relay
    EPOLL_FORWARD=$tmp/epoll-forward
    CPUTIME=$tmp/cputime
    UDP_LOAD=$tmp/udp-load
    UDP_RELAY=$tmp/udp-relay
    SOCKS_LOAD=$tmp/socks-load
}



# The source tree qioc was configured from and its commit, when known.
qioc_source() {
    local log src

    log=$(qioc_config_log)
    [[ -n $log ]] || return 0
    src=$(sed -n 's|^  \$ \(.*\)/configure\( .*\)\{0,1\}$|\1|p' "$log" | head -1)
    [[ -n $src ]] && git -C "$src" rev-parse --git-dir >/dev/null 2>&1 ||
        return 0
    echo "$src, at $(git -C "$src" log -1 --format='%h %s' | cut -c1-50)$(
        git -C "$src" diff --quiet HEAD -- lib src 2>/dev/null ||
            echo ' + uncommitted changes in lib/ or src/')"
}

header() {
    local cpu

    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    echo "qioc benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores (${cpu:-unknown cpu}), Linux $(uname -r)," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "qioc:  $QIOC_BIN ($("${QIOC_RUN[@]}" --version 2>&1 | head -1), run from a copy taken at start," \
        "CFLAGS ${cflags:-unknown})"
    [[ -z $source ]] || echo "source: $source (the tree now; the binary may be older)"
    echo "socat: $(command -v "$SOCAT") ($("$SOCAT" -V 2>/dev/null |
        sed -n 's/^socat version \([^ ]*\).*/\1/p'))"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" \
        "(other work on the machine disturbs the figures)"
    echo "runs: $runs per contender ($( ((runs_set)) && echo "$runs" || echo 3) for udp and socks)," \
        "medians; MB/s is 10^6 bytes/s;" \
        "CPU is user+sys of the relay process only"
    echo "helpers: built in $tmp (removed at exit) with" \
        "$CC -O2 -pthread -o NAME contrib/bench/NAME.c for source, sink," \
        "splice-relay, cputime, epoll-forward, udp-load, udp-relay, socks-load; tls-relay.c and tls-source.c also with" \
        "\$(pkg-config --cflags --libs gnutls); paths in the commands below" \
        "are relative to it"
    echo "CPU: cputime FILE RELAY... records the relay's own rusage (wait4)"
    if (($(nproc) <= 2)); then
        echo "note: on $(nproc) cores the source, relay and sink share the" \
            "CPUs; every contender runs under the same load, interleaved"
    fi
}

# ------------------------------------------------------------ stream runs

# One transfer: source -> relay -> sink. Sets R_MBPS, R_CPU (CPU seconds
# per GiB of the relay; "-" without a relay), R_NOTE and R_CMDS; returns
# non-zero when the transfer failed (R_ERR says why).
run_once() {
    local bench=$1 who=$2 size=$3 d
    local relay=() src=() snk=() a b rc=0 sinkpid relaypid srcpid

    d=$(mktemp -d "$tmp/run.XXXXXX")
    R_NOTE="" R_ERR="" R_CPU="-" R_MBPS=""
    if [[ $bench == pipe ]]; then
        run_pipe "$who" "$size" "$d"
        return
    fi
    case $bench in
    unix) snk=("$SINK" unix "$d/sink.sock") ;;
    *) snk=("$SINK" tcp) ;;
    esac
    timeout -k 5 "$TIMEOUT" "${snk[@]}" >"$d/sink.out" 2>"$d/sink.err" &
    sinkpid=$!
    pids+=("$sinkpid")
    if ! poll_until "$sinkpid" has_line "$d/sink.out"; then
        R_ERR="sink did not start: $(tail -1 "$d/sink.err")"
        stop "$sinkpid"
        return 1
    fi
    b=$(head -1 "$d/sink.out")
    a=$(free_port)
    relay_command "$bench" "$who" "$a" "$b" "$d"
    case $bench in
    unix) src=("$SOURCE" "$size" unix "$d/relay.sock") ;;
    tls) src=("${TLS_SOURCE[@]}" "$size" 127.0.0.1 "$a") ;;
    *) src=("$SOURCE" "$size" tcp 127.0.0.1 "$a") ;;
    esac
    if [[ $who == direct ]]; then
        [[ $bench == unix ]] && src[3]=$d/sink.sock
        [[ $bench == tcp ]] && src[4]=$b
        R_CMDS="$(show "${snk[@]}")  (prints: $b)
    $(show "${src[@]}")"
    else
        timeout -k 5 "$TIMEOUT" "$CPUTIME" "$d/time" "${relay[@]}" >"$d/relay.out" 2>"$d/relay.err" &
        relaypid=$!
        pids+=("$relaypid")
        if [[ $bench == unix ]]; then
            poll_until "$relaypid" unix_listening "$d/relay.sock" || rc=1
        else
            poll_until "$relaypid" tcp_listening "$a" || rc=1
        fi
        if ((rc)); then
            R_ERR="relay did not listen: $(tail -3 "$d/relay.err")"
            stop "$relaypid"
            stop "$sinkpid"
            return 1
        fi
        R_CMDS="$(show "${snk[@]}")  (prints: $b)
    $RELAY_SHOW
    $(show "${src[@]}")"
    fi
    timeout -k 5 "$TIMEOUT" "${src[@]}" >"$d/source.out" 2>"$d/source.err" &
    srcpid=$!
    pids+=("$srcpid")
    reap "$srcpid" || rc=$?
    if ((rc)); then
        # The sink may never see a connection: do not wait for it.
        stop "$sinkpid"
        [[ $who == direct ]] || stop "$relaypid"
    else
        reap "$sinkpid" || rc=$?
        if [[ $who != direct ]]; then
            reap "$relaypid" || R_NOTE="relay exit status $?"
        fi
    fi
    stream_result "$d" "$size" "$rc" "$who"
}

# The relay's command line for a contender: sets relay and RELAY_SHOW.
relay_command() {
    local bench=$1 who=$2 a=$3 b=$4 d=$5 run=() args=()

    case $who in
    qioc*) run=("${QIOC_RUN[@]}") ;;
    socat) run=("$SOCAT") ;;
    esac
    case $bench/$who in
    tcp/splice-relay) run=("$SPLICE_RELAY" tcp "$a" 127.0.0.1 "$b") ;;
    tcp/qioc-b1M) args=(-b 1M "TCP-LISTEN:$a" "TCP:127.0.0.1:$b") ;;
    tcp/*) args=("TCP-LISTEN:$a" "TCP:127.0.0.1:$b") ;;
    unix/splice-relay)
        run=("$SPLICE_RELAY" unix "$d/relay.sock" "$d/sink.sock") ;;
    unix/qioc-fds-off)
        args=(--fds=off "UNIX-LISTEN:$d/relay.sock" "UNIX-CONNECT:$d/sink.sock") ;;
    unix/*) args=("UNIX-LISTEN:$d/relay.sock" "UNIX-CONNECT:$d/sink.sock") ;;
    tls/tls-relay)
        run=("$TLS_RELAY" "$a" 127.0.0.1 "$b" "$tmp/cert.pem" "$tmp/key.pem") ;;
    tls/socat)
        args=("OPENSSL-LISTEN:$a,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0"
            "TCP:127.0.0.1:$b") ;;
    tls/qioc)
        args=("TLS-LISTEN:$a,cert=$tmp/cert.pem,key=$tmp/key.pem"
            "TCP:127.0.0.1:$b") ;;
    esac
    relay=("${run[@]}" "${args[@]}")
    if [[ $who == qioc* ]]; then
        RELAY_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" "${args[@]}")"
    else
        RELAY_SHOW=$(show "${relay[@]}")
    fi
}

# source | relay | sink, all through pipes. The pipeline runs in the
# background and is waited for, so that a signal to run.sh is handled at
# once rather than when the pipeline ends.
run_pipe() {
    local who=$1 size=$2 d=$3 relay=() rc=0 st=() pid

    case $who in
    splice-relay) relay=("$SPLICE_RELAY" pipe) ;;
    socat) relay=("$SOCAT" -u - -) ;;
    qioc) relay=("${QIOC_RUN[@]}" -u - -) ;;
    esac
    if [[ $who == direct ]]; then
        R_CMDS="$(show "$SOURCE" "$size" stdout) | $(show "$SINK" stdin)"
        (
            set +e
            timeout -k 5 "$TIMEOUT" "$SOURCE" "$size" stdout \
                2>"$d/source.err" |
                timeout -k 5 "$TIMEOUT" "$SINK" stdin >"$d/sink.out" \
                    2>"$d/sink.err"
            echo "${PIPESTATUS[0]} 0 ${PIPESTATUS[1]}" >"$d/status"
        ) &
    else
        if [[ $who == qioc ]]; then
            RELAY_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" -u - -)"
        else
            RELAY_SHOW=$(show "${relay[@]}")
        fi
        R_CMDS="$(show "$SOURCE" "$size" stdout) | $RELAY_SHOW | $(show "$SINK" stdin)"
        (
            set +e
            timeout -k 5 "$TIMEOUT" "$SOURCE" "$size" stdout \
                2>"$d/source.err" |
                timeout -k 5 "$TIMEOUT" "$CPUTIME" "$d/time" "${relay[@]}" \
                    2>"$d/relay.err" |
                timeout -k 5 "$TIMEOUT" "$SINK" stdin >"$d/sink.out" \
                    2>"$d/sink.err"
            echo "${PIPESTATUS[*]}" >"$d/status"
        ) &
    fi
    pid=$!
    pids+=("$pid")
    reap "$pid" || true
    read -r -a st <"$d/status" || st=(1 1 1)
    ((st[0] == 0 && st[2] == 0)) || rc=1
    ((st[1] == 0)) || R_NOTE="relay exit status ${st[1]}"
    stream_result "$d" "$size" "$rc" "$who"
}

# sink_figures DIR SIZE RC SOURCE: the sink's byte count and seconds of
# one transfer into the caller's `bytes` and `secs`, R_INFO (what the TLS
# source negotiated) and R_MBPS; or R_ERR, with the last lines of SOURCE's,
# the sink's and the relay's stderr, and status 1.
sink_figures() {
    local d=$1 size=$2 rc=$3 source=$4 t

    read -r bytes secs < <(tail -n 1 "$d/sink.out" 2>/dev/null || true)
    if [[ -z ${secs:-} ]] || ((rc != 0)) || [[ $bytes != "$size" ]]; then
        R_ERR="sink got ${bytes:-no} bytes of $size (status $rc)"
        for t in "$source" sink relay; do
            [[ -s $d/$t.err ]] && R_ERR+="; $t: $(tail -2 "$d/$t.err" | tr '\n' ' ')"
        done
        return 1
    fi
    R_INFO=$(sed -n 's/^tls-source: //p' "$d/$source.err" 2>/dev/null)
    R_MBPS=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1e6 }')
}

# Check the byte count and read the figures of one transfer.
stream_result() {
    local d=$1 size=$2 rc=$3 who=$4 bytes secs t user sys

    sink_figures "$d" "$size" "$rc" source || return 1
    if [[ $who != direct ]]; then
        read -r _ user sys _ < <(tail -n 1 "$d/time")
        R_CPU=$(awk -v u="$user" -v s="$sys" -v b="$bytes" -v g="$GIB" \
            'BEGIN { printf "%.4f", (u + s) / (b / g) }')
    fi
    if [[ -n $R_NOTE && -s $d/relay.err ]]; then
        R_NOTE+=": $(tail -1 "$d/relay.err")"
    fi
    rm -rf "$d"
}

# The median of the numbers on stdin (blank-separated), printed with the
# awk format $1; "-" when there are none.
median() {
    tr ' ' '\n' | { grep -v '^-\?$' || true; } | sort -g |
        awk -v fmt="$1\n" '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            if (NR % 2) { printf fmt, v[(NR + 1) / 2] }
            else { printf fmt, (v[NR / 2] + v[NR / 2 + 1]) / 2 } }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        num = "^[0-9]+([.][0-9]*)?$"
        if (a !~ num || b !~ num || b == 0) print "-";
        else printf "%.2f\n", a / b }'
}

# verdict NAME NUMERATOR DENOMINATOR OP LIMIT: the ratio against the
# target, judged unrounded (0.503 does not meet "<= 0.5").
verdict() {
    if [[ $2 == - || $3 == - || -z $2 || -z $3 ]]; then
        printf '  %-46s %s\n' "$1" "not measured"
        return
    fi
    awk -v a="$2" -v b="$3" -v op="$4" -v l="$5" -v name="$1" 'BEGIN {
        v = a / b
        ok = (op == ">=" && v >= l) || (op == "<=" && v <= l)
        printf "  %-46s %6.3f  (target %s %s)  %s\n", name, v, op, l,
            ok ? "met" : "NOT MET" }'
}

# A stream benchmark: every contender, interleaved run by run.
stream_bench() {
    local bench=$1 title=$2 size=$3
    shift 3
    local contenders=("$@") who i
    declare -A mbps=() cpu=() cmds=() notes=() failed=()

    echo
    echo "== $bench: $title, $(awk -v s="$size" -v g="$GIB" \
        'BEGIN { printf "%.2f GiB", s / g }') ($size bytes) per run"
    if [[ $bench == tls && -n ${TLS_SKIPPED:-} ]]; then
        echo "  qioc SKIPPED: $TLS_SKIPPED"
    fi
    for ((i = 1; i <= runs; i++)); do
        for who in "${contenders[@]}"; do
            [[ -n ${failed[$who]:-} ]] && continue
            if run_once "$bench" "$who" "$size"; then
                mbps[$who]+="$R_MBPS "
                cpu[$who]+="$R_CPU "
                cmds[$who]=$R_CMDS
                [[ -n ${R_INFO:-} ]] && TLS_INFO[$who]=$R_INFO
                [[ -n $R_NOTE ]] && notes[$who]="$R_NOTE"
                printf '  run %d %-14s %6s MB/s  %6s CPU s/GiB%s\n' "$i" \
                    "$who" "$R_MBPS" "$R_CPU" "${R_NOTE:+  ($R_NOTE)}"
            else
                failed[$who]=$R_ERR
                echo "  run $i $who FAILED: $R_ERR"
                if [[ $bench == tls && $who == qioc ]]; then
                    # TLS is the newest part of qioc: skipped, not an error.
                    TLS_SKIPPED="qioc's TLS failed at runtime"
                    echo "  tls: qioc's TLS failed at runtime; qioc is" \
                        "skipped in this benchmark"
                else
                    FAILURES=1
                fi
            fi
        done
    done
    stream_table "$bench" "${contenders[@]}"
    echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The table of medians and the checks against the targets.
stream_table() {
    local bench=$1 who m c lim
    shift
    declare -A med_m=() med_c=()

    for who in "$@"; do
        med_m[$who]=$(median %.0f <<<"${mbps[$who]:-}")
        med_c[$who]=$(median %.3f <<<"${cpu[$who]:-}")
    done
    lim=splice-relay
    [[ $bench == tls ]] && lim=tls-relay
    echo
    printf '  %-16s %8s %10s %9s %9s %9s\n' contender MB/s "CPU s/GiB" \
        "x socat" "CPU x" "x limit"
    printf '  %-16s %8s %10s %9s %9s %9s\n' "" "" "" "(MB/s)" socat "(MB/s)"
    for who in "$@"; do
        m=${med_m[$who]}
        c=${med_c[$who]}
        [[ -n ${failed[$who]:-} && $m == - ]] && m=failed
        printf '  %-16s %8s %10s %9s %9s %9s\n' "$who" "$m" "$c" \
            "$(ratio "$m" "${med_m[socat]:--}")" \
            "$(ratio "$c" "${med_c[socat]:--}")" \
            "$(ratio "$m" "${med_m[$lim]:--}")"
    done
    echo "  limit = $lim; direct = source straight into sink, no relay"
    [[ $bench == tcp ]] && echo "  qioc-b1M is qioc -b 1M: not a" \
        "target; a qioc whose splice pipe follows -b moves 1 MiB per splice" \
        "with it, as splice-relay does (README.md, diagnosis 1)"
    [[ $bench == unix ]] && echo "  qioc forwards SCM_RIGHTS on unix" \
        "sockets by default, which rules out splice; qioc-fds-off is" \
        "qioc --fds=off"
    echo
    echo "  targets:"
    m=${med_m[qioc]:--}
    c=${med_c[qioc]:--}
    case $bench in
    tcp)
        verdict "qioc throughput / socat" "$m" "${med_m[socat]:--}" ">=" 2.3
        verdict "qioc throughput / splice-relay" "$m" "${med_m[splice-relay]:--}" ">=" 0.85
        verdict "qioc CPU per GiB / socat" "$c" "${med_c[socat]:--}" "<=" 0.5
        ;;
    unix)
        verdict "qioc CPU per GiB / socat" "$c" "${med_c[socat]:--}" "<=" 0.5
        verdict "qioc --fds=off CPU per GiB / socat" \
            "${med_c[qioc-fds-off]:--}" "${med_c[socat]:--}" "<=" 0.5
        ;;
    pipe)
        verdict "qioc -u throughput / socat -u" "$m" "${med_m[socat]:--}" ">=" 2
        verdict "qioc CPU per GiB / socat" "$c" "${med_c[socat]:--}" "<=" 0.5
        ;;
    tls)
        if [[ -n ${TLS_SKIPPED:-} ]]; then
            printf '  %-46s %s\n' "qioc throughput / socat (OPENSSL)" \
                "SKIPPED (qioc's TLS is not usable, see above)"
        else
            verdict "qioc throughput / socat (OPENSSL)" "$m" "${med_m[socat]:--}" ">=" 1
        fi
        ;;
    esac
    for who in "$@"; do
        [[ -n ${notes[$who]:-} ]] && echo "  note: $who: ${notes[$who]}"
        [[ -n ${failed[$who]:-} ]] && echo "  failed: $who: ${failed[$who]}"
    done
    echo
    echo "  commands (last run; ports and temporary paths change per run):"
    for who in "$@"; do
        [[ -n ${cmds[$who]:-} ]] || continue
        echo "  $who:"
        echo "    ${cmds[$who]}"
    done
}

# ------------------------------------------------------------ tls

# Whether qioc can do TLS; says why not on stdout otherwise.
qioc_tls_check() {
    local out rc=0 d

    out=$("${QIOC_RUN[@]}" --dry-run TLS-LISTEN:1,cert=x - 2>&1) || rc=$?
    if ((rc != 0)) || grep -qi 'not implemented\|unsupported' <<<"$out"; then
        echo "qioc --dry-run TLS-LISTEN:1,cert=x - says: $(head -1 <<<"$out")"
        return 1
    fi
    # A 1 MiB smoke test: a TLS that parses but fails at runtime is
    # reported here rather than as a benchmark failure.
    if ! run_once tls qioc $((1 << 20)); then
        echo "a 1 MiB TLS-LISTEN transfer failed: $R_ERR"
        return 1
    fi
}

# The test certificate of tls and tls-parallel, made once per run.
tls_cert() {
    [[ -s $tmp/cert.pem ]] && return
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 ||
        die "openssl cannot make a certificate"
}

tls_bench() {
    local size=${size_opt:-$GIB} why contenders=()

    TLS_INFO=() TLS_SKIPPED=""

    tls_cert
    [[ -n $TLS_RELAY ]] && contenders+=(tls-relay)
    contenders+=(socat)
    if why=$(qioc_tls_check); then
        contenders+=(qioc)
    else
        TLS_SKIPPED="TLS is not usable in this qioc: $why"
    fi
    stream_bench tls "TLS termination (TLS-LISTEN -> TCP)" "$size" \
        "${contenders[@]}"
    [[ -n $TLS_RELAY ]] ||
        echo "  (no tls-relay: cannot compile tls-relay.c against GnuTLS)"
    for why in "${!TLS_INFO[@]}"; do
        echo "  $why: the client negotiated ${TLS_INFO[$why]}"
    done
}

# ------------------------------------------------------------ tls-parallel

# The contenders of tls-parallel: a fork listener on 127.0.0.1:A that
# terminates TLS and forwards each client to the sink on B. Sets relay,
# RELAY_SHOW, and for qioc TLSP_ARGS (its arguments).
tlsp_command() {
    local who=$1 a=$2 b=$3 cred

    cred="cert=$tmp/cert.pem,key=$tmp/key.pem"
    TLSP_ARGS=()
    case $who in
    socat)
        relay=("$SOCAT" "OPENSSL-LISTEN:$a,fork,reuseaddr,backlog=4096,bind=127.0.0.1,$cred,verify=0"
            "TCP:127.0.0.1:$b")
        RELAY_SHOW=$(show "${relay[@]}")
        return ;;
    qioc-w1) TLSP_ARGS=("TLS-LISTEN:$a,fork,workers=1,bind=127.0.0.1,$cred") ;;
    qioc) TLSP_ARGS=("TLS-LISTEN:$a,fork,bind=127.0.0.1,$cred") ;;
    qioc-auto) TLSP_ARGS=(--workers=auto "TLS-LISTEN:$a,fork,bind=127.0.0.1,$cred") ;;
    esac
    TLSP_ARGS+=("TCP:127.0.0.1:$b")
    relay=("${QIOC_RUN[@]}" "${TLSP_ARGS[@]}")
    RELAY_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" "${TLSP_ARGS[@]}")"
}

# One run: K tls-source clients at once, SIZE / K bytes each, through a
# contender's fork listener into one sink that counts them all. Sets
# R_MBPS (aggregate), R_PCT (the relay's CPU in per cent of one CPU over
# the sink's time), R_CPU (its CPU seconds per GiB), R_INFO, R_NOTE,
# R_CMDS; returns non-zero when the run failed (R_ERR says why).
tlsp_once() {
    local who=$1 k=$2 size=$3 d per total a b relay=() relaypid sinkpid
    local src=() srcpids=() pid i n rc=0 t0 t1 bytes secs t

    d=$(mktemp -d "$tmp/run.XXXXXX")
    R_MBPS="" R_PCT="-" R_CPU="-" R_NOTE="" R_ERR="" R_CMDS="" R_INFO=""
    per=$((size / k))
    total=$((per * k))
    timeout -k 5 "$TIMEOUT" "$SINK" tcp "$k" >"$d/sink.out" 2>"$d/sink.err" &
    sinkpid=$!
    pids+=("$sinkpid")
    if ! poll_until "$sinkpid" has_line "$d/sink.out"; then
        R_ERR="sink did not start: $(tail -1 "$d/sink.err")"
        stop "$sinkpid"
        return 1
    fi
    b=$(head -1 "$d/sink.out")
    a=$(free_port)
    tlsp_command "$who" "$a" "$b"
    # exec: the background job is the relay itself, so $! is its pid and
    # tree_ticks finds socat's children under it.
    (exec timeout -k 5 "$TIMEOUT" "${relay[@]}" >/dev/null 2>"$d/relay.err") &
    relaypid=$!
    pids+=("$relaypid")
    if ! poll_until "$relaypid" tcp_listening "$a"; then
        R_ERR="relay did not listen: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
        stop "$relaypid"
        stop "$sinkpid"
        return 1
    fi
    src=("${TLS_SOURCE[@]}" "$per" 127.0.0.1 "$a")
    R_CMDS="$(show "$SINK" tcp "$k")  (prints: $b)
    $RELAY_SHOW
    $(show "${src[@]}")  (x $k, at once)"
    t0=$(tree_ticks "$relaypid")
    for ((i = 1; i <= k; i++)); do
        timeout -k 5 "$TIMEOUT" "${src[@]}" >/dev/null 2>"$d/source$i.err" &
        srcpids+=("$!")
        pids+=("$!")
    done
    for pid in "${srcpids[@]}"; do
        reap "$pid" || rc=$?
    done
    if ((rc)); then
        stop "$sinkpid" # some connections may never reach it
    else
        reap "$sinkpid" || rc=$?
    fi
    # socat's children end when their client has: wait for them (5 s at
    # most), so that socat has reaped them and their CPU is in its cutime.
    for ((n = 0; n < 500; n++)); do
        (($(tree "$relaypid" | wc -l) <= 2)) && break
        sleep 0.01
    done
    t1=$(tree_ticks "$relaypid")
    alive "$relaypid" || R_NOTE="$who exited during the run"
    stop "$relaypid"
    sink_figures "$d" "$total" "$rc" source1 || return 1
    R_PCT=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v s="$secs" \
        'BEGIN { printf "%.0f", t / hz / s * 100 }')
    R_CPU=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v b="$bytes" -v g="$GIB" \
        'BEGIN { printf "%.3f", t / hz / (b / g) }')
    rm -rf "$d"
}

plural() { (($1 == 1)) || echo s; }

# The workers a qioc contender's listener gets here, from --dry-run:
# sets TLSP_WORKERS; non-zero, with TLSP_WHY, when qioc refuses it.
tlsp_workers() {
    local out rc=0

    tlsp_command "$1" 1 2
    out=$("${QIOC_RUN[@]}" --dry-run "${TLSP_ARGS[@]}" 2>&1) || rc=$?
    TLSP_WORKERS=$(head -1 <<<"$out" | sed -n 's/.*,workers=\([0-9]*\),.*/\1/p')
    TLSP_WHY="qioc --dry-run ${TLSP_ARGS[*]//"$tmp/"/} says: $(head -1 <<<"$out")"
    ((rc == 0)) && [[ -n $TLSP_WORKERS ]]
}

tlsp_bench() {
    local size=${size_opt:-$GIB} why i k who key m ks=() contenders=(socat)
    declare -A mbps=() pct=() cpu=() pfailed=() pcmds=() pnotes=() med=()
    declare -A pinfo=()
    declare -A workers=() label=([socat]="socat OPENSSL-LISTEN,fork"
        [qioc-w1]="qioc workers=1" [qioc]="qioc, default workers"
        [qioc-auto]="qioc --workers=auto")

    CLK_TCK=$(getconf CLK_TCK)
    IFS=, read -r -a ks <<<"$tls_clients"
    tls_cert
    echo
    echo "== tls-parallel: TLS termination by a fork listener" \
        "(TLS-LISTEN,fork -> TCP), ${tls_clients//,/, } clients at once," \
        "$(awk -v s="$size" -v g="$GIB" 'BEGIN { printf "%.2f GiB", s / g }')" \
        "($size bytes) in all per run"
    if why=$(qioc_tls_check); then
        for who in qioc-w1 qioc qioc-auto; do
            if tlsp_workers "$who"; then
                workers[$who]=$TLSP_WORKERS
                contenders+=("$who")
            else
                echo "  $who SKIPPED: $TLSP_WHY"
            fi
        done
    else
        echo "  qioc SKIPPED: TLS is not usable in this qioc: $why"
    fi
    echo "  each client: ${TLS_SOURCE[*]##*/} SIZE/K 127.0.0.1 A (GnuTLS" \
        "client, sends from memory); one sink counts every connection, from" \
        "the first byte on any to the last end-of-file"
    for ((i = 1; i <= runs; i++)); do
        for k in "${ks[@]}"; do
            for who in "${contenders[@]}"; do
                key=$k/$who
                [[ -n ${pfailed[$key]:-} ]] && continue
                if tlsp_once "$who" "$k" "$size"; then
                    mbps[$key]+="$R_MBPS "
                    pct[$key]+="$R_PCT "
                    cpu[$key]+="$R_CPU "
                    pcmds[$key]=$R_CMDS
                    [[ -n $R_INFO ]] && pinfo[$who]=$R_INFO
                    [[ -n $R_NOTE ]] &&
                        pnotes[$key]+="${pnotes[$key]:+; }run $i: $R_NOTE"
                    printf '  run %d %2d client%-1s %-10s %6s MB/s %5s %% CPU %7s CPU s/GiB%s\n' \
                        "$i" "$k" "$(plural "$k")" "$who" "$R_MBPS" "$R_PCT" \
                        "$R_CPU" "${R_NOTE:+  ($R_NOTE)}"
                else
                    pfailed[$key]=$R_ERR
                    FAILURES=1
                    echo "  run $i $k client$(plural "$k") $who FAILED: $R_ERR"
                fi
            done
        done
    done
    for key in "${!mbps[@]}"; do
        med[m/$key]=$(median %.0f <<<"${mbps[$key]}")
        med[p/$key]=$(median %.0f <<<"${pct[$key]}")
        med[c/$key]=$(median %.3f <<<"${cpu[$key]}")
    done
    echo
    printf '  %7s %-10s %8s %8s %7s %10s %9s\n' clients contender MB/s \
        "x socat" "CPU %" "CPU s/GiB" "CPU x"
    printf '  %7s %-10s %8s %8s %7s %10s %9s\n' "" "" "(all)" "(MB/s)" \
        "" "" socat
    for k in "${ks[@]}"; do
        for who in "${contenders[@]}"; do
            key=$k/$who
            m=${med[m/$key]:--}
            [[ -n ${pfailed[$key]:-} && $m == - ]] && m=failed
            printf '  %7s %-10s %8s %8s %7s %10s %9s\n' "$k" "$who" "$m" \
                "$(ratio "$m" "${med[m/$k/socat]:--}")" "${med[p/$key]:--}" \
                "${med[c/$key]:--}" \
                "$(ratio "${med[c/$key]:--}" "${med[c/$k/socat]:--}")"
        done
    done
    echo "  medians of $runs runs; MB/s: all the clients' bytes at the sink" \
        "over the time from the first byte to the last end-of-file; CPU:" \
        "user+sys of the relay's processes (socat's forked children" \
        "included; /proc/PID/stat, 1/$CLK_TCK s ticks) from before the first" \
        "client to after the last, in per cent of one CPU over the sink's" \
        "time (100 = one core) and per GiB"
    for who in "${contenders[@]}"; do
        echo "  $who: ${label[$who]}${workers[$who]:+ (qioc --dry-run: workers=${workers[$who]} here, $(nproc) CPUs online)}"
    done
    echo
    echo "  targets:"
    for k in "${ks[@]}"; do
        ((k > 1)) || continue
        verdict "qioc (default) / socat MB/s, $k client$(plural "$k")" \
            "${med[m/$k/qioc]:--}" "${med[m/$k/socat]:--}" ">=" 1
    done
    echo
    echo "  comparisons (no targets):"
    for k in "${ks[@]}"; do
        printf '  %-46s %6s\n' "qioc workers=1 / default MB/s, $k client$(plural "$k")" \
            "$(ratio "${med[m/$k/qioc-w1]:--}" "${med[m/$k/qioc]:--}")"
        printf '  %-46s %6s\n' "qioc --workers=auto / socat MB/s, $k client$(plural "$k")" \
            "$(ratio "${med[m/$k/qioc-auto]:--}" "${med[m/$k/socat]:--}")"
        printf '  %-46s %6s\n' "qioc --workers=auto / default MB/s, $k client$(plural "$k")" \
            "$(ratio "${med[m/$k/qioc-auto]:--}" "${med[m/$k/qioc]:--}")"
    done
    for k in "${ks[@]}"; do
        for who in "${contenders[@]}"; do
            key=$k/$who
            [[ -n ${pnotes[$key]:-} ]] && echo "  note: $key: ${pnotes[$key]}"
            [[ -n ${pfailed[$key]:-} ]] && echo "  failed: $key: ${pfailed[$key]}"
        done
    done
    for who in "${contenders[@]}"; do
        [[ -n ${pinfo[$who]:-} ]] &&
            echo "  $who: the clients negotiated ${pinfo[$who]}"
    done
    echo
    echo "  commands (last run of the largest number of clients; ports and" \
        "temporary paths change per run):"
    k=${ks[-1]}
    for who in "${contenders[@]}"; do
        [[ -n ${pcmds[$k/$who]:-} ]] || continue
        echo "  $k/$who:"
        echo "    ${pcmds[$k/$who]}"
    done
    echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------ idle

# RSS and PSS (KiB), processes and descriptors, summed over a process and
# its descendants: "RSS PSS PROCESSES DESCRIPTORS".
mem_tree() {
    local procs=() pid fd=() fds=0 status=() smaps=() rss pss

    read -r -d '' -a procs < <(tree "$1") || true
    for pid in "${procs[@]}"; do
        fd=(/proc/"$pid"/fd/*)
        fds=$((fds + ${#fd[@]}))
        status+=("/proc/$pid/status")
        smaps+=("/proc/$pid/smaps_rollup")
    done
    rss=$(awk '/^VmRSS:/ { s += $2 } END { print s + 0 }' \
        "${status[@]}" /dev/null 2>/dev/null || true)
    pss=$(awk '/^Pss:/ { s += $2 } END { print s + 0 }' \
        "${smaps[@]}" /dev/null 2>/dev/null || true)
    echo "$rss $pss ${#procs[@]} $fds"
}

# Send a command to idle.py and read its answer into ans (no subshell:
# a signal interrupts the read at once).
idle_ask() {
    [[ -z $1 ]] || echo "$1" >&"$idle_in"
    read -r -t 120 ans <&"$idle_out" || ans="error: no answer"
}

# One idle measurement of a contender: sets IDLE_RESULT to "rss_before
# rss_after processes pss_before pss_after rss_after_ping" and IDLE_SHOW.
idle_once() {
    local who=$1 a b relaypid ans before after ping relay=()
    local rb pb ra pa na rp fb fa fp idle_pid

    coproc IDLE { exec "$PYTHON" "$here/idle.py" 2>"$tmp/idle.err"; }
    # bash forgets IDLE and IDLE_PID once the coprocess has ended: copy them.
    # shellcheck disable=SC2153  # IDLE_PID is set by coproc
    idle_pid=$IDLE_PID idle_in=${IDLE[1]} idle_out=${IDLE[0]}
    pids+=("$idle_pid")
    idle_ask ""
    [[ $ans == backend* ]] || die "idle.py did not start: $ans"
    b=${ans#backend }
    a=$(free_port)
    case $who in
    qioc) relay=("${QIOC_RUN[@]}" "TCP-LISTEN:$a,fork" "TCP:127.0.0.1:$b")
        IDLE_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" "TCP-LISTEN:$a,fork" "TCP:127.0.0.1:$b")" ;;
    socat) relay=("$SOCAT" "TCP-LISTEN:$a,fork" "TCP:127.0.0.1:$b")
        IDLE_SHOW=$(show "${relay[@]}") ;;
    esac
    # exec: the background job is the relay itself, so $! is its pid.
    (exec "${relay[@]}" 2>"$tmp/idle-relay.err") &
    relaypid=$!
    pids+=("$relaypid")
    poll_until "$relaypid" tcp_listening "$a" ||
        die "$who did not listen: $(tail -2 "$tmp/idle-relay.err")"
    before=$(mem_tree "$relaypid")
    idle_ask "connect $a $conns"
    [[ $ans == "ready $conns" ]] || die "idle $who: $ans"
    after=$(mem_tree "$relaypid")
    idle_ask "ping"
    [[ $ans == "pinged $conns" ]] || die "idle $who: $ans"
    ping=$(mem_tree "$relaypid")
    idle_ask "close"
    stop "$relaypid"
    reap "$idle_pid" || true
    read -r rb pb _ fb <<<"$before"
    read -r ra pa na fa <<<"$after"
    read -r rp _ _ fp <<<"$ping"
    IDLE_RESULT="$rb $ra $na $pb $pa $rp $fb $fa $fp"
}

idle_bench() {
    local who i need rb ra na pb pa rp fb fa fp
    declare -A per=() perp=() ping=() procs=() base=() fds=()

    need=$((conns * 8 + 100))
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if (($(ulimit -n) < need)); then
        echo "note: ulimit -n is $(ulimit -n); $conns connections want $need"
    fi
    echo
    echo "== idle: $conns idle connections through TCP-LISTEN:A,fork" \
        "TCP:127.0.0.1:B"
    for ((i = 1; i <= runs; i++)); do
        for who in qioc socat; do
            idle_once "$who"
            read -r rb ra na pb pa rp fb fa fp <<<"$IDLE_RESULT"
            per[$who]+="$(awk -v a="$ra" -v b="$rb" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / n }') "
            perp[$who]+="$(awk -v a="$pa" -v b="$pb" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / n }') "
            ping[$who]+="$(awk -v a="$rp" -v b="$rb" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / n }') "
            procs[$who]=$na
            base[$who]+="$rb "
            fds[$who]="$fb/$fa/$fp"
            printf '  run %d %-6s RSS %7d -> %8d KiB (%d processes), after one byte each way %8d KiB\n' \
                "$i" "$who" "$rb" "$ra" "$na" "$rp"
            cmds[$who]=$IDLE_SHOW
        done
    done
    echo
    printf '  %-8s %10s %10s %14s %14s %16s\n' contender processes \
        "RSS before" "RSS KiB/conn" "PSS KiB/conn" "after 1 byte"
    printf '  %-8s %10s %10s %14s %14s %16s\n' "" "" "(KiB)" "(idle)" \
        "(idle)" "RSS KiB/conn"
    for who in qioc socat; do
        printf '  %-8s %10s %10s %14s %14s %16s\n' "$who" "${procs[$who]}" \
            "$(median %.0f <<<"${base[$who]}")" "$(median %.1f <<<"${per[$who]}")" \
            "$(median %.1f <<<"${perp[$who]}")" "$(median %.1f <<<"${ping[$who]}")"
    done
    echo "  RSS and PSS are summed over the relay's processes (socat forks" \
        "one per client); kernel socket and pipe memory is not in them."
    echo "  PSS shares each shared page among the processes mapping it: the" \
        "fair figure for socat's forked children."
    for who in qioc socat; do
        echo "  $who: descriptors before / idle / after one byte each way:" \
            "${fds[$who]}"
    done
    echo
    echo "  targets:"
    verdict "qioc RSS growth per idle connection (KiB)" \
        "$(median %.1f <<<"${per[qioc]}")" 1 "<=" 100
    echo
    echo "  commands (last run): python3 $here/idle.py is the backend and the" \
        "$conns clients"
    for who in qioc socat; do
        echo "  $who: ${cmds[$who]}"
    done
}
# ------------------------------------------------------------ http

# wrk and nginx are there (NGINX may become /usr/sbin/nginx, which is not
# in a user's PATH); else HTTP_MISSING says which are not.
http_tools() {
    local missing=()

    command -v "$WRK" >/dev/null || missing+=("wrk (apt-get install wrk)")
    if ! command -v "$NGINX" >/dev/null; then
        if [[ $NGINX == nginx && -x /usr/sbin/nginx ]]; then
            NGINX=/usr/sbin/nginx
        else
            missing+=("nginx (apt-get install nginx)")
        fi
    fi
    HTTP_MISSING=""
    ((${#missing[@]} == 0)) && return 0
    HTTP_MISSING="no ${missing[0]}${missing[1]:+ and no ${missing[1]}}"
    return 1
}

# One GET of the test file through 127.0.0.1:PORT: status 200 and the
# whole file, or a failure.
http_get() {
    "$PYTHON" - "$1" <<'EOF'
import sys
import urllib.request

url = "http://127.0.0.1:%s/index.html" % sys.argv[1]
with urllib.request.urlopen(url, timeout=10) as r:
    body = r.read()
sys.exit(0 if r.status == 200 and len(body) == 1024 else 1)
EOF
}

# An nginx of our own on a free unprivileged port, configured here: one
# worker, access_log off, a 1 KiB static file. Sets NGINX_PORT, NGINX_PID
# and NGINX_SHOW.
nginx_start() {
    local dir=$tmp/nginx

    mkdir -p "$dir/www" "$dir/logs" "$dir/temp"
    head -c 1024 /dev/zero | tr '\0' x >"$dir/www/index.html"
    if ((EUID == 0)); then
        # nginx started by root runs its worker as nobody: let it reach the
        # file (mktemp made $tmp private).
        chmod 711 "$tmp"
        chmod 755 "$dir" "$dir/www"
        chmod 644 "$dir/www/index.html"
    fi
    NGINX_PORT=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
# Written by contrib/bench/run.sh (http): the backend of every contender.
# One worker: the relay is single-threaded, wrk runs one thread, and on a
# small machine more workers only take CPU from the relay being measured.
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    # Keep-alive connections stay open for the whole run (default: 1000
    # requests, then the client reconnects).
    keepalive_requests 1000000;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $dir/www;
    }
}
EOF
    (exec "$NGINX" -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf" \
        2>"$dir/logs/stderr") &
    NGINX_PID=$!
    pids+=("$NGINX_PID")
    poll_until "$NGINX_PID" tcp_listening "$NGINX_PORT" ||
        die "nginx did not listen on port $NGINX_PORT: $(cat "$dir/logs/stderr" \
            "$dir/logs/error.log" 2>/dev/null | tail -3 | tr '\n' ' ')"
    http_get "$NGINX_PORT" >/dev/null 2>&1 ||
        die "nginx on port $NGINX_PORT does not serve /index.html:" \
            "$(tail -3 "$dir/logs/error.log" 2>/dev/null | tr '\n' ' ')"
    NGINX_SHOW="$(show "$NGINX" -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf")"
}

# Stop a relay started under timeout and cputime once its work is done,
# so that cputime can write the relay's rusage.
relay_stop() {
    local pid=$1 n

    # socat's children outlive their clients by up to 0.5 s (its -t):
    # wait for them, so that socat reaps them and their CPU time counts.
    for ((n = 0; n < 500; n++)); do
        (($(tree "$pid" | wc -l) <= 3)) && break
        sleep 0.01
    done
    # timeout passes SIGTERM to cputime, which passes it to the relay.
    kill -TERM "$pid" 2>/dev/null || true
    for ((n = 0; n < 500; n++)); do
        alive "$pid" || break
        sleep 0.01
    done
    stop "$pid"
}

# One wrk run through a contender in MODE (close: a new connection per
# request; keepalive). Sets R_REQS (requests/s), R_CPU (microseconds of
# the relay's CPU per request, "-" without a relay), R_NOTE, R_CMDS;
# returns non-zero when the run failed (R_ERR says why).
http_once() {
    local who=$1 mode=$2 d port relay=() relaypid wrk=() hdr=() pid rc=0
    local total user sys errs non2xx

    d=$(mktemp -d "$tmp/run.XXXXXX")
    R_REQS="" R_CPU="-" R_NOTE="" R_ERR="" R_CMDS=""
    port=$NGINX_PORT
    if [[ $who != direct ]]; then
        port=$(free_port)
        case $who in
        epoll-forward)
            relay=("$EPOLL_FORWARD" "$port" 127.0.0.1 "$NGINX_PORT")
            RELAY_SHOW=$(show "${relay[@]}") ;;
        socat)
            relay=("$SOCAT" "TCP-LISTEN:$port,fork,reuseaddr"
                "TCP:127.0.0.1:$NGINX_PORT")
            RELAY_SHOW=$(show "${relay[@]}") ;;
        qioc)
            relay=("${QIOC_RUN[@]}" "TCP-LISTEN:$port,fork"
                "TCP:127.0.0.1:$NGINX_PORT")
            RELAY_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" "TCP-LISTEN:$port,fork" \
                "TCP:127.0.0.1:$NGINX_PORT")" ;;
        esac
        timeout -k 5 "$TIMEOUT" "$CPUTIME" "$d/time" "${relay[@]}" \
            >/dev/null 2>"$d/relay.err" &
        relaypid=$!
        pids+=("$relaypid")
        if ! poll_until "$relaypid" tcp_listening "$port"; then
            R_ERR="relay did not listen: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
            stop "$relaypid"
            return 1
        fi
        if ! http_get "$port" >/dev/null 2>&1; then
            R_ERR="a GET through the relay failed: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
            stop "$relaypid"
            return 1
        fi
        R_CMDS="$RELAY_SHOW
    "
    fi
    [[ $mode == close ]] && hdr=(-H 'Connection: close')
    wrk=("$WRK" -t1 "-c$clients" "-d${duration}s" "${hdr[@]}"
        "http://127.0.0.1:$port/index.html")
    R_CMDS+=$(show "${wrk[@]}")
    # In the background and waited for: a signal to run.sh acts at once.
    timeout -k 5 $((duration + 60)) "${wrk[@]}" >"$d/wrk.out" 2>"$d/wrk.err" &
    pid=$!
    pids+=("$pid")
    reap "$pid" || rc=$?
    [[ $who == direct ]] || relay_stop "$relaypid"
    total=$(awk '/ requests in / { print $1 }' "$d/wrk.out")
    R_REQS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$d/wrk.out")
    if ((rc != 0)) || [[ -z $R_REQS || ${total:-0} == 0 ]]; then
        R_ERR="wrk (status $rc): $(cat "$d/wrk.err" "$d/wrk.out" | tail -3 | tr '\n' ' ')"
        [[ -s $d/relay.err ]] && R_ERR+="; relay: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
        return 1
    fi
    R_REQS=$(awk -v r="$R_REQS" 'BEGIN { printf "%.0f", r }')
    errs=$(sed -n 's/^ *Socket errors: //p' "$d/wrk.out")
    non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: //p' "$d/wrk.out")
    [[ -n $errs ]] && R_NOTE="wrk socket errors: $errs"
    [[ -n $non2xx ]] && R_NOTE+="${R_NOTE:+; }non-2xx responses: $non2xx"
    if [[ $who != direct ]]; then
        if read -r _ user sys _ < <(tail -n 1 "$d/time" 2>/dev/null); then
            R_CPU=$(awk -v u="$user" -v s="$sys" -v n="$total" \
                'BEGIN { printf "%.1f", (u + s) / n * 1e6 }')
        fi
    fi
    rm -rf "$d"
}

http_bench() {
    local i mode who m key label
    local -a modes=(close keepalive) contenders=(direct epoll-forward socat qioc)
    declare -A reqs=() cpu=() hfailed=() hcmds=() hnotes=() med_r=() med_c=()
    declare -A mode_name=([close]="new connection per request"
        [keepalive]=keep-alive)

    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    nginx_start
    echo
    echo "== http: wrk -t1 -c$clients -d${duration}s -> relay" \
        "(TCP-LISTEN:A,fork -> TCP:127.0.0.1:B) -> nginx, a 1 KiB file"
    echo "  nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), 1" \
        "worker, access_log off, config written to nginx/nginx.conf;" \
        "wrk: $("$WRK" -v 2>&1 | head -1 | cut -d' ' -f1-2), 1 thread," \
        "no CPU pinning"
    echo "  modes: close = a new connection per request (wrk -H" \
        "'Connection: close'), keepalive = $clients persistent connections"
    for ((i = 1; i <= runs; i++)); do
        for mode in "${modes[@]}"; do
            for who in "${contenders[@]}"; do
                key=$mode/$who
                [[ -n ${hfailed[$key]:-} ]] && continue
                if http_once "$who" "$mode"; then
                    reqs[$key]+="$R_REQS "
                    cpu[$key]+="$R_CPU "
                    hcmds[$key]=$R_CMDS
                    [[ -n $R_NOTE ]] &&
                        hnotes[$key]+="${hnotes[$key]:+; }run $i: $R_NOTE"
                    printf '  run %d %-9s %-14s %7s req/s %7s CPU us/req%s\n' \
                        "$i" "$mode" "$who" "$R_REQS" "$R_CPU" \
                        "${R_NOTE:+  ($R_NOTE)}"
                else
                    hfailed[$key]=$R_ERR
                    FAILURES=1
                    echo "  run $i $mode $who FAILED: $R_ERR"
                fi
            done
        done
    done
    for key in "${!reqs[@]}"; do
        med_r[$key]=$(median %.0f <<<"${reqs[$key]}")
        med_c[$key]=$(median %.1f <<<"${cpu[$key]}")
    done
    echo
    printf '  %-14s | %-33s | %-33s\n' "" "${mode_name[close]}" \
        "${mode_name[keepalive]}"
    printf '  %-14s | %8s %8s %6s %8s | %8s %8s %6s %8s\n' contender req/s \
        "x epoll" "x" "CPU" req/s "x epoll" "x" "CPU"
    printf '  %-14s | %8s %8s %6s %8s | %8s %8s %6s %8s\n' "" "" "" socat \
        "us/req" "" "" socat "us/req"
    for who in "${contenders[@]}"; do
        label=$who
        printf '  %-14s' "$label"
        for mode in "${modes[@]}"; do
            key=$mode/$who
            m=${med_r[$key]:--}
            [[ -n ${hfailed[$key]:-} && $m == - ]] && m=failed
            printf ' | %8s %8s %6s %8s' "$m" \
                "$(ratio "$m" "${med_r[$mode/epoll-forward]:--}")" \
                "$(ratio "$m" "${med_r[$mode/socat]:--}")" \
                "${med_c[$key]:--}"
        done
        echo
    done
    echo "  medians of $runs runs; CPU = user+sys of the relay's processes" \
        "(socat's forked children included) per request; direct = wrk" \
        "straight to nginx"
    echo
    echo "  targets:"
    for mode in "${modes[@]}"; do
        verdict "qioc / epoll-forward req/s, $mode" \
            "${med_r[$mode/qioc]:--}" "${med_r[$mode/epoll-forward]:--}" ">=" 0.8
    done
    for mode in "${modes[@]}"; do
        printf '  %-46s %6s  (no target)\n' "qioc / socat req/s, $mode" \
            "$(ratio "${med_r[$mode/qioc]:--}" "${med_r[$mode/socat]:--}")"
    done
    # The steadier figure on a busy machine: the relay's own CPU.
    for mode in "${modes[@]}"; do
        printf '  %-46s %6s  (no target; lower is better)\n' \
            "qioc / epoll-forward CPU/req, $mode" \
            "$(ratio "${med_c[$mode/qioc]:--}" "${med_c[$mode/epoll-forward]:--}")"
    done
    for mode in "${modes[@]}"; do
        for who in "${contenders[@]}"; do
            key=$mode/$who
            [[ -n ${hnotes[$key]:-} ]] && echo "  note: $key: ${hnotes[$key]}"
            [[ -n ${hfailed[$key]:-} ]] && echo "  failed: $key: ${hfailed[$key]}"
        done
    done
    echo
    echo "  commands (last run; ports and temporary paths change per run):"
    echo "  nginx (once, for all runs): $NGINX_SHOW"
    for mode in "${modes[@]}"; do
        for who in "${contenders[@]}"; do
            key=$mode/$who
            [[ -n ${hcmds[$key]:-} ]] || continue
            echo "  $key:"
            echo "    ${hcmds[$key]}"
        done
    done
    stop "$NGINX_PID"
    echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
# ------------------------------------------------------------ udp

udp_bound() { [[ -n $(ss -Hlun "sport = :$1" 2>/dev/null) ]]; }

# A free UDP port, from the kernel (see udp-load.c: python3 would take a
# second to start on a busy machine, once per run).
free_udp_port() { "$UDP_LOAD" port; }

# The echo backend of every contender, started once: sets UDP_ECHO_PORT,
# UDP_ECHO_PID and UDP_ECHO_SHOW.
udp_echo_start() {
    (exec "$UDP_LOAD" echo >"$tmp/echo.out" 2>"$tmp/echo.err") &
    UDP_ECHO_PID=$!
    pids+=("$UDP_ECHO_PID")
    poll_until "$UDP_ECHO_PID" has_line "$tmp/echo.out" ||
        die "udp-load echo did not start: $(tail -1 "$tmp/echo.err")"
    UDP_ECHO_PORT=$(head -1 "$tmp/echo.out")
    UDP_ECHO_SHOW=$(show "$UDP_LOAD" echo)
}

# The window of each peer: 32 datagrams for one peer; 2 each for 50, so
# that the datagrams in flight (100) fit in the 208 KiB default receive
# buffer of a relay's one front socket, even at 1400 bytes.
udp_window() {
    if (($1 == 1)); then
        echo 32
    else
        echo $(((100 + $1 - 1) / $1))
    fi
}

# Stop a relay started under timeout and cputime: socat's per-sender
# children first (they never end by themselves: UDP has no end-of-file),
# so that socat reaps them and their CPU time counts; then the relay.
udp_relay_stop() {
    local pid=$1 c r kids

    for c in $(pgrep -P "$pid"); do                   # cputime
        for r in $(pgrep -P "$c"); do                 # the relay
            kids=$(pgrep -P "$r" || true)
            # shellcheck disable=SC2086  # one pid per word
            [[ -z $kids ]] || kill $kids 2>/dev/null || true
        done
    done
    relay_stop "$pid"
}

# One udp-load run of SIZE-byte datagrams from PEERS peers through a
# contender. Sets U_RATE (round trips/s), U_SENT, U_LOST, U_MIS, U_CPU
# (the relay's CPU nanoseconds per datagram forwarded, "-" without a
# relay), U_NOTE, R_CMDS; returns non-zero when the run failed (R_ERR).
udp_once() {
    local who=$1 size=$2 peers=$3 d port relay=() relaypid load=() pid rc=0
    local out received user sys

    d=$(mktemp -d "$tmp/run.XXXXXX")
    U_RATE="" U_CPU="-" U_NOTE="" R_ERR="" R_CMDS=""
    port=$UDP_ECHO_PORT
    if [[ $who != direct ]]; then
        port=$(free_udp_port)
        case $who in
        udp-relay)
            relay=("$UDP_RELAY" "$port" 127.0.0.1 "$UDP_ECHO_PORT")
            RELAY_SHOW=$(show "${relay[@]}") ;;
        socat)
            relay=("$SOCAT" "UDP-LISTEN:$port,fork,bind=127.0.0.1,reuseaddr"
                "UDP:127.0.0.1:$UDP_ECHO_PORT")
            RELAY_SHOW=$(show "${relay[@]}") ;;
        qioc)
            relay=("${QIOC_RUN[@]}" "UDP-LISTEN:$port,fork,bind=127.0.0.1"
                "UDP:127.0.0.1:$UDP_ECHO_PORT")
            RELAY_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" \
                "UDP-LISTEN:$port,fork,bind=127.0.0.1" \
                "UDP:127.0.0.1:$UDP_ECHO_PORT")" ;;
        esac
        timeout -k 5 "$TIMEOUT" "$CPUTIME" "$d/time" "${relay[@]}" \
            >/dev/null 2>"$d/relay.err" &
        relaypid=$!
        pids+=("$relaypid")
        if ! poll_until "$relaypid" udp_bound "$port"; then
            R_ERR="relay did not bind: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
            stop "$relaypid"
            return 1
        fi
        R_CMDS="$RELAY_SHOW
    "
    fi
    load=("$UDP_LOAD" load 127.0.0.1 "$port" --peers "$peers" --size "$size"
        --window "$(udp_window "$peers")" --seconds "$duration" --drain 0.5)
    R_CMDS+=$(show "${load[@]}")
    timeout -k 5 $((duration + 60)) "${load[@]}" >"$d/load.out" \
        2>"$d/load.err" &
    pid=$!
    pids+=("$pid")
    reap "$pid" || rc=$?
    [[ $who == direct ]] || udp_relay_stop "$relaypid"
    out=$(tail -1 "$d/load.out" 2>/dev/null || true)
    U_RATE=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
    U_SENT=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out")
    received=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$out")
    U_LOST=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$out")
    U_MIS=$(sed -n 's/.*misrouted=\([0-9]*\).*/\1/p' <<<"$out")
    if [[ -z $U_RATE || -z $received || $received == 0 ]] ||
        { ((rc != 0)) && ((${U_MIS:-0} == 0)); }; then
        R_ERR="udp-load (status $rc): $(cat "$d/load.err" "$d/load.out" | tail -2 | tr '\n' ' ')"
        [[ -s $d/relay.err ]] && R_ERR+="; relay: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
        return 1
    fi
    ((rc == 0)) || U_NOTE="$out"
    if [[ $who != direct ]]; then
        if read -r _ user sys _ < <(tail -n 1 "$d/time" 2>/dev/null); then
            U_CPU=$(awk -v u="$user" -v s="$sys" -v n="$received" \
                'BEGIN { printf "%.0f", (u + s) / (2 * n) * 1e9 }')
        fi
    fi
    rm -rf "$d"
}

udp_bench() {
    local i cfg size peers who key m c sent lost
    local -a cfgs=("64 1" "1400 1" "64 50" "1400 50")
    local -a contenders=(direct udp-relay socat qioc)
    declare -A rate=() cpu=() usent=() ulost=() umis=() ufailed=() ucmds=()
    declare -A unotes=() med_r=() med_c=()

    ((runs_set)) || runs=3
    ((duration_set)) || duration=2
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    udp_echo_start
    echo
    echo "== udp: udp-load load -> relay (UDP-LISTEN:A,fork ->" \
        "UDP:127.0.0.1:B) -> udp-load echo, ${duration} s per run"
    echo "  round trips: each peer keeps a window of datagrams in flight" \
        "(32 with 1 peer, 2 each with 50) and sends one more per answer;" \
        "the echo answers each datagram to its sender"
    for ((i = 1; i <= runs; i++)); do
        for cfg in "${cfgs[@]}"; do
            read -r size peers <<<"$cfg"
            for who in "${contenders[@]}"; do
                key="$size/$peers/$who"
                [[ -n ${ufailed[$key]:-} ]] && continue
                # direct is context, not a contender: once is enough.
                [[ $who == direct ]] && ((i > 1)) && continue
                if udp_once "$who" "$size" "$peers"; then
                    rate[$key]+="$U_RATE "
                    cpu[$key]+="$U_CPU "
                    usent[$key]=$((${usent[$key]:-0} + U_SENT))
                    ulost[$key]=$((${ulost[$key]:-0} + U_LOST))
                    umis[$key]=$((${umis[$key]:-0} + U_MIS))
                    ucmds[$key]=$R_CMDS
                    [[ -n $U_NOTE ]] &&
                        unotes[$key]+="${unotes[$key]:+; }run $i: $U_NOTE"
                    printf '  run %d %4d B %2d peers %-10s %8s rt/s %6s lost %5s CPU ns/dgram\n' \
                        "$i" "$size" "$peers" "$who" "$U_RATE" "$U_LOST" "$U_CPU"
                else
                    ufailed[$key]=$R_ERR
                    FAILURES=1
                    echo "  run $i $size B $peers peers $who FAILED: $R_ERR"
                fi
            done
        done
    done
    for key in "${!rate[@]}"; do
        med_r[$key]=$(median %.0f <<<"${rate[$key]}")
        med_c[$key]=$(median %.0f <<<"${cpu[$key]}")
    done
    echo
    printf '  %5s %5s %-10s %9s %8s %8s %8s %6s %7s %9s\n' bytes peers contender \
        "rt/s" "x socat" "x limit" "CPU ns/" "CPU x" lost misrouted
    printf '  %5s %5s %-10s %9s %8s %8s %8s %6s %7s %9s\n' "" "" "" "" "" "" \
        dgram socat "" ""
    for cfg in "${cfgs[@]}"; do
        read -r size peers <<<"$cfg"
        for who in "${contenders[@]}"; do
            key="$size/$peers/$who"
            m=${med_r[$key]:--}
            c=${med_c[$key]:--}
            [[ -n ${ufailed[$key]:-} && $m == - ]] && m=failed
            sent=${usent[$key]:-0}
            lost=$(awk -v l="${ulost[$key]:-0}" -v s="$sent" \
                'BEGIN { if (s == 0) print "-"; else printf "%.2f%%", 100 * l / s }')
            printf '  %5s %5s %-10s %9s %8s %8s %8s %6s %7s %9s\n' "$size" \
                "$peers" "$who" "$m" \
                "$(ratio "$m" "${med_r[$size/$peers/socat]:--}")" \
                "$(ratio "$m" "${med_r[$size/$peers/udp-relay]:--}")" \
                "$c" "$(ratio "$c" "${med_c[$size/$peers/socat]:--}")" \
                "$lost" "${umis[$key]:--}"
        done
    done
    echo "  rt/s: round trips per second (answers received while sending)," \
        "medians of $runs runs; limit = udp-relay; direct = udp-load" \
        "straight to the echo, no relay (run 1 only: the ceiling, for context)"
    echo "  CPU ns/dgram: user+sys of the relay's processes (socat's forked" \
        "children included) per datagram forwarded (two per round trip);" \
        "lost: (sent - answered after a 0.5 s drain) / sent, over all runs"
    echo
    echo "  targets:"
    for size in 64 1400; do
        verdict "qioc / socat rt/s, $size B, 1 peer" \
            "${med_r[$size/1/qioc]:--}" "${med_r[$size/1/socat]:--}" ">=" 2
        verdict "qioc / socat rt/s, $size B, 50 peers" \
            "${med_r[$size/50/qioc]:--}" "${med_r[$size/50/socat]:--}" ">=" 5
    done
    for cfg in "${cfgs[@]}"; do
        read -r size peers <<<"$cfg"
        verdict "qioc / udp-relay rt/s, $size B, $peers peer$( ((peers > 1)) && echo s)" \
            "${med_r[$size/$peers/qioc]:--}" \
            "${med_r[$size/$peers/udp-relay]:--}" ">=" 0.7
    done
    for cfg in "${cfgs[@]}"; do
        read -r size peers <<<"$cfg"
        for who in "${contenders[@]}"; do
            key="$size/$peers/$who"
            [[ -n ${unotes[$key]:-} ]] && echo "  note: $key: ${unotes[$key]}"
            [[ -n ${ufailed[$key]:-} ]] && echo "  failed: $key: ${ufailed[$key]}"
        done
    done
    echo
    echo "  commands (last run; ports change per run):"
    echo "  echo backend (once, for all runs): $UDP_ECHO_SHOW"
    for cfg in "${cfgs[@]}"; do
        read -r size peers <<<"$cfg"
        for who in "${contenders[@]}"; do
            key="$size/$peers/$who"
            [[ -n ${ucmds[$key]:-} ]] || continue
            echo "  $key:"
            echo "    ${ucmds[$key]}"
        done
    done
    kill -TERM "$UDP_ECHO_PID" 2>/dev/null || true
    reap "$UDP_ECHO_PID" || true
    echo "  the echo answered $(sed -n 's/^echoed //p' "$tmp/echo.out")" \
        "datagrams in all"
    echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
# ------------------------------------------------------------ socks

# The SOCKS5 servers there are to measure: sets SOCKS_SERVERS, and
# SOCKS_NOTES for those skipped; SOCKS_MISSING and non-zero when there is
# none at all.
socks_tools() {
    local out rc=0

    [[ -n ${SOCKS_SERVERS+set} ]] && { ((${#SOCKS_SERVERS[@]})); return; }
    SOCKS_SERVERS=() SOCKS_NOTES=()
    if command -v "$MICROSOCKS" >/dev/null; then
        SOCKS_SERVERS+=(microsocks)
    else
        SOCKS_NOTES+=("microsocks SKIPPED: no $MICROSOCKS (apt-get install microsocks)")
    fi
    if ! command -v "$DANTED" >/dev/null && [[ $DANTED == danted && -x /usr/sbin/danted ]]; then
        DANTED=/usr/sbin/danted
    fi
    if command -v "$DANTED" >/dev/null; then
        SOCKS_SERVERS+=(dante)
    else
        SOCKS_NOTES+=("dante SKIPPED: no $DANTED (apt-get install dante-server)")
    fi
    # qioc's SOCKS server is recent: without it, qioc is skipped, not failed.
    out=$("${QIOC_RUN[@]}" --dry-run 'SOCKS-SERVER|TCP-LISTEN:1,fork,bind=127.0.0.1' \
        DYNAMIC 2>&1) || rc=$?
    if ((rc == 0)); then
        SOCKS_SERVERS+=(qioc)
    else
        SOCKS_NOTES+=("qioc SKIPPED: qioc --dry-run 'SOCKS-SERVER|TCP-LISTEN:1,fork,bind=127.0.0.1' DYNAMIC says: $(head -1 <<<"$out")")
    fi
    SOCKS_MISSING="no SOCKS5 server to measure: $(printf '%s; ' "${SOCKS_NOTES[@]}")"
    SOCKS_MISSING=${SOCKS_MISSING%; }
    ((${#SOCKS_SERVERS[@]}))
}

# CPU clock ticks (user + system, with those of reaped children) of a
# process and its descendants, from /proc/PID/stat: dante's children come
# and go, and its mother does not reap them all at exit, so wait4 (cputime)
# would miss some; this also leaves the server's start-up out.
tree_ticks() {
    local pid files=()

    for pid in $(tree "$1"); do
        files+=("/proc/$pid/stat")
    done
    # Field 2, the command name in parentheses, may hold blanks.
    { cat "${files[@]}" 2>/dev/null || true; } |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}

# dante's configuration for a server on 127.0.0.1:PORT, into FILE: no
# authentication, loopback to loopback only, errors to stderr.
dante_conf() {
    cat >"$2" <<CONF
# Written by contrib/bench/run.sh (socks): dante for the loopback only.
logoutput: stderr
internal: 127.0.0.1 port = $1
external: 127.0.0.1
clientmethod: none
socksmethod: none
CONF
    if ((EUID == 0)); then
        cat >>"$2" <<'CONF'
user.privileged: root
user.unprivileged: nobody
CONF
    fi
    cat >>"$2" <<'CONF'
client pass {
    from: 127.0.0.0/8 to: 127.0.0.0/8
}
socks pass {
    from: 127.0.0.0/8 to: 127.0.0.0/8
    command: connect
}
CONF
}

# Start a contender's SOCKS5 server on a free port, in directory D: sets
# SOCKS_PID, SOCKS_PORT and RELAY_SHOW; non-zero (R_ERR) when it does not
# listen.
socks_start() {
    local who=$1 d=$2 relay=() args=()

    SOCKS_PORT=$(free_port)
    case $who in
    microsocks)
        relay=("$MICROSOCKS" -i 127.0.0.1 -p "$SOCKS_PORT")
        RELAY_SHOW=$(show "${relay[@]}") ;;
    dante)
        dante_conf "$SOCKS_PORT" "$d/danted.conf"
        relay=("$DANTED" -f "$d/danted.conf" -p "$d/danted.pid")
        RELAY_SHOW="$(show "${relay[@]}")  (run.XXXXXX/danted.conf: see below)" ;;
    qioc)
        args=("SOCKS-SERVER|TCP-LISTEN:$SOCKS_PORT,fork,reuseaddr,bind=127.0.0.1"
            DYNAMIC)
        relay=("${QIOC_RUN[@]}" "${args[@]}")
        RELAY_SHOW="$QIOC_SHOW$(show "$QIOC_BIN" "${args[@]}")" ;;
    esac
    # exec: the background job is the server itself, so $! is its pid.
    # microsocks logs every connection to stderr.
    (exec "${relay[@]}" >/dev/null 2>"$d/relay.err") &
    SOCKS_PID=$!
    pids+=("$SOCKS_PID")
    if ! poll_until "$SOCKS_PID" tcp_listening "$SOCKS_PORT"; then
        R_ERR="$who did not listen: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
        stop "$SOCKS_PID"
        return 1
    fi
}

# The target of every contender, started once: sets SOCKS_TARGET_PORT,
# SOCKS_TARGET_PID and SOCKS_TARGET_SHOW.
socks_target_start() {
    (exec "$SOCKS_LOAD" target >"$tmp/target.out" 2>"$tmp/target.err") &
    SOCKS_TARGET_PID=$!
    pids+=("$SOCKS_TARGET_PID")
    poll_until "$SOCKS_TARGET_PID" has_line "$tmp/target.out" ||
        die "socks-load target did not start: $(tail -1 "$tmp/target.err")"
    SOCKS_TARGET_PORT=$(head -1 "$tmp/target.out")
    SOCKS_TARGET_SHOW=$(show "$SOCKS_LOAD" target)
}

# A value KEY=N of socks-load's line.
load_field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

# One socks-load run through a contender (direct: straight to the
# target). Sets R_RATE (connections/s), R_CPU (the server's CPU
# microseconds per connection, "-" without a server), R_ERRORS, R_NOTE,
# R_CMDS; returns non-zero when the run failed (R_ERR says why).
socks_conn_once() {
    local who=$1 d load=() pid rc=0 t0 t1 out done_n

    d=$(mktemp -d "$tmp/run.XXXXXX")
    R_RATE="" R_CPU="-" R_ERRORS=0 R_NOTE="" R_ERR="" R_CMDS=""
    load=("$SOCKS_LOAD" load 127.0.0.1 "$SOCKS_TARGET_PORT"
        --clients "$clients" --seconds "$duration")
    if [[ $who != direct ]]; then
        socks_start "$who" "$d" || return 1
        load+=(--socks5 "127.0.0.1:$SOCKS_PORT")
        R_CMDS="$RELAY_SHOW
    "
        t0=$(tree_ticks "$SOCKS_PID")
    fi
    R_CMDS+=$(show "${load[@]}")
    # In the background and waited for: a signal to run.sh acts at once.
    timeout -k 5 $((duration + 60)) "${load[@]}" >"$d/load.out" \
        2>"$d/load.err" &
    pid=$!
    pids+=("$pid")
    reap "$pid" || rc=$?
    if [[ $who != direct ]]; then
        t1=$(tree_ticks "$SOCKS_PID")
        alive "$SOCKS_PID" || R_NOTE="$who exited during the run"
        stop "$SOCKS_PID"
    fi
    out=$(tail -1 "$d/load.out" 2>/dev/null || true)
    R_RATE=$(load_field rate "$out")
    if ((rc != 0)) || [[ -z $R_RATE ]]; then
        R_ERR="socks-load (status $rc): $(cat "$d/load.err" "$d/load.out" | tail -2 | tr '\n' ' ')"
        [[ -s $d/relay.err ]] && R_ERR+="; $who: $(tail -2 "$d/relay.err" | tr '\n' ' ')"
        return 1
    fi
    R_ERRORS=$(load_field errors "$out")
    done_n=$(($(load_field completed "$out") + $(load_field late "$out")))
    if ((R_ERRORS > 0)); then
        R_NOTE+="${R_NOTE:+; }$R_ERRORS errors ($(sed 's/.*errors=[0-9]* //; s/ seconds=.*//' <<<"$out")): $(sed -n 's/^socks-load: first error: //p' "$d/load.err")"
    fi
    if [[ $who != direct ]]; then
        # The check connection is one more.
        R_CPU=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$((done_n + 1))" \
            'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    fi
    rm -rf "$d"
}

# One transfer of SIZE bytes, source -> SOCKS5 server -> sink, on one
# connection (direct: source -> sink). Sets R_MBPS, R_CPU (the server's
# CPU seconds per GiB, "-" without a server), R_NOTE, R_CMDS; returns
# non-zero when it failed (R_ERR).
socks_bulk_once() {
    local who=$1 size=$2 d src=() sinkpid srcpid b rc=0 t0 t1 bytes secs t

    d=$(mktemp -d "$tmp/run.XXXXXX")
    R_MBPS="" R_CPU="-" R_NOTE="" R_ERR="" R_CMDS=""
    timeout -k 5 "$TIMEOUT" "$SINK" tcp >"$d/sink.out" 2>"$d/sink.err" &
    sinkpid=$!
    pids+=("$sinkpid")
    if ! poll_until "$sinkpid" has_line "$d/sink.out"; then
        R_ERR="sink did not start: $(tail -1 "$d/sink.err")"
        stop "$sinkpid"
        return 1
    fi
    b=$(head -1 "$d/sink.out")
    if [[ $who == direct ]]; then
        src=("$SOURCE" "$size" tcp 127.0.0.1 "$b")
    else
        if ! socks_start "$who" "$d"; then
            stop "$sinkpid"
            return 1
        fi
        src=("$SOURCE" "$size" socks5 127.0.0.1 "$SOCKS_PORT" 127.0.0.1 "$b")
        R_CMDS="$RELAY_SHOW
    "
        t0=$(tree_ticks "$SOCKS_PID")
    fi
    R_CMDS="$(show "$SINK" tcp)  (prints: $b)
    $R_CMDS$(show "${src[@]}")"
    timeout -k 5 "$TIMEOUT" "${src[@]}" >"$d/source.out" 2>"$d/source.err" &
    srcpid=$!
    pids+=("$srcpid")
    reap "$srcpid" || rc=$?
    if ((rc)); then
        stop "$sinkpid" # it may never see a connection
    else
        reap "$sinkpid" || rc=$?
    fi
    if [[ $who != direct ]]; then
        t1=$(tree_ticks "$SOCKS_PID")
        stop "$SOCKS_PID"
    fi
    read -r bytes secs < <(tail -n 1 "$d/sink.out" 2>/dev/null || true)
    if [[ -z ${secs:-} ]] || ((rc != 0)) || [[ $bytes != "$size" ]]; then
        R_ERR="sink got ${bytes:-no} bytes of $size (status $rc)"
        for t in source sink relay; do
            [[ -s $d/$t.err ]] && R_ERR+="; $t: $(tail -2 "$d/$t.err" | tr '\n' ' ')"
        done
        return 1
    fi
    R_MBPS=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1e6 }')
    if [[ $who != direct ]]; then
        R_CPU=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v b="$bytes" -v g="$GIB" \
            'BEGIN { printf "%.3f", t / hz / (b / g) }')
    fi
    rm -rf "$d"
}

socks_bench() {
    local i who key m note size=${size_opt:-$GIB} contenders=(direct)
    declare -A rate=() ccpu=() errs=() mbps=() bcpu=() sfailed=() scmds=()
    declare -A snotes=() med=()

    ((runs_set)) || runs=3
    ((duration_set)) || duration=5
    CLK_TCK=$(getconf CLK_TCK)
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    contenders+=("${SOCKS_SERVERS[@]}")
    socks_target_start
    echo
    echo "== socks: SOCKS5 servers: socks-load -> server -> target, new" \
        "connections, ${duration} s per run; and $(awk -v s="$size" -v g="$GIB" \
            'BEGIN { printf "%.2f GiB", s / g }') ($size bytes) through one connection"
    echo "  connections: $clients clients, each in a loop: connect, greet" \
        "(05 01 00 -> 05 00), CONNECT 127.0.0.1:target (reply 00), send 64" \
        "bytes, read a 1 KiB answer to end-of-file (the target closes), close"
    echo "  transfer: source SIZE socks5 (the same handshake, then splice)" \
        "-> server -> sink; MB/s counted at the sink"
    command -v "$MICROSOCKS" >/dev/null &&
        echo "  microsocks: $(command -v "$MICROSOCKS") ($(dpkg-query -W \
            -f '${Version}' microsocks 2>/dev/null || echo 'version unknown')," \
            "a thread per client)"
    command -v "$DANTED" >/dev/null &&
        echo "  dante: $(command -v "$DANTED") ($("$DANTED" -v 2>&1 | head -1 |
            sed 's/\. *Copyright.*//'), processes: negotiate, request, io" \
            "children; $( ((EUID == 0)) && echo 'as root, children as nobody' ||
                echo 'unprivileged'))"
    for note in "${SOCKS_NOTES[@]}"; do
        echo "  $note"
    done
    for ((i = 1; i <= runs; i++)); do
        for who in "${contenders[@]}"; do
            # direct is context, not a contender: once is enough.
            [[ $who == direct ]] && ((i > 1)) && continue
            key=conn/$who
            [[ -n ${sfailed[$key]:-} ]] && continue
            if socks_conn_once "$who"; then
                rate[$who]+="$R_RATE "
                ccpu[$who]+="$R_CPU "
                errs[$who]=$((${errs[$who]:-0} + R_ERRORS))
                scmds[$key]=$R_CMDS
                [[ -n $R_NOTE ]] &&
                    snotes[$key]+="${snotes[$key]:+; }run $i: $R_NOTE"
                printf '  run %d conn  %-11s %7s conn/s %8s CPU us/conn%s\n' \
                    "$i" "$who" "$R_RATE" "$R_CPU" "${R_NOTE:+  ($R_NOTE)}"
            else
                sfailed[$key]=$R_ERR
                FAILURES=1
                echo "  run $i conn  $who FAILED: $R_ERR"
            fi
        done
        for who in "${contenders[@]}"; do
            [[ $who == direct ]] && ((i > 1)) && continue
            key=bulk/$who
            [[ -n ${sfailed[$key]:-} ]] && continue
            if socks_bulk_once "$who" "$size"; then
                mbps[$who]+="$R_MBPS "
                bcpu[$who]+="$R_CPU "
                scmds[$key]=$R_CMDS
                printf '  run %d bulk  %-11s %7s MB/s   %8s CPU s/GiB\n' \
                    "$i" "$who" "$R_MBPS" "$R_CPU"
            else
                sfailed[$key]=$R_ERR
                FAILURES=1
                echo "  run $i bulk  $who FAILED: $R_ERR"
            fi
        done
    done
    for who in "${contenders[@]}"; do
        med[r/$who]=$(median %.0f <<<"${rate[$who]:-}")
        med[c/$who]=$(median %.1f <<<"${ccpu[$who]:-}")
        med[m/$who]=$(median %.0f <<<"${mbps[$who]:-}")
        med[b/$who]=$(median %.3f <<<"${bcpu[$who]:-}")
    done
    echo
    printf '  %-11s | %8s %7s %8s %7s | %7s %7s %9s\n' "" "new" "x" "CPU" "" \
        "" "x" "CPU"
    printf '  %-11s | %8s %7s %8s %7s | %7s %7s %9s\n' contender "conn/s" \
        "micro" "us/conn" errors "MB/s" "micro" "s/GiB"
    for who in "${contenders[@]}"; do
        m=${med[r/$who]}
        [[ -n ${sfailed[conn/$who]:-} && $m == - ]] && m=failed
        printf '  %-11s | %8s %7s %8s %7s' "$who" "$m" \
            "$(ratio "$m" "${med[r/microsocks]:--}")" "${med[c/$who]}" \
            "${errs[$who]:--}"
        m=${med[m/$who]}
        [[ -n ${sfailed[bulk/$who]:-} && $m == - ]] && m=failed
        printf ' | %7s %7s %9s\n' "$m" "$(ratio "$m" "${med[m/microsocks]:--}")" \
            "${med[b/$who]}"
    done
    for who in microsocks dante qioc; do
        [[ " ${contenders[*]} " == *" $who "* ]] ||
            printf '  %-11s | %8s %7s %8s %7s | %7s %7s %9s\n' "$who" skipped \
                - - - skipped - -
    done
    echo "  medians of $runs runs (direct: run 1 only, no server: the ceiling," \
        "for context); x micro = ratio to microsocks; errors: failed" \
        "connections over all runs"
    echo "  CPU = user+sys of the server's processes (dante's children" \
        "included; /proc/PID/stat before and after the load, 1/$CLK_TCK s" \
        "ticks) per connection completed, per GiB moved"
    echo
    echo "  comparisons (no targets):"
    for who in microsocks dante; do
        printf '  %-46s %6s\n' "qioc / $who conn/s" \
            "$(ratio "${med[r/qioc]:--}" "${med[r/$who]:--}")"
        printf '  %-46s %6s  (lower is better)\n' "qioc / $who CPU per connection" \
            "$(ratio "${med[c/qioc]:--}" "${med[c/$who]:--}")"
        printf '  %-46s %6s\n' "qioc / $who MB/s" \
            "$(ratio "${med[m/qioc]:--}" "${med[m/$who]:--}")"
    done
    for key in "${!snotes[@]}"; do
        echo "  note: $key: ${snotes[$key]}"
    done
    for key in "${!sfailed[@]}"; do
        echo "  failed: $key: ${sfailed[$key]}"
    done
    echo
    echo "  commands (last run; ports and temporary paths change per run):"
    echo "  target (once, for all runs): $SOCKS_TARGET_SHOW"
    for key in conn bulk; do
        for who in "${contenders[@]}"; do
            [[ -n ${scmds[$key/$who]:-} ]] || continue
            echo "  $key/$who:"
            echo "    ${scmds[$key/$who]}"
        done
    done
    if [[ " ${contenders[*]} " == *" dante "* ]]; then
        echo "  danted.conf (PORT from the kernel per run):"
        dante_conf PORT /dev/stdout | sed 's/^/    /'
    fi
    kill -TERM "$SOCKS_TARGET_PID" 2>/dev/null || true
    reap "$SOCKS_TARGET_PID" || true
    echo "  the target answered $(sed -n 's/^served //p' "$tmp/target.out")" \
        "requests in all"
    echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
declare -A cmds=() TLS_INFO=()

# ------------------------------------------------------------ main

resolve_qioc
cflags=$(qioc_cflags)
source=$(qioc_source)
command -v "$SOCAT" >/dev/null || die "no socat (apt-get install socat)"
command -v "$PYTHON" >/dev/null || die "no $PYTHON"
command -v ss >/dev/null || die "no ss (apt-get install iproute2)"
if ((HTTP_ASKED)) && ! http_tools; then
    die "http: $HTTP_MISSING"
fi
if ((SOCKS_ASKED)) && ! socks_tools; then
    die "socks: $SOCKS_MISSING"
fi
build_helpers
header
[[ $cflags == *-O[1-3s]* || -z $cflags ]] ||
    echo "warning: qioc was built with CFLAGS '$cflags', not optimised"

FAILURES=0
for bench in "${benches[@]}"; do
    case $bench in
    tcp) stream_bench tcp "TCP forward (TCP-LISTEN -> TCP)" \
        "${size_opt:-$((4 * GIB))}" direct splice-relay socat qioc \
        qioc-b1M ;;
    unix) stream_bench unix "unix socket forward (UNIX-LISTEN -> UNIX-CONNECT)" \
        "${size_opt:-$((4 * GIB))}" direct splice-relay socat qioc qioc-fds-off ;;
    pipe) stream_bench pipe "pipe to pipe (-u - -)" \
        "${size_opt:-$((4 * GIB))}" direct splice-relay socat qioc ;;
    tls) tls_bench ;;
    tls-parallel) tlsp_bench ;;
    idle) idle_bench ;;
    udp) udp_bench ;;
    socks)
        if socks_tools; then
            socks_bench
        else
            echo
            echo "== socks: SKIPPED: $SOCKS_MISSING"
        fi
        ;;
    http)
        if http_tools; then
            http_bench
        elif ((HTTP_ASKED)); then
            die "http: $HTTP_MISSING"
        else
            echo
            echo "== http: SKIPPED: $HTTP_MISSING"
        fi
        ;;
    esac
done
if ((FAILURES)); then
    echo
    echo "run.sh: some transfers failed (see FAILED above)" >&2
    exit 1
fi
