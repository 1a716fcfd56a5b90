/*
 * libFuzzer harness: socket reads that carry control messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a script. A peer sends up to 8 messages over a unix stream
 * socketpair with raw sendmsg(): data, SCM_RIGHTS with 0..253 real
 * descriptors (in one or two cmsgs), maybe SCM_CREDENTIALS (true or
 * forged). The other end is a non-blocking QIOChannelSocket read with
 * qio_channel_readv_full() in chunks of sizes the input picks, peeking or
 * not, asking for descriptors or not. readv_full() takes no size for the
 * descriptors (its control buffer has room for 253), so MSG_CTRUNC comes
 * from SO_PASSCRED (the credentials take some of the room) or from a low
 * RLIMIT_NOFILE around each read (the kernel cannot install them all).
 *
 * Invariants, each a crash when broken:
 * - no descriptor leaks: /proc/self/fd holds as many entries after an
 *   iteration as before;
 * - every received descriptor is open, close-on-exec, and one of those
 *   that were sent (same device and inode);
 * - a read fails only with QIO_CHANNEL_ERROR_FD_TRUNCATED, and only when
 *   something could truncate; without errors, every descriptor sent
 *   arrived (none silently lost), in order, and so did every byte.
 *
 * Layout: byte 0 options (OPT_*; bits 5-7: how many more descriptors
 * the limit leaves room for), byte 1 the number of messages, then per
 * message its length, descriptor count, flags (MSG_*; bits 4-7 pick the
 * kinds of descriptor) and data; what is left steers the reads, two
 * bytes each. Bytes past the end read as 0. tests/fuzz/gen-seeds.py
 * writes the seeds.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "qio/channel-socket.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not g_error(): it traps, and libFuzzer keeps the input only on abort. */
#define FAIL(...)                                                              \
    do {                                                                       \
        g_printerr("%s: ", G_STRLOC);                                          \
        g_printerr(__VA_ARGS__);                                               \
        g_printerr("\n");                                                      \
        abort();                                                               \
    } while (0)

#define MAX_MSGS 8
#define MAX_DATA 32
#define MAX_READS 4096
/* Fewer than QIO_CHANNEL_SOCKET_MAX_FDS fit next to SCM_CREDENTIALS. */
#define CREDS_FD_ROOM 240

enum {
    OPT_PASSCRED = 1 << 0,   /* receiver sets SO_PASSCRED */
    OPT_MIXED_WANT = 1 << 1, /* some reads do not ask for descriptors */
    OPT_FD_LIMIT = 1 << 2,   /* reads run under a low RLIMIT_NOFILE */
    OPT_READ_ALL = 1 << 3,   /* finish with readv_full_all_eof */
    OPT_CLOSE = 1 << 4,      /* sender closes too, after shutdown */
};

enum {
    MSG_CREDS = 1 << 0,      /* attach SCM_CREDENTIALS */
    MSG_FORGED = 1 << 1,     /* ... claiming to be pid 1 */
    MSG_SPLIT = 1 << 2,      /* descriptors in two SCM_RIGHTS cmsgs */
    MSG_READ_AFTER = 1 << 3, /* read what is there before the next one */
};

typedef struct {
    dev_t dev;
    ino_t ino;
} FdId;

/* What the sender managed to send and the reader got. */
typedef struct {
    GByteArray *sent;
    GByteArray *got;
    GArray *sent_ids; /* FdId of each descriptor that left */
    GArray *got_ids;
    GArray *known_ids; /* every identity that may arrive */
    bool may_truncate;
    bool unwanted; /* a read did not ask for descriptors */
    bool failed;   /* a read failed */
    bool eof;
    unsigned fd_budget; /* with OPT_FD_LIMIT */
    unsigned options;
} Run;

/* Descriptors worth sending: a file, a pipe, a memfd (both sockets too). */
static int fd_null = -1;
static int fd_pipe[2] = {-1, -1};
static int fd_memfd = -1;

static FdId fd_id(int fd)
{
    struct stat st;
    FdId id = {0};

    if (fstat(fd, &st) < 0) {
        FAIL("descriptor %d: %s", fd, g_strerror(errno));
    }
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    return id;
}

static bool id_equal(FdId a, FdId b)
{
    return a.dev == b.dev && a.ino == b.ino;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fd_null = open("/dev/null", O_RDWR | O_CLOEXEC);
    fd_memfd = memfd_create("fuzz-cmsg", MFD_CLOEXEC);
    if (fd_null < 0 || fd_memfd < 0 || pipe2(fd_pipe, O_CLOEXEC) < 0) {
        FAIL("fuzz-cmsg: set-up failed: %s", g_strerror(errno));
    }
    return 0;
}

/* ---------------------------------------------------------------- sending */

static int pick_fd(uint8_t sel, unsigned i, const int sv[2])
{
    const int pool[] = {fd_null,  fd_pipe[0], fd_pipe[1],
                        fd_memfd, sv[0],      sv[1]};

    return pool[(sel + i) % G_N_ELEMENTS(pool)];
}

static void put_rights(struct msghdr *msg, struct cmsghdr **c, const int *fds,
                       size_t n)
{
    (*c)->cmsg_level = SOL_SOCKET;
    (*c)->cmsg_type = SCM_RIGHTS;
    (*c)->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(*c), fds, n * sizeof(int));
    *c = CMSG_NXTHDR(msg, *c);
}

/*
 * One sendmsg(); the kernel may refuse it (forged credentials). Returns
 * the message's flags.
 */
static uint8_t send_one(Run *run, const int sv[2], Input *in)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) +
                 2 * CMSG_SPACE(sizeof(int) * QIO_CHANNEL_SOCKET_MAX_FDS)];
        struct cmsghdr align;
    } control;
    uint8_t len = next_byte(in) % MAX_DATA;
    size_t nfds = next_byte(in) % (QIO_CHANNEL_SOCKET_MAX_FDS + 1);
    uint8_t flags = next_byte(in);
    uint8_t bytes[MAX_DATA];
    int fds[QIO_CHANNEL_SOCKET_MAX_FDS];
    size_t first = (flags & MSG_SPLIT) ? nfds / 2 : nfds;
    struct iovec iov = {.iov_base = bytes, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;
    ssize_t n;

    for (size_t i = 0; i < len; i++) {
        bytes[i] = next_byte(in);
    }
    for (size_t i = 0; i < nfds; i++) {
        fds[i] = pick_fd(flags >> 4, i, sv);
    }
    memset(&control, 0, sizeof(control));
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    c = CMSG_FIRSTHDR(&msg);
    if (flags & MSG_CREDS) {
        struct ucred cred = {.pid = (flags & MSG_FORGED) ? 1 : getpid(),
                             .uid = getuid(),
                             .gid = getgid()};

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(cred));
        memcpy(CMSG_DATA(c), &cred, sizeof(cred));
        c = CMSG_NXTHDR(&msg, c);
    }
    if (first > 0) {
        put_rights(&msg, &c, fds, first);
    }
    if (nfds > first) {
        put_rights(&msg, &c, fds + first, nfds - first);
    }
    msg.msg_controllen =
        c ? (size_t)((char *)c - control.buf) : sizeof(control.buf);
    if (msg.msg_controllen == 0) {
        msg.msg_control = NULL;
    }
    do {
        n = sendmsg(sv[0], &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    /* Only forged credentials may be refused (EPERM, ESRCH as root). */
    if (n < 0 && !((flags & MSG_CREDS) && (flags & MSG_FORGED))) {
        FAIL("sendmsg: %s", g_strerror(errno));
    }
    /* Stream sockets drop the descriptors of an empty message. */
    if (n <= 0) {
        return flags;
    }
    if (n != len) {
        FAIL("short sendmsg: %zd of %u", n, len);
    }
    g_byte_array_append(run->sent, bytes, len);
    for (size_t i = 0; i < nfds; i++) {
        FdId id = fd_id(fds[i]);

        g_array_append_val(run->sent_ids, id);
    }
    if (nfds > CREDS_FD_ROOM && (run->options & OPT_PASSCRED)) {
        run->may_truncate = true;
    }
    return flags;
}

/* ---------------------------------------------------------------- reading */

/* Every descriptor handed over must be new, open, ours to close. */
static void check_received(Run *run, int *fds, size_t nfds, bool peek)
{
    for (size_t i = 0; i < nfds; i++) {
        int flags = fcntl(fds[i], F_GETFD);
        FdId id;
        bool known = false;

        if (flags < 0 || !(flags & FD_CLOEXEC)) {
            FAIL("received descriptor %d: open %d, close-on-exec %d", fds[i],
                 flags >= 0, flags >= 0 && (flags & FD_CLOEXEC));
        }
        id = fd_id(fds[i]);
        for (guint k = 0; k < run->known_ids->len; k++) {
            known |= id_equal(id, g_array_index(run->known_ids, FdId, k));
        }
        if (!known) {
            FAIL("received descriptor %d is none of those sent", fds[i]);
        }
        if (!peek) {
            g_array_append_val(run->got_ids, id);
        }
        close(fds[i]);
    }
    g_free(fds);
}

/*
 * Leave the kernel room for exactly fd_budget more descriptors: the limit
 * is a number, and the holes below it count.
 */
static void limit_fds(Run *run, struct rlimit *saved)
{
    struct rlimit low;
    unsigned room = 0;
    int fd = 0;

    for (;; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) {
            continue;
        }
        if (room == run->fd_budget) {
            break;
        }
        room++;
    }
    getrlimit(RLIMIT_NOFILE, saved);
    low = *saved;
    low.rlim_cur = (rlim_t)fd;
    setrlimit(RLIMIT_NOFILE, &low);
}

/*
 * One read as @r1 and @r2 say. Returns what readv_full returned; a
 * failure must be a truncation that could happen.
 */
static ssize_t read_one(Run *run, QIOChannel *ioc, uint8_t r1, uint8_t r2,
                        bool peek)
{
    g_autoptr(GError) err = NULL;
    uint8_t buf[2 * 64];
    struct iovec iov[2] = {
        {.iov_base = buf, .iov_len = 1 + r1 % 48},
        {.iov_base = buf + 64, .iov_len = 1 + r2 % 16},
    };
    size_t niov = (r2 & 0x80) ? 2 : 1;
    bool want = !(run->options & OPT_MIXED_WANT) || !(r2 & 0x40);
    int *fds = NULL;
    size_t nfds = 0;
    struct rlimit saved;
    ssize_t n;

    if (run->options & OPT_FD_LIMIT) {
        limit_fds(run, &saved);
    }
    n = qio_channel_readv_full(ioc, iov, niov, want ? &fds : NULL,
                               want ? &nfds : NULL,
                               peek ? QIO_CHANNEL_READ_FLAG_MSG_PEEK : 0, &err);
    if (run->options & OPT_FD_LIMIT) {
        setrlimit(RLIMIT_NOFILE, &saved);
    }
    run->unwanted |= !want;
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return n;
    }
    if (n < 0) {
        if (!g_error_matches(err, QIO_CHANNEL_ERROR,
                             QIO_CHANNEL_ERROR_FD_TRUNCATED) ||
            !run->may_truncate || fds || nfds) {
            FAIL("unexpected read failure: %s", err ? err->message : "?");
        }
        run->failed = true;
        return n;
    }
    if (!want && (fds || nfds)) {
        FAIL("descriptors returned to a read that did not ask");
    }
    check_received(run, fds, nfds, peek);
    if (!peek) {
        size_t first = MIN((size_t)n, iov[0].iov_len);

        g_byte_array_append(run->got, buf, first);
        g_byte_array_append(run->got, buf + 64, (size_t)n - first);
    }
    return n;
}

/* Read until the channel would block or reaches end-of-file. */
static void read_phase(Run *run, QIOChannel *ioc, Input *in)
{
    bool peeked = false;

    for (int i = 0; i < MAX_READS; i++) {
        uint8_t r1 = next_byte(in);
        uint8_t r2 = next_byte(in);
        /* A peek is always followed by a real read, or we'd spin. */
        bool peek = !peeked && (r1 & 0x80);
        ssize_t n = read_one(run, ioc, r1, r2, peek);

        peeked = peek;
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return;
        }
        if (n == 0 && !peek) {
            run->eof = true;
            return;
        }
    }
    FAIL("%d reads and the socket still has data", MAX_READS);
}

static void read_all(Run *run, QIOChannel *ioc, Input *in)
{
    g_autoptr(GError) err = NULL;
    uint8_t buf[256];
    struct iovec iov = {.iov_base = buf, .iov_len = 1 + next_byte(in)};
    int *fds = NULL;
    size_t nfds = 0;
    int r;

    /* The sender is gone: this can only end, never wait. */
    r = qio_channel_readv_full_all_eof(ioc, &iov, 1, &fds, &nfds, &err);
    if (r < 0) {
        if (!g_error_matches(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF) &&
            !(run->may_truncate &&
              g_error_matches(err, QIO_CHANNEL_ERROR,
                              QIO_CHANNEL_ERROR_FD_TRUNCATED))) {
            FAIL("readv_full_all_eof: %s", err ? err->message : "?");
        }
        if (fds || nfds) {
            FAIL("readv_full_all_eof failed and returned descriptors");
        }
        /* What it read before failing is gone: stop comparing data. */
        run->failed = true;
        return;
    }
    check_received(run, fds, nfds, false);
    if (r > 0) {
        g_byte_array_append(run->got, buf, iov.iov_len);
    }
}

/* ---------------------------------------------------------------- checks */

static void check_run(const Run *run)
{
    if (run->failed) {
        return;
    }
    if (run->got->len != run->sent->len ||
        (run->sent->len &&
         memcmp(run->got->data, run->sent->data, run->sent->len) != 0)) {
        FAIL("data: sent %u bytes, read %u, or not the same", run->sent->len,
             run->got->len);
    }
    if (run->unwanted) {
        return;
    }
    /* No read failed, so nothing was cut: every descriptor arrived. */
    if (run->got_ids->len != run->sent_ids->len) {
        FAIL("descriptors silently lost: sent %u, received %u",
             run->sent_ids->len, run->got_ids->len);
    }
    for (guint i = 0; i < run->sent_ids->len; i++) {
        if (!id_equal(g_array_index(run->sent_ids, FdId, i),
                      g_array_index(run->got_ids, FdId, i))) {
            FAIL("descriptor %u arrived out of order", i);
        }
    }
}

static void run_init(Run *run, const int sv[2], uint8_t options)
{
    const int known[] = {fd_null, fd_pipe[0], fd_memfd, sv[0], sv[1]};

    run->sent = g_byte_array_new();
    run->got = g_byte_array_new();
    run->sent_ids = g_array_new(FALSE, FALSE, sizeof(FdId));
    run->got_ids = g_array_new(FALSE, FALSE, sizeof(FdId));
    run->known_ids = g_array_new(FALSE, FALSE, sizeof(FdId));
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++) {
        FdId id = fd_id(known[i]);

        g_array_append_val(run->known_ids, id);
    }
    run->options = options;
    run->may_truncate = (options & OPT_FD_LIMIT) != 0;
}

static void run_clear(Run *run)
{
    g_byte_array_unref(run->sent);
    g_byte_array_unref(run->got);
    g_array_unref(run->sent_ids);
    g_array_unref(run->got_ids);
    g_array_unref(run->known_ids);
}

static void fuzz_one(Input *in, int sv[2])
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    uint8_t options = next_byte(in);
    unsigned nmsgs = 1 + next_byte(in) % MAX_MSGS;
    int one = 1;
    Run run = {0};

    run_init(&run, sv, options);
    run.fd_budget = (options >> 5) % 8;
    if ((options & OPT_PASSCRED) &&
        setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        FAIL("SO_PASSCRED: %s", g_strerror(errno));
    }
    /* The channel owns sv[1] now, but the number stays valid to send. */
    sioc = qio_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, &err);
    g_assert_no_error(err);
    for (unsigned i = 0; i < nmsgs; i++) {
        if (send_one(&run, sv, in) & MSG_READ_AFTER) {
            read_phase(&run, QIO_CHANNEL(sioc), in);
        }
    }
    /*
     * The reader must see end-of-file, not wait for more. Closing alone
     * would not do: a copy of sv[0] may be in flight to the reader.
     */
    shutdown(sv[0], SHUT_WR);
    if (options & OPT_CLOSE) {
        close(sv[0]);
        sv[0] = -1;
    }
    if (options & OPT_READ_ALL) {
        read_all(&run, QIO_CHANNEL(sioc), in);
    }
    while (!run.eof) {
        read_phase(&run, QIO_CHANNEL(sioc), in);
    }
    check_run(&run);
    qio_channel_close(QIO_CHANNEL(sioc), NULL);
    run_clear(&run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = {.data = data, .size = size};
    unsigned before = count_fds();
    unsigned after;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        FAIL("socketpair: %s", g_strerror(errno));
    }
    fuzz_one(&in, sv);
    if (sv[0] >= 0) {
        close(sv[0]);
    }
    after = count_fds();
    if (after != before) {
        FAIL("descriptor leak: %u open before, %u after", before, after);
    }
    return 0;
}
