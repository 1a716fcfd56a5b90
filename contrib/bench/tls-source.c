/*
 * tls-source - a TLS client that sends SIZE bytes from memory
 * (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   tls-source SIZE HOST PORT
 *
 * Connects (retrying a refused connect for 10 s, so a listener still
 * starting is waited for), does a TLS handshake with GnuTLS's default
 * priorities without verifying the server (the benchmark's self-signed
 * certificate), sends SIZE bytes from one 1 MiB buffer, corking the
 * records so that each 1 MiB leaves in a few large writes, then sends
 * close_notify and reads until the server's. Prints the negotiated
 * protocol and cipher on stderr. tls-source.py does the same in Python
 * where GnuTLS's headers are missing; this one costs less CPU, which
 * matters on a machine with two cores.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define CHUNK (1 << 20)

static void die(const char *what, const char *why)
{
    fprintf(stderr, "tls-source: %s: %s\n", what, why);
    exit(1);
}

static void check(ssize_t rc, const char *what)
{
    if (rc < 0) {
        die(what, gnutls_strerror((int)rc));
    }
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_retry(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;
    double deadline = now() + 10;
    int rc = getaddrinfo(host, port, &hints, &ai);

    if (rc != 0) {
        die(host, gai_strerror(rc));
    }
    for (;;) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            die("socket", strerror(errno));
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(ai);
            return fd;
        }
        if (errno != ECONNREFUSED || now() > deadline) {
            die("connect", strerror(errno));
        }
        close(fd);
        nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
    }
}

static gnutls_session_t handshake(int fd)
{
    gnutls_certificate_credentials_t creds;
    gnutls_session_t session;
    char *desc;
    int rc;

    check(gnutls_certificate_allocate_credentials(&creds), "credentials");
    check(gnutls_init(&session, GNUTLS_CLIENT), "init");
    check(gnutls_set_default_priority(session), "priority");
    check(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds),
          "credentials");
    gnutls_server_name_set(session, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_transport_set_int(session, fd);
    do {
        rc = gnutls_handshake(session);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    check(rc, "handshake");
    desc = gnutls_session_get_desc(session);
    fprintf(stderr, "tls-source: %s\n", desc ? desc : "?");
    gnutls_free(desc);
    return session;
}

static void send_all(gnutls_session_t session, const char *buf, size_t len)
{
    gnutls_record_cork(session);
    while (len > 0) {
        ssize_t n = gnutls_record_send(session, buf, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        check(n, "send");
        buf += n;
        len -= n;
    }
    for (;;) {
        int rc = gnutls_record_uncork(session, GNUTLS_RECORD_WAIT);

        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        check(rc, "send");
        return;
    }
}

int main(int argc, char **argv)
{
    static char buf[CHUNK];
    unsigned long long left;
    gnutls_session_t session;
    ssize_t n;

    if (argc != 4) {
        fprintf(stderr, "usage: tls-source SIZE HOST PORT\n");
        return 2;
    }
    left = strtoull(argv[1], NULL, 0);
    session = handshake(connect_retry(argv[2], argv[3]));
    memset(buf, 'q', sizeof(buf));
    while (left > 0) {
        size_t len = left < CHUNK ? left : CHUNK;

        send_all(session, buf, len);
        left -= len;
    }
    /* close_notify, then wait for the server's end: a client's good-bye. */
    check(gnutls_bye(session, GNUTLS_SHUT_WR), "close_notify");
    do {
        n = gnutls_record_recv(session, buf, sizeof(buf));
    } while (n > 0 || n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
    if (n < 0 && n != GNUTLS_E_PREMATURE_TERMINATION) {
        fprintf(stderr, "tls-source: shutdown: %s\n",
                gnutls_strerror((int)n));
    }
    gnutls_deinit(session);
    return 0;
}
