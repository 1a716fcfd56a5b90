# Shared by contrib/bench/run.sh and contrib/bench/soak.sh (sourced, not
# run): following and stopping process trees, polling, free ports, and the
# qioc under test (QIOC, a libtool wrapper resolved to its binary, run
# from a copy taken at start).  The sourcing script sets $top (the source
# tree), $tmp (its temporary directory), $PYTHON and the pids array, and
# defines die.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2154,SC2034  # the caller's $top, $tmp, $PYTHON; QIOC_SHOW is run.sh's

# A process and its descendants, children before their parent, from one
# look at the process table.
tree() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        function walk(p,    n, a, i) {
            n = split(kids[p], a, " ")
            for (i = 1; i <= n; i++) walk(a[i])
            print p
        }
        END { walk(root) }'
}

# Kill a process and its descendants, children first, so that none is
# reparented out of reach (socat forks a child per client; timeout does
# not pass SIGTERM on to grandchildren).
kill_tree() {
    # shellcheck disable=SC2046  # one pid per word
    kill $(tree "$1") 2>/dev/null || true
}

# Stop tracking a process that has been waited for: its pid may be reused.
forget() {
    local pid keep=()

    for pid in "${pids[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    pids=("${keep[@]}")
}

# A process started with & is running (not a zombie waiting for us).
alive() {
    local state

    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}

# Poll every 10 ms until "$@" succeeds; fail when process $1 has ended or
# after 30 s.
poll_until() {
    local pid=$1 i
    shift
    for ((i = 0; i < 3000; i++)); do
        if "$@"; then
            return 0
        fi
        alive "$pid" || return 1
        sleep 0.01
    done
    return 1
}

has_line() { [[ -s $1 && $(wc -l <"$1") -ge ${2:-1} ]]; }
tcp_listening() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

free_port() {
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# QIOC may be libtool's wrapper script: source it the way
# "libtool --mode=execute" does, to learn the real binary and its
# LD_LIBRARY_PATH, so that what we time is qioc and not a shell.
resolve_qioc() {
    local q=${QIOC:-} out

    if [[ -z $q ]]; then
        if [[ -x $top/src/qioc ]]; then
            q=$top/src/qioc
        else
            q=$(command -v qioc) ||
                die "no qioc: build it and set QIOC=/path/to/src/qioc"
        fi
    fi
    [[ $q == */* ]] || q=$(command -v "$q") || die "no such program: $q"
    [[ -x $q ]] || die "not executable: $q"
    QIOC_BIN=$(cd "$(dirname "$q")" && pwd)/$(basename "$q")
    QIOC_RUN=("$QIOC_BIN")
    QIOC_SHOW=""
    if grep -q -m1 'temporary wrapper script' "$q"; then
        out=$(bash -c 'file=$1 ECHO="printf %s\\n"
            libtool_execute_magic="%%%MAGIC variable%%%"
            . "$1" >/dev/null 2>&1
            printf "%s\n%s\n" "$progdir/$program" "$LD_LIBRARY_PATH"' \
            _ "$QIOC_BIN") || die "cannot read the libtool wrapper $q"
        QIOC_BIN=$(sed -n 1p <<<"$out")
        [[ -x $QIOC_BIN ]] || die "the wrapper $q names no binary"
        QIOC_LIBPATH=$(sed -n 2p <<<"$out")
        QIOC_SHOW="LD_LIBRARY_PATH=$QIOC_LIBPATH "
    fi
    snapshot_qioc
    "${QIOC_RUN[@]}" --version >/dev/null 2>&1 || die "$QIOC_BIN does not run"
}

# Run a copy of qioc (and of its build tree's libqio) taken now, so that
# a rebuild while the benchmarks run neither breaks nor changes them. The
# commands shown name the original files.
snapshot_qioc() {
    local dir dirs=() n=0 copies=""

    mkdir "$tmp/qioc-bin"
    cp "$QIOC_BIN" "$tmp/qioc-bin/qioc"
    if [[ -z ${QIOC_LIBPATH:-} ]]; then
        QIOC_RUN=("$tmp/qioc-bin/qioc")
        return
    fi
    IFS=: read -r -a dirs <<<"$QIOC_LIBPATH"
    for dir in "${dirs[@]}"; do
        compgen -G "$dir/libqio*.so*" >/dev/null || continue
        n=$((n + 1))
        mkdir "$tmp/qioc-lib$n"
        cp -a "$dir"/libqio*.so* "$tmp/qioc-lib$n/"
        copies+="$tmp/qioc-lib$n:"
    done
    QIOC_RUN=(env "LD_LIBRARY_PATH=$copies$QIOC_LIBPATH" "$tmp/qioc-bin/qioc")
}

# The config.log of the build tree qioc comes from, if there is one.
qioc_config_log() {
    local dir

    dir=$(dirname "$(dirname "$QIOC_BIN")")
    [[ $(basename "$(dirname "$QIOC_BIN")") == .libs ]] && dir=$(dirname "$dir")
    [[ -f $dir/config.log ]] && echo "$dir/config.log"
    return 0
}

# The CFLAGS qioc was configured with, when its config.log says.
qioc_cflags() {
    local log

    log=$(qioc_config_log)
    [[ -n $log ]] && sed -n "s/^ac_cv_env_CFLAGS_value=//p" "$log" |
        head -1 | tr -d "'"
    return 0
}
