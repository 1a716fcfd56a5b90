#!/usr/bin/env bash
# contrib/socat-testsuite/run.sh SOCAT-SOURCE-DIR [TEST-NAME...]
#
# Runs socat's own test suite (test.sh from a socat source tree, 1.7.4.x)
# with qioc in socat's place, and compares the outcome with EXPECTED: the
# tests qioc fails on purpose (each with the reason; see DIFFERENCES FROM
# SOCAT in qioc(1)). Prints the counts and every test that failed and is
# not listed, or is listed and passed; exits 1 if there is any.
# socat's test suite is GPL and is not part of qioc: fetch socat's source
# (https://repo.or.cz/socat.git, tag-1.7.4.4) and point this at it.
# QIOC names the qioc binary (default: src/qioc of this tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:?usage: run.sh SOCAT-SOURCE-DIR [TEST-NAME...]}
shift
[[ -f $src/test.sh ]] || { echo "run.sh: no test.sh in $src" >&2; exit 2; }
QIOC=${QIOC:-$here/../../src/qioc}
QIOC=$(cd "$(dirname "$QIOC")" && pwd)/$(basename "$QIOC")
export QIOC

work=$(mktemp -d "${TMPDIR:-/tmp}/qioc-socat-tests.XXXXXX")
cp -r "$src"/. "$work"
cd "$work"
log=$work/test.log
# test.sh runs in its own directory (certificates, helper scripts); its
# temporary files go under TMPDIR.
TMPDIR=$work SOCAT=$here/socat-shim bash ./test.sh "$@" >"$log" 2>"$work/test.err" </dev/null || true

failed=$(sed -n 's/^test *[0-9]* \([A-Z0-9_]*\): .*FAILED.*/\1/p' "$log" | sort -u)
passed=$(grep -c 'OK$' "$log" || true)
expected=$(sed -e 's/#.*//' -e '/^ *$/d' "$here/EXPECTED" | awk '{print $1}' | sort -u)
unexpected=$(comm -23 <(echo "$failed") <(echo "$expected") | sed '/^$/d')
echo "socat test.sh with qioc: $passed passed, $(echo "$failed" | sed '/^$/d' | wc -l) failed ($(echo "$expected" | wc -l) expected to)"
echo "log: $log"
if [[ -n $unexpected ]]; then
    echo "failed, not expected to:"
    echo "$unexpected" | sed 's/^/  /'
    exit 1
fi
