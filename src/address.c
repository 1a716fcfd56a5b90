/*
 * qioc - address specs: grammar, address types, address options
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "qioc"
#endif

#include "config.h"

#include <grp.h>
#include <net/if.h>
#include <netdb.h>
#include <pwd.h>
#include <string.h>
#include <sys/un.h>

#include <gio/gio.h>

#include "addr.h"
#include "dalan.h"
#include "term.h"

/* clang-format off */
G_DEFINE_QUARK(qioc-usage-error-quark, qioc_usage_error)
/* clang-format on */

#define NAMES QIOC_NAMES
#define OFF(field) offsetof(QiocAddrOpts, field)
/* Brackets tracked in a command; deeper ones still nest, unchecked. */
#define QIOC_COMMAND_NESTING 32
#define TERM(flag) OFF(term[QIOC_TERM_##flag])

/* Longest unix socket path (and abstract name, after its leading NUL). */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

/* Longest duration: whole milliseconds of it still fit a gint. */
#define DURATION_MAX 2147483.0

/* ---------------------------------------------------------------- tables */

#define O_ALL QIOC_OPTGRP_ALL
#define O_ACCEPT QIOC_OPTGRP_ACCEPT
#define O_LISTEN QIOC_OPTGRP_LISTEN
#define O_CONNECT QIOC_OPTGRP_CONNECT
#define O_RECONNECT QIOC_OPTGRP_RECONNECT
#define O_IP QIOC_OPTGRP_IP
#define O_IPCONNECT QIOC_OPTGRP_IPCONNECT
#define O_IPLISTEN QIOC_OPTGRP_IPLISTEN
#define O_UNIXLISTEN QIOC_OPTGRP_UNIXLISTEN
#define O_FSPERM QIOC_OPTGRP_FSPERM
#define O_OPEN QIOC_OPTGRP_OPEN
#define O_READEOF QIOC_OPTGRP_READEOF
#define O_EXEC QIOC_OPTGRP_EXEC
#define O_TLS QIOC_OPTGRP_TLS
#define O_TLSCONNECT QIOC_OPTGRP_TLSCONNECT
#define O_FDPASS QIOC_OPTGRP_FDPASS
#define O_SOCKET QIOC_OPTGRP_SOCKET
#define O_TCP QIOC_OPTGRP_TCP
#define O_UDP QIOC_OPTGRP_UDP
#define O_TERM QIOC_OPTGRP_TERMIOS
#define O_READLINE QIOC_OPTGRP_READLINE
#define O_PTY QIOC_OPTGRP_PTY
#define O_SOCKS QIOC_OPTGRP_SOCKS
#define O_SOCKSPORT QIOC_OPTGRP_SOCKSPORT
#define O_HTTPPROXY QIOC_OPTGRP_HTTPPROXY
#define O_PROXYPORT QIOC_OPTGRP_PROXYPORT
#define O_PROXYSERVER QIOC_OPTGRP_PROXYSERVER
#define O_HTTPCLIENT QIOC_OPTGRP_HTTPCLIENT

#define FLAG QIOC_OPT_FLAG
#define INT QIOC_OPT_INT
#define SIZE QIOC_OPT_SIZE
#define MODE QIOC_OPT_MODE
#define DURATION QIOC_OPT_DURATION
#define STRING QIOC_OPT_STRING
#define USER QIOC_OPT_USER
#define GROUP QIOC_OPT_GROUP
#define CHOICE QIOC_OPT_CHOICE
#define FDLIST QIOC_OPT_FDLIST
#define CIDRS QIOC_OPT_CIDRS
#define NUMBER QIOC_OPT_NUMBER
#define OFFSET QIOC_OPT_OFFSET
#define SOCKOPT QIOC_OPT_SOCKOPT

static const QiocOptDesc addr_options[] = {
    {"fork", NULL, FLAG, O_ACCEPT | O_RECONNECT, "0", NULL,
     "serve every client concurrently, not just one (connecting: connect "
     "again interval= seconds after each connection opens)",
     OFF(fork)},
    {"max-children", NULL, INT, O_ACCEPT | O_RECONNECT, NULL, NULL,
     "with fork: at most N clients (connections) at once", OFF(max_children)},
    {"workers", NULL, INT, O_LISTEN, NULL, NULL,
     "with fork: serve clients on N threads, each with its own loop (as "
     "--workers)",
     OFF(workers)},
    /* As high as Linux allows by default: the kernel caps it anyway. */
    {"backlog", NULL, INT, O_LISTEN, "4096", NULL,
     "listen backlog, capped by net.core.somaxconn", OFF(backlog)},
    {"accept-timeout", NAMES("listen-timeout"), DURATION, O_ACCEPT, NULL, NULL,
     "give up when no client arrives within SECONDS", OFF(accept_timeout)},
    {"idle-timeout", NULL, DURATION, O_ACCEPT, NULL, NULL,
     "end a client's connection after SECONDS without data (as -T)",
     OFF(idle_timeout)},
    /* socat takes it on unix sockets too, where Linux ignores it. */
    {"reuseaddr", NAMES("so-reuseaddr"), FLAG, O_IP | O_SOCKET, "0", NULL,
     "set SO_REUSEADDR (listeners: on unless reuseaddr=0; unix: no effect)",
     OFF(reuseaddr), TRUE},
    {"range", NULL, CIDRS, O_IPLISTEN, NULL, NULL,
     "accept clients only from these networks", OFF(range)},
    {"bind", NULL, STRING, O_IP | QIOC_OPTGRP_UNIXBIND, NULL, NULL,
     "local address HOST[:PORT] to bind (unix clients: a PATH or NAME)",
     OFF(bind)},
    {"sourceport", NAMES("sp"), INT, O_IPCONNECT | O_IPLISTEN, NULL, NULL,
     "local port to bind; listeners: serve only clients from this port",
     OFF(sourceport)},
    {"lowport", NULL, FLAG, O_IPCONNECT | O_IPLISTEN, "0", NULL,
     "bind a free port from 640 to 1023 (root); listeners: serve only "
     "clients from ports below 1024",
     OFF(lowport)},
    {"pf", NAMES("protocol-family"), CHOICE, O_IP, NULL, NAMES("ip4", "ip6"),
     "address family: ip4 or ip6", OFF(pf)},
    {"ipv6only", NAMES("ipv6-v6only"), FLAG, O_IP, "0", NULL,
     "an IPv6 socket takes IPv6 only (IPV6_V6ONLY)", OFF(ipv6only), TRUE},
    {"nodelay", NAMES("tcp-nodelay"), FLAG, O_TCP, "0", NULL, "set TCP_NODELAY",
     OFF(nodelay)},
    {"keepalive", NAMES("so-keepalive"), FLAG, O_TCP, "0", NULL,
     "set SO_KEEPALIVE", OFF(keepalive)},
    {"reuseport", NAMES("so-reuseport"), FLAG, O_IP, "0", NULL,
     "set SO_REUSEPORT: other sockets may bind the same port", OFF(reuseport)},
    {"interface", NAMES("so-bindtodevice", "if"), STRING, O_IP, NULL, NULL,
     "use only this network interface (SO_BINDTODEVICE)", OFF(interface)},
    {"ttl", NAMES("ip-ttl", "ipv6-unicast-hops"), NUMBER, O_IP, NULL, NULL,
     "time to live (IPv6: hop limit) of the packets sent", OFF(ttl)},
    {"tos", NAMES("ip-tos", "ipv6-tclass"), NUMBER, O_IP, NULL, NULL,
     "type of service (IPv6: traffic class) of the packets sent", OFF(tos)},
    {"mss", NAMES("tcp-maxseg"), NUMBER, O_TCP, NULL, NULL,
     "TCP maximum segment size to announce (TCP_MAXSEG)", OFF(mss)},
    {"linger", NAMES("so-linger"), NUMBER, O_TCP, NULL, NULL,
     "on close, wait up to SECONDS for unsent data (SO_LINGER); 0: reset",
     OFF(linger)},
    {"broadcast", NAMES("so-broadcast"), FLAG, O_UDP, "0", NULL,
     "may send to a broadcast address (SO_BROADCAST)", OFF(broadcast)},
    {"ip-multicast-ttl", NAMES("multicast-ttl"), NUMBER, O_UDP, NULL, NULL,
     "time to live (IPv6: hop limit) of multicast datagrams sent",
     OFF(ip_multicast_ttl)},
    {"ip-multicast-loop", NAMES("multicast-loop"), INT, O_UDP, NULL, NULL,
     "1: multicast datagrams sent come back to local listeners; 0: not",
     OFF(ip_multicast_loop)},
    {"ip-add-membership", NAMES("ip-membership", "ipv6-join-group"), STRING,
     O_UDP, NULL, NULL,
     "join multicast group GROUP[:INTERFACE] (interface name or address)",
     OFF(ip_add_membership)},
    {"ip-options", NULL, STRING, O_IP, NULL, NULL,
     "IPv4 header options of the packets sent (IP_OPTIONS), in socat's data "
     "notation: x01000000",
     OFF(ip_options)},
    /* Ancillary data (src/ancillary.c): logged with -dd, and given to an
     * EXEC or SYSTEM child as QIOC_ and SOCAT_ variables. */
    {"so-timestamp", NULL, FLAG, O_UDP, "0", NULL,
     "datagrams received come with their arrival time (SO_TIMESTAMP): "
     "variable TIMESTAMP",
     OFF(so_timestamp)},
    {"ip-pktinfo", NULL, FLAG, O_UDP, "0", NULL,
     "IPv4 datagrams received come with the address they were sent to and "
     "the interface (IP_PKTINFO): IP_DSTADDR, IP_LOCADDR, IP_IF",
     OFF(ip_pktinfo)},
    {"ip-recvtos", NULL, FLAG, O_UDP, "0", NULL,
     "IPv4 datagrams received come with their type of service: IP_TOS",
     OFF(ip_recvtos)},
    {"ip-recvttl", NULL, FLAG, O_UDP, "0", NULL,
     "IPv4 datagrams received come with their time to live: IP_TTL",
     OFF(ip_recvttl)},
    {"ip-recvopts", NULL, FLAG, O_UDP, "0", NULL,
     "IPv4 datagrams received come with their header options: IP_OPTIONS",
     OFF(ip_recvopts)},
    {"ipv6-recvpktinfo", NULL, FLAG, O_UDP, "0", NULL,
     "IPv6 datagrams received come with the address they were sent to and "
     "the interface: IPV6_DSTADDR, IPV6_IF",
     OFF(ipv6_recvpktinfo)},
    {"ipv6-recvhoplimit", NULL, FLAG, O_UDP, "0", NULL,
     "IPv6 datagrams received come with their hop limit: IPV6_HOPLIMIT",
     OFF(ipv6_recvhoplimit)},
    {"ipv6-recvtclass", NULL, FLAG, O_UDP, "0", NULL,
     "IPv6 datagrams received come with their traffic class: IPV6_TCLASS",
     OFF(ipv6_recvtclass)},
    {"ipv6-recvrthdr", NULL, FLAG, O_UDP, "0", NULL,
     "IPv6 datagrams received come with their routing header: IPV6_RTHDR",
     OFF(ipv6_recvrthdr)},
    {"ipv6-recvdstopts", NULL, FLAG, O_UDP, "0", NULL,
     "IPv6 datagrams received come with their destination options: "
     "IPV6_DSTOPTS",
     OFF(ipv6_recvdstopts)},
    {"ip-recverr", NULL, FLAG, O_IP, "0", NULL,
     "ICMP errors are kept with their details (IP_RECVERR), and an "
     "unconnected UDP socket's reads report them too",
     OFF(ip_recverr)},
    {"ipv6-recverr", NULL, FLAG, O_IP, "0", NULL,
     "the same for ICMPv6 errors on an IPv6 socket (IPV6_RECVERR)",
     OFF(ipv6_recverr)},
    {"ipv6-recvhopopts", NULL, FLAG, O_UDP, "0", NULL,
     "IPv6 datagrams received come with their hop-by-hop options: "
     "IPV6_HOPOPTS",
     OFF(ipv6_recvhopopts)},
    {"rcvbuf", NAMES("so-rcvbuf"), SIZE, O_SOCKET, NULL, NULL,
     "socket receive buffer size (SO_RCVBUF)", OFF(rcvbuf)},
    {"sndbuf", NAMES("so-sndbuf"), SIZE, O_SOCKET, NULL, NULL,
     "socket send buffer size (SO_SNDBUF)", OFF(sndbuf)},
    {"setsockopt-listen", NAMES("sockopt-listen"), SOCKOPT, O_SOCKET, NULL,
     NULL,
     "setsockopt(2) LEVEL:NAME:DATA (x0102..., socat's i1...) before bind or "
     "connect",
     OFF(setsockopt_listen)},
    {"setsockopt-int", NAMES("sockopt-int"), SOCKOPT, O_SOCKET, NULL, NULL,
     "setsockopt(2) LEVEL:NAME:INT once connected (each client of a "
     "listener)",
     OFF(setsockopt_int)},
    {"setsockopt-bin", NAMES("setsockopt", "sockopt", "sockopt-bin"), SOCKOPT,
     O_SOCKET, NULL, NULL,
     "setsockopt(2) LEVEL:NAME:DATA (x0102..., socat's i1...) once connected "
     "(each client of a "
     "listener)",
     OFF(setsockopt_bin)},
    {"setsockopt-string", NAMES("sockopt-string"), SOCKOPT, O_SOCKET, NULL,
     NULL,
     "setsockopt(2) LEVEL:NAME:TEXT (with a NUL) once connected (each "
     "client of a listener)",
     OFF(setsockopt_string)},
    {"connect-timeout", NULL, DURATION, O_CONNECT, NULL, NULL,
     "give up connecting after SECONDS", OFF(connect_timeout)},
    {"retry", NULL, INT, O_CONNECT | O_LISTEN, "0", NULL,
     "retry a failed connect or listen N times", OFF(retry)},
    {"interval", NAMES("intervall"), DURATION, O_CONNECT | O_LISTEN, "1", NULL,
     "SECONDS to wait between connect or listen tries", OFF(interval)},
    {"forever", NULL, FLAG, O_CONNECT | O_LISTEN, "0", NULL,
     "retry a failed connect or listen without limit", OFF(forever)},
    {"unlink-early", NAMES("unlink"), FLAG, O_UNIXLISTEN, "0", NULL,
     "remove an existing socket file before binding", OFF(unlink_early)},
    {"mode", NAMES("perm"), MODE, O_FSPERM, NULL, NULL,
     "permissions of the created file", OFF(mode)},
    {"perm-late", NAMES("perm-early"), MODE, O_FSPERM, NULL, NULL,
     "permissions set once opened, on a new or existing file", OFF(perm_late)},
    {"user", NAMES("owner", "uid"), USER, O_FSPERM, NULL, NULL,
     "owner of the created file", OFF(user)},
    {"group", NAMES("gid"), GROUP, O_FSPERM, NULL, NULL,
     "group of the created file", OFF(group)},
    {"umask", NULL, MODE, O_FSPERM, NULL, NULL, "umask while creating",
     OFF(umask)},
    /* On for what qioc makes (sockets, FIFOs, pty links), off for files. */
    {"unlink-close", NULL, FLAG, O_UNIXLISTEN | O_FSPERM, NULL, NULL,
     "remove the file system entry at the end (default: on for sockets, "
     "FIFOs and links qioc made, off for files)",
     OFF(unlink_close), TRUE},
    /* socat takes it on any address; qioc's I/O never blocks anyway. */
    {"nonblock", NAMES("o-nonblock", "o-ndelay"), FLAG, O_ALL, "0", NULL,
     "open with O_NONBLOCK: a FIFO opens without waiting for its other end; "
     "elsewhere no effect, qioc's I/O never blocks",
     OFF(nonblock)},
    {"seek", NAMES("seek-set", "seek-cur"), OFFSET, O_OPEN, NULL, NULL,
     "once opened, move to byte OFFSET (lseek SEEK_SET)", OFF(seek)},
    /* Alone, as in socat's EXAMPLES (follow a log): the end itself. */
    {"seek-end", NULL, OFFSET, O_OPEN, NULL, NULL,
     "once opened, move OFFSET bytes from the end (-100: the last 100; "
     "alone: 0)",
     OFF(seek_end), FALSE, "0"},
    {"ftruncate", NULL, OFFSET, O_OPEN, NULL, NULL,
     "once opened, cut or extend the file to OFFSET bytes (ftruncate)",
     OFF(ftruncate)},
    /* Locks (src/lock.c): the waiting ones wait from a timer. */
    {"flock-ex", NAMES("flock"), FLAG, O_ALL, "0", NULL,
     "once opened, take an exclusive flock(2), waiting while another holds "
     "it",
     OFF(flock_ex)},
    {"flock-ex-nb", NAMES("flock-nb"), FLAG, O_ALL, "0", NULL,
     "once opened, take an exclusive flock(2), or fail", OFF(flock_ex_nb)},
    {"flock-sh", NULL, FLAG, O_ALL, "0", NULL,
     "once opened, take a shared flock(2), waiting while needed",
     OFF(flock_sh)},
    {"flock-sh-nb", NULL, FLAG, O_ALL, "0", NULL,
     "once opened, take a shared flock(2), or fail", OFF(flock_sh_nb)},
    {"setlk", NAMES("setlk-wr"), FLAG, O_ALL, "0", NULL,
     "once opened, take a write lock on the whole file (F_SETLK), or fail",
     OFF(setlk)},
    {"setlkw", NAMES("setlkw-wr"), FLAG, O_ALL, "0", NULL,
     "once opened, take a write lock on the whole file, waiting while "
     "needed",
     OFF(setlkw)},
    {"setlk-rd", NULL, FLAG, O_ALL, "0", NULL,
     "once opened, take a read lock on the whole file (F_SETLK), or fail",
     OFF(setlk_rd)},
    {"setlkw-rd", NULL, FLAG, O_ALL, "0", NULL,
     "once opened, take a read lock on the whole file, waiting while needed",
     OFF(setlkw_rd)},
    {"lockfile", NULL, STRING, O_ALL, NULL, NULL,
     "create FILE before opening, fail if it exists; removed at the end",
     OFF(lockfile)},
    {"waitlock", NULL, STRING, O_ALL, NULL, NULL,
     "create FILE before opening, waiting while it exists; removed at the "
     "end",
     OFF(waitlock)},
    {"append", NAMES("o-append"), FLAG, O_OPEN, "0", NULL, "open with O_APPEND",
     OFF(append)},
    {"creat", NAMES("o-creat", "create"), FLAG, O_OPEN, "0", NULL,
     "open with O_CREAT", OFF(creat)},
    {"trunc", NAMES("o-trunc"), FLAG, O_OPEN, "0", NULL, "open with O_TRUNC",
     OFF(trunc)},
    {"excl", NAMES("o-excl"), FLAG, O_OPEN, "0", NULL, "open with O_EXCL",
     OFF(excl)},
    {"rdonly", NAMES("o-rdonly"), FLAG, O_OPEN, "0", NULL,
     "open for reading only", OFF(rdonly)},
    {"wronly", NAMES("o-wronly"), FLAG, O_OPEN, "0", NULL,
     "open for writing only", OFF(wronly)},
    {"ignoreeof", NULL, FLAG, O_READEOF, "0", NULL,
     "at end-of-file keep waiting for more, like tail -f", OFF(ignoreeof)},
    {"stderr", NULL, FLAG, O_EXEC, "0", NULL,
     "the child's stderr goes into the channel too", OFF(merge_stderr)},
    {"pipes", NULL, FLAG, O_EXEC, "1", NULL, "connect the child through pipes",
     OFF(pipes), TRUE},
    {"socketpair", NULL, FLAG, O_EXEC, "0", NULL,
     "connect the child through a socket pair", OFF(socketpair)},
    {"pty", NULL, FLAG, O_EXEC, "0", NULL,
     "run the child on a new pseudo-terminal", OFF(pty)},
    {"setsid", NAMES("sid"), FLAG, O_ALL, "0", NULL,
     "a new session: EXEC and SYSTEM's child, else qioc itself", OFF(setsid)},
    {"setpgid", NULL, INT, O_ALL, NULL, NULL,
     "a process group: N, or alone or 0 for a new one; EXEC and SYSTEM: the "
     "child's",
     OFF(setpgid), FALSE, "0"},
    {"ctty", NULL, FLAG, O_EXEC, "0", NULL,
     "make the pty the child's controlling terminal", OFF(ctty)},
    {"nofork", NULL, FLAG, O_EXEC, "0", NULL,
     "give the child the other address's descriptor; relay nothing",
     OFF(nofork)},
    {"fdin", NULL, INT, O_EXEC, "0", NULL, "the child reads from fd N",
     OFF(fdin), TRUE},
    {"fdout", NULL, INT, O_EXEC, "1", NULL, "the child writes to fd N",
     OFF(fdout), TRUE},
    /* A PTY ends by closing already, as socat's does: accepted there. */
    {"end-close", NULL, FLAG, O_EXEC | O_PTY, "0", NULL,
     "at the end, close the channel without signalling the child (PTY: "
     "what it does anyway)",
     OFF(end_close)},
    {"link", NAMES("symbolic-link"), STRING, O_PTY, NULL, NULL,
     "a symbolic link PATH to the pty's slave, removed at the end", OFF(link)},
    {"wait-slave", NAMES("waitslave"), FLAG, O_PTY, "0", NULL,
     "relay only once a process has opened the slave", OFF(wait_slave)},
    {"pty-interval", NAMES("pty-intervall"), DURATION, O_PTY, "1", NULL,
     "with wait-slave: look for the slave's opening every SECONDS",
     OFF(pty_interval)},
    {"cert", NAMES("certificate", "openssl-certificate"), STRING, O_TLS, NULL,
     NULL, "PEM certificate chain (may hold the key too)", OFF(cert)},
    {"key", NAMES("openssl-key"), STRING, O_TLS, NULL, NULL, "PEM private key",
     OFF(key)},
    {"cafile", NAMES("openssl-cafile"), STRING, O_TLS, NULL, NULL,
     "trust anchors; on TLS-LISTEN, verify client certificates", OFF(cafile)},
    {"capath", NAMES("openssl-capath"), STRING, O_TLS, NULL, NULL,
     "a directory of trust anchors (PEM files), as cafile", OFF(capath)},
    {"verify", NAMES("openssl-verify"), FLAG, O_TLS, "1", NULL,
     "verify the peer", OFF(verify)},
    {"commonname", NAMES("cn", "openssl-commonname"), STRING, O_TLSCONNECT,
     NULL, NULL, "name the server's certificate must match (default: HOST)",
     OFF(commonname)},
    {"snihost", NAMES("openssl-snihost"), STRING, O_TLSCONNECT, NULL, NULL,
     "name sent in SNI (default: commonname, else HOST)", OFF(snihost)},
    {"no-sni", NAMES("nosni", "openssl-no-sni"), FLAG, O_TLSCONNECT, "0", NULL,
     "send no server name indication", OFF(no_sni)},
    {"priority", NULL, STRING, O_TLS, "NORMAL", NULL, "GnuTLS priority string",
     OFF(priority)},
    {"min-version", NAMES("openssl-min-proto-version", "min-proto-version"),
     CHOICE, O_TLS, NULL, NAMES("TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"),
     "oldest TLS version allowed", OFF(min_version)},
    {"max-version", NAMES("openssl-max-proto-version", "max-proto-version"),
     CHOICE, O_TLS, NULL, NAMES("TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"),
     "newest TLS version allowed", OFF(max_version)},
    {"cipher", NAMES("ciphers", "cipherlist", "openssl-cipherlist"), STRING,
     O_TLS, NULL, NULL, "OpenSSL cipher list NAME[:NAME]..., added to priority",
     OFF(cipher)},
    {"alpn", NULL, STRING, O_TLS, NULL, NULL,
     "ALPN protocols PROTO[:PROTO]...: offered, or accepted by TLS-LISTEN",
     OFF(alpn)},
    {"handshake-timeout", NULL, DURATION, O_TLS | O_PROXYSERVER, "30", NULL,
     "give up on a TLS or proxy handshake not done within SECONDS (0: "
     "never)",
     OFF(handshake_timeout)},
    {"socksport", NULL, INT, O_SOCKSPORT, "1080", NULL,
     "the SOCKS proxy's port (SOCKS4:PROXY:HOST:PORT)", OFF(socksport)},
    {"socksuser", NAMES("socks-user"), STRING, O_SOCKS, NULL, NULL,
     "SOCKS4 user id; SOCKS5 user name (with sockspass=); a server "
     "requires it",
     OFF(socksuser)},
    {"sockspass", NAMES("socks-pass", "sockspassword"), STRING, O_SOCKS, NULL,
     NULL, "SOCKS5 password (RFC 1929); a server requires it", OFF(sockspass)},
    {"proxyport", NULL, INT, O_PROXYPORT, "8080", NULL,
     "the HTTP proxy's port (PROXY:PROXY:HOST:PORT)", OFF(proxyport)},
    {"proxyauth", NAMES("proxy-authorization"), STRING, O_HTTPPROXY, NULL, NULL,
     "USER:PASS sent as Basic authorization; a server requires it",
     OFF(proxyauth)},
    {"resolve", NULL, FLAG, O_HTTPCLIENT, "0", NULL,
     "resolve HOST before asking the HTTP proxy, and ask for the address",
     OFF(resolve)},
    {"allow", NULL, CIDRS, O_PROXYSERVER, "127.0.0.0/8;::1/128", NULL,
     "networks clients may reach through qioc as a proxy (CIDR or host)",
     OFF(allow)},
    {"allow-port", NULL, STRING, O_PROXYSERVER, NULL, NULL,
     "ports clients may reach: PORT[-PORT][;...] (default: any)",
     OFF(allow_port)},
    {"raw", NULL, FLAG, O_TERM, "0", NULL,
     "terminal: no line editing, signals or output processing (stty raw); "
     "echo stays",
     OFF(raw)},
    {"rawer", NAMES("cfmakeraw"), FLAG, O_TERM, "0", NULL,
     "terminal: raw, and no echo, 8 data bits (cfmakeraw(3))", OFF(rawer)},
    {"echo", NULL, FLAG, O_TERM, NULL, NULL, "terminal: echo input (ECHO)",
     TERM(ECHO), TRUE},
    {"echoctl", NAMES("ctlecho"), FLAG, O_TERM, NULL, NULL,
     "terminal: echo control characters as ^X (ECHOCTL)", TERM(ECHOCTL), TRUE},
    {"icanon", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: line by line input with editing (ICANON)", TERM(ICANON), TRUE},
    {"isig", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: ^C, ^\\ and ^Z send signals (ISIG)", TERM(ISIG), TRUE},
    {"iexten", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: extended input processing, ^V (IEXTEN)", TERM(IEXTEN), TRUE},
    {"icrnl", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: CR typed reads as NL (ICRNL)", TERM(ICRNL), TRUE},
    {"inlcr", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: NL typed reads as CR (INLCR)", TERM(INLCR), TRUE},
    {"igncr", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: CR typed is dropped (IGNCR)", TERM(IGNCR), TRUE},
    {"ixon", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: ^S and ^Q stop and start output (IXON)", TERM(IXON), TRUE},
    {"ixoff", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: send ^S and ^Q to pace input (IXOFF)", TERM(IXOFF), TRUE},
    {"brkint", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: a break sends SIGINT (BRKINT)", TERM(BRKINT), TRUE},
    {"istrip", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: strip the eighth bit of input (ISTRIP)", TERM(ISTRIP), TRUE},
    {"opost", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: output processing (OPOST)", TERM(OPOST), TRUE},
    {"onlcr", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: NL written goes out as CR NL (ONLCR)", TERM(ONLCR), TRUE},
    {"ocrnl", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: CR written goes out as NL (OCRNL)", TERM(OCRNL), TRUE},
    {"crtscts", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: RTS/CTS hardware flow control (CRTSCTS)", TERM(CRTSCTS), TRUE},
    {"clocal", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: ignore modem control lines (CLOCAL)", TERM(CLOCAL), TRUE},
    {"hupcl", NAMES("hup"), FLAG, O_TERM, NULL, NULL,
     "terminal: hang up on last close (HUPCL)", TERM(HUPCL), TRUE},
    {"parenb", NAMES("parity"), FLAG, O_TERM, NULL, NULL,
     "terminal: parity generation and checking (PARENB)", TERM(PARENB), TRUE},
    {"cstopb", NULL, FLAG, O_TERM, NULL, NULL,
     "terminal: two stop bits, not one (CSTOPB)", TERM(CSTOPB), TRUE},
    {"speed", NULL, NUMBER, O_TERM, NULL, NULL,
     "terminal: input and output baud rate (b9600 is speed=9600)", OFF(speed)},
    {"ispeed", NULL, NUMBER, O_TERM, NULL, NULL, "terminal: input baud rate",
     OFF(ispeed)},
    {"ospeed", NULL, NUMBER, O_TERM, NULL, NULL, "terminal: output baud rate",
     OFF(ospeed)},
    {"vmin", NAMES("min"), NUMBER, O_TERM, NULL, NULL,
     "terminal, not icanon: a read waits for N bytes (VMIN)", OFF(vmin)},
    {"vtime", NAMES("time"), NUMBER, O_TERM, NULL, NULL,
     "terminal, not icanon: or N tenths of a second (VTIME)", OFF(vtime)},
    {"crlf", NAMES("crnl"), FLAG, O_ALL, "0", NULL,
     "line ends: NL written goes out as CR NL, CR NL read comes in as NL",
     OFF(crlf)},
    {"cr", NULL, FLAG, O_ALL, "0", NULL,
     "line ends: NL written goes out as CR, CR read comes in as NL", OFF(cr)},
    {"escape", NULL, NUMBER, O_ALL, NULL, NULL,
     "this byte read (0x0f: ^O) ends the input, as end-of-file", OFF(escape)},
    {"history", NAMES("history-file"), STRING, O_READLINE, NULL, NULL,
     "history file: read at start, entered lines written back at the end",
     OFF(history)},
    {"prompt", NULL, STRING, O_READLINE, NULL, NULL,
     "the prompt shown (default: the peer's incomplete last line)",
     OFF(prompt)},
    {"noprompt", NULL, FLAG, O_READLINE, "0", NULL,
     "no prompt: the peer's incomplete line is shown as it comes",
     OFF(noprompt)},
    {"send-fds", NULL, FDLIST, O_FDPASS, NULL, NULL,
     "send these descriptors with the first data written", OFF(send_fds)},
    {"su", NAMES("su-d", "substuser", "substuser-delayed"), USER, O_ALL, NULL,
     NULL,
     "run as USER (and its groups) once listeners are bound; EXEC and "
     "SYSTEM: the child",
     OFF(su)},
    {"chroot", NULL, STRING, O_ALL, NULL, NULL,
     "change the root directory once listeners are bound; EXEC and SYSTEM: "
     "the child's",
     OFF(chroot)},
    {"readbytes", NAMES("bytes"), SIZE, O_ALL, NULL, NULL,
     "read at most N bytes, then treat it as end-of-file (0: no limit)",
     OFF(readbytes)},
    /* socat's; qioc passes empty datagrams on as nothing otherwise. */
    /* socat's generic ioctl(2) options, on any descriptor, once open. */
    {"ioctl-void", NULL, SOCKOPT, O_ALL, NULL, NULL,
     "ioctl(2) REQUEST on the descriptor once open, no argument",
     OFF(ioctl_void)},
    {"ioctl-int", NULL, SOCKOPT, O_ALL, NULL, NULL,
     "ioctl(2) REQUEST:INT, the int itself the argument", OFF(ioctl_int)},
    {"ioctl-intp", NULL, SOCKOPT, O_ALL, NULL, NULL,
     "ioctl(2) REQUEST:INT, a pointer to the int the argument",
     OFF(ioctl_intp)},
    {"ioctl-bin", NULL, SOCKOPT, O_ALL, NULL, NULL,
     "ioctl(2) REQUEST:DATA (x0102..., socat's i1...), a pointer to the "
     "bytes",
     OFF(ioctl_bin)},
    {"ioctl-string", NULL, SOCKOPT, O_ALL, NULL, NULL,
     "ioctl(2) REQUEST:TEXT, a pointer to the text", OFF(ioctl_string)},
    {"null-eof", NULL, FLAG, O_ALL, "0", NULL,
     "an empty datagram read from this address is its end-of-file",
     OFF(null_eof)},
    {"shut", NULL, CHOICE, O_ALL, "write",
     NAMES("write", "both", "close", "none", "null"),
     "when data into this address ends: write (half-close), both, close, "
     "none, or null (an empty datagram; socat: shut-down, shut-close, "
     "shut-none, shut-null)",
     OFF(shut)},
};

/* socat spells some values of an option as an option of its own. */
typedef struct {
    const char *alias;
    const char *option;
    const char *value;
} PresetAlias;

static const PresetAlias preset_aliases[] = {
    {"shut-down", "shut", "write"},
    {"shut-close", "shut", "close"},
    {"shut-none", "shut", "none"},
    {"shut-null", "shut", "null"},
    /* socat's baud rates: b9600 is speed=9600 */
    {"b50", "speed", "50"},
    {"b75", "speed", "75"},
    {"b110", "speed", "110"},
    {"b134", "speed", "134"},
    {"b150", "speed", "150"},
    {"b200", "speed", "200"},
    {"b300", "speed", "300"},
    {"b600", "speed", "600"},
    {"b1200", "speed", "1200"},
    {"b1800", "speed", "1800"},
    {"b2400", "speed", "2400"},
    {"b4800", "speed", "4800"},
    {"b9600", "speed", "9600"},
    {"b19200", "speed", "19200"},
    {"b38400", "speed", "38400"},
    {"b57600", "speed", "57600"},
    {"b115200", "speed", "115200"},
    {"b230400", "speed", "230400"},
    {"b460800", "speed", "460800"},
    {"b500000", "speed", "500000"},
    {"b576000", "speed", "576000"},
    {"b921600", "speed", "921600"},
    {"b1000000", "speed", "1000000"},
    {"b1152000", "speed", "1152000"},
    {"b1500000", "speed", "1500000"},
    {"b2000000", "speed", "2000000"},
    {"b2500000", "speed", "2500000"},
    {"b3000000", "speed", "3000000"},
    {"b3500000", "speed", "3500000"},
    {"b4000000", "speed", "4000000"},
};

/* Other spellings of CHOICE values. */
typedef struct {
    const char *option;
    const char *word;
    const char *choice;
} ChoiceSynonym;

static const ChoiceSynonym choice_synonyms[] = {
    {"pf", "ipv4", "ip4"},
    {"pf", "inet", "ip4"},
    {"pf", "4", "ip4"},
    {"pf", "ipv6", "ip6"},
    {"pf", "inet6", "ip6"},
    {"pf", "6", "ip6"},
    {"min-version", "TLS1", "TLS1.0"},
    {"min-version", "TLSv1", "TLS1.0"},
    {"min-version", "TLSv1.0", "TLS1.0"},
    {"min-version", "TLSv1.1", "TLS1.1"},
    {"min-version", "TLSv1.2", "TLS1.2"},
    {"min-version", "TLSv1.3", "TLS1.3"},
    {"max-version", "TLS1", "TLS1.0"},
    {"max-version", "TLSv1", "TLS1.0"},
    {"max-version", "TLSv1.0", "TLS1.0"},
    {"max-version", "TLSv1.1", "TLS1.1"},
    {"max-version", "TLSv1.2", "TLS1.2"},
    {"max-version", "TLSv1.3", "TLS1.3"},
};

/*
 * Ranges of INT, NUMBER and SIZE options; the others take 0..G_MAXINT
 * (sizes 0..G_MAXINT64).
 */
typedef struct {
    const char *option;
    gint64 min;
    gint64 max;
} IntLimit;

static const IntLimit int_limits[] = {
    {"max-children", 1, G_MAXINT},
    {"workers", 1, QIOC_WORKERS_MAX},
    {"sourceport", 1, 65535},
    {"ttl", 1, 255},
    {"tos", 0, 255},
    {"ip-multicast-ttl", 0, 255},
    {"ip-multicast-loop", 0, 1},
    {"mss", 88, 32767}, /* Linux's TCP_MIN_MSS to MAX_TCP_WINDOW */
    {"seek", 0, G_MAXINT64},
    {"seek-end", -G_MAXINT64, G_MAXINT64},
    {"rcvbuf", 0, G_MAXINT},
    {"sndbuf", 0, G_MAXINT},
    {"vmin", 0, 255},
    {"vtime", 0, 255},
    {"escape", 0, 255},
    {"socksport", 1, 65535},
    {"proxyport", 1, 65535},
};

/* Longest values of STRING options; the others take any length. */
static const struct {
    const char *option;
    gsize max;
    const char *what;
} string_limits[] = {
    {"interface", IFNAMSIZ - 1, "a network interface name"},
    {"socksuser", 255, "a SOCKS user name (RFC 1929)"},
    {"sockspass", 255, "a SOCKS password (RFC 1929)"},
};

/*
 * What the VALUE of each SOCKOPT option is. The ioctl-* options are
 * written REQUEST[:VALUE], the others LEVEL:NAME:VALUE.
 */
typedef enum {
    SOCKOPT_INT,    /* an int, passed as a native int */
    SOCKOPT_BYTES,  /* x followed by hex digits, two a byte */
    SOCKOPT_STRING, /* text, passed with its terminating NUL */
    SOCKOPT_VOID,   /* none (ioctl-void) */
} SockoptKind;

static const struct {
    const char *option;
    SockoptKind kind;
} sockopt_kinds[] = {
    {"setsockopt-listen", SOCKOPT_BYTES}, {"setsockopt-int", SOCKOPT_INT},
    {"setsockopt-bin", SOCKOPT_BYTES},    {"setsockopt-string", SOCKOPT_STRING},
    {"ioctl-void", SOCKOPT_VOID},         {"ioctl-int", SOCKOPT_INT},
    {"ioctl-intp", SOCKOPT_INT},          {"ioctl-bin", SOCKOPT_BYTES},
    {"ioctl-string", SOCKOPT_STRING},
};

/* ---------------------------------------------------------------- lookups */

static gboolean name_matches(const char *name, const char *canonical,
                             const char *const *aliases)
{
    if (g_ascii_strcasecmp(name, canonical) == 0) {
        return TRUE;
    }
    for (guint i = 0; aliases && aliases[i]; i++) {
        if (g_ascii_strcasecmp(name, aliases[i]) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/*
 * The type rows of every kind, in kind order, copied once from the
 * descriptions in src/addr-*.c into one array for the lookups, the help
 * and the completion.
 */
static const QiocAddrType *all_types(guint *n)
{
    static gsize types;
    static guint count;

    if (g_once_init_enter(&types)) {
        GArray *a = g_array_new(FALSE, FALSE, sizeof(QiocAddrType));

        for (int k = 0; k < QIOC_ADDR__COUNT; k++) {
            const QiocAddrDesc *d = qioc_addr_desc(k);

            g_array_append_vals(a, d->types, d->ntypes);
        }
        count = a->len;
        g_once_init_leave(&types, (gsize)g_array_free(a, FALSE));
    }
    *n = count;
    return (const QiocAddrType *)types;
}

const QiocAddrType *qioc_address_types(guint *n)
{
    guint count;
    const QiocAddrType *types = all_types(&count);

    if (n) {
        *n = count;
    }
    return types;
}

const QiocOptDesc *qioc_address_options(guint *n)
{
    if (n) {
        *n = G_N_ELEMENTS(addr_options);
    }
    return addr_options;
}

/* The row named @name of the sort @layer says. */
static const QiocAddrType *row_lookup(const char *name, gboolean layer)
{
    guint n;
    const QiocAddrType *types = all_types(&n);

    g_return_val_if_fail(name != NULL, NULL);

    for (guint i = 0; i < n; i++) {
        if (types[i].layer == layer &&
            name_matches(name, types[i].name, types[i].aliases)) {
            return &types[i];
        }
    }
    return NULL;
}

const QiocAddrType *qioc_address_type_lookup(const char *name)
{
    return row_lookup(name, FALSE);
}

const QiocAddrType *qioc_address_layer_lookup(const char *name)
{
    return row_lookup(name, TRUE);
}

/* The first row of @kind, in the table qioc_address_types() gives. */
static const QiocAddrType *type_of_kind(QiocAddrKind kind)
{
    guint n;
    const QiocAddrType *types = all_types(&n);

    for (guint i = 0; i < n; i++) {
        if (types[i].kind == kind) {
            return &types[i];
        }
    }
    g_return_val_if_reached(NULL);
}

/* g_str_hash() of the name in lower case: option names ignore case. */
static guint ascii_case_hash(gconstpointer key)
{
    guint h = 5381;

    for (const char *p = key; *p; p++) {
        h = h * 33 + (guchar)g_ascii_tolower(*p);
    }
    return h;
}

static gboolean ascii_case_equal(gconstpointer a, gconstpointer b)
{
    return g_ascii_strcasecmp(a, b) == 0;
}

/* The first option that has @name keeps it, as a search in order would. */
static void index_add(GHashTable *t, const char *name, const QiocOptDesc *d)
{
    if (!g_hash_table_contains(t, name)) {
        g_hash_table_insert(t, (gpointer)name, (gpointer)d);
    }
}

/*
 * Every name and alias of every option, built once: the getters look
 * options up by name for each connection a listener serves.
 */
static GHashTable *option_index(void)
{
    static gsize index;

    if (g_once_init_enter(&index)) {
        GHashTable *t = g_hash_table_new(ascii_case_hash, ascii_case_equal);

        for (guint i = 0; i < G_N_ELEMENTS(addr_options); i++) {
            const QiocOptDesc *d = &addr_options[i];

            index_add(t, d->name, d);
            for (guint j = 0; d->aliases && d->aliases[j]; j++) {
                index_add(t, d->aliases[j], d);
            }
        }
        g_once_init_leave(&index, (gsize)t);
    }
    return (GHashTable *)index;
}

static const QiocOptDesc *option_lookup(const char *name)
{
    return g_hash_table_lookup(option_index(), name);
}

static const PresetAlias *preset_lookup(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(preset_aliases); i++) {
        if (g_ascii_strcasecmp(name, preset_aliases[i].alias) == 0) {
            return &preset_aliases[i];
        }
    }
    return NULL;
}

static void int_limits_of(const QiocOptDesc *desc, gint64 *min, gint64 *max)
{
    *min = 0;
    *max = desc->type == QIOC_OPT_SIZE ? G_MAXINT64 : G_MAXINT;
    for (guint i = 0; i < G_N_ELEMENTS(int_limits); i++) {
        if (strcmp(desc->name, int_limits[i].option) == 0) {
            *min = int_limits[i].min;
            *max = int_limits[i].max;
        }
    }
}

static SockoptKind sockopt_kind_of(const QiocOptDesc *desc)
{
    for (guint i = 0; i < G_N_ELEMENTS(sockopt_kinds); i++) {
        if (strcmp(desc->name, sockopt_kinds[i].option) == 0) {
            return sockopt_kinds[i].kind;
        }
    }
    g_return_val_if_reached(SOCKOPT_BYTES);
}

/* ---------------------------------------------------------------- errors */

typedef struct {
    const char *spec;
    const char *p; /* the cursor in spec */
    int index;
    const QiocAddrType *type;
    GPtrArray *params; /* char *, owned */
    GHashTable *opts;  /* canonical name -> normalised value */
    gboolean layer;    /* left of a '|': look up the layer rows */
} Parser;

/* A message stays on one line whatever bytes the spec holds. */
static char *one_line(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));

    for (const char *p = text; *p; p++) {
        guchar c = (guchar)*p;

        if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '\t') {
            g_string_append(out, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            g_string_append_printf(out, "\\x%02x", c);
        } else {
            g_string_append_c(out, (char)c);
        }
    }
    return g_string_free(out, FALSE);
}

static void fail(const Parser *ps, GError **errp, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void fail(const Parser *ps, GError **errp, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;
    g_autofree char *msg = NULL;
    g_autofree char *line = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (*ps->spec) {
        msg = g_strdup_printf("address %d (%s): %s", ps->index, ps->spec, what);
    } else {
        msg = g_strdup_printf("address %d: %s", ps->index, what);
    }
    line = one_line(msg);
    g_set_error_literal(errp, QIOC_USAGE_ERROR, QIOC_USAGE_ERROR_FAILED, line);
}

static const char *param_at(const Parser *ps, guint i)
{
    return g_ptr_array_index(ps->params, i);
}

/* ---------------------------------------------------------------- lexer */

/* Where the quote opening at @q closes, or NULL. As in the shell, single
 * quotes take everything literally and in double quotes a backslash
 * protects the next byte. */
static const char *quote_end(const char *q)
{
    const char *p = q + 1;

    for (; *p && *p != *q; p++) {
        if (*q == '"' && *p == '\\' && p[1]) {
            p++;
        }
    }
    return *p ? p : NULL;
}

static gboolean scan_escape(Parser *ps, const char *word, GString *out,
                            GError **errp)
{
    if (ps->p[1] == '\0') {
        fail(ps, errp, "trailing backslash in \"%s\"", word);
        return FALSE;
    }
    g_string_append_c(out, ps->p[1]);
    ps->p += 2;
    return TRUE;
}

static gboolean scan_quoted(Parser *ps, GString *out, GError **errp)
{
    const char *end = quote_end(ps->p);

    if (end == NULL) {
        fail(ps, errp, "unterminated quote at \"%s\"", ps->p);
        return FALSE;
    }
    for (const char *p = ps->p + 1; p < end; p++) {
        /* quote_end() skipped the byte after it, so p + 1 < end */
        if (*ps->p == '"' && *p == '\\') {
            p++;
        }
        g_string_append_c(out, *p);
    }
    ps->p = end + 1;
    return TRUE;
}

/* A bracket group protects the colons of an IPv6 literal. Without a
 * closing ']' the '[' is an ordinary byte. */
static gboolean scan_bracket(Parser *ps, GString *out)
{
    const char *end = strchr(ps->p, ']');

    if (end == NULL) {
        return FALSE;
    }
    g_string_append_len(out, ps->p, end - ps->p + 1);
    ps->p = end + 1;
    return TRUE;
}

/* One byte, or one quoted, escaped or bracketed run of them. */
static gboolean scan_piece(Parser *ps, const char *word, gboolean brackets,
                           GString *out, GError **errp)
{
    char c = *ps->p;

    if (c == '\\') {
        return scan_escape(ps, word, out, errp);
    }
    if (c == '\'' || c == '"') {
        return scan_quoted(ps, out, errp);
    }
    if (c != '[' || !brackets || !scan_bracket(ps, out)) {
        g_string_append_c(out, c);
        ps->p++;
    }
    return TRUE;
}

/* Reads a word up to an unquoted, unescaped byte of @stops (or the end)
 * into @out, quotes and escapes resolved. With @brackets, a word that is
 * a single [...] group loses its brackets: "[::1]" is "::1". */
static gboolean scan_word(Parser *ps, const char *stops, gboolean brackets,
                          GString *out, GError **errp)
{
    const char *start = ps->p;
    gboolean grouped = brackets && *start == '[' && strchr(start, ']');

    /* A word that opens with '[' and has a ':' is an IPv6 literal:
     * without its ']' the colons would split it silently. */
    if (*start == '[' && !strchr(start, ']') &&
        strcspn(start, ":,") < strcspn(start, ",")) {
        fail(ps, errp, "unterminated '[' at \"%s\"", start);
        return FALSE;
    }
    while (*ps->p != '\0' && strchr(stops, *ps->p) == NULL) {
        if (!scan_piece(ps, start, brackets, out, errp)) {
            return FALSE;
        }
    }
    if (grouped && ps->p == strchr(start, ']') + 1) {
        g_string_erase(out, 0, 1);
        g_string_truncate(out, out->len - 1);
    }
    return TRUE;
}

/* A command wrapped whole in one pair of quotes loses that pair; inside
 * double quotes, \" and \\ lose their backslash too, as in the shell. */
static void unwrap_command(const char *open, const char *close, GString *out)
{
    for (const char *p = open + 1; p < close; p++) {
        if (*open == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
            p++;
        }
        g_string_append_c(out, *p);
    }
}

/*
 * Where a command's ',' at @p ends it: outside brackets, as socat reads
 * "echo (,)[,]{,}". Brackets that never close do not count, so
 * "echo :(,pty" still ends before "pty".
 */
static gboolean command_ends_at(const char *p, const char *end_of_spec,
                                int depth)
{
    return depth == 0 || p >= end_of_spec;
}

/* The bracket depth after @c: an opener nests, its closer un-nests. */
static int bracket_step(char *stack, int depth, char c)
{
    static const char pairs[] = "()[]{}";
    const char *o = strchr(pairs, c);

    if (c == '\0' || o == NULL) {
        return depth;
    }
    if ((o - pairs) % 2 == 0) {
        if (depth < QIOC_COMMAND_NESTING) {
            stack[depth] = o[1];
        }
        return depth + 1;
    }
    if (depth > 0 && (depth > QIOC_COMMAND_NESTING || stack[depth - 1] == c)) {
        return depth - 1;
    }
    return depth;
}

/*
 * The end of the last bracket group that closes: past it, brackets are
 * left open to the end and a ',' ends the command again.
 */
static const char *last_balanced(const char *start)
{
    char stack[QIOC_COMMAND_NESTING];
    const char *balanced = start;
    int depth = 0;

    for (const char *p = start; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == '\'' || *p == '"') {
            const char *q = quote_end(p);

            if (q == NULL) {
                break;
            }
            p = q;
        } else {
            depth = bracket_step(stack, depth, *p);
            balanced = depth == 0 ? p + 1 : balanced;
        }
    }
    return balanced;
}

/* EXEC and SYSTEM: the command runs to the first unquoted, unescaped ','
 * outside brackets, and keeps its quotes for the shell-like word
 * splitting done later. */
static gboolean scan_command(Parser *ps, GString *out, GError **errp)
{
    const char *start = ps->p;
    const char *first_close = NULL;
    const char *balanced = last_balanced(start);
    char stack[QIOC_COMMAND_NESTING];
    int depth = 0;

    while (*ps->p != '\0' &&
           !(*ps->p == ',' && command_ends_at(ps->p, balanced, depth))) {
        const char *end = ps->p + 1;

        if (*ps->p == '\\' && ps->p[1] == '\0') {
            fail(ps, errp, "trailing backslash in \"%s\"", start);
            return FALSE;
        } else if (*ps->p == '\\') {
            end = ps->p + 2;
        } else if (*ps->p == '\'' || *ps->p == '"') {
            end = quote_end(ps->p);
            if (end == NULL) {
                fail(ps, errp, "unterminated quote at \"%s\"", ps->p);
                return FALSE;
            }
            first_close = ps->p == start ? end : first_close;
            end++;
        } else {
            depth = bracket_step(stack, depth, *ps->p);
        }
        ps->p = end;
    }
    if (first_close != NULL && first_close + 1 == ps->p) {
        unwrap_command(start, first_close, out);
    } else {
        g_string_append_len(out, start, ps->p - start);
    }
    return TRUE;
}

/* ---------------------------------------------------------------- values */

/* Digits of @base only, no sign or blanks, at most @max. */
static gboolean parse_uint(const char *s, guint base, guint64 max, guint64 *out)
{
    guint64 v = 0;

    if (*s == '\0') {
        return FALSE;
    }
    for (; *s; s++) {
        int d = g_ascii_xdigit_value(*s);

        if (d < 0 || (guint)d >= base || (guint64)d > max ||
            v > (max - (guint64)d) / base) {
            return FALSE;
        }
        v = v * base + (guint64)d;
    }
    *out = v;
    return TRUE;
}

static gboolean all_digits(const char *s)
{
    return *s != '\0' && s[strspn(s, "0123456789")] == '\0';
}

/* Each parser returns the normalised value, or NULL and maybe a reason in
 * @why (else the message says what its type expects). */
typedef char *(*ValueParser)(const QiocOptDesc *desc, const char *value,
                             char **why);

static const struct {
    const char *word;
    gboolean value;
} flag_words[] = {
    {"1", TRUE},    {"0", FALSE},     {"yes", TRUE}, {"no", FALSE},
    {"true", TRUE}, {"false", FALSE}, {"on", TRUE},  {"off", FALSE},
};

static char *parse_flag(const QiocOptDesc *desc, const char *value, char **why)
{
    for (guint i = 0; i < G_N_ELEMENTS(flag_words); i++) {
        if (g_ascii_strcasecmp(value, flag_words[i].word) == 0) {
            return g_strdup(flag_words[i].value ? "1" : "0");
        }
    }
    return NULL;
}

static char *parse_int(const QiocOptDesc *desc, const char *value, char **why)
{
    gint64 min;
    gint64 max;
    guint64 v;

    if (!all_digits(value)) {
        return NULL;
    }
    int_limits_of(desc, &min, &max);
    if (!parse_uint(value, 10, (guint64)max, &v) || v < (guint64)min) {
        *why = g_strdup_printf("expected a number from %" G_GINT64_FORMAT
                               " to %" G_GINT64_FORMAT,
                               min, max);
        return NULL;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, v);
}

#define HEX_DIGITS "0123456789abcdefABCDEF"

/* As strtoul(3) with base 0 reads it, without sign or blanks. */
static gboolean parse_c_uint(const char *s, guint64 max, guint64 *out)
{
    if (g_ascii_strncasecmp(s, "0x", 2) == 0) {
        return parse_uint(s + 2, 16, max, out);
    }
    if (s[0] == '0' && s[1] != '\0') {
        return parse_uint(s + 1, 8, max, out);
    }
    return parse_uint(s, 10, max, out);
}

static gboolean is_c_number(const char *s)
{
    gboolean hex = g_ascii_strncasecmp(s, "0x", 2) == 0;
    const char *digits = hex ? s + 2 : s;

    return *digits != '\0' &&
           digits[strspn(digits, hex ? HEX_DIGITS : "0123456789")] == '\0';
}

static char *parse_number(const QiocOptDesc *desc, const char *value,
                          char **why)
{
    gint64 min;
    gint64 max;
    guint64 v;

    if (!is_c_number(value)) {
        return NULL;
    }
    int_limits_of(desc, &min, &max);
    if (!parse_c_uint(value, (guint64)max, &v) || v < (guint64)min) {
        *why = g_strdup_printf("expected a number from %" G_GINT64_FORMAT
                               " to %" G_GINT64_FORMAT,
                               min, max);
        return NULL;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, v);
}

static const struct {
    char suffix;
    guint64 factor;
} size_suffixes[] = {
    {'k', G_GUINT64_CONSTANT(1) << 10},
    {'m', G_GUINT64_CONSTANT(1) << 20},
    {'g', G_GUINT64_CONSTANT(1) << 30},
};

gboolean qioc_size_parse(const char *text, guint64 max, guint64 *out)
{
    gsize len = strlen(text);
    guint64 factor = 1;
    guint64 v;
    g_autofree char *digits = NULL;

    for (guint i = 0; len > 0 && i < G_N_ELEMENTS(size_suffixes); i++) {
        if (g_ascii_tolower(text[len - 1]) == size_suffixes[i].suffix) {
            factor = size_suffixes[i].factor;
        }
    }
    digits = g_strndup(text, factor > 1 ? len - 1 : len);
    if (!parse_uint(digits, 10, max / factor, &v)) {
        return FALSE;
    }
    *out = v * factor;
    return TRUE;
}

/* [-]BYTES[K|M|G], within the option's limits. */
static char *parse_offset(const QiocOptDesc *desc, const char *value,
                          char **why)
{
    gboolean negative = value[0] == '-';
    gint64 min;
    gint64 max;
    guint64 v;

    if (!qioc_size_parse(value + negative, G_MAXINT64, &v)) {
        return NULL;
    }
    int_limits_of(desc, &min, &max);
    if ((negative && v > (guint64)-min) || (!negative && v > (guint64)max)) {
        *why = g_strdup_printf("expected an offset from %" G_GINT64_FORMAT
                               " to %" G_GINT64_FORMAT,
                               min, max);
        return NULL;
    }
    return g_strdup_printf("%s%" G_GUINT64_FORMAT, negative && v ? "-" : "", v);
}

static char *parse_size(const QiocOptDesc *desc, const char *value, char **why)
{
    gint64 min;
    gint64 max;
    guint64 v;

    if (!qioc_size_parse(value, G_MAXINT64, &v)) {
        return NULL;
    }
    int_limits_of(desc, &min, &max);
    if (v < (guint64)min || v > (guint64)max) {
        *why = g_strdup_printf("expected %" G_GINT64_FORMAT
                               " to %" G_GINT64_FORMAT " bytes",
                               min, max);
        return NULL;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, v);
}

static char *parse_mode(const QiocOptDesc *desc, const char *value, char **why)
{
    guint64 v;

    if (!parse_uint(value, 8, 07777, &v)) {
        return NULL;
    }
    return g_strdup_printf("0%03o", (guint)v);
}

/* [DIGITS][.DIGITS] with a digit somewhere: no sign, exponent, inf, nan. */
static gboolean is_decimal(const char *s)
{
    gsize whole = strspn(s, "0123456789");
    gsize frac = 0;

    if (s[whole] == '.') {
        frac = strspn(s + whole + 1, "0123456789");
        return s[whole + 1 + frac] == '\0' && whole + frac > 0;
    }
    return s[whole] == '\0' && whole > 0;
}

gboolean qioc_duration_parse(const char *text, double *out)
{
    if (!is_decimal(text) || g_ascii_strtod(text, NULL) > DURATION_MAX) {
        return FALSE;
    }
    *out = g_ascii_strtod(text, NULL);
    return TRUE;
}

static char *parse_duration(const QiocOptDesc *desc, const char *value,
                            char **why)
{
    if (!is_decimal(value)) {
        return NULL;
    }
    if (g_ascii_strtod(value, NULL) > DURATION_MAX) {
        *why = g_strdup_printf("expected at most %.0f seconds", DURATION_MAX);
        return NULL;
    }
    return g_strdup(value);
}

static char *parse_string(const QiocOptDesc *desc, const char *value,
                          char **why)
{
    for (guint i = 0; i < G_N_ELEMENTS(string_limits); i++) {
        if (strcmp(desc->name, string_limits[i].option) == 0 &&
            (*value == '\0' || strlen(value) > string_limits[i].max)) {
            *why = g_strdup_printf("expected %s of 1 to %zu bytes",
                                   string_limits[i].what, string_limits[i].max);
            return NULL;
        }
    }
    return g_strdup(value);
}

/* A numeric uid or gid; (uid_t)-1 means "no change" to chown(2). */
static char *parse_id(const char *value, char **why)
{
    guint64 id;

    if (!parse_uint(value, 10, G_MAXUINT32 - 1, &id)) {
        *why = g_strdup_printf("expected an id up to %u", G_MAXUINT32 - 1);
        return NULL;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, id);
}

static char *parse_user(const QiocOptDesc *desc, const char *value, char **why)
{
    struct passwd *pw;

    if (*value == '\0' || all_digits(value)) {
        return *value ? parse_id(value, why) : NULL;
    }
    pw = getpwnam(value);
    if (pw == NULL) {
        *why = g_strdup("no such user");
        return NULL;
    }
    return g_strdup_printf("%lu", (unsigned long)pw->pw_uid);
}

static char *parse_group(const QiocOptDesc *desc, const char *value, char **why)
{
    struct group *gr;

    if (*value == '\0' || all_digits(value)) {
        return *value ? parse_id(value, why) : NULL;
    }
    gr = getgrnam(value);
    if (gr == NULL) {
        *why = g_strdup("no such group");
        return NULL;
    }
    return g_strdup_printf("%lu", (unsigned long)gr->gr_gid);
}

static char *parse_choice(const QiocOptDesc *desc, const char *value,
                          char **why)
{
    g_autofree char *all = NULL;

    for (guint i = 0; desc->choices[i]; i++) {
        if (g_ascii_strcasecmp(value, desc->choices[i]) == 0) {
            return g_strdup(desc->choices[i]);
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(choice_synonyms); i++) {
        if (strcmp(desc->name, choice_synonyms[i].option) == 0 &&
            g_ascii_strcasecmp(value, choice_synonyms[i].word) == 0) {
            return g_strdup(choice_synonyms[i].choice);
        }
    }
    all = g_strjoinv("|", (char **)desc->choices);
    *why = g_strdup_printf("expected %s", all);
    return NULL;
}

static char *parse_fdlist(const QiocOptDesc *desc, const char *value,
                          char **why)
{
    g_auto(GStrv) fds = g_strsplit(value, ":", -1);
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; fds[i]; i++) {
        guint64 fd;

        if (!parse_uint(fds[i], 10, G_MAXINT, &fd)) {
            *why = g_strdup_printf("bad descriptor \"%s\"", fds[i]);
            return NULL;
        }
        g_string_append_printf(out, "%s%" G_GUINT64_FORMAT, i ? ":" : "", fd);
    }
    return out->len ? g_string_free(g_steal_pointer(&out), FALSE) : NULL;
}

/* RFC 1123 letters, digits, '-' and '.', not a number alone. */
static gboolean is_host_name(const char *s)
{
    gsize n = strlen(s);

    return n > 0 && n <= 253 && s[0] != '-' && s[0] != '.' &&
           s[strspn(s, "abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")] == '\0' &&
           strspn(s, "0123456789.") != n;
}

/* A host name, alone or with an IPv4 prefix length: "gw", "gw/24". */
static gboolean is_host_net(const char *net)
{
    const char *slash = strchr(net, '/');
    g_autofree char *host =
        g_strndup(net, slash ? (gsize)(slash - net) : strlen(net));
    guint64 bits;

    return is_host_name(host) &&
           (!slash ||
            g_ascii_string_to_unsigned(slash + 1, 10, 0, 32, &bits, NULL));
}

/* The bits of a contiguous IPv4 netmask "255.255.240.0", else -1. */
static int ipv4_mask_bits(const char *text)
{
    g_autoptr(GInetAddress) a = g_inet_address_new_from_string(text);
    guint32 m;
    int bits;

    if (!a || g_inet_address_get_family(a) != G_SOCKET_FAMILY_IPV4) {
        return -1;
    }
    memcpy(&m, g_inet_address_to_bytes(a), 4);
    m = GUINT32_FROM_BE(m);
    bits = m ? 32 - __builtin_ctz(m) : 0;
    return (guint64)m == ((G_GUINT64_CONSTANT(1) << 32) -
                          (G_GUINT64_CONSTANT(1) << (32 - bits)))
               ? bits
               : -1;
}

/*
 * socat's other spellings of a network: ADDRESS:NETMASK (IPv4) and
 * [ADDRESS]/BITS or [ADDRESS] (IPv6), as ADDRESS/BITS; others unchanged.
 */
static char *socat_net(const char *net)
{
    const char *colon = strchr(net, ':');
    const char *close = net[0] == '[' ? strchr(net, ']') : NULL;
    int bits;

    if (close) {
        return g_strdup_printf("%.*s%s", (int)(close - net - 1), net + 1,
                               close + 1);
    }
    if (colon && !strchr(colon + 1, ':') &&
        (bits = ipv4_mask_bits(colon + 1)) >= 0) {
        return g_strdup_printf("%.*s/%d", (int)(colon - net), net, bits);
    }
    return g_strdup(net);
}

static char *parse_cidrs(const QiocOptDesc *desc, const char *value, char **why)
{
    g_auto(GStrv) nets = g_strsplit(value, ";", -1);
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; nets[i]; i++) {
        g_autoptr(GInetAddressMask) mask = NULL;
        g_autoptr(GError) err = NULL;
        g_autofree char *net = socat_net(g_strstrip(nets[i]));

        mask = g_inet_address_mask_new_from_string(net, &err);
        if (mask == NULL && !is_host_net(net)) {
            *why = g_strdup_printf(
                "\"%s\" is not a network ADDRESS[/BITS] (or socat's "
                "ADDRESS:NETMASK) or a host name (HOST[/BITS] for its IPv4 "
                "addresses)",
                net);
            return NULL;
        }
        g_string_append_printf(out, "%s%s", i ? ";" : "", net);
    }
    return out->len ? g_string_free(g_steal_pointer(&out), FALSE) : NULL;
}

/* An int as setsockopt-int takes it: a number, maybe negative. */
static char *sockopt_int_value(const char *text, char **why)
{
    gboolean negative = *text == '-';
    guint64 v;

    if (!is_c_number(text + negative) ||
        !parse_c_uint(text + negative, (guint64)G_MAXINT + negative, &v)) {
        *why = g_strdup_printf("bad VALUE \"%s\": expected an int", text);
        return NULL;
    }
    return g_strdup_printf("%" G_GINT64_FORMAT,
                           negative ? -(gint64)v : (gint64)v);
}

/* Bytes as socat writes them: x followed by two hex digits a byte. */
static gboolean is_hex_bytes(const char *text)
{
    gsize n;

    if (g_ascii_tolower(text[0]) != 'x') {
        return FALSE;
    }
    n = strlen(text + 1);
    return n > 0 && n % 2 == 0 && strspn(text + 1, HEX_DIGITS) == n;
}

/* x0102..., or any other form of socat's data notation (src/dalan.h). */
static char *sockopt_bytes_value(const char *text, char **why)
{
    if (is_hex_bytes(text)) {
        return g_ascii_strdown(text, -1);
    }
    return qioc_dalan_to_hex(text, why);
}

static char *sockopt_value(SockoptKind kind, const char *text, char **why)
{
    switch (kind) {
    case SOCKOPT_INT:
        return sockopt_int_value(text, why);
    case SOCKOPT_BYTES:
        return sockopt_bytes_value(text, why);
    case SOCKOPT_STRING:
        return g_strdup(text);
    case SOCKOPT_VOID:
        break;
    }
    g_return_val_if_reached(NULL);
}

static gboolean is_ioctl_option(const QiocOptDesc *desc)
{
    return g_str_has_prefix(desc->name, "ioctl-");
}

/* REQUEST[:VALUE] of the ioctl-* options, REQUEST a 32-bit number. */
static char *parse_ioctl(const QiocOptDesc *desc, const char *value, char **why)
{
    SockoptKind kind = sockopt_kind_of(desc);
    g_auto(GStrv) part = g_strsplit(value, ":", 2);
    g_autofree char *v = NULL;
    guint64 request;

    if (!is_c_number(part[0]) ||
        !parse_c_uint(part[0], G_MAXUINT32, &request) ||
        (kind == SOCKOPT_VOID) != (part[1] == NULL)) {
        *why =
            g_strdup_printf("expected %s: REQUEST a number such as 0x5309",
                            kind == SOCKOPT_VOID ? "REQUEST" : "REQUEST:VALUE");
        return NULL;
    }
    if (kind == SOCKOPT_VOID) {
        return g_strdup_printf("%" G_GUINT64_FORMAT, request);
    }
    v = sockopt_value(kind, part[1], why);
    return v ? g_strdup_printf("%" G_GUINT64_FORMAT ":%s", request, v) : NULL;
}

/* LEVEL:NAME:VALUE, LEVEL and NAME as setsockopt-int's numbers. */
static char *parse_sockopt(const QiocOptDesc *desc, const char *value,
                           char **why)
{
    g_auto(GStrv) part = NULL;
    g_autofree char *v = NULL;
    guint64 level;
    guint64 name;

    if (is_ioctl_option(desc)) {
        return parse_ioctl(desc, value, why);
    }
    part = g_strsplit(value, ":", 3);
    if (g_strv_length(part) != 3) {
        return NULL;
    }
    if (!is_c_number(part[0]) || !parse_c_uint(part[0], G_MAXINT, &level) ||
        !is_c_number(part[1]) || !parse_c_uint(part[1], G_MAXINT, &name)) {
        *why = g_strdup_printf("bad LEVEL or NAME in \"%s\": expected "
                               "numbers such as 6, 0x6 or 06",
                               value);
        return NULL;
    }
    v = sockopt_value(sockopt_kind_of(desc), part[2], why);
    if (!v) {
        return NULL;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ":%s",
                           level, name, v);
}

static const struct {
    ValueParser parse;
    const char *metavar;  /* in "needs a value" */
    const char *expected; /* in "bad value" */
} opt_types[] = {
    [QIOC_OPT_FLAG] = {parse_flag, "1",
                       "0 or 1 (or yes/no, true/false, on/off)"},
    [QIOC_OPT_INT] = {parse_int, "N", "a non-negative integer"},
    [QIOC_OPT_NUMBER] = {parse_number, "N",
                         "a non-negative integer (decimal, 0x hex or 0 "
                         "octal)"},
    [QIOC_OPT_SIZE] = {parse_size, "BYTES",
                       "a number of bytes, optionally with K, M or G"},
    [QIOC_OPT_MODE] = {parse_mode, "OCTAL", "an octal mode up to 07777"},
    [QIOC_OPT_DURATION] = {parse_duration, "SECONDS",
                           "a number of seconds such as 1.5"},
    [QIOC_OPT_STRING] = {parse_string, "TEXT", "text"},
    [QIOC_OPT_USER] = {parse_user, "USER", "a user name or uid"},
    [QIOC_OPT_GROUP] = {parse_group, "GROUP", "a group name or gid"},
    [QIOC_OPT_CHOICE] = {parse_choice, "WORD", "one of the choices"},
    [QIOC_OPT_FDLIST] = {parse_fdlist, "N[:N]...",
                         "descriptor numbers N[:N]..."},
    [QIOC_OPT_CIDRS] = {parse_cidrs, "CIDR[;CIDR]...",
                        "networks ADDRESS[/BITS][;...]"},
    [QIOC_OPT_SOCKOPT] = {parse_sockopt, "LEVEL:NAME:VALUE",
                          "LEVEL:NAME:VALUE"},
    [QIOC_OPT_OFFSET] = {parse_offset, "OFFSET",
                         "a byte offset, optionally negative and with K, M "
                         "or G"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(opt_types) == QIOC_OPT_OFFSET + 1);

/*
 * What is wrong with an integer that did not parse, in socat's words
 * ("missing numerical value", "trailing garbage"), with what was expected;
 * NULL for other types.
 */
static char *number_why(const QiocOptDesc *desc, const char *value)
{
    gboolean hex = desc->type == QIOC_OPT_NUMBER &&
                   g_ascii_strncasecmp(value, "0x", 2) == 0;
    gsize digits =
        hex ? 2 + strspn(value + 2, HEX_DIGITS) : strspn(value, "0123456789");
    const char *expected = opt_types[desc->type].expected;

    if ((desc->type != QIOC_OPT_INT && desc->type != QIOC_OPT_NUMBER) ||
        value[0] == '-') {
        return NULL;
    }
    if (digits == 0 || (hex && digits == 2)) {
        return g_strdup_printf("missing numerical value; expected %s",
                               expected);
    }
    return g_strdup_printf("trailing garbage \"%s\"; expected %s",
                           value + digits, expected);
}

static char *metavar_of(const QiocOptDesc *desc)
{
    if (desc->type == QIOC_OPT_CHOICE) {
        return g_strjoinv("|", (char **)desc->choices);
    }
    return g_strdup(opt_types[desc->type].metavar);
}

/* @name is the option as typed; a flag given alone is "1". */
static char *normalise(const Parser *ps, const QiocOptDesc *desc,
                       const char *name, const char *value, GError **errp)
{
    g_autofree char *why = NULL;
    g_autofree char *metavar = NULL;
    char *norm;

    if (value == NULL && desc->type == QIOC_OPT_FLAG) {
        value = "1";
    } else if (value == NULL) {
        value = desc->alone;
    }
    if (value == NULL) {
        metavar = metavar_of(desc);
        fail(ps, errp, "option \"%s\" needs a value: %s=%s", name, name,
             metavar);
        return NULL;
    }
    norm = opt_types[desc->type].parse(desc, value, &why);
    if (norm == NULL && why == NULL) {
        why = number_why(desc, value);
    }
    if (norm == NULL && why != NULL) {
        fail(ps, errp, "bad value \"%s\" for %s: %s", value, name, why);
    } else if (norm == NULL) {
        fail(ps, errp, "bad value \"%s\" for %s: expected %s", value, name,
             opt_types[desc->type].expected);
    }
    return norm;
}

/* ---------------------------------------------------------------- typos */

/* Levenshtein's distance between @a and @b, ignoring case. */
static guint edit_distance(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);
    g_autofree guint *row = g_new(guint, lb + 1);

    for (gsize j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (gsize i = 1; i <= la; i++) {
        guint diag = row[0];

        row[0] = i;
        for (gsize j = 1; j <= lb; j++) {
            guint up = row[j];
            gboolean same =
                g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]);

            row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + !same);
            diag = up;
        }
    }
    return row[lb];
}

typedef struct {
    const char *name; /* what was typed */
    const char *best; /* the nearest known name so far */
    guint distance;
} Nearest;

static void nearest_consider(Nearest *n, const char *known)
{
    guint d = edit_distance(n->name, known);

    if (d < n->distance) {
        n->best = known;
        n->distance = d;
    }
}

static void nearest_consider_all(Nearest *n, const char *canonical,
                                 const char *const *aliases)
{
    nearest_consider(n, canonical);
    for (guint i = 0; aliases && aliases[i]; i++) {
        nearest_consider(n, aliases[i]);
    }
}

/*
 * "; did you mean "NAME"?" when a known name is a likely typo of @n's
 * (one edit in a short name, two in a long one), else "".
 */
static char *nearest_hint(const Nearest *n)
{
    guint allowed = strlen(n->name) >= 6 ? 2 : 1;

    if (n->best == NULL || n->distance > allowed) {
        return g_strdup("");
    }
    return g_strdup_printf("; did you mean \"%s\"?", n->best);
}

/*
 * socat's options that qioc does not have (yet), so that they are not
 * answered with a near miss ("did you mean ..."), and those it refuses
 * for good, with the reason.
 */
static const struct {
    const char *name;
    const char *why; /* NULL: not yet */
} socat_only_options[] = {
    {"tcpwrap", "libwrap (TCP wrappers) is gone from Debian; use range= "
                "or a firewall"},
    {"tcpwrap-etc", "libwrap (TCP wrappers) is gone from Debian"},
    {"tcpwrap-dir", "libwrap (TCP wrappers) is gone from Debian"},
    {"setuid", "use su=, which sets the groups too"},
    {"setuid-early", "use su=, which sets the groups too"},
    {"setgid", "use su=, which sets the user's group"},
    {"allow-table", "libwrap (TCP wrappers) is gone from Debian"},
    {"deny-table", "libwrap (TCP wrappers) is gone from Debian"},
    {"substuser-delayed", NULL},
    {"chroot-early", NULL},
    {"noecho", NULL},
    {"ip-recvif", "a BSD option; on Linux ip-pktinfo gives the interface"},
    {"ip-recvdstaddr", "a BSD option; on Linux ip-pktinfo gives the "
                       "destination address"},
};

/* Why @name, an option of socat's, is refused; NULL for other names. */
static char *socat_only_option(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(socat_only_options); i++) {
        if (g_ascii_strcasecmp(name, socat_only_options[i].name) == 0) {
            const char *why = socat_only_options[i].why;

            return g_strdup_printf(
                "socat's option \"%s\" is not supported by qioc%s%s", name,
                why ? ": " : "", why ? why : "");
        }
    }
    return NULL;
}

static char *option_hint(const char *name)
{
    Nearest n = {.name = name, .distance = G_MAXUINT};

    for (guint i = 0; i < G_N_ELEMENTS(addr_options); i++) {
        nearest_consider_all(&n, addr_options[i].name, addr_options[i].aliases);
    }
    return nearest_hint(&n);
}

/*
 * socat's address types that qioc does not have (yet): told apart from
 * typos, so that "UDP-LISTEN" is not answered with "did you mean
 * TCP-LISTEN?". The 4 and 6 variants are matched by their family.
 */
static const char *const socat_only_types[] = {
    "UDPLITE",
    "UDPLITE-CONNECT",
    "UDPLITE-LISTEN",
    "UDPLITE-SENDTO",
    "UDPLITE-RECVFROM",
    "UDPLITE-RECV",
    "UDPLITE-DATAGRAM",
    "IP-SENDTO",
    "IP-RECVFROM",
    "IP-RECV",
    "IP-DATAGRAM",
    "SCTP-CONNECT",
    "SCTP-LISTEN",
    "DCCP-CONNECT",
    "DCCP-LISTEN",
    "SOCKET-CONNECT",
    "SOCKET-LISTEN",
    "SOCKET-SENDTO",
    "SOCKET-RECVFROM",
    "SOCKET-RECV",
    "SOCKET-DATAGRAM",
    "SOCKS5-LISTEN",
    "SHELL",
    "TUN",
    "INTERFACE",
    "VSOCK-CONNECT",
    "VSOCK-LISTEN",
    "OPENSSL-DTLS-CLIENT",
    "OPENSSL-DTLS-SERVER",
    "POSIXMQ-READ",
    "POSIXMQ-RECEIVE",
    "POSIXMQ-SEND",
    "POSIXMQ-WRITE",
    "POSIXMQ-BIDIRECTIONAL",
};

/* @name without the 4 or 6 of its family ("UDP6-LISTEN": "UDP-LISTEN"). */
static char *without_family_digit(const char *name)
{
    const char *dash = strchr(name, '-');
    gsize head = dash ? (gsize)(dash - name) : strlen(name);

    g_autofree char *family = g_strndup(name, head > 0 ? head - 1 : 0);

    if (head > 1 && (name[head - 1] == '4' || name[head - 1] == '6')) {
        return g_strconcat(family, name + head, NULL);
    }
    return g_strdup(name);
}

static gboolean is_socat_only_type(const char *name)
{
    g_autofree char *plain = without_family_digit(name);

    for (guint i = 0; i < G_N_ELEMENTS(socat_only_types); i++) {
        if (g_ascii_strcasecmp(name, socat_only_types[i]) == 0 ||
            g_ascii_strcasecmp(plain, socat_only_types[i]) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static char *type_hint(const char *name)
{
    Nearest n = {.name = name, .distance = G_MAXUINT};
    guint count;
    const QiocAddrType *types = all_types(&count);

    for (guint i = 0; i < count; i++) {
        nearest_consider_all(&n, types[i].name, types[i].aliases);
    }
    return nearest_hint(&n);
}

/* ---------------------------------------------------------------- options */

/*
 * Why socat takes an option where qioc does not, for the options whose
 * use elsewhere in socat is a way of working that qioc has not.
 */
static const struct {
    const char *option;
    const char *hint;
} misplaced_hints[] = {
    {"end-close",
     ": socat keeps such a connection open for the children of a fork "
     "listener to share; qioc opens it for each client (qioc(1), "
     "DIFFERENCES FROM SOCAT)"},
};

static const char *misplaced_option_hint(const QiocOptDesc *desc)
{
    for (gsize i = 0; i < G_N_ELEMENTS(misplaced_hints); i++) {
        if (g_str_equal(misplaced_hints[i].option, desc->name)) {
            return misplaced_hints[i].hint;
        }
    }
    return "";
}

static gboolean set_option(Parser *ps, const char *name, const char *value,
                           GError **errp)
{
    const PresetAlias *preset = preset_lookup(name);
    const QiocOptDesc *desc = option_lookup(preset ? preset->option : name);
    char *norm;

    if (desc == NULL) {
        g_autofree char *socat = socat_only_option(name);
        g_autofree char *hint = socat ? NULL : option_hint(name);

        if (socat) {
            fail(ps, errp, "%s", socat);
        } else {
            fail(ps, errp, "unknown option \"%s\"%s", name, hint);
        }
        return FALSE;
    }
    if ((ps->type->groups & desc->groups) == 0) {
        fail(ps, errp, "option \"%s\" does not apply to %s%s", name,
             ps->type->name, misplaced_option_hint(desc));
        return FALSE;
    }
    if (preset != NULL && value != NULL) {
        fail(ps, errp, "option \"%s\" takes no value, got \"%s\"", name, value);
        return FALSE;
    }
    norm = preset ? g_strdup(preset->value)
                  : normalise(ps, desc, name, value, errp);
    if (norm == NULL) {
        return FALSE;
    }
    /* the same option twice: the last one wins */
    g_hash_table_replace(ps->opts, (gpointer)desc->name, norm);
    return TRUE;
}

/*
 * An empty option (",," or a trailing ",") is skipped, as socat skips it
 * (its own test suite writes "verify=0,"); a value without a name fails.
 */
static gboolean check_nameless_option(const Parser *ps, const char *start,
                                      GError **errp)
{
    if (ps->p == start) {
        return TRUE;
    }
    fail(ps, errp, "option without a name: \"%.*s\"", (int)(ps->p - start),
         start);
    return FALSE;
}

static gboolean parse_option(Parser *ps, GError **errp)
{
    const char *start = ps->p;
    g_autoptr(GString) name = g_string_new(NULL);
    g_autoptr(GString) value = g_string_new(NULL);
    gboolean has_value;

    if (!scan_word(ps, ",=", FALSE, name, errp)) {
        return FALSE;
    }
    has_value = *ps->p == '=';
    if (has_value) {
        ps->p++;
        if (!scan_word(ps, ",", FALSE, value, errp)) {
            return FALSE;
        }
    }
    if (name->len == 0) {
        return check_nameless_option(ps, start, errp);
    }
    return set_option(ps, name->str, has_value ? value->str : NULL, errp);
}

static gboolean parse_options(Parser *ps, GError **errp)
{
    while (*ps->p == ',') {
        ps->p++;
        if (!parse_option(ps, errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* ---------------------------------------------------------------- checks */

void qioc_address_fail(const QiocAddress *addr, GError **errp, const char *fmt,
                       ...)
{
    va_list ap;
    g_autofree char *what = NULL;
    Parser ps = {.spec = addr->text, .index = addr->index};

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fail(&ps, errp, "%s", what);
}

gboolean qioc_address_check_fd(const QiocAddress *addr, GError **errp)
{
    guint64 fd;

    if (!parse_uint(addr->params[0], 10, G_MAXINT, &fd)) {
        qioc_address_fail(addr, errp,
                          "bad descriptor \"%s\" for %s: expected a "
                          "non-negative integer",
                          addr->params[0], addr->type->name);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_port(const QiocAddress *addr, const char *port,
                           gboolean listener, GError **errp)
{
    guint64 n;

    if (all_digits(port) && parse_uint(port, 10, 65535, &n) &&
        (listener || n > 0)) {
        return TRUE;
    }
    if (all_digits(port)) {
        qioc_address_fail(addr, errp, "bad port \"%s\": expected %d to 65535",
                          port, listener ? 0 : 1);
        return FALSE;
    }
    if (getservbyname(port, "tcp") == NULL) {
        qioc_address_fail(addr, errp,
                          "bad port \"%s\": not a number or a known service",
                          port);
        return FALSE;
    }
    return TRUE;
}

gboolean qioc_address_check_connect_port(const QiocAddress *addr, GError **errp)
{
    return check_port(addr, addr->params[1], FALSE, errp);
}

gboolean qioc_address_check_proxy_ports(const QiocAddress *addr, GError **errp)
{
    guint n = addr->nparams;

    return check_port(addr, addr->params[n - 1], FALSE, errp) &&
           (n != 4 || check_port(addr, addr->params[1], FALSE, errp));
}

gboolean qioc_address_check_listen_port(const QiocAddress *addr, GError **errp)
{
    return check_port(addr, addr->params[0], TRUE, errp);
}

gboolean qioc_address_check_sun_path(const QiocAddress *addr, GError **errp)
{
    const char *path = addr->params[0];

    if (strlen(path) > SUN_PATH_MAX) {
        qioc_address_fail(addr, errp,
                          "\"%s\" is too long for a unix socket (at most %zu "
                          "bytes)",
                          path, (size_t)SUN_PATH_MAX);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_kind(const QiocAddress *addr, GError **errp)
{
    QiocAddrCheck *check = qioc_addr_desc(addr->type->kind)->check;

    return check == NULL || check(addr, errp);
}

/* TCP4-LISTEN:80,pf=ip6 cannot be honoured. */
static gboolean check_family(const QiocAddress *addr, GError **errp)
{
    int family;

    if (addr->o.pf < 0 || addr->type->family == AF_UNSPEC) {
        return TRUE;
    }
    family = addr->o.pf == 0 ? AF_INET : AF_INET6;
    if (family != addr->type->family) {
        qioc_address_fail(addr, errp, "option \"pf=%s\" conflicts with %s",
                          addr->o.pf == 0 ? "ip4" : "ip6", addr->type->name);
        return FALSE;
    }
    return TRUE;
}

/* Options that exclude each other or take only some values. */
static gboolean check_options(const QiocAddress *addr, GError **errp)
{
    const gint64 speeds[] = {addr->o.speed, addr->o.ispeed, addr->o.ospeed};
    const char *const names[] = {"speed", "ispeed", "ospeed"};

    if (addr->o.crlf && addr->o.cr) {
        qioc_address_fail(addr, errp,
                          "options \"crlf\" and \"cr\" exclude each other");
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(speeds); i++) {
        if (speeds[i] >= 0 && !qioc_term_speed_valid(speeds[i])) {
            qioc_address_fail(addr, errp,
                              "\"%s=%" G_GINT64_FORMAT
                              "\": not a baud rate the terminal driver "
                              "knows (50 to 4000000, as b9600 and the like)",
                              names[i], speeds[i]);
            return FALSE;
        }
    }
    return TRUE;
}

static char *join_params(const Parser *ps)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < ps->params->len; i++) {
        g_string_append_printf(out, "%s%s", i ? ":" : "", param_at(ps, i));
    }
    return g_string_free(out, FALSE);
}

/*
 * TCP:::1:80: an IPv6 literal without brackets splits into too many
 * parameters. When all but the last make an IPv6 address, say how to
 * write it.
 */
static char *ipv6_hint(const Parser *ps)
{
    guint n = ps->params->len;
    g_autoptr(GString) host = g_string_new(NULL);

    if (!g_str_has_prefix(ps->type->params_help, "HOST:") || n < 3) {
        return g_strdup("");
    }
    for (guint i = 0; i + 1 < n; i++) {
        g_string_append_printf(host, "%s%s", i ? ":" : "", param_at(ps, i));
    }
    if (!g_hostname_is_ip_address(host->str)) {
        return g_strdup("");
    }
    return g_strdup_printf("; an IPv6 address goes in brackets: %s:[%s]:%s",
                           ps->type->name, host->str, param_at(ps, n - 1));
}

static gboolean check_param_count(const Parser *ps, GError **errp)
{
    const QiocAddrType *t = ps->type;
    guint n = ps->params->len;
    g_autofree char *got = join_params(ps);

    if (n < t->min_params && n == 0) {
        fail(ps, errp, "%s needs %s", t->name, t->params_help);
    } else if (n < t->min_params) {
        fail(ps, errp, "%s needs %s, got \"%s\"", t->name, t->params_help, got);
    } else if (n > t->max_params && t->max_params == 0) {
        fail(ps, errp, "extra parameter \"%s\": %s takes none", param_at(ps, 0),
             t->name);
    } else if (n > t->max_params) {
        g_autofree char *hint = ipv6_hint(ps);

        fail(ps, errp, "extra parameter \"%s\": %s takes %s%s",
             param_at(ps, t->max_params), t->name, t->params_help, hint);
    } else {
        return TRUE;
    }
    return FALSE;
}

static gboolean check_params_empty(const Parser *ps, GError **errp)
{
    for (guint i = 0; i < ps->params->len; i++) {
        if (*param_at(ps, i) == '\0') {
            fail(ps, errp, "empty parameter %u: %s takes %s", i + 1,
                 ps->type->name, ps->type->params_help);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---------------------------------------------------------------- parse */

static gboolean is_bare_number(const char *word, const char *next)
{
    return *next != ':' && all_digits(word);
}

static gboolean is_path(const char *word, const char *next)
{
    return strchr(word, '/') != NULL;
}

/* socat's shortcuts: the word before ':' or ',' is the first parameter. */
static const struct {
    gboolean (*match)(const char *word, const char *next);
    QiocAddrKind kind;
} shortcuts[] = {
    {is_bare_number, QIOC_ADDR_FD},
    {is_path, QIOC_ADDR_GOPEN},
};

static gboolean parse_type(Parser *ps, GError **errp)
{
    g_autoptr(GString) word = g_string_new(NULL);

    if (!scan_word(ps, ":,", FALSE, word, errp)) {
        return FALSE;
    }
    if (ps->layer) {
        /* chain_layer_end() found the name among the layers already */
        ps->type = qioc_address_layer_lookup(word->str);
        g_return_val_if_fail(ps->type != NULL, FALSE);
        return TRUE;
    }
    ps->type = qioc_address_type_lookup(word->str);
    for (guint i = 0; ps->type == NULL && i < G_N_ELEMENTS(shortcuts); i++) {
        if (shortcuts[i].match(word->str, ps->p)) {
            ps->type = type_of_kind(shortcuts[i].kind);
            g_ptr_array_add(ps->params,
                            g_string_free(g_steal_pointer(&word), FALSE));
        }
    }
    if (ps->type == NULL && word->len == 0) {
        fail(ps, errp, "missing address type before \"%s\"", ps->p);
    } else if (ps->type == NULL) {
        g_autofree char *hint = NULL;

        if (qioc_address_layer_lookup(word->str)) {
            fail(ps, errp,
                 "%s is a layer: write it left of the address it runs over, "
                 "as in '%s|TCP-LISTEN:1080,fork'",
                 word->str, word->str);
        } else if (is_socat_only_type(word->str)) {
            fail(ps, errp,
                 "socat's address type \"%s\" is not supported by qioc",
                 word->str);
        } else {
            hint = type_hint(word->str);
            fail(ps, errp, "unknown address type \"%s\"%s", word->str, hint);
        }
    }
    return ps->type != NULL;
}

static gboolean parse_command(Parser *ps, GError **errp)
{
    g_autoptr(GString) cmd = g_string_new(NULL);

    if (*ps->p != ':') {
        return TRUE;
    }
    ps->p++;
    if (!scan_command(ps, cmd, errp)) {
        return FALSE;
    }
    if (cmd->len > 0) {
        g_ptr_array_add(ps->params,
                        g_string_free(g_steal_pointer(&cmd), FALSE));
    }
    return TRUE;
}

static gboolean parse_params(Parser *ps, GError **errp)
{
    if (qioc_addr_desc(ps->type->kind)->raw_command) {
        return parse_command(ps, errp);
    }
    while (*ps->p == ':') {
        g_autoptr(GString) word = g_string_new(NULL);

        ps->p++;
        if (!scan_word(ps, ":,", TRUE, word, errp)) {
            return FALSE;
        }
        g_ptr_array_add(ps->params,
                        g_string_free(g_steal_pointer(&word), FALSE));
    }
    return TRUE;
}

static gboolean parse_spec(Parser *ps, GError **errp)
{
    if (*ps->spec == '\0') {
        fail(ps, errp, "empty address \"\"");
        return FALSE;
    }
    return parse_type(ps, errp) && parse_params(ps, errp) &&
           check_param_count(ps, errp) && check_params_empty(ps, errp) &&
           parse_options(ps, errp);
}

/* ---------------------------------------------------------------- typed */

#define FIELD(o, desc, type) ((type *)((char *)(o) + (desc)->offset))

static GArray *fdlist_value(const char *text)
{
    g_auto(GStrv) nums = g_strsplit(text, ":", -1);
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));

    for (char **n = nums; *n; n++) {
        int fd = (int)g_ascii_strtoll(*n, NULL, 10);

        g_array_append_val(fds, fd);
    }
    return fds;
}

static QiocNetworks *cidrs_value(const char *text)
{
    g_auto(GStrv) cidrs = g_strsplit(text, ";", -1);
    QiocNetworks *nets = g_new0(QiocNetworks, 1);

    nets->text = g_strdup(text);
    nets->masks = g_ptr_array_new_with_free_func(g_object_unref);
    nets->hosts = g_ptr_array_new_with_free_func(g_free);
    for (char **c = cidrs; *c; c++) {
        GInetAddressMask *mask =
            g_inet_address_mask_new_from_string(g_strstrip(*c), NULL);

        if (mask) {
            g_ptr_array_add(nets->masks, mask);
        } else {
            g_ptr_array_add(nets->hosts, g_strdup(*c));
        }
    }
    return nets;
}

/* Pairs of hex digits, checked already, as bytes; their count in @n. */
static guint8 *hex_decode(const char *hex, int *n)
{
    gsize len = strlen(hex) / 2;
    guint8 *out = g_malloc(len);

    for (gsize i = 0; i < len; i++) {
        out[i] = (guint8)(g_ascii_xdigit_value(hex[2 * i]) * 16 +
                          g_ascii_xdigit_value(hex[2 * i + 1]));
    }
    *n = (int)len;
    return out;
}

/*
 * LEVEL:NAME:VALUE, normalised, as the bytes setsockopt(2) gets; an
 * ioctl's REQUEST[:VALUE] with REQUEST as the name.
 */
static QiocSockopt *sockopt_of(const QiocOptDesc *desc, const char *text)
{
    gboolean ioctl = is_ioctl_option(desc);
    g_auto(GStrv) part = g_strsplit(text, ":", ioctl ? 2 : 3);
    const char *value = ioctl ? part[1] : part[2];
    QiocSockopt *so = g_new0(QiocSockopt, 1);
    guint8 *bytes;
    int n;

    if (ioctl) {
        so->level = -1;
        so->name = (int)(guint32)g_ascii_strtoull(part[0], NULL, 10);
    } else {
        so->level = (int)g_ascii_strtoll(part[0], NULL, 10);
        so->name = (int)g_ascii_strtoll(part[1], NULL, 10);
    }
    switch (sockopt_kind_of(desc)) {
    case SOCKOPT_INT:
        n = (int)g_ascii_strtoll(value, NULL, 10);
        so->value = g_bytes_new(&n, sizeof(n));
        break;
    case SOCKOPT_BYTES:
        bytes = hex_decode(value + 1, &n);
        so->value = g_bytes_new_take(bytes, n);
        break;
    case SOCKOPT_STRING:
        so->value = g_bytes_new(value, strlen(value) + 1);
        break;
    case SOCKOPT_VOID:
        so->value = g_bytes_new(NULL, 0);
        break;
    }
    return so;
}

static void sockopt_free(QiocSockopt *so)
{
    g_bytes_unref(so->value);
    g_free(so);
}

static void networks_free(QiocNetworks *nets)
{
    g_free(nets->text);
    g_ptr_array_unref(nets->masks);
    g_ptr_array_unref(nets->hosts);
    g_free(nets);
}

static int choice_index(const QiocOptDesc *desc, const char *text)
{
    for (int i = 0; desc->choices[i]; i++) {
        if (strcmp(desc->choices[i], text) == 0) {
            return i;
        }
    }
    g_return_val_if_reached(-1);
}

/* The value of one option from its normalised text. */
static void store_value(QiocAddrOpts *o, const QiocOptDesc *desc,
                        const char *text)
{
    switch (desc->type) {
    case QIOC_OPT_FLAG:
        *FIELD(o, desc, int) = strcmp(text, "1") == 0;
        break;
    case QIOC_OPT_MODE:
        *FIELD(o, desc, gint64) = g_ascii_strtoll(text, NULL, 8);
        break;
    case QIOC_OPT_INT:
    case QIOC_OPT_NUMBER:
    case QIOC_OPT_SIZE:
    case QIOC_OPT_USER:
    case QIOC_OPT_GROUP:
    case QIOC_OPT_OFFSET:
        *FIELD(o, desc, gint64) = g_ascii_strtoll(text, NULL, 10);
        break;
    case QIOC_OPT_DURATION:
        *FIELD(o, desc, double) = g_ascii_strtod(text, NULL);
        break;
    case QIOC_OPT_STRING:
        g_free(*FIELD(o, desc, char *));
        *FIELD(o, desc, char *) = g_strdup(text);
        break;
    case QIOC_OPT_CHOICE:
        *FIELD(o, desc, int) = choice_index(desc, text);
        break;
    case QIOC_OPT_FDLIST:
        g_clear_pointer(FIELD(o, desc, GArray *), g_array_unref);
        *FIELD(o, desc, GArray *) = fdlist_value(text);
        break;
    case QIOC_OPT_CIDRS:
        g_clear_pointer(FIELD(o, desc, QiocNetworks *), networks_free);
        *FIELD(o, desc, QiocNetworks *) = cidrs_value(text);
        break;
    case QIOC_OPT_SOCKOPT:
        g_clear_pointer(FIELD(o, desc, QiocSockopt *), sockopt_free);
        *FIELD(o, desc, QiocSockopt *) = sockopt_of(desc, text);
        break;
    }
}

/* "Not given": FALSE, -1, or NULL, by type. */
static void store_unset(QiocAddrOpts *o, const QiocOptDesc *desc)
{
    switch (desc->type) {
    case QIOC_OPT_FLAG:
        *FIELD(o, desc, int) = desc->given_only ? -1 : FALSE;
        break;
    case QIOC_OPT_DURATION:
        *FIELD(o, desc, double) = -1;
        break;
    case QIOC_OPT_CHOICE:
        *FIELD(o, desc, int) = -1;
        break;
    case QIOC_OPT_STRING:
    case QIOC_OPT_FDLIST:
    case QIOC_OPT_CIDRS:
    case QIOC_OPT_SOCKOPT:
        *FIELD(o, desc, gpointer) = NULL;
        break;
    case QIOC_OPT_OFFSET:
        *FIELD(o, desc, gint64) = QIOC_OFFSET_UNSET;
        break;
    default:
        *FIELD(o, desc, gint64) = -1;
        break;
    }
}

/* Every option: the given value, else the default, else unset. */
static void fill_opts(QiocAddrOpts *o, GHashTable *given)
{
    for (guint i = 0; i < G_N_ELEMENTS(addr_options); i++) {
        const QiocOptDesc *desc = &addr_options[i];
        const char *text = g_hash_table_lookup(given, desc->name);

        store_unset(o, desc);
        if (!text && !desc->given_only) {
            text = desc->defval;
        }
        if (text) {
            store_value(o, desc, text);
        }
    }
}

static void clear_opts(QiocAddrOpts *o)
{
    for (guint i = 0; i < G_N_ELEMENTS(addr_options); i++) {
        const QiocOptDesc *desc = &addr_options[i];

        if (desc->type == QIOC_OPT_STRING) {
            g_clear_pointer(FIELD(o, desc, char *), g_free);
        } else if (desc->type == QIOC_OPT_FDLIST) {
            g_clear_pointer(FIELD(o, desc, GArray *), g_array_unref);
        } else if (desc->type == QIOC_OPT_CIDRS) {
            g_clear_pointer(FIELD(o, desc, QiocNetworks *), networks_free);
        } else if (desc->type == QIOC_OPT_SOCKOPT) {
            g_clear_pointer(FIELD(o, desc, QiocSockopt *), sockopt_free);
        }
    }
}

/* ---------------------------------------------------------------- address */

static QiocAddress *address_new(const Parser *ps)
{
    QiocAddress *addr = g_new0(QiocAddress, 1);

    addr->index = ps->index;
    addr->text = g_strdup(ps->spec);
    addr->type = ps->type;
    addr->nparams = ps->params->len;
    g_ptr_array_add(ps->params, NULL);
    addr->params = (char **)g_ptr_array_free(ps->params, FALSE);
    addr->opts = ps->opts;
    fill_opts(&addr->o, addr->opts);
    return addr;
}

/* ---------------------------------------------------------------- dual */

/* The type of ADDRESS!!ADDRESS: it has no name of its own to look up. */
static const QiocAddrType dual_type = {
    .name = "!!",
    .kind = QIOC_ADDR_DUAL,
    .params_help = "ADDRESS!!ADDRESS",
    .summary = "read from the first address, write to the second",
};

/* The first "!!" outside quotes and escapes, or NULL. */
static const char *dual_split(const char *spec)
{
    for (const char *p = spec; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if ((*p == '\'' || *p == '"') && quote_end(p)) {
            p = quote_end(p);
        } else if (p[0] == '!' && p[1] == '!') {
            return p;
        }
    }
    return NULL;
}

/*
 * What one half cannot be: a half is opened once for the one connection,
 * so it serves no more clients than one, and it has no peer whose
 * descriptors a child could take over.
 */
static gboolean dual_half_ok(const char *spec, int index, QiocAddress *half,
                             GError **errp)
{
    const char *what = half->o.fork ? "fork" : half->o.nofork ? "nofork" : NULL;

    if (what) {
        Parser ps = {.spec = spec, .index = index};

        fail(&ps, errp,
             "option \"%s\" does not apply to one half of a \"!!\" address",
             what);
        return FALSE;
    }
    return TRUE;
}

static QiocAddress *dual_half(const char *spec, const char *text, int index,
                              const char *where, GError **errp)
{
    g_autoptr(QiocAddress) half = NULL;
    Parser ps = {.spec = spec, .index = index};

    if (*text == '\0') {
        fail(&ps, errp, "no address %s \"!!\"", where);
        return NULL;
    }
    if (dual_split(text)) {
        fail(&ps, errp, "more than one \"!!\" in one address");
        return NULL;
    }
    half = qioc_address_parse(text, index, errp);
    if (!half || !dual_half_ok(spec, index, half, errp)) {
        return NULL;
    }
    return g_steal_pointer(&half);
}

/* ADDRESS!!ADDRESS: each half an address of its own. */
static QiocAddress *dual_parse(const char *spec, const char *bang, int index,
                               GError **errp)
{
    g_autofree char *first = g_strndup(spec, bang - spec);
    g_autoptr(QiocAddress) addr = g_new0(QiocAddress, 1);

    addr->index = index;
    addr->text = g_strdup(spec);
    addr->type = &dual_type;
    addr->params = g_new0(char *, 1);
    addr->opts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    fill_opts(&addr->o, addr->opts);
    addr->half[0] = dual_half(spec, first, index, "before", errp);
    if (!addr->half[0]) {
        return NULL;
    }
    addr->half[1] = dual_half(spec, bang + 2, index, "after", errp);
    if (!addr->half[1]) {
        return NULL;
    }
    return g_steal_pointer(&addr);
}

/* ---------------------------------------------------------------- chains */

static QiocAddress *qioc_address_parse_one(const char *spec, int index,
                                           GError **errp);

/* The first '|' outside quotes and escapes, or NULL. */
static const char *chain_bar(const char *spec)
{
    for (const char *p = spec; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if ((*p == '\'' || *p == '"') && quote_end(p)) {
            p = quote_end(p);
        } else if (*p == '|') {
            return p;
        }
    }
    return NULL;
}

/*
 * Where the layer that @spec starts with ends (its '|'), or NULL when
 * @spec is the transport: it has no '|' after it, or its type is not a
 * layer. So a command keeps its pipes: in "SYSTEM:a | b" SYSTEM is no
 * layer, and everything from it on is the command.
 */
static const char *chain_layer_end(const char *spec)
{
    const char *bar = chain_bar(spec);
    g_autofree char *name = g_strndup(spec, strcspn(spec, ":,|"));

    return bar && qioc_address_layer_lookup(name) ? bar : NULL;
}

static QiocAddress *layer_parse(const char *text, int index, GError **errp)
{
    g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) opts =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    g_autoptr(QiocAddress) addr = NULL;
    Parser ps = {text, text, index, NULL, params, opts, TRUE};

    if (!parse_spec(&ps, errp)) {
        return NULL;
    }
    g_steal_pointer(&params);
    g_steal_pointer(&opts);
    addr = address_new(&ps);
    if (!check_kind(addr, errp) || !check_options(addr, errp)) {
        return NULL;
    }
    return g_steal_pointer(&addr);
}

/* Kinds that move datagrams, which no layer can run over. */
static const QiocAddrKind datagram_kinds[] = {
    QIOC_ADDR_UDP_CONNECT,       QIOC_ADDR_UDP_LISTEN,
    QIOC_ADDR_UDP_SENDTO,        QIOC_ADDR_UDP_DATAGRAM,
    QIOC_ADDR_UDP_RECVFROM,      QIOC_ADDR_UDP_RECV,
    QIOC_ADDR_UNIX_SENDTO,       QIOC_ADDR_UNIX_RECVFROM,
    QIOC_ADDR_UNIX_RECV,         QIOC_ADDR_ABSTRACT_SENDTO,
    QIOC_ADDR_ABSTRACT_RECVFROM, QIOC_ADDR_ABSTRACT_RECV,
};

static gboolean chain_transport_ok(const QiocAddress *addr, GError **errp)
{
    for (guint i = 0; i < G_N_ELEMENTS(datagram_kinds); i++) {
        if (addr->type->kind == datagram_kinds[i]) {
            qioc_address_fail(addr, errp,
                              "%s moves datagrams: a layer needs a stream "
                              "under it",
                              addr->type->name);
            return FALSE;
        }
    }
    return TRUE;
}

/* bind= names a loopback address: only this host can connect. */
static gboolean binds_loopback(const QiocAddress *addr)
{
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    g_autoptr(GInetAddress) ia = NULL;

    if (!addr->o.bind) {
        return FALSE;
    }
    qioc_split_host_port(addr->o.bind, &host, &port);
    ia = g_inet_address_new_from_string(host);
    return ia ? g_inet_address_get_is_loopback(ia)
              : g_ascii_strcasecmp(host, "localhost") == 0;
}

/*
 * A proxy that other hosts can reach would hand them this host's
 * loopback services, which allow='s default lets through: on a TCP port
 * open to the network, allow= must be given.
 */
static gboolean chain_proxy_ok(const QiocAddress *addr, GPtrArray *layers,
                               GError **errp)
{
    gboolean tcp = addr->type->kind == QIOC_ADDR_TCP_LISTEN ||
                   addr->type->kind == QIOC_ADDR_TLS_LISTEN;

    for (guint i = 0; tcp && !binds_loopback(addr) && i < layers->len; i++) {
        const QiocAddress *layer = layers->pdata[i];

        if ((layer->type->kind == QIOC_ADDR_SOCKS_SERVER ||
             layer->type->kind == QIOC_ADDR_PROXY_SERVER) &&
            !qioc_address_has_opt(layer, "allow")) {
            qioc_address_fail(addr, errp,
                              "%s on a port other hosts can reach would let "
                              "them in to this host's loopback services: "
                              "give allow= the networks its clients may "
                              "reach, or bind=127.0.0.1",
                              layer->type->name);
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * LAYER|...|ADDRESS: the layers, outermost first, then the transport,
 * which keeps them and the whole text.
 */
static QiocAddress *chain_parse(const char *spec, int index, GError **errp)
{
    g_autoptr(GPtrArray) layers =
        g_ptr_array_new_with_free_func((GDestroyNotify)qioc_address_free);
    g_autoptr(QiocAddress) addr = NULL;
    const char *p = spec;
    const char *bar;

    while ((bar = chain_layer_end(p)) != NULL) {
        g_autofree char *text = g_strndup(p, bar - p);
        QiocAddress *layer = layer_parse(text, index, errp);

        if (!layer) {
            return NULL;
        }
        g_ptr_array_add(layers, layer);
        p = bar + 1;
    }
    if (*p == '\0') {
        Parser ps = {.spec = spec, .index = index};

        fail(&ps, errp, "no address after the last \"|\"");
        return NULL;
    }
    addr = qioc_address_parse_one(p, index, errp);
    if (!addr || !chain_transport_ok(addr, errp) ||
        !chain_proxy_ok(addr, layers, errp)) {
        return NULL;
    }
    g_free(addr->text);
    addr->text = g_strdup(spec);
    addr->layers = g_steal_pointer(&layers);
    return g_steal_pointer(&addr);
}

const QiocAddress *qioc_address_reading(const QiocAddress *addr)
{
    return addr->half[0] ? addr->half[0] : addr;
}

const QiocAddress *qioc_address_writing(const QiocAddress *addr)
{
    return addr->half[1] ? addr->half[1] : addr;
}

/* ---------------------------------------------------------------- parse */

QiocAddress *qioc_address_parse(const char *spec, int index, GError **errp)
{
    g_return_val_if_fail(spec != NULL, NULL);
    g_return_val_if_fail(errp == NULL || *errp == NULL, NULL);

    if (dual_split(spec)) {
        return dual_parse(spec, dual_split(spec), index, errp);
    }
    if (chain_layer_end(spec)) {
        return chain_parse(spec, index, errp);
    }
    return qioc_address_parse_one(spec, index, errp);
}

/* One address, no "!!" or layers. */
static QiocAddress *qioc_address_parse_one(const char *spec, int index,
                                           GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    g_autoptr(GHashTable) opts = NULL;
    g_autoptr(QiocAddress) addr = NULL;

    params = g_ptr_array_new_with_free_func(g_free);
    opts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    Parser ps = {spec, spec, index, NULL, params, opts, FALSE};
    if (!parse_spec(&ps, errp)) {
        return NULL;
    }
    g_steal_pointer(&params);
    g_steal_pointer(&opts);
    addr = address_new(&ps);
    if (!check_kind(addr, errp) || !check_family(addr, errp) ||
        !check_options(addr, errp)) {
        return NULL;
    }
    return g_steal_pointer(&addr);
}

void qioc_address_free(QiocAddress *addr)
{
    if (addr == NULL) {
        return;
    }
    g_free(addr->text);
    g_strfreev(addr->params);
    if (addr->opts != NULL) {
        g_hash_table_unref(addr->opts);
    }
    clear_opts(&addr->o);
    qioc_address_free(addr->half[0]);
    qioc_address_free(addr->half[1]);
    g_clear_pointer(&addr->layers, g_ptr_array_unref);
    g_free(addr);
}

/* ---------------------------------------------------------------- getters */

#define TYPE_BIT(t) (1u << (t))

static const QiocOptDesc *getter_desc(const QiocAddress *addr, const char *name,
                                      guint types)
{
    const QiocOptDesc *desc;

    g_return_val_if_fail(addr != NULL, NULL);
    g_return_val_if_fail(name != NULL, NULL);
    desc = option_lookup(name);
    g_return_val_if_fail(desc != NULL, NULL);
    g_return_val_if_fail((TYPE_BIT(desc->type) & types) != 0, NULL);
    return desc;
}

/* The given value, else the default, else NULL. */
static const char *opt_text(const QiocAddress *addr, const QiocOptDesc *desc)
{
    const char *v = NULL;

    if (addr->opts != NULL) {
        v = g_hash_table_lookup(addr->opts, desc->name);
    }
    return v ? v : desc->defval;
}

gboolean qioc_address_has_opt(const QiocAddress *addr, const char *name)
{
    const QiocOptDesc *desc = getter_desc(addr, name, ~0u);

    return desc != NULL && addr->opts != NULL &&
           g_hash_table_contains(addr->opts, desc->name);
}

gboolean qioc_address_get_flag(const QiocAddress *addr, const char *name)
{
    const QiocOptDesc *desc = getter_desc(addr, name, TYPE_BIT(FLAG));
    const char *v = desc ? opt_text(addr, desc) : NULL;

    return v != NULL && strcmp(v, "1") == 0;
}

gint64 qioc_address_get_int(const QiocAddress *addr, const char *name,
                            gint64 fallback)
{
    guint types = TYPE_BIT(INT) | TYPE_BIT(NUMBER) | TYPE_BIT(SIZE) |
                  TYPE_BIT(MODE) | TYPE_BIT(USER) | TYPE_BIT(GROUP);
    const QiocOptDesc *desc = getter_desc(addr, name, types);
    const char *v = desc ? opt_text(addr, desc) : NULL;

    if (v == NULL) {
        return fallback;
    }
    return g_ascii_strtoll(v, NULL, desc->type == MODE ? 8 : 10);
}

double qioc_address_get_duration(const QiocAddress *addr, const char *name,
                                 double fallback)
{
    const QiocOptDesc *desc = getter_desc(addr, name, TYPE_BIT(DURATION));
    const char *v = desc ? opt_text(addr, desc) : NULL;

    return v ? g_ascii_strtod(v, NULL) : fallback;
}

const char *qioc_address_get_string(const QiocAddress *addr, const char *name)
{
    guint types = TYPE_BIT(STRING) | TYPE_BIT(CHOICE) | TYPE_BIT(FDLIST) |
                  TYPE_BIT(CIDRS) | TYPE_BIT(SOCKOPT);
    const QiocOptDesc *desc = getter_desc(addr, name, types);

    return desc ? opt_text(addr, desc) : NULL;
}

/* ---------------------------------------------------------------- describe */

/* Appends @text so that the grammar reads it back as the same token. */
static void append_quoted(GString *out, const char *text, const char *specials)
{
    if (*text != '\0' && text[strcspn(text, specials)] == '\0') {
        g_string_append(out, text);
    } else if (strchr(text, ':') && !strpbrk(text, ",'\"\\[]")) {
        g_string_append_printf(out, "[%s]", text);
    } else if (strchr(text, '\'') == NULL) {
        g_string_append_printf(out, "'%s'", text);
    } else {
        for (const char *p = text; *p; p++) {
            if (strchr(specials, *p)) {
                g_string_append_c(out, '\\');
            }
            g_string_append_c(out, *p);
        }
    }
}

/* The command keeps its quotes; only a wrapping pair may be added. */
static void append_command(GString *out, const char *cmd)
{
    gboolean wrap =
        strchr(cmd, ',') || strstr(cmd, "!!") || *cmd == '\'' || *cmd == '"';

    if (wrap && strchr(cmd, '\'') == NULL) {
        g_string_append_printf(out, "'%s'", cmd);
    } else if (wrap && strpbrk(cmd, "\"\\") == NULL) {
        g_string_append_printf(out, "\"%s\"", cmd);
    } else {
        g_string_append(out, cmd);
    }
}

void qioc_split_host_port(const char *text, char **host, char **port)
{
    const char *colon;

    if (text[0] == '[' && (colon = strstr(text, "]")) != NULL) {
        *host = g_strndup(text + 1, colon - text - 1);
        *port = colon[1] == ':' ? g_strdup(colon + 2) : NULL;
        return;
    }
    colon = strrchr(text, ':');
    if (!colon || strchr(text, ':') != colon) {
        *host = g_strdup(text);
        *port = NULL;
        return;
    }
    *host = g_strndup(text, colon - text);
    *port = g_strdup(colon + 1);
}

/* bind= is absent or a wildcard ("::", "[::]:80", "0.0.0.0:80"). */
static gboolean binds_everywhere(const QiocAddress *addr)
{
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;

    if (addr->o.bind == NULL) {
        return TRUE;
    }
    qioc_split_host_port(addr->o.bind, &host, &port);
    return *host == '\0' || strcmp(host, "::") == 0 ||
           strcmp(host, "0.0.0.0") == 0;
}

int qioc_address_family(const QiocAddress *addr, int family)
{
    if (addr->type->family != AF_UNSPEC) {
        return addr->type->family;
    }
    if (addr->o.pf >= 0) {
        return addr->o.pf == 0 ? AF_INET : AF_INET6;
    }
    return family;
}

static gboolean is_ip_listener(const QiocAddress *addr, int family)
{
    return (addr->type->groups & QIOC_OPTGRP_IPLISTEN) != 0;
}

static gboolean is_tcp_listener(const QiocAddress *addr, int family)
{
    return is_ip_listener(addr, family) &&
           (addr->type->groups & QIOC_OPTGRP_TCP) != 0;
}

static gboolean is_v6_wildcard_listener(const QiocAddress *addr, int family)
{
    return is_ip_listener(addr, family) &&
           qioc_address_family(addr, family) == AF_INET6 &&
           binds_everywhere(addr);
}

/*
 * Defaults that depend on the address, as the opening code applies them:
 * an IPv6 listener on every address is IPv6-only (listen_wildcard() in
 * lib/socket-listen.c), any other socket is not; a TCP listener sets
 * SO_REUSEADDR (src/addr-tcp.c), a connecting socket or a UDP one does
 * not.
 */
static const struct {
    const char *option;
    gboolean (*applies)(const QiocAddress *addr, int family);
    const char *value;
} address_defaults[] = {
    {"ipv6only", is_v6_wildcard_listener, "1"},
    {"reuseaddr", is_tcp_listener, "1"},
};

static const char *effective_default(const QiocAddress *addr,
                                     const QiocOptDesc *desc, int family)
{
    for (guint i = 0; i < G_N_ELEMENTS(address_defaults); i++) {
        if (strcmp(desc->name, address_defaults[i].option) == 0 &&
            address_defaults[i].applies(addr, family)) {
            return address_defaults[i].value;
        }
    }
    return desc->defval;
}

char *qioc_address_describe(const QiocAddress *addr)
{
    return qioc_address_describe_for(addr, AF_UNSPEC);
}

char *qioc_address_describe_for(const QiocAddress *addr, int family)
{
    GString *out;

    g_return_val_if_fail(addr != NULL && addr->type != NULL, NULL);

    if (addr->half[0]) {
        g_autofree char *first =
            qioc_address_describe_for(addr->half[0], family);
        g_autofree char *second =
            qioc_address_describe_for(addr->half[1], family);

        return g_strconcat(first, "!!", second, NULL);
    }
    out = g_string_new(NULL);
    for (guint i = 0; addr->layers && i < addr->layers->len; i++) {
        g_autofree char *layer =
            qioc_address_describe_for(addr->layers->pdata[i], family);

        g_string_append_printf(out, "%s|", layer);
    }
    g_string_append(out, addr->type->name);
    for (guint i = 0; i < addr->nparams; i++) {
        g_string_append_c(out, ':');
        if (qioc_addr_desc(addr->type->kind)->raw_command) {
            append_command(out, addr->params[i]);
        } else {
            append_quoted(out, addr->params[i], ":,'\"\\[!|");
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(addr_options); i++) {
        const QiocOptDesc *desc = &addr_options[i];
        const char *v = NULL;

        if ((addr->type->groups & desc->groups) == 0) {
            continue;
        }
        if (addr->opts != NULL) {
            v = g_hash_table_lookup(addr->opts, desc->name);
        }
        if (v == NULL) {
            v = effective_default(addr, desc, family);
        }
        g_string_append_printf(out, ",%s=", desc->name);
        if (v != NULL) {
            append_quoted(out, v, ",'\"\\!|");
        } else {
            g_string_append(out, "(unset)");
        }
    }
    return g_string_free(out, FALSE);
}

/* Set option @name, as if given as NAME=VALUE. */
static void address_set(QiocAddress *addr, const char *name, char *value)
{
    guint n;
    const QiocOptDesc *opt = qioc_address_options(&n);

    for (guint i = 0; i < n; i++) {
        if (strcmp(opt[i].name, name) == 0) {
            g_hash_table_replace(addr->opts, (gpointer)opt[i].name, value);
            return;
        }
    }
    g_free(value);
}

/* A TCP port the kernel does not choose: each worker may bind it. */
static gboolean address_fixed_port(const QiocAddress *addr)
{
    return (addr->type->groups & QIOC_OPTGRP_IP) && addr->nparams > 0 &&
           g_ascii_strtoull(addr->params[0], NULL, 10) != 0;
}

/* TLS-LISTEN, or a chain with a TLS-SERVER layer: it terminates TLS. */
static gboolean address_terminates_tls(const QiocAddress *addr)
{
    if (addr->type->kind == QIOC_ADDR_TLS_LISTEN) {
        return TRUE;
    }
    for (guint i = 0; addr->layers && i < addr->layers->len; i++) {
        const QiocAddress *layer = g_ptr_array_index(addr->layers, i);

        if (layer->type->kind == QIOC_ADDR_TLS_LISTEN) {
            return TRUE;
        }
    }
    return FALSE;
}

/*
 * The default of workers= when --workers is not given: one per processor
 * where the relay's own work is what keeps a processor busy (terminating
 * TLS: contrib/bench/README.md, tls-parallel), else one.
 */
static guint default_workers(const QiocAddress *addr)
{
    return address_terminates_tls(addr)
               ? (guint)CLAMP(g_get_num_processors(), 1, QIOC_WORKERS_MAX)
               : 1;
}

gboolean qioc_address_apply_workers(QiocAddress *addr, guint workers,
                                    GError **errp)
{
    if (!(addr->type->groups & QIOC_OPTGRP_LISTEN)) {
        return TRUE;
    }
    if (!addr->o.fork) {
        if (addr->o.workers > 1) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "address %d (%s): option \"workers\" needs fork",
                        addr->index, addr->text);
            return FALSE;
        }
        return TRUE;
    }
    if (addr->o.workers < 1) {
        addr->o.workers = workers ? workers : default_workers(addr);
        address_set(addr, "workers",
                    g_strdup_printf("%" G_GINT64_FORMAT, addr->o.workers));
    }
    if (addr->o.workers > 1 && !addr->o.reuseport && address_fixed_port(addr)) {
        addr->o.reuseport = TRUE;
        address_set(addr, "reuseport", g_strdup("1"));
    }
    return TRUE;
}

char *qioc_fd_list_text(const GArray *fds)
{
    GString *text = g_string_new(NULL);

    for (guint i = 0; i < fds->len; i++) {
        g_string_append_printf(text, "%s%d", i ? ":" : "",
                               g_array_index(fds, int, i));
    }
    return g_string_free(text, FALSE);
}
