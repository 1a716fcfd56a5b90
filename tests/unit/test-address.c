/*
 * Unit tests of the address-spec parser (src/address.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "qioc" /* as in src/address.c */
#endif

#include "config.h"

#include <string.h>

#include "../../src/addr.h"
#include "../../src/address.h"

/* ---------------------------------------------------------------- helpers */

/* A TAP-friendly test path: no '/' (suite separator) and no '#'
 * (TAP directive). */
static char *case_path(const char *suite, guint i, const char *spec)
{
    g_autofree char *clean = g_strdup(spec);

    for (char *p = clean; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr(":,=.-+@%'\"[]\\ ", *p)) {
            *p = '_';
        }
    }
    return g_strdup_printf("/address/%s/%03u %s", suite, i, clean);
}

static QiocAddress *parse_ok(const char *spec)
{
    g_autoptr(GError) err = NULL;
    QiocAddress *addr = qioc_address_parse(spec, 1, &err);

    if (addr == NULL) {
        g_test_message("spec <%s>: %s", spec, err->message);
    }
    g_assert_no_error(err);
    g_assert_nonnull(addr);
    return addr;
}

/* Opening of every address type, so a spec of any type can be built. */
static const char *const sample_params[QIOC_ADDR__COUNT] = {
    [QIOC_ADDR_STDIO] = "",
    [QIOC_ADDR_STDIN] = "",
    [QIOC_ADDR_STDOUT] = "",
    [QIOC_ADDR_STDERR] = "",
    [QIOC_ADDR_FD] = ":3",
    [QIOC_ADDR_PIPE] = "",
    [QIOC_ADDR_FILE] = ":/tmp/x",
    [QIOC_ADDR_GOPEN] = ":/tmp/x",
    [QIOC_ADDR_CREATE] = ":/tmp/x",
    [QIOC_ADDR_UNIX_CONNECT] = ":/tmp/s",
    [QIOC_ADDR_UNIX_LISTEN] = ":/tmp/s",
    [QIOC_ADDR_ABSTRACT_CONNECT] = ":name",
    [QIOC_ADDR_ABSTRACT_LISTEN] = ":name",
    [QIOC_ADDR_TCP_CONNECT] = ":localhost:80",
    [QIOC_ADDR_TCP_LISTEN] = ":8080",
    [QIOC_ADDR_EXEC] = ":true",
    [QIOC_ADDR_SYSTEM] = ":true",
    [QIOC_ADDR_TLS_CONNECT] = ":localhost:443",
    [QIOC_ADDR_TLS_LISTEN] = ":8443,cert=/c.pem",
    [QIOC_ADDR_ACCEPT_FD] = ":3",
    [QIOC_ADDR_SD_LISTEN] = "",
    [QIOC_ADDR_UDP_CONNECT] = ":localhost:53",
    [QIOC_ADDR_UDP_LISTEN] = ":5353",
    [QIOC_ADDR_UDP_SENDTO] = ":localhost:514",
    [QIOC_ADDR_UDP_DATAGRAM] = ":239.1.2.3:5000",
    [QIOC_ADDR_UDP_RECVFROM] = ":5353",
    [QIOC_ADDR_UDP_RECV] = ":514",
    [QIOC_ADDR_UNIX_SENDTO] = ":/tmp/s",
    [QIOC_ADDR_UNIX_RECVFROM] = ":/tmp/s",
    [QIOC_ADDR_UNIX_RECV] = ":/tmp/s",
    [QIOC_ADDR_ABSTRACT_SENDTO] = ":name",
    [QIOC_ADDR_ABSTRACT_RECVFROM] = ":name",
    [QIOC_ADDR_ABSTRACT_RECV] = ":name",
    [QIOC_ADDR_READLINE] = "",
    [QIOC_ADDR_PTY] = "",
    [QIOC_ADDR_SOCKS4] = ":proxy:example.org:80",
    [QIOC_ADDR_SOCKS5] = ":proxy:1080:example.org:80",
    [QIOC_ADDR_HTTP_CONNECT] = ":proxy:example.org:443",
    [QIOC_ADDR_DYNAMIC] = "",
};

/* The same for the layer rows, written left of a transport. */
static const char *const sample_layer_params[QIOC_ADDR__COUNT] = {
    [QIOC_ADDR_TLS_CONNECT] = "",
    [QIOC_ADDR_TLS_LISTEN] = ",cert=/c.pem",
    [QIOC_ADDR_SOCKS4] = ":example.org:80",
    [QIOC_ADDR_SOCKS5] = ":example.org:80",
    [QIOC_ADDR_HTTP_CONNECT] = ":example.org:443",
    [QIOC_ADDR_SOCKS_SERVER] = "",
    [QIOC_ADDR_PROXY_SERVER] = "",
};

/* ---------------------------------------------------------------- kinds */

typedef struct {
    const char *spec;
    QiocAddrKind kind;
    int family;
} KindCase;

/* clang-format off */
#define K(s, k) {s, QIOC_ADDR_##k, AF_UNSPEC}
#define K4(s, k) {s, QIOC_ADDR_##k, AF_INET}
#define K6(s, k) {s, QIOC_ADDR_##k, AF_INET6}
/* clang-format on */

/*
 * Type names and aliases of doc/grammar.md ("Address types"), some in
 * other cases, with the kind and family each gives, and socat's shortcuts
 * ("Address grammar"). test_type_table() parses every alias the table has.
 */
static const KindCase kind_cases[] = {
    K("STDIO", STDIO),
    K("-", STDIO),
    K("stdio", STDIO),
    K("STDIN", STDIN),
    K("STDOUT", STDOUT),
    K("StdErr", STDERR),
    K("FD:3", FD),
    K("PIPE", PIPE),
    K("readline", READLINE),
    K("ECHO", PIPE),
    K("FIFO:/tmp/f", PIPE),
    K("PIPE:/tmp/f", PIPE),
    K("FILE:/x", FILE),
    K("OPEN:/x", FILE),
    K("GOPEN:/x", GOPEN),
    K("CREATE:/x", CREATE),
    K("creat:/x", CREATE),
    K("UNIX-CONNECT:/s", UNIX_CONNECT),
    K("UNIX:/s", UNIX_CONNECT),
    K("UNIX-CLIENT:/s", UNIX_CONNECT),
    K("LOCAL:/s", UNIX_CONNECT),
    K("UNIX-LISTEN:/s", UNIX_LISTEN),
    K("UNIX-L:/s", UNIX_LISTEN),
    K("ABSTRACT-CONNECT:n", ABSTRACT_CONNECT),
    K("ABSTRACT:n", ABSTRACT_CONNECT),
    K("ABSTRACT-CLIENT:n", ABSTRACT_CONNECT),
    K("ABSTRACT-LISTEN:n", ABSTRACT_LISTEN),
    K("abstract-l:n", ABSTRACT_LISTEN),
    K("UDP:h:1", UDP_CONNECT),
    K("udp-connect:h:1", UDP_CONNECT),
    K4("UDP4:h:1", UDP_CONNECT),
    K6("UDP6-CONNECT:h:1", UDP_CONNECT),
    K("UDP-LISTEN:1", UDP_LISTEN),
    K4("UDP4-L:1", UDP_LISTEN),
    K6("UDP6-LISTEN:1", UDP_LISTEN),
    K("UDP-SENDTO:h:1", UDP_SENDTO),
    K4("UDP4-SENDTO:h:1", UDP_SENDTO),
    K6("UDP6-DATAGRAM:[ff02::1]:1", UDP_DATAGRAM),
    K("UDP-RECVFROM:1", UDP_RECVFROM),
    K4("UDP4-RECV:1", UDP_RECV),
    K("UNIX-SENDTO:/s", UNIX_SENDTO),
    K("UNIX-RECVFROM:/s", UNIX_RECVFROM),
    K("UNIX-RECV:/s", UNIX_RECV),
    K("ABSTRACT-SENDTO:n", ABSTRACT_SENDTO),
    K("ABSTRACT-RECVFROM:n", ABSTRACT_RECVFROM),
    K("abstract-recv:n", ABSTRACT_RECV),
    K("TCP:h:1", TCP_CONNECT),
    K("TCP-CONNECT:h:1", TCP_CONNECT),
    K("tcp:h:1", TCP_CONNECT),
    K4("TCP4:h:1", TCP_CONNECT),
    K4("TCP4-CONNECT:h:1", TCP_CONNECT),
    K6("TCP6:h:1", TCP_CONNECT),
    K6("TCP6-CONNECT:h:1", TCP_CONNECT),
    K("TCP-LISTEN:1", TCP_LISTEN),
    K("TCP-L:1", TCP_LISTEN),
    K4("TCP4-LISTEN:1", TCP_LISTEN),
    K4("TCP4-L:1", TCP_LISTEN),
    K6("TCP6-LISTEN:1", TCP_LISTEN),
    K6("tcp6-l:1", TCP_LISTEN),
    K("EXEC:true", EXEC),
    K("SYSTEM:true", SYSTEM),
    K("TLS:h:443", TLS_CONNECT),
    K("OPENSSL:h:443", TLS_CONNECT),
    K("SSL:h:443", TLS_CONNECT),
    K("OPENSSL-CONNECT:h:443", TLS_CONNECT),
    K("TLS-LISTEN:443,cert=c", TLS_LISTEN),
    K("OPENSSL-LISTEN:443,cert=c", TLS_LISTEN),
    K("SSL-L:443,cert=c", TLS_LISTEN),
    K("ACCEPT-FD:3", ACCEPT_FD),
    K("ACCEPT:3", ACCEPT_FD),
    K("SD-LISTEN", SD_LISTEN),
    K("SD-LISTEN:web", SD_LISTEN),
    K("PTY", PTY),
    K("pty,link=/tmp/t", PTY),
    /* shortcuts */
    K("3", FD),
    K("3,ignoreeof", FD),
    K("/dev/null", GOPEN),
    K("./x,append", GOPEN),
    K("-,readbytes=4", STDIO),
};

static void test_kind(gconstpointer data)
{
    const KindCase *c = data;
    g_autoptr(QiocAddress) addr = parse_ok(c->spec);

    g_assert_cmpint(addr->type->kind, ==, c->kind);
    g_assert_cmpint(addr->type->family, ==, c->family);
    g_assert_cmpint(addr->index, ==, 1);
    g_assert_cmpstr(addr->text, ==, c->spec);
    g_assert_cmpuint(addr->nparams, >=, addr->type->min_params);
    g_assert_cmpuint(addr->nparams, <=, addr->type->max_params);
    g_assert_null(addr->params[addr->nparams]);
}

/* ---------------------------------------------------------------- parses */

typedef struct {
    const char *spec;
    const char *params[4]; /* expected, NULL-terminated */
    const char *opts;      /* "name=value ..." normalised, or NULL */
} OkCase;

static const OkCase ok_cases[] = {
    /* parameters: escapes, quotes, brackets */
    {"FILE:/tmp/a\\:b", {"/tmp/a:b"}},
    {"FILE:/tmp/a\\,b,append", {"/tmp/a,b"}, "append=1"},
    /* empty options are skipped, as socat skips them */
    {"FILE:/tmp/x,,append,", {"/tmp/x"}, "append=1"},
    {"FILE:/tmp/x,", {"/tmp/x"}},
    {"FILE:'/tmp/a,b:c'", {"/tmp/a,b:c"}},
    {"FILE:\"/tmp/x y:z\"", {"/tmp/x y:z"}},
    {"FILE:it\\'s", {"it's"}},
    {"FILE:'it'\\''s'", {"it's"}},
    {"FILE:a\\\\b", {"a\\b"}},
    {"FILE:'a\\b'", {"a\\b"}},
    {"FILE:\"a\\\"b\"", {"a\"b"}},
    {"FILE:pre'mid:dle'post", {"premid:dlepost"}},
    {"FILE:/tmp/[x]", {"/tmp/[x]"}},
    {"FILE:[x", {"[x"}},
    {"TCP:[::1]:80", {"::1", "80"}},
    {"TCP:[fe80::1%eth0]:80", {"fe80::1%eth0", "80"}},
    {"TCP6:[::ffff:1.2.3.4]:https", {"::ffff:1.2.3.4", "https"}},
    {"TCP:example.com:80", {"example.com", "80"}},
    {"TCP:'exa:mple':80", {"exa:mple", "80"}},
    {"TCP-LISTEN:http", {"http"}},
    {"UNIX-CONNECT:/run/a b.sock", {"/run/a b.sock"}},
    {"FD:0", {"0"}},
    /* EXEC and SYSTEM keep quotes */
    {"EXEC:'ssh -l user host',pty", {"ssh -l user host"}, "pty=1"},
    {"EXEC:'sh -c \"echo a:b, c\"'", {"sh -c \"echo a:b, c\""}},
    {"EXEC:printf '<%s>' 'a, b'", {"printf '<%s>' 'a, b'"}},
    {"EXEC:\"echo \\\"x\\\"\"", {"echo \"x\""}},
    {"EXEC:'a' 'b'", {"'a' 'b'"}},
    {"EXEC:echo a\\,b,stderr", {"echo a\\,b"}, "stderr=1"},
    {"EXEC:echo \"a,b\" c:d,setsid", {"echo \"a,b\" c:d"}, "setsid=1"},
    {"SYSTEM:echo a:b", {"echo a:b"}},
    /* brackets hide commas, as in socat; ones that never close do not */
    {"EXEC:echo (,)[,]{,}\",\"([),])hugo,pty",
     {"echo (,)[,]{,}\",\"([),])hugo"},
     "pty=1"},
    {"SYSTEM:f() { a,b; },setsid", {"f() { a,b; }"}, "setsid=1"},
    {"EXEC:echo :(,pty", {"echo :("}, "pty=1"},
    {"EXEC:echo (a,b) :(,pty", {"echo (a,b) :("}, "pty=1"},
    {"EXEC:echo (]),pty", {"echo (])"}, "pty=1"},
    {"SYSTEM:ls -l | wc -l,pty,ctty", {"ls -l | wc -l"}, "pty=1 ctty=1"},
    /* shortcuts */
    {"-", {NULL}},
    {"3", {"3"}},
    {"/dev/null", {"/dev/null"}},
    {"./x,append", {"./x"}, "append=1"},
    {"'/tmp/a b',creat", {"/tmp/a b"}, "creat=1"},
    /* flags */
    {"TCP-LISTEN:80,fork", {"80"}, "fork=1"},
    {"TCP-LISTEN:80,fork=0", {"80"}, "fork=0"},
    {"TCP-LISTEN:80,fork=yes", {"80"}, "fork=1"},
    {"TCP-LISTEN:80,fork=No", {"80"}, "fork=0"},
    {"TCP-LISTEN:80,fork=TRUE", {"80"}, "fork=1"},
    {"TCP-LISTEN:80,fork=off", {"80"}, "fork=0"},
    {"TCP-LISTEN:80,fork=on,FORK=false", {"80"}, "fork=0"},
    {"TCP-LISTEN:80,FORK,BackLog=3", {"80"}, "fork=1 backlog=3"},
    /* socat's connect loop */
    {"TCP:h:80,fork,max-children=2", {"h", "80"}, "fork=1 max-children=2"},
    /* sizes */
    {"FILE:/x,readbytes=100", {"/x"}, "readbytes=100"},
    {"FILE:/x,readbytes=4K", {"/x"}, "readbytes=4096"},
    {"FILE:/x,readbytes=2m", {"/x"}, "readbytes=2097152"},
    {"FILE:/x,readbytes=1G", {"/x"}, "readbytes=1073741824"},
    {"FILE:/x,readbytes=1,readbytes=2", {"/x"}, "readbytes=2"},
    /* modes */
    {"FILE:/x,mode=644", {"/x"}, "mode=0644"},
    {"FILE:/x,perm=0600", {"/x"}, "mode=0600"},
    {"CREATE:/x,umask=022,mode=07777", {"/x"}, "umask=0022 mode=07777"},
    {"PIPE:/tmp/fifo,perm=600", {"/tmp/fifo"}, "mode=0600"},
    /* durations and ints */
    {"TCP:h:1,connect-timeout=1.5", {"h", "1"}, "connect-timeout=1.5"},
    {"TCP:h:1,interval=.5,retry=3", {"h", "1"}, "interval=.5 retry=3"},
    {"TCP:h:1,intervall=2.", {"h", "1"}, "interval=2."},
    {"TCP-LISTEN:80,accept-timeout=0", {"80"}, "accept-timeout=0"},
    {"TCP-LISTEN:80,so-reuseaddr=0,backlog=5,max-children=10",
     {"80"},
     "reuseaddr=0 backlog=5 max-children=10"},
    {"TCP:h:1,so-keepalive,tcp-nodelay,sp=5000",
     {"h", "1"},
     "keepalive=1 nodelay=1 sourceport=5000"},
    /* socket options: numbers as socat and C write them */
    {"TCP:h:1,ttl=0x40,tos=020,mss=1400,linger=0",
     {"h", "1"},
     "ttl=64 tos=16 mss=1400 linger=0"},
    {"TCP-LISTEN:1,ip-ttl=1,ip-tos=255,tcp-maxseg=88,so-linger=5",
     {"1"},
     "ttl=1 tos=255 mss=88 linger=5"},
    {"TCP:h:1,rcvbuf=64K,so-sndbuf=8192",
     {"h", "1"},
     "rcvbuf=65536 sndbuf=8192"},
    {"UNIX-LISTEN:/s,so-rcvbuf=1m,sndbuf=0", {"/s"}, "rcvbuf=1048576 sndbuf=0"},
    {"TLS:h:1,so-reuseport,so-bindtodevice=eth0",
     {"h", "1"},
     "reuseport=1 interface=eth0"},
    {"TCP-LISTEN:1,if=lo,reuseport=0", {"1"}, "interface=lo reuseport=0"},
    {"TCP:h:1,reuseaddr,sp=4000", {"h", "1"}, "reuseaddr=1 sourceport=4000"},
    {"TCP:h:1,setsockopt-int=0x6:1:-1", {"h", "1"}, "setsockopt-int=6:1:-1"},
    {"UNIX-CONNECT:/s,sockopt-int=1:07:0x10", {"/s"}, "setsockopt-int=1:7:16"},
    {"TCP:h:1,setsockopt=1:2:x0100FF",
     {"h", "1"},
     "setsockopt-bin=1:2:x0100ff"},
    {"TCP:h:1,setsockopt-bin=1:2:X01", {"h", "1"}, "setsockopt-bin=1:2:x01"},
    {"ABSTRACT-LISTEN:n,setsockopt-string=1:25:a:b",
     {"n"},
     "setsockopt-string=1:25:a:b"},
    {"TCP-LISTEN:1,setsockopt-listen=1:15:x01000000",
     {"1"},
     "setsockopt-listen=1:15:x01000000"},
    /* retrying */
    {"TCP-LISTEN:1,retry=5,interval=0.1", {"1"}, "retry=5 interval=0.1"},
    {"UNIX-LISTEN:/s,forever", {"/s"}, "forever=1"},
    {"TCP:h:1,forever,intervall=2", {"h", "1"}, "forever=1 interval=2"},
    /* users and groups */
    {"FILE:/x,user=root", {"/x"}, "user=0"},
    {"FILE:/x,user=0", {"/x"}, "user=0"},
    {"FILE:/x,owner=1000,gid=100", {"/x"}, "user=1000 group=100"},
    {"UNIX-LISTEN:/s,group=root", {"/s"}, "group=0"},
    /* choices */
    {"FILE:/x,shut=both", {"/x"}, "shut=both"},
    {"FILE:/x,SHUT=CLOSE", {"/x"}, "shut=close"},
    {"FILE:/x,shut-down", {"/x"}, "shut=write"},
    {"FILE:/x,shut-close", {"/x"}, "shut=close"},
    {"FILE:/x,shut-none", {"/x"}, "shut=none"},
    {"FILE:/x,shut-none,shut=write", {"/x"}, "shut=write"},
    {"TCP:h:1,pf=ipv4", {"h", "1"}, "pf=ip4"},
    {"TCP:h:1,pf=6", {"h", "1"}, "pf=ip6"},
    {"TCP-LISTEN:1,pf=IP6,ipv6-v6only", {"1"}, "pf=ip6 ipv6only=1"},
    {"TCP4-LISTEN:1,pf=ip4", {"1"}, "pf=ip4"},
    /* descriptor lists */
    {"UNIX-CONNECT:/s,send-fds=3:4:5", {"/s"}, "send-fds=3:4:5"},
    {"FD:3,send-fds=0", {"3"}, "send-fds=0"},
    {"ACCEPT-FD:3,fork,send-fds=04", {"3"}, "fork=1 send-fds=4"},
    /* networks */
    {"TCP-LISTEN:80,range=10.0.0.0/8", {"80"}, "range=10.0.0.0/8"},
    {"TCP-LISTEN:80,range=10.0.0.0/8;192.168.1.0/24",
     {"80"},
     "range=10.0.0.0/8;192.168.1.0/24"},
    {"TCP-LISTEN:80,range=127.0.0.1;::1/128",
     {"80"},
     "range=127.0.0.1;::1/128"},
    /* socat's ADDRESS:NETMASK and [IPV6]/BITS */
    {"TCP-LISTEN:80,range=127.0.0.1:255.255.255.255;10.1.0.0:255.255.0.0",
     {"80"},
     "range=127.0.0.1/32;10.1.0.0/16"},
    {"TCP-LISTEN:80,range=[fd00::]/8;[::1]", {"80"}, "range=fd00::/8;::1"},
    {"TCP-LISTEN:80,range=localhost;10.0.0.0/8",
     {"80"},
     "range=localhost;10.0.0.0/8"},
    /* strings */
    {"TCP:h:1,bind=[::1]:0", {"h", "1"}, "bind=[::1]:0"},
    {"TCP:h:1,bind='a,b'", {"h", "1"}, "bind=a,b"},
    {"TLS:h:443,cn=x,cafile=/ca.pem,verify=0",
     {"h", "443"},
     "commonname=x cafile=/ca.pem verify=0"},
    {"TLS:h:443,commonname=y,priority=NORMAL:-VERS-TLS1.0",
     {"h", "443"},
     "commonname=y priority=NORMAL:-VERS-TLS1.0"},
    {"TLS:h:443,openssl-snihost=s,nosni,capath=/d,alpn=h2:http/1.1",
     {"h", "443"},
     "snihost=s no-sni=1 capath=/d alpn=h2:http/1.1"},
    {"TLS:h:443,min-version=tlsv1.2,openssl-max-proto-version=TLS1.3",
     {"h", "443"},
     "min-version=TLS1.2 max-version=TLS1.3"},
    {"TLS-LISTEN:443,cert=/c,min-proto-version=TLS1,max-proto-version=TLSv1.1",
     {"443"},
     "cert=/c min-version=TLS1.0 max-version=TLS1.1"},
    {"TLS-LISTEN:443,cert=/c,ciphers=HIGH:!aNULL",
     {"443"},
     "cert=/c cipher=HIGH:!aNULL"},
    {"TLS:h:443,openssl-cipherlist=ECDHE-ECDSA-AES128-GCM-SHA256:AES256-SHA",
     {"h", "443"},
     "cipher=ECDHE-ECDSA-AES128-GCM-SHA256:AES256-SHA"},
    {"TLS-LISTEN:443,cert=/c.pem,key=/k.pem",
     {"443"},
     "cert=/c.pem key=/k.pem"},
    /* the rest of the table */
    {"UNIX-LISTEN:/s,unlink,unlink-close=0,fork",
     {"/s"},
     "unlink-early=1 unlink-close=0 fork=1"},
    {"FILE:/x,o-append,o-creat,o-trunc,o-excl,o-wronly",
     {"/x"},
     "append=1 creat=1 trunc=1 excl=1 wronly=1"},
    {"FILE:/x,rdonly,ignoreeof", {"/x"}, "rdonly=1 ignoreeof=1"},
    {"STDIO,ignoreeof", {NULL}, "ignoreeof=1"},
    {"EXEC:cat,socketpair,fdin=3,fdout=4,end-close,nofork,pipes=0",
     {"cat"},
     "socketpair=1 fdin=3 fdout=4 end-close=1 nofork=1 pipes=0"},
    {"SD-LISTEN:web,fork,accept-timeout=2.5",
     {"web"},
     "fork=1 accept-timeout=2.5"},
};

static void test_ok(gconstpointer data)
{
    const OkCase *c = data;
    g_autoptr(QiocAddress) addr = parse_ok(c->spec);
    g_auto(GStrv) opts = g_strsplit(c->opts ? c->opts : "", " ", -1);
    guint n = 0;

    for (; c->params[n]; n++) {
        g_assert_cmpstr(addr->params[n], ==, c->params[n]);
    }
    g_assert_cmpuint(addr->nparams, ==, n);
    g_assert_null(addr->params[n]);
    for (guint i = 0; opts[i] && *opts[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(opts[i], "=", 2);

        g_assert_true(qioc_address_has_opt(addr, kv[0]));
        g_assert_cmpstr(g_hash_table_lookup(addr->opts, kv[0]), ==, kv[1]);
    }
    g_assert_cmpuint(g_hash_table_size(addr->opts), <=, g_strv_length(opts));
}

/* ---------------------------------------------------------------- errors */

typedef struct {
    const char *spec;
    const char *needle;  /* must occur in the message */
    const char *needle2; /* and this too, if set */
} ErrCase;

static const ErrCase err_cases[] = {
    {"", "empty address"},
    {"!!STDOUT", "no address before \"!!\""},
    {"STDIN!!", "no address after \"!!\""},
    {"STDIN!!STDOUT!!STDERR", "more than one \"!!\""},
    {"TCP-LISTEN:1,fork!!STDOUT", "\"fork\" does not apply to one half"},
    {"STDIN!!EXEC:cat,nofork", "\"nofork\" does not apply to one half"},
    {"STDIN!!FOO:x", "unknown address type \"FOO\""},
    {"FOO:bar", "unknown address type \"FOO\""},
    {"3:x", "unknown address type \"3\""},
    {":x", "missing address type"},
    {",fork", "missing address type"},
    {"TCP:h:1,frob", "unknown option \"frob\""},
    {"TCP:h:1,ttl=0", "bad value \"0\" for ttl: expected a number from 1 to "
                      "255"},
    {"TCP:h:1,ttl=0x100", "for ttl: expected a number from 1 to 255"},
    {"TCP:h:1,tos=-1", "bad value \"-1\" for tos: expected a non-negative "
                       "integer (decimal, 0x hex or 0 octal)"},
    {"TCP:h:1,tos=08", "bad value \"08\" for tos"},
    {"TCP:h:1,mss=50", "for mss: expected a number from 88 to 32767"},
    {"TCP:h:1,linger", "option \"linger\" needs a value: linger=N"},
    {"TCP:h:1,rcvbuf=2G", "bad value \"2G\" for rcvbuf: expected 0 to "
                          "2147483647 bytes"},
    {"TCP:h:1,interface=", "for interface: expected a network interface name"},
    {"TCP:h:1,interface=a-very-long-name0", "bad value \"a-very-long-name0\""},
    {"UNIX-LISTEN:/s,ttl=5", "option \"ttl\" does not apply to UNIX-LISTEN"},
    {"UNIX-CONNECT:/s,reuseport", "\"reuseport\" does not apply"},
    {"ACCEPT-FD:3,rcvbuf=1", "\"rcvbuf\" does not apply to ACCEPT-FD"},
    {"ACCEPT-FD:3,retry=1", "\"retry\" does not apply to ACCEPT-FD"},
    {"SD-LISTEN,forever", "\"forever\" does not apply to SD-LISTEN"},
    {"EXEC:cat,setsockopt-int=1:2:3", "does not apply to EXEC"},
    {"TCP:h:1,setsockopt-int=1:2",
     "bad value \"1:2\" for setsockopt-int: expected LEVEL:NAME:VALUE"},
    {"TCP:h:1,setsockopt-int=SOL_SOCKET:2:1", "bad LEVEL or NAME"},
    {"TCP:h:1,setsockopt-int=1:2:x01", "bad VALUE \"x01\": expected an int"},
    {"TCP:h:1,setsockopt-int=1:2:4294967296", "expected an int"},
    {"TCP:h:1,setsockopt-bin=1:2:x012", "bad VALUE \"x012\": expected x "
                                        "followed by two hex digits a byte"},
    {"TCP:h:1,setsockopt=1:2:q", "bad VALUE \"q\""},
    {"TCP:h:1,setsockopt-bin=1:2:xzz", "bad VALUE \"xzz\""},
    {"UDP:h:1,fork", "option \"fork\" does not apply to UDP"},
    {"DYNAMIC,fork", "option \"fork\" does not apply to DYNAMIC"},
    {"FILE:/x,fork", "option \"fork\" does not apply to FILE"},
    {"FILE:/x,o-append=1,nodelay", "option \"nodelay\" does not apply"},
    {"EXEC:true,range=10.0.0.0/8", "\"range\" does not apply to EXEC"},
    {"TCP:h:1,unlink-early", "\"unlink-early\" does not apply to TCP"},
    {"STDOUT,ignoreeof", "\"ignoreeof\" does not apply to STDOUT"},
    {"TCP:h:1,send-fds=3", "\"send-fds\" does not apply to TCP"},
    {"TLS-LISTEN:1,cert=c,snihost=x", "\"snihost\" does not apply"},
    {"TLS-LISTEN:1,cert=c,no-sni", "\"no-sni\" does not apply"},
    {"TLS-LISTEN:1,cert=c,cn=x", "\"cn\" does not apply"},
    {"TLS:h:1,min-version=SSL3", "bad value \"SSL3\" for min-version",
     "expected TLS1.0|TLS1.1|TLS1.2|TLS1.3"},
    {"TLS:h:1,max-version=TLS1.4", "bad value \"TLS1.4\" for max-version"},
    {"TLS:h:1,min-version=TLS1.3,max-version=TLS1.2",
     "min-version=TLS1.3 is newer than max-version=TLS1.2"},
    {"TLS-LISTEN:1,cert=c,max-version=TLS1.0,min-version=TLSv1.2",
     "min-version=TLS1.2 is newer than max-version=TLS1.0"},
    {"TLS:h:1,cipher=HIGH:AES+SHA", "cipher= \"AES+SHA\"",
     "use priority= instead"},
    {"TLS:h:1,ciphers=@FOO", "cipher= \"@FOO\"", "priority="},
    {"TLS:h:1,cipher=!HIGH", "cipher= \"!HIGH\""},
    {"TLS:h:1,cipher=LOW", "cipher= \"LOW\""},
    {"TLS:h:1,alpn=h2::x", "bad value \"h2::x\" for alpn"},
    {"TLS:h:1,alpn=", "bad value \"\" for alpn"},
    {"TCP", "TCP needs HOST:PORT"},
    {"TCP:h", "TCP needs HOST:PORT", "\"h\""},
    {"TLS:h,verify=0", "TLS needs HOST:PORT"},
    {"FILE", "FILE needs PATH"},
    {"FD", "FD needs N"},
    {"FILE:a:b", "extra parameter \"b\"", "FILE takes PATH"},
    {"TCP:h:1:2", "extra parameter \"2\""},
    {"STDIO:x", "extra parameter \"x\"", "STDIO takes none"},
    {"-:x", "extra parameter \"x\""},
    {"/tmp/a:b", "extra parameter \"b\"", "GOPEN"},
    {"FILE:", "empty parameter 1"},
    {"TCP:[]:80", "empty parameter 1"},
    {"TCP:h:,fork", "empty parameter 2"},
    {"TCP-LISTEN:80,backlog=abc", "bad value \"abc\" for backlog",
     "expected a non-negative integer"},
    {"TCP-LISTEN:80,backlog=-1", "bad value \"-1\" for backlog"},
    /* socat's words for what is wrong with a number */
    {"PTY,ispeed=b19200", "bad value \"b19200\" for ispeed",
     "missing numerical value"},
    {"PTY,ispeed=19200B", "bad value \"19200B\" for ispeed",
     "trailing garbage \"B\""},
    {"PTY,ispeed=0x4bZ", "trailing garbage \"Z\""},
    {"TCP-LISTEN:80,backlog=12k", "trailing garbage \"k\"; expected a "
                                  "non-negative integer"},
    {"TCP-LISTEN:80,backlog=+1", "bad value \"+1\" for backlog"},
    {"TCP-LISTEN:80,backlog= 1", "bad value \" 1\" for backlog"},
    {"TCP-LISTEN:80,backlog=99999999999", "bad value \"99999999999\"",
     "expected a number from 0 to"},
    {"TCP-LISTEN:80,max-children=0", "bad value \"0\" for max-children"},
    {"TCP:h:1,sourceport=70000", "\"70000\"", "from 1 to 65535"},
    {"TCP-LISTEN:80,fork=2", "bad value \"2\" for fork", "yes/no"},
    {"TCP-LISTEN:80,fork=", "bad value \"\" for fork"},
    {"TCP-LISTEN:80,backlog", "option \"backlog\" needs a value", "backlog=N"},
    {"FILE:/x,shut", "option \"shut\" needs a value", "write|both|close|none"},
    {"FILE:/x,readbytes", "\"readbytes\" needs a value"},
    {"FILE:/x,user=nosuchuser-qioc", "\"nosuchuser-qioc\"", "no such user"},
    {"FILE:/x,group=nosuchgroup-qioc", "\"nosuchgroup-qioc\"", "no such group"},
    {"FILE:/x,user=4294967295", "\"4294967295\""},
    {"FILE:/x,user=", "bad value \"\" for user"},
    {"TCP-LISTEN:80,range=10.0.0.0/33", "\"10.0.0.0/33\""},
    {"TCP-LISTEN:80,range=10.0.0.0:255.0.255.0", "\"10.0.0.0:255.0.255.0\"",
     "ADDRESS:NETMASK"},
    {"TCP-LISTEN:80,range=10.0.0.0/8;bad_name", "\"bad_name\"", "range"},
    {"TCP-LISTEN:80,range=10.0.0.0/8;", "\"\" is not a network"},
    {"TCP-LISTEN:80,range=", "bad value \"\" for range"},
    {"FILE:'abc", "unterminated quote at \"'abc\""},
    {"FILE:\"abc,fork", "unterminated quote at \"\"abc,fork\""},
    {"FILE:/x,bind='a", "unterminated quote"},
    {"'FILE", "unterminated quote"},
    {"TCP:[::1:80", "unterminated '[' at \"[::1:80\""},
    {"TCP6:[fe80::1,fork", "unterminated '[' at \"[fe80::1,fork\""},
    {"TCP:h:80,bind=[::1", "unterminated '[' at \"[::1\""},
    {"FILE:abc\\", "trailing backslash in \"abc\\\""},
    {"FILE:/x,append=\\", "trailing backslash"},
    {"TCP:h:1,=1", "option without a name: \"=1\""},
    {"FD:x", "bad descriptor \"x\" for FD"},
    {"FD:-1", "bad descriptor \"-1\""},
    {"ACCEPT-FD:99999999999", "bad descriptor \"99999999999\""},
    {"TCP-LISTEN:99999", "bad port \"99999\""},
    {"TCP-LISTEN:-1", "bad port \"-1\""},
    {"TCP-LISTEN:nosuchservice-qioc", "bad port \"nosuchservice-qioc\""},
    {"TCP:h:0", "bad port \"0\""},
    {"TLS:h:nosuchservice-qioc", "bad port \"nosuchservice-qioc\""},
    {"TLS-LISTEN:443", "TLS-LISTEN needs cert=FILE"},
    {"SSL-L:443,key=k.pem", "TLS-LISTEN needs cert=FILE"},
    {"EXEC", "EXEC needs COMMAND"},
    {"EXEC:", "EXEC needs COMMAND"},
    {"EXEC:,pty", "EXEC needs COMMAND"},
    {"SYSTEM:''", "SYSTEM needs SHELL-COMMAND"},
    {"EXEC:echo 'a,pty", "unterminated quote at \"'a,pty\""},
    {"EXEC:echo \"a\\\"", "unterminated quote"},
    {"EXEC:echo \\", "trailing backslash"},
    {"EXEC:true,frob", "unknown option \"frob\""},
    {"FILE:/x,mode=0800", "bad value \"0800\" for mode", "octal"},
    {"FILE:/x,perm=17777", "bad value \"17777\" for perm"},
    {"FILE:/x,umask=rw", "bad value \"rw\" for umask"},
    {"TCP:h:1,interval=-1", "bad value \"-1\" for interval"},
    {"TCP:h:1,interval=1e3", "bad value \"1e3\""},
    {"TCP:h:1,interval=nan", "bad value \"nan\""},
    {"TCP:h:1,interval=.", "bad value \".\""},
    {"TCP:h:1,connect-timeout=1.2.3", "bad value \"1.2.3\""},
    {"TCP:h:1,connect-timeout=99999999", "\"99999999\"", "at most"},
    {"FILE:/x,readbytes=4T", "bad value \"4T\" for readbytes"},
    {"FILE:/x,readbytes=K", "bad value \"K\""},
    {"FILE:/x,readbytes=99999999999G", "bad value \"99999999999G\""},
    {"FILE:/x,shut=maybe", "bad value \"maybe\" for shut",
     "write|both|close|none"},
    {"FILE:/x,shut-down=1", "option \"shut-down\" takes no value"},
    {"TCP:h:1,shut-close,pf=ip5", "bad value \"ip5\" for pf", "ip4|ip6"},
    {"FD:3,send-fds=3:x", "bad descriptor \"x\"", "send-fds"},
    {"FD:3,send-fds=3:", "bad descriptor \"\""},
    {"FD:3,send-fds=", "bad value \"\" for send-fds"},
    {"TCP4:h:1,pf=ip6", "\"pf=ip6\" conflicts with TCP4"},
    {"TCP6-LISTEN:1,pf=4", "\"pf=ip4\" conflicts with TCP6-LISTEN"},
    {"UNIX-LISTEN:/"
     "0123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789",
     "too long"},
    {"FOO\nBAR", "unknown address type \"FOO\\nBAR\""},
    {"READLINE,prompt=x,noprompt",
     "options \"prompt\" and \"noprompt\" exclude each other"},
    {"READLINE:x", "READLINE"},
    {"TCP:h:1,prompt=x", "\"prompt\" does not apply to TCP"},
    {"READLINE,noecho=x", "socat's option \"noecho\" is not supported"},
};

static void test_err(gconstpointer data)
{
    const ErrCase *c = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(QiocAddress) addr = qioc_address_parse(c->spec, 2, &err);
    g_autofree char *prefix = NULL;

    g_assert_null(addr);
    g_assert_error(err, QIOC_USAGE_ERROR, QIOC_USAGE_ERROR_FAILED);
    g_test_message("%s", err->message);
    prefix = *c->spec ? g_strdup("address 2 (") : g_strdup("address 2: ");
    g_assert_true(g_str_has_prefix(err->message, prefix));
    g_assert_nonnull(strstr(err->message, c->needle));
    if (c->needle2) {
        g_assert_nonnull(strstr(err->message, c->needle2));
    }
    g_assert_null(strchr(err->message, '\n'));
}

static void test_err_null_errp(void)
{
    /* callers may ignore the reason */
    g_assert_null(qioc_address_parse("FOO", 1, NULL));
    g_assert_null(qioc_address_parse("TCP:h:1,=1", 1, NULL));
}

/* ---------------------------------------------------------------- getters */

static void test_defaults(void)
{
    g_autoptr(QiocAddress) l = parse_ok("TCP-LISTEN:8080");
    g_autoptr(QiocAddress) c = parse_ok("TCP:h:1");
    g_autoptr(QiocAddress) t = parse_ok("TLS:h:443");
    g_autoptr(QiocAddress) u = parse_ok("UNIX-LISTEN:/s");
    g_autoptr(QiocAddress) e = parse_ok("EXEC:cat");

    g_assert_false(qioc_address_has_opt(l, "backlog"));
    g_assert_cmpint(qioc_address_get_int(l, "backlog", -1), ==, 4096);
    /* reuseaddr: unset (-1); a listener sets it, a connect does not */
    g_assert_cmpint(l->o.reuseaddr, ==, -1);
    g_assert_cmpint(c->o.reuseaddr, ==, -1);
    g_assert_cmpint(l->o.ttl, ==, -1);
    g_assert_cmpint(c->o.rcvbuf, ==, -1);
    g_assert_null(c->o.interface);
    g_assert_null(c->o.setsockopt_int);
    g_assert_false(c->o.reuseport);
    g_assert_false(l->o.forever);
    g_assert_cmpint(l->o.retry, ==, 0);
    g_assert_false(qioc_address_get_flag(l, "fork"));
    g_assert_cmpint(qioc_address_get_int(l, "max-children", -7), ==, -7);
    g_assert_cmpfloat(qioc_address_get_duration(l, "accept-timeout", -1), ==,
                      -1);
    g_assert_null(qioc_address_get_string(l, "range"));
    g_assert_null(qioc_address_get_string(l, "pf"));
    g_assert_cmpstr(qioc_address_get_string(l, "shut"), ==, "write");
    g_assert_cmpint(qioc_address_get_int(c, "retry", -1), ==, 0);
    g_assert_cmpfloat(qioc_address_get_duration(c, "interval", -1), ==, 1);
    g_assert_cmpfloat(qioc_address_get_duration(c, "connect-timeout", 9), ==,
                      9);
    g_assert_true(qioc_address_get_flag(t, "verify"));
    g_assert_cmpstr(qioc_address_get_string(t, "priority"), ==, "NORMAL");
    g_assert_null(qioc_address_get_string(t, "snihost"));
    /* unlink-close's default is the type's: not given, it is unset */
    g_assert_false(qioc_address_get_flag(u, "unlink-close"));
    g_assert_cmpint(u->o.unlink_close, ==, -1);
    g_assert_false(qioc_address_get_flag(u, "unlink-early"));
    g_assert_cmpint(qioc_address_get_int(u, "mode", 0666), ==, 0666);
    g_assert_cmpint(qioc_address_get_int(u, "user", -1), ==, -1);
    g_assert_true(qioc_address_get_flag(e, "pipes"));
    g_assert_cmpint(qioc_address_get_int(e, "fdin", -1), ==, 0);
    g_assert_cmpint(qioc_address_get_int(e, "fdout", -1), ==, 1);
    g_assert_cmpint(qioc_address_get_int(e, "readbytes", -1), ==, -1);
}

static void test_getters(void)
{
    g_autoptr(QiocAddress) f = parse_ok(
        "FILE:/x,mode=0640,umask=027,user=root,group=root,readbytes=2K,"
        "shut-none,append=off");
    g_autoptr(QiocAddress) t =
        parse_ok("TCP:h:1,connect-timeout=2.25,retry=4,interval=0.5,pf=inet6,"
                 "bind=[::1]:0,sp=4000");
    g_autoptr(QiocAddress) u = parse_ok("UNIX-CONNECT:/s,send-fds=5:6");

    g_assert_cmpint(qioc_address_get_int(f, "mode", -1), ==, 0640);
    g_assert_cmpint(qioc_address_get_int(f, "perm", -1), ==, 0640);
    g_assert_cmpint(qioc_address_get_int(f, "umask", -1), ==, 027);
    g_assert_cmpint(qioc_address_get_int(f, "user", -1), ==, 0);
    g_assert_cmpint(qioc_address_get_int(f, "group", -1), ==, 0);
    g_assert_cmpint(qioc_address_get_int(f, "readbytes", -1), ==, 2048);
    g_assert_cmpstr(qioc_address_get_string(f, "shut"), ==, "none");
    g_assert_true(qioc_address_has_opt(f, "append"));
    g_assert_true(qioc_address_has_opt(f, "o-append"));
    g_assert_false(qioc_address_get_flag(f, "append"));
    g_assert_false(qioc_address_has_opt(f, "trunc"));
    g_assert_cmpfloat(qioc_address_get_duration(t, "connect-timeout", -1), ==,
                      2.25);
    g_assert_cmpfloat(qioc_address_get_duration(t, "interval", -1), ==, .5);
    g_assert_cmpint(qioc_address_get_int(t, "retry", -1), ==, 4);
    g_assert_cmpint(qioc_address_get_int(t, "sourceport", -1), ==, 4000);
    g_assert_cmpstr(qioc_address_get_string(t, "pf"), ==, "ip6");
    g_assert_cmpstr(qioc_address_get_string(t, "bind"), ==, "[::1]:0");
    g_assert_cmpstr(qioc_address_get_string(u, "send-fds"), ==, "5:6");
}

static void test_getter_misuse(void)
{
    g_autoptr(QiocAddress) a = parse_ok("TCP-LISTEN:1");

    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*desc != NULL*");
    g_assert_false(qioc_address_get_flag(a, "no-such-option"));
    g_test_assert_expected_messages();
    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*TYPE_BIT*");
    g_assert_false(qioc_address_get_flag(a, "backlog"));
    g_test_assert_expected_messages();
    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*TYPE_BIT*");
    g_assert_cmpint(qioc_address_get_int(a, "fork", 5), ==, 5);
    g_test_assert_expected_messages();
}

/* ---------------------------------------------------------------- tables */

static char *spec_for(const QiocAddrType *t, const char *name)
{
    if (t->layer) {
        return g_strconcat(name, sample_layer_params[t->kind],
                           "|TCP:localhost:80", NULL);
    }
    return g_strconcat(name, sample_params[t->kind], NULL);
}

/* The row @a was parsed with: its first layer's, for a chain. */
static const QiocAddrType *row_of(const QiocAddress *a)
{
    return a->layers ? ((QiocAddress *)a->layers->pdata[0])->type : a->type;
}

static const QiocAddrType *lookup_row(const QiocAddrType *t, const char *name)
{
    return t->layer ? qioc_address_layer_lookup(name)
                    : qioc_address_type_lookup(name);
}

/* Every name and alias of the type table parses to its own entry. */
static void test_type_table(void)
{
    guint n;
    const QiocAddrType *types = qioc_address_types(&n);

    g_assert_cmpuint(n, >=, QIOC_ADDR__COUNT);
    for (guint i = 0; i < n; i++) {
        const QiocAddrType *t = &types[i];
        g_autofree char *lower = g_ascii_strdown(t->name, -1);

        g_assert_nonnull(t->summary);
        g_assert_nonnull(t->params_help);
        g_assert_cmpuint(t->min_params, <=, t->max_params);
        /* readbytes=, shut= and the like belong to the whole address */
        g_assert_true(t->layer || (t->groups & QIOC_OPTGRP_ALL));
        g_assert_true(!t->layer || !(t->groups & QIOC_OPTGRP_ALL));
        g_assert_true(lookup_row(t, t->name) == t);
        g_assert_true(lookup_row(t, lower) == t);
        for (guint j = 0; t->aliases && t->aliases[j]; j++) {
            g_autofree char *spec = spec_for(t, t->aliases[j]);
            g_autoptr(QiocAddress) a = parse_ok(spec);

            g_assert_true(row_of(a) == t);
        }
        g_autofree char *spec = spec_for(t, t->name);
        g_autoptr(QiocAddress) a = parse_ok(spec);
        g_assert_true(row_of(a) == t);
    }
    for (guint k = 0; k < QIOC_ADDR__COUNT; k++) {
        gboolean found = FALSE;

        for (guint i = 0; i < n; i++) {
            found = found || types[i].kind == k;
        }
        /* Every kind but the dual address, which has no name, has a row. */
        g_assert_true(found == (k != QIOC_ADDR_DUAL));
    }
    g_assert_null(qioc_address_type_lookup("NOPE"));
}

/*
 * Every kind has its description, at its own index, and the description
 * owns the grammar rows of that kind and no other: the table is complete.
 */
static void test_desc_table(void)
{
    guint n, rows = 0;

    qioc_address_types(&n);
    for (guint k = 0; k < QIOC_ADDR__COUNT; k++) {
        const QiocAddrDesc *d = qioc_addr_desc(k);

        g_assert_nonnull(d);
        g_assert_cmpuint(d->kind, ==, k);
        /* A dual address is written ADDRESS!!ADDRESS, with no name. */
        if (k == QIOC_ADDR_DUAL) {
            g_assert_cmpuint(d->ntypes, ==, 0);
        } else {
            g_assert_cmpuint(d->ntypes, >, 0);
        }
        for (guint i = 0; i < d->ntypes; i++) {
            g_assert_cmpuint(d->types[i].kind, ==, k);
            g_assert_cmpuint(lookup_row(&d->types[i], d->types[i].name)->kind,
                             ==, k);
        }
        /* What it does: one way to get a channel, or a variant chooser;
         * or, for a layer, what it puts on a channel. */
        g_assert_true(d->choose || d->open || d->connect || d->listen ||
                      d->spawn || d->wrap);
        rows += d->ntypes;
    }
    g_assert_cmpuint(rows, ==, n);
}

/* The parser fills the typed options once; nothing reads them by name. */
static void test_typed_values(void)
{
    g_autoptr(QiocAddress) l =
        parse_ok("TCP-LISTEN:80,fork,max-children=3,range=10.0.0.0/8;::1/128,"
                 "accept-timeout=1.5,shut=close,readbytes=1k");
    g_autoptr(QiocAddress) c = parse_ok("TCP:h:1,retry=4,interval=0.5,pf=ip6");
    g_autoptr(QiocAddress) u = parse_ok("UNIX-CONNECT:/s,send-fds=5:6:7");
    g_autoptr(QiocAddress) d = parse_ok("STDIO");
    g_autofree char *fds = NULL;

    g_assert_true(l->o.fork);
    g_assert_cmpint(l->o.max_children, ==, 3);
    g_assert_cmpfloat(l->o.accept_timeout, ==, 1.5);
    g_assert_cmpint(l->o.shut, ==, QIOC_SHUT_CLOSE);
    g_assert_cmpint(l->o.readbytes, ==, 1024);
    g_assert_nonnull(l->o.range);
    g_assert_cmpuint(l->o.range->masks->len, ==, 2);
    g_assert_cmpuint(l->o.range->hosts->len, ==, 0);
    {
        g_autoptr(QiocAddress) h =
            parse_ok("TCP-LISTEN:80,range=localhost;10.0.0.0/8");

        g_assert_cmpuint(h->o.range->masks->len, ==, 1);
        g_assert_cmpuint(h->o.range->hosts->len, ==, 1);
        g_assert_cmpstr(h->o.range->hosts->pdata[0], ==, "localhost");
    }
    g_assert_cmpint(c->o.retry, ==, 4);
    g_assert_cmpfloat(c->o.interval, ==, 0.5);
    g_assert_cmpint(c->o.pf, ==, 1);
    g_assert_nonnull(u->o.send_fds);
    fds = qioc_fd_list_text(u->o.send_fds);
    g_assert_cmpstr(fds, ==, "5:6:7");
    /* Unset: lists NULL, durations and optional numbers -1. */
    g_assert_null(d->o.send_fds);
    g_assert_null(d->o.range);
    g_assert_cmpint(d->o.shut, ==, QIOC_SHUT_WRITE);
    g_assert_cmpfloat(l->o.connect_timeout, <, 0);
    g_assert_cmpint(c->o.max_children, ==, -1);
}

static void test_typed_tls(void)
{
    g_autoptr(QiocAddress) t =
        parse_ok("TLS:h:1,min-version=TLSv1.2,max-version=tls1.3,cn=n,"
                 "snihost=s,no-sni,capath=/d,cipher=AESGCM,alpn=h2:http/1.1");
    g_autoptr(QiocAddress) d = parse_ok("TLS:h:1");

    g_assert_cmpint(t->o.min_version, ==, QIOC_TLS_1_2);
    g_assert_cmpint(t->o.max_version, ==, QIOC_TLS_1_3);
    g_assert_cmpstr(t->o.commonname, ==, "n");
    g_assert_cmpstr(t->o.snihost, ==, "s");
    g_assert_true(t->o.no_sni);
    g_assert_cmpstr(t->o.capath, ==, "/d");
    g_assert_cmpstr(t->o.cipher, ==, "AESGCM");
    g_assert_cmpstr(t->o.alpn, ==, "h2:http/1.1");
    g_assert_cmpint(d->o.min_version, ==, -1);
    g_assert_cmpint(d->o.max_version, ==, -1);
    g_assert_null(d->o.commonname);
    g_assert_false(d->o.no_sni);
    g_assert_null(d->o.cipher);
    g_assert_null(d->o.alpn);
}

static void test_typed_readline(void)
{
    g_autoptr(QiocAddress) r = parse_ok("READLINE,history-file=/h,prompt='> '");
    g_autoptr(QiocAddress) n = parse_ok("READLINE,noprompt");

    g_assert_cmpstr(r->o.history, ==, "/h");
    g_assert_cmpstr(r->o.prompt, ==, "> ");
    g_assert_false(r->o.noprompt);
    g_assert_null(n->o.history);
    g_assert_null(n->o.prompt);
    g_assert_true(n->o.noprompt);
}

static void assert_bytes(GBytes *b, const void *want, gsize len)
{
    gsize n;
    gconstpointer data = g_bytes_get_data(b, &n);

    g_assert_cmpmem(data, n, want, len);
}

/* Socket options as the setsockopt(2) calls will use them. */
static void test_typed_sockopts(void)
{
    g_autoptr(QiocAddress) a = parse_ok(
        "TCP:h:1,ttl=0x40,tos=0x10,mss=1000,linger=3,rcvbuf=16K,sndbuf=8K,"
        "reuseport,reuseaddr,if=lo,setsockopt-int=6:0x1:-2,"
        "setsockopt-bin=1:2:x01ff,setsockopt-string=1:25:eth0,"
        "setsockopt-listen=0x1:015:x02000000,forever");
    g_autoptr(QiocAddress) off = parse_ok("TCP-LISTEN:1,reuseaddr=0");
    const int minus2 = -2;

    g_assert_cmpint(a->o.ttl, ==, 64);
    g_assert_cmpint(a->o.tos, ==, 16);
    g_assert_cmpint(a->o.mss, ==, 1000);
    g_assert_cmpint(a->o.linger, ==, 3);
    g_assert_cmpint(a->o.rcvbuf, ==, 16384);
    g_assert_cmpint(a->o.sndbuf, ==, 8192);
    g_assert_true(a->o.reuseport);
    g_assert_cmpint(a->o.reuseaddr, ==, 1);
    g_assert_cmpint(off->o.reuseaddr, ==, 0);
    g_assert_cmpstr(a->o.interface, ==, "lo");
    g_assert_true(a->o.forever);
    g_assert_cmpint(a->o.setsockopt_int->level, ==, 6);
    g_assert_cmpint(a->o.setsockopt_int->name, ==, 1);
    assert_bytes(a->o.setsockopt_int->value, &minus2, sizeof(minus2));
    g_assert_cmpint(a->o.setsockopt_bin->level, ==, 1);
    g_assert_cmpint(a->o.setsockopt_bin->name, ==, 2);
    assert_bytes(a->o.setsockopt_bin->value, "\x01\xff", 2);
    /* socat passes the text with its NUL */
    assert_bytes(a->o.setsockopt_string->value, "eth0", 5);
    g_assert_cmpint(a->o.setsockopt_listen->level, ==, 1);
    g_assert_cmpint(a->o.setsockopt_listen->name, ==, 13);
    assert_bytes(a->o.setsockopt_listen->value, "\x02\0\0\0", 4);
}

static const QiocAddrType *type_for_option(const QiocOptDesc *o)
{
    guint n;
    const QiocAddrType *types = qioc_address_types(&n);

    for (guint i = 0; i < n; i++) {
        if (types[i].groups & o->groups) {
            return &types[i];
        }
    }
    return NULL;
}

/* Names are unique, defaults are in normalised form, help is there. */
static void test_option_table(void)
{
    guint n;
    const QiocOptDesc *opts = qioc_address_options(&n);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < n; i++) {
        const QiocOptDesc *o = &opts[i];
        const QiocAddrType *t = type_for_option(o);

        g_assert_nonnull(t);
        g_assert_nonnull(o->help);
        g_assert_true(g_hash_table_add(seen, (gpointer)o->name));
        for (guint j = 0; o->aliases && o->aliases[j]; j++) {
            g_assert_true(g_hash_table_add(seen, (gpointer)o->aliases[j]));
        }
        g_assert_true((o->type == QIOC_OPT_CHOICE) == (o->choices != NULL));
        if (o->defval) {
            g_autofree char *spec = g_strdup_printf(
                "%s%s,%s=%s%s", t->name,
                (t->layer ? sample_layer_params : sample_params)[t->kind],
                o->name, o->defval, t->layer ? "|TCP:localhost:80" : "");
            g_autoptr(QiocAddress) a = parse_ok(spec);
            const QiocAddress *with = a->layers ? a->layers->pdata[0] : a;

            g_assert_cmpstr(g_hash_table_lookup(with->opts, o->name), ==,
                            o->defval);
        }
    }
}

/* Every option of doc/grammar.md's table ("Address options") is there,
 * with socat's aliases. */
static void test_option_names(void)
{
    static const char *const names[] = {
        "fork",
        "max-children",
        "backlog",
        "reuseaddr",
        "so-reuseaddr",
        "bind",
        "range",
        "nodelay",
        "tcp-nodelay",
        "keepalive",
        "so-keepalive",
        "connect-timeout",
        "retry",
        "interval",
        "unlink-early",
        "unlink",
        "unlink-close",
        "mode",
        "perm",
        "user",
        "group",
        "append",
        "o-append",
        "creat",
        "o-creat",
        "trunc",
        "o-trunc",
        "excl",
        "o-excl",
        "rdonly",
        "o-rdonly",
        "wronly",
        "o-wronly",
        "stderr",
        "cert",
        "key",
        "cafile",
        "verify",
        "snihost",
        "commonname",
        "cn",
        "capath",
        "no-sni",
        "nosni",
        "min-version",
        "max-version",
        "cipher",
        "ciphers",
        "alpn",
        "openssl-min-proto-version",
        "openssl-max-proto-version",
        "priority",
        "send-fds",
        "pf",
        "ipv6only",
        "ipv6-v6only",
        "sourceport",
        "sp",
        "accept-timeout",
        "ignoreeof",
        "readbytes",
        "umask",
        "pipes",
        "socketpair",
        "pty",
        "setsid",
        "ctty",
        "nofork",
        "fdin",
        "fdout",
        "end-close",
        "shut",
        "ttl",
        "ip-ttl",
        "tos",
        "ip-tos",
        "mss",
        "tcp-maxseg",
        "rcvbuf",
        "so-rcvbuf",
        "sndbuf",
        "so-sndbuf",
        "linger",
        "so-linger",
        "reuseport",
        "so-reuseport",
        "interface",
        "so-bindtodevice",
        "if",
        "setsockopt",
        "setsockopt-int",
        "setsockopt-bin",
        "setsockopt-string",
        "setsockopt-listen",
        "forever",
    };
    g_autoptr(QiocAddress) any = parse_ok("STDIO");

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        /* has_opt() complains about names that are not in the table */
        g_assert_false(qioc_address_has_opt(any, names[i]));
    }
}

/* ---------------------------------------------------------------- describe */

static const char *const describe_specs[] = {
    "TCP-LISTEN:8080,fork",
    "TCP6:[::1]:80",
    "FILE:/x,append",
    "UNIX-LISTEN:/s",
    "EXEC:'sh -c \"a, b\"',pty",
    "TLS:h:443,verify=0",
    "TLS:h:443,min-version=TLS1.2,cipher=AESGCM,alpn=h2,no-sni",
    "TLS-LISTEN:443,cert=/c",
    "STDIO",
    "SYSTEM:echo a:b",
    "FILE:'a,b:c',bind=x",
    "GOPEN:it\\'s,shut=none",
    "SD-LISTEN",
};

static void test_describe(gconstpointer data)
{
    const char *spec = data;
    g_autoptr(QiocAddress) a = NULL;
    g_autofree char *text = NULL;
    g_autofree char *line = NULL;
    guint n;
    const QiocOptDesc *opts = qioc_address_options(&n);

    if (strstr(spec, "bind=")) {
        /* FILE takes no bind= */
        g_assert_null(qioc_address_parse(spec, 1, NULL));
        return;
    }
    a = parse_ok(spec);
    text = qioc_address_describe(a);
    g_test_message("%s", text);
    line = g_strconcat(text, ",", NULL);
    g_assert_true(g_str_has_prefix(text, a->type->name));
    for (guint i = 0; i < n; i++) {
        g_autofree char *needle = g_strdup_printf(",%s=", opts[i].name);

        if (a->type->groups & opts[i].groups) {
            g_assert_nonnull(strstr(line, needle));
        } else {
            g_assert_null(strstr(line, needle));
        }
    }
    g_assert_nonnull(strstr(line, ",shut="));
    g_assert_nonnull(strstr(line, ",readbytes=(unset),"));
}

/*
 * ADDRESS!!ADDRESS: two addresses of their own, read from the first and
 * written to the second; quotes and escapes protect a literal "!!".
 */
/* @spec is refused with a message that contains @words. */
static void parse_refused(const char *spec, const char *words)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QiocAddress) a = qioc_address_parse(spec, 2, &err);

    g_assert_null(a);
    g_assert_error(err, QIOC_USAGE_ERROR, QIOC_USAGE_ERROR_FAILED);
    if (!strstr(err->message, words)) {
        g_test_message("spec <%s>: %s", spec, err->message);
    }
    g_assert_nonnull(strstr(err->message, words));
    g_assert_null(strchr(err->message, '\n'));
}

static const QiocAddress *layer_at(const QiocAddress *a, guint i)
{
    g_assert_nonnull(a->layers);
    g_assert_cmpuint(i, <, a->layers->len);
    return a->layers->pdata[i];
}

/* LAYER|...|ADDRESS: layers outermost first, the transport holding them. */
static void test_chain(void)
{
    const char *spec = "TLS:example.org,cafile=/ca.pem|SOCKS5:example.org:443,"
                       "socksuser=u,sockspass=p|TCP:proxy.example:1080,"
                       "connect-timeout=5";
    g_autoptr(QiocAddress) a = parse_ok(spec);
    g_autoptr(QiocAddress) server = parse_ok(
        "TLS-SERVER,cert=c.pem,key=k.pem|UNIX-LISTEN:/run/app.sock,fork");
    g_autoptr(QiocAddress) exec = parse_ok("TLS:db.internal|EXEC:ssh jump nc "
                                           "db 5432");
    g_autoptr(QiocAddress) pipe = parse_ok("TLS:x|SYSTEM:a | b");
    g_autoptr(QiocAddress) sys = parse_ok("SYSTEM:ps ax | grep x");
    g_autoptr(QiocAddress) file = parse_ok("FILE:a|b");
    g_autoptr(QiocAddress) alone = parse_ok("SOCKS4A:proxy:example.org:80");

    g_assert_cmpint(a->type->kind, ==, QIOC_ADDR_TCP_CONNECT);
    g_assert_cmpstr(a->text, ==, spec);
    g_assert_cmpuint(a->layers->len, ==, 2);
    g_assert_cmpint(layer_at(a, 0)->type->kind, ==, QIOC_ADDR_TLS_CONNECT);
    g_assert_true(layer_at(a, 0)->type->layer);
    g_assert_cmpstr(layer_at(a, 0)->params[0], ==, "example.org");
    g_assert_cmpstr(layer_at(a, 0)->o.cafile, ==, "/ca.pem");
    g_assert_cmpstr(layer_at(a, 0)->text, ==, "TLS:example.org,cafile=/ca.pem");
    g_assert_cmpint(layer_at(a, 1)->type->kind, ==, QIOC_ADDR_SOCKS5);
    g_assert_cmpstr(layer_at(a, 1)->o.sockspass, ==, "p");
    g_assert_cmpfloat(a->o.connect_timeout, ==, 5);
    g_assert_cmpint(server->type->kind, ==, QIOC_ADDR_UNIX_LISTEN);
    g_assert_true(server->o.fork);
    g_assert_cmpint(layer_at(server, 0)->type->kind, ==, QIOC_ADDR_TLS_LISTEN);
    g_assert_cmpstr(exec->params[0], ==, "ssh jump nc db 5432");
    /* A command keeps its pipes, in a chain or alone. */
    g_assert_cmpstr(pipe->params[0], ==, "a | b");
    g_assert_null(sys->layers);
    g_assert_cmpstr(sys->params[0], ==, "ps ax | grep x");
    g_assert_null(file->layers);
    g_assert_cmpstr(file->params[0], ==, "a|b");
    g_assert_null(alone->layers);
    g_assert_cmpint(alone->type->kind, ==, QIOC_ADDR_SOCKS4);
    g_assert_cmpuint(alone->nparams, ==, 3);

    /* --dry-run shows every layer with its options, in order. */
    {
        g_autofree char *text = qioc_address_describe(a);
        const char *tls = strstr(text, "TLS:example.org,");
        const char *socks = strstr(text, "|SOCKS5:example.org:443,");
        const char *tcp = strstr(text, "|TCP:proxy.example:1080,");

        g_assert_true(tls == text && socks > tls && tcp > socks);
        g_assert_nonnull(strstr(text, ",cafile=/ca.pem,"));
        g_assert_nonnull(strstr(text, ",sockspass=p|"));
        g_assert_nonnull(strstr(text, ",connect-timeout=5,"));
    }

    parse_refused("TLS:x|", "no address after the last \"|\"");
    parse_refused("SOCKS-SERVER", "SOCKS-SERVER is a layer");
    parse_refused("TLS:x|UDP:h:53", "a layer needs a stream");
    parse_refused("TLS:x|TCP:h:1,cafile=/x", "cafile");
    parse_refused("SOCKS5:h:1,readbytes=3|TCP:h:1", "readbytes");
    parse_refused("SOCKS4:h:1,sockspass=p,socksuser=u|TCP:h:1",
                  "SOCKS4 has no password");
    parse_refused("SOCKS5:h:1,sockspass=p|TCP:h:1", "needs socksuser");
    parse_refused("PROXY:h:1,proxyauth=nocolon|TCP:h:1", "USER:PASS");
    parse_refused("PROXY:'h\r\nX: y':1|TCP:h:1", "control characters");
    parse_refused("SOCKS-SERVER,allow-port=80;x|UNIX-LISTEN:/x", "allow-port");
    parse_refused("SOCKS-SERVER,socksuser=u|UNIX-LISTEN:/x", "go together");
    /* an open proxy needs its allow-list said out loud */
    parse_refused("SOCKS-SERVER|TCP-LISTEN:1080,fork", "give allow=");
    parse_refused("PROXY-SERVER|TCP-LISTEN:3128,bind=192.0.2.1", "give allow=");
    qioc_address_free(parse_ok("SOCKS-SERVER|TCP-LISTEN:1080,bind=localhost"));
    qioc_address_free(
        parse_ok("SOCKS-SERVER,allow=10.0.0.0/8|TCP-LISTEN:1080,fork"));
    parse_refused("DYNAMIC,retry=3", "does not retry");
}

/* DYNAMIC and a proxy-serving layer need each other. */
static void test_chain_pair(void)
{
    static const struct {
        const char *a, *b, *words; /* NULL: accepted */
    } cases[] = {
        {"SOCKS-SERVER|TCP-LISTEN:1080,bind=127.0.0.1,fork", "DYNAMIC", NULL},
        {"DYNAMIC,connect-timeout=3", "PROXY-SERVER|UNIX-LISTEN:/x", NULL},
        {"TCP-LISTEN:1", "DYNAMIC", "needs a SOCKS-SERVER or PROXY-SERVER"},
        {"SOCKS-SERVER|UNIX-LISTEN:/x", "TCP:h:1", "must be DYNAMIC"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        QiocAddress *addr[2] = {parse_ok(cases[i].a), parse_ok(cases[i].b)};
        g_autoptr(GError) err = NULL;
        gboolean ok = qioc_address_check_pair(addr, &err);

        g_assert_true(ok == (cases[i].words == NULL));
        g_assert_true(!cases[i].words || strstr(err->message, cases[i].words));
        qioc_address_free(addr[0]);
        qioc_address_free(addr[1]);
    }
}

static void test_dual(void)
{
    g_autoptr(QiocAddress) d =
        parse_ok("FILE:in,ignoreeof,readbytes=5!!TCP:h:1,shut=close");
    g_autoptr(QiocAddress) e = parse_ok("EXEC:cat!!STDOUT");
    g_autoptr(QiocAddress) q = parse_ok("SYSTEM:'echo a!!b',pty");
    g_autoptr(QiocAddress) x = parse_ok("FILE:a\\!\\!b");
    g_autofree char *text = qioc_address_describe(d);

    g_assert_cmpint(d->type->kind, ==, QIOC_ADDR_DUAL);
    g_assert_cmpuint(d->nparams, ==, 0);
    g_assert_cmpint(d->half[0]->type->kind, ==, QIOC_ADDR_FILE);
    g_assert_cmpint(d->half[1]->type->kind, ==, QIOC_ADDR_TCP_CONNECT);
    g_assert_cmpint(d->half[0]->index, ==, 1);
    /* Reading options from the first half, writing ones from the second. */
    g_assert_true(qioc_address_reading(d)->o.ignoreeof);
    g_assert_cmpint(qioc_address_reading(d)->o.readbytes, ==, 5);
    g_assert_cmpint(qioc_address_writing(d)->o.shut, ==, QIOC_SHUT_CLOSE);
    g_assert_true(qioc_address_reading(e) == e->half[0]);
    g_assert_cmpstr(e->half[0]->params[0], ==, "cat");
    g_assert_null(q->half[0]);
    g_assert_cmpstr(q->params[0], ==, "echo a!!b");
    g_assert_null(x->half[0]);
    g_assert_cmpstr(x->params[0], ==, "a!!b");
    g_assert_true(qioc_address_reading(x) == x);

    /* --dry-run shows both halves; a literal "!!" reads back the same. */
    g_assert_true(g_str_has_prefix(text, "FILE:in,"));
    g_assert_nonnull(
        strstr(text, ",readbytes=5,ioctl-void=(unset),ioctl-int=(unset),"
                     "ioctl-intp=(unset),ioctl-bin=(unset),"
                     "ioctl-string=(unset),null-eof=0,shut=write!!TCP:h:1,"));
    g_assert_true(g_str_has_suffix(text, ",shut=close"));
    {
        g_autofree char *qt = qioc_address_describe(q);
        g_autofree char *xt = qioc_address_describe(x);
        g_autofree char *qh = g_strndup(qt, strstr(qt, ",stderr=") - qt);
        g_autofree char *xh = g_strndup(xt, strstr(xt, ",mode=") - xt);
        g_autoptr(QiocAddress) qb = parse_ok(qh);
        g_autoptr(QiocAddress) xb = parse_ok(xh);

        g_assert_null(qb->half[0]);
        g_assert_cmpstr(qb->params[0], ==, "echo a!!b");
        g_assert_null(xb->half[0]);
        g_assert_cmpstr(xb->params[0], ==, "a!!b");
    }
}

/* describe() quotes what needs it: its output parses back the same. */
static void test_describe_roundtrip(void)
{
    static const struct {
        const char *spec;
        const char *head; /* expected start of the description */
    } cases[] = {
        {"TCP-LISTEN:8080,fork", "TCP-LISTEN:8080,fork=1,"},
        {"tcp6:[::1]:80", "TCP6:[::1]:80,"},
        {"FILE:'a,b:c'", "FILE:'a,b:c',"},
        {"GOPEN:it\\'s", "GOPEN:it\\'s,"},
        {"EXEC:'sh -c \"a, b\"',pty", "EXEC:'sh -c \"a, b\"',"},
        {"SYSTEM:echo a:b", "SYSTEM:echo a:b,"},
        {"-", "STDIO,"},
        {"7", "FD:7,"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(QiocAddress) a = parse_ok(cases[i].spec);
        g_autofree char *text = qioc_address_describe(a);
        g_autofree char *head = NULL;
        g_autoptr(QiocAddress) b = NULL;
        const char *comma;

        g_assert_true(g_str_has_prefix(text, cases[i].head));
        /* the type and parameters part reads back the same */
        comma = text + strlen(cases[i].head) - 1;
        head = g_strndup(text, comma - text);
        b = parse_ok(head);
        g_assert_true(b->type == a->type);
        g_assert_cmpuint(b->nparams, ==, a->nparams);
        for (guint j = 0; j < a->nparams; j++) {
            g_assert_cmpstr(b->params[j], ==, a->params[j]);
        }
    }
    {
        g_autoptr(QiocAddress) l = parse_ok("TCP-LISTEN:1");
        g_autofree char *text = qioc_address_describe(l);

        g_assert_nonnull(strstr(text, ",backlog=4096,"));
        g_assert_nonnull(strstr(text, ",reuseaddr=1,"));
        g_assert_nonnull(strstr(text, ",max-children=(unset),"));
        g_assert_true(g_str_has_suffix(text, ",shut=write"));
    }
    {
        /* a connecting socket sets SO_REUSEADDR only when told to */
        g_autoptr(QiocAddress) c = parse_ok("TCP:h:1");
        g_autoptr(QiocAddress) r = parse_ok("TCP:h:1,so-reuseaddr");
        g_autoptr(QiocAddress) l = parse_ok("TLS-LISTEN:1,cert=/c,reuseaddr=0");
        g_autofree char *ct = qioc_address_describe(c);
        g_autofree char *rt = qioc_address_describe(r);
        g_autofree char *lt = qioc_address_describe(l);

        g_assert_nonnull(strstr(ct, ",reuseaddr=0,"));
        g_assert_nonnull(strstr(ct, ",ttl=(unset),"));
        g_assert_nonnull(strstr(ct, ",forever=0,"));
        g_assert_nonnull(strstr(rt, ",reuseaddr=1,"));
        g_assert_nonnull(strstr(lt, ",reuseaddr=0,"));
    }
}

/* ---------------------------------------------------------------- robust */

static void parse_anything(const char *spec)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QiocAddress) a = qioc_address_parse(spec, 1, &err);

    if (a == NULL) {
        g_assert_nonnull(err);
        g_assert_true(err->domain == QIOC_USAGE_ERROR);
        g_assert_null(strchr(err->message, '\n'));
    } else {
        g_autofree char *text = qioc_address_describe(a);

        g_assert_no_error(err);
        g_assert_nonnull(text);
        g_assert_null(a->params[a->nparams]);
    }
}

static const char *const tricky_specs[] = {
    "EXEC:'sh -c \"echo a:b, c\"',pty,stderr",
    "TCP:[fe80::1%eth0]:80,bind='[::1]:0',range=10.0.0.0/8",
    "FILE:\"/tmp/a\\\"b\",mode=0644,user=root,group=root,readbytes=4K",
    "TCP-LISTEN:8080,fork,max-children=3,range=::1/128;127.0.0.0/8",
    "./dir/x\\,y,append,shut-none,send-fds=1:2",
    "SYSTEM:printf '<%s>' 'a, b' \\, c,nofork,fdin=3",
    "TLS-LISTEN:443,cert='a,b.pem',cafile=\"x\",verify=off,pf=6",
    "[::1]:[x]:'y'\"z\"\\",
};

static void test_prefixes(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(tricky_specs); i++) {
        gsize len = strlen(tricky_specs[i]);

        for (gsize n = 0; n <= len; n++) {
            g_autofree char *prefix = g_strndup(tricky_specs[i], n);

            parse_anything(prefix);
        }
    }
}

/* Random strings, biased towards the bytes the grammar cares about. */
static void test_random(void)
{
    static const char alphabet[] =
        ":,'\"\\[]=/-0123456789 abcTCPLISTENEXECFILEforkmodeshut.%;";
    GRand *rand = g_rand_new_with_seed(20240611);

    for (guint i = 0; i < 20000; i++) {
        guint len = g_rand_int_range(rand, 0, 40);
        g_autofree char *s = g_malloc(len + 1);

        for (guint j = 0; j < len; j++) {
            if (g_rand_int_range(rand, 0, 4) == 0) {
                s[j] = (char)g_rand_int_range(rand, 1, 256);
            } else {
                s[j] =
                    alphabet[g_rand_int_range(rand, 0, sizeof(alphabet) - 1)];
            }
        }
        s[len] = '\0';
        parse_anything(s);
    }
    /* the same, spliced into valid heads */
    for (guint i = 0; i < 5000; i++) {
        const char *head = tricky_specs[i % G_N_ELEMENTS(tricky_specs)];
        g_autofree char *tail = g_malloc(9);

        for (guint j = 0; j < 8; j++) {
            tail[j] = alphabet[g_rand_int_range(rand, 0, sizeof(alphabet) - 1)];
        }
        tail[8] = '\0';
        g_autofree char *s = g_strconcat(head, tail, NULL);
        parse_anything(s);
    }
    g_rand_free(rand);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    for (guint i = 0; i < G_N_ELEMENTS(kind_cases); i++) {
        g_autofree char *path = case_path("kind", i, kind_cases[i].spec);

        g_test_add_data_func(path, &kind_cases[i], test_kind);
    }
    for (guint i = 0; i < G_N_ELEMENTS(ok_cases); i++) {
        g_autofree char *path = case_path("ok", i, ok_cases[i].spec);

        g_test_add_data_func(path, &ok_cases[i], test_ok);
    }
    for (guint i = 0; i < G_N_ELEMENTS(err_cases); i++) {
        g_autofree char *path = case_path("error", i, err_cases[i].spec);

        g_test_add_data_func(path, &err_cases[i], test_err);
    }
    for (guint i = 0; i < G_N_ELEMENTS(describe_specs); i++) {
        g_autofree char *path = case_path("describe", i, describe_specs[i]);

        g_test_add_data_func(path, describe_specs[i], test_describe);
    }
    g_test_add_func("/address/error/null-errp", test_err_null_errp);
    g_test_add_func("/address/getters/defaults", test_defaults);
    g_test_add_func("/address/getters/values", test_getters);
    g_test_add_func("/address/getters/misuse", test_getter_misuse);
    g_test_add_func("/address/tables/types", test_type_table);
    g_test_add_func("/address/tables/descs", test_desc_table);
    g_test_add_func("/address/typed/values", test_typed_values);
    g_test_add_func("/address/typed/tls", test_typed_tls);
    g_test_add_func("/address/typed/readline", test_typed_readline);
    g_test_add_func("/address/typed/sockopts", test_typed_sockopts);
    g_test_add_func("/address/tables/options", test_option_table);
    g_test_add_func("/address/tables/cli-options", test_option_names);
    g_test_add_func("/address/describe/roundtrip", test_describe_roundtrip);
    g_test_add_func("/address/dual", test_dual);
    g_test_add_func("/address/chain", test_chain);
    g_test_add_func("/address/chain/pair", test_chain_pair);
    g_test_add_func("/address/robust/prefixes", test_prefixes);
    g_test_add_func("/address/robust/random", test_random);
    return g_test_run();
}
