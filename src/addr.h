/*
 * qioc - address types and endpoints
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each address family describes itself in its own src/addr-*.c: one
 * #QiocAddrDesc per kind, holding the grammar rows (names, aliases,
 * parameters, the options that apply), the kind's own checks, and what
 * it does (prepare, open or connect or listen, accepted, wrap, finish).
 * addr.c keeps the table of them, indexed by kind, and builds an
 * #QiocEndpoint from each parsed address at start-up: the one object the
 * rest of qioc (src/serve.c, src/acceptor.c) works with.
 */
#ifndef QIOC_ADDR_H
#define QIOC_ADDR_H

#include <qio/qio.h>

#include "address.h"
#include "qioc.h"

/* Which directions an address is used for, or can serve. */
typedef enum {
    QIOC_ACCESS_READ = 1,
    QIOC_ACCESS_WRITE = 2,
    QIOC_ACCESS_RDWR = 3,
} QiocAccess;

typedef struct QiocAddrDesc QiocAddrDesc;
typedef struct QiocEndpoint QiocEndpoint;

/**
 * QiocEndpoint:
 * @addr: the parsed address: index, text, parameters, typed options
 * @desc: what its type does
 * @opts: the global options
 * @family: the address family in effect (type, pf=, -4/-6)
 * @need: the directions -u/-U need from it
 * @state: what the type worked out once and owns (TLS credentials, a
 *   resolved target); freed with @desc's free_state
 * @range: (nullable) (element-type GInetAddressMask): range= with its
 *   host names resolved, once, at start-up
 * @layers: (nullable) (element-type QiocEndpoint): an address chain's
 *   layers, outermost first, each an endpoint of its own
 * @below: (nullable): a layer's: what it runs over (the next layer to its
 *   right, or the transport)
 *
 * One address, ready to open: built once at start-up, used for every
 * connection. An address chain is the endpoint of its transport, which
 * opens, connects or listens, holding its layers, which wrap what the
 * transport opened, from the innermost out.
 */
struct QiocEndpoint {
    const QiocAddress *addr;
    const QiocAddrDesc *desc;
    const QiocOptions *opts;
    int family;
    QiocAccess need;
    gpointer state;
    GPtrArray *range;
    GPtrArray *layers;
    const QiocEndpoint *below;
};

/* Completion of an asynchronous open: @ioc (transfer full) or @err. */
typedef void QiocOpenDone(QIOChannel *ioc, GError *err, gpointer data);

/*
 * Work done once, before anything is opened (loading TLS credentials,
 * resolving bind=), so that a bad setting is reported at start-up rather
 * than per connection. May set ep->state.
 */
typedef gboolean QiocPrepareFunc(QiocEndpoint *ep, GError **errp);

/*
 * Open at once. *@access says on entry which directions qioc needs and
 * on return which ones the channel serves (CREATE only writes, STDIN only
 * reads, ...). @peer is the other address's channel when that one is
 * already open (EXEC tells its child about it), else NULL. Errors name
 * the operation and the object ("open /x: No such file or directory");
 * the caller adds which address it was.
 */
typedef QIOChannel *QiocOpenFunc(QiocEndpoint *ep, QiocAccess *access,
                                 QIOChannel *peer, GError **errp);

/*
 * Start connecting without blocking the main loop: one attempt (retry= is
 * qioc_endpoint_connect_async()'s). @peer is the other address's channel
 * when that one is already open (DYNAMIC learns its target from it),
 * else NULL.
 */
typedef void QiocConnectFunc(QiocEndpoint *ep, QIOChannel *peer,
                             QiocOpenDone *done, gpointer data);

/* Open the listening socket(s); src/acceptor.c accepts the clients. */
typedef QIONetListener *QiocListenFunc(QiocEndpoint *ep, GError **errp);

/*
 * Bind the datagram socket of a type that serves every sender as a
 * session of its own (UDP-LISTEN with fork); src/acceptor.c starts it.
 */
typedef QIODatagramServer *QiocServeFunc(QiocEndpoint *ep, GError **errp);

/* Options that apply to each accepted client (nodelay, keepalive). */
typedef void QiocAcceptedFunc(QiocEndpoint *ep, QIOChannelSocket *client);

/*
 * A layer put on top of the transport once it is connected or accepted
 * (TLS): takes @ioc (transfer full), finishes with @done.
 */
typedef void QiocWrapFunc(QiocEndpoint *ep, QIOChannel *ioc, QiocOpenDone *done,
                          gpointer data);

/*
 * The connection is over: close @ioc if the type must see it closed (a
 * child is reaped). FALSE when that makes the transfer a failure.
 */
typedef gboolean QiocFinishFunc(QiocEndpoint *ep, QIOChannel *ioc);

/*
 * Types that put a process on the other address's descriptors instead of
 * opening a channel (EXEC nofork): start it, and judge how it ended.
 */
typedef gboolean QiocSpawnFunc(QiocEndpoint *ep, QIOChannel *peer, GPid *pid,
                               GError **errp);
typedef gboolean QiocExitedFunc(QiocEndpoint *ep, GPid pid, int status);

/* Types whose behaviour depends on the address or the file system. */
typedef const QiocAddrDesc *QiocChooseFunc(const QiocEndpoint *ep);

/*
 * The host name an address reaches (TCP's HOST, a proxy's target), for a
 * TLS layer over it to verify; NULL when it has none.
 */
typedef const char *QiocHostFunc(const QiocEndpoint *ep);

typedef enum {
    /* The descriptors were given, not opened: shared with other
     * processes, so they are left blocking again at the end. */
    QIOC_ADDR_INHERITED = 1u << 0,
    /* Opens once the other address is open, whose channel it needs. */
    QIOC_ADDR_AFTER_PEER = 1u << 1,
    /* A layer whose clients say where to connect (SOCKS-SERVER). */
    QIOC_ADDR_NAMES_TARGET = 1u << 2,
    /* Connects where the other address's clients say (DYNAMIC). */
    QIOC_ADDR_NEEDS_TARGET = 1u << 3,
} QiocAddrFlags;

/**
 * QiocAddrDesc:
 * @kind: the kind it describes (its index in the table)
 * @types: the grammar rows: every spelling of the kind, its parameters
 *   and option groups (NULL for a variant returned by @choose)
 * @ntypes: how many
 * @raw_command: the one parameter is a command, quotes kept
 * @check: further checks of a parsed address, or NULL
 * @flags: #QiocAddrFlags
 * @prepare: once at start-up, or NULL
 * @free_state: frees #QiocEndpoint.state
 * @choose: the variant to use for an open, or NULL for this one
 * @open: opens at once, or NULL
 * @connect: connects without blocking, or NULL
 * @listen: listens for clients, or NULL
 * @serve: serves datagram senders as clients, or NULL
 * @accepted: per accepted client, or NULL
 * @wrap: a layer over a connected or accepted channel, or NULL
 * @finish: at the end of a connection, or NULL
 * @spawn: runs on the peer's descriptors instead of opening, or NULL
 * @exited: with @spawn, how its process ended
 * @host: the host name it reaches, or NULL
 *
 * What an address type is and does. One of @open, @connect, @listen,
 * @serve and @spawn is set (in the variant @choose returns, if any).
 */
struct QiocAddrDesc {
    QiocAddrKind kind;
    const QiocAddrType *types;
    guint ntypes;
    gboolean raw_command;
    QiocAddrCheck *check;
    guint flags;
    QiocPrepareFunc *prepare;
    GDestroyNotify free_state;
    QiocChooseFunc *choose;
    QiocOpenFunc *open;
    QiocConnectFunc *connect;
    QiocListenFunc *listen;
    QiocServeFunc *serve;
    QiocAcceptedFunc *accepted;
    QiocWrapFunc *wrap;
    QiocFinishFunc *finish;
    QiocSpawnFunc *spawn;
    QiocExitedFunc *exited;
    QiocHostFunc *host;
};

#define QIOC_ADDR_TYPES(rows) .types = (rows), .ntypes = G_N_ELEMENTS(rows)

/* The description of @kind; every kind has one (a unit test checks). */
const QiocAddrDesc *qioc_addr_desc(QiocAddrKind kind);

/* The descriptions, one exported per kind by its src/addr-*.c. */
extern const QiocAddrDesc qioc_addr_stdio;
extern const QiocAddrDesc qioc_addr_stdin;
extern const QiocAddrDesc qioc_addr_stdout;
extern const QiocAddrDesc qioc_addr_stderr;
extern const QiocAddrDesc qioc_addr_fd;
extern const QiocAddrDesc qioc_addr_accept_fd;
extern const QiocAddrDesc qioc_addr_pipe;
extern const QiocAddrDesc qioc_addr_file;
extern const QiocAddrDesc qioc_addr_gopen;
extern const QiocAddrDesc qioc_addr_create;
extern const QiocAddrDesc qioc_addr_unix_connect;
extern const QiocAddrDesc qioc_addr_unix_listen;
extern const QiocAddrDesc qioc_addr_abstract_connect;
extern const QiocAddrDesc qioc_addr_abstract_listen;
extern const QiocAddrDesc qioc_addr_tcp_connect;
extern const QiocAddrDesc qioc_addr_tcp_listen;
extern const QiocAddrDesc qioc_addr_exec;
extern const QiocAddrDesc qioc_addr_system;
extern const QiocAddrDesc qioc_addr_tls_connect;
extern const QiocAddrDesc qioc_addr_tls_listen;
extern const QiocAddrDesc qioc_addr_sd_listen;
extern const QiocAddrDesc qioc_addr_dual;
extern const QiocAddrDesc qioc_addr_udp_connect;
extern const QiocAddrDesc qioc_addr_udp_listen;
extern const QiocAddrDesc qioc_addr_udp_sendto;
extern const QiocAddrDesc qioc_addr_udp_datagram;
extern const QiocAddrDesc qioc_addr_udp_recvfrom;
extern const QiocAddrDesc qioc_addr_udp_recv;
extern const QiocAddrDesc qioc_addr_unix_sendto;
extern const QiocAddrDesc qioc_addr_unix_recvfrom;
extern const QiocAddrDesc qioc_addr_unix_recv;
extern const QiocAddrDesc qioc_addr_abstract_sendto;
extern const QiocAddrDesc qioc_addr_abstract_recvfrom;
extern const QiocAddrDesc qioc_addr_abstract_recv;
extern const QiocAddrDesc qioc_addr_readline;
extern const QiocAddrDesc qioc_addr_pty;
extern const QiocAddrDesc qioc_addr_socks4;
extern const QiocAddrDesc qioc_addr_socks5;
extern const QiocAddrDesc qioc_addr_http_connect;
extern const QiocAddrDesc qioc_addr_socks_server;
extern const QiocAddrDesc qioc_addr_proxy_server;
extern const QiocAddrDesc qioc_addr_dynamic;

/* ---- endpoints (addr.c) */

/*
 * The endpoint of @addr, address @addr->index of the command line, with
 * the type's prepare step run. NULL and @errp when that fails.
 */
QiocEndpoint *qioc_endpoint_new(const QiocAddress *addr,
                                const QiocOptions *opts, GError **errp);
void qioc_endpoint_free(QiocEndpoint *ep);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QiocEndpoint, qioc_endpoint_free)

/* What the endpoint does for the next open (after the type's choose). */
const QiocAddrDesc *qioc_endpoint_ops(const QiocEndpoint *ep);

/* A listener (serves clients rather than opening once)? */
gboolean qioc_endpoint_is_listener(const QiocEndpoint *ep);

/* A listener with fork: many clients at once. */
gboolean qioc_endpoint_serves_many(const QiocEndpoint *ep);

/* A connecting address with fork: connects again and again (socat's
 * connect loop, src/connector.c). */
gboolean qioc_endpoint_connects_many(const QiocEndpoint *ep);

/*
 * Its descriptors were given, not opened (STDIO, FD; either half of a
 * dual address): left blocking again at the end (addr-dual.c).
 */
gboolean qioc_endpoint_inherited(const QiocEndpoint *ep);

/* Half @i (0: read, 1: write) of a dual address's endpoint, else NULL. */
QiocEndpoint *qioc_endpoint_dual_half(const QiocEndpoint *ep, int i);

/* Runs on the peer's descriptors (EXEC nofork): open the peer first. */
gboolean qioc_endpoint_takes_peer(const QiocEndpoint *ep);

/* Needs the other address open first (EXEC nofork, DYNAMIC). */
gboolean qioc_endpoint_after_peer(const QiocEndpoint *ep);

/* An address chain: layers to put on what it opens. */
gboolean qioc_endpoint_has_layers(const QiocEndpoint *ep);

/*
 * What the two addresses of one command line need of each other: DYNAMIC
 * a proxy-serving layer on the other side, and such a layer DYNAMIC. A
 * %QIOC_USAGE_ERROR when they do not have it.
 */
gboolean qioc_address_check_pair(QiocAddress *const addr[2], GError **errp);

/* The host name @ep reaches (for a TLS layer over it), or NULL. */
const char *qioc_endpoint_host(const QiocEndpoint *ep);

/* Open a type that opens at once. */
QIOChannel *qioc_endpoint_open(QiocEndpoint *ep, QiocAccess *access,
                               QIOChannel *peer, GError **errp);

/*
 * Open a connecting type, retrying retry= times (without limit with
 * forever) interval= seconds apart, set the options that come once
 * connected (setsockopt-int=, ...), then apply its wrap and its layers.
 * @peer: the other address's channel if it is open, else NULL. Never
 * blocks.
 */
void qioc_endpoint_connect_async(QiocEndpoint *ep, QIOChannel *peer,
                                 QiocOpenDone *done, gpointer data);

/*
 * The networks of @nets (range=, allow=) with its host names resolved,
 * each address as a network of its own (element-type GInetAddressMask);
 * NULL with @errp naming @option when a name does not resolve.
 */
GPtrArray *qioc_networks_resolve(const QiocNetworks *nets, const char *option,
                                 GError **errp);

/* Open the listening socket(s) of a listener, logged at -dd. */
QIONetListener *qioc_endpoint_listen(QiocEndpoint *ep, GError **errp);

/* Bind the socket of a datagram server, logged at -dd. */
QIODatagramServer *qioc_endpoint_serve(QiocEndpoint *ep, GError **errp);

/*
 * A client was accepted: FALSE (logged) when range= refuses it or one of
 * the socket options set per client (rcvbuf=, setsockopt-int=, ...)
 * cannot be set, else the type's per-client options are applied.
 */
gboolean qioc_endpoint_accept_client(QiocEndpoint *ep,
                                     QIOChannelSocket *client);

/*
 * range= lets a datagram from @from through; FALSE (logged at -d) when it
 * is to be dropped.
 */
gboolean qioc_endpoint_sender_allowed(const QiocEndpoint *ep,
                                      GSocketAddress *from);

/*
 * Apply the type's wrap (if any), then the layers of a chain from the
 * innermost out, to an accepted client or a channel opened at once.
 */
void qioc_endpoint_wrap_async(QiocEndpoint *ep, QIOChannel *ioc,
                              QiocOpenDone *done, gpointer data);

/* The end of a connection (the type's finish); FALSE: a failure. */
gboolean qioc_endpoint_finish(QiocEndpoint *ep, QIOChannel *ioc);

/* Start the process of a type that takes its peer's descriptors. */
gboolean qioc_endpoint_spawn(QiocEndpoint *ep, QIOChannel *peer, GPid *pid,
                             GError **errp);
gboolean qioc_endpoint_exited(QiocEndpoint *ep, GPid pid, int status);

/* "address N (TEXT): MESSAGE" on stderr. */
void qioc_endpoint_error(const QiocEndpoint *ep, const GError *err);

/*
 * -dd: what @ioc, just opened for @ep, is: a socket's local and peer
 * addresses (a TLS channel's socket), a file channel's descriptors.
 */
void qioc_endpoint_log_channel(const QiocEndpoint *ep, QIOChannel *ioc);

/*
 * -d: the client @client of a listener: "client ADDRESS:PORT", or for a
 * unix socket "client pid PID uid UID" (SO_PEERCRED).
 */
void qioc_endpoint_log_client(const QiocEndpoint *ep, QIOChannelSocket *client);

/* ---- helpers shared by the address families (addr-util.c) */

/* Which directions -u/-U need from address @i (0 or 1). */
QiocAccess qioc_access_needed(const QiocOptions *opts, int i);

/* open(2)'s access mode for @access, and back. */
int qioc_access_flags(QiocAccess access);
QiocAccess qioc_access_of_flags(int flags);

/* umask= while creating a file: set it (returns the old mask), restore. */
mode_t qioc_umask_push(const QiocAddress *addr);
void qioc_umask_pop(const QiocAddress *addr, mode_t old);

/*
 * Apply the file-system options to @path once opened: mode=/perm= when
 * qioc @created it (otherwise open(2) or mkfifo(3) would have used it),
 * user= and group= in any case (as socat does), and perm-late= always.
 */
gboolean qioc_set_file_attrs(const QiocAddress *addr, const char *path,
                             gboolean created, GError **errp);

/* Connect a socket asynchronously; the channel goes to @done. */
void qioc_socket_connect(GSocketConnectable *sa,
                         const QIOChannelSocketOptions *sopts,
                         QiocOpenDone *done, gpointer data);

/*
 * Make a datagram socket bound to @local and connected to @remote (either
 * may be NULL, not both) without blocking; the channel goes to @done.
 */
void qioc_socket_dgram(GSocketConnectable *local, GSocketConnectable *remote,
                       const QIOChannelSocketOptions *sopts, QiocOpenDone *done,
                       gpointer data);

/* What a bound, unconnected datagram socket is used for. */
typedef enum {
    QIOC_DGRAM_SEND,  /* every datagram to one address (*-SENDTO) */
    QIOC_DGRAM_REPLY, /* answers to the last sender (*-RECVFROM) */
    QIOC_DGRAM_RECV,  /* receiving only (*-RECV) */
} QiocDgramRole;

/*
 * @sioc (transfer full) made the channel @role says: sending to @to
 * (QIOC_DGRAM_SEND), answering, or read only (*@access). Never NULL.
 */
QIOChannel *qioc_dgram_channel(QIOChannelSocket *sioc, QiocDgramRole role,
                               GSocketAddress *to, QiocAccess *access);

/* bind= of a unix client, in its address's namespace (a path, or an
 * abstract name), or NULL (addr-unix.c). */
GSocketAddress *qioc_unix_bind_address(const QiocEndpoint *ep);

/*
 * A unix datagram socket bound to @local (removed again on close) or, when
 * NULL, to an abstract name of the kernel's choosing, so that it can be
 * answered; connected to @to or, unless @connected, sending every
 * datagram there (addr-unix-dgram.c).
 */
QIOChannelSocket *qioc_unix_dgram_client(GSocketAddress *to, gboolean connected,
                                         GSocketAddress *local, GError **errp);

/* A listener on the inherited listening socket @fd. */
gboolean qioc_listener_add_fd(QIONetListener *listener, int fd,
                              const char *hint, GError **errp);

/* ---- socket options (addr-sockopt.c) */

/* When a socket option is set. */
typedef enum {
    /* after socket(2), before bind, connect or listen */
    QIOC_SOCKOPT_BEFORE = 1u << 0,
    /* on a connecting address's socket, once connected */
    QIOC_SOCKOPT_CONNECTED = 1u << 1,
    /* on each client a listener accepts */
    QIOC_SOCKOPT_ACCEPTED = 1u << 2,
} QiocSockoptPhase;

/*
 * Make @sopts set @ep's socket options (ttl=, rcvbuf=, interface=, ...)
 * on each socket it makes, before bind or connect; nothing when none is
 * given. @ep must outlive the operations given @sopts.
 */
void qioc_sockopt_init(QIOChannelSocketOptions *sopts, const QiocEndpoint *ep);

/*
 * Set the socket options of @ep that belong to @phase on @fd, a socket
 * of @family. FALSE and @errp ("rcvbuf=N: setsockopt SO_RCVBUF: REASON")
 * when the system refuses one.
 */
gboolean qioc_sockopt_apply(const QiocEndpoint *ep, int fd, int family,
                            QiocSockoptPhase phase, GError **errp);

/*
 * ip-add-membership='s GROUP[:INTERFACE] (an IPv6 group: GROUP%INTERFACE):
 * the group, and the interface as an address or an index (else NULL, 0).
 */
gboolean qioc_multicast_group_parse(const char *text, GInetAddress **group,
                                    GInetAddress **local, guint *ifindex,
                                    GError **errp);

/* The same on a connected or accepted socket channel. */
gboolean qioc_sockopt_apply_socket(const QiocEndpoint *ep,
                                   QIOChannelSocket *sioc,
                                   QiocSockoptPhase phase, GError **errp);

/*
 * su= and chroot= of an address that is not a child's (EXEC and SYSTEM
 * apply them to the child): change qioc's root directory, then its user
 * and groups, for good. Called once listeners are bound, before any
 * client is served.
 */
gboolean qioc_endpoint_drop_privileges(const QiocEndpoint *ep, GError **errp);

/*
 * setsid or setpgid= on an address that is not a child's: qioc's own new
 * session or process group, before anything is opened.
 */
gboolean qioc_endpoint_setsid(const QiocEndpoint *ep, GError **errp);

/* Add "; HINT" to the message of *@errp, when there is an error. */
void qioc_error_hint(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * An IPv6 address as socat writes it in its variables and logs: in
 * brackets, every group of four hex digits,
 * "[0000:0000:0000:0000:0000:0000:0000:0001]".
 */
char *qioc_socat_ipv6(GInetAddress *ia);

/* Set errp from errno: "WHAT: strerror". */
void qioc_error_errno(GError **errp, int err, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#endif /* QIOC_ADDR_H */
