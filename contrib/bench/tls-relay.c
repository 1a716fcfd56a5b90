/*
 * tls-relay - the least a TLS terminator can do: the TLS benchmark's "limit"
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   tls-relay LPORT HOST PORT CERT KEY
 *
 * Accepts one TLS client on 127.0.0.1:LPORT (GnuTLS, default priorities,
 * as qioc uses), connects to HOST:PORT in plain TCP, and relays with one
 * blocking thread per direction: each decrypted record is written on at
 * once, each read from the backend is sent as records. At the end of a
 * direction it sends close_notify or half-closes. No event loop, no option,
 * no fallback. It serves one client and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define BUFSIZE (256 * 1024)

static gnutls_session_t session;
static int client, server;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "tls-relay: %s: %s\n", what, why);
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc < 0) {
        die(what, gnutls_strerror(rc));
    }
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("write", strerror(errno));
        }
        buf += n;
        len -= n;
    }
}

/* TLS client -> backend. */
static void *decrypt_run(void *unused)
{
    static char buf[BUFSIZE];

    (void)unused;
    for (;;) {
        ssize_t n = gnutls_record_recv(session, buf, sizeof(buf));

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
            break;
        }
        check(n, "receive");
        write_all(server, buf, n);
    }
    shutdown(server, SHUT_WR);
    return NULL;
}

/* Backend -> TLS client. */
static void encrypt_run(void)
{
    static char buf[BUFSIZE];

    for (;;) {
        ssize_t n = read(server, buf, sizeof(buf));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("read", strerror(errno));
        }
        if (n == 0) {
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t m = gnutls_record_send(session, buf + off, n - off);

            if (m == GNUTLS_E_AGAIN || m == GNUTLS_E_INTERRUPTED) {
                continue;
            }
            check(m, "send");
            off += m;
        }
    }
    gnutls_bye(session, GNUTLS_SHUT_WR);
    shutdown(client, SHUT_WR);
}

static int accept_one(int port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int fd;

    sin.sin_port = htons(port);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lfd, 16) < 0) {
        die("listen", strerror(errno));
    }
    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        die("accept", strerror(errno));
    }
    close(lfd);
    return fd;
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    int fd;

    if (rc != 0) {
        die(host, gai_strerror(rc));
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        die("connect", strerror(errno));
    }
    freeaddrinfo(ai);
    return fd;
}

static void handshake(const char *cert, const char *key)
{
    gnutls_certificate_credentials_t creds;
    int rc;

    check(gnutls_certificate_allocate_credentials(&creds), "credentials");
    check(gnutls_certificate_set_x509_key_file(creds, cert, key,
                                               GNUTLS_X509_FMT_PEM),
          cert);
    check(gnutls_init(&session, GNUTLS_SERVER), "init");
    check(gnutls_set_default_priority(session), "priority");
    check(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds),
          "credentials");
    gnutls_transport_set_int(session, client);
    do {
        rc = gnutls_handshake(session);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    check(rc, "handshake");
}

int main(int argc, char **argv)
{
    pthread_t thread;

    if (argc != 6) {
        fprintf(stderr, "usage: tls-relay LPORT HOST PORT CERT KEY\n");
        return 2;
    }
    client = accept_one(atoi(argv[1]));
    handshake(argv[4], argv[5]);
    server = connect_to(argv[2], argv[3]);
    if (pthread_create(&thread, NULL, decrypt_run, NULL) != 0) {
        die("pthread_create", strerror(errno));
    }
    encrypt_run();
    pthread_join(thread, NULL);
    gnutls_deinit(session);
    close(client);
    close(server);
    return 0;
}
