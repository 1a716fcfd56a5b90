#!/usr/bin/env bash
#
# contrib/bench/c10k.sh - ten thousand connections through one fork
# listener: memory and CPU per connection, descriptors left behind
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   contrib/bench/c10k.sh [--clients N] [--active N] [--seconds S]
#                         [--size BYTES] [--socat-clients N]
#
# For each contender, qioc `TCP-LISTEN:A,fork TCP:127.0.0.1:B` and then
# socat with the same addresses (a process per client), one run:
#   1. c10k-load echo, the backend on port B (one epoll loop), and the
#      relay start; the relay's RSS, PSS, descriptors and CPU are sampled;
#   2. c10k-load clients opens N connections to A, at most 256 connecting
#      at once (socat gets backlog=4096, qioc's default: with its own, 5,
#      SYNs are dropped while it forks, a 1 s retransmit each), and waits;
#      once the backend holds all N (every one forwarded), the relay is
#      sampled again: RSS per idle connection, CPU per connection set up;
#   3. the first --active connections do echo round trips of --size bytes
#      for --seconds while the others stay idle: round trips per second
#      and the relay's CPU per round trip; RSS sampled with all N open;
#   4. every client closes; once the backend holds none, the relay's
#      descriptors must be what they were before the first client.
# RSS is VmRSS of /proc/PID/status, PSS is Pss of /proc/PID/smaps_rollup
# and CPU the first field of /proc/PID/schedstat (nanoseconds on a CPU),
# each summed over the relay's processes (socat's children with it).
# Target (issue 21): qioc at most 12 KiB of RSS per idle connection, and
# no descriptor left once the clients have closed.
#
# Exit status: 0 targets met, 1 not met or a connection went wrong,
# 2 a setup failure. Environment: QIOC (a qioc binary or the libtool
# wrapper src/qioc of a build tree; default src/qioc of this tree, else
# qioc in PATH), SOCAT, CC, PYTHON.
set -eEuo pipefail
# A command that fails: status 2, not 1, and which one it was.
trap 'echo "c10k.sh: line $LINENO: $BASH_COMMAND failed" >&2; exit 2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
SOCAT=${SOCAT:-socat}
CC=${CC:-cc}
PYTHON=${PYTHON:-python3}
TARGET_KIB=12
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: contrib/bench/c10k.sh [OPTION]...

N connections held at once through qioc's TCP-LISTEN,fork (one process),
then through socat's (a process per client), to an echo backend; some
idle, some in echo round trips. Prints RSS and PSS per connection, CPU
per connection set up and per round trip, and descriptors before, with
all connections open and after they closed.

  --clients N        connections through qioc (default 10000; fewer
                     when the hard descriptor limit allows fewer: qioc
                     holds two per connection)
  --active N         of them, the ones in round trips (default N / 10)
  --seconds S        how long the round trips go on (default 10)
  --size BYTES       bytes per round trip, each way (default 64)
  --socat-clients N  connections through socat (default: as many as
                     through qioc; a process each; 0 leaves socat out)
  -h, --help         this text

Exit status: 0 targets met, 1 not met or a connection went wrong,
2 setup failure. Environment: QIOC=path to qioc or to the libtool wrapper
src/qioc (default: src/qioc of this tree, else qioc in PATH), SOCAT, CC,
PYTHON.
EOF
}

die() {
    echo "c10k.sh: $*" >&2
    exit 2
}

clients=10000
active=""
seconds=10
size=64
socat_clients=""
while (($#)); do
    case $1 in
    --clients) clients=${2:?--clients needs a value}; shift ;;
    --clients=*) clients=${1#*=} ;;
    --active) active=${2:?--active needs a value}; shift ;;
    --active=*) active=${1#*=} ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift ;;
    --seconds=*) seconds=${1#*=} ;;
    --size) size=${2:?--size needs a value}; shift ;;
    --size=*) size=${1#*=} ;;
    --socat-clients) socat_clients=${2:?--socat-clients needs a value}; shift ;;
    --socat-clients=*) socat_clients=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $clients =~ ^[1-9][0-9]*$ ]] || die "bad --clients: $clients"
[[ -z $active || $active =~ ^[0-9]+$ ]] || die "bad --active: $active"
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "bad --seconds: $seconds"
if [[ ! $size =~ ^[1-9][0-9]*$ ]] || ((size > 65536)); then
    die "bad --size: $size (1 to 65536)"
fi
[[ -z $socat_clients || $socat_clients =~ ^[0-9]+$ ]] ||
    die "bad --socat-clients: $socat_clients"

# ------------------------------------------------------------ processes

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qioc-c10k.XXXXXX")
pids=()
# shellcheck source-path=SCRIPTDIR source=common.bash
source "$here/common.bash"

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

# ------------------------------------------------------------ sampling

# sample PID: sums over PID and its descendants: S_RSS and S_PSS (KiB),
# S_FDS, S_CPU (ns on a CPU), S_PROCS; fails when PID is gone. One awk
# per figure for all the processes, which may be thousands (socat); one
# that ends meanwhile is left out.
sample() {
    local p dirs=()

    [[ -r /proc/$1/status ]] || return 1
    for p in $(tree "$1"); do
        dirs+=("/proc/$p")
    done
    S_PROCS=${#dirs[@]}
    S_RSS=$(sum_field VmRSS: 2 "${dirs[@]/%//status}")
    S_PSS=$(sum_field Pss: 2 "${dirs[@]/%//smaps_rollup}")
    S_CPU=$(sum_field "" 1 "${dirs[@]/%//schedstat}")
    S_FDS=$(find "${dirs[@]/%//fd}" -mindepth 1 -maxdepth 1 2>/dev/null |
        wc -l)
    ((S_PROCS > 0 && S_RSS > 0))
}

# sum_field KEY FIELD FILE...: the sum of FIELD on the lines starting
# with KEY (every line for ""), over the FILEs that can be read.
sum_field() {
    local key=$1 field=$2
    shift 2
    awk -v k="$key" -v f="$field" 'k == "" || $1 == k { s += $f }
        END { printf "%.0f\n", s }' "$@" 2>/dev/null || true
}

# The connections the backend holds now.
held() {
    local n

    read -r n <"$tmp/backend.status" 2>/dev/null || n=0
    echo "${n:-0}"
}

backend_holds() { [[ $(held) == "$1" ]]; }

# poll_long SECONDS PID CMD...: poll_until with a longer limit.
poll_long() {
    local secs=$1 pid=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}

# Division to one decimal: div A B.
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? a / b : 0 }'; }

# ------------------------------------------------------------ one contender

# load_line WORD TIMEOUT: the next line of the load generator, which must
# start with WORD; its fields in LINE.
load_line() {
    local got

    IFS= read -r -t "$2" -u "$LOAD_OUT" got ||
        die "$NAME: no '$1' from c10k-load: $(tail -3 "$tmp/load.err")"
    read -r -a LINE <<<"$got"
    [[ ${LINE[0]} == "$1" ]] || die "$NAME: c10k-load said: $got"
}

start_backend() {
    rm -f "$tmp/backend.status"
    "$tmp/c10k-load" echo "$tmp/backend.status" >"$tmp/backend.out" \
        2>"$tmp/backend.err" &
    BACKEND=$!
    pids+=("$BACKEND")
    poll_until "$BACKEND" has_line "$tmp/backend.out" ||
        die "the backend did not start: $(tail -1 "$tmp/backend.err")"
    read -r BPORT <"$tmp/backend.out"
}

start_relay() {
    local port=$1

    case $NAME in
    qioc) "${QIOC_RUN[@]}" "TCP-LISTEN:$port,fork,bind=127.0.0.1" \
        "TCP:127.0.0.1:$BPORT" 2>"$tmp/relay.err" & ;;
    socat) "$SOCAT" "TCP-LISTEN:$port,fork,reuseaddr,bind=127.0.0.1,backlog=4096" \
        "TCP:127.0.0.1:$BPORT" 2>"$tmp/relay.err" & ;;
    esac
    RELAY=$!
    pids+=("$RELAY")
    poll_until "$RELAY" tcp_listening "$port" ||
        die "$NAME did not listen: $(tail -1 "$tmp/relay.err")"
}

start_load() {
    local port=$1 n=$2 window=$3

    mkfifo "$tmp/load.in" "$tmp/load.out"
    "$tmp/c10k-load" clients "$port" "$n" "$ACTIVE" "$seconds" "$size" \
        "$window" <"$tmp/load.in" >"$tmp/load.out" 2>"$tmp/load.err" &
    LOAD=$!
    pids+=("$LOAD")
    exec {LOAD_IN}>"$tmp/load.in" {LOAD_OUT}<"$tmp/load.out"
}

stop_load() {
    exec {LOAD_IN}>&- {LOAD_OUT}<&-
    wait "$LOAD" || die "$NAME: c10k-load failed: $(tail -3 "$tmp/load.err")"
    forget "$LOAD"
    rm -f "$tmp/load.in" "$tmp/load.out"
}

stop() {
    kill_tree "$1"
    wait "$1" 2>/dev/null || true
    forget "$1"
}

# A relay's descriptors are back to $FDS0 (socat: its children are gone).
settled() { sample "$RELAY" && ((S_FDS <= FDS0 && S_PROCS == 1)); }

# run_contender NAME N WINDOW: one contender, a line of figures in
# $tmp/results and the targets' verdicts in $tmp/verdicts.
run_contender() {
    NAME=$1
    local n=$2 window=$3 port rss0 pss0 cpu0 conn_s cpu_set rss_idle
    local pss_idle fds_n rss_act pss_act cpu_act rounds secs bad lost fds_after

    ACTIVE=${active:-$((n / 10))}
    ((ACTIVE <= n)) || ACTIVE=$n
    start_backend
    port=$(free_port)
    start_relay "$port"
    sample "$RELAY" || die "$NAME ended"
    rss0=$S_RSS pss0=$S_PSS cpu0=$S_CPU FDS0=$S_FDS
    start_load "$port" "$n" "$window"
    load_line connected 600
    conn_s=${LINE[2]}
    poll_long 300 "$RELAY" backend_holds "$n" ||
        die "$NAME: the backend holds $(held) of $n connections" \
            "$(tail -2 "$tmp/relay.err")"
    sample "$RELAY" || die "$NAME ended"
    rss_idle=$S_RSS pss_idle=$S_PSS fds_n=$S_FDS
    cpu_set=$(awk -v c="$((S_CPU - cpu0))" -v n="$n" \
        'BEGIN { printf "%.0f", c / n / 1000 }')
    cpu0=$S_CPU
    echo active >&"$LOAD_IN"
    load_line active $((seconds + 60))
    rounds=${LINE[1]} secs=${LINE[2]} bad=${LINE[3]}
    sample "$RELAY" || die "$NAME ended"
    rss_act=$S_RSS pss_act=$S_PSS
    cpu_act=$(awk -v c="$((S_CPU - cpu0))" -v r="$rounds" \
        'BEGIN { printf "%.1f", r ? c / r / 1000 : 0 }')
    echo close >&"$LOAD_IN"
    load_line closed 120
    lost=${LINE[1]}
    stop_load
    poll_long 120 "$RELAY" settled || true
    sample "$RELAY" || die "$NAME ended after the clients closed"
    fds_after=$S_FDS
    poll_long 30 "$BACKEND" backend_holds 0 || true
    stop "$RELAY"
    stop "$BACKEND"
    printf '%-6s %6d %6.1f %8d %9s %9s %9s %9s %7s %8s %7s %5d %5d %5d %4s %4s\n' \
        "$NAME" "$n" "$conn_s" "$rss0" \
        "$(div $((rss_idle - rss0)) "$n")" "$(div $((pss_idle - pss0)) "$n")" \
        "$(div $((rss_act - rss0)) "$n")" "$(div $((pss_act - pss0)) "$n")" \
        "$cpu_set" "$(awk -v r="$rounds" -v s="$secs" \
            'BEGIN { printf "%.0f", r / s }')" "$cpu_act" \
        "$FDS0" "$fds_n" "$fds_after" "$lost" "$bad" >>"$tmp/results"
    if [[ $NAME == qioc ]]; then
        verdict "qioc RSS per idle connection <= $TARGET_KIB KiB" \
            "$(div $((rss_idle - rss0)) "$n") KiB" \
            "$(awk -v d="$((rss_idle - rss0))" -v n="$n" -v t="$TARGET_KIB" \
                'BEGIN { print (d / n <= t) }')"
    fi
    verdict "$NAME: no descriptor left after the clients closed" \
        "$FDS0 before, $fds_after after" "$((fds_after <= FDS0))"
    verdict "$NAME: every connection forwarded and intact" \
        "$lost lost while idle, $bad round trips bad" \
        "$((lost == 0 && bad == 0))"
}

# verdict WHAT FIGURE OK
verdict() {
    printf 'target: %s: %s: %s\n' "$1" "$2" \
        "$( (($3)) && echo met || echo "NOT MET")" >>"$tmp/verdicts"
}

# ------------------------------------------------------------ run

command -v ss >/dev/null || die "no ss (iproute2)"
command -v "$PYTHON" >/dev/null || die "no $PYTHON"
resolve_qioc
"$CC" -O2 -o "$tmp/c10k-load" "$here/c10k-load.c" ||
    die "cannot compile c10k-load.c with $CC"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
hard=$(ulimit -Hn)
note=""
if [[ $hard != unlimited ]] && ((2 * clients + 32 > hard)); then
    fit=$(((hard - 32) / 2))
    note="--clients $clients asked for; the hard descriptor limit $hard"
    note+=" leaves room for $fit (qioc holds two per connection)"
    clients=$fit
fi
socat_clients=${socat_clients:-$clients}
if ((socat_clients > 0)) && ! command -v "$SOCAT" >/dev/null; then
    note+="${note:+ }(no $SOCAT: socat left out)"
    socat_clients=0
fi

cflags=$(qioc_cflags)
echo "qioc c10k, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, Linux $(uname -r)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo);" \
    "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qioc: $QIOC_BIN ($("${QIOC_RUN[@]}" --version 2>&1 | head -1)," \
    "run from a copy taken at start, CFLAGS ${cflags:-unknown})"
[[ $cflags == *-O[1-3s]* || -z $cflags ]] ||
    echo "warning: qioc was built with CFLAGS '$cflags', not optimised"
echo "relays: qioc TCP-LISTEN:A,fork,bind=127.0.0.1 TCP:127.0.0.1:B;" \
    "socat TCP-LISTEN:A,fork,reuseaddr,bind=127.0.0.1,backlog=4096" \
    "TCP:127.0.0.1:B (with its default backlog of 5, the kernel drops" \
    "SYNs while socat forks, each a 1 s retransmit)"
echo "load: c10k-load clients (one epoll process; $CC -O2" \
    "contrib/bench/c10k-load.c) -> relay -> c10k-load echo;" \
    "the active connections do $size-byte echo round trips for $seconds s"
[[ -z $note ]] || echo "note: $note"

: >"$tmp/results"
: >"$tmp/verdicts"
run_contender qioc "$clients" 256
((socat_clients == 0)) || run_contender socat "$socat_clients" 256

echo
echo "KiB per connection: (with N open - before) / N; CPU: the relay's," \
    "us per connection set up (accept + connect) and per round trip"
printf '%-6s %6s %6s %8s %9s %9s %9s %9s %7s %8s %7s %5s %5s %5s %4s %4s\n' \
    "" conns "open s" "RSS KiB" "RSS/idle" "PSS/idle" "RSS/act" "PSS/act" \
    "us/conn" "rt/s" "us/rt" fds0 "fds N" after lost bad
cat "$tmp/results"
echo
cat "$tmp/verdicts"
! grep -q "NOT MET" "$tmp/verdicts" || exit 1
