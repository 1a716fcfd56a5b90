#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2154 # $stderr, $output, $status come from bats' run
#
# libqio as a library other programs install and link: the symbols the
# shared object exports are the public headers' functions and nothing
# else, and `make install` gives a tree a program outside this source
# builds against with pkg-config alone (contrib/examples/qio-echo.c), as
# are the API reference's examples (doc/reference/examples/*.c), which
# then run over loopback and socket pairs.
#
# make check exports QIO_BUILDDIR (the build tree), MAKE, CC, PKG_CONFIG
# and the sanitizer flags.  The install goes to a DESTDIR, by the install
# targets of the library, its headers and its .pc only: make check has
# built them before any test runs, libtool installs a library that links
# no other uninstalled one without relinking it, and qioc (which would be
# relinked) is left out, so nothing in the build tree changes under the
# running suite.

bats_require_minimum_version 1.5.0

load helpers

SRCDIR=$(cd "$QIOC_TESTS/../.." && pwd)
: "${QIO_BUILDDIR:=$SRCDIR}"
: "${MAKE:=make}" "${CC:=cc}" "${PKG_CONFIG:=pkg-config}"
LIBQIO_SO="$QIO_BUILDDIR/lib/.libs/libqio-1.0.so"

# What `make install` installs of libqio, without rebuilding anything.
INSTALL_TARGETS=(install-libLTLIBRARIES install-qioincludeHEADERS
    install-nodist_qioincludeHEADERS install-pkgconfigDATA)

# build_make ARGS...: make in the build tree, apart from the make running
# this suite (its jobserver, flags and command-line variables).
build_make() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$MAKE" -C "$QIO_BUILDDIR" "$@"
}

setup_file() {
    STAGE="$BATS_FILE_TMPDIR/stage"
    export STAGE
    build_make -s DESTDIR="$STAGE" "${INSTALL_TARGETS[@]}" >/dev/null
}

# declared_functions HEADER...: the functions the headers declare: names
# qio_...( outside comments and macro definitions, and the _get_type
# functions G_DECLARE_*_TYPE declares.
declared_functions() {
    "$PYTHON3" - "$@" <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    text = re.sub(r'^[ \t]*#[ \t]*define(?:.*\\\n)*.*$', '', text, flags=re.M)
    names.update(re.findall(r'\b(qio_[a-z0-9_]+)\s*\(', text))
    for m in re.finditer(r'G_DECLARE_\w+_TYPE\s*\(\s*\w+\s*,\s*(\w+)', text):
        names.add(m.group(1) + '_get_type')
print('\n'.join(sorted(names)))
PY
}

# exported_symbols SO: the dynamic symbols SO defines.
exported_symbols() {
    nm -D --defined-only "$1" | awk 'NF == 3 { print $3 }' | sort -u
}

# staged_pc_dir: a copy of the staged qio-1.0.pc whose absolute prefix,
# exec_prefix, libdir and includedir point into the stage, in $T/pc.
# (PKG_CONFIG_SYSROOT_DIR and --define-variable=prefix= would move
# GLib's paths too.)
staged_pc_dir() {
    local pc
    pc=$(find "$STAGE" -name qio-1.0.pc)
    if [ -z "$pc" ] || [ "$(wc -l <<<"$pc")" -ne 1 ]; then
        echo "qio-1.0.pc installed as: ${pc:-nothing}"
        return 1
    fi
    mkdir -p "$T/pc"
    sed -E "s|^(prefix\|exec_prefix\|libdir\|includedir)=/|\\1=$STAGE/|" \
        "$pc" >"$T/pc/qio-1.0.pc"
}

qio_pkg_config() {
    PKG_CONFIG_PATH="$T/pc" "$PKG_CONFIG" "$@" qio-1.0
}

# ---------------------------------------------------------------- symbols

@test "symbols: libqio exports the public headers' functions, nothing else" {
    local headers=("$SRCDIR"/lib/qio/*.h "$QIO_BUILDDIR/lib/qio/qio-version.h")
    declared_functions "${headers[@]}" >"$T/declared"
    exported_symbols "$LIBQIO_SO" >"$T/exported"
    [ "$(wc -l <"$T/declared")" -gt 100 ]
    run diff "$T/declared" "$T/exported"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "symbols: no qio__ helper is exported" {
    run grep '^qio__' <(exported_symbols "$LIBQIO_SO")
    echo "$output"
    [ "$status" -eq 1 ]
}

@test "symbols: the SONAME carries the API version" {
    run readelf -d "$LIBQIO_SO"
    [[ $output == *"Library soname: [libqio-1.0.so.0]"* ]]
}

# ---------------------------------------------------------------- install

@test "install: every public header is in include/qio-1.0/qio" {
    local dir
    dir=$(find "$STAGE" -type d -path '*/include/qio-1.0/qio')
    [ -n "$dir" ]
    (cd "$SRCDIR/lib/qio" && ls ./*.h) | sed 's|^\./||' >"$T/want"
    echo qio-version.h >>"$T/want"
    sort -u -o "$T/want" "$T/want"
    (cd "$dir" && ls) >"$T/have"
    run diff "$T/want" "$T/have"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "install: qio-1.0.pc gives the headers, -lqio-1.0 and GLib" {
    staged_pc_dir
    run qio_pkg_config --cflags --libs
    echo "$output"
    [ "$status" -eq 0 ]
    [[ " $output " == *" -I$STAGE/"*"/include/qio-1.0 "* ]]
    [[ " $output " == *" -L$STAGE/"*" -lqio-1.0 "* ]]
    [[ $output == *-lgio-2.0* && $output == *-lgobject-2.0* ]]
    run qio_pkg_config --modversion
    [ "$output" = "$(sed -n 's/^Version: //p' "$T/pc/qio-1.0.pc")" ]
}

@test "install: each public header compiles on its own" {
    local cc flags h
    read -ra cc <<<"$CC"
    staged_pc_dir
    read -ra flags <<<"$(qio_pkg_config --cflags)"
    for h in "$(qio_pkg_config --variable=includedir)"/qio-1.0/qio/*.h; do
        printf '#include <qio/%s>\n' "${h##*/}" >"$T/one.c"
        run "${cc[@]}" -Wall -Werror -fsyntax-only "${flags[@]}" "$T/one.c"
        echo "$h: $output"
        [ "$status" -eq 0 ]
    done
}

@test "install: a program builds with pkg-config alone and runs (qio-echo)" {
    local cc flags flag san_cflags san_ldflags libdir
    read -ra cc <<<"$CC"
    read -ra san_cflags <<<"${QIO_SAN_CFLAGS:-}"
    read -ra san_ldflags <<<"${QIO_SAN_LDFLAGS:-}"
    staged_pc_dir
    read -ra flags <<<"$(qio_pkg_config --cflags --libs)"
    # Nothing of the source or build tree: only the stage and the system
    # (the stage holds the configured prefix, which may be in the tree).
    for flag in "${flags[@]}"; do
        [[ $flag == -[IL]"$STAGE"/* ]] && continue
        [[ $flag != *"$SRCDIR"* && $flag != *"$QIO_BUILDDIR"* ]] ||
            { echo "# $flag: into the tree" >&2; return 1; }
    done
    cp "$SRCDIR/contrib/examples/qio-echo.c" "$T/"
    run "${cc[@]}" -Wall -Werror "${san_cflags[@]}" "$T/qio-echo.c" \
        "${flags[@]}" "${san_ldflags[@]}" -o "$T/qio-echo"
    echo "$output"
    [ "$status" -eq 0 ]
    libdir=$(qio_pkg_config --variable=libdir)
    run env LD_LIBRARY_PATH="$libdir" ldd "$T/qio-echo"
    [[ $output == *"libqio-1.0.so.0 => $libdir/libqio-1.0.so.0"* ]]
    run --separate-stderr env LD_LIBRARY_PATH="$libdir" \
        timeout 20 "$T/qio-echo"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
}

# ---------------------------------------------------------------- doc examples
# The API reference's examples (doc/reference/examples/*.c, shown in
# doc/reference/examples.md) build against the staged install with
# pkg-config alone, and run over loopback and socket pairs.

EXAMPLES_DIR="$SRCDIR/doc/reference/examples"

# build_example NAME: doc/reference/examples/NAME.c into $T/NAME.
build_example() {
    local cc flags san_cflags san_ldflags
    read -ra cc <<<"$CC"
    read -ra san_cflags <<<"${QIO_SAN_CFLAGS:-}"
    read -ra san_ldflags <<<"${QIO_SAN_LDFLAGS:-}"
    staged_pc_dir
    read -ra flags <<<"$(qio_pkg_config --cflags --libs)"
    "${cc[@]}" -Wall -Wextra -Wno-unused-parameter -Werror \
        "${san_cflags[@]}" "$EXAMPLES_DIR/$1.c" "${flags[@]}" \
        "${san_ldflags[@]}" -o "$T/$1"
}

# example NAME ARGS...: run the built example, bounded, with the staged
# library.
example() {
    local name=$1
    shift
    env LD_LIBRARY_PATH="$(qio_pkg_config --variable=libdir)" \
        timeout -k 5 20 "$T/$name" "$@"
}

@test "doc examples: every doc/reference/examples/*.c builds with pkg-config alone" {
    local f n=0
    for f in "$EXAMPLES_DIR"/*.c; do
        run build_example "$(basename "$f" .c)"
        echo "$f: $output"
        [ "$status" -eq 0 ]
        n=$((n + 1))
    done
    [ "$n" -ge 5 ]
}

@test "doc examples: examples.md shows every example file, verbatim" {
    run "$PYTHON3" - "$SRCDIR/doc/reference/examples.md" "$EXAMPLES_DIR"/*.c <<'PY'
import re, sys
page = open(sys.argv[1]).read()
blocks = re.findall(r'^```c\n(.*?)^```$', page, re.S | re.M)
files = {path: open(path).read() for path in sys.argv[2:]}
missing = [p for p, text in files.items() if text not in blocks]
extra = len(blocks) - len(files)
print('not on the page (or changed):', missing, '; blocks:', len(blocks))
sys.exit(1 if missing or extra else 0)
PY
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "doc examples: tcp-client gets its line back from echo-server" {
    local port
    build_example echo-server
    build_example tcp-client
    bg example echo-server 0 1 >"$T/server.out" 2>"$T/server.err"
    poll 10 grep -q '^listening on port [0-9]' "$T/server.out"
    port=$(awk '{ print $4 }' "$T/server.out")
    run --separate-stderr example tcp-client 127.0.0.1 "$port"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "hello from libqio" ]
    # The server quits once its one client is done.
    reap "$BG_PID"
    cat "$T/server.err"
    [ "$BG_STATUS" -eq 0 ]
}

@test "doc examples: tls-client verifies openssl s_server and gets its answer" {
    local port
    command -v openssl >/dev/null || skip "openssl is not installed"
    build_example tls-client
    # A CA and a certificate for localhost it issued.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$T/ca-key.pem" -out "$T/ca.pem" -days 2 \
        -subj "/CN=qio example CA" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$T/server-key.pem" -subj /CN=localhost \
        -out "$T/server.csr" 2>/dev/null
    printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
        'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' \
        'keyUsage=critical,digitalSignature' >"$T/server.ext"
    openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" \
        -CAkey "$T/ca-key.pem" -CAcreateserial -days 2 \
        -extfile "$T/server.ext" -out "$T/server.pem" 2>/dev/null
    port=$(free_port)
    bg timeout 20 openssl s_server -rev -naccept 1 -accept "$port" \
        -cert "$T/server.pem" -key "$T/server-key.pem" \
        >"$T/s_server.log" 2>&1
    wait_port "$port"
    run --separate-stderr example tls-client localhost "$port" "$T/ca.pem"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "desserts" ]
    [ "$stderr" = "tls-client: verified CN=localhost" ]
}

@test "doc examples: tls-client refuses a server its CA did not issue" {
    local port
    command -v openssl >/dev/null || skip "openssl is not installed"
    build_example tls-client
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$T/self-key.pem" -out "$T/self.pem" -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$T/other-key.pem" -out "$T/other.pem" -days 2 \
        -subj "/CN=some other CA" 2>/dev/null
    port=$(free_port)
    bg timeout 20 openssl s_server -rev -naccept 1 -accept "$port" \
        -cert "$T/self.pem" -key "$T/self-key.pem" >"$T/s_server.log" 2>&1
    wait_port "$port"
    run --separate-stderr example tls-client localhost "$port" "$T/other.pem"
    echo "$output $stderr"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ $stderr == "tls-client: certificate verification failed: "* ]]
}

@test "doc examples: fd-passing reads a pipe through the descriptor it passed" {
    build_example fd-passing
    run --separate-stderr example fd-passing
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "P: through the passed pipe" ]
}

@test "doc examples: coroutine reads what the main loop writes, yielding" {
    build_example coroutine
    run --separate-stderr example coroutine
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "one word at a time" ]
}
