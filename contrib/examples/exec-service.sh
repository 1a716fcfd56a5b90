#!/usr/bin/env bash
# exec-service.sh - programs as network services and filters (inetd style):
#
#     qioc TCP-LISTEN:PORT,fork 'EXEC:wc -c'           # one wc per client
#     qioc TCP-LISTEN:PORT,fork 'SYSTEM:echo "you are $QIOC_PEERADDR"'
#     printf 'b\na\n' | qioc - EXEC:sort                # a one-shot filter
#
# EXEC splits its command into words as a shell would, without a shell;
# SYSTEM hands it to /bin/sh -c.  The child's stdin/stdout are the channel;
# the end of the input reaches it as end-of-file, and its answer still
# travels back.  Children of a socket address learn their peer from
# QIOC_PEERADDR and friends.  Exit 0 on success, 77 when EXEC is missing.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# expect WANT COMMAND...: run COMMAND, its output must be WANT.
expect() {
    local want=$1 got
    shift
    got=$(timeout "$LIMIT" "$@") || die "failed: $*"
    [[ $got == "$want" ]] || die "'$*' printed '$got', expected '$want'"
}

# wc answers only once its input has ended: a half-close, not a close.
counting_service() {
    PORT=$(free_port)
    start_listener TCP-LISTEN:"$PORT",fork,reuseaddr 'EXEC:wc -c'
    expect 5 "$QIOC" - TCP:127.0.0.1:"$PORT" < <(printf hello)
    expect 11 "$QIOC" - TCP:127.0.0.1:"$PORT" < <(printf 'hello again')
    stop_qioc "$QIOC_PID"
}

# The single quotes keep $QIOC_PEERADDR for the child's shell.
peer_service() {
    PORT=$(free_port)
    # shellcheck disable=SC2016 # expanded by the child's /bin/sh
    start_listener TCP-LISTEN:"$PORT",fork,reuseaddr \
        'SYSTEM:echo "you are $QIOC_PEERADDR"'
    expect "you are 127.0.0.1" "$QIOC" -U STDOUT TCP:127.0.0.1:"$PORT"
    stop_qioc "$QIOC_PID"
}

filters() {
    expect $'a\nb' "$QIOC" - EXEC:sort < <(printf 'b\na\n')
    # Quotes group words for EXEC, as in a shell: one argument "a, b".
    expect '<a, b>' "$QIOC" -U STDOUT "EXEC:printf '<%s>' 'a, b'"
}

require_type EXEC EXEC:true
counting_service
peer_service
filters
echo "$ME: ok: EXEC and SYSTEM served clients and filtered pipelines"
