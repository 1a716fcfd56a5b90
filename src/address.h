/*
 * qioc - address specs: grammar, address types, address options
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_ADDRESS_H
#define QIOC_ADDRESS_H

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/**
 * QIOC_USAGE_ERROR:
 *
 * Error domain of command-line mistakes: a bad address spec, a bad option.
 * main prints "qioc: " and the message, then exits with status 2.
 */
#define QIOC_USAGE_ERROR (qioc_usage_error_quark())
GQuark qioc_usage_error_quark(void);

typedef enum {
    QIOC_USAGE_ERROR_FAILED,
} QiocUsageError;

/**
 * QiocAddrKind:
 *
 * What an address is, independent of the spelling of its type and of an
 * address family restriction (TCP, TCP4 and TCP6 are all
 * %QIOC_ADDR_TCP_CONNECT; #QiocAddrType.family tells them apart).
 */
typedef enum {
    QIOC_ADDR_STDIO,
    QIOC_ADDR_STDIN,
    QIOC_ADDR_STDOUT,
    QIOC_ADDR_STDERR,
    QIOC_ADDR_FD,
    QIOC_ADDR_PIPE,
    QIOC_ADDR_FILE,
    QIOC_ADDR_GOPEN,
    QIOC_ADDR_CREATE,
    QIOC_ADDR_UNIX_CONNECT,
    QIOC_ADDR_UNIX_LISTEN,
    QIOC_ADDR_ABSTRACT_CONNECT,
    QIOC_ADDR_ABSTRACT_LISTEN,
    QIOC_ADDR_TCP_CONNECT,
    QIOC_ADDR_TCP_LISTEN,
    QIOC_ADDR_EXEC,
    QIOC_ADDR_SYSTEM,
    QIOC_ADDR_TLS_CONNECT,
    QIOC_ADDR_TLS_LISTEN,
    QIOC_ADDR_ACCEPT_FD,
    QIOC_ADDR_SD_LISTEN,
    QIOC_ADDR_DUAL, /* ADDRESS!!ADDRESS: #QiocAddress.half */
    QIOC_ADDR_UDP_CONNECT,
    QIOC_ADDR_UDP_LISTEN,
    QIOC_ADDR_UDP_SENDTO,
    QIOC_ADDR_UDP_DATAGRAM,
    QIOC_ADDR_UDP_RECVFROM,
    QIOC_ADDR_UDP_RECV,
    QIOC_ADDR_UNIX_SENDTO,
    QIOC_ADDR_UNIX_RECVFROM,
    QIOC_ADDR_UNIX_RECV,
    QIOC_ADDR_ABSTRACT_SENDTO,
    QIOC_ADDR_ABSTRACT_RECVFROM,
    QIOC_ADDR_ABSTRACT_RECV,
    QIOC_ADDR_READLINE, /* the terminal, with line editing (libedit) */
    QIOC_ADDR_PTY,
    QIOC_ADDR_SOCKS4,       /* SOCKS4 and SOCKS4A clients */
    QIOC_ADDR_SOCKS5,       /* SOCKS5 client */
    QIOC_ADDR_HTTP_CONNECT, /* PROXY: HTTP CONNECT client */
    QIOC_ADDR_SOCKS_SERVER, /* a layer: qioc as a SOCKS4/4A/5 proxy */
    QIOC_ADDR_PROXY_SERVER, /* a layer: qioc as an HTTP CONNECT proxy */
    QIOC_ADDR_DYNAMIC,      /* where a proxy layer's client asked to go */
    QIOC_ADDR__COUNT
} QiocAddrKind;

/**
 * QiocOptType:
 *
 * The value type of an address option, which decides how its text is
 * checked and normalised, and which getter reads it.
 */
typedef enum {
    QIOC_OPT_FLAG,     /* "fork", "fork=1", "fork=0", yes/no, true/false,
                          on/off; normalised to "1" or "0" */
    QIOC_OPT_INT,      /* non-negative decimal integer */
    QIOC_OPT_NUMBER,   /* non-negative integer as socat and C write it:
                          decimal, 0x hex or 0 octal; normalised to
                          decimal */
    QIOC_OPT_SIZE,     /* bytes, optional K/M/G suffix (1024-based);
                          normalised to the byte count */
    QIOC_OPT_MODE,     /* octal, <= 07777; normalised to "0NNN" */
    QIOC_OPT_DURATION, /* seconds, decimals allowed ("1.5"), >= 0 */
    QIOC_OPT_STRING,   /* any text (quotes removed) */
    QIOC_OPT_USER,     /* user name or numeric uid; normalised to the uid */
    QIOC_OPT_GROUP,    /* group name or numeric gid; normalised to the gid */
    QIOC_OPT_CHOICE,   /* one of #QiocOptDesc.choices */
    QIOC_OPT_FDLIST,   /* N[:N]... descriptor numbers */
    QIOC_OPT_CIDRS,    /* CIDR[;CIDR]... networks */
    QIOC_OPT_SOCKOPT,  /* LEVEL:NAME:VALUE for setsockopt(2); the value is
                          an int, bytes (x0102...) or text by option */
    QIOC_OPT_OFFSET,   /* a file offset: an optional "-", then bytes with an
                          optional K/M/G suffix; unset is
                          %QIOC_OFFSET_UNSET */
} QiocOptType;

/* The value of a %QIOC_OPT_OFFSET option that was not given. */
#define QIOC_OFFSET_UNSET G_MININT64

/**
 * QiocOptGroup:
 * @QIOC_OPTGRP_ALL: every address type (readbytes, shut)
 * @QIOC_OPTGRP_ACCEPT: accepts clients (fork, max-children, accept-timeout)
 * @QIOC_OPTGRP_RECONNECT: connects a stream socket, so may connect again
 *   and again (fork, max-children: socat's connect loop)
 * @QIOC_OPTGRP_LISTEN: creates a listening socket (backlog, retry,
 *   interval, forever)
 * @QIOC_OPTGRP_CONNECT: connects (connect-timeout, retry, interval,
 *   forever)
 * @QIOC_OPTGRP_IP: TCP, TLS or UDP, either side (bind, pf, ipv6only,
 *   reuseaddr, reuseport, interface, ttl, tos)
 * @QIOC_OPTGRP_IPCONNECT: TCP, TLS or UDP client (sourceport)
 * @QIOC_OPTGRP_IPLISTEN: TCP or TLS listener, UDP receiver (range)
 * @QIOC_OPTGRP_UNIXLISTEN: unix socket file listener (unlink-early,
 *   unlink-close)
 * @QIOC_OPTGRP_FSPERM: may create a file system object (mode, user,
 *   group, umask)
 * @QIOC_OPTGRP_OPEN: opened with open(2) (append, creat, trunc, excl,
 *   rdonly, wronly)
 * @QIOC_OPTGRP_READEOF: may hit a temporary end-of-file (ignoreeof)
 * @QIOC_OPTGRP_EXEC: runs a child (stderr, pipes, socketpair, pty, setsid,
 *   ctty, nofork, fdin, fdout, end-close)
 * @QIOC_OPTGRP_TLS: TLS, either side (cert, key, cafile, capath, verify,
 *   priority, min-version, max-version, cipher, alpn)
 * @QIOC_OPTGRP_TLSCONNECT: TLS client (commonname, snihost, no-sni)
 * @QIOC_OPTGRP_FDPASS: may be a unix socket, so may pass descriptors
 *   (send-fds)
 * @QIOC_OPTGRP_SOCKET: creates a socket, TCP or unix, either side
 *   (rcvbuf, sndbuf, setsockopt-int, -bin, -string, -listen)
 * @QIOC_OPTGRP_TCP: TCP or TLS, either side (nodelay, keepalive, mss,
 *   linger)
 * @QIOC_OPTGRP_UDP: a UDP socket (broadcast, ip-multicast-ttl,
 *   ip-multicast-loop, ip-add-membership, and the ancillary-data options:
 *   so-timestamp, ip-pktinfo, ip-recvttl, ipv6-recvhoplimit, ...)
 * @QIOC_OPTGRP_TERMIOS: may be a terminal: its modes (raw, rawer, echo,
 *   icanon, ispeed, ...; see #QiocTermFlag)
 * @QIOC_OPTGRP_READLINE: edits lines on the terminal (history, prompt,
 *   noprompt)
 * @QIOC_OPTGRP_PTY: makes a pseudo-terminal (link, wait-slave,
 *   pty-interval)
 * @QIOC_OPTGRP_SOCKS: a SOCKS client or server (socksuser, sockspass)
 * @QIOC_OPTGRP_SOCKSPORT: a SOCKS client that connects to its proxy
 *   itself (socksport)
 * @QIOC_OPTGRP_HTTPPROXY: an HTTP CONNECT client or server (proxyauth)
 * @QIOC_OPTGRP_PROXYPORT: an HTTP CONNECT client that connects to its
 *   proxy itself (proxyport)
 * @QIOC_OPTGRP_HTTPCLIENT: an HTTP CONNECT client (resolve)
 * @QIOC_OPTGRP_UNIXBIND: a unix client that may bind a path (bind)
 * @QIOC_OPTGRP_PROXYSERVER: qioc as a proxy (allow, allow-port,
 *   handshake-timeout)
 *
 * Option groups: an option applies to an address type when their group
 * masks share a bit.
 */
typedef enum {
    QIOC_OPTGRP_ALL = 1u << 0,
    QIOC_OPTGRP_ACCEPT = 1u << 1,
    QIOC_OPTGRP_LISTEN = 1u << 2,
    QIOC_OPTGRP_CONNECT = 1u << 3,
    QIOC_OPTGRP_IP = 1u << 4,
    QIOC_OPTGRP_IPCONNECT = 1u << 5,
    QIOC_OPTGRP_IPLISTEN = 1u << 6,
    QIOC_OPTGRP_UNIXLISTEN = 1u << 7,
    QIOC_OPTGRP_FSPERM = 1u << 8,
    QIOC_OPTGRP_OPEN = 1u << 9,
    QIOC_OPTGRP_READEOF = 1u << 10,
    QIOC_OPTGRP_EXEC = 1u << 11,
    QIOC_OPTGRP_TLS = 1u << 12,
    QIOC_OPTGRP_TLSCONNECT = 1u << 13,
    QIOC_OPTGRP_FDPASS = 1u << 14,
    QIOC_OPTGRP_SOCKET = 1u << 15,
    QIOC_OPTGRP_TCP = 1u << 16,
    QIOC_OPTGRP_UDP = 1u << 17,
    QIOC_OPTGRP_PTY = 1u << 18,
    QIOC_OPTGRP_TERMIOS = 1u << 19,
    QIOC_OPTGRP_READLINE = 1u << 20,
    QIOC_OPTGRP_SOCKS = 1u << 21,
    QIOC_OPTGRP_SOCKSPORT = 1u << 22,
    QIOC_OPTGRP_HTTPPROXY = 1u << 23,
    QIOC_OPTGRP_PROXYPORT = 1u << 24,
    QIOC_OPTGRP_PROXYSERVER = 1u << 25,
    QIOC_OPTGRP_HTTPCLIENT = 1u << 26,
    QIOC_OPTGRP_UNIXBIND = 1u << 27,
    QIOC_OPTGRP_RECONNECT = 1u << 28,
} QiocOptGroup;

/**
 * QiocAddrType:
 * @name: canonical upper-case name, "TCP-LISTEN"
 * @aliases: other accepted names, NULL-terminated; may be NULL
 * @kind: what the address is
 * @family: %AF_UNSPEC, or %AF_INET / %AF_INET6 for the TCP4* and TCP6*
 *   variants
 * @min_params: fewest parameters
 * @max_params: most parameters
 * @groups: #QiocOptGroup bits of the options that apply
 * @params_help: the parameters as the user writes them, "HOST:PORT",
 *   "[PATH]", or "" for none
 * @summary: one line for --help-addresses
 * @layer: a layer, written left of a `|` and run over the address to its
 *   right (`TLS:NAME|...`, `SOCKS5:HOST:PORT|...`); a type may have a row
 *   of each sort under one name, told apart by where it is written
 *
 * One entry of the address-type table.
 */
typedef struct QiocAddrType {
    const char *name;
    const char *const *aliases;
    QiocAddrKind kind;
    int family;
    guint min_params;
    guint max_params;
    guint32 groups;
    const char *params_help;
    const char *summary;
    gboolean layer;
} QiocAddrType;

/**
 * QiocOptDesc:
 * @name: canonical lower-case name
 * @aliases: other accepted names (socat's spellings), NULL-terminated; may
 *   be NULL
 * @type: value type
 * @groups: #QiocOptGroup bits of the address types it applies to
 * @defval: default, as normalised text; NULL when there is none
 * @choices: the accepted words of a %QIOC_OPT_CHOICE option, NULL-terminated
 * @help: one line for --help-addresses and the man page
 * @offset: where the parsed value goes in #QiocAddrOpts
 * @given_only: the default is for --dry-run only; the field keeps its
 *   "not given" value (-1) unless the option is given
 * @alone: the value the name alone stands for ("1" for every flag, which
 *   need not say so); NULL: a value is required
 *
 * One entry of the option table.
 */
typedef struct QiocOptDesc {
    const char *name;
    const char *const *aliases;
    QiocOptType type;
    guint32 groups;
    const char *defval;
    const char *const *choices;
    const char *help;
    gsize offset;
    gboolean given_only;
    const char *alone;
} QiocOptDesc;

/**
 * QiocShut:
 *
 * shut=: what the end of the data going into an address does to it. The
 * order is that of the option's choices.
 */
typedef enum {
    QIOC_SHUT_WRITE,
    QIOC_SHUT_BOTH,
    QIOC_SHUT_CLOSE,
    QIOC_SHUT_NONE,
    QIOC_SHUT_NULL,
} QiocShut;

/**
 * QiocTlsVersion:
 *
 * min-version= and max-version=: a TLS protocol version. The order is
 * that of the options' choices, oldest first.
 */
typedef enum {
    QIOC_TLS_1_0,
    QIOC_TLS_1_1,
    QIOC_TLS_1_2,
    QIOC_TLS_1_3,
} QiocTlsVersion;

/**
 * QiocTermFlag:
 *
 * The terminal flags an address may set or clear (echo=0, icanon=1, ...),
 * each one bit of struct termios (src/term.c has which): the index of
 * its value in #QiocAddrOpts.term.
 */
typedef enum {
    QIOC_TERM_ECHO,
    QIOC_TERM_ECHOCTL,
    QIOC_TERM_ICANON,
    QIOC_TERM_ISIG,
    QIOC_TERM_IEXTEN,
    QIOC_TERM_ICRNL,
    QIOC_TERM_INLCR,
    QIOC_TERM_IGNCR,
    QIOC_TERM_IXON,
    QIOC_TERM_IXOFF,
    QIOC_TERM_BRKINT,
    QIOC_TERM_ISTRIP,
    QIOC_TERM_OPOST,
    QIOC_TERM_ONLCR,
    QIOC_TERM_OCRNL,
    QIOC_TERM_CRTSCTS,
    QIOC_TERM_CLOCAL,
    QIOC_TERM_HUPCL,
    QIOC_TERM_PARENB,
    QIOC_TERM_CSTOPB,
    QIOC_TERM__COUNT
} QiocTermFlag;

/**
 * QiocNetworks:
 * @text: the networks as given, "CIDR;CIDR" (for messages)
 * @masks: (element-type GInetAddressMask): the networks given as such
 * @hosts: (element-type utf8): host names given instead, each meaning
 *   every address it resolves to (resolved once, by the endpoint)
 *
 * The value of a %QIOC_OPT_CIDRS option.
 */
typedef struct QiocNetworks {
    char *text;
    GPtrArray *masks;
    GPtrArray *hosts;
} QiocNetworks;

/**
 * QiocSockopt:
 * @level: setsockopt(2)'s level (SOL_SOCKET is 1 on Linux, IPPROTO_TCP 6)
 * @name: its option name, a number
 * @value: the bytes passed: a native int, the given bytes, or the text
 *   with its terminating NUL
 *
 * The value of a %QIOC_OPT_SOCKOPT option.
 */
typedef struct QiocSockopt {
    int level;
    int name;
    GBytes *value;
} QiocSockopt;

/**
 * QiocAddrOpts:
 *
 * The options of one address, typed, filled once by the parser from the
 * given values and the defaults. Numbers an option may leave unset are
 * -1 then (a duration too); choices are the index of the word in the
 * option's choices, -1 when unset; lists are NULL when not given.
 * Nothing reads options by name once this is filled.
 */
typedef struct QiocAddrOpts {
    /* accepting clients */
    gboolean fork;
    gint64 max_children;
    gint64 workers; /* -1 unless given or set from --workers */
    gint64 backlog;
    double accept_timeout;
    double idle_timeout; /* -1 unless given */
    /* IP sockets */
    int reuseaddr; /* -1 unless given: on for listeners, off otherwise */
    QiocNetworks *range;
    char *bind;
    gint64 sourceport;
    gboolean lowport;
    int pf;       /* 0 ip4, 1 ip6, -1 unset */
    int ipv6only; /* -1 unless given */
    gboolean nodelay;
    gboolean keepalive;
    gboolean reuseport;
    char *interface;
    gint64 ttl;
    gint64 tos;
    gint64 mss;
    gint64 linger;
    /* UDP */
    gboolean broadcast;
    gint64 ip_multicast_ttl;
    gint64 ip_multicast_loop; /* -1 unless given */
    char *ip_add_membership;  /* GROUP:INTERFACE */
    char *ip_options;         /* socat's data notation */
    /* what received datagrams come with (src/ancillary.c) */
    gboolean so_timestamp;
    gboolean ip_pktinfo;
    gboolean ip_recvtos;
    gboolean ip_recvttl;
    gboolean ip_recvopts;
    gboolean ipv6_recvpktinfo;
    gboolean ipv6_recvhoplimit;
    gboolean ipv6_recvtclass;
    gboolean ipv6_recvrthdr;
    gboolean ipv6_recvdstopts;
    gboolean ipv6_recvhopopts;
    gboolean ip_recverr;
    gboolean ipv6_recverr;
    /* sockets, TCP or unix */
    gint64 rcvbuf;
    gint64 sndbuf;
    QiocSockopt *setsockopt_listen;
    QiocSockopt *setsockopt_int;
    QiocSockopt *setsockopt_bin;
    QiocSockopt *setsockopt_string;
    /* ioctl(2) on the descriptor once open: name is the request */
    QiocSockopt *ioctl_void;
    QiocSockopt *ioctl_int;
    QiocSockopt *ioctl_intp;
    QiocSockopt *ioctl_bin;
    QiocSockopt *ioctl_string;
    /* connecting (and retrying a listen) */
    double connect_timeout;
    gint64 retry;
    double interval;
    gboolean forever;
    /* unix socket files */
    gboolean unlink_early;
    int unlink_close; /* -1 unless given: each type has its default */
    /* creating file system objects */
    gint64 mode;
    gint64 perm_late;
    gint64 user;
    gint64 group;
    gint64 umask;
    /* open(2) */
    gboolean append;
    gboolean creat;
    gboolean trunc;
    gboolean excl;
    gboolean rdonly;
    gboolean wronly;
    gboolean nonblock;
    gint64 seek;      /* QIOC_OFFSET_UNSET unless given */
    gint64 seek_end;  /* likewise */
    gint64 ftruncate; /* likewise */
    /* locks on the descriptors (src/lock.c) */
    gboolean flock_ex;
    gboolean flock_ex_nb;
    gboolean flock_sh;
    gboolean flock_sh_nb;
    gboolean setlk;
    gboolean setlkw;
    gboolean setlk_rd;
    gboolean setlkw_rd;
    char *lockfile;
    char *waitlock;
    gboolean ignoreeof;
    gboolean null_eof; /* an empty datagram read is end-of-file */
    /* child processes */
    gboolean merge_stderr;
    int pipes; /* -1 unless given */
    gboolean socketpair;
    gboolean pty;
    gboolean setsid;
    gint64 setpgid; /* -1 unless given */
    gboolean ctty;
    gboolean nofork;
    gint64 fdin;
    gint64 fdout;
    gboolean end_close;
    /* pseudo-terminals */
    char *link;
    gboolean wait_slave;
    double pty_interval;
    /* TLS */
    char *cert;
    char *key;
    char *cafile;
    char *capath;
    gboolean verify;
    char *commonname;
    char *snihost;
    gboolean no_sni;
    char *priority;
    int min_version; /* QiocTlsVersion, -1 unset */
    int max_version; /* QiocTlsVersion, -1 unset */
    char *cipher;
    char *alpn;
    double handshake_timeout;
    /* proxies: SOCKS and HTTP CONNECT, client and server */
    gint64 socksport;
    char *socksuser;
    char *sockspass;
    gint64 proxyport;
    char *proxyauth; /* USER:PASS */
    gboolean resolve;
    QiocNetworks *allow;
    char *allow_port; /* PORT[-PORT][;...], checked by src/addr-proxy.c */
    /* terminals */
    gboolean raw;
    gboolean rawer;
    int term[QIOC_TERM__COUNT]; /* each -1 unless given */
    gint64 ispeed;
    gint64 ospeed;
    gint64 speed; /* both, as b9600 sets them */
    gint64 vmin;
    gint64 vtime;
    /* text: line ends, an escape character */
    gboolean crlf;
    gboolean cr;
    gint64 escape; /* a byte value, -1 unless given */
    /* READLINE */
    char *history; /* the history file, NULL unless given */
    char *prompt;  /* NULL unless given: the peer's incomplete line */
    gboolean noprompt;
    /* every address */
    gint64 su;        /* uid, -1 unless given */
    char *chroot;     /* NULL unless given */
    GArray *send_fds; /* int */
    gint64 readbytes;
    int shut; /* QiocShut */
} QiocAddrOpts;

/*
 * Groups of options per kind of address type, for the type rows that
 * each src/addr-*.c keeps.
 */
#define QIOC_T_FDPASS (QIOC_OPTGRP_ALL | QIOC_OPTGRP_FDPASS)
#define QIOC_T_READ (QIOC_T_FDPASS | QIOC_OPTGRP_READEOF)
#define QIOC_T_FILE (QIOC_OPTGRP_ALL | QIOC_OPTGRP_FSPERM | QIOC_OPTGRP_OPEN)
#define QIOC_T_UCONN                                                           \
    (QIOC_T_FDPASS | QIOC_OPTGRP_CONNECT | QIOC_OPTGRP_SOCKET |                \
     QIOC_OPTGRP_UNIXBIND | QIOC_OPTGRP_RECONNECT)
#define QIOC_T_ACCEPT (QIOC_T_FDPASS | QIOC_OPTGRP_ACCEPT)
#define QIOC_T_ULISTEN (QIOC_T_ACCEPT | QIOC_OPTGRP_LISTEN | QIOC_OPTGRP_SOCKET)
#define QIOC_T_TCONN                                                           \
    (QIOC_OPTGRP_ALL | QIOC_OPTGRP_CONNECT | QIOC_OPTGRP_IP |                  \
     QIOC_OPTGRP_IPCONNECT | QIOC_OPTGRP_SOCKET | QIOC_OPTGRP_TCP |            \
     QIOC_OPTGRP_RECONNECT)
#define QIOC_T_TLISTEN                                                         \
    (QIOC_OPTGRP_ALL | QIOC_OPTGRP_ACCEPT | QIOC_OPTGRP_LISTEN |               \
     QIOC_OPTGRP_IP | QIOC_OPTGRP_IPLISTEN | QIOC_OPTGRP_SOCKET |              \
     QIOC_OPTGRP_TCP)
/* UDP: a client (UDP, UDP-SENDTO), a receiver (UDP-RECV), a server. */
#define QIOC_T_UCLIENT                                                         \
    (QIOC_OPTGRP_ALL | QIOC_OPTGRP_IP | QIOC_OPTGRP_IPCONNECT |                \
     QIOC_OPTGRP_SOCKET | QIOC_OPTGRP_UDP)
#define QIOC_T_URECV                                                           \
    (QIOC_OPTGRP_ALL | QIOC_OPTGRP_IP | QIOC_OPTGRP_IPLISTEN |                 \
     QIOC_OPTGRP_SOCKET | QIOC_OPTGRP_UDP)
#define QIOC_T_USERVER (QIOC_T_URECV | QIOC_OPTGRP_ACCEPT)
#define QIOC_T_USENDTO (QIOC_T_UCLIENT | QIOC_OPTGRP_IPLISTEN)
/* Unix datagram sockets: sending to a path, receiving on one. */
#define QIOC_T_DSEND (QIOC_T_FDPASS | QIOC_OPTGRP_SOCKET | QIOC_OPTGRP_UNIXBIND)
#define QIOC_T_DABSTRACT                                                       \
    (QIOC_T_FDPASS | QIOC_OPTGRP_SOCKET) /* receiving, no file */
#define QIOC_T_DRECV                                                           \
    (QIOC_T_FDPASS | QIOC_OPTGRP_SOCKET | QIOC_OPTGRP_FSPERM |                 \
     QIOC_OPTGRP_UNIXLISTEN)
#define QIOC_T_EXEC (QIOC_OPTGRP_ALL | QIOC_OPTGRP_EXEC | QIOC_OPTGRP_TERMIOS)
/* What may be a terminal: the standard streams, FD, a device file. */
#define QIOC_T_TTY QIOC_OPTGRP_TERMIOS
#define QIOC_T_READLINE (QIOC_OPTGRP_ALL | QIOC_OPTGRP_READLINE)
#define QIOC_T_PTY                                                             \
    (QIOC_OPTGRP_ALL | QIOC_OPTGRP_FSPERM | QIOC_OPTGRP_READEOF |              \
     QIOC_OPTGRP_PTY | QIOC_OPTGRP_TERMIOS)

/* A NULL-terminated list of names, for aliases. */
#define QIOC_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/**
 * QiocAddress:
 * @index: 1 or 2, the position on the command line
 * @text: the spec as typed
 * @type: the entry of the address-type table
 * @params: the parameters, NULL-terminated, quotes and escapes resolved;
 *   the one parameter of EXEC and SYSTEM is the command text with its
 *   quotes kept (only a pair wrapping the whole command is removed)
 * @nparams: the number of @params
 * @o: the options, typed
 * @opts: the given options as normalised text (for --dry-run and the
 *   parser's tests); use @o
 * @half: a dual address (`ADDRESS!!ADDRESS`, kind %QIOC_ADDR_DUAL): the
 *   address read from and the address written to, each parsed as an
 *   address of its own with the same @index; NULL otherwise. The dual
 *   address itself has no parameters and only default options.
 * @layers: (nullable) (element-type QiocAddress): an address chain
 *   (`LAYER|...|ADDRESS`): the layers written left of this address, the
 *   outermost first, each parsed with a layer row of its type (its
 *   @text is its own part of the spec); NULL for a single address. The
 *   address holding them is the transport, the rightmost part, and its
 *   @text is the whole chain.
 *
 * A parsed and validated address spec.
 */
typedef struct QiocAddress {
    int index;
    char *text;
    const QiocAddrType *type;
    char **params;
    guint nparams;
    QiocAddrOpts o;
    GHashTable *opts;
    struct QiocAddress *half[2];
    GPtrArray *layers;
} QiocAddress;

/**
 * qioc_address_reading:
 * @addr: an address
 *
 * Returns: (transfer none): the address data is read from: the first half
 * of a dual address, else @addr (readbytes=, ignoreeof apply to it).
 */
const QiocAddress *qioc_address_reading(const QiocAddress *addr);

/**
 * qioc_address_writing:
 * @addr: an address
 *
 * Returns: (transfer none): the address data is written to: the second
 * half of a dual address, else @addr (shut=, send-fds= apply to it).
 */
const QiocAddress *qioc_address_writing(const QiocAddress *addr);

/**
 * QiocAddrCheck:
 * @addr: a parsed address of the kind
 * @errp: return location for a %QIOC_USAGE_ERROR (qioc_address_fail())
 *
 * A kind's own check of its parameters and options, after parsing.
 *
 * Returns: whether @addr is usable.
 */
typedef gboolean QiocAddrCheck(const QiocAddress *addr, GError **errp);

/* Checks the address families share (address.c). */
QiocAddrCheck qioc_address_check_fd;
QiocAddrCheck qioc_address_check_connect_port;
QiocAddrCheck qioc_address_check_listen_port;
/* [PROXY:[PROXYPORT:]]HOST:PORT: the ports, last and (of four) second. */
QiocAddrCheck qioc_address_check_proxy_ports;
QiocAddrCheck qioc_address_check_sun_path;

/**
 * qioc_address_fail:
 * @addr: the address
 * @errp: return location for the error
 * @fmt: what is wrong
 *
 * Sets a %QIOC_USAGE_ERROR that names the address, on one line.
 */
void qioc_address_fail(const QiocAddress *addr, GError **errp, const char *fmt,
                       ...) G_GNUC_PRINTF(3, 4);

/**
 * qioc_address_parse:
 * @spec: the address as typed, `TYPE[:PARAM]...[,OPTION[=VALUE]]...`, or
 *   two of them joined by `!!` (read from the first, write to the second),
 *   or a chain `LAYER|...|ADDRESS` (#QiocAddress.layers)
 * @index: 1 or 2, its position on the command line (used in messages)
 * @errp: return location for a %QIOC_USAGE_ERROR
 *
 * Parses and checks @spec: the type, the number and syntax of the
 * parameters, every option's name, applicability and value. Does no I/O
 * beyond looking up user, group and service names.
 *
 * Returns: (transfer full): the address, or NULL with @errp set to a
 * one-line message that names the address and quotes the offending token.
 */
QiocAddress *qioc_address_parse(const char *spec, int index, GError **errp);

/**
 * qioc_address_free:
 * @addr: (nullable): an address
 *
 * Frees @addr and everything it holds.
 */
void qioc_address_free(QiocAddress *addr);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QiocAddress, qioc_address_free)

/**
 * qioc_address_has_opt:
 * @addr: an address
 * @name: an option name (canonical or alias)
 *
 * Returns: whether the option was given explicitly.
 */
gboolean qioc_address_has_opt(const QiocAddress *addr, const char *name);

/**
 * qioc_address_get_flag:
 * @addr: an address
 * @name: the name of a %QIOC_OPT_FLAG option
 *
 * Returns: the option's value, else its default, else FALSE.
 */
gboolean qioc_address_get_flag(const QiocAddress *addr, const char *name);

/**
 * qioc_address_get_int:
 * @addr: an address
 * @name: the name of a %QIOC_OPT_INT, %QIOC_OPT_SIZE, %QIOC_OPT_MODE,
 *   %QIOC_OPT_USER or %QIOC_OPT_GROUP option
 * @fallback: returned when the option was neither given nor has a default
 *
 * Returns: the number (bytes for sizes, the mode bits, a uid or gid).
 */
gint64 qioc_address_get_int(const QiocAddress *addr, const char *name,
                            gint64 fallback);

/**
 * qioc_address_get_duration:
 * @addr: an address
 * @name: the name of a %QIOC_OPT_DURATION option
 * @fallback: returned when the option was neither given nor has a default
 *
 * Returns: the duration in seconds.
 */
double qioc_address_get_duration(const QiocAddress *addr, const char *name,
                                 double fallback);

/**
 * qioc_address_get_string:
 * @addr: an address
 * @name: the name of a %QIOC_OPT_STRING, %QIOC_OPT_CHOICE,
 *   %QIOC_OPT_FDLIST or %QIOC_OPT_CIDRS option
 *
 * Returns: (transfer none) (nullable): the normalised value (a choice's
 * canonical word, "3:4" for descriptor lists, "CIDR;CIDR" for networks),
 * else the default, else NULL. Owned by @addr.
 */
const char *qioc_address_get_string(const QiocAddress *addr, const char *name);

/**
 * qioc_split_host_port:
 * @text: "HOST:PORT", "HOST", "[V6]:PORT", "[V6]" or a bare IPv6 literal
 * @host: (out) (transfer full): the host, brackets removed
 * @port: (out) (transfer full) (nullable): the port, or NULL
 *
 * The one reading of host and port in option values (bind=).
 */
void qioc_split_host_port(const char *text, char **host, char **port);

/**
 * qioc_address_family:
 * @addr: an address
 * @family: %AF_INET or %AF_INET6 for -4 or -6, else %AF_UNSPEC
 *
 * Returns: the address family in effect: the type's (TCP4, TCP6), else
 * pf=, else @family.
 */
int qioc_address_family(const QiocAddress *addr, int family);

/**
 * qioc_size_parse:
 * @text: digits, optionally followed by K, M or G (powers of 1024)
 * @max: the largest value allowed
 * @out: the value
 *
 * A size as options and -b take it. FALSE when @text is not one or is
 * larger than @max.
 */
gboolean qioc_size_parse(const char *text, guint64 max, guint64 *out);

/**
 * qioc_duration_parse:
 * @text: a duration in seconds: digits with an optional fraction
 *   (`0.5`, `10`, `.25`); no sign, exponent, hex, inf or nan
 * @out: (out): the value
 *
 * The one syntax of durations, for address options and for -t/-T alike.
 *
 * Returns: %FALSE if @text is not such a number or exceeds what a
 *   millisecond timer can hold.
 */
gboolean qioc_duration_parse(const char *text, double *out);

/**
 * qioc_address_types:
 * @n: (out) (optional): the number of entries
 *
 * Returns: (transfer none): the address-type table.
 */
const QiocAddrType *qioc_address_types(guint *n);

/**
 * qioc_address_options:
 * @n: (out) (optional): the number of entries
 *
 * Returns: (transfer none): the option table.
 */
const QiocOptDesc *qioc_address_options(guint *n);

/**
 * qioc_address_type_lookup:
 * @name: a type name or alias, any case
 *
 * Returns: (transfer none) (nullable): the address row of that name (not
 *   a layer's), or NULL.
 */
const QiocAddrType *qioc_address_type_lookup(const char *name);

/**
 * qioc_address_layer_lookup:
 * @name: a layer type name or alias, any case
 *
 * Returns: (transfer none) (nullable): the layer row of that name (the
 *   sort written left of `|`), or NULL.
 */
const QiocAddrType *qioc_address_layer_lookup(const char *name);

/**
 * qioc_address_describe:
 * @addr: an address
 *
 * Describes @addr for --dry-run, on one line:
 * `TYPE:PARAM...,option=value,...` with the canonical type name and every
 * option that applies to the type, in table order, with its given value,
 * else its default, else `(unset)`. Parameters and values that contain
 * separators are quoted.
 *
 * Returns: (transfer full): the text; free with g_free().
 */
char *qioc_address_describe(const QiocAddress *addr);

/**
 * qioc_address_describe_for:
 * @addr: an address
 * @family: %AF_INET or %AF_INET6 when -4 or -6 was given, else %AF_UNSPEC
 *
 * As qioc_address_describe(), for a command line with -4 or -6, which
 * some defaults depend on (an IPv6 listener on every address is
 * IPv6-only unless `ipv6only=0`).
 *
 * Returns: (transfer full): the text; free with g_free().
 */
char *qioc_address_describe_for(const QiocAddress *addr, int family);

/* The most threads workers= and --workers take. */
#define QIOC_WORKERS_MAX 1024

/**
 * qioc_address_apply_workers:
 * @addr: an address
 * @workers: --workers, the default of workers=; 0 when not given
 *
 * A `fork` listener (TCP-LISTEN, TLS-LISTEN, UNIX-LISTEN, ...) serves its
 * clients on workers= threads, @workers unless given; without either, one
 * per online processor on a listener that terminates TLS (TLS-LISTEN, a
 * TLS-SERVER layer), where the relay's own work fills a processor, and
 * one on any other. With more than one,
 * a TCP or TLS listener on a given port sets reuseport, so that each
 * worker binds a socket of its own; the others share one. What is set
 * shows in qioc_address_describe(). Other addresses are left as they are.
 *
 * Returns: FALSE, with @errp, when workers= is given without fork.
 */
gboolean qioc_address_apply_workers(QiocAddress *addr, guint workers,
                                    GError **errp);

G_END_DECLS

/* A send-fds= list as the user writes it: N[:N]... */
char *qioc_fd_list_text(const GArray *fds);

#endif /* QIOC_ADDRESS_H */
