#!/usr/bin/env bash
# contrib/socat-testsuite/run.sh SOCAT-SOURCE-DIR [TEST...]
#
# Runs socat's own test suite (test.sh of a socat 1.7.4 source tree) with
# qioc in socat's place (socat-shim), then compares what failed with
# EXPECTED, the tests qioc fails on purpose, each with its reason (see
# DIFFERENCES FROM SOCAT in qioc(1)). Prints the counts, then every test
# that failed and is not listed there; exits 1 if there is one.
#
# socat's test suite is socat's (GPL), not part of qioc: get a socat
# source tree (apt-get source socat, or socat's git repository at tag
# tag-1.7.4.4) and give its path. TEST... are test.sh's own arguments (test
# names, numbers or groups: tcp4, 7, functions); none runs its default set.
# The copy it runs in is kept and named at the end, with test.sh's output.
# QIOC names the qioc binary (default: src/qioc of this tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:?usage: run.sh SOCAT-SOURCE-DIR [TEST...]}
shift
[[ -f $src/test.sh ]] || {
    echo "run.sh: no test.sh in $src" >&2
    exit 2
}
QIOC=$(realpath "${QIOC:-$here/../../src/qioc}")
export QIOC

work=$(mktemp -d "${TMPDIR:-/tmp}/qioc-socat-tests.XXXXXX")
cp -r "$src"/. "$work"
cd "$work"
# test.sh runs in its directory (certificates, helper scripts); its
# temporary files go under TMPDIR. Colours are stripped from the log.
TMPDIR=$work SOCAT=$here/socat-shim bash ./test.sh "$@" </dev/null 2>test.err |
    sed 's/\x1b\[[0-9;]*m//g' >test.log || true

# What failed is test.sh's own list ("FAILED: 9 50 ..."): a failure is
# not always printed as FAILED ("no entry", "phase 1 failed", ...). The
# numbers are named from the lines "test N NAME: ...".
mapfile -t failed < <(
    sed -n 's/^FAILED: *//p' test.log | tr -s ' ' '\n' | sed '/^$/d' |
        while read -r n; do
            # a test that prints no result shares its line with the next
            grep -o "test *$n [A-Z0-9_-]*:" test.log | head -1 |
                sed 's/.* \([A-Z0-9_-]*\):$/\1/'
        done | sort -u
)
mapfile -t expected < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/EXPECTED" |
    awk '{print $1}' | sort -u)
mapfile -t unexpected < <(comm -23 <(printf '%s\n' "${failed[@]}") \
    <(printf '%s\n' "${expected[@]}") | sed '/^$/d')
passed=$(grep -c ' OK$' test.log || true)
skipped=$(grep -E -c '^test .*(not available|NO RESULT)' test.log || true)
echo "socat's test.sh with qioc: $passed passed, ${#failed[@]} failed" \
    "(${#expected[@]} listed in EXPECTED), $skipped skipped"
echo "output: $work/test.log, $work/test.err"
if ((${#unexpected[@]})); then
    echo "failed and not in EXPECTED:"
    printf '  %s\n' "${unexpected[@]}"
    exit 1
fi
