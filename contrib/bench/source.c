/*
 * source - send SIZE bytes as cheaply as the kernel allows (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   source SIZE tcp HOST PORT    connect, send, half-close, drain to EOF
 *   source SIZE unix PATH        the same over a unix stream socket
 *   source SIZE stdout           write to standard output (a pipe)
 *   source SIZE socks5 PHOST PPORT HOST PORT
 *                                tcp through the SOCKS5 server PHOST:PPORT
 *
 * The bytes come from one constant 1 MiB buffer that vmsplice(2) maps into
 * a pipe and splice(2) hands to the socket, so the source copies nothing
 * and stays out of the way of the relay being measured. Where the kernel
 * refuses (stdout is not a pipe, an old kernel), it falls back to write(2).
 * A refused connect is retried for 10 s, so a listener that is still
 * starting up is waited for rather than raced. With socks5 the source first
 * asks the server, without authentication, to CONNECT to HOST:PORT (an
 * IPv4 literal), then sends on the same socket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static void die(const char *what)
{
    fprintf(stderr, "source: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* connect(2), retrying while the listener is not there yet. */
static int connect_retry(const struct sockaddr *sa, socklen_t len)
{
    double deadline = now() + 10;

    for (;;) {
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            die("socket");
        }
        if (connect(fd, sa, len) == 0) {
            return fd;
        }
        if ((errno != ECONNREFUSED && errno != ENOENT) || now() > deadline) {
            die("connect");
        }
        close(fd);
        nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
    }
}

static int open_tcp(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    int fd;

    if (rc != 0) {
        fprintf(stderr, "source: %s:%s: %s\n", host, port, gai_strerror(rc));
        exit(1);
    }
    fd = connect_retry(ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return fd;
}

static int open_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        die(path);
    }
    strcpy(sun.sun_path, path);
    return connect_retry((struct sockaddr *)&sun, sizeof(sun));
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("write");
        }
        buf += n;
        len -= n;
    }
}

/* Read exactly @len bytes, or die. */
static void read_all(int fd, unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("read from the SOCKS5 server");
        }
        if (n == 0) {
            fprintf(stderr, "source: the SOCKS5 server closed the "
                            "connection in the handshake\n");
            exit(1);
        }
        buf += n;
        len -= n;
    }
}

/*
 * The client's side of a SOCKS5 handshake without authentication (RFC
 * 1928) on @fd: greet (05 01 00, answer 05 00), then CONNECT to @host
 * (an IPv4 literal) and @port, and read the reply to its end.
 */
static void socks5_connect(int fd, const char *host, const char *port)
{
    unsigned char req[10] = {5, 1, 0, 1}, rep[262];
    unsigned long p = strtoul(port, NULL, 10);
    size_t len;

    if (inet_pton(AF_INET, host, req + 4) != 1 || p == 0 || p > 65535) {
        fprintf(stderr,
                "source: socks5: %s:%s is no IPv4 address and "
                "port\n",
                host, port);
        exit(2);
    }
    req[8] = p >> 8;
    req[9] = p & 0xff;
    write_all(fd, "\5\1\0", 3);
    read_all(fd, rep, 2);
    if (rep[0] != 5 || rep[1] != 0) {
        fprintf(stderr,
                "source: the SOCKS5 server answered %02x %02x to "
                "the greeting\n",
                rep[0], rep[1]);
        exit(1);
    }
    write_all(fd, (const char *)req, sizeof(req));
    read_all(fd, rep, 5); /* up to the first byte of the address */
    if (rep[0] != 5 || rep[1] != 0) {
        fprintf(stderr,
                "source: the SOCKS5 server refused the CONNECT "
                "(reply %02x %02x)\n",
                rep[0], rep[1]);
        exit(1);
    }
    switch (rep[3]) {
    case 1:
        len = 4 + 4 + 2;
        break;
    case 3:
        len = 4 + 1 + rep[4] + 2;
        break;
    case 4:
        len = 4 + 16 + 2;
        break;
    default:
        fprintf(stderr, "source: the SOCKS5 reply has address type %u\n",
                rep[3]);
        exit(1);
    }
    read_all(fd, rep + 5, len - 5);
}

static void send_by_write(int fd, const char *buf, unsigned long long left)
{
    while (left > 0) {
        size_t len = left < CHUNK ? left : CHUNK;

        write_all(fd, buf, len);
        left -= len;
    }
}

/* Splice @len bytes from the pipe to @out; 0 when the kernel refuses. */
static int drain_pipe(int pipe_rd, int out, size_t len)
{
    while (len > 0) {
        ssize_t n = splice(pipe_rd, NULL, out, NULL, len,
                           SPLICE_F_MOVE | SPLICE_F_MORE);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EINVAL) {
            return 0;
        }
        if (n <= 0) {
            die("splice");
        }
        len -= n;
    }
    return 1;
}

static void send_data(int out, unsigned long long left)
{
    static char *buf;
    struct stat st;
    int p[2] = { -1, -1 };
    int into;

    if (posix_memalign((void **)&buf, 4096, CHUNK) != 0) {
        die("posix_memalign");
    }
    memset(buf, 'q', CHUNK);
    if (fstat(out, &st) == 0 && S_ISFIFO(st.st_mode)) {
        into = out;                 /* vmsplice straight into the pipe */
    } else if (pipe2(p, O_CLOEXEC) == 0) {
        into = p[1];
    } else {
        send_by_write(out, buf, left);
        return;
    }
    fcntl(into, F_SETPIPE_SZ, CHUNK);
    while (left > 0) {
        struct iovec iov = { buf, left < CHUNK ? left : CHUNK };
        ssize_t n = vmsplice(into, &iov, 1, 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EINVAL && p[0] < 0) {
            send_by_write(out, buf, left);
            return;
        }
        if (n <= 0) {
            die("vmsplice");
        }
        if (p[0] >= 0 && !drain_pipe(p[0], out, n)) {
            /* The socket refused splice: the pipe still holds n bytes. */
            char *tmp = malloc(n);

            if (!tmp || read(p[0], tmp, n) != n) {
                die("read back");
            }
            write_all(out, tmp, n);
            free(tmp);
            send_by_write(out, buf, left - n);
            return;
        }
        left -= n;
    }
}

int main(int argc, char **argv)
{
    unsigned long long size;
    char tmp[65536];
    int fd;

    if (argc < 3) {
        fprintf(stderr, "usage: source SIZE tcp HOST PORT | unix PATH | "
                        "stdout |\n"
                        "                   socks5 PHOST PPORT HOST PORT\n");
        return 2;
    }
    size = strtoull(argv[1], NULL, 0);
    if (!strcmp(argv[2], "tcp") && argc == 5) {
        fd = open_tcp(argv[3], argv[4]);
    } else if (!strcmp(argv[2], "socks5") && argc == 7) {
        fd = open_tcp(argv[3], argv[4]);
        socks5_connect(fd, argv[5], argv[6]);
    } else if (!strcmp(argv[2], "unix") && argc == 4) {
        fd = open_unix(argv[3]);
    } else if (!strcmp(argv[2], "stdout") && argc == 3) {
        send_data(STDOUT_FILENO, size);
        return 0;
    } else {
        fprintf(stderr, "source: bad arguments\n");
        return 2;
    }
    send_data(fd, size);
    /* Half-close, then wait for the far end to finish, as a client would. */
    if (shutdown(fd, SHUT_WR) < 0) {
        die("shutdown");
    }
    while (read(fd, tmp, sizeof(tmp)) > 0) {
        ;
    }
    close(fd);
    return 0;
}
