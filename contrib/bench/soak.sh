#!/usr/bin/env bash
#
# contrib/bench/soak.sh - mixed load through qioc's fork listeners for a
# while; do its memory and descriptors stay flat?
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   contrib/bench/soak.sh [--duration SECS] [--interval SECS]
#
# Two qioc processes, each one fork listener with one event loop for all
# its clients: "plain" (TCP-LISTEN -> TCP) and "tls" (TLS-LISTEN -> TCP),
# both forwarding to one backend (soak.py backend). A qioc process has one
# listening address, and TLS and plain clients need different ones, so the
# TLS clients get their own qioc; both are sampled. soak.py load drives, at
# once through both: a new connection per request, keep-alive connections,
# 64 MiB bulk transfers each way (checksummed), clients that reset in the
# middle of a transfer (SO_LINGER 0), slow readers; every byte received is
# checked. 19 clients through the plain qioc, 10 through the TLS one.
#
# Every --interval seconds, a line: elapsed seconds; for each qioc its RSS
# (VmRSS of /proc/PID/status), its descriptors (/proc/PID/fd) and the CPU
# it used in the interval (utime + stime of /proc/PID/stat); the load's
# counters (requests done, MB moved, errors, expected resets). At the end,
# a verdict per qioc for RSS and descriptors, "flat" or "growing", by the
# rule written out in soak.py (verdict) and README.md ("Soak"): after a
# warm-up of the first third, the median of the last third against the
# median of the second third, with a tolerance, and a fitted line's rise;
# and no descriptor left open once the load has stopped.
#
# Exit status: 0 flat, 1 growing, 2 a setup failure (or a qioc, the
# backend or the load driver ended during the run).
# Environment: QIOC (a qioc binary or the libtool wrapper src/qioc of a
# build tree; default src/qioc of this tree, else qioc in PATH), PYTHON.
set -eEuo pipefail
trap 'exit 2' ERR              # a command that fails: status 2, not 1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
PYTHON=${PYTHON:-python3}
export LC_ALL=C                # a dot in $EPOCHREALTIME and in printf

usage() {
    cat <<'EOF'
usage: contrib/bench/soak.sh [OPTION]...

Mixed load (new connection per request, keep-alive, 64 MiB bulk transfers,
resets mid-transfer, slow readers; plain and TLS) through two qioc fork
listeners; prints RSS, descriptors and CPU of each qioc and the load's
counters every interval, and at the end whether RSS and descriptors are
flat or growing.

  --duration SECS  how long the load runs (default 600)
  --interval SECS  seconds between samples (default 10); the run needs
                   at least 3 samples (duration >= 3 x interval)
  -h, --help       this text

Exit status: 0 flat, 1 growing, 2 setup failure or a process ended early.
Environment: QIOC=path to qioc or to the libtool wrapper src/qioc
(default: src/qioc of this tree, else qioc in PATH), PYTHON.
EOF
}

die() {
    echo "soak.sh: $*" >&2
    exit 2
}

duration=600
interval=10
while (($#)); do
    case $1 in
    --duration) duration=${2:?--duration needs a value}; shift ;;
    --duration=*) duration=${1#*=} ;;
    --interval) interval=${2:?--interval needs a value}; shift ;;
    --interval=*) interval=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $duration =~ ^[1-9][0-9]*$ ]] || die "bad --duration: $duration"
[[ $interval =~ ^[1-9][0-9]*$ ]] || die "bad --interval: $interval"
((duration >= 3 * interval)) ||
    die "--duration $duration gives fewer than 3 samples of --interval $interval"

# ------------------------------------------------------------ processes
# (as in run.sh)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qioc-soak.XXXXXX")
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






# ------------------------------------------------------------ tools




# ------------------------------------------------------------ sampling

TICK=$(getconf CLK_TCK)

# sample PID: sets S_RSS (KiB), S_FDS, S_TICKS (utime + stime); fails
# when the process is gone.
sample() {
    local f stat

    [[ -r /proc/$1/stat ]] || return 1
    S_RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null) ||
        return 1
    f=("/proc/$1/fd/"*)
    S_FDS=${#f[@]}
    stat=$(<"/proc/$1/stat") || return 1
    stat=${stat##*) }          # after the command name, field 3 on
    read -r -a f <<<"$stat"
    S_TICKS=$((f[11] + f[12])) # fields 14 and 15
    [[ -n $S_RSS ]]
}

# The load driver's counters: sets L_REQ, L_BYTES, L_ERR, L_RESETS.
counters() {
    local line

    line=$(<"$tmp/status")
    read -r _ L_REQ _ L_BYTES _ L_ERR _ L_RESETS <<<"$line"
}

# ------------------------------------------------------------ run

command -v "$PYTHON" >/dev/null || die "no $PYTHON"
command -v openssl >/dev/null || die "no openssl (to make the certificate)"
command -v ss >/dev/null || die "no ss (iproute2)"
resolve_qioc
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# An ECDSA P-256 certificate: the clients' handshakes cost qioc less than
# with RSA, so more of its time goes to the rest of the soak.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 ||
    die "openssl cannot make a certificate"

"$PYTHON" "$here/soak.py" backend >"$tmp/backend.out" 2>"$tmp/backend.err" &
backend=$!
pids+=("$backend")
poll_until "$backend" has_line "$tmp/backend.out" ||
    die "the backend did not start: $(tail -1 "$tmp/backend.err")"
read -r _ bport <"$tmp/backend.out"

declare -A QPID=() CMD=()
names=(plain tls)
for name in "${names[@]}"; do
    port=$(free_port)
    case $name in
    plain) args=("TCP-LISTEN:$port,fork,reuseaddr,bind=127.0.0.1") ;;
    tls) args=("TLS-LISTEN:$port,fork,reuseaddr,bind=127.0.0.1,cert=$tmp/cert.pem,key=$tmp/key.pem") ;;
    esac
    args+=("TCP:127.0.0.1:$bport")
    "${QIOC_RUN[@]}" "${args[@]}" 2>"$tmp/qioc-$name.err" &
    QPID[$name]=$!
    pids+=("${QPID[$name]}")
    CMD[$name]="qioc ${args[*]//"$tmp/"/}"
    poll_until "${QPID[$name]}" tcp_listening "$port" ||
        die "qioc ($name) did not listen: $(tail -1 "$tmp/qioc-$name.err")"
    declare "PORT_$name=$port"
done

cflags=$(qioc_cflags)
echo "qioc soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $duration s, a sample every $interval s"
echo "machine: $(nproc) cores, Linux $(uname -r); load average at start:" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "qioc: $QIOC_BIN ($("${QIOC_RUN[@]}" --version 2>&1 | head -1), run from a copy taken at start, CFLAGS ${cflags:-unknown})"
[[ $cflags == *-O[1-3s]* || -z $cflags ]] ||
    echo "warning: qioc was built with CFLAGS '$cflags', not optimised"
for name in "${names[@]}"; do
    echo "$name: pid ${QPID[$name]}: ${CMD[$name]}"
done
echo "backend: soak.py backend (port $bport); load: soak.py load" \
    "(cert.pem, key.pem: ECDSA P-256, in $tmp, removed at exit)"

declare -A FDS0=() TICKS=()
for name in "${names[@]}"; do
    sample "${QPID[$name]}" || die "qioc ($name) ended"
    FDS0[$name]=$S_FDS
    TICKS[$name]=$S_TICKS
    echo "$name before the load: RSS $S_RSS KiB, $S_FDS descriptors"
done

# shellcheck disable=SC2154  # PORT_plain, PORT_tls are declared above
"$PYTHON" "$here/soak.py" load --plain "127.0.0.1:$PORT_plain" \
    --tls "127.0.0.1:$PORT_tls" --cafile "$tmp/cert.pem" \
    --status "$tmp/status" 2>"$tmp/load.err" &
driver=$!
pids+=("$driver")
poll_until "$driver" test -s "$tmp/status" ||
    die "the load did not start: $(tail -3 "$tmp/load.err")"
start=$EPOCHREALTIME

echo
printf '%6s |%27s |%27s | %9s %7s %8s %6s %6s\n' "" "qioc plain        " \
    "qioc tls         " requests "req/s" MB errors resets
printf '%6s |%9s %6s %10s |%9s %6s %10s | %9s %7s %8s %6s %6s\n' \
    "s" "RSS KiB" fds "CPU s" "RSS KiB" fds "CPU s" "done" "" moved "" expected
n=$((duration / interval))
prev_req=0
for ((i = 1; i <= n; i++)); do
    sleep "$(awk -v s="$start" -v i="$((i * interval))" -v now="$EPOCHREALTIME" \
        'BEGIN { d = s + i - now; printf "%.3f", (d > 0 ? d : 0) }')"
    line=$(printf '%6d |' "$((i * interval))")
    for name in "${names[@]}"; do
        sample "${QPID[$name]}" ||
            die "qioc ($name) ended at about $((i * interval)) s: $(tail -3 "$tmp/qioc-$name.err")"
        line+=$(printf '%9d %6d %10s |' "$S_RSS" "$S_FDS" \
            "$(awk -v t="$((S_TICKS - TICKS[$name]))" -v hz="$TICK" \
                -v s="$interval" 'BEGIN { printf "%.2f (%2.0f%%)", t / hz, 100 * t / hz / s }')")
        TICKS[$name]=$S_TICKS
        echo "$name $((i * interval)) $S_RSS $S_FDS" >>"$tmp/samples"
    done
    alive "$driver" || die "the load driver ended: $(tail -3 "$tmp/load.err")"
    alive "$backend" || die "the backend ended: $(tail -3 "$tmp/backend.err")"
    counters
    line+=$(printf ' %9d %7d %8d %6d %6d' "$L_REQ" \
        "$(((L_REQ - prev_req) / interval))" "$((L_BYTES / 1000000))" \
        "$L_ERR" "$L_RESETS")
    prev_req=$L_REQ
    echo "$line"
done

# Stop the load; the relays should go back to their descriptors of before.
kill -TERM "$driver"
wait "$driver" || die "the load driver failed at exit: $(tail -3 "$tmp/load.err")"
forget "$driver"
counters
echo
echo "load: $L_REQ requests, $((L_BYTES / 1000000)) MB moved, $L_ERR errors," \
    "$L_RESETS resets (expected: clients that reset on purpose)"
if ((L_ERR)); then
    echo "first errors (soak.py load's stderr):"
    head -5 "$tmp/load.err" | sed 's/^/  /'
fi
((L_REQ)) || die "no request completed"

verdict_args=()
for name in "${names[@]}"; do
    settled() {
        sample "${QPID[$name]}" && ((S_FDS <= FDS0[$name]))
    }
    poll_until "${QPID[$name]}" settled || true
    sample "${QPID[$name]}" || die "qioc ($name) ended after the load"
    echo "$name after the load: RSS $S_RSS KiB, $S_FDS descriptors" \
        "(${FDS0[$name]} before)"
    verdict_args+=(--fds-idle "$name" "${FDS0[$name]}" "$S_FDS")
done
echo
rc=0
"$PYTHON" "$here/soak.py" verdict "$tmp/samples" "${verdict_args[@]}" || rc=$?
((rc <= 1)) || die "no verdict (soak.py verdict: exit status $rc)"
((rc == 0)) || exit 1          # growing
